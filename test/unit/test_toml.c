/* test_toml.c: the TOML reader through its public API. Values and their exact
 * types, key order, line:column of keys, headers, elements and errors, the
 * int64 edges, date-time fields and text, both JSON forms, the toml2json
 * tool, and robustness: every prefix of valid documents, bad UTF-8, NUL bytes,
 * 10,000-deep nesting, 10 MB lines, 100k keys and a deterministic mutation
 * fuzz. Every parse gets an exact-size heap copy of its input so that
 * AddressSanitizer catches any read past the end. The corpus of toml-test
 * style golden files lives in test/toml with its own runner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>

#include "toml/toml.h"
#include "harness.h"

/* ---- helpers ---- */

/* Parses an exact-size copy of len bytes of text. */
static fp_toml_node_t *parse_n(const char *text, size_t len, fp_err_t *err)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    fp_err_clear(err);
    fp_toml_node_t *root = fp_toml_parse(copy, len, err);
    free(copy);
    return root;
}

static fp_toml_node_t *parse_ok(const char *text)
{
    fp_err_t err;
    fp_toml_node_t *root = parse_n(text, strlen(text), &err);
    if (root == NULL)
        fail_msg("unexpected error %d:%d: %s (code %d) in:\n%s", err.line, err.col, err.msg,
                 err.code, text);
    return root;
}

static void expect_error_n(const char *text, size_t len, int code, int line, int col,
                           const char *reason)
{
    fp_err_t err;
    fp_toml_node_t *root = parse_n(text, len, &err);
    if (root != NULL) {
        fp_toml_free(root);
        fail_msg("expected an error for:\n%.*s", (int)len, text);
    }
    if (err.code != code || (line > 0 && (err.line != line || err.col != col))
        || (reason != NULL && strstr(err.msg, reason) == NULL))
        fail_msg("for %.*s\nexpected %d at %d:%d with \"%s\", got %d at %d:%d: %s", (int)len, text,
                 code, line, col, reason ? reason : "", err.code, err.line, err.col, err.msg);
    assert_true(err.line >= 1 && err.col >= 1);
}

static void expect_error(const char *text, int line, int col, const char *reason)
{
    expect_error_n(text, strlen(text), FP_ETOML, line, col, reason);
}

/* Follows a dotted path of plain keys from root. */
static const fp_toml_node_t *at_path(const fp_toml_node_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const fp_toml_node_t *n = root;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k != NULL && n != NULL;
         k = strtok_r(NULL, ".", &save))
        n = fp_toml_get(n, k);
    if (n == NULL)
        fail_msg("no value at %s", path);
    return n;
}

static char *json_text(const fp_toml_node_t *node, bool tagged)
{
    cJSON *j = fp_toml_to_json(node, tagged);
    assert_non_null(j);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    assert_non_null(s);
    return s;
}

static void expect_json(const char *toml, bool tagged, const char *json)
{
    fp_toml_node_t *root = parse_ok(toml);
    char *s = json_text(root, tagged);
    if (strcmp(s, json) != 0)
        fail_msg("for %s\nexpected %s\n     got %s", toml, json, s);
    cJSON_free(s);
    fp_toml_free(root);
}

/* A string of n copies of unit between prefix and suffix (free()). */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix, size_t *len)
{
    size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
    size_t total = pl + ul * n + sl;
    char *s = malloc(total + 1);
    assert_non_null(s);
    memcpy(s, prefix, pl);
    /* Doubling copies: a byte-at-a-time loop is slow under ASan. */
    size_t done = n > 0 ? ul : 0;
    if (n > 0)
        memcpy(s + pl, unit, ul);
    while (done < ul * n) {
        size_t chunk = done < ul * n - done ? done : ul * n - done;
        memcpy(s + pl + done, s + pl, chunk);
        done += chunk;
    }
    memcpy(s + pl + ul * n, suffix, sl);
    s[total] = '\0';
    *len = total;
    return s;
}

/* ---- values and types ---- */

static void test_scalars(void **state)
{
    (void)state;
    fp_toml_node_t *root = parse_ok("s = \"a\\tb\\\"c\\\\d\\u00e9\\U0001F600\\b\\f\\n\\r\"\n"
                                    "lit = 'C:\\path\\x'\n"
                                    "ml = \"\"\"\nline1\r\nline2\\\n     cont\"\"\"\"\"\n"
                                    "mll = '''\n'a' ''b'' '''\n"
                                    "empty = \"\"\n"
                                    "i = -42\n"
                                    "hex = 0xDEAD_beef\n"
                                    "oct = 0o755\n"
                                    "bin = 0b1101\n"
                                    "under = 1_000_000\n"
                                    "plus = +7\n"
                                    "f = 6.25e-1\n"
                                    "fe = 1E3\n"
                                    "fz = -0.0\n"
                                    "pinf = +inf\n"
                                    "ninf = -inf\n"
                                    "n = nan\n"
                                    "t = true\n"
                                    "fa = false\n");
    size_t len;
    const char *s = fp_toml_string(fp_toml_get(root, "s"), &len);
    assert_string_equal(s, "a\tb\"c\\d\xc3\xa9\xf0\x9f\x98\x80\b\f\n\r");
    assert_int_equal(len, strlen(s));
    assert_string_equal(fp_toml_string(fp_toml_get(root, "lit"), NULL), "C:\\path\\x");
    assert_string_equal(fp_toml_string(fp_toml_get(root, "ml"), NULL), "line1\nline2cont\"\"");
    assert_string_equal(fp_toml_string(fp_toml_get(root, "mll"), NULL), "'a' ''b'' ");
    assert_string_equal(fp_toml_string(fp_toml_get(root, "empty"), &len), "");
    assert_int_equal(len, 0);
    assert_int_equal(fp_toml_integer(fp_toml_get(root, "i")), -42);
    assert_int_equal(fp_toml_integer(fp_toml_get(root, "hex")), 0xDEADBEEF);
    assert_int_equal(fp_toml_integer(fp_toml_get(root, "oct")), 0755);
    assert_int_equal(fp_toml_integer(fp_toml_get(root, "bin")), 13);
    assert_int_equal(fp_toml_integer(fp_toml_get(root, "under")), 1000000);
    assert_int_equal(fp_toml_integer(fp_toml_get(root, "plus")), 7);
    assert_true(fp_toml_float(fp_toml_get(root, "f")) == 0.625);
    assert_true(fp_toml_float(fp_toml_get(root, "fe")) == 1000.0);
    double fz = fp_toml_float(fp_toml_get(root, "fz"));
    assert_true(fz == 0.0 && signbit(fz));
    assert_true(isinf(fp_toml_float(fp_toml_get(root, "pinf"))));
    assert_true(fp_toml_float(fp_toml_get(root, "ninf")) < 0);
    assert_true(isnan(fp_toml_float(fp_toml_get(root, "n"))));
    assert_true(fp_toml_bool(fp_toml_get(root, "t")));
    assert_false(fp_toml_bool(fp_toml_get(root, "fa")));

    /* Types are kept exactly; accessors of another type return 0 / NULL. */
    assert_int_equal(fp_toml_type(fp_toml_get(root, "i")), FP_TOML_INTEGER);
    assert_int_equal(fp_toml_type(fp_toml_get(root, "fe")), FP_TOML_FLOAT);
    assert_int_equal(fp_toml_type(fp_toml_get(root, "t")), FP_TOML_BOOL);
    assert_int_equal(fp_toml_type(root), FP_TOML_TABLE);
    assert_null(fp_toml_string(fp_toml_get(root, "i"), &len));
    assert_int_equal(len, 0);
    assert_int_equal(fp_toml_integer(fp_toml_get(root, "s")), 0);
    assert_true(fp_toml_float(fp_toml_get(root, "i")) == 0.0);
    assert_false(fp_toml_bool(fp_toml_get(root, "i")));
    assert_null(fp_toml_datetime(fp_toml_get(root, "s")));
    assert_int_equal(fp_toml_count(fp_toml_get(root, "s")), 0);
    assert_null(fp_toml_key_at(fp_toml_get(root, "s"), 0));
    assert_null(fp_toml_get(fp_toml_get(root, "s"), "x"));
    assert_null(fp_toml_get(root, "missing"));
    fp_toml_free(root);
    fp_toml_free(NULL);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(fp_toml_type_name(FP_TOML_TABLE), "table");
    assert_string_equal(fp_toml_type_name(FP_TOML_ARRAY), "array");
    assert_string_equal(fp_toml_type_name(FP_TOML_STRING), "string");
    assert_string_equal(fp_toml_type_name(FP_TOML_INTEGER), "integer");
    assert_string_equal(fp_toml_type_name(FP_TOML_FLOAT), "float");
    assert_string_equal(fp_toml_type_name(FP_TOML_BOOL), "bool");
    assert_string_equal(fp_toml_type_name(FP_TOML_DATETIME), "datetime");
    assert_string_equal(fp_toml_type_name(FP_TOML_DATETIME_LOCAL), "datetime-local");
    assert_string_equal(fp_toml_type_name(FP_TOML_DATE_LOCAL), "date-local");
    assert_string_equal(fp_toml_type_name(FP_TOML_TIME_LOCAL), "time-local");
}

