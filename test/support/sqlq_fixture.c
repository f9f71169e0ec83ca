/* sqlq_fixture.c: the store tests' fixture (sqlq_fixture.h). */
#include "sqlq_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "harness.h"
#include "sqlq/store_internal.h"

int fp_sqlq_fx_setup(void **state)
{
    fp_sqlq_fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = fp_th_tmpdir();
    assert_non_null(f->dir);
    snprintf(f->path, sizeof f->path, "%s/queue.db", f->dir);
    fp_err_t err = {0};
    assert_int_equal(fp_sqlq_open(f->path, 0, &f->q, &err), 0);
    *state = f;
    return 0;
}

int fp_sqlq_fx_teardown(void **state)
{
    fp_sqlq_fx_t *f = *state;
    fp_sqlq_close(f->q);
    fp_th_tmpdir_free(f->dir);
    free(f);
    return 0;
}

long long fp_sqlq_fx_int(fp_sqlq_t *q, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(q->db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}
