/* switch_signal.c - names of signal kinds, causes and failing thresholds. */
#include "core/switch_signal.h"

const char *hf_signal_kind_name(hf_signal_kind k)
{
    return k == HF_KIND_FIRE ? "fire" : "hire";
}

const char *hf_signal_cause_name(hf_signal_cause c)
{
    switch (c) {
    case HF_CAUSE_PURCHASE:
        return "purchase";
    case HF_CAUSE_RETURN:
        return "return";
    case HF_CAUSE_EXPIRY:
        return "expiry";
    }
    return "unknown";
}

const char *hf_fail_name(unsigned bit)
{
    switch (bit) {
    case HF_FAIL_MIN_ORDERS:
        return "min_orders";
    case HF_FAIL_MIN_ITEMS:
        return "min_items";
    case HF_FAIL_MIN_NET_MINOR:
        return "min_net_minor";
    case HF_FAIL_MAX_RETURN_RATIO:
        return "max_return_ratio";
    }
    return "unknown";
}
