/* redis_conn.c: one self-healing hiredis async connection on the libuv loop,
 * and the only file that includes hiredis' libuv adapter. It owns the
 * redisAsyncContext: hiredis frees a context itself after its disconnect or
 * failed-connect callback, so the pointer is cleared there and never freed
 * again. Host names are resolved with uv_getaddrinfo on libuv's thread pool
 * (hiredis would call a blocking getaddrinfo on the loop); IP literals and
 * unix sockets skip that step. It must not log: owners decide what a user
 * sees, from the up/down reports. Being told where to go (a locator's
 * answer, a master that moved, a subscription) is redis_conn_follow.c; the
 * state both share is in redis_conn_internal.h. */
#include "redis/redis_conn_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>

#include "base/backoff.h"
#include "redis/cluster_parse.h"

static void attempt(fp_redis_conn_t *c);
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* ---- failure and back-off ---------------------------------------------- */

static void arm_command_timer(fp_redis_conn_t *c);

void fp__conn_on_backoff(uv_timer_t *t)
{
    attempt(t->data);
}

/* The connection is gone (or never came): schedule the next attempt and say
 * so. The context, if any, is already out of our hands. */
void fp__conn_lost(fp_redis_conn_t *c, const char *reason)
{
    fp__conn_tls_release(c);
    if (c->state == ST_CLOSING)
        return;
    c->state = ST_WAITING;
    c->going_down = false;
    uv_timer_stop(&c->connect_timer);
    uv_timer_stop(&c->command_timer);
    if (c->losses < INT64_MAX)
        c->losses++;
    int64_t wait =
        fp_backoff_ms(c->losses, FP_REDIS_BACKOFF_MIN_MS, FP_REDIS_BACKOFF_MAX_MS, false, 0);
    uv_timer_start(&c->backoff_timer, fp__conn_on_backoff, (uint64_t)wait, 0);
    if (c->state_cb != NULL)
        c->state_cb(c, false, reason, c->ctx);
}

/* Frees our context now. Pending commands get their NULL replies from inside
 * redisAsyncFree (or right after the current hiredis callback returns, when
 * called from one); the disconnect callback then finds c->ac cleared. */
static void release_context(fp_redis_conn_t *c)
{
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    c->going_down = true;
    if (ac != NULL)
        redisAsyncFree(ac);
}

void fp_redis_conn_drop(fp_redis_conn_t *c, const char *reason)
{
    /* going_down: hiredis is already tearing this context down and will call
     * on_disconnect; freeing it again from a NULL-reply callback would not help. */
    if (c->ac == NULL || c->going_down)
        return;
    char why[256];
    /* reason may live in a reply freed below; a longer one is cut, on purpose */
    snprintf(why, sizeof why, "%.*s", (int)sizeof why - 1, reason);
    release_context(c);
    fp__conn_lost(c, why);
}

static void on_connect_timeout(uv_timer_t *t)
{
    fp_redis_conn_t *c = t->data;
    char why[64];
    snprintf(why, sizeof why, "no connection within %lld ms", (long long)c->connect_timeout_ms);
    fp_redis_conn_drop(c, why);
}

static void on_command_timeout(uv_timer_t *t)
{
    fp_redis_conn_t *c = t->data;
    if (c->head == NULL || c->head->deadline_ms == 0)
        return;
    if (uv_now(c->loop) < c->head->deadline_ms) {
        arm_command_timer(c);
        return;
    }
    char why[64];
    snprintf(why, sizeof why, "no reply within %lld ms", (long long)c->command_timeout_ms);
    fp_redis_conn_drop(c, why);
}

static void arm_command_timer(fp_redis_conn_t *c)
{
    if (c->head == NULL || c->head->deadline_ms == 0) {
        uv_timer_stop(&c->command_timer);
        return;
    }
    uint64_t now = uv_now(c->loop);
    uint64_t wait = c->head->deadline_ms > now ? c->head->deadline_ms - now : 0;
    uv_timer_start(&c->command_timer, on_command_timeout, wait, 0);
}

