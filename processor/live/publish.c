/*
 * publish.c - publishing with store.backend=redis: the outbox entries of
 * the streams committed to Redis and their input offsets go to Kafka (one
 * transaction, or a flush and an offset commit), in the publisher thread or
 * in the loop's; an aborted publication is republished from Redis.
 */
#include "live/pipeline_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/eos.h"
#include "util/clock.h"
#include "util/log.h"

/*
 * A publication: the outbox entries of streams committed to Redis and their
 * input offsets with metadata, published as one Kafka transaction
 * (exactly_once), or produced, flushed and their offsets committed
 * (at_least_once). It owns copies of what it publishes, so the loop may go
 * on with the streams while the publisher thread runs it.
 */
typedef struct pub_stream {
    int32_t partition;
    uint64_t seq; /* the outbox sequence its offsets' metadata carries */
} pub_stream;

struct publication {
    hf_buf out; /* entries: u32 key length, key, u32 envelope length, envelope */
    rd_kafka_topic_partition_list_t *offsets;
    rd_kafka_consumer_group_metadata_t *gm; /* exactly_once */
    pub_stream *streams;
    size_t nstreams, streams_cap;
    /* the outcome */
    pub_result rc; /* PUBLISHED, PUB_ABORTED, PUB_PRODUCER_DEAD or PUB_FAILED */
    size_t produced;
    double took;
    char err[512];
};

/* @locality loop thread */
static void publication_clear(publication *pb)
{
    hf_buf_reset(&pb->out);
    if (pb->offsets != NULL)
        rd_kafka_topic_partition_list_destroy(pb->offsets);
    pb->offsets = NULL;
    if (pb->gm != NULL)
        rd_kafka_consumer_group_metadata_destroy(pb->gm);
    pb->gm = NULL;
    pb->nstreams = 0;
}

/* An empty publication, or NULL (OOM). @locality loop thread (set-up) */
publication *hf_live_publication_new(void)
{
    return calloc(1, sizeof(publication));
}

/* @locality loop thread (destroy) */
void hf_live_publication_free(publication *pb)
{
    publication_clear(pb);
    hf_buf_free(&pb->out);
    free(pb->streams);
}

/* Takes the entries and offsets of streams v into pb. 0, or -1 (OOM). @locality loop thread */
static int publication_build(hf_pipeline *p, publication *pb, slot **v, size_t n)
{
    publication_clear(pb);
    pb->offsets = rd_kafka_topic_partition_list_new((int)n + 1);
    if (p->eos)
        pb->gm = rd_kafka_consumer_group_metadata(p->consumer);
    if (n > pb->streams_cap) {
        pub_stream *ps = realloc(pb->streams, n * sizeof(*ps));
        if (ps == NULL)
            return -1;
        pb->streams = ps;
        pb->streams_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        if (hf_buf_append(&pb->out, v[i]->out.data, v[i]->out.len) != 0)
            return -1;
        hf_live_add_offsets(p, v[i], pb->offsets);
        pb->streams[pb->nstreams++] = (pub_stream){v[i]->partition, v[i]->part->outbox_seq};
    }
    return 0;
}

/* Runs the Kafka side of pb and records its outcome.
 * @locality publisher thread or loop thread */
