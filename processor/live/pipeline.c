/*
 * pipeline.c - the live loop: consume a batch, process it per stream in
 * offset order, produce signals and dead letters, commit offsets once they
 * are delivered. See pipeline.h for the behaviour.
 */
#include "live/pipeline.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec_avro.h"
#include "codec/codec_json.h"
#include "codec/framing.h"
#include "codec/registry.h"
#include "kafka/dead_letter.h"
#include "kafka/eos.h"
#include "kafka/input.h"
#include "kafka/kafka_conf.h"
#include "kafka/partitioner.h"
#include "kafka/produce.h"
#include "redis/store_redis.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define POLL_MS 100
#define WRONG_PARTITION_LOG_MS 10000
#define QUEUE_FULL_WAIT_MS HF_PRODUCE_QUEUE_FULL_WAIT_MS
#define METADATA_TIMEOUT_MS 10000
#define GAUGES_EVERY_MS 1000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define RECOVERY_ATTEMPTS 3 /* then retried after the next poll */
#define PENDING_RETRY_MS 1000
/* The outbox is trimmed after this many published entries or this long. */
#define TRIM_EVERY_ENTRIES 5000
#define TRIM_EVERY_MS 1000
#define COMMITTED_WAIT_MS 180000 /* longest wait for stable committed offsets */
#define TXN_TIMEOUT_MS "10000"   /* transaction.timeout.ms unless set */
#define TXN_RETRY_MS 300000      /* retriable transaction errors: retried this long */
#define TXN_CALL_MS 30000        /* one transaction call or flush waits this long */

/*--- State of the loop --------------------------------------------------------*/

/* One assigned input topic-partition. */
typedef struct tpstate {
    int assigned;
    int eof;               /* at the end of what the broker has */
    int64_t restore_until; /* offsets below are re-read silently; -1: none */
    int64_t done;          /* last processed offset + 1; -1: none */
    int64_t committed;     /* last offset whose commit succeeded; -1: none */
    int64_t requested;     /* memory: last offset in a checkpoint; -1: none */
    int touched;           /* redis: processed in the open batch */
    int lost;              /* redis: revoked as lost, being dropped */
} tpstate;

/* One stream: a partition number of the input topics. */
typedef struct slot {
    int refs; /* assigned topic-partitions with this number; 0: no stream */
    hf_stream st;
    int64_t max_event_time; /* latest event time seen; INT64_MIN: none */
    hf_metric *time_lag;    /* hirefire_event_time_lag_seconds{partition} */
    /* store.backend=redis */
    int32_t partition;
    hf_redis_part *part;    /* this owner's view of the stored partition */
    int dropped;            /* fenced: held in Kafka but never written again */
    uint64_t kafka_seq;     /* outbox sequence our last committed offsets carried */
    hf_customer **dirty;    /* customers changed by the open batch */
    size_t ndirty, dirty_cap;
    hf_buf out;             /* the batch's outbox entries: u32 key length, key,
                               u32 envelope length, envelope */
    hf_redis_batch *rb;     /* the batch's writes to Redis */
    struct timespec sent_at;     /* when rb went to Redis */
    hf_redis_status commit_st;   /* and what came back */
    char commit_err[512];
    int in_cycle;           /* committed to Redis, not yet published */
    int prepared;           /* prepare_stream's outcome for the open batch */
    int pending;            /* its outbox beyond kafka_seq awaits a republish */
    uint64_t trimmed_seq;   /* the outbox holds nothing up to this */
    int64_t trimmed_at;     /* when it was last trimmed (monotonic ms) */
} slot;

/* Outcomes of an input message (hirefire_events_total{outcome}). */
enum { OUT_APPLIED, OUT_INVALID, OUT_DUPLICATE, OUT_LATE, OUT_COUNT };
static const char *const outcome_names[OUT_COUNT] = {"applied", "invalid", "duplicate",
                                                     "late"};
/* Classes of dead-letter reasons (hirefire_dead_letters_total{reason_class}). */
enum { DL_DECODE, DL_SCHEMA, DL_INVALID, DL_COUNT };
static const char *const dl_names[DL_COUNT] = {"decode", "schema", "invalid"};
enum { RB_ASSIGN, RB_REVOKE, RB_LOST, RB_COUNT };
static const char *const rb_names[RB_COUNT] = {"assign", "revoke", "lost"};

/* Metric handles, looked up once; all NULL when metrics are off. */
typedef struct pipeline_metrics {
    hf_metric **events;       /* [topic * OUT_COUNT + outcome] */
    uint64_t *pending;        /* the same, counted in the open batch */
    hf_metric **dead_letters; /* [topic * DL_COUNT + class] */
    hf_metric *signals[HF_MAX_BEHAVIOURS][2][HF_CAUSE_COUNT];
    hf_metric *rebalances[RB_COUNT];
    hf_metric *batch_size, *commit_latency, *customers;
    hf_metric *txn_committed, *txn_aborted, *redis_call;
    int64_t gauges_at;        /* last gauge update (monotonic ms) */
} pipeline_metrics;

/*
 * store.backend=memory: offsets wait in checkpoints until every signal and
 * dead letter produced before them is delivered; then they are committed
 * asynchronously. Produced messages carry their generation (the checkpoint
 * they belong to) as opaque; CK_RING counts of messages in flight per
 * generation, CK_MAX checkpoints waiting at most.
 */
#define CK_MAX 32
#define CK_RING (CK_MAX + 1)
typedef struct checkpoint {
    uint64_t gen;
    int64_t at; /* when it was taken (monotonic ms) */
    rd_kafka_topic_partition_list_t *offsets;
} checkpoint;

typedef struct publication publication;
enum { PUB_IDLE, PUB_SUBMITTED, PUB_DONE };

typedef struct batch_item {
    rd_kafka_message_t *m;
    uint64_t h;        /* hf_memstore_hash of its key (the customer id), once hashed */
    int hashed;
    int32_t partition; /* m->partition, where passes over the batch read it without
                          touching the message (long out of the cache) */
    int topic;         /* its topic's index in input.topics, or -1 */
} batch_item;

/*
 * How far ahead the messages of a batch (they are long out of the cache
 * once a batch is grouped), their keys and values, and the customers of a
 * batch are prefetched, by stage.
 */
#define PREFETCH_MESSAGE 32
#define PREFETCH_KEY 24
#define PREFETCH_SLOT 16
#define PREFETCH_CUSTOMER 8
#define PREFETCH_ARRAYS 4

/*
 * What a thread applying part of a batch has of its own: batches are split
 * by stream between the loop and one helper thread (each stream's state,
 * clock and outputs belong to one of them at a time).
 */
/* The helper's share of a batch moves by a step each batch, towards the
 * share where neither thread waits for the other. */
#define SHARE_UNITS 1000
#define SHARE_STEP 10

typedef struct worker {
    hf_pipeline *p;
    hf_kafka_input *dec;
    hf_buf enc, frame;       /* an encoded signal */
    hf_buf env;              /* redis: an outbox envelope */
    slot *cur;               /* redis: the stream being processed */
    int suppress;            /* re-reading: signals and dead letters dropped */
    hf_pipeline_counters *c; /* where its counts go */
    uint64_t *pending;       /* metrics: events by outcome, or NULL */
    int64_t wrong_logged_at;
    uint64_t wrong_unlogged;
    /* the helper thread */
    hf_pipeline_counters own;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int busy;                /* items [begin, end) handed over, not done */
    int quit;
    size_t begin, end;
    void (*job)(struct worker *w, size_t begin, size_t end);
    int share;               /* its part of a batch, in 1/SHARE_UNITS */
    int64_t done_at;         /* when it finished its last part (ms) */
} worker;

struct hf_pipeline {
    const hf_config *cfg;
    const hf_engine *eng;
    hf_pipeline_opts opts;
    rd_kafka_t *consumer;
    rd_kafka_queue_t *consumer_q; /* where asynchronous commit results arrive */
    rd_kafka_topic_t **in_rkt;    /* the input topics, known before any assignment */
    rd_kafka_t *producer;
    rd_kafka_topic_t *out_rkt;
    worker w0;               /* the loop's own */
    worker w1;               /* the helper thread's */

    /* output encoding */
    hf_schema_source *out_schemas;
    int32_t out_schema_id;

    /* input topics (cfg->input_topics order) and their partitions */
    size_t ntopics;
    int32_t *partition_cnt;
    tpstate **tps;  /* [topic][partition] */
    int32_t *tps_cap;
    slot *slots;    /* [partition] */
    int32_t nslots;

