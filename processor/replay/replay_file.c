/*
 * replay_file.c - one input file through one stream.
 *
 * The input kind is sniffed from its first bytes: an Avro object container
 * file starts with "Obj\x01"; anything else is read as JSON lines. Avro from
 * standard input is spooled to a temporary file first (avro-c reads files).
 */
#include "replay/replay_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec_avro.h"
#include "codec/codec_json.h"
#include "core/store_memory.h"
#include "util/buf.h"
#include "util/clock.h"

#define CHUNK (1u << 20)

typedef struct reader {
    FILE *f;
    char *buf;
    size_t cap, start, end;
    int eof;
    uint64_t consumed; /* bytes handed out as lines */
} reader;

static int fill(reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap) {
        char *p = realloc(r->buf, r->cap * 2);
        if (p == NULL)
            return -1;
        r->buf = p;
        r->cap *= 2;
    }
    size_t n = fread(r->buf + r->end, 1, r->cap - r->end, r->f);
    r->end += n;
    if (n == 0)
        r->eof = 1;
    return 0;
}

/* Returns 1 with a line (without its newline), 0 at the end, -1 on error. */
static int next_line(reader *r, const char **line, size_t *len)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl != NULL) {
            *line = r->buf + r->start;
            *len = (size_t)(nl - *line);
            r->consumed += *len + 1;
            r->start = (size_t)(nl - r->buf) + 1;
            return 1;
        }
        if (r->eof) {
            if (r->start == r->end)
                return 0;
            *line = r->buf + r->start;
            *len = r->end - r->start;
            r->consumed += *len;
            r->start = r->end;
            return 1;
        }
        if (fill(r) != 0)
            return -1;
    }
}

typedef struct progress {
    int on;
    double started, last;
    uint64_t size;
} progress;

static void progress_tick(progress *p, uint64_t events, uint64_t pos)
{
    if (!p->on || (events & 0x3fff) != 0)
        return;
    double t = hf_clock_mono_s();
    if (t - p->last < 0.5)
        return;
    p->last = t;
    double rate = (double)events / (t - p->started);
    if (p->size > 0)
        fprintf(stderr, "\r%12llu events  %10.0f events/s  %5.1f%%",
                (unsigned long long)events, rate, 100.0 * (double)pos / (double)p->size);
    else
        fprintf(stderr, "\r%12llu events  %10.0f events/s",
                (unsigned long long)events, rate);
}

static void progress_done(progress *p)
{
    if (p->on && p->last > p->started)
        fprintf(stderr, "\r%60s\r", "");
}

/* Writes one dead letter; 0, or -1 with errstr (out of memory, a failed write). */
static int dead_letter(const hf_file_replay *r, const char *unit, uint64_t n,
                       const char *reason, const char *raw, size_t raw_len, hf_buf *tmp,
                       char *errstr, size_t errstr_size)
{
    if (r->dead_letter == NULL)
        return 0;
    hf_buf_reset(tmp);
    int rc = hf_buf_printf(tmp, "{\"%s\":%llu,\"reason\":", unit, (unsigned long long)n);
    rc |= hf_json_append_string(tmp, reason, strlen(reason));
    if (raw != NULL) {
        rc |= hf_buf_puts(tmp, ",\"raw\":");
        rc |= hf_json_append_string(tmp, raw, raw_len);
    }
    rc |= hf_buf_puts(tmp, "}\n");
    if (rc != 0) {
        snprintf(errstr, errstr_size, "out of memory writing the dead letter of %s %llu", unit,
                 (unsigned long long)n);
        return -1;
    }
    if (fwrite(tmp->data, 1, tmp->len, r->dead_letter) != tmp->len) {
        snprintf(errstr, errstr_size, "cannot write dead letters to \"%s\": %s",
                 r->dead_letter_path != NULL ? r->dead_letter_path : "-", strerror(errno));
        return -1;
    }
    return 0;
}

/*--- Look-ahead --------------------------------------------------------------*/

