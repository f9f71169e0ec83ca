/* setup.c: getting a queue usable and saying so: the connections' reports,
 * the consumer groups and script loads on the writer (again after NOGROUP),
 * and readiness (on_ready), which restarts history, the sweep, take-over
 * and the mover after every (re)connection. */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

/* ---- readiness ----------------------------------------------------------- */

/* A Cluster slot being migrated answers every attempt TRYAGAIN or ASK until
 * the move ends, seconds later: the same loss is said at warning level
 * once a minute, not at every attempt, and the reconnection that follows a
 * quiet one is quiet too. Elsewhere every loss is said. */
#define QUIET_REPEAT_MS 60000

static bool quiet_loss(fp_queue_t *q)
{
    uint64_t now = uv_now(q->loop);
    if (q->conn.cluster && strcmp(q->conn.warned, q->conn.down_reason) == 0 &&
        now - q->conn.warned_ms < QUIET_REPEAT_MS)
        return q->conn.quiet_up = true;
    snprintf(q->conn.warned, sizeof q->conn.warned, "%s", q->conn.down_reason);
    q->conn.warned_ms = now;
    return q->conn.quiet_up = false;
}

static void update_ready(fp_queue_t *q)
{
    bool ready = q->conn.reader_up && q->conn.writer_up && q->conn.setup_done && !q->life.closing;
    if (ready == q->conn.ready)
        return;
    q->conn.ready = ready;
    const char *where = fp_redis_conn_where(q->writer);
    if (ready) {
        fp_log(q->conn.quiet_up ? FP_LOG_DEBUG : FP_LOG_INFO, LOG, "%s Redis at %s",
               q->conn.ever_ready ? "reconnected to" : "connected to", where);
        q->conn.quiet_up = false;
        q->conn.ever_ready = true;
        q->conn.failure_logged = false;
        /* A reply lost with a connection may have claimed entries for us:
         * re-read this consumer's pending entries first. */
        fp_q_all_history(q);
        /* Perhaps another server now (a failover), or one that lost data
         * (NOGROUP): nothing read before is trusted there, and nothing read
         * after until a reply from it told the take-over token. */
        for (size_t i = 0; i < q->n; i++)
            fp_takeover_forget(&q->qs[i].takeover);
        fp_read_plan_restart(&q->plan);
        /* Whoever held entries may have died while we were away: look once
         * now (after our own history), not only at the next interval. */
        q->takeover.due = q->vt_ms > 0;
        q->takeover.queue = 0;
        fp_q_mover_kick(q);
    } else if (!q->life.closing) {
        fp_log_level_t level = quiet_loss(q) ? FP_LOG_DEBUG : FP_LOG_WARN;
        if (q->conn.reader_up && q->conn.writer_up)
            fp_log(level, LOG, "Redis at %s not ready: %s", where, q->conn.down_reason);
        else
            fp_log(level, LOG, "lost connection to Redis at %s: %s", where, q->conn.down_reason);
        q->conn.failure_logged = true;
    }
    if (q->events.on_ready != NULL)
        q->events.on_ready(q->ctx, ready);
}

/* ---- setup: groups and scripts (writer) ------------------------------------ */

static void setup_step_done(fp_queue_t *q)
{
    if (--q->conn.setup_left > 0)
        return;
    q->conn.setup_running = false;
    if (q->life.closing)
        return;
    if (q->conn.setup_failed || !q->conn.writer_up) {
        if (q->conn.writer_up)
            fp_q_arm_retry(q);
        return;
    }
    q->conn.setup_done = true;
    fp_q_retry_reset(q);
    update_ready(q);
    fp_q_pump(q);
}

static void on_group_created(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    /* BUSYGROUP: the group exists, which is what we want. */
    if (r == NULL || (r->type == REDIS_REPLY_ERROR && !fp_q_reply_is_error(r, "BUSYGROUP"))) {
        if (r != NULL && !q->life.closing)
            fp_q_log_error_once(q, "cannot create the consumer group", r);
        q->conn.setup_failed = true;
    }
    setup_step_done(q);
}

static void store_sha(fp_queue_t *q, redisReply *r, char *sha, const char *what)
{
    if (r != NULL && r->type == REDIS_REPLY_STRING && fp_script_sha_valid(r->str, r->len)) {
        memcpy(sha, r->str, 40);
        sha[40] = '\0';
        return;
    }
    if (r != NULL && !q->life.closing)
        fp_q_log_error_once(q, what, r);
    q->conn.setup_failed = true;
}

static void on_outcome_sha(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    store_sha(q, r, q->scripts.outcome_sha, "SCRIPT LOAD (outcomes) failed");
    setup_step_done(q);
}

static void on_drained_sha(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    store_sha(q, r, q->scripts.drained_sha, "SCRIPT LOAD (drained) failed");
    setup_step_done(q);
}

