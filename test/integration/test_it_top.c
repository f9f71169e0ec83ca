/* test_it_top.c: `forkpool top` the way a person uses it, in a real
 * terminal: a detached tmux session of a fixed size runs it against a real
 * redis-server and a real daemon that has run jobs (done ones, a dead one,
 * one still running); capture-pane must show the queue and the daemon with
 * the done count `forkpool stats --json` reports, `s` moves the sort mark,
 * `d` shows the dead letter with its error and back, `?` opens the help
 * and another key closes it, and `q` exits with status 0 (the shell in the
 * session writes it to a file). Also: Redis unreachable is a line on the
 * screen (and q still exits 0), a terminal too small says so, and the text
 * mode (stdout not a terminal) prints the same figures and exits 0 (69
 * when Redis is unreachable). The terminal's view runs on the embedded
 * queue too (a daemon on a queue file, no Redis), with the same screen. One
 * capture is saved as FP_BUILD_DIR/artifacts/top.txt (docs/img/top.txt is
 * one of those). Skipped with a message where tmux is not installed
 * (scripts/bootstrap.sh installs it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon_sqlite.h"

#define SLEEP_JOB "{\"type\":\"sleep\",\"args\":{\"ms\":60000},\"id\":\"top-sleep\"}"
#define FAIL_JOB "{\"type\":\"fail\",\"args\":{\"message\":\"top-test-failure\"}}"
#define WAIT_MS 60000

typedef struct term_s {
    fp_td_t *td;
    char sock[4200]; /* the tmux server's socket, in the test's dir */
    char rc[4200];   /* where the session's shell writes top's exit status */
} term_t;

/* tmux -S SOCK -f /dev/null ARGS...: its result (the test fails when it
 * cannot run). */
static fp_th_result_t tmux(const term_t *t, const char *const *args)
{
    const char *argv[16] = {"/usr/bin/env", "tmux", "-S", t->sock, "-f", "/dev/null"};
    size_t n = 6;
    for (; *args != NULL && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 30000, &r), 0);
    return r;
}

static bool have_tmux(void)
{
    const char *argv[] = {"/usr/bin/env", "tmux", "-V", NULL};
    fp_th_result_t r;
    bool ok = fp_th_run(argv, NULL, NULL, 0, 30000, &r) == 0 && r.status == 0;
    if (ok || r.out != NULL)
        fp_th_result_free(&r);
    return ok;
}

static void skip_without_tmux(void)
{
    if (!have_tmux()) {
        print_message("tmux is not installed (scripts/bootstrap.sh installs it): skipped\n");
        skip();
    }
}

/* Starts `forkpool top -c config` in a detached session of cols x rows. */
static void term_start(term_t *t, fp_td_t *td, const char *config, const char *cols,
                       const char *rows)
{
    t->td = td;
    snprintf(t->sock, sizeof t->sock, "%s/tmux.sock", td->dir);
    snprintf(t->rc, sizeof t->rc, "%s/top.rc", td->dir);
    unlink(t->rc);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "'%s' top -c '%s'; echo $? > '%s'", fp_th_env("FORKPOOL_BIN"),
             config, t->rc);
    const char *args[] = {"new-session", "-d", "-x", cols, "-y", rows, cmd, NULL};
    fp_th_result_t r = tmux(t, args);
    if (r.status != 0)
        fail_msg("tmux new-session: exit %d: %s", r.status, r.err);
    fp_th_result_free(&r);
}

static void term_stop(term_t *t)
{
    const char *args[] = {"kill-server", NULL};
    fp_th_result_t r = tmux(t, args);
    fp_th_result_free(&r);
}

static char *capture(const term_t *t)
{
    const char *args[] = {"capture-pane", "-p", NULL};
    fp_th_result_t r = tmux(t, args);
    char *out = r.status == 0 ? r.out : NULL;
    if (r.status == 0)
        r.out = NULL;
    fp_th_result_free(&r);
    return out;
}