/*
 * Events are decoded AHEAD events before they are applied, with their
 * strings copied, so that their customers can be prefetched in stages
 * (hf_memstore_prefetch): the table slot when decoded, the customer STAGE1
 * events later, its arrays STAGE2 events later. The order of application
 * is the order of the input.
 */
#define AHEAD 16
#define STAGE1 8
#define STAGE2 12

typedef struct pending {
    int status;      /* 1: an event; 0: invalid (why, raw) */
    uint64_t unit;   /* line or record number */
    hf_event e;
    uint64_t h;      /* hf_memstore_hash of the customer id */
    hf_buf text;     /* the event's strings, or the raw line */
    char why[512];
} pending;

typedef struct lookahead {
    pending v[AHEAD];
    size_t head, n;
    hf_stream *st;
    hf_stream *const *also; /* hf_file_replay.also: their stores are prefetched too */
    size_t nalso;
    int stopped;     /* an event after hf_file_replay.stop_after_day came */
} lookahead;

/* Prefetches stage `stage` of the customer of hash h in every stream's store. */
static void prefetch(const lookahead *la, uint64_t h, int stage)
{
    hf_memstore_prefetch(la->st->store, h, stage);
    for (size_t i = 0; i < la->nalso; i++)
        hf_memstore_prefetch(la->also[i]->store, h, stage);
}

static void lookahead_free(lookahead *la)
{
    for (size_t i = 0; i < AHEAD; i++)
        hf_buf_free(&la->v[i].text);
}

/* The slot for the next decoded input. */
static pending *lookahead_slot(lookahead *la)
{
    return &la->v[(la->head + la->n) % AHEAD];
}

/* Takes the event in p (its strings borrowed) into the window. 0, or -1 (OOM). */
static int lookahead_event(lookahead *la, pending *p, uint64_t unit)
{
    hf_buf *t = &p->text;
    hf_buf_reset(t);
    if (hf_buf_append(t, p->e.event_id, p->e.event_id_len) != 0 ||
        hf_buf_append(t, p->e.customer_id, p->e.customer_id_len) != 0 ||
        hf_buf_append(t, p->e.order_id, p->e.order_id_len) != 0)
        return -1;
    p->e.event_id = t->data;
    p->e.customer_id = t->data + p->e.event_id_len;
    p->e.order_id = t->data + p->e.event_id_len + p->e.customer_id_len;
    p->e.source.topic = NULL;
    p->e.source.partition = -1;
    p->e.source.offset = (int64_t)unit;
    p->status = 1;
    p->unit = unit;
    p->h = hf_memstore_hash(p->e.customer_id, p->e.customer_id_len);
    prefetch(la, p->h, 0);
    la->n++;
    for (int k = 0; k < 2; k++) {
        size_t back = k == 0 ? STAGE1 : STAGE2;
        if (la->n > back) {
            const pending *q = &la->v[(la->head + la->n - 1 - back) % AHEAD];
            if (q->status == 1)
                prefetch(la, q->h, k + 1);
        }
    }
    return 0;
}

/* Takes an invalid input (why, and its raw bytes if any) into the window. */
static int lookahead_invalid(lookahead *la, pending *p, uint64_t unit, const char *why,
                             const char *raw, size_t raw_len)
{
    hf_buf_reset(&p->text);
    if (raw != NULL && hf_buf_append(&p->text, raw, raw_len) != 0)
        return -1;
    snprintf(p->why, sizeof(p->why), "%s", why);
    p->status = 0;
    p->unit = unit;
    la->n++;
    return 0;
}

/*
 * Applies the oldest input of the window (dead-lettering an invalid one
 * as `unit`). Returns 0, or -1 (out of memory, errstr set).
 */
