/* json.h: strict parsing of JSON that comes from outside (payloads, channel
 * lines): the whole input must be one JSON value, optionally surrounded by
 * whitespace, with no NUL bytes and no trailing garbage (cJSON alone accepts
 * both). */
#ifndef FORKPOOL_JSON_H
#define FORKPOOL_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/buf.h"

/* Returns the parsed value (owned; cJSON_Delete) or NULL. */
cJSON *fp_json_parse(const char *text, size_t len);
/* The same, and on failure sets *bad_at (may be NULL) to the offset where
 * the input stopped being JSON (a NaN, a NUL byte, trailing garbage). */
cJSON *fp_json_parse_at(const char *text, size_t len, size_t *bad_at);

/* Appends s[0..len) as a JSON string literal, quotes included: binary-safe
 * (a NUL byte becomes \u0000, other control characters \n, \t... or
 * \u00XX, quotes and backslashes are escaped, every other byte is copied as
 * it is). 0 or -ENOMEM. */
int fp_json_append_string(fp_buf_t *out, const char *s, size_t len);

/* A string item of s with invalid UTF-8 replaced by U+FFFD, so a document
 * built from outside text (Redis values) is valid JSON; NULL on ENOMEM. */
cJSON *fp_json_text(const char *s);

/* A whole number written as digits (cJSON would go through a double and
 * round above 2^53); NULL on ENOMEM. */
cJSON *fp_json_whole(long long v);

/* JSON text: p at an opening quote; returns just past the closing one (at
 * most end). */
const char *fp_json_skip_string(const char *p, const char *end);

#endif
