/* test_it_cluster.c: forkpool's Redis Cluster decisions (redis/cluster_parse.h)
 * against a live cluster (test/support/cluster_set.h: 3 masters, one replica
 * each, on loopback): the slot of forkpool's queue keys as the nodes compute
 * it, the slot map they answer, and the MOVED and ASK errors they give while
 * one queue's slot is moved by hand to another master and that master is then
 * failed over. The daemon does not route over a cluster yet: this checks
 * the pure parts and the fixture the routing tests will use. */
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
#include "redis/cluster_sync.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_keyslot_live),
        cmocka_unit_test(test_cluster_redirects),
        cmocka_unit_test(test_cluster_map_sync),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
