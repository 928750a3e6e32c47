/*
 * metrics.c - counters, gauges and histograms in a thread-safe registry,
 * rendered as Prometheus text (format 0.0.4). hirefire's own metric
 * families and the librdkafka statistics are in hf_metrics.c.
 */
#include "ops/metrics.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/metrics_int.h"

#define MAX_BOUNDS 64

typedef enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM } kind;

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

typedef struct family family;

struct hf_metric {
    family *fam;
    char *labels;              /* validated exposition text, "" = none */
    _Atomic uint64_t value;    /* counter: the count; gauge: double bits */
    atomic_bool absent;        /* gauge: cleared, not rendered */
    _Atomic uint64_t *buckets; /* histogram: n_bounds + 1 counts (last: +Inf),
                                  each for its own bucket only */
    _Atomic uint64_t sum;      /* histogram: double bits */
    hf_metric *next;
};

struct family {
    char *name;
    char *help;
    kind kind;
    double *bounds;
    size_t n_bounds;
    hf_metric *first, *last;
    family *next;
};

struct hf_metrics {
    pthread_mutex_t mu;
    family *first, *last;
    char err[256];
};

/*--- Doubles in atomics -----------------------------------------------------*/

static uint64_t dbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

static double bitsd(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

static void atomic_add_double(_Atomic uint64_t *a, double d)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        a, &old, dbits(bitsd(old) + d), memory_order_relaxed,
        memory_order_relaxed)) {
    }
}

/*--- Registry ---------------------------------------------------------------*/

