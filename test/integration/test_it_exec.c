/* test_it_exec.c: the exec runtime (pool.runtime = "exec") with a Python
 * worker on scripts/forkpool_worker.py (test/data/exec_worker.py): the same
 * behaviours as native children — reuse, timeouts, crash recovery,
 * recycling — and the bad inputs of an exec command: not found, exiting at
 * once, garbage, a wrong seq or an overlong line on fd 3, no answer, and a
 * program that disappears (or loses its x bit) after start-up and comes
 * back. Real redis-server, real forkpool binary, Debian's python3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"

/* Writes the config: the exec runtime running exec_worker.py (with
 * worker_arg after it when not NULL), then pool_lines and extra. */
static void exec_config_daemon(fp_td_t *td, const char *daemon_lines, const char *worker_arg,
                               const char *pool_lines, const char *extra);

static void exec_config(fp_td_t *td, const char *worker_arg, const char *pool_lines,
                        const char *extra)
{
    exec_config_daemon(td, "log_level = \"debug\"\n", worker_arg, pool_lines, extra);
}

/* The same with daemon_lines in [daemon]. */
static void exec_config_daemon(fp_td_t *td, const char *daemon_lines, const char *worker_arg,
                               const char *pool_lines, const char *extra)
{
    char command[4300], text[8192];
    fp_td_exec_worker_command(command, sizeof command, worker_arg);
    snprintf(text, sizeof text,
             "[pool]\nruntime = \"exec\"\ncommand = %s\nkill_grace = \"200ms\"\n%s"
             "[retry]\nbackoff_base = \"1h\"\nbackoff_max = \"2h\"\n%s",
             command, pool_lines ? pool_lines : "", extra ? extra : "");
    fp_td_config(td, daemon_lines, text);
}

/* Retries wait an hour in the delayed set, which --burst would wait out. */
static void run_burst(fp_td_t *td)
{
    fp_td_run_until_settled(td);
}

/* Whether every member of the delayed set contains needle, and there are n. */
static bool delayed_all_have(fp_td_t *td, long long n, const char *needle)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "ZRANGE %s 0 -1", FP_TD_DELAYED);
    assert_non_null(r);
    bool ok = (long long)r->elements == n;
    for (size_t i = 0; ok && i < r->elements; i++)
        ok = strstr(r->element[i]->str, needle) != NULL;
    if (!ok)
        for (size_t i = 0; i < r->elements; i++)
            fprintf(stderr, "delayed: %s\n", r->element[i]->str);
    freeReplyObject(r);
    return ok;
}

/* 500 jobs through 2 workers: each started once and reused. */
static void test_exec_reuses_two_workers(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 2\n", NULL);
    fp_td_enqueue(td, 500, "{\"type\":\"echo\",\"id\":\"e%d\",\"args\":{\"n\":%d}}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 500);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 2);
    assert_int_equal(fp_td_log_count(td, "started: 2 exec children"), 1);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_pending(td), 0);
}

/* A handler's exception is a retryable failure, Permanent and an unknown
 * type fail for good. */
static void test_exec_failures_follow_the_retry_rules(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 1\n", NULL);
    fp_td_enqueue(td, 1, "{\"type\":\"fail\",\"args\":{\"message\":\"flaky %d%d\"}}");
    fp_td_enqueue(td, 1, "{\"type\":\"fail\",\"args\":{\"message\":\"bad %d%d\",\"retry\":false}}");
    fp_td_enqueue(td, 1, "{\"type\":\"nosuch\",\"id\":\"n%d%d\"}");
    run_burst(td);
    assert_true(delayed_all_have(td, 1, "RuntimeError: flaky 00"));
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 2);
    assert_true(fp_td_dead_has(td, "error", "bad 00"));
    assert_true(fp_td_dead_has(td, "error", "no handler for job type 'nosuch'"));
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 1);
}

static void test_exec_timeout_terms_the_worker(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 1\n", NULL);
    fp_td_enqueue(td, 1, "{\"type\":\"sleep\",\"args\":{\"ms\":60000},\"timeout\":\"500ms\",\"id\":\"t%d%d\"}");
    fp_td_enqueue(td, 5, "{\"type\":\"echo\",\"id\":\"after%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 5);
    assert_true(delayed_all_have(td, 1, "timeout: still running after 500 ms"));
    assert_int_equal(fp_td_log_count(td, "timed out; sending SIGTERM"), 1);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 2);
}

