/* ledger_query.c: `forkpool jobs`' read of the ledger. The file is opened
 * read-only and only if it exists (opening would otherwise create an empty
 * database where the daemon will later put its own). The SQL is assembled
 * from fixed fragments and every value is bound, and the ORDER BY matches
 * the writer's indexes (each ends in finished_at, and SQLite keys each index
 * entry by rowid too), so "newest N" reads N index entries even with a
 * million rows. */
#include "ledger/ledger_query.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#define QUERY_BUSY_TIMEOUT_MS 5000

static const char select_sql[] =
    "SELECT id, queue, entry_id, job_id, type, outcome, attempt, enqueued_at, started_at,"
    " finished_at, duration_us, pid, error FROM jobs";

static const char *column_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static void read_row(sqlite3_stmt *st, int64_t *id, fp_ledger_row_t *r)
{
    *id = sqlite3_column_int64(st, 0);
    r->queue = column_text(st, 1);
    r->entry_id = column_text(st, 2);
    r->job_id = column_text(st, 3);
    r->type = column_text(st, 4);
    r->outcome = column_text(st, 5);
    r->attempt = sqlite3_column_int64(st, 6);
    r->enqueued_at_ms = sqlite3_column_int64(st, 7);
    r->started_at_ms = sqlite3_column_int64(st, 8);
    r->finished_at_ms = sqlite3_column_int64(st, 9);
    r->duration_us = sqlite3_column_int64(st, 10);
    r->pid = sqlite3_column_int64(st, 11);
    r->error = column_text(st, 12);
}

/* The statement for filter f: fixed text, values bound by name. */
static int prepare(sqlite3 *db, const fp_ledger_filter_t *f, sqlite3_stmt **st)
{
    char sql[sizeof select_sql + 256];
    const char *glue = " WHERE ";
    strcpy(sql, select_sql);
    if (f->outcome != NULL) {
        strcat(sql, glue);
        strcat(sql, "outcome = :outcome");
        glue = " AND ";
    }
    if (f->type != NULL) {
        strcat(sql, glue);
        strcat(sql, "type = :type");
        glue = " AND ";
    }
    if (f->job != NULL) {
        strcat(sql, glue);
        strcat(sql, "(job_id = :job OR entry_id = :job)");
        glue = " AND ";
    }
    if (f->since_unix_ms != 0) {
        strcat(sql, glue);
        strcat(sql, "finished_at >= :since");
    }
    strcat(sql, " ORDER BY finished_at DESC, id DESC LIMIT :limit");
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    if (f->outcome != NULL)
        sqlite3_bind_text(*st, sqlite3_bind_parameter_index(*st, ":outcome"), f->outcome, -1,
                          SQLITE_STATIC);
    if (f->type != NULL)
        sqlite3_bind_text(*st, sqlite3_bind_parameter_index(*st, ":type"), f->type, -1,
                          SQLITE_STATIC);
    if (f->job != NULL)
        sqlite3_bind_text(*st, sqlite3_bind_parameter_index(*st, ":job"), f->job, -1,
                          SQLITE_STATIC);
    if (f->since_unix_ms != 0)
        sqlite3_bind_int64(*st, sqlite3_bind_parameter_index(*st, ":since"), f->since_unix_ms);
    sqlite3_bind_int64(*st, sqlite3_bind_parameter_index(*st, ":limit"), f->limit);
    return SQLITE_OK;
}

int fp_ledger_query(const char *path, const fp_ledger_filter_t *filter, fp_ledger_row_cb cb,
                    void *arg, fp_err_t *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int e = errno;
        if (e == ENOENT)
            return fp_err_set(err, -ENOENT, "no ledger at %s yet", path);
        return fp_err_set(err, -e, "cannot read the ledger %s: %s", path, fp_strerror(-e));
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, QUERY_BUSY_TIMEOUT_MS);
        rc = prepare(db, filter, &st);
    }
    if (rc != SQLITE_OK) {
        const char *why = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        if (strstr(why, "no such table") != NULL)
            why = "not a forkpool ledger (no table jobs)";
        rc = fp_err_set(err, -EIO, "cannot read the ledger %s: %s", path, why);
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id;
        fp_ledger_row_t row;
        read_row(st, &id, &row);
        int cb_rc = cb(arg, id, &row, err);
        if (cb_rc < 0) {
            rc = cb_rc;
            goto done;
        }
    }
    if (rc != SQLITE_DONE)
        rc = fp_err_set(err, -EIO, "reading the ledger %s failed: %s", path, sqlite3_errmsg(db));
    else
        rc = 0;
done:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}
