/*
 * test_state.c - unit tests of the per-customer state (state.h): day
 * aggregates, pruning, the ring of recent event ids, and the versioned
 * binary encoding (round trips, size, decode errors with their exact texts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/state.h"

#define D0 20000

static uint64_t idh(int i)
{
    char id[16];
    int n = snprintf(id, sizeof(id), "e%d", i);
    return hf_event_id_hash(id, (size_t)n);
}

static hf_customer *cust(uint32_t nbeh)
{
    hf_customer *c = hf_customer_new("cust-1", 6, nbeh);
    assert_non_null(c);
    return c;
}

static void add(hf_customer *c, int32_t day, int is_return, int64_t amount,
                int64_t items)
{
    assert_int_equal(hf_customer_add(c, day, is_return, amount, items), 0);
}

static void assert_day(const hf_customer *c, uint32_t i, int32_t day,
                       uint32_t orders, uint32_t returns, int64_t items,
                       int64_t gross, int64_t returned)
{
    assert_true(i < c->ndays);
    assert_int_equal(c->days[i].day, day);
    assert_int_equal(c->days[i].orders, orders);
    assert_int_equal(c->days[i].returns, returns);
    assert_int_equal(c->days[i].items, items);
    assert_int_equal(c->days[i].gross_minor, gross);
    assert_int_equal(c->days[i].returned_minor, returned);
}

/* Everything decoded must equal the original (ring compared by content). */
static void assert_same_state(const hf_customer *a, const hf_customer *b)
{
    assert_int_equal(a->nbeh, b->nbeh);
    assert_int_equal(a->target, b->target);
    for (uint32_t k = 0; k < a->nbeh; k++) {
        assert_int_equal(a->flips[k], b->flips[k]);
        assert_int_equal(b->due[k], HF_NO_DUE);
    }
    assert_int_equal(a->ndays, b->ndays);
    for (uint32_t i = 0; i < a->ndays; i++)
        assert_day(b, i, a->days[i].day, a->days[i].orders, a->days[i].returns,
                   a->days[i].items, a->days[i].gross_minor,
                   a->days[i].returned_minor);
    assert_int_equal(a->nrecent, b->nrecent);
    for (uint32_t k = 0; k < a->nrecent; k++)
        assert_true(hf_customer_seen(b, a->recent[k]));
}

