/*
 * audience.h - the members of each behaviour at a day, and the customers who
 * hired or fired in a period, with the numbers behind them (`hirefire
 * audience`).
 *
 * An audience is filled from a run of the engine: its signal tap
 * (hf_audience_signal) sees every signal of the run, and at the end it reads
 * the customers of the run's streams (their class, window metrics and days)
 * at the stream's clock. Every number is what SEMANTICS.md defines at that
 * day: the metrics of the window ending on the clock day, the class after the
 * expiries due by then.
 *
 * The rows of one behaviour come in customer_id byte order; behaviours in
 * configuration order. A sample of N is the N customers with the smallest
 * hf_audience_rank(seed, customer_id), so the same seed picks the same
 * customers whatever the input order or the other rows.
 */
#ifndef HF_AUDIENCE_H
#define HF_AUDIENCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/engine.h"
#include "core/stream.h"
#include "core/switch_signal.h"

typedef enum hf_audience_status {
    HF_AUDIENCE_TARGET = 0,     /* target at the day */
    HF_AUDIENCE_NON_TARGET = 1, /* non-target at the day (every customer seen) */
    HF_AUDIENCE_HIRED = 2,      /* a hire signal effective in [since, until] */
    HF_AUDIENCE_FIRED = 3       /* a fire signal effective in [since, until] */
} hf_audience_status;

typedef enum hf_audience_format {
    HF_AUDIENCE_CSV = 0,   /* RFC 4180, a header line first */
    HF_AUDIENCE_JSONL = 1  /* one JSON object a line */
} hf_audience_format;

typedef struct hf_audience_query {
    uint32_t behaviours;        /* bit b: behaviour b; 0 means every behaviour */
    hf_audience_status status;
    int32_t since_day;          /* hired/fired: first day counted, HF_NO_CLOCK: open */
    int32_t until_day;          /* hired/fired: last day counted, HF_NO_CLOCK: open */
    uint64_t limit;             /* at most this many rows a behaviour; 0: no limit */
    uint64_t sample;            /* 0, or a sample of this many customers a behaviour */
    uint64_t seed;              /* the sample's seed */
    hf_audience_format format;
} hf_audience_query;

typedef struct hf_audience hf_audience;

/* A new, empty audience for the engine's behaviours and query q (copied).
 * Returns NULL when out of memory. */
hf_audience *hf_audience_new(const hf_engine *eng, const hf_audience_query *q);
void hf_audience_destroy(hf_audience *a); /* accepts NULL */

/*
 * The signal tap: an hf_signal_fn (opaque = the audience). Records, per
 * customer and behaviour, the time of the last hire and fire, and of the last
 * ones effective inside the query's period. Out of memory is remembered and
 * reported by hf_audience_write.
 */
void hf_audience_signal(void *opaque, const hf_signal *s);

/*
 * Writes the rows of the customers of streams[0..n) (each at its own clock
 * day; a stream without events has no rows) to out, with the header first
 * for CSV. Returns 0, or -1 with errstr (out of memory, a failed write). The
 * number of rows written goes to *rows when not NULL.
 */
int hf_audience_write(hf_audience *a, hf_stream *const *streams, size_t n, FILE *out,
                      uint64_t *rows, char *errstr, size_t errstr_size);

/* The sample rank of a customer: splitmix64(fnv1a64(seed as 8 bytes,
 * little-endian, then the id bytes)). */
uint64_t hf_audience_rank(uint64_t seed, const char *id, size_t len);

/* "target", "non-target", "hired", "fired"; and back (-1 for another name). */
const char *hf_audience_status_name(hf_audience_status s);
int hf_audience_status_parse(const char *name, hf_audience_status *s);

#endif
