/* health.h: the health endpoint's HTTP server on the supervisor's libuv loop.
 * It knows nothing about forkpool's state: the supervisor hands it a table of
 * routes (/healthz, /readyz, /metrics, /stats, the status page) whose
 * functions render a body, and the server does the rest — parsing with
 * http-parser, GET and HEAD (and POST for the routes that take it),
 * 404/405/400/413/414/431, keep-alive and pipelining, and the limits that keep a
 * slow, greedy or hostile client from stalling the loop or growing memory:
 * header bytes, body bytes, connection count (the oldest idle connection
 * makes room for a new one), header and idle time, and bytes queued for
 * writing per connection. Everything here runs on the loop's thread; the
 * process must ignore SIGPIPE (signals.c does), as libuv writes with write(2). */
#ifndef FORKPOOL_HEALTH_H
#define FORKPOOL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/err.h"
#include "dispatch/proto.h"

/* Limits. The header limit covers the request line and every header line
 * (the request-target alone is held to the same bound, answered 414);
 * bodies are not expected (a POST carries its arguments in the query
 * string), so a small one is tolerated and discarded, a larger one is
 * refused before it is read. */
#define FP_HEALTH_MAX_HEADER_BYTES (8 * 1024)   /* larger → 431 and close */
#define FP_HEALTH_MAX_URL_BYTES (8 * 1024)      /* larger → 414 and close */
#define FP_HEALTH_MAX_BODY_BYTES 1024           /* larger → 413 and close */
#define FP_HEALTH_MAX_CONNS 64                  /* default cap; at it, the oldest idle
                                                 * connection makes room for a new one */
#define FP_HEALTH_IDLE_MS 5000                  /* default: between requests, nothing read
                                                 * and no response finished → close */
#define FP_HEALTH_HEADER_MS 5000                /* default: a request's first byte to the
                                                 * end of its headers, however it trickles */
#define FP_HEALTH_MAX_QUEUED_BYTES (256 * 1024) /* unsent bytes past which the next
                                                 * response closes the connection */
#define FP_HEALTH_LINGER_MS 1000                /* draining input after a closing response */
#define FP_HEALTH_PIPELINE_BATCH 16             /* requests per connection per loop turn */

/* The limits [health] configures; fp_health_start uses the defaults above. */
typedef struct fp_health_limits_s {
    uint64_t header_ms; /* > 0 */
    uint64_t idle_ms;   /* > 0 */
    uint32_t max_conns; /* > 0 */
} fp_health_limits_t;

/* What the deciding functions below need to know of one connection. */
typedef enum fp_health_phase_e {
    FP_HEALTH_LINGER,  /* its last response is queued; input is being drained */
    FP_HEALTH_IDLE,    /* between requests (keep-alive) */
    FP_HEALTH_HEADERS, /* a request begun, its headers not complete */
    FP_HEALTH_BODY,    /* headers done, a (small, discarded) body still arriving */
    FP_HEALTH_WRITING, /* an answer still being sent: evicted only when nothing else is */
    FP_HEALTH_BUSY,    /* requests parsed and being answered over loop turns */
} fp_health_phase_t;

typedef struct fp_health_conn_view_s {
    fp_health_phase_t phase;
    uint64_t since_ms; /* HEADERS, BODY: the request's first byte; else the last activity */
} fp_health_conn_view_t;

/* How long from now_ms an open connection in phase IDLE, HEADERS or BODY may
 * stay before it is closed: the idle time, shortened for a request to what
 * is left of header_ms since its first byte (HEADERS) or of header_ms plus
 * the idle time (BODY), so that one sending a byte now and then (slowloris)
 * cannot keep its slot. 0 means now. */
uint64_t fp_health_timeout_ms(const fp_health_limits_t *lim, const fp_health_conn_view_t *v,
                              uint64_t now_ms);

/* At the connection cap, which connection makes room for a new one: whether
 * cand should go before best (best NULL: any evictable one will do). Those
 * whose answer is already sent go first, then idle keep-alive ones, then
 * requests still trickling in (headers, then body); the oldest first within
 * each. A BUSY connection is never evicted. */
bool fp_health_evicts_before(const fp_health_conn_view_t *cand, const fp_health_conn_view_t *best);

/* The status a request's head earns so far, from the bytes counted for its
 * request-target and for its request line and headers together: 0 (fine
 * so far), 414 or 431. */
int fp_health_head_verdict(size_t url_bytes, size_t head_bytes);

