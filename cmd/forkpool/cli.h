/* cli.h: what the command files share: the command table's entry type, and the
 * helpers for options every command takes. Commands return 0 or a negative
 * code with err filled; only main.c turns codes into exit statuses. */
#ifndef FORKPOOL_CLI_H
#define FORKPOOL_CLI_H

#include <stdbool.h>

#include "config/config.h"
#include "base/err.h"

typedef int (*fp_cmd_fn)(int argc, char **argv, fp_err_t *err);

typedef struct fp_cmd_s {
    const char *name;
    const char *summary;
    const char *usage; /* full help text, ending in a newline */
    fp_cmd_fn run;     /* NULL: not built yet */
} fp_cmd_t;

extern const fp_cmd_t fp_cmd_table[];

/* Loads the configuration the way every command does: -c, else
 * $FORKPOOL_CONFIG, else ./forkpool.toml, else defaults. Any failure is
 * reported as FP_ECONFIG so the exit status is 78. */
int fp_cli_load_config(const char *cli_path, fp_config_t **out, fp_err_t *err);

/* Parses a non-negative integer option value; FP_EUSAGE naming the option. */
int fp_cli_parse_count(const char *option, const char *text, long long max, long long *out,
                       fp_err_t *err);

/* Adds item to object o under name, or frees item: false when either failed
 * (out of memory), so a chain of adds stops at the first failure. */
bool fp_cli_json_add(void *o, const char *name, void *item);

/* Prints doc as one JSON line on stdout and frees it (takes doc, a cJSON *).
 * complete false (an add failed) or doc NULL: nothing printed, -ENOMEM with
 * err set. */
int fp_cli_print_json_line(void *doc, bool complete, fp_err_t *err);

int fp_cmd_check_config(int argc, char **argv, fp_err_t *err);
int fp_cmd_dead(int argc, char **argv, fp_err_t *err);
int fp_cmd_enqueue(int argc, char **argv, fp_err_t *err);
int fp_cmd_jobs(int argc, char **argv, fp_err_t *err);
int fp_cmd_version(int argc, char **argv, fp_err_t *err);
int fp_cmd_run(int argc, char **argv, fp_err_t *err);
int fp_cmd_stats(int argc, char **argv, fp_err_t *err);

#endif
