/* redis_server.c: starts and stops real redis-server processes for tests.
 * It owns the process (own group, PR_SET_PDEATHSIG), its directory and log,
 * and the test's blocking hiredis connection; readiness is PING with a
 * deadline, never a fixed sleep. */
#include "redis_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define START_DEADLINE_MS 20000
#define STOP_DEADLINE_MS 10000
#define START_TRIES 5

int fp_th_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        rc = -errno;
    close(fd);
    return rc < 0 ? rc : ntohs(a.sin_port);
}

static bool extra_has(const fp_th_redis_t *r, const char *opt)
{
    for (int i = 0; i < r->nextra; i++)
        if (strcmp(r->extra[i], opt) == 0)
            return true;
    return false;
}

static void spawn_child(const char *const *argv, const char *log_path, pid_t parent)
{
    /* Own group so that stop can signal everything it started; die with the
     * test process, and if it already died between fork and prctl, go now. */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, 0);
    close_range(3, ~0U, 0);
    const char *bin = getenv("REDIS_SERVER");
    execvp(bin != NULL && *bin ? bin : "redis-server", (char *const *)argv);
    _exit(127);
}

static int launch(fp_th_redis_t *r)
{
    char port[16], dir_log[4200], log_path[4200];
    snprintf(port, sizeof port, "%d", r->port);
    snprintf(log_path, sizeof log_path, "%s/redis.stdout", r->dir);
    snprintf(dir_log, sizeof dir_log, "%s/redis.log", r->dir);
    const char *argv[64 + 24];
    int argc = 0;
    argv[argc++] = "redis-server";
    if (r->conf != NULL)
        argv[argc++] = r->conf; /* only first on the command line */
    argv[argc++] = "--bind";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "--port";
    argv[argc++] = port;
    argv[argc++] = "--dir";
    argv[argc++] = r->dir;
    argv[argc++] = "--logfile";
    argv[argc++] = dir_log;
    argv[argc++] = "--daemonize";
    argv[argc++] = "no";
    if (!extra_has(r, "--save")) {
        argv[argc++] = "--save";
        argv[argc++] = "";
    }
    if (!extra_has(r, "--appendonly")) {
        argv[argc++] = "--appendonly";
        argv[argc++] = "no";
    }
    for (int i = 0; i < r->nextra && argc < 64 + 23; i++)
        argv[argc++] = r->extra[i];
    argv[argc] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        spawn_child(argv, log_path, parent);
    setpgid(pid, pid); /* both sides, so killpg works whoever runs first */
    r->pid = pid;
    return 0;
}

static bool log_says_busy(const fp_th_redis_t *r)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/redis.log", r->dir);
    char *text = fp_th_read_file(path, NULL);
    bool busy = text != NULL && strstr(text, "Address already in use") != NULL;
    free(text);
    return busy;
}

