/* health.c: a small HTTP/1.1 server for /healthz, /readyz, /metrics and /stats
 * on the supervisor's libuv loop. Requests are parsed by http-parser; each
 * complete request is answered at once, in order, by a synchronous route
 * function, so pipelined requests need no queue of their own. What a client
 * can cost is bounded, since the loop also runs the supervisor: the
 * request-target and the header bytes (counted in the parser's callbacks →
 * 414, 431; http-parser's own limit stays as a backstop), body bytes (413),
 * the number of connections (at the cap a new connection evicts the oldest
 * idle one rather than being turned away, so clients that open slots and
 * trickle bytes into them cannot lock the probes out), header and idle time
 * (a timer per connection: a request's headers must be complete within the
 * header timeout however slowly they trickle in), and the bytes
 * queued for writing (a client that stops reading is cut off instead of
 * buffered for). Pipelined requests are answered at most
 * FP_HEALTH_PIPELINE_BATCH per connection per loop turn, the rest of that read
 * parsed on the next turn with reading paused, so a client that sends many at
 * once and reads fast cannot hold the loop either. A response that ends the connection is followed by a
 * shutdown and a short "lingering" read that discards input, so the client
 * reads the answer before the socket closes rather than a reset (nginx's
 * lingering close). Accepted sockets are non-blocking and close-on-exec:
 * libuv 1.44 accepts with accept4(SOCK_NONBLOCK | SOCK_CLOEXEC), and
 * test_health pins that; the listener is created the same way (health_listen.c). */
#include "http/health.h"
#include "http/health_request.h"
#include "http/health_listen.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <http_parser.h>

#define LISTEN_BACKLOG 128
#define DEFAULT_CONTENT_TYPE "text/plain; charset=utf-8"

typedef enum conn_state_e {
    CS_OPEN,    /* reading and answering requests */
    CS_LINGER,  /* last response queued: shutting down, input discarded */
    CS_CLOSING, /* uv_close called on both handles */
} conn_state_t;

/* One client. Memory lives until both handles' close callbacks have run
 * (pending_closes), whatever the state; write and shutdown requests that are
 * still in flight at close get their callbacks (UV_ECANCELED) before that. */
typedef struct conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    http_parser parser;
    fp_health_t *h;
    struct conn_s *prev, *next;
    fp_health_head_t head;               /* the current request's target and head size */
    uint64_t body_bytes;       /* of the current request, discarded */
    uint64_t request_start_ms; /* uv_now at the request's first byte */
    uint64_t last_active_ms;   /* uv_now at the last read or finished write */
    bool in_request;           /* between a message's first byte and its end */
    bool headers_done;         /* of the current request */
    bool eof;                  /* the client has shut down its side */
    bool shut;                 /* our side is shut down: every response is sent */
    bool resume_pending;       /* reading stopped, pending parsed on the next turn */
    fp_buf_t pending;          /* unparsed input left by the per-turn budget, < one read */
    uint64_t turn;             /* the loop turn answered counts against */
    unsigned answered;         /* requests answered in that turn */
    conn_state_t state;
    int pending_closes;
} conn_t;

/* A queued response: the header text and the body it owns, freed in on_write. */
typedef struct wreq_s {
    uv_write_t req;
    fp_buf_t body;
    char head[512];
} wreq_t;

struct fp_health_s {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_prepare_t turn_tick; /* counts loop turns for the pipelining budget */
    uint64_t turn;
    fp_health_route_t *routes; /* copied; the paths are borrowed */
    size_t n_routes;
    void *ctx;
    int port;
    fp_health_limits_t lim;
    uint32_t serving; /* connections not closing: what the cap counts */
    http_parser_settings settings;
    conn_t *conns;          /* every connection not yet freed, closing ones included */
    size_t live_handles;    /* listener, tick, conns, refused sockets not yet closed */
    bool accept_stalled;    /* out of memory while accepting: retried on the next free */
    bool closing;
    void (*close_cb)(void *ctx);
    void *close_ctx;
    fp_health_stats_t stats;
    /* One read buffer for every connection: libuv calls alloc_cb and read_cb
     * back to back for one stream, and read_cb copies what it keeps. */
    char readbuf[FP_HEALTH_READ_BUF_BYTES];
};

static void on_listener_connection(uv_stream_t *server, int status);
static void on_conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void conn_close(conn_t *c);
static void conn_feed(conn_t *c, const char *data, size_t len);

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

