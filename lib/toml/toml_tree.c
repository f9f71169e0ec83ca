/* toml_tree.c: the TOML tree itself. It owns node allocation, table entries
 * (kept in definition order, with a hash index once a table grows past a few
 * keys so that lookup stays constant-time on average), array growth, freeing,
 * and the public read-only accessors. It knows nothing of TOML syntax or of
 * the rules about which definitions may extend which tables. */
#include "toml/toml_internal.h"
#include "base/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Below this many entries a linear scan beats hashing. */
#define SMALL_TABLE 8

fp_toml_node_t *fp__toml_node_new(fp_toml_type_t type, int depth)
{
    fp_toml_node_t *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    n->type = type;
    n->depth = depth;
    return n;
}

char *fp__toml_strndup(const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *d = malloc(len + 1);
    if (d == NULL)
        return NULL;
    if (len > 0)
        memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

/* Recursion is bounded by FP_TOML_MAX_DEPTH, which the parser enforces. */
void fp_toml_free(fp_toml_node_t *node)
{
    if (node == NULL)
        return;
    switch (node->type) {
    case FP_TOML_TABLE:
        for (size_t i = 0; i < node->u.table.count; i++) {
            free(node->u.table.entries[i].key);
            fp_toml_free(node->u.table.entries[i].value);
        }
        free(node->u.table.entries);
        free(node->u.table.slots);
        break;
    case FP_TOML_ARRAY:
        for (size_t i = 0; i < node->u.array.count; i++)
            fp_toml_free(node->u.array.items[i]);
        free(node->u.array.items);
        break;
    case FP_TOML_STRING:
        free(node->u.str.ptr);
        break;
    case FP_TOML_DATETIME:
    case FP_TOML_DATETIME_LOCAL:
    case FP_TOML_DATE_LOCAL:
    case FP_TOML_TIME_LOCAL:
        free(node->u.datetime);
        break;
    default:
        break;
    }
    free(node);
}

static bool entry_is(const fp__toml_entry_t *e, const char *key, size_t len, uint64_t h)
{
    return e->hash == h && e->len == len && (len == 0 || memcmp(e->key, key, len) == 0);
}

fp_toml_node_t *fp__toml_table_find(const fp_toml_node_t *table, const char *key, size_t len)
{
    if (table == NULL || table->type != FP_TOML_TABLE)
        return NULL;
    uint64_t h = fp_text_hash(key, len);
    const fp__toml_entry_t *entries = table->u.table.entries;
    if (table->u.table.slots == NULL) {
        for (size_t i = 0; i < table->u.table.count; i++)
            if (entry_is(&entries[i], key, len, h))
                return entries[i].value;
        return NULL;
    }
    size_t mask = table->u.table.nslots - 1;
    for (size_t s = h & mask; table->u.table.slots[s] != 0; s = (s + 1) & mask) {
        const fp__toml_entry_t *e = &entries[table->u.table.slots[s] - 1];
        if (entry_is(e, key, len, h))
            return e->value;
    }
    return NULL;
}

static void slot_insert(size_t *slots, size_t nslots, uint64_t h, size_t index)
{
    size_t mask = nslots - 1, s = h & mask;
    while (slots[s] != 0)
        s = (s + 1) & mask;
    slots[s] = index + 1;
}

/* Keeps the load factor at or below one half. */
static int index_entry(fp_toml_node_t *table)
{
    size_t count = table->u.table.count;
    if (count <= SMALL_TABLE)
        return 0;
    if (table->u.table.nslots >= count * 2) {
        slot_insert(table->u.table.slots, table->u.table.nslots,
                    table->u.table.entries[count - 1].hash, count - 1);
        return 0;
    }
    size_t nslots = 32;
    while (nslots < count * 4)
        nslots *= 2;
    size_t *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++)
        slot_insert(slots, nslots, table->u.table.entries[i].hash, i);
    free(table->u.table.slots);
    table->u.table.slots = slots;
    table->u.table.nslots = nslots;
    return 0;
}

/* Takes key (heap, NUL-terminated) and value, also on failure. The caller
 * has checked that the key is not there yet. */
int fp__toml_table_add(fp_toml_node_t *table, char *key, size_t len, fp_toml_node_t *value)
{
    if (table->u.table.count == table->u.table.cap) {
        size_t cap = table->u.table.cap ? table->u.table.cap * 2 : 4;
        fp__toml_entry_t *e = cap <= SIZE_MAX / sizeof *e
                                  ? realloc(table->u.table.entries, cap * sizeof *e) : NULL;
        if (e == NULL)
            goto fail;
        table->u.table.entries = e;
        table->u.table.cap = cap;
    }
    fp__toml_entry_t *e = &table->u.table.entries[table->u.table.count++];
    e->key = key;
    e->len = len;
    e->hash = fp_text_hash(key, len);
    e->value = value;
    if (index_entry(table) == 0)
        return 0;
    table->u.table.count--;
fail:
    free(key);
    fp_toml_free(value);
    return -ENOMEM;
}

