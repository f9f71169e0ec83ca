/* cluster_jobs.c: the shared pieces of the daemon tests on a Redis Cluster
 * (cluster_jobs.h). */
#include "cluster_jobs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis/cluster_parse.h"

int fp_tcj_teardown(void **state)
{
    fp_tcj_t *f = *state;
    fp_td_free(f->td);
    fp_th_cluster_stop(&f->c);
    free(f);
    return 0;
}

fp_th_result_t fp_tcj_cli(const char *env, const char *const *args, const char *in, size_t len)
{
    const char *argv[16] = {fp_th_env("FORKPOOL_BIN")};
    size_t n = 1;
    for (; args[n - 1] != NULL && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    const char *envv[] = {env, NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, env != NULL ? envv : NULL, in, len, 120000, &r), 0);
    return r;
}

fp_th_result_t fp_tcj_enqueue(const fp_td_t *td, const char *queue, int first, int n)
{
    size_t cap = (size_t)n * 96 + 1, len = 0;
    char *in = malloc(cap);
    assert_non_null(in);
    for (int i = first; i < first + n; i++)
        len += (size_t)snprintf(in + len, cap - len,
                                "{\"action\":\"s\",\"object_id\":\"%s-%d\",\"user_id\":\"u\"}\n",
                                queue, i);
    const char *args[] = {"enqueue", "-c", td->config, "--queue", queue, "record_event", "-",
                          NULL};
    fp_th_result_t r = fp_tcj_cli(NULL, args, in, len);
    free(in);
    return r;
}

fp_th_redis_t *fp_tcj_owner(fp_th_cluster_t *c, const char *queue, const char *kind)
{
    char key[64];
    snprintf(key, sizeof key, "fp:{%s}:%s", queue, kind);
    return fp_th_cluster_owner(c, fp_cluster_keyslot(key, strlen(key)));
}

long long fp_tcj_count(fp_th_cluster_t *c, const char *queue, const char *cmd, const char *kind)
{
    fp_th_redis_t *o = fp_tcj_owner(c, queue, kind);
    return o != NULL ? fp_th_redis_int(o, "%s fp:{%s}:%s", cmd, queue, kind) : -1;
}

void fp_tcj_expect_cli_reports(const fp_td_t *td, const char *const *queues, size_t n_queues,
                               const char *dead_queue)
{
    const char *stats[] = {"stats", "-c", td->config, "--json", NULL};
    fp_th_result_t r = fp_tcj_cli(NULL, stats, NULL, 0);
    if (r.status != 0)
        fail_msg("stats exited %d: %s", r.status, r.err);
    for (size_t q = 0; q < n_queues; q++) {
        char quoted[96];
        snprintf(quoted, sizeof quoted, "\"%s\"", queues[q]);
        if (strstr(r.out, quoted) == NULL)
            fail_msg("stats does not name %s: %s", quoted, r.out);
    }
    fp_th_result_free(&r);
    const char *dead_list[] = {"dead", "list", "-c", td->config, "--queue", dead_queue, NULL};
    r = fp_tcj_cli(NULL, dead_list, NULL, 0);
    if (r.status != 0)
        fail_msg("dead list exited %d: %s", r.status, r.err);
    char want[128];
    snprintf(want, sizeof want, "1 dead jobs in %s", dead_queue);
    if (strstr(r.out, want) == NULL)
        fail_msg("dead list does not say \"%s\": %s", want, r.out);
    fp_th_result_free(&r);
}

long long fp_tcj_distinct_ids(const fp_td_t *td)
{
    return fp_td_sql(td, "SELECT count(DISTINCT object_id) FROM events");
}

bool fp_tcj_settled(fp_td_t *td, void *arg)
{
    fp_tcj_settled_t *s = arg;
    if (fp_tcj_distinct_ids(td) < s->ids)
        return false;
    for (size_t q = 0; q < s->n_queues; q++)
        if (fp_tcj_count(s->c, s->queues[q], "XLEN", "jobs") != 0 ||
            fp_tcj_count(s->c, s->queues[q], "ZCARD", "delayed") != 0)
            return false;
    return true;
}
