/*
 * pipeline.c - the live loop (pipeline.h): creating and destroying it, taking
 * consumer events into the open batch, the loop itself, when it is idle, and
 * the tables of topic-partitions and streams.
 */
#include "live/pipeline_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/registry.h"
#include "util/clock.h"
#include "util/log.h"

/* @locality any */
void hf_live_fail(hf_pipeline *p, const char *fmt, ...)
{
    pthread_mutex_lock(&p->fail_mu);
    if (p->failed) {
        pthread_mutex_unlock(&p->fail_mu);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof(p->error), fmt, ap);
    va_end(ap);
    p->failed = 1;
    hf_log_error("pipeline", "%s", p->error);
    pthread_mutex_unlock(&p->fail_mu);
}

/* @locality loop thread */
int hf_live_topic_index(const hf_pipeline *p, const char *topic)
{
    for (size_t i = 0; i < p->ntopics; i++)
        if (strcmp(p->cfg->input_topics[i], topic) == 0)
            return (int)i;
    return -1;
}

/* The state of topic-partition (t, part), growing the tables; NULL on OOM.
 * @locality loop thread */
tpstate *hf_live_tp_get(hf_pipeline *p, int t, int32_t part)
{
    if (part >= p->tps_cap[t]) {
        int32_t cap = part + 1;
        tpstate *n = realloc(p->tps[t], (size_t)cap * sizeof(*n));
        if (n == NULL)
            return NULL;
        for (int32_t i = p->tps_cap[t]; i < cap; i++)
            n[i] = (tpstate){.restore_until = -1, .done = -1, .committed = -1, .requested = -1};
        p->tps[t] = n;
        p->tps_cap[t] = cap;
    }
    return &p->tps[t][part];
}

/* @locality loop thread */
slot *hf_live_slot_get(hf_pipeline *p, int32_t part)
{
    if (part >= p->nslots) {
        size_t cnt = (size_t)part + 1;
        slot **sent = realloc(p->sent, cnt * sizeof(*sent));
        if (sent == NULL)
            return NULL;
        p->sent = sent;
        slot **sync = realloc(p->sync, cnt * sizeof(*sync));
        if (sync == NULL)
            return NULL;
        p->sync = sync;
        slot **computed = realloc(p->computed, cnt * sizeof(*computed));
        if (computed == NULL)
            return NULL;
        p->computed = computed;
        slot *n = realloc(p->slots, cnt * sizeof(*n));
        if (n == NULL)
            return NULL;
        memset(n + p->nslots, 0, (cnt - (size_t)p->nslots) * sizeof(*n));
        p->slots = n;
        p->nslots = part + 1;
    }
    return &p->slots[part];
}

/* @locality the caller's thread, which then runs the loop */
hf_pipeline *hf_pipeline_new(const hf_config *cfg, const hf_engine *eng,
                             const hf_pipeline_opts *opts, char *errstr,
                             size_t errstr_size)
{
    if (cfg->n_input_topics == 0) {
        snprintf(errstr, errstr_size, "input.topics is empty: name the topics to consume");
        return NULL;
    }
    if (hf_config_kafka_get(cfg, "bootstrap.servers") == NULL &&
        hf_config_kafka_get(cfg, "metadata.broker.list") == NULL) {
        snprintf(errstr, errstr_size,
                 "kafka.bootstrap.servers is not set (e.g. -X kafka.bootstrap.servers=127.0.0.1:9092)");
        return NULL;
    }
    hf_pipeline *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    p->eng = eng;
    if (opts != NULL)
        p->opts = *opts;
    /* The commit path, once: everything per batch goes through it. */
    p->ops = cfg->store_backend == HF_STORE_MEMORY ? &hf_live_commit_memory
                                                   : &hf_live_commit_redis;
    hf_live_ckring_init(&p->ck);
    p->idle_since = -1;
    atomic_init(&p->assigned, 0);
    atomic_init(&p->store_unavailable, 0);
    atomic_init(&p->failed, 0);
    pthread_mutex_init(&p->fail_mu, NULL);
    pthread_mutex_init(&p->pub_mu, NULL);
    pthread_cond_init(&p->pub_cv, NULL);
    p->pub_async = hf_live_publication_new();
    p->pub_sync = hf_live_publication_new();
    p->ntopics = cfg->n_input_topics;
    p->partition_cnt = calloc(p->ntopics, sizeof(*p->partition_cnt));
    p->tps = calloc(p->ntopics, sizeof(*p->tps));
    p->tps_cap = calloc(p->ntopics, sizeof(*p->tps_cap));
    p->cap = (size_t)cfg->batch_max_events;
    p->batch = calloc(p->cap, sizeof(*p->batch));
    p->work = calloc(p->cap, sizeof(*p->work));
    p->polled = calloc(p->cap, sizeof(*p->polled));
    if (!p->partition_cnt || !p->tps || !p->tps_cap || !p->batch || !p->work ||
        !p->polled || !p->pub_async || !p->pub_sync) {
        snprintf(errstr, errstr_size, "out of memory");
        goto error;
    }
    if (hf_live_metrics_init(p, errstr, errstr_size) != 0)
        goto error;
    if (hf_live_workers_init(p, errstr, errstr_size) != 0 ||
        hf_live_output_schema(p, errstr, errstr_size) != 0)
        goto error;

    if (hf_live_clients_open(p, errstr, errstr_size) != 0)
        goto error;
    return p;
error:
    hf_pipeline_destroy(p);
    return NULL;
}

