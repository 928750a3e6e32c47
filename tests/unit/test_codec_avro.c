/*
 * test_codec_avro.c - Avro: the schemas, events from raw datums of various
 * writer schemas (every error text), signals and events encoded and read
 * back by avro-c, and container files (intact, empty, invalid records,
 * corrupt).
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/codec_avro.h"


/* Decoded strings point into the datum: they are not NUL-terminated. */
#define assert_field(p, len, lit)                                  \
    do {                                                           \
        assert_int_equal((len), strlen(lit));                      \
        assert_memory_equal((p), (lit), strlen(lit));              \
    } while (0)

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/hf_test_codec_avro_XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

static avro_schema_t parse(const char *json)
{
    avro_schema_t s = NULL;
    char err[256];
    if (hf_avro_schema_parse(json, strlen(json), &s, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    return s;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const char *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

/*--- building datums with avro-c -------------------------------------------*/

static void field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    if (avro_value_get_by_name(rec, name, out, NULL) != 0)
        fail_msg("no field %s", name);
    /* unions in these tests are ["null", T]: take T */
    if (avro_value_get_type(out) == AVRO_UNION) {
        avro_value_t branch;
        assert_int_equal(avro_value_set_branch(out, 1, &branch), 0);
        *out = branch;
    }
}

static void set_str(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t v;
    field(rec, name, &v);
    assert_int_equal(avro_value_set_string(&v, s), 0);
}

static void set_long(avro_value_t *rec, const char *name, int64_t x)
{
    avro_value_t v;
    field(rec, name, &v);
    if (avro_value_get_type(&v) == AVRO_INT32)
        assert_int_equal(avro_value_set_int(&v, (int32_t)x), 0);
    else
        assert_int_equal(avro_value_set_long(&v, x), 0);
}

static void set_enum(avro_value_t *rec, const char *name, int sym)
{
    avro_value_t v;
    field(rec, name, &v);
    assert_int_equal(avro_value_set_enum(&v, sym), 0);
}

static void set_null(avro_value_t *rec, const char *name)
{
    avro_value_t v, branch;
    assert_int_equal(avro_value_get_by_name(rec, name, &v, NULL), 0);
    assert_int_equal(avro_value_set_branch(&v, 0, &branch), 0);
    assert_int_equal(avro_value_set_null(&branch), 0);
}

/* Serialises value into b (raw binary). */
static void serialise(avro_value_t *value, hf_buf *b)
{
    size_t size = 0;
    assert_int_equal(avro_value_sizeof(value, &size), 0);
    hf_buf_reset(b);
    assert_int_equal(hf_buf_reserve(b, size), 0);
    avro_writer_t w = avro_writer_memory(b->data, (int64_t)size);
    assert_int_equal(avro_value_write(w, value), 0);
    avro_writer_free(w);
    b->len = size;
}

static hf_event sample_event(void)
{
    hf_event e;
    memset(&e, 0, sizeof(e));
    e.event_id = "ev-1";
    e.event_id_len = 4;
    e.type = HF_EVENT_RETURN;
    e.customer_id = "cust-42";
    e.customer_id_len = 7;
    e.order_id = "o-9";
    e.order_id_len = 3;
    e.event_time = 1291191960000LL;
    e.amount_minor = 1530;
    strcpy(e.currency, "GBP");
    e.items = 6;
    e.source.partition = -1;
    return e;
}

static void assert_event_equal(const hf_event *a, const hf_event *b)
{
    assert_int_equal(a->event_id_len, b->event_id_len);
    assert_memory_equal(a->event_id, b->event_id, a->event_id_len);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->customer_id_len, b->customer_id_len);
    assert_memory_equal(a->customer_id, b->customer_id, a->customer_id_len);
    assert_int_equal(a->order_id_len, b->order_id_len);
    assert_memory_equal(a->order_id, b->order_id, a->order_id_len);
    assert_int_equal(a->event_time, b->event_time);
    assert_int_equal(a->amount_minor, b->amount_minor);
    assert_string_equal(a->currency, b->currency);
    assert_int_equal(a->items, b->items);
}

/*--- schemas ---------------------------------------------------------------*/

static void check_schema_file(const char *name, const char *compiled)
{
    const char *dir = getenv("HF_SOURCE_DIR");
#ifdef HF_SOURCE_DIR
    if (dir == NULL)
        dir = HF_SOURCE_DIR;
#endif
    if (dir == NULL)
        fail_msg("HF_SOURCE_DIR is not set");
    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/schemas/%s", dir, name);
    char *text = slurp(path, &len);
    if (text == NULL)
        fail_msg("cannot read %s", path);
    assert_string_equal(compiled, text);
    free(text);
}

static void test_schemas_match_files(void **state)
{
    (void)state;
    check_schema_file("customer_event.avsc",
                      hf_avro_customer_event_schema_json);
    check_schema_file("switch_signal.avsc", hf_avro_switch_signal_schema_json);
}

static void test_schemas_load(void **state)
{
    (void)state;
    avro_schema_t ev = parse(hf_avro_customer_event_schema_json);
    assert_string_equal(avro_schema_name(ev), "CustomerEvent");
    assert_string_equal(avro_schema_namespace(ev), "io.hirefire");
    assert_int_equal(avro_schema_record_size(ev), 8);
    avro_schema_t type = avro_schema_record_field_get(ev, "type");
    assert_string_equal(avro_schema_enum_get(type, 0), "purchase");
    assert_string_equal(avro_schema_enum_get(type, 1), "return");
    avro_schema_decref(ev);

    avro_schema_t sig = parse(hf_avro_switch_signal_schema_json);
    assert_string_equal(avro_schema_name(sig), "SwitchSignal");
    assert_int_equal(avro_schema_record_size(sig), 9);
    avro_schema_t cause = avro_schema_record_field_get(sig, "cause");
    assert_string_equal(avro_schema_enum_get(cause, 1), "return");
    assert_string_equal(avro_schema_enum_get(cause, 2), "expiry");
    avro_schema_t trigger = avro_schema_record_field_get(sig, "trigger");
    assert_true(is_avro_union(trigger));
    assert_int_equal(avro_schema_union_size(trigger), 2);
    avro_schema_decref(sig);

    avro_schema_t bad = NULL;
    char err[256];
    assert_int_equal(hf_avro_schema_parse("{\"type\":\"nope\"}", 15, &bad, err,
                                          sizeof(err)), -1);
    assert_true(strncmp(err, "invalid Avro schema: ", 21) == 0);
}

static void test_is_container(void **state)
{
    (void)state;
    assert_int_equal(hf_avro_is_container("Obj\x01rest", 8), 1);
    assert_int_equal(hf_avro_is_container("Obj\x01", 4), 1);
    assert_int_equal(hf_avro_is_container("Obj", 3), 0);
    assert_int_equal(hf_avro_is_container("Obj\x02", 4), 0);
    assert_int_equal(hf_avro_is_container("{\"a\"", 4), 0);
}

/*--- events from raw datums ------------------------------------------------*/

static void test_event_round_trip(void **state)
{
    (void)state;
    avro_schema_t s = parse(hf_avro_customer_event_schema_json);
    char err[256];
    hf_avro_event_reader *r = hf_avro_event_reader_new(s, err, sizeof(err));
    assert_non_null(r);
    avro_schema_decref(s); /* the reader holds its own reference */
    hf_buf b = HF_BUF_INIT;
    hf_event in = sample_event(), out;
    assert_int_equal(hf_avro_encode_event(&in, &b), 0);
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &out, err,
                                          sizeof(err)), 0);
    assert_event_equal(&in, &out);
    assert_null(out.source.topic);
    assert_int_equal(out.source.partition, -1);

    /* extremes and empty strings */
    in.type = HF_EVENT_PURCHASE;
    in.order_id = "";
    in.order_id_len = 0;
    in.currency[0] = '\0';
    in.event_time = -HF_MAX_ABS_DAY * HF_MS_PER_DAY; /* the valid extremes */
    in.amount_minor = HF_MAX_AMOUNT_MINOR;
    in.items = 0;
    hf_buf_reset(&b);
    assert_int_equal(hf_avro_encode_event(&in, &b), 0);
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &out, err,
                                          sizeof(err)), 0);
    assert_event_equal(&in, &out);

    /* the exact bytes of a small event */
    hf_event small;
    memset(&small, 0, sizeof(small));
    small.event_id = "e";
    small.event_id_len = 1;
    small.type = HF_EVENT_RETURN;
    small.customer_id = "c";
    small.customer_id_len = 1;
    small.order_id = "";
    small.event_time = -1;
    small.amount_minor = 64;
    small.items = 1;
    hf_buf_reset(&b);
    assert_int_equal(hf_avro_encode_event(&small, &b), 0);
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.data, "\x02" "e" "\x02" "\x02" "c" "\x00" "\x01"
                                "\x80\x01" "\x00" "\x02",
                        11);
    hf_buf_free(&b);
    hf_avro_event_reader_destroy(r);
    hf_avro_event_reader_destroy(NULL);
}