static void test_string_with_nul(void **state)
{
    (void)state;
    fp_toml_node_t *root = parse_ok("s = \"a\\u0000b\"\n");
    size_t len;
    const char *s = fp_toml_string(fp_toml_get(root, "s"), &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 4);
    char *j = json_text(root, true);
    assert_string_equal(j, "{\"s\":{\"type\":\"string\",\"value\":\"a\\u0000b\"}}");
    cJSON_free(j);
    j = json_text(root, false);
    assert_string_equal(j, "{\"s\":\"a\\u0000b\"}");
    cJSON_free(j);
    fp_toml_free(root);
}

/* Quoted keys may hold U+0000 through escapes: each stays whole, distinct
 * from its prefix, and reaches JSON whole. */
static void test_key_with_nul(void **state)
{
    (void)state;
    fp_toml_node_t *root = parse_ok("\"a\\u0000b\" = 1\n\"a\\u0000c\" = 2\na = 3\n"
                                    "[\"t\\u0000\"]\nx = 4\n");
    assert_int_equal(fp_toml_count(root), 4);
    size_t len = 0;
    assert_memory_equal(fp_toml_key_at_n(root, 0, &len), "a\0b", 4);
    assert_int_equal(len, 3);
    assert_memory_equal(fp_toml_key_at_n(root, 1, &len), "a\0c", 4);
    assert_int_equal(len, 3);
    assert_string_equal(fp_toml_key_at_n(root, 2, &len), "a");
    assert_int_equal(len, 1);
    assert_int_equal(fp_toml_integer(fp_toml_get_n(root, "a\0c", 3)), 2);
    assert_int_equal(fp_toml_integer(fp_toml_get(root, "a")), 3);
    assert_null(fp_toml_get(root, "t"));
    assert_int_equal(fp_toml_integer(fp_toml_get(fp_toml_get_n(root, "t\0", 2), "x")), 4);
    char *j = json_text(root, false);
    assert_string_equal(j, "{\"a\\u0000b\":1,\"a\\u0000c\":2,\"a\":3,\"t\\u0000\":{\"x\":4}}");
    cJSON_free(j);
    j = json_text(root, true);
    assert_string_equal(j, "{\"a\\u0000b\":{\"type\":\"integer\",\"value\":\"1\"},"
                           "\"a\\u0000c\":{\"type\":\"integer\",\"value\":\"2\"},"
                           "\"a\":{\"type\":\"integer\",\"value\":\"3\"},"
                           "\"t\\u0000\":{\"x\":{\"type\":\"integer\",\"value\":\"4\"}}}");
    cJSON_free(j);
    fp_toml_free(root);
}

static void test_int64_limits(void **state)
{
    (void)state;
    fp_toml_node_t *root = parse_ok("max = 9223372036854775807\n"
                                    "min = -9223372036854775808\n"
                                    "hex = 0x7FFFFFFFFFFFFFFF\n"
                                    "oct = 0o777777777777777777777\n"
                                    "bin = 0b0111111111111111111111111111111111111111111111111111111111111111\n"
                                    "zeros = 0x0000000000000000000001\n"
                                    "mz = -0\n");
    assert_true(fp_toml_integer(fp_toml_get(root, "max")) == INT64_MAX);
    assert_true(fp_toml_integer(fp_toml_get(root, "min")) == INT64_MIN);
    assert_true(fp_toml_integer(fp_toml_get(root, "hex")) == INT64_MAX);
    assert_true(fp_toml_integer(fp_toml_get(root, "oct")) == INT64_MAX);
    assert_true(fp_toml_integer(fp_toml_get(root, "bin")) == INT64_MAX);
    assert_true(fp_toml_integer(fp_toml_get(root, "zeros")) == 1);
    assert_true(fp_toml_integer(fp_toml_get(root, "mz")) == 0);
    fp_toml_free(root);
    expect_error("a = 9223372036854775808", 1, 5, "out of 64-bit range");
    expect_error("a = -9223372036854775809", 1, 5, "out of 64-bit range");
    expect_error("a = 9_223_372_036_854_775_808", 1, 5, "out of 64-bit range");
    expect_error("a = 0x8000000000000000", 1, 5, "out of 64-bit range");
    expect_error("a = 0o1000000000000000000000", 1, 5, "out of 64-bit range");
    expect_error("a = 99999999999999999999999", 1, 5, "out of 64-bit range");
}

