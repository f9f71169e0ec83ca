/* fuzz_http.c: the health endpoint's request handling (http-parser with the
 * server's limits, routing, error answers) on arbitrary bytes, without
 * sockets. Every answer must be one the server can give. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/health.h"

static int route_ok(void *ctx, fp_buf_t *body, const char **content_type)
{
    return fp_buf_append(body, "ok\n", 3) == 0 ? 200 : 500;
}

static int route_broken(void *ctx, fp_buf_t *body, const char **content_type)
{
    return -1;
}

static const fp_health_route_t routes[] = {
    {.path = "/healthz", .fn = route_ok},
    {.path = "/readyz", .fn = route_ok},
    {.path = "/metrics", .fn = route_broken},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int allowed[] = {0, 200, 400, 404, 405, 413, 414, 431, 500};
    int status = fp_health_request_status((const char *)data, size, routes,
                                          sizeof routes / sizeof routes[0], NULL);
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (status == allowed[i])
            return 0;
    abort();
}
