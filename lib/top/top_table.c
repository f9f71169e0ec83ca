/* top_table.c: lines and tables of `forkpool top`'s screen (top_table.h).
 * Columns are counted one per code point, as fp_term_cell counts them: the
 * text is names and numbers, where that holds. */
#include "top/top_table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/term.h"

#define CELL_MAX 400 /* columns a flexible cell keeps before the line cuts it */

/* Bytes of fp_term_cell's output for cols columns, with its margin. */
static size_t cell_cap(size_t cols)
{
    return cols * 4 + 16;
}

static int push_line(fp_top_screen_t *s, fp_top_attr_t attr, char *line)
{
    char **lines = realloc(s->lines, (s->n + 1) * sizeof *lines);
    if (lines != NULL)
        s->lines = lines;
    fp_top_attr_t *attrs = lines != NULL ? realloc(s->attrs, (s->n + 1) * sizeof *attrs) : NULL;
    if (attrs == NULL) {
        free(line);
        return -ENOMEM;
    }
    s->attrs = attrs;
    s->lines[s->n] = line;
    s->attrs[s->n++] = attr;
    return 0;
}

int fp_top_screen_add(fp_top_screen_t *s, fp_top_attr_t attr, const char *text)
{
    if (s->n >= s->height)
        return 0;
    char *line = malloc(cell_cap(s->width));
    if (line == NULL)
        return -ENOMEM;
    fp_term_cell(text, strlen(text), s->width, line, cell_cap(s->width));
    return push_line(s, attr, line);
}

int fp_top_screen_addf(fp_top_screen_t *s, fp_top_attr_t attr, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -ENOMEM;
    int rc = fp_top_screen_add(s, attr, text);
    free(text);
    return rc;
}

/* Byte offset of column col in line (its end when shorter); *have: the
 * columns it has up to there. */
static size_t column_at(const char *line, size_t col, size_t *have)
{
    size_t i = 0, c = 0;
    for (; line[i] != '\0'; i++) {
        if (((unsigned char)line[i] & 0xc0) == 0x80)
            continue;
        if (c == col)
            break;
        c++;
    }
    *have = c;
    return i;
}

/* line with its columns [x, x + w) replaced by text (w columns), owned. */
static char *splice_columns(const char *line, size_t x, const char *text, size_t w)
{
    size_t have, cut = column_at(line, x, &have), skip_have;
    size_t rest = column_at(line, x + w, &skip_have);
    size_t n = strlen(line), tl = strlen(text);
    char *out = malloc(n + x + tl + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, line, cut);
    size_t k = cut;
    for (; have < x; have++)
        out[k++] = ' ';
    memcpy(out + k, text, tl);
    k += tl;
    memcpy(out + k, line + rest, n - rest);
    out[k + n - rest] = '\0';
    return out;
}

int fp_top_screen_overlay(fp_top_screen_t *s, const char *const *box, size_t rows, size_t bw)
{
    size_t height = s->height == SIZE_MAX ? s->n : s->height;
    size_t y = height > rows ? (height - rows) / 2 : 0;
    size_t x = s->width > bw ? (s->width - bw) / 2 : 0;
    for (size_t r = 0; r < rows && y + r < height; r++) {
        while (s->n <= y + r)
            if (fp_top_screen_add(s, FP_TOP_PLAIN, "") < 0)
                return -ENOMEM;
        char *cell = malloc(cell_cap(bw));
        if (cell == NULL)
            return -ENOMEM;
        size_t used = fp_term_cell(box[r], strlen(box[r]), s->width - x, cell, cell_cap(bw));
        char *padded = malloc(strlen(cell) + bw + 1);
        if (padded != NULL) {
            size_t len = strlen(cell);
            memcpy(padded, cell, len);
            for (; used < bw && x + used < s->width; used++)
                padded[len++] = ' ';
            padded[len] = '\0';
        }
        char *line = padded != NULL ? splice_columns(s->lines[y + r], x, padded, used) : NULL;
        free(cell);
        free(padded);
        if (line == NULL)
            return -ENOMEM;
        free(s->lines[y + r]);
        s->lines[y + r] = line;
        s->attrs[y + r] = FP_TOP_PLAIN;
    }
    return 0;
}

