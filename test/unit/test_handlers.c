/* test_handlers.c: lib/handlers/handlers.c and lib/handlers/handler_record_event.c — the
 * registry (built-ins, duplicates, a full table), each built-in run
 * in-process (no fork), and record_event against a temporary SQLite
 * database: the row's values, WAL mode, rejected args, a busy database, and
 * two processes inserting at the same time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "toml/toml.h"
#include "handlers/handlers.h"
#include "harness.h"

/* ---- running a handler in-process the way child.c does ------------------- */

typedef struct run_s {
    fp_handler_result_t res;
    cJSON *job;
} run_t;

/* Runs handler name (from the built-ins unless h is given) with args_json
 * (NULL = no "args" member). res starts as child.c hands it over. */
static void run_with(const fp_handler_t *h, void *state, const char *args_json, run_t *run)
{
    memset(run, 0, sizeof *run);
    run->job = cJSON_CreateObject();
    cJSON_AddStringToObject(run->job, "type", h->name);
    if (args_json != NULL) {
        cJSON *args = cJSON_Parse(args_json);
        assert_non_null(args);
        cJSON_AddItemToObject(run->job, "args", args);
    }
    run->res.ok = true;
    run->res.retry = true;
    h->run(state, run->job, cJSON_GetObjectItemCaseSensitive(run->job, "args"), &run->res);
}

static void run_free(run_t *run)
{
    free(run->res.result_json);
    cJSON_Delete(run->job);
}

static const fp_handler_t *builtin(const char *name)
{
    static fp_registry_t reg;
    if (reg.count == 0)
        fp_registry_init_builtin(&reg);
    const fp_handler_t *h = fp_registry_find(&reg, name);
    assert_non_null(h);
    return h;
}

static void expect_ok(const char *name, const char *args, const char *result)
{
    run_t run;
    run_with(builtin(name), NULL, args, &run);
    if (!run.res.ok)
        fail_msg("%s %s failed: %s", name, args ? args : "(no args)", run.res.error);
    if (result == NULL)
        assert_null(run.res.result_json);
    else
        assert_string_equal(run.res.result_json, result);
    run_free(&run);
}

static void expect_fail(const char *name, const char *args, const char *error, bool retry)
{
    run_t run;
    run_with(builtin(name), NULL, args, &run);
    assert_false(run.res.ok);
    if (strstr(run.res.error, error) == NULL)
        fail_msg("%s %s: error \"%s\" lacks \"%s\"", name, args ? args : "", run.res.error, error);
    assert_int_equal(run.res.retry, retry);
    assert_null(run.res.result_json);
    run_free(&run);
}

/* ---- registry ------------------------------------------------------------ */

static void run_nothing(void *state, const cJSON *job, const cJSON *args, fp_handler_result_t *res)
{
}

static void test_registry_builtins(void **state)
{
    fp_registry_t reg;
    fp_registry_init_builtin(&reg);
    assert_int_equal(reg.count, 6);
    const char *names[] = {"noop", "sleep", "echo", "fail", "crash", "record_event"};
    for (size_t i = 0; i < 6; i++) {
        const fp_handler_t *h = fp_registry_find(&reg, names[i]);
        assert_non_null(h);
        assert_string_equal(h->name, names[i]);
    }
    assert_ptr_equal(fp_registry_find(&reg, "record_event"), &fp_handler_record_event);
    assert_null(fp_registry_find(&reg, "nope"));
    assert_null(fp_registry_find(&reg, "Echo"));
    assert_null(fp_registry_find(&reg, NULL));
}

static fp_config_t *config_of(const char *text)
{
    fp_config_t *cfg = NULL;
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(fp_config_load_text(text, strlen(text), "t.toml", &cfg, &err), 0);
    return cfg;
}

/* Native: registered handlers and configured tables have labels of their
 * own, anything else is "other" whatever happened to it. */
static void test_label_known_native(void **state)
{
    fp_registry_t reg;
    fp_registry_init_builtin(&reg);
    fp_config_t *cfg = config_of("[handlers.resize]\nwidth = 1\n");
    assert_true(fp_handler_label_known(&reg, cfg, "noop", false, false));
    assert_true(fp_handler_label_known(&reg, cfg, "resize", false, false));
    assert_false(fp_handler_label_known(&reg, cfg, "junk-1", false, false));
    assert_false(fp_handler_label_known(&reg, cfg, "junk-1", true, true));
    assert_false(fp_handler_label_known(&reg, cfg, NULL, true, true));
    fp_config_free(cfg);
}

/* Exec: the supervisor cannot list a worker's handlers, so a type is known
 * once a worker ran it successfully, or when configured. */