/* Renders one route. Called for GET and HEAD on the loop thread with ctx as
 * given to fp_health_start; body is empty and owned by the server (append to
 * it, never free it); *content_type starts NULL (then "text/plain;
 * charset=utf-8") and must point to a string that outlives the call — a
 * literal. Returns the HTTP status (200, 503, ...); anything outside
 * 100..599, a negative code included, is answered 500. It must not block. */
typedef int (*fp_health_route_fn)(void *ctx, fp_buf_t *body, const char **content_type);

/* What a POST route sees of its request. Strings are borrowed for the call. */
typedef struct fp_health_req_s {
    const char *query;  /* the query string without its '?', "" when none */
    const char *token;  /* the FP_HEALTH_TOKEN_HEADER value, NULL when absent; a value
                           longer than FP_HEALTH_TOKEN_MAX reads as "" (never matches) */
    const char *peer;   /* the client's address ("127.0.0.1:40000"), "?" when unknown */
} fp_health_req_t;

/* The header a POST route's caller authenticates with, and the longest
 * value kept of it. */
#define FP_HEALTH_TOKEN_HEADER "X-Forkpool-Token"
#define FP_HEALTH_TOKEN_MAX 256

/* Answers one POST, as fp_health_route_fn answers a GET. */
typedef int (*fp_health_post_fn)(void *ctx, const fp_health_req_t *req, fp_buf_t *body,
                                 const char **content_type);

typedef struct fp_health_route_s {
    const char *path; /* exact match on the path, the query string ignored: "/healthz" */
    fp_health_route_fn fn;   /* GET and HEAD; NULL: answered 405 */
    fp_health_post_fn post;  /* POST; NULL: answered 405 */
    const char *headers;     /* extra response header lines, each ending "\r\n"
                                (Content-Security-Policy...); NULL: none */
} fp_health_route_t;

typedef struct fp_health_s fp_health_t;

/* Counters for tests, logs and metrics. open/open_max count connections
 * being served or closing, refused ones excluded. */
typedef struct fp_health_stats_s {
    uint64_t accepted;        /* connections taken into service */
    uint64_t refused;         /* accepted at the cap with nothing to evict, closed at once */
    uint64_t evicted;         /* closed at the cap to make room for a new connection */
    uint64_t requests;        /* responses queued, errors included */
    uint64_t closed_idle;     /* closed by the idle or header timer */
    uint64_t closed_overflow; /* closed because the client did not read */
    uint32_t open;
    uint32_t open_max;
    size_t queued_max_bytes; /* the most bytes ever waiting in one connection's write queue */
} fp_health_stats_t;

/* Binds and listens on listen ("127.0.0.1:9187", "localhost:9187" — always
 * 127.0.0.1, never a name lookup —, "[::1]:9187"; port 0 picks a free port)
 * before it returns, so a busy port is an error here: FP_ECONFIG "cannot listen
 * on 127.0.0.1:9187: Address already in use". A malformed listen is FP_ECONFIG
 * too; -ENOMEM when out of memory. routes is copied, its paths are borrowed
 * until fp_health_close's callback; ctx is passed to every route. On success
 * *out is owned by the caller until fp_health_close. */
int fp_health_start(uv_loop_t *loop, const char *listen, const fp_health_route_t *routes, size_t n,
                    void *ctx, fp_health_t **out, fp_err_t *err);

/* The port actually bound (useful after port 0). */
int fp_health_port(const fp_health_t *h);

/* Replaces the limits, for timers armed and connections accepted from now
 * on; zero fields keep their current value. */
void fp_health_set_limits(fp_health_t *h, const fp_health_limits_t *lim);

void fp_health_get_stats(const fp_health_t *h, fp_health_stats_t *out);

/* The status the server answers to the first request in data, parsed and
 * routed as a connection would be but without one (for the fuzz target and
 * tests): 400, 405, 413, 414, 431, a route's status, or 0 when data holds no
 * complete request yet. Routes run with ctx. */
int fp_health_request_status(const char *data, size_t len, const fp_health_route_t *routes,
                             size_t n, void *ctx);

/* Stops listening and closes every connection, abandoning unsent responses.
 * cb (may be NULL) runs once on the loop after the last handle is closed, and
 * h is freed just before it; never from within this call. h must not be used
 * after this call. */
void fp_health_close(fp_health_t *h, void (*cb)(void *ctx), void *ctx);

#endif
