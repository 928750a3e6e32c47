/*
 * store_redis.c - the Redis state store's handle (open, close, settings),
 * its partitions (the meta hash: acquire, peek, the applied offsets, the
 * bucket of a customer) and the discovery of a group's partitions. Key
 * layout and protocol: store_redis.h; what the other files of the store
 * hold: redis_int.h.
 */
#include "redis/redis_int.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/*--- The handle -------------------------------------------------------------*/

const char *hf_redis_status_name(hf_redis_status s)
{
    switch (s) {
    case HF_REDIS_OK: return "ok";
    case HF_REDIS_FENCED: return "fenced";
    case HF_REDIS_CONFLICT: return "conflict";
    case HF_REDIS_UNAVAILABLE: return "unavailable";
    case HF_REDIS_ERROR: return "error";
    }
    return "?";
}

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

hf_redis *hf_redis_open(const hf_config *cfg, char *errstr, size_t errstr_size)
{
    hf_redis *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    r->connect_tv = tv_ms(cfg->redis_connect_timeout_ms);
    r->command_tv = tv_ms(cfg->redis_command_timeout_ms);
    r->new_buckets = cfg->redis_buckets > 0 ? (uint32_t)cfg->redis_buckets
                                            : HF_REDIS_DEFAULT_BUCKETS;
    r->small_limit = 64;
    r->small_entries = 128;
    r->prefix = strdup(cfg->redis_key_prefix ? cfg->redis_key_prefix : "hf");
    if (r->prefix == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        hf_redis_close(r);
        return NULL;
    }
    if (hf_redis_url_parse(&r->url, cfg->redis_url ? cfg->redis_url : "", errstr,
                           errstr_size) != 0 ||
        hf_redis_ensure(r, errstr, errstr_size) != HF_REDIS_OK) {
        hf_redis_close(r);
        return NULL;
    }
    return r;
}

void hf_redis_close(hf_redis *r)
{
    if (r == NULL)
        return;
    hf_redis_drop(r);
    hf_redis_url_free(&r->url);
    free(r->prefix);
    free(r->fly);
    free(r);
}

void hf_redis_set_new_buckets(hf_redis *r, uint32_t buckets)
{
    if (buckets >= 1 && buckets <= HF_REDIS_MAX_BUCKETS && (buckets & (buckets - 1)) == 0)
        r->new_buckets = buckets;
}

size_t hf_redis_small_limit(const hf_redis *r)
{
    return r->small_limit;
}

const char *hf_redis_address(const hf_redis *r)
{
    return r->url.address;
}

uint32_t hf_redis_part_bucket(const hf_redis_part *part, const char *id, size_t len)
{
    return hf_redis_bucket_of(part, id, len);
}

uint32_t hf_redis_part_nbuckets(const hf_redis_part *part)
{
    return part->buckets + part->split;
}

uint32_t hf_redis_bucket(const char *id, size_t len, uint32_t buckets)
{
    return (uint32_t)(XXH3_64bits(id, len) & (uint64_t)(buckets - 1u));
}

/*--- Partitions -------------------------------------------------------------*/

void hf_redis_part_destroy(hf_redis_part *part)
{
    if (part == NULL)
        return;
    for (size_t i = 0; i < part->napplied; i++)
        free(part->applied[i].topic);
    free(part->applied);
    free(part->group);
    free(part->tag);
    free(part);
}

int64_t hf_redis_part_applied(const hf_redis_part *part, const char *topic)
{
    for (size_t i = 0; i < part->napplied; i++)
        if (strcmp(part->applied[i].topic, topic) == 0)
            return part->applied[i].offset;
    return -1;
}

int hf_redis_part_set_applied(hf_redis_part *part, const char *topic, size_t len,
                              int64_t off)
{
    for (size_t i = 0; i < part->napplied; i++)
        if (strlen(part->applied[i].topic) == len &&
            memcmp(part->applied[i].topic, topic, len) == 0) {
            part->applied[i].offset = off;
            return 0;
        }
    hf_redis_offset *a = realloc(part->applied, (part->napplied + 1) * sizeof(*a));
    if (a == NULL)
        return -1;
    part->applied = a;
    a[part->napplied].topic = strndup(topic, len);
    if (a[part->napplied].topic == NULL)
        return -1;
    a[part->napplied++].offset = off;
    return 0;
}

static hf_redis_part *part_new(const hf_redis *r, const char *group, int32_t p)
{
    hf_redis_part *part = calloc(1, sizeof(*part));
    if (part == NULL)
        return NULL;
    part->group = strdup(group);
    size_t len = strlen(r->prefix) + strlen(group) + 32;
    part->tag = malloc(len);
    if (part->group == NULL || part->tag == NULL) {
        hf_redis_part_destroy(part);
        return NULL;
    }
    snprintf(part->tag, len, "%s:{%s:%" PRId32 "}", r->prefix, group, p);
    part->partition = p;
    part->clock = INT32_MIN;
    return part;
}

