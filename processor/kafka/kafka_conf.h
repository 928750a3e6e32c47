/*
 * kafka_conf.h - builds a librdkafka configuration from hirefire's settings:
 * the command's own defaults, then every kafka.<property> of the config in
 * order, then the properties the command must own.
 *
 * Error texts name the key as the user wrote it, e.g.
 *   kafka.fetch.max.bytes: Configuration property "fetch.max.bytes" value 0 is outside allowed range 1..2147483135
 *   kafka.enable.auto.commit: must be "false" here (hirefire commits offsets itself), got "true"
 */
#ifndef HF_KAFKA_CONF_H
#define HF_KAFKA_CONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "config/config.h"

typedef enum hf_kafka_mode {
    HF_KAFKA_DEFAULT = 0,  /* set before the user's kafka.* (they win) */
    HF_KAFKA_OVERRIDE = 1, /* set after them (e.g. --brokers wins) */
    HF_KAFKA_REQUIRED = 2  /* set after them; a different user value is an error */
} hf_kafka_mode;

typedef struct hf_kafka_setting {
    const char *key;   /* librdkafka property, without "kafka." */
    const char *value;
    hf_kafka_mode mode;
    const char *why;   /* REQUIRED: the reason shown in the error text */
} hf_kafka_setting;

/*
 * A new configuration: settings[] (n of them) and cfg's kafka.* keys, with
 * librdkafka's log lines routed to hf_log (component "kafka"). cfg may be
 * NULL (settings only). Returns the configuration (the caller owns it, or
 * hands it to rd_kafka_new), or NULL with errstr.
 */
rd_kafka_conf_t *hf_kafka_conf_new(const hf_config *cfg,
                                   const hf_kafka_setting *settings, size_t n,
                                   char *errstr, size_t errstr_size);

/*
 * As hf_kafka_conf_new, for a consumer: the defaults that every consumer of
 * hirefire's has (its read-ahead) come first, then settings[] (which win over
 * them), then cfg's kafka.* keys.
 */
rd_kafka_conf_t *hf_kafka_consumer_conf_new(const hf_config *cfg,
                                            const hf_kafka_setting *settings, size_t n,
                                            char *errstr, size_t errstr_size);

/*
 * The value a built configuration holds for key, copied into buf; "" when
 * unset or unknown. For checks like "is bootstrap.servers set".
 */
const char *hf_kafka_conf_get(const rd_kafka_conf_t *conf, const char *key,
                              char *buf, size_t buf_size);

#endif
