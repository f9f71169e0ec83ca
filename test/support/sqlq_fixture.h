/* sqlq_fixture.h: a cmocka fixture for tests of the embedded queue's store
 * (lib/sqlq/): a fresh queue file in a temp dir, opened with no flags. */
#ifndef FORKPOOL_TEST_SQLQ_FIXTURE_H
#define FORKPOOL_TEST_SQLQ_FIXTURE_H

#include <limits.h>

#include "sqlq/store.h"

typedef struct fp_sqlq_fx_s {
    char *dir;
    char path[PATH_MAX];
    fp_sqlq_t *q;
} fp_sqlq_fx_t;

/* *state becomes an fp_sqlq_fx_t; the teardown closes and removes it. */
int fp_sqlq_fx_setup(void **state);
int fp_sqlq_fx_teardown(void **state);

/* The first column of the one row sql answers on q's connection (a count,
 * a pragma); fails the test otherwise. */
long long fp_sqlq_fx_int(fp_sqlq_t *q, const char *sql);

#endif
