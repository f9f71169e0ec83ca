/* toml.h: a TOML 1.0 reader. It parses a whole document into an immutable
 * tree that keeps TOML's types exactly: 64-bit integers stay exact, and
 * date-times keep their kind (offset, local date-time, local date, local time).
 * Every node remembers where it was defined, so callers can name line:column
 * in their own errors. Parsing is linear in the input and bounded in depth. */
#ifndef FORKPOOL_TOML_H
#define FORKPOOL_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Arrays and inline tables nested deeper than this are rejected (FP_ELIMIT),
 * so hostile input cannot exhaust the stack. */
#define FP_TOML_MAX_DEPTH 128

typedef enum fp_toml_type_e {
    FP_TOML_TABLE,
    FP_TOML_ARRAY,
    FP_TOML_STRING,
    FP_TOML_INTEGER,
    FP_TOML_FLOAT,
    FP_TOML_BOOL,
    FP_TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
    FP_TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
    FP_TOML_DATE_LOCAL,     /* 1979-05-27 */
    FP_TOML_TIME_LOCAL,     /* 07:32:00 */
} fp_toml_type_t;

typedef struct fp_toml_datetime_s {
    int year, month, day;        /* 0 for a local time */
    int hour, minute, second;    /* 0 for a local date */
    int nanosecond;              /* fraction truncated to nanoseconds */
    int offset_minutes;          /* east of UTC; only for FP_TOML_DATETIME */
    /* Canonical text: 'T' as separator, 'Z' upper case, the fraction digits
     * as written, offsets as +HH:MM. For example "1979-05-27T00:32:00.999999-07:00". */
    char text[64];
} fp_toml_datetime_t;

typedef struct fp_toml_node_s fp_toml_node_t;

/* Parses len bytes of text (which need not be NUL-terminated and may contain
 * NUL bytes, which are errors). Returns the root table, owned by the caller,
 * or NULL with err filled: code FP_ETOML (or FP_ELIMIT for the depth limit,
 * -ENOMEM on allocation failure), line and col of the offending character, and
 * a short reason such as "duplicate key \"name\"". */
fp_toml_node_t *fp_toml_parse(const char *text, size_t len, fp_err_t *err);

/* Frees a tree returned by fp_toml_parse; NULL is a no-op. */
void fp_toml_free(fp_toml_node_t *root);

fp_toml_type_t fp_toml_type(const fp_toml_node_t *node);

/* "table", "array", "string", "integer", "float", "bool", "datetime",
 * "datetime-local", "date-local", "time-local". */
const char *fp_toml_type_name(fp_toml_type_t type);

/* Where the node was defined: for a key/value pair the key's first character,
 * for a [table] its header, for an array element the element itself. */
int fp_toml_line(const fp_toml_node_t *node);
int fp_toml_col(const fp_toml_node_t *node);

/* Number of entries of a table or elements of an array; 0 for scalars. */
size_t fp_toml_count(const fp_toml_node_t *node);

/* Table entries in the order they were defined. The key is borrowed from the
 * tree. Returns NULL past the end or on a non-table. A quoted key may hold
 * U+0000 (written \u0000): fp_toml_key_at's text then ends early, while
 * fp_toml_key_at_n sets *len (may be NULL) to the whole key's length. */
const char *fp_toml_key_at(const fp_toml_node_t *table, size_t i);
const char *fp_toml_key_at_n(const fp_toml_node_t *table, size_t i, size_t *len);

/* i-th value of a table (in definition order) or element of an array. */
const fp_toml_node_t *fp_toml_at(const fp_toml_node_t *node, size_t i);

/* The value under key in a table, or NULL. fp_toml_get_n takes a key of
 * len bytes, which may hold NULs. */
const fp_toml_node_t *fp_toml_get(const fp_toml_node_t *table, const char *key);
const fp_toml_node_t *fp_toml_get_n(const fp_toml_node_t *table, const char *key, size_t len);

/* Scalar accessors. Calling one on a node of another type is a programming
 * error and returns 0 / NULL. fp_toml_string sets *len (may be NULL): strings
 * may hold U+0000 through escapes. */
const char *fp_toml_string(const fp_toml_node_t *node, size_t *len);
int64_t fp_toml_integer(const fp_toml_node_t *node);
double fp_toml_float(const fp_toml_node_t *node);
bool fp_toml_bool(const fp_toml_node_t *node);
const fp_toml_datetime_t *fp_toml_datetime(const fp_toml_node_t *node);

/* Converts a subtree to cJSON (returned owned; free with cJSON_Delete).
 * tagged=false: plain JSON (integers beyond 2^53 as strings, date-times as
 * their canonical text, inf/nan as strings). tagged=true: the toml-test form,
 * where every leaf is {"type": "<type name>", "value": "<text>"}.
 * Returns NULL on allocation failure. The return type is void * so that this
 * header does not pull in cJSON; cast it to cJSON *. */
void *fp_toml_to_json(const fp_toml_node_t *node, bool tagged);

#endif
