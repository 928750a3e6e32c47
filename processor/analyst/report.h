/*
 * report.h - one self-contained HTML page of a replay's audience over time
 * (`hirefire replay --report`): per behaviour, the customers target per day
 * (one line per configuration), the hires and fires per week, and a table of
 * the counts; and the run's inputs. Inline SVG and CSS only: no script, no
 * font, nothing fetched. It reads on a laptop and a phone and prints.
 */
#ifndef HF_REPORT_H
#define HF_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "analyst/history.h"
#include "core/engine.h"

/* One configuration's run: its histories (one per stream). */
typedef struct hf_report_run {
    const char *label;            /* "A", "B" */
    const char *config;           /* where the configuration came from, for the inputs */
    const hf_engine *eng;
    hf_history *const *hs;
    size_t n;
} hf_report_run;

typedef struct hf_report {
    const char *input;            /* what was replayed, e.g. the file's path */
    const char *generated;        /* when, e.g. 2026-12-08T10:00:00Z */
    const hf_report_run *runs;    /* 1, or 2 when comparing */
    size_t nruns;
} hf_report;

/* Writes the page. Returns 0, or -1 with errstr (out of memory, the OS error
 * of a write). */
int hf_report_write_html(const hf_report *r, FILE *out, char *errstr, size_t errstr_size);

#endif