static void on_conn_handle_close(uv_handle_t *handle)
{
    conn_t *c = handle->data;
    fp_health_t *h = c->h;
    if (--c->pending_closes > 0)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    fp_buf_free(&c->head.url);
    fp_buf_free(&c->pending);
    free(c);
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

/* Stops parsing the rest of the current read: the connection is ending.
 * http_parser_pause asserts that the parser is not in an error state. */
static void conn_stop_parser(conn_t *c)
{
    if (HTTP_PARSER_ERRNO(&c->parser) == HPE_OK)
        http_parser_pause(&c->parser, 1);
}

/* Abortive close: unsent responses are dropped. */
static void conn_close(conn_t *c)
{
    if (c->state == CS_CLOSING)
        return;
    conn_stop_parser(c);
    c->state = CS_CLOSING;
    c->h->serving--;
    c->pending_closes = 2;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_close);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_close);
}

/* ---- deciding ---------------------------------------------------------- */

static fp_health_conn_view_t conn_view(const conn_t *c)
{
    fp_health_conn_view_t v = {FP_HEALTH_IDLE, c->last_active_ms};
    /* Evicting a connection whose answer is not all sent cuts that answer:
     * the client asked and waits, it is not the idle one. */
    bool writing = !c->shut && uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) > 0;
    if (c->state != CS_OPEN) {
        v.phase = c->shut ? FP_HEALTH_LINGER : FP_HEALTH_WRITING;
    } else if (c->resume_pending) {
        v.phase = FP_HEALTH_BUSY;
    } else if (c->in_request) {
        v.phase = c->headers_done ? FP_HEALTH_BODY : FP_HEALTH_HEADERS;
        v.since_ms = c->request_start_ms;
    } else if (writing) {
        v.phase = FP_HEALTH_WRITING;
    }
    return v;
}

/* ---- timers ------------------------------------------------------------ */

/* The rest of a read that the per-turn budget left unparsed. */
static void conn_resume(conn_t *c)
{
    fp_buf_t rest = c->pending;
    c->pending = (fp_buf_t){0};
    c->resume_pending = false;
    if (c->state == CS_OPEN)
        conn_feed(c, rest.data, rest.len);
    fp_buf_free(&rest);
    if (c->state == CS_CLOSING || c->resume_pending)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_conn_read) != 0)
        conn_close(c);
}

static void on_conn_timer(uv_timer_t *timer)
{
    conn_t *c = timer->data;
    if (c->resume_pending) {
        conn_resume(c);
        return;
    }
    if (c->state == CS_OPEN)
        c->h->stats.closed_idle++;
    conn_close(c);
}

/* Open: fp_health_timeout_ms. Lingering: the idle time while responses are
 * still being sent (the client may be slow), then a short wait for the
 * client's EOF. */
static void conn_arm_timer(conn_t *c)
{
    fp_health_t *h = c->h;
    uint64_t ms = h->lim.idle_ms;
    if (c->resume_pending) {
        ms = 0; /* the next turn: the client is not idle, it is waiting for us */
    } else if (c->state == CS_LINGER && c->shut) {
        if (ms > FP_HEALTH_LINGER_MS)
            ms = FP_HEALTH_LINGER_MS;
    } else if (c->state == CS_OPEN) {
        fp_health_conn_view_t v = conn_view(c);
        ms = fp_health_timeout_ms(&h->lim, &v, uv_now(h->loop));
    }
    uv_timer_start(&c->timer, on_conn_timer, ms, 0);
}

/* ---- responses --------------------------------------------------------- */

static void on_conn_shutdown(uv_shutdown_t *req, int status)
{
    conn_t *c = req->handle->data;
    if (c->state == CS_CLOSING)
        return; /* UV_ECANCELED from uv_close */
    if (status < 0 || c->eof) {
        conn_close(c);
        return;
    }
    c->shut = true;
    conn_arm_timer(c);
}

/* Graceful end: no more requests are read; once the queued responses are
 * sent our side is shut down, and input is discarded until the client's EOF
 * or the linger timer. Closing at once would make the kernel answer unread
 * input with a reset, which can destroy the response before it is read. */
static void conn_end(conn_t *c)
{
    if (c->state != CS_OPEN)
        return;
    conn_stop_parser(c);
    c->state = CS_LINGER;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_conn_shutdown) != 0) {
        conn_close(c);
        return;
    }
    conn_arm_timer(c);
}

static void on_write(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    conn_t *c = req->handle->data;
    fp_buf_free(&w->body);
    free(w);
    if (c->state == CS_CLOSING)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    /* A finished write is activity: a client reading a large response
     * slowly is not idle. */
    c->last_active_ms = uv_now(c->h->loop);
    if (c->state == CS_OPEN)
        conn_arm_timer(c);
}

/* The client is not reading what it was sent: close rather than buffer more.
 * Memory per connection is thus at most the cap plus one response. */
