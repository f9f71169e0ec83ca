/* test_toml_corpus.c: the golden-file conformance corpus for the TOML reader,
 * driven through test/tools/toml2json exactly as a user would drive it.
 *
 *   test/toml/valid/NNN-name.toml    + NNN-name.json  expected tagged JSON
 *   test/toml/invalid/NNN-name.toml  + NNN-name.err   line 1: expected error
 *                                                      line, line 2: why
 *
 * Every valid document must exit 0 and print JSON equal to the .json file
 * (object keys in any order, arrays in order, each leaf's type equal and its
 * value equal: numerically for floats, byte for byte otherwise). Every invalid
 * document must exit 1 and print exactly one stderr line "LINE:COL: reason"
 * with LINE as in the .err file. All failures are reported, then the test
 * fails; the corpus must hold at least MIN_CASES documents of each kind so it
 * cannot silently vanish. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define MIN_CASES 80
#define RUN_TIMEOUT_MS 20000
#define SHOW_MAX 300 /* characters of JSON / stderr shown per failure */
/* toml2json is built with the sanitizers, so each run costs ~0.1 s of mostly
 * start-up and leak checking; the cases run in this many worker processes. */
#define JOBS 4

/* Where a case writes its failure details: a per-case buffer in the workers. */
static FILE *report;
/* $TOML2JSON_BIN, looked up once in the parent (fp_th_env aborts if unset). */
static const char *toml2json_bin;

/* Out of memory in a worker: die loudly; the parent reports the lost cases. */
static void *check_alloc(void *p)
{
    if (p == NULL) {
        fprintf(stderr, "test_toml_corpus: out of memory\n");
        abort();
    }
    return p;
}

/* ---- corpus listing ----------------------------------------------------- */

typedef struct names_s {
    char **v;
    size_t n;
} names_t;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The base names (without ".toml") of dir's *.toml files, sorted. */
static names_t list_cases(const char *dir)
{
    names_t names = {NULL, 0};
    size_t cap = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        print_error("cannot open corpus directory %s: %s\n", dir, strerror(errno));
        return names;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".toml") != 0)
            continue;
        if (names.n == cap) {
            cap = cap ? cap * 2 : 128;
            names.v = check_alloc(realloc(names.v, cap * sizeof *names.v));
        }
        names.v[names.n++] = check_alloc(strndup(e->d_name, len - 5));
    }
    closedir(d);
    if (names.n > 0)
        qsort(names.v, names.n, sizeof *names.v, cmp_names);
    return names;
}

static void free_names(names_t *names)
{
    for (size_t i = 0; i < names->n; i++)
        free(names->v[i]);
    free(names->v);
    names->v = NULL;
    names->n = 0;
}

/* "dir/base.ext" into a heap string. */
static char *case_path(const char *dir, const char *base, const char *ext)
{
    size_t len = strlen(dir) + strlen(base) + strlen(ext) + 3;
    char *p = check_alloc(malloc(len));
    snprintf(p, len, "%s/%s.%s", dir, base, ext);
    return p;
}

/* ---- failure reporting ---------------------------------------------------- */

/* Prints text (JSON or stderr) on one line, shortened to SHOW_MAX characters,
 * with control characters escaped so a failure report stays readable. */
static void show(const char *label, const char *text, size_t len)
{
    fprintf(report, "    %s: ", label);
    if (text == NULL) {
        fprintf(report, "(none)\n");
        return;
    }
    size_t shown = len < SHOW_MAX ? len : SHOW_MAX;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n')
            fputs("\\n", report);
        else if (c < 0x20 || c == 0x7f)
            fprintf(report, "\\x%02x", c);
        else
            fputc(c, report);
    }
    fprintf(report, "%s\n", shown < len ? " [...]" : "");
}

static void show_json(const char *label, const cJSON *item)
{
    if (item == NULL) {
        show(label, NULL, 0);
        return;
    }
    char *text = cJSON_PrintUnformatted(item);
    show(label, text ? text : "(unprintable)", text ? strlen(text) : 13);
    free(text);
}

