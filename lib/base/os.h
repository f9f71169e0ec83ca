/* os.h: small wrappers over system calls that several modules need. */
#ifndef FORKPOOL_OS_H
#define FORKPOOL_OS_H

#include <stdint.h>
#include <sys/types.h>

int fp_os_cloexec(int fd, int on);   /* 0 or -errno */
int fp_os_nonblock(int fd, int on);  /* 0 or -errno */

/* Closes every fd >= lowest (close_range, else a /proc/self/fd walk). For a
 * freshly forked child only. */
void fp_os_close_from(int lowest);

/* Resident set size of pid (0 = self) in KiB from /proc/PID/statm; -errno. */
int64_t fp_os_rss_kb(pid_t pid);

/* The same through an open /proc/PID/statm fd, with one pread: for a caller
 * that measures after every job (a syscall is not free under a hypervisor). */
int64_t fp_os_rss_kb_fd(int statm_fd);

/* Monotonic clock in milliseconds and microseconds. */
int64_t fp_os_now_ms(void);
int64_t fp_os_now_us(void);

/* Wall clock in unix milliseconds (for Redis scores and records). */
int64_t fp_os_unix_ms(void);

#endif