static const char other_schema[] =
    "{\"type\":\"record\",\"name\":\"Legacy\",\"namespace\":\"x.y\",\"fields\":["
    "{\"name\":\"extra_map\",\"type\":{\"type\":\"map\",\"values\":\"long\"}},"
    "{\"name\":\"items\",\"type\":\"int\"},"
    "{\"name\":\"customer_id\",\"type\":\"string\"},"
    "{\"name\":\"type\",\"type\":\"string\"},"
    "{\"name\":\"nested\",\"type\":{\"type\":\"record\",\"name\":\"N\","
    "\"fields\":[{\"name\":\"a\",\"type\":{\"type\":\"array\","
    "\"items\":\"string\"}}]}},"
    "{\"name\":\"amount_minor\",\"type\":\"int\"},"
    "{\"name\":\"event_time\",\"type\":\"string\"},"
    "{\"name\":\"event_id\",\"type\":\"string\"},"
    "{\"name\":\"price\",\"type\":\"double\"}]}";

static void test_other_writer_schema(void **state)
{
    (void)state;
    /* extra fields of every shape, another order, int amounts, type as a
     * string, event_time as RFC 3339, no order_id and no currency */
    avro_schema_t s = parse(other_schema);
    char err[256];
    hf_avro_event_reader *r = hf_avro_event_reader_new(s, err, sizeof(err));
    assert_non_null(r);
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t rec, v, elem;
    assert_int_equal(avro_generic_value_new(iface, &rec), 0);
    field(&rec, "extra_map", &v);
    assert_int_equal(avro_value_add(&v, "k", &elem, NULL, NULL), 0);
    assert_int_equal(avro_value_set_long(&elem, 99), 0);
    set_long(&rec, "items", 3);
    set_str(&rec, "customer_id", "c9");
    set_str(&rec, "type", "return");
    avro_value_t nested, arr;
    field(&rec, "nested", &nested);
    field(&nested, "a", &arr);
    assert_int_equal(avro_value_append(&arr, &elem, NULL), 0);
    assert_int_equal(avro_value_set_string(&elem, "zzz"), 0);
    set_long(&rec, "amount_minor", 250);
    set_str(&rec, "event_time", "2011-12-09T13:50:00.250+01:00");
    set_str(&rec, "event_id", "e9");
    field(&rec, "price", &v);
    assert_int_equal(avro_value_set_double(&v, 1.5), 0);

    hf_buf b = HF_BUF_INIT;
    serialise(&rec, &b);
    hf_event e;
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &e, err,
                                          sizeof(err)), 0);
    assert_field(e.event_id, e.event_id_len, "e9");
    assert_int_equal(e.type, HF_EVENT_RETURN);
    assert_field(e.customer_id, e.customer_id_len, "c9");
    assert_field(e.order_id, e.order_id_len, "");
    assert_int_equal(e.order_id_len, 0);
    assert_int_equal(e.event_time, 1323435000250LL);
    assert_int_equal(e.amount_minor, 250);
    assert_string_equal(e.currency, "");
    assert_int_equal(e.items, 3);

    /* errors in such records */
    set_str(&rec, "type", "refund");
    serialise(&rec, &b);
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &e, err,
                                          sizeof(err)), -1);
    assert_string_equal(
        err, "field type: expected \"purchase\" or \"return\", got \"refund\"");
    set_str(&rec, "type", "purchase");
    set_str(&rec, "event_time", "yesterday");
    serialise(&rec, &b);
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &e, err,
                                          sizeof(err)), -1);
    assert_string_equal(
        err, "field event_time: not an RFC 3339 timestamp: \"yesterday\"");
    set_str(&rec, "event_time", "2011-12-09T12:50:00Z");
    set_long(&rec, "amount_minor", -5);
    serialise(&rec, &b);
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &e, err,
                                          sizeof(err)), -1);
    assert_string_equal(err, "amount_minor is negative (-5)");
    set_long(&rec, "amount_minor", 5);
    set_str(&rec, "customer_id", "");
    serialise(&rec, &b);
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &e, err,
                                          sizeof(err)), -1);
    assert_string_equal(err, "customer_id is empty");

    /* broken bytes */
    assert_int_equal(hf_avro_event_decode(r, b.data, 3, &e, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "invalid Avro datum: it ends before the lengths it "
                             "declares (3 bytes)");
    assert_int_equal(hf_avro_event_decode(r, "", 0, &e, err, sizeof(err)), -1);
    assert_string_equal(err, "invalid Avro datum: it ends before the lengths it "
                             "declares (0 bytes)");
    /* a 2 GB string declared in 7 bytes: refused before avro-c allocates it */
    static const char huge[] = "\x02" "e" "\x80\x80\x80\x80\x10";
    assert_int_equal(hf_avro_event_decode(r, huge, sizeof(huge) - 1, &e, err,
                                          sizeof(err)), -1);
    assert_string_equal(err, "invalid Avro datum: it ends before the lengths it "
                             "declares (7 bytes)");

    hf_buf_free(&b);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);
    hf_avro_event_reader_destroy(r);
}

