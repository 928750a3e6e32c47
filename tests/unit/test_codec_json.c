/*
 * test_codec_json.c - JSON event decoding (every error text), signal and
 * event encoding, string escaping, RFC 3339 parsing, and the fast (yajl) parser
 * checked against jansson.
 *
 * The codec's source is included so that its fast path and its jansson path
 * can be compared directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../processor/codec/codec_json.c"

/*--- helpers ---------------------------------------------------------------*/

static int decode(hf_json_decoder *d, const char *line, hf_event *e,
                  char *err, size_t err_size)
{
    err[0] = '\0';
    return hf_json_decode_event(d, line, strlen(line), e, err, err_size);
}

static void expect_error(const char *line, const char *want)
{
    hf_json_decoder *d = hf_json_decoder_new();
    hf_event e;
    char err[512];
    assert_int_equal(decode(d, line, &e, err, sizeof(err)), -1);
    assert_string_equal(err, want);
    hf_json_decoder_destroy(d);
}

#define BASE "\"event_id\":\"e1\",\"type\":\"purchase\",\"customer_id\":\"c1\""

/*--- decoding --------------------------------------------------------------*/

static void test_decode_full(void **state)
{
    (void)state;
    hf_json_decoder *d = hf_json_decoder_new();
    hf_event e;
    char err[256];
    const char *line =
        "{\"event_id\":\"ev-1\",\"type\":\"return\",\"customer_id\":\"cust-42\","
        "\"order_id\":\"o-9\",\"event_time\":1291191960000,"
        "\"amount_minor\":1530,\"currency\":\"GBP\",\"items\":6}\n";
    assert_int_equal(decode(d, line, &e, err, sizeof(err)), 0);
    assert_string_equal(e.event_id, "ev-1");
    assert_int_equal(e.event_id_len, 4);
    assert_int_equal(e.type, HF_EVENT_RETURN);
    assert_string_equal(e.customer_id, "cust-42");
    assert_int_equal(e.customer_id_len, 7);
    assert_string_equal(e.order_id, "o-9");
    assert_int_equal(e.order_id_len, 3);
    assert_int_equal(e.event_time, 1291191960000LL);
    assert_int_equal(e.amount_minor, 1530);
    assert_string_equal(e.currency, "GBP");
    assert_int_equal(e.items, 6);
    assert_null(e.source.topic);
    assert_int_equal(e.source.partition, -1);
    hf_json_decoder_destroy(d);
}

static void test_decode_defaults_and_rfc3339(void **state)
{
    (void)state;
    hf_json_decoder *d = hf_json_decoder_new();
    hf_event e;
    char err[256];
    const char *line = " {" BASE ",\"event_time\":\"2011-12-09T12:50:00Z\","
                       "\"amount_minor\":0,\"items\":0} ";
    assert_int_equal(decode(d, line, &e, err, sizeof(err)), 0);
    assert_string_equal(e.order_id, "");
    assert_int_equal(e.order_id_len, 0);
    assert_string_equal(e.currency, "");
    assert_int_equal(e.event_time, 1323435000000LL);
    assert_int_equal(e.type, HF_EVENT_PURCHASE);
    hf_json_decoder_destroy(d);
}

static void test_decode_nulls_unknown_duplicates(void **state)
{
    (void)state;
    hf_json_decoder *d = hf_json_decoder_new();
    hf_event e;
    char err[256];
    /* null optional fields are absent; unknown fields of any shape are
     * ignored (nesting goes through jansson); the last duplicate wins */
    const char *line =
        "{" BASE ",\"order_id\":null,\"currency\":null,\"x\":{\"a\":[1,2]},"
        "\"y\":1.5e3,\"z\":true,\"event_time\":5,\"amount_minor\":1,"
        "\"amount_minor\":7,\"items\":2}";
    assert_int_equal(decode(d, line, &e, err, sizeof(err)), 0);
    assert_string_equal(e.order_id, "");
    assert_string_equal(e.currency, "");
    assert_int_equal(e.amount_minor, 7);
    assert_int_equal(e.event_time, 5);
    /* the same in the fast path */
    line = "{" BASE ",\"z\":false,\"w\":null,\"v\":-0.25,\"event_time\":5,"
           "\"amount_minor\":1,\"amount_minor\":8,\"items\":2}";
    assert_int_equal(decode(d, line, &e, err, sizeof(err)), 0);
    assert_int_equal(e.amount_minor, 8);
    hf_json_decoder_destroy(d);
}

