/* held_set.h: the stream entries a queue holds (handed over, stashed, or
 * with an outcome not yet confirmed), keyed by (queue, id), each with a few
 * flags recovery sets on it. It is the Redis side of holding: an entry stays
 * here until Redis confirmed its outcome, after the job itself (the
 * supervisor's held-job table, dispatch/held.h) has gone. Open addressing with linear probing and
 * backward-shift deletion: no allocation per job, no tombstones, and a
 * lookup never stops early after a removal. Pure: no I/O, no logging. */
#ifndef FORKPOOL_HELD_SET_H
#define FORKPOOL_HELD_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_ENTRY_USED 1u
#define FP_ENTRY_VANISHED 2u /* its stream entry was deleted while held: the outcome must land */
#define FP_ENTRY_LOST 4u /* renewal found it pending to another consumer, or to none */
#define FP_ENTRY_SETTLING 8u /* its outcome is recorded, not yet confirmed */
#define FP_ENTRY_UNIQUE 16u /* its job holds a unique key: success and dead release it */

typedef struct fp_held_entry_s {
    uint64_t ms, seq;
    uint32_t queue;
    uint32_t used;  /* FP_ENTRY_* bits; 0: free slot */
    uint32_t epoch; /* take-over epoch it was read at (takeover_token.h); 0: not a fresh read */
} fp_held_entry_t;

/* Zero-initialised is an empty set. */
typedef struct fp_held_set_s {
    fp_held_entry_t *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t count;
} fp_held_set_t;

bool fp_held_set_has(const fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq);

/* The slot of a held entry (its flags may be changed), NULL when not held.
 * Valid until the next fp_held_set_add or fp_held_set_remove. */
fp_held_entry_t *fp_held_set_get(fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq);

/* Adds the entry with FP_ENTRY_USED and epoch 0 (an entry already held keeps
 * its flags and epoch).
 * 0 or -ENOMEM (the set is then unchanged). */
int fp_held_set_add(fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq);

/* fp_held_set_add that returns the entry's slot (valid as for
 * fp_held_set_get), for a caller that sets its flags or epoch next; NULL
 * when out of memory (the set is then unchanged). */
fp_held_entry_t *fp_held_set_put(fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq);

/* Removes the entry if held. */
void fp_held_set_remove(fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq);

/* Frees the slots; the set is empty (and usable) again. */
void fp_held_set_clear(fp_held_set_t *s);

#endif
