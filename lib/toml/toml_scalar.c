/* toml_scalar.c: the scalar tokens of the TOML reader that are not strings
 * (toml_scan.c reads those): booleans, integers in four bases, floats with
 * inf and nan, and the four kinds of date-time, each checked whole (digits,
 * underscores between digits only, ranges of every date-time field) before
 * it becomes a node. A token is the run of bytes that can belong to a
 * scalar; classifying it never reads past it. */
#include "toml/toml_internal.h"
#include "base/text.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool fp__toml_scalar_start(int c)
{
    return is_digit(c) || c == '+' || c == '-' || c == 't' || c == 'f' || c == 'i' || c == 'n';
}

static bool token_byte(int c)
{
    return is_digit(c) || is_alpha(c) || c == '_' || c == '+' || c == '-' || c == '.' || c == ':';
}

/* A scalar token being classified: text t of n bytes at offset off. */
typedef struct token_s {
    const char *t;
    size_t n;
    size_t off;
} token_t;

static int token_fail(fp__toml_parser_t *p, const token_t *tk, size_t i, const char *what)
{
    char d[48];
    return fp__toml_fail(p, tk->off + i, FP_ETOML, "%s: unexpected %s", what,
                         fp__toml_describe(p, tk->off + i, d, sizeof d));
}

static bool radix_digit(int c, int radix)
{
    if (radix == 16)
        return fp_text_hex_value(c) >= 0;
    return c >= '0' && c < '0' + radix;
}

/* Digits of the given radix from *ip, with underscores only between digits. */
static int scan_digits(fp__toml_parser_t *p, const token_t *tk, size_t *ip, int radix,
                       const char *what)
{
    size_t i = *ip;
    if (i >= tk->n || !radix_digit((unsigned char)tk->t[i], radix))
        return token_fail(p, tk, i, what);
    for (;;) {
        while (i < tk->n && radix_digit((unsigned char)tk->t[i], radix))
            i++;
        if (i >= tk->n || tk->t[i] != '_')
            break;
        if (i + 1 >= tk->n || !radix_digit((unsigned char)tk->t[i + 1], radix))
            return fp__toml_fail(p, tk->off + i, FP_ETOML, "%s: '_' must be between digits", what);
        i++;
    }
    *ip = i;
    return 0;
}

/* Accumulates digits [from, to) skipping underscores, failing above limit. */
static int accumulate(fp__toml_parser_t *p, const token_t *tk, size_t from, size_t to, int radix,
                      uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t k = from; k < to; k++) {
        if (tk->t[k] == '_')
            continue;
        uint64_t d = (uint64_t)fp_text_hex_value((unsigned char)tk->t[k]);
        if (v > (limit - d) / (uint64_t)radix)
            return fp__toml_fail(p, tk->off, FP_ETOML, "integer out of 64-bit range");
        v = v * (uint64_t)radix + d;
    }
    *out = v;
    return 0;
}

/* 0x, 0o and 0b integers: unsigned, at most INT64_MAX. */
static int scan_radix(fp__toml_parser_t *p, const token_t *tk, fp_toml_node_t *node)
{
    int radix = tk->t[1] == 'x' ? 16 : tk->t[1] == 'o' ? 8 : 2;
    const char *what = radix == 16 ? "invalid hexadecimal integer"
                       : radix == 8 ? "invalid octal integer" : "invalid binary integer";
    size_t i = 2;
    int rc = scan_digits(p, tk, &i, radix, what);
    if (rc < 0)
        return rc;
    if (i < tk->n)
        return token_fail(p, tk, i, what);
    uint64_t v = 0; /* set by accumulate; the optimiser of a Release build cannot tell */
    if ((rc = accumulate(p, tk, 2, i, radix, INT64_MAX, &v)) < 0)
        return rc;
    node->type = FP_TOML_INTEGER;
    node->u.integer = (int64_t)v;
    return 0;
}

static int finish_integer(fp__toml_parser_t *p, const token_t *tk, size_t from, size_t to, bool neg,
                          fp_toml_node_t *node)
{
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    int rc = accumulate(p, tk, from, to, 10, limit, &v);
    if (rc < 0)
        return rc;
    node->type = FP_TOML_INTEGER;
    if (!neg)
        node->u.integer = (int64_t)v;
    else
        node->u.integer = v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
    return 0;
}

