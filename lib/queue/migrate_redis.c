/* migrate_redis.c: reading and writing the daemon's keys for `forkpool
 * migrate` (migrate_redis.h). The write is one Lua script per batch, so a
 * batch lands whole; the caller commits the source's deletion only after
 * it returned. */
#include "queue/migrate_redis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch/retry.h"
#include "queue/queue_scripts.h"

/* KEYS: jobs, delayed, dead (one hash tag). ARGV[1]: r, d or x; then per
 * job: r payload | d score member | x payload error attempts failed_at
 * consumer. */
static const char write_script[] =
    "local kind, n = ARGV[1], 0\n"
    "if kind == 'r' then\n"
    "  for i = 2, #ARGV do redis.call('XADD', KEYS[1], '*', 'job', ARGV[i]); n = n + 1 end\n"
    "elseif kind == 'd' then\n"
    "  for i = 2, #ARGV, 2 do redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1]); n = n + 1 end\n"
    "else\n"
    "  for i = 2, #ARGV, 5 do\n"
    "    redis.call('XADD', KEYS[3], '*', 'job', ARGV[i], 'error', ARGV[i + 1], 'attempts',\n"
    "               ARGV[i + 2], 'failed_at', ARGV[i + 3], 'consumer', ARGV[i + 4])\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

/* An argument vector that owns the texts it formats. */
typedef struct args_s {
    const char **v;
    size_t *len;
    char **owned;
    size_t n, nowned;
} args_t;

static int args_put(args_t *a, const char *s, size_t len)
{
    a->v[a->n] = s;
    a->len[a->n++] = len;
    return 0;
}

static int args_own(args_t *a, char *s, size_t len)
{
    if (s == NULL)
        return -ENOMEM;
    a->owned[a->nowned++] = s;
    return args_put(a, s, len);
}

static int args_int(args_t *a, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%" PRId64, v);
    return args_own(a, strdup(text), (size_t)n);
}

static void args_free(args_t *a)
{
    for (size_t i = 0; i < a->nowned; i++)
        free(a->owned[i]);
    free(a->v);
    free(a->len);
    free(a->owned);
}

/* A delayed row's member: its payload with "id" = the row id when it has
 * none (a payload that is no JSON object stays as it is). */
static int put_member(args_t *a, const fp_sqlq_row_t *r)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, r->id);
    size_t len = 0;
    char *with_id = fp_retry_payload_id(r->payload, r->len, id, &len);
    return with_id != NULL ? args_own(a, with_id, len) : args_put(a, r->payload, r->len);
}

static int put_row(args_t *a, fp_sqlq_rows_kind_t kind, const fp_sqlq_row_t *r)
{
    if (kind == FP_SQLQ_ROWS_READY)
        return args_put(a, r->payload, r->len);
    if (kind == FP_SQLQ_ROWS_DELAYED) {
        int rc = args_int(a, r->due_ms);
        return rc < 0 ? rc : put_member(a, r);
    }
    const char *error = r->error != NULL ? r->error : "";
    const char *consumer = r->consumer != NULL ? r->consumer : "";
    int rc = args_put(a, r->payload, r->len);
    rc = rc < 0 ? rc : args_put(a, error, strlen(error));
    rc = rc < 0 ? rc : args_int(a, r->attempts);
    rc = rc < 0 ? rc : args_int(a, r->failed_at);
    return rc < 0 ? rc : args_put(a, consumer, strlen(consumer));
}

static int call_write(fp_admin_t *a, args_t *args, size_t n, fp_err_t *err)
{
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, (int)args->n, args->v, args->len, &r, err);
    if (rc == 0 && (r->type != REDIS_REPLY_INTEGER || (size_t)r->integer != n))
        rc = fp_err_set(err, FP_EREDIS, "the migrate script added %lld of %zu jobs",
                        r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL, n);
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

