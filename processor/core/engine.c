/*
 * engine.c - SEMANTICS.md as code: window metrics, classes, transitions and
 * expiry due days of one customer. Pure: no I/O, no allocation but the
 * customer's own arrays.
 */
#include "core/engine.h"

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

void hf_engine_init(hf_engine *eng, const hf_behaviour *behaviours, uint32_t n)
{
    memset(eng, 0, sizeof(*eng));
    if (n > HF_MAX_BEHAVIOURS)
        n = HF_MAX_BEHAVIOURS;
    eng->n = n;
    for (uint32_t b = 0; b < n; b++) {
        eng->behaviours[b] = behaviours[b];
        eng->fingerprints[b] = hf_behaviour_fingerprint(&behaviours[b]);
        if (behaviours[b].window_days > eng->max_window)
            eng->max_window = behaviours[b].window_days;
    }
}

/*
 * One pass over b's window at `day`, newest day first (so the sums saturate
 * in one fixed order): *m gets the window's metrics, and when[k] the first
 * day on which the days leaving the window (each on its day + W) leave a
 * window whose class is k (1 target, 0 not), or HF_NO_DUE; *last the day
 * the window empties (HF_NO_DUE when it is empty).
 */
static void scan(const hf_engine *eng, const hf_customer *c, uint32_t b,
                 int32_t day, hf_window_metrics *m, int32_t when[2], int32_t *last)
{
    const hf_behaviour *beh = &eng->behaviours[b];
    int64_t w = beh->window_days;
    int64_t from = (int64_t)day - w; /* exclusive */
    when[0] = when[1] = *last = HF_NO_DUE;
    memset(m, 0, sizeof(*m));
    for (uint32_t i = c->ndays; i > 0; i--) {
        const hf_day_agg *a = &c->days[i - 1];
        if (a->day <= from)
            break;
        if (a->day > day)
            continue;
        /* m holds the days after a: the window once a has left it. */
        int64_t exit = (int64_t)a->day + w;
        int32_t due = exit >= HF_NO_DUE ? HF_NO_DUE - 1 : (int32_t)exit;
        m->net_minor = hf_sat_add(m->gross_minor, -m->returned_minor);
        when[hf_behaviour_failing(beh, m) == 0] = due;
        if (*last == HF_NO_DUE)
            *last = due;
        m->orders += a->orders;
        m->items = hf_sat_add(m->items, a->items);
        m->gross_minor = hf_sat_add(m->gross_minor, a->gross_minor);
        m->returns += a->returns;
        m->returned_minor = hf_sat_add(m->returned_minor, a->returned_minor);
    }
    m->net_minor = hf_sat_add(m->gross_minor, -m->returned_minor);
}

void hf_engine_metrics(const hf_engine *eng, const hf_customer *c, uint32_t b,
                       int32_t day, hf_window_metrics *m)
{
    int32_t when[2], last;
    scan(eng, c, b, day, m, when, &last);
}

/*
 * The due day for class `target`: the first window exit after which the
 * class differs. Exits that change nothing are skipped (re-evaluating there
 * could not emit a signal); when none changes the class, the behaviours of
 * the longest window still come due when their window empties, so that the
 * expiry prunes the customer's days.
 */
static int32_t pick_due(const hf_engine *eng, uint32_t b, const int32_t when[2],
                        int32_t last, int target)
{
    int32_t due = when[!target];
    if (due == HF_NO_DUE && eng->behaviours[b].window_days == eng->max_window)
        due = last;
    return due;
}

int32_t hf_engine_due(const hf_engine *eng, const hf_customer *c, uint32_t b,
                      int32_t day)
{
    hf_window_metrics m;
    int32_t when[2], last;
    scan(eng, c, b, day, &m, when, &last);
    return pick_due(eng, b, when, last, (c->target >> b) & 1u);
}

/* The signal id: 128 bits of the behaviour's definition, the customer, the
 * signal's ordinal for that customer and behaviour, its kind and time. */
