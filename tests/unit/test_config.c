/*
 * test_config.c - the settings table: defaults, properties files, the
 * environment, -X overrides and their precedence, behaviours, every error
 * text, the dump (origins, masking) and the generated documentation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

/*--- Helpers --------------------------------------------------------------*/

typedef struct tmpfile_ {
    char path[64];
} tmpfile_;

/* Writes text to a new file under /tmp; the test unlinks it. */
static void write_tmp(tmpfile_ *t, const char *text)
{
    int fd;
    size_t len = strlen(text);
    snprintf(t->path, sizeof(t->path), "/tmp/hf_test_config_XXXXXX");
    fd = mkstemp(t->path);
    assert_true(fd >= 0);
    assert_int_equal((ssize_t)len, write(fd, text, len));
    assert_int_equal(0, close(fd));
}

/* Loads text as a file (and optional env/overrides); returns rc, fills err. */
static int load_text(hf_config *cfg, const char *text, char **envp, char **xs,
                     size_t nxs, char *err, size_t errsz, char *path_out,
                     size_t path_out_size)
{
    tmpfile_ t;
    int rc;
    write_tmp(&t, text);
    rc = hf_config_load(cfg, t.path, envp, xs, nxs, err, errsz);
    if (path_out)
        snprintf(path_out, path_out_size, "%s", t.path);
    unlink(t.path);
    return rc;
}

/* Expects loading text to fail with exactly the expected message, where
 * "%s" in expected stands for the temporary file's path. */
static void expect_file_error(const char *text, const char *expected_fmt)
{
    hf_config cfg;
    char err[512] = "", path[64], expected[640];
    int rc = load_text(&cfg, text, NULL, NULL, 0, err, sizeof(err), path,
                       sizeof(path));
    hf_config_destroy(&cfg);
    snprintf(expected, sizeof(expected), expected_fmt, path, path);
    if (rc != -1 || strcmp(err, expected) != 0)
        fail_msg("file:\n%s\nexpected error: %s\ngot (rc %d): %s", text,
                 expected, rc, err);
}

static void expect_flag_error(const char *flag, const char *expected)
{
    hf_config cfg;
    char err[512] = "";
    char *xs[] = {(char *)flag};
    int rc = hf_config_load(&cfg, NULL, NULL, xs, 1, err, sizeof(err));
    hf_config_destroy(&cfg);
    if (rc != -1 || strcmp(err, expected) != 0)
        fail_msg("-X %s\nexpected error: %s\ngot (rc %d): %s", flag, expected,
                 rc, err);
}

static void expect_env_error(const char *var, const char *expected)
{
    hf_config cfg;
    char err[512] = "";
    char *envp[] = {(char *)var, NULL};
    int rc = hf_config_load(&cfg, NULL, envp, NULL, 0, err, sizeof(err));
    hf_config_destroy(&cfg);
    if (rc != -1 || strcmp(err, expected) != 0)
        fail_msg("env %s\nexpected error: %s\ngot (rc %d): %s", var, expected,
                 rc, err);
}

/* The output of hf_config_dump, malloc'ed. */
static char *dump(const hf_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    hf_config_dump(fp, cfg);
    assert_int_equal(0, fclose(fp));
    return buf;
}

static void assert_has_line(const char *text, const char *line)
{
    const char *p = text;
    size_t n = strlen(line);
    for (;;) {
        const char *hit = strstr(p, line);
        if (!hit)
            fail_msg("line not found: \"%s\" in:\n%s", line, text);
        if ((hit == text || hit[-1] == '\n') && hit[n] == '\n')
            return;
        p = hit + 1;
    }
}

/*--- Defaults -------------------------------------------------------------*/

static void test_defaults(void **state)
{
    hf_config cfg;
    char err[256] = "";
    (void)state;
    assert_int_equal(0, hf_config_load(&cfg, NULL, NULL, NULL, 0, err,
                                       sizeof(err)));
    assert_int_equal(0, cfg.n_input_topics);
    assert_null(cfg.input_topics);
    assert_int_equal(0, cfg.n_topic_types);
    assert_int_equal(HF_FORMAT_AVRO, cfg.input_format);
    assert_string_equal("", cfg.input_schema_dir);
    assert_string_equal("", cfg.schema_registry_url);
    assert_int_equal(5000, cfg.schema_registry_timeout_ms);
    assert_string_equal("hirefire.signals", cfg.output_topic);
    assert_int_equal(HF_FORMAT_AVRO, cfg.output_format);
    assert_int_equal(0, cfg.output_schema_id);
    assert_string_equal("hirefire.dead-letter", cfg.dead_letter_topic);
    assert_int_equal(0, cfg.n_kafka);
    assert_int_equal(HF_STORE_AUTO, cfg.store_backend);
    assert_string_equal("redis://127.0.0.1:6379/0", cfg.redis_url);
    assert_string_equal("hf", cfg.redis_key_prefix);
    assert_int_equal(2000, cfg.redis_connect_timeout_ms);
    assert_int_equal(5000, cfg.redis_command_timeout_ms);
    assert_int_equal(HF_GUARANTEE_EXACTLY_ONCE, cfg.processing_guarantee);
    assert_int_equal(100, cfg.commit_interval_ms);
    assert_int_equal(0, cfg.batch_linger_ms);
    assert_int_equal(250000, cfg.batch_max_events);
    assert_int_equal(10000, cfg.shutdown_timeout_ms);
    assert_string_equal("127.0.0.1:9464", cfg.http_listen);
    assert_int_equal(HF_LOG_FORMAT_TEXT, cfg.log_format);
    assert_int_equal(HF_LOG_INFO, cfg.log_level);
    assert_true(cfg.replay_progress);

    /* the default behaviour */
    assert_int_equal(1, cfg.nbehaviours);
    assert_string_equal("repeat", cfg.behaviours[0].name);
    assert_int_equal(90, cfg.behaviours[0].window_days);
    assert_true(cfg.behaviours[0].has_min_orders);
    assert_int_equal(2, cfg.behaviours[0].min_orders);
    assert_false(cfg.behaviours[0].has_min_items);
    assert_false(cfg.behaviours[0].has_min_net_minor);
    assert_false(cfg.behaviours[0].has_max_return_ratio);
    hf_config_destroy(&cfg);
}

