/* test_child.c: lib/pool/child.c — a real native child driven over its dispatch
 * socket the way the supervisor drives it: ready, a thousand jobs through one
 * pid, every built-in's outcome, unknown types, malformed and overlong lines
 * (the child logs them and keeps answering), results that are not JSON,
 * "stop" and EOF (exit 0, child_fini run), and a failing child_init (exit
 * 78). Children are made by fp_spawn; every test reaps what it started and
 * deadlines only keep a broken build from hanging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel.h"
#include "pool/child.h"
#include "base/log.h"
#include "handlers/handlers.h"
#include "harness.h"
#include "pool/spawn.h"

/* ---- test-only handlers -------------------------------------------------- */

/* Where the marker handler's child_fini writes; set before spawning, so the
 * child inherits it. */
static char g_marker_path[4096];

static int marker_init(const fp_toml_node_t *table, void **state, fp_err_t *err)
{
    *state = strdup(g_marker_path);
    return *state != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
}

static void marker_fini(void *state)
{
    fp_th_write_file(state, "fini\n", 5);
    free(state);
}

static void run_nothing(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
}

static int broken_init(const fp_toml_node_t *table, void **state, fp_err_t *err)
{
    return fp_err_set(err, FP_ECONFIG, "cannot reach the test database");
}

/* Returns what args.text says, as the raw result text. */
static void run_raw(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(args, "text");
    res->result_json = strdup(cJSON_IsString(text) ? text->valuestring : "");
}

/* Returns the whole job it was given, to show run sees all of it. */
static void run_whole(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
    char *text = cJSON_PrintUnformatted(job);
    res->result_json = strdup(text);
    cJSON_free(text);
}

/* Fails without touching retry: the default must be "retry". */
static void run_fail_plain(void *state, const cJSON *job, const cJSON *args,
                           fp_handler_result_t *res)
{
    res->ok = false;
    snprintf(res->error, sizeof res->error, "plain failure");
}

static const fp_handler_t handler_marker = {"marker", marker_init, run_nothing, marker_fini};
static const fp_handler_t handler_broken = {"broken", broken_init, run_nothing, NULL};
static const fp_handler_t handler_raw = {"raw", NULL, run_raw, NULL};
static const fp_handler_t handler_whole = {"whole", NULL, run_whole, NULL};
static const fp_handler_t handler_fail_plain = {"fail_plain", NULL, run_fail_plain, NULL};

/* ---- fixture ------------------------------------------------------------- */

