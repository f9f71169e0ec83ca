/* latency_send.c: the producer side of the latency measurement, and its
 * report.
 *
 *   latency_send [-h host] [-p port] [-k jobs_key] -n N -r RATE
 *       XADDs N latency_probe jobs one at a time on a fixed schedule (job i
 *       is due at start + i / RATE), each stamped with CLOCK_MONOTONIC ns
 *       taken just before its own XADD is written. Open loop: replies are
 *       read only when they have arrived, so a slow reply never delays the
 *       next job. A sender running late sends what is due at once (each job
 *       still its own write, stamped when it leaves), and the achieved rate
 *       is printed: rate=R sent=N seconds=S late_max_us=L errors=E
 *   latency_send report FILE
 *       FILE holds the probe's native int64 ns samples; prints
 *       samples=N p50_us=A p99_us=B max_us=C mean_us=D
 *
 * Percentiles are nearest-rank over the samples as written. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int report(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "latency_send: %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t n = 0, cap = 0;
    int64_t *s = NULL, v;
    while (fread(&v, sizeof v, 1, f) == 1) {
        if (n == cap) {
            size_t grown_cap = cap != 0 ? cap * 2 : 16384;
            int64_t *grown = realloc(s, grown_cap * sizeof *grown);
            if (grown == NULL) {
                fclose(f);
                free(s);
                fprintf(stderr, "latency_send: out of memory\n");
                return 1;
            }
            s = grown;
            cap = grown_cap;
        }
        s[n++] = v;
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "latency_send: %s holds no samples\n", path);
        free(s);
        return 1;
    }
    qsort(s, n, sizeof *s, cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)s[i];
    /* Nearest rank: the smallest sample with at least p of them at or below. */
    size_t r50 = (n * 50 + 99) / 100, r99 = (n * 99 + 99) / 100;
    printf("samples=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f\n", n,
           (double)s[r50 - 1] / 1e3, (double)s[r99 - 1] / 1e3, (double)s[n - 1] / 1e3,
           sum / (double)n / 1e3);
    free(s);
    return 0;
}

/* Reads and frees every reply that has already arrived, without waiting. */
static int drain_ready(redisContext *c, long *pending, long *errors)
{
    struct pollfd pfd = {c->fd, POLLIN, 0};
    while (*pending > 0 && poll(&pfd, 1, 0) == 1) {
        if (redisBufferRead(c) != REDIS_OK)
            return -1;
        void *reply;
        while (*pending > 0) {
            if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
                return -1;
            if (reply == NULL)
                break;
            if (((redisReply *)reply)->type == REDIS_REPLY_ERROR)
                (*errors)++;
            freeReplyObject(reply);
            (*pending)--;
        }
    }
    return 0;
}

static int send_jobs(const char *host, int port, const char *key, long n, double rate)
{
    /* The default 50 us timer slack would make every wake-up late by up to
     * that much, which at tens of thousands of jobs/s is the whole interval. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    redisContext *c = redisConnect(host, port);
    if (c == NULL || c->err) {
        fprintf(stderr, "latency_send: cannot connect to %s:%d: %s\n", host, port,
                c != NULL ? c->errstr : "out of memory");
        if (c != NULL)
            redisFree(c);
        return 1;
    }
    int rc = 1;
    long pending = 0, errors = 0;
    int64_t late_max = 0;
    int64_t start = mono_ns() + 1000000, first = 0, last = 0;
    for (long i = 0; i < n; i++) {
        int64_t due = start + (int64_t)((double)i * 1e9 / rate);
        int64_t now = mono_ns();
        if (now < due) {
            struct timespec ts = {(time_t)(due / 1000000000), (long)(due % 1000000000)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
        }
        int64_t t = mono_ns();
        if (t - due > late_max)
            late_max = t - due;
        char job[96];
        int len = snprintf(job, sizeof job,
                           "{\"type\":\"latency_probe\",\"args\":{\"t\":\"%" PRId64 "\"}}", t);
        int done = 0;
        if (redisAppendCommand(c, "XADD %s * job %b", key, job, (size_t)len) != REDIS_OK)
            goto out;
        while (!done)
            if (redisBufferWrite(c, &done) != REDIS_OK)
                goto out;
        pending++;
        if (i == 0)
            first = t;
        last = t;
        if (drain_ready(c, &pending, &errors) < 0)
            goto out;
    }
    while (pending > 0) {
        void *reply;
        if (redisGetReply(c, &reply) != REDIS_OK)
            goto out;
        if (((redisReply *)reply)->type == REDIS_REPLY_ERROR)
            errors++;
        freeReplyObject(reply);
        pending--;
    }
    double secs = (double)(last - first) / 1e9;
    printf("rate=%.0f sent=%ld seconds=%.3f late_max_us=%.1f errors=%ld\n",
           secs > 0 ? (double)(n - 1) / secs : 0.0, n, secs, (double)late_max / 1e3, errors);
    rc = errors == 0 ? 0 : 1;
out:
    if (rc != 0 && c->err)
        fprintf(stderr, "latency_send: %s\n", c->errstr);
    redisFree(c);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "report") == 0)
        return report(argv[2]);
    const char *host = "127.0.0.1", *key = "fp:{default}:jobs";
    int port = 6379, ch;
    long n = 0;
    double rate = 0;
    while ((ch = getopt(argc, argv, "h:p:k:n:r:")) != -1) {
        switch (ch) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'k': key = optarg; break;
        case 'n': n = strtol(optarg, NULL, 10); break;
        case 'r': rate = strtod(optarg, NULL); break;
        default: n = 0; break;
        }
    }
    if (n <= 0 || rate <= 0 || port <= 0) {
        fprintf(stderr, "usage: latency_send [-h host] [-p port] [-k jobs_key] -n N -r RATE\n"
                        "       latency_send report FILE\n");
        return 2;
    }
    return send_jobs(host, port, key, n, rate);
}
