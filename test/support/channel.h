/* channel.h: a test's end of one child's dispatch socket, reaping with a
 * deadline, and the set-up to spawn from (fp_tc_*), for unit tests that
 * drive children made by fp_spawn.
 * Deadlines only keep a broken build from hanging. */
#ifndef FP_TEST_CHANNEL_H
#define FP_TEST_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "pool/spawn.h"

#define FP_TC_DEADLINE_MS 10000

/* {fd, NULL, 0, 0} for a fresh channel; fd -1 for none. */
typedef struct fp_tc_chan_s {
    int fd;
    char *buf;
    size_t len, cap;
} fp_tc_chan_t;

/* The next line from the child (owned, without "\n"), or NULL on EOF or when
 * nothing arrives before the deadline. */
char *fp_tc_read_line(fp_tc_chan_t *ch);
/* The next line parsed as JSON (cJSON_Delete); fails the test when there is
 * no line or it is not JSON. */
cJSON *fp_tc_read_json(fp_tc_chan_t *ch);
/* Reads the child's {"op":"ready","pid":PID} line and checks it. */
void fp_tc_expect_ready(fp_tc_chan_t *ch, pid_t pid);

/* Writes all of data before the deadline; 0 or -1. No cmocka asserts, so
 * helper processes can use it. */
int fp_tc_send_n(fp_tc_chan_t *ch, const char *data, size_t len);
int fp_tc_send(fp_tc_chan_t *ch, const char *text);
/* The same, failing the test when it cannot. */
void fp_tc_write_n(fp_tc_chan_t *ch, const char *data, size_t len);
void fp_tc_write(fp_tc_chan_t *ch, const char *text);

/* Closes the fd (if any) and frees the buffer; safe to call twice. */
void fp_tc_close(fp_tc_chan_t *ch);

/* Waits for pid with a deadline; a child still running then is killed.
 * Returns the wait status, or -1 when it had to be killed. */
int fp_tc_reap_quiet(pid_t pid);
/* The same, failing the test when the child had to be killed. */
int fp_tc_reap(pid_t pid);
/* Reaps pid and checks that it exited with code (not killed by a signal). */
void fp_tc_expect_exit(pid_t pid, int code);

/* What a test needs to spawn children: a config, handlers, the spec over
 * them, and a scratch directory with the log file's path in it. */
typedef struct fp_tc_spawner_s {
    fp_config_t cfg;
    fp_registry_t reg;
    fp_child_spec_t spec;
    char *dir;
    char log_path[4096];
} fp_tc_spawner_t;

/* sp for a native-runtime child child_id (handlers empty, added by the
 * test) and a fresh scratch directory; fp_tc_spawner_free removes it. */
void fp_tc_spawner_init(fp_tc_spawner_t *sp, int child_id);
void fp_tc_spawner_free(fp_tc_spawner_t *sp);

/* Whether this process has no child left to wait for. */
bool fp_tc_no_children_left(void);

#endif
