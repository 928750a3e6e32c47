/*
 * framing.c - the Confluent wire format (magic byte, big-endian schema id,
 * Avro binary) and a decoder of framed events with a reader per schema id.
 */
#include "codec/framing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_avro.h"

/*--- Frames -----------------------------------------------------------------*/

int hf_framing_parse(const void *buf, size_t len, int32_t *schema_id,
                     const void **payload, size_t *payload_len,
                     char *errstr, size_t errstr_size)
{
    const unsigned char *p = buf;
    if (len == 0) {
        snprintf(errstr, errstr_size, "message is empty");
        return -1;
    }
    if (p[0] != HF_FRAMING_MAGIC) {
        snprintf(errstr, errstr_size, "wrong magic byte 0x%02x (expected 0x00)",
                 p[0]);
        return -1;
    }
    if (len < HF_FRAMING_HEADER_SIZE) {
        snprintf(errstr, errstr_size,
                 "message is too short for the Avro frame (%zu bytes)", len);
        return -1;
    }
    *schema_id = (int32_t)(((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) |
                           ((uint32_t)p[3] << 8) | (uint32_t)p[4]);
    *payload = p + HF_FRAMING_HEADER_SIZE;
    *payload_len = len - HF_FRAMING_HEADER_SIZE;
    return 0;
}

int hf_framing_write(hf_buf *out, int32_t schema_id, const void *avro,
                     size_t len)
{
    uint32_t id = (uint32_t)schema_id;
    unsigned char h[HF_FRAMING_HEADER_SIZE] = {
        HF_FRAMING_MAGIC, (unsigned char)(id >> 24), (unsigned char)(id >> 16),
        (unsigned char)(id >> 8), (unsigned char)id};
    if (hf_buf_reserve(out, sizeof(h) + len) != 0)
        return -1;
    hf_buf_append(out, h, sizeof(h));
    if (len > 0)
        hf_buf_append(out, avro, len);
    return 0;
}

/*--- Framed event decoder ---------------------------------------------------*/

typedef struct reader_slot {
    int32_t id;
    int used;
    hf_avro_event_reader *reader; /* NULL: the schema cannot carry events */
    char *error;                  /* why reader is NULL */
} reader_slot;

struct hf_framed_decoder {
    hf_schema_source *schemas;
    reader_slot *tab; /* open addressing, power-of-2 size */
    size_t cap;
    size_t n;
    int32_t last_id;  /* the slot used last: consecutive messages share it */
    reader_slot *last;
};

hf_framed_decoder *hf_framed_decoder_new(hf_schema_source *schemas)
{
    hf_framed_decoder *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->schemas = schemas;
    return d;
}

void hf_framed_decoder_destroy(hf_framed_decoder *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->cap; i++) {
        hf_avro_event_reader_destroy(d->tab[i].reader);
        free(d->tab[i].error);
    }
    free(d->tab);
    free(d);
}

static size_t slot_index(int32_t id, size_t cap)
{
    return ((uint32_t)id * 2654435761u) & (cap - 1);
}

static reader_slot *slot_find(hf_framed_decoder *d, int32_t id)
{
    if (d->cap == 0)
        return NULL;
    for (size_t i = slot_index(id, d->cap);; i = (i + 1) & (d->cap - 1)) {
        if (!d->tab[i].used)
            return NULL;
        if (d->tab[i].id == id)
            return &d->tab[i];
    }
}

static reader_slot *slot_add(hf_framed_decoder *d, int32_t id)
{
    if ((d->n + 1) * 2 > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        reader_slot *tab = calloc(cap, sizeof(*tab));
        if (tab == NULL)
            return NULL;
        for (size_t i = 0; i < d->cap; i++) {
            if (!d->tab[i].used)
                continue;
            size_t j = slot_index(d->tab[i].id, cap);
            while (tab[j].used)
                j = (j + 1) & (cap - 1);
            tab[j] = d->tab[i];
        }
        free(d->tab);
        d->tab = tab;
        d->cap = cap;
        d->last = NULL;
    }
    size_t i = slot_index(id, d->cap);
    while (d->tab[i].used)
        i = (i + 1) & (d->cap - 1);
    d->tab[i].used = 1;
    d->tab[i].id = id;
    d->n++;
    return &d->tab[i];
}

/*
 * The reader for a schema id, or NULL with errstr. Schemas the source cannot
 * find are not remembered here (the source throttles its retries); schemas
 * that cannot carry events are remembered with their reason.
 */
static hf_avro_event_reader *reader_for(hf_framed_decoder *d, int32_t id,
                                        char *errstr, size_t errstr_size)
{
    reader_slot *s = (d->last != NULL && d->last_id == id) ? d->last
                                                            : slot_find(d, id);
    if (s == NULL) {
        char why[512];
        avro_schema_t schema =
            hf_schema_source_get(d->schemas, id, why, sizeof(why));
        if (schema == NULL) {
            snprintf(errstr, errstr_size, "unknown schema id %d: %s", (int)id,
                     why);
            return NULL;
        }
        s = slot_add(d, id);
        if (s == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            return NULL;
        }
        s->reader = hf_avro_event_reader_new(schema, why, sizeof(why));
        if (s->reader == NULL)
            s->error = strdup(why);
    }
    d->last_id = id;
    d->last = s;
    if (s->reader == NULL) {
        snprintf(errstr, errstr_size, "schema id %d: %s", (int)id,
                 s->error ? s->error : "out of memory");
        return NULL;
    }
    return s->reader;
}

int hf_framed_decode_event(hf_framed_decoder *d, const void *buf, size_t len,
                           hf_event *e, char *errstr, size_t errstr_size)
{
    return hf_framed_decode_event_as(d, buf, len, NULL, e, errstr, errstr_size);
}

int hf_framed_decode_event_as(hf_framed_decoder *d, const void *buf, size_t len,
                              const hf_event_type *fixed, hf_event *e,
                              char *errstr, size_t errstr_size)
{
    int32_t id;
    const void *payload;
    size_t payload_len;
    if (hf_framing_parse(buf, len, &id, &payload, &payload_len, errstr,
                         errstr_size) != 0)
        return -1;
    hf_avro_event_reader *r = reader_for(d, id, errstr, errstr_size);
    if (r == NULL)
        return -1;
    return hf_avro_event_decode_as(r, payload, payload_len, fixed, e, errstr,
                                   errstr_size);
}
