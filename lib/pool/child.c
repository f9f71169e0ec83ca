/* child.c: a native child's whole life after spawn.c prepared it (default
 * signals, fds 0-3): each handler's child_init, {"op":"ready"}, then a
 * blocking loop over job lines on fd 3, one job at a time, until "stop" or
 * EOF; then child_fini and _exit. It owns only what it opens itself; it never
 * returns into the supervisor's code and never touches the supervisor's
 * loop, Redis or SQLite objects (they are dead memory here). Bad input on the
 * channel is logged and skipped, never fatal. */
#include "pool/child.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "dispatch/proto.h"
#include "base/os.h"

/* Room for the envelope around a maximal job: {"op":"job","seq":...,"job":}. */
#define CHILD_ENVELOPE_BYTES 4096
#define CHILD_READ_BYTES 65536

typedef struct child_s {
    const fp_child_spec_t *spec;
    const fp_registry_t *reg;
    char component[32];
    void *states[FP_REGISTRY_MAX];
    size_t inited; /* handlers [0, inited) went through child_init */
    fp_framer_t framer;
    fp_buf_t out;
    bool stop;
    int statm_fd; /* the child's own /proc/self/statm, opened at first use; -1 */
    uint64_t jobs_seen;  /* jobs answered, for sampling RSS */
    int64_t last_rss_kb; /* the last sample */
} child_t;

/* Runs child_fini of every initialised handler, newest first, frees what the
 * child allocated, and leaves without exit(): no atexit handlers, no stdio
 * flush of buffers inherited from the supervisor, no LeakSanitizer pass. */
static _Noreturn void child_finish(child_t *c, int code)
{
    while (c->inited > 0) {
        c->inited--;
        const fp_handler_t *h = c->reg->handlers[c->inited];
        if (h->child_fini != NULL)
            h->child_fini(c->states[c->inited]);
    }
    fp_framer_free(&c->framer);
    fp_buf_free(&c->out);
    if (c->statm_fd >= 0)
        close(c->statm_fd);
    _exit(code);
}

/* Blocking, EINTR-safe, whole-buffer send. MSG_NOSIGNAL: a supervisor that
 * went away is an error to handle, not a SIGPIPE. 0 or -errno. */
