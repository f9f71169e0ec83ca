/* cluster.c: the daemon's Redis Cluster locator (cluster.h). One
 * connection, without the ROLE check (a replica knows the map too), asks
 * the round's nodes for CLUSTER SLOTS in turn and stays open for the next
 * round; every connection waiting for its slot's owner gets the answer of
 * the round under way. Steps that move to another node run from a zero
 * timer, never from inside the callback of the connection being replaced.
 * A slot's owner is logged when it changes, a failing round once until one
 * succeeds. */
#include "redis/cluster.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "redis/cluster_round.h"

#define LOG "cluster"

/* The locator of one slot; its ctx is this. */
typedef struct slot_loc_s {
    struct slot_loc_s *next;
    fp_cluster_t *cl;
    uint16_t slot;
    char label[80];
    fp_cluster_addr_t told; /* what its connections were last told; port 0: nothing */
    fp_redis_locator_t loc;
} slot_loc_t;

typedef struct waiter_s {
    fp_redis_conn_t *conn;
    slot_loc_t *sl;
} waiter_t;

/* The connection that asks, with the URL it borrows until it is closed. */
typedef struct asker_s {
    fp_cluster_t *cl;
    fp_cluster_addr_t addr;
    fp_redis_url_t url;
    fp_redis_conn_t *conn;
} asker_t;

struct fp_cluster_s {
    uv_loop_t *loop;
    fp_cluster_addr_t *seeds;
    size_t nseeds;
    const fp_redis_url_t *auth;
    int64_t timeout_ms;
    bool quiet, closing;

    fp_cluster_map_t *map, *scratch; /* the last map read; the one being parsed */
    bool have_map;
    fp_cluster_addr_t last; /* the node that answered last; port 0: none yet */
    fp_cluster_round_t round;
    asker_t *asker;
    bool awaiting, query_sent;
    uv_timer_t kick;
    char why[768]; /* what the nodes of a failing round said */
    bool failure_logged;
    uint64_t maps;

    waiter_t *waiters;
    size_t nwait, capwait;
    slot_loc_t *locs;

    int open_parts;
    void (*close_cb)(void *ctx);
    void *close_ctx;
};

static void say(const fp_cluster_t *cl, fp_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const fp_cluster_t *cl, fp_log_level_t level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fp_log(cl->quiet ? FP_LOG_DEBUG : level, LOG, "%s", msg);
}

/* ---- closing -------------------------------------------------------------- */

static void part_closed(void *ctx)
{
    fp_cluster_t *cl = ctx;
    if (--cl->open_parts > 0 || !cl->closing)
        return;
    for (slot_loc_t *sl = cl->locs, *next; sl != NULL; sl = next) {
        next = sl->next;
        free(sl);
    }
    free(cl->seeds);
    free(cl->map);
    free(cl->scratch);
    free(cl->waiters);
    void (*cb)(void *) = cl->close_cb;
    void *cb_ctx = cl->close_ctx;
    free(cl);
    if (cb != NULL)
        cb(cb_ctx);
}

static void asker_closed(void *ctx)
{
    asker_t *a = ctx;
    fp_cluster_t *cl = a->cl;
    free(a);
    part_closed(cl);
}

