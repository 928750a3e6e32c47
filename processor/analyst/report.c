/*
 * report.c - the HTML report of a replay: the series of each behaviour and
 * configuration (gathered from the merged histories), the two charts as
 * inline SVG (customers target per day; hires and fires per week), the
 * table of counts, and the page around them.
 */
#include "analyst/report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"

/* Chart geometry (SVG user units; the SVG scales to the page's width). */
#define W 800
#define H 276
#define ML 64  /* left margin: the y labels */
#define MR 16
#define MT 16
#define MB 58  /* bottom margin: the x labels (month, year) and the axis title */

static const char *const colours[2] = {"#1f5fa8", "#c2410c"};

/*--- Series -------------------------------------------------------------------*/

/* One behaviour of one configuration, day by day. */
typedef struct series {
    int present;
    int32_t first;
    size_t n, cap;
    int64_t *target;
    uint64_t *hires, *fires;
    uint64_t by[2][HF_CAUSE_COUNT];
} series;

typedef struct gather {
    series *s;   /* [nbeh] of one run */
    int oom;
} gather;

static int gather_row(void *opaque, const hf_history_row *r)
{
    gather *g = opaque;
    series *s = &g->s[r->behaviour];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        int64_t *t = realloc(s->target, cap * sizeof(*t));
        if (t != NULL)
            s->target = t;
        uint64_t *h = realloc(s->hires, cap * sizeof(*h));
        if (h != NULL)
            s->hires = h;
        uint64_t *f = realloc(s->fires, cap * sizeof(*f));
        if (f != NULL)
            s->fires = f;
        if (t == NULL || h == NULL || f == NULL) {
            g->oom = 1;
            return 1;
        }
        s->cap = cap;
    }
    if (s->n == 0)
        s->first = r->day;
    s->present = 1;
    s->target[s->n] = r->target;
    s->hires[s->n] = s->fires[s->n] = 0;
    for (int c = 0; c < HF_CAUSE_COUNT; c++) {
        s->hires[s->n] += r->signals[HF_KIND_HIRE][c];
        s->fires[s->n] += r->signals[HF_KIND_FIRE][c];
        s->by[HF_KIND_HIRE][c] += r->signals[HF_KIND_HIRE][c];
        s->by[HF_KIND_FIRE][c] += r->signals[HF_KIND_FIRE][c];
    }
    s->n++;
    return 0;
}

static void series_free(series *s, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++) {
        free(s[i].target);
        free(s[i].hires);
        free(s[i].fires);
    }
    free(s);
}

/*--- Text ---------------------------------------------------------------------*/

static int esc(hf_buf *b, const char *s)
{
    int rc = 0;
    for (; *s && rc == 0; s++) {
        switch (*s) {
        case '&': rc = hf_buf_puts(b, "&amp;"); break;
        case '<': rc = hf_buf_puts(b, "&lt;"); break;
        case '>': rc = hf_buf_puts(b, "&gt;"); break;
        case '"': rc = hf_buf_puts(b, "&quot;"); break;
        case '\'': rc = hf_buf_puts(b, "&#39;"); break;
        default: rc = hf_buf_append(b, s, 1);
        }
    }
    return rc;
}

static void day_text(int32_t day, const char *fmt, char *out, size_t size)
{
    time_t t = (time_t)((int64_t)day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, fmt, &tm);
}

