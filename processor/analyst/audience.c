/*
 * audience.c - the members of each behaviour at a day, and the customers who
 * hired or fired in a period: the signal tap (a table of signal times per
 * customer), the selection of rows, the sample, and the CSV and JSON-lines
 * writers.
 */
#include "analyst/audience.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "core/behaviour.h"
#include "util/buf.h"
#include "util/csv.h"
#include "util/json_str.h"

#define NONE INT64_MIN

/* The signal times of one customer: per behaviour, the last hire, the last
 * fire, and the last of each effective inside the query's period. */
enum { T_HIRE = 0, T_FIRE = 1, T_PERIOD_HIRE = 2, T_PERIOD_FIRE = 3, T_COUNT = 4 };

typedef struct record {
    uint64_t hash;
    uint32_t len;
    char *id;
    int64_t *times; /* [nbeh][T_COUNT] */
} record;

struct hf_audience {
    const hf_engine *eng;
    hf_audience_query q;
    record *slots;   /* open addressing; id == NULL is empty */
    size_t cap;      /* a power of two */
    size_t n;
    int oom;
};

hf_audience *hf_audience_new(const hf_engine *eng, const hf_audience_query *q)
{
    hf_audience *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->eng = eng;
    a->q = *q;
    a->cap = 1024;
    a->slots = calloc(a->cap, sizeof(*a->slots));
    if (a->slots == NULL) {
        free(a);
        return NULL;
    }
    return a;
}

void hf_audience_destroy(hf_audience *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->cap; i++) {
        free(a->slots[i].id);
        free(a->slots[i].times);
    }
    free(a->slots);
    free(a);
}

static int grow(hf_audience *a)
{
    size_t cap = a->cap * 2;
    record *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < a->cap; i++) {
        if (a->slots[i].id == NULL)
            continue;
        size_t j = a->slots[i].hash & (cap - 1);
        while (slots[j].id != NULL)
            j = (j + 1) & (cap - 1);
        slots[j] = a->slots[i];
    }
    free(a->slots);
    a->slots = slots;
    a->cap = cap;
    return 0;
}

/* The record of id, or NULL; with create, a new one (NULL when out of memory). */
static record *find(hf_audience *a, const char *id, size_t len, int create)
{
    uint64_t h = XXH3_64bits(id, len);
    size_t i = h & (a->cap - 1);
    while (a->slots[i].id != NULL) {
        record *r = &a->slots[i];
        if (r->hash == h && r->len == len && memcmp(r->id, id, len) == 0)
            return r;
        i = (i + 1) & (a->cap - 1);
    }
    if (!create)
        return NULL;
    if ((a->n + 1) * 2 > a->cap) {
        if (grow(a) != 0)
            return NULL;
        return find(a, id, len, create);
    }
    size_t nt = (size_t)a->eng->n * T_COUNT;
    char *copy = malloc(len + 1);
    int64_t *times = malloc(nt * sizeof(*times));
    if (copy == NULL || times == NULL) {
        free(copy);
        free(times);
        return NULL;
    }
    memcpy(copy, id, len);
    copy[len] = '\0';
    for (size_t k = 0; k < nt; k++)
        times[k] = NONE;
    record *r = &a->slots[i];
    *r = (record){.hash = h, .len = (uint32_t)len, .id = copy, .times = times};
    a->n++;
    return r;
}

static int in_period(const hf_audience_query *q, int32_t day)
{
    return (q->since_day == HF_NO_CLOCK || day >= q->since_day) &&
           (q->until_day == HF_NO_CLOCK || day <= q->until_day);
}

void hf_audience_signal(void *opaque, const hf_signal *s)
{
    hf_audience *a = opaque;
    if (a->oom)
        return;
    record *r = find(a, s->customer_id, s->customer_id_len, 1);
    if (r == NULL) {
        a->oom = 1;
        return;
    }
    int64_t *t = r->times + (size_t)s->behaviour * T_COUNT;
    int hire = s->kind == HF_KIND_HIRE;
    t[hire ? T_HIRE : T_FIRE] = s->effective_time;
    if (in_period(&a->q, hf_event_day(s->effective_time)))
        t[hire ? T_PERIOD_HIRE : T_PERIOD_FIRE] = s->effective_time;
}

uint64_t hf_audience_rank(uint64_t seed, const char *id, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < 8; i++) {
        h ^= (seed >> (8 * i)) & 0xff;
        h *= 0x100000001b3ULL;
    }
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= 0x100000001b3ULL;
    }
    h += 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static const char *const status_names[] = {"target", "non-target", "hired", "fired"};

