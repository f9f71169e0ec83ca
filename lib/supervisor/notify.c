/* notify.c: the sd_notify protocol spoken by hand (no libsystemd): state
 * changes as one datagram each on $NOTIFY_SOCKET, WATCHDOG=1 from a loop
 * timer. See notify.h for what each function promises; the supervisor
 * decides when (lib/supervisor/supervisor.c, fp_sup_notify_*). */
#include "supervisor/notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/os.h"

#define LOG "notify"

int fp_notify_format(char *buf, size_t size, fp_notify_kind_t kind, const char *status,
                     uint64_t monotonic_usec)
{
    if (buf == NULL || size == 0)
        return -ENOSPC;
    int n;
    switch (kind) {
    case FP_NOTIFY_READY:
        n = snprintf(buf, size, "READY=1");
        break;
    case FP_NOTIFY_RELOADING:
        n = snprintf(buf, size, "RELOADING=1\nMONOTONIC_USEC=%llu",
                     (unsigned long long)monotonic_usec);
        break;
    case FP_NOTIFY_STOPPING:
        n = snprintf(buf, size, "STOPPING=1");
        break;
    case FP_NOTIFY_WATCHDOG:
        n = snprintf(buf, size, "WATCHDOG=1");
        status = NULL; /* a ping carries nothing else */
        break;
    default:
        buf[0] = '\0';
        return -EINVAL;
    }
    if (n < 0 || (size_t)n >= size) {
        buf[0] = '\0';
        return -ENOSPC;
    }
    size_t used = (size_t)n;
    /* The status is one line of the message: a newline in it would start a
     * new assignment, so it becomes a space; what does not fit is cut. */
    if (status != NULL && status[0] != '\0' && size - used > sizeof "\nSTATUS=x") {
        used += (size_t)snprintf(buf + used, size - used, "\nSTATUS=");
        for (const char *p = status; *p != '\0' && used + 1 < size; p++)
            buf[used++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
        buf[used] = '\0';
    }
    return (int)used;
}

int fp_notify_parse_usec(const char *text, uint64_t *usec)
{
    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -EINVAL;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0)
        return -EINVAL;
    *usec = (uint64_t)v;
    return 0;
}

int fp_notify_parse_addr(const char *text, struct sockaddr_un *addr, socklen_t *len,
                         fp_err_t *err)
{
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    size_t n = text != NULL ? strlen(text) : 0;
    if (n < 2 || (text[0] != '/' && text[0] != '@'))
        return fp_err_set(err, -EINVAL,
                          "NOTIFY_SOCKET \"%s\" is neither an absolute path nor @abstract",
                          text != NULL ? text : "");
    /* A path needs its NUL inside sun_path; an abstract name does not. */
    if (n + (text[0] == '/') > sizeof addr->sun_path)
        return fp_err_set(err, -ENAMETOOLONG, "NOTIFY_SOCKET is longer than %zu bytes",
                          sizeof addr->sun_path - 1);
    memcpy(addr->sun_path, text, n);
    if (text[0] == '@')
        addr->sun_path[0] = '\0';
    /* An abstract name is exactly its bytes: no trailing NUL is counted. */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (text[0] == '/'));
    return 0;
}

void fp_notify_open(fp_notify_t *n)
{
    n->fd = -1;
    n->watchdog_usec = 0;
    n->warned = false;
    n->timer_inited = false;
    char *socket_var = getenv("NOTIFY_SOCKET");
    char *usec_var = getenv("WATCHDOG_USEC");
    char *pid_var = getenv("WATCHDOG_PID");
    fp_err_t err;
    fp_err_clear(&err);
    int rc = socket_var != NULL ? fp_notify_parse_addr(socket_var, &n->addr, &n->addr_len, &err)
                                : -ENOENT;
    if (rc == 0) {
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (n->fd < 0)
            fp_log_warn(LOG, "cannot open a socket for NOTIFY_SOCKET: %s; systemd will not "
                             "hear of this daemon's state", strerror(errno));
    } else if (socket_var != NULL) {
        fp_log_warn(LOG, "%s; systemd will not hear of this daemon's state", err.msg);
    }
    uint64_t usec = 0;
    /* WATCHDOG_PID names the process the watchdog is for: not us, no pings. */
    bool ours = pid_var == NULL || strtol(pid_var, NULL, 10) == (long)getpid();
    if (usec_var != NULL && ours) {
        if (fp_notify_parse_usec(usec_var, &usec) < 0)
            fp_log_warn(LOG, "WATCHDOG_USEC \"%s\" is not a positive number of microseconds; "
                             "no watchdog pings", usec_var);
        else if (n->fd >= 0)
            n->watchdog_usec = usec;
    }
    /* Meant for this process only: a child must not speak for the daemon. */
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

void fp_notify_send(fp_notify_t *n, fp_notify_kind_t kind, const char *status)
{
    if (n->fd < 0)
        return;
    char msg[FP_NOTIFY_MSG_MAX];
    int len = fp_notify_format(msg, sizeof msg, kind, status,
                               kind == FP_NOTIFY_RELOADING ? (uint64_t)fp_os_now_us() : 0);
    if (len < 0)
        return;
    /* Non-blocking: a full or missing receiver costs one message, never the loop. */
    ssize_t sent = sendto(n->fd, msg, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL,
                          (const struct sockaddr *)&n->addr, n->addr_len);
    if (sent == (ssize_t)len) {
        if (kind != FP_NOTIFY_WATCHDOG)
            fp_log_debug(LOG, "told systemd: %.*s", len, msg);
        return;
    }
    int e = sent < 0 ? errno : EMSGSIZE;
    if (!n->warned) {
        n->warned = true;
        fp_log_warn(LOG, "cannot tell systemd (NOTIFY_SOCKET): %s; further failures are "
                         "logged at debug level", strerror(e));
    } else {
        fp_log_debug(LOG, "cannot tell systemd: %s", strerror(e));
    }
}

static void on_watchdog(uv_timer_t *timer)
{
    fp_notify_send(timer->data, FP_NOTIFY_WATCHDOG, NULL);
}

int fp_notify_watchdog_start(fp_notify_t *n, uv_loop_t *loop)
{
    if (n->fd < 0 || n->watchdog_usec == 0)
        return 0;
    int rc = uv_timer_init(loop, &n->watchdog);
    if (rc < 0)
        return rc;
    n->timer_inited = true;
    n->watchdog.data = n;
    /* Half the interval: one late ping is not yet a missed one. At least
     * 1 ms for a tiny WATCHDOG_USEC. */
    uint64_t ms = n->watchdog_usec / 2000u;
    if (ms == 0)
        ms = 1;
    fp_notify_send(n, FP_NOTIFY_WATCHDOG, NULL);
    rc = uv_timer_start(&n->watchdog, on_watchdog, ms, ms);
    /* The pings keep nothing alive: the loop ends when the daemon's work does. */
    uv_unref((uv_handle_t *)&n->watchdog);
    return rc;
}

void fp_notify_close(fp_notify_t *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}
