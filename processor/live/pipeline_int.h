/*
 * pipeline_int.h - what the files of the live loop share: its constants, the
 * state of topic-partitions and streams, the workers, the pipeline itself,
 * and the functions one file of live/ calls in another. Not for use outside
 * live/.
 */
#ifndef HF_PIPELINE_INT_H
#define HF_PIPELINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "codec/registry.h"
#include "kafka/input.h"
#include "kafka/produce.h"
#include "live/batch.h"
#include "live/checkpoints.h"
#include "live/pipeline.h"
#include "redis/store_redis.h"
#include "util/buf.h"

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

/*
 * Threads. The loop thread runs hf_pipeline_run and every librdkafka
 * callback of the consumer (rebalances, offset commit results, statistics:
 * all served by its consumer polls). The helper thread applies the first
 * part of a batch (its streams) between helper_start and helper_join. The
 * publisher thread runs one publication at a time (store.backend=redis)
 * between publish_async and publisher_wait. The producer's callbacks
 * (delivery reports, errors) run in whichever of these polls or flushes it.
 * The HTTP thread only reads the readiness atomics.
 */

/* One assigned input topic-partition. The loop thread's; an applying
 * thread writes done and touched of the streams it holds. */
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

/*
 * One stream: a partition number of the input topics. The loop thread's,
 * except while a batch is applied: then the thread applying the stream's
 * items (batch.h's split) owns st, max_event_time, dirty, out and rb, up to
 * helper_join (or, for the helper's streams with Redis, up to the release
 * of ncomputed that hands the stream to the loop).
 */
typedef struct slot {
    int refs; /* assigned topic-partitions with this number; 0: no stream */
    hf_stream st;           /* st.opaque: the worker applying it */
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
    double sent_at;         /* when rb went to Redis (monotonic s) */
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
/* Classes of dead-letter reasons (hirefire_dead_letters_total{reason_class}). */
enum { DL_DECODE, DL_SCHEMA, DL_INVALID, DL_COUNT };
/* Rebalance callbacks (hirefire_rebalances_total{type}). */
enum { RB_ASSIGN, RB_REVOKE, RB_LOST, RB_COUNT };

/* Metric handles, looked up once; all NULL when metrics are off. Updated
 * by the loop thread (signals and dead letters: by the applying thread;
 * hf_metric_add is atomic). */
typedef struct pipeline_metrics {
    hf_metric **events;       /* [topic * OUT_COUNT + outcome] */
    uint64_t *pending;        /* the same, counted in the open batch (the loop's) */
    hf_metric **dead_letters; /* [topic * DL_COUNT + class] */
    hf_metric *signals[HF_MAX_BEHAVIOURS][2][HF_CAUSE_COUNT];
    hf_metric *rebalances[RB_COUNT];
    hf_metric *batch_size, *commit_latency, *customers;
    hf_metric *txn_committed, *txn_aborted, *redis_call;
    int64_t gauges_at;        /* last gauge update (monotonic ms) */
} pipeline_metrics;

typedef struct publication publication;
/* The publisher thread's state (pub_state), under pub_mu. */
enum { PUB_IDLE, PUB_SUBMITTED, PUB_DONE };

/* How a publication (or a wait for one, or a republish) ended. */
typedef enum pub_result {
    PUB_FAILED = -1,       /* the pipeline failed (hf_live_fail) */
    PUBLISHED = 0,         /* done (or nothing to do) */
    PUB_ABORTED = 1,       /* the transaction was aborted: the entries are still
                              in Redis, to be republished */
    PUB_PRODUCER_DEAD = 2, /* the producer cannot go on: a new one republishes */
} pub_result;

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
 * clock and outputs belong to one of them at a time). The signal callback
 * of a stream gets the worker applying it (st.opaque).
 */
typedef struct worker {
    hf_pipeline *p;
    hf_kafka_input *dec;
    hf_buf enc, frame;       /* an encoded signal */
    hf_buf env;              /* redis: an outbox envelope */
    slot *cur;               /* redis: the stream being processed */
    int outbox;              /* signals and dead letters go to the stream's outbox
                                (commit_ops.outbox), not to the producer */
    int suppress;            /* re-reading: signals and dead letters dropped */
    hf_pipeline_counters *c; /* where its counts go */
    uint64_t *pending;       /* metrics: events by outcome, or NULL */
    int64_t wrong_logged_at;
    uint64_t wrong_unlogged;
    /*
     * The helper thread. Hand-over under mu: the loop sets begin, end, job
     * and busy = 1 (helper_start); the helper clears busy when done
     * (helper_join waits for it). Until then own, pending, done_at and the
     * fields above are the helper's; after it, the loop's.
     */
    hf_pipeline_counters own;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int busy;                /* items [begin, end) handed over, not done */
    int quit;
    size_t begin, end;
    void (*job)(struct worker *w, size_t begin, size_t end);
    int share;               /* its part of a batch, in 1/SHARE_UNITS (the loop's) */
    int64_t done_at;         /* when it finished its last part (ms) */
} worker;

