/*
 * cmd_produce.c - `hirefire produce`: loads an event file (JSON lines or an
 * Avro container file) into a Kafka topic, keyed by customer_id, as
 * Confluent-framed Avro or JSON values. The steps: the options
 * (parse_args), the configuration, the schema id and checks (prepare), then
 * the input to the producer (run).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "codec/codec_avro.h"
#include "codec/codec_json.h"
#include "codec/registry.h"
#include "config/config.h"
#include "gen/gen.h"

extern char **environ;

#define MAX_OVERRIDES 256
#define SHOWN_INVALID 20

static void produce_usage(FILE *out)
{
    fprintf(out,
        "Usage: hirefire produce --input FILE|- --topic T [options]\n"
        "\n"
        "Loads events into a Kafka topic: key = customer_id, value = the event as\n"
        "Confluent-framed Avro (schemas/customer_event.avsc) or as JSON. Messages go\n"
        "to partitions by librdkafka's consistent_random partitioner (CRC-32 of the\n"
        "key; not the Java client's murmur2), the one hirefire checks customers\n"
        "against. Invalid events are reported on standard error with their line or\n"
        "record number and skipped. A summary per partition ends the run.\n"
        "\n"
        "Options:\n"
        "  -i, --input FILE|-        JSON lines (one event per line) or an Avro object\n"
        "                            container file (recognised by its magic bytes)\n"
        "  -t, --topic T             the topic (it must exist)\n"
        "  -b, --brokers HOST:PORT   bootstrap servers (default: kafka.bootstrap.servers)\n"
        "  -f, --format F            avro (default) or json\n"
        "      --schema-id N         schema id in the Avro frame (default 1; without it\n"
        "                            and with schema.registry.url set, the schema is\n"
        "                            registered under subject <topic>-value and the\n"
        "                            registry's id is used)\n"
        "      --schema-dir DIR      also write the schema to DIR/<id>.avsc, for\n"
        "                            input.schema.dir\n"
        "  -c, --config FILE         properties file (kafka.*, schema.registry.url)\n"
        "  -X KEY=VALUE              set one setting, e.g. -X kafka.acks=all (repeatable)\n"
        "  -q, --quiet               no summary on standard error\n"
        "  -h, --help                this text\n"
        "\n"
        "Exit status: 0 done (also when invalid events were skipped), 1 the input,\n"
        "the registry or Kafka failed, 2 usage or configuration error.\n");
}

/* One run: the sink and the invalid events skipped so far. */
typedef struct run_state {
    hf_gen_sink *sink;
    uint64_t invalid;
    int quiet;
} run_state;

static void report_invalid(run_state *r, const char *what, int64_t n, const char *why)
{
    if (r->invalid++ < SHOWN_INVALID)
        fprintf(stderr, "hirefire produce: %s %" PRId64 ": %s (skipped)\n", what, n, why);
    else if (r->invalid == SHOWN_INVALID + 1)
        fprintf(stderr, "hirefire produce: further invalid events are counted, not shown\n");
}

