/* toml_parse.c: the TOML grammar. It owns the document loop, keys (bare,
 * quoted, dotted), [tables], [[arrays of tables]], values, arrays and inline
 * tables, the depth limit, and every rule about which definition may extend
 * or redefine which table (see fp__toml_origin_t). Dotted keys are walked one
 * part at a time as they are read, so a key never needs a copy of its parts
 * and an error names the part at fault. Recursion happens only through
 * nested arrays and inline tables, bounded by FP_TOML_MAX_DEPTH. */
#include "toml/toml_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One part of a dotted key. ptr points into the source or into p->buf, so it
 * is valid only until the next part or string is read. */
typedef struct segment_s {
    const char *ptr;
    size_t len;
    int line, col;
} segment_t;

static int parse_value(fp__toml_parser_t *p, int depth, fp_toml_node_t **out);

static int nomem(fp__toml_parser_t *p)
{
    return fp__toml_fail(p, p->pos, -ENOMEM, "out of memory");
}

static int peek(const fp__toml_parser_t *p)
{
    return p->pos < p->len ? (unsigned char)p->src[p->pos] : -1;
}

static void skip_ws(fp__toml_parser_t *p)
{
    while (p->pos < p->len && (p->src[p->pos] == ' ' || p->src[p->pos] == '\t'))
        p->pos++;
}

/* Whitespace, comments and newlines, as allowed between array elements. */
static int skip_blank(fp__toml_parser_t *p)
{
    for (;;) {
        skip_ws(p);
        int rc = peek(p) == '#' ? fp__toml_skip_comment(p) : 0;
        if (rc < 0)
            return rc;
        if ((rc = fp__toml_skip_newline(p)) <= 0)
            return rc;
    }
}

static int fail_found(fp__toml_parser_t *p, const char *what)
{
    char d[48];
    return fp__toml_fail(p, p->pos, FP_ETOML, "%s, found %s", what,
                         fp__toml_describe(p, p->pos, d, sizeof d));
}

/* A key for a message: quoted characters escaped, long keys shortened
 * without cutting a UTF-8 sequence. */
