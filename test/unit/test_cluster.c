/* test_cluster.c: the pure parts of Redis Cluster routing: key slots (the
 * expected values are what `redis-cli cluster keyslot KEY` answered on
 * Redis 7.0; test_it_cluster checks more against a live cluster), the slot
 * map from CLUSTER SLOTS replies, and MOVED / ASK redirections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redis/cluster_parse.h"

static void test_keyslot(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        uint16_t slot;
    } cases[] = {
        {"foo", 12182},
        {"bar", 5061},
        {"hello", 866},
        {"123456789", 12739},
        {"{user1000}.following", 3443},
        {"{user1000}.followers", 3443},
        {"foo{}{bar}", 8363},    /* an empty tag hashes the whole key */
        {"foo{{bar}}zap", 4015}, /* the tag is "{bar" */
        {"foo{bar}{zap}", 5061}, /* the first tag only: "bar" */
        {"{}", 15257},
        {"", 0},
        {"a{b", 13340}, /* no closing brace: the whole key */
        {"P:{emails}:stream", 3728},
        {"emails", 3728},
        {"P:{default}:stream", 5718},
        {"\xc3\xa9", 10180}, /* bytes, not characters */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = fp_cluster_keyslot(cases[i].key, strlen(cases[i].key));
        if (got != cases[i].slot)
            fail_msg("\"%s\": slot %u, Redis says %u", cases[i].key, got, cases[i].slot);
    }
    /* A NUL inside a key counts as a byte. */
    assert_int_not_equal(fp_cluster_keyslot("fo\0o", 4), fp_cluster_keyslot("fo", 2));
}

/* A small reply tree built on the heap, freed with free_tree. */
static redisReply *node(int type)
{
    redisReply *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->type = type;
    return r;
}

static redisReply *str(const char *s)
{
    redisReply *r = node(REDIS_REPLY_STRING);
    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}

static redisReply *num(long long v)
{
    redisReply *r = node(REDIS_REPLY_INTEGER);
    r->integer = v;
    return r;
}

static redisReply *arr(size_t n, ...)
{
    redisReply *r = node(REDIS_REPLY_ARRAY);
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof *r->element);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

