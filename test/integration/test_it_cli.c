/* test_it_cli.c: the forkpool binary's command-line surface as a user meets
 * it: help, version, exit codes, and check-config's errors and output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fixture.h"

typedef fp_tcli_t fixture_t;

/* Runs forkpool with up to 4 arguments (the first NULL ends them), with
 * FORKPOOL_CONFIG cleared so that the developer's own never leaks in. */
static fp_th_result_t run(const char *a1, const char *a2, const char *a3, const char *a4)
{
    return fp_tcli_run_bare(a1, a2, a3, a4, NULL);
}

static char *write_config(const fixture_t *f, const char *name, const char *text)
{
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/%s", f->dir, name);
    assert_int_equal(fp_th_write_file(path, text, strlen(text)), 0);
    return path;
}

static void test_no_command_is_usage_error(void **state)
{
    (void)state;
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), NULL};
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 30000, &r), 0);
    assert_int_equal(r.status, 64);
    assert_non_null(strstr(r.err, "usage: forkpool COMMAND"));
    fp_th_result_free(&r);
}

static void test_every_command_has_help(void **state)
{
    (void)state;
    const char *commands[] = {"run", "enqueue", "stats", "dead", "jobs", "check-config", "version"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fp_th_result_t r = run(commands[i], "--help", NULL, NULL);
        assert_int_equal(r.status, 0);
        char want[64];
        snprintf(want, sizeof want, "usage: forkpool %s", commands[i]);
        assert_non_null(strstr(r.out, want));
        fp_th_result_free(&r);
    }
    fp_th_result_t r = run("--help", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "check-config"));
    fp_th_result_free(&r);
}

static void test_version(void **state)
{
    (void)state;
    fp_th_result_t r = run("version", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_memory_equal(r.out, "forkpool ", 9);
    fp_th_result_free(&r);
}

static void test_usage_errors_exit_64(void **state)
{
    (void)state;
    const char *cases[][4] = {
        {"frobnicate", NULL, NULL, NULL},
        {"check-config", "--bogus", NULL, NULL},
        {"check-config", "-c", NULL, NULL},
        {"run", "--children", "many", NULL},
        {"enqueue", NULL, NULL, NULL},
        {"enqueue", "noop", "--delay", "soon"},
        {"dead", "revive", NULL, NULL},
        {"jobs", "--outcome", "meh", NULL},
        {"version", "extra", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp_th_result_t r = run(cases[i][0], cases[i][1], cases[i][2], cases[i][3]);
        if (r.status != 64)
            fail_msg("forkpool %s %s: exit %d, stderr: %s", cases[i][0],
                     cases[i][1] ? cases[i][1] : "", r.status, r.err);
        assert_true(r.err_len > 0);
        fp_th_result_free(&r);
    }
}

/* A bad option value is blamed on the option, not on the value: getopt
 * has consumed both words by then, and the last word is the value. */
static void test_bad_option_value_names_the_option(void **state)
{
    (void)state;
    const char *cases[][2] = {{"--children", "many"}, {"--children=many", NULL}};
    for (size_t i = 0; i < 2; i++) {
        fp_th_result_t r = run("run", cases[i][0], cases[i][1], NULL);
        assert_int_equal(r.status, 64);
        if (strstr(r.err, "--children takes a whole number") == NULL)
            fail_msg("forkpool run %s: stderr %s", cases[i][0], r.err);
        fp_th_result_free(&r);
    }
}

static void test_example_config_is_valid(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.example.toml", fp_th_env("FP_SOURCE_DIR"));
    fp_th_result_t r = run("check-config", "-c", path, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, ": ok"));
    fp_th_result_free(&r);
}

/* Each broken file gives exit 78 and one line "FILE:LINE:COL: reason". */
static void test_bad_configs_name_file_line_col(void **state)
{
    fixture_t *f = *state;
    const struct {
        const char *text;
        const char *where;  /* ":LINE:COL: " expected after the file name */
        const char *reason; /* a piece of the reason */
    } cases[] = {
        {"[pool]\nchildren = \"four\"\n", ":2:1: ", "integer"},
        {"[pool]\nchidren = 4\n", ":2:1: ", "did you mean \"children\""},
        {"[daemon]\nshutdown_timeout = \"soon\"\n", ":2:1: ", "shutdown_timeout"},
        {"[pool]\nchildren = 100000\n", ":2:1: ", "children"},
        {"[pool\nchildren = 4\n", ":1:", ""},
        {"[retry]\nmax_attempts = 3\nmax_attempts = 4\n", ":3:", ""},
        {"[poool]\n", ":1:", "pool"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = write_config(f, "bad.toml", cases[i].text);
        fp_th_result_t r = run("check-config", "-c", path, NULL);
        char want[4200];
        snprintf(want, sizeof want, "%s%s", path, cases[i].where);
        if (r.status != 78 || strncmp(r.err, want, strlen(want)) != 0 ||
            strstr(r.err, cases[i].reason) == NULL || fp_th_count_lines(r.err) != 1)
            fail_msg("case %zu: exit %d, stderr: %s (wanted prefix %s and \"%s\")", i, r.status,
                     r.err, want, cases[i].reason);
        assert_int_equal(r.out_len, 0);
        fp_th_result_free(&r);
        free(path);
    }
}

static void test_missing_file_is_config_error(void **state)
{
    fixture_t *f = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/nope.toml", f->dir);
    fp_th_result_t r = run("check-config", "-c", path, NULL);
    assert_int_equal(r.status, 78);
    assert_non_null(strstr(r.err, path));
    fp_th_result_free(&r);
}

static void test_print_json_masks_password_and_honours_env(void **state)
{
    fixture_t *f = *state;
    char *path = write_config(f, "ok.toml", "[pool]\nchildren = 3\n");
    char env_config[4200];
    snprintf(env_config, sizeof env_config, "FORKPOOL_CONFIG=%s", path);
    const char *const env[] = {env_config, "FORKPOOL_REDIS_URL=redis://app:s3cret@127.0.0.1:6380/2",
                               NULL};
    fp_th_result_t r = fp_tcli_run_with(env, "check-config", "--print-json", NULL);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "s3cret"));
    cJSON *doc = cJSON_Parse(r.out);
    assert_non_null(doc);
    cJSON *pool = cJSON_GetObjectItem(doc, "pool");
    assert_int_equal(cJSON_GetObjectItem(pool, "children")->valueint, 3);
    const char *url = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "redis"), "url")->valuestring;
    assert_string_equal(url, "redis://app:***@127.0.0.1:6380/2");
    cJSON_Delete(doc);
    fp_th_result_free(&r);
    free(path);
}

