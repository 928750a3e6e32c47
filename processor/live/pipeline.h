/*
 * pipeline.h - the live loop of `hirefire run`: a consumer group on the
 * input topics, one stream per partition number, signals to the output
 * topic, bad input to the dead-letter topic; with Redis state exactly once
 * (below), else offsets committed after the signals they caused are
 * delivered (at-least-once).
 *
 * The loop, one batch at a time:
 *   1. poll up to batch.max.events messages (waits at most 100 ms for the
 *      first, then takes what is already fetched);
 *   2. order the batch by stream (partition number), keeping the consumer's
 *      order within a stream: offset order per topic-partition; with several
 *      co-partitioned input topics, the events of one stream are applied in
 *      the order the consumer returned them (no merge by timestamp);
 *   3. per stream: decode, dead-letter what cannot be processed, apply the
 *      rest, produce the signals (keyed by customer_id);
 *   4. every commit.interval.ms: take a checkpoint of the processed offsets;
 *      a checkpoint is committed (asynchronously, without stopping the
 *      loop) once every signal and dead letter produced before it is
 *      delivered. On revoke and shutdown: flush the producer, then commit
 *      synchronously.
 * Step 3 is the per-partition batch boundary that a state store or a
 * transaction hooks into.
 *
 * store.backend=redis (the default for run; ARCHITECTURE.md "Exactly-once
 * with Redis state", store_redis.h, eos.h). On assignment of a partition
 * number: hf_redis_acquire (a new fencing epoch), load its customers into
 * the stream, read the group's committed offsets with their metadata
 * ("hf:outbox=<seq>"), republish the outbox entries after that sequence
 * (with the offsets, in one transaction), trim the outbox, and start each
 * input topic-partition at the offset after the last one applied in Redis
 * (the beginning when none), whatever Kafka's committed offset says. A batch
 * closes at batch.max.events messages or commit.interval.ms; per stream, its
 * changed customers, outbox entries (every signal and every dead letter, as
 * eos.h envelopes), last offsets and clock go to Redis in ONE transaction
 * (pipelined: Redis runs it while the next stream is computed; the replies
 * are read before anything else is done with Redis); then, for all streams of the batch, one Kafka transaction produces the
 * outbox entries and sends the offsets (last + 1, metadata = the outbox
 * sequence; KIP-447 group metadata) and commits; then the outboxes are
 * trimmed. A Redis answer of FENCED drops the stream (never written again
 * until re-assigned), CONFLICT acquires and loads it again (and seeks), and
 * UNAVAILABLE pauses every assigned partition and retries the same batch
 * (100 ms doubling to 5 s; /readyz says "redis unavailable") until Redis
 * answers: nothing is skipped or committed past an unapplied event. An
 * aborted transaction republishes the outboxes of its streams from Redis.
 * processing.guarantee=at_least_once: no transactions; the idempotent
 * producer, a flush, then a synchronous offset commit with the metadata.
 * The producer's transactional.id is "<group.id>-<group.instance.id or
 * client.id>" unless kafka.transactional.id is set: give each instance its
 * own. While Redis is unavailable the consumer is not polled; an outage
 * longer than max.poll.interval.ms costs the group membership (the
 * partitions are fenced and taken over, nothing is lost).
 *
 * store.backend=memory (tests and development): state is in memory. A
 * partition's state is not lost when the partition moves or the process
 * restarts: on assignment the partition is read from its beginning, and the
 * messages before the group's committed offset are applied silently (no
 * signals, no dead letters) to rebuild the state, then processing continues
 * live. This needs the input topics' retention to keep every event. Offsets
 * are committed every commit.interval.ms once delivered (at least once).
 *
 * Rebalances: cooperative-sticky by default; on revoke the pending batch is
 * finished and committed and the streams of partitions no longer held are
 * dropped; on assign a new, empty stream is made per new partition number.
 * The sticky assignors do not keep co-partitioned topics together across
 * several instances: with several input topics and several instances, set
 * kafka.partition.assignment.strategy=range (eager rebalances also work).
 * When librdkafka reports the assignment lost (a session timeout, or a
 * commit that raced with a rebalance and failed with ILLEGAL_GENERATION),
 * nothing is committed for it: the next owner processes the uncommitted
 * part again, so signals may repeat (same signal_id) but are never missing.
 *
 * Events whose customer_id belongs to another partition (librdkafka's
 * consistent partitioner, partitioner.h) are counted and logged at most
 * every 10 s, and processed where they are.
 *
 * Metrics (opts.metrics, metrics.h; handles looked up once, updated per
 * batch, never looked up per event):
 *   hirefire_events_total{topic,outcome}   applied|invalid|duplicate|late,
 *       live messages only (re-read ones are not counted again)
 *   hirefire_signals_total{behaviour,kind,cause}   signals produced
 *   hirefire_dead_letters_total{topic,reason_class}   decode (not JSON, not
 *       framed, not an Avro datum, no value) | schema (unknown or unusable
 *       writer schema id) | invalid (decoded, but breaks the event rules)
 *   hirefire_batch_size   messages per stream per batch
 *   hirefire_commit_latency_seconds   one flush + offset commit
 *   hirefire_rebalances_total{type}   assign|revoke|lost callbacks
 *   hirefire_customers_cached, hirefire_event_time_lag_seconds{partition}
 *       (wall clock minus the latest event time of the stream), set about
 *       every second
 *   hirefire_consumer_lag{topic,partition}   from librdkafka's statistics
 *       (statistics.interval.ms 5000 unless kafka.statistics.interval.ms)
 */
