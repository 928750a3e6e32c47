/*
 * history.h - the audience over time: per day and behaviour, the customers
 * target at the end of the day and the hires and fires of the day by cause
 * (`hirefire replay --history`).
 *
 * A history follows one stream through its signal tap. A day is the stream's
 * clock day: the signals of an expiry count on its due day, the signals of
 * an event on the clock day it was applied at (a late event's signal counts
 * on the day it arrived, not on its own older day). A day ends when the
 * clock passes it; the customers target at its end are those hired and not
 * fired since, after every signal of the day. Days without signals have rows
 * too, from the stream's first day to its last.
 *
 * Several histories (the partitions of a topic, one stream each) merge into
 * one by day: counts add up, and a stream that has not started yet counts no
 * one target while one that has ended keeps its last count.
 */
#ifndef HF_HISTORY_H
#define HF_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/engine.h"
#include "core/stream.h"
#include "core/switch_signal.h"

typedef struct hf_history hf_history;

/*
 * A new history of stream st (whose clock it reads) under engine eng. next,
 * when not NULL, receives every signal after the history has counted it (the
 * run's own output). Returns NULL when out of memory.
 */
hf_history *hf_history_new(const hf_engine *eng, const hf_stream *st, hf_signal_fn next,
                           void *next_opaque);
void hf_history_destroy(hf_history *h); /* accepts NULL */

/* The signal tap: an hf_signal_fn with opaque = the history. */
void hf_history_signal(void *opaque, const hf_signal *s);

/* Ends the history at the stream's clock (call after the stream's last
 * event and any advance of its clock). Returns 0, or -1 when out of memory. */
int hf_history_finish(hf_history *h);

/* One day's figures of behaviour b, merged over histories. */
typedef struct hf_history_row {
    int32_t day;
    uint32_t behaviour;
    int64_t target;                              /* at the end of the day */
    uint64_t signals[2][HF_CAUSE_COUNT];          /* [kind][cause] of the day */
} hf_history_row;

/*
 * Calls fn for every (day, behaviour) of the merged histories hs[0..n), by
 * day, then behaviour in configuration order; fn returns 0 to go on.
 * Returns 0, -1 when out of memory, or fn's non-zero value.
 */
int hf_history_rows(hf_history *const *hs, size_t n,
                    int (*fn)(void *opaque, const hf_history_row *row), void *opaque);

/*
 * Writes the merged histories as CSV, with a header line:
 * day,configuration,behaviour,target,hires,fires,hire_purchase,hire_return,
 * hire_expiry,fire_purchase,fire_return,fire_expiry. Several runs (e.g. the
 * two configurations of a comparison) go one after another: label names the
 * run in the configuration column, header says whether to write the header.
 * Returns 0, or -1 with errstr (out of memory, or the OS error of a write).
 */
int hf_history_write_csv(hf_history *const *hs, size_t n, const char *label, int header,
                         FILE *out, char *errstr, size_t errstr_size);

#endif
