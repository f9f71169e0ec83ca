/* test_it_cluster.c: forkpool's Redis Cluster decisions (redis/cluster_parse.h)
 * against a live cluster (test/support/cluster_set.h: 3 masters, one replica
 * each, on loopback): the slot of forkpool's queue keys as the nodes compute
 * it, the slot map they answer, and the MOVED and ASK errors they give while
 * one queue's slot is moved by hand to another master and that master is then
 * failed over; and one connection that follows a slot through the cluster
 * locator (redis/cluster.h) while that slot is moved and its master is
 * failed over, every command applied once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_set.h"
#include "harness.h"
#include "redis/cluster_parse.h"
#include "redis/cluster.h"
#include "redis/cluster_sync.h"
#include "redis/redis_conn.h"

static int setup(void **state)
{
    fp_th_cluster_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    if (fp_th_cluster_start(c, 3, 1) < 0)
        fail_msg("cannot start the cluster");
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    fp_th_cluster_t *c = *state;
    fp_th_cluster_stop(c);
    free(c);
    return 0;
}

static const char *const QUEUE_KEYS[] = {
    "P:{default}:stream", "P:{emails}:stream", "P:{emails}:dead", "P:{reports}:held",
    "P:{a}:x",           "P:{}:x",            "P:{{q}}:x",       "plain",
};

static void test_cluster_keyslot_live(void **state)
{
    fp_th_cluster_t *c = *state;
    for (size_t i = 0; i < sizeof QUEUE_KEYS / sizeof QUEUE_KEYS[0]; i++) {
        const char *k = QUEUE_KEYS[i];
        long long live = fp_th_redis_int(&c->nodes[0], "CLUSTER KEYSLOT %s", k);
        if (live != fp_cluster_keyslot(k, strlen(k)))
            fail_msg("\"%s\": forkpool says %u, Redis %lld", k, fp_cluster_keyslot(k, strlen(k)),
                     live);
    }
}

/* The error a node gives for a SET of key, parsed; the kind. */
static fp_cluster_redirect_kind_t redirect_of(fp_th_redis_t *node, const char *cmd, const char *key,
                                              fp_cluster_redirect_t *out)
{
    redisReply *r = fp_th_redis_cmd(node, cmd, key);
    assert_non_null(r);
    fp_cluster_redirect_kind_t kind = FP_CLUSTER_REDIRECT_NONE;
    if (r->type == REDIS_REPLY_ERROR)
        kind = fp_cluster_redirect_parse(r->str, r->len, "127.0.0.1", out);
    freeReplyObject(r);
    return kind;
}

static void expect_owner(fp_th_cluster_t *c, int slot, const fp_th_redis_t *node)
{
    fp_cluster_map_t *map = malloc(sizeof *map);
    assert_non_null(map);
    /* Every node's CLUSTER SLOTS, through forkpool's parser, names node. */
    for (int i = 0; i < c->n_nodes; i++) {
        redisReply *r = fp_th_redis_cmd(&c->nodes[i], "CLUSTER SLOTS");
        char why[160] = "";
        if (fp_cluster_slots_parse(r, "127.0.0.1", map, why, sizeof why) < 0)
            fail_msg("CLUSTER SLOTS of %d: %s", c->nodes[i].port, why);
        freeReplyObject(r);
        assert_int_equal(map->n_nodes, 3);
        assert_int_equal(fp_cluster_map_unserved(map), 0);
        assert_int_equal(map->nodes[fp_cluster_map_owner(map, (uint16_t)slot)].port, node->port);
    }
    free(map);
}

