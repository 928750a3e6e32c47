/*
 * compare.c - two configurations side by side: the behaviour names of
 * either, the signal taps that find the first signals that differ, the
 * target sets at the end, and the text, JSON and CSV results.
 */
#include "analyst/compare.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_json.h"
#include "util/buf.h"
#include "util/csv.h"
#include "util/json_str.h"

/* Signals of one side not yet compared: their JSON, signal_id first. */
typedef struct queue {
    char **v;
    size_t head, n, cap;
} queue;

/* One behaviour name, in A, in B or in both. */
typedef struct entry {
    const char *name;
    int ia, ib;              /* its index in A's and B's behaviours, or -1 */
    queue q[2];
    uint64_t same;           /* signals equal on both sides so far */
    int done;                /* the first difference is found */
    char *first[2];          /* the differing signals (NULL: none on that side) */
} entry;

struct hf_compare {
    const hf_engine *eng[2];
    hf_signal_fn next[2];
    void *next_opaque[2];
    entry *e;
    size_t n;
    int to_entry[2][HF_MAX_BEHAVIOURS];
    hf_buf buf;
    int oom;
};

hf_compare *hf_compare_new(const hf_engine *a, const hf_engine *b, hf_signal_fn next_a,
                           void *next_a_opaque, hf_signal_fn next_b, void *next_b_opaque)
{
    hf_compare *c = calloc(1, sizeof(*c));
    entry *entries = calloc((size_t)a->n + b->n, sizeof(*entries));
    if (c == NULL || entries == NULL) {
        free(c);
        free(entries);
        return NULL;
    }
    *c = (hf_compare){.eng = {a, b}, .next = {next_a, next_b},
                      .next_opaque = {next_a_opaque, next_b_opaque}, .e = entries};
    for (uint32_t i = 0; i < a->n; i++) {
        c->e[c->n] = (entry){.name = a->behaviours[i].name, .ia = (int)i, .ib = -1};
        c->to_entry[0][i] = (int)c->n++;
    }
    for (uint32_t j = 0; j < b->n; j++) {
        size_t k = 0;
        while (k < c->n && strcmp(c->e[k].name, b->behaviours[j].name) != 0)
            k++;
        if (k == c->n)
            c->e[c->n++] = (entry){.name = b->behaviours[j].name, .ia = -1};
        c->e[k].ib = (int)j;
        c->to_entry[1][j] = (int)k;
    }
    return c;
}

static void queue_clear(queue *q)
{
    for (size_t i = q->head; i < q->head + q->n; i++)
        free(q->v[i]);
    free(q->v);
    *q = (queue){0};
}

void hf_compare_destroy(hf_compare *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        queue_clear(&c->e[i].q[0]);
        queue_clear(&c->e[i].q[1]);
        free(c->e[i].first[0]);
        free(c->e[i].first[1]);
    }
    free(c->e);
    hf_buf_free(&c->buf);
    free(c);
}

static int queue_push(queue *q, char *s)
{
    if (q->head > 0 && q->head + q->n == q->cap) {
        memmove(q->v, q->v + q->head, q->n * sizeof(*q->v));
        q->head = 0;
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 8;
        char **v = realloc(q->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        q->v = v;
        q->cap = cap;
    }
    q->v[q->head + q->n++] = s;
    return 0;
}

static char *queue_pop(queue *q)
{
    if (q->n == 0)
        return NULL;
    q->n--;
    return q->v[q->head++];
}

/* The JSON of a signal past its signal_id: what two sides must agree on. */
static const char *key(const char *json)
{
    const char *k = strstr(json, ",\"behaviour\":");
    return k != NULL ? k : json;
}

static void tap(hf_compare *c, int side, const hf_signal *s)
{
    entry *e = &c->e[c->to_entry[side][s->behaviour]];
    if (!e->done && !c->oom) {
        hf_buf_reset(&c->buf);
        char *copy = NULL;
        if (hf_json_encode_signal(s, &c->buf) != 0 || (copy = strdup(c->buf.data)) == NULL) {
            c->oom = 1;
        } else if (e->ia < 0 || e->ib < 0) {
            e->first[side] = copy; /* one side only: its first signal is the difference */
            e->done = 1;
        } else if (queue_push(&e->q[side], copy) != 0) {
            free(copy);
            c->oom = 1;
        }
        while (!c->oom && e->q[0].n > 0 && e->q[1].n > 0) {
            char *a = queue_pop(&e->q[0]), *b = queue_pop(&e->q[1]);
            if (strcmp(key(a), key(b)) == 0) {
                e->same++;
                free(a);
                free(b);
                continue;
            }
            e->first[0] = a;
            e->first[1] = b;
            e->done = 1;
            queue_clear(&e->q[0]);
            queue_clear(&e->q[1]);
        }
    }
    if (c->next[side] != NULL)
        c->next[side](c->next_opaque[side], s);
}

void hf_compare_signal_a(void *opaque, const hf_signal *s)
{
    tap(opaque, 0, s);
}

void hf_compare_signal_b(void *opaque, const hf_signal *s)
{
    tap(opaque, 1, s);
}

/*--- The target sets at the end -------------------------------------------------*/

typedef struct ids {
    const hf_customer **v;
    size_t n, cap;
} ids;

typedef struct sets {
    ids only[2], both;     /* only[0]: only in A */
    int ia, ib;
    const hf_stream *other;
    int side;              /* the store being walked: 0 A, 1 B */
    int oom;
} sets;

static int ids_push(ids *l, const hf_customer *cu)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        const hf_customer **v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = cu;
    return 0;
}

