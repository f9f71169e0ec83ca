/* daemon.c: the fixture behind integration tests that run the real daemon.
 * Tests read like a user's story; the plumbing lives here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

/* A port that was free a moment ago, for a daemon's health endpoint. */
static int fresh_port(void)
{
    int port = fp_th_free_port();
    assert_true(port > 0);
    return port;
}

fp_td_t *fp_td_new(bool appendonly)
{
    fp_td_t *td = calloc(1, sizeof *td);
    assert_non_null(td);
    int rc = appendonly ? fp_th_redis_start(&td->redis, "--appendonly", "yes", NULL)
                        : fp_th_redis_start(&td->redis, NULL);
    assert_int_equal(rc, 0);
    redisReply *pong = fp_th_redis_cmd(&td->redis, "PING"); /* opens the test's connection */
    assert_non_null(pong);
    freeReplyObject(pong);
    fp_td_init_dir(td);
    return td;
}

void fp_td_init_dir(fp_td_t *td)
{
    td->dir = fp_th_tmpdir();
    assert_non_null(td->dir);
    snprintf(td->config, sizeof td->config, "%s/forkpool.toml", td->dir);
    snprintf(td->log, sizeof td->log, "%s/forkpool.log", td->dir);
    snprintf(td->events_db, sizeof td->events_db, "%s/events.db", td->dir);
    td->health_port = fresh_port();
}

void fp_td_free(fp_td_t *td)
{
    if (td == NULL)
        return;
    if (td->pid > 0) {
        kill(-td->pid, SIGKILL);
        fp_th_kill(td->pid);
    }
    fp_th_assert_no_sanitizer_report(td->log);
    fp_th_redis_stop(&td->redis);
    /* FP_TEST_KEEP=1 leaves the log, config and events for a post-mortem. */
    if (getenv("FP_TEST_KEEP") != NULL)
        fprintf(stderr, "kept %s\n", td->dir);
    else
        fp_th_rmrf(td->dir);
    free(td->dir);
    free(td);
}

int fp_td_setup(void **state)
{
    *state = fp_td_new(false);
    return 0;
}

int fp_td_setup_aof(void **state)
{
    *state = fp_td_new(true);
    return 0;
}

int fp_td_teardown(void **state)
{
    fp_td_free(*state);
    return 0;
}

/* The [health] line for port: on 127.0.0.1:port, or off when port is 0. */
static void health_line(int port, char *buf, size_t size)
{
    if (port > 0)
        snprintf(buf, size, "listen = \"127.0.0.1:%d\"\n", port);
    else
        snprintf(buf, size, "listen = \"\"\n");
}

void fp_td_config(fp_td_t *td, const char *daemon_lines, const char *extra)
{
    char text[16384], listen[64];
    health_line(td->health_port, listen, sizeof listen);
    snprintf(text, sizeof text,
             "[daemon]\nname = \"test-consumer\"\n%s"
             "[redis]\nurl = \"%s\"\n"
             "[health]\n%s"
             "[handlers.record_event]\ndatabase = \"%s\"\n"
             "%s",
             daemon_lines != NULL ? daemon_lines : "", fp_th_redis_url(&td->redis), listen,
             td->events_db, extra != NULL ? extra : "");
    assert_int_equal(fp_th_write_file(td->config, text, strlen(text)), 0);
}

/* Writes `in` with its first `from` made `to` to `out` (may be `in`). */
static void replace_into(const char *in, const char *out, const char *from, const char *to)
{
    char *text = fp_th_read_file(in, NULL);
    assert_non_null(text);
    char *at = strstr(text, from);
    if (at == NULL)
        fail_msg("no \"%s\" in %s:\n%s", from, in, text);
    size_t head = (size_t)(at - text), len = strlen(text), tail = len - head - strlen(from);
    char *edited = malloc(head + strlen(to) + tail + 1);
    assert_non_null(edited);
    memcpy(edited, text, head);
    memcpy(edited + head, to, strlen(to));
    memcpy(edited + head + strlen(to), at + strlen(from), tail + 1);
    assert_int_equal(fp_th_write_file(out, edited, strlen(edited)), 0);
    free(edited);
    free(text);
}

