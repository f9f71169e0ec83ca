/* config_file.c: getting the configuration's text: the size cap, the NUL
 * check that names what a binary file usually is, the bounded read, the
 * TOML parse, and where the file is looked for. Building the configuration
 * from the parsed tree is config.c's (fp__config_build). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/units.h"
#include "config/config_internal.h"

/* A configuration has no business being larger; the cap also keeps a
 * runaway file (a log written to the wrong path, a "10 MB line") away from
 * the parser. */
#define CONFIG_MAX_BYTES ((size_t)1 << 20)

/* NUL bytes are checked here, before the parser, so the message can say
 * what such a file usually is. */
static int check_bytes(const char *text, size_t len, const char *name, fp_err_t *err)
{
    char max[16];
    if (len > CONFIG_MAX_BYTES) {
        fp_units_format_size((int64_t)CONFIG_MAX_BYTES, max, sizeof max);
        return fp_err_set(err, FP_ECONFIG, "%s: too large for a configuration file (over %s)",
                          name, max);
    }
    const char *nul = memchr(text, '\0', len);
    if (nul == NULL)
        return 0;
    int line = 1, col = 1;
    for (const char *p = text; p < nul; p++, col++) {
        if (*p == '\n') {
            line++;
            col = 0;
        }
    }
    return fp_err_set_at(err, FP_ETOML, line, col,
                         "%s:%d:%d: NUL byte in the file (is it binary, or UTF-16?)", name, line,
                         col);
}

int fp_config_load_text(const char *text, size_t len, const char *name, fp_config_t **out,
                        fp_err_t *err)
{
    fp_err_t terr = {0};
    int rc;
    if (name == NULL)
        name = "(text)";
    if (text == NULL)
        text = "";
    if ((rc = check_bytes(text, len, name, err)) < 0)
        return rc;
    fp_toml_node_t *doc = fp_toml_parse(text, len, &terr);
    if (doc == NULL) {
        /* A too-deep document is as much a configuration error as bad syntax. */
        int code = terr.code == FP_ELIMIT || terr.code == 0 ? FP_ETOML : terr.code;
        if (terr.line > 0)
            return fp_err_set_at(err, code, terr.line, terr.col, "%s:%d:%d: %s", name,
                                 terr.line, terr.col, terr.msg);
        return fp_err_set(err, code, "%s: %s", name, terr.msg);
    }
    return fp__config_build(name, doc, out, err);
}

/* Reads at most CONFIG_MAX_BYTES + 1 bytes: enough for check_bytes to
 * refuse a huge file or an endless pipe without holding all of it. */
static int read_all(int fd, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return -ENOMEM;
    while (n <= CONFIG_MAX_BYTES) {
        if (n == cap) {
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                return -ENOMEM;
            }
            buf = grown;
            cap *= 2;
        }
        size_t want = (cap < CONFIG_MAX_BYTES + 1 ? cap : CONFIG_MAX_BYTES + 1) - n;
        ssize_t r = read(fd, buf + n, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int rc = -errno;
            free(buf);
            return rc;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;
}

int fp_config_load(const char *path, fp_config_t **out, fp_err_t *err)
{
    struct stat st;
    char *text = NULL, max[16];
    size_t len = 0;
    int rc;
    if (path == NULL)
        return fp__config_build("(defaults)", NULL, out, err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        return fp_err_set(err, rc, "%s: %s", path, strerror(-rc));
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > CONFIG_MAX_BYTES) {
        close(fd);
        fp_units_format_size((int64_t)CONFIG_MAX_BYTES, max, sizeof max);
        return fp_err_set(err, FP_ECONFIG, "%s: too large for a configuration file (over %s)",
                          path, max);
    }
    rc = read_all(fd, &text, &len);
    close(fd);
    if (rc < 0)
        return fp_err_set(err, rc, "%s: %s", path, strerror(-rc));
    rc = fp_config_load_text(text, len, path, out, err);
    free(text);
    return rc;
}

const char *fp_config_resolve_path(const char *cli_path)
{
    const char *env = getenv("FORKPOOL_CONFIG");
    if (cli_path != NULL)
        return cli_path;
    if (env != NULL && *env != '\0')
        return env;
    if (access("forkpool.toml", F_OK) == 0)
        return "forkpool.toml";
    return NULL;
}
