/*
 * store_memory.c - in-memory customer store of one stream.
 *
 * Customers live in an open-addressing hash table (linear probing, backward
 * shift deletion) keyed by XXH3 of the customer id. Pending expiries live in
 * a binary min-heap ordered by (due day, customer id bytes, behaviour);
 * an entry is current only while it matches the customer's due day for that
 * behaviour, so updates push a new entry and stale ones are dropped on pop.
 */
#include "store_memory.h"

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
} expiry;

struct hf_memstore {
    uint32_t nbeh;
    slot *slots;
    size_t cap;     /* power of two */
    size_t count;
    expiry *heap;
    size_t heap_len;
    size_t heap_cap;
};

hf_memstore *hf_memstore_new(uint32_t nbehaviours)
{
    hf_memstore *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->nbeh = nbehaviours;
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
    free(s->heap);
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
    uint64_t h = key_hash(id, len);
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

int hf_memstore_insert(hf_memstore *s, hf_customer *c)
{
    if (put(s, key_hash(c->id, c->id_len), c) != 0)
        return -1;
    for (uint32_t b = 0; b < c->nbeh && b < s->nbeh; b++)
        if (c->due[b] != HF_NO_DUE)
            hf_memstore_set_due(s, c, b, c->due[b]);
    return 0;
}

/*--- Expiry heap -------------------------------------------------------*/

static int expiry_less(const expiry *a, const expiry *b)
{
    if (a->due != b->due)
        return a->due < b->due;
    if (a->c != b->c) {
        size_t n = a->c->id_len < b->c->id_len ? a->c->id_len : b->c->id_len;
        int r = memcmp(a->c->id, b->c->id, n);
        if (r != 0)
            return r < 0;
        if (a->c->id_len != b->c->id_len)
            return a->c->id_len < b->c->id_len;
    }
    return a->b < b->b;
}

static void sift_up(expiry *h, size_t i)
{
    expiry x = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!expiry_less(&x, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static void sift_down(expiry *h, size_t n, size_t i)
{
    expiry x = h[i];
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n)
            break;
        size_t m = l;
        if (l + 1 < n && expiry_less(&h[l + 1], &h[l]))
            m = l + 1;
        if (!expiry_less(&h[m], &x))
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = x;
}

void hf_memstore_set_due(hf_memstore *s, hf_customer *c, uint32_t b,
                         int32_t due)
{
    c->due[b] = due;
    if (due == HF_NO_DUE)
        return;
    if (s->heap_len == s->heap_cap) {
        size_t ncap = s->heap_cap ? s->heap_cap * 2 : 1024;
        expiry *nh = realloc(s->heap, ncap * sizeof(*nh));
        if (nh == NULL)
            abort(); /* cannot keep the contract without the index */
        s->heap = nh;
        s->heap_cap = ncap;
    }
    s->heap[s->heap_len] = (expiry){due, b, c};
    sift_up(s->heap, s->heap_len);
    s->heap_len++;
}

int hf_memstore_next_expiry(hf_memstore *s, int32_t upto, hf_customer **c,
                            uint32_t *b, int32_t *due)
{
    while (s->heap_len > 0 && s->heap[0].due <= upto) {
        expiry top = s->heap[0];
        s->heap[0] = s->heap[--s->heap_len];
        if (s->heap_len > 0)
            sift_down(s->heap, s->heap_len, 0);
        if (top.c->due[top.b] != top.due)
            continue; /* stale */
        top.c->due[top.b] = HF_NO_DUE; /* popped: no longer pending */
        *c = top.c;
        *b = top.b;
        *due = top.due;
        return 1;
    }
    return 0;
}

void hf_memstore_remove(hf_memstore *s, hf_customer *c)
{
    size_t j = 0;
    for (size_t i = 0; i < s->heap_len; i++)
        if (s->heap[i].c != c)
            s->heap[j++] = s->heap[i];
    if (j != s->heap_len) {
        s->heap_len = j;
        for (size_t i = j / 2; i-- > 0;)
            sift_down(s->heap, s->heap_len, i);
    }
    uint64_t h = key_hash(c->id, c->id_len);
    size_t mask = s->cap - 1;
    size_t i = find_slot(s, h, c->id, c->id_len);
    if (s->slots[i].c != c)
        return;
    /* Backward-shift deletion keeps probe sequences intact. */
    size_t k = i;
    for (;;) {
        s->slots[i].c = NULL;
        for (;;) {
            k = (k + 1) & mask;
            if (s->slots[k].c == NULL)
                goto done;
            size_t home = (size_t)s->slots[k].hash & mask;
            /* Move k to i if its home is not cyclically in (i, k]. */
            if (i <= k ? (home <= i || home > k) : (home <= i && home > k))
                break;
        }
        s->slots[i] = s->slots[k];
        i = k;
    }
done:
    s->count--;
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
