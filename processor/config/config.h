/*
 * config.h - hirefire's settings: one table of keys that gives defaults,
 * validation, --help text, the README reference and the effective dump.
 *
 * Sources, lowest precedence first:
 *   1. defaults (from the table),
 *   2. a properties file: `key=value` lines; `#` or `!` starts a comment line;
 *      blank lines are ignored; whitespace around key and value is trimmed.
 *      Only `=` separates (no `:`), no line continuations, no escapes, no
 *      inline comments (a `#` after the `=` belongs to the value). A key
 *      given twice: the later line wins.
 *   3. environment: HIREFIRE_<KEY> with `.` replaced by `_` and uppercased
 *      (HIREFIRE_OUTPUT_TOPIC for output.topic), for the FIXED keys of the
 *      table only. behaviour.*, input.topic.<topic>.type and kafka.* cannot
 *      be set from the environment (their names may contain `_` or `.`, so
 *      the mapping back would be ambiguous). Other HIREFIRE_* variables are
 *      ignored. A variable that is set but empty sets the empty value.
 *   4. `-X key=value` from the command line, in order.
 *
 * Pattern keys:
 *   behaviour.<name>.<setting>   name: [A-Za-z0-9_-]{1,63}; behaviours are
 *                                kept in order of first appearance of their
 *                                name; at most HF_MAX_BEHAVIOURS. With none
 *                                configured, hf_config_finish() adds the
 *                                default behaviour "repeat" (90 days, 2 orders).
 *   input.topic.<topic>.type     purchase|return: fixes the event type of
 *                                every event read from that topic.
 *   kafka.<property>             passed to librdkafka as-is (without the
 *                                "kafka." prefix), in order of first
 *                                appearance; a later value replaces an
 *                                earlier one in place.
 *
 * kafka.* values are checked by librdkafka (rd_kafka_conf_set on a scratch
 * configuration) when they are set, so a misspelt property fails at its line.
 * Durations (*.ms keys) take milliseconds or a unit: 500ms, 5s, 2m, 1h.
 * Booleans: true/false, yes/no, on/off, 1/0.
 *
 * Errors (errstr) name where, the key and what is wrong, e.g.
 *   config/x.properties:12: behaviour.repeat.window_days: must be an integer between 1 and 36500, got "abc"
 *   -X output.format: must be one of avro, json, got "xml"
 *   environment HIREFIRE_LOG_LEVEL: must be one of error, warn, info, debug, got "loud"
 *   config/x.properties:3: unknown key "outptu.topic" (did you mean "output.topic"?)
 *   config/x.properties:4: expected key=value, got "foo"
 *   cannot read config file "x": No such file or directory
 * main() prints errstr and exits with status 2.
 *
 * Usage:
 *   hf_config cfg;
 *   char err[512];
 *   if (hf_config_load(&cfg, path, environ, xs, nxs, err, sizeof(err)) != 0) {
 *       fprintf(stderr, "hirefire: %s\n", err);
 *       hf_config_destroy(&cfg);
 *       return 2;
 *   }
 *   ... use cfg (read-only) ...
 *   hf_config_destroy(&cfg);
 *
 * Ownership: every string and array in hf_config is owned by it and freed by
 * hf_config_destroy(). Treat the struct as read-only outside this module.
 */
#ifndef HF_CONFIG_H
#define HF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/behaviour.h"
#include "core/event.h"
#include "util/log.h"

/* Where a value came from (for hf_config_dump and error messages). */
typedef enum hf_config_origin {
    HF_ORIGIN_DEFAULT = 0,
    HF_ORIGIN_FILE = 1, /* detail: "path:LINE" */
    HF_ORIGIN_ENV = 2,  /* detail: the variable name, "HIREFIRE_LOG_LEVEL" */
    HF_ORIGIN_FLAG = 3  /* detail: unused (NULL) */
} hf_config_origin;

/* Enum settings: the values are the index of the name in the table. */
typedef enum hf_config_format {
    HF_FORMAT_AVRO = 0,
    HF_FORMAT_JSON = 1
} hf_config_format;

typedef enum hf_config_store {
    HF_STORE_AUTO = 0,   /* memory for replay, redis for run */
    HF_STORE_MEMORY = 1,
    HF_STORE_REDIS = 2
} hf_config_store;

typedef enum hf_config_guarantee {
    HF_GUARANTEE_EXACTLY_ONCE = 0,
    HF_GUARANTEE_AT_LEAST_ONCE = 1
} hf_config_guarantee;

typedef enum hf_config_log_format {
    HF_LOG_FORMAT_TEXT = 0,
    HF_LOG_FORMAT_JSON = 1
} hf_config_log_format;

/* One librdkafka property (key without the "kafka." prefix). */
typedef struct hf_config_kv {
    char *key;
    char *value;
} hf_config_kv;

/* input.topic.<topic>.type */
typedef struct hf_config_topic {
    char *topic;
    hf_event_type type;
} hf_config_topic;

struct hf_config_meta; /* private: origins and raw values, for the dump */

