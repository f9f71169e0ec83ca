/* tls_relay.c: one TLS relay (tls_relay.h). OpenSSL reads from rbio what
 * came in over TCP and writes into wbio what must go out; the relay feeds
 * one and drains the other on every event, so the loop never waits on
 * OpenSSL. Writes to either socket are copied: libuv needs the bytes until
 * its write callback. */
#include "redis/tls_relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "redis/redis_tls.h"

struct fp_tls_relay_s {
    uv_tcp_t tcp;
    uv_pipe_t plain;
    uv_connect_t connect_req;
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    fp_tls_relay_cb cb;
    void *ctx;
    char where[300];
    bool handshaken;
    bool done;      /* failed or closing: no more callbacks */
    bool closed;    /* the handles are closing */
    bool released;  /* the owner called fp_tls_relay_close */
    bool connecting;
    int open_handles;
};

typedef struct wreq_s {
    uv_write_t req;
    char data[];
} wreq_t;

static void maybe_free(fp_tls_relay_t *r)
{
    if (r->open_handles > 0 || !r->released || r->connecting)
        return;
    SSL_free(r->ssl);
    free(r);
}

static void on_closed(uv_handle_t *h)
{
    fp_tls_relay_t *r = h->data;
    r->open_handles--;
    maybe_free(r);
}

static void close_handles(fp_tls_relay_t *r)
{
    if (r->closed)
        return;
    r->closed = true;
    r->done = true;
    uv_close((uv_handle_t *)&r->plain, on_closed);
    uv_close((uv_handle_t *)&r->tcp, on_closed);
}

/* Says why once, then closes: hiredis sees its socket end only after the
 * owner knows the reason. */
static void fail(fp_tls_relay_t *r, const char *why)
{
    if (r->done)
        return;
    r->done = true;
    char copy[400];
    snprintf(copy, sizeof copy, "%s", why);
    if (!r->released && r->cb != NULL)
        r->cb(r->ctx, false, copy);
    close_handles(r);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows up as a read error as well */
    free(req);
}

static int write_copy(uv_stream_t *s, const char *data, size_t n)
{
    wreq_t *w = malloc(sizeof *w + n);
    if (w == NULL)
        return -ENOMEM;
    memcpy(w->data, data, n);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)n);
    int rc = uv_write(&w->req, s, &buf, 1, on_written);
    if (rc < 0)
        free(w);
    return rc;
}

/* Sends what OpenSSL has queued for the server. */
static int flush_tls(fp_tls_relay_t *r)
{
    char buf[16384];
    int n;
    while ((n = BIO_read(r->wbio, buf, sizeof buf)) > 0) {
        int rc = write_copy((uv_stream_t *)&r->tcp, buf, (size_t)n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void alloc_buf(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base != NULL ? suggested : 0;
}

/* hiredis wrote: encrypt it. A memory BIO takes all of it at once. */
static void on_plain_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    fp_tls_relay_t *r = s->data;
    if (n < 0 && !r->done) {
        /* hiredis closed its end: a clean close_notify, then the sockets */
        ERR_clear_error();
        SSL_shutdown(r->ssl);
        flush_tls(r);
        fail(r, "the connection was closed");
    } else if (n > 0 && !r->done) {
        ERR_clear_error();
        int rc = SSL_write(r->ssl, buf->base, (int)n);
        if (rc <= 0 || flush_tls(r) < 0) {
            char why[300];
            fp_redis_tls_describe(r->ssl, why, sizeof why);
            fail(r, why);
        }
    }
    free(buf->base);
}

/* Decrypted bytes for hiredis. */
static void drain_plain(fp_tls_relay_t *r)
{
    char buf[16384];
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(r->ssl, buf, sizeof buf);
        if (n > 0) {
            if (write_copy((uv_stream_t *)&r->plain, buf, (size_t)n) < 0) {
                fail(r, "cannot pass data to the connection");
                return;
            }
            continue;
        }
        int e = SSL_get_error(r->ssl, n);
        if (e == SSL_ERROR_WANT_READ) {
            if (flush_tls(r) < 0) /* a read may answer (key update) */
                fail(r, "cannot send to the server");
            return;
        }
        char why[400];
        if (e == SSL_ERROR_ZERO_RETURN) {
            snprintf(why, sizeof why, "Redis at %s closed the TLS connection", r->where);
        } else {
            fp_redis_tls_describe(r->ssl, why, sizeof why);
        }
        fail(r, why);
        return;
    }
}

static void step_handshake(fp_tls_relay_t *r)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(r->ssl);
    if (flush_tls(r) < 0) {
        fail(r, "cannot send to the server");
        return;
    }
    if (rc != 1) {
        if (SSL_get_error(r->ssl, rc) == SSL_ERROR_WANT_READ)
            return;
        char why[400];
        fp_redis_tls_describe(r->ssl, why, sizeof why);
        fail(r, why);
        return;
    }
    r->handshaken = true;
    if (uv_read_start((uv_stream_t *)&r->plain, alloc_buf, on_plain_read) < 0) {
        fail(r, "cannot read the connection");
        return;
    }
    if (r->cb != NULL && !r->released)
        r->cb(r->ctx, true, NULL);
    if (!r->done)
        drain_plain(r); /* application data that came with the last flight */
}