static void publication_run(hf_pipeline *p, publication *pb)
{
    double started = hf_clock_mono_s();
    pb->rc = PUBLISHED;
    pb->produced = 0;
    pb->err[0] = '\0';
    if (p->eos) {
        rd_kafka_error_t *error = rd_kafka_begin_transaction(p->producer);
        if (error != NULL) {
            snprintf(pb->err, sizeof(pb->err), "cannot begin a Kafka transaction: %s",
                     rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            pb->rc = PUB_FAILED;
            goto done;
        }
    }
    const unsigned char *q = (const unsigned char *)pb->out.data, *end = q + pb->out.len;
    while (q < end) {
        uint32_t klen, elen;
        memcpy(&klen, q, 4);
        const unsigned char *key = q + 4;
        memcpy(&elen, key + klen, 4);
        const unsigned char *env = key + klen + 4;
        q = env + elen;
        if (hf_eos_produce(p->producer, key, klen, env, elen, QUEUE_FULL_WAIT_MS, pb->err,
                           sizeof(pb->err)) != 0) {
            if (p->eos) {
                char why[512];
                hf_eos_txn_abort(p->producer, TXN_CALL_MS, why, sizeof(why));
            }
            pb->rc = PUB_FAILED;
            goto done;
        }
        pb->produced++;
    }
    if (p->eos) {
        hf_eos_txn_status ts = hf_eos_txn_finish(p->producer, pb->gm, pb->offsets,
                                                 TXN_CALL_MS, TXN_RETRY_MS, pb->err,
                                                 sizeof(pb->err));
        pb->rc = ts == HF_EOS_TXN_OK        ? PUBLISHED
                : ts == HF_EOS_TXN_ABORTED ? PUB_ABORTED
                                           : PUB_PRODUCER_DEAD;
        goto done;
    }
    /* Delivery is retried by the producer (a broker restart): wait. */
    rd_kafka_resp_err_t ferr;
    int64_t since = hf_clock_mono_ms();
    while ((ferr = rd_kafka_flush(p->producer, TXN_CALL_MS)) != RD_KAFKA_RESP_ERR_NO_ERROR &&
           !p->failed && hf_clock_mono_ms() - since < TXN_RETRY_MS)
        hf_log_warn("pipeline", "%d messages not delivered yet: waiting",
                    rd_kafka_outq_len(p->producer));
    if (p->failed || ferr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(pb->err, sizeof(pb->err), "%d messages not delivered; offsets not committed",
                 rd_kafka_outq_len(p->producer));
        pb->rc = PUB_FAILED;
        goto done;
    }
    if (pb->offsets->cnt > 0) {
        ferr = rd_kafka_commit(p->consumer, pb->offsets, 0);
        if (ferr != RD_KAFKA_RESP_ERR_NO_ERROR)
            hf_log_warn("pipeline", "offset commit failed: %s (the outbox says what "
                        "to skip: signals may repeat, never go missing)",
                        rd_kafka_err2str(ferr));
    }
done:
    pb->took = hf_clock_mono_s() - started;
}

/*
 * What follows a publication, in the loop's thread: counts it, records how
 * far each partition's outbox is in Kafka, and trims the outboxes of the
 * streams still held now and then. Returns PUBLISHED; PUB_ABORTED when
 * it was aborted (the entries are still in Redis: the caller republishes
 * them, with a new producer if the old one could not go on); PUB_FAILED.
 * @locality loop thread
 */
static pub_result publication_done(hf_pipeline *p, publication *pb)
{
    if (p->eos && pb->rc == PUBLISHED)
        hf_metric_add(p->m.txn_committed, 1);
    else if (p->eos && pb->rc == PUB_ABORTED)
        hf_metric_add(p->m.txn_aborted, 1);
    if (pb->rc == PUB_ABORTED) {
        hf_log_warn("pipeline", "Kafka transaction aborted: %s", pb->err);
        return PUB_ABORTED;
    }
    if (pb->rc == PUB_PRODUCER_DEAD)
        return hf_live_producer_renew(p, pb->err) != 0 ? PUB_FAILED : PUB_ABORTED;
    if (pb->rc == PUB_FAILED) {
        hf_live_fail(p, "%s", pb->err);
        return PUB_FAILED;
    }
    hf_metric_observe(p->m.commit_latency, pb->took);
    p->c.commits++;
    for (size_t i = 0; i < pb->nstreams; i++) {
        const pub_stream *ps = &pb->streams[i];
        if (ps->partition >= p->nslots)
            continue;
        slot *s = &p->slots[ps->partition];
        /* Committed: Kafka has the partition's outbox up to seq, whatever
         * became of the stream since (a new owner would have fenced it). */
        if (ps->seq > s->kafka_seq)
            s->kafka_seq = ps->seq;
        if (s->part == NULL || s->dropped)
            continue;
        /*
         * Entries up to kafka_seq are in Kafka: trimming them is never
         * urgent (a recovery skips them), so it costs a round trip only
         * every TRIM_EVERY_ENTRIES entries or TRIM_EVERY_MS.
         */
        int64_t now = hf_clock_mono_ms();
        if (s->kafka_seq <= s->trimmed_seq ||
            (s->kafka_seq - s->trimmed_seq < TRIM_EVERY_ENTRIES &&
             now - s->trimmed_at < TRIM_EVERY_MS))
            continue;
        char err[512];
        hf_redis_status st = hf_redis_outbox_trim(p->redis, s->part, s->kafka_seq, NULL, err,
                                                  sizeof(err));
        if (st == HF_REDIS_OK) {
            s->trimmed_seq = s->kafka_seq;
            s->trimmed_at = now;
        } else if (st == HF_REDIS_FENCED) {
            hf_live_drop_slot(p, s, "fenced in Redis (another instance took it)");
        } else {
            hf_log_warn("pipeline", "partition %" PRId32 ": outbox trim: %s (trimmed later)",
                        s->partition, err);
        }
    }
    hf_log_debug("pipeline", "published %zu messages for %zu partitions in %.0f ms",
                 pb->produced, pb->nstreams, pb->took * 1000);
    return PUBLISHED;
}

/* The streams of v leave the cycle: what they had to publish is taken. @locality loop thread */
static void streams_taken(slot **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hf_buf_reset(&v[i]->out);
        v[i]->in_cycle = 0;
    }
}