/* Fills part from a flat HGETALL reply of meta. */
static hf_redis_status parse_meta(hf_redis_part *part, const redisReply *m, char *err,
                                  size_t n)
{
    for (size_t i = 0; i + 1 < m->elements; i += 2) {
        const redisReply *f = m->element[i], *v = m->element[i + 1];
        int64_t x = 0;
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            snprintf(err, n, "%s:meta is not a hash of strings", part->tag);
            return HF_REDIS_ERROR;
        }
        int ok = hf_redis_parse_i64(v->str, v->len, &x) == 0;
        if (strncmp(f->str, "applied:", 8) == 0 && f->len > 8) {
            if (!ok || x < -1)
                goto bad;
            if (hf_redis_part_set_applied(part, f->str + 8, f->len - 8, x) != 0) {
                snprintf(err, n, "out of memory");
                return HF_REDIS_ERROR;
            }
        } else if (strcmp(f->str, "epoch") == 0) {
            if (!ok || x < 0)
                goto bad;
            part->epoch = (uint64_t)x;
        } else if (strcmp(f->str, "batch") == 0) {
            if (!ok || x < 0)
                goto bad;
            part->batch = (uint64_t)x;
        } else if (strcmp(f->str, "clock") == 0) {
            if (!ok || x < INT32_MIN || x > INT32_MAX)
                goto bad;
            part->clock = (int32_t)x;
        } else if (strcmp(f->str, "outbox_seq") == 0) {
            if (!ok || x < 0)
                goto bad;
            part->outbox_seq = (uint64_t)x;
        } else if (strcmp(f->str, "customers") == 0) {
            if (!ok || x < 0)
                goto bad;
            part->customers = (uint64_t)x;
        } else if (strcmp(f->str, "buckets") == 0) {
            if (!ok || x < 1 || x > HF_REDIS_MAX_BUCKETS || (x & (x - 1)) != 0)
                goto bad;
            part->buckets = (uint32_t)x;
        } else if (strcmp(f->str, "split") == 0) {
            if (!ok || x < 0 || x >= HF_REDIS_MAX_BUCKETS)
                goto bad;
            part->split = (uint32_t)x;
        }
        continue;
    bad:
        snprintf(err, n, "%s:meta field %s is \"%.*s\": not a valid value", part->tag,
                 f->str, (int)(v->len > 40 ? 40 : v->len), v->str);
        return HF_REDIS_ERROR;
    }
    if (part->buckets == 0) {
        snprintf(err, n, "%s:meta has no buckets field", part->tag);
        return HF_REDIS_ERROR;
    }
    if (part->split >= part->buckets) {
        snprintf(err, n, "%s:meta has split %" PRIu32 " of %" PRIu32 " buckets: not a valid "
                 "value", part->tag, part->split, part->buckets);
        return HF_REDIS_ERROR;
    }
    return HF_REDIS_OK;
}

