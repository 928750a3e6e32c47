/*
 * cmd_inspect.c - `hirefire inspect`: what Redis holds for a customer or a
 * partition of the consumer group, as JSON. Read-only: it takes no
 * partition (no epoch change) and writes nothing.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cmd/cli.h"
#include "config/config.h"
#include "core/engine.h"
#include "redis/store_redis.h"
#include "util/log.h"


#define DEFAULT_GROUP "hirefire" /* as the live pipeline defaults kafka.group.id */

static void inspect_usage(FILE *out)
{
    fprintf(out,
        "Usage: hirefire inspect customer ID [--behaviour B] [--partition P]\n"
        "                        [--config FILE] [-X KEY=VALUE ...]\n"
        "       hirefire inspect partition P [--config FILE] [-X KEY=VALUE ...]\n"
        "\n"
        "Prints, as JSON, the state that `hirefire run` keeps in Redis (redis.url,\n"
        "keys under redis.key.prefix) for the consumer group kafka.group.id\n"
        "(default \"hirefire\"). Read-only: takes no partition and writes nothing.\n"
        "\n"
        "  customer ID   the customer's window days (aggregates per day) and, per\n"
        "                behaviour, the class, the window metrics and the failing\n"
        "                thresholds at the partition's clock, the next expiry day\n"
        "                (when days leaving the window would change the class or,\n"
        "                for the longest window, when it empties; else null) and\n"
        "                the number of signals so far (flips)\n"
        "  partition P   the partition's epoch, applied offset per input topic,\n"
        "                clock day, outbox, customer count and buckets\n"
        "\n"
        "Options:\n"
        "  -b, --behaviour B   customer: only behaviour B\n"
        "  -p, --partition P   customer: look in partition P only (default: every\n"
        "                      partition of the group found in Redis)\n"
        "  -c, --config FILE   properties file (behaviours must match the run's)\n"
        "  -X KEY=VALUE        set one setting (repeatable)\n"
        "  -h, --help          this text\n"
        "\n"
        "Exit status: 0 found, 1 not found or Redis failed, 2 usage or configuration\n"
        "error.\n");
}

static json_t *day_json(int32_t day)
{
    char date[32];
    time_t t = (time_t)day * 86400;
    struct tm tm;
    if (day == INT32_MIN)
        return json_null();
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d", &tm);
    return json_pack("{s:I, s:s}", "day", (json_int_t)day, "date", date);
}

/* Prints and frees j; -1 when it could not be built (e.g. not UTF-8). */
static int print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (s != NULL)
        printf("%s\n", s);
    free(s);
    json_decref(j);
    return s != NULL ? 0 : -1;
}

static json_t *metrics_json(const hf_window_metrics *m)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "orders", (json_int_t)m->orders,
                     "items", (json_int_t)m->items, "gross_minor", (json_int_t)m->gross_minor,
                     "returned_minor", (json_int_t)m->returned_minor, "net_minor",
                     (json_int_t)m->net_minor, "returns", (json_int_t)m->returns);
}

static json_t *customer_json(const hf_engine *eng, const hf_redis_part *part,
                             const hf_customer *c, const char *key, int only)
{
    json_t *days = json_array();
    for (uint32_t i = 0; i < c->ndays; i++) {
        const hf_day_agg *a = &c->days[i];
        json_t *d = day_json(a->day);
        json_object_set_new(d, "orders", json_integer(a->orders));
        json_object_set_new(d, "items", json_integer(a->items));
        json_object_set_new(d, "gross_minor", json_integer(a->gross_minor));
        json_object_set_new(d, "returns", json_integer(a->returns));
        json_object_set_new(d, "returned_minor", json_integer(a->returned_minor));
        json_array_append_new(days, d);
    }
    json_t *behs = json_array();
    for (uint32_t b = 0; b < eng->n; b++) {
        if (only >= 0 && (uint32_t)only != b)
            continue;
        hf_window_metrics m;
        hf_engine_metrics(eng, c, b, part->clock, &m);
        unsigned failing = hf_behaviour_failing(&eng->behaviours[b], &m);
        json_t *f = json_array();
        for (unsigned bit = 1; bit < (1u << HF_FAIL_COUNT); bit <<= 1)
            if (failing & bit)
                json_array_append_new(f, json_string(hf_fail_name(bit)));
        int32_t due = hf_engine_due(eng, c, b, part->clock);
        json_array_append_new(
            behs, json_pack("{s:s, s:i, s:s, s:o, s:o, s:o, s:I}", "name",
                            eng->behaviours[b].name, "window_days",
                            (int)eng->behaviours[b].window_days, "class",
                            (c->target >> b) & 1u ? "target" : "non-target", "metrics",
                            metrics_json(&m), "failing", f, "next_expiry",
                            due == HF_NO_DUE ? json_null() : day_json(due), "flips",
                            (json_int_t)c->flips[b]));
    }
    return json_pack("{s:s%, s:s, s:i, s:s, s:I, s:o, s:i, s:o, s:o}", "customer_id", c->id,
                     (size_t)c->id_len, "group", part->group, "partition",
                     (int)part->partition, "key", key, "state_bytes",
                     (json_int_t)hf_state_encode(c, NULL, 0), "clock",
                     day_json(part->clock), "recent_event_ids", (int)c->nrecent, "days",
                     days, "behaviours", behs);
}

