/*
 * engine.h - SEMANTICS.md as code: pure functions over one customer's state.
 *
 * No I/O and no clock of its own: the stream (stream.h) owns the clock, the
 * store and the expiry order, and calls these functions.
 */
#ifndef HF_ENGINE_H
#define HF_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/behaviour.h"
#include "core/event.h"
#include "core/state.h"
#include "core/switch_signal.h"

typedef struct hf_engine {
    hf_behaviour behaviours[HF_MAX_BEHAVIOURS];
    uint64_t fingerprints[HF_MAX_BEHAVIOURS];
    uint32_t n;
    int32_t max_window;
} hf_engine;

/* Copies the behaviours (1..HF_MAX_BEHAVIOURS) and derives what it needs. */
void hf_engine_init(hf_engine *eng, const hf_behaviour *behaviours, uint32_t n);

/* Window metrics of c for behaviour b at day `day`. */
void hf_engine_metrics(const hf_engine *eng, const hf_customer *c, uint32_t b,
                       int32_t day, hf_window_metrics *m);

/*
 * Expiry due day of c for behaviour b at day `day`, or HF_NO_DUE: the first
 * day on which the oldest days leaving b's window (SEMANTICS.md step 6)
 * change c's class for b (c->target), so that expiries that could not emit
 * a signal are never visited; with no such day, for a behaviour of the
 * longest window, the day its window empties (the expiry prunes c's days).
 * Depends on c's days and class only: a store that recomputes it at a later
 * clock (no expiry due in between) gets the same day.
 */
int32_t hf_engine_due(const hf_engine *eng, const hf_customer *c, uint32_t b,
                      int32_t day);

/*
 * Step 4 and 5: applies the accepted (valid, not duplicate) event e to c at
 * clock day `clock_day` (>= e's day). Emits at most one signal per behaviour.
 * Updates c->due[b] for the behaviours it counted for. Sets *counted to the
 * bit set of the behaviours the event counted for (0: too late for all).
 * Returns 0, or -1 when out of memory (then nothing changed).
 */
int hf_engine_apply(const hf_engine *eng, hf_customer *c, const hf_event *e,
                    int32_t clock_day, hf_signal_fn emit, void *opaque,
                    uint32_t *counted);

/*
 * Step 3, one expiry: re-evaluates c for behaviour b at `due_day` and emits a
 * signal with cause expiry on a class change. Updates c->due[b].
 */
void hf_engine_expire(const hf_engine *eng, hf_customer *c, uint32_t b,
                      int32_t due_day, hf_signal_fn emit, void *opaque);

#endif
