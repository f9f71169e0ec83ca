/* ui_query.c: one argument of a query string (ui_query.h). */
#include "http/ui_query.h"

#include <string.h>

#include "base/text.h"

/* Decodes s[0..len) into out; false when it does not fit or is malformed,
 * or holds a control byte (ids and queue names never do; logs must not get
 * a forged line). */
static bool decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len)
                return false;
            int h = fp_text_hex_value(s[i + 1]), l = fp_text_hex_value(s[i + 2]);
            if (h < 0 || l < 0)
                return false;
            c = h * 16 + l;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || n + 1 >= cap)
            return false;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return true;
}

bool fp_ui_query_get(const char *query, const char *name, char *out, size_t cap)
{
    size_t name_len = strlen(name);
    const char *p = query;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > name_len && p[name_len] == '=' && memcmp(p, name, name_len) == 0)
            return decode(p + name_len + 1, len - name_len - 1, out, cap);
        p = end != NULL ? end + 1 : NULL;
    }
    return false;
}
