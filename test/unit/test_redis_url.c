/* test_redis_url.c: every URL form users write for redis.url, and the
 * reasons given for the ones that are wrong (which must never repeat the
 * password). The tables are the specification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redis/redis_url.h"

typedef struct good_s {
    const char *text;
    const char *host, *path, *user, *password;
    int port, db;
    const char *where;
} good_t;

static const good_t good[] = {
    {"redis://127.0.0.1:6379", "127.0.0.1", NULL, NULL, NULL, 6379, 0, "127.0.0.1:6379"},
    {"redis://localhost", "localhost", NULL, NULL, NULL, 6379, 0, "localhost:6379"},
    {"REDIS://cache.internal:7000/3", "cache.internal", NULL, NULL, NULL, 7000, 3,
     "cache.internal:7000"},
    {"redis://h/", "h", NULL, NULL, NULL, 6379, 0, "h:6379"},
    {"redis://:secret@h", "h", NULL, NULL, "secret", 6379, 0, "h:6379"},
    {"redis://secret@h:1", "h", NULL, NULL, "secret", 1, 0, "h:1"},
    {"redis://alice:pw@h:65535/15", "h", NULL, "alice", "pw", 65535, 15, "h:65535"},
    {"redis://alice:p%40ss%3Aw%2Fd@h", "h", NULL, "alice", "p@ss:w/d", 6379, 0, "h:6379"},
    {"redis://alice:p@ss:w/d@h/2", "h", NULL, "alice", "p@ss:w/d", 6379, 2, "h:6379"},
    {"redis://[::1]:6380/1", "::1", NULL, NULL, NULL, 6380, 1, "[::1]:6380"},
    {"redis://[fe80::1]", "fe80::1", NULL, NULL, NULL, 6379, 0, "[fe80::1]:6379"},
    {"unix:///run/redis/redis.sock", NULL, "/run/redis/redis.sock", NULL, NULL, 0, 0,
     "/run/redis/redis.sock"},
    {"unix:///tmp/r.sock?db=4", NULL, "/tmp/r.sock", NULL, NULL, 0, 4, "/tmp/r.sock"},
    {"unix:///tmp/r.sock?password=a%26b&db=1&user=bob", NULL, "/tmp/r.sock", "bob", "a&b", 0, 1,
     "/tmp/r.sock"},
    {"unix:///tmp/my%20dir/r.sock", NULL, "/tmp/my dir/r.sock", NULL, NULL, 0, 0,
     "/tmp/my dir/r.sock"},
};

typedef struct bad_s {
    const char *text;
    const char *reason;
} bad_t;

static const bad_t bad[] = {
    {"", "empty"},
    {"127.0.0.1:6379", "must start with redis://"},
    {"http://h", "must start with redis://"},
    {"rediss://", "no host"},
    {"redis://", "no host"},
    {"redis://:6379", "no host"},
    {"redis://h:0", "port"},
    {"redis://h:65536", "port"},
    {"redis://h:abc", "port"},
    {"redis://h:", "port"},
    {"redis://h/x", "database"},
    {"redis://h/-1", "database"},
    {"redis://h?db=1", "no ?options"},
    {"redis://[::1", "closing ']'"},
    {"redis://[::1]x", "after the IPv6 host"},
    {"redis://u:topsecret%zz@h", "malformed"},
    {"redis://u:top%00secret@h", "malformed"},
    {"unix://relative.sock", "absolute path"},
    {"unix:///s?db=x", "db="},
    {"unix:///s?color=red", "unknown query option"},
    {"unix:///s?db", "no '='"},
    /* A raw '&' in a password: the rest is no option name to quote. */
    {"unix:///s?password=top&secret", "no '='"},
    {"unix:///s?password=top&secret=1", "unknown query option"},
};

static void test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const good_t *g = &good[i];
        fp_redis_url_t u;
        fp_err_t err;
        fp_err_clear(&err);
        int rc = fp_redis_url_parse(g->text, &u, &err);
        if (rc != 0)
            fail_msg("%s: %s", g->text, err.msg);
        if (g->host != NULL)
            assert_string_equal(u.host, g->host);
        else
            assert_null(u.host);
        if (g->path != NULL)
            assert_string_equal(u.path, g->path);
        else
            assert_null(u.path);
        if (g->user != NULL)
            assert_string_equal(u.user, g->user);
        else
            assert_null(u.user);
        if (g->password != NULL)
            assert_string_equal(u.password, g->password);
        else
            assert_null(u.password);
        assert_int_equal(u.port, g->port);
        assert_int_equal(u.db, g->db);
        char where[128];
        fp_redis_url_where(&u, where, sizeof where);
        assert_string_equal(where, g->where);
        fp_redis_url_free(&u);
    }
}

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fp_redis_url_t u;
        fp_err_t err;
        fp_err_clear(&err);
        int rc = fp_redis_url_parse(bad[i].text, &u, &err);
        if (rc != FP_ECONFIG || strstr(err.msg, bad[i].reason) == NULL)
            fail_msg("\"%s\": rc %d, message \"%s\", wanted \"%s\"", bad[i].text, rc, err.msg,
                     bad[i].reason);
        assert_null(u.host);
        assert_null(u.password);
        /* The password is never echoed back. */
        if (strstr(err.msg, "secret") != NULL)
            fail_msg("\"%s\": the message quotes the password: %s", bad[i].text, err.msg);
    }
}

/* rediss:// is redis:// over TLS: same parts, tls set; the others are plain. */
static void test_tls_scheme(void **state)
{
    (void)state;
    fp_redis_url_t u;
    assert_int_equal(fp_redis_url_parse("rediss://:pw@cache.example:6380/2", &u, NULL), 0);
    assert_true(u.tls);
    assert_string_equal(u.host, "cache.example");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
    assert_string_equal(u.password, "pw");
    fp_redis_url_free(&u);
    assert_int_equal(fp_redis_url_parse("REDISS://h", &u, NULL), 0);
    assert_true(u.tls);
    fp_redis_url_free(&u);
    assert_int_equal(fp_redis_url_parse("redis://h", &u, NULL), 0);
    assert_false(u.tls);
    fp_redis_url_free(&u);
    assert_int_equal(fp_redis_url_parse("unix:///tmp/r.sock", &u, NULL), 0);
    assert_false(u.tls);
    fp_redis_url_free(&u);
}

static void test_free_twice_and_null(void **state)
{
    (void)state;
    fp_redis_url_t u;
    assert_int_equal(fp_redis_url_parse("redis://a:b@h", &u, NULL), 0);
    fp_redis_url_free(&u);
    fp_redis_url_free(&u);
    fp_redis_url_free(NULL);
    assert_int_equal(fp_redis_url_parse(NULL, &u, NULL), FP_ECONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_tls_scheme),
        cmocka_unit_test(test_free_twice_and_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
