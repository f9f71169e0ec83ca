/* test_it_notify.c: what systemd hears (the sd_notify protocol, spoken by
 * lib/supervisor/notify.c) from the real binary. The test plays systemd: it
 * binds a unix datagram socket in the temp dir, starts the daemon with
 * NOTIFY_SOCKET naming it, and reads the messages in order: READY=1 once
 * the pool is up and the queue connected, RELOADING=1 (with MONOTONIC_USEC)
 * then READY=1 around a HUP, STOPPING=1 on TERM, WATCHDOG=1 pings when
 * WATCHDOG_USEC is set; and a child does not inherit those variables. No
 * assertion on timing: every wait is only a generous upper bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"

#define WAIT_MS 60000

typedef struct listener_s {
    int fd;
    char path[108];
    long long watchdogs; /* WATCHDOG=1 pings seen so far, skipped by next_message */
} listener_t;

static void listen_in(fp_td_t *td, listener_t *l)
{
    memset(l, 0, sizeof *l);
    int n = snprintf(l->path, sizeof l->path, "%s/notify.sock", td->dir);
    assert_true(n > 0 && (size_t)n < sizeof l->path);
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(l->fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, l->path, (size_t)n + 1);
    assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof a), 0);
}

static void listener_close(listener_t *l)
{
    close(l->fd);
    unlink(l->path);
}

/* The next message other than a watchdog ping (those are counted), within
 * WAIT_MS; fails the test, with the daemon's log, when none comes. */
static void next_message(fp_td_t *td, listener_t *l, char *buf, size_t size)
{
    for (;;) {
        struct pollfd p = {.fd = l->fd, .events = POLLIN};
        int r = poll(&p, 1, WAIT_MS);
        if (r <= 0) {
            char *log = fp_th_read_file(td->log, NULL);
            print_error("no notify message within %d ms; log:\n%s\n", WAIT_MS, log ? log : "");
            free(log);
            fail();
        }
        ssize_t got = recv(l->fd, buf, size - 1, 0);
        assert_true(got > 0);
        buf[got] = '\0';
        if (strcmp(buf, "WATCHDOG=1") != 0)
            return;
        l->watchdogs++;
    }
}

static void expect_message(fp_td_t *td, listener_t *l, const char *prefix)
{
    char buf[1024];
    next_message(td, l, buf, sizeof buf);
    if (strncmp(buf, prefix, strlen(prefix)) != 0) {
        print_error("expected a message starting \"%s\", got \"%s\"\n", prefix, buf);
        fail();
    }
}

/* An exec pool of one child running test/data/exec_worker.py, whose "env"
 * job prints its environment to the daemon's log. */
static void exec_config(fp_td_t *td)
{
    char command[4300], text[8192];
    fp_td_exec_worker_command(command, sizeof command, NULL);
    snprintf(text, sizeof text,
             "[pool]\nruntime = \"exec\"\ncommand = %s\nchildren = 1\nkill_grace = \"200ms\"\n",
             command);
    fp_td_config(td, "log_level = \"debug\"\n", text);
}

static void start_with(fp_td_t *td, listener_t *l, const char *watchdog_usec)
{
    setenv("NOTIFY_SOCKET", l->path, 1);
    if (watchdog_usec != NULL)
        setenv("WATCHDOG_USEC", watchdog_usec, 1);
    fp_td_start(td, false);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
}

/* Runs one "env" job and checks what the child saw: forkpool's own
 * variables, none of systemd's meant for the supervisor. */
static void child_env_has_no_notify(fp_td_t *td)
{
    fp_td_enqueue(td, 1, "{\"type\":\"env\",\"id\":\"env%d%d\"}");
    fp_td_log_n_t env = {"child 0: env: FORKPOOL_FD=3", 1};
    fp_td_wait_until(td, fp_td_log_at_least, &env, WAIT_MS, "the env job's output");
    fp_td_wait_until(td, fp_td_drained, NULL, WAIT_MS, "the env job");
    assert_int_equal(fp_td_log_count(td, "env: NOTIFY_SOCKET="), 0);
    assert_int_equal(fp_td_log_count(td, "env: WATCHDOG_USEC="), 0);
    assert_int_equal(fp_td_log_count(td, "env: WATCHDOG_PID="), 0);
}

