/* fake_plugin.c: broken plugins for test_plugin.c, one per build flag:
 * FAKE_NO_ENTRY (a shared object without fp_plugin_entry), FAKE_ABI=N (built
 * for another ABI version: 1 stands for a plugin built before the context
 * argument, which only differs in what comes after abi_version), FAKE_CLASH
 * (a handler named like the built-in "echo"). */
#include <stddef.h>

#include "forkpool/plugin.h"

#ifndef FAKE_ABI
#define FAKE_ABI FP_PLUGIN_ABI_VERSION
#endif

static void run(fp_plugin_ctx_t *ctx, const fp_plugin_job_t *job, fp_plugin_result_t *res)
{
    (void)ctx;
    (void)job;
    (void)res;
}

static const fp_plugin_handler_t handlers[] = {
#ifdef FAKE_CLASH
    {"echo", run},
#else
    {"fake", run},
#endif
    {NULL, NULL},
};

static const fp_plugin_t plugin = {
    .abi_version = FAKE_ABI,
    .name = "fake",
    .handlers = handlers,
};

#ifdef FAKE_NO_ENTRY
const fp_plugin_t *not_the_entry(void);
const fp_plugin_t *not_the_entry(void)
#else
const fp_plugin_t *fp_plugin_entry(void)
#endif
{
    return &plugin;
}
