/* heartbeat.c: the daemon's side of the fleet heartbeat (heartbeat.h) on the
 * queue's writer connection, so it costs no connection of its own and never
 * blocks the loop: a beat and a clear are one script call each, answered
 * through a callback. Both keys carry the {fleet} hash tag, so each script
 * touches one Cluster slot. Plain EVAL: a call every few seconds does not
 * need the script cache (and a NOSCRIPT after a Redis restart is then no
 * case to handle). */
#include "queue/queue_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/heartbeat.h"

/* KEYS: record, set. ARGV: id, record, ttl_ms, keep_ms. The last-seen score
 * is Redis' clock, so readers on any host compare it with TIME, not with
 * their own clock. Members unseen for keep_ms are pruned here: every beat of
 * any daemon keeps the set small without a reader that writes. */
static const char beat_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
    "redis.call('ZADD', KEYS[2], now, ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))\n"
    "return now\n";

/* KEYS: record, set. ARGV: id, the token quoted as in the record. Another
 * run under the same id (a restart as the same pid) keeps its record. */
static const char clear_script[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and not string.find(v, ARGV[2], 1, true) then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "return 1\n";

typedef struct beat_call_s {
    void (*cb)(void *ctx, bool ok);
    void *ctx;
} beat_call_t;

static void on_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    (void)c;
    beat_call_t call = *(beat_call_t *)privdata;
    free(privdata);
    bool ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
    if (r != NULL && !ok)
        fp_log_debug(LOG, "fleet heartbeat: %.*s", r->str != NULL ? (int)r->len : 0,
                     r->str != NULL ? r->str : "unexpected reply");
    call.cb(call.ctx, ok);
}

static int send_script(fp_redis_conn_t *conn, const char *prefix, const char *script,
                       const char *id, const char *const *args, size_t nargs,
                       void (*cb)(void *ctx, bool ok), void *ctx)
{
    char *record_key = fp_fleet_record_key(prefix, id);
    char *set_key = fp_fleet_set_key(prefix);
    beat_call_t *call = malloc(sizeof *call);
    const char *argv[9] = {"EVAL", script, "2", record_key, set_key, id};
    size_t lens[9];
    int argc = 6 + (int)nargs, rc = -ENOMEM;
    for (size_t i = 0; i < nargs && i < 3; i++)
        argv[6 + i] = args[i];
    if (record_key != NULL && set_key != NULL && call != NULL && nargs <= 3) {
        for (int i = 0; i < argc; i++)
            lens[i] = strlen(argv[i]);
        *call = (beat_call_t){cb, ctx};
        rc = fp_redis_conn_sendv(conn, argc, argv, lens, 0, on_reply, call);
    }
    if (rc < 0)
        free(call);
    free(record_key);
    free(set_key);
    return rc;
}

int fp_queue_heartbeat(fp_queue_t *q, const char *id, const char *record, int64_t ttl_ms,
                       void (*cb)(void *ctx, bool ok), void *ctx)
{
    if (q->life.closing || !q->conn.writer_up)
        return -ENOTCONN;
    return fp_q_heartbeat_on(q->writer, q->cfg->redis.prefix, id, record, ttl_ms, cb, ctx);
}

int fp_q_heartbeat_on(fp_redis_conn_t *conn, const char *prefix, const char *id,
                      const char *record, int64_t ttl_ms, void (*cb)(void *ctx, bool ok),
                      void *ctx)
{
    char ttl[24], keep[24];
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_ms);
    snprintf(keep, sizeof keep, "%d", FP_FLEET_GONE_KEEP_MS);
    const char *args[] = {record, ttl, keep};
    return send_script(conn, prefix, beat_script, id, args, 3, cb, ctx);
}

int fp_queue_heartbeat_clear(fp_queue_t *q, const char *id, const char *token,
                             void (*cb)(void *ctx, bool ok), void *ctx)
{
    if (q->life.closing || !q->conn.writer_up)
        return -ENOTCONN;
    return fp_q_heartbeat_clear_on(q->writer, q->cfg->redis.prefix, id, token, cb, ctx);
}

