/* common.c: option helpers every command shares. */
#include <errno.h>
#include <stdlib.h>

#include "cli.h"

int fp_cli_load_config(const char *cli_path, fp_config_t **out, fp_err_t *err)
{
    const char *path = fp_config_resolve_path(cli_path);
    int rc = fp_config_load(path, out, err);
    if (rc < 0) {
        if (err != NULL)
            err->code = FP_ECONFIG;
        return FP_ECONFIG;
    }
    return 0;
}

int fp_cli_parse_count(const char *option, const char *text, long long max, long long *out,
                       fp_err_t *err)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0 || v > max)
        return fp_err_set(err, FP_EUSAGE, "%s takes a whole number from 0 to %lld, got \"%s\"",
                          option, max, text);
    *out = v;
    return 0;
}
