/* schedule.c: the scheduler every daemon runs ([[schedule]], queue/schedule.h).
 * One timer on the loop, armed for the soonest tick (at most a second
 * away); when a schedule is due, the ticks the missed policy picks
 * (schedule/missed.h) go to Redis in one script call, which enqueues only
 * those newer than the recorded tick. So any number of daemons can run the
 * same schedules: each tick is enqueued once, by whichever asks first. No
 * call waits: a reply updates what this daemon knows and re-arms the timer.
 *
 * A schedule is fired only by daemons that consume its queue. Its recorded
 * tick is read first; a schedule Redis has no record of (or one made by
 * another expression) is recorded there as starting at Redis TIME, so a new
 * or changed schedule never fires ticks from before it existed, and its
 * start survives restarts. A HUP re-reads the list (fp_sup_schedule_apply);
 * replies to calls made for the old list are dropped, and what they did is
 * learnt again from Redis on the next call. On the embedded queue
 * fp_qmux_schedule runs the same rule as one transaction on the queue file
 * (lib/sqlq/schedule.h), with the same answer: nothing here differs. */
#include "supervisor/supervisor_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/os.h"
#include "queue/schedule.h"

#define LOG "schedule"
#define NOT_YET_MS 200   /* Redis not ready: look again soon */
#define MAX_WAIT_MS 1000 /* the timer's longest sleep: a reload or a reconnect is noticed */
/* After a call Redis refused (a replica's READONLY, an ACL, a full memory):
 * a due tick would otherwise be asked for again at once, in a loop. */
#define RETRY_MS 1000

typedef struct reply_s {
    fp_supervisor_t *sup;
    uint32_t generation;
    size_t index;
    int64_t asked_ms; /* when a read was sent: the start of a schedule with no record */
} reply_t;

static void on_timer(uv_timer_t *timer);

static int64_t next_of(const sup_sched_entry_t *e)
{
    int64_t next;
    return fp_sched_next(&e->s->when, e->last, &next) == 0 ? next : INT64_MAX;
}

static void arm(fp_supervisor_t *sup)
{
    sup_schedule_t *sc = &sup->schedule;
    if (sc->n == 0 || sup->state != SUP_RUNNING)
        return;
    int64_t now = fp_os_unix_ms(), wait = MAX_WAIT_MS;
    bool up = sup->redis.ready && sup->redis.lease_held;
    for (size_t i = 0; up && i < sc->n; i++) {
        const sup_sched_entry_t *e = &sc->items[i];
        if (e->in_flight)
            continue; /* its reply re-arms */
        int64_t due = e->known ? next_of(e) - now : 0;
        if (due < e->retry_at_ms - now)
            due = e->retry_at_ms - now;
        wait = due < wait ? due : wait;
    }
    /* At least 1 ms: libuv runs a timer re-armed for 0 ms from its own
     * callback again at once, in the same turn, without polling. */
    if (!up)
        wait = NOT_YET_MS;
    uv_timer_start(&sup->timers.schedule, on_timer, (uint64_t)(wait < 1 ? 1 : wait), 0);
}

static void on_reply(void *ctx, bool ok, int64_t fired, int64_t recorded)
{
    reply_t rp = *(reply_t *)ctx;
    free(ctx);
    sup_schedule_t *sc = &rp.sup->schedule;
    if (rp.generation != sc->generation)
        return; /* made for a list a reload replaced */
    sup_sched_entry_t *e = &sc->items[rp.index];
    e->in_flight = false;
    if (!ok) {
        if (!e->failure_logged)
            fp_log_warn(LOG, "schedule %s: the queue did not record its tick (will retry)",
                        e->s->name);
        e->failure_logged = true;
        e->retry_at_ms = fp_os_unix_ms() + RETRY_MS;
    } else {
        e->failure_logged = false;
        e->retry_at_ms = 0;
        if (!e->known)
            e->last = recorded >= 0 ? recorded : rp.asked_ms;
        else if (recorded > e->last)
            e->last = recorded;
        e->known = true;
        if (fired > 0)
            fp_log_debug(LOG, "schedule %s: enqueued %lld job(s) to %s", e->s->name,
                         (long long)fired, e->s->queue);
    }
    arm(rp.sup);
}

static void send_call(fp_supervisor_t *sup, size_t i, const int64_t *ticks, size_t n, int64_t now)
{
    sup_schedule_t *sc = &sup->schedule;
    sup_sched_entry_t *e = &sc->items[i];
    reply_t *rp = malloc(sizeof *rp);
    if (rp != NULL) {
        *rp = (reply_t){sup, sc->generation, i, now};
        if (fp_qmux_schedule(sup->redis.queue, e->queue, e->s, ticks, n, on_reply, rp) == 0) {
            e->in_flight = true;
            return;
        }
    }
    free(rp);
    e->retry_at_ms = now + RETRY_MS; /* not sent (no connection, no memory): not at once */
}