static void test_exec_crash_is_a_failed_attempt(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 2\n", NULL);
    fp_td_enqueue(td, 10, "{\"type\":\"echo\",\"id\":\"a%d-%d\"}");
    fp_td_enqueue(td, 1, "{\"type\":\"crash\",\"id\":\"poison%d%d\"}");
    fp_td_enqueue(td, 10, "{\"type\":\"echo\",\"id\":\"b%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 20);
    assert_true(delayed_all_have(td, 1, "child crashed: killed by signal 11"));
    assert_true(delayed_all_have(td, 1, "poison00"));
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 3);
    assert_int_equal(fp_td_pending(td), 0);
}

static void test_exec_recycling_by_job_count(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 2\nmax_jobs_per_child = 10\nmax_jobs_jitter = 0\n", NULL);
    /* 10 ms jobs: see test_recycling_by_job_count (test_it_reliability.c). */
    fp_td_enqueue(td, 100, "{\"type\":\"sleep\",\"args\":{\"ms\":10},\"id\":\"r%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 100);
    fp_td_assert_recycled(td, 2, 3);
}

/* rss_kb from the worker's done message drives max_memory_per_child. */
static void test_exec_recycling_by_memory(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 1\nmax_memory_per_child = \"1KB\"\n", NULL);
    fp_td_enqueue(td, 3, "{\"type\":\"echo\",\"id\":\"m%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 3);
    assert_true(fp_td_log_count(td, "is replaced after max_memory_per_child") >= 1);
}

/* rss_kb is the worker's current RSS, not its peak: a job that touched 200 MB
 * and freed it does not get a child under a 100 MB limit recycled. */
static void test_exec_rss_is_current_not_peak(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 1\nmax_memory_per_child = \"100MB\"\n", NULL);
    fp_td_enqueue(td, 1, "{\"type\":\"balloon\",\"args\":{\"mb\":200},\"id\":\"b%d-%d\"}");
    fp_td_enqueue(td, 3, "{\"type\":\"echo\",\"id\":\"after%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 4);
    assert_int_equal(fp_td_log_count(td, "is replaced after max_memory_per_child"), 0);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 1);
}

static void test_exec_command_not_found_is_a_config_error(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL,
                 "[pool]\nruntime = \"exec\"\ncommand = [\"/nonexistent/forkpool-worker\", \"x\"]\n");
    fp_td_start(td, false);
    assert_int_equal(fp_td_wait(td, 30000), 78);
    assert_true(fp_td_log_count(td, "cannot run \"/nonexistent/forkpool-worker\"") >= 1);
    assert_true(fp_td_log_count(td, "No such file or directory") >= 1);
}

/* A worker that exits at once is restarted with growing delay, and the
 * daemon still stops cleanly. */
static void test_exec_worker_exiting_at_once_backs_off(void **state)
{
    fp_td_t *td = *state;
    /* sh, not Python: an interpreter behind a version manager's shim can
     * take a second to start on a loaded machine, and a child that lives a
     * second is not a quick exit. */
    fp_td_config(td, "log_level = \"debug\"\n",
                 "[pool]\nruntime = \"exec\"\nchildren = 1\n"
                 "command = [\"/bin/sh\", \"-c\", \"exit 3\"]\n");
    fp_td_start(td, false);
    /* The delays are the behaviour, and only the log tells them. */
    fp_td_wait_until(td, fp_td_log_has, "next start in 400 ms", 30000, "three restarts");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    /* Reaching 400 ms took three quick exits in a row. */
    assert_true(fp_td_log_count(td, "next start in 100 ms") >= 1);
    assert_true(fp_td_log_count(td, "next start in 200 ms") >= 1);
    assert_true(fp_td_log_count(td, "exited with status 3") >= 3);
}

/* An answer for another seq is logged and ignored; the job, never answered,
 * ends by its timeout, and the daemon goes on with the next job. */