/* Looks for the customer in one partition: 1 found (printed), 0 not, -1 error. */
static int find_in(hf_redis *r, const hf_engine *eng, const char *group, int32_t p,
                   const char *id, int only)
{
    char err[1024], key[700];
    hf_redis_part *part = NULL;
    hf_redis_status st = hf_redis_peek(r, group, p, &part, err, sizeof(err));
    if (st != HF_REDIS_OK) {
        fprintf(stderr, "hirefire inspect: %s\n", err);
        return -1;
    }
    if (part == NULL)
        return 0;
    hf_customer *c = NULL;
    st = hf_redis_get_customer(r, part, id, strlen(id), eng->n, &c, key, sizeof(key), err,
                               sizeof(err));
    if (st != HF_REDIS_OK) {
        fprintf(stderr, "hirefire inspect: %s\n", err);
        hf_redis_part_destroy(part);
        return -1;
    }
    int rc = c != NULL;
    if (c != NULL && print_json(customer_json(eng, part, c, key, only)) != 0) {
        fprintf(stderr, "hirefire inspect: cannot print customer \"%s\" as JSON "
                "(its id or a behaviour name is not UTF-8)\n", id);
        rc = -1;
    }
    hf_customer_destroy(c);
    hf_redis_part_destroy(part);
    return rc;
}

static int inspect_customer(hf_redis *r, const hf_config *cfg, const char *group,
                            const char *id, int32_t partition, const char *behaviour)
{
    hf_engine eng;
    hf_engine_init(&eng, cfg->behaviours, cfg->nbehaviours);
    int only = -1;
    if (behaviour != NULL) {
        for (uint32_t b = 0; b < eng.n; b++)
            if (strcmp(eng.behaviours[b].name, behaviour) == 0)
                only = (int)b;
        if (only < 0) {
            fprintf(stderr, "hirefire inspect: unknown behaviour \"%s\" (configured:",
                    behaviour);
            for (uint32_t b = 0; b < eng.n; b++)
                fprintf(stderr, "%s %s", b ? "," : "", eng.behaviours[b].name);
            fprintf(stderr, ")\n");
            return 2;
        }
    }
    if (partition >= 0) {
        int rc = find_in(r, &eng, group, partition, id, only);
        if (rc == 0)
            fprintf(stderr, "hirefire inspect: customer \"%s\" not found in partition %" PRId32
                    " of group \"%s\"\n", id, partition, group);
        return rc == 1 ? 0 : 1;
    }
    int32_t *parts = NULL;
    size_t n = 0;
    char err[1024];
    if (hf_redis_partitions(r, group, &parts, &n, err, sizeof(err)) != HF_REDIS_OK) {
        fprintf(stderr, "hirefire inspect: %s\n", err);
        return 1;
    }
    if (n == 0) {
        fprintf(stderr, "hirefire inspect: group \"%s\" has no state in Redis at %s "
                "(redis.key.prefix \"%s\")\n", group, hf_redis_address(r),
                cfg->redis_key_prefix);
        free(parts);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = find_in(r, &eng, group, parts[i], id, only);
        if (rc != 0) {
            free(parts);
            return rc == 1 ? 0 : 1;
        }
    }
    fprintf(stderr, "hirefire inspect: customer \"%s\" not found in group \"%s\" "
            "(partitions searched:", id, group);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s %" PRId32, i ? "," : "", parts[i]);
    fprintf(stderr, ")\n");
    free(parts);
    return 1;
}

