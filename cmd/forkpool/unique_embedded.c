/* unique_embedded.c: a unique job added to the queue file
 * (unique_embedded.h). */
#include "unique_embedded.h"

#include <string.h>

#include "base/os.h"
#include "sqlq/unique.h"

int fp_cli_enqueue_unique_embedded(fp_sqlq_t *store, const char *queue, const char *key,
                                   const char *id, int64_t ttl_ms, int64_t delay_ms,
                                   const char *job, size_t len, fp_unique_result_t *out,
                                   fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    fp_sqlq_unique_new_t add = {queue, key, id, ttl_ms, delay_ms > 0 ? delay_ms : 0, job, len};
    return fp_sqlq_unique_enqueue(store, &add, fp_os_unix_ms(), &out->duplicate, &out->id, NULL,
                                  err);
}
