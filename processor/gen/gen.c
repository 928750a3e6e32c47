/*
 * gen.c - synthetic customer journeys (see gen.h for the model).
 *
 * Future events wait in one bucket per day (a ring of days); a day's bucket
 * is sorted by (time, customer, kind, order) when the stream reaches it, so
 * the output is in time order and fully determined by the seed. Every event
 * schedules its successors on later days only.
 *
 * The second part holds the event sinks that `gen` and `produce` share.
 */
#include "gen/gen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "codec/codec_avro.h"
#include "codec/codec_json.h"
#include "codec/framing.h"
#include "kafka/kafka_conf.h"
#include "kafka/produce.h"
#include "util/buf.h"
#include "util/clock.h"

#define DAY_MS 86400000LL
#define RING 2048          /* > the longest gap in days (one-time: 1095) */
#define ARRIVAL_DAYS 180
#define LATE_PERMILLE 10

enum { K_PURCHASE = 0, K_RETURN = 1 };

typedef struct pending {
    int64_t t;         /* event time */
    uint32_t customer;
    uint32_t kind;     /* K_PURCHASE or K_RETURN */
    uint64_t order;    /* returns: the order number */
    int64_t amount;    /* returns: money given back */
    int64_t items;     /* returns: items given back */
} pending;

typedef struct bucket {
    pending *v;
    size_t n;
    size_t cap;
} bucket;

struct hf_gen {
    hf_gen_opts o;
    uint64_t rng;
    int64_t start_day;
    int64_t day;           /* relative day being emitted */
    size_t pos;            /* next entry of the current bucket */
    bucket ring[RING];
    int64_t *last_time;    /* per customer: time of its last event, or INT64_MIN */
    uint8_t *phase;        /* lapsing buyers: purchases left in the active phase */
    uint8_t *kind;         /* hf_gen_kind per customer */
    uint64_t emitted;
    uint64_t orders;
    int64_t high;          /* the latest event time emitted */
    hf_gen_stats stats;
    char event_id[48];
    char customer_id[24];
    char order_id[48];
    int failed;            /* out of memory while scheduling */
};

/*--- Random numbers -----------------------------------------------------------*/

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* splitmix64 */
static uint64_t next_u64(hf_gen *g)
{
    g->rng += 0x9e3779b97f4a7c15ULL;
    return mix64(g->rng);
}

/* Uniform in [lo, hi] by multiply-shift (Lemire; no division, bias < 2^-40). */
static int64_t range(hf_gen *g, int64_t lo, int64_t hi)
{
    __extension__ typedef unsigned __int128 u128;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(((u128)next_u64(g) * span) >> 64);
}

hf_gen_kind hf_gen_kind_of(uint64_t seed, uint32_t customer)
{
    uint64_t r = mix64(seed * 0x9e3779b97f4a7c15ULL + customer + 1) % 100;
    if (r < 40)
        return HF_GEN_ONE_TIME;
    if (r < 70)
        return HF_GEN_REPEAT;
    if (r < 80)
        return HF_GEN_RETURNER;
    return HF_GEN_LAPSING;
}

/*--- Scheduling -------------------------------------------------------------*/

static void schedule(hf_gen *g, const pending *p)
{
    int64_t rel = p->t / DAY_MS - g->start_day;
    bucket *b = &g->ring[rel % RING];
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        pending *v = realloc(b->v, cap * sizeof(*v));
        if (v == NULL) {
            g->failed = 1;
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *p;
}

/* A time on the day `days` after the day of t, uniformly within that day. */
static int64_t days_after(hf_gen *g, int64_t t, int64_t days)
{
    return (t / DAY_MS + days) * DAY_MS + range(g, 0, DAY_MS - 1);
}

static int cmp_pending(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->customer != y->customer)
        return x->customer < y->customer ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return 0;
}

hf_gen *hf_gen_new(const hf_gen_opts *opts)
{
    if (opts->customers == 0)
        return NULL;
    hf_gen *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->o = *opts;
    g->rng = mix64(opts->seed ^ 0x6869726566697265ULL); /* "hirefire" */
    g->start_day = opts->start_ms / DAY_MS;
    g->high = INT64_MIN;
    g->last_time = malloc(opts->customers * sizeof(*g->last_time));
    g->phase = calloc(opts->customers, 1);
    g->kind = malloc(opts->customers);
    if (g->last_time == NULL || g->phase == NULL || g->kind == NULL) {
        hf_gen_destroy(g);
        return NULL;
    }
    for (uint32_t c = 0; c < opts->customers; c++) {
        g->last_time[c] = INT64_MIN;
        g->kind[c] = (uint8_t)hf_gen_kind_of(opts->seed, c);
        pending p = {0};
        p.customer = c;
        p.kind = K_PURCHASE;
        p.t = days_after(g, opts->start_ms, range(g, 0, ARRIVAL_DAYS - 1));
        schedule(g, &p);
    }
    if (g->failed) {
        hf_gen_destroy(g);
        return NULL;
    }
    bucket *b = &g->ring[0];
    if (b->n > 1)
        qsort(b->v, b->n, sizeof(*b->v), cmp_pending);
    return g;
}

