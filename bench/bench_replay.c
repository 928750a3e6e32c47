/*
 * bench_replay.c - replay throughput and state size.
 *
 * Generates N synthetic events (hirefire gen's journeys) into a JSON-lines
 * file and an Avro container file, then measures, in the same run:
 *   decode    reading and decoding the file alone (the baseline),
 *   replay    the whole replay path: decode, the engine, signals encoded as
 *             JSON lines (written to an in-memory buffer);
 * and prints events/s for each, the ratio replay/decode, and the encoded
 * state size per customer at the end (mean, median, p90, max).
 *
 * Usage: bench_replay [--events N] [--customers N] [--dir DIR] [--config FILE]
 * Defaults: 5,000,000 events, 500,000 customers, $TMPDIR or /tmp,
 * config/hirefire.properties' behaviours when --config is given, else the
 * default behaviour. Targets: Avro >= 1,000,000 events/s, JSON >= 300,000
 * events/s, a typical customer < 64 bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec_avro.h"
#include "codec/codec_json.h"
#include "config/config.h"
#include "core/stream.h"
#include "gen/gen.h"
#include "replay/replay_file.h"
#include "util/buf.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct sink {
    hf_buf buf;
    uint64_t signals;
} sink;

static void on_signal(void *opaque, const hf_signal *s)
{
    sink *k = opaque;
    if (k->buf.len > (1u << 20))
        hf_buf_reset(&k->buf);
    hf_json_encode_signal(s, &k->buf);
    hf_buf_append(&k->buf, "\n", 1);
    k->signals++;
}

static int write_inputs(const char *json_path, const char *avro_path,
                        uint64_t events, uint32_t customers)
{
    hf_gen_opts o = {.seed = 42, .customers = customers, .events = events,
                     .start_ms = 1577836800000LL /* 2020-01-01 */};
    hf_gen *g = hf_gen_new(&o);
    FILE *jf = fopen(json_path, "w");
    char err[256];
    hf_avro_writer *aw = hf_avro_event_file_open(avro_path, "null", err, sizeof(err));
    if (g == NULL || jf == NULL || aw == NULL) {
        fprintf(stderr, "bench_replay: cannot write the inputs: %s\n", aw ? "open" : err);
        return -1;
    }
    hf_buf b = HF_BUF_INIT;
    hf_event e;
    while (hf_gen_next(g, &e)) {
        hf_buf_reset(&b);
        hf_json_encode_event(&e, &b);
        hf_buf_append(&b, "\n", 1);
        fwrite(b.data, 1, b.len, jf);
        if (hf_avro_event_file_write(aw, &e, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_replay: %s\n", err);
            return -1;
        }
    }
    hf_buf_free(&b);
    hf_gen_destroy(g);
    fclose(jf);
    return hf_avro_writer_close(aw, err, sizeof(err));
}

static double decode_only(const char *path, int avro, uint64_t *n)
{
    double t0 = now_s();
    char why[256];
    hf_event e;
    *n = 0;
    if (avro) {
        hf_avro_file *f = hf_avro_file_open(path, why, sizeof(why));
        if (f == NULL)
            return -1;
        while (hf_avro_file_next(f, &e, why, sizeof(why)) != 0)
            (*n)++;
        hf_avro_file_close(f);
    } else {
        FILE *f = fopen(path, "r");
        hf_json_decoder *d = hf_json_decoder_new();
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) > 0) {
            if (hf_json_decode_event(d, line, (size_t)len, &e, why, sizeof(why)) == 0)
                (*n)++;
        }
        free(line);
        hf_json_decoder_destroy(d);
        fclose(f);
    }
    return now_s() - t0;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct sizes {
    int32_t dead_before; /* days up to this are outside every window */
    size_t *v;
    size_t n;
    size_t *few; /* customers with at most 3 active days in their state */
    size_t nfew;
} sizes;

