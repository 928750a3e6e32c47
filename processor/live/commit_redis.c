/*
 * commit_redis.c - committing with store.backend=redis: acquiring and
 * loading a partition, the fenced per-stream commits (pipelined), outages
 * (pause, backoff, resume), fencing and the outbox read again for a
 * republish.
 */
#include "live/pipeline_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/eos.h"
#include "util/clock.h"
#include "util/log.h"

/* Pauses (pause = 1) or resumes every assigned partition. @locality loop thread */
static void pause_all(hf_pipeline *p, int pause)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    if (rd_kafka_assignment(p->consumer, &list) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    if (list->cnt > 0) {
        if (pause)
            rd_kafka_pause_partitions(p->consumer, list);
        else
            rd_kafka_resume_partitions(p->consumer, list);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/*
 * Redis answered UNAVAILABLE to `what`: the first time, pause the input and
 * say so (logs and /readyz); then wait, 100 ms doubling to 5 s. Returns -1
 * when the pipeline is stopping (the call is given up), else 0: retry.
 * @locality loop thread
 */
static int unavailable_wait(hf_pipeline *p, int *backoff, const char *what,
                            const char *err)
{
    if (*backoff == 0) {
        hf_log_warn("pipeline", "Redis unavailable (%s): %s; input paused, retrying", what,
                    err);
        atomic_store(&p->store_unavailable, 1);
        pause_all(p, 1);
        *backoff = BACKOFF_FIRST_MS;
    }
    if (stopping(p))
        return -1;
    sleep_ms(*backoff);
    rd_kafka_poll(p->producer, 0);
    *backoff = *backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff * 2;
    return stopping(p) ? -1 : 0;
}

/* After a call that was retried by unavailable_wait: resume the input. @locality loop thread */
static void available_again(hf_pipeline *p, int backoff)
{
    if (backoff == 0)
        return;
    atomic_store(&p->store_unavailable, 0);
    pause_all(p, 0);
    hf_log_info("pipeline", "Redis available again: input resumed");
}

/* Gives s the acquisition `part` (or none) with nothing open or pending.
 * @locality loop thread */
void hf_live_slot_reset(slot *s, hf_redis_part *part, int dropped)
{
    if (s->part != part)
        hf_redis_part_destroy(s->part);
    s->part = part;
    s->dropped = dropped;
    s->pending = 0;
    s->ndirty = 0;
    s->in_cycle = 0;
    hf_buf_reset(&s->out);
}

/* Forgets the stream's state and never writes for it again (until re-assigned).
 * @locality loop thread */
void hf_live_drop_slot(hf_pipeline *p, slot *s, const char *why)
{
    hf_log_warn("pipeline", "partition %" PRId32 ": %s: its state is dropped and nothing "
                "more is written for it until it is assigned again", s->partition, why);
    if (!s->dropped && s->st.store != NULL) {
        hf_stream_stats_add(&p->retired, &s->st.stats, p->eng->n);
        hf_stream_destroy(&s->st);
    }
    hf_live_slot_reset(s, NULL, 1);
}

/*
 * Acquires partition s->partition (a new epoch) and loads its customers into
 * a new stream. Returns 0, or -1 (failed, or stopping during an outage).
 * @locality loop thread
 */
static int open_slot(hf_pipeline *p, slot *s)
{
    char err[512];
    int backoff = 0;
    hf_redis_status st;
    hf_redis_part *part = NULL;
    while ((st = hf_redis_acquire(p->redis, p->group, s->partition, &part, err,
                                  sizeof(err))) == HF_REDIS_UNAVAILABLE)
        if (unavailable_wait(p, &backoff, "acquire", err) != 0)
            break;
    if (st != HF_REDIS_OK) {
        hf_live_fail(p, "cannot acquire partition %" PRId32 " in Redis: %s", s->partition, err);
        return -1;
    }
    if (s->rb == NULL)
        s->rb = hf_redis_batch_new();
    if (s->rb == NULL || hf_stream_init(&s->st, p->eng, hf_live_emit_outbox, &p->w0) != 0) {
        hf_redis_part_destroy(part);
        hf_live_fail(p, "out of memory assigning partition %" PRId32, s->partition);
        return -1;
    }
    size_t loaded = 0;
    while ((st = hf_redis_load(p->redis, part, p->eng, s->st.store, &loaded, err,
                               sizeof(err))) == HF_REDIS_UNAVAILABLE) {
        hf_stream_destroy(&s->st); /* a partial load: start again */
        if (unavailable_wait(p, &backoff, "load", err) != 0 ||
            hf_stream_init(&s->st, p->eng, hf_live_emit_outbox, &p->w0) != 0)
            break;
    }
    available_again(p, backoff);
    if (st != HF_REDIS_OK || s->st.store == NULL) {
        hf_redis_part_destroy(part);
        hf_stream_destroy(&s->st);
        hf_live_fail(p, "cannot load partition %" PRId32 " from Redis: %s", s->partition,
                     st != HF_REDIS_OK ? err : "stopped");
        return -1;
    }
    s->st.clock = part->clock;
    hf_live_slot_reset(s, part, 0);
    hf_log_info("pipeline", "partition %" PRId32 ": acquired (epoch %" PRIu64 "), %zu "
                "customers loaded from Redis (%" PRIu32 " bucket hashes), outbox sequence %"
                PRIu64, s->partition, part->epoch, loaded, hf_redis_part_nbuckets(part),
                part->outbox_seq);
    return 0;
}

/* @locality loop thread (hf_redis_outbox_read callback) */
static int outbox_collect(void *opaque, uint64_t seq, const char *key, size_t key_len,
                          const char *value, size_t value_len)
{
    (void)seq;
    return hf_live_out_append(opaque, key, key_len, value, value_len);
}

/*
 * Fills s->out with the outbox entries that no committed offsets carried
 * yet (sequence > s->kafka_seq), after dropping the others; the trim is
 * fenced, so a partition taken by another instance is dropped here.
 * Returns 0, or -1 (dropped or failed).
 * @locality loop thread
 */
int hf_live_outbox_refill(hf_pipeline *p, slot *s)
{
    char err[512];
    int backoff = 0;
    hf_redis_status st;
    hf_buf_reset(&s->out);
    if (s->kafka_seq > s->part->outbox_seq) {
        hf_log_warn("pipeline", "partition %" PRId32 ": Kafka's committed offsets carried "
                    "outbox sequence %" PRIu64 " but Redis is at %" PRIu64
                    ": Redis lost writes (enable AOF with appendfsync always)",
                    s->partition, s->kafka_seq, s->part->outbox_seq);
    }
    while ((st = hf_redis_outbox_trim(p->redis, s->part, s->kafka_seq, NULL, err,
                                      sizeof(err))) == HF_REDIS_UNAVAILABLE)
        if (unavailable_wait(p, &backoff, "outbox trim", err) != 0)
            break;
    if (st == HF_REDIS_OK) {
        s->trimmed_seq = s->kafka_seq;
        s->trimmed_at = hf_clock_mono_ms();
    }
    if (st == HF_REDIS_OK)
        while ((st = hf_redis_outbox_read(p->redis, s->part, s->kafka_seq, outbox_collect,
                                          s, err, sizeof(err))) == HF_REDIS_UNAVAILABLE) {
            hf_buf_reset(&s->out);
            if (unavailable_wait(p, &backoff, "outbox read", err) != 0)
                break;
        }
    available_again(p, backoff);
    if (st == HF_REDIS_FENCED) {
        hf_live_drop_slot(p, s, "fenced in Redis (another instance took it)");
        return -1;
    }
    if (st != HF_REDIS_OK) {
        hf_live_fail(p, "partition %" PRId32 ": outbox: %s", s->partition, err);
        return -1;
    }
    return 0;
}

/* The slot's input offsets (applied + 1) with metadata, added to list. @locality loop thread */
void hf_live_add_offsets(hf_pipeline *p, const slot *s, rd_kafka_topic_partition_list_t *list)
{
    char md[64];
    size_t mdlen = hf_eos_metadata_format(md, sizeof(md), s->part->outbox_seq);
    for (size_t t = 0; t < p->ntopics; t++) {
        if (s->partition >= p->tps_cap[t] || !p->tps[t][s->partition].assigned)
            continue;
        int64_t applied = hf_redis_part_applied(s->part, p->cfg->input_topics[t]);
        if (applied < 0)
            continue;
        rd_kafka_topic_partition_t *e =
            rd_kafka_topic_partition_list_add(list, p->cfg->input_topics[t], s->partition);
        e->offset = applied + 1;
        e->metadata = malloc(mdlen);
        if (e->metadata != NULL) {
            memcpy(e->metadata, md, mdlen);
            e->metadata_size = mdlen;
        }
    }
}

/* Moves the consumer of every assigned input topic of s to applied + 1.
 * @locality loop thread */
static void seek_applied(hf_pipeline *p, slot *s)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
    for (size_t t = 0; t < p->ntopics; t++) {
        if (s->partition >= p->tps_cap[t] || !p->tps[t][s->partition].assigned)
            continue;
        int64_t applied = hf_redis_part_applied(s->part, p->cfg->input_topics[t]);
        p->tps[t][s->partition].done = applied + 1;
        rd_kafka_topic_partition_list_add(list, p->cfg->input_topics[t], s->partition)
            ->offset = applied >= 0 ? applied + 1 : RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_error_t *error = rd_kafka_seek_partitions(p->consumer, list, METADATA_TIMEOUT_MS);
    if (error != NULL) {
        hf_live_fail(p, "cannot seek partition %" PRId32 ": %s", s->partition,
                     rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/*
 * Fills s->rb with the open batch of stream s: its changed customers,
 * offsets and clock (its outbox entries are there already). Returns 1 when
 * there is something to commit, 0 when not, -1 when failed (OOM).
 * @locality loop thread or helper thread
 */
int hf_live_prepare_stream(hf_pipeline *p, slot *s)
{
    if (s->part == NULL || s->dropped)
        return 0;
    int touched = 0;
    for (size_t t = 0; t < p->ntopics; t++) {
        if (s->partition >= p->tps_cap[t])
            continue;
        tpstate *tp = &p->tps[t][s->partition];
        if (tp->touched) {
            touched = 1;
            tp->touched = 0;
            if (hf_redis_batch_offset(s->rb, p->cfg->input_topics[t], tp->done - 1) != 0)
                goto oom;
        }
    }
    if (!touched)
        return 0;
    for (size_t i = 0; i < s->ndirty; i++) {
        /* The batch's customers left the cache since they changed. */
        if (i + 8 < s->ndirty)
            hf_customer_prefetch(s->dirty[i + 8]);
        if (i + 4 < s->ndirty)
            hf_customer_prefetch_arrays(s->dirty[i + 4]);
        s->dirty[i]->flags &= ~HF_CUST_DIRTY;
        if (hf_redis_batch_customer(s->rb, p->redis, s->part, s->dirty[i]) != 0)
            goto oom;
    }
    s->ndirty = 0;
    if (hf_redis_batch_grow(s->rb, p->redis, s->part, s->st.store) < 0)
        goto oom;
    hf_redis_batch_clock(s->rb, s->st.clock);
    /* In the thread that computed it: the loop only sends it. */
    char err[256];
    if (hf_redis_commit_format(s->part, s->rb, err, sizeof(err)) != HF_REDIS_OK)
        goto oom;
    return 1;
oom:
    hf_live_fail(p, "out of memory committing partition %" PRId32, s->partition);
    return -1;
}

/* hirefire_redis_call_seconds of a call that started at t0 (monotonic s).
 * @locality loop thread */
static void observe_redis_call(hf_pipeline *p, double t0)
{
    hf_metric_observe(p->m.redis_call, hf_clock_mono_s() - t0);
}

/* What follows the commit of stream s's batch to Redis, by its outcome.
 * @locality loop thread */
static void committed_stream(hf_pipeline *p, slot *s, hf_redis_status st, const char *err)
{
    switch (st) {
    case HF_REDIS_OK:
        s->in_cycle = 1;
        return;
    case HF_REDIS_FENCED:
        hf_live_drop_slot(p, s, "fenced in Redis (another instance took it)");
        return;
    case HF_REDIS_CONFLICT: {
        hf_log_warn("pipeline", "partition %" PRId32 ": %s: acquiring and loading it again",
                    s->partition, err);
        hf_stream_stats_add(&p->retired, &s->st.stats, p->eng->n);
        hf_stream_destroy(&s->st);
        hf_redis_part_destroy(s->part);
        s->part = NULL;
        if (open_slot(p, s) != 0)
            return;
        slot *one[1] = {s};
        if (hf_live_recover(p, one, 1) != PUB_FAILED && s->part != NULL)
            seek_applied(p, s);
        return;
    }
    case HF_REDIS_UNAVAILABLE:
        hf_live_fail(p, "partition %" PRId32 ": stopped while Redis was unavailable: %s; "
                "nothing committed", s->partition, err);
        return;
    default:
        hf_live_fail(p, "partition %" PRId32 ": Redis commit failed: %s", s->partition, err);
        return;
    }
}

/*
 * Commits the prepared batch of stream s to Redis and waits for it, waiting
 * out an outage (the batch is committed as it is, however often retried).
 * @locality loop thread
 */
static void commit_stream_sync(hf_pipeline *p, slot *s)
{
    char err[512];
    int backoff = 0;
    hf_redis_status st;
    for (;;) {
        double t0 = hf_clock_mono_s();
        st = hf_redis_commit(p->redis, s->part, s->rb, err, sizeof(err));
        observe_redis_call(p, t0);
        if (st != HF_REDIS_UNAVAILABLE || unavailable_wait(p, &backoff, "commit", err) != 0)
            break;
    }
    available_again(p, backoff);
    committed_stream(p, s, st, err);
}

/* @locality loop thread */
static int any_pending(const hf_pipeline *p)
{
    for (int32_t i = 0; i < p->nslots; i++)
        if (p->slots[i].pending && p->slots[i].part != NULL)
            return 1;
    return 0;
}

/* Sends stream s's prepared commit, or queues it for a synchronous one.
 * @locality loop thread */
static void send_stream(hf_pipeline *p, slot *s, size_t *nsent, size_t *nsync)
{
    char err[512];
    if (*nsync == 0 &&
        hf_redis_commit_send(p->redis, s->part, s->rb, err, sizeof(err)) == HF_REDIS_OK) {
        s->sent_at = hf_clock_mono_s();
        p->sent[(*nsent)++] = s;
    } else {
        p->sync[(*nsync)++] = s; /* and the rest of the batch with it */
    }
}

/* Sends on the streams the helper thread has computed since the last call.
 * @locality loop thread */
static void send_computed(hf_pipeline *p, size_t *nsent, size_t *nsync)
{
    size_t n = atomic_load_explicit(&p->ncomputed, memory_order_acquire);
    for (; p->ncollected < n && !p->failed; p->ncollected++) {
        slot *s = p->computed[p->ncollected];
        if (s != NULL && s->refs > 0 && s->part != NULL && !s->dropped && s->prepared == 1)
            send_stream(p, s, nsent, nsync);
    }
}

/*
 * The batch with Redis: per stream, apply its messages and commit them to
 * Redis in one transaction; then publish what those commits put in the
 * outboxes (one Kafka transaction for all streams) and trim them.
 * @locality loop thread
 */
static void process_batch_redis(hf_pipeline *p)
{
    /*
     * As with the memory store, the helper thread computes the streams of
     * the batch's first part (hf_live_split) while the loop computes the
     * rest. Each of the loop's streams goes to Redis as soon as it is
     * computed, and Redis runs it while the next is computed; the helper's
     * go as the loop finds them done, after each of its own (the one Redis
     * connection is the loop's), so that few are left for Redis to run
     * once both threads are done. Each thread then destroys the messages
     * it computed (nothing below reads them), the loop while Redis runs the
     * last commits. The replies are read in the end.
     * A batch that could not be sent, or whose reply was lost, is committed
     * again synchronously afterwards.
     */
    size_t nsent = 0, nsync = 0;
    size_t split = hf_live_split(p);
    p->w1.end = split;
    atomic_store_explicit(&p->ncomputed, 0, memory_order_relaxed);
    p->ncollected = 0;
    if (split > 0)
        hf_live_helper_start(p, split, hf_live_compute_items);
    for (size_t i = split; i < p->nwork && !p->failed;) {
        slot *s;
        i = hf_live_compute_stream(&p->w0, i, p->nwork, &s);
        if (s != NULL && !p->failed && s->prepared == 1)
            send_stream(p, s, &nsent, &nsync);
        send_computed(p, &nsent, &nsync);
    }
    if (split > 0) {
        hf_live_helper_join(p);
        send_computed(p, &nsent, &nsync);
    }
    for (size_t i = split; i < p->nwork; i++) {
        rd_kafka_message_destroy(p->work[i].m);
        p->work[i].m = NULL;
    }
    /* Every reply first: the outcomes below may make other Redis calls. */
    for (size_t i = 0; i < nsent; i++) {
        slot *s = p->sent[i];
        s->commit_st = hf_redis_commit_wait(p->redis, s->part, s->rb, s->commit_err,
                                            sizeof(s->commit_err));
        observe_redis_call(p, s->sent_at);
    }
    for (size_t i = 0; i < nsent && !p->failed; i++) {
        slot *s = p->sent[i];
        if (s->commit_st == HF_REDIS_UNAVAILABLE)
            p->sync[nsync++] = s;
        else if (s->part != NULL && !s->dropped)
            committed_stream(p, s, s->commit_st, s->commit_err);
    }
    for (size_t i = 0; i < nsync && !p->failed; i++)
        if (p->sync[i]->part != NULL && !p->sync[i]->dropped)
            commit_stream_sync(p, p->sync[i]);
    if (!p->failed)
        hf_live_publish_cycle(p);
}

/*
 * Assignment with Redis state: per new stream, acquire it (a new epoch) and
 * load its customers; republish what its outbox holds beyond the committed
 * offsets' metadata (one transaction with the offsets); start each
 * topic-partition at the offset after the last one applied in Redis.
 * @locality loop thread
 */
static void assign(hf_pipeline *p, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    /*
     * The committed offsets are read as stable (KIP-447): while a previous
     * owner's transaction with offsets for them is open (a zombie, a crash),
     * the broker answers "unstable" until it ends or times out
     * (transaction.timeout.ms): keep waiting.
     */
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t err;
    int64_t waited_since = hf_clock_mono_ms();
    while ((err = rd_kafka_committed(rk, committed, METADATA_TIMEOUT_MS)) ==
               RD_KAFKA_RESP_ERR__TIMED_OUT &&
           hf_clock_mono_ms() - waited_since < COMMITTED_WAIT_MS && !stopping(p))
        hf_log_warn("pipeline", "the committed offsets of the assigned partitions are not "
                    "stable yet (a previous owner's transaction is open): waiting");
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        hf_live_fail(p, "cannot read the committed offsets of the assigned partitions: %s",
                     rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(committed);
        return;
    }
    slot **fresh = calloc((size_t)parts->cnt + 1, sizeof(*fresh));
    size_t nfresh = 0;
    /* Grow the slot table first: the pointers in fresh must stay valid. */
    int32_t maxpart = -1;
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].partition > maxpart)
            maxpart = parts->elems[i].partition;
    if (fresh == NULL || (maxpart >= 0 && hf_live_slot_get(p, maxpart) == NULL)) {
        free(fresh);
        hf_live_fail(p, "out of memory");
        rd_kafka_topic_partition_list_destroy(committed);
        return;
    }
    for (int i = 0; i < parts->cnt && !p->failed; i++) {
        rd_kafka_topic_partition_t *e = &parts->elems[i];
        int t = hf_live_topic_index(p, e->topic);
        tpstate *tp = t >= 0 ? hf_live_tp_get(p, t, e->partition) : NULL;
        slot *s = tp ? hf_live_slot_get(p, e->partition) : NULL;
        if (s == NULL) {
            hf_live_fail(p, "out of memory assigning %s [%" PRId32 "]", e->topic, e->partition);
            break;
        }
        uint64_t seq = 0;
        const rd_kafka_topic_partition_t *c = &committed->elems[i];
        int has_seq = c->err == RD_KAFKA_RESP_ERR_NO_ERROR && c->offset >= 0 &&
                      hf_eos_metadata_parse(c->metadata, c->metadata_size, &seq) == 0;
        if (s->refs == 0) {
            s->partition = e->partition;
            s->kafka_seq = 0;
            s->trimmed_seq = 0;
            s->trimmed_at = 0;
            s->max_event_time = INT64_MIN;
            if (s->time_lag == NULL)
                s->time_lag = hf_metrics_event_time_lag(p->opts.metrics, e->partition);
            if (open_slot(p, s) != 0)
                break;
            fresh[nfresh++] = s;
        }
        if (has_seq && seq > s->kafka_seq)
            s->kafka_seq = seq;
        s->refs++;
        if (!tp->assigned)
            atomic_fetch_add(&p->assigned, 1);
        *tp = (tpstate){.assigned = 1, .restore_until = -1, .done = -1, .committed = -1,
                        .requested = -1};
    }
    rd_kafka_topic_partition_list_destroy(committed);
    if (!p->failed && nfresh > 0)
        hf_live_recover(p, fresh, nfresh);
    free(fresh);
    for (int i = 0; i < parts->cnt && !p->failed; i++) {
        rd_kafka_topic_partition_t *e = &parts->elems[i];
        int t = hf_live_topic_index(p, e->topic);
        slot *s = &p->slots[e->partition];
        tpstate *tp = &p->tps[t][e->partition];
        int64_t applied = s->part != NULL ? hf_redis_part_applied(s->part, e->topic) : -1;
        tp->done = applied + 1;
        e->offset = applied >= 0 ? applied + 1 : RD_KAFKA_OFFSET_BEGINNING;
        if (applied >= 0)
            hf_log_info("pipeline", "assigned %s [%" PRId32 "], resuming after offset %"
                        PRId64 " (applied in Redis)", e->topic, e->partition, applied);
        else
            hf_log_info("pipeline", "assigned %s [%" PRId32 "], from the beginning",
                        e->topic, e->partition);
    }
}

/* Before parts are revoked: a lost assignment's partitions are marked (never
 * applied or committed again); the open batch, its publication. No offsets
 * are committed here: the publications carry them.
 * @locality librdkafka callback (consumer poll, loop thread) */
static void revoke(hf_pipeline *p, const rd_kafka_topic_partition_list_t *parts, int lost)
{
    if (lost)
        for (int i = 0; i < parts->cnt; i++) {
            int t = hf_live_topic_index(p, parts->elems[i].topic);
            if (t >= 0 && parts->elems[i].partition < p->tps_cap[t])
                p->tps[t][parts->elems[i].partition].lost = 1;
        }
    hf_live_process_batch(p);
    hf_live_publisher_wait(p);
    if (lost)
        hf_log_warn("pipeline", "assignment lost: not committing the revoked partitions");
}

/* The grouped batch, complete on return: computed, committed to Redis, its
 * publication handed over. @locality loop thread */
static void process_batch(hf_pipeline *p)
{
    process_batch_redis(p);
    p->progress_at = hf_clock_mono_ms();
    hf_live_batch_finish(p);
}

/* After each poll: the republish of pending outboxes, when due.
 * @locality loop thread */
static void tick(hf_pipeline *p, int64_t now)
{
    if (now >= p->pending_at && any_pending(p))
        hf_live_publish_cycle(p);
}

/* The end of the run: the publication under way. @locality loop thread */
static void finish(hf_pipeline *p)
{
    hf_live_publisher_wait(p);
}

/*
 * A delivery report. With exactly_once the transaction's outcome decides
 * (a failed delivery aborts it); else a failed delivery fails the pipeline.
 * @locality librdkafka callback (producer poll or flush: any thread)
 */
static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    hf_pipeline *p = opaque;
    (void)rk;
    if (m->err && p->eos)
        hf_log_debug("pipeline", "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt),
                     rd_kafka_err2str(m->err));
    else if (m->err)
        hf_live_fail(p, "delivery to %s failed: %s; offsets not committed",
                     rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
}

const commit_ops hf_live_commit_redis = {
    .assign = assign,
    .revoke = revoke,
    .process_batch = process_batch,
    .tick = tick,
    .finish = finish,
    .delivered = delivered,
    .emit = hf_live_emit_outbox,
    .outbox = 1,
};