static void test_datetimes(void **state)
{
    (void)state;
    fp_toml_node_t *root = parse_ok("odt = 1979-05-27T00:32:00.999999-07:00\n"
                                    "z = 1979-05-27t07:32:00z\n"
                                    "sp = 1979-05-27 07:32:00+05:30\n"
                                    "ldt = 1979-05-27T07:32:00.1234567891\n"
                                    "ld = 2000-02-29\n"
                                    "lt = 23:59:60.5\n"
                                    "leap = 2016-12-31T23:59:60Z\n");
    const fp_toml_datetime_t *dt = fp_toml_datetime(fp_toml_get(root, "odt"));
    assert_int_equal(fp_toml_type(fp_toml_get(root, "odt")), FP_TOML_DATETIME);
    assert_int_equal(dt->year, 1979);
    assert_int_equal(dt->month, 5);
    assert_int_equal(dt->day, 27);
    assert_int_equal(dt->hour, 0);
    assert_int_equal(dt->minute, 32);
    assert_int_equal(dt->second, 0);
    assert_int_equal(dt->nanosecond, 999999000);
    assert_int_equal(dt->offset_minutes, -7 * 60);
    assert_string_equal(dt->text, "1979-05-27T00:32:00.999999-07:00");

    dt = fp_toml_datetime(fp_toml_get(root, "z"));
    assert_int_equal(dt->offset_minutes, 0);
    assert_string_equal(dt->text, "1979-05-27T07:32:00Z");
    dt = fp_toml_datetime(fp_toml_get(root, "sp"));
    assert_int_equal(dt->offset_minutes, 5 * 60 + 30);
    assert_string_equal(dt->text, "1979-05-27T07:32:00+05:30");

    dt = fp_toml_datetime(fp_toml_get(root, "ldt"));
    assert_int_equal(fp_toml_type(fp_toml_get(root, "ldt")), FP_TOML_DATETIME_LOCAL);
    assert_int_equal(dt->nanosecond, 123456789); /* truncated, not rounded */
    assert_string_equal(dt->text, "1979-05-27T07:32:00.1234567891");

    dt = fp_toml_datetime(fp_toml_get(root, "ld"));
    assert_int_equal(fp_toml_type(fp_toml_get(root, "ld")), FP_TOML_DATE_LOCAL);
    assert_int_equal(dt->year, 2000);
    assert_int_equal(dt->month, 2);
    assert_int_equal(dt->day, 29);
    assert_int_equal(dt->hour + dt->minute + dt->second + dt->nanosecond, 0);
    assert_string_equal(dt->text, "2000-02-29");

    dt = fp_toml_datetime(fp_toml_get(root, "lt"));
    assert_int_equal(fp_toml_type(fp_toml_get(root, "lt")), FP_TOML_TIME_LOCAL);
    assert_int_equal(dt->year + dt->month + dt->day, 0);
    assert_int_equal(dt->hour, 23);
    assert_int_equal(dt->second, 60);
    assert_int_equal(dt->nanosecond, 500000000);
    assert_string_equal(dt->text, "23:59:60.5");
    assert_string_equal(fp_toml_datetime(fp_toml_get(root, "leap"))->text, "2016-12-31T23:59:60Z");
    fp_toml_free(root);

    /* A fraction longer than the text can hold keeps its first digits. */
    root = parse_ok("a = 2001-01-01T00:00:00."
                    "12345678901234567890123456789012345678901234567890-23:59\n");
    dt = fp_toml_datetime(fp_toml_get(root, "a"));
    assert_int_equal(dt->nanosecond, 123456789);
    assert_int_equal(dt->offset_minutes, -(23 * 60 + 59));
    assert_true(strlen(dt->text) < sizeof dt->text);
    assert_string_equal(dt->text + strlen(dt->text) - 6, "-23:59");
    assert_memory_equal(dt->text, "2001-01-01T00:00:00.1234567890", 30);
    fp_toml_free(root);

    expect_error("a = 2001-02-29", 1, 13, "day out of range");
    expect_error("a = 1900-02-29", 1, 13, "day out of range");
    expect_error("a = 2001-04-31", 1, 13, "day out of range");
    expect_error("a = 2001-00-01", 1, 10, "month out of range");
    expect_error("a = 2001-13-01", 1, 10, "month out of range");
    expect_error("a = 2001-01-00", 1, 13, "day out of range");
    expect_error("a = 2001-01-01T24:00:00", 1, 16, "hour out of range");
    expect_error("a = 2001-01-01T23:60:00", 1, 19, "minute out of range");
    expect_error("a = 2001-01-01T23:59:61", 1, 22, "second out of range");
    expect_error("a = 2001-01-01T23:59:59+24:00", 1, 24, "offset out of range");
    expect_error("a = 2001-01-01T23:59", 1, 16, "HH:MM:SS");
    expect_error("a = 2001-01-01T", 1, 16, "HH:MM:SS");
    expect_error("a = 2001-1-01", 1, 5, "YYYY-MM-DD");
    expect_error("a = 2001-01-01T1:02:03", 1, 16, "HH:MM:SS");
    expect_error("a = 2001-01-01T01:02:03.", 1, 25, "fraction");
    expect_error("a = 01:02:03Z", 1, 13, "invalid local time");
    expect_error("a = 1:02:03", 1, 6, "invalid number");
    expect_error("a = 2001-01-01X01:02:03", 1, 15, "invalid date");
    expect_error("a = 2001-01-01T01:02:03+0100", 1, 24, "offset");
}

/* ---- structure, order, positions ---- */

static void test_key_order_and_tables(void **state)
{
    (void)state;
    fp_toml_node_t *root = parse_ok("z = 1\n"
                                    "a.y = 2\n"
                                    "a.b.c = 3\n"
                                    "\"q.k\" = 4\n"
                                    "'' = 5\n"
                                    "[t]\n"
                                    "x = [1, \"two\", [3.0], {k = true}, ]\n"
                                    "[t.sub]\n"
                                    "[[arr]]\n"
                                    "n = 1\n"
                                    "[[arr]]\n"
                                    "n = 2\n"
                                    "[arr.inner]\n"
                                    "deep = 1\n"
                                    "[a.b.d]\n"
                                    "e = {f.g = 1, h = {}}\n");
    assert_int_equal(fp_toml_count(root), 6);
    const char *keys[] = {"z", "a", "q.k", "", "t", "arr"};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(fp_toml_key_at(root, i), keys[i]);
        assert_ptr_equal(fp_toml_at(root, i), fp_toml_get(root, keys[i]));
    }
    assert_null(fp_toml_key_at(root, 6));
    assert_null(fp_toml_at(root, 6));
    assert_int_equal(fp_toml_integer(fp_toml_get(root, "q.k")), 4);
    assert_int_equal(fp_toml_integer(fp_toml_get(root, "")), 5);
    const fp_toml_node_t *a = fp_toml_get(root, "a");
    assert_string_equal(fp_toml_key_at(a, 0), "y");
    assert_string_equal(fp_toml_key_at(a, 1), "b");
    assert_int_equal(fp_toml_integer(at_path(root, "a.b.c")), 3);
    assert_int_equal(fp_toml_count(at_path(root, "a.b")), 2);
    assert_int_equal(fp_toml_integer(at_path(root, "a.b.d.e.f.g")), 1);
    assert_int_equal(fp_toml_count(at_path(root, "a.b.d.e.h")), 0);
    assert_int_equal(fp_toml_type(at_path(root, "a.b.d.e.h")), FP_TOML_TABLE);

    const fp_toml_node_t *x = at_path(root, "t.x");
    assert_int_equal(fp_toml_type(x), FP_TOML_ARRAY);
    assert_int_equal(fp_toml_count(x), 4);
    assert_int_equal(fp_toml_type(fp_toml_at(x, 0)), FP_TOML_INTEGER);
    assert_int_equal(fp_toml_type(fp_toml_at(x, 1)), FP_TOML_STRING);
    assert_int_equal(fp_toml_type(fp_toml_at(x, 2)), FP_TOML_ARRAY);
    assert_true(fp_toml_float(fp_toml_at(fp_toml_at(x, 2), 0)) == 3.0);
    assert_true(fp_toml_bool(fp_toml_get(fp_toml_at(x, 3), "k")));
    assert_null(fp_toml_at(x, 4));
    assert_null(fp_toml_key_at(x, 0));
    assert_null(fp_toml_get(x, "k"));
    assert_int_equal(fp_toml_count(at_path(root, "t.sub")), 0);

    const fp_toml_node_t *arr = fp_toml_get(root, "arr");
    assert_int_equal(fp_toml_type(arr), FP_TOML_ARRAY);
    assert_int_equal(fp_toml_count(arr), 2);
    assert_int_equal(fp_toml_integer(fp_toml_get(fp_toml_at(arr, 0), "n")), 1);
    assert_int_equal(fp_toml_integer(fp_toml_get(fp_toml_at(arr, 1), "n")), 2);
    assert_int_equal(fp_toml_integer(at_path(fp_toml_at(arr, 1), "inner.deep")), 1);
    fp_toml_free(root);
}

