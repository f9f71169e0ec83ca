/* health.c: a small HTTP/1.1 server for /healthz, /readyz, /metrics and /stats
 * on the supervisor's libuv loop: the listener, accepting, the connection
 * cap, start and stop; one connection's requests and responses are
 * health_conn.c's. What a client can cost is bounded, since the loop also
 * runs the supervisor: the request-target and the header bytes (counted in
 * the parser's callbacks → 414, 431; http-parser's own limit stays as a
 * backstop), body bytes (413), the number of connections (at the cap a new
 * connection evicts the oldest idle one rather than being turned away, so
 * clients that open slots and trickle bytes into them cannot lock the probes
 * out), header and idle time (a timer per connection: a request's headers
 * must be complete within the header timeout however slowly they trickle
 * in), the bytes queued for writing, and pipelined requests per loop turn.
 * Accepted sockets are non-blocking and close-on-exec: libuv 1.44 accepts
 * with accept4(SOCK_NONBLOCK | SOCK_CLOEXEC), and test_health pins that; the
 * listener is created the same way (health_listen.c). */
#include "http/health.h"
#include "http/health_conn.h"
#include "http/health_listen.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LISTEN_BACKLOG 128

static void on_listener_connection(uv_stream_t *server, int status);

/* ---- closing and freeing ---------------------------------------------- */

static void health_maybe_free(fp_health_t *h)
{
    if (!h->closing || h->live_handles > 0)
        return;
    void (*cb)(void *) = h->close_cb;
    void *ctx = h->close_ctx;
    free(h->routes);
    free(h);
    if (cb != NULL)
        cb(ctx);
}

static void on_tick(uv_prepare_t *prepare)
{
    fp_health_t *h = prepare->data;
    h->turn++;
}

/* The listener and the tick. */
static void on_server_handle_close(uv_handle_t *handle)
{
    fp_health_t *h = handle->data;
    h->live_handles--;
    health_maybe_free(h);
}

static void on_refused_close(uv_handle_t *handle)
{
    fp_health_t *h = handle->data;
    free(handle);
    h->live_handles--;
    health_maybe_free(h);
}

void fp_health_conn_gone(fp_health_t *h)
{
    h->stats.open--;
    h->live_handles--;
    /* libuv stops watching the listener while an accepted socket waits for
     * uv_accept; a freed connection is the moment memory may be back. */
    if (h->accept_stalled && !h->closing) {
        h->accept_stalled = false;
        on_listener_connection((uv_stream_t *)&h->listener, 0);
    }
    health_maybe_free(h);
}

/* ---- accepting --------------------------------------------------------- */

/* At the cap: closes the connection fp_health_evicts_before picks, if any.
 * Its memory goes a turn later, with its close callbacks. */
static bool evict_one(fp_health_t *h)
{
    fp_health_conn_t *victim = NULL;
    fp_health_conn_view_t best;
    for (fp_health_conn_t *c = h->conns; c != NULL; c = c->next) {
        if (c->state == CS_CLOSING)
            continue;
        fp_health_conn_view_t v = fp_health_conn_view(c);
        /* Newest first in the list: on a tie the later, older one wins. */
        if (fp_health_evicts_before(&v, NULL) &&
            (victim == NULL || !fp_health_evicts_before(&best, &v))) {
            victim = c;
            best = v;
        }
    }
    if (victim == NULL)
        return false;
    h->stats.evicted++;
    fp_health_conn_close(victim);
    return true;
}

/* At the cap with nothing to evict: accept (libuv stops watching the listener until
 * the pending socket is accepted) and close without reading a byte. */
static void refuse(fp_health_t *h, uv_stream_t *server)
{
    uv_tcp_t *t = malloc(sizeof *t);
    if (t == NULL) {
        h->accept_stalled = true;
        return;
    }
    uv_tcp_init(h->loop, t);
    t->data = h;
    if (uv_accept(server, (uv_stream_t *)t) == 0)
        h->stats.refused++;
    h->live_handles++;
    uv_close((uv_handle_t *)t, on_refused_close);
}

