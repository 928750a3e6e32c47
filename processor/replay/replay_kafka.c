/*
 * replay_kafka.c - a topic range through the rules: every partition of the
 * topics is assigned directly (no group join, nothing committed), each
 * partition number is one stream, and reading stops at the end offsets
 * taken at the start.
 *
 * Range of each topic-partition:
 *   --from earliest (default)  its first offset
 *   --from RFC 3339 time       the first message with a timestamp >= time
 *   --from P:O[,P:O...]        offset O of partition P of every topic; only
 *                              the listed partitions are replayed
 *   --to end (default)         the high watermark taken at the start
 *   --to RFC 3339 time         the first message with a timestamp >= time
 *                              (exclusive)
 * With several topics, the events of one stream are applied in the order
 * the consumer returns them, as `hirefire run` does.
 */
#include "replay/replay_kafka.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/codec_json.h"
#include "kafka/input.h"
#include "kafka/kafka_conf.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define POLL_MS 100
#define QUERY_TIMEOUT_MS 10000

typedef struct range {
    int topic;
    int32_t partition;
    int64_t start, end; /* [start, end) */
    int done;
} range;

typedef struct replay {
    const hf_config *cfg;
    const hf_kafka_replay_opts *opts;
    rd_kafka_t *rk;
    char **topics;
    size_t ntopics;
    int32_t *partition_cnt;
    range *ranges;
    size_t nranges;
    size_t left; /* ranges not done */
    hf_stream *streams; /* [partition number] */
    int *has_stream;
    int32_t nstreams;
    hf_buf tmp;
} replay;

/* Splits "a,b" into trimmed, non-empty parts. */
static int split_topics(replay *r, const char *list, char *errstr, size_t errstr_size)
{
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == 0) {
            snprintf(errstr, errstr_size, "--topic: empty topic name in \"%s\"", list);
            return -1;
        }
        char **t = realloc(r->topics, (r->ntopics + 1) * sizeof(*t));
        if (t == NULL)
            return -1;
        r->topics = t;
        if ((t[r->ntopics] = strndup(p, n)) == NULL)
            return -1;
        r->ntopics++;
        p = end ? end + 1 : p + n;
    }
    if (r->ntopics == 0) {
        snprintf(errstr, errstr_size, "--topic: no topic given");
        return -1;
    }
    return 0;
}

static int topic_index(const replay *r, const char *name)
{
    for (size_t i = 0; i < r->ntopics; i++)
        if (strcmp(r->topics[i], name) == 0)
            return (int)i;
    return -1;
}

static int partition_counts(replay *r, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(r->rk, 1, NULL, &md, QUERY_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "cannot read the topic list from the brokers: %s",
                 rd_kafka_err2str(err));
        return -1;
    }
    int rc = 0;
    for (size_t k = 0; k < r->ntopics && rc == 0; k++) {
        r->partition_cnt[k] = -1;
        for (int i = 0; i < md->topic_cnt; i++)
            if (strcmp(md->topics[i].topic, r->topics[k]) == 0 &&
                md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
                r->partition_cnt[k] = md->topics[i].partition_cnt;
        if (r->partition_cnt[k] < 0) {
            snprintf(errstr, errstr_size, "topic \"%s\" does not exist", r->topics[k]);
            rc = -1;
        }
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* Offsets of the first messages at or after time ms; -1 where none. */
static int offsets_for_time(replay *r, int64_t ms, int64_t *out, char *errstr,
                            size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)r->nranges);
    for (size_t i = 0; i < r->nranges; i++)
        rd_kafka_topic_partition_list_add(l, r->topics[r->ranges[i].topic],
                                          r->ranges[i].partition)->offset = ms;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(r->rk, l, QUERY_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "cannot look up offsets by time: %s",
                 rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(l);
        return -1;
    }
    for (size_t i = 0; i < r->nranges; i++)
        out[i] = l->elems[i].err ? -1 : l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return 0;
}

