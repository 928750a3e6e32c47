/*
 * cmd_replay.c - `hirefire replay`: events from a file (JSON lines or an
 * Avro container file) or from a Kafka topic range, through the rules, to
 * signals as JSON lines or an Avro container file. No server is needed for
 * files; state is in memory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/replay_whatif.h"
#include "cmd/summary.h"
#include "codec/codec_avro.h"
#include "codec/codec_json.h"
#include "config/config.h"
#include "core/stream.h"
#include "replay/replay_file.h"
#include "replay/replay_kafka.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"


static void replay_usage(FILE *out)
{
    fprintf(out,
        "Usage: hirefire replay --input FILE|- [options]\n"
        "       hirefire replay --topic T[,T...] --brokers HOST:PORT [options]\n"
        "\n"
        "Runs events through the configured behaviours and writes the hire/fire\n"
        "signals that SEMANTICS.md defines. A file is one stream; each partition\n"
        "of a topic is one stream. State is kept in memory; nothing is committed.\n"
        "\n"
        "Input:\n"
        "  -i, --input FILE|-        JSON lines (one event per line) or an Avro object\n"
        "                            container file (recognised by its magic bytes)\n"
        "  -t, --topic T[,T...]      replay Kafka topic(s) instead (co-partitioned)\n"
        "  -b, --brokers HOST:PORT   bootstrap servers (default: kafka.bootstrap.servers)\n"
        "      --from WHERE          earliest (default), an RFC 3339 time, or P:O,... offsets\n"
        "      --to WHERE            end (default: the end offsets taken at start) or RFC 3339\n"
        "\n"
        "Output:\n"
        "  -o, --output FILE|-       signals (default: standard output)\n"
        "      --output-format F     json (default: one object per line) or avro\n"
        "                            (container file, schemas/switch_signal.avsc)\n"
        "  -d, --dead-letter FILE    invalid events, one JSON object per line with the line\n"
        "                            or record number, the reason and the raw line\n"
        "      --advance-to DATE     at the end, move the clock to DATE (YYYY-MM-DD, UTC),\n"
        "                            processing the expiries due by then\n"
        "  -q, --quiet               no summary and no progress line on stderr\n"
        "\n"
        "For analysts (with --input):\n"
        "      --history FILE        the audience per day and behaviour as CSV: customers\n"
        "                            target at the day's end, hires and fires by cause\n"
        "      --report FILE         one self-contained HTML page: the audience over time,\n"
        "                            hires and fires per week, a table of the counts\n"
        "      --compare FILE        run configuration FILE (B, on the defaults) beside\n"
        "                            this one (A) in the same pass; prints per behaviour\n"
        "                            the signals of each, the customers target at the end\n"
        "                            only in A, only in B and in both, and the first\n"
        "                            signals that differ (also in --history and --report)\n"
        "      --compare-output DIR  also write B's signals (signals_b.jsonl), the\n"
        "                            comparison (comparison.json) and the customer lists\n"
        "                            (<behaviour>.target_only_a.csv, ...) into DIR\n"
        "\n"
        "Configuration:\n"
        "  -c, --config FILE         properties file (see config/hirefire.properties)\n"
        "  -X KEY=VALUE              set one setting (repeatable; wins over file and env)\n"
        "  -h, --help                this text\n"
        "\n"
        "Exit status: 0 done, 1 the input or output failed, 2 usage or configuration error.\n"
        "\n"
        "Settings:\n");
    hf_config_print_help(out);
}

typedef struct sink {
    FILE *out;
    hf_avro_writer *avro;
    hf_buf buf;
    int failed;   /* a signal could not be written: the replay stops */
    int err_no;   /* why (0: out of memory; the Avro writer says its own) */
} sink;

