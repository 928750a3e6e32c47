/*
 * avro_file.h - Avro object container files: events in, signals and events
 * out. Their records are decoded and encoded as codec_avro.h's datums;
 * codec_avro.h includes this header.
 */
#ifndef HF_AVRO_FILE_H
#define HF_AVRO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/switch_signal.h"

/*--- Events from container files ---*/

typedef struct hf_avro_file hf_avro_file;

/*
 * Opens a container file and checks its framing (blocks and sync markers)
 * up front, so that the end of the file and a corrupt tail are told apart.
 * The path must name a seekable file: "-" (stdin) is not supported, copy
 * a stream to a temporary file first. Returns NULL with a reason.
 */
hf_avro_file *hf_avro_file_open(const char *path, char *errstr,
                                size_t errstr_size);

/*
 * Reads the next record into e (strings valid until the next call;
 * e->source.offset is the 1-based record number). Returns 1 for an event,
 * 0 at the end, -1 when this record is not a valid event (reason in errstr;
 * the caller may go on), -2 when the file is corrupt from here on (reason
 * in errstr; stop).
 */
int hf_avro_file_next(hf_avro_file *f, hf_event *e, char *errstr,
                      size_t errstr_size);

/* Records in the file's intact blocks (known after open). */
int64_t hf_avro_file_records(const hf_avro_file *f);

void hf_avro_file_close(hf_avro_file *f); /* accepts NULL */

/*--- Writing container files ---*/

typedef struct hf_avro_writer hf_avro_writer;

/*
 * Creates (or truncates) a container file of signals or events; path "-"
 * writes to stdout. codec: "null" or "deflate" (also "snappy", "lzma" when
 * avro-c has them). Returns NULL with a reason.
 */
hf_avro_writer *hf_avro_signal_file_open(const char *path, const char *codec,
                                         char *errstr, size_t errstr_size);
hf_avro_writer *hf_avro_event_file_open(const char *path, const char *codec,
                                        char *errstr, size_t errstr_size);

/* Each returns 0, or -1 with a reason (the writer stays usable). */
int hf_avro_signal_file_write(hf_avro_writer *w, const hf_signal *s,
                              char *errstr, size_t errstr_size);
int hf_avro_event_file_write(hf_avro_writer *w, const hf_event *e,
                             char *errstr, size_t errstr_size);

/* Flushes, closes and frees w (NULL is fine). Returns 0 or -1 (write
 * error, reason in errstr); w is freed either way. */
int hf_avro_writer_close(hf_avro_writer *w, char *errstr,
                         size_t errstr_size);

#endif
