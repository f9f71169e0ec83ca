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

#include "config/config_internal.h"
#include "base/units.h"

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

/* pool.env as the table it was written as; values under secret-looking
 * names (DB_PASSWORD) masked like plugin keys. */
static cJSON *env_json(const fp_strv_t *v, bool show_secrets)
{
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; obj != NULL && i < v->count; i++) {
        const char *eq = strchr(v->items[i], '=');
        char *name = strndup(v->items[i], (size_t)(eq - v->items[i]));
        bool hide = !show_secrets && name != NULL && fp_config_secret_key(name);
        bool ok = name != NULL &&
                  cJSON_AddItemToObject(obj, name, cJSON_CreateString(hide ? "***" : eq + 1));
        free(name);
        if (!ok) {
            cJSON_Delete(obj);
            return NULL;
        }
    }
    return obj;
}

static cJSON *string_json(const fp__ckey_t *k, const char *s, bool show_secrets)
{
    if (k->secret && !show_secrets)
        return cJSON_CreateString(s[0] != '\0' ? "***" : "");
    if (!k->secret_url || show_secrets)
        return cJSON_CreateString(s);
    char *masked = fp_config_mask_url(s);
    cJSON *j = masked ? cJSON_CreateString(masked) : NULL;
    free(masked);
    return j;
}

static cJSON *value_json(const fp_config_t *cfg, const fp__ckey_t *k, bool show_secrets)
{
    const void *f = fp__config_field(cfg, k);
    char buf[64];
    switch (k->type) {
    case FP__CT_STRING: return string_json(k, *(char *const *)f, show_secrets);
    case FP__CT_INT:
        if (k->autoable && *(const int64_t *)f == FP_CONFIG_AUTO)
            return cJSON_CreateString("auto");
        return int_json(*(const int64_t *)f);
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
    case FP__CT_ENV: return env_json(f, show_secrets);
    }
    return NULL;
}

/* Names a plugin gives its credentials, matched case-insensitively as the
 * whole key or its end (api_key, db_password, sentryDsn). Over-matching
 * (monkey) costs a "***" in a dump; under-matching leaks a secret. */
static const char *const secret_suffixes[] = {"password", "passwd", "token", "secret", "key",
                                              "dsn",      "credentials"};

bool fp_config_secret_key(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    for (size_t i = 0; i < sizeof secret_suffixes / sizeof secret_suffixes[0]; i++) {
        size_t m = strlen(secret_suffixes[i]);
        if (n >= m && strcasecmp(name + n - m, secret_suffixes[i]) == 0)
            return true;
    }
    return false;
}

/* Replaces, in place, every value under a secret-looking key with "***"
 * (whatever its type) and masks the user info of any other string that is a
 * URL. 0, or -1 when out of memory. */
static int redact_json(cJSON *node)
{
    cJSON *child = node->child;
    while (child != NULL) {
        cJSON *next = child->next;
        cJSON *repl = NULL;
        if (child->string != NULL && fp_config_secret_key(child->string)) {
            repl = cJSON_CreateString("***");
        } else if (cJSON_IsString(child) && strstr(child->valuestring, "://") != NULL) {
            char *masked = fp_config_mask_url(child->valuestring);
            repl = masked ? cJSON_CreateString(masked) : NULL;
            free(masked);
        } else {
            if (redact_json(child) < 0)
                return -1;
            child = next;
            continue;
        }
        /* Replacing by pointer keeps the position but not the name. */
        if (repl != NULL && child->string != NULL &&
            (repl->string = strdup(child->string)) == NULL) {
            cJSON_Delete(repl);
            repl = NULL;
        }
        if (repl == NULL || !cJSON_ReplaceItemViaPointer(node, child, repl)) {
            cJSON_Delete(repl);
            return -1;
        }
        child = next;
    }
    return 0;
}

