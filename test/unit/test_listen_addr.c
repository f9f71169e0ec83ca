/* test_listen_addr.c: lib/base/listen_addr.c, the one reader of health.listen.
 * The tables are the specification: every accepted form with the address and
 * port it binds, every refused form with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "base/listen_addr.h"

typedef struct good_s {
    const char *text;
    int family;
    const char *addr; /* as inet_ntop writes it */
    int port;
} good_t;

static const good_t good[] = {
    {"127.0.0.1:9187", AF_INET, "127.0.0.1", 9187},
    {"localhost:1", AF_INET, "127.0.0.1", 1},
    {"0.0.0.0:0", AF_INET, "0.0.0.0", 0},
    {"10.1.2.3:65535", AF_INET, "10.1.2.3", 65535},
    {"[::]:80", AF_INET6, "::", 80},
    {"[::1]:0", AF_INET6, "::1", 0},
    {"[fe80::1]:9187", AF_INET6, "fe80::1", 9187},
};

typedef struct bad_s {
    const char *text, *reason;
} bad_t;

#define HOST_PORT "must be \"host:port\", such as \"127.0.0.1:9187\" (\"\" disables)"
#define NO_HOST "must name a host before the port (\"127.0.0.1:9187\")"
#define PORT "must end in a port from 0 to 65535 (\"127.0.0.1:9187\")"
#define V4_HOST "must use an IPv4 address, \"localhost\" or [IPv6] as host"
#define BRACKETS "must put an IPv6 address in brackets (\"[::1]:9187\")"
#define V6_FORM "must be \"[IPv6]:port\" when it starts with '['"
#define V6_ADDR "has an invalid IPv6 address between '[' and ']'"

static const bad_t bad[] = {
    {"127.0.0.1", HOST_PORT},
    {"9187", HOST_PORT},
    {":9187", NO_HOST},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1", NO_HOST},
    {"127.0.0.1:", PORT},
    {"127.0.0.1:65536", PORT},
    {"127.0.0.1:123456", PORT},
    {"127.0.0.1:80x", PORT},
    {"127.0.0.1:+80", PORT},
    {"127.0.0.1:-1", PORT},
    {"example.com:80", V4_HOST},
    {"256.1.1.1:80", V4_HOST},
    {"1.2.3:80", V4_HOST},
    {"::1:80", BRACKETS},
    {"[::1]80", V6_FORM},
    {"[::1", V6_FORM},
    {"[]:80", V6_FORM},
    {"[zz]:80", V6_ADDR},
    {"[127.0.0.1]:80", V6_ADDR},
    {"[::1]:", PORT},
    {"[::1]:99999", PORT},
};

static void accepted_forms(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        fp_listen_addr_t a;
        char why[160] = "", text[INET6_ADDRSTRLEN];
        const void *raw;
        int port;
        if (fp_listen_parse(good[i].text, &a, why, sizeof why) != 0)
            fail_msg("%s: %s", good[i].text, why);
        assert_false(a.off);
        assert_int_equal(a.ss.ss_family, good[i].family);
        if (good[i].family == AF_INET) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.ss;
            raw = &sin->sin_addr;
            port = ntohs(sin->sin_port);
            assert_int_equal(a.len, sizeof *sin);
        } else {
            const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.ss;
            raw = &sin6->sin6_addr;
            port = ntohs(sin6->sin6_port);
            assert_int_equal(a.len, sizeof *sin6);
        }
        assert_non_null(inet_ntop(good[i].family, raw, text, sizeof text));
        assert_string_equal(text, good[i].addr);
        assert_int_equal(port, good[i].port);
        assert_int_equal(a.port, good[i].port);
    }
}

static void empty_is_off(void **state)
{
    (void)state;
    fp_listen_addr_t a;
    char why[160];
    assert_int_equal(fp_listen_parse("", &a, why, sizeof why), 0);
    assert_true(a.off);
    assert_int_equal(fp_listen_parse(NULL, &a, why, sizeof why), 0);
    assert_true(a.off);
}

static void refused_forms(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fp_listen_addr_t a;
        char why[160] = "";
        if (fp_listen_parse(bad[i].text, &a, why, sizeof why) != -1)
            fail_msg("%s: accepted", bad[i].text);
        if (strcmp(why, bad[i].reason) != 0)
            fail_msg("%s: \"%s\", want \"%s\"", bad[i].text, why, bad[i].reason);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepted_forms),
        cmocka_unit_test(empty_is_off),
        cmocka_unit_test(refused_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
