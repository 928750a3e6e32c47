/*
 * config_int.h - what the files of the config module share: the settings
 * table and its entry type (config_table.c), where values came from and the
 * environment names (config.c), value parsing and checks (config_values.c);
 * config_docs.c reads all of them. Not for other modules.
 */
#ifndef HF_CONFIG_INT_H
#define HF_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"

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

#define HOUR_MS 3600000LL

/* The settings table (config_table.c): every key, in the order of --help. */
#define N_KEYS 31
#define N_BEH_KEYS 5 /* the K_BEHAVIOUR entries, last in the table */
#define FIRST_BEH_KEY (N_KEYS - N_BEH_KEYS)

extern const key_def hf_config_keys[N_KEYS];

/*--- Where values came from (config.c) ------------------------------------*/

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

/* "output.topic" -> "HIREFIRE_OUTPUT_TOPIC". */
void hf_config_env_name(char *buf, size_t n, const char *key);

/*--- Values (config_values.c) ---------------------------------------------*/

/*
 * Parses value for entry d and, when base is not NULL, stores it into the
 * struct at base (hf_config for K_FIXED, hf_behaviour for K_BEHAVIOUR).
 * On failure writes "must be ..., got "value"" into why.
 */
int hf_config_store_value(const key_def *d, const char *value, void *base,
                          char *why, size_t n);

/* Strips leading and trailing white space, in place; returns the start. */
char *hf_config_trim(char *s);

/* A decimal int64 without surrounding space; 0 or -1. */
int hf_config_parse_int(const char *s, int64_t *out);

/* 3600000 -> "1h", 1000 -> "1s", 1 -> "1ms". */
void hf_config_format_duration(char *buf, size_t n, int64_t ms);

/* names (NULL-terminated) joined by sep into buf; cut where it does not fit. */
void hf_config_join_names(char *buf, size_t n, const char *const *names,
                          const char *sep);

#define TOPIC_RULE "a Kafka topic name (1-249 of A-Z a-z 0-9 . _ -)"

bool hf_config_is_topic(const char *v);
bool hf_config_is_behaviour_name(const char *s, size_t len);

/* The table's string checks; on failure each writes "must be ..." into why. */
int hf_config_check_topic(const char *v, char *why, size_t n);
int hf_config_check_url_http(const char *v, char *why, size_t n);
int hf_config_check_url_redis(const char *v, char *why, size_t n);
int hf_config_check_key_prefix(const char *v, char *why, size_t n);
int hf_config_check_listen(const char *v, char *why, size_t n);
/* For integers already checked to be in range. */
int hf_config_check_power_of_two(const char *v, char *why, size_t n);

static inline bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static inline bool ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

#endif
