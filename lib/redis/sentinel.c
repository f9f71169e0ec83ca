/* sentinel.c: Sentinel discovery for the daemon (sentinel.h). Two kinds of
 * connection to sentinels, both fp_redis_conn_t without the ROLE check:
 * one that asks where the master is, kept open between rounds, and one
 * subscribed to +switch-master. A round asks the sentinels in the order
 * sentinel_parse.c keeps (the last one that answered first); every
 * connection waiting for an address gets the round's answer. Steps that
 * move to another sentinel run from a zero timer, never from inside the
 * callback of the connection being replaced. What it finds is logged once
 * per change, a failing round once until one succeeds. */
#include "redis/sentinel.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "redis/sentinel_parse.h"

#define LOG "sentinel"
#define WATCH_MOVE_MS 1000 /* a lost watch tries the next sentinel after this */

typedef struct conn_list_s {
    fp_redis_conn_t **items;
    size_t n, cap;
} conn_list_t;

struct fp_sentinel_s {
    uv_loop_t *loop;
    fp_redis_url_t *urls; /* one per sentinel: host, port, password */
    size_t n;
    char *master;
    int64_t timeout_ms;
    bool watch, quiet, closing;
    fp_redis_locator_t locator;

    fp_sentinel_round_t round;
    fp_redis_conn_t *ask; /* to urls[ask_idx] */
    size_t ask_idx, next_idx;
    bool awaiting;        /* the sentinel being asked has not answered or failed yet */
    bool query_sent;
    uv_timer_t kick;      /* the next step of a round, outside any callback */
    char why[768];        /* what the sentinels of a failing round said */
    bool failure_logged;
    fp_sentinel_addr_t known;
    conn_list_t waiters, followers;

    fp_redis_conn_t *sub; /* to urls[sub_idx], subscribed */
    size_t sub_idx;
    uv_timer_t sub_timer;

    int open_parts; /* timers and connections still closing */
    void (*close_cb)(void *ctx);
    void *close_ctx;
};

static void say(const fp_sentinel_t *s, fp_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const fp_sentinel_t *s, fp_log_level_t level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fp_log(s->quiet ? FP_LOG_DEBUG : level, LOG, "%s", msg);
}

static int list_add(conn_list_t *l, fp_redis_conn_t *c)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i] == c)
            return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        fp_redis_conn_t **p = realloc(l->items, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = c;
    return 0;
}

static void list_remove(conn_list_t *l, fp_redis_conn_t *c)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i] == c) {
            l->items[i] = l->items[--l->n];
            return;
        }
}

static void where_of(const fp_sentinel_t *s, size_t i, char *buf, size_t size)
{
    fp_redis_url_where(&s->urls[i], buf, size);
}

/* ---- closing -------------------------------------------------------------- */

static void part_closed(void *ctx)
{
    fp_sentinel_t *s = ctx;
    if (--s->open_parts > 0 || !s->closing)
        return;
    for (size_t i = 0; i < s->n; i++)
        fp_redis_url_free(&s->urls[i]);
    free(s->urls);
    free(s->master);
    free(s->waiters.items);
    free(s->followers.items);
    void (*cb)(void *) = s->close_cb;
    void *cb_ctx = s->close_ctx;
    free(s);
    if (cb != NULL)
        cb(cb_ctx);
}

static void on_timer_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

static void close_conn(fp_sentinel_t *s, fp_redis_conn_t **c)
{
    if (*c == NULL)
        return;
    s->open_parts++;
    fp_redis_conn_close(*c, part_closed, s);
    *c = NULL;
}

/* ---- asking --------------------------------------------------------------- */

static void on_kick(uv_timer_t *t);

static void answer_all(fp_sentinel_t *s, const fp_sentinel_addr_t *a, const char *why)
{
    /* A waiter may fail at once and be told again later: take the list first. */
    conn_list_t w = s->waiters;
    s->waiters = (conn_list_t){0};
    for (size_t i = 0; i < w.n; i++)
        fp_redis_conn_located(w.items[i], a != NULL ? a->host : NULL, a != NULL ? a->port : 0,
                              why);
    free(w.items);
}

static void round_answered(fp_sentinel_t *s, const fp_sentinel_addr_t *a)
{
    char at[300], by[300];
    fp_sentinel_round_answered(&s->round);
    s->awaiting = false;
    if (!fp_sentinel_addr_equal(a, &s->known) || s->failure_logged) {
        fp_sentinel_addr_format(a, at, sizeof at);
        where_of(s, s->ask_idx, by, sizeof by);
        say(s, FP_LOG_INFO, "master \"%s\" is at %s (sentinel %s)", s->master, at, by);
    }
    s->known = *a;
    s->failure_logged = false;
    s->why[0] = '\0';
    answer_all(s, a, NULL);
}