static void close_asker(fp_cluster_t *cl)
{
    if (cl->asker == NULL)
        return;
    cl->open_parts++;
    fp_redis_conn_close(cl->asker->conn, asker_closed, cl->asker);
    cl->asker = NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

/* ---- answering ------------------------------------------------------------ */

static void tell(fp_cluster_t *cl, waiter_t *w)
{
    fp_cluster_addr_t to;
    char why[300], at[300];
    const char *label = w->sl->label[0] != '\0' ? w->sl->label : NULL;
    if (fp_cluster_slot_target(cl->map, w->sl->slot, label, &to, why, sizeof why) < 0) {
        fp_redis_conn_located(w->conn, NULL, 0, why);
        return;
    }
    if (!fp_sentinel_addr_equal(&to, &w->sl->told)) {
        fp_sentinel_addr_format(&to, at, sizeof at);
        say(cl, FP_LOG_INFO, "slot %u%s%s%s is served by %s", w->sl->slot,
            label != NULL ? " (" : "", label != NULL ? label : "", label != NULL ? ")" : "", at);
        w->sl->told = to;
    }
    fp_redis_conn_located(w->conn, to.host, to.port, NULL);
}

/* Every waiter gets this round's answer: the map (have_map), or why. */
static void answer_all(fp_cluster_t *cl, const char *why)
{
    /* A waiter may fail at once and ask again: take the list first. */
    waiter_t *w = cl->waiters;
    size_t n = cl->nwait;
    cl->waiters = NULL;
    cl->nwait = cl->capwait = 0;
    for (size_t i = 0; i < n; i++) {
        if (why != NULL)
            fp_redis_conn_located(w[i].conn, NULL, 0, why);
        else
            tell(cl, &w[i]);
    }
    free(w);
}

/* ---- asking --------------------------------------------------------------- */

static void on_kick(uv_timer_t *t);

static void ask_failed(fp_cluster_t *cl, const char *reason)
{
    char by[300];
    size_t used = strlen(cl->why);
    fp_sentinel_addr_format(&cl->asker->addr, by, sizeof by);
    snprintf(cl->why + used, sizeof cl->why - used, "%s%s %s", used ? "; " : "", by, reason);
    /* A lost connection fails the question twice (its NULL reply, then its
     * down report): only the first counts. */
    cl->awaiting = false;
    cl->query_sent = false;
    if (fp_cluster_round_failed(&cl->round) != NULL) {
        uv_timer_start(&cl->kick, on_kick, 0, 0);
        return;
    }
    char why[sizeof cl->why + 64];
    snprintf(why, sizeof why, "no cluster node gave the slot map (%s)", cl->why);
    if (!cl->failure_logged)
        say(cl, FP_LOG_WARN, "%s (will keep asking)", why);
    cl->failure_logged = true;
    cl->why[0] = '\0';
    answer_all(cl, why);
}

static void on_slots_reply(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_cluster_t *cl = privdata;
    if (cl->closing || cl->asker == NULL || c != cl->asker->conn || !cl->awaiting ||
        !cl->query_sent)
        return;
    cl->query_sent = false;
    char why[256];
    if (r == NULL) {
        ask_failed(cl, "lost the connection");
        return;
    }
    if (fp_cluster_slots_parse(r, cl->asker->addr.host, cl->scratch, why, sizeof why) < 0) {
        ask_failed(cl, why);
        return;
    }
    fp_cluster_map_t *m = cl->map;
    cl->map = cl->scratch;
    cl->scratch = m;
    cl->have_map = true;
    cl->maps++;
    cl->last = cl->asker->addr;
    cl->awaiting = false;
    fp_cluster_round_answered(&cl->round);
    if (cl->failure_logged) {
        char by[300];
        fp_sentinel_addr_format(&cl->last, by, sizeof by);
        say(cl, FP_LOG_INFO, "read the slot map from %s", by);
    }
    cl->failure_logged = false;
    cl->why[0] = '\0';
    answer_all(cl, NULL);
}

static void send_query(fp_cluster_t *cl)
{
    cl->query_sent = true;
    if (fp_redis_conn_sendv(cl->asker->conn, 2, (const char *[]){"CLUSTER", "SLOTS"},
                            (size_t[]){7, 5}, 0, on_slots_reply, cl) < 0) {
        cl->query_sent = false;
        ask_failed(cl, "cannot send CLUSTER SLOTS");
    }
}

static void on_ask_state(fp_redis_conn_t *c, bool up, const char *reason, void *ctx)
{
    fp_cluster_t *cl = ctx;
    if (cl->closing || cl->asker == NULL || c != cl->asker->conn || !cl->awaiting)
        return;
    if (up && !cl->query_sent)
        send_query(cl);
    else if (!up)
        ask_failed(cl, reason != NULL ? reason : "cannot connect");
}

static int open_asker(fp_cluster_t *cl, const fp_cluster_addr_t *addr)
{
    asker_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return -ENOMEM;
    a->cl = cl;
    a->addr = *addr;
    a->url = (fp_redis_url_t){.host = a->addr.host,
                              .port = a->addr.port,
                              .user = cl->auth != NULL ? cl->auth->user : NULL,
                              .password = cl->auth != NULL ? cl->auth->password : NULL,
                              .tls = cl->auth != NULL && cl->auth->tls};
    fp_redis_conn_opts_t opts = {.name = "cluster-map",
                                 .connect_timeout_ms = cl->timeout_ms,
                                 .command_timeout_ms = cl->timeout_ms,
                                 .any_role = true};
    int rc = fp_redis_conn_new(cl->loop, &a->url, &opts, on_ask_state, cl, &a->conn, NULL);
    if (rc < 0) {
        free(a);
        return rc;
    }
    cl->asker = a;
    fp_redis_conn_start(a->conn);
    return 0;
}

static void ask_at(fp_cluster_t *cl, const fp_cluster_addr_t *addr)
{
    cl->awaiting = true;
    cl->query_sent = false;
    if (cl->asker != NULL && fp_sentinel_addr_equal(&cl->asker->addr, addr) &&
        fp_redis_conn_is_up(cl->asker->conn)) {
        send_query(cl);
        return;
    }
    close_asker(cl);
    if (open_asker(cl, addr) < 0) {
        cl->awaiting = false;
        answer_all(cl, "out of memory");
        cl->round.active = false;
    }
}

static void on_kick(uv_timer_t *t)
{
    fp_cluster_t *cl = t->data;
    if (!cl->closing && cl->round.active)
        ask_at(cl, &cl->round.ask[cl->round.pos]);
}

static void locate(void *ctx, fp_redis_conn_t *c)
{
    slot_loc_t *sl = ctx;
    fp_cluster_t *cl = sl->cl;
    if (cl->nwait == cl->capwait) {
        size_t cap = cl->capwait ? cl->capwait * 2 : 8;
        waiter_t *w = realloc(cl->waiters, cap * sizeof *w);
        if (w == NULL) {
            /* The one answer given at once: the attempt fails with back-off. */
            fp_redis_conn_located(c, NULL, 0, "out of memory");
            return;
        }
        cl->waiters = w;
        cl->capwait = cap;
    }
    cl->waiters[cl->nwait++] = (waiter_t){c, sl};
    if (cl->round.active)
        return;
    /* Every locate starts a round of its own (or joins the one under way):
     * the connection asking was just sent away by its node, so the map it
     * got last is the one thing it must not trust. */
    fp_cluster_round_begin(&cl->round, &cl->last, cl->seeds, cl->nseeds,
                           cl->have_map ? cl->map : NULL);
    uv_timer_start(&cl->kick, on_kick, 0, 0);
}

static void cancel(void *ctx, fp_redis_conn_t *c)
{
    fp_cluster_t *cl = ((slot_loc_t *)ctx)->cl;
    for (size_t i = 0; i < cl->nwait; i++)
        if (cl->waiters[i].conn == c) {
            cl->waiters[i] = cl->waiters[--cl->nwait];
            return;
        }
}

/* ---- public --------------------------------------------------------------- */

static int parse_seeds(fp_cluster_t *cl, const char *const *seeds, size_t n, fp_err_t *err)
{
    cl->seeds = calloc(n, sizeof *cl->seeds);
    if (cl->seeds == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char why[128];
        if (fp_cluster_seed_parse(seeds[i], &cl->seeds[i], why, sizeof why) < 0)
            return fp_err_set(err, FP_ECONFIG, "[redis] cluster[%zu] %s", i, why);
    }
    cl->nseeds = n;
    return 0;
}

int fp_cluster_new(uv_loop_t *loop, const char *const *seeds, size_t n,
                   const fp_redis_url_t *auth, int64_t timeout_ms, bool quiet,
                   fp_cluster_t **out, fp_err_t *err)
{
    if (n == 0)
        return fp_err_set(err, FP_ECONFIG, "[redis] cluster must list at least one node");
    fp_cluster_t *cl = calloc(1, sizeof *cl);
    if (cl == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    cl->map = malloc(sizeof *cl->map);
    cl->scratch = malloc(sizeof *cl->scratch);
    int rc = cl->map == NULL || cl->scratch == NULL
                 ? fp_err_set(err, -ENOMEM, "out of memory")
                 : parse_seeds(cl, seeds, n, err);
    if (rc < 0) {
        free(cl->map);
        free(cl->scratch);
        free(cl->seeds);
        free(cl);
        return rc;
    }
    cl->loop = loop;
    cl->auth = auth;
    cl->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    cl->quiet = quiet;
    uv_timer_init(loop, &cl->kick);
    cl->kick.data = cl;
    *out = cl;
    return 0;
}

const fp_redis_locator_t *fp_cluster_locator(fp_cluster_t *cl, uint16_t slot,
                                             const char *label)
{
    for (slot_loc_t *sl = cl->locs; sl != NULL; sl = sl->next)
        if (sl->slot == slot)
            return &sl->loc;
    slot_loc_t *sl = calloc(1, sizeof *sl);
    if (sl == NULL)
        return NULL;
    sl->cl = cl;
    sl->slot = slot;
    snprintf(sl->label, sizeof sl->label, "%s", label != NULL ? label : "");
    sl->loc = (fp_redis_locator_t){locate, cancel, sl};
    sl->next = cl->locs;
    cl->locs = sl;
    return &sl->loc;
}

uint64_t fp_cluster_maps_read(const fp_cluster_t *cl)
{
    return cl->maps;
}

void fp_cluster_close(fp_cluster_t *cl, void (*cb)(void *ctx), void *ctx)
{
    if (cl == NULL || cl->closing)
        return;
    cl->closing = true;
    cl->close_cb = cb;
    cl->close_ctx = ctx;
    cl->nwait = 0;
    cl->open_parts++; /* held until everything below is closing */
    close_asker(cl);
    cl->open_parts++;
    uv_close((uv_handle_t *)&cl->kick, on_timer_closed);
    part_closed(cl);
}
