/* test_units.c: durations and sizes, both directions. The tables below are
 * the specification: every accepted spelling with its value, every rejected
 * one with the words its reason must contain, and round trips through the
 * formatters at the edges of int64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/units.h"

typedef struct good_s {
    const char *text;
    int64_t value;
} good_t;

typedef struct bad_s {
    const char *text;
    const char *reason; /* a substring of err.msg */
} bad_t;

#define S INT64_C(1000)
#define M (60 * S)
#define H (60 * M)
#define D (24 * H)
#define KB (INT64_C(1) << 10)
#define MB (INT64_C(1) << 20)
#define GB (INT64_C(1) << 30)
#define TB (INT64_C(1) << 40)

static const good_t good_durations[] = {
    {"0", 0},
    {"00", 0},
    {"0s", 0},
    {"0ms", 0},
    {"0d0h", 0},
    {"250ms", 250},
    {"1ms", 1},
    {"30s", 30 * S},
    {"5m", 5 * M},
    {"1h", H},
    {"7d", 7 * D},
    {"1h30m", H + 30 * M},
    {"1d2h3m4s5ms", D + 2 * H + 3 * M + 4 * S + 5},
    {"1s500ms", 1500},
    {"90m", 90 * M},
    {"0010s", 10 * S},
    {"9223372036854775807ms", INT64_MAX},
    {"106751991167d7h12m55s807ms", INT64_MAX},
    {"106751991167d", INT64_C(106751991167) * D},
};

static const bad_t bad_durations[] = {
    {"", "empty"},
    {"30", "needs a unit"},
    {"1", "needs a unit"},
    {"1h30", "last number has no unit"},
    {"-5s", "negative"},
    {"-0", "negative"},
    {"+5s", "expected a number"},
    {"1.5s", "fractions are not allowed"},
    {"1,5s", "fractions are not allowed"},
    {" 5s", "spaces"},
    {"5s ", "spaces"},
    {"5 s", "spaces"},
    {"1h 30m", "spaces"},
    {"\t5s", "spaces"},
    {"5x", "unknown unit"},
    {"5S", "lower case"},
    {"5sec", "unknown unit"},
    {"5us", "unknown unit"},
    {"s", "expected a number"},
    {"ms", "expected a number"},
    {"abc", "expected a number"},
    {"5s!", "expected a number"},
    {"30m1h", "largest to smallest"},
    {"1m1m", "largest to smallest"},
    {"1s1m", "largest to smallest"},
    {"9223372036854775808ms", "too large"},
    {"106751991167d7h12m55s808ms", "too large"},
    {"106751991168d", "too large"},
    {"99999999999999999999999s", "too large"},
    {"9223372036854775807s", "too large"},
    {"9223372036854775807ms1ms", "largest to smallest"},
    {"106751991167d7h12m56s", "too large"},
};

static const good_t good_sizes[] = {
    {"0", 0},
    {"512", 512},
    {"0B", 0},
    {"100B", 100},
    {"100b", 100},
    {"1KB", KB},
    {"64KB", 64 * KB},
    {"64kb", 64 * KB},
    {"64Kb", 64 * KB},
    {"256MB", 256 * MB},
    {"1GB", GB},
    {"2TB", 2 * TB},
    {"1KiB", KB},
    {"1kib", KB},
    {"3MiB", 3 * MB},
    {"4GiB", 4 * GB},
    {"5TIB", 5 * TB},
    {"9223372036854775807", INT64_MAX},
    {"9223372036854775807B", INT64_MAX},
    {"8388607TB", INT64_C(8388607) * TB},
};

