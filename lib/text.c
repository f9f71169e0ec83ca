/* text.c: quoting outside text for messages, and hex digits. */
#include "text.h"

#include <stdio.h>
#include <string.h>

const char *fp_text_quote(char *buf, size_t size, const char *s, size_t max_chars)
{
    size_t n = 0;
    buf[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 8 < size; p++) {
        if ((size_t)(p - (const unsigned char *)s) >= max_chars) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", *p);
        else
            buf[n++] = (char)*p;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

int fp_text_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
