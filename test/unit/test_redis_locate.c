/* test_redis_locate.c: a connection with a locator (what Sentinel discovery
 * plugs in) against real redis-servers on a libuv loop: it asks before every
 * attempt, connects where it is told, confirms with ROLE that it reached a
 * master, reports the locator's failure as a lost connection and asks again,
 * moves when told the master moved, and tells the locator to forget it when
 * closed while asking. The locator here is a fake that answers from a
 * script of addresses, on a zero timer as the contract asks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "redis/redis_conn.h"
#include "harness.h"
#include "redis_server.h"

typedef struct fake_s {
    uv_loop_t loop;
    uv_timer_t answer;
    fp_redis_conn_t *asking;
    int port;          /* what the answers say */
    int fail_first;    /* this many answers say "no master known" first */
    int locates, cancels;
    int ups, downs;
    char last_down[256];
    char where_up[300];
} fake_t;

static void on_answer(uv_timer_t *t)
{
    fake_t *f = t->data;
    fp_redis_conn_t *c = f->asking;
    f->asking = NULL;
    if (f->fail_first > 0) {
        f->fail_first--;
        fp_redis_conn_located(c, NULL, 0, "no sentinel knows");
        return;
    }
    fp_redis_conn_located(c, "127.0.0.1", f->port, NULL);
}

static void locate(void *ctx, fp_redis_conn_t *c)
{
    fake_t *f = ctx;
    f->locates++;
    f->asking = c;
    uv_timer_start(&f->answer, on_answer, 0, 0);
}

static void cancel(void *ctx, fp_redis_conn_t *c)
{
    fake_t *f = ctx;
    assert_ptr_equal(f->asking, c);
    f->cancels++;
    f->asking = NULL;
    uv_timer_stop(&f->answer);
}

static void on_state(fp_redis_conn_t *c, bool up, const char *reason, void *ctx)
{
    fake_t *f = ctx;
    if (up) {
        f->ups++;
        snprintf(f->where_up, sizeof f->where_up, "%s", fp_redis_conn_where(c));
    } else {
        f->downs++;
        snprintf(f->last_down, sizeof f->last_down, "%s", reason != NULL ? reason : "");
    }
}

/* Runs the loop until *counter reaches want (or 20 s pass: a failure). */
static void run_until(fake_t *f, const int *counter, int want)
{
    long long end = fp_th_now_ms() + 20000;
    while (*counter < want) {
        if (fp_th_now_ms() > end)
            fail_msg("waited for %d, got %d (last down: %s)", want, *counter, f->last_down);
        uv_run(&f->loop, UV_RUN_ONCE);
    }
}

static fp_redis_conn_t *new_conn(fake_t *f, const fp_redis_locator_t *loc,
                                 const fp_redis_url_t *url)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->answer);
    f->answer.data = f;
    fp_redis_conn_opts_t opts = {.name = "test", .connect_timeout_ms = 5000,
                                 .command_timeout_ms = 5000, .locator = loc};
    fp_redis_conn_t *c = NULL;
    assert_int_equal(fp_redis_conn_new(&f->loop, url, &opts, on_state, f, &c, NULL), 0);
    return c;
}

static void finish(fake_t *f, fp_redis_conn_t *c)
{
    fp_redis_conn_close(c, NULL, NULL);
    uv_close((uv_handle_t *)&f->answer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void test_locate_connect_follow(void **state)
{
    (void)state;
    fp_th_redis_t a, b;
    assert_int_equal(fp_th_redis_start(&a, NULL), 0);
    assert_int_equal(fp_th_redis_start(&b, NULL), 0);
    fake_t f;
    fp_redis_locator_t loc = {locate, cancel, &f};
    /* The URL's host and port are never used: nothing listens on port 1. */
    fp_redis_url_t url = {.host = "127.0.0.1", .port = 1};
    fp_redis_conn_t *c = new_conn(&f, &loc, &url);
    f.fail_first = 1; /* first nobody knows where the master is ... */
    f.port = a.port;  /* ... then the next attempt asks again and gets an answer */
    fp_redis_conn_start(c);
    run_until(&f, &f.ups, 1);
    assert_int_equal(f.downs, 1);
    assert_string_equal(f.last_down, "no sentinel knows");
    assert_int_equal(f.locates, 2);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", a.port);
    assert_string_equal(f.where_up, want);
    /* Told the master is where it already is: nothing happens. */
    fp_redis_conn_follow(c, "127.0.0.1", a.port, "moved");
    assert_true(fp_redis_conn_is_up(c));
    /* Told it moved: dropped with the reason, asked again, connected there. */
    f.port = b.port;
    fp_redis_conn_follow(c, "127.0.0.1", b.port, "Sentinel switched master");
    assert_int_equal(f.downs, 2);
    assert_string_equal(f.last_down, "Sentinel switched master");
    run_until(&f, &f.ups, 2);
    assert_int_equal(f.locates, 3);
    snprintf(want, sizeof want, "127.0.0.1:%d", b.port);
    assert_string_equal(f.where_up, want);
    finish(&f, c);
    fp_th_redis_stop(&a);
    fp_th_redis_stop(&b);
}

/* An address that turns out to be a replica is not taken: ROLE confirms. */
static void test_located_replica_refused(void **state)
{
    (void)state;
    fp_th_redis_t m, r;
    char port[16];
    assert_int_equal(fp_th_redis_start(&m, NULL), 0);
    snprintf(port, sizeof port, "%d", m.port);
    assert_int_equal(fp_th_redis_start(&r, "--replicaof", "127.0.0.1", port, NULL), 0);
    fake_t f;
    fp_redis_locator_t loc = {locate, cancel, &f};
    fp_redis_url_t url = {.host = "127.0.0.1", .port = 1};
    fp_redis_conn_t *c = new_conn(&f, &loc, &url);
    f.port = r.port;
    fp_redis_conn_start(c);
    run_until(&f, &f.downs, 1);
    assert_non_null(strstr(f.last_down, "replica"));
    assert_int_equal(f.ups, 0);
    f.port = m.port; /* the sentinels catch up */
    run_until(&f, &f.ups, 1);
    finish(&f, c);
    fp_th_redis_stop(&r);
    fp_th_redis_stop(&m);
}

/* Closed while the locator is asking: the locator is told to forget it,
 * and no answer reaches the freed connection. */
static void test_close_while_locating(void **state)
{
    (void)state;
    fake_t f;
    fp_redis_locator_t loc = {locate, cancel, &f};
    fp_redis_url_t url = {.host = "127.0.0.1", .port = 1};
    fp_redis_conn_t *c = new_conn(&f, &loc, &url);
    f.port = 1;
    fp_redis_conn_start(c);
    assert_int_equal(f.locates, 1);
    finish(&f, c);
    assert_int_equal(f.cancels, 1);
    assert_int_equal(f.ups + f.downs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locate_connect_follow),
        cmocka_unit_test(test_located_replica_refused),
        cmocka_unit_test(test_close_while_locating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