static int target_in(const hf_customer *cu, int b)
{
    return cu != NULL && b >= 0 && ((cu->target >> b) & 1u);
}

static void walk(void *opaque, hf_customer *cu)
{
    sets *s = opaque;
    int mine = s->side == 0 ? s->ia : s->ib, theirs = s->side == 0 ? s->ib : s->ia;
    if (s->oom || !target_in(cu, mine))
        return;
    hf_customer *o = theirs >= 0 && s->other != NULL
                         ? hf_memstore_get(s->other->store, cu->id, cu->id_len)
                         : NULL;
    if (target_in(o, theirs)) {
        if (s->side == 0 && ids_push(&s->both, cu) != 0)
            s->oom = 1;
    } else if (ids_push(&s->only[s->side], cu) != 0) {
        s->oom = 1;
    }
}

static int by_id(const void *x, const void *y)
{
    const hf_customer *a = *(const hf_customer *const *)x, *b = *(const hf_customer *const *)y;
    size_t n = a->id_len < b->id_len ? a->id_len : b->id_len;
    int d = memcmp(a->id, b->id, n);
    return d != 0 ? d : a->id_len < b->id_len ? -1 : a->id_len > b->id_len;
}

/*--- Results --------------------------------------------------------------------*/

static int write_list(const char *dir, const char *name, const char *what, ids *l,
                      char *errstr, size_t errstr_size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.%s.csv", dir, name, what);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(errstr, errstr_size, "cannot write \"%s\": %s", path, strerror(errno));
        return -1;
    }
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), by_id);
    hf_buf b = HF_BUF_INIT;
    int rc = hf_buf_puts(&b, "customer_id\n");
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        rc |= hf_csv_append_field(&b, l->v[i]->id, l->v[i]->id_len);
        rc |= hf_buf_append(&b, "\n", 1);
    }
    int err = rc != 0 ? ENOMEM : 0;
    if (err == 0 && fwrite(b.data, 1, b.len, f) != b.len)
        err = errno;
    if (fclose(f) != 0 && err == 0)
        err = errno;
    hf_buf_free(&b);
    if (err != 0) {
        snprintf(errstr, errstr_size, "cannot write \"%s\": %s", path, strerror(err));
        return -1;
    }
    return 0;
}

static void counts_text(FILE *out, const char *side, const hf_stream *st, int b, size_t target)
{
    if (b < 0) {
        fprintf(out, "  %s: no such behaviour\n", side);
        return;
    }
    const uint64_t(*s)[HF_CAUSE_COUNT] = st->stats.signals[b];
    fprintf(out,
            "  %s: hire %" PRIu64 " (purchase %" PRIu64 ", return %" PRIu64 ", expiry %" PRIu64
            ")  fire %" PRIu64 " (purchase %" PRIu64 ", return %" PRIu64 ", expiry %" PRIu64
            ")  target at the end %zu\n",
            side, s[0][0] + s[0][1] + s[0][2], s[0][0], s[0][1], s[0][2],
            s[1][0] + s[1][1] + s[1][2], s[1][0], s[1][1], s[1][2], target);
}

static int counts_json(hf_buf *j, const hf_stream *st, int b)
{
    if (b < 0)
        return hf_buf_puts(j, "null");
    const uint64_t(*s)[HF_CAUSE_COUNT] = st->stats.signals[b];
    return hf_buf_printf(j, "{\"hire\":{\"purchase\":%" PRIu64 ",\"return\":%" PRIu64
                     ",\"expiry\":%" PRIu64 "},\"fire\":{\"purchase\":%" PRIu64
                     ",\"return\":%" PRIu64 ",\"expiry\":%" PRIu64 "}}",
                  s[0][0], s[0][1], s[0][2], s[1][0], s[1][1], s[1][2]);
}

