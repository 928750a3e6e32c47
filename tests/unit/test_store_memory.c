/*
 * test_store_memory.c - unit tests of the in-memory store: expiries of one
 * day come out in (customer_id bytes, behaviour) order (SEMANTICS.md), also
 * for ids that the sort's 8-byte prefix key cannot tell apart (a common
 * prefix, a shorter id that is a prefix of a longer one, NUL and high
 * bytes); prefetching changes nothing; an allocation of the expiry index
 * that fails is an error return that changes nothing.
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
#include "core/store_memory.h"

typedef struct id {
    const char *bytes;
    size_t len;
} id;

#define ID(s) {s, sizeof(s) - 1}

/* Byte order, shorter first on a common prefix: what memcmp-then-length gives. */
static const id sorted[] = {
    ID(""),         /* never a real id; here to order the empty prefix */
    ID("\x00"),
    ID("\x00\x00"),
    ID("a"),
    ID("a\x00"),
    ID("a\x00z"),
    ID("ab"),
    ID("customer"),
    ID("customer-10"),
    ID("customer-2"),
    ID("customer-2\x00"),
    ID("customer-20"),
    ID("customex"),
    ID("z"),
    ID("\x7f"),
    ID("\x80"),
    ID("\xff\xff\xff\xff\xff\xff\xff\xff"),
    ID("\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
};
#define N (sizeof(sorted) / sizeof(sorted[0]))

static void test_expiries_in_id_byte_order(void **state)
{
    (void)state;
    hf_memstore *s = hf_memstore_new(2);
    assert_non_null(s);
    /* Inserted in a scrambled order, each with both behaviours due. */
    for (size_t k = 0; k < N; k++) {
        size_t i = (k * 7 + 3) % N;
        int created = 0;
        hf_customer *c = hf_memstore_upsert(s, sorted[i].bytes, sorted[i].len, &created);
        assert_non_null(c);
        assert_int_equal(created, 1);
        assert_int_equal(hf_memstore_set_due(s, c, 1, 100), 0);
        assert_int_equal(hf_memstore_set_due(s, c, 0, 100), 0);
    }
    for (size_t i = 0; i < N; i++)
        for (uint32_t b = 0; b < 2; b++) {
            hf_customer *c;
            uint32_t got_b;
            int32_t due;
            uint64_t h = hf_memstore_hash(sorted[i].bytes, sorted[i].len);
            for (int stage = 0; stage < 3; stage++)
                hf_memstore_prefetch(s, h, stage);
            assert_int_equal(hf_memstore_next_expiry(s, 100, &c, &got_b, &due), 1);
            assert_int_equal(c->id_len, sorted[i].len);
            assert_memory_equal(c->id, sorted[i].bytes, sorted[i].len);
            assert_int_equal(got_b, b);
            assert_int_equal(due, 100);
        }
    hf_customer *c;
    uint32_t b;
    int32_t due;
    assert_int_equal(hf_memstore_next_expiry(s, 100, &c, &b, &due), 0);
    assert_int_equal(hf_memstore_count(s), N);
    hf_memstore_destroy(s);
}

/*--- Out of memory in the expiry index -----------------------------------*/

/*
 * Six customers due on day 100 (their bucket grows past 4 entries), one due
 * on day 170 (the ring grows past 64 days, re-bucketing the six), then every
 * expiry up to day 170 (the day being drained needs the batch). The
 * allocation number fail_at of the index fails (-1: none does); the call
 * that needed it must return -1, and the same call again must succeed.
 * Writes the ids of the expiries in the order they came out into order;
 * returns the number of calls that returned -1.
 */
static int expiry_scenario(long fail_at, char *order, size_t order_size)
{
    static const char *const ids[] = {"f", "b", "g", "a", "e", "c", "d"};
    static const int32_t dues[] = {100, 100, 100, 100, 100, 100, 170};
    hf_memstore *s = hf_memstore_new(1);
    assert_non_null(s);
    hf_memstore_fail_index_alloc(s, fail_at);
    int failures = 0;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        int created;
        hf_customer *c = hf_memstore_upsert(s, ids[i], strlen(ids[i]), &created);
        assert_non_null(c);
        int rc = hf_memstore_set_due(s, c, 0, dues[i]);
        if (rc != 0) {
            assert_int_equal(rc, -1);
            assert_int_equal(c->due[0], HF_NO_DUE); /* unchanged */
            failures++;
            assert_int_equal(hf_memstore_set_due(s, c, 0, dues[i]), 0);
        }
        assert_int_equal(c->due[0], dues[i]);
    }
    size_t len = 0;
    order[0] = '\0';
    for (;;) {
        hf_customer *c;
        uint32_t b;
        int32_t due;
        int got = hf_memstore_next_expiry(s, 170, &c, &b, &due);
        if (got < 0) {
            assert_int_equal(got, -1);
            failures++;
            got = hf_memstore_next_expiry(s, 170, &c, &b, &due);
        }
        if (got == 0)
            break;
        assert_int_equal(got, 1);
        int w = snprintf(order + len, order_size - len, "%s%.*s@%d", len ? " " : "",
                         (int)c->id_len, c->id, (int)due);
        assert_true(w > 0 && (size_t)w < order_size - len);
        len += (size_t)w;
    }
    hf_memstore_destroy(s);
    return failures;
}

static void test_index_alloc_failure_is_an_error(void **state)
{
    (void)state;
    char want[128], got[128];
    assert_int_equal(expiry_scenario(-1, want, sizeof(want)), 0);
    assert_string_equal(want, "a@100 b@100 c@100 e@100 f@100 g@100 d@170");
    /*
     * Every allocation of the scenario fails in turn: the ring (twice), the
     * bucket (three times, one of them while re-bucketing), the batch.
     */
    long n = 0;
    while (expiry_scenario(n, got, sizeof(got)) == 1) {
        assert_string_equal(got, want);
        n++;
    }
    assert_int_equal(n, 8);
}

/* A customer whose due day cannot be indexed is not inserted: the caller keeps it. */
static void test_insert_out_of_memory(void **state)
{
    (void)state;
    hf_memstore *s = hf_memstore_new(1);
    assert_non_null(s);
    hf_customer *c = hf_customer_new("a", 1, 1);
    assert_non_null(c);
    c->due[0] = 100;
    hf_memstore_fail_index_alloc(s, 0);
    assert_int_equal(hf_memstore_insert(s, c), -1);
    assert_int_equal(hf_memstore_count(s), 0);
    assert_null(hf_memstore_get(s, "a", 1));
    assert_int_equal(hf_memstore_insert(s, c), 0);
    assert_ptr_equal(hf_memstore_get(s, "a", 1), c);
    hf_customer *got;
    uint32_t b;
    int32_t due;
    assert_int_equal(hf_memstore_next_expiry(s, 100, &got, &b, &due), 1);
    assert_ptr_equal(got, c);
    assert_int_equal(due, 100);
    hf_memstore_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiries_in_id_byte_order),
        cmocka_unit_test(test_index_alloc_failure_is_an_error),
        cmocka_unit_test(test_insert_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
