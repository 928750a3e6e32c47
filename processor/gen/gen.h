/*
 * gen.h - synthetic customer journeys: a deterministic stream of purchase and
 * return events for demos, tests and benchmarks (`hirefire gen`).
 *
 * The population has four kinds of customers, assigned by a hash of the seed
 * and the customer number, with fixed shares:
 *   40% one-time buyers  one purchase, then nothing for 1-3 years
 *   30% repeat buyers    a purchase every 10-45 days; 8% of orders partly returned
 *   10% heavy returners  a purchase every 7-30 days; 70% of orders returned,
 *                        mostly in full, 2-10 days later
 *   20% lapsing buyers   3-8 purchases 5-25 days apart, then 4-13 months of
 *                        silence, then again
 * Customers make their first purchase on a day in the first 180 days after
 * the start day. Orders have 1-6 items of 4.99-79.99 EUR each (amounts in
 * cents); a return belongs to its order (same order_id) and gives back some
 * or all of its items and the same share of the money. Event times advance
 * in order, except that 1% of events are made 1 minute to 3 hours late
 * (never before the customer's previous event); those that end up earlier
 * than an event already emitted are counted as late in hf_gen_stats.
 *
 * Ids: event_id "e<seed>-<n>" (unique; n counts from 1), customer_id
 * "c<number>" (7 digits or more), order_id "o<seed>-<n>".
 * The same options give the same events, byte for byte.
 */
#ifndef HF_GEN_H
#define HF_GEN_H

#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "core/event.h"

typedef struct hf_gen_opts {
    uint64_t seed;       /* any value; part of the ids */
    uint32_t customers;  /* population size, >= 1 */
    uint64_t events;     /* how many events hf_gen_next() gives */
    int64_t start_ms;    /* 00:00 UTC of the start day */
} hf_gen_opts;

typedef struct hf_gen hf_gen;

/* Returns NULL when out of memory or customers is 0. */
hf_gen *hf_gen_new(const hf_gen_opts *opts);
void hf_gen_destroy(hf_gen *g); /* accepts NULL */

/*
 * The next event, or 0 at the end (after opts.events events). The strings of
 * e point into g and stay valid until the next call. Returns 1 or 0.
 */
int hf_gen_next(hf_gen *g, hf_event *e);

/* Events per kind of customer so far, indexed by hf_gen_kind. */
typedef enum hf_gen_kind {
    HF_GEN_ONE_TIME = 0,
    HF_GEN_REPEAT = 1,
    HF_GEN_RETURNER = 2,
    HF_GEN_LAPSING = 3,
    HF_GEN_KINDS = 4
} hf_gen_kind;

typedef struct hf_gen_stats {
    uint64_t purchases;
    uint64_t returns;
    uint64_t late;
    uint64_t customers_seen;      /* distinct customers with an event */
    uint64_t by_kind[HF_GEN_KINDS];
} hf_gen_stats;

void hf_gen_get_stats(const hf_gen *g, hf_gen_stats *out);

/* The kind of customer number i (0-based) for this seed. */
hf_gen_kind hf_gen_kind_of(uint64_t seed, uint32_t customer);

/*--- Event sinks: where `gen` and `produce` put events --------------------------
 *
 * A file of JSON lines; an Avro object container file of customer_event.avsc
 * records (no compression, blocks of about 64 KiB, the 16-byte sync marker
 * derived from a seed so the same events give the same bytes); or a Kafka
 * topic: key = customer_id, value = the event as JSON or Confluent-framed
 * Avro (framing.h) with a given schema id. The Kafka producer is idempotent,
 * lingers 5 ms and uses librdkafka's `consistent_random` partitioner (CRC-32
 * of the key, partitioner.h; NOT the Java client's murmur2), which the
 * processor uses to check that a customer's events are in its partition.
 */

typedef enum hf_sink_format {
    HF_SINK_JSON = 0,
    HF_SINK_AVRO = 1
} hf_sink_format;

typedef struct hf_gen_sink hf_gen_sink;

/* path "-" is standard output. Returns NULL with errstr. */
hf_gen_sink *hf_gen_sink_file_open(const char *path, hf_sink_format format,
                                   uint64_t sync_seed, char *errstr,
                                   size_t errstr_size);

/*
 * A producer to `topic`. brokers: bootstrap servers, or NULL to use
 * kafka.bootstrap.servers from cfg; cfg's kafka.* keys pass through
 * (partitioner must stay consistent_random). Checks that the topic exists
 * (10 s metadata timeout). schema_id: for HF_SINK_AVRO. Returns NULL with
 * errstr, e.g. `topic "t" does not exist (brokers 127.0.0.1:9092)`.
 */
hf_gen_sink *hf_gen_sink_kafka_open(const hf_config *cfg, const char *brokers,
                                    const char *topic, hf_sink_format format,
                                    int32_t schema_id, char *errstr,
                                    size_t errstr_size);

/* Returns 0, or -1 with errstr (write error, or a failed Kafka delivery). */
int hf_gen_sink_write(hf_gen_sink *k, const hf_event *e, char *errstr,
                      size_t errstr_size);

/* Serves Kafka delivery reports while waiting (a sleep for files). */
void hf_gen_sink_wait(hf_gen_sink *k, int timeout_ms);

/*
 * Flushes and closes (Kafka: waits up to 60 s for every delivery). When
 * summary is not NULL, writes one line per partition that received messages:
 * `  partition 3: 1234 messages` (Kafka only). When count is not NULL, sets
 * it to the messages written or delivered. Returns 0, or -1 with errstr
 * (e.g. `12 messages were not delivered: Local: Message timed out`).
 * Frees k either way; accepts NULL.
 */
int hf_gen_sink_close(hf_gen_sink *k, FILE *summary, uint64_t *count,
                      char *errstr, size_t errstr_size);

/* Messages written (files) or delivered (Kafka) so far. */
uint64_t hf_gen_sink_count(const hf_gen_sink *k);

#endif
