/*
 * state.c - per-customer state and its compact, versioned binary encoding.
 *
 * Encoding, version 1 (all integers unsigned LEB128 varints unless noted):
 *   u8      version (1)
 *   varint  nbeh, then target bits, then nbeh x flips
 *   varint  nrecent, then nrecent x 6-byte little-endian event-id hashes,
 *           oldest first
 *   varint  ndays, then per day, ascending:
 *             day: the first as a zigzag varint, the next as the positive
 *             delta from the previous day
 *             orders, returns;
 *             items, gross_minor     (only when orders > 0)
 *             returned_minor         (only when returns > 0)
 * Due days are not stored: they follow from the days and the stream's clock.
 * A customer with three active days, three ids and two behaviours takes
 * about 45 bytes.
 */
#include "core/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define ID_HASH_BYTES 6
#define ID_HASH_MASK ((UINT64_C(1) << (8 * ID_HASH_BYTES)) - 1)

uint64_t hf_event_id_hash(const char *id, size_t len)
{
    return XXH3_64bits(id, len) & ID_HASH_MASK;
}

hf_customer *hf_customer_new(const char *id, size_t id_len, uint32_t nbeh)
{
    /* [hf_customer][flips: nbeh x u32][due: nbeh x i32][id bytes][NUL] */
    hf_customer *c = calloc(1, sizeof(*c) + nbeh * 8u + id_len + 1);
    if (c == NULL)
        return NULL;
    c->flips = (uint32_t *)(c + 1);
    c->due = (int32_t *)(c->flips + nbeh);
    c->id = (char *)(c->due + nbeh);
    memcpy(c->id, id, id_len);
    c->id[id_len] = '\0';
    c->id_len = (uint32_t)id_len;
    c->nbeh = (uint8_t)nbeh;
    for (uint32_t b = 0; b < nbeh; b++)
        c->due[b] = HF_NO_DUE;
    c->days = c->inline_days;
    c->days_cap = HF_INLINE_DAYS;
    c->recent = c->inline_recent;
    c->recent_cap = HF_INLINE_RECENT;
    return c;
}

static void free_days(hf_customer *c)
{
    if (c->days != c->inline_days)
        free(c->days);
}

static void free_recent(hf_customer *c)
{
    if (c->recent != c->inline_recent)
        free(c->recent);
}

void hf_customer_destroy(hf_customer *c)
{
    if (c == NULL)
        return;
    free_days(c);
    free_recent(c);
    free(c);
}

/* Grows an array that may still be the inline one. */
static void *grow_array(void *cur, const void *inline_buf, size_t n, size_t new_cap,
                        size_t size)
{
    if (cur != inline_buf)
        return realloc(cur, new_cap * size);
    void *p = malloc(new_cap * size);
    if (p != NULL)
        memcpy(p, cur, n * size);
    return p;
}

int hf_customer_seen(const hf_customer *c, uint64_t id_hash)
{
    for (uint32_t i = 0; i < c->nrecent; i++)
        if (c->recent[i] == id_hash)
            return 1;
    return 0;
}

void hf_customer_remember(hf_customer *c, uint64_t id_hash)
{
    if (c->nrecent < HF_RECENT_IDS) {
        if (c->nrecent == c->recent_cap) {
            uint32_t cap = c->recent_cap ? c->recent_cap * 2u : 4u;
            if (cap > HF_RECENT_IDS)
                cap = HF_RECENT_IDS;
            uint64_t *p = grow_array(c->recent, c->inline_recent, c->nrecent, cap,
                                     sizeof(*p));
            if (p == NULL) {
                /* Out of memory: forget the oldest id instead of failing. */
                if (c->nrecent == 0)
                    return;
                memmove(c->recent, c->recent + 1,
                        (c->nrecent - 1u) * sizeof(*c->recent));
                c->recent[c->nrecent - 1u] = id_hash;
                return;
            }
            c->recent = p;
            c->recent_cap = (uint8_t)cap;
        }
        c->recent[c->nrecent++] = id_hash;
        return;
    }
    c->recent[c->recent_pos] = id_hash;
    c->recent_pos = (uint8_t)((c->recent_pos + 1u) % HF_RECENT_IDS);
}

