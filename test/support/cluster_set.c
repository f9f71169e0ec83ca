/* cluster_set.c: starts, reshards, fails over and stops a Redis Cluster of
 * real servers (cluster_set.h). Every wait polls with a deadline; the slot
 * maps are read with forkpool's own CLUSTER SLOTS parser. */
#include "cluster_set.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "redis/cluster_parse.h"

#define READY_DEADLINE_MS 60000
#define CREATE_DEADLINE_MS 60000

/* The slot map as node answers it (heap; free()), or NULL. */
static fp_cluster_map_t *map_of(fp_th_redis_t *node)
{
    if (node->pid <= 0)
        return NULL;
    fp_cluster_map_t *map = malloc(sizeof *map);
    redisReply *r = fp_th_redis_cmd(node, "CLUSTER SLOTS");
    char why[160];
    if (map != NULL && fp_cluster_slots_parse(r, "127.0.0.1", map, why, sizeof why) < 0) {
        free(map);
        map = NULL;
    }
    if (r != NULL)
        freeReplyObject(r);
    return map;
}

static int owner_port(const fp_cluster_map_t *map, int slot)
{
    int at = fp_cluster_map_owner(map, (uint16_t)slot);
    return at < 0 ? -1 : map->nodes[at].port;
}

static bool text_has(fp_th_redis_t *node, const char *cmd, const char *needle)
{
    redisReply *r = fp_th_redis_cmd(node, cmd);
    bool yes = r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
               strstr(r->str, needle) != NULL;
    if (r != NULL)
        freeReplyObject(r);
    return yes;
}

/* Every node is ok, serves all slots with n_masters masters, the same map
 * on each, and every replica is in sync. */
static bool all_agree(fp_th_cluster_t *c)
{
    fp_cluster_map_t *first = NULL;
    bool ok = true;
    for (int i = 0; ok && i < c->n_nodes; i++) {
        fp_cluster_map_t *m = map_of(&c->nodes[i]);
        ok = m != NULL && text_has(&c->nodes[i], "CLUSTER INFO", "cluster_state:ok") &&
             fp_cluster_map_unserved(m) == 0 && m->n_nodes == (size_t)c->n_masters &&
             (fp_th_redis_is_master(&c->nodes[i]) ||
              text_has(&c->nodes[i], "INFO replication", "master_link_status:up"));
        for (int s = 0; ok && first != NULL && s < FP_CLUSTER_SLOTS; s++)
            ok = owner_port(m, s) == owner_port(first, s);
        if (first == NULL)
            first = m;
        else
            free(m);
    }
    free(first);
    return ok;
}

static int wait_agreed(fp_th_cluster_t *c, const char *what)
{
    for (long long end = fp_th_now_ms() + READY_DEADLINE_MS; !all_agree(c); fp_th_nap())
        if (fp_th_now_ms() > end) {
            fprintf(stderr, "cluster set: %s not settled within %d ms\n", what, READY_DEADLINE_MS);
            return -ETIMEDOUT;
        }
    return 0;
}

static int start_node(fp_th_cluster_t *c, int i)
{
    char bus[16], tls[16], cert[600], key[600], ca[600];
    int port = fp_th_free_port();
    if (port < 0)
        return port;
    snprintf(bus, sizeof bus, "%d", port);
    /* A node silent for 2 s is failing: failovers in tests take seconds. */
    if (c->tls_dir[0] == '\0')
        return fp_th_redis_start(&c->nodes[i], "--cluster-enabled", "yes", "--cluster-port", bus,
                                 "--cluster-node-timeout", "2000", NULL);
    if ((c->tls_ports[i] = fp_th_free_port()) < 0)
        return c->tls_ports[i];
    snprintf(tls, sizeof tls, "%d", c->tls_ports[i]);
    snprintf(cert, sizeof cert, "%s/server.crt", c->tls_dir);
    snprintf(key, sizeof key, "%s/server.key", c->tls_dir);
    snprintf(ca, sizeof ca, "%s/ca.crt", c->tls_dir);
    return fp_th_redis_start(&c->nodes[i], "--cluster-enabled", "yes", "--cluster-port", bus,
                             "--cluster-node-timeout", "2000", "--tls-port", tls,
                             "--tls-cluster", "yes", "--tls-replication", "yes",
                             "--tls-cert-file", cert, "--tls-key-file", key,
                             "--tls-ca-cert-file", ca, "--tls-auth-clients", "optional", NULL);
}