static bool conn_queue_full(conn_t *c)
{
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) <= FP_HEALTH_MAX_QUEUED_BYTES)
        return false;
    c->h->stats.closed_overflow++;
    conn_close(c);
    return true;
}

/* Queues one response; takes body (which may be NULL for an empty one). With
 * head_only the Content-Length is the body's but the body is not sent. The
 * connection header follows http-parser's keep-alive verdict unless closing. */
static void conn_respond(conn_t *c, int status, const char *content_type, fp_buf_t *body,
                         bool head_only, const char *extra_headers, bool closing)
{
    fp_health_t *h = c->h;
    if (c->state == CS_CLOSING) {
        if (body != NULL)
            fp_buf_free(body);
        return;
    }
    wreq_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        if (body != NULL)
            fp_buf_free(body);
        conn_close(c);
        return;
    }
    if (body != NULL) {
        w->body = *body;
        *body = (fp_buf_t){0};
    }
    if (conn_queue_full(c)) {
        fp_buf_free(&w->body);
        free(w);
        return;
    }
    const char *connection = "";
    if (closing)
        connection = "Connection: close\r\n";
    else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
        connection = "Connection: keep-alive\r\n"; /* 1.0 keeps only when told so */
    if (content_type == NULL || strlen(content_type) > 128 || strpbrk(content_type, "\r\n"))
        content_type = DEFAULT_CONTENT_TYPE;
    int n = snprintf(w->head, sizeof w->head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%s%s\r\n",
                     status, http_status_str((enum http_status)status), content_type,
                     w->body.len, connection, extra_headers ? extra_headers : "");
    uv_buf_t bufs[2] = {uv_buf_init(w->head, (unsigned)n),
                        uv_buf_init(w->body.data, (unsigned)w->body.len)};
    unsigned nbufs = head_only || w->body.len == 0 ? 1 : 2;
    if (n < 0 || (size_t)n >= sizeof w->head ||
        uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, nbufs, on_write) != 0) {
        fp_buf_free(&w->body);
        free(w);
        conn_close(c);
        return;
    }
    h->stats.requests++;
    size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    if (queued > h->stats.queued_max_bytes)
        h->stats.queued_max_bytes = queued;
}

/* A short text body for the server's own answers. head_only only after a
 * complete request: a failed parse may leave any method in the parser. */
static void conn_respond_text(conn_t *c, int status, const char *text, bool head_only,
                              const char *extra_headers, bool closing)
{
    fp_buf_t body = {0};
    if (fp_buf_append(&body, text, strlen(text)) != 0) {
        fp_buf_free(&body);
        conn_close(c);
        return;
    }
    conn_respond(c, status, DEFAULT_CONTENT_TYPE, &body, head_only, extra_headers, closing);
}

/* An error that ends the connection: the request stream is out of step or
 * hostile (400, 413, 431). */
static void conn_fail(conn_t *c, int status, const char *text)
{
    conn_respond_text(c, status, text, false, NULL, true);
    conn_end(c);
}

/* ---- requests ---------------------------------------------------------- */

/* A complete request: answer it. */
static void conn_handle_request(conn_t *c)
{
    fp_health_t *h = c->h;
    bool keep = http_should_keep_alive(&c->parser) != 0;
    unsigned method = c->parser.method;
    const fp_health_route_t *route = NULL;
    switch (fp_health_request_verdict(h->routes, h->n_routes, method, &c->head.url, &route)) {
    case 405:
        conn_respond_text(c, 405, "method not allowed\n", false, "Allow: GET, HEAD\r\n", !keep);
        goto done;
    case 400:
        conn_fail(c, 400, "bad request\n");
        return;
    case 404:
        conn_respond_text(c, 404, "not found\n", method == HTTP_HEAD, NULL, !keep);
        goto done;
    default:
        break;
    }
    /* Before rendering, so a client that does not read costs no more bodies. */
    if (conn_queue_full(c))
        return;
    fp_buf_t body = {0};
    const char *content_type = NULL;
    int status = route->fn(h->ctx, &body, &content_type);
    if (status < 100 || status > 599) {
        fp_buf_free(&body);
        conn_respond_text(c, 500, "internal error\n", method == HTTP_HEAD, NULL, !keep);
        goto done;
    }
    conn_respond(c, status, content_type, &body, method == HTTP_HEAD, NULL, !keep);
done:
    if (!keep)
        conn_end(c);
}

static conn_t *conn_of(http_parser *p)
{
    return p->data;
}

