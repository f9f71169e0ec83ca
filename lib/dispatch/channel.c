/* channel.c: the supervisor's end of one child's dispatch socket (see
 * channel.h): writes, reads cut into lines, and the two-handle close. */
#include "dispatch/channel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

#define LOG "supervisor" /* its lines have always been the supervisor's */

typedef struct write_req_s {
    uv_write_t req;
    char *data;
} write_req_t;

static void on_write_done(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    if (status < 0 && status != UV_ECANCELED)
        fp_log_warn(LOG, "write to a child failed: %s", uv_strerror(status));
    free(w->data);
    free(w);
}

/* The socket is almost always empty (a child holds one job), so the direct
 * try succeeds and nothing is copied. */
int fp_channel_send(fp_channel_t *ch, const char *data, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&ch->pipe, &buf, 1);
    if (n == (int)len)
        return 0;
    if (n < 0 && n != UV_EAGAIN)
        return n;
    size_t done = n > 0 ? (size_t)n : 0;
    write_req_t *w = malloc(sizeof *w);
    char *copy = malloc(len - done);
    if (w == NULL || copy == NULL) {
        free(w);
        free(copy);
        return UV_ENOMEM;
    }
    memcpy(copy, data + done, len - done);
    w->data = copy;
    buf = uv_buf_init(copy, (unsigned)(len - done));
    int rc = uv_write(&w->req, (uv_stream_t *)&ch->pipe, &buf, 1, on_write_done);
    if (rc < 0) {
        free(copy);
        free(w);
    }
    return rc;
}

int fp_channel_flush(fp_channel_t *ch)
{
    if (ch->out.len == 0)
        return 0;
    int rc = fp_channel_send(ch, ch->out.data, ch->out.len);
    ch->out.len = 0;
    return rc;
}

static void on_channel_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    fp_channel_t *ch = handle->data;
    *buf = uv_buf_init(ch->buf, sizeof ch->buf);
}

/* Freed before on_closed, which may end the run. */
static void on_channel_closed(uv_handle_t *handle)
{
    fp_channel_t *ch = handle->data;
    if (--ch->open_handles > 0)
        return;
    const fp_channel_events_t *events = ch->events;
    void *ctx = ch->ctx;
    int slot = ch->slot;
    fp_framer_free(&ch->framer);
    fp_buf_free(&ch->out);
    free(ch);
    events->on_closed(ctx, slot);
}

void fp_channel_close(fp_channel_t *ch)
{
    if (uv_is_closing((uv_handle_t *)&ch->pipe))
        return;
    uv_close((uv_handle_t *)&ch->pipe, on_channel_closed);
    uv_close((uv_handle_t *)&ch->timer, on_channel_closed);
}

void fp_channel_stop_reading(fp_channel_t *ch)
{
    uv_read_stop((uv_stream_t *)&ch->pipe);
}

static void on_channel_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    fp_channel_t *ch = stream->data;
    if (nread > 0) {
        fp_framer_feed(&ch->framer, buf->base, (size_t)nread, ch->events->on_line, ch);
        ch->events->on_read(ch);
    } else if (nread < 0) {
        ch->events->on_end(ch, nread);
    }
}

void fp_channel_drain(fp_channel_t *ch)
{
    int fd;
    if (uv_fileno((uv_handle_t *)&ch->pipe, &fd) < 0 || uv_is_closing((uv_handle_t *)&ch->pipe))
        return;
    for (;;) {
        ssize_t n = read(fd, ch->buf, sizeof ch->buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        fp_framer_feed(&ch->framer, ch->buf, (size_t)n, ch->events->on_line, ch);
    }
}

int fp_channel_open(uv_loop_t *loop, int fd, size_t max_line, const fp_channel_events_t *events,
                    void *ctx, int slot, fp_channel_t **out)
{
    *out = NULL;
    fp_channel_t *ch = calloc(1, sizeof *ch);
    if (ch == NULL)
        return -ENOMEM;
    ch->events = events;
    ch->ctx = ctx;
    ch->slot = slot;
    fp_framer_init(&ch->framer, max_line);
    int rc = uv_pipe_init(loop, &ch->pipe, 0);
    if (rc < 0) {
        free(ch);
        return rc;
    }
    uv_timer_init(loop, &ch->timer);
    ch->pipe.data = ch->timer.data = ch;
    ch->open_handles = 2;
    *out = ch;
    rc = uv_pipe_open(&ch->pipe, fd);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&ch->pipe, on_channel_alloc, on_channel_read);
    if (rc < 0)
        fp_channel_close(ch);
    return rc;
}
