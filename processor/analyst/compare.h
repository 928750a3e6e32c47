/*
 * compare.h - what-if in one pass (`hirefire replay --compare`): the same
 * input through two configurations A and B, side by side, and what differs,
 * per behaviour name present in either: the signals by kind and cause, the
 * customers target at the end (only in A, only in B, in both, and their
 * lists), and the first signals that differ.
 *
 * Signals are compared without their signal_id (which names the behaviour's
 * definition): two signals are the same when customer, kind, cause,
 * effective time, metrics, failing thresholds and trigger are.
 */
#ifndef HF_COMPARE_H
#define HF_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#include "core/engine.h"
#include "core/stream.h"
#include "core/switch_signal.h"

typedef struct hf_compare hf_compare;

/* A comparison of engines a and b. The taps pass each signal on to
 * next_a / next_b when not NULL. Returns NULL when out of memory. */
hf_compare *hf_compare_new(const hf_engine *a, const hf_engine *b, hf_signal_fn next_a,
                           void *next_a_opaque, hf_signal_fn next_b, void *next_b_opaque);
void hf_compare_destroy(hf_compare *c); /* accepts NULL */

/* The signal taps of A's and B's streams (opaque = the comparison). */
void hf_compare_signal_a(void *opaque, const hf_signal *s);
void hf_compare_signal_b(void *opaque, const hf_signal *s);

/*
 * The result, from the streams' counters and stores at the end: as text
 * (for a terminal) to text, as JSON (comparison.json) to json, and, when dir
 * is not NULL, the lists of customers target at the end only in A, only in B
 * and in both as DIR/<behaviour>.target_only_a.csv, .target_only_b.csv and
 * .target_both.csv (a header line "customer_id", customers in byte order).
 * text and json may be NULL. Returns 0, or -1 with errstr (out of memory,
 * a failed write with the file and the OS error).
 */
int hf_compare_finish(hf_compare *c, const hf_stream *a, const hf_stream *b, FILE *text,
                      FILE *json, const char *dir, char *errstr, size_t errstr_size);

#endif