static int on_message_begin(http_parser *p)
{
    conn_t *c = conn_of(p);
    c->in_request = true;
    c->headers_done = false;
    fp_health_head_reset(&c->head);
    c->request_start_ms = uv_now(c->h->loop);
    c->body_bytes = 0;
    conn_arm_timer(c);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    return fp_health_head_url(&conn_of(p)->head, at, len);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    return fp_health_head_field(&conn_of(p)->head, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    return fp_health_head_value(&conn_of(p)->head, len);
}

static int on_headers_complete(http_parser *p)
{
    conn_t *c = conn_of(p);
    c->headers_done = true;
    if (fp_health_body_too_large(p))
        conn_fail(c, 413, "request body too large\n");
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    conn_t *c = conn_of(p);
    c->body_bytes += len;
    if (c->body_bytes > FP_HEALTH_MAX_BODY_BYTES) /* chunked: no length to check up front */
        conn_fail(c, 413, "request body too large\n");
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn_t *c = conn_of(p);
    c->in_request = false;
    conn_handle_request(c);
    /* Pipelined requests take turns with the rest of the loop: a client that
     * sends hundreds at once and reads fast must not hold the supervisor. */
    if (c->state == CS_OPEN && ++c->answered >= FP_HEALTH_PIPELINE_BATCH)
        conn_stop_parser(c);
    return 0;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = handle->data;
    *buf = uv_buf_init(c->h->readbuf, sizeof c->h->readbuf);
}

static void on_conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = stream->data;
    if (nread == 0 || c->state == CS_CLOSING)
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            conn_close(c);
            return;
        }
        /* A half-close may follow the last request: send what is queued. */
        c->eof = true;
        uv_read_stop(stream);
        if (c->state == CS_OPEN)
            conn_end(c);
        else if (c->shut)
            conn_close(c);
        return;
    }
    /* Lingering input is dropped, and does not extend the linger timer, so a
     * client that keeps sending cannot keep the connection. */
    if (c->state == CS_LINGER)
        return;
    c->last_active_ms = uv_now(c->h->loop);
    conn_arm_timer(c);
    conn_feed(c, buf->base, (size_t)nread);
}

/* Parses input and answers what completes. Stopped by the budget, the rest
 * is copied (at most one read) and parsed on the next turn, reading paused
 * meanwhile so it cannot grow. */
static void conn_feed(conn_t *c, const char *data, size_t len)
{
    fp_health_t *h = c->h;
    if (c->turn != h->turn) {
        c->turn = h->turn;
        c->answered = 0;
    }
    size_t done = http_parser_execute(&c->parser, &h->settings, data, len);
    if (c->state != CS_OPEN)
        return; /* a callback answered and is ending the connection */
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        if (done >= len)
            return;
        if (fp_buf_append(&c->pending, data + done, len - done) != 0) {
            conn_close(c);
            return;
        }
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->resume_pending = true;
        conn_arm_timer(c);
        return;
    }
    if (e == HPE_OK && done == len)
        return;
    int status = fp_health_parse_error_status(c->head.reject, e);
    conn_fail(c, status, status == 414   ? "uri too long\n"
                         : status == 431 ? "request header fields too large\n"
                         : status == 500 ? "internal error\n"
                                         : "bad request\n");
}

/* ---- accepting --------------------------------------------------------- */

/* At the cap: closes the connection fp_health_evicts_before picks, if any.
 * Its memory goes a turn later, with its close callbacks. */
static bool evict_one(fp_health_t *h)
{
    conn_t *victim = NULL;
    fp_health_conn_view_t best;
    for (conn_t *c = h->conns; c != NULL; c = c->next) {
        if (c->state == CS_CLOSING)
            continue;
        fp_health_conn_view_t v = conn_view(c);
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
    conn_close(victim);
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
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        refuse(h, server);
        return;
    }
    c->h = h;
    c->state = CS_OPEN;
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = h->conns;
    if (h->conns != NULL)
        h->conns->prev = c;
    h->conns = c;
    h->live_handles++;
    h->serving++;
    h->stats.open++;
    if (h->stats.open > h->stats.open_max)
        h->stats.open_max = h->stats.open;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    h->stats.accepted++;
    c->last_active_ms = uv_now(h->loop);
    uv_tcp_nodelay(&c->tcp, 1);
    conn_arm_timer(c);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_conn_read) != 0)
        conn_close(c);
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
    http_parser_settings_init(&h->settings);
    h->settings.on_message_begin = on_message_begin;
    h->settings.on_url = on_url;
    h->settings.on_header_field = on_header_field;
    h->settings.on_header_value = on_header_value;
    h->settings.on_headers_complete = on_headers_complete;
    h->settings.on_body = on_body;
    h->settings.on_message_complete = on_message_complete;
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
    for (conn_t *c = h->conns; c != NULL; c = c->next)
        conn_close(c);
}
