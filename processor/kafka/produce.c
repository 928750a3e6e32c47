/* produce.c - producing one message, waiting while the producer's queue is full. */
#include "kafka/produce.h"

/* The wait between two attempts: one delivery-report poll. */
#define POLL_MS 100

rd_kafka_resp_err_t hf_produce(rd_kafka_t *rk, const hf_produce_msg *m, int timeout_ms)
{
    rd_kafka_vu_t vu[7];
    size_t n = 0;
    if (m->rkt != NULL) {
        vu[n].vtype = RD_KAFKA_VTYPE_RKT;
        vu[n++].u.rkt = m->rkt;
    } else {
        vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
        vu[n++].u.cstr = m->topic;
    }
    vu[n].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[n++].u.i32 = m->partition;
    vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[n++].u.i = RD_KAFKA_MSG_F_COPY;
    vu[n].vtype = RD_KAFKA_VTYPE_KEY;
    vu[n].u.mem.ptr = (void *)m->key;
    vu[n++].u.mem.size = m->key_len;
    vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[n].u.mem.ptr = (void *)m->value;
    vu[n++].u.mem.size = m->value_len;
    vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[n++].u.ptr = m->opaque;
    if (m->headers != NULL) {
        vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
        vu[n++].u.headers = m->headers;
    }
    for (int waited = 0;; waited += POLL_MS) {
        rd_kafka_error_t *error = rd_kafka_produceva(rk, vu, n);
        if (error == NULL)
            return RD_KAFKA_RESP_ERR_NO_ERROR; /* the headers are the message's now */
        rd_kafka_resp_err_t err = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || waited >= timeout_ms) {
            if (m->headers != NULL)
                rd_kafka_headers_destroy(m->headers);
            return err;
        }
        rd_kafka_poll(rk, POLL_MS); /* deliveries make room */
    }
}
