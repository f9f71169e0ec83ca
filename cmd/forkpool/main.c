/* main.c: the forkpool binary's entry. It finds the command, handles --help,
 * and is the only place that maps error codes to exit statuses (sysexits:
 * 64 usage, 69 service unavailable, 78 configuration, 1 anything else). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "base/err.h"
#include "base/log.h"

#define EXIT_USAGE 64
#define EXIT_UNAVAILABLE 69
#define EXIT_CONFIG 78

const fp_cmd_t fp_cmd_table[] = {
    {"run", "run the daemon in the foreground",
     "usage: forkpool run [-c FILE] [--burst] [--children N] [--queue Q]...\n"
     "\n"
     "Pre-forks the pool, pulls jobs from Redis as children free up, and runs them.\n"
     "  -c, --config FILE  configuration file (else $FORKPOOL_CONFIG, else ./forkpool.toml)\n"
     "  --burst            exit 0 once every queue has no ready and no pending jobs and\n"
     "                     the retries this run scheduled have run (or gone dead); jobs\n"
     "                     others delayed for later do not hold it\n"
     "  --children N       override pool.children\n"
     "  --queue Q          consume Q instead of queues.names (repeat for several, in order)\n"
     "Signals: TERM/INT drain and exit, QUIT stops at once, TSTP goes quiet, HUP reloads,\n"
     "TTIN/TTOU add/remove a child, USR1 reopens the log file.\n",
     fp_cmd_run},
    {"enqueue", "add jobs to a queue",
     "usage: forkpool enqueue [-c FILE] [--queue Q] [--delay DUR] [--count N] [--json]\n"
     "                        [--wait-replicas N [--wait-timeout DUR]]\n"
     "                        [--unique KEY [--unique-for DUR] [--unique-until done|start]]\n"
     "                        TYPE [ARGS_JSON|-]\n"
     "\n"
     "Adds a job {\"type\": TYPE, \"args\": ARGS_JSON}. With '-', reads one ARGS_JSON per line\n"
     "from stdin. Prints the stream entry ids (the row ids on the embedded queue), or a\n"
     "count with --count. --wait-replicas needs Redis.\n"
     "  -c, --config FILE  configuration file\n"
     "  --queue Q          queue name (default: the first of queues.names)\n"
     "  --delay DUR        run no earlier than DUR from now (\"30s\", \"5m\")\n"
     "  --count N          add N copies, pipelined (for bulk loads and benchmarks)\n"
     "  --wait-replicas N  after adding, wait until N replicas have the jobs (Redis WAIT);\n"
     "                     fewer: exit 69, the jobs stay on the master only\n"
     "  --wait-timeout DUR\n"
     "                     how long to wait for them (default 1s, at most 1h)\n"
     "  --json             print {\"duplicate\": false, \"id\": ID} (with --count or '-':\n"
     "                     {\"enqueued\": N, \"queue\": Q})\n"
     "  --unique KEY       add the job only if no job with KEY waits in this queue (or runs,\n"
     "                     until done); prints the job's id, or the holder's id for a\n"
     "                     duplicate (exit 0; --json says \"duplicate\": true)\n"
     "  --unique-for DUR   the key expires after DUR at the latest (default 24h after due)\n"
     "  --unique-until W   release the key when the job succeeds (done, the default) or\n"
     "                     when a daemon takes it to run (start); dead always releases it\n",
     fp_cmd_enqueue},
    {"stats", "show queue depth, pending, delayed, dead and consumers",
     "usage: forkpool stats [-c FILE] [--json]\n"
     "\n"
     "Reads the queues' state from Redis, or from the embedded queue's file (sqlite.path);\n"
     "works while daemons run elsewhere.\n"
     "  -c, --config FILE  configuration file\n"
     "  --json             machine-readable output\n",
     fp_cmd_stats},
    {"top", "live view of the fleet, queues and running jobs",
     "usage: forkpool top [-c FILE] [--interval DUR] [--once]\n"
     "\n"
     "A live terminal view over plain Redis (no health port needed): the daemons (name,\n"
     "host, pid, state, children busy/total, jobs done and failed, age), the queues\n"
     "(ready, pending, delayed, dead, oldest ready age, jobs in and out per second) and\n"
     "the running jobs, from the daemons' heartbeat records. Keys: q quit, s sort the\n"
     "queues by the next column, d dead letters (with their error) and back, ? help.\n"
     "When stdout is not a terminal, or with --once, prints one snapshot as text after\n"
     "two reads one interval apart (the rates need both) and exits.\n"
     "  -c, --config FILE  configuration file\n"
     "  --interval DUR     refresh every DUR (default 1s, from 100ms to 1h)\n"
     "  --once             print one text snapshot and exit, even on a terminal\n",
     fp_cmd_top},
    {"dead", "list, retry or purge dead jobs",
     "usage: forkpool dead list|retry|purge [-c FILE] [--queue Q] [--limit N | --all]\n"
     "                     [--json] [--force]\n"
     "\n"
     "Works on the queue's dead stream (on the embedded queue, its dead rows), oldest\n"
     "entries first.\n"
     "  list               print dead jobs: entry id, failed at (UTC), attempts, consumer,\n"
     "                     job type and id, error; then \"N dead jobs in Q (showing M)\"\n"
     "  retry              put dead jobs back on the queue as fresh jobs (\"attempt\" and\n"
     "                     \"last_error\" removed); skips payloads that would only die again\n"
     "  purge              delete dead jobs; needs --limit N or --all\n"
     "  -c, --config FILE  configuration file\n"
     "  --queue Q          queue name (default: the first of queues.names)\n"
     "  --limit N          only the N oldest entries (default: 100 for list, all for retry)\n"
     "  --all              every entry\n"
     "  --json             list: one JSON object per line, every field\n"
     "  --force            retry: re-enqueue invalid payloads too, as they are\n",
     fp_cmd_dead},
    {"migrate", "move the jobs between the embedded queue and Redis",
     "usage: forkpool migrate [-c FILE] --to URL|sqlite:PATH [--queue Q]... [--batch N]\n"
     "                        [--dry-run] [--force]\n"
     "\n"
     "Moves the waiting, delayed and dead jobs of each queue of queues.names: from the\n"
     "embedded queue (sqlite.path) to the one Redis at URL (redis://, rediss:// or\n"
     "unix://), or from the configured Redis into the queue file PATH (created when\n"
     "missing). Delayed jobs keep their due time, dead ones their error, attempts and\n"
     "failure time. Batch by batch, so a run that was interrupted can be run again: it\n"
     "loses nothing and moves at most one batch twice. Prints what moved per queue.\n"
     "Refuses (exit 1) while a daemon works on the source: rows leased in the file, or\n"
     "entries pending or a live heartbeat on Redis.\n"
     "  -c, --config FILE  configuration file\n"
     "  --to URL|sqlite:PATH\n"
     "                     where the jobs go (the other side is the configured one)\n"
     "  --queue Q          only queue Q (repeat for several)\n"
     "  --batch N          jobs per batch (default 100, at most 10000)\n"
     "  --dry-run          print what would move, move nothing\n"
     "  --force            move while a daemon runs: what it holds stays at the source\n",
     fp_cmd_migrate},
    {"job", "show where one job is: ready, running, delayed, dead or done",
     "usage: forkpool job [-c FILE] [--queue Q] [--json] ID\n"
     "\n"
     "Finds the job whose id (or stream entry id; row id on the embedded queue) is ID in\n"
     "Redis (or the embedded queue's file), in every queue of queues.names in order:\n"
     "ready (waiting since when), running (on which daemon), delayed (due when, which\n"
     "attempt, the last error) or dead (the error, when, after how many attempts); and\n"
     "lists every attempt the ledger (ledger.path) recorded, so a done job shows as done.\n"
     "Reads up to 1000 entries of each key for an id that is not an entry id. Exit 1\n"
     "when neither has it.\n"
     "  -c, --config FILE  configuration file\n"
     "  --queue Q          look only in queue Q\n"
     "  --json             one JSON document: state, queue, entry_id, job, consumer,\n"
     "                     deliveries, idle_ms, due_ms, dead_id, error, attempts,\n"
     "                     failed_at, ledger {path, status, problem, attempts}\n",
     fp_cmd_job},
    {"cancel", "cancel a job that waits (ready or delayed)",
     "usage: forkpool cancel [-c FILE] [--queue Q] [--json] ID\n"
     "\n"
     "Finds the job whose id (or stream entry id) is ID as 'forkpool job' does, in every\n"
     "queue of queues.names in order. A job that waits (ready, read by no daemon yet, or\n"
     "delayed) is removed and written to the dead stream with the error \"cancelled\",\n"
     "its unique key released, in one atomic step: it never runs. Prints\n"
     "\"cancelled (was ready|delayed)\". Exit 1 when the job is not found, already dead,\n"
     "or running (a running job is not stopped: not supported yet).\n"
     "  -c, --config FILE  configuration file\n"
     "  --queue Q          look only in queue Q\n"
     "  --json             one JSON document: id, queue, cancelled, was, entry_id,\n"
     "                     dead_id\n",
     fp_cmd_cancel},
    {"jobs", "query the job ledger",
     "usage: forkpool jobs [-c FILE] [--outcome O] [--type T] [--since DUR] [--limit N] [--json]\n"
     "\n"
     "Reads the SQLite ledger (ledger.path), newest first.\n"
     "  -c, --config FILE  configuration file\n"
     "  --outcome O        ok, failed, retried, dead, timeout, crashed or cancelled\n"
     "  --type T           only jobs of this type\n"
     "  --since DUR        only jobs finished within DUR (\"1h\")\n"
     "  --limit N          at most N rows (default 50)\n"
     "  --json             one JSON object per line\n",
     fp_cmd_jobs},
    {"schedule", "list the periodic jobs ([[schedule]]) with their last and next run",
     "usage: forkpool schedule list [-c FILE] [--json]\n"
     "\n"
     "Lists each [[schedule]] of the configuration: name, expression (cron or every),\n"
     "time zone, queue, the last tick fired (recorded in Redis, or in the embedded queue's\n"
     "file, by whichever daemon fired it; \"never\" when none) and the next tick from\n"
     "now, both in UTC.\n"
     "  -c, --config FILE  configuration file\n"
     "  --json             one JSON object per line: name, cron or every, timezone,\n"
     "                     queue, type, missed, last_ms, last, next_ms, next\n",
     fp_cmd_schedule},
    {"check-config", "validate the configuration and show the effective values",
     "usage: forkpool check-config [-c FILE] [--print-json] [--show-secrets]\n"
     "\n"
     "Loads the configuration exactly as 'run' would and reports the first error as\n"
     "FILE:LINE:COL: reason (exit 78), or a summary (exit 0).\n"
     "  -c, --config FILE  configuration file\n"
     "  --print-json       print every key's effective value as JSON; the Redis URL's\n"
     "                     user info and plugin keys named like password, token, secret,\n"
     "                     key or dsn (also api_key...) print as ***\n"
     "  --show-secrets     print those values as written (for the owner, not for tickets)\n",
     fp_cmd_check_config},
    {"version", "print the version",
     "usage: forkpool version\n",
     fp_cmd_version},
    {NULL, NULL, NULL, NULL},
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: forkpool COMMAND [OPTIONS]\n\n"
                 "forkpool runs jobs from Redis Streams on a pool of pre-forked, reused children.\n\n"
                 "Commands:\n");
    for (const fp_cmd_t *c = fp_cmd_table; c->name != NULL; c++)
        fprintf(out, "  %-13s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'forkpool COMMAND --help' for a command's options.\n");
}

static const fp_cmd_t *find_command(const char *name)
{
    for (const fp_cmd_t *c = fp_cmd_table; c->name != NULL; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

static int exit_status(int code)
{
    switch (code) {
    case 0: return 0;
    case FP_EUSAGE: return EXIT_USAGE;
    case FP_ECONFIG:
    case FP_ETOML: return EXIT_CONFIG;
    case FP_EREDIS: return EXIT_UNAVAILABLE;
    case FP_EBADSTORE: return EXIT_CONFIG; /* a queue file refused: foreign, damaged or newer */
    default: return 1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        const fp_cmd_t *c = argc > 2 ? find_command(argv[2]) : NULL;
        if (c != NULL)
            fputs(c->usage, stdout);
        else
            print_usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0)
        name = "version";
    const fp_cmd_t *cmd = find_command(name);
    if (cmd == NULL) {
        fprintf(stderr, "forkpool: unknown command '%s'\n", name);
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (wants_help(argc - 1, argv + 1)) {
        fputs(cmd->usage, stdout);
        return 0;
    }
    fp_err_t err;
    fp_err_clear(&err);
    int rc = cmd->run(argc - 1, argv + 1, &err);
    if (rc < 0) {
        bool cut = strlen(err.msg) + 1 >= sizeof err.msg;
        fp_log_redact(err.msg);
        if (cut)
            fp_log_redact_cut(err.msg);
        const char *msg = err.msg[0] != '\0' ? err.msg : fp_strerror(rc);
        /* Configuration errors are "FILE:LINE:COL: reason" alone, the form
         * editors and CI annotations jump to. */
        if (rc == FP_ECONFIG || rc == FP_ETOML)
            fprintf(stderr, "%s\n", msg);
        else
            fprintf(stderr, "forkpool %s: %s\n", cmd->name, msg);
        if (rc == FP_EUSAGE)
            fprintf(stderr, "%s", cmd->usage);
    }
    return exit_status(rc);
}
