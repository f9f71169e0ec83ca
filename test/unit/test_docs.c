/* test_docs.c: the documents name code that exists. docs/ and the README
 * tell a reader which file and which function decides a thing; after code
 * moves, a stale name sends them nowhere. Every `path` in backticks that
 * starts with a source folder must exist, and every `snake_case_name` in
 * backticks (a function, a key, a metric) must occur as a whole word in the
 * sources, the tests or the example configuration. A `section.key` whose
 * section is a configuration section must be a key of the schema. */
#include <ctype.h>
#include <dirent.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "config/config_internal.h"
#include "harness.h"

static fp_buf_t corpus;  /* every source text, one after the other */

static const char *const source_dirs[] = {"lib", "cmd", "include", "scripts", "bench",
                                          "test/unit", "test/integration", "test/support",
                                          "test/data", "examples", "python"};

static int add_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    /* This file holds names that must be missing: it is not part of it. */
    size_t n = strlen(path);
    if (type != FTW_F || (n >= 11 && strcmp(path + n - 11, "test_docs.c") == 0))
        return 0;
    size_t len = 0;
    char *text = fp_th_read_file(path, &len);
    if (text != NULL) {
        assert_int_equal(fp_buf_append(&corpus, text, len), 0);
        assert_int_equal(fp_buf_append(&corpus, "\n", 1), 0);
        free(text);
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    const char *root = fp_th_env("FP_SOURCE_DIR");
    char path[4096];
    for (size_t i = 0; i < sizeof source_dirs / sizeof source_dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, source_dirs[i]);
        if (nftw(path, add_file, 16, FTW_PHYS) != 0)
            return -1;
    }
    snprintf(path, sizeof path, "%s/config.example.toml", root);
    add_file(path, NULL, FTW_F, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fp_buf_free(&corpus);
    return 0;
}

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static bool corpus_has_word(const char *word)
{
    size_t n = strlen(word);
    const char *end = corpus.data + corpus.len;
    for (const char *p = corpus.data; p < end && (p = memmem(p, (size_t)(end - p), word, n));
         p += n) {
        bool starts = p == corpus.data || !word_char(p[-1]);
        bool ends = p + n == end || !word_char(p[n]);
        if (starts && ends)
            return true;
    }
    return false;
}

static bool is_source_path(const char *s)
{
    static const char *const roots[] = {"lib/", "cmd/", "include/", "scripts/", "bench/",
                                        "test/", "docs/", "examples/", "fuzz/", "python/",
                                        "man/", "contrib/"};
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
        if (strncmp(s, roots[i], strlen(roots[i])) == 0) /* capitals: a placeholder, NAME */
            return strpbrk(s, " *<>{}ABCDEFGHIJKLMNOPQRSTUVWXYZ") == NULL;
    return false;
}

/* A lower-case identifier with an underscore, optionally called: `fp_x()`. */
static bool is_name(char *s)
{
    size_t n = strlen(s);
    if (n > 2 && strcmp(s + n - 2, "()") == 0)
        s[n -= 2] = '\0';
    if (n == 0 || !islower((unsigned char)s[0]) || strchr(s, '_') == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

/* `section.key` naming a configuration key that the schema does not have
 * ([handlers] keys are the handlers' own, so not checked; `redis.call` and
 * `redis.pcall` are the scripts' Lua API). */
static bool is_stale_config_key(const char *s)
{
    if (strcmp(s, "redis.call") == 0 || strcmp(s, "redis.pcall") == 0)
        return false;
    const char *dot = strchr(s, '.');
    char section[64];
    size_t n = dot != NULL ? (size_t)(dot - s) : 0;
    if (n == 0 || n >= sizeof section || strchr(dot + 1, '.') != NULL || dot[1] == '\0')
        return false;
    for (const char *p = s; *p != '\0'; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_' && *p != '.')
            return false;
    memcpy(section, s, n);
    section[n] = '\0';
    if (strcmp(section, FP__CONFIG_HANDLERS) == 0 || !fp__config_is_section(section))
        return false;
    return fp__config_find_key(section, dot + 1) == NULL;
}

/* Checks every `span` of one document; returns how many are stale. */
static int check_document(const char *root, const char *name)
{
    char *text = fp_th_read_source(name, NULL);
    int stale = 0;
    for (char *p = text; (p = strchr(p, '`')) != NULL;) {
        if (strncmp(p, "```", 3) == 0) { /* a code block is an example, not a reference */
            char *close = strstr(p + 3, "```");
            p = close != NULL ? close + 3 : p + 3;
            continue;
        }
        char *close = strchr(p + 1, '`');
        if (close == NULL)
            break;
        char span[256];
        size_t n = (size_t)(close - p - 1);
        if (n > 0 && n < sizeof span && memchr(p + 1, '\n', n) == NULL) {
            memcpy(span, p + 1, n);
            span[n] = '\0';
            char full[4400];
            snprintf(full, sizeof full, "%s/%s", root, span);
            if (is_source_path(span) && access(full, F_OK) != 0) {
                print_error("%s: `%s` does not exist\n", name, span);
                stale++;
            } else if (is_stale_config_key(span)) {
                print_error("%s: `%s` is not a configuration key\n", name, span);
                stale++;
            } else if (is_name(span) && !corpus_has_word(span)) {
                print_error("%s: `%s` is named nowhere in the sources\n", name, span);
                stale++;
            }
        }
        p = close + 1;
    }
    free(text);
    return stale;
}

static void test_documents_name_existing_code(void **state)
{
    (void)state;
    const char *root = fp_th_env("FP_SOURCE_DIR");
    int stale = check_document(root, "README.md");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/docs", root);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int documents = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n > 3 && strcmp(e->d_name + n - 3, ".md") == 0) {
            char name[300];
            snprintf(name, sizeof name, "docs/%s", e->d_name);
            stale += check_document(root, name);
            documents++;
        }
    }
    closedir(d);
    assert_true(documents >= 4); /* architecture, config, protocol, redis */
    assert_int_equal(stale, 0);
}

/* The checker itself: a name that is nowhere and a path that is not there
 * are caught, a real one is not. */
static void test_checker_catches_stale_names(void **state)
{
    (void)state;
    assert_true(corpus_has_word("fp_supervisor_run"));
    assert_false(corpus_has_word("fp_supervisor_ru"));
    assert_false(corpus_has_word("no_such_function_anywhere_at_all"));
    char a[] = "fp_pool_room()", b[] = "Content-Type", c[] = "backoff_base";
    assert_true(is_name(a) && strcmp(a, "fp_pool_room") == 0);
    assert_false(is_name(b));
    assert_true(is_name(c));
    assert_true(is_source_path("lib/pool/pool.c"));
    assert_true(is_source_path("man/forkpool.1"));
    assert_false(is_source_path("P:{Q}:jobs"));
    assert_false(is_source_path("fuzz/corpus/NAME/"));
    assert_false(is_stale_config_key("pool.max_memory_per_child"));
    assert_true(is_stale_config_key("pool.max_memory"));
    assert_false(is_stale_config_key("handlers.word_stats"));
    assert_false(is_stale_config_key("plugin.h"));
    assert_false(is_stale_config_key("redis.pcall"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_catches_stale_names),
        cmocka_unit_test(test_documents_name_existing_code),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
