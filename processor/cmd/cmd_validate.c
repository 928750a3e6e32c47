/*
 * cmd_validate.c - `hirefire validate`: checks a configuration and prints
 * the effective settings with where each value came from.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cli.h"
#include "config/config.h"


static void validate_usage(FILE *out)
{
    fprintf(out,
        "Usage: hirefire validate [--config FILE] [-X KEY=VALUE ...]\n"
        "       hirefire validate --reference\n"
        "\n"
        "Checks the configuration (file, HIREFIRE_* environment, -X flags) and prints\n"
        "the effective settings, one per line, with where each value came from\n"
        "(default, file PATH:LINE, env VARIABLE, flag -X). Secrets are masked.\n"
        "\n"
        "  -c, --config FILE   properties file\n"
        "  -X KEY=VALUE        set one setting (repeatable)\n"
        "      --reference     print the settings reference (markdown) and exit\n"
        "  -h, --help          this text\n"
        "\n"
        "Exit status: 0 valid, 2 invalid (the error says where and what to fix).\n"
        "\n"
        "Settings:\n");
    hf_config_print_help(out);
}

int hf_cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"reference", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    char **xs = calloc((size_t)argc + 1, sizeof(char *));
    size_t nxs = 0;
    int opt;
    if (xs == NULL)
        return 1;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:X:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'X': xs[nxs++] = optarg; break;
        case 'h': validate_usage(stdout); free(xs); return 0;
        case 'r': hf_config_print_reference_markdown(stdout); free(xs); return 0;
        default:
            free(xs);
            return hf_cli_option_error("validate", opt, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hirefire validate: unexpected argument \"%s\"\n", argv[optind]);
        free(xs);
        return 2;
    }
    hf_config cfg;
    int rc = hf_cli_load_config(&cfg, path, xs, nxs);
    free(xs);
    if (rc != 0) {
        hf_config_destroy(&cfg);
        return rc;
    }
    hf_config_dump(stdout, &cfg);
    hf_config_destroy(&cfg);
    return 0;
}