typedef struct fixture_s {
    fp_tc_spawner_t sp;
    pid_t pid;
    fp_tc_chan_t ch;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    fp_tc_spawner_init(&f->sp, 7);
    /* The built-ins but record_event (test_handlers.c covers it: it would
     * open ./events.db in every child here). */
    fp_registry_t builtin;
    fp_registry_init_builtin(&builtin);
    const char *names[] = {"noop", "sleep", "echo", "fail"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(fp_registry_add(&f->sp.reg, fp_registry_find(&builtin, names[i]), NULL), 0);
    const fp_handler_t *extra[] = {&handler_marker, &handler_raw, &handler_whole,
                                   &handler_fail_plain};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(fp_registry_add(&f->sp.reg, extra[i], NULL), 0);
    snprintf(g_marker_path, sizeof g_marker_path, "%s/fini-ran", f->sp.dir);
    assert_int_equal(fp_log_setup(FP_LOG_INFO, FP_LOG_TEXT, f->sp.log_path), 0);
    f->pid = -1;
    f->ch.fd = -1;
    *state = f;
    return 0;
}

/* Stops and reaps a child a failed test left behind (an unreaped pid cannot
 * have been reused), and fails if a passing test forgot one. */
static int teardown(void **state)
{
    fixture_t *f = *state;
    int rc = 0;
    if (f->pid > 0 && waitpid(f->pid, NULL, WNOHANG) == 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
        rc = -1;
    }
    fp_tc_close(&f->ch);
    fp_log_close();
    fp_tc_spawner_free(&f->sp);
    free(f);
    if (!fp_tc_no_children_left())
        rc = -1;
    return rc;
}

static void start_child(fixture_t *f)
{
    fp_err_t err;
    int fd;
    int rc = fp_spawn(&f->sp.spec, &f->pid, &fd, &err);
    if (rc != 0)
        fail_msg("fp_spawn: %s", err.msg);
    f->ch.fd = fd;
}

static void send_job(fixture_t *f, unsigned seq, const char *job_json)
{
    char head[128];
    snprintf(head, sizeof head, "{\"op\":\"job\",\"seq\":%u,\"attempt\":1,\"job\":", seq);
    fp_tc_write(&f->ch, head);
    fp_tc_write(&f->ch, job_json);
    fp_tc_write(&f->ch, "}\n");
}

/* Reads one done line for seq; the caller deletes it. */
static cJSON *expect_done(fixture_t *f, unsigned seq)
{
    cJSON *o = fp_tc_read_json(&f->ch);
    assert_string_equal(cJSON_GetObjectItem(o, "op")->valuestring, "done");
    assert_int_equal((unsigned)cJSON_GetObjectItem(o, "seq")->valuedouble, seq);
    const cJSON *rss = cJSON_GetObjectItem(o, "rss_kb");
    assert_true(cJSON_IsNumber(rss) && rss->valuedouble > 0);
    return o;
}

static char *result_text(const cJSON *done)
{
    const cJSON *r = cJSON_GetObjectItem(done, "result");
    return r != NULL ? cJSON_PrintUnformatted(r) : NULL;
}

static void stop_child(fixture_t *f)
{
    fp_tc_write(&f->ch, "{\"op\":\"stop\"}\n");
    fp_tc_expect_exit(f->pid, 0);
}

static bool file_contains(const char *path, const char *needle)
{
    char *text = fp_th_read_file(path, NULL);
    bool found = text != NULL && strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* ---- tests --------------------------------------------------------------- */

static void test_thousand_jobs_through_one_child(void **state)
{
    fixture_t *f = *state;
    start_child(f);
    fp_tc_expect_ready(&f->ch, f->pid);
    for (unsigned seq = 1; seq <= 1000; seq++) {
        char job[128];
        if (seq % 2 == 0)
            snprintf(job, sizeof job, "{\"type\":\"echo\",\"args\":{\"n\":%u}}", seq);
        else
            snprintf(job, sizeof job, "{\"type\":\"noop\"}");
        send_job(f, seq, job);
        cJSON *done = expect_done(f, seq);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(done, "ok")));
        if (seq % 2 == 0) {
            const cJSON *n = cJSON_GetObjectItem(cJSON_GetObjectItem(done, "result"), "n");
            assert_int_equal((unsigned)n->valuedouble, seq);
        }
        cJSON_Delete(done);
    }
    /* Still the same process: it answered every job and exits on stop. */
    assert_int_equal(kill(f->pid, 0), 0);
    stop_child(f);
}

typedef struct outcome_s {
    const char *job;
    bool ok;
    const char *result; /* JSON text, NULL = no "result" member */
    const char *error;  /* substring, when !ok */
    bool retry;
} outcome_t;

