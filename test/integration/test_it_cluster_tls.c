/* test_it_cluster_tls.c: the daemon and the command line on a Redis
 * Cluster over TLS (test/support/cluster_set.h with TLS: 3 masters, one
 * replica each, certificates from test/support/tls_certs.h). The config
 * says rediss:// and lists the nodes' TLS ports only, so every connection
 * (the slot map's, each queue's, the side and lease connections, the
 * command line's) must speak TLS to be answered: a node's plain port is
 * never named to a TLS client. Jobs of four queues on different masters
 * run while one master fails over; `forkpool stats` and `dead list` answer
 * over TLS; a CA that did not sign the nodes' certificate is refused by
 * `run`, `enqueue` and `stats` with exit 69 naming the certificate
 * problem, and so is a tls_server_name the certificate does not carry;
 * nodes that want a client certificate refuse one without and take one
 * with tls_cert and tls_key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_jobs.h"
#include "tls_certs.h"

#define NQ 4
static const char *const QUEUES[NQ] = {"q0", "q1", "q2", "q3"};

#define CONFIG_EXTRA "[queues]\nnames = [\"q0\", \"q1\", \"q2\", \"q3\"]\n" FP_TCJ_CONFIG_RUN

typedef fp_tcj_t fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->td = fp_td_new(false);
    if (fp_th_tls_certs(f->td->dir) < 0)
        fail_msg("cannot make the test certificates");
    if (fp_th_cluster_start_tls(&f->c, 3, 1, f->td->dir) < 0)
        fail_msg("cannot start the TLS cluster");
    *state = f;
    return 0;
}

/* rediss:// with the CA file ca (in the test dir) and the TLS seeds; the
 * URL's host is a port nobody listens on (using it would fail), and so is
 * the first seed listed (the others are asked after it). */
static void write_config(fixture_t *f, const char *ca)
{
    char from[256], to[2048], seeds[512];
    fp_td_config(f->td, NULL, CONFIG_EXTRA);
    snprintf(from, sizeof from, "url = \"%s\"\n", fp_th_redis_url(&f->td->redis));
    fp_th_cluster_tls_seeds(&f->c, seeds, sizeof seeds);
    snprintf(to, sizeof to,
             "url = \"rediss://127.0.0.1:1/0\"\ntls_ca = \"%s/%s\"\n"
             "cluster = [\"127.0.0.1:%d\", %s]\n",
             f->td->dir, ca, fp_th_free_port(), seeds);
    fp_td_config_replace(f->td, from, to);
}

/* `forkpool enqueue --queue Q record_event -`: exit status, stderr in err. */
static int enqueue(fixture_t *f, const char *queue, int n, char *err, size_t size)
{
    fp_th_result_t r = fp_tcj_enqueue(f->td, queue, 0, n);
    snprintf(err, size, "%s", r.err);
    int status = r.status;
    fp_th_result_free(&r);
    return status;
}

/* How many different masters serve the queues. */
static int masters_used(fixture_t *f)
{
    fp_th_redis_t *seen[NQ];
    int n = 0;
    for (size_t q = 0; q < NQ; q++) {
        fp_th_redis_t *o = fp_tcj_owner(&f->c, QUEUES[q], "jobs");
        assert_non_null(o);
        bool known = false;
        for (int i = 0; i < n; i++)
            known = known || seen[i] == o;
        if (!known)
            seen[n++] = o;
    }
    return n;
}

/* How often the daemon's log names a node's TLS port as a slot's master:
 * the slot map it read over TLS gave TLS ports. */
static long long served_by_tls_ports(fixture_t *f)
{
    long long n = 0;
    for (int i = 0; i < f->c.n_nodes; i++) {
        char said[64];
        snprintf(said, sizeof said, "is served by 127.0.0.1:%d", f->c.tls_ports[i]);
        n += fp_td_log_count(f->td, said);
    }
    return n;
}

