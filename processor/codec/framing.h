/*
 * framing.h - the Confluent wire format for Kafka message values: byte 0 is
 * the magic byte 0x00, bytes 1..4 the schema id (big-endian), then the Avro
 * binary encoding of one record written with that schema.
 *
 * hf_framing_parse/hf_framing_write only split and join frames. The framed
 * decoder ties the frame to a schema source (registry.h) and keeps one Avro
 * event reader (codec_avro.h) per writer schema id.
 */
#ifndef HF_FRAMING_H
#define HF_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "codec/registry.h"
#include "core/event.h"
#include "util/buf.h"

#define HF_FRAMING_MAGIC 0x00
#define HF_FRAMING_HEADER_SIZE 5

/*
 * Splits a frame. On success sets *schema_id and points *payload into buf
 * (payload_len may be 0). The magic byte is checked before the length, so
 * that a short JSON value ("{}") is named as such. Returns 0, or -1 with one of:
 *   "message is empty"
 *   "message is too short for the Avro frame (3 bytes)"
 *   "wrong magic byte 0x7b (expected 0x00)"
 */
int hf_framing_parse(const void *buf, size_t len, int32_t *schema_id,
                     const void **payload, size_t *payload_len,
                     char *errstr, size_t errstr_size);

/* Appends the 5-byte header and the payload to out. Returns 0 or -1 (OOM). */
int hf_framing_write(hf_buf *out, int32_t schema_id, const void *avro,
                     size_t len);

/*--- Framed event decoder ---------------------------------------------------*/

typedef struct hf_framed_decoder hf_framed_decoder;

/*
 * The decoder borrows `schemas` (it must outlive the decoder). It keeps an
 * event reader per schema id, made on first use from the schema that the
 * source returns.
 */
hf_framed_decoder *hf_framed_decoder_new(hf_schema_source *schemas);
void hf_framed_decoder_destroy(hf_framed_decoder *d); /* accepts NULL */

/*
 * Decodes one framed message into e and validates it (hf_event_validate).
 * The strings of e stay valid until the decoder's next call; e->source is
 * {NULL, -1, 0} for the caller to fill. Returns 0, or
 * -1 with the reason in errstr, e.g.
 *   "wrong magic byte 0x7b (expected 0x00)"
 *   "unknown schema id 42: schema registry returned 404 for schema id 42: ..."
 *   "schema id 3: <why the writer schema is not an event schema>"
 *   or the event reader's reason as it is (codec_avro.h), when the payload
 *   does not decode or is not a valid event
 * Lookups that fail are not remembered here: the schema source throttles
 * its retries (registry.h), so a schema registered later is found.
 */
int hf_framed_decode_event(hf_framed_decoder *d, const void *buf, size_t len,
                           hf_event *e, char *errstr, size_t errstr_size);
/* The same with the event type fixed by the topic (see codec_avro.h). */
int hf_framed_decode_event_as(hf_framed_decoder *d, const void *buf, size_t len,
                              const hf_event_type *fixed, hf_event *e,
                              char *errstr, size_t errstr_size);

#endif
