/*
 * stream.h - one ordered event stream (a file, or one Kafka partition): the
 * clock day, duplicates, expiries in due order, late events and the counters
 * of the run summary. SEMANTICS.md "Processing one event" steps 1 to 6.
 */
#ifndef HF_STREAM_H
#define HF_STREAM_H

#include <stdint.h>

#include "core/engine.h"
#include "core/event.h"
#include "core/store_memory.h"
#include "core/switch_signal.h"

#define HF_NO_CLOCK INT32_MIN

typedef struct hf_stream_stats {
    uint64_t read;       /* every event handed to the stream, valid or not */
    uint64_t applied;    /* counted for at least one behaviour */
    uint64_t duplicate;
    uint64_t late;       /* too late for every behaviour */
    uint64_t invalid;
    uint64_t late_by_behaviour[HF_MAX_BEHAVIOURS];
    uint64_t signals[HF_MAX_BEHAVIOURS][2][HF_CAUSE_COUNT]; /* [b][kind][cause] */
    int64_t targets[HF_MAX_BEHAVIOURS]; /* customers currently target */
} hf_stream_stats;

typedef struct hf_stream {
    const hf_engine *engine;
    hf_memstore *store;     /* owned */
    int32_t clock;          /* HF_NO_CLOCK before the first event */
    hf_signal_fn emit;
    void *opaque;
    hf_stream_stats stats;
} hf_stream;

/* Returns 0, or -1 when out of memory. */
int hf_stream_init(hf_stream *st, const hf_engine *eng, hf_signal_fn emit,
                   void *opaque);
void hf_stream_destroy(hf_stream *st);

/*
 * Processes one valid event (steps 2-6). Returns 0, or -1 when out of memory.
 * Invalid events are not passed here: the caller sends them to the dead
 * letter output and calls hf_stream_count_invalid().
 */
int hf_stream_process(hf_stream *st, const hf_event *e);
/* The same, with hf_memstore_hash of e->customer_id computed already. */
int hf_stream_process_hashed(hf_stream *st, const hf_event *e, uint64_t h);
void hf_stream_count_invalid(hf_stream *st);

/*
 * Step 3 alone: moves the clock to `day` if later, processing expiries.
 * Returns 0, or -1 when out of memory (the clock stays where it was).
 */
int hf_stream_advance(hf_stream *st, int32_t day);

/* Adds the counters of src to dst (for several streams, e.g. partitions). */
void hf_stream_stats_add(hf_stream_stats *dst, const hf_stream_stats *src,
                         uint32_t nbehaviours);

#endif
