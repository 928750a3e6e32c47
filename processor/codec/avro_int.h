/*
 * avro_int.h - what codec_avro.c and avro_file.c share: the cursor over a
 * datum's bytes, the event decoder's steps the container reader calls, and
 * the varint writers. Not for other modules.
 */
#ifndef HF_AVRO_INT_H
#define HF_AVRO_INT_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec_avro.h"
#include "core/event.h"
#include "util/buf.h"

/* The bytes of a datum not read yet. */
typedef struct hf_avro_cursor {
    const uint8_t *p;
    size_t left;
} hf_avro_cursor;

/* Clears e to an event without fields (no order id, partition -1). */
void hf_avro_event_clear(hf_event *e);

/*
 * Walks one datum of r's writer schema at c, checking that every length
 * fits in the bytes that remain; the cursor ends past it. 0 or -1.
 */
int hf_avro_check_record(const hf_avro_event_reader *r, hf_avro_cursor *c);

/*
 * Decodes the datum at c into e by r's plan; returns 1 with *rc the outcome
 * (0 or -1 with errstr) and the cursor past the datum, or 0 when avro-c
 * must decode it (or it is corrupt).
 */
int hf_avro_fast_decode(hf_avro_event_reader *r, hf_avro_cursor *c, hf_event *e,
                        int *rc, char *errstr, size_t errstr_size);

/* r's generic value, for avro-c's readers to decode a datum into. */
avro_value_t *hf_avro_event_reader_value(hf_avro_event_reader *r);

/* Maps a record decoded by avro-c into e and validates it. */
int hf_avro_map_record(hf_avro_event_reader *r, avro_value_t *rec,
                       const hf_event_type *fixed, hf_event *e, char *errstr,
                       size_t errstr_size);

/* Appends v as Avro's zig-zag varint. */
static inline int put_long(hf_buf *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ ((uint64_t)0 - ((uint64_t)v >> 63));
    char tmp[10];
    size_t n = 0;
    while (z >= 0x80) {
        tmp[n++] = (char)((z & 0x7F) | 0x80);
        z >>= 7;
    }
    tmp[n++] = (char)z;
    return hf_buf_append(b, tmp, n);
}

/* Appends an Avro string: its length, then its bytes (NULL: ""). */
static inline int put_string(hf_buf *b, const char *s, size_t len)
{
    if (s == NULL)
        len = 0;
    if (put_long(b, (int64_t)len) != 0)
        return -1;
    return len ? hf_buf_append(b, s, len) : 0;
}

#endif
