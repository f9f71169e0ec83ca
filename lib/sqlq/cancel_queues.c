/* cancel_queues.c: `forkpool cancel` and the status page's cancel on the
 * embedded queue: the queue file's cancel (cancel.c: a waiting job dead as
 * "cancelled" in one transaction, a running one marked for the daemon
 * holding it) over the queues a caller names, told in the shape of the
 * Redis script's reply (fp_cancel_reply_t), so both backends print, and
 * exit, with the same code. */
#include "sqlq/cancel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "base/text.h"

/* Takes s (owned, may be NULL) into f. */
static void take(fp_admin_field_t *f, char *s)
{
    f->s = s;
    f->len = s != NULL ? strlen(s) : 0;
}

static int to_reply(fp_sqlq_cancel_t *sc, fp_cancel_reply_t *c)
{
    c->result = sc->result;
    c->was = sc->was_delayed ? FP_JOB_DELAYED : FP_JOB_READY;
    bool ok = true;
    if (sc->result == FP_CANCEL_DONE || sc->result == FP_CANCEL_DEAD) {
        take(&c->dead_id, fp_text_i64_dup(sc->dead_id));
        ok = c->dead_id.s != NULL;
    }
    if (sc->result == FP_CANCEL_DONE || sc->result == FP_CANCEL_RUNNING) {
        take(&c->entry_id, fp_text_i64_dup(sc->id));
        ok = ok && c->entry_id.s != NULL;
    }
    if (sc->result == FP_CANCEL_RUNNING) {
        take(&c->consumer, sc->owner);
        sc->owner = NULL;
    }
    return ok ? 0 : -ENOMEM;
}

/* As cancel_run.c's only_queue: an id several queues hold is refused. */
static int only_queue(fp_sqlq_t *q, const char *const *names, size_t n, const char *id,
                      const char **only, fp_err_t *err)
{
    char list[512] = "";
    size_t found = 0, used = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool hit = false;
        rc = fp_sqlq_cancel_find(q, names[i], id, &hit, err);
        if (rc == 0 && hit) {
            *only = found++ == 0 ? names[i] : *only;
            int k = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", names[i]);
            used = k > 0 && (size_t)k < sizeof list - used ? used + (size_t)k : used;
        }
    }
    if (rc == 0 && found > 1)
        return fp_err_set(err, -EEXIST, "job %.200s is in %zu queues (%s); nothing cancelled: "
                          "name one with --queue", id, found, list);
    return rc;
}

int fp_sqlq_cancel_in_queues(fp_sqlq_t *q, const char *const *names, size_t n, const char *id,
                             const char **queue, fp_cancel_reply_t *c, fp_err_t *err)
{
    *queue = NULL;
    int rc = 0;
    const char *only = NULL;
    if (rc == 0 && n > 1 && (rc = only_queue(q, names, n, id, &only, err)) == 0) {
        names = only != NULL ? &only : names;
        n = only != NULL ? 1 : 0; /* none has it: nothing to try */
    }
    for (size_t i = 0; rc == 0 && *queue == NULL && i < n; i++) {
        fp_sqlq_cancel_t sc;
        rc = fp_sqlq_cancel(q, names[i], id, fp_os_unix_ms(), &sc, err);
        if (rc == 0 && sc.result != FP_CANCEL_NOT_FOUND) {
            *queue = names[i];
            if (to_reply(&sc, c) < 0)
                rc = fp_err_set(err, -ENOMEM, "out of memory");
        }
        fp_sqlq_cancel_clear(&sc);
    }
    return rc;
}