/* ---- semantic comparison of tagged JSON ------------------------------------ */

typedef struct path_s {
    char buf[1024];
    size_t len;
} path_t;

static bool is_bare(const char *key)
{
    if (*key == '\0')
        return false;
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

/* Appends ".key", ["key"] or [index] to the path; returns the old length so
 * the caller can restore it. Truncation only shortens the message. */
static size_t path_push_key(path_t *path, const char *key)
{
    size_t old = path->len;
    size_t room = sizeof path->buf - path->len;
    int n = is_bare(key) ? snprintf(path->buf + path->len, room, ".%s", key)
                         : snprintf(path->buf + path->len, room, "[\"%s\"]", key);
    if (n > 0)
        path->len += (size_t)n < room ? (size_t)n : room - 1;
    return old;
}

static size_t path_push_index(path_t *path, int index)
{
    size_t old = path->len;
    size_t room = sizeof path->buf - path->len;
    int n = snprintf(path->buf + path->len, room, "[%d]", index);
    if (n > 0)
        path->len += (size_t)n < room ? (size_t)n : room - 1;
    return old;
}

static void path_pop(path_t *path, size_t old)
{
    path->len = old;
    path->buf[old] = '\0';
}

/* A leaf is an object with exactly the string members "type" and "value". */
static bool is_leaf(const cJSON *item)
{
    if (!cJSON_IsObject(item) || cJSON_GetArraySize(item) != 2)
        return false;
    return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "type")) &&
           cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "value"));
}

/* Parses a tagged float value; false if it is not a float text at all. */
static bool parse_float(const char *text, double *out)
{
    const char *p = text;
    double sign = 1.0;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1.0 : 1.0;
        p++;
    }
    if (strcmp(p, "inf") == 0) {
        *out = sign * INFINITY;
        return true;
    }
    if (strcmp(p, "nan") == 0) {
        *out = NAN;
        return true;
    }
    if (*text == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == NULL || *end != '\0')
        return false;
    *out = v;
    return true;
}

static const char *leaf_mismatch(const cJSON *want, const cJSON *got)
{
    if (!is_leaf(got))
        return "expected a {type, value} leaf";
    const char *wt = cJSON_GetObjectItemCaseSensitive(want, "type")->valuestring;
    const char *gt = cJSON_GetObjectItemCaseSensitive(got, "type")->valuestring;
    const char *wv = cJSON_GetObjectItemCaseSensitive(want, "value")->valuestring;
    const char *gv = cJSON_GetObjectItemCaseSensitive(got, "value")->valuestring;
    if (strcmp(wt, gt) != 0)
        return "type differs";
    if (strcmp(wt, "float") == 0) {
        double w, g;
        if (!parse_float(wv, &w))
            return "corpus error: expected float value is not a number";
        if (!parse_float(gv, &g))
            return "float value is not a number text";
        if (isnan(w) && isnan(g))
            return NULL;
        return w == g ? NULL : "float value differs";
    }
    return strcmp(wv, gv) == 0 ? NULL : "value differs";
}

/* Compares want (the golden file) with got (toml2json's output). Reports the
 * first difference under file with its path; returns true when equal. */
