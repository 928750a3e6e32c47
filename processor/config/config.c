/*
 * config.c - the settings table and everything derived from it: defaults,
 * parsing and validation of values, properties files, environment and -X
 * overrides, --help text, the README reference and the effective dump.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

/*--- The table ------------------------------------------------------------*/

typedef enum key_kind {
    K_FIXED,      /* one field of hf_config */
    K_TOPIC_TYPE, /* input.topic.<topic>.type */
    K_KAFKA,      /* kafka.<property> */
    K_BEHAVIOUR   /* behaviour.<name>.<setting>: a field of hf_behaviour */
} key_kind;

typedef enum value_type {
    V_STRING,    /* char *, optional check */
    V_LIST,      /* char ** + size_t count, comma-separated, check per item */
    V_INT,       /* int64_t in [min, max] */
    V_DAYS,      /* int32_t in [min, max] */
    V_DURATION,  /* int64_t milliseconds in [min, max]; units ms, s, m, h */
    V_BOOL,      /* bool */
    V_ENUM,      /* an enum (int-sized), index into names */
    V_INT_OFF,   /* int64_t >= min, or "off" (bool at has_off) */
    V_DOUBLE_OFF /* double >= 0, or "off" (bool at has_off) */
} value_type;

/* Checks a string value; on failure writes "must be ..." into why. */
typedef int (*check_fn)(const char *value, char *why, size_t why_size);

#define F_URL 0x1u /* mask the password inside the URL in the dump */

typedef struct key_def {
    const char *key; /* the key, or its pattern ("behaviour.<name>.window_days") */
    key_kind kind;
    value_type type;
    const char *def; /* default as text, NULL for kafka.* / input.topic.* */
    int64_t min, max;
    const char *const *names; /* V_ENUM, NULL-terminated */
    size_t off;               /* in hf_config (K_FIXED) or hf_behaviour */
    size_t count_off;         /* V_LIST: the size_t count in hf_config */
    size_t has_off;           /* V_*_OFF: the bool in hf_behaviour */
    check_fn check;
    unsigned flags;
    const char *help;
} key_def;

static int check_topic(const char *v, char *why, size_t n);
static int check_url_http(const char *v, char *why, size_t n);
static int check_url_redis(const char *v, char *why, size_t n);
static int check_key_prefix(const char *v, char *why, size_t n);
static int check_listen(const char *v, char *why, size_t n);
static int check_power_of_two(const char *v, char *why, size_t n);

