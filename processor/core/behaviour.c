/* behaviour.c - threshold evaluation of a target behaviour (SEMANTICS.md). */
#include "core/behaviour.h"

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

void hf_behaviour_init(hf_behaviour *b, const char *name)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->name, sizeof(b->name), "%s", name);
    b->window_days = 90;
    b->has_min_orders = true;
    b->min_orders = 2;
}

unsigned hf_behaviour_failing(const hf_behaviour *b, const hf_window_metrics *m)
{
    unsigned failing = 0;
    if (b->has_min_orders && m->orders < b->min_orders)
        failing |= HF_FAIL_MIN_ORDERS;
    if (b->has_min_items && m->items < b->min_items)
        failing |= HF_FAIL_MIN_ITEMS;
    if (b->has_min_net_minor && m->net_minor < b->min_net_minor)
        failing |= HF_FAIL_MIN_NET_MINOR;
    if (b->has_max_return_ratio) {
        /* return_ratio: 0 when both are 0, infinite when only returns. */
        int holds;
        if (m->gross_minor == 0)
            holds = m->returned_minor == 0 ? (0.0 <= b->max_return_ratio) : 0;
        else
            holds = (double)m->returned_minor / (double)m->gross_minor <=
                    b->max_return_ratio;
        if (!holds)
            failing |= HF_FAIL_MAX_RETURN_RATIO;
    }
    return failing;
}

uint64_t hf_behaviour_fingerprint(const hf_behaviour *b)
{
    char text[256];
    int n = snprintf(text, sizeof(text), "%s|w=%d|o=%d:%lld|i=%d:%lld|n=%d:%lld|r=%d:%.17g",
                     b->name, (int)b->window_days, (int)b->has_min_orders,
                     (long long)b->min_orders, (int)b->has_min_items,
                     (long long)b->min_items, (int)b->has_min_net_minor,
                     (long long)b->min_net_minor, (int)b->has_max_return_ratio,
                     b->has_max_return_ratio ? b->max_return_ratio : 0.0);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(text))
        n = (int)sizeof(text) - 1;
    return XXH3_64bits(text, (size_t)n);
}
