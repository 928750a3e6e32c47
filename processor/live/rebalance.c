/*
 * rebalance.c - the consumer group's rebalances: assigning partitions (new
 * streams) and revoking them (the open batch finished and committed first).
 */
#include "live/pipeline_int.h"

#include <inttypes.h>
#include <string.h>

#include "util/log.h"

/*
 * A stream no longer held: its counts join the retired ones, its state goes
 * (with Redis, after trimming the outbox entries Kafka has).
 * @locality librdkafka callback (consumer poll, loop thread)
 */
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

/*
 * Revocation: the state store finishes the open batch and commits what it
 * may; then the topic-partitions go, and the streams no longer held.
 * @locality librdkafka callback (consumer poll, loop thread)
 */
static void on_revoke(hf_pipeline *p, const rd_kafka_topic_partition_list_t *parts, int lost)
{
    p->ops->revoke(p, parts, lost);
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

/* @locality librdkafka callback (consumer poll or close, loop thread) */
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
        p->ops->assign(p, rk, parts);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        int lost = rd_kafka_assignment_lost(rk);
        hf_metric_add(p->m.rebalances[lost ? RB_LOST : RB_REVOKE], 1);
        on_revoke(p, parts, lost);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
    } else {
        hf_log_error("pipeline", "rebalance failed: %s", rd_kafka_err2str(err));
        hf_metric_add(p->m.rebalances[RB_LOST], 1);
        on_revoke(p, parts, 1);
        aerr = rd_kafka_assign(rk, NULL);
    }
    if (error != NULL) {
        hf_live_fail(p, "partition assignment failed: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        hf_live_fail(p, "partition assignment failed: %s", rd_kafka_err2str(aerr));
    }
}
