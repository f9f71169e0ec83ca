/* restart.c: the reasons a child is replaced or restarted (see restart.h). */
#include "supervisor/restart.h"

#include <sys/wait.h>

#include "pool/child.h"

bool fp_restart_retire_reason(const fp_slot_t *slot, uint32_t generation,
                              int64_t max_memory_bytes, fp_metrics_restart_t *reason)
{
    int64_t max_kb = max_memory_bytes / 1024;
    if (slot->generation != generation) {
        *reason = FP_RESTART_RELOAD;
        return true;
    }
    if (slot->max_jobs > 0 && slot->jobs_done >= slot->max_jobs) {
        *reason = FP_RESTART_MAX_JOBS;
        return true;
    }
    if (max_kb > 0 && slot->rss_kb > max_kb) {
        *reason = FP_RESTART_MAX_MEMORY;
        return true;
    }
    return false;
}

const char *fp_restart_retire_text(fp_metrics_restart_t reason)
{
    switch (reason) {
    case FP_RESTART_RELOAD:
        return "a reload";
    case FP_RESTART_MAX_MEMORY:
        return "max_memory_per_child";
    case FP_RESTART_MAX_JOBS:
        return "max_jobs_per_child";
    default:
        return "?"; /* not a reason to replace a live child */
    }
}

fp_metrics_restart_t fp_restart_exit_reason(const fp_slot_t *slot, int status)
{
    bool init_failed = WIFEXITED(status) && WEXITSTATUS(status) == FP_CHILD_EXIT_INIT_FAILED;
    if (slot->timed_out)
        return FP_RESTART_TIMEOUT;
    return init_failed || slot->start_timed_out ? FP_RESTART_INIT_FAILED : FP_RESTART_CRASH;
}