static void test_positions(void **state)
{
    (void)state;
    fp_toml_node_t *root = parse_ok("# comment\r\n"
                                    "alpha = 1\r\n"
                                    "\n"
                                    "  [server . \"é\"]  # header\n"
                                    "\tport = [ 10,\n"
                                    "    20, [ 30 ] ]\n"
                                    "\"ü\" = \"é\"  \n"
                                    "[[jobs]]\n"
                                    "name.first = 'x'\n"
                                    "[[jobs]]\n"
                                    "[implicit.child]\n");
    const fp_toml_node_t *n = fp_toml_get(root, "alpha");
    assert_int_equal(fp_toml_line(n), 2);
    assert_int_equal(fp_toml_col(n), 1);
    assert_int_equal(fp_toml_line(root), 1);
    assert_int_equal(fp_toml_col(root), 1);
    const fp_toml_node_t *t = at_path(root, "server.é");
    assert_int_equal(fp_toml_line(t), 4);
    assert_int_equal(fp_toml_col(t), 3);
    const fp_toml_node_t *server = fp_toml_get(root, "server");
    assert_int_equal(fp_toml_line(server), 4);
    assert_int_equal(fp_toml_col(server), 4);
    const fp_toml_node_t *port = fp_toml_get(t, "port");
    assert_int_equal(fp_toml_line(port), 5);
    assert_int_equal(fp_toml_col(port), 2);
    assert_int_equal(fp_toml_line(fp_toml_at(port, 0)), 5);
    assert_int_equal(fp_toml_col(fp_toml_at(port, 0)), 11);
    assert_int_equal(fp_toml_line(fp_toml_at(port, 1)), 6);
    assert_int_equal(fp_toml_col(fp_toml_at(port, 1)), 5);
    const fp_toml_node_t *inner = fp_toml_at(port, 2);
    assert_int_equal(fp_toml_col(inner), 9);
    assert_int_equal(fp_toml_col(fp_toml_at(inner, 0)), 11);
    /* Columns count characters: "é" is one. */
    const fp_toml_node_t *u = fp_toml_get(t, "ü");
    assert_int_equal(fp_toml_line(u), 7);
    assert_int_equal(fp_toml_col(u), 1);
    const fp_toml_node_t *jobs = fp_toml_get(root, "jobs");
    assert_int_equal(fp_toml_line(jobs), 8);
    assert_int_equal(fp_toml_line(fp_toml_at(jobs, 0)), 8);
    assert_int_equal(fp_toml_line(fp_toml_at(jobs, 1)), 10);
    assert_int_equal(fp_toml_col(fp_toml_at(jobs, 1)), 1);
    const fp_toml_node_t *first = at_path(fp_toml_at(jobs, 0), "name.first");
    assert_int_equal(fp_toml_line(first), 9);
    assert_int_equal(fp_toml_col(first), 1);
    assert_int_equal(fp_toml_line(at_path(root, "implicit.child")), 11);
    fp_toml_free(root);

    /* Errors point at the offending character, counting characters. */
    expect_error("a = 1\nb = \"é\x01\"", 2, 7, "control character");
    expect_error("\"é\" = 1\n\"é\" = 2\n", 2, 1, "duplicate key \"é\"");
    expect_error("a = 1\r\nb = 2\r\nc = @", 3, 5, "expected a value");
    expect_error("x = [\n 1,\n 2\n 3]", 4, 2, "expected ',' or ']'");
}

/* ---- invalid documents ---- */

typedef struct bad_s {
    const char *text;
    int line, col;
    const char *reason;
} bad_t;