static void on_script_sha(fp_redis_conn_t *c, redisReply *r, void *privdata);

/* The SCRIPT LOAD replies of the recovery scripts find their fp_script_t
 * through this. */
typedef struct script_load_s {
    fp_queue_t *q;
    fp_script_t *script;
} script_load_t;

static void setup_send(fp_queue_t *q, int argc, const char **argv, fp_redis_reply_cb cb)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    q->conn.setup_left++;
    if (fp_redis_conn_sendv(q->writer, argc, argv, lens, 0, cb, q) < 0) {
        q->conn.setup_failed = true;
        q->conn.setup_left--;
    }
}

/* Groups are created from id 0, so jobs added before any daemon ever ran are
 * delivered too; with MKSTREAM so a queue nobody has used yet works. */
void fp_q_setup_start(fp_queue_t *q)
{
    if (q->life.closing || q->conn.setup_running || q->conn.setup_done || !q->conn.writer_up)
        return;
    q->conn.setup_running = true;
    q->conn.setup_failed = false;
    q->conn.setup_left = 1; /* held until every command is sent */
    for (size_t i = 0; i < q->n; i++) {
        const char *argv[] = {"XGROUP", "CREATE", q->qs[i].jobs_key, q->cfg->redis.group, "0",
                              "MKSTREAM"};
        setup_send(q, 6, argv, on_group_created);
    }
    setup_send(q, 3, (const char *[]){"SCRIPT", "LOAD", fp_script_outcomes}, on_outcome_sha);
    setup_send(q, 3, (const char *[]){"SCRIPT", "LOAD", fp_script_drained}, on_drained_sha);
    fp_script_t *scripts[] = {&q->scripts.claim, &q->scripts.consumers, &q->scripts.mover,
                           &q->scripts.history, &q->scripts.renew, &q->scripts.cancel_take};
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        script_load_t *load = malloc(sizeof *load);
        const char *argv[] = {"SCRIPT", "LOAD", scripts[i]->text};
        size_t lens[] = {6, 4, strlen(scripts[i]->text)};
        if (load == NULL) {
            q->conn.setup_failed = true;
            continue;
        }
        *load = (script_load_t){q, scripts[i]};
        q->conn.setup_left++;
        if (fp_redis_conn_sendv(q->writer, 3, argv, lens, 0, on_script_sha, load) < 0) {
            free(load);
            q->conn.setup_failed = true;
            q->conn.setup_left--;
        }
    }
    setup_step_done(q);
}

static void on_script_sha(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    script_load_t *load = privdata;
    fp_queue_t *q = load->q;
    (void)c;
    store_sha(q, r, load->script->sha, load->script->what);
    load->script->eval = false;
    free(load);
    setup_step_done(q);
}

/* ---- connection reports -------------------------------------------------- */

static void on_client_id(fp_redis_conn_t *c, redisReply *r, void *privdata)
{
    fp_queue_t *q = privdata;
    (void)c;
    if (r != NULL && r->type == REDIS_REPLY_INTEGER)
        q->conn.reader_id = r->integer;
}

void fp_q_on_conn_state(fp_redis_conn_t *c, bool up, const char *reason, void *ctx)
{
    fp_queue_t *q = ctx;
    if (q->life.closing)
        return;
    /* A read in flight on a lost connection ends in its own NULL reply,
     * which hiredis delivers before any new connection exists. */
    if (c == q->reader) {
        q->conn.reader_up = up;
        q->conn.reader_id = -1;
        if (up)
            fp_redis_conn_sendv(c, 2, (const char *[]){"CLIENT", "ID"}, (size_t[]){6, 2}, 0,
                                on_client_id, q);
    } else {
        q->conn.writer_up = up;
        if (up)
            fp_q_setup_start(q);
        else
            q->conn.setup_done = false;
    }
    if (!up) {
        snprintf(q->conn.down_reason, sizeof q->conn.down_reason, "%s",
                 reason != NULL ? reason : "");
        if (!q->conn.ready && !q->conn.failure_logged) {
            fp_log_warn(LOG, "cannot connect to Redis at %s: %s (will keep trying)",
                        fp_redis_conn_where(c), q->conn.down_reason);
            q->conn.failure_logged = true;
        } else if (!q->conn.ready) {
            fp_log_debug(LOG, "%s connection to Redis at %s failed: %s",
                         c == q->reader ? "reader" : "writer", fp_redis_conn_where(c),
                         q->conn.down_reason);
        }
    }
    update_ready(q);
    if (up)
        fp_q_pump(q);
}

void fp_q_setup_again(fp_queue_t *q)
{
    q->conn.setup_done = false;
    update_ready(q);
    fp_q_setup_start(q);
}
