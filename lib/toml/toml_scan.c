/* toml_scan.c: the lexical layer of the TOML reader. It owns everything that
 * looks at bytes: line:column bookkeeping and error reports, UTF-8 validation,
 * comments and newlines, and the four kinds of strings with their escapes;
 * toml_scalar.c reads the other scalar tokens. It never builds structure:
 * toml_parse.c decides where a value goes. Every loop moves forward through
 * the input, so scanning is linear. */
#include "toml/toml_internal.h"
#include "base/text.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
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

int fp__toml_nomem(fp__toml_parser_t *p)
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
int fp__toml_buf_reserve(fp__toml_parser_t *p, size_t extra)
{
    if (p->buf != NULL && p->buf_cap - p->buf_len > extra)
        return 0;
    size_t cap = p->buf_cap ? p->buf_cap : 64;
    while (cap - p->buf_len <= extra) {
        if (cap > SIZE_MAX / 2)
            return fp__toml_nomem(p);
        cap *= 2;
    }
    char *nb = realloc(p->buf, cap);
    if (nb == NULL)
        return fp__toml_nomem(p);
    p->buf = nb;
    p->buf_cap = cap;
    return 0;
}

static int buf_put(fp__toml_parser_t *p, const char *s, size_t n)
{
    int rc = fp__toml_buf_reserve(p, n);
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
    int rc = fp__toml_buf_reserve(p, 0);
    if (rc < 0)
        return rc;
    p->buf[0] = '\0';
    if (!multi)
        return scan_single_line(p, quote);
    if (!allow_multiline)
        return fp__toml_fail(p, pos, FP_ETOML, "a key cannot be a multi-line string");
    return scan_multiline(p, quote);
}
