/* aq_busy.c: the embedded queue thread's wait for another connection's
 * lock. The thread holds the fork lock's read side around its store calls
 * (lib/pool/spawn.h) so that no child is forked while SQLite holds one of
 * its own mutexes; but a call waiting for another process's write lock
 * (up to FP_SQLQ_BUSY_TIMEOUT_MS) holds no SQLite mutex while it sleeps in
 * the busy handler, and would otherwise make the loop's next fork wait that
 * long. So the handler lets go of the fork lock while it sleeps: the busy
 * timeout stays the store's, the loop's forks wait at most one step
 * (100 ms at most). */
#include "sqlq/aq_internal.h"
#include "sqlq/store_internal.h"

#include <time.h>

#include "pool/spawn.h"

/* SQLite's own busy timeout's steps (short first: most locks are held for
 * a short transaction), then 100 ms each. */
static const int steps_ms[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
#define NSTEPS (int)(sizeof steps_ms / sizeof steps_ms[0])

static int on_busy(void *arg, int count)
{
    (void)arg;
    int64_t waited = 0;
    for (int i = 0; i < count; i++)
        waited += steps_ms[i < NSTEPS ? i : NSTEPS - 1];
    if (waited >= FP_SQLQ_BUSY_TIMEOUT_MS)
        return 0; /* SQLITE_BUSY: the caller reports -EBUSY and backs off */
    int ms = steps_ms[count < NSTEPS ? count : NSTEPS - 1];
    struct timespec ts = {0, ms * 1000000L};
    fp_spawn_fork_unlock_read();
    nanosleep(&ts, NULL);
    fp_spawn_fork_lock_read();
    return 1;
}

void fp_aq_busy_install(fp_aq_t *q)
{
    sqlite3_busy_handler(q->store->db, on_busy, NULL);
}

void fp_aq_busy_remove(fp_aq_t *q)
{
    /* The store's plain timeout again, for calls outside the fork lock. */
    sqlite3_busy_timeout(q->store->db, FP_SQLQ_BUSY_TIMEOUT_MS);
}
