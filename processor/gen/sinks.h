/*
 * sinks.h - where `gen` and `produce` put events. gen.h includes this
 * header.
 */
#ifndef HF_SINKS_H
#define HF_SINKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "core/event.h"

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
