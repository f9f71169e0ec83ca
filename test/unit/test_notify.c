/* test_notify.c: the sd_notify messages forkpool sends, byte for byte, and
 * the parsing of $WATCHDOG_USEC and $NOTIFY_SOCKET; and one datagram
 * actually sent to a socket of the test's own. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/notify.h"

static void expect_format(fp_notify_kind_t kind, const char *status, uint64_t usec,
                          const char *want)
{
    char buf[FP_NOTIFY_MSG_MAX];
    int n = fp_notify_format(buf, sizeof buf, kind, status, usec);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
}

static void test_format_each_kind(void **state)
{
    (void)state;
    expect_format(FP_NOTIFY_READY, NULL, 0, "READY=1");
    expect_format(FP_NOTIFY_READY, "", 0, "READY=1");
    expect_format(FP_NOTIFY_READY, "serving 4 children", 0, "READY=1\nSTATUS=serving 4 children");
    expect_format(FP_NOTIFY_RELOADING, NULL, 1234567, "RELOADING=1\nMONOTONIC_USEC=1234567");
    expect_format(FP_NOTIFY_RELOADING, "reloading", 18446744073709551615ull,
                  "RELOADING=1\nMONOTONIC_USEC=18446744073709551615\nSTATUS=reloading");
    expect_format(FP_NOTIFY_STOPPING, NULL, 0, "STOPPING=1");
    expect_format(FP_NOTIFY_STOPPING, "draining", 0, "STOPPING=1\nSTATUS=draining");
    /* The watchdog ping never carries anything else. */
    expect_format(FP_NOTIFY_WATCHDOG, "ignored", 99, "WATCHDOG=1");
}

static void test_format_status_is_one_line(void **state)
{
    (void)state;
    expect_format(FP_NOTIFY_READY, "a\nb\rc", 0, "READY=1\nSTATUS=a b c");
}

static void test_format_limits(void **state)
{
    (void)state;
    char buf[64];
    /* A long status is cut to fit. */
    char status[200];
    memset(status, 'x', sizeof status - 1);
    status[sizeof status - 1] = '\0';
    int n = fp_notify_format(buf, sizeof buf, FP_NOTIFY_READY, status, 0);
    assert_int_equal(n, (int)sizeof buf - 1);
    assert_int_equal(strlen(buf), sizeof buf - 1);
    assert_memory_equal(buf, "READY=1\nSTATUS=xxx", 18);
    /* Too small for the message itself. */
    assert_int_equal(fp_notify_format(buf, 8, FP_NOTIFY_STOPPING, NULL, 0), -ENOSPC);
    assert_int_equal(fp_notify_format(buf, 20, FP_NOTIFY_RELOADING, NULL, 12345678901234ull),
                     -ENOSPC);
    assert_int_equal(fp_notify_format(buf, 0, FP_NOTIFY_READY, NULL, 0), -ENOSPC);
    /* Just room for the message: the status is left out, not half-written. */
    assert_int_equal(fp_notify_format(buf, 8, FP_NOTIFY_READY, "up", 0), 7);
    assert_string_equal(buf, "READY=1");
    assert_int_equal(fp_notify_format(buf, sizeof buf, (fp_notify_kind_t)42, NULL, 0), -EINVAL);
}

static void test_parse_usec(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(fp_notify_parse_usec("200000", &v), 0);
    assert_int_equal(v, 200000);
    assert_int_equal(fp_notify_parse_usec("30000000", &v), 0);
    assert_int_equal(v, 30000000);
    const char *bad[] = {NULL, "", "0", "-5", " 5", "5s", "1e6", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fp_notify_parse_usec(bad[i], &v), -EINVAL);
}

static void test_parse_addr(void **state)
{
    (void)state;
    struct sockaddr_un a;
    socklen_t len = 0;
    fp_err_t err;
    fp_err_clear(&err);
    assert_int_equal(fp_notify_parse_addr("/run/systemd/notify", &a, &len, &err), 0);
    assert_string_equal(a.sun_path, "/run/systemd/notify");
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/systemd/notify") + 1);
    assert_int_equal(fp_notify_parse_addr("@sd-notify", &a, &len, &err), 0);
    assert_int_equal(a.sun_path[0], '\0');
    assert_memory_equal(a.sun_path + 1, "sd-notify", 9);
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + strlen("@sd-notify"));
    assert_int_equal(fp_notify_parse_addr("relative/path", &a, &len, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "absolute path"));
    assert_int_equal(fp_notify_parse_addr("", &a, &len, &err), -EINVAL);
    assert_int_equal(fp_notify_parse_addr("@", &a, &len, &err), -EINVAL);
    char longp[200] = "/";
    memset(longp + 1, 'p', sizeof longp - 2);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(fp_notify_parse_addr(longp, &a, &len, &err), -ENAMETOOLONG);
}

/* The sender end to end: one datagram per message on a socket the test
 * binds, the variables gone from the environment afterwards, and nothing
 * at all without NOTIFY_SOCKET. */
static void test_send_and_environment(void **state)
{
    (void)state;
    char dir[] = "/tmp/fp_notify_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/notify.sock", dir);
    int rx = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(rx >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(rx, (struct sockaddr *)&a, sizeof a), 0);

    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "200000", 1);
    fp_notify_t n;
    fp_notify_open(&n);
    assert_true(n.fd >= 0);
    assert_int_equal(n.watchdog_usec, 200000);
    assert_null(getenv("NOTIFY_SOCKET"));
    assert_null(getenv("WATCHDOG_USEC"));
    fp_notify_send(&n, FP_NOTIFY_READY, "up");
    fp_notify_send(&n, FP_NOTIFY_RELOADING, NULL);
    char buf[512];
    ssize_t got = recv(rx, buf, sizeof buf - 1, 0);
    assert_true(got > 0);
    buf[got] = '\0';
    assert_string_equal(buf, "READY=1\nSTATUS=up");
    got = recv(rx, buf, sizeof buf - 1, 0);
    assert_true(got > 0);
    buf[got] = '\0';
    assert_memory_equal(buf, "RELOADING=1\nMONOTONIC_USEC=", 27);
    assert_true(strtoull(buf + 27, NULL, 10) > 0);
    fp_notify_close(&n);

    /* Unset: disabled, and sending is a no-op. */
    fp_notify_open(&n);
    assert_false(n.fd >= 0);
    assert_int_equal(n.watchdog_usec, 0);
    fp_notify_send(&n, FP_NOTIFY_STOPPING, NULL);
    fp_notify_close(&n);

    /* Nobody listens: the failure is logged once and the send returns. */
    close(rx);
    unlink(path);
    setenv("NOTIFY_SOCKET", path, 1);
    fp_notify_open(&n);
    assert_true(n.fd >= 0);
    fp_notify_send(&n, FP_NOTIFY_READY, NULL);
    assert_true(n.warned);
    fp_notify_send(&n, FP_NOTIFY_STOPPING, NULL);
    fp_notify_close(&n);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_each_kind),
        cmocka_unit_test(test_format_status_is_one_line),
        cmocka_unit_test(test_format_limits),
        cmocka_unit_test(test_parse_usec),
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_send_and_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
