/* test_it_leaks.c: what a long-running daemon goes through many times —
 * HUP reloads, Redis going away and coming back, health clients coming and
 * going — leaves no memory behind. The daemon runs under ASan with
 * detect_leaks=1, so anything unreachable at exit is a report the fixture
 * fails on; memory still referenced but no longer needed (an old
 * configuration kept for ever) shows up as VmRSS growth instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"

/* Bytes of ballast in the config's one plugin table: a reload that keeps its
 * old configuration keeps this much (and its parse tree) each time. */
#define BALLAST_BYTES (512 * 1024)
#define RELOADS 200

static long vm_rss_kb(int pid)
{
    long kb = fp_th_proc_status(pid, "VmRSS:");
    assert_true(kb > 0);
    return kb;
}

/* The base config plus a [handlers.ballast] table holding a large string. */
static void config_with_ballast(fp_td_t *td)
{
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n");
    char *text = fp_th_read_file(td->config, NULL);
    assert_non_null(text);
    size_t len = strlen(text);
    static const char head[] = "[handlers.ballast]\ndata = \"";
    char *out = malloc(len + sizeof head + BALLAST_BYTES + 4);
    assert_non_null(out);
    memcpy(out, text, len);
    memcpy(out + len, head, sizeof head - 1);
    size_t at = len + sizeof head - 1;
    memset(out + at, 'b', BALLAST_BYTES);
    memcpy(out + at + BALLAST_BYTES, "\"\n", 3);
    assert_int_equal(fp_th_write_file(td->config, out, strlen(out)), 0);
    free(out);
    free(text);
}

/* The n-th HUP, and its configuration applied (/stats' generation). */
static void reload_and_wait(fp_td_t *td, long long n)
{
    fp_td_signal(td, SIGHUP);
    fp_td_num_t applied = {"reload.generation", (double)n};
    fp_td_wait_until(td, fp_td_stat_is, &applied, 30000, "the reload");
}

/* 200 reloads of a config with 512 KiB in it: the daemon's RSS after them is
 * about what it was after the first few, not 100 MB more. */
static void test_hup_reloads_do_not_grow(void **state)
{
    fp_td_t *td = *state;
    config_with_ballast(td);
    fp_td_start_ready(td, true);
    for (long long i = 1; i <= 10; i++)
        reload_and_wait(td, i);
    long before = vm_rss_kb(td->pid);
    for (long long i = 11; i <= RELOADS; i++)
        reload_and_wait(td, i);
    long after = vm_rss_kb(td->pid);
    print_message("VmRSS after 10 reloads %ld kB, after %d: %ld kB\n", before, RELOADS, after);
    /* Kept configurations would add 190 x 512 KiB = 95 MB. */
    assert_true(after - before < 24 * 1024);
    fp_td_enqueue(td, 5, "{\"type\":\"noop\",\"id\":\"h%d-%d\"}");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

/* Redis goes away and comes back 20 times; each reconnect is logged. */
static void test_redis_restarts_leave_nothing(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n");
    fp_td_start_ready(td, true);
    for (int i = 1; i <= 20; i++)
        fp_td_redis_restart(td);
    assert_true(fp_td_log_count(td, "reconnected to Redis") >= 20);
    /* fp_td_enqueue writes on the test's own connection, dropped by the
     * restarts: a command through fp_th_redis_cmd opens it again. */
    redisReply *pong = fp_th_redis_cmd(&td->redis, "PING");
    assert_non_null(pong);
    freeReplyObject(pong);
    fp_td_enqueue(td, 5, "{\"type\":\"noop\",\"id\":\"r%d-%d\"}");
    fp_td_wait_until(td, fp_td_drained, NULL, 30000, "the jobs after the restarts");
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

/* 2,000 health clients that close at every point of a request: before
 * sending, mid-request, after a full request without reading, after reading.
 * The daemon exits cleanly and LeakSanitizer finds nothing. */
static void test_health_client_churn_leaves_nothing(void **state)
{
    fp_td_t *td = *state;
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n");
    fp_td_start_ready(td, true);
    int port = fp_td_health_port(td);
    assert_true(port > 0);
    static const char *const sends[] = {
        "", "GET /metr", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /stats HTTP/1.1\r\n", "\x01\x02junk\r\n\r\n"};
    for (int i = 0; i < 2000; i++) {
        int fd = fp_td_connect(port);
        assert_true(fd >= 0);
        const char *s = sends[i % 5];
        if (*s != '\0')
            (void)!write(fd, s, strlen(s));
        close(fd);
        if (i % 100 == 0)
            assert_int_equal(fp_td_http_get(port, "/healthz", NULL), 200);
    }
    assert_int_equal(fp_td_http_get(port, "/healthz", NULL), 200);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* churned clients close under the server's writes */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hup_reloads_do_not_grow, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_redis_restarts_leave_nothing, fp_td_setup_aof, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_health_client_churn_leaves_nothing, fp_td_setup, fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