/* ---- hiredis callbacks -------------------------------------------------- */

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    fp_redis_conn_t *c = ac->data;
    (void)status;
    if (c == NULL || ac != c->ac)
        return; /* a context we released ourselves */
    char why[256];
    snprintf(why, sizeof why, "%s", ac->errstr[0] != '\0' ? ac->errstr : "connection closed");
    c->ac = NULL; /* hiredis frees it when this returns */
    fp__conn_lost(c, why);
}

static int send_internal(fp_redis_conn_t *c, int argc, const char **argv, const size_t *lens,
                         fp_redis_reply_cb cb);

static void handshake_done(fp_redis_conn_t *c)
{
    uv_timer_stop(&c->connect_timer);
    c->state = ST_UP;
    /* A server that just refused writes may accept PING and ROLE and refuse
     * writes again: only a command that works ends that back-off. */
    if (!c->faulted)
        c->losses = 0;
    if (c->state_cb != NULL)
        c->state_cb(c, true, NULL, c->ctx);
}

static void on_handshake_reply(fp_redis_conn_t *c, redisReply *reply, void *privdata)
{
    const char *step = privdata;
    if (reply == NULL || c->state != ST_HANDSHAKE)
        return; /* the loss is reported by whoever released the context */
    bool is_role = strcmp(step, "ROLE") == 0;
    if (reply->type == REDIS_REPLY_ERROR && !is_role) {
        char why[300];
        snprintf(why, sizeof why, "%s failed: %.*s", step, (int)reply->len, reply->str);
        fp_redis_conn_drop(c, why);
        return;
    }
    if (is_role && !c->any_role && !fp_redis_role_writable(reply)) {
        c->faulted = true;
        fp_redis_conn_drop(c, "Redis is a replica: it refuses writes (ROLE)");
        return;
    }
    if (--c->handshake_left == 0)
        handshake_done(c);
}

static void start_handshake(fp_redis_conn_t *c)
{
    const fp_redis_url_t *u = c->url;
    c->state = ST_HANDSHAKE;
    c->handshake_left = 0;
    int rc = 0;
    if (u->password != NULL) {
        const char *argv[3] = {"AUTH", u->user, u->password};
        size_t lens[3] = {4, u->user != NULL ? strlen(u->user) : 0, strlen(u->password)};
        if (u->user != NULL)
            rc = send_internal(c, 3, argv, lens, on_handshake_reply);
        else
            rc = send_internal(c, 2, (const char *[]){"AUTH", u->password},
                               (size_t[]){4, lens[2]}, on_handshake_reply);
        c->handshake_left += rc == 0;
    }
    if (rc == 0 && u->db != 0) {
        char db[16];
        int n = snprintf(db, sizeof db, "%d", u->db);
        rc = send_internal(c, 2, (const char *[]){"SELECT", db}, (size_t[]){6, (size_t)n},
                           on_handshake_reply);
        c->handshake_left += rc == 0;
    }
    /* After a failover a reconnect may reach a replica: writes would fail
     * one by one, so the handshake asks first. */
    if (rc == 0) {
        rc = send_internal(c, 1, (const char *[]){"ROLE"}, (size_t[]){4}, on_handshake_reply);
        c->handshake_left += rc == 0;
    }
    /* PING last: the handshake ends only once the server really answers. */
    if (rc == 0) {
        rc = send_internal(c, 1, (const char *[]){"PING"}, (size_t[]){4}, on_handshake_reply);
        c->handshake_left += rc == 0;
    }
    /* On failure (out of memory) the handshake never completes and the
     * connect timer, still running, drops the connection: freeing the context
     * here, inside hiredis 0.14's connect callback, would leave hiredis using
     * freed memory when the callback returns. */
    if (rc < 0)
        c->handshake_left = -1;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    fp_redis_conn_t *c = ac->data;
    if (c == NULL || ac != c->ac)
        return;
    if (status != REDIS_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", ac->errstr[0] != '\0' ? ac->errstr : "connect failed");
        c->ac = NULL; /* hiredis frees a context whose connect failed */
        fp__conn_lost(c, why);
        return;
    }
    start_handshake(c);
}

