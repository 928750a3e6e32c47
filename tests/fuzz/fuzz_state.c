/* fuzz_state.c - stored customer states (bytes read back from Redis). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hf_customer *c = hf_customer_new("c", 1, 3);
    char err[256];
    if (c != NULL && hf_state_decode(c, data, size, err, sizeof(err)) == 0) {
        /* what decodes re-encodes canonically: encode, decode, encode gives
         * the same bytes twice (the input itself may use longer varints) */
        uint8_t out[8192], again[8192];
        size_t n = hf_state_encode(c, out, sizeof(out));
        hf_customer *d = hf_customer_new("c", 1, 3);
        if (n > sizeof(out) || d == NULL || hf_state_decode(d, out, n, err, sizeof(err)) != 0 ||
            hf_state_encode(d, again, sizeof(again)) != n || memcmp(out, again, n) != 0)
            __builtin_trap();
        hf_customer_destroy(d);
        hf_customer_remember(c, 42);
        hf_customer_add(c, c->ndays ? c->days[c->ndays - 1].day : 0, 0, 1, 1);
    }
    hf_customer_destroy(c);
    return 0;
}