static void on_listener_connection(uv_stream_t *server, int status)
{
    fp_health_t *h = server->data;
    if (status < 0 || h->closing)
        return; /* libuv retries accept(2) failures such as EMFILE itself */
    if (h->serving >= h->lim.max_conns && !evict_one(h)) {
        refuse(h, server);
        return;
    }
    if (!fp_health_conn_open(h, server))
        refuse(h, server);
}

/* ---- start and stop ---------------------------------------------------- */

int fp_health_start(uv_loop_t *loop, const char *listen, const fp_health_route_t *routes, size_t n,
                    void *ctx, fp_health_t **out, fp_err_t *err)
{
    int rc, fd = -1, port = 0;
    *out = NULL;
    if ((rc = fp_health_listen_open(listen, LISTEN_BACKLOG, &fd, &port, err)) < 0)
        return rc;
    fp_health_t *h = calloc(1, sizeof *h);
    fp_health_route_t *copy = calloc(n > 0 ? n : 1, sizeof *copy);
    if (h == NULL || copy == NULL) {
        close(fd);
        free(h);
        free(copy);
        return fp_err_set(err, -ENOMEM, "health endpoint: out of memory");
    }
    if (n > 0)
        memcpy(copy, routes, n * sizeof *copy);
    h->loop = loop;
    h->routes = copy;
    h->n_routes = n;
    h->ctx = ctx;
    h->port = port;
    h->lim = (fp_health_limits_t){FP_HEALTH_HEADER_MS, FP_HEALTH_IDLE_MS, FP_HEALTH_MAX_CONNS};
    fp_health_conn_settings(&h->settings);
    /* Process-wide in http-parser 2.9; this module is its only user. The
     * callbacks enforce the limits; this backstop counts what they do not
     * (whitespace) and must leave them one read of room to see a request
     * that crosses them within that read. */
    http_parser_set_max_header_size(FP_HEALTH_MAX_URL_BYTES + FP_HEALTH_MAX_HEADER_BYTES +
                                    FP_HEALTH_READ_BUF_BYTES);

    uv_tcp_init(loop, &h->listener); /* no socket yet: cannot fail */
    h->listener.data = h;
    uv_prepare_init(loop, &h->turn_tick);
    h->turn_tick.data = h;
    uv_prepare_start(&h->turn_tick, on_tick);
    h->live_handles = 2;
    if ((rc = uv_tcp_open(&h->listener, fd)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&h->listener, LISTEN_BACKLOG, on_listener_connection)) < 0) {
        /* The handle owns fd once opened; if opening failed it is still ours.
         * Either way the handle needs the loop to be freed. */
        if (uv_fileno((uv_handle_t *)&h->listener, &(uv_os_fd_t){0}) != 0)
            close(fd);
        h->closing = true;
        uv_close((uv_handle_t *)&h->listener, on_server_handle_close);
        uv_close((uv_handle_t *)&h->turn_tick, on_server_handle_close);
        return fp_err_set(err, FP_ECONFIG, "cannot listen on %s: %s", listen, uv_strerror(rc));
    }
    *out = h;
    return 0;
}

int fp_health_port(const fp_health_t *h)
{
    return h->port;
}

void fp_health_set_limits(fp_health_t *h, const fp_health_limits_t *lim)
{
    if (lim->header_ms > 0)
        h->lim.header_ms = lim->header_ms;
    if (lim->idle_ms > 0)
        h->lim.idle_ms = lim->idle_ms;
    if (lim->max_conns > 0)
        h->lim.max_conns = lim->max_conns;
}

void fp_health_get_stats(const fp_health_t *h, fp_health_stats_t *out)
{
    *out = h->stats;
}

void fp_health_close(fp_health_t *h, void (*cb)(void *ctx), void *ctx)
{
    if (h == NULL || h->closing)
        return;
    h->closing = true;
    h->close_cb = cb;
    h->close_ctx = ctx;
    uv_close((uv_handle_t *)&h->listener, on_server_handle_close);
    uv_close((uv_handle_t *)&h->turn_tick, on_server_handle_close);
    for (fp_health_conn_t *c = h->conns; c != NULL; c = c->next)
        fp_health_conn_close(c);
}