static int create(fp_th_cluster_t *c, int replicas_each)
{
    const char *cli = getenv("REDIS_CLI");
    char addrs[FP_TH_CLUSTER_MAX][32], reps[8];
    const char *argv[FP_TH_CLUSTER_MAX + 8];
    int argc = 0;
    argv[argc++] = cli != NULL && *cli ? cli : "/usr/bin/redis-cli";
    argv[argc++] = "--cluster";
    argv[argc++] = "create";
    for (int i = 0; i < c->n_nodes; i++) {
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", c->nodes[i].port);
        argv[argc++] = addrs[i];
    }
    snprintf(reps, sizeof reps, "%d", replicas_each);
    argv[argc++] = "--cluster-replicas";
    argv[argc++] = reps;
    argv[argc++] = "--cluster-yes";
    argv[argc] = NULL;
    fp_th_result_t res;
    int rc = fp_th_run(argv, NULL, "", 0, CREATE_DEADLINE_MS, &res);
    if (rc == 0 && res.status != 0) {
        fprintf(stderr, "redis-cli --cluster create failed (%d):\n%s%s\n", res.status, res.out,
                res.err);
        rc = -EIO;
    }
    if (rc == 0)
        fp_th_result_free(&res);
    return rc;
}

static int start(fp_th_cluster_t *c, int masters, int replicas_each)
{
    if (masters < 3 || replicas_each < 0 || replicas_each > 1 ||
        masters * (1 + replicas_each) > FP_TH_CLUSTER_MAX)
        return -EINVAL;
    c->n_masters = masters;
    int rc = 0;
    for (int i = 0; i < masters * (1 + replicas_each); i++, c->n_nodes++)
        if ((rc = start_node(c, i)) < 0)
            goto fail;
    if ((rc = create(c, replicas_each)) < 0 || (rc = wait_agreed(c, "creation")) < 0)
        goto fail;
    return 0;
fail:
    fp_th_cluster_stop(c);
    return rc;
}

int fp_th_cluster_start(fp_th_cluster_t *c, int masters, int replicas_each)
{
    memset(c, 0, sizeof *c);
    return start(c, masters, replicas_each);
}

int fp_th_cluster_start_tls(fp_th_cluster_t *c, int masters, int replicas_each,
                            const char *cert_dir)
{
    memset(c, 0, sizeof *c);
    if (snprintf(c->tls_dir, sizeof c->tls_dir, "%s", cert_dir) >= (int)sizeof c->tls_dir)
        return -ENAMETOOLONG;
    return start(c, masters, replicas_each);
}

void fp_th_cluster_stop(fp_th_cluster_t *c)
{
    for (int i = 0; i < FP_TH_CLUSTER_MAX; i++)
        fp_th_redis_stop(&c->nodes[i]);
    c->n_nodes = 0;
}

fp_th_redis_t *fp_th_cluster_by_port(fp_th_cluster_t *c, int port)
{
    for (int i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].port == port)
            return &c->nodes[i];
    return NULL;
}

fp_th_redis_t *fp_th_cluster_owner(fp_th_cluster_t *c, int slot)
{
    for (int i = 0; i < c->n_nodes; i++) {
        fp_cluster_map_t *m = map_of(&c->nodes[i]);
        if (m == NULL)
            continue;
        int port = owner_port(m, slot);
        free(m);
        return port > 0 ? fp_th_cluster_by_port(c, port) : NULL;
    }
    return NULL;
}

fp_th_redis_t *fp_th_cluster_other_master(fp_th_cluster_t *c, const fp_th_redis_t *not)
{
    for (int i = 0; i < c->n_nodes; i++)
        if (&c->nodes[i] != not && c->nodes[i].pid > 0 && fp_th_redis_is_master(&c->nodes[i]))
            return &c->nodes[i];
    return NULL;
}

