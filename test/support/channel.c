/* channel.c: the test's end of a child's dispatch socket (line reads and
 * whole writes under a deadline), reaping children with a deadline, and the
 * set-up a test that spawns children starts from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "channel.h"
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

char *fp_tc_read_line(fp_tc_chan_t *ch)
{
    long long deadline = fp_th_now_ms() + FP_TC_DEADLINE_MS;
    for (;;) {
        char *nl = ch->buf != NULL ? memchr(ch->buf, '\n', ch->len) : NULL;
        if (nl != NULL) {
            size_t n = (size_t)(nl - ch->buf);
            char *line = strndup(ch->buf, n);
            memmove(ch->buf, nl + 1, ch->len - n - 1);
            ch->len -= n + 1;
            return line;
        }
        long long left = deadline - fp_th_now_ms();
        if (left <= 0)
            return NULL;
        struct pollfd p = {ch->fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        /* Large reads: test_child sends lines of a megabyte and more. */
        if (ch->len + 65536 > ch->cap) {
            ch->cap = ch->cap ? ch->cap * 2 : 131072;
            ch->buf = realloc(ch->buf, ch->cap);
            assert_non_null(ch->buf);
        }
        ssize_t r = read(ch->fd, ch->buf + ch->len, ch->cap - ch->len);
        if (r == 0)
            return NULL;
        if (r > 0)
            ch->len += (size_t)r;
        else if (errno != EAGAIN && errno != EINTR)
            return NULL;
    }
}

cJSON *fp_tc_read_json(fp_tc_chan_t *ch)
{
    char *line = fp_tc_read_line(ch);
    if (line == NULL)
        fail_msg("no line from the child");
    cJSON *o = cJSON_Parse(line);
    if (o == NULL)
        fail_msg("not JSON: %s", line);
    free(line);
    return o;
}

void fp_tc_expect_ready(fp_tc_chan_t *ch, pid_t pid)
{
    cJSON *o = fp_tc_read_json(ch);
    assert_string_equal(cJSON_GetObjectItem(o, "op")->valuestring, "ready");
    assert_int_equal((pid_t)cJSON_GetObjectItem(o, "pid")->valuedouble, pid);
    cJSON_Delete(o);
}

int fp_tc_send_n(fp_tc_chan_t *ch, const char *data, size_t len)
{
    long long deadline = fp_th_now_ms() + FP_TC_DEADLINE_MS;
    while (len > 0) {
        ssize_t w = send(ch->fd, data, len, MSG_NOSIGNAL);
        if (w > 0) {
            data += w;
            len -= (size_t)w;
            continue;
        }
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || fp_th_now_ms() > deadline)
            return -1;
        struct pollfd p = {ch->fd, POLLOUT, 0};
        poll(&p, 1, 100);
    }
    return 0;
}

int fp_tc_send(fp_tc_chan_t *ch, const char *text)
{
    return fp_tc_send_n(ch, text, strlen(text));
}

void fp_tc_write_n(fp_tc_chan_t *ch, const char *data, size_t len)
{
    assert_int_equal(fp_tc_send_n(ch, data, len), 0);
}

void fp_tc_write(fp_tc_chan_t *ch, const char *text)
{
    fp_tc_write_n(ch, text, strlen(text));
}

void fp_tc_close(fp_tc_chan_t *ch)
{
    if (ch->fd >= 0)
        close(ch->fd);
    ch->fd = -1;
    free(ch->buf);
    ch->buf = NULL;
    ch->len = ch->cap = 0;
}

int fp_tc_reap_quiet(pid_t pid)
{
    long long deadline = fp_th_now_ms() + FP_TC_DEADLINE_MS;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if ((r < 0 && errno != EINTR) || fp_th_now_ms() > deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        fp_th_nap();
    }
}

int fp_tc_reap(pid_t pid)
{
    int st = fp_tc_reap_quiet(pid);
    if (st == -1)
        fail_msg("child %d did not exit before the deadline", (int)pid);
    return st;
}

void fp_tc_expect_exit(pid_t pid, int code)
{
    int st = fp_tc_reap(pid);
    if (!WIFEXITED(st))
        fail_msg("child %d died of signal %d", (int)pid, WTERMSIG(st));
    assert_int_equal(WEXITSTATUS(st), code);
}

bool fp_tc_no_children_left(void)
{
    errno = 0;
    return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

void fp_tc_spawner_init(fp_tc_spawner_t *sp, int child_id)
{
    memset(sp, 0, sizeof *sp);
    sp->cfg.pool.runtime = FP_RUNTIME_NATIVE;
    sp->cfg.limits.max_job_bytes = 1 << 20;
    sp->cfg.daemon.log_format = FP_LOG_TEXT;
    sp->spec.child_id = child_id;
    sp->spec.cfg = &sp->cfg;
    sp->spec.handlers = &sp->reg;
    sp->dir = fp_th_tmpdir();
    assert_non_null(sp->dir);
    snprintf(sp->log_path, sizeof sp->log_path, "%s/forkpool.log", sp->dir);
}

void fp_tc_spawner_free(fp_tc_spawner_t *sp)
{
    fp_th_rmrf(sp->dir);
    free(sp->dir);
    sp->dir = NULL;
}
