/* redis_conn_internal.h: INTERNAL to lib/redis/ — the state of one
 * fp_redis_conn_t (redis_conn.h), shared by redis_conn.c (connecting,
 * commands, closing) and redis_conn_follow.c (being told where to go:
 * locator answers, a master that moved, a subscription). Not a public
 * header: nothing outside lib/redis/ includes it. */
#ifndef FORKPOOL_REDIS_CONN_INTERNAL_H
#define FORKPOOL_REDIS_CONN_INTERNAL_H

#include <hiredis/async.h>

#include "redis/redis_conn.h"

typedef enum conn_state_e {
    ST_IDLE,        /* not started */
    ST_LOCATING,    /* the locator (Sentinel) is finding the address */
    ST_RESOLVING,   /* uv_getaddrinfo in flight */
    ST_CONNECTING,  /* TCP/unix connect in progress */
    ST_HANDSHAKE,   /* AUTH / SELECT / PING sent */
    ST_UP,
    ST_WAITING,     /* lost; the back-off timer will start the next attempt */
    ST_CLOSING,
} conn_state_t;

/* One command waiting for its reply. Replies come back in order, so the list
 * is a FIFO and only the head's deadline matters for the timeout. */
typedef struct cmd_s {
    struct cmd_s *next;
    fp_redis_conn_t *conn;
    fp_redis_reply_cb cb;
    void *privdata;
    uint64_t deadline_ms; /* loop time; 0: none */
} cmd_t;

struct fp_redis_conn_s {
    uv_loop_t *loop;
    const fp_redis_url_t *url;
    char name[32];
    char where[300];
    int64_t connect_timeout_ms;
    int64_t command_timeout_ms;
    fp_redis_state_cb state_cb;
    void *ctx;
    bool any_role;
    bool cluster; /* cluster faults count too (fp_redis_conn_opts_t) */
    const fp_redis_locator_t *locator;
    char host[256]; /* this attempt's host (the URL's, or the locator's) */
    int port;
    fp_redis_message_cb sub_cb;
    void *sub_ctx;

    conn_state_t state;
    redisAsyncContext *ac; /* NULL whenever hiredis may free it on its own */
    bool going_down;       /* a NULL reply arrived: no new commands on this context */
    bool faulted;          /* lost to a fault reply: the back-off resets on a success */
    int handshake_left;
    int64_t losses;        /* in a row: the back-off step */
    uint64_t replies;      /* commands answered or lost (NULL), for metrics */
    uint64_t errors;       /* of those: error replies and losses */

    uv_timer_t connect_timer;
    uv_timer_t backoff_timer;
    uv_timer_t command_timer;
    uv_prepare_t flush;    /* writes this turn's commands just before the loop blocks */
    uv_idle_t flush_late;  /* keeps the loop from blocking when a command came after it */
    bool flushing;         /* inside redisAsyncHandleWrite from the flush */
    uv_getaddrinfo_t resolver;
    bool resolving;

    cmd_t *head, *tail;
    struct fp_tls_relay_s *relay; /* rediss://: carries this context's bytes over TLS */

    int open_handles;
    void (*close_cb)(void *ctx);
    void *close_ctx;
};

/* redis_conn.c */
void fp__conn_lost(fp_redis_conn_t *c, const char *reason);
void fp__conn_on_backoff(uv_timer_t *t);
/* Connects to c->host:c->port (or the URL's socket). */
void fp__conn_connect_host(fp_redis_conn_t *c);

/* redis_conn_tls.c */
/* rediss://: a hiredis context on a private socket whose bytes a TLS relay
 * (c->relay) carries to ip:c->port; NULL with why. */
redisAsyncContext *fp__conn_tls_connect(fp_redis_conn_t *c, const char *ip, char *why,
                                        size_t size);
/* Closes c->relay, if any (the connection is lost or closing). */
void fp__conn_tls_release(fp_redis_conn_t *c);

/* redis_conn_follow.c */
/* Where the next attempt goes, and what c->where says. */
void fp__conn_set_target(fp_redis_conn_t *c, const char *host, int port);

#endif