static void free_tree(redisReply *r)
{
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        free_tree(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

/* [start, end, [ip, port, id], [replica...]] as Redis 7.0 answers. */
static redisReply *entry(long long lo, long long hi, redisReply *ip, long long port)
{
    return arr(4, num(lo), num(hi), arr(3, ip, num(port), str("0123abcd")),
               arr(3, str("127.0.0.1"), num(port + 100), str("feed")));
}

static void test_slots_three_masters(void **state)
{
    (void)state;
    redisReply *r = arr(4, entry(0, 5460, str("127.0.0.1"), 7000),
                        entry(5461, 10922, str("127.0.0.1"), 7001),
                        entry(10923, 16383, str("127.0.0.1"), 7002),
                        entry(3728, 3728, str("127.0.0.1"), 7002));
    fp_cluster_map_t *map = malloc(sizeof *map);
    assert_non_null(map);
    char why[160] = "";
    /* 3728 is given twice (to 7000 by the first range, to 7002 by the last). */
    assert_int_equal(fp_cluster_slots_parse(r, "10.0.0.1", map, why, sizeof why), -1);
    assert_non_null(strstr(why, "slot 3728 to two masters"));
    assert_int_equal(fp_cluster_map_unserved(map), FP_CLUSTER_SLOTS);

    r->elements = 3; /* the tree still owns the fourth entry */
    assert_int_equal(fp_cluster_slots_parse(r, "10.0.0.1", map, why, sizeof why), 0);
    assert_int_equal(map->n_nodes, 3); /* replicas are not routed to */
    assert_int_equal(fp_cluster_map_unserved(map), 0);
    int at = fp_cluster_map_owner(map, 3728);
    assert_int_equal(at, 0);
    assert_string_equal(map->nodes[at].host, "127.0.0.1");
    assert_int_equal(map->nodes[at].port, 7000);
    assert_int_equal(map->nodes[fp_cluster_map_owner(map, 16383)].port, 7002);
    assert_int_equal(map->nodes[fp_cluster_map_owner(map, 5461)].port, 7001);
    assert_int_equal(fp_cluster_map_owner(map, FP_CLUSTER_SLOTS), -1);
    fp_cluster_addr_t a = {.host = "127.0.0.1", .port = 7001}, b = {.host = "127.0.0.1", .port = 7009};
    assert_int_equal(fp_cluster_map_find(map, &a), 1);
    assert_int_equal(fp_cluster_map_find(map, &b), -1);
    r->elements = 4;
    free_tree(r);
    free(map);
}

static void test_slots_gaps_and_endpoints(void **state)
{
    (void)state;
    /* One master serves two ranges; one endpoint is unknown (nil), one "?",
     * one ""; slots 100-199 are unserved (a master failed, no replica). */
    redisReply *r = arr(4, entry(0, 99, node(REDIS_REPLY_NIL), 7000),
                        entry(200, 16000, str("?"), 7001), entry(16001, 16382, str(""), 7002),
                        entry(16383, 16383, str("10.1.1.1"), 7000));
    fp_cluster_map_t *map = malloc(sizeof *map);
    assert_non_null(map);
    char why[160] = "";
    assert_int_equal(fp_cluster_slots_parse(r, "seed.example", map, why, sizeof why), 0);
    assert_int_equal(fp_cluster_map_unserved(map), 100);
    assert_int_equal(fp_cluster_map_owner(map, 150), -1);
    assert_string_equal(map->nodes[fp_cluster_map_owner(map, 0)].host, "seed.example");
    assert_string_equal(map->nodes[fp_cluster_map_owner(map, 300)].host, "seed.example");
    assert_string_equal(map->nodes[fp_cluster_map_owner(map, 16100)].host, "seed.example");
    /* Same port, other host: another master. */
    assert_int_equal(map->n_nodes, 4);
    assert_string_equal(map->nodes[fp_cluster_map_owner(map, 16383)].host, "10.1.1.1");
    free_tree(r);

    r = arr(0); /* a cluster with no slots assigned yet */
    assert_int_equal(fp_cluster_slots_parse(r, "h", map, why, sizeof why), 0);
    assert_int_equal(fp_cluster_map_unserved(map), FP_CLUSTER_SLOTS);
    free_tree(r);
    free(map);
}

static void test_slots_bad(void **state)
{
    (void)state;
    fp_cluster_map_t *map = malloc(sizeof *map);
    assert_non_null(map);
    char why[160] = "";
    struct {
        redisReply *r;
        const char *why;
    } cases[] = {
        {entry(0, 16384, str("h"), 1), "outside 0-16383"},
        {entry(-1, 5, str("h"), 1), "outside 0-16383"},
        {entry(9, 5, str("h"), 1), "outside 0-16383"},
        {entry(0, 5, str("h"), 0), "malformed master"},
        {entry(0, 5, str("h"), 65536), "malformed master"},
        {entry(0, 5, num(3), 1), "malformed master"},
        {arr(2, num(0), num(5)), "not [start, end, master"},
        {str("x"), "not [start, end, master"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        redisReply *whole = arr(1, cases[i].r);
        assert_int_equal(fp_cluster_slots_parse(whole, "h", map, why, sizeof why), -1);
        if (strstr(why, cases[i].why) == NULL)
            fail_msg("case %zu: got \"%s\", wanted \"%s\"", i, why, cases[i].why);
        assert_int_equal(fp_cluster_map_unserved(map), FP_CLUSTER_SLOTS);
        free_tree(whole);
    }
    redisReply *err = str("ERR This instance has cluster support disabled");
    err->type = REDIS_REPLY_ERROR;
    assert_int_equal(fp_cluster_slots_parse(err, "h", map, why, sizeof why), -1);
    assert_non_null(strstr(why, "cluster support disabled"));
    free_tree(err);
    assert_int_equal(fp_cluster_slots_parse(NULL, "h", map, why, sizeof why), -1);
    redisReply *s = str("OK");
    assert_int_equal(fp_cluster_slots_parse(s, "h", map, why, sizeof why), -1);
    assert_non_null(strstr(why, "not an array"));
    free_tree(s);
    free(map);
}

static void test_seed(void **state)
{
    (void)state;
    fp_cluster_addr_t a;
    char why[128] = "";
    assert_int_equal(fp_cluster_seed_parse("127.0.0.1:7000", &a, why, sizeof why), 0);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 7000);
    assert_int_equal(fp_cluster_seed_parse("[::1]:7001", &a, why, sizeof why), 0);
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 7001);
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"127.0.0.1", "needs a port"},      {"[::1]", "needs a port"},
        {"h:0", "port from 1 to 65535"},    {"redis://h:7000", "no scheme"},
        {"", "no host"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(fp_cluster_seed_parse(bad[i].text, &a, why, sizeof why), -1);
        if (strstr(why, bad[i].why) == NULL)
            fail_msg("\"%s\": got \"%s\", wanted \"%s\"", bad[i].text, why, bad[i].why);
    }
}

