/* plugin.h: the ABI of a forkpool C plugin — a shared object listed in
 * `pool.plugins` that adds job handlers to the native runtime.
 *
 * A plugin exports one function, fp_plugin_entry, returning a static
 * fp_plugin_t. The supervisor dlopen()s the file before the first fork,
 * checks abi_version, calls init once, and registers every handler; each
 * child (a fork of the supervisor) then calls child_init, runs jobs with the
 * handlers' run functions one at a time, and calls child_fini before a clean
 * exit. So:
 *   - init:       heavy, read-only set-up (tables, models, parsed files): done
 *                 once, shared by every child copy-on-write.
 *   - child_init: what must not cross a fork (database connections,
 *                 sockets, threads): one per child.
 * config is the plugin's own [handlers.NAME] table (NAME = the plugin's
 * name) as JSON, an empty object when the file has none; it is borrowed for
 * the call and stays valid for the life of the process.
 *
 * Only fixed-width types, pointers and cJSON (as an opaque tree) cross this
 * boundary; a change to any of it raises FP_PLUGIN_ABI_VERSION, and forkpool
 * refuses a plugin built for another version. */
#ifndef FORKPOOL_PLUGIN_H
#define FORKPOOL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define FP_PLUGIN_ABI_VERSION 1

/* One job, borrowed for the call to run. */
typedef struct fp_plugin_job_s {
    const char *type;   /* the handler's name */
    const char *id;     /* the job's "id", or NULL */
    int64_t attempt;    /* 1 on the first run, 2 on the first retry... */
    const cJSON *args;  /* the job's "args", or NULL */
} fp_plugin_job_t;

/* What run reports. It arrives with ok = 1, retry = 1, error = "" and
 * result = NULL. On failure: set ok = 0, write the reason into error (at
 * most error_size bytes with the NUL: snprintf(res->error, res->error_size,
 * ...)), and set retry = 0 if trying again cannot help. On success, result
 * may be set to a cJSON tree the plugin allocated (cJSON_CreateObject...):
 * forkpool takes it, prints it into the job's outcome and cJSON_Delete()s
 * it; the plugin must not keep or free it. A result set on failure is
 * deleted too, and ignored. */
typedef struct fp_plugin_result_s {
    int32_t ok;
    int32_t retry;
    char *error;
    size_t error_size;
    cJSON *result;
} fp_plugin_result_t;

typedef struct fp_plugin_handler_s {
    const char *type; /* the job type it serves: unique across built-ins and plugins */
    void (*run)(const fp_plugin_job_t *job, fp_plugin_result_t *res);
} fp_plugin_handler_t;

/* Hooks return 0, or non-zero with a message in err (err_size bytes with the
 * NUL). init failing stops forkpool's start-up with that message (exit 78);
 * child_init failing stops that child. Any hook may be NULL. */
typedef struct fp_plugin_s {
    uint32_t abi_version; /* FP_PLUGIN_ABI_VERSION; first, so every version can read it */
    const char *name;     /* names the [handlers.NAME] config table and log lines */
    int (*init)(const cJSON *config, char *err, size_t err_size);
    int (*child_init)(const cJSON *config, char *err, size_t err_size);
    void (*child_fini)(void);
    const fp_plugin_handler_t *handlers; /* ends with {NULL, NULL} */
} fp_plugin_t;

#define FP_PLUGIN_ENTRY_SYMBOL "fp_plugin_entry"

/* The one symbol a plugin exports. */
const fp_plugin_t *fp_plugin_entry(void);

#endif