static void ask_failed(fp_sentinel_t *s, const char *reason)
{
    char by[300];
    size_t used = strlen(s->why);
    where_of(s, s->ask_idx, by, sizeof by);
    snprintf(s->why + used, sizeof s->why - used, "%s%s %s", used ? "; " : "", by, reason);
    /* A lost connection fails the question twice (its NULL reply, then its
     * down report): only the first counts. */
    s->awaiting = false;
    s->query_sent = false;
    if (fp_sentinel_round_failed(&s->round, &s->next_idx)) {
        uv_timer_start(&s->kick, on_kick, 0, 0);
        return;
    }
    char why[sizeof s->why + 128];
    snprintf(why, sizeof why, "no sentinel knows where master \"%s\" is (%s)", s->master, s->why);
    if (!s->failure_logged)
        say(s, FP_LOG_WARN, "%s (will keep asking)", why);
    s->failure_logged = true;
    s->why[0] = '\0';
    answer_all(s, NULL, why);
}

static void on_master_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_sentinel_t *s = privdata;
    if (s->closing || c != s->ask || !s->awaiting || !s->query_sent)
        return;
    s->query_sent = false;
    fp_sentinel_addr_t a;
    char why[256];
    if (r == NULL) {
        ask_failed(s, "lost the connection");
        return;
    }
    if (fp_sentinel_master_reply(r, &a, why, sizeof why) < 0) {
        ask_failed(s, why);
        return;
    }
    round_answered(s, &a);
}

static void send_query(fp_sentinel_t *s)
{
    const char *argv[] = {"SENTINEL", "get-master-addr-by-name", s->master};
    size_t lens[] = {8, 23, strlen(s->master)};
    s->query_sent = true;
    if (fp_redis_conn_sendv(s->ask, 3, argv, lens, 0, on_master_reply, s) < 0) {
        s->query_sent = false;
        ask_failed(s, "cannot send the question");
    }
}

static void on_ask_state(fp_redis_conn_t *c, bool up, const char *reason, void *ctx)
{
    fp_sentinel_t *s = ctx;
    if (s->closing || c != s->ask || !s->awaiting)
        return;
    if (up && !s->query_sent)
        send_query(s);
    else if (!up)
        ask_failed(s, reason != NULL ? reason : "cannot connect");
}

static int open_conn(fp_sentinel_t *s, size_t idx, const char *name, fp_redis_state_cb cb,
                     fp_redis_conn_t **out)
{
    fp_redis_conn_opts_t opts = {.name = name,
                                 .connect_timeout_ms = s->timeout_ms,
                                 .command_timeout_ms = cb == on_ask_state ? s->timeout_ms : 0,
                                 .any_role = true};
    int rc = fp_redis_conn_new(s->loop, &s->urls[idx], &opts, cb, s, out, NULL);
    if (rc == 0)
        fp_redis_conn_start(*out);
    return rc;
}

static void ask_at(fp_sentinel_t *s, size_t idx)
{
    s->awaiting = true;
    s->query_sent = false;
    if (s->ask != NULL && s->ask_idx == idx && fp_redis_conn_is_up(s->ask)) {
        send_query(s);
        return;
    }
    close_conn(s, &s->ask);
    s->ask_idx = idx;
    if (open_conn(s, idx, "sentinel", on_ask_state, &s->ask) < 0) {
        s->ask = NULL;
        ask_failed(s, "out of memory");
    }
}

static void on_kick(uv_timer_t *t)
{
    fp_sentinel_t *s = t->data;
    if (!s->closing && s->round.active)
        ask_at(s, s->next_idx);
}

static void locate(void *ctx, fp_redis_conn_t *c)
{
    fp_sentinel_t *s = ctx;
    if (list_add(&s->waiters, c) < 0) {
        /* The one answer given at once: the attempt fails with back-off. */
        fp_redis_conn_located(c, NULL, 0, "out of memory");
        return;
    }
    if (s->round.active)
        return;
    s->next_idx = fp_sentinel_round_begin(&s->round);
    uv_timer_start(&s->kick, on_kick, 0, 0);
}

static void cancel(void *ctx, fp_redis_conn_t *c)
{
    list_remove(&((fp_sentinel_t *)ctx)->waiters, c);
}

/* ---- watching ------------------------------------------------------------- */

static void on_switch(fp_redis_conn_t *c, const char *text, size_t len, void *ctx)
{
    fp_sentinel_t *s = ctx;
    fp_sentinel_addr_t to;
    (void)c;
    if (s->closing || !fp_sentinel_switch_parse(text, len, s->master, &to))
        return;
    char at[300], why[400];
    fp_sentinel_addr_format(&to, at, sizeof at);
    say(s, FP_LOG_WARN, "+switch-master: master \"%s\" moved to %s", s->master, at);
    s->known = to;
    snprintf(why, sizeof why, "Sentinel switched master \"%s\" to %s", s->master, at);
    for (size_t i = 0; i < s->followers.n; i++)
        fp_redis_conn_follow(s->followers.items[i], to.host, to.port, why);
}

static void open_watch(fp_sentinel_t *s);

