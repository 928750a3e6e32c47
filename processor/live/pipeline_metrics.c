/*
 * pipeline_metrics.c - the live loop's metric handles (looked up once,
 * updated per batch), its gauges, librdkafka's statistics, and readiness.
 */
#include "live/pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

/* Label values of the outcomes, dead-letter classes and rebalance types. */
static const char *const outcome_names[OUT_COUNT] = {"applied", "invalid", "duplicate",
                                                     "late"};
static const char *const dl_names[DL_COUNT] = {"decode", "schema", "invalid"};
static const char *const rb_names[RB_COUNT] = {"assign", "revoke", "lost"};

/* Looks up every handle the loop updates (not per partition: see slot_metrics).
 * @locality loop thread */
int hf_live_metrics_init(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    hf_metrics *reg = p->opts.metrics;
    pipeline_metrics *pm = &p->m;
    if (reg == NULL)
        return 0;
    pm->events = calloc(p->ntopics * OUT_COUNT, sizeof(*pm->events));
    pm->pending = calloc(p->ntopics * OUT_COUNT, sizeof(*pm->pending));
    pm->dead_letters = calloc(p->ntopics * DL_COUNT, sizeof(*pm->dead_letters));
    if (!pm->events || !pm->pending || !pm->dead_letters) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t t = 0; t < p->ntopics; t++) {
        for (int o = 0; o < OUT_COUNT; o++)
            pm->events[t * OUT_COUNT + (size_t)o] =
                hf_metrics_events(reg, p->cfg->input_topics[t], outcome_names[o]);
        for (int k = 0; k < DL_COUNT; k++)
            pm->dead_letters[t * DL_COUNT + (size_t)k] =
                hf_metrics_dead_letters(reg, p->cfg->input_topics[t], dl_names[k]);
    }
    for (uint32_t b = 0; b < p->eng->n; b++)
        for (int k = 0; k < 2; k++)
            for (int c = 0; c < HF_CAUSE_COUNT; c++)
                pm->signals[b][k][c] = hf_metrics_signals(
                    reg, p->eng->behaviours[b].name, hf_signal_kind_name((hf_signal_kind)k),
                    hf_signal_cause_name((hf_signal_cause)c));
    for (int r = 0; r < RB_COUNT; r++)
        pm->rebalances[r] = hf_metrics_rebalances(reg, rb_names[r]);
    pm->batch_size = hf_metrics_batch_size(reg);
    pm->commit_latency = hf_metrics_commit_latency(reg);
    pm->customers = hf_metrics_customers_cached(reg);
    pm->txn_committed = hf_metrics_transactions(reg, "committed");
    pm->txn_aborted = hf_metrics_transactions(reg, "aborted");
    pm->redis_call = hf_metrics_redis_call(reg);
    if (!pm->batch_size || !pm->commit_latency || !pm->customers) {
        snprintf(errstr, errstr_size, "metrics: %s", hf_metrics_error(reg));
        return -1;
    }
    return 0;
}

/* @locality loop thread */
void hf_live_metrics_free(pipeline_metrics *pm)
{
    free(pm->events);
    free(pm->pending);
    free(pm->dead_letters);
}

/*
 * The class of a decoder's reason (dead_letters_total{reason_class}), by the
 * texts of pipeline, framing, codec_json and codec_avro: the bytes are not a
 * message at all, the writer schema is unknown or unusable, or the decoded
 * event breaks the rules.
 * @locality any (pure)
 */
int hf_live_dl_class(const char *why)
{
    static const char *const decode[] = {
        "message has no value", "message is empty", "message is too short",
        "wrong magic byte", "invalid JSON", "not a JSON object", "invalid Avro datum",
    };
    static const char *const schema[] = {"unknown schema id", "schema id "};
    for (size_t i = 0; i < sizeof(decode) / sizeof(decode[0]); i++)
        if (strncmp(why, decode[i], strlen(decode[i])) == 0)
            return DL_DECODE;
    for (size_t i = 0; i < sizeof(schema) / sizeof(schema[0]); i++)
        if (strncmp(why, schema[i], strlen(schema[i])) == 0)
            return DL_SCHEMA;
    return DL_INVALID;
}

/* Adds the open batch's event counts to the counters. @locality loop thread */
void hf_live_metrics_flush_events(hf_pipeline *p)
{
    pipeline_metrics *pm = &p->m;
    for (size_t i = 0; pm->pending != NULL && i < p->ntopics * OUT_COUNT; i++)
        if (pm->pending[i] != 0) {
            hf_metric_add(pm->events[i], pm->pending[i]);
            pm->pending[i] = 0;
        }
}

/* Customers cached and event-time lag: at most every GAUGES_EVERY_MS, or now.
 * @locality loop thread */
void hf_live_metrics_gauges(hf_pipeline *p, int force)
{
    pipeline_metrics *pm = &p->m;
    if (p->opts.metrics == NULL)
        return;
    int64_t now = hf_clock_mono_ms();
    if (!force && now - pm->gauges_at < GAUGES_EVERY_MS)
        return;
    pm->gauges_at = now;
    int64_t wall = hf_clock_wall_ms();
    uint64_t customers = 0;
    for (int32_t i = 0; i < p->nslots; i++) {
        const slot *s = &p->slots[i];
        if (s->refs == 0 || s->st.store == NULL)
            continue;
        customers += hf_memstore_count(s->st.store);
        if (s->max_event_time != INT64_MIN)
            hf_metric_set(s->time_lag, (double)(wall - s->max_event_time) / 1000.0);
    }
    hf_metric_set(pm->customers, (double)customers);
}

/* @locality librdkafka callback (consumer poll, loop thread) */
int hf_live_stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    hf_pipeline *p = opaque;
    (void)rk;
    hf_metrics_update_from_rdkafka_stats(p->opts.metrics, json, json_len);
    return 0; /* librdkafka frees json */
}

/* @locality any (the HTTP thread) */
int hf_pipeline_ready(const hf_pipeline *p, char *why, size_t why_size)
{
    /* The atomics are only read; C11's atomic_load takes a non-const pointer. */
    hf_pipeline *w = (hf_pipeline *)p;
    if (atomic_load(&w->store_unavailable)) {
        snprintf(why, why_size, "redis unavailable");
        return 0;
    }
    if (atomic_load(&w->assigned) <= 0) {
        snprintf(why, why_size, "no partitions assigned");
        return 0;
    }
    return 1;
}
