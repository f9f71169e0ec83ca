/* migrate_plan.c: `forkpool migrate`'s decisions (migrate_plan.h), apart
 * from its I/O so that they are tested alone. */
#include "queue/migrate_plan.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

int fp_migrate_target_parse(const char *text, fp_migrate_target_t *out, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (strncasecmp(text, "redis://", 8) == 0 || strncasecmp(text, "rediss://", 9) == 0 ||
        strncasecmp(text, "unix://", 7) == 0) {
        out->way = FP_MIGRATE_TO_REDIS;
        out->url = text;
        return 0;
    }
    if (strncmp(text, "sqlite:", 7) == 0 && text[7] != '\0') {
        out->way = FP_MIGRATE_TO_SQLITE;
        out->path = text + 7;
        return 0;
    }
    return fp_err_set(err, FP_EUSAGE,
                      "--to takes redis://HOST[:PORT][/DB], rediss://... or unix://PATH (one "
                      "Redis, from the embedded queue) or sqlite:PATH (from the configured Redis), "
                      "not \"%.64s\"",
                      text);
}

int fp_migrate_check(const fp_migrate_busy_t *busy, bool force, fp_err_t *err)
{
    if (force || (busy->leased == 0 && busy->pending == 0 && busy->live_daemons == 0))
        return 0;
    if (busy->leased > 0)
        return fp_err_set(err, -EBUSY,
                          "queue %s: %" PRId64 " jobs are leased to a daemon that runs on the "
                          "queue file: stop it first (--force moves the rest and leaves those)",
                          busy->queue, busy->leased);
    if (busy->pending > 0)
        return fp_err_set(err, -EBUSY,
                          "queue %s: %" PRId64 " jobs are pending (delivered to a daemon, not "
                          "done): stop the daemons first (--force moves the rest and leaves "
                          "those)",
                          busy->queue, busy->pending);
    return fp_err_set(err, -EBUSY,
                      "%" PRId64 " daemons keep a live heartbeat on this Redis: stop them first "
                      "(--force moves the jobs anyway)",
                      busy->live_daemons);
}
