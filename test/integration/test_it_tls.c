/* test_it_tls.c: rediss:// against a real redis-server with a TLS port and
 * certificates this test makes with the openssl command: jobs run over TLS,
 * the command line works over TLS, a wrong CA and a missing client
 * certificate are refused with exit 69 and OpenSSL's reason, and a server
 * that drops the connection is reconnected to. The fixture's Redis keeps
 * its plain port too, which the test's own checks use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

typedef struct tls_fx_s {
    fp_td_t *td;
    int tls_port;
    char ca[4200], other_ca[4200], cert[4200], key[4200];
} tls_fx_t;

/* A CA, a server certificate for 127.0.0.1 signed by it, a client
 * certificate signed by it, and an unrelated CA (the "wrong" one). */
static void make_certs(const char *dir)
{
    char script[8192];
    snprintf(script, sizeof script,
             "set -e; cd '%s'; exec 2>openssl.log\n"
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 "
             "-subj /CN=fp-test-ca\n"
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 "
             "-subj /CN=fp-other-ca\n"
             "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext\n"
             "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
             "-subj /CN=localhost\n"
             "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out server.crt -days 2 -extfile san.ext\n"
             "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
             "-subj /CN=fp-client\n"
             "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out client.crt -days 2\n",
             dir);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 60000, &r), 0);
    if (r.status != 0)
        fail_msg("openssl failed: %s", r.err);
    fp_th_result_free(&r);
}

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
    make_certs(f->td->dir);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jobs_and_cli_over_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_ca_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnects_after_server_drop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
