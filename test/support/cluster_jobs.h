/* cluster_jobs.h: what the daemon tests on a Redis Cluster share
 * (fp_tcj_*): the forkpool binary run with the test's config, record_event
 * jobs enqueued through it, where a queue's keys live now, and the
 * condition "every job done and nothing left on any queue's master". */
#ifndef FP_TEST_CLUSTER_JOBS_H
#define FP_TEST_CLUSTER_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster_set.h"
#include "daemon.h"
#include "harness.h"

/* A daemon's test dir and config beside a cluster: *state of the tests. */
typedef struct fp_tcj_s {
    fp_td_t *td;
    fp_th_cluster_t c;
} fp_tcj_t;

/* cmocka teardown of an fp_tcj_t (heap): the daemon's dir, the cluster. */
int fp_tcj_teardown(void **state);

/* The config sections of a daemon run on a cluster, after [queues]: two
 * children, quick retries and a short visibility timeout, so that a
 * failover during the run is recovered from within the test's deadlines. */
#define FP_TCJ_CONFIG_RUN                                                                 \
    "[pool]\nchildren = 2\nprefetch = 8\n"                                                \
    "[retry]\nbackoff_base = \"10ms\"\nbackoff_max = \"50ms\"\nmax_attempts = 25\n"       \
    "[recovery]\nvisibility_timeout = \"5s\"\nclaim_interval = \"1s\"\n"

/* `forkpool ARGS...` (NULL-terminated, at most 14) with stdin in[0..len)
 * (in may be NULL) and one extra environment entry (may be NULL). Fails
 * the test if the binary cannot be run or times out (120 s). */
fp_th_result_t fp_tcj_cli(const char *env, const char *const *args, const char *in, size_t len);

/* `forkpool enqueue -c CONFIG --queue queue record_event -` with n jobs,
 * object ids "queue-first" ... "queue-(first+n-1)": the result, for the
 * caller to check. */
fp_th_result_t fp_tcj_enqueue(const fp_td_t *td, const char *queue, int first, int n);

/* The master serving queue's key fp:{queue}:kind now (asked on the
 * fixture's plain ports), or NULL. */
fp_th_redis_t *fp_tcj_owner(fp_th_cluster_t *c, const char *queue, const char *kind);

/* `cmd fp:{queue}:kind` ("XLEN", "ZCARD") on that master: its integer
 * answer, -1 when none. */
long long fp_tcj_count(fp_th_cluster_t *c, const char *queue, const char *cmd, const char *kind);

/* The command line against the cluster after a run: `stats --json` exits
 * 0 and names every queue, `dead list --queue dead_queue` shows its one
 * dead job. */
void fp_tcj_expect_cli_reports(const fp_td_t *td, const char *const *queues, size_t n_queues,
                               const char *dead_queue);

/* Distinct object ids in the events table. */
long long fp_tcj_distinct_ids(const fp_td_t *td);

/* For fp_td_wait_until: at least ids distinct ids recorded, and every
 * queue's master of now has nothing ready or delayed. */
typedef struct fp_tcj_settled_s {
    fp_th_cluster_t *c;
    const char *const *queues;
    size_t n_queues;
    long long ids;
} fp_tcj_settled_t;
bool fp_tcj_settled(fp_td_t *td, void *arg);

#endif
