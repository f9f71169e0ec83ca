/* privs.h: daemon.user / daemon.group, as nginx and php-fpm do it. Started
 * as root, the daemon opens what only root may (the health port, the log
 * file, the pidfile), hands those files to the target user, then drops for
 * good before any plugin or child runs. The decision is a pure function of
 * the looked-up names and the effective uid; the system calls stay thin. */
#ifndef FORKPOOL_PRIVS_H
#define FORKPOOL_PRIVS_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/err.h"

/* What getpwnam / getgrnam answered for a configured name. */
typedef struct fp_privs_id_s {
    bool found;
    uid_t uid; /* the user's uid (a group leaves it 0) */
    gid_t gid; /* the user's primary group, or the group */
} fp_privs_id_t;

typedef struct fp_privs_plan_s {
    bool drop;      /* there is something to change (started as root) */
    bool set_uid;   /* the uid changes: initgroups for user, setuid, and verify */
    bool not_root;  /* names configured but not root: kept, with a warning */
    uid_t uid;
    gid_t gid;
    char user[256]; /* for initgroups and the messages */
    char group[256];
} fp_privs_plan_t;

/* The pure decision: what start-up does for daemon.user / daemon.group
 * ("" = not set) given the lookups and the effective uid. */
int fp_privs_decide(const char *user, const char *group, const fp_privs_id_t *pw,
                    const fp_privs_id_t *gr, uid_t euid, fp_privs_plan_t *out, fp_err_t *err);

/* Looks the names up and decides. */
int fp_privs_resolve(const char *user, const char *group, fp_privs_plan_t *out, fp_err_t *err);

/* Whether a file root opened at a path may be handed to the target user:
 * fd_st from fstat of what was opened, path_st from lstat of the path. Only
 * a plain file with one link, still at that path: a symlink or hard link
 * planted in a directory the user can write would otherwise hand it some
 * other file (/etc/shadow). */
bool fp_privs_may_chown(const struct stat *fd_st, const struct stat *path_st);

/* Hands a file the daemon opened as root at path to the target user and
 * group, when fp_privs_may_chown agrees; FP_ECONFIG otherwise. */
int fp_privs_chown_fd(const fp_privs_plan_t *plan, int fd, const char *path, const char *what,
                      fp_err_t *err);

/* Drops for good: supplementary groups (initgroups for a user, none for a
 * group alone), gid, uid; then checks that the ids took and that root cannot
 * be regained. Every failure is FP_ECONFIG (exit 78). */
int fp_privs_apply(const fp_privs_plan_t *plan, fp_err_t *err);

/* Whether path could be opened for reading after the drop: tried in a
 * forked child that drops first. 0 or -errno. */
int fp_privs_can_read(const fp_privs_plan_t *plan, const char *path);

#endif
