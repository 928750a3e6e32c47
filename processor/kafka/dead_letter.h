/*
 * dead_letter.h - sends input messages that cannot be processed to the
 * dead-letter topic: the original key, value and headers, plus
 *   hirefire.error             the reason (e.g. "wrong magic byte 0x7b (expected 0x00)")
 *   hirefire.source.topic      the input topic
 *   hirefire.source.partition  its partition, decimal
 *   hirefire.source.offset     the message's offset, decimal
 *   hirefire.time              when it was dead-lettered, ms since the epoch, decimal
 * Header values are text without a terminating NUL.
 */
#ifndef HF_DEAD_LETTER_H
#define HF_DEAD_LETTER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define HF_DL_ERROR "hirefire.error"
#define HF_DL_TOPIC "hirefire.source.topic"
#define HF_DL_PARTITION "hirefire.source.partition"
#define HF_DL_OFFSET "hirefire.source.offset"
#define HF_DL_TIME "hirefire.time"

/*
 * A new header list: a copy of `original` (may be NULL) followed by the five
 * hirefire.* headers. Returns NULL when out of memory. The caller owns it.
 */
rd_kafka_headers_t *hf_dead_letter_headers(const rd_kafka_headers_t *original,
                                           const char *reason,
                                           const char *topic,
                                           int32_t partition, int64_t offset,
                                           int64_t now_ms);

/*
 * Produces the dead letter of consumed message m to dl_topic with producer
 * rk (key and value copied, partition chosen by the producer's partitioner
 * from the key). msg_opaque goes to the delivery report. Waits (serving
 * rk's callbacks) while the producer queue is full, up to timeout_ms.
 * Returns 0, or -1 with errstr.
 */
int hf_dead_letter_produce(rd_kafka_t *rk, const char *dl_topic,
                           rd_kafka_message_t *m, const char *reason,
                           int64_t now_ms, void *msg_opaque, int timeout_ms,
                           char *errstr, size_t errstr_size);

#endif
