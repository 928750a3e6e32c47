/*
 * test_history.c - unit tests of the audience history (analyst/history.c):
 * the exact CSV of a small stream (expiries on their due day, a late event's
 * signal on the day it arrived, days without signals), the merge of two
 * streams by day, and a failed write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyst/history.h"
#include "core/behaviour.h"
#include "core/engine.h"
#include "core/event.h"
#include "core/stream.h"

#define D0 15000 /* 2011-01-26 */
#define T(day, off) ((int64_t)(day) * HF_MS_PER_DAY + (int64_t)(off))

typedef struct fx {
    hf_engine eng;
    hf_stream st;
    hf_history *h;
    int seq;
    int forwarded;
} fx;

static void count(void *opaque, const hf_signal *s)
{
    (void)s;
    ((fx *)opaque)->forwarded++;
}

/* "repeat": 2 orders in 3 days. */
static void fx_init(fx *f)
{
    hf_behaviour b;
    hf_behaviour_init(&b, "repeat");
    b.window_days = 3;
    hf_engine_init(&f->eng, &b, 1);
    f->h = hf_history_new(&f->eng, &f->st, count, f);
    assert_non_null(f->h);
    assert_int_equal(hf_stream_init(&f->st, &f->eng, hf_history_signal, f->h), 0);
    f->seq = 0;
    f->forwarded = 0;
}

static void fx_free(fx *f)
{
    hf_stream_destroy(&f->st);
    hf_history_destroy(f->h);
}

static void buy(fx *f, const char *cust, int32_t day)
{
    char id[32];
    snprintf(id, sizeof(id), "e%d", ++f->seq);
    hf_event e = {.event_id = id, .event_id_len = strlen(id), .type = HF_EVENT_PURCHASE,
                  .customer_id = cust, .customer_id_len = strlen(cust), .order_id = "",
                  .event_time = T(day, 60000), .amount_minor = 100, .currency = "EUR",
                  .items = 1, .source = {NULL, -1, f->seq}};
    assert_int_equal(hf_stream_process(&f->st, &e), 0);
}

static char *csv(hf_history *const *hs, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    char err[128] = "";
    assert_int_equal(hf_history_write_csv(hs, n, "A", 1, out, err, sizeof(err)), 0);
    fclose(out);
    return text;
}

#define HEADER "day,configuration,behaviour,target,hires,fires,hire_purchase,hire_return," \
               "hire_expiry,fire_purchase,fire_return,fire_expiry\n"

static void days_of_one_stream(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    buy(&f, "a", D0);
    buy(&f, "a", D0 + 1);     /* hire a on D0+1 */
    buy(&f, "b", D0 + 5);     /* expiries: a fires on D0+3 (due day); D0+2, D0+4 quiet */
    buy(&f, "b", D0 + 5);     /* hire b */
    buy(&f, "c", D0 + 6);
    buy(&f, "c", D0 + 4);     /* late (day D0+4, clock D0+6): hire c counts on D0+6 */
    assert_int_equal(hf_history_finish(f.h), 0);
    assert_int_equal(f.forwarded, 4);
    hf_history *hs[1] = {f.h};
    char *text = csv(hs, 1);
    assert_string_equal(text, HEADER
        "2011-01-27,A,repeat,1,1,0,1,0,0,0,0,0\n"
        "2011-01-28,A,repeat,1,0,0,0,0,0,0,0,0\n"
        "2011-01-29,A,repeat,0,0,1,0,0,0,0,0,1\n"
        "2011-01-30,A,repeat,0,0,0,0,0,0,0,0,0\n"
        "2011-01-31,A,repeat,1,1,0,1,0,0,0,0,0\n"
        "2011-02-01,A,repeat,2,1,0,1,0,0,0,0,0\n");
    free(text);
    fx_free(&f);
}

static void an_advanced_clock_extends_the_last_count(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    buy(&f, "a", D0);
    buy(&f, "a", D0);
    hf_stream_advance(&f.st, D0 + 4);
    assert_int_equal(hf_history_finish(f.h), 0);
    hf_history *hs[1] = {f.h};
    char *text = csv(hs, 1);
    assert_string_equal(text, HEADER
        "2011-01-26,A,repeat,1,1,0,1,0,0,0,0,0\n"
        "2011-01-27,A,repeat,1,0,0,0,0,0,0,0,0\n"
        "2011-01-28,A,repeat,1,0,0,0,0,0,0,0,0\n"
        "2011-01-29,A,repeat,0,0,1,0,0,0,0,0,1\n"
        "2011-01-30,A,repeat,0,0,0,0,0,0,0,0,0\n");
    free(text);
    fx_free(&f);
}

static void streams_merge_by_day(void **state)
{
    (void)state;
    fx f, g;
    fx_init(&f);
    fx_init(&g);
    buy(&f, "a", D0);
    buy(&f, "a", D0);         /* f: 1 target from D0 */
    buy(&g, "x", D0 + 2);
    buy(&g, "x", D0 + 2);     /* g: starts later */
    buy(&g, "y", D0 + 3);
    buy(&g, "y", D0 + 3);     /* g: 2 targets on D0+3; f ended on D0 and keeps 1 */
    assert_int_equal(hf_history_finish(f.h), 0);
    assert_int_equal(hf_history_finish(g.h), 0);
    hf_history *hs[2] = {f.h, g.h};
    char *text = csv(hs, 2);
    assert_string_equal(text, HEADER
        "2011-01-26,A,repeat,1,1,0,1,0,0,0,0,0\n"
        "2011-01-27,A,repeat,1,0,0,0,0,0,0,0,0\n"
        "2011-01-28,A,repeat,2,1,0,1,0,0,0,0,0\n"
        "2011-01-29,A,repeat,3,1,0,1,0,0,0,0,0\n");
    free(text);
    fx_free(&f);
    fx_free(&g);
}

static void no_signal_no_rows(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    buy(&f, "a", D0);
    assert_int_equal(hf_history_finish(f.h), 0);
    hf_history *hs[1] = {f.h};
    char *text = csv(hs, 1);
    assert_string_equal(text, HEADER);
    free(text);
    fx_free(&f);
}

static void a_failed_write_reports_the_os_error(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    for (int d = 0; d < 400; d++) {
        buy(&f, "a", D0 + 2 * d);
        buy(&f, "a", D0 + 2 * d);
    }
    assert_int_equal(hf_history_finish(f.h), 0);
    FILE *full = fopen("/dev/full", "w");
    assert_non_null(full);
    hf_history *hs[1] = {f.h};
    char err[128] = "";
    assert_int_equal(hf_history_write_csv(hs, 1, "A", 1, full, err, sizeof(err)), -1);
    assert_string_equal(err, "No space left on device");
    fclose(full);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(days_of_one_stream),
        cmocka_unit_test(an_advanced_clock_extends_the_last_count),
        cmocka_unit_test(streams_merge_by_day),
        cmocka_unit_test(no_signal_no_rows),
        cmocka_unit_test(a_failed_write_reports_the_os_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