static void test_decode_escapes(void **state)
{
    (void)state;
    hf_json_decoder *d = hf_json_decoder_new();
    hf_event e;
    char err[256];
    /* \u00e9 and a raw é (fast path), then a surrogate pair (jansson) */
    const char *line =
        "{\"event_id\":\"a\\\"b\\\\c\\/d\\n\",\"type\":\"purchase\","
        "\"customer_id\":\"\\u00e9\xc3\xa9\\u20ac\",\"event_time\":1,"
        "\"amount_minor\":1,\"items\":1}";
    assert_int_equal(decode(d, line, &e, err, sizeof(err)), 0);
    assert_string_equal(e.event_id, "a\"b\\c/d\n");
    assert_int_equal(e.event_id_len, 8);
    assert_string_equal(e.customer_id, "\xc3\xa9\xc3\xa9\xe2\x82\xac");
    assert_int_equal(e.customer_id_len, 7);
    line = "{\"event_id\":\"\\ud83d\\ude00\",\"type\":\"purchase\","
           "\"customer_id\":\"c\",\"event_time\":1,\"amount_minor\":1,"
           "\"items\":1}";
    assert_int_equal(decode(d, line, &e, err, sizeof(err)), 0);
    assert_string_equal(e.event_id, "\xf0\x9f\x98\x80");
    hf_json_decoder_destroy(d);
}

static void test_decode_strings_live_until_next_call(void **state)
{
    (void)state;
    hf_json_decoder *d = hf_json_decoder_new();
    hf_event e;
    char err[256];
    char line[200];
    snprintf(line, sizeof(line),
             "{" BASE ",\"event_time\":1,\"amount_minor\":1,\"items\":1}");
    assert_int_equal(decode(d, line, &e, err, sizeof(err)), 0);
    memset(line, 'x', strlen(line)); /* the caller's buffer is gone */
    assert_string_equal(e.event_id, "e1");
    assert_string_equal(e.customer_id, "c1");
    hf_json_decoder_destroy(d);
}