static void test_exec_bad_answers_end_by_timeout(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 1\n", NULL);
    fp_td_enqueue(td, 1, "{\"type\":\"wrongseq\",\"timeout\":\"500ms\",\"id\":\"w%d%d\"}");
    fp_td_enqueue(td, 1, "{\"type\":\"sleep\",\"args\":{\"ms\":60000},\"timeout\":\"500ms\",\"id\":\"s%d%d\"}");
    fp_td_enqueue(td, 3, "{\"type\":\"echo\",\"id\":\"ok%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 3);
    assert_int_equal(fp_td_log_count(td, "answered for job seq 987654321 it does not hold"), 1);
    assert_int_equal(fp_td_log_count(td, "timed out; sending SIGTERM"), 2);
    assert_true(delayed_all_have(td, 2, "timeout: still running after 500 ms"));
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 3);
    assert_int_equal(fp_td_pending(td), 0);
}

/* Garbage, a done line with NaN and an overlong line from a child holding
 * a job each fail that attempt at once with a "protocol:" reason, and the
 * child is replaced. The timeouts are an hour: only the protocol error can
 * end these jobs within the test. */
static void test_exec_protocol_errors_fail_the_attempt(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 1\n", NULL);
    fp_td_enqueue(td, 1, "{\"type\":\"garbage\",\"timeout\":\"1h\",\"id\":\"g%d%d\"}");
    fp_td_enqueue(td, 1, "{\"type\":\"nan\",\"timeout\":\"1h\",\"id\":\"n%d%d\"}");
    fp_td_enqueue(td, 1, "{\"type\":\"longline\",\"timeout\":\"1h\",\"id\":\"l%d%d\"}");
    fp_td_enqueue(td, 3, "{\"type\":\"echo\",\"id\":\"ok%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 3);
    assert_true(delayed_all_have(td, 3, "\"last_error\":\"protocol: "));
    assert_int_equal(fp_td_delayed_count(td, "protocol: message is not JSON"), 2);
    assert_int_equal(fp_td_delayed_count(td, "protocol: a line longer than"), 1);
    assert_int_equal(fp_td_log_count(td, "timed out"), 0);
    assert_int_equal(fp_td_log_count(td, "broke the protocol"), 3);
    assert_true(fp_td_log_count(td, "spawned (pid") >= 4);
    assert_int_equal(fp_td_pending(td), 0);
}

/* With a pipeline, jobs wait in the child's socket behind the one it runs.
 * A protocol error fails the running job's attempt only: the jobs queued
 * behind it never started, so they go to the replacement child without an
 * attempt counted, and the garbage's second bad line blames nobody. */
static void test_exec_protocol_error_requeues_the_jobs_queued_behind(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 1\nprefetch = 4\npipeline = 4\n", NULL);
    fp_td_enqueue(td, 1, "{\"type\":\"garbage\",\"timeout\":\"1h\",\"id\":\"g%d%d\"}");
    fp_td_enqueue(td, 3, "{\"type\":\"echo\",\"id\":\"ok%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 3);
    assert_true(delayed_all_have(td, 1, "g00"));
    assert_int_equal(fp_td_log_count(td, "broke the protocol"), 1);
    assert_int_equal(fp_td_pending(td), 0);
}

/* The Python helper refuses a result JSON cannot carry (NaN) and fails the
 * job with that reason instead of sending a line the daemon cannot read. */
static void test_exec_helper_refuses_nan(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 1\n", NULL);
    fp_td_enqueue(td, 1, "{\"type\":\"nanresult\",\"timeout\":\"1h\",\"id\":\"r%d%d\"}");
    fp_td_enqueue(td, 2, "{\"type\":\"echo\",\"id\":\"ok%d-%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 2);
    assert_true(delayed_all_have(td, 1, "ValueError: Out of range float values are not JSON"));
    assert_int_equal(fp_td_log_count(td, "broke the protocol"), 0);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), 1);
}

/* The worker's stdout and stderr reach the daemon's log with its child id. */
static void test_exec_output_is_logged_with_the_child_id(void **state)
{
    fp_td_t *td = *state;
    exec_config(td, NULL, "children = 1\n", NULL);
    fp_td_enqueue(td, 1, "{\"type\":\"say\",\"args\":{\"text\":\"hello %d%d\"}}");
    run_burst(td);
    assert_int_equal(fp_td_jobs_done(td), 1);
    assert_int_equal(fp_td_log_count(td, "child 0: hello 00"), 1);
    assert_int_equal(fp_td_log_count(td, "child 0: on stderr: hello 00"), 1);
}

/* ---- what the worker inherits -------------------------------------------- */

/* Runs one "env" job with FORKPOOL_REDIS_URL (the test server's, which in
 * production carries the password), FORKPOOL_PROBE and FP_OVERRIDE_T in the
 * daemon's environment. */
static void run_env_job(fp_td_t *td, const char *pool_lines)
{
    char url[256];
    snprintf(url, sizeof url, "%s", fp_th_redis_url(&td->redis));
    exec_config(td, NULL, pool_lines, NULL);
    fp_td_enqueue(td, 1, "{\"type\":\"env\",\"id\":\"env%d%d\"}");
    setenv("FORKPOOL_REDIS_URL", url, 1);
    setenv("FORKPOOL_PROBE", "probe-value", 1);
    setenv("FP_OVERRIDE_T", "inherited", 1);
    run_burst(td);
    unsetenv("FORKPOOL_REDIS_URL");
    unsetenv("FORKPOOL_PROBE");
    unsetenv("FP_OVERRIDE_T");
    assert_int_equal(fp_td_jobs_done(td), 1);
    assert_int_equal(fp_td_log_count(td, "child 0: env: FORKPOOL_FD=3"), 1);
}

static void test_exec_worker_env_is_scrubbed(void **state)
{
    fp_td_t *td = *state;
    run_env_job(td, "children = 1\n");
    assert_int_equal(fp_td_log_count(td, "env: FORKPOOL_REDIS_URL="), 0);
    assert_int_equal(fp_td_log_count(td, "env: FORKPOOL_PROBE="), 0);
    assert_int_equal(fp_td_log_count(td, "child 0: env: FORKPOOL_CHILD_ID=0"), 1);
    assert_int_equal(fp_td_log_count(td, "child 0: env: FP_OVERRIDE_T=inherited"), 1);
}

static void test_exec_worker_env_pass_and_set(void **state)
{
    fp_td_t *td = *state;
    run_env_job(td, "children = 1\nenv_pass = [\"FORKPOOL_PROBE\"]\n"
                    "env = { APP_MODE = \"from config\", FP_OVERRIDE_T = \"set\" }\n");
    assert_int_equal(fp_td_log_count(td, "env: FORKPOOL_REDIS_URL="), 0);
    assert_int_equal(fp_td_log_count(td, "child 0: env: FORKPOOL_PROBE=probe-value"), 1);
    assert_int_equal(fp_td_log_count(td, "child 0: env: APP_MODE=from config"), 1);
    assert_int_equal(fp_td_log_count(td, "child 0: env: FP_OVERRIDE_T=set"), 1);
    assert_int_equal(fp_td_log_count(td, "env: FP_OVERRIDE_T=inherited"), 0);
}

/* ---- log lines cannot be forged ------------------------------------------ */

#define FORGED "2026-01-01T00:00:00.000Z error supervisor: forged"
/* \u000b (VT) is a line break to splitlines, \u2028 to editors and JS. */
#define BREAKS(j) "x\\n" FORGED j "\\r" FORGED j "\\u000b" FORGED j "\\u2028" FORGED

/* A failing job's type and error and a worker's output carry line breaks
 * followed by a line that looks like the daemon's: none starts a line. */
static void expect_no_forged_lines(fp_td_t *td, const char *format)
{
    char daemon_lines[128];
    snprintf(daemon_lines, sizeof daemon_lines, "log_level = \"debug\"\nlog_format = \"%s\"\n",
             format);
    exec_config_daemon(td, daemon_lines, NULL, "children = 1\n", NULL);
    fp_td_enqueue(td, 1, "{\"type\":\"fail\",\"args\":{\"retry\":false,\"message\":\"" BREAKS("")
                         "%d%d\"}}");
    fp_td_enqueue(td, 1, "{\"type\":\"say\",\"args\":{\"text\":\"" BREAKS("") "%d%d\"}}");
    fp_td_enqueue(td, 1, "{\"type\":\"" BREAKS("") "%d%d\"}");
    run_burst(td);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 2);
    assert_true(fp_td_log_count(td, "forged") >= 4);
    char *log = fp_th_read_file(td->log, NULL);
    assert_non_null(log);
    if (fp_th_some_line_starts_with(log, FORGED))
        fail_msg("a forged line in the %s log:\n%s", format, log);
    free(log);
}

