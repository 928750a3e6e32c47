/*
 * store_memory.c - in-memory customer store of one stream.
 *
 * Customers live in an open-addressing hash table (linear probing, backward
 * shift deletion) keyed by XXH3 of the customer id. Pending expiries live in
 * a bucket queue by due day, each day sorted by (customer id bytes,
 * behaviour) when it comes due; an entry is current only while it matches
 * the customer's due day for that behaviour, so updates add a new entry and
 * stale ones are dropped when their day is drained.
 */
#include "core/store_memory.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct slot {
    uint64_t hash;
    hf_customer *c; /* NULL: empty */
} slot;

typedef struct expiry {
    int32_t due;
    uint32_t b;
    hf_customer *c;
    uint64_t key; /* the id's first 8 bytes, big-endian: sorts without c */
} expiry;

#define EXPIRY_AHEAD 6 /* customers of a due day are prefetched this far ahead */

static uint64_t id_key(const hf_customer *c)
{
    uint64_t k = 0;
    for (uint32_t i = 0; i < 8; i++)
        k = k << 8 | (i < c->id_len ? (uint8_t)c->id[i] : 0);
    return k;
}

typedef struct bucket {
    expiry *v;
    uint32_t n;
    uint32_t cap;
} bucket;

struct hf_memstore {
    uint32_t nbeh;
    slot *slots;
    size_t cap;     /* power of two */
    size_t count;
    bucket *ring;     /* expiries by due day modulo ring_size */
    size_t ring_size; /* power of two, > max_due - min_due */
    size_t pending;   /* entries in the ring, stale ones included */
    int32_t min_due;  /* no pending entry is due before this day */
    int32_t max_due;
    expiry *batch;    /* the day being drained, sorted */
    size_t batch_n, batch_pos, batch_cap;
    long fail_after;  /* -1, or the index's allocations that succeed before one fails */
};