static void signal_id(const hf_engine *eng, const hf_customer *c, uint32_t b,
                      uint32_t ordinal, hf_signal_kind kind, int64_t t,
                      char out[33])
{
    uint8_t head[8 + 4 + 1 + 8];
    memcpy(head, &eng->fingerprints[b], 8);
    memcpy(head + 8, &ordinal, 4);
    head[12] = (uint8_t)kind;
    memcpy(head + 13, &t, 8);
    XXH128_hash_t h = XXH3_128bits_withSeed(c->id, c->id_len,
                                            XXH3_64bits(head, sizeof(head)));
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[15 - i] = hex[(h.high64 >> (4 * i)) & 0xf];
        out[31 - i] = hex[(h.low64 >> (4 * i)) & 0xf];
    }
    out[32] = '\0';
}

/* Evaluates c for b at `day`; on a class change emits a signal. */
static void evaluate(const hf_engine *eng, hf_customer *c, uint32_t b,
                     int32_t day, hf_signal_cause cause, int64_t t,
                     const hf_event *trigger, hf_signal_fn emit, void *opaque)
{
    hf_window_metrics m;
    int32_t when[2], last;
    scan(eng, c, b, day, &m, when, &last);
    unsigned failing = hf_behaviour_failing(&eng->behaviours[b], &m);
    uint32_t bit = UINT32_C(1) << b;
    int was = (c->target & bit) != 0;
    int is = failing == 0;
    if (was != is) {
        hf_signal s;
        memset(&s, 0, sizeof(s));
        s.behaviour = b;
        s.behaviour_name = eng->behaviours[b].name;
        s.customer_id = c->id;
        s.customer_id_len = c->id_len;
        s.kind = is ? HF_KIND_HIRE : HF_KIND_FIRE;
        s.cause = cause;
        s.effective_time = t;
        s.metrics = m;
        s.failing = failing;
        if (trigger != NULL) {
            s.trigger_event_id = trigger->event_id;
            s.trigger_event_id_len = trigger->event_id_len;
            s.trigger_source = trigger->source;
        } else {
            s.trigger_source.partition = -1;
            s.trigger_source.offset = -1;
        }
        signal_id(eng, c, b, c->flips[b], s.kind, t, s.signal_id);
        c->target ^= bit;
        c->flips[b]++;
        if (emit)
            emit(opaque, &s);
    }
    c->due[b] = pick_due(eng, b, when, last, is);
}

int hf_engine_apply(const hf_engine *eng, hf_customer *c, const hf_event *e,
                    int32_t clock_day, hf_signal_fn emit, void *opaque,
                    uint32_t *counted_out)
{
    int32_t d = hf_event_day(e->event_time);
    uint32_t counted = 0;
    for (uint32_t b = 0; b < eng->n; b++)
        if ((int64_t)d > (int64_t)clock_day - eng->behaviours[b].window_days)
            counted |= UINT32_C(1) << b;
    *counted_out = counted;
    if (counted == 0)
        return 0;
    /* Days that left the longest window can no longer count anywhere. */
    hf_customer_prune(c, (int32_t)((int64_t)clock_day - eng->max_window));
    if (hf_customer_add(c, d, e->type == HF_EVENT_RETURN, e->amount_minor,
                        e->items) != 0) {
        *counted_out = 0;
        return -1;
    }
    hf_signal_cause cause =
        e->type == HF_EVENT_RETURN ? HF_CAUSE_RETURN : HF_CAUSE_PURCHASE;
    for (uint32_t b = 0; b < eng->n; b++)
        if (counted & (UINT32_C(1) << b))
            evaluate(eng, c, b, clock_day, cause, e->event_time, e, emit, opaque);
    return 0;
}

void hf_engine_expire(const hf_engine *eng, hf_customer *c, uint32_t b,
                      int32_t due_day, hf_signal_fn emit, void *opaque)
{
    evaluate(eng, c, b, due_day, HF_CAUSE_EXPIRY,
             (int64_t)due_day * HF_MS_PER_DAY, NULL, emit, opaque);
    /* Prune only what no behaviour can see from this day on. */
    hf_customer_prune(c, (int32_t)((int64_t)due_day - eng->max_window));
}