static const bad_t bad_docs[] = {
    /* keys and redefinition */
    {"a = 1\na = 2", 2, 1, "duplicate key \"a\""},
    {"a = 1\n\"a\" = 2", 2, 1, "duplicate key"},
    {"a = 1\n'a' = 2", 2, 1, "duplicate key"},
    {"a.b = 1\na.b = 2", 2, 3, "duplicate key \"b\""},
    {"a = 1\na.b = 2", 2, 1, "key \"a\" is already defined"},
    {"[a]\n[a]", 2, 2, "table \"a\" is already defined"},
    {"[a]\n[\"a\"]", 2, 2, "already defined"},
    {"[a.b]\n[a]\nb = 1", 3, 1, "duplicate key \"b\""},
    {"a.b = 1\n[a]", 2, 2, "table \"a\" is already defined"},
    {"a.b.c = 1\n[a.b]", 2, 4, "table \"b\" is already defined"},
    {"[a]\nb.c = 1\n[a.b]", 3, 4, "table \"b\" is already defined"},
    {"[a.b.c]\nz = 9\n[a]\nb.c.t = 1", 4, 3, "table \"c\" is already defined"},
    {"[a.b.c.d]\n[a]\nb.c.d.k.t = 1", 3, 5, "table \"d\" is already defined"},
    {"[[a.b]]\n[a]\nb.y = 2", 3, 1, "array of tables \"b\""},
    {"[a]\nb = 1\n[a.b]", 3, 4, "key \"b\" is already defined"},
    {"[a]\nb = 1\n[a.b.c]", 3, 4, "key \"b\" is already defined"},
    {"a = {}\n[a]", 2, 2, "inline table \"a\" cannot be extended"},
    {"a = {}\n[a.b]", 2, 2, "inline table \"a\" cannot be extended"},
    {"a = {b = 1}\na.c = 2", 2, 1, "inline table \"a\" cannot be extended"},
    {"a = {b = {c = 1}, b.d = 2}", 1, 19, "inline table \"b\" cannot be extended"},
    {"a = {b = 1, b = 2}", 1, 13, "duplicate key \"b\""},
    {"a = {b.c = 1, b.c = 2}", 1, 17, "duplicate key \"c\""},
    {"a = {b = [1]}\n[[a.b]]", 2, 3, "inline table \"a\""},
    {"a = [1]\n[[a]]", 2, 3, "array \"a\" cannot be extended"},
    {"a = [{}]\n[[a]]", 2, 3, "array \"a\" cannot be extended"},
    {"a = [{b = 1}]\n[a.c]", 2, 2, "array \"a\" cannot be extended"},
    {"a = []\na.b = 1", 2, 1, "array \"a\" cannot be extended"},
    {"[a]\n[[a]]", 2, 3, "table \"a\" is already defined"},
    {"[[a]]\n[a]", 2, 2, "array of tables \"a\" is already defined"},
    {"a = 1\n[[a]]", 2, 3, "key \"a\" is already defined"},
    {"a = 1\n[a]", 2, 2, "key \"a\" is already defined"},
    {"[a]\nb = {}\n[a.b]", 3, 4, "inline table \"b\""},
    {"[fruit]\napple.color = 'red'\n[fruit.apple]", 3, 8, "table \"apple\" is already defined"},
    /* syntax */
    {"a", 1, 2, "expected '=' after a key"},
    {"a =", 1, 4, "expected a value, found end of input"},
    {"a = \n1", 1, 5, "expected a value, found newline"},
    {"= 1", 1, 1, "expected a key"},
    {"a b = 1", 1, 3, "expected '='"},
    {"a. = 1", 1, 4, "expected a key"},
    {".a = 1", 1, 1, "expected a key"},
    {"a..b = 1", 1, 3, "expected a key"},
    {"a = 1 b = 2", 1, 7, "expected a newline after a value"},
    {"a = 1 = 2", 1, 7, "expected a newline"},
    {"\"a\nb\" = 1", 1, 3, "newline"},
    {"\"\"\"a\"\"\" = 1", 1, 1, "multi-line string"},
    {"ké = 1", 1, 2, "expected '='"},
    {"[]", 1, 2, "expected a key"},
    {"[a", 1, 3, "expected ']'"},
    {"[a]]", 1, 4, "expected a newline after a table header"},
    {"[[a]", 1, 5, "expected ']]'"},
    {"[[a] ]", 1, 5, "expected ']]'"},
    {"[ [a]]", 1, 3, "expected a key"},
    {"[a] b = 1", 1, 5, "expected a newline"},
    {"[a.]", 1, 4, "expected a key"},
    {"a = [1 2]", 1, 8, "expected ',' or ']'"},
    {"a = [1,,2]", 1, 8, "expected a value"},
    {"a = [,]", 1, 6, "expected a value"},
    {"a = [1", 1, 7, "expected ',' or ']'"},
    {"a = {", 1, 6, "expected a key"},
    {"a = {b = 1", 1, 11, "expected ',' or '}'"},
    {"a = {b = 1,}", 1, 12, "trailing comma"},
    {"a = {b = 1\n}", 1, 11, "found newline"},
    {"a = {\nb = 1}", 1, 6, "expected a key"},
    {"a = {b = 1 c = 2}", 1, 12, "expected ',' or '}'"},
    {"a = {,}", 1, 6, "expected a key"},
    {"a = true_", 1, 5, "invalid value \"true_\""},
    {"a = True", 1, 5, "expected a value"},
    {"a = tru", 1, 5, "invalid value"},
    {"a = falsey", 1, 5, "invalid value"},
    {"a = Inf", 1, 5, "expected a value"},
    {"a = infinity", 1, 5, "invalid value"},
    {"a = nan_", 1, 5, "invalid value"},
    /* strings */
    {"a = \"abc", 1, 9, "unterminated string"},
    {"a = \"abc\nd\"", 1, 9, "unterminated string"},
    {"a = 'abc\nd'", 1, 9, "unterminated string"},
    {"a = \"\"\"abc", 1, 11, "unterminated multi-line string"},
    {"a = '''abc''", 1, 13, "unterminated multi-line string"},
    {"a = \"\\x41\"", 1, 6, "invalid escape"},
    {"a = \"\\e\"", 1, 6, "invalid escape"},
    {"a = \"\\ \"", 1, 6, "invalid escape"},
    {"a = \"\\u00G0\"", 1, 10, "hex digits"},
    {"a = \"\\u12\"", 1, 10, "hex digits"},
    {"a = \"\\U0000004\"", 1, 15, "hex digits"},
    {"a = \"\\uD800\"", 1, 6, "not a Unicode scalar value"},
    {"a = \"\\uDFFF\"", 1, 6, "not a Unicode scalar value"},
    {"a = \"\\U00110000\"", 1, 6, "not a Unicode scalar value"},
    {"a = \"\"\"\\ x\"\"\"", 1, 8, "invalid escape"},
    {"a = \"\"\"a\"\"\"\"\"\"", 1, 14, "too many quotes"},
    {"a = '''a''''''", 1, 14, "too many quotes"},
    {"a = \"a\" \"b\"", 1, 9, "expected a newline"},
    {"a = \"a\tb\x7f\"", 1, 9, "control character U+007F in string"},
    {"a = 'a\x08'", 1, 7, "control character U+0008"},
    {"a = \"\"\"\x1f\"\"\"", 1, 8, "control character U+001F"},
    {"a = '''\x0c'''", 1, 8, "control character U+000C"},
    {"a = \"\"\"a\rb\"\"\"", 1, 9, "carriage return"},
    {"a = \"a\rb\"", 1, 7, "newline"},
    /* comments, newlines, stray bytes */
    {"# \x7f", 1, 3, "control character U+007F in comment"},
    {"# a\x01", 1, 4, "control character U+0001 in comment"},
    {"a = 1 # \x0b", 1, 9, "in comment"},
    {"# a\rb", 1, 4, "in comment"},
    {"a = 1\r", 1, 6, "carriage return without line feed"},
    {"\ra = 1", 1, 1, "carriage return without line feed"},
    {"a = [\r1]", 1, 6, "carriage return without line feed"},
    {"\x0c a = 1", 1, 1, "expected a key"},
    {"a = 1\n\xef\xbb\xbf", 2, 1, "expected a key"},
    /* numbers */
    {"a = 01", 1, 5, "leading zero"},
    {"a = -01", 1, 6, "leading zero"},
    {"a = 0_1", 1, 5, "leading zero"},
    {"a = 00.5", 1, 5, "leading zero"},
    {"a = 1__0", 1, 6, "'_' must be between digits"},
    {"a = 1_", 1, 6, "'_' must be between digits"},
    {"a = _1", 1, 5, "expected a value"},
    {"a = 1_.5", 1, 6, "'_' must be between digits"},
    {"a = 1._5", 1, 7, "invalid float"},
    {"a = 1e_5", 1, 7, "invalid float exponent"},
    {"a = 1e5_", 1, 8, "'_' must be between digits"},
    {"a = 1.", 1, 7, "invalid float"},
    {"a = .5", 1, 5, "expected a value"},
    {"a = 1.5.3", 1, 8, "invalid float"},
    {"a = 1e5.3", 1, 8, "invalid float"},
    {"a = 1e", 1, 7, "exponent"},
    {"a = 1ee5", 1, 7, "exponent"},
    {"a = ++1", 1, 5, "invalid value \"++1\""},
    {"a = +0x10", 1, 7, "invalid number"},
    {"a = -0o7", 1, 7, "invalid number"},
    {"a = 0X10", 1, 6, "invalid number"},
    {"a = 0x", 1, 7, "hexadecimal"},
    {"a = 0x_1", 1, 7, "hexadecimal"},
    {"a = 0x1_", 1, 8, "'_' must be between digits"},
    {"a = 0xG", 1, 7, "hexadecimal"},
    {"a = 0o8", 1, 7, "octal"},
    {"a = 0b2", 1, 7, "binary"},
    {"a = 0b1.0", 1, 8, "binary"},
    {"a = 0x1.5", 1, 8, "hexadecimal"},
    {"a = 12abc", 1, 7, "invalid number"},
    {"a = 1e400", 1, 5, "float out of range"},
    {"a = -inf_", 1, 5, "invalid value"},
};

static void test_invalid_documents(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++)
        expect_error(bad_docs[i].text, bad_docs[i].line, bad_docs[i].col, bad_docs[i].reason);
    /* Keys in messages are escaped and shortened on a character boundary. */
    expect_error("\"a\\u0001\\\"\" = 1\n\"a\\u0001\\\"\" = 2", 2, 1,
                 "duplicate key \"a\\u0001\\\"\"");
    size_t len;
    char *key = repeat("", "\xc3\xa9", 100, "", &len);
    char doc[600];
    int n = snprintf(doc, sizeof doc, "\"%s\" = 1\n\"%s\" = 2", key, key);
    fp_err_t err;
    assert_null(parse_n(doc, (size_t)n, &err));
    assert_non_null(strstr(err.msg, "\xc3\xa9..."));
    assert_true(strlen(err.msg) < 120);
    free(key);
    /* err may be NULL. */
    assert_null(fp_toml_parse("a", 1, NULL));
    assert_null(fp_toml_parse(NULL, 1, NULL));
    fp_toml_node_t *root = fp_toml_parse(NULL, 0, NULL);
    assert_int_equal(fp_toml_count(root), 0);
    fp_toml_free(root);
}

