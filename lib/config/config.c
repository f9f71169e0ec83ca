/* config.c: loading the configuration through its schema (config_schema.c).
 * Loading builds a fresh fp_config_t from the defaults, walks the TOML tree
 * applying each value through its row, applies FORKPOOL_REDIS_URL, resolves
 * the two "automatic" defaults (host name, CPU count), and runs the checks
 * that involve more than one key. Any mistake a user can make is an error
 * naming file:line:column and the key, with the nearest known key when a name
 * is misspelt (config_errors.c): a daemon that silently ignores
 * "chidren = 64" runs with the wrong pool for months. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "base/text.h"
#include "redis/redis_url.h"
#include "base/units.h"
#include "pool/autoscale.h"

static void *field_of(fp_config_t *cfg, const fp__ckey_t *k)
{
    return (char *)cfg + k->offset;
}

/* ---- error reporting --------------------------------------------------- */

int fp__cfail_at(fp__cloader_t *ld, const fp_toml_node_t *node, int code, const char *fmt, ...)
{
    char reason[FP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (node == NULL)
        return fp_err_set(ld->err, code, "%s: %s", ld->name, reason);
    int line = fp_toml_line(node), col = fp_toml_col(node);
    return fp_err_set_at(ld->err, code, line, col, "%s:%d:%d: %s", ld->name, line, col, reason);
}

static int wrong_type(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    static const char *const wanted[] = {
        [FP__CT_STRING] = "a string",
        [FP__CT_INT] = "an integer",
        [FP__CT_BOOL] = "true or false",
        [FP__CT_DURATION] = "a duration string such as \"30s\"",
        [FP__CT_SIZE] = "a size string such as \"256MB\"",
        [FP__CT_ENUM] = "a string",
        [FP__CT_STRV] = "an array of strings",
        [FP__CT_WEIGHTS] = "a table of queue name = weight",
        [FP__CT_ENV] = "a table of NAME = \"value\"",
    };
    const char *got = fp_toml_type_name(fp_toml_type(node));
    char list[128];
    if (k->autoable)
        return fp__cfail_at(ld, node, FP_ECONFIG, "[%s] %s must be an integer or \"auto\", got %s",
                       k->section, k->key, got);
    if (k->range)
        return fp__cfail_at(ld, node, FP_ECONFIG,
                       "[%s] %s must be an integer or a range string such as \"2..16\", got %s",
                       k->section, k->key, got);
    if (k->type == FP__CT_ENUM) {
        fp__config_choices_text(k, list, sizeof list);
        return fp__cfail_at(ld, node, FP_ECONFIG, "[%s] %s must be one of %s, got %s", k->section,
                       k->key, list, got);
    }
    return fp__cfail_at(ld, node, FP_ECONFIG, "[%s] %s must be %s, got %s", k->section, k->key,
                   wanted[k->type], got);
}

/* ---- setting values ---------------------------------------------------- */

/* A TOML string as a C string; TOML allows U+0000 through escapes, and a C
 * string would silently end there. */
static int get_string(fp__cloader_t *ld, const char *label, const fp_toml_node_t *node,
                      const char **out)
{
    size_t len = 0;
    const char *s = fp_toml_string(node, &len);
    if (s == NULL || memchr(s, '\0', len) != NULL)
        return fp__cfail_at(ld, node, FP_ECONFIG, "%s must not contain NUL characters", label);
    *out = s;
    return 0;
}

static void strv_free(fp_strv_t *v)
{
    for (size_t i = 0; i < v->count; i++)
        free(v->items[i]);
    free(v->items);
    v->items = NULL;
    v->count = 0;
}

static int strv_from_list(fp_strv_t *v, const char *const *list)
{
    size_t n = 0;
    while (list != NULL && list[n] != NULL)
        n++;
    v->items = calloc(n ? n : 1, sizeof *v->items);
    if (v->items == NULL)
        return -ENOMEM;
    for (; v->count < n; v->count++)
        if ((v->items[v->count] = strdup(list[v->count])) == NULL)
            return -ENOMEM;
    return 0;
}

static int run_check(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    char buf[256];
    size_t elem = SIZE_MAX;
    if (k->check == NULL || k->check(field_of(ld->cfg, k), &elem, buf, sizeof buf) == 0)
        return 0;
    if (elem == SIZE_MAX)
        return fp__cfail_at(ld, node, FP_ECONFIG, "[%s] %s %s", k->section, k->key, buf);
    const fp_toml_node_t *at = fp_toml_at(node, elem);
    return fp__cfail_at(ld, at ? at : node, FP_ECONFIG, "[%s] %s[%zu] %s", k->section, k->key, elem,
                   buf);
}

static int set_string(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    char label[128];
    const char *s = NULL;
    snprintf(label, sizeof label, "[%s] %s", k->section, k->key);
    int rc = get_string(ld, label, node, &s);
    if (rc < 0)
        return rc;
    char *copy = strdup(s);
    if (copy == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    char **f = field_of(ld->cfg, k);
    free(*f);
    *f = copy;
    return run_check(ld, k, node);
}

static int out_of_range(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node,
                        int64_t v, const char *got)
{
    char range[96];
    fp__config_range_text(k, v, range, sizeof range);
    return fp__cfail_at(ld, node, FP_ECONFIG, "[%s] %s must be %s, got %s", k->section, k->key,
                   range, got);
}

static int set_int(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    int64_t v = fp_toml_integer(node);
    if (v < k->min || v > k->max) {
        char got[32];
        snprintf(got, sizeof got, "%" PRId64, v);
        return out_of_range(ld, k, node, v, got);
    }
    *(int64_t *)field_of(ld->cfg, k) = v;
    return 0;
}

/* Durations and sizes: the units module explains bad text. */
static int set_amount(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    char label[128], q[96];
    const char *s = NULL;
    int64_t v;
    fp_err_t uerr = {0};
    snprintf(label, sizeof label, "[%s] %s", k->section, k->key);
    int rc = get_string(ld, label, node, &s);
    if (rc < 0)
        return rc;
    rc = k->type == FP__CT_DURATION ? fp_units_parse_duration_ms(s, &v, &uerr)
                                    : fp_units_parse_size_bytes(s, &v, &uerr);
    if (rc < 0)
        return fp__cfail_at(ld, node, FP_ECONFIG, "%s: %s", label, uerr.msg);
    if (v < k->min || v > k->max)
        return out_of_range(ld, k, node, v, fp__config_quote(q, sizeof q, s));
    *(int64_t *)field_of(ld->cfg, k) = v;
    return 0;
}

static int set_enum(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    char label[128], list[128], q[96];
    const char *s = NULL;
    snprintf(label, sizeof label, "[%s] %s", k->section, k->key);
    int rc = get_string(ld, label, node, &s);
    if (rc < 0)
        return rc;
    fp__suggest_t sg = {.word = s};
    for (const fp__cenum_t *c = k->choices; c->name != NULL; c++) {
        if (strcmp(c->name, s) == 0) {
            *(int *)field_of(ld->cfg, k) = c->value;
            return 0;
        }
        fp__suggest_consider(&sg, c->name);
    }
    fp__config_choices_text(k, list, sizeof list);
    if (sg.best != NULL)
        return fp__cfail_at(ld, node, FP_ECONFIG, "%s must be one of %s, got %s (did you mean \"%s\"?)",
                       label, list, fp__config_quote(q, sizeof q, s), sg.best);
    return fp__cfail_at(ld, node, FP_ECONFIG, "%s must be one of %s, got %s", label, list,
                   fp__config_quote(q, sizeof q, s));
}

static int set_strv(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    fp_strv_t v = {0};
    size_t n = fp_toml_count(node);
    char label[128];
    int rc = 0;
    if ((v.items = calloc(n ? n : 1, sizeof *v.items)) == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    for (; v.count < n; v.count++) {
        const fp_toml_node_t *e = fp_toml_at(node, v.count);
        const char *s = NULL;
        snprintf(label, sizeof label, "[%s] %s[%zu]", k->section, k->key, v.count);
        if (fp_toml_type(e) != FP_TOML_STRING) {
            rc = fp__cfail_at(ld, e, FP_ECONFIG, "%s must be a string, got %s", label,
                         fp_toml_type_name(fp_toml_type(e)));
            goto fail;
        }
        if ((rc = get_string(ld, label, e, &s)) < 0)
            goto fail;
        if ((v.items[v.count] = strdup(s)) == NULL) {
            rc = fp_err_set(ld->err, -ENOMEM, "out of memory");
            goto fail;
        }
    }
    fp_strv_t *f = field_of(ld->cfg, k);
    strv_free(f);
    *f = v;
    return run_check(ld, k, node);
fail:
    strv_free(&v);
    return rc;
}

/* One NAME = "value" of a table, as "NAME=value" in *out (owned). */
static int env_entry(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *table, size_t i,
                     char **out)
{
    char label[160], q[96];
    size_t nlen = 0;
    const char *name = fp_toml_key_at_n(table, i, &nlen);
    const fp_toml_node_t *e = fp_toml_at(table, i);
    if (!fp__env_name_ok(name, nlen))
        return fp__cfail_at(ld, e, FP_ECONFIG,
                       "[%s] %s: %s is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                       k->section, k->key, fp__config_quote(q, sizeof q, name));
    snprintf(label, sizeof label, "[%s] %s.%s", k->section, k->key, name);
    const char *value = NULL;
    if (fp_toml_type(e) != FP_TOML_STRING)
        return fp__cfail_at(ld, e, FP_ECONFIG, "%s must be a string, got %s", label,
                       fp_toml_type_name(fp_toml_type(e)));
    int rc = get_string(ld, label, e, &value);
    if (rc < 0)
        return rc;
    if ((*out = malloc(nlen + strlen(value) + 2)) == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    sprintf(*out, "%s=%s", name, value);
    return 0;
}

static int set_env(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    fp_strv_t v = {0};
    size_t n = fp_toml_count(node);
    int rc = 0;
    if ((v.items = calloc(n ? n : 1, sizeof *v.items)) == NULL)
        return fp_err_set(ld->err, -ENOMEM, "out of memory");
    for (; v.count < n; v.count++) {
        if ((rc = env_entry(ld, k, node, v.count, &v.items[v.count])) < 0) {
            strv_free(&v);
            return rc;
        }
    }
    fp_strv_t *f = field_of(ld->cfg, k);
    strv_free(f);
    *f = v;
    return 0;
}

static const fp_toml_type_t toml_type_of[] = {
    [FP__CT_STRING] = FP_TOML_STRING, [FP__CT_INT] = FP_TOML_INTEGER,
    [FP__CT_BOOL] = FP_TOML_BOOL,     [FP__CT_DURATION] = FP_TOML_STRING,
    [FP__CT_SIZE] = FP_TOML_STRING,   [FP__CT_ENUM] = FP_TOML_STRING,
    [FP__CT_STRV] = FP_TOML_ARRAY,    [FP__CT_WEIGHTS] = FP_TOML_TABLE,
    [FP__CT_ENV] = FP_TOML_TABLE,
};

/* The string an int key was given instead of a number, and its label
 * ("[section] key") for messages. */
static int int_key_string(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node,
                          char label[static 128], const char **s)
{
    snprintf(label, 128, "[%s] %s", k->section, k->key);
    return get_string(ld, label, node, s);
}

/* pool.children = "MIN..MAX": the bounds of a scaling pool. */
static int set_range(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    char label[128], why[160];
    const char *s = NULL;
    int rc = int_key_string(ld, k, node, label, &s);
    if (rc < 0)
        return rc;
    if (fp_scale_parse_range(s, k->max, &ld->cfg->pool.children_min, &ld->cfg->pool.children_max,
                             why, sizeof why) < 0)
        return fp__cfail_at(ld, node, FP_ECONFIG, "%s %s", label, why);
    return 0;
}

/* An int key of the daemon's choosing: "auto", nothing else in a string. */
static int set_auto(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    char label[128], q[96];
    const char *s = NULL;
    int rc = int_key_string(ld, k, node, label, &s);
    if (rc < 0)
        return rc;
    if (strcmp(s, "auto") != 0)
        return fp__cfail_at(ld, node, FP_ECONFIG, "%s must be an integer or \"auto\", got %s", label,
                       fp__config_quote(q, sizeof q, s));
    *(int64_t *)field_of(ld->cfg, k) = FP_CONFIG_AUTO;
    return 0;
}

static int set_value(fp__cloader_t *ld, const fp__ckey_t *k, const fp_toml_node_t *node)
{
    if (k->autoable && fp_toml_type(node) == FP_TOML_STRING) {
        ld->where[k - fp__config_schema] = node;
        return set_auto(ld, k, node);
    }
    if (k->range && fp_toml_type(node) == FP_TOML_STRING) {
        ld->where[k - fp__config_schema] = node;
        return set_range(ld, k, node);
    }
    if (fp_toml_type(node) != toml_type_of[k->type])
        return wrong_type(ld, k, node);
    ld->where[k - fp__config_schema] = node;
    switch (k->type) {
    case FP__CT_STRING: return set_string(ld, k, node);
    case FP__CT_INT: return set_int(ld, k, node);
    case FP__CT_BOOL: *(bool *)field_of(ld->cfg, k) = fp_toml_bool(node); return 0;
    case FP__CT_DURATION:
    case FP__CT_SIZE: return set_amount(ld, k, node);
    case FP__CT_ENUM: return set_enum(ld, k, node);
    case FP__CT_STRV: return set_strv(ld, k, node);
    case FP__CT_WEIGHTS: return 0; /* needs the final queue names: see fp__cresolve_weights */
    case FP__CT_ENV: return set_env(ld, k, node);
    }
    return 0;
}

/* ---- walking the document ---------------------------------------------- */

static int unknown_key(fp__cloader_t *ld, const char *section, const char *key,
                       const fp_toml_node_t *node)
{
    char q[96];
    const char *near = fp__config_suggest_key(section, key);
    const char *home = near ? NULL : fp__config_home_section(key);
    if (near != NULL)
        return fp__cfail_at(ld, node, FP_ECONFIG, "unknown key %s in [%s] (did you mean \"%s\"?)",
                       fp__config_quote(q, sizeof q, key), section, near);
    if (home != NULL)
        return fp__cfail_at(ld, node, FP_ECONFIG, "unknown key %s in [%s] (it belongs in [%s])",
                       fp__config_quote(q, sizeof q, key), section, home);
    return fp__cfail_at(ld, node, FP_ECONFIG, "unknown key %s in [%s]",
                   fp__config_quote(q, sizeof q, key), section);
}

static int unknown_top(fp__cloader_t *ld, const char *name, const fp_toml_node_t *node)
{
    char q[96];
    const char *home = fp__config_home_section(name);
    const char *near = fp__config_suggest_section(name);
    if (fp_toml_type(node) != FP_TOML_TABLE && home != NULL)
        return fp__cfail_at(ld, node, FP_ECONFIG, "key %s must be inside its section, [%s]",
                       fp__config_quote(q, sizeof q, name), home);
    if (fp_toml_type(node) != FP_TOML_TABLE)
        return fp__cfail_at(ld, node, FP_ECONFIG,
                       "unknown key %s at the top level (settings go inside a section such as "
                       "[pool])",
                       fp__config_quote(q, sizeof q, name));
    if (near != NULL)
        return fp__cfail_at(ld, node, FP_ECONFIG, "unknown section [%s] (did you mean [%s]?)",
                       fp__config_name_text(q, sizeof q, name), near);
    return fp__cfail_at(ld, node, FP_ECONFIG, "unknown section [%s]",
                   fp__config_name_text(q, sizeof q, name));
}

static int load_section(fp__cloader_t *ld, const char *section, const fp_toml_node_t *table)
{
    if (!fp__config_is_section(section))
        return unknown_top(ld, section, table);
    if (fp_toml_type(table) != FP_TOML_TABLE)
        return fp__cfail_at(ld, table, FP_ECONFIG, "[%s] must be a table, got %s", section,
                       fp_toml_type_name(fp_toml_type(table)));
    for (size_t i = 0; i < fp_toml_count(table); i++) {
        const char *key = fp_toml_key_at(table, i);
        const fp_toml_node_t *node = fp_toml_at(table, i);
        const fp__ckey_t *k = fp__config_find_key(section, key);
        int rc;
        if (k == NULL && strcmp(section, "limits") == 0 && fp_toml_type(node) == FP_TOML_TABLE)
            rc = fp__config_type_limit(ld->name, ld->cfg, key, node, ld->err); /* [limits.TYPE] */
        else
            rc = k ? set_value(ld, k, node) : unknown_key(ld, section, key, node);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Handlers own their tables' contents; we only insist they are tables. */
static int load_handlers(fp__cloader_t *ld, const fp_toml_node_t *table)
{
    char q[96];
    if (fp_toml_type(table) != FP_TOML_TABLE)
        return fp__cfail_at(ld, table, FP_ECONFIG, "[%s] must be a table, got %s", FP__CONFIG_HANDLERS,
                       fp_toml_type_name(fp_toml_type(table)));
    for (size_t i = 0; i < fp_toml_count(table); i++) {
        const fp_toml_node_t *node = fp_toml_at(table, i);
        if (fp_toml_type(node) != FP_TOML_TABLE)
            return fp__cfail_at(ld, node, FP_ECONFIG,
                           "[%s] %s must be a table ([handlers.NAME]), got %s", FP__CONFIG_HANDLERS,
                           fp__config_quote(q, sizeof q, fp_toml_key_at(table, i)),
                           fp_toml_type_name(fp_toml_type(node)));
    }
    return 0;
}

/* TOML lets a quoted key hold U+0000 ("a\u0000b"); every name the
 * configuration knows (sections, settings, handlers, queues) is plain text,
 * and a key read up to its NUL would pass for another ("children\u0000x" for
 * children). Such a key is refused wherever it is, handler tables included,
 * whose contents reach handlers as C strings. Recursion is bounded by the
 * tree's depth limit. */
static int reject_nul_keys(fp__cloader_t *ld, const fp_toml_node_t *node)
{
    bool table = fp_toml_type(node) == FP_TOML_TABLE;
    if (!table && fp_toml_type(node) != FP_TOML_ARRAY)
        return 0;
    for (size_t i = 0; i < fp_toml_count(node); i++) {
        const fp_toml_node_t *child = fp_toml_at(node, i);
        size_t len = 0;
        const char *key = table ? fp_toml_key_at_n(node, i, &len) : NULL;
        if (key != NULL && memchr(key, '\0', len) != NULL) {
            char q[160];
            return fp__cfail_at(ld, child, FP_ECONFIG,
                           "key %s holds U+0000 (NUL), which no setting can use",
                           fp_text_quote_n(q, sizeof q, key, len, 64));
        }
        int rc = reject_nul_keys(ld, child);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int load_tree(fp__cloader_t *ld, const fp_toml_node_t *root)
{
    int rc = reject_nul_keys(ld, root);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < fp_toml_count(root); i++) {
        const char *name = fp_toml_key_at(root, i);
        const fp_toml_node_t *node = fp_toml_at(root, i);
        if (strcmp(name, FP__CONFIG_SCHEDULE) == 0)
            continue; /* fp__config_schedules, once the queue names are final */
        rc = strcmp(name, FP__CONFIG_HANDLERS) == 0 ? load_handlers(ld, node)
                                                    : load_section(ld, name, node);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- defaults, environment, resolution, cross-key checks -------------- */

static int set_defaults(fp_config_t *cfg, fp_err_t *err)
{
    for (size_t i = 0; i < fp__config_schema_len; i++) {
        const fp__ckey_t *k = &fp__config_schema[i];
        void *f = field_of(cfg, k);
        int rc = 0;
        switch (k->type) {
        case FP__CT_STRING: rc = (*(char **)f = strdup(k->def_text)) ? 0 : -ENOMEM; break;
        case FP__CT_INT: *(int64_t *)f = k->def_int; break;
        case FP__CT_BOOL: *(bool *)f = k->def_int != 0; break;
        case FP__CT_DURATION: rc = fp_units_parse_duration_ms(k->def_text, f, err); break;
        case FP__CT_SIZE: rc = fp_units_parse_size_bytes(k->def_text, f, err); break;
        case FP__CT_ENUM:
            for (const fp__cenum_t *c = k->choices; c->name != NULL; c++)
                if (strcmp(c->name, k->def_text) == 0)
                    *(int *)f = c->value;
            break;
        case FP__CT_STRV: rc = strv_from_list(f, k->def_strv); break;
        case FP__CT_WEIGHTS: break; /* fp__cresolve_weights */
        case FP__CT_ENV: rc = strv_from_list(f, NULL); break;
        }
        if (rc == -ENOMEM)
            return fp_err_set(err, rc, "out of memory");
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Secrets stay out of files: the URL, the sentinels' password and the
 * status page's token may come from the environment. Replaces *field with
 * the variable's value when it is set and not empty (*taken says so: shells
 * make it easy to export an empty one), and forgets the file's position for
 * that key. */
const fp_toml_node_t *fp__cwhere(const fp__cloader_t *ld, const char *section, const char *key)
{
    return ld->where[fp__config_find_key(section, key) - fp__config_schema];
}

/* The Sentinel keys go together, and the URL then only gives the database
 * and the password (a socket path could not name the master's host). */
static int check_sentinel(fp__cloader_t *ld)
{
    const fp_config_t *cfg = ld->cfg;
    bool sentinels = cfg->redis.sentinels.count > 0;
    if (sentinels && cfg->redis.master_name[0] == '\0')
        return fp__cfail_at(ld, fp__cwhere(ld, "redis", "sentinels"), FP_ECONFIG,
                       "[redis] sentinels needs master_name (the name the sentinels monitor, "
                       "e.g. \"mymaster\")");
    if (!sentinels && cfg->redis.master_name[0] != '\0')
        return fp__cfail_at(ld, fp__cwhere(ld, "redis", "master_name"), FP_ECONFIG,
                       "[redis] master_name is only used with sentinels "
                       "(list them: sentinels = [\"127.0.0.1:26379\"])");
    if (!sentinels && cfg->redis.sentinel_password[0] != '\0') {
        const fp_toml_node_t *at = fp__cwhere(ld, "redis", "sentinel_password");
        if (at == NULL)
            return fp_err_set(ld->err, FP_ECONFIG,
                              "FORKPOOL_SENTINEL_PASSWORD (environment) is set but [redis] "
                              "sentinels is not");
        return fp__cfail_at(ld, at, FP_ECONFIG, "[redis] sentinel_password is only used with sentinels");
    }
    if (sentinels && strncasecmp(cfg->redis.url, "unix:", 5) == 0) {
        const fp_toml_node_t *at = fp__cwhere(ld, "redis", "url");
        if (at == NULL)
            return fp_err_set(ld->err, FP_ECONFIG,
                              "FORKPOOL_REDIS_URL (environment) is a unix:// URL, but with "
                              "[redis] sentinels it must be redis:// (its host is not used)");
        return fp__cfail_at(ld, at, FP_ECONFIG,
                       "[redis] url must be redis:// with sentinels: the sentinels say where the "
                       "master is, the URL gives only the database and the password");
    }
    return 0;
}

/* A Cluster is found through its seeds; the URL then gives only the user
 * and password, and with rediss:// that every node is reached over TLS.
 * A Cluster has database 0 only. */
static int check_cluster(fp__cloader_t *ld)
{
    const fp_config_t *cfg = ld->cfg;
    if (cfg->redis.cluster.count == 0)
        return 0;
    const fp_toml_node_t *at = fp__cwhere(ld, "redis", "cluster");
    if (cfg->redis.sentinels.count > 0)
        return fp__cfail_at(ld, at, FP_ECONFIG,
                       "[redis] cluster and sentinels exclude each other: a Redis Cluster fails "
                       "over by itself");
    fp_redis_url_t u;
    fp_err_t e;
    fp_err_clear(&e);
    if (fp_redis_url_parse(cfg->redis.url, &u, &e) < 0)
        return 0; /* the url's own check says why */
    bool unix_url = u.path != NULL;
    int db = u.db;
    fp_redis_url_free(&u);
    const fp_toml_node_t *url_at = fp__cwhere(ld, "redis", "url");
    const char *why = unix_url ? "must be redis:// with cluster: the seed nodes say where the "
                                 "masters are, the URL gives only the user and the password"
                      : db != 0 ? "must name database 0 with cluster: a Redis Cluster has no other"
                                : NULL;
    if (why == NULL)
        return 0;
    if (url_at == NULL)
        return fp_err_set(ld->err, FP_ECONFIG, "FORKPOOL_REDIS_URL (environment) %s", why);
    return fp__cfail_at(ld, url_at, FP_ECONFIG, "[redis] url %s", why);
}

static int check_tls(fp__cloader_t *ld)
{
    const char *key, *why = fp__config_tls_problem(ld->cfg, &key);
    if (why == NULL)
        return 0;
    return fp__cfail_at(ld, fp__cwhere(ld, "redis", key), FP_ECONFIG, "[redis] %s %s", key, why);
}

/* Settings that have no effect in the chosen mode are errors, so that a
 * misunderstanding surfaces at start-up rather than in production. */
static int check_cross(fp__cloader_t *ld)
{
    const fp_config_t *cfg = ld->cfg;
    char a[32], b[32];
    if (cfg->retry.backoff_max_ms < cfg->retry.backoff_base_ms) {
        const fp_toml_node_t *at = fp__cwhere(ld, "retry", "backoff_max");
        fp_units_format_duration(cfg->retry.backoff_max_ms, a, sizeof a);
        fp_units_format_duration(cfg->retry.backoff_base_ms, b, sizeof b);
        return fp__cfail_at(ld, at ? at : fp__cwhere(ld, "retry", "backoff_base"), FP_ECONFIG,
                       "[retry] backoff_max (%s) must not be less than backoff_base (%s)", a, b);
    }
    if (cfg->pool.runtime == FP_RUNTIME_EXEC && cfg->pool.command.count == 0)
        return fp__cfail_at(ld, fp__cwhere(ld, "pool", "runtime"), FP_ECONFIG,
                       "[pool] command must be set when runtime = \"exec\" (the program each "
                       "child runs, e.g. [\"python3\", \"worker.py\"])");
    if (cfg->pool.runtime == FP_RUNTIME_NATIVE && cfg->pool.command.count > 0)
        return fp__cfail_at(ld, fp__cwhere(ld, "pool", "command"), FP_ECONFIG,
                       "[pool] command is only used with runtime = \"exec\"");
    if (cfg->pool.runtime == FP_RUNTIME_EXEC && cfg->pool.plugins.count > 0)
        return fp__cfail_at(ld, fp__cwhere(ld, "pool", "plugins"), FP_ECONFIG,
                       "[pool] plugins are only loaded with runtime = \"native\"");
    return 0;
}

/* ---- entry points ------------------------------------------------------ */

int fp__config_build(const char *name, fp_toml_node_t *doc, fp_config_t **out, fp_err_t *err)
{
    fp__cloader_t ld = {.name = name, .err = err};
    fp_config_t *cfg = calloc(1, sizeof *cfg);
    int rc;
    if (cfg == NULL) {
        fp_toml_free(doc);
        return fp_err_set(err, -ENOMEM, "out of memory");
    }
    cfg->doc = doc;
    ld.cfg = cfg;
    if ((rc = set_defaults(cfg, err)) < 0)
        goto fail;
    if ((cfg->source = strdup(name)) == NULL) {
        rc = fp_err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    if (doc != NULL && (rc = load_tree(&ld, doc)) < 0)
        goto fail;
    if ((rc = fp__capply_env(&ld)) < 0 || (rc = fp__cresolve_scaling(&ld)) < 0 ||
        (rc = fp__cresolve_auto(&ld)) < 0 || (rc = fp__cresolve_backend(&ld)) < 0 ||
        (rc = fp__cresolve_weights(&ld)) < 0 || (rc = check_sentinel(&ld)) < 0 ||
        (rc = check_cluster(&ld)) < 0 ||
        (rc = check_cross(&ld)) < 0 || (rc = check_tls(&ld)) < 0 ||
        (rc = fp__config_schedules(cfg, name, err)) < 0)
        goto fail;
    *out = cfg;
    return 0;
fail:
    fp_config_free(cfg);
    return rc;
}

void fp_config_free(fp_config_t *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < fp__config_schema_len; i++) {
        const fp__ckey_t *k = &fp__config_schema[i];
        if (k->type == FP__CT_STRING)
            free(*(char **)field_of(cfg, k));
        else if (k->type == FP__CT_STRV || k->type == FP__CT_ENV)
            strv_free(field_of(cfg, k));
    }
    free(cfg->queues.weights);
    fp__config_free_type_limits(cfg);
    fp__config_schedules_free(cfg);
    free(cfg->source);
    fp_toml_free(cfg->doc);
    free(cfg);
}

const fp_toml_node_t *fp_config_handler_table(const fp_config_t *cfg, const char *name)
{
    const fp_toml_node_t *handlers =
        cfg && cfg->doc ? fp_toml_get(cfg->doc, FP__CONFIG_HANDLERS) : NULL;
    if (handlers == NULL || fp_toml_type(handlers) != FP_TOML_TABLE || name == NULL)
        return NULL;
    return fp_toml_get(handlers, name);
}