/* Parses "P:O,P:O" and restricts the ranges to the listed partitions. */
static int apply_offsets(replay *r, const char *from, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < r->nranges; i++)
        r->ranges[i].done = 1;
    const char *p = from;
    while (*p) {
        char *end;
        long long part = strtoll(p, &end, 10);
        if (end == p || *end != ':' || part < 0)
            goto bad;
        p = end + 1;
        long long off = strtoll(p, &end, 10);
        if (end == p || (*end != ',' && *end != '\0') || off < 0)
            goto bad;
        int found = 0;
        for (size_t i = 0; i < r->nranges; i++)
            if (r->ranges[i].partition == part) {
                r->ranges[i].done = 0;
                if (off > r->ranges[i].start)
                    r->ranges[i].start = off;
                found = 1;
            }
        if (!found) {
            snprintf(errstr, errstr_size, "--from: no partition %lld in %s", part,
                     r->opts->topics);
            return -1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
bad:
    snprintf(errstr, errstr_size,
             "--from must be earliest, an RFC 3339 time or P:O,... offsets, got \"%s\"", from);
    return -1;
}

static int plan(replay *r, char *errstr, size_t errstr_size)
{
    size_t n = 0;
    for (size_t k = 0; k < r->ntopics; k++)
        n += (size_t)r->partition_cnt[k];
    r->ranges = calloc(n ? n : 1, sizeof(*r->ranges));
    int64_t *tmp = calloc(n ? n : 1, sizeof(*tmp));
    int rc = -1;
    if (r->ranges == NULL || tmp == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < r->ntopics; k++)
        for (int32_t p = 0; p < r->partition_cnt[k]; p++) {
            range *g = &r->ranges[r->nranges++];
            g->topic = (int)k;
            g->partition = p;
            rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                r->rk, r->topics[k], p, &g->start, &g->end, QUERY_TIMEOUT_MS);
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                snprintf(errstr, errstr_size, "cannot read the offsets of %s [%" PRId32 "]: %s",
                         r->topics[k], p, rd_kafka_err2str(err));
                goto out;
            }
        }
    const char *from = r->opts->from, *to = r->opts->to;
    int64_t ms;
    if (to != NULL && strcmp(to, "end") != 0) {
        if (hf_parse_rfc3339(to, strlen(to), &ms) != 0) {
            snprintf(errstr, errstr_size, "--to must be end or an RFC 3339 time, got \"%s\"", to);
            goto out;
        }
        if (offsets_for_time(r, ms, tmp, errstr, errstr_size) != 0)
            goto out;
        for (size_t i = 0; i < r->nranges; i++)
            if (tmp[i] >= 0 && tmp[i] < r->ranges[i].end)
                r->ranges[i].end = tmp[i];
    }
    if (from != NULL && strcmp(from, "earliest") != 0) {
        if (strchr(from, ':') != NULL && strchr(from, 'T') == NULL) {
            if (apply_offsets(r, from, errstr, errstr_size) != 0)
                goto out;
        } else {
            if (hf_parse_rfc3339(from, strlen(from), &ms) != 0) {
                snprintf(errstr, errstr_size,
                         "--from must be earliest, an RFC 3339 time or P:O,... offsets, "
                         "got \"%s\"", from);
                goto out;
            }
            if (offsets_for_time(r, ms, tmp, errstr, errstr_size) != 0)
                goto out;
            for (size_t i = 0; i < r->nranges; i++)
                r->ranges[i].start = tmp[i] >= 0 ? tmp[i] : r->ranges[i].end;
        }
    }
    r->left = 0;
    for (size_t i = 0; i < r->nranges; i++) {
        if (r->ranges[i].start >= r->ranges[i].end)
            r->ranges[i].done = 1;
        if (!r->ranges[i].done)
            r->left++;
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}

static range *find_range(replay *r, const rd_kafka_message_t *m)
{
    int t = topic_index(r, rd_kafka_topic_name(m->rkt));
    if (t < 0)
        return NULL;
    for (size_t i = 0; i < r->nranges; i++)
        if (r->ranges[i].topic == t && r->ranges[i].partition == m->partition)
            return &r->ranges[i];
    return NULL;
}

static void finish_range(replay *r, range *g)
{
    if (g->done)
        return;
    g->done = 1;
    r->left--;
}