static void keys(const term_t *t, const char *key)
{
    const char *args[] = {"send-keys", key, NULL};
    fp_th_result_t r = tmux(t, args);
    assert_int_equal(r.status, 0);
    fp_th_result_free(&r);
}

/* Waits until the screen shows every needle (present) or none of them;
 * returns that screen (owned), failing the test with the last one. */
static char *wait_screen(const term_t *t, bool present, const char *const *needles)
{
    long long deadline = fp_th_now_ms() + WAIT_MS;
    char *screen = NULL;
    for (;;) {
        free(screen);
        screen = capture(t);
        bool all = screen != NULL;
        for (size_t i = 0; all && needles[i] != NULL; i++)
            all = (strstr(screen, needles[i]) != NULL) == present;
        if (all)
            return screen;
        if (fp_th_now_ms() > deadline)
            fail_msg("the screen never %s \"%s\"...; it shows:\n%s", present ? "showed" : "lost",
                     needles[0], screen != NULL ? screen : "(nothing)");
        fp_th_nap();
    }
}
#define WAIT_SHOWS(t, ...) wait_screen((t), true, (const char *const[]){__VA_ARGS__, NULL})
#define WAIT_GONE(t, ...) wait_screen((t), false, (const char *const[]){__VA_ARGS__, NULL})

/* top's exit status, once the session's shell wrote it. */
static int wait_exit(const term_t *t)
{
    long long deadline = fp_th_now_ms() + WAIT_MS;
    char *text;
    while ((text = fp_th_read_file(t->rc, NULL)) == NULL || strchr(text, '\n') == NULL) {
        free(text);
        if (fp_th_now_ms() > deadline)
            fail_msg("top did not exit after q");
        fp_th_nap();
    }
    int status = atoi(text);
    free(text);
    return status;
}

/* q, then top's exit status must be 0; the server ends. */
static void quit_ok(term_t *t)
{
    keys(t, "q");
    assert_int_equal(wait_exit(t), 0);
    term_stop(t);
}

/* The daemon's done and failed counts as `forkpool stats --json` says;
 * -1 before its first record. */
static void stats_counts(const fp_td_t *td, long long *done, long long *failed)
{
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "stats", "-c", td->config, "--json", NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 30000, &r), 0);
    assert_int_equal(r.status, 0);
    cJSON *doc = cJSON_Parse(r.out);
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "fleet"), 0);
    const cJSON *jobs = cJSON_GetObjectItem(m, "jobs");
    const cJSON *d = cJSON_GetObjectItem(jobs, "done"), *f = cJSON_GetObjectItem(jobs, "failed");
    *done = cJSON_IsNumber(d) ? (long long)d->valuedouble : -1;
    *failed = cJSON_IsNumber(f) ? (long long)f->valuedouble : -1;
    cJSON_Delete(doc);
    fp_th_result_free(&r);
}

/* The whitespace-separated words of the screen's line that holds needle:
 * the daemon's row is DAEMON HOST PID STATE BUSY DONE FAILED AGE. */
static int words_of_line(const char *screen, const char *needle, char words[][64], int max)
{
    char *line = fp_th_line_with(screen, needle);
    int n = 0;
    for (char *save = NULL, *w = strtok_r(line, " ", &save); w != NULL && n < max;
         w = strtok_r(NULL, " ", &save))
        snprintf(words[n++], 64, "%s", w);
    free(line);
    return n;
}

static void save_artefact(const char *screen)
{
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/artifacts", fp_th_env("FP_BUILD_DIR"));
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/top.txt", dir);
    assert_int_equal(fp_th_write_file(path, screen, strlen(screen)), 0);
}

#define NOOP_JOB "{\"type\":\"noop\",\"args\":{\"n\":%d},\"id\":\"noop-%d\"}"
#define BUSY_DAEMON "heartbeat_interval = \"200ms\"\n"
#define BUSY_POOL "[pool]\nchildren = 2\n[retry]\nmax_attempts = 1\n"