static void measure(void *opaque, hf_customer *c)
{
    sizes *s = opaque;
    uint8_t buf[4096];
    /* As a write does: states are written when an event is applied, which
     * first drops the days that no window can see any more. */
    hf_customer_prune(c, s->dead_before);
    size_t n = hf_state_encode(c, buf, sizeof(buf));
    s->v[s->n++] = n;
    if (c->ndays <= 3)
        s->few[s->nfew++] = n;
}

static int replay(const hf_engine *eng, const char *path, const char *label,
                  double decode_s, uint64_t n, int report_sizes)
{
    sink k = {HF_BUF_INIT, 0};
    hf_stream st;
    char err[256];
    hf_stream_init(&st, eng, on_signal, &k);
    hf_file_replay r = {.input = path, .emit = on_signal, .opaque = &k,
                        .advance_to = HF_NO_CLOCK};
    double t0 = now_s();
    if (hf_replay_file(&r, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_replay: %s\n", err);
        return -1;
    }
    double t = now_s() - t0;
    printf("%-5s decode only: %10.0f events/s   replay: %10.0f events/s   "
           "replay/decode: %.2f   (%llu events, %llu signals, %.2f s)\n",
           label, (double)n / decode_s, (double)st.stats.read / t,
           decode_s / t, (unsigned long long)st.stats.read,
           (unsigned long long)k.signals, t);
    if (report_sizes) {
        size_t nc = hf_memstore_count(st.store) + 1;
        sizes s = {(int32_t)((int64_t)st.clock - eng->max_window),
                   calloc(nc, sizeof(size_t)), 0, calloc(nc, sizeof(size_t)), 0};
        hf_memstore_foreach(st.store, measure, &s);
        qsort(s.v, s.n, sizeof(size_t), cmp_size);
        qsort(s.few, s.nfew, sizeof(size_t), cmp_size);
        double sum = 0;
        for (size_t i = 0; i < s.n; i++)
            sum += (double)s.v[i];
        printf("state: %zu customers, encoded bytes per customer: mean %.1f, "
               "median %zu, p90 %zu, max %zu (target: typical < 64)\n",
               s.n, sum / (double)s.n, s.v[s.n / 2], s.v[s.n * 9 / 10], s.v[s.n - 1]);
        if (s.nfew > 0)
            printf("state: %zu customers with at most 3 active days: median %zu bytes, "
                   "p90 %zu\n", s.nfew, s.few[s.nfew / 2], s.few[s.nfew * 9 / 10]);
        free(s.v);
        free(s.few);
    }
    hf_stream_destroy(&st);
    hf_buf_free(&k.buf);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t events = 5000000;
    uint32_t customers = 500000;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *config = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--events") == 0)
            events = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--customers") == 0)
            customers = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--config") == 0)
            config = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_replay [--events N] [--customers N] [--dir DIR] "
                            "[--config FILE]\n");
            return 2;
        }
    }
    hf_config cfg;
    char err[512];
    if (hf_config_load(&cfg, config, NULL, NULL, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_replay: %s\n", err);
        return 2;
    }
    hf_engine eng;
    hf_engine_init(&eng, cfg.behaviours, cfg.nbehaviours);
    char json_path[4096], avro_path[4096];
    snprintf(json_path, sizeof(json_path), "%s/hirefire-bench-%d.jsonl", dir, (int)getpid());
    snprintf(avro_path, sizeof(avro_path), "%s/hirefire-bench-%d.avro", dir, (int)getpid());
    printf("bench_replay: %llu events, %u customers, %u behaviours\n",
           (unsigned long long)events, customers, eng.n);
    fflush(stdout);
    int rc = write_inputs(json_path, avro_path, events, customers);
    uint64_t n;
    if (rc == 0) {
        double d = decode_only(avro_path, 1, &n);
        rc = replay(&eng, avro_path, "avro", d, n, 1);
    }
    if (rc == 0) {
        double d = decode_only(json_path, 0, &n);
        rc = replay(&eng, json_path, "json", d, n, 0);
    }
    unlink(json_path);
    unlink(avro_path);
    hf_config_destroy(&cfg);
    return rc == 0 ? 0 : 1;
}
