/* config_dump.c: the effective configuration as JSON, for `check-config
 * --print-json` and for support requests. It walks the same schema table as
 * the loader, so every key appears with the value in force (after defaults,
 * the environment and the automatic host name and CPU count), durations and
 * sizes written back the way the file would write them. The output is meant
 * to be pasted into tickets, so the Redis password never appears in it. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "forkpool/units.h"

/* Integers as raw number text: cJSON stores numbers as doubles, which would
 * round limits above 2^53. */
static cJSON *int_json(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return cJSON_CreateRaw(buf);
}

static cJSON *strv_json(const fp_strv_t *v)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr != NULL && i < v->count; i++) {
        if (!cJSON_AddItemToArray(arr, cJSON_CreateString(v->items[i]))) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *weights_json(const fp_config_t *cfg)
{
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; obj != NULL && cfg->queues.weights != NULL && i < cfg->queues.names.count;
         i++) {
        if (!cJSON_AddItemToObject(obj, cfg->queues.names.items[i],
                                   int_json(cfg->queues.weights[i]))) {
            cJSON_Delete(obj);
            return NULL;
        }
    }
    return obj;
}

static cJSON *string_json(const fp__ckey_t *k, const char *s)
{
    if (!k->secret_url)
        return cJSON_CreateString(s);
    char *masked = fp_config_mask_url(s);
    cJSON *j = masked ? cJSON_CreateString(masked) : NULL;
    free(masked);
    return j;
}

static cJSON *value_json(const fp_config_t *cfg, const fp__ckey_t *k)
{
    const void *f = fp__config_field(cfg, k);
    char buf[64];
    switch (k->type) {
    case FP__CT_STRING: return string_json(k, *(char *const *)f);
    case FP__CT_INT: return int_json(*(const int64_t *)f);
    case FP__CT_BOOL: return cJSON_CreateBool(*(const bool *)f);
    case FP__CT_DURATION:
        fp_units_format_duration(*(const int64_t *)f, buf, sizeof buf);
        return cJSON_CreateString(buf);
    case FP__CT_SIZE:
        fp_units_format_size(*(const int64_t *)f, buf, sizeof buf);
        return cJSON_CreateString(buf);
    case FP__CT_ENUM: return cJSON_CreateString(fp__config_enum_name(k, *(const int *)f));
    case FP__CT_STRV: return strv_json(f);
    case FP__CT_WEIGHTS: return weights_json(cfg);
    }
    return NULL;
}

static cJSON *handlers_json(const fp_config_t *cfg)
{
    const fp_toml_node_t *h = cfg->doc ? fp_toml_get(cfg->doc, "handlers") : NULL;
    if (h == NULL)
        return cJSON_CreateObject();
    return fp_toml_to_json(h, false);
}

/* Sections appear in schema order; the schema keeps each section's rows
 * together, so a change of section name starts a new object. */
static int add_sections(cJSON *root, const fp_config_t *cfg)
{
    cJSON *section = NULL;
    for (size_t i = 0; i < fp__config_schema_len; i++) {
        const fp__ckey_t *k = &fp__config_schema[i];
        if (section == NULL || strcmp(k->section, fp__config_schema[i - 1].section) != 0) {
            section = cJSON_AddObjectToObject(root, k->section);
            if (section == NULL)
                return -1;
        }
        if (!cJSON_AddItemToObject(section, k->key, value_json(cfg, k)))
            return -1;
    }
    return cJSON_AddItemToObject(root, "handlers", handlers_json(cfg)) ? 0 : -1;
}

char *fp_config_dump_json(const fp_config_t *cfg)
{
    if (cfg == NULL)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    if (root == NULL || cJSON_AddStringToObject(root, "source", cfg->source) == NULL ||
        add_sections(root, cfg) < 0)
        goto out;
    text = cJSON_Print(root);
out:
    cJSON_Delete(root);
    return text;
}

/* Appends n bytes of s at *o. */
static void put(char **o, const char *s, size_t n)
{
    memcpy(*o, s, n);
    *o += n;
}

/* The query may carry credentials too (`?password=...`): any parameter
 * whose name mentions "pass" gets its value masked. */
static void mask_query(char **o, const char *q)
{
    while (*q != '\0') {
        size_t len = strcspn(q, "&#");
        const char *eq = memchr(q, '=', len);
        bool secret = false;
        for (const char *p = q; eq != NULL && p + 4 <= eq; p++)
            secret = secret || strncasecmp(p, "pass", 4) == 0;
        if (secret && eq + 1 < q + len) {
            put(o, q, (size_t)(eq + 1 - q));
            put(o, "***", 3);
        } else {
            put(o, q, len);
        }
        q += len;
        if (*q == '\0')
            break;
        put(o, q, 1);
        if (*q++ == '#') {
            put(o, q, strlen(q));
            break;
        }
    }
}

/* redis://user:secret@host:6379/0 → redis://user:***@host:6379/0. The user
 * info ends at the last '@' before the query, because passwords are often
 * pasted unescaped and may hold '@' or '/'. User info without a colon is
 * masked whole: some clients read a lone "secret@" as the password. */
char *fp_config_mask_url(const char *url)
{
    if (url == NULL)
        return NULL;
    size_t len = strlen(url);
    /* Every masked piece grows by at most "***", and there are fewer pieces
     * than characters. */
    char *out = malloc(len * 4 + 16), *o = out;
    if (out == NULL)
        return NULL;
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    const char *end = auth + strcspn(auth, "?#");
    const char *at = NULL;
    for (const char *p = auth; *auth != '/' && p < end; p++)
        if (*p == '@')
            at = p;
    put(&o, url, (size_t)(auth - url));
    if (at != NULL && at > auth) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon != NULL)
            put(&o, auth, (size_t)(colon + 1 - auth));
        put(&o, "***", 3);
        auth = at;
    }
    put(&o, auth, (size_t)(end - auth));
    mask_query(&o, end);
    *o = '\0';
    return out;
}
