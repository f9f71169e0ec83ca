/* toml_scan.c: the lexical layer of the TOML reader. It owns everything that
 * looks at bytes: line:column bookkeeping and error reports, UTF-8 validation,
 * comments and newlines, the four kinds of strings with their escapes, and
 * scalar tokens (booleans, integers in four bases, floats, the four kinds of
 * date-time). It never builds structure: toml_parse.c decides where a value
 * goes. Every loop moves forward through the input, so scanning is linear. */
#include "toml/toml_internal.h"
#include "base/text.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns count characters, not bytes: a UTF-8 continuation byte does not
 * advance them. Asking for an offset behind the cache rescans from the start,
 * which happens only for error reports. */
void fp__toml_where(fp__toml_parser_t *p, size_t off, int *line, int *col)
{
    if (off > p->len)
        off = p->len;
    if (off < p->at_off) {
        p->at_off = 0;
        p->at_line = 1;
        p->at_col = 1;
    }
    int l = p->at_line, c = p->at_col;
    for (size_t i = p->at_off; i < off; i++) {
        unsigned char ch = (unsigned char)p->src[i];
        if (ch == '\n') {
            l += l < INT_MAX;
            c = 1;
        } else if ((ch & 0xC0) != 0x80 && c < INT_MAX) {
            c++;
        }
    }
    p->at_off = off;
    p->at_line = l;
    p->at_col = c;
    *line = l;
    *col = c;
}