static void test_route(void **state)
{
    (void)state;
    /* Masters 7000 (0-5460) and 7002 (10923-16383); 5461-10922 unserved. */
    redisReply *r = arr(2, entry(0, 5460, str("127.0.0.1"), 7000),
                        entry(10923, 16383, str("127.0.0.1"), 7002));
    fp_cluster_map_t *map = malloc(sizeof *map);
    assert_non_null(map);
    char why[160] = "";
    assert_int_equal(fp_cluster_slots_parse(r, "h", map, why, sizeof why), 0);
    /* emails: slot 3728; default: 5718; foo: 12182. */
    const char *keys[] = {"fp:{emails}:jobs", "fp:{default}:jobs", "fp:{foo}:jobs"};
    int node_of[3];
    assert_int_equal(fp_cluster_route(map, keys, 3, node_of, why, sizeof why), 1);
    assert_int_equal(map->nodes[node_of[0]].port, 7000);
    assert_int_equal(node_of[1], -1);
    assert_int_equal(map->nodes[node_of[2]].port, 7002);
    assert_string_equal(why, "no cluster master serves slot 5718 (key fp:{default}:jobs)");
    /* bar: 5061, served by 7000; the first missing one is named. */
    const char *two[] = {"fp:{foo}:x", "fp:{bar}:y"};
    strcpy(why, "untouched");
    assert_int_equal(fp_cluster_route(map, two, 2, node_of, why, sizeof why), 0);
    assert_string_equal(why, "untouched");
    assert_int_equal(node_of[0], 1);
    assert_int_equal(node_of[1], 0);
    free_tree(r);
    free(map);
}

static void test_redirect(void **state)
{
    (void)state;
    fp_cluster_redirect_t r;
    const char *moved = "MOVED 3999 127.0.0.1:6381";
    assert_int_equal(fp_cluster_redirect_parse(moved, strlen(moved), "seed", &r),
                     FP_CLUSTER_REDIRECT_MOVED);
    assert_int_equal(r.kind, FP_CLUSTER_REDIRECT_MOVED);
    assert_int_equal(r.slot, 3999);
    assert_string_equal(r.to.host, "127.0.0.1");
    assert_int_equal(r.to.port, 6381);

    const char *ask = "ASK 16383 ::1:7002"; /* IPv6 hosts come unbracketed */
    assert_int_equal(fp_cluster_redirect_parse(ask, strlen(ask), "seed", &r),
                     FP_CLUSTER_REDIRECT_ASK);
    assert_int_equal(r.slot, 16383);
    assert_string_equal(r.to.host, "::1");
    assert_int_equal(r.to.port, 7002);

    const char *unknown = "MOVED 0 :7005"; /* a node without a known endpoint */
    assert_int_equal(fp_cluster_redirect_parse(unknown, strlen(unknown), "seed", &r),
                     FP_CLUSTER_REDIRECT_MOVED);
    assert_string_equal(r.to.host, "seed");
    assert_int_equal(r.to.port, 7005);

    static const char *const others[] = {
        "MOVED 16384 127.0.0.1:6381", "MOVED -1 h:1", "MOVED 12 h", "MOVED 12 h:0",
        "MOVED 12 h:70000", "MOVED 12", "MOVED  12 h:1", "ASK 1 h:1 x", "ASKING",
        "CROSSSLOT Keys in request don't hash to the same slot", "MOVED", "moved 1 h:1",
        "TRYAGAIN Multiple keys request during rehashing of slot", "",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        fp_cluster_redirect_t keep = {.slot = 77};
        if (fp_cluster_redirect_parse(others[i], strlen(others[i]), "seed", &keep) !=
            FP_CLUSTER_REDIRECT_NONE)
            fail_msg("\"%s\" read as a redirection", others[i]);
        assert_int_equal(keep.slot, 77);
    }
}