static int day_of_month(int32_t day)
{
    time_t t = (time_t)((int64_t)day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    return tm.tm_mday;
}

/* The Monday on or before day (1970-01-01 was a Thursday). */
static int32_t week_start(int32_t day)
{
    int32_t r = (int32_t)(((int64_t)day + 3) % 7);
    return day - (r < 0 ? r + 7 : r);
}

/* A round axis maximum of at least v, in 4 steps of 1, 2 or 5 times a power of ten. */
static int64_t nice_step(int64_t v)
{
    int64_t raw = v <= 0 ? 1 : (v + 3) / 4, p = 1;
    while (p * 10 <= raw)
        p *= 10;
    return raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
}

/*--- Charts -------------------------------------------------------------------*/

typedef struct frame {
    int32_t lo, hi;          /* days shown */
    int64_t ymin, ymax, step;
} frame;

static double xpos(const frame *f, double day)
{
    double span = f->hi > f->lo ? (double)(f->hi - f->lo) : 1.0;
    return ML + (day - f->lo) * (W - ML - MR) / span;
}

static double ypos(const frame *f, double v)
{
    return MT + (H - MT - MB) * (1.0 - (v - (double)f->ymin) / (double)(f->ymax - f->ymin));
}

/* Grid lines, y labels, the x ticks (months, or weeks for short ranges) and
 * the axis titles. */
static int axes(hf_buf *b, const frame *f, const char *ytitle)
{
    int rc = 0;
    for (int64_t v = f->ymin; v <= f->ymax && rc == 0; v += f->step) {
        double y = ypos(f, (double)v);
        rc |= hf_buf_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
                               "<text class=\"ylabel\" x=\"%d\" y=\"%.1f\">%" PRId64 "</text>\n",
                            ML, W - MR, y, y, ML - 6, y + 4, v < 0 ? -v : v);
    }
    int weekly = f->hi - f->lo < 62, first = 1;
    for (int32_t d = f->lo; d <= f->hi && rc == 0; d++) {
        if (weekly ? (d - f->lo) % 7 != 0 : day_of_month(d) != 1)
            continue;
        /* Months by name; the year below the first tick and each January. */
        char label[16], month[4], year[8];
        day_text(d, "%m", month, sizeof(month));
        day_text(d, weekly ? "%d %b" : "%b", label, sizeof(label));
        day_text(d, "%Y", year, sizeof(year));
        int with_year = first || strcmp(month, "01") == 0;
        first = 0;
        double x = xpos(f, d);
        rc |= hf_buf_printf(b, "<line class=\"tick\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>"
                               "<text class=\"xlabel\" x=\"%.1f\" y=\"%d\">%s</text>\n",
                            x, x, H - MB, H - MB + 5, x, H - MB + 18, label);
        if (with_year)
            rc |= hf_buf_printf(b, "<text class=\"xlabel\" x=\"%.1f\" y=\"%d\">%s</text>\n", x,
                                H - MB + 33, year);
    }
    rc |= hf_buf_printf(b, "<text class=\"title\" x=\"%d\" y=\"%d\">day (UTC)</text>"
                           "<text class=\"title\" transform=\"rotate(-90)\" x=\"%d\" y=\"14\">%s"
                           "</text>\n",
                        (ML + W - MR) / 2, H - 6, -(MT + H - MB) / 2, ytitle);
    return rc;
}

/* The customers target per day: one polyline per configuration. */
static int line_chart(hf_buf *b, const char *name, series *const *s, size_t nruns,
                      const hf_report *r)
{
    frame f = {INT32_MAX, INT32_MIN, 0, 0, 1};
    int64_t top = 1;
    for (size_t i = 0; i < nruns; i++) {
        if (s[i] == NULL || !s[i]->present)
            continue;
        if (s[i]->first < f.lo)
            f.lo = s[i]->first;
        if (s[i]->first + (int32_t)s[i]->n - 1 > f.hi)
            f.hi = s[i]->first + (int32_t)s[i]->n - 1;
        for (size_t k = 0; k < s[i]->n; k++)
            if (s[i]->target[k] > top)
                top = s[i]->target[k];
    }
    if (f.lo > f.hi)
        return hf_buf_puts(b, "<p class=\"empty\">No signal of this behaviour.</p>\n");
    f.step = nice_step(top);
    f.ymax = f.step * ((top + f.step - 1) / f.step);
    int rc = hf_buf_puts(b, "<div class=\"chartwrap\"><svg class=\"chart target\" "
                            "viewBox=\"0 0 800 276\" role=\"img\" "
                            "aria-label=\"Customers target per day: ");
    rc |= esc(b, name);
    rc |= hf_buf_puts(b, "\">\n");
    rc |= axes(b, &f, "customers target");
    for (size_t i = 0; i < nruns && rc == 0; i++) {
        if (s[i] == NULL || !s[i]->present)
            continue;
        rc |= hf_buf_printf(b, "<polyline class=\"series\" data-config=\"%s\" fill=\"none\" "
                               "stroke=\"%s\" stroke-width=\"1.6\" points=\"",
                            r->runs[i].label, colours[i % 2]);
        for (size_t k = 0; k < s[i]->n && rc == 0; k++)
            rc |= hf_buf_printf(b, "%s%.1f,%.1f", k ? " " : "", xpos(&f, s[i]->first + (double)k),
                                ypos(&f, (double)s[i]->target[k]));
        rc |= hf_buf_puts(b, "\"/>\n");
    }
    return rc | hf_buf_puts(b, "</svg></div>\n");
}

