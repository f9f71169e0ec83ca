/* output.c: an exec child's stdout and stderr, read on the loop: each
 * line goes to the log as "child N: ...". A reader lives apart from the
 * child's slot (a grandchild may hold the pipe after the child is reaped)
 * and closes at EOF or at shutdown. */
#include "pool/output.h"

#include <stdlib.h>
#include <unistd.h>

#include "base/log.h"

#define LOG "supervisor" /* the lines have always been the supervisor's */
#define OUTPUT_LINE_MAX 8192
#define OUTPUT_FINAL_READS 64 /* at shutdown, what is still buffered, bounded */

struct fp_output_s {
    uv_pipe_t pipe;
    struct fp_output_s *prev, *next; /* fp_outputs_t.head */
    fp_outputs_t *list;
    int child_id;
    fp_framer_t framer;
    char buf[4096];
};

static void on_output_line(void *ctx, const char *line, size_t len, int status)
{
    fp_output_t *out = ctx;
    if (status < 0) {
        fp_log_warn(LOG, "child %d: (a line of output longer than %d bytes, not logged)",
                    out->child_id, OUTPUT_LINE_MAX);
        return;
    }
    if (len > 0 && line[len - 1] == '\r')
        len--;
    fp_log_info(LOG, "child %d: %.*s", out->child_id, (int)len, line);
}

static void on_output_closed(uv_handle_t *handle)
{
    fp_output_t *out = handle->data;
    if (out->prev != NULL)
        out->prev->next = out->next;
    else
        out->list->head = out->next;
    if (out->next != NULL)
        out->next->prev = out->prev;
    fp_framer_free(&out->framer);
    free(out);
}

/* Logs a last line that had no newline, then closes. */
static void output_close(fp_output_t *out)
{
    if (uv_is_closing((uv_handle_t *)&out->pipe))
        return;
    if (out->framer.partial.len > 0 && !out->framer.discarding)
        on_output_line(out, out->framer.partial.data, out->framer.partial.len, 0);
    uv_close((uv_handle_t *)&out->pipe, on_output_closed);
}

static void on_output_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    fp_output_t *out = handle->data;
    *buf = uv_buf_init(out->buf, sizeof out->buf);
}

static void on_output_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    fp_output_t *out = stream->data;
    if (nread > 0)
        fp_framer_feed(&out->framer, buf->base, (size_t)nread, on_output_line, out);
    else if (nread < 0)
        output_close(out);
}

void fp_output_open(fp_outputs_t *list, uv_loop_t *loop, int child_id, int fd)
{
    fp_output_t *out = calloc(1, sizeof *out);
    if (out == NULL || uv_pipe_init(loop, &out->pipe, 0) < 0) {
        fp_log_warn(LOG, "cannot read the output of child %d; it is discarded", child_id);
        free(out);
        close(fd);
        return;
    }
    out->list = list;
    out->child_id = child_id;
    out->pipe.data = out;
    fp_framer_init(&out->framer, OUTPUT_LINE_MAX);
    out->next = list->head;
    if (list->head != NULL)
        list->head->prev = out;
    list->head = out;
    int rc = uv_pipe_open(&out->pipe, fd);
    if (rc < 0)
        close(fd);
    else
        rc = uv_read_start((uv_stream_t *)&out->pipe, on_output_alloc, on_output_read);
    if (rc < 0) {
        fp_log_warn(LOG, "cannot read the output of child %d: %s", child_id, uv_strerror(rc));
        output_close(out);
    }
}

void fp_outputs_close_all(fp_outputs_t *list)
{
    for (fp_output_t *out = list->head; out != NULL; out = out->next) {
        uv_os_fd_t fd;
        if (uv_is_closing((uv_handle_t *)&out->pipe) || uv_fileno((uv_handle_t *)&out->pipe, &fd) < 0)
            continue;
        ssize_t n;
        for (int i = 0; i < OUTPUT_FINAL_READS && (n = read(fd, out->buf, sizeof out->buf)) > 0; i++)
            fp_framer_feed(&out->framer, out->buf, (size_t)n, on_output_line, out);
        output_close(out);
    }
}