static const char nullable_schema[] =
    "{\"type\":\"record\",\"name\":\"Nullable\",\"fields\":["
    "{\"name\":\"event_id\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"type\",\"type\":[\"null\",{\"type\":\"enum\",\"name\":\"T\","
    "\"symbols\":[\"return\",\"refund\",\"purchase\"]}]},"
    "{\"name\":\"customer_id\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"order_id\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"event_time\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"amount_minor\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"currency\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"items\",\"type\":[\"null\",\"int\"]}]}";

static void fill_nullable(avro_value_t *rec)
{
    set_str(rec, "event_id", "n1");
    set_enum(rec, "type", 2); /* purchase */
    set_str(rec, "customer_id", "cn");
    set_str(rec, "order_id", "on");
    set_long(rec, "event_time", 86400000);
    set_long(rec, "amount_minor", 10);
    set_str(rec, "currency", "EUR");
    set_long(rec, "items", 2);
}

static void test_nullable_writer_schema(void **state)
{
    (void)state;
    avro_schema_t s = parse(nullable_schema);
    char err[256];
    hf_avro_event_reader *r = hf_avro_event_reader_new(s, err, sizeof(err));
    assert_non_null(r);
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t rec;
    assert_int_equal(avro_generic_value_new(iface, &rec), 0);
    hf_buf b = HF_BUF_INIT;
    hf_event e;

    fill_nullable(&rec);
    serialise(&rec, &b);
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &e, err,
                                          sizeof(err)), 0);
    assert_field(e.event_id, e.event_id_len, "n1");
    assert_int_equal(e.type, HF_EVENT_PURCHASE);
    assert_field(e.customer_id, e.customer_id_len, "cn");
    assert_field(e.order_id, e.order_id_len, "on");
    assert_int_equal(e.event_time, 86400000);
    assert_int_equal(e.amount_minor, 10);
    assert_string_equal(e.currency, "EUR");
    assert_int_equal(e.items, 2);

    /* null optional fields take their defaults */
    set_null(&rec, "order_id");
    set_null(&rec, "currency");
    serialise(&rec, &b);
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &e, err,
                                          sizeof(err)), 0);
    assert_field(e.order_id, e.order_id_len, "");
    assert_string_equal(e.currency, "");

    /* null required fields are missing */
    static const char *const required[] = {"event_id", "type", "customer_id",
                                           "event_time", "amount_minor",
                                           "items"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        char want[64];
        fill_nullable(&rec);
        set_null(&rec, required[i]);
        serialise(&rec, &b);
        assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &e, err,
                                              sizeof(err)), -1);
        snprintf(want, sizeof(want), "missing field: %s", required[i]);
        assert_string_equal(err, want);
    }

    /* an enum symbol that is not ours */
    fill_nullable(&rec);
    set_enum(&rec, "type", 1);
    serialise(&rec, &b);
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &e, err,
                                          sizeof(err)), -1);
    assert_string_equal(
        err, "field type: expected \"purchase\" or \"return\", got \"refund\"");
    set_enum(&rec, "type", 0);
    set_str(&rec, "currency", "EURO");
    serialise(&rec, &b);
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &e, err,
                                          sizeof(err)), -1);
    assert_string_equal(err, "field currency: longer than 3 bytes: \"EURO\"");
    set_str(&rec, "currency", "EUR");
    set_long(&rec, "items", -2);
    serialise(&rec, &b);
    assert_int_equal(hf_avro_event_decode(r, b.data, b.len, &e, err,
                                          sizeof(err)), -1);
    assert_string_equal(err, "items is negative (-2)");

    hf_buf_free(&b);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);
    hf_avro_event_reader_destroy(r);
}

