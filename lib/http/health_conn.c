/* health_conn.c: one client of the health endpoint (health.c has the
 * server). Input is parsed by http-parser; each complete request is answered
 * at once, in order, through the route table, so pipelined requests need no
 * queue of their own, and at most FP_HEALTH_PIPELINE_BATCH per loop turn (the
 * rest of that read waits for the next turn with reading paused). A timer
 * per connection enforces the header and idle times (fp_health_timeout_ms);
 * a client that stops reading is cut off instead of buffered for; a response
 * that ends the connection is followed by a shutdown and a short lingering
 * read that discards input (nginx's lingering close), so the client reads
 * the answer rather than a reset. */
#include "http/health_conn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONTENT_TYPE "text/plain; charset=utf-8"

typedef fp_health_conn_t conn_t;

/* A queued response: the header text and the body it owns, freed in on_write. */
typedef struct wreq_s {
    uv_write_t req;
    fp_buf_t body;
    char head[1024]; /* status line and headers, a route's CSP included */
} wreq_t;

static void on_conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void conn_feed(conn_t *c, const char *data, size_t len);

/* ---- closing ------------------------------------------------------------ */

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
    fp_health_conn_gone(h);
}

/* Stops parsing the rest of the current read: the connection is ending.
 * http_parser_pause asserts that the parser is not in an error state. */
static void conn_stop_parser(conn_t *c)
{
    if (HTTP_PARSER_ERRNO(&c->parser) == HPE_OK)
        http_parser_pause(&c->parser, 1);
}

/* Abortive close: unsent responses are dropped. */
void fp_health_conn_close(conn_t *c)
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

fp_health_conn_view_t fp_health_conn_view(const conn_t *c)
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
        fp_health_conn_close(c);
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
    fp_health_conn_close(c);
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
        fp_health_conn_view_t v = fp_health_conn_view(c);
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
        fp_health_conn_close(c);
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
        fp_health_conn_close(c);
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
        fp_health_conn_close(c);
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
    fp_health_conn_close(c);
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
        fp_health_conn_close(c);
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
        fp_health_conn_close(c);
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
        fp_health_conn_close(c);
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

/* The client's address for a POST route's log line, "?" when unknown. */
static void conn_peer(conn_t *c, char *out, size_t size)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    char ip[64];
    snprintf(out, size, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET && uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip) == 0)
        snprintf(out, size, "%s:%u", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
    else if (ss.ss_family == AF_INET6 && uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip) == 0)
        snprintf(out, size, "[%s]:%u", ip, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
}

/* Runs the route for the request's method: its status as it returned it,
 * -ENOMEM when the query cannot be copied. */
static int conn_run_route(conn_t *c, const fp_health_route_t *route, unsigned method,
                          fp_buf_t *body, const char **content_type)
{
    fp_health_t *h = c->h;
    int status;
    if (method != HTTP_POST) {
        status = route->fn(h->ctx, body, content_type);
    } else {
        fp_buf_t query = {0};
        char peer[96];
        conn_peer(c, peer, sizeof peer);
        status = -ENOMEM;
        if (fp_health_url_query(&c->head.url, &query) == 0) {
            fp_health_req_t req = {query.data, fp_health_head_token(&c->head), peer};
            status = route->post(h->ctx, &req, body, content_type);
        }
        fp_buf_free(&query);
    }
    return status;
}

/* A complete request: answer it. */
static void conn_handle_request(conn_t *c)
{
    fp_health_t *h = c->h;
    bool keep = http_should_keep_alive(&c->parser) != 0;
    unsigned method = c->parser.method;
    const fp_health_route_t *route = NULL;
    switch (fp_health_request_verdict(h->routes, h->n_routes, method, &c->head.url, &route)) {
    case 405:
        conn_respond_text(c, 405, "method not allowed\n", false, fp_health_allow_header(route),
                          !keep);
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
    int status = conn_run_route(c, route, method, &body, &content_type);
    if (status < 100 || status > 599) {
        fp_buf_free(&body);
        conn_respond_text(c, 500, "internal error\n", method == HTTP_HEAD, NULL, !keep);
        goto done;
    }
    conn_respond(c, status, content_type, &body, method == HTTP_HEAD, route->headers, !keep);
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
    return fp_health_head_field(&conn_of(p)->head, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    return fp_health_head_value(&conn_of(p)->head, at, len);
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
            fp_health_conn_close(c);
            return;
        }
        /* A half-close may follow the last request: send what is queued. */
        c->eof = true;
        uv_read_stop(stream);
        if (c->state == CS_OPEN)
            conn_end(c);
        else if (c->shut)
            fp_health_conn_close(c);
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
            fp_health_conn_close(c);
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

/* ---- opening ------------------------------------------------------------ */

void fp_health_conn_settings(http_parser_settings *settings)
{
    http_parser_settings_init(settings);
    settings->on_message_begin = on_message_begin;
    settings->on_url = on_url;
    settings->on_header_field = on_header_field;
    settings->on_header_value = on_header_value;
    settings->on_headers_complete = on_headers_complete;
    settings->on_body = on_body;
    settings->on_message_complete = on_message_complete;
}

bool fp_health_conn_open(fp_health_t *h, uv_stream_t *server)
{
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return false;
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
        fp_health_conn_close(c);
        return true;
    }
    h->stats.accepted++;
    c->last_active_ms = uv_now(h->loop);
    uv_tcp_nodelay(&c->tcp, 1);
    conn_arm_timer(c);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_conn_read) != 0)
        fp_health_conn_close(c);
    return true;
}
