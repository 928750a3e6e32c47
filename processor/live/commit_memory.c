/*
 * commit_memory.c - committing with store.backend=memory: checkpoints of the
 * processed offsets, committed asynchronously once what was produced before
 * them is delivered; a synchronous commit on revoke and shutdown.
 */
#include "live/pipeline_int.h"

#include <inttypes.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

/* Drops the waiting checkpoints: their offsets go into a later one. */
static void checkpoints_drop(hf_pipeline *p)
{
    for (; p->ck_n > 0; p->ck_n--, p->ck_head = (p->ck_head + 1) % CK_MAX)
        rd_kafka_topic_partition_list_destroy(p->ck[p->ck_head].offsets);
    for (size_t t = 0; t < p->ntopics; t++)
        for (int32_t i = 0; i < p->tps_cap[t]; i++)
            p->tps[t][i].requested = p->tps[t][i].committed;
}

/* The result of an asynchronous offset hf_live_commit (served by the consumer poll). */
static void offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    hf_pipeline *p = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        hf_log_warn("pipeline", "offset commit failed: %s (committed again later)",
                    rd_kafka_err2str(err));
        return;
    }
    for (int i = 0; offsets != NULL && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &offsets->elems[i];
        int t = hf_live_topic_index(p, e->topic);
        if (t < 0 || e->partition >= p->tps_cap[t])
            continue;
        tpstate *tp = &p->tps[t][e->partition];
        if (e->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            hf_log_warn("pipeline", "offset commit of %s [%" PRId32 "] failed: %s",
                        e->topic, e->partition, rd_kafka_err2str(e->err));
        else if (tp->assigned && e->offset > tp->committed)
            tp->committed = e->offset;
    }
}

/*
 * store.backend=memory: takes a checkpoint of the processed offsets (the
 * producer goes on with the next generation). With CK_MAX checkpoints
 * waiting for deliveries, none is taken: this generation goes on, and a
 * later checkpoint carries its offsets.
 */
void hf_live_checkpoint_take(hf_pipeline *p)
{
    p->last_commit = hf_clock_mono_ms();
    if (p->failed || p->ck_n == CK_MAX)
        return;
    rd_kafka_topic_partition_list_t *list = NULL;
    for (size_t t = 0; t < p->ntopics; t++)
        for (int32_t i = 0; i < p->tps_cap[t]; i++) {
            tpstate *tp = &p->tps[t][i];
            if (!tp->assigned || tp->done <= tp->requested)
                continue;
            if (list == NULL)
                list = rd_kafka_topic_partition_list_new(8);
            rd_kafka_topic_partition_list_add(list, p->cfg->input_topics[t], i)->offset =
                tp->done;
            tp->requested = tp->done;
        }
    if (list == NULL)
        return; /* this generation goes on */
    checkpoint *c = &p->ck[(p->ck_head + p->ck_n++) % CK_MAX];
    *c = (checkpoint){.gen = p->ck_gen++, .at = p->last_commit, .offsets = list};
    p->ck_inflight[p->ck_gen % CK_RING] = 0;
    hf_live_checkpoints_commit(p);
}

/*
 * Commits, asynchronously, the offsets of every waiting checkpoint whose
 * generation (and so every one before it) is delivered.
 */
void hf_live_checkpoints_commit(hf_pipeline *p)
{
    while (p->ck_n > 0 && !p->failed) {
        checkpoint *c = &p->ck[p->ck_head];
        if (p->ck_inflight[c->gen % CK_RING] != 0)
            return;
        rd_kafka_resp_err_t err =
            rd_kafka_commit_queue(p->consumer, c->offsets, p->consumer_q, offset_commit_cb, p);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            hf_log_warn("pipeline", "offset commit failed: %s", rd_kafka_err2str(err));
        else
            p->c.commits++;
        hf_metric_observe(p->m.commit_latency, (double)(hf_clock_mono_ms() - c->at) / 1000.0);
        rd_kafka_topic_partition_list_destroy(c->offsets);
        p->ck_head = (p->ck_head + 1) % CK_MAX;
        p->ck_n--;
    }
}

/*
 * Flushes the producer and, when every signal and dead letter is delivered,
 * commits the processed offsets synchronously (shutdown and revoke; the
 * waiting checkpoints are then superseded). final: a flush timeout is an
 * error. Returns 0, or -1 when nothing could be committed because of a
 * delivery problem.
 */
int hf_live_commit(hf_pipeline *p, int final)
{
    p->last_commit = hf_clock_mono_ms();
    if (p->failed)
        return -1;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    for (size_t t = 0; t < p->ntopics; t++)
        for (int32_t i = 0; i < p->tps_cap[t]; i++) {
            tpstate *tp = &p->tps[t][i];
            if (tp->assigned && tp->done > tp->committed)
                rd_kafka_topic_partition_list_add(list, p->cfg->input_topics[t], i)
                    ->offset = tp->done;
        }
    if (list->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(list);
        return 0;
    }
    double started = hf_clock_mono_s();
    rd_kafka_resp_err_t err = rd_kafka_flush(p->producer, (int)p->cfg->shutdown_timeout_ms);
    if (p->failed) {
        rd_kafka_topic_partition_list_destroy(list);
        return -1;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        int left = rd_kafka_outq_len(p->producer);
        rd_kafka_topic_partition_list_destroy(list);
        if (final) {
            hf_live_fail(p, "%d messages not delivered within shutdown.timeout.ms (%" PRId64
                    " ms); offsets not committed", left, p->cfg->shutdown_timeout_ms);
            return -1;
        }
        hf_log_warn("pipeline", "%d messages still in flight after %" PRId64
                    " ms; committing later", left, p->cfg->shutdown_timeout_ms);
        return 0;
    }
    checkpoints_drop(p); /* everything is delivered: the list below covers them */
    err = rd_kafka_commit(p->consumer, list, 0);
    hf_metric_observe(p->m.commit_latency, hf_clock_mono_s() - started);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        hf_log_warn("pipeline", "offset commit failed: %s", rd_kafka_err2str(err));
    } else {
        for (int i = 0; i < list->cnt; i++) {
            const rd_kafka_topic_partition_t *e = &list->elems[i];
            tpstate *tp = hf_live_tp_get(p, hf_live_topic_index(p, e->topic), e->partition);
            if (e->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                tp->committed = tp->requested = e->offset;
            else
                hf_log_warn("pipeline", "offset commit of %s [%" PRId32 "] failed: %s",
                            e->topic, e->partition, rd_kafka_err2str(e->err));
        }
        p->c.commits++;
        hf_log_debug("pipeline", "committed %d partition offsets", list->cnt);
    }
    rd_kafka_topic_partition_list_destroy(list);
    return 0;
}

/*
 * Where a partition with no committed offset starts: auto.offset.reset as
 * a logical offset. Given no offset, librdkafka 2.0 fetched the committed
 * offsets once more and then reset after a fixed 100 ms wait. "error" (or
 * a value librdkafka refused already) stays with librdkafka.
 */
int64_t hf_live_reset_offset(const hf_pipeline *p)
{
    const char *v = hf_config_kafka_get(p->cfg, "auto.offset.reset");
    if (v == NULL || strcmp(v, "earliest") == 0 || strcmp(v, "smallest") == 0 ||
        strcmp(v, "beginning") == 0)
        return RD_KAFKA_OFFSET_BEGINNING; /* hirefire's default: earliest */
    if (strcmp(v, "latest") == 0 || strcmp(v, "largest") == 0 || strcmp(v, "end") == 0)
        return RD_KAFKA_OFFSET_END;
    return RD_KAFKA_OFFSET_INVALID;
}
