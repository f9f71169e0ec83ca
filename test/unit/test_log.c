/* test_log.c: lib/log.c — formats, levels, escaping, truncation, reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forkpool/log.h"
#include "harness.h"

typedef struct fixture_s {
    char *dir;
    char path[4096];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = fp_th_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/forkpool.log", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    fp_log_close();
    fp_th_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static char *read_log(const fixture_t *f)
{
    char *text = fp_th_read_file(f->path, NULL);
    assert_non_null(text);
    return text;
}

static void test_text_line_has_level_component_and_fields(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fp_log_setup(FP_LOG_INFO, FP_LOG_TEXT, f->path), 0);
    const char *kv[] = {"queue", "default", "attempt", "2", NULL};
    fp_log_kv(FP_LOG_WARN, "supervisor", kv, "job %s failed:\nboom", "42");
    char *text = read_log(f);
    assert_non_null(strstr(text, " warn  supervisor: job 42 failed: boom queue=default attempt=2\n"));
    /* One line: the newline inside the message was flattened. */
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
    free(text);
}

static void test_levels_below_threshold_are_dropped(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fp_log_setup(FP_LOG_WARN, FP_LOG_TEXT, f->path), 0);
    fp_log_info("x", "hidden");
    fp_log_debug("x", "hidden");
    fp_log_error("x", "shown");
    char *text = read_log(f);
    assert_null(strstr(text, "hidden"));
    assert_non_null(strstr(text, "shown"));
    assert_false(fp_log_enabled(FP_LOG_INFO));
    assert_true(fp_log_enabled(FP_LOG_ERROR));
    free(text);
}

static void test_json_line_parses_and_escapes(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fp_log_setup(FP_LOG_DEBUG, FP_LOG_JSON, f->path), 0);
    const char *kv[] = {"error", "bad \"quote\" \\ and \x01", NULL};
    fp_log_kv(FP_LOG_ERROR, "child 3", kv, "line1\nline2");
    char *text = read_log(f);
    cJSON *obj = cJSON_Parse(text);
    assert_non_null(obj);
    assert_string_equal(cJSON_GetObjectItem(obj, "level")->valuestring, "error");
    assert_string_equal(cJSON_GetObjectItem(obj, "component")->valuestring, "child 3");
    assert_string_equal(cJSON_GetObjectItem(obj, "msg")->valuestring, "line1\nline2");
    assert_string_equal(cJSON_GetObjectItem(obj, "error")->valuestring, "bad \"quote\" \\ and \x01");
    assert_non_null(cJSON_GetObjectItem(obj, "ts"));
    cJSON_Delete(obj);
    free(text);
}

static void test_overlong_json_line_stays_valid_json(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fp_log_setup(FP_LOG_INFO, FP_LOG_JSON, f->path), 0);
    size_t n = 20000;
    char *big = malloc(n + 1);
    memset(big, '"', n);
    big[n] = '\0';
    const char *kv[] = {"payload", big, NULL};
    fp_log_kv(FP_LOG_INFO, "x", kv, "%s", big);
    free(big);
    char *text = read_log(f);
    size_t len = strlen(text);
    assert_true(len > 1000 && len <= 8192);
    /* Clipped, not cut: the line is still one complete JSON object. */
    assert_int_equal(text[len - 1], '\n');
    cJSON *obj = cJSON_Parse(text);
    assert_non_null(obj);
    assert_true(strlen(cJSON_GetObjectItem(obj, "payload")->valuestring) > 100);
    cJSON_Delete(obj);
    free(text);
}

static void test_reopen_follows_logrotate(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fp_log_setup(FP_LOG_INFO, FP_LOG_TEXT, f->path), 0);
    fp_log_info("x", "before rotate");
    char rotated[4200];
    snprintf(rotated, sizeof rotated, "%s.1", f->path);
    assert_int_equal(rename(f->path, rotated), 0);
    fp_log_info("x", "still old file");
    assert_int_equal(fp_log_reopen(), 0);
    fp_log_info("x", "after rotate");
    char *old = fp_th_read_file(rotated, NULL);
    char *cur = read_log(f);
    assert_non_null(strstr(old, "still old file"));
    assert_null(strstr(old, "after rotate"));
    assert_non_null(strstr(cur, "after rotate"));
    assert_null(strstr(cur, "before rotate"));
    free(old);
    free(cur);
}

static void test_unwritable_path_is_an_error_and_keeps_stderr(void **state)
{
    (void)state;
    assert_true(fp_log_setup(FP_LOG_INFO, FP_LOG_TEXT, "/nonexistent-dir/x.log") < 0);
    assert_int_equal(fp_log_fd(), 2);
}

static void test_level_names_round_trip(void **state)
{
    (void)state;
    for (int l = FP_LOG_DEBUG; l <= FP_LOG_ERROR; l++)
        assert_int_equal(fp_log_level_parse(fp_log_level_name((fp_log_level_t)l)), l);
    assert_int_equal(fp_log_level_parse("verbose"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_line_has_level_component_and_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels_below_threshold_are_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_line_parses_and_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlong_json_line_stays_valid_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_follows_logrotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_path_is_an_error_and_keeps_stderr, setup, teardown),
        cmocka_unit_test(test_level_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
