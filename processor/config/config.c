/*
 * config.c - the configuration's life cycle: setting one key (fixed keys,
 * kafka.*, input.topic.<t>.type, behaviour.<name>.*) with the origin of its
 * value, near misses for unknown keys, properties files, the environment
 * and -X overrides, the checks across keys, and lookups.
 *
 * The settings table is in config_table.c, the parsing and checks of values
 * in config_values.c, --help, the README reference and the effective dump in
 * config_docs.c.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "config/config_int.h"

/*--- Where values came from -----------------------------------------------*/

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
        if (hf_config_keys[k].kind == K_FIXED)
            consider(key, hf_config_keys[k].key, best, best_size, &best_dist);
    /* "<x>.<middle>.<y>" with the middle starting after any dot: try the
     * behaviour settings and the topic type with that middle */
    for (const char *dot = first; dot && dot < last; dot = strchr(dot + 1, '.')) {
        char cand[256];
        int mid = (int)(last - dot - 1);
        for (size_t k = FIRST_BEH_KEY; k < N_KEYS; k++) {
            snprintf(cand, sizeof(cand), "behaviour.%.*s.%s", mid, dot + 1,
                     strrchr(hf_config_keys[k].key, '.') + 1);
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
    if (tlen >= sizeof(topic) || !hf_config_is_topic(topic)) {
        fail(errstr, n, "%sinvalid topic name \"%s\" (1-249 of A-Z a-z 0-9 . _ -)",
             w, topic);
        return -1;
    }
    if (hf_config_store_value(d, value, NULL, why, sizeof(why)) != 0) {
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
        (void)hf_config_store_value(&hf_config_keys[k], hf_config_keys[k].def, b,
                                    why, sizeof(why));
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
        if (strcmp(strrchr(hf_config_keys[k].key, '.') + 1, sub) == 0)
            break;
    if (k == N_KEYS)
        return unknown_key(key, origin, detail, errstr, n);
    where(w, sizeof(w), origin, detail, key);
    if (!hf_config_is_behaviour_name(name, len)) {
        fail(errstr, n, "%sinvalid behaviour name \"%.*s\" (1-63 of A-Z a-z 0-9 _ -)",
             w, (int)len, name);
        return -1;
    }
    if (hf_config_store_value(&hf_config_keys[k], value, NULL, why, sizeof(why)) != 0) {
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
    (void)hf_config_store_value(&hf_config_keys[k], value, &cfg->behaviours[bi],
                                why, sizeof(why));
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
            if (hf_config_keys[k].kind == K_TOPIC_TYPE)
                return set_topic_type(cfg, &hf_config_keys[k], key, value, origin,
                                      origin_detail, errstr, errstr_size);
    }
    for (size_t k = 0; k < N_KEYS; k++) {
        const key_def *d = &hf_config_keys[k];
        if (d->kind != K_FIXED || strcmp(d->key, key) != 0)
            continue;
        where(w, sizeof(w), origin, origin_detail, key);
        if (hf_config_store_value(d, value, NULL, why, sizeof(why)) != 0) {
            fail(errstr, errstr_size, "%s%s", w, why);
            return -1;
        }
        if (source_set(&cfg->meta->fixed[k], origin, origin_detail,
                       origin == HF_ORIGIN_DEFAULT ? NULL : value) != 0 ||
            hf_config_store_value(d, value, cfg, why, sizeof(why)) != 0) {
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
        if (hf_config_keys[k].kind != K_FIXED)
            continue;
        if (hf_config_set(cfg, hf_config_keys[k].key, hf_config_keys[k].def,
                          HF_ORIGIN_DEFAULT, NULL, err, sizeof(err)) != 0)
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
        const key_def *d = &hf_config_keys[k];
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
        s = hf_config_trim(s);
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
        key = hf_config_trim(s); /* not empty: s starts with a non-space before '=' */
        value = hf_config_trim(eq + 1);
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

void hf_config_env_name(char *buf, size_t n, const char *key)
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
        if (hf_config_keys[k].kind != K_FIXED)
            continue;
        hf_config_env_name(name, sizeof(name), hf_config_keys[k].key);
        len = strlen(name);
        for (char **e = envp; *e; e++) {
            if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') {
                char *value = strdup(*e + len + 1);
                int rc;
                if (!value) {
                    fail(errstr, errstr_size, "out of memory");
                    return -1;
                }
                rc = hf_config_set(cfg, hf_config_keys[k].key, hf_config_trim(value),
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
        key = hf_config_trim(copy);
        if (!eq || *key == '\0') {
            fail(errstr, errstr_size, "-X: expected key=value, got \"%s\"",
                 overrides[i]);
            free(copy);
            return -1;
        }
        rc = hf_config_set(cfg, key, hf_config_trim(eq + 1), HF_ORIGIN_FLAG, NULL,
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