static void entry_text(FILE *out, const entry *e, const hf_stream *a, const hf_stream *b,
                       const sets *s)
{
    fprintf(out, "behaviour %s%s\n", e->name,
            e->ia < 0 ? " (B only)" : e->ib < 0 ? " (A only)" : "");
    counts_text(out, "A", a, e->ia, s->only[0].n + s->both.n);
    counts_text(out, "B", b, e->ib, s->only[1].n + s->both.n);
    fprintf(out, "  target at the end: only in A %zu, only in B %zu, in both %zu\n",
            s->only[0].n, s->only[1].n, s->both.n);
    if (e->first[0] == NULL && e->first[1] == NULL) {
        fprintf(out, "  signals: the same %" PRIu64 " in A and B\n", e->same);
        return;
    }
    fprintf(out, "  first difference, after %" PRIu64 " equal signals:\n    A: %s\n    B: %s\n",
            e->same, e->first[0] ? e->first[0] : "(none)", e->first[1] ? e->first[1] : "(none)");
}

/* Appends entry e as a JSON object; 0, or -1 (out of memory). */
static int entry_json(hf_buf *j, const entry *e, const hf_stream *a, const hf_stream *b,
                      const sets *s)
{
    int rc = hf_buf_puts(j, "{\"behaviour\":");
    rc |= hf_json_append_string(j, e->name, strlen(e->name));
    rc |= hf_buf_printf(j, ",\"in_a\":%s,\"in_b\":%s,\"signals\":{\"a\":", e->ia >= 0 ? "true" : "false",
                  e->ib >= 0 ? "true" : "false");
    rc |= counts_json(j, a, e->ia);
    rc |= hf_buf_puts(j, ",\"b\":");
    rc |= counts_json(j, b, e->ib);
    rc |= hf_buf_printf(j, "},\"target_end\":{\"a\":%zu,\"b\":%zu},\"target_only_a\":%zu,"
                     "\"target_only_b\":%zu,\"target_both\":%zu,\"same_signals\":%" PRIu64
                     ",\"first_difference\":",
                  s->only[0].n + s->both.n, s->only[1].n + s->both.n, s->only[0].n, s->only[1].n,
                  s->both.n, e->same);
    if (e->first[0] == NULL && e->first[1] == NULL)
        return rc | hf_buf_puts(j, "null}");
    return rc | hf_buf_printf(j, "{\"a\":%s,\"b\":%s}}", e->first[0] ? e->first[0] : "null",
                              e->first[1] ? e->first[1] : "null");
}

/* The sets of entry e; 0, or -1 (out of memory). */
static int entry_sets(const entry *e, const hf_stream *a, const hf_stream *b, sets *s)
{
    *s = (sets){.ia = e->ia, .ib = e->ib};
    s->side = 0;
    s->other = b;
    hf_memstore_foreach(a->store, walk, s);
    s->side = 1;
    s->other = a;
    hf_memstore_foreach(b->store, walk, s);
    return s->oom ? -1 : 0;
}

static void sets_free(sets *s)
{
    free(s->only[0].v);
    free(s->only[1].v);
    free(s->both.v);
}

int hf_compare_finish(hf_compare *c, const hf_stream *a, const hf_stream *b, FILE *text,
                      FILE *json, const char *dir, char *errstr, size_t errstr_size)
{
    hf_buf j = HF_BUF_INIT;
    int rc = c->oom ? -1 : hf_buf_puts(&j, "{\"behaviours\":[");
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        entry *e = &c->e[i];
        if (!e->done && (e->q[0].n > 0 || e->q[1].n > 0)) {
            e->first[0] = queue_pop(&e->q[0]); /* one side has more signals */
            e->first[1] = queue_pop(&e->q[1]);
        }
        sets s;
        if (entry_sets(e, a, b, &s) != 0) {
            sets_free(&s);
            rc = -1;
            break;
        }
        if (text != NULL)
            entry_text(text, e, a, b, &s);
        if ((i > 0 && hf_buf_puts(&j, ",") != 0) || entry_json(&j, e, a, b, &s) != 0)
            rc = -1;
        if (dir != NULL &&
            (write_list(dir, e->name, "target_only_a", &s.only[0], errstr, errstr_size) != 0 ||
             write_list(dir, e->name, "target_only_b", &s.only[1], errstr, errstr_size) != 0 ||
             write_list(dir, e->name, "target_both", &s.both, errstr, errstr_size) != 0)) {
            sets_free(&s);
            hf_buf_free(&j);
            return -1;
        }
        sets_free(&s);
    }
    if (rc == 0 && hf_buf_puts(&j, "]}\n") != 0)
        rc = -1;
    if (rc != 0) {
        snprintf(errstr, errstr_size, "out of memory");
    } else if (json != NULL && (fwrite(j.data, 1, j.len, json) != j.len || fflush(json) != 0)) {
        snprintf(errstr, errstr_size, "%s", strerror(errno));
        rc = -1;
    }
    hf_buf_free(&j);
    return rc;
}