static void test_init_has_no_behaviour_until_finish(void **state)
{
    hf_config cfg;
    char err[256] = "";
    (void)state;
    assert_int_equal(0, hf_config_init(&cfg));
    assert_int_equal(0, cfg.nbehaviours);
    assert_int_equal(0, hf_config_finish(&cfg, err, sizeof(err)));
    assert_int_equal(1, cfg.nbehaviours);
    hf_config_destroy(&cfg);
}

static void test_destroy_null_and_zeroed(void **state)
{
    hf_config cfg;
    (void)state;
    hf_config_destroy(NULL);
    memset(&cfg, 0, sizeof(cfg));
    hf_config_destroy(&cfg);
    assert_int_equal(0, hf_config_init(&cfg));
    hf_config_destroy(&cfg);
    hf_config_destroy(&cfg); /* zeroed by the first call */
}

/*--- Files ----------------------------------------------------------------*/

static void test_file_parsing(void **state)
{
    hf_config cfg;
    char err[256] = "";
    (void)state;
    assert_int_equal(0, load_text(&cfg,
        "\xEF\xBB\xBF# a comment\n"
        "! another comment\n"
        "\n"
        "   \t\n"
        "  output.topic  =  my.signals  \n"
        "\tlog.level=debug\r\n"
        "   # indented comment=ignored\n"
        "input.schema.dir = /a b/c#not-a-comment\n"
        "redis.url=redis://h:1/2?x=y\n"
        "batch.max.events=5\n"
        "batch.max.events=7\n"
        "http.listen=\n"
        "input.topics= t1 ,t2,  t3\n"
        "replay.progress=no\n"
        "output.format=json\n"
        "log.format=json\n"
        "store.backend=redis\n"
        "processing.guarantee=at_least_once\n"
        "output.schema.id=2147483647\n"
        "commit.interval.ms=2s\n"
        "redis.connect.timeout.ms=1m\n"
        "redis.command.timeout.ms=250ms\n"
        "shutdown.timeout.ms=0\n"
        "schema.registry.timeout.ms=1h\n"
        "schema.registry.url=https://sr.example:8081\n"
        "redis.key.prefix=prod-hf\n"
        "dead_letter.topic=dl_1\n"
        "input.format=json", /* no newline at the end */
        NULL, NULL, 0, err, sizeof(err), NULL, 0));
    assert_string_equal("", err);
    assert_string_equal("my.signals", cfg.output_topic);
    assert_int_equal(HF_LOG_DEBUG, cfg.log_level);
    assert_string_equal("/a b/c#not-a-comment", cfg.input_schema_dir);
    assert_string_equal("redis://h:1/2?x=y", cfg.redis_url);
    assert_int_equal(7, cfg.batch_max_events); /* the later line wins */
    assert_string_equal("", cfg.http_listen);
    assert_int_equal(3, cfg.n_input_topics);
    assert_string_equal("t1", cfg.input_topics[0]);
    assert_string_equal("t2", cfg.input_topics[1]);
    assert_string_equal("t3", cfg.input_topics[2]);
    assert_false(cfg.replay_progress);
    assert_int_equal(HF_FORMAT_JSON, cfg.output_format);
    assert_int_equal(HF_FORMAT_JSON, cfg.input_format);
    assert_int_equal(HF_LOG_FORMAT_JSON, cfg.log_format);
    assert_int_equal(HF_STORE_REDIS, cfg.store_backend);
    assert_int_equal(HF_GUARANTEE_AT_LEAST_ONCE, cfg.processing_guarantee);
    assert_int_equal(2147483647, cfg.output_schema_id);
    assert_int_equal(2000, cfg.commit_interval_ms);
    assert_int_equal(60000, cfg.redis_connect_timeout_ms);
    assert_int_equal(250, cfg.redis_command_timeout_ms);
    assert_int_equal(0, cfg.shutdown_timeout_ms);
    assert_int_equal(3600000, cfg.schema_registry_timeout_ms);
    assert_string_equal("https://sr.example:8081", cfg.schema_registry_url);
    assert_string_equal("prod-hf", cfg.redis_key_prefix);
    assert_string_equal("dl_1", cfg.dead_letter_topic);
    hf_config_destroy(&cfg);
}

static void test_bool_spellings(void **state)
{
    static const struct {
        const char *v;
        bool want;
    } cases[] = {{"true", true}, {"yes", true}, {"on", true}, {"1", true},
                 {"false", false}, {"no", false}, {"off", false}, {"0", false}};
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hf_config cfg;
        char err[256] = "", flag[64];
        char *xs[] = {flag};
        snprintf(flag, sizeof(flag), "replay.progress=%s", cases[i].v);
        assert_int_equal(0, hf_config_load(&cfg, NULL, NULL, xs, 1, err,
                                           sizeof(err)));
        assert_int_equal(cases[i].want, cfg.replay_progress);
        hf_config_destroy(&cfg);
    }
}

static void test_list_replaced_and_emptied(void **state)
{
    hf_config cfg;
    char err[256] = "";
    char *xs[] = {"input.topics=a,b", "input.topics=c", "input.topics= "};
    (void)state;
    assert_int_equal(0, hf_config_init(&cfg));
    assert_int_equal(0, hf_config_load_overrides(&cfg, xs, 2, err, sizeof(err)));
    assert_int_equal(1, cfg.n_input_topics);
    assert_string_equal("c", cfg.input_topics[0]);
    assert_int_equal(0, hf_config_load_overrides(&cfg, xs + 2, 1, err,
                                                 sizeof(err)));
    assert_int_equal(0, cfg.n_input_topics);
    assert_null(cfg.input_topics);
    hf_config_destroy(&cfg);
}

