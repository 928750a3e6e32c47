/*
 * state.h - the per-customer state and its compact, versioned binary encoding.
 *
 * The state holds what SEMANTICS.md needs of a customer's past, and no more:
 *  - one aggregate per event day still inside the longest window
 *    (orders, items, gross, returns, returned money of that day);
 *  - the 64-bit hashes of the last 32 event ids (duplicate detection);
 *  - per behaviour: the class (target bit), the number of signals emitted so
 *    far (the ordinal that makes signal ids deterministic) and, in memory
 *    only, the pending expiry due day (derived from the days on decode).
 *
 * Memory layout: an hf_customer is one allocation owned by its store, with
 * its per-behaviour arrays and id, and room for a few days and event-id
 * hashes inline; longer day lists and id rings move to their own
 * allocations (owned by the customer). Keeping the common case in one
 * block saves cache misses on the hot path.
 */
#ifndef HF_STATE_H
#define HF_STATE_H

#include <stddef.h>
#include <stdint.h>

#define HF_RECENT_IDS 32
#define HF_NO_DUE INT32_MAX
#define HF_INLINE_DAYS 2
#define HF_INLINE_RECENT 4

typedef struct hf_day_agg {
    int32_t day;
    uint32_t orders;
    uint32_t returns;
    int64_t items;
    int64_t gross_minor;
    int64_t returned_minor;
} hf_day_agg;

typedef struct hf_customer {
    hf_day_agg *days;       /* ascending by day, unique days */
    uint32_t ndays;
    uint32_t days_cap;
    uint64_t *recent;       /* ring of the last nrecent event-id hashes */
    uint8_t nrecent;        /* <= HF_RECENT_IDS */
    uint8_t recent_pos;     /* next slot to overwrite once full */
    uint8_t recent_cap;
    uint8_t nbeh;           /* number of behaviours the arrays below hold */
    uint32_t target;        /* bit b: target for behaviour b */
    uint32_t *flips;        /* [nbeh] signals emitted so far per behaviour */
    int32_t *due;           /* [nbeh] pending expiry day or HF_NO_DUE (not encoded) */
    uint32_t id_len;
    char *id;               /* customer_id bytes, NUL-terminated, owned */
    uint32_t flags;         /* HF_CUST_* bits, for the stores and the live loop */
    hf_day_agg inline_days[HF_INLINE_DAYS];      /* days, while they fit */
    uint64_t inline_recent[HF_INLINE_RECENT];    /* recent, while they fit */
} hf_customer;

/*
 * The bits of hf_customer.flags. The engine and the encoding never read them;
 * each says who sets and clears it.
 */
#define HF_CUST_DIRTY 0x20000000u      /* live loop: changed in the open batch */
#define HF_CUST_REDIS_BATCH 0x10000000u /* Redis store: in the batch being grown */
#define HF_CUST_REDIS_SMALL 0x40000000u /* Redis store: stored in a small bucket hash */
#define HF_CUST_REDIS_BIG 0x80000000u   /* Redis store: stored in its bucket's big hash */

#define HF_STATE_VERSION 1

/*
 * Prefetch hints for a caller that knows which customers come next: the
 * customer itself (its header and what follows it: flips, due days, the
 * id; reading its size would wait for the very miss this hides), then,
 * once that is in cache, its out-of-line day and event-id arrays.
 */
static inline void hf_customer_prefetch(const hf_customer *c)
{
    const char *p = (const char *)c;
    for (size_t off = 0; off < sizeof(*c) + 64; off += 64)
        __builtin_prefetch(p + off);
}

static inline void hf_customer_prefetch_arrays(const hf_customer *c)
{
    if (c->days != c->inline_days) {
        const char *p = (const char *)c->days, *end = (const char *)(c->days + c->ndays);
        for (; p < end; p += 64)
            __builtin_prefetch(p);
    }
    if (c->recent != c->inline_recent)
        __builtin_prefetch(c->recent);
}

/*
 * Adds without overflow: sums stick at INT64_MAX / INT64_MIN (valid events
 * cannot get there; a corrupt stored state must not make it undefined).
 */
static inline int64_t hf_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* Allocates a new, empty (non-target) customer for nbeh behaviours. */
hf_customer *hf_customer_new(const char *id, size_t id_len, uint32_t nbeh);
void hf_customer_destroy(hf_customer *c);

/* Duplicate detection over the ring of recent event-id hashes. */
int hf_customer_seen(const hf_customer *c, uint64_t id_hash);
void hf_customer_remember(hf_customer *c, uint64_t id_hash);

/* Adds an accepted event to its day's aggregate (inserting the day). */
int hf_customer_add(hf_customer *c, int32_t day, int is_return,
                    int64_t amount_minor, int64_t items);
/* Drops the day aggregates with day <= before_or_at. */
void hf_customer_prune(hf_customer *c, int32_t before_or_at);

/*
 * Encodes the customer (not its id, not the due days) into buf.
 * Returns the number of bytes written, or the size needed when it is larger
 * than buf_size (then nothing useful is written). Never fails otherwise.
 */
size_t hf_state_encode(const hf_customer *c, uint8_t *buf, size_t buf_size);

/* The most hf_state_encode can write for c: a buffer of this size always
 * holds its encoding. */
size_t hf_state_encode_bound(const hf_customer *c);

/*
 * Decodes a state written by hf_state_encode into c (an existing customer
 * whose arrays are replaced). Returns 0, or -1 with a reason in errstr for a
 * truncated, corrupt or unknown-version value.
 */
int hf_state_decode(hf_customer *c, const uint8_t *buf, size_t len,
                    char *errstr, size_t errstr_size);

/* Hash of an event id, as kept in the ring. */
uint64_t hf_event_id_hash(const char *id, size_t len);

#endif
