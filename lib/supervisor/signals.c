/* signals.c: the daemon's signals and what each asks for: TERM/INT
 * (drain), QUIT or a second stop (terminate), TSTP (quiet), TTIN/TTOU (one
 * child more or less, or the scaling bounds moved), USR1 (reopen the log). HUP is reload.c's, CHLD is
 * children.c's. */
#include "supervisor/supervisor_internal.h"

#include <signal.h>
#include <string.h>

#include "base/log.h"

#define LOG "supervisor"

static void on_stop_signal(uv_signal_t *handle, int signum)
{
    fp_supervisor_t *sup = handle->data;
    if (signum == SIGQUIT || sup->state != SUP_RUNNING)
        fp_sup_terminate(sup, signum == SIGQUIT ? "SIGQUIT" : "second stop signal");
    else
        fp_sup_begin_drain(sup, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* TSTP: quiet, as Sidekiq does before a deploy: no more pulls, running
 * and held jobs finish, the daemon stays up until TERM. */
static void on_quiet_signal(uv_signal_t *handle, int signum)
{
    (void)signum;
    fp_supervisor_t *sup = handle->data;
    if (sup->quiet || sup->state != SUP_RUNNING)
        return;
    sup->quiet = true;
    fp_log_info(LOG, "quiet (SIGTSTP): no more pulls; %zu jobs held finish", sup->held.count);
    fp_sup_update_want(sup);
}

/* TTIN/TTOU: one child more or less, as gunicorn does; a scaling pool
 * moves its bounds instead. */
static void on_resize_signal(uv_signal_t *handle, int signum)
{
    fp_supervisor_t *sup = handle->data;
    if (sup->state != SUP_RUNNING || fp_sup_scale_resize(sup, signum == SIGTTIN))
        return;
    if (signum == SIGTTIN && sup->pool.target < 1024)
        sup->pool.target++;
    else if (signum == SIGTTOU && sup->pool.target > 1)
        sup->pool.target--;
    fp_log_info(LOG, "%s: the pool now wants %zu children", signum == SIGTTIN ? "SIGTTIN" : "SIGTTOU",
                sup->pool.target);
    fp_sup_rebalance(sup);
    fp_sup_dispatch(sup);
}

/* USR1: logrotate moved the file; write to a new one at the same path. */
static void on_reopen_signal(uv_signal_t *handle, int signum)
{
    (void)handle;
    (void)signum;
    int rc = fp_log_reopen();
    if (rc < 0)
        fp_log_error(LOG, "cannot reopen the log file: %s", strerror(-rc));
    else
        fp_log_info(LOG, "log file reopened (SIGUSR1)");
}

int fp_sup_signals_init(fp_supervisor_t *sup)
{
    struct {
        uv_signal_t *handle;
        int signum;
        uv_signal_cb cb;
    } sigs[] = {
        {&sup->signals.term, SIGTERM, on_stop_signal},
        {&sup->signals.intr, SIGINT, on_stop_signal},
        {&sup->signals.quit, SIGQUIT, on_stop_signal},
        {&sup->signals.chld, SIGCHLD, fp_sup_on_sigchld},
        {&sup->signals.tstp, SIGTSTP, on_quiet_signal},
        {&sup->signals.hup, SIGHUP, fp_sup_on_reload_signal},
        {&sup->signals.ttin, SIGTTIN, on_resize_signal},
        {&sup->signals.ttou, SIGTTOU, on_resize_signal},
        {&sup->signals.usr1, SIGUSR1, on_reopen_signal},
    };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        int rc = uv_signal_init(&sup->loop, sigs[i].handle);
        if (rc == 0)
            rc = uv_signal_start(sigs[i].handle, sigs[i].cb, sigs[i].signum);
        if (rc < 0)
            return rc;
        sigs[i].handle->data = sup;
    }
    return 0;
}

void fp_sup_signals_close(fp_supervisor_t *sup)
{
    uv_signal_t *all[] = {&sup->signals.term, &sup->signals.intr, &sup->signals.quit,
                          &sup->signals.chld, &sup->signals.tstp, &sup->signals.hup,
                          &sup->signals.ttin, &sup->signals.ttou, &sup->signals.usr1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        fp_sup_close_handle((uv_handle_t *)all[i]);
}
