/* sentinel_set.h: a Redis Sentinel deployment for tests (fp_th_sset_*): one
 * master, one replica and three sentinels, every one a real redis-server on
 * 127.0.0.1 on a free port in a temp dir, with short
 * down-after-milliseconds and failover-timeout so a failover takes a few
 * seconds. Which server is the master changes with a failover: ask
 * fp_th_sset_master. */
#ifndef FP_TEST_SENTINEL_SET_H
#define FP_TEST_SENTINEL_SET_H

#include <stddef.h>

#include "redis_server.h"

#define FP_TH_SSET_MASTER_NAME "fpmaster"
#define FP_TH_SSET_SENTINELS 3

typedef struct fp_th_sset_s {
    fp_th_redis_t servers[2]; /* [0] started as the master, [1] as its replica */
    fp_th_redis_t sentinels[FP_TH_SSET_SENTINELS];
    char password[64];        /* the sentinels' requirepass; "" for none */
} fp_th_sset_t;

/* Starts everything and waits (with a deadline) until the replica is in
 * sync and every sentinel knows the replica and the two other sentinels,
 * so a SIGKILL of the master reaches the quorum. 0 or -errno; on failure
 * nothing is left running. */
int fp_th_sset_start(fp_th_sset_t *s);
/* The same with sentinels that require password (requirepass, and
 * sentinel-pass between them); the fixture's own questions AUTH first. */
int fp_th_sset_start_auth(fp_th_sset_t *s, const char *password);
void fp_th_sset_stop(fp_th_sset_t *s);

/* "sentinels = [...]\nmaster_name = \"...\"\n": lines for a [redis] table. */
void fp_th_sset_config_lines(const fp_th_sset_t *s, char *buf, size_t size);

/* The server sentinel 0 names as master now, or NULL. */
fp_th_redis_t *fp_th_sset_master(fp_th_sset_t *s);
/* The other one. */
fp_th_redis_t *fp_th_sset_other(fp_th_sset_t *s, const fp_th_redis_t *master);

/* SENTINEL FAILOVER on sentinel 0: 0 when it was accepted. */
int fp_th_sset_failover(fp_th_sset_t *s);

/* Waits up to timeout_ms until every sentinel names a master other than
 * old_port and that server answers ROLE master. Its port, or -1. */
int fp_th_sset_wait_switched(fp_th_sset_t *s, int old_port, int timeout_ms);

#endif
