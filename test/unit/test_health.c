/* test_health.c: lib/http/health*.c, the real server on its own libuv loop in a
 * second thread, driven by plain blocking sockets from the test thread. Every
 * touch of the server (start, stats, idle time, close) runs on the loop thread
 * through run_on_loop, so nothing is shared without a hand-off. Socket
 * timeouts are deadlines against hangs only; no assertion depends on elapsed
 * time. Each test gets a fresh loop and server, and teardown checks that
 * uv_loop_close succeeds, i.e. that every handle was closed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "http/health.h"

#define DEADLINE_S 20    /* socket timeouts and hand-off waits: against hangs only */
#define BIG_BODY_BYTES (1024 * 1024)

/* ---- the loop thread ---------------------------------------------------- */

static uv_loop_t g_loop;
static uv_async_t g_wake;
static pthread_t g_thread;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static void (*g_fn)(void *);
static void *g_arg;
static bool g_done;
static fp_health_t *g_h;
static int g_port;

static void on_wake(uv_async_t *a)
{
    pthread_mutex_lock(&g_mu);
    void (*fn)(void *) = g_fn;
    void *arg = g_arg;
    g_fn = NULL;
    pthread_mutex_unlock(&g_mu);
    if (fn == NULL)
        return;
    fn(arg);
    pthread_mutex_lock(&g_mu);
    g_done = true;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

/* Runs fn(arg) on the loop thread and waits for it. */
static void run_on_loop(void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&g_mu);
    g_fn = fn;
    g_arg = arg;
    g_done = false;
    pthread_mutex_unlock(&g_mu);
    uv_async_send(&g_wake);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += DEADLINE_S;
    pthread_mutex_lock(&g_mu);
    while (!g_done) {
        if (pthread_cond_timedwait(&g_cv, &g_mu, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&g_mu);
            fail_msg("the loop thread did not answer");
        }
    }
    pthread_mutex_unlock(&g_mu);
}