static void test_jobs_over_tls_cluster(void **state)
{
    fixture_t *f = *state;
    fp_td_t *td = f->td;
    write_config(f, "ca.crt");
    assert_true(masters_used(f) >= 2);
    const char *check[] = {"check-config", "-c", td->config, NULL};
    fp_th_result_t r = fp_tcj_cli(NULL, check, NULL, 0);
    if (r.status != 0)
        fail_msg("check-config exited %d: %s", r.status, r.err);
    FP_TH_EXPECT_ALL_IN(r.out, "redis    cluster seeds=127.0.0.1:", "url=rediss://",
                        "tls      on", "ca.crt");
    fp_th_result_free(&r);
    char err[512];
    const int per_queue = 300;
    for (size_t q = 0; q < NQ; q++)
        if (enqueue(f, QUEUES[q], per_queue, err, sizeof err) != 0)
            fail_msg("enqueue %s over TLS failed: %s", QUEUES[q], err);
    fp_th_redis_t *o2 = fp_tcj_owner(&f->c, "q2", "jobs");
    freeReplyObject(fp_th_redis_cmd(o2, "XADD fp:{q2}:jobs * job not-json"));
    for (size_t q = 0; q < NQ; q++)
        assert_int_equal(fp_tcj_count(&f->c, QUEUES[q], "XLEN", "jobs"), per_queue + (q == 2));

    fp_td_start_ready(td, true);
    long long jobs = (long long)per_queue * NQ, some = jobs / 10;
    fp_td_wait_until(td, fp_td_events_at_least, &some, 120000, "the first jobs done");
    /* q1's master fails over to its replica (replication is over TLS too). */
    fp_th_redis_t *m1 = fp_tcj_owner(&f->c, "q1", "jobs");
    assert_non_null(m1);
    assert_non_null(fp_th_cluster_failover(&f->c, m1));
    fp_tcj_settled_t want = {&f->c, QUEUES, NQ, jobs};
    fp_td_wait_until(td, fp_tcj_settled, &want, 240000, "every job done after the failover");
    assert_int_equal(fp_tcj_distinct_ids(td), jobs);
    assert_int_equal(fp_tcj_count(&f->c, "q2", "XLEN", "dead"), 1);
    assert_true(served_by_tls_ports(f) >= NQ);

    fp_tcj_expect_cli_reports(td, QUEUES, NQ, "q2"); /* both over TLS */
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

/* A CA that did not sign the nodes' certificate: `run` exits 69 naming the
 * verification failure, `enqueue` too and adds nothing, `stats` too. A
 * server name the certificate does not carry is refused the same way. */
static void test_wrong_ca_is_refused(void **state)
{
    fixture_t *f = *state;
    fp_td_t *td = f->td;
    write_config(f, "other.crt");
    fp_td_start(td, false);
    assert_int_equal(fp_td_wait(td, 60000), 69);
    assert_true(fp_td_log_count(td, "certificate verify failed: self-signed certificate in "
                                    "certificate chain") >= 1);
    char err[512];
    assert_int_equal(enqueue(f, "q0", 5, err, sizeof err), 69);
    assert_non_null(strstr(err, "certificate verify failed"));
    assert_int_equal(fp_tcj_count(&f->c, "q0", "XLEN", "jobs"), 0);
    const char *stats[] = {"stats", "-c", td->config, NULL};
    fp_th_result_t r = fp_tcj_cli(NULL, stats, NULL, 0);
    assert_int_equal(r.status, 69);
    FP_TH_EXPECT_ALL_IN(r.err, "certificate verify failed");
    fp_th_result_free(&r);
    /* the right CA, but a name the certificate does not carry */
    write_config(f, "ca.crt");
    r = fp_tcj_cli("FORKPOOL_REDIS_TLS_SERVER_NAME=redis.example.org", stats, NULL, 0);
    assert_int_equal(r.status, 69);
    FP_TH_EXPECT_ALL_IN(r.err, "certificate verify failed");
    fp_th_result_free(&r);
    r = fp_tcj_cli("FORKPOOL_REDIS_TLS_SERVER_NAME=localhost", stats, NULL, 0);
    if (r.status != 0)
        fail_msg("stats with tls_server_name localhost exited %d: %s", r.status, r.err);
    fp_th_result_free(&r);
}

/* tls-auth-clients yes on every node: without a client certificate `run`
 * and `stats` are refused with 69 naming it; with tls_cert and tls_key the
 * command line and the daemon's connections are let in. */
static void test_client_certificate(void **state)
{
    fixture_t *f = *state;
    fp_td_t *td = f->td;
    for (int i = 0; i < f->c.n_nodes; i++)
        freeReplyObject(fp_th_redis_cmd(&f->c.nodes[i], "CONFIG SET tls-auth-clients yes"));
    write_config(f, "ca.crt");
    fp_td_start(td, false);
    assert_int_equal(fp_td_wait(td, 60000), 69);
    assert_true(fp_td_log_count(td, "certificate required") >= 1);
    const char *stats[] = {"stats", "-c", td->config, NULL};
    fp_th_result_t r = fp_tcj_cli(NULL, stats, NULL, 0);
    assert_int_equal(r.status, 69);
    FP_TH_EXPECT_ALL_IN(r.err, "tls_cert");
    fp_th_result_free(&r);
    char from[700], to[1500];
    snprintf(from, sizeof from, "tls_ca = \"%s/ca.crt\"\n", td->dir);
    snprintf(to, sizeof to, "%stls_cert = \"%s/client.crt\"\ntls_key = \"%s/client.key\"\n", from,
             td->dir, td->dir);
    fp_td_config_replace(td, from, to);
    char err[512];
    if (enqueue(f, "q0", 20, err, sizeof err) != 0 || enqueue(f, "q3", 20, err, sizeof err) != 0)
        fail_msg("enqueue with a client certificate failed: %s", err);
    fp_td_start_ready(td, true);
    fp_tcj_settled_t want = {&f->c, QUEUES, NQ, 40};
    fp_td_wait_until(td, fp_tcj_settled, &want, 120000, "the jobs done with a client certificate");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wrong_ca_is_refused, setup, fp_tcj_teardown),
        cmocka_unit_test_setup_teardown(test_client_certificate, setup, fp_tcj_teardown),
        cmocka_unit_test_setup_teardown(test_jobs_over_tls_cluster, setup, fp_tcj_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