    /* the open batch */
    batch_item *batch;       /* the open batch, as taken */
    size_t nbatch, cap;
    batch_item *work;        /* the batch being processed, grouped by stream */
    size_t nwork;
    int work_open;           /* memory: the helper thread may still be on it */
    int64_t work_opened, work_closed; /* when it opened and closed (ms) */
    rd_kafka_message_t **polled; /* what one consumer call returned */
    const rd_kafka_topic_t *take_rkt; /* take(): the last message's topic handle */
    int take_topic;                   /* and its index in input.topics */
    size_t *starts, starts_cap;

    checkpoint ck[CK_MAX];   /* memory: waiting checkpoints, oldest at ck_head */
    size_t ck_head, ck_n;
    uint64_t ck_gen;         /* the generation being produced */
    atomic_uint_fast64_t ck_inflight[CK_RING];
    int64_t last_commit;
    int64_t idle_since;      /* -1: not idle */
    int64_t not_end_at;      /* when a partition was last seen short of its end */
    int64_t progress_at;     /* when the last batch was done */

    atomic_int failed;       /* stop; commit nothing more */
    char error[512];
    pthread_mutex_t fail_mu; /* fail() may be called from librdkafka's callbacks */

    hf_stream_stats retired; /* streams dropped on revoke */
    uint64_t retired_customers;
    hf_pipeline_counters c;

    /* store.backend=redis */
    hf_redis *redis;
    int eos;                 /* processing.guarantee=exactly_once */
    char txn_id[512];        /* the producer's transactional.id */
    const char *group;
    slot **sent, **sync;     /* streams of the batch: commits sent, commits to retry */
    slot **computed;         /* redis: the helper's streams as it computes them */
    atomic_size_t ncomputed; /* how many of them it has computed (published) */
    size_t ncollected;       /* how many of them the loop has sent on */
    int64_t pending_at;      /* when to retry the republish of pending slots */
    /* the publisher thread: one publication at a time, the loop goes on */
    publication *pub_async;  /* handed to the thread */
    publication *pub_sync;   /* published by the loop itself (recoveries) */
    pthread_t pub_thread;
    int pub_started;
    pthread_mutex_t pub_mu;
    pthread_cond_t pub_cv;
    int pub_state;           /* PUB_*, under pub_mu */
    int pub_quit;

    pipeline_metrics m;
    atomic_int assigned;          /* topic-partitions held (readiness) */
    atomic_int store_unavailable; /* set by the state store hooks (readiness) */
};

static void fail(hf_pipeline *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void process_batch_redis(hf_pipeline *p);
static int outbox_add(worker *w, slot *s, const void *key, size_t key_len);
static int mark_dirty(slot *s, const char *id, size_t len);
static int stopping(const hf_pipeline *p);
static void checkpoints_commit(hf_pipeline *p);
static int producer_renew(hf_pipeline *p, const char *why);
static int publisher_wait(hf_pipeline *p);
static int recover(hf_pipeline *p, slot **v, size_t n);
static int workers_init(hf_pipeline *p, char *errstr, size_t errstr_size);
static void workers_free(hf_pipeline *p);

static void fail(hf_pipeline *p, const char *fmt, ...)
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

static int topic_index(const hf_pipeline *p, const char *topic)
{
    for (size_t i = 0; i < p->ntopics; i++)
        if (strcmp(p->cfg->input_topics[i], topic) == 0)
            return (int)i;
    return -1;
}

/* The state of topic-partition (t, part) if the tables have it, or NULL
 * (then it was never assigned); changes nothing. */
static tpstate *tp_find(hf_pipeline *p, int t, int32_t part)
{
    return t >= 0 && part >= 0 && part < p->tps_cap[t] ? &p->tps[t][part] : NULL;
}

/* The state of topic-partition (t, part), growing the tables; NULL on OOM. */
static tpstate *tp_get(hf_pipeline *p, int t, int32_t part)
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

static slot *slot_get(hf_pipeline *p, int32_t part)
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

/*--- Metrics ------------------------------------------------------------------*/

/* Looks up every handle the loop updates (not per partition: see slot_metrics). */
static int metrics_init(hf_pipeline *p, char *errstr, size_t errstr_size)
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

static void metrics_free(pipeline_metrics *pm)
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
 */
static int dl_class(const char *why)
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

/* Adds the open batch's event counts to the counters. */
static void metrics_flush_events(hf_pipeline *p)
{
    pipeline_metrics *pm = &p->m;
    for (size_t i = 0; pm->pending != NULL && i < p->ntopics * OUT_COUNT; i++)
        if (pm->pending[i] != 0) {
            hf_metric_add(pm->events[i], pm->pending[i]);
            pm->pending[i] = 0;
        }
}

/* Customers cached and event-time lag: at most every GAUGES_EVERY_MS, or now. */
static void metrics_gauges(hf_pipeline *p, int force)
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

static int stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    hf_pipeline *p = opaque;
    (void)rk;
    hf_metrics_update_from_rdkafka_stats(p->opts.metrics, json, json_len);
    return 0; /* librdkafka frees json */
}

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

