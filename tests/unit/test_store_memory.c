/*
 * test_store_memory.c - unit tests of the in-memory store: expiries of one
 * day come out in (customer_id bytes, behaviour) order (SEMANTICS.md), also
 * for ids that the sort's 8-byte prefix key cannot tell apart (a common
 * prefix, a shorter id that is a prefix of a longer one, NUL and high
 * bytes); prefetching changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
        hf_memstore_set_due(s, c, 1, 100);
        hf_memstore_set_due(s, c, 0, 100);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiries_in_id_byte_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
