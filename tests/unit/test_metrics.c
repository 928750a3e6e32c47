/* test_metrics.c - the metrics registry: exact exposition text (escaping,
 * histograms, number formats), registration rules and their error texts,
 * hirefire's catalogue, librdkafka statistics to consumer lag, and updates
 * from several threads while rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "ops/metrics.h"

/* Renders m and compares with want (with a readable diff on failure). */
static void expect_render(hf_metrics *m, const char *want)
{
    hf_buf b = HF_BUF_INIT;
    assert_int_equal(hf_metrics_render(m, &b), 0);
    const char *got = b.data ? b.data : "";
    if (strcmp(got, want) != 0)
        print_error("render mismatch\n--- want\n%s--- got\n%s---\n", want, got);
    assert_string_equal(got, want);
    hf_buf_free(&b);
}

static void renders_small_registry_exactly(void **state)
{
    (void)state;
    hf_metrics *m = hf_metrics_new();
    assert_non_null(m);
    char labels[256];
    assert_int_equal(hf_metrics_labels(labels, sizeof(labels), "topic",
                                       "we\"ird\\na\nme", "outcome", "late",
                                       NULL), 0);
    assert_string_equal(labels, "topic=\"we\\\"ird\\\\na\\nme\",outcome=\"late\"");

    hf_metric *a = hf_metrics_counter(m, "hf_events_total",
                                      "Events by topic.\nSecond \\ line",
                                      "topic=\"a\",outcome=\"applied\"");
    hf_metric *b = hf_metrics_counter(m, "hf_events_total", "ignored", labels);
    hf_metric *g = hf_metrics_gauge(m, "hf_lag_seconds", "Lag.", NULL);
    static const double bounds[] = {1, 10, 100};
    hf_metric *h = hf_metrics_histogram(m, "hf_batch", "Batch.", "stream=\"0\"",
                                        bounds, 3);
    static const double small[] = {0.005, 0.25};
    hf_metric *h2 = hf_metrics_histogram(m, "hf_call_seconds", "", NULL, small, 2);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(g);
    assert_non_null(h);
    assert_non_null(h2);
    assert_ptr_not_equal(a, b);

    hf_metric_add(a, 2);
    hf_metric_add(a, 1);
    hf_metric_add(b, 1);
    hf_metric_set(g, 0.25);
    hf_metric_observe(h, 1);   /* on a bound: in that bucket */
    hf_metric_observe(h, 5);
    hf_metric_observe(h, 50);
    hf_metric_observe(h, 500); /* above the last bound: +Inf only */
    hf_metric_observe(h2, 0.0025);

    expect_render(m,
        "# HELP hf_events_total Events by topic.\\nSecond \\\\ line\n"
        "# TYPE hf_events_total counter\n"
        "hf_events_total{topic=\"a\",outcome=\"applied\"} 3\n"
        "hf_events_total{topic=\"we\\\"ird\\\\na\\nme\",outcome=\"late\"} 1\n"
        "# HELP hf_lag_seconds Lag.\n"
        "# TYPE hf_lag_seconds gauge\n"
        "hf_lag_seconds 0.25\n"
        "# HELP hf_batch Batch.\n"
        "# TYPE hf_batch histogram\n"
        "hf_batch_bucket{stream=\"0\",le=\"1\"} 1\n"
        "hf_batch_bucket{stream=\"0\",le=\"10\"} 2\n"
        "hf_batch_bucket{stream=\"0\",le=\"100\"} 3\n"
        "hf_batch_bucket{stream=\"0\",le=\"+Inf\"} 4\n"
        "hf_batch_sum{stream=\"0\"} 556\n"
        "hf_batch_count{stream=\"0\"} 4\n"
        "# HELP hf_call_seconds \n"
        "# TYPE hf_call_seconds histogram\n"
        "hf_call_seconds_bucket{le=\"0.005\"} 1\n"
        "hf_call_seconds_bucket{le=\"0.25\"} 1\n"
        "hf_call_seconds_bucket{le=\"+Inf\"} 1\n"
        "hf_call_seconds_sum 0.0025\n"
        "hf_call_seconds_count 1\n");
    assert_true(hf_metric_value(a) == 3.0);
    assert_true(hf_metric_value(g) == 0.25);
    hf_metrics_destroy(m);
}

