/* test_live_batch.c - the pure parts of a live batch: grouping by stream
 * (a stable counting sort by partition number) and the split between the
 * helper thread and the loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "live/batch.h"

/* Items tagged by their position (topic) in the input. */
static void make(batch_item *v, const int32_t *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (batch_item){.partition = parts[i], .topic = (int)i, .h = 100 + i};
}

static void group_keeps_order_within_streams(void **state)
{
    (void)state;
    const int32_t parts[] = {2, 0, 2, 1, 0, 2};
    batch_item in[6], out[6];
    make(in, parts, 6);
    size_t *starts = NULL, cap = 0;
    assert_int_equal(hf_live_group_by_stream(in, 6, out, &starts, &cap), 0);
    const int want_pos[] = {1, 4, 3, 0, 2, 5};
    const int32_t want_part[] = {0, 0, 1, 2, 2, 2};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(out[i].topic, want_pos[i]);
        assert_int_equal(out[i].partition, want_part[i]);
        assert_int_equal(out[i].h, 100 + (uint64_t)want_pos[i]); /* whole items move */
    }
    assert_int_equal(cap, 4); /* partitions 0..2, plus one */
    /* The end of each stream's run, as the sort leaves the table. */
    assert_int_equal(starts[0], 2);
    assert_int_equal(starts[1], 3);
    assert_int_equal(starts[2], 6);
    free(starts);
}

static void group_grows_its_table_only(void **state)
{
    (void)state;
    size_t *starts = NULL, cap = 0;
    batch_item in[3], out[3];
    const int32_t small[] = {1, 0, 1};
    make(in, small, 3);
    assert_int_equal(hf_live_group_by_stream(in, 3, out, &starts, &cap), 0);
    assert_int_equal(cap, 3);
    assert_int_equal(out[0].topic, 1);
    assert_int_equal(out[1].topic, 0);
    assert_int_equal(out[2].topic, 2);
    const int32_t big[] = {9, 3, 9};
    make(in, big, 3);
    assert_int_equal(hf_live_group_by_stream(in, 3, out, &starts, &cap), 0);
    assert_int_equal(cap, 11);
    assert_int_equal(out[0].topic, 1);
    assert_int_equal(out[1].topic, 0);
    assert_int_equal(out[2].topic, 2);
    make(in, small, 3);
    assert_int_equal(hf_live_group_by_stream(in, 3, out, &starts, &cap), 0);
    assert_int_equal(cap, 11); /* kept */
    assert_int_equal(hf_live_group_by_stream(in, 0, out, &starts, &cap), 0);
    assert_int_equal(cap, 11);
    free(starts);
}

/* n items in runs: runs[k] items of partition k. */
static batch_item *runs_of(const size_t *runs, size_t nruns, size_t *n)
{
    size_t total = 0;
    for (size_t k = 0; k < nruns; k++)
        total += runs[k];
    batch_item *v = calloc(total, sizeof(*v));
    size_t i = 0;
    for (size_t k = 0; k < nruns; k++)
        for (size_t j = 0; j < runs[k]; j++, i++)
            v[i] = (batch_item){.partition = (int32_t)k, .topic = (int)i};
    *n = total;
    return v;
}

static void split_small_or_single_stream(void **state)
{
    (void)state;
    size_t n;
    const size_t small[] = {200, SPLIT_MIN - 201};
    batch_item *v = runs_of(small, 2, &n);
    assert_int_equal(n, SPLIT_MIN - 1);
    assert_int_equal(hf_live_split_point(v, n, SHARE_UNITS / 2), 0);
    free(v);
    const size_t at_min[] = {200, SPLIT_MIN - 200};
    v = runs_of(at_min, 2, &n);
    assert_int_equal(hf_live_split_point(v, n, SHARE_UNITS / 2), 200);
    free(v);
    const size_t one[] = {5000};
    v = runs_of(one, 1, &n);
    assert_int_equal(hf_live_split_point(v, n, SHARE_UNITS / 2), 0);
    free(v);
    assert_int_equal(hf_live_split_point(NULL, 0, SHARE_UNITS / 2), 0);
}

static void split_nearest_the_share(void **state)
{
    (void)state;
    size_t n;
    const size_t three[] = {300, 300, 400}; /* boundaries at 300 and 600 */
    batch_item *v = runs_of(three, 3, &n);
    assert_int_equal(hf_live_split_point(v, n, 500), 600);  /* target 500 */
    assert_int_equal(hf_live_split_point(v, n, 400), 300);  /* target 400: 100 off */
    assert_int_equal(hf_live_split_point(v, n, 0), 300);
    assert_int_equal(hf_live_split_point(v, n, SHARE_UNITS), 600);
    free(v);
    const size_t tie[] = {400, 200, 400}; /* 400 and 600, both 100 off 500 */
    v = runs_of(tie, 3, &n);
    assert_int_equal(hf_live_split_point(v, n, 500), 400); /* the first wins */
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(group_keeps_order_within_streams),
        cmocka_unit_test(group_grows_its_table_only),
        cmocka_unit_test(split_small_or_single_stream),
        cmocka_unit_test(split_nearest_the_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
