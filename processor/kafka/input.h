/*
 * input.h - the message decoder of the Kafka input: turns a consumed message
 * into an event, by input.format (framed Avro or JSON), for the live loop and
 * the Kafka replay alike.
 */
#ifndef HF_KAFKA_INPUT_H
#define HF_KAFKA_INPUT_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "config/config.h"
#include "core/event.h"

typedef struct hf_kafka_input hf_kafka_input;

/*
 * A decoder for cfg's input.format: framed Avro (schemas from
 * schema.registry.url, else input.schema.dir) or JSON. Fixes the event type
 * for the topics of input.topic.<t>.type. Borrows cfg. Returns NULL with
 * errstr, e.g. "input.format=avro needs schema.registry.url or input.schema.dir".
 * One decoder serves one thread at a time.
 */
hf_kafka_input *hf_kafka_input_new(const hf_config *cfg, char *errstr, size_t errstr_size);
void hf_kafka_input_destroy(hf_kafka_input *d); /* accepts NULL */

/*
 * Decodes a consumed message into e (source = its topic, partition and
 * offset; strings valid until the next call and while m lives). Returns 0,
 * or -1 with the reason in errstr (e.g. "message has no value").
 */
int hf_kafka_input_decode(hf_kafka_input *d, const rd_kafka_message_t *m, hf_event *e,
                          char *errstr, size_t errstr_size);

#endif
