/* pidfile.c: the locked pidfile (see pidfile.h). */
#include "supervisor/pidfile.h"

#include "base/log.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The holder writes its pid just after taking the lock, so a reader may
 * catch the file still empty. */
static long holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

/* Whether fd still is the file at path: the previous holder may have
 * removed it between our open and our lock. */
static bool still_linked(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

static int open_locked(const char *path, int *out, fp_err_t *err)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
            return fp_err_set(err, FP_ECONFIG, "cannot open daemon.pidfile %s: %s", path,
                              strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int saved = errno;
            long pid = holder_pid(fd);
            close(fd);
            if (saved == EWOULDBLOCK)
                return fp_err_set(err, FP_ECONFIG,
                                  "daemon.pidfile %s is locked by pid %ld: another forkpool "
                                  "is running with it",
                                  path, pid);
            return fp_err_set(err, FP_ECONFIG, "cannot lock daemon.pidfile %s: %s", path,
                              strerror(saved));
        }
        if (still_linked(fd, path)) {
            *out = fd;
            return 0;
        }
        close(fd);
    }
    return fp_err_set(err, FP_ECONFIG, "daemon.pidfile %s keeps being replaced", path);
}

int fp_pidfile_take(const char *path, fp_pidfile_t *pf, fp_err_t *err)
{
    pf->fd = -1;
    pf->path[0] = '\0';
    if (path == NULL || path[0] == '\0')
        return 0;
    if (strlen(path) >= sizeof pf->path)
        return fp_err_set(err, FP_ECONFIG, "daemon.pidfile: path too long");
    int fd = -1, rc = open_locked(path, &fd, err);
    if (rc < 0)
        return rc;
    /* Checked before writing: another name of a file (a hard link planted
     * where the daemon's user can write) would be truncated to our pid. */
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        close(fd);
        return fp_err_set(err, FP_ECONFIG,
                          "daemon.pidfile %s is not a plain file with a single link", path);
    }
    /* Written over the old content, then cut to length: a reader never
     * sees the file empty because of us. */
    char line[32];
    int len = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (pwrite(fd, line, (size_t)len, 0) != len || ftruncate(fd, len) != 0) {
        int saved = errno;
        close(fd);
        return fp_err_set(err, FP_ECONFIG, "cannot write daemon.pidfile %s: %s", path,
                          strerror(saved));
    }
    pf->fd = fd;
    snprintf(pf->path, sizeof pf->path, "%s", path);
    return 0;
}

void fp_pidfile_release(fp_pidfile_t *pf)
{
    if (pf->fd < 0)
        return;
    /* A file we could not unlink is emptied instead; if even that fails, the
     * next start finds a pid that is no longer ours and takes the file over,
     * so there is nothing left to do but say so. */
    if ((!still_linked(pf->fd, pf->path) || unlink(pf->path) != 0) && ftruncate(pf->fd, 0) != 0)
        fp_log_warn("pidfile", "%s: could not empty it: %s", pf->path, strerror(errno));
    close(pf->fd);
    pf->fd = -1;
}