/* What a fault reply says, or NULL when r is not one for this connection:
 * a Cluster connection also leaves a node that no longer serves its slot. */
static const char *fault_says(const fp_redis_conn_t *c, const redisReply *r)
{
    const char *says = fp_redis_fault_reply(r->str, r->len);
    if (says == NULL && c->cluster)
        says = fp_cluster_fault_reply(r->str, r->len);
    return says;
}

/* A fault reply on an established connection: the command sees a lost
 * connection (NULL), then the context goes as if Redis had closed it. */
static void fault_reply(fp_redis_conn_t *c, cmd_t *cmd, const redisReply *r)
{
    char why[300];
    snprintf(why, sizeof why, "%s (%.*s)", fault_says(c, r),
             (int)(r->len > 200 ? 200 : r->len), r->str);
    c->going_down = true; /* the callback must not send on this context */
    c->faulted = true;
    cmd->cb(c, NULL, cmd->privdata);
    free(cmd);
    if (c->ac == NULL || c->state == ST_CLOSING)
        return; /* the callback closed it */
    release_context(c);
    fp__conn_lost(c, why);
}

static bool is_fault(const fp_redis_conn_t *c, const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && c->state == ST_UP && !c->going_down &&
           fault_says(c, r) != NULL;
}

/* Every reply passes here first: it keeps the FIFO and the timeout in step
 * and stops new commands on a context that is going away. */
static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    cmd_t *cmd = privdata;
    fp_redis_conn_t *c = cmd->conn;
    const redisReply *reply = r;
    (void)ac;
    c->replies++;
    c->errors += reply == NULL || reply->type == REDIS_REPLY_ERROR;
    if (c->head == cmd) {
        c->head = cmd->next;
        if (c->head == NULL)
            c->tail = NULL;
    } else {
        cmd_t *p = c->head;
        while (p != NULL && p->next != cmd)
            p = p->next;
        if (p != NULL) {
            p->next = cmd->next;
            if (c->tail == cmd)
                c->tail = p;
        }
    }
    if (r == NULL)
        c->going_down = true;
    else if (c->state != ST_CLOSING)
        arm_command_timer(c);
    if (is_fault(c, reply)) {
        fault_reply(c, cmd, reply);
        return;
    }
    if (c->faulted && reply != NULL && reply->type != REDIS_REPLY_ERROR && c->state == ST_UP) {
        c->faulted = false;
        c->losses = 0;
    }
    cmd->cb(c, r, cmd->privdata);
    free(cmd);
}

/* ---- connecting --------------------------------------------------------- */

static void set_cloexec(int fd)
{
    /* hiredis 0.14 creates its sockets without SOCK_CLOEXEC; a forked child
     * must not keep the supervisor's Redis connection open. */
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0)
        fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

/* hiredis 0.14's redisLibuvPoll returns early on a non-zero status, but
 * libuv reports POLLERR (a refused connect, a reset connection) exactly that
 * way and stops the handle: the connection would hang until a timeout. These
 * replace the adapter's event hooks (its attach and cleanup, which own the
 * memory, stay) and let hiredis read or write on an error, so it sees the
 * socket error and reports it at once. */
static void on_poll(uv_poll_t *handle, int status, int events)
{
    redisLibuvEvents *p = handle->data;
    int ev = status < 0 ? p->events : events;
    if (p->context != NULL && (ev & UV_READABLE))
        redisAsyncHandleRead(p->context);
    if (p->context != NULL && (ev & UV_WRITABLE))
        redisAsyncHandleWrite(p->context);
    if (status < 0 && p->context != NULL && p->events != 0)
        uv_poll_start(&p->handle, p->events, on_poll); /* libuv stopped it */
}

static void poll_update(redisLibuvEvents *p)
{
    if (p->events != 0)
        uv_poll_start(&p->handle, p->events, on_poll);
    else
        uv_poll_stop(&p->handle);
}