static bool json_equal(const char *file, path_t *path, const cJSON *want, const cJSON *got)
{
    const char *why = NULL;
    if (is_leaf(want)) {
        why = leaf_mismatch(want, got);
    } else if (cJSON_IsObject(want)) {
        if (!cJSON_IsObject(got) || is_leaf(got)) {
            why = "expected a table (JSON object)";
        } else {
            const cJSON *w;
            cJSON_ArrayForEach(w, want) {
                const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
                size_t old = path_push_key(path, w->string);
                if (g == NULL) {
                    fprintf(report, "  FAIL %s: at %s: key missing from output\n", file, path->buf);
                    show_json("expected", w);
                    path_pop(path, old);
                    return false;
                }
                bool ok = json_equal(file, path, w, g);
                path_pop(path, old);
                if (!ok)
                    return false;
            }
            const cJSON *g;
            cJSON_ArrayForEach(g, got) {
                if (cJSON_GetObjectItemCaseSensitive(want, g->string) == NULL) {
                    size_t old = path_push_key(path, g->string);
                    fprintf(report, "  FAIL %s: at %s: unexpected key in output\n", file, path->buf);
                    show_json("actual", g);
                    path_pop(path, old);
                    return false;
                }
            }
            if (cJSON_GetArraySize(want) != cJSON_GetArraySize(got))
                why = "output table has duplicate keys";
        }
    } else if (cJSON_IsArray(want)) {
        if (!cJSON_IsArray(got)) {
            why = "expected an array";
        } else if (cJSON_GetArraySize(want) != cJSON_GetArraySize(got)) {
            why = "array length differs";
        } else {
            int n = cJSON_GetArraySize(want);
            for (int i = 0; i < n; i++) {
                size_t old = path_push_index(path, i);
                bool ok = json_equal(file, path, cJSON_GetArrayItem(want, i),
                                     cJSON_GetArrayItem(got, i));
                path_pop(path, old);
                if (!ok)
                    return false;
            }
        }
    } else {
        why = "corpus error: expected JSON is neither a table, an array nor a leaf";
    }
    if (why == NULL)
        return true;
    fprintf(report, "  FAIL %s: at %s: %s\n", file, path->len ? path->buf : "(root)", why);
    show_json("expected", want);
    show_json("actual  ", got);
    return false;
}

/* ---- running toml2json ---------------------------------------------------------- */

static int run_toml2json(const char *data, size_t len, fp_th_result_t *res)
{
    const char *argv[] = {toml2json_bin, NULL};
    return fp_th_run(argv, NULL, data, len, RUN_TIMEOUT_MS, res);
}

/* Runs case dir/base.toml (named file in reports) through toml2json into res.
 * False, with the reason reported, when the document cannot be read, when
 * corpus_error says what is wrong with its expectation file (base.EXT...), or
 * when the run failed; res is then empty. */
static bool run_case(const char *file, const char *dir, const char *base, const char *corpus_error,
                     fp_th_result_t *res)
{
    char *toml_path = case_path(dir, base, "toml");
    size_t toml_len = 0;
    char *toml = fp_th_read_file(toml_path, &toml_len);
    bool ran = false;
    if (toml == NULL) {
        fprintf(report, "  FAIL %s: cannot read the document\n", file);
    } else if (corpus_error != NULL) {
        fprintf(report, "  FAIL %s: corpus error: %s.%s\n", file, base, corpus_error);
    } else {
        int rc = run_toml2json(toml, toml_len, res);
        if (rc != 0)
            fprintf(report, "  FAIL %s: running toml2json failed: %s\n", file, strerror(-rc));
        ran = rc == 0;
    }
    free(toml);
    free(toml_path);
    return ran;
}

/* ---- valid documents ---------------------------------------------------------------- */

/* Returns true when the case passes; prints why not otherwise. */
static bool check_valid(const char *dir, const char *base)
{
    char file[512];
    snprintf(file, sizeof file, "valid/%s.toml", base);
    char *json_path = case_path(dir, base, "json");
    size_t json_len = 0;
    char *json = fp_th_read_file(json_path, &json_len);
    cJSON *want = json ? cJSON_ParseWithOpts(json, NULL, 1) : NULL;
    bool ok = false;
    fp_th_result_t res = {0};
    bool ran = run_case(file, dir, base, want ? NULL : "json missing or not valid JSON", &res);
    if (!ran)
        goto out;
    if (res.status != 0) {
        fprintf(report, "  FAIL %s: expected exit 0, got %d\n", file, res.status);
        show("stderr", res.err, res.err_len);
        goto out;
    }
    if (strlen(res.out) != res.out_len) {
        fprintf(report, "  FAIL %s: stdout contains a NUL byte\n", file);
        goto out;
    }
    cJSON *got = cJSON_ParseWithOpts(res.out, NULL, 1);
    if (got == NULL) {
        fprintf(report, "  FAIL %s: stdout is not one JSON document\n", file);
        show("stdout", res.out, res.out_len);
        goto out;
    }
    path_t path = {{0}, 0};
    ok = json_equal(file, &path, want, got);
    cJSON_Delete(got);
out:
    if (ran)
        fp_th_result_free(&res);
    cJSON_Delete(want);
    free(json);
    free(json_path);
    return ok;
}

