/*
 * batch.c - a batch of the live loop: grouping it by stream, prefetching,
 * splitting it between the loop and the helper thread, and applying each
 * message (decode, dead letter or apply, signals to the producer or to the
 * stream's outbox).
 */
#include "live/pipeline_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_avro.h"
#include "codec/codec_json.h"
#include "codec/framing.h"
#include "kafka/dead_letter.h"
#include "kafka/eos.h"
#include "kafka/input.h"
#include "kafka/partitioner.h"
#include "kafka/produce.h"
#include "util/clock.h"
#include "util/log.h"

/* @locality loop thread or helper thread */
static int encode_signal(worker *w, const hf_signal *s, const void **val, size_t *len)
{
    hf_buf_reset(&w->enc);
    if (w->p->cfg->output_format == HF_FORMAT_JSON) {
        if (hf_json_encode_signal(s, &w->enc) != 0)
            return -1;
        *val = w->enc.data;
        *len = w->enc.len;
        return 0;
    }
    if (hf_avro_encode_signal(s, &w->enc) != 0)
        return -1;
    hf_buf_reset(&w->frame);
    if (hf_framing_write(&w->frame, w->p->out_schema_id, w->enc.data, w->enc.len) != 0)
        return -1;
    *val = w->frame.data;
    *len = w->frame.len;
    return 0;
}

/* @locality loop thread or helper thread */
static int put_u32(hf_buf *b, size_t v)
{
    uint32_t x = (uint32_t)v;
    return hf_buf_append(b, &x, sizeof(x));
}

/* @locality loop thread or helper thread (outbox reads: loop thread) */
int hf_live_out_append(slot *s, const void *key, size_t key_len, const void *env,
                       size_t env_len)
{
    if (put_u32(&s->out, key_len) != 0 || hf_buf_append(&s->out, key, key_len) != 0 ||
        put_u32(&s->out, env_len) != 0 || hf_buf_append(&s->out, env, env_len) != 0)
        return -1;
    return 0;
}

/* Appends (key, w->env) to the slot's outbox entries and the Redis batch.
 * @locality loop thread or helper thread */
static int outbox_add(worker *w, slot *s, const void *key, size_t key_len)
{
    const void *k = key != NULL ? key : "";
    if (hf_redis_batch_signal(s->rb, k, key_len, w->env.data, w->env.len) != 0 ||
        put_u32(&s->out, key_len) != 0 || hf_buf_append(&s->out, k, key_len) != 0 ||
        put_u32(&s->out, w->env.len) != 0 ||
        hf_buf_append(&s->out, w->env.data, w->env.len) != 0)
        return -1;
    return 0;
}

/* Records that customer id changed in the open batch. 0, or -1 (OOM).
 * @locality loop thread or helper thread */
static int mark_dirty(slot *s, const char *id, size_t len)
{
    hf_customer *c = hf_memstore_get(s->st.store, id, len);
    if (c == NULL || (c->flags & HF_CUST_DIRTY))
        return 0;
    if (s->ndirty == s->dirty_cap) {
        size_t cap = s->dirty_cap ? 2 * s->dirty_cap : 256;
        hf_customer **n = realloc(s->dirty, cap * sizeof(*n));
        if (n == NULL)
            return -1;
        s->dirty = n;
        s->dirty_cap = cap;
    }
    c->flags |= HF_CUST_DIRTY;
    s->dirty[s->ndirty++] = c;
    return 0;
}

/*
 * store.backend=memory's signal callback: produces the signal now, in the
 * generation of the next checkpoint. @locality loop thread or helper thread
 */
void hf_live_emit_produce(void *opaque, const hf_signal *s)
{
    worker *w = opaque;
    hf_pipeline *p = w->p;
    const void *val;
    size_t len;
    if (w->suppress || p->failed)
        return;
    if (encode_signal(w, s, &val, &len) != 0) {
        hf_live_fail(p, "out of memory encoding a signal");
        return;
    }
    uint64_t gen = p->ck.gen;
    hf_produce_msg pm = {.rkt = p->out_rkt, .partition = RD_KAFKA_PARTITION_UA,
                         .key = s->customer_id, .key_len = s->customer_id_len,
                         .value = val, .value_len = len,
                         .opaque = (void *)(uintptr_t)gen};
    rd_kafka_resp_err_t err = hf_produce(p->producer, &pm, QUEUE_FULL_WAIT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        hf_live_fail(p, "cannot produce a signal to %s: %s", p->cfg->output_topic,
                     rd_kafka_err2str(err));
        return;
    }
    ckring_sent(&p->ck, gen);
    w->c->signals++;
    hf_metric_add(p->m.signals[s->behaviour][s->kind][s->cause], 1);
}

