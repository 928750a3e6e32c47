/*
 * cmd_gen.c - `hirefire gen`: synthetic customer journeys (gen.h) to a JSON
 * lines file, an Avro container file or a Kafka topic.
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

static int parse_date(const char *s, int64_t *ms)
{
    char buf[64];
    if (strlen(s) != 10)
        return -1;
    snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
    return hf_parse_rfc3339(buf, strlen(buf), ms);
}

int hf_cmd_gen(int argc, char **argv)
{
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
    hf_gen_opts go = {.seed = 1, .customers = 10000, .events = 100000,
                      .start_ms = 1704067200000LL /* 2024-01-01 */};
    uint64_t rate = 0, v;
    const char *format = "json", *output = NULL, *topic = NULL,
               *brokers = NULL, *config_path = NULL;
    int32_t schema_id = 1;
    int quiet = 0;
    char *overrides[MAX_OVERRIDES];
    size_t noverrides = 0;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":s:n:e:r:f:o:t:b:c:X:qh", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 's':
            if (hf_cli_parse_u64(optarg, 0, UINT64_MAX, &go.seed) != 0)
                goto bad_value;
            break;
        case 'n':
            if (hf_cli_parse_u64(optarg, 1, UINT32_MAX, &v) != 0)
                goto bad_value;
            go.customers = (uint32_t)v;
            break;
        case 'e':
            if (hf_cli_parse_u64(optarg, 0, UINT64_MAX / 2, &go.events) != 0)
                goto bad_value;
            break;
        case 'r':
            if (hf_cli_parse_u64(optarg, 1, UINT32_MAX, &rate) != 0)
                goto bad_value;
            break;
        case OPT_START:
            if (parse_date(optarg, &go.start_ms) != 0) {
                fprintf(stderr, "hirefire gen: --start must be a date YYYY-MM-DD, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'f':
            format = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'b':
            brokers = optarg;
            break;
        case OPT_SCHEMA_ID:
            if (hf_cli_parse_u64(optarg, 0, INT32_MAX, &v) != 0)
                goto bad_value;
            schema_id = (int32_t)v;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'X':
            if (noverrides == MAX_OVERRIDES) {
                fprintf(stderr, "hirefire gen: too many -X options (at most %d)\n",
                        MAX_OVERRIDES);
                return 2;
            }
            overrides[noverrides++] = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            gen_usage(stdout);
            return 0;
        default:
            return hf_cli_option_error("gen", c, argv);
        }
        continue;
    bad_value:
        for (const struct option *o = longopts; o->name != NULL; o++)
            if (o->val == c)
                fprintf(stderr, "hirefire gen: --%s: invalid value \"%s\"\n",
                        o->name, optarg);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "hirefire gen: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    hf_sink_format fmt;
    if (strcmp(format, "json") == 0) {
        fmt = HF_SINK_JSON;
    } else if (strcmp(format, "avro") == 0) {
        fmt = HF_SINK_AVRO;
    } else {
        fprintf(stderr, "hirefire gen: --format must be json or avro, got \"%s\"\n", format);
        return 2;
    }
    if (topic != NULL && output != NULL) {
        fprintf(stderr, "hirefire gen: give --output or --topic, not both\n");
        return 2;
    }
    if (topic == NULL && brokers != NULL) {
        fprintf(stderr, "hirefire gen: --brokers needs --topic\n");
        return 2;
    }

    char err[1024];
    hf_config cfg;
    if (hf_config_load(&cfg, config_path, environ, overrides, noverrides, err,
                       sizeof(err)) != 0) {
        fprintf(stderr, "hirefire gen: %s\n", err);
        hf_config_destroy(&cfg);
        return 2;
    }

    int rc = 0;
    hf_gen *g = hf_gen_new(&go);
    hf_gen_sink *sink = NULL;
    if (g == NULL) {
        fprintf(stderr, "hirefire gen: out of memory\n");
        rc = 1;
        goto out;
    }
    sink = topic ? hf_gen_sink_kafka_open(&cfg, brokers, topic, fmt, schema_id,
                                          err, sizeof(err))
                 : hf_gen_sink_file_open(output ? output : "-", fmt, go.seed,
                                         err, sizeof(err));
    if (sink == NULL) {
        fprintf(stderr, "hirefire gen: %s\n", err);
        rc = 1;
        goto out;
    }

    double t0 = hf_clock_mono_s();
    hf_event e;
    uint64_t n = 0;
    while (hf_gen_next(g, &e)) {
        if (hf_gen_sink_write(sink, &e, err, sizeof(err)) != 0) {
            fprintf(stderr, "hirefire gen: %s\n", err);
            rc = 1;
            break;
        }
        n++;
        /* Paced about every millisecond's worth of events. */
        if (rate > 0 && (n % (rate < 1000 ? 1 : rate / 1000)) == 0) {
            double ahead = (double)n / (double)rate - (hf_clock_mono_s() - t0);
            if (ahead > 0.001)
                hf_gen_sink_wait(sink, (int)(ahead * 1000));
        }
    }
    if (rc == 0 && !quiet) {
        hf_gen_stats st;
        hf_gen_get_stats(g, &st);
        double secs = hf_clock_mono_s() - t0;
        fprintf(stderr,
                "generated %" PRIu64 " events (%" PRIu64 " purchases, %" PRIu64
                " returns, %" PRIu64 " late) of %" PRIu64 " customers in %.2f s%s%s%s\n",
                n, st.purchases, st.returns, st.late, st.customers_seen, secs,
                topic ? " to topic " : "", topic ? topic : "", topic ? ":" : "");
    }
    int close_rc = hf_gen_sink_close(sink, (quiet || topic == NULL) ? NULL : stderr,
                                     NULL, err, sizeof(err));
    sink = NULL;
    if (close_rc != 0 && rc == 0) {
        fprintf(stderr, "hirefire gen: %s\n", err);
        rc = 1;
    }
out:
    hf_gen_sink_close(sink, NULL, NULL, err, sizeof(err));
    hf_gen_destroy(g);
    hf_config_destroy(&cfg);
    return rc;
}
