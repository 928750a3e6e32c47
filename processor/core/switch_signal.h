/*
 * switch_signal.h - the hire/fire switch signal (SEMANTICS.md "Signals").
 *
 * An hf_signal handed to a sink does not own its strings; they stay valid
 * only for the duration of the sink call.
 */
#ifndef HF_SWITCH_SIGNAL_H
#define HF_SWITCH_SIGNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

typedef enum hf_signal_kind { HF_KIND_HIRE = 0, HF_KIND_FIRE = 1 } hf_signal_kind;

typedef enum hf_signal_cause {
    HF_CAUSE_PURCHASE = 0,
    HF_CAUSE_RETURN = 1,
    HF_CAUSE_EXPIRY = 2
} hf_signal_cause;

#define HF_CAUSE_COUNT 3

/* Thresholds, as bits of hf_signal.failing, in configuration-table order. */
#define HF_FAIL_MIN_ORDERS       0x1u
#define HF_FAIL_MIN_ITEMS        0x2u
#define HF_FAIL_MIN_NET_MINOR    0x4u
#define HF_FAIL_MAX_RETURN_RATIO 0x8u
#define HF_FAIL_COUNT 4

typedef struct hf_window_metrics {
    int64_t orders;
    int64_t items;
    int64_t gross_minor;
    int64_t returned_minor;
    int64_t net_minor;
    int64_t returns;
} hf_window_metrics;

typedef struct hf_signal {
    char signal_id[33];          /* 32 lowercase hex digits */
    uint32_t behaviour;          /* index in the engine's behaviours */
    const char *behaviour_name;
    const char *customer_id;
    size_t customer_id_len;
    hf_signal_kind kind;
    hf_signal_cause cause;
    int64_t effective_time;      /* ms since epoch, UTC */
    hf_window_metrics metrics;
    unsigned failing;            /* HF_FAIL_* bits; 0 for hire */
    /* The triggering event; trigger_event_id is NULL for expiries. */
    const char *trigger_event_id;
    size_t trigger_event_id_len;
    hf_source trigger_source;    /* topic NULL for files and expiries */
} hf_signal;

/* Receives signals in emission order. */
typedef void (*hf_signal_fn)(void *opaque, const hf_signal *s);

const char *hf_signal_kind_name(hf_signal_kind k);
const char *hf_signal_cause_name(hf_signal_cause c);
/* Name of the threshold of one HF_FAIL_* bit: "min_orders", ... */
const char *hf_fail_name(unsigned bit);

#endif
