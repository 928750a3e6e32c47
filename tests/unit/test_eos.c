/* test_eos.c - the outbox envelope (exact bytes, round trips with NULL key,
 * NULL value, headers with NULL values, truncation and version errors) and
 * the committed offset metadata. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/eos.h"

static void signal_envelope_exact_bytes(void **state)
{
    (void)state;
    hf_buf b = {0};
    assert_int_equal(hf_eos_envelope_encode(&b, "out", 0, "{}", 2, NULL), 0);
    static const char want[] = {1, 0, 3, 'o', 'u', 't', 0, '{', '}'};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));

    hf_eos_message m;
    char err[128];
    assert_int_equal(hf_eos_envelope_decode(b.data, b.len, &m, err, sizeof(err)), 0);
    assert_int_equal(m.flags, 0);
    assert_int_equal(m.topic_len, 3);
    assert_memory_equal(m.topic, "out", 3);
    assert_int_equal(m.value_len, 2);
    assert_memory_equal(m.value, "{}", 2);
    assert_null(m.headers);
    hf_buf_free(&b);
}

static void dead_letter_round_trip(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = rd_kafka_headers_new(3);
    rd_kafka_header_add(h, "hirefire.error", -1, "wrong magic byte", 16);
    rd_kafka_header_add(h, "empty", -1, "", 0);
    rd_kafka_header_add(h, "null", -1, NULL, 0);
    hf_buf b = {0};
    assert_int_equal(hf_eos_envelope_encode(&b, "dead", 1, NULL, 0, h), 0);
    rd_kafka_headers_destroy(h);

    hf_eos_message m;
    char err[128];
    assert_int_equal(hf_eos_envelope_decode(b.data, b.len, &m, err, sizeof(err)), 0);
    assert_int_equal(m.flags, HF_EOS_KEY_NULL | HF_EOS_VALUE_NULL);
    assert_int_equal(m.topic_len, 4);
    assert_memory_equal(m.topic, "dead", 4);
    assert_null(m.value);
    assert_non_null(m.headers);
    assert_int_equal(rd_kafka_header_cnt(m.headers), 3);
    const char *name;
    const void *val;
    size_t size;
    assert_int_equal(rd_kafka_header_get_all(m.headers, 0, &name, &val, &size), 0);
    assert_string_equal(name, "hirefire.error");
    assert_int_equal(size, 16);
    assert_memory_equal(val, "wrong magic byte", 16);
    assert_int_equal(rd_kafka_header_get_all(m.headers, 1, &name, &val, &size), 0);
    assert_string_equal(name, "empty");
    assert_non_null(val);
    assert_int_equal(size, 0);
    assert_int_equal(rd_kafka_header_get_all(m.headers, 2, &name, &val, &size), 0);
    assert_string_equal(name, "null");
    assert_null(val);
    rd_kafka_headers_destroy(m.headers);
    hf_buf_free(&b);
}

static void decode_errors(void **state)
{
    (void)state;
    hf_eos_message m;
    char err[128];
    assert_int_equal(hf_eos_envelope_decode("\x01", 1, &m, err, sizeof(err)), -1);
    assert_string_equal(err, "outbox entry: truncated");
    assert_int_equal(hf_eos_envelope_decode("\x07\x00", 2, &m, err, sizeof(err)), -1);
    assert_string_equal(err, "outbox entry: unknown envelope version 7");
    /* topic length beyond the end */
    assert_int_equal(hf_eos_envelope_decode("\x01\x00\x05out", 5, &m, err, sizeof(err)), -1);
    assert_string_equal(err, "outbox entry: truncated");
    /* a header whose value runs past the end */
    static const char hdr[] = {1, 0, 1, 't', 1, 1, 'n', 9, 'a'};
    assert_int_equal(hf_eos_envelope_decode(hdr, sizeof(hdr), &m, err, sizeof(err)), -1);
    assert_string_equal(err, "outbox entry: truncated");
    assert_null(m.headers);
    /* NULL value flag with bytes after */
    static const char nul[] = {1, 2, 1, 't', 0, 'x'};
    assert_int_equal(hf_eos_envelope_decode(nul, sizeof(nul), &m, err, sizeof(err)), -1);
    assert_string_equal(err, "outbox entry: truncated");
}

static void metadata(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(hf_eos_metadata_format(buf, sizeof(buf), 0), 11);
    assert_string_equal(buf, "hf:outbox=0");
    assert_int_equal(hf_eos_metadata_format(buf, sizeof(buf), UINT64_MAX), 30);
    assert_string_equal(buf, "hf:outbox=18446744073709551615");

    uint64_t seq = 7;
    assert_int_equal(hf_eos_metadata_parse("hf:outbox=42", 12, &seq), 0);
    assert_int_equal(seq, 42);
    assert_int_equal(hf_eos_metadata_parse(buf, strlen(buf), &seq), 0);
    assert_true(seq == UINT64_MAX);
    assert_int_equal(hf_eos_metadata_parse("hf:outbox=18446744073709551616", 30, &seq), -1);
    assert_int_equal(seq, 0);
    assert_int_equal(hf_eos_metadata_parse(NULL, 0, &seq), -1);
    assert_int_equal(hf_eos_metadata_parse("", 0, &seq), -1);
    assert_int_equal(hf_eos_metadata_parse("hf:outbox=", 10, &seq), -1);
    assert_int_equal(hf_eos_metadata_parse("hf:outbox=4x", 12, &seq), -1);
    assert_int_equal(hf_eos_metadata_parse("other=42", 8, &seq), -1);
    /* only the given length counts */
    assert_int_equal(hf_eos_metadata_parse("hf:outbox=123", 11, &seq), 0);
    assert_int_equal(seq, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signal_envelope_exact_bytes),
        cmocka_unit_test(dead_letter_round_trip),
        cmocka_unit_test(decode_errors),
        cmocka_unit_test(metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
