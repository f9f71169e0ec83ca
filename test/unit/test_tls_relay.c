/* test_tls_relay.c: the TLS relay (lib/redis/tls_relay.h) against a "server"
 * that is this test on a loopback socket and answers the ClientHello with
 * what a broken or hostile peer might send: nothing, half a record,
 * garbage, a record cut short. Each must end in exactly one failure report
 * with a reason, the plain side closed (hiredis sees the end), and no crash
 * or leak (the sanitizers watch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "redis/redis_tls.h"
#include "redis/tls_relay.h"

typedef struct seen_s {
    int ups, downs;
    char why[400];
} seen_t;

static void on_relay(void *ctx, bool up, const char *reason)
{
    seen_t *s = ctx;
    if (up) {
        s->ups++;
        return;
    }
    s->downs++;
    snprintf(s->why, sizeof s->why, "%s", reason);
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Runs the loop until the relay has said something or the peer's socket
 * has data (the ClientHello). UV_RUN_ONCE blocks for the next event, and
 * one is always due: the connect, the data sent, the peer's close. */
static void run_until(uv_loop_t *loop, const seen_t *s, int peer)
{
    for (;;) {
        char c;
        if (s->downs > 0 || (peer >= 0 && recv(peer, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1))
            return;
        uv_run(loop, UV_RUN_ONCE);
    }
}

/* A loop and a relay to 127.0.0.1:port verifying host; sv[0] is the
 * plain side hiredis would hold. */
static fp_tls_relay_t *relay_to(uv_loop_t *loop, int port, const char *host, seen_t *seen,
                                int sv[2])
{
    uv_loop_init(loop);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fp_tls_relay_t *r = NULL;
    assert_int_equal(
        fp_tls_relay_start(loop, sv[1], "127.0.0.1", port, host, on_relay, seen, &r, NULL), 0);
    return r;
}

/* The owner lets go; the handles close, the relay frees, the loop is empty. */
static void finish(uv_loop_t *loop, fp_tls_relay_t *r, int plain)
{
    fp_tls_relay_close(r);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
    close(plain);
}

/* One conversation: the relay connects, the peer reads the ClientHello,
 * answers with reply[0..n) and closes. */
static void converse(const unsigned char *reply, size_t n, const char *want_in_why)
{
    uv_loop_t loop;
    int port, sv[2];
    int lfd = listen_loopback(&port);
    seen_t seen = {0};
    fp_tls_relay_t *r = relay_to(&loop, port, "localhost", &seen, sv);
    /* A loopback connect is queued at once: accept needs no loop turn. */
    int peer = accept(lfd, NULL, NULL);
    assert_true(peer >= 0);
    run_until(&loop, &seen, peer);
    char hello[4096];
    assert_true(recv(peer, hello, sizeof hello, 0) > 5);
    assert_int_equal(hello[0], 0x16); /* a handshake record: the ClientHello */
    if (n > 0)
        assert_int_equal(send(peer, reply, n, 0), (ssize_t)n);
    close(peer);
    run_until(&loop, &seen, -1);
    assert_int_equal(seen.ups, 0);
    assert_int_equal(seen.downs, 1);
    if (strstr(seen.why, want_in_why) == NULL)
        fail_msg("reason \"%s\" lacks \"%s\"", seen.why, want_in_why);
    char c;
    assert_int_equal(read(sv[0], &c, 1), 0); /* the plain side sees the end */
    finish(&loop, r, sv[0]);
    close(lfd);
}

static void test_closed_after_hello(void **state)
{
    (void)state;
    converse(NULL, 0, "closed the connection during the handshake");
}

static void test_half_record_then_close(void **state)
{
    (void)state;
    /* a ServerHello record header announcing 0x4000 bytes, and 7 of them */
    static const unsigned char half[] = {0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00, 0x00,
                                         0x46, 0x03, 0x03, 0x11};
    converse(half, sizeof half, "closed the connection during the handshake");
}

static void test_garbage(void **state)
{
    (void)state;
    unsigned char junk[4096];
    unsigned int seed = 12345;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(rand_r(&seed) & 0xff);
    junk[0] = 0x17; /* application data before any handshake */
    converse(junk, sizeof junk, "TLS: ");
}

static void test_plain_redis_reply(void **state)
{
    (void)state;
    /* a plain Redis port answering TLS: "-ERR ..." is not a record */
    static const unsigned char plain[] = "-ERR unknown command\r\n";
    converse(plain, sizeof plain - 1, "TLS: ");
}

static void test_nobody_listening(void **state)
{
    (void)state;
    uv_loop_t loop;
    int port, sv[2];
    close(listen_loopback(&port)); /* a port that just became free */
    seen_t seen = {0};
    fp_tls_relay_t *r = relay_to(&loop, port, "127.0.0.1", &seen, sv);
    run_until(&loop, &seen, -1);
    assert_int_equal(seen.downs, 1);
    assert_non_null(strstr(seen.why, "cannot connect to 127.0.0.1:"));
    finish(&loop, r, sv[0]);
}

static int setup(void **state)
{
    (void)state;
    fp_redis_tls_opts_t o = {0}; /* the system store: nothing here will verify anyway */
    return fp_redis_tls_setup(&o, NULL);
}

static int teardown(void **state)
{
    (void)state;
    fp_redis_tls_teardown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_after_hello),
        cmocka_unit_test(test_half_record_then_close),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_plain_redis_reply),
        cmocka_unit_test(test_nobody_listening),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