static void emit_signal(void *opaque, const hf_signal *s)
{
    sink *k = opaque;
    if (k->avro != NULL) {
        char why[256];
        if (hf_avro_signal_file_write(k->avro, s, why, sizeof(why)) != 0 && !k->failed) {
            fprintf(stderr, "hirefire replay: cannot write Avro signal: %s\n", why);
            k->failed = 1;
        }
        return;
    }
    if (k->failed)
        return;
    hf_buf_reset(&k->buf);
    if (hf_json_encode_signal(s, &k->buf) != 0 || hf_buf_append(&k->buf, "\n", 1) != 0) {
        k->failed = 1;
        k->err_no = 0;
        return;
    }
    if (fwrite(k->buf.data, 1, k->buf.len, k->out) != k->buf.len) {
        k->failed = 1;
        k->err_no = errno;
    }
}

/* Says why the signals could not be written (the Avro writer said it already). */
static void signal_failure(const char *output, const sink *k)
{
    if (k->avro == NULL)
        fprintf(stderr, "hirefire replay: cannot write signals to \"%s\": %s\n", output,
                k->err_no != 0 ? strerror(k->err_no) : "out of memory");
}


/* The command line of `hirefire replay`. */
typedef struct replay_args {
    const char *input, *topic, *brokers, *from, *to;
    const char *output, *format, *dl_path, *config_path;
    int32_t advance_day; /* HF_NO_CLOCK without --advance-to */
    int quiet;
    hf_whatif_opts whatif; /* --history, --report, --compare */
    char **xs; /* the -X values, owned */
    size_t nxs;
} replay_args;

/* Parses the options into a (a->xs to free). Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, replay_args *a)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"topic", required_argument, NULL, 't'},
        {"brokers", required_argument, NULL, 'b'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"output", required_argument, NULL, 'o'},
        {"output-format", required_argument, NULL, 'f'},
        {"dead-letter", required_argument, NULL, 'd'},
        {"advance-to", required_argument, NULL, 'a'},
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"history", required_argument, NULL, 'H'},
        {"report", required_argument, NULL, 'R'},
        {"compare", required_argument, NULL, 'C'},
        {"compare-output", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *advance = NULL;
    int opt;
    a->output = "-";
    a->format = "json";
    a->advance_day = HF_NO_CLOCK;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":i:t:b:o:d:c:X:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'i': a->input = optarg; break;
        case 't': a->topic = optarg; break;
        case 'b': a->brokers = optarg; break;
        case 'F': a->from = optarg; break;
        case 'T': a->to = optarg; break;
        case 'o': a->output = optarg; break;
        case 'f': a->format = optarg; break;
        case 'd': a->dl_path = optarg; break;
        case 'a': advance = optarg; break;
        case 'c': a->config_path = optarg; break;
        case 'X': a->xs[a->nxs++] = optarg; break;
        case 'q': a->quiet = 1; break;
        case 'H': a->whatif.history = optarg; break;
        case 'R': a->whatif.report = optarg; break;
        case 'C': a->whatif.compare = optarg; break;
        case 'D': a->whatif.compare_dir = optarg; break;
        case 'h': replay_usage(stdout); return 0;
        default:
            return hf_cli_option_error("replay", opt, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hirefire replay: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if ((a->input == NULL) == (a->topic == NULL)) {
        fprintf(stderr, "hirefire replay: give exactly one of --input FILE or --topic T "
                        "(see hirefire replay --help)\n");
        return 2;
    }
    if (strcmp(a->format, "json") != 0 && strcmp(a->format, "avro") != 0) {
        fprintf(stderr, "hirefire replay: --output-format must be json or avro, got \"%s\"\n",
                a->format);
        return 2;
    }
    if (advance != NULL && hf_cli_parse_day(advance, &a->advance_day) != 0) {
        fprintf(stderr, "hirefire replay: --advance-to must be a date YYYY-MM-DD, got \"%s\"\n",
                advance);
        return 2;
    }
    if (a->topic != NULL && (a->whatif.history != NULL || a->whatif.report != NULL ||
                             a->whatif.compare != NULL)) {
        fprintf(stderr, "hirefire replay: --history, --report and --compare replay a file: "
                        "give --input FILE\n");
        return 2;
    }
    if (a->whatif.compare_dir != NULL && a->whatif.compare == NULL) {
        fprintf(stderr, "hirefire replay: --compare-output DIR goes with --compare FILE\n");
        return 2;
    }
    if (a->input != NULL && (a->from != NULL || a->to != NULL || a->brokers != NULL)) {
        fprintf(stderr, "hirefire replay: --brokers, --from and --to go with --topic\n");
        return 2;
    }
    return -1;
}

/* Opens the signal output. Returns -1 to go on, else the exit status (nothing is open). */
static int output_open(const replay_args *a, sink *k)
{
    char err[1024];
    if (strcmp(a->format, "avro") == 0) {
        if (strcmp(a->output, "-") == 0 && isatty(STDOUT_FILENO)) {
            fprintf(stderr, "hirefire replay: not writing an Avro file to a terminal; use --output FILE\n");
            return 2;
        }
        k->avro = hf_avro_signal_file_open(a->output, "deflate", err, sizeof(err));
        if (k->avro == NULL) {
            fprintf(stderr, "hirefire replay: cannot write \"%s\": %s\n", a->output, err);
            return 1;
        }
        return -1;
    }
    k->out = strcmp(a->output, "-") == 0 ? stdout : fopen(a->output, "w");
    if (k->out == NULL) {
        fprintf(stderr, "hirefire replay: cannot write \"%s\": %m\n", a->output);
        return 1;
    }
    return -1;
}

