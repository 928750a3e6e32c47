/*
 * test_framing.c - the Confluent frame (exact errors, byte layout, round
 * trip) and the framed event decoder over a schema directory.
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

#include "codec/codec_avro.h"
#include "codec/framing.h"

/*--- Frames -----------------------------------------------------------------*/

static void test_parse_errors(void **state)
{
    (void)state;
    char err[256];
    int32_t id = -1;
    const void *payload = NULL;
    size_t plen = 99;

    assert_int_equal(hf_framing_parse("", 0, &id, &payload, &plen, err,
                                      sizeof(err)), -1);
    assert_string_equal(err, "message is empty");

    assert_int_equal(hf_framing_parse("\0\0\0", 3, &id, &payload, &plen, err,
                                      sizeof(err)), -1);
    assert_string_equal(err, "message is too short for the Avro frame (3 bytes)");

    assert_int_equal(hf_framing_parse("\0", 1, &id, &payload, &plen, err,
                                      sizeof(err)), -1);
    assert_string_equal(err, "message is too short for the Avro frame (1 bytes)");

    const char *json = "{\"event_id\":\"e1\"}";
    assert_int_equal(hf_framing_parse(json, strlen(json), &id, &payload, &plen,
                                      err, sizeof(err)), -1);
    assert_string_equal(err, "wrong magic byte 0x7b (expected 0x00)");

    /* magic is checked before the length: a short JSON value is named so */
    assert_int_equal(hf_framing_parse("{}", 2, &id, &payload, &plen, err,
                                      sizeof(err)), -1);
    assert_string_equal(err, "wrong magic byte 0x7b (expected 0x00)");

    assert_int_equal(hf_framing_parse("\xff\0\0\0\1", 5, &id, &payload, &plen,
                                      err, sizeof(err)), -1);
    assert_string_equal(err, "wrong magic byte 0xff (expected 0x00)");

    /* nothing is set on failure */
    assert_int_equal(id, -1);
    assert_null(payload);
    assert_int_equal(plen, 99);
}

static void test_parse_header_only_and_big_ids(void **state)
{
    (void)state;
    char err[256] = "";
    int32_t id = 0;
    const void *payload = NULL;
    size_t plen = 99;
    const unsigned char msg[] = {0x00, 0x01, 0x02, 0x03, 0x04};
    assert_int_equal(hf_framing_parse(msg, sizeof(msg), &id, &payload, &plen,
                                      err, sizeof(err)), 0);
    assert_int_equal(id, 0x01020304);
    assert_int_equal(plen, 0);
    assert_ptr_equal(payload, msg + 5);

    const unsigned char neg[] = {0x00, 0xff, 0xff, 0xff, 0xfe, 0x2a};
    assert_int_equal(hf_framing_parse(neg, sizeof(neg), &id, &payload, &plen,
                                      err, sizeof(err)), 0);
    assert_int_equal(id, -2);
    assert_int_equal(plen, 1);
    assert_int_equal(*(const unsigned char *)payload, 0x2a);
}

static void test_write_layout_and_round_trip(void **state)
{
    (void)state;
    hf_buf b = HF_BUF_INIT;
    hf_buf_puts(&b, "prefix");
    assert_int_equal(hf_framing_write(&b, 258, "\x02\x61", 2), 0);
    assert_int_equal(b.len, 6 + 5 + 2);
    assert_memory_equal(b.data + 6, "\x00\x00\x00\x01\x02\x02\x61", 7);

    int32_t id = 0;
    const void *payload = NULL;
    size_t plen = 0;
    char err[256];
    assert_int_equal(hf_framing_parse(b.data + 6, b.len - 6, &id, &payload,
                                      &plen, err, sizeof(err)), 0);
    assert_int_equal(id, 258);
    assert_int_equal(plen, 2);
    assert_memory_equal(payload, "\x02\x61", 2);

    hf_buf_reset(&b);
    assert_int_equal(hf_framing_write(&b, INT32_MAX, NULL, 0), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "\x00\x7f\xff\xff\xff", 5);
    hf_buf_free(&b);
}

/*--- Framed decoder ---------------------------------------------------------*/