static void test_label_known_exec(void **state)
{
    fp_registry_t reg;
    fp_registry_init_builtin(&reg);
    fp_config_t *cfg = config_of("[pool]\nruntime = \"exec\"\ncommand = [\"w\"]\n"
                                 "[handlers.resize]\nwidth = 1\n");
    assert_true(fp_handler_label_known(&reg, cfg, "resize", false, false));
    assert_true(fp_handler_label_known(&reg, cfg, "square", true, false));
    assert_true(fp_handler_label_known(&reg, cfg, "square", false, true));
    assert_false(fp_handler_label_known(&reg, cfg, "junk-1", false, false));
    assert_false(fp_handler_label_known(&reg, cfg, "noop", false, false));
    fp_config_free(cfg);
}

static void test_registry_add_rejects_duplicates_and_overflow(void **state)
{
    fp_registry_t reg;
    fp_registry_init_builtin(&reg);
    fp_err_t err;
    static const fp_handler_t dup = {"echo", NULL, run_nothing, NULL};
    assert_int_equal(fp_registry_add(&reg, &dup, &err), FP_ECONFIG);
    assert_non_null(strstr(err.msg, "\"echo\" is already registered"));
    assert_int_equal(reg.count, 6);
    assert_ptr_not_equal(fp_registry_find(&reg, "echo"), &dup);

    static const fp_handler_t nameless = {"", NULL, run_nothing, NULL};
    static const fp_handler_t no_run = {"no_run", NULL, NULL, NULL};
    assert_int_equal(fp_registry_add(&reg, &nameless, &err), FP_ECONFIG);
    assert_int_equal(fp_registry_add(&reg, &no_run, &err), FP_ECONFIG);
    assert_int_equal(fp_registry_add(&reg, NULL, &err), FP_ECONFIG);

    static char names[FP_REGISTRY_MAX][16];
    static fp_handler_t many[FP_REGISTRY_MAX];
    size_t i = 0;
    while (reg.count < FP_REGISTRY_MAX) {
        snprintf(names[i], sizeof names[i], "h%zu", i);
        many[i] = (fp_handler_t){names[i], NULL, run_nothing, NULL};
        assert_int_equal(fp_registry_add(&reg, &many[i], NULL), 0);
        i++;
    }
    assert_ptr_equal(fp_registry_find(&reg, "h0"), &many[0]);
    assert_ptr_equal(fp_registry_find(&reg, names[i - 1]), &many[i - 1]);
    static const fp_handler_t one_more = {"one_more", NULL, run_nothing, NULL};
    assert_int_equal(fp_registry_add(&reg, &one_more, &err), FP_ECONFIG);
    assert_non_null(strstr(err.msg, "full"));
    assert_int_equal(reg.count, FP_REGISTRY_MAX);
}

/* ---- built-ins ----------------------------------------------------------- */

static void test_noop(void **state)
{
    expect_ok("noop", NULL, NULL);
    expect_ok("noop", "{\"anything\":[1,2]}", NULL);
}

static void test_echo(void **state)
{
    expect_ok("echo", NULL, "null");
    expect_ok("echo", "null", "null");
    expect_ok("echo", "{\"a\": [1, \"two\", {\"b\": null}]}", "{\"a\":[1,\"two\",{\"b\":null}]}");
    expect_ok("echo", "\"line\\nbreak \\\"q\\\"\"", "\"line\\nbreak \\\"q\\\"\"");
    expect_ok("echo", "42", "42");
}

static void test_fail(void **state)
{
    expect_fail("fail", NULL, "failed on purpose", true);
    expect_fail("fail", "{}", "failed on purpose", true);
    expect_fail("fail", "[1]", "failed on purpose", true);
    expect_fail("fail", "{\"message\":\"disk on fire\"}", "disk on fire", true);
    expect_fail("fail", "{\"message\":\"bad input\",\"retry\":false}", "bad input", false);
    expect_fail("fail", "{\"retry\":true}", "failed on purpose", true);
    expect_fail("fail", "{\"message\":7,\"retry\":\"no\"}", "failed on purpose", true);
}

