/* bench_clock.h: the two clocks every bench tool reads — wall time
 * (monotonic) and the process's own CPU time — in seconds. */
#ifndef FP_BENCH_CLOCK_H
#define FP_BENCH_CLOCK_H

#include <sys/resource.h>
#include <time.h>

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double cpu_self_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

#endif
