/* tx.c: the helpers every lib/sqlq/ file uses: SQLite result codes turned
 * into forkpool's return codes and messages, kept statements handed out
 * reset, and the transaction verbs. */
#include "sqlq/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fp_sqlq_code(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_FULL: return -ENOSPC;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_READONLY: return -EROFS;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return FP_EBADSTORE;
    case SQLITE_TOOBIG: return FP_ELIMIT;
    default: return -EIO;
    }
}

int fp_sqlq_fail(fp_sqlq_t *q, int sqlite_rc, const char *doing, fp_err_t *err)
{
    const char *why = q->db != NULL ? sqlite3_errmsg(q->db) : sqlite3_errstr(sqlite_rc);
    return fp_err_set(err, fp_sqlq_code(sqlite_rc), "queue file %s: %s: %s", q->path, doing, why);
}

static sqlite3_stmt *stmt_reset(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

sqlite3_stmt *fp_sqlq_stmt(fp_sqlq_t *q, fp_sqlq_stmt_t which)
{
    return stmt_reset(q->st[which]);
}

int fp_sqlq_prep(fp_sqlq_t *q, const char *sql, sqlite3_stmt **out, fp_err_t *err)
{
    *out = NULL;
    for (size_t i = 0; i < q->nextra; i++)
        if (q->extra[i].sql == sql) {
            *out = stmt_reset(q->extra[i].st);
            return 0;
        }
    if (q->nextra == FP_SQLQ_EXTRA_MAX)
        return fp_err_set(err, -ENOMEM, "queue file %s: more than %d kept statements", q->path,
                          FP_SQLQ_EXTRA_MAX);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK)
        return fp_sqlq_fail(q, rc, "preparing a statement", err);
    q->extra[q->nextra].sql = sql;
    q->extra[q->nextra++].st = st;
    *out = st;
    return 0;
}

int fp_sqlq_run(fp_sqlq_t *q, sqlite3_stmt *st, const char *doing, fp_err_t *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : fp_sqlq_fail(q, rc, doing, err);
}

int fp_sqlq_begin(fp_sqlq_t *q, fp_err_t *err)
{
    return fp_sqlq_run(q, fp_sqlq_stmt(q, SQ_BEGIN), "taking the write lock", err);
}

int fp_sqlq_end(fp_sqlq_t *q, int rc, fp_err_t *err)
{
    if (rc == 0)
        rc = fp_sqlq_run(q, fp_sqlq_stmt(q, SQ_COMMIT), "committing", err);
    if (rc < 0)
        fp_sqlq_rollback(q); /* a failed COMMIT may leave the transaction open too */
    return rc;
}

void fp_sqlq_rollback(fp_sqlq_t *q)
{
    /* Outside a transaction ROLLBACK fails harmlessly; that is all it can do
     * wrong here, and the caller already has the first failure's message. */
    if (!sqlite3_get_autocommit(q->db))
        (void)fp_sqlq_run(q, fp_sqlq_stmt(q, SQ_ROLLBACK), "rolling back", NULL);
}

char *fp_sqlq_col_dup(sqlite3_stmt *st, int col, size_t *len)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    size_t n = text != NULL ? (size_t)sqlite3_column_bytes(st, col) : 0;
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    if (n > 0)
        memcpy(out, text, n);
    out[n] = '\0';
    if (len != NULL)
        *len = n;
    return out;
}