static hf_customer *roundtrip(const hf_customer *c, size_t *size)
{
    uint8_t buf[1024];
    size_t n = hf_state_encode(c, buf, sizeof(buf));
    assert_true(n > 0 && n <= sizeof(buf));
    hf_customer *d = hf_customer_new(c->id, c->id_len, c->nbeh);
    assert_non_null(d);
    char err[128] = "";
    assert_int_equal(hf_state_decode(d, buf, n, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_same_state(c, d);
    if (size != NULL)
        *size = n;
    return d;
}

/*--- Customer -------------------------------------------------------------*/

static void test_customer_new_is_empty(void **state)
{
    (void)state;
    hf_customer *c = hf_customer_new("ab\0cd", 5, 3);
    assert_non_null(c);
    assert_int_equal(c->id_len, 5);
    assert_memory_equal(c->id, "ab\0cd", 6);
    assert_int_equal(c->nbeh, 3);
    assert_int_equal(c->ndays, 0);
    assert_int_equal(c->nrecent, 0);
    assert_int_equal(c->target, 0);
    for (int b = 0; b < 3; b++) {
        assert_int_equal(c->flips[b], 0);
        assert_int_equal(c->due[b], HF_NO_DUE);
    }
    assert_false(hf_customer_seen(c, idh(1)));
    hf_customer_destroy(c);
    hf_customer_destroy(NULL);
}

static void test_customer_add_aggregates_days_ascending(void **state)
{
    (void)state;
    hf_customer *c = cust(1);
    add(c, D0 + 5, 0, 1000, 2);
    add(c, D0 + 2, 0, 300, 1);
    add(c, D0 + 5, 1, 400, 1);     /* a return's items do not count */
    add(c, D0 + 9, 1, 50, 0);
    add(c, D0 + 2, 0, 200, 3);
    add(c, D0 - 1, 0, 7, 1);
    assert_int_equal(c->ndays, 4);
    assert_day(c, 0, D0 - 1, 1, 0, 1, 7, 0);
    assert_day(c, 1, D0 + 2, 2, 0, 4, 500, 0);
    assert_day(c, 2, D0 + 5, 1, 1, 2, 1000, 400);
    assert_day(c, 3, D0 + 9, 0, 1, 0, 0, 50);
    hf_customer_destroy(c);
}

static void test_customer_prune(void **state)
{
    (void)state;
    hf_customer *c = cust(1);
    add(c, D0 + 1, 0, 10, 1);
    add(c, D0 + 2, 0, 20, 1);
    add(c, D0 + 5, 1, 50, 1);
    hf_customer_prune(c, D0);          /* nothing that old */
    assert_int_equal(c->ndays, 3);
    hf_customer_prune(c, D0 + 2);      /* inclusive */
    assert_int_equal(c->ndays, 1);
    assert_day(c, 0, D0 + 5, 0, 1, 0, 0, 50);
    add(c, D0 + 3, 0, 30, 1);          /* still insertable before */
    assert_int_equal(c->ndays, 2);
    assert_day(c, 0, D0 + 3, 1, 0, 1, 30, 0);
    hf_customer_prune(c, D0 + 100);
    assert_int_equal(c->ndays, 0);
    hf_customer_prune(c, D0 + 200);    /* empty: no-op */
    assert_int_equal(c->ndays, 0);
    hf_customer_destroy(c);
}

static void test_customer_seen_remember_ring(void **state)
{
    (void)state;
    hf_customer *c = cust(1);
    assert_int_not_equal(idh(1), idh(2));
    assert_int_equal(hf_event_id_hash("e1", 2), idh(1));
    for (int i = 0; i < HF_RECENT_IDS; i++) {
        hf_customer_remember(c, idh(i));
        assert_int_equal(c->nrecent, i + 1);
    }
    for (int i = 0; i < HF_RECENT_IDS; i++)
        assert_true(hf_customer_seen(c, idh(i)));
    assert_false(hf_customer_seen(c, idh(HF_RECENT_IDS)));
    /* Eight more: e0..e7 leave the ring, oldest first. */
    for (int i = HF_RECENT_IDS; i < HF_RECENT_IDS + 8; i++)
        hf_customer_remember(c, idh(i));
    assert_int_equal(c->nrecent, HF_RECENT_IDS);
    for (int i = 0; i < 8; i++)
        assert_false(hf_customer_seen(c, idh(i)));
    for (int i = 8; i < HF_RECENT_IDS + 8; i++)
        assert_true(hf_customer_seen(c, idh(i)));
    /* Many times round the ring: exactly the last 32 stay. */
    for (int i = HF_RECENT_IDS + 8; i < 200; i++) {
        hf_customer_remember(c, idh(i));
        for (int k = i - 40; k <= i; k++)
            assert_int_equal(hf_customer_seen(c, idh(k)), k > i - HF_RECENT_IDS);
    }
    assert_int_equal(c->nrecent, HF_RECENT_IDS);
    hf_customer_destroy(c);
}

/*--- Encoding round trips --------------------------------------------------*/

/*
 * A typical customer: 3 active days, 3 event ids, 2 behaviours. Its size
 * follows from the version 1 layout: version 1 + nbeh 1 + target 1 +
 * flips 2 + nrecent 1 + 3 x 6-byte hashes 18 + ndays 1 + first day
 * (zigzag(20000) = 40000: 3, orders 1, returns 1, items 1, gross 2500: 2)
 * 8 + two more days (delta 1 each) 2 x 6 = 45 bytes.
 */
static void test_state_roundtrip_typical_size(void **state)
{
    (void)state;
    hf_customer *c = cust(2);
    add(c, D0, 0, 2500, 1);
    add(c, D0 + 1, 0, 2500, 1);
    add(c, D0 + 5, 0, 2500, 1);
    for (int i = 0; i < 3; i++)
        hf_customer_remember(c, idh(i));
    c->target = 0x1;
    c->flips[0] = 1;
    c->flips[1] = 0;
    c->due[0] = D0 + 90; /* not encoded */
    size_t n = 0;
    hf_customer *d = roundtrip(c, &n);
    assert_true(n < 64);
    assert_int_equal(n, 45);
    assert_int_equal(d->due[0], HF_NO_DUE);
    assert_string_equal(d->id, "cust-1");
    hf_customer_destroy(d);
    hf_customer_destroy(c);
}

/*
 * The ring after wrap-around (40 ids into 32 slots) keeps its order through
 * the encoding: the next id remembered after decoding evicts the oldest.
 */
static void test_state_roundtrip_ring_wraparound(void **state)
{
    (void)state;
    hf_customer *c = cust(1);
    for (int i = 0; i < 40; i++)
        hf_customer_remember(c, idh(i));
    hf_customer *d = roundtrip(c, NULL);
    for (int i = 0; i < 8; i++)
        assert_false(hf_customer_seen(d, idh(i)));
    for (int i = 8; i < 40; i++)
        assert_true(hf_customer_seen(d, idh(i)));
    hf_customer_remember(c, idh(40));
    hf_customer_remember(d, idh(40));
    hf_customer_remember(c, idh(41));
    hf_customer_remember(d, idh(41));
    for (int i = 0; i < 10; i++) {
        assert_false(hf_customer_seen(c, idh(i)));
        assert_false(hf_customer_seen(d, idh(i)));
    }
    for (int i = 10; i < 42; i++) {
        assert_true(hf_customer_seen(c, idh(i)));
        assert_true(hf_customer_seen(d, idh(i)));
    }
    /* And once more through the encoding, from the decoded copy. */
    hf_customer *e = roundtrip(d, NULL);
    assert_false(hf_customer_seen(e, idh(9)));
    assert_true(hf_customer_seen(e, idh(10)));
    hf_customer_destroy(e);
    hf_customer_destroy(d);
    hf_customer_destroy(c);
}

static void test_state_roundtrip_extremes(void **state)
{
    (void)state;
    hf_customer *c = cust(5);
    add(c, -3, 0, INT64_C(123456789012345), 1000000); /* before the epoch */
    add(c, -1, 1, 1, 0);                              /* returns only */
    add(c, 0, 0, 0, 0);                               /* zero purchase */
    add(c, 0, 1, 0, 0);
    add(c, 400, 0, 99, 2);                            /* a long gap */
    c->target = 0x16;
    c->flips[0] = 0;
    c->flips[1] = 300;
    c->flips[2] = UINT32_MAX;
    c->flips[3] = 1;
    c->flips[4] = 127;
    hf_customer *d = roundtrip(c, NULL);
    assert_day(d, 0, -3, 1, 0, 1000000, INT64_C(123456789012345), 0);
    assert_day(d, 2, 0, 1, 1, 0, 0, 0);
    hf_customer_destroy(d);

    hf_customer *empty = cust(0);
    size_t n = 0;
    d = roundtrip(empty, &n);
    assert_int_equal(n, 5); /* version, nbeh, target, nrecent, ndays */
    hf_customer_destroy(d);
    hf_customer_destroy(empty);
    hf_customer_destroy(c);
}

/* Decoding replaces what the customer held. */
static void test_state_decode_replaces(void **state)
{
    (void)state;
    hf_customer *c = cust(2);
    add(c, D0, 0, 100, 1);
    hf_customer_remember(c, idh(1));
    c->flips[1] = 4;
    c->target = 0x2;
    uint8_t buf[256];
    size_t n = hf_state_encode(c, buf, sizeof(buf));

    hf_customer *d = cust(2);
    add(d, D0 - 50, 1, 5, 0);
    add(d, D0 + 50, 0, 5, 1);
    hf_customer_remember(d, idh(7));
    d->target = 0x1;
    d->flips[0] = 9;
    d->due[1] = D0 + 3;
    char err[128];
    assert_int_equal(hf_state_decode(d, buf, n, err, sizeof(err)), 0);
    assert_same_state(c, d);
    assert_false(hf_customer_seen(d, idh(7)));
    assert_int_equal(d->due[0], HF_NO_DUE);
    assert_int_equal(d->due[1], HF_NO_DUE);
    hf_customer_destroy(d);
    hf_customer_destroy(c);
}

/* Too small a buffer: the size needed comes back. */
static void test_state_encode_reports_size_needed(void **state)
{
    (void)state;
    hf_customer *c = cust(2);
    add(c, D0, 0, 2500, 1);
    hf_customer_remember(c, idh(1));
    uint8_t big[256];
    size_t n = hf_state_encode(c, big, sizeof(big));
    uint8_t small[8];
    memset(small, 0xee, sizeof(small));
    assert_int_equal(hf_state_encode(c, small, 4), n);
    assert_int_equal(small[4], 0xee); /* nothing written past buf_size */
    assert_int_equal(hf_state_encode(c, NULL, 0), n);
    uint8_t exact[256];
    assert_int_equal(hf_state_encode(c, exact, n), n);
    assert_memory_equal(exact, big, n);
    hf_customer_destroy(c);
}

/*
 * A buffer large enough for any state of the customer takes the unchecked
 * writer; one of the exact size the checked one: the same bytes, for a
 * customer with a wrapped ring of event ids, returns and values of every
 * varint length.
 */
static void test_state_encode_paths_agree(void **state)
{
    (void)state;
    hf_customer *c = cust(3);
    for (int i = 0; i < HF_RECENT_IDS + 7; i++) /* the ring wraps */
        hf_customer_remember(c, idh(i));
    add(c, D0 - 300, 0, 1, 1);
    add(c, D0 - 200, 1, 127, 0);
    add(c, D0 - 100, 0, 128, 300);
    add(c, D0 - 100, 1, 16384, 2);
    add(c, D0, 0, INT64_C(1) << 40, INT64_C(1) << 33);
    add(c, D0 + 1, 0, INT64_MAX, 1);
    c->target = 5;
    c->flips[0] = 1;
    c->flips[1] = 300;
    c->flips[2] = UINT32_MAX;
    uint8_t big[4096];
    size_t bound = hf_state_encode_bound(c);
    assert_true(bound <= sizeof(big));
    size_t n = hf_state_encode(c, big, bound); /* unchecked: room for the largest */
    assert_true(n > HF_RECENT_IDS * 6);
    assert_true(n <= bound);
    uint8_t *exact = malloc(n);
    assert_non_null(exact);
    assert_int_equal(hf_state_encode(c, exact, n), n);
    assert_memory_equal(exact, big, n);
    hf_customer *d = cust(3);
    char err[256] = "";
    assert_int_equal(hf_state_decode(d, big, n, err, sizeof(err)), 0);
    uint8_t again[4096];
    assert_int_equal(hf_state_encode(d, again, sizeof(again)), n);
    assert_memory_equal(again, big, n);
    assert_true(hf_customer_seen(d, idh(HF_RECENT_IDS + 6)));
    assert_false(hf_customer_seen(d, idh(6)));
    free(exact);
    hf_customer_destroy(d);
    hf_customer_destroy(c);
}

/*--- Decode errors -----------------------------------------------------------*/

/*
 * Decodes buf into a customer that holds some state; returns 1 when decoding
 * failed with exactly `want` and left the customer as it was, else prints
 * what happened and returns 0. Frees before any assertion can fire.
 */
static int decode_fails_with(uint32_t nbeh, const uint8_t *buf, size_t len,
                             const char *want)
{
    hf_customer *c = cust(nbeh);
    add(c, D0, 0, 100, 1);
    hf_customer_remember(c, idh(3));
    c->target = 0x1;
    char err[128] = "";
    int rc = hf_state_decode(c, buf, len, err, sizeof(err));
    /* A failed decode leaves the customer as it was. */
    int unchanged = c->ndays == 1 && c->days[0].day == D0 &&
                    c->days[0].orders == 1 && c->days[0].gross_minor == 100 &&
                    hf_customer_seen(c, idh(3)) && c->target == 0x1;
    hf_customer_destroy(c);
    if (rc == -1 && strcmp(err, want) == 0 && unchanged)
        return 1;
    print_error("decoding %zu bytes: rc %d, error \"%s\"%s; want -1, \"%s\"\n",
                len, rc, err, unchanged ? "" : ", customer changed", want);
    return 0;
}

static void expect_decode_error(uint32_t nbeh, const uint8_t *buf, size_t len,
                                const char *want)
{
    assert_true(decode_fails_with(nbeh, buf, len, want));
}

static void test_state_decode_empty_and_version(void **state)
{
    (void)state;
    const uint8_t v2[] = {2, 1, 0, 0, 0, 0};
    const uint8_t v0[] = {0};
    expect_decode_error(1, v2, 0, "state is empty");
    expect_decode_error(1, v2, sizeof(v2), "state version 2 is not supported (expected 1)");
    expect_decode_error(1, v0, sizeof(v0), "state version 0 is not supported (expected 1)");
}

static void test_state_decode_truncated(void **state)
{
    (void)state;
    hf_customer *c = cust(2);
    add(c, D0, 0, 2500, 1);
    add(c, D0 + 1, 1, 300, 0);
    add(c, D0 + 5, 0, 2500, 1);
    hf_customer_remember(c, idh(1));
    hf_customer_remember(c, idh(2));
    c->flips[0] = 200;
    uint8_t buf[256];
    size_t n = hf_state_encode(c, buf, sizeof(buf));
    hf_customer_destroy(c);
    /* Every proper prefix, including those that end between two days. */
    char want[64];
    int bad = 0;
    for (size_t len = 1; len < n; len++) {
        snprintf(want, sizeof(want), "state is truncated (%zu bytes)", len);
        bad += !decode_fails_with(2, buf, len, want);
    }
    assert_int_equal(bad, 0);
}

static void test_state_decode_corrupt(void **state)
{
    (void)state;
    hf_customer *c = cust(2);
    add(c, D0, 0, 2500, 1);
    uint8_t buf[256];
    size_t n = hf_state_encode(c, buf, sizeof(buf));
    hf_customer_destroy(c);

    expect_decode_error(3, buf, n, "state has 2 behaviours, the configuration has 3");
    buf[n] = 0;
    expect_decode_error(2, buf, n + 1, "state has 1 trailing bytes");

    /* version 1, nbeh 1, target 0, flips 0, 33 recent ids */
    const uint8_t many[] = {1, 1, 0, 0, 33};
    expect_decode_error(1, many, sizeof(many), "state is corrupt: 33 recent ids");

    /* two days, the second with delta 0 (day 10 twice) */
    const uint8_t dup_day[] = {1, 1, 0, 0, 0, 2, 20, 1, 0, 1, 1, 0, 1, 0, 1, 1};
    expect_decode_error(1, dup_day, sizeof(dup_day), "state is corrupt: day 10 out of order");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_customer_new_is_empty),
        cmocka_unit_test(test_customer_add_aggregates_days_ascending),
        cmocka_unit_test(test_customer_prune),
        cmocka_unit_test(test_customer_seen_remember_ring),
        cmocka_unit_test(test_state_roundtrip_typical_size),
        cmocka_unit_test(test_state_roundtrip_ring_wraparound),
        cmocka_unit_test(test_state_roundtrip_extremes),
        cmocka_unit_test(test_state_decode_replaces),
        cmocka_unit_test(test_state_encode_reports_size_needed),
        cmocka_unit_test(test_state_encode_paths_agree),
        cmocka_unit_test(test_state_decode_empty_and_version),
        cmocka_unit_test(test_state_decode_truncated),
        cmocka_unit_test(test_state_decode_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