/*
 * store.backend=redis's signal callback: the signal goes to the outbox of
 * the stream being processed (w->cur), published once Redis has the batch.
 * @locality loop thread or helper thread
 */
void hf_live_emit_outbox(void *opaque, const hf_signal *s)
{
    worker *w = opaque;
    hf_pipeline *p = w->p;
    const void *val;
    size_t len;
    if (w->suppress || p->failed)
        return;
    if (encode_signal(w, s, &val, &len) != 0) {
        hf_live_fail(p, "out of memory encoding a signal");
        return;
    }
    hf_buf_reset(&w->env);
    if (hf_eos_envelope_encode(&w->env, p->cfg->output_topic, 0, val, len, NULL) != 0 ||
        outbox_add(w, w->cur, s->customer_id, s->customer_id_len) != 0 ||
        mark_dirty(w->cur, s->customer_id, s->customer_id_len) != 0) {
        hf_live_fail(p, "out of memory adding a signal to the outbox");
        return;
    }
    w->c->signals++;
    hf_metric_add(p->m.signals[s->behaviour][s->kind][s->cause], 1);
}

/* @locality loop thread or helper thread */
static void check_partition(worker *w, int t, const rd_kafka_message_t *m,
                            const hf_event *e)
{
    hf_pipeline *p = w->p;
    int32_t want = hf_partitioner_partition(e->customer_id, e->customer_id_len,
                                            p->partition_cnt[t]);
    if (want == m->partition)
        return;
    w->c->wrong_partition++;
    int64_t now = hf_clock_mono_ms();
    if (w->wrong_logged_at != 0 && now - w->wrong_logged_at < WRONG_PARTITION_LOG_MS) {
        w->wrong_unlogged++;
        return;
    }
    hf_log_warn("pipeline",
                "customer \"%.*s\" belongs to partition %" PRId32 " of %s but arrived in "
                "partition %" PRId32 " at offset %" PRId64
                " (%" PRIu64 " more such events since the last report)",
                (int)(e->customer_id_len > 64 ? 64 : e->customer_id_len), e->customer_id,
                want, p->cfg->input_topics[t], m->partition, m->offset, w->wrong_unlogged);
    w->wrong_logged_at = now;
    w->wrong_unlogged = 0;
}

/* hf_stream_process, reusing the key's hash when the key is the customer id.
 * @locality loop thread or helper thread */
static int stream_process(slot *s, const batch_item *b, const hf_event *e)
{
    const rd_kafka_message_t *m = b->m;
    if (b->hashed && m->key_len == e->customer_id_len &&
        memcmp(m->key, e->customer_id, m->key_len) == 0)
        return hf_stream_process_hashed(&s->st, e, b->h);
    return hf_stream_process(&s->st, e);
}

/*
 * Dead-letters message m of input topic t (why: the decoder's reason): to
 * the producer now (in the generation of the next checkpoint), or with
 * w->outbox to the stream's outbox. Returns 0, or -1 when the message is
 * given up (out of memory: failed). @locality loop thread or helper thread
 */
