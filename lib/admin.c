/* admin.c: the command line's blocking hiredis connection and the bulk
 * writes it needs (enqueue now, stats and dead tools later). It may block
 * (including the name lookup inside redisConnect), which is why the daemon
 * never calls it. Errors carry Redis' own text up to the user. */
#include "admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "queue_scripts.h"
#include "redis_url.h"

#define COMMAND_TIMEOUT_MS 30000

struct fp_admin_s {
    const fp_config_t *cfg;
    fp_redis_url_t url;
    char where[300];
    redisContext *c;
};

static struct timeval ms_to_tv(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

/* A lost connection (I/O error, timeout) leaves c->err set. */
static int context_error(fp_admin_t *a, fp_err_t *err)
{
    return fp_err_set(err, FP_EREDIS, "Redis at %s: %s", a->where,
                      a->c->errstr[0] != '\0' ? a->c->errstr : "connection lost");
}

int fp_admin_commandv(fp_admin_t *a, int argc, const char **argv, const size_t *lens,
                      redisReply **out, fp_err_t *err)
{
    *out = NULL;
    redisReply *r = redisCommandArgv(a->c, argc, argv, lens);
    if (r == NULL)
        return context_error(a, err);
    if (r->type == REDIS_REPLY_ERROR) {
        int rc = fp_err_set(err, FP_EREDIS, "%s: %s", argv[0], r->str);
        freeReplyObject(r);
        return rc;
    }
    *out = r;
    return 0;
}

static int command_ok(fp_admin_t *a, int argc, const char **argv, fp_err_t *err)
{
    size_t lens[4];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, argc, argv, lens, &r, err);
    if (r != NULL)
        freeReplyObject(r);
    if (rc < 0)
        fp_err_prefix(err, "Redis at %s", a->where);
    return rc;
}

static int handshake(fp_admin_t *a, fp_err_t *err)
{
    const fp_redis_url_t *u = &a->url;
    int rc = 0;
    if (u->password != NULL && u->user != NULL)
        rc = command_ok(a, 3, (const char *[]){"AUTH", u->user, u->password}, err);
    else if (u->password != NULL)
        rc = command_ok(a, 2, (const char *[]){"AUTH", u->password}, err);
    if (rc == 0 && u->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        rc = command_ok(a, 2, (const char *[]){"SELECT", db}, err);
    }
    return rc;
}

int fp_admin_connect(const fp_config_t *cfg, fp_admin_t **out, fp_err_t *err)
{
    fp_admin_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    a->cfg = cfg;
    int rc = fp_redis_url_parse(cfg->redis.url, &a->url, err);
    if (rc < 0)
        goto fail;
    fp_redis_url_where(&a->url, a->where, sizeof a->where);
    struct timeval tv = ms_to_tv(cfg->redis.connect_timeout_ms > 0 ? cfg->redis.connect_timeout_ms
                                                                   : 5000);
    a->c = a->url.path != NULL ? redisConnectUnixWithTimeout(a->url.path, tv)
                               : redisConnectWithTimeout(a->url.host, a->url.port, tv);
    if (a->c == NULL) {
        rc = fp_err_set(err, FP_EREDIS, "cannot connect to Redis at %s: out of memory", a->where);
        goto fail;
    }
    if (a->c->err != 0) {
        rc = fp_err_set(err, FP_EREDIS, "cannot connect to Redis at %s: %s", a->where,
                        a->c->errstr);
        goto fail;
    }
    redisSetTimeout(a->c, ms_to_tv(COMMAND_TIMEOUT_MS));
    if ((rc = handshake(a, err)) < 0)
        goto fail;
    *out = a;
    return 0;
fail:
    fp_admin_free(a);
    return rc;
}

void fp_admin_free(fp_admin_t *a)
{
    if (a == NULL)
        return;
    if (a->c != NULL)
        redisFree(a->c);
    fp_redis_url_free(&a->url);
    free(a);
}

redisContext *fp_admin_context(fp_admin_t *a)
{
    return a->c;
}

/* Reads n pipelined replies; keeps reading after an error reply so the
 * connection stays in step, and reports the first one. ids as in enqueue. */
static int read_replies(fp_admin_t *a, size_t n, char **ids, size_t *ok, fp_err_t *err)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(a->c, (void **)&r) != REDIS_OK || r == NULL)
            return context_error(a, err);
        if (r->type == REDIS_REPLY_ERROR) {
            if (rc == 0)
                rc = fp_err_set(err, FP_EREDIS, "Redis at %s: %s", a->where, r->str);
        } else {
            (*ok)++;
            if (ids != NULL && r->type == REDIS_REPLY_STRING &&
                (ids[i] = strdup(r->str)) == NULL && rc == 0)
                rc = fp_err_set(err, -ENOMEM, "out of memory");
        }
        freeReplyObject(r);
    }
    return rc;
}

/* Sends "XADD key * job JOB" or "ZADD key score JOB" for each job, in
 * pipelines of FP_ADMIN_PIPELINE commands. */
static int pipeline(fp_admin_t *a, size_t n, const char *const *jobs, const size_t *lens,
                    const char *cmd, const char *key, const char *score, char **ids,
                    size_t *done, fp_err_t *err)
{
    size_t ok = 0;
    int rc = 0;
    for (size_t start = 0; start < n && rc == 0; start += FP_ADMIN_PIPELINE) {
        size_t end = start + FP_ADMIN_PIPELINE < n ? start + FP_ADMIN_PIPELINE : n;
        for (size_t i = start; i < end; i++) {
            /* XADD key * job JOB, or ZADD key score JOB */
            const char *argv[5] = {cmd, key, score, "job", jobs[i]};
            size_t argl[5] = {strlen(cmd), strlen(key), strlen(score), 3, lens[i]};
            int argc = 5;
            if (strcmp(cmd, "ZADD") == 0) {
                argv[3] = jobs[i];
                argl[3] = lens[i];
                argc = 4;
            }
            if (redisAppendCommandArgv(a->c, argc, argv, argl) != REDIS_OK)
                return context_error(a, err);
        }
        rc = read_replies(a, end - start, ids != NULL ? ids + start : NULL, &ok, err);
    }
    if (done != NULL)
        *done = ok;
    return rc;
}

int fp_admin_enqueue(fp_admin_t *a, const char *queue, const char *const *jobs,
                     const size_t *lens, size_t n, char **ids, size_t *done, fp_err_t *err)
{
    char *key = fp_queue_key(a->cfg->redis.prefix, queue, "jobs");
    if (key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = pipeline(a, n, jobs, lens, "XADD", key, "*", ids, done, err);
    free(key);
    return rc;
}

int fp_admin_enqueue_delayed(fp_admin_t *a, const char *queue, const char *const *jobs,
                             const size_t *lens, size_t n, int64_t due_unix_ms, size_t *done,
                             fp_err_t *err)
{
    char *key = fp_queue_key(a->cfg->redis.prefix, queue, "delayed");
    if (key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    char score[24];
    snprintf(score, sizeof score, "%" PRId64, due_unix_ms);
    int rc = pipeline(a, n, jobs, lens, "ZADD", key, score, NULL, done, err);
    free(key);
    return rc;
}
