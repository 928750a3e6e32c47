/*
 * cmd_replay.c - `hirefire replay`: events from a file (JSON lines or an
 * Avro container file) or from a Kafka topic range, through the rules, to
 * signals as JSON lines or an Avro container file. No server is needed for
 * files; state is in memory.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cli.h"
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

/* Parses YYYY-MM-DD into a UTC day number. */
static int parse_day(const char *s, int32_t *day)
{
    int64_t ms;
    char buf[64];
    if (strlen(s) != 10)
        return -1;
    snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
    if (hf_parse_rfc3339(buf, strlen(buf), &ms) != 0)
        return -1;
    *day = hf_event_day(ms);
    return 0;
}

typedef struct sink {
    FILE *out;
    hf_avro_writer *avro;
    hf_buf buf;
    int failed;
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
    hf_buf_reset(&k->buf);
    if (hf_json_encode_signal(s, &k->buf) != 0 || hf_buf_append(&k->buf, "\n", 1) != 0) {
        k->failed = 1;
        return;
    }
    if (fwrite(k->buf.data, 1, k->buf.len, k->out) != k->buf.len)
        k->failed = 1;
}

int hf_cmd_replay(int argc, char **argv)
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *input = NULL, *topic = NULL, *brokers = NULL, *from = NULL, *to = NULL;
    const char *output = "-", *format = "json", *dl_path = NULL, *config_path = NULL;
    const char *advance = NULL;
    int quiet = 0, opt;
    char **xs = calloc((size_t)argc + 1, sizeof(char *));
    size_t nxs = 0;
    if (xs == NULL)
        return 1;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":i:t:b:o:d:c:X:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'i': input = optarg; break;
        case 't': topic = optarg; break;
        case 'b': brokers = optarg; break;
        case 'F': from = optarg; break;
        case 'T': to = optarg; break;
        case 'o': output = optarg; break;
        case 'f': format = optarg; break;
        case 'd': dl_path = optarg; break;
        case 'a': advance = optarg; break;
        case 'c': config_path = optarg; break;
        case 'X': xs[nxs++] = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': replay_usage(stdout); free(xs); return 0;
        default:
            free(xs);
            return hf_cli_option_error("replay", opt, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hirefire replay: unexpected argument \"%s\"\n", argv[optind]);
        free(xs);
        return 2;
    }
    if ((input == NULL) == (topic == NULL)) {
        fprintf(stderr, "hirefire replay: give exactly one of --input FILE or --topic T "
                        "(see hirefire replay --help)\n");
        free(xs);
        return 2;
    }
    if (strcmp(format, "json") != 0 && strcmp(format, "avro") != 0) {
        fprintf(stderr, "hirefire replay: --output-format must be json or avro, got \"%s\"\n",
                format);
        free(xs);
        return 2;
    }
    int32_t advance_day = HF_NO_CLOCK;
    if (advance != NULL && parse_day(advance, &advance_day) != 0) {
        fprintf(stderr, "hirefire replay: --advance-to must be a date YYYY-MM-DD, got \"%s\"\n",
                advance);
        free(xs);
        return 2;
    }
    if (input != NULL && (from != NULL || to != NULL || brokers != NULL)) {
        fprintf(stderr, "hirefire replay: --brokers, --from and --to go with --topic\n");
        free(xs);
        return 2;
    }

    hf_config cfg;
    char err[1024];
    int lrc = hf_cli_load_config(&cfg, config_path, xs, nxs);
    free(xs);
    if (lrc != 0) {
        hf_config_destroy(&cfg);
        return lrc;
    }

    hf_engine eng;
    hf_engine_init(&eng, cfg.behaviours, cfg.nbehaviours);

    int rc = 1;
    sink k = {0};
    FILE *dl = NULL;
    if (strcmp(format, "avro") == 0) {
        if (strcmp(output, "-") == 0 && isatty(STDOUT_FILENO)) {
            fprintf(stderr, "hirefire replay: not writing an Avro file to a terminal; use --output FILE\n");
            hf_config_destroy(&cfg);
            return 2;
        }
        k.avro = hf_avro_signal_file_open(output, "deflate", err, sizeof(err));
        if (k.avro == NULL) {
            fprintf(stderr, "hirefire replay: cannot write \"%s\": %s\n", output, err);
            hf_config_destroy(&cfg);
            return 1;
        }
    } else {
        k.out = strcmp(output, "-") == 0 ? stdout : fopen(output, "w");
        if (k.out == NULL) {
            fprintf(stderr, "hirefire replay: cannot write \"%s\": %m\n", output);
            hf_config_destroy(&cfg);
            return 1;
        }
    }
    if (dl_path != NULL) {
        dl = strcmp(dl_path, "-") == 0 ? stderr : fopen(dl_path, "w");
        if (dl == NULL) {
            fprintf(stderr, "hirefire replay: cannot write dead letters to \"%s\": %m\n", dl_path);
            goto out;
        }
    }

    double started = hf_clock_mono_s();
    hf_stream_stats total;
    memset(&total, 0, sizeof(total));
    uint64_t customers = 0;
    if (input != NULL) {
        hf_stream st;
        if (hf_stream_init(&st, &eng, emit_signal, &k) != 0) {
            fprintf(stderr, "hirefire replay: out of memory\n");
            goto out;
        }
        hf_file_replay r = {
            .input = input,
            .dead_letter = dl,
            .progress = !quiet && cfg.replay_progress && isatty(STDERR_FILENO),
            .emit = emit_signal,
            .opaque = &k,
            .advance_to = advance_day,
        };
        if (hf_replay_file(&r, &st, err, sizeof(err)) != 0) {
            fprintf(stderr, "hirefire replay: %s\n", err);
            hf_stream_destroy(&st);
            goto out;
        }
        total = st.stats;
        customers = hf_memstore_count(st.store);
        hf_stream_destroy(&st);
    } else {
        hf_kafka_replay_opts ko = {
            .topics = topic,
            .brokers = brokers,
            .from = from,
            .to = to,
            .dead_letter = dl,
            .advance_to = advance_day,
            .progress = !quiet && cfg.replay_progress && isatty(STDERR_FILENO),
        };
        if (hf_replay_kafka(&cfg, &eng, &ko, emit_signal, &k, &total, &customers, err,
                            sizeof(err)) != 0) {
            fprintf(stderr, "hirefire replay: %s\n", err);
            goto out;
        }
    }
    if (k.failed) {
        fprintf(stderr, "hirefire replay: writing signals to \"%s\" failed\n", output);
        goto out;
    }
    if (!quiet)
        hf_summary_print(stderr, "hirefire replay", &eng, &total, customers, hf_clock_mono_s() - started);
    rc = 0;
out:
    if (k.avro != NULL) {
        if (hf_avro_writer_close(k.avro, err, sizeof(err)) != 0 && rc == 0) {
            fprintf(stderr, "hirefire replay: cannot finish \"%s\": %s\n", output, err);
            rc = 1;
        }
    }
    if (k.out != NULL && fflush(k.out) != 0 && rc == 0) {
        fprintf(stderr, "hirefire replay: writing signals to \"%s\" failed: %m\n", output);
        rc = 1;
    }
    if (k.out != NULL && k.out != stdout)
        fclose(k.out);
    if (dl != NULL && dl != stderr)
        fclose(dl);
    hf_buf_free(&k.buf);
    hf_config_destroy(&cfg);
    return rc;
}