static int dead_letter(worker *w, slot *s, rd_kafka_message_t *m, int t, const char *why)
{
    hf_pipeline *p = w->p;
    if (w->outbox) {
        rd_kafka_headers_t *orig = NULL;
        if (rd_kafka_message_headers(m, &orig) != RD_KAFKA_RESP_ERR_NO_ERROR)
            orig = NULL;
        rd_kafka_headers_t *h = hf_dead_letter_headers(orig, why, rd_kafka_topic_name(m->rkt),
                                                       m->partition, m->offset,
                                                       hf_clock_wall_ms());
        hf_buf_reset(&w->env);
        if (h == NULL ||
            hf_eos_envelope_encode(&w->env, p->cfg->dead_letter_topic, m->key == NULL,
                                   m->payload, m->len, h) != 0 ||
            outbox_add(w, s, m->key, m->key_len) != 0) {
            if (h != NULL)
                rd_kafka_headers_destroy(h);
            hf_live_fail(p, "out of memory adding a dead letter to the outbox");
            return -1;
        }
        rd_kafka_headers_destroy(h);
    } else {
        hf_log_debug("pipeline", "dead letter %s [%" PRId32 "] at offset %" PRId64 ": %s",
                     rd_kafka_topic_name(m->rkt), m->partition, m->offset, why);
        char err[512];
        uint64_t gen = p->ck.gen;
        if (hf_dead_letter_produce(p->producer, p->cfg->dead_letter_topic, m, why,
                                   hf_clock_wall_ms(), (void *)(uintptr_t)gen,
                                   QUEUE_FULL_WAIT_MS, err, sizeof(err)) != 0) {
            hf_live_fail(p, "%s", err);
            return 0;
        }
        ckring_sent(&p->ck, gen);
    }
    w->c->dead_letters++;
    if (p->m.dead_letters != NULL)
        hf_metric_add(p->m.dead_letters[(size_t)t * DL_COUNT + (size_t)hf_live_dl_class(why)], 1);
    return 0;
}

/*
 * Applies batch item b to its stream s (which holds a stream): decode, then
 * dead-letter or apply; the topic-partition's offset moves past it. Skips
 * what is no longer ours (its next owner reads it) and, with w->outbox,
 * what Redis has applied already. The same path for both stores: they
 * differ in the stream's signal callback and in dead_letter.
 * @locality loop thread or helper thread
 */
static void apply_message(worker *w, slot *s, const batch_item *b)
{
    hf_pipeline *p = w->p;
    rd_kafka_message_t *m = b->m;
    int t = b->topic;
    tpstate *tp = tp_find(p, t, m->partition);
    if (tp == NULL || !tp->assigned || tp->lost || (w->outbox && m->offset < tp->done))
        return;
    char why[512];
    hf_event e;
    int outcome = OUT_APPLIED;
    int restoring = m->offset < tp->restore_until;
    w->suppress = restoring;
    if (restoring)
        w->c->restored++;
    if (hf_kafka_input_decode(w->dec, m, &e, why, sizeof(why)) != 0) {
        outcome = OUT_INVALID;
        hf_stream_count_invalid(&s->st);
        if (!restoring && dead_letter(w, s, m, t, why) != 0)
            return;
    } else {
        if (!restoring)
            check_partition(w, t, m, &e);
        uint64_t duplicate = s->st.stats.duplicate, late = s->st.stats.late;
        if (stream_process(s, b, &e) != 0 ||
            (w->outbox && mark_dirty(s, e.customer_id, e.customer_id_len) != 0)) {
            hf_live_fail(p, "out of memory processing %s [%" PRId32 "] at offset %" PRId64,
                         rd_kafka_topic_name(m->rkt), m->partition, m->offset);
            return;
        }
        outcome = s->st.stats.duplicate != duplicate ? OUT_DUPLICATE
                  : s->st.stats.late != late         ? OUT_LATE
                                                     : OUT_APPLIED;
        if (e.event_time > s->max_event_time)
            s->max_event_time = e.event_time;
    }
    if (!restoring && w->pending != NULL)
        w->pending[(size_t)t * OUT_COUNT + (size_t)outcome]++;
    w->suppress = 0;
    tp->done = m->offset + 1;
    tp->touched = 1;
}

/* @locality loop thread */
int hf_live_group_by_stream(const batch_item *in, size_t nin, batch_item *out, size_t **startsp,
                            size_t *starts_cap)
{
    int32_t max = 0;
    for (size_t i = 0; i < nin; i++)
        if (in[i].partition > max)
            max = in[i].partition;
    size_t n = (size_t)max + 2;
    if (n > *starts_cap) {
        size_t *grown = realloc(*startsp, n * sizeof(*grown));
        if (grown == NULL)
            return -1;
        *startsp = grown;
        *starts_cap = n;
    }
    size_t *starts = *startsp;
    memset(starts, 0, n * sizeof(*starts));
    for (size_t i = 0; i < nin; i++)
        starts[in[i].partition + 1]++;
    for (size_t k = 1; k < n; k++)
        starts[k] += starts[k - 1];
    for (size_t i = 0; i < nin; i++)
        out[starts[in[i].partition]++] = in[i];
    return 0;
}