static void dead_letter(replay *r, const rd_kafka_message_t *m, const char *why)
{
    FILE *dl = r->opts->dead_letter;
    if (dl == NULL)
        return;
    const char *topic = rd_kafka_topic_name(m->rkt);
    hf_buf *b = &r->tmp;
    hf_buf_reset(b);
    hf_buf_puts(b, "{\"topic\":");
    hf_json_append_string(b, topic, strlen(topic));
    hf_buf_printf(b, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"reason\":",
                  m->partition, m->offset);
    hf_json_append_string(b, why, strlen(why));
    if (m->payload != NULL) {
        hf_buf_puts(b, ",\"raw\":");
        hf_json_append_string(b, m->payload, m->len);
    }
    hf_buf_puts(b, "}\n");
    fwrite(b->data, 1, b->len, dl);
}

static int consume(replay *r, hf_kafka_input *dec, char *errstr, size_t errstr_size)
{
    char why[512];
    uint64_t n = 0;
    double started = hf_clock_mono_s(), last = started;
    while (r->left > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, POLL_MS);
        if (m == NULL)
            continue;
        range *g = m->rkt ? find_range(r, m) : NULL;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (g != NULL && m->offset >= g->end)
                finish_range(r, g);
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
                m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                m->err == RD_KAFKA_RESP_ERR__FATAL) {
                snprintf(errstr, errstr_size, "consuming: %s", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                return -1;
            }
            hf_log_warn("replay", "consumer: %s", rd_kafka_message_errstr(m));
        } else if (g != NULL && !g->done && m->offset < g->end) {
            hf_stream *st = &r->streams[m->partition];
            hf_event e;
            n++;
            if (hf_kafka_input_decode(dec, m, &e, why, sizeof(why)) != 0) {
                hf_stream_count_invalid(st);
                dead_letter(r, m, why);
            } else if (hf_stream_process(st, &e) != 0) {
                snprintf(errstr, errstr_size, "out of memory at %s [%" PRId32 "] offset %" PRId64,
                         rd_kafka_topic_name(m->rkt), m->partition, m->offset);
                rd_kafka_message_destroy(m);
                return -1;
            }
            if (m->offset + 1 >= g->end)
                finish_range(r, g);
        } else if (g != NULL && m->offset >= g->end) {
            finish_range(r, g);
        }
        rd_kafka_message_destroy(m);
        if (r->opts->progress && (n & 0x3fff) == 0) {
            double t = hf_clock_mono_s();
            if (t - last >= 0.5) {
                last = t;
                fprintf(stderr, "\r%12" PRIu64 " events  %10.0f events/s", n,
                        (double)n / (t - started));
            }
        }
    }
    if (r->opts->progress && last > started)
        fprintf(stderr, "\r%60s\r", "");
    return 0;
}

/*
 * Moves each stream's clock to --advance-to when given, and sums the
 * streams' counters and customers. Returns 0, or -1 (out of memory, errstr set).
 */
static int streams_finish(const replay *r, const hf_engine *eng, hf_stream_stats *stats,
                          uint64_t *customers, char *errstr, size_t errstr_size)
{
    for (int32_t p = 0; p < r->nstreams; p++) {
        if (!r->has_stream[p])
            continue;
        if (r->opts->advance_to != HF_NO_CLOCK &&
            hf_stream_advance(&r->streams[p], r->opts->advance_to) != 0) {
            snprintf(errstr, errstr_size,
                     "out of memory advancing the clock of partition %" PRId32 " (--advance-to)", p);
            return -1;
        }
        hf_stream_stats_add(stats, &r->streams[p].stats, eng->n);
        *customers += hf_memstore_count(r->streams[p].store);
    }
    return 0;
}

