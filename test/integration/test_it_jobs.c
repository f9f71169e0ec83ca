/* test_it_jobs.c: `forkpool jobs` as a user runs it. Each test writes a
 * ledger through the daemon's own writer (fp_ledger_*) with rows of known
 * outcomes, types and times, then runs the real binary against it: the table
 * newest first, each filter, --limit, --json parsed line by line, and the
 * exit codes for a disabled ledger, a missing file and bad usage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fixture.h"
#include "ledger/ledger.h"

#define MINUTE_MS (60LL * 1000)

typedef struct fixture_s {
    char *dir;
    char ledger[4096];
    char config[4096];
    int64_t now_ms;
    char long_error[600];
} fixture_t;

static void write_config(fixture_t *f, const char *name, const char *ledger_path)
{
    char text[8192];
    snprintf(f->config, sizeof f->config, "%s/%s", f->dir, name);
    snprintf(text, sizeof text, "[ledger]\npath = \"%s\"\n", ledger_path);
    assert_int_equal(fp_th_write_file(f->config, text, strlen(text)), 0);
}

/* Six outcomes, newest first: crashed, timeout, dead, failed, ok (mail),
 * and an ok two hours old. */
static void fill_ledger(fixture_t *f)
{
    memset(f->long_error, 'e', sizeof f->long_error - 1);
    memcpy(f->long_error, "traceback:", 10);
    f->long_error[sizeof f->long_error - 1] = '\0';
    int64_t now = f->now_ms;
    const fp_ledger_row_t rows[] = {
        {"default", "1000-0", "j-ok", "mail", "ok", NULL, 1, now - 5 * MINUTE_MS - 10,
         now - 5 * MINUTE_MS - 2, now - 5 * MINUTE_MS, 1500, 101},
        {"default", "1001-0", NULL, "mail", "failed", "smtp: 550 mailbox unavailable", 2,
         now - 4 * MINUTE_MS - 10, now - 4 * MINUTE_MS - 2, now - 4 * MINUTE_MS, 2500, 102},
        {"images", "1002-0", "j-dead", "resize", "dead", f->long_error, 5,
         now - 3 * MINUTE_MS - 10, now - 3 * MINUTE_MS - 2, now - 3 * MINUTE_MS, 3500, 103},
        {"images", "1003-0", "j-old", "resize", "ok", NULL, 1, now - 120 * MINUTE_MS - 10,
         now - 120 * MINUTE_MS - 2, now - 120 * MINUTE_MS, 4500, 104},
        {"default", "1004-0", "j-slow", "mail", "timeout", "job_timeout 30s exceeded", 1,
         now - MINUTE_MS - 10, now - MINUTE_MS - 2, now - MINUTE_MS, 30000000, 105},
        {"default", "1005-0", "j-crash", "noop", "crashed", "killed by signal 9", 1,
         now - 30000 - 10, now - 30000 - 2, now - 30000, 5500, 0},
    };
    fp_ledger_t *l = NULL;
    fp_err_t err;
    assert_int_equal(fp_ledger_open(f->ledger, 7 * 24 * 60 * MINUTE_MS, 100, &l, &err), 0);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        assert_true(fp_ledger_push(l, &rows[i]));
    fp_ledger_close(l);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = fp_th_tmpdir();
    assert_non_null(f->dir);
    snprintf(f->ledger, sizeof f->ledger, "%s/ledger.db", f->dir);
    f->now_ms = fp_th_unix_ms();
    write_config(f, "forkpool.toml", f->ledger);
    fill_ledger(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    fp_th_tmpdir_free(f->dir);
    free(f);
    return 0;
}

/* forkpool jobs -c CONFIG plus up to 6 more arguments (NULL-terminated). */
static fp_th_result_t jobs(const fixture_t *f, const char *a1, const char *a2, const char *a3,
                           const char *a4, const char *a5, const char *a6)
{
    static const char *const env[] = {"FORKPOOL_CONFIG=", "FORKPOOL_REDIS_URL=", "COLUMNS=160",
                                      NULL};
    fp_th_result_t r = fp_tcli_run_with(env, "jobs", "-c", f->config, a1, a2, a3, a4, a5, a6, NULL);
    if (strstr(r.err, "AddressSanitizer") != NULL || strstr(r.err, "runtime error:") != NULL)
        fail_msg("sanitizer report: %s", r.err);
    return r;
}

/* The n-th line (0-based) of s, copied into buf. */
static const char *line_at(const char *s, int n, char *buf, size_t cap)
{
    for (; n > 0 && s != NULL; n--) {
        s = strchr(s, '\n');
        s = s != NULL ? s + 1 : NULL;
    }
    assert_non_null(s);
    const char *end = strchr(s, '\n');
    size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
    assert_true(len < cap);
    memcpy(buf, s, len);
    buf[len] = '\0';
    return buf;
}

static void expect_ok(const fp_th_result_t *r)
{
    if (r->status != 0)
        fail_msg("exit %d, stderr: %s", r->status, r->err);
}

static void test_table_newest_first(void **state)
{
    fixture_t *f = *state;
    fp_th_result_t r = jobs(f, NULL, NULL, NULL, NULL, NULL, NULL);
    expect_ok(&r);
    assert_int_equal(fp_th_count_lines(r.out), 1 + 6);
    char line[4096];
    const char *head = line_at(r.out, 0, line, sizeof line);
    assert_non_null(strstr(head, "FINISHED (UTC)"));
    assert_non_null(strstr(head, "OUTCOME"));
    assert_non_null(strstr(head, "DURATION MS"));
    const char *order[] = {"crashed", "timeout", "dead", "failed", "ok", "ok"};
    const char *ids[] = {"j-crash", "j-slow", "j-dead", "1001-0", "j-ok", "j-old"};
    for (int i = 0; i < 6; i++) {
        line_at(r.out, i + 1, line, sizeof line);
        if (strstr(line, order[i]) == NULL || strstr(line, ids[i]) == NULL)
            fail_msg("row %d should be %s %s: %s", i, order[i], ids[i], line);
        assert_non_null(strstr(line, "Z  ")); /* ISO time in UTC */
    }
    /* Duration in ms, pid, error; a pid of 0 shows "-". */
    line_at(r.out, 2, line, sizeof line);
    assert_non_null(strstr(line, "30000.000"));
    assert_non_null(strstr(line, "105"));
    assert_non_null(strstr(line, "job_timeout 30s exceeded"));
    /* The long error is cut to the width left, with "...". */
    line_at(r.out, 3, line, sizeof line);
    assert_non_null(strstr(line, "traceback:eee"));
    assert_non_null(strstr(line, "..."));
    assert_null(strstr(r.out, f->long_error));
    assert_true(strlen(line) <= 160);
    fp_th_result_free(&r);
}

static void test_filters(void **state)
{
    fixture_t *f = *state;
    const struct {
        const char *args[4];
        int lines;        /* with the header */
        const char *has;  /* in the output, or NULL */
        const char *also; /* in it too, or NULL */
        const char *not;  /* never in it, or NULL */
    } cases[] = {
        {{"--outcome", "failed"}, 2, "smtp: 550 mailbox unavailable", NULL, NULL},
        {{"--type", "mail"}, 1 + 3, NULL, NULL, "resize"},
        {{"--type", "resize", "--outcome", "ok"}, 2, "j-old", NULL, NULL},
        {{"--since", "1h"}, 1 + 5, NULL, NULL, "j-old"},
        {{"--since", "2m", "--type", "mail"}, 2, "j-slow", NULL, NULL},
        {{"--limit", "2"}, 3, "j-crash", "j-slow", NULL},
        {{"--type", "nosuchtype"}, -1, "no jobs", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const *a = cases[i].args;
        fp_th_result_t r = jobs(f, a[0], a[1], a[2], a[3], NULL, NULL);
        expect_ok(&r);
        if ((cases[i].lines >= 0 && fp_th_count_lines(r.out) != cases[i].lines) ||
            (cases[i].has != NULL && strstr(r.out, cases[i].has) == NULL) ||
            (cases[i].also != NULL && strstr(r.out, cases[i].also) == NULL) ||
            (cases[i].not != NULL && strstr(r.out, cases[i].not) != NULL))
            fail_msg("jobs %s %s %s %s:\n%s", a[0], a[1], a[2] ? a[2] : "", a[3] ? a[3] : "",
                     r.out);
        fp_th_result_free(&r);
    }
}

static void test_json_lines(void **state)
{
    fixture_t *f = *state;
    fp_th_result_t r = jobs(f, "--json", NULL, NULL, NULL, NULL, NULL);
    expect_ok(&r);
    assert_int_equal(fp_th_count_lines(r.out), 6);
    const char *order[] = {"crashed", "timeout", "dead", "failed", "ok", "ok"};
    char line[4096];
    int64_t previous = INT64_MAX;
    for (int i = 0; i < 6; i++) {
        cJSON *o = cJSON_Parse(line_at(r.out, i, line, sizeof line));
        if (o == NULL)
            fail_msg("line %d is not JSON: %s", i, line);
        assert_string_equal(cJSON_GetObjectItem(o, "outcome")->valuestring, order[i]);
        cJSON *fin = cJSON_GetObjectItem(o, "finished_at");
        assert_true(cJSON_IsNumber(fin));
        assert_true((int64_t)fin->valuedouble <= previous);
        previous = (int64_t)fin->valuedouble;
        assert_true(cJSON_IsString(cJSON_GetObjectItem(o, "queue")));
        assert_true(cJSON_IsString(cJSON_GetObjectItem(o, "entry_id")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "attempt")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "duration_us")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "id")));
        if (i == 0) {
            assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "pid")));
            assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring,
                                "killed by signal 9");
        }
        if (i == 3) {
            assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "job_id")));
            assert_string_equal(cJSON_GetObjectItem(o, "entry_id")->valuestring, "1001-0");
            assert_int_equal((int64_t)cJSON_GetObjectItem(o, "attempt")->valuedouble, 2);
            assert_int_equal((int64_t)cJSON_GetObjectItem(o, "pid")->valuedouble, 102);
            assert_int_equal((int64_t)fin->valuedouble, f->now_ms - 4 * MINUTE_MS);
        }
        if (i == 4)
            assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "error")));
        cJSON_Delete(o);
    }
    fp_th_result_free(&r);

    /* --json keeps the whole error. */
    r = jobs(f, "--json", "--outcome", "dead", "--limit", "1", NULL);
    expect_ok(&r);
    assert_int_equal(fp_th_count_lines(r.out), 1);
    cJSON *o = cJSON_Parse(r.out);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring, f->long_error);
    assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "resize");
    cJSON_Delete(o);
    fp_th_result_free(&r);
}