/*
 * The commit path: what the state store (store.backend) does at each point
 * of the loop. One table per store, chosen once at start-up (p->ops); its
 * functions are called per batch, per poll or per rebalance, never per
 * message. All @locality loop thread, except the two callbacks.
 */
typedef struct commit_ops {
    /* Assignment: streams for the new partition numbers; sets where each
     * topic-partition of parts starts (its offset). */
    void (*assign)(hf_pipeline *p, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts);
    /* Before parts are revoked (lost: the assignment is lost): finishes the
     * open batch and commits what may be committed. */
    void (*revoke)(hf_pipeline *p, const rd_kafka_topic_partition_list_t *parts, int lost);
    /* Applies the grouped batch p->work; the memory store may leave the
     * helper's part running (batch_finish completes it). */
    void (*process_batch)(hf_pipeline *p);
    /* After each poll, the last batch finished: periodic commits, retries. */
    void (*tick)(hf_pipeline *p, int64_t now);
    /* At the end of the run, the open batch processed: the last commit. */
    void (*finish)(hf_pipeline *p);
    /* The producer's delivery report callback (opaque: p).
     * @locality librdkafka callback (producer poll or flush: any thread) */
    void (*delivered)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
    /* The streams' signal callback (opaque: the worker applying the stream).
     * @locality loop thread or helper thread */
    hf_signal_fn emit;
    int outbox; /* signals and dead letters go to the stream's outbox */
} commit_ops;

extern const commit_ops hf_live_commit_memory; /* commit_memory.c */
extern const commit_ops hf_live_commit_redis;  /* commit_redis.c */

/*
 * The loop. Unless a field says otherwise, the loop thread's alone (the
 * consumer's callbacks run in it).
 */
struct hf_pipeline {
    const hf_config *cfg;
    const hf_engine *eng;
    hf_pipeline_opts opts;
    const commit_ops *ops;   /* the state store's commit path, set once */
    rd_kafka_t *consumer;
    rd_kafka_queue_t *consumer_q; /* where asynchronous commit results arrive */
    rd_kafka_topic_t **in_rkt;    /* the input topics, known before any assignment */
    rd_kafka_t *producer;    /* thread-safe; renewed only by the loop, with no
                                publication under way */
    rd_kafka_topic_t *out_rkt;
    worker w0;               /* the loop's own */
    worker w1;               /* the helper thread's */

    /* output encoding */
    hf_schema_source *out_schemas;
    int32_t out_schema_id;

    /* input topics (cfg->input_topics order) and their partitions; read by
     * the applying threads during a batch, changed only between batches */
    size_t ntopics;
    int32_t *partition_cnt;
    tpstate **tps;  /* [topic][partition] */
    int32_t *tps_cap;
    slot *slots;    /* [partition] */
    int32_t nslots;

    /* the open batch */
    batch_item *batch;       /* the open batch, as taken */
    size_t nbatch, cap;
    batch_item *work;        /* the batch being processed, grouped by stream;
                                items [0, w1.end) are the helper's while it runs */
    size_t nwork;
    int work_open;           /* memory: the helper thread may still be on it */
    int64_t work_opened, work_closed; /* when it opened and closed (ms) */
    rd_kafka_message_t **polled; /* what one consumer call returned */
    const rd_kafka_topic_t *take_rkt; /* take(): the last message's topic handle */
    int take_topic;                   /* and its index in input.topics */
    size_t *starts, starts_cap;

    hf_live_ckring ck;       /* memory: checkpoints (checkpoints.h says who writes) */
    int64_t last_commit;
    int64_t idle_since;      /* -1: not idle */
    int64_t not_end_at;      /* when a partition was last seen short of its end */
    int64_t progress_at;     /* when the last batch was done */

    atomic_int failed;       /* stop; commit nothing more (any thread sets it) */
    char error[512];         /* under fail_mu, written once */
    pthread_mutex_t fail_mu; /* hf_live_fail runs in any thread */

    hf_stream_stats retired; /* streams dropped on revoke */
    uint64_t retired_customers;
    hf_pipeline_counters c;