static void log_dropped(const sup_sched_entry_t *e, const fp_sched_due_t *due)
{
    if (due->dropped == 0 && !due->dropped_more)
        return;
    const char *why = e->s->missed == FP_MISSED_ALL ? "missed = \"all\" fires at most 100 at once"
                      : e->s->missed == FP_MISSED_ONE ? "missed = \"one\" fires the newest"
                                                      : "missed = \"skip\"";
    if (due->dropped_more)
        fp_log_info(LOG, "schedule %s: missed tick(s) not fired, older than the newest %llu (%s)",
                    e->s->name, (unsigned long long)(due->n + due->dropped), why);
    else
        fp_log_info(LOG, "schedule %s: %llu missed tick(s) not fired (%s)", e->s->name,
                    (unsigned long long)due->dropped, why);
}

static void fire_due(fp_supervisor_t *sup, size_t i, int64_t now)
{
    sup_sched_entry_t *e = &sup->schedule.items[i];
    fp_sched_due_t due;
    fp_sched_due(&e->s->when, e->last, now, e->s->missed, &due);
    log_dropped(e, &due);
    if (due.n > 0)
        send_call(sup, i, due.ticks, due.n, now);
    else if (due.dropped > 0 || due.dropped_more)
        e->last = now; /* skipped: every tick up to now is dealt with */
}

static void on_timer(uv_timer_t *timer)
{
    fp_supervisor_t *sup = timer->data;
    sup_schedule_t *sc = &sup->schedule;
    if (sup->state != SUP_RUNNING)
        return;
    int64_t now = fp_os_unix_ms();
    for (size_t i = 0; sup->redis.ready && sup->redis.lease_held && i < sc->n; i++) {
        if (sc->items[i].in_flight || sc->items[i].retry_at_ms > now)
            continue;
        if (!sc->items[i].known)
            send_call(sup, i, NULL, 0, now);
        else
            fire_due(sup, i, now);
    }
    arm(sup);
}

static bool queue_index(const fp_supervisor_t *sup, const char *queue, uint32_t *out)
{
    for (size_t i = 0; i < sup->redis.nnames; i++) {
        if (strcmp(sup->redis.names[i], queue) == 0) {
            *out = (uint32_t)i;
            return true;
        }
    }
    return false;
}

/* Whether a and b tick alike: the same fingerprint as the record holds. */
static bool same_expr(const fp_schedule_t *a, const fp_schedule_t *b)
{
    char fa[FP_SCHEDULE_FINGERPRINT_MAX], fb[FP_SCHEDULE_FINGERPRINT_MAX];
    return fp_schedule_fingerprint(a, fa, sizeof fa) && fp_schedule_fingerprint(b, fb, sizeof fb) &&
           strcmp(fa, fb) == 0;
}

/* What this daemon knew of a schedule of the same name, queue and
 * expression. A changed expression is read again: the script then starts
 * it afresh, rather than this daemon firing the new expression's ticks
 * since the old one's last. */
static const sup_sched_entry_t *known_before(const sup_schedule_t *old, const fp_schedule_t *s)
{
    for (size_t i = 0; i < old->n; i++)
        if (strcmp(old->items[i].s->name, s->name) == 0 && old->items[i].known &&
            !old->items[i].in_flight && strcmp(old->items[i].s->queue, s->queue) == 0 &&
            same_expr(old->items[i].s, s))
            return &old->items[i];
    return NULL;
}

void fp_sup_schedule_apply(fp_supervisor_t *sup)
{
    sup_schedule_t *sc = &sup->schedule, old = *sc;
    const fp_config_t *cfg = sup->cfg;
    sc->items = calloc(cfg->schedules.count ? cfg->schedules.count : 1, sizeof *sc->items);
    sc->n = 0;
    sc->generation++;
    for (size_t i = 0; sc->items != NULL && i < cfg->schedules.count; i++) {
        const fp_schedule_t *s = &cfg->schedules.items[i];
        sup_sched_entry_t *e = &sc->items[sc->n];
        if (!queue_index(sup, s->queue, &e->queue)) {
            fp_log_info(LOG, "schedule %s: queue %s is not consumed here; daemons that consume "
                        "it fire it", s->name, s->queue);
            continue;
        }
        const sup_sched_entry_t *was = known_before(&old, s);
        e->s = s;
        e->known = was != NULL;
        e->last = was != NULL ? was->last : -1;
        sc->n++;
    }
    if (sc->items == NULL)
        fp_log_error(LOG, "out of memory: no schedules run");
    free(old.items);
    if (sc->n > 0)
        fp_log_info(LOG, "%zu schedule(s) active", sc->n);
    uv_timer_stop(&sup->timers.schedule);
    arm(sup);
}

void fp_sup_schedule_free(fp_supervisor_t *sup)
{
    free(sup->schedule.items);
    sup->schedule.items = NULL;
    sup->schedule.n = 0;
    sup->schedule.generation++;
}