void fp_td_config_replace(fp_td_t *td, const char *from, const char *to)
{
    replace_into(td->config, td->config, from, to);
}

/* Rewrites td's config to listen on port (0: off) and keeps it as td's. */
static void move_health(fp_td_t *td, int port)
{
    char from[64], to[64];
    health_line(td->health_port, from, sizeof from);
    health_line(port, to, sizeof to);
    fp_td_config_replace(td, from, to);
    td->health_port = port;
}

void fp_td_health_off(fp_td_t *td)
{
    move_health(td, 0);
}

void fp_td_exec_worker_command(char *buf, size_t size, const char *arg)
{
    snprintf(buf, size, "[\"python3\", \"%s/test/data/exec_worker.py\"%s%s%s]",
             fp_th_env("FP_SOURCE_DIR"), arg ? ", \"" : "", arg ? arg : "", arg ? "\"" : "");
}

void fp_td_twin(const fp_td_t *td, fp_td_t *twin, const char *name)
{
    *twin = *td;
    twin->pid = 0;
    snprintf(twin->config, sizeof twin->config, "%s/twin.toml", td->dir);
    snprintf(twin->log, sizeof twin->log, "%s/twin.log", td->dir);
    char line[256];
    snprintf(line, sizeof line, "name = \"%s\"\n", name != NULL ? name : "test-consumer");
    replace_into(td->config, twin->config, "name = \"test-consumer\"\n", line);
    /* Its own health port: two daemons cannot listen on one, and a twin
     * refused for that would not be refused for what its test is about. */
    if (twin->health_port > 0)
        move_health(twin, fresh_port());
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void fp_td_enqueue(fp_td_t *td, int count, const char *fmt)
{
    char job[1024];
    const int batch = 1000;
    for (int done = 0; done < count;) {
        int n = count - done < batch ? count - done : batch;
        for (int i = 0; i < n; i++) {
            snprintf(job, sizeof job, fmt, done + i, done + i);
            redisAppendCommand(td->redis.ctx, "XADD %s * job %s", FP_TD_JOBS, job);
        }
        for (int i = 0; i < n; i++) {
            redisReply *reply = NULL;
            assert_int_equal(redisGetReply(td->redis.ctx, (void **)&reply), REDIS_OK);
            assert_int_equal(reply->type, REDIS_REPLY_STRING);
            freeReplyObject(reply);
        }
        done += n;
    }
}
#pragma GCC diagnostic pop

void fp_td_enqueue_raw(fp_td_t *td, const char *payload, size_t len)
{
    const char *argv[] = {"XADD", FP_TD_JOBS, "*", "job", payload};
    size_t lens[] = {4, strlen(FP_TD_JOBS), 1, 3, len};
    redisReply *reply = fp_th_redis_cmdv(&td->redis, 5, argv, lens);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STRING);
    freeReplyObject(reply);
}

void fp_td_start(fp_td_t *td, bool burst)
{
    const char *argv[] = {fp_th_env("FORKPOOL_BIN"), "run", "-c", td->config,
                          burst ? "--burst" : NULL, NULL};
    /* No ASan quarantine: its fill-up would look like growth in RSS checks. */
    static const char *const env[] = {
        "ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:quarantine_size_mb=0", NULL};
    td->pid = fp_th_spawn(argv, env, td->log);
    assert_true(td->pid > 0);
}

int fp_td_wait(fp_td_t *td, int timeout_ms)
{
    int status = fp_th_wait(td->pid, timeout_ms);
    if (status == -ETIMEDOUT) {
        char *log = fp_th_read_file(td->log, NULL);
        print_error("daemon did not exit within %d ms; log:\n%s\n", timeout_ms, log ? log : "");
        free(log);
        fail();
    }
    td->pid = 0;
    return status;
}