/*--- Producing ----------------------------------------------------------------*/

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    hf_pipeline *p = opaque;
    if (m->err && p->eos) /* the transaction's outcome decides */
        hf_log_debug("pipeline", "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt),
                     rd_kafka_err2str(m->err));
    else if (m->err)
        fail(p, "delivery to %s failed: %s; offsets not committed",
             rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    if (p->redis == NULL) /* memory: one message of its generation less in flight */
        atomic_fetch_sub_explicit(&p->ck_inflight[(uintptr_t)m->_private % CK_RING], 1,
                                  memory_order_relaxed);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    hf_pipeline *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL && rk == p->producer && p->eos) {
        /* The transaction calls report it too; publish() renews the producer. */
        hf_log_warn("kafka", "%s: fatal error: %s", rd_kafka_name(rk), reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        fail(p, "fatal Kafka error (%s): %s: %s", rd_kafka_name(rk),
             rd_kafka_err2name(orig), why);
        return;
    }
    hf_log_warn("kafka", "%s: %s: %s", rd_kafka_name(rk),
                rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

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

/*--- The outbox of the open batch (store.backend=redis) -------------------------*/

static int put_u32(hf_buf *b, size_t v)
{
    uint32_t x = (uint32_t)v;
    return hf_buf_append(b, &x, sizeof(x));
}

/* Appends (key, w->env) to the slot's outbox entries and the Redis batch. */
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

/* Records that customer id changed in the open batch. 0, or -1 (OOM). */
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

/* The helper thread's worker, in that thread; NULL in the others. */
static _Thread_local worker *this_worker;

static worker *current_worker(hf_pipeline *p)
{
    return this_worker != NULL && this_worker->p == p ? this_worker : &p->w0;
}

static void emit_signal(void *opaque, const hf_signal *s)
{
    hf_pipeline *p = opaque;
    worker *w = current_worker(p);
    const void *val;
    size_t len;
    if (w->suppress || p->failed)
        return;
    if (encode_signal(w, s, &val, &len) != 0) {
        fail(p, "out of memory encoding a signal");
        return;
    }
    if (p->redis != NULL) {
        /* To the outbox first; published once Redis has the batch. */
        hf_buf_reset(&w->env);
        if (hf_eos_envelope_encode(&w->env, p->cfg->output_topic, 0, val, len, NULL) != 0 ||
            outbox_add(w, w->cur, s->customer_id, s->customer_id_len) != 0 ||
            mark_dirty(w->cur, s->customer_id, s->customer_id_len) != 0) {
            fail(p, "out of memory adding a signal to the outbox");
            return;
        }
        w->c->signals++;
        hf_metric_add(p->m.signals[s->behaviour][s->kind][s->cause], 1);
        return;
    }
    hf_produce_msg pm = {.rkt = p->out_rkt, .partition = RD_KAFKA_PARTITION_UA,
                         .key = s->customer_id, .key_len = s->customer_id_len,
                         .value = val, .value_len = len,
                         .opaque = (void *)(uintptr_t)p->ck_gen};
    rd_kafka_resp_err_t err = hf_produce(p->producer, &pm, QUEUE_FULL_WAIT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fail(p, "cannot produce a signal to %s: %s", p->cfg->output_topic,
             rd_kafka_err2str(err));
        return;
    }
    atomic_fetch_add_explicit(&p->ck_inflight[p->ck_gen % CK_RING], 1, memory_order_relaxed);
    w->c->signals++;
    hf_metric_add(p->m.signals[s->behaviour][s->kind][s->cause], 1);
}

/*--- Processing a batch ---------------------------------------------------------*/

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

/* hf_stream_process, reusing the key's hash when the key is the customer id. */
static int stream_process(slot *s, const batch_item *b, const hf_event *e)
{
    const rd_kafka_message_t *m = b->m;
    if (b->hashed && m->key_len == e->customer_id_len &&
        memcmp(m->key, e->customer_id, m->key_len) == 0)
        return hf_stream_process_hashed(&s->st, e, b->h);
    return hf_stream_process(&s->st, e);
}

static void process_message(worker *w, const batch_item *b)
{
    hf_pipeline *p = w->p;
    rd_kafka_message_t *m = b->m;
    int t = b->topic;
    tpstate *tp = tp_find(p, t, m->partition);
    slot *s = m->partition < p->nslots ? &p->slots[m->partition] : NULL;
    if (tp == NULL || !tp->assigned || s == NULL || s->refs == 0)
        return; /* no longer ours: its next owner reads it */
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
        if (!restoring) {
            hf_log_debug("pipeline", "dead letter %s [%" PRId32 "] at offset %" PRId64 ": %s",
                         rd_kafka_topic_name(m->rkt), m->partition, m->offset, why);
            char err[512];
            if (hf_dead_letter_produce(p->producer, p->cfg->dead_letter_topic, m, why,
                                       hf_clock_wall_ms(), (void *)(uintptr_t)p->ck_gen,
                                       QUEUE_FULL_WAIT_MS, err, sizeof(err)) != 0)
                fail(p, "%s", err);
            else {
                atomic_fetch_add_explicit(&p->ck_inflight[p->ck_gen % CK_RING], 1,
                                          memory_order_relaxed);
                w->c->dead_letters++;
                if (p->m.dead_letters != NULL)
                    hf_metric_add(p->m.dead_letters[(size_t)t * DL_COUNT + (size_t)dl_class(why)],
                                  1);
            }
        }
    } else {
        if (!restoring)
            check_partition(w, t, m, &e);
        uint64_t duplicate = s->st.stats.duplicate, late = s->st.stats.late;
        if (stream_process(s, b, &e) != 0)
            fail(p, "out of memory processing %s [%" PRId32 "] at offset %" PRId64,
                 rd_kafka_topic_name(m->rkt), m->partition, m->offset);
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
}

/*
 * Moves the open batch to the work array grouped by stream, in partition
 * order, keeping the consumer's order within each stream (a counting
 * sort). 0, or -1 (OOM).
 */
static int group_by_stream(hf_pipeline *p)
{
    int32_t max = 0;
    for (size_t i = 0; i < p->nbatch; i++)
        if (p->batch[i].partition > max)
            max = p->batch[i].partition;
    size_t n = (size_t)max + 2;
    if (n > p->starts_cap) {
        size_t *starts = realloc(p->starts, n * sizeof(*starts));
        if (starts == NULL)
            return -1;
        p->starts = starts;
        p->starts_cap = n;
    }
    memset(p->starts, 0, n * sizeof(*p->starts));
    for (size_t i = 0; i < p->nbatch; i++)
        p->starts[p->batch[i].partition + 1]++;
    for (size_t k = 1; k < n; k++)
        p->starts[k] += p->starts[k - 1];
    for (size_t i = 0; i < p->nbatch; i++)
        p->work[p->starts[p->batch[i].partition]++] = p->batch[i];
    p->nwork = p->nbatch;
    p->nbatch = 0;
    return 0;
}

/*
 * Prefetches, in stage `stage`, the customer of batch item i: input is keyed
 * by customer id, so the key names it before the value is decoded (a key
 * that is not the id makes this a useless but harmless hint).
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
 * Items [begin, end) of the batch, one message after the other; then their
 * messages are destroyed (by the thread that read them last: the last one
 * of a fetched buffer frees it).
 */
static void process_items(worker *w, size_t begin, size_t end)
{
    hf_pipeline *p = w->p;
    for (size_t i = begin; i < end && !p->failed; i++) {
        prefetch_ahead(p, i, begin, end);
        process_message(w, &p->work[i]);
    }
    for (size_t i = begin; i < end; i++) {
        rd_kafka_message_destroy(p->work[i].m);
        p->work[i].m = NULL;
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    this_worker = w;
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

static int worker_init(hf_pipeline *p, worker *w, hf_pipeline_counters *c, uint64_t *pending,
                       char *errstr, size_t errstr_size)
{
    w->p = p;
    w->c = c;
    w->pending = pending;
    w->dec = hf_kafka_input_new(p->cfg, errstr, errstr_size);
    return w->dec != NULL ? 0 : -1;
}

/* The loop's worker, and the helper thread's. */
static int workers_init(hf_pipeline *p, char *errstr, size_t errstr_size)
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

static void workers_free(hf_pipeline *p)
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

/* Smaller batches are not worth a handover to the helper thread. */
#define SPLIT_MIN 512

/*
 * The memory store's batch: when it is large enough and holds more than one
 * stream, the helper thread applies the streams of its first part while the
 * loop applies the rest (split between two streams, nearest the helper's
 * share); then the helper's counts join the loop's. The loop has more to do
 * besides (taking messages, producing its part), so the share follows which
 * of the two waited: the loop at the end (the helper had too much) or not.
 */
/*
 * Where the helper thread's part of the open batch ends (its streams are
 * the first ones), or 0: the loop does it all.
 */
static size_t split_point(hf_pipeline *p)
{
    worker *w = &p->w1;
    size_t split = 0;
    if (!w->started || p->nwork < SPLIT_MIN)
        return 0;
    size_t target = p->nwork * (size_t)w->share / SHARE_UNITS, best = p->nwork;
    for (size_t i = 1; i < p->nwork; i++) {
        if (p->work[i].partition == p->work[i - 1].partition)
            continue;
        size_t off = i > target ? i - target : target - i;
        if (off < best) {
            best = off;
            split = i;
        }
    }
    return split;
}

/* Hands items [0, split) to the helper thread, which runs job on them. */
static void helper_start(hf_pipeline *p, size_t split,
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
 */
static void helper_join(hf_pipeline *p)
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
 */
static void process_batch_memory(hf_pipeline *p)
{
    size_t split = split_point(p);
    p->w1.end = split;
    if (split == 0) {
        process_items(&p->w0, 0, p->nwork);
        p->progress_at = hf_clock_mono_ms();
        return;
    }
    helper_start(p, split, process_items);
    process_items(&p->w0, split, p->nwork);
    p->progress_at = hf_clock_mono_ms();
    p->work_open = 1; /* batch_finish joins the helper */
}

/*
 * Completes the batch in the work array: joins the helper thread if it may
 * still be on it, counts it, destroys what is left of its messages. Called
 * before anything reads what a batch changed (offsets, streams, counts) and
 * before a rebalance changes it.
 */
static void batch_finish(hf_pipeline *p)
{
    if (p->nwork == 0)
        return;
    if (p->work_open) {
        helper_join(p);
        if (p->w1.done_at > p->progress_at)
            p->progress_at = p->w1.done_at;
    }
    p->work_open = 0;
    metrics_flush_events(p);
    for (size_t i = 0; i < p->nwork; i++)
        if (p->work[i].m != NULL)
            rd_kafka_message_destroy(p->work[i].m);
    if (p->w1.started)
        hf_log_debug("pipeline", "batch of %zu messages (%zu by the helper thread): "
                     "open %" PRId64 " ms, processed in %" PRId64 " ms", p->nwork,
                     p->w1.end, p->work_closed - p->work_opened, hf_clock_mono_ms() - p->work_closed);
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
 */
static void process_batch_start(hf_pipeline *p, int64_t opened, int64_t closed)
{
    batch_finish(p);
    if (p->nbatch == 0)
        return;
    if (group_by_stream(p) != 0) {
        fail(p, "out of memory grouping a batch");
        return;
    }
    p->work_opened = opened;
    p->work_closed = closed;
    for (size_t i = 0, run = 1; i < p->nwork; i++, run++)
        if (i + 1 == p->nwork || p->work[i + 1].partition != p->work[i].partition) {
            hf_metric_observe(p->m.batch_size, (double)run);
            run = 0;
        }
    if (p->redis != NULL) {
        process_batch_redis(p);
        p->progress_at = hf_clock_mono_ms();
        batch_finish(p);
    } else {
        process_batch_memory(p); /* each thread destroys the messages it applied */
    }
}

/* The open batch, processed completely. */
static void process_batch(hf_pipeline *p)
{
    int64_t now = hf_clock_mono_ms();
    process_batch_start(p, now, now);
    batch_finish(p);
}

/*--- Committing -----------------------------------------------------------------*/

/* Drops the waiting checkpoints: their offsets go into a later one. */
static void checkpoints_drop(hf_pipeline *p)
{
    for (; p->ck_n > 0; p->ck_n--, p->ck_head = (p->ck_head + 1) % CK_MAX)
        rd_kafka_topic_partition_list_destroy(p->ck[p->ck_head].offsets);
    for (size_t t = 0; t < p->ntopics; t++)
        for (int32_t i = 0; i < p->tps_cap[t]; i++)
            p->tps[t][i].requested = p->tps[t][i].committed;
}

/* The result of an asynchronous offset commit (served by the consumer poll). */
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
        int t = topic_index(p, e->topic);
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
static void checkpoint_take(hf_pipeline *p)
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
    checkpoints_commit(p);
}

/*
 * Commits, asynchronously, the offsets of every waiting checkpoint whose
 * generation (and so every one before it) is delivered.
 */
static void checkpoints_commit(hf_pipeline *p)
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
            fail(p, "%d messages not delivered within shutdown.timeout.ms (%" PRId64
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
            tpstate *tp = tp_get(p, topic_index(p, e->topic), e->partition);
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

/*--- store.backend=redis: outages, fencing, publishing, recovery -----------------*/

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Pauses (pause = 1) or resumes every assigned partition. */
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

/* After a call that was retried by unavailable_wait: resume the input. */
static void available_again(hf_pipeline *p, int backoff)
{
    if (backoff == 0)
        return;
    atomic_store(&p->store_unavailable, 0);
    pause_all(p, 0);
    hf_log_info("pipeline", "Redis available again: input resumed");
}

static int out_append(slot *s, const void *key, size_t key_len, const void *env,
                      size_t env_len)
{
    if (put_u32(&s->out, key_len) != 0 || hf_buf_append(&s->out, key, key_len) != 0 ||
        put_u32(&s->out, env_len) != 0 || hf_buf_append(&s->out, env, env_len) != 0)
        return -1;
    return 0;
}

/* Gives s the acquisition `part` (or none) with nothing open or pending. */
static void slot_reset(slot *s, hf_redis_part *part, int dropped)
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

/* Forgets the stream's state and never writes for it again (until re-assigned). */
static void drop_slot(hf_pipeline *p, slot *s, const char *why)
{
    hf_log_warn("pipeline", "partition %" PRId32 ": %s: its state is dropped and nothing "
                "more is written for it until it is assigned again", s->partition, why);
    if (!s->dropped && s->st.store != NULL) {
        hf_stream_stats_add(&p->retired, &s->st.stats, p->eng->n);
        hf_stream_destroy(&s->st);
    }
    slot_reset(s, NULL, 1);
}

/*
 * Acquires partition s->partition (a new epoch) and loads its customers into
 * a new stream. Returns 0, or -1 (failed, or stopping during an outage).
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
        fail(p, "cannot acquire partition %" PRId32 " in Redis: %s", s->partition, err);
        return -1;
    }
    if (s->rb == NULL)
        s->rb = hf_redis_batch_new();
    if (s->rb == NULL || hf_stream_init(&s->st, p->eng, emit_signal, p) != 0) {
        hf_redis_part_destroy(part);
        fail(p, "out of memory assigning partition %" PRId32, s->partition);
        return -1;
    }
    size_t loaded = 0;
    while ((st = hf_redis_load(p->redis, part, p->eng, s->st.store, &loaded, err,
                               sizeof(err))) == HF_REDIS_UNAVAILABLE) {
        hf_stream_destroy(&s->st); /* a partial load: start again */
        if (unavailable_wait(p, &backoff, "load", err) != 0 ||
            hf_stream_init(&s->st, p->eng, emit_signal, p) != 0)
            break;
    }
    available_again(p, backoff);
    if (st != HF_REDIS_OK || s->st.store == NULL) {
        hf_redis_part_destroy(part);
        hf_stream_destroy(&s->st);
        fail(p, "cannot load partition %" PRId32 " from Redis: %s", s->partition,
             st != HF_REDIS_OK ? err : "stopped");
        return -1;
    }
    s->st.clock = part->clock;
    slot_reset(s, part, 0);
    hf_log_info("pipeline", "partition %" PRId32 ": acquired (epoch %" PRIu64 "), %zu "
                "customers loaded from Redis (%" PRIu32 " bucket hashes), outbox sequence %"
                PRIu64, s->partition, part->epoch, loaded, hf_redis_part_nbuckets(part),
                part->outbox_seq);
    return 0;
}

static int outbox_collect(void *opaque, uint64_t seq, const char *key, size_t key_len,
                          const char *value, size_t value_len)
{
    (void)seq;
    return out_append(opaque, key, key_len, value, value_len);
}

/*
 * Fills s->out with the outbox entries that no committed offsets carried
 * yet (sequence > s->kafka_seq), after dropping the others; the trim is
 * fenced, so a partition taken by another instance is dropped here.
 * Returns 0, or -1 (dropped or failed).
 */
static int outbox_refill(hf_pipeline *p, slot *s)
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
        drop_slot(p, s, "fenced in Redis (another instance took it)");
        return -1;
    }
    if (st != HF_REDIS_OK) {
        fail(p, "partition %" PRId32 ": outbox: %s", s->partition, err);
        return -1;
    }
    return 0;
}

/* The slot's input offsets (applied + 1) with metadata, added to list. */
static void add_offsets(hf_pipeline *p, const slot *s, rd_kafka_topic_partition_list_t *list)
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

/*--- Publishing (store.backend=redis) -----------------------------------------*/

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
    int rc; /* 0 done, 1 aborted, 2 the producer cannot go on, -1 failed */
    size_t produced;
    double took;
    char err[512];
};

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

static void publication_free(publication *pb)
{
    publication_clear(pb);
    hf_buf_free(&pb->out);
    free(pb->streams);
}

/* Takes the entries and offsets of streams v into pb. 0, or -1 (OOM). */
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
        add_offsets(p, v[i], pb->offsets);
        pb->streams[pb->nstreams++] = (pub_stream){v[i]->partition, v[i]->part->outbox_seq};
    }
    return 0;
}

