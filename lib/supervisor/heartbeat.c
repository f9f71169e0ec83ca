/* heartbeat.c: the supervisor's part of the fleet heartbeat
 * (queue/heartbeat.h): every daemon.heartbeat_interval it describes itself
 * (state, children, counters, the jobs its children run now) and hands the
 * record to the queue's writer connection; at the end of a stop it deletes
 * the record before the queue closes, so a daemon that stopped cleanly is
 * not shown as gone. Nothing here waits: each beat's reply arms the next.
 *
 * It writes only while this daemon holds its name lease: a daemon refused
 * because the name is in use never writes (nor deletes) a record.
 *
 * With the health endpoint on, each written beat is followed by a read of
 * the whole fleet (on the same connection, never waited for), kept for
 * /stats: a route answers from memory, so the fleet it shows is the one of
 * the last beat. */
#include "supervisor/supervisor_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/log.h"
#include "base/os.h"
#include "queue/heartbeat.h"

#define LOG "supervisor"
#define NOT_YET_MS 200 /* not connected yet: look again soon, so a start shows at once */
/* How long a stop waits for the record's delete. A Redis that stopped
 * answering would otherwise hold the exit for the writer's whole command
 * timeout; the record expires on its own three intervals later. */
#define CLEAR_WAIT_MS 2000

static void on_beat_timer(uv_timer_t *timer);

static const char *state_name(const fp_supervisor_t *sup)
{
    if (sup->state != SUP_RUNNING)
        return "draining";
    return sup->quiet ? "quiet" : "running";
}

/* The jobs the children run now (started ones), at most
 * FP_FLEET_JOBS_MAX listed; the rest counted. */
static void add_jobs(const fp_supervisor_t *sup, fp_fleet_record_t *r)
{
    for (size_t i = 0; i < sup->pool.capacity; i++) {
        const fp_slot_t *slot = sup->pool.slots[i];
        for (const fp_held_t *h = slot->state != FP_CHILD_FREE ? slot->job : NULL; h != NULL;
             h = h->next) {
            if (h->deadline_ms == 0)
                continue; /* waits in the child's socket: not running yet */
            if (r->njobs == FP_FLEET_JOBS_MAX) {
                r->jobs_more++;
                continue;
            }
            fp_fleet_job_t *j = &r->jobs[r->njobs++];
            snprintf(j->queue, sizeof j->queue, "%s", sup->redis.names[h->queue]);
            snprintf(j->entry_id, sizeof j->entry_id, "%s", h->entry_id);
            snprintf(j->id, sizeof j->id, "%s", h->job.id != NULL ? h->job.id : "");
            snprintf(j->type, sizeof j->type, "%s", h->job.type != NULL ? h->job.type : "");
            j->child = slot->id;
            j->started_ms = h->started_unix_ms;
        }
    }
}

static char *describe(const fp_supervisor_t *sup)
{
    const sup_heartbeat_t *hb = &sup->heartbeat;
    fp_fleet_record_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    snprintf(r->name, sizeof r->name, "%s", hb->name); /* a HUP does not rename a daemon */
    snprintf(r->host, sizeof r->host, "%s", hb->host);
    snprintf(r->version, sizeof r->version, "%s", FP_VERSION);
    snprintf(r->token, sizeof r->token, "%s", hb->token);
    snprintf(r->state, sizeof r->state, "%s", state_name(sup));
    r->pid = (long long)getpid();
    r->started_ms = hb->started_unix_ms;
    r->interval_ms = sup->cfg->daemon.heartbeat_interval_ms;
    r->generation = sup->reload.generation;
    r->children_busy = (long long)fp_pool_count(&sup->pool, FP_CHILD_BUSY);
    r->children_total = (long long)fp_pool_live(&sup->pool);
    r->jobs_done = (long long)sup->counters.jobs_ok;
    r->jobs_failed = (long long)sup->counters.jobs_failed;
    add_jobs(sup, r);
    char *text = fp_fleet_encode(r);
    free(r);
    return text;
}

static void arm(fp_supervisor_t *sup, int64_t ms)
{
    if (!sup->heartbeat.stopping)
        uv_timer_start(&sup->timers.heartbeat, on_beat_timer, (uint64_t)ms, 0);
}

static void on_fleet_read(void *ctx, fp_fleet_t *fleet)
{
    fp_supervisor_t *sup = ctx;
    sup_heartbeat_t *hb = &sup->heartbeat;
    hb->reading = false;
    if (fleet == NULL)
        return; /* the last one read stays */
    if (hb->stopping) {
        fp_fleet_clear(fleet);
        free(fleet);
        return;
    }
    if (hb->fleet != NULL) {
        fp_fleet_clear(hb->fleet);
        free(hb->fleet);
    }
    hb->fleet = fleet;
}

static void read_fleet(fp_supervisor_t *sup)
{
    sup_heartbeat_t *hb = &sup->heartbeat;
    if (sup->health == NULL || hb->reading || hb->stopping || sup->redis.queue == NULL)
        return;
    hb->reading = fp_qmux_fleet_read(sup->redis.queue, on_fleet_read, sup) == 0;
}

