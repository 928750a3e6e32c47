/*
 * metrics.h - a small, thread-safe registry of counters, gauges and
 * histograms, rendered in the Prometheus text exposition format 0.0.4
 * (served by http.h at /metrics).
 *
 * Model: a FAMILY is a metric name with its help text and type (and, for a
 * histogram, its bucket bounds); a SERIES is one label set of a family. A
 * series is registered once and returns a stable handle (hf_metric *) that
 * lives as long as the registry; the hot path updates it through that handle
 * with one atomic operation and never takes a lock:
 *
 *   hf_metric *applied = hf_metrics_counter(m, "hirefire_events_total",
 *       "Input events by topic and outcome.",
 *       "topic=\"retail.purchases\",outcome=\"applied\"");
 *   ...
 *   hf_metric_add(applied, n);           // any thread
 *
 * Labels: NULL or "" for none, else `name="value"` pairs separated by `,`,
 * with the value ALREADY escaped as the exposition format wants (`\\`, `\"`,
 * `\n`). hf_metrics_labels() builds such a string from raw values. Label
 * names are [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"; a histogram's
 * labels must not use "le". Metric names are [a-zA-Z_:][a-zA-Z0-9_:]*.
 *
 * Registering the same name and labels again returns the same handle (so
 * callers may look handles up lazily, e.g. on partition assignment; cache
 * them: a lookup takes the registry's mutex and is linear in the series).
 * The help text and type of a family are those of its first registration.
 *
 * Threads: registration, hf_metric_clear and hf_metrics_render may be called
 * from any thread (they take the registry's mutex); hf_metric_add/set/observe
 * are lock-free atomics. A histogram's _count is the sum of the bucket counts
 * that the same render read, so `le="+Inf"` always equals _count; _sum may be
 * one observation ahead or behind while another thread observes.
 *
 * NULL is welcome everywhere: a NULL registry registers nothing and returns
 * NULL handles, and updating a NULL handle does nothing, so code paths run
 * unchanged with metrics switched off. Updating a handle of the wrong type
 * does nothing either.
 *
 * Rendering: families in order of first registration, each with `# HELP`
 * and `# TYPE` once, then its series in order of registration. Counters are
 * unsigned integers; gauges and histogram sums print the shortest decimal
 * that reads back to the same double ("0.25", "3", "1e-06", "+Inf", "NaN").
 * A gauge cleared with hf_metric_clear() is left out until it is set again;
 * a family without any series left to print is left out entirely.
 */
#ifndef HF_METRICS_H
#define HF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct hf_metrics hf_metrics;
typedef struct hf_metric hf_metric;

/*--- The registry ---------------------------------------------------------*/

hf_metrics *hf_metrics_new(void);          /* NULL when out of memory */
void hf_metrics_destroy(hf_metrics *m);    /* accepts NULL; handles die too */

/*
 * Each returns the series' handle, or NULL (and keeps the reason for
 * hf_metrics_error) when the name or labels are malformed, the name is
 * already a family of another type (or, for a histogram, with other bounds),
 * or memory ran out. Errors read, e.g.:
 *   metric name "9lives" is invalid
 *   hirefire_x: labels "topic=t": expected name="value" at offset 6
 *   hirefire_x: label name "le" is reserved for histogram buckets
 *   hirefire_x is a counter, not a gauge
 *   hirefire_x: buckets must be finite and strictly increasing
 *   hirefire_x: already registered with other buckets
 */
hf_metric *hf_metrics_counter(hf_metrics *m, const char *name,
                              const char *help, const char *labels);
hf_metric *hf_metrics_gauge(hf_metrics *m, const char *name,
                            const char *help, const char *labels);
/* bounds: the upper bounds of the buckets, finite and strictly increasing
 * (1 to 64 of them); the "+Inf" bucket is implicit. Copied. */
hf_metric *hf_metrics_histogram(hf_metrics *m, const char *name,
                                const char *help, const char *labels,
                                const double *bounds, size_t n_bounds);

/* The reason of the last failed registration ("" if none). Read it on the
 * thread that registered; valid until the next registration. */
const char *hf_metrics_error(const hf_metrics *m);

/*
 * Appends the exposition text of every family to out. Returns 0, or -1 when
 * out of memory (out then holds a partial text).
 */
int hf_metrics_render(hf_metrics *m, hf_buf *out);

/*--- Updating a series (lock-free, any thread) ----------------------------*/

void hf_metric_add(hf_metric *c, uint64_t n);   /* counter or gauge: += n */
void hf_metric_set(hf_metric *g, double v);     /* gauge: = v */
void hf_metric_observe(hf_metric *h, double v); /* histogram; NaN is ignored */
void hf_metric_clear(hf_metric *g);             /* gauge: hidden until set */

/* Current value of a counter or gauge (0 for a histogram or NULL); for tests
 * and summaries. */
double hf_metric_value(const hf_metric *m);

/*
 * Builds a label string from raw name/value pairs ending with NULL, escaping
 * the values:
 *   hf_metrics_labels(buf, sizeof(buf), "topic", t, "outcome", "applied", NULL)
 *   -> topic="<t escaped>",outcome="applied"
 * Returns 0, or -1 when it does not fit n (buf then holds "").
 */
int hf_metrics_labels(char *buf, size_t n, ...)
    __attribute__((sentinel));

/* hirefire's own metric families: hf_metrics.h. */
#include "ops/hf_metrics.h"

#endif
