/* toml_internal.h: the layout of TOML tree nodes and the parser state shared by
 * toml_scan.c (lexing and strings), toml_scalar.c (the other scalars), toml_parse.c (grammar and definition rules),
 * toml_tree.c (building, lookup, freeing) and toml_json.c. Nothing here is
 * public: callers go through lib/toml/toml.h. */
#ifndef FP_TOML_INTERNAL_H
#define FP_TOML_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "toml/toml.h"

/* How a table came to exist. The redefinition rules of TOML depend only on
 * this and on the section a dotted table was made in. */
typedef enum fp__toml_origin_e {
    FP__TOML_ROOT,     /* the document itself */
    FP__TOML_IMPLICIT, /* a parent named by a [header]; a later [header] may still define it */
    FP__TOML_HEADER,   /* defined by its own [header], or an element of [[header]] */
    FP__TOML_DOTTED,   /* defined by dotted keys: extendable by dotted keys in the same section only */
    FP__TOML_INLINE,   /* an inline table: closed once written */
    FP__TOML_STATIC,   /* an array value: closed once written */
    FP__TOML_AOT,      /* an array of tables, grown by [[header]] */
} fp__toml_origin_t;

/* A table entry. key is NUL-terminated for callers but may hold NULs written
 * as \u0000, so len is authoritative. */
typedef struct fp__toml_entry_s {
    char *key;
    size_t len;
    uint64_t hash;
    fp_toml_node_t *value;
} fp__toml_entry_t;

/* Invariant: depth is the number of containers above a node plus one for
 * containers (the root is 0) and never exceeds FP_TOML_MAX_DEPTH, so the tree
 * can be walked recursively. */
struct fp_toml_node_s {
    fp_toml_type_t type;
    int line, col;
    unsigned char origin;   /* fp__toml_origin_t, for tables and arrays */
    int depth;
    unsigned long section;  /* for FP__TOML_DOTTED: the section that made it */
    union {
        struct {
            char *ptr;      /* NUL-terminated; may hold NULs, len is authoritative */
            size_t len;
        } str;
        int64_t integer;
        double real;
        bool boolean;
        fp_toml_datetime_t *datetime;
        struct {
            fp_toml_node_t **items;
            size_t count, cap;
        } array;
        struct {
            fp__toml_entry_t *entries; /* in definition order */
            size_t count, cap;
            size_t *slots;             /* open addressing, entry index + 1; NULL while small */
            size_t nslots;
        } table;
    } u;
};

/* Parser state. The position cache (at_*) turns offsets into line:column in
 * amortized linear time as long as positions are asked for in order. */
typedef struct fp__toml_parser_s {
    const char *src;
    size_t len;
    size_t pos;
    fp_err_t *err;
    size_t at_off;
    int at_line, at_col;
    char *buf;              /* scratch for decoded strings */
    size_t buf_len, buf_cap;
    unsigned long section;  /* bumped by every [header] and [[header]] */
} fp__toml_parser_t;

/* toml_scan.c */
void fp__toml_where(fp__toml_parser_t *p, size_t off, int *line, int *col);
int fp__toml_fail(fp__toml_parser_t *p, size_t off, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int fp__toml_fail_at(fp__toml_parser_t *p, int line, int col, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
const char *fp__toml_describe(const fp__toml_parser_t *p, size_t off, char *buf, size_t size);
size_t fp__toml_utf8_len(const unsigned char *s, size_t avail);
/* The scratch buffer p->buf with room for extra more bytes and a NUL. */
int fp__toml_buf_reserve(fp__toml_parser_t *p, size_t extra);
int fp__toml_nomem(fp__toml_parser_t *p);
int fp__toml_skip_newline(fp__toml_parser_t *p);
int fp__toml_skip_comment(fp__toml_parser_t *p);
int fp__toml_scan_string(fp__toml_parser_t *p, bool allow_multiline);
/* toml_scalar.c */
bool fp__toml_scalar_start(int c);
int fp__toml_scan_scalar(fp__toml_parser_t *p, fp_toml_node_t *node);

/* toml_tree.c */
fp_toml_node_t *fp__toml_node_new(fp_toml_type_t type, int depth);
fp_toml_node_t *fp__toml_table_find(const fp_toml_node_t *table, const char *key, size_t len);
int fp__toml_table_add(fp_toml_node_t *table, char *key, size_t len, fp_toml_node_t *value);
int fp__toml_array_push(fp_toml_node_t *array, fp_toml_node_t *item);
char *fp__toml_strndup(const char *s, size_t len);

#endif
