/*
 * fuzz_state.c - libFuzzer target for the customer state encoding
 * (state.h): hf_state_decode reads values from Redis, so its input is
 * outside bytes. A state that decodes must re-encode, and the re-encoding
 * must decode to a customer that encodes to the same bytes (the input
 * itself may use longer varints than the encoder writes).
 */
#include "fuzz_common.h"

#include "core/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NBEH 3

static size_t encode(const hf_customer *c, uint8_t **buf)
{
    size_t need = hf_state_encode(c, NULL, 0);
    *buf = malloc(need ? need : 1);
    FUZZ_CHECK(*buf != NULL, "malloc");
    size_t n = hf_state_encode(c, *buf, need);
    FUZZ_CHECK(n == need, "encode writes the size it asked for");
    return n;
}

static void check_customer(const hf_customer *c)
{
    FUZZ_CHECK(c->nrecent <= HF_RECENT_IDS, "nrecent bounded");
    FUZZ_CHECK(c->nrecent <= c->recent_cap, "nrecent within capacity");
    FUZZ_CHECK(c->ndays <= c->days_cap, "ndays within capacity");
    for (uint32_t i = 1; i < c->ndays; i++)
        FUZZ_CHECK(c->days[i - 1].day < c->days[i].day, "days ascending");
    for (uint32_t b = 0; b < c->nbeh; b++)
        FUZZ_CHECK(c->due[b] == HF_NO_DUE, "due reset");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    hf_customer *c = hf_customer_new("c1", 2, NBEH);
    hf_customer *c2 = hf_customer_new("c1", 2, NBEH);
    FUZZ_CHECK(c != NULL && c2 != NULL, "customer_new");

    /* Give c state of its own first, so that decode has arrays to replace. */
    for (int i = 0; i < 5; i++) {
        FUZZ_CHECK(hf_customer_add(c, 100 + 3 * i, i & 1, 500, 2) == 0, "add");
        hf_customer_remember(c, (uint64_t)i * 0x9E3779B97F4A7C15ull);
    }
    if (hf_state_decode(c, data, size, err, sizeof(err)) == 0) {
        check_customer(c);
        uint8_t *enc1, *enc2;
        size_t n1 = encode(c, &enc1);
        if (hf_state_decode(c2, enc1, n1, err, sizeof(err)) != 0) {
            fprintf(stderr, "re-decoding failed: %s\n", err);
            FUZZ_CHECK(0, "encoded state decodes");
        }
        check_customer(c2);
        size_t n2 = encode(c2, &enc2);
        FUZZ_CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0,
                   "encoding is stable");
        /* the decoded customer stays usable: a new last day (adding to a
         * decoded day could overflow its corrupt sums), an id, a prune */
        int32_t last = c->ndays ? c->days[c->ndays - 1].day : 0;
        if (last < INT32_MAX) {
            FUZZ_CHECK(hf_customer_add(c, last + 1, 0, 1, 1) == 0,
                       "add after decode");
            FUZZ_CHECK(c->days[c->ndays - 1].day == last + 1, "day added");
        }
        hf_customer_remember(c, 42);
        FUZZ_CHECK(hf_customer_seen(c, 42), "remembered id is seen");
        hf_customer_prune(c, last);
        FUZZ_CHECK(c->ndays <= 1, "pruned up to the last day");
        free(enc1);
        free(enc2);
    } else {
        FUZZ_CHECK(err[0] != '\0', "error text set");
    }
    hf_customer_destroy(c);
    hf_customer_destroy(c2);
    return 0;
}