int hf_customer_add(hf_customer *c, int32_t day, int is_return,
                    int64_t amount_minor, int64_t items)
{
    /* Days are ascending; most events land on the last day or after it. */
    uint32_t i = c->ndays;
    while (i > 0 && c->days[i - 1].day > day)
        i--;
    if (i == 0 || c->days[i - 1].day != day) {
        if (c->ndays == c->days_cap) {
            uint32_t cap = c->days_cap ? c->days_cap * 2u : 2u;
            hf_day_agg *p = grow_array(c->days, c->inline_days, c->ndays, cap,
                                       sizeof(*p));
            if (p == NULL)
                return -1;
            c->days = p;
            c->days_cap = cap;
        }
        memmove(c->days + i + 1, c->days + i, (c->ndays - i) * sizeof(*c->days));
        memset(&c->days[i], 0, sizeof(c->days[i]));
        c->days[i].day = day;
        c->ndays++;
        i++;
    }
    hf_day_agg *a = &c->days[i - 1];
    if (is_return) {
        a->returns++;
        a->returned_minor = hf_sat_add(a->returned_minor, amount_minor);
    } else {
        a->orders++;
        a->items = hf_sat_add(a->items, items);
        a->gross_minor = hf_sat_add(a->gross_minor, amount_minor);
    }
    return 0;
}

void hf_customer_prune(hf_customer *c, int32_t before_or_at)
{
    uint32_t n = 0;
    while (n < c->ndays && c->days[n].day <= before_or_at)
        n++;
    if (n == 0)
        return;
    memmove(c->days, c->days + n, (c->ndays - n) * sizeof(*c->days));
    c->ndays -= n;
}

/*--- Encoding ----------------------------------------------------------*/

/*
 * The writer: with `checked`, bytes past cap are counted but not written
 * (so that a call can ask the size it needs); without, the caller has made
 * sure that cap holds them (hf_state_encode_bound). One encoder body serves
 * both, each instantiation with the check compiled in or out.
 */
typedef struct wr {
    uint8_t *p;
    size_t cap;
    size_t len;
} wr;

static inline __attribute__((always_inline)) void put_u8(wr *w, uint8_t v, int checked)
{
    if (!checked || w->len < w->cap)
        w->p[w->len] = v;
    w->len++;
}

static inline __attribute__((always_inline)) void put_varint(wr *w, uint64_t v, int checked)
{
    while (v >= 0x80) {
        put_u8(w, (uint8_t)(v | 0x80), checked);
        v >>= 7;
    }
    put_u8(w, (uint8_t)v, checked);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline __attribute__((always_inline)) size_t
encode(const hf_customer *c, uint8_t *buf, size_t buf_size, int checked)
{
    wr w = {buf, buf_size, 0};
    put_u8(&w, HF_STATE_VERSION, checked);
    put_varint(&w, c->nbeh, checked);
    put_varint(&w, c->target, checked);
    for (uint32_t b = 0; b < c->nbeh; b++)
        put_varint(&w, c->flips[b], checked);
    put_varint(&w, c->nrecent, checked);
    /* Oldest first: from recent_pos once the ring is full. */
    uint32_t i = c->nrecent == HF_RECENT_IDS ? c->recent_pos : 0;
    for (uint32_t k = 0; k < c->nrecent; k++, i = i + 1 == c->nrecent ? 0 : i + 1) {
        uint64_t h = c->recent[i];
        for (int j = 0; j < ID_HASH_BYTES; j++)
            put_u8(&w, (uint8_t)(h >> (8 * j)), checked);
    }
    put_varint(&w, c->ndays, checked);
    for (uint32_t d = 0; d < c->ndays; d++) {
        const hf_day_agg *a = &c->days[d];
        if (d == 0)
            put_varint(&w, zigzag(a->day), checked);
        else
            put_varint(&w, (uint64_t)((int64_t)a->day - c->days[d - 1].day), checked);
        put_varint(&w, a->orders, checked);
        put_varint(&w, a->returns, checked);
        if (a->orders > 0) {
            put_varint(&w, (uint64_t)a->items, checked);
            put_varint(&w, (uint64_t)a->gross_minor, checked);
        }
        if (a->returns > 0)
            put_varint(&w, (uint64_t)a->returned_minor, checked);
    }
    return w.len;
}

size_t hf_state_encode_bound(const hf_customer *c)
{
    /* A varint of a 32-bit value takes up to 5 bytes, of a 64-bit one 10. */
    return 1 + 5 + 5 + (size_t)c->nbeh * 5 + 5 + (size_t)c->nrecent * ID_HASH_BYTES + 5 +
           (size_t)c->ndays * (5 + 5 + 5 + 10 + 10 + 10);
}

size_t hf_state_encode(const hf_customer *c, uint8_t *buf, size_t buf_size)
{
    /* A commit encodes every changed customer: no check per byte when the
     * buffer holds the largest encoding. */
    if (buf != NULL && buf_size >= hf_state_encode_bound(c))
        return encode(c, buf, buf_size, 0);
    return encode(c, buf, buf_size, 1);
}

typedef struct rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int err;
} rd;

