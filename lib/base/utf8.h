/* utf8.h: strict UTF-8 validation (no overlongs, no surrogates, <= U+10FFFF). */
#ifndef FORKPOOL_UTF8_H
#define FORKPOOL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 prefix of s; equals len when all of it is valid. */
size_t fp_utf8_valid_prefix(const char *s, size_t len);

/* s with each invalid byte replaced by U+FFFD, so it can go into a JSON
 * document whatever it held. Owned (free()); NULL on ENOMEM. */
char *fp_utf8_lossy(const char *s);

static inline bool fp_utf8_valid(const char *s, size_t len)
{
    return fp_utf8_valid_prefix(s, len) == len;
}

#endif
