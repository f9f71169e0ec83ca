/* cmd_version.c: `forkpool version`. */
#include <stdio.h>

#include "cli.h"

int fp_cmd_version(int argc, char **argv, fp_err_t *err)
{
    (void)argv;
    if (argc > 1)
        return fp_err_set(err, FP_EUSAGE, "version takes no arguments");
    printf("forkpool %s\n", FP_VERSION);
    return 0;
}
