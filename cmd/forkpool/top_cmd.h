/* top_cmd.h: `forkpool top`'s session, shared by its text mode (cmd_top.c)
 * and its ncurses loop (top_curses.c): the connection, the last good sample
 * and the one before it (for the rates), and why the last read failed. */
#ifndef FORKPOOL_TOP_CMD_H
#define FORKPOOL_TOP_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "config/config.h"
#include "queue/admin.h"
#include "queue/dead_src.h"
#include "top/top.h"

typedef struct fp_top_session_s {
    const fp_config_t *cfg;
    fp_admin_t *admin;       /* NULL: connect on the next refresh */
    fp_top_sample_t sample;  /* the last good one */
    bool have_sample;
    fp_err_t error;          /* the last refresh's failure */
    bool failed;             /* the last refresh failed */
    char where[300];         /* "prefix fp, group forkpool" or "file PATH" */
    const char *source;      /* the view's source: NULL for Redis (fp_top_view_t) */
} fp_top_session_t;

void fp_top_session_init(fp_top_session_t *s, const fp_config_t *cfg);
/* Reads a new sample (the dead letters too when dead), rates from the one
 * before. A failure keeps the last sample, drops the connection (the next
 * refresh connects again) and returns the error, also kept in s->error. */
int fp_top_session_refresh(fp_top_session_t *s, bool dead);
void fp_top_session_free(fp_top_session_t *s);

/* One queue's stats as the view's row (cmd_top.c). */
void fp_top_queue_from_stats(const char *name, const fp_admin_queue_stats_t *st,
                             fp_top_queue_t *q);

/* The oldest dead letters of the sample's queues (DEAD_SHOWN in all at
 * most) from src (the Redis connection or the queue file). */
int fp_top_read_dead(const fp_dead_src_t *src, fp_top_sample_t *out, fp_err_t *err);

/* A sample read from the embedded queue's file (top_embedded.c): the queues'
 * stats, the fleet's records and (dead) the oldest dead letters, as
 * read_sample reads them from Redis. The file is opened and closed each
 * time: a daemon's lock on it is never held across a refresh. */
int fp_top_read_embedded(const fp_config_t *cfg, bool dead, fp_top_sample_t *out,
                         fp_err_t *err);

/* CLOCK_MONOTONIC in ms. */
int64_t fp_top_clock_ms(void);

/* The live view until q (or INT/TERM): 0, or an error setting up the
 * terminal. */
int fp_top_curses(fp_top_session_t *s, int64_t interval_ms, fp_err_t *err);

#endif