static void expect_reader_error(const char *schema_json, const char *want)
{
    avro_schema_t s = parse(schema_json);
    char err[256];
    hf_avro_event_reader *r = hf_avro_event_reader_new(s, err, sizeof(err));
    assert_null(r);
    assert_string_equal(err, want);
    avro_schema_decref(s);
}

#define REC(fields) "{\"type\":\"record\",\"name\":\"R\",\"fields\":[" fields "]}"
#define F(n, t) "{\"name\":\"" n "\",\"type\":" t "}"
#define GOOD_BUT(x) F("event_id", "\"string\"") "," F("type", "\"string\"") "," \
    F("customer_id", "\"string\"") "," F("event_time", "\"long\"") "," \
    F("amount_minor", "\"long\"") "," x

static void test_reader_schema_errors(void **state)
{
    (void)state;
    expect_reader_error("\"string\"", "writer schema is not a record");
    /* no type: allowed, a topic may fix it (test_fixed_type) */
    expect_reader_error(REC(F("event_id", "\"string\"")),
                        "writer schema has no field \"customer_id\"");
    expect_reader_error(REC(F("event_id", "\"string\"") ","
                            F("type", "\"string\"")),
                        "writer schema has no field \"customer_id\"");
    expect_reader_error(REC(GOOD_BUT(F("x", "\"int\""))),
                        "writer schema has no field \"items\"");
    expect_reader_error(REC(GOOD_BUT(F("items", "\"double\""))),
                        "writer schema field \"items\" has type double, "
                        "expected long or int");
    expect_reader_error(REC(GOOD_BUT(F("items", "[\"null\",\"float\"]"))),
                        "writer schema field \"items\" has type float, "
                        "expected long or int");
    expect_reader_error(REC(GOOD_BUT(F("items", "[\"null\"]"))),
                        "writer schema field \"items\" has type null, "
                        "expected long or int");
    expect_reader_error(REC(GOOD_BUT(F("items", "\"long\"") ","
                                     F("currency", "\"bytes\""))),
                        "writer schema field \"currency\" has type bytes, "
                        "expected string");
    expect_reader_error(REC(F("event_id", "\"string\"") ","
                            F("type", "\"int\"") ","
                            F("customer_id", "\"string\"")),
                        "writer schema field \"type\" has type int, "
                        "expected enum or string");
    expect_reader_error(REC(F("event_id", "\"string\"") ","
                            F("type", "\"string\"") ","
                            F("customer_id", "\"string\"") ","
                            F("event_time", "{\"type\":\"array\","
                                            "\"items\":\"long\"}")),
                        "writer schema field \"event_time\" has type array, "
                        "expected long, int or string");
}

/*--- signals ---------------------------------------------------------------*/

static hf_signal sample_signal(void)
{
    hf_signal s;
    memset(&s, 0, sizeof(s));
    strcpy(s.signal_id, "0123456789abcdef0123456789abcdef");
    s.behaviour_name = "loyal";
    s.customer_id = "c-1";
    s.customer_id_len = 3;
    s.kind = HF_KIND_FIRE;
    s.cause = HF_CAUSE_RETURN;
    s.effective_time = 1291191960000LL;
    s.metrics = (hf_window_metrics){2, 5, 3000, 3500, -500, 1};
    s.failing = HF_FAIL_MIN_NET_MINOR | HF_FAIL_MAX_RETURN_RATIO;
    s.trigger_event_id = "ev-7";
    s.trigger_event_id_len = 4;
    s.trigger_source = (hf_source){"events", 3, 42};
    return s;
}

