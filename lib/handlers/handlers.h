/* handlers.h: what runs a job inside a child. A handler is a name plus three
 * functions; the registry maps job types to handlers. Built-in handlers live
 * in handlers.c and handler_record_event.c; plugins (later) add entries to
 * the same registry before the first fork. */
#ifndef FORKPOOL_HANDLERS_H
#define FORKPOOL_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "base/err.h"

typedef struct fp_handler_result_s {
    bool ok;
    bool retry;         /* on failure: may it be retried? defaults to true */
    char error[512];    /* on failure: the reason */
    char *result_json;  /* on success: JSON text (malloc'd, taken by the caller) or NULL */
} fp_handler_result_t;

typedef struct fp_handler_s {
    const char *name;
    /* In each child after fork, before "ready". table is [handlers.NAME] or
     * NULL. Sets *state for run/child_fini. Non-zero stops the child (exit 78). */
    int (*child_init)(const fp_toml_node_t *table, void **state, fp_err_t *err);
    /* Runs one job. job is the whole job object, args its "args" member or NULL
     * (both borrowed for the call). res arrives zeroed with ok = true. */
    void (*run)(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res);
    /* In each child before a clean exit. */
    void (*child_fini)(void *state);
} fp_handler_t;

#define FP_REGISTRY_MAX 256

typedef struct fp_registry_s {
    const fp_handler_t *handlers[FP_REGISTRY_MAX];
    size_t count;
} fp_registry_t;

/* Fills reg with the built-in handlers: noop, sleep, echo, fail, record_event. */
void fp_registry_init_builtin(fp_registry_t *reg);

/* Adds a handler; FP_ECONFIG when the name is taken or the table is full. */
int fp_registry_add(fp_registry_t *reg, const fp_handler_t *handler, fp_err_t *err);

const fp_handler_t *fp_registry_find(const fp_registry_t *reg, const char *name);

/* Whether job type earns its own metrics label, rather than "other": types
 * come from producers, so a label per type seen would let junk grow /metrics
 * without bound. Known: a [handlers.TYPE] table in cfg; with the native
 * runtime, a registered handler; with the exec runtime (whose handlers the
 * supervisor cannot list), a type a worker has run successfully (ran_ok for
 * this outcome, or labelled already: a set for it exists). NULL is unknown. */
bool fp_handler_label_known(const fp_registry_t *reg, const fp_config_t *cfg, const char *type,
                            bool ran_ok, bool labelled);

/* In the supervisor before the first fork (native runtime): the one-time
 * set-up of registered handlers that children starting together would race
 * for. Returns 0 or negative with err; children still run their own
 * child_init, which meets (and reports) the same failure. */
int fp_registry_prepare(const fp_registry_t *reg, const fp_config_t *cfg, fp_err_t *err);

/* The record_event handler, exposed for its unit test; its table and its
 * INSERT, also run by the SQLite ceiling in bench/. fp_record_event_prepare
 * creates the database of [handlers.record_event] (table may be NULL) in
 * WAL mode with its table, so that children only open it. */
extern const fp_handler_t fp_handler_record_event;
int fp_record_event_prepare(const fp_toml_node_t *table, fp_err_t *err);
extern const char fp_record_event_create_sql[];
extern const char fp_record_event_insert_sql[];

#endif
