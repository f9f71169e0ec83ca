/* test_it_tls.c: rediss:// against a real redis-server with a TLS port and
 * certificates this test makes with the openssl command: jobs run over TLS,
 * the command line works over TLS, a wrong CA and a missing client
 * certificate are refused with exit 69 and OpenSSL's reason, a server that
 * drops the connection (even in the middle of a record) is reconnected to,
 * and Sentinel's form works over TLS as well. The fixture's Redis keeps
 * its plain port too, which the test's own checks use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "tls_certs.h"

typedef struct tls_fx_s {
    fp_td_t *td;
    int tls_port;
    char ca[4200], other_ca[4200], cert[4200], key[4200];
} tls_fx_t;

static void config_set(fp_td_t *td, const char *key, const char *value)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "CONFIG SET %s %s", key, value);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("CONFIG SET %s: %s", key, r->str);
    freeReplyObject(r);
}

static int setup(void **state)
{
    tls_fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->td = fp_td_new(false);
    if (fp_th_tls_certs(f->td->dir) < 0)
        fail_msg("cannot make the test certificates");
    char path[4200];
    snprintf(f->ca, sizeof f->ca, "%s/ca.crt", f->td->dir);
    snprintf(f->other_ca, sizeof f->other_ca, "%s/other.crt", f->td->dir);
    snprintf(f->cert, sizeof f->cert, "%s/client.crt", f->td->dir);
    snprintf(f->key, sizeof f->key, "%s/client.key", f->td->dir);
    snprintf(path, sizeof path, "%s/server.crt", f->td->dir);
    config_set(f->td, "tls-cert-file", path);
    snprintf(path, sizeof path, "%s/server.key", f->td->dir);
    config_set(f->td, "tls-key-file", path);
    config_set(f->td, "tls-ca-cert-file", f->ca);
    config_set(f->td, "tls-auth-clients", "optional");
    /* A free port can be taken between the probe and the CONFIG SET: retry. */
    for (int i = 0; i < 20 && f->tls_port == 0; i++) {
        char port[16];
        int p = fp_th_free_port();
        snprintf(port, sizeof port, "%d", p);
        redisReply *r = fp_th_redis_cmd(&f->td->redis, "CONFIG SET tls-port %s", port);
        assert_non_null(r);
        if (r->type != REDIS_REPLY_ERROR)
            f->tls_port = p;
        freeReplyObject(r);
    }
    assert_true(f->tls_port > 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    tls_fx_t *f = *state;
    fp_td_free(f->td);
    free(f);
    return 0;
}

/* The daemon's config with the plain URL made rediss:// on the TLS port,
 * plus tls_lines in [redis]. */
static void tls_config(tls_fx_t *f, const char *tls_lines, const char *extra)
{
    fp_td_config(f->td, NULL, extra);
    char from[128], to[16384];
    snprintf(from, sizeof from, "url = \"%s\"\n", fp_th_redis_url(&f->td->redis));
    snprintf(to, sizeof to, "url = \"rediss://127.0.0.1:%d\"\n%s", f->tls_port, tls_lines);
    fp_td_config_replace(f->td, from, to);
}

static void ca_line(const char *ca, char *buf, size_t size)
{
    snprintf(buf, size, "tls_ca = \"%s\"\n", ca);
}

/* `forkpool SUB ARGS...` with the daemon's config; env may be NULL. */
static fp_th_result_t cli(tls_fx_t *f, const char *env, const char *a, const char *b,
                          const char *c)
{
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), a, "-c", f->td->config, b, c, NULL};
    const char *envv[] = {env, NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, env != NULL ? envv : NULL, NULL, 0, 60000, &r), 0);
    return r;
}