/*--- Precedence -----------------------------------------------------------*/

static void test_precedence(void **state)
{
    hf_config cfg;
    char err[256] = "", path[64], line[256], *out;
    char *envp[] = {
        "PATH=/usr/bin",
        "HIREFIRE_OUTPUT_TOPIC=from.env",
        "HIREFIRE_LOG_LEVEL=warn",
        "HIREFIRE_LOG_LEVEL=error", /* the first one wins, as with getenv */
        "HIREFIRE_BATCH_MAX_EVENTS= 42 ",
        "HIREFIRE_DEAD_LETTER_TOPIC=dl.env",
        "HIREFIRE_KAFKA_BOOTSTRAP_SERVERS=ignored:1",       /* not supported */
        "HIREFIRE_BEHAVIOUR_REPEAT_WINDOW_DAYS=5",          /* not supported */
        "HIREFIRE_NO_SUCH_KEY=x",                           /* ignored */
        "HIREFIRE=/usr/bin/hirefire",                       /* ignored */
        NULL};
    char *xs[] = {"output.topic=from.flag", "kafka.client.id = flag-client"};
    (void)state;
    assert_int_equal(0, load_text(&cfg,
        "output.topic=from.file\n"
        "log.level=debug\n"
        "batch.max.events=9\n"
        "input.format=json\n"
        "kafka.client.id=file-client\n",
        envp, xs, 2, err, sizeof(err), path, sizeof(path)));
    assert_string_equal("", err);
    assert_string_equal("from.flag", cfg.output_topic);     /* flag > env > file */
    assert_int_equal(HF_LOG_WARN, cfg.log_level);           /* env > file */
    assert_int_equal(42, cfg.batch_max_events);             /* env > file */
    assert_int_equal(HF_FORMAT_JSON, cfg.input_format);     /* file > default */
    assert_string_equal("dl.env", cfg.dead_letter_topic);   /* env > default */
    assert_int_equal(100, cfg.commit_interval_ms);          /* default */
    assert_int_equal(1, cfg.n_kafka);
    assert_string_equal("client.id", cfg.kafka[0].key);
    assert_string_equal("flag-client", cfg.kafka[0].value); /* flag > file */
    assert_null(hf_config_kafka_get(&cfg, "bootstrap.servers"));
    assert_int_equal(1, cfg.nbehaviours);
    assert_int_equal(90, cfg.behaviours[0].window_days);

    out = dump(&cfg);
    assert_has_line(out, "output.topic = from.flag  # flag -X");
    assert_has_line(out, "log.level = warn  # env HIREFIRE_LOG_LEVEL");
    assert_has_line(out, "batch.max.events = 42  # env HIREFIRE_BATCH_MAX_EVENTS");
    snprintf(line, sizeof(line), "input.format = json  # file %s:4", path);
    assert_has_line(out, line);
    assert_has_line(out, "commit.interval.ms = 100  # default");
    assert_has_line(out, "kafka.client.id = flag-client  # flag -X");
    assert_has_line(out, "behaviour.repeat.window_days = 90  # default");
    free(out);
    hf_config_destroy(&cfg);
}

static void test_env_empty_value_sets_empty(void **state)
{
    hf_config cfg;
    char err[256] = "";
    char *envp[] = {"HIREFIRE_HTTP_LISTEN=", NULL};
    (void)state;
    assert_int_equal(0, hf_config_load(&cfg, NULL, envp, NULL, 0, err,
                                       sizeof(err)));
    assert_string_equal("", cfg.http_listen);
    hf_config_destroy(&cfg);
}

/*--- Behaviours -----------------------------------------------------------*/

static void test_behaviour_order_of_first_appearance(void **state)
{
    hf_config cfg;
    char err[256] = "";
    char *xs[] = {"behaviour.c.min_orders=3", "behaviour.a.window_days=7"};
    (void)state;
    assert_int_equal(0, load_text(&cfg,
        "behaviour.b.window_days=30\n"
        "behaviour.a.min_orders=off\n"
        "behaviour.a.min_items=10\n"
        "behaviour.b.min_items=0\n",
        NULL, xs, 2, err, sizeof(err), NULL, 0));
    assert_string_equal("", err);
    assert_int_equal(3, cfg.nbehaviours);
    assert_string_equal("b", cfg.behaviours[0].name);
    assert_string_equal("a", cfg.behaviours[1].name);
    assert_string_equal("c", cfg.behaviours[2].name);

    assert_int_equal(30, cfg.behaviours[0].window_days);
    assert_true(cfg.behaviours[0].has_min_orders);
    assert_int_equal(2, cfg.behaviours[0].min_orders);
    assert_true(cfg.behaviours[0].has_min_items);
    assert_int_equal(0, cfg.behaviours[0].min_items);

    assert_int_equal(7, cfg.behaviours[1].window_days);
    assert_false(cfg.behaviours[1].has_min_orders);
    assert_true(cfg.behaviours[1].has_min_items);
    assert_int_equal(10, cfg.behaviours[1].min_items);

    assert_int_equal(90, cfg.behaviours[2].window_days);
    assert_int_equal(3, cfg.behaviours[2].min_orders);
    hf_config_destroy(&cfg);
}

