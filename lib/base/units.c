/* units.c: durations ("1h30m", "250ms") and sizes ("256MB") as people write
 * them, to and from int64 milliseconds and bytes. Both directions are driven
 * by one unit table each, so the parser and the formatter cannot disagree.
 * The parsers are strict on purpose: a configuration value that could mean
 * two things (a bare "30", "1.5s", " 5s", "30m1h") is an error with a reason,
 * not a guess, and every multiplication and addition is overflow-checked so
 * that no input can wrap into a small or negative value. */
#include "base/units.h"

#include "base/text.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct unit_s {
    const char *name;
    int64_t factor;
} unit_t;

/* Largest first: a compound duration must list its units in this order, and
 * the formatter emits them in it. */
static const unit_t duration_units[] = {
    {"d", INT64_C(86400000)}, {"h", INT64_C(3600000)}, {"m", INT64_C(60000)},
    {"s", INT64_C(1000)},     {"ms", INT64_C(1)},
};

/* Powers of 1024; the IEC spellings are aliases of the same factors. The
 * formatter uses the first spelling of each factor, largest first. */
static const unit_t size_units[] = {
    {"TB", INT64_C(1) << 40}, {"GB", INT64_C(1) << 30}, {"MB", INT64_C(1) << 20},
    {"KB", INT64_C(1) << 10}, {"B", INT64_C(1)},        {"TiB", INT64_C(1) << 40},
    {"GiB", INT64_C(1) << 30}, {"MiB", INT64_C(1) << 20}, {"KiB", INT64_C(1) << 10},
};

#define N_DURATION_UNITS (sizeof duration_units / sizeof duration_units[0])
#define N_SIZE_UNITS (sizeof size_units / sizeof size_units[0])
#define N_SIZE_FORMAT_UNITS 5 /* TB..B: the canonical spellings */

/* Messages quote the input, which may be a 10 MB line full of control
 * characters: show a bounded, printable prefix. */
static void quote(char *buf, size_t size, const char *text)
{
    fp_text_quote(buf, size, text, 48);
}

static int fail(fp_err_t *err, const char *what, const char *text, const char *reason)
{
    char q[128];
    quote(q, sizeof q, text);
    return fp_err_set(err, FP_ECONFIG, "invalid %s %s: %s", what, q, reason);
}