static const bad_t bad_sizes[] = {
    {"", "empty"},
    {"-1", "negative"},
    {"-1MB", "negative"},
    {"1.5GB", "fractions are not allowed"},
    {" 1MB", "spaces"},
    {"1MB ", "spaces"},
    {"1 MB", "spaces"},
    {"MB", "expected a number"},
    {"1XB", "unknown unit"},
    {"1K", "unknown unit"},
    {"1M", "unknown unit"},
    {"1MBB", "unknown unit"},
    {"1MB1KB", "one number and one unit"},
    {"1MB!", "one number and one unit"},
    {"0x10", "unknown unit"},
    {"8388608TB", "too large"},
    {"9223372036854775808", "too large"},
    {"99999999999999999999999", "too large"},
    {"9007199254740992KB", "too large"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void parses_good_durations(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(good_durations); i++) {
        fp_err_t err = {0};
        int64_t v = -1;
        int rc = fp_units_parse_duration_ms(good_durations[i].text, &v, &err);
        if (rc != 0)
            fail_msg("\"%s\": %s", good_durations[i].text, err.msg);
        assert_int_equal(v, good_durations[i].value);
    }
}

static void rejects_bad_durations(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(bad_durations); i++) {
        fp_err_t err = {0};
        int64_t v = 42;
        int rc = fp_units_parse_duration_ms(bad_durations[i].text, &v, &err);
        if (rc != FP_ECONFIG)
            fail_msg("\"%s\" was accepted as %lld", bad_durations[i].text, (long long)v);
        assert_int_equal(v, 42); /* untouched on error */
        assert_int_equal(err.code, FP_ECONFIG);
        if (strstr(err.msg, bad_durations[i].reason) == NULL)
            fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad_durations[i].text, err.msg,
                     bad_durations[i].reason);
        assert_non_null(strstr(err.msg, "invalid duration"));
    }
}

static void parses_good_sizes(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(good_sizes); i++) {
        fp_err_t err = {0};
        int64_t v = -1;
        int rc = fp_units_parse_size_bytes(good_sizes[i].text, &v, &err);
        if (rc != 0)
            fail_msg("\"%s\": %s", good_sizes[i].text, err.msg);
        assert_int_equal(v, good_sizes[i].value);
    }
}

static void rejects_bad_sizes(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(bad_sizes); i++) {
        fp_err_t err = {0};
        int64_t v = 42;
        int rc = fp_units_parse_size_bytes(bad_sizes[i].text, &v, &err);
        if (rc != FP_ECONFIG)
            fail_msg("\"%s\" was accepted as %lld", bad_sizes[i].text, (long long)v);
        assert_int_equal(v, 42);
        if (strstr(err.msg, bad_sizes[i].reason) == NULL)
            fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad_sizes[i].text, err.msg,
                     bad_sizes[i].reason);
        assert_non_null(strstr(err.msg, "invalid size"));
    }
}

static void null_and_null_err_are_safe(void **state)
{
    (void)state;
    int64_t v = 7;
    assert_int_equal(fp_units_parse_duration_ms(NULL, &v, NULL), FP_ECONFIG);
    assert_int_equal(fp_units_parse_size_bytes(NULL, &v, NULL), FP_ECONFIG);
    assert_int_equal(fp_units_parse_duration_ms("x", &v, NULL), FP_ECONFIG);
    assert_int_equal(fp_units_parse_size_bytes("x", &v, NULL), FP_ECONFIG);
    assert_int_equal(v, 7);
}

/* A hostile value must not flood the message or put raw control
 * characters into a log line. */
static void messages_quote_input_safely(void **state)
{
    (void)state;
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fp_err_t err = {0};
    int64_t v;
    assert_int_equal(fp_units_parse_duration_ms(big, &v, &err), FP_ECONFIG);
    assert_true(strlen(err.msg) < 200);
    assert_non_null(strstr(err.msg, "...\""));

    assert_int_equal(fp_units_parse_size_bytes("1\nMB", &v, &err), FP_ECONFIG);
    assert_null(strchr(err.msg, '\n'));
    assert_non_null(strstr(err.msg, "\"1\\x0aMB\""));
    assert_non_null(strstr(err.msg, "spaces"));
}

