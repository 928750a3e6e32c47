/*
 * test_compare.c - unit tests of two configurations side by side
 * (analyst/compare.c): the first difference, behaviours of one side only,
 * the target sets and their lists, the exact JSON, an empty list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "analyst/compare.h"
#include "core/behaviour.h"
#include "core/engine.h"
#include "core/event.h"
#include "core/stream.h"

#define D0 15000 /* 2011-01-26 */

typedef struct fx {
    hf_engine a, b;
    hf_stream sa, sb;
    hf_compare *c;
    int seq;
} fx;

/* A: "repeat" (2 orders in 30 days); B: "repeat" (3 orders in 30 days) and "once". */
static void fx_init(fx *f)
{
    hf_behaviour x, y[2];
    hf_behaviour_init(&x, "repeat");
    x.window_days = 30;
    hf_behaviour_init(&y[0], "repeat");
    y[0].window_days = 30;
    y[0].min_orders = 3;
    hf_behaviour_init(&y[1], "once");
    y[1].window_days = 30;
    y[1].min_orders = 1;
    hf_engine_init(&f->a, &x, 1);
    hf_engine_init(&f->b, y, 2);
    f->c = hf_compare_new(&f->a, &f->b, NULL, NULL, NULL, NULL);
    assert_non_null(f->c);
    assert_int_equal(hf_stream_init(&f->sa, &f->a, hf_compare_signal_a, f->c), 0);
    assert_int_equal(hf_stream_init(&f->sb, &f->b, hf_compare_signal_b, f->c), 0);
    f->seq = 0;
}

static void fx_free(fx *f)
{
    hf_stream_destroy(&f->sa);
    hf_stream_destroy(&f->sb);
    hf_compare_destroy(f->c);
}

static void buy(fx *f, const char *cust, int32_t day)
{
    char id[16];
    snprintf(id, sizeof(id), "e%d", ++f->seq);
    hf_event e = {.event_id = id, .event_id_len = strlen(id), .type = HF_EVENT_PURCHASE,
                  .customer_id = cust, .customer_id_len = strlen(cust), .order_id = "",
                  .event_time = (int64_t)day * HF_MS_PER_DAY, .amount_minor = 100,
                  .currency = "EUR", .items = 1, .source = {NULL, -1, f->seq}};
    assert_int_equal(hf_stream_process(&f->sa, &e), 0);
    assert_int_equal(hf_stream_process(&f->sb, &e), 0);
}

static char *slurp(const char *path)
{
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, in);
    buf[n] = '\0';
    fclose(in);
    return buf;
}

