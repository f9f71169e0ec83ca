/* cmd_run.c: `forkpool run`, the daemon in the foreground. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "base/log.h"
#include "redis/tls_preflight.h"
#include "supervisor/pidfile.h"
#include "supervisor/privs.h"
#include "supervisor/supervisor.h"

#define MAX_QUEUE_OPTIONS 64

typedef struct run_args_s {
    bool burst;
    long long children; /* -1: from the config */
    const char *queues[MAX_QUEUE_OPTIONS];
    size_t nqueues;
} run_args_t;

enum { OPT_BURST = 256, OPT_CHILDREN, OPT_QUEUE };

static int on_option(void *arg, int id, const char *name, const char *value, fp_err_t *err)
{
    run_args_t *args = arg;
    switch (id) {
    case OPT_BURST: args->burst = true; break;
    case OPT_CHILDREN:
        if (fp_cli_parse_count(name, value, 1024, &args->children, err) < 0)
            return FP_EUSAGE;
        if (args->children == 0)
            return fp_err_set(err, FP_EUSAGE, "--children must be at least 1");
        break;
    case OPT_QUEUE:
        if (value[0] == '\0' || args->nqueues == MAX_QUEUE_OPTIONS)
            return fp_err_set(err, FP_EUSAGE, "--queue needs a name (at most %d queues)",
                              MAX_QUEUE_OPTIONS);
        args->queues[args->nqueues++] = value;
        break;
    }
    return 0;
}

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'},
    {"burst", no_argument, NULL, OPT_BURST},
    {"children", required_argument, NULL, OPT_CHILDREN},
    {"queue", required_argument, NULL, OPT_QUEUE},
    {NULL, 0, NULL, 0},
};
static const fp_cli_spec_t spec = {options, on_option, NULL, NULL};

/* What only root may open is opened before the drop and handed to the
 * target user, so USR1 can reopen the log as that user. */
static int open_files(const fp_config_t *cfg, const fp_privs_plan_t *privs, fp_pidfile_t *pf,
                      fp_err_t *err)
{
    /* A symlink is refused before open: following it, root would create
     * whatever file the user pointed it at, before the check below. */
    int rc = privs->drop ? fp_log_setup_nofollow(cfg->daemon.log_level, cfg->daemon.log_format,
                                                 cfg->daemon.log_file)
                         : fp_log_setup(cfg->daemon.log_level, cfg->daemon.log_format,
                                        cfg->daemon.log_file);
    if (rc == -ELOOP && privs->drop)
        return fp_err_set(err, FP_ECONFIG,
                          "refusing to hand daemon.log_file %s to daemon.user: not a plain "
                          "file with a single link",
                          cfg->daemon.log_file);
    if (rc < 0)
        return fp_err_set(err, FP_ECONFIG, "%s: cannot open daemon.log_file \"%s\": %s",
                          cfg->source, cfg->daemon.log_file, strerror(-rc));
    if (cfg->daemon.log_file[0] != '\0' &&
        (rc = fp_privs_chown_fd(privs, fp_log_fd(), cfg->daemon.log_file, "daemon.log_file",
                                err)) < 0)
        return rc;
    if ((rc = fp_pidfile_take(cfg->daemon.pidfile, pf, err)) < 0)
        return rc;
    return fp_privs_chown_fd(privs, pf->fd, pf->path, "daemon.pidfile", err);
}

int fp_cmd_run(int argc, char **argv, fp_err_t *err)
{
    run_args_t args = {.children = -1};
    fp_config_t *cfg = NULL;
    int rc = fp_cli_begin(argc, argv, &spec, &args, &cfg, err);
    if (rc < 0)
        return rc;
    fp_privs_plan_t privs;
    fp_pidfile_t pidfile = {.fd = -1};
    /* Only Redis is probed: on the embedded queue a FORKPOOL_REDIS_URL left in
     * the environment (ignored under queue.backend = "sqlite") is not used. */
    rc = cfg->queue.backend == FP_BACKEND_REDIS ? fp_redis_tls_preflight(cfg, err) : 0;
    if (rc == 0)
        rc = fp_privs_resolve(cfg->daemon.user, cfg->daemon.group, &privs, err);
    if (rc == 0)
        rc = open_files(cfg, &privs, &pidfile, err);
    if (rc == 0) {
        if (privs.not_root)
            fp_log_warn("run", "daemon.user/daemon.group ignored: not started as root");
        fp_run_opts_t opts = {.burst = args.burst,
                              .queues = args.queues,
                              .nqueues = args.nqueues,
                              .children = args.children > 0 ? args.children : 0,
                              .privs = &privs};
        rc = fp_supervisor_run(cfg, &opts, err);
    }
    fp_pidfile_release(&pidfile);
    fp_log_close();
    fp_config_free(cfg);
    return rc;
}
