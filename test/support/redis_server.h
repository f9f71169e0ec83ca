/* redis_server.h: a real redis-server for tests (fp_th_redis_*). Each one
 * runs on 127.0.0.1 on a port nobody else holds, in a fresh directory, in its
 * own process group, and dies with the test process if that crashes. Tests
 * never use a fixed port and never sleep for a fixed time. */
#ifndef FP_TEST_REDIS_SERVER_H
#define FP_TEST_REDIS_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

typedef struct fp_th_redis_s {
    pid_t pid;          /* 0 while not running */
    int port;
    char *dir;          /* --dir; removed by fp_th_redis_stop */
    char url[64];       /* redis://127.0.0.1:PORT */
    char **extra;       /* extra arguments, kept for fp_th_redis_resume */
    int nextra;
    redisContext *ctx;  /* the test's own blocking connection (lazy) */
    char *conf;         /* a config file given first (a sentinel's), in dir */
} fp_th_redis_t;

/* Starts redis-server with --save "" --appendonly no, on a free port (picked
 * by binding port 0; retried if the server then finds it taken), and waits
 * until it answers PING. extra_args is a NULL-terminated list of further
 * arguments ("--appendonly", "yes", NULL); an option given there replaces the
 * default of the same name. Pass NULL alone for none. 0 or -errno. */
int fp_th_redis_start(fp_th_redis_t *r, const char *extra_args, ...);

/* The same on a given port (from fp_th_free_port), without retries. */
int fp_th_redis_start_port(fp_th_redis_t *r, int port, const char *extra_args, ...);

/* A sentinel: `redis-server DIR/sentinel.conf --sentinel` with conf_text
 * written there (Sentinel rewrites it), on a free port, otherwise as
 * fp_th_redis_start. */
int fp_th_redis_start_sentinel(fp_th_redis_t *r, const char *conf_text);

/* A port that was free a moment ago (bind 127.0.0.1:0 + getsockname). */
int fp_th_free_port(void);

/* Stops the server (SIGTERM to its group, wait with a deadline, SIGKILL),
 * removes its directory and frees everything. Safe to call twice. */
void fp_th_redis_stop(fp_th_redis_t *r);

/* Stops the server but keeps its port, directory and arguments, so that
 * fp_th_redis_resume starts it again in the same place (with its AOF, if
 * --appendonly yes was given). */
int fp_th_redis_shutdown(fp_th_redis_t *r);
int fp_th_redis_resume(fp_th_redis_t *r);

const char *fp_th_redis_url(const fp_th_redis_t *r);

/* Blocking commands on the test's own connection (reconnected as needed).
 * The reply is owned by the caller (freeReplyObject); NULL when Redis cannot
 * be reached. */
redisReply *fp_th_redis_cmd(fp_th_redis_t *r, const char *fmt, ...);
redisReply *fp_th_redis_cmdv(fp_th_redis_t *r, int argc, const char **argv, const size_t *lens);

/* The integer answer of a command, or -1 on any error or other reply type. */
long long fp_th_redis_int(fp_th_redis_t *r, const char *fmt, ...);

/* How often Redis ran `command` (lower case, e.g. "xpending"), the calls
 * scripts made included (INFO commandstats); 0 when never. */
long long fp_th_redis_calls(fp_th_redis_t *r, const char *command);

/* Whether the server answers ROLE with "master" (false when unreachable). */
bool fp_th_redis_is_master(fp_th_redis_t *r);

/* Redis' clock (TIME) in ms, or -1 when it cannot be read. */
long long fp_th_redis_now_ms(fp_th_redis_t *r);

#endif
