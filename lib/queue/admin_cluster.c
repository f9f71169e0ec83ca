/* admin_cluster.c: the command line over a Redis Cluster (admin_internal.h).
 * It reads the slot map from the seeds (cluster_sync.h), keeps one blocking
 * connection per master it needed, and sends each command to the master of
 * its key's slot; a reply saying the slot is elsewhere (MOVED), being moved
 * (ASK, TRYAGAIN) or unserved (CLUSTERDOWN) is followed a few times before
 * it is reported. A pipelined enqueue goes to its queue's master as a
 * whole and follows no redirection: during a migration of its slot, or a
 * move in the middle of it, the jobs not added fail with Redis' own ASK or
 * MOVED text (following them inside a pipeline would mean knowing which
 * of its commands applied where). */
#include "queue/admin_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis/cluster_parse.h"
#include "redis/cluster_sync.h"
#include "redis/redis_sync.h"

#define COMMAND_TIMEOUT_MS 30000
#define ATTEMPTS 20          /* redirections and pauses followed per command */
#define PAUSE_MS 100         /* after TRYAGAIN or CLUSTERDOWN */

typedef struct node_conn_s {
    fp_cluster_addr_t addr;
    redisContext *c;
} node_conn_t;

struct fp_admin_cluster_s {
    fp_cluster_map_t map;
    node_conn_t conns[FP_CLUSTER_NODES_MAX];
    size_t n;
};

static int64_t timeout_ms(const fp_admin_t *a)
{
    return a->cfg->redis.connect_timeout_ms > 0 ? a->cfg->redis.connect_timeout_ms : 5000;
}

static int read_map(fp_admin_t *a, fp_err_t *err)
{
    return fp_cluster_map_sync((const char *const *)a->cfg->redis.cluster.items,
                               a->cfg->redis.cluster.count, &a->url, timeout_ms(a), &a->cl->map,
                               err);
}

/* AUTH as the URL says, on a new node connection. */
static int auth(fp_admin_t *a, redisContext *c, char *why, size_t size)
{
    const fp_redis_url_t *u = &a->url;
    if (u->password == NULL)
        return 0;
    redisReply *r = u->user != NULL ? redisCommand(c, "AUTH %s %s", u->user, u->password)
                                    : redisCommand(c, "AUTH %s", u->password);
    int rc = r != NULL && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (rc < 0)
        snprintf(why, size, "AUTH failed: %s", r != NULL ? r->str : c->errstr);
    freeReplyObject(r);
    return rc;
}

/* The connection to addr, made when new; a->c and a->where become it. */
static int use_node(fp_admin_t *a, const fp_cluster_addr_t *addr, fp_err_t *err)
{
    fp_admin_cluster_t *cl = a->cl;
    fp_sentinel_addr_format(addr, a->where, sizeof a->where);
    for (size_t i = 0; i < cl->n; i++)
        if (fp_sentinel_addr_equal(&cl->conns[i].addr, addr)) {
            a->c = cl->conns[i].c;
            return 0;
        }
    if (cl->n == FP_CLUSTER_NODES_MAX)
        return fp_err_set(err, FP_EREDIS, "too many cluster nodes");
    char why[400] = "";
    redisContext *c = NULL;
    /* rediss://: TLS to every node, verified against the address the map
     * gives (or redis.tls_server_name) */
    if (fp_redis_sync_connect(addr->host, addr->port, a->url.tls, timeout_ms(a), &c, why,
                              sizeof why) < 0 ||
        auth(a, c, why, sizeof why) < 0) {
        fp_redis_sync_free(c);
        return fp_err_set(err, FP_EREDIS, "cannot connect to Redis at %s: %s", a->where, why);
    }
    struct timeval tv = {COMMAND_TIMEOUT_MS / 1000, 0};
    redisSetTimeout(c, tv);
    cl->conns[cl->n++] = (node_conn_t){*addr, c};
    a->c = c;
    return 0;
}

/* A node whose connection failed: forgotten, so the next use connects again. */
static void forget_current(fp_admin_t *a)
{
    fp_admin_cluster_t *cl = a->cl;
    for (size_t i = 0; i < cl->n; i++)
        if (cl->conns[i].c == a->c) {
            fp_redis_sync_free(cl->conns[i].c);
            cl->conns[i] = cl->conns[--cl->n];
            break;
        }
    a->c = NULL;
}