static const outcome_t outcomes[] = {
    {"{\"type\":\"noop\"}", true, NULL, NULL, false},
    {"{\"type\":\"noop\",\"args\":[1,2,3]}", true, NULL, NULL, false},
    {"{\"type\":\"sleep\",\"args\":{\"ms\":1}}", true, NULL, NULL, false},
    {"{\"type\":\"sleep\",\"args\":{\"ms\":0}}", true, NULL, NULL, false},
    {"{\"type\":\"sleep\",\"args\":{\"ms\":-1}}", false, NULL, "args.ms", false},
    {"{\"type\":\"sleep\",\"args\":{\"ms\":1.5}}", false, NULL, "args.ms", false},
    {"{\"type\":\"sleep\",\"args\":{\"ms\":\"5\"}}", false, NULL, "args.ms", false},
    {"{\"type\":\"sleep\",\"args\":{\"ms\":86400001}}", false, NULL, "args.ms", false},
    {"{\"type\":\"sleep\"}", false, NULL, "args.ms", false},
    {"{\"type\":\"echo\",\"args\":{\"a\":[1,\"x\",null],\"b\":{\"c\":true}}}", true,
     "{\"a\":[1,\"x\",null],\"b\":{\"c\":true}}", NULL, false},
    {"{\"type\":\"echo\",\"args\":\"text with \\\"quotes\\\" and \\n newline\"}", true,
     "\"text with \\\"quotes\\\" and \\n newline\"", NULL, false},
    {"{\"type\":\"echo\"}", true, "null", NULL, false},
    {"{\"type\":\"fail\"}", false, NULL, "failed on purpose", true},
    {"{\"type\":\"fail\",\"args\":{\"message\":\"boom\"}}", false, NULL, "boom", true},
    {"{\"type\":\"fail\",\"args\":{\"message\":\"final\",\"retry\":false}}", false, NULL, "final",
     false},
    {"{\"type\":\"fail\",\"args\":{\"retry\":true}}", false, NULL, "failed on purpose", true},
    {"{\"type\":\"fail_plain\"}", false, NULL, "plain failure", true},
    {"{\"type\":\"nope\"}", false, NULL, "unknown job type \"nope\"", false},
    {"{\"type\":\"\"}", false, NULL, "no \"type\"", false},
    {"{\"args\":{}}", false, NULL, "no \"type\"", false},
    {"{\"type\":\"raw\",\"args\":{\"text\":\"{not json\"}}", false, NULL, "not JSON", false},
    {"{\"type\":\"raw\",\"args\":{\"text\":\"{\\n  \\\"pretty\\\": 1\\r\\n}\"}}", true,
     "{\"pretty\":1}", NULL, false},
    {"{\"type\":\"whole\",\"id\":\"j-1\",\"args\":5}", true,
     "{\"type\":\"whole\",\"id\":\"j-1\",\"args\":5}", NULL, false},
};

static void test_builtin_and_error_outcomes(void **state)
{
    fixture_t *f = *state;
    start_child(f);
    fp_tc_expect_ready(&f->ch, f->pid);
    for (unsigned i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
        const outcome_t *o = &outcomes[i];
        send_job(f, 100 + i, o->job);
        cJSON *done = expect_done(f, 100 + i);
        const cJSON *ok = cJSON_GetObjectItem(done, "ok");
        if (cJSON_IsTrue(ok) != o->ok)
            fail_msg("%s: ok is %d", o->job, cJSON_IsTrue(ok));
        char *result = result_text(done);
        if (o->result == NULL)
            assert_null(result);
        else if (result == NULL || strcmp(result, o->result) != 0)
            fail_msg("%s: result %s, want %s", o->job, result ? result : "(none)", o->result);
        cJSON_free(result);
        if (!o->ok) {
            const cJSON *error = cJSON_GetObjectItem(done, "error");
            assert_true(cJSON_IsString(error));
            if (strstr(error->valuestring, o->error) == NULL)
                fail_msg("%s: error \"%s\" lacks \"%s\"", o->job, error->valuestring, o->error);
            assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(done, "retry")), o->retry);
        }
        cJSON_Delete(done);
    }
    stop_child(f);
}

/* Garbage, unknown ops, messages the supervisor never sends, an overlong line
 * (split across writes, and one followed by a job in the same write): each is
 * logged and skipped; the next job is answered and nothing else is. */
