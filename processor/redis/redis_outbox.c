/*
 * redis_outbox.c - the partition's outbox (T:outbox, store_redis.h): the
 * layout of an entry (its sequence in HF_REDIS_SEQ_DIGITS hex digits, a
 * varint key length, the key, the value), reading the entries after a
 * sequence, the fenced trim, and the length.
 */
#include "redis/redis_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define OUTBOX_CHUNK 1000

/*--- Entries ----------------------------------------------------------------*/

int hf_redis_outbox_entry_append(hf_buf *data, const void *key, size_t key_len,
                                 const void *value, size_t value_len)
{
    uint8_t v[10];
    size_t nv = 0;
    uint64_t x = key_len;
    while (x >= 0x80) {
        v[nv++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    v[nv++] = (uint8_t)x;
    size_t off = data->len;
    if (hf_buf_reserve(data, HF_REDIS_SEQ_DIGITS + nv + key_len + value_len) != 0)
        return -1;
    memset(data->data + off, '0', HF_REDIS_SEQ_DIGITS);
    data->len += HF_REDIS_SEQ_DIGITS;
    hf_buf_append(data, v, nv);
    hf_buf_append(data, key, key_len);
    hf_buf_append(data, value, value_len);
    return 0;
}

/* Splits an outbox entry into its sequence, key and value. 0, or -1. */
static int parse_entry(const char *s, size_t len, uint64_t *seq, const char **key,
                       size_t *klen, const char **val, size_t *vlen)
{
    uint64_t v = 0;
    if (len < HF_REDIS_SEQ_DIGITS + 1)
        return -1;
    for (int i = 0; i < HF_REDIS_SEQ_DIGITS; i++) {
        int h = hf_redis_hexval((unsigned char)s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + (uint64_t)h;
    }
    size_t pos = HF_REDIS_SEQ_DIGITS;
    uint64_t k = 0;
    for (int shift = 0;; shift += 7) {
        if (pos >= len || shift > 63)
            return -1;
        uint8_t byte = (uint8_t)s[pos++];
        k |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            break;
    }
    if (k > len - pos)
        return -1;
    *seq = v;
    *key = s + pos;
    *klen = (size_t)k;
    *val = s + pos + k;
    *vlen = len - pos - (size_t)k;
    return 0;
}

/*--- Reading and trimming ---------------------------------------------------*/

hf_redis_status hf_redis_outbox_read(hf_redis *r, const hf_redis_part *part,
                                     uint64_t after_seq, hf_redis_outbox_fn fn, void *opaque,
                                     char *errstr, size_t errstr_size)
{
    hf_redis_status st = hf_redis_ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    char key[600], from[24], to[24];
    snprintf(key, sizeof(key), "%s:outbox", part->tag);
    for (long start = 0;; start += OUTBOX_CHUNK) {
        snprintf(from, sizeof(from), "%ld", start);
        snprintf(to, sizeof(to), "%ld", start + OUTBOX_CHUNK - 1);
        const char *argv[4] = {"LRANGE", key, from, to};
        redisReply *reply;
        st = hf_redis_simple(r, 4, argv, &reply, "LRANGE", errstr, errstr_size);
        if (st != HF_REDIS_OK)
            return st;
        if (reply->type != REDIS_REPLY_ARRAY)
            return hf_redis_bad_reply(r, reply, "LRANGE", errstr, errstr_size);
        size_t got = reply->elements;
        for (size_t i = 0; i < got; i++) {
            const redisReply *e = reply->element[i];
            uint64_t seq;
            const char *k, *v;
            size_t kl, vl;
            if (e->type != REDIS_REPLY_STRING ||
                parse_entry(e->str, e->len, &seq, &k, &kl, &v, &vl) != 0) {
                snprintf(errstr, errstr_size, "%s: entry %ld is not an outbox entry", key,
                         start + (long)i);
                freeReplyObject(reply);
                return HF_REDIS_ERROR;
            }
            if (seq <= after_seq)
                continue;
            if (fn(opaque, seq, k, kl, v, vl) != 0) {
                freeReplyObject(reply);
                return HF_REDIS_OK;
            }
        }
        freeReplyObject(reply);
        if (got < OUTBOX_CHUNK)
            return HF_REDIS_OK;
    }
}

hf_redis_status hf_redis_outbox_trim(hf_redis *r, const hf_redis_part *part,
                                     uint64_t upto_seq, uint64_t *removed, char *errstr,
                                     size_t errstr_size)
{
    char meta[600], outbox[600], epoch[24], upto[24];
    if (removed)
        *removed = 0;
    snprintf(meta, sizeof(meta), "%s:meta", part->tag);
    snprintf(outbox, sizeof(outbox), "%s:outbox", part->tag);
    snprintf(epoch, sizeof(epoch), "%" PRIu64, part->epoch);
    snprintf(upto, sizeof(upto), "%" PRIu64, upto_seq);
    const char *argv[7] = {NULL, NULL, NULL, meta, outbox, epoch, upto};
    size_t lens[7] = {0, 0, 0, strlen(meta), strlen(outbox), strlen(epoch), strlen(upto)};
    redisReply *reply;
    hf_redis_status st = hf_redis_eval(r, HF_SCRIPT_TRIM, 2, 7, argv, lens, &reply, errstr,
                                       errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    if (reply->type == REDIS_REPLY_ERROR)
        return hf_redis_reply_error(r, reply, "trim", errstr, errstr_size);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return hf_redis_bad_reply(r, reply, "trim", errstr, errstr_size);
    if (strcmp(reply->element[0]->str, "FENCED") == 0) {
        snprintf(errstr, errstr_size, "partition %" PRId32 " of group \"%s\" was taken "
                 "over: its epoch is %s, ours %" PRIu64, part->partition, part->group,
                 reply->element[1]->len ? reply->element[1]->str : "gone", part->epoch);
        freeReplyObject(reply);
        return HF_REDIS_FENCED;
    }
    if (removed && reply->element[1]->type == REDIS_REPLY_INTEGER)
        *removed = (uint64_t)reply->element[1]->integer;
    freeReplyObject(reply);
    return HF_REDIS_OK;
}

hf_redis_status hf_redis_outbox_len(hf_redis *r, const hf_redis_part *part, uint64_t *len,
                                    char *errstr, size_t errstr_size)
{
    *len = 0;
    hf_redis_status st = hf_redis_ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    char key[600];
    snprintf(key, sizeof(key), "%s:outbox", part->tag);
    const char *argv[2] = {"LLEN", key};
    redisReply *reply;
    st = hf_redis_simple(r, 2, argv, &reply, "LLEN", errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    if (reply->type != REDIS_REPLY_INTEGER)
        return hf_redis_bad_reply(r, reply, "LLEN", errstr, errstr_size);
    *len = (uint64_t)reply->integer;
    freeReplyObject(reply);
    return HF_REDIS_OK;
}