static void sides_and_lists(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    buy(&f, "x", D0);
    buy(&f, "x", D0 + 1); /* A hires x; B's repeat not yet */
    buy(&f, "y", D0 + 2);
    buy(&f, "y", D0 + 3);
    buy(&f, "y", D0 + 4); /* A hires y; B hires y */
    char dir[] = "/tmp/hf-test-compare-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *json = NULL, *text = NULL;
    size_t jlen = 0, tlen = 0;
    FILE *jo = open_memstream(&json, &jlen), *to = open_memstream(&text, &tlen);
    char err[256] = "";
    assert_int_equal(hf_compare_finish(f.c, &f.sa, &f.sb, to, jo, dir, err, sizeof(err)), 0);
    fclose(jo);
    fclose(to);
    assert_string_equal(err, "");
    /* repeat: A's first signal (x's hire on D0+1) against B's (y's hire on D0+4). */
    const char *want =
        "{\"behaviours\":[{\"behaviour\":\"repeat\",\"in_a\":true,\"in_b\":true,"
        "\"signals\":{\"a\":{\"hire\":{\"purchase\":2,\"return\":0,\"expiry\":0},"
        "\"fire\":{\"purchase\":0,\"return\":0,\"expiry\":0}},"
        "\"b\":{\"hire\":{\"purchase\":1,\"return\":0,\"expiry\":0},"
        "\"fire\":{\"purchase\":0,\"return\":0,\"expiry\":0}}},"
        "\"target_end\":{\"a\":2,\"b\":1},\"target_only_a\":1,\"target_only_b\":0,"
        "\"target_both\":1,\"same_signals\":0,\"first_difference\":{\"a\":{";
    assert_true(strncmp(json, want, strlen(want)) == 0);
    assert_non_null(strstr(json, "\"customer_id\":\"x\",\"kind\":\"hire\""));
    assert_non_null(strstr(json, "\"customer_id\":\"y\",\"kind\":\"hire\""));
    /* once: B only; its first signal is x's hire on D0 against none. */
    assert_non_null(strstr(json, "{\"behaviour\":\"once\",\"in_a\":false,\"in_b\":true,"
                                 "\"signals\":{\"a\":null,\"b\":{\"hire\":{\"purchase\":2,"));
    assert_non_null(strstr(json, "\"target_end\":{\"a\":0,\"b\":2},\"target_only_a\":0,"
                                 "\"target_only_b\":2,\"target_both\":0,\"same_signals\":0,"
                                 "\"first_difference\":{\"a\":null,\"b\":{"));
    assert_non_null(strstr(text, "behaviour once (B only)\n"));
    assert_non_null(strstr(text, "  target at the end: only in A 1, only in B 0, in both 1\n"));
    char path[512];
    const char *lists[][2] = {{"repeat.target_only_a", "customer_id\nx\n"},
                              {"repeat.target_only_b", "customer_id\n"},
                              {"repeat.target_both", "customer_id\ny\n"},
                              {"once.target_only_a", "customer_id\n"},
                              {"once.target_only_b", "customer_id\nx\ny\n"},
                              {"once.target_both", "customer_id\n"}};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s.csv", dir, lists[i][0]);
        assert_string_equal(slurp(path), lists[i][1]);
        unlink(path);
    }
    rmdir(dir);
    free(json);
    free(text);
    fx_free(&f);
}

static void the_same_signals_differ_nowhere(void **state)
{
    (void)state;
    hf_behaviour x;
    hf_behaviour_init(&x, "repeat");
    hf_engine a, b;
    hf_engine_init(&a, &x, 1);
    hf_engine_init(&b, &x, 1);
    hf_compare *c = hf_compare_new(&a, &b, NULL, NULL, NULL, NULL);
    hf_stream sa, sb;
    assert_int_equal(hf_stream_init(&sa, &a, hf_compare_signal_a, c), 0);
    assert_int_equal(hf_stream_init(&sb, &b, hf_compare_signal_b, c), 0);
    const char *custs[] = {"p", "q", "p", "q", "r"};
    for (int i = 0; i < 5; i++) {
        char id[8];
        snprintf(id, sizeof(id), "e%d", i);
        hf_event e = {.event_id = id, .event_id_len = strlen(id), .type = HF_EVENT_PURCHASE,
                      .customer_id = custs[i], .customer_id_len = 1, .order_id = "",
                      .event_time = (int64_t)(D0 + i) * HF_MS_PER_DAY, .amount_minor = 1,
                      .currency = "EUR", .items = 1, .source = {NULL, -1, i}};
        assert_int_equal(hf_stream_process(&sa, &e), 0);
        assert_int_equal(hf_stream_process(&sb, &e), 0);
    }
    char *json = NULL;
    size_t len = 0;
    FILE *jo = open_memstream(&json, &len);
    char err[128];
    assert_int_equal(hf_compare_finish(c, &sa, &sb, NULL, jo, NULL, err, sizeof(err)), 0);
    fclose(jo);
    assert_non_null(strstr(json, "\"target_only_a\":0,\"target_only_b\":0,\"target_both\":2,"
                                 "\"same_signals\":2,\"first_difference\":null}]}\n"));
    free(json);
    hf_stream_destroy(&sa);
    hf_stream_destroy(&sb);
    hf_compare_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sides_and_lists),
        cmocka_unit_test(the_same_signals_differ_nowhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
