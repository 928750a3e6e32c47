/*
 * replay_whatif.c - `hirefire replay --history / --report / --compare`: the
 * second configuration's engine and stream, the chain of signal taps, and
 * the files written at the end.
 */
#include "cmd/replay_whatif.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "analyst/compare.h"
#include "analyst/history.h"
#include "analyst/report.h"
#include "codec/codec_json.h"
#include "config/config.h"
#include "util/buf.h"

struct hf_whatif {
    hf_whatif_opts o;
    const hf_engine *eng_a;
    hf_stream *st_a;
    hf_config cfg_b;
    hf_engine eng_b;
    hf_stream st_b;
    int has_b;
    hf_stream *also[1];
    hf_history *hist[2];
    hf_compare *cmp;
    FILE *signals_b;          /* DIR/signals_b.jsonl */
    hf_buf buf;
    int b_failed;
};

#define PROG "hirefire replay"

/* B's signals as JSON lines into DIR/signals_b.jsonl. */
static void emit_b(void *opaque, const hf_signal *s)
{
    hf_whatif *w = opaque;
    hf_buf_reset(&w->buf);
    if (hf_json_encode_signal(s, &w->buf) != 0 || hf_buf_append(&w->buf, "\n", 1) != 0 ||
        fwrite(w->buf.data, 1, w->buf.len, w->signals_b) != w->buf.len)
        w->b_failed = 1;
}

static FILE *open_in(const char *dir, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fprintf(stderr, PROG ": cannot write \"%s\": %s\n", path, strerror(errno));
    return f;
}

/* Configuration B: the defaults and the --compare file. 0, or 2 after printing why. */
static int load_b(hf_whatif *w)
{
    char err[1024];
    if (hf_config_init(&w->cfg_b) != 0 ||
        hf_config_load_file(&w->cfg_b, w->o.compare, err, sizeof(err)) != 0 ||
        hf_config_finish(&w->cfg_b, err, sizeof(err)) != 0) {
        fprintf(stderr, PROG ": --compare: %s\n", err);
        return 2;
    }
    hf_engine_init(&w->eng_b, w->cfg_b.behaviours, w->cfg_b.nbehaviours);
    return 0;
}

/* B's stream and output, and the comparison's taps. 0, or 1 or 2 after printing why. */
static int set_up_b(hf_whatif *w, hf_signal_fn *emit, void **opaque)
{
    int rc = load_b(w);
    if (rc != 0)
        return rc;
    struct stat sb;
    if (w->o.compare_dir != NULL &&
        (stat(w->o.compare_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        fprintf(stderr, PROG ": --compare-output \"%s\" is not a directory\n", w->o.compare_dir);
        return 2;
    }
    char path[4096];
    if (w->o.compare_dir != NULL &&
        (w->signals_b = open_in(w->o.compare_dir, "signals_b.jsonl", path, sizeof(path))) == NULL)
        return 1;
    w->cmp = hf_compare_new(w->eng_a, &w->eng_b, *emit, *opaque,
                            w->signals_b != NULL ? emit_b : NULL, w);
    if (w->cmp == NULL)
        return -1;
    *emit = hf_compare_signal_a;
    *opaque = w->cmp;
    hf_signal_fn emit_b_head = hf_compare_signal_b;
    void *opaque_b = w->cmp;
    if (w->o.history != NULL || w->o.report != NULL) {
        w->hist[1] = hf_history_new(&w->eng_b, &w->st_b, emit_b_head, opaque_b);
        if (w->hist[1] == NULL)
            return -1;
        emit_b_head = hf_history_signal;
        opaque_b = w->hist[1];
    }
    if (hf_stream_init(&w->st_b, &w->eng_b, emit_b_head, opaque_b) != 0)
        return -1;
    w->has_b = 1;
    w->also[0] = &w->st_b;
    return 0;
}

hf_whatif *hf_whatif_new(const hf_whatif_opts *o, const hf_engine *eng, hf_stream *st,
                         hf_signal_fn *emit, void **opaque, int *rc)
{
    *rc = 0;
    if (o->history == NULL && o->report == NULL && o->compare == NULL)
        return NULL;
    hf_whatif *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        *rc = 1;
        return NULL;
    }
    w->o = *o;
    w->eng_a = eng;
    w->st_a = st;
    int r = o->compare != NULL ? set_up_b(w, emit, opaque) : 0;
    if (r == 0 && (o->history != NULL || o->report != NULL)) {
        w->hist[0] = hf_history_new(eng, st, *emit, *opaque);
        if (w->hist[0] == NULL)
            r = -1;
        else {
            *emit = hf_history_signal;
            *opaque = w->hist[0];
        }
    }
    if (r != 0) {
        if (r < 0)
            fprintf(stderr, PROG ": out of memory\n");
        *rc = r < 0 ? 1 : r;
        hf_whatif_destroy(w);
        return NULL;
    }
    return w;
}

hf_stream *const *hf_whatif_streams(hf_whatif *w, size_t *n)
{
    *n = w != NULL && w->has_b ? 1 : 0;
    return w != NULL ? w->also : NULL;
}

static int write_history(hf_whatif *w)
{
    char err[512];
    FILE *f = fopen(w->o.history, "w");
    if (f == NULL) {
        fprintf(stderr, PROG ": cannot write \"%s\": %s\n", w->o.history, strerror(errno));
        return 1;
    }
    int rc = hf_history_write_csv(&w->hist[0], 1, "A", 1, f, err, sizeof(err));
    if (rc == 0 && w->hist[1] != NULL)
        rc = hf_history_write_csv(&w->hist[1], 1, "B", 0, f, err, sizeof(err));
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, sizeof(err), "%s", strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot write \"%s\": %s\n", w->o.history, err);
        return 1;
    }
    return 0;
}

