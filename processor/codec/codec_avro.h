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
 *
 * Object container files of events and signals are in avro_file.h, which
 * this header includes.
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

/*--- Writing raw datums ---*/

/* Appends s as a switch_signal.avsc datum. Returns 0 or -1 (OOM). */
int hf_avro_encode_signal(const hf_signal *s, hf_buf *out);

/* Appends e as a customer_event.avsc datum. Returns 0 or -1 (OOM). */
int hf_avro_encode_event(const hf_event *e, hf_buf *out);

/* Container files: avro_file.h. */
#include "codec/avro_file.h"

#endif
