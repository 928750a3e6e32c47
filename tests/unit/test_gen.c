/*
 * test_gen.c - the synthetic journey generator (determinism, counts, the
 * shape of journeys) and the event sinks: JSON lines and Avro container
 * files read back, and a Kafka topic on librdkafka's mock cluster read back
 * with the partition of every customer checked against partitioner.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "codec/codec_avro.h"
#include "codec/codec_json.h"
#include "codec/framing.h"
#include "gen/gen.h"
#include "kafka/partitioner.h"

static const hf_gen_opts small = {
    .seed = 42, .customers = 500, .events = 20000,
    .start_ms = 1704067200000LL /* 2024-01-01 */};

/* All events of a generator as JSON lines. */
static char *generate_json(const hf_gen_opts *o, size_t *len)
{
    hf_gen *g = hf_gen_new(o);
    assert_non_null(g);
    hf_buf b = HF_BUF_INIT;
    hf_event e;
    while (hf_gen_next(g, &e)) {
        assert_int_equal(hf_json_encode_event(&e, &b), 0);
        hf_buf_append(&b, "\n", 1);
    }
    hf_gen_destroy(g);
    *len = b.len;
    return b.data;
}

static void test_same_seed_same_bytes(void **state)
{
    (void)state;
    size_t la, lb, lc;
    char *a = generate_json(&small, &la);
    char *b = generate_json(&small, &lb);
    hf_gen_opts other = small;
    other.seed = 43;
    char *c = generate_json(&other, &lc);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_false(la == lc && memcmp(a, c, la) == 0);
    /* the first event of seed 42, pinned: a change of the model is on purpose */
    const char *first = strchr(a, '\n');
    assert_non_null(first);
    const char *want = "{\"event_id\":\"e42-1\",\"type\":\"purchase\","
                       "\"customer_id\":\"c0000423\",\"order_id\":\"o42-1\","
                       "\"event_time\":1704091400388,\"amount_minor\":3299,"
                       "\"currency\":\"EUR\",\"items\":1}";
    assert_int_equal(first - a, strlen(want));
    assert_memory_equal(a, want, strlen(want));
    free(a);
    free(b);
    free(c);
}

typedef struct order_info {
    uint64_t order;
    uint32_t customer;
    int64_t items;
    int64_t amount;
    int64_t time;
    int returned;
} order_info;

static void test_counts_and_journey_shape(void **state)
{
    (void)state;
    hf_gen *g = hf_gen_new(&small);
    assert_non_null(g);
    order_info *orders = calloc(small.events + 1, sizeof(*orders));
    int64_t *last = calloc(small.customers, sizeof(*last));
    hf_event e;
    uint64_t n = 0, purchases = 0, returns = 0, late = 0;
    int64_t high = INT64_MIN;
    char err[256], want[64];
    while (hf_gen_next(g, &e)) {
        n++;
        assert_int_equal(hf_event_validate(&e, err, sizeof(err)), 0);
        snprintf(want, sizeof(want), "e42-%llu", (unsigned long long)n);
        assert_int_equal(e.event_id_len, strlen(want));
        assert_memory_equal(e.event_id, want, e.event_id_len);
        assert_string_equal(e.currency, "EUR");
        assert_int_equal(e.customer_id_len, 8);
        assert_int_equal(e.customer_id[0], 'c');
        uint32_t cust = (uint32_t)strtoul(e.customer_id + 1, NULL, 10);
        assert_true(cust < small.customers);
        assert_true(e.event_time >= small.start_ms);
        /* a customer's own events never go back in time */
        assert_true(e.event_time > last[cust] || last[cust] == 0);
        last[cust] = e.event_time;
        if (e.event_time < high) {
            late++;
            assert_true(high - e.event_time <= 3 * 3600000LL);
        }
        if (e.event_time > high)
            high = e.event_time;
        assert_int_equal(memcmp(e.order_id, "o42-", 4), 0);
        uint64_t ord = strtoull(e.order_id + 4, NULL, 10);
        assert_true(ord >= 1 && ord <= small.events);
        if (e.type == HF_EVENT_PURCHASE) {
            purchases++;
            assert_int_equal(ord, purchases); /* orders are numbered in turn */
            assert_true(e.items >= 1 && e.items <= 6);
            assert_true(e.amount_minor >= 499 * e.items);
            assert_true(e.amount_minor <= 7999 * e.items);
            orders[ord] = (order_info){ord, cust, e.items, e.amount_minor,
                                       e.event_time, 0};
        } else {
            returns++;
            order_info *o = &orders[ord];
            assert_int_equal(o->order, ord); /* the order was bought before */
            assert_int_equal(o->customer, cust);
            assert_false(o->returned);
            o->returned = 1;
            assert_true(e.items >= 1 && e.items <= o->items);
            assert_int_equal(e.amount_minor, o->amount * e.items / o->items);
            assert_true(e.event_time - o->time >= 86400000LL - 3 * 3600000LL);
        }
    }
    hf_gen_stats st;
    hf_gen_get_stats(g, &st);
    assert_int_equal(n, small.events);
    assert_int_equal(st.purchases, purchases);
    assert_int_equal(st.returns, returns);
    assert_int_equal(st.late, late);
    assert_int_equal(st.purchases + st.returns, small.events);
    assert_int_equal(st.by_kind[0] + st.by_kind[1] + st.by_kind[2] + st.by_kind[3],
                     small.events);
    assert_true(st.customers_seen <= small.customers);
    assert_true(st.customers_seen >= small.customers * 9 / 10);
    /* returns are a real share, late events about 1% */
    assert_true(returns > small.events / 20 && returns < small.events / 3);
    assert_true(late > small.events / 500 && late < small.events / 50);
    assert_int_equal(hf_gen_next(g, &e), 0);
    hf_gen_destroy(g);
    free(orders);
    free(last);
}

