/* toml_json.c: converting a TOML tree to cJSON, in plain form (for dumping
 * configuration) or in toml-test's tagged form (for the test tool). It only
 * reads the tree. cJSON strings end at the first NUL, so a TOML string that
 * holds U+0000 is emitted as a raw, already escaped JSON literal instead, and
 * so is a table whose keys hold one. */
#include "toml/toml_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Integers a double holds exactly are JSON numbers in the plain form. */
#define EXACT_DOUBLE_INT (INT64_C(1) << 53)

/* Shortest of %.15g..%.17g that reads back as the same double. */
static void float_text(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* A JSON string literal for text that may hold NULs (malloc'd). */
static char *literal(const char *s, size_t len)
{
    if (len > (SIZE_MAX - 3) / 6)
        return NULL;
    char *out = malloc(len * 6 + 3);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, 7, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* The same as a cJSON raw item. */
static cJSON *raw_string(const char *s, size_t len)
{
    char *out = literal(s, len);
    cJSON *item = out != NULL ? cJSON_CreateRaw(out) : NULL;
    free(out);
    return item;
}

static cJSON *string_item(const fp_toml_node_t *n)
{
    if (memchr(n->u.str.ptr, '\0', n->u.str.len) == NULL)
        return cJSON_CreateString(n->u.str.ptr);
    return raw_string(n->u.str.ptr, n->u.str.len);
}

/* The tagged value text of a scalar, or NULL for strings. */
static const char *scalar_text(const fp_toml_node_t *n, char *buf, size_t size)
{
    switch (n->type) {
    case FP_TOML_INTEGER:
        snprintf(buf, size, "%" PRId64, n->u.integer);
        return buf;
    case FP_TOML_FLOAT:
        float_text(n->u.real, buf, size);
        return buf;
    case FP_TOML_BOOL:
        return n->u.boolean ? "true" : "false";
    case FP_TOML_DATETIME:
    case FP_TOML_DATETIME_LOCAL:
    case FP_TOML_DATE_LOCAL:
    case FP_TOML_TIME_LOCAL:
        return n->u.datetime->text;
    default:
        return NULL;
    }
}

static cJSON *tagged_leaf(const fp_toml_node_t *n)
{
    char buf[64];
    const char *text = scalar_text(n, buf, sizeof buf);
    cJSON *obj = cJSON_CreateObject();
    cJSON *type = cJSON_CreateString(fp_toml_type_name(n->type));
    cJSON *value = text != NULL ? cJSON_CreateString(text) : string_item(n);
    if (obj == NULL || type == NULL || value == NULL || !cJSON_AddItemToObject(obj, "type", type)) {
        cJSON_Delete(obj);
        cJSON_Delete(type);
        cJSON_Delete(value);
        return NULL;
    }
    if (!cJSON_AddItemToObject(obj, "value", value)) {
        cJSON_Delete(obj);
        cJSON_Delete(value);
        return NULL;
    }
    return obj;
}

static cJSON *plain_leaf(const fp_toml_node_t *n)
{
    char buf[64];
    switch (n->type) {
    case FP_TOML_STRING:
        return string_item(n);
    case FP_TOML_INTEGER:
        if (n->u.integer >= -EXACT_DOUBLE_INT && n->u.integer <= EXACT_DOUBLE_INT)
            return cJSON_CreateNumber((double)n->u.integer);
        return cJSON_CreateString(scalar_text(n, buf, sizeof buf));
    case FP_TOML_FLOAT:
        if (isfinite(n->u.real))
            return cJSON_CreateNumber(n->u.real);
        return cJSON_CreateString(scalar_text(n, buf, sizeof buf));
    case FP_TOML_BOOL:
        return cJSON_CreateBool(n->u.boolean);
    default:
        return cJSON_CreateString(scalar_text(n, buf, sizeof buf));
    }
}

static cJSON *node_json(const fp_toml_node_t *n, bool tagged);

static bool has_nul_key(const fp_toml_node_t *n)
{
    for (size_t i = 0; i < n->u.table.count; i++)
        if (memchr(n->u.table.entries[i].key, '\0', n->u.table.entries[i].len) != NULL)
            return true;
    return false;
}

/* Appends text to *out (malloc'd, *len bytes so far); false on ENOMEM. */
static bool append(char **out, size_t *len, const char *text)
{
    size_t n = strlen(text);
    char *grown = realloc(*out, *len + n + 1);
    if (grown == NULL)
        return false;
    memcpy(grown + *len, text, n + 1);
    *out = grown;
    *len += n;
    return true;
}

/* A member's key and value as JSON text ("key":value) onto *out. */
static bool append_member(char **out, size_t *len, const fp__toml_entry_t *e, bool tagged)
{
    char *key = literal(e->key, e->len);
    cJSON *child = node_json(e->value, tagged);
    char *value = child != NULL ? cJSON_PrintUnformatted(child) : NULL;
    bool ok = key != NULL && value != NULL && append(out, len, key) && append(out, len, ":") &&
              append(out, len, value);
    free(key);
    cJSON_free(value);
    cJSON_Delete(child);
    return ok;
}

/* cJSON's object keys end at the first NUL, so a table with a key holding
 * U+0000 is written as raw JSON text instead, its keys escaped whole. */
static cJSON *raw_table(const fp_toml_node_t *n, bool tagged)
{
    char *out = NULL;
    size_t len = 0;
    bool ok = append(&out, &len, "{");
    for (size_t i = 0; ok && i < n->u.table.count; i++)
        ok = (i == 0 || append(&out, &len, ",")) &&
             append_member(&out, &len, &n->u.table.entries[i], tagged);
    ok = ok && append(&out, &len, "}");
    cJSON *item = ok ? cJSON_CreateRaw(out) : NULL;
    free(out);
    return item;
}

/* Recursion is bounded by the tree's depth limit. */
static cJSON *container_json(const fp_toml_node_t *n, bool tagged)
{
    if (n->type == FP_TOML_TABLE && has_nul_key(n))
        return raw_table(n, tagged);
    bool table = n->type == FP_TOML_TABLE;
    cJSON *out = table ? cJSON_CreateObject() : cJSON_CreateArray();
    size_t count = fp_toml_count(n);
    for (size_t i = 0; out != NULL && i < count; i++) {
        cJSON *child = node_json(fp_toml_at(n, i), tagged);
        bool ok = child != NULL
                  && (table ? cJSON_AddItemToObject(out, n->u.table.entries[i].key, child)
                            : cJSON_AddItemToArray(out, child));
        if (!ok) {
            cJSON_Delete(child);
            cJSON_Delete(out);
            out = NULL;
        }
    }
    return out;
}

static cJSON *node_json(const fp_toml_node_t *n, bool tagged)
{
    if (n->type == FP_TOML_TABLE || n->type == FP_TOML_ARRAY)
        return container_json(n, tagged);
    return tagged ? tagged_leaf(n) : plain_leaf(n);
}

void *fp_toml_to_json(const fp_toml_node_t *node, bool tagged)
{
    if (node == NULL)
        return NULL;
    return node_json(node, tagged);
}
