/*
 * replay_file.h - runs one input file (JSON lines or an Avro container file)
 * through one stream, as `hirefire replay --input` does.
 */
#ifndef HF_REPLAY_FILE_H
#define HF_REPLAY_FILE_H

#include <stdio.h>

#include "core/engine.h"
#include "core/stream.h"
#include "core/switch_signal.h"

typedef struct hf_file_replay {
    const char *input;        /* path or "-" */
    FILE *dead_letter;        /* may be NULL: invalid events only counted */
    const char *dead_letter_path; /* its name, for error texts */
    const int *abort;         /* may be NULL; set: the run stops at the next event
                                 (e.g. the signal output failed) */
    int progress;             /* print a progress line to stderr */
    hf_signal_fn emit;
    void *opaque;
    int32_t advance_to;       /* HF_NO_CLOCK: do not advance at the end */
    int has_stop;             /* stop before the first event after stop_after_day: */
    int32_t stop_after_day;   /* the input as it stood at the end of that day */
    hf_stream *const *also;   /* more streams that get every event too (other */
    size_t nalso;             /* configurations: `replay --compare`), or none */
} hf_file_replay;

/*
 * Runs the whole input through `st` (and each stream of r->also, after st,
 * event by event). Returns 0, or -1 with errstr when the input cannot be
 * read (invalid events never stop the run).
 */
int hf_replay_file(const hf_file_replay *r, hf_stream *st, char *errstr,
                   size_t errstr_size);

#endif
