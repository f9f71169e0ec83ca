/* text.c: quoting outside text for messages, reasons, hashing names, and
 * hex digits. */
#include "base/text.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fp_text_quote(char *buf, size_t size, const char *s, size_t max_chars)
{
    /* Only what can be shown is measured: s may be a 10 MB line. */
    return fp_text_quote_n(buf, size, s, strnlen(s, max_chars + 1), max_chars);
}

const char *fp_text_quote_n(char *buf, size_t size, const char *s, size_t len, size_t max_chars)
{
    size_t n = 0;
    buf[n++] = '"';
    for (size_t i = 0; i < len && n + 8 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= max_chars) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
        else
            buf[n++] = (char)c;
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

int fp_text_why(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return -1;
}

uint64_t fp_text_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

bool fp_text_int_in(const char *s, size_t n, long min, long max, int *out)
{
    if (n == 0 || n > 10)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

const char *fp_text_code_says(const char *msg, size_t n, const fp_text_code_t *table,
                              size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(table[i].code);
        if (n >= len && memcmp(msg, table[i].code, len) == 0 && (n == len || msg[len] == ' '))
            return table[i].says;
    }
    return NULL;
}

char *fp_text_i64_dup(int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, v);
    return strdup(text);
}