static uint64_t get_varint(rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->pos >= r->len) {
            r->err = 1;
            return 0;
        }
        uint8_t byte = r->p[r->pos++];
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return v;
    }
    r->err = 1;
    return 0;
}

/* A state being decoded: nothing of the customer changes until it is whole. */
typedef struct decoded {
    uint32_t target;
    uint32_t flips[256];
    uint64_t nrecent;
    uint64_t recent[HF_RECENT_IDS];
    uint64_t ndays;
    hf_day_agg *days; /* NULL when ndays is 0 */
} decoded;

/* The version, the behaviours, the target bits and the flips. 0, or -1 with errstr. */
static inline __attribute__((always_inline)) int
decode_head(rd *r, const hf_customer *c, decoded *d, char *errstr, size_t errstr_size)
{
    uint8_t version = r->p[r->pos++];
    if (version != HF_STATE_VERSION) {
        snprintf(errstr, errstr_size, "state version %u is not supported (expected %u)",
                 version, HF_STATE_VERSION);
        return -1;
    }
    uint64_t nbeh = get_varint(r);
    if (!r->err && nbeh != c->nbeh) {
        snprintf(errstr, errstr_size,
                 "state has %llu behaviours, the configuration has %u",
                 (unsigned long long)nbeh, c->nbeh);
        return -1;
    }
    d->target = (uint32_t)get_varint(r);
    for (uint32_t b = 0; b < nbeh && !r->err; b++)
        d->flips[b] = (uint32_t)get_varint(r);
    return 0;
}

/* The event-id hashes, oldest first. 0, or -1 with errstr. */
static inline __attribute__((always_inline)) int
decode_recent(rd *r, decoded *d, char *errstr, size_t errstr_size)
{
    d->nrecent = get_varint(r);
    if (!r->err && d->nrecent > HF_RECENT_IDS) {
        snprintf(errstr, errstr_size, "state is corrupt: %llu recent ids",
                 (unsigned long long)d->nrecent);
        return -1;
    }
    if (!r->err && r->len - r->pos < d->nrecent * ID_HASH_BYTES)
        r->err = 1;
    for (uint32_t k = 0; k < d->nrecent && !r->err; k++) {
        uint64_t h = 0;
        for (int j = 0; j < ID_HASH_BYTES; j++)
            h |= (uint64_t)r->p[r->pos++] << (8 * j);
        d->recent[k] = h;
    }
    return 0;
}

/*
 * The day aggregates, into d->days (allocated here; the caller frees it
 * on any error). 0, or -1 with errstr.
 */