static void same_series_gives_same_handle(void **state)
{
    (void)state;
    hf_metrics *m = hf_metrics_new();
    hf_metric *a = hf_metrics_counter(m, "x_total", "First help.", "k=\"v\"");
    hf_metric *b = hf_metrics_counter(m, "x_total", "Other help.", "k=\"v\"");
    hf_metric *c = hf_metrics_counter(m, "x_total", NULL, NULL);
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    hf_metric_add(b, 7);
    expect_render(m,
        "# HELP x_total First help.\n"
        "# TYPE x_total counter\n"
        "x_total{k=\"v\"} 7\n"
        "x_total 0\n");
    hf_metrics_destroy(m);
}

static void expect_error(hf_metrics *m, hf_metric *got, const char *want)
{
    assert_null(got);
    assert_string_equal(hf_metrics_error(m), want);
}

static void registration_errors_are_exact(void **state)
{
    (void)state;
    hf_metrics *m = hf_metrics_new();
    static const double b3[] = {1, 2, 3};
    static const double bad[] = {1, 1};
    static const double inf[] = {1, INFINITY};

    expect_error(m, hf_metrics_counter(m, "9lives", "", NULL),
                 "metric name \"9lives\" is invalid");
    expect_error(m, hf_metrics_counter(m, "a-b", "", NULL),
                 "metric name \"a-b\" is invalid");
    expect_error(m, hf_metrics_counter(m, "x", "", "topic=t"),
                 "x: labels \"topic=t\": expected name=\"value\" at offset 5");
    expect_error(m, hf_metrics_counter(m, "x", "", "a=\"1\";b=\"2\""),
                 "x: labels \"a=\"1\";b=\"2\"\": expected name=\"value\" at offset 5");
    expect_error(m, hf_metrics_counter(m, "x", "", "a=\"1\","),
                 "x: labels \"a=\"1\",\": expected name=\"value\" at offset 6");
    expect_error(m, hf_metrics_counter(m, "x", "", "a=\"open"),
                 "x: labels \"a=\"open\": expected name=\"value\" at offset 7");
    expect_error(m, hf_metrics_counter(m, "x", "", "a=\"\\t\""),
                 "x: labels \"a=\"\\t\"\": invalid escape at offset 3");
    expect_error(m, hf_metrics_counter(m, "x", "", "__name__=\"y\""),
                 "x: label name \"__name__\" is reserved");
    expect_error(m, hf_metrics_histogram(m, "h", "", "le=\"1\"", b3, 3),
                 "h: label name \"le\" is reserved for histogram buckets");
    expect_error(m, hf_metrics_histogram(m, "h", "", NULL, bad, 2),
                 "h: buckets must be finite and strictly increasing (1 to 64 of them)");
    expect_error(m, hf_metrics_histogram(m, "h", "", NULL, inf, 2),
                 "h: buckets must be finite and strictly increasing (1 to 64 of them)");
    expect_error(m, hf_metrics_histogram(m, "h", "", NULL, b3, 0),
                 "h: buckets must be finite and strictly increasing (1 to 64 of them)");

    assert_non_null(hf_metrics_counter(m, "x", "", "le=\"ok for a counter\""));
    assert_string_equal(hf_metrics_error(m), "");
    expect_error(m, hf_metrics_gauge(m, "x", "", NULL), "x is a counter, not a gauge");
    assert_non_null(hf_metrics_histogram(m, "h", "", NULL, b3, 3));
    expect_error(m, hf_metrics_histogram(m, "h", "", "a=\"1\"", b3, 2),
                 "h: already registered with other buckets");
    expect_error(m, hf_metrics_counter(m, "h", "", NULL), "h is a histogram, not a counter");
    /* A label value may hold the allowed escapes and any other byte. */
    assert_non_null(hf_metrics_gauge(m, "g", "", "a=\"\\\\ \\\" \\n ,=}{\""));
    hf_metrics_destroy(m);
}

