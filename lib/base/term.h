/* term.h: text for human tables on a terminal, shared by the commands that
 * print them (dead, jobs, top). Nothing from Redis or the ledger can drive the
 * terminal: control bytes become spaces and invalid UTF-8 '?'. */
#ifndef FORKPOOL_TERM_H
#define FORKPOOL_TERM_H

#include <stddef.h>

/* Copies len bytes of s into out (cap bytes), at most cols characters, "..."
 * marking a cut. Returns the characters written. */
size_t fp_term_cell(const char *s, size_t len, size_t cols, char *out, size_t cap);

/* The terminal's width; when stdout is not a terminal, $COLUMNS, else 240. */
size_t fp_term_width(void);

#endif