static void formats_durations(void **state)
{
    (void)state;
    static const good_t cases[] = {
        {"0s", 0},
        {"1ms", 1},
        {"250ms", 250},
        {"1s", S},
        {"1s500ms", 1500},
        {"25s", 25 * S},
        {"1m", M},
        {"1m30s", 90 * S},
        {"10m", 10 * M},
        {"1h", H},
        {"1h30m", 90 * M},
        {"1d", D},
        {"7d", 7 * D},
        {"1d12h", 36 * H},
        {"1d2h3m4s5ms", D + 2 * H + 3 * M + 4 * S + 5},
        {"106751991167d7h12m55s807ms", INT64_MAX},
        {"-5s", -5 * S},
        {"-106751991167d7h12m55s808ms", INT64_MIN},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char buf[64];
        int n = fp_units_format_duration(cases[i].value, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(n, (int)strlen(cases[i].text));
    }
}

static void formats_sizes(void **state)
{
    (void)state;
    static const good_t cases[] = {
        {"0B", 0},
        {"1B", 1},
        {"100B", 100},
        {"1023B", 1023},
        {"1KB", KB},
        {"1025B", KB + 1},
        {"1536KB", 1536 * KB},
        {"1MB", MB},
        {"256MB", 256 * MB},
        {"512MB", 512 * MB},
        {"1GB", GB},
        {"1TB", TB},
        {"1024TB", 1024 * TB},
        {"8388607TB", INT64_C(8388607) * TB},
        {"9223372036854775807B", INT64_MAX},
        {"-1KB", -KB},
        {"-8388608TB", INT64_MIN},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char buf[64];
        int n = fp_units_format_size(cases[i].value, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(n, (int)strlen(cases[i].text));
    }
}

/* Like snprintf: the count is the full length even when truncated. */
static void format_truncates_like_snprintf(void **state)
{
    (void)state;
    char buf[4];
    assert_int_equal(fp_units_format_duration(90 * M, buf, sizeof buf), 5);
    assert_string_equal(buf, "1h3");
    assert_int_equal(fp_units_format_size(256 * MB, buf, sizeof buf), 5);
    assert_string_equal(buf, "256");
    assert_int_equal(fp_units_format_size(256 * MB, NULL, 0), 5);
}

/* What the formatter writes, the parser reads back to the same value, across
 * every unit boundary and near the top of int64. */
static void round_trips(void **state)
{
    (void)state;
    static const int64_t bases[] = {0, 1, 999, 1000, 1001, 59999, 60000, 3599999, 3600000,
                                    86399999, 86400000, 1023, 1024, 1025, MB - 1, MB, GB, TB};
    for (size_t i = 0; i < N(bases); i++) {
        for (int64_t k = 1; k <= 3; k++) {
            int64_t vals[] = {bases[i] * k, INT64_MAX - bases[i] * k};
            for (size_t j = 0; j < 2; j++) {
                char buf[64];
                int64_t back = -1;
                fp_units_format_duration(vals[j], buf, sizeof buf);
                assert_int_equal(fp_units_parse_duration_ms(buf, &back, NULL), 0);
                assert_int_equal(back, vals[j]);
                fp_units_format_size(vals[j], buf, sizeof buf);
                assert_int_equal(fp_units_parse_size_bytes(buf, &back, NULL), 0);
                assert_int_equal(back, vals[j]);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_good_durations),
        cmocka_unit_test(rejects_bad_durations),
        cmocka_unit_test(parses_good_sizes),
        cmocka_unit_test(rejects_bad_sizes),
        cmocka_unit_test(null_and_null_err_are_safe),
        cmocka_unit_test(messages_quote_input_safely),
        cmocka_unit_test(formats_durations),
        cmocka_unit_test(formats_sizes),
        cmocka_unit_test(format_truncates_like_snprintf),
        cmocka_unit_test(round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