/* Hires (up) and fires (down) per week, the configurations side by side. */
static int week_chart(hf_buf *b, const char *name, series *const *s, size_t nruns,
                      const hf_report *r)
{
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (size_t i = 0; i < nruns; i++)
        if (s[i] != NULL && s[i]->present) {
            if (week_start(s[i]->first) < lo)
                lo = week_start(s[i]->first);
            if (week_start(s[i]->first + (int32_t)s[i]->n - 1) > hi)
                hi = week_start(s[i]->first + (int32_t)s[i]->n - 1);
        }
    if (lo > hi)
        return 0;
    size_t weeks = (size_t)((hi - lo) / 7 + 1);
    uint64_t *sum = calloc(nruns * weeks * 2, sizeof(*sum));
    if (sum == NULL)
        return -1;
    int64_t top = 1;
    for (size_t i = 0; i < nruns; i++)
        for (size_t k = 0; s[i] != NULL && s[i]->present && k < s[i]->n; k++) {
            size_t w = (size_t)((week_start(s[i]->first + (int32_t)k) - lo) / 7);
            uint64_t *v = sum + (i * weeks + w) * 2;
            v[0] += s[i]->hires[k];
            v[1] += s[i]->fires[k];
            if ((int64_t)v[0] > top)
                top = (int64_t)v[0];
            if ((int64_t)v[1] > top)
                top = (int64_t)v[1];
        }
    frame f = {lo, hi + 7, 0, 0, nice_step(top)};
    f.ymax = f.step * ((top + f.step - 1) / f.step);
    f.ymin = -f.ymax;
    int rc = hf_buf_puts(b, "<div class=\"chartwrap\"><svg class=\"chart weeks\" "
                            "viewBox=\"0 0 800 276\" role=\"img\" "
                            "aria-label=\"Hires and fires per week: ");
    rc |= esc(b, name);
    rc |= hf_buf_puts(b, "\">\n");
    rc |= axes(b, &f, "signals per week");
    double bw = (xpos(&f, 7) - xpos(&f, 0)) * 0.8 / (double)nruns;
    for (size_t i = 0; i < nruns && rc == 0; i++) {
        if (s[i] == NULL || !s[i]->present)
            continue;
        rc |= hf_buf_printf(b, "<g class=\"bars\" data-config=\"%s\">", r->runs[i].label);
        for (size_t w = 0; w < weeks && rc == 0; w++) {
            const uint64_t *v = sum + (i * weeks + w) * 2;
            double x = xpos(&f, (double)(lo + 7 * (int64_t)w)) + bw * (double)i + bw * 0.125;
            double y0 = ypos(&f, 0), yh = ypos(&f, (double)v[0]), yf = ypos(&f, -(double)v[1]);
            if (v[0] > 0)
                rc |= hf_buf_printf(b, "<rect class=\"hire\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                                       "height=\"%.1f\"/>", x, yh, bw, y0 - yh);
            if (v[1] > 0)
                rc |= hf_buf_printf(b, "<rect class=\"fire\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                                       "height=\"%.1f\"/>", x, y0, bw, yf - y0);
        }
        rc |= hf_buf_puts(b, "</g>\n");
    }
    free(sum);
    return rc | hf_buf_puts(b, "</svg></div>\n<p class=\"caption\">Hires per week above the axis, "
                               "fires below.</p>\n");
}

/*--- Page ---------------------------------------------------------------------*/