void fp_td_redis_restart(fp_td_t *td)
{
    fp_td_num_t down = {"forkpool_redis_connected", 0}, up = {"forkpool_redis_connected", 1};
    assert_int_equal(fp_th_redis_shutdown(&td->redis), 0);
    fp_td_wait_until(td, fp_td_metric_is, &down, 60000, "the daemon to notice Redis gone");
    assert_int_equal(fp_th_redis_resume(&td->redis), 0);
    fp_td_wait_until(td, fp_td_metric_is, &up, 60000, "the daemon to reconnect");
}

void fp_td_signal(fp_td_t *td, int signum)
{
    assert_true(td->pid > 0);
    assert_int_equal(kill(td->pid, signum), 0);
}

void fp_td_run_until_settled(fp_td_t *td)
{
    fp_td_start(td, false);
    fp_td_wait_until(td, fp_td_drained, NULL, 60000, "every job settled");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

long long fp_td_log_count(const fp_td_t *td, const char *needle)
{
    char *text = fp_th_read_file(td->log, NULL);
    long long n = 0;
    for (const char *p = text; p != NULL && (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(text);
    return n;
}

long long fp_td_jobs_done(const fp_td_t *td)
{
    char *text = fp_th_read_file(td->log, NULL);
    long long n = -1;
    for (const char *p = text; p != NULL && (p = strstr(p, "stopped: ")) != NULL; p++)
        n = atoll(p + strlen("stopped: "));
    free(text);
    return n;
}

long long fp_td_max_held(const fp_td_t *td)
{
    char *text = fp_th_read_file(td->log, NULL);
    long long most = -1;
    for (const char *p = text; p != NULL && (p = strstr(p, "held=")) != NULL; p++) {
        long long n = atoll(p + 5);
        if (n > most)
            most = n;
    }
    free(text);
    return most;
}

long long fp_td_xlen(fp_td_t *td, const char *key)
{
    return fp_th_redis_int(&td->redis, "XLEN %s", key);
}

long long fp_td_zcard(fp_td_t *td, const char *key)
{
    return fp_th_redis_int(&td->redis, "ZCARD %s", key);
}

long long fp_td_pending(fp_td_t *td)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "XPENDING %s forkpool", FP_TD_JOBS);
    assert_non_null(r);
    long long n = r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? r->element[0]->integer : -1;
    freeReplyObject(r);
    return n;
}

long long fp_td_unsettled(fp_td_t *td)
{
    return fp_th_redis_int(&td->redis,
                           "EVAL %s 2 %s %s",
                           "local n = redis.call('XLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2]) "
                           "local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], 'forkpool') "
                           "if ok then n = n + p[1] end "
                           "return n",
                           FP_TD_JOBS, FP_TD_DELAYED);
}

long long fp_td_sql(const fp_td_t *td, const char *sql)
{
    return fp_td_sql_at(td->events_db, "%s", sql);
}

long long fp_td_sql_at(const char *path, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    assert_true(vsnprintf(sql, sizeof sql, fmt, ap) < (int)sizeof sql);
    va_end(ap);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

bool fp_td_dead_has(fp_td_t *td, const char *field, const char *needle)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "XRANGE %s - +", FP_TD_DEAD);
    bool found = false;
    for (size_t i = 0; r != NULL && i < r->elements && !found; i++) {
        redisReply *fields = r->element[i]->element[1];
        for (size_t k = 0; k + 1 < fields->elements; k += 2)
            if (strcmp(fields->element[k]->str, field) == 0 &&
                strstr(fields->element[k + 1]->str, needle) != NULL)
                found = true;
    }
    freeReplyObject(r);
    return found;
}

/* Fails the test with why and the end of the log: cmocka truncates long
 * messages, and what the daemon did last is what explains it. */
void fp_td_fail_with_log(const fp_td_t *td, const char *why)
{
    size_t len = 0;
    char *log = fp_th_read_file(td->log, &len);
    const char *tail = log != NULL ? log + (len > 3000 ? len - 3000 : 0) : "";
    print_error("%s; log (last 3000 bytes):\n%s\n", why, tail);
    free(log);
    fail();
}