int fp__admin_cluster_open(fp_admin_t *a, fp_err_t *err)
{
    a->cl = calloc(1, sizeof *a->cl);
    if (a->cl == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = read_map(a, err);
    if (rc == 0 && a->cl->map.n_nodes == 0)
        rc = fp_err_set(err, FP_EREDIS, "the cluster's slot map names no master");
    return rc < 0 ? rc : use_node(a, &a->cl->map.nodes[0], err);
}

void fp__admin_cluster_free(fp_admin_t *a)
{
    for (size_t i = 0; i < a->cl->n; i++)
        fp_redis_sync_free(a->cl->conns[i].c);
    free(a->cl);
    a->cl = NULL;
    a->c = NULL;
}

int fp__admin_cluster_route(fp_admin_t *a, const char *key, size_t len, fp_err_t *err)
{
    uint16_t slot = fp_cluster_keyslot(key, len);
    int owner = fp_cluster_map_owner(&a->cl->map, slot);
    if (owner < 0 && read_map(a, err) == 0)
        owner = fp_cluster_map_owner(&a->cl->map, slot);
    if (owner < 0)
        return fp_err_set(err, FP_EREDIS, "no cluster master serves slot %u (key %.*s)", slot,
                          (int)(len > 200 ? 200 : len), key);
    return use_node(a, &a->cl->map.nodes[owner], err);
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* ASKING, then the command once on the node the ASK names. */
static redisReply *ask(fp_admin_t *a, const fp_cluster_addr_t *to, int argc, const char **argv,
                       const size_t *lens, fp_err_t *err)
{
    if (use_node(a, to, err) < 0)
        return NULL;
    redisReply *ok = redisCommand(a->c, "ASKING");
    freeReplyObject(ok);
    return ok != NULL ? redisCommandArgv(a->c, argc, argv, lens) : NULL;
}

int fp__admin_cluster_commandv(fp_admin_t *a, int argc, const char **argv, const size_t *lens,
                               redisReply **out, fp_err_t *err)
{
    int k = fp_cluster_command_key(argc, argv, lens);
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (k >= 0 && fp__admin_cluster_route(a, argv[k], lens != NULL ? lens[k] : strlen(argv[k]),
                                              err) < 0)
            return FP_EREDIS;
        redisReply *r = redisCommandArgv(a->c, argc, argv, lens);
        if (r == NULL) {
            int rc = fp_err_set(err, FP_EREDIS, "Redis at %s: %s", a->where,
                                a->c->errstr[0] != '\0' ? a->c->errstr : "connection lost");
            forget_current(a);
            return rc;
        }
        fp_cluster_redirect_t to;
        fp_cluster_redirect_kind_t kind = r->type == REDIS_REPLY_ERROR
                                              ? fp_cluster_redirect_parse(r->str, r->len, "", &to)
                                              : FP_CLUSTER_REDIRECT_NONE;
        bool again = r->type == REDIS_REPLY_ERROR && kind == FP_CLUSTER_REDIRECT_NONE &&
                     fp_cluster_fault_reply(r->str, r->len) != NULL; /* TRYAGAIN, CLUSTERDOWN */
        if (kind == FP_CLUSTER_REDIRECT_ASK) {
            freeReplyObject(r);
            if ((r = ask(a, &to.to, argc, argv, lens, err)) == NULL)
                return FP_EREDIS;
            kind = r->type == REDIS_REPLY_ERROR
                       ? fp_cluster_redirect_parse(r->str, r->len, "", &to)
                       : FP_CLUSTER_REDIRECT_NONE;
            again = kind != FP_CLUSTER_REDIRECT_NONE;
        }
        if (kind == FP_CLUSTER_REDIRECT_MOVED || again) {
            char said[200];
            snprintf(said, sizeof said, "%s", r->str);
            freeReplyObject(r);
            if (kind != FP_CLUSTER_REDIRECT_MOVED)
                pause_ms(PAUSE_MS);
            if (read_map(a, err) < 0 || attempt + 1 == ATTEMPTS)
                return fp_err_set(err, FP_EREDIS, "%s: %s", argv[0], said);
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            int rc = fp_err_set(err, FP_EREDIS, "%s: %s", argv[0], r->str);
            freeReplyObject(r);
            return rc;
        }
        *out = r;
        return 0;
    }
    return fp_err_set(err, FP_EREDIS, "%s: the cluster kept redirecting", argv[0]);
}