static void test_kind_shares(void **state)
{
    (void)state;
    uint64_t count[HF_GEN_KINDS] = {0};
    for (uint32_t c = 0; c < 100000; c++)
        count[hf_gen_kind_of(7, c)]++;
    assert_in_range(count[HF_GEN_ONE_TIME], 39000, 41000);
    assert_in_range(count[HF_GEN_REPEAT], 29000, 31000);
    assert_in_range(count[HF_GEN_RETURNER], 9000, 11000);
    assert_in_range(count[HF_GEN_LAPSING], 19000, 21000);
    assert_null(hf_gen_new(&(hf_gen_opts){.seed = 1, .customers = 0, .events = 1}));
    hf_gen_destroy(NULL);
}

/*--- File sinks -------------------------------------------------------------*/

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void write_file_sink(const char *path, hf_sink_format fmt,
                            const hf_gen_opts *o)
{
    char err[256];
    hf_gen_sink *k = hf_gen_sink_file_open(path, fmt, o->seed, err, sizeof(err));
    assert_non_null(k);
    hf_gen *g = hf_gen_new(o);
    hf_event e;
    while (hf_gen_next(g, &e))
        assert_int_equal(hf_gen_sink_write(k, &e, err, sizeof(err)), 0);
    uint64_t count = 0;
    assert_int_equal(hf_gen_sink_close(k, NULL, &count, err, sizeof(err)), 0);
    assert_int_equal(count, o->events);
    hf_gen_destroy(g);
}

static void test_json_file_is_the_generator(void **state)
{
    (void)state;
    char path[] = "/tmp/hf-test-gen-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file_sink(path, HF_SINK_JSON, &small);
    size_t flen, glen;
    char *file = read_all(path, &flen);
    char *gen = generate_json(&small, &glen);
    assert_int_equal(flen, glen);
    assert_memory_equal(file, gen, flen);
    free(file);
    free(gen);
    unlink(path);

    char err[256];
    assert_null(hf_gen_sink_file_open("/nonexistent/dir/x.json", HF_SINK_JSON, 1,
                                      err, sizeof(err)));
    assert_string_equal(err, "cannot create /nonexistent/dir/x.json: "
                             "No such file or directory");
}

