/*
 * gen.h - synthetic customer journeys: a deterministic stream of purchase and
 * return events for demos, tests and benchmarks (`hirefire gen`).
 *
 * The population has four kinds of customers, assigned by a hash of the seed
 * and the customer number, with fixed shares:
 *   40% one-time buyers  one purchase, then nothing for 1-3 years
 *   30% repeat buyers    a purchase every 10-45 days; 8% of orders partly returned
 *   10% heavy returners  a purchase every 7-30 days; 70% of orders returned,
 *                        mostly in full, 2-10 days later
 *   20% lapsing buyers   3-8 purchases 5-25 days apart, then 4-13 months of
 *                        silence, then again
 * Customers make their first purchase on a day in the first 180 days after
 * the start day. Orders have 1-6 items of 4.99-79.99 EUR each (amounts in
 * cents); a return belongs to its order (same order_id) and gives back some
 * or all of its items and the same share of the money. Event times advance
 * in order, except that 1% of events are made 1 minute to 3 hours late
 * (never before the customer's previous event); those that end up earlier
 * than an event already emitted are counted as late in hf_gen_stats.
 *
 * Ids: event_id "e<seed>-<n>" (unique; n counts from 1), customer_id
 * "c<number>" (7 digits or more), order_id "o<seed>-<n>".
 * The same options give the same events, byte for byte.
 */
#ifndef HF_GEN_H
#define HF_GEN_H

#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "core/event.h"

typedef struct hf_gen_opts {
    uint64_t seed;       /* any value; part of the ids */
    uint32_t customers;  /* population size, >= 1 */
    uint64_t events;     /* how many events hf_gen_next() gives */
    int64_t start_ms;    /* 00:00 UTC of the start day */
} hf_gen_opts;

typedef struct hf_gen hf_gen;

/* Returns NULL when out of memory or customers is 0. */
hf_gen *hf_gen_new(const hf_gen_opts *opts);
void hf_gen_destroy(hf_gen *g); /* accepts NULL */

/*
 * The next event, or 0 at the end (after opts.events events). The strings of
 * e point into g and stay valid until the next call. Returns 1 or 0.
 */
int hf_gen_next(hf_gen *g, hf_event *e);

/* Events per kind of customer so far, indexed by hf_gen_kind. */
typedef enum hf_gen_kind {
    HF_GEN_ONE_TIME = 0,
    HF_GEN_REPEAT = 1,
    HF_GEN_RETURNER = 2,
    HF_GEN_LAPSING = 3,
    HF_GEN_KINDS = 4
} hf_gen_kind;

typedef struct hf_gen_stats {
    uint64_t purchases;
    uint64_t returns;
    uint64_t late;
    uint64_t customers_seen;      /* distinct customers with an event */
    uint64_t by_kind[HF_GEN_KINDS];
} hf_gen_stats;

void hf_gen_get_stats(const hf_gen *g, hf_gen_stats *out);

/* The kind of customer number i (0-based) for this seed. */
hf_gen_kind hf_gen_kind_of(uint64_t seed, uint32_t customer);

/* Event sinks, where `gen` and `produce` put events: sinks.h. */
#include "gen/sinks.h"

#endif
