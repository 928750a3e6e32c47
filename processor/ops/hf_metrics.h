/*
 * hf_metrics.h - hirefire's own metrics: one function per series, which
 * registers (or finds) it in a metrics.h registry, and the reader of
 * librdkafka's statistics. metrics.h includes this header.
 */
#ifndef HF_HF_METRICS_H
#define HF_HF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ops/metrics.h"

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
