/* text.h: small helpers for showing and reading outside text safely. */
#ifndef FORKPOOL_TEXT_H
#define FORKPOOL_TEXT_H

#include <stddef.h>

/* Writes s into buf as a quoted, printable, bounded form for messages:
 * control characters, quotes and backslashes as \xNN, at most max_chars
 * input bytes then "...". Input may be a 10 MB line of anything. Returns buf. */
const char *fp_text_quote(char *buf, size_t size, const char *s, size_t max_chars);
/* The same for len bytes that may hold NULs (shown as \x00). */
const char *fp_text_quote_n(char *buf, size_t size, const char *s, size_t len, size_t max_chars);

/* The value of a hexadecimal digit, or -1. */
int fp_text_hex_value(int c);

#endif
