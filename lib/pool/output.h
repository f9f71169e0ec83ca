/* output.h: the readers of exec children's stdout and stderr, which log
 * each line as "child N: ...". */
#ifndef FORKPOOL_OUTPUT_H
#define FORKPOOL_OUTPUT_H

#include <uv.h>

#include "dispatch/proto.h"

typedef struct fp_output_s fp_output_t;

/* The open readers; zeroed is empty. */
typedef struct fp_outputs_s {
    fp_output_t *head;
} fp_outputs_t;

/* Reads fd (the read end of a child's output pipe) until EOF; takes fd in
 * every case. A reader that cannot start is logged and the output dropped. */
void fp_output_open(fp_outputs_t *list, uv_loop_t *loop, int child_id, int fd);

/* Shutdown: every child is reaped, so what they wrote is in the pipes; reads
 * it (bounded: a grandchild may keep writing) and closes every reader. */
void fp_outputs_close_all(fp_outputs_t *list);

#endif