static const char *get_str(avro_value_t *rec, const char *name)
{
    avro_value_t v;
    const char *p;
    size_t size;
    assert_int_equal(avro_value_get_by_name(rec, name, &v, NULL), 0);
    assert_int_equal(avro_value_get_string(&v, &p, &size), 0);
    assert_int_equal(size, strlen(p) + 1);
    return p;
}

static int64_t get_long(avro_value_t *rec, const char *name)
{
    avro_value_t v;
    int64_t x;
    assert_int_equal(avro_value_get_by_name(rec, name, &v, NULL), 0);
    assert_int_equal(avro_value_get_long(&v, &x), 0);
    return x;
}

static const char *get_enum(avro_value_t *rec, const char *name)
{
    avro_value_t v;
    int sym;
    assert_int_equal(avro_value_get_by_name(rec, name, &v, NULL), 0);
    assert_int_equal(avro_value_get_enum(&v, &sym), 0);
    return avro_schema_enum_get(avro_value_get_schema(&v), sym);
}

/* The trigger's branch: returns 0 for null, else fills *trigger. */
static int get_branch(avro_value_t *rec, const char *name, avro_value_t *out)
{
    avro_value_t v;
    int disc;
    assert_int_equal(avro_value_get_by_name(rec, name, &v, NULL), 0);
    assert_int_equal(avro_value_get_discriminant(&v, &disc), 0);
    assert_int_equal(avro_value_get_current_branch(&v, out), 0);
    return disc;
}

/* Checks a decoded SwitchSignal against s. */
static void check_signal_value(avro_value_t *rec, const hf_signal *s)
{
    assert_string_equal(get_str(rec, "signal_id"), s->signal_id);
    assert_string_equal(get_str(rec, "behaviour"), s->behaviour_name);
    assert_string_equal(get_str(rec, "customer_id"), s->customer_id);
    assert_string_equal(get_enum(rec, "kind"), hf_signal_kind_name(s->kind));
    assert_string_equal(get_enum(rec, "cause"),
                        hf_signal_cause_name(s->cause));
    assert_int_equal(get_long(rec, "effective_time"), s->effective_time);
    avro_value_t m, failing, item, trigger, branch;
    assert_int_equal(avro_value_get_by_name(rec, "metrics", &m, NULL), 0);
    assert_int_equal(get_long(&m, "orders"), s->metrics.orders);
    assert_int_equal(get_long(&m, "items"), s->metrics.items);
    assert_int_equal(get_long(&m, "gross_minor"), s->metrics.gross_minor);
    assert_int_equal(get_long(&m, "returned_minor"), s->metrics.returned_minor);
    assert_int_equal(get_long(&m, "net_minor"), s->metrics.net_minor);
    assert_int_equal(get_long(&m, "returns"), s->metrics.returns);
    assert_int_equal(avro_value_get_by_name(rec, "failing", &failing, NULL), 0);
    size_t n = 0, k = 0;
    assert_int_equal(avro_value_get_size(&failing, &n), 0);
    for (unsigned bit = 1; bit <= HF_FAIL_MAX_RETURN_RATIO; bit <<= 1) {
        if (!(s->failing & bit))
            continue;
        const char *p;
        size_t size;
        assert_int_equal(avro_value_get_by_index(&failing, k++, &item, NULL), 0);
        assert_int_equal(avro_value_get_string(&item, &p, &size), 0);
        assert_string_equal(p, hf_fail_name(bit));
    }
    assert_int_equal(n, k);
    int disc = get_branch(rec, "trigger", &trigger);
    if (s->trigger_event_id == NULL) {
        assert_int_equal(disc, 0);
        return;
    }
    assert_int_equal(disc, 1);
    assert_string_equal(get_str(&trigger, "event_id"), s->trigger_event_id);
    if (s->trigger_source.topic == NULL) {
        assert_int_equal(get_branch(&trigger, "topic", &branch), 0);
        assert_int_equal(get_branch(&trigger, "partition", &branch), 0);
        assert_int_equal(get_branch(&trigger, "offset", &branch), 0);
        return;
    }
    const char *p;
    size_t size;
    int32_t part;
    int64_t off;
    assert_int_equal(get_branch(&trigger, "topic", &branch), 1);
    assert_int_equal(avro_value_get_string(&branch, &p, &size), 0);
    assert_string_equal(p, s->trigger_source.topic);
    assert_int_equal(get_branch(&trigger, "partition", &branch), 1);
    assert_int_equal(avro_value_get_int(&branch, &part), 0);
    assert_int_equal(part, s->trigger_source.partition);
    assert_int_equal(get_branch(&trigger, "offset", &branch), 1);
    assert_int_equal(avro_value_get_long(&branch, &off), 0);
    assert_int_equal(off, s->trigger_source.offset);
}

static void decode_signal_and_check(const hf_signal *s)
{
    hf_buf b = HF_BUF_INIT;
    assert_int_equal(hf_avro_encode_signal(s, &b), 0);
    avro_schema_t schema = parse(hf_avro_switch_signal_schema_json);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec;
    assert_int_equal(avro_generic_value_new(iface, &rec), 0);
    avro_reader_t rd = avro_reader_memory(b.data, (int64_t)b.len);
    assert_int_equal(avro_value_read(rd, &rec), 0);
    size_t size = 0;
    assert_int_equal(avro_value_sizeof(&rec, &size), 0);
    assert_int_equal(size, b.len); /* nothing left over */
    check_signal_value(&rec, s);
    avro_reader_free(rd);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    hf_buf_free(&b);
}