/* Valid but easy to get wrong: what the spec and toml-test allow. */
static void test_valid_edge_cases(void **state)
{
    (void)state;
    static const char *const good[] = {
        "",
        "\n\n# only a comment",
        "\xef\xbb\xbf" "a = 1",
        "a=1#c",
        "a = \"\"\"\"\"\"",
        "a = \"\"\"\"\"\"\"\"",
        "a = ''''''",
        "a = ''''''''",
        "a = \"\"\"\\\r\n  \r\n  x\"\"\"",
        "a = \"\"\"a\\ \t \n b\"\"\"",
        "[a.b.c]\n[a]\n[a.b]",
        "[a.b]\n[a]",
        "[a]\nb.c = 1\nb.d = 2\n[a.b.e]",
        "a.b = 1\n[a.c]",
        "[fruit]\napple.color = 'red'\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true",
        "[[a]]\n[a.b]\n[[a]]\n[a.b]",
        "[[a]]\n[[a.b]]\n[[a.b]]\n[[a]]\n[[a.b]]",
        "[[a.b]]\n[a]\nc = 1",
        "a = {b.c = 1, b.d = 2, e = {}}",
        "a = [[], [[]], {}, {x = []}, 1, 'x', 1979-05-27]",
        "a = [\n  1, # one\n  2 # two\n  , # comma\n]",
        "a = [ # c\n]",
        "1 = 2\n2.3 = 3\n-_ = 4",
        "a = 2001-01-01 ",
        "a = 2001-01-01 # comment",
        "a = 1979-05-27T07:32:00-00:00",
        "a = 0e0\nb = -0.0\nc = 0.0e-5\nd = 1e007\ne = 1_0.0_1e1_0",
        "a = 1\t\t# tab before comment\n\tb = 2",
        "\"\\u0000\" = 1",
        "a = \"\\u00E9\\U0010FFFF\\uFFFF\"",
        "a.\"b.c\".'d' = 1",
        "a = { }",
        "a = 5e-324",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        fp_toml_node_t *root = parse_ok(good[i]);
        char *j = json_text(root, true);
        cJSON_free(j);
        fp_toml_free(root);
    }
}

/* ---- JSON ---- */

static void test_json_plain(void **state)
{
    (void)state;
    expect_json("s = \"x\\\"y\"\ni = 1\nbig = 9223372036854775807\nneg = -9007199254740993\n"
                "edge = 900719925474099\nf = 1.5\npi = inf\nni = -inf\nn = nan\nb = true\n"
                "d = 1979-05-27T07:32:00z\nl = 07:32:00\narr = [1, [2]]\nt = {x = {}}\n",
                false,
                "{\"s\":\"x\\\"y\",\"i\":1,\"big\":\"9223372036854775807\","
                "\"neg\":\"-9007199254740993\",\"edge\":900719925474099,\"f\":1.5,"
                "\"pi\":\"inf\",\"ni\":\"-inf\",\"n\":\"nan\",\"b\":true,"
                "\"d\":\"1979-05-27T07:32:00Z\",\"l\":\"07:32:00\",\"arr\":[1,[2]],"
                "\"t\":{\"x\":{}}}");
}

static void test_json_tagged(void **state)
{
    (void)state;
    expect_json("i = -5\nf = 0.1\ng = 1e300\nh = -0.0\nn = -nan\nb = false\n"
                "dt = 1979-05-27 07:32:00.50+01:00\nldt = 1979-05-27T07:32:00\n"
                "ld = 1979-05-27\nlt = 07:32:00.001\n[[a]]\ns = 'x'\n[[a]]\n",
                true,
                "{\"i\":{\"type\":\"integer\",\"value\":\"-5\"},"
                "\"f\":{\"type\":\"float\",\"value\":\"0.1\"},"
                "\"g\":{\"type\":\"float\",\"value\":\"1e+300\"},"
                "\"h\":{\"type\":\"float\",\"value\":\"-0\"},"
                "\"n\":{\"type\":\"float\",\"value\":\"nan\"},"
                "\"b\":{\"type\":\"bool\",\"value\":\"false\"},"
                "\"dt\":{\"type\":\"datetime\",\"value\":\"1979-05-27T07:32:00.50+01:00\"},"
                "\"ldt\":{\"type\":\"datetime-local\",\"value\":\"1979-05-27T07:32:00\"},"
                "\"ld\":{\"type\":\"date-local\",\"value\":\"1979-05-27\"},"
                "\"lt\":{\"type\":\"time-local\",\"value\":\"07:32:00.001\"},"
                "\"a\":[{\"s\":{\"type\":\"string\",\"value\":\"x\"}},{}]}");
    /* Floats come out in the shortest form that reads back exactly. */
    fp_toml_node_t *root = parse_ok("a = 0.30000000000000004\nb = 123456789.123\nc = 5e-324\n");
    cJSON *j = fp_toml_to_json(root, true);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "a"), "value")->valuestring,
                        "0.30000000000000004");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "b"), "value")->valuestring,
                        "123456789.123");
    assert_true(strtod(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "c"), "value")->valuestring,
                       NULL) == 5e-324);
    cJSON_Delete(j);
    /* A subtree converts on its own. */
    j = fp_toml_to_json(fp_toml_get(root, "a"), false);
    assert_true(cJSON_IsNumber(j));
    cJSON_Delete(j);
    assert_null(fp_toml_to_json(NULL, true));
    fp_toml_free(root);

    /* Plain integers up to 2^53 are exact numbers in the cJSON tree (cJSON
     * itself prints only 15 significant digits), beyond that strings. */
    root = parse_ok("a = 9007199254740992\nb = -9007199254740992\nc = 9007199254740993\n");
    j = fp_toml_to_json(root, false);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "a")));
    assert_true(cJSON_GetObjectItem(j, "a")->valuedouble == 9007199254740992.0);
    assert_true(cJSON_GetObjectItem(j, "b")->valuedouble == -9007199254740992.0);
    assert_string_equal(cJSON_GetObjectItem(j, "c")->valuestring, "9007199254740993");
    cJSON_Delete(j);
    fp_toml_free(root);
}

/* ---- robustness ---- */

static const char *const valid_seeds[] = {
    "# forkpool\n"
    "title = \"TOML \\\"Example\\\" \\u00e9\"\n"
    "[owner]\n"
    "name = 'Tom'\n"
    "dob = 1979-05-27T07:32:00-08:00\n"
    "[database]\n"
    "enabled = true\n"
    "ports = [ 8000, 8001, 8002 ]\n"
    "data = [ [\"delta\", \"phi\"], [3.14] ]\n"
    "temp = { cpu = 79.5, case = 72.0, a.b = -inf }\n"
    "[servers.alpha]\n"
    "ip = \"10.0.0.1\"\n"
    "[[products]]\n"
    "name = \"Hammer\"\n"
    "sku = 0x7FFF_FFFF\n"
    "[[products]]\n"
    "when = 07:32:00.999\n",

    "s = \"\"\"\nRoses \\\n   are red \"\" \"\"\"\n"
    "l = '''\nraw \\n ''x'' '''\n"
    "a.b.c = 1_000\n"
    "a.b.d = [1e-5, +0.5, nan, 0o17, 0b11, -9223372036854775808]\n"
    "\"quoted key\" = 1979-05-27\n"
    "'lit.key' = 1979-05-27 00:00:00.5\n"
    "[x.y.z]\n"
    "k = { \"i\" = { j = [ {}, [] ] } }\n",
};