static void test_behaviour_off_values(void **state)
{
    hf_config cfg;
    char err[256] = "";
    char *out;
    (void)state;
    assert_int_equal(0, load_text(&cfg,
        "behaviour.x-1.min_orders=off\n"
        "behaviour.x-1.min_items=0\n"
        "behaviour.x-1.min_net_minor=-100\n"
        "behaviour.x-1.max_return_ratio=0.25\n"
        "behaviour.Y_2.min_orders=5\n"
        "behaviour.Y_2.min_net_minor=50000\n"
        "behaviour.Y_2.max_return_ratio=1e-1\n"
        "behaviour.Y_2.min_net_minor=off\n"
        "behaviour.Y_2.max_return_ratio=off\n",
        NULL, NULL, 0, err, sizeof(err), NULL, 0));
    assert_string_equal("", err);
    assert_int_equal(2, cfg.nbehaviours);
    assert_false(cfg.behaviours[0].has_min_orders);
    assert_true(cfg.behaviours[0].has_min_items);
    assert_int_equal(0, cfg.behaviours[0].min_items);
    assert_true(cfg.behaviours[0].has_min_net_minor);
    assert_int_equal(-100, cfg.behaviours[0].min_net_minor);
    assert_true(cfg.behaviours[0].has_max_return_ratio);
    assert_true(cfg.behaviours[0].max_return_ratio == 0.25);

    assert_true(cfg.behaviours[1].has_min_orders);
    assert_int_equal(5, cfg.behaviours[1].min_orders);
    assert_false(cfg.behaviours[1].has_min_net_minor);
    assert_false(cfg.behaviours[1].has_max_return_ratio);

    out = dump(&cfg);
    assert_has_line(out, "behaviour.Y_2.min_items = off  # default");
    free(out);
    hf_config_destroy(&cfg);
}

static void test_behaviour_name_limits(void **state)
{
    hf_config cfg;
    char err[256] = "", flag[128];
    char name63[64];
    char *xs[] = {flag};
    (void)state;
    memset(name63, 'n', 63);
    name63[63] = '\0';
    snprintf(flag, sizeof(flag), "behaviour.%s.window_days=1", name63);
    assert_int_equal(0, hf_config_load(&cfg, NULL, NULL, xs, 1, err,
                                       sizeof(err)));
    assert_string_equal(name63, cfg.behaviours[0].name);
    assert_int_equal(1, cfg.behaviours[0].window_days);
    hf_config_destroy(&cfg);

    snprintf(flag, sizeof(flag), "behaviour.%sn.window_days=1", name63);
    snprintf(err, sizeof(err),
             "-X behaviour.%sn.window_days: invalid behaviour name \"%sn\" "
             "(1-63 of A-Z a-z 0-9 _ -)", name63, name63);
    expect_flag_error(flag, err);
}

static void test_at_most_32_behaviours(void **state)
{
    hf_config cfg;
    char err[256] = "", text[4096] = "", *p = text;
    (void)state;
    for (int i = 0; i < HF_MAX_BEHAVIOURS; i++)
        p += sprintf(p, "behaviour.b%d.min_orders=%d\n", i, i);
    assert_int_equal(0, load_text(&cfg, text, NULL, NULL, 0, err, sizeof(err),
                                  NULL, 0));
    assert_int_equal(HF_MAX_BEHAVIOURS, cfg.nbehaviours);
    assert_string_equal("b31", cfg.behaviours[31].name);
    assert_int_equal(31, cfg.behaviours[31].min_orders);
    hf_config_destroy(&cfg);

    strcat(text, "behaviour.b0.min_orders=1\nbehaviour.b32.min_orders=1\n");
    expect_file_error(text, "%s:34: behaviour.b32.min_orders: too many "
                            "behaviours (at most 32)");
}

/*--- Topics and kafka -----------------------------------------------------*/

static void test_topic_types(void **state)
{
    hf_config cfg;
    char err[256] = "";
    hf_event_type t = HF_EVENT_PURCHASE;
    (void)state;
    assert_int_equal(0, load_text(&cfg,
        "input.topics=shop.orders,shop.returns,shop.mixed\n"
        "input.topic.shop.returns.type=return\n"
        "input.topic.shop.orders.type=return\n"
        "input.topic.shop.orders.type=purchase\n",
        NULL, NULL, 0, err, sizeof(err), NULL, 0));
    assert_int_equal(2, cfg.n_topic_types);
    assert_string_equal("shop.returns", cfg.topic_types[0].topic);
    assert_int_equal(0, hf_config_topic_type(&cfg, "shop.returns", &t));
    assert_int_equal(HF_EVENT_RETURN, t);
    assert_int_equal(0, hf_config_topic_type(&cfg, "shop.orders", &t));
    assert_int_equal(HF_EVENT_PURCHASE, t);
    t = HF_EVENT_RETURN;
    assert_int_equal(-1, hf_config_topic_type(&cfg, "shop.mixed", &t));
    assert_int_equal(HF_EVENT_RETURN, t); /* untouched */
    assert_int_equal(-1, hf_config_topic_type(&cfg, NULL, &t));
    hf_config_destroy(&cfg);

    /* without input.topics (file replay) a topic type is not cross-checked */
    assert_int_equal(0, load_text(&cfg, "input.topic.other.type=return\n", NULL,
                                  NULL, 0, err, sizeof(err), NULL, 0));
    hf_config_destroy(&cfg);
}

static void test_kafka_pass_through(void **state)
{
    hf_config cfg;
    char err[256] = "";
    char *xs[] = {"kafka.group.id=g2", "kafka.acks=all"};
    (void)state;
    assert_int_equal(0, load_text(&cfg,
        "kafka.bootstrap.servers = 127.0.0.1:9092 , 127.0.0.1:9093\n"
        "kafka.group.id=g1\n"
        "kafka.session.timeout.ms=6000\n",
        NULL, xs, 2, err, sizeof(err), NULL, 0));
    assert_int_equal(4, cfg.n_kafka);
    assert_string_equal("bootstrap.servers", cfg.kafka[0].key);
    assert_string_equal("127.0.0.1:9092 , 127.0.0.1:9093", cfg.kafka[0].value);
    assert_string_equal("group.id", cfg.kafka[1].key);
    assert_string_equal("g2", cfg.kafka[1].value); /* replaced in place */
    assert_string_equal("session.timeout.ms", cfg.kafka[2].key);
    assert_string_equal("acks", cfg.kafka[3].key);
    assert_string_equal("6000", hf_config_kafka_get(&cfg, "session.timeout.ms"));
    assert_null(hf_config_kafka_get(&cfg, "kafka.group.id"));
    hf_config_destroy(&cfg);
}

