/*
 * config_table.c - the settings table: every configuration key with its
 * type, default, range, check and description. The description is the
 * --help text and the README's configuration reference (hirefire validate
 * --reference), so it says what the setting does, for an operator.
 */
#include "config/config_int.h"

#include <stddef.h>
#include <stdint.h>

static const char *const formats[] = {"avro", "json", NULL};
static const char *const event_types[] = {"purchase", "return", NULL};
static const char *const stores[] = {"auto", "memory", "redis", NULL};
static const char *const guarantees[] = {"exactly_once", "at_least_once", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

#define CFG(field) offsetof(hf_config, field)
#define BEH(field) offsetof(hf_behaviour, field)

const key_def hf_config_keys[] = {
    /* input */
    {.key = "input.topics", .kind = K_FIXED, .type = V_LIST, .def = "",
     .off = CFG(input_topics), .count_off = CFG(n_input_topics),
     .check = hf_config_check_topic,
     .help = "Comma-separated Kafka topics to consume (run and Kafka replay). "
             "They must be co-partitioned and keyed by customer_id."},
    {.key = "input.topic.<topic>.type", .kind = K_TOPIC_TYPE, .type = V_ENUM,
     .names = event_types,
     .help = "Fixes the event type of every event read from <topic> "
             "(a topic that carries only purchases or only returns)."},
    {.key = "input.format", .kind = K_FIXED, .type = V_ENUM, .def = "avro",
     .names = formats, .off = CFG(input_format),
     .help = "Encoding of input events: Confluent-framed Avro, or JSON "
             "objects (one per message or file line)."},
    {.key = "input.schema.dir", .kind = K_FIXED, .type = V_STRING, .def = "",
     .off = CFG(input_schema_dir),
     .help = "Directory of local Avro writer schemas, used instead of the "
             "schema registry; empty = none."},
    {.key = "schema.registry.url", .kind = K_FIXED, .type = V_STRING,
     .def = "", .off = CFG(schema_registry_url), .check = hf_config_check_url_http,
     .flags = F_URL,
     .help = "Schema registry base URL, e.g. http://127.0.0.1:8081; "
             "empty = none."},
    {.key = "schema.registry.timeout.ms", .kind = K_FIXED, .type = V_DURATION,
     .def = "5000", .min = 1, .max = HOUR_MS,
     .off = CFG(schema_registry_timeout_ms),
     .help = "Timeout of one schema registry request."},
    /* output */
    {.key = "output.topic", .kind = K_FIXED, .type = V_STRING,
     .def = "hirefire.signals", .off = CFG(output_topic),
     .check = hf_config_check_topic,
     .help = "Topic that receives the hire/fire signals."},
    {.key = "output.format", .kind = K_FIXED, .type = V_ENUM, .def = "avro",
     .names = formats, .off = CFG(output_format),
     .help = "Encoding of signals: Confluent-framed Avro or JSON."},
    {.key = "output.schema.id", .kind = K_FIXED, .type = V_INT, .def = "0",
     .min = 0, .max = INT32_MAX, .off = CFG(output_schema_id),
     .help = "Registry id of the signal schema; 0 = look it up (registering "
             "it if needed) under the subject <output.topic>-value."},
    {.key = "dead_letter.topic", .kind = K_FIXED, .type = V_STRING,
     .def = "hirefire.dead-letter", .off = CFG(dead_letter_topic),
     .check = hf_config_check_topic,
     .help = "Topic for invalid input events (original bytes, the reason "
             "in message headers)."},
    /* kafka */
    {.key = "kafka.<property>", .kind = K_KAFKA, .type = V_STRING,
     .help = "Any librdkafka property, passed through as-is without the "
             "\"kafka.\" prefix (e.g. kafka.bootstrap.servers, "
             "kafka.group.id). Not settable from the environment."},
    /* state store */
    {.key = "store.backend", .kind = K_FIXED, .type = V_ENUM, .def = "auto",
     .names = stores, .off = CFG(store_backend),
     .help = "Where customer state lives: auto = memory for replay, redis "
             "for run."},
    {.key = "redis.url", .kind = K_FIXED, .type = V_STRING,
     .def = "redis://127.0.0.1:6379/0", .off = CFG(redis_url),
     .check = hf_config_check_url_redis, .flags = F_URL,
     .help = "Redis server: redis://[[user]:password@]host[:port][/db] or "
             "unix:///path/to/redis.sock."},
    {.key = "redis.key.prefix", .kind = K_FIXED, .type = V_STRING, .def = "hf",
     .off = CFG(redis_key_prefix), .check = hf_config_check_key_prefix,
     .help = "Prefix of every Redis key, so that several deployments can "
             "share one Redis."},
    {.key = "redis.buckets", .kind = K_FIXED, .type = V_INT, .def = "1024",
     .min = 1, .max = 1048576, .off = CFG(redis_buckets),
     .check = hf_config_check_power_of_two,
     .help = "Hashes that hold a new partition's customers at first (a "
             "power of two). Commits split them as customers arrive, so "
             "that each holds 48-96 and stays a compact listpack (Redis' "
             "hash-max-listpack-entries, 128 by default)."},
    {.key = "redis.connect.timeout.ms", .kind = K_FIXED, .type = V_DURATION,
     .def = "2000", .min = 1, .max = HOUR_MS,
     .off = CFG(redis_connect_timeout_ms),
     .help = "Timeout for connecting to Redis."},
    {.key = "redis.command.timeout.ms", .kind = K_FIXED, .type = V_DURATION,
     .def = "5000", .min = 1, .max = HOUR_MS,
     .off = CFG(redis_command_timeout_ms),
     .help = "Timeout of one Redis command, script or transaction reply."},
    /* processing */
    {.key = "processing.guarantee", .kind = K_FIXED, .type = V_ENUM,
     .def = "exactly_once", .names = guarantees,
     .off = CFG(processing_guarantee),
     .help = "exactly_once: Kafka transactions with the input offsets; "
             "at_least_once: idempotent producer, no transactions (signal "
             "ids stay deterministic)."},
    {.key = "commit.interval.ms", .kind = K_FIXED, .type = V_DURATION,
     .def = "100", .min = 1, .max = HOUR_MS, .off = CFG(commit_interval_ms),
     .help = "Longest time a batch takes messages while more keep arriving "
             "(live mode; with Redis every batch is a commit); with the "
             "memory store, also how often offsets are committed."},
    {.key = "batch.linger.ms", .kind = K_FIXED, .type = V_DURATION,
     .def = "0", .min = 0, .max = HOUR_MS, .off = CFG(batch_linger_ms),
     .help = "How long a batch waits for messages not fetched yet (live "
             "mode), from the later of the last batch's close and its first "
             "message's arrival: 0 takes what is fetched, so batches grow "
             "with the load and an event waits for one batch at most; more "
             "gives fewer, larger transactions at low rates."},
    {.key = "batch.max.events", .kind = K_FIXED, .type = V_INT, .def = "250000",
     .min = 1, .max = 10000000, .off = CFG(batch_max_events),
     .help = "Most events in one batch (of all assigned partitions). "
             "Larger batches catch up faster: fewer transactions, and a "
             "customer with several events in a batch is written to Redis "
             "once; but each partition's batch is one Redis transaction, "
             "which holds Redis for a time proportional to the customers it "
             "changes."},
    {.key = "shutdown.timeout.ms", .kind = K_FIXED, .type = V_DURATION,
     .def = "10000", .min = 0, .max = HOUR_MS, .off = CFG(shutdown_timeout_ms),
     .help = "On SIGINT/SIGTERM, how long to wait for the open batch and "
             "in-flight signals before exiting."},
    /* operations */
    {.key = "http.listen", .kind = K_FIXED, .type = V_STRING,
     .def = "127.0.0.1:9464", .off = CFG(http_listen), .check = hf_config_check_listen,
     .help = "HOST:PORT of the /metrics, /healthz and /readyz endpoint "
             "(port 0 = any free port); empty = off."},
    {.key = "log.format", .kind = K_FIXED, .type = V_ENUM, .def = "text",
     .names = log_formats, .off = CFG(log_format),
     .help = "Log lines on stderr as text or as one JSON object per line."},
    {.key = "log.level", .kind = K_FIXED, .type = V_ENUM, .def = "info",
     .names = log_levels, .off = CFG(log_level),
     .help = "Least severe level that is logged."},
    {.key = "replay.progress", .kind = K_FIXED, .type = V_BOOL, .def = "true",
     .off = CFG(replay_progress),
     .help = "Show a progress line during replay when stderr is a terminal."},
    /* behaviours */
    {.key = "behaviour.<name>.window_days", .kind = K_BEHAVIOUR,
     .type = V_DAYS, .def = "90", .min = 1, .max = 36500,
     .off = BEH(window_days),
     .help = "Days of history that count for behaviour <name> "
             "([A-Za-z0-9_-]{1,63}; at most 32 behaviours; with none "
             "configured: \"repeat\" with the defaults)."},
    {.key = "behaviour.<name>.min_orders", .kind = K_BEHAVIOUR,
     .type = V_INT_OFF, .def = "2", .min = 0, .off = BEH(min_orders),
     .has_off = BEH(has_min_orders),
     .help = "Purchases in the window, at least."},
    {.key = "behaviour.<name>.min_items", .kind = K_BEHAVIOUR,
     .type = V_INT_OFF, .def = "off", .min = 0, .off = BEH(min_items),
     .has_off = BEH(has_min_items),
     .help = "Items purchased in the window, at least."},
    {.key = "behaviour.<name>.min_net_minor", .kind = K_BEHAVIOUR,
     .type = V_INT_OFF, .def = "off", .min = INT64_MIN,
     .off = BEH(min_net_minor), .has_off = BEH(has_min_net_minor),
     .help = "Net money (purchases minus returns, minor units) in the "
             "window, at least; may be negative."},
    {.key = "behaviour.<name>.max_return_ratio", .kind = K_BEHAVIOUR,
     .type = V_DOUBLE_OFF, .def = "off", .off = BEH(max_return_ratio),
     .has_off = BEH(has_max_return_ratio),
     .help = "Returned money / purchased money in the window, at most."},
};

_Static_assert(sizeof(hf_config_keys) / sizeof(hf_config_keys[0]) == N_KEYS,
               "N_KEYS counts the table");
_Static_assert(sizeof(hf_config_format) == sizeof(int), "enum size");
_Static_assert(sizeof(hf_log_level) == sizeof(int), "enum size");
