/* supervisor.h: the daemon. It owns the libuv loop and wires the pool of
 * children, the queue and the signals together; decisions live in lib/pool,
 * lib/dispatch and lib/queue, and docs/architecture.md names the file for
 * each. Its own files share supervisor_internal.h; supervisor.c says which
 * holds what. */
#ifndef FORKPOOL_SUPERVISOR_H
#define FORKPOOL_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "base/err.h"

typedef struct fp_run_opts_s {
    bool burst;                /* exit 0 once the queues have no ready or pending jobs */
    const char *const *queues; /* override of queues.names, or NULL */
    size_t nqueues;
    int64_t children;          /* override of pool.children (kept across reloads), 0 = none */
    const struct fp_privs_plan_s *privs; /* daemon.user/group, resolved; NULL = stay */
} fp_run_opts_t;

/* Runs until shutdown. Returns 0 after a clean stop, or a negative code with
 * err filled when start-up failed (FP_ECONFIG: a child could not start). */
int fp_supervisor_run(const fp_config_t *cfg, const fp_run_opts_t *opts, fp_err_t *err);

#endif
