/*
 * replay_whatif.h - the analyst outputs of `hirefire replay --input`:
 * --history (the audience per day as CSV), --report (the HTML page) and
 * --compare (a second configuration B side by side, with --compare-output
 * for its signals, the comparison as JSON and the customer lists).
 *
 * The replay's signal callback becomes the head of a chain of taps (history,
 * comparison) that ends at the replay's own output.
 */
#ifndef HF_REPLAY_WHATIF_H
#define HF_REPLAY_WHATIF_H

#include <stddef.h>

#include "core/engine.h"
#include "core/stream.h"
#include "core/switch_signal.h"

typedef struct hf_whatif_opts {
    const char *history;      /* --history FILE, or NULL */
    const char *report;       /* --report FILE, or NULL */
    const char *compare;      /* --compare FILE (configuration B), or NULL */
    const char *compare_dir;  /* --compare-output DIR, or NULL */
    const char *input;        /* the replayed file, for the report */
    const char *config;       /* where configuration A came from, for the report */
    int quiet;                /* no comparison text on standard error */
} hf_whatif_opts;

typedef struct hf_whatif hf_whatif;

/*
 * Sets up what o asks for around A's stream st (not yet initialised) under
 * eng: *emit and *opaque (the replay's output) become the head of the tap
 * chain, to initialise st with. Returns the what-if (NULL when o asks for
 * nothing, with *rc 0), or NULL with *rc 1 or 2 after printing why.
 */
hf_whatif *hf_whatif_new(const hf_whatif_opts *o, const hf_engine *eng, hf_stream *st,
                         hf_signal_fn *emit, void **opaque, int *rc);

/* The other configurations' streams, which get every event after A's. */
hf_stream *const *hf_whatif_streams(hf_whatif *w, size_t *n);

/* After the replay: writes the history, the report and the comparison.
 * Returns 0, or 1 after printing why. */
int hf_whatif_finish(hf_whatif *w);

void hf_whatif_destroy(hf_whatif *w); /* accepts NULL */

#endif
