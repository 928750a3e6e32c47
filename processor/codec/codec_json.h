/*
 * codec_json.h - JSON events in (one object per line, SEMANTICS.md field
 * names), JSON signals out.
 *
 * Event input: event_id, type, customer_id, order_id (optional, default ""),
 * event_time (integer ms or an RFC 3339 string), amount_minor, currency
 * (optional), items. Unknown fields are ignored.
 */
#ifndef HF_CODEC_JSON_H
#define HF_CODEC_JSON_H

#include <stddef.h>

#include "core/event.h"
#include "core/switch_signal.h"
#include "util/buf.h"
#include "util/json_str.h"

typedef struct hf_json_decoder hf_json_decoder;

hf_json_decoder *hf_json_decoder_new(void);
void hf_json_decoder_destroy(hf_json_decoder *d); /* accepts NULL */

/*
 * Decodes one JSON object (buf need not be NUL-terminated) into e and
 * validates it (hf_event_validate). The strings of e point into the decoder
 * and stay valid until its next call. Returns 0, or -1 with the reason in
 * errstr, e.g. "missing field: customer_id".
 */
int hf_json_decode_event(hf_json_decoder *d, const char *buf, size_t len,
                         hf_event *e, char *errstr, size_t errstr_size);

/*
 * The same for a topic whose events all have the type *fixed
 * (input.topic.<t>.type): the object's own "type", if any, is ignored.
 */
int hf_json_decode_event_as(hf_json_decoder *d, const char *buf, size_t len,
                            const hf_event_type *fixed, hf_event *e,
                            char *errstr, size_t errstr_size);

/* Appends a signal as one JSON object (no newline). Returns 0 or -1 (OOM). */
int hf_json_encode_signal(const hf_signal *s, hf_buf *out);

/* Appends an event as one JSON object (no newline), e.g. for generators. */
int hf_json_encode_event(const hf_event *e, hf_buf *out);

/*
 * Parses an RFC 3339 timestamp ("2011-12-09T12:50:00Z", fractions and
 * +hh:mm offsets allowed; 't', 'z' and a space for 'T' too; the offset is
 * required) into ms since the epoch, digits beyond ms truncated. No locale
 * or TZ dependence. Returns 0 or -1.
 */
int hf_parse_rfc3339(const char *s, size_t len, int64_t *ms);

#endif