static void test_disabled_ledger_exits_1(void **state)
{
    fixture_t *f = *state;
    write_config(f, "disabled.toml", "");
    fp_th_result_t r = jobs(f, NULL, NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "disabled"));
    assert_int_equal(r.out_len, 0);
    fp_th_result_free(&r);
}

static void test_missing_ledger_exits_1(void **state)
{
    fixture_t *f = *state;
    char path[4200], want[4300];
    snprintf(path, sizeof path, "%s/not-yet.db", f->dir);
    write_config(f, "missing.toml", path);
    fp_th_result_t r = jobs(f, NULL, NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want, "no ledger at %s yet", path);
    assert_non_null(strstr(r.err, want));
    fp_th_result_free(&r);
    /* Reading must not create it. */
    assert_null(fopen(path, "r"));
}

static void test_not_a_ledger_exits_1(void **state)
{
    fixture_t *f = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/junk.db", f->dir);
    assert_int_equal(fp_th_write_file(path, "this is not sqlite, not at all, no.......", 41), 0);
    write_config(f, "junk.toml", path);
    fp_th_result_t r = jobs(f, NULL, NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "cannot read the ledger"));
    fp_th_result_free(&r);
}

static void test_usage_errors_exit_64(void **state)
{
    fixture_t *f = *state;
    const char *cases[][2] = {
        {"--outcome", "meh"}, {"--outcome", ""},  {"--since", "soon"}, {"--since", "5"},
        {"--limit", "-1"},    {"--limit", "ten"}, {"--type", ""},      {"--bogus", NULL},
        {"extra", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp_th_result_t r = jobs(f, cases[i][0], cases[i][1], NULL, NULL, NULL, NULL);
        if (r.status != 64)
            fail_msg("jobs %s %s: exit %d, stderr: %s", cases[i][0],
                     cases[i][1] != NULL ? cases[i][1] : "", r.status, r.err);
        assert_non_null(strstr(r.err, "usage: forkpool jobs"));
        fp_th_result_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_ledger_exits_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_ledger_exits_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_ledger_exits_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_errors_exit_64, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
