/* slot_fsm.c: the transition table of a child slot (see slot_fsm.h for the
 * states, the events and why the flags are not states). */
#include "pool/slot_fsm.h"

#include <errno.h>

#include "pool/pool.h"

/* Short names for the table only. */
#define NO FP_CHILD_STATES /* the event cannot happen in this state */
#define STARTING FP_CHILD_STARTING
#define IDLE FP_CHILD_IDLE
#define BUSY FP_CHILD_BUSY
#define STOPPING FP_CHILD_STOPPING
#define EXITED FP_CHILD_EXITED
#define FREE FP_CHILD_FREE

/* Rows: the state a slot is in; columns: the event. A "NO" is a pair the
 * supervisor never produces itself: a child's stray message that would
 * produce one is refused, not obeyed.
 * - STARTING, IDLE, BUSY → FREE: a fork that failed, or the teardown of a
 *   start that failed (every child killed and reaped at once).
 * - IDLE + READY: a second "ready" is a protocol slip.
 * - BUSY + JOB_SENT: a pipeline queues more jobs in a busy child's socket.
 * - STOPPING + READY: told to stop before it was ready (a quick drain),
 *   nothing to do; + LAST_ANSWERED: it is on its way out, not idle;
 *   + STOP_SENT: a child is told to stop once (KILL may still follow).
 * - EXITED + LAST_ANSWERED: answers read from its socket after the reap
 *   settle its jobs and leave it exited; nothing else reaches a dead child. */
static const fp_child_state_t transitions[FP_CHILD_STATES][FP_SLOT_EVENTS] = {
    /*                   SPAWNED   READY     JOB_SENT LAST_ANS. STOP_SENT KILLED    REAPED  RELEASED */
    [FP_CHILD_FREE] =     {STARTING, NO,       NO,   NO,       NO,       NO,       NO,     NO},
    [FP_CHILD_STARTING] = {NO,       IDLE,     NO,   NO,       STOPPING, STOPPING, EXITED, FREE},
    [FP_CHILD_IDLE] =     {NO,       NO,       BUSY, NO,       STOPPING, STOPPING, EXITED, FREE},
    [FP_CHILD_BUSY] =     {NO,       NO,       BUSY, IDLE,     STOPPING, STOPPING, EXITED, FREE},
    [FP_CHILD_STOPPING] = {NO,       STOPPING, NO,   STOPPING, NO,       STOPPING, EXITED, FREE},
    [FP_CHILD_EXITED] =   {NO,       NO,       NO,   EXITED,   NO,       NO,       NO,     FREE},
};

#undef STARTING
#undef IDLE
#undef BUSY
#undef STOPPING
#undef EXITED
#undef FREE

bool fp_slot_next(fp_child_state_t from, fp_slot_event_t event, fp_child_state_t *to)
{
    if ((unsigned)from >= FP_CHILD_STATES || (unsigned)event >= FP_SLOT_EVENTS)
        return false;
    fp_child_state_t next = transitions[from][event];
    if (next == NO)
        return false;
    *to = next;
    return true;
}

int fp_slot_apply(fp_slot_t *slot, fp_slot_event_t event)
{
    return fp_slot_next(slot->state, event, &slot->state) ? 0 : -EINVAL;
}

static const char *const state_names[FP_CHILD_STATES] = {
    "free", "starting", "idle", "busy", "stopping", "exited",
};

const char *fp_pool_state_name(fp_child_state_t state)
{
    return (unsigned)state < FP_CHILD_STATES ? state_names[state] : "unknown";
}

static const char *const event_names[FP_SLOT_EVENTS] = {
    "spawned", "ready", "job sent", "last answered", "stop sent", "killed", "reaped", "released",
};

const char *fp_slot_event_name(fp_slot_event_t event)
{
    return (unsigned)event < FP_SLOT_EVENTS ? event_names[event] : "unknown";
}
