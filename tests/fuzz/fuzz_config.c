/*
 * fuzz_config.c - libFuzzer target for configuration files (config.h): the
 * input is a properties file, read with hf_config_load_file from an
 * in-memory file, then cross-checked (hf_config_finish) and dumped. Every
 * key=value line goes through hf_config_set, so this covers the value
 * parsers (durations, booleans, enums, integers, URLs, behaviours, topics).
 *
 * Inputs naming a librdkafka plugin are skipped: kafka.* values are checked
 * by rd_kafka_conf_set, which loads plugin.library.paths at once.
 */
#include "fuzz_common.h"

#include "config/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fuzz_memfile file;
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_memfile_open(&file, "hf-fuzz-config");
    devnull = fopen("/dev/null", "w");
    FUZZ_CHECK(devnull != NULL, "open /dev/null");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hf_config cfg;
    char err[512];

    if (memmem(data, size, "plugin", 6) != NULL)
        return 0;
    fuzz_memfile_set(&file, data, size);
    FUZZ_CHECK(hf_config_init(&cfg) == 0, "config_init");
    err[0] = '\0';
    if (hf_config_load_file(&cfg, file.path, err, sizeof(err)) == 0 &&
        hf_config_finish(&cfg, err, sizeof(err)) == 0) {
        FUZZ_CHECK(cfg.nbehaviours >= 1 &&
                       cfg.nbehaviours <= HF_MAX_BEHAVIOURS,
                   "behaviours after finish");
        hf_config_dump(devnull, &cfg);
        for (size_t i = 0; i < cfg.n_input_topics; i++) {
            hf_event_type t;
            (void)hf_config_topic_type(&cfg, cfg.input_topics[i], &t);
        }
    } else {
        FUZZ_CHECK(err[0] != '\0', "error text set");
    }
    hf_config_destroy(&cfg);
    return 0;
}