void fp_td_wait_until(fp_td_t *td, bool (*cond)(fp_td_t *td, void *arg), void *arg,
                      int timeout_ms, const char *what)
{
    long long deadline = fp_th_now_ms() + timeout_ms;
    for (;;) {
        if (cond(td, arg))
            return;
        if (fp_th_now_ms() > deadline) {
            char why[256];
            snprintf(why, sizeof why, "timed out waiting for %s", what);
            fp_td_fail_with_log(td, why);
        }
        fp_th_nap();
    }
}

void fp_td_wait_held(fp_td_t *td, int n)
{
    if (fp_td_health_port(td) <= 0)
        fail_msg("fp_td_wait_held reads /stats: the health endpoint is off");
    fp_td_num_t held = {"counters.jobs_held", n};
    char what[48];
    snprintf(what, sizeof what, "%d jobs held", n);
    fp_td_wait_until(td, fp_td_stat_is, &held, 30000, what);
}

long long fp_td_assert_recycled(fp_td_t *td, int children, long long min_retired)
{
    long long retired = fp_td_log_count(td, "is replaced after max_jobs_per_child");
    assert_true(retired >= min_retired);
    assert_int_equal(fp_td_log_count(td, "spawned (pid"), children + retired);
    assert_int_equal(fp_td_log_count(td, "killed by signal"), 0);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    return retired;
}

bool fp_td_children_are(fp_td_t *td, void *arg)
{
    int kids[256];
    return fp_th_proc_children(td->pid, kids, 256) == *(int *)arg;
}

bool fp_td_log_has(fp_td_t *td, void *arg)
{
    return fp_td_log_count(td, arg) > 0;
}

bool fp_td_log_at_least(fp_td_t *td, void *arg)
{
    const fp_td_log_n_t *w = arg;
    return fp_td_log_count(td, w->needle) >= w->n;
}

bool fp_td_pending_is(fp_td_t *td, void *arg)
{
    return fp_td_pending(td) == *(long long *)arg;
}

bool fp_td_drained(fp_td_t *td, void *arg)
{
    (void)arg;
    return fp_td_xlen(td, FP_TD_JOBS) == 0 && fp_td_pending(td) == 0;
}

bool fp_td_dead_is(fp_td_t *td, void *arg)
{
    return fp_td_xlen(td, FP_TD_DEAD) == *(long long *)arg;
}

long long fp_td_delayed_count(fp_td_t *td, const char *needle)
{
    redisReply *r = fp_th_redis_cmd(&td->redis, "ZRANGE %s 0 -1", FP_TD_DELAYED);
    assert_non_null(r);
    long long n = 0;
    for (size_t i = 0; i < r->elements; i++)
        n += strstr(r->element[i]->str, needle) != NULL;
    freeReplyObject(r);
    return n;
}

bool fp_td_delayed_is(fp_td_t *td, void *arg)
{
    return fp_td_zcard(td, FP_TD_DELAYED) == *(long long *)arg;
}

bool fp_td_redis_has(fp_td_t *td, void *arg)
{
    return fp_th_redis_int(&td->redis, "EXISTS %s", (const char *)arg) == 1;
}

bool fp_td_events_at_least(fp_td_t *td, void *arg)
{
    return fp_td_sql(td, "SELECT count(*) FROM events") >= *(long long *)arg;
}

bool fp_td_file_has(fp_td_t *td, void *arg)
{
    (void)td;
    const fp_td_file_has_t *w = arg;
    char *text = fp_th_read_file(w->path, NULL);
    bool yes = text != NULL && strstr(text, w->needle) != NULL;
    free(text);
    return yes;
}

int fp_td_health_port(const fp_td_t *td)
{
    return td->health_port;
}

int fp_td_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* fp_td_http_get, but -1 when nothing listens on port (yet): for waits
 * that start before the daemon does. */