static int send_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(FP_CHILD_FD, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(FP_CHILD_FD, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void child_init_handlers(child_t *c)
{
    for (size_t i = 0; i < c->reg->count; i++) {
        const fp_handler_t *h = c->reg->handlers[i];
        c->states[i] = NULL;
        if (h->child_init != NULL) {
            fp_err_t err;
            fp_err_clear(&err);
            const fp_toml_node_t *table = fp_config_handler_table(c->spec->cfg, h->name);
            int rc = h->child_init(table, &c->states[i], &err);
            if (rc != 0) {
                fp_log_error(c->component, "child_init of handler \"%s\" failed: %s", h->name,
                             err.msg[0] != '\0' ? err.msg : fp_strerror(rc));
                child_finish(c, FP_CHILD_EXIT_INIT_FAILED);
            }
        }
        c->inited = i + 1;
    }
}

/* A result goes into the done line as it is, so it must be one valid JSON
 * value; raw CR/LF can then only be whitespace between tokens and become
 * spaces, keeping the message on one line. A handler (a plugin) that breaks
 * this fails its job instead of desynchronising the channel. */
static void check_result(const char *handler, fp_handler_result_t *res)
{
    if (!res->ok || res->result_json == NULL)
        return;
    cJSON *parsed = cJSON_ParseWithOpts(res->result_json, NULL, 1);
    if (parsed == NULL) {
        free(res->result_json);
        res->result_json = NULL;
        res->ok = false;
        res->retry = false;
        snprintf(res->error, sizeof res->error, "handler \"%s\" returned a result that is not JSON",
                 handler);
        return;
    }
    cJSON_Delete(parsed);
    for (char *p = res->result_json; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* RSS after every job when pool.max_memory_per_child is set, so the
 * supervisor can recycle a bloated child; otherwise every 64th job, for the
 * status page, since even one pread per job is a tenth of a noop's cost. One
 * pread on a kept fd instead of open+read+close: 4 us against 11 us. */
static int64_t child_rss_kb(child_t *c)
{
    if (c->spec->cfg->pool.max_memory_per_child_bytes == 0 && (c->jobs_seen++ & 63) != 0)
        return c->last_rss_kb;
    if (c->statm_fd < 0)
        c->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    int64_t kb = c->statm_fd >= 0 ? fp_os_rss_kb_fd(c->statm_fd) : fp_os_rss_kb(0);
    return c->last_rss_kb = kb > 0 ? kb : 0;
}

static size_t find_handler(const fp_registry_t *reg, const char *name)
{
    for (size_t i = 0; i < reg->count; i++)
        if (strcmp(reg->handlers[i]->name, name) == 0)
            return i;
    return reg->count;
}

/* Finds the handler, runs it, and answers with one done line. The
 * supervisor validated the type before dispatch; the checks here keep a
 * buggy or hostile peer from crashing the child. */
static void run_job(child_t *c, const fp_msg_t *msg)
{
    const cJSON *job = msg->job;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(job, "type");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(job, "args");
    fp_handler_result_t res;
    memset(&res, 0, sizeof res);
    res.ok = true;
    res.retry = true;
    const char *handler = "?";
    if (!cJSON_IsString(type) || type->valuestring[0] == '\0') {
        res.ok = false;
        res.retry = false;
        snprintf(res.error, sizeof res.error, "job has no \"type\"");
    } else {
        size_t i = find_handler(c->reg, type->valuestring);
        handler = type->valuestring;
        if (i == c->reg->count) {
            res.ok = false;
            res.retry = false;
            snprintf(res.error, sizeof res.error, "unknown job type \"%s\"", type->valuestring);
        } else {
            c->reg->handlers[i]->run(c->states[i], job, args, &res);
        }
    }
    res.error[sizeof res.error - 1] = '\0';
    check_result(handler, &res);

    int64_t rss_kb = child_rss_kb(c);
    c->out.len = 0;
    int rc = fp_proto_encode_done(&c->out, msg->seq, res.ok, res.ok ? res.result_json : NULL,
                                  res.error, res.retry, rss_kb);
    free(res.result_json);
    if (rc < 0) {
        /* Most likely a result too large for memory: still answer. */
        c->out.len = 0;
        rc = fp_proto_encode_done(&c->out, msg->seq, false, NULL,
                                  "out of memory while encoding the job's result", true, 0);
    }
    if (rc < 0) {
        fp_log_error(c->component, "cannot encode the outcome of job seq %llu: %s",
                     (unsigned long long)msg->seq, fp_strerror(rc));
        child_finish(c, 1);
    }
    if ((rc = send_all(c->out.data, c->out.len)) < 0) {
        fp_log_info(c->component, "the supervisor is gone (send: %s); exiting", fp_strerror(rc));
        child_finish(c, 0);
    }
}

static void on_line(void *ctx, const char *line, size_t len, int status)
{
    child_t *c = ctx;
    if (c->stop)
        return; /* Lines after "stop" are not ours to run. */
    if (line == NULL) {
        fp_log_error(c->component, "discarded a channel line longer than %zu bytes (%s)",
                     c->framer.max_line, fp_strerror(status));
        return;
    }
    fp_msg_t msg;
    fp_err_t err;
    memset(&msg, 0, sizeof msg);
    fp_err_clear(&err);
    if (fp_proto_decode(line, len, &msg, &err) < 0) {
        fp_log_error(c->component, "discarded a malformed channel line: %s", err.msg);
        return;
    }
    switch (msg.op) {
    case FP_MSG_JOB:
        run_job(c, &msg);
        break;
    case FP_MSG_STOP:
        c->stop = true;
        break;
    case FP_MSG_CANCEL:
        /* A C handler cannot be interrupted: the job it was for has ended
         * by the time this line is read, or the supervisor's TERM after
         * pool.kill_grace ends it. */
        break;
    case FP_MSG_READY:
    case FP_MSG_DONE:
        fp_log_warn(c->component, "ignored \"%s\", which only a child sends",
                    msg.op == FP_MSG_READY ? FP_OP_READY : FP_OP_DONE);
        break;
    }
    fp_msg_clear(&msg);
}

static void send_ready(child_t *c)
{
    int rc = fp_proto_encode_ready(&c->out, (int64_t)getpid());
    if (rc == 0)
        rc = send_all(c->out.data, c->out.len);
    if (rc < 0) {
        fp_log_error(c->component, "cannot send \"ready\": %s", fp_strerror(rc));
        child_finish(c, rc == -ENOMEM ? 1 : 0);
    }
}

static int g_child_id = -1; /* until fp_child_main: the supervisor */

int fp_child_id(void)
{
    return g_child_id;
}

_Noreturn void fp_child_main(const fp_child_spec_t *spec)
{
    static const fp_registry_t empty;
    /* Static: the child has one life and this keeps 2 KiB of state off the
     * stack; the child is single-threaded. */
    static child_t c;
    memset(&c, 0, sizeof c);
    c.spec = spec;
    c.statm_fd = -1;
    g_child_id = spec->child_id;
    /* Children are forked from one parent: give each its own rand() stream. */
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    c.reg = spec->handlers != NULL ? spec->handlers : &empty;
    snprintf(c.component, sizeof c.component, "child %d", spec->child_id);
    int64_t max_job = spec->cfg->limits.max_job_bytes > 0 ? spec->cfg->limits.max_job_bytes
                                                          : (int64_t)1 << 20;
    fp_framer_init(&c.framer, (size_t)max_job + CHILD_ENVELOPE_BYTES);

    child_init_handlers(&c);
    send_ready(&c);

    char buf[CHILD_READ_BYTES];
    for (;;) {
        /* Wait in poll(POLLIN), not in read(): poll's wait filters by event,
         * so the write-space wake-up Linux sends on this socket each time the
         * supervisor consumes our "done" line does not wake the child for
         * nothing (measured: 1.87 -> 0.97 context switches per job, +21%). */
        struct pollfd pfd = {FP_CHILD_FD, POLLIN, 0};
        if (poll(&pfd, 1, -1) < 0 && errno == EINTR)
            continue;
        ssize_t n = read(FP_CHILD_FD, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            fp_log_info(c.component, "the supervisor closed the channel; exiting");
            child_finish(&c, 0);
        }
        if (n < 0) {
            fp_log_error(c.component, "read() on fd %d failed: %s", FP_CHILD_FD, strerror(errno));
            child_finish(&c, 1);
        }
        int rc = fp_framer_feed(&c.framer, buf, (size_t)n, on_line, &c);
        if (rc < 0)
            fp_log_error(c.component, "dropped channel input: %s", fp_strerror(rc));
        if (c.stop)
            child_finish(&c, 0);
    }
}
