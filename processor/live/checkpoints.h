/*
 * checkpoints.h - the checkpoint ring of store.backend=memory: offsets wait
 * in checkpoints until every signal and dead letter produced before them is
 * delivered; then they are committed. Produced messages carry their
 * generation (the checkpoint they belong to) as opaque; the ring counts the
 * messages in flight per generation (CK_RING counters) and holds CK_MAX
 * checkpoints at most. Pure bookkeeping: no Kafka calls.
 */
#ifndef HF_LIVE_CHECKPOINTS_H
#define HF_LIVE_CHECKPOINTS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define CK_MAX 32
#define CK_RING (CK_MAX + 1)

typedef struct checkpoint {
    uint64_t gen;
    int64_t at; /* when it was taken (monotonic ms) */
    rd_kafka_topic_partition_list_t *offsets;
} checkpoint;

/*
 * The loop thread owns head, n, gen and the checkpoints; the in-flight
 * counters are atomics (relaxed): the threads that produce add to them, the
 * delivery report callback subtracts. A counter is reset only when its
 * generation starts, in the loop thread, before anything of it is produced.
 */
typedef struct hf_live_ckring {
    checkpoint ck[CK_MAX]; /* waiting checkpoints, oldest at head */
    size_t head, n;
    uint64_t gen;          /* the generation being produced */
    atomic_uint_fast64_t inflight[CK_RING]; /* messages in flight, by gen % CK_RING */
} hf_live_ckring;

/* An empty ring: generation 0, nothing in flight. @locality any (set-up) */
void hf_live_ckring_init(hf_live_ckring *r);

/* One message of generation gen produced (after the producer took it).
 * @locality loop thread or helper thread */
static inline void ckring_sent(hf_live_ckring *r, uint64_t gen)
{
    atomic_fetch_add_explicit(&r->inflight[gen % CK_RING], 1, memory_order_relaxed);
}

/* One message of generation gen delivered or failed (its delivery report).
 * @locality librdkafka callback (producer poll or flush: any thread) */
static inline void ckring_delivered(hf_live_ckring *r, uint64_t gen)
{
    atomic_fetch_sub_explicit(&r->inflight[gen % CK_RING], 1, memory_order_relaxed);
}

/* 1 when CK_MAX checkpoints wait. @locality loop thread */
static inline int ckring_full(const hf_live_ckring *r)
{
    return r->n == CK_MAX;
}

/*
 * Closes the generation being produced with the offsets taken at `at`
 * (owned by the ring from now on): it becomes the newest checkpoint, and the
 * next generation starts with nothing in flight. The ring must not be full.
 * Returns the checkpoint. @locality loop thread
 */
checkpoint *hf_live_ckring_push(hf_live_ckring *r, int64_t at,
                                rd_kafka_topic_partition_list_t *offsets);

/*
 * The oldest checkpoint when every message of its generation is delivered
 * (those of older generations are, since they left the ring), else NULL.
 * @locality loop thread
 */
const checkpoint *hf_live_ckring_ready(const hf_live_ckring *r);

/* Removes the oldest checkpoint and returns its offsets (now the caller's);
 * NULL when the ring is empty. @locality loop thread */
rd_kafka_topic_partition_list_t *hf_live_ckring_pop(hf_live_ckring *r);

#endif
