/* unique_cli.h: what the tests of unique jobs with the real binary share
 * (test_it_unique.c on Redis, test_it_sqlite_sched.c on the queue file):
 * reading `forkpool enqueue --json --unique` lines, and the exec worker's
 * gate job (test/data/exec_worker.py, "gate"), which runs until a file
 * named by its args exists. */
#ifndef FP_TEST_UNIQUE_CLI_H
#define FP_TEST_UNIQUE_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon.h"

/* The id in {"duplicate":D,"id":"ID"} into id, and whether D is true. */
bool fp_td_unique_line(const char *line, char *id, size_t cap);

/* Creates DIR/gate: every gate job of the exec worker with args
 * {"path": "DIR/gate"} returns. */
void fp_td_open_gate(const fp_td_t *td);

#endif