static void test_signal_encoding(void **state)
{
    (void)state;
    hf_signal s = sample_signal();
    decode_signal_and_check(&s); /* from Kafka */
    s.trigger_source = (hf_source){NULL, -1, 9};
    s.kind = HF_KIND_HIRE;
    s.cause = HF_CAUSE_PURCHASE;
    s.failing = 0;
    decode_signal_and_check(&s); /* from a file */
    s.kind = HF_KIND_FIRE;
    s.cause = HF_CAUSE_EXPIRY;
    s.failing = HF_FAIL_MIN_ORDERS | HF_FAIL_MIN_ITEMS | HF_FAIL_MIN_NET_MINOR |
                HF_FAIL_MAX_RETURN_RATIO;
    s.trigger_event_id = NULL;
    s.trigger_event_id_len = 0;
    s.effective_time = -1;
    decode_signal_and_check(&s); /* an expiry */

    /* appends to what the buffer holds (a Confluent header, say) */
    hf_buf b = HF_BUF_INIT;
    hf_buf one = HF_BUF_INIT;
    hf_buf_append(&b, "\0\0\0\0\x07", 5);
    assert_int_equal(hf_avro_encode_signal(&s, &b), 0);
    assert_int_equal(hf_avro_encode_signal(&s, &one), 0);
    assert_int_equal(b.len, 5 + one.len);
    assert_memory_equal(b.data + 5, one.data, one.len);
    hf_buf_free(&b);
    hf_buf_free(&one);
}

/*--- container files -------------------------------------------------------*/

static void write_events(const char *path, const char *codec,
                         const hf_event *events, size_t n)
{
    char err[256];
    hf_avro_writer *w = hf_avro_event_file_open(path, codec, err, sizeof(err));
    if (w == NULL)
        fail_msg("%s", err);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(hf_avro_event_file_write(w, &events[i], err,
                                                  sizeof(err)), 0);
    assert_int_equal(hf_avro_writer_close(w, err, sizeof(err)), 0);
}

static void check_file_with_invalid_record(const char *codec)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/events-%s.avro", tmpdir, codec);
    hf_event ev[3] = {sample_event(), sample_event(), sample_event()};
    ev[1].event_id = "ev-2";
    ev[1].amount_minor = -5;
    ev[2].event_id = "ev-3";
    ev[2].type = HF_EVENT_PURCHASE;
    ev[2].currency[0] = '\0';
    write_events(path, codec, ev, 3);

    hf_avro_file *f = hf_avro_file_open(path, err, sizeof(err));
    if (f == NULL)
        fail_msg("%s", err);
    assert_int_equal(hf_avro_file_records(f), 3);
    hf_event e;
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), 1);
    assert_event_equal(&e, &ev[0]);
    assert_null(e.source.topic);
    assert_int_equal(e.source.partition, -1);
    assert_int_equal(e.source.offset, 1);
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), -1);
    assert_string_equal(err, "amount_minor is negative (-5)");
    assert_int_equal(e.source.offset, 2);
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), 1);
    assert_event_equal(&e, &ev[2]);
    assert_int_equal(e.source.offset, 3);
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), 0);
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), 0);
    hf_avro_file_close(f);
}

static void test_container_round_trip(void **state)
{
    (void)state;
    check_file_with_invalid_record("null");
    check_file_with_invalid_record("deflate");
}

static void test_container_empty(void **state)
{
    (void)state;
    char path[128], err[256];
    tmp_path(path, sizeof(path), "empty.avro");
    write_events(path, "null", NULL, 0);
    hf_avro_file *f = hf_avro_file_open(path, err, sizeof(err));
    if (f == NULL)
        fail_msg("%s", err);
    assert_int_equal(hf_avro_file_records(f), 0);
    hf_event e;
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), 0);
    hf_avro_file_close(f);
    hf_avro_file_close(NULL);
}

enum { MANY = 3000 };

/* Writes MANY events of equal size; returns the records in a full block. */
static int64_t write_many(const char *path)
{
    hf_event *ev = calloc(MANY, sizeof(hf_event));
    char (*ids)[8] = calloc(MANY, 8);
    assert_non_null(ev);
    assert_non_null(ids);
    for (int i = 0; i < MANY; i++) {
        ev[i] = sample_event();
        snprintf(ids[i], 8, "e%05d", i);
        ev[i].event_id = ids[i];
        ev[i].event_id_len = 6;
    }
    write_events(path, "null", ev, MANY);
    hf_buf b = HF_BUF_INIT;
    assert_int_equal(hf_avro_encode_event(&ev[0], &b), 0);
    int64_t per_block = (64 * 1024) / (int64_t)b.len;
    hf_buf_free(&b);
    free(ids);
    free(ev);
    return per_block;
}

/* Reads records until something else than 1; returns it. */
static int read_all(hf_avro_file *f, int64_t *count, char *err, size_t size)
{
    hf_event e;
    int rc;
    *count = 0;
    while ((rc = hf_avro_file_next(f, &e, err, size)) == 1) {
        (*count)++;
        assert_int_equal(e.source.offset, *count);
    }
    return rc;
}

