/*
 * store_memory.h - in-memory customer store of one stream: a hash table of
 * customers and an expiry index ordered by (due day, customer_id bytes,
 * behaviour order), as SEMANTICS.md step 3 requires.
 *
 * The store owns its customers; pointers it returns stay valid until the
 * customer is removed or the store destroyed.
 */
#ifndef HF_STORE_MEMORY_H
#define HF_STORE_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "core/state.h"

typedef struct hf_memstore hf_memstore;

hf_memstore *hf_memstore_new(uint32_t nbehaviours);
void hf_memstore_destroy(hf_memstore *s); /* accepts NULL */

hf_customer *hf_memstore_get(hf_memstore *s, const char *id, size_t len);

/*
 * Prefetching, for callers that see their next customers coming: a stream
 * of random customers is bound by cache misses, not by work. h is
 * hf_memstore_hash of the id; stage 0 fetches the customer's table slot,
 * stage 1 (later: the slot is in cache by then) the customer, stage 2 (later
 * still) its day and event-id arrays. Hints only: nothing changes.
 */
uint64_t hf_memstore_hash(const char *id, size_t len);
void hf_memstore_prefetch(const hf_memstore *s, uint64_t h, int stage);
/* Returns the customer, creating an empty one when absent (*created = 1). */
hf_customer *hf_memstore_upsert(hf_memstore *s, const char *id, size_t len,
                                int *created);
/* The same, for a caller that has the id's hf_memstore_hash already. */
hf_customer *hf_memstore_upsert_hashed(hf_memstore *s, uint64_t h, const char *id,
                                       size_t len, int *created);
/*
 * Inserts a customer built elsewhere (e.g. decoded from Redis); the store
 * takes ownership. Its due days are indexed. Returns 0, or -1 if the id
 * exists or when out of memory (then the caller keeps c).
 */
int hf_memstore_insert(hf_memstore *s, hf_customer *c);
/* Removes and destroys a customer (and its pending expiries). */
void hf_memstore_remove(hf_memstore *s, hf_customer *c);
size_t hf_memstore_count(const hf_memstore *s);

/* Calls fn for every customer, in no particular order. */
void hf_memstore_foreach(hf_memstore *s,
                         void (*fn)(void *opaque, hf_customer *c),
                         void *opaque);

/*
 * Sets c->due[b] to due (HF_NO_DUE to clear) and indexes it. Stale index
 * entries are skipped lazily. Returns 0, or -1 when out of memory (then
 * c->due[b] and the index's entries are as they were).
 */
int hf_memstore_set_due(hf_memstore *s, hf_customer *c, uint32_t b,
                        int32_t due);
/*
 * Pops the first pending expiry with due day <= upto. Returns 1 and fills
 * the out-parameters, 0 when there is none, or -1 when out of memory.
 */
int hf_memstore_next_expiry(hf_memstore *s, int32_t upto, hf_customer **c,
                            uint32_t *b, int32_t *due);

/*
 * For tests: after `n` more allocations of the expiry index succeed, the
 * next one fails (once). -1 turns this off.
 */
void hf_memstore_fail_index_alloc(hf_memstore *s, long n);

#endif
