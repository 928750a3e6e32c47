/*
 * redis_load.c - reading a partition's bucket hashes: loading all of its
 * customers into the owner's in-memory store (pipelined HGETALL, a window
 * of buckets at a time), reading one customer, and counting the customers
 * of the compact and the big hashes.
 */
#include "redis/redis_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define LOAD_WINDOW 128      /* buckets whose HGETALLs are in flight at once */

static void bucket_key(const hf_redis_part *part, int big, uint32_t b, char *out, size_t n)
{
    snprintf(out, n, "%s:%s:%" PRIu32, part->tag, big ? "big" : "c", b);
}

static hf_redis_status load_hash(const hf_redis_part *part, const hf_engine *eng,
                                 hf_memstore *dst, int big, uint32_t b,
                                 const redisReply *h, size_t *count, char *err, size_t n)
{
    char key[600], why[256];
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *f = h->element[i], *v = h->element[i + 1];
        bucket_key(part, big, b, key, sizeof(key));
        if (hf_redis_bucket_of(part, f->str, f->len) != b) {
            snprintf(err, n, "%s: customer \"%.*s\" belongs to bucket %" PRIu32
                     " of %" PRIu32, key, (int)(f->len > 80 ? 80 : f->len), f->str,
                     hf_redis_part_bucket(part, f->str, f->len), hf_redis_part_nbuckets(part));
            return HF_REDIS_ERROR;
        }
        if (hf_memstore_get(dst, f->str, f->len) != NULL) {
            snprintf(err, n, "%s: customer \"%.*s\" is stored twice", key,
                     (int)(f->len > 80 ? 80 : f->len), f->str);
            return HF_REDIS_ERROR;
        }
        hf_customer *c = hf_customer_new(f->str, f->len, eng->n);
        if (c == NULL) {
            snprintf(err, n, "out of memory");
            return HF_REDIS_ERROR;
        }
        if (hf_state_decode(c, (const uint8_t *)v->str, v->len, why, sizeof(why)) != 0) {
            snprintf(err, n, "%s: customer \"%.*s\": %s", key,
                     (int)(f->len > 80 ? 80 : f->len), f->str, why);
            hf_customer_destroy(c);
            return HF_REDIS_ERROR;
        }
        for (uint32_t k = 0; k < eng->n; k++)
            c->due[k] = hf_engine_due(eng, c, k, part->clock);
        c->flags |= big ? HF_CUST_REDIS_BIG : HF_CUST_REDIS_SMALL;
        if (hf_memstore_insert(dst, c) != 0) {
            hf_customer_destroy(c);
            snprintf(err, n, "out of memory");
            return HF_REDIS_ERROR;
        }
        (*count)++;
    }
    return HF_REDIS_OK;
}

hf_redis_status hf_redis_load(hf_redis *r, const hf_redis_part *part,
                              const hf_engine *eng, hf_memstore *dst, size_t *loaded,
                              char *errstr, size_t errstr_size)
{
    size_t count = 0;
    if (loaded)
        *loaded = 0;
    hf_redis_status st = hf_redis_ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    char key[600];
    uint32_t nb = hf_redis_part_nbuckets(part);
    for (uint32_t start = 0; start < nb; start += LOAD_WINDOW) {
        uint32_t end = start + LOAD_WINDOW < nb ? start + LOAD_WINDOW : nb;
        for (uint32_t b = start; b < end; b++)
            for (int big = 0; big < 2; big++) {
                bucket_key(part, big, b, key, sizeof(key));
                const char *argv[2] = {"HGETALL", key};
                if (redisAppendCommandArgv(r->c, 2, argv, NULL) != REDIS_OK) {
                    snprintf(errstr, errstr_size, "out of memory");
                    hf_redis_drop(r);
                    return HF_REDIS_ERROR;
                }
            }
        for (uint32_t b = start; b < end; b++)
            for (int big = 0; big < 2; big++) {
                redisReply *reply = NULL;
                if (redisGetReply(r->c, (void **)&reply) != REDIS_OK)
                    return hf_redis_io_error(r, "HGETALL", errstr, errstr_size);
                if (reply->type == REDIS_REPLY_ERROR) {
                    st = hf_redis_reply_error(r, reply, "HGETALL", errstr, errstr_size);
                    hf_redis_drop(r); /* discards the replies still pending */
                    return st;
                }
                if (reply->type != REDIS_REPLY_ARRAY) {
                    hf_redis_drop(r);
                    return hf_redis_bad_reply(r, reply, "HGETALL", errstr, errstr_size);
                }
                st = load_hash(part, eng, dst, big, b, reply, &count, errstr, errstr_size);
                freeReplyObject(reply);
                if (st != HF_REDIS_OK) {
                    hf_redis_drop(r);
                    if (loaded)
                        *loaded = count;
                    return st;
                }
            }
    }
    if (loaded)
        *loaded = count;
    if (count != part->customers) {
        snprintf(errstr, errstr_size,
                 "partition %" PRId32 " holds %zu customers but its meta counts %" PRIu64
                 ": keys were deleted or evicted (use maxmemory-policy noeviction)",
                 part->partition, count, part->customers);
        return HF_REDIS_ERROR;
    }
    return HF_REDIS_OK;
}