/* Runs the Kafka side of pb and records its outcome (any thread). */
static void publication_run(hf_pipeline *p, publication *pb)
{
    double started = hf_clock_mono_s();
    pb->rc = 0;
    pb->produced = 0;
    pb->err[0] = '\0';
    if (p->eos) {
        rd_kafka_error_t *error = rd_kafka_begin_transaction(p->producer);
        if (error != NULL) {
            snprintf(pb->err, sizeof(pb->err), "cannot begin a Kafka transaction: %s",
                     rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            pb->rc = -1;
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
            pb->rc = -1;
            goto done;
        }
        pb->produced++;
    }
    if (p->eos) {
        hf_eos_txn_status ts = hf_eos_txn_finish(p->producer, pb->gm, pb->offsets,
                                                 TXN_CALL_MS, TXN_RETRY_MS, pb->err,
                                                 sizeof(pb->err));
        pb->rc = ts == HF_EOS_TXN_OK ? 0 : ts == HF_EOS_TXN_ABORTED ? 1 : 2;
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
        pb->rc = -1;
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
 * streams still held now and then. Returns 0; 1 when it was
 * aborted (the entries are still in Redis: the caller republishes them,
 * with a new producer if the old one could not go on); -1 when failed.
 */
static int publication_done(hf_pipeline *p, publication *pb)
{
    if (p->eos && pb->rc == 0)
        hf_metric_add(p->m.txn_committed, 1);
    else if (p->eos && pb->rc == 1)
        hf_metric_add(p->m.txn_aborted, 1);
    if (pb->rc == 1) {
        hf_log_warn("pipeline", "Kafka transaction aborted: %s", pb->err);
        return 1;
    }
    if (pb->rc == 2)
        return producer_renew(p, pb->err) != 0 ? -1 : 1;
    if (pb->rc < 0) {
        fail(p, "%s", pb->err);
        return -1;
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
            drop_slot(p, s, "fenced in Redis (another instance took it)");
        } else {
            hf_log_warn("pipeline", "partition %" PRId32 ": outbox trim: %s (trimmed later)",
                        s->partition, err);
        }
    }
    hf_log_debug("pipeline", "published %zu messages for %zu partitions in %.0f ms",
                 pb->produced, pb->nstreams, pb->took * 1000);
    return 0;
}

/* The streams of v leave the cycle: what they had to publish is taken. */
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
 * is under way. Returns 0, 1 when the transaction was aborted (the entries
 * are still in Redis), -1 when failed.
 */
static int publish(hf_pipeline *p, slot **v, size_t n)
{
    if (publisher_wait(p) < 0)
        return -1;
    publication *pb = p->pub_sync;
    if (publication_build(p, pb, v, n) != 0) {
        fail(p, "out of memory publishing");
        return -1;
    }
    streams_taken(v, n);
    publication_run(p, pb);
    int rc = publication_done(p, pb);
    publication_clear(pb);
    return rc;
}

/* The publisher thread: runs each publication handed to it. */
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
 * committed there since). Returns 0, or -1 when failed.
 */
static int publisher_wait(hf_pipeline *p)
{
    if (!p->pub_started)
        return p->failed ? -1 : 0;
    pthread_mutex_lock(&p->pub_mu);
    while (p->pub_state == PUB_SUBMITTED)
        pthread_cond_wait(&p->pub_cv, &p->pub_mu);
    int done = p->pub_state == PUB_DONE;
    p->pub_state = PUB_IDLE;
    pthread_mutex_unlock(&p->pub_mu);
    if (!done)
        return p->failed ? -1 : 0;
    publication *pb = p->pub_async;
    int rc = publication_done(p, pb);
    if (rc == 1) {
        /* Its streams, as far as this instance still holds them. */
        slot **v = malloc((pb->nstreams ? pb->nstreams : 1) * sizeof(*v));
        size_t n = 0;
        if (v == NULL) {
            fail(p, "out of memory");
            rc = -1;
        } else {
            for (size_t i = 0; i < pb->nstreams; i++) {
                int32_t part = pb->streams[i].partition;
                if (part < p->nslots && p->slots[part].part != NULL && !p->slots[part].dropped)
                    v[n++] = &p->slots[part];
            }
            rc = n > 0 && recover(p, v, n) < 0 ? -1 : 0;
            free(v);
        }
    }
    publication_clear(pb);
    return rc < 0 ? -1 : 0;
}

/*
 * Hands the publication of streams v to the publisher thread (after the
 * one under way) and returns without waiting for it. 0, or -1 when failed.
 */
static int publish_async(hf_pipeline *p, slot **v, size_t n)
{
    if (publisher_wait(p) < 0)
        return -1;
    /* The wait may have republished (and so taken) some of them. */
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i]->in_cycle && v[i]->part != NULL && !v[i]->dropped)
            v[live++] = v[i];
    if (live == 0)
        return 0;
    if (!p->pub_started) {
        if (pthread_create(&p->pub_thread, NULL, publisher_main, p) != 0)
            return publish(p, v, live) < 0 ? -1 : 0;
        p->pub_started = 1;
    }
    if (publication_build(p, p->pub_async, v, live) != 0) {
        fail(p, "out of memory publishing");
        return -1;
    }
    streams_taken(v, live);
    pthread_mutex_lock(&p->pub_mu);
    p->pub_state = PUB_SUBMITTED;
    pthread_cond_broadcast(&p->pub_cv);
    pthread_mutex_unlock(&p->pub_mu);
    return 0;
}

