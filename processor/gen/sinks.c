/*
 * sinks.c - where `gen` and `produce` put events: a JSON lines file, an
 * Avro object container file written block by block, or a Kafka topic
 * (see sinks.h).
 */
#include "gen/sinks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "codec/codec_avro.h"
#include "codec/codec_json.h"
#include "codec/framing.h"
#include "gen/gen_int.h"
#include "kafka/kafka_conf.h"
#include "kafka/produce.h"
#include "util/buf.h"
#include "util/clock.h"

/*--- Event sinks ------------------------------------------------------------*/

#define AVRO_BLOCK_BYTES (64 * 1024)
#define FLUSH_TIMEOUT_MS 60000

struct hf_gen_sink {
    hf_sink_format format;
    uint64_t count;
    hf_buf buf;          /* files: pending output; Kafka: the value */
    hf_buf datum;        /* Avro: one encoded record */
    /* files */
    FILE *fp;
    int close_fp;
    char *path;
    unsigned char sync[16];
    uint64_t block_count;
    /* Kafka */
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    char *topic;
    int32_t schema_id;
    uint64_t *per_partition;
    int32_t partitions;
    uint64_t failed;
    char first_error[256];
};

static void sink_free(hf_gen_sink *k)
{
    if (k->rkt != NULL)
        rd_kafka_topic_destroy(k->rkt);
    if (k->rk != NULL)
        rd_kafka_destroy(k->rk);
    if (k->fp != NULL && k->close_fp)
        fclose(k->fp);
    hf_buf_free(&k->buf);
    hf_buf_free(&k->datum);
    free(k->path);
    free(k->topic);
    free(k->per_partition);
    free(k);
}