/*
 * Publishes the outbox entries of the slots (s->out) with their input
 * offsets, and waits: first for the publisher thread's publication, if one
 * is under way. Returns PUBLISHED, PUB_ABORTED (the entries are still in
 * Redis) or PUB_FAILED. @locality loop thread
 */
static pub_result publish(hf_pipeline *p, slot **v, size_t n)
{
    if (hf_live_publisher_wait(p) == PUB_FAILED)
        return PUB_FAILED;
    publication *pb = p->pub_sync;
    if (publication_build(p, pb, v, n) != 0) {
        hf_live_fail(p, "out of memory publishing");
        return PUB_FAILED;
    }
    streams_taken(v, n);
    publication_run(p, pb);
    pub_result rc = publication_done(p, pb);
    publication_clear(pb);
    return rc;
}

/* The publisher thread: runs each publication handed to it.
 * @locality publisher thread */
static void *publisher_main(void *arg)
{
    hf_pipeline *p = arg;
    pthread_mutex_lock(&p->pub_mu);
    for (;;) {
        while (p->pub_state != PUB_SUBMITTED && !p->pub_quit)
            pthread_cond_wait(&p->pub_cv, &p->pub_mu);
        if (p->pub_state != PUB_SUBMITTED)
            break;
        pthread_mutex_unlock(&p->pub_mu);
        publication_run(p, p->pub_async);
        pthread_mutex_lock(&p->pub_mu);
        p->pub_state = PUB_DONE;
        pthread_cond_broadcast(&p->pub_cv);
    }
    pthread_mutex_unlock(&p->pub_mu);
    return NULL;
}

/*
 * Waits for the publication under way, if any, and does what follows it;
 * an aborted one is republished from the outboxes in Redis (with what was
 * committed there since). Returns PUBLISHED, or PUB_FAILED.
 * @locality loop thread
 */
pub_result hf_live_publisher_wait(hf_pipeline *p)
{
    if (!p->pub_started)
        return p->failed ? PUB_FAILED : PUBLISHED;
    pthread_mutex_lock(&p->pub_mu);
    while (p->pub_state == PUB_SUBMITTED)
        pthread_cond_wait(&p->pub_cv, &p->pub_mu);
    int done = p->pub_state == PUB_DONE;
    p->pub_state = PUB_IDLE;
    pthread_mutex_unlock(&p->pub_mu);
    if (!done)
        return p->failed ? PUB_FAILED : PUBLISHED;
    publication *pb = p->pub_async;
    pub_result rc = publication_done(p, pb);
    if (rc == PUB_ABORTED) {
        /* Its streams, as far as this instance still holds them. */
        slot **v = malloc((pb->nstreams ? pb->nstreams : 1) * sizeof(*v));
        size_t n = 0;
        if (v == NULL) {
            hf_live_fail(p, "out of memory");
            rc = PUB_FAILED;
        } else {
            for (size_t i = 0; i < pb->nstreams; i++) {
                int32_t part = pb->streams[i].partition;
                if (part < p->nslots && p->slots[part].part != NULL && !p->slots[part].dropped)
                    v[n++] = &p->slots[part];
            }
            rc = n > 0 && hf_live_recover(p, v, n) == PUB_FAILED ? PUB_FAILED : PUBLISHED;
            free(v);
        }
    }
    publication_clear(pb);
    return rc == PUB_FAILED ? PUB_FAILED : PUBLISHED;
}

/*
 * Hands the publication of streams v to the publisher thread (after the
 * one under way) and returns without waiting for it. PUBLISHED (handed
 * over), or PUB_FAILED. @locality loop thread
 */
