/* test_partitioner.c - the consistent partitioner: CRC-32 of the key modulo
 * the partition count, as librdkafka's default producer places keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/partitioner.h"

static int32_t part(const char *key, int32_t n)
{
    return hf_partitioner_partition(key, strlen(key), n);
}

/* CRC-32("123456789") is the check value 0xCBF43926 = 3421780262. */
static void crc32_check_value(void **state)
{
    (void)state;
    assert_int_equal(part("123456789", 4), 2);
    assert_int_equal(part("123456789", 7), 5);
    assert_int_equal(part("123456789", 1), 0);
}

/* Values from Python's zlib.crc32 (an independent implementation). */
static void customer_keys(void **state)
{
    (void)state;
    assert_int_equal(part("c0000001", 4), 0); /* 0x6ca649b0 */
    assert_int_equal(part("c0000001", 7), 5);
    assert_int_equal(part("c1234567", 7), 2); /* 0xf629ced0 */
}

static void no_partition(void **state)
{
    (void)state;
    assert_int_equal(hf_partitioner_partition("", 0, 4), -1);
    assert_int_equal(part("c1", 0), -1);
    assert_int_equal(part("c1", -3), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32_check_value),
        cmocka_unit_test(customer_keys),
        cmocka_unit_test(no_partition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
