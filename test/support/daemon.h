/* daemon.h: the fixture for integration tests that run "a real Redis + the
 * real binary + a config" (fp_td_*), the one header such a test includes: a
 * temp dir with a config, the log, an events database, cmocka
 * setup/teardown, starting the daemon (and a twin of it) and waiting until
 * it is ready, enqueueing in bulk, reading what happened (Redis, the log,
 * SQLite, /proc, the health endpoint's /metrics and /stats), and the common
 * conditions to wait for. Every wait ends in an assertion: fp_td_wait_until
 * fails the test, with the log's tail, when its condition never held. */
#ifndef FP_TEST_DAEMON_H
#define FP_TEST_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"
#include "redis_server.h"

#define FP_TD_JOBS "fp:{default}:jobs"
#define FP_TD_DEAD "fp:{default}:dead"
#define FP_TD_DELAYED "fp:{default}:delayed"

typedef struct fp_td_s {
    fp_th_redis_t redis;
    char *dir;
    char config[4096];
    char log[4096];
    char events_db[4096];
    int pid; /* the running daemon, 0 when none */
    int health_port; /* its health endpoint on 127.0.0.1, 0 when off */
} fp_td_t;

/* Starts Redis (with --appendonly yes when asked, for tests that restart
 * it), makes the temp dir and picks the health port (a free one, as Redis'
 * is picked). Fails the test on error. */
fp_td_t *fp_td_new(bool appendonly);
/* The temp dir, the paths in it and the health port of a new td (fp_td_new
 * does it after starting Redis). */
void fp_td_init_dir(fp_td_t *td);
/* Kills a daemon still running, checks its log for sanitizer reports, stops
 * Redis and removes the temp dir. */
void fp_td_free(fp_td_t *td);

/* cmocka setup (Redis without and with appendonly) and teardown: *state is
 * the fp_td_t. */
int fp_td_setup(void **state);
int fp_td_setup_aof(void **state);
int fp_td_teardown(void **state);

/* Writes the config: a base (name "test-consumer", Redis URL, the health
 * endpoint on 127.0.0.1:health_port, record_event into events_db);
 * daemon_lines go
 * inside its [daemon] table ("log_level = \"debug\"\n"), extra is appended
 * as whole sections ("[pool]\nchildren = 4\n"). Either may be NULL. */
void fp_td_config(fp_td_t *td, const char *daemon_lines, const char *extra);

/* Enqueues count jobs made by fmt with the job's number given twice
 * (printf's %d %d), pipelined. */
void fp_td_enqueue(fp_td_t *td, int count, const char *fmt)
    __attribute__((format(printf, 3, 0)));
void fp_td_enqueue_raw(fp_td_t *td, const char *payload, size_t len);

/* Rewrites the config file: the first `from` becomes `to` (a test's own
 * edit before a reload or a start); fails the test when from is not there. */
void fp_td_config_replace(fp_td_t *td, const char *from, const char *to);

/* The TOML value of pool.command running test/data/exec_worker.py with
 * python3, with arg after it when not NULL:
 * ["python3", "SRC/test/data/exec_worker.py", "arg"]. */
void fp_td_exec_worker_command(char *buf, size_t size, const char *arg);

/* A second daemon on the same Redis, in the same temp dir: td's config
 * under consumer name `name` (td's own when NULL) in twin.toml, with a
 * health port of its own, its log in twin.log. It shares td's Redis and
 * dir: never fp_td_free it; the test waits for it or kills it. */
void fp_td_twin(const fp_td_t *td, fp_td_t *twin, const char *name);

/* Starts `forkpool run -c CONFIG [--burst]`; its output goes to td->log. */
void fp_td_start(fp_td_t *td, bool burst);
/* Starts it (not in burst mode) and waits until every child is ready, and,
 * when connected is true, until Redis is connected too, so jobs enqueued
 * next start at once on idle children. The daemon's /stats says so (with the
 * health endpoint off, only its log does). Fails the test, with the log's
 * tail, if the daemon exits first or is not ready within a minute; a start
 * that failed only because the health port was taken meanwhile is retried
 * on another port. */
void fp_td_start_ready(fp_td_t *td, bool connected);
/* The same wait for a daemon the test started itself (fp_td_start). */
void fp_td_wait_ready(fp_td_t *td, bool connected);
/* Stops Redis and waits until the daemon says it is disconnected, starts it
 * again and waits until the daemon is connected again (both by
 * forkpool_redis_connected: needs the health endpoint). */
void fp_td_redis_restart(fp_td_t *td);
/* Waits for the daemon's exit (failing the test after timeout_ms, with its
 * log) and returns its exit status. */
int fp_td_wait(fp_td_t *td, int timeout_ms);
void fp_td_signal(fp_td_t *td, int signum);
/* Runs the daemon (not in burst mode) until the default queue's stream is
 * empty and nothing is pending, then stops it with TERM and asserts exit 0.
 * For tests whose retries wait far ahead in the delayed set, which a --burst
 * run would wait out. */
void fp_td_run_until_settled(fp_td_t *td);

/* Occurrences of needle in the log. */
long long fp_td_log_count(const fp_td_t *td, const char *needle);
/* N from the daemon's last "stopped: N jobs done" line, -1 if none. */
long long fp_td_jobs_done(const fp_td_t *td);
/* The largest number following "held=" in the log, -1 if none. */
long long fp_td_max_held(const fp_td_t *td);

long long fp_td_xlen(fp_td_t *td, const char *key);
long long fp_td_zcard(fp_td_t *td, const char *key);
long long fp_td_pending(fp_td_t *td);
/* Ready + pending entries, delayed jobs: read in one script, so a job the
 * mover takes from delayed to the stream between two reads is not missed. */