/* hiredis re-adds the read event after every read; libuv's uv_poll_start
 * costs an epoll_ctl DEL and ADD even when nothing changes, so only real
 * changes reach it. */
static void ev_add_read(void *privdata)
{
    redisLibuvEvents *p = privdata;
    if (p->events & UV_READABLE)
        return;
    p->events |= UV_READABLE;
    poll_update(p);
}

static void ev_del_read(void *privdata)
{
    redisLibuvEvents *p = privdata;
    if (!(p->events & UV_READABLE))
        return;
    p->events &= ~UV_READABLE;
    poll_update(p);
}

/* Commands of one loop turn leave in one write, made from a uv_prepare_t
 * just before the loop blocks (Redis' beforeSleep does the same). Asking
 * epoll for writability after every command and dropping it after every
 * write cost two epoll_ctl calls per command per connection. The socket
 * is polled for writability only while connecting, and when a flush could
 * not write everything (hiredis asks again from inside the flush).
 * A command issued by another prepare callback that runs after ours would
 * wait for the next wake-up; the idle handle makes that poll return at once. */
static void flush_now(fp_redis_conn_t *c)
{
    uv_prepare_stop(&c->flush);
    uv_idle_stop(&c->flush_late);
    if (c->ac == NULL)
        return;
    c->flushing = true;
    redisAsyncHandleWrite(c->ac);
    c->flushing = false;
}

void fp_redis_conn_flush(fp_redis_conn_t *c)
{
    /* Only when a flush is due: the prepare handle is active exactly then. */
    if (c->state == ST_CLOSING || !uv_is_active((uv_handle_t *)&c->flush))
        return;
    flush_now(c);
}

static void on_flush(uv_prepare_t *handle)
{
    flush_now(handle->data);
}

static void on_flush_late(uv_idle_t *handle)
{
    flush_now(handle->data);
}

static void ev_add_write(void *privdata)
{
    redisLibuvEvents *p = privdata;
    fp_redis_conn_t *c = p->context != NULL ? p->context->data : NULL;
    bool connected = p->context != NULL && (p->context->c.flags & REDIS_CONNECTED);
    if (c != NULL && connected && !c->flushing && c->state != ST_CLOSING) {
        uv_prepare_start(&c->flush, on_flush);
        uv_idle_start(&c->flush_late, on_flush_late);
        return;
    }
    if (p->events & UV_WRITABLE)
        return;
    p->events |= UV_WRITABLE;
    poll_update(p);
}

static void ev_del_write(void *privdata)
{
    redisLibuvEvents *p = privdata;
    if (!(p->events & UV_WRITABLE))
        return; /* a flush wrote everything; nothing was polled */
    p->events &= ~UV_WRITABLE;
    poll_update(p);
}

