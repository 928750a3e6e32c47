/*
 * config_docs.c - the settings table in words: the --help text, the
 * README's configuration reference (Markdown) and the dump of the effective
 * settings with the origin of each value and secrets masked.
 */
#include "config/config_int.h"

#include <stdio.h>
#include <string.h>

/*--- Documentation --------------------------------------------------------*/

/* "string", "one of avro, json", "integer 0..2147483647", ... */
static void type_text(char *buf, size_t n, const key_def *d)
{
    char names[128], lo[32], hi[32];
    switch (d->type) {
    case V_STRING:
        snprintf(buf, n, "%s",
                 d->check == hf_config_check_topic ? "topic"
                 : d->check == hf_config_check_listen ? "host:port"
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
        hf_config_format_duration(lo, sizeof(lo), d->min);
        hf_config_format_duration(hi, sizeof(hi), d->max);
        snprintf(buf, n, "duration %s..%s", lo, hi);
        break;
    case V_BOOL:
        snprintf(buf, n, "boolean");
        break;
    case V_ENUM:
        hf_config_join_names(names, sizeof(names), d->names, ", ");
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
        const key_def *d = &hf_config_keys[k];
        char type[160], env[128];
        type_text(type, sizeof(type), d);
        fprintf(fp, "\n  %s (%s", d->key, type);
        if (d->def)
            fprintf(fp, ", default \"%s\"", d->def);
        if (d->kind == K_FIXED) {
            hf_config_env_name(env, sizeof(env), d->key);
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
        const key_def *d = &hf_config_keys[k];
        char type[160], env[128] = "";
        type_text(type, sizeof(type), d);
        if (d->kind == K_FIXED)
            hf_config_env_name(env, sizeof(env), d->key);
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
        const key_def *d = &hf_config_keys[k];
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
                    const key_def *bd = &hf_config_keys[FIRST_BEH_KEY + j];
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
