/* summary.h - the end-of-run summary that replays and runs print on stderr. */
#ifndef HF_SUMMARY_H
#define HF_SUMMARY_H

#include <stdio.h>

#include "core/engine.h"
#include "core/stream.h"

void hf_summary_print(FILE *out, const char *what, const hf_engine *eng,
                      const hf_stream_stats *stats, uint64_t customers,
                      double seconds);

#endif