static void on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    fp_tls_relay_t *r = s->data;
    if (n < 0 && !r->done) {
        char why[400];
        if (!r->handshaken)
            snprintf(why, sizeof why,
                     "TLS: %s closed the connection during the handshake (is it a TLS port?)",
                     r->where);
        else
            snprintf(why, sizeof why, "Redis at %s closed the connection (%s)", r->where,
                     uv_strerror((int)n));
        fail(r, why);
    } else if (n > 0 && !r->done) {
        BIO_write(r->rbio, buf->base, (int)n); /* a memory BIO grows: never short */
        if (!r->handshaken)
            step_handshake(r);
        else
            drain_plain(r);
    }
    free(buf->base);
}

static void on_connected(uv_connect_t *req, int status)
{
    fp_tls_relay_t *r = req->data;
    r->connecting = false;
    if (r->done) {
        maybe_free(r);
        return;
    }
    if (status < 0) {
        char why[400];
        snprintf(why, sizeof why, "cannot connect to %s: %s", r->where, uv_strerror(status));
        fail(r, why);
        return;
    }
    uv_tcp_nodelay(&r->tcp, 1);
    uv_tcp_keepalive(&r->tcp, 1, 60); /* notices a silently dead peer */
    if (uv_read_start((uv_stream_t *)&r->tcp, alloc_buf, on_tcp_read) < 0) {
        fail(r, "cannot read from the server");
        return;
    }
    step_handshake(r);
}

static int make_session(fp_tls_relay_t *r, const char *host, fp_err_t *err)
{
    char why[300];
    r->ssl = fp_redis_tls_session(host, why, sizeof why);
    if (r->ssl == NULL)
        return fp_err_set(err, FP_EREDIS, "%s", why);
    r->rbio = BIO_new(BIO_s_mem());
    r->wbio = BIO_new(BIO_s_mem());
    if (r->rbio == NULL || r->wbio == NULL) {
        BIO_free(r->rbio);
        BIO_free(r->wbio);
        return fp_err_set(err, -ENOMEM, "out of memory (TLS buffers)");
    }
    SSL_set_bio(r->ssl, r->rbio, r->wbio);
    return 0;
}

static int resolve(const char *ip, int port, struct sockaddr_storage *sa)
{
    if (uv_ip4_addr(ip, port, (struct sockaddr_in *)sa) == 0)
        return 0;
    return uv_ip6_addr(ip, port, (struct sockaddr_in6 *)sa);
}

int fp_tls_relay_start(uv_loop_t *loop, int plain_fd, const char *ip, int port, const char *host,
                       fp_tls_relay_cb cb, void *ctx, fp_tls_relay_t **out, fp_err_t *err)
{
    struct sockaddr_storage sa;
    if (resolve(ip, port, &sa) < 0) {
        close(plain_fd);
        return fp_err_set(err, FP_EREDIS, "\"%s\" is not an IP address", ip);
    }
    fp_tls_relay_t *r = calloc(1, sizeof *r);
    int rc = r != NULL ? make_session(r, host, err) : fp_err_set(err, -ENOMEM, "out of memory");
    if (rc < 0) {
        if (r != NULL)
            SSL_free(r->ssl);
        free(r);
        close(plain_fd);
        return rc;
    }
    r->cb = cb;
    r->ctx = ctx;
    snprintf(r->where, sizeof r->where, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
    uv_tcp_init(loop, &r->tcp);
    uv_pipe_init(loop, &r->plain, 0);
    r->tcp.data = r->plain.data = r->connect_req.data = r;
    r->open_handles = 2;
    rc = uv_pipe_open(&r->plain, plain_fd);
    if (rc < 0)
        close(plain_fd); /* not taken by the pipe */
    if (rc == 0) {
        rc = uv_tcp_connect(&r->connect_req, &r->tcp, (const struct sockaddr *)&sa, on_connected);
        r->connecting = rc == 0;
    }
    if (rc < 0) {
        close_handles(r);
        r->released = true;
        return fp_err_set(err, FP_EREDIS, "cannot connect to %s: %s", r->where, uv_strerror(rc));
    }
    *out = r;
    return 0;
}

void fp_tls_relay_close(fp_tls_relay_t *r)
{
    if (r == NULL)
        return;
    r->released = true;
    if (!r->done && r->handshaken) {
        ERR_clear_error();
        SSL_shutdown(r->ssl); /* close_notify, best effort */
        flush_tls(r);
    }
    r->done = true;
    close_handles(r);
    maybe_free(r);
}