static void test_truncated_documents(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof valid_seeds / sizeof valid_seeds[0]; s++) {
        const char *doc = valid_seeds[s];
        size_t len = strlen(doc);
        fp_toml_node_t *full = parse_ok(doc);
        fp_toml_free(full);
        for (size_t n = 0; n <= len; n++) {
            fp_err_t err;
            fp_toml_node_t *root = parse_n(doc, n, &err);
            if (root == NULL) {
                assert_int_equal(err.code, FP_ETOML);
                assert_true(err.line >= 1 && err.col >= 1 && err.msg[0] != '\0');
            }
            fp_toml_free(root);
        }
    }
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc2", "\xc2\x41", "\xe0\x80\x80",
        "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xef\xbf", "\xf0\x80\x80\x80",
        "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
        "\xfe", "\xff", "\xe2\x82", "\xf0\x9f\x98",
    };
    static const char *const frames[][2] = {
        {"a = \"", "\""}, {"a = '", "'"}, {"a = \"\"\"", "\"\"\""}, {"a = '''", "'''"},
        {"# ", ""}, {"\"", "\" = 1"}, {"'", "' = 1"}, {"", " = 1"}, {"a = ", ""},
    };
    char buf[64];
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        for (size_t f = 0; f < sizeof frames / sizeof frames[0]; f++) {
            int n = snprintf(buf, sizeof buf, "%s%s%s", frames[f][0], bad[b], frames[f][1]);
            expect_error_n(buf, (size_t)n, FP_ETOML, 0, 0, NULL);
        }
    }
    /* The largest scalar value and the edges next to the gaps are fine. */
    fp_toml_node_t *root = parse_ok("a = \"\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80\"");
    size_t len;
    fp_toml_string(fp_toml_get(root, "a"), &len);
    assert_int_equal(len, 19);
    fp_toml_free(root);
}

static void test_nul_bytes(void **state)
{
    (void)state;
    static const char *const frames[][2] = {
        {"a = \"", "\""}, {"a = '", "'"}, {"a = \"\"\"", "\"\"\""}, {"a = '''", "'''"},
        {"# ", ""}, {"", "a = 1"}, {"a", " = 1"}, {"a = 1", ""}, {"a = 1 ", ""},
        {"a = [", "]"}, {"a = {", "}"}, {"[a", "]"}, {"a = 12", "3"}, {"a = 1\n", "\n"},
    };
    char buf[64];
    for (size_t f = 0; f < sizeof frames / sizeof frames[0]; f++) {
        size_t l0 = strlen(frames[f][0]), l1 = strlen(frames[f][1]);
        memcpy(buf, frames[f][0], l0);
        buf[l0] = '\0';
        memcpy(buf + l0 + 1, frames[f][1], l1);
        expect_error_n(buf, l0 + 1 + l1, FP_ETOML, 0, 0, NULL);
    }
    expect_error_n("a = \"x\0\"", 8, FP_ETOML, 1, 7, "NUL byte");
    expect_error_n("a = 1\n\0", 7, FP_ETOML, 2, 1, "NUL byte");
}

static void test_deep_nesting(void **state)
{
    (void)state;
    size_t len;
    char *s = repeat("a = ", "[", 10000, "", &len);
    expect_error_n(s, len, FP_ELIMIT, 1, 5 + FP_TOML_MAX_DEPTH, "nested deeper");
    free(s);
    s = repeat("a = ", "{b = ", 10000, "", &len);
    expect_error_n(s, len, FP_ELIMIT, 1, 5 + 5 * FP_TOML_MAX_DEPTH, "nested deeper");
    free(s);
    s = repeat("a = ", "[{b = ", 10000, "", &len);
    expect_error_n(s, len, FP_ELIMIT, 0, 0, "nested deeper");
    free(s);
    s = repeat("k", ".k", 10000, " = 1", &len);
    expect_error_n(s, len, FP_ELIMIT, 1, 1 + 2 * FP_TOML_MAX_DEPTH, "nested deeper");
    free(s);
    s = repeat("[k", ".k", 10000, "]", &len);
    expect_error_n(s, len, FP_ELIMIT, 0, 0, "nested deeper");
    free(s);
    s = repeat("[[k", ".k", 10000, "]]", &len);
    expect_error_n(s, len, FP_ELIMIT, 0, 0, "nested deeper");
    free(s);

    /* Exactly at the limit is fine, one more is not; table depth counts. */
    s = repeat("a = ", "[", FP_TOML_MAX_DEPTH, "", &len);
    char *closed = malloc(len + FP_TOML_MAX_DEPTH + 1);
    assert_non_null(closed);
    memcpy(closed, s, len);
    memset(closed + len, ']', FP_TOML_MAX_DEPTH);
    fp_toml_node_t *root = parse_n(closed, len + FP_TOML_MAX_DEPTH, &(fp_err_t){0});
    assert_non_null(root);
    char *j = json_text(root, true);
    cJSON_free(j);
    fp_toml_free(root);
    free(closed);
    free(s);
    s = repeat("[t]\na = ", "[", FP_TOML_MAX_DEPTH, "", &len);
    expect_error_n(s, len, FP_ELIMIT, 2, 5 + FP_TOML_MAX_DEPTH - 1, "nested deeper");
    free(s);
}

static void test_long_lines(void **state)
{
    (void)state;
    const size_t big = 10u << 20;
    size_t len;
    char *s = repeat("a = \"", "x", big, "\"\n", &len);
    fp_toml_node_t *root = parse_n(s, len, &(fp_err_t){0});
    assert_non_null(root);
    size_t slen;
    fp_toml_string(fp_toml_get(root, "a"), &slen);
    assert_int_equal(slen, big);
    fp_toml_free(root);
    free(s);

    s = repeat("a = '''", "y\\", big / 2, "'''", &len);
    root = parse_n(s, len, &(fp_err_t){0});
    assert_non_null(root);
    fp_toml_free(root);
    free(s);

    s = repeat("# ", "z", big, "\nb = 1", &len);
    root = parse_n(s, len, &(fp_err_t){0});
    assert_non_null(root);
    assert_int_equal(fp_toml_integer(fp_toml_get(root, "b")), 1);
    fp_toml_free(root);
    free(s);

    /* Garbage: an endless key, an unterminated string, digits, brackets. */
    s = repeat("", "x", big, "", &len);
    expect_error_n(s, len, FP_ETOML, 1, (int)big + 1, "expected '='");
    free(s);
    s = repeat("a = \"", "\\t", big / 2, "", &len);
    expect_error_n(s, len, FP_ETOML, 1, (int)len + 1, "unterminated string");
    free(s);
    s = repeat("a = ", "9", big, "", &len);
    expect_error_n(s, len, FP_ETOML, 1, 5, "out of 64-bit range");
    free(s);
    s = repeat("a = 0.", "9", big, "", &len);
    root = parse_n(s, len, &(fp_err_t){0});
    assert_non_null(root);
    fp_toml_free(root);
    free(s);
    s = repeat("", "]", big, "", &len);
    expect_error_n(s, len, FP_ETOML, 1, 1, "expected a key");
    free(s);
    s = repeat("a = [", "1,", 100000, "]", &len);
    root = parse_n(s, len, &(fp_err_t){0});
    assert_non_null(root);
    assert_int_equal(fp_toml_count(fp_toml_get(root, "a")), 100000);
    assert_int_equal(fp_toml_col(fp_toml_at(fp_toml_get(root, "a"), 99999)), 6 + 2 * 99999);
    fp_toml_free(root);
    free(s);
}