static void test_bad_lines_are_skipped(void **state)
{
    fixture_t *f = *state;
    f->sp.cfg.limits.max_job_bytes = 1024; /* lines up to 1024 + 4096 bytes */
    start_child(f);
    fp_tc_expect_ready(&f->ch, f->pid);
    fp_tc_write(&f->ch, "not json\n");
    fp_tc_write(&f->ch, "\n");
    fp_tc_write(&f->ch, "[1,2]\n");
    fp_tc_write(&f->ch, "{\"op\":\"dance\"}\n");
    fp_tc_write(&f->ch, "{\"op\":\"job\",\"seq\":1}\n");
    fp_tc_write(&f->ch, "{\"op\":\"ready\",\"pid\":1}\n");
    send_job(f, 1, "{\"type\":\"noop\"}");
    cJSON *done = expect_done(f, 1);
    cJSON_Delete(done);

    size_t big = 64 * 1024;
    char *line = malloc(big + 64);
    memset(line, 'x', big);
    fp_tc_write_n(&f->ch, line, big / 2);
    fp_tc_write_n(&f->ch, line, big / 2);
    int n = snprintf(line, 64, "\n{\"op\":\"job\",\"seq\":2,\"attempt\":1,\"job\":{\"type\":\"noop\"}}\n");
    fp_tc_write_n(&f->ch, line, (size_t)n);
    done = expect_done(f, 2);
    cJSON_Delete(done);

    /* An overlong job line, newline included, then a good one. */
    const char *head = "{\"op\":\"job\",\"seq\":3,\"attempt\":1,\"job\":{\"type\":\"echo\",\"args\":\"";
    memcpy(line, head, strlen(head));
    memset(line + strlen(head), 'y', big - strlen(head));
    fp_tc_write_n(&f->ch, line, big);
    fp_tc_write(&f->ch, "\"}}\n");
    send_job(f, 4, "{\"type\":\"echo\",\"args\":\"small\"}");
    done = expect_done(f, 4);
    char *result = result_text(done);
    assert_string_equal(result, "\"small\"");
    cJSON_free(result);
    cJSON_Delete(done);
    free(line);

    stop_child(f);
    /* No answer to any bad line: the next thing after seq 4 was EOF. */
    assert_null(fp_tc_read_line(&f->ch));
    assert_true(file_contains(f->sp.log_path, "child 7: discarded a malformed channel line"));
    assert_true(file_contains(f->sp.log_path, "child 7: discarded a channel line longer than 5120"));
}

static void test_stop_runs_fini_and_exits_zero(void **state)
{
    fixture_t *f = *state;
    start_child(f);
    fp_tc_expect_ready(&f->ch, f->pid);
    /* A job, stop, and a job after it, in one write: the last is not run. */
    fp_tc_write(&f->ch,
               "{\"op\":\"job\",\"seq\":1,\"attempt\":1,\"job\":{\"type\":\"noop\"}}\n"
               "{\"op\":\"stop\"}\n"
               "{\"op\":\"job\",\"seq\":2,\"attempt\":1,\"job\":{\"type\":\"noop\"}}\n");
    cJSON *done = expect_done(f, 1);
    cJSON_Delete(done);
    fp_tc_expect_exit(f->pid, 0);
    assert_null(fp_tc_read_line(&f->ch));
    assert_true(file_contains(g_marker_path, "fini"));
}

static void test_eof_runs_fini_and_exits_zero(void **state)
{
    fixture_t *f = *state;
    start_child(f);
    fp_tc_expect_ready(&f->ch, f->pid);
    send_job(f, 1, "{\"type\":\"noop\"}");
    cJSON *done = expect_done(f, 1);
    cJSON_Delete(done);
    fp_tc_close(&f->ch); /* the supervisor is gone */
    fp_tc_expect_exit(f->pid, 0);
    assert_true(file_contains(g_marker_path, "fini"));
}

static void test_child_init_failure_exits_78(void **state)
{
    fixture_t *f = *state;
    fp_registry_t reg;
    memset(&reg, 0, sizeof reg);
    assert_int_equal(fp_registry_add(&reg, &handler_marker, NULL), 0);
    assert_int_equal(fp_registry_add(&reg, &handler_broken, NULL), 0);
    f->sp.spec.handlers = &reg;
    start_child(f);
    /* No ready: the channel just closes. */
    assert_null(fp_tc_read_line(&f->ch));
    fp_tc_expect_exit(f->pid, FP_CHILD_EXIT_INIT_FAILED);
    assert_true(file_contains(
        f->sp.log_path,
        "child 7: child_init of handler \"broken\" failed: cannot reach the test database"));
    /* What was initialised before the failure was cleaned up. */
    assert_true(file_contains(g_marker_path, "fini"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_thousand_jobs_through_one_child, setup, teardown),
        cmocka_unit_test_setup_teardown(test_builtin_and_error_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_lines_are_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_runs_fini_and_exits_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_runs_fini_and_exits_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_init_failure_exits_78, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