static void test_exec_text_log_cannot_be_forged(void **state)
{
    expect_no_forged_lines(*state, "text");
}

static void test_exec_json_log_cannot_be_forged(void **state)
{
    expect_no_forged_lines(*state, "json");
}

/* ---- the program disappears after start-up ------------------------------- */

/* Puts the worker at path with the given mode, atomically (write a temp
 * file, chmod, rename): a respawn racing with the write must see either no
 * file or the whole one, never half a script. */
static void install_worker(const char *path, const char *text, mode_t mode)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    assert_int_equal(fp_th_write_file(tmp, text, strlen(text)), 0);
    assert_int_equal(chmod(tmp, mode), 0);
    assert_int_equal(rename(tmp, path), 0);
}

/* exec_worker.py made a program of its own (a shebang, run directly), so
 * that exec itself fails when the file goes. Caller frees. */
static char *standalone_worker(void)
{
    char src[4096];
    snprintf(src, sizeof src, "%s/test/data/exec_worker.py", fp_th_env("FP_SOURCE_DIR"));
    char *body = fp_th_read_file(src, NULL);
    assert_non_null(body);
    const char *shebang = "#!/usr/bin/env python3\n";
    char *text = malloc(strlen(shebang) + strlen(body) + 1);
    assert_non_null(text);
    strcpy(text, shebang);
    strcat(text, body);
    free(body);
    return text;
}