static void *loop_main(void *arg)
{
    uv_run(&g_loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- routes -------------------------------------------------------------- */

static int route_healthz(void *ctx, fp_buf_t *body, const char **content_type)
{
    return fp_buf_append(body, "ok\n", 3) == 0 ? 200 : -ENOMEM;
}

static int route_readyz(void *ctx, fp_buf_t *body, const char **content_type)
{
    static const char json[] = "{\"ready\":false,\"reasons\":[\"draining\"]}";
    *content_type = "application/json";
    return fp_buf_append(body, json, sizeof json - 1) == 0 ? 503 : -ENOMEM;
}

/* A body of bytes (a multiple of 4096) of one repeated character. */
static int fill_body(fp_buf_t *body, char c, size_t bytes)
{
    static char chunk[4096];
    memset(chunk, c, sizeof chunk);
    for (size_t n = 0; n < bytes; n += sizeof chunk)
        if (fp_buf_append(body, chunk, sizeof chunk) != 0)
            return -ENOMEM;
    return 200;
}

static int route_big(void *ctx, fp_buf_t *body, const char **content_type)
{
    return fill_body(body, 'x', BIG_BODY_BYTES);
}

/* More than a loopback socket's send buffer takes: part stays queued. */
#define HUGE_BODY_BYTES (16 * 1024 * 1024)

static int route_huge(void *ctx, fp_buf_t *body, const char **content_type)
{
    return fill_body(body, 'y', HUGE_BODY_BYTES);
}

static int route_broken(void *ctx, fp_buf_t *body, const char **content_type)
{
    (void)fp_buf_append(body, "half", 4);
    return -5; /* a failing route: answered 500, its body dropped */
}

static const fp_health_route_t g_routes[] = {
    {.path = "/healthz", .fn = route_healthz},
    {.path = "/readyz", .fn = route_readyz},
    {.path = "/big", .fn = route_big},
    {.path = "/broken", .fn = route_broken},
    {.path = "/huge", .fn = route_huge},
};
#define N_ROUTES (sizeof g_routes / sizeof g_routes[0])

/* ---- loop-thread helpers ------------------------------------------------- */

typedef struct start_args_s {
    const char *listen;
    fp_health_t *h;
    int rc;
    fp_err_t err;
} start_args_t;

static void do_start(void *arg)
{
    start_args_t *a = arg;
    fp_err_clear(&a->err);
    a->rc = fp_health_start(&g_loop, a->listen, g_routes, N_ROUTES, NULL, &a->h, &a->err);
}

static bool g_extra_closed;

static void on_extra_closed(void *ctx)
{
    *(bool *)ctx = true;
}

static void do_close_extra(void *arg)
{
    g_extra_closed = false;
    fp_health_close(arg, on_extra_closed, &g_extra_closed);
}

static void do_read_extra_closed(void *arg)
{
    *(bool *)arg = g_extra_closed;
}

static void do_stats(void *arg)
{
    fp_health_get_stats(g_h, arg);
}

static fp_health_stats_t stats(void)
{
    fp_health_stats_t s;
    run_on_loop(do_stats, &s);
    return s;
}

/* Both the idle and the header timeout: tests cannot wait FP_HEALTH_IDLE_MS. */
static void do_set_idle(void *arg)
{
    uint64_t ms = *(uint64_t *)arg;
    fp_health_set_limits(g_h, &(fp_health_limits_t){ms, ms, 0});
}

static void on_server_closed(void *ctx)
{
    uv_close((uv_handle_t *)&g_wake, NULL);
}

static void do_close_all(void *arg)
{
    fp_health_close(g_h, on_server_closed, NULL);
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls a condition on the server's counters until it holds or the deadline passes. */
#define WAIT_FOR_STATS(s, cond)                                                               \
    do {                                                                                     \
        time_t until_ = time(NULL) + DEADLINE_S;                                             \
        for (;;) {                                                                           \
            s = stats();                                                                     \
            if (cond)                                                                        \
                break;                                                                       \
            if (time(NULL) > until_)                                                         \
                fail_msg("timed out waiting for %s", #cond);                                 \
            pause_ms(5);                                                                     \
        }                                                                                    \
    } while (0)

static int setup(void **state)
{
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(uv_loop_init(&g_loop), 0);
    assert_int_equal(uv_async_init(&g_loop, &g_wake, on_wake), 0);
    /* The loop is not running yet, so starting from this thread is safe. */
    int rc = fp_health_start(&g_loop, "127.0.0.1:0", g_routes, N_ROUTES, NULL, &g_h, &err);
    if (rc != 0)
        fail_msg("fp_health_start: %s", err.msg);
    g_port = fp_health_port(g_h);
    assert_true(g_port > 0);
    assert_int_equal(pthread_create(&g_thread, NULL, loop_main, NULL), 0);
    return 0;
}

static int teardown(void **state)
{
    run_on_loop(do_close_all, NULL);
    pthread_join(g_thread, NULL);
    assert_int_equal(uv_loop_close(&g_loop), 0);
    g_h = NULL;
    return 0;
}

/* ---- the client ---------------------------------------------------------- */

typedef struct client_s {
    int fd;
    char *buf; /* bytes received and not yet consumed */
    size_t len, cap;
} client_t;

typedef struct resp_s {
    int status;
    char head[16384];
    char *body;
    size_t body_len;
} resp_t;

static void client_open_opts(client_t *c, int rcvbuf)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {DEADLINE_S, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sin, sizeof sin) != 0)
        fail_msg("connect: %s", strerror(errno));
}

static void client_open(client_t *c)
{
    client_open_opts(c, 0);
}

static void client_close(client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

/* Sends everything; false if the server closed first (expected in some tests). */
static bool client_send_n(client_t *c, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        data += w;
        n -= (size_t)w;
    }
    return true;
}

static void client_send(client_t *c, const char *s)
{
    assert_true(client_send_n(c, s, strlen(s)));
}

/* Reads more into the buffer: >0 bytes, 0 on EOF, -1 on error or deadline. */
static ssize_t client_fill(client_t *c)
{
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 : 131072;
        c->buf = realloc(c->buf, c->cap);
        assert_non_null(c->buf);
    }
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0) {
            c->len += (size_t)r;
            c->buf[c->len] = '\0';
        }
        return r;
    }
}

static const char *header_value(const resp_t *r, const char *name)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\r\n%s:", name);
    const char *p = strcasestr(r->head, needle);
    if (p == NULL)
        return NULL;
    p += strlen(needle);
    while (*p == ' ')
        p++;
    return p;
}

static bool header_is(const resp_t *r, const char *name, const char *value)
{
    const char *v = header_value(r, name);
    return v != NULL && strncasecmp(v, value, strlen(value)) == 0 &&
           (v[strlen(value)] == '\r');
}

/* Reads one response; head_only for a HEAD request (no body follows).
 * Returns false if the connection ended (or failed) before a whole response. */