hf_redis_status hf_redis_get_customer(hf_redis *r, const hf_redis_part *part,
                                      const char *id, size_t id_len, uint32_t nbeh,
                                      hf_customer **out, char *key_out,
                                      size_t key_out_size, char *errstr, size_t errstr_size)
{
    *out = NULL;
    hf_redis_status st = hf_redis_ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    uint32_t b = hf_redis_part_bucket(part, id, id_len);
    char keys[2][600];
    for (int big = 0; big < 2; big++) {
        bucket_key(part, big, b, keys[big], sizeof(keys[big]));
        const char *argv[3] = {"HGET", keys[big], id};
        size_t lens[3] = {4, strlen(keys[big]), id_len};
        if (redisAppendCommandArgv(r->c, 3, argv, lens) != REDIS_OK) {
            hf_redis_drop(r);
            snprintf(errstr, errstr_size, "out of memory");
            return HF_REDIS_ERROR;
        }
    }
    redisReply *rep[2] = {NULL, NULL};
    for (int big = 0; big < 2; big++)
        if (redisGetReply(r->c, (void **)&rep[big]) != REDIS_OK) {
            freeReplyObject(rep[0]);
            return hf_redis_io_error(r, "HGET", errstr, errstr_size);
        }
    int found = -1;
    for (int big = 0; big < 2 && st == HF_REDIS_OK; big++) {
        if (rep[big]->type == REDIS_REPLY_ERROR) {
            st = hf_redis_reply_error(r, rep[big], "HGET", errstr, errstr_size);
            rep[big] = NULL;
        } else if (rep[big]->type == REDIS_REPLY_STRING) {
            if (found >= 0) {
                snprintf(errstr, errstr_size, "%s: customer \"%.*s\" is stored twice",
                         keys[big], (int)(id_len > 80 ? 80 : id_len), id);
                st = HF_REDIS_ERROR;
            }
            found = big;
        } else if (rep[big]->type != REDIS_REPLY_NIL) {
            st = hf_redis_bad_reply(r, rep[big], "HGET", errstr, errstr_size);
            rep[big] = NULL;
        }
    }
    if (st == HF_REDIS_OK && found >= 0) {
        char why[256];
        hf_customer *c = hf_customer_new(id, id_len, nbeh);
        if (c == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            st = HF_REDIS_ERROR;
        } else if (hf_state_decode(c, (const uint8_t *)rep[found]->str, rep[found]->len,
                                   why, sizeof(why)) != 0) {
            snprintf(errstr, errstr_size, "%s: customer \"%.*s\": %s", keys[found],
                     (int)(id_len > 80 ? 80 : id_len), id, why);
            hf_customer_destroy(c);
            st = HF_REDIS_ERROR;
        } else {
            c->flags |= found ? HF_CUST_REDIS_BIG : HF_CUST_REDIS_SMALL;
            *out = c;
            if (key_out)
                snprintf(key_out, key_out_size, "%s", keys[found]);
        }
    }
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
    return st;
}

hf_redis_status hf_redis_count(hf_redis *r, const hf_redis_part *part, uint64_t *small,
                               uint64_t *big_out, char *errstr, size_t errstr_size)
{
    *small = *big_out = 0;
    hf_redis_status st = hf_redis_ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    char key[600];
    uint32_t nb = hf_redis_part_nbuckets(part);
    for (uint32_t start = 0; start < nb; start += LOAD_WINDOW) {
        uint32_t end = start + LOAD_WINDOW < nb ? start + LOAD_WINDOW : nb;
        for (uint32_t b = start; b < end; b++)
            for (int big = 0; big < 2; big++) {
                bucket_key(part, big, b, key, sizeof(key));
                const char *argv[2] = {"HLEN", key};
                if (redisAppendCommandArgv(r->c, 2, argv, NULL) != REDIS_OK) {
                    hf_redis_drop(r);
                    snprintf(errstr, errstr_size, "out of memory");
                    return HF_REDIS_ERROR;
                }
            }
        for (uint32_t b = start; b < end; b++)
            for (int big = 0; big < 2; big++) {
                redisReply *reply = NULL;
                if (redisGetReply(r->c, (void **)&reply) != REDIS_OK)
                    return hf_redis_io_error(r, "HLEN", errstr, errstr_size);
                if (reply->type != REDIS_REPLY_INTEGER) {
                    hf_redis_drop(r);
                    return reply->type == REDIS_REPLY_ERROR
                               ? hf_redis_reply_error(r, reply, "HLEN", errstr, errstr_size)
                               : hf_redis_bad_reply(r, reply, "HLEN", errstr, errstr_size);
                }
                *(big ? big_out : small) += (uint64_t)reply->integer;
                freeReplyObject(reply);
            }
    }
    return HF_REDIS_OK;
}