cJSON *fp_sup_fleet_json(const fp_supervisor_t *sup)
{
    return sup->heartbeat.fleet != NULL ? fp_fleet_json(sup->heartbeat.fleet) : NULL;
}

static void on_beat_reply(void *ctx, bool ok)
{
    fp_supervisor_t *sup = ctx;
    sup_heartbeat_t *hb = &sup->heartbeat;
    hb->in_flight = false;
    hb->written = hb->written || ok;
    if (!ok && !hb->failure_logged)
        fp_log_warn(LOG, "could not write the fleet heartbeat (will keep trying)");
    hb->failure_logged = !ok;
    arm(sup, sup->cfg->daemon.heartbeat_interval_ms); /* a failed one too: no storm */
    if (ok)
        read_fleet(sup);
}

static void on_beat_timer(uv_timer_t *timer)
{
    fp_supervisor_t *sup = timer->data;
    sup_heartbeat_t *hb = &sup->heartbeat;
    if (hb->stopping || hb->in_flight)
        return;
    if (!sup->redis.lease_held || !sup->redis.ready || sup->redis.queue == NULL) {
        arm(sup, NOT_YET_MS);
        return;
    }
    char *record = describe(sup);
    int64_t ttl = sup->cfg->daemon.heartbeat_interval_ms * FP_FLEET_TTL_FACTOR;
    if (record != NULL &&
        fp_qmux_heartbeat(sup->redis.queue, hb->id, record, ttl, on_beat_reply, sup) == 0)
        hb->in_flight = true;
    else
        arm(sup, NOT_YET_MS);
    free(record);
}

void fp_sup_heartbeat_start(fp_supervisor_t *sup)
{
    sup_heartbeat_t *hb = &sup->heartbeat;
    if (gethostname(hb->host, sizeof hb->host) != 0 || hb->host[0] == '\0')
        snprintf(hb->host, sizeof hb->host, "unknown");
    hb->host[sizeof hb->host - 1] = '\0';
    uint64_t r[2];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        r[0] = (uint64_t)fp_os_now_us() ^ ((uint64_t)getpid() << 32);
        r[1] = (uint64_t)fp_os_unix_ms() * UINT64_C(0x9E3779B97F4A7C15);
    }
    snprintf(hb->token, sizeof hb->token, "%016llx%016llx", (unsigned long long)r[0],
             (unsigned long long)r[1]);
    hb->started_unix_ms = fp_os_unix_ms();
    snprintf(hb->name, sizeof hb->name, "%s", sup->cfg->daemon.name);
    if (!fp_fleet_id(sup->cfg->daemon.name, hb->host, (long long)getpid(), hb->id, sizeof hb->id)) {
        fp_log_warn(LOG, "daemon.name and host name too long for a fleet record: no heartbeat");
        return;
    }
    hb->started = true;
    arm(sup, 0);
}

/* The clear was answered (or its connection went): the stop goes on, from
 * a timer rather than inside the writer's own reply callback, which the
 * stop closes. */
static void on_clear_timer(uv_timer_t *timer)
{
    fp_sup_maybe_finish(timer->data);
}

static void on_clear_waited(uv_timer_t *timer)
{
    fp_supervisor_t *sup = timer->data;
    sup->heartbeat.cleared = true;
    fp_log_warn(LOG, "no answer to the fleet record's delete within %d ms: %s expires on its own",
                CLEAR_WAIT_MS, sup->heartbeat.id);
    fp_sup_maybe_finish(sup);
}

static void on_cleared(void *ctx, bool ok)
{
    fp_supervisor_t *sup = ctx;
    if (sup->heartbeat.cleared)
        return; /* given up on already (on_clear_waited): the stop went on */
    sup->heartbeat.cleared = true;
    if (!ok)
        fp_log_warn(LOG, "could not delete the fleet record %s: it expires on its own",
                     sup->heartbeat.id);
    uv_timer_start(&sup->timers.heartbeat, on_clear_timer, 0, 0);
}

bool fp_sup_heartbeat_stopped(fp_supervisor_t *sup)
{
    sup_heartbeat_t *hb = &sup->heartbeat;
    if (hb->cleared)
        return true;
    if (!hb->stopping) {
        hb->stopping = true;
        uv_timer_stop(&sup->timers.heartbeat);
        if (hb->fleet != NULL) { /* a read still in flight frees its own */
            fp_fleet_clear(hb->fleet);
            free(hb->fleet);
            hb->fleet = NULL;
        }
        /* Sent even while a beat is in flight: the writer answers in order,
         * so the clear comes after it. */
        if (!hb->started || !(hb->written || hb->in_flight) || sup->redis.queue == NULL ||
            fp_qmux_heartbeat_clear(sup->redis.queue, hb->id, hb->token, on_cleared, sup) < 0)
            hb->cleared = true;
        else
            uv_timer_start(&sup->timers.heartbeat, on_clear_waited, CLEAR_WAIT_MS, 0);
    }
    return hb->cleared;
}
