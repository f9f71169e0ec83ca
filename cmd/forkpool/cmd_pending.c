/* cmd_pending.c: complete option checking for the commands whose engines are
 * not in this build yet (stats, jobs). Usage errors exit
 * 64 exactly as they will later; a valid invocation says the command is not
 * built yet and exits 1. Each command moves to its own file when it lands. */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "forkpool/units.h"

enum { OPT_QUEUE = 256, OPT_JSON, OPT_LIMIT, OPT_OUTCOME, OPT_TYPE, OPT_SINCE };

typedef struct spec_s {
    const char *command;
    const struct option *options;
    int min_args, max_args;
} spec_t;

#define CONFIG_OPTION {"config", required_argument, NULL, 'c'}
#define END_OPTION {NULL, 0, NULL, 0}

static const struct option stats_options[] = {CONFIG_OPTION, {"json", no_argument, NULL, OPT_JSON},
                                              END_OPTION};
static const struct option jobs_options[] = {
    CONFIG_OPTION, {"outcome", required_argument, NULL, OPT_OUTCOME},
    {"type", required_argument, NULL, OPT_TYPE}, {"since", required_argument, NULL, OPT_SINCE},
    {"limit", required_argument, NULL, OPT_LIMIT}, {"json", no_argument, NULL, OPT_JSON},
    END_OPTION};

static const spec_t specs[] = {
    {"stats", stats_options, 0, 0},
    {"jobs", jobs_options, 0, 0},
};

static const spec_t *find_spec(const char *command)
{
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        if (strcmp(specs[i].command, command) == 0)
            return &specs[i];
    return NULL;
}

static int check_one_of(const char *what, const char *value, const char *const *allowed,
                        fp_err_t *err)
{
    for (size_t i = 0; allowed[i] != NULL; i++)
        if (strcmp(value, allowed[i]) == 0)
            return 0;
    return fp_err_set(err, FP_EUSAGE, "unknown %s \"%s\"", what, value);
}

static int check_value(int opt, const char *name, const char *value, fp_err_t *err)
{
    static const char *const outcomes[] = {"ok", "failed", "retried", "dead", "timeout",
                                           "crashed", NULL};
    long long n;
    int64_t ms;
    switch (opt) {
    case OPT_LIMIT: return fp_cli_parse_count(name, value, 1000000000, &n, err);
    case OPT_OUTCOME: return check_one_of("outcome", value, outcomes, err);
    case OPT_QUEUE:
    case OPT_TYPE:
        return value[0] == '\0' ? fp_err_set(err, FP_EUSAGE, "%s must not be empty", name) : 0;
    case OPT_SINCE:
        if (fp_units_parse_duration_ms(value, &ms, err) < 0) {
            fp_err_prefix(err, "%s", name);
            return err != NULL ? (err->code = FP_EUSAGE) : FP_EUSAGE;
        }
        return 0;
    default: return 0;
    }
}

int fp_cmd_parse_only(int argc, char **argv, fp_err_t *err)
{
    const spec_t *spec = find_spec(argv[0]);
    if (spec == NULL)
        return fp_err_set(err, FP_EUSAGE, "unknown command");
    int opt, index;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":c:", spec->options, &index)) != -1) {
        const char *name = argv[optind - 1];
        if (opt == ':')
            return fp_err_set(err, FP_EUSAGE, "%s needs a value", name);
        if (opt == '?')
            return fp_err_set(err, FP_EUSAGE, "unknown option %s", name);
        if (optarg != NULL && check_value(opt, name, optarg, err) < 0)
            return FP_EUSAGE;
    }
    int positional = argc - optind;
    if (positional < spec->min_args || positional > spec->max_args)
        return fp_err_set(err, FP_EUSAGE, "wrong number of arguments");
    return fp_err_set(err, -ENOSYS, "'%s' is not built in forkpool %s yet", spec->command,
                      FP_VERSION);
}
