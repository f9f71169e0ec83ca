/* redis_conn.h: one asynchronous Redis connection on a libuv loop that keeps
 * itself connected. It adds what hiredis 0.14's async API lacks: connect and
 * command timeouts, non-blocking name resolution, CLOEXEC on the socket, AUTH
 * and SELECT, and reconnection with capped exponential back-off. Owners see
 * "up" and "down" transitions and send commands only while up. */
#ifndef FORKPOOL_REDIS_CONN_H
#define FORKPOOL_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "base/err.h"
#include "redis/redis_url.h"

typedef struct fp_redis_conn_s fp_redis_conn_t;

/* A reply, borrowed for the call: copy what you keep. reply == NULL means the
 * connection went away (or is closing) before the answer came. */
typedef void (*fp_redis_reply_cb)(fp_redis_conn_t *conn, redisReply *reply, void *privdata);

/* up: connected, authenticated, database selected, and not talking to a
 * replica (ROLE). !up: an attempt failed or
 * an established connection was lost (reason says why); the next attempt is
 * already scheduled. Never called from fp_redis_conn_close. */
typedef void (*fp_redis_state_cb)(fp_redis_conn_t *conn, bool up, const char *reason, void *ctx);

/* Where to connect, asked before every attempt instead of taking the URL's
 * host and port (Sentinel discovery: lib/redis/sentinel.h). locate starts
 * the search and answers later through fp_redis_conn_located, never from
 * inside the call; cancel (the connection is closing) means: never answer. */
typedef struct fp_redis_locator_s {
    void (*locate)(void *ctx, fp_redis_conn_t *c);
    void (*cancel)(void *ctx, fp_redis_conn_t *c);
    void *ctx;
} fp_redis_locator_t;

typedef struct fp_redis_conn_opts_s {
    const char *name;           /* "reader", "writer": for messages */
    int64_t connect_timeout_ms; /* TCP connect + AUTH + SELECT + PING */
    int64_t command_timeout_ms; /* a reply later than this (plus the command's own
                                 * allowance) drops the connection; 0: never */
    bool any_role;              /* a sentinel: no ROLE check (it answers "sentinel") */
    const fp_redis_locator_t *locator; /* NULL: the URL's host and port; borrowed */
    bool cluster;               /* follows one slot of a Redis Cluster (lib/redis/cluster.h):
                                 * MOVED, ASK, TRYAGAIN and CLUSTERDOWN are faults too
                                 * (fp_cluster_fault_reply) */
} fp_redis_conn_opts_t;

/* Reconnect back-off: 100 ms doubling up to 5 s, back to 100 ms once up; after
 * a fault reply (fp_redis_fault_reply), only once a command succeeds. */
#define FP_REDIS_BACKOFF_MIN_MS 100
#define FP_REDIS_BACKOFF_MAX_MS 5000

/* Error replies that mean "this server cannot take writes now", whichever
 * command they answer: READONLY (a replica), LOADING (loading its dataset),
 * MASTERDOWN (a replica that lost its primary), NOREPLICAS (a master with
 * min-replicas-to-write that lost its replicas). They are a failover in
 * progress, not a failed command, so the connection treats them as a lost
 * connection: the command's callback gets NULL, the connection is dropped and
 * re-established with the back-off, and reason tells why. Returns what to say
 * about msg[0..n), or NULL for any other error. */
const char *fp_redis_fault_reply(const char *msg, size_t n);

/* Whether a ROLE reply (sent while connecting) shows a server that takes
 * writes. A replica or a sentinel does not; an error reply (ROLE renamed or
 * not allowed) says nothing, and the server is taken as writable: a
 * READONLY reply later still counts as a fault. */
bool fp_redis_role_writable(const redisReply *r);

/* url is borrowed until the connection is closed. */
int fp_redis_conn_new(uv_loop_t *loop, const fp_redis_url_t *url, const fp_redis_conn_opts_t *opts,
                      fp_redis_state_cb cb, void *ctx, fp_redis_conn_t **out, fp_err_t *err);

/* First attempt now; failures retry on their own. */
void fp_redis_conn_start(fp_redis_conn_t *c);

bool fp_redis_conn_is_up(const fp_redis_conn_t *c);

/* Sends a command already in RESP form (copied). allowance_ms extends the
 * command timeout for commands that wait on purpose (XREADGROUP BLOCK).
 * Returns 0 and then cb runs exactly once, or a negative code (not up, no
 * memory) and cb never runs. */
int fp_redis_conn_send(fp_redis_conn_t *c, const char *cmd, size_t len, int64_t allowance_ms,
                       fp_redis_reply_cb cb, void *privdata);

/* The same from an argument vector. */
int fp_redis_conn_sendv(fp_redis_conn_t *c, int argc, const char **argv, const size_t *lens,
                        int64_t allowance_ms, fp_redis_reply_cb cb, void *privdata);

/* Writes the commands queued so far now, instead of from the connection's
 * own prepare handle. For an owner that queues commands from its own
 * prepare callback: without this, they would cost one more (zero-timeout)
 * poll before leaving. A no-op when nothing waits or the connection is not
 * connected. */
void fp_redis_conn_flush(fp_redis_conn_t *c);

/* Gives up the current connection (pending callbacks get NULL) and
 * reconnects after the back-off, as if Redis had closed it. */
void fp_redis_conn_drop(fp_redis_conn_t *c, const char *reason);

/* The answer to a locator's locate: host and port (host copied), or why
 * none was found (the attempt fails as a lost connection, with back-off).
 * Ignored unless this connection is waiting for it. */
void fp_redis_conn_located(fp_redis_conn_t *c, const char *host, int port, const char *why);

/* The master moved to host:port (a +switch-master): a connection to
 * another address is dropped with reason; one waiting out its back-off
 * tries again at once. */
void fp_redis_conn_follow(fp_redis_conn_t *c, const char *host, int port, const char *reason);

/* SUBSCRIBE channel on this connection (up; from then on it takes no other
 * command). cb gets each message's text, the subscription's own replies
 * are skipped; after a reconnect the owner subscribes again. 0, or a
 * negative code when not up. */
typedef void (*fp_redis_message_cb)(fp_redis_conn_t *c, const char *text, size_t len, void *ctx);
int fp_redis_conn_subscribe(fp_redis_conn_t *c, const char *channel, fp_redis_message_cb cb,
                            void *ctx);

/* Adds the commands that got a reply or were lost (a NULL reply) so far to
 * *replies, and of those the error replies and losses to *errors: the
 * round trips and failures /metrics counts. */
void fp_redis_conn_counts(const fp_redis_conn_t *c, uint64_t *replies, uint64_t *errors);

/* "127.0.0.1:6379" or the socket path: the address of the current (or
 * last) attempt, which Sentinel discovery changes. */
const char *fp_redis_conn_where(const fp_redis_conn_t *c);

/* Disconnects (pending callbacks run with NULL, possibly before this returns),
 * closes the timers and frees the connection; cb (may be NULL) runs after. */
void fp_redis_conn_close(fp_redis_conn_t *c, void (*cb)(void *ctx), void *ctx);

#endif
