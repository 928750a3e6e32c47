/*
 * stream.c - one ordered event stream: SEMANTICS.md "Processing one event".
 */
#include "core/stream.h"

#include <string.h>

/* Wraps the caller's sink to keep the per-behaviour counters. */
static void count_signal(void *opaque, const hf_signal *s)
{
    hf_stream *st = opaque;
    st->stats.signals[s->behaviour][s->kind][s->cause]++;
    st->stats.targets[s->behaviour] += s->kind == HF_KIND_HIRE ? 1 : -1;
    if (st->emit)
        st->emit(st->opaque, s);
}

int hf_stream_init(hf_stream *st, const hf_engine *eng, hf_signal_fn emit,
                   void *opaque)
{
    memset(st, 0, sizeof(*st));
    st->engine = eng;
    st->clock = HF_NO_CLOCK;
    st->emit = emit;
    st->opaque = opaque;
    st->store = hf_memstore_new(eng->n);
    return st->store ? 0 : -1;
}

void hf_stream_destroy(hf_stream *st)
{
    hf_memstore_destroy(st->store);
    st->store = NULL;
}

void hf_stream_count_invalid(hf_stream *st)
{
    st->stats.read++;
    st->stats.invalid++;
}

/* Indexes the due days of c that the engine changed. 0, or -1 (out of memory). */
static int reindex(hf_stream *st, hf_customer *c, const int32_t *old)
{
    for (uint32_t b = 0; b < st->engine->n; b++)
        if (c->due[b] != old[b] && hf_memstore_set_due(st->store, c, b, c->due[b]) != 0)
            return -1;
    return 0;
}

/* Step 3 past the clock: the expiries due up to `day`, then the clock. */
static int expire_until(hf_stream *st, int32_t day)
{
    hf_customer *c;
    uint32_t b;
    int32_t due;
    int got;
    while ((got = hf_memstore_next_expiry(st->store, day, &c, &b, &due)) == 1) {
        hf_engine_expire(st->engine, c, b, due, count_signal, st);
        if (c->due[b] != HF_NO_DUE && hf_memstore_set_due(st->store, c, b, c->due[b]) != 0)
            return -1;
    }
    if (got < 0)
        return -1;
    st->clock = day;
    return 0;
}

/* Step 3; most events do not move the clock, so this test is inlined. */
static inline int advance(hf_stream *st, int32_t day)
{
    if (st->clock != HF_NO_CLOCK && day <= st->clock)
        return 0;
    return expire_until(st, day);
}

int hf_stream_advance(hf_stream *st, int32_t day)
{
    return advance(st, day);
}

int hf_stream_process(hf_stream *st, const hf_event *e)
{
    return hf_stream_process_hashed(st, e, hf_memstore_hash(e->customer_id, e->customer_id_len));
}

int hf_stream_process_hashed(hf_stream *st, const hf_event *e, uint64_t h)
{
    const hf_engine *eng = st->engine;
    int created;
    st->stats.read++;

    /* Step 2: duplicates, before the event may move the clock. */
    hf_customer *c = hf_memstore_upsert_hashed(st->store, h, e->customer_id,
                                               e->customer_id_len, &created);
    if (c == NULL)
        return -1;
    uint64_t idh = hf_event_id_hash(e->event_id, e->event_id_len);
    if (!created && hf_customer_seen(c, idh)) {
        st->stats.duplicate++;
        return 0;
    }
    hf_customer_remember(c, idh);

    /* Step 3: the clock, with the expiries due up to the event's day. */
    if (advance(st, hf_event_day(e->event_time)) != 0)
        return -1;

    /* Steps 4 and 5. */
    int32_t old[HF_MAX_BEHAVIOURS];
    memcpy(old, c->due, eng->n * sizeof(*old));
    uint32_t counted;
    if (hf_engine_apply(eng, c, e, st->clock, count_signal, st, &counted) != 0)
        return -1;
    for (uint32_t b = 0; b < eng->n; b++)
        if (!(counted & (UINT32_C(1) << b)))
            st->stats.late_by_behaviour[b]++;
    if (counted == 0)
        st->stats.late++;
    else
        st->stats.applied++;
    return reindex(st, c, old);
}

void hf_stream_stats_add(hf_stream_stats *dst, const hf_stream_stats *src,
                         uint32_t nbehaviours)
{
    dst->read += src->read;
    dst->applied += src->applied;
    dst->duplicate += src->duplicate;
    dst->late += src->late;
    dst->invalid += src->invalid;
    for (uint32_t b = 0; b < nbehaviours; b++) {
        dst->late_by_behaviour[b] += src->late_by_behaviour[b];
        dst->targets[b] += src->targets[b];
        for (int k = 0; k < 2; k++)
            for (int cause = 0; cause < HF_CAUSE_COUNT; cause++)
                dst->signals[b][k][cause] += src->signals[b][k][cause];
    }
}