static bool client_read(client_t *c, resp_t *r, bool head_only)
{
    char *end = NULL;
    free(r->body);
    memset(r, 0, sizeof *r);
    while (c->len == 0 || (end = strstr(c->buf, "\r\n\r\n")) == NULL)
        if (client_fill(c) <= 0)
            return false;
    size_t head_len = (size_t)(end - c->buf) + 4;
    assert_true(head_len < sizeof r->head);
    memcpy(r->head, c->buf, head_len);
    r->head[head_len] = '\0';
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
    const char *cl = header_value(r, "Content-Length");
    assert_non_null(cl);
    size_t body_len = head_only ? 0 : strtoul(cl, NULL, 10);
    while (c->len < head_len + body_len)
        if (client_fill(c) <= 0)
            return false;
    r->body = malloc(body_len + 1);
    memcpy(r->body, c->buf + head_len, body_len);
    r->body[body_len] = '\0';
    r->body_len = body_len;
    memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
    c->len -= head_len + body_len;
    c->buf[c->len] = '\0';
    return true;
}

static void resp_free(resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* Reads until the server closes: true on EOF or reset, false on the deadline.
 * *bytes counts everything received. */
static bool client_wait_closed(client_t *c, size_t *bytes)
{
    size_t total = c->len;
    char sink[65536];
    c->len = 0;
    for (;;) {
        ssize_t r = recv(c->fd, sink, sizeof sink, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0) {
            total += (size_t)r;
            continue;
        }
        if (bytes != NULL)
            *bytes = total;
        return r == 0 || errno == ECONNRESET;
    }
}

/* The next response on c has status want. Macros, not functions, so that a
 * failure names the test's line. */
#define EXPECT_STATUS(c, r, head_only, want)                                                  \
    do {                                                                                     \
        assert_true(client_read((c), (r), (head_only)));                                     \
        assert_int_equal((r)->status, (want));                                               \
    } while (0)

/* Sends req on c; its response has status want. */
#define ASK(c, r, req, want)                                                                  \
    do {                                                                                     \
        client_send((c), (req));                                                             \
        EXPECT_STATUS((c), (r), false, (want));                                              \
    } while (0)

/* Response r says Connection: close, and the server then closes c. */
#define EXPECT_CLOSE(c, r)                                                                    \
    do {                                                                                     \
        assert_true(header_is((r), "Connection", "close"));                                  \
        assert_true(client_wait_closed((c), NULL));                                          \
    } while (0)

/* One request on a fresh connection, expecting status. */
static void expect_fresh_get(const char *path, int status)
{
    client_t c;
    resp_t r = {0};
    char req[256];
    client_open(&c);
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    client_send(&c, req);
    EXPECT_STATUS(&c, &r, false, status);
    resp_free(&r);
    client_close(&c);
}

/* req on a fresh connection is answered 200. */
static void expect_served(const char *req)
{
    client_t c;
    resp_t r = {0};
    client_open(&c);
    client_send(&c, req);
    EXPECT_STATUS(&c, &r, false, 200);
    resp_free(&r);
    client_close(&c);
}

/* Sends req in `pieces` writes on a fresh connection (the server may stop
 * reading first) and expects status, then the server's close. */
static void expect_refusal(const char *req, size_t len, size_t pieces, int status)
{
    client_t c;
    resp_t r = {0};
    client_open(&c);
    size_t step = len / pieces + 1;
    for (size_t off = 0; off < len; off += step)
        if (!client_send_n(&c, req + off, off + step < len ? step : len - off))
            break;
    EXPECT_STATUS(&c, &r, false, status);
    EXPECT_CLOSE(&c, &r);
    resp_free(&r);
    client_close(&c);
}

/* ---- tests --------------------------------------------------------------- */

static void test_status_codes(void **state)
{
    client_t c;
    resp_t r = {0};
    client_open(&c);

    ASK(&c, &r, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_string_equal(r.body, "ok\n");
    assert_true(header_is(&r, "Content-Type", "text/plain; charset=utf-8"));
    assert_true(header_is(&r, "Content-Length", "3"));

    ASK(&c, &r, "GET /readyz?verbose=1 HTTP/1.1\r\nHost: t\r\n\r\n", 503);
    assert_true(header_is(&r, "Content-Type", "application/json"));
    assert_string_equal(r.body, "{\"ready\":false,\"reasons\":[\"draining\"]}");

    ASK(&c, &r, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", 404);

    ASK(&c, &r, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405);
    assert_true(header_is(&r, "Allow", "GET, HEAD"));

    ASK(&c, &r, "DELETE /nope HTTP/1.1\r\nHost: t\r\n\r\n", 405);

    ASK(&c, &r, "GET /broken HTTP/1.1\r\nHost: t\r\n\r\n", 500);

    /* All of these kept the connection. */
    ASK(&c, &r, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    resp_free(&r);
    client_close(&c);
}

static void test_keep_alive_two_requests(void **state)
{
    client_t c;
    resp_t r = {0};
    client_open(&c);
    for (int i = 0; i < 2; i++) {
        ASK(&c, &r, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 200);
        assert_null(header_value(&r, "Connection"));
    }
    resp_free(&r);
    client_close(&c);
    fp_health_stats_t s = stats();
    assert_int_equal(s.accepted, 1);
    assert_int_equal(s.requests, 2);
}

static void test_pipelined_in_order(void **state)
{
    client_t c;
    resp_t r = {0};
    client_open(&c);
    client_send(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
                    "HEAD /readyz HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                    "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_STATUS(&c, &r, false, 200);
    EXPECT_STATUS(&c, &r, false, 404);
    EXPECT_STATUS(&c, &r, true, 503);
    EXPECT_STATUS(&c, &r, false, 503);
    assert_int_equal(r.body_len, strlen("{\"ready\":false,\"reasons\":[\"draining\"]}"));
    EXPECT_STATUS(&c, &r, false, 200);
    assert_true(header_is(&r, "Connection", "close"));
    /* The request after Connection: close is not answered. */
    size_t extra = 0;
    assert_true(client_wait_closed(&c, &extra));
    assert_int_equal(extra, 0);
    resp_free(&r);
    client_close(&c);
}

/* More requests in one send than the server answers per loop turn: the rest
 * waits for the next turn, in order, none lost. */
static void test_pipelined_many(void **state)
{
    enum { N = 200 };
    static const char a[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    static const char b[] = "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n";
    static const char last[] = "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    fp_buf_t all = {0};
    for (int i = 0; i < N - 1; i++)
        assert_int_equal(fp_buf_append(&all, i % 2 ? b : a, strlen(i % 2 ? b : a)), 0);
    assert_int_equal(fp_buf_append(&all, last, strlen(last)), 0);
    assert_true(all.len > 2 * FP_HEALTH_PIPELINE_BATCH * sizeof b);

    client_t c;
    resp_t r = {0};
    client_open(&c);
    assert_true(client_send_n(&c, all.data, all.len));
    for (int i = 0; i < N; i++) {
        EXPECT_STATUS(&c, &r, false, i == N - 1 ? 503 : i % 2 ? 404 : 200);
    }
    assert_true(client_wait_closed(&c, NULL));
    fp_buf_free(&all);
    resp_free(&r);
    client_close(&c);
}

static void test_head(void **state)
{
    client_t c;
    resp_t r = {0};
    client_open(&c);
    client_send(&c, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_STATUS(&c, &r, true, 200);
    assert_true(header_is(&r, "Content-Length", "3"));
    assert_int_equal(c.len, 0);
    /* Had a body been sent, this response would not parse. */
    client_send(&c, "HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_STATUS(&c, &r, true, 404);
    EXPECT_STATUS(&c, &r, false, 200);
    assert_string_equal(r.body, "ok\n");
    resp_free(&r);
    client_close(&c);
}

static void test_connection_close_and_http10(void **state)
{
    client_t c;
    resp_t r = {0};

    client_open(&c);
    ASK(&c, &r, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200);
    EXPECT_CLOSE(&c, &r);
    client_close(&c);

    client_open(&c);
    ASK(&c, &r, "GET /healthz HTTP/1.0\r\n\r\n", 200);
    EXPECT_CLOSE(&c, &r);
    client_close(&c);

    client_open(&c);
    client_send(&c, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_true(client_read(&c, &r, false));
    assert_true(header_is(&r, "Connection", "keep-alive"));
    ASK(&c, &r, "GET /readyz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 503);
    resp_free(&r);
    client_close(&c);
}

static void test_headers_over_limit_431(void **state)
{
    /* Just under the limit is served. */
    char *req = malloc(110 * 1024);
    strcpy(req, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
    while (strlen(req) < FP_HEALTH_MAX_HEADER_BYTES - 200)
        strcat(req, "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    strcat(req, "\r\n");
    expect_served(req);

    /* 100 KB of headers. */
    strcpy(req, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
    size_t len = strlen(req);
    while (len < 100 * 1024) {
        static const char line[] = "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        memcpy(req + len, line, sizeof line);
        len += sizeof line - 1;
    }
    memcpy(req + len, "\r\n", 3);
    len += 2;
    expect_refusal(req, len, 1, 431);
    free(req);

    expect_fresh_get("/healthz", 200);
}

static void test_byte_at_a_time_client(void **state)
{
    static const char slow_req[] = "GET /healthz HTTP/1.1\r\nHost: slow.example\r\n\r\n";
    client_t slow, quick;
    resp_t r = {0};
    client_open(&slow);
    client_open(&quick);
    for (size_t i = 0; i < sizeof slow_req - 1; i++) {
        assert_true(client_send_n(&slow, slow_req + i, 1));
        pause_ms(10);
        /* While the slow request is half-way, others are answered. */
        if (i % 8 == 4) {
            ASK(&quick, &r, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", 503);
        }
    }
    EXPECT_STATUS(&slow, &r, false, 200);
    assert_string_equal(r.body, "ok\n");
    resp_free(&r);
    client_close(&slow);
    client_close(&quick);
}

static void test_garbage_400(void **state)
{
    static const char *bad[] = {
        "\x01\x02\x03 garbage \xff\xfe\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost t\r\n\r\n",     /* header without a colon */
        "GET /healthz HTTP/9.Z\r\n\r\n",                /* no such version */
        "GET /healthz HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        client_t c;
        resp_t r = {0};
        client_open(&c);
        client_send(&c, bad[i]);
        EXPECT_STATUS(&c, &r, false, 400);
        EXPECT_CLOSE(&c, &r);
        resp_free(&r);
        client_close(&c);
    }
    expect_fresh_get("/healthz", 200);
}

static void test_request_bodies(void **state)
{
    client_t c;
    resp_t r = {0};

    /* A small body is discarded and the connection kept. */
    client_open(&c);
    client_send(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                    "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_STATUS(&c, &r, false, 200);
    EXPECT_STATUS(&c, &r, false, 503);
    client_close(&c);

    /* A declared large body is refused before it is sent. */
    client_open(&c);
    ASK(&c, &r, "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n", 413);
    assert_true(client_wait_closed(&c, NULL));
    client_close(&c);

    /* A chunked one is refused once it passes the bound. */
    client_open(&c);
    client_send(&c, "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[700];
    memset(chunk, 'b', sizeof chunk);
    memcpy(chunk, "258\r\n", 5); /* 0x258 = 600 bytes of data */
    memcpy(chunk + 5 + 600, "\r\n", 2);
    for (int i = 0; i < 3; i++)
        if (!client_send_n(&c, chunk, 5 + 600 + 2))
            break;
    EXPECT_STATUS(&c, &r, false, 413);
    assert_true(client_wait_closed(&c, NULL));
    client_close(&c);
    resp_free(&r);
}

/* 200 clients that connect and say nothing: each past the cap evicts the
 * oldest, so the newest 64 are served and nobody is turned away. */
static void test_connection_cap_evicts_oldest_idle(void **state)
{
    enum { N = 200 };
    static client_t cs[N];
    fp_health_stats_t s;
    for (int i = 0; i < N; i++) {
        client_open(&cs[i]);
        WAIT_FOR_STATS(s, s.accepted == (uint64_t)i + 1);
    }
    assert_int_equal(s.refused, 0);
    assert_int_equal(s.evicted, N - FP_HEALTH_MAX_CONNS);
    resp_t r = {0};
    for (int i = 0; i < N - FP_HEALTH_MAX_CONNS; i++) {
        size_t got = 1;
        assert_true(client_wait_closed(&cs[i], &got));
        assert_int_equal(got, 0);
    }
    for (int i = N - FP_HEALTH_MAX_CONNS; i < N; i++) {
        ASK(&cs[i], &r, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    }
    for (int i = 0; i < N; i++)
        client_close(&cs[i]);
    resp_free(&r);
    WAIT_FOR_STATS(s, s.open == 0);
    expect_fresh_get("/healthz", 200);
}

static void do_set_limits(void *arg)
{
    fp_health_set_limits(g_h, arg);
}

/* At a cap of 3: an idle keep-alive connection goes before older ones still
 * sending headers; then the oldest of those. The others are still served.
 * Timeouts far beyond the test, so only eviction closes anything. */
static void test_eviction_order(void **state)
{
    fp_health_limits_t lim = {60000, 60000, 3};
    run_on_loop(do_set_limits, &lim);
    fp_health_stats_t s;
    client_t a, b, c, d, e;
    resp_t r = {0};
    client_open(&a);
    client_send(&a, "GET /healthz HTTP/1.1\r\nX-Slow: ");
    client_open(&b);
    client_send(&b, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(client_read(&b, &r, false)); /* b is now idle, and newer than a */
    client_open(&c);
    client_send(&c, "GET /healthz HTTP/1.1\r\nX-Slow: ");
    WAIT_FOR_STATS(s, s.accepted == 3);
    client_open(&d);
    assert_true(client_wait_closed(&b, NULL));
    WAIT_FOR_STATS(s, s.evicted == 1);
    client_send(&d, "GET /healthz HTTP/1.1\r\nX-Slow: ");
    client_open(&e);
    assert_true(client_wait_closed(&a, NULL));
    WAIT_FOR_STATS(s, s.evicted == 2);
    client_t *left[] = {&c, &d};
    for (size_t i = 0; i < 2; i++) {
        ASK(left[i], &r, "1\r\n\r\n", 200);
    }
    assert_int_equal(stats().refused, 0);
    resp_free(&r);
    client_t *all[] = {&a, &b, &c, &d, &e};
    for (size_t i = 0; i < 5; i++)
        client_close(all[i]);
}

/* A connection whose last response is still being sent is not idle: at
 * the cap, an idle keep-alive connection goes first, and the answer in
 * flight arrives whole. */
static void test_eviction_spares_answer_in_flight(void **state)
{
    fp_health_limits_t lim = {60000, 60000, 3};
    run_on_loop(do_set_limits, &lim);
    fp_health_stats_t s;
    client_t a, b, c, d;
    resp_t r = {0};
    client_open_opts(&a, 4096);
    client_send(&a, "GET /huge HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    /* The body cannot all be in the kernel yet: a is mid-answer. */
    WAIT_FOR_STATS(s, s.requests == 1 && s.queued_max_bytes > 0);
    client_open(&b);
    client_send(&b, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(client_read(&b, &r, false)); /* b is idle */
    client_open(&c);
    WAIT_FOR_STATS(s, s.accepted == 3);
    client_open(&d);
    WAIT_FOR_STATS(s, s.evicted == 1);
    assert_true(client_wait_closed(&b, NULL));
    EXPECT_STATUS(&a, &r, false, 200);
    assert_int_equal(r.body_len, HUGE_BODY_BYTES);
    resp_free(&r);
    client_t *all[] = {&a, &b, &c, &d};
    for (size_t i = 0; i < 4; i++)
        client_close(all[i]);
}

/* One header byte every 20 ms keeps the idle timer (20 s) from firing, but
 * not the header timer (200 ms): the connection is closed long before the
 * idle time could have passed. */
static void test_header_timeout_stops_slowloris(void **state)
{
    fp_health_limits_t lim = {200, 20000, 0};
    run_on_loop(do_set_limits, &lim);
    fp_health_stats_t s;
    client_t c;
    client_open(&c);
    client_send(&c, "GET /healthz HTTP/1.1\r\nX-Slow: ");
    bool cut = false;
    for (int i = 0; i < 400 && !cut; i++) {
        cut = !client_send_n(&c, "a", 1);
        if (!cut) {
            s = stats();
            cut = s.closed_idle == 1;
        }
        pause_ms(20);
    }
    WAIT_FOR_STATS(s, s.closed_idle == 1 && s.open == 0);
    assert_true(client_wait_closed(&c, NULL));
    client_close(&c);
    expect_fresh_get("/healthz", 200);
}

static void test_long_request_target_414(void **state)
{
    enum { LONG = FP_HEALTH_MAX_URL_BYTES + 1000 };
    char *req = malloc(LONG + 64);
    assert_non_null(req);
    /* Within the bound: served. */
    strcpy(req, "GET /healthz?");
    size_t n = strlen(req);
    memset(req + n, 'q', FP_HEALTH_MAX_URL_BYTES - 200);
    strcpy(req + n + FP_HEALTH_MAX_URL_BYTES - 200, " HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_served(req);
    /* Over it, in one write or trickled in pieces: 414 and close. */
    memset(req + n, 'q', LONG);
    strcpy(req + n + LONG, " HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_refusal(req, strlen(req), 1, 414);
    expect_refusal(req, strlen(req), 4, 414);
    free(req);
    expect_fresh_get("/healthz", 200);
}

/* ---- the deciding functions, pure ---------------------------------------- */

static void test_timeout_ms(void **state)
{
    fp_health_limits_t lim = {5000, 3000, 64};
    fp_health_conn_view_t idle = {FP_HEALTH_IDLE, 1000};
    assert_int_equal(fp_health_timeout_ms(&lim, &idle, 1000), 3000);
    assert_int_equal(fp_health_timeout_ms(&lim, &idle, 99999), 3000);
    /* Headers: what is left of 5 s since the first byte, never more than idle. */
    fp_health_conn_view_t head = {FP_HEALTH_HEADERS, 1000};
    assert_int_equal(fp_health_timeout_ms(&lim, &head, 1000), 3000);
    assert_int_equal(fp_health_timeout_ms(&lim, &head, 4000), 2000);
    assert_int_equal(fp_health_timeout_ms(&lim, &head, 6000), 0);
    assert_int_equal(fp_health_timeout_ms(&lim, &head, 60000), 0);
    /* Body: the header budget plus the idle time. */
    fp_health_conn_view_t body = {FP_HEALTH_BODY, 0};
    assert_int_equal(fp_health_timeout_ms(&lim, &body, 7000), 1000);
    assert_int_equal(fp_health_timeout_ms(&lim, &body, 9000), 0);
}

static void test_evicts_before(void **state)
{
    fp_health_conn_view_t linger_new = {FP_HEALTH_LINGER, 900};
    fp_health_conn_view_t idle_old = {FP_HEALTH_IDLE, 100}, idle_new = {FP_HEALTH_IDLE, 800};
    fp_health_conn_view_t head_old = {FP_HEALTH_HEADERS, 10};
    fp_health_conn_view_t head_new = {FP_HEALTH_HEADERS, 500};
    fp_health_conn_view_t body_old = {FP_HEALTH_BODY, 1};
    fp_health_conn_view_t busy = {FP_HEALTH_BUSY, 0};
    assert_true(fp_health_evicts_before(&idle_new, NULL));
    assert_false(fp_health_evicts_before(&busy, NULL));
    assert_false(fp_health_evicts_before(&busy, &idle_new));
    assert_true(fp_health_evicts_before(&idle_new, &busy));
    /* Finished ones first, then idle ones, oldest first. */
    assert_true(fp_health_evicts_before(&linger_new, &idle_old));
    assert_true(fp_health_evicts_before(&idle_old, &idle_new));
    assert_false(fp_health_evicts_before(&idle_new, &idle_old));
    assert_false(fp_health_evicts_before(&idle_old, &idle_old));
    /* An idle one before requests in progress, however old those are. */
    assert_true(fp_health_evicts_before(&idle_new, &head_old));
    assert_false(fp_health_evicts_before(&head_old, &idle_new));
    assert_true(fp_health_evicts_before(&head_old, &head_new));
    assert_true(fp_health_evicts_before(&head_new, &body_old));
    /* An answer still being sent goes last, though it can go. */
    fp_health_conn_view_t writing_old = {FP_HEALTH_WRITING, 0};
    assert_true(fp_health_evicts_before(&writing_old, NULL));
    assert_true(fp_health_evicts_before(&body_old, &writing_old));
    assert_false(fp_health_evicts_before(&writing_old, &head_new));
}

static void test_head_verdict(void **state)
{
    assert_int_equal(fp_health_head_verdict(0, 0), 0);
    assert_int_equal(fp_health_head_verdict(FP_HEALTH_MAX_URL_BYTES, FP_HEALTH_MAX_HEADER_BYTES), 0);
    assert_int_equal(fp_health_head_verdict(FP_HEALTH_MAX_URL_BYTES + 1, FP_HEALTH_MAX_URL_BYTES + 1),
                     414);
    assert_int_equal(fp_health_head_verdict(FP_HEALTH_MAX_URL_BYTES + 1, 100000), 414);
    assert_int_equal(fp_health_head_verdict(10, FP_HEALTH_MAX_HEADER_BYTES + 1), 431);
}

static void test_client_that_never_reads(void **state)
{
    enum { N = 64 };
    client_t stuck;
    fp_health_stats_t s;
    client_open_opts(&stuck, 4096);
    /* 64 pipelined requests for 1 MiB each: far more than the cap. */
    for (int i = 0; i < N; i++)
        client_send(&stuck, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    WAIT_FOR_STATS(s, s.closed_overflow == 1 && s.open == 0);
    /* Memory for that client stayed within the cap plus one response. */
    assert_true(s.queued_max_bytes <= FP_HEALTH_MAX_QUEUED_BYTES + BIG_BODY_BYTES + 512);
    assert_true(s.requests < N);

    expect_fresh_get("/healthz", 200);

    size_t got = 0;
    assert_true(client_wait_closed(&stuck, &got));
    assert_true(got < (size_t)N * BIG_BODY_BYTES);
    client_close(&stuck);

    /* A client that reads gets the whole big body. */
    client_t c;
    resp_t r = {0};
    client_open(&c);
    ASK(&c, &r, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_int_equal(r.body_len, BIG_BODY_BYTES);
    resp_free(&r);
    client_close(&c);
}

static void test_idle_timeout(void **state)
{
    uint64_t idle_ms = 100;
    fp_health_stats_t s;
    run_on_loop(do_set_idle, &idle_ms);

    client_t silent, used;
    resp_t r = {0};
    client_open(&silent);
    client_open(&used);
    ASK(&used, &r, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    /* Half a request is not activity for ever either. */
    client_t partial;
    client_open(&partial);
    client_send(&partial, "GET /healthz HTTP/1.1\r\nHo");

    size_t got = 0;
    assert_true(client_wait_closed(&silent, &got));
    assert_int_equal(got, 0);
    assert_true(client_wait_closed(&used, &got));
    assert_int_equal(got, 0);
    assert_true(client_wait_closed(&partial, &got));
    assert_int_equal(got, 0);
    WAIT_FOR_STATS(s, s.open == 0);
    assert_int_equal(s.closed_idle, 3);
    client_close(&silent);
    client_close(&used);
    client_close(&partial);
    resp_free(&r);
    expect_fresh_get("/healthz", 200);
}

static void test_listen_errors(void **state)
{
    start_args_t a = {0};
    char listen[64], want[128];

    snprintf(listen, sizeof listen, "127.0.0.1:%d", g_port);
    a.listen = listen;
    run_on_loop(do_start, &a);
    assert_int_equal(a.rc, FP_ECONFIG);
    assert_null(a.h);
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%d: Address already in use", g_port);
    assert_string_equal(a.err.msg, want);

    static const char *bad[] = {"", "9187", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                                "127.0.0.1:12a", "example.com:80", "::1:9187", "[::1]9187",
                                "[nope]:80", "[]:80", "1.2.3:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a.listen = bad[i];
        run_on_loop(do_start, &a);
        if (a.rc != FP_ECONFIG)
            fail_msg("\"%s\" gave %d", bad[i], a.rc);
        assert_null(a.h);
    }

    /* localhost is 127.0.0.1; IPv6 literals work where the host has IPv6. */
    static const char *good[] = {"localhost:0", "[::1]:0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        a.listen = good[i];
        run_on_loop(do_start, &a);
        if (a.rc != 0 && i == 1) {
            print_message("skipping [::1]: %s\n", a.err.msg);
            continue;
        }
        if (a.rc != 0)
            fail_msg("%s: %s", good[i], a.err.msg);
        assert_true(fp_health_port(a.h) > 0);
        run_on_loop(do_close_extra, a.h);
        bool closed = false;
        time_t until = time(NULL) + DEADLINE_S;
        while (!closed && time(NULL) <= until) {
            run_on_loop(do_read_extra_closed, &closed);
            if (!closed)
                pause_ms(5);
        }
        assert_true(closed);
    }
}

/* libuv accepts with SOCK_NONBLOCK | SOCK_CLOEXEC; the listener is made so
 * here. Pinned, as a leaked health socket in a child keeps the port bound. */
static void test_sockets_cloexec_nonblocking(void **state)
{
    client_t c;
    resp_t r = {0};
    client_open(&c);
    client_send(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(client_read(&c, &r, false));

    int listeners = 0, accepted = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        struct stat st;
        struct sockaddr_in sin;
        socklen_t len = sizeof sin;
        if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
            continue;
        if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0 || sin.sin_family != AF_INET ||
            ntohs(sin.sin_port) != g_port)
            continue;
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
        len = sizeof sin;
        if (getpeername(fd, (struct sockaddr *)&sin, &len) == 0)
            accepted++;
        else
            listeners++;
    }
    closedir(d);
    assert_int_equal(listeners, 1);
    assert_int_equal(accepted, 1);
    resp_free(&r);
    client_close(&c);
}

int main(void)
{
    /* As the daemon does (signals.c): writes to a closed peer fail with EPIPE. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive_two_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_close_and_http10, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers_over_limit_431, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_at_a_time_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap_evicts_oldest_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_spares_answer_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_timeout_stops_slowloris, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_request_target_414, setup, teardown),
        cmocka_unit_test(test_timeout_ms),
        cmocka_unit_test(test_evicts_before),
        cmocka_unit_test(test_head_verdict),
        cmocka_unit_test_setup_teardown(test_client_that_never_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sockets_cloexec_nonblocking, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