/* A daemon that ran 5 jobs, killed one to dead and runs a sleep. */
static void busy_daemon(fp_td_t *td)
{
    fp_td_config(td, BUSY_DAEMON, BUSY_POOL);
    fp_td_start_ready(td, true);
    fp_td_enqueue(td, 5, NOOP_JOB);
    fp_td_enqueue_raw(td, FAIL_JOB, strlen(FAIL_JOB));
    fp_td_enqueue_raw(td, SLEEP_JOB, strlen(SLEEP_JOB));
    long long one = 1;
    fp_td_wait_until(td, fp_td_dead_is, &one, WAIT_MS, "the failing job dead");
}

/* The same on the embedded queue: the jobs in the queue file, no Redis. */
static void busy_daemon_embedded(fp_td_t *td)
{
    fp_td_config_sqlite(td, BUSY_DAEMON, BUSY_POOL);
    fp_td_start_ready(td, true);
    fp_td_sqlite_enqueue(td, "default", 5, NOOP_JOB, 0);
    fp_td_sqlite_enqueue(td, "default", 1, FAIL_JOB, 0);
    fp_td_sqlite_enqueue(td, "default", 1, SLEEP_JOB, 0);
    long long one = 1;
    fp_td_wait_until(td, fp_td_qdead_are, &one, WAIT_MS, "the failing job dead");
}

/* One body for both backends: the screen is the same (save: keep it as the
 * artefact, the Redis one). */
static void top_in_tmux(fp_td_t *td, bool save)
{
    term_t t;
    term_start(&t, td, td->config, "120", "32");
    /* The fleet record renews every 200ms: wait for the one with every job. */
    char *screen = WAIT_SHOWS(&t, "QUEUE*", "default", "top-sleep", "1 dead letters",
                              "test-consumer");
    long long done, failed, deadline = fp_th_now_ms() + WAIT_MS;
    for (;;) {
        stats_counts(td, &done, &failed);
        char words[10][64];
        int n = words_of_line(screen, "test-consumer ", words, 10);
        char want_done[32], want_failed[32];
        snprintf(want_done, sizeof want_done, "%lld", done);
        snprintf(want_failed, sizeof want_failed, "%lld", failed);
        if (done == 5 && n >= 7 && strcmp(words[5], want_done) == 0 &&
            strcmp(words[6], want_failed) == 0)
            break;
        if (fp_th_now_ms() > deadline)
            fail_msg("the screen never showed %lld done, %lld failed:\n%s", done, failed, screen);
        free(screen);
        fp_th_nap();
        screen = WAIT_SHOWS(&t, "test-consumer");
    }
    assert_int_equal(failed, 1);
    char *row = fp_th_line_with(screen, "default ");
    FP_TH_EXPECT_ALL_IN(row, "default      0        1        0     1");
    free(row);
    row = fp_th_line_with(screen, "top-sleep");
    FP_TH_EXPECT_ALL_IN(row, "sleep", "default", "test-consumer");
    free(row);
    if (save)
        save_artefact(screen);
    free(screen);

    keys(&t, "s");
    free(WAIT_SHOWS(&t, "READY*", "sort READY"));
    keys(&t, "d");
    screen = WAIT_SHOWS(&t, "DEAD LETTERS - 1 in all", "top-test-failure");
    row = fp_th_line_with(screen, "top-test-failure");
    FP_TH_EXPECT_ALL_IN(row, "default", "fail");
    free(row);
    free(screen);
    keys(&t, "d");
    free(WAIT_SHOWS(&t, "JOB TYPE", "top-sleep"));
    keys(&t, "?");
    free(WAIT_SHOWS(&t, "forkpool top: keys", "q  quit"));
    keys(&t, "x");
    free(WAIT_GONE(&t, "forkpool top: keys"));
    quit_ok(&t);
}

static void test_top_in_tmux(void **state)
{
    skip_without_tmux();
    busy_daemon(*state);
    top_in_tmux(*state, true);
}

static void test_top_in_tmux_embedded(void **state)
{
    skip_without_tmux();
    busy_daemon_embedded(*state);
    top_in_tmux(*state, false);
}