static void on_sub_timer(uv_timer_t *t)
{
    fp_sentinel_t *s = t->data;
    if (s->closing)
        return;
    close_conn(s, &s->sub);
    s->sub_idx = (s->sub_idx + 1) % s->n;
    open_watch(s);
}

static void on_sub_state(fp_redis_conn_t *c, bool up, const char *reason, void *ctx)
{
    fp_sentinel_t *s = ctx;
    char by[300];
    if (s->closing || c != s->sub)
        return;
    where_of(s, s->sub_idx, by, sizeof by);
    if (up) {
        uv_timer_stop(&s->sub_timer);
        if (fp_redis_conn_subscribe(c, "+switch-master", on_switch, s) == 0)
            say(s, FP_LOG_DEBUG, "watching +switch-master on sentinel %s", by);
        return;
    }
    say(s, FP_LOG_DEBUG, "+switch-master watch on sentinel %s lost: %s", by,
        reason != NULL ? reason : "");
    if (s->n > 1 && !uv_is_active((uv_handle_t *)&s->sub_timer))
        uv_timer_start(&s->sub_timer, on_sub_timer, WATCH_MOVE_MS, 0);
}

static void open_watch(fp_sentinel_t *s)
{
    if (open_conn(s, s->sub_idx, "sentinel-watch", on_sub_state, &s->sub) < 0) {
        s->sub = NULL;
        uv_timer_start(&s->sub_timer, on_sub_timer, WATCH_MOVE_MS, 0);
    }
}

/* ---- public --------------------------------------------------------------- */

static int copy_urls(fp_sentinel_t *s, const fp_config_t *cfg, fp_err_t *err)
{
    s->urls = calloc(s->n, sizeof *s->urls);
    if (s->urls == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    const char *pw = cfg->redis.sentinel_password;
    for (size_t i = 0; i < s->n; i++) {
        fp_sentinel_addr_t a;
        char why[128];
        if (fp_sentinel_addr_parse(cfg->redis.sentinels.items[i], &a, why, sizeof why) < 0)
            return fp_err_set(err, FP_ECONFIG, "[redis] sentinels[%zu] %s", i, why);
        s->urls[i].host = strdup(a.host);
        s->urls[i].port = a.port;
        s->urls[i].tls = strncasecmp(cfg->redis.url, "rediss://", 9) == 0; /* like the master */
        s->urls[i].password = pw[0] != '\0' ? strdup(pw) : NULL;
        if (s->urls[i].host == NULL || (pw[0] != '\0' && s->urls[i].password == NULL))
            return fp_err_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

int fp_sentinel_new(uv_loop_t *loop, const fp_config_t *cfg, bool watch, bool quiet,
                    fp_sentinel_t **out, fp_err_t *err)
{
    size_t n = cfg->redis.sentinels.count;
    if (n == 0 || n > FP_SENTINELS_MAX)
        return fp_err_set(err, FP_ECONFIG, "[redis] sentinels must list 1 to %d sentinels",
                          FP_SENTINELS_MAX);
    fp_sentinel_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    s->loop = loop;
    s->n = n;
    s->watch = watch;
    s->quiet = quiet;
    s->timeout_ms = cfg->redis.connect_timeout_ms > 0 ? cfg->redis.connect_timeout_ms : 5000;
    s->master = strdup(cfg->redis.master_name);
    int rc = s->master == NULL ? fp_err_set(err, -ENOMEM, "out of memory")
                               : copy_urls(s, cfg, err);
    if (rc < 0) {
        for (size_t i = 0; s->urls != NULL && i < n; i++)
            fp_redis_url_free(&s->urls[i]);
        free(s->urls);
        free(s->master);
        free(s);
        return rc;
    }
    s->locator = (fp_redis_locator_t){locate, cancel, s};
    fp_sentinel_round_init(&s->round, n);
    uv_timer_init(loop, &s->kick);
    s->kick.data = s;
    uv_timer_init(loop, &s->sub_timer);
    s->sub_timer.data = s;
    *out = s;
    return 0;
}

const fp_redis_locator_t *fp_sentinel_locator(fp_sentinel_t *s)
{
    return &s->locator;
}

int fp_sentinel_follow(fp_sentinel_t *s, fp_redis_conn_t *c)
{
    return list_add(&s->followers, c);
}

void fp_sentinel_start(fp_sentinel_t *s)
{
    if (s->watch && s->sub == NULL && !s->closing)
        open_watch(s);
}

void fp_sentinel_close(fp_sentinel_t *s, void (*cb)(void *ctx), void *ctx)
{
    if (s == NULL || s->closing)
        return;
    s->closing = true;
    s->close_cb = cb;
    s->close_ctx = ctx;
    s->waiters.n = 0;
    s->followers.n = 0;
    s->open_parts++; /* held until everything below is closing */
    close_conn(s, &s->ask);
    close_conn(s, &s->sub);
    s->open_parts += 2;
    uv_close((uv_handle_t *)&s->kick, on_timer_closed);
    uv_close((uv_handle_t *)&s->sub_timer, on_timer_closed);
    part_closed(s);
}
