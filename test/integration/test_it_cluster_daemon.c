/* test_it_cluster_daemon.c: the daemon and the command line on a Redis
 * Cluster (test/support/cluster_set.h: 3 masters, one replica each, on
 * loopback) with redis.cluster = [seeds] and six queues, two per master.
 * Jobs are enqueued with `forkpool enqueue` (routed to each queue's master)
 * and recorded by record_event. While the daemon runs, one queue's slot is
 * moved by hand to another master (IMPORTING / MIGRATING, MIGRATE of its
 * keys, SETSLOT NODE) and the master of another queue is failed over
 * (CLUSTER FAILOVER on its replica). Then: every id recorded, nothing ready
 * or pending on any queue's master of now, one bad payload in the dead
 * stream, and `forkpool stats` and `forkpool dead list` answer against the
 * cluster. Duplicates are counted and printed, not asserted. The chaos case
 * runs 30,000 jobs (ctest integration.test_it_cluster_daemon.chaos). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_jobs.h"
#include "redis/cluster_parse.h"

#define NQ 6
static const char *const QUEUES[NQ] = {"q0", "q1", "q2", "q3", "q4", "q5"};

#define CONFIG_EXTRA "[queues]\nnames = [\"q0\", \"q1\", \"q2\", \"q3\", \"q4\", \"q5\"]\n" FP_TCJ_CONFIG_RUN

typedef fp_tcj_t fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->td = fp_td_new(false);
    if (fp_th_cluster_start(&f->c, 3, 1) < 0)
        fail_msg("cannot start the cluster");
    *state = f;
    return 0;
}

/* The Cluster form: the URL's host is a port nobody listens on (using it
 * would fail); the first seed listed does not run either. */
static void write_config(fixture_t *f)
{
    char from[256], to[1024], seeds[512];
    fp_td_config(f->td, NULL, CONFIG_EXTRA);
    snprintf(from, sizeof from, "url = \"%s\"\n", fp_th_redis_url(&f->td->redis));
    fp_th_cluster_seeds(&f->c, seeds, sizeof seeds);
    snprintf(to, sizeof to, "url = \"redis://127.0.0.1:1/0\"\ncluster = [\"127.0.0.1:%d\", %s]\n",
             fp_th_free_port(), seeds);
    fp_td_config_replace(f->td, from, to);
}

/* `forkpool enqueue --queue Q record_event -`, ids "Q-first" ... */
static void enqueue(fixture_t *f, const char *queue, int first, int n)
{
    fp_th_result_t r = fp_tcj_enqueue(f->td, queue, first, n);
    if (r.status != 0)
        fail_msg("enqueue exited %d: %s", r.status, r.err);
    fp_th_result_free(&r);
}

static long long rows(const fp_td_t *td)
{
    return fp_td_sql(td, "SELECT count(*) FROM events");
}

