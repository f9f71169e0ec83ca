/* ceiling_sqlq.c: what the embedded queue's store (lib/sqlq/) allows on its
 * own, with no pool and no daemon: one process enqueues N jobs (one
 * transaction each, as separate producers would), then P processes, each
 * with its own connection to the same file, pull batches of BATCH under a
 * lease and ack each batch (two transactions per batch: the pull and the
 * outcomes), until the queue is empty. Jobs that nobody acks are counted.
 *
 * Usage: ceiling_sqlq DB_PATH JOBS [PROCS [BATCH [full]]]
 *   (DB_PATH and its -wal/-shm are removed first; "full" opens with
 *   synchronous = FULL instead of NORMAL)
 * Prints one line: jobs=N procs=P batch=B sync=normal enqueue_s=S enqueue_per_s=R
 *   drain_s=S drain_per_s=R drain_cpu_s=C left=L
 * (drain_cpu_s: the draining processes' CPU time, steadier than wall time on
 * a shared machine) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"
#include "bench_db.h"
#include "sqlq/store.h"

static const char payload[] =
    "{\"id\":\"0123456789abcdef\",\"type\":\"noop\",\"args\":[],\"attempt\":1}";

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int enqueue_all(const char *path, long jobs, int flags)
{
    fp_err_t err = {0};
    fp_sqlq_t *q = NULL;
    int rc = fp_sqlq_open(path, flags, &q, &err);
    for (long i = 0; rc == 0 && i < jobs; i++)
        rc = fp_sqlq_enqueue(q, "default", payload, sizeof payload - 1, 0, wall_ms(), NULL, &err);
    if (rc != 0)
        fprintf(stderr, "ceiling_sqlq: %s\n", err.msg);
    fp_sqlq_close(q);
    return rc;
}

/* One draining process: pull a batch, ack it, until a pull comes back empty. */
static int drain(const char *path, const char *consumer, size_t batch, int flags)
{
    fp_err_t err = {0};
    fp_sqlq_t *q = NULL;
    fp_sqlq_jobs_t jobs = {0};
    fp_sqlq_outcome_t *acks = calloc(batch, sizeof *acks);
    const char *queues[] = {"default"};
    int rc = acks != NULL ? fp_sqlq_open(path, flags, &q, &err) : -1;
    while (rc == 0) {
        rc = fp_sqlq_pull(q, queues, 1, consumer, batch, 60000, wall_ms(), 0, &jobs, &err);
        if (rc != 0 || jobs.n == 0)
            break;
        for (size_t i = 0; i < jobs.n; i++)
            acks[i] = (fp_sqlq_outcome_t){.kind = FP_SQLQ_ACK, .id = jobs.v[i].id};
        rc = fp_sqlq_outcomes(q, consumer, acks, jobs.n, wall_ms(), NULL, NULL, &err);
    }
    if (rc != 0)
        fprintf(stderr, "ceiling_sqlq: %s: %s\n", consumer, err.msg);
    fp_sqlq_jobs_free(&jobs);
    fp_sqlq_close(q);
    free(acks);
    return rc == 0 ? 0 : 1;
}

static int drain_in_children(const char *path, long procs, size_t batch, int flags)
{
    int failed = 0;
    for (long p = 0; p < procs; p++) {
        pid_t pid = fork();
        if (pid == 0) {
            char consumer[32];
            snprintf(consumer, sizeof consumer, "bench-%ld", p);
            _exit(drain(path, consumer, batch, flags));
        }
        failed |= pid < 0;
    }
    int status;
    while (wait(&status) > 0)
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
    long jobs = argc >= 3 ? strtol(argv[2], NULL, 10) : 0;
    long procs = argc >= 4 ? strtol(argv[3], NULL, 10) : 1;
    long batch = argc >= 5 ? strtol(argv[4], NULL, 10) : 64;
    int flags = argc >= 6 && strcmp(argv[5], "full") == 0 ? FP_SQLQ_SYNC_FULL : 0;
    if (jobs <= 0 || procs <= 0 || procs > 64 || batch <= 0) {
        fprintf(stderr, "usage: ceiling_sqlq DB_PATH JOBS [PROCS [BATCH [full]]]\n");
        return 2;
    }
    remove_db(argv[1]);
    double t0 = now_s();
    if (enqueue_all(argv[1], jobs, flags) != 0)
        return 1;
    double t1 = now_s();
    if (drain_in_children(argv[1], procs, (size_t)batch, flags) != 0)
        return 1;
    double t2 = now_s();
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double drain_cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    fp_err_t err = {0};
    fp_sqlq_t *q = NULL;
    fp_sqlq_counts_t c = {0};
    if (fp_sqlq_open(argv[1], flags, &q, &err) != 0 ||
        fp_sqlq_counts(q, "default", wall_ms(), &c, &err) != 0) {
        fprintf(stderr, "ceiling_sqlq: %s\n", err.msg);
        fp_sqlq_close(q);
        return 1;
    }
    fp_sqlq_close(q);
    printf("jobs=%ld procs=%ld batch=%ld sync=%s enqueue_s=%.3f enqueue_per_s=%.0f drain_s=%.3f "
           "drain_per_s=%.0f drain_cpu_s=%.3f left=%lld\n",
           jobs, procs, batch, flags ? "full" : "normal", t1 - t0, (double)jobs / (t1 - t0),
           t2 - t1, (double)jobs / (t2 - t1), drain_cpu,
           (long long)(c.ready + c.delayed + c.leased));
    return 0;
}