    /* store.backend=redis */
    hf_redis *redis;         /* the loop thread's connection */
    int eos;                 /* processing.guarantee=exactly_once */
    char txn_id[512];        /* the producer's transactional.id */
    const char *group;
    slot **sent, **sync;     /* streams of the batch: commits sent, commits to retry */
    slot **computed;         /* redis: the helper's streams as it computes them;
                                entry i is written before ncomputed > i */
    atomic_size_t ncomputed; /* how many of them it has computed (release by the
                                helper, acquire by the loop) */
    size_t ncollected;       /* how many of them the loop has sent on */
    int64_t pending_at;      /* when to retry the republish of pending slots */
    /*
     * The publisher thread: one publication at a time, the loop goes on.
     * pub_async is the publisher's from PUB_SUBMITTED to PUB_DONE, else the
     * loop's; pub_state and pub_quit under pub_mu.
     */
    publication *pub_async;  /* handed to the thread */
    publication *pub_sync;   /* published by the loop itself (recoveries) */
    pthread_t pub_thread;
    int pub_started;
    pthread_mutex_t pub_mu;
    pthread_cond_t pub_cv;
    int pub_state;           /* PUB_*, under pub_mu */
    int pub_quit;

    pipeline_metrics m;
    atomic_int assigned;          /* topic-partitions held (readiness: HTTP thread) */
    atomic_int store_unavailable; /* set by the Redis outage handling (readiness) */
};

/* The state of topic-partition (t, part) if the tables have it, or NULL
 * (then it was never assigned); changes nothing.
 * @locality loop thread or helper thread */
static inline tpstate *tp_find(hf_pipeline *p, int t, int32_t part)
{
    return t >= 0 && part >= 0 && part < p->tps_cap[t] ? &p->tps[t][part] : NULL;
}

/* @locality any */
static inline int stopping(const hf_pipeline *p)
{
    return p->failed || (p->opts.stop != NULL && *p->opts.stop);
}

/* @locality loop thread */
static inline void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* pipeline.c */
void hf_live_fail(hf_pipeline *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int hf_live_topic_index(const hf_pipeline *p, const char *topic);
tpstate *hf_live_tp_get(hf_pipeline *p, int t, int32_t part);
slot *hf_live_slot_get(hf_pipeline *p, int32_t part);

/* pipeline_metrics.c */
int hf_live_metrics_init(hf_pipeline *p, char *errstr, size_t errstr_size);
void hf_live_metrics_free(pipeline_metrics *pm);
int hf_live_dl_class(const char *why);
void hf_live_metrics_flush_events(hf_pipeline *p);
void hf_live_metrics_gauges(hf_pipeline *p, int force);
int hf_live_stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque);

/* clients.c */
int hf_live_output_schema(hf_pipeline *p, char *errstr, size_t errstr_size);
void hf_live_producer_close(hf_pipeline *p);
int hf_live_producer_renew(hf_pipeline *p, const char *why);
int hf_live_clients_open(hf_pipeline *p, char *errstr, size_t errstr_size);

/* batch.c */
int hf_live_out_append(slot *s, const void *key, size_t key_len, const void *env,
                       size_t env_len);
void hf_live_emit_produce(void *opaque, const hf_signal *s);
void hf_live_emit_outbox(void *opaque, const hf_signal *s);
size_t hf_live_compute_stream(worker *w, size_t i, size_t end, slot **sp);
void hf_live_compute_items(worker *w, size_t begin, size_t end);
int hf_live_workers_init(hf_pipeline *p, char *errstr, size_t errstr_size);
void hf_live_workers_free(hf_pipeline *p);
size_t hf_live_split(hf_pipeline *p);
void hf_live_helper_start(hf_pipeline *p, size_t split,
                          void (*job)(worker *w, size_t begin, size_t end));
void hf_live_helper_join(hf_pipeline *p);
void hf_live_process_batch_memory(hf_pipeline *p);
void hf_live_batch_finish(hf_pipeline *p);
void hf_live_process_batch_start(hf_pipeline *p, int64_t opened, int64_t closed);
void hf_live_process_batch(hf_pipeline *p);

/* commit_redis.c */
void hf_live_slot_reset(slot *s, hf_redis_part *part, int dropped);
void hf_live_drop_slot(hf_pipeline *p, slot *s, const char *why);
int hf_live_outbox_refill(hf_pipeline *p, slot *s);
void hf_live_add_offsets(hf_pipeline *p, const slot *s, rd_kafka_topic_partition_list_t *list);
int hf_live_prepare_stream(hf_pipeline *p, slot *s);

/* publish.c */
publication *hf_live_publication_new(void);
void hf_live_publication_free(publication *pb);
pub_result hf_live_publisher_wait(hf_pipeline *p);
pub_result hf_live_recover(hf_pipeline *p, slot **v, size_t n);
void hf_live_publish_cycle(hf_pipeline *p);

/* rebalance.c */
void hf_live_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t *parts, void *opaque);

#endif
