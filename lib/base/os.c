/* os.c: thin wrappers over system calls that several modules share (fd flags,
 * closing every fd above a bound, RSS, clocks). Everything here is callable
 * in a freshly forked child of a threaded process: fp_os_close_from and
 * fp_os_rss_kb use only raw system calls and stack buffers, never malloc or
 * stdio, because another thread may have held the allocator's lock at fork.
 * Nothing here logs or keeps state. */
#include "base/os.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sets or clears one bit of the flags fcntl reads with get and writes with
 * set, writing only when it changes. */
static int set_fd_flag(int fd, int get, int set, int bit, int on)
{
    int flags = fcntl(fd, get);
    if (flags < 0)
        return -errno;
    int want = on ? (flags | bit) : (flags & ~bit);
    if (want != flags && fcntl(fd, set, want) < 0)
        return -errno;
    return 0;
}

int fp_os_cloexec(int fd, int on)
{
    return set_fd_flag(fd, F_GETFD, F_SETFD, FD_CLOEXEC, on);
}

int fp_os_nonblock(int fd, int on)
{
    return set_fd_flag(fd, F_GETFL, F_SETFL, O_NONBLOCK, on);
}

/* The layout of one getdents64 record; glibc 2.36 declares no type for it. */
struct fp__dirent64 {
    ino64_t d_ino;
    off64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Small, allocation-free decimal parser for fd names in /proc/self/fd. */
static int parse_fd(const char *s)
{
    long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > INT_MAX / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v > INT_MAX ? -1 : (int)v;
}

/* Walks /proc/self/fd with getdents64 (opendir would malloc). Closing fds
 * while reading is safe: procfs positions this directory by fd number.
 * Returns -1 when /proc is not available. */
static int close_from_proc(int lowest)
{
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -1;
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
        if (n <= 0)
            break;
        for (long off = 0; off < n;) {
            struct fp__dirent64 *d = (struct fp__dirent64 *)(void *)(buf + off);
            int fd = parse_fd(d->d_name);
            if (fd >= lowest && fd != dir)
                close(fd);
            off += d->d_reclen;
        }
    }
    close(dir);
    return 0;
}

void fp_os_close_from(int lowest)
{
    if (lowest < 0)
        lowest = 0;
#ifdef SYS_close_range
    /* close_range (Linux 5.9) does it in one call; older kernels say ENOSYS. */
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0U) == 0)
        return;
#endif
    if (close_from_proc(lowest) == 0)
        return;
    /* No /proc (a bare chroot): close up to the fd limit. */
    struct rlimit rl;
    long max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < INT_MAX)
        max = (long)rl.rlim_cur;
    for (long fd = lowest; fd < max; fd++)
        close((int)fd);
}

/* statm is "size resident shared text lib data dt" in pages. */
static int64_t parse_statm_kb(const char *p)
{
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p != ' ')
        return -EINVAL;
    p++;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    int64_t pages = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (*p - '0');
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    return pages * (page / 1024);
}

int64_t fp_os_rss_kb_fd(int statm_fd)
{
    char buf[256];
    ssize_t n;
    do {
        n = pread(statm_fd, buf, sizeof buf - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    return parse_statm_kb(buf);
}

int64_t fp_os_rss_kb(pid_t pid)
{
    char path[64];
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/statm");
    else
        snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int64_t kb = fp_os_rss_kb_fd(fd);
    close(fd);
    return kb;
}

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t fp_os_now_ms(void)
{
    return clock_us(CLOCK_MONOTONIC) / 1000;
}

int64_t fp_os_now_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

int64_t fp_os_unix_ms(void)
{
    return clock_us(CLOCK_REALTIME) / 1000;
}