/*--- Every error text -----------------------------------------------------*/

static void test_file_errors(void **state)
{
    (void)state;
    expect_file_error("# ok\n\nbehaviour.repeat.window_days=abc\n",
        "%s:3: behaviour.repeat.window_days: must be an integer between 1 "
        "and 36500, got \"abc\"");
    expect_file_error("outptu.topic=x\n",
        "%s:1: unknown key \"outptu.topic\" (did you mean \"output.topic\"?)");
    expect_file_error("behavior.repeat.window_days=3\n",
        "%s:1: unknown key \"behavior.repeat.window_days\" (did you mean "
        "\"behaviour.repeat.window_days\"?)");
    expect_file_error("behaviour.repeat.windw_days=3\n",
        "%s:1: unknown key \"behaviour.repeat.windw_days\" (did you mean "
        "\"behaviour.repeat.window_days\"?)");
    expect_file_error("input.topic.orders.typ=return\n",
        "%s:1: unknown key \"input.topic.orders.typ\" (did you mean "
        "\"input.topic.orders.type\"?)");
    expect_file_error("completely.different=1\n",
        "%s:1: unknown key \"completely.different\"");
    expect_file_error("behaviour.repeat=1\n",
        "%s:1: unknown key \"behaviour.repeat\"");
    expect_file_error("a=1\n", "%s:1: unknown key \"a\"");
    expect_file_error("\n\n\nfoo\n", "%s:4: expected key=value, got \"foo\"");
    expect_file_error("output.topic: x\n",
        "%s:1: expected key=value, got \"output.topic: x\"");
    expect_file_error("  = value\n", "%s:1: expected key=value, got \"= value\"");
    expect_file_error("output.format=xml\n",
        "%s:1: output.format: must be one of avro, json, got \"xml\"");
    expect_file_error("log.level=DEBUG\n",
        "%s:1: log.level: must be one of error, warn, info, debug, got "
        "\"DEBUG\"");
    expect_file_error("store.backend=disk\n",
        "%s:1: store.backend: must be one of auto, memory, redis, got \"disk\"");
    expect_file_error("processing.guarantee=exactly-once\n",
        "%s:1: processing.guarantee: must be one of exactly_once, "
        "at_least_once, got \"exactly-once\"");
    expect_file_error("log.format=xml\n",
        "%s:1: log.format: must be one of text, json, got \"xml\"");
    expect_file_error("input.format=\n",
        "%s:1: input.format: must be one of avro, json, got \"\"");
    expect_file_error("batch.max.events=0\n",
        "%s:1: batch.max.events: must be an integer between 1 and 10000000, "
        "got \"0\"");
    expect_file_error("batch.max.events=10000001\n",
        "%s:1: batch.max.events: must be an integer between 1 and 10000000, "
        "got \"10000001\"");
    expect_file_error("batch.max.events=12abc\n",
        "%s:1: batch.max.events: must be an integer between 1 and 10000000, "
        "got \"12abc\"");
    expect_file_error("output.schema.id=-1\n",
        "%s:1: output.schema.id: must be an integer between 0 and 2147483647, "
        "got \"-1\"");
    expect_file_error("output.schema.id=99999999999999999999\n",
        "%s:1: output.schema.id: must be an integer between 0 and 2147483647, "
        "got \"99999999999999999999\"");
    expect_file_error("behaviour.r.window_days=0\n",
        "%s:1: behaviour.r.window_days: must be an integer between 1 and "
        "36500, got \"0\"");
    expect_file_error("behaviour.r.window_days=off\n",
        "%s:1: behaviour.r.window_days: must be an integer between 1 and "
        "36500, got \"off\"");
    expect_file_error("behaviour.r.min_orders=-1\n",
        "%s:1: behaviour.r.min_orders: must be an integer >= 0 or off, "
        "got \"-1\"");
    expect_file_error("behaviour.r.min_items=many\n",
        "%s:1: behaviour.r.min_items: must be an integer >= 0 or off, "
        "got \"many\"");
    expect_file_error("behaviour.r.min_net_minor=1.5\n",
        "%s:1: behaviour.r.min_net_minor: must be an integer or off, "
        "got \"1.5\"");
    expect_file_error("behaviour.r.max_return_ratio=-0.1\n",
        "%s:1: behaviour.r.max_return_ratio: must be a number >= 0 or off, "
        "got \"-0.1\"");
    expect_file_error("behaviour.r.max_return_ratio=inf\n",
        "%s:1: behaviour.r.max_return_ratio: must be a number >= 0 or off, "
        "got \"inf\"");
    expect_file_error("behaviour.r.max_return_ratio=0.5x\n",
        "%s:1: behaviour.r.max_return_ratio: must be a number >= 0 or off, "
        "got \"0.5x\"");
    expect_file_error("behaviour.re.peat.min_orders=1\n",
        "%s:1: behaviour.re.peat.min_orders: invalid behaviour name "
        "\"re.peat\" (1-63 of A-Z a-z 0-9 _ -)");
    expect_file_error("behaviour.b@d.min_orders=1\n",
        "%s:1: behaviour.b@d.min_orders: invalid behaviour name \"b@d\" "
        "(1-63 of A-Z a-z 0-9 _ -)");
    expect_file_error("behaviour..min_orders=1\n",
        "%s:1: behaviour..min_orders: invalid behaviour name \"\" "
        "(1-63 of A-Z a-z 0-9 _ -)");
    expect_file_error("replay.progress=maybe\n",
        "%s:1: replay.progress: must be true or false, got \"maybe\"");
    expect_file_error("commit.interval.ms=0\n",
        "%s:1: commit.interval.ms: must be a duration between 1ms and 1h "
        "(milliseconds, or with a unit: 500ms, 5s, 2m, 1h), got \"0\"");
    expect_file_error("commit.interval.ms=5 s\n",
        "%s:1: commit.interval.ms: must be a duration between 1ms and 1h "
        "(milliseconds, or with a unit: 500ms, 5s, 2m, 1h), got \"5 s\"");
    expect_file_error("shutdown.timeout.ms=2h\n",
        "%s:1: shutdown.timeout.ms: must be a duration between 0ms and 1h "
        "(milliseconds, or with a unit: 500ms, 5s, 2m, 1h), got \"2h\"");
    expect_file_error("redis.command.timeout.ms=99999999999999999h\n",
        "%s:1: redis.command.timeout.ms: must be a duration between 1ms and 1h "
        "(milliseconds, or with a unit: 500ms, 5s, 2m, 1h), got "
        "\"99999999999999999h\"");
    expect_file_error("redis.buckets=1000\n",
        "%s:1: redis.buckets: must be a power of two (1, 2, 4, ..., 1048576), "
        "got \"1000\"");
    expect_file_error("redis.buckets=2097152\n",
        "%s:1: redis.buckets: must be an integer between 1 and 1048576, "
        "got \"2097152\"");
    expect_file_error("redis.connect.timeout.ms=-5\n",
        "%s:1: redis.connect.timeout.ms: must be a duration between 1ms and 1h "
        "(milliseconds, or with a unit: 500ms, 5s, 2m, 1h), got \"-5\"");
    expect_file_error("output.topic=\n",
        "%s:1: output.topic: must be a Kafka topic name (1-249 of A-Z a-z 0-9 "
        ". _ -), got \"\"");
    expect_file_error("dead_letter.topic=dead letter\n",
        "%s:1: dead_letter.topic: must be a Kafka topic name (1-249 of A-Z a-z "
        "0-9 . _ -), got \"dead letter\"");
    expect_file_error("output.topic=..\n",
        "%s:1: output.topic: must be a Kafka topic name (1-249 of A-Z a-z 0-9 "
        ". _ -), got \"..\"");
    expect_file_error("input.topics=a,,b\n",
        "%s:1: input.topics: must be a comma-separated list of Kafka topic "
        "names (1-249 of A-Z a-z 0-9 . _ -), got \"a,,b\"");
    expect_file_error("input.topics=a,b c\n",
        "%s:1: input.topics: must be a comma-separated list of Kafka topic "
        "names (1-249 of A-Z a-z 0-9 . _ -), got \"a,b c\"");
    expect_file_error("input.topic.a b.type=return\n",
        "%s:1: input.topic.a b.type: invalid topic name \"a b\" (1-249 of "
        "A-Z a-z 0-9 . _ -)");
    expect_file_error("input.topic.a.type=refund\n",
        "%s:1: input.topic.a.type: must be one of purchase, return, got "
        "\"refund\"");
    expect_file_error("http.listen=9464\n",
        "%s:1: http.listen: must be HOST:PORT (port 0-65535) or empty, got "
        "\"9464\"");
    expect_file_error("http.listen=localhost:65536\n",
        "%s:1: http.listen: must be HOST:PORT (port 0-65535) or empty, got "
        "\"localhost:65536\"");
    expect_file_error("http.listen=:80\n",
        "%s:1: http.listen: must be HOST:PORT (port 0-65535) or empty, got "
        "\":80\"");
    expect_file_error("redis.url=127.0.0.1:6379\n",
        "%s:1: redis.url: must be a redis:// or unix:// URL, got "
        "\"127.0.0.1:6379\"");
    expect_file_error("schema.registry.url=localhost:8081\n",
        "%s:1: schema.registry.url: must be an http:// or https:// URL or "
        "empty, got \"localhost:8081\"");
    expect_file_error("redis.key.prefix=a{b}\n",
        "%s:1: redis.key.prefix: must be 1-64 characters without spaces, '{' "
        "or '}', got \"a{b}\"");
    expect_file_error("kafka.bootstrap.server=x\n",
        "%s:1: kafka.bootstrap.server: No such configuration property: "
        "\"bootstrap.server\"");
    expect_file_error("kafka.=x\n",
        "%s:1: kafka.: missing the librdkafka property name after \"kafka.\"");
    /* cross-checks in hf_config_finish */
    expect_file_error("input.topics=a\ninput.topic.b.type=return\n",
        "%s:2: input.topic.b.type: topic \"b\" is not in input.topics");
    expect_file_error("behaviour.none.min_orders=off\n",
        "%s:1: behaviour.none.min_orders: behaviour \"none\" has no "
        "threshold: set at least one of min_orders, min_items, "
        "min_net_minor, max_return_ratio");
}

