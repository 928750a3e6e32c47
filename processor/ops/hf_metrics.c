/*
 * hf_metrics.c - hirefire's own metric families (names, help texts, label
 * sets and buckets in one place) and the librdkafka statistics parser that
 * sets the consumer lag family.
 */
#include "ops/hf_metrics.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <microhttpd.h>

#include "ops/metrics_int.h"

#ifndef HF_VERSION
#define HF_VERSION "unknown"
#endif
#ifndef HF_AVRO_VERSION
#define HF_AVRO_VERSION "unknown"
#endif

/*--- hirefire's metrics -------------------------------------------------------*/

#define LABELS_MAX 1024

static const double batch_bounds[] = {1, 5, 10, 50, 100, 500, 1000, 5000,
                                      10000, 50000};
static const double commit_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                       0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const double redis_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};

hf_metric *hf_metrics_build_info(hf_metrics *m)
{
    char labels[LABELS_MAX];
    if (hf_metrics_labels(labels, sizeof(labels), "version", HF_VERSION,
                          "librdkafka", rd_kafka_version_str(),
                          "avro", HF_AVRO_VERSION,
                          "jansson", JANSSON_VERSION,
                          "microhttpd", MHD_get_version(), NULL) != 0)
        return NULL;
    hf_metric *g = hf_metrics_gauge(m, "hirefire_build_info",
        "Versions of hirefire and its libraries; always 1.", labels);
    hf_metric_set(g, 1);
    return g;
}

hf_metric *hf_metrics_events(hf_metrics *m, const char *topic,
                             const char *outcome)
{
    char labels[LABELS_MAX];
    if (hf_metrics_labels(labels, sizeof(labels), "topic", topic, "outcome",
                          outcome, NULL) != 0)
        return NULL;
    return hf_metrics_counter(m, "hirefire_events_total",
        "Input events by topic and outcome "
        "(applied, invalid, duplicate, late).", labels);
}

hf_metric *hf_metrics_signals(hf_metrics *m, const char *behaviour,
                              const char *kind_, const char *cause)
{
    char labels[LABELS_MAX];
    if (hf_metrics_labels(labels, sizeof(labels), "behaviour", behaviour,
                          "kind", kind_, "cause", cause, NULL) != 0)
        return NULL;
    return hf_metrics_counter(m, "hirefire_signals_total",
        "Hire/fire signals emitted, by behaviour, kind and cause.", labels);
}

hf_metric *hf_metrics_dead_letters(hf_metrics *m, const char *topic,
                                   const char *reason_class)
{
    char labels[LABELS_MAX];
    if (hf_metrics_labels(labels, sizeof(labels), "topic", topic,
                          "reason_class", reason_class, NULL) != 0)
        return NULL;
    return hf_metrics_counter(m, "hirefire_dead_letters_total",
        "Input messages sent to the dead-letter topic, by source topic and "
        "class of reason.", labels);
}

static hf_metric *consumer_lag(hf_metrics *m, const char *topic,
                               int32_t partition, bool create)
{
    char labels[LABELS_MAX], p[16];
    snprintf(p, sizeof(p), "%d", (int)partition);
    if (m == NULL || hf_metrics_labels(labels, sizeof(labels), "topic", topic,
                                       "partition", p, NULL) != 0)
        return NULL;
    static const char name[] = "hirefire_consumer_lag";
    if (create)
        return hf_metrics_gauge(m, name,
            "Messages between the consumer's position and the partition's "
            "high watermark (from librdkafka statistics).", labels);
    return hf_metrics_find(m, name, labels);
}

hf_metric *hf_metrics_consumer_lag(hf_metrics *m, const char *topic,
                                   int32_t partition)
{
    return consumer_lag(m, topic, partition, true);
}

hf_metric *hf_metrics_event_time_lag(hf_metrics *m, int32_t partition)
{
    char labels[64], p[16];
    snprintf(p, sizeof(p), "%d", (int)partition);
    if (hf_metrics_labels(labels, sizeof(labels), "partition", p, NULL) != 0)
        return NULL;
    return hf_metrics_gauge(m, "hirefire_event_time_lag_seconds",
        "Wall clock minus the event time of the last applied event, per "
        "stream (partition number).", labels);
}

hf_metric *hf_metrics_customers_cached(hf_metrics *m)
{
    return hf_metrics_gauge(m, "hirefire_customers_cached",
        "Customers whose state is held in memory.", NULL);
}

hf_metric *hf_metrics_transactions(hf_metrics *m, const char *result)
{
    char labels[LABELS_MAX];
    if (hf_metrics_labels(labels, sizeof(labels), "result", result, NULL) != 0)
        return NULL;
    return hf_metrics_counter(m, "hirefire_transactions_total",
        "Kafka transactions by result (committed, aborted).", labels);
}

hf_metric *hf_metrics_rebalances(hf_metrics *m, const char *type)
{
    char labels[LABELS_MAX];
    if (hf_metrics_labels(labels, sizeof(labels), "type", type, NULL) != 0)
        return NULL;
    return hf_metrics_counter(m, "hirefire_rebalances_total",
        "Consumer group rebalance events by type (assign, revoke, lost).",
        labels);
}

hf_metric *hf_metrics_batch_size(hf_metrics *m)
{
    return hf_metrics_histogram(m, "hirefire_batch_size",
        "Events per partition batch.", NULL, batch_bounds,
        sizeof(batch_bounds) / sizeof(batch_bounds[0]));
}

hf_metric *hf_metrics_commit_latency(hf_metrics *m)
{
    return hf_metrics_histogram(m, "hirefire_commit_latency_seconds",
        "Time to commit one partition batch (state store and Kafka).", NULL,
        commit_bounds, sizeof(commit_bounds) / sizeof(commit_bounds[0]));
}

hf_metric *hf_metrics_redis_call(hf_metrics *m)
{
    return hf_metrics_histogram(m, "hirefire_redis_call_seconds",
        "Time of one Redis round trip.", NULL, redis_bounds,
        sizeof(redis_bounds) / sizeof(redis_bounds[0]));
}

/*--- librdkafka statistics ----------------------------------------------------*/

/* "12" -> 12; anything but a decimal int32 fails. */
static int parse_partition(const char *s, int32_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < -1 || v > INT32_MAX)
        return -1;
    *out = (int32_t)v;
    return 0;
}

int hf_metrics_update_from_rdkafka_stats(hf_metrics *m, const char *json,
                                         size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    json_t *topics = root ? json_object_get(root, "topics") : NULL;
    if (!json_is_object(topics)) {
        json_decref(root);
        return -1;
    }
    int set = 0;
    const char *topic, *pkey;
    json_t *t, *pv;
    json_object_foreach(topics, topic, t) {
        json_t *parts = json_object_get(t, "partitions");
        if (!json_is_object(parts))
            continue;
        json_object_foreach(parts, pkey, pv) {
            int32_t p;
            json_t *lag = json_object_get(pv, "consumer_lag");
            if (parse_partition(pkey, &p) != 0 || p < 0 || !json_is_integer(lag))
                continue;
            json_int_t v = json_integer_value(lag);
            if (v < 0) {
                hf_metric_clear(consumer_lag(m, topic, p, false));
                continue;
            }
            hf_metric *g = consumer_lag(m, topic, p, true);
            if (g != NULL) {
                hf_metric_set(g, (double)v);
                set++;
            }
        }
    }
    json_decref(root);
    return set;
}