/* Moves the open batch to the work array grouped by stream. 0, or -1 (OOM).
 * @locality loop thread */
static int group_by_stream(hf_pipeline *p)
{
    if (hf_live_group_by_stream(p->batch, p->nbatch, p->work, &p->starts, &p->starts_cap) != 0)
        return -1;
    p->nwork = p->nbatch;
    p->nbatch = 0;
    return 0;
}

/*
 * Prefetches, in stage `stage`, the customer of batch item i: input is keyed
 * by customer id, so the key names it before the value is decoded (a key
 * that is not the id makes this a useless but harmless hint).
 * @locality loop thread or helper thread
 */
static void prefetch_item(hf_pipeline *p, size_t i, size_t end, int stage)
{
    if (i >= end)
        return;
    batch_item *b = &p->work[i];
    if (b->m->key == NULL || b->partition >= p->nslots)
        return;
    const slot *s = &p->slots[b->partition];
    if (s->refs == 0 || s->st.store == NULL)
        return;
    if (stage == 0) {
        b->h = hf_memstore_hash(b->m->key, b->m->key_len);
        b->hashed = 1;
    }
    hf_memstore_prefetch(s->st.store, b->h, stage);
}

/*
 * Before processing batch item i of the items [begin, end) one thread
 * processes: the prefetches that lead it.
 * @locality loop thread or helper thread
 */
static void prefetch_ahead(hf_pipeline *p, size_t i, size_t begin, size_t end)
{
    if (i == begin) /* the first items get their stages late, but get them */
        for (size_t k = begin; k < begin + PREFETCH_SLOT && k < end; k++)
            prefetch_item(p, k, end, 0);
    if (i + PREFETCH_MESSAGE < end)
        __builtin_prefetch(p->work[i + PREFETCH_MESSAGE].m);
    if (i + PREFETCH_KEY < end) {
        const rd_kafka_message_t *m = p->work[i + PREFETCH_KEY].m;
        if (m->key != NULL)
            __builtin_prefetch(m->key);
        if (m->payload != NULL)
            __builtin_prefetch(m->payload);
    }
    prefetch_item(p, i + PREFETCH_SLOT, end, 0);
    prefetch_item(p, i + PREFETCH_CUSTOMER, end, 1);
    prefetch_item(p, i + PREFETCH_ARRAYS, end, 2);
}

/*
 * Applies the messages of the stream whose run starts at batch item i (of
 * the items up to end) and prepares its commit (s->prepared); returns where
 * the next stream's run starts, and the stream in *sp (NULL: not ours).
 * @locality loop thread or helper thread
 */
size_t hf_live_compute_stream(worker *w, size_t i, size_t end, slot **sp)
{
    hf_pipeline *p = w->p;
    int32_t part = p->work[i].partition;
    slot *s = part < p->nslots ? &p->slots[part] : NULL;
    size_t j = i;
    *sp = NULL;
    if (s != NULL && s->refs > 0 && s->part != NULL && !s->dropped) {
        *sp = s;
        s->prepared = 0;
        w->cur = s;
        s->st.opaque = w;
        hf_redis_batch_clear(s->rb);
        for (; j < end && p->work[j].partition == part && !p->failed; j++) {
            prefetch_ahead(p, j, i, end);
            apply_message(w, s, &p->work[j]);
        }
        w->cur = NULL;
        if (!p->failed)
            s->prepared = hf_live_prepare_stream(p, s);
    }
    while (j < end && p->work[j].partition == part)
        j++;
    return j;
}

/*
 * Items [begin, end) of the batch, one message after the other; then their
 * messages are destroyed (by the thread that read them last: the last one
 * of a fetched buffer frees it).
 * @locality loop thread or helper thread
 */
static void process_items(worker *w, size_t begin, size_t end)
{
    hf_pipeline *p = w->p;
    for (size_t i = begin; i < end && !p->failed; i++) {
        prefetch_ahead(p, i, begin, end);
        const batch_item *b = &p->work[i];
        slot *s = b->partition < p->nslots ? &p->slots[b->partition] : NULL;
        if (s == NULL || s->refs == 0)
            continue; /* no longer ours: its next owner reads it */
        s->st.opaque = w;
        apply_message(w, s, b);
    }
    for (size_t i = begin; i < end; i++) {
        rd_kafka_message_destroy(p->work[i].m);
        p->work[i].m = NULL;
    }
}