static void run_case(fixture_t *f, int per_queue)
{
    fp_td_t *td = f->td;
    write_config(f);
    for (size_t q = 0; q < NQ; q++)
        enqueue(f, QUEUES[q], 0, per_queue);
    /* One payload that is not JSON: dead at once, for `dead list`. */
    fp_th_redis_t *o2 = fp_tcj_owner(&f->c, "q2", "jobs");
    freeReplyObject(fp_th_redis_cmd(o2, "XADD fp:{q2}:jobs * job not-json"));
    long long jobs = (long long)per_queue * NQ;
    for (size_t q = 0; q < NQ; q++)
        assert_int_equal(fp_tcj_count(&f->c, QUEUES[q], "XLEN", "jobs"), per_queue + (q == 2));

    fp_td_start_ready(td, true);
    long long some = jobs / 10;
    fp_td_wait_until(td, fp_td_events_at_least, &some, 120000, "the first jobs done");
    long long t0 = fp_th_now_ms();
    long long at_move = rows(td);
    assert_true(at_move < jobs); /* the move comes during the run */

    /* q0's slot moves to another master, by hand. */
    char key[32] = "fp:{q0}:jobs";
    int slot = fp_cluster_keyslot(key, strlen(key));
    fp_th_redis_t *from = fp_th_cluster_owner(&f->c, slot), *to;
    assert_non_null(from);
    assert_non_null(to = fp_th_cluster_other_master(&f->c, from));
    assert_int_equal(fp_th_cluster_move_begin(&f->c, slot, to), 0);
    long long more = rows(td) + jobs / 20;
    fp_td_wait_until(td, fp_td_events_at_least, &more, 120000,
                     "jobs done while the slot migrates");
    assert_int_equal(fp_th_cluster_move_finish(&f->c, slot, to), 0);

    /* q1's master fails over to its replica. */
    long long at_failover = rows(td);
    fp_th_redis_t *m1 = fp_tcj_owner(&f->c, "q1", "jobs");
    assert_non_null(m1);
    assert_non_null(fp_th_cluster_failover(&f->c, m1));

    fp_tcj_settled_t want = {&f->c, QUEUES, NQ, jobs};
    fp_td_wait_until(td, fp_tcj_settled, &want, 240000,
                     "every job done after the move and failover");
    long long ms = fp_th_now_ms() - t0;
    long long dead = fp_tcj_count(&f->c, "q2", "XLEN", "dead");
    printf("cluster: %lld jobs over %d queues, %lld distinct done, %lld duplicates, %lld dead; "
           "%lld done before the move, %lld before the failover; move to settled %lld ms\n",
           jobs, NQ, fp_tcj_distinct_ids(td), rows(td) - fp_tcj_distinct_ids(td), dead, at_move,
           at_failover, ms);
    assert_int_equal(fp_tcj_distinct_ids(td), jobs);
    assert_int_equal(dead, 1);
    for (size_t q = 0; q < NQ; q++)
        if (q != 2)
            assert_int_equal(fp_tcj_count(&f->c, QUEUES[q], "XLEN", "dead"), 0);

    /* The command line against the cluster: stats names every queue, dead
     * list shows the bad payload of q2. */
    fp_tcj_expect_cli_reports(td, QUEUES, NQ, "q2");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

static void test_cluster_daemon(void **state)
{
    run_case(*state, 500);
}

static void test_chaos_cluster_daemon(void **state)
{
    run_case(*state, 5000);
}

/* check-config names the form in use; cluster and sentinels together, a
 * database other than 0 and a unix:// URL are refused with the reason. */
static void test_cluster_check_config(void **state)
{
    fixture_t *f = *state;
    write_config(f);
    const char *check[] = {"check-config", "-c", f->td->config, NULL};
    fp_th_result_t r = fp_tcj_cli(NULL, check, NULL, 0);
    assert_int_equal(r.status, 0);
    FP_TH_EXPECT_ALL_IN(r.out, "redis    cluster seeds=127.0.0.1:", "(user and password only)");
    fp_th_result_free(&r);
    fp_td_config_replace(f->td, "redis://127.0.0.1:1/0", "redis://127.0.0.1:1/3");
    r = fp_tcj_cli(NULL, check, NULL, 0);
    assert_int_equal(r.status, 78);
    FP_TH_EXPECT_ALL_IN(r.err, "must name database 0 with cluster");
    fp_th_result_free(&r);
    fp_td_config_replace(f->td, "redis://127.0.0.1:1/3",
                         "redis://127.0.0.1:1/0\"\nsentinels = [\"127.0.0.1:26379\"]\n"
                         "master_name = \"m");
    r = fp_tcj_cli(NULL, check, NULL, 0);
    assert_int_equal(r.status, 78);
    FP_TH_EXPECT_ALL_IN(r.err, "cluster and sentinels exclude each other");
    fp_th_result_free(&r);
}

/* The command line while a slot is being migrated: a read of keys the old
 * owner no longer has is answered ASK there and sent again, after ASKING, to
 * the importing master; once the move is done, MOVED sends the command
 * line to the new owner. */
static void test_cluster_cli_migrating(void **state)
{
    fixture_t *f = *state;
    write_config(f);
    const char *key = "fp:{qx}:dead";
    int slot = fp_cluster_keyslot(key, strlen(key));
    fp_th_redis_t *from = fp_th_cluster_owner(&f->c, slot), *to;
    assert_non_null(from);
    assert_non_null(to = fp_th_cluster_other_master(&f->c, from));
    assert_int_equal(fp_th_cluster_move_begin(&f->c, slot, to), 0);
    /* The key exists on the importing master only (written there after
     * ASKING, as a migration would have moved it). */
    freeReplyObject(fp_th_redis_cmd(to, "ASKING"));
    redisReply *added = fp_th_redis_cmd(to, "XADD %s * job not-json error bad", key);
    assert_non_null(added);
    assert_int_equal(added->type, REDIS_REPLY_STRING);
    freeReplyObject(added);
    const char *dead_list[] = {"dead", "list", "-c", f->td->config, "--queue", "qx", NULL};
    fp_th_result_t r = fp_tcj_cli(NULL, dead_list, NULL, 0);
    if (r.status != 0)
        fail_msg("dead list exited %d: %s", r.status, r.err);
    FP_TH_EXPECT_ALL_IN(r.out, "1 dead jobs in qx"); /* read on the importing master */
    fp_th_result_free(&r);
    assert_int_equal(fp_th_cluster_move_finish(&f->c, slot, to), 0);
    r = fp_tcj_cli(NULL, dead_list, NULL, 0);
    if (r.status != 0)
        fail_msg("dead list exited %d: %s", r.status, r.err);
    FP_TH_EXPECT_ALL_IN(r.out, "1 dead jobs in qx");
    fp_th_result_free(&r);
}

/* A cluster whose nodes want a user and password (an ACL user on every
 * node; the fixture keeps the default user open): the daemon's
 * connections, the map's and the command line's all AUTH with the URL's.
 * A wrong password is refused naming AUTH and never shown. */
static void test_cluster_auth(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < f->c.n_nodes; i++)
        freeReplyObject(
            fp_th_redis_cmd(&f->c.nodes[i], "ACL SETUSER fpuser on >s3cret ~* &* +@all"));
    write_config(f);
    fp_td_config_replace(f->td, "redis://127.0.0.1:1/0", "redis://fpuser:s3cret@127.0.0.1:1/0");
    enqueue(f, "q0", 0, 50);
    enqueue(f, "q3", 0, 50);
    fp_td_start_ready(f->td, true);
    fp_tcj_settled_t want = {&f->c, QUEUES, NQ, 100};
    fp_td_wait_until(f->td, fp_tcj_settled, &want, 120000, "the jobs done with AUTH on every node");
    fp_td_signal(f->td, SIGTERM);
    assert_int_equal(fp_td_wait(f->td, 60000), 0);
    fp_td_config_replace(f->td, "fpuser:s3cret@", "fpuser:wrong-one@");
    const char *stats[] = {"stats", "-c", f->td->config, NULL};
    fp_th_result_t r = fp_tcj_cli(NULL, stats, NULL, 0);
    assert_int_equal(r.status, 69);
    FP_TH_EXPECT_ALL_IN(r.err, "no cluster node answered CLUSTER SLOTS", "AUTH failed");
    assert_null(strstr(r.err, "wrong-one"));
    fp_th_result_free(&r);
}

int main(int argc, char **argv)
{
    /* test_it_cluster_daemon NAME runs one test; --skip PATTERN all but those. */
    if (argc > 2 && strcmp(argv[1], "--skip") == 0)
        cmocka_set_skip_filter(argv[2]);
    else if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cluster_check_config, setup, fp_tcj_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_cli_migrating, setup, fp_tcj_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_auth, setup, fp_tcj_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_daemon, setup, fp_tcj_teardown),
        cmocka_unit_test_setup_teardown(test_chaos_cluster_daemon, setup, fp_tcj_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
