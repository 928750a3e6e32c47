/*
 * behaviour.h - a named target-behaviour definition (SEMANTICS.md "Behaviours").
 */
#ifndef HF_BEHAVIOUR_H
#define HF_BEHAVIOUR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/switch_signal.h"

#define HF_BEHAVIOUR_NAME_MAX 64
#define HF_MAX_BEHAVIOURS 32

typedef struct hf_behaviour {
    char name[HF_BEHAVIOUR_NAME_MAX];
    int32_t window_days;        /* >= 1, default 90 */
    bool has_min_orders;        /* default on, 2 */
    int64_t min_orders;
    bool has_min_items;
    int64_t min_items;
    bool has_min_net_minor;
    int64_t min_net_minor;      /* may be negative */
    bool has_max_return_ratio;
    double max_return_ratio;    /* >= 0 */
} hf_behaviour;

/* The default behaviour: "repeat", 90 days, 2 orders, nothing else. */
void hf_behaviour_init(hf_behaviour *b, const char *name);

/*
 * Evaluates the thresholds on window metrics. Returns the HF_FAIL_* bits of
 * the thresholds that do not hold: 0 means target.
 */
unsigned hf_behaviour_failing(const hf_behaviour *b, const hf_window_metrics *m);

/* A 64-bit fingerprint of the name and every threshold (for signal ids). */
uint64_t hf_behaviour_fingerprint(const hf_behaviour *b);

#endif
