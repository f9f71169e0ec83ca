/* plugin_loader.c: C plugins. The supervisor dlopen()s each shared object of
 * pool.plugins before the first fork, runs its init there (so what init
 * builds is shared by every child copy-on-write) and registers one adapter
 * handler per plugin handler; children inherit all of it through fork.
 *
 * Each plugin has one fp_plugin_ctx_t, kept here: init fills it in the
 * supervisor, each child gets a copy-on-write copy through fork and sets its
 * child_id, so state never mixes between plugins nor leaks back from a child.
 *
 * fp_handler_t carries no context pointer, so the adapters find their plugin
 * through the one loaded set (g_active): run looks the job's type up (the
 * child only calls a handler for jobs of its own type), and the first plugin
 * handler alone has child_init/child_fini, which run every plugin's
 * child_init in load order and child_fini in reverse. fini runs only in the
 * process that loaded the set (owner): a child that somehow reached
 * fp_plugins_free must not tear down what the supervisor still uses. */
#include "handlers/plugin_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "pool/child.h"
#include "dispatch/job.h"
#include "base/log.h"
#include "forkpool/plugin.h"
#include "toml/toml.h"

typedef const fp_plugin_t *(*entry_fn)(void);

typedef struct plugin_s {
    char *path;
    void *dl;
    const fp_plugin_t *api;
    cJSON *config; /* its [handlers.NAME] table as JSON, {} when absent */
    fp_plugin_ctx_t ctx;
    bool inited; /* init succeeded (or there is none): fini is owed */
} plugin_t;

typedef struct adapter_s {
    fp_handler_t handler; /* what the registry points at */
    const fp_plugin_handler_t *ph;
    size_t plugin; /* index into items */
} adapter_t;

struct fp_plugins_s {
    plugin_t *items;
    size_t count;
    adapter_t adapters[FP_REGISTRY_MAX]; /* stable addresses for the registry */
    size_t nadapters;
    size_t child_inited; /* in a child: plugins [0, child_inited) ran child_init */
    pid_t owner;         /* the process that loaded them: the only one to call fini */
};

static fp_plugins_t *g_active;

static void child_fini_all(fp_plugins_t *p)
{
    while (p->child_inited > 0) {
        plugin_t *pl = &p->items[--p->child_inited];
        if (pl->api->child_fini != NULL)
            pl->api->child_fini(&pl->ctx);
    }
}

static int adapter_child_init(const fp_toml_node_t *table, void **state, fp_err_t *err)
{
    (void)table;
    fp_plugins_t *p = g_active;
    *state = p;
    for (size_t i = 0; i < p->count; i++)
        p->items[i].ctx.child_id = fp_child_id();
    for (size_t i = 0; i < p->count; i++) {
        plugin_t *pl = &p->items[i];
        char msg[FP_ERR_MSG_MAX] = "";
        if (pl->api->child_init != NULL && pl->api->child_init(&pl->ctx, msg, sizeof msg) != 0) {
            child_fini_all(p);
            msg[sizeof msg - 1] = '\0';
            return fp_err_set(err, FP_ECONFIG, "plugin %s: %s", pl->api->name,
                              msg[0] != '\0' ? msg : "child_init failed");
        }
        p->child_inited = i + 1;
    }
    return 0;
}

static void adapter_child_fini(void *state)
{
    child_fini_all(state);
}

static const adapter_t *find_adapter(const fp_plugins_t *p, const char *type)
{
    for (size_t i = 0; p != NULL && type != NULL && i < p->nadapters; i++)
        if (strcmp(p->adapters[i].ph->type, type) == 0)
            return &p->adapters[i];
    return NULL;
}

/* The job's "attempt", read defensively: a double out of int64_t's range
 * must never reach a cast (undefined behaviour). */
static int64_t attempt_of(const cJSON *attempt)
{
    double v = cJSON_IsNumber(attempt) ? attempt->valuedouble : 0;
    return v >= 0 && v <= 1e9 ? (int64_t)v : 0;
}