/* strtod does the rounding; the token has been validated already, so only
 * the underscores need removing. Overflow to infinity is refused: a literal
 * that large is a mistake, and inf is there to be written as such. */
static int finish_float(fp__toml_parser_t *p, const token_t *tk, fp_toml_node_t *node)
{
    p->buf_len = 0;
    int rc = fp__toml_buf_reserve(p, tk->n);
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < tk->n; k++)
        if (tk->t[k] != '_')
            p->buf[p->buf_len++] = tk->t[k];
    p->buf[p->buf_len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(p->buf, &end);
    if (end != p->buf + p->buf_len)
        return fp__toml_fail(p, tk->off, FP_ETOML, "invalid float");
    if (errno == ERANGE && isinf(v))
        return fp__toml_fail(p, tk->off, FP_ETOML, "float out of range");
    node->type = FP_TOML_FLOAT;
    node->u.real = v;
    return 0;
}

static int scan_number(fp__toml_parser_t *p, const token_t *tk, fp_toml_node_t *node)
{
    const char *t = tk->t;
    size_t i = 0;
    bool neg = false;
    if (t[0] == '+' || t[0] == '-') {
        neg = t[0] == '-';
        i = 1;
    }
    if (tk->n - i == 3 && (memcmp(t + i, "inf", 3) == 0 || memcmp(t + i, "nan", 3) == 0)) {
        node->type = FP_TOML_FLOAT;
        node->u.real = t[i] == 'i' ? INFINITY : NAN;
        node->u.real = neg ? -node->u.real : node->u.real;
        return 0;
    }
    if (i >= tk->n || !is_digit((unsigned char)t[i]))
        return fp__toml_fail(p, tk->off, FP_ETOML,
                             "invalid value \"%.*s\" (not a boolean, number or date-time)",
                             (int)(tk->n < 32 ? tk->n : 32), t);
    if (i == 0 && tk->n > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'o' || t[1] == 'b'))
        return scan_radix(p, tk, node);
    size_t int_start = i;
    int rc = scan_digits(p, tk, &i, 10, "invalid number");
    if (rc < 0)
        return rc;
    if (t[int_start] == '0' && i - int_start > 1)
        return fp__toml_fail(p, tk->off + int_start, FP_ETOML, "leading zero in number");
    size_t int_end = i;
    bool is_float = false;
    if (i < tk->n && t[i] == '.') {
        i++;
        is_float = true;
        if ((rc = scan_digits(p, tk, &i, 10, "invalid float")) < 0)
            return rc;
    }
    if (i < tk->n && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        is_float = true;
        if (i < tk->n && (t[i] == '+' || t[i] == '-'))
            i++;
        if ((rc = scan_digits(p, tk, &i, 10, "invalid float exponent")) < 0)
            return rc;
    }
    if (i < tk->n)
        return token_fail(p, tk, i, is_float ? "invalid float" : "invalid number");
    if (is_float)
        return finish_float(p, tk, node);
    return finish_integer(p, tk, int_start, int_end, neg, node);
}

/* ---- date-times ---- */

static bool digits_at(const token_t *tk, size_t i, size_t count)
{
    if (i + count > tk->n)
        return false;
    for (size_t k = 0; k < count; k++)
        if (!is_digit((unsigned char)tk->t[i + k]))
            return false;
    return true;
}

static int num_at(const token_t *tk, size_t i, size_t count)
{
    int v = 0;
    for (size_t k = 0; k < count; k++)
        v = v * 10 + (tk->t[i + k] - '0');
    return v;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    return month == 2 && leap ? 29 : days[month - 1];
}

/* The time of day parsed so far, with its fraction as written. */
typedef struct time_part_s {
    const char *frac;
    size_t frac_len;
} time_part_t;