static void test_jobs_and_cli_over_tls(void **state)
{
    tls_fx_t *f = *state;
    char lines[4300];
    ca_line(f->ca, lines, sizeof lines);
    tls_config(f, lines, "[pool]\nchildren = 2\n");
    fp_th_result_t r = cli(f, NULL, "check-config", NULL, NULL);
    assert_int_equal(r.status, 0);
    FP_TH_EXPECT_ALL_IN(r.out, "rediss://127.0.0.1", "tls      on", "ca.crt");
    fp_th_result_free(&r);
    for (int i = 0; i < 3; i++) { /* the CLI's blocking connection over TLS */
        r = cli(f, NULL, "enqueue", "echo", "{\"n\":1}");
        assert_int_equal(r.status, 0);
        fp_th_result_free(&r);
    }
    r = cli(f, NULL, "enqueue", "no-such-handler", "{}");
    assert_int_equal(r.status, 0);
    fp_th_result_free(&r);
    fp_td_enqueue(f->td, 200, "{\"type\":\"echo\",\"args\":{\"n\":%d},\"id\":\"job-%d\"}");
    fp_td_start(f->td, true);
    assert_int_equal(fp_td_wait(f->td, 120000), 0);
    assert_int_equal(fp_td_jobs_done(f->td), 203);
    assert_int_equal(fp_td_xlen(f->td, FP_TD_JOBS), 0);
    assert_int_equal(fp_td_xlen(f->td, FP_TD_DEAD), 1);
    assert_true(fp_td_log_count(f->td, "connected to Redis at 127.0.0.1") >= 1);
    r = cli(f, NULL, "stats", NULL, NULL);
    assert_int_equal(r.status, 0);
    FP_TH_EXPECT_ALL_IN(r.out, "default");
    fp_th_result_free(&r);
    r = cli(f, NULL, "dead", "list", NULL);
    assert_int_equal(r.status, 0);
    FP_TH_EXPECT_ALL_IN(r.out, "no-such-handler");
    fp_th_result_free(&r);
}

/* A CA that did not sign the server's certificate: `run` and `enqueue`
 * refuse with 69 and OpenSSL's verify result, and nothing was enqueued. */
static void test_wrong_ca_is_refused(void **state)
{
    tls_fx_t *f = *state;
    char lines[4300];
    ca_line(f->other_ca, lines, sizeof lines);
    tls_config(f, lines, NULL);
    fp_td_start(f->td, false);
    assert_int_equal(fp_td_wait(f->td, 60000), 69);
    assert_int_equal(fp_td_log_count(f->td, "certificate verify failed: self-signed certificate "
                                            "in certificate chain"),
                     1);
    fp_th_result_t r = cli(f, NULL, "enqueue", "echo", "{}");
    assert_int_equal(r.status, 69);
    FP_TH_EXPECT_ALL_IN(r.err, "certificate verify failed");
    fp_th_result_free(&r);
    assert_int_equal(fp_td_xlen(f->td, FP_TD_JOBS), 0);
    /* the same through the environment's override */
    ca_line(f->ca, lines, sizeof lines);
    tls_config(f, lines, NULL);
    char env[4300];
    snprintf(env, sizeof env, "FORKPOOL_REDIS_TLS_CA=%s", f->other_ca);
    r = cli(f, env, "stats", NULL, NULL);
    assert_int_equal(r.status, 69);
    FP_TH_EXPECT_ALL_IN(r.err, "certificate verify failed");
    fp_th_result_free(&r);
}

/* tls-auth-clients yes: without a client certificate the server refuses
 * (run: 69 naming it); with tls_cert and tls_key jobs run. */
static void test_client_certificate(void **state)
{
    tls_fx_t *f = *state;
    config_set(f->td, "tls-auth-clients", "yes");
    char lines[13000];
    ca_line(f->ca, lines, sizeof lines);
    tls_config(f, lines, NULL);
    fp_td_start(f->td, false);
    assert_int_equal(fp_td_wait(f->td, 60000), 69);
    assert_int_equal(fp_td_log_count(f->td, "certificate required"), 1);
    fp_th_result_t r = cli(f, NULL, "stats", NULL, NULL);
    assert_int_equal(r.status, 69);
    FP_TH_EXPECT_ALL_IN(r.err, "tls_cert");
    fp_th_result_free(&r);
    snprintf(lines, sizeof lines, "tls_ca = \"%s\"\ntls_cert = \"%s\"\ntls_key = \"%s\"\n", f->ca,
             f->cert, f->key);
    tls_config(f, lines, NULL);
    fp_td_enqueue(f->td, 50, "{\"type\":\"echo\",\"args\":{\"n\":%d},\"id\":\"job-%d\"}");
    fp_td_start(f->td, true);
    assert_int_equal(fp_td_wait(f->td, 120000), 0);
    assert_int_equal(fp_td_jobs_done(f->td), 50);
}

/* Redis drops every client (its TLS connections included) while the daemon
 * works: the relay reports the loss, the daemon reconnects over TLS and
 * finishes every job. */