static void test_flag_errors(void **state)
{
    (void)state;
    expect_flag_error("output.format=xml",
        "-X output.format: must be one of avro, json, got \"xml\"");
    expect_flag_error("outptu.topic=x",
        "-X: unknown key \"outptu.topic\" (did you mean \"output.topic\"?)");
    expect_flag_error("foo", "-X: expected key=value, got \"foo\"");
    expect_flag_error("=x", "-X: expected key=value, got \"=x\"");
    expect_flag_error("behaviour.r.window_days=x",
        "-X behaviour.r.window_days: must be an integer between 1 and 36500, "
        "got \"x\"");
    expect_flag_error("kafka.acks=sometimes",
        "-X kafka.acks: Invalid value for configuration property "
        "\"request.required.acks\"");
}

static void test_env_errors(void **state)
{
    (void)state;
    expect_env_error("HIREFIRE_LOG_LEVEL=loud",
        "environment HIREFIRE_LOG_LEVEL: must be one of error, warn, info, "
        "debug, got \"loud\"");
    expect_env_error("HIREFIRE_COMMIT_INTERVAL_MS=soon",
        "environment HIREFIRE_COMMIT_INTERVAL_MS: must be a duration between "
        "1ms and 1h (milliseconds, or with a unit: 500ms, 5s, 2m, 1h), got "
        "\"soon\"");
    expect_env_error("HIREFIRE_REPLAY_PROGRESS=",
        "environment HIREFIRE_REPLAY_PROGRESS: must be true or false, got \"\"");
}