static void test_decode_errors(void **state)
{
    (void)state;
    expect_error("[1,2]", "not a JSON object");
    expect_error("\"x\"", "not a JSON object");
    expect_error("5", "not a JSON object");
    expect_error("{\"event_id\":",
                 "invalid JSON: unexpected token near end of file at column 12");
    expect_error("{\"a\":1} x",
                 "invalid JSON: end of file expected near 'x' at column 9");
    expect_error("", "invalid JSON: unexpected token near end of file at column 0");
    expect_error("{\n\"a\":tru}",
                 "invalid JSON: invalid token near 'tru' at line 2 column 7");
    expect_error("{\"a\":\"\xff\"}",
                 "invalid JSON: unable to decode byte 0xff near '\"' at column 6");
    expect_error("{\"amount_minor\":99999999999999999999}",
                 "invalid JSON: too big integer near '99999999999999999999' "
                 "at column 36");

    expect_error("{}", "missing field: event_id");
    expect_error("{\"event_id\":\"e\"}", "missing field: type");
    expect_error("{\"event_id\":\"e\",\"type\":\"purchase\"}",
                 "missing field: customer_id");
    expect_error("{" BASE "}", "missing field: event_time");
    expect_error("{" BASE ",\"event_time\":1}", "missing field: amount_minor");
    expect_error("{" BASE ",\"event_time\":1,\"amount_minor\":1}",
                 "missing field: items");
    expect_error("{" BASE ",\"customer_id\":null,\"event_time\":1,"
                 "\"amount_minor\":1,\"items\":1}",
                 "missing field: customer_id");

    expect_error("{\"event_id\":5,\"type\":\"purchase\",\"customer_id\":\"c\","
                 "\"event_time\":1,\"amount_minor\":1,\"items\":1}",
                 "field event_id: expected a string");
    expect_error("{\"event_id\":\"e\",\"type\":1,\"customer_id\":\"c\","
                 "\"event_time\":1,\"amount_minor\":1,\"items\":1}",
                 "field type: expected a string");
    expect_error("{\"event_id\":\"e\",\"type\":\"refund\",\"customer_id\":\"c\","
                 "\"event_time\":1,\"amount_minor\":1,\"items\":1}",
                 "field type: expected \"purchase\" or \"return\", got \"refund\"");
    expect_error("{\"event_id\":\"e\",\"type\":\"Purchase\\n\","
                 "\"customer_id\":\"c\",\"event_time\":1,\"amount_minor\":1,"
                 "\"items\":1}",
                 "field type: expected \"purchase\" or \"return\", "
                 "got \"Purchase\\n\"");
    expect_error("{" BASE ",\"customer_id\":[],\"event_time\":1,"
                 "\"amount_minor\":1,\"items\":1}",
                 "field customer_id: expected a string");
    expect_error("{" BASE ",\"order_id\":7,\"event_time\":1,"
                 "\"amount_minor\":1,\"items\":1}",
                 "field order_id: expected a string");
    expect_error("{" BASE ",\"event_time\":true,\"amount_minor\":1,\"items\":1}",
                 "field event_time: expected an integer or an RFC 3339 string");
    expect_error("{" BASE ",\"event_time\":1.5,\"amount_minor\":1,\"items\":1}",
                 "field event_time: expected an integer or an RFC 3339 string");
    expect_error("{" BASE ",\"event_time\":\"2011-13-01T00:00:00Z\","
                 "\"amount_minor\":1,\"items\":1}",
                 "field event_time: not an RFC 3339 timestamp: "
                 "\"2011-13-01T00:00:00Z\"");
    expect_error("{" BASE ",\"event_time\":1,\"amount_minor\":12.5,\"items\":1}",
                 "field amount_minor: expected an integer");
    expect_error("{" BASE ",\"event_time\":1,\"amount_minor\":\"12\",\"items\":1}",
                 "field amount_minor: expected an integer");
    expect_error("{" BASE ",\"event_time\":1,\"amount_minor\":1,"
                 "\"currency\":1,\"items\":1}",
                 "field currency: expected a string");
    expect_error("{" BASE ",\"event_time\":1,\"amount_minor\":1,"
                 "\"currency\":\"EURO\",\"items\":1}",
                 "field currency: longer than 3 bytes: \"EURO\"");
    expect_error("{" BASE ",\"event_time\":1,\"amount_minor\":1,\"items\":1e2}",
                 "field items: expected an integer");

    /* hf_event_validate's reasons */
    expect_error("{" BASE ",\"event_time\":1,\"amount_minor\":-5,\"items\":1}",
                 "amount_minor is negative (-5)");
    expect_error("{" BASE ",\"event_time\":1,\"amount_minor\":5,\"items\":-1}",
                 "items is negative (-1)");
    expect_error("{\"event_id\":\"\",\"type\":\"purchase\",\"customer_id\":\"c\","
                 "\"event_time\":1,\"amount_minor\":1,\"items\":1}",
                 "event_id is empty");
    expect_error("{\"event_id\":\"e\",\"type\":\"purchase\",\"customer_id\":\"\","
                 "\"event_time\":1,\"amount_minor\":1,\"items\":1}",
                 "customer_id is empty");
}

static void test_decode_error_value_shortened(void **state)
{
    (void)state;
    char line[400];
    char want[300];
    char t[101];
    memset(t, 'r', 100);
    t[100] = '\0';
    snprintf(line, sizeof(line),
             "{\"event_id\":\"e\",\"type\":\"%s\",\"customer_id\":\"c\","
             "\"event_time\":1,\"amount_minor\":1,\"items\":1}", t);
    snprintf(want, sizeof(want),
             "field type: expected \"purchase\" or \"return\", got \"%.64s...\"",
             t);
    expect_error(line, want);
}

/*--- the fast path against jansson ------------------------------------------*/

static void assert_same_fields(const fval *a, const fval *b)
{
    for (int i = 0; i < F_COUNT; i++) {
        assert_int_equal(a[i].kind, b[i].kind);
        if (a[i].kind == V_STRING) {
            assert_int_equal(a[i].len, b[i].len);
            assert_memory_equal(a[i].s, b[i].s, a[i].len);
        }
        if (a[i].kind == V_INTEGER)
            assert_int_equal(a[i].i, b[i].i);
    }
}

/* Whenever the fast path accepts an input, jansson must accept it too and
 * see the same values. Returns 1 when the fast path accepted it. */
