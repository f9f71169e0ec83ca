/* redis_sync.h: the command line's blocking Redis connections (forkpool
 * enqueue, stats, dead ..., and its Sentinel questions), plain or, for
 * rediss://, over TLS: hiredis' blocking context then talks to one end of a
 * socketpair (redisConnectFd) and a thread of this connection runs the same
 * TLS relay as the daemon (tls_relay.h) on a private libuv loop. */
#ifndef FORKPOOL_REDIS_SYNC_H
#define FORKPOOL_REDIS_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

/* Connects to host:port within timeout_ms (also each command's timeout
 * until redisSetTimeout). With tls, the TLS handshake and one PING are done
 * before it returns, so a refused certificate is reported here, in
 * OpenSSL's words (redis_tls.h). 0 with *out, or -1 with why. */
int fp_redis_sync_connect(const char *host, int port, bool tls, int64_t timeout_ms,
                          redisContext **out, char *why, size_t size);

/* Frees a context from fp_redis_sync_connect (NULL is fine) and stops its
 * relay thread. */
void fp_redis_sync_free(redisContext *c);

#endif
