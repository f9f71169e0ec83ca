/* notify.h: telling systemd the daemon's state (the sd_notify protocol)
 * without linking libsystemd: one datagram per state change on the unix
 * socket named by $NOTIFY_SOCKET, and WATCHDOG=1 pings from a timer on the
 * loop when $WATCHDOG_USEC asks for them. With neither variable set nothing
 * is opened and nothing is sent.
 *
 * Two halves: fp_notify_format and fp_notify_parse_usec are pure (unit
 * tested in test/unit/test_notify.c); the sender never blocks the loop (a
 * non-blocking socket, one sendto per message, a failure logged once). */
#ifndef FORKPOOL_SUPERVISOR_NOTIFY_H
#define FORKPOOL_SUPERVISOR_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <uv.h>

#include "base/err.h"

typedef enum {
    FP_NOTIFY_READY,     /* "READY=1" (+ "STATUS=...") */
    FP_NOTIFY_RELOADING, /* "RELOADING=1\nMONOTONIC_USEC=..." (+ "STATUS=...") */
    FP_NOTIFY_STOPPING,  /* "STOPPING=1" (+ "STATUS=...") */
    FP_NOTIFY_WATCHDOG,  /* "WATCHDOG=1" */
} fp_notify_kind_t;

/* The largest message fp_notify_format writes (a STATUS= line is cut to
 * fit). */
#define FP_NOTIFY_MSG_MAX 512

/* Writes the message for kind into buf: status (NULL or "": none; one line,
 * newlines become spaces, cut to fit) as a STATUS= line, monotonic_usec
 * only with RELOADING=1 (Type=notify-reload requires it there). Returns the
 * length (no NUL counted), or -EINVAL for an unknown kind, -ENOSPC when
 * size cannot hold even the message without its status. */
int fp_notify_format(char *buf, size_t size, fp_notify_kind_t kind, const char *status,
                     uint64_t monotonic_usec);

/* $WATCHDOG_USEC's value: decimal microseconds, > 0. Returns 0 or -EINVAL. */
int fp_notify_parse_usec(const char *text, uint64_t *usec);

/* The address $NOTIFY_SOCKET names: an absolute path, or "@name" for an
 * abstract socket. Returns 0, or -EINVAL (empty, relative) / -ENAMETOOLONG
 * with err saying why. */
int fp_notify_parse_addr(const char *text, struct sockaddr_un *addr, socklen_t *len,
                         fp_err_t *err);

typedef struct fp_notify_s {
    int fd; /* -1: $NOTIFY_SOCKET unset (or unusable): every send is a no-op */
    struct sockaddr_un addr;
    socklen_t addr_len;
    uint64_t watchdog_usec; /* 0: no watchdog pings */
    bool warned;            /* a send failed and it was logged */
    bool timer_inited;
    uv_timer_t watchdog;
} fp_notify_t;

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID and removes them
 * from the environment, so no child (native or exec) inherits them, and
 * opens the socket (non-blocking, close-on-exec). Call before the first
 * fork and before any thread starts (unsetenv is not thread-safe). Never
 * fails the start: an unusable variable is logged and notifying is off. */
void fp_notify_open(fp_notify_t *n);
/* Sends one message (see fp_notify_format); RELOADING=1 carries
 * CLOCK_MONOTONIC now. A no-op when disabled. */
void fp_notify_send(fp_notify_t *n, fp_notify_kind_t kind, const char *status);
/* Starts WATCHDOG=1 pings at half of $WATCHDOG_USEC from a timer on loop
 * (unreferenced: it keeps no loop alive), so a stuck loop stops them. A
 * no-op without a socket or a watchdog. Returns 0 or a libuv error. */
int fp_notify_watchdog_start(fp_notify_t *n, uv_loop_t *loop);
/* Closes the socket. The watchdog timer is one of the loop's handles and
 * is closed with them (the final uv_walk of fp_supervisor_run). */
void fp_notify_close(fp_notify_t *n);

#endif
