/*
 * redis_batch.c - building the writes of one commit (hf_redis_batch):
 * customers encoded when added, outbox signals, offsets and the clock, and
 * bucket growth by linear hashing (hf_redis_batch_grow), which adds the
 * customers of the buckets being split. Formatting and sending the commit:
 * redis_commit.c.
 */
#include "redis/redis_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Bucket growth (hf_redis_batch_grow): a round of splits starts at 3/8 of
 * hash-max-listpack-entries customers per unsplit bucket and has split
 * every bucket at 3/4 of it; buckets are split GROW_SPLITS at a time (one
 * pass over the owner's customers finds theirs).
 */
#define GROW_SPLITS 256

/*--- The batch --------------------------------------------------------------*/

hf_redis_batch *hf_redis_batch_new(void)
{
    hf_redis_batch *b = calloc(1, sizeof(*b));
    if (b != NULL)
        b->clock = INT32_MIN;
    return b;
}

void hf_redis_batch_clear(hf_redis_batch *b)
{
    b->nsplit = 0;
    hf_buf_reset(&b->data);
    b->ncusts = b->nouts = 0;
    for (size_t i = 0; i < b->ntopics; i++)
        free(b->topics[i].topic);
    b->ntopics = 0;
    b->clock = INT32_MIN;
    b->formatted = 0;
}

void hf_redis_batch_destroy(hf_redis_batch *b)
{
    if (b == NULL)
        return;
    hf_redis_batch_clear(b);
    hf_buf_free(&b->data);
    hf_buf_free(&b->resp);
    free(b->custs);
    free(b->outs);
    free(b->topics);
    free(b);
}

/*--- Customers and growth ---------------------------------------------------*/

int hf_redis_batch_customer(hf_redis_batch *b, const hf_redis *r,
                            const hf_redis_part *part, hf_customer *c)
{
    b->formatted = 0; /* changed: formatted again when committed */
    if (hf_redis_grow((void **)&b->custs, &b->custcap, b->ncusts + 1, sizeof(*b->custs)) !=
        0)
        return -1;
    size_t id_off = b->data.len;
    if (hf_buf_append(&b->data, c->id, c->id_len) != 0)
        return -1;
    /* Encoded in place, into room for its largest encoding. */
    size_t val_off = b->data.len, room = hf_state_encode_bound(c);
    if (hf_buf_reserve(&b->data, room) != 0)
        return -1;
    size_t len = hf_state_encode(c, (uint8_t *)b->data.data + val_off, room);
    b->data.len += len;
    hf_redis_bcust *e = &b->custs[b->ncusts++];
    e->c = c;
    e->id_off = id_off;
    e->id_len = c->id_len;
    e->val_off = val_off;
    e->val_len = len;
    e->bucket = b->nsplit > 0 ? hf_redis_map_bucket(XXH3_64bits(c->id, c->id_len),
                                                    b->new_buckets, b->new_split)
                              : hf_redis_bucket_of(part, c->id, c->id_len);
    e->big = c->id_len > r->small_limit || len > r->small_limit;
    return 0;
}

typedef struct grow_ctx {
    hf_redis_batch *b;
    const hf_redis *r;
    const hf_redis_part *part;
    int oom;
} grow_ctx;

/* Adds c when it is in one of the buckets being split. */
static void grow_add(void *opaque, hf_customer *c)
{
    grow_ctx *g = opaque;
    if (g->oom || (c->flags & HF_CUST_REDIS_BATCH) ||
        !(c->flags & (HF_CUST_REDIS_SMALL | HF_CUST_REDIS_BIG)))
        return;
    uint32_t old = hf_redis_bucket_of(g->part, c->id, c->id_len);
    if (old >= g->b->split_from && old - g->b->split_from < g->b->nsplit &&
        hf_redis_batch_customer(g->b, g->r, g->part, c) != 0)
        g->oom = 1;
}

int hf_redis_batch_grow(hf_redis_batch *b, const hf_redis *r, const hf_redis_part *part,
                        hf_memstore *store)
{
    b->formatted = 0; /* changed: formatted again when committed */
    uint64_t high = r->small_entries * 3 / 4;
    if (high < 2)
        high = 2;
    uint64_t low = high / 2;
    uint64_t per = part->customers / part->buckets;
    if (b->nsplit > 0 || per < low || part->buckets >= HF_REDIS_MAX_BUCKETS)
        return 0;
    /* Where this round should be: split in step with the customers. */
    uint64_t want = per >= high ? part->buckets
                                : (part->customers - low * part->buckets) / (high - low) + 1;
    if (want > part->buckets)
        want = part->buckets;
    if (want <= part->split || (want - part->split < GROW_SPLITS && want < part->buckets))
        return 0;
    uint32_t n = (uint32_t)(want - part->split);
    if (n > GROW_SPLITS)
        n = GROW_SPLITS;
    b->split_from = part->split;
    b->nsplit = n;
    b->new_buckets = part->buckets;
    b->new_split = part->split + n;
    if (b->new_split == part->buckets) {
        b->new_buckets = part->buckets * 2;
        b->new_split = 0;
    }
    /* The batch's customers first move to the new layout, then the others
     * of the split buckets join them. */
    size_t mine = b->ncusts;
    for (size_t i = 0; i < mine; i++) {
        b->custs[i].bucket = hf_redis_map_bucket(XXH3_64bits(b->custs[i].c->id,
                                                             b->custs[i].c->id_len),
                                                 b->new_buckets, b->new_split);
        b->custs[i].c->flags |= HF_CUST_REDIS_BATCH;
    }
    grow_ctx g = {b, r, part, 0};
    hf_memstore_foreach(store, grow_add, &g);
    for (size_t i = 0; i < mine; i++)
        b->custs[i].c->flags &= ~HF_CUST_REDIS_BATCH;
    return g.oom ? -1 : (int)n;
}

/*--- Signals, offsets, clock ------------------------------------------------*/

int hf_redis_batch_signal(hf_redis_batch *b, const void *key, size_t key_len,
                          const void *value, size_t value_len)
{
    b->formatted = 0; /* changed: formatted again when committed */
    if (hf_redis_grow((void **)&b->outs, &b->outcap, b->nouts + 1, sizeof(*b->outs)) != 0)
        return -1;
    size_t off = b->data.len;
    if (hf_redis_outbox_entry_append(&b->data, key, key_len, value, value_len) != 0)
        return -1;
    b->outs[b->nouts].off = off;
    b->outs[b->nouts].len = b->data.len - off;
    b->nouts++;
    return 0;
}

int hf_redis_batch_offset(hf_redis_batch *b, const char *topic, int64_t offset)
{
    b->formatted = 0; /* changed: formatted again when committed */
    for (size_t i = 0; i < b->ntopics; i++)
        if (strcmp(b->topics[i].topic, topic) == 0) {
            if (offset > b->topics[i].offset)
                b->topics[i].offset = offset;
            return 0;
        }
    if (hf_redis_grow((void **)&b->topics, &b->topiccap, b->ntopics + 1,
                      sizeof(*b->topics)) != 0)
        return -1;
    char *t = strdup(topic);
    if (t == NULL)
        return -1;
    b->topics[b->ntopics].topic = t;
    b->topics[b->ntopics++].offset = offset;
    return 0;
}

void hf_redis_batch_clock(hf_redis_batch *b, int32_t clock)
{
    b->formatted = 0; /* changed: formatted again when committed */
    b->clock = clock;
}

size_t hf_redis_batch_customers(const hf_redis_batch *b)
{
    return b->ncusts;
}

size_t hf_redis_batch_signals(const hf_redis_batch *b)
{
    return b->nouts;
}