/* The pid the log gives for "child ID spawned (pid N)", its first time. */
static int spawned_pid(const fp_td_t *td, int id)
{
    char *log = fp_th_read_file(td->log, NULL);
    assert_non_null(log);
    char needle[64];
    snprintf(needle, sizeof needle, "child %d spawned (pid ", id);
    const char *at = strstr(log, needle);
    int pid = at != NULL ? atoi(at + strlen(needle)) : 0;
    free(log);
    assert_true(pid > 0);
    return pid;
}

/* pool.command's program is deleted, then put back without its x bit, then
 * made executable again: each failed respawn is logged with exec's errno
 * message and retried with growing delay while the daemon keeps serving
 * with the other child; once the program is back, child 0 returns and jobs
 * complete. */
static void test_exec_program_gone_after_start_is_retried(void **state)
{
    fp_td_t *td = *state;
    char worker[4200], text[16384];
    snprintf(worker, sizeof worker, "%s/worker.py", td->dir);
    char *program = standalone_worker();
    install_worker(worker, program, 0755);
    /* The copy no longer sits next to scripts/; forkpool_worker comes from
     * PYTHONPATH, which the daemon and its children inherit. */
    char pythonpath[4200];
    snprintf(pythonpath, sizeof pythonpath, "%s/scripts", fp_th_env("FP_SOURCE_DIR"));
    setenv("PYTHONPATH", pythonpath, 1);
    snprintf(text, sizeof text,
             "[pool]\nruntime = \"exec\"\ncommand = [\"%s\"]\nchildren = 2\n"
             "kill_grace = \"200ms\"\n",
             worker);
    fp_td_config(td, "log_level = \"debug\"\n", text);
    fp_td_start_ready(td, true);
    unsetenv("PYTHONPATH");

    assert_int_equal(unlink(worker), 0);
    assert_int_equal(kill(spawned_pid(td, 0), SIGKILL), 0);
    char gone[4400];
    snprintf(gone, sizeof gone,
             "cannot start a child: cannot run \"%s\": No such file or directory", worker);
    /* Each failed respawn is told with exec's errno message: the behaviour. */
    fp_td_log_n_t w = {gone, 2};
    fp_td_wait_until(td, fp_td_log_at_least, &w, 30000, "two failed respawns");
    assert_int_equal(kill(td->pid, 0), 0);
    /* Growing delays, the crash-loop back-off's. */
    fp_td_wait_until(td, fp_td_log_has, "No such file or directory (pool.command, child 0); "
                                         "next start in 200 ms",
                     30000, "the second delay");

    /* The other child keeps serving meanwhile. */
    fp_td_enqueue(td, 5, "{\"type\":\"echo\",\"id\":\"during%d-%d\"}");
    fp_td_wait_until(td, fp_td_drained, NULL, 30000, "the jobs run by child 1");

    install_worker(worker, program, 0644);
    fp_td_wait_until(td, fp_td_log_has, "Permission denied (pool.command, child 0); next start in",
                     30000, "exec's EACCES");
    assert_int_equal(kill(td->pid, 0), 0);

    assert_int_equal(chmod(worker, 0755), 0);
    /* Child 1 never left: two idle children means child 0 is back. */
    fp_td_num_t back = {"forkpool_children{state=\"idle\"}", 2};
    fp_td_wait_until(td, fp_td_metric_is, &back, 60000, "child 0 to come back");
    fp_td_enqueue(td, 20, "{\"type\":\"echo\",\"id\":\"after%d-%d\"}");
    fp_td_wait_until(td, fp_td_drained, NULL, 60000, "the jobs after recovery");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(fp_td_jobs_done(td), 25);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_log_count(td, "child 0 spawned (pid"), 2);
    free(program);
}