static void test_reconnects_after_server_drop(void **state)
{
    tls_fx_t *f = *state;
    char lines[4300];
    ca_line(f->ca, lines, sizeof lines);
    tls_config(f, lines, NULL);
    fp_td_start(f->td, false);
    fp_td_wait_until(f->td, fp_td_log_has, "connected to Redis", 60000, "the first connection");
    fp_td_enqueue(f->td, 300, "{\"type\":\"echo\",\"args\":{\"n\":%d},\"id\":\"job-%d\"}");
    redisReply *k = fp_th_redis_cmd(&f->td->redis, "CLIENT KILL TYPE normal SKIPME yes");
    assert_non_null(k);
    freeReplyObject(k);
    fp_td_enqueue(f->td, 300, "{\"type\":\"echo\",\"args\":{\"n\":%d},\"id\":\"job2-%d\"}");
    fp_td_wait_until(f->td, fp_td_drained, NULL, 120000, "the 600 jobs");
    fp_td_signal(f->td, SIGTERM);
    assert_int_equal(fp_td_wait(f->td, 60000), 0);
    assert_int_equal(fp_td_jobs_done(f->td), 600);
    assert_true(fp_td_log_count(f->td, "lost connection to Redis at 127.0.0.1") >= 1);
    assert_true(fp_td_log_count(f->td, "reconnected to Redis at 127.0.0.1") >= 1);
}

/* Sentinel over TLS: a sentinel with a TLS port (and tls-replication, so
 * that it reaches the master over TLS too) names the master; the command
 * line and the daemon ask it and reach the master, all over rediss://. */
static void test_sentinel_over_tls(void **state)
{
    tls_fx_t *f = *state;
    const char *dir = f->td->dir;
    int sport = fp_th_free_port();
    char conf[16384];
    snprintf(conf, sizeof conf,
             "tls-port %d\ntls-cert-file %s/server.crt\ntls-key-file %s/server.key\n"
             "tls-ca-cert-file %s\ntls-replication yes\ntls-auth-clients no\n"
             "sentinel monitor mymaster 127.0.0.1 %d 1\n",
             sport, dir, dir, f->ca, f->tls_port);
    fp_th_redis_t sentinel = {0};
    assert_int_equal(fp_th_redis_start_sentinel(&sentinel, conf), 0);
    char lines[4600];
    snprintf(lines, sizeof lines,
             "tls_ca = \"%s\"\nsentinels = [\"127.0.0.1:%d\"]\nmaster_name = \"mymaster\"\n",
             f->ca, sport);
    tls_config(f, lines, NULL);
    fp_th_result_t r = cli(f, NULL, "enqueue", "echo", "{}");
    assert_int_equal(r.status, 0);
    fp_th_result_free(&r);
    fp_td_enqueue(f->td, 100, "{\"type\":\"echo\",\"args\":{\"n\":%d},\"id\":\"job-%d\"}");
    fp_td_start(f->td, true);
    assert_int_equal(fp_td_wait(f->td, 120000), 0);
    assert_int_equal(fp_td_jobs_done(f->td), 101);
    char said[128];
    snprintf(said, sizeof said, "master \"mymaster\" is at 127.0.0.1:%d", f->tls_port);
    assert_true(fp_td_log_count(f->td, said) >= 1);
    fp_th_redis_stop(&sentinel);
}

/* ---- a cutting proxy ------------------------------------------------------
 * Between the daemon and the TLS port: forwards every connection both ways
 * and, each time `cuts` is raised, passes only the first half of the next
 * chunk from Redis and closes both sides: a server gone in the middle of a
 * TLS record, after the handshake. */

#define PROXY_PAIRS 32

typedef struct proxy_s {
    int listen_fd, port, target;
    int client[PROXY_PAIRS], server[PROXY_PAIRS];
    atomic_int cuts; /* asked for */
    atomic_int cut;  /* done */
    atomic_bool stop;
    pthread_t thread;
} proxy_t;

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void drop_pair(proxy_t *p, int i)
{
    close(p->client[i]);
    close(p->server[i]);
    p->client[i] = p->server[i] = -1;
}

static void accept_one(proxy_t *p)
{
    int c = accept(p->listen_fd, NULL, NULL);
    if (c < 0)
        return;
    for (int i = 0; i < PROXY_PAIRS; i++)
        if (p->client[i] < 0) {
            p->client[i] = c;
            p->server[i] = dial(p->target);
            if (p->server[i] < 0)
                drop_pair(p, i);
            return;
        }
    close(c);
}