/*
 * The helper thread's part of a batch with Redis: compute its streams, and
 * hand each over to the loop as it is done (the loop sends it); then destroy
 * their messages.
 * @locality helper thread
 */
void hf_live_compute_items(worker *w, size_t begin, size_t end)
{
    hf_pipeline *p = w->p;
    size_t n = 0;
    for (size_t i = begin; i < end && !p->failed;) {
        slot *s;
        i = hf_live_compute_stream(w, i, end, &s);
        p->computed[n++] = s;
        atomic_store_explicit(&p->ncomputed, n, memory_order_release);
    }
    for (size_t i = begin; i < end; i++) {
        rd_kafka_message_destroy(p->work[i].m);
        p->work[i].m = NULL;
    }
}

/* @locality helper thread */
static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->busy && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit)
            break;
        size_t begin = w->begin, end = w->end;
        pthread_mutex_unlock(&w->mu);
        w->job(w, begin, end);
        w->done_at = hf_clock_mono_ms();
        pthread_mutex_lock(&w->mu);
        w->busy = 0;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* @locality loop thread (set-up) */
static int worker_init(hf_pipeline *p, worker *w, hf_pipeline_counters *c, uint64_t *pending,
                       char *errstr, size_t errstr_size)
{
    w->p = p;
    w->outbox = p->ops->outbox;
    w->c = c;
    w->pending = pending;
    w->dec = hf_kafka_input_new(p->cfg, errstr, errstr_size);
    return w->dec != NULL ? 0 : -1;
}

/* The loop's worker, and the helper thread's. @locality loop thread (set-up) */
int hf_live_workers_init(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    if (worker_init(p, &p->w0, &p->c, p->m.pending, errstr, errstr_size) != 0)
        return -1;
    worker *w = &p->w1;
    if (p->m.pending != NULL &&
        (w->pending = calloc(p->ntopics * OUT_COUNT, sizeof(*w->pending))) == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (worker_init(p, w, &w->own, w->pending, errstr, errstr_size) != 0)
        return -1;
    w->share = SHARE_UNITS / 2;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "cannot start a thread: %s", strerror(rc));
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        return -1;
    }
    w->started = 1;
    return 0;
}

/* @locality loop thread (destroy) */
void hf_live_workers_free(hf_pipeline *p)
{
    worker *w = &p->w1;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->quit = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        w->started = 0;
    }
    worker *ws[2] = {&p->w0, &p->w1};
    for (int i = 0; i < 2; i++) {
        hf_kafka_input_destroy(ws[i]->dec);
        hf_buf_free(&ws[i]->enc);
        hf_buf_free(&ws[i]->frame);
        hf_buf_free(&ws[i]->env);
    }
    free(p->w1.pending);
}

/* @locality loop thread */
size_t hf_live_split_point(const batch_item *work, size_t n, int share)
{
    size_t split = 0;
    if (n < SPLIT_MIN)
        return 0;
    size_t target = n * (size_t)share / SHARE_UNITS, best = n;
    for (size_t i = 1; i < n; i++) {
        if (work[i].partition == work[i - 1].partition)
            continue;
        size_t off = i > target ? i - target : target - i;
        if (off < best) {
            best = off;
            split = i;
        }
    }
    return split;
}

/*
 * Where the helper thread's part of the batch in the work array ends, or 0:
 * the loop does it all. @locality loop thread
 */
size_t hf_live_split(hf_pipeline *p)
{
    return p->w1.started ? hf_live_split_point(p->work, p->nwork, p->w1.share) : 0;
}