static int compare_parsers(const char *buf, size_t len)
{
    hf_json_decoder *d = hf_json_decoder_new();
    fval fast[F_COUNT], slow[F_COUNT];
    char err[256];
    memset(fast, 0, sizeof(fast));
    memset(slow, 0, sizeof(slow));
    assert_int_equal(hf_buf_reserve(&d->arena, 2 * len + 1), 0);
    int accepted = fast_parse(buf, len, d->arena.data, fast) == 0;
    if (accepted) {
        if (jansson_parse(d, buf, len, slow, err, sizeof(err)) != 0)
            fail_msg("fast path accepted what jansson rejects (%s): %.*s", err,
                     (int)len, buf);
        assert_same_fields(fast, slow);
    }
    hf_json_decoder_destroy(d);
    return accepted;
}

static void test_fast_path_matches_jansson(void **state)
{
    (void)state;
    static const char *const accepted[] = {
        "{}",
        " {\"type\" : \"x\" , \"items\":-0}\r\n",
        "{\"event_id\":\"\\u0041\\u00e9\\u20ac\\b\\f\\r\\t\",\"items\":0}",
        "{\"customer_id\":\"\xe2\x82\xac\xf0\x9f\x98\x80\",\"k\\n\":1}",
        "{\"amount_minor\":9223372036854775807,\"items\":-9223372036854775807}",
        "{\"currency\":\"\",\"a\":0.5,\"b\":-10.25,\"c\":null,\"d\":true}",
        "{\"\xc3\xa9\":1,\"items\":3,\"items\":4}",
        /* nesting, exponents and surrogate pairs: yajl reads them as jansson does */
        "{\"a\":[1]}", "{\"a\":{}}", "{\"a\":1e5}", "{\"a\":\"\\ud83d\\ude00\"}",
        "{\"items\":[{\"items\":1}],\"type\":{\"type\":2}}",
    };
    static const char *const left_to_jansson[] = {
        "{\"items\":-9223372036854775808}", /* yajl's range stops one short */
        "{\"a\":\"\\u0000\"}", "{\"amount_minor\":9223372036854775808}",
        "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":tru}", "{\"a\":1,}",
        "{\"a\" 1}", "{\"a\":\"\x01\"}", "{\"a\":\"\xc0\x80\"}",
        "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\\x\"}", "{\"a\":1}x", "{'a':1}",
        "[]", "{\"a\":1", "{\"a\":\"b}",
    };
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
        assert_int_equal(compare_parsers(accepted[i], strlen(accepted[i])), 1);
    for (size_t i = 0;
         i < sizeof(left_to_jansson) / sizeof(left_to_jansson[0]); i++)
        assert_int_equal(
            compare_parsers(left_to_jansson[i], strlen(left_to_jansson[i])), 0);
}

static void test_fast_path_mutations(void **state)
{
    (void)state;
    /* Deterministic mutations of a typical line: the fast path may give up,
     * but whatever it accepts must equal jansson's reading. */
    static const char base[] =
        "{\"event_id\":\"ev-\\u00e9 1\",\"type\":\"purchase\","
        "\"customer_id\":\"c\xc3\xa9\",\"order_id\":\"o\",\"event_time\":"
        "1291191960000,\"amount_minor\":-15.5,\"currency\":\"GBP\","
        "\"items\":6,\"x\":null,\"y\":true}";
    static const char alphabet[] = "{}[]\",:\\/ 0123456789-+.eEtrufalsn\x80\xc3"
                                   "\xa9\xff\x01u";
    char buf[sizeof(base) + 8];
    uint32_t seed = 12345;
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len = sizeof(base) - 1;
        memcpy(buf, base, len);
        int edits = 1 + round % 3;
        for (int k = 0; k < edits; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            char c = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
            seed = seed * 1103515245u + 12345u;
            switch ((seed >> 8) % 3) {
            case 0:
                buf[pos] = c;
                break;
            case 1:
                if (len < sizeof(buf)) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = c;
                    len++;
                }
                break;
            default:
                memmove(buf + pos, buf + pos + 1, len - pos - 1);
                len--;
            }
        }
        accepted += compare_parsers(buf, len);
    }
    /* the mutations must not all be trivially rejected */
    assert_true(accepted > 2000);
}

/*--- encoding --------------------------------------------------------------*/

static void check_escape(const char *in, size_t len, const char *want)
{
    hf_buf b = HF_BUF_INIT;
    assert_int_equal(hf_json_append_string(&b, in, len), 0);
    assert_string_equal(b.data, want);
    /* always valid JSON */
    json_error_t jerr;
    json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    assert_non_null(j);
    json_decref(j);
    hf_buf_free(&b);
}

