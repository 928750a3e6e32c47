/*
 * cmd_run.c - `hirefire run`: process the input topics live (live/pipeline.h)
 * until SIGINT/SIGTERM (or --max-idle-ms), then print the run summary; the
 * operations endpoint (ops/http.h: /metrics, /healthz, /readyz) on http.listen.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cli.h"
#include "cmd/summary.h"
#include "config/config.h"
#include "core/engine.h"
#include "live/pipeline.h"
#include "ops/http.h"
#include "ops/metrics.h"
#include "util/clock.h"
#include "util/log.h"


static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/*
 * Readiness for /readyz, asked on the HTTP server's thread: the pipeline is
 * published here once made (and withdrawn before it is destroyed); before
 * that nothing is assigned.
 */
typedef struct readiness {
    _Atomic(hf_pipeline *) pipeline;
} readiness;

static int ready_cb(void *opaque, char *why, size_t why_size)
{
    readiness *r = opaque;
    hf_pipeline *p = atomic_load(&r->pipeline);
    if (p == NULL) {
        snprintf(why, why_size, "no partitions assigned");
        return 0;
    }
    return hf_pipeline_ready(p, why, why_size);
}

static void run_usage(FILE *out)
{
    fprintf(out,
        "Usage: hirefire run --config FILE [-X KEY=VALUE ...] [--max-idle-ms MS]\n"
        "\n"
        "Consumes input.topics as a member of a consumer group (kafka.group.id,\n"
        "default \"hirefire\"; cooperative-sticky rebalancing), applies the\n"
        "configured behaviours per partition, and publishes hire/fire signals to\n"
        "output.topic keyed by customer_id. Input that cannot be processed goes to\n"
        "dead_letter.topic with the reason in the hirefire.error header.\n"
        "\n"
        "store.backend=redis (the default, \"auto\"): each partition's customers,\n"
        "applied offsets and an outbox of its output live in Redis (redis.url),\n"
        "written once per partition batch by one fenced transaction. With\n"
        "processing.guarantee=exactly_once (the default) the batch's signals and\n"
        "dead letters are then published in one Kafka transaction with the input\n"
        "offsets: read_committed consumers see each exactly once, across crashes,\n"
        "rebalances and Redis or broker restarts. at_least_once: no transactions,\n"
        "repeats keep their signal_id. The transactional.id is\n"
        "\"<group.id>-<client.id>\", or \"<group.id>-<host name>\" without a\n"
        "kafka.client.id: several instances on one host need their own client.id.\n"
        "While Redis is unavailable the input is paused and /readyz says so.\n"
        "\n"
        "store.backend=memory: state is kept in memory; when a partition is\n"
        "assigned, its messages before the committed offset are re-read to rebuild\n"
        "the state, without output; offsets are committed after delivery.\n"
        "\n"
        "SIGINT or SIGTERM stops polling, finishes the open batch, delivers the\n"
        "signals, commits and leaves the group; the exit status is then 0.\n"
        "\n"
        "With http.listen set (default 127.0.0.1:9464; empty: off), serves\n"
        "/metrics (Prometheus text), /healthz (200 while running) and /readyz\n"
        "(200 once partitions are assigned, else 503 with the reason).\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE         properties file (see config/hirefire.properties)\n"
        "  -X KEY=VALUE              set one setting (repeatable; wins over file and env),\n"
        "                            e.g. -X kafka.bootstrap.servers=127.0.0.1:9092\n"
        "      --max-idle-ms MS      stop like on SIGTERM once every assigned partition\n"
        "                            has been at its end for MS milliseconds (for demos\n"
        "                            and tests; default: run until stopped)\n"
        "  -q, --quiet               no summary on stderr\n"
        "  -h, --help                this text\n"
        "\n"
        "Exit status: 0 stopped cleanly, 1 Kafka or delivery failure (nothing more\n"
        "committed), 2 usage or configuration error.\n"
        "\n"
        "Settings:\n");
    hf_config_print_help(out);
}

/* The command line of `hirefire run`. */
typedef struct run_args {
    const char *config_path;
    int64_t max_idle_ms;
    int quiet;
    char **xs; /* the -X values, owned */
    size_t nxs;
} run_args;