/* A password holding '?' and '#', and plugin credentials, stay out of both
 * outputs unless --show-secrets. */
static void test_check_config_redacts_secrets(void **state)
{
    fixture_t *f = *state;
    char *path = write_config(f, "s.toml",
                              "[redis]\nurl = \"redis://app:wh?at#ever@127.0.0.1:6380/2\"\n"
                              "[handlers.record_event]\ndatabase = \"ev.db\"\n"
                              "api_key = \"AK-77\"\nDB_PASSWORD = \"dbpw-88\"\n");
    static const char *const modes[] = {NULL, "--print-json"};
    for (size_t i = 0; i < 2; i++) {
        fp_th_result_t r = run("check-config", "-c", path, modes[i]);
        assert_int_equal(r.status, 0);
        if (strstr(r.out, "wh?at") || strstr(r.out, "ever@") || strstr(r.out, "AK-77") ||
            strstr(r.out, "dbpw-88"))
            fail_msg("secret printed by check-config %s:\n%s", modes[i] ? modes[i] : "", r.out);
        assert_non_null(strstr(r.out, "redis://app:***@127.0.0.1:6380/2"));
        fp_th_result_free(&r);
    }
    char env_config[4200];
    snprintf(env_config, sizeof env_config, "FORKPOOL_CONFIG=%s", path);
    const char *const env[] = {env_config, "FORKPOOL_REDIS_URL=", NULL};
    fp_th_result_t r = fp_tcli_run_with(env, "check-config", "--print-json", "--show-secrets", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "redis://app:wh?at#ever@127.0.0.1:6380/2"));
    assert_non_null(strstr(r.out, "AK-77"));
    fp_th_result_free(&r);
    free(path);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_tcli_setup_dir, fp_tcli_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_command_is_usage_error),
        cmocka_unit_test(test_every_command_has_help),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_usage_errors_exit_64),
        cmocka_unit_test(test_bad_option_value_names_the_option),
        cmocka_unit_test(test_example_config_is_valid),
        T(test_bad_configs_name_file_line_col),
        T(test_missing_file_is_config_error),
        T(test_print_json_masks_password_and_honours_env),
        T(test_check_config_redacts_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
