/* tls_preflight.h: `forkpool run` with a rediss:// URL tries one TLS
 * connection before it starts anything. A daemon keeps retrying an
 * unreachable Redis, but a certificate that does not verify (or a server
 * that wants a client certificate) will not fix itself: that is reported
 * at once, as the command line does (exit 69), instead of one log line per
 * retry. */
#ifndef FORKPOOL_TLS_PREFLIGHT_H
#define FORKPOOL_TLS_PREFLIGHT_H

#include "base/err.h"
#include "config/config.h"

/* 0 without TLS, when the TLS handshake and a PING work, or when the
 * server cannot be reached at all (the daemon's retries handle that);
 * with redis.cluster, the first seed reached decides;
 * FP_EREDIS naming the certificate problem otherwise. Blocks for at most
 * redis.connect_timeout: call it before the loop runs. */
int fp_redis_tls_preflight(const fp_config_t *cfg, fp_err_t *err);

#endif
