/* test_live_checkpoints.c - the checkpoint ring of store.backend=memory:
 * generations, messages in flight per generation, which checkpoint may be
 * committed, and the ring's bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "live/checkpoints.h"

/* The ring never looks into the offsets: distinct addresses stand for lists. */
static char lists[2 * CK_RING];
#define L(i) ((rd_kafka_topic_partition_list_t *)(void *)&lists[i])

static void empty_ring(void **state)
{
    (void)state;
    hf_live_ckring r;
    hf_live_ckring_init(&r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.gen, 0);
    assert_null(hf_live_ckring_ready(&r));
    assert_null(hf_live_ckring_pop(&r));
    assert_false(ckring_full(&r));
}

static void committable_once_delivered(void **state)
{
    (void)state;
    hf_live_ckring r;
    hf_live_ckring_init(&r);
    for (int i = 0; i < 3; i++)
        ckring_sent(&r, r.gen); /* three messages of generation 0 */
    checkpoint *c = hf_live_ckring_push(&r, 100, L(0));
    assert_int_equal(c->gen, 0);
    assert_int_equal(c->at, 100);
    assert_ptr_equal(c->offsets, L(0));
    assert_int_equal(r.gen, 1);
    assert_int_equal(r.n, 1);
    assert_int_equal(atomic_load(&r.inflight[1]), 0); /* the new generation */
    ckring_sent(&r, r.gen); /* one of generation 1: not the checkpoint's */
    assert_null(hf_live_ckring_ready(&r));
    ckring_delivered(&r, 0);
    ckring_delivered(&r, 0);
    assert_null(hf_live_ckring_ready(&r));
    ckring_delivered(&r, 0);
    assert_ptr_equal(hf_live_ckring_ready(&r), c);
    assert_ptr_equal(hf_live_ckring_pop(&r), L(0));
    assert_int_equal(r.n, 0);
    assert_int_equal(r.head, 1);
    assert_null(hf_live_ckring_ready(&r));
    assert_int_equal(atomic_load(&r.inflight[1]), 1);
}

static void oldest_first(void **state)
{
    (void)state;
    hf_live_ckring r;
    hf_live_ckring_init(&r);
    ckring_sent(&r, r.gen);
    hf_live_ckring_push(&r, 10, L(0)); /* gen 0: one in flight */
    hf_live_ckring_push(&r, 20, L(1)); /* gen 1: none */
    assert_int_equal(r.n, 2);
    assert_null(hf_live_ckring_ready(&r)); /* gen 1 waits behind gen 0 */
    ckring_delivered(&r, 0);
    assert_int_equal(hf_live_ckring_ready(&r)->gen, 0);
    assert_ptr_equal(hf_live_ckring_pop(&r), L(0));
    const checkpoint *c = hf_live_ckring_ready(&r);
    assert_non_null(c);
    assert_int_equal(c->gen, 1);
    assert_int_equal(c->at, 20);
    assert_ptr_equal(hf_live_ckring_pop(&r), L(1));
    assert_null(hf_live_ckring_pop(&r));
}

static void full_at_ck_max(void **state)
{
    (void)state;
    hf_live_ckring r;
    hf_live_ckring_init(&r);
    for (int i = 0; i < CK_MAX; i++) {
        assert_false(ckring_full(&r));
        ckring_sent(&r, r.gen);
        hf_live_ckring_push(&r, i, L(i));
    }
    assert_true(ckring_full(&r));
    assert_int_equal(r.n, CK_MAX);
    assert_int_equal(r.gen, CK_MAX);
    ckring_delivered(&r, 0);
    assert_ptr_equal(hf_live_ckring_pop(&r), L(0));
    assert_false(ckring_full(&r));
    /* The next push goes to the slot the pop freed. */
    checkpoint *c = hf_live_ckring_push(&r, 99, L(CK_MAX));
    assert_ptr_equal(c, &r.ck[0]);
    assert_int_equal(c->gen, CK_MAX);
    assert_true(ckring_full(&r));
}

/* Generations keep counting past the ring; a counter is reset when its
 * generation starts, whatever an earlier generation left in it. */
static void wraps_around(void **state)
{
    (void)state;
    hf_live_ckring r;
    hf_live_ckring_init(&r);
    for (uint64_t g = 0; g < 3 * CK_RING; g++) {
        ckring_sent(&r, r.gen);
        ckring_sent(&r, r.gen);
        checkpoint *c = hf_live_ckring_push(&r, (int64_t)g, L(g % (2 * CK_RING)));
        assert_int_equal(c->gen, g);
        assert_null(hf_live_ckring_ready(&r));
        ckring_delivered(&r, g);
        ckring_delivered(&r, g);
        assert_ptr_equal(hf_live_ckring_ready(&r), c);
        assert_ptr_equal(hf_live_ckring_pop(&r), L(g % (2 * CK_RING)));
        assert_int_equal(r.head, (g + 1) % CK_MAX);
    }
    assert_int_equal(r.gen, 3 * CK_RING);
    /* A stale count in the counter of the generation that starts next. */
    atomic_store(&r.inflight[(r.gen + 1) % CK_RING], 7);
    hf_live_ckring_push(&r, 0, L(0));
    assert_int_equal(atomic_load(&r.inflight[r.gen % CK_RING]), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_ring),
        cmocka_unit_test(committable_once_delivered),
        cmocka_unit_test(oldest_first),
        cmocka_unit_test(full_at_ck_max),
        cmocka_unit_test(wraps_around),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