/* One request on a fresh connection; -1 when nothing listens. */
static int http_request(int port, const char *method, const char *path, const char *headers,
                        char **head, char **body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    char req[1024];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n",
                     method, path, headers != NULL ? headers : "");
    assert_true(n > 0 && (size_t)n < sizeof req);
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)r;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
    }
    close(fd);
    buf[len] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    char *start = strstr(buf, "\r\n\r\n");
    if (body != NULL)
        *body = strdup(start != NULL ? start + 4 : "");
    if (start != NULL)
        start[2] = '\0';
    if (head != NULL)
        *head = strdup(buf);
    free(buf);
    return status;
}

static int http_get(int port, const char *path, char **body)
{
    return http_request(port, "GET", path, NULL, NULL, body);
}

int fp_td_http(int port, const char *method, const char *path, const char *headers, char **head,
               char **body)
{
    int status = http_request(port, method, path, headers, head, body);
    if (status < 0)
        fail_msg("nothing listens on 127.0.0.1:%d", port);
    return status;
}

int fp_td_http_get(int port, const char *path, char **body)
{
    int status = http_get(port, path, body);
    if (status < 0)
        fail_msg("nothing listens on 127.0.0.1:%d", port);
    return status;
}

bool fp_td_readyz_is(fp_td_t *td, void *arg)
{
    (void)td;
    fp_td_ready_t *r = arg;
    return fp_td_http_get(r->port, "/readyz", NULL) == r->status;
}

/* The body of GET path (owned), or NULL unless it answered 200. */
static char *page(fp_td_t *td, const char *path)
{
    char *body = NULL;
    if (fp_td_http_get(fp_td_health_port(td), path, &body) != 200) {
        free(body);
        body = NULL;
    }
    return body;
}

bool fp_td_page_has(fp_td_t *td, void *arg)
{
    const fp_td_page_t *w = arg;
    char *body = NULL;
    fp_td_http_get(fp_td_health_port(td), w->path, &body);
    bool found = body != NULL && strstr(body, w->needle) != NULL;
    free(body);
    return found;
}

double fp_td_metric(fp_td_t *td, const char *name)
{
    char *body = page(td, "/metrics");
    double v = -1;
    size_t len = strlen(name);
    for (const char *line = body; line != NULL && *line != '\0'; line = strchr(line, '\n')) {
        line += *line == '\n';
        if (strncmp(line, name, len) == 0 && line[len] == ' ') {
            v = strtod(line + len + 1, NULL);
            break;
        }
    }
    free(body);
    return v;
}

double fp_td_stat(fp_td_t *td, const char *path)
{
    char *body = page(td, "/stats");
    cJSON *doc = body != NULL ? cJSON_Parse(body) : NULL;
    free(body);
    const cJSON *at = doc;
    char name[64];
    for (const char *p = path; at != NULL && *p != '\0';) {
        size_t n = strcspn(p, ".");
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        at = cJSON_GetObjectItem(at, name);
        p += n + (p[n] == '.');
    }
    double v = cJSON_IsNumber(at) ? at->valuedouble : cJSON_IsBool(at) ? cJSON_IsTrue(at) : -1;
    cJSON_Delete(doc);
    return v;
}

bool fp_td_metric_is(fp_td_t *td, void *arg)
{
    const fp_td_num_t *w = arg;
    return fp_td_metric(td, w->name) == w->value;
}

bool fp_td_metric_at_least(fp_td_t *td, void *arg)
{
    const fp_td_num_t *w = arg;
    return fp_td_metric(td, w->name) >= w->value;
}

bool fp_td_stat_is(fp_td_t *td, void *arg)
{
    const fp_td_num_t *w = arg;
    return fp_td_stat(td, w->name) == w->value;
}

bool fp_td_stat_at_least(fp_td_t *td, void *arg)
{
    const fp_td_num_t *w = arg;
    return fp_td_stat(td, w->name) >= w->value;
}

/* ---- start-up: waiting on the daemon's own state ------------------------- */

#define START_TIMEOUT_MS 60000
#define START_TRIES 5

/* What one /stats document says of the start: every child said ready (one
 * is idle or busy and none is starting: the condition the supervisor writes
 * "pool ready" on) and, when connected is asked, Redis is connected
 * (counters.redis_connected, set when it writes "connected to Redis"). */
