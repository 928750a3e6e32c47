/*
 * clients.c - the live loop's Kafka clients: the consumer and the producer,
 * their callbacks for errors and deliveries, the output schema, the check
 * that the topics exist, and a new producer after a fatal error.
 */
#include "live/pipeline_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "codec/codec_avro.h"
#include "codec/registry.h"
#include "kafka/kafka_conf.h"
#include "util/log.h"

/* @locality librdkafka callback (a poll or flush of either client: any thread) */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    hf_pipeline *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL && rk == p->producer && p->eos) {
        /* The transaction calls report it too; publish() renews the producer. */
        hf_log_warn("kafka", "%s: fatal error: %s", rd_kafka_name(rk), reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        hf_live_fail(p, "fatal Kafka error (%s): %s: %s", rd_kafka_name(rk),
                     rd_kafka_err2name(orig), why);
        return;
    }
    hf_log_warn("kafka", "%s: %s: %s", rd_kafka_name(rk),
                rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Partition counts of the input topics; checks the output topics exist.
 * @locality loop thread (set-up) */
static int check_topics(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(p->consumer, 1, NULL, &md,
                                                METADATA_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "cannot read the topic list from the brokers: %s",
                 rd_kafka_err2str(err));
        return -1;
    }
    int rc = 0;
    const char *need[2] = {p->cfg->output_topic, p->cfg->dead_letter_topic};
    const char *what[2] = {"output.topic", "dead_letter.topic"};
    for (size_t k = 0; k < p->ntopics + 2 && rc == 0; k++) {
        const char *name = k < p->ntopics ? p->cfg->input_topics[k] : need[k - p->ntopics];
        int found = 0;
        for (int i = 0; i < md->topic_cnt; i++) {
            const struct rd_kafka_metadata_topic *mt = &md->topics[i];
            if (strcmp(mt->topic, name) != 0 || mt->err != RD_KAFKA_RESP_ERR_NO_ERROR)
                continue;
            found = 1;
            if (k < p->ntopics)
                p->partition_cnt[k] = mt->partition_cnt;
        }
        if (!found) {
            snprintf(errstr, errstr_size, "%s \"%s\" does not exist",
                     k < p->ntopics ? "input topic" : what[k - p->ntopics], name);
            rc = -1;
        }
    }
    rd_kafka_metadata_destroy(md);
    for (size_t k = 1; rc == 0 && k < p->ntopics; k++)
        if (p->partition_cnt[k] != p->partition_cnt[0])
            hf_log_warn("pipeline",
                        "input topics are not co-partitioned: %s has %" PRId32
                        " partitions, %s has %" PRId32,
                        p->cfg->input_topics[0], p->partition_cnt[0],
                        p->cfg->input_topics[k], p->partition_cnt[k]);
    return rc;
}

/* @locality loop thread (set-up) */
int hf_live_output_schema(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    const hf_config *cfg = p->cfg;
    if (cfg->output_format != HF_FORMAT_AVRO)
        return 0;
    if (cfg->output_schema_id > 0) {
        p->out_schema_id = (int32_t)cfg->output_schema_id;
        return 0;
    }
    if (cfg->schema_registry_url[0] == '\0') {
        snprintf(errstr, errstr_size,
                 "output.format=avro needs schema.registry.url or output.schema.id");
        return -1;
    }
    p->out_schemas = hf_schema_source_new(cfg->schema_registry_url, NULL, errstr,
                                          errstr_size);
    if (p->out_schemas == NULL)
        return -1;
    hf_schema_source_set_timeouts(p->out_schemas, 2000,
                                  (long)cfg->schema_registry_timeout_ms);
    char subject[512];
    snprintf(subject, sizeof(subject), "%s-value", cfg->output_topic);
    return hf_schema_source_register(p->out_schemas, subject, hf_avro_switch_signal_schema_json,
                                     &p->out_schema_id, errstr, errstr_size);
}

/*
 * A Kafka client of conf (taken over either way) whose callbacks get p:
 * the error callback always; what else type needs is set by the caller.
 * NULL with errstr when librdkafka refuses it.
 * @locality loop thread (set-up)
 */
static rd_kafka_t *client_new(hf_pipeline *p, rd_kafka_type_t type, rd_kafka_conf_t *conf,
                              char *errstr, size_t errstr_size)
{
    char why[512];
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_t *rk = rd_kafka_new(type, conf, why, sizeof(why));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "cannot create the Kafka %s: %s",
                 type == RD_KAFKA_PRODUCER ? "producer" : "consumer", why);
    }
    return rk;
}