static int lookahead_apply(const hf_file_replay *r, lookahead *la, const char *unit,
                           hf_buf *tmp, char *errstr, size_t errstr_size)
{
    pending *p = &la->v[la->head];
    la->head = (la->head + 1) % AHEAD;
    la->n--;
    if (la->stopped)
        return 0;
    if (r->abort != NULL && *r->abort) {
        snprintf(errstr, errstr_size, "the output failed");
        return -1;
    }
    if (r->has_stop && p->status == 1 && hf_event_day(p->e.event_time) > r->stop_after_day) {
        la->stopped = 1;
        return 0;
    }
    if (p->status == 0) {
        hf_stream_count_invalid(la->st);
        for (size_t i = 0; i < r->nalso; i++)
            hf_stream_count_invalid(r->also[i]);
        return dead_letter(r, unit, p->unit, p->why,
                           strcmp(unit, "line") == 0 ? p->text.data : NULL, p->text.len, tmp,
                           errstr, errstr_size);
    }
    int rc = hf_stream_process(la->st, &p->e);
    for (size_t i = 0; i < r->nalso && rc == 0; i++)
        rc = hf_stream_process_hashed(r->also[i], &p->e, p->h);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "out of memory at %s %llu", unit,
                 (unsigned long long)p->unit);
        return -1;
    }
    return 0;
}

/* Applies what the window still holds; 0, or -1 (errstr set). */
static int lookahead_drain(const hf_file_replay *r, lookahead *la, const char *unit,
                           hf_buf *tmp, char *errstr, size_t errstr_size)
{
    while (la->n > 0)
        if (lookahead_apply(r, la, unit, tmp, errstr, errstr_size) != 0)
            return -1;
    return 0;
}

static int replay_json(const hf_file_replay *r, hf_stream *st, reader *rd,
                       progress *pg, char *errstr, size_t errstr_size)
{
    hf_json_decoder *dec = hf_json_decoder_new();
    hf_buf tmp = HF_BUF_INIT;
    char why[512];
    const char *line;
    size_t len;
    uint64_t lineno = 0, events = 0;
    int rc = 0, got;
    if (dec == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    lookahead la = {.st = st, .also = r->also, .nalso = r->nalso};
    while (!la.stopped && (got = next_line(rd, &line, &len)) == 1) {
        lineno++;
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
            k++;
        if (k == len)
            continue; /* blank lines carry no event */
        events++;
        if (la.n == AHEAD && lookahead_apply(r, &la, "line", &tmp, errstr, errstr_size) != 0) {
            rc = -1;
            break;
        }
        pending *p = lookahead_slot(&la);
        int taken = hf_json_decode_event(dec, line, len, &p->e, why, sizeof(why)) != 0
                        ? lookahead_invalid(&la, p, lineno, why, line, len)
                        : lookahead_event(&la, p, lineno);
        if (taken != 0) {
            snprintf(errstr, errstr_size, "out of memory at line %llu",
                     (unsigned long long)lineno);
            rc = -1;
            break;
        }
        progress_tick(pg, events, rd->consumed);
    }
    if (rc == 0)
        rc = lookahead_drain(r, &la, "line", &tmp, errstr, errstr_size);
    lookahead_free(&la);
    if (rc != 0) {
        /* errstr says why */
    } else if (got < 0) {
        snprintf(errstr, errstr_size, "out of memory reading line %llu",
                 (unsigned long long)lineno + 1);
        rc = -1;
    } else if (ferror(rd->f)) {
        snprintf(errstr, errstr_size, "cannot read \"%s\": %s", r->input, strerror(errno));
        rc = -1;
    }
    hf_buf_free(&tmp);
    hf_json_decoder_destroy(dec);
    return rc;
}

static int replay_avro(const hf_file_replay *r, hf_stream *st, const char *path,
                       progress *pg, char *errstr, size_t errstr_size)
{
    char why[512];
    hf_avro_file *af = hf_avro_file_open(path, why, sizeof(why));
    if (af == NULL) {
        snprintf(errstr, errstr_size, "cannot read Avro file \"%s\": %s", r->input, why);
        return -1;
    }
    hf_buf tmp = HF_BUF_INIT;
    uint64_t recno = 0;
    int rc = 0;
    lookahead la = {.st = st, .also = r->also, .nalso = r->nalso};
    while (!la.stopped) {
        if (la.n == AHEAD &&
            lookahead_apply(r, &la, "record", &tmp, errstr, errstr_size) != 0) {
            rc = -1;
            break;
        }
        pending *p = lookahead_slot(&la);
        int got = hf_avro_file_next(af, &p->e, why, sizeof(why));
        if (got == 0)
            break;
        recno++;
        if (got == -2) {
            /* Apply what came before, then stop. */
            rc = lookahead_drain(r, &la, "record", &tmp, errstr, errstr_size);
            if (rc == 0)
                snprintf(errstr, errstr_size, "Avro file \"%s\" is corrupt at record %llu: %s",
                         r->input, (unsigned long long)recno, why);
            rc = -1;
            break;
        }
        int taken = got == -1 ? lookahead_invalid(&la, p, recno, why, NULL, 0)
                              : lookahead_event(&la, p, recno);
        if (taken != 0) {
            snprintf(errstr, errstr_size, "out of memory at record %llu",
                     (unsigned long long)recno);
            rc = -1;
            break;
        }
        progress_tick(pg, recno, 0);
    }
    if (rc == 0)
        rc = lookahead_drain(r, &la, "record", &tmp, errstr, errstr_size);
    lookahead_free(&la);
    hf_buf_free(&tmp);
    hf_avro_file_close(af);
    return rc;
}

/* Copies what the reader holds and the rest of its stream to a temp file. */
static int spool(reader *rd, char *path, size_t path_size, char *errstr,
                 size_t errstr_size)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, path_size, "%s/hirefire-stdin-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "cannot create a temporary file for standard input: %s",
                 strerror(errno));
        return -1;
    }
    FILE *out = fdopen(fd, "wb");
    int ok = out != NULL;
    while (ok && rd->end > rd->start) {
        ok = fwrite(rd->buf + rd->start, 1, rd->end - rd->start, out) == rd->end - rd->start;
        rd->start = rd->end;
        if (!rd->eof && fill(rd) != 0)
            ok = 0;
    }
    if (out == NULL || fclose(out) != 0 || !ok) {
        if (out == NULL)
            close(fd);
        unlink(path);
        snprintf(errstr, errstr_size, "cannot spool standard input to %s", path);
        return -1;
    }
    return 0;
}

