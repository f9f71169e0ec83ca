/* health_conn.h: what the health endpoint's server (health.c) and its
 * connections (health_conn.c) share: the two records and the calls between
 * them. Internal to lib/http. */
#ifndef FORKPOOL_HEALTH_CONN_H
#define FORKPOOL_HEALTH_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>
#include <uv.h>

#include "http/health.h"
#include "http/health_request.h"

typedef enum conn_state_e {
    CS_OPEN,    /* reading and answering requests */
    CS_LINGER,  /* last response queued: shutting down, input discarded */
    CS_CLOSING, /* uv_close called on both handles */
} conn_state_t;

/* One client. Memory lives until both handles' close callbacks have run
 * (pending_closes), whatever the state; write and shutdown requests that are
 * still in flight at close get their callbacks (UV_ECANCELED) before that. */
typedef struct fp_health_conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    http_parser parser;
    fp_health_t *h;
    struct fp_health_conn_s *prev, *next;
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
} fp_health_conn_t;

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
    fp_health_conn_t *conns;          /* every connection not yet freed, closing ones included */
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

/* health_conn.c: the parser callbacks every connection shares. */
void fp_health_conn_settings(http_parser_settings *settings);
/* Accepts the socket waiting on server as a new connection and starts
 * reading it; false when out of memory (nothing accepted). */
bool fp_health_conn_open(fp_health_t *h, uv_stream_t *server);
/* Abortive close: unsent responses are dropped; memory goes with the close
 * callbacks, a turn later. */
void fp_health_conn_close(fp_health_conn_t *c);
/* What fp_health_timeout_ms and fp_health_evicts_before judge. */
fp_health_conn_view_t fp_health_conn_view(const fp_health_conn_t *c);

/* health.c: a connection has been freed and unlinked from h->conns. */
void fp_health_conn_gone(fp_health_t *h);

#endif