static int scan_time(fp__toml_parser_t *p, const token_t *tk, size_t *ip, fp_toml_datetime_t *dt,
                     time_part_t *tp)
{
    size_t i = *ip;
    if (!digits_at(tk, i, 2) || i + 2 >= tk->n || tk->t[i + 2] != ':' || !digits_at(tk, i + 3, 2)
        || i + 5 >= tk->n || tk->t[i + 5] != ':' || !digits_at(tk, i + 6, 2))
        return fp__toml_fail(p, tk->off + i, FP_ETOML, "invalid time: expected HH:MM:SS");
    dt->hour = num_at(tk, i, 2);
    dt->minute = num_at(tk, i + 3, 2);
    dt->second = num_at(tk, i + 6, 2);
    if (dt->hour > 23)
        return fp__toml_fail(p, tk->off + i, FP_ETOML, "hour out of range (00-23)");
    if (dt->minute > 59)
        return fp__toml_fail(p, tk->off + i + 3, FP_ETOML, "minute out of range (00-59)");
    if (dt->second > 60)
        return fp__toml_fail(p, tk->off + i + 6, FP_ETOML, "second out of range (00-60)");
    i += 8;
    if (i < tk->n && tk->t[i] == '.') {
        size_t j = i + 1;
        while (j < tk->n && is_digit((unsigned char)tk->t[j]))
            j++;
        if (j == i + 1)
            return token_fail(p, tk, j, "invalid time fraction");
        tp->frac = tk->t + i + 1;
        tp->frac_len = j - i - 1;
        for (size_t k = 0; k < 9; k++)
            dt->nanosecond = dt->nanosecond * 10 + (k < tp->frac_len ? tp->frac[k] - '0' : 0);
        i = j;
    }
    *ip = i;
    return 0;
}

static int scan_offset(fp__toml_parser_t *p, const token_t *tk, size_t *ip, fp_toml_datetime_t *dt)
{
    size_t i = *ip;
    if (tk->t[i] == 'Z' || tk->t[i] == 'z') {
        *ip = i + 1;
        return 0;
    }
    if ((tk->t[i] != '+' && tk->t[i] != '-') || !digits_at(tk, i + 1, 2) || i + 3 >= tk->n || tk->t[i + 3] != ':' || !digits_at(tk, i + 4, 2))
        return fp__toml_fail(p, tk->off + i, FP_ETOML, "invalid time offset: expected Z or +HH:MM");
    int h = num_at(tk, i + 1, 2), m = num_at(tk, i + 4, 2);
    if (h > 23 || m > 59)
        return fp__toml_fail(p, tk->off + i, FP_ETOML, "time offset out of range");
    dt->offset_minutes = (tk->t[i] == '-' ? -1 : 1) * (h * 60 + m);
    *ip = i + 6;
    return 0;
}

static char *put_num(char *o, int v, int width)
{
    for (int k = width - 1; k >= 0; k--, v /= 10)
        o[k] = (char)('0' + v % 10);
    return o + width;
}

/* Writes the canonical text. The fraction keeps the digits as written, as
 * many as fit beside the longest date-time and offset. */
static void format_datetime(fp_toml_datetime_t *dt, fp_toml_type_t type, const time_part_t *tp,
                            const char *offset)
{
    char *o = dt->text;
    bool has_date = type != FP_TOML_TIME_LOCAL, has_time = type != FP_TOML_DATE_LOCAL;
    if (has_date) {
        o = put_num(o, dt->year, 4);
        *o++ = '-';
        o = put_num(o, dt->month, 2);
        *o++ = '-';
        o = put_num(o, dt->day, 2);
    }
    if (has_date && has_time)
        *o++ = 'T';
    if (has_time) {
        o = put_num(o, dt->hour, 2);
        *o++ = ':';
        o = put_num(o, dt->minute, 2);
        *o++ = ':';
        o = put_num(o, dt->second, 2);
    }
    if (tp->frac_len > 0) {
        size_t room = sizeof dt->text - (size_t)(o - dt->text) - 1 - 1 - 6;
        size_t n = tp->frac_len < room ? tp->frac_len : room;
        *o++ = '.';
        memcpy(o, tp->frac, n);
        o += n;
    }
    if (offset != NULL && (offset[0] == 'Z' || offset[0] == 'z')) {
        *o++ = 'Z';
    } else if (offset != NULL) {
        memcpy(o, offset, 6);
        o += 6;
    }
    *o = '\0';
}

static int finish_datetime(fp__toml_parser_t *p, fp_toml_node_t *node, fp_toml_type_t type,
                           const fp_toml_datetime_t *dt, const time_part_t *tp, const char *offset)
{
    fp_toml_datetime_t *copy = malloc(sizeof *copy);
    if (copy == NULL)
        return fp__toml_nomem(p);
    *copy = *dt;
    format_datetime(copy, type, tp, offset);
    node->type = type;
    node->u.datetime = copy;
    return 0;
}