/* Takes item, also on failure. */
int fp__toml_array_push(fp_toml_node_t *array, fp_toml_node_t *item)
{
    if (array->u.array.count == array->u.array.cap) {
        size_t cap = array->u.array.cap ? array->u.array.cap * 2 : 4;
        fp_toml_node_t **items = cap <= SIZE_MAX / sizeof *items
                                     ? realloc(array->u.array.items, cap * sizeof *items) : NULL;
        if (items == NULL) {
            fp_toml_free(item);
            return -ENOMEM;
        }
        array->u.array.items = items;
        array->u.array.cap = cap;
    }
    array->u.array.items[array->u.array.count++] = item;
    return 0;
}

/* ---- public accessors ---- */

fp_toml_type_t fp_toml_type(const fp_toml_node_t *node)
{
    return node != NULL ? node->type : FP_TOML_TABLE;
}

const char *fp_toml_type_name(fp_toml_type_t type)
{
    switch (type) {
    case FP_TOML_TABLE: return "table";
    case FP_TOML_ARRAY: return "array";
    case FP_TOML_STRING: return "string";
    case FP_TOML_INTEGER: return "integer";
    case FP_TOML_FLOAT: return "float";
    case FP_TOML_BOOL: return "bool";
    case FP_TOML_DATETIME: return "datetime";
    case FP_TOML_DATETIME_LOCAL: return "datetime-local";
    case FP_TOML_DATE_LOCAL: return "date-local";
    case FP_TOML_TIME_LOCAL: return "time-local";
    }
    return "unknown";
}

int fp_toml_line(const fp_toml_node_t *node)
{
    return node != NULL ? node->line : 0;
}

int fp_toml_col(const fp_toml_node_t *node)
{
    return node != NULL ? node->col : 0;
}

size_t fp_toml_count(const fp_toml_node_t *node)
{
    if (node == NULL)
        return 0;
    if (node->type == FP_TOML_TABLE)
        return node->u.table.count;
    if (node->type == FP_TOML_ARRAY)
        return node->u.array.count;
    return 0;
}

const char *fp_toml_key_at(const fp_toml_node_t *table, size_t i)
{
    if (table == NULL || table->type != FP_TOML_TABLE || i >= table->u.table.count)
        return NULL;
    return table->u.table.entries[i].key;
}

const char *fp_toml_key_at_n(const fp_toml_node_t *table, size_t i, size_t *len)
{
    const char *key = fp_toml_key_at(table, i);
    if (len != NULL)
        *len = key != NULL ? table->u.table.entries[i].len : 0;
    return key;
}

const fp_toml_node_t *fp_toml_at(const fp_toml_node_t *node, size_t i)
{
    if (node == NULL)
        return NULL;
    if (node->type == FP_TOML_TABLE)
        return i < node->u.table.count ? node->u.table.entries[i].value : NULL;
    if (node->type == FP_TOML_ARRAY)
        return i < node->u.array.count ? node->u.array.items[i] : NULL;
    return NULL;
}

const fp_toml_node_t *fp_toml_get(const fp_toml_node_t *table, const char *key)
{
    return key != NULL ? fp_toml_get_n(table, key, strlen(key)) : NULL;
}

const fp_toml_node_t *fp_toml_get_n(const fp_toml_node_t *table, const char *key, size_t len)
{
    if (key == NULL)
        return NULL;
    return fp__toml_table_find(table, key, len);
}

const char *fp_toml_string(const fp_toml_node_t *node, size_t *len)
{
    bool ok = node != NULL && node->type == FP_TOML_STRING;
    if (len != NULL)
        *len = ok ? node->u.str.len : 0;
    return ok ? node->u.str.ptr : NULL;
}

int64_t fp_toml_integer(const fp_toml_node_t *node)
{
    return node != NULL && node->type == FP_TOML_INTEGER ? node->u.integer : 0;
}

double fp_toml_float(const fp_toml_node_t *node)
{
    return node != NULL && node->type == FP_TOML_FLOAT ? node->u.real : 0.0;
}

bool fp_toml_bool(const fp_toml_node_t *node)
{
    return node != NULL && node->type == FP_TOML_BOOL ? node->u.boolean : false;
}

const fp_toml_datetime_t *fp_toml_datetime(const fp_toml_node_t *node)
{
    if (node == NULL)
        return NULL;
    switch (node->type) {
    case FP_TOML_DATETIME:
    case FP_TOML_DATETIME_LOCAL:
    case FP_TOML_DATE_LOCAL:
    case FP_TOML_TIME_LOCAL:
        return node->u.datetime;
    default:
        return NULL;
    }
}
