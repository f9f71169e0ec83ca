/* embedded.c: the commands' shared steps on the embedded queue (embedded.h).
 * A read-only command must never leave a new file behind: SQLite creates a
 * missing path on open, so the path is looked at first. */
#include "embedded.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sqlq/open_flags.h"

bool fp_cli_embedded(const fp_config_t *cfg)
{
    return cfg->queue.backend == FP_BACKEND_SQLITE;
}

int fp_cli_needs_redis(const fp_config_t *cfg, const char *what, const char *lacks,
                       fp_err_t *err)
{
    if (!fp_cli_embedded(cfg))
        return 0;
    return fp_err_set(err, FP_ECONFIG,
                      "forkpool %s needs Redis (the embedded queue has no %s); the queue here is "
                      "the file %s (%s): set redis.url (or FORKPOOL_REDIS_URL) to use Redis",
                      what, lacks, cfg->sqlite.path, cfg->queue.backend_why);
}

int64_t fp_cli_lease_idle_ms(const fp_config_t *cfg, int64_t lease_end_ms, int64_t now_ms)
{
    int64_t since = lease_end_ms - cfg->recovery.visibility_timeout_ms;
    return now_ms > since ? now_ms - since : 0;
}

char *fp_cli_int_text(int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, v);
    return strdup(text);
}
