/* ui_auth.c: the action token check (ui_auth.h). */
#include "http/ui_auth.h"

#include <stddef.h>
#include <string.h>

/* Every byte of the longer string is looked at whatever matched before, and
 * a length difference counts as a mismatch, so the time depends only on the
 * lengths. */
static int equal_ct(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < la ? (unsigned char)a[i] : 0;
        unsigned char y = i < lb ? (unsigned char)b[i] : 0;
        diff |= (unsigned)(x ^ y);
    }
    return diff == 0;
}

int fp_ui_token_verdict(const char *configured, const char *given)
{
    if (configured == NULL || configured[0] == '\0')
        return 404;
    if (given == NULL || given[0] == '\0')
        return 403;
    return equal_ct(configured, given) ? 0 : 403;
}
