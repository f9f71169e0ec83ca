/* tls_bridge.h: the private local endpoint hiredis connects to when its
 * bytes go through a TLS relay (tls_relay.h). hiredis 0.14's async API can
 * only connect by itself (there is no "use this fd"), but a unix socket
 * connect completes at once into the listener's backlog: so a listener in a
 * fresh 0700 directory, hiredis' connect, one accept and the path removed
 * again happen in one loop turn, without blocking, and only this user could
 * have reached the path meanwhile. */
#ifndef FORKPOOL_TLS_BRIDGE_H
#define FORKPOOL_TLS_BRIDGE_H

#include <stddef.h>
#include <sys/un.h>

typedef struct fp_tls_bridge_s {
    char dir[64];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int listen_fd;
} fp_tls_bridge_t;

/* Makes the directory and listens on b->path. 0, or -1 with why. */
int fp_tls_bridge_listen(fp_tls_bridge_t *b, char *why, size_t size);

/* After the client connected to b->path: its peer's fd (non-blocking,
 * close-on-exec), or -1 with why. Removes the path and the directory and
 * closes the listener either way. */
int fp_tls_bridge_accept(fp_tls_bridge_t *b, char *why, size_t size);

#endif
