/* harness.c: test helpers that touch the system (files, processes). Tests stay
 * about behaviour; this file owns pipes, deadlines and clean-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *fp_th_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        fprintf(stderr, "test harness: %s is not set (run the test through ctest)\n", name);
        abort();
    }
    return v;
}

char *fp_th_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        cap *= 2;
        char *grown = realloc(buf, cap + 1);
        if (grown == NULL) {
            free(buf);
            buf = NULL;
        }
        buf = grown;
    }
    fclose(f);
    if (buf == NULL)
        return NULL;
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

char *fp_th_read_source(const char *rel, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", fp_th_env("FP_SOURCE_DIR"), rel);
    size_t ignored;
    char *text = fp_th_read_file(path, len != NULL ? len : &ignored);
    if (text == NULL)
        fail_msg("cannot read %s", path);
    return text;
}

int fp_th_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int rc = -errno;
            close(fd);
            return rc;
        }
        p += w;
        len -= (size_t)w;
    }
    return close(fd) == 0 ? 0 : -errno;
}

char *fp_th_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/forkpool-test-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(tmpl) == NULL)
        return NULL;
    return strdup(tmpl);
}

void fp_th_rmrf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char child[4096];
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                fp_th_rmrf(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

void fp_th_tmpdir_free(char *dir)
{
    if (dir != NULL)
        fp_th_rmrf(dir);
    free(dir);
}

static long long clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long fp_th_now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

long long fp_th_unix_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

void fp_th_nap(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

int fp_th_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

char *fp_th_line_with(const char *s, const char *needle)
{
    const char *hit = strstr(s, needle);
    if (hit == NULL)
        fail_msg("no line with \"%s\" in:\n%s", needle, s);
    const char *start = hit;
    while (start > s && start[-1] != '\n')
        start--;
    const char *end = strchr(hit, '\n');
    return strndup(start, end != NULL ? (size_t)(end - start) : strlen(start));
}

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t want = (*cap ? *cap : 1024);
        while (want < *len + n + 1)
            want *= 2;
        char *grown = realloc(*buf, want);
        if (grown == NULL)
            return -ENOMEM;
        *buf = grown;
        *cap = want;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static char **build_env(const char *const env_extra[])
{
    size_t n = 0, m = 0;
    while (environ[n] != NULL)
        n++;
    while (env_extra != NULL && env_extra[m] != NULL)
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (env == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        env[k++] = (char *)env_extra[i];
    for (size_t i = 0; i < n; i++) {
        /* Variables given in env_extra win over inherited ones. */
        const char *eq = strchr(environ[i], '=');
        size_t name_len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        int shadowed = 0;
        for (size_t j = 0; j < m; j++)
            if (strncmp(env_extra[j], environ[i], name_len) == 0 && env_extra[j][name_len] == '=')
                shadowed = 1;
        if (!shadowed)
            env[k++] = environ[i];
    }
    return env;
}