static void test_container_corrupt(void **state)
{
    (void)state;
    char path[128], bad[128], err[256];
    int64_t count;
    tmp_path(path, sizeof(path), "many.avro");
    tmp_path(bad, sizeof(bad), "bad.avro");
    int64_t per_block = write_many(path);
    assert_true(per_block < MANY && 2 * per_block > MANY); /* two blocks */

    hf_avro_file *f = hf_avro_file_open(path, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(hf_avro_file_records(f), MANY);
    assert_int_equal(read_all(f, &count, err, sizeof(err)), 0);
    assert_int_equal(count, MANY);
    hf_avro_file_close(f);

    size_t len;
    char *data = slurp(path, &len);
    assert_non_null(data);

    /* the last sync marker damaged: the first block is still read */
    data[len - 1] ^= 0x55;
    spit(bad, data, len);
    data[len - 1] ^= 0x55;
    f = hf_avro_file_open(bad, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(hf_avro_file_records(f), per_block);
    assert_int_equal(read_all(f, &count, err, sizeof(err)), -2);
    assert_int_equal(count, per_block);
    assert_string_equal(err, "corrupt Avro file: block 2: sync marker mismatch");
    hf_event e;
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), -2);
    hf_avro_file_close(f);

    /* cut in the second block */
    spit(bad, data, len - 100);
    f = hf_avro_file_open(bad, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(read_all(f, &count, err, sizeof(err)), -2);
    assert_int_equal(count, per_block);
    assert_string_equal(err, "corrupt Avro file: block 2: truncated");
    hf_avro_file_close(f);

    /* garbage after the last block (a negative block size) */
    char *longer = malloc(len + 3);
    assert_non_null(longer);
    memcpy(longer, data, len);
    memcpy(longer + len, "\x02\x7f\x01", 3);
    spit(bad, longer, len + 3);
    free(longer);
    f = hf_avro_file_open(bad, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(read_all(f, &count, err, sizeof(err)), -2);
    assert_int_equal(count, MANY);
    assert_string_equal(err, "corrupt Avro file: block 3: bad block header");
    hf_avro_file_close(f);

    /* cut in the first block: nothing to read */
    spit(bad, data, len / 4);
    f = hf_avro_file_open(bad, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(hf_avro_file_records(f), 0);
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), -2);
    assert_string_equal(err, "corrupt Avro file: block 1: truncated");
    hf_avro_file_close(f);

    /* a damaged header */
    spit(bad, data, 30);
    assert_null(hf_avro_file_open(bad, err, sizeof(err)));
    char want[256];
    snprintf(want, sizeof(want), "%s: corrupt Avro file header", bad);
    assert_string_equal(err, want);
    free(data);
}

static void test_container_open_errors(void **state)
{
    (void)state;
    char path[128], err[256], want[300];
    assert_null(hf_avro_file_open("/nonexistent/x.avro", err, sizeof(err)));
    assert_string_equal(err,
                        "cannot open /nonexistent/x.avro: No such file or directory");
    assert_null(hf_avro_file_open("-", err, sizeof(err)));
    assert_string_equal(err,
                        "-: cannot read an Avro container file from a stream");
    tmp_path(path, sizeof(path), "text.avro");
    spit(path, "{\"a\":1}\n", 8);
    assert_null(hf_avro_file_open(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: not an Avro container file", path);
    assert_string_equal(err, want);

    /* a file whose schema cannot carry events */
    tmp_path(path, sizeof(path), "other.avro");
    avro_schema_t s = parse(REC(F("event_id", "\"string\"")));
    avro_file_writer_t fw;
    assert_int_equal(avro_file_writer_create(path, s, &fw), 0);
    assert_int_equal(avro_file_writer_close(fw), 0);
    avro_schema_decref(s);
    assert_null(hf_avro_file_open(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: writer schema has no field \"customer_id\"",
             path);
    assert_string_equal(err, want);
}

static void test_container_other_schema(void **state)
{
    (void)state;
    /* a file written by someone else with the nullable schema */
    char path[128], err[256];
    tmp_path(path, sizeof(path), "nullable.avro");
    avro_schema_t s = parse(nullable_schema);
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t rec;
    assert_int_equal(avro_generic_value_new(iface, &rec), 0);
    avro_file_writer_t fw;
    assert_int_equal(avro_file_writer_create_with_codec(path, s, &fw,
                                                        "deflate", 0), 0);
    fill_nullable(&rec);
    assert_int_equal(avro_file_writer_append_value(fw, &rec), 0);
    set_null(&rec, "customer_id");
    assert_int_equal(avro_file_writer_append_value(fw, &rec), 0);
    fill_nullable(&rec);
    set_null(&rec, "order_id");
    set_str(&rec, "event_id", "n3");
    assert_int_equal(avro_file_writer_append_value(fw, &rec), 0);
    assert_int_equal(avro_file_writer_close(fw), 0);

    hf_avro_file *f = hf_avro_file_open(path, err, sizeof(err));
    if (f == NULL)
        fail_msg("%s", err);
    hf_event e;
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), 1);
    assert_field(e.event_id, e.event_id_len, "n1");
    assert_field(e.order_id, e.order_id_len, "on");
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), -1);
    assert_string_equal(err, "missing field: customer_id");
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), 1);
    assert_field(e.event_id, e.event_id_len, "n3");
    assert_field(e.order_id, e.order_id_len, "");
    assert_field(e.customer_id, e.customer_id_len, "cn");
    assert_int_equal(e.source.offset, 3);
    assert_int_equal(hf_avro_file_next(f, &e, err, sizeof(err)), 0);
    hf_avro_file_close(f);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);
}