/* The unit is letters only, so it can be shown as it is (bounded). */
static int unknown_unit(fp_err_t *err, const char *what, const char *text, const char *unit,
                        size_t len, const char *known)
{
    char reason[128];
    snprintf(reason, sizeof reason, "unknown unit \"%.*s\"; use %s", (int)(len > 16 ? 16 : len),
             unit, known);
    return fail(err, what, text, reason);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Reads decimal digits at *p into *out; false on overflow of int64. */
static bool read_number(const char **p, int64_t *out)
{
    int64_t n = 0;
    for (; is_digit(**p); (*p)++) {
        int d = **p - '0';
        if (n > (INT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

/* The letters at *p, advancing past them. */
static size_t read_unit(const char **p)
{
    const char *start = *p;
    while (is_alpha(**p))
        (*p)++;
    return (size_t)(*p - start);
}

/* The reason a character cannot start a number here, for messages. */
static const char *bad_start_reason(char c, const char *what)
{
    if (c == '-')
        return strcmp(what, "duration") == 0 ? "negative durations are not allowed"
                                             : "negative sizes are not allowed";
    if (is_space(c))
        return "spaces are not allowed";
    return "expected a number";
}

static int find_duration_unit(const char *u, size_t len)
{
    for (size_t i = 0; i < N_DURATION_UNITS; i++)
        if (strlen(duration_units[i].name) == len && memcmp(duration_units[i].name, u, len) == 0)
            return (int)i;
    return -1;
}

static int find_size_unit(const char *u, size_t len)
{
    for (size_t i = 0; i < N_SIZE_UNITS; i++)
        if (strlen(size_units[i].name) == len && strncasecmp(size_units[i].name, u, len) == 0)
            return (int)i;
    return -1;
}

/* Why the character after a number and its unit is wrong. */
static const char *bad_follow_reason(char c, const char *what)
{
    if (c == '.' || c == ',')
        return strcmp(what, "duration") == 0
                   ? "fractions are not allowed; use a smaller unit (\"1500ms\", not \"1.5s\")"
                   : "fractions are not allowed; use a smaller unit (\"1536MB\", not \"1.5GB\")";
    if (is_space(c))
        return "spaces are not allowed";
    return bad_start_reason(c, what);
}

/* One "<number><unit>" group of a duration; *rank is the index of the last
 * unit used, so units only ever get smaller. */
static int duration_group(const char *text, const char **p, int *rank, int64_t *total,
                          fp_err_t *err)
{
    int64_t n;
    if (!is_digit(**p))
        return fail(err, "duration", text, bad_start_reason(**p, "duration"));
    if (!read_number(p, &n))
        return fail(err, "duration", text, "too large");
    const char *u = *p;
    size_t ulen = read_unit(p);
    if (ulen == 0) {
        if (**p != '\0')
            return fail(err, "duration", text, bad_follow_reason(**p, "duration"));
        if (*rank < 0 && n == 0)
            return 0; /* a plain "0" is unambiguous */
        return fail(err, "duration", text,
                    *rank < 0 ? "a number needs a unit: ms, s, m, h or d (\"30s\")"
                              : "the last number has no unit");
    }
    int i = find_duration_unit(u, ulen);
    if (i < 0)
        return unknown_unit(err, "duration", text, u, ulen, "ms, s, m, h or d (lower case)");
    if (i <= *rank)
        return fail(err, "duration", text,
                    "units must go from largest to smallest, each at most once (\"1h30m\")");
    *rank = i;
    if (n > (INT64_MAX - *total) / duration_units[i].factor)
        return fail(err, "duration", text, "too large");
    *total += n * duration_units[i].factor;
    return 0;
}

int fp_units_parse_duration_ms(const char *text, int64_t *out_ms, fp_err_t *err)
{
    if (text == NULL || *text == '\0')
        return fp_err_set(err, FP_ECONFIG, "invalid duration \"\": empty");
    const char *p = text;
    int rank = -1;
    int64_t total = 0;
    while (*p != '\0') {
        int rc = duration_group(text, &p, &rank, &total, err);
        if (rc < 0)
            return rc;
    }
    *out_ms = total;
    return 0;
}

int fp_units_parse_size_bytes(const char *text, int64_t *out_bytes, fp_err_t *err)
{
    if (text == NULL || *text == '\0')
        return fp_err_set(err, FP_ECONFIG, "invalid size \"\": empty");
    const char *p = text;
    int64_t n;
    if (!is_digit(*p))
        return fail(err, "size", text, bad_start_reason(*p, "size"));
    if (!read_number(&p, &n))
        return fail(err, "size", text, "too large");
    const char *u = p;
    size_t ulen = read_unit(&p);
    if (ulen == 0 && *p != '\0')
        return fail(err, "size", text, bad_follow_reason(*p, "size"));
    int64_t factor = 1;
    if (ulen > 0) {
        int i = find_size_unit(u, ulen);
        if (i < 0)
            return unknown_unit(err, "size", text, u, ulen, "B, KB, MB, GB or TB");
        factor = size_units[i].factor;
    }
    if (*p != '\0')
        return fail(err, "size", text,
                    is_space(*p) ? "spaces are not allowed" : "one number and one unit only");
    if (n > INT64_MAX / factor)
        return fail(err, "size", text, "too large");
    *out_bytes = n * factor;
    return 0;
}

/* Negative values are not valid configuration, but formatting one must still
 * be exact (including INT64_MIN), so work on the magnitude. */
static uint64_t magnitude(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

int fp_units_format_duration(int64_t ms, char *buf, size_t size)
{
    if (ms == 0)
        return snprintf(buf, size, "0s");
    char tmp[64];
    size_t n = 0;
    uint64_t left = magnitude(ms);
    if (ms < 0)
        tmp[n++] = '-';
    for (size_t i = 0; i < N_DURATION_UNITS; i++) {
        uint64_t f = (uint64_t)duration_units[i].factor;
        if (left / f == 0)
            continue;
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%" PRIu64 "%s", left / f,
                              duration_units[i].name);
        left %= f;
    }
    return snprintf(buf, size, "%s", tmp);
}

int fp_units_format_size(int64_t bytes, char *buf, size_t size)
{
    uint64_t m = magnitude(bytes);
    const char *sign = bytes < 0 ? "-" : "";
    if (m == 0)
        return snprintf(buf, size, "0B");
    for (size_t i = 0; i < N_SIZE_FORMAT_UNITS; i++) {
        uint64_t f = (uint64_t)size_units[i].factor;
        if (m % f == 0)
            return snprintf(buf, size, "%s%" PRIu64 "%s", sign, m / f, size_units[i].name);
    }
    return snprintf(buf, size, "%s%" PRIu64 "B", sign, m); /* not reached: B divides all */
}

void fp_units_format_age(long long ms, char *out, size_t cap)
{
    if (ms < 0)
        snprintf(out, cap, "-");
    else if (ms < 1000)
        snprintf(out, cap, "%lldms", ms);
    else if (ms < 60000)
        snprintf(out, cap, "%.1fs", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(out, cap, "%lldm%02llds", ms / 60000, ms / 1000 % 60);
    else if (ms < 86400000)
        snprintf(out, cap, "%lldh%02lldm", ms / 3600000, ms / 60000 % 60);
    else
        snprintf(out, cap, "%lldd%02lldh", ms / 86400000, ms / 3600000 % 24);
}