/* The replies that send a slot's connection back to the map, and the
 * ones that do not (a failed command is the caller's business). */
static void test_fault(void **state)
{
    (void)state;
    static const struct {
        const char *text, *says;
    } faults[] = {
        {"MOVED 3999 127.0.0.1:6381", "moved to another"},
        {"ASK 3999 127.0.0.1:6381", "being migrated"},
        {"TRYAGAIN Multiple keys request during rehashing of slot", "keys are split"},
        {"CLUSTERDOWN The cluster is down", "cluster is down"},
        {"CLUSTERDOWN", "cluster is down"},
    };
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        const char *says = fp_cluster_fault_reply(faults[i].text, strlen(faults[i].text));
        if (says == NULL || strstr(says, faults[i].says) == NULL)
            fail_msg("\"%s\": got \"%s\"", faults[i].text, says != NULL ? says : "(none)");
    }
    static const char *const others[] = {
        "CROSSSLOT Keys in request don't hash to the same slot", "MOVEDX 1 h:1",
        "ERR unknown command", "NOSCRIPT No matching script", "ASKING", "moved 1 h:1", "",
        "READONLY You can't write against a read only replica.",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (fp_cluster_fault_reply(others[i], strlen(others[i])) != NULL)
            fail_msg("\"%s\" read as a cluster fault", others[i]);
}

static void test_command_key(void **state)
{
    (void)state;
    static const struct {
        int argc;
        const char *argv[6];
        int key;
    } cases[] = {
        {3, {"XADD", "fp:{q}:jobs", "*"}, 1},
        {2, {"xlen", "fp:{q}:jobs"}, 1},
        {5, {"EVAL", "return 1", "2", "fp:{q}:a", "fp:{q}:b"}, 3},
        {4, {"evalsha", "abc", "1", "k"}, 3},
        {3, {"EVAL", "return 1", "0"}, -1},
        {6, {"XREADGROUP", "GROUP", "g", "c", "STREAMS", "fp:{q}:jobs"}, 5},
        {1, {"TIME"}, -1},
        {3, {"WAIT", "1", "100"}, -1},
        {1, {"role"}, -1},
        {1, {"XLEN"}, -1},
        {0, {NULL}, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = fp_cluster_command_key(cases[i].argc, cases[i].argv, NULL);
        if (got != cases[i].key)
            fail_msg("case %zu (%s): key at %d, wanted %d", i,
                     cases[i].argc ? cases[i].argv[0] : "", got, cases[i].key);
    }
    /* With lengths: arguments need not be NUL-terminated where they end. */
    const char *argv[] = {"EVALxx", "s", "1x", "key"};
    const size_t lens[] = {4, 1, 1, 3};
    assert_int_equal(fp_cluster_command_key(4, argv, lens), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyslot),
        cmocka_unit_test(test_slots_three_masters),
        cmocka_unit_test(test_slots_gaps_and_endpoints),
        cmocka_unit_test(test_slots_bad),
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_fault),
        cmocka_unit_test(test_command_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