static int inspect_partition(hf_redis *r, const hf_config *cfg, const char *group,
                             int32_t p)
{
    char err[1024];
    hf_redis_part *part = NULL;
    uint64_t outbox = 0, small = 0, big = 0;
    hf_redis_status st = hf_redis_peek(r, group, p, &part, err, sizeof(err));
    if (st == HF_REDIS_OK && part == NULL) {
        fprintf(stderr, "hirefire inspect: partition %" PRId32 " of group \"%s\" has no "
                "state in Redis at %s (redis.key.prefix \"%s\")\n", p, group,
                hf_redis_address(r), cfg->redis_key_prefix);
        return 1;
    }
    if (st == HF_REDIS_OK)
        st = hf_redis_outbox_len(r, part, &outbox, err, sizeof(err));
    if (st == HF_REDIS_OK)
        st = hf_redis_count(r, part, &small, &big, err, sizeof(err));
    if (st != HF_REDIS_OK) {
        fprintf(stderr, "hirefire inspect: %s\n", err);
        hf_redis_part_destroy(part);
        return 1;
    }
    json_t *applied = json_object();
    for (size_t i = 0; i < part->napplied; i++)
        json_object_set_new(applied, part->applied[i].topic,
                            json_integer(part->applied[i].offset));
    int prc = print_json(json_pack("{s:s, s:i, s:s, s:I, s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:i}",
                         "group", group, "partition", (int)p, "key_tag", part->tag,
                         "epoch", (json_int_t)part->epoch, "batch",
                         (json_int_t)part->batch, "clock", day_json(part->clock),
                         "applied", applied, "outbox_seq", (json_int_t)part->outbox_seq,
                         "outbox_length", (json_int_t)outbox, "customers",
                         (json_int_t)part->customers, "customers_compact",
                         (json_int_t)small, "customers_big", (json_int_t)big, "buckets",
                         (int)hf_redis_part_nbuckets(part)));
    hf_redis_part_destroy(part);
    if (prc != 0) {
        fprintf(stderr, "hirefire inspect: cannot print partition %" PRId32 " as JSON "
                "(a group or topic name is not UTF-8)\n", p);
        return 1;
    }
    return 0;
}

static int parse_partition(const char *s, int32_t *out)
{
    uint64_t v;
    if (hf_cli_parse_u64(s, 0, INT32_MAX, &v) != 0)
        return -1;
    *out = (int32_t)v;
    return 0;
}

int hf_cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"behaviour", required_argument, NULL, 'b'},
        {"partition", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *behaviour = NULL;
    int32_t partition = -1;
    int opt, rc = 2;
    char **xs = calloc((size_t)argc + 1, sizeof(char *));
    size_t nxs = 0;
    if (xs == NULL)
        return 1;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:X:b:p:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'X': xs[nxs++] = optarg; break;
        case 'b': behaviour = optarg; break;
        case 'p':
            if (parse_partition(optarg, &partition) != 0) {
                fprintf(stderr, "hirefire inspect: --partition must be a partition number "
                        "(0 or more), got \"%s\"\n", optarg);
                free(xs);
                return 2;
            }
            break;
        case 'h': inspect_usage(stdout); free(xs); return 0;
        default:
            free(xs);
            return hf_cli_option_error("inspect", opt, argv);
        }
    }
    const char *what = optind < argc ? argv[optind] : NULL;
    const char *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
    int32_t p = -1;
    if (what == NULL || (strcmp(what, "customer") != 0 && strcmp(what, "partition") != 0)) {
        if (what == NULL)
            fprintf(stderr, "hirefire inspect: say what to inspect: customer ID or partition P "
                    "(see hirefire inspect --help)\n");
        else
            fprintf(stderr, "hirefire inspect: unknown subject \"%s\": expected customer or "
                    "partition\n", what);
        free(xs);
        return 2;
    }
    if (arg == NULL || arg[0] == '\0') {
        fprintf(stderr, "hirefire inspect: %s needs %s\n", what,
                what[0] == 'c' ? "a customer id" : "a partition number");
        free(xs);
        return 2;
    }
    if (optind + 2 < argc) {
        fprintf(stderr, "hirefire inspect: unexpected argument \"%s\"\n", argv[optind + 2]);
        free(xs);
        return 2;
    }
    if (what[0] == 'p') {
        if (parse_partition(arg, &p) != 0) {
            fprintf(stderr, "hirefire inspect: partition must be a partition number (0 or "
                    "more), got \"%s\"\n", arg);
            free(xs);
            return 2;
        }
        if (behaviour != NULL || partition >= 0) {
            fprintf(stderr, "hirefire inspect: --behaviour and --partition are for "
                    "inspect customer\n");
            free(xs);
            return 2;
        }
    }

    hf_config cfg;
    char err[1024];
    int lrc = hf_cli_load_config(&cfg, path, xs, nxs);
    free(xs);
    if (lrc != 0) {
        hf_config_destroy(&cfg);
        return lrc;
    }
    const char *group = hf_config_kafka_get(&cfg, "group.id");
    if (group == NULL || group[0] == '\0')
        group = DEFAULT_GROUP;
    hf_redis *r = hf_redis_open(&cfg, err, sizeof(err));
    if (r == NULL) {
        fprintf(stderr, "hirefire inspect: %s\n", err);
        hf_config_destroy(&cfg);
        return 1;
    }
    if (what[0] == 'c')
        rc = inspect_customer(r, &cfg, group, arg, partition, behaviour);
    else
        rc = inspect_partition(r, &cfg, group, p);
    hf_redis_close(r);
    hf_config_destroy(&cfg);
    return rc;
}
