/*
 * codec_avro.h - Avro events in, Avro signals and events out.
 *
 * Reading decodes with the WRITER's schema (avro-c 1.11.1 cannot resolve
 * schemas with defaults, see ARCHITECTURE.md) and maps fields by name into
 * an hf_event, so any writer record with the SEMANTICS.md field names works:
 * `type` an enum or a string; `event_time` a long/int (ms) or an RFC 3339
 * string; `amount_minor`/`items` long or int; any field may be a union with
 * null (null means absent); `order_id` and `currency` are optional; other
 * fields are ignored.
 *
 * Writing uses schemas/customer_event.avsc and schemas/switch_signal.avsc,
 * whose text is compiled in (a unit test keeps the copies equal).
 */
#ifndef HF_CODEC_AVRO_H
#define HF_CODEC_AVRO_H

#include <avro.h>
#include <stddef.h>

#include "core/event.h"
#include "core/switch_signal.h"
#include "util/buf.h"

/* The text of schemas/customer_event.avsc and schemas/switch_signal.avsc. */
extern const char hf_avro_customer_event_schema_json[];
extern const char hf_avro_switch_signal_schema_json[];

/* Parses a schema; the caller owns *schema (avro_schema_decref). */
int hf_avro_schema_parse(const char *json, size_t len, avro_schema_t *schema,
                         char *errstr, size_t errstr_size);

/* 1 when buf starts with the container file magic "Obj\x01", else 0. */
int hf_avro_is_container(const void *buf, size_t len);

/*--- Events from raw datums (e.g. Confluent-framed Kafka messages) ---*/

typedef struct hf_avro_event_reader hf_avro_event_reader;

/*
 * A decoder for datums written with `writer` (which it references, the
 * caller keeps its own reference). Returns NULL with a reason such as
 * `writer schema has no field "customer_id"` when the schema cannot carry
 * an event. A schema without `type` is accepted: its events need a type
 * fixed by their topic (hf_avro_event_decode_as).
 */
hf_avro_event_reader *hf_avro_event_reader_new(avro_schema_t writer,
                                               char *errstr,
                                               size_t errstr_size);
void hf_avro_event_reader_destroy(hf_avro_event_reader *r); /* accepts NULL */

/*
 * Decodes one raw Avro binary datum (a Confluent message without its 5-byte
 * header) into e and validates it; bytes after the datum are ignored (as in
 * Confluent's deserializers). The strings of e point into the reader
 * and stay valid until its next call; e->source is {NULL, -1, 0} for the
 * caller to fill. Returns 0, or -1 with the reason in errstr.
 */
int hf_avro_event_decode(hf_avro_event_reader *r, const void *buf,
                         size_t len, hf_event *e, char *errstr,
                         size_t errstr_size);

/*
 * The same for a topic whose events all have the type *fixed
 * (input.topic.<t>.type): the datum's own type field, if any, is ignored.
 * fixed NULL: as hf_avro_event_decode.
 */
int hf_avro_event_decode_as(hf_avro_event_reader *r, const void *buf,
                            size_t len, const hf_event_type *fixed, hf_event *e,
                            char *errstr, size_t errstr_size);

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

/*--- Writing raw datums ---*/

/* Appends s as a switch_signal.avsc datum. Returns 0 or -1 (OOM). */
int hf_avro_encode_signal(const hf_signal *s, hf_buf *out);

/* Appends e as a customer_event.avsc datum. Returns 0 or -1 (OOM). */
int hf_avro_encode_event(const hf_event *e, hf_buf *out);

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