int fp_admin_migrate_write(fp_admin_t *a, const char *queue, fp_sqlq_rows_kind_t kind,
                           const fp_sqlq_row_t *rows, size_t n, fp_err_t *err)
{
    if (n == 0)
        return 0;
    const char *prefix = fp_admin_prefix(a);
    char *keys[3] = {fp_queue_key(prefix, queue, "jobs"), fp_queue_key(prefix, queue, "delayed"),
                     fp_queue_key(prefix, queue, "dead")};
    size_t cap = 7 + 5 * n; /* EVAL, the script, 3, three keys, the kind; 5 per dead job */
    args_t args = {calloc(cap, sizeof *args.v), calloc(cap, sizeof *args.len),
                   calloc(cap, sizeof *args.owned), 0, 0};
    int rc = keys[0] && keys[1] && keys[2] && args.v && args.len && args.owned ? 0 : -ENOMEM;
    static const char *const kinds[] = {"r", "d", "x"};
    if (rc == 0) {
        args_put(&args, "EVAL", 4);
        args_put(&args, write_script, sizeof write_script - 1);
        args_put(&args, "3", 1);
        for (int k = 0; k < 3; k++)
            args_put(&args, keys[k], strlen(keys[k]));
        args_put(&args, kinds[kind], 1);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = put_row(&args, kind, &rows[i]);
    if (rc < 0)
        rc = fp_err_set(err, rc, "out of memory");
    else
        rc = call_write(a, &args, n, err);
    args_free(&args);
    for (int k = 0; k < 3; k++)
        free(keys[k]);
    return rc;
}

void fp_admin_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; ids != NULL && i < n; i++)
        free(ids[i]);
    free(ids);
}

/* XPENDING's extended form: [[id, consumer, idle, deliveries], ...]. */
static int pending_ids(const redisReply *r, char ***ids, size_t *n)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return 1;
    if (r->elements == 0)
        return 0;
    if ((*ids = calloc(r->elements, sizeof **ids)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            return 1;
        if (((*ids)[(*n)++] = strdup(e->element[0]->str)) == NULL)
            return -ENOMEM;
    }
    return 0;
}

int fp_admin_pending_between(fp_admin_t *a, const char *queue, const char *group, const char *lo,
                             const char *hi, size_t count, char ***ids, size_t *n,
                             fp_err_t *err)
{
    *ids = NULL;
    *n = 0;
    char *key = fp_queue_key(fp_admin_prefix(a), queue, "jobs"), limit[24];
    if (key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    snprintf(limit, sizeof limit, "%zu", count);
    const char *argv[] = {"XPENDING", key, group, lo, hi, limit};
    size_t lens[] = {8, strlen(key), strlen(group), strlen(lo), strlen(hi), strlen(limit)};
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, 6, argv, lens, &r, err);
    free(key);
    if (rc < 0 && err != NULL && strstr(err->msg, "NOGROUP") != NULL)
        return 0; /* no daemon ever read this queue: nothing is pending */
    int got = rc == 0 ? pending_ids(r, ids, n) : 0;
    if (r != NULL)
        freeReplyObject(r);
    if (got != 0) {
        fp_admin_ids_free(*ids, *n);
        *ids = NULL;
        *n = 0;
        rc = got < 0 ? fp_err_set(err, -ENOMEM, "out of memory")
                     : fp_err_set(err, FP_EREDIS, "unexpected reply to XPENDING");
    }
    return rc;
}

/* cmd KEY members...: one command over n texts. */
static int key_command(fp_admin_t *a, const char *cmd, const char *key, const char *const *v,
                       const size_t *lens, size_t n, long long *count, fp_err_t *err)
{
    const char **argv = calloc(n + 2, sizeof *argv);
    size_t *argl = calloc(n + 2, sizeof *argl);
    int rc = argv != NULL && argl != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
    redisReply *r = NULL;
    if (rc == 0) {
        argv[0] = cmd;
        argl[0] = strlen(cmd);
        argv[1] = key;
        argl[1] = strlen(key);
        for (size_t i = 0; i < n; i++) {
            argv[2 + i] = v[i];
            argl[2 + i] = lens != NULL ? lens[i] : strlen(v[i]);
        }
        rc = fp_admin_commandv(a, (int)(n + 2), argv, argl, &r, err);
    }
    if (rc == 0 && r->type != REDIS_REPLY_INTEGER)
        rc = fp_err_set(err, FP_EREDIS, "unexpected reply to %s", cmd);
    if (rc == 0 && count != NULL)
        *count = r->integer;
    if (r != NULL)
        freeReplyObject(r);
    free(argv);
    free(argl);
    return rc;
}

