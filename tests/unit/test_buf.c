/*
 * test_buf.c - the growable byte buffer: appends (including nothing from an
 * empty buffer's NULL data), NUL termination, growth, printf, reset; and
 * the decimal writer hf_put_u64.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "util/buf.h"

static void test_append_nothing_from_an_empty_buffer(void **state)
{
    (void)state;
    hf_buf empty = HF_BUF_INIT, b = HF_BUF_INIT;
    /* What publishing a stream without signals does: its outbox buffer was
     * never written, so its data is NULL. */
    assert_int_equal(hf_buf_append(&b, empty.data, empty.len), 0);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    hf_buf_free(&b);
}

static void test_append_grows_and_terminates(void **state)
{
    (void)state;
    hf_buf b = HF_BUF_INIT;
    char chunk[100];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 30; i++)
        assert_int_equal(hf_buf_append(&b, chunk, sizeof(chunk)), 0);
    assert_int_equal(b.len, 3000);
    assert_true(b.cap > 3000);
    assert_int_equal(b.data[2999], 'x');
    assert_int_equal(b.data[3000], '\0');
    assert_int_equal(hf_buf_append(&b, "ab\0c", 4), 0);
    assert_int_equal(b.len, 3004);
    assert_memory_equal(b.data + 3000, "ab\0c", 4);
    hf_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_printf_puts_reset(void **state)
{
    (void)state;
    hf_buf b = HF_BUF_INIT;
    assert_int_equal(hf_buf_puts(&b, "n="), 0);
    assert_int_equal(hf_buf_printf(&b, "%d:%s", 42, "x"), 0);
    assert_string_equal(b.data, "n=42:x");
    assert_int_equal(b.len, 6);
    char big[600];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(hf_buf_printf(&b, "%s", big), 0);
    assert_int_equal(b.len, 6 + 599);
    assert_int_equal(b.data[b.len - 1], 'y');
    size_t cap = b.cap;
    hf_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap);
    hf_buf_free(&b);
}

static void test_put_u64(void **state)
{
    (void)state;
    char out[32];
    char *end = hf_put_u64(out, 0, 1);
    assert_string_equal(out, "0");
    assert_ptr_equal(end, out + 1);
    end = hf_put_u64(out, 42, 7);
    assert_string_equal(out, "0000042");
    assert_ptr_equal(end, out + 7);
    end = hf_put_u64(out, 1234567, 3);
    assert_string_equal(out, "1234567");
    end = hf_put_u64(out, UINT64_MAX, 0);
    assert_string_equal(out, "18446744073709551615");
    assert_ptr_equal(end, out + 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_nothing_from_an_empty_buffer),
        cmocka_unit_test(test_append_grows_and_terminates),
        cmocka_unit_test(test_printf_puts_reset),
        cmocka_unit_test(test_put_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