/* READY=1 after start, RELOADING=1 + MONOTONIC_USEC then READY=1 around a
 * HUP, STOPPING=1 on TERM; no pings without WATCHDOG_USEC. */
static void test_ready_reload_stop(void **state)
{
    fp_td_t *td = *state;
    listener_t l;
    listen_in(td, &l);
    exec_config(td);
    start_with(td, &l, NULL);
    char buf[1024];
    next_message(td, &l, buf, sizeof buf);
    assert_string_equal(buf, "READY=1\nSTATUS=serving: 1 children, queue connected, consumer test-consumer");
    /* Both halves of "ready" held when it was said. */
    assert_true(fp_td_log_count(td, "pool ready") == 1);
    child_env_has_no_notify(td);

    fp_td_signal(td, SIGHUP);
    next_message(td, &l, buf, sizeof buf);
    const char *want = "RELOADING=1\nMONOTONIC_USEC=";
    assert_memory_equal(buf, want, strlen(want));
    char *end = NULL;
    assert_true(strtoull(buf + strlen(want), &end, 10) > 0);
    assert_true(*end == '\n' || *end == '\0');
    expect_message(td, &l, "READY=1\nSTATUS=reloaded: generation 1");

    fp_td_signal(td, SIGTERM);
    expect_message(td, &l, "STOPPING=1");
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_int_equal(l.watchdogs, 0);
    listener_close(&l);
}

/* A HUP whose file is broken is refused: READY=1 follows RELOADING=1 at
 * once, saying so. */
static void test_refused_reload_says_ready_again(void **state)
{
    fp_td_t *td = *state;
    listener_t l;
    listen_in(td, &l);
    fp_td_config(td, NULL, "[pool]\nchildren = 1\n");
    start_with(td, &l, NULL);
    expect_message(td, &l, "READY=1\n");
    fp_td_config(td, NULL, "[pool]\nchildren = \"many\"\n");
    fp_td_signal(td, SIGHUP);
    expect_message(td, &l, "RELOADING=1\nMONOTONIC_USEC=");
    expect_message(td, &l, "READY=1\nSTATUS=reload failed, serving the previous configuration");
    fp_td_signal(td, SIGTERM);
    expect_message(td, &l, "STOPPING=1");
    assert_int_equal(fp_td_wait(td, 30000), 0);
    listener_close(&l);
}

/* WATCHDOG_USEC=200000: pings from the loop, READY=1 among them; the child
 * inherits neither variable. */
static void test_watchdog_pings(void **state)
{
    fp_td_t *td = *state;
    listener_t l;
    listen_in(td, &l);
    exec_config(td);
    start_with(td, &l, "200000");
    expect_message(td, &l, "READY=1\n");
    child_env_has_no_notify(td);
    char buf[1024];
    while (l.watchdogs < 2) {
        /* Only pings come now: next_message would wait for something else. */
        struct pollfd p = {.fd = l.fd, .events = POLLIN};
        assert_true(poll(&p, 1, WAIT_MS) == 1);
        ssize_t got = recv(l.fd, buf, sizeof buf - 1, 0);
        assert_true(got > 0);
        buf[got] = '\0';
        assert_string_equal(buf, "WATCHDOG=1");
        l.watchdogs++;
    }
    fp_td_signal(td, SIGTERM);
    expect_message(td, &l, "STOPPING=1");
    assert_int_equal(fp_td_wait(td, 30000), 0);
    assert_true(l.watchdogs >= 2);
    listener_close(&l);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_ready_reload_stop),
        T(test_refused_reload_says_ready_again),
        T(test_watchdog_pings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