typedef struct fixture {
    char dir[64];
    hf_schema_source *src;
    hf_framed_decoder *dec;
} fixture;

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[256];
    snprintf(f->dir, sizeof(f->dir), "/tmp/hf-test-framing-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    write_file(f->dir, "1.avsc", hf_avro_customer_event_schema_json);
    write_file(f->dir, "2.avsc", "{\"type\": \"record\", \"name\": \"Other\", "
                                 "\"fields\": [{\"name\": \"x\", \"type\": \"long\"}]}");
    f->src = hf_schema_source_new(NULL, f->dir, err, sizeof(err));
    f->dec = hf_framed_decoder_new(f->src);
    *state = f;
    return f->src && f->dec ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char path[256];
    hf_framed_decoder_destroy(f->dec);
    hf_schema_source_destroy(f->src);
    snprintf(path, sizeof(path), "%s/1.avsc", f->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/2.avsc", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static hf_event sample(void)
{
    hf_event e;
    memset(&e, 0, sizeof(e));
    e.event_id = "e-17";
    e.event_id_len = 4;
    e.type = HF_EVENT_RETURN;
    e.customer_id = "c0000042";
    e.customer_id_len = 8;
    e.order_id = "o-9";
    e.order_id_len = 3;
    e.event_time = 1704067200123LL;
    e.amount_minor = 4999;
    memcpy(e.currency, "EUR", 4);
    e.items = 2;
    e.source.partition = -1;
    return e;
}

static void test_decoder_round_trip_uses_cache(void **state)
{
    fixture *f = *state;
    hf_event in = sample(), out;
    hf_buf avro = HF_BUF_INIT, msg = HF_BUF_INIT;
    char err[512] = "";
    assert_int_equal(hf_avro_encode_event(&in, &avro), 0);
    assert_int_equal(hf_framing_write(&msg, 1, avro.data, avro.len), 0);

    for (int i = 0; i < 3; i++) {
        memset(&out, 0xff, sizeof(out));
        assert_int_equal(hf_framed_decode_event(f->dec, msg.data, msg.len, &out,
                                                err, sizeof(err)), 0);
        assert_int_equal(out.event_id_len, 4);
        assert_memory_equal(out.event_id, "e-17", 4);
        assert_int_equal(out.type, HF_EVENT_RETURN);
        assert_memory_equal(out.customer_id, "c0000042", 8);
        assert_memory_equal(out.order_id, "o-9", 3);
        assert_int_equal(out.event_time, 1704067200123LL);
        assert_int_equal(out.amount_minor, 4999);
        assert_string_equal(out.currency, "EUR");
        assert_int_equal(out.items, 2);
    }
    assert_int_equal(hf_schema_source_requests(f->src), 1);
    hf_buf_free(&avro);
    hf_buf_free(&msg);
}

static void test_decoder_errors(void **state)
{
    fixture *f = *state;
    hf_event in = sample(), out;
    hf_buf avro = HF_BUF_INIT, msg = HF_BUF_INIT;
    char err[512] = "", want[512];
    assert_int_equal(hf_avro_encode_event(&in, &avro), 0);

    assert_int_equal(hf_framed_decode_event(f->dec, "{}", 2, &out, err,
                                            sizeof(err)), -1);
    assert_string_equal(err, "wrong magic byte 0x7b (expected 0x00)");

    hf_framing_write(&msg, 42, avro.data, avro.len);
    assert_int_equal(hf_framed_decode_event(f->dec, msg.data, msg.len, &out,
                                            err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "unknown schema id 42: cannot read %s/42.avsc: No such file or directory",
             f->dir);
    assert_string_equal(err, want);

    /* a schema without event fields: refused, and the reason remembered */
    hf_buf_reset(&msg);
    hf_framing_write(&msg, 2, "\x02", 1);
    assert_int_equal(hf_framed_decode_event(f->dec, msg.data, msg.len, &out,
                                            err, sizeof(err)), -1);
    assert_memory_equal(err, "schema id 2: ", 13);
    assert_true(strlen(err) > 13);
    snprintf(want, sizeof(want), "%s", err);
    assert_int_equal(hf_framed_decode_event(f->dec, msg.data, msg.len, &out,
                                            err, sizeof(err)), -1);
    assert_string_equal(err, want);

    /* a truncated datum under a good schema */
    hf_buf_reset(&msg);
    hf_framing_write(&msg, 1, avro.data, 3);
    assert_int_equal(hf_framed_decode_event(f->dec, msg.data, msg.len, &out,
                                            err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
    uint64_t requests = hf_schema_source_requests(f->src);
    assert_int_equal(requests, 3); /* 42, 2 and 1, once each */

    /* the schema id that failed to load is asked again only after 1 s */
    write_file(f->dir, "42.avsc", hf_avro_customer_event_schema_json);
    hf_buf_reset(&msg);
    hf_framing_write(&msg, 42, avro.data, avro.len);
    assert_int_equal(hf_framed_decode_event(f->dec, msg.data, msg.len, &out,
                                            err, sizeof(err)), -1);
    assert_memory_equal(err, "unknown schema id 42: ", 22);
    usleep(1100 * 1000);
    assert_int_equal(hf_framed_decode_event(f->dec, msg.data, msg.len, &out,
                                            err, sizeof(err)), 0);
    assert_memory_equal(out.customer_id, "c0000042", 8);
    char path[256];
    snprintf(path, sizeof(path), "%s/42.avsc", f->dir);
    unlink(path);
    assert_int_equal(hf_schema_source_requests(f->src), requests + 1);

    hf_buf_free(&avro);
    hf_buf_free(&msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_header_only_and_big_ids),
        cmocka_unit_test(test_write_layout_and_round_trip),
        cmocka_unit_test_setup_teardown(test_decoder_round_trip_uses_cache,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_decoder_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
