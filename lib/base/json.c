/* json.c: cJSON with the strictness outside input needs. */
#include "base/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

cJSON *fp_json_parse(const char *text, size_t len)
{
    return fp_json_parse_at(text, len, NULL);
}

cJSON *fp_json_parse_at(const char *text, size_t len, size_t *bad_at)
{
    size_t at_dummy;
    size_t *at = bad_at != NULL ? bad_at : &at_dummy;
    *at = 0;
    if (len == 0)
        return NULL;
    const char *nul = memchr(text, '\0', len);
    if (nul != NULL) {
        *at = (size_t)(nul - text);
        return NULL;
    }
    const char *end = NULL;
    cJSON *value = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (value == NULL) {
        /* cJSON reports where it stopped; keep it inside the input. */
        *at = end != NULL && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        return NULL;
    }
    for (const char *p = end; p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            *at = (size_t)(p - text);
            cJSON_Delete(value);
            return NULL;
        }
    }
    return value;
}

int fp_json_append_string(fp_buf_t *out, const char *s, size_t len)
{
    int rc = fp_buf_append(out, "\"", 1);
    size_t plain = 0; /* start of the run of bytes copied as they are */
    for (size_t i = 0; rc == 0 && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '"' && c != '\\' && c >= 0x20)
            continue;
        char esc[8];
        int n;
        if (c >= 0x20)
            n = snprintf(esc, sizeof esc, "\\%c", c);
        else if (c >= '\b' && c <= '\r' && c != '\v')
            n = snprintf(esc, sizeof esc, "\\%c", "btnvfr"[c - '\b']);
        else
            n = snprintf(esc, sizeof esc, "\\u%04x", c);
        rc = fp_buf_append(out, s + plain, i - plain);
        if (rc == 0)
            rc = fp_buf_append(out, esc, (size_t)n);
        plain = i + 1;
    }
    if (rc == 0)
        rc = fp_buf_append(out, s + plain, len - plain);
    if (rc == 0)
        rc = fp_buf_append(out, "\"", 1);
    return rc;
}

cJSON *fp_json_text(const char *s)
{
    char *valid = fp_utf8_lossy(s);
    cJSON *item = valid != NULL ? cJSON_CreateString(valid) : NULL;
    free(valid);
    return item;
}

cJSON *fp_json_whole(long long v)
{
    char digits[24];
    snprintf(digits, sizeof digits, "%lld", v);
    return cJSON_CreateRaw(digits);
}

const char *fp_json_skip_string(const char *p, const char *end)
{
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\')
            p++;
    return p < end ? p + 1 : end;
}