static void connect_to(fp_redis_conn_t *c, const char *ip)
{
    char why_tls[300];
    redisAsyncContext *ac = c->url->tls ? fp__conn_tls_connect(c, ip, why_tls, sizeof why_tls)
                            : c->url->path != NULL ? redisAsyncConnectUnix(c->url->path)
                                                   : redisAsyncConnect(ip, c->port);
    if (ac == NULL) {
        fp__conn_lost(c, c->url->tls ? why_tls : "out of memory");
        return;
    }
    if (ac->err != 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", ac->errstr);
        redisAsyncFree(ac);
        fp__conn_lost(c, why);
        return;
    }
    set_cloexec(ac->c.fd);
    if (c->url->path == NULL && !c->url->tls) /* the relay keeps its TCP socket alive */
        redisEnableKeepAlive(&ac->c); /* notices a silently dead peer */
    ac->data = c;
    if (redisLibuvAttach(ac, c->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        fp__conn_lost(c, "cannot attach the connection to the event loop");
        return;
    }
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    /* In 0.14 setting the connect callback arms the first write event, so it
     * must come after the attach. */
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    c->going_down = false;
    c->state = ST_CONNECTING;
    uv_timer_start(&c->connect_timer, on_connect_timeout, (uint64_t)c->connect_timeout_ms, 0);
}

/* The last of the timers' close callbacks and a running resolution frees. */
static void maybe_free(fp_redis_conn_t *c)
{
    if (c->open_handles > 0 || c->resolving)
        return;
    void (*cb)(void *) = c->close_cb;
    void *ctx = c->close_ctx;
    free(c);
    if (cb != NULL)
        cb(ctx);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    fp_redis_conn_t *c = req->data;
    c->resolving = false;
    if (c->state == ST_CLOSING) {
        uv_freeaddrinfo(res);
        maybe_free(c);
        return;
    }
    if (status < 0) {
        char why[300];
        snprintf(why, sizeof why, "cannot resolve %s: %s", c->host, uv_strerror(status));
        fp__conn_lost(c, why);
        return;
    }
    /* Prefer IPv4: "localhost" often lists ::1 first while Redis binds 127.0.0.1. */
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; a != NULL; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    char ip[INET6_ADDRSTRLEN] = "";
    if (pick != NULL && pick->ai_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)pick->ai_addr, ip, sizeof ip);
    else if (pick != NULL && pick->ai_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)pick->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);
    if (ip[0] == '\0') {
        fp__conn_lost(c, "the host name has no usable address");
        return;
    }
    connect_to(c, ip);
}

static bool is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Connects to c->host:c->port (or the socket). Name resolution has no
 * timeout of ours (a running getaddrinfo cannot be cancelled); the
 * resolver's own limits apply, and the connect timeout starts once an
 * address is known. */
