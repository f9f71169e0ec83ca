/* listen_addr.h: the one reader of a TCP listen address ("host:port",
 * "[IPv6]:port", "" = off), shared by the configuration check and the health
 * endpoint so that what check-config accepts is exactly what the daemon binds. */
#ifndef FORKPOOL_LISTEN_ADDR_H
#define FORKPOOL_LISTEN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct fp_listen_addr_s {
    bool off;                   /* the text was empty: nothing to listen on */
    struct sockaddr_storage ss; /* AF_INET or AF_INET6 with the port, unless off */
    socklen_t len;              /* of the sockaddr in ss */
    int port;                   /* 0 asks the kernel for a free port */
} fp_listen_addr_t;

/* Reads text into out: 0, or -1 with a reason in why that reads after the
 * key's name ("must name a host before the port (...)"). Pure: hosts are
 * literals or "localhost" (127.0.0.1), never looked up. */
int fp_listen_parse(const char *text, fp_listen_addr_t *out, char *why, size_t size);

#endif
