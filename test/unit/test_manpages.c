/* test_manpages.c: man/forkpool.1 and man/forkpool.toml.5 say what the binary
 * and the schema do. Every command `forkpool --help` lists has its ".SS NAME"
 * part in forkpool.1, holding every long option (and action word) that
 * `forkpool NAME --help` prints; every key of the schema table
 * (fp__config_schema, as test_config's docs_match_schema walks it) has its
 * ".B key" entry under ".SS [section]" in forkpool.toml.5, with the same
 * default. Both ways: a part or key the pages name must exist too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "harness.h"
#include "schema_text.h"

#define MAX_WORDS 64

/* What `forkpool ARGS...` prints on stdout (exit 0 expected); free(). */
static char *help_of(const char *command)
{
    const char *bin = fp_th_env("FORKPOOL_BIN");
    const char *argv[] = {bin, command != NULL ? command : "--help", "--help", NULL};
    if (command == NULL)
        argv[2] = NULL;
    fp_th_result_t res;
    assert_int_equal(fp_th_run(argv, NULL, NULL, 0, 10000, &res), 0);
    assert_int_equal(res.status, 0);
    free(res.err);
    return res.out;
}

/* The commands of `forkpool --help`: the first word of each line after
 * "Commands:", up to the blank line. Returns how many (words are owned). */
static int help_commands(const char *help, char *words[MAX_WORDS])
{
    const char *p = strstr(help, "Commands:\n");
    assert_non_null(p);
    p += strlen("Commands:\n");
    int n = 0;
    while (*p == ' ' && n < MAX_WORDS) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " \n");
        words[n++] = strndup(p, len);
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    return n;
}

/* Every distinct "--name" in a usage text, owned; returns how many. */
static int long_options(const char *usage, char *words[MAX_WORDS])
{
    int n = 0;
    for (const char *p = usage; (p = strstr(p, "--")) != NULL && n < MAX_WORDS;) {
        p += 2;
        size_t len = 0;
        while (isalnum((unsigned char)p[len]) || p[len] == '-')
            len++;
        bool seen = len == 0;
        for (int i = 0; i < n && !seen; i++)
            seen = strlen(words[i]) == len && strncmp(words[i], p, len) == 0;
        if (!seen)
            words[n++] = strndup(p, len);
        p += len;
    }
    return n;
}

/* The action words of "usage: forkpool NAME a|b|c ...", owned; how many. */
static int action_words(const char *usage, const char *name, char *words[MAX_WORDS])
{
    char head[128];
    snprintf(head, sizeof head, "usage: forkpool %s ", name);
    if (strncmp(usage, head, strlen(head)) != 0)
        return 0;
    const char *w = usage + strlen(head);
    size_t len = strcspn(w, " \n");
    if (memchr(w, '|', len) == NULL || strchr("[-", w[0]) != NULL)
        return 0;
    int n = 0;
    for (const char *p = w; p < w + len && n < MAX_WORDS;) {
        size_t k = strcspn(p, "| \n");
        words[n++] = strndup(p, k);
        p += k + 1;
    }
    return n;
}

static void free_words(char **words, int n)
{
    for (int i = 0; i < n; i++)
        free(words[i]);
}

/* The part of a page after the line "head" up to the next .SS or .SH;
 * NULL when there is none. */
static const char *page_part(const char *page, const char *head, size_t *len)
{
    char needle[256];
    snprintf(needle, sizeof needle, "\n%s\n", head);
    const char *start = strstr(page, needle);
    if (start == NULL)
        return NULL;
    start += strlen(needle) - 1; /* keep the newline: lines inside start with "\n" */
    const char *ss = strstr(start, "\n.SS "), *sh = strstr(start, "\n.SH ");
    const char *end = ss != NULL && (sh == NULL || ss < sh) ? ss : sh;
    *len = end != NULL ? (size_t)(end - start) : strlen(start);
    return start;
}

/* Whether part[0..len) holds the option as roff writes it: "\-\-print\-json",
 * not followed by more of a name. */
static bool part_has_option(const char *part, size_t len, const char *option)
{
    char roff[256] = "\\-\\-";
    size_t n = strlen(roff);
    for (const char *o = option; *o != '\0' && n + 3 < sizeof roff; o++) {
        if (*o == '-')
            roff[n++] = '\\';
        roff[n++] = *o;
    }
    roff[n] = '\0';
    for (const char *p = part; (p = memmem(p, (size_t)(part + len - p), roff, n)) != NULL;
         p += n) {
        const char *after = p + n;
        if (after >= part + len || (!isalnum((unsigned char)*after) &&
                                    strncmp(after, "\\-", 2) != 0 && *after != '_'))
            return true;
    }
    return false;
}

