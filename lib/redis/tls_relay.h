/* tls_relay.h: carries one plain Redis connection over TLS. hiredis 0.14
 * has no TLS, so it talks plain RESP to one end of a private local socket
 * (plain_fd) and the relay moves those bytes, on the libuv loop and never
 * blocking it, between that socket and a TLS session over TCP, driving
 * OpenSSL through memory BIOs: OpenSSL never touches a socket itself. */
#ifndef FORKPOOL_TLS_RELAY_H
#define FORKPOOL_TLS_RELAY_H

#include <stdbool.h>

#include <uv.h>

#include "base/err.h"

typedef struct fp_tls_relay_s fp_tls_relay_t;

/* up: the handshake (with the server's certificate verified) is done.
 * !up: the relay failed or the server went away; reason says why (a
 * certificate problem in OpenSSL's words, see redis_tls.h). Each at most
 * once, !up last; after !up the relay has closed the plain socket, so
 * hiredis sees the connection end as well. May call fp_tls_relay_close. */
typedef void (*fp_tls_relay_cb)(void *ctx, bool up, const char *reason);

/* Takes plain_fd (closed with the relay), connects to ip:port and verifies
 * the server as host (redis_tls.h). Plain bytes wait in plain_fd's socket
 * until the handshake is done. 0, or a negative code with err (plain_fd is
 * then closed too). */
int fp_tls_relay_start(uv_loop_t *loop, int plain_fd, const char *ip, int port, const char *host,
                       fp_tls_relay_cb cb, void *ctx, fp_tls_relay_t **out, fp_err_t *err);

/* The owner lets go: cb never runs again, the TLS session is shut down,
 * both sockets closed, and the memory freed once libuv has closed them. */
void fp_tls_relay_close(fp_tls_relay_t *r);

#endif