static cJSON *handlers_json(const fp_config_t *cfg, bool show_secrets)
{
    const fp_toml_node_t *h = cfg->doc ? fp_toml_get(cfg->doc, "handlers") : NULL;
    if (h == NULL)
        return cJSON_CreateObject();
    cJSON *j = fp_toml_to_json(h, false);
    if (j != NULL && !show_secrets && redact_json(j) < 0) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* [[schedule]] as the file would write each table, timezone and missed
 * resolved to what is in force. */
static cJSON *schedules_json(const fp_config_t *cfg)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr != NULL && i < cfg->schedules.count; i++) {
        const fp_schedule_t *s = &cfg->schedules.items[i];
        cJSON *o = cJSON_CreateObject();
        bool ok = o != NULL && cJSON_AddItemToArray(arr, o) &&
                  cJSON_AddStringToObject(o, "name", s->name) &&
                  cJSON_AddStringToObject(o, s->when.is_cron ? "cron" : "every", s->expr) &&
                  (!s->when.is_cron || cJSON_AddStringToObject(o, "timezone", s->tz->name)) &&
                  cJSON_AddStringToObject(o, "type", s->type) &&
                  cJSON_AddItemToObject(o, "args", cJSON_Parse(s->args_json)) &&
                  cJSON_AddStringToObject(o, "queue", s->queue) &&
                  cJSON_AddStringToObject(o, "missed", fp_missed_name(s->missed));
        if (!ok) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

/* Sections appear in schema order; the schema keeps each section's rows
 * together, so a change of section name starts a new object. */
static int add_sections(cJSON *root, const fp_config_t *cfg, bool show_secrets)
{
    cJSON *section = NULL;
    for (size_t i = 0; i < fp__config_schema_len; i++) {
        const fp__ckey_t *k = &fp__config_schema[i];
        if (section == NULL || strcmp(k->section, fp__config_schema[i - 1].section) != 0) {
            section = cJSON_AddObjectToObject(root, k->section);
            if (section == NULL)
                return -1;
        }
        if (!cJSON_AddItemToObject(section, k->key, value_json(cfg, k, show_secrets)))
            return -1;
    }
    if (fp__config_type_limits_json(cfg, cJSON_GetObjectItem(root, "limits")) < 0)
        return -1;
    if (!cJSON_AddItemToObject(root, "schedule", schedules_json(cfg)))
        return -1;
    return cJSON_AddItemToObject(root, "handlers", handlers_json(cfg, show_secrets)) ? 0 : -1;
}

char *fp_config_dump_json(const fp_config_t *cfg)
{
    return fp_config_dump_json_opt(cfg, false);
}

char *fp_config_dump_json_opt(const fp_config_t *cfg, bool show_secrets)
{
    if (cfg == NULL)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    if (root == NULL || cJSON_AddStringToObject(root, "source", cfg->source) == NULL ||
        add_sections(root, cfg, show_secrets) < 0)
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
 * whose name mentions "pass" gets its value masked up to the next '&', the
 * only separator the URL parser knows, so a '#' or '?' inside a password
 * does not end the mask early. */
static void mask_query(char **o, const char *q)
{
    while (*q != '\0') {
        size_t len = strcspn(q, "&");
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
        put(o, q++, 1);
    }
}

/* redis://user:secret@host:6379/0 → redis://user:***@host:6379/0. The user
 * info ends at the last '@' of the whole URL, exactly where the parser ends
 * it, because passwords are often pasted unescaped and may hold any of
 * '@' '/' '?' '#' ':'. Masking more than the parser would read is harmless;
 * masking less leaks. User info without a colon is masked whole: some
 * clients read a lone "secret@" as the password. A path right after "://"
 * (unix:///run/redis@1.sock) has no user info. */
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
    const char *at = *auth != '/' ? strrchr(auth, '@') : NULL;
    put(&o, url, (size_t)(auth - url));
    if (at != NULL && at > auth) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon != NULL)
            put(&o, auth, (size_t)(colon + 1 - auth));
        put(&o, "***", 3);
        auth = at;
    }
    const char *end = auth + strcspn(auth, "?");
    put(&o, auth, (size_t)(end - auth));
    mask_query(&o, end);
    *o = '\0';
    return out;
}

void fp_config_auto_text(int64_t v, char *buf, size_t size)
{
    if (v == FP_CONFIG_AUTO)
        snprintf(buf, size, "auto");
    else
        snprintf(buf, size, "%lld", (long long)v);
}