static int write_report(hf_whatif *w)
{
    char err[512], when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    hf_report_run runs[2] = {
        {"A", w->o.config, w->eng_a, &w->hist[0], 1},
        {"B", w->o.compare, &w->eng_b, &w->hist[1], 1},
    };
    hf_report rep = {w->o.input, when, runs, w->has_b ? 2 : 1};
    FILE *f = fopen(w->o.report, "w");
    if (f == NULL) {
        fprintf(stderr, PROG ": cannot write \"%s\": %s\n", w->o.report, strerror(errno));
        return 1;
    }
    int rc = hf_report_write_html(&rep, f, err, sizeof(err));
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, sizeof(err), "%s", strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot write \"%s\": %s\n", w->o.report, err);
        return 1;
    }
    return 0;
}

static int write_comparison(hf_whatif *w)
{
    char err[1024], path[4096] = "";
    FILE *json = NULL;
    if (w->o.compare_dir != NULL &&
        (json = open_in(w->o.compare_dir, "comparison.json", path, sizeof(path))) == NULL)
        return 1;
    if (!w->o.quiet)
        fprintf(stderr, "%s: A = %s, B = %s\n", PROG, w->o.config, w->o.compare);
    int rc = hf_compare_finish(w->cmp, w->st_a, &w->st_b, w->o.quiet ? NULL : stderr, json,
                               w->o.compare_dir, err, sizeof(err));
    if (json != NULL && fclose(json) != 0 && rc == 0) {
        snprintf(err, sizeof(err), "cannot write \"%s\": %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && w->signals_b != NULL) {
        int failed = w->b_failed || fflush(w->signals_b) != 0;
        fclose(w->signals_b);
        w->signals_b = NULL;
        if (failed) {
            snprintf(err, sizeof(err), "cannot write \"%s/signals_b.jsonl\": %s",
                     w->o.compare_dir, strerror(errno));
            rc = -1;
        }
    }
    if (rc != 0) {
        fprintf(stderr, PROG ": --compare: %s\n", err);
        return 1;
    }
    return 0;
}

int hf_whatif_finish(hf_whatif *w)
{
    if (w == NULL)
        return 0;
    for (int i = 0; i < 2; i++)
        if (w->hist[i] != NULL && hf_history_finish(w->hist[i]) != 0) {
            fprintf(stderr, PROG ": out of memory\n");
            return 1;
        }
    if (w->o.history != NULL && write_history(w) != 0)
        return 1;
    if (w->o.report != NULL && write_report(w) != 0)
        return 1;
    if (w->cmp != NULL && write_comparison(w) != 0)
        return 1;
    return 0;
}

void hf_whatif_destroy(hf_whatif *w)
{
    if (w == NULL)
        return;
    if (w->has_b)
        hf_stream_destroy(&w->st_b);
    hf_history_destroy(w->hist[0]);
    hf_history_destroy(w->hist[1]);
    hf_compare_destroy(w->cmp);
    if (w->signals_b != NULL)
        fclose(w->signals_b);
    hf_config_destroy(&w->cfg_b);
    hf_buf_free(&w->buf);
    free(w);
}