static inline __attribute__((always_inline)) int
decode_days(rd *r, decoded *d, char *errstr, size_t errstr_size)
{
    d->ndays = get_varint(r);
    if (!r->err && d->ndays > r->len - r->pos) /* each day takes >= 3 bytes */
        r->err = 1;
    if (!r->err && d->ndays > 0) {
        d->days = calloc(d->ndays, sizeof(*d->days));
        if (d->days == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
    }
    int64_t prev = 0;
    for (uint64_t i = 0; i < d->ndays && !r->err; i++) {
        hf_day_agg *a = &d->days[i];
        uint64_t raw = get_varint(r);
        if (r->err)
            break;
        if (i > 0 && raw > (uint64_t)UINT32_MAX) {
            snprintf(errstr, errstr_size, "state is corrupt: day gap %llu",
                     (unsigned long long)raw);
            return -1;
        }
        int64_t day = i == 0 ? unzigzag(raw) : prev + (int64_t)raw;
        if (day > INT32_MAX || day < INT32_MIN || (i > 0 && day <= prev)) {
            snprintf(errstr, errstr_size, "state is corrupt: day %lld out of order",
                     (long long)day);
            return -1;
        }
        a->day = (int32_t)day;
        prev = day;
        a->orders = (uint32_t)get_varint(r);
        a->returns = (uint32_t)get_varint(r);
        uint64_t items = 0, gross = 0, returned = 0;
        if (a->orders > 0) {
            items = get_varint(r);
            gross = get_varint(r);
        }
        if (a->returns > 0)
            returned = get_varint(r);
        if (items > INT64_MAX || gross > INT64_MAX || returned > INT64_MAX) {
            snprintf(errstr, errstr_size, "state is corrupt: an amount of day %lld is out of range",
                     (long long)day);
            return -1;
        }
        a->items = (int64_t)items;
        a->gross_minor = (int64_t)gross;
        a->returned_minor = (int64_t)returned;
    }
    return 0;
}

/*
 * Replaces the customer's state with the decoded one (which gives up its
 * days). 0, or -1 (out of memory, errstr set, the customer unchanged).
 */
static inline __attribute__((always_inline)) int
decode_install(hf_customer *c, decoded *d, char *errstr, size_t errstr_size)
{
    uint64_t *ring = c->inline_recent;
    if (d->nrecent > HF_INLINE_RECENT) {
        ring = malloc(HF_RECENT_IDS * sizeof(*ring));
        if (ring == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
    }
    free_days(c);
    free_recent(c);
    if (d->ndays <= HF_INLINE_DAYS) {
        if (d->ndays > 0)
            memcpy(c->inline_days, d->days, d->ndays * sizeof(*d->days));
        free(d->days);
        c->days = c->inline_days;
        c->days_cap = HF_INLINE_DAYS;
    } else {
        c->days = d->days;
        c->days_cap = (uint32_t)d->ndays;
    }
    d->days = NULL;
    c->ndays = (uint32_t)d->ndays;
    if (d->nrecent > 0)
        memcpy(ring, d->recent, d->nrecent * sizeof(*ring));
    c->recent = ring;
    c->nrecent = (uint8_t)d->nrecent;
    c->recent_cap = ring == c->inline_recent ? HF_INLINE_RECENT : HF_RECENT_IDS;
    c->recent_pos = 0;
    c->target = d->target;
    for (uint32_t b = 0; b < c->nbeh; b++) {
        c->flips[b] = d->flips[b];
        c->due[b] = HF_NO_DUE;
    }
    return 0;
}

int hf_state_decode(hf_customer *c, const uint8_t *buf, size_t len,
                    char *errstr, size_t errstr_size)
{
    rd r = {buf, len, 0, 0};
    if (len == 0) {
        snprintf(errstr, errstr_size, "state is empty");
        return -1;
    }
    decoded d;
    d.days = NULL;
    if (decode_head(&r, c, &d, errstr, errstr_size) != 0 ||
        decode_recent(&r, &d, errstr, errstr_size) != 0)
        return -1;
    if (decode_days(&r, &d, errstr, errstr_size) != 0)
        goto fail;
    if (r.err) {
        snprintf(errstr, errstr_size, "state is truncated (%zu bytes)", len);
        goto fail;
    }
    if (r.pos != len) {
        snprintf(errstr, errstr_size, "state has %zu trailing bytes", len - r.pos);
        goto fail;
    }
    if (decode_install(c, &d, errstr, errstr_size) != 0)
        goto fail;
    return 0;
fail:
    free(d.days);
    return -1;
}