/* Whether part holds a line exactly equal to line. */
static bool part_has_line(const char *part, size_t len, const char *line)
{
    char needle[256];
    int n = snprintf(needle, sizeof needle, "\n%s\n", line);
    return memmem(part, len, needle, (size_t)n) != NULL ||
           (len >= (size_t)n - 1 && memcmp(part + len - (size_t)n + 1, needle, (size_t)n - 1) == 0);
}

/* forkpool.1 against the binary; returns the number of disagreements,
 * each printed. */
static int check_command_page(const char *page)
{
    int bad = 0;
    char *help = help_of(NULL);
    char *commands[MAX_WORDS];
    int ncommands = help_commands(help, commands);
    assert_true(ncommands >= 7); /* run enqueue stats dead jobs check-config version */
    for (int i = 0; i < ncommands; i++) {
        char head[128];
        snprintf(head, sizeof head, ".SS %s", commands[i]);
        size_t len = 0;
        const char *part = page_part(page, head, &len);
        if (part == NULL) {
            print_error("forkpool.1 lacks a part \"%s\" for the command %s\n", head, commands[i]);
            bad++;
            continue;
        }
        char *usage = help_of(commands[i]);
        char *words[MAX_WORDS];
        int n = long_options(usage, words);
        for (int k = 0; k < n; k++)
            if (!part_has_option(part, len, words[k])) {
                print_error("forkpool.1: \"%s\" lacks the option --%s (forkpool %s --help)\n",
                            head, words[k], commands[i]);
                bad++;
            }
        free_words(words, n);
        n = action_words(usage, commands[i], words);
        for (int k = 0; k < n; k++) {
            char line[128];
            snprintf(line, sizeof line, ".B %s", words[k]);
            if (!part_has_line(part, len, line)) {
                print_error("forkpool.1: \"%s\" lacks the action %s (a line \"%s\")\n", head,
                            words[k], line);
                bad++;
            }
        }
        free_words(words, n);
        free(usage);
    }
    /* The other way: every command part of the page is a command. */
    const char *cmds = strstr(page, "\n.SH COMMANDS\n");
    const char *cmds_end = cmds != NULL ? strstr(cmds + 1, "\n.SH ") : NULL;
    assert_non_null(cmds);
    for (const char *s = strstr(cmds, "\n.SS "); s != NULL && (cmds_end == NULL || s < cmds_end);
         s = strstr(s + 1, "\n.SS ")) {
        const char *name = s + strlen("\n.SS ");
        size_t nlen = strcspn(name, "\n");
        bool known = false;
        for (int i = 0; i < ncommands && !known; i++)
            known = strlen(commands[i]) == nlen && strncmp(commands[i], name, nlen) == 0;
        if (!known) {
            print_error("forkpool.1 has a part for %.*s, a command forkpool does not have\n",
                        (int)nlen, name);
            bad++;
        }
    }
    free_words(commands, ncommands);
    free(help);
    return bad;
}

/* forkpool.toml.5 against the schema: each key is ".TP", ".B key", then a
 * line "TYPE; default: DEFAULT". Returns the number of disagreements. */