int fp_q_heartbeat_clear_on(fp_redis_conn_t *conn, const char *prefix, const char *id,
                            const char *token, void (*cb)(void *ctx, bool ok), void *ctx)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"token\":\"%s\"", token);
    const char *args[] = {quoted};
    return send_script(conn, prefix, clear_script, id, args, 1, cb, ctx);
}

/* ---- reading the fleet: TIME, then ZREVRANGE, then MGET -------------------- */

/* One command at a time: each reply sends the next, so exactly one callback
 * is ever pending and the read ends in exactly one place. */
typedef struct fleet_read_s {
    fp_redis_conn_t *conn;
    const char *prefix;
    void (*cb)(void *ctx, fp_fleet_t *fleet);
    void *ctx;
    fp_fleet_t *fleet;
} fleet_read_t;

static void read_done(fleet_read_t *rd, bool ok)
{
    if (!ok) {
        fp_fleet_clear(rd->fleet);
        free(rd->fleet);
        rd->fleet = NULL;
    }
    rd->cb(rd->ctx, rd->fleet);
    free(rd);
}

static void on_records(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    (void)c;
    fleet_read_t *rd = privdata;
    read_done(rd, fp_fleet_take_records(rd->fleet, r) == 0);
}

static void on_members(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    (void)c;
    fleet_read_t *rd = privdata;
    if (fp_fleet_take_members(rd->fleet, r) < 0) {
        read_done(rd, false);
        return;
    }
    if (rd->fleet->n == 0) {
        read_done(rd, true);
        return;
    }
    char **argv = NULL;
    size_t *lens = NULL;
    int rc = fp_fleet_mget(rd->fleet, rd->prefix, &argv, &lens);
    if (rc == 0)
        rc = fp_redis_conn_sendv(rd->conn, (int)rd->fleet->n + 1, (const char **)argv, lens,
                                 0, on_records, rd);
    fp_fleet_mget_free(rd->fleet, argv, lens);
    if (rc < 0)
        read_done(rd, false);
}

static void on_time(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    (void)c;
    fleet_read_t *rd = privdata;
    if (!fp_fleet_take_time(rd->fleet, r)) {
        read_done(rd, false);
        return;
    }
    char *set_key = fp_fleet_set_key(rd->prefix);
    char stop[24];
    snprintf(stop, sizeof stop, "%d", FP_FLEET_READ_MAX - 1);
    const char *argv[] = {"ZREVRANGE", set_key != NULL ? set_key : "", "0", stop, "WITHSCORES"};
    size_t lens[5];
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    int rc = set_key != NULL ? fp_redis_conn_sendv(rd->conn, 5, argv, lens, 0, on_members, rd)
                             : -ENOMEM;
    free(set_key);
    if (rc < 0)
        read_done(rd, false);
}

int fp_queue_fleet_read(fp_queue_t *q, void (*cb)(void *ctx, fp_fleet_t *fleet), void *ctx)
{
    if (q->life.closing || !q->conn.writer_up)
        return -ENOTCONN;
    return fp_q_fleet_read_on(q->writer, q->cfg->redis.prefix, cb, ctx);
}

int fp_q_fleet_read_on(fp_redis_conn_t *conn, const char *prefix,
                       void (*cb)(void *ctx, fp_fleet_t *fleet), void *ctx)
{
    fleet_read_t *rd = calloc(1, sizeof *rd);
    fp_fleet_t *fleet = calloc(1, sizeof *fleet);
    const char *argv[] = {"TIME"};
    size_t lens[] = {4};
    int rc = rd != NULL && fleet != NULL ? 0 : -ENOMEM;
    if (rc == 0) {
        *rd = (fleet_read_t){conn, prefix, cb, ctx, fleet};
        rc = fp_redis_conn_sendv(conn, 1, argv, lens, 0, on_time, rd);
    }
    if (rc < 0) {
        free(rd);
        free(fleet);
    }
    return rc;
}
