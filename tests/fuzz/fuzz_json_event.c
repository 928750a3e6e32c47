/* fuzz_json_event.c - JSON event lines (file replay, JSON topics). */
#include <stddef.h>
#include <stdint.h>

#include "codec_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hf_json_decoder *d;
    if (d == NULL)
        d = hf_json_decoder_new();
    hf_event e;
    char err[512];
    if (hf_json_decode_event(d, (const char *)data, size, &e, err, sizeof(err)) == 0) {
        /* a decoded event must be valid and re-encode */
        hf_buf b = HF_BUF_INIT;
        if (hf_event_validate(&e, err, sizeof(err)) != 0 || hf_json_encode_event(&e, &b) != 0)
            __builtin_trap();
        hf_buf_free(&b);
    }
    hf_event_type fixed = HF_EVENT_RETURN;
    hf_json_decode_event_as(d, (const char *)data, size, &fixed, &e, err, sizeof(err));
    return 0;
}