static void test_cluster_redirects(void **state)
{
    fp_th_cluster_t *c = *state;
    const char *key = "P:{emails}:stream", *fresh = "P:{emails}:fresh";
    int slot = fp_cluster_keyslot(key, strlen(key));
    fp_th_redis_t *owner = fp_th_cluster_owner(c, slot);
    assert_non_null(owner);
    expect_owner(c, slot, owner);
    fp_th_redis_t *other = fp_th_cluster_other_master(c, owner);
    assert_non_null(other);
    redisReply *added = fp_th_redis_cmd(owner, "XADD %s * n 1", key);
    assert_non_null(added);
    assert_int_equal(added->type, REDIS_REPLY_STRING); /* the entry id */
    freeReplyObject(added);
    assert_int_equal(fp_th_redis_int(owner, "XLEN %s", key), 1);

    /* Another master sends the client to the owner. */
    fp_cluster_redirect_t r;
    assert_int_equal(redirect_of(other, "XLEN %s", key, &r), FP_CLUSTER_REDIRECT_MOVED);
    assert_int_equal(r.slot, slot);
    assert_int_equal(r.to.port, owner->port);
    assert_string_equal(r.to.host, "127.0.0.1");

    /* While the slot migrates, the owner still serves the keys it holds
     * and sends those it does not have to the target with ASK; the target
     * takes them only after ASKING, and otherwise sends the client back. */
    assert_int_equal(fp_th_cluster_move_begin(c, slot, other), 0);
    assert_int_equal(fp_th_redis_int(owner, "XLEN %s", key), 1);
    assert_int_equal(redirect_of(owner, "XLEN %s", fresh, &r), FP_CLUSTER_REDIRECT_ASK);
    assert_int_equal(r.slot, slot);
    assert_int_equal(r.to.port, other->port);
    assert_int_equal(redirect_of(other, "XLEN %s", fresh, &r), FP_CLUSTER_REDIRECT_MOVED);
    assert_int_equal(r.to.port, owner->port);
    redisReply *asking = fp_th_redis_cmd(other, "ASKING");
    assert_non_null(asking);
    assert_int_equal(asking->type, REDIS_REPLY_STATUS);
    freeReplyObject(asking);
    assert_int_equal(fp_th_redis_int(other, "XLEN %s", fresh), 0);

    /* Moved: the old owner answers MOVED to the new one, which has the data. */
    assert_int_equal(fp_th_cluster_move_finish(c, slot, other), 0);
    expect_owner(c, slot, other);
    assert_int_equal(redirect_of(owner, "XLEN %s", key, &r), FP_CLUSTER_REDIRECT_MOVED);
    assert_int_equal(r.to.port, other->port);
    assert_int_equal(fp_th_redis_int(other, "XLEN %s", key), 1);

    /* Failed over: the replica serves the slot with the data it had. */
    fp_th_redis_t *promoted = fp_th_cluster_failover(c, other);
    assert_non_null(promoted);
    assert_ptr_not_equal(promoted, other);
    expect_owner(c, slot, promoted);
    assert_int_equal(fp_th_redis_int(promoted, "XLEN %s", key), 1);
    assert_int_equal(redirect_of(other, "XLEN %s", key, &r), FP_CLUSTER_REDIRECT_MOVED);
    assert_int_equal(r.to.port, promoted->port);
}

/* The command line's blocking map: a seed that does not answer is skipped,
 * the next one's map is whole and names the owner the servers name. */
