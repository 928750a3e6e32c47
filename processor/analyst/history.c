/*
 * history.c - the audience over time of one stream (a record per clock day,
 * filled by the signal tap), the merge of several streams by day, and its
 * CSV writer.
 */
#include "analyst/history.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One day of one stream: per behaviour, the target count at the day's end
 * and the signals of the day by kind and cause. */
typedef struct day_rec {
    int64_t *target;     /* [nbeh] */
    uint64_t *signals;   /* [nbeh][2][HF_CAUSE_COUNT] */
} day_rec;

struct hf_history {
    const hf_engine *eng;
    const hf_stream *st;
    hf_signal_fn next;
    void *next_opaque;
    int32_t first;       /* HF_NO_CLOCK until the first signal */
    day_rec *days;       /* days[i] is day first + i */
    size_t n, cap;
    int64_t *running;    /* [nbeh] customers target now */
    int oom;
};

#define NSIG(nbeh) ((size_t)(nbeh) * 2 * HF_CAUSE_COUNT)

hf_history *hf_history_new(const hf_engine *eng, const hf_stream *st, hf_signal_fn next,
                           void *next_opaque)
{
    hf_history *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->running = calloc(eng->n, sizeof(*h->running));
    if (h->running == NULL) {
        free(h);
        return NULL;
    }
    h->eng = eng;
    h->st = st;
    h->next = next;
    h->next_opaque = next_opaque;
    h->first = HF_NO_CLOCK;
    return h;
}

void hf_history_destroy(hf_history *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->days[i].target);
        free(h->days[i].signals);
    }
    free(h->days);
    free(h->running);
    free(h);
}

/* Opens the next day, its target counts those of now. 0, or -1 (OOM). */
static int open_day(hf_history *h)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        day_rec *v = realloc(h->days, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        h->days = v;
        h->cap = cap;
    }
    day_rec *d = &h->days[h->n];
    d->target = malloc(h->eng->n * sizeof(*d->target));
    d->signals = calloc(NSIG(h->eng->n), sizeof(*d->signals));
    if (d->target == NULL || d->signals == NULL) {
        free(d->target);
        free(d->signals);
        return -1;
    }
    memcpy(d->target, h->running, h->eng->n * sizeof(*d->target));
    h->n++;
    return 0;
}

/* Opens days until day is the current one. 0, or -1 (OOM). */
static int reach(hf_history *h, int32_t day)
{
    if (h->first == HF_NO_CLOCK) {
        h->first = day;
        return open_day(h);
    }
    while ((int64_t)h->first + (int64_t)h->n - 1 < day)
        if (open_day(h) != 0)
            return -1;
    return 0;
}

void hf_history_signal(void *opaque, const hf_signal *s)
{
    hf_history *h = opaque;
    if (!h->oom) {
        /* An expiry's day is its due day; an event's, the clock it was applied at. */
        int32_t day = s->cause == HF_CAUSE_EXPIRY ? hf_event_day(s->effective_time)
                                                  : h->st->clock;
        if (h->first != HF_NO_CLOCK && day < h->first + (int64_t)h->n - 1)
            day = (int32_t)(h->first + (int64_t)h->n - 1); /* never back in time */
        if (reach(h, day) != 0) {
            h->oom = 1;
        } else {
            day_rec *d = &h->days[h->n - 1];
            d->signals[((size_t)s->behaviour * 2 + s->kind) * HF_CAUSE_COUNT + s->cause]++;
            h->running[s->behaviour] += s->kind == HF_KIND_HIRE ? 1 : -1;
            d->target[s->behaviour] = h->running[s->behaviour];
        }
    }
    if (h->next != NULL)
        h->next(h->next_opaque, s);
}

int hf_history_finish(hf_history *h)
{
    if (h->oom)
        return -1;
    if (h->first == HF_NO_CLOCK || h->st->clock == HF_NO_CLOCK)
        return 0;
    if (reach(h, h->st->clock) != 0) {
        h->oom = 1;
        return -1;
    }
    return 0;
}

int hf_history_rows(hf_history *const *hs, size_t n,
                    int (*fn)(void *opaque, const hf_history_row *row), void *opaque)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    uint32_t nbeh = 0;
    for (size_t i = 0; i < n; i++) {
        if (hs[i]->oom)
            return -1;
        nbeh = hs[i]->eng->n;
        if (hs[i]->n == 0)
            continue;
        if (hs[i]->first < lo)
            lo = hs[i]->first;
        if ((int64_t)hs[i]->first + (int64_t)hs[i]->n - 1 > hi)
            hi = (int64_t)hs[i]->first + (int64_t)hs[i]->n - 1;
    }
    for (int64_t day = lo; day <= hi; day++) {
        for (uint32_t b = 0; b < nbeh; b++) {
            hf_history_row row = {.day = (int32_t)day, .behaviour = b};
            for (size_t i = 0; i < n; i++) {
                const hf_history *h = hs[i];
                if (h->n == 0 || day < h->first)
                    continue;
                int64_t k = day - h->first;
                if (k >= (int64_t)h->n) {
                    row.target += h->days[h->n - 1].target[b];
                    continue;
                }
                row.target += h->days[k].target[b];
                const uint64_t *sig = h->days[k].signals + (size_t)b * 2 * HF_CAUSE_COUNT;
                for (int kind = 0; kind < 2; kind++)
                    for (int c = 0; c < HF_CAUSE_COUNT; c++)
                        row.signals[kind][c] += sig[kind * HF_CAUSE_COUNT + c];
            }
            int rc = fn(opaque, &row);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/*--- CSV ----------------------------------------------------------------------*/

typedef struct csv_ctx {
    const hf_engine *eng;
    const char *label;
    FILE *out;
} csv_ctx;

/* A day number as YYYY-MM-DD. */
static void format_day(int32_t day, char *out, size_t size)
{
    time_t t = (time_t)((int64_t)day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%d", &tm);
}

static int csv_row(void *opaque, const hf_history_row *r)
{
    csv_ctx *c = opaque;
    char day[16];
    format_day(r->day, day, sizeof(day));
    const uint64_t *h = r->signals[HF_KIND_HIRE], *f = r->signals[HF_KIND_FIRE];
    int n = fprintf(c->out,
                    "%s,%s,%s,%" PRId64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
                    day, c->label, c->eng->behaviours[r->behaviour].name, r->target,
                    h[0] + h[1] + h[2], f[0] + f[1] + f[2], h[HF_CAUSE_PURCHASE],
                    h[HF_CAUSE_RETURN], h[HF_CAUSE_EXPIRY], f[HF_CAUSE_PURCHASE],
                    f[HF_CAUSE_RETURN], f[HF_CAUSE_EXPIRY]);
    return n < 0 ? -2 : 0;
}

int hf_history_write_csv(hf_history *const *hs, size_t n, const char *label, int header,
                         FILE *out, char *errstr, size_t errstr_size)
{
    if (header &&
        fputs("day,configuration,behaviour,target,hires,fires,hire_purchase,hire_return,"
              "hire_expiry,fire_purchase,fire_return,fire_expiry\n", out) == EOF) {
        snprintf(errstr, errstr_size, "%s", strerror(errno));
        return -1;
    }
    if (n == 0)
        return 0;
    csv_ctx c = {hs[0]->eng, label, out};
    int rc = hf_history_rows(hs, n, csv_row, &c);
    if (rc == -1) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (rc != 0 || fflush(out) != 0) {
        snprintf(errstr, errstr_size, "%s", strerror(errno));
        return -1;
    }
    return 0;
}
