/*
 * test_audience.c - unit tests of the audience lists (analyst/audience.c):
 * exact CSV and JSON-lines rows of a small stream built in the test, the
 * quoting of hostile customer ids, the period of hired and fired, the sample
 * rank's values, and a failed write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyst/audience.h"
#include "core/behaviour.h"
#include "core/engine.h"
#include "core/event.h"
#include "core/stream.h"

#define D0 15000 /* 2011-01-26 */
#define T(day, off) ((int64_t)(day) * HF_MS_PER_DAY + (int64_t)(off))

typedef struct fx {
    hf_engine eng;
    hf_audience *aud;
    hf_stream st;
    int seq;
} fx;

/* Two behaviours: "repeat" (2 orders in 7 days) and "big" (net >= 1000 in 30 days). */
static void fx_init(fx *f, const hf_audience_query *q)
{
    hf_behaviour b[2];
    hf_behaviour_init(&b[0], "repeat");
    b[0].window_days = 7;
    hf_behaviour_init(&b[1], "big");
    b[1].window_days = 30;
    b[1].has_min_orders = false;
    b[1].has_min_net_minor = true;
    b[1].min_net_minor = 1000;
    hf_engine_init(&f->eng, b, 2);
    f->aud = hf_audience_new(&f->eng, q);
    assert_non_null(f->aud);
    assert_int_equal(hf_stream_init(&f->st, &f->eng, hf_audience_signal, f->aud), 0);
    f->seq = 0;
}

static void fx_free(fx *f)
{
    hf_stream_destroy(&f->st);
    hf_audience_destroy(f->aud);
}

static void ev(fx *f, const char *cust, hf_event_type type, int32_t day, int64_t amount)
{
    char id[32];
    snprintf(id, sizeof(id), "e%d", ++f->seq);
    hf_event e = {.event_id = id, .event_id_len = strlen(id), .type = type,
                  .customer_id = cust, .customer_id_len = strlen(cust), .order_id = "",
                  .event_time = T(day, 3600000), .amount_minor = amount, .currency = "EUR",
                  .items = 1, .source = {NULL, -1, f->seq}};
    assert_int_equal(hf_stream_process(&f->st, &e), 0);
}