static void adapter_run(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
    (void)state;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(job, "type");
    fp_plugins_t *p = g_active;
    const adapter_t *a = find_adapter(p, cJSON_GetStringValue(type));
    if (a == NULL) {
        res->ok = false;
        res->retry = false;
        snprintf(res->error, sizeof res->error, "no plugin serves this job's type");
        return;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(job, "id");
    const cJSON *attempt = cJSON_GetObjectItemCaseSensitive(job, "attempt");
    char id_text[32];
    const char *id_str = cJSON_GetStringValue(id);
    if (cJSON_IsNumber(id)) {
        snprintf(id_text, sizeof id_text, "%.0f", id->valuedouble);
        id_str = id_text;
    }
    fp_plugin_job_t pj = {
        .type = a->ph->type,
        .id = id_str,
        .attempt = 1 + attempt_of(attempt),
        .args = args,
    };
    fp_plugin_result_t pr = {1, 1, res->error, sizeof res->error, NULL};
    a->ph->run(&p->items[a->plugin].ctx, &pj, &pr);
    res->ok = pr.ok != 0;
    res->retry = pr.retry != 0;
    res->error[sizeof res->error - 1] = '\0';
    if (pr.result != NULL && res->ok) {
        char *text = cJSON_PrintUnformatted(pr.result);
        res->result_json = text != NULL ? strdup(text) : NULL;
        cJSON_free(text);
        if (res->result_json == NULL) {
            res->ok = false;
            snprintf(res->error, sizeof res->error, "out of memory printing the result");
        }
    }
    cJSON_Delete(pr.result);
    if (!res->ok && res->error[0] == '\0')
        snprintf(res->error, sizeof res->error, "handler \"%s\" failed without a message",
                 a->ph->type);
}

/* "built-in" or "plugin NAME (PATH)" for the handler registered as type. */
static void owner_of(const fp_plugins_t *p, const char *type, char *out, size_t size)
{
    const adapter_t *a = find_adapter(p, type);
    if (a == NULL)
        snprintf(out, size, "the built-in handler \"%s\"", type);
    else
        snprintf(out, size, "handler \"%s\" of plugin %s (%s)", type,
                 p->items[a->plugin].api->name, p->items[a->plugin].path);
}

/* Opens path and checks what it exports; pl->dl is set as soon as it is open. */
static int open_plugin(plugin_t *pl, const char *path, fp_err_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return fp_err_set(err, FP_ECONFIG, "plugin %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fp_err_set(err, FP_ECONFIG, "plugin %s: not a regular file", path);
    /* A name without '/' would be searched for in the library path. */
    char local[4096];
    snprintf(local, sizeof local, "%s%s", strchr(path, '/') != NULL ? "" : "./", path);
    pl->dl = dlopen(local, RTLD_NOW | RTLD_LOCAL);
    if (pl->dl == NULL) {
        const char *why = dlerror();
        return fp_err_set(err, FP_ECONFIG, "plugin %s: cannot load it: %s", path,
                          why != NULL ? why : "unknown dlopen error");
    }
    dlerror();
    void *sym = dlsym(pl->dl, FP_PLUGIN_ENTRY_SYMBOL);
    if (sym == NULL)
        return fp_err_set(err, FP_ECONFIG,
                          "plugin %s: no \"%s\" symbol: not a forkpool plugin, or built without "
                          "exporting it",
                          path, FP_PLUGIN_ENTRY_SYMBOL);
    entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    pl->api = entry();
    if (pl->api == NULL)
        return fp_err_set(err, FP_ECONFIG, "plugin %s: %s() returned NULL", path,
                          FP_PLUGIN_ENTRY_SYMBOL);
    if (pl->api->abi_version != FP_PLUGIN_ABI_VERSION)
        return fp_err_set(err, FP_ECONFIG,
                          "plugin %s: built for ABI %u, this forkpool speaks %d; rebuild it "
                          "against this forkpool's forkpool/plugin.h",
                          path, (unsigned)pl->api->abi_version, FP_PLUGIN_ABI_VERSION);
    if (pl->api->name == NULL || pl->api->name[0] == '\0')
        return fp_err_set(err, FP_ECONFIG, "plugin %s: it has no name", path);
    if (pl->api->handlers == NULL || pl->api->handlers[0].type == NULL)
        return fp_err_set(err, FP_ECONFIG, "plugin %s (%s): it has no handlers", pl->api->name,
                          path);
    return 0;
}

/* Every handler of the plugin being loaded (the last item) must be well
 * formed and have a name nobody else has, before its init runs. */
static int check_handlers(const fp_plugins_t *p, const fp_registry_t *reg, fp_err_t *err)
{
    const plugin_t *pl = &p->items[p->count - 1];
    size_t n = 0;
    for (const fp_plugin_handler_t *h = pl->api->handlers; h->type != NULL; h++, n++) {
        if (h->type[0] == '\0' || strlen(h->type) > FP_JOB_TYPE_MAX || h->run == NULL)
            return fp_err_set(err, FP_ECONFIG,
                              "plugin %s (%s): handler %zu needs a type of 1 to %d bytes and a "
                              "run function",
                              pl->api->name, pl->path, n + 1, FP_JOB_TYPE_MAX);
        for (const fp_plugin_handler_t *o = pl->api->handlers; o != h; o++)
            if (strcmp(o->type, h->type) == 0)
                return fp_err_set(err, FP_ECONFIG, "plugin %s (%s): handler \"%s\" is listed twice",
                                  pl->api->name, pl->path, h->type);
        if (fp_registry_find(reg, h->type) != NULL) {
            char owner[600];
            owner_of(p, h->type, owner, sizeof owner);
            return fp_err_set(err, FP_ECONFIG, "plugin %s (%s): handler \"%s\" clashes with %s",
                              pl->api->name, pl->path, h->type, owner);
        }
    }
    if (reg->count + n > FP_REGISTRY_MAX)
        return fp_err_set(err, FP_ECONFIG, "plugin %s (%s): too many handlers (at most %d in all)",
                          pl->api->name, pl->path, FP_REGISTRY_MAX);
    return 0;
}

static int load_one(fp_plugins_t *p, const fp_config_t *cfg, const char *path,
                    fp_registry_t *reg, fp_err_t *err)
{
    plugin_t *pl = &p->items[p->count++];
    if ((pl->path = strdup(path)) == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = open_plugin(pl, path, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i + 1 < p->count; i++)
        if (strcmp(p->items[i].api->name, pl->api->name) == 0)
            return fp_err_set(err, FP_ECONFIG, "plugins %s and %s are both named \"%s\"",
                              p->items[i].path, path, pl->api->name);
    if ((rc = check_handlers(p, reg, err)) < 0)
        return rc;

    const fp_toml_node_t *table = fp_config_handler_table(cfg, pl->api->name);
    pl->config = table != NULL ? fp_toml_to_json(table, false) : cJSON_CreateObject();
    if (pl->config == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    pl->ctx = (fp_plugin_ctx_t){.name = pl->api->name, .config = pl->config};
    char msg[FP_ERR_MSG_MAX] = "";
    if (pl->api->init != NULL && pl->api->init(&pl->ctx, msg, sizeof msg) != 0) {
        msg[sizeof msg - 1] = '\0';
        return fp_err_set(err, FP_ECONFIG, "plugin %s (%s): init failed: %s", pl->api->name,
                          path, msg[0] != '\0' ? msg : "no reason given");
    }
    pl->inited = true;

    size_t first_adapter = p->nadapters;
    for (const fp_plugin_handler_t *h = pl->api->handlers; h->type != NULL; h++) {
        adapter_t *a = &p->adapters[p->nadapters];
        bool first = p->nadapters == 0;
        *a = (adapter_t){
            .handler = {h->type, first ? adapter_child_init : NULL, adapter_run,
                        first ? adapter_child_fini : NULL},
            .ph = h,
            .plugin = p->count - 1,
        };
        if ((rc = fp_registry_add(reg, &a->handler, err)) < 0)
            return rc;
        p->nadapters++;
    }
    fp_log_info("plugin", "loaded %s (%s): %zu handler%s", pl->api->name, path,
                p->nadapters - first_adapter, p->nadapters - first_adapter == 1 ? "" : "s");
    return 0;
}

int fp_plugins_load(const fp_config_t *cfg, fp_registry_t *reg, fp_plugins_t **out,
                    fp_err_t *err)
{
    *out = NULL;
    size_t n = cfg->pool.plugins.count;
    if (n == 0)
        return 0;
    if (g_active != NULL)
        return fp_err_set(err, FP_ECONFIG, "plugins are already loaded in this process");
    fp_plugins_t *p = calloc(1, sizeof *p);
    if (p == NULL || (p->items = calloc(n, sizeof *p->items)) == NULL) {
        free(p);
        return fp_err_set(err, -ENOMEM, "out of memory");
    }
    g_active = p;
    p->owner = getpid();
    size_t reg_count = reg->count;
    for (size_t i = 0; i < n; i++) {
        int rc = load_one(p, cfg, cfg->pool.plugins.items[i], reg, err);
        if (rc < 0) {
            reg->count = reg_count; /* drop the adapters about to be freed */
            fp_plugins_free(p);
            return rc;
        }
    }
    *out = p;
    return 0;
}

void fp_plugins_free(fp_plugins_t *p)
{
    if (p == NULL)
        return;
    if (g_active == p)
        g_active = NULL;
    bool owner = getpid() == p->owner;
    for (size_t i = p->count; i-- > 0;) {
        plugin_t *pl = &p->items[i];
        if (owner && pl->inited && pl->api->fini != NULL)
            pl->api->fini(&pl->ctx);
        cJSON_Delete(p->items[i].config);
        if (p->items[i].dl != NULL)
            dlclose(p->items[i].dl);
        free(p->items[i].path);
    }
    free(p->items);
    free(p);
}