/* The exec command that config.example.toml shows, used exactly as written
 * (from the repository's root, as the example's relative path says), runs
 * a job to completion. */
static void test_exec_example_config_command_runs(void **state)
{
    fp_td_t *td = *state;
    const char *src = fp_th_env("FP_SOURCE_DIR");
    char path[4200];
    snprintf(path, sizeof path, "%s/config.example.toml", src);
    size_t len = 0;
    char *example = fp_th_read_file(path, &len);
    assert_non_null(example);
    const char *at = strstr(example, "# Example: command = ");
    assert_non_null(at);
    at += strlen("# Example: ");
    char command[512];
    size_t n = strcspn(at, "\n");
    assert_true(n < sizeof command);
    memcpy(command, at, n);
    command[n] = '\0';
    free(example);
    char text[1024];
    snprintf(text, sizeof text, "[pool]\nruntime = \"exec\"\n%s\nchildren = 1\n", command);
    fp_td_config(td, NULL, text);
    fp_td_enqueue(td, 1, "{\"type\":\"square\",\"args\":{\"n\":12},\"id\":\"sq%d%d\"}");
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(src), 0); /* the daemon inherits it */
    fp_td_start(td, true);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(fp_td_wait(td, 60000), 0);
    assert_int_equal(fp_td_jobs_done(td), 1);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    assert_int_equal(fp_td_zcard(td, FP_TD_DELAYED), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_exec_reuses_two_workers),
        T(test_exec_failures_follow_the_retry_rules),
        T(test_exec_timeout_terms_the_worker),
        T(test_exec_crash_is_a_failed_attempt),
        T(test_exec_recycling_by_job_count),
        T(test_exec_recycling_by_memory),
        T(test_exec_command_not_found_is_a_config_error),
        T(test_exec_rss_is_current_not_peak),
        T(test_exec_worker_exiting_at_once_backs_off),
        T(test_exec_bad_answers_end_by_timeout),
        T(test_exec_protocol_errors_fail_the_attempt),
        T(test_exec_protocol_error_requeues_the_jobs_queued_behind),
        T(test_exec_helper_refuses_nan),
        T(test_exec_example_config_command_runs),
        T(test_exec_output_is_logged_with_the_child_id),
        T(test_exec_worker_env_is_scrubbed),
        T(test_exec_worker_env_pass_and_set),
        T(test_exec_text_log_cannot_be_forged),
        T(test_exec_json_log_cannot_be_forged),
        T(test_exec_program_gone_after_start_is_retried),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
