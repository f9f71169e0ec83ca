/* redis_sync.c: blocking connections for the command line (redis_sync.h).
 * A TLS one owns a thread with its own libuv loop and relay; the caller's
 * thread only waits for the handshake's outcome. The thread ends when the
 * relay fails or when fp_redis_sync_free asks it to (uv_async_send, the one
 * libuv call that is safe from another thread). */
#include "redis/redis_sync.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "redis/tls_relay.h"

typedef struct sync_tls_s {
    struct sync_tls_s *next;
    redisContext *c;
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t stop;
    fp_tls_relay_t *relay;
    int fd; /* the relay's end of the socketpair, until the thread takes it */
    char ip[64];
    int port;
    char host[256];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;   /* 0 handshaking, 1 up, -1 failed */
    bool ending; /* the stop handle is closed: no uv_async_send any more */
    char why[400];
} sync_tls_t;

static sync_tls_t *g_conns; /* the command line is single-threaded: no lock */

static void end_loop(sync_tls_t *s)
{
    pthread_mutex_lock(&s->mu);
    bool was = s->ending;
    s->ending = true;
    pthread_mutex_unlock(&s->mu);
    if (was)
        return;
    fp_tls_relay_close(s->relay); /* NULL when it never started */
    s->relay = NULL;
    uv_close((uv_handle_t *)&s->stop, NULL);
}

static void on_relay(void *ctx, bool up, const char *reason)
{
    sync_tls_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (!up)
        snprintf(s->why, sizeof s->why, "%.*s", (int)sizeof s->why - 1, reason);
    s->state = up ? 1 : -1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (!up)
        end_loop(s);
}

static void on_stop(uv_async_t *a)
{
    end_loop(a->data);
}

static void *relay_thread(void *arg)
{
    sync_tls_t *s = arg;
    fp_err_t err;
    fp_err_clear(&err);
    int rc = fp_tls_relay_start(&s->loop, s->fd, s->ip, s->port, s->host, on_relay, s, &s->relay,
                                &err);
    if (rc < 0) {
        s->relay = NULL;
        on_relay(s, false, err.msg);
    }
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    return NULL;
}

/* The first IPv4 address of host (Redis usually binds 127.0.0.1 while
 * "localhost" may list ::1 first), else the first one. */
static int resolve(const char *host, char *ip, size_t size, char *why, size_t wsize)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(why, wsize, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; a != NULL; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    rc = getnameinfo(pick->ai_addr, pick->ai_addrlen, ip, (socklen_t)size, NULL, 0,
                     NI_NUMERICHOST);
    freeaddrinfo(res);
    if (rc != 0)
        snprintf(why, wsize, "cannot resolve %s: %s", host, gai_strerror(rc));
    return rc != 0 ? -1 : 0;
}

/* Waits for the handshake's outcome until timeout_ms: 0, or -1 with why. */
static int wait_up(sync_tls_t *s, int64_t timeout_ms, char *why, size_t size)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (s->state == 0 && pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT) {
    }
    int state = s->state;
    if (state < 0)
        snprintf(why, size, "%s", s->why);
    else if (state == 0)
        snprintf(why, size, "no TLS connection within %lld ms", (long long)timeout_ms);
    pthread_mutex_unlock(&s->mu);
    return state == 1 ? 0 : -1;
}

static void stop_and_free(sync_tls_t *s)
{
    pthread_mutex_lock(&s->mu);
    if (!s->ending)
        uv_async_send(&s->stop);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static sync_tls_t *start_relay(const char *host, int port, int fd, char *why, size_t size)
{
    sync_tls_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(why, size, "out of memory");
        close(fd);
        return NULL;
    }
    s->fd = fd;
    s->port = port;
    snprintf(s->host, sizeof s->host, "%s", host);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (resolve(host, s->ip, sizeof s->ip, why, size) < 0 || uv_loop_init(&s->loop) != 0) {
        close(fd);
        free(s);
        return NULL;
    }
    uv_async_init(&s->loop, &s->stop, on_stop);
    s->stop.data = s;
    if (pthread_create(&s->thread, NULL, relay_thread, s) != 0) {
        snprintf(why, size, "cannot start the TLS relay thread");
        uv_close((uv_handle_t *)&s->stop, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        close(fd);
        free(s);
        return NULL;
    }
    return s;
}

/* A PING through the relay: with TLS 1.3 a server that wants a client
 * certificate says so only after the client's handshake, on the first read. */
static int ping(sync_tls_t *s, char *why, size_t size)
{
    redisReply *r = redisCommand(s->c, "PING");
    if (r != NULL) {
        freeReplyObject(r);
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    snprintf(why, size, "%s", s->state < 0 ? s->why : s->c->errstr);
    pthread_mutex_unlock(&s->mu);
    return -1;
}

static int connect_tls(const char *host, int port, int64_t timeout_ms, redisContext **out,
                       char *why, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(why, size, "socketpair: %s", strerror(errno));
        return -1;
    }
    sync_tls_t *s = start_relay(host, port, sv[1], why, size);
    if (s == NULL) {
        close(sv[0]);
        return -1;
    }
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)((timeout_ms % 1000) * 1000)};
    s->c = wait_up(s, timeout_ms, why, size) == 0 ? redisConnectFd(sv[0]) : NULL;
    if (s->c == NULL || s->c->err != 0 || redisSetTimeout(s->c, tv) != REDIS_OK ||
        ping(s, why, size) < 0) {
        if (s->c != NULL && s->c->err != 0 && why[0] == '\0')
            snprintf(why, size, "%s", s->c->errstr);
        if (s->c != NULL)
            redisFree(s->c); /* closes sv[0] */
        else
            close(sv[0]);
        stop_and_free(s);
        return -1;
    }
    s->next = g_conns;
    g_conns = s;
    *out = s->c;
    return 0;
}

int fp_redis_sync_connect(const char *host, int port, bool tls, int64_t timeout_ms,
                          redisContext **out, char *why, size_t size)
{
    why[0] = '\0';
    if (timeout_ms <= 0)
        timeout_ms = 5000;
    if (tls)
        return connect_tls(host, port, timeout_ms, out, why, size);
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)((timeout_ms % 1000) * 1000)};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err != 0) {
        snprintf(why, size, "%s", c != NULL ? c->errstr : "out of memory");
        redisFree(c);
        return -1;
    }
    *out = c;
    return 0;
}

void fp_redis_sync_free(redisContext *c)
{
    if (c == NULL)
        return;
    for (sync_tls_t **p = &g_conns; *p != NULL; p = &(*p)->next) {
        sync_tls_t *s = *p;
        if (s->c != c)
            continue;
        *p = s->next;
        redisFree(c);
        stop_and_free(s);
        return;
    }
    redisFree(c);
}