void hf_gen_destroy(hf_gen *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < RING; i++)
        free(g->ring[i].v);
    free(g->last_time);
    free(g->phase);
    free(g->kind);
    free(g);
}

void hf_gen_get_stats(const hf_gen *g, hf_gen_stats *out)
{
    *out = g->stats;
}

/*--- Journeys ---------------------------------------------------------------*/

static int64_t draw_items(hf_gen *g)
{
    int64_t r = range(g, 0, 99);
    return r < 45 ? 1 : r < 70 ? 2 : r < 85 ? 3 : r < 93 ? 4 : r < 97 ? 5 : 6;
}

/* Days until the next purchase of customer c (updates lapsing phases). */
static int64_t next_gap(hf_gen *g, uint32_t c)
{
    switch ((hf_gen_kind)g->kind[c]) {
    case HF_GEN_ONE_TIME:
        return range(g, 365, 1095);
    case HF_GEN_REPEAT:
        return range(g, 10, 45);
    case HF_GEN_RETURNER:
        return range(g, 7, 30);
    case HF_GEN_LAPSING:
    default:
        if (g->phase[c] == 0)
            g->phase[c] = (uint8_t)range(g, 3, 8);
        if (--g->phase[c] == 0)
            return range(g, 120, 400);
        return range(g, 5, 25);
    }
}

/* A purchase: sets its amount and items, schedules its return and the next purchase. */
static void purchase(hf_gen *g, const pending *p, int64_t *amount,
                     int64_t *items, uint64_t *order)
{
    uint32_t c = p->customer;
    hf_gen_kind k = (hf_gen_kind)g->kind[c];
    *order = ++g->orders;
    *items = draw_items(g);
    *amount = 0;
    for (int64_t i = 0; i < *items; i++)
        *amount += 499 + 100 * range(g, 0, 75);

    static const int return_pct[HF_GEN_KINDS] = {5, 8, 70, 6};
    if (range(g, 0, 99) < return_pct[k]) {
        pending r = {0};
        r.customer = c;
        r.kind = K_RETURN;
        r.order = *order;
        if (k == HF_GEN_RETURNER) {
            r.t = days_after(g, p->t, range(g, 2, 10));
            r.items = (*items == 1 || range(g, 0, 99) < 80)
                          ? *items
                          : range(g, 1, *items - 1);
        } else {
            r.t = days_after(g, p->t, range(g, 3, 14));
            r.items = range(g, 1, *items);
        }
        r.amount = *amount * r.items / *items;
        schedule(g, &r);
    }
    pending n = {0};
    n.customer = c;
    n.kind = K_PURCHASE;
    n.t = days_after(g, p->t, next_gap(g, c));
    schedule(g, &n);
}

int hf_gen_next(hf_gen *g, hf_event *e)
{
    if (g->emitted >= g->o.events || g->failed)
        return 0;
    bucket *b = &g->ring[g->day % RING];
    while (g->pos == b->n) {
        b->n = 0;
        g->pos = 0;
        g->day++;
        b = &g->ring[g->day % RING];
        if (b->n > 1)
            qsort(b->v, b->n, sizeof(*b->v), cmp_pending);
    }
    pending p = b->v[g->pos++]; /* copy: schedule() may grow other buckets */

    uint32_t c = p.customer;
    int64_t amount, items;
    uint64_t order;
    memset(e, 0, sizeof(*e));
    if (p.kind == K_PURCHASE) {
        purchase(g, &p, &amount, &items, &order);
        e->type = HF_EVENT_PURCHASE;
        g->stats.purchases++;
    } else {
        amount = p.amount;
        items = p.items;
        order = p.order;
        e->type = HF_EVENT_RETURN;
        g->stats.returns++;
    }
    if (g->failed)
        return 0;

    int64_t t = p.t;
    if (range(g, 0, 999) < LATE_PERMILLE) {
        int64_t late = t - range(g, 60000, 3 * 3600000);
        if (late > g->last_time[c])
            t = late;
    }
    if (t < g->high)
        g->stats.late++; /* earlier than an event already emitted */
    else
        g->high = t;
    if (g->last_time[c] == INT64_MIN)
        g->stats.customers_seen++;
    g->last_time[c] = t;
    g->stats.by_kind[g->kind[c]]++;
    g->emitted++;

    char *q = g->event_id;
    *q++ = 'e';
    q = hf_put_u64(q, g->o.seed, 1);
    *q++ = '-';
    q = hf_put_u64(q, g->emitted, 1);
    e->event_id = g->event_id;
    e->event_id_len = (size_t)(q - g->event_id);

    q = g->customer_id;
    *q++ = 'c';
    q = hf_put_u64(q, c, 7);
    e->customer_id = g->customer_id;
    e->customer_id_len = (size_t)(q - g->customer_id);

    q = g->order_id;
    *q++ = 'o';
    q = hf_put_u64(q, g->o.seed, 1);
    *q++ = '-';
    q = hf_put_u64(q, order, 1);
    e->order_id = g->order_id;
    e->order_id_len = (size_t)(q - g->order_id);

    e->event_time = t;
    e->amount_minor = amount;
    e->items = items;
    memcpy(e->currency, "EUR", 4);
    e->source.topic = NULL;
    e->source.partition = -1;
    e->source.offset = (int64_t)g->emitted;
    return 1;
}

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
