/* utf8.c: strict UTF-8 validation, shared by every reader of outside text. */
#include "base/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes in the sequence a lead byte starts, or 0 for a byte that cannot lead. */
static int sequence_length(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

size_t fp_utf8_valid_prefix(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        int n = sequence_length(p[i]);
        if (n == 0 || i + (size_t)n > len)
            return i;
        uint32_t cp = n == 1 ? p[i] : (uint32_t)(p[i] & (0x7F >> n));
        for (int k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        /* Overlong forms, UTF-16 surrogates and values past U+10FFFF. */
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
            cp > 0x10FFFF)
            return i;
        i += (size_t)n;
    }
    return len;
}

char *fp_utf8_lossy(const char *s)
{
    size_t len = strlen(s), n = 0;
    char *out = malloc(len * 3 + 1);
    for (size_t i = 0; out != NULL && i < len;) {
        size_t ok = fp_utf8_valid_prefix(s + i, len - i);
        memcpy(out + n, s + i, ok);
        n += ok;
        i += ok;
        if (i < len) {
            memcpy(out + n, "\xef\xbf\xbd", 3);
            n += 3;
            i++;
        }
    }
    if (out != NULL)
        out[n] = '\0';
    return out;
}
