/* spawn.h: the only place that forks. Every child, at start-up or as a
 * replacement, native or exec, is made by fp_spawn through one procedure
 * (spawn.c, child_start's numbered steps): CLOEXEC socketpair, signals blocked across fork, fork lock,
 * and in the child: default signal dispositions, an empty mask, fds 0-3 only. */
#ifndef FORKPOOL_SPAWN_H
#define FORKPOOL_SPAWN_H

#include <sys/types.h>

#include "config/config.h"
#include "base/err.h"
#include "handlers/handlers.h"

typedef struct fp_child_spec_s {
    int child_id;                  /* stable slot number: logs, FORKPOOL_CHILD_ID */
    const fp_config_t *cfg;        /* runtime, command, handler tables, limits */
    const fp_registry_t *handlers; /* native runtime */
} fp_child_spec_t;

/* Forks one child. On success *pid is the child's pid and *fd the
 * supervisor's end of the dispatch socket (CLOEXEC, non-blocking). The child
 * never returns: native children run fp_child_main, exec children exec
 * cfg->pool.command with the socket on fd 3. An exec that fails (command not
 * found) is reported here as FP_ECONFIG with the reason, not as a crash. */
int fp_spawn(const fp_child_spec_t *spec, pid_t *pid, int *fd, fp_err_t *err);
/* fp_spawn, and for an exec child its stdout and stderr captured: *out_fd is
 * the read end of a pipe (CLOEXEC, owned by the caller) that carries both,
 * or -1 for a native child, whose output stays the supervisor's. */
int fp_spawn_output(const fp_child_spec_t *spec, pid_t *pid, int *fd, int *out_fd,
                    fp_err_t *err);

/* A child's environment: parent's entries except forkpool's own FORKPOOL_*
 * variables (which may hold the Redis password) unless pass names them, then
 * set's "NAME=value" entries and extra's (NULL-terminated, may be NULL),
 * each replacing an inherited entry of the same name. A NULL-terminated
 * array of borrowed strings; free() only the array. NULL on ENOMEM. */
char **fp_spawn_env(const char *const *parent, const fp_strv_t *pass, const fp_strv_t *set,
                    const char *const *extra);

/* The fork lock: threads that hold library locks (SQLite, the ledger) take
 * the read side around those calls so that fork never copies a held lock. */
void fp_spawn_fork_lock_read(void);
void fp_spawn_fork_unlock_read(void);

#endif
