/* config_internal.h: the configuration schema (config_schema.c), shared by
 * config.c (which loads and validates through it), config_dump.c (which
 * prints through it) and the helpers they share, so that a key added to the table is loaded, defaulted, freed and
 * dumped without touching any other code. Not installed; lib/ only. */
#ifndef FORKPOOL_CONFIG_INTERNAL_H
#define FORKPOOL_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef enum fp__ct_e {
    FP__CT_STRING,   /* char *, never NULL once loaded */
    FP__CT_INT,      /* int64_t */
    FP__CT_BOOL,     /* bool */
    FP__CT_DURATION, /* int64_t milliseconds, written as "30s" */
    FP__CT_SIZE,     /* int64_t bytes, written as "256MB" */
    FP__CT_ENUM,     /* an int-sized C enum, written as one of choices[] */
    FP__CT_STRV,     /* fp_strv_t */
    FP__CT_WEIGHTS,  /* queues.weights: int64_t[], parallel to queues.names */
    FP__CT_ENV,      /* fp_strv_t of "NAME=value", written as a table NAME = "value" */
} fp__ct_t;

typedef struct fp__cenum_s {
    const char *name; /* NULL ends a list */
    int value;
} fp__cenum_t;

/* A validator looks at a field after it was set from the file (or the
 * environment). On failure it writes a phrase that follows the key's name,
 * such as `must not be empty`, and for arrays sets *elem to the index of the
 * offending element (left alone otherwise), and returns -1. */
typedef int (*fp__ccheck_fn)(const void *field, size_t *elem, char *why, size_t size);

typedef struct fp__ckey_s {
    const char *section;
    const char *key;
    fp__ct_t type;
    size_t offset;                /* into fp_config_t */
    const char *def_text;         /* string, duration, size, enum: as written in TOML */
    int64_t def_int;              /* int, bool */
    const char *const *def_strv;  /* string array: NULL-terminated, NULL = empty */
    int64_t min, max;             /* int, duration (ms), size (bytes) */
    const fp__cenum_t *choices;   /* enum */
    fp__ccheck_fn check;          /* optional */
    bool secret_url;              /* a URL whose password is masked when shown */
    bool secret;                  /* a password: shown as "***" unless asked */
    bool range;                   /* int that also takes "MIN..MAX": pool.children, which
                                   * then writes pool.children_min and children_max */
    bool autoable;                /* int that also takes "auto", stored as FP_CONFIG_AUTO */
    const char *doc;              /* one line, for people reading the table */
} fp__ckey_t;

extern const fp__ckey_t fp__config_schema[];
extern const size_t fp__config_schema_len;
/* A bound on the table's length, checked where it is defined. */
#define FP__CONFIG_MAX_KEYS 128

/* ---- loading (config.c), shared with config_resolve.c ------------------- */

typedef struct fp__cloader_s {
    const char *name; /* file name for messages */
    fp_config_t *cfg;
    fp_err_t *err;
    /* The node that set each row, for the position of later cross-key
     * errors; NULL while a row holds its default. */
    const fp_toml_node_t *where[FP__CONFIG_MAX_KEYS];
} fp__cloader_t;

/* An error at node's file:line:column (or the file alone when node is
 * NULL): code, with the formatted reason. */