/* A configuration whose Redis nobody serves (port 1), in td's dir. */
static void nowhere_config(const fp_td_t *td, char *config, size_t size)
{
    snprintf(config, size, "%s/nowhere.toml", td->dir);
    const char *text = "[redis]\nurl = \"redis://127.0.0.1:1\"\n";
    assert_int_equal(fp_th_write_file(config, text, strlen(text)), 0);
}

static void test_top_unreachable_and_too_small(void **state)
{
    fp_td_t *td = *state;
    skip_without_tmux();
    char config[4200];
    nowhere_config(td, config, sizeof config);
    term_t t;
    term_start(&t, td, config, "100", "20");
    free(WAIT_SHOWS(&t, "Redis unreachable: ", "127.0.0.1:1", "retrying"));
    quit_ok(&t);
    term_start(&t, td, config, "50", "8");
    free(WAIT_SHOWS(&t, "terminal too small: 50x8"));
    quit_ok(&t);
}

static void test_text_mode(void **state)
{
    fp_td_t *td = *state;
    busy_daemon(td);
    long long done = 0, failed = 0;
    for (long long deadline = fp_th_now_ms() + WAIT_MS; done != 5;) {
        stats_counts(td, &done, &failed);
        if (fp_th_now_ms() > deadline)
            fail_msg("the fleet record never counted 5 jobs done");
        fp_th_nap();
    }
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "top", "-c", td->config, "--interval",
                          "200ms", NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 30000, &r), 0);
    if (r.status != 0)
        fail_msg("top: exit %d: %s", r.status, r.err);
    FP_TH_EXPECT_ALL_IN(r.out, "forkpool top - prefix fp, group forkpool",
                        "daemons 1 live, 0 gone", "jobs 5 done, 1 failed", "1 dead letters",
                        "QUEUE*   READY  PENDING  DELAYED  DEAD  OLDEST  IN/s  OUT/s",
                        "top-sleep");
    char words[10][64];
    assert_true(words_of_line(r.out, "test-consumer ", words, 10) >= 7);
    assert_string_equal(words[5], "5");
    assert_string_equal(words[6], "1");
    assert_null(strchr(r.out, '\x1b')); /* plain text, no terminal codes */
    fp_th_result_free(&r);

    /* Redis unreachable in the text mode: exit 69 with the reason, like stats. */
    char config[4200];
    nowhere_config(td, config, sizeof config);
    const char *nowhere[] = {fp_th_env("FORKPOOL_BIN"), "top", "-c", config, "--once", NULL};
    assert_int_equal(fp_th_run(nowhere, NULL, NULL, 0, 30000, &r), 0);
    assert_int_equal(r.status, 69);
    FP_TH_EXPECT_ALL_IN(r.err, "127.0.0.1:1");
    assert_int_equal(r.out_len, 0);
    fp_th_result_free(&r);

    /* Usage errors before Redis: 64. */
    const char *bad[] = {fp_th_env("FORKPOOL_BIN"), "top", "--interval", "10ms", NULL};
    assert_int_equal(fp_th_run(bad, NULL, NULL, 0, 30000, &r), 0);
    assert_int_equal(r.status, 64);
    FP_TH_EXPECT_ALL_IN(r.err, "--interval must be from 100ms to 1h");
    fp_th_result_free(&r);
}

/* Also ends a tmux server a failed test left behind (with top in it). */
static int teardown(void **state)
{
    fp_td_t *td = *state;
    char sock[4200];
    snprintf(sock, sizeof sock, "%s/tmux.sock", td->dir);
    if (access(sock, F_OK) == 0) {
        const char *argv[] = {"/usr/bin/env", "tmux", "-S", sock, "kill-server", NULL};
        fp_th_result_t r;
        if (fp_th_run(argv, NULL, NULL, 0, 30000, &r) == 0)
            fp_th_result_free(&r);
    }
    return fp_td_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_top_in_tmux, fp_td_setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_in_tmux_embedded, fp_td_setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(test_top_unreachable_and_too_small, fp_td_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_text_mode, fp_td_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
