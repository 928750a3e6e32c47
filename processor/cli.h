/*
 * cli.h - the subcommands of the hirefire program. Each takes the arguments
 * after its name (argv[0] is the subcommand) and returns the process exit
 * status: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
#ifndef HF_CLI_H
#define HF_CLI_H

int hf_cmd_replay(int argc, char **argv);
int hf_cmd_run(int argc, char **argv);
int hf_cmd_gen(int argc, char **argv);
int hf_cmd_produce(int argc, char **argv);
int hf_cmd_inspect(int argc, char **argv);
int hf_cmd_validate(int argc, char **argv);

#endif
