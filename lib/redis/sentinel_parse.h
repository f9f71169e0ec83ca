/* sentinel_parse.h: the decisions of Sentinel discovery, free of I/O so they
 * are unit-tested: a sentinel's address as users write it, the answer to
 * SENTINEL get-master-addr-by-name, a +switch-master message, and the round
 * that asks the sentinels in turn (which one next, which one first next
 * time). sentinel.c (the daemon, async) and sentinel_sync.c (the command
 * line, blocking) both follow them. */
#ifndef FORKPOOL_SENTINEL_PARSE_H
#define FORKPOOL_SENTINEL_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#define FP_SENTINEL_DEFAULT_PORT 26379
/* More would only slow a round down; Sentinel deployments use 3 or 5. */
#define FP_SENTINELS_MAX 16

typedef struct fp_sentinel_addr_s {
    char host[256]; /* IPv6 without brackets */
    int port;
} fp_sentinel_addr_t;

/* "host:port", "host" (port 26379) or "[v6]:port". 0, or -1 with why. */
int fp_sentinel_addr_parse(const char *text, fp_sentinel_addr_t *out, char *why, size_t size);

/* "127.0.0.1:6379" or "[::1]:6379". */
void fp_sentinel_addr_format(const fp_sentinel_addr_t *a, char *buf, size_t size);

bool fp_sentinel_addr_equal(const fp_sentinel_addr_t *a, const fp_sentinel_addr_t *b);

/* The reply to SENTINEL get-master-addr-by-name: an array of the ip and the
 * port. 0 with *out; -1 with why for a nil reply (the sentinel does not
 * monitor that name), an error reply, or anything malformed. */
int fp_sentinel_master_reply(const redisReply *r, fp_sentinel_addr_t *out, char *why,
                             size_t size);

/* The text of a +switch-master message: "name old-ip old-port new-ip
 * new-port". True with *to when it is about master; false for another
 * master's switch or a malformed text. */
bool fp_sentinel_switch_parse(const char *text, size_t len, const char *master,
                              fp_sentinel_addr_t *to);

/* One round of asking: sentinels in order, starting with the one that
 * answered last (as Redis' client guidelines ask), each at most once. */
typedef struct fp_sentinel_round_s {
    size_t n;
    size_t order[FP_SENTINELS_MAX]; /* indexes into the configured list */
    size_t pos;                     /* order[pos] is being asked */
    bool active;
} fp_sentinel_round_t;

void fp_sentinel_round_init(fp_sentinel_round_t *r, size_t n);
/* Starts a round: the index of the sentinel to ask first. */
size_t fp_sentinel_round_begin(fp_sentinel_round_t *r);
/* The sentinel being asked answered: it goes first from now on, the round ends. */
void fp_sentinel_round_answered(fp_sentinel_round_t *r);
/* It did not: true with *next to ask, or false when every sentinel of the
 * round failed (the round ends; the next begins with the same first one). */
bool fp_sentinel_round_failed(fp_sentinel_round_t *r, size_t *next);

#endif
