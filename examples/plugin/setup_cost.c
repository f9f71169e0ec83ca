/* setup_cost.c: a plugin whose set-up costs [handlers.setup_cost] ms
 * milliseconds (50 by default), paid where `where` says: "init" (once, in the
 * supervisor, before forking: shared copy-on-write), "child_init" (once per
 * child) or "job" (on every job, as RQ's fork-per-job model pays it).
 * scripts/bench.sh --setup runs it three ways to show the before-fork lesson.
 * Its settings live in ctx->state: init allocates them, every child works on
 * its own copy, fini frees the supervisor's. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <forkpool/plugin.h>

typedef struct cost_s {
    long ms;
    char where[16];
    int ready; /* the set-up has been paid in this process */
} cost_t;

static void pay(cost_t *c)
{
    struct timespec ts = {c->ms / 1000, (c->ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    c->ready = 1;
}

static int init(fp_plugin_ctx_t *ctx, char *err, size_t err_size)
{
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(ctx->config, "ms");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(ctx->config, "where");
    cost_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        strncpy(err, "out of memory", err_size - 1);
        return -1;
    }
    c->ms = cJSON_IsNumber(ms) ? (long)ms->valuedouble : 50;
    strncpy(c->where, cJSON_IsString(w) ? w->valuestring : "init", sizeof c->where - 1);
    if (strcmp(c->where, "init") != 0 && strcmp(c->where, "child_init") != 0 &&
        strcmp(c->where, "job") != 0) {
        free(c);
        strncpy(err, "where must be init, child_init or job", err_size - 1);
        return -1;
    }
    if (strcmp(c->where, "init") == 0)
        pay(c);
    ctx->state = c;
    return 0;
}

static void fini(fp_plugin_ctx_t *ctx)
{
    free(ctx->state);
    ctx->state = NULL;
}

static int child_init(fp_plugin_ctx_t *ctx, char *err, size_t err_size)
{
    (void)err;
    (void)err_size;
    cost_t *c = ctx->state;
    if (strcmp(c->where, "child_init") == 0)
        pay(c);
    return 0;
}

static void run(fp_plugin_ctx_t *ctx, const fp_plugin_job_t *job, fp_plugin_result_t *res)
{
    (void)job;
    cost_t *c = ctx->state;
    if (strcmp(c->where, "job") == 0)
        pay(c);
    res->ok = c->ready;
}

static const fp_plugin_handler_t handlers[] = {{"setup_cost", run}, {NULL, NULL}};
static const fp_plugin_t plugin = {
    .abi_version = FP_PLUGIN_ABI_VERSION,
    .name = "setup_cost",
    .init = init,
    .child_init = child_init,
    .fini = fini,
    .handlers = handlers,
};

const fp_plugin_t *fp_plugin_entry(void)
{
    return &plugin;
}
