/* name_lease.c: the daemon name lease (name_lease.h). One Lua script claims
 * and renews one queue's key: it sets the key when it is free, ours, or held
 * by the value we decided to take over, and otherwise answers the holder and
 * its time left; another deletes a key only while it is still ours. Each
 * queue's key is its own call: the keys live in different Cluster slots. */
#include "queue/name_lease.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/os.h"
#include "queue/queue_scripts.h"
#include "redis/redis_conn.h"
#include "redis/redis_url.h"
#include "redis/cluster.h"
#include "redis/cluster_parse.h"
#include "redis/sentinel.h"

#define LOG "lease"
#define TAKE_OVER_MAX 3     /* take-over attempts in a row (the holder keeps changing) */
#define COMMAND_GRACE_MS 10000

/* KEYS: lease. ARGV: our value, ttl_ms, a value we may replace ("" none).
 * {1}: ours now (set or renewed); {0, holder, pttl}: someone else's. */
static const char claim_script[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if not cur or cur == ARGV[1] or (ARGV[3] ~= '' and cur == ARGV[3]) then\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "  return {1}\n"
    "end\n"
    "return {0, cur, redis.call('PTTL', KEYS[1])}\n";

static const char release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

/* ---- pure ------------------------------------------------------------------ */

int fp_lease_format(const fp_lease_holder_t *h, char *buf, size_t size)
{
    if (strchr(h->token, ' ') != NULL || strchr(h->host, ' ') != NULL)
        return -1;
    int n = snprintf(buf, size, "%s %s %lld %" PRId64, h->token, h->host, h->pid, h->since_ms);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

static bool copy_word(const char **p, const char *end, char *out, size_t size)
{
    const char *sp = memchr(*p, ' ', (size_t)(end - *p));
    size_t len = sp != NULL ? (size_t)(sp - *p) : (size_t)(end - *p);
    if (sp == NULL || len == 0 || len >= size)
        return false;
    memcpy(out, *p, len);
    out[len] = '\0';
    *p = sp + 1;
    return true;
}

bool fp_lease_parse(const char *s, size_t n, fp_lease_holder_t *out)
{
    const char *p = s, *end = s + n;
    char pid[24], since[24];
    if (!copy_word(&p, end, out->token, sizeof out->token) ||
        !copy_word(&p, end, out->host, sizeof out->host) || !copy_word(&p, end, pid, sizeof pid))
        return false;
    size_t rest = (size_t)(end - p);
    if (rest == 0 || rest >= sizeof since || memchr(p, ' ', rest) != NULL)
        return false;
    memcpy(since, p, rest);
    since[rest] = '\0';
    char *e1, *e2;
    errno = 0;
    out->pid = strtoll(pid, &e1, 10);
    out->since_ms = strtoll(since, &e2, 10);
    return errno == 0 && *e1 == '\0' && *e2 == '\0' && out->pid > 0 && out->since_ms >= 0;
}

fp_lease_verdict_t fp_lease_decide(const fp_lease_holder_t *me, const fp_lease_holder_t *holder,
                                   bool holder_alive, int64_t pttl_ms, int64_t waited_ms)
{
    if (strcmp(me->host, holder->host) != 0)
        return FP_LEASE_REFUSE; /* nothing here can tell whether it still runs */
    if (holder->pid != me->pid)
        return holder_alive ? FP_LEASE_REFUSE : FP_LEASE_TAKE_OVER;
    if (pttl_ms >= 0 && pttl_ms <= FP_LEASE_LAPSED_MS)
        return FP_LEASE_TAKE_OVER;
    return waited_ms > FP_LEASE_TTL_MS / 3 + FP_LEASE_RETRY_MS ? FP_LEASE_REFUSE : FP_LEASE_WAIT;
}

void fp_lease_describe(const char *name, const char *queue, const fp_lease_holder_t *holder,
                       int64_t pttl_ms, char *buf, size_t size)
{
    time_t secs = (time_t)(holder->since_ms / 1000);
    struct tm tm;
    char since[32] = "?";
    if (gmtime_r(&secs, &tm) != NULL)
        strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(buf, size,
             "daemon.name \"%s\" is in use by another daemon on queue \"%s\": host %s, pid "
             "%lld, since %s (its lease expires in %lld ms unless renewed); give each daemon "
             "serving this queue its own daemon.name",
             name, queue, holder->host, holder->pid, since, (long long)pttl_ms);
}

char *fp_lease_key(const char *prefix, const char *queue, const char *name)
{
    size_t n = strlen(name) + sizeof "lease:";
    char *kind = malloc(n);
    if (kind == NULL)
        return NULL;
    snprintf(kind, n, "lease:%s", name);
    char *key = fp_queue_key(prefix, queue, kind);
    free(kind);
    return key;
}

bool fp_lease_all_ours(const fp_lease_key_status_t *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!keys[i].ours)
            return false;
    return n > 0;
}

int fp_lease_next_ms(const fp_lease_key_status_t *keys, size_t n)
{
    bool again = false;
    for (size_t i = 0; i < n; i++) {
        if (keys[i].in_flight)
            return -1;
        again = again || keys[i].retry || !keys[i].ours;
    }
    return again ? FP_LEASE_RETRY_MS : FP_LEASE_TTL_MS / 3;
}

/* ---- I/O ----------------------------------------------------------------- */

typedef enum lease_state_e {
    LEASE_CLAIMING, /* not every key held yet */
    LEASE_HELD,
    LEASE_REFUSED,  /* someone else's: nothing more is claimed */
    LEASE_CLOSING,
} lease_state_t;

/* One queue's key. */
typedef struct lease_key_s {
    fp_lease_t *l;
    const char *queue;
    char *key;
    char replace[400]; /* the holder we decided to take over from */
    int take_overs;
    int64_t waiting_since_ms; /* first seen held under our own pid; 0: not */
    fp_redis_conn_t *conn;    /* over a Cluster: following the key's slot; else NULL */
} lease_key_t;

struct fp_lease_s {
    uv_loop_t *loop;
    const fp_config_t *cfg;
    fp_lease_events_t events;
    void *ctx;
    fp_redis_url_t url;
    fp_redis_conn_t *conn;
    fp_sentinel_t *sentinel; /* with redis.sentinels: where conn goes */
    uv_timer_t timer; /* the next round of claims: renewal, or a retry */
    lease_key_t *keys;
    fp_lease_key_status_t *status; /* status[i] is keys[i]'s */
    size_t nkeys;
    fp_lease_holder_t me;
    char value[400];
    lease_state_t state;
    bool down_logged;
    bool error_logged; /* an error reply said once until a clean round */
    size_t releasing;  /* release replies still to come */
    int parts;         /* connection and timer still closing */
    void (*close_cb)(void *ctx);
    void *close_ctx;
};

static void send_claims(fp_lease_t *l);

/* The connection a key's commands go on: its own over a Cluster. */
static fp_redis_conn_t *conn_of(const lease_key_t *k)
{
    return k->conn != NULL ? k->conn : k->l->conn;
}

static void on_timer(uv_timer_t *t)
{
    send_claims(t->data);
}

static void arm(fp_lease_t *l, uint64_t ms)
{
    if (l->state != LEASE_CLOSING && l->state != LEASE_REFUSED)
        uv_timer_start(&l->timer, on_timer, ms, 0);
}

/* A reply came: the next round, once the last reply of this one is in. */
static void after_reply(fp_lease_t *l)
{
    int ms = fp_lease_next_ms(l->status, l->nkeys);
    if (ms == FP_LEASE_TTL_MS / 3)
        l->error_logged = false;
    if (ms >= 0)
        arm(l, (uint64_t)ms);
}

static void refuse(fp_lease_t *l, const char *why)
{
    l->state = LEASE_REFUSED;
    uv_timer_stop(&l->timer);
    if (l->events.on_refused != NULL)
        l->events.on_refused(l->ctx, why);
}

static bool pid_alive(long long pid)
{
    return pid > 0 && pid <= INT32_MAX && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void send_claim(lease_key_t *k);

/* Someone else's lease on k's queue: take it over from a dead predecessor,
 * or refuse. */
static void held_elsewhere(lease_key_t *k, const redisReply *value, long long pttl)
{
    fp_lease_t *l = k->l;
    fp_lease_holder_t holder;
    char why[1024];
    if (!fp_lease_parse(value->str, value->len, &holder)) {
        snprintf(why, sizeof why,
                 "daemon.name \"%s\" is in use on queue \"%s\": its lease %s holds \"%.*s\"; "
                 "give each daemon serving this queue its own daemon.name",
                 l->cfg->daemon.name, k->queue, k->key,
                 (int)(value->len > 200 ? 200 : value->len), value->str);
        refuse(l, why);
        return;
    }
    bool alive = strcmp(holder.host, l->me.host) == 0 && pid_alive(holder.pid);
    int64_t now = fp_os_now_ms();
    if (k->waiting_since_ms == 0)
        k->waiting_since_ms = now;
    fp_lease_verdict_t verdict =
        fp_lease_decide(&l->me, &holder, alive, pttl, now - k->waiting_since_ms);
    if (verdict == FP_LEASE_WAIT && l->state == LEASE_CLAIMING) {
        l->status[k - l->keys].retry = true; /* asked again after FP_LEASE_RETRY_MS */
        after_reply(l);
        return;
    }
    if (verdict == FP_LEASE_TAKE_OVER && k->take_overs++ < TAKE_OVER_MAX &&
        value->len < sizeof k->replace) {
        memcpy(k->replace, value->str, value->len);
        k->replace[value->len] = '\0';
        fp_log_info(LOG, "took over the name lease of \"%s\" on queue \"%s\" from pid %lld on "
                    "this host, which is no longer running",
                    l->cfg->daemon.name, k->queue, holder.pid);
        send_claim(k);
        return;
    }
    fp_lease_describe(l->cfg->daemon.name, k->queue, &holder, pttl, why, sizeof why);
    refuse(l, why);
}

static void claimed(lease_key_t *k)
{
    fp_lease_t *l = k->l;
    fp_lease_key_status_t *st = &l->status[k - l->keys];
    st->ours = true;
    st->retry = false;
    k->take_overs = 0;
    k->waiting_since_ms = 0;
    k->replace[0] = '\0';
    if (l->state == LEASE_CLAIMING && fp_lease_all_ours(l->status, l->nkeys)) {
        l->state = LEASE_HELD;
        if (l->events.on_held != NULL)
            l->events.on_held(l->ctx);
    }
    after_reply(l);
}

static void on_claim_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    lease_key_t *k = privdata;
    fp_lease_t *l = k->l;
    (void)c;
    l->status[k - l->keys].in_flight = false;
    if (l->state == LEASE_CLOSING || l->state == LEASE_REFUSED || r == NULL)
        return; /* a reconnect claims again */
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        claimed(k);
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[1]->type == REDIS_REPLY_STRING && r->element[2]->type == REDIS_REPLY_INTEGER) {
        held_elsewhere(k, r->element[1], r->element[2]->integer);
        return;
    }
    fp_log(l->error_logged ? FP_LOG_DEBUG : FP_LOG_WARN, LOG,
           "claiming the daemon name on queue \"%s\" failed: %.*s (will retry)", k->queue,
           r->str != NULL ? (int)r->len : 0, r->str != NULL ? r->str : "unexpected reply");
    l->error_logged = true;
    l->status[k - l->keys].retry = true;
    after_reply(l);
}