/* Hands items [0, split) to the helper thread, which runs job on them. @locality loop thread */
void hf_live_helper_start(hf_pipeline *p, size_t split,
                          void (*job)(worker *w, size_t begin, size_t end))
{
    worker *w = &p->w1;
    pthread_mutex_lock(&w->mu);
    w->begin = 0;
    w->end = split;
    w->job = job;
    w->busy = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/*
 * Waits for the helper's part; its counts join the loop's, and its share
 * moves towards the one where neither thread waits for the other.
 * @locality loop thread
 */
void hf_live_helper_join(hf_pipeline *p)
{
    worker *w = &p->w1;
    pthread_mutex_lock(&w->mu);
    int waited = w->busy;
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    if (waited && w->share > SHARE_STEP)
        w->share -= SHARE_STEP;
    else if (!waited && w->share < SHARE_UNITS - SHARE_STEP)
        w->share += SHARE_STEP;
    hf_pipeline_counters *c = &w->own;
    p->c.restored += c->restored;
    p->c.dead_letters += c->dead_letters;
    p->c.wrong_partition += c->wrong_partition;
    p->c.signals += c->signals;
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; w->pending != NULL && i < p->ntopics * OUT_COUNT; i++) {
        p->m.pending[i] += w->pending[i];
        w->pending[i] = 0;
    }
}

/*
 * The memory store's batch: when it is large enough and holds more than one
 * stream, the helper thread applies the streams of its first part while the
 * loop applies the rest (split between two streams, nearest the helper's
 * share). The loop does not wait for the helper: it goes on taking the
 * next batch, and batch_finish joins the helper before anything reads what
 * the batch changed. The share follows which of the two waited there: the
 * loop (the helper had too much) or not.
 * @locality loop thread
 */
void hf_live_process_batch_memory(hf_pipeline *p)
{
    size_t split = hf_live_split(p);
    p->w1.end = split;
    if (split == 0) {
        process_items(&p->w0, 0, p->nwork);
        p->progress_at = hf_clock_mono_ms();
        return;
    }
    hf_live_helper_start(p, split, process_items);
    process_items(&p->w0, split, p->nwork);
    p->progress_at = hf_clock_mono_ms();
    p->work_open = 1; /* batch_finish joins the helper */
}

/*
 * Completes the batch in the work array: joins the helper thread if it may
 * still be on it, counts it, destroys what is left of its messages. Called
 * before anything reads what a batch changed (offsets, streams, counts) and
 * before a rebalance changes it.
 * @locality loop thread
 */
void hf_live_batch_finish(hf_pipeline *p)
{
    if (p->nwork == 0)
        return;
    if (p->work_open) {
        hf_live_helper_join(p);
        if (p->w1.done_at > p->progress_at)
            p->progress_at = p->w1.done_at;
    }
    p->work_open = 0;
    hf_live_metrics_flush_events(p);
    for (size_t i = 0; i < p->nwork; i++)
        if (p->work[i].m != NULL)
            rd_kafka_message_destroy(p->work[i].m);
    if (p->w1.started)
        hf_log_debug("pipeline", "batch of %zu messages (%zu by the helper thread): "
                     "open %" PRId64 " ms, processed in %" PRId64 " ms", p->nwork,
                     p->w1.end, p->work_closed - p->work_opened,
                     hf_clock_mono_ms() - p->work_closed);
    else
        hf_log_debug("pipeline", "batch of %zu messages: open %" PRId64 " ms, "
                     "processed in %" PRId64 " ms", p->nwork, p->work_closed - p->work_opened,
                     hf_clock_mono_ms() - p->work_closed);
    p->nwork = 0;
    p->c.batches++;
}

/*
 * The per-stream batch boundary: the open batch, grouped by stream in the
 * consumer's order, is applied stream after stream. With Redis it is
 * complete on return (computed, committed there, and its publication
 * handed over); with the memory store the helper thread may still be on
 * its part (batch_finish completes it).
 * @locality loop thread
 */
void hf_live_process_batch_start(hf_pipeline *p, int64_t opened, int64_t closed)
{
    hf_live_batch_finish(p);
    if (p->nbatch == 0)
        return;
    if (group_by_stream(p) != 0) {
        hf_live_fail(p, "out of memory grouping a batch");
        return;
    }
    p->work_opened = opened;
    p->work_closed = closed;
    for (size_t i = 0, run = 1; i < p->nwork; i++, run++)
        if (i + 1 == p->nwork || p->work[i + 1].partition != p->work[i].partition) {
            hf_metric_observe(p->m.batch_size, (double)run);
            run = 0;
        }
    p->ops->process_batch(p); /* each thread destroys the messages it applied */
}

/* The open batch, processed completely. @locality loop thread */
void hf_live_process_batch(hf_pipeline *p)
{
    int64_t now = hf_clock_mono_ms();
    hf_live_process_batch_start(p, now, now);
    hf_live_batch_finish(p);
}