void fp_top_screen_clear(fp_top_screen_t *s)
{
    for (size_t i = 0; s->lines != NULL && i < s->n; i++)
        free(s->lines[i]);
    free(s->lines);
    free(s->attrs);
    memset(s, 0, sizeof *s);
}

/* ---- tables --------------------------------------------------------------- */

int fp_top_table_add(fp_top_table_t *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap == 0 ? 8 : t->cap * 2;
        char **c = realloc(t->cells, cap * t->ncols * sizeof *c);
        if (c == NULL)
            return -ENOMEM;
        t->cells = c;
        size_t *u = realloc(t->used, cap * t->ncols * sizeof *u);
        if (u == NULL)
            return -ENOMEM;
        t->used = u;
        t->cap = cap;
    }
    for (size_t k = 0; k < t->ncols; k++) {
        const char *text = cells[k] != NULL ? cells[k] : "";
        size_t max = t->cols[k].max > 0 ? t->cols[k].max : CELL_MAX;
        char *cell = malloc(cell_cap(max));
        if (cell == NULL) {
            for (size_t j = 0; j < k; j++)
                free(t->cells[t->nrows * t->ncols + j]);
            return -ENOMEM;
        }
        t->used[t->nrows * t->ncols + k] = fp_term_cell(text, strlen(text), max, cell, cell_cap(max));
        t->cells[t->nrows * t->ncols + k] = cell;
    }
    t->nrows++;
    return 0;
}

static size_t text_columns(const char *s)
{
    size_t have;
    column_at(s, SIZE_MAX, &have);
    return have;
}

/* One row (row SIZE_MAX: the heading) as a line, owned. */
static char *row_line(const fp_top_table_t *t, const size_t *widths, size_t row)
{
    size_t cap = 1;
    for (size_t k = 0; k < t->ncols; k++)
        cap += cell_cap(widths[k]) + 2;
    char *line = malloc(cap), *p = line;
    if (line == NULL)
        return NULL;
    for (size_t k = 0; k < t->ncols; k++) {
        const char *text = row == SIZE_MAX ? t->cols[k].head : t->cells[row * t->ncols + k];
        size_t used = row == SIZE_MAX ? text_columns(text) : t->used[row * t->ncols + k];
        size_t pad = widths[k] > used ? widths[k] - used : 0;
        bool last = k + 1 == t->ncols;
        if (t->cols[k].right)
            for (; pad > 0; pad--)
                *p++ = ' ';
        p += sprintf(p, "%s", text);
        for (; !last && pad > 0; pad--)
            *p++ = ' ';
        if (!last)
            p += sprintf(p, "  ");
    }
    *p = '\0';
    return line;
}

static int add_owned(fp_top_screen_t *s, fp_top_attr_t attr, char *line)
{
    int rc = line != NULL ? fp_top_screen_add(s, attr, line) : -ENOMEM;
    free(line);
    return rc;
}

int fp_top_table_write(const fp_top_table_t *t, fp_top_screen_t *s, size_t rows, long long extra)
{
    size_t widths[FP_TOP_TABLE_COLS] = {0};
    for (size_t k = 0; k < t->ncols && k < FP_TOP_TABLE_COLS; k++) {
        widths[k] = text_columns(t->cols[k].head);
        for (size_t r = 0; r < t->nrows; r++)
            if (t->used[r * t->ncols + k] > widths[k])
                widths[k] = t->used[r * t->ncols + k];
    }
    int rc = add_owned(s, FP_TOP_HEADING, row_line(t, widths, SIZE_MAX));
    size_t shown = t->nrows;
    if (rows > 0 && (t->nrows > rows || (t->nrows == rows && extra > 0)))
        shown = rows - 1;
    for (size_t r = 0; rc == 0 && r < shown; r++)
        rc = add_owned(s, FP_TOP_PLAIN, row_line(t, widths, r));
    long long more = (long long)(t->nrows - shown) + extra;
    if (rc == 0 && more > 0)
        rc = fp_top_screen_addf(s, FP_TOP_PLAIN, "... %lld more", more);
    return rc;
}

void fp_top_table_clear(fp_top_table_t *t)
{
    for (size_t i = 0; t->cells != NULL && i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->used);
    t->cells = NULL;
    t->used = NULL;
    t->nrows = t->cap = 0;
}
