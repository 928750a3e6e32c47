/*
 * gen.c - synthetic customer journeys (see gen.h for the model).
 *
 * Future events wait in one bucket per day (a ring of days); a day's bucket
 * is sorted by (time, customer, kind, order) when the stream reaches it, so
 * the output is in time order and fully determined by the seed. Every event
 * schedules its successors on later days only.
 *
 * The event sinks that `gen` and `produce` share are in sinks.c.
 */
#include "gen/gen.h"

#include <stdlib.h>
#include <string.h>

#include "gen/gen_int.h"
#include "util/buf.h"

#define DAY_MS 86400000LL
#define RING 2048          /* > the longest gap in days (one-time: 1095) */
#define ARRIVAL_DAYS 180
#define LATE_PERMILLE 10

enum { K_PURCHASE = 0, K_RETURN = 1 };

typedef struct pending {
    int64_t t;         /* event time */
    uint32_t customer;
    uint32_t kind;     /* K_PURCHASE or K_RETURN */
    uint64_t order;    /* returns: the order number */
    int64_t amount;    /* returns: money given back */
    int64_t items;     /* returns: items given back */
} pending;

typedef struct bucket {
    pending *v;
    size_t n;
    size_t cap;
} bucket;

struct hf_gen {
    hf_gen_opts o;
    uint64_t rng;
    int64_t start_day;
    int64_t day;           /* relative day being emitted */
    size_t pos;            /* next entry of the current bucket */
    bucket ring[RING];
    int64_t *last_time;    /* per customer: time of its last event, or INT64_MIN */
    uint8_t *phase;        /* lapsing buyers: purchases left in the active phase */
    uint8_t *kind;         /* hf_gen_kind per customer */
    uint64_t emitted;
    uint64_t orders;
    int64_t high;          /* the latest event time emitted */
    hf_gen_stats stats;
    char event_id[48];
    char customer_id[24];
    char order_id[48];
    int failed;            /* out of memory while scheduling */
};

/*--- Random numbers -----------------------------------------------------------*/

/* splitmix64 */
static uint64_t next_u64(hf_gen *g)
{
    g->rng += 0x9e3779b97f4a7c15ULL;
    return mix64(g->rng);
}

/* Uniform in [lo, hi] by multiply-shift (Lemire; no division, bias < 2^-40). */
static int64_t range(hf_gen *g, int64_t lo, int64_t hi)
{
    __extension__ typedef unsigned __int128 u128;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(((u128)next_u64(g) * span) >> 64);
}

hf_gen_kind hf_gen_kind_of(uint64_t seed, uint32_t customer)
{
    uint64_t r = mix64(seed * 0x9e3779b97f4a7c15ULL + customer + 1) % 100;
    if (r < 40)
        return HF_GEN_ONE_TIME;
    if (r < 70)
        return HF_GEN_REPEAT;
    if (r < 80)
        return HF_GEN_RETURNER;
    return HF_GEN_LAPSING;
}

/*--- Scheduling -------------------------------------------------------------*/

static void schedule(hf_gen *g, const pending *p)
{
    int64_t rel = p->t / DAY_MS - g->start_day;
    bucket *b = &g->ring[rel % RING];
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        pending *v = realloc(b->v, cap * sizeof(*v));
        if (v == NULL) {
            g->failed = 1;
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *p;
}

/* A time on the day `days` after the day of t, uniformly within that day. */
static int64_t days_after(hf_gen *g, int64_t t, int64_t days)
{
    return (t / DAY_MS + days) * DAY_MS + range(g, 0, DAY_MS - 1);
}

static int cmp_pending(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->customer != y->customer)
        return x->customer < y->customer ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return 0;
}

hf_gen *hf_gen_new(const hf_gen_opts *opts)
{
    if (opts->customers == 0)
        return NULL;
    hf_gen *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->o = *opts;
    g->rng = mix64(opts->seed ^ 0x6869726566697265ULL); /* "hirefire" */
    g->start_day = opts->start_ms / DAY_MS;
    g->high = INT64_MIN;
    g->last_time = malloc(opts->customers * sizeof(*g->last_time));
    g->phase = calloc(opts->customers, 1);
    g->kind = malloc(opts->customers);
    if (g->last_time == NULL || g->phase == NULL || g->kind == NULL) {
        hf_gen_destroy(g);
        return NULL;
    }
    for (uint32_t c = 0; c < opts->customers; c++) {
        g->last_time[c] = INT64_MIN;
        g->kind[c] = (uint8_t)hf_gen_kind_of(opts->seed, c);
        pending p = {0};
        p.customer = c;
        p.kind = K_PURCHASE;
        p.t = days_after(g, opts->start_ms, range(g, 0, ARRIVAL_DAYS - 1));
        schedule(g, &p);
    }
    if (g->failed) {
        hf_gen_destroy(g);
        return NULL;
    }
    bucket *b = &g->ring[0];
    if (b->n > 1)
        qsort(b->v, b->n, sizeof(*b->v), cmp_pending);
    return g;
}

void hf_gen_destroy(hf_gen *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < RING; i++)
        free(g->ring[i].v);
    free(g->last_time);
    free(g->phase);
    free(g->kind);
    free(g);
}