static void test_signal_container(void **state)
{
    (void)state;
    char path[128], err[256];
    tmp_path(path, sizeof(path), "signals.avro");
    hf_signal sig[2] = {sample_signal(), sample_signal()};
    sig[1].trigger_event_id = NULL;
    sig[1].cause = HF_CAUSE_EXPIRY;
    sig[1].customer_id = "c-2";
    hf_avro_writer *w = hf_avro_signal_file_open(path, "deflate", err,
                                                 sizeof(err));
    assert_non_null(w);
    for (int i = 0; i < 2; i++)
        assert_int_equal(hf_avro_signal_file_write(w, &sig[i], err,
                                                   sizeof(err)), 0);
    assert_int_equal(hf_avro_writer_close(w, err, sizeof(err)), 0);
    assert_int_equal(hf_avro_writer_close(NULL, err, sizeof(err)), 0);

    /* the header carries our schema text, logical types included */
    size_t len;
    char *data = slurp(path, &len);
    assert_non_null(data);
    assert_non_null(memmem(data, len, hf_avro_switch_signal_schema_json,
                           strlen(hf_avro_switch_signal_schema_json)));
    assert_non_null(memmem(data, len, "avro.codec\x0e" "deflate", 18));
    free(data);

    /* read back with avro-c alone */
    avro_file_reader_t fr;
    assert_int_equal(avro_file_reader(path, &fr), 0);
    /* in avro-c 1.11.1 this returns a new reference */
    avro_schema_t ws = avro_file_reader_get_writer_schema(fr);
    assert_string_equal(avro_schema_name(ws), "SwitchSignal");
    avro_value_iface_t *iface = avro_generic_class_from_schema(ws);
    avro_value_t rec;
    assert_int_equal(avro_generic_value_new(iface, &rec), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(avro_file_reader_read_value(fr, &rec), 0);
        check_signal_value(&rec, &sig[i]);
    }
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(ws);
    avro_file_reader_close(fr);

    /* an event reader refuses a signal file */
    char want[300];
    assert_null(hf_avro_file_open(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: writer schema has no field \"event_id\"",
             path);
    assert_string_equal(err, want);
}

static void test_writer_errors(void **state)
{
    (void)state;
    char path[128], err[256];
    tmp_path(path, sizeof(path), "x.avro");
    assert_null(hf_avro_signal_file_open(path, "zip", err, sizeof(err)));
    assert_string_equal(err,
                        "unknown Avro codec \"zip\" (null, deflate, snappy, lzma)");
    assert_null(hf_avro_event_file_open("/nonexistent/dir/x.avro", "null", err,
                                        sizeof(err)));
    assert_true(strncmp(err, "cannot create Avro file /nonexistent/dir/x.avro: ",
                        49) == 0);
}

/* input.topic.<t>.type: a schema without type, and a type that is overridden */
static void test_fixed_type(void **state)
{
    (void)state;
    char err[256];
    avro_schema_t s = parse(REC(F("event_id", "\"string\"") ","
                                F("customer_id", "\"string\"") ","
                                F("event_time", "\"long\"") ","
                                F("amount_minor", "\"long\"") ","
                                F("items", "\"long\"")));
    hf_avro_event_reader *r = hf_avro_event_reader_new(s, err, sizeof(err));
    assert_non_null(r);
    /* event_id "e", customer_id "c", event_time 5, amount_minor 7, items 1 */
    static const char datum[] = "\x02" "e" "\x02" "c" "\x0a" "\x0e" "\x02";
    hf_event e;
    assert_int_equal(hf_avro_event_decode(r, datum, sizeof(datum) - 1, &e, err,
                                          sizeof(err)), -1);
    assert_string_equal(err, "missing field: type");
    hf_event_type fixed = HF_EVENT_RETURN;
    assert_int_equal(hf_avro_event_decode_as(r, datum, sizeof(datum) - 1, &fixed,
                                             &e, err, sizeof(err)), 0);
    assert_int_equal(e.type, HF_EVENT_RETURN);
    assert_int_equal(e.event_time, 5);
    assert_int_equal(e.amount_minor, 7);
    assert_int_equal(e.items, 1);
    hf_avro_event_reader_destroy(r);
    avro_schema_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_type),
        cmocka_unit_test(test_schemas_match_files),
        cmocka_unit_test(test_schemas_load),
        cmocka_unit_test(test_is_container),
        cmocka_unit_test(test_event_round_trip),
        cmocka_unit_test(test_other_writer_schema),
        cmocka_unit_test(test_nullable_writer_schema),
        cmocka_unit_test(test_reader_schema_errors),
        cmocka_unit_test(test_signal_encoding),
        cmocka_unit_test(test_container_round_trip),
        cmocka_unit_test(test_container_empty),
        cmocka_unit_test(test_container_corrupt),
        cmocka_unit_test(test_container_open_errors),
        cmocka_unit_test(test_container_other_schema),
        cmocka_unit_test(test_signal_container),
        cmocka_unit_test(test_writer_errors),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