static void test_cluster_map_sync(void **state)
{
    fp_th_cluster_t *c = *state;
    char dead[32], live[32], bad[32];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", fp_th_free_port());
    snprintf(live, sizeof live, "127.0.0.1:%d", c->nodes[c->n_nodes - 1].port);
    snprintf(bad, sizeof bad, "127.0.0.1");
    fp_cluster_map_t *map = malloc(sizeof *map);
    assert_non_null(map);
    fp_err_t err = {0};
    const char *seeds[] = {bad, dead, live};
    assert_int_equal(fp_cluster_map_sync(seeds, 3, NULL, 2000, map, &err), 0);
    assert_int_equal(fp_cluster_map_unserved(map), 0);
    assert_int_equal(map->n_nodes, 3);
    const char *key = "fp:{reports}:jobs";
    uint16_t slot = fp_cluster_keyslot(key, strlen(key));
    fp_th_redis_t *owner = fp_th_cluster_owner(c, slot);
    assert_non_null(owner);
    int node_of = -1;
    char why[160] = "";
    assert_int_equal(fp_cluster_route(map, &key, 1, &node_of, why, sizeof why), 0);
    assert_int_equal(map->nodes[node_of].port, owner->port);

    /* Nobody answers: every seed is named with what went wrong; AUTH is
     * sent when the URL has a password (these nodes have none). */
    fp_redis_url_t url;
    assert_int_equal(fp_redis_url_parse("redis://:s3cret@127.0.0.1/0", &url, &err), 0);
    assert_int_equal(fp_cluster_map_sync(seeds, 3, &url, 2000, map, &err), FP_EREDIS);
    FP_TH_EXPECT_ALL_IN(err.msg, "no cluster node answered", "127.0.0.1: needs a port", dead,
                        live, "AUTH failed");
    fp_redis_url_free(&url);
    assert_int_equal(fp_cluster_map_sync(seeds, 0, NULL, 2000, map, &err), FP_EREDIS);
    FP_TH_EXPECT_ALL_IN(err.msg, "no seed nodes");
    free(map);
}

/* ---- one connection following a slot (redis/cluster.h) -------------------- */

typedef struct follow_s {
    uv_loop_t loop;
    int ups, downs, replies;
    char last_down[256];
    bool got, lost;
    long long value;
} follow_t;

static void on_follow_state(fp_redis_conn_t *c, bool up, const char *reason, void *ctx)
{
    follow_t *f = ctx;
    (void)c;
    if (up) {
        f->ups++;
        return;
    }
    f->downs++;
    snprintf(f->last_down, sizeof f->last_down, "%s", reason != NULL ? reason : "");
}

static void on_incr(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    follow_t *f = privdata;
    (void)c;
    f->replies++;
    if (r == NULL) {
        f->lost = true;
        return;
    }
    if (r->type != REDIS_REPLY_INTEGER)
        fail_msg("INCR answered %d %.*s", r->type, (int)r->len, r->str != NULL ? r->str : "");
    f->got = true;
    f->value = r->integer;
}

/* Runs the loop until *flag (or 30 s pass: a failure). */
static void follow_run(follow_t *f, const bool *flag, const char *what)
{
    long long end = fp_th_now_ms() + 30000;
    while (!*flag) {
        if (fp_th_now_ms() > end)
            fail_msg("waited for %s (last down: %s)", what, f->last_down);
        uv_run(&f->loop, UV_RUN_ONCE);
    }
}

/* INCR key once it is up; a command lost to a redirection (NULL) is sent
 * again once the connection is back: the value, and how many were lost. */
static long long follow_incr(follow_t *f, fp_redis_conn_t *c, const char *key, int *lost)
{
    long long end = fp_th_now_ms() + 30000;
    *lost = 0;
    for (;;) {
        while (!fp_redis_conn_is_up(c)) {
            if (fp_th_now_ms() > end)
                fail_msg("never up again (last down: %s)", f->last_down);
            uv_run(&f->loop, UV_RUN_ONCE);
        }
        f->got = f->lost = false;
        const char *argv[] = {"INCR", key};
        assert_int_equal(fp_redis_conn_sendv(c, 2, argv, (size_t[]){4, strlen(key)}, 0, on_incr,
                                             f), 0);
        bool done = false;
        while (!done) {
            uv_run(&f->loop, UV_RUN_ONCE);
            done = f->got || f->lost;
        }
        if (f->got)
            return f->value;
        ++*lost;
        if (fp_th_now_ms() > end)
            fail_msg("INCR never answered (last down: %s)", f->last_down);
    }
}