void hf_gen_get_stats(const hf_gen *g, hf_gen_stats *out)
{
    *out = g->stats;
}

/*--- Journeys ---------------------------------------------------------------*/

static int64_t draw_items(hf_gen *g)
{
    int64_t r = range(g, 0, 99);
    return r < 45 ? 1 : r < 70 ? 2 : r < 85 ? 3 : r < 93 ? 4 : r < 97 ? 5 : 6;
}

/* Days until the next purchase of customer c (updates lapsing phases). */
static int64_t next_gap(hf_gen *g, uint32_t c)
{
    switch ((hf_gen_kind)g->kind[c]) {
    case HF_GEN_ONE_TIME:
        return range(g, 365, 1095);
    case HF_GEN_REPEAT:
        return range(g, 10, 45);
    case HF_GEN_RETURNER:
        return range(g, 7, 30);
    case HF_GEN_LAPSING:
    default:
        if (g->phase[c] == 0)
            g->phase[c] = (uint8_t)range(g, 3, 8);
        if (--g->phase[c] == 0)
            return range(g, 120, 400);
        return range(g, 5, 25);
    }
}

/* A purchase: sets its amount and items, schedules its return and the next purchase. */
static void purchase(hf_gen *g, const pending *p, int64_t *amount,
                     int64_t *items, uint64_t *order)
{
    uint32_t c = p->customer;
    hf_gen_kind k = (hf_gen_kind)g->kind[c];
    *order = ++g->orders;
    *items = draw_items(g);
    *amount = 0;
    for (int64_t i = 0; i < *items; i++)
        *amount += 499 + 100 * range(g, 0, 75);

    static const int return_pct[HF_GEN_KINDS] = {5, 8, 70, 6};
    if (range(g, 0, 99) < return_pct[k]) {
        pending r = {0};
        r.customer = c;
        r.kind = K_RETURN;
        r.order = *order;
        if (k == HF_GEN_RETURNER) {
            r.t = days_after(g, p->t, range(g, 2, 10));
            r.items = (*items == 1 || range(g, 0, 99) < 80)
                          ? *items
                          : range(g, 1, *items - 1);
        } else {
            r.t = days_after(g, p->t, range(g, 3, 14));
            r.items = range(g, 1, *items);
        }
        r.amount = *amount * r.items / *items;
        schedule(g, &r);
    }
    pending n = {0};
    n.customer = c;
    n.kind = K_PURCHASE;
    n.t = days_after(g, p->t, next_gap(g, c));
    schedule(g, &n);
}

int hf_gen_next(hf_gen *g, hf_event *e)
{
    if (g->emitted >= g->o.events || g->failed)
        return 0;
    bucket *b = &g->ring[g->day % RING];
    while (g->pos == b->n) {
        b->n = 0;
        g->pos = 0;
        g->day++;
        b = &g->ring[g->day % RING];
        if (b->n > 1)
            qsort(b->v, b->n, sizeof(*b->v), cmp_pending);
    }
    pending p = b->v[g->pos++]; /* copy: schedule() may grow other buckets */

    uint32_t c = p.customer;
    int64_t amount, items;
    uint64_t order;
    memset(e, 0, sizeof(*e));
    if (p.kind == K_PURCHASE) {
        purchase(g, &p, &amount, &items, &order);
        e->type = HF_EVENT_PURCHASE;
        g->stats.purchases++;
    } else {
        amount = p.amount;
        items = p.items;
        order = p.order;
        e->type = HF_EVENT_RETURN;
        g->stats.returns++;
    }
    if (g->failed)
        return 0;

    int64_t t = p.t;
    if (range(g, 0, 999) < LATE_PERMILLE) {
        int64_t late = t - range(g, 60000, 3 * 3600000);
        if (late > g->last_time[c])
            t = late;
    }
    if (t < g->high)
        g->stats.late++; /* earlier than an event already emitted */
    else
        g->high = t;
    if (g->last_time[c] == INT64_MIN)
        g->stats.customers_seen++;
    g->last_time[c] = t;
    g->stats.by_kind[g->kind[c]]++;
    g->emitted++;

    char *q = g->event_id;
    *q++ = 'e';
    q = hf_put_u64(q, g->o.seed, 1);
    *q++ = '-';
    q = hf_put_u64(q, g->emitted, 1);
    e->event_id = g->event_id;
    e->event_id_len = (size_t)(q - g->event_id);

    q = g->customer_id;
    *q++ = 'c';
    q = hf_put_u64(q, c, 7);
    e->customer_id = g->customer_id;
    e->customer_id_len = (size_t)(q - g->customer_id);

    q = g->order_id;
    *q++ = 'o';
    q = hf_put_u64(q, g->o.seed, 1);
    *q++ = '-';
    q = hf_put_u64(q, order, 1);
    e->order_id = g->order_id;
    e->order_id_len = (size_t)(q - g->order_id);

    e->event_time = t;
    e->amount_minor = amount;
    e->items = items;
    memcpy(e->currency, "EUR", 4);
    e->source.topic = NULL;
    e->source.partition = -1;
    e->source.offset = (int64_t)g->emitted;
    return 1;
}