static const char *const formats[] = {"avro", "json", NULL};
static const char *const event_types[] = {"purchase", "return", NULL};
static const char *const stores[] = {"auto", "memory", "redis", NULL};
static const char *const guarantees[] = {"exactly_once", "at_least_once", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

#define HOUR_MS 3600000LL
#define CFG(field) offsetof(hf_config, field)
#define BEH(field) offsetof(hf_behaviour, field)

static const key_def table[] = {
    /* input */
    {.key = "input.topics", .kind = K_FIXED, .type = V_LIST, .def = "",
     .off = CFG(input_topics), .count_off = CFG(n_input_topics),
     .check = check_topic,
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
     .def = "", .off = CFG(schema_registry_url), .check = check_url_http,
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
     .check = check_topic, .help = "Topic that receives the hire/fire signals."},
    {.key = "output.format", .kind = K_FIXED, .type = V_ENUM, .def = "avro",
     .names = formats, .off = CFG(output_format),
     .help = "Encoding of signals: Confluent-framed Avro or JSON."},
    {.key = "output.schema.id", .kind = K_FIXED, .type = V_INT, .def = "0",
     .min = 0, .max = INT32_MAX, .off = CFG(output_schema_id),
     .help = "Registry id of the signal schema; 0 = look it up (registering "
             "it if needed) under the subject <output.topic>-value."},
    {.key = "dead_letter.topic", .kind = K_FIXED, .type = V_STRING,
     .def = "hirefire.dead-letter", .off = CFG(dead_letter_topic),
     .check = check_topic,
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
     .check = check_url_redis, .flags = F_URL,
     .help = "Redis server: redis://[[user]:password@]host[:port][/db] or "
             "unix:///path/to/redis.sock."},
    {.key = "redis.key.prefix", .kind = K_FIXED, .type = V_STRING, .def = "hf",
     .off = CFG(redis_key_prefix), .check = check_key_prefix,
     .help = "Prefix of every Redis key, so that several deployments can "
             "share one Redis."},
    {.key = "redis.buckets", .kind = K_FIXED, .type = V_INT, .def = "1024",
     .min = 1, .max = 1048576, .off = CFG(redis_buckets), .check = check_power_of_two,
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
             "which holds Redis for ~0.5-1 us per changed customer."},
    {.key = "shutdown.timeout.ms", .kind = K_FIXED, .type = V_DURATION,
     .def = "10000", .min = 0, .max = HOUR_MS, .off = CFG(shutdown_timeout_ms),
     .help = "On SIGINT/SIGTERM, how long to wait for the open batch and "
             "in-flight signals before exiting."},
    /* operations */
    {.key = "http.listen", .kind = K_FIXED, .type = V_STRING,
     .def = "127.0.0.1:9464", .off = CFG(http_listen), .check = check_listen,
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

#define N_KEYS (sizeof(table) / sizeof(table[0]))
#define N_BEH_KEYS 5 /* the K_BEHAVIOUR entries, last in the table */
#define FIRST_BEH_KEY (N_KEYS - N_BEH_KEYS)

_Static_assert(sizeof(hf_config_format) == sizeof(int), "enum size");
_Static_assert(sizeof(hf_log_level) == sizeof(int), "enum size");

/*--- Where values came from -----------------------------------------------*/

typedef struct source {
    hf_config_origin origin;
    char *detail; /* owned, may be NULL */
    char *raw;    /* owned, the value as given; NULL = default */
} source;

struct hf_config_meta {
    source fixed[N_KEYS];                         /* by table index */
    source beh[HF_MAX_BEHAVIOURS][N_BEH_KEYS];
    source *kafka;                                /* parallel to cfg->kafka */
    source *topics;                               /* parallel to cfg->topic_types */
    size_t kafka_cap, topics_cap;
};

static void source_clear(source *s)
{
    free(s->detail);
    free(s->raw);
    memset(s, 0, sizeof(*s));
}

static int source_set(source *s, hf_config_origin origin, const char *detail,
                      const char *raw)
{
    char *d = detail ? strdup(detail) : NULL;
    char *r = raw ? strdup(raw) : NULL;
    if ((detail && !d) || (raw && !r)) {
        free(d);
        free(r);
        return -1;
    }
    source_clear(s);
    s->origin = origin;
    s->detail = d;
    s->raw = r;
    return 0;
}

/*--- Small helpers --------------------------------------------------------*/

static void fail(char *errstr, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *errstr, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (!errstr || n == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errstr, n, fmt, ap);
    va_end(ap);
}

/* "path:12: key: ", "environment VAR: ", "-X key: " or "key: ". */
static void where(char *buf, size_t n, hf_config_origin origin,
                  const char *detail, const char *key)
{
    switch (origin) {
    case HF_ORIGIN_FILE:
        snprintf(buf, n, "%s: %s: ", detail ? detail : "?", key);
        break;
    case HF_ORIGIN_ENV:
        snprintf(buf, n, "environment %s: ", detail ? detail : key);
        break;
    case HF_ORIGIN_FLAG:
        snprintf(buf, n, "-X %s: ", key);
        break;
    default:
        snprintf(buf, n, "%s: ", key);
        break;
    }
}

static char *trim(char *s)
{
    char *end;
    while (*s && isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return s;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    long long v;
    if (*s == '\0' || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    double v;
    if (*s == '\0' || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* "500", "500ms", "5s", "2m", "1h" -> milliseconds. */
static int parse_duration(const char *s, int64_t *out)
{
    char *end;
    long long v, mult = 1;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0)
        return -1;
    if (*end == '\0' || strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = HOUR_MS;
    else
        return -1;
    if (v > LLONG_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* 3600000 -> "1h", 1000 -> "1s", 1 -> "1ms". */
static void format_duration(char *buf, size_t n, int64_t ms)
{
    if (ms != 0 && ms % HOUR_MS == 0)
        snprintf(buf, n, "%lldh", (long long)(ms / HOUR_MS));
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(buf, n, "%lldm", (long long)(ms / 60000));
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(buf, n, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, n, "%lldms", (long long)ms);
}

static void join_names(char *buf, size_t n, const char *const *names,
                       const char *sep)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i]; i++) {
        int w = snprintf(buf + used, n - used, "%s%s", i ? sep : "", names[i]);
        if (w < 0 || (size_t)w >= n - used)
            return;
        used += (size_t)w;
    }
}

/*--- String checks --------------------------------------------------------*/

#define TOPIC_RULE "a Kafka topic name (1-249 of A-Z a-z 0-9 . _ -)"

static bool is_topic(const char *v)
{
    size_t len = strlen(v);
    if (len == 0 || len > 249 || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
        return false;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

static int check_topic(const char *v, char *why, size_t n)
{
    if (is_topic(v))
        return 0;
    snprintf(why, n, "must be " TOPIC_RULE);
    return -1;
}

static int check_url_http(const char *v, char *why, size_t n)
{
    if (*v == '\0' ||
        (starts_with(v, "http://") && v[7] != '\0') ||
        (starts_with(v, "https://") && v[8] != '\0'))
        return 0;
    snprintf(why, n, "must be an http:// or https:// URL or empty");
    return -1;
}

static int check_url_redis(const char *v, char *why, size_t n)
{
    if ((starts_with(v, "redis://") && v[8] != '\0') ||
        (starts_with(v, "unix://") && v[7] != '\0'))
        return 0;
    snprintf(why, n, "must be a redis:// or unix:// URL");
    return -1;
}

static int check_key_prefix(const char *v, char *why, size_t n)
{
    size_t len = strlen(v);
    bool ok = len >= 1 && len <= 64;
    for (const char *p = v; ok && *p; p++)
        if (isspace((unsigned char)*p) || *p == '{' || *p == '}')
            ok = false;
    if (ok)
        return 0;
    snprintf(why, n, "must be 1-64 characters without spaces, '{' or '}'");
    return -1;
}

/* For integers already checked to be in range. */
static int check_power_of_two(const char *v, char *why, size_t n)
{
    int64_t i;
    if (parse_int(v, &i) == 0 && i > 0 && (i & (i - 1)) == 0)
        return 0;
    snprintf(why, n, "must be a power of two (1, 2, 4, ..., 1048576)");
    return -1;
}

static int check_listen(const char *v, char *why, size_t n)
{
    const char *colon = strrchr(v, ':');
    int64_t port;
    if (*v == '\0')
        return 0;
    if (colon && colon != v && parse_int(colon + 1, &port) == 0 &&
        isdigit((unsigned char)colon[1]) && port >= 0 && port <= 65535)
        return 0;
    snprintf(why, n, "must be HOST:PORT (port 0-65535) or empty");
    return -1;
}

static bool is_behaviour_name(const char *s, size_t len)
{
    if (len < 1 || len >= HF_BEHAVIOUR_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/*--- Values ---------------------------------------------------------------*/

/*
 * Parses value for entry d and, when base is not NULL, stores it into the
 * struct at base (hf_config for K_FIXED, hf_behaviour for K_BEHAVIOUR).
 * On failure writes "must be ..., got "value"" into why.
 */
static int store_value(const key_def *d, const char *value, void *base,
                       char *why, size_t n)
{
    char *p = base ? (char *)base + d->off : NULL;
    char buf[256];
    int64_t i;
    double x;
    bool b;

    switch (d->type) {
    case V_STRING: {
        char *copy;
        if (d->check && d->check(value, buf, sizeof(buf)) != 0)
            goto bad;
        if (!p)
            return 0;
        if (!(copy = strdup(value)))
            goto oom;
        free(*(char **)p);
        *(char **)p = copy;
        return 0;
    }
    case V_LIST: {
        char *work = strdup(value), *save = NULL, *tok;
        char **items = NULL;
        size_t count = 0;
        bool ok = true;
        if (!work)
            goto oom;
        if (*trim(work) != '\0') {
            items = calloc(strlen(value) + 1, sizeof(char *));
            if (!items) {
                free(work);
                goto oom;
            }
            /* strtok_r would skip empty items; split by hand. */
            for (tok = work; ok; tok = save + 1) {
                save = strchr(tok, ',');
                if (save)
                    *save = '\0';
                tok = trim(tok);
                if (d->check && d->check(tok, buf, sizeof(buf)) != 0)
                    ok = false;
                else if (!(items[count++] = strdup(tok))) {
                    ok = false;
                    buf[0] = '\0'; /* out of memory */
                }
                if (!save)
                    break;
            }
        }
        free(work);
        if (!ok || !p) {
            for (size_t k = 0; k < count; k++)
                free(items[k]);
            free(items);
            if (!ok) {
                if (buf[0] == '\0')
                    goto oom;
                snprintf(buf, sizeof(buf),
                         "must be a comma-separated list of Kafka topic names "
                         "(1-249 of A-Z a-z 0-9 . _ -)");
                goto bad;
            }
            return 0;
        }
        {
            char **old = *(char ***)p;
            size_t *oldn = (size_t *)((char *)base + d->count_off);
            for (size_t k = 0; k < *oldn; k++)
                free(old[k]);
            free(old);
            *(char ***)p = items;
            *oldn = count;
        }
        return 0;
    }
    case V_INT:
    case V_DAYS:
        if (parse_int(value, &i) != 0 || i < d->min || i > d->max) {
            if (d->max == INT64_MAX)
                snprintf(buf, sizeof(buf), "must be an integer >= %lld",
                         (long long)d->min);
            else
                snprintf(buf, sizeof(buf),
                         "must be an integer between %lld and %lld",
                         (long long)d->min, (long long)d->max);
            goto bad;
        }
        if (d->check && d->check(value, buf, sizeof(buf)) != 0)
            goto bad;
        if (p && d->type == V_INT)
            *(int64_t *)p = i;
        else if (p)
            *(int32_t *)p = (int32_t)i;
        return 0;
    case V_DURATION:
        if (parse_duration(value, &i) != 0 || i < d->min || i > d->max) {
            char lo[32], hi[32];
            format_duration(lo, sizeof(lo), d->min);
            format_duration(hi, sizeof(hi), d->max);
            snprintf(buf, sizeof(buf),
                     "must be a duration between %s and %s "
                     "(milliseconds, or with a unit: 500ms, 5s, 2m, 1h)",
                     lo, hi);
            goto bad;
        }
        if (p)
            *(int64_t *)p = i;
        return 0;
    case V_BOOL:
        if (parse_bool(value, &b) != 0) {
            snprintf(buf, sizeof(buf), "must be true or false");
            goto bad;
        }
        if (p)
            *(bool *)p = b;
        return 0;
    case V_ENUM:
        for (size_t k = 0; d->names[k]; k++) {
            if (strcmp(value, d->names[k]) == 0) {
                if (p)
                    *(int *)p = (int)k;
                return 0;
            }
        }
        {
            char names[128];
            join_names(names, sizeof(names), d->names, ", ");
            snprintf(buf, sizeof(buf), "must be one of %s", names);
        }
        goto bad;
    case V_INT_OFF:
        if (strcmp(value, "off") == 0) {
            if (p) {
                *(bool *)((char *)base + d->has_off) = false;
                *(int64_t *)p = 0;
            }
            return 0;
        }
        if (parse_int(value, &i) != 0 || i < d->min) {
            if (d->min == INT64_MIN)
                snprintf(buf, sizeof(buf), "must be an integer or off");
            else
                snprintf(buf, sizeof(buf), "must be an integer >= %lld or off",
                         (long long)d->min);
            goto bad;
        }
        if (p) {
            *(bool *)((char *)base + d->has_off) = true;
            *(int64_t *)p = i;
        }
        return 0;
    case V_DOUBLE_OFF:
        if (strcmp(value, "off") == 0) {
            if (p) {
                *(bool *)((char *)base + d->has_off) = false;
                *(double *)p = 0;
            }
            return 0;
        }
        if (parse_double(value, &x) != 0 || x < 0) {
            snprintf(buf, sizeof(buf), "must be a number >= 0 or off");
            goto bad;
        }
        if (p) {
            *(bool *)((char *)base + d->has_off) = true;
            *(double *)p = x;
        }
        return 0;
    }
    snprintf(buf, sizeof(buf), "unsupported type");
bad:
    snprintf(why, n, "%s, got \"%s\"", buf, value);
    return -1;
oom:
    snprintf(why, n, "out of memory");
    return -1;
}

/*--- Unknown keys: a near miss --------------------------------------------*/

/* Optimal string alignment distance (a transposition counts 1). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][129];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    if (la > 128 || lb > 128)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *t;
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (prev[j - 1] + cost < v)
                v = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
        }
        t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

static void consider(const char *key, const char *candidate, char *best,
                     size_t best_size, size_t *best_dist)
{
    size_t dist = edit_distance(key, candidate);
    if (dist < *best_dist) {
        *best_dist = dist;
        snprintf(best, best_size, "%s", candidate);
    }
}

/* Writes the closest known key within 2 edits into best, or "". */
static void suggest(const char *key, char *best, size_t best_size)
{
    size_t best_dist = 3;
    const char *first = strchr(key, '.'), *last = strrchr(key, '.');
    best[0] = '\0';
    for (size_t k = 0; k < N_KEYS; k++)
        if (table[k].kind == K_FIXED)
            consider(key, table[k].key, best, best_size, &best_dist);
    /* "<x>.<middle>.<y>" with the middle starting after any dot: try the
     * behaviour settings and the topic type with that middle */
    for (const char *dot = first; dot && dot < last; dot = strchr(dot + 1, '.')) {
        char cand[256];
        int mid = (int)(last - dot - 1);
        for (size_t k = FIRST_BEH_KEY; k < N_KEYS; k++) {
            snprintf(cand, sizeof(cand), "behaviour.%.*s.%s", mid, dot + 1,
                     strrchr(table[k].key, '.') + 1);
            consider(key, cand, best, best_size, &best_dist);
        }
        snprintf(cand, sizeof(cand), "input.topic.%.*s.type", mid, dot + 1);
        consider(key, cand, best, best_size, &best_dist);
    }
    if (best_dist >= strlen(key) / 2)
        best[0] = '\0';
}

static int unknown_key(const char *key, hf_config_origin origin,
                       const char *detail, char *errstr, size_t n)
{
    char best[256], hint[300] = "";
    suggest(key, best, sizeof(best));
    if (best[0])
        snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", best);
    switch (origin) {
    case HF_ORIGIN_FILE:
        fail(errstr, n, "%s: unknown key \"%s\"%s", detail ? detail : "?", key,
             hint);
        break;
    case HF_ORIGIN_FLAG:
        fail(errstr, n, "-X: unknown key \"%s\"%s", key, hint);
        break;
    case HF_ORIGIN_ENV:
        fail(errstr, n, "environment %s: unknown key \"%s\"%s",
             detail ? detail : "?", key, hint);
        break;
    default:
        fail(errstr, n, "unknown key \"%s\"%s", key, hint);
        break;
    }
    return -1;
}

/*--- Setting one key ------------------------------------------------------*/

static int set_kafka(hf_config *cfg, const char *key, const char *value,
                     hf_config_origin origin, const char *detail,
                     char *errstr, size_t n)
{
    struct hf_config_meta *m = cfg->meta;
    const char *prop = key + strlen("kafka.");
    char w[300], rkerr[256];
    rd_kafka_conf_t *conf;
    size_t i;

    where(w, sizeof(w), origin, detail, key);
    if (*prop == '\0') {
        fail(errstr, n, "%smissing the librdkafka property name after \"kafka.\"",
             w);
        return -1;
    }
    /* Let librdkafka judge the property now, so errors name the line. */
    if (!(conf = rd_kafka_conf_new())) {
        fail(errstr, n, "%sout of memory", w);
        return -1;
    }
    if (rd_kafka_conf_set(conf, prop, value, rkerr, sizeof(rkerr)) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        fail(errstr, n, "%s%s", w, rkerr);
        return -1;
    }
    rd_kafka_conf_destroy(conf);

    for (i = 0; i < cfg->n_kafka; i++)
        if (strcmp(cfg->kafka[i].key, prop) == 0)
            break;
    if (i == cfg->n_kafka && cfg->n_kafka == m->kafka_cap) {
        size_t cap = m->kafka_cap ? 2 * m->kafka_cap : 8;
        hf_config_kv *kv = realloc(cfg->kafka, cap * sizeof(*kv));
        source *src;
        if (kv)
            cfg->kafka = kv;
        src = kv ? realloc(m->kafka, cap * sizeof(*src)) : NULL;
        if (!src) {
            fail(errstr, n, "%sout of memory", w);
            return -1;
        }
        m->kafka = src;
        m->kafka_cap = cap;
    }
    {
        char *k = i == cfg->n_kafka ? strdup(prop) : NULL;
        char *v = strdup(value);
        if (!v || (i == cfg->n_kafka && !k)) {
            free(k);
            free(v);
            fail(errstr, n, "%sout of memory", w);
            return -1;
        }
        if (i == cfg->n_kafka) {
            memset(&m->kafka[i], 0, sizeof(m->kafka[i]));
            cfg->kafka[i].key = k;
            cfg->kafka[i].value = NULL;
            cfg->n_kafka++;
        }
        free(cfg->kafka[i].value);
        cfg->kafka[i].value = v;
        if (source_set(&m->kafka[i], origin, detail, value) != 0) {
            fail(errstr, n, "%sout of memory", w);
            return -1;
        }
    }
    return 0;
}

static int set_topic_type(hf_config *cfg, const key_def *d, const char *key,
                          const char *value, hf_config_origin origin,
                          const char *detail, char *errstr, size_t n)
{
    struct hf_config_meta *m = cfg->meta;
    size_t tlen = strlen(key) - strlen("input.topic.") - strlen(".type");
    char topic[256], w[300], why[256];
    int type;
    size_t i;

    where(w, sizeof(w), origin, detail, key);
    snprintf(topic, sizeof(topic), "%.*s", (int)tlen, key + strlen("input.topic."));
    if (tlen >= sizeof(topic) || !is_topic(topic)) {
        fail(errstr, n, "%sinvalid topic name \"%s\" (1-249 of A-Z a-z 0-9 . _ -)",
             w, topic);
        return -1;
    }
    if (store_value(d, value, NULL, why, sizeof(why)) != 0) {
        fail(errstr, n, "%s%s", w, why);
        return -1;
    }
    type = strcmp(value, "purchase") == 0 ? HF_EVENT_PURCHASE : HF_EVENT_RETURN;
    for (i = 0; i < cfg->n_topic_types; i++)
        if (strcmp(cfg->topic_types[i].topic, topic) == 0)
            break;
    if (i == cfg->n_topic_types) {
        if (cfg->n_topic_types == m->topics_cap) {
            size_t cap = m->topics_cap ? 2 * m->topics_cap : 8;
            hf_config_topic *t = realloc(cfg->topic_types, cap * sizeof(*t));
            source *src;
            if (t)
                cfg->topic_types = t;
            src = t ? realloc(m->topics, cap * sizeof(*src)) : NULL;
            if (!src) {
                fail(errstr, n, "%sout of memory", w);
                return -1;
            }
            m->topics = src;
            m->topics_cap = cap;
        }
        memset(&m->topics[i], 0, sizeof(m->topics[i]));
        if (!(cfg->topic_types[i].topic = strdup(topic))) {
            fail(errstr, n, "%sout of memory", w);
            return -1;
        }
        cfg->n_topic_types++;
    }
    if (source_set(&m->topics[i], origin, detail, value) != 0) {
        fail(errstr, n, "%sout of memory", w);
        return -1;
    }
    cfg->topic_types[i].type = (hf_event_type)type;
    return 0;
}

/* Resets a new behaviour to the table's defaults. */
static void behaviour_defaults(hf_behaviour *b, const char *name, size_t len)
{
    char why[256];
    memset(b, 0, sizeof(*b));
    memcpy(b->name, name, len);
    b->name[len] = '\0';
    for (size_t k = FIRST_BEH_KEY; k < N_KEYS; k++)
        (void)store_value(&table[k], table[k].def, b, why, sizeof(why));
}

static int set_behaviour(hf_config *cfg, const char *key, const char *value,
                         hf_config_origin origin, const char *detail,
                         char *errstr, size_t n)
{
    const char *name = key + strlen("behaviour.");
    const char *dot = strrchr(key, '.');
    const char *sub = dot + 1;
    size_t len = (size_t)(dot - name), k, bi;
    char w[300], why[256];

    if (dot < name)
        return unknown_key(key, origin, detail, errstr, n);
    for (k = FIRST_BEH_KEY; k < N_KEYS; k++)
        if (strcmp(strrchr(table[k].key, '.') + 1, sub) == 0)
            break;
    if (k == N_KEYS)
        return unknown_key(key, origin, detail, errstr, n);
    where(w, sizeof(w), origin, detail, key);
    if (!is_behaviour_name(name, len)) {
        fail(errstr, n, "%sinvalid behaviour name \"%.*s\" (1-63 of A-Z a-z 0-9 _ -)",
             w, (int)len, name);
        return -1;
    }
    if (store_value(&table[k], value, NULL, why, sizeof(why)) != 0) {
        fail(errstr, n, "%s%s", w, why);
        return -1;
    }
    for (bi = 0; bi < cfg->nbehaviours; bi++)
        if (strlen(cfg->behaviours[bi].name) == len &&
            memcmp(cfg->behaviours[bi].name, name, len) == 0)
            break;
    if (bi == cfg->nbehaviours) {
        if (bi == HF_MAX_BEHAVIOURS) {
            fail(errstr, n, "%stoo many behaviours (at most %d)", w,
                 HF_MAX_BEHAVIOURS);
            return -1;
        }
        behaviour_defaults(&cfg->behaviours[bi], name, len);
        cfg->nbehaviours++;
    }
    if (source_set(&cfg->meta->beh[bi][k - FIRST_BEH_KEY], origin, detail,
                   value) != 0) {
        fail(errstr, n, "%sout of memory", w);
        return -1;
    }
    (void)store_value(&table[k], value, &cfg->behaviours[bi], why, sizeof(why));
    return 0;
}

int hf_config_set(hf_config *cfg, const char *key, const char *value,
                  hf_config_origin origin, const char *origin_detail,
                  char *errstr, size_t errstr_size)
{
    char w[300], why[256];

    if (starts_with(key, "kafka."))
        return set_kafka(cfg, key, value, origin, origin_detail, errstr,
                         errstr_size);
    if (starts_with(key, "behaviour."))
        return set_behaviour(cfg, key, value, origin, origin_detail, errstr,
                             errstr_size);
    if (starts_with(key, "input.topic.") && ends_with(key, ".type") &&
        strlen(key) > strlen("input.topic..type")) {
        for (size_t k = 0; k < N_KEYS; k++)
            if (table[k].kind == K_TOPIC_TYPE)
                return set_topic_type(cfg, &table[k], key, value, origin,
                                      origin_detail, errstr, errstr_size);
    }
    for (size_t k = 0; k < N_KEYS; k++) {
        const key_def *d = &table[k];
        if (d->kind != K_FIXED || strcmp(d->key, key) != 0)
            continue;
        where(w, sizeof(w), origin, origin_detail, key);
        if (store_value(d, value, NULL, why, sizeof(why)) != 0) {
            fail(errstr, errstr_size, "%s%s", w, why);
            return -1;
        }
        if (source_set(&cfg->meta->fixed[k], origin, origin_detail,
                       origin == HF_ORIGIN_DEFAULT ? NULL : value) != 0 ||
            store_value(d, value, cfg, why, sizeof(why)) != 0) {
            fail(errstr, errstr_size, "%sout of memory", w);
            return -1;
        }
        return 0;
    }
    return unknown_key(key, origin, origin_detail, errstr, errstr_size);
}

/*--- Life cycle -----------------------------------------------------------*/

int hf_config_init(hf_config *cfg)
{
    char err[256];
    memset(cfg, 0, sizeof(*cfg));
    if (!(cfg->meta = calloc(1, sizeof(*cfg->meta))))
        return -1;
    for (size_t k = 0; k < N_KEYS; k++) {
        if (table[k].kind != K_FIXED)
            continue;
        if (hf_config_set(cfg, table[k].key, table[k].def, HF_ORIGIN_DEFAULT,
                          NULL, err, sizeof(err)) != 0)
            return -1;
    }
    return 0;
}

void hf_config_destroy(hf_config *cfg)
{
    struct hf_config_meta *m;
    if (!cfg)
        return;
    m = cfg->meta;
    for (size_t k = 0; k < N_KEYS; k++) {
        const key_def *d = &table[k];
        if (d->kind != K_FIXED)
            continue;
        if (d->type == V_STRING) {
            free(*(char **)((char *)cfg + d->off));
        } else if (d->type == V_LIST) {
            char **items = *(char ***)((char *)cfg + d->off);
            size_t count = *(size_t *)((char *)cfg + d->count_off);
            for (size_t i = 0; i < count; i++)
                free(items[i]);
            free(items);
        }
    }
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        free(cfg->kafka[i].key);
        free(cfg->kafka[i].value);
    }
    free(cfg->kafka);
    for (size_t i = 0; i < cfg->n_topic_types; i++)
        free(cfg->topic_types[i].topic);
    free(cfg->topic_types);
    if (m) {
        for (size_t k = 0; k < N_KEYS; k++)
            source_clear(&m->fixed[k]);
        for (size_t b = 0; b < HF_MAX_BEHAVIOURS; b++)
            for (size_t k = 0; k < N_BEH_KEYS; k++)
                source_clear(&m->beh[b][k]);
        for (size_t i = 0; i < cfg->n_kafka; i++)
            source_clear(&m->kafka[i]);
        for (size_t i = 0; i < cfg->n_topic_types; i++)
            source_clear(&m->topics[i]);
        free(m->kafka);
        free(m->topics);
        free(m);
    }
    memset(cfg, 0, sizeof(*cfg));
}

/*--- Sources --------------------------------------------------------------*/

int hf_config_load_file(hf_config *cfg, const char *path, char *errstr,
                        size_t errstr_size)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL, *detail = NULL;
    size_t cap = 0, lineno = 0, dcap = strlen(path) + 32;
    int rc = 0;

    if (!fp) {
        fail(errstr, errstr_size, "cannot read config file \"%s\": %s", path,
             strerror(errno));
        return -1;
    }
    if (!(detail = malloc(dcap))) {
        fclose(fp);
        fail(errstr, errstr_size, "out of memory");
        return -1;
    }
    errno = 0;
    while (rc == 0 && getline(&line, &cap, fp) != -1) {
        char *s = line, *eq, *key, *value;
        lineno++;
        if (lineno == 1 && starts_with(s, "\xEF\xBB\xBF"))
            s += 3; /* UTF-8 byte order mark */
        s = trim(s);
        if (*s == '\0' || *s == '#' || *s == '!')
            continue;
        snprintf(detail, dcap, "%s:%zu", path, lineno);
        eq = strchr(s, '=');
        if (!eq || eq == s) {
            fail(errstr, errstr_size, "%s: expected key=value, got \"%s\"",
                 detail, s);
            rc = -1;
            break;
        }
        *eq = '\0';
        key = trim(s); /* not empty: s starts with a non-space before '=' */
        value = trim(eq + 1);
        rc = hf_config_set(cfg, key, value, HF_ORIGIN_FILE, detail, errstr,
                           errstr_size);
    }
    if (rc == 0 && ferror(fp)) {
        fail(errstr, errstr_size, "cannot read config file \"%s\": %s", path,
             strerror(errno ? errno : EIO));
        rc = -1;
    }
    free(line);
    free(detail);
    fclose(fp);
    return rc;
}

/* "output.topic" -> "HIREFIRE_OUTPUT_TOPIC". */
static void env_name(char *buf, size_t n, const char *key)
{
    size_t i = (size_t)snprintf(buf, n, "HIREFIRE_");
    for (; *key && i + 1 < n; key++, i++)
        buf[i] = *key == '.' ? '_' : (char)toupper((unsigned char)*key);
    buf[i] = '\0';
}

int hf_config_load_env(hf_config *cfg, char **envp, char *errstr,
                       size_t errstr_size)
{
    if (!envp)
        return 0;
    for (size_t k = 0; k < N_KEYS; k++) {
        char name[128];
        size_t len;
        if (table[k].kind != K_FIXED)
            continue;
        env_name(name, sizeof(name), table[k].key);
        len = strlen(name);
        for (char **e = envp; *e; e++) {
            if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') {
                char *value = strdup(*e + len + 1);
                int rc;
                if (!value) {
                    fail(errstr, errstr_size, "out of memory");
                    return -1;
                }
                rc = hf_config_set(cfg, table[k].key, trim(value),
                                   HF_ORIGIN_ENV, name, errstr, errstr_size);
                free(value);
                if (rc != 0)
                    return -1;
                break; /* the first one wins, as with getenv() */
            }
        }
    }
    return 0;
}

int hf_config_load_overrides(hf_config *cfg, char **overrides, size_t n,
                             char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < n; i++) {
        char *copy = strdup(overrides[i]), *eq, *key;
        int rc;
        if (!copy) {
            fail(errstr, errstr_size, "out of memory");
            return -1;
        }
        eq = strchr(copy, '=');
        if (eq)
            *eq = '\0';
        key = trim(copy);
        if (!eq || *key == '\0') {
            fail(errstr, errstr_size, "-X: expected key=value, got \"%s\"",
                 overrides[i]);
            free(copy);
            return -1;
        }
        rc = hf_config_set(cfg, key, trim(eq + 1), HF_ORIGIN_FLAG, NULL,
                           errstr, errstr_size);
        free(copy);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int hf_config_finish(hf_config *cfg, char *errstr, size_t errstr_size)
{
    struct hf_config_meta *m = cfg->meta;
    char w[300];

    for (uint32_t i = 0; i < cfg->nbehaviours; i++) {
        const hf_behaviour *b = &cfg->behaviours[i];
        if (!b->has_min_orders && !b->has_min_items && !b->has_min_net_minor &&
            !b->has_max_return_ratio) {
            /* min_orders is on by default, so it was switched off somewhere */
            const source *s = &m->beh[i][1];
            char key[128];
            snprintf(key, sizeof(key), "behaviour.%s.min_orders", b->name);
            where(w, sizeof(w), s->origin, s->detail, key);
            fail(errstr, errstr_size,
                 "%sbehaviour \"%s\" has no threshold: set at least one of "
                 "min_orders, min_items, min_net_minor, max_return_ratio",
                 w, b->name);
            return -1;
        }
    }
    if (cfg->n_input_topics > 0) {
        for (size_t i = 0; i < cfg->n_topic_types; i++) {
            const char *t = cfg->topic_types[i].topic;
            bool found = false;
            char key[300];
            for (size_t j = 0; j < cfg->n_input_topics && !found; j++)
                found = strcmp(cfg->input_topics[j], t) == 0;
            if (found)
                continue;
            snprintf(key, sizeof(key), "input.topic.%s.type", t);
            where(w, sizeof(w), m->topics[i].origin, m->topics[i].detail, key);
            fail(errstr, errstr_size, "%stopic \"%s\" is not in input.topics",
                 w, t);
            return -1;
        }
    }
    if (cfg->nbehaviours == 0) {
        behaviour_defaults(&cfg->behaviours[0], "repeat", strlen("repeat"));
        cfg->nbehaviours = 1;
    }
    return 0;
}

int hf_config_load(hf_config *cfg, const char *path, char **envp,
                   char **overrides, size_t n_overrides, char *errstr,
                   size_t errstr_size)
{
    if (hf_config_init(cfg) != 0) {
        fail(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (path && hf_config_load_file(cfg, path, errstr, errstr_size) != 0)
        return -1;
    if (hf_config_load_env(cfg, envp, errstr, errstr_size) != 0)
        return -1;
    if (hf_config_load_overrides(cfg, overrides, n_overrides, errstr,
                                 errstr_size) != 0)
        return -1;
    return hf_config_finish(cfg, errstr, errstr_size);
}

/*--- Lookups --------------------------------------------------------------*/

int hf_config_topic_type(const hf_config *cfg, const char *topic,
                         hf_event_type *out)
{
    for (size_t i = 0; topic && i < cfg->n_topic_types; i++) {
        if (strcmp(cfg->topic_types[i].topic, topic) == 0) {
            *out = cfg->topic_types[i].type;
            return 0;
        }
    }
    return -1;
}

const char *hf_config_kafka_get(const hf_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (strcmp(cfg->kafka[i].key, key) == 0)
            return cfg->kafka[i].value;
    return NULL;
}

/*--- Documentation --------------------------------------------------------*/

/* "string", "one of avro, json", "integer 0..2147483647", ... */
static void type_text(char *buf, size_t n, const key_def *d)
{
    char names[128], lo[32], hi[32];
    switch (d->type) {
    case V_STRING:
        snprintf(buf, n, "%s",
                 d->check == check_topic ? "topic"
                 : d->check == check_listen ? "host:port"
                 : (d->flags & F_URL) ? "URL"
                 : "string");
        break;
    case V_LIST:
        snprintf(buf, n, "topic list");
        break;
    case V_INT:
    case V_DAYS:
        if (d->max == INT64_MAX)
            snprintf(buf, n, "integer >= %lld", (long long)d->min);
        else
            snprintf(buf, n, "integer %lld..%lld", (long long)d->min,
                     (long long)d->max);
        break;
    case V_DURATION:
        format_duration(lo, sizeof(lo), d->min);
        format_duration(hi, sizeof(hi), d->max);
        snprintf(buf, n, "duration %s..%s", lo, hi);
        break;
    case V_BOOL:
        snprintf(buf, n, "boolean");
        break;
    case V_ENUM:
        join_names(names, sizeof(names), d->names, ", ");
        snprintf(buf, n, "one of %s", names);
        break;
    case V_INT_OFF:
        if (d->min == INT64_MIN)
            snprintf(buf, n, "integer or off");
        else
            snprintf(buf, n, "integer >= %lld or off", (long long)d->min);
        break;
    case V_DOUBLE_OFF:
        snprintf(buf, n, "number >= 0 or off");
        break;
    }
}

void hf_config_print_help(FILE *fp)
{
    fprintf(fp,
            "Configuration keys (in a properties file as key=value, in the "
            "environment as\nHIREFIRE_<KEY> for fixed keys, or on the command "
            "line as -X key=value):\n");
    for (size_t k = 0; k < N_KEYS; k++) {
        const key_def *d = &table[k];
        char type[160], env[128];
        type_text(type, sizeof(type), d);
        fprintf(fp, "\n  %s (%s", d->key, type);
        if (d->def)
            fprintf(fp, ", default \"%s\"", d->def);
        if (d->kind == K_FIXED) {
            env_name(env, sizeof(env), d->key);
            fprintf(fp, ", env %s", env);
        }
        fprintf(fp, ")\n      %s\n", d->help);
    }
}

void hf_config_print_reference_markdown(FILE *fp)
{
    fprintf(fp, "| Key | Type | Default | Environment | Description |\n"
                "|---|---|---|---|---|\n");
    for (size_t k = 0; k < N_KEYS; k++) {
        const key_def *d = &table[k];
        char type[160], env[128] = "";
        type_text(type, sizeof(type), d);
        if (d->kind == K_FIXED)
            env_name(env, sizeof(env), d->key);
        fprintf(fp, "| `%s` | %s | %s%s%s | %s%s%s | %s |\n", d->key, type,
                d->def && d->def[0] ? "`" : "",
                d->def ? (d->def[0] ? d->def : "(empty)") : "-",
                d->def && d->def[0] ? "`" : "", env[0] ? "`" : "",
                env[0] ? env : "-", env[0] ? "`" : "", d->help);
    }
}

/*--- The effective settings -----------------------------------------------*/

static bool is_secret_key(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") ||
           strstr(key, "ssl.key.pem") || strstr(key, "sasl.oauthbearer.config");
}

/* Prints the URL with the password of its user info replaced by ***. */
static void print_masked_url(FILE *fp, const char *url)
{
    const char *auth = strstr(url, "://");
    const char *end, *at = NULL, *colon;
    if (!auth) {
        fputs(url, fp);
        return;
    }
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at) {
        fputs(url, fp);
        return;
    }
    colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon) /* user:password@ -> user:***@ */
        fprintf(fp, "%.*s***%s", (int)(colon + 1 - url), url, at);
    else       /* password@ (the redis-cli form) -> ***@ */
        fprintf(fp, "%.*s***%s", (int)(auth - url), url, at);
}

static void print_line(FILE *fp, const char *key, const char *value,
                       unsigned flags, const source *s)
{
    fprintf(fp, "%s = ", key);
    if (is_secret_key(key) && value[0])
        fputs("***", fp);
    else if (flags & F_URL)
        print_masked_url(fp, value);
    else
        fputs(value, fp);
    switch (s ? s->origin : HF_ORIGIN_DEFAULT) {
    case HF_ORIGIN_FILE:
        fprintf(fp, "  # file %s\n", s->detail ? s->detail : "?");
        break;
    case HF_ORIGIN_ENV:
        fprintf(fp, "  # env %s\n", s->detail ? s->detail : "?");
        break;
    case HF_ORIGIN_FLAG:
        fprintf(fp, "  # flag -X\n");
        break;
    default:
        fprintf(fp, "  # default\n");
        break;
    }
}

void hf_config_dump(FILE *fp, const hf_config *cfg)
{
    const struct hf_config_meta *m = cfg->meta;
    char key[512];
    if (!m)
        return;
    for (size_t k = 0; k < N_KEYS; k++) {
        const key_def *d = &table[k];
        const source *s = &m->fixed[k];
        switch (d->kind) {
        case K_FIXED:
            print_line(fp, d->key, s->raw ? s->raw : d->def, d->flags, s);
            break;
        case K_TOPIC_TYPE:
            for (size_t i = 0; i < cfg->n_topic_types; i++) {
                snprintf(key, sizeof(key), "input.topic.%s.type",
                         cfg->topic_types[i].topic);
                print_line(fp, key, m->topics[i].raw, 0, &m->topics[i]);
            }
            break;
        case K_KAFKA:
            for (size_t i = 0; i < cfg->n_kafka; i++) {
                snprintf(key, sizeof(key), "kafka.%s", cfg->kafka[i].key);
                print_line(fp, key, cfg->kafka[i].value, 0, &m->kafka[i]);
            }
            break;
        case K_BEHAVIOUR:
            if (k != FIRST_BEH_KEY)
                break;
            for (uint32_t b = 0; b < cfg->nbehaviours; b++) {
                for (size_t j = 0; j < N_BEH_KEYS; j++) {
                    const key_def *bd = &table[FIRST_BEH_KEY + j];
                    const source *bs = &m->beh[b][j];
                    snprintf(key, sizeof(key), "behaviour.%s.%s",
                             cfg->behaviours[b].name, strrchr(bd->key, '.') + 1);
                    print_line(fp, key, bs->raw ? bs->raw : bd->def, 0, bs);
                }
            }
            break;
        }
    }
}
