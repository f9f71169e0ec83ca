/* setup_cost.c: a plugin whose set-up costs [handlers.setup_cost] ms
 * milliseconds (50 by default), paid where `where` says: "init" (once, in the
 * supervisor, before forking: shared copy-on-write), "child_init" (once per
 * child) or "job" (on every job, as RQ's fork-per-job model pays it).
 * scripts/bench.sh --setup runs it three ways to show the before-fork lesson. */
#include <string.h>
#include <time.h>

#include <forkpool/plugin.h>

static long cost_ms = 50;
static char where[16] = "init";
static int ready; /* the set-up has been paid in this process */

static void pay(void)
{
    struct timespec ts = {cost_ms / 1000, (cost_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    ready = 1;
}

static int init(const cJSON *config, char *err, size_t err_size)
{
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(config, "ms");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(config, "where");
    if (cJSON_IsNumber(ms))
        cost_ms = (long)ms->valuedouble;
    if (cJSON_IsString(w))
        strncpy(where, w->valuestring, sizeof where - 1);
    if (strcmp(where, "init") != 0 && strcmp(where, "child_init") != 0 && strcmp(where, "job") != 0) {
        strncpy(err, "where must be init, child_init or job", err_size - 1);
        return -1;
    }
    if (strcmp(where, "init") == 0)
        pay();
    return 0;
}

static int child_init(const cJSON *config, char *err, size_t err_size)
{
    (void)config;
    (void)err;
    (void)err_size;
    if (strcmp(where, "child_init") == 0)
        pay();
    return 0;
}

static void run(const fp_plugin_job_t *job, fp_plugin_result_t *res)
{
    (void)job;
    if (strcmp(where, "job") == 0)
        pay();
    res->ok = ready;
}

static const fp_plugin_handler_t handlers[] = {{"setup_cost", run}, {NULL, NULL}};
static const fp_plugin_t plugin = {FP_PLUGIN_ABI_VERSION, "setup_cost", init, child_init, NULL,
                                   handlers};

const fp_plugin_t *fp_plugin_entry(void)
{
    return &plugin;
}