static void test_append_string(void **state)
{
    (void)state;
    check_escape("plain", 5, "\"plain\"");
    check_escape("", 0, "\"\"");
    check_escape("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    check_escape("\n\r\t\b\f\x01\x1f\x7f", 8,
                  "\"\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\"");
    check_escape("nul\0x", 5, "\"nul\\u0000x\"");
    check_escape("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
                  "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    /* invalid UTF-8: stray continuation, truncated sequence, overlong,
     * surrogate, above U+10FFFF, 0xff */
    check_escape("a\x80z", 3, "\"a\\ufffdz\"");
    check_escape("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");
    check_escape("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
    check_escape("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
    check_escape("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    check_escape("\xff", 1, "\"\\ufffd\"");
}

static hf_signal sample_signal(void)
{
    hf_signal s;
    memset(&s, 0, sizeof(s));
    strcpy(s.signal_id, "0123456789abcdef0123456789abcdef");
    s.behaviour_name = "loyal";
    s.customer_id = "c\"1";
    s.customer_id_len = 3;
    s.kind = HF_KIND_HIRE;
    s.cause = HF_CAUSE_PURCHASE;
    s.effective_time = 1291191960000LL;
    s.metrics = (hf_window_metrics){2, 5, 3000, 500, 2500, 1};
    s.trigger_event_id = "ev-7";
    s.trigger_event_id_len = 4;
    s.trigger_source = (hf_source){"events", 3, 42};
    return s;
}

static void test_encode_signal(void **state)
{
    (void)state;
    hf_buf b = HF_BUF_INIT;
    hf_signal s = sample_signal();
    assert_int_equal(hf_json_encode_signal(&s, &b), 0);
    assert_string_equal(
        b.data,
        "{\"signal_id\":\"0123456789abcdef0123456789abcdef\",\"behaviour\":"
        "\"loyal\",\"customer_id\":\"c\\\"1\",\"kind\":\"hire\",\"cause\":"
        "\"purchase\",\"effective_time\":1291191960000,\"metrics\":{\"orders\""
        ":2,\"items\":5,\"gross_minor\":3000,\"returned_minor\":500,"
        "\"net_minor\":2500,\"returns\":1},\"failing\":[],\"trigger\":{"
        "\"event_id\":\"ev-7\",\"topic\":\"events\",\"partition\":3,"
        "\"offset\":42}}");

    /* a fire from a file: no topic, partition, offset */
    hf_buf_reset(&b);
    s.kind = HF_KIND_FIRE;
    s.cause = HF_CAUSE_RETURN;
    s.failing = HF_FAIL_MIN_ORDERS | HF_FAIL_MAX_RETURN_RATIO;
    s.metrics = (hf_window_metrics){1, 1, 100, 200, -100, 2};
    s.trigger_source = (hf_source){NULL, -1, 17};
    assert_int_equal(hf_json_encode_signal(&s, &b), 0);
    assert_string_equal(
        b.data,
        "{\"signal_id\":\"0123456789abcdef0123456789abcdef\",\"behaviour\":"
        "\"loyal\",\"customer_id\":\"c\\\"1\",\"kind\":\"fire\",\"cause\":"
        "\"return\",\"effective_time\":1291191960000,\"metrics\":{\"orders\""
        ":1,\"items\":1,\"gross_minor\":100,\"returned_minor\":200,"
        "\"net_minor\":-100,\"returns\":2},\"failing\":[\"min_orders\","
        "\"max_return_ratio\"],\"trigger\":{\"event_id\":\"ev-7\"}}");

    /* an expiry: trigger null; appends after what is in the buffer */
    hf_buf_reset(&b);
    hf_buf_puts(&b, "x");
    s.cause = HF_CAUSE_EXPIRY;
    s.failing = HF_FAIL_MIN_ITEMS | HF_FAIL_MIN_NET_MINOR;
    s.effective_time = -86400000LL;
    s.trigger_event_id = NULL;
    s.trigger_event_id_len = 0;
    assert_int_equal(hf_json_encode_signal(&s, &b), 0);
    assert_string_equal(
        b.data,
        "x{\"signal_id\":\"0123456789abcdef0123456789abcdef\",\"behaviour\":"
        "\"loyal\",\"customer_id\":\"c\\\"1\",\"kind\":\"fire\",\"cause\":"
        "\"expiry\",\"effective_time\":-86400000,\"metrics\":{\"orders\""
        ":1,\"items\":1,\"gross_minor\":100,\"returned_minor\":200,"
        "\"net_minor\":-100,\"returns\":2},\"failing\":[\"min_items\","
        "\"min_net_minor\"],\"trigger\":null}");
    hf_buf_free(&b);
}

static void test_event_round_trip(void **state)
{
    (void)state;
    hf_event in;
    memset(&in, 0, sizeof(in));
    in.event_id = "ev\n\xff";
    in.event_id_len = 4;
    in.type = HF_EVENT_RETURN;
    in.customer_id = "c\xc3\xa9";
    in.customer_id_len = 3;
    in.order_id = "";
    in.event_time = -HF_MAX_ABS_DAY * HF_MS_PER_DAY; /* the valid extremes */
    in.amount_minor = HF_MAX_AMOUNT_MINOR;
    strcpy(in.currency, "EUR");
    in.items = 3;
    hf_buf b = HF_BUF_INIT;
    assert_int_equal(hf_json_encode_event(&in, &b), 0);
    assert_string_equal(
        b.data,
        "{\"event_id\":\"ev\\n\\ufffd\",\"type\":\"return\",\"customer_id\":"
        "\"c\xc3\xa9\",\"order_id\":\"\",\"event_time\":-8640000000000000,"
        "\"amount_minor\":1000000000000000,\"currency\":\"EUR\","
        "\"items\":3}");
    hf_json_decoder *d = hf_json_decoder_new();
    hf_event out;
    char err[256];
    assert_int_equal(hf_json_decode_event(d, b.data, b.len, &out, err,
                                          sizeof(err)), 0);
    assert_string_equal(out.event_id, "ev\n\xef\xbf\xbd");
    assert_int_equal(out.type, HF_EVENT_RETURN);
    assert_string_equal(out.customer_id, "c\xc3\xa9");
    assert_string_equal(out.order_id, "");
    assert_int_equal(out.event_time, -HF_MAX_ABS_DAY * HF_MS_PER_DAY);
    assert_int_equal(out.amount_minor, HF_MAX_AMOUNT_MINOR);
    assert_string_equal(out.currency, "EUR");
    assert_int_equal(out.items, 3);
    hf_json_decoder_destroy(d);
    hf_buf_free(&b);
}

static void test_signal_names(void **state)
{
    (void)state;
    assert_string_equal(hf_signal_kind_name(HF_KIND_HIRE), "hire");
    assert_string_equal(hf_signal_kind_name(HF_KIND_FIRE), "fire");
    assert_string_equal(hf_signal_cause_name(HF_CAUSE_PURCHASE), "purchase");
    assert_string_equal(hf_signal_cause_name(HF_CAUSE_RETURN), "return");
    assert_string_equal(hf_signal_cause_name(HF_CAUSE_EXPIRY), "expiry");
    assert_string_equal(hf_fail_name(HF_FAIL_MIN_ORDERS), "min_orders");
    assert_string_equal(hf_fail_name(HF_FAIL_MIN_ITEMS), "min_items");
    assert_string_equal(hf_fail_name(HF_FAIL_MIN_NET_MINOR), "min_net_minor");
    assert_string_equal(hf_fail_name(HF_FAIL_MAX_RETURN_RATIO),
                        "max_return_ratio");
    assert_string_equal(hf_fail_name(0x10), "unknown");
}

/*--- RFC 3339 --------------------------------------------------------------*/

static void test_rfc3339_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ms;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2011-12-09T12:50:00Z", 1323435000000LL},
        {"2011-12-09t12:50:00z", 1323435000000LL},
        {"2011-12-09 12:50:00Z", 1323435000000LL},
        {"2011-12-09T12:50:00.5Z", 1323435000500LL},
        {"2011-12-09T12:50:00.123Z", 1323435000123LL},
        {"2011-12-09T12:50:00.123999Z", 1323435000123LL},
        {"2011-12-09T13:50:00+01:00", 1323435000000LL},
        {"2011-12-09T07:20:00-05:30", 1323435000000LL},
        {"2011-12-09T12:50:00-00:00", 1323435000000LL},
        {"1969-12-31T23:59:59.999Z", -1},
        {"1900-01-01T00:00:00Z", -2208988800000LL},
        {"2000-02-29T00:00:00Z", 951782400000LL},
        {"2016-12-31T23:59:60Z", 1483228800000LL}, /* a leap second */
        {"9999-12-31T23:59:59Z", 253402300799000LL},
        {"0000-01-01T00:00:00Z", -62167219200000LL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ms = 42;
        if (hf_parse_rfc3339(cases[i].s, strlen(cases[i].s), &ms) != 0)
            fail_msg("rejected %s", cases[i].s);
        if (ms != cases[i].ms)
            fail_msg("%s: got %lld, want %lld", cases[i].s, (long long)ms,
                     (long long)cases[i].ms);
    }
}

static void test_rfc3339_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2011-12-09",
        "2011-12-09T12:50:00",      /* no offset */
        "2011-12-09T12:50Z",
        "2011-12-09X12:50:00Z",
        "2011-13-09T12:50:00Z",
        "2011-00-09T12:50:00Z",
        "2011-02-29T12:50:00Z",     /* not a leap year */
        "1900-02-29T12:50:00Z",
        "2011-04-31T12:50:00Z",
        "2011-12-00T12:50:00Z",
        "2011-12-09T24:00:00Z",
        "2011-12-09T12:60:00Z",
        "2011-12-09T12:50:61Z",
        "2011-12-09T12:50:00.Z",
        "2011-12-09T12:50:00+1:00",
        "2011-12-09T12:50:00+01",
        "2011-12-09T12:50:00+0100",
        "2011-12-09T12:50:00+24:00",
        "2011-12-09T12:50:00+01:60",
        "2011-12-09T12:50:00ZZ",
        "2011-12-09T12:50:00Z ",
        " 2011-12-09T12:50:00Z",
        "2011-1a-09T12:50:00Z",
        "+011-12-09T12:50:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 42;
        if (hf_parse_rfc3339(bad[i], strlen(bad[i]), &ms) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(ms, 42);
    }
    /* the length bounds the parse: no reading past it */
    int64_t ms;
    assert_int_equal(hf_parse_rfc3339("2011-12-09T12:50:00Zjunk", 20, &ms), 0);
    assert_int_equal(ms, 1323435000000LL);
    assert_int_equal(hf_parse_rfc3339("2011-12-09T12:50:00.5Z", 21, &ms), -1);
}

/* input.topic.<t>.type: type may be absent, and is overridden when present */
static void test_fixed_type(void **state)
{
    (void)state;
    hf_json_decoder *d = hf_json_decoder_new();
    hf_event e;
    char err[256];
    static const char no_type[] = "{\"event_id\":\"e\",\"customer_id\":\"c\","
                                  "\"event_time\":5,\"amount_minor\":7,\"items\":1}";
    static const char odd_type[] = "{\"event_id\":\"e\",\"type\":\"refund\","
                                   "\"customer_id\":\"c\",\"event_time\":5,"
                                   "\"amount_minor\":7,\"items\":1}";
    assert_int_equal(hf_json_decode_event(d, no_type, strlen(no_type), &e, err,
                                          sizeof(err)), -1);
    assert_string_equal(err, "missing field: type");
    hf_event_type fixed = HF_EVENT_RETURN;
    assert_int_equal(hf_json_decode_event_as(d, no_type, strlen(no_type), &fixed, &e,
                                             err, sizeof(err)), 0);
    assert_int_equal(e.type, HF_EVENT_RETURN);
    assert_int_equal(e.amount_minor, 7);
    fixed = HF_EVENT_PURCHASE;
    assert_int_equal(hf_json_decode_event_as(d, odd_type, strlen(odd_type), &fixed, &e,
                                             err, sizeof(err)), 0);
    assert_int_equal(e.type, HF_EVENT_PURCHASE);
    hf_json_decoder_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_type),
        cmocka_unit_test(test_decode_full),
        cmocka_unit_test(test_decode_defaults_and_rfc3339),
        cmocka_unit_test(test_decode_nulls_unknown_duplicates),
        cmocka_unit_test(test_decode_escapes),
        cmocka_unit_test(test_decode_strings_live_until_next_call),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_error_value_shortened),
        cmocka_unit_test(test_fast_path_matches_jansson),
        cmocka_unit_test(test_fast_path_mutations),
        cmocka_unit_test(test_append_string),
        cmocka_unit_test(test_encode_signal),
        cmocka_unit_test(test_event_round_trip),
        cmocka_unit_test(test_signal_names),
        cmocka_unit_test(test_rfc3339_valid),
        cmocka_unit_test(test_rfc3339_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
