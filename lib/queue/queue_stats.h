/* queue_stats.h: one queue's depth as a single read-only script reads it —
 * ready, pending, delayed, dead, the oldest ready job's age and the group's
 * consumers — shared by `forkpool stats` (blocking, admin.c) and the daemon's
 * metrics sampler (async, sample.c). Pure: the script text and the
 * parser of its reply. */
#ifndef FORKPOOL_QUEUE_STATS_H
#define FORKPOOL_QUEUE_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

/* A consumer of the queue's group, as XINFO CONSUMERS reports it. */
typedef struct fp_admin_consumer_s {
    char *name;        /* owned */
    long long pending; /* entries delivered to it and not yet acknowledged */
    long long idle_ms; /* since its last read or claim */
} fp_admin_consumer_t;

/* Entries counted one by one after the group's last-delivered id before the
 * count gives up and estimates (see fp_admin_queue_stats). */
#define FP_ADMIN_READY_COUNT_MAX 10000

/* One queue's state, read in one atomic script call (its keys share a slot).
 *
 * ready: entries not yet delivered to the group, i.e. after its
 * last-delivered id. Redis 7's own count (XINFO GROUPS "lag") when it has
 * one; when it does not (it gives up after deletions near the group's
 * position, which forkpool's XDEL on success causes), the script counts the
 * entries after that id with XRANGE pages, up to FP_ADMIN_READY_COUNT_MAX;
 * past that it reports max(that bound, XLEN - pending) with ready_exact false.
 * XLEN - pending alone is not used when exact counting is affordable: pending
 * entries whose stream entry was deleted (a holder died after XDEL) would skew
 * it. Without a group yet (no daemon has started), every entry is ready: the
 * daemon creates the group at id 0.
 * The oldest ready entry's age is Redis' clock (TIME) minus the ms part of its
 * id, so client clock skew does not matter. A missing key reads as empty. */
typedef struct fp_admin_queue_stats_s {
    long long ready;
    bool ready_exact;
    long long pending;        /* the group's pending entries (XINFO GROUPS "pending") */
    long long delayed;        /* ZCARD P:{Q}:delayed */
    long long dead;           /* XLEN P:{Q}:dead */
    long long length;         /* XLEN P:{Q}:jobs */
    bool group_exists;
    char oldest_id[48];       /* first ready entry's id, "" when none is ready */
    long long oldest_age_ms;  /* its age, -1 when none is ready */
    long long now_ms;         /* Redis' clock when read */
    /* Entries ever added to the stream, and read by the group (Redis 7's
     * XINFO counters, -1 when unknown): the status page's in and out rates. */
    long long entries_added, entries_read;
    fp_admin_consumer_t *consumers; /* owned; in Redis' order */
    size_t nconsumers;
} fp_admin_queue_stats_t;

/* KEYS: jobs stream, delayed zset, dead stream. ARGV: group, count bound
 * (FP_ADMIN_READY_COUNT_MAX), page size (FP_QUEUE_STATS_PAGE). */
extern const char fp_queue_stats_script[];
#define FP_QUEUE_STATS_PAGE 100

/* The script's reply into s (cleared first): 0, -ENOMEM, or 1 for an
 * unexpected shape. */
int fp_queue_stats_parse(const redisReply *r, fp_admin_queue_stats_t *s);
void fp_admin_queue_stats_clear(fp_admin_queue_stats_t *s);

#endif