#ifndef HF_PIPELINE_H
#define HF_PIPELINE_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config/config.h"
#include "core/engine.h"
#include "core/event.h"
#include "core/stream.h"
#include "ops/metrics.h"

/*--- The live loop ------------------------------------------------------------*/

typedef struct hf_pipeline_opts {
    int64_t max_idle_ms;               /* > 0: stop when every assigned partition
                                          has been at its end this long */
    volatile sig_atomic_t *stop;       /* becomes non-zero: stop (signal handler) */
    hf_metrics *metrics;               /* borrowed, outlives the pipeline; NULL: none */
} hf_pipeline_opts;

typedef struct hf_pipeline_counters {
    uint64_t messages;        /* consumed, including re-read ones */
    uint64_t restored;        /* re-read to rebuild state (no output) */
    uint64_t dead_letters;    /* produced to dead_letter.topic */
    uint64_t wrong_partition; /* events in a partition their key does not map to */
    uint64_t signals;         /* produced to output.topic */
    uint64_t batches;
    uint64_t commits;
} hf_pipeline_counters;

typedef struct hf_pipeline hf_pipeline;

/*
 * Creates the consumer and the producer and checks the input topics exist.
 * Borrows cfg and eng (they must outlive the pipeline). Returns NULL with
 * errstr.
 */
hf_pipeline *hf_pipeline_new(const hf_config *cfg, const hf_engine *eng,
                             const hf_pipeline_opts *opts, char *errstr,
                             size_t errstr_size);

/*
 * Runs until *opts->stop, --max-idle-ms, or a fatal error; then finishes the
 * open batch, flushes, commits and closes the consumer. Returns 0 after a
 * clean stop, or -1 with errstr (nothing more is committed then).
 */
int hf_pipeline_run(hf_pipeline *p, char *errstr, size_t errstr_size);

/* Counters so far; stats summed over every stream ever held. */
void hf_pipeline_stats(const hf_pipeline *p, hf_stream_stats *stats,
                       hf_pipeline_counters *counters, uint64_t *customers);

/*
 * Readiness, for /readyz (http.h's hf_http_ready_fn): returns 1 when ready,
 * else 0 with the reason in why: "no partitions assigned" (before the first
 * assignment, or when none is held), "redis unavailable" (the state store
 * said so). Reads atomics only: safe from any thread while p lives.
 */
int hf_pipeline_ready(const hf_pipeline *p, char *why, size_t why_size);

void hf_pipeline_destroy(hf_pipeline *p); /* accepts NULL */

#endif