/* Avro's zig-zag varint. */
static int put_long(hf_buf *b, int64_t v)
{
    unsigned char tmp[10];
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z & ~0x7fULL) {
        tmp[n++] = (unsigned char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    tmp[n++] = (unsigned char)z;
    return hf_buf_append(b, tmp, n);
}

static int put_bytes(hf_buf *b, const char *s, size_t len)
{
    return put_long(b, (int64_t)len) || hf_buf_append(b, s, len);
}

static int file_flush_block(hf_gen_sink *k, char *errstr, size_t errstr_size)
{
    if (k->format == HF_SINK_AVRO && k->block_count > 0) {
        hf_buf head = HF_BUF_INIT;
        if (put_long(&head, (int64_t)k->block_count) ||
            put_long(&head, (int64_t)k->datum.len)) {
            hf_buf_free(&head);
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        size_t ok = fwrite(head.data, 1, head.len, k->fp);
        ok += fwrite(k->datum.data, 1, k->datum.len, k->fp);
        ok += fwrite(k->sync, 1, sizeof(k->sync), k->fp);
        int short_write = ok != head.len + k->datum.len + sizeof(k->sync);
        hf_buf_free(&head);
        hf_buf_reset(&k->datum);
        k->block_count = 0;
        if (short_write) {
            snprintf(errstr, errstr_size, "cannot write %s: %s", k->path,
                     strerror(errno));
            return -1;
        }
        return 0;
    }
    if (k->buf.len > 0) {
        if (fwrite(k->buf.data, 1, k->buf.len, k->fp) != k->buf.len) {
            snprintf(errstr, errstr_size, "cannot write %s: %s", k->path,
                     strerror(errno));
            hf_buf_reset(&k->buf);
            return -1;
        }
        hf_buf_reset(&k->buf);
    }
    return 0;
}

hf_gen_sink *hf_gen_sink_file_open(const char *path, hf_sink_format format,
                                   uint64_t sync_seed, char *errstr,
                                   size_t errstr_size)
{
    hf_gen_sink *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    k->format = format;
    k->path = strdup(strcmp(path, "-") == 0 ? "standard output" : path);
    if (strcmp(path, "-") == 0) {
        k->fp = stdout;
    } else {
        k->fp = fopen(path, "wb");
        k->close_fp = 1;
    }
    if (k->fp == NULL || k->path == NULL) {
        snprintf(errstr, errstr_size, "cannot create %s: %s", path,
                 k->path ? strerror(errno) : "out of memory");
        sink_free(k);
        return NULL;
    }
    if (format == HF_SINK_AVRO) {
        uint64_t a = mix64(sync_seed ^ 0x73796e63ULL), b2 = mix64(a);
        for (int i = 0; i < 8; i++) {
            k->sync[i] = (unsigned char)(a >> (8 * i));
            k->sync[8 + i] = (unsigned char)(b2 >> (8 * i));
        }
        const char *schema = hf_avro_customer_event_schema_json;
        if (hf_buf_append(&k->buf, "Obj\x01", 4) || put_long(&k->buf, 2) ||
            put_bytes(&k->buf, "avro.schema", 11) ||
            put_bytes(&k->buf, schema, strlen(schema)) ||
            put_bytes(&k->buf, "avro.codec", 10) ||
            put_bytes(&k->buf, "null", 4) || put_long(&k->buf, 0) ||
            hf_buf_append(&k->buf, k->sync, sizeof(k->sync))) {
            snprintf(errstr, errstr_size, "out of memory");
            sink_free(k);
            return NULL;
        }
        if (file_flush_block(k, errstr, errstr_size) != 0) {
            sink_free(k);
            return NULL;
        }
    }
    return k;
}

/* librdkafka delivery report: count per partition, remember the first error. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
    (void)rk;
    hf_gen_sink *k = opaque;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (k->failed++ == 0)
            snprintf(k->first_error, sizeof(k->first_error), "%s",
                     rd_kafka_err2str(m->err));
        return;
    }
    if (m->partition >= k->partitions) {
        uint64_t *p = realloc(k->per_partition,
                              (size_t)(m->partition + 1) * sizeof(*p));
        if (p == NULL)
            return;
        memset(p + k->partitions, 0,
               (size_t)(m->partition + 1 - k->partitions) * sizeof(*p));
        k->per_partition = p;
        k->partitions = m->partition + 1;
    }
    if (m->partition >= 0)
        k->per_partition[m->partition]++;
    k->count++;
}

hf_gen_sink *hf_gen_sink_kafka_open(const hf_config *cfg, const char *brokers,
                                    const char *topic, hf_sink_format format,
                                    int32_t schema_id, char *errstr,
                                    size_t errstr_size)
{
    hf_gen_sink *k = calloc(1, sizeof(*k));
    if (k == NULL || (k->topic = strdup(topic)) == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        free(k);
        return NULL;
    }
    k->format = format;
    k->schema_id = schema_id;

    const hf_kafka_setting settings[] = {
        {"linger.ms", "5", HF_KAFKA_DEFAULT, NULL},
        {"enable.idempotence", "true", HF_KAFKA_DEFAULT, NULL},
        {"queue.buffering.max.messages", "1000000", HF_KAFKA_DEFAULT, NULL},
        {"partitioner", "consistent_random", HF_KAFKA_REQUIRED,
         "the processor checks customers against partitions with it"},
        {"bootstrap.servers", brokers ? brokers : "", HF_KAFKA_OVERRIDE, NULL},
    };
    size_t n = sizeof(settings) / sizeof(settings[0]) - (brokers ? 0 : 1);
    char why[512];
    rd_kafka_conf_t *conf = hf_kafka_conf_new(cfg, settings, n, errstr,
                                              errstr_size);
    if (conf == NULL) {
        sink_free(k);
        return NULL;
    }
    char servers[512];
    hf_kafka_conf_get(conf, "bootstrap.servers", servers, sizeof(servers));
    char mock[32];
    hf_kafka_conf_get(conf, "test.mock.num.brokers", mock, sizeof(mock));
    if (servers[0] == '\0' && (mock[0] == '\0' || strcmp(mock, "0") == 0)) {
        snprintf(errstr, errstr_size,
                 "no brokers: give --brokers HOST:PORT or set "
                 "kafka.bootstrap.servers");
        rd_kafka_conf_destroy(conf);
        sink_free(k);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, k);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (k->rk == NULL) {
        snprintf(errstr, errstr_size, "cannot create the Kafka producer: %s", why);
        rd_kafka_conf_destroy(conf);
        sink_free(k);
        return NULL;
    }
    conf = NULL; /* now owned by k->rk */
    k->rkt = rd_kafka_topic_new(k->rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err =
        k->rkt ? rd_kafka_metadata(k->rk, 0, k->rkt, &md, 10000)
               : rd_kafka_last_error();
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
        err = md->topics[0].err;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            snprintf(errstr, errstr_size, "topic \"%s\" does not exist (brokers %s)",
                     topic, servers[0] ? servers : "mock");
        else
            snprintf(errstr, errstr_size, "topic \"%s\" (brokers %s): %s", topic,
                     servers[0] ? servers : "mock", rd_kafka_err2str(err));
        if (md != NULL)
            rd_kafka_metadata_destroy(md);
        sink_free(k);
        return NULL;
    }
    int32_t parts = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    if (parts > 0) {
        k->per_partition = calloc((size_t)parts, sizeof(*k->per_partition));
        if (k->per_partition == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            sink_free(k);
            return NULL;
        }
        k->partitions = parts;
    }
    return k;
}

static int kafka_write(hf_gen_sink *k, const hf_event *e, char *errstr,
                       size_t errstr_size)
{
    hf_buf_reset(&k->buf);
    int rc;
    if (k->format == HF_SINK_AVRO) {
        hf_buf_reset(&k->datum);
        rc = hf_avro_encode_event(e, &k->datum) ||
             hf_framing_write(&k->buf, k->schema_id, k->datum.data, k->datum.len);
    } else {
        rc = hf_json_encode_event(e, &k->buf);
    }
    if (rc != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    hf_produce_msg pm = {.rkt = k->rkt, .partition = RD_KAFKA_PARTITION_UA,
                         .key = e->customer_id, .key_len = e->customer_id_len,
                         .value = k->buf.data, .value_len = k->buf.len};
    rd_kafka_resp_err_t err = hf_produce(k->rk, &pm, HF_PRODUCE_QUEUE_FULL_WAIT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "cannot produce to %s: %s", k->topic,
                 rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll(k->rk, 0);
    if (k->failed > 0) {
        snprintf(errstr, errstr_size, "delivery to %s failed: %s", k->topic,
                 k->first_error);
        return -1;
    }
    char fatal[256];
    if (rd_kafka_fatal_error(k->rk, fatal, sizeof(fatal)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "Kafka producer failed: %s", fatal);
        return -1;
    }
    return 0;
}

int hf_gen_sink_write(hf_gen_sink *k, const hf_event *e, char *errstr,
                      size_t errstr_size)
{
    if (k->rk != NULL)
        return kafka_write(k, e, errstr, errstr_size);
    if (k->format == HF_SINK_AVRO) {
        if (hf_avro_encode_event(e, &k->datum) != 0) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        k->block_count++;
        k->count++;
        if (k->datum.len >= AVRO_BLOCK_BYTES)
            return file_flush_block(k, errstr, errstr_size);
        return 0;
    }
    if (hf_json_encode_event(e, &k->buf) != 0 || hf_buf_append(&k->buf, "\n", 1) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    k->count++;
    if (k->buf.len >= AVRO_BLOCK_BYTES)
        return file_flush_block(k, errstr, errstr_size);
    return 0;
}

void hf_gen_sink_wait(hf_gen_sink *k, int timeout_ms)
{
    if (k->rk != NULL) {
        /* rd_kafka_poll returns as soon as it served a delivery report. */
        int64_t until = hf_clock_mono_ms() + timeout_ms;
        for (int64_t left = timeout_ms; left > 0;) {
            rd_kafka_poll(k->rk, (int)left);
            left = until - hf_clock_mono_ms();
        }
        return;
    }
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

uint64_t hf_gen_sink_count(const hf_gen_sink *k)
{
    return k->count;
}

int hf_gen_sink_close(hf_gen_sink *k, FILE *summary, uint64_t *count,
                      char *errstr, size_t errstr_size)
{
    if (k == NULL)
        return 0;
    int rc = 0;
    if (k->rk == NULL) {
        if (count != NULL)
            *count = k->count;
        rc = file_flush_block(k, errstr, errstr_size);
        if (fflush(k->fp) != 0 && rc == 0) {
            snprintf(errstr, errstr_size, "cannot write %s: %s", k->path,
                     strerror(errno));
            rc = -1;
        }
        if (k->close_fp) {
            int c = fclose(k->fp);
            k->fp = NULL;
            if (c != 0 && rc == 0) {
                snprintf(errstr, errstr_size, "cannot write %s: %s", k->path,
                         strerror(errno));
                rc = -1;
            }
        }
        sink_free(k);
        return rc;
    }
    rd_kafka_flush(k->rk, FLUSH_TIMEOUT_MS);
    int left = rd_kafka_outq_len(k->rk);
    if (count != NULL)
        *count = k->count;
    if (k->failed > 0) {
        snprintf(errstr, errstr_size, "%llu messages were not delivered: %s",
                 (unsigned long long)k->failed, k->first_error);
        rc = -1;
    } else if (left > 0) {
        snprintf(errstr, errstr_size,
                 "%d messages were not delivered within %d s", left,
                 FLUSH_TIMEOUT_MS / 1000);
        rc = -1;
    }
    if (summary != NULL)
        for (int32_t p = 0; p < k->partitions; p++)
            if (k->per_partition[p] > 0)
                fprintf(summary, "  partition %d: %llu messages\n", (int)p,
                        (unsigned long long)k->per_partition[p]);
    sink_free(k);
    return rc;
}
