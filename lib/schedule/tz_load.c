/* tz_load.c: finding a zone's file (tz.h). The name becomes a path under
 * FP_TZ_DIR, so it is checked first: a configuration must not be able to
 * read "../../etc/shadow" through a time zone. "UTC" needs no file. The file
 * is read once, at configuration load, never on the daemon's loop. */
#include "schedule/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Real files are a few KB; anything far larger is not a zone. */
#define TZ_FILE_MAX (256 * 1024)

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= FP_TZ_NAME_MAX || name[0] == '/' || strstr(name, "..") != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '+' || ch == '-' || ch == '/'))
            return false;
    }
    return true;
}

static int read_file(const char *path, uint8_t *buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    ssize_t n;
    while (got < TZ_FILE_MAX && (n = read(fd, buf + got, TZ_FILE_MAX - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return 0;
}

int fp_tz_load(const char *name, fp_tz_t **out, fp_err_t *err)
{
    if (strcmp(name, "UTC") == 0) {
        fp_tz_t *tz = calloc(1, sizeof *tz);
        if (tz == NULL)
            return fp_err_set(err, -ENOMEM, "out of memory");
        tz->ntypes = 1;
        snprintf(tz->name, sizeof tz->name, "UTC");
        *out = tz;
        return 0;
    }
    if (!name_ok(name))
        return fp_err_set(err, FP_ECONFIG,
                          "unknown time zone (a name such as \"Europe/Berlin\" is expected)");
    char path[sizeof FP_TZ_DIR + FP_TZ_NAME_MAX + 1];
    snprintf(path, sizeof path, "%s/%s", FP_TZ_DIR, name);
    uint8_t *buf = malloc(TZ_FILE_MAX);
    size_t len = 0;
    int rc = buf != NULL ? read_file(path, buf, &len) : -ENOMEM;
    if (rc == -ENOMEM)
        rc = fp_err_set(err, rc, "out of memory");
    else if (rc < 0)
        rc = fp_err_set(err, FP_ECONFIG, "unknown time zone (cannot read %s: %s; is tzdata "
                        "installed?)", path, strerror(-rc));
    else if ((rc = fp_tz_parse(buf, len, out, err)) == 0)
        snprintf((*out)->name, sizeof (*out)->name, "%s", name);
    free(buf);
    return rc;
}
