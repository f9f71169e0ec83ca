/* space.c: a feature's kv space for one queue (space.h). */
#include "sqlq/space.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *fp_sqlq_space_of(const char *feature, const char *queue)
{
    size_t n = strlen(feature) + strlen(queue) + 1;
    char *space = malloc(n);
    if (space != NULL)
        snprintf(space, n, "%s%s", feature, queue);
    return space;
}
