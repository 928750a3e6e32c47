/* cli.c - helpers shared by the subcommands: option errors, configuration. */
#include "cmd/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec/codec_json.h"
#include "config/config.h"
#include "util/log.h"

extern char **environ;

int hf_cli_option_error(const char *cmd, int opt, char **argv)
{
    if (opt == ':')
        fprintf(stderr, "hirefire %s: option %s needs a value\n", cmd, argv[optind - 1]);
    else
        fprintf(stderr, "hirefire %s: unknown option %s (see hirefire %s --help)\n", cmd,
                argv[optind - 1], cmd);
    return 2;
}

int hf_cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int hf_cli_refuse_input(const char *cmd, const char *input, const char *option,
                        const char *path)
{
    struct stat in, out;
    if (input == NULL || path == NULL || strcmp(input, "-") == 0 || strcmp(path, "-") == 0 ||
        stat(input, &in) != 0 || stat(path, &out) != 0)
        return -1;
    if (in.st_dev != out.st_dev || in.st_ino != out.st_ino)
        return -1;
    fprintf(stderr, "hirefire %s: %s \"%s\" is the input file; refusing to overwrite it\n", cmd,
            option, path);
    return 2;
}

int hf_cli_parse_day(const char *s, int32_t *day)
{
    int64_t ms;
    char buf[64];
    if (strlen(s) != 10)
        return -1;
    snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
    if (hf_parse_rfc3339(buf, strlen(buf), &ms) != 0)
        return -1;
    *day = hf_event_day(ms);
    return 0;
}

int hf_cli_load_config(hf_config *cfg, const char *path, char **xs, size_t nxs)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    char err[1024];
    if (hf_config_load(cfg, path, environ, xs, nxs, err, sizeof(err)) != 0) {
        fprintf(stderr, "hirefire: %s\n", err);
        return 2;
    }
    hf_log_set_level(levels[cfg->log_level]);
    hf_log_set_format(cfg->log_format == HF_LOG_FORMAT_JSON ? "json" : "text");
    return 0;
}