int fp_admin_stream_delete(fp_admin_t *a, const char *queue, const char *kind,
                           const char *const *ids, size_t n, size_t *deleted, fp_err_t *err)
{
    if (deleted != NULL)
        *deleted = 0;
    if (n == 0)
        return 0;
    char *key = fp_queue_key(fp_admin_prefix(a), queue, kind);
    if (key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    long long count = 0;
    int rc = key_command(a, "XDEL", key, ids, NULL, n, &count, err);
    free(key);
    if (rc == 0 && deleted != NULL)
        *deleted = (size_t)count;
    return rc;
}

static int delayed_rows(const redisReply *r, fp_sqlq_row_t *rows, size_t *n)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *m = r->element[i], *s = r->element[i + 1];
        if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING)
            return 1;
        fp_sqlq_row_t *row = &rows[(*n)++];
        if ((row->payload = malloc(m->len + 1)) == NULL)
            return -ENOMEM;
        memcpy(row->payload, m->str, m->len);
        row->payload[m->len] = '\0';
        row->len = m->len;
        row->due_ms = (int64_t)strtod(s->str, NULL); /* scores are whole ms */
    }
    return 0;
}

int fp_admin_delayed_head(fp_admin_t *a, const char *queue, size_t count, fp_sqlq_row_t **rows,
                          size_t *n, fp_err_t *err)
{
    *rows = NULL;
    *n = 0;
    char *key = fp_queue_key(fp_admin_prefix(a), queue, "delayed"), stop[24];
    if (key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    snprintf(stop, sizeof stop, "%zu", count > 0 ? count - 1 : 0);
    const char *argv[] = {"ZRANGE", key, "0", stop, "WITHSCORES"};
    size_t lens[] = {6, strlen(key), 1, strlen(stop), 10};
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, 5, argv, lens, &r, err);
    free(key);
    if (rc == 0 && r->type != REDIS_REPLY_ARRAY)
        rc = fp_err_set(err, FP_EREDIS, "unexpected reply to ZRANGE");
    if (rc == 0 && r->elements > 0 && (*rows = calloc(r->elements / 2 + 1, sizeof **rows)) == NULL)
        rc = fp_err_set(err, -ENOMEM, "out of memory");
    int got = rc == 0 && r->elements > 0 ? delayed_rows(r, *rows, n) : 0;
    if (r != NULL)
        freeReplyObject(r);
    if (got != 0)
        rc = got < 0 ? fp_err_set(err, -ENOMEM, "out of memory")
                     : fp_err_set(err, FP_EREDIS, "unexpected reply to ZRANGE");
    if (rc < 0) {
        fp_sqlq_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

int fp_admin_delayed_remove(fp_admin_t *a, const char *queue, const fp_sqlq_row_t *rows, size_t n,
                            fp_err_t *err)
{
    if (n == 0)
        return 0;
    char *key = fp_queue_key(fp_admin_prefix(a), queue, "delayed");
    const char **v = calloc(n, sizeof *v);
    size_t *lens = calloc(n, sizeof *lens);
    int rc = key != NULL && v != NULL && lens != NULL ? 0 : fp_err_set(err, -ENOMEM,
                                                                       "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        v[i] = rows[i].payload;
        lens[i] = rows[i].len;
    }
    if (rc == 0)
        rc = key_command(a, "ZREM", key, v, lens, n, NULL, err);
    free(key);
    free(v);
    free(lens);
    return rc;
}
