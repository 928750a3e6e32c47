/*
 * input.c - the message decoder of the Kafka input (input.h): JSON, or
 * Confluent-framed Avro with writer schemas from the registry or a directory.
 */
#include "kafka/input.h"

#include <stdio.h>
#include <stdlib.h>

#include "codec/codec_json.h"
#include "codec/framing.h"
#include "codec/registry.h"

struct hf_kafka_input {
    const hf_config *cfg;
    hf_json_decoder *json;
    hf_schema_source *schemas;
    hf_framed_decoder *framed;
};

hf_kafka_input *hf_kafka_input_new(const hf_config *cfg,
                                             char *errstr, size_t errstr_size)
{
    hf_kafka_input *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    d->cfg = cfg;
    if (cfg->input_format == HF_FORMAT_JSON) {
        d->json = hf_json_decoder_new();
        if (d->json == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            goto error;
        }
        return d;
    }
    if (cfg->schema_registry_url[0] == '\0' && cfg->input_schema_dir[0] == '\0') {
        snprintf(errstr, errstr_size,
                 "input.format=avro needs schema.registry.url or input.schema.dir");
        goto error;
    }
    d->schemas = hf_schema_source_new(cfg->schema_registry_url,
                                      cfg->input_schema_dir, errstr, errstr_size);
    if (d->schemas == NULL)
        goto error;
    hf_schema_source_set_timeouts(d->schemas, 2000,
                                  (long)cfg->schema_registry_timeout_ms);
    d->framed = hf_framed_decoder_new(d->schemas);
    if (d->framed == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto error;
    }
    return d;
error:
    hf_kafka_input_destroy(d);
    return NULL;
}

void hf_kafka_input_destroy(hf_kafka_input *d)
{
    if (d == NULL)
        return;
    hf_framed_decoder_destroy(d->framed);
    hf_schema_source_destroy(d->schemas);
    hf_json_decoder_destroy(d->json);
    free(d);
}

int hf_kafka_input_decode(hf_kafka_input *d, const rd_kafka_message_t *m,
                       hf_event *e, char *errstr, size_t errstr_size)
{
    int rc;
    if (m->payload == NULL) {
        snprintf(errstr, errstr_size, "message has no value");
        return -1;
    }
    /* A topic that fixes the type (input.topic.<t>.type) needs none in its events. */
    const char *topic = rd_kafka_topic_name(m->rkt);
    hf_event_type t;
    const hf_event_type *fixed = hf_config_topic_type(d->cfg, topic, &t) == 0 ? &t : NULL;
    if (d->json != NULL)
        rc = hf_json_decode_event_as(d->json, m->payload, m->len, fixed, e, errstr,
                                     errstr_size);
    else
        rc = hf_framed_decode_event_as(d->framed, m->payload, m->len, fixed, e, errstr,
                                       errstr_size);
    if (rc != 0)
        return -1;
    e->source.topic = topic;
    e->source.partition = m->partition;
    e->source.offset = m->offset;
    return 0;
}
