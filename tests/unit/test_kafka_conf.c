/* test_kafka_conf.c - librdkafka configuration from the kafka.* settings:
 * order of defaults, user keys and required keys, and exact error texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "kafka/kafka_conf.h"

static const hf_kafka_setting settings[] = {
    {"group.id", "hirefire", HF_KAFKA_DEFAULT, NULL},
    {"auto.offset.reset", "earliest", HF_KAFKA_DEFAULT, NULL},
    {"enable.auto.commit", "false", HF_KAFKA_REQUIRED, "hirefire commits offsets itself"},
    {"client.id", "forced", HF_KAFKA_OVERRIDE, NULL},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static void load(hf_config *cfg, char **xs, size_t n)
{
    char err[512];
    assert_int_equal(hf_config_init(cfg), 0);
    if (hf_config_load_overrides(cfg, xs, n, err, sizeof(err)) != 0)
        fail_msg("config: %s", err);
}

static void expect(const rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char buf[256];
    assert_string_equal(hf_kafka_conf_get(conf, key, buf, sizeof(buf)), value);
}

static void defaults_user_then_required(void **state)
{
    (void)state;
    char *xs[] = {"kafka.group.id=mine", "kafka.client.id=user",
                  "kafka.bootstrap.servers=127.0.0.1:9", "kafka.enable.auto.commit=FALSE"};
    hf_config cfg;
    char err[512] = "";
    load(&cfg, xs, 4);
    rd_kafka_conf_t *conf = hf_kafka_conf_new(&cfg, settings, NSETTINGS, err, sizeof(err));
    assert_non_null(conf);
    expect(conf, "group.id", "mine");           /* the user beats a default */
    expect(conf, "auto.offset.reset", "smallest"); /* librdkafka's name */
    expect(conf, "client.id", "forced");        /* an override beats the user */
    expect(conf, "enable.auto.commit", "false");
    expect(conf, "bootstrap.servers", "127.0.0.1:9");
    rd_kafka_conf_destroy(conf);
    hf_config_destroy(&cfg);
}

static void required_conflict(void **state)
{
    (void)state;
    char *xs[] = {"kafka.enable.auto.commit=true"};
    hf_config cfg;
    char err[512] = "";
    load(&cfg, xs, 1);
    assert_null(hf_kafka_conf_new(&cfg, settings, NSETTINGS, err, sizeof(err)));
    assert_string_equal(err, "kafka.enable.auto.commit: must be \"false\" here "
                             "(hirefire commits offsets itself), got \"true\"");
    hf_config_destroy(&cfg);
}

static void librdkafka_error_names_the_key(void **state)
{
    (void)state;
    static const hf_kafka_setting bad[] = {
        {"no.such.property", "1", HF_KAFKA_DEFAULT, NULL},
    };
    char err[512] = "";
    assert_null(hf_kafka_conf_new(NULL, bad, 1, err, sizeof(err)));
    assert_string_equal(err, "no.such.property: No such configuration property: "
                             "\"no.such.property\"");
}

static void no_config(void **state)
{
    (void)state;
    char err[512] = "";
    rd_kafka_conf_t *conf = hf_kafka_conf_new(NULL, settings, NSETTINGS, err, sizeof(err));
    assert_non_null(conf);
    expect(conf, "group.id", "hirefire");
    char buf[8];
    assert_string_equal(hf_kafka_conf_get(conf, "no.such.key", buf, sizeof(buf)), "");
    rd_kafka_conf_destroy(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_user_then_required),
        cmocka_unit_test(required_conflict),
        cmocka_unit_test(librdkafka_error_names_the_key),
        cmocka_unit_test(no_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
