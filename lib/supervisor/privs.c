/* privs.c: dropping root for daemon.user / daemon.group (see privs.h). */
#include "supervisor/privs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int fp_privs_decide(const char *user, const char *group, const fp_privs_id_t *pw,
                    const fp_privs_id_t *gr, uid_t euid, fp_privs_plan_t *out, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    bool has_user = user != NULL && user[0] != '\0', has_group = group != NULL && group[0] != '\0';
    if (!has_user && !has_group)
        return 0;
    if (has_user && !pw->found)
        return fp_err_set(err, FP_ECONFIG, "daemon.user \"%s\" does not exist", user);
    if (has_group && !gr->found)
        return fp_err_set(err, FP_ECONFIG, "daemon.group \"%s\" does not exist", group);
    snprintf(out->user, sizeof out->user, "%s", has_user ? user : "");
    snprintf(out->group, sizeof out->group, "%s", has_group ? group : "");
    /* Only root can switch; anyone else already is who they will be, and
     * says so rather than failing (nginx ignores "user" the same way). */
    if (euid != 0) {
        out->not_root = true;
        return 0;
    }
    out->drop = true;
    out->gid = has_group ? gr->gid : pw->gid;
    /* user = "root" keeps uid 0: nothing to give up, nothing to verify. */
    out->set_uid = has_user && pw->uid != 0;
    out->uid = has_user ? pw->uid : 0;
    return 0;
}

int fp_privs_resolve(const char *user, const char *group, fp_privs_plan_t *out, fp_err_t *err)
{
    fp_privs_id_t pw = {0}, gr = {0};
    struct passwd *p = user != NULL && user[0] != '\0' ? getpwnam(user) : NULL;
    struct group *g = group != NULL && group[0] != '\0' ? getgrnam(group) : NULL;
    if (p != NULL)
        pw = (fp_privs_id_t){true, p->pw_uid, p->pw_gid};
    if (g != NULL)
        gr = (fp_privs_id_t){true, 0, g->gr_gid};
    return fp_privs_decide(user, group, &pw, &gr, geteuid(), out, err);
}

bool fp_privs_may_chown(const struct stat *fd_st, const struct stat *path_st)
{
    return S_ISREG(fd_st->st_mode) && fd_st->st_nlink == 1 && !S_ISLNK(path_st->st_mode) &&
           fd_st->st_dev == path_st->st_dev && fd_st->st_ino == path_st->st_ino;
}

int fp_privs_chown_fd(const fp_privs_plan_t *plan, int fd, const char *path, const char *what,
                      fp_err_t *err)
{
    if (!plan->drop || fd < 0)
        return 0;
    struct stat fd_st, path_st;
    if (fstat(fd, &fd_st) != 0 || lstat(path, &path_st) != 0 ||
        !fp_privs_may_chown(&fd_st, &path_st))
        return fp_err_set(err, FP_ECONFIG,
                          "refusing to hand %s %s to daemon.user: not a plain file with a "
                          "single link",
                          what, path);
    if (fchown(fd, plan->set_uid ? plan->uid : (uid_t)-1, plan->gid) != 0)
        return fp_err_set(err, FP_ECONFIG, "cannot hand %s to %s:%d: %s", what,
                          plan->set_uid ? plan->user : "root", (int)plan->gid, strerror(errno));
    return 0;
}

/* The ids took, and root is gone for good when a user was given. */
static int verify(const fp_privs_plan_t *plan, fp_err_t *err)
{
    gid_t rg, eg, sg;
    uid_t ru, eu, su;
    if (getresgid(&rg, &eg, &sg) != 0 || rg != plan->gid || eg != plan->gid || sg != plan->gid)
        return fp_err_set(err, FP_ECONFIG, "group switch to %d did not take", (int)plan->gid);
    if (!plan->set_uid)
        return 0;
    if (getresuid(&ru, &eu, &su) != 0 || ru != plan->uid || eu != plan->uid || su != plan->uid)
        return fp_err_set(err, FP_ECONFIG, "user switch to %s did not take", plan->user);
    if (setuid(0) == 0)
        return fp_err_set(err, FP_ECONFIG, "root could be regained after switching to %s",
                          plan->user);
    return 0;
}

int fp_privs_apply(const fp_privs_plan_t *plan, fp_err_t *err)
{
    if (!plan->drop)
        return 0;
    /* Groups first: once the uid is gone, they can no longer change. */
    int rc = plan->set_uid ? initgroups(plan->user, plan->gid) : setgroups(0, NULL);
    if (rc != 0)
        return fp_err_set(err, FP_ECONFIG, "cannot set the supplementary groups: %s",
                          strerror(errno));
    if (setresgid(plan->gid, plan->gid, plan->gid) != 0)
        return fp_err_set(err, FP_ECONFIG, "cannot switch to group %d: %s", (int)plan->gid,
                          strerror(errno));
    if (plan->set_uid && setresuid(plan->uid, plan->uid, plan->uid) != 0)
        return fp_err_set(err, FP_ECONFIG, "cannot switch to user %s: %s", plan->user,
                          strerror(errno));
    return verify(plan, err);
}

int fp_privs_can_read(const fp_privs_plan_t *plan, const char *path)
{
    if (!plan->drop)
        return 0;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int fd = fp_privs_apply(plan, NULL) == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        _exit(fd >= 0 ? 0 : errno != 0 ? (errno & 0xff) : EPERM);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFEXITED(status))
        return -WEXITSTATUS(status);
    return -ECHILD;
}
