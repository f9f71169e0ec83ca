/* text.h: small helpers for showing and reading outside text safely. */
#ifndef FORKPOOL_TEXT_H
#define FORKPOOL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes s into buf as a quoted, printable, bounded form for messages:
 * control characters, quotes and backslashes as \xNN, at most max_chars
 * input bytes then "...". Input may be a 10 MB line of anything. Returns buf. */
const char *fp_text_quote(char *buf, size_t size, const char *s, size_t max_chars);
/* The same for len bytes that may hold NULs (shown as \x00). */
const char *fp_text_quote_n(char *buf, size_t size, const char *s, size_t len, size_t max_chars);

/* Writes a reason into buf as vsnprintf does and returns -1, so that a
 * check refusing a value reads `return fp_text_why(buf, size, "must ...");`. */
int fp_text_why(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* FNV-1a of s[0..n): a simple fixed hash, enough for tables keyed by names
 * from a trusted document or bounded by their own caps. */
uint64_t fp_text_hash(const char *s, size_t n);

/* The value of a hexadecimal digit, or -1. */
int fp_text_hex_value(int c);

/* An error reply's first word (its code: "READONLY", "MOVED"...) and what
 * to say about it. */
typedef struct fp_text_code_s {
    const char *code;
    const char *says;
} fp_text_code_t;

/* The says of the table entry whose code is msg[0..n)'s first word, or
 * NULL. */
const char *fp_text_code_says(const char *msg, size_t n, const fp_text_code_t *table,
                              size_t count);

/* A decimal number in [min, max] spanning exactly s[0..n) (no sign, no
 * spaces, at most 10 digits): ports, database numbers. */
bool fp_text_int_in(const char *s, size_t n, long min, long max, int *out);

/* v in decimal in a fresh string (free()); NULL when out of memory. */
char *fp_text_i64_dup(int64_t v);

#endif