int hf_replay_kafka(const hf_config *cfg, const hf_engine *eng,
                    const hf_kafka_replay_opts *opts, hf_signal_fn emit,
                    void *opaque, hf_stream_stats *stats, uint64_t *customers,
                    char *errstr, size_t errstr_size)
{
    replay r;
    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.opts = opts;
    hf_kafka_input *dec = NULL;
    rd_kafka_topic_partition_list_t *assign = NULL;
    int rc = -1;
    memset(stats, 0, sizeof(*stats));
    *customers = 0;

    if (opts->brokers == NULL && hf_config_kafka_get(cfg, "bootstrap.servers") == NULL &&
        hf_config_kafka_get(cfg, "metadata.broker.list") == NULL) {
        snprintf(errstr, errstr_size, "no brokers: give --brokers HOST:PORT or set "
                                      "kafka.bootstrap.servers");
        return -1;
    }
    if (split_topics(&r, opts->topics, errstr, errstr_size) != 0)
        goto out;
    hf_kafka_setting settings[] = {
        {"group.id", "hirefire-replay", HF_KAFKA_DEFAULT, NULL},
        {"client.id", "hirefire-replay", HF_KAFKA_DEFAULT, NULL},
        {"enable.auto.commit", "false", HF_KAFKA_REQUIRED, "a replay commits nothing"},
        {"enable.auto.offset.store", "false", HF_KAFKA_REQUIRED, "a replay commits nothing"},
        {"enable.partition.eof", "true", HF_KAFKA_REQUIRED,
         "the replay stops at the partitions' ends"},
        {"bootstrap.servers", opts->brokers ? opts->brokers : "", HF_KAFKA_OVERRIDE, NULL},
    };
    size_t nsettings = sizeof(settings) / sizeof(settings[0]) - (opts->brokers ? 0 : 1);
    rd_kafka_conf_t *conf = hf_kafka_consumer_conf_new(cfg, settings, nsettings, errstr, errstr_size);
    if (conf == NULL)
        goto out;
    char why[512];
    r.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (r.rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "cannot create the Kafka consumer: %s", why);
        goto out;
    }
    conf = NULL; /* owned by r.rk */
    rd_kafka_poll_set_consumer(r.rk);
    r.partition_cnt = calloc(r.ntopics, sizeof(*r.partition_cnt));
    if (r.partition_cnt == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (partition_counts(&r, errstr, errstr_size) != 0 || plan(&r, errstr, errstr_size) != 0)
        goto out;
    if ((dec = hf_kafka_input_new(cfg, errstr, errstr_size)) == NULL)
        goto out;

    for (size_t k = 0; k < r.ntopics; k++)
        if (r.partition_cnt[k] > r.nstreams)
            r.nstreams = r.partition_cnt[k];
    r.streams = calloc((size_t)r.nstreams + 1, sizeof(*r.streams));
    r.has_stream = calloc((size_t)r.nstreams + 1, sizeof(*r.has_stream));
    assign = rd_kafka_topic_partition_list_new((int)r.nranges);
    if (r.streams == NULL || r.has_stream == NULL || assign == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < r.nranges; i++) {
        range *g = &r.ranges[i];
        if (g->done)
            continue;
        rd_kafka_topic_partition_list_add(assign, r.topics[g->topic], g->partition)->offset =
            g->start;
        if (!r.has_stream[g->partition]) {
            if (hf_stream_init(&r.streams[g->partition], eng, emit, opaque) != 0) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
            }
            r.has_stream[g->partition] = 1;
        }
        hf_log_debug("replay", "%s [%" PRId32 "]: offsets %" PRId64 " to %" PRId64,
                     r.topics[g->topic], g->partition, g->start, g->end);
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(r.rk, assign);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "cannot assign the partitions: %s", rd_kafka_err2str(err));
        goto out;
    }
    if (consume(&r, dec, errstr, errstr_size) != 0)
        goto out;
    if (streams_finish(&r, eng, stats, customers, errstr, errstr_size) != 0)
        goto out;
    rc = 0;
out:
    if (assign != NULL)
        rd_kafka_topic_partition_list_destroy(assign);
    if (r.rk != NULL) {
        rd_kafka_assign(r.rk, NULL);
        rd_kafka_consumer_close(r.rk);
        rd_kafka_destroy(r.rk);
    }
    for (int32_t p = 0; r.has_stream != NULL && p < r.nstreams; p++)
        if (r.has_stream[p])
            hf_stream_destroy(&r.streams[p]);
    free(r.streams);
    free(r.has_stream);
    hf_kafka_input_destroy(dec);
    for (size_t i = 0; i < r.ntopics; i++)
        free(r.topics[i]);
    free(r.topics);
    free(r.partition_cnt);
    free(r.ranges);
    hf_buf_free(&r.tmp);
    return rc;
}
