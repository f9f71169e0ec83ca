/* child.h: a native child's life: handler child_init, {"op":"ready"}, then a
 * blocking loop over job lines on fd 3 until "stop" or EOF, child_fini, _exit.
 * It never returns into the supervisor's code and never touches the
 * supervisor's loop, Redis or SQLite objects. */
#ifndef FORKPOOL_CHILD_H
#define FORKPOOL_CHILD_H

#include "pool/spawn.h"

#define FP_CHILD_FD 3
/* Longest channel line either side accepts: a maximal job plus the envelope. */
#define FP_CHILD_EXIT_INIT_FAILED 78

_Noreturn void fp_child_main(const fp_child_spec_t *spec);

/* This process's child id (its slot, FORKPOOL_CHILD_ID) once fp_child_main
 * runs; -1 in the supervisor. */
int fp_child_id(void);

#endif
