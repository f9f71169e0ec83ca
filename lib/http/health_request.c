/* health_request.c: one HTTP request judged without a socket: the head
 * counted against its limits (414, 431), a declared body against its limit
 * (413), the verdict before any route runs (405, 400, 404) and the answer to
 * a parse that stopped. The server's connections and fp_health_request_status
 * (what the fuzz target and the unit tests drive) use the same functions, so
 * the path that is tested is the one that serves. */
#include "http/health_request.h"

#include <string.h>

int fp_health_head_verdict(size_t url_bytes, size_t head_bytes)
{
    if (url_bytes > FP_HEALTH_MAX_URL_BYTES)
        return 414;
    if (head_bytes > FP_HEALTH_MAX_HEADER_BYTES)
        return 431;
    return 0;
}

static const fp_health_route_t *find_route(const fp_health_route_t *routes, size_t n,
                                           const char *path, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = routes[i].path;
        if (p != NULL && strlen(p) == len && memcmp(p, path, len) == 0)
            return &routes[i];
    }
    return NULL;
}

/* What a complete request gets before any route runs: 405 for any method but
 * GET and HEAD whatever the path (the Allow header names the only methods
 * the server has), 400 for a target that is not a URL, 404 for an unknown
 * path; 0 with *route set when a route answers. */
int fp_health_request_verdict(const fp_health_route_t *routes, size_t n, unsigned method,
                           const fp_buf_t *url, const fp_health_route_t **route)
{
    if (method != HTTP_GET && method != HTTP_HEAD)
        return 405;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (url->len == 0 || http_parser_parse_url(url->data, url->len, 0, &u) != 0)
        return 400;
    const char *path = "/";
    size_t path_len = 1;
    if (u.field_set & (1 << UF_PATH)) {
        path = url->data + u.field_data[UF_PATH].off;
        path_len = u.field_data[UF_PATH].len;
    }
    *route = find_route(routes, n, path, path_len);
    return *route != NULL ? 0 : 404;
}

/* Refuse a declared large body before reading any of it. */
bool fp_health_body_too_large(const http_parser *p)
{
    return (p->flags & F_CONTENTLENGTH) && p->content_length > FP_HEALTH_MAX_BODY_BYTES;
}

/* Counts head bytes; a failing callback stops the parser, and the caller
 * answers head->reject. Called at the latest when a read is parsed, so what
 * is held stays within one read of the limits. */
static int head_count(fp_health_head_t *hd, size_t len)
{
    hd->head_bytes += len;
    hd->reject = fp_health_head_verdict(hd->url_bytes, hd->head_bytes);
    return hd->reject != 0 ? -1 : 0;
}

void fp_health_head_reset(fp_health_head_t *hd)
{
    hd->in_field = false;
    hd->head_bytes = 0;
    hd->url_bytes = 0;
    hd->url.len = 0;
}

int fp_health_head_url(fp_health_head_t *hd, const char *at, size_t len)
{
    hd->url_bytes += len;
    if (hd->url_bytes <= FP_HEALTH_MAX_URL_BYTES && fp_buf_append(&hd->url, at, len) != 0)
        return -1;
    return head_count(hd, len);
}

/* A header line costs its name, value, ": " and CRLF; partial callbacks for
 * one name are told apart by which callback came last. */
int fp_health_head_field(fp_health_head_t *hd, size_t len)
{
    if (!hd->in_field)
        len += 4;
    hd->in_field = true;
    return head_count(hd, len);
}

int fp_health_head_value(fp_health_head_t *hd, size_t len)
{
    hd->in_field = false;
    return head_count(hd, len);
}

/* The answer to a stopped parse: reject is 414 or 431 from the head counting
 * callbacks, or 0. */
int fp_health_parse_error_status(int reject, enum http_errno e)
{
    if (reject != 0)
        return reject;
    if (e == HPE_HEADER_OVERFLOW)
        return 431;
    if (e >= HPE_CB_message_begin && e <= HPE_CB_chunk_complete)
        return 500; /* our callbacks fail only on ENOMEM */
    return 400;
}

/* ---- one request without a connection ---------------------------------- */

/* The parser's state for fp_health_request_status: what the server's
 * callbacks keep, without the connection around it. */
typedef struct probe_s {
    fp_health_head_t head;
    uint64_t body_bytes;
    int status; /* 413 */
    bool complete;
} probe_t;

static int probe_on_url(http_parser *p, const char *at, size_t len)
{
    return fp_health_head_url(&((probe_t *)p->data)->head, at, len);
}

static int probe_on_header_field(http_parser *p, const char *at, size_t len)
{
    return fp_health_head_field(&((probe_t *)p->data)->head, len);
}

static int probe_on_header_value(http_parser *p, const char *at, size_t len)
{
    return fp_health_head_value(&((probe_t *)p->data)->head, len);
}

static int probe_on_headers_complete(http_parser *p)
{
    if (fp_health_body_too_large(p))
        ((probe_t *)p->data)->status = 413;
    return 0;
}

static int probe_on_body(http_parser *p, const char *at, size_t len)
{
    probe_t *pr = p->data;
    pr->body_bytes += len;
    if (pr->body_bytes > FP_HEALTH_MAX_BODY_BYTES)
        pr->status = 413;
    return 0;
}

static int probe_on_message_complete(http_parser *p)
{
    ((probe_t *)p->data)->complete = true;
    http_parser_pause(p, 1); /* the first request only */
    return 0;
}

static int probe_route(const fp_health_route_t *routes, size_t n, void *ctx, unsigned method,
                       const fp_buf_t *url)
{
    const fp_health_route_t *route = NULL;
    int status = fp_health_request_verdict(routes, n, method, url, &route);
    if (status != 0)
        return status;
    fp_buf_t body = {0};
    const char *content_type = NULL;
    status = route->fn(ctx, &body, &content_type);
    fp_buf_free(&body);
    return status >= 100 && status <= 599 ? status : 500;
}

int fp_health_request_status(const char *data, size_t len, const fp_health_route_t *routes,
                             size_t n, void *ctx)
{
    probe_t pr = {0};
    http_parser parser;
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = &pr;
    http_parser_settings settings;
    http_parser_settings_init(&settings);
    settings.on_url = probe_on_url;
    settings.on_header_field = probe_on_header_field;
    settings.on_header_value = probe_on_header_value;
    settings.on_headers_complete = probe_on_headers_complete;
    settings.on_body = probe_on_body;
    settings.on_message_complete = probe_on_message_complete;
    http_parser_set_max_header_size(FP_HEALTH_MAX_URL_BYTES + FP_HEALTH_MAX_HEADER_BYTES +
                                    FP_HEALTH_READ_BUF_BYTES); /* as fp_health_start sets it */
    http_parser_execute(&parser, &settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&parser);
    int status = pr.status;
    if (status == 0 && e != HPE_OK && e != HPE_PAUSED)
        status = fp_health_parse_error_status(pr.head.reject, e);
    if (status == 0 && pr.complete)
        status = probe_route(routes, n, ctx, parser.method, &pr.head.url);
    fp_buf_free(&pr.head.url);
    return status;
}
