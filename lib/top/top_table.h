/* top_table.h: the screen's lines and tables, for top_layout.c: a line
 * added to a screen is made safe (fp_term_cell: no control bytes, valid
 * UTF-8) and cut to the width; a table's cells are made safe and cut to
 * their column's maximum, then padded into aligned lines. Internal to
 * lib/top. */
#ifndef FORKPOOL_TOP_TABLE_H
#define FORKPOOL_TOP_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "top/top.h"

/* Adds a line unless the screen is full (then it is dropped: callers
 * budget their lines). 0 or -ENOMEM. */
int fp_top_screen_add(fp_top_screen_t *s, fp_top_attr_t attr, const char *text);
/* The same, made by printf. */
int fp_top_screen_addf(fp_top_screen_t *s, fp_top_attr_t attr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Lays box (lines of at most bw columns each, the same count as rows
 * left) over the screen, centred; a screen too small for it shows what
 * fits. 0 or -ENOMEM. */
int fp_top_screen_overlay(fp_top_screen_t *s, const char *const *box, size_t rows, size_t bw);

typedef struct fp_top_col_s {
    const char *head;
    bool right; /* numbers are right-aligned */
    size_t max; /* widest a cell may be; 0: whatever the line has left (last column) */
} fp_top_col_t;

#define FP_TOP_TABLE_COLS 16

typedef struct fp_top_table_s {
    const fp_top_col_t *cols; /* at most FP_TOP_TABLE_COLS */
    size_t ncols;
    char **cells; /* nrows x ncols, safe text */
    size_t *used; /* each cell's columns */
    size_t nrows, cap;
} fp_top_table_t;

/* Appends a row of ncols cells (NULL reads as ""). 0 or -ENOMEM. */
int fp_top_table_add(fp_top_table_t *t, const char *const *cells);

/* Writes the heading (FP_TOP_HEADING) and up to rows lines of it, cut to
 * the screen's width; when the table has more, the last of them says
 * "... N more" (N plus extra: rows the table does not hold). rows 0: as
 * many as it has. 0 or -ENOMEM. */
int fp_top_table_write(const fp_top_table_t *t, fp_top_screen_t *s, size_t rows, long long extra);

void fp_top_table_clear(fp_top_table_t *t);

#endif