static const char *const style =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;"
    "max-width:960px;padding:12px 16px;color:#1a1a1a;line-height:1.4}"
    "h1{font-size:1.5rem;margin:.4em 0}h2{font-size:1.2rem;margin:1.4em 0 .4em}"
    "dl.inputs{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:.9rem}"
    "dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}"
    ".legend span{display:inline-block;margin-right:14px;font-size:.9rem}"
    ".legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:5px}"
    ".chartwrap{overflow-x:auto}svg.chart{width:100%;min-width:520px;height:auto;display:block}"
    ".caption{font-size:.85rem;color:#555;margin:0 0 .6em}"
    ".grid{stroke:#e3e3e3}.tick{stroke:#888}"
    ".ylabel{font-size:13px;text-anchor:end;fill:#444}.xlabel{font-size:13px;text-anchor:middle;"
    "fill:#444}.title{font-size:13px;text-anchor:middle;fill:#222}"
    ".hire{fill:#2f855a}.fire{fill:#c53030}.bars[data-config=B] rect{opacity:.55}"
    ".scroll{overflow-x:auto}table.counts{border-collapse:collapse;font-size:.9rem;"
    "margin:.6em 0}table.counts th,table.counts td{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}table.counts th:first-child,table.counts td:first-child{text-align:left}"
    "@media print{body{max-width:none}section{break-inside:avoid}}";

static int counts_table(hf_buf *b, series *const *s, size_t nruns, const hf_report *r)
{
    int rc = hf_buf_puts(b, "<div class=\"scroll\"><table class=\"counts\"><thead><tr>"
                            "<th>configuration</th><th>target at the end</th><th>peak</th>"
                            "<th>hires</th><th>by purchase</th><th>by return</th><th>by expiry</th>"
                            "<th>fires</th><th>by purchase</th><th>by return</th><th>by expiry</th>"
                            "</tr></thead><tbody>\n");
    static const char *const keys[2][HF_CAUSE_COUNT] = {
        {"hire_purchase", "hire_return", "hire_expiry"},
        {"fire_purchase", "fire_return", "fire_expiry"}};
    for (size_t i = 0; i < nruns && rc == 0; i++) {
        const series *x = s[i];
        if (x == NULL || !x->present)
            continue;
        int64_t peak = 0;
        for (size_t k = 0; k < x->n; k++)
            if (x->target[k] > peak)
                peak = x->target[k];
        rc |= hf_buf_printf(b, "<tr data-config=\"%s\"><td>%s</td><td data-k=\"target_end\">%"
                               PRId64 "</td><td data-k=\"peak\">%" PRId64 "</td>",
                            r->runs[i].label, r->runs[i].label, x->target[x->n - 1], peak);
        for (int kind = 0; kind < 2; kind++) {
            uint64_t total = x->by[kind][0] + x->by[kind][1] + x->by[kind][2];
            rc |= hf_buf_printf(b, "<td data-k=\"%s\">%" PRIu64 "</td>",
                                kind == 0 ? "hires" : "fires", total);
            for (int c = 0; c < HF_CAUSE_COUNT; c++)
                rc |= hf_buf_printf(b, "<td data-k=\"%s\">%" PRIu64 "</td>", keys[kind][c],
                                    x->by[kind][c]);
        }
        rc |= hf_buf_puts(b, "</tr>\n");
    }
    return rc | hf_buf_puts(b, "</tbody></table></div>\n");
}

/* A behaviour's definition, e.g. "90 days; min_orders 2; max_return_ratio 0.5". */
static int definition(hf_buf *b, const hf_behaviour *d)
{
    int rc = hf_buf_printf(b, "%d days", d->window_days);
    if (d->has_min_orders)
        rc |= hf_buf_printf(b, "; min_orders %" PRId64, d->min_orders);
    if (d->has_min_items)
        rc |= hf_buf_printf(b, "; min_items %" PRId64, d->min_items);
    if (d->has_min_net_minor)
        rc |= hf_buf_printf(b, "; min_net_minor %" PRId64, d->min_net_minor);
    if (d->has_max_return_ratio)
        rc |= hf_buf_printf(b, "; max_return_ratio %g", d->max_return_ratio);
    return rc;
}

