/* dead_src.c: each dead-letter call sent to the source that is open
 * (dead_src.h). */
#include "queue/dead_src.h"

#include "sqlq/dead_entries.h"
#include "sqlq/open_flags.h"

int fp_dead_src_open(const fp_config_t *cfg, fp_dead_src_t *out, fp_err_t *err)
{
    *out = (fp_dead_src_t){0};
    if (cfg->queue.backend != FP_BACKEND_SQLITE)
        return fp_admin_connect(cfg, &out->admin, err);
    return fp_sqlq_open_cfg(cfg, false, &out->store, err);
}

void fp_dead_src_close(fp_dead_src_t *s)
{
    fp_admin_free(s->admin);
    fp_sqlq_close(s->store);
    *s = (fp_dead_src_t){0};
}

int fp_dead_src_count(const fp_dead_src_t *s, const char *queue, long long *out, fp_err_t *err)
{
    return s->store != NULL ? fp_sqlq_dead_e_count(s->store, queue, out, err)
                            : fp_admin_dead_count(s->admin, queue, out, err);
}

int fp_dead_src_last_id(const fp_dead_src_t *s, const char *queue, char *out, size_t cap,
                        fp_err_t *err)
{
    return s->store != NULL ? fp_sqlq_dead_e_last_id(s->store, queue, out, cap, err)
                            : fp_admin_dead_last_id(s->admin, queue, out, cap, err);
}

int fp_dead_src_read(const fp_dead_src_t *s, const char *queue, const char *after,
                     const char *until, size_t count, fp_dead_entry_t **out, size_t *n,
                     fp_err_t *err)
{
    return s->store != NULL
               ? fp_sqlq_dead_e_read(s->store, queue, after, until, count, out, n, err)
               : fp_admin_dead_read(s->admin, queue, after, until, count, out, n, err);
}

int fp_dead_src_delete(const fp_dead_src_t *s, const char *queue, const char *const *ids,
                       size_t n, size_t *deleted, fp_err_t *err)
{
    return s->store != NULL ? fp_sqlq_dead_e_delete(s->store, queue, ids, n, deleted, err)
                            : fp_admin_dead_delete(s->admin, queue, ids, n, deleted, err);
}

int fp_dead_src_newest(const fp_dead_src_t *s, const char *queue, size_t count,
                       fp_dead_entry_t **out, size_t *n, fp_err_t *err)
{
    return s->store != NULL ? fp_sqlq_dead_e_newest(s->store, queue, count, out, n, err)
                            : fp_admin_dead_newest(s->admin, queue, count, out, n, err);
}

int fp_dead_src_get(const fp_dead_src_t *s, const char *queue, const char *id,
                    fp_dead_entry_t **out, size_t *n, fp_err_t *err)
{
    return s->store != NULL ? fp_sqlq_dead_e_get(s->store, queue, id, out, n, err)
                            : fp_admin_dead_get(s->admin, queue, id, out, n, err);
}

int fp_dead_src_retry(const fp_dead_src_t *s, size_t max_job_bytes, const char *queue,
                      const fp_dead_entry_t *e, size_t n, bool force, fp_dead_skip_fn skip,
                      size_t *moved, size_t *skipped, fp_err_t *err)
{
    if (s->store != NULL)
        return fp_sqlq_dead_e_retry(s->store, max_job_bytes, queue, e, n, force, skip, moved,
                                    skipped, err);
    return fp_dead_retry_entries(s->admin, max_job_bytes, queue, e, n, force, skip, NULL, moved,
                                 skipped, err);
}