static int check_config_page(const char *page)
{
    int bad = 0;
    for (size_t i = 0; i < fp__config_schema_len; i++) {
        const fp__ckey_t *k = &fp__config_schema[i];
        char head[128];
        snprintf(head, sizeof head, ".SS [%s]", k->section);
        size_t len = 0;
        const char *part = page_part(page, head, &len);
        if (part == NULL) {
            print_error("forkpool.toml.5 lacks a part \"%s\"\n", head);
            bad++;
            continue;
        }
        char needle[160];
        int n = snprintf(needle, sizeof needle, "\n.TP\n.B %s\n", k->key);
        const char *entry = memmem(part, len, needle, (size_t)n);
        if (entry == NULL) {
            print_error("forkpool.toml.5 lacks the key [%s] %s (\"%s\")\n", k->section, k->key,
                        ".B key after .TP");
            bad++;
            continue;
        }
        const char *line = entry + n;
        size_t llen = strcspn(line, "\n");
        char def[256], want[300];
        fp_ts_default_toml(k, def, sizeof def);
        int w = snprintf(want, sizeof want, "; default: %s", def);
        if (llen < (size_t)w || memcmp(line + llen - (size_t)w, want, (size_t)w) != 0) {
            print_error("forkpool.toml.5: [%s] %s should give the default %s\n  line: %.*s\n",
                        k->section, k->key, def, (int)llen, line);
            bad++;
        }
    }
    /* The other way: every ".SS [section]" key entry is in the schema. */
    for (const char *s = strstr(page, "\n.SS ["); s != NULL; s = strstr(s + 1, "\n.SS [")) {
        const char *name = s + strlen("\n.SS [");
        size_t slen = strcspn(name, "]");
        char section[64];
        snprintf(section, sizeof section, "%.*s", (int)slen, name);
        if (strcmp(section, "handlers.NAME") == 0)
            continue;
        bool type_limits = strcmp(section, "limits.TYPE") == 0; /* config_limits.c's keys */
        char head[128];
        snprintf(head, sizeof head, ".SS [%s]", section);
        size_t len = 0;
        const char *part = page_part(page, head, &len);
        assert_non_null(part);
        for (const char *e = memmem(part, len, "\n.TP\n.B ", 8); e != NULL;
             e = memmem(e + 1, (size_t)(part + len - e - 1), "\n.TP\n.B ", 8)) {
            const char *key = e + 8;
            size_t klen = strcspn(key, "\n");
            if (type_limits ? !fp_ts_type_limit_key(key, klen)
                            : !fp_ts_schema_has_key(section, key, klen)) {
                print_error("forkpool.toml.5 names [%s] %.*s, a key the schema does not have\n",
                            section, (int)klen, key);
                bad++;
            }
        }
    }
    return bad;
}

/* The .TH line names the version the build has (project() in CMakeLists.txt). */
static void assert_page_version(const char *page, const char *name)
{
    const char *th = strstr(page, "\n.TH ");
    assert_non_null(th);
    size_t len = strcspn(th + 1, "\n");
    if (memmem(th, len + 1, "\"forkpool " FP_VERSION "\"", strlen("\"forkpool " FP_VERSION "\"")) ==
        NULL)
        fail_msg("%s: the .TH line should name \"forkpool %s\": %.*s", name, FP_VERSION, (int)len,
                 th + 1);
}

static void command_page_matches_binary(void **state)
{
    (void)state;
    char *page = fp_th_read_source("man/forkpool.1", NULL);
    assert_page_version(page, "forkpool.1");
    assert_int_equal(check_command_page(page), 0);
    free(page);
}

static void config_page_matches_schema(void **state)
{
    (void)state;
    char *page = fp_th_read_source("man/forkpool.toml.5", NULL);
    assert_page_version(page, "forkpool.toml.5");
    assert_int_equal(check_config_page(page), 0);
    free(page);
}

/* Drops the first occurrence of what from text, in place. */
static void cut(char *text, const char *what)
{
    char *p = strstr(text, what);
    assert_non_null(p);
    memmove(p, p + strlen(what), strlen(p + strlen(what)) + 1);
}

/* The checks themselves catch a page that lost an option, an action, a
 * command, a key, or has a stale default. */
static void checks_catch_drift(void **state)
{
    (void)state;
    char *page = fp_th_read_source("man/forkpool.1", NULL);
    cut(page, ".B \\-\\-burst\n");
    assert_int_equal(check_command_page(page), 1);
    cut(page, ".B purge\n");
    assert_int_equal(check_command_page(page), 2);
    free(page);
    page = fp_th_read_source("man/forkpool.1", NULL);
    cut(page, "\n.SS version");
    assert_int_equal(check_command_page(page), 1);
    free(page);

    page = fp_th_read_source("man/forkpool.toml.5", NULL);
    cut(page, "\n.TP\n.B max_connections");
    assert_int_equal(check_config_page(page), 1);
    free(page);
    page = fp_th_read_source("man/forkpool.toml.5", NULL);
    cut(page, "default: \"25s\"");
    assert_int_equal(check_config_page(page), 1);
    free(page);

    assert_true(part_has_option("\n\\-\\-print\\-json\n", 16, "print-json"));
    assert_false(part_has_option("\n\\-\\-print\\-json\n", 16, "print"));
    assert_false(part_has_option("\n.B \\-\\-print\\-json\n", 19, "json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(command_page_matches_binary),
        cmocka_unit_test(config_page_matches_schema),
        cmocka_unit_test(checks_catch_drift),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