/* Moves one chunk from pair i's side `from`; false when the pair ended. */
static bool forward(proxy_t *p, int i, bool from_server)
{
    char buf[16384];
    int in = from_server ? p->server[i] : p->client[i];
    int out = from_server ? p->client[i] : p->server[i];
    ssize_t n = read(in, buf, sizeof buf);
    if (n <= 0)
        return false;
    if (from_server && n >= 2 && atomic_load(&p->cut) < atomic_load(&p->cuts)) {
        n /= 2;
        (void)!write(out, buf, (size_t)n);
        atomic_fetch_add(&p->cut, 1);
        return false;
    }
    return write(out, buf, (size_t)n) == n;
}

static void *proxy_main(void *arg)
{
    proxy_t *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd fds[1 + 2 * PROXY_PAIRS];
        int map[1 + 2 * PROXY_PAIRS], n = 0;
        fds[n] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
        map[n++] = -1;
        for (int i = 0; i < PROXY_PAIRS; i++)
            if (p->client[i] >= 0) {
                fds[n] = (struct pollfd){.fd = p->client[i], .events = POLLIN};
                map[n++] = 2 * i;
                fds[n] = (struct pollfd){.fd = p->server[i], .events = POLLIN};
                map[n++] = 2 * i + 1;
            }
        if (poll(fds, (nfds_t)n, 100) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (map[k] < 0) {
                accept_one(p);
                continue;
            }
            int i = map[k] / 2;
            if (p->client[i] >= 0 && !forward(p, i, map[k] % 2 == 1))
                drop_pair(p, i);
        }
    }
    for (int i = 0; i < PROXY_PAIRS; i++)
        if (p->client[i] >= 0)
            drop_pair(p, i);
    close(p->listen_fd);
    return NULL;
}

static void proxy_start(proxy_t *p, int target)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < PROXY_PAIRS; i++)
        p->client[i] = p->server[i] = -1;
    p->target = target;
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(p->listen_fd, 16), 0);
    assert_int_equal(getsockname(p->listen_fd, (struct sockaddr *)&sa, &len), 0);
    p->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&p->thread, NULL, proxy_main, p), 0);
}

static void proxy_stop(proxy_t *p)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
}

static bool cut_done(fp_td_t *td, void *arg)
{
    (void)td;
    proxy_t *p = arg;
    return atomic_load(&p->cut) >= atomic_load(&p->cuts);
}

/* Redis' side goes away in the middle of a record, five times, while jobs
 * flow: each time the relay reports a lost connection, the daemon
 * reconnects over TLS, and every job is done. */
static void test_server_gone_mid_record(void **state)
{
    tls_fx_t *f = *state;
    proxy_t *p = calloc(1, sizeof *p);
    assert_non_null(p);
    proxy_start(p, f->tls_port);
    char lines[4300];
    ca_line(f->ca, lines, sizeof lines);
    tls_config(f, lines, NULL);
    char from[64], to[64];
    snprintf(from, sizeof from, "127.0.0.1:%d\"", f->tls_port);
    snprintf(to, sizeof to, "127.0.0.1:%d\"", p->port);
    fp_td_config_replace(f->td, from, to);
    fp_td_start(f->td, false);
    fp_td_wait_until(f->td, fp_td_log_has, "connected to Redis", 60000, "the first connection");
    for (int round = 0; round < 5; round++) {
        char fmt[128];
        snprintf(fmt, sizeof fmt, "{\"type\":\"echo\",\"args\":{\"n\":%%d},\"id\":\"r%d-%%d\"}",
                 round);
        fp_td_enqueue(f->td, 100, fmt);
        atomic_fetch_add(&p->cuts, 1);
        fp_td_wait_until(f->td, cut_done, p, 60000, "a record cut in half");
    }
    fp_td_wait_until(f->td, fp_td_drained, NULL, 120000, "the 500 jobs");
    fp_td_signal(f->td, SIGTERM);
    assert_int_equal(fp_td_wait(f->td, 60000), 0);
    proxy_stop(p);
    free(p);
    assert_int_equal(fp_td_jobs_done(f->td), 500);
    assert_true(fp_td_log_count(f->td, "lost connection to Redis at 127.0.0.1") >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jobs_and_cli_over_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_ca_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnects_after_server_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_gone_mid_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sentinel_over_tls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
