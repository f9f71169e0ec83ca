/* slot_fsm.h: a child slot's state machine — its states, the events that
 * move it, and the one table that says, for each state and event, the next
 * state or that the event cannot happen there. Pure: the supervisor observes
 * (a fork, a line on the channel, a reap) and reports the event; the table
 * decides. A child's life is a handful of states; everything else is a
 * fact recorded about it.
 *
 * The life:   FREE → STARTING → IDLE ⇄ BUSY → STOPPING → EXITED → FREE
 * (STARTING, IDLE and BUSY may also go straight to STOPPING or EXITED).
 *
 * What is a state and what is a flag. A state says what the supervisor may
 * do with the child: send it a job (IDLE, BUSY), send it a stop (STARTING,
 * IDLE, BUSY), count it toward capacity (STARTING, IDLE, BUSY), or wait
 * for its slot (STOPPING, EXITED). The rest are facts kept as fp_slot_t
 * flags, because they do not change what may be done with the child:
 * - "Replacing" (retiring) is a flag: a child being replaced serves on as
 *   IDLE or BUSY, and, while a reload is unproven, keeps serving until its
 *   replacement said ready; once its stop is sent it is STOPPING like any
 *   other. As states it would double IDLE and BUSY for one counter's sake.
 * - "Backing off" is not a slot's state at all but the pool's: after failed
 *   starts the next fork waits (fp_pool_t.start_failures is the step, a
 *   timer the wait); the failed child's slot ends EXITED → FREE as any
 *   other, and the child not yet forked has no slot.
 * - Concurrency (how many jobs a child runs at once, from its "ready") is
 *   a fact too: a concurrent child is BUSY from its first job to its last
 *   answer however many it holds, as a pipelined one is; how many more it
 *   may take is the pool's decision (fp_pool_pick), not a state.
 * - Start timed out, channel lost, channel EOF: the child is killed or
 *   being finished off, yet stays in its state until it is reaped, so that
 *   its reap settles its job and counts a failed start from what it was;
 *   meanwhile channel_eof keeps it from being picked.
 * - Reaped and channel closed are both needed before RELEASED (the pool
 *   checks them): a slot is reused only once no late "done" can reach it.
 *   The reap is recorded at once (the pid may be reused: never signal it),
 *   but the state becomes EXITED only after its jobs were settled with the
 *   state it died in (reading its last answers may still move it BUSY →
 *   IDLE → STOPPING).
 *
 * An event the table does not allow in a state is refused with an error and
 * leaves the slot as it was: a misbehaving child (a second "ready", a
 * "done" it was never sent) must not bring the supervisor down. */
#ifndef FORKPOOL_SLOT_FSM_H
#define FORKPOOL_SLOT_FSM_H

#include <stdbool.h>

typedef enum fp_child_state_e {
    FP_CHILD_FREE,     /* slot unused */
    FP_CHILD_STARTING, /* forked, no "ready" yet */
    FP_CHILD_IDLE,     /* ready, no job */
    FP_CHILD_BUSY,     /* holds one job or more */
    FP_CHILD_STOPPING, /* "stop" sent or signalled */
    FP_CHILD_EXITED,   /* reaped; waiting for the channel's EOF */
    FP_CHILD_STATES
} fp_child_state_t;

typedef enum fp_slot_event_e {
    FP_SLOT_SPAWNED,       /* a slot is claimed for a new child */
    FP_SLOT_READY,         /* it said "ready" and the pool takes it into service */
    FP_SLOT_JOB_SENT,      /* a job was handed to it */
    FP_SLOT_LAST_ANSWERED, /* it answered the last job it held */
    FP_SLOT_STOP_SENT,     /* "stop" sent (TERM when its channel cannot carry it) */
    FP_SLOT_KILLED,        /* KILL sent: a stop at once, or a child that cannot be watched */
    FP_SLOT_REAPED,        /* its exit was reaped and its jobs settled */
    FP_SLOT_RELEASED,      /* reaped and its channel closed: the slot is free again */
    FP_SLOT_EVENTS
} fp_slot_event_t;

struct fp_slot_s;

/* The state `event` leads to from `from` in *to; false if the event cannot
 * happen in that state (*to untouched). */
bool fp_slot_next(fp_child_state_t from, fp_slot_event_t event, fp_child_state_t *to);

/* Applies `event` to the slot: 0, or -EINVAL for an event its state does not
 * allow (or out of range), the slot unchanged. */
int fp_slot_apply(struct fp_slot_s *slot, fp_slot_event_t event);

const char *fp_pool_state_name(fp_child_state_t state);
const char *fp_slot_event_name(fp_slot_event_t event);

#endif
