/*
 * metrics_int.h - what metrics.c gives hf_metrics.c beyond metrics.h.
 * Not for other modules.
 */
#ifndef HF_METRICS_INT_H
#define HF_METRICS_INT_H

#include "ops/metrics.h"

/* The series of that name and labels if registered, else NULL; takes the
 * registry's mutex. m must not be NULL. */
hf_metric *hf_metrics_find(hf_metrics *m, const char *name, const char *labels);

#endif