static int inputs(hf_buf *b, const hf_report *r)
{
    int rc = hf_buf_puts(b, "<dl class=\"inputs\"><dt>input</dt><dd>");
    rc |= esc(b, r->input);
    rc |= hf_buf_puts(b, "</dd>\n");
    for (size_t i = 0; i < r->nruns; i++) {
        rc |= hf_buf_printf(b, "<dt>configuration %s</dt><dd>", r->runs[i].label);
        rc |= esc(b, r->runs[i].config);
        for (uint32_t k = 0; k < r->runs[i].eng->n; k++) {
            rc |= hf_buf_puts(b, "<br>");
            rc |= esc(b, r->runs[i].eng->behaviours[k].name);
            rc |= hf_buf_puts(b, ": ");
            rc |= definition(b, &r->runs[i].eng->behaviours[k]);
        }
        rc |= hf_buf_puts(b, "</dd>\n");
    }
    rc |= hf_buf_puts(b, "<dt>generated</dt><dd>");
    rc |= esc(b, r->generated);
    rc |= hf_buf_puts(b, " by hirefire " HF_VERSION "</dd></dl>\n");
    return rc;
}

/* The behaviour of run i named name, or -1. */
static int find_behaviour(const hf_report_run *run, const char *name)
{
    for (uint32_t k = 0; k < run->eng->n; k++)
        if (strcmp(run->eng->behaviours[k].name, name) == 0)
            return (int)k;
    return -1;
}

static int section(hf_buf *b, const char *name, series **all, const hf_report *r)
{
    series *s[2] = {NULL, NULL};
    for (size_t i = 0; i < r->nruns && i < 2; i++) {
        int k = find_behaviour(&r->runs[i], name);
        s[i] = k < 0 ? NULL : &all[i][k];
    }
    int rc = hf_buf_puts(b, "<section class=\"behaviour\" data-behaviour=\"");
    rc |= esc(b, name);
    rc |= hf_buf_puts(b, "\"><h2>");
    rc |= esc(b, name);
    rc |= hf_buf_puts(b, "</h2>\n");
    if (r->nruns > 1) {
        rc |= hf_buf_puts(b, "<p class=\"legend\">");
        for (size_t i = 0; i < r->nruns && i < 2; i++)
            rc |= hf_buf_printf(b, "<span><i style=\"background:%s\"></i>configuration %s</span>",
                                colours[i], r->runs[i].label);
        rc |= hf_buf_puts(b, "</p>\n");
    }
    rc |= line_chart(b, name, s, r->nruns, r);
    rc |= week_chart(b, name, s, r->nruns, r);
    rc |= counts_table(b, s, r->nruns, r);
    return rc | hf_buf_puts(b, "</section>\n");
}

static int page(hf_buf *b, series **all, const hf_report *r)
{
    int rc = hf_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                              "<meta name=\"viewport\" content=\"width=device-width, "
                              "initial-scale=1\"><title>hirefire report</title><style>%s</style>"
                              "</head><body>\n<h1>Customers with the target behaviour over time"
                              "</h1>\n", style);
    rc |= inputs(b, r);
    /* Every behaviour of A, then those only B has. */
    for (size_t i = 0; i < r->nruns && i < 2 && rc == 0; i++)
        for (uint32_t k = 0; k < r->runs[i].eng->n && rc == 0; k++) {
            const char *name = r->runs[i].eng->behaviours[k].name;
            if (i == 1 && find_behaviour(&r->runs[0], name) >= 0)
                continue;
            rc |= section(b, name, all, r);
        }
    return rc | hf_buf_puts(b, "</body></html>\n");
}

int hf_report_write_html(const hf_report *r, FILE *out, char *errstr, size_t errstr_size)
{
    series *all[2] = {NULL, NULL};
    int rc = 0;
    for (size_t i = 0; i < r->nruns && i < 2 && rc == 0; i++) {
        all[i] = calloc(r->runs[i].eng->n, sizeof(series));
        gather g = {all[i], 0};
        if (all[i] == NULL || hf_history_rows(r->runs[i].hs, r->runs[i].n, gather_row, &g) != 0 ||
            g.oom)
            rc = -1;
    }
    hf_buf b = HF_BUF_INIT;
    if (rc == 0 && page(&b, all, r) != 0)
        rc = -1;
    if (rc != 0)
        snprintf(errstr, errstr_size, "out of memory");
    else if (fwrite(b.data, 1, b.len, out) != b.len || fflush(out) != 0) {
        snprintf(errstr, errstr_size, "%s", strerror(errno));
        rc = -1;
    }
    hf_buf_free(&b);
    for (size_t i = 0; i < r->nruns && i < 2; i++)
        series_free(all[i], r->runs[i].eng->n);
    return rc;
}
