/* field.c: Redis field values as numbers, UTC times and JSON members, for
 * the commands that print jobs read from Redis (dead, job). Moved out of
 * cmd_dead.c so that both print a payload the same way. */
#include "field.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "base/utf8.h"

bool fp_field_int(const fp_admin_field_t *f, int64_t *out)
{
    if (f->s == NULL || f->len == 0 || f->len != strlen(f->s))
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(f->s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

bool fp_field_iso_ms(int64_t ms, char *out, size_t cap)
{
    struct tm tm;
    if (ms < 0)
        return false;
    time_t sec = (time_t)(ms / 1000);
    if (gmtime_r(&sec, &tm) == NULL)
        return false;
    /* Years past 9999 would not fit: say so rather than cut the text. */
    int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return n > 0 && (size_t)n < cap;
}

bool fp_field_iso(const fp_admin_field_t *f, char *out, size_t cap)
{
    int64_t ms;
    return fp_field_int(f, &ms) && fp_field_iso_ms(ms, out, cap);
}

/* s as a C string for JSON: invalid UTF-8 and NUL bytes become U+FFFD, so
 * every line printed is valid JSON whatever Redis holds. Owned. */
static char *lossy_utf8(const char *s, size_t len)
{
    static const char replacement[] = "\xef\xbf\xbd";
    char *out = malloc(len * 3 + 1);
    size_t n = 0;
    for (size_t i = 0; out != NULL && i < len;) {
        size_t ok = fp_utf8_valid_prefix(s + i, len - i);
        for (size_t k = 0; k < ok; k++) {
            if (s[i + k] == '\0') {
                memcpy(out + n, replacement, 3);
                n += 3;
            } else {
                out[n++] = s[i + k];
            }
        }
        i += ok;
        if (i < len) {
            memcpy(out + n, replacement, 3);
            n += 3;
            i++;
        }
    }
    if (out != NULL)
        out[n] = '\0';
    return out;
}

/* One JSON number token at p in strict JSON grammar; returns its end, or
 * NULL (cJSON also takes "01" and "1.", which other parsers refuse). */
static const char *strict_number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return NULL;
    if (*p == '0')
        p++;
    else
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    if (p < end && *p == '.') {
        const char *digits = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == digits)
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        const char *digits = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == digits)
            return NULL;
    }
    return p;
}

/* JSON text s (accepted by fp_json_parse, valid UTF-8) without whitespace
 * between tokens, byte for byte otherwise (numbers keep every digit). NULL
 * when it is not strict JSON (raw control bytes in strings, loose numbers)
 * or on ENOMEM: the caller then prints cJSON's re-encoding instead. */
static char *minify(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    const char *p = s, *end = s + len;
    size_t n = 0;
    while (out != NULL && p < end) {
        const char *q = p + 1;
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            p++;
            continue;
        }
        if (*p == '"') {
            q = fp_json_skip_string(p, end);
            bool raw_control = false;
            for (const char *k = p; k < q; k++)
                raw_control |= (unsigned char)*k < 0x20;
            if (raw_control)
                q = NULL;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            q = strict_number(p, end);
        }
        if (q == NULL) {
            free(out);
            return NULL;
        }
        memcpy(out + n, p, (size_t)(q - p));
        n += (size_t)(q - p);
        p = q;
    }
    if (out != NULL)
        out[n] = '\0';
    return out;
}

/* The job member for --json: the payload itself when it is JSON, else the
 * text as a string. */
cJSON *fp_field_json_job(const fp_admin_field_t *f)
{
    if (f->s == NULL)
        return cJSON_CreateNull();
    cJSON *parsed = fp_utf8_valid(f->s, f->len) ? fp_json_parse(f->s, f->len) : NULL;
    if (parsed == NULL) {
        char *text = lossy_utf8(f->s, f->len);
        cJSON *str = text != NULL ? cJSON_CreateString(text) : NULL;
        free(text);
        return str;
    }
    char *raw = minify(f->s, f->len);
    if (raw == NULL)
        return parsed;
    cJSON_Delete(parsed);
    cJSON *item = cJSON_CreateRaw(raw);
    free(raw);
    return item;
}

/* A field as a string, null when absent. */
cJSON *fp_field_json_text(const fp_admin_field_t *f)
{
    if (f->s == NULL)
        return cJSON_CreateNull();
    char *text = lossy_utf8(f->s, f->len);
    cJSON *item = text != NULL ? cJSON_CreateString(text) : NULL;
    free(text);
    return item;
}

/* A field as a whole number when it is one, else as json_text. */
cJSON *fp_field_json_int(const fp_admin_field_t *f)
{
    int64_t v;
    if (!fp_field_int(f, &v))
        return fp_field_json_text(f);
    return fp_json_whole((long long)v);
}