/* CLUSTER MYID of node into id (41 bytes); 0 or -EIO. */
static int node_id(fp_th_redis_t *node, char id[64])
{
    redisReply *r = fp_th_redis_cmd(node, "CLUSTER MYID");
    int rc = r != NULL && r->type == REDIS_REPLY_STRING && r->len < 64 ? 0 : -EIO;
    if (rc == 0)
        memcpy(id, r->str, r->len + 1);
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

static int status_ok(fp_th_redis_t *node, const char *fmt, int slot, const char *id)
{
    redisReply *r = fp_th_redis_cmd(node, fmt, slot, id);
    int rc = r != NULL && r->type == REDIS_REPLY_STATUS ? 0 : -EIO;
    if (rc < 0)
        fprintf(stderr, "cluster set: \"%s\" on %d: %s\n", fmt, node->port,
                r != NULL && r->str != NULL ? r->str : "no reply");
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

int fp_th_cluster_move_begin(fp_th_cluster_t *c, int slot, fp_th_redis_t *to)
{
    fp_th_redis_t *from = fp_th_cluster_owner(c, slot);
    char from_id[64], to_id[64];
    if (from == NULL || from == to || node_id(from, from_id) < 0 || node_id(to, to_id) < 0)
        return -EIO;
    /* IMPORTING first, so no moment has the source sending ASK to a node
     * that would refuse the ASKING command. */
    if (status_ok(to, "CLUSTER SETSLOT %d IMPORTING %s", slot, from_id) < 0)
        return -EIO;
    return status_ok(from, "CLUSTER SETSLOT %d MIGRATING %s", slot, to_id);
}

/* MIGRATE the slot's keys from from to to, a batch at a time, until none is
 * left. 0 or -EIO. */
static int migrate_keys(fp_th_redis_t *from, fp_th_redis_t *to, int slot)
{
    char port[16];
    snprintf(port, sizeof port, "%d", to->port);
    for (;;) {
        redisReply *keys = fp_th_redis_cmd(from, "CLUSTER GETKEYSINSLOT %d 100", slot);
        if (keys == NULL || keys->type != REDIS_REPLY_ARRAY) {
            if (keys != NULL)
                freeReplyObject(keys);
            return -EIO;
        }
        size_t n = keys->elements;
        const char *argv[100 + 8];
        size_t lens[100 + 8];
        int argc = 0;
        const char *head[] = {"MIGRATE", "127.0.0.1", port, "", "0", "10000", "KEYS"};
        for (size_t i = 0; i < sizeof head / sizeof head[0]; i++, argc++) {
            argv[argc] = head[i];
            lens[argc] = strlen(head[i]);
        }
        for (size_t i = 0; i < n; i++, argc++) {
            argv[argc] = keys->element[i]->str;
            lens[argc] = keys->element[i]->len;
        }
        redisReply *r = n > 0 ? fp_th_redis_cmdv(from, argc, argv, lens) : NULL;
        bool ok = n == 0 || (r != NULL && r->type == REDIS_REPLY_STATUS);
        if (!ok)
            fprintf(stderr, "cluster set: MIGRATE: %s\n", r != NULL && r->str ? r->str : "-");
        if (r != NULL)
            freeReplyObject(r);
        freeReplyObject(keys);
        if (!ok)
            return -EIO;
        if (n == 0)
            return 0;
    }
}

int fp_th_cluster_move_finish(fp_th_cluster_t *c, int slot, fp_th_redis_t *to)
{
    fp_th_redis_t *from = fp_th_cluster_owner(c, slot);
    char to_id[64];
    if (from == NULL || node_id(to, to_id) < 0 || migrate_keys(from, to, slot) < 0)
        return -EIO;
    /* The new owner first, then the old (which then answers MOVED), then
     * every other master, as redis-cli --cluster reshard does. */
    if (status_ok(to, "CLUSTER SETSLOT %d NODE %s", slot, to_id) < 0 ||
        status_ok(from, "CLUSTER SETSLOT %d NODE %s", slot, to_id) < 0)
        return -EIO;
    for (int i = 0; i < c->n_nodes; i++)
        if (&c->nodes[i] != to && &c->nodes[i] != from && fp_th_redis_is_master(&c->nodes[i]) &&
            status_ok(&c->nodes[i], "CLUSTER SETSLOT %d NODE %s", slot, to_id) < 0)
            return -EIO;
    return wait_agreed(c, "the slot move");
}

/* The port a replica names for master: its TLS port when replication is
 * over TLS. */
static int replication_port(const fp_th_cluster_t *c, const fp_th_redis_t *master)
{
    for (int i = 0; i < c->n_nodes; i++)
        if (&c->nodes[i] == master && c->tls_ports[i] > 0)
            return c->tls_ports[i];
    return master->port;
}

/* A replica of master (ROLE names its port), or NULL. */
static fp_th_redis_t *replica_of(fp_th_cluster_t *c, const fp_th_redis_t *master)
{
    int port = replication_port(c, master);
    for (int i = 0; i < c->n_nodes; i++) {
        redisReply *r = fp_th_redis_cmd(&c->nodes[i], "ROLE");
        bool yes = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
                   strcmp(r->element[0]->str, "slave") == 0 &&
                   r->element[2]->type == REDIS_REPLY_INTEGER &&
                   r->element[2]->integer == port;
        if (r != NULL)
            freeReplyObject(r);
        if (yes)
            return &c->nodes[i];
    }
    return NULL;
}

fp_th_redis_t *fp_th_cluster_failover(fp_th_cluster_t *c, fp_th_redis_t *master)
{
    fp_th_redis_t *replica = replica_of(c, master);
    if (replica == NULL)
        return NULL;
    redisReply *r = fp_th_redis_cmd(replica, "CLUSTER FAILOVER");
    bool accepted = r != NULL && r->type == REDIS_REPLY_STATUS;
    if (!accepted)
        fprintf(stderr, "cluster set: CLUSTER FAILOVER: %s\n", r != NULL && r->str ? r->str : "-");
    if (r != NULL)
        freeReplyObject(r);
    if (!accepted)
        return NULL;
    for (long long end = fp_th_now_ms() + READY_DEADLINE_MS; !fp_th_redis_is_master(replica); fp_th_nap())
        if (fp_th_now_ms() > end)
            return NULL;
    return wait_agreed(c, "the failover") == 0 ? replica : NULL;
}

static void seeds(const fp_th_cluster_t *c, bool tls, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n_nodes && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s\"127.0.0.1:%d\"", i ? ", " : "",
                                 tls ? c->tls_ports[i] : c->nodes[i].port);
}

void fp_th_cluster_seeds(const fp_th_cluster_t *c, char *buf, size_t size)
{
    seeds(c, false, buf, size);
}

void fp_th_cluster_tls_seeds(const fp_th_cluster_t *c, char *buf, size_t size)
{
    seeds(c, true, buf, size);
}
