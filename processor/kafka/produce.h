/* produce.h - producing one message, waiting while the producer's queue is full. */
#ifndef HF_PRODUCE_H
#define HF_PRODUCE_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* Milliseconds a producer waits by default for room in a full queue. */
#define HF_PRODUCE_QUEUE_FULL_WAIT_MS 60000

/* One message to produce; the payload and key are copied. */
typedef struct hf_produce_msg {
    rd_kafka_topic_t *rkt;        /* the topic handle, or NULL to name it: */
    const char *topic;            /* the topic by name (when rkt is NULL) */
    int32_t partition;            /* RD_KAFKA_PARTITION_UA: the partitioner's choice */
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    rd_kafka_headers_t *headers;  /* NULL, or owned by the call (see below) */
    void *opaque;                 /* the delivery report's msg_opaque */
} hf_produce_msg;

/*
 * Produces m. While the queue is full it serves delivery reports
 * (rd_kafka_poll) and tries again, for at most timeout_ms. Returns
 * RD_KAFKA_RESP_ERR_NO_ERROR, or the error of the last attempt. The headers
 * belong to the message once produced and are destroyed on failure: either
 * way the caller no longer owns them.
 */
rd_kafka_resp_err_t hf_produce(rd_kafka_t *rk, const hf_produce_msg *m, int timeout_ms);

#endif