static void gauge_numbers_and_clearing(void **state)
{
    (void)state;
    hf_metrics *m = hf_metrics_new();
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {3, "3"}, {-1.5, "-1.5"}, {0.1, "0.1"}, {1e-06, "1e-06"},
        {123456789012, "123456789012"}, {1e+21, "1e+21"},
        {1.0 / 3, "0.3333333333333333"}, {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"}, {NAN, "NaN"},
    };
    hf_metric *g = hf_metrics_gauge(m, "g", "G.", NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want), "# HELP g G.\n# TYPE g gauge\ng %s\n",
                 cases[i].text);
        hf_metric_set(g, cases[i].v);
        expect_render(m, want);
    }
    hf_metric_set(g, 2);
    hf_metric_add(g, 3);
    expect_render(m, "# HELP g G.\n# TYPE g gauge\ng 5\n");
    hf_metric_clear(g);
    expect_render(m, ""); /* no series left: no family either */
    hf_metric_set(g, 0);
    expect_render(m, "# HELP g G.\n# TYPE g gauge\ng 0\n");
    hf_metrics_destroy(m);
}

static void labels_builder_escapes_and_bounds(void **state)
{
    (void)state;
    char buf[16];
    assert_int_equal(hf_metrics_labels(buf, sizeof(buf), "a", "1", NULL), 0);
    assert_string_equal(buf, "a=\"1\"");
    assert_int_equal(hf_metrics_labels(buf, sizeof(buf), NULL), 0);
    assert_string_equal(buf, "");
    /* a="01234567890" is 15 characters + NUL: fits exactly. */
    assert_int_equal(hf_metrics_labels(buf, sizeof(buf), "a", "01234567890", NULL), 0);
    assert_string_equal(buf, "a=\"01234567890\"");
    assert_int_equal(hf_metrics_labels(buf, sizeof(buf), "a", "012345678901", NULL), -1);
    assert_string_equal(buf, "");
    /* The escape makes it one too long. */
    assert_int_equal(hf_metrics_labels(buf, sizeof(buf), "a", "012345678\"", NULL), 0);
    assert_string_equal(buf, "a=\"012345678\\\"\"");
    assert_int_equal(hf_metrics_labels(buf, sizeof(buf), "a", "0123456789\"", NULL), -1);
    assert_string_equal(buf, "");
    assert_int_equal(hf_metrics_labels(buf, sizeof(buf), "a", "1", "b", "2", "c",
                                       "3", NULL), -1);
    assert_string_equal(buf, "");
}

