/*
 * event.h - the customer event (SEMANTICS.md "Events") and its validation.
 *
 * An hf_event does not own its strings: they point into the buffer of the
 * decoder that produced it and stay valid until that decoder's next call.
 */
#ifndef HF_EVENT_H
#define HF_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define HF_MS_PER_DAY 86400000LL

/*
 * Bounds beyond SEMANTICS.md's rules, so that every day fits 32 bits and
 * every window sum stays exact in 64 bits: an event outside them is invalid.
 */
#define HF_MAX_AMOUNT_MINOR 1000000000000000LL /* 10^15 */
#define HF_MAX_ITEMS 1000000000LL              /* 10^9 */
#define HF_MAX_ABS_DAY 100000000LL             /* days from 1970, either way */

typedef enum hf_event_type {
    HF_EVENT_PURCHASE = 0,
    HF_EVENT_RETURN = 1
} hf_event_type;

/* Where an event came from: a file (line or record number) or Kafka. */
typedef struct hf_source {
    const char *topic;   /* NULL for files */
    int32_t partition;   /* -1 for files */
    int64_t offset;      /* Kafka offset, or 1-based line/record number */
} hf_source;

typedef struct hf_event {
    const char *event_id;
    size_t event_id_len;
    hf_event_type type;
    const char *customer_id;
    size_t customer_id_len;
    const char *order_id; /* may be empty, never NULL */
    size_t order_id_len;
    int64_t event_time;   /* ms since the Unix epoch, UTC */
    int64_t amount_minor; /* >= 0 */
    char currency[4];     /* ISO-4217, NUL-terminated; "" when absent */
    int64_t items;        /* >= 0 */
    hf_source source;
} hf_event;

/* floor(event_time / 86400000), correct for negative times too. */
int32_t hf_event_day(int64_t event_time);

/*
 * Checks the SEMANTICS.md rules that a decoder cannot see by type alone.
 * Returns 0 when valid, -1 with a reason in errstr otherwise.
 */
int hf_event_validate(const hf_event *e, char *errstr, size_t errstr_size);

const char *hf_event_type_name(hf_event_type t);
/* Returns 0 and sets *t for "purchase"/"return", -1 otherwise. */
int hf_event_type_parse(const char *s, size_t len, hf_event_type *t);

#endif
