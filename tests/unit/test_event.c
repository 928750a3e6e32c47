/* test_event.c - event validation: SEMANTICS.md's rules and hirefire's bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/event.h"

static hf_event valid(void)
{
    hf_event e;
    memset(&e, 0, sizeof(e));
    e.event_id = "e1";
    e.event_id_len = 2;
    e.customer_id = "c1";
    e.customer_id_len = 2;
    e.order_id = "";
    e.type = HF_EVENT_PURCHASE;
    e.event_time = 1291191960000LL;
    e.amount_minor = 1000;
    e.items = 2;
    return e;
}

static void expect(const hf_event *e, int rc, const char *text)
{
    char err[256] = "";
    assert_int_equal(hf_event_validate(e, err, sizeof(err)), rc);
    assert_string_equal(err, text);
}

static void test_rules(void **state)
{
    (void)state;
    hf_event e = valid();
    expect(&e, 0, "");
    e.customer_id_len = 0;
    expect(&e, -1, "customer_id is empty");
    e = valid();
    e.event_id_len = 0;
    expect(&e, -1, "event_id is empty");
    e = valid();
    e.amount_minor = -5;
    expect(&e, -1, "amount_minor is negative (-5)");
    e = valid();
    e.items = -1;
    expect(&e, -1, "items is negative (-1)");
}

static void test_bounds(void **state)
{
    (void)state;
    hf_event e = valid();
    e.amount_minor = HF_MAX_AMOUNT_MINOR;
    e.items = HF_MAX_ITEMS;
    expect(&e, 0, "");
    e.amount_minor = HF_MAX_AMOUNT_MINOR + 1;
    expect(&e, -1, "amount_minor is larger than 10^15 (1000000000000001)");
    e = valid();
    e.items = HF_MAX_ITEMS + 1;
    expect(&e, -1, "items is larger than 10^9 (1000000001)");
    e = valid();
    e.event_time = HF_MAX_ABS_DAY * HF_MS_PER_DAY;
    expect(&e, 0, "");
    e.event_time = (HF_MAX_ABS_DAY + 1) * HF_MS_PER_DAY;
    expect(&e, -1, "event_time is out of range (8640000086400000): more than 10^8 days from 1970");
    e.event_time = -(HF_MAX_ABS_DAY + 1) * HF_MS_PER_DAY;
    expect(&e, -1, "event_time is out of range (-8640000086400000): more than 10^8 days from 1970");
}

static void test_day(void **state)
{
    (void)state;
    assert_int_equal(hf_event_day(0), 0);
    assert_int_equal(hf_event_day(HF_MS_PER_DAY - 1), 0);
    assert_int_equal(hf_event_day(HF_MS_PER_DAY), 1);
    assert_int_equal(hf_event_day(-1), -1);
    assert_int_equal(hf_event_day(-HF_MS_PER_DAY), -1);
    assert_int_equal(hf_event_day(-HF_MS_PER_DAY - 1), -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