typedef struct hf_config {
    /* input */
    char **input_topics;          /* input.topics, split on ',' and trimmed */
    size_t n_input_topics;
    hf_config_topic *topic_types;      /* input.topic.<topic>.type */
    size_t n_topic_types;
    hf_config_format input_format;     /* input.format */
    char *input_schema_dir;            /* input.schema.dir, "" = none */
    char *schema_registry_url;         /* schema.registry.url, "" = none */
    int64_t schema_registry_timeout_ms;/* schema.registry.timeout.ms */

    /* output */
    char *output_topic;                /* output.topic */
    hf_config_format output_format;    /* output.format */
    int64_t output_schema_id;          /* output.schema.id, 0 = look up/register */
    char *dead_letter_topic;           /* dead_letter.topic */

    /* kafka.* pass-through, in order of first appearance */
    hf_config_kv *kafka;
    size_t n_kafka;

    /* state store */
    hf_config_store store_backend;     /* store.backend */
    char *redis_url;                   /* redis.url */
    char *redis_key_prefix;            /* redis.key.prefix */
    int64_t redis_buckets;             /* redis.buckets */
    int64_t redis_connect_timeout_ms;  /* redis.connect.timeout.ms */
    int64_t redis_command_timeout_ms;  /* redis.command.timeout.ms */

    /* processing */
    hf_config_guarantee processing_guarantee; /* processing.guarantee */
    int64_t commit_interval_ms;        /* commit.interval.ms */
    int64_t batch_linger_ms;           /* batch.linger.ms */
    int64_t batch_max_events;          /* batch.max.events */
    int64_t shutdown_timeout_ms;       /* shutdown.timeout.ms */

    /* operations */
    char *http_listen;                 /* http.listen, "" = off */
    hf_config_log_format log_format;   /* log.format */
    hf_log_level log_level;            /* log.level */
    bool replay_progress;              /* replay.progress */

    /* behaviours, in order of first appearance */
    hf_behaviour behaviours[HF_MAX_BEHAVIOURS];
    uint32_t nbehaviours;

    struct hf_config_meta *meta;
} hf_config;

/*
 * Sets every key to its default. No behaviours yet (see hf_config_finish).
 * Returns 0, or -1 when out of memory (cfg can still be destroyed).
 */
int hf_config_init(hf_config *cfg);

/* Frees everything cfg owns and zeroes it. Accepts NULL and a zeroed struct. */
void hf_config_destroy(hf_config *cfg);

/*
 * Sets one key. origin_detail: "path:LINE" for files, the variable name for
 * the environment, NULL otherwise. Both key and value are used as given
 * (callers trim). Returns 0, or -1 with the error in errstr.
 */
int hf_config_set(hf_config *cfg, const char *key, const char *value,
                  hf_config_origin origin, const char *origin_detail,
                  char *errstr, size_t errstr_size);

/* Reads a properties file; stops at the first error. */
int hf_config_load_file(hf_config *cfg, const char *path, char *errstr,
                        size_t errstr_size);

/* Applies HIREFIRE_<KEY> variables from envp (NULL-terminated, may be NULL). */
int hf_config_load_env(hf_config *cfg, char **envp, char *errstr,
                       size_t errstr_size);

/* Applies "key=value" overrides (-X) in order. */
int hf_config_load_overrides(hf_config *cfg, char **overrides, size_t n,
                             char *errstr, size_t errstr_size);

/*
 * Cross-checks after all sources: every behaviour sets at least one
 * threshold; input.topic.<t>.type names a topic of input.topics (when that
 * list is not empty). Adds the default behaviour when none was configured.
 */
int hf_config_finish(hf_config *cfg, char *errstr, size_t errstr_size);

/*
 * init + file (when path is not NULL) + env (when envp is not NULL) +
 * overrides + finish. Call hf_config_destroy() afterwards, also on failure.
 */
int hf_config_load(hf_config *cfg, const char *path, char **envp,
                   char **overrides, size_t n_overrides, char *errstr,
                   size_t errstr_size);

/* Returns 0 and sets *out when input.topic.<topic>.type fixes the type, -1 otherwise. */
int hf_config_topic_type(const hf_config *cfg, const char *topic,
                         hf_event_type *out);

/* Returns the value of kafka.<key> (key without the prefix), or NULL. */
const char *hf_config_kafka_get(const hf_config *cfg, const char *key);

/* The text for --help: every key with type, default, environment variable and help. */
void hf_config_print_help(FILE *fp);

/* A markdown table of every key, for the README. */
void hf_config_print_reference_markdown(FILE *fp);

/*
 * The effective settings, one `key = value  # origin` line each, origin
 * being default, file PATH:LINE, env VAR or flag -X. Secrets are masked
 * as ***: values of keys containing "password", "secret", "ssl.key.pem" or
 * "sasl.oauthbearer.config", and the password (user info) inside redis.url
 * and schema.registry.url. Behaviours come last, all five settings each.
 */
void hf_config_dump(FILE *fp, const hf_config *cfg);

#endif