void fp__conn_connect_host(fp_redis_conn_t *c)
{
    if (c->url->path != NULL || is_ip_literal(c->host)) {
        connect_to(c, c->host);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->state = ST_RESOLVING;
    int rc = uv_getaddrinfo(c->loop, &c->resolver, on_resolved, c->host, NULL, &hints);
    if (rc < 0) {
        char why[300];
        snprintf(why, sizeof why, "cannot resolve %s: %s", c->host, uv_strerror(rc));
        fp__conn_lost(c, why);
        return;
    }
    c->resolving = true;
}

/* One connection attempt: ask the locator where to go first, if any. */
static void attempt(fp_redis_conn_t *c)
{
    if (c->state == ST_CLOSING || c->resolving || c->state == ST_LOCATING)
        return;
    if (c->locator != NULL) {
        c->state = ST_LOCATING;
        c->locator->locate(c->locator->ctx, c);
        return;
    }
    fp__conn_connect_host(c);
}

/* ---- public ------------------------------------------------------------- */

int fp_redis_conn_new(uv_loop_t *loop, const fp_redis_url_t *url, const fp_redis_conn_opts_t *opts,
                      fp_redis_state_cb cb, void *ctx, fp_redis_conn_t **out, fp_err_t *err)
{
    fp_redis_conn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    c->loop = loop;
    c->url = url;
    snprintf(c->name, sizeof c->name, "%s", opts->name != NULL ? opts->name : "redis");
    fp_redis_url_where(url, c->where, sizeof c->where);
    c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 5000;
    c->command_timeout_ms = opts->command_timeout_ms;
    c->state_cb = cb;
    c->ctx = ctx;
    c->any_role = opts->any_role;
    c->locator = opts->locator;
    c->cluster = opts->cluster;
    if (url->path == NULL)
        fp__conn_set_target(c, url->host != NULL ? url->host : "", url->port);
    if (c->locator != NULL) /* the URL's host is not used */
        snprintf(c->where, sizeof c->where, "(master not located yet)");
    c->losses = 0;
    c->resolver.data = c;
    uv_timer_t *timers[] = {&c->connect_timer, &c->backoff_timer, &c->command_timer};
    for (size_t i = 0; i < 3; i++) {
        uv_timer_init(loop, timers[i]); /* cannot fail on Unix */
        timers[i]->data = c;
        c->open_handles++;
    }
    uv_prepare_init(loop, &c->flush);
    c->flush.data = c;
    uv_idle_init(loop, &c->flush_late);
    c->flush_late.data = c;
    c->open_handles += 2;
    *out = c;
    return 0;
}

void fp_redis_conn_start(fp_redis_conn_t *c)
{
    if (c->state == ST_IDLE)
        attempt(c);
}

bool fp_redis_conn_is_up(const fp_redis_conn_t *c)
{
    return c->state == ST_UP && c->ac != NULL && !c->going_down;
}

const char *fp_redis_conn_where(const fp_redis_conn_t *c)
{
    return c->where;
}

static int enqueue_cmd(fp_redis_conn_t *c, const char *cmd_text, size_t len, int argc,
                       const char **argv, const size_t *lens, int64_t allowance_ms,
                       fp_redis_reply_cb cb, void *privdata)
{
    if (c->ac == NULL || c->going_down)
        return FP_EREDIS;
    cmd_t *cmd = malloc(sizeof *cmd);
    if (cmd == NULL)
        return -ENOMEM;
    cmd->next = NULL;
    cmd->conn = c;
    cmd->cb = cb;
    cmd->privdata = privdata;
    cmd->deadline_ms = 0;
    if (c->command_timeout_ms > 0)
        cmd->deadline_ms = uv_now(c->loop) + (uint64_t)c->command_timeout_ms +
                           (uint64_t)(allowance_ms > 0 ? allowance_ms : 0);
    int rc = cmd_text != NULL
                 ? redisAsyncFormattedCommand(c->ac, on_reply, cmd, cmd_text, len)
                 : redisAsyncCommandArgv(c->ac, on_reply, cmd, argc, argv, lens);
    if (rc != REDIS_OK) {
        free(cmd);
        return FP_EREDIS;
    }
    if (c->tail != NULL)
        c->tail->next = cmd;
    else
        c->head = cmd;
    c->tail = cmd;
    if (c->head == cmd)
        arm_command_timer(c);
    return 0;
}

static int send_internal(fp_redis_conn_t *c, int argc, const char **argv, const size_t *lens,
                         fp_redis_reply_cb cb)
{
    const char *step = argv[0];
    return enqueue_cmd(c, NULL, 0, argc, argv, lens, 0, cb, (void *)step);
}

int fp_redis_conn_send(fp_redis_conn_t *c, const char *cmd, size_t len, int64_t allowance_ms,
                       fp_redis_reply_cb cb, void *privdata)
{
    if (!fp_redis_conn_is_up(c))
        return FP_EREDIS;
    return enqueue_cmd(c, cmd, len, 0, NULL, NULL, allowance_ms, cb, privdata);
}

int fp_redis_conn_sendv(fp_redis_conn_t *c, int argc, const char **argv, const size_t *lens,
                        int64_t allowance_ms, fp_redis_reply_cb cb, void *privdata)
{
    if (!fp_redis_conn_is_up(c))
        return FP_EREDIS;
    return enqueue_cmd(c, NULL, 0, argc, argv, lens, allowance_ms, cb, privdata);
}

static void on_handle_closed(uv_handle_t *h)
{
    fp_redis_conn_t *c = h->data;
    c->open_handles--;
    maybe_free(c);
}

void fp_redis_conn_close(fp_redis_conn_t *c, void (*cb)(void *ctx), void *ctx)
{
    if (c == NULL || c->state == ST_CLOSING)
        return;
    if (c->state == ST_LOCATING)
        c->locator->cancel(c->locator->ctx, c);
    c->state = ST_CLOSING;
    c->close_cb = cb;
    c->close_ctx = ctx;
    release_context(c);
    fp__conn_tls_release(c);
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->resolver); /* on_resolved runs either way */
    uv_close((uv_handle_t *)&c->connect_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->backoff_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->command_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->flush, on_handle_closed);
    uv_close((uv_handle_t *)&c->flush_late, on_handle_closed);
}

void fp_redis_conn_counts(const fp_redis_conn_t *c, uint64_t *replies, uint64_t *errors)
{
    *replies += c->replies;
    *errors += c->errors;
}
