/*
 * fuzz_framed_avro.c - libFuzzer target for Confluent-framed Avro events
 * (framing.h): the bytes of one Kafka message value go through
 * hf_framing_parse and hf_framed_decode_event(_as). The schema source is a
 * schema directory made at init:
 *   1.avsc  schemas/customer_event.avsc (the compiled-in copy)
 *   2.avsc  the same fields as unions with null, strings and ints, a map
 *   3.avsc  no type field (events need a type fixed by the topic)
 * The three schemas are read once at init (the source caches them), then
 * the directory is removed, so other ids fail like a missing file.
 * A decoded event must satisfy the event invariants and survive
 * hf_avro_encode_event + framing + decode with schema 1 unchanged.
 */
#include "fuzz_common.h"

#include <sys/stat.h>

#include "codec/codec_avro.h"
#include "codec/framing.h"
#include "codec/registry.h"
#include "util/buf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema2[] =
    "{\"type\": \"record\", \"name\": \"LooseEvent\", \"fields\": ["
    "{\"name\": \"event_id\", \"type\": \"string\"},"
    "{\"name\": \"type\", \"type\": [\"null\", \"string\"]},"
    "{\"name\": \"customer_id\", \"type\": [\"null\", \"string\"]},"
    "{\"name\": \"order_id\", \"type\": [\"null\", \"string\"]},"
    "{\"name\": \"event_time\", \"type\": [\"string\", \"int\", \"long\"]},"
    "{\"name\": \"amount_minor\", \"type\": \"int\"},"
    "{\"name\": \"currency\", \"type\": [\"null\", \"string\"]},"
    "{\"name\": \"items\", \"type\": [\"null\", \"long\", \"int\"]},"
    "{\"name\": \"extra\", \"type\": {\"type\": \"map\", \"values\": \"bytes\"}}"
    "]}";

static const char schema3[] =
    "{\"type\": \"record\", \"name\": \"UntypedEvent\", \"fields\": ["
    "{\"name\": \"customer_id\", \"type\": \"string\"},"
    "{\"name\": \"event_id\", \"type\": \"string\"},"
    "{\"name\": \"event_time\", \"type\": \"long\"},"
    "{\"name\": \"amount_minor\", \"type\": \"long\"},"
    "{\"name\": \"items\", \"type\": \"int\"}"
    "]}";

static hf_schema_source *source;
static hf_framed_decoder *dec, *dec2;
static hf_buf datum = HF_BUF_INIT, frame = HF_BUF_INIT;

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    FUZZ_CHECK(fp != NULL, "create schema file");
    FUZZ_CHECK(fputs(text, fp) >= 0 && fclose(fp) == 0, "write schema file");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/hf-fuzz-schemas-XXXXXX";
    char err[512], path[512];
    hf_event e;
    static const uint8_t probe[3][HF_FRAMING_HEADER_SIZE] = {
        {0, 0, 0, 0, 1}, {0, 0, 0, 0, 2}, {0, 0, 0, 0, 3}};

    FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    write_file(dir, "1.avsc", hf_avro_customer_event_schema_json);
    write_file(dir, "2.avsc", schema2);
    write_file(dir, "3.avsc", schema3);
    source = hf_schema_source_new(NULL, dir, err, sizeof(err));
    FUZZ_CHECK(source != NULL, err);
    dec = hf_framed_decoder_new(source);
    dec2 = hf_framed_decoder_new(source);
    FUZZ_CHECK(dec != NULL && dec2 != NULL, "framed_decoder_new");
    for (int i = 0; i < 3; i++) {
        /* an empty payload: the schema is looked up, the datum fails */
        (void)hf_framed_decode_event(dec, probe[i], sizeof(probe[i]), &e, err,
                                     sizeof(err));
        FUZZ_CHECK(hf_schema_source_get(source, i + 1, err, sizeof(err)) !=
                       NULL,
                   err);
    }
    for (int i = 1; i <= 3; i++) {
        snprintf(path, sizeof(path), "%s/%d.avsc", dir, i);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

static void round_trip(const hf_event *e)
{
    hf_event back;
    char err[512];

    hf_buf_reset(&datum);
    hf_buf_reset(&frame);
    FUZZ_CHECK(hf_avro_encode_event(e, &datum) == 0, "encode event");
    FUZZ_CHECK(hf_framing_write(&frame, 1, datum.data, datum.len) == 0,
               "write frame");
    if (hf_framed_decode_event(dec2, frame.data, frame.len, &back, err,
                               sizeof(err)) != 0) {
        fprintf(stderr, "re-decoding failed: %s\n", err);
        FUZZ_CHECK(0, "encoded event decodes");
    }
    fuzz_check_same_event(e, &back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int32_t id;
    const void *payload;
    size_t payload_len;
    hf_event e;
    char err[512];

    if (hf_framing_parse(data, size, &id, &payload, &payload_len, err,
                         sizeof(err)) == 0) {
        FUZZ_CHECK(payload_len == size - HF_FRAMING_HEADER_SIZE &&
                       (const uint8_t *)payload == data + HF_FRAMING_HEADER_SIZE,
                   "payload after the header");
    }
    if (hf_framed_decode_event(dec, data, size, &e, err, sizeof(err)) == 0) {
        fuzz_check_event(&e);
        round_trip(&e);
    } else {
        FUZZ_CHECK(err[0] != '\0', "error text set");
    }
    hf_event_type fixed = size > 5 && (data[5] & 1) ? HF_EVENT_RETURN
                                                    : HF_EVENT_PURCHASE;
    if (hf_framed_decode_event_as(dec, data, size, &fixed, &e, err,
                                  sizeof(err)) == 0) {
        fuzz_check_event(&e);
        FUZZ_CHECK(e.type == fixed, "fixed type wins");
        round_trip(&e);
    }
    return 0;
}
