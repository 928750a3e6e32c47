/*
 * dead_letter.c - input messages that cannot be processed, with the reason
 * and their origin in headers, to the dead-letter topic.
 */
#include "kafka/dead_letter.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kafka/produce.h"
static int add(rd_kafka_headers_t *h, const char *name, const char *value)
{
    return rd_kafka_header_add(h, name, -1, value, (ssize_t)strlen(value)) ==
                   RD_KAFKA_RESP_ERR_NO_ERROR
               ? 0
               : -1;
}

rd_kafka_headers_t *hf_dead_letter_headers(const rd_kafka_headers_t *original,
                                           const char *reason,
                                           const char *topic,
                                           int32_t partition, int64_t offset,
                                           int64_t now_ms)
{
    rd_kafka_headers_t *h = original ? rd_kafka_headers_copy(original)
                                     : rd_kafka_headers_new(5);
    char part[16], off[24], when[24];
    if (h == NULL)
        return NULL;
    snprintf(part, sizeof(part), "%" PRId32, partition);
    snprintf(off, sizeof(off), "%" PRId64, offset);
    snprintf(when, sizeof(when), "%" PRId64, now_ms);
    if (add(h, HF_DL_ERROR, reason) != 0 || add(h, HF_DL_TOPIC, topic) != 0 ||
        add(h, HF_DL_PARTITION, part) != 0 || add(h, HF_DL_OFFSET, off) != 0 ||
        add(h, HF_DL_TIME, when) != 0) {
        rd_kafka_headers_destroy(h);
        return NULL;
    }
    return h;
}

int hf_dead_letter_produce(rd_kafka_t *rk, const char *dl_topic,
                           rd_kafka_message_t *m, const char *reason,
                           int64_t now_ms, void *msg_opaque, int timeout_ms,
                           char *errstr, size_t errstr_size)
{
    rd_kafka_headers_t *orig = NULL;
    if (rd_kafka_message_headers(m, &orig) != RD_KAFKA_RESP_ERR_NO_ERROR)
        orig = NULL; /* none */
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_headers_t *h = hf_dead_letter_headers(orig, reason, topic,
                                                   m->partition, m->offset,
                                                   now_ms);
    if (h == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    hf_produce_msg pm = {.topic = dl_topic, .partition = RD_KAFKA_PARTITION_UA,
                         .key = m->key, .key_len = m->key_len, .value = m->payload,
                         .value_len = m->len, .headers = h, .opaque = msg_opaque};
    rd_kafka_resp_err_t err = hf_produce(rk, &pm, timeout_ms); /* h is not ours now */
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    snprintf(errstr, errstr_size,
             "cannot produce the dead letter of %s [%" PRId32 "] at offset %" PRId64
             " to %s: %s",
             topic, m->partition, m->offset, dl_topic, rd_kafka_err2str(err));
    return -1;
}
