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

/* @locality any (set-up) */
void hf_live_ckring_init(hf_live_ckring *r)
{
    r->head = r->n = 0;
    r->gen = 0;
    for (size_t i = 0; i < CK_RING; i++)
        atomic_init(&r->inflight[i], 0);
}

/* @locality loop thread */
checkpoint *hf_live_ckring_push(hf_live_ckring *r, int64_t at,
                                rd_kafka_topic_partition_list_t *offsets)
{
    checkpoint *c = &r->ck[(r->head + r->n++) % CK_MAX];
    *c = (checkpoint){.gen = r->gen++, .at = at, .offsets = offsets};
    atomic_store_explicit(&r->inflight[r->gen % CK_RING], 0, memory_order_relaxed);
    return c;
}

/* @locality loop thread */
const checkpoint *hf_live_ckring_ready(const hf_live_ckring *r)
{
    if (r->n == 0)
        return NULL;
    const checkpoint *c = &r->ck[r->head];
    /* C11's atomic_load takes a non-const pointer; the counter is only read. */
    atomic_uint_fast64_t *inflight = (atomic_uint_fast64_t *)&r->inflight[c->gen % CK_RING];
    return atomic_load_explicit(inflight, memory_order_relaxed) == 0 ? c : NULL;
}

/* @locality loop thread */
rd_kafka_topic_partition_list_t *hf_live_ckring_pop(hf_live_ckring *r)
{
    if (r->n == 0)
        return NULL;
    rd_kafka_topic_partition_list_t *offsets = r->ck[r->head].offsets;
    r->head = (r->head + 1) % CK_MAX;
    r->n--;
    return offsets;
}

static void checkpoints_commit(hf_pipeline *p);

/* Drops the waiting checkpoints: their offsets go into a later one. @locality loop thread */
static void checkpoints_drop(hf_pipeline *p)
{
    rd_kafka_topic_partition_list_t *offsets;
    while ((offsets = hf_live_ckring_pop(&p->ck)) != NULL)
        rd_kafka_topic_partition_list_destroy(offsets);
    for (size_t t = 0; t < p->ntopics; t++)
        for (int32_t i = 0; i < p->tps_cap[t]; i++)
            p->tps[t][i].requested = p->tps[t][i].committed;
}

/* The result of an asynchronous offset commit (served by the consumer poll).
 * @locality librdkafka callback (consumer poll, loop thread) */
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
 * @locality loop thread
 */
static void checkpoint_take(hf_pipeline *p)
{
    p->last_commit = hf_clock_mono_ms();
    if (p->failed || ckring_full(&p->ck))
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
    hf_live_ckring_push(&p->ck, p->last_commit, list);
    checkpoints_commit(p);
}

/*
 * Commits, asynchronously, the offsets of every waiting checkpoint whose
 * generation (and so every one before it) is delivered.
 * @locality loop thread
 */
static void checkpoints_commit(hf_pipeline *p)
{
    const checkpoint *c;
    while (!p->failed && (c = hf_live_ckring_ready(&p->ck)) != NULL) {
        rd_kafka_resp_err_t err =
            rd_kafka_commit_queue(p->consumer, c->offsets, p->consumer_q, offset_commit_cb, p);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            hf_log_warn("pipeline", "offset commit failed: %s", rd_kafka_err2str(err));
        else
            p->c.commits++;
        hf_metric_observe(p->m.commit_latency, (double)(hf_clock_mono_ms() - c->at) / 1000.0);
        rd_kafka_topic_partition_list_destroy(hf_live_ckring_pop(&p->ck));
    }
}

/*
 * Flushes the producer and, when every signal and dead letter is delivered,
 * commits the processed offsets synchronously (shutdown and revoke; the
 * waiting checkpoints are then superseded). final: a flush timeout is an
 * error. Returns 0, or -1 when nothing could be committed because of a
 * delivery problem.
 * @locality loop thread
 */
static int commit(hf_pipeline *p, int final)
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
 * a logical offset: given no offset, librdkafka 2.0 fetches the committed
 * offsets once more and then resets after a fixed 100 ms wait. "error" (or
 * a value librdkafka refuses already) stays with librdkafka.
 * @locality loop thread
 */
static int64_t reset_offset(const hf_pipeline *p)
{
    const char *v = hf_config_kafka_get(p->cfg, "auto.offset.reset");
    if (v == NULL || strcmp(v, "earliest") == 0 || strcmp(v, "smallest") == 0 ||
        strcmp(v, "beginning") == 0)
        return RD_KAFKA_OFFSET_BEGINNING; /* hirefire's default: earliest */
    if (strcmp(v, "latest") == 0 || strcmp(v, "largest") == 0 || strcmp(v, "end") == 0)
        return RD_KAFKA_OFFSET_END;
    return RD_KAFKA_OFFSET_INVALID;
}

/*
 * Assignment with the memory store: a new stream per new partition number;
 * each topic-partition is read from its beginning, the part below the
 * group's committed offset silently (the state is rebuilt), then live.
 * @locality librdkafka callback (consumer poll, loop thread)
 */
static void assign(hf_pipeline *p, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
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
            if (hf_stream_init(&s->st, p->eng, hf_live_emit_produce, &p->w0) != 0) {
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
            e->offset = reset_offset(p);
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

/* Before parts are revoked: the open batch, then (unless lost) a
 * synchronous commit. @locality librdkafka callback (consumer poll, loop thread) */
static void revoke(hf_pipeline *p, const rd_kafka_topic_partition_list_t *parts, int lost)
{
    (void)parts;
    hf_live_process_batch(p);
    if (lost)
        hf_log_warn("pipeline", "assignment lost: not committing the revoked partitions");
    else
        commit(p, 1);
}

/* After each poll: commits what is delivered, and every commit.interval.ms
 * takes a checkpoint. @locality loop thread */
static void tick(hf_pipeline *p, int64_t now)
{
    checkpoints_commit(p);
    if (now - p->last_commit >= p->cfg->commit_interval_ms)
        checkpoint_take(p);
}

/* The end of the run: flush and commit. @locality loop thread */
static void finish(hf_pipeline *p)
{
    commit(p, 1);
}

/*
 * A delivery report: a failed delivery fails the pipeline (its offsets are
 * never committed); either way one message of its generation less is in
 * flight. @locality librdkafka callback (producer poll or flush: any thread)
 */
static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    hf_pipeline *p = opaque;
    (void)rk;
    if (m->err)
        hf_live_fail(p, "delivery to %s failed: %s; offsets not committed",
                     rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    ckring_delivered(&p->ck, (uintptr_t)m->_private);
}

const commit_ops hf_live_commit_memory = {
    .assign = assign,
    .revoke = revoke,
    .process_batch = hf_live_process_batch_memory,
    .tick = tick,
    .finish = finish,
    .delivered = delivered,
    .emit = hf_live_emit_produce,
    .outbox = 0,
};