static void null_and_wrong_type_do_nothing(void **state)
{
    (void)state;
    assert_null(hf_metrics_counter(NULL, "x", "", NULL));
    assert_null(hf_metrics_events(NULL, "t", "applied"));
    assert_null(hf_metrics_build_info(NULL));
    hf_metric_add(NULL, 1);
    hf_metric_set(NULL, 1);
    hf_metric_observe(NULL, 1);
    hf_metric_clear(NULL);
    assert_true(hf_metric_value(NULL) == 0);
    assert_string_equal(hf_metrics_error(NULL), "");
    assert_int_equal(hf_metrics_update_from_rdkafka_stats(NULL, "{\"topics\":{}}", 13), 0);
    hf_buf b = HF_BUF_INIT;
    assert_int_equal(hf_metrics_render(NULL, &b), 0);
    assert_int_equal(b.len, 0);
    hf_metrics_destroy(NULL);

    hf_metrics *m = hf_metrics_new();
    static const double b1[] = {1};
    hf_metric *c = hf_metrics_counter(m, "c", "C.", NULL);
    hf_metric *h = hf_metrics_histogram(m, "h", "H.", NULL, b1, 1);
    hf_metric_set(c, 9);      /* not a gauge */
    hf_metric_clear(c);
    hf_metric_observe(c, 9);
    hf_metric_add(h, 9);      /* not a counter */
    hf_metric_set(h, 9);
    hf_metric_observe(h, NAN);
    expect_render(m,
        "# HELP c C.\n# TYPE c counter\nc 0\n"
        "# HELP h H.\n# TYPE h histogram\n"
        "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
    hf_metrics_destroy(m);
}

static void hirefire_catalogue(void **state)
{
    (void)state;
    hf_metrics *m = hf_metrics_new();
    hf_metric_add(hf_metrics_events(m, "retail.purchases", "applied"), 5);
    hf_metric_add(hf_metrics_signals(m, "repeat", "hire", "purchase"), 2);
    hf_metric_add(hf_metrics_dead_letters(m, "retail.returns", "decode"), 1);
    hf_metric_set(hf_metrics_consumer_lag(m, "retail.purchases", 3), 42);
    hf_metric_set(hf_metrics_event_time_lag(m, 3), 1.5);
    hf_metric_set(hf_metrics_customers_cached(m), 1000);
    hf_metric_add(hf_metrics_transactions(m, "committed"), 4);
    hf_metric_add(hf_metrics_rebalances(m, "assign"), 1);
    hf_metric_observe(hf_metrics_batch_size(m), 100);
    hf_metric_observe(hf_metrics_commit_latency(m), 0.003);
    hf_metric_observe(hf_metrics_redis_call(m), 0.0002);
    assert_ptr_equal(hf_metrics_events(m, "retail.purchases", "applied"),
                     hf_metrics_events(m, "retail.purchases", "applied"));

    hf_buf b = HF_BUF_INIT;
    assert_int_equal(hf_metrics_render(m, &b), 0);
    static const char *const lines[] = {
        "\nhirefire_events_total{topic=\"retail.purchases\",outcome=\"applied\"} 5\n",
        "\nhirefire_signals_total{behaviour=\"repeat\",kind=\"hire\",cause=\"purchase\"} 2\n",
        "\nhirefire_dead_letters_total{topic=\"retail.returns\",reason_class=\"decode\"} 1\n",
        "\nhirefire_consumer_lag{topic=\"retail.purchases\",partition=\"3\"} 42\n",
        "\nhirefire_event_time_lag_seconds{partition=\"3\"} 1.5\n",
        "\nhirefire_customers_cached 1000\n",
        "\nhirefire_transactions_total{result=\"committed\"} 4\n",
        "\nhirefire_rebalances_total{type=\"assign\"} 1\n",
        "\nhirefire_batch_size_bucket{le=\"50\"} 0\nhirefire_batch_size_bucket{le=\"100\"} 1\n",
        "\nhirefire_batch_size_bucket{le=\"50000\"} 1\nhirefire_batch_size_bucket{le=\"+Inf\"} 1\n",
        "\nhirefire_commit_latency_seconds_bucket{le=\"0.0025\"} 0\n"
        "hirefire_commit_latency_seconds_bucket{le=\"0.005\"} 1\n",
        "\nhirefire_redis_call_seconds_bucket{le=\"0.0001\"} 0\n"
        "hirefire_redis_call_seconds_bucket{le=\"0.00025\"} 1\n",
        "\n# TYPE hirefire_batch_size histogram\n",
        "\n# TYPE hirefire_consumer_lag gauge\n",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (strstr(b.data, lines[i]) == NULL)
            print_error("missing %s in\n%s", lines[i], b.data);
        assert_non_null(strstr(b.data, lines[i]));
    }
    hf_buf_free(&b);

    hf_metrics *bi = hf_metrics_new();
    hf_metric *info = hf_metrics_build_info(bi);
    assert_non_null(info);
    assert_true(hf_metric_value(info) == 1.0);
    b = (hf_buf)HF_BUF_INIT;
    assert_int_equal(hf_metrics_render(bi, &b), 0);
    char want[256];
    snprintf(want, sizeof(want), "hirefire_build_info{version=\"%s\",librdkafka=\"%s\",avro=\"",
             HF_VERSION, rd_kafka_version_str());
    if (strstr(b.data, want) == NULL)
        print_error("missing %s in\n%s", want, b.data);
    assert_non_null(strstr(b.data, want));
    assert_non_null(strstr(b.data, "\",microhttpd=\"0.9."));
    assert_non_null(strstr(b.data, "\"} 1\n"));
    hf_buf_free(&b);
    hf_metrics_destroy(bi);
    hf_metrics_destroy(m);
}

/* Shaped like librdkafka 2.0's statistics (most fields left out). */
static const char stats_json[] =
    "{\"name\":\"hirefire#consumer-1\",\"client_id\":\"hirefire\",\"type\":\"consumer\","
    "\"ts\":5016483227792,\"time\":1764000000,\"age\":5000,\"replyq\":0,"
    "\"brokers\":{\"127.0.0.1:9092/1\":{\"name\":\"127.0.0.1:9092/1\",\"nodeid\":1,"
    "\"state\":\"UP\",\"toppars\":{\"retail.purchases-0\":{\"topic\":\"retail.purchases\","
    "\"partition\":0}}}},"
    "\"topics\":{"
    "\"retail.purchases\":{\"topic\":\"retail.purchases\",\"age\":5003,\"metadata_age\":4000,"
    "\"batchsize\":{\"min\":0,\"max\":0,\"avg\":0},\"partitions\":{"
    "\"0\":{\"partition\":0,\"broker\":1,\"leader\":1,\"desired\":true,\"unknown\":false,"
    "\"fetch_state\":\"active\",\"query_offset\":-1001,\"next_offset\":120,\"app_offset\":120,"
    "\"stored_offset\":120,\"committed_offset\":100,\"eof_offset\":120,\"lo_offset\":0,"
    "\"hi_offset\":150,\"ls_offset\":150,\"consumer_lag\":30,\"consumer_lag_stored\":30,"
    "\"txmsgs\":0,\"rxmsgs\":120},"
    "\"1\":{\"partition\":1,\"fetch_state\":\"active\",\"consumer_lag\":0},"
    "\"-1\":{\"partition\":-1,\"broker\":-1,\"fetch_state\":\"none\",\"consumer_lag\":-1}}},"
    "\"retail.returns\":{\"topic\":\"retail.returns\",\"partitions\":{"
    "\"0\":{\"partition\":0,\"fetch_state\":\"none\",\"consumer_lag\":-1},"
    "\"1\":{\"partition\":1,\"fetch_state\":\"active\",\"consumer_lag\":7},"
    "\"x\":{\"consumer_lag\":3},\"2\":{\"consumer_lag\":\"9\"}}}},"
    "\"cgrp\":{\"state\":\"up\",\"join_state\":\"steady\",\"assignment_size\":4}}";

static void rdkafka_stats_to_consumer_lag(void **state)
{
    (void)state;
    hf_metrics *m = hf_metrics_new();
    /* A lag that is known now and unknown later disappears. */
    hf_metric_set(hf_metrics_consumer_lag(m, "retail.returns", 0), 11);
    /* Not NUL-terminated: the length bounds the text. */
    char copy[sizeof(stats_json) + 8];
    memcpy(copy, stats_json, sizeof(stats_json) - 1);
    memcpy(copy + sizeof(stats_json) - 1, "garbage!", 8);
    assert_int_equal(hf_metrics_update_from_rdkafka_stats(m, copy, sizeof(stats_json) - 1), 3);
    const char *want =
        "# HELP hirefire_consumer_lag Messages between the consumer's position and "
        "the partition's high watermark (from librdkafka statistics).\n"
        "# TYPE hirefire_consumer_lag gauge\n"
        "hirefire_consumer_lag{topic=\"retail.purchases\",partition=\"0\"} 30\n"
        "hirefire_consumer_lag{topic=\"retail.purchases\",partition=\"1\"} 0\n"
        "hirefire_consumer_lag{topic=\"retail.returns\",partition=\"1\"} 7\n";
    /* retail.returns/0 was registered first but is cleared, so the order of
     * the printed series is purchases 0, purchases 1, returns 1. */
    expect_render(m, want);

    assert_int_equal(hf_metrics_update_from_rdkafka_stats(m, "{\"topics\":", 10), -1);
    assert_int_equal(hf_metrics_update_from_rdkafka_stats(m, "[]", 2), -1);
    assert_int_equal(hf_metrics_update_from_rdkafka_stats(m, "{\"name\":\"x\"}", 12), -1);
    assert_int_equal(hf_metrics_update_from_rdkafka_stats(m, "{\"topics\":[]}", 13), -1);
    assert_int_equal(hf_metrics_update_from_rdkafka_stats(m, "{\"topics\":{}}", 13), 0);
    expect_render(m, want); /* unchanged */
    hf_metrics_destroy(m);
}

/*--- Threads ------------------------------------------------------------------*/

#define THREADS 4
#define ROUNDS 100000

typedef struct {
    hf_metric *c, *h, *g;
} shared;

static void *writer(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < ROUNDS; i++) {
        hf_metric_add(s->c, 1);
        hf_metric_observe(s->h, (double)(i % 3));
        hf_metric_add(s->g, 1);
    }
    return NULL;
}