static void test_missing_file(void **state)
{
    hf_config cfg;
    char err[256] = "";
    (void)state;
    assert_int_equal(-1, hf_config_load(&cfg, "/tmp/hf_test_config_missing/x",
                                        NULL, NULL, 0, err, sizeof(err)));
    assert_string_equal("cannot read config file "
                        "\"/tmp/hf_test_config_missing/x\": No such file or "
                        "directory", err);
    hf_config_destroy(&cfg);
}

static void test_first_error_stops_the_file(void **state)
{
    (void)state;
    expect_file_error("log.level=loud\noutput.format=xml\n",
        "%s:1: log.level: must be one of error, warn, info, debug, got "
        "\"loud\"");
}

/*--- Dump -----------------------------------------------------------------*/

static void test_dump_masks_secrets(void **state)
{
    hf_config cfg;
    char err[256] = "", path[64], line[256], *out;
    char *xs[] = {"schema.registry.url=https://u:pw@sr:8081/x@y",
                  "kafka.ssl.key.password=k3y",
                  "kafka.ssl.keystore.password=s3cr3t"};
    (void)state;
    assert_int_equal(0, load_text(&cfg,
        "kafka.sasl.username=hf\n"
        "kafka.sasl.password=hunter2\n"
        "redis.url=redis://default:p4ss@redis.local:6380/1\n",
        NULL, xs, 3, err, sizeof(err), path, sizeof(path)));
    /* the values themselves are intact */
    assert_string_equal("hunter2", hf_config_kafka_get(&cfg, "sasl.password"));
    assert_string_equal("redis://default:p4ss@redis.local:6380/1", cfg.redis_url);
    assert_string_equal("https://u:pw@sr:8081/x@y", cfg.schema_registry_url);
    out = dump(&cfg);
    snprintf(line, sizeof(line), "kafka.sasl.username = hf  # file %s:1", path);
    assert_has_line(out, line);
    snprintf(line, sizeof(line), "kafka.sasl.password = ***  # file %s:2", path);
    assert_has_line(out, line);
    snprintf(line, sizeof(line),
             "redis.url = redis://default:***@redis.local:6380/1  # file %s:3",
             path);
    assert_has_line(out, line);
    assert_has_line(out, "schema.registry.url = https://u:***@sr:8081/x@y  # flag -X");
    assert_has_line(out, "kafka.ssl.key.password = ***  # flag -X");
    assert_has_line(out, "kafka.ssl.keystore.password = ***  # flag -X");
    assert_null(strstr(out, "hunter2"));
    assert_null(strstr(out, "p4ss"));
    assert_null(strstr(out, "k3y"));
    assert_null(strstr(out, "s3cr3t"));
    free(out);
    hf_config_destroy(&cfg);
}

static void test_dump_exact(void **state)
{
    hf_config cfg;
    char err[256] = "", path[64], *out, expected[4096];
    char *envp[] = {"HIREFIRE_LOG_LEVEL=debug", NULL};
    char *xs[] = {"redis.url=redis://p4ss@h:6379", "kafka.group.id=g"};
    (void)state;
    assert_int_equal(0, load_text(&cfg,
        "behaviour.valuable.min_orders=off\n"
        "behaviour.valuable.min_net_minor=50000\n"
        "behaviour.valuable.max_return_ratio=0.5\n"
        "kafka.sasl.password=hunter2\n"
        "input.topics=p, r\n"
        "input.topic.r.type=return\n",
        envp, xs, 2, err, sizeof(err), path, sizeof(path)));
    snprintf(expected, sizeof(expected),
        "input.topics = p, r  # file %1$s:5\n"
        "input.topic.r.type = return  # file %1$s:6\n"
        "input.format = avro  # default\n"
        "input.schema.dir =   # default\n"
        "schema.registry.url =   # default\n"
        "schema.registry.timeout.ms = 5000  # default\n"
        "output.topic = hirefire.signals  # default\n"
        "output.format = avro  # default\n"
        "output.schema.id = 0  # default\n"
        "dead_letter.topic = hirefire.dead-letter  # default\n"
        "kafka.sasl.password = ***  # file %1$s:4\n"
        "kafka.group.id = g  # flag -X\n"
        "store.backend = auto  # default\n"
        "redis.url = redis://***@h:6379  # flag -X\n"
        "redis.key.prefix = hf  # default\n"
        "redis.buckets = 1024  # default\n"
        "redis.connect.timeout.ms = 2000  # default\n"
        "redis.command.timeout.ms = 5000  # default\n"
        "processing.guarantee = exactly_once  # default\n"
        "commit.interval.ms = 100  # default\n"
        "batch.linger.ms = 0  # default\n"
        "batch.max.events = 250000  # default\n"
        "shutdown.timeout.ms = 10000  # default\n"
        "http.listen = 127.0.0.1:9464  # default\n"
        "log.format = text  # default\n"
        "log.level = debug  # env HIREFIRE_LOG_LEVEL\n"
        "replay.progress = true  # default\n"
        "behaviour.valuable.window_days = 90  # default\n"
        "behaviour.valuable.min_orders = off  # file %1$s:1\n"
        "behaviour.valuable.min_items = off  # default\n"
        "behaviour.valuable.min_net_minor = 50000  # file %1$s:2\n"
        "behaviour.valuable.max_return_ratio = 0.5  # file %1$s:3\n",
        path);
    out = dump(&cfg);
    assert_string_equal(expected, out);
    free(out);
    hf_config_destroy(&cfg);
}

