/* test_log.c: lib/base/log.c — formats, levels, escaping, truncation, reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
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
    assert_non_null(strstr(text, " warn  supervisor: job 42 failed:\\nboom queue=default attempt=2\n"));
    /* One line: the newline inside the message was escaped. */
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
    free(text);
}

#define FORGED "2026-01-01T00:00:00.000Z error supervisor: forged"

static void expect_no_forged_line(fixture_t *f, fp_log_format_t format)
{
    assert_int_equal(fp_log_setup(FP_LOG_DEBUG, format, f->path), 0);
    static const char *const breaks[] = {"\n", "\r", "\v", "\f", "\x1b[2K\r", "\x1c",
                                         "\xc2\x85", "\xe2\x80\xa8", "\xe2\x80\xa9"};
    for (size_t i = 0; i < sizeof breaks / sizeof breaks[0]; i++) {
        char evil[256];
        snprintf(evil, sizeof evil, "x%s" FORGED, breaks[i]);
        const char *kv[] = {"job", evil, evil, "v", NULL};
        fp_log_kv(FP_LOG_WARN, evil, kv, "job %s failed: %s", evil, evil);
    }
    char *text = read_log(f);
    if (fp_th_some_line_starts_with(text, FORGED))
        fail_msg("a forged line in the %s log:\n%s", format == FP_LOG_JSON ? "json" : "text",
                 text);
    /* Nothing but the line ends is a control character. */
    for (const char *p = text; *p != '\0'; p++)
        if (((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            fail_msg("raw control character 0x%02x in the log", (unsigned char)*p);
    if (format == FP_LOG_JSON) {
        for (char *line = text; *line != '\0';) {
            char *end = strchr(line, '\n');
            *end = '\0';
            cJSON *obj = cJSON_Parse(line);
            if (obj == NULL)
                fail_msg("not JSON: %s", line);
            assert_non_null(strstr(cJSON_GetObjectItem(obj, "msg")->valuestring, FORGED));
            cJSON_Delete(obj);
            line = end + 1;
        }
    }
    free(text);
}

static void test_text_lines_cannot_be_forged(void **state)
{
    expect_no_forged_line(*state, FP_LOG_TEXT);
}

static void test_json_lines_cannot_be_forged(void **state)
{
    expect_no_forged_line(*state, FP_LOG_JSON);
}

static void test_registered_secret_never_logged(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fp_log_setup(FP_LOG_DEBUG, FP_LOG_TEXT, f->path), 0);
    fp_log_add_secret("s3cr?t#pw");
    fp_log_add_secret("ab"); /* too short to mean anything: ignored */
    fp_log_error("redis", "AUTH failed for redis://u:s3cr?t#pw@h:1 (s3cr?t#pws3cr?t#pw) ab");
    char *text = read_log(f);
    assert_null(strstr(text, "s3cr"));
    assert_non_null(strstr(text, "redis://u:***@h:1 (******) ab\n"));
    free(text);
    char msg[64] = "x s3cr?t#pw y";
    fp_log_redact(msg);
    assert_string_equal(msg, "x *** y");
}

/* A message cut at the line limit may end inside the secret: the part of
 * it that made the cut must not be written either. */
static void test_secret_cut_by_the_line_limit_is_not_logged(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fp_log_setup(FP_LOG_DEBUG, FP_LOG_TEXT, f->path), 0);
    fp_log_add_secret("Zq9CutPassw0rd");
    for (int pad = 4080; pad < 4100; pad++) {
        fp_log_error("redis", "%*s redis://:Zq9CutPassw0rd@h:1", pad, "x");
    }
    char *text = read_log(f);
    assert_null(strstr(text, "Zq9C"));
    free(text);
}

/* Passwords longer than the stored copy: none of it may be written. */
static void test_long_secret_is_redacted_whole(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fp_log_setup(FP_LOG_DEBUG, FP_LOG_TEXT, f->path), 0);
    char secret[601];
    for (size_t i = 0; i < sizeof secret - 1; i++)
        secret[i] = (char)('a' + i % 26);
    memcpy(secret + 500, "LONGTAIL", 8);
    secret[sizeof secret - 1] = '\0';
    fp_log_add_secret(secret);
    fp_log_error("redis", "AUTH %s failed", secret);
    char *text = read_log(f);
    assert_null(strstr(text, "LONGTAIL"));
    assert_non_null(strstr(text, "AUTH *** failed"));
    free(text);
}

/* A password that reads like the mask itself: redacting must end (it
 * replaced "***" by "***" for ever, hanging every line that held it). */
static void test_secret_like_the_mask_terminates(void **state)
{
    (void)state;
    fp_log_add_secret("***");
    alarm(10); /* a hang fails the test instead of the run */
    char msg[64] = "a *** b ***";
    fp_log_redact(msg);
    alarm(0);
    assert_string_equal(msg, "a *** b ***");
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
        cmocka_unit_test_setup_teardown(test_text_lines_cannot_be_forged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_lines_cannot_be_forged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registered_secret_never_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_cut_by_the_line_limit_is_not_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_secret_is_redacted_whole, setup, teardown),
        cmocka_unit_test(test_secret_like_the_mask_terminates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
