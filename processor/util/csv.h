/* csv.h - CSV fields (RFC 4180) for every writer of CSV. */
#ifndef HF_CSV_H
#define HF_CSV_H

#include <stddef.h>

#include "util/buf.h"

/*
 * Appends s (len bytes) as one CSV field: as it is, or in double quotes with
 * its quotes doubled when it holds a comma, a quote, a line break or a NUL.
 * Returns 0, or -1 when out of memory.
 */
int hf_csv_append_field(hf_buf *b, const char *s, size_t len);

#endif