/* ---- invalid documents ------------------------------------------------------------------ */

/* The expected line from the .err file's first line; 0 if malformed. */
static long expected_line(const char *err_text)
{
    char *end = NULL;
    errno = 0;
    long line = strtol(err_text, &end, 10);
    if (errno != 0 || end == err_text || line <= 0 || (*end != '\n' && *end != '\0'))
        return 0;
    return line;
}

/* Parses stderr as exactly one line "LINE:COL: reason"; returns LINE, or 0
 * with *why set when the format is wrong. */
static long reported_line(const char *err, size_t len, const char **why)
{
    const char *nl = memchr(err, '\n', len);
    if (len == 0) {
        *why = "stderr is empty";
        return 0;
    }
    if (strlen(err) != len) {
        *why = "stderr contains a NUL byte";
        return 0;
    }
    if (nl != NULL && (size_t)(nl - err) != len - 1) {
        *why = "stderr has more than one line";
        return 0;
    }
    const char *p = err;
    char *end = NULL;
    if (*p < '1' || *p > '9') {
        *why = "stderr does not start with LINE:COL: ";
        return 0;
    }
    long line = strtol(p, &end, 10);
    if (*end != ':' || end[1] < '1' || end[1] > '9') {
        *why = "stderr does not start with LINE:COL: ";
        return 0;
    }
    p = end + 1;
    long col = strtol(p, &end, 10);
    if (col <= 0 || end[0] != ':' || end[1] != ' ') {
        *why = "stderr does not start with LINE:COL: ";
        return 0;
    }
    if (end[2] == '\0' || end[2] == '\n') {
        *why = "no reason after LINE:COL: ";
        return 0;
    }
    return line;
}

static bool check_invalid(const char *dir, const char *base)
{
    char file[512];
    snprintf(file, sizeof file, "invalid/%s.toml", base);
    char *err_path = case_path(dir, base, "err");
    char *err_text = fp_th_read_file(err_path, NULL);
    long want = err_text ? expected_line(err_text) : 0;
    bool ok = false;
    fp_th_result_t res = {0};
    bool ran = run_case(file, dir, base,
                        want ? NULL : "err missing or its first line is not a line number", &res);
    if (!ran)
        goto out;
    if (res.status != 1) {
        fprintf(report, "  FAIL %s: expected exit 1 (invalid at line %ld), got %d\n", file, want,
                res.status);
        if (res.status == 0)
            show("stdout", res.out, res.out_len);
        else
            show("stderr", res.err, res.err_len);
        goto out;
    }
    const char *why = NULL;
    long got = reported_line(res.err, res.err_len, &why);
    if (got == 0) {
        fprintf(report, "  FAIL %s: %s\n", file, why);
        show("stderr", res.err, res.err_len);
        goto out;
    }
    if (got != want) {
        fprintf(report, "  FAIL %s: expected the error on line %ld, reported on line %ld\n", file,
                want, got);
        show("stderr", res.err, res.err_len);
        goto out;
    }
    ok = true;
out:
    if (ran)
        fp_th_result_free(&res);
    free(err_text);
    free(err_path);
    return ok;
}

/* ---- driver: all cases, in parallel, reported in order ------------------------------ */

typedef bool (*check_fn)(const char *dir, const char *base);

typedef struct record_s {
    size_t index;
    size_t ok;
    size_t len; /* bytes of failure report that follow */
} record_t;

