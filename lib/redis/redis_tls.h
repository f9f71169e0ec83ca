/* redis_tls.h: the process' TLS client settings for rediss:// URLs. Debian's
 * hiredis 0.14 has no TLS, so hiredis keeps speaking plain RESP and the bytes
 * travel through a relay (tls_relay.h) that runs OpenSSL over memory BIOs on
 * a libuv loop. One SSL_CTX per process, built from [redis] tls_* when the
 * configuration is loaded: every connection (the daemon's, Sentinel's, the
 * command line's) takes its settings from here, so the code that decides
 * where to connect never carries TLS options around. */
#ifndef FORKPOOL_REDIS_TLS_H
#define FORKPOOL_REDIS_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "base/err.h"

typedef struct fp_redis_tls_opts_s {
    const char *ca;          /* PEM CA file; "" or NULL: the system store */
    const char *cert;        /* client certificate (PEM); "" or NULL: none */
    const char *key;         /* its private key; required with cert */
    const char *server_name; /* name to verify and send as SNI; "": the host connected to */
} fp_redis_tls_opts_t;

/* Builds the process' client context: loads and checks every file now, so a
 * missing or unreadable one is a configuration error (FP_ECONFIG) naming it.
 * Replaces an earlier context (connections made before keep theirs). */
int fp_redis_tls_setup(const fp_redis_tls_opts_t *opts, fp_err_t *err);

/* Whether fp_redis_tls_setup succeeded. */
bool fp_redis_tls_ready(void);

/* One client session for host (the name or IP connected to): verification
 * of the server's chain and of its name (server_name, else host; an IP is
 * matched against the certificate's IP addresses), SNI for a DNS name. NULL
 * with why when TLS is not set up or out of memory. */
SSL *fp_redis_tls_session(const char *host, char *why, size_t size);

/* What went wrong in ssl after a failed handshake or read: the certificate
 * check's own words when verification failed ("certificate verify failed:
 * self-signed certificate in certificate chain"), else OpenSSL's reason, with
 * a hint for a server that wants a client certificate. Clears the thread's
 * OpenSSL error queue. */
void fp_redis_tls_describe(SSL *ssl, char *buf, size_t size);

/* Whether a message made by fp_redis_tls_describe is about a certificate
 * (a problem retrying will not fix), as opposed to a lost connection. */
bool fp_redis_tls_is_cert_problem(const char *why);

/* Frees the context (at exit; sessions hold their own reference). */
void fp_redis_tls_teardown(void);

#endif