static void expect_at(fp_redis_conn_t *c, const fp_th_redis_t *node)
{
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", node->port);
    assert_string_equal(fp_redis_conn_where(c), want);
}

/* A connection made with the slot's locator finds the slot's master through
 * a dead seed and a live one; while the slot is being migrated a command
 * answered ASK is not applied and comes back lost, the connection asks the
 * map again and lands on the new owner; after a failover of that owner a
 * command answered MOVED by the demoted node is lost the same way and the
 * connection follows to the promoted replica. INCR counts every command
 * applied: 1, 2, 3 means none twice and none lost. */
static void test_cluster_follow(void **state)
{
    fp_th_cluster_t *c = *state;
    follow_t f = {0};
    assert_int_equal(uv_loop_init(&f.loop), 0);
    char dead[32], live[32];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", fp_th_free_port());
    snprintf(live, sizeof live, "127.0.0.1:%d", c->nodes[0].port);
    const char *seeds[] = {dead, live};
    fp_cluster_t *cl = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_cluster_new(&f.loop, seeds, 2, NULL, 2000, false, &cl, &err), 0);
    const char *key = "P:{follow}:n", *fresh = "P:{follow}:fresh";
    uint16_t slot = fp_cluster_keyslot(key, strlen(key));
    const fp_redis_locator_t *loc = fp_cluster_locator(cl, slot, "queue follow");
    assert_non_null(loc);
    assert_ptr_equal(fp_cluster_locator(cl, slot, "again"), loc);
    fp_redis_url_t url = {.port = 1}; /* never used: the locator says where */
    fp_redis_conn_opts_t opts = {.name = "test", .connect_timeout_ms = 2000,
                                 .command_timeout_ms = 5000, .locator = loc, .cluster = true};
    fp_redis_conn_t *conn = NULL;
    assert_int_equal(fp_redis_conn_new(&f.loop, &url, &opts, on_follow_state, &f, &conn, &err), 0);
    fp_redis_conn_start(conn);

    fp_th_redis_t *owner = fp_th_cluster_owner(c, slot);
    assert_non_null(owner);
    int lost = 0;
    assert_int_equal(follow_incr(&f, conn, key, &lost), 1);
    assert_int_equal(lost, 0);
    expect_at(conn, owner);

    /* Migrating: the owner answers ASK for a key it does not hold. */
    fp_th_redis_t *to = fp_th_cluster_other_master(c, owner);
    assert_int_equal(fp_th_cluster_move_begin(c, slot, to), 0);
    f.got = f.lost = false;
    assert_int_equal(fp_redis_conn_sendv(conn, 2, (const char *[]){"INCR", fresh},
                                         (size_t[]){4, strlen(fresh)}, 0, on_incr, &f), 0);
    follow_run(&f, &f.lost, "the ASK to come back as a lost reply");
    FP_TH_EXPECT_ALL_IN(f.last_down, "being migrated", "ASK");
    assert_int_equal(fp_th_cluster_move_finish(c, slot, to), 0);
    assert_int_equal(follow_incr(&f, conn, key, &lost), 2);
    expect_at(conn, to);
    assert_int_equal(fp_th_redis_int(to, "EXISTS %s", fresh), 0); /* the ASKed INCR: not applied */

    /* Failed over: the demoted node answers MOVED, the promoted one serves. */
    fp_th_redis_t *promoted = fp_th_cluster_failover(c, to);
    assert_non_null(promoted);
    assert_int_equal(follow_incr(&f, conn, key, &lost), 3);
    assert_true(lost >= 1);
    expect_at(conn, promoted);
    assert_true(fp_cluster_maps_read(cl) >= 3);

    fp_redis_conn_close(conn, NULL, NULL);
    fp_cluster_close(cl, NULL, NULL);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_keyslot_live),
        cmocka_unit_test(test_cluster_redirects),
        cmocka_unit_test(test_cluster_map_sync),
        cmocka_unit_test(test_cluster_follow),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