/* Parses the options into a (a->xs to free). Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, run_args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"max-idle-ms", required_argument, NULL, 'I'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t idle;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:X:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': a->config_path = optarg; break;
        case 'X': a->xs[a->nxs++] = optarg; break;
        case 'q': a->quiet = 1; break;
        case 'I':
            if (hf_cli_parse_u64(optarg, 1, INT64_MAX, &idle) != 0) {
                fprintf(stderr, "hirefire run: --max-idle-ms must be an integer >= 1, got \"%s\"\n",
                        optarg);
                return 2;
            }
            a->max_idle_ms = (int64_t)idle;
            break;
        case 'h': run_usage(stdout); return 0;
        default:
            return hf_cli_option_error("run", opt, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hirefire run: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    return -1;
}

/*
 * Starts the operations endpoint when http.listen is set: liveness while the
 * pipeline connects. Returns 0, or 1 after printing why.
 */
static int endpoint_start(const hf_config *cfg, readiness *ready, hf_metrics **metrics,
                          hf_http **http)
{
    char err[1024];
    if (cfg->http_listen[0] == '\0')
        return 0;
    *metrics = hf_metrics_new();
    if (*metrics == NULL || hf_metrics_build_info(*metrics) == NULL) {
        fprintf(stderr, "hirefire run: out of memory\n");
        hf_metrics_destroy(*metrics);
        *metrics = NULL;
        return 1;
    }
    *http = hf_http_start(cfg->http_listen, *metrics, ready_cb, ready, err, sizeof(err));
    if (*http == NULL) {
        fprintf(stderr, "hirefire run: %s\n", err);
        hf_metrics_destroy(*metrics);
        *metrics = NULL;
        return 1;
    }
    return 0;
}

static void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A write to a closed Redis connection (hiredis does not ask for
     * MSG_NOSIGNAL) must fail with EPIPE, not kill the process: the store
     * then sees the outage and waits it out. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static void summary_print(hf_pipeline *p, const hf_engine *eng, double started)
{
    hf_stream_stats stats;
    hf_pipeline_counters c;
    uint64_t customers;
    hf_pipeline_stats(p, &stats, &c, &customers);
    hf_summary_print(stderr, "hirefire run", eng, &stats, customers, hf_clock_mono_s() - started);
    fprintf(stderr,
            "hirefire run: %" PRIu64 " messages (%" PRIu64 " re-read), %" PRIu64
            " signals, %" PRIu64 " dead letters, %" PRIu64 " in a foreign partition, %"
            PRIu64 " commits\n",
            c.messages, c.restored, c.signals, c.dead_letters, c.wrong_partition,
            c.commits);
}

int hf_cmd_run(int argc, char **argv)
{
    run_args a = {0};
    a.xs = calloc((size_t)argc + 1, sizeof(char *));
    if (a.xs == NULL)
        return 1;
    int prc = parse_args(argc, argv, &a);
    if (prc >= 0) {
        free(a.xs);
        return prc;
    }

    hf_config cfg;
    char err[1024];
    int lrc = hf_cli_load_config(&cfg, a.config_path, a.xs, a.nxs);
    free(a.xs);
    if (lrc != 0) {
        hf_config_destroy(&cfg);
        return lrc;
    }
    if (cfg.store_backend == HF_STORE_MEMORY &&
        cfg.processing_guarantee == HF_GUARANTEE_EXACTLY_ONCE)
        hf_log_warn("run", "processing.guarantee=exactly_once needs store.backend=redis: "
                           "running at_least_once with the memory store");

    hf_engine eng;
    hf_engine_init(&eng, cfg.behaviours, cfg.nbehaviours);

    hf_metrics *metrics = NULL;
    hf_http *http = NULL;
    readiness ready;
    atomic_init(&ready.pipeline, NULL);
    if (endpoint_start(&cfg, &ready, &metrics, &http) != 0) {
        hf_config_destroy(&cfg);
        return 1;
    }

    hf_pipeline_opts po = {.max_idle_ms = a.max_idle_ms, .stop = &stop_requested,
                           .metrics = metrics};
    hf_pipeline *p = hf_pipeline_new(&cfg, &eng, &po, err, sizeof(err));
    if (p == NULL) {
        fprintf(stderr, "hirefire run: %s\n", err);
        hf_http_stop(http);
        hf_metrics_destroy(metrics);
        hf_config_destroy(&cfg);
        return 1;
    }
    atomic_store(&ready.pipeline, p);
    signals_install();

    double started = hf_clock_mono_s();
    int rc = hf_pipeline_run(p, err, sizeof(err)) == 0 ? 0 : 1;
    if (rc != 0)
        fprintf(stderr, "hirefire run: %s\n", err);
    if (!a.quiet)
        summary_print(p, &eng, started);
    hf_http_stop(http); /* no more readiness calls: the pipeline may go */
    atomic_store(&ready.pipeline, NULL);
    hf_pipeline_destroy(p);
    hf_metrics_destroy(metrics);
    hf_config_destroy(&cfg);
    return rc;
}