hf_memstore *hf_memstore_new(uint32_t nbehaviours)
{
    hf_memstore *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->nbeh = nbehaviours;
    s->fail_after = -1;
    s->cap = 1024;
    s->slots = calloc(s->cap, sizeof(*s->slots));
    if (s->slots == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void hf_memstore_destroy(hf_memstore *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->cap; i++)
        hf_customer_destroy(s->slots[i].c);
    free(s->slots);
    for (size_t i = 0; i < s->ring_size; i++)
        free(s->ring[i].v);
    free(s->ring);
    free(s->batch);
    free(s);
}

static uint64_t key_hash(const char *id, size_t len)
{
    return XXH3_64bits(id, len);
}

static size_t find_slot(const hf_memstore *s, uint64_t h, const char *id,
                        size_t len)
{
    size_t mask = s->cap - 1;
    size_t i = (size_t)h & mask;
    for (;;) {
        const slot *sl = &s->slots[i];
        if (sl->c == NULL)
            return i;
        if (sl->hash == h && sl->c->id_len == len && memcmp(sl->c->id, id, len) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

static int grow(hf_memstore *s)
{
    size_t ncap = s->cap * 2;
    slot *ns = calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i].c == NULL)
            continue;
        size_t j = (size_t)s->slots[i].hash & (ncap - 1);
        while (ns[j].c != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    return 0;
}

uint64_t hf_memstore_hash(const char *id, size_t len)
{
    return key_hash(id, len);
}

/* How many slots from its home the prefetches look for a customer. */
#define PREFETCH_PROBES 6

void hf_memstore_prefetch(const hf_memstore *s, uint64_t h, int stage)
{
    size_t mask = s->cap - 1, home = (size_t)h & mask;
    if (stage == 0) {
        __builtin_prefetch(&s->slots[home]);
        return;
    }
    /*
     * The customer is in the first slot from home whose hash matches, or
     * absent when an empty slot comes first. The prefetch follows the
     * probe sequence, not the home slot alone: at loads up to 0.7 a large
     * part of the customers sit further along it, and their lookups would
     * wait for memory. Past PREFETCH_PROBES slots the lookup finds it itself.
     */
    const hf_customer *c = NULL;
    for (size_t k = 0; k < PREFETCH_PROBES; k++) {
        const slot *sl = &s->slots[(home + k) & mask];
        if (sl->c == NULL)
            return;
        if (sl->hash == h) {
            c = sl->c;
            break;
        }
    }
    if (c == NULL)
        return;
    if (stage == 1)
        hf_customer_prefetch(c);
    else
        hf_customer_prefetch_arrays(c);
}

hf_customer *hf_memstore_get(hf_memstore *s, const char *id, size_t len)
{
    return s->slots[find_slot(s, key_hash(id, len), id, len)].c;
}

static int put(hf_memstore *s, uint64_t h, hf_customer *c)
{
    if ((s->count + 1) * 10 > s->cap * 7 && grow(s) != 0)
        return -1;
    size_t i = find_slot(s, h, c->id, c->id_len);
    if (s->slots[i].c != NULL)
        return -1;
    s->slots[i].hash = h;
    s->slots[i].c = c;
    s->count++;
    return 0;
}

hf_customer *hf_memstore_upsert(hf_memstore *s, const char *id, size_t len,
                                int *created)
{
    return hf_memstore_upsert_hashed(s, key_hash(id, len), id, len, created);
}

hf_customer *hf_memstore_upsert_hashed(hf_memstore *s, uint64_t h, const char *id,
                                       size_t len, int *created)
{
    hf_customer *c = s->slots[find_slot(s, h, id, len)].c;
    *created = 0;
    if (c != NULL)
        return c;
    c = hf_customer_new(id, len, s->nbeh);
    if (c == NULL)
        return NULL;
    if (put(s, h, c) != 0) {
        hf_customer_destroy(c);
        return NULL;
    }
    *created = 1;
    return c;
}

static int unlink_customer(hf_memstore *s, hf_customer *c);

int hf_memstore_insert(hf_memstore *s, hf_customer *c)
{
    if (put(s, key_hash(c->id, c->id_len), c) != 0)
        return -1;
    for (uint32_t b = 0; b < c->nbeh && b < s->nbeh; b++)
        if (c->due[b] != HF_NO_DUE && hf_memstore_set_due(s, c, b, c->due[b]) != 0) {
            unlink_customer(s, c); /* the caller keeps c */
            return -1;
        }
    return 0;
}

/*--- Expiry index ------------------------------------------------------*/

/*
 * A bucket queue: pending expiries sit in a ring of buckets indexed by
 * due day modulo the ring size, which always exceeds the span of pending
 * due days, so one bucket holds one day. A day's bucket is sorted only when
 * the clock reaches it. This works because evaluating a customer at day D
 * always gives a due day after D: nothing is ever added to a day that is
 * being drained.
 */

static int expiry_cmp(const void *pa, const void *pb)
{
    const expiry *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->c != b->c) {
        size_t n = a->c->id_len < b->c->id_len ? a->c->id_len : b->c->id_len;
        int r = memcmp(a->c->id, b->c->id, n);
        if (r != 0)
            return r;
        if (a->c->id_len != b->c->id_len)
            return a->c->id_len < b->c->id_len ? -1 : 1;
    }
    return a->b < b->b ? -1 : a->b > b->b;
}

/* Whether this allocation of the index fails on purpose (hf_memstore_fail_index_alloc). */
static int ix_fail(hf_memstore *s)
{
    return s->fail_after >= 0 && s->fail_after-- == 0;
}

static int bucket_push(hf_memstore *s, bucket *k, expiry x)
{
    if (k->n == k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : 4;
        expiry *v = ix_fail(s) ? NULL : realloc(k->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        k->v = v;
        k->cap = cap;
    }
    k->v[k->n++] = x;
    return 0;
}

static void ring_free(bucket *ring, size_t size)
{
    for (size_t i = 0; i < size; i++)
        free(ring[i].v);
    free(ring);
}

/*
 * Re-buckets everything into a ring of at least `need` days. Returns 0, or
 * -1 (out of memory) with the old ring in place.
 */
static int ring_grow(hf_memstore *s, int64_t need)
{
    size_t size = s->ring_size ? s->ring_size : 64;
    while ((int64_t)size < need)
        size *= 2;
    bucket *ring = ix_fail(s) ? NULL : calloc(size, sizeof(*ring));
    if (ring == NULL)
        return -1;
    for (size_t i = 0; i < s->ring_size; i++) {
        const bucket *k = &s->ring[i];
        for (uint32_t j = 0; j < k->n; j++)
            if (bucket_push(s, &ring[(uint32_t)k->v[j].due & (size - 1)], k->v[j]) != 0) {
                ring_free(ring, size);
                return -1;
            }
    }
    ring_free(s->ring, s->ring_size);
    s->ring = ring;
    s->ring_size = size;
    return 0;
}

/*
 * Widens the span of pending due days to take `due`, growing the ring when
 * the span outgrows it. Returns 0, or -1 (out of memory) with nothing changed.
 */
static int widen(hf_memstore *s, int32_t due)
{
    int32_t lo = due, hi = due;
    if (s->pending > 0) {
        lo = due < s->min_due ? due : s->min_due;
        hi = due > s->max_due ? due : s->max_due;
    }
    int64_t span = (int64_t)hi - lo + 1;
    if ((int64_t)s->ring_size < span && ring_grow(s, span) != 0)
        return -1;
    s->min_due = lo;
    s->max_due = hi;
    return 0;
}

int hf_memstore_set_due(hf_memstore *s, hf_customer *c, uint32_t b, int32_t due)
{
    if (due == HF_NO_DUE) {
        c->due[b] = due;
        return 0;
    }
    if ((s->pending == 0 || due < s->min_due || due > s->max_due) && widen(s, due) != 0)
        return -1;
    if (bucket_push(s, &s->ring[(uint32_t)due & (s->ring_size - 1)],
                    (expiry){due, b, c, id_key(c)}) != 0)
        return -1; /* the span may stay wider: it bounds the pending days all the same */
    s->pending++;
    c->due[b] = due;
    return 0;
}

/*
 * Moves the current entries of day `day` into the sorted batch. Returns 0,
 * or -1 (out of memory) with the day's bucket untouched.
 */
static int take_day(hf_memstore *s, int32_t day)
{
    bucket *k = &s->ring[(uint32_t)day & (s->ring_size - 1)];
    if (k->n > s->batch_cap) {
        expiry *v = ix_fail(s) ? NULL : realloc(s->batch, k->n * sizeof(*v));
        if (v == NULL)
            return -1;
        s->batch = v;
        s->batch_cap = k->n;
    }
    s->batch_n = s->batch_pos = 0;
    for (uint32_t j = 0; j < k->n; j++)
        if (k->v[j].c->due[k->v[j].b] == day) /* skip stale entries */
            s->batch[s->batch_n++] = k->v[j];
    s->pending -= k->n;
    k->n = 0;
    if (s->batch_n > 1)
        qsort(s->batch, s->batch_n, sizeof(*s->batch), expiry_cmp);
    return 0;
}

int hf_memstore_next_expiry(hf_memstore *s, int32_t upto, hf_customer **c,
                            uint32_t *b, int32_t *due)
{
    for (;;) {
        while (s->batch_pos < s->batch_n) {
            if (s->batch_pos + EXPIRY_AHEAD < s->batch_n) {
                const hf_customer *next = s->batch[s->batch_pos + EXPIRY_AHEAD].c;
                __builtin_prefetch(next);
                __builtin_prefetch((const char *)next + 64);
                __builtin_prefetch((const char *)next + 128);
            }
            if (s->batch_pos + EXPIRY_AHEAD / 2 < s->batch_n)
                hf_customer_prefetch_arrays(s->batch[s->batch_pos + EXPIRY_AHEAD / 2].c);
            expiry x = s->batch[s->batch_pos++];
            if (x.c->due[x.b] != x.due)
                continue; /* a duplicate entry, already taken */
            x.c->due[x.b] = HF_NO_DUE; /* taken: no longer pending */
            *c = x.c;
            *b = x.b;
            *due = x.due;
            return 1;
        }
        if (s->pending == 0 || s->min_due > upto)
            return 0;
        if (take_day(s, s->min_due) != 0)
            return -1;
        s->min_due++;
    }
}

/*
 * Takes c out of the expiry index and the table without destroying it.
 * Returns 1, or 0 when c is not in the table (its index entries go all the same).
 */
static int unlink_customer(hf_memstore *s, hf_customer *c)
{
    for (size_t i = 0; i < s->ring_size; i++) {
        bucket *k = &s->ring[i];
        uint32_t j = 0;
        for (uint32_t n = 0; n < k->n; n++)
            if (k->v[n].c != c)
                k->v[j++] = k->v[n];
        s->pending -= k->n - j;
        k->n = j;
    }
    size_t j = s->batch_pos;
    for (size_t n = s->batch_pos; n < s->batch_n; n++)
        if (s->batch[n].c != c)
            s->batch[j++] = s->batch[n];
    s->batch_n = j;
    uint64_t h = key_hash(c->id, c->id_len);
    size_t mask = s->cap - 1;
    size_t i = find_slot(s, h, c->id, c->id_len);
    if (s->slots[i].c != c)
        return 0;
    /* Backward-shift deletion keeps probe sequences intact. */
    size_t k = i;
    for (;;) {
        s->slots[i].c = NULL;
        for (;;) {
            k = (k + 1) & mask;
            if (s->slots[k].c == NULL) {
                s->count--;
                return 1;
            }
            size_t home = (size_t)s->slots[k].hash & mask;
            /* Move k to i if its home is not cyclically in (i, k]. */
            if (i <= k ? (home <= i || home > k) : (home <= i && home > k))
                break;
        }
        s->slots[i] = s->slots[k];
        i = k;
    }
}

void hf_memstore_fail_index_alloc(hf_memstore *s, long n)
{
    s->fail_after = n;
}

void hf_memstore_remove(hf_memstore *s, hf_customer *c)
{
    if (unlink_customer(s, c))
        hf_customer_destroy(c);
}

size_t hf_memstore_count(const hf_memstore *s)
{
    return s->count;
}

void hf_memstore_foreach(hf_memstore *s,
                         void (*fn)(void *opaque, hf_customer *c),
                         void *opaque)
{
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].c != NULL)
            fn(opaque, s->slots[i].c);
}