static void test_avro_file_reads_back_and_is_deterministic(void **state)
{
    (void)state;
    char a[] = "/tmp/hf-test-gen-XXXXXX", b[] = "/tmp/hf-test-gen-XXXXXX";
    close(mkstemp(a));
    close(mkstemp(b));
    write_file_sink(a, HF_SINK_AVRO, &small);
    write_file_sink(b, HF_SINK_AVRO, &small);
    size_t la, lb;
    char *da = read_all(a, &la), *db = read_all(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    assert_memory_equal(da, "Obj\x01", 4);
    free(da);
    free(db);

    char err[512];
    hf_avro_file *f = hf_avro_file_open(a, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(hf_avro_file_records(f), (int64_t)small.events);
    hf_gen *g = hf_gen_new(&small);
    hf_event want, got;
    hf_buf wb = HF_BUF_INIT, gb = HF_BUF_INIT;
    uint64_t n = 0;
    while (hf_gen_next(g, &want)) {
        assert_int_equal(hf_avro_file_next(f, &got, err, sizeof(err)), 1);
        hf_buf_reset(&wb);
        hf_buf_reset(&gb);
        hf_json_encode_event(&want, &wb);
        hf_json_encode_event(&got, &gb);
        assert_string_equal(gb.data, wb.data);
        n++;
    }
    assert_int_equal(n, small.events);
    assert_int_equal(hf_avro_file_next(f, &got, err, sizeof(err)), 0);
    hf_avro_file_close(f);
    hf_gen_destroy(g);
    hf_buf_free(&wb);
    hf_buf_free(&gb);
    unlink(a);
    unlink(b);
}

/*--- Kafka sink on the mock cluster ------------------------------------------*/

static void test_kafka_keys_partitions_and_frames(void **state)
{
    (void)state;
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(owner);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(owner, 1);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "events", 4, 1), 0);
    const char *brokers = rd_kafka_mock_cluster_bootstraps(mc);

    hf_gen_opts o = small;
    o.events = 600;
    hf_gen_sink *k = hf_gen_sink_kafka_open(NULL, brokers, "events", HF_SINK_AVRO,
                                            7, err, sizeof(err));
    assert_non_null(k);
    hf_gen *g = hf_gen_new(&o);
    hf_event e;
    while (hf_gen_next(g, &e))
        assert_int_equal(hf_gen_sink_write(k, &e, err, sizeof(err)), 0);
    hf_gen_destroy(g);
    char *summary = NULL;
    size_t slen = 0;
    FILE *sfp = open_memstream(&summary, &slen);
    uint64_t delivered = 0;
    assert_int_equal(hf_gen_sink_close(k, sfp, &delivered, err, sizeof(err)), 0);
    fclose(sfp);
    assert_int_equal(delivered, 600);

    /* read everything back */
    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    rd_kafka_conf_set(cc, "bootstrap.servers", brokers, NULL, 0);
    rd_kafka_conf_set(cc, "group.id", "test", NULL, 0);
    rd_kafka_conf_set(cc, "log_level", "0", NULL, 0);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
    assert_non_null(c);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(4);
    for (int p = 0; p < 4; p++)
        rd_kafka_topic_partition_list_add(parts, "events", p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(c, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);

    avro_schema_t schema;
    assert_int_equal(hf_avro_schema_parse(hf_avro_customer_event_schema_json,
                                          strlen(hf_avro_customer_event_schema_json),
                                          &schema, err, sizeof(err)), 0);
    hf_avro_event_reader *r = hf_avro_event_reader_new(schema, err, sizeof(err));
    assert_non_null(r);
    int seen = 0, per_partition[4] = {0};
    for (int idle = 0; seen < 600 && idle < 100;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (m == NULL) {
            idle++;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            int32_t id;
            const void *payload;
            size_t plen;
            assert_int_equal(hf_framing_parse(m->payload, m->len, &id, &payload,
                                              &plen, err, sizeof(err)), 0);
            assert_int_equal(id, 7);
            hf_event got;
            assert_int_equal(hf_avro_event_decode(r, payload, plen, &got, err,
                                                  sizeof(err)), 0);
            assert_int_equal(m->key_len, got.customer_id_len);
            assert_memory_equal(m->key, got.customer_id, m->key_len);
            assert_int_equal(m->partition,
                             hf_partitioner_partition(m->key, m->key_len, 4));
            per_partition[m->partition]++;
            seen++;
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(seen, 600);
    char want[256];
    snprintf(want, sizeof(want),
             "  partition 0: %d messages\n  partition 1: %d messages\n"
             "  partition 2: %d messages\n  partition 3: %d messages\n",
             per_partition[0], per_partition[1], per_partition[2], per_partition[3]);
    assert_string_equal(summary, want);

    hf_avro_event_reader_destroy(r);
    avro_schema_decref(schema);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    free(summary);

    /* a topic that does not exist (the mock cluster would create it) */
    rd_kafka_mock_topic_set_error(mc, "nope", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    k = hf_gen_sink_kafka_open(NULL, brokers, "nope", HF_SINK_JSON, 1, err,
                               sizeof(err));
    assert_null(k);
    char want_err[256];
    snprintf(want_err, sizeof(want_err),
             "topic \"nope\" does not exist (brokers %s)", brokers);
    assert_string_equal(err, want_err);

    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(owner);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_counts_and_journey_shape),
        cmocka_unit_test(test_kind_shares),
        cmocka_unit_test(test_json_file_is_the_generator),
        cmocka_unit_test(test_avro_file_reads_back_and_is_deterministic),
        cmocka_unit_test(test_kafka_keys_partitions_and_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
