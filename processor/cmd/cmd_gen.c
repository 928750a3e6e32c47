/*
 * cmd_gen.c - `hirefire gen`: synthetic customer journeys (gen.h) to a JSON
 * lines file, an Avro container file or a Kafka topic. The steps: the
 * options (parse_args), the configuration, then run.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cli.h"
#include "codec/codec_json.h"
#include "config/config.h"
#include "gen/gen.h"
#include "util/clock.h"

extern char **environ;

#define MAX_OVERRIDES 256

static void gen_usage(FILE *out)
{
    fprintf(out,
        "Usage: hirefire gen [options]\n"
        "\n"
        "Generates realistic synthetic purchase and return events in time order:\n"
        "40%% one-time buyers, 30%% repeat buyers (a purchase every 10-45 days),\n"
        "10%% heavy returners (70%% of orders returned), 20%% lapsing buyers (3-8\n"
        "purchases, then 4-13 months of silence). Customers first buy within the\n"
        "first 180 days; amounts are in cents (EUR); 1%% of events arrive up to\n"
        "3 hours late. The same options give the same bytes.\n"
        "\n"
        "Options:\n"
        "  -s, --seed N              random seed, part of the ids (default 1)\n"
        "  -n, --customers N         customer population (default 10000)\n"
        "  -e, --events N            number of events (default 100000)\n"
        "  -r, --rate N              at most N events per second (default: no limit)\n"
        "      --start YYYY-MM-DD    first day of the journeys, UTC (default 2024-01-01)\n"
        "  -f, --format F            json (default: one object per line) or avro\n"
        "                            (a container file; with --topic: Confluent-framed)\n"
        "  -o, --output FILE|-       write to FILE (default: standard output)\n"
        "  -t, --topic T             produce to Kafka topic T instead (key = customer_id)\n"
        "  -b, --brokers HOST:PORT   bootstrap servers (default: kafka.bootstrap.servers)\n"
        "      --schema-id N         schema id in the Avro frame (default 1)\n"
        "  -c, --config FILE         properties file (for kafka.* settings)\n"
        "  -X KEY=VALUE              set one setting, e.g. -X kafka.acks=all (repeatable)\n"
        "  -q, --quiet               no summary on standard error\n"
        "  -h, --help                this text\n"
        "\n"
        "Exit status: 0 done, 1 the output failed, 2 usage or configuration error.\n");
}

/* A day, YYYY-MM-DD, as the ms of its start. */
static int parse_date(const char *s, int64_t *ms)
{
    int32_t day;
    if (hf_cli_parse_day(s, &day) != 0)
        return -1;
    *ms = (int64_t)day * HF_MS_PER_DAY;
    return 0;
}

enum { OPT_START = 256, OPT_SCHEMA_ID };

static const struct option longopts[] = {
    {"seed", required_argument, NULL, 's'},
    {"customers", required_argument, NULL, 'n'},
    {"events", required_argument, NULL, 'e'},
    {"rate", required_argument, NULL, 'r'},
    {"start", required_argument, NULL, OPT_START},
    {"format", required_argument, NULL, 'f'},
    {"output", required_argument, NULL, 'o'},
    {"topic", required_argument, NULL, 't'},
    {"brokers", required_argument, NULL, 'b'},
    {"schema-id", required_argument, NULL, OPT_SCHEMA_ID},
    {"config", required_argument, NULL, 'c'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The command line of `hirefire gen`. */
typedef struct gen_args {
    hf_gen_opts go;
    uint64_t rate;       /* events per second, 0: no limit */
    const char *format, *output, *topic, *brokers, *config_path;
    hf_sink_format fmt;
    int32_t schema_id;
    int quiet;
    char *overrides[MAX_OVERRIDES];
    size_t noverrides;
} gen_args;

#define GO_ON -1     /* parse_*: no exit status yet */
#define BAD_VALUE -2 /* parse_option: optarg is not a valid value */

/* Applies option c; GO_ON, BAD_VALUE or an exit status. */
static int parse_option(int c, gen_args *a, char **argv)
{
    uint64_t v;
    switch (c) {
    case 's':
        return hf_cli_parse_u64(optarg, 0, UINT64_MAX, &a->go.seed) != 0 ? BAD_VALUE : GO_ON;
    case 'n':
        if (hf_cli_parse_u64(optarg, 1, UINT32_MAX, &v) != 0)
            return BAD_VALUE;
        a->go.customers = (uint32_t)v;
        return GO_ON;
    case 'e':
        return hf_cli_parse_u64(optarg, 0, UINT64_MAX / 2, &a->go.events) != 0 ? BAD_VALUE
                                                                               : GO_ON;
    case 'r':
        return hf_cli_parse_u64(optarg, 1, UINT32_MAX, &a->rate) != 0 ? BAD_VALUE : GO_ON;
    case OPT_START:
        if (parse_date(optarg, &a->go.start_ms) != 0) {
            fprintf(stderr, "hirefire gen: --start must be a date YYYY-MM-DD, got \"%s\"\n",
                    optarg);
            return 2;
        }
        return GO_ON;
    case 'f':
        a->format = optarg;
        return GO_ON;
    case 'o':
        a->output = optarg;
        return GO_ON;
    case 't':
        a->topic = optarg;
        return GO_ON;
    case 'b':
        a->brokers = optarg;
        return GO_ON;
    case OPT_SCHEMA_ID:
        if (hf_cli_parse_u64(optarg, 0, INT32_MAX, &v) != 0)
            return BAD_VALUE;
        a->schema_id = (int32_t)v;
        return GO_ON;
    case 'c':
        a->config_path = optarg;
        return GO_ON;
    case 'X':
        if (a->noverrides == MAX_OVERRIDES) {
            fprintf(stderr, "hirefire gen: too many -X options (at most %d)\n",
                    MAX_OVERRIDES);
            return 2;
        }
        a->overrides[a->noverrides++] = optarg;
        return GO_ON;
    case 'q':
        a->quiet = 1;
        return GO_ON;
    case 'h':
        gen_usage(stdout);
        return 0;
    default:
        return hf_cli_option_error("gen", c, argv);
    }
}

/* The options and their checks across each other; GO_ON or an exit status. */
static int parse_args(int argc, char **argv, gen_args *a)
{
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":s:n:e:r:f:o:t:b:c:X:qh", longopts,
                            NULL)) != -1) {
        int rc = parse_option(c, a, argv);
        if (rc == BAD_VALUE) {
            for (const struct option *o = longopts; o->name != NULL; o++)
                if (o->val == c)
                    fprintf(stderr, "hirefire gen: --%s: invalid value \"%s\"\n",
                            o->name, optarg);
            return 2;
        }
        if (rc != GO_ON)
            return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "hirefire gen: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (strcmp(a->format, "json") == 0) {
        a->fmt = HF_SINK_JSON;
    } else if (strcmp(a->format, "avro") == 0) {
        a->fmt = HF_SINK_AVRO;
    } else {
        fprintf(stderr, "hirefire gen: --format must be json or avro, got \"%s\"\n",
                a->format);
        return 2;
    }
    if (a->topic != NULL && a->output != NULL) {
        fprintf(stderr, "hirefire gen: give --output or --topic, not both\n");
        return 2;
    }
    if (a->topic == NULL && a->brokers != NULL) {
        fprintf(stderr, "hirefire gen: --brokers needs --topic\n");
        return 2;
    }
    return GO_ON;
}

