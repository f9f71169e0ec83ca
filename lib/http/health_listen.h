/* health_listen.h: the health endpoint's listening socket (health_listen.c).
 * Internal to lib/http. */
#ifndef FORKPOOL_HEALTH_LISTEN_H
#define FORKPOOL_HEALTH_LISTEN_H

#include "base/err.h"

/* Parses listen ("host:port", "[IPv6]:port"; "" is refused) and opens a
 * listening socket on it with the given backlog: 0 with *fd_out (owned by
 * the caller) and the bound port (the kernel's choice for port 0), or
 * FP_ECONFIG with a message naming listen. */
int fp_health_listen_open(const char *listen, int backlog, int *fd_out, int *port_out,
                          fp_err_t *err);

#endif