static const char *show_key(const segment_t *seg, char *buf, size_t size)
{
    size_t o = 0, limit = size - 4; /* room for "..." and the NUL */
    for (size_t i = 0; i < seg->len; i++) {
        unsigned char c = (unsigned char)seg->ptr[i];
        bool esc = c == '"' || c == '\\', ctl = c < 0x20 || c == 0x7F;
        if (o + (esc ? 2 : ctl ? 6 : 1) > limit) {
            if ((c & 0xC0) == 0x80) { /* drop the partial character */
                while (o > 0 && ((unsigned char)buf[o - 1] & 0xC0) == 0x80)
                    o--;
                o -= o > 0;
            }
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (esc)
            buf[o++] = '\\';
        if (ctl)
            o += (size_t)snprintf(buf + o, size - o, "\\u%04X", c);
        else
            buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return buf;
}

static bool bare_key_byte(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
           || c == '-';
}

static int parse_segment(fp__toml_parser_t *p, segment_t *seg)
{
    fp__toml_where(p, p->pos, &seg->line, &seg->col);
    int c = peek(p);
    if (c == '"' || c == '\'') {
        int rc = fp__toml_scan_string(p, false);
        seg->ptr = p->buf;
        seg->len = p->buf_len;
        return rc;
    }
    if (c < 0 || !bare_key_byte(c))
        return fail_found(p, "expected a key");
    size_t start = p->pos;
    while (p->pos < p->len && bare_key_byte((unsigned char)p->src[p->pos]))
        p->pos++;
    seg->ptr = p->src + start;
    seg->len = p->pos - start;
    return 0;
}

/* Explains why seg, which names existing, cannot be used as wanted. */
static int conflict(fp__toml_parser_t *p, const segment_t *seg, const fp_toml_node_t *existing)
{
    char k[96];
    const char *what;
    if (existing->type == FP_TOML_TABLE)
        what = existing->origin == FP__TOML_INLINE ? "inline table" : "table";
    else if (existing->type == FP_TOML_ARRAY)
        what = existing->origin == FP__TOML_STATIC ? "array" : "array of tables";
    else
        what = "key";
    bool closed = existing->origin == FP__TOML_INLINE || existing->origin == FP__TOML_STATIC;
    return fp__toml_fail_at(p, seg->line, seg->col, FP_ETOML, "%s \"%s\" %s", what,
                            show_key(seg, k, sizeof k),
                            closed ? "cannot be extended" : "is already defined");
}

static int check_depth(fp__toml_parser_t *p, int depth, int line, int col)
{
    if (depth <= FP_TOML_MAX_DEPTH)
        return 0;
    return fp__toml_fail_at(p, line, col, FP_ELIMIT, "tables and arrays nested deeper than %d",
                            FP_TOML_MAX_DEPTH);
}

/* Adds a new table under seg in parent. */
static int new_table(fp__toml_parser_t *p, fp_toml_node_t *parent, const segment_t *seg,
                     fp__toml_origin_t origin, fp_toml_node_t **out)
{
    int rc = check_depth(p, parent->depth + 1, seg->line, seg->col);
    if (rc < 0)
        return rc;
    fp_toml_node_t *t = fp__toml_node_new(FP_TOML_TABLE, parent->depth + 1);
    char *key = fp__toml_strndup(seg->ptr, seg->len);
    if (t == NULL || key == NULL) {
        free(t);
        free(key);
        return nomem(p);
    }
    t->origin = (unsigned char)origin;
    t->section = p->section;
    t->line = seg->line;
    t->col = seg->col;
    if (fp__toml_table_add(parent, key, seg->len, t) < 0)
        return nomem(p);
    *out = t;
    return 0;
}

/* One non-final part of a dotted key in a key/value pair. It may create a
 * table, or continue one that dotted keys of this same section created, or
 * one that only headers named as a parent so far. */
static int dotted_step(fp__toml_parser_t *p, fp_toml_node_t *tab, const segment_t *seg,
                       fp_toml_node_t **out)
{
    fp_toml_node_t *n = fp__toml_table_find(tab, seg->ptr, seg->len);
    if (n == NULL)
        return new_table(p, tab, seg, FP__TOML_DOTTED, out);
    bool open = n->type == FP_TOML_TABLE
                && (n->origin == FP__TOML_IMPLICIT
                    || (n->origin == FP__TOML_DOTTED && n->section == p->section));
    if (!open)
        return conflict(p, seg, n);
    n->origin = FP__TOML_DOTTED;
    n->section = p->section;
    *out = n;
    return 0;
}

/* One non-final part of a [header] or [[header]]: any table but an inline
 * one, or the last element of an array of tables. */
static int header_step(fp__toml_parser_t *p, fp_toml_node_t *tab, const segment_t *seg,
                       fp_toml_node_t **out)
{
    fp_toml_node_t *n = fp__toml_table_find(tab, seg->ptr, seg->len);
    if (n == NULL)
        return new_table(p, tab, seg, FP__TOML_IMPLICIT, out);
    if (n->type == FP_TOML_TABLE && n->origin != FP__TOML_INLINE) {
        *out = n;
        return 0;
    }
    if (n->type == FP_TOML_ARRAY && n->origin == FP__TOML_AOT) {
        *out = n->u.array.items[n->u.array.count - 1];
        return 0;
    }
    return conflict(p, seg, n);
}

/* Reads a possibly dotted key, walking every part but the last from *tab
 * with step; the last part is left in *last. */
static int parse_key(fp__toml_parser_t *p, fp_toml_node_t **tab, segment_t *last,
                     int (*step)(fp__toml_parser_t *, fp_toml_node_t *, const segment_t *,
                                 fp_toml_node_t **))
{
    for (;;) {
        int rc = parse_segment(p, last);
        if (rc < 0)
            return rc;
        skip_ws(p);
        if (peek(p) != '.')
            return 0;
        p->pos++;
        skip_ws(p);
        if ((rc = step(p, *tab, last, tab)) < 0)
            return rc;
    }
}

static int parse_keyval(fp__toml_parser_t *p, fp_toml_node_t *tab)
{
    int line, col;
    fp__toml_where(p, p->pos, &line, &col);
    segment_t seg;
    int rc = parse_key(p, &tab, &seg, dotted_step);
    if (rc < 0)
        return rc;
    if (peek(p) != '=')
        return fail_found(p, "expected '=' after a key");
    p->pos++;
    skip_ws(p);
    if (fp__toml_table_find(tab, seg.ptr, seg.len) != NULL) {
        char k[96];
        return fp__toml_fail_at(p, seg.line, seg.col, FP_ETOML, "duplicate key \"%s\"",
                                show_key(&seg, k, sizeof k));
    }
    /* The value may scan strings into p->buf, where seg may point. */
    size_t len = seg.len;
    char *key = fp__toml_strndup(seg.ptr, len);
    if (key == NULL)
        return nomem(p);
    fp_toml_node_t *value;
    if ((rc = parse_value(p, tab->depth + 1, &value)) < 0) {
        free(key);
        return rc;
    }
    value->line = line;
    value->col = col;
    return fp__toml_table_add(tab, key, len, value) < 0 ? nomem(p) : 0;
}

static int parse_array(fp__toml_parser_t *p, int depth, fp_toml_node_t **out)
{
    int line, col;
    fp__toml_where(p, p->pos, &line, &col);
    int rc = check_depth(p, depth, line, col);
    if (rc < 0)
        return rc;
    fp_toml_node_t *a = fp__toml_node_new(FP_TOML_ARRAY, depth);
    if (a == NULL)
        return nomem(p);
    a->origin = FP__TOML_STATIC;
    p->pos++;
    for (;;) {
        if ((rc = skip_blank(p)) < 0)
            goto fail;
        if (peek(p) == ']')
            break;
        fp_toml_node_t *item;
        if ((rc = parse_value(p, depth + 1, &item)) < 0)
            goto fail;
        if (fp__toml_array_push(a, item) < 0) {
            rc = nomem(p);
            goto fail;
        }
        if ((rc = skip_blank(p)) < 0)
            goto fail;
        if (peek(p) == ']')
            break;
        if (peek(p) != ',') {
            rc = fail_found(p, "expected ',' or ']' in an array");
            goto fail;
        }
        p->pos++;
    }
    p->pos++;
    *out = a;
    return 0;
fail:
    fp_toml_free(a);
    return rc;
}

/* Inline tables sit on one line and take no trailing comma (TOML 1.0). */
static int parse_inline_table(fp__toml_parser_t *p, int depth, fp_toml_node_t **out)
{
    int line, col;
    fp__toml_where(p, p->pos, &line, &col);
    int rc = check_depth(p, depth, line, col);
    if (rc < 0)
        return rc;
    fp_toml_node_t *t = fp__toml_node_new(FP_TOML_TABLE, depth);
    if (t == NULL)
        return nomem(p);
    t->origin = FP__TOML_INLINE;
    p->pos++;
    skip_ws(p);
    if (peek(p) != '}') {
        for (;;) {
            if ((rc = parse_keyval(p, t)) < 0)
                goto fail;
            skip_ws(p);
            if (peek(p) == '}')
                break;
            if (peek(p) != ',') {
                rc = fail_found(p, "expected ',' or '}' in an inline table");
                goto fail;
            }
            p->pos++;
            skip_ws(p);
            if (peek(p) == '}') {
                rc = fp__toml_fail(p, p->pos, FP_ETOML, "trailing comma in an inline table");
                goto fail;
            }
        }
    }
    p->pos++;
    *out = t;
    return 0;
fail:
    fp_toml_free(t);
    return rc;
}

static int parse_string_value(fp__toml_parser_t *p, int depth, fp_toml_node_t **out)
{
    int rc = fp__toml_scan_string(p, true);
    if (rc < 0)
        return rc;
    fp_toml_node_t *n = fp__toml_node_new(FP_TOML_STRING, depth);
    char *s = fp__toml_strndup(p->buf, p->buf_len);
    if (n == NULL || s == NULL) {
        free(n);
        free(s);
        return nomem(p);
    }
    n->u.str.ptr = s;
    n->u.str.len = p->buf_len;
    *out = n;
    return 0;
}

/* Returns an owned node positioned at the value's first character. */
static int parse_value(fp__toml_parser_t *p, int depth, fp_toml_node_t **out)
{
    int line, col, rc;
    fp__toml_where(p, p->pos, &line, &col);
    int c = peek(p);
    fp_toml_node_t *n = NULL;
    if (c == '"' || c == '\'') {
        rc = parse_string_value(p, depth, &n);
    } else if (c == '[') {
        rc = parse_array(p, depth, &n);
    } else if (c == '{') {
        rc = parse_inline_table(p, depth, &n);
    } else if (c >= 0 && fp__toml_scalar_start(c)) {
        if ((n = fp__toml_node_new(FP_TOML_BOOL, depth)) == NULL)
            return nomem(p);
        if ((rc = fp__toml_scan_scalar(p, n)) < 0) {
            fp_toml_free(n);
            n = NULL;
        }
    } else {
        rc = fail_found(p, "expected a value");
    }
    if (rc < 0)
        return rc;
    n->line = line;
    n->col = col;
    *out = n;
    return 0;
}

/* The last part of a [header]: a new table, or one so far only implied. */
static int define_table(fp__toml_parser_t *p, fp_toml_node_t *tab, const segment_t *seg,
                        fp_toml_node_t **out)
{
    fp_toml_node_t *n = fp__toml_table_find(tab, seg->ptr, seg->len);
    if (n == NULL)
        return new_table(p, tab, seg, FP__TOML_HEADER, out);
    if (n->type != FP_TOML_TABLE || n->origin != FP__TOML_IMPLICIT)
        return conflict(p, seg, n);
    n->origin = FP__TOML_HEADER;
    *out = n;
    return 0;
}

/* The last part of a [[header]]: a new element of a new or existing array
 * of tables. */
static int append_table(fp__toml_parser_t *p, fp_toml_node_t *tab, const segment_t *seg,
                        int line, int col, fp_toml_node_t **out)
{
    fp_toml_node_t *a = fp__toml_table_find(tab, seg->ptr, seg->len);
    int rc = check_depth(p, tab->depth + 2, seg->line, seg->col);
    if (rc < 0)
        return rc;
    if (a != NULL && (a->type != FP_TOML_ARRAY || a->origin != FP__TOML_AOT))
        return conflict(p, seg, a);
    if (a == NULL) {
        char *key = fp__toml_strndup(seg->ptr, seg->len);
        a = fp__toml_node_new(FP_TOML_ARRAY, tab->depth + 1);
        if (a == NULL || key == NULL) {
            free(a);
            free(key);
            return nomem(p);
        }
        a->origin = FP__TOML_AOT;
        a->line = line;
        a->col = col;
        if (fp__toml_table_add(tab, key, seg->len, a) < 0)
            return nomem(p);
    }
    fp_toml_node_t *t = fp__toml_node_new(FP_TOML_TABLE, a->depth + 1);
    if (t == NULL)
        return nomem(p);
    t->origin = FP__TOML_HEADER;
    if (fp__toml_array_push(a, t) < 0)
        return nomem(p);
    *out = t;
    return 0;
}

/* [a.b] or [[a.b]]; on success *cur is the table later pairs go into. */
static int parse_header(fp__toml_parser_t *p, fp_toml_node_t *root, fp_toml_node_t **cur)
{
    int line, col;
    fp__toml_where(p, p->pos, &line, &col);
    bool aot = p->pos + 1 < p->len && p->src[p->pos + 1] == '[';
    p->pos += aot ? 2 : 1;
    p->section++;
    skip_ws(p);
    fp_toml_node_t *tab = root;
    segment_t seg;
    int rc = parse_key(p, &tab, &seg, header_step);
    if (rc < 0)
        return rc;
    if (peek(p) != ']')
        return fail_found(p, aot ? "expected ']]' after an array-of-tables name"
                                 : "expected ']' after a table name");
    p->pos++;
    if (aot && peek(p) != ']')
        return fail_found(p, "expected ']]' after an array-of-tables name");
    p->pos += aot;
    fp_toml_node_t *t;
    rc = aot ? append_table(p, tab, &seg, line, col, &t) : define_table(p, tab, &seg, &t);
    if (rc < 0)
        return rc;
    t->line = line;
    t->col = col;
    *cur = t;
    return 0;
}

/* After a pair or a header only blanks and a comment may follow on the line. */
static int end_line(fp__toml_parser_t *p, const char *after)
{
    skip_ws(p);
    int rc = peek(p) == '#' ? fp__toml_skip_comment(p) : 0;
    if (rc < 0 || p->pos >= p->len)
        return rc;
    if ((rc = fp__toml_skip_newline(p)) != 0)
        return rc < 0 ? rc : 0;
    char what[64];
    snprintf(what, sizeof what, "expected a newline after %s", after);
    return fail_found(p, what);
}

static int parse_document(fp__toml_parser_t *p, fp_toml_node_t *root)
{
    fp_toml_node_t *cur = root;
    for (;;) {
        skip_ws(p);
        int c = peek(p), rc;
        if (c < 0)
            return 0;
        if (c == '[')
            rc = parse_header(p, root, &cur);
        else if (c != '#' && c != '\n' && c != '\r')
            rc = parse_keyval(p, cur);
        else
            rc = 0;
        if (rc < 0)
            return rc;
        if ((rc = end_line(p, c == '[' ? "a table header" : "a value")) < 0)
            return rc;
    }
}

fp_toml_node_t *fp_toml_parse(const char *text, size_t len, fp_err_t *err)
{
    if (text == NULL && len > 0) {
        fp_err_set(err, -EINVAL, "no text to parse");
        return NULL;
    }
    fp__toml_parser_t p = {.src = text ? text : "", .len = len, .err = err, .at_line = 1,
                           .at_col = 1};
    fp_toml_node_t *root = fp__toml_node_new(FP_TOML_TABLE, 0);
    if (root == NULL) {
        fp_err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    root->origin = FP__TOML_ROOT;
    root->line = 1;
    root->col = 1;
    /* A UTF-8 byte order mark is allowed only as the very first thing. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        p.pos = p.at_off = 3;
    int rc = parse_document(&p, root);
    free(p.buf);
    if (rc < 0) {
        fp_toml_free(root);
        return NULL;
    }
    return root;
}