/*
 * Republishes what the outboxes of the slots hold beyond their committed
 * offsets' metadata, with their offsets (assignment, and after an aborted
 * transaction). Returns 0; 1 when the transactions kept being aborted (e.g.
 * the group's generation moved on: a rebalance that the next poll serves),
 * then the slots are marked pending and the loop tries again after polling;
 * -1 when failed.
 */
static int recover(hf_pipeline *p, slot **v, size_t n)
{
    int backoff = BACKOFF_FIRST_MS;
    /* What the publisher thread has under way comes first: it may have
     * carried part of these outboxes already. */
    if (publisher_wait(p) < 0)
        return -1;
    for (int attempt = 1; attempt <= RECOVERY_ATTEMPTS; attempt++) {
        size_t live = 0, entries = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i]->part == NULL || outbox_refill(p, v[i]) != 0) {
                if (p->failed)
                    return -1;
                continue;
            }
            v[live++] = v[i];
        }
        n = live;
        if (n == 0)
            return 0;
        for (size_t i = 0; i < n; i++) {
            const unsigned char *q = (const unsigned char *)v[i]->out.data, *end = q + v[i]->out.len;
            while (q < end) {
                uint32_t klen, elen;
                memcpy(&klen, q, 4);
                memcpy(&elen, q + 4 + klen, 4);
                q += 8 + klen + elen;
                entries++;
            }
        }
        int rc = publish(p, v, n);
        if (rc == 0) {
            for (size_t i = 0; i < n; i++)
                v[i]->pending = 0;
            if (entries > 0)
                hf_log_info("pipeline", "republished %zu outbox entries of %zu partitions",
                            entries, n);
            return 0;
        }
        if (rc < 0)
            return -1;
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
    return 1;
}

/* Moves the consumer of every assigned input topic of s to applied + 1. */
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
        fail(p, "cannot seek partition %" PRId32 ": %s", s->partition,
             rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/*
 * Fills s->rb with the open batch of stream s: its changed customers,
 * offsets and clock (its outbox entries are there already). Returns 1 when
 * there is something to commit, 0 when not, -1 when failed (OOM).
 */
static int prepare_stream(hf_pipeline *p, slot *s)
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
    fail(p, "out of memory committing partition %" PRId32, s->partition);
    return -1;
}

static void observe_redis_call(hf_pipeline *p, const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    hf_metric_observe(p->m.redis_call, (double)(t1.tv_sec - t0->tv_sec) +
                                           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9);
}

/* What follows the commit of stream s's batch to Redis, by its outcome. */
static void committed_stream(hf_pipeline *p, slot *s, hf_redis_status st, const char *err)
{
    switch (st) {
    case HF_REDIS_OK:
        s->in_cycle = 1;
        return;
    case HF_REDIS_FENCED:
        drop_slot(p, s, "fenced in Redis (another instance took it)");
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
        if (recover(p, one, 1) >= 0 && s->part != NULL)
            seek_applied(p, s);
        return;
    }
    case HF_REDIS_UNAVAILABLE:
        fail(p, "partition %" PRId32 ": stopped while Redis was unavailable: %s; "
                "nothing committed", s->partition, err);
        return;
    default:
        fail(p, "partition %" PRId32 ": Redis commit failed: %s", s->partition, err);
        return;
    }
}

/*
 * Commits the prepared batch of stream s to Redis and waits for it, waiting
 * out an outage (the batch is committed as it is, however often retried).
 */
static void commit_stream_sync(hf_pipeline *p, slot *s)
{
    char err[512];
    int backoff = 0;
    hf_redis_status st;
    for (;;) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        st = hf_redis_commit(p->redis, s->part, s->rb, err, sizeof(err));
        observe_redis_call(p, &t0);
        if (st != HF_REDIS_UNAVAILABLE || unavailable_wait(p, &backoff, "commit", err) != 0)
            break;
    }
    available_again(p, backoff);
    committed_stream(p, s, st, err);
}

static int any_pending(const hf_pipeline *p)
{
    for (int32_t i = 0; i < p->nslots; i++)
        if (p->slots[i].pending && p->slots[i].part != NULL)
            return 1;
    return 0;
}

/* Publishes the streams committed to Redis in this cycle, and pending ones. */
static void publish_cycle(hf_pipeline *p)
{
    slot **v = malloc((size_t)(p->nslots > 0 ? p->nslots : 1) * sizeof(*v));
    size_t n = 0;
    if (v == NULL) {
        fail(p, "out of memory");
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
            recover(p, v, n);
        else
            publish_async(p, v, n);
    }
    for (int32_t i = 0; i < p->nslots; i++)
        p->slots[i].in_cycle = 0;
    free(v);
}

