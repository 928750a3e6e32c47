/*
 * rebalance.c - the consumer group's rebalances: assigning partitions (new
 * streams) and revoking them (the open batch finished and committed first).
 */
#include "live/pipeline_int.h"

#include <inttypes.h>
#include <string.h>

#include "util/log.h"

static void retire(hf_pipeline *p, slot *s)
{
    if (s->st.store != NULL) {
        hf_stream_stats_add(&p->retired, &s->st.stats, p->eng->n);
        p->retired_customers += hf_memstore_count(s->st.store);
        hf_stream_destroy(&s->st);
    }
    hf_metric_clear(s->time_lag);
    if (s->part != NULL && s->kafka_seq > s->trimmed_seq) {
        /* What Kafka has needs no outbox entry (a fenced trim does nothing). */
        char err[512];
        hf_redis_outbox_trim(p->redis, s->part, s->kafka_seq, NULL, err, sizeof(err));
    }
    hf_live_slot_reset(s, NULL, 0);
}

static void on_assign(hf_pipeline *p, rd_kafka_t *rk,
                      rd_kafka_topic_partition_list_t *parts)
{
    if (p->redis != NULL) {
        hf_live_on_assign_redis(p, rk, parts);
        return;
    }
    /* Committed offsets: where live output resumes; state is rebuilt below them. */
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, parts, METADATA_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *e = &parts->elems[i];
        int t = hf_live_topic_index(p, e->topic);
        tpstate *tp = t >= 0 ? hf_live_tp_get(p, t, e->partition) : NULL;
        slot *s = tp ? hf_live_slot_get(p, e->partition) : NULL;
        if (s == NULL) {
            hf_live_fail(p, "out of memory assigning %s [%" PRId32 "]", e->topic, e->partition);
            return;
        }
        if (s->refs == 0) {
            if (hf_stream_init(&s->st, p->eng, hf_live_emit_signal, p) != 0) {
                hf_live_fail(p, "out of memory assigning %s [%" PRId32 "]", e->topic, e->partition);
                return;
            }
            s->max_event_time = INT64_MIN;
            if (s->time_lag == NULL) /* kept across revoke and re-assign */
                s->time_lag = hf_metrics_event_time_lag(p->opts.metrics, e->partition);
        }
        s->refs++;
        if (!tp->assigned)
            atomic_fetch_add(&p->assigned, 1);
        int64_t committed = e->offset >= 0 ? e->offset : -1;
        *tp = (tpstate){.assigned = 1, .restore_until = committed, .done = committed,
                        .committed = committed, .requested = committed};
        if (committed > 0)
            e->offset = RD_KAFKA_OFFSET_BEGINNING; /* rebuild the state first */
        else if (committed < 0 && err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                 e->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            e->offset = hf_live_reset_offset(p);
        hf_log_info("pipeline", "assigned %s [%" PRId32 "]%s", e->topic, e->partition,
                    committed > 0 ? ", re-reading up to the committed offset" : "");
    }
    if (p->ntopics > 1)
        for (int32_t i = 0; i < p->nslots; i++)
            if (p->slots[i].refs > 0 && (size_t)p->slots[i].refs < p->ntopics)
                hf_log_warn("pipeline",
                            "stream %" PRId32 " holds %d of the %zu input topics; with several "
                            "instances set kafka.partition.assignment.strategy=range",
                            i, p->slots[i].refs, p->ntopics);
}

static void on_revoke(hf_pipeline *p, rd_kafka_t *rk,
                      const rd_kafka_topic_partition_list_t *parts, int lost)
{
    if (lost && p->redis != NULL)
        for (int i = 0; i < parts->cnt; i++) {
            int t = hf_live_topic_index(p, parts->elems[i].topic);
            if (t >= 0 && parts->elems[i].partition < p->tps_cap[t])
                p->tps[t][parts->elems[i].partition].lost = 1;
        }
    hf_live_process_batch(p);
    hf_live_publisher_wait(p);
    if (lost)
        hf_log_warn("pipeline", "assignment lost: not committing the revoked partitions");
    else if (p->redis == NULL)
        hf_live_commit(p, 1);
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &parts->elems[i];
        int t = hf_live_topic_index(p, e->topic);
        if (t < 0 || e->partition >= p->tps_cap[t] || !p->tps[t][e->partition].assigned)
            continue;
        p->tps[t][e->partition] =
            (tpstate){.restore_until = -1, .done = -1, .committed = -1, .requested = -1};
        atomic_fetch_sub(&p->assigned, 1);
        slot *s = &p->slots[e->partition];
        if (--s->refs == 0)
            retire(p, s);
        hf_log_info("pipeline", "revoked %s [%" PRId32 "]", e->topic, e->partition);
    }
}

void hf_live_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    hf_pipeline *p = opaque;
    hf_live_batch_finish(p); /* the helper thread may still be on the last batch */
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        hf_metric_add(p->m.rebalances[RB_ASSIGN], 1);
        on_assign(p, rk, parts);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        int lost = rd_kafka_assignment_lost(rk);
        hf_metric_add(p->m.rebalances[lost ? RB_LOST : RB_REVOKE], 1);
        on_revoke(p, rk, parts, lost);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
    } else {
        hf_log_error("pipeline", "rebalance failed: %s", rd_kafka_err2str(err));
        hf_metric_add(p->m.rebalances[RB_LOST], 1);
        on_revoke(p, rk, parts, 1);
        aerr = rd_kafka_assign(rk, NULL);
    }
    if (error != NULL) {
        hf_live_fail(p, "partition assignment failed: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        hf_live_fail(p, "partition assignment failed: %s", rd_kafka_err2str(aerr));
    }
}