static pub_result publish_async(hf_pipeline *p, slot **v, size_t n)
{
    if (hf_live_publisher_wait(p) == PUB_FAILED)
        return PUB_FAILED;
    /* The wait may have republished (and so taken) some of them. */
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i]->in_cycle && v[i]->part != NULL && !v[i]->dropped)
            v[live++] = v[i];
    if (live == 0)
        return PUBLISHED;
    if (!p->pub_started) {
        if (pthread_create(&p->pub_thread, NULL, publisher_main, p) != 0)
            return publish(p, v, live) == PUB_FAILED ? PUB_FAILED : PUBLISHED;
        p->pub_started = 1;
    }
    if (publication_build(p, p->pub_async, v, live) != 0) {
        hf_live_fail(p, "out of memory publishing");
        return PUB_FAILED;
    }
    streams_taken(v, live);
    pthread_mutex_lock(&p->pub_mu);
    p->pub_state = PUB_SUBMITTED;
    pthread_cond_broadcast(&p->pub_cv);
    pthread_mutex_unlock(&p->pub_mu);
    return PUBLISHED;
}

/*
 * Republishes what the outboxes of the slots hold beyond their committed
 * offsets' metadata, with their offsets (assignment, and after an aborted
 * transaction). Returns PUBLISHED; PUB_ABORTED when the transactions kept
 * being aborted (e.g. the group's generation moved on: a rebalance that the
 * next poll serves), then the slots are marked pending and the loop tries
 * again after polling; PUB_FAILED. @locality loop thread
 */
pub_result hf_live_recover(hf_pipeline *p, slot **v, size_t n)
{
    int backoff = BACKOFF_FIRST_MS;
    /* What the publisher thread has under way comes first: it may have
     * carried part of these outboxes already. */
    if (hf_live_publisher_wait(p) == PUB_FAILED)
        return PUB_FAILED;
    for (int attempt = 1; attempt <= RECOVERY_ATTEMPTS; attempt++) {
        size_t live = 0, entries = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i]->part == NULL || hf_live_outbox_refill(p, v[i]) != 0) {
                if (p->failed)
                    return PUB_FAILED;
                continue;
            }
            v[live++] = v[i];
        }
        n = live;
        if (n == 0)
            return PUBLISHED;
        for (size_t i = 0; i < n; i++) {
            const unsigned char *q = (const unsigned char *)v[i]->out.data;
            const unsigned char *end = q + v[i]->out.len;
            while (q < end) {
                uint32_t klen, elen;
                memcpy(&klen, q, 4);
                memcpy(&elen, q + 4 + klen, 4);
                q += 8 + klen + elen;
                entries++;
            }
        }
        pub_result rc = publish(p, v, n);
        if (rc == PUBLISHED) {
            for (size_t i = 0; i < n; i++)
                v[i]->pending = 0;
            if (entries > 0)
                hf_log_info("pipeline", "republished %zu outbox entries of %zu partitions",
                            entries, n);
            return PUBLISHED;
        }
        if (rc == PUB_FAILED)
            return PUB_FAILED;
        if (stopping(p))
            break;
        sleep_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    for (size_t i = 0; i < n; i++) {
        v[i]->pending = 1;
        hf_buf_reset(&v[i]->out);
    }
    p->pending_at = hf_clock_mono_ms() + PENDING_RETRY_MS;
    hf_log_warn("pipeline", "the outbox of %zu partitions is republished after the next poll "
                "(%d transactions aborted)", n, RECOVERY_ATTEMPTS);
    return PUB_ABORTED;
}

/* Publishes the streams committed to Redis in this cycle, and pending ones.
 * @locality loop thread */
void hf_live_publish_cycle(hf_pipeline *p)
{
    slot **v = malloc((size_t)(p->nslots > 0 ? p->nslots : 1) * sizeof(*v));
    size_t n = 0;
    if (v == NULL) {
        hf_live_fail(p, "out of memory");
        return;
    }
    int pending = 0;
    for (int32_t i = 0; i < p->nslots; i++)
        if ((p->slots[i].in_cycle || p->slots[i].pending) && p->slots[i].part != NULL) {
            pending |= p->slots[i].pending;
            v[n++] = &p->slots[i];
        }
    /* With a pending slot, every outbox is read again from Redis. */
    if (n > 0 && !p->failed) {
        if (pending)
            hf_live_recover(p, v, n);
        else
            publish_async(p, v, n);
    }
    for (int32_t i = 0; i < p->nslots; i++)
        p->slots[i].in_cycle = 0;
    free(v);
}
