/* cli.h: what the command files share: the command table's entry type, and the
 * helpers for options every command takes. Commands return 0 or a negative
 * code with err filled; only main.c turns codes into exit statuses. */
#ifndef FORKPOOL_CLI_H
#define FORKPOOL_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <getopt.h>

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

/* A Redis URL other than redis.url (migrate's --to) made ready as
 * fp_cli_load_config makes redis.url: its password kept out of every
 * message, and rediss:// given cfg's TLS files (FP_ECONFIG when unusable). */
int fp_cli_redis_url_setup(const fp_config_t *cfg, const char *url, fp_err_t *err);

/* How a command reads its command line. options is its getopt_long table,
 * {"config", required_argument, NULL, 'c'} included; on_option gets every
 * other option with its val, the word that ended it as written (argv[optind
 * - 1]) and its value; on_operands gets the words after the options, and is
 * NULL for a command that takes none. Either returns 0 or FP_EUSAGE. */
typedef struct fp_cli_spec_s {
    const struct option *options;
    int (*on_option)(void *args, int id, const char *name, const char *value, fp_err_t *err);
    int (*on_operands)(void *args, int n, char **words, fp_err_t *err);
    const char *extra_words; /* the message for operands when on_operands is NULL */
} fp_cli_spec_t;

/* Parses argv by spec into args, then loads the configuration -c names
 * (fp_cli_load_config): the start of every command. An unknown option or
 * one without its value is FP_EUSAGE, as is an operand a command does not
 * take. *cfg is the caller's to free on success. */
int fp_cli_begin(int argc, char **argv, const fp_cli_spec_t *spec, void *args, fp_config_t **cfg,
                 fp_err_t *err);

/* Parses a non-negative integer option value; FP_EUSAGE naming the option. */
int fp_cli_parse_count(const char *option, const char *text, long long max, long long *out,
                       fp_err_t *err);

/* The value of --queue: a queue name, never empty; FP_EUSAGE otherwise. */
int fp_cli_parse_queue(const char *text, const char **queue, fp_err_t *err);

/* Parses a duration option value ("30s") into *ms; FP_EUSAGE naming the option. */
int fp_cli_parse_duration(const char *option, const char *text, int64_t *ms, fp_err_t *err);

/* Adds item to object o under name, or frees item: false when either failed
 * (out of memory), so a chain of adds stops at the first failure. */
bool fp_cli_json_add(void *o, const char *name, void *item);

/* Prints doc as one JSON line on stdout and frees it (takes doc, a cJSON *).
 * complete false (an add failed) or doc NULL: nothing printed, -ENOMEM with
 * err set. */
int fp_cli_print_json_line(void *doc, bool complete, fp_err_t *err);

int fp_cmd_cancel(int argc, char **argv, fp_err_t *err);
int fp_cmd_check_config(int argc, char **argv, fp_err_t *err);
int fp_cmd_dead(int argc, char **argv, fp_err_t *err);
int fp_cmd_enqueue(int argc, char **argv, fp_err_t *err);
int fp_cmd_job(int argc, char **argv, fp_err_t *err);
int fp_cmd_migrate(int argc, char **argv, fp_err_t *err);
int fp_cmd_jobs(int argc, char **argv, fp_err_t *err);
int fp_cmd_version(int argc, char **argv, fp_err_t *err);
int fp_cmd_run(int argc, char **argv, fp_err_t *err);
int fp_cmd_schedule(int argc, char **argv, fp_err_t *err);
int fp_cmd_stats(int argc, char **argv, fp_err_t *err);
int fp_cmd_top(int argc, char **argv, fp_err_t *err);

#endif
