/*
 * fuzz_json_event.c - libFuzzer target for JSON events (codec_json.h): the
 * bytes of one Kafka message or file line go through hf_json_decode_event
 * and hf_json_decode_event_as. A decoded event must satisfy the event
 * invariants and survive hf_json_encode_event + decode unchanged. The input
 * is also parsed as an RFC 3339 timestamp.
 */
#include "fuzz_common.h"

#include "codec/codec_json.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hf_json_decoder *dec, *dec2;
static hf_buf out = HF_BUF_INIT;

static void round_trip(const hf_event *e)
{
    hf_event back;
    char err[512];

    hf_buf_reset(&out);
    FUZZ_CHECK(hf_json_encode_event(e, &out) == 0, "encode event");
    if (hf_json_decode_event(dec2, out.data, out.len, &back, err,
                             sizeof(err)) != 0) {
        fprintf(stderr, "re-decoding %.*s failed: %s\n", (int)out.len,
                out.data, err);
        FUZZ_CHECK(0, "encoded event decodes");
    }
    fuzz_check_same_event(e, &back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    hf_event e;
    char err[512];
    int64_t ms;

    if (dec == NULL) {
        dec = hf_json_decoder_new();
        dec2 = hf_json_decoder_new();
        FUZZ_CHECK(dec != NULL && dec2 != NULL, "decoder_new");
    }
    if (hf_json_decode_event(dec, buf, size, &e, err, sizeof(err)) == 0) {
        fuzz_check_event(&e);
        round_trip(&e);
    } else {
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0',
                   "error text set");
    }
    for (int t = HF_EVENT_PURCHASE; t <= HF_EVENT_RETURN; t++) {
        hf_event_type fixed = (hf_event_type)t;
        if (hf_json_decode_event_as(dec, buf, size, &fixed, &e, err,
                                    sizeof(err)) == 0) {
            fuzz_check_event(&e);
            FUZZ_CHECK(e.type == fixed, "fixed type wins");
            round_trip(&e);
        }
    }
    (void)hf_parse_rfc3339(buf, size, &ms);
    return 0;
}
