/*
 * cmd_audience.c - `hirefire audience`: the members of each behaviour at a
 * day, or the customers who hired or fired in a period, with the numbers
 * behind them, from a replay of an event file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyst/audience.h"
#include "cmd/cli.h"
#include "codec/codec_json.h"
#include "config/config.h"
#include "core/stream.h"
#include "replay/replay_file.h"

#define MAX_SELECTED 32

static void usage(FILE *out)
{
    fprintf(out,
        "Usage: hirefire audience --input FILE|- [options]\n"
        "\n"
        "Replays FILE through the configured behaviours and lists, per behaviour, the\n"
        "customers who are target at the day (default), non-target, or who hired or\n"
        "fired in a period, with the window metrics at the day: who to interview\n"
        "among the customers with the target behaviour and among those who recently\n"
        "fired. Rows come per behaviour in configuration order, customers in\n"
        "customer_id byte order.\n"
        "\n"
        "Input:\n"
        "  -i, --input FILE|-        JSON lines or an Avro object container file\n"
        "      --as-of YYYY-MM-DD    the input as it stood at the end of that day (UTC):\n"
        "                            the events before the first event of a later day,\n"
        "                            with the clock moved to that day (default: the\n"
        "                            whole input, at its clock)\n"
        "\n"
        "Selection:\n"
        "  -B, --behaviour NAME      this behaviour only (repeatable; default: all)\n"
        "  -s, --status S            target (default), non-target, hired or fired\n"
        "      --since YYYY-MM-DD    hired/fired: signals effective on or after that day\n"
        "      --until YYYY-MM-DD    hired/fired: signals effective on or before that day\n"
        "  -n, --limit N             at most N customers per behaviour (the first by id)\n"
        "      --sample N            a reproducible random sample of N customers per\n"
        "                            behaviour (before --limit)\n"
        "      --seed S              the sample's seed (default 1)\n"
        "\n"
        "Output:\n"
        "  -f, --format F            csv (default, with a header line) or jsonl\n"
        "  -o, --output FILE|-       the rows (default: standard output)\n"
        "  -q, --quiet               no summary on standard error\n"
        "\n"
        "Configuration:\n"
        "  -c, --config FILE         properties file (see config/hirefire.properties)\n"
        "  -X KEY=VALUE              set one setting (repeatable; wins over file and env)\n"
        "  -h, --help                this text\n"
        "\n"
        "Columns: behaviour, customer_id, status, since (the effective time of the\n"
        "signal that put the customer there: the last hire of a target customer, the\n"
        "last fire of a non-target one, empty if none; for hired/fired the last such\n"
        "signal in the period), orders, items, gross_minor, returned_minor, net_minor,\n"
        "returns (the window at the day), failing (the thresholds that do not hold,\n"
        "separated by ';'), days_since_last_event (empty when the last event is older\n"
        "than the longest window). A sample of N is the N customers with the smallest\n"
        "splitmix64(fnv1a64(seed as 8 little-endian bytes, customer_id)).\n"
        "\n"
        "Exit status: 0 done, 1 the input or output failed, 2 usage or configuration error.\n");
}

typedef struct args {
    const char *input, *output, *config;
    char *xs[256];
    size_t nxs;
    const char *behaviours[MAX_SELECTED];
    size_t nbehaviours;
    int has_as_of, quiet, has_period;
    int32_t as_of;
    hf_audience_query q;
} args;

static int day_option(const char *name, const char *value, int32_t *day)
{
    if (hf_cli_parse_day(value, day) == 0)
        return 0;
    fprintf(stderr, "hirefire audience: --%s wants a day as YYYY-MM-DD, got \"%s\"\n", name,
            value);
    return 2;
}

/* Parses the command line into a; 0, 2 (usage error, reported), or -1 (--help). */
static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},  {"as-of", required_argument, NULL, 'A'},
        {"behaviour", required_argument, NULL, 'B'}, {"status", required_argument, NULL, 's'},
        {"since", required_argument, NULL, 'S'},  {"until", required_argument, NULL, 'U'},
        {"limit", required_argument, NULL, 'n'},  {"sample", required_argument, NULL, 'N'},
        {"seed", required_argument, NULL, 'E'},   {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'}, {"quiet", no_argument, NULL, 'q'},
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    a->q = (hf_audience_query){.status = HF_AUDIENCE_TARGET, .since_day = HF_NO_CLOCK,
                               .until_day = HF_NO_CLOCK, .seed = 1};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":i:B:s:n:f:o:qc:X:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'i': a->input = optarg; break;
        case 'o': a->output = optarg; break;
        case 'c': a->config = optarg; break;
        case 'q': a->quiet = 1; break;
        case 'h': return -1;
        case 'A':
            if (day_option("as-of", optarg, &a->as_of) != 0)
                return 2;
            a->has_as_of = 1;
            break;
        case 'S':
        case 'U':
            if (day_option(opt == 'S' ? "since" : "until", optarg,
                           opt == 'S' ? &a->q.since_day : &a->q.until_day) != 0)
                return 2;
            a->has_period = 1;
            break;
        case 'B':
            if (a->nbehaviours == MAX_SELECTED) {
                fprintf(stderr, "hirefire audience: at most %d --behaviour options\n",
                        MAX_SELECTED);
                return 2;
            }
            a->behaviours[a->nbehaviours++] = optarg;
            break;
        case 's':
            if (hf_audience_status_parse(optarg, &a->q.status) != 0) {
                fprintf(stderr, "hirefire audience: --status wants target, non-target, hired "
                                "or fired, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'n':
        case 'N':
        case 'E':
            if (hf_cli_parse_u64(optarg, opt == 'E' ? 0 : 1, UINT64_MAX,
                                 opt == 'n' ? &a->q.limit : opt == 'N' ? &a->q.sample
                                                                       : &a->q.seed) != 0) {
                fprintf(stderr, "hirefire audience: --%s wants a %snumber, got \"%s\"\n",
                        opt == 'n' ? "limit" : opt == 'N' ? "sample" : "seed",
                        opt == 'E' ? "" : "positive ", optarg);
                return 2;
            }
            break;
        case 'f':
            if (strcmp(optarg, "csv") == 0)
                a->q.format = HF_AUDIENCE_CSV;
            else if (strcmp(optarg, "jsonl") == 0)
                a->q.format = HF_AUDIENCE_JSONL;
            else {
                fprintf(stderr, "hirefire audience: --format wants csv or jsonl, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'X':
            if (a->nxs == sizeof(a->xs) / sizeof(a->xs[0])) {
                fprintf(stderr, "hirefire audience: too many -X options\n");
                return 2;
            }
            a->xs[a->nxs++] = optarg;
            break;
        default:
            return hf_cli_option_error("audience", opt, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hirefire audience: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (a->input == NULL) {
        fprintf(stderr, "hirefire audience: --input FILE is required (see --help)\n");
        return 2;
    }
    if (a->has_period && a->q.status != HF_AUDIENCE_HIRED && a->q.status != HF_AUDIENCE_FIRED) {
        fprintf(stderr, "hirefire audience: --since and --until select hired or fired "
                        "customers: add --status hired or --status fired\n");
        return 2;
    }
    if (a->q.since_day != HF_NO_CLOCK && a->q.until_day != HF_NO_CLOCK &&
        a->q.since_day > a->q.until_day) {
        fprintf(stderr, "hirefire audience: --since is after --until\n");
        return 2;
    }
    return 0;
}

/* Maps the --behaviour names to bits of the engine's behaviours; 0 or 2. */
static int select_behaviours(args *a, const hf_engine *eng)
{
    for (size_t i = 0; i < a->nbehaviours; i++) {
        uint32_t b = 0;
        while (b < eng->n && strcmp(eng->behaviours[b].name, a->behaviours[i]) != 0)
            b++;
        if (b == eng->n) {
            fprintf(stderr, "hirefire audience: no behaviour \"%s\" in the configuration "
                            "(it has:", a->behaviours[i]);
            for (uint32_t k = 0; k < eng->n; k++)
                fprintf(stderr, " %s", eng->behaviours[k].name);
            fprintf(stderr, ")\n");
            return 2;
        }
        a->q.behaviours |= 1u << b;
    }
    return 0;
}

/* The output file; NULL after reporting (*rc set). Refuses the input file. */
static FILE *open_output(const args *a, int *rc)
{
    if (a->output == NULL || strcmp(a->output, "-") == 0)
        return stdout;
    if ((*rc = hf_cli_refuse_input("audience", a->input, "--output", a->output)) > 0)
        return NULL;
    *rc = 0;
    FILE *f = fopen(a->output, "w");
    if (f == NULL) {
        fprintf(stderr, "hirefire audience: cannot open output \"%s\": %s\n", a->output,
                strerror(errno));
        *rc = 1;
    }
    return f;
}

static int run(args *a, const hf_engine *eng, FILE *out)
{
    char err[1024];
    hf_audience *aud = hf_audience_new(eng, &a->q);
    hf_stream st;
    if (aud == NULL || hf_stream_init(&st, eng, hf_audience_signal, aud) != 0) {
        hf_audience_destroy(aud);
        fprintf(stderr, "hirefire audience: out of memory\n");
        return 1;
    }
    hf_file_replay r = {.input = a->input, .emit = hf_audience_signal, .opaque = aud,
                        .advance_to = a->has_as_of ? a->as_of : HF_NO_CLOCK,
                        .has_stop = a->has_as_of, .stop_after_day = a->as_of};
    int rc = 0;
    uint64_t rows = 0;
    if (hf_replay_file(&r, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "hirefire audience: %s\n", err);
        rc = 1;
    } else {
        hf_stream *streams[1] = {&st};
        if (hf_audience_write(aud, streams, 1, out, &rows, err, sizeof(err)) != 0) {
            fprintf(stderr, "hirefire audience: cannot write \"%s\": %s\n",
                    a->output != NULL ? a->output : "-", err);
            rc = 1;
        }
    }
    if (rc == 0 && !a->quiet) {
        char day[16] = "none";
        if (st.clock != HF_NO_CLOCK) {
            int64_t ms = (int64_t)st.clock * 86400000;
            time_t t = (time_t)(ms / 1000);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(day, sizeof(day), "%Y-%m-%d", &tm);
        }
        fprintf(stderr, "hirefire audience: %llu rows (%s), day %s, %llu events read, "
                        "%llu customers\n",
                (unsigned long long)rows, hf_audience_status_name(a->q.status), day,
                (unsigned long long)st.stats.read,
                (unsigned long long)hf_memstore_count(st.store));
    }
    hf_stream_destroy(&st);
    hf_audience_destroy(aud);
    return rc;
}

int hf_cmd_audience(int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc == -1) {
        usage(stdout);
        return 0;
    }
    if (rc != 0)
        return rc;
    hf_config cfg;
    rc = hf_cli_load_config(&cfg, a.config, a.xs, a.nxs);
    if (rc != 0) {
        hf_config_destroy(&cfg);
        return rc;
    }
    hf_engine eng;
    hf_engine_init(&eng, cfg.behaviours, cfg.nbehaviours);
    rc = select_behaviours(&a, &eng);
    FILE *out = rc == 0 ? open_output(&a, &rc) : NULL;
    if (out != NULL) {
        rc = run(&a, &eng, out);
        if (out != stdout && fclose(out) != 0 && rc == 0) {
            fprintf(stderr, "hirefire audience: cannot write \"%s\": %s\n", a.output,
                    strerror(errno));
            rc = 1;
        }
    }
    hf_config_destroy(&cfg);
    return rc;
}
