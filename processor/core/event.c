/* event.c - event helpers and validation (SEMANTICS.md "Events"). */
#include "core/event.h"

#include <stdio.h>
#include <string.h>

int32_t hf_event_day(int64_t event_time)
{
    int64_t d = event_time / HF_MS_PER_DAY;
    if (event_time % HF_MS_PER_DAY != 0 && event_time < 0)
        d--;
    return (int32_t)d;
}

int hf_event_validate(const hf_event *e, char *errstr, size_t errstr_size)
{
    if (e->event_id == NULL || e->event_id_len == 0) {
        snprintf(errstr, errstr_size, "event_id is empty");
        return -1;
    }
    if (e->customer_id == NULL || e->customer_id_len == 0) {
        snprintf(errstr, errstr_size, "customer_id is empty");
        return -1;
    }
    if (e->type != HF_EVENT_PURCHASE && e->type != HF_EVENT_RETURN) {
        snprintf(errstr, errstr_size, "type is not purchase or return");
        return -1;
    }
    if (e->amount_minor < 0) {
        snprintf(errstr, errstr_size, "amount_minor is negative (%lld)",
                 (long long)e->amount_minor);
        return -1;
    }
    if (e->items < 0) {
        snprintf(errstr, errstr_size, "items is negative (%lld)",
                 (long long)e->items);
        return -1;
    }
    if (e->amount_minor > HF_MAX_AMOUNT_MINOR) {
        snprintf(errstr, errstr_size, "amount_minor is larger than 10^15 (%lld)",
                 (long long)e->amount_minor);
        return -1;
    }
    if (e->items > HF_MAX_ITEMS) {
        snprintf(errstr, errstr_size, "items is larger than 10^9 (%lld)",
                 (long long)e->items);
        return -1;
    }
    int64_t day = e->event_time / HF_MS_PER_DAY;
    if (day > HF_MAX_ABS_DAY || day < -HF_MAX_ABS_DAY) {
        snprintf(errstr, errstr_size,
                 "event_time is out of range (%lld): more than 10^8 days from 1970",
                 (long long)e->event_time);
        return -1;
    }
    return 0;
}

const char *hf_event_type_name(hf_event_type t)
{
    return t == HF_EVENT_RETURN ? "return" : "purchase";
}

int hf_event_type_parse(const char *s, size_t len, hf_event_type *t)
{
    if (len == 8 && memcmp(s, "purchase", 8) == 0) {
        *t = HF_EVENT_PURCHASE;
        return 0;
    }
    if (len == 6 && memcmp(s, "return", 6) == 0) {
        *t = HF_EVENT_RETURN;
        return 0;
    }
    return -1;
}