/* Opens the dead letters' file when --dead-letter asks for one. 0, or -1 after printing why. */
static int dead_letters_open(const replay_args *a, FILE **dl)
{
    if (a->dl_path == NULL)
        return 0;
    *dl = strcmp(a->dl_path, "-") == 0 ? stderr : fopen(a->dl_path, "w");
    if (*dl == NULL) {
        fprintf(stderr, "hirefire replay: cannot write dead letters to \"%s\": %m\n",
                a->dl_path);
        return -1;
    }
    return 0;
}

/* Finishes the outputs; returns rc, or 1 when finishing them fails after a success. */
static int sinks_close(const replay_args *a, sink *k, FILE *dl, int rc)
{
    char err[1024];
    if (k->avro != NULL) {
        if (hf_avro_writer_close(k->avro, err, sizeof(err)) != 0 && rc == 0) {
            fprintf(stderr, "hirefire replay: cannot finish \"%s\": %s\n", a->output, err);
            rc = 1;
        }
    }
    if (k->out != NULL && fflush(k->out) != 0 && rc == 0) {
        fprintf(stderr, "hirefire replay: writing signals to \"%s\" failed: %m\n", a->output);
        rc = 1;
    }
    if (k->out != NULL && k->out != stdout)
        fclose(k->out);
    if (dl != NULL && dl != stderr && fclose(dl) != 0 && rc == 0) {
        fprintf(stderr, "hirefire replay: cannot write dead letters to \"%s\": %m\n", a->dl_path);
        rc = 1;
    }
    hf_buf_free(&k->buf);
    return rc;
}

/* The file replay: one stream (and B's with --compare). Returns 0, or -1 (a failure) or
 * -2 (a configuration error) after printing why. */
static int replay_input(const replay_args *a, const hf_config *cfg, const hf_engine *eng,
                        sink *k, FILE *dl, hf_stream_stats *total, uint64_t *customers)
{
    char err[1024];
    hf_stream st;
    hf_signal_fn emit = emit_signal;
    void *opaque = k;
    int wrc;
    hf_whatif *w = hf_whatif_new(&a->whatif, eng, &st, &emit, &opaque, &wrc);
    if (wrc != 0)
        return wrc == 2 ? -2 : -1;
    if (hf_stream_init(&st, eng, emit, opaque) != 0) {
        fprintf(stderr, "hirefire replay: out of memory\n");
        hf_whatif_destroy(w);
        return -1;
    }
    hf_file_replay r = {
        .input = a->input,
        .dead_letter = dl,
        .dead_letter_path = a->dl_path,
        .abort = &k->failed,
        .progress = !a->quiet && cfg->replay_progress && isatty(STDERR_FILENO),
        .emit = emit,
        .opaque = opaque,
        .advance_to = a->advance_day,
    };
    r.also = hf_whatif_streams(w, &r.nalso);
    int rc = hf_replay_file(&r, &st, err, sizeof(err));
    if (k->failed) {
        signal_failure(a->output, k);
        rc = -1;
    } else if (rc != 0) {
        fprintf(stderr, "hirefire replay: %s\n", err);
    } else {
        rc = hf_whatif_finish(w) != 0 ? -1 : 0;
    }
    *total = st.stats;
    *customers = hf_memstore_count(st.store);
    hf_stream_destroy(&st);
    hf_whatif_destroy(w);
    return rc;
}