int fp__cfail_at(fp__cloader_t *ld, const fp_toml_node_t *node, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The node that set section.key, NULL while it holds its default. */
const fp_toml_node_t *fp__cwhere(const fp__cloader_t *ld, const char *section, const char *key);

/* config_env.c: FORKPOOL_REDIS_URL and the other variables, after the file. */
int fp__capply_env(fp__cloader_t *ld);

/* config_resolve.c, in this order after the file and the environment. */
int fp__cresolve_scaling(fp__cloader_t *ld);
int fp__cresolve_auto(fp__cloader_t *ld);
int fp__cresolve_weights(fp__cloader_t *ld);
/* config_backend.c: queue.backend "auto" decided, sqlite.path made absolute. */
int fp__cresolve_backend(fp__cloader_t *ld);

/* Timers add durations to the monotonic clock; ten years keeps every sum far
 * from int64 overflow while refusing nothing anyone means. */
#define FP__DUR_MAX (INT64_C(3650) * 86400 * 1000)
#define FP__CHILDREN_MAX 1024
#define FP__WEIGHT_MAX 1000000
/* The one section whose keys are not in the table: handlers own theirs. */
#define FP__CONFIG_HANDLERS "handlers"

/* The array of tables read by config_schedule.c, not by the schema. */
#define FP__CONFIG_SCHEDULE "schedule"
/* Every schedule's period at least this: ticks are whole seconds apart. */
#define FP__EVERY_MIN_MS 1000

/* Lookups into the table (config_schema.c): NULL / false when absent. */
const fp__ckey_t *fp__config_find_key(const char *section, const char *key);
bool fp__config_is_section(const char *name);
/* The section of a known key written in the wrong one. */
const char *fp__config_home_section(const char *key);

/* The name of an enum value of row k, or "?" when it has none. */
const char *fp__config_enum_name(const fp__ckey_t *k, int value);

/* The field a row describes, inside cfg. */
static inline const void *fp__config_field(const fp_config_t *cfg, const fp__ckey_t *k)
{
    return (const char *)cfg + k->offset;
}

/* Builds the configuration from a parsed document (owned from here on; NULL:
 * the defaults only) named name in messages (config.c). */
int fp__config_build(const char *name, fp_toml_node_t *doc, fp_config_t **out, fp_err_t *err);

/* The nearest of the candidates offered to consider, if close enough to be a
 * typo of word (config_errors.c). */
typedef struct fp__suggest_s {
    const char *word;
    const char *best;
    size_t best_d;
} fp__suggest_t;
void fp__suggest_consider(fp__suggest_t *s, const char *candidate);
const char *fp__config_suggest_key(const char *section, const char *word);
const char *fp__config_suggest_section(const char *word);

/* Texts for messages (config_errors.c): a bounded, printable form of a name
 * from the file; a section name as written when it is a bare key; the range
 * of row k a value v fell outside; row k's choices, quoted. */
const char *fp__config_quote(char *buf, size_t size, const char *s);
const char *fp__config_name_text(char *buf, size_t size, const char *name);
void fp__config_range_text(const fp__ckey_t *k, int64_t v, char *buf, size_t size);
void fp__config_choices_text(const fp__ckey_t *k, char *buf, size_t size);

/* [limits.TYPE] (config_limits.c): the table under [limits] named type,
 * checked and added to cfg->limits.types (errors at file:line:col); the
 * keys such a table takes (NULL-terminated); freeing them. */
int fp__config_type_limit(const char *file, fp_config_t *cfg, const char *type,
                          const fp_toml_node_t *table, fp_err_t *err);
extern const char *const fp__config_type_limit_keys[];
void fp__config_free_type_limits(fp_config_t *cfg);
/* Adds each table to the dump's "limits" object; 0 or -1 (ENOMEM). */
struct cJSON;
int fp__config_type_limits_json(const fp_config_t *cfg, struct cJSON *limits);
/* [[schedule]] (config_schedule.c): reads the "schedule" array of doc into
 * cfg->schedules, once queues.names is final (a schedule's queue must be one
 * of them); errors as "name:line:col: [[schedule]] ...". The free. */
int fp__config_schedules(fp_config_t *cfg, const char *name, fp_err_t *err);
/* config_tls.c: the [redis] tls_* keys go with a rediss:// URL, a client
 * certificate with its key. NULL, or what is wrong with *key. */
const char *fp__config_tls_problem(const fp_config_t *cfg, const char **key);
void fp__config_schedules_free(fp_config_t *cfg);

/* The value checks of the schema's rows (config_check.c). */
int fp__check_redis_url(const void *field, size_t *elem, char *why, size_t size);
int fp__check_prefix(const void *field, size_t *elem, char *why, size_t size);
int fp__check_nonempty(const void *field, size_t *elem, char *why, size_t size);
int fp__check_listen(const void *field, size_t *elem, char *why, size_t size);
int fp__check_sentinels(const void *field, size_t *elem, char *why, size_t size);
int fp__check_cluster(const void *field, size_t *elem, char *why, size_t size);
int fp__check_queue_names(const void *field, size_t *elem, char *why, size_t size);
int fp__check_items_nonempty(const void *field, size_t *elem, char *why, size_t size);
int fp__check_command(const void *field, size_t *elem, char *why, size_t size);
int fp__check_env_names(const void *field, size_t *elem, char *why, size_t size);
/* A name environ can hold: [A-Za-z_][A-Za-z0-9_]*. */
bool fp__env_name_ok(const char *s, size_t n);

#endif
