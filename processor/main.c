/* main.c - hirefire: command line dispatch only. */
#include <stdio.h>
#include <string.h>

#include <hiredis.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "cmd/cli.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"replay", hf_cmd_replay, "run events from a file or a topic range through the rules"},
    {"audience", hf_cmd_audience, "list the customers of each behaviour at a day, with their numbers"},
    {"run", hf_cmd_run, "process input topics live and publish signals"},
    {"gen", hf_cmd_gen, "generate realistic synthetic customer events"},
    {"produce", hf_cmd_produce, "load an event file into a topic"},
    {"inspect", hf_cmd_inspect, "print the Redis state of a customer or a partition"},
    {"validate", hf_cmd_validate, "check a configuration and print the effective settings"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "hirefire %s - hire/fire signals from customer purchase and return events\n\n"
            "Usage: hirefire <command> [options]\n\nCommands:\n",
            HF_VERSION);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n", "version", "print the version and library versions");
    fprintf(out, "\nRun 'hirefire <command> --help' for a command's options.\n");
}

static int version(void)
{
    printf("hirefire %s\n", HF_VERSION);
    printf("librdkafka %s\n", rd_kafka_version_str());
    printf("avro-c %s\n", HF_AVRO_VERSION);
    printf("hiredis %d.%d.%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    printf("jansson %s\n", JANSSON_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0)
        return version();
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "hirefire: unknown command \"%s\"\n\n", name);
    usage(stderr);
    return 2;
}