/* The topic replay: a stream per partition. Returns 0, or -1 after printing why. */
static int replay_topic(const replay_args *a, const hf_config *cfg, const hf_engine *eng,
                        sink *k, FILE *dl, hf_stream_stats *total, uint64_t *customers)
{
    char err[1024];
    hf_kafka_replay_opts ko = {
        .topics = a->topic,
        .brokers = a->brokers,
        .from = a->from,
        .to = a->to,
        .dead_letter = dl,
        .advance_to = a->advance_day,
        .progress = !a->quiet && cfg->replay_progress && isatty(STDERR_FILENO),
    };
    if (hf_replay_kafka(cfg, eng, &ko, emit_signal, k, total, customers, err,
                        sizeof(err)) != 0) {
        fprintf(stderr, "hirefire replay: %s\n", err);
        return -1;
    }
    return 0;
}

/* The replay and its summary. Returns 0, or -1 or -2 (as replay_input) after printing why. */
static int replay_run(const replay_args *a, const hf_config *cfg, const hf_engine *eng,
                      sink *k, FILE *dl)
{
    double started = hf_clock_mono_s();
    hf_stream_stats total;
    memset(&total, 0, sizeof(total));
    uint64_t customers = 0;
    int rc = a->input != NULL ? replay_input(a, cfg, eng, k, dl, &total, &customers)
                              : replay_topic(a, cfg, eng, k, dl, &total, &customers);
    if (rc != 0)
        return rc;
    if (k->failed) {
        signal_failure(a->output, k);
        return -1;
    }
    if (!a->quiet)
        hf_summary_print(stderr, "hirefire replay", eng, &total, customers,
                         hf_clock_mono_s() - started);
    return 0;
}

int hf_cmd_replay(int argc, char **argv)
{
    replay_args a = {0};
    a.xs = calloc((size_t)argc + 1, sizeof(char *));
    if (a.xs == NULL)
        return 1;
    int prc = parse_args(argc, argv, &a);
    if (prc >= 0) {
        free(a.xs);
        return prc;
    }

    hf_config cfg;
    a.whatif.input = a.input;
    a.whatif.config = a.config_path != NULL ? a.config_path : "the defaults";
    a.whatif.quiet = a.quiet;
    int lrc = hf_cli_load_config(&cfg, a.config_path, a.xs, a.nxs);
    free(a.xs);
    if (lrc != 0) {
        hf_config_destroy(&cfg);
        return lrc;
    }

    hf_engine eng;
    hf_engine_init(&eng, cfg.behaviours, cfg.nbehaviours);

    int same = hf_cli_refuse_input("replay", a.input, "--output", a.output);
    if (same < 0)
        same = hf_cli_refuse_input("replay", a.input, "--dead-letter", a.dl_path);
    if (same < 0)
        same = hf_cli_refuse_input("replay", a.input, "--history", a.whatif.history);
    if (same < 0)
        same = hf_cli_refuse_input("replay", a.input, "--report", a.whatif.report);
    if (same >= 0) {
        hf_config_destroy(&cfg);
        return same;
    }
    sink k = {0};
    int orc = output_open(&a, &k);
    if (orc >= 0) {
        hf_config_destroy(&cfg);
        return orc;
    }
    FILE *dl = NULL;
    int rc = dead_letters_open(&a, &dl) != 0 ? 1 : replay_run(&a, &cfg, &eng, &k, dl);
    rc = rc == -2 ? 2 : rc != 0 ? 1 : 0;
    rc = sinks_close(&a, &k, dl, rc);
    hf_config_destroy(&cfg);
    return rc;
}
