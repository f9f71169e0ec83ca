/* aq_name.c: daemon.name's guard on an embedded queue file, the counterpart
 * of the Redis backend's name lease (queue/name_lease.h). Two daemons under
 * one name on one file would be one consumer: the second's first pull takes
 * the first's running rows back as its own (FP_SQLQ_PULL_OWN), and each
 * renews and settles the other's rows. One host shares a SQLite file, so a
 * POSIX record lock is the guard: one byte of PATH-names.lock, at an offset
 * given by a hash of the name, locked for writing by the daemon for its
 * life. The kernel drops it when the process dies (a SIGKILL, an OOM kill),
 * so a restart after a crash takes it at once, with no lease to wait out;
 * record locks are not inherited across fork, so children never hold it. */
#include "sqlq/aq_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* FNV-1a, 62 bits: an offset in the lock file (off_t positive). Two names
 * with one hash would refuse each other: 2^-62 per pair. */
static off_t name_offset(const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (off_t)(h & 0x3fffffffffffffffULL);
}

int fp_aq_name_lock(const char *path, const char *name, int *fd, fp_err_t *err)
{
    char lock_path[4200];
    if ((size_t)snprintf(lock_path, sizeof lock_path, "%s-names.lock", path) >= sizeof lock_path)
        return fp_err_set(err, FP_ECONFIG, "[sqlite] path too long: %s", path);
    int f = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0)
        return fp_err_set(err, -errno, "cannot open %s: %s", lock_path, strerror(errno));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = name_offset(name),
                       .l_len = 1};
    if (fcntl(f, F_SETLK, &fl) == 0) {
        *fd = f;
        return 0;
    }
    int e = errno;
    long holder = 0;
    struct flock probe = fl;
    if ((e == EACCES || e == EAGAIN) && fcntl(f, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK)
        holder = (long)probe.l_pid;
    close(f);
    if (e == EACCES || e == EAGAIN)
        return fp_err_set(err, FP_ECONFIG,
                          "daemon.name \"%s\" is in use on the queue file %s by another daemon "
                          "(pid %ld): give each daemon on one file its own daemon.name",
                          name, path, holder);
    return fp_err_set(err, -e, "cannot lock %s: %s", lock_path, strerror(e));
}