static void process_message_redis(worker *w, slot *s, const batch_item *b)
{
    hf_pipeline *p = w->p;
    rd_kafka_message_t *m = b->m;
    int t = b->topic;
    tpstate *tp = tp_find(p, t, m->partition);
    if (tp == NULL || !tp->assigned || tp->lost || s->refs == 0 || s->part == NULL ||
        s->dropped || m->offset < tp->done)
        return; /* not ours, or applied already */
    char why[512];
    hf_event e;
    int outcome = OUT_APPLIED;
    if (hf_kafka_input_decode(w->dec, m, &e, why, sizeof(why)) != 0) {
        outcome = OUT_INVALID;
        hf_stream_count_invalid(&s->st);
        rd_kafka_headers_t *orig = NULL;
        if (rd_kafka_message_headers(m, &orig) != RD_KAFKA_RESP_ERR_NO_ERROR)
            orig = NULL;
        rd_kafka_headers_t *h = hf_dead_letter_headers(orig, why, rd_kafka_topic_name(m->rkt),
                                                       m->partition, m->offset, hf_clock_wall_ms());
        hf_buf_reset(&w->env);
        if (h == NULL ||
            hf_eos_envelope_encode(&w->env, p->cfg->dead_letter_topic, m->key == NULL,
                                   m->payload, m->len, h) != 0 ||
            outbox_add(w, s, m->key, m->key_len) != 0) {
            if (h != NULL)
                rd_kafka_headers_destroy(h);
            fail(p, "out of memory adding a dead letter to the outbox");
            return;
        }
        rd_kafka_headers_destroy(h);
        w->c->dead_letters++;
        if (p->m.dead_letters != NULL)
            hf_metric_add(p->m.dead_letters[(size_t)t * DL_COUNT + (size_t)dl_class(why)], 1);
    } else {
        check_partition(w, t, m, &e);
        uint64_t duplicate = s->st.stats.duplicate, late = s->st.stats.late;
        if (stream_process(s, b, &e) != 0 ||
            mark_dirty(s, e.customer_id, e.customer_id_len) != 0) {
            fail(p, "out of memory processing %s [%" PRId32 "] at offset %" PRId64,
                 rd_kafka_topic_name(m->rkt), m->partition, m->offset);
            return;
        }
        outcome = s->st.stats.duplicate != duplicate ? OUT_DUPLICATE
                  : s->st.stats.late != late         ? OUT_LATE
                                                     : OUT_APPLIED;
        if (e.event_time > s->max_event_time)
            s->max_event_time = e.event_time;
    }
    if (w->pending != NULL)
        w->pending[(size_t)t * OUT_COUNT + (size_t)outcome]++;
    tp->done = m->offset + 1;
    tp->touched = 1;
}

/*
 * Applies the messages of the stream whose run starts at batch item i (of
 * the items up to end) and prepares its commit (s->prepared); returns where
 * the next stream's run starts, and the stream in *sp (NULL: not ours).
 */
static size_t compute_stream(worker *w, size_t i, size_t end, slot **sp)
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
        hf_redis_batch_clear(s->rb);
        for (; j < end && p->work[j].partition == part && !p->failed; j++) {
            prefetch_ahead(p, j, i, end);
            process_message_redis(w, s, &p->work[j]);
        }
        w->cur = NULL;
        if (!p->failed)
            s->prepared = prepare_stream(p, s);
    }
    while (j < end && p->work[j].partition == part)
        j++;
    return j;
}

/* Sends stream s's prepared commit, or queues it for a synchronous one. */
static void send_stream(hf_pipeline *p, slot *s, size_t *nsent, size_t *nsync)
{
    char err[512];
    if (*nsync == 0 &&
        hf_redis_commit_send(p->redis, s->part, s->rb, err, sizeof(err)) == HF_REDIS_OK) {
        clock_gettime(CLOCK_MONOTONIC, &s->sent_at);
        p->sent[(*nsent)++] = s;
    } else {
        p->sync[(*nsync)++] = s; /* and the rest of the batch with it */
    }
}

/*
 * The helper thread's part of a batch with Redis: compute its streams, and
 * hand each over to the loop as it is done (the loop sends it); then destroy
 * their messages.
 */
static void compute_items(worker *w, size_t begin, size_t end)
{
    hf_pipeline *p = w->p;
    size_t n = 0;
    for (size_t i = begin; i < end && !p->failed;) {
        slot *s;
        i = compute_stream(w, i, end, &s);
        p->computed[n++] = s;
        atomic_store_explicit(&p->ncomputed, n, memory_order_release);
    }
    for (size_t i = begin; i < end; i++) {
        rd_kafka_message_destroy(p->work[i].m);
        p->work[i].m = NULL;
    }
}

/* Sends on the streams the helper thread has computed since the last call. */
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
 */
static void process_batch_redis(hf_pipeline *p)
{
    /*
     * As with the memory store, the helper thread computes the streams of
     * the batch's first part (split_point) while the loop computes the
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
    size_t split = split_point(p);
    p->w1.end = split;
    atomic_store_explicit(&p->ncomputed, 0, memory_order_relaxed);
    p->ncollected = 0;
    if (split > 0)
        helper_start(p, split, compute_items);
    for (size_t i = split; i < p->nwork && !p->failed;) {
        slot *s;
        i = compute_stream(&p->w0, i, p->nwork, &s);
        if (s != NULL && !p->failed && s->prepared == 1)
            send_stream(p, s, &nsent, &nsync);
        send_computed(p, &nsent, &nsync);
    }
    if (split > 0) {
        helper_join(p);
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
        observe_redis_call(p, &s->sent_at);
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
        publish_cycle(p);
}

/*--- Rebalancing ----------------------------------------------------------------*/

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
    slot_reset(s, NULL, 0);
}

/*
 * Assignment with Redis state: per new stream, acquire it (a new epoch) and
 * load its customers; republish what its outbox holds beyond the committed
 * offsets' metadata (one transaction with the offsets); start each
 * topic-partition at the offset after the last one applied in Redis.
 */