int fp_th_run(const char *const argv[], const char *const env_extra[], const char *in,
              size_t in_len, int timeout_ms, fp_th_result_t *res)
{
    memset(res, 0, sizeof *res);
    int pin[2], pout[2], perr[2];
    if (pipe2(pin, O_CLOEXEC) != 0)
        return -errno;
    if (pipe2(pout, O_CLOEXEC) != 0 || pipe2(perr, O_CLOEXEC) != 0)
        return -errno;
    char **env = build_env(env_extra);
    if (env == NULL)
        return -ENOMEM;
    pid_t pid = fork();
    if (pid < 0) {
        free(env);
        return -errno;
    }
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        execve(argv[0], (char *const *)argv, env);
        _exit(127);
    }
    free(env);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);

    size_t in_off = 0, out_cap = 0, err_cap = 0;
    int in_fd = pin[1];
    if (in_len == 0) {
        close(in_fd);
        in_fd = -1;
    }
    int out_open = 1, err_open = 1, timed_out = 0;
    long long deadline = fp_th_now_ms() + timeout_ms;
    append(&res->out, &res->out_len, &out_cap, "", 0);
    append(&res->err, &res->err_len, &err_cap, "", 0);
    while (out_open || err_open) {
        struct pollfd fds[3] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
        if (!out_open)
            fds[0].fd = -1;
        if (!err_open)
            fds[1].fd = -1;
        long long left = deadline - fp_th_now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        if (poll(fds, 3, (int)left) < 0 && errno != EINTR)
            break;
        char buf[65536];
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(fds[i].fd, buf, sizeof buf);
            if (r > 0) {
                if (i == 0)
                    append(&res->out, &res->out_len, &out_cap, buf, (size_t)r);
                else
                    append(&res->err, &res->err_len, &err_cap, buf, (size_t)r);
            } else if (r == 0 || errno != EINTR) {
                if (i == 0)
                    out_open = 0;
                else
                    err_open = 0;
            }
        }
        if (in_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(in_fd, in + in_off, in_len - in_off);
            if (w > 0)
                in_off += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) {
                close(in_fd);
                in_fd = -1;
            }
        }
    }
    if (in_fd >= 0)
        close(in_fd);
    close(pout[0]);
    close(perr[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        return -ETIMEDOUT;
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 0;
}

void fp_th_result_free(fp_th_result_t *res)
{
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
}

int fp_th_spawn(const char *const argv[], const char *const env_extra[], const char *log_path)
{
    char **env = build_env(env_extra);
    if (env == NULL)
        return -ENOMEM;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        free(env);
        return -errno;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        /* Its own process group, as a service manager would start it, so a
         * test can signal the whole group without signalling itself. */
        setpgid(0, 0);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (fd < 0 || null < 0)
            _exit(127);
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execve(argv[0], (char *const *)argv, env);
        _exit(127);
    }
    free(env);
    return pid;
}

int fp_th_wait(int pid, int timeout_ms)
{
    long long deadline = fp_th_now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 && errno != EINTR)
            return -errno;
        if (fp_th_now_ms() >= deadline)
            return -ETIMEDOUT;
        fp_th_nap();
    }
}

void fp_th_kill(int pid)
{
    if (pid <= 0)
        return;
    if (waitpid(pid, NULL, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

int fp_th_proc_children(int pid, int *out, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
    char *text = fp_th_read_file(path, NULL);
    int n = 0;
    for (char *p = text, *end; p != NULL && n < max; p = end) {
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        out[n++] = (int)v;
    }
    free(text);
    return n;
}

long fp_th_proc_status(int pid, const char *field)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    char *text = fp_th_read_file(path, NULL);
    const char *at = text;
    /* At a line's start: "Pid:" is not the end of "PPid:". */
    while (at != NULL && (at = strstr(at, field)) != NULL && at != text && at[-1] != '\n')
        at++;
    long v = at != NULL ? strtol(at + strlen(field), NULL, 10) : -1;
    free(text);
    return v;
}

void fp_th_assert_no_sanitizer_report(const char *log_path)
{
    char *text = fp_th_read_file(log_path, NULL);
    if (text == NULL)
        return;
    const char *marks[] = {"AddressSanitizer", "LeakSanitizer", "runtime error:"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        const char *hit = strstr(text, marks[i]);
        if (hit != NULL) {
            fprintf(stderr, "sanitizer report in %s:\n%s\n", log_path, hit);
            free(text);
            abort();
        }
    }
    free(text);
}

/* Whether some line of text, split where any common reader splits lines
 * (\n \r \v \f \x1c-\x1e, NEL, U+2028/9: Python's splitlines), starts
 * with prefix. */
bool fp_th_some_line_starts_with(const char *text, const char *prefix)
{
    const char *line = text;
    for (const unsigned char *p = (const unsigned char *)text;; p++) {
        size_t brk = 0;
        if (*p == '\0' || strchr("\n\r\v\f\x1c\x1d\x1e", *p) != NULL)
            brk = 1;
        else if (p[0] == 0xC2 && p[1] == 0x85)
            brk = 2;
        else if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
            brk = 3;
        if (brk == 0)
            continue;
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            return true;
        if (*p == '\0')
            return false;
        p += brk - 1;
        line = (const char *)p + 1;
    }
}

void fp_th_expect_all_in_at(const char *text, const char *const *needles, size_t n,
                            const char *file, int line)
{
    if (text == NULL)
        fail_msg("%s:%d: no text to look in", file, line);
    for (size_t i = 0; i < n; i++)
        if (strstr(text, needles[i]) == NULL)
            fail_msg("%s:%d: \"%s\" is not in:\n%s", file, line, needles[i], text);
}