/*
 * Creates the producer and the output topic handle; with exactly_once,
 * initialises transactions (which fences a predecessor with our
 * transactional.id). Returns 0, or -1 with errstr.
 * @locality loop thread (set-up, renewal)
 */
static int producer_open(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    const hf_kafka_setting producer_settings[] = {
        {"client.id", "hirefire-run", HF_KAFKA_DEFAULT, NULL},
        {"enable.idempotence", "true", HF_KAFKA_DEFAULT, NULL},
        {"linger.ms", "5", HF_KAFKA_DEFAULT, NULL},
        /*
         * A transaction that starts right after the last one committed is
         * told CONCURRENT_TRANSACTIONS until the coordinator has written
         * the last one's markers (a few ms); librdkafka then waits
         * retry.backoff.ms (100 by default) before asking again.
         */
        {"retry.backoff.ms", "10", HF_KAFKA_DEFAULT, NULL},
        /* only with exactly_once: */
        {"transaction.timeout.ms", TXN_TIMEOUT_MS, HF_KAFKA_DEFAULT, NULL},
        {"transactional.id", p->txn_id, HF_KAFKA_DEFAULT, NULL},
    };
    size_t nproducer = sizeof(producer_settings) / sizeof(producer_settings[0]) -
                       (p->eos ? 0 : 2);
    rd_kafka_conf_t *conf =
        hf_kafka_conf_new(p->cfg, producer_settings, nproducer, errstr, errstr_size);
    if (conf == NULL)
        return -1;
    rd_kafka_conf_set_dr_msg_cb(conf, p->ops->delivered);
    p->producer = client_new(p, RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (p->producer == NULL)
        return -1;
    p->out_rkt = rd_kafka_topic_new(p->producer, p->cfg->output_topic, NULL);
    if (p->out_rkt == NULL) {
        snprintf(errstr, errstr_size, "output.topic \"%s\": %s", p->cfg->output_topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    if (p->eos) {
        rd_kafka_error_t *error =
            rd_kafka_init_transactions(p->producer, (int)METADATA_TIMEOUT_MS * 3);
        if (error != NULL) {
            snprintf(errstr, errstr_size, "cannot initialise Kafka transactions: %s",
                     rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            return -1;
        }
    }
    return 0;
}

/* @locality loop thread */
void hf_live_producer_close(hf_pipeline *p)
{
    if (p->out_rkt != NULL)
        rd_kafka_topic_destroy(p->out_rkt);
    p->out_rkt = NULL;
    if (p->producer != NULL)
        rd_kafka_destroy(p->producer);
    p->producer = NULL;
}

/*
 * After a fatal transactional error (e.g. the coordinator aborted a
 * transaction that outlived transaction.timeout.ms while the broker was
 * down, and fenced this producer): a new producer with the same
 * transactional.id. What the dead one did not commit is in the outboxes.
 * Returns 0, or -1 (failed).
 * @locality loop thread
 */
int hf_live_producer_renew(hf_pipeline *p, const char *why)
{
    char err[512];
    hf_log_warn("pipeline", "the Kafka producer cannot go on (%s): starting a new one; "
                "the outboxes in Redis are published again", why);
    rd_kafka_purge(p->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    hf_live_producer_close(p);
    for (int attempt = 1;; attempt++) {
        if (producer_open(p, err, sizeof(err)) == 0)
            return 0;
        hf_live_producer_close(p);
        if (attempt == 5 || stopping(p)) {
            hf_live_fail(p, "%s", err);
            return -1;
        }
        hf_log_warn("pipeline", "%s: retrying", err);
        sleep_ms(BACKOFF_MAX_MS);
    }
}

/*
 * The consumer (group member, with the rebalance and statistics
 * callbacks), the Redis connection of store.backend=redis, the producer;
 * then checks the topics. Returns 0, or -1 with errstr (what was opened is
 * closed by hf_pipeline_destroy). @locality loop thread (set-up)
 */
int hf_live_clients_open(hf_pipeline *p, char *errstr, size_t errstr_size)
{
    const hf_config *cfg = p->cfg;
    static const hf_kafka_setting consumer_settings[] = {
        /* first: only with metrics (consumer lag from the statistics) */
        {"statistics.interval.ms", "5000", HF_KAFKA_DEFAULT, NULL},
        {"group.id", "hirefire", HF_KAFKA_DEFAULT, NULL},
        {"client.id", "hirefire-run", HF_KAFKA_DEFAULT, NULL},
        {"partition.assignment.strategy", "cooperative-sticky", HF_KAFKA_DEFAULT, NULL},
        {"auto.offset.reset", "earliest", HF_KAFKA_DEFAULT, NULL},
        {"enable.auto.commit", "false", HF_KAFKA_REQUIRED,
         "hirefire commits offsets after their signals are delivered"},
        {"enable.auto.offset.store", "false", HF_KAFKA_REQUIRED,
         "hirefire commits explicit offsets"},
        {"enable.partition.eof", "true", HF_KAFKA_REQUIRED,
         "hirefire tracks which partitions are at their end"},
    };
    /*
     * exactly_once (with Redis): a transactional producer whose id is
     * "<group.id>-<group.instance.id or client.id>" unless
     * kafka.transactional.id says otherwise: a restarted instance fences its
     * predecessor's open transaction; each instance needs its own id.
     */
    p->group = hf_config_kafka_get(cfg, "group.id");
    if (p->group == NULL)
        p->group = "hirefire";
    const char *inst = hf_config_kafka_get(cfg, "group.instance.id");
    if (inst == NULL)
        inst = hf_config_kafka_get(cfg, "client.id");
    /* Neither set: the host name, which differs between instances on
     * different hosts (containers, pods) and stays across restarts. */
    char host[256] = "hirefire-run";
    if (inst == NULL && gethostname(host, sizeof(host) - 1) == 0)
        host[sizeof(host) - 1] = '\0';
    snprintf(p->txn_id, sizeof(p->txn_id), "%s-%s", p->group, inst != NULL ? inst : host);
    if (cfg->store_backend != HF_STORE_MEMORY) {
        p->eos = cfg->processing_guarantee == HF_GUARANTEE_EXACTLY_ONCE;
        p->redis = hf_redis_open(cfg, errstr, errstr_size);
        if (p->redis == NULL)
            return -1;
    }
    size_t skip = p->opts.metrics != NULL ? 0 : 1;
    rd_kafka_conf_t *conf = hf_kafka_consumer_conf_new(
        cfg, consumer_settings + skip,
        sizeof(consumer_settings) / sizeof(consumer_settings[0]) - skip, errstr, errstr_size);
    if (conf == NULL)
        return -1;
    if (p->opts.metrics != NULL)
        rd_kafka_conf_set_stats_cb(conf, hf_live_stats_cb);
    rd_kafka_conf_set_rebalance_cb(conf, hf_live_rebalance_cb);
    p->consumer = client_new(p, RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
    if (p->consumer == NULL)
        return -1;
    rd_kafka_poll_set_consumer(p->consumer);
    p->consumer_q = rd_kafka_queue_get_consumer(p->consumer);

    if (producer_open(p, errstr, errstr_size) != 0 || check_topics(p, errstr, errstr_size) != 0)
        return -1;
    if (p->redis != NULL)
        hf_log_info("pipeline", "state in Redis at %s (group %s), %s", hf_redis_address(p->redis),
                    p->group, p->eos ? "exactly once (transactional.id set)" : "at least once");
    return 0;
}
