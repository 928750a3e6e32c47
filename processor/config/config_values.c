/*
 * config_values.c - the values of settings: parsing of integers, numbers,
 * durations, booleans, enums and lists, the checks of strings (topics,
 * URLs, key prefixes, host:port), and storing a parsed value into the
 * field that the settings table names.
 */
#include "config/config_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*--- Parsing --------------------------------------------------------------*/

char *hf_config_trim(char *s)
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

int hf_config_parse_int(const char *s, int64_t *out)
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

void hf_config_format_duration(char *buf, size_t n, int64_t ms)
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

void hf_config_join_names(char *buf, size_t n, const char *const *names,
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

bool hf_config_is_topic(const char *v)
{
    size_t len = strlen(v);
    if (len == 0 || len > 249 || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
        return false;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

int hf_config_check_topic(const char *v, char *why, size_t n)
{
    if (hf_config_is_topic(v))
        return 0;
    snprintf(why, n, "must be " TOPIC_RULE);
    return -1;
}

int hf_config_check_url_http(const char *v, char *why, size_t n)
{
    if (*v == '\0' ||
        (starts_with(v, "http://") && v[7] != '\0') ||
        (starts_with(v, "https://") && v[8] != '\0'))
        return 0;
    snprintf(why, n, "must be an http:// or https:// URL or empty");
    return -1;
}

int hf_config_check_url_redis(const char *v, char *why, size_t n)
{
    if ((starts_with(v, "redis://") && v[8] != '\0') ||
        (starts_with(v, "unix://") && v[7] != '\0'))
        return 0;
    snprintf(why, n, "must be a redis:// or unix:// URL");
    return -1;
}

int hf_config_check_key_prefix(const char *v, char *why, size_t n)
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

int hf_config_check_power_of_two(const char *v, char *why, size_t n)
{
    int64_t i;
    if (hf_config_parse_int(v, &i) == 0 && i > 0 && (i & (i - 1)) == 0)
        return 0;
    snprintf(why, n, "must be a power of two (1, 2, 4, ..., 1048576)");
    return -1;
}

int hf_config_check_listen(const char *v, char *why, size_t n)
{
    const char *colon = strrchr(v, ':');
    int64_t port;
    if (*v == '\0')
        return 0;
    if (colon && colon != v && hf_config_parse_int(colon + 1, &port) == 0 &&
        isdigit((unsigned char)colon[1]) && port >= 0 && port <= 65535)
        return 0;
    snprintf(why, n, "must be HOST:PORT (port 0-65535) or empty");
    return -1;
}

bool hf_config_is_behaviour_name(const char *s, size_t len)
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
 * One store_* per value type: each parses value for entry d and, when p is
 * not NULL, stores it at p (d->off in the struct at base). On a bad value
 * it writes "must be ..." into buf and returns BAD; OOM when out of memory.
 */
enum { BAD = -1, OOM = -2 };

static int store_string(const key_def *d, const char *value, char *p,
                        char *buf, size_t n)
{
    char *copy;
    if (d->check && d->check(value, buf, n) != 0)
        return BAD;
    if (!p)
        return 0;
    if (!(copy = strdup(value)))
        return OOM;
    free(*(char **)p);
    *(char **)p = copy;
    return 0;
}

static void free_items(char **items, size_t count)
{
    for (size_t k = 0; k < count; k++)
        free(items[k]);
    free(items);
}

/* The items of a comma-separated value into *items and *count (none for a
 * blank value); 0, BAD (buf says why) or OOM (buf ""). */
static int split_list(const key_def *d, const char *value, char ***items,
                      size_t *count, char *buf, size_t n)
{
    char *work = strdup(value), *save = NULL, *tok;
    bool ok = true;
    *items = NULL;
    *count = 0;
    if (!work)
        return OOM;
    if (*hf_config_trim(work) != '\0') {
        *items = calloc(strlen(value) + 1, sizeof(char *));
        if (!*items) {
            free(work);
            return OOM;
        }
        /* strtok_r would skip empty items; split by hand. */
        for (tok = work; ok; tok = save + 1) {
            save = strchr(tok, ',');
            if (save)
                *save = '\0';
            tok = hf_config_trim(tok);
            if (d->check && d->check(tok, buf, n) != 0)
                ok = false;
            else if (!((*items)[(*count)++] = strdup(tok))) {
                ok = false;
                buf[0] = '\0'; /* out of memory */
            }
            if (!save)
                break;
        }
    }
    free(work);
    if (ok)
        return 0;
    free_items(*items, *count);
    *items = NULL;
    *count = 0;
    return buf[0] == '\0' ? OOM : BAD;
}

static int store_list(const key_def *d, const char *value, void *base,
                      char *p, char *buf, size_t n)
{
    char **items;
    size_t count;
    int rc = split_list(d, value, &items, &count, buf, n);
    if (rc == BAD)
        snprintf(buf, n,
                 "must be a comma-separated list of Kafka topic names "
                 "(1-249 of A-Z a-z 0-9 . _ -)");
    if (rc != 0)
        return rc;
    if (!p) {
        free_items(items, count);
        return 0;
    }
    size_t *oldn = (size_t *)((char *)base + d->count_off);
    free_items(*(char ***)p, *oldn);
    *(char ***)p = items;
    *oldn = count;
    return 0;
}

static int store_int(const key_def *d, const char *value, char *p, char *buf,
                     size_t n)
{
    int64_t i;
    if (hf_config_parse_int(value, &i) != 0 || i < d->min || i > d->max) {
        if (d->max == INT64_MAX)
            snprintf(buf, n, "must be an integer >= %lld", (long long)d->min);
        else
            snprintf(buf, n, "must be an integer between %lld and %lld",
                     (long long)d->min, (long long)d->max);
        return BAD;
    }
    if (d->check && d->check(value, buf, n) != 0)
        return BAD;
    if (p && d->type == V_INT)
        *(int64_t *)p = i;
    else if (p)
        *(int32_t *)p = (int32_t)i;
    return 0;
}

static int store_duration(const key_def *d, const char *value, char *p,
                          char *buf, size_t n)
{
    int64_t i;
    if (parse_duration(value, &i) != 0 || i < d->min || i > d->max) {
        char lo[32], hi[32];
        hf_config_format_duration(lo, sizeof(lo), d->min);
        hf_config_format_duration(hi, sizeof(hi), d->max);
        snprintf(buf, n,
                 "must be a duration between %s and %s "
                 "(milliseconds, or with a unit: 500ms, 5s, 2m, 1h)",
                 lo, hi);
        return BAD;
    }
    if (p)
        *(int64_t *)p = i;
    return 0;
}

static int store_bool(const char *value, char *p, char *buf, size_t n)
{
    bool b;
    if (parse_bool(value, &b) != 0) {
        snprintf(buf, n, "must be true or false");
        return BAD;
    }
    if (p)
        *(bool *)p = b;
    return 0;
}

static int store_enum(const key_def *d, const char *value, char *p,
                      char *buf, size_t n)
{
    char names[128];
    for (size_t k = 0; d->names[k]; k++) {
        if (strcmp(value, d->names[k]) == 0) {
            if (p)
                *(int *)p = (int)k;
            return 0;
        }
    }
    hf_config_join_names(names, sizeof(names), d->names, ", ");
    snprintf(buf, n, "must be one of %s", names);
    return BAD;
}

static int store_int_off(const key_def *d, const char *value, void *base,
                         char *p, char *buf, size_t n)
{
    int64_t i;
    if (strcmp(value, "off") == 0) {
        if (p) {
            *(bool *)((char *)base + d->has_off) = false;
            *(int64_t *)p = 0;
        }
        return 0;
    }
    if (hf_config_parse_int(value, &i) != 0 || i < d->min) {
        if (d->min == INT64_MIN)
            snprintf(buf, n, "must be an integer or off");
        else
            snprintf(buf, n, "must be an integer >= %lld or off",
                     (long long)d->min);
        return BAD;
    }
    if (p) {
        *(bool *)((char *)base + d->has_off) = true;
        *(int64_t *)p = i;
    }
    return 0;
}

static int store_double_off(const key_def *d, const char *value, void *base,
                            char *p, char *buf, size_t n)
{
    double x;
    if (strcmp(value, "off") == 0) {
        if (p) {
            *(bool *)((char *)base + d->has_off) = false;
            *(double *)p = 0;
        }
        return 0;
    }
    if (parse_double(value, &x) != 0 || x < 0) {
        snprintf(buf, n, "must be a number >= 0 or off");
        return BAD;
    }
    if (p) {
        *(bool *)((char *)base + d->has_off) = true;
        *(double *)p = x;
    }
    return 0;
}

int hf_config_store_value(const key_def *d, const char *value, void *base,
                          char *why, size_t n)
{
    char *p = base ? (char *)base + d->off : NULL;
    char buf[256];
    int rc;

    switch (d->type) {
    case V_STRING:
        rc = store_string(d, value, p, buf, sizeof(buf));
        break;
    case V_LIST:
        rc = store_list(d, value, base, p, buf, sizeof(buf));
        break;
    case V_INT:
    case V_DAYS:
        rc = store_int(d, value, p, buf, sizeof(buf));
        break;
    case V_DURATION:
        rc = store_duration(d, value, p, buf, sizeof(buf));
        break;
    case V_BOOL:
        rc = store_bool(value, p, buf, sizeof(buf));
        break;
    case V_ENUM:
        rc = store_enum(d, value, p, buf, sizeof(buf));
        break;
    case V_INT_OFF:
        rc = store_int_off(d, value, base, p, buf, sizeof(buf));
        break;
    case V_DOUBLE_OFF:
        rc = store_double_off(d, value, base, p, buf, sizeof(buf));
        break;
    default:
        snprintf(buf, sizeof(buf), "unsupported type");
        rc = BAD;
        break;
    }
    if (rc == BAD)
        snprintf(why, n, "%s, got \"%s\"", buf, value);
    else if (rc == OOM)
        snprintf(why, n, "out of memory");
    return rc == 0 ? 0 : -1;
}
