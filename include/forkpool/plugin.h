/* plugin.h: the ABI of a forkpool C plugin — a shared object listed in
 * `pool.plugins` that adds job handlers to the native runtime.
 *
 * A plugin exports one function, fp_plugin_entry, returning a static
 * fp_plugin_t. The supervisor dlopen()s the file before the first fork,
 * checks abi_version, calls init once, and registers every handler; each
 * child (a fork of the supervisor) then calls child_init, runs jobs with the
 * handlers' run functions one at a time, and calls child_fini before a clean
 * exit; the supervisor calls fini when it stops, after its children are
 * gone. So:
 *   - init:       heavy, read-only set-up (tables, models, parsed files): done
 *                 once, shared by every child copy-on-write.
 *   - child_init: what must not cross a fork (database connections,
 *                 sockets, threads): one per child.
 *   - child_fini: closes what child_init opened. Not called when the child
 *                 is killed (timeout, crash, SIGKILL).
 *   - fini:       frees what init built; runs only in the supervisor, never
 *                 in a child.
 *
 * Every hook and run get the plugin's own fp_plugin_ctx_t, one per loaded
 * plugin: keep state in ctx->state rather than in globals. What init stores
 * there reaches each child as a copy-on-write copy of the supervisor's; what
 * child_init stores there stays in that child. ctx->config is the plugin's
 * [handlers.NAME] table (NAME = the plugin's name) as JSON, an empty object
 * when the file has none; borrowed, valid for the life of the process.
 *
 * Only fixed-width types, pointers and cJSON (as an opaque tree) cross this
 * boundary; a change to any of it raises FP_PLUGIN_ABI_VERSION, and forkpool
 * refuses a plugin built for another version.
 * History: 1 = run(job, res) and hooks without a context; 2 = fp_plugin_ctx_t
 * everywhere, and fini. */
#ifndef FORKPOOL_PLUGIN_H
#define FORKPOOL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define FP_PLUGIN_ABI_VERSION 2

/* A plugin's context, one per loaded plugin, passed to every call. */
typedef struct fp_plugin_ctx_s {
    const char *name;    /* the plugin's name */
    const cJSON *config; /* its [handlers.NAME] table as JSON, {} when absent */
    int32_t child_id;    /* -1 in the supervisor; in a child its id, as in FORKPOOL_CHILD_ID and the log's "child N" */
    void *state;         /* the plugin's own: whatever init/child_init store here is
                            passed to every later call */
} fp_plugin_ctx_t;

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
    void (*run)(fp_plugin_ctx_t *ctx, const fp_plugin_job_t *job, fp_plugin_result_t *res);
} fp_plugin_handler_t;

/* init and child_init return 0, or non-zero with a message in err (err_size
 * bytes with the NUL). init failing stops forkpool's start-up with that
 * message (exit 78), and fini is not called; child_init failing stops that
 * child (logged with the message; the supervisor restarts it with growing
 * delay), and its child_fini is not called. Any hook may be NULL. */
typedef struct fp_plugin_s {
    uint32_t abi_version; /* FP_PLUGIN_ABI_VERSION; first, so every version can read it */
    const char *name;     /* names the [handlers.NAME] config table and log lines */
    /* supervisor, before the first fork */
    int (*init)(fp_plugin_ctx_t *ctx, char *err, size_t err_size);
    /* each child, after fork */
    int (*child_init)(fp_plugin_ctx_t *ctx, char *err, size_t err_size);
    /* each child, before a clean exit */
    void (*child_fini)(fp_plugin_ctx_t *ctx);
    /* supervisor, at exit */
    void (*fini)(fp_plugin_ctx_t *ctx);
    const fp_plugin_handler_t *handlers; /* ends with {NULL, NULL} */
} fp_plugin_t;

#define FP_PLUGIN_ENTRY_SYMBOL "fp_plugin_entry"

/* The one symbol a plugin exports. */
const fp_plugin_t *fp_plugin_entry(void);

#endif
