/* cancel_embedded.h: `forkpool cancel ID` on the embedded queue
 * (cancel_embedded.c). */
#ifndef FORKPOOL_CLI_CANCEL_EMBEDDED_H
#define FORKPOOL_CLI_CANCEL_EMBEDDED_H

#include "config/config.h"
#include "base/err.h"
#include "queue/cancel.h"

/* fp_cancel_in_queues on the queue file, with the same answers: the job
 * called id in names[0..n) (with n > 1 the only queue that has it, else
 * -EEXIST naming them, nothing cancelled), *queue (one of names) NULL when
 * none has it, c what was done there (ids are the file's row ids, as
 * `forkpool job` shows them). The file is not created. */
int fp_cli_cancel_embedded(const fp_config_t *cfg, const char *const *names, size_t n,
                           const char *id, const char **queue, fp_cancel_reply_t *c,
                           fp_err_t *err);

#endif
