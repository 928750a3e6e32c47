/*
 * kafka_conf.c - librdkafka configuration from hirefire settings, and
 * librdkafka's log lines through hf_log.
 */
#include "kafka/kafka_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"

/* librdkafka logs with syslog levels (0 emergency .. 7 debug). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    hf_log_level l = level <= 3   ? HF_LOG_ERROR
                     : level == 4 ? HF_LOG_WARN
                     : level <= 6 ? HF_LOG_INFO
                                  : HF_LOG_DEBUG;
    /* The same kafka.* keys configure consumers and producers: that a
     * consumer property is ignored by a producer (and back) is expected. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, " will be ignored by this ") != NULL)
        l = HF_LOG_DEBUG;
    if (l == HF_LOG_DEBUG && hf_log_get_level() < HF_LOG_DEBUG)
        return;
    hf_log(l, "kafka", "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

static int set(rd_kafka_conf_t *conf, const char *key, const char *value,
               const char *prefix, char *errstr, size_t errstr_size)
{
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "%s%s: %s", prefix, key, why);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *hf_kafka_conf_new(const hf_config *cfg,
                                   const hf_kafka_setting *settings, size_t n,
                                   char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    for (size_t i = 0; i < n; i++)
        if (settings[i].mode == HF_KAFKA_DEFAULT &&
            set(conf, settings[i].key, settings[i].value, "", errstr,
                errstr_size) != 0)
            goto error;
    for (size_t i = 0; cfg != NULL && i < cfg->n_kafka; i++)
        if (set(conf, cfg->kafka[i].key, cfg->kafka[i].value, "kafka.",
                errstr, errstr_size) != 0)
            goto error;
    for (size_t i = 0; i < n; i++) {
        const hf_kafka_setting *s = &settings[i];
        if (s->mode == HF_KAFKA_DEFAULT)
            continue;
        const char *user = cfg ? hf_config_kafka_get(cfg, s->key) : NULL;
        if (s->mode == HF_KAFKA_REQUIRED && user != NULL &&
            strcasecmp(user, s->value) != 0) {
            snprintf(errstr, errstr_size, "kafka.%s: must be \"%s\" here (%s), got \"%s\"",
                     s->key, s->value, s->why ? s->why : "hirefire sets it", user);
            goto error;
        }
        if (set(conf, s->key, s->value, "", errstr, errstr_size) != 0)
            goto error;
    }
    return conf;
error:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/*
 * What every consumer of hirefire's sets before the user's kafka.* keys.
 * The partitions' fetch queues are forwarded to the one consumer queue, whose
 * length librdkafka 2.0 checks against the per-partition threshold
 * queued.min.messages: past it, fetching backs off for a whole second, which
 * starves a busy consumer. The memory bound stays queued.max.messages.kbytes,
 * and past it the same pause comes: the queue it bounds outlasts two such
 * pauses of a consumer at full speed (about a million events a second of
 * about 60 bytes).
 */
static const hf_kafka_setting consumer_defaults[] = {
    {"queued.min.messages", "1000000", HF_KAFKA_DEFAULT, NULL},
    {"queued.max.messages.kbytes", "131072", HF_KAFKA_DEFAULT, NULL},
};

rd_kafka_conf_t *hf_kafka_consumer_conf_new(const hf_config *cfg,
                                            const hf_kafka_setting *settings, size_t n,
                                            char *errstr, size_t errstr_size)
{
    size_t nd = sizeof(consumer_defaults) / sizeof(consumer_defaults[0]);
    hf_kafka_setting *all = malloc((nd + n) * sizeof(*all));
    if (all == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    memcpy(all, consumer_defaults, sizeof(consumer_defaults));
    if (n > 0)
        memcpy(all + nd, settings, n * sizeof(*all));
    rd_kafka_conf_t *conf = hf_kafka_conf_new(cfg, all, nd + n, errstr, errstr_size);
    free(all);
    return conf;
}

const char *hf_kafka_conf_get(const rd_kafka_conf_t *conf, const char *key,
                              char *buf, size_t buf_size)
{
    size_t size = buf_size;
    if (buf_size == 0)
        return "";
    if (rd_kafka_conf_get(conf, key, buf, &size) != RD_KAFKA_CONF_OK)
        buf[0] = '\0';
    return buf;
}
