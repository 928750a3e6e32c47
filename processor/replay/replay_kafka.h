/*
 * replay_kafka.h - `hirefire replay --topic`: a topic range through the
 * rules, one stream per partition number, no consumer group, nothing
 * committed. Stops at the end offsets taken when it started.
 */
#ifndef HF_REPLAY_KAFKA_H
#define HF_REPLAY_KAFKA_H

#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "core/engine.h"
#include "core/stream.h"
#include "core/switch_signal.h"

typedef struct hf_kafka_replay_opts {
    const char *topics;    /* "T" or "T1,T2" (co-partitioned) */
    const char *brokers;   /* NULL: kafka.bootstrap.servers from the config */
    const char *from;      /* NULL/"earliest", RFC 3339 time, or "P:O,P:O" */
    const char *to;        /* NULL/"end", or RFC 3339 time */
    FILE *dead_letter;     /* invalid messages as JSON lines, or NULL */
    int32_t advance_to;    /* HF_NO_CLOCK: do not advance at the end */
    int progress;          /* progress line on stderr */
} hf_kafka_replay_opts;

/*
 * Runs the range. Signals go to emit in per-partition order (partition 0's
 * whole range first is NOT promised: streams are independent). The summed
 * counters of all partitions go to *stats, the number of customers to
 * *customers. Returns 0, or -1 with errstr.
 */
int hf_replay_kafka(const hf_config *cfg, const hf_engine *eng,
                    const hf_kafka_replay_opts *opts, hf_signal_fn emit,
                    void *opaque, hf_stream_stats *stats, uint64_t *customers,
                    char *errstr, size_t errstr_size);

#endif