static bool stats_say_ready(int port, bool connected)
{
    char *body = NULL;
    int status = http_get(port, "/stats", &body);
    cJSON *doc = status == 200 ? cJSON_Parse(body) : NULL;
    free(body);
    const cJSON *child;
    int up = 0, starting = 0;
    cJSON_ArrayForEach(child, cJSON_GetObjectItem(doc, "children")) {
        const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(child, "state"));
        starting += state != NULL && strcmp(state, "starting") == 0;
        up += state != NULL && (strcmp(state, "idle") == 0 || strcmp(state, "busy") == 0);
    }
    const cJSON *counters = cJSON_GetObjectItem(doc, "counters");
    bool redis = cJSON_IsTrue(cJSON_GetObjectItem(counters, "redis_connected"));
    cJSON_Delete(doc);
    return up > 0 && starting == 0 && (redis || !connected);
}

typedef struct start_s {
    bool connected;
    bool gone;  /* the daemon exited, */
    int status; /* with this status (or -errno from waitpid) */
} start_t;

/* Condition: the daemon is ready, or it exited (then waiting longer is
 * pointless). */
static bool started_or_gone(fp_td_t *td, void *arg)
{
    start_t *s = arg;
    int status = fp_th_wait(td->pid, 0);
    if (status != -ETIMEDOUT) {
        s->gone = true;
        s->status = status;
        td->pid = 0;
        return true;
    }
    if (td->health_port > 0)
        return stats_say_ready(td->health_port, s->connected);
    /* Health off (fp_td_health_off): the daemon then says it only in its
     * log, so the log's wording is all there is to wait on. */
    return fp_td_log_count(td, "pool ready") > 0 &&
           (!s->connected || fp_td_log_count(td, "connected to Redis") > 0);
}

/* Waits until td's daemon is ready (true) or has exited (false, its status
 * in *status). */
static bool wait_started(fp_td_t *td, bool connected, int *status)
{
    start_t s = {connected, false, 0};
    fp_td_wait_until(td, started_or_gone, &s, START_TIMEOUT_MS,
                     connected ? "every child ready and Redis connected" : "every child ready");
    *status = s.status;
    return !s.gone;
}

static void fail_exited_early(const fp_td_t *td, int status)
{
    char why[96];
    snprintf(why, sizeof why, "the daemon exited (status %d) before it was ready", status);
    fp_td_fail_with_log(td, why);
}

void fp_td_wait_ready(fp_td_t *td, bool connected)
{
    int status;
    if (!wait_started(td, connected, &status))
        fail_exited_early(td, status);
}

/* Whether the daemon's start failed on its health port being taken: only
 * its last words say so (every configuration error exits with 78). */
static bool health_port_taken(const fp_td_t *td)
{
    char needle[96];
    snprintf(needle, sizeof needle, "cannot listen on 127.0.0.1:%d: Address already in use",
             td->health_port);
    return td->health_port > 0 && fp_td_log_count(td, needle) > 0;
}

void fp_td_start_ready(fp_td_t *td, bool connected)
{
    for (int attempt = 1;; attempt++) {
        struct stat st;
        off_t log_len = stat(td->log, &st) == 0 ? st.st_size : 0;
        fp_td_start(td, false);
        int status;
        if (wait_started(td, connected, &status))
            return;
        if (attempt == START_TRIES || !health_port_taken(td))
            fail_exited_early(td, status);
        /* Someone took the port between fp_td_new's probe and the daemon's
         * bind, as fp_th_redis_start allows for Redis: that start was the
         * fixture's, not the test's, so its lines go and it starts again on
         * another port. */
        assert_int_equal(truncate(td->log, log_len), 0);
        move_health(td, fresh_port());
    }
}

bool fp_td_kill_random_child(fp_td_t *td)
{
    int kids[64];
    int n = fp_th_proc_children(td->pid, kids, 64);
    return n > 0 && kill(kids[rand() % n], SIGKILL) == 0;
}

void fp_td_let_time_pass(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}