/* Worker w checks cases w, w + jobs, ... and appends one record per case to
 * out. It never returns. */
static void worker(int w, int jobs, const char *dir, const names_t *cases, check_fn check, FILE *out)
{
    for (size_t i = (size_t)w; i < cases->n; i += (size_t)jobs) {
        char *text = NULL;
        size_t len = 0;
        report = check_alloc(open_memstream(&text, &len));
        bool ok = check(dir, cases->v[i]);
        fclose(report);
        record_t rec = {i, ok, len};
        if (fwrite(&rec, sizeof rec, 1, out) != 1 || fwrite(text, 1, len, out) != len)
            _exit(2);
        free(text);
    }
    _exit(fflush(out) == 0 ? 0 : 2);
}

/* Runs check on every case of kind ("valid"/"invalid"), prints the failures in
 * case order and the counts, and fails the test on any failure or when the
 * corpus is too small. */
static void run_corpus(const char *kind, check_fn check)
{
    toml2json_bin = fp_th_env("TOML2JSON_BIN");
    char dir[4096];
    int n = snprintf(dir, sizeof dir, "%s/test/toml/%s", fp_th_env("FP_SOURCE_DIR"), kind);
    assert_true(n > 0 && (size_t)n < sizeof dir);
    names_t cases = list_cases(dir);

    FILE *out[JOBS];
    pid_t pid[JOBS];
    int jobs = cases.n < JOBS ? (int)cases.n : JOBS;
    fflush(stdout);
    fflush(stderr);
    for (int w = 0; w < jobs; w++) {
        out[w] = tmpfile();
        assert_non_null(out[w]);
        pid[w] = fork();
        assert_true(pid[w] >= 0);
        if (pid[w] == 0)
            worker(w, jobs, dir, &cases, check, out[w]);
    }

    char **text = calloc(cases.n + 1, sizeof *text);
    bool *done = calloc(cases.n + 1, sizeof *done);
    bool *ok = calloc(cases.n + 1, sizeof *ok);
    assert_true(text != NULL && done != NULL && ok != NULL);
    for (int w = 0; w < jobs; w++) {
        int st = 0;
        while (waitpid(pid[w], &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fprintf(stderr, "  worker %d died (status 0x%x); its unfinished cases count as failed\n",
                    w, (unsigned)st);
        rewind(out[w]);
        record_t rec;
        while (fread(&rec, sizeof rec, 1, out[w]) == 1 && rec.index < cases.n) {
            char *t = malloc(rec.len + 1);
            assert_non_null(t);
            if (fread(t, 1, rec.len, out[w]) != rec.len) {
                free(t);
                break;
            }
            t[rec.len] = '\0';
            done[rec.index] = true;
            ok[rec.index] = rec.ok != 0;
            text[rec.index] = t;
        }
        fclose(out[w]);
    }

    size_t failed = 0;
    for (size_t i = 0; i < cases.n; i++) {
        if (!done[i]) {
            fprintf(stderr, "  FAIL %s/%s.toml: no result (its worker died)\n", kind, cases.v[i]);
            failed++;
        } else if (!ok[i]) {
            fputs(text[i], stderr);
            failed++;
        }
        free(text[i]);
    }
    free(text);
    free(done);
    free(ok);
    size_t total = cases.n;
    free_names(&cases);
    fprintf(stderr, "%s TOML corpus: %zu documents, %zu passed, %zu failed\n", kind, total,
            total - failed, failed);
    if (total < MIN_CASES)
        fail_msg("%s corpus has %zu documents, expected at least %d (%s)", kind, total, MIN_CASES,
                 dir);
    if (failed > 0)
        fail_msg("%zu of %zu %s documents failed (listed above)", failed, total, kind);
}

static void test_valid_corpus(void **state)
{
    (void)state;
    run_corpus("valid", check_valid);
}

static void test_invalid_corpus(void **state)
{
    (void)state;
    run_corpus("invalid", check_invalid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_corpus),
        cmocka_unit_test(test_invalid_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