/* Writes g's events to sink, paced to a->rate; counts them in *n.
 * Returns 0, or 1 after reporting a write error. */
static int write_events(const gen_args *a, hf_gen *g, hf_gen_sink *sink,
                        double t0, uint64_t *n)
{
    char err[1024];
    hf_event e;
    uint64_t rate = a->rate;
    while (hf_gen_next(g, &e)) {
        if (hf_gen_sink_write(sink, &e, err, sizeof(err)) != 0) {
            fprintf(stderr, "hirefire gen: %s\n", err);
            return 1;
        }
        (*n)++;
        /* Paced about every millisecond's worth of events. */
        if (rate > 0 && (*n % (rate < 1000 ? 1 : rate / 1000)) == 0) {
            double ahead = (double)*n / (double)rate - (hf_clock_mono_s() - t0);
            if (ahead > 0.001)
                hf_gen_sink_wait(sink, (int)(ahead * 1000));
        }
    }
    return 0;
}

/* Generates the events into the sink of a; returns the exit status. */
static int run(const gen_args *a, const hf_config *cfg)
{
    char err[1024];
    int rc = 0;
    const char *topic = a->topic;
    hf_gen *g = hf_gen_new(&a->go);
    hf_gen_sink *sink = NULL;
    if (g == NULL) {
        fprintf(stderr, "hirefire gen: out of memory\n");
        rc = 1;
        goto out;
    }
    sink = topic ? hf_gen_sink_kafka_open(cfg, a->brokers, topic, a->fmt, a->schema_id,
                                          err, sizeof(err))
                 : hf_gen_sink_file_open(a->output ? a->output : "-", a->fmt, a->go.seed,
                                         err, sizeof(err));
    if (sink == NULL) {
        fprintf(stderr, "hirefire gen: %s\n", err);
        rc = 1;
        goto out;
    }

    double t0 = hf_clock_mono_s();
    uint64_t n = 0;
    rc = write_events(a, g, sink, t0, &n);
    if (rc == 0 && !a->quiet) {
        hf_gen_stats st;
        hf_gen_get_stats(g, &st);
        double secs = hf_clock_mono_s() - t0;
        fprintf(stderr,
                "generated %" PRIu64 " events (%" PRIu64 " purchases, %" PRIu64
                " returns, %" PRIu64 " late) of %" PRIu64 " customers in %.2f s%s%s%s\n",
                n, st.purchases, st.returns, st.late, st.customers_seen, secs,
                topic ? " to topic " : "", topic ? topic : "", topic ? ":" : "");
    }
    int close_rc = hf_gen_sink_close(sink, (a->quiet || topic == NULL) ? NULL : stderr,
                                     NULL, err, sizeof(err));
    sink = NULL;
    if (close_rc != 0 && rc == 0) {
        fprintf(stderr, "hirefire gen: %s\n", err);
        rc = 1;
    }
out:
    hf_gen_sink_close(sink, NULL, NULL, err, sizeof(err));
    hf_gen_destroy(g);
    return rc;
}

int hf_cmd_gen(int argc, char **argv)
{
    gen_args a = {.go = {.seed = 1, .customers = 10000, .events = 100000,
                         .start_ms = 1704067200000LL /* 2024-01-01 */},
                  .format = "json", .schema_id = 1};
    int rc = parse_args(argc, argv, &a);
    if (rc != GO_ON)
        return rc;

    char err[1024];
    hf_config cfg;
    if (hf_config_load(&cfg, a.config_path, environ, a.overrides, a.noverrides, err,
                       sizeof(err)) != 0) {
        fprintf(stderr, "hirefire gen: %s\n", err);
        hf_config_destroy(&cfg);
        return 2;
    }
    rc = run(&a, &cfg);
    hf_config_destroy(&cfg);
    return rc;
}
