/* admin.c: the command line's blocking hiredis connection and the bulk
 * work it needs: pipelined enqueues, the dead-letter tools' paged reads,
 * guarded moves back to the jobs stream, and deletes, and `stats`' one-script
 * snapshot of a queue. It may block (including the name lookup inside
 * redisConnect), which is why the daemon never calls it. Errors carry Redis' own text up to the user. */
#include "queue/admin_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "queue/queue_scripts.h"
#include "queue/unique.h"
#include "redis/redis_conn.h"
#include "redis/redis_sync.h"
#include "redis/redis_url.h"
#include "redis/sentinel_sync.h"

#define COMMAND_TIMEOUT_MS 30000


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
    if (a->cl != NULL)
        return fp__admin_cluster_commandv(a, argc, argv, lens, out, err);
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

/* Sentinel form: the URL gave the database and password; the sentinels say
 * which host and port. */
static int locate_master(fp_admin_t *a, fp_err_t *err)
{
    fp_sentinel_addr_t m;
    int rc = fp_sentinel_locate_sync(a->cfg, &m, err);
    if (rc < 0)
        return rc;
    char *host = strdup(m.host);
    if (host == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    free(a->url.host);
    a->url.host = host;
    a->url.port = m.port;
    fp_redis_url_where(&a->url, a->where, sizeof a->where);
    return 0;
}

/* Right after a switch a sentinel may still name the old master, now a
 * replica: say so rather than fail on the first write. */
static int confirm_master(fp_admin_t *a, fp_err_t *err)
{
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, 1, (const char *[]){"ROLE"}, (size_t[]){4}, &r, err);
    if (rc < 0) {
        fp_err_clear(err); /* ROLE renamed or refused: a write will tell */
        return 0;
    }
    bool master = fp_redis_role_writable(r);
    freeReplyObject(r);
    if (!master)
        return fp_err_set(err, FP_EREDIS,
                          "Redis at %s, named by Sentinel as master \"%s\", is a replica "
                          "(a failover is in progress; try again)",
                          a->where, a->cfg->redis.master_name);
    return 0;
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
    if (cfg->redis.cluster.count > 0) {
        if ((rc = fp__admin_cluster_open(a, err)) < 0)
            goto fail;
        *out = a;
        return 0;
    }
    if (cfg->redis.sentinels.count > 0 && (rc = locate_master(a, err)) < 0)
        goto fail;
    struct timeval tv = ms_to_tv(cfg->redis.connect_timeout_ms > 0 ? cfg->redis.connect_timeout_ms
                                                                   : 5000);
    char why[400];
    if (a->url.path != NULL)
        a->c = redisConnectUnixWithTimeout(a->url.path, tv);
    else if (fp_redis_sync_connect(a->url.host, a->url.port, a->url.tls,
                                   (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, &a->c, why,
                                   sizeof why) < 0) {
        rc = fp_err_set(err, FP_EREDIS, "cannot connect to Redis at %s: %s", a->where, why);
        goto fail;
    }
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
    if (cfg->redis.sentinels.count > 0 && (rc = confirm_master(a, err)) < 0)
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
    if (a->cl != NULL)
        fp__admin_cluster_free(a); /* a->c is one of its connections */
    else
        fp_redis_sync_free(a->c);
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
    int rc = a->cl != NULL ? fp__admin_cluster_route(a, key, strlen(key), err) : 0;
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

static int unexpected(fp_admin_t *a, const char *command, fp_err_t *err)
{
    return fp_err_set(err, FP_EREDIS, "Redis at %s: unexpected reply to %s", a->where, command);
}

/* Redis' clock in unix ms: due times are read against it by every daemon's
 * mover, so a producer whose host clock is skewed must not set them. */
static int redis_now_ms(fp_admin_t *a, int64_t *out, fp_err_t *err)
{
    const char *argv[] = {"TIME"};
    redisReply *r;
    int rc = fp_admin_commandv(a, 1, argv, NULL, &r, err);
    if (rc != 0)
        return rc;
    long long sec = 0, usec = 0;
    bool ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
              r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
              sscanf(r->element[0]->str, "%lld", &sec) == 1 &&
              sscanf(r->element[1]->str, "%lld", &usec) == 1 && sec >= 0 && usec >= 0;
    freeReplyObject(r);
    if (!ok)
        return unexpected(a, "TIME", err);
    *out = (int64_t)sec * 1000 + (int64_t)usec / 1000;
    return 0;
}

int fp_admin_enqueue_delayed(fp_admin_t *a, const char *queue, const char *const *jobs,
                             const size_t *lens, size_t n, int64_t delay_ms, size_t *done,
                             fp_err_t *err)
{
    int64_t now_ms = 0; /* set whenever rc is 0; GCC's Release build cannot tell */
    int rc = redis_now_ms(a, &now_ms, err);
    if (rc != 0)
        return rc;
    char *key = fp_queue_key(a->cfg->redis.prefix, queue, "delayed");
    if (key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    char score[24];
    snprintf(score, sizeof score, "%" PRId64, now_ms + delay_ms);
    rc = pipeline(a, n, jobs, lens, "ZADD", key, score, NULL, done, err);
    free(key);
    return rc;
}

/* KEYS: dead stream, jobs stream (one hash tag, one slot). ARGV: pairs of
 * dead entry id and payload. A job is added only while its dead entry still
 * exists, so of two operators retrying the same entry at once exactly one
 * adds it. XADD comes before XDEL because a failing command stops a script
 * without undoing what it already did: an error loses no entry. Returns the
 * number of jobs added.
 * A unique job's key was released when it went dead; moved back, it takes
 * its key again (with the default TTL) when the key is free, so that
 * duplicates are refused again while it waits. When another job holds the
 * key meanwhile, the operator's retry still goes ahead, without the key: its
 * outcome cannot release the other job's key (that compares ids). The retake
 * is a pcall: a user the ACL keeps off unique keys (NOPERM) would otherwise
 * stop the script between a job's XADD and its XDEL, leaving it both queued
 * and dead. */
static const char dead_requeue_script[] =
    "local dead, jobs, moved = KEYS[1], KEYS[2], 0\n"
    "local unique_base = string.sub(jobs, 1, -5) .. 'unique:'\n"
    "local function retake(text)\n"
    "  local ok, j = pcall(cjson.decode, text)\n"
    "  if ok and type(j) == 'table' and type(j.unique) == 'table' and\n"
    "     type(j.unique.key) == 'string' and type(j.id) == 'string' then\n"
    "    redis.pcall('SET', unique_base .. j.unique.key, j.id, 'NX', 'PX', "
    FP_UNIQUE_TTL_DEFAULT_TEXT ")\n"
    "  end\n"
    "end\n"
    "for i = 1, #ARGV, 2 do\n"
    "  local id = ARGV[i]\n"
    "  if #redis.call('XRANGE', dead, id, id) == 1 then\n"
    "    redis.call('XADD', jobs, '*', 'job', ARGV[i + 1])\n"
    "    retake(ARGV[i + 1])\n"
    "    redis.call('XDEL', dead, id)\n"
    "    moved = moved + 1\n"
    "  end\n"
    "end\n"
    "return moved\n";

int fp_admin_dead_count(fp_admin_t *a, const char *queue, long long *out, fp_err_t *err)
{
    char *key = fp_queue_key(a->cfg->redis.prefix, queue, "dead");
    if (key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    const char *argv[] = {"XLEN", key};
    const size_t lens[] = {4, strlen(key)};
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, 2, argv, lens, &r, err);
    free(key);
    if (rc == 0 && r->type != REDIS_REPLY_INTEGER)
        rc = unexpected(a, "XLEN", err);
    if (rc == 0)
        *out = r->integer;
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

static int copy_field(const redisReply *v, fp_admin_field_t *f)
{
    if (v->type != REDIS_REPLY_STRING)
        return 0; /* left absent */
    if ((f->s = malloc(v->len + 1)) == NULL)
        return -ENOMEM;
    memcpy(f->s, v->str, v->len);
    f->s[v->len] = '\0';
    f->len = v->len;
    return 0;
}

/* The field of e that `name` names, or NULL for fields this tool ignores. */
static fp_admin_field_t *field_named(fp_dead_entry_t *e, const char *name)
{
    static const char *const names[] = {"job", "error", "attempts", "failed_at", "consumer"};
    fp_admin_field_t *fields[] = {&e->job, &e->error, &e->attempts, &e->failed_at, &e->consumer};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return fields[i]->s == NULL ? fields[i] : NULL; /* first one wins */
    return NULL;
}

/* One XRANGE element: [id, [field, value, ...]]. 0, -ENOMEM, or 1 for a
 * shape this code does not know. */
static int parse_entry(const redisReply *r, fp_dead_entry_t *e)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return 1;
    if ((e->id = strdup(r->element[0]->str)) == NULL)
        return -ENOMEM;
    const redisReply *fields = r->element[1];
    if (fields->type != REDIS_REPLY_ARRAY)
        return fields->type == REDIS_REPLY_NIL ? 0 : 1;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *name = fields->element[i];
        fp_admin_field_t *f = name->type == REDIS_REPLY_STRING ? field_named(e, name->str) : NULL;
        if (f != NULL && copy_field(fields->element[i + 1], f) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int parse_entries(fp_admin_t *a, const redisReply *r, fp_dead_entry_t **out, size_t *n,
                         fp_err_t *err)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return unexpected(a, "XRANGE", err);
    if (r->elements == 0)
        return 0;
    fp_dead_entry_t *entries = calloc(r->elements, sizeof *entries);
    if (entries == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    size_t i = 0;
    for (; i < r->elements && rc == 0; i++)
        rc = parse_entry(r->element[i], &entries[i]);
    if (rc != 0) {
        fp_admin_dead_free(entries, i);
        return rc < 0 ? fp_err_set(err, rc, "out of memory") : unexpected(a, "XRANGE", err);
    }
    *out = entries;
    *n = r->elements;
    return 0;
}

int fp_admin_dead_last_id(fp_admin_t *a, const char *queue, char *out, size_t cap,
                          fp_err_t *err)
{
    return fp_admin_stream_last_id(a, queue, "dead", out, cap, err);
}

const char *fp_admin_prefix(const fp_admin_t *a)
{
    return a->cfg->redis.prefix;
}

int fp_admin_stream_last_id(fp_admin_t *a, const char *queue, const char *kind, char *out,
                            size_t cap, fp_err_t *err)
{
    out[0] = '\0';
    char *key = fp_queue_key(a->cfg->redis.prefix, queue, kind);
    if (key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", "1"};
    const size_t lens[] = {9, strlen(key), 1, 1, 5, 1};
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, 6, argv, lens, &r, err);
    free(key);
    if (rc == 0 && r->type != REDIS_REPLY_ARRAY)
        rc = unexpected(a, "XREVRANGE", err);
    if (rc == 0 && r->elements > 0) {
        const redisReply *e = r->element[0];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= cap)
            rc = unexpected(a, "XREVRANGE", err);
        else
            memcpy(out, e->element[0]->str, e->element[0]->len + 1);
    }
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

/* cmd (XRANGE or XREVRANGE) on P:{queue}:KIND from start to end, at most
 * count entries. */
static int stream_range(fp_admin_t *a, const char *cmd, const char *queue, const char *kind,
                        const char *start, const char *end, size_t count, fp_dead_entry_t **out,
                        size_t *n, fp_err_t *err)
{
    char limit[24];
    snprintf(limit, sizeof limit, "%zu", count);
    char *key = fp_queue_key(a->cfg->redis.prefix, queue, kind);
    if (key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    const char *argv[] = {cmd, key, start, end, "COUNT", limit};
    const size_t lens[] = {strlen(cmd), strlen(key), strlen(start), strlen(end), 5, strlen(limit)};
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, 6, argv, lens, &r, err);
    free(key);
    if (rc == 0)
        rc = parse_entries(a, r, out, n, err);
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

int fp_admin_dead_read(fp_admin_t *a, const char *queue, const char *after, const char *until,
                       size_t count, fp_dead_entry_t **out, size_t *n, fp_err_t *err)
{
    return fp_admin_stream_read(a, queue, "dead", after, until, count, out, n, err);
}

int fp_admin_stream_read(fp_admin_t *a, const char *queue, const char *kind, const char *after,
                         const char *until, size_t count, fp_dead_entry_t **out, size_t *n,
                         fp_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (count == 0)
        return 0;
    char start[128];
    if (snprintf(start, sizeof start, "%s%s", after != NULL ? "(" : "-",
                 after != NULL ? after : "") >= (int)sizeof start)
        return fp_err_set(err, -EINVAL, "stream id too long: %.64s", after);
    return stream_range(a, "XRANGE", queue, kind, start, until != NULL ? until : "+", count, out,
                        n, err);
}

int fp_admin_dead_newest(fp_admin_t *a, const char *queue, size_t count, fp_dead_entry_t **out,
                         size_t *n, fp_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (count == 0)
        return 0;
    return stream_range(a, "XREVRANGE", queue, "dead", "+", "-", count, out, n, err);
}

int fp_admin_dead_get(fp_admin_t *a, const char *queue, const char *id, fp_dead_entry_t **out,
                      size_t *n, fp_err_t *err)
{
    *out = NULL;
    *n = 0;
    return stream_range(a, "XRANGE", queue, "dead", id, id, 1, out, n, err);
}

void fp_admin_dead_free(fp_dead_entry_t *entries, size_t n)
{
    if (entries == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        fp_dead_entry_t *e = &entries[i];
        free(e->id);
        free(e->job.s);
        free(e->error.s);
        free(e->attempts.s);
        free(e->failed_at.s);
        free(e->consumer.s);
    }
    free(entries);
}

/* One EVAL for up to FP_ADMIN_DEAD_BATCH entries. */
static int requeue_batch(fp_admin_t *a, const char *const keys[2], const char *const *ids,
                         const char *const *jobs, const size_t *lens, size_t n, size_t *moved,
                         fp_err_t *err)
{
    const char *argv[5 + 2 * FP_ADMIN_DEAD_BATCH] = {"EVAL", dead_requeue_script, "2", keys[0],
                                                     keys[1]};
    size_t argl[5 + 2 * FP_ADMIN_DEAD_BATCH] = {4, sizeof dead_requeue_script - 1, 1,
                                                strlen(keys[0]), strlen(keys[1])};
    for (size_t i = 0; i < n; i++) {
        argv[5 + 2 * i] = ids[i];
        argl[5 + 2 * i] = strlen(ids[i]);
        argv[6 + 2 * i] = jobs[i];
        argl[6 + 2 * i] = lens[i];
    }
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, (int)(5 + 2 * n), argv, argl, &r, err);
    if (rc == 0 && (r->type != REDIS_REPLY_INTEGER || r->integer < 0))
        rc = unexpected(a, "the requeue script", err);
    if (rc == 0)
        *moved += (size_t)r->integer;
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

int fp_admin_dead_requeue(fp_admin_t *a, const char *queue, const char *const *ids,
                          const char *const *jobs, const size_t *lens, size_t n, size_t *moved,
                          fp_err_t *err)
{
    char *dead = fp_queue_key(a->cfg->redis.prefix, queue, "dead");
    char *ready = fp_queue_key(a->cfg->redis.prefix, queue, "jobs");
    size_t total = 0;
    int rc = dead != NULL && ready != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
    const char *const keys[2] = {dead, ready};
    for (size_t start = 0; start < n && rc == 0; start += FP_ADMIN_DEAD_BATCH) {
        size_t count = n - start < FP_ADMIN_DEAD_BATCH ? n - start : FP_ADMIN_DEAD_BATCH;
        rc = requeue_batch(a, keys, ids + start, jobs + start, lens + start, count, &total, err);
    }
    free(dead);
    free(ready);
    if (moved != NULL)
        *moved = total;
    return rc;
}

int fp_admin_dead_delete(fp_admin_t *a, const char *queue, const char *const *ids, size_t n,
                         size_t *deleted, fp_err_t *err)
{
    if (deleted != NULL)
        *deleted = 0;
    if (n == 0)
        return 0;
    char *key = fp_queue_key(a->cfg->redis.prefix, queue, "dead");
    const char **argv = malloc((n + 2) * sizeof *argv);
    size_t *argl = malloc((n + 2) * sizeof *argl);
    int rc = key != NULL && argv != NULL && argl != NULL
                 ? 0
                 : fp_err_set(err, -ENOMEM, "out of memory");
    redisReply *r = NULL;
    if (rc == 0) {
        argv[0] = "XDEL";
        argl[0] = 4;
        argv[1] = key;
        argl[1] = strlen(key);
        for (size_t i = 0; i < n; i++) {
            argv[2 + i] = ids[i];
            argl[2 + i] = strlen(ids[i]);
        }
        rc = fp_admin_commandv(a, (int)(n + 2), argv, argl, &r, err);
    }
    if (rc == 0 && (r->type != REDIS_REPLY_INTEGER || r->integer < 0))
        rc = unexpected(a, "XDEL", err);
    if (rc == 0 && deleted != NULL)
        *deleted = (size_t)r->integer;
    if (r != NULL)
        freeReplyObject(r);
    free(argv);
    free(argl);
    free(key);
    return rc;
}

/* ---- stats --------------------------------------------------------------------- */

int fp_admin_queue_stats(fp_admin_t *a, const char *queue, fp_admin_queue_stats_t *out,
                         fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->oldest_age_ms = -1;
    const char *prefix = a->cfg->redis.prefix;
    char *keys[3] = {fp_queue_key(prefix, queue, "jobs"), fp_queue_key(prefix, queue, "delayed"),
                     fp_queue_key(prefix, queue, "dead")};
    int rc = keys[0] != NULL && keys[1] != NULL && keys[2] != NULL
                 ? 0
                 : fp_err_set(err, -ENOMEM, "out of memory");
    redisReply *r = NULL;
    if (rc == 0) {
        char cap[24], page[24];
        snprintf(cap, sizeof cap, "%d", FP_ADMIN_READY_COUNT_MAX);
        snprintf(page, sizeof page, "%d", FP_QUEUE_STATS_PAGE);
        const char *argv[] = {"EVAL", fp_queue_stats_script, "3", keys[0], keys[1], keys[2],
                              a->cfg->redis.group, cap, page};
        size_t lens[9];
        lens[0] = 4;
        lens[1] = strlen(fp_queue_stats_script);
        for (size_t i = 2; i < 9; i++)
            lens[i] = strlen(argv[i]);
        if ((rc = fp_admin_commandv(a, 9, argv, lens, &r, err)) < 0)
            fp_err_prefix(err, "queue %s", queue);
    }
    if (rc == 0) {
        int parsed = fp_queue_stats_parse(r, out);
        if (parsed < 0)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
        else if (parsed > 0)
            rc = unexpected(a, "the stats script", err);
    }
    if (r != NULL)
        freeReplyObject(r);
    for (size_t i = 0; i < 3; i++)
        free(keys[i]);
    return rc;
}
