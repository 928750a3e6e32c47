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

/*--- hirefire's metrics ---------------------------------------------------*/
/*
 * The names, help texts, label sets and buckets of hirefire's own metrics,
 * in one place. Each registers (or finds) one series and returns its handle;
 * label values are raw (escaped here). NULL m gives NULL.
 */

/* hirefire_build_info{version,librdkafka,avro,jansson,microhttpd} = 1 */
hf_metric *hf_metrics_build_info(hf_metrics *m);
/* hirefire_events_total{topic,outcome}: outcome applied|invalid|duplicate|late */
hf_metric *hf_metrics_events(hf_metrics *m, const char *topic,
                             const char *outcome);
/* hirefire_signals_total{behaviour,kind,cause}: kind hire|fire,
 * cause purchase|return|expiry */
hf_metric *hf_metrics_signals(hf_metrics *m, const char *behaviour,
                              const char *kind, const char *cause);
/* hirefire_dead_letters_total{topic,reason_class}: reason_class a short,
 * bounded word (e.g. decode, invalid, schema), never the free-text reason */
hf_metric *hf_metrics_dead_letters(hf_metrics *m, const char *topic,
                                   const char *reason_class);
/* hirefire_consumer_lag{topic,partition} (messages; normally set by
 * hf_metrics_update_from_rdkafka_stats) */
hf_metric *hf_metrics_consumer_lag(hf_metrics *m, const char *topic,
                                   int32_t partition);
/* hirefire_event_time_lag_seconds{partition}: wall clock minus the event
 * time of the last applied event of that stream */
hf_metric *hf_metrics_event_time_lag(hf_metrics *m, int32_t partition);
/* hirefire_customers_cached: customers whose state is held in memory */
hf_metric *hf_metrics_customers_cached(hf_metrics *m);
/* hirefire_transactions_total{result}: result committed|aborted */
hf_metric *hf_metrics_transactions(hf_metrics *m, const char *result);
/* hirefire_rebalances_total{type}: type assign|revoke|lost */
hf_metric *hf_metrics_rebalances(hf_metrics *m, const char *type);
/* hirefire_batch_size: events per partition batch
 * (buckets 1 5 10 50 100 500 1000 5000 10000 50000) */
hf_metric *hf_metrics_batch_size(hf_metrics *m);
/* hirefire_commit_latency_seconds: one batch's commit (store + Kafka)
 * (buckets 1ms .. 10s) */
hf_metric *hf_metrics_commit_latency(hf_metrics *m);
/* hirefire_redis_call_seconds: one Redis round trip (buckets 100us .. 1s) */
hf_metric *hf_metrics_redis_call(hf_metrics *m);

/*
 * Reads librdkafka's statistics JSON (the stats_cb payload; enable it with
 * kafka.statistics.interval.ms) and sets hirefire_consumer_lag{topic,
 * partition} from topics.<t>.partitions.<p>.consumer_lag. The internal
 * partition -1 is skipped; a lag of -1 (unknown, e.g. a partition no longer
 * assigned) clears that series. Returns the number of series set, or -1 when
 * json is not a JSON object with a "topics" object (nothing is changed then).
 * json need not be NUL-terminated.
 */
int hf_metrics_update_from_rdkafka_stats(hf_metrics *m, const char *json,
                                         size_t len);

#endif
