/* test_health_request.c: fp_health_request_status, the server's parse and
 * routing of one request without a socket (what the http fuzz target drives).
 * The answers must be the ones test_health sees over a real connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "http/health.h"

static int route_ok(void *ctx, fp_buf_t *body, const char **content_type)
{
    (*(int *)ctx)++;
    return fp_buf_append(body, "ok\n", 3) == 0 ? 503 : 500;
}

static int route_broken(void *ctx, fp_buf_t *body, const char **content_type)
{
    return -22;
}

static const fp_health_route_t routes[] = {
    {.path = "/healthz", .fn = route_ok},
    {.path = "/broken", .fn = route_broken},
};

static int status_of(const char *request, int *calls)
{
    return fp_health_request_status(request, strlen(request), routes,
                                    sizeof routes / sizeof routes[0], calls);
}

static void test_routes_answer(void **state)
{
    int calls = 0;
    assert_int_equal(status_of("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &calls), 503);
    assert_int_equal(status_of("HEAD /healthz?verbose=1 HTTP/1.0\r\n\r\n", &calls), 503);
    assert_int_equal(status_of("GET http://h:1/healthz HTTP/1.1\r\n\r\n", &calls), 503);
    assert_int_equal(calls, 3);
    assert_int_equal(status_of("GET /broken HTTP/1.1\r\n\r\n", &calls), 500);
}

static void test_server_answers(void **state)
{
    int calls = 0;
    assert_int_equal(status_of("GET /nope HTTP/1.1\r\n\r\n", &calls), 404);
    assert_int_equal(status_of("DELETE /healthz HTTP/1.1\r\n\r\n", &calls), 405);
    assert_int_equal(status_of("GARBAGE\r\n\r\n", &calls), 400);
    assert_int_equal(status_of("GET /healthz HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", &calls),
                     413);
    assert_int_equal(calls, 0);
}

static void test_header_limit(void **state)
{
    size_t n = FP_HEALTH_MAX_HEADER_BYTES + 100;
    char *req = malloc(n + 64);
    assert_non_null(req);
    strcpy(req, "GET /healthz HTTP/1.1\r\nX-Pad: ");
    size_t at = strlen(req);
    memset(req + at, 'a', n);
    strcpy(req + at + n, "\r\n\r\n");
    int calls = 0;
    assert_int_equal(status_of(req, &calls), 431);
    free(req);
}

static void test_url_limit(void **state)
{
    size_t n = FP_HEALTH_MAX_URL_BYTES + 100;
    char *req = malloc(n + 64);
    assert_non_null(req);
    strcpy(req, "GET /");
    memset(req + 5, 'a', n);
    strcpy(req + 5 + n, " HTTP/1.1\r\n\r\n");
    int calls = 0;
    assert_int_equal(status_of(req, &calls), 414);
    free(req);
}

/* Bytes that are not a whole request yet: no answer. */
static void test_incomplete(void **state)
{
    int calls = 0;
    assert_int_equal(status_of("", &calls), 0);
    assert_int_equal(status_of("GET /healthz HTTP/1.1\r\nHost:", &calls), 0);
    assert_int_equal(calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_answer),
        cmocka_unit_test(test_server_answers),
        cmocka_unit_test(test_header_limit),
        cmocka_unit_test(test_url_limit),
        cmocka_unit_test(test_incomplete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