static void on_assign_redis(hf_pipeline *p, rd_kafka_t *rk,
                            rd_kafka_topic_partition_list_t *parts)
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
        fail(p, "cannot read the committed offsets of the assigned partitions: %s",
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
    if (fresh == NULL || (maxpart >= 0 && slot_get(p, maxpart) == NULL)) {
        free(fresh);
        fail(p, "out of memory");
        rd_kafka_topic_partition_list_destroy(committed);
        return;
    }
    for (int i = 0; i < parts->cnt && !p->failed; i++) {
        rd_kafka_topic_partition_t *e = &parts->elems[i];
        int t = topic_index(p, e->topic);
        tpstate *tp = t >= 0 ? tp_get(p, t, e->partition) : NULL;
        slot *s = tp ? slot_get(p, e->partition) : NULL;
        if (s == NULL) {
            fail(p, "out of memory assigning %s [%" PRId32 "]", e->topic, e->partition);
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
        recover(p, fresh, nfresh);
    free(fresh);
    for (int i = 0; i < parts->cnt && !p->failed; i++) {
        rd_kafka_topic_partition_t *e = &parts->elems[i];
        int t = topic_index(p, e->topic);
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

/*
 * Where a partition with no committed offset starts: auto.offset.reset as
 * a logical offset. Given no offset, librdkafka 2.0 fetched the committed
 * offsets once more and then reset after a fixed 100 ms wait. "error" (or
 * a value librdkafka refused already) stays with librdkafka.
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

static void on_assign(hf_pipeline *p, rd_kafka_t *rk,
                      rd_kafka_topic_partition_list_t *parts)
{
    if (p->redis != NULL) {
        on_assign_redis(p, rk, parts);
        return;
    }
    /* Committed offsets: where live output resumes; state is rebuilt below them. */
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, parts, METADATA_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *e = &parts->elems[i];
        int t = topic_index(p, e->topic);
        tpstate *tp = t >= 0 ? tp_get(p, t, e->partition) : NULL;
        slot *s = tp ? slot_get(p, e->partition) : NULL;
        if (s == NULL) {
            fail(p, "out of memory assigning %s [%" PRId32 "]", e->topic, e->partition);
            return;
        }
        if (s->refs == 0) {
            if (hf_stream_init(&s->st, p->eng, emit_signal, p) != 0) {
                fail(p, "out of memory assigning %s [%" PRId32 "]", e->topic, e->partition);
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

static void on_revoke(hf_pipeline *p, rd_kafka_t *rk,
                      const rd_kafka_topic_partition_list_t *parts, int lost)
{
    if (lost && p->redis != NULL)
        for (int i = 0; i < parts->cnt; i++) {
            int t = topic_index(p, parts->elems[i].topic);
            if (t >= 0 && parts->elems[i].partition < p->tps_cap[t])
                p->tps[t][parts->elems[i].partition].lost = 1;
        }
    process_batch(p);
    publisher_wait(p);
    if (lost)
        hf_log_warn("pipeline", "assignment lost: not committing the revoked partitions");
    else if (p->redis == NULL)
        commit(p, 1);
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &parts->elems[i];
        int t = topic_index(p, e->topic);
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

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    hf_pipeline *p = opaque;
    batch_finish(p); /* the helper thread may still be on the last batch */
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
        fail(p, "partition assignment failed: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fail(p, "partition assignment failed: %s", rd_kafka_err2str(aerr));
    }
}

/*--- Set-up -------------------------------------------------------------------------*/

/* Partition counts of the input topics; checks the output topics exist. */
static int check_topics(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(p->consumer, 1, NULL, &md,
                                                METADATA_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "cannot read the topic list from the brokers: %s",
                 rd_kafka_err2str(err));
        return -1;
    }
    int rc = 0;
    const char *need[2] = {p->cfg->output_topic, p->cfg->dead_letter_topic};
    const char *what[2] = {"output.topic", "dead_letter.topic"};
    for (size_t k = 0; k < p->ntopics + 2 && rc == 0; k++) {
        const char *name = k < p->ntopics ? p->cfg->input_topics[k] : need[k - p->ntopics];
        int found = 0;
        for (int i = 0; i < md->topic_cnt; i++) {
            const struct rd_kafka_metadata_topic *mt = &md->topics[i];
            if (strcmp(mt->topic, name) != 0 || mt->err != RD_KAFKA_RESP_ERR_NO_ERROR)
                continue;
            found = 1;
            if (k < p->ntopics)
                p->partition_cnt[k] = mt->partition_cnt;
        }
        if (!found) {
            snprintf(errstr, errstr_size, "%s \"%s\" does not exist",
                     k < p->ntopics ? "input topic" : what[k - p->ntopics], name);
            rc = -1;
        }
    }
    rd_kafka_metadata_destroy(md);
    for (size_t k = 1; rc == 0 && k < p->ntopics; k++)
        if (p->partition_cnt[k] != p->partition_cnt[0])
            hf_log_warn("pipeline",
                        "input topics are not co-partitioned: %s has %" PRId32
                        " partitions, %s has %" PRId32,
                        p->cfg->input_topics[0], p->partition_cnt[0],
                        p->cfg->input_topics[k], p->partition_cnt[k]);
    return rc;
}

static int output_schema(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    const hf_config *cfg = p->cfg;
    if (cfg->output_format != HF_FORMAT_AVRO)
        return 0;
    if (cfg->output_schema_id > 0) {
        p->out_schema_id = (int32_t)cfg->output_schema_id;
        return 0;
    }
    if (cfg->schema_registry_url[0] == '\0') {
        snprintf(errstr, errstr_size,
                 "output.format=avro needs schema.registry.url or output.schema.id");
        return -1;
    }
    p->out_schemas = hf_schema_source_new(cfg->schema_registry_url, NULL, errstr,
                                          errstr_size);
    if (p->out_schemas == NULL)
        return -1;
    hf_schema_source_set_timeouts(p->out_schemas, 2000,
                                  (long)cfg->schema_registry_timeout_ms);
    char subject[512];
    snprintf(subject, sizeof(subject), "%s-value", cfg->output_topic);
    return hf_schema_source_register(p->out_schemas, subject, hf_avro_switch_signal_schema_json,
                                     &p->out_schema_id, errstr, errstr_size);
}

/*
 * A Kafka client of conf (taken over either way) whose callbacks get p:
 * the error callback always; what else type needs is set by the caller.
 * NULL with errstr when librdkafka refuses it.
 */
static rd_kafka_t *client_new(hf_pipeline *p, rd_kafka_type_t type, rd_kafka_conf_t *conf,
                              char *errstr, size_t errstr_size)
{
    char why[512];
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_t *rk = rd_kafka_new(type, conf, why, sizeof(why));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "cannot create the Kafka %s: %s",
                 type == RD_KAFKA_PRODUCER ? "producer" : "consumer", why);
    }
    return rk;
}

/*
 * Creates the producer and the output topic handle; with exactly_once,
 * initialises transactions (which fences a predecessor with our
 * transactional.id). Returns 0, or -1 with errstr.
 */
static int producer_open(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    const hf_kafka_setting producer_settings[] = {
        {"client.id", "hirefire-run", HF_KAFKA_DEFAULT, NULL},
        {"enable.idempotence", "true", HF_KAFKA_DEFAULT, NULL},
        {"linger.ms", "5", HF_KAFKA_DEFAULT, NULL},
        /*
         * A transaction that starts right after the last one committed is
         * told CONCURRENT_TRANSACTIONS until the coordinator has written
         * the last one's markers (a few ms); librdkafka then waits
         * retry.backoff.ms (100 by default) before asking again.
         */
        {"retry.backoff.ms", "10", HF_KAFKA_DEFAULT, NULL},
        /* only with exactly_once: */
        {"transaction.timeout.ms", TXN_TIMEOUT_MS, HF_KAFKA_DEFAULT, NULL},
        {"transactional.id", p->txn_id, HF_KAFKA_DEFAULT, NULL},
    };
    size_t nproducer = sizeof(producer_settings) / sizeof(producer_settings[0]) -
                       (p->eos ? 0 : 2);
    rd_kafka_conf_t *conf =
        hf_kafka_conf_new(p->cfg, producer_settings, nproducer, errstr, errstr_size);
    if (conf == NULL)
        return -1;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    p->producer = client_new(p, RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (p->producer == NULL)
        return -1;
    p->out_rkt = rd_kafka_topic_new(p->producer, p->cfg->output_topic, NULL);
    if (p->out_rkt == NULL) {
        snprintf(errstr, errstr_size, "output.topic \"%s\": %s", p->cfg->output_topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    if (p->eos) {
        rd_kafka_error_t *error =
            rd_kafka_init_transactions(p->producer, (int)METADATA_TIMEOUT_MS * 3);
        if (error != NULL) {
            snprintf(errstr, errstr_size, "cannot initialise Kafka transactions: %s",
                     rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            return -1;
        }
    }
    return 0;
}

static void producer_close(hf_pipeline *p)
{
    if (p->out_rkt != NULL)
        rd_kafka_topic_destroy(p->out_rkt);
    p->out_rkt = NULL;
    if (p->producer != NULL)
        rd_kafka_destroy(p->producer);
    p->producer = NULL;
}

/*
 * After a fatal transactional error (e.g. the coordinator aborted a
 * transaction that outlived transaction.timeout.ms while the broker was
 * down, and fenced this producer): a new producer with the same
 * transactional.id. What the dead one did not commit is in the outboxes.
 * Returns 0, or -1 (failed).
 */
static int producer_renew(hf_pipeline *p, const char *why)
{
    char err[512];
    hf_log_warn("pipeline", "the Kafka producer cannot go on (%s): starting a new one; "
                "the outboxes in Redis are published again", why);
    rd_kafka_purge(p->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    producer_close(p);
    for (int attempt = 1;; attempt++) {
        if (producer_open(p, err, sizeof(err)) == 0)
            return 0;
        producer_close(p);
        if (attempt == 5 || stopping(p)) {
            fail(p, "%s", err);
            return -1;
        }
        hf_log_warn("pipeline", "%s: retrying", err);
        sleep_ms(BACKOFF_MAX_MS);
    }
}

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
    p->idle_since = -1;
    atomic_init(&p->assigned, 0);
    atomic_init(&p->store_unavailable, 0);
    atomic_init(&p->failed, 0);
    pthread_mutex_init(&p->fail_mu, NULL);
    pthread_mutex_init(&p->pub_mu, NULL);
    pthread_cond_init(&p->pub_cv, NULL);
    p->pub_async = calloc(1, sizeof(*p->pub_async));
    p->pub_sync = calloc(1, sizeof(*p->pub_sync));
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
    if (metrics_init(p, errstr, errstr_size) != 0)
        goto error;
    if (workers_init(p, errstr, errstr_size) != 0 || output_schema(p, errstr, errstr_size) != 0)
        goto error;

    static const hf_kafka_setting consumer_settings[] = {
        /* first: only with metrics (consumer lag from the statistics) */
        {"statistics.interval.ms", "5000", HF_KAFKA_DEFAULT, NULL},
        {"group.id", "hirefire", HF_KAFKA_DEFAULT, NULL},
        {"client.id", "hirefire-run", HF_KAFKA_DEFAULT, NULL},
        {"partition.assignment.strategy", "cooperative-sticky", HF_KAFKA_DEFAULT, NULL},
        {"auto.offset.reset", "earliest", HF_KAFKA_DEFAULT, NULL},
        {"enable.auto.commit", "false", HF_KAFKA_REQUIRED,
         "hirefire commits offsets after their signals are delivered"},
        {"enable.auto.offset.store", "false", HF_KAFKA_REQUIRED,
         "hirefire commits explicit offsets"},
        {"enable.partition.eof", "true", HF_KAFKA_REQUIRED,
         "hirefire tracks which partitions are at their end"},
    };
    /*
     * exactly_once (with Redis): a transactional producer whose id is
     * "<group.id>-<group.instance.id or client.id>" unless
     * kafka.transactional.id says otherwise: a restarted instance fences its
     * predecessor's open transaction; each instance needs its own id.
     */
    p->group = hf_config_kafka_get(cfg, "group.id");
    if (p->group == NULL)
        p->group = "hirefire";
    const char *inst = hf_config_kafka_get(cfg, "group.instance.id");
    if (inst == NULL)
        inst = hf_config_kafka_get(cfg, "client.id");
    /* Neither set: the host name, which differs between instances on
     * different hosts (containers, pods) and stays across restarts. */
    char host[256] = "hirefire-run";
    if (inst == NULL && gethostname(host, sizeof(host) - 1) == 0)
        host[sizeof(host) - 1] = '\0';
    snprintf(p->txn_id, sizeof(p->txn_id), "%s-%s", p->group, inst != NULL ? inst : host);
    if (cfg->store_backend != HF_STORE_MEMORY) {
        p->eos = cfg->processing_guarantee == HF_GUARANTEE_EXACTLY_ONCE;
        p->redis = hf_redis_open(cfg, errstr, errstr_size);
        if (p->redis == NULL)
            goto error;
    }
    size_t skip = p->opts.metrics != NULL ? 0 : 1;
    rd_kafka_conf_t *conf = hf_kafka_consumer_conf_new(
        cfg, consumer_settings + skip,
        sizeof(consumer_settings) / sizeof(consumer_settings[0]) - skip, errstr, errstr_size);
    if (conf == NULL)
        goto error;
    if (p->opts.metrics != NULL)
        rd_kafka_conf_set_stats_cb(conf, stats_cb);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    p->consumer = client_new(p, RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
    if (p->consumer == NULL)
        goto error;
    rd_kafka_poll_set_consumer(p->consumer);
    p->consumer_q = rd_kafka_queue_get_consumer(p->consumer);

    if (producer_open(p, errstr, errstr_size) != 0 || check_topics(p, errstr, errstr_size) != 0)
        goto error;
    if (p->redis != NULL)
        hf_log_info("pipeline", "state in Redis at %s (group %s), %s", hf_redis_address(p->redis),
                    p->group, p->eos ? "exactly once (transactional.id set)" : "at least once");
    return p;
error:
    hf_pipeline_destroy(p);
    return NULL;
}

/*--- The loop ---------------------------------------------------------------------------*/

/* Takes one consumer event; returns 1 when it was a message for the batch. */
static int take(hf_pipeline *p, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* The topic handle of the last message's topic names the same. */
        if (m->rkt != p->take_rkt) {
            p->take_rkt = m->rkt;
            p->take_topic = topic_index(p, rd_kafka_topic_name(m->rkt));
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
        int t = m->rkt ? topic_index(p, rd_kafka_topic_name(m->rkt)) : -1;
        if (t >= 0 && m->partition < p->tps_cap[t])
            p->tps[t][m->partition].eof = 1;
    } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        /* e.g. a static member fenced after a coordinator restart: the
         * consumer is dead; a restart of hirefire recovers from Redis. */
        fail(p, "the Kafka consumer cannot go on: %s; restart hirefire (what was "
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

static int stopping(const hf_pipeline *p)
{
    return p->failed || (p->opts.stop != NULL && *p->opts.stop);
}

int hf_pipeline_run(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *topics =
        rd_kafka_topic_partition_list_new((int)p->ntopics);
    for (size_t i = 0; i < p->ntopics; i++)
        rd_kafka_topic_partition_list_add(topics, p->cfg->input_topics[i],
                                          RD_KAFKA_PARTITION_UA);
    /*
     * Handles for the input topics before subscribing: librdkafka then has
     * their partitions' leaders when the first assignment arrives. Without
     * them, a partition assigned at a logical offset (Redis: "from the
     * beginning") whose leader was not known yet waited librdkafka's 500 ms
     * offset-query retry before its first fetch.
     */
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
    p->last_commit = hf_clock_mono_ms();
    int64_t closed = hf_clock_mono_ms();
    while (!stopping(p)) {
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
        /*
         * A batch takes what is fetched already, and waits batch.linger.ms
         * for more: from its first message's arrival or, for a message that
         * was waiting, from the last batch's close (it arrived while that
         * batch was processed). It closes at batch.max.events, when nothing
         * more is fetched past the linger, or once it has taken messages
         * for commit.interval.ms. With the default linger 0, batches grow
         * with the load and an event waits for one batch at most.
         */
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
        rd_kafka_poll(p->producer, 0);
        closed = hf_clock_mono_ms();
        /* The last batch first: what follows reads its offsets and counts. */
        batch_finish(p);
        metrics_gauges(p, 0);
        int64_t now = hf_clock_mono_ms();
        if (p->redis == NULL) {
            checkpoints_commit(p);
            if (now - p->last_commit >= p->cfg->commit_interval_ms)
                checkpoint_take(p);
        }
        if (p->redis != NULL && now >= p->pending_at && any_pending(p))
            publish_cycle(p);
        if (p->opts.max_idle_ms > 0) {
            /*
             * Idle since the batch that reached the end was done, or (when
             * something else did: an end-of-partition event, a rebalance)
             * since now.
             */
            if (!all_at_end(p)) {
                p->idle_since = -1;
                p->not_end_at = now;
            } else if (p->idle_since < 0) {
                p->idle_since = p->progress_at > p->not_end_at ? p->progress_at : now;
            }
            if (p->idle_since >= 0 && now - p->idle_since >= p->opts.max_idle_ms) {
                hf_log_info("pipeline", "every partition at its end for %" PRId64
                            " ms: stopping", p->opts.max_idle_ms);
                break;
            }
        }
        process_batch_start(p, opened, closed);
    }
    if (!p->failed)
        hf_log_info("pipeline", "stopping: finishing the open batch");
    process_batch(p);
    publisher_wait(p);
    metrics_gauges(p, 1);
    if (p->redis == NULL)
        commit(p, 1);
    /* Closing revokes what is left (the rebalance callback commits again). */
    err = rd_kafka_consumer_close(p->consumer);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        hf_log_warn("pipeline", "closing the consumer: %s", rd_kafka_err2str(err));
    if (!p->failed && rd_kafka_flush(p->producer, (int)p->cfg->shutdown_timeout_ms) !=
                          RD_KAFKA_RESP_ERR_NO_ERROR)
        fail(p, "%d messages not delivered within shutdown.timeout.ms",
             rd_kafka_outq_len(p->producer));
    if (p->failed) {
        snprintf(errstr, errstr_size, "%s", p->error);
        return -1;
    }
    return 0;
}

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
            publication_free(pb);
        free(pb);
    }
    for (size_t i = 0; i < p->nbatch; i++)
        rd_kafka_message_destroy(p->batch[i].m);
    for (size_t i = 0; i < p->nwork; i++)
        if (p->work[i].m != NULL)
            rd_kafka_message_destroy(p->work[i].m);
    for (size_t i = 0; i < p->ck_n; i++)
        rd_kafka_topic_partition_list_destroy(p->ck[(p->ck_head + i) % CK_MAX].offsets);
    if (p->consumer_q != NULL)
        rd_kafka_queue_destroy(p->consumer_q);
    for (size_t i = 0; p->in_rkt != NULL && i < p->ntopics; i++)
        if (p->in_rkt[i] != NULL)
            rd_kafka_topic_destroy(p->in_rkt[i]);
    free(p->in_rkt);
    if (p->consumer != NULL)
        rd_kafka_destroy(p->consumer);
    producer_close(p);
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
    workers_free(p);
    hf_schema_source_destroy(p->out_schemas);
    metrics_free(&p->m);
    pthread_mutex_destroy(&p->fail_mu);
    pthread_mutex_destroy(&p->pub_mu);
    pthread_cond_destroy(&p->pub_cv);
    free(p);
}