/* Writes the event schema to dir/<id>.avsc (creating dir). */
static int write_schema(const char *dir, int32_t id, char *errstr,
                        size_t errstr_size)
{
    char path[4096];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(errstr, errstr_size, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%d.avsc", dir, (int)id);
    FILE *fp = fopen(path, "w");
    if (fp == NULL) {
        snprintf(errstr, errstr_size, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    fputs(hf_avro_customer_event_schema_json, fp);
    if (fclose(fp) != 0) {
        snprintf(errstr, errstr_size, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Copies `head` and the rest of fp into a new temporary file; sets path. */
static int spool(FILE *fp, const char *head, size_t head_len, char *path,
                 size_t path_size, char *errstr, size_t errstr_size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, path_size, "%s/hirefire-produce-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    FILE *out = fdopen(fd, "wb");
    char buf[65536];
    size_t n;
    int ok = out != NULL && fwrite(head, 1, head_len, out) == head_len;
    while (ok && (n = fread(buf, 1, sizeof(buf), fp)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(fp);
    if (out == NULL || fclose(out) != 0 || !ok) {
        if (out == NULL)
            close(fd);
        snprintf(errstr, errstr_size, "cannot spool standard input to %s", path);
        unlink(path);
        return -1;
    }
    return 0;
}

static int produce_avro_file(run_state *r, const char *path, char *errstr,
                             size_t errstr_size)
{
    char why[1024];
    hf_avro_file *af = hf_avro_file_open(path, why, sizeof(why));
    if (af == NULL) {
        snprintf(errstr, errstr_size, "%s", why);
        return -1;
    }
    int rc = 0;
    hf_event e;
    for (;;) {
        int got = hf_avro_file_next(af, &e, why, sizeof(why));
        if (got == 0)
            break;
        if (got == -1) {
            report_invalid(r, "record", e.source.offset, why);
            continue;
        }
        if (got == -2) {
            snprintf(errstr, errstr_size, "%s", why);
            rc = -1;
            break;
        }
        if (hf_gen_sink_write(r->sink, &e, errstr, errstr_size) != 0) {
            rc = -1;
            break;
        }
    }
    hf_avro_file_close(af);
    return rc;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

static int produce_input(run_state *r, const char *input, char *errstr,
                         size_t errstr_size)
{
    int from_stdin = strcmp(input, "-") == 0;
    FILE *fp = from_stdin ? stdin : fopen(input, "rb");
    if (fp == NULL) {
        snprintf(errstr, errstr_size, "cannot open %s: %s", input, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, fp);
    int rc = 0;
    if (len >= 4 && hf_avro_is_container(line, (size_t)len)) {
        if (from_stdin) {
            char path[4096];
            rc = spool(fp, line, (size_t)len, path, sizeof(path), errstr, errstr_size);
            if (rc == 0) {
                rc = produce_avro_file(r, path, errstr, errstr_size);
                unlink(path);
            }
        } else {
            fclose(fp);
            fp = NULL;
            rc = produce_avro_file(r, input, errstr, errstr_size);
        }
        free(line);
        if (fp != NULL && !from_stdin)
            fclose(fp);
        return rc;
    }

    hf_json_decoder *dec = hf_json_decoder_new();
    if (dec == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        rc = -1;
    }
    char why[1024];
    hf_event e;
    for (int64_t lineno = 1; rc == 0 && len >= 0; lineno++) {
        size_t n = (size_t)len;
        if (!is_blank(line, n)) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
            if (hf_json_decode_event(dec, line, n, &e, why, sizeof(why)) != 0)
                report_invalid(r, "line", lineno, why);
            else if (hf_gen_sink_write(r->sink, &e, errstr, errstr_size) != 0)
                rc = -1;
        }
        len = getline(&line, &cap, fp);
    }
    if (rc == 0 && ferror(fp)) {
        snprintf(errstr, errstr_size, "cannot read %s: %s",
                 from_stdin ? "standard input" : input, strerror(errno));
        rc = -1;
    }
    hf_json_decoder_destroy(dec);
    free(line);
    if (!from_stdin)
        fclose(fp);
    return rc;
}

/* Parses a decimal integer in [0, INT32_MAX]. */
static int parse_id(const char *s, int32_t *out)
{
    char *end;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > INT32_MAX)
        return -1;
    *out = (int32_t)v;
    return 0;
}

enum { OPT_SCHEMA_ID = 256, OPT_SCHEMA_DIR };

static const struct option longopts[] = {
    {"input", required_argument, NULL, 'i'},
    {"topic", required_argument, NULL, 't'},
    {"brokers", required_argument, NULL, 'b'},
    {"format", required_argument, NULL, 'f'},
    {"schema-id", required_argument, NULL, OPT_SCHEMA_ID},
    {"schema-dir", required_argument, NULL, OPT_SCHEMA_DIR},
    {"config", required_argument, NULL, 'c'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The command line of `hirefire produce`. */
typedef struct produce_args {
    const char *input, *topic, *brokers, *format, *schema_dir, *config_path;
    hf_sink_format fmt;
    int32_t schema_id;
    int have_schema_id, quiet;
    char *overrides[MAX_OVERRIDES];
    size_t noverrides;
} produce_args;

#define GO_ON -1 /* parse_*: no exit status yet */

/* Applies option c; GO_ON or an exit status. */
static int parse_option(int c, produce_args *a, char **argv)
{
    switch (c) {
    case 'i':
        a->input = optarg;
        return GO_ON;
    case 't':
        a->topic = optarg;
        return GO_ON;
    case 'b':
        a->brokers = optarg;
        return GO_ON;
    case 'f':
        a->format = optarg;
        return GO_ON;
    case OPT_SCHEMA_ID:
        if (parse_id(optarg, &a->schema_id) != 0) {
            fprintf(stderr, "hirefire produce: --schema-id: invalid value \"%s\"\n",
                    optarg);
            return 2;
        }
        a->have_schema_id = 1;
        return GO_ON;
    case OPT_SCHEMA_DIR:
        a->schema_dir = optarg;
        return GO_ON;
    case 'c':
        a->config_path = optarg;
        return GO_ON;
    case 'X':
        if (a->noverrides == MAX_OVERRIDES) {
            fprintf(stderr, "hirefire produce: too many -X options (at most %d)\n",
                    MAX_OVERRIDES);
            return 2;
        }
        a->overrides[a->noverrides++] = optarg;
        return GO_ON;
    case 'q':
        a->quiet = 1;
        return GO_ON;
    case 'h':
        produce_usage(stdout);
        return 0;
    default:
        return hf_cli_option_error("produce", c, argv);
    }
}

/* The options and their checks across each other; GO_ON or an exit status. */
static int parse_args(int argc, char **argv, produce_args *a)
{
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":i:t:b:f:c:X:qh", longopts, NULL)) != -1) {
        int rc = parse_option(c, a, argv);
        if (rc != GO_ON)
            return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "hirefire produce: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (a->input == NULL || a->topic == NULL) {
        fprintf(stderr, "hirefire produce: --input and --topic are required\n\n");
        produce_usage(stderr);
        return 2;
    }
    if (strcmp(a->format, "avro") == 0) {
        a->fmt = HF_SINK_AVRO;
    } else if (strcmp(a->format, "json") == 0) {
        a->fmt = HF_SINK_JSON;
    } else {
        fprintf(stderr, "hirefire produce: --format must be avro or json, got \"%s\"\n",
                a->format);
        return 2;
    }
    if (a->fmt == HF_SINK_JSON && (a->have_schema_id || a->schema_dir != NULL)) {
        fprintf(stderr, "hirefire produce: --schema-id and --schema-dir need --format avro\n");
        return 2;
    }
    return GO_ON;
}

/*
 * Registers the event schema under <topic>-value and sets a->schema_id to
 * the registry's id. Returns 0, or -1 after reporting the failure.
 */
static int register_schema(produce_args *a, const hf_config *cfg)
{
    char err[1024], subject[1024];
    snprintf(subject, sizeof(subject), "%s-value", a->topic);
    hf_schema_source *reg = hf_schema_source_new(cfg->schema_registry_url, NULL,
                                                 err, sizeof(err));
    if (reg != NULL)
        hf_schema_source_set_timeouts(reg, 2000, cfg->schema_registry_timeout_ms);
    if (reg == NULL || hf_schema_source_register(reg, subject,
                                                 hf_avro_customer_event_schema_json,
                                                 &a->schema_id, err, sizeof(err)) != 0) {
        fprintf(stderr, "hirefire produce: %s\n", err);
        hf_schema_source_destroy(reg);
        return -1;
    }
    if (!a->quiet)
        fprintf(stderr, "schema id %d for subject %s (%s)\n", (int)a->schema_id, subject,
                hf_schema_source_describe(reg));
    hf_schema_source_destroy(reg);
    return 0;
}

/* The schema id (and file) and the input, checked before the producer
 * starts. Returns 0, or -1 after reporting the failure. */
static int prepare(produce_args *a, const hf_config *cfg)
{
    char err[1024];
    if (a->fmt == HF_SINK_AVRO && !a->have_schema_id && cfg->schema_registry_url[0] != '\0' &&
        register_schema(a, cfg) != 0)
        return -1;
    if (a->schema_dir != NULL && write_schema(a->schema_dir, a->schema_id, err,
                                              sizeof(err)) != 0) {
        fprintf(stderr, "hirefire produce: %s\n", err);
        return -1;
    }
    if (strcmp(a->input, "-") != 0 && access(a->input, R_OK) != 0) {
        fprintf(stderr, "hirefire produce: cannot open %s: %s\n", a->input, strerror(errno));
        return -1;
    }
    return 0;
}

/* Produces the input to the topic; returns the exit status. */
static int run(produce_args *a, const hf_config *cfg)
{
    char err[1024];
    int rc = 0;
    run_state r = {.quiet = a->quiet};
    if (prepare(a, cfg) != 0)
        return 1;
    r.sink = hf_gen_sink_kafka_open(cfg, a->brokers, a->topic, a->fmt, a->schema_id, err,
                                    sizeof(err));
    if (r.sink == NULL) {
        fprintf(stderr, "hirefire produce: %s\n", err);
        return 1;
    }
    if (produce_input(&r, a->input, err, sizeof(err)) != 0) {
        fprintf(stderr, "hirefire produce: %s\n", err);
        rc = 1;
    }
    /* Messages accepted before a failure are still delivered. */
    if (!a->quiet)
        fprintf(stderr, "produced to topic %s:\n", a->topic);
    uint64_t sent = 0;
    if (hf_gen_sink_close(r.sink, a->quiet ? NULL : stderr, &sent, err, sizeof(err)) != 0) {
        fprintf(stderr, "hirefire produce: %s\n", err);
        rc = 1;
    }
    r.sink = NULL;
    if (!a->quiet)
        fprintf(stderr, "%" PRIu64 " messages produced, %" PRIu64 " invalid events skipped\n",
                sent, r.invalid);
    return rc;
}

int hf_cmd_produce(int argc, char **argv)
{
    produce_args a = {.format = "avro", .schema_id = 1};
    int rc = parse_args(argc, argv, &a);
    if (rc != GO_ON)
        return rc;

    char err[1024];
    hf_config cfg;
    if (hf_config_load(&cfg, a.config_path, environ, a.overrides, a.noverrides, err,
                       sizeof(err)) != 0) {
        fprintf(stderr, "hirefire produce: %s\n", err);
        hf_config_destroy(&cfg);
        return 2;
    }
    rc = run(&a, &cfg);
    hf_config_destroy(&cfg);
    return rc;
}