hf_metrics *hf_metrics_new(void)
{
    hf_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void series_free(hf_metric *s)
{
    free(s->labels);
    free((void *)s->buckets);
    free(s);
}

static void family_free(family *f)
{
    hf_metric *s = f->first;
    while (s) {
        hf_metric *next = s->next;
        series_free(s);
        s = next;
    }
    free(f->name);
    free(f->help);
    free(f->bounds);
    free(f);
}

void hf_metrics_destroy(hf_metrics *m)
{
    if (m == NULL)
        return;
    family *f = m->first;
    while (f) {
        family *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

const char *hf_metrics_error(const hf_metrics *m)
{
    return m ? m->err : "";
}

static bool valid_metric_name(const char *s)
{
    if (s == NULL || !(isalpha((unsigned char)*s) || *s == '_' || *s == ':'))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == ':'))
            return false;
    return true;
}

/*
 * Checks labels (`name="escaped value"` pairs separated by ','). Writes the
 * reason into why and returns -1 when malformed.
 */
static int check_labels(const char *labels, kind k, char *why, size_t n)
{
    const char *p = labels;
    if (p == NULL || *p == '\0')
        return 0;
    for (;;) {
        const char *name = p;
        if (!(isalpha((unsigned char)*p) || *p == '_'))
            goto syntax;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        size_t len = (size_t)(p - name);
        if (len >= 2 && name[0] == '_' && name[1] == '_') {
            snprintf(why, n, "label name \"%.*s\" is reserved", (int)len, name);
            return -1;
        }
        if (k == K_HISTOGRAM && len == 2 && memcmp(name, "le", 2) == 0) {
            snprintf(why, n, "label name \"le\" is reserved for histogram buckets");
            return -1;
        }
        if (p[0] != '=' || p[1] != '"')
            goto syntax;
        p += 2;
        while (*p != '"') {
            if (*p == '\0' || *p == '\n')
                goto syntax;
            if (*p == '\\') {
                if (p[1] != '\\' && p[1] != '"' && p[1] != 'n') {
                    snprintf(why, n, "labels \"%s\": invalid escape at offset %zu",
                             labels, (size_t)(p - labels));
                    return -1;
                }
                p++;
            }
            p++;
        }
        p++;
        if (*p == '\0')
            return 0;
        if (*p != ',')
            goto syntax;
        p++;
    }
syntax:
    snprintf(why, n, "labels \"%s\": expected name=\"value\" at offset %zu",
             labels, (size_t)(p - labels));
    return -1;
}

static family *find_family(hf_metrics *m, const char *name)
{
    for (family *f = m->first; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static hf_metric *find_series(family *f, const char *labels)
{
    for (hf_metric *s = f->first; s; s = s->next)
        if (strcmp(s->labels, labels) == 0)
            return s;
    return NULL;
}

static bool same_bounds(const family *f, const double *b, size_t n)
{
    return f->n_bounds == n && memcmp(f->bounds, b, n * sizeof(*b)) == 0;
}

/* Finds or creates a series. Called with the mutex held. */
static hf_metric *lookup(hf_metrics *m, kind k, const char *name,
                         const char *help, const char *labels,
                         const double *bounds, size_t n_bounds)
{
    if (labels == NULL)
        labels = "";
    if (!valid_metric_name(name)) {
        snprintf(m->err, sizeof(m->err), "metric name \"%s\" is invalid",
                 name ? name : "(null)");
        return NULL;
    }
    char why[200];
    if (check_labels(labels, k, why, sizeof(why)) != 0) {
        snprintf(m->err, sizeof(m->err), "%s: %s", name, why);
        return NULL;
    }
    if (k == K_HISTOGRAM) {
        bool ok = n_bounds >= 1 && n_bounds <= MAX_BOUNDS && bounds != NULL;
        for (size_t i = 0; ok && i < n_bounds; i++)
            ok = isfinite(bounds[i]) && (i == 0 || bounds[i] > bounds[i - 1]);
        if (!ok) {
            snprintf(m->err, sizeof(m->err),
                     "%s: buckets must be finite and strictly increasing "
                     "(1 to %d of them)", name, MAX_BOUNDS);
            return NULL;
        }
    }

    family *f = find_family(m, name);
    if (f != NULL) {
        if (f->kind != k) {
            snprintf(m->err, sizeof(m->err), "%s is a %s, not a %s", name,
                     kind_names[f->kind], kind_names[k]);
            return NULL;
        }
        if (k == K_HISTOGRAM && !same_bounds(f, bounds, n_bounds)) {
            snprintf(m->err, sizeof(m->err),
                     "%s: already registered with other buckets", name);
            return NULL;
        }
        hf_metric *s = find_series(f, labels);
        if (s != NULL)
            return s;
    }

    bool new_family = f == NULL;
    if (new_family) {
        f = calloc(1, sizeof(*f));
        if (f == NULL)
            goto oom;
        f->kind = k;
        f->name = strdup(name);
        f->help = strdup(help ? help : "");
        if (k == K_HISTOGRAM) {
            f->bounds = malloc(n_bounds * sizeof(*bounds));
            if (f->bounds)
                memcpy(f->bounds, bounds, n_bounds * sizeof(*bounds));
            f->n_bounds = n_bounds;
        }
        if (f->name == NULL || f->help == NULL ||
            (k == K_HISTOGRAM && f->bounds == NULL)) {
            family_free(f);
            goto oom;
        }
    }

    hf_metric *s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto oom_family;
    s->fam = f;
    s->labels = strdup(labels);
    if (k == K_HISTOGRAM)
        s->buckets = calloc(f->n_bounds + 1, sizeof(*s->buckets));
    if (s->labels == NULL || (k == K_HISTOGRAM && s->buckets == NULL)) {
        series_free(s);
        goto oom_family;
    }
    atomic_init(&s->value, k == K_GAUGE ? dbits(0.0) : 0);
    atomic_init(&s->absent, false);
    atomic_init(&s->sum, dbits(0.0));
    for (size_t i = 0; k == K_HISTOGRAM && i <= f->n_bounds; i++)
        atomic_init(&s->buckets[i], 0);

    /* Publish: render runs under the same mutex, so plain stores do. */
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    if (new_family) {
        if (m->last)
            m->last->next = f;
        else
            m->first = f;
        m->last = f;
    }
    return s;

oom_family:
    if (new_family)
        family_free(f);
oom:
    snprintf(m->err, sizeof(m->err), "%s: out of memory", name);
    return NULL;
}

static hf_metric *registr(hf_metrics *m, kind k, const char *name,
                          const char *help, const char *labels,
                          const double *bounds, size_t n_bounds)
{
    if (m == NULL)
        return NULL;
    pthread_mutex_lock(&m->mu);
    m->err[0] = '\0';
    hf_metric *s = lookup(m, k, name, help, labels, bounds, n_bounds);
    pthread_mutex_unlock(&m->mu);
    return s;
}

hf_metric *hf_metrics_counter(hf_metrics *m, const char *name,
                              const char *help, const char *labels)
{
    return registr(m, K_COUNTER, name, help, labels, NULL, 0);
}

hf_metric *hf_metrics_gauge(hf_metrics *m, const char *name,
                            const char *help, const char *labels)
{
    return registr(m, K_GAUGE, name, help, labels, NULL, 0);
}

hf_metric *hf_metrics_histogram(hf_metrics *m, const char *name,
                                const char *help, const char *labels,
                                const double *bounds, size_t n_bounds)
{
    return registr(m, K_HISTOGRAM, name, help, labels, bounds, n_bounds);
}

/*--- Updates ------------------------------------------------------------------*/

void hf_metric_add(hf_metric *c, uint64_t n)
{
    if (c == NULL)
        return;
    if (c->fam->kind == K_COUNTER) {
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
    } else if (c->fam->kind == K_GAUGE) {
        atomic_add_double(&c->value, (double)n);
        atomic_store_explicit(&c->absent, false, memory_order_relaxed);
    }
}

void hf_metric_set(hf_metric *g, double v)
{
    if (g == NULL || g->fam->kind != K_GAUGE)
        return;
    atomic_store_explicit(&g->value, dbits(v), memory_order_relaxed);
    atomic_store_explicit(&g->absent, false, memory_order_relaxed);
}

void hf_metric_clear(hf_metric *g)
{
    if (g == NULL || g->fam->kind != K_GAUGE)
        return;
    atomic_store_explicit(&g->absent, true, memory_order_relaxed);
}

void hf_metric_observe(hf_metric *h, double v)
{
    if (h == NULL || h->fam->kind != K_HISTOGRAM || isnan(v))
        return;
    const family *f = h->fam;
    size_t i = 0;
    while (i < f->n_bounds && v > f->bounds[i])
        i++;
    atomic_add_double(&h->sum, v);
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
}

double hf_metric_value(const hf_metric *m)
{
    if (m == NULL)
        return 0;
    /* The atomics are only read; the casts drop const for C11's generic
     * atomic_load, which older compilers declare without const. */
    hf_metric *w = (hf_metric *)m;
    uint64_t u = atomic_load_explicit(&w->value, memory_order_relaxed);
    switch (m->fam->kind) {
    case K_COUNTER: return (double)u;
    case K_GAUGE: return bitsd(u);
    default: return 0;
    }
}

/*--- Rendering ----------------------------------------------------------------*/

/* Integers below 1e15 as such, else the shortest "%g" text that reads back
 * as v; Prometheus' words for infinities and NaN. */
static void fmt_double(char *out, size_t n, double v)
{
    if (isnan(v)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) { /* integers without exponent */
        snprintf(out, n, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* HELP text escapes backslash and newline. */
static int put_help(hf_buf *out, const char *s)
{
    for (; *s; s++) {
        int rc;
        if (*s == '\\')
            rc = hf_buf_puts(out, "\\\\");
        else if (*s == '\n')
            rc = hf_buf_puts(out, "\\n");
        else
            rc = hf_buf_append(out, s, 1);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* name{labels[,extra]} or name{extra} or name, then ' '. */
static int put_series_name(hf_buf *out, const char *name, const char *suffix,
                           const char *labels, const char *extra)
{
    int rc = hf_buf_printf(out, "%s%s", name, suffix);
    bool l = labels[0] != '\0', e = extra != NULL;
    if (rc == 0 && (l || e))
        rc = hf_buf_printf(out, "{%s%s%s}", labels, l && e ? "," : "",
                           e ? extra : "");
    return rc == 0 ? hf_buf_puts(out, " ") : -1;
}

static int render_histogram(hf_buf *out, const family *f, hf_metric *s)
{
    char num[40], le[48];
    uint64_t cum = 0;
    for (size_t i = 0; i <= f->n_bounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        if (i < f->n_bounds)
            fmt_double(num, sizeof(num), f->bounds[i]);
        else
            snprintf(num, sizeof(num), "+Inf");
        snprintf(le, sizeof(le), "le=\"%s\"", num);
        if (put_series_name(out, f->name, "_bucket", s->labels, le) != 0 ||
            hf_buf_printf(out, "%llu\n", (unsigned long long)cum) != 0)
            return -1;
    }
    fmt_double(num, sizeof(num),
               bitsd(atomic_load_explicit(&s->sum, memory_order_relaxed)));
    if (put_series_name(out, f->name, "_sum", s->labels, NULL) != 0 ||
        hf_buf_printf(out, "%s\n", num) != 0 ||
        put_series_name(out, f->name, "_count", s->labels, NULL) != 0 ||
        hf_buf_printf(out, "%llu\n", (unsigned long long)cum) != 0)
        return -1;
    return 0;
}

static int render_family(hf_buf *out, const family *f)
{
    bool any = false;
    for (hf_metric *s = f->first; s && !any; s = s->next)
        any = f->kind != K_GAUGE ||
              !atomic_load_explicit(&s->absent, memory_order_relaxed);
    if (!any)
        return 0;
    if (hf_buf_printf(out, "# HELP %s ", f->name) != 0 ||
        put_help(out, f->help) != 0 ||
        hf_buf_printf(out, "\n# TYPE %s %s\n", f->name, kind_names[f->kind]) != 0)
        return -1;
    for (hf_metric *s = f->first; s; s = s->next) {
        char num[40];
        uint64_t u = atomic_load_explicit(&s->value, memory_order_relaxed);
        switch (f->kind) {
        case K_COUNTER:
            if (put_series_name(out, f->name, "", s->labels, NULL) != 0 ||
                hf_buf_printf(out, "%llu\n", (unsigned long long)u) != 0)
                return -1;
            break;
        case K_GAUGE:
            if (atomic_load_explicit(&s->absent, memory_order_relaxed))
                break;
            fmt_double(num, sizeof(num), bitsd(u));
            if (put_series_name(out, f->name, "", s->labels, NULL) != 0 ||
                hf_buf_printf(out, "%s\n", num) != 0)
                return -1;
            break;
        case K_HISTOGRAM:
            if (render_histogram(out, f, s) != 0)
                return -1;
            break;
        }
    }
    return 0;
}

int hf_metrics_render(hf_metrics *m, hf_buf *out)
{
    if (m == NULL)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (family *f = m->first; f && rc == 0; f = f->next)
        rc = render_family(out, f);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int hf_metrics_labels(char *buf, size_t n, ...)
{
    va_list ap;
    size_t len = 0;
    bool fits = n > 0;
    const char *name;
    va_start(ap, n);
    while (fits && (name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        if (value == NULL)
            value = "";
        int w = snprintf(buf + len, n - len, "%s%s=\"", len ? "," : "", name);
        if (w < 0 || (size_t)w >= n - len) {
            fits = false;
            break;
        }
        len += (size_t)w;
        for (const char *v = value; *v && fits; v++) {
            char esc[3] = {*v, 0, 0};
            if (*v == '\\' || *v == '"' || *v == '\n') {
                esc[0] = '\\';
                esc[1] = *v == '\n' ? 'n' : *v;
            }
            size_t el = strlen(esc);
            if (len + el >= n)
                fits = false;
            else {
                memcpy(buf + len, esc, el);
                len += el;
            }
        }
        if (fits && len + 1 < n)
            buf[len++] = '"';
        else
            fits = false;
    }
    va_end(ap);
    if (!fits) {
        if (n > 0)
            buf[0] = '\0';
        return -1;
    }
    buf[len] = '\0';
    return 0;
}

/*--- For hf_metrics.c ---------------------------------------------------------*/

hf_metric *hf_metrics_find(hf_metrics *m, const char *name, const char *labels)
{
    pthread_mutex_lock(&m->mu);
    family *f = find_family(m, name);
    hf_metric *s = f ? find_series(f, labels) : NULL;
    pthread_mutex_unlock(&m->mu);
    return s;
}