static int scan_local_time(fp__toml_parser_t *p, const token_t *tk, fp_toml_node_t *node)
{
    fp_toml_datetime_t dt = {0};
    time_part_t tp = {0};
    size_t i = 0;
    int rc = scan_time(p, tk, &i, &dt, &tp);
    if (rc < 0)
        return rc;
    if (i < tk->n)
        return token_fail(p, tk, i, "invalid local time");
    return finish_datetime(p, node, FP_TOML_TIME_LOCAL, &dt, &tp, NULL);
}

static int scan_date(fp__toml_parser_t *p, const token_t *tk, fp_toml_datetime_t *dt)
{
    if (!digits_at(tk, 0, 4) || tk->n < 10 || tk->t[4] != '-' || !digits_at(tk, 5, 2)
        || tk->t[7] != '-' || !digits_at(tk, 8, 2))
        return fp__toml_fail(p, tk->off, FP_ETOML, "invalid date: expected YYYY-MM-DD");
    dt->year = num_at(tk, 0, 4);
    dt->month = num_at(tk, 5, 2);
    dt->day = num_at(tk, 8, 2);
    if (dt->month < 1 || dt->month > 12)
        return fp__toml_fail(p, tk->off + 5, FP_ETOML, "month out of range (01-12)");
    if (dt->day < 1 || dt->day > days_in_month(dt->year, dt->month))
        return fp__toml_fail(p, tk->off + 8, FP_ETOML, "day out of range for the month");
    return 0;
}

static int scan_datetime(fp__toml_parser_t *p, const token_t *tk, fp_toml_node_t *node)
{
    fp_toml_datetime_t dt = {0};
    time_part_t tp = {0};
    int rc = scan_date(p, tk, &dt);
    if (rc < 0)
        return rc;
    if (tk->n == 10)
        return finish_datetime(p, node, FP_TOML_DATE_LOCAL, &dt, &tp, NULL);
    char sep = tk->t[10];
    if (sep != 'T' && sep != 't' && sep != ' ')
        return token_fail(p, tk, 10, "invalid date");
    size_t i = 11;
    if ((rc = scan_time(p, tk, &i, &dt, &tp)) < 0)
        return rc;
    if (i == tk->n)
        return finish_datetime(p, node, FP_TOML_DATETIME_LOCAL, &dt, &tp, NULL);
    const char *offset = tk->t + i;
    if ((rc = scan_offset(p, tk, &i, &dt)) < 0)
        return rc;
    if (i < tk->n)
        return token_fail(p, tk, i, "invalid date-time");
    return finish_datetime(p, node, FP_TOML_DATETIME, &dt, &tp, offset);
}

/* The token is the longest run of characters a scalar may hold; a date
 * followed by a space and something shaped like a time takes that too,
 * since TOML allows a space instead of the T. */
static token_t scalar_token(const fp__toml_parser_t *p)
{
    const char *s = p->src;
    size_t start = p->pos, end = start;
    while (end < p->len && token_byte((unsigned char)s[end]))
        end++;
    token_t tk = {s + start, end - start, start};
    if (tk.n == 10 && digits_at(&tk, 0, 4) && s[start + 4] == '-' && end + 3 < p->len
        && s[end] == ' ' && is_digit((unsigned char)s[end + 1])
        && is_digit((unsigned char)s[end + 2]) && s[end + 3] == ':') {
        end++;
        while (end < p->len && token_byte((unsigned char)s[end]))
            end++;
        tk.n = end - start;
    }
    return tk;
}

int fp__toml_scan_scalar(fp__toml_parser_t *p, fp_toml_node_t *node)
{
    token_t tk = scalar_token(p);
    p->pos = tk.off + tk.n;
    if (tk.n == 4 && memcmp(tk.t, "true", 4) == 0) {
        node->type = FP_TOML_BOOL;
        node->u.boolean = true;
        return 0;
    }
    if (tk.n == 5 && memcmp(tk.t, "false", 5) == 0) {
        node->type = FP_TOML_BOOL;
        node->u.boolean = false;
        return 0;
    }
    if (digits_at(&tk, 0, 2) && tk.n > 2 && tk.t[2] == ':')
        return scan_local_time(p, &tk, node);
    if (digits_at(&tk, 0, 4) && tk.n > 4 && tk.t[4] == '-')
        return scan_datetime(p, &tk, node);
    return scan_number(p, &tk, node);
}
