/*
 * cli.h - the subcommands of the hirefire program. Each takes the arguments
 * after its name (argv[0] is the subcommand) and returns the process exit
 * status: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
#ifndef HF_CLI_H
#define HF_CLI_H

#include <stddef.h>
#include <stdint.h>

int hf_cmd_replay(int argc, char **argv);
int hf_cmd_run(int argc, char **argv);
int hf_cmd_gen(int argc, char **argv);
int hf_cmd_produce(int argc, char **argv);
int hf_cmd_inspect(int argc, char **argv);
int hf_cmd_validate(int argc, char **argv);
int hf_cmd_audience(int argc, char **argv);

/*--- Helpers shared by the subcommands -----------------------------------*/

struct hf_config;

/*
 * Reports why getopt_long() stopped at an option of `cmd`: opt ':' is a
 * missing value, anything else an unknown option. Returns 2 (usage error).
 */
int hf_cli_option_error(const char *cmd, int opt, char **argv);

/* Parses a decimal integer in [min, max]: 0, or -1 for anything else. */
int hf_cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Refuses an output path that is the input file (the same device and inode,
 * under any name): opening it for writing would truncate the input. Returns
 * -1 to go on (also when either is "-", NULL or does not exist yet), or 2
 * after printing "hirefire <cmd>: <option> "<path>" is the input file; ...".
 */
int hf_cli_refuse_input(const char *cmd, const char *input, const char *option,
                        const char *path);

/* Parses a day, YYYY-MM-DD (UTC), into a day number: 0, or -1. */
int hf_cli_parse_day(const char *s, int32_t *day);

/*
 * Loads the configuration (defaults, the file at path when not NULL, the
 * HIREFIRE_* environment, the -X overrides) and applies log.level and
 * log.format. Returns 0, or 2 after printing "hirefire: <what to fix>";
 * cfg must be destroyed either way.
 */
int hf_cli_load_config(struct hf_config *cfg, const char *path, char **xs,
                       size_t nxs);

#endif
