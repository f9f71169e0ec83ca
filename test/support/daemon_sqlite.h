/* daemon_sqlite.h: the daemon fixture (daemon.h) on the embedded queue: a
 * temp dir and a config with no Redis at all (no [redis] section, no
 * redis-server started), the queue file in the temp dir, jobs added with
 * the store's own API (lib/sqlq/store.h, as a producer on the host would),
 * and reads of the file. Everything else (start, wait, signal, the log,
 * /metrics, twins) is daemon.h's. */
#ifndef FP_TEST_DAEMON_SQLITE_H
#define FP_TEST_DAEMON_SQLITE_H

#include <stdint.h>

#include "daemon.h"

/* As fp_td_new without Redis; fp_td_free frees it. */
fp_td_t *fp_td_new_sqlite(void);
int fp_td_setup_sqlite(void **state);

/* The queue file: DIR/queue.db. */
void fp_td_queue_path(const fp_td_t *td, char *buf, size_t size);

/* As fp_td_config, without [redis] and with [sqlite] path = the queue file. */
void fp_td_config_sqlite(fp_td_t *td, const char *daemon_lines, const char *extra);

/* Adds count jobs to queue (printf's fmt with the job's number twice), due
 * delay_ms from now, in one transaction. */
void fp_td_sqlite_enqueue(fp_td_t *td, const char *queue, int count, const char *fmt,
                          int64_t delay_ms) __attribute__((format(printf, 4, 0)));

/* A count(*)-style query on the queue file (printf's fmt). */
long long fp_td_qsql(const fp_td_t *td, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Conditions: the jobs table has exactly *arg rows (a long long); the dead
 * table has exactly *arg rows. */
bool fp_td_qjobs_are(fp_td_t *td, void *arg);
bool fp_td_qdead_are(fp_td_t *td, void *arg);

#endif
