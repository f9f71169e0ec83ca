/* state_plugin.c: a well-behaved plugin that shows where its state lives,
 * for test_plugin.c and test_it_plugin.c. Built twice (STATE_NAME "state_a"
 * and "state_b"): two loaded plugins must each get their own ctx.
 *
 * init allocates the state (and records the pid it ran in); child_init
 * counts itself and notes the child id; run ("<name>_run") returns
 *   {"plugin": NAME, "runs": N, "child_id": ID, "child_inits": K,
 *    "tag": config.tag, "forked": whether run is in another process than init}
 * where N counts this plugin's runs in this process. Config
 * [handlers.NAME]: tag (any string, echoed back), fail_child_init (a message:
 * child_init fails with it), fini_file (fini appends "fini NAME pid=P
 * runs=N\n" there, so a test sees which process ran it), run_file (each run
 * appends "NAME runs=N child=ID tag=T forked=0|1\n", for tests that only
 * see the daemon from outside), init_file (init writes "euid=E\n" there, so a
 * test sees which user init ran as). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkpool/plugin.h"

#ifndef STATE_NAME
#define STATE_NAME "state_a"
#endif

typedef struct state_s {
    long init_pid;
    long runs;
    long child_inits;
} state_t;

static const char *config_string(const fp_plugin_ctx_t *ctx, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ctx->config, key));
}

static int init(fp_plugin_ctx_t *ctx, char *err, size_t err_size)
{
    state_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    s->init_pid = (long)getpid();
    ctx->state = s;
    const char *path = config_string(ctx, "init_file");
    FILE *f = path != NULL ? fopen(path, "w") : NULL;
    if (f != NULL) {
        fprintf(f, "euid=%ld\n", (long)geteuid());
        fclose(f);
    }
    return 0;
}

static void fini(fp_plugin_ctx_t *ctx)
{
    state_t *s = ctx->state;
    const char *path = config_string(ctx, "fini_file");
    FILE *f = path != NULL ? fopen(path, "a") : NULL;
    if (f != NULL) {
        fprintf(f, "fini %s pid=%ld runs=%ld\n", ctx->name, (long)getpid(), s->runs);
        fclose(f);
    }
    free(s);
    ctx->state = NULL;
}

static int child_init(fp_plugin_ctx_t *ctx, char *err, size_t err_size)
{
    const char *fail = config_string(ctx, "fail_child_init");
    if (fail != NULL) {
        snprintf(err, err_size, "%s", fail);
        return -1;
    }
    state_t *s = ctx->state;
    s->child_inits++;
    return 0;
}

static void run(fp_plugin_ctx_t *ctx, const fp_plugin_job_t *job, fp_plugin_result_t *res)
{
    (void)job;
    state_t *s = ctx->state;
    s->runs++;
    res->result = cJSON_CreateObject();
    cJSON_AddStringToObject(res->result, "plugin", ctx->name);
    cJSON_AddNumberToObject(res->result, "runs", (double)s->runs);
    cJSON_AddNumberToObject(res->result, "child_id", (double)ctx->child_id);
    cJSON_AddNumberToObject(res->result, "child_inits", (double)s->child_inits);
    const char *tag = config_string(ctx, "tag");
    if (tag != NULL)
        cJSON_AddStringToObject(res->result, "tag", tag);
    cJSON_AddBoolToObject(res->result, "forked", s->init_pid != (long)getpid());
    const char *path = config_string(ctx, "run_file");
    FILE *f = path != NULL ? fopen(path, "a") : NULL;
    if (f != NULL) {
        fprintf(f, "%s runs=%ld child=%d tag=%s forked=%d\n", ctx->name, s->runs,
                (int)ctx->child_id, tag != NULL ? tag : "", s->init_pid != (long)getpid());
        fclose(f);
    }
}

static const fp_plugin_handler_t handlers[] = {{STATE_NAME "_run", run}, {NULL, NULL}};

static const fp_plugin_t plugin = {
    .abi_version = FP_PLUGIN_ABI_VERSION,
    .name = STATE_NAME,
    .init = init,
    .child_init = child_init,
    .fini = fini,
    .handlers = handlers,
};

const fp_plugin_t *fp_plugin_entry(void)
{
    return &plugin;
}
