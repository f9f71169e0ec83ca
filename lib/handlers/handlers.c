/* handlers.c: the handler registry (a small table filled before the first
 * fork, read-only afterwards) and the built-in handlers noop, sleep, echo and
 * fail. Handlers run inside a child, one job at a time; they borrow the job
 * and its args for the call, report through fp_handler_result_t, and must not
 * touch the supervisor's loop, Redis or SQLite objects. record_event lives in
 * handler_record_event.c. */
#include "handlers/handlers.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLEEP_MAX_MS INT64_C(86400000)

static void fail_with(fp_handler_result_t *res, bool retry, const char *msg)
{
    res->ok = false;
    res->retry = retry;
    snprintf(res->error, sizeof res->error, "%s", msg);
}

static void run_noop(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
    (void)state;
    (void)job;
    (void)args;
    (void)res;
}

/* Sleeps args.ms milliseconds, resuming after signals: only a signal that
 * kills the child (a timeout's SIGTERM) ends it early. */
static void run_sleep(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(args, "ms");
    double v = cJSON_IsNumber(ms) ? ms->valuedouble : -1;
    if (!cJSON_IsNumber(ms) || v != floor(v) || v < 0 || v > (double)SLEEP_MAX_MS) {
        fail_with(res, false, "sleep needs args.ms, an integer from 0 to 86400000");
        return;
    }
    int64_t total = (int64_t)v;
    struct timespec left = {(time_t)(total / 1000), (long)(total % 1000) * 1000000L};
    while (nanosleep(&left, &left) < 0 && errno == EINTR)
        ;
}

/* result = args as JSON text; "null" when the job has none. The text is
 * copied into malloc'd memory because the caller frees it with free(). */
static void run_echo(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
    if (args == NULL) {
        res->result_json = strdup("null");
    } else {
        char *text = cJSON_PrintUnformatted(args);
        res->result_json = text != NULL ? strdup(text) : NULL;
        cJSON_free(text);
    }
    if (res->result_json == NULL)
        fail_with(res, true, "echo: out of memory");
}

/* Fails with args.message; args.percent (0-100, default 100) makes it flaky,
 * failing only that share of the time, to watch retries converge. */
static void run_fail(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(args, "message");
    const cJSON *retry = cJSON_GetObjectItemCaseSensitive(args, "retry");
    const cJSON *percent = cJSON_GetObjectItemCaseSensitive(args, "percent");
    if (cJSON_IsNumber(percent) && rand() % 100 >= percent->valueint)
        return;
    fail_with(res, cJSON_IsBool(retry) ? cJSON_IsTrue(retry) : true,
              cJSON_IsString(message) ? message->valuestring : "failed on purpose");
}

/* Kills its own child with args.signal (default SIGSEGV), so a deployment can
 * watch crash handling, retries and dead letters work before real code
 * crashes; "flaky": only when args.percent (0-100, default 100) of a roll says so. */
static void run_crash(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
    (void)state;
    (void)job;
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(args, "signal");
    const cJSON *percent = cJSON_GetObjectItemCaseSensitive(args, "percent");
    int signum = cJSON_IsNumber(sig) && sig->valueint > 0 && sig->valueint < 32 ? sig->valueint
                                                                                : SIGSEGV;
    int chance = cJSON_IsNumber(percent) ? percent->valueint : 100;
    if (rand() % 100 < chance) {
        signal(signum, SIG_DFL);
        raise(signum);
    }
    (void)res; /* survived the roll: success */
}

static const fp_handler_t handler_noop = {"noop", NULL, run_noop, NULL};
static const fp_handler_t handler_crash = {"crash", NULL, run_crash, NULL};
static const fp_handler_t handler_sleep = {"sleep", NULL, run_sleep, NULL};
static const fp_handler_t handler_echo = {"echo", NULL, run_echo, NULL};
static const fp_handler_t handler_fail = {"fail", NULL, run_fail, NULL};

void fp_registry_init_builtin(fp_registry_t *reg)
{
    static const fp_handler_t *const builtin[] = {&handler_noop, &handler_sleep, &handler_echo,
                                                  &handler_fail, &handler_crash,
                                                  &fp_handler_record_event};
    memset(reg, 0, sizeof *reg);
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        reg->handlers[reg->count++] = builtin[i];
}

int fp_registry_add(fp_registry_t *reg, const fp_handler_t *handler, fp_err_t *err)
{
    if (handler == NULL || handler->name == NULL || handler->name[0] == '\0' ||
        handler->run == NULL)
        return fp_err_set(err, FP_ECONFIG, "a handler needs a name and a run function");
    if (fp_registry_find(reg, handler->name) != NULL)
        return fp_err_set(err, FP_ECONFIG, "handler \"%s\" is already registered", handler->name);
    if (reg->count >= FP_REGISTRY_MAX)
        return fp_err_set(err, FP_ECONFIG, "cannot register handler \"%s\": the table is full (%d)",
                          handler->name, FP_REGISTRY_MAX);
    reg->handlers[reg->count++] = handler;
    return 0;
}

const fp_handler_t *fp_registry_find(const fp_registry_t *reg, const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < reg->count; i++)
        if (strcmp(reg->handlers[i]->name, name) == 0)
            return reg->handlers[i];
    return NULL;
}

bool fp_handler_label_known(const fp_registry_t *reg, const fp_config_t *cfg, const char *type,
                            bool ran_ok, bool labelled)
{
    if (type == NULL)
        return false;
    if (fp_config_handler_table(cfg, type) != NULL)
        return true;
    if (cfg->pool.runtime == FP_RUNTIME_NATIVE)
        return fp_registry_find(reg, type) != NULL;
    return ran_ok || labelled;
}

int fp_registry_prepare(const fp_registry_t *reg, const fp_config_t *cfg, fp_err_t *err)
{
    /* exec children run a program of their own, not these handlers. */
    if (cfg->pool.runtime == FP_RUNTIME_EXEC ||
        fp_registry_find(reg, fp_handler_record_event.name) != &fp_handler_record_event)
        return 0;
    return fp_record_event_prepare(fp_config_handler_table(cfg, fp_handler_record_event.name), err);
}
