/* heartbeat.h: the fleet heartbeat. Every daemon keeps a small status
 * record of itself in Redis (who it is, what it runs), renewed every
 * daemon.heartbeat_interval with a TTL of FP_FLEET_TTL_FACTOR intervals, and
 * lists itself in a sorted set by last-seen time, so `forkpool stats` finds
 * every daemon on that Redis without SCAN:
 *
 *   P:{fleet}:daemons        sorted set: member = the daemon's fleet id
 *                            (NAME@HOST:PID), score = last seen, Unix ms
 *                            by Redis' clock (TIME)
 *   P:{fleet}:daemon:ID      string with a TTL: the record, JSON
 *
 * Both carry the hash tag {fleet}: one Redis Cluster slot, so the one script
 * that writes both (and the one that deletes both) needs no cross-slot call.
 * The id holds the host and pid besides daemon.name because one name may
 * serve different queues from different daemons (a lease is per queue).
 *
 * A daemon that stops deletes its record and its member; one that dies
 * leaves its member behind and its record expires: readers show it as gone
 * (with its last-seen time) for FP_FLEET_GONE_KEEP_MS, after which the next
 * beat of any daemon prunes it.
 *
 * Pure parts: keys, the record's encoding and decoding (bounded: at most
 * FP_FLEET_JOBS_MAX current jobs listed, a count of the rest), and the
 * live / gone / expired classification. I/O: the daemon's beat and clear on
 * the queue's writer connection (heartbeat.c, never blocking), and the
 * command line's blocking read (heartbeat_read.c). */
#ifndef FORKPOOL_HEARTBEAT_H
#define FORKPOOL_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "base/err.h"
#include "queue/admin.h"
#include "queue/queue.h"

#define FP_FLEET_JOBS_MAX 100             /* current jobs listed in one record */
#define FP_FLEET_TTL_FACTOR 3             /* a record outlives two missed beats */
#define FP_FLEET_GONE_KEEP_MS 3600000     /* a gone daemon is shown for an hour */
#define FP_FLEET_READ_MAX 1000            /* members a reader looks at */

/* One job a daemon runs now. Text fields are cut to fit (NUL-terminated). */
typedef struct fp_fleet_job_s {
    char queue[128];
    char entry_id[48];
    char id[128];   /* the producer's id; "" when it gave none */
    char type[129];
    int child;      /* the child's slot id (FORKPOOL_CHILD_ID) */
    int64_t started_ms; /* Unix ms */
} fp_fleet_job_t;

typedef struct fp_fleet_record_s {
    char name[256];    /* daemon.name: its consumer name */
    char host[256];
    char version[32];
    char token[40];    /* random per run: a clear deletes only its own record */
    char state[16];    /* "running", "quiet" or "draining" */
    long long pid;
    int64_t started_ms;  /* Unix ms */
    int64_t interval_ms; /* its heartbeat interval */
    uint32_t generation; /* the configuration its children run (HUP bumps it) */
    long long children_busy, children_total;
    long long jobs_done, jobs_failed;
    fp_fleet_job_t jobs[FP_FLEET_JOBS_MAX];
    size_t njobs;
    long long jobs_more; /* running, beyond those listed */
} fp_fleet_record_t;

/* "P:{fleet}:daemons", owned; NULL on ENOMEM. */
char *fp_fleet_set_key(const char *prefix);

/* "P:{fleet}:daemon:ID", owned; NULL on ENOMEM. */
char *fp_fleet_record_key(const char *prefix, const char *id);

/* "NAME@HOST:PID" into buf; false when it does not fit. */
bool fp_fleet_id(const char *name, const char *host, long long pid, char *buf, size_t size);

/* The record as one line of JSON (owned: free()); NULL on ENOMEM. */
char *fp_fleet_encode(const fp_fleet_record_t *r);

/* The reverse, into *out (cleared first). Jobs beyond FP_FLEET_JOBS_MAX are
 * counted in jobs_more; text is cut to its field; missing members read as
 * zero or "". -EINVAL when s[0..n) is not a JSON object with a string
 * "name". */
int fp_fleet_decode(const char *s, size_t n, fp_fleet_record_t *out);

typedef enum fp_fleet_status_e {
    FP_FLEET_LIVE,    /* its record is there */
    FP_FLEET_GONE,    /* listed, record expired: it died (shown as gone) */
    FP_FLEET_EXPIRED, /* gone longer than FP_FLEET_GONE_KEEP_MS: not shown, pruned */
} fp_fleet_status_t;

/* has_record: its record key exists; last_seen_ms, now_ms: by Redis' clock. */
fp_fleet_status_t fp_fleet_classify(bool has_record, int64_t last_seen_ms, int64_t now_ms);

