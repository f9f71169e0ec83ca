/* channel.h: the supervisor's end of one child's dispatch socket: sending
 * job and stop lines, reading the child's lines, and closing. What the lines
 * mean is the supervisor's business, told through fp_channel_events_t; the
 * channel only moves bytes. Its timer is the supervisor's to arm (the start
 * deadline, the running job's deadline, kill_grace). */
#ifndef FORKPOOL_CHANNEL_H
#define FORKPOOL_CHANNEL_H

#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "dispatch/proto.h"

#define FP_CHANNEL_READ_BYTES 65536

typedef struct fp_channel_s fp_channel_t;

typedef struct fp_channel_events_s {
    fp_framer_line_cb on_line;                   /* ctx: the channel */
    void (*on_read)(fp_channel_t *ch);           /* after the lines of one read */
    void (*on_end)(fp_channel_t *ch, ssize_t why); /* EOF (UV_EOF) or a read error */
    void (*on_closed)(void *ctx, int slot);      /* both handles closed; the channel is freed */
} fp_channel_events_t;

/* It outlives its child until its close callback, so it is heap-allocated
 * apart from the slot. */
struct fp_channel_s {
    uv_pipe_t pipe;
    uv_timer_t timer; /* the start deadline, the running job's deadline, then kill_grace */
    int open_handles; /* freed when both handles are closed */
    const fp_channel_events_t *events;
    void *ctx;        /* the supervisor */
    int slot;
    fp_framer_t framer;
    fp_buf_t out; /* job lines of this dispatch round, sent in one write at its end */
    char buf[FP_CHANNEL_READ_BYTES];
};

/* Opens the channel on fd and starts reading. *out is set once the channel
 * owns fd: after that, on failure it is closing (on_closed follows) and fd
 * is closed with it; while *out is NULL, fd is still the caller's. */
int fp_channel_open(uv_loop_t *loop, int fd, size_t max_line, const fp_channel_events_t *events,
                    void *ctx, int slot, fp_channel_t **out);

/* Sends one line now (or queues the rest of it in libuv). */
int fp_channel_send(fp_channel_t *ch, const char *data, size_t len);

/* Sends the job lines queued in ch->out in one write: with prefetch a child
 * takes several per round, and one write means one wake-up for it. */
int fp_channel_flush(fp_channel_t *ch);

/* Reads, without waiting, what the child already wrote (the fd is
 * non-blocking), and hands each line to on_line. */
void fp_channel_drain(fp_channel_t *ch);

void fp_channel_stop_reading(fp_channel_t *ch);

/* Closes both handles; on_closed is called once they are closed. */
void fp_channel_close(fp_channel_t *ch);

#endif
