/* test_tz.c: the TZif reader and the footer rule (lib/schedule/tzif.c,
 * tz_rule.c, tz_load.c) on the real Europe/Berlin and America/New_York
 * files, and on truncated and garbage buffers, which must be refused
 * without reading past their end (ASan watches). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schedule/civil.h"
#include "schedule/tz.h"

static int64_t utc_s(int y, int mo, int d, int h)
{
    return fp_civil_days(y, mo, d) * 86400 + h * 3600;
}

static uint8_t *slurp(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", FP_TZ_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc(1 << 18);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 18, f);
    fclose(f);
    return buf;
}

static void test_berlin_offsets(void **state)
{
    (void)state;
    fp_tz_t *tz = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_tz_load("Europe/Berlin", &tz, &err), 0);
    assert_string_equal(tz->name, "Europe/Berlin");
    assert_true(tz->rule.present && tz->rule.has_dst);
    assert_int_equal(fp_tz_offset(tz, utc_s(2026, 1, 15, 12)), 3600);
    assert_int_equal(fp_tz_offset(tz, utc_s(2026, 7, 15, 12)), 7200);
    /* the change itself, to the second */
    assert_int_equal(fp_tz_offset(tz, utc_s(2026, 3, 29, 1) - 1), 3600);
    assert_int_equal(fp_tz_offset(tz, utc_s(2026, 3, 29, 1)), 7200);
    assert_int_equal(fp_tz_offset(tz, utc_s(2026, 10, 25, 1) - 1), 7200);
    assert_int_equal(fp_tz_offset(tz, utc_s(2026, 10, 25, 1)), 3600);
    /* far past any listed transition: the footer rule */
    assert_int_equal(fp_tz_offset(tz, utc_s(2080, 7, 1, 0)), 7200);
    assert_int_equal(fp_tz_offset(tz, utc_s(2080, 12, 1, 0)), 3600);
    fp_tz_free(tz);
}

static void test_new_york_offsets(void **state)
{
    (void)state;
    fp_tz_t *tz = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_tz_load("America/New_York", &tz, &err), 0);
    assert_int_equal(fp_tz_offset(tz, utc_s(2026, 3, 8, 7) - 1), -5 * 3600);
    assert_int_equal(fp_tz_offset(tz, utc_s(2026, 3, 8, 7)), -4 * 3600);
    assert_int_equal(fp_tz_offset(tz, utc_s(2026, 11, 1, 6) - 1), -4 * 3600);
    assert_int_equal(fp_tz_offset(tz, utc_s(2026, 11, 1, 6)), -5 * 3600);
    fp_tz_free(tz);
}

/* The footer rule agrees with the file's own transitions, hour by hour, in
 * years both cover: the rule is what answers for later years. */
static void test_rule_matches_transitions(void **state)
{
    (void)state;
    const char *zones[] = {"Europe/Berlin", "America/New_York"};
    for (size_t z = 0; z < 2; z++) {
        fp_tz_t *tz = NULL;
        fp_err_t err = {0};
        assert_int_equal(fp_tz_load(zones[z], &tz, &err), 0);
        int64_t last = tz->trans[tz->ntrans - 1];
        for (int64_t t = utc_s(2025, 1, 1, 0); t < last; t += 3600)
            if (fp_tz_offset(tz, t) != fp_tz_rule_offset(&tz->rule, t))
                fail_msg("%s at %lld", zones[z], (long long)t);
        fp_tz_free(tz);
    }
}

static void test_rule_forms(void **state)
{
    (void)state;
    fp_tz_rule_t r;
    assert_int_equal(fp_tz_rule_parse("UTC0", 4, &r), 0);
    assert_false(r.has_dst);
    assert_int_equal(r.std_off, 0);
    const char *nuuk = "<-02>2<-01>,M3.5.0/-1,M10.5.0/0";
    assert_int_equal(fp_tz_rule_parse(nuuk, strlen(nuuk), &r), 0);
    assert_int_equal(r.std_off, -7200);
    assert_int_equal(r.dst_off, -3600);
    assert_int_equal(r.start.time, -3600);
    const char *bad[] = {"", "C", "CET", "CET-1CEST", "CET-1CEST,J60,M10.5.0", "EST5EDT,M13.1.0,M1.1.0",
                         "<+03", "CET-1CEST,M3.5.0,M10.5.0/3x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fp_tz_rule_parse(bad[i], strlen(bad[i]), &r) == 0)
            fail_msg("accepted %s", bad[i]);
}

/* Every prefix of a real file is refused, and nothing is read past it. */
static void test_truncated(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *full = slurp("Europe/Berlin", &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *part = malloc(n ? n : 1);
        memcpy(part, full, n);
        fp_tz_t *tz = NULL;
        fp_err_t err = {0};
        if (fp_tz_parse(part, n, &tz, &err) == 0)
            fail_msg("a prefix of %zu bytes was accepted", n);
        assert_int_equal(err.code, FP_ECONFIG);
        free(part);
    }
    fp_tz_t *tz = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_tz_parse(full, len, &tz, &err), 0);
    fp_tz_free(tz);
    free(full);
}

static void test_garbage(void **state)
{
    (void)state;
    uint8_t buf[4096];
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        if (round % 2 == 0)
            memcpy(buf, "TZif2", 5); /* get past the magic */
        for (size_t off = 20; round % 4 == 0 && off < 44; off += 4) { /* small counts */
            buf[off] = buf[off + 1] = 0;
            buf[off + 2] &= 1;
        }
        fp_tz_t *tz = NULL;
        fp_err_t err = {0};
        size_t n = (size_t)(x % sizeof buf);
        if (fp_tz_parse(buf, n, &tz, &err) == 0)
            fp_tz_free(tz); /* possible in theory; what matters is no overread */
    }
    fp_tz_t *tz = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_tz_parse((const uint8_t *)"TZif1", 5, &tz, &err), FP_ECONFIG);
}

static void test_names(void **state)
{
    (void)state;
    fp_tz_t *tz = NULL;
    fp_err_t err = {0};
    assert_int_equal(fp_tz_load("UTC", &tz, &err), 0);
    assert_int_equal(fp_tz_offset(tz, 12345), 0);
    fp_tz_free(tz);
    const char *bad[] = {"Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe/Ber lin",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(fp_tz_load(bad[i], &tz, &err), FP_ECONFIG);
        assert_non_null(strstr(err.msg, "unknown time zone"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_berlin_offsets),     cmocka_unit_test(test_new_york_offsets),
        cmocka_unit_test(test_rule_matches_transitions), cmocka_unit_test(test_rule_forms),
        cmocka_unit_test(test_truncated),          cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