const char *hf_audience_status_name(hf_audience_status s)
{
    return status_names[s];
}

int hf_audience_status_parse(const char *name, hf_audience_status *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, status_names[i]) == 0) {
            *s = (hf_audience_status)i;
            return 0;
        }
    return -1;
}

/*--- Selecting rows ---------------------------------------------------------*/

typedef struct row {
    hf_customer *c;
    int32_t day;       /* the stream's clock */
    int64_t since;     /* NONE: no such signal */
    uint64_t rank;
} row;

typedef struct collect {
    hf_audience *a;
    uint32_t b;
    int32_t day;
    row *rows;
    size_t n, cap;
    int oom;
} collect;

static void collect_one(void *opaque, hf_customer *c)
{
    collect *k = opaque;
    if (k->oom)
        return;
    const hf_audience_query *q = &k->a->q;
    record *r = find(k->a, c->id, c->id_len, 0);
    const int64_t *t = r != NULL ? r->times + (size_t)k->b * T_COUNT : NULL;
    int target = (c->target >> k->b) & 1u;
    int64_t since;
    switch (q->status) {
    case HF_AUDIENCE_TARGET:
        if (!target)
            return;
        since = t != NULL ? t[T_HIRE] : NONE;
        break;
    case HF_AUDIENCE_NON_TARGET:
        if (target)
            return;
        since = t != NULL ? t[T_FIRE] : NONE;
        break;
    case HF_AUDIENCE_HIRED:
        if (t == NULL || t[T_PERIOD_HIRE] == NONE)
            return;
        since = t[T_PERIOD_HIRE];
        break;
    default:
        if (t == NULL || t[T_PERIOD_FIRE] == NONE)
            return;
        since = t[T_PERIOD_FIRE];
        break;
    }
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 1024;
        row *v = realloc(k->rows, cap * sizeof(*v));
        if (v == NULL) {
            k->oom = 1;
            return;
        }
        k->rows = v;
        k->cap = cap;
    }
    k->rows[k->n++] = (row){c, k->day, since,
                            q->sample ? hf_audience_rank(q->seed, c->id, c->id_len) : 0};
}

static int by_id(const void *x, const void *y)
{
    const hf_customer *a = ((const row *)x)->c, *b = ((const row *)y)->c;
    size_t n = a->id_len < b->id_len ? a->id_len : b->id_len;
    int d = memcmp(a->id, b->id, n);
    if (d != 0)
        return d;
    return a->id_len < b->id_len ? -1 : a->id_len > b->id_len;
}

static int by_rank(const void *x, const void *y)
{
    uint64_t a = ((const row *)x)->rank, b = ((const row *)y)->rank;
    if (a != b)
        return a < b ? -1 : 1;
    return by_id(x, y);
}

/*--- Writing rows -----------------------------------------------------------*/

static const char *const columns =
    "behaviour,customer_id,status,since,orders,items,gross_minor,returned_minor,"
    "net_minor,returns,failing,days_since_last_event\n";

/* An effective time as 2011-12-09T12:50:00.000Z. */
static void format_time(int64_t ms, char *out, size_t size)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ms - secs * 1000));
}

/* Days from the customer's last event to day, when that event is inside the
 * longest window (older days are not kept); -1 otherwise. */
static int64_t days_since_last(const hf_engine *eng, const hf_customer *c, int32_t day)
{
    if (c->ndays == 0)
        return -1;
    int32_t last = c->days[c->ndays - 1].day;
    if ((int64_t)day - last >= eng->max_window)
        return -1;
    return (int64_t)day - last;
}

