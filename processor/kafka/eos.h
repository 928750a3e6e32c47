/*
 * eos.h - the Kafka side of exactly-once with Redis state (ARCHITECTURE.md,
 * "Exactly-once with Redis state"): the outbox envelope, the committed
 * offset metadata that says which outbox entries a committed transaction
 * carried, producing an envelope, and finishing a Kafka transaction.
 *
 * Outbox envelope. Every message the live pipeline publishes (signals and
 * dead letters) is first written to the partition's Redis outbox
 * (store_redis.h) as (Kafka key, envelope); the envelope carries the rest of
 * the message so that republishing it after a crash is exact:
 *   byte 0     version, 1
 *   byte 1     flags: 1 = the key is NULL (not empty), 2 = the value is NULL
 *   varint     topic length, then the topic
 *   varint     header count, then per header: varint name length, name,
 *              varint (value length + 1, 0 = NULL value), value
 *   the rest   the message value
 * Varints are unsigned LEB128 (7 bits a byte, low first).
 *
 * Offset metadata. The offsets a transaction commits for input partition p
 * carry "hf:outbox=<seq>" (decimal): the partition's outbox sequence after
 * the batch, i.e. every outbox entry <= seq is in Kafka.
 */
#ifndef HF_EOS_H
#define HF_EOS_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "util/buf.h"

#define HF_EOS_ENVELOPE_VERSION 1
#define HF_EOS_KEY_NULL 1u
#define HF_EOS_VALUE_NULL 2u
#define HF_EOS_METADATA_PREFIX "hf:outbox="

/*
 * Appends the envelope of a message to out: topic, value (NULL allowed),
 * headers (NULL: none), key_null says whether the Kafka key is NULL.
 * Returns 0, or -1 when out of memory.
 */
int hf_eos_envelope_encode(hf_buf *out, const char *topic, int key_null,
                           const void *value, size_t value_len,
                           const rd_kafka_headers_t *headers);

/* A decoded envelope; pointers into the envelope's bytes. */
typedef struct hf_eos_message {
    unsigned flags;
    const char *topic;
    size_t topic_len;
    const void *value;            /* NULL when HF_EOS_VALUE_NULL */
    size_t value_len;
    rd_kafka_headers_t *headers;  /* owned; NULL when none */
} hf_eos_message;

/*
 * Decodes an envelope. Returns 0 (free m->headers with
 * rd_kafka_headers_destroy, or hand them to the producer), or -1 with
 * errstr: "outbox entry: unknown envelope version 7", "outbox entry: truncated".
 */
int hf_eos_envelope_decode(const void *env, size_t len, hf_eos_message *m,
                           char *errstr, size_t errstr_size);

/*
 * Produces an outbox entry (its key and envelope) with rk, copying the
 * bytes; the partition is chosen by rk's partitioner from the key. Waits
 * (serving rk's callbacks) while the queue is full, up to timeout_ms.
 * Returns 0, or -1 with errstr.
 */
int hf_eos_produce(rd_kafka_t *rk, const void *key, size_t key_len,
                   const void *env, size_t env_len, int timeout_ms,
                   char *errstr, size_t errstr_size);

/* Writes "hf:outbox=<seq>" into buf (at least 32 bytes); returns its length. */
size_t hf_eos_metadata_format(char *buf, size_t size, uint64_t seq);

/*
 * The outbox sequence in committed offset metadata: 0 with *seq set, or -1
 * when the metadata is absent or not ours (then *seq = 0).
 */
int hf_eos_metadata_parse(const void *md, size_t len, uint64_t *seq);

typedef enum hf_eos_txn_status {
    HF_EOS_TXN_OK = 0,
    HF_EOS_TXN_ABORTED = 1, /* abortable error: the transaction was aborted */
    HF_EOS_TXN_FATAL = 2    /* the producer cannot go on (fenced, fatal) */
} hf_eos_txn_status;

/*
 * Finishes the open transaction of producer: sends offsets (may be NULL or
 * empty) with the consumer group metadata gm (KIP-447: a zombie whose
 * generation is stale is refused), then commits. Each call waits up to
 * timeout_ms; retriable errors (e.g. a broker restarting) are retried, with
 * a warning, for up to retry_ms in all. On an abortable error aborts the
 * transaction and returns HF_EOS_TXN_ABORTED; errstr says why in either
 * failure case. Any thread may call it, for one transaction at a time.
 */
hf_eos_txn_status hf_eos_txn_finish(rd_kafka_t *producer,
                                    const rd_kafka_consumer_group_metadata_t *gm,
                                    const rd_kafka_topic_partition_list_t *offsets,
                                    int timeout_ms, int retry_ms, char *errstr,
                                    size_t errstr_size);

/* Aborts the open transaction (after an error elsewhere); as above. */
hf_eos_txn_status hf_eos_txn_abort(rd_kafka_t *producer, int timeout_ms,
                                   char *errstr, size_t errstr_size);

#endif