static bool pings(int port)
{
    struct timeval tv = {0, 200 * 1000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ok = false;
    if (c != NULL && c->err == 0) {
        redisSetTimeout(c, tv);
        redisReply *rep = redisCommand(c, "PING");
        /* NOAUTH also means up: the server was started with a password. */
        ok = rep != NULL &&
             ((rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0) ||
              (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOAUTH", 6) == 0));
        if (rep != NULL)
            freeReplyObject(rep);
    }
    if (c != NULL)
        redisFree(c);
    return ok;
}

static void reap(fp_th_redis_t *r, int deadline_ms)
{
    long long end = fp_th_now_ms() + deadline_ms;
    int st;
    while (r->pid > 0) {
        pid_t w = waitpid(r->pid, &st, WNOHANG);
        if (w == r->pid || (w < 0 && errno != EINTR)) {
            r->pid = 0;
            break;
        }
        if (fp_th_now_ms() >= end) {
            kill(-r->pid, SIGKILL);
            while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
                ;
            r->pid = 0;
            break;
        }
        fp_th_nap();
    }
}

/* 1: answers PING; 0: exited because the port was taken; -errno otherwise. */
static int wait_ready(fp_th_redis_t *r)
{
    long long end = fp_th_now_ms() + START_DEADLINE_MS;
    while (fp_th_now_ms() < end) {
        int st;
        pid_t w = waitpid(r->pid, &st, WNOHANG);
        if (w == r->pid) {
            r->pid = 0;
            if (log_says_busy(r))
                return 0;
            fprintf(stderr, "redis-server exited at start; see %s/redis.log\n", r->dir);
            return -ECHILD;
        }
        if (pings(r->port)) {
            snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d", r->port);
            return 1;
        }
        fp_th_nap();
    }
    fprintf(stderr, "redis-server did not answer PING within %d ms\n", START_DEADLINE_MS);
    kill(-r->pid, SIGKILL);
    reap(r, STOP_DEADLINE_MS);
    return -ETIMEDOUT;
}

static int keep_extra(fp_th_redis_t *r, const char *first, va_list ap)
{
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
        char **grown = realloc(r->extra, (size_t)(r->nextra + 2) * sizeof *grown);
        if (grown == NULL)
            return -ENOMEM;
        r->extra = grown;
        if ((r->extra[r->nextra] = strdup(a)) == NULL)
            return -ENOMEM;
        r->extra[++r->nextra] = NULL;
    }
    return 0;
}

static int start_in_dir(fp_th_redis_t *r, int port);

static int start(fp_th_redis_t *r, int port, const char *first, va_list ap)
{
    memset(r, 0, sizeof *r);
    int rc = keep_extra(r, first, ap);
    if (rc < 0 || (r->dir = fp_th_tmpdir()) == NULL) {
        fp_th_redis_stop(r);
        return rc < 0 ? rc : -EIO;
    }
    return start_in_dir(r, port);
}

static int start_sentinel(fp_th_redis_t *r, const char *conf_text, ...)
{
    va_list ap;
    va_start(ap, conf_text);
    memset(r, 0, sizeof *r);
    int rc = keep_extra(r, "--sentinel", ap);
    va_end(ap);
    char path[4200];
    if (rc < 0 || (r->dir = fp_th_tmpdir()) == NULL) {
        fp_th_redis_stop(r);
        return rc < 0 ? rc : -EIO;
    }
    snprintf(path, sizeof path, "%s/sentinel.conf", r->dir);
    if ((r->conf = strdup(path)) == NULL ||
        (rc = fp_th_write_file(path, conf_text, strlen(conf_text))) < 0) {
        fp_th_redis_stop(r);
        return rc < 0 ? rc : -ENOMEM;
    }
    return start_in_dir(r, 0);
}

int fp_th_redis_start_sentinel(fp_th_redis_t *r, const char *conf_text)
{
    return start_sentinel(r, conf_text, NULL);
}

static int start_in_dir(fp_th_redis_t *r, int port)
{
    int rc = 0;
    for (int attempt = 0; attempt < START_TRIES; attempt++) {
        r->port = port > 0 ? port : fp_th_free_port();
        if (r->port < 0)
            break;
        if ((rc = launch(r)) < 0)
            break;
        rc = wait_ready(r);
        if (rc == 1)
            return 0;
        if (rc < 0 || port > 0)
            break;
        /* Someone took the port between our probe and the server's bind. */
    }
    fp_th_redis_stop(r);
    return rc < 0 ? rc : -EADDRINUSE;
}

int fp_th_redis_start(fp_th_redis_t *r, const char *extra_args, ...)
{
    va_list ap;
    va_start(ap, extra_args);
    int rc = start(r, 0, extra_args, ap);
    va_end(ap);
    return rc;
}

int fp_th_redis_start_port(fp_th_redis_t *r, int port, const char *extra_args, ...)
{
    va_list ap;
    va_start(ap, extra_args);
    int rc = start(r, port, extra_args, ap);
    va_end(ap);
    return rc;
}

static void drop_ctx(fp_th_redis_t *r)
{
    if (r->ctx != NULL)
        redisFree(r->ctx);
    r->ctx = NULL;
}

int fp_th_redis_shutdown(fp_th_redis_t *r)
{
    drop_ctx(r);
    if (r->pid <= 0)
        return 0;
    kill(-r->pid, SIGTERM);
    reap(r, STOP_DEADLINE_MS);
    return 0;
}

int fp_th_redis_resume(fp_th_redis_t *r)
{
    if (r->pid > 0 || r->dir == NULL)
        return -EINVAL;
    int rc = launch(r);
    if (rc < 0)
        return rc;
    rc = wait_ready(r);
    return rc == 1 ? 0 : rc < 0 ? rc : -EADDRINUSE;
}

void fp_th_redis_stop(fp_th_redis_t *r)
{
    fp_th_redis_shutdown(r);
    if (r->dir != NULL) {
        fp_th_rmrf(r->dir);
        free(r->dir);
        r->dir = NULL;
    }
    for (int i = 0; i < r->nextra; i++)
        free(r->extra[i]);
    free(r->extra);
    free(r->conf);
    r->conf = NULL;
    r->extra = NULL;
    r->nextra = 0;
}

const char *fp_th_redis_url(const fp_th_redis_t *r)
{
    return r->url;
}

static redisContext *ctx_of(fp_th_redis_t *r)
{
    if (r->ctx != NULL && r->ctx->err != 0)
        drop_ctx(r);
    if (r->ctx == NULL) {
        struct timeval tv = {5, 0};
        r->ctx = redisConnectWithTimeout("127.0.0.1", r->port, tv);
        if (r->ctx == NULL || r->ctx->err != 0) {
            drop_ctx(r);
            return NULL;
        }
        redisSetTimeout(r->ctx, tv);
    }
    return r->ctx;
}

redisReply *fp_th_redis_cmd(fp_th_redis_t *r, const char *fmt, ...)
{
    redisContext *c = ctx_of(r);
    if (c == NULL)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    return rep;
}

redisReply *fp_th_redis_cmdv(fp_th_redis_t *r, int argc, const char **argv, const size_t *lens)
{
    redisContext *c = ctx_of(r);
    return c != NULL ? redisCommandArgv(c, argc, argv, lens) : NULL;
}

long long fp_th_redis_int(fp_th_redis_t *r, const char *fmt, ...)
{
    redisContext *c = ctx_of(r);
    if (c == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    long long v = rep != NULL && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep != NULL)
        freeReplyObject(rep);
    return v;
}

long long fp_th_redis_now_ms(fp_th_redis_t *r)
{
    redisReply *t = fp_th_redis_cmd(r, "TIME");
    long long ms = -1;
    if (t != NULL && t->type == REDIS_REPLY_ARRAY && t->elements == 2)
        ms = atoll(t->element[0]->str) * 1000 + atoll(t->element[1]->str) / 1000;
    if (t != NULL)
        freeReplyObject(t);
    return ms;
}

bool fp_th_redis_is_master(fp_th_redis_t *r)
{
    redisReply *role = fp_th_redis_cmd(r, "ROLE");
    bool yes = role != NULL && role->type == REDIS_REPLY_ARRAY && role->elements > 0 &&
               strcmp(role->element[0]->str, "master") == 0;
    if (role != NULL)
        freeReplyObject(role);
    return yes;
}

long long fp_th_redis_calls(fp_th_redis_t *r, const char *command)
{
    redisReply *rep = fp_th_redis_cmd(r, "INFO commandstats");
    char needle[64];
    snprintf(needle, sizeof needle, "cmdstat_%s:calls=", command);
    const char *at =
        rep != NULL && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, needle) : NULL;
    long long n = at != NULL ? atoll(at + strlen(needle)) : 0;
    if (rep != NULL)
        freeReplyObject(rep);
    return n;
}