static int write_row(hf_buf *b, const hf_audience *a, uint32_t beh, const row *r)
{
    const hf_engine *eng = a->eng;
    const hf_behaviour *bd = &eng->behaviours[beh];
    hf_window_metrics m;
    hf_engine_metrics(eng, r->c, beh, r->day, &m);
    unsigned failing = hf_behaviour_failing(bd, &m);
    char since[40] = "";
    if (r->since != NONE)
        format_time(r->since, since, sizeof(since));
    int64_t quiet = days_since_last(eng, r->c, r->day);
    const char *status = hf_audience_status_name(a->q.status);
    int csv = a->q.format == HF_AUDIENCE_CSV;
    int rc = 0;
    if (csv) {
        rc |= hf_csv_append_field(b, bd->name, strlen(bd->name));
        rc |= hf_buf_append(b, ",", 1);
        rc |= hf_csv_append_field(b, r->c->id, r->c->id_len);
        rc |= hf_buf_printf(b, ",%s,%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                               ",%" PRId64 ",",
                            status, since, m.orders, m.items, m.gross_minor, m.returned_minor,
                            m.net_minor, m.returns);
    } else {
        rc |= hf_buf_append(b, "{\"behaviour\":", 13);
        rc |= hf_json_append_string(b, bd->name, strlen(bd->name));
        rc |= hf_buf_append(b, ",\"customer_id\":", 15);
        rc |= hf_json_append_string(b, r->c->id, r->c->id_len);
        rc |= hf_buf_printf(b, ",\"status\":\"%s\",\"since\":", status);
        rc |= since[0] ? hf_buf_printf(b, "\"%s\"", since) : hf_buf_append(b, "null", 4);
        rc |= hf_buf_printf(b, ",\"orders\":%" PRId64 ",\"items\":%" PRId64
                               ",\"gross_minor\":%" PRId64 ",\"returned_minor\":%" PRId64
                               ",\"net_minor\":%" PRId64 ",\"returns\":%" PRId64 ",\"failing\":[",
                            m.orders, m.items, m.gross_minor, m.returned_minor, m.net_minor,
                            m.returns);
    }
    int first = 1;
    for (unsigned bit = 1; bit < (1u << HF_FAIL_COUNT); bit <<= 1) {
        if (!(failing & bit))
            continue;
        const char *name = hf_fail_name(bit);
        rc |= first ? 0 : hf_buf_append(b, csv ? ";" : ",", 1);
        rc |= csv ? hf_buf_append(b, name, strlen(name)) : hf_buf_printf(b, "\"%s\"", name);
        first = 0;
    }
    if (csv)
        rc |= quiet >= 0 ? hf_buf_printf(b, ",%" PRId64 "\n", quiet) : hf_buf_append(b, ",\n", 2);
    else
        rc |= quiet >= 0 ? hf_buf_printf(b, "],\"days_since_last_event\":%" PRId64 "}\n", quiet)
                         : hf_buf_append(b, "],\"days_since_last_event\":null}\n", 32);
    return rc != 0 ? -1 : 0;
}

/* The rows of behaviour beh, selected, sampled, in order, and limited. */
static int write_behaviour(hf_audience *a, uint32_t beh, hf_stream *const *streams, size_t n,
                           hf_buf *b, FILE *out, uint64_t *rows, char *errstr,
                           size_t errstr_size)
{
    collect k = {.a = a, .b = beh};
    for (size_t i = 0; i < n; i++) {
        if (streams[i]->clock == HF_NO_CLOCK)
            continue;
        k.day = streams[i]->clock;
        hf_memstore_foreach(streams[i]->store, collect_one, &k);
    }
    if (k.oom) {
        free(k.rows);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (a->q.sample != 0 && k.n > a->q.sample) {
        qsort(k.rows, k.n, sizeof(*k.rows), by_rank);
        k.n = (size_t)a->q.sample;
    }
    if (k.n > 1)
        qsort(k.rows, k.n, sizeof(*k.rows), by_id);
    if (a->q.limit != 0 && k.n > a->q.limit)
        k.n = (size_t)a->q.limit;
    int rc = 0;
    for (size_t i = 0; i < k.n && rc == 0; i++) {
        hf_buf_reset(b);
        if (write_row(b, a, beh, &k.rows[i]) != 0) {
            snprintf(errstr, errstr_size, "out of memory");
            rc = -1;
        } else if (fwrite(b->data, 1, b->len, out) != b->len) {
            snprintf(errstr, errstr_size, "%s", strerror(errno));
            rc = -1;
        }
    }
    if (rows != NULL && rc == 0)
        *rows += k.n;
    free(k.rows);
    return rc;
}

int hf_audience_write(hf_audience *a, hf_stream *const *streams, size_t n, FILE *out,
                      uint64_t *rows, char *errstr, size_t errstr_size)
{
    if (rows != NULL)
        *rows = 0;
    if (a->oom) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (a->q.format == HF_AUDIENCE_CSV && fputs(columns, out) == EOF) {
        snprintf(errstr, errstr_size, "%s", strerror(errno));
        return -1;
    }
    hf_buf b = HF_BUF_INIT;
    int rc = 0;
    for (uint32_t beh = 0; beh < a->eng->n && rc == 0; beh++)
        if (a->q.behaviours == 0 || (a->q.behaviours >> beh) & 1u)
            rc = write_behaviour(a, beh, streams, n, &b, out, rows, errstr, errstr_size);
    hf_buf_free(&b);
    if (rc == 0 && fflush(out) != 0) {
        snprintf(errstr, errstr_size, "%s", strerror(errno));
        rc = -1;
    }
    return rc;
}
