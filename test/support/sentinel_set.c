/* sentinel_set.c: starts, watches and stops a master, a replica and three
 * sentinels (sentinel_set.h). Every wait polls with a deadline. */
#include "sentinel_set.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define READY_DEADLINE_MS 60000

/* A command to a sentinel, after AUTH when the set has a password (the
 * test's connection may have been made again since). */
static redisReply *ask(const fp_th_sset_t *s, fp_th_redis_t *sentinel, const char *fmt,
                       const char *arg)
{
    if (s->password[0] != '\0') {
        redisReply *a = fp_th_redis_cmd(sentinel, "AUTH %s", s->password);
        if (a != NULL)
            freeReplyObject(a);
    }
    return fp_th_redis_cmd(sentinel, fmt, arg);
}

/* The value of field in a SENTINEL master reply (a flat name/value array),
 * as a number; -1 when absent. */
static long long master_field(const fp_th_sset_t *s, fp_th_redis_t *sentinel, const char *field)
{
    redisReply *r = ask(s, sentinel, "SENTINEL master %s", FP_TH_SSET_MASTER_NAME);
    long long v = -1;
    for (size_t i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, field) == 0 &&
            r->element[i + 1]->type == REDIS_REPLY_STRING)
            v = atoll(r->element[i + 1]->str);
    if (r != NULL)
        freeReplyObject(r);
    return v;
}

static int named_port(const fp_th_sset_t *s, fp_th_redis_t *sentinel)
{
    redisReply *r = ask(s, sentinel, "SENTINEL get-master-addr-by-name %s", FP_TH_SSET_MASTER_NAME);
    int port = -1;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        port = atoi(r->element[1]->str);
    if (r != NULL)
        freeReplyObject(r);
    return port;
}

static bool replica_in_sync(fp_th_redis_t *replica)
{
    redisReply *r = fp_th_redis_cmd(replica, "INFO replication");
    bool up = r != NULL && r->type == REDIS_REPLY_STRING &&
              strstr(r->str, "master_link_status:up") != NULL;
    if (r != NULL)
        freeReplyObject(r);
    return up;
}

static bool all_ready(fp_th_sset_t *s)
{
    if (!replica_in_sync(&s->servers[1]))
        return false;
    for (int i = 0; i < FP_TH_SSET_SENTINELS; i++)
        if (master_field(s, &s->sentinels[i], "num-slaves") != 1 ||
            master_field(s, &s->sentinels[i], "num-other-sentinels") != FP_TH_SSET_SENTINELS - 1)
            return false;
    return true;
}

int fp_th_sset_start(fp_th_sset_t *s)
{
    return fp_th_sset_start_auth(s, NULL);
}

int fp_th_sset_start_auth(fp_th_sset_t *s, const char *password)
{
    memset(s, 0, sizeof *s);
    snprintf(s->password, sizeof s->password, "%s", password != NULL ? password : "");
    char port[16], conf[768];
    int rc = fp_th_redis_start(&s->servers[0], NULL);
    if (rc < 0)
        return rc;
    snprintf(port, sizeof port, "%d", s->servers[0].port);
    if ((rc = fp_th_redis_start(&s->servers[1], "--replicaof", "127.0.0.1", port, NULL)) < 0)
        goto fail;
    /* Quorum 2 of 3; a master silent for 1 s is down; a stuck failover is
     * retried after 4 s. */
    snprintf(conf, sizeof conf,
             "sentinel monitor %s 127.0.0.1 %s 2\n"
             "sentinel down-after-milliseconds %s 1000\n"
             "sentinel failover-timeout %s 4000\n"
             "sentinel parallel-syncs %s 1\n",
             FP_TH_SSET_MASTER_NAME, port, FP_TH_SSET_MASTER_NAME, FP_TH_SSET_MASTER_NAME,
             FP_TH_SSET_MASTER_NAME);
    if (s->password[0] != '\0') {
        size_t used = strlen(conf);
        snprintf(conf + used, sizeof conf - used, "requirepass %s\nsentinel sentinel-pass %s\n",
                 s->password, s->password);
    }
    for (int i = 0; i < FP_TH_SSET_SENTINELS; i++)
        if ((rc = fp_th_redis_start_sentinel(&s->sentinels[i], conf)) < 0)
            goto fail;
    for (long long end = fp_th_now_ms() + READY_DEADLINE_MS; !all_ready(s); fp_th_nap())
        if (fp_th_now_ms() > end) {
            fprintf(stderr, "sentinel set: not ready within %d ms\n", READY_DEADLINE_MS);
            rc = -ETIMEDOUT;
            goto fail;
        }
    return 0;
fail:
    fp_th_sset_stop(s);
    return rc;
}

void fp_th_sset_stop(fp_th_sset_t *s)
{
    for (int i = 0; i < FP_TH_SSET_SENTINELS; i++)
        fp_th_redis_stop(&s->sentinels[i]);
    fp_th_redis_stop(&s->servers[1]);
    fp_th_redis_stop(&s->servers[0]);
}

void fp_th_sset_config_lines(const fp_th_sset_t *s, char *buf, size_t size)
{
    snprintf(buf, size,
             "sentinels = [\"127.0.0.1:%d\", \"127.0.0.1:%d\", \"127.0.0.1:%d\"]\n"
             "master_name = \"%s\"\n",
             s->sentinels[0].port, s->sentinels[1].port, s->sentinels[2].port,
             FP_TH_SSET_MASTER_NAME);
}

fp_th_redis_t *fp_th_sset_master(fp_th_sset_t *s)
{
    int port = named_port(s, &s->sentinels[0]);
    for (int i = 0; i < 2; i++)
        if (s->servers[i].port == port)
            return &s->servers[i];
    return NULL;
}

fp_th_redis_t *fp_th_sset_other(fp_th_sset_t *s, const fp_th_redis_t *master)
{
    return master == &s->servers[0] ? &s->servers[1] : &s->servers[0];
}

int fp_th_sset_failover(fp_th_sset_t *s)
{
    redisReply *r = ask(s, &s->sentinels[0], "SENTINEL FAILOVER %s", FP_TH_SSET_MASTER_NAME);
    int rc = r != NULL && r->type == REDIS_REPLY_STATUS ? 0 : -EIO;
    if (r != NULL && r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "SENTINEL FAILOVER: %s\n", r->str);
    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

int fp_th_sset_wait_switched(fp_th_sset_t *s, int old_port, int timeout_ms)
{
    for (long long end = fp_th_now_ms() + timeout_ms; fp_th_now_ms() < end; fp_th_nap()) {
        int port = named_port(s, &s->sentinels[0]);
        bool agreed = port > 0 && port != old_port;
        for (int i = 1; agreed && i < FP_TH_SSET_SENTINELS; i++)
            agreed = named_port(s, &s->sentinels[i]) == port;
        fp_th_redis_t *m = agreed ? fp_th_sset_master(s) : NULL;
        if (m != NULL && fp_th_redis_is_master(m))
            return port;
    }
    return -1;
}