/* The rows as text, written through a memory stream. */
static char *rows(fx *f, uint64_t *n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    hf_stream *streams[1] = {&f->st};
    char err[256] = "";
    assert_int_equal(hf_audience_write(f->aud, streams, 1, out, n, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    fclose(out);
    return text;
}

/* Customers, with the clock at D0 + 10: alice bought twice (hired both; her
 * days left repeat's 7-day window, a fire at D0 + 7), bob bought 7 days apart
 * (never two orders in 7 days, too little for big), carol bought twice and
 * returned one (target for repeat, fired for big). */
static void story(fx *f)
{
    ev(f, "alice", HF_EVENT_PURCHASE, D0, 800);
    ev(f, "alice", HF_EVENT_PURCHASE, D0 + 2, 700);   /* hire repeat, hire big */
    ev(f, "bob", HF_EVENT_PURCHASE, D0 + 3, 100);
    ev(f, "carol", HF_EVENT_PURCHASE, D0 + 5, 600);
    ev(f, "carol", HF_EVENT_PURCHASE, D0 + 6, 600);   /* hire repeat, hire big */
    ev(f, "carol", HF_EVENT_RETURN, D0 + 6, 600);     /* fire big */
    ev(f, "bob", HF_EVENT_PURCHASE, D0 + 10, 50);     /* expiry: alice fires repeat at D0+7 */
}

static void target_rows_in_csv(void **state)
{
    (void)state;
    hf_audience_query q = {.status = HF_AUDIENCE_TARGET, .since_day = HF_NO_CLOCK,
                           .until_day = HF_NO_CLOCK};
    fx f;
    fx_init(&f, &q);
    story(&f);
    uint64_t n = 0;
    char *text = rows(&f, &n);
    assert_int_equal(n, 2);
    assert_string_equal(text,
        "behaviour,customer_id,status,since,orders,items,gross_minor,returned_minor,"
        "net_minor,returns,failing,days_since_last_event\n"
        "repeat,carol,target,2011-02-01T01:00:00.000Z,2,2,1200,600,600,1,,4\n"
        "big,alice,target,2011-01-28T01:00:00.000Z,2,2,1500,0,1500,0,,8\n");
    free(text);
    fx_free(&f);
}

static void non_target_rows_in_jsonl_for_one_behaviour(void **state)
{
    (void)state;
    hf_audience_query q = {.behaviours = 1u << 1, .status = HF_AUDIENCE_NON_TARGET,
                           .since_day = HF_NO_CLOCK, .until_day = HF_NO_CLOCK,
                           .format = HF_AUDIENCE_JSONL};
    fx f;
    fx_init(&f, &q);
    story(&f);
    uint64_t n = 0;
    char *text = rows(&f, &n);
    assert_int_equal(n, 2);
    assert_string_equal(text,
        "{\"behaviour\":\"big\",\"customer_id\":\"bob\",\"status\":\"non-target\",\"since\":null,"
        "\"orders\":2,\"items\":2,\"gross_minor\":150,\"returned_minor\":0,\"net_minor\":150,"
        "\"returns\":0,\"failing\":[\"min_net_minor\"],\"days_since_last_event\":0}\n"
        "{\"behaviour\":\"big\",\"customer_id\":\"carol\",\"status\":\"non-target\","
        "\"since\":\"2011-02-01T01:00:00.000Z\",\"orders\":2,\"items\":2,\"gross_minor\":1200,"
        "\"returned_minor\":600,\"net_minor\":600,\"returns\":1,\"failing\":[\"min_net_minor\"],"
        "\"days_since_last_event\":4}\n");
    free(text);
    fx_free(&f);
}

static void fired_in_a_period(void **state)
{
    (void)state;
    /* alice's expiry fire of repeat is effective at D0 + 7, carol's fire of big at D0 + 6. */
    struct { int32_t since, until; const char *want; } cases[] = {
        {HF_NO_CLOCK, HF_NO_CLOCK,
         "repeat,alice,fired,2011-02-02T00:00:00.000Z,0,0,0,0,0,0,min_orders,8\n"
         "big,carol,fired,2011-02-01T01:00:00.000Z,2,2,1200,600,600,1,min_net_minor,4\n"},
        {D0 + 7, HF_NO_CLOCK,
         "repeat,alice,fired,2011-02-02T00:00:00.000Z,0,0,0,0,0,0,min_orders,8\n"},
        {HF_NO_CLOCK, D0 + 6,
         "big,carol,fired,2011-02-01T01:00:00.000Z,2,2,1200,600,600,1,min_net_minor,4\n"},
        {D0 + 8, D0 + 10, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hf_audience_query q = {.status = HF_AUDIENCE_FIRED, .since_day = cases[i].since,
                               .until_day = cases[i].until};
        fx f;
        fx_init(&f, &q);
        story(&f);
        uint64_t n = 0;
        char *text = rows(&f, &n);
        const char *body = strchr(text, '\n') + 1;
        assert_string_equal(body, cases[i].want);
        free(text);
        fx_free(&f);
    }
}

static void hostile_ids_are_quoted(void **state)
{
    (void)state;
    hf_audience_query q = {.status = HF_AUDIENCE_NON_TARGET, .behaviours = 1,
                           .since_day = HF_NO_CLOCK, .until_day = HF_NO_CLOCK};
    fx f;
    fx_init(&f, &q);
    ev(&f, "a,b", HF_EVENT_PURCHASE, D0, 1);
    ev(&f, "say \"hi\"", HF_EVENT_PURCHASE, D0, 1);
    ev(&f, "two\nlines", HF_EVENT_PURCHASE, D0, 1);
    ev(&f, "plain", HF_EVENT_PURCHASE, D0, 1);
    char *text = rows(&f, NULL);
    const char *body = strchr(text, '\n') + 1;
    assert_string_equal(body,
        "repeat,\"a,b\",non-target,,1,1,1,0,1,0,min_orders,0\n"
        "repeat,plain,non-target,,1,1,1,0,1,0,min_orders,0\n"
        "repeat,\"say \"\"hi\"\"\",non-target,,1,1,1,0,1,0,min_orders,0\n"
        "repeat,\"two\nlines\",non-target,,1,1,1,0,1,0,min_orders,0\n");
    free(text);
    fx_free(&f);
}

static void sample_and_limit(void **state)
{
    (void)state;
    /* The ranks, as tests/integration/test_audience.py computes them too:
     * "c" has the largest of a, b, c, so a sample of 2 is a and b. */
    assert_true(hf_audience_rank(1, "alice", 5) == 0x20fe3b7454a1bc85ULL);
    assert_true(hf_audience_rank(1, "a", 1) == 0x9c0b4f547ca21095ULL);
    assert_true(hf_audience_rank(1, "b", 1) == 0xeebb224525dc3b83ULL);
    assert_true(hf_audience_rank(1, "c", 1) == 0xfc50a080f0895ff6ULL);
    assert_true(hf_audience_rank(2, "a", 1) == 0x608d2fab80b25dd1ULL);
    assert_true(hf_audience_rank(0, "", 0) == 0x5ba314b8cfda3b6bULL);
    hf_audience_query q = {.status = HF_AUDIENCE_NON_TARGET, .behaviours = 1,
                           .since_day = HF_NO_CLOCK, .until_day = HF_NO_CLOCK, .sample = 2,
                           .seed = 1};
    fx f;
    fx_init(&f, &q);
    ev(&f, "a", HF_EVENT_PURCHASE, D0, 1);
    ev(&f, "b", HF_EVENT_PURCHASE, D0, 1);
    ev(&f, "c", HF_EVENT_PURCHASE, D0, 1);
    uint64_t n = 0;
    char *text = rows(&f, &n);
    assert_int_equal(n, 2);
    assert_string_equal(strchr(text, '\n') + 1,
                        "repeat,a,non-target,,1,1,1,0,1,0,min_orders,0\n"
                        "repeat,b,non-target,,1,1,1,0,1,0,min_orders,0\n");
    free(text);
    fx_free(&f);
    q.sample = 0;
    q.limit = 1;
    fx_init(&f, &q);
    ev(&f, "b", HF_EVENT_PURCHASE, D0, 1);
    ev(&f, "a", HF_EVENT_PURCHASE, D0, 1);
    text = rows(&f, &n);
    assert_int_equal(n, 1);
    assert_string_equal(strchr(text, '\n') + 1,
                        "repeat,a,non-target,,1,1,1,0,1,0,min_orders,0\n");
    free(text);
    fx_free(&f);
}

static void status_names_round_trip(void **state)
{
    (void)state;
    const char *names[] = {"target", "non-target", "hired", "fired"};
    for (int i = 0; i < 4; i++) {
        hf_audience_status s;
        assert_int_equal(hf_audience_status_parse(names[i], &s), 0);
        assert_int_equal(s, i);
        assert_string_equal(hf_audience_status_name(s), names[i]);
    }
    hf_audience_status s = HF_AUDIENCE_TARGET;
    assert_int_equal(hf_audience_status_parse("Target", &s), -1);
    assert_int_equal(s, HF_AUDIENCE_TARGET);
}

static void a_failed_write_reports_the_os_error(void **state)
{
    (void)state;
    hf_audience_query q = {.status = HF_AUDIENCE_NON_TARGET, .since_day = HF_NO_CLOCK,
                           .until_day = HF_NO_CLOCK};
    fx f;
    fx_init(&f, &q);
    for (int i = 0; i < 2000; i++) {
        char id[16];
        snprintf(id, sizeof(id), "c%04d", i);
        ev(&f, id, HF_EVENT_PURCHASE, D0, 1);
    }
    FILE *full = fopen("/dev/full", "w");
    assert_non_null(full);
    hf_stream *streams[1] = {&f.st};
    char err[256] = "";
    assert_int_equal(hf_audience_write(f.aud, streams, 1, full, NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "No space left on device");
    fclose(full);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(target_rows_in_csv),
        cmocka_unit_test(non_target_rows_in_jsonl_for_one_behaviour),
        cmocka_unit_test(fired_in_a_period),
        cmocka_unit_test(hostile_ids_are_quoted),
        cmocka_unit_test(sample_and_limit),
        cmocka_unit_test(status_names_round_trip),
        cmocka_unit_test(a_failed_write_reports_the_os_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