static int vfail(fp__toml_parser_t *p, int line, int col, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static int vfail(fp__toml_parser_t *p, int line, int col, int code, const char *fmt, va_list ap)
{
    char msg[FP_ERR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return fp_err_set_at(p->err, code, line, col, "%s", msg);
}

int fp__toml_fail(fp__toml_parser_t *p, size_t off, int code, const char *fmt, ...)
{
    int line, col;
    fp__toml_where(p, off, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(p, line, col, code, fmt, ap);
    va_end(ap);
    return rc;
}

int fp__toml_fail_at(fp__toml_parser_t *p, int line, int col, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(p, line, col, code, fmt, ap);
    va_end(ap);
    return rc;
}

static int nomem(fp__toml_parser_t *p)
{
    return fp__toml_fail(p, p->pos, -ENOMEM, "out of memory");
}

size_t fp__toml_utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xBF;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : lo; /* overlong */
        hi = c == 0xED ? 0x9F : hi; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : lo; /* overlong */
        hi = c == 0xF4 ? 0x8F : hi; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* Names the character at off for a message: "'x'", "newline", "end of input". */
const char *fp__toml_describe(const fp__toml_parser_t *p, size_t off, char *buf, size_t size)
{
    if (off >= p->len)
        return "end of input";
    const unsigned char *s = (const unsigned char *)p->src + off;
    switch (s[0]) {
    case '\n': return "newline";
    case '\r': return "carriage return";
    case '\t': return "tab";
    case '\0': return "NUL byte";
    case '\'': return "\"'\"";
    default: break;
    }
    if (s[0] >= 0x20 && s[0] < 0x7F) {
        snprintf(buf, size, "'%c'", s[0]);
    } else if (s[0] < 0x80) {
        snprintf(buf, size, "control character U+%04X", s[0]);
    } else {
        size_t n = fp__toml_utf8_len(s, p->len - off);
        if (n == 0)
            snprintf(buf, size, "invalid UTF-8 byte 0x%02X", s[0]);
        else
            snprintf(buf, size, "'%.*s'", (int)n, (const char *)s);
    }
    return buf;
}

int fp__toml_skip_newline(fp__toml_parser_t *p)
{
    if (p->pos >= p->len)
        return 0;
    if (p->src[p->pos] == '\n') {
        p->pos++;
        return 1;
    }
    if (p->src[p->pos] != '\r')
        return 0;
    if (p->pos + 1 < p->len && p->src[p->pos + 1] == '\n') {
        p->pos += 2;
        return 1;
    }
    return fp__toml_fail(p, p->pos, FP_ETOML, "carriage return without line feed");
}

/* A comment runs to the end of the line; only tab among the control
 * characters is allowed in it, and it must be valid UTF-8. */
int fp__toml_skip_comment(fp__toml_parser_t *p)
{
    const unsigned char *s = (const unsigned char *)p->src;
    size_t i = p->pos + 1;
    char d[48];
    while (i < p->len) {
        unsigned char c = s[i];
        if (c == '\n' || (c == '\r' && i + 1 < p->len && s[i + 1] == '\n'))
            break;
        if (c >= 0x80) {
            size_t n = fp__toml_utf8_len(s + i, p->len - i);
            if (n == 0)
                return fp__toml_fail(p, i, FP_ETOML, "invalid UTF-8 in comment");
            i += n;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return fp__toml_fail(p, i, FP_ETOML, "%s in comment",
                                 fp__toml_describe(p, i, d, sizeof d));
        i++;
    }
    p->pos = i;
    return 0;
}

/* ---- strings ---- */

/* Keeps one spare byte so the decoded text can always be NUL-terminated, and
 * keeps buf non-NULL even for empty strings. */
static int buf_reserve(fp__toml_parser_t *p, size_t extra)
{
    if (p->buf != NULL && p->buf_cap - p->buf_len > extra)
        return 0;
    size_t cap = p->buf_cap ? p->buf_cap : 64;
    while (cap - p->buf_len <= extra) {
        if (cap > SIZE_MAX / 2)
            return nomem(p);
        cap *= 2;
    }
    char *nb = realloc(p->buf, cap);
    if (nb == NULL)
        return nomem(p);
    p->buf = nb;
    p->buf_cap = cap;
    return 0;
}

static int buf_put(fp__toml_parser_t *p, const char *s, size_t n)
{
    int rc = buf_reserve(p, n);
    if (rc < 0)
        return rc;
    memcpy(p->buf + p->buf_len, s, n);
    p->buf_len += n;
    p->buf[p->buf_len] = '\0';
    return 0;
}

static int put_utf8(fp__toml_parser_t *p, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_put(p, b, n);
}


/* Decodes the escape at *ip (a backslash) and moves *ip past it. */
static int scan_escape(fp__toml_parser_t *p, size_t *ip)
{
    static const char simple_from[] = "btnfr\"\\";
    static const char simple_to[] = "\b\t\n\f\r\"\\";
    size_t i = *ip;
    char d[48];
    if (i + 1 >= p->len)
        return fp__toml_fail(p, i + 1, FP_ETOML, "unterminated string");
    char e = p->src[i + 1];
    const char *hit = e != '\0' ? strchr(simple_from, e) : NULL;
    if (hit != NULL) {
        *ip = i + 2;
        return buf_put(p, &simple_to[hit - simple_from], 1);
    }
    if (e != 'u' && e != 'U')
        return fp__toml_fail(p, i, FP_ETOML, "invalid escape sequence: backslash before %s",
                             fp__toml_describe(p, i + 1, d, sizeof d));
    size_t n = e == 'u' ? 4 : 8;
    uint32_t cp = 0;
    for (size_t k = 0; k < n; k++) {
        size_t at = i + 2 + k;
        int v = at < p->len ? fp_text_hex_value((unsigned char)p->src[at]) : -1;
        if (v < 0)
            return fp__toml_fail(p, at, FP_ETOML, "\\%c escape needs %zu hex digits, found %s", e,
                                 n, fp__toml_describe(p, at, d, sizeof d));
        cp = cp * 16 + (uint32_t)v;
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return fp__toml_fail(p, i, FP_ETOML, "\\%c%.*s is not a Unicode scalar value", e, (int)n,
                             p->src + i + 2);
    *ip = i + 2 + n;
    return put_utf8(p, cp);
}

/* Bytes copied as they are: printable ASCII and tab, except the quote and,
 * in basic strings, the backslash. */
static bool plain_byte(unsigned char c, char quote)
{
    if (c == '\t')
        return true;
    return c >= 0x20 && c < 0x7F && c != (unsigned char)quote && !(c == '\\' && quote == '"');
}

/* Copies the plain run starting at *ip; returns the first other byte's index. */
static int copy_plain(fp__toml_parser_t *p, size_t *ip, char quote)
{
    const unsigned char *s = (const unsigned char *)p->src;
    size_t i = *ip, start = i;
    while (i < p->len && plain_byte(s[i], quote))
        i++;
    *ip = i;
    return i > start ? buf_put(p, p->src + start, i - start) : 0;
}

/* Handles a byte that is neither plain, a quote, a backslash nor a newline:
 * a UTF-8 sequence is checked and copied, anything else is an error. */
static int copy_other(fp__toml_parser_t *p, size_t *ip)
{
    const unsigned char *s = (const unsigned char *)p->src;
    size_t i = *ip;
    char d[48];
    if (s[i] >= 0x80) {
        size_t n = fp__toml_utf8_len(s + i, p->len - i);
        if (n == 0)
            return fp__toml_fail(p, i, FP_ETOML, "invalid UTF-8 in string");
        *ip = i + n;
        return buf_put(p, p->src + i, n);
    }
    return fp__toml_fail(p, i, FP_ETOML, "%s in string", fp__toml_describe(p, i, d, sizeof d));
}

static int scan_single_line(fp__toml_parser_t *p, char quote)
{
    size_t i = p->pos + 1;
    int rc;
    for (;;) {
        if ((rc = copy_plain(p, &i, quote)) < 0)
            return rc;
        if (i >= p->len)
            return fp__toml_fail(p, i, FP_ETOML, "unterminated string");
        char c = p->src[i];
        if (c == quote) {
            p->pos = i + 1;
            return 0;
        }
        if (c == '\\')
            rc = scan_escape(p, &i);
        else if (c == '\n' || c == '\r')
            rc = fp__toml_fail(p, i, FP_ETOML, "unterminated string (newline before the quote)");
        else
            rc = copy_other(p, &i);
        if (rc < 0)
            return rc;
    }
}

/* A backslash at the end of a line (trailing blanks allowed) swallows every
 * space, tab and newline up to the next other character. Returns 1 if it
 * was one, 0 if the backslash starts an ordinary escape. */
static int line_ending_backslash(fp__toml_parser_t *p, size_t *ip)
{
    const char *s = p->src;
    size_t j = *ip + 1;
    while (j < p->len && (s[j] == ' ' || s[j] == '\t'))
        j++;
    bool nl = j < p->len && (s[j] == '\n' || (s[j] == '\r' && j + 1 < p->len && s[j + 1] == '\n'));
    if (!nl)
        return 0;
    while (j < p->len) {
        if (s[j] == ' ' || s[j] == '\t' || s[j] == '\n')
            j++;
        else if (s[j] == '\r' && j + 1 < p->len && s[j + 1] == '\n')
            j += 2;
        else
            break;
    }
    *ip = j;
    return 1;
}

/* At a run of quotes inside a multi-line string: fewer than three are
 * content; three to five close it, the extra one or two being content. */
static int multiline_quotes(fp__toml_parser_t *p, size_t *ip, char quote, bool *closed)
{
    size_t i = *ip, n = 0;
    while (i + n < p->len && p->src[i + n] == quote)
        n++;
    if (n > 5)
        return fp__toml_fail(p, i + 5, FP_ETOML, "too many quotes at the end of a multi-line string");
    *closed = n >= 3;
    *ip = i + n;
    return buf_put(p, p->src + i, n >= 3 ? n - 3 : n);
}

/* Newlines inside are returned as LF whether written as LF or CRLF; a newline
 * right after the opening delimiter is dropped. */
static int scan_multiline(fp__toml_parser_t *p, char quote)
{
    const char *s = p->src;
    size_t i = p->pos + 3;
    int rc;
    if (i < p->len && s[i] == '\n')
        i++;
    else if (i + 1 < p->len && s[i] == '\r' && s[i + 1] == '\n')
        i += 2;
    for (;;) {
        if ((rc = copy_plain(p, &i, quote)) < 0)
            return rc;
        if (i >= p->len)
            return fp__toml_fail(p, i, FP_ETOML, "unterminated multi-line string");
        char c = s[i];
        if (c == quote) {
            bool closed = false;
            if ((rc = multiline_quotes(p, &i, quote, &closed)) < 0)
                return rc;
            if (closed) {
                p->pos = i;
                return 0;
            }
            continue;
        }
        if (c == '\n' || (c == '\r' && i + 1 < p->len && s[i + 1] == '\n')) {
            i += c == '\r' ? 2 : 1;
            rc = buf_put(p, "\n", 1);
        } else if (c == '\r') {
            rc = fp__toml_fail(p, i, FP_ETOML, "carriage return without line feed");
        } else if (c == '\\') {
            rc = line_ending_backslash(p, &i);
            if (rc == 0)
                rc = scan_escape(p, &i);
        } else {
            rc = copy_other(p, &i);
        }
        if (rc < 0)
            return rc;
    }
}

/* Decodes the string at p->pos (a quote) into p->buf / p->buf_len, which stays
 * valid until the next string is scanned, and moves past it. */
int fp__toml_scan_string(fp__toml_parser_t *p, bool allow_multiline)
{
    const char *s = p->src;
    size_t pos = p->pos;
    char quote = s[pos];
    bool multi = pos + 2 < p->len && s[pos + 1] == quote && s[pos + 2] == quote;
    p->buf_len = 0;
    int rc = buf_reserve(p, 0);
    if (rc < 0)
        return rc;
    p->buf[0] = '\0';
    if (!multi)
        return scan_single_line(p, quote);
    if (!allow_multiline)
        return fp__toml_fail(p, pos, FP_ETOML, "a key cannot be a multi-line string");
    return scan_multiline(p, quote);
}

/* ---- scalars ---- */

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
    int rc = buf_reserve(p, tk->n);
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
        return nomem(p);
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