static void send_claim(lease_key_t *k)
{
    fp_lease_t *l = k->l;
    fp_lease_key_status_t *st = &l->status[k - l->keys];
    if (st->in_flight || l->state == LEASE_CLOSING || l->state == LEASE_REFUSED ||
        !fp_redis_conn_is_up(conn_of(k)))
        return;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%d", FP_LEASE_TTL_MS);
    const char *argv[] = {"EVAL", claim_script, "1", k->key, l->value, ttl, k->replace};
    size_t lens[7];
    for (int i = 0; i < 7; i++)
        lens[i] = strlen(argv[i]);
    if (fp_redis_conn_sendv(conn_of(k), 7, argv, lens, 0, on_claim_reply, k) == 0) {
        st->in_flight = true;
        return;
    }
    st->retry = true;
    arm(l, FP_LEASE_RETRY_MS);
}

static void send_claims(fp_lease_t *l)
{
    for (size_t i = 0; i < l->nkeys; i++)
        send_claim(&l->keys[i]);
}

static void on_conn_state(fp_redis_conn_t *c, bool up, const char *reason, void *ctx)
{
    fp_lease_t *l = ctx;
    if (up) {
        l->down_logged = false;
        send_claims(l);
        return;
    }
    if (l->state == LEASE_CLAIMING && !l->down_logged) {
        fp_log_warn(LOG, "cannot reach Redis at %s to claim daemon.name \"%s\": %s (will keep "
                    "trying)",
                    fp_redis_conn_where(c), l->cfg->daemon.name, reason != NULL ? reason : "");
        l->down_logged = true;
    }
}