/*--- Documentation --------------------------------------------------------*/

static char *capture(void (*fn)(FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    fn(fp);
    assert_int_equal(0, fclose(fp));
    return buf;
}

static void test_markdown_reference(void **state)
{
    char *md = capture(hf_config_print_reference_markdown);
    size_t rows = 0;
    (void)state;
    static const char head[] =
        "| Key | Type | Default | Environment | Description |\n"
        "|---|---|---|---|---|\n";
    assert_true(strncmp(md, head, strlen(head)) == 0);
    for (const char *p = md; (p = strstr(p, "\n| `")); p++)
        rows++;
    assert_int_equal(31, rows);
    assert_has_line(md, "| `output.format` | one of avro, json | `avro` | "
                        "`HIREFIRE_OUTPUT_FORMAT` | Encoding of signals: "
                        "Confluent-framed Avro or JSON. |");
    assert_has_line(md, "| `behaviour.<name>.min_orders` | integer >= 0 or off "
                        "| `2` | - | Purchases in the window, at least. |");
    assert_has_line(md, "| `input.schema.dir` | string | (empty) | "
                        "`HIREFIRE_INPUT_SCHEMA_DIR` | Directory of local Avro "
                        "writer schemas, used instead of the schema registry; "
                        "empty = none. |");
    assert_has_line(md, "| `commit.interval.ms` | duration 1ms..1h | `100` | "
                        "`HIREFIRE_COMMIT_INTERVAL_MS` | Longest time a "
                        "batch takes messages while more keep arriving (live "
                        "mode; with Redis every batch is a commit); with the "
                        "memory store, also how often offsets are committed. |");
    assert_has_line(md, "| `batch.linger.ms` | duration 0ms..1h | `0` | "
                        "`HIREFIRE_BATCH_LINGER_MS` | How long a batch waits "
                        "for messages not fetched yet (live mode), from the "
                        "later of the last batch's close and its first "
                        "message's arrival: 0 takes what is "
                        "fetched, so batches grow with the load and an event "
                        "waits for one batch at most; more gives fewer, larger "
                        "transactions at low rates. |");
    free(md);
}

static void test_help(void **state)
{
    char *help = capture(hf_config_print_help);
    (void)state;
    assert_has_line(help, "  dead_letter.topic (topic, default "
                          "\"hirefire.dead-letter\", env "
                          "HIREFIRE_DEAD_LETTER_TOPIC)");
    assert_has_line(help, "  kafka.<property> (string)");
    assert_has_line(help, "  behaviour.<name>.max_return_ratio (number >= 0 or "
                          "off, default \"off\")");
    assert_has_line(help, "      Returned money / purchased money in the "
                          "window, at most.");
    free(help);
}

/* Every key that the example file sets must load, and it must set them all. */
static void test_example_file(void **state)
{
    const char *src = getenv("HF_SOURCE_DIR");
    char path[1024], err[512] = "", *out;
    hf_config cfg;
    (void)state;
    snprintf(path, sizeof(path), "%s/config/hirefire.properties",
             src ? src : ".");
    if (access(path, R_OK) != 0)
        fail_msg("cannot read %s (set HF_SOURCE_DIR)", path);
    assert_int_equal(0, hf_config_load(&cfg, path, NULL, NULL, 0, err,
                                       sizeof(err)));
    assert_int_equal(3, cfg.nbehaviours);
    assert_string_equal("repeat", cfg.behaviours[0].name);
    assert_string_equal("valuable", cfg.behaviours[1].name);
    assert_int_equal(50000, cfg.behaviours[1].min_net_minor);
    assert_true(cfg.behaviours[1].max_return_ratio == 0.5);
    assert_string_equal("loyal", cfg.behaviours[2].name);
    assert_int_equal(365, cfg.behaviours[2].window_days);
    assert_int_equal(4, cfg.behaviours[2].min_orders);
    out = dump(&cfg);
    /* every fixed key comes from the file, none is left at its default
     * except behaviour settings that the example leaves out on purpose */
    for (const char *p = out; *p;) {
        const char *nl = strchr(p, '\n');
        if (strncmp(p, "behaviour.", 10) != 0 &&
            strstr(p, "  # default") != NULL &&
            strstr(p, "  # default") < nl)
            fail_msg("example file misses: %.*s", (int)(nl - p), p);
        p = nl + 1;
    }
    free(out);
    hf_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_init_has_no_behaviour_until_finish),
        cmocka_unit_test(test_destroy_null_and_zeroed),
        cmocka_unit_test(test_file_parsing),
        cmocka_unit_test(test_bool_spellings),
        cmocka_unit_test(test_list_replaced_and_emptied),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_env_empty_value_sets_empty),
        cmocka_unit_test(test_behaviour_order_of_first_appearance),
        cmocka_unit_test(test_behaviour_off_values),
        cmocka_unit_test(test_behaviour_name_limits),
        cmocka_unit_test(test_at_most_32_behaviours),
        cmocka_unit_test(test_topic_types),
        cmocka_unit_test(test_kafka_pass_through),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_first_error_stops_the_file),
        cmocka_unit_test(test_dump_masks_secrets),
        cmocka_unit_test(test_dump_exact),
        cmocka_unit_test(test_markdown_reference),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_example_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