/* Reads "name value" from rendered text. */
static unsigned long long read_value(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    assert_non_null(p);
    unsigned long long v = 0;
    assert_int_equal(sscanf(p + strlen(name), " %llu", &v), 1);
    return v;
}

static void concurrent_updates_and_renders(void **state)
{
    (void)state;
    hf_metrics *m = hf_metrics_new();
    static const double b[] = {0, 1};
    shared s = {
        hf_metrics_counter(m, "c_total", "", NULL),
        hf_metrics_histogram(m, "h", "", NULL, b, 2),
        hf_metrics_gauge(m, "g", "", NULL),
    };
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, &s), 0);
    unsigned long long last = 0;
    for (int r = 0; r < 200; r++) {
        hf_buf out = HF_BUF_INIT;
        assert_int_equal(hf_metrics_render(m, &out), 0);
        unsigned long long c = read_value(out.data, "\nc_total");
        assert_true(c >= last);
        last = c;
        assert_int_equal(read_value(out.data, "\nh_bucket{le=\"+Inf\"}"),
                         read_value(out.data, "\nh_count"));
        hf_buf_free(&out);
        /* New series while the writers run. */
        char labels[32];
        snprintf(labels, sizeof(labels), "n=\"%d\"", r);
        assert_non_null(hf_metrics_counter(m, "c_total", "", labels));
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    hf_buf out = HF_BUF_INIT;
    assert_int_equal(hf_metrics_render(m, &out), 0);
    assert_int_equal(read_value(out.data, "\nc_total"), THREADS * ROUNDS);
    assert_int_equal(read_value(out.data, "\nh_count"), THREADS * ROUNDS);
    /* i % 3 over 0..ROUNDS-1: a third are 0, a third 1, a third 2. */
    unsigned long long zeros = THREADS * ((ROUNDS + 2) / 3);
    unsigned long long ones = THREADS * ((ROUNDS + 1) / 3);
    assert_int_equal(read_value(out.data, "\nh_bucket{le=\"0\"}"), zeros);
    assert_int_equal(read_value(out.data, "\nh_bucket{le=\"1\"}"), zeros + ones);
    assert_int_equal(read_value(out.data, "\nh_sum"), ones + 2 * (THREADS * ROUNDS - zeros - ones));
    assert_int_equal(read_value(out.data, "\ng"), THREADS * ROUNDS);
    hf_buf_free(&out);
    hf_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(renders_small_registry_exactly),
        cmocka_unit_test(same_series_gives_same_handle),
        cmocka_unit_test(registration_errors_are_exact),
        cmocka_unit_test(gauge_numbers_and_clearing),
        cmocka_unit_test(labels_builder_escapes_and_bounds),
        cmocka_unit_test(null_and_wrong_type_do_nothing),
        cmocka_unit_test(hirefire_catalogue),
        cmocka_unit_test(rdkafka_stats_to_consumer_lag),
        cmocka_unit_test(concurrent_updates_and_renders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
