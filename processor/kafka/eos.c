/*
 * eos.c - outbox envelopes, offset metadata and Kafka transactions of the
 * exactly-once pipeline. See eos.h.
 */
#include "kafka/eos.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka/produce.h"
#include "util/clock.h"
#include "util/log.h"


static int put_varint(hf_buf *out, uint64_t x)
{
    uint8_t v[10];
    size_t n = 0;
    while (x >= 0x80) {
        v[n++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    v[n++] = (uint8_t)x;
    return hf_buf_append(out, v, n);
}

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *x)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *x = v;
            return 0;
        }
    }
    return -1;
}

int hf_eos_envelope_encode(hf_buf *out, const char *topic, int key_null,
                           const void *value, size_t value_len,
                           const rd_kafka_headers_t *headers)
{
    uint8_t head[2] = {HF_EOS_ENVELOPE_VERSION,
                       (uint8_t)((key_null ? HF_EOS_KEY_NULL : 0) |
                                 (value == NULL ? HF_EOS_VALUE_NULL : 0))};
    size_t tlen = strlen(topic);
    size_t nh = headers != NULL ? rd_kafka_header_cnt(headers) : 0;
    if (hf_buf_append(out, head, 2) != 0 || put_varint(out, tlen) != 0 ||
        hf_buf_append(out, topic, tlen) != 0 || put_varint(out, nh) != 0)
        return -1;
    for (size_t i = 0; i < nh; i++) {
        const char *name;
        const void *val;
        size_t size;
        if (rd_kafka_header_get_all(headers, i, &name, &val, &size) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            return -1;
        size_t nlen = strlen(name);
        if (put_varint(out, nlen) != 0 || hf_buf_append(out, name, nlen) != 0 ||
            put_varint(out, val == NULL ? 0 : (uint64_t)size + 1) != 0 ||
            (val != NULL && hf_buf_append(out, val, size) != 0))
            return -1;
    }
    if (value != NULL && hf_buf_append(out, value, value_len) != 0)
        return -1;
    return 0;
}

int hf_eos_envelope_decode(const void *env, size_t len, hf_eos_message *m,
                           char *errstr, size_t errstr_size)
{
    const uint8_t *p = env, *end = p + len;
    memset(m, 0, sizeof(*m));
    if (len < 2) {
        snprintf(errstr, errstr_size, "outbox entry: truncated");
        return -1;
    }
    if (p[0] != HF_EOS_ENVELOPE_VERSION) {
        snprintf(errstr, errstr_size, "outbox entry: unknown envelope version %u",
                 (unsigned)p[0]);
        return -1;
    }
    m->flags = p[1];
    p += 2;
    uint64_t tlen, nh;
    if (get_varint(&p, end, &tlen) != 0 || tlen > (uint64_t)(end - p))
        goto truncated;
    m->topic = (const char *)p;
    m->topic_len = (size_t)tlen;
    p += tlen;
    if (get_varint(&p, end, &nh) != 0 || nh > (uint64_t)(end - p))
        goto truncated;
    if (nh > 0) {
        m->headers = rd_kafka_headers_new((size_t)nh);
        if (m->headers == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
    }
    for (uint64_t i = 0; i < nh; i++) {
        uint64_t nlen, vlen;
        if (get_varint(&p, end, &nlen) != 0 || nlen > (uint64_t)(end - p))
            goto truncated;
        const char *name = (const char *)p;
        p += nlen;
        if (get_varint(&p, end, &vlen) != 0 ||
            (vlen > 0 && vlen - 1 > (uint64_t)(end - p)))
            goto truncated;
        const void *val = vlen > 0 ? p : NULL;
        size_t size = vlen > 0 ? (size_t)(vlen - 1) : 0;
        p += size;
        if (rd_kafka_header_add(m->headers, name, (ssize_t)nlen, val, (ssize_t)size) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            goto truncated;
    }
    if (m->flags & HF_EOS_VALUE_NULL) {
        if (p != end)
            goto truncated;
    } else {
        m->value = p;
        m->value_len = (size_t)(end - p);
    }
    return 0;
truncated:
    if (m->headers != NULL)
        rd_kafka_headers_destroy(m->headers);
    m->headers = NULL;
    snprintf(errstr, errstr_size, "outbox entry: truncated");
    return -1;
}

int hf_eos_produce(rd_kafka_t *rk, const void *key, size_t key_len,
                   const void *env, size_t env_len, int timeout_ms,
                   char *errstr, size_t errstr_size)
{
    hf_eos_message m;
    if (hf_eos_envelope_decode(env, env_len, &m, errstr, errstr_size) != 0)
        return -1;
    char topic[256];
    if (m.topic_len >= sizeof(topic)) {
        rd_kafka_headers_destroy(m.headers);
        snprintf(errstr, errstr_size, "outbox entry: topic name too long");
        return -1;
    }
    memcpy(topic, m.topic, m.topic_len);
    topic[m.topic_len] = '\0';
    const void *k = (m.flags & HF_EOS_KEY_NULL) ? NULL : key;
    size_t klen = k != NULL ? key_len : 0;
    hf_produce_msg pm = {.topic = topic, .partition = RD_KAFKA_PARTITION_UA, .key = k,
                         .key_len = klen, .value = m.value, .value_len = m.value_len,
                         .headers = m.headers};
    rd_kafka_resp_err_t err = hf_produce(rk, &pm, timeout_ms); /* the headers are not ours now */
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    snprintf(errstr, errstr_size, "cannot produce to %s: %s", topic, rd_kafka_err2str(err));
    return -1;
}

size_t hf_eos_metadata_format(char *buf, size_t size, uint64_t seq)
{
    int n = snprintf(buf, size, HF_EOS_METADATA_PREFIX "%" PRIu64, seq);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

int hf_eos_metadata_parse(const void *md, size_t len, uint64_t *seq)
{
    const char *s = md;
    size_t plen = sizeof(HF_EOS_METADATA_PREFIX) - 1;
    *seq = 0;
    if (md == NULL || len <= plen || memcmp(s, HF_EOS_METADATA_PREFIX, plen) != 0 ||
        len - plen > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = plen; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *seq = v;
    return 0;
}

hf_eos_txn_status hf_eos_txn_abort(rd_kafka_t *producer, int timeout_ms,
                                   char *errstr, size_t errstr_size)
{
    rd_kafka_error_t *error = rd_kafka_abort_transaction(producer, timeout_ms);
    if (error == NULL)
        return HF_EOS_TXN_ABORTED;
    snprintf(errstr, errstr_size, "aborting the transaction failed: %s",
             rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return HF_EOS_TXN_FATAL;
}

/* Classifies a transaction error: abort it, or give up. */
static hf_eos_txn_status txn_failed(rd_kafka_t *producer, rd_kafka_error_t *error,
                                    const char *what, int timeout_ms, char *errstr,
                                    size_t errstr_size)
{
    snprintf(errstr, errstr_size, "%s: %s", what, rd_kafka_error_string(error));
    int abortable = rd_kafka_error_txn_requires_abort(error);
    rd_kafka_error_destroy(error);
    if (!abortable)
        return HF_EOS_TXN_FATAL;
    char why[512];
    if (hf_eos_txn_abort(producer, timeout_ms, why, sizeof(why)) != HF_EOS_TXN_ABORTED) {
        size_t n = strlen(errstr);
        snprintf(errstr + n, errstr_size - n, "; %s", why);
        return HF_EOS_TXN_FATAL;
    }
    return HF_EOS_TXN_ABORTED;
}

hf_eos_txn_status hf_eos_txn_finish(rd_kafka_t *producer,
                                    const rd_kafka_consumer_group_metadata_t *gm,
                                    const rd_kafka_topic_partition_list_t *offsets,
                                    int timeout_ms, int retry_ms, char *errstr,
                                    size_t errstr_size)
{
    int64_t deadline = hf_clock_mono_ms() + retry_ms;
    rd_kafka_error_t *error;
    if (offsets != NULL && offsets->cnt > 0) {
        for (;;) {
            error = rd_kafka_send_offsets_to_transaction(producer, offsets, gm,
                                                         timeout_ms);
            if (error == NULL)
                break;
            if (rd_kafka_error_is_retriable(error) && hf_clock_mono_ms() < deadline) {
                hf_log_warn("kafka", "sending the offsets to the transaction: %s: retrying",
                            rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                continue;
            }
            return txn_failed(producer, error, "sending the offsets to the transaction",
                              timeout_ms, errstr, errstr_size);
        }
    }
    for (;;) {
        error = rd_kafka_commit_transaction(producer, timeout_ms);
        if (error == NULL)
            return HF_EOS_TXN_OK;
        if (rd_kafka_error_is_retriable(error) && hf_clock_mono_ms() < deadline) {
            hf_log_warn("kafka", "committing the transaction: %s: retrying",
                        rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            continue;
        }
        return txn_failed(producer, error, "committing the transaction", timeout_ms,
                          errstr, errstr_size);
    }
}
