/* dead_entries.c: the queue file's dead rows as dead-stream entries
 * (dead_entries.h). A row becomes an entry with its fields as the outcome
 * script writes them on Redis: job, error, attempts and failed_at as
 * decimal text, consumer. */
#include "sqlq/dead_entries.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "sqlq/inspect.h"

/* A row id written as an entry id; false for text that is not one. */
static bool parse_id(const char *text, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0)
        return false;
    *out = v;
    return true;
}

static int own_text(fp_admin_field_t *f, char *text, size_t len)
{
    f->s = text; /* taken from the row */
    f->len = len;
    return text != NULL ? 0 : -ENOMEM;
}

static char *int_text(int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, v);
    return strdup(text);
}

static int own_number(fp_admin_field_t *f, int64_t v)
{
    char *text = int_text(v);
    return own_text(f, text, text != NULL ? strlen(text) : 0);
}

/* Row d as entry e; d's strings move into e. */
static int to_entry(fp_sqlq_dead_t *d, fp_dead_entry_t *e)
{
    int rc = (e->id = int_text(d->id)) != NULL ? 0 : -ENOMEM;
    rc = rc < 0 ? rc : own_text(&e->job, d->payload, d->len);
    rc = rc < 0 ? rc : own_text(&e->error, d->error, strlen(d->error));
    rc = rc < 0 ? rc : own_text(&e->consumer, d->consumer, strlen(d->consumer));
    d->payload = d->error = d->consumer = NULL;
    rc = rc < 0 ? rc : own_number(&e->attempts, d->attempts);
    return rc < 0 ? rc : own_number(&e->failed_at, d->failed_at);
}

int fp_sqlq_dead_e_count(fp_sqlq_t *q, const char *queue, long long *out, fp_err_t *err)
{
    fp_sqlq_counts_t c;
    int rc = fp_sqlq_counts(q, queue, fp_os_unix_ms(), &c, err);
    *out = rc == 0 ? c.dead : 0;
    return rc;
}

int fp_sqlq_dead_e_last_id(fp_sqlq_t *q, const char *queue, char *out, size_t cap,
                           fp_err_t *err)
{
    int64_t id = 0;
    int rc = fp_sqlq_dead_last_id(q, queue, &id, err);
    if (rc == 0 && id > 0)
        snprintf(out, cap, "%" PRId64, id);
    else
        out[0] = '\0';
    return rc;
}

/* The first keep rows of page as entries (*out, *n); the rows' strings move. */
static int to_entries(fp_sqlq_deads_t *page, size_t keep, fp_dead_entry_t **out, size_t *n,
                      fp_err_t *err)
{
    int rc = 0;
    if (keep > 0 && (*out = calloc(keep, sizeof **out)) == NULL)
        rc = fp_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < keep; i++, (*n)++)
        if (to_entry(&page->v[i], &(*out)[i]) < 0)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
    if (rc < 0) {
        fp_admin_dead_free(*out, *out != NULL ? keep : 0); /* calloc'd: unfilled ones are empty */
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int fp_sqlq_dead_e_read(fp_sqlq_t *q, const char *queue, const char *after, const char *until,
                        size_t count, fp_dead_entry_t **out, size_t *n, fp_err_t *err)
{
    *out = NULL;
    *n = 0;
    int64_t from = 0, to = INT64_MAX;
    if (after != NULL && !parse_id(after, &from))
        return fp_err_set(err, -EINVAL, "not a dead row id: %.64s", after);
    if (until != NULL && !parse_id(until, &to))
        return fp_err_set(err, -EINVAL, "not a dead row id: %.64s", until);
    fp_sqlq_deads_t page = {0};
    int rc = fp_sqlq_dead_list(q, queue, from, count, &page, err);
    size_t keep = 0;
    while (rc == 0 && keep < page.n && page.v[keep].id <= to)
        keep++;
    if (rc == 0)
        rc = to_entries(&page, keep, out, n, err);
    fp_sqlq_deads_free(&page);
    return rc;
}

int fp_sqlq_dead_e_newest(fp_sqlq_t *q, const char *queue, size_t count, fp_dead_entry_t **out,
                          size_t *n, fp_err_t *err)
{
    *out = NULL;
    *n = 0;
    fp_sqlq_deads_t page = {0};
    int rc = fp_sqlq_dead_newest(q, queue, count, &page, err);
    if (rc == 0)
        rc = to_entries(&page, page.n, out, n, err);
    fp_sqlq_deads_free(&page);
    return rc;
}

/* An id that is no row id finds nothing, as Redis finds no entry under an id
 * it cannot hold (the page says "not found"). */
int fp_sqlq_dead_e_get(fp_sqlq_t *q, const char *queue, const char *id, fp_dead_entry_t **out,
                       size_t *n, fp_err_t *err)
{
    *out = NULL;
    *n = 0;
    int64_t want = 0;
    if (!parse_id(id, &want) || want == 0)
        return 0;
    fp_sqlq_deads_t page = {0};
    int rc = fp_sqlq_dead_list(q, queue, want - 1, 1, &page, err);
    if (rc == 0)
        rc = to_entries(&page, page.n == 1 && page.v[0].id == want ? 1 : 0, out, n, err);
    fp_sqlq_deads_free(&page);
    return rc;
}

/* ids as row ids (free()); NULL (and err) when one is not, or out of memory. */
static int64_t *row_ids(const char *const *ids, size_t n, fp_err_t *err)
{
    int64_t *v = calloc(n + 1, sizeof *v);
    if (v == NULL) {
        fp_err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!parse_id(ids[i], &v[i])) {
            fp_err_set(err, -EINVAL, "not a dead row id: %.64s", ids[i]);
            free(v);
            return NULL;
        }
    }
    return v;
}

int fp_sqlq_dead_e_delete(fp_sqlq_t *q, const char *queue, const char *const *ids, size_t n,
                          size_t *deleted, fp_err_t *err)
{
    *deleted = 0;
    if (n == 0)
        return 0;
    int64_t *v = row_ids(ids, n, err);
    if (v == NULL)
        return err != NULL ? err->code : -ENOMEM;
    int rc = fp_sqlq_dead_purge(q, queue, v, n, deleted, err);
    free(v);
    return rc;
}

int fp_sqlq_dead_e_retry(fp_sqlq_t *q, size_t max_job_bytes, const char *queue,
                         const fp_dead_entry_t *e, size_t n, bool force, fp_dead_skip_fn skip,
                         size_t *moved, size_t *skipped, fp_err_t *err)
{
    fp_dead_batch_t b;
    int rc = fp_dead_fresh_batch(max_job_bytes, e, n, force, skip, NULL, &b, skipped, err);
    int64_t *v = rc == 0 && b.n > 0 ? row_ids(b.ids, b.n, err) : NULL;
    if (rc == 0 && b.n > 0 && v == NULL)
        rc = err != NULL ? err->code : -ENOMEM;
    size_t done = 0;
    if (rc == 0 && b.n > 0)
        rc = fp_sqlq_dead_requeue(q, queue, v, (const char *const *)b.jobs, b.lens, b.n,
                                  fp_os_unix_ms(), &done, err);
    *moved += done;
    free(v);
    fp_dead_batch_free(&b);
    return rc;
}