/* A token nobody else has: 128 random bits, in hex. */
static void make_token(char *out, size_t size)
{
    uint64_t r[2];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        r[0] = (uint64_t)fp_os_now_us() ^ ((uint64_t)getpid() << 32);
        r[1] = (uint64_t)fp_os_unix_ms() * UINT64_C(0x9E3779B97F4A7C15);
    }
    snprintf(out, size, "%016" PRIx64 "%016" PRIx64, r[0], r[1]);
}

static int init_identity(fp_lease_t *l, fp_err_t *err)
{
    make_token(l->me.token, sizeof l->me.token);
    if (gethostname(l->me.host, sizeof l->me.host) != 0 || l->me.host[0] == '\0')
        snprintf(l->me.host, sizeof l->me.host, "unknown");
    l->me.host[sizeof l->me.host - 1] = '\0';
    for (char *p = l->me.host; *p != '\0'; p++)
        if (*p == ' ')
            *p = '_';
    l->me.pid = (long long)getpid();
    l->me.since_ms = fp_os_unix_ms();
    if (fp_lease_format(&l->me, l->value, sizeof l->value) < 0)
        return fp_err_set(err, FP_ECONFIG, "cannot encode the daemon name lease");
    return 0;
}

static int init_keys(fp_lease_t *l, const char *const *queues, size_t nqueues, fp_err_t *err)
{
    l->keys = calloc(nqueues, sizeof *l->keys);
    l->status = calloc(nqueues, sizeof *l->status);
    if (l->keys == NULL || l->status == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    for (; l->nkeys < nqueues; l->nkeys++) {
        lease_key_t *k = &l->keys[l->nkeys];
        k->l = l;
        k->queue = queues[l->nkeys];
        k->key = fp_lease_key(l->cfg->redis.prefix, k->queue, l->cfg->daemon.name);
        if (k->key == NULL)
            return fp_err_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

static void lease_free(fp_lease_t *l)
{
    fp_redis_url_free(&l->url);
    for (size_t i = 0; i < l->nkeys; i++)
        free(l->keys[i].key);
    free(l->keys);
    free(l->status);
    free(l);
}

/* Over a Cluster: one connection per key, following the key's slot. */
static int cluster_conns(fp_lease_t *l, fp_cluster_t *cl, const fp_redis_conn_opts_t *base,
                         fp_err_t *err)
{
    for (size_t i = 0; i < l->nkeys; i++) {
        lease_key_t *k = &l->keys[i];
        char label[300];
        snprintf(label, sizeof label, "lease of queue %s", k->queue);
        fp_redis_conn_opts_t opts = *base;
        opts.locator = fp_cluster_locator(cl, fp_cluster_keyslot(k->key, strlen(k->key)), label);
        opts.cluster = true;
        if (opts.locator == NULL)
            return fp_err_set(err, -ENOMEM, "out of memory");
        int rc = fp_redis_conn_new(l->loop, &l->url, &opts, on_conn_state, l, &k->conn, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int fp_lease_new(uv_loop_t *loop, const fp_config_t *cfg, const char *const *queues,
                 size_t nqueues, const fp_lease_events_t *events, void *ctx, fp_lease_t **out,
                 fp_err_t *err)
{
    return fp_lease_new_cluster(loop, cfg, queues, nqueues, NULL, events, ctx, out, err);
}

int fp_lease_new_cluster(uv_loop_t *loop, const fp_config_t *cfg, const char *const *queues,
                         size_t nqueues, fp_cluster_t *cl, const fp_lease_events_t *events,
                         void *ctx, fp_lease_t **out, fp_err_t *err)
{
    fp_lease_t *l = calloc(1, sizeof *l);
    if (l == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    l->loop = loop;
    l->cfg = cfg;
    l->events = *events;
    l->ctx = ctx;
    int rc = fp_redis_url_parse(cfg->redis.url, &l->url, err);
    if (rc == 0)
        rc = init_identity(l, err);
    if (rc == 0)
        rc = init_keys(l, queues, nqueues, err);
    fp_redis_conn_opts_t opts = {
        .name = "lease",
        .connect_timeout_ms = cfg->redis.connect_timeout_ms,
        .command_timeout_ms = cfg->redis.connect_timeout_ms + COMMAND_GRACE_MS};
    /* The queue's own follower says what Sentinel answers; this one is quiet. */
    if (rc == 0 && cl != NULL)
        rc = cluster_conns(l, cl, &opts, err);
    else if (rc == 0 && cfg->redis.sentinels.count > 0 &&
             (rc = fp_sentinel_new(loop, cfg, true, true, &l->sentinel, err)) == 0)
        opts.locator = fp_sentinel_locator(l->sentinel);
    if (rc == 0 && cl == NULL)
        rc = fp_redis_conn_new(loop, &l->url, &opts, on_conn_state, l, &l->conn, err);
    if (rc == 0 && l->sentinel != NULL && fp_sentinel_follow(l->sentinel, l->conn) < 0)
        rc = fp_err_set(err, -ENOMEM, "out of memory");
    if (rc < 0) {
        if (l->conn != NULL)
            fp_redis_conn_close(l->conn, NULL, NULL);
        for (size_t i = 0; i < l->nkeys; i++)
            if (l->keys[i].conn != NULL)
                fp_redis_conn_close(l->keys[i].conn, NULL, NULL);
        fp_sentinel_close(l->sentinel, NULL, NULL);
        l->conn = NULL;
        lease_free(l);
        return rc;
    }
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    *out = l;
    return 0;
}

void fp_lease_start(fp_lease_t *l)
{
    if (l->sentinel != NULL)
        fp_sentinel_start(l->sentinel);
    if (l->conn != NULL)
        fp_redis_conn_start(l->conn);
    for (size_t i = 0; i < l->nkeys; i++)
        if (l->keys[i].conn != NULL)
            fp_redis_conn_start(l->keys[i].conn);
}

static void part_closed(void *ctx)
{
    fp_lease_t *l = ctx;
    if (--l->parts > 0)
        return;
    void (*cb)(void *) = l->close_cb;
    void *cb_ctx = l->close_ctx;
    lease_free(l);
    if (cb != NULL)
        cb(cb_ctx);
}

static void on_timer_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

static void close_now(fp_lease_t *l)
{
    l->parts = 1 + (l->sentinel != NULL) + (l->conn != NULL);
    for (size_t i = 0; i < l->nkeys; i++)
        l->parts += l->keys[i].conn != NULL;
    uv_close((uv_handle_t *)&l->timer, on_timer_closed);
    if (l->conn != NULL)
        fp_redis_conn_close(l->conn, part_closed, l);
    for (size_t i = 0; i < l->nkeys; i++)
        if (l->keys[i].conn != NULL)
            fp_redis_conn_close(l->keys[i].conn, part_closed, l);
    if (l->sentinel != NULL)
        fp_sentinel_close(l->sentinel, part_closed, l);
}

static void on_released(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    lease_key_t *k = privdata;
    fp_lease_t *l = k->l;
    (void)c;
    if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
        fp_log_debug(LOG, "released the name lease of \"%s\" on queue \"%s\"",
                     l->cfg->daemon.name, k->queue);
    if (--l->releasing == 0)
        close_now(l);
}

/* Every key, not only those known to be ours: a claim may still be on its
 * way (it goes first on this connection), and after a refusal on one queue
 * the others may be ours. The compare spares everyone else's. */
void fp_lease_close(fp_lease_t *l, void (*cb)(void *ctx), void *ctx)
{
    if (l == NULL || l->state == LEASE_CLOSING)
        return;
    l->state = LEASE_CLOSING;
    l->close_cb = cb;
    l->close_ctx = ctx;
    uv_timer_stop(&l->timer);
    for (size_t i = 0; i < l->nkeys; i++) {
        fp_redis_conn_t *c = conn_of(&l->keys[i]);
        const char *argv[] = {"EVAL", release_script, "1", l->keys[i].key, l->value};
        size_t lens[5];
        for (int j = 0; j < 5; j++)
            lens[j] = strlen(argv[j]);
        if (fp_redis_conn_is_up(c) &&
            fp_redis_conn_sendv(c, 5, argv, lens, 0, on_released, &l->keys[i]) == 0)
            l->releasing++;
    }
    if (l->releasing == 0)
        close_now(l);
}
