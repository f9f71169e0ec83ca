/* latency_probe.c: a forkpool plugin (ABI 2) that measures the time from a
 * job's XADD to its handler starting.
 *
 * Job:    {"type": "latency_probe", "args": {"t": "<CLOCK_MONOTONIC ns>"}}
 * Config: [handlers.latency_probe] file = "/path/samples.bin"
 *
 * The sender (bench/latency_send.c) stamps "t" just before its XADD. The
 * first thing run does is read the same clock, so the sample covers Redis,
 * the supervisor's pull and the hand-over to a child, and nothing of the
 * handler. CLOCK_MONOTONIC is one system-wide clock on Linux, so stamps from
 * another process compare directly. "t" is a string because cJSON keeps
 * numbers as doubles, exact only up to 2^53 ns (104 days of uptime).
 *
 * Each sample is appended as one native int64 (ns) by one 8-byte write on an
 * O_APPEND fd: appends of that size from several children never interleave,
 * and no buffer is left unflushed when a child is killed. The fd is opened
 * in child_init, never in the supervisor, so no child shares a file offset
 * across fork. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <forkpool/plugin.h>

typedef struct probe_s {
    int fd;
} probe_t;

static const char *sample_path(const fp_plugin_ctx_t *ctx)
{
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(ctx->config, "file");
    return cJSON_IsString(file) && file->valuestring[0] != '\0' ? file->valuestring : NULL;
}

/* Refuse a missing path at start-up rather than in every child. */
static int init(fp_plugin_ctx_t *ctx, char *err, size_t err_size)
{
    if (sample_path(ctx) == NULL) {
        snprintf(err, err_size, "[handlers.latency_probe] file (a path) is required");
        return -1;
    }
    return 0;
}

static int child_init(fp_plugin_ctx_t *ctx, char *err, size_t err_size)
{
    probe_t *p = malloc(sizeof *p);
    if (p == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    p->fd = open(sample_path(ctx), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (p->fd < 0) {
        snprintf(err, err_size, "open %s: %s", sample_path(ctx), strerror(errno));
        free(p);
        return -1;
    }
    ctx->state = p;
    return 0;
}

static void child_fini(fp_plugin_ctx_t *ctx)
{
    probe_t *p = ctx->state;
    if (p == NULL)
        return;
    close(p->fd);
    free(p);
    ctx->state = NULL;
}

static void run(fp_plugin_ctx_t *ctx, const fp_plugin_job_t *job, fp_plugin_result_t *res)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    probe_t *p = ctx->state;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(job->args, "t");
    int64_t sent_ns;
    if (cJSON_IsString(t))
        sent_ns = strtoll(t->valuestring, NULL, 10);
    else if (cJSON_IsNumber(t))
        sent_ns = (int64_t)t->valuedouble;
    else {
        res->ok = 0;
        res->retry = 0;
        snprintf(res->error, res->error_size, "latency_probe needs args.t (monotonic ns)");
        return;
    }
    int64_t sample = now_ns - sent_ns;
    if (write(p->fd, &sample, sizeof sample) != (ssize_t)sizeof sample) {
        res->ok = 0;
        res->retry = 0; /* a retry would measure the retry, not the first start */
        snprintf(res->error, res->error_size, "latency_probe: write: %s", strerror(errno));
    }
}

static const fp_plugin_handler_t handlers[] = {{"latency_probe", run}, {NULL, NULL}};
static const fp_plugin_t plugin = {FP_PLUGIN_ABI_VERSION, "latency_probe", init, child_init,
                                   child_fini, NULL, handlers};

const fp_plugin_t *fp_plugin_entry(void)
{
    return &plugin;
}
