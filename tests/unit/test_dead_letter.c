/* test_dead_letter.c - the headers of a dead letter: the original ones,
 * then the five hirefire.* headers with exact values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/dead_letter.h"

static void expect_header(const rd_kafka_headers_t *h, size_t idx,
                          const char *name, const char *value)
{
    const char *n;
    const void *v;
    size_t len;
    assert_int_equal(rd_kafka_header_get_all(h, idx, &n, &v, &len),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_string_equal(n, name);
    assert_int_equal(len, strlen(value));
    assert_memory_equal(v, value, len);
}

static void without_original_headers(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = hf_dead_letter_headers(
        NULL, "wrong magic byte 0x7b (expected 0x00)", "purchases", 3,
        1234567890123LL, 1764000000000LL);
    assert_non_null(h);
    assert_int_equal(rd_kafka_header_cnt(h), 5);
    expect_header(h, 0, "hirefire.error", "wrong magic byte 0x7b (expected 0x00)");
    expect_header(h, 1, "hirefire.source.topic", "purchases");
    expect_header(h, 2, "hirefire.source.partition", "3");
    expect_header(h, 3, "hirefire.source.offset", "1234567890123");
    expect_header(h, 4, "hirefire.time", "1764000000000");
    rd_kafka_headers_destroy(h);
}

static void keeps_original_headers_first(void **state)
{
    (void)state;
    rd_kafka_headers_t *orig = rd_kafka_headers_new(2);
    rd_kafka_header_add(orig, "trace", -1, "abc", 3);
    rd_kafka_header_add(orig, "empty", -1, NULL, 0);
    rd_kafka_headers_t *h = hf_dead_letter_headers(orig, "missing field: customer_id",
                                                   "returns", 0, 0, 5);
    assert_non_null(h);
    assert_int_equal(rd_kafka_header_cnt(h), 7);
    expect_header(h, 0, "trace", "abc");
    const char *n;
    const void *v;
    size_t len;
    assert_int_equal(rd_kafka_header_get_all(h, 1, &n, &v, &len), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_string_equal(n, "empty");
    assert_null(v);
    expect_header(h, 2, "hirefire.error", "missing field: customer_id");
    expect_header(h, 4, "hirefire.source.partition", "0");
    expect_header(h, 5, "hirefire.source.offset", "0");
    expect_header(h, 6, "hirefire.time", "5");
    /* The original list is untouched. */
    assert_int_equal(rd_kafka_header_cnt(orig), 2);
    rd_kafka_headers_destroy(orig);
    rd_kafka_headers_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(without_original_headers),
        cmocka_unit_test(keeps_original_headers_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