long long fp_td_unsettled(fp_td_t *td);
/* count(*)-style query on the events database. */
long long fp_td_sql(const fp_td_t *td, const char *sql);
/* The same on another database file (a ledger), the query made by printf. */
long long fp_td_sql_at(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Whether some dead entry's field `field` contains needle. */
bool fp_td_dead_has(fp_td_t *td, const char *field, const char *needle);

/* Polls cond until true or timeout_ms; fails the test (with the log) if not. */
/* Fails the test with why and the end of td's log. */
void fp_td_fail_with_log(const fp_td_t *td, const char *why);

void fp_td_wait_until(fp_td_t *td, bool (*cond)(fp_td_t *td, void *arg), void *arg,
                      int timeout_ms, const char *what);

/* Conditions for fp_td_wait_until: the log mentions arg (a string); the
 * group's pending count equals *arg (a long long). */
bool fp_td_log_has(fp_td_t *td, void *arg);
/* The log mentions needle at least n times. */
typedef struct fp_td_log_n_s {
    const char *needle;
    long long n;
} fp_td_log_n_t;
bool fp_td_log_at_least(fp_td_t *td, void *arg);
bool fp_td_pending_is(fp_td_t *td, void *arg);
/* Every job was taken and settled: the default stream is empty and nothing
 * is pending (arg unused). */
bool fp_td_drained(fp_td_t *td, void *arg);
/* Members of the delayed set that contain needle. */
long long fp_td_delayed_count(fp_td_t *td, const char *needle);

/* The dead stream has, the delayed set holds, exactly *arg (a long long). */
bool fp_td_dead_is(fp_td_t *td, void *arg);
bool fp_td_delayed_is(fp_td_t *td, void *arg);
/* The key arg (a string) exists in Redis. */
bool fp_td_redis_has(fp_td_t *td, void *arg);
/* The events table (record_event's) has at least *arg rows (a long long). */
bool fp_td_events_at_least(fp_td_t *td, void *arg);
/* A file (not the daemon's own log: daemon.log_file) mentions needle. */
typedef struct fp_td_file_has_s {
    const char *path;
    const char *needle;
} fp_td_file_has_t;
bool fp_td_file_has(fp_td_t *td, void *arg);
/* After a run of `children` children with max_jobs_per_child: at least
 * min_retired replacements, each forked exactly one new child, nothing was
 * killed and nothing went dead. Returns the number of replacements. */
long long fp_td_assert_recycled(fp_td_t *td, int children, long long min_retired);

/* SIGKILLs one of the daemon's children picked with rand(); whether one
 * was there to kill. */
bool fp_td_kill_random_child(fp_td_t *td);
/* Lets time pass, for what must last with nothing to wait for: the pause
 * between two kills of a fault schedule (they are meant to land at
 * arbitrary moments, at a rate the daemon's recovery does not set; that it
 * recovers is asserted by the wait after), or an outage. */
void fp_td_let_time_pass(int ms);

/* The daemon has *arg (an int) children right now, per /proc. */
bool fp_td_children_are(fp_td_t *td, void *arg);

/* Waits until the supervisor holds n jobs, as /stats' counters.jobs_held
 * says (needs the health endpoint). The supervisor counts them in
 * the callback that hands pulled jobs to idle children, and answers /stats
 * on the same loop, so with prefetch 0 they are running once it says n.
 * Pending in Redis comes earlier, while the reply is still on its way: a
 * TERM then would put the jobs back. */
void fp_td_wait_held(fp_td_t *td, int n);

/* The health endpoint, on by default. fp_td_health_off rewrites the config
 * that fp_td_config wrote (and later ones) without it, for a test that must
 * run without it; fp_td_health_port is td->health_port (0 when off). */
void fp_td_health_off(fp_td_t *td);
int fp_td_health_port(const fp_td_t *td);
/* A blocking TCP connection to 127.0.0.1:port, or -1. */
int fp_td_connect(int port);
/* One GET on a fresh connection: the status, and the body (free()) when body
 * is not NULL. */
int fp_td_http_get(int port, const char *path, char **body);
/* Any request: headers are extra lines, each ending "\r\n" (may be NULL);
 * head (the status line and headers) and body are owned copies when not
 * NULL. */
int fp_td_http(int port, const char *method, const char *path, const char *headers, char **head,
               char **body);
/* Condition for fp_td_wait_until: GET /readyz answers status. */
typedef struct fp_td_ready_s {
    int port;
    int status;
} fp_td_ready_t;
bool fp_td_readyz_is(fp_td_t *td, void *arg);
/* Condition: GET path answers a body that contains needle. */
typedef struct fp_td_page_s {
    const char *path;   /* "/stats", "/readyz", "/metrics" */
    const char *needle; /* "\"state\":\"quiet\"" */
} fp_td_page_t;
bool fp_td_page_has(fp_td_t *td, void *arg);
/* The value of the /metrics sample named name (with its labels, as
 * "forkpool_children{state=\"idle\"}"), or -1 when there is none. */
double fp_td_metric(fp_td_t *td, const char *name);
/* The number at path in the /stats document ("counters.jobs_held",
 * "reload.generation"; a boolean is 0 or 1), or -1 when it is not there. */
double fp_td_stat(fp_td_t *td, const char *path);
/* Conditions on them: a metric (fp_td_metric_*) or a /stats number
 * (fp_td_stat_*) equals, or is at least, value. */
typedef struct fp_td_num_s {
    const char *name; /* the metric, or the /stats path */
    double value;
} fp_td_num_t;
bool fp_td_metric_is(fp_td_t *td, void *arg);
bool fp_td_metric_at_least(fp_td_t *td, void *arg);
bool fp_td_stat_is(fp_td_t *td, void *arg);
bool fp_td_stat_at_least(fp_td_t *td, void *arg);

#endif