static void test_sleep_validates_ms(void **state)
{
    expect_ok("sleep", "{\"ms\":0}", NULL);
    expect_ok("sleep", "{\"ms\":2}", NULL);
    expect_ok("sleep", "{\"ms\":1.0}", NULL);
    const char *bad[] = {NULL, "{}", "5", "{\"ms\":-1}", "{\"ms\":1.5}", "{\"ms\":\"5\"}",
                         "{\"ms\":86400001}", "{\"ms\":1e300}", "{\"ms\":null}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_fail("sleep", bad[i], "args.ms", false);
}

static volatile sig_atomic_t g_alarms;

static void on_alarm(int sig)
{
    g_alarms++;
}

/* Signals interrupt nanosleep with EINTR; the handler must sleep the rest.
 * The check is a lower bound on elapsed time, which a correct sleep always
 * meets however loaded the machine is: it cannot fail spuriously. */
static void test_sleep_resumes_after_signals(void **state)
{
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: nanosleep sees EINTR */
    sigaction(SIGALRM, &sa, &old_sa);
    struct itimerval every_2ms = {{0, 2000}, {0, 2000}}, off = {{0, 0}, {0, 0}};
    g_alarms = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    setitimer(ITIMER_REAL, &every_2ms, NULL);
    expect_ok("sleep", "{\"ms\":60}", NULL);
    setitimer(ITIMER_REAL, &off, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sigaction(SIGALRM, &old_sa, NULL);
    assert_true(g_alarms > 0);
    long long elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(elapsed_ms >= 60);
}

/* ---- record_event -------------------------------------------------------- */

typedef struct db_fixture_s {
    char *dir;
    char db_path[4096];
    fp_toml_node_t *doc; /* the [handlers.record_event] table */
} db_fixture_t;

static fp_toml_node_t *parse_table(const char *text)
{
    fp_err_t err;
    fp_toml_node_t *doc = fp_toml_parse(text, strlen(text), &err);
    if (doc == NULL)
        fail_msg("TOML: %s", err.msg);
    return doc;
}

static int db_setup(void **state)
{
    db_fixture_t *f = calloc(1, sizeof *f);
    f->dir = fp_th_tmpdir();
    snprintf(f->db_path, sizeof f->db_path, "%s/events.db", f->dir);
    char text[4200];
    snprintf(text, sizeof text, "database = \"%s\"\n", f->db_path);
    f->doc = parse_table(text);
    *state = f;
    return 0;
}

static int db_teardown(void **state)
{
    db_fixture_t *f = *state;
    fp_toml_free(f->doc);
    fp_th_rmrf(f->dir);
    free(f->dir);
    free(f);
    errno = 0;
    return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD ? 0 : -1;
}

static void *re_init(const fp_toml_node_t *table)
{
    void *st = NULL;
    fp_err_t err;
    fp_err_clear(&err);
    int rc = fp_handler_record_event.child_init(table, &st, &err);
    if (rc != 0)
        fail_msg("record_event child_init: %s", err.msg);
    assert_non_null(st);
    return st;
}

static void re_insert_ok(void *st, const char *args, long long want_id)
{
    run_t run;
    run_with(&fp_handler_record_event, st, args, &run);
    if (!run.res.ok)
        fail_msg("record_event %s: %s", args, run.res.error);
    char want[64];
    snprintf(want, sizeof want, "{\"id\":%lld}", want_id);
    assert_string_equal(run.res.result_json, want);
    run_free(&run);
}

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

static long long count_rows(sqlite3 *db, const char *where)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events %s", where);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Row id's columns as "value|type" strings joined by ";", NULL as "NULL". */
static void expect_row(sqlite3 *db, int id, const char *want)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT action, timestamp, org_id, user_id, object_id,"
                                        " object_type FROM events WHERE id = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int(st, 1, id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char got[1024] = "";
    size_t len = 0;
    for (int c = 0; c < 6; c++) {
        const char *v = (const char *)sqlite3_column_text(st, c);
        const char *type = sqlite3_column_type(st, c) == SQLITE_TEXT ? "text"
                           : sqlite3_column_type(st, c) == SQLITE_NULL ? "null"
                                                                       : "other";
        len += (size_t)snprintf(got + len, sizeof got - len, "%s%s|%s", c ? ";" : "",
                                v != NULL ? v : "NULL", type);
    }
    sqlite3_finalize(st);
    assert_string_equal(got, want);
}

static void test_record_event_inserts_rows(void **state)
{
    db_fixture_t *f = *state;
    void *st = re_init(f->doc);
    re_insert_ok(st,
                 "{\"action\":\"login\",\"timestamp\":\"2024-05-01T12:00:00Z\",\"org_id\":\"o-1\","
                 "\"user_id\":\"u-1\",\"object_id\":\"doc-9\",\"object_type\":\"document\"}",
                 1);
    re_insert_ok(st, "{\"action\":\"view\",\"user_id\":42,\"org_id\":7.5,\"object_id\":null,"
                     "\"unknown\":\"ignored\"}",
                 2);
    re_insert_ok(st, "{\"action\":true,\"object_type\":{\"k\":[1]},\"timestamp\":1714564800000}",
                 3);
    re_insert_ok(st, "{}", 4);
    fp_handler_record_event.child_fini(st);

    sqlite3 *db = open_db(f->db_path);
    assert_int_equal(count_rows(db, ""), 4);
    expect_row(db, 1,
               "login|text;2024-05-01T12:00:00Z|text;o-1|text;u-1|text;doc-9|text;document|text");
    expect_row(db, 2, "view|text;NULL|null;7.5|text;42|text;NULL|null;NULL|null");
    expect_row(db, 3, "true|text;1714564800000|text;NULL|null;NULL|null;NULL|null;{\"k\":[1]}|text");
    expect_row(db, 4, "NULL|null;NULL|null;NULL|null;NULL|null;NULL|null;NULL|null");
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static void test_record_event_rejects_non_object_args(void **state)
{
    db_fixture_t *f = *state;
    void *st = re_init(f->doc);
    const char *bad[] = {NULL, "null", "[{\"action\":\"x\"}]", "\"login\"", "3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_t run;
        run_with(&fp_handler_record_event, st, bad[i], &run);
        assert_false(run.res.ok);
        assert_false(run.res.retry);
        assert_string_equal(run.res.error, "record_event needs an object in args");
        run_free(&run);
    }
    /* The statement is still usable after the rejections. */
    re_insert_ok(st, "{\"action\":\"after\"}", 1);
    fp_handler_record_event.child_fini(st);
    sqlite3 *db = open_db(f->db_path);
    assert_int_equal(count_rows(db, ""), 1);
    sqlite3_close(db);
}

static void test_record_event_default_database_in_cwd(void **state)
{
    db_fixture_t *f = *state;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    void *st = NULL;
    fp_err_t err;
    int rc = fp_handler_record_event.child_init(NULL, &st, &err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    re_insert_ok(st, "{\"action\":\"x\"}", 1);
    fp_handler_record_event.child_fini(st);
    struct stat sb;
    assert_int_equal(stat(f->db_path, &sb), 0); /* <dir>/events.db */
}

static void test_record_event_bad_table(void **state)
{
    fp_toml_node_t *doc = parse_table("database = 5\n");
    void *st = NULL;
    fp_err_t err;
    assert_int_equal(fp_handler_record_event.child_init(doc, &st, &err), FP_ECONFIG);
    assert_non_null(strstr(err.msg, "handlers.record_event.database must be a string"));
    assert_int_equal(err.line, 1);
    assert_null(st);
    fp_toml_free(doc);

    doc = parse_table("database = \"/nonexistent-forkpool-dir/sub/events.db\"\n");
    assert_int_not_equal(fp_handler_record_event.child_init(doc, &st, &err), 0);
    assert_non_null(strstr(err.msg, "/nonexistent-forkpool-dir/sub/events.db"));
    assert_null(st);
    fp_toml_free(doc);
}

/* Another connection holds the write lock past the busy timeout: the job
 * fails and may be retried. (This waits out the handler's 5 s timeout.) */
static void test_record_event_busy_is_retried(void **state)
{
    db_fixture_t *f = *state;
    void *st = re_init(f->doc);
    sqlite3 *db = open_db(f->db_path);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    run_t run;
    run_with(&fp_handler_record_event, st, "{\"action\":\"blocked\"}", &run);
    assert_false(run.res.ok);
    assert_true(run.res.retry);
    assert_non_null(strstr(run.res.error, "locked"));
    run_free(&run);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    /* Once the lock is gone the same connection inserts again. */
    re_insert_ok(st, "{\"action\":\"free\"}", 1);
    fp_handler_record_event.child_fini(st);
    sqlite3_close(db);
}

#define ROWS_PER_WRITER 300

/* In a forked process: waits until the barrier pipe says go, then starts
 * as a child would; a failure is reported through the exit status. */
static void *child_start(const fp_toml_node_t *table, int barrier, const char *who)
{
    char go;
    if (read(barrier, &go, 1) != 1)
        _exit(3);
    void *st = NULL;
    fp_err_t err;
    if (fp_handler_record_event.child_init(table, &st, &err) != 0) {
        fprintf(stderr, "%s (pid %d): %s\n", who, (int)getpid(), err.msg);
        _exit(4);
    }
    return st;
}

/* One writer process, as a child would be: its own connection, N inserts. */
static _Noreturn void writer_main(const fp_toml_node_t *table, int barrier, const char *action)
{
    void *st = child_start(table, barrier, action);
    char args[64];
    snprintf(args, sizeof args, "{\"action\":\"%s\"}", action);
    cJSON *job = cJSON_Parse("{\"type\":\"record_event\"}");
    cJSON *a = cJSON_Parse(args);
    int failures = 0;
    for (int i = 0; i < ROWS_PER_WRITER; i++) {
        fp_handler_result_t res;
        memset(&res, 0, sizeof res);
        res.ok = true;
        fp_handler_record_event.run(st, job, a, &res);
        if (!res.ok) {
            fprintf(stderr, "writer %s: %s\n", action, res.error);
            failures++;
        }
        free(res.result_json);
    }
    cJSON_Delete(a);
    cJSON_Delete(job);
    fp_handler_record_event.child_fini(st);
    _exit(failures == 0 ? 0 : 5);
}

static void test_record_event_two_processes_insert_concurrently(void **state)
{
    db_fixture_t *f = *state;
    int barrier[2];
    assert_int_equal(pipe(barrier), 0);
    pid_t pids[2];
    const char *actions[2] = {"first", "second"};
    fflush(NULL);
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(barrier[1]);
            writer_main(f->doc, barrier[0], actions[i]);
        }
    }
    close(barrier[0]);
    /* Both start together, so both create the table, switch to WAL and
     * insert while the other does. */
    assert_int_equal(write(barrier[1], "gg", 2), 2);
    close(barrier[1]);
    for (int i = 0; i < 2; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    sqlite3 *db = open_db(f->db_path);
    assert_int_equal(count_rows(db, "WHERE action = 'first'"), ROWS_PER_WRITER);
    assert_int_equal(count_rows(db, "WHERE action = 'second'"), ROWS_PER_WRITER);
    sqlite3_close(db);
}

#define STARTERS 8
#define START_ROUNDS 100

/* One child's start-up only: child_init, then fini. */
static _Noreturn void starter_main(const fp_toml_node_t *table, int barrier)
{
    fp_handler_record_event.child_fini(child_start(table, barrier, "starter"));
    _exit(0);
}

/* One round: STARTERS children open a database nobody created yet, all at
 * once; returns how many failed to start. */
static int start_together(const fp_toml_node_t *table)
{
    int barrier[2];
    assert_int_equal(pipe(barrier), 0);
    pid_t pids[STARTERS];
    fflush(NULL);
    for (int i = 0; i < STARTERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(barrier[1]);
            starter_main(table, barrier[0]);
        }
    }
    close(barrier[0]);
    char go[STARTERS];
    memset(go, 'g', sizeof go);
    assert_int_equal(write(barrier[1], go, sizeof go), (ssize_t)sizeof go);
    close(barrier[1]);
    int failed = 0;
    for (int i = 0; i < STARTERS; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    return failed;
}

/* Siblings starting together on a fresh database used to race to switch it
 * to WAL ("database is locked", exit 78): none may fail, round after round. */
static void test_record_event_children_start_together(void **state)
{
    db_fixture_t *f = *state;
    int failed = 0;
    for (int round = 0; round < START_ROUNDS; round++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/race-%d.db", f->dir, round);
        char text[4300];
        snprintf(text, sizeof text, "database = \"%s\"\n", path);
        fp_toml_node_t *table = parse_table(text);
        failed += start_together(table);
        fp_toml_free(table);
    }
    assert_int_equal(failed, 0);
}

/* What the supervisor does before the first fork: the file exists, in WAL
 * mode, with its table, so children only open it. */
static void test_record_event_prepared_before_fork(void **state)
{
    db_fixture_t *f = *state;
    fp_err_t err;
    fp_err_clear(&err);
    if (fp_record_event_prepare(f->doc, &err) != 0)
        fail_msg("prepare: %s", err.msg);
    sqlite3 *db = open_db(f->db_path);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(count_rows(db, ""), 0);
    sqlite3_close(db);
    assert_int_equal(start_together(f->doc), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_builtins),
        cmocka_unit_test(test_registry_add_rejects_duplicates_and_overflow),
        cmocka_unit_test(test_label_known_native),
        cmocka_unit_test(test_label_known_exec),
        cmocka_unit_test(test_noop),
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_fail),
        cmocka_unit_test(test_sleep_validates_ms),
        cmocka_unit_test(test_sleep_resumes_after_signals),
        cmocka_unit_test_setup_teardown(test_record_event_inserts_rows, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_record_event_rejects_non_object_args, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_record_event_default_database_in_cwd, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_record_event_bad_table, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_record_event_busy_is_retried, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_record_event_children_start_together, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_record_event_prepared_before_fork, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_record_event_two_processes_insert_concurrently,
                                        db_setup, db_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
