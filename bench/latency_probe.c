/* latency_probe.c: a forkpool plugin (ABI 2) that measures the time from a
 * job's XADD to its handler starting.
 *
 * Job:    {"type": "latency_probe", "args": {"t": "<CLOCK_MONOTONIC ns>"}}
 *         optional in args: "ms" (sleep that long after the stamp, as the
 *         built-in sleep handler does) and "i" (the job's place in the
 *         producer's order, copied into the trace)
 * Config: [handlers.latency_probe] file = "/path/samples.bin" and/or
 *         trace = "/path/trace.bin" (at least one)
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
 * across fork.
 *
 * The trace (bench/steer.sh's mixed run) is one fp_probe_trace_t per job,
 * written the same way after the job's sleep: sent, start and end stamps,
 * the producer's order and the child's pid, from which bench/mixed_report.py
 * rebuilds every child's timeline without the daemon's help. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <forkpool/plugin.h>

typedef struct probe_s {
    int fd;       /* samples, or -1 */
    int trace_fd; /* trace records, or -1 */
} probe_t;

/* One trace record: 40 bytes, no padding, native byte order (Python's
 * struct "=qqqqii"). */
typedef struct fp_probe_trace_s {
    int64_t sent_ns, start_ns, end_ns, seq;
    int32_t pid, ms;
} fp_probe_trace_t;

static const char *config_path(const fp_plugin_ctx_t *ctx, const char *key)
{
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(ctx->config, key);
    return cJSON_IsString(file) && file->valuestring[0] != '\0' ? file->valuestring : NULL;
}

/* Refuse a config with nowhere to write at start-up rather than in every
 * child. */
static int init(fp_plugin_ctx_t *ctx, char *err, size_t err_size)
{
    if (config_path(ctx, "file") == NULL && config_path(ctx, "trace") == NULL) {
        snprintf(err, err_size, "[handlers.latency_probe] file or trace (a path) is required");
        return -1;
    }
    return 0;
}

/* -1 without a path for key; -2 (err set) when the file cannot be opened. */
static int open_append(const fp_plugin_ctx_t *ctx, const char *key, char *err, size_t err_size)
{
    const char *path = config_path(ctx, key);
    if (path == NULL)
        return -1;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, err_size, "open %s: %s", path, strerror(errno));
        return -2;
    }
    return fd;
}

static int child_init(fp_plugin_ctx_t *ctx, char *err, size_t err_size)
{
    /* A 1 ms job is meant to take 1 ms: the default 50 µs timer slack, paid
     * on every sleep, made the mixed run's short jobs 13-19 % longer than
     * their nominal time, which no pool can win back. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    probe_t *p = malloc(sizeof *p);
    if (p == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    p->fd = open_append(ctx, "file", err, err_size);
    p->trace_fd = p->fd == -2 ? -2 : open_append(ctx, "trace", err, err_size);
    if (p->fd == -2 || p->trace_fd == -2) {
        if (p->fd >= 0)
            close(p->fd);
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
    if (p->fd >= 0)
        close(p->fd);
    if (p->trace_fd >= 0)
        close(p->trace_fd);
    free(p);
    ctx->state = NULL;
}

static int64_t mono_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static int64_t int_arg(const cJSON *args, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (int64_t)v->valuedouble : 0;
}

/* A job the probe cannot measure fails for good: a retry would measure the
 * retry, not the first start. */
static void fail(fp_plugin_result_t *res, const char *msg, const char *detail)
{
    res->ok = 0;
    res->retry = 0;
    snprintf(res->error, res->error_size, "latency_probe: %s%s", msg, detail);
}

static int write_all(int fd, const void *buf, size_t n, fp_plugin_result_t *res)
{
    if (fd < 0 || write(fd, buf, n) == (ssize_t)n)
        return 0;
    fail(res, "write: ", strerror(errno));
    return -1;
}

static void run(fp_plugin_ctx_t *ctx, const fp_plugin_job_t *job, fp_plugin_result_t *res)
{
    int64_t now_ns = mono_ns();
    probe_t *p = ctx->state;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(job->args, "t");
    int64_t sent_ns;
    if (cJSON_IsString(t))
        sent_ns = strtoll(t->valuestring, NULL, 10);
    else if (cJSON_IsNumber(t))
        sent_ns = (int64_t)t->valuedouble;
    else {
        fail(res, "needs args.t (monotonic ns)", "");
        return;
    }
    int64_t sample = now_ns - sent_ns;
    if (write_all(p->fd, &sample, sizeof sample, res) < 0)
        return;
    int64_t ms = int_arg(job->args, "ms");
    if (ms > 86400000) { /* the built-in sleep's bound; also keeps it an int32 */
        fail(res, "args.ms is over a day", "");
        return;
    }
    /* Until ms after the start stamp, so the sample's write is part of the
     * job's time rather than added to it. */
    int64_t until_ns = now_ns + ms * 1000000;
    struct timespec until = {(time_t)(until_ns / 1000000000), (long)(until_ns % 1000000000)};
    while (ms > 0 && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
    if (p->trace_fd < 0)
        return;
    fp_probe_trace_t rec = {sent_ns, now_ns, mono_ns(), int_arg(job->args, "i"), (int32_t)getpid(),
                            (int32_t)ms};
    write_all(p->trace_fd, &rec, sizeof rec, res);
}

/* Two names for one handler: the mixed run gives its long jobs a type of
 * their own, as an application's reports and notifications are (the daemon
 * judges run times per type, docs/steering.md). */
static const fp_plugin_handler_t handlers[] = {
    {"latency_probe", run}, {"latency_probe_long", run}, {NULL, NULL}};
static const fp_plugin_t plugin = {FP_PLUGIN_ABI_VERSION, "latency_probe", init, child_init,
                                   child_fini, NULL, handlers};

const fp_plugin_t *fp_plugin_entry(void)
{
    return &plugin;
}
