/* health_listen.c: the health endpoint's listening socket, from the
 * health.listen text to a bound, listening, non-blocking, close-on-exec fd
 * (test_health pins the flags). Every failure is reported here,
 * synchronously, before any libuv handle exists. */
#include "http/health_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/listen_addr.h"

/* The configuration check refuses the same texts with the same reasons;
 * here they reach only a caller that skipped it. "" is refused: a caller
 * that wants no endpoint does not start one. */
static int parse_listen(const char *listen, fp_listen_addr_t *addr, fp_err_t *err)
{
    char why[160];
    if (listen == NULL)
        listen = "";
    if (fp_listen_parse(listen, addr, why, sizeof why) < 0)
        return fp_err_set(err, FP_ECONFIG, "health listen \"%s\": %s", listen, why);
    if (addr->off)
        return fp_err_set(err, FP_ECONFIG, "health listen \"\": must be \"host:port\"");
    return 0;
}

/* The listening socket, made here rather than by uv_tcp_bind so that every
 * failure is synchronous and leaves no libuv handle to close: libuv defers
 * EADDRINUSE from bind to listen, and a handle that failed still needs a
 * loop turn to be freed. */
static int open_listener(const fp_listen_addr_t *addr, const char *spec, int backlog,
                         int *fd_out, int *port_out, fp_err_t *err)
{
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        return fp_err_set(err, FP_ECONFIG, "cannot listen on %s: socket() failed: %s", spec,
                          strerror(e));
    }
    int on = 1;
    /* As libuv does: a restarted supervisor rebinds despite TIME_WAIT. */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0 ||
        listen(fd, backlog) != 0) {
        int e = errno;
        close(fd);
        return fp_err_set(err, FP_ECONFIG, "cannot listen on %s: %s", spec, strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        int e = errno;
        close(fd);
        return fp_err_set(err, FP_ECONFIG, "cannot listen on %s: getsockname() failed: %s",
                          spec, strerror(e));
    }
    *port_out = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    *fd_out = fd;
    return 0;
}

int fp_health_listen_open(const char *listen, int backlog, int *fd_out, int *port_out,
                          fp_err_t *err)
{
    fp_listen_addr_t addr;
    int rc = parse_listen(listen, &addr, err);
    if (rc < 0)
        return rc;
    return open_listener(&addr, listen, backlog, fd_out, port_out, err);
}
