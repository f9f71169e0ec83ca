/* redis_tls.c: the process' OpenSSL client context for rediss:// and the
 * per-connection sessions made from it (redis_tls.h). Only configuration
 * and verification policy live here; moving bytes is tls_relay.c. */
#include "redis/redis_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

static SSL_CTX *g_ctx;
static char g_server_name[256];

static int ssl_fail(fp_err_t *err, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return fp_err_set(err, FP_ECONFIG, "[redis] %s %s: %s", what, path,
                      why != NULL ? why : "cannot be read");
}

static bool set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static int load_files(SSL_CTX *ctx, const fp_redis_tls_opts_t *o, fp_err_t *err)
{
    if (set(o->ca) && SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1)
        return ssl_fail(err, "tls_ca", o->ca);
    if (!set(o->ca) && SSL_CTX_set_default_verify_paths(ctx) != 1)
        return ssl_fail(err, "tls_ca", "(the system store)");
    if (set(o->cert) != set(o->key))
        return fp_err_set(err, FP_ECONFIG,
                          "[redis] tls_cert and tls_key go together (a client certificate and "
                          "its private key)");
    if (!set(o->cert))
        return 0;
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1)
        return ssl_fail(err, "tls_cert", o->cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1)
        return ssl_fail(err, "tls_key", o->key);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return ssl_fail(err, "tls_key", "does not match tls_cert");
    return 0;
}

int fp_redis_tls_setup(const fp_redis_tls_opts_t *opts, fp_err_t *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory (TLS context)");
    /* Redis supports TLS 1.2 and 1.3; older versions are not worth a downgrade. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int rc = load_files(ctx, opts, err);
    if (rc < 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    fp_redis_tls_teardown();
    g_ctx = ctx;
    snprintf(g_server_name, sizeof g_server_name, "%s",
             set(opts->server_name) ? opts->server_name : "");
    return 0;
}

bool fp_redis_tls_ready(void)
{
    return g_ctx != NULL;
}

static bool is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

SSL *fp_redis_tls_session(const char *host, char *why, size_t size)
{
    if (g_ctx == NULL) {
        snprintf(why, size, "TLS is not set up (rediss:// needs the [redis] tls settings loaded)");
        return NULL;
    }
    SSL *ssl = SSL_new(g_ctx);
    if (ssl == NULL) {
        snprintf(why, size, "out of memory (TLS session)");
        return NULL;
    }
    const char *name = g_server_name[0] != '\0' ? g_server_name : host;
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    int ok;
    if (is_ip(name)) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(param, name); /* SNI never carries an IP */
    } else {
        /* the subject's CN is a legacy fallback that browsers dropped: SANs only */
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
                                                   X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
        ok = X509_VERIFY_PARAM_set1_host(param, name, 0) == 1 &&
             SSL_set_tlsext_host_name(ssl, name) == 1;
    }
    if (ok != 1) {
        snprintf(why, size, "cannot use \"%s\" as the TLS server name", name);
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

void fp_redis_tls_describe(SSL *ssl, char *buf, size_t size)
{
    long v = SSL_get_verify_result(ssl);
    unsigned long e = ERR_peek_last_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    if (v != X509_V_OK) {
        snprintf(buf, size, "TLS: certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        return;
    }
    if (reason == NULL) {
        snprintf(buf, size, "TLS: the server closed the connection during the handshake");
        return;
    }
    /* TLS 1.3 sends the client certificate after the client's handshake is
     * done: the refusal comes as an alert on the first read. */
    const char *hint = strstr(reason, "certificate required") != NULL
                           ? " (the server wants a client certificate: set [redis] tls_cert "
                             "and tls_key)"
                           : "";
    snprintf(buf, size, "TLS: %s%s", reason, hint);
}

bool fp_redis_tls_is_cert_problem(const char *why)
{
    return strncmp(why, "TLS: certificate verify failed", 30) == 0 ||
           (strncmp(why, "TLS: ", 5) == 0 && strstr(why, "certificate") != NULL);
}

void fp_redis_tls_teardown(void)
{
    SSL_CTX_free(g_ctx);
    g_ctx = NULL;
}