int hf_replay_file(const hf_file_replay *r, hf_stream *st, char *errstr,
                   size_t errstr_size)
{
    int is_stdin = strcmp(r->input, "-") == 0;
    reader rd = {0};
    rd.f = is_stdin ? stdin : fopen(r->input, "rb");
    if (rd.f == NULL) {
        snprintf(errstr, errstr_size, "cannot open input \"%s\": %s", r->input, strerror(errno));
        return -1;
    }
    rd.cap = CHUNK;
    rd.buf = malloc(rd.cap);
    progress pg = {0};
    pg.on = r->progress;
    pg.started = pg.last = hf_clock_mono_s();
    struct stat sb;
    if (!is_stdin && fstat(fileno(rd.f), &sb) == 0 && S_ISREG(sb.st_mode))
        pg.size = (uint64_t)sb.st_size;
    int rc = -1;
    if (rd.buf == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    while (!rd.eof && rd.end < 4)
        if (fill(&rd) != 0)
            goto out;
    if (rd.end >= 4 && hf_avro_is_container(rd.buf, rd.end)) {
        if (is_stdin) {
            char path[4096];
            if (spool(&rd, path, sizeof(path), errstr, errstr_size) == 0) {
                rc = replay_avro(r, st, path, &pg, errstr, errstr_size);
                unlink(path);
            }
        } else {
            rc = replay_avro(r, st, r->input, &pg, errstr, errstr_size);
        }
    } else {
        rc = replay_json(r, st, &rd, &pg, errstr, errstr_size);
    }
    for (size_t i = 0; i <= r->nalso && rc == 0 && r->advance_to != HF_NO_CLOCK; i++)
        if (hf_stream_advance(i == 0 ? st : r->also[i - 1], r->advance_to) != 0) {
            snprintf(errstr, errstr_size, "out of memory advancing the clock (--advance-to)");
            rc = -1;
        }
out:
    progress_done(&pg);
    free(rd.buf);
    if (!is_stdin)
        fclose(rd.f);
    return rc;
}
