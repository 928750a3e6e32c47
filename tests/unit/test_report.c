/*
 * test_report.c - unit tests of the HTML report (analyst/report.c) on small
 * histories built in the test: a section per behaviour, a series per
 * configuration, the table's counts, escaped inputs, nothing fetched.
 * tests/integration/test_report.py renders a real one in a browser.
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
#include "analyst/report.h"
#include "core/behaviour.h"
#include "core/engine.h"
#include "core/event.h"
#include "core/stream.h"

#define D0 15000 /* 2011-01-26 */

typedef struct run {
    hf_engine eng;
    hf_stream st;
    hf_history *h;
    int seq;
} run;

/* Behaviour names[i] with a 3-day window and min_orders orders. */
static void run_init(run *r, const char *const *names, size_t n, int64_t min_orders)
{
    hf_behaviour b[4];
    for (size_t i = 0; i < n; i++) {
        hf_behaviour_init(&b[i], names[i]);
        b[i].window_days = 3;
        b[i].min_orders = min_orders;
    }
    hf_engine_init(&r->eng, b, (uint32_t)n);
    r->h = hf_history_new(&r->eng, &r->st, NULL, NULL);
    assert_non_null(r->h);
    assert_int_equal(hf_stream_init(&r->st, &r->eng, hf_history_signal, r->h), 0);
    r->seq = 0;
}

static void buy(run *r, const char *cust, int32_t day)
{
    char id[16];
    snprintf(id, sizeof(id), "e%d", ++r->seq);
    hf_event e = {.event_id = id, .event_id_len = strlen(id), .type = HF_EVENT_PURCHASE,
                  .customer_id = cust, .customer_id_len = strlen(cust), .order_id = "",
                  .event_time = (int64_t)day * HF_MS_PER_DAY, .amount_minor = 100,
                  .currency = "EUR", .items = 1, .source = {NULL, -1, r->seq}};
    assert_int_equal(hf_stream_process(&r->st, &e), 0);
}

static void run_free(run *r)
{
    hf_stream_destroy(&r->st);
    hf_history_destroy(r->h);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static char *page(const hf_report *rep)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    char err[128] = "";
    assert_int_equal(hf_report_write_html(rep, out, err, sizeof(err)), 0);
    fclose(out);
    char *copy = strdup(text); /* a pointer gcc does not see as the local's */
    free(text);
    return copy;
}

static void one_configuration(void **state)
{
    (void)state;
    static const char *const names[] = {"repeat", "a<b"};
    run a;
    run_init(&a, names, 2, 2);
    for (int i = 0; i < 3; i++)
        buy(&a, "x", D0 + i);      /* hire x on D0+1 */
    for (int i = 0; i < 3; i++)
        buy(&a, "y", D0 + 10 + i); /* x fires on D0+4 by expiry; hire y on D0+11 */
    buy(&a, "z", D0 + 20);         /* y fires on D0+14 by expiry */
    assert_int_equal(hf_history_finish(a.h), 0);
    hf_history *hs[1] = {a.h};
    hf_report_run runs[1] = {{"A", "conf & \"co\".properties", &a.eng, hs, 1}};
    hf_report rep = {"events <1>.jsonl", "2026-12-08T10:00:00Z", runs, 1};
    char *html = page(&rep);
    assert_true(strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0);
    assert_int_equal(count(html, "<section class=\"behaviour\""), 2);
    assert_int_equal(count(html, "data-behaviour=\"repeat\""), 1);
    assert_int_equal(count(html, "data-behaviour=\"a&lt;b\""), 1);
    assert_int_equal(count(html, "<polyline class=\"series\" data-config=\"A\""), 2);
    assert_int_equal(count(html, "<g class=\"bars\" data-config=\"A\">"), 2);
    assert_non_null(strstr(html, "<dd>events &lt;1&gt;.jsonl</dd>"));
    assert_non_null(strstr(html, "<dd>conf &amp; &quot;co&quot;.properties<br>repeat: 3 days; "
                                 "min_orders 2<br>a&lt;b: 3 days; min_orders 2</dd>"));
    /* x and y hired and fired (by expiry), z never: both behaviours alike. */
    assert_int_equal(count(html, "<tr data-config=\"A\"><td>A</td><td data-k=\"target_end\">0"
                                 "</td><td data-k=\"peak\">1</td><td data-k=\"hires\">2</td>"
                                 "<td data-k=\"hire_purchase\">2</td><td data-k=\"hire_return\">"
                                 "0</td><td data-k=\"hire_expiry\">0</td><td data-k=\"fires\">2"
                                 "</td><td data-k=\"fire_purchase\">0</td><td data-k=\"fire_"
                                 "return\">0</td><td data-k=\"fire_expiry\">2</td></tr>"), 2);
    /* Self-contained: nothing to fetch, no script. */
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_null(strstr(html, "src="));
    assert_int_equal(count(html, "</html>\n"), 1);
    free(html);
    run_free(&a);
}

static void two_configurations_and_a_behaviour_only_b_has(void **state)
{
    (void)state;
    static const char *const na[] = {"repeat"};
    static const char *const nb[] = {"repeat", "once"};
    run a, b;
    run_init(&a, na, 1, 2);
    run_init(&b, nb, 2, 1);
    for (int i = 0; i < 2; i++) {
        buy(&a, "x", D0 + i);
        buy(&b, "x", D0 + i);
    }
    assert_int_equal(hf_history_finish(a.h), 0);
    assert_int_equal(hf_history_finish(b.h), 0);
    hf_history *ha[1] = {a.h}, *hb[1] = {b.h};
    hf_report_run runs[2] = {{"A", "a.properties", &a.eng, ha, 1},
                             {"B", "b.properties", &b.eng, hb, 1}};
    hf_report rep = {"e.jsonl", "2026-12-08T10:00:00Z", runs, 2};
    char *html = page(&rep);
    assert_int_equal(count(html, "<section class=\"behaviour\""), 2);
    /* repeat: both lines; once: B's only. */
    const char *once = strstr(html, "data-behaviour=\"once\"");
    assert_non_null(once);
    assert_int_equal(count(html, "<polyline class=\"series\" data-config=\"A\""), 1);
    assert_int_equal(count(html, "<polyline class=\"series\" data-config=\"B\""), 2);
    assert_int_equal(count(once, "data-config=\"A\""), 0);
    assert_int_equal(count(html, "configuration A</span>"), 2);
    free(html);
    run_free(&a);
    run_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_configuration),
        cmocka_unit_test(two_configurations_and_a_behaviour_only_b_has),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