const char *fp_fleet_status_name(fp_fleet_status_t s);

/* ---- the daemon's side (heartbeat.c, on the queue's writer connection) ---- */

/* Writes the record (TTL ttl_ms) and the set member (score: Redis' TIME) and
 * prunes members last seen more than FP_FLEET_GONE_KEEP_MS ago, in one
 * script call. cb(ctx, ok) runs once, ok false when Redis failed or the
 * connection went. Returns a negative errno, and cb never runs, when nothing
 * could be sent (the writer is down, the queue closing). */
int fp_queue_heartbeat(fp_queue_t *q, const char *id, const char *record, int64_t ttl_ms,
                       void (*cb)(void *ctx, bool ok), void *ctx);

/* Deletes the record and the member, only while the record still carries
 * token (never another daemon's). Same cb and return as fp_queue_heartbeat. */
int fp_queue_heartbeat_clear(fp_queue_t *q, const char *id, const char *token,
                             void (*cb)(void *ctx, bool ok), void *ctx);

/* ---- the reader's side (heartbeat_read.c, blocking, for the command line) -- */

typedef struct fp_fleet_member_s {
    char *id;                  /* owned */
    int64_t last_seen_ms;      /* Unix ms, Redis' clock */
    fp_fleet_status_t status;  /* FP_FLEET_LIVE or FP_FLEET_GONE (expired ones are left out) */
    fp_fleet_record_t *record; /* owned; NULL unless live (or when it did not decode) */
} fp_fleet_member_t;

typedef struct fp_fleet_s {
    int64_t now_ms; /* Redis' TIME when read */
    fp_fleet_member_t *members; /* live ones first, each group by id */
    size_t n;
} fp_fleet_t;

/* Taking the replies of a read (heartbeat_read.c), for both readers below:
 * TIME's into now_ms (false when it is not one); ZREVRANGE ... WITHSCORES'
 * into members (-EPROTO, -ENOMEM); MGET's, in member order, into records,
 * statuses and the order shown, leaving out expired members (-EPROTO).
 * fp_fleet_mget builds that MGET (argv[0] "MGET", one key per member; free
 * with fp_fleet_mget_free, also after an error); only sent when n > 0. */
bool fp_fleet_take_time(fp_fleet_t *out, const redisReply *r);
int fp_fleet_take_members(fp_fleet_t *out, const redisReply *r);
int fp_fleet_take_records(fp_fleet_t *out, const redisReply *r);
int fp_fleet_mget(const fp_fleet_t *f, const char *prefix, char ***argv, size_t **lens);
void fp_fleet_mget_free(const fp_fleet_t *f, char **argv, size_t *lens);
/* The backend-neutral halves of fp_fleet_take_records, which the embedded
 * queue's read (sqlq/fleet.h) shares: one member's record text (NULL: none,
 * the record expired) into its status and decoded record, as of now_ms;
 * then the members expired left out and the rest put in the order shown. */
void fp_fleet_take_text(fp_fleet_member_t *m, const char *record, size_t len, int64_t now_ms);
void fp_fleet_settle(fp_fleet_t *out);

/* The daemon's read, on the queue's writer connection (heartbeat.c): cb
 * gets the fleet (owned by cb: fp_fleet_clear and free()), or NULL when
 * Redis failed or the connection went. Returns a negative errno, and cb
 * never runs, when nothing could be sent. */
int fp_queue_fleet_read(fp_queue_t *q, void (*cb)(void *ctx, fp_fleet_t *fleet), void *ctx);

/* Reads the set under redis.prefix `prefix` (the FP_FLEET_READ_MAX most
 * recently seen) and the records. Changes nothing. *out is cleared first;
 * fp_fleet_clear frees it, also after an error. */
int fp_admin_fleet(fp_admin_t *a, const char *prefix, fp_fleet_t *out, fp_err_t *err);

void fp_fleet_clear(fp_fleet_t *f);

/* The job that a live member's record lists as entry entry_id of queue,
 * where the record's name is consumer (consumer_len bytes: the pending
 * entry's consumer, binary-safe); *member is set to that member. NULL (and
 * *member NULL) when no live record lists it: not written yet, expired, or
 * beyond the FP_FLEET_JOBS_MAX jobs a record lists (heartbeat_find.c). */
const fp_fleet_job_t *fp_fleet_find_job(const fp_fleet_t *f, const char *consumer,
                                        size_t consumer_len, const char *queue,
                                        const char *entry_id, const fp_fleet_member_t **member);

/* The fleet as a JSON array (heartbeat_json.c), uptime and running times
 * as of f->now_ms; owned (cJSON_Delete); NULL on ENOMEM. */
struct cJSON;
struct cJSON *fp_fleet_json(const fp_fleet_t *f);

#endif
