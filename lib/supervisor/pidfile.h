/* pidfile.h: daemon.pidfile, held with an exclusive flock(2) for the whole
 * run. The lock, not the file's existence, says a daemon runs: a second one
 * on the same path refuses to start and names the holder, and a file left
 * behind by a crash (no lock on it) is simply taken over. */
#ifndef FORKPOOL_PIDFILE_H
#define FORKPOOL_PIDFILE_H

#include "base/err.h"

typedef struct fp_pidfile_s {
    int fd; /* -1 when none */
    char path[4096];
} fp_pidfile_t;

/* Opens, locks and writes our pid ("" path: nothing, fd -1). FP_ECONFIG
 * when another process holds the lock, with its pid in the message. */
int fp_pidfile_take(const char *path, fp_pidfile_t *pf, fp_err_t *err);

/* Removes the file when the directory lets us (after a privilege drop it
 * may not: the file is then emptied, and its lock goes with us either way). */
void fp_pidfile_release(fp_pidfile_t *pf);

#endif
