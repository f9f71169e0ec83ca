/* test_health_request.c: fp_health_request_status, the server's parse and
 * routing of one request without a socket (what the http fuzz target drives).
 * The answers must be the ones test_health sees over a real connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
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

/* A POST route that records what it was given: the token and the query. */
typedef struct seen_s {
    int calls;
    char token[FP_HEALTH_TOKEN_MAX + 2];
    bool has_token;
    char query[64];
} seen_t;

static seen_t g_seen;

static int route_post(void *ctx, const fp_health_req_t *req, fp_buf_t *body,
                      const char **content_type)
{
    g_seen.calls++;
    g_seen.has_token = req->token != NULL;
    snprintf(g_seen.token, sizeof g_seen.token, "%s", req->token != NULL ? req->token : "");
    snprintf(g_seen.query, sizeof g_seen.query, "%s", req->query);
    return 202;
}

static const fp_health_route_t routes[] = {
    {.path = "/act", .post = route_post},
    {.path = "/both", .fn = route_ok, .post = route_post},
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

/* POST reaches only the routes that take it; the token header is found
 * whatever its case, the query comes without its '?'. */
static void test_post(void **state)
{
    int calls = 0;
    memset(&g_seen, 0, sizeof g_seen);
    assert_int_equal(status_of("POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &calls), 405);
    assert_int_equal(status_of("GET /act HTTP/1.1\r\n\r\n", &calls), 405);
    assert_int_equal(status_of("POST /nope HTTP/1.1\r\n\r\n", &calls), 404);
    assert_int_equal(status_of("PUT /act HTTP/1.1\r\n\r\n", &calls), 405);
    assert_int_equal(g_seen.calls, 0);
    assert_int_equal(status_of("POST /act?queue=a&id=1-0 HTTP/1.1\r\nx-forkpool-TOKEN: s3cret\r\n"
                               "Content-Length: 0\r\n\r\n",
                               &calls),
                     202);
    assert_int_equal(g_seen.calls, 1);
    assert_true(g_seen.has_token);
    assert_string_equal(g_seen.token, "s3cret");
    assert_string_equal(g_seen.query, "queue=a&id=1-0");
    /* Without the header: no token; a look-alike header is not it. */
    assert_int_equal(status_of("POST /both HTTP/1.1\r\nX-Forkpool-Tokens: s3cret\r\n\r\n", &calls), 202);
    assert_false(g_seen.has_token);
    assert_string_equal(g_seen.query, "");
    assert_int_equal(status_of("GET /both HTTP/1.1\r\n\r\n", &calls), 503);
    assert_int_equal(calls, 1);
}

/* A token longer than FP_HEALTH_TOKEN_MAX is kept as "" (never matches),
 * not cut to a prefix that might; a body over the limit is refused before
 * the route runs. */
static void test_post_limits(void **state)
{
    int calls = 0;
    char req[1024];
    char tok[FP_HEALTH_TOKEN_MAX + 2];
    memset(tok, 'k', sizeof tok - 1);
    tok[sizeof tok - 1] = '\0';
    memset(&g_seen, 0, sizeof g_seen);
    snprintf(req, sizeof req, "POST /act HTTP/1.1\r\nX-Forkpool-Token: %s\r\n\r\n", tok);
    assert_int_equal(status_of(req, &calls), 202);
    assert_true(g_seen.has_token);
    assert_string_equal(g_seen.token, "");
    tok[FP_HEALTH_TOKEN_MAX] = '\0'; /* exactly the limit: kept whole */
    snprintf(req, sizeof req, "POST /act HTTP/1.1\r\nX-Forkpool-Token: %s\r\n\r\n", tok);
    assert_int_equal(status_of(req, &calls), 202);
    assert_int_equal(strlen(g_seen.token), FP_HEALTH_TOKEN_MAX);
    g_seen.calls = 0;
    assert_int_equal(status_of("POST /act HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", &calls), 413);
    assert_int_equal(g_seen.calls, 0);
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
        cmocka_unit_test(test_post),
        cmocka_unit_test(test_post_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