/* Takes one consumer event; returns 1 when it was a message for the batch.
 * @locality loop thread */
static int take(hf_pipeline *p, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* The topic handle of the last message's topic names the same. */
        if (m->rkt != p->take_rkt) {
            p->take_rkt = m->rkt;
            p->take_topic = hf_live_topic_index(p, rd_kafka_topic_name(m->rkt));
        }
        int t = p->take_topic;
        if (t >= 0 && m->partition < p->tps_cap[t])
            p->tps[t][m->partition].eof = 0;
        p->batch[p->nbatch].m = m;
        p->batch[p->nbatch].hashed = 0;
        p->batch[p->nbatch].partition = m->partition;
        p->batch[p->nbatch].topic = t;
        p->nbatch++;
        p->c.messages++;
        return 1;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        int t = m->rkt ? hf_live_topic_index(p, rd_kafka_topic_name(m->rkt)) : -1;
        if (t >= 0 && m->partition < p->tps_cap[t])
            p->tps[t][m->partition].eof = 1;
    } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        /* e.g. a static member fenced after a coordinator restart: the
         * consumer is dead; a restart of hirefire recovers from Redis. */
        hf_live_fail(p, "the Kafka consumer cannot go on: %s; restart hirefire (what was "
                "processed is kept: in Redis, or re-read with the memory store)",
                     rd_kafka_message_errstr(m));
    } else if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
               m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
               m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
        hf_log_error("pipeline", "consumer: %s", rd_kafka_message_errstr(m));
    } else {
        hf_log_warn("pipeline", "consumer: %s", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
    return 0;
}

/*
 * True when something is assigned and every assigned partition is at its
 * end: its end-of-partition event came after its last message, or what was
 * processed reaches the high watermark of its last fetch. The second needs
 * no event: librdkafka 2.0 sends one only with a fetch at the end, and
 * while its consumer queue is past queued.max.messages.kbytes it fetches
 * nothing until its broker thread wakes (up to a second later). With
 * read_committed input whose last record is a transaction marker, the
 * processed offset stays below the watermark and the event decides.
 * @locality loop thread
 */
static int all_at_end(const hf_pipeline *p)
{
    int any = 0;
    for (size_t t = 0; t < p->ntopics; t++)
        for (int32_t i = 0; i < p->tps_cap[t]; i++) {
            const tpstate *tp = &p->tps[t][i];
            if (!tp->assigned)
                continue;
            if (!tp->eof) {
                int64_t lo, hi;
                if (tp->done < 0 ||
                    rd_kafka_get_watermark_offsets(p->consumer, p->cfg->input_topics[t], i,
                                                   &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                    hi < 0 || tp->done < hi)
                    return 0;
            }
            any = 1;
        }
    return any;
}

/*
 * Subscribes to the input topics, with a handle for each first: librdkafka
 * then has their partitions' leaders when the first assignment arrives.
 * Without them, a partition assigned at a logical offset (Redis: "from the
 * beginning") whose leader is not known yet waits librdkafka's 500 ms
 * offset-query retry before its first fetch. Returns 0, or -1 with errstr.
 * @locality loop thread
 */
static int subscribe(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *topics =
        rd_kafka_topic_partition_list_new((int)p->ntopics);
    for (size_t i = 0; i < p->ntopics; i++)
        rd_kafka_topic_partition_list_add(topics, p->cfg->input_topics[i],
                                          RD_KAFKA_PARTITION_UA);
    if (p->in_rkt == NULL) {
        p->in_rkt = calloc(p->ntopics, sizeof *p->in_rkt);
        if (p->in_rkt == NULL) {
            rd_kafka_topic_partition_list_destroy(topics);
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < p->ntopics; i++)
            p->in_rkt[i] = rd_kafka_topic_new(p->consumer, p->cfg->input_topics[i], NULL);
    }
    rd_kafka_resp_err_t err = rd_kafka_subscribe(p->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "cannot subscribe to input.topics: %s",
                 rd_kafka_err2str(err));
        return -1;
    }
    hf_log_info("pipeline", "consuming %zu topic(s) as group member, signals to %s",
                p->ntopics, p->cfg->output_topic);
    return 0;
}

/*
 * Polls the consumer (serving its callbacks) and fills the open batch.
 * A batch takes what is fetched already, and waits batch.linger.ms for
 * more: from its first message's arrival or, for a message that was
 * waiting, from the last batch's close (it arrived while that batch was
 * processed). It closes at batch.max.events, when nothing more is fetched
 * past the linger, or once it has taken messages for commit.interval.ms.
 * With the default linger 0, batches grow with the load and an event waits
 * for one batch at most. Returns when the batch opened. @locality loop thread
 */
static int64_t fill_batch(hf_pipeline *p, int64_t closed)
{
    int64_t polled_at = hf_clock_mono_ms();
    /* Idle: wake up when max_idle_ms is over, not a poll later. */
    int64_t poll_ms = POLL_MS;
    if (p->opts.max_idle_ms > 0 && p->idle_since >= 0) {
        int64_t left = p->idle_since + p->opts.max_idle_ms - polled_at;
        poll_ms = left < 0 ? 0 : left < poll_ms ? left : poll_ms;
    }
    rd_kafka_message_t *m = rd_kafka_consumer_poll(p->consumer, (int)poll_ms);
    if (m != NULL)
        take(p, m);
    int64_t first = hf_clock_mono_ms();
    int64_t opened = (m != NULL && first - polled_at <= 1) ? closed : first;
    while (p->nbatch > 0 && p->nbatch < p->cap && !stopping(p)) {
        int64_t now = hf_clock_mono_ms();
        int64_t open_left = p->cfg->commit_interval_ms - (now - first);
        if (open_left <= 0)
            break;
        int64_t left = p->cfg->batch_linger_ms - (now - opened);
        if (left > open_left)
            left = open_left;
        ssize_t n = rd_kafka_consume_batch_queue(p->consumer_q,
                                                 left <= 0 ? 0
                                                 : (int)(left < POLL_MS ? left : POLL_MS),
                                                 p->polled, p->cap - p->nbatch);
        for (ssize_t i = 0; i < n; i++)
            take(p, p->polled[i]);
        if (n <= 0 && left <= 0)
            break;
    }
    return opened;
}

/*
 * --max-idle-ms: 1 when every assigned partition has been at its end that
 * long. Idle since the batch that reached the end was done, or (when
 * something else did: an end-of-partition event, a rebalance) since now.
 * @locality loop thread
 */
static int idle_over(hf_pipeline *p, int64_t now)
{
    if (p->opts.max_idle_ms <= 0)
        return 0;
    if (!all_at_end(p)) {
        p->idle_since = -1;
        p->not_end_at = now;
    } else if (p->idle_since < 0) {
        p->idle_since = p->progress_at > p->not_end_at ? p->progress_at : now;
    }
    if (p->idle_since >= 0 && now - p->idle_since >= p->opts.max_idle_ms) {
        hf_log_info("pipeline", "every partition at its end for %" PRId64 " ms: stopping",
                    p->opts.max_idle_ms);
        return 1;
    }
    return 0;
}

/* @locality loop thread (the caller's) */
int hf_pipeline_run(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    if (subscribe(p, errstr, errstr_size) != 0)
        return -1;
    p->last_commit = hf_clock_mono_ms();
    int64_t closed = hf_clock_mono_ms();
    while (!stopping(p)) {
        int64_t opened = fill_batch(p, closed);
        rd_kafka_poll(p->producer, 0);
        closed = hf_clock_mono_ms();
        /* The last batch first: what follows reads its offsets and counts. */
        hf_live_batch_finish(p);
        hf_live_metrics_gauges(p, 0);
        int64_t now = hf_clock_mono_ms();
        p->ops->tick(p, now);
        if (idle_over(p, now))
            break;
        hf_live_process_batch_start(p, opened, closed);
    }
    if (!p->failed)
        hf_log_info("pipeline", "stopping: finishing the open batch");
    hf_live_process_batch(p);
    p->ops->finish(p);
    hf_live_metrics_gauges(p, 1);
    /* Closing revokes what is left (the rebalance callback commits again). */
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(p->consumer);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        hf_log_warn("pipeline", "closing the consumer: %s", rd_kafka_err2str(err));
    if (!p->failed && rd_kafka_flush(p->producer, (int)p->cfg->shutdown_timeout_ms) !=
                          RD_KAFKA_RESP_ERR_NO_ERROR)
        hf_live_fail(p, "%d messages not delivered within shutdown.timeout.ms",
                     rd_kafka_outq_len(p->producer));
    if (p->failed) {
        snprintf(errstr, errstr_size, "%s", p->error);
        return -1;
    }
    return 0;
}

/* @locality the caller's thread, after hf_pipeline_run */
void hf_pipeline_stats(const hf_pipeline *p, hf_stream_stats *stats,
                       hf_pipeline_counters *counters, uint64_t *customers)
{
    *stats = p->retired;
    *customers = p->retired_customers;
    for (int32_t i = 0; i < p->nslots; i++)
        if (p->slots[i].refs > 0 && p->slots[i].st.store != NULL) {
            hf_stream_stats_add(stats, &p->slots[i].st.stats, p->eng->n);
            *customers += hf_memstore_count(p->slots[i].st.store);
        }
    *counters = p->c;
}

/* @locality the caller's thread, after hf_pipeline_run */
void hf_pipeline_destroy(hf_pipeline *p)
{
    if (p == NULL)
        return;
    if (p->pub_started) { /* it finishes a publication under way first */
        pthread_mutex_lock(&p->pub_mu);
        p->pub_quit = 1;
        pthread_cond_broadcast(&p->pub_cv);
        pthread_mutex_unlock(&p->pub_mu);
        pthread_join(p->pub_thread, NULL);
    }
    for (int k = 0; k < 2; k++) {
        publication *pb = k ? p->pub_sync : p->pub_async;
        if (pb != NULL)
            hf_live_publication_free(pb);
        free(pb);
    }
    for (size_t i = 0; i < p->nbatch; i++)
        rd_kafka_message_destroy(p->batch[i].m);
    for (size_t i = 0; i < p->nwork; i++)
        if (p->work[i].m != NULL)
            rd_kafka_message_destroy(p->work[i].m);
    rd_kafka_topic_partition_list_t *offsets;
    while ((offsets = hf_live_ckring_pop(&p->ck)) != NULL)
        rd_kafka_topic_partition_list_destroy(offsets);
    if (p->consumer_q != NULL)
        rd_kafka_queue_destroy(p->consumer_q);
    for (size_t i = 0; p->in_rkt != NULL && i < p->ntopics; i++)
        if (p->in_rkt[i] != NULL)
            rd_kafka_topic_destroy(p->in_rkt[i]);
    free(p->in_rkt);
    if (p->consumer != NULL)
        rd_kafka_destroy(p->consumer);
    hf_live_producer_close(p);
    for (int32_t i = 0; i < p->nslots; i++) {
        slot *s = &p->slots[i];
        if (s->refs > 0)
            hf_stream_destroy(&s->st);
        hf_redis_part_destroy(s->part);
        hf_redis_batch_destroy(s->rb);
        free(s->dirty);
        hf_buf_free(&s->out);
    }
    free(p->slots);
    free(p->sent);
    free(p->computed);
    free(p->sync);
    hf_redis_close(p->redis);
    for (size_t t = 0; p->tps != NULL && t < p->ntopics; t++)
        free(p->tps[t]);
    free(p->tps);
    free(p->tps_cap);
    free(p->partition_cnt);
    free(p->batch);
    free(p->work);
    free(p->polled);
    free(p->starts);
    hf_live_workers_free(p);
    hf_schema_source_destroy(p->out_schemas);
    hf_live_metrics_free(&p->m);
    pthread_mutex_destroy(&p->fail_mu);
    pthread_mutex_destroy(&p->pub_mu);
    pthread_cond_destroy(&p->pub_cv);
    free(p);
}