static void test_many_keys(void **state)
{
    (void)state;
    const int n = 100000;
    char *doc = malloc((size_t)n * 24 + 16);
    assert_non_null(doc);
    size_t len = 0;
    len += (size_t)sprintf(doc + len, "[t]\n");
    for (int i = 0; i < n; i++)
        len += (size_t)sprintf(doc + len, "k%d = %d\n", i, i);
    fp_toml_node_t *root = parse_n(doc, len, &(fp_err_t){0});
    assert_non_null(root);
    const fp_toml_node_t *t = fp_toml_get(root, "t");
    assert_int_equal(fp_toml_count(t), (size_t)n);
    char key[32];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%d", i);
        const fp_toml_node_t *v = fp_toml_get(t, key);
        if (v == NULL || fp_toml_integer(v) != i || fp_toml_line(v) != i + 2)
            fail_msg("key %s", key);
    }
    assert_string_equal(fp_toml_key_at(t, 12345), "k12345");
    assert_null(fp_toml_get(t, "k100000"));
    fp_toml_free(root);
    /* A duplicate at the end is still found. */
    len += (size_t)sprintf(doc + len, "k77777 = 0\n");
    expect_error_n(doc, len, FP_ETOML, n + 2, 1, "duplicate key \"k77777\"");
    free(doc);
}

/* xorshift: deterministic, so a failure reproduces. */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void mutate(char *buf, size_t *len, size_t cap, uint32_t *rng)
{
    static const char *const tokens[] = {
        "\"", "'", "\"\"\"", "'''", "[", "]", "[[", "]]", "{", "}", ",", ".", "=", "#", "\n",
        "\r", "\r\n", "\\", "\\u", "\\U0010FFFF", "\\uD800", "\t", " ", "0x", "_", "e", "+",
        "-", ":", "T", "Z", "inf", "nan", "true", "1979-05-27", "07:32:00", "\xc3", "\xa9",
        "\xf4\x90", "\x00", "\x7f", "a.b", "[a]", "[[a]]", "a = 1\n", "9223372036854775808",
    };
    uint32_t op = next_rand(rng) % 5;
    size_t pos = *len ? next_rand(rng) % (*len + 1) : 0;
    if (op == 0 && *len > 0 && pos < *len) {
        buf[pos] = (char)(next_rand(rng) & 0xFF);
    } else if (op == 1 && pos < *len) {
        size_t n = 1 + next_rand(rng) % 8;
        n = n > *len - pos ? *len - pos : n;
        memmove(buf + pos, buf + pos + n, *len - pos - n);
        *len -= n;
    } else if (op == 2 && *len > 0) {
        /* Copy a chunk from elsewhere: repeats keys and headers. */
        size_t from = next_rand(rng) % *len, n = 1 + next_rand(rng) % 24;
        n = n > *len - from ? *len - from : n;
        if (*len + n <= cap) {
            char chunk[24];
            memcpy(chunk, buf + from, n);
            memmove(buf + pos + n, buf + pos, *len - pos);
            memcpy(buf + pos, chunk, n);
            *len += n;
        }
    } else {
        const char *t = tokens[next_rand(rng) % (sizeof tokens / sizeof tokens[0])];
        size_t n = t[0] == '\0' ? 1 : strlen(t);
        if (*len + n <= cap) {
            memmove(buf + pos + n, buf + pos, *len - pos);
            memcpy(buf + pos, t, n);
            *len += n;
        }
    }
}

static void test_mutation_fuzz(void **state)
{
    (void)state;
    enum { ROUNDS = 20000, CAP = 2048 };
    uint32_t rng = 0x9E3779B9u;
    char work[CAP];
    size_t parsed = 0;
    for (int r = 0; r < ROUNDS; r++) {
        const char *seed = valid_seeds[r % (sizeof valid_seeds / sizeof valid_seeds[0])];
        size_t len = strlen(seed);
        memcpy(work, seed, len);
        int edits = 1 + (int)(next_rand(&rng) % 4);
        for (int e = 0; e < edits; e++)
            mutate(work, &len, CAP, &rng);
        fp_err_t err;
        fp_toml_node_t *root = parse_n(work, len, &err);
        if (root == NULL) {
            assert_true(err.code == FP_ETOML || err.code == FP_ELIMIT);
            assert_true(err.line >= 1 && err.col >= 1);
            continue;
        }
        parsed++;
        cJSON *j = fp_toml_to_json(root, (r & 1) != 0);
        assert_non_null(j);
        char *text = cJSON_PrintUnformatted(j);
        assert_non_null(text);
        cJSON_free(text);
        cJSON_Delete(j);
        fp_toml_free(root);
    }
    /* Some mutations must keep the document valid, or the loop tests little. */
    assert_true(parsed > ROUNDS / 20);
}

/* ---- the toml2json tool ---- */

static void run_tool(const char *in, size_t len, fp_th_result_t *res)
{
    const char *argv[] = {fp_th_env("TOML2JSON_BIN"), NULL};
    assert_int_equal(fp_th_run(argv, NULL, in, len, 30000, res), 0);
}

static void test_toml2json_tool(void **state)
{
    (void)state;
    fp_th_result_t res;
    const char *doc = "a = 1\n[t]\nb = [\"x\", 2021-01-01]\n";
    run_tool(doc, strlen(doc), &res);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.err, "");
    assert_true(res.out_len > 0 && res.out[res.out_len - 1] == '\n');
    cJSON *j = cJSON_ParseWithLength(res.out, res.out_len);
    assert_non_null(j);
    cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "t"), "b");
    assert_int_equal(cJSON_GetArraySize(b), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(b, 1), "type")->valuestring,
                        "date-local");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "a"), "value")->valuestring,
                        "1");
    cJSON_Delete(j);
    fp_th_result_free(&res);

    run_tool("a = 1\nb = \"x\0\"\n", 13, &res);
    assert_int_equal(res.status, 1);
    assert_string_equal(res.out, "");
    assert_string_equal(res.err, "2:7: NUL byte in string\n");
    fp_th_result_free(&res);

    run_tool("[a]\n[a]\n", 8, &res);
    assert_int_equal(res.status, 1);
    assert_string_equal(res.err, "2:2: table \"a\" is already defined\n");
    fp_th_result_free(&res);

    run_tool("", 0, &res);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.out, "{\n}\n");
    fp_th_result_free(&res);
}

/* An argument runs only the tests whose names match it (cmocka pattern). */
int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_string_with_nul),
        cmocka_unit_test(test_key_with_nul),
        cmocka_unit_test(test_int64_limits),
        cmocka_unit_test(test_datetimes),
        cmocka_unit_test(test_key_order_and_tables),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_valid_edge_cases),
        cmocka_unit_test(test_json_plain),
        cmocka_unit_test(test_json_tagged),
        cmocka_unit_test(test_truncated_documents),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_mutation_fuzz),
        cmocka_unit_test(test_toml2json_tool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
