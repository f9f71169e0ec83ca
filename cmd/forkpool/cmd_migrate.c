/* cmd_migrate.c: `forkpool migrate`, moving the waiting, delayed and dead
 * jobs from the embedded queue to one Redis (--to redis://...) or from the
 * configured Redis into a queue file (--to sqlite:PATH): the path from one
 * host to many and back (docs/embedded.md, "Moving to Redis"). This file
 * reads the command line and prints; migrate_to_redis.c and
 * migrate_to_sqlite.c move the jobs, in batches whose order makes a run
 * that was interrupted safe to run again. Usage errors come before the
 * configuration (64, 78); a refused queue file is 78, an unreachable Redis
 * 69, a source in use without --force 1. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "migrate.h"

#define BATCH_DEFAULT 100
#define BATCH_MAX 10000LL
#define QUEUES_MAX 64

typedef struct migrate_args_s {
    const char *to;
    fp_migrate_target_t target;
    const char *queues[QUEUES_MAX];
    size_t nqueues;
    long long batch;
    bool dry_run, force;
} migrate_args_t;

enum { OPT_TO = 256, OPT_QUEUE, OPT_BATCH, OPT_DRY_RUN, OPT_FORCE };

static int on_option(void *args, int id, const char *name, const char *value, fp_err_t *err)
{
    migrate_args_t *a = args;
    (void)name;
    switch (id) {
    case OPT_TO: a->to = value; break;
    case OPT_QUEUE:
        if (a->nqueues == QUEUES_MAX)
            return fp_err_set(err, FP_EUSAGE, "at most %d --queue", QUEUES_MAX);
        return fp_cli_parse_queue(value, &a->queues[a->nqueues++], err);
    case OPT_BATCH:
        if (fp_cli_parse_count("--batch", value, BATCH_MAX, &a->batch, err) < 0)
            return FP_EUSAGE;
        if (a->batch == 0)
            return fp_err_set(err, FP_EUSAGE, "--batch must be at least 1");
        break;
    case OPT_DRY_RUN: a->dry_run = true; break;
    case OPT_FORCE: a->force = true; break;
    }
    return 0;
}

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'}, {"to", required_argument, NULL, OPT_TO},
    {"queue", required_argument, NULL, OPT_QUEUE}, {"batch", required_argument, NULL, OPT_BATCH},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN}, {"force", no_argument, NULL, OPT_FORCE},
    {NULL, 0, NULL, 0},
};
/* No operands; --to is checked here, before the configuration is read. */
static int on_operands(void *args, int n, char **words, fp_err_t *err)
{
    migrate_args_t *a = args;
    if (n > 0)
        return fp_err_set(err, FP_EUSAGE, "unexpected argument \"%s\"", words[0]);
    if (a->to == NULL)
        return fp_err_set(err, FP_EUSAGE, "--to is needed: redis://... or sqlite:PATH");
    return fp_migrate_target_parse(a->to, &a->target, err);
}

static const fp_cli_spec_t spec = {options, on_option, on_operands, NULL};

void fp_migrate_print(const fp_migrate_run_t *run, const char *queue,
                      const fp_migrate_counts_t *c)
{
    printf("%s: %s %" PRId64 " ready, %" PRId64 " delayed, %" PRId64 " dead", queue,
           run->dry_run ? "would move" : "moved", c->ready, c->delayed, c->dead);
    if (c->held > 0)
        printf(" (%" PRId64 " held by a daemon stay)", c->held);
    putchar('\n');
}

void fp_migrate_batch_written(fp_migrate_run_t *run)
{
    run->batches++;
    if (run->crash_after >= 0 && run->batches >= run->crash_after) {
        fflush(stdout);
        raise(SIGKILL);
    }
}

/* FORKPOOL_MIGRATE_CRASH_AFTER=N: for the tests of an interrupted
 * migration only (a crash at the worst point, deterministically), so only
 * in a build with the tests (CMakeLists.txt). */
static long long crash_after(void)
{
#ifdef FP_TEST_HOOKS
    const char *v = getenv("FORKPOOL_MIGRATE_CRASH_AFTER");
    char *end = NULL;
    long long n = v != NULL ? strtoll(v, &end, 10) : -1;
    return v != NULL && end != v && *end == '\0' && n > 0 ? n : -1;
#else
    return -1;
#endif
}

static void describe(fp_migrate_run_t *run)
{
    const fp_config_t *cfg = run->cfg;
    char *from = run->to.way == FP_MIGRATE_TO_REDIS ? NULL : fp_config_mask_url(cfg->redis.url);
    char *dest = run->to.way == FP_MIGRATE_TO_REDIS ? fp_config_mask_url(run->to.url) : NULL;
    snprintf(run->from, sizeof run->from, "%s",
             run->to.way == FP_MIGRATE_TO_REDIS ? cfg->sqlite.path : from ? from : "Redis");
    snprintf(run->dest, sizeof run->dest, "%s",
             run->to.way == FP_MIGRATE_TO_SQLITE ? run->to.path : dest ? dest : "Redis");
    free(from);
    free(dest);
}

int fp_cmd_migrate(int argc, char **argv, fp_err_t *err)
{
    migrate_args_t a = {.batch = BATCH_DEFAULT};
    fp_config_t *cfg = NULL;
    int rc = fp_cli_begin(argc, argv, &spec, &a, &cfg, err);
    if (rc < 0)
        return rc;
    fp_migrate_target_t to = a.target;
    const char *const *names = (const char *const *)cfg->queues.names.items;
    fp_migrate_run_t run = {cfg, to, a.nqueues > 0 ? a.queues : names,
                            a.nqueues > 0 ? a.nqueues : cfg->queues.names.count, (size_t)a.batch,
                            a.dry_run, a.force, crash_after(), 0, "", ""};
    describe(&run);
    printf("%s jobs from %s to %s\n", a.dry_run ? "counting (dry run)" : "moving", run.from,
           run.dest);
    rc = to.way == FP_MIGRATE_TO_REDIS ? fp_migrate_to_redis(&run, err)
                                       : fp_migrate_to_sqlite(&run, err);
    fp_config_free(cfg);
    return rc;
}