hf_redis_status hf_redis_acquire(hf_redis *r, const char *group, int32_t p,
                                 hf_redis_part **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    hf_redis_part *part = part_new(r, group, p);
    if (part == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    char meta[512], buckets[16], layout[16];
    snprintf(meta, sizeof(meta), "%s:meta", part->tag);
    snprintf(buckets, sizeof(buckets), "%" PRIu32, r->new_buckets);
    snprintf(layout, sizeof(layout), "%d", HF_REDIS_LAYOUT);
    const char *argv[6] = {NULL, NULL, NULL, meta, buckets, layout};
    size_t lens[6] = {0, 0, 0, strlen(meta), strlen(buckets), strlen(layout)};
    redisReply *reply;
    hf_redis_status st = hf_redis_eval(r, HF_SCRIPT_ACQUIRE, 1, 6, argv, lens, &reply, errstr,
                                       errstr_size);
    if (st != HF_REDIS_OK) {
        hf_redis_part_destroy(part);
        return st;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        hf_redis_part_destroy(part);
        return hf_redis_reply_error(r, reply, "acquire", errstr, errstr_size);
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        hf_redis_part_destroy(part);
        return hf_redis_bad_reply(r, reply, "acquire", errstr, errstr_size);
    }
    st = parse_meta(part, reply, errstr, errstr_size);
    freeReplyObject(reply);
    if (st != HF_REDIS_OK) {
        hf_redis_part_destroy(part);
        return st;
    }
    /* Only when growth has stopped can buckets outgrow the listpack limit. */
    if (part->buckets >= HF_REDIS_MAX_BUCKETS &&
        part->customers * 10 > (uint64_t)part->buckets * r->small_entries * 9)
        hf_log_warn("redis",
                    "partition %" PRId32 " holds %" PRIu64 " customers in %" PRIu32
                    " buckets, the most there can be: buckets beyond "
                    "hash-max-listpack-entries (%zu) take 2-3x the memory; use more "
                    "input partitions", p, part->customers, part->buckets,
                    r->small_entries);
    *out = part;
    return HF_REDIS_OK;
}

hf_redis_status hf_redis_peek(hf_redis *r, const char *group, int32_t p,
                              hf_redis_part **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    hf_redis_status st = hf_redis_ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    hf_redis_part *part = part_new(r, group, p);
    if (part == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    char meta[512];
    snprintf(meta, sizeof(meta), "%s:meta", part->tag);
    const char *argv[2] = {"HGETALL", meta};
    redisReply *reply;
    st = hf_redis_simple(r, 2, argv, &reply, "HGETALL", errstr, errstr_size);
    if (st == HF_REDIS_OK && reply->type != REDIS_REPLY_ARRAY)
        st = hf_redis_bad_reply(r, reply, "HGETALL", errstr, errstr_size);
    else if (st == HF_REDIS_OK) {
        if (reply->elements > 0)
            st = parse_meta(part, reply, errstr, errstr_size);
        else {
            hf_redis_part_destroy(part);
            part = NULL;
        }
        freeReplyObject(reply);
    }
    if (st != HF_REDIS_OK) {
        hf_redis_part_destroy(part);
        return st;
    }
    *out = part;
    return HF_REDIS_OK;
}

/*--- Discovery --------------------------------------------------------------*/

/* Appends s to b with glob characters escaped for SCAN MATCH. */
static int glob_escape(hf_buf *b, const char *s)
{
    for (; *s; s++) {
        if (strchr("*?[]\\", *s) && hf_buf_append(b, "\\", 1) != 0)
            return -1;
        if (hf_buf_append(b, s, 1) != 0)
            return -1;
    }
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

hf_redis_status hf_redis_partitions(hf_redis *r, const char *group, int32_t **out,
                                    size_t *n, char *errstr, size_t errstr_size)
{
    *out = NULL;
    *n = 0;
    hf_redis_status st = hf_redis_ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    hf_buf pat = HF_BUF_INIT, head = HF_BUF_INIT;
    if (glob_escape(&pat, r->prefix) != 0 || hf_buf_puts(&pat, ":{") != 0 ||
        glob_escape(&pat, group) != 0 || hf_buf_puts(&pat, ":*}:meta") != 0 ||
        hf_buf_printf(&head, "%s:{%s:", r->prefix, group) != 0) {
        hf_buf_free(&pat);
        hf_buf_free(&head);
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    int32_t *parts = NULL;
    size_t np = 0, cap = 0;
    char cursor[32] = "0";
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", pat.data, "COUNT", "1000"};
        redisReply *reply;
        st = hf_redis_simple(r, 6, argv, &reply, "SCAN", errstr, errstr_size);
        if (st != HF_REDIS_OK)
            break;
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING ||
            reply->element[1]->type != REDIS_REPLY_ARRAY) {
            st = hf_redis_bad_reply(r, reply, "SCAN", errstr, errstr_size);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
        const redisReply *keys = reply->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            size_t kl = keys->element[i]->len;
            if (kl <= head.len + 6 || memcmp(k, head.data, head.len) != 0 ||
                memcmp(k + kl - 6, "}:meta", 6) != 0)
                continue;
            long v;
            if (hf_redis_parse_long(k + head.len, kl - head.len - 6, 0, INT32_MAX, &v) != 0)
                continue;
            if (hf_redis_grow((void **)&parts, &cap, np + 1, sizeof(*parts)) != 0) {
                snprintf(errstr, errstr_size, "out of memory");
                st = HF_REDIS_ERROR;
                break;
            }
            parts[np++] = (int32_t)v;
        }
        freeReplyObject(reply);
    } while (st == HF_REDIS_OK && strcmp(cursor, "0") != 0);
    hf_buf_free(&pat);
    hf_buf_free(&head);
    if (st != HF_REDIS_OK) {
        free(parts);
        return st;
    }
    if (np > 1)
        qsort(parts, np, sizeof(*parts), cmp_i32);
    /* SCAN may return a key more than once. */
    size_t u = 0;
    for (size_t i = 0; i < np; i++)
        if (u == 0 || parts[u - 1] != parts[i])
            parts[u++] = parts[i];
    *out = parts;
    *n = u;
    return HF_REDIS_OK;
}
