/* health_request.c: one HTTP request judged without a socket: the head
 * counted against its limits (414, 431), a declared body against its limit
 * (413), the verdict before any route runs (405, 400, 404) and the answer to
 * a parse that stopped. The server's connections and fp_health_request_status
 * (what the fuzz target and the unit tests drive) use the same functions, so
 * the path that is tested is the one that serves. */
#include "http/health_request.h"

#include <ctype.h>
#include <errno.h>
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

static bool route_takes(const fp_health_route_t *r, unsigned method)
{
    return method == HTTP_POST ? r->post != NULL : r->fn != NULL;
}

const char *fp_health_allow_header(const fp_health_route_t *route)
{
    if (route == NULL || (route->fn != NULL && route->post == NULL))
        return "Allow: GET, HEAD\r\n";
    return route->fn != NULL ? "Allow: GET, HEAD, POST\r\n" : "Allow: POST\r\n";
}

/* What a complete request gets before any route runs: 405 for any method but
 * GET, HEAD and POST whatever the path (the Allow header then names the
 * read-only methods), 400 for a target that is not a URL, 404 for an unknown
 * path, 405 for a method its route does not take; 0 with *route set when a
 * route answers. */
int fp_health_request_verdict(const fp_health_route_t *routes, size_t n, unsigned method,
                           const fp_buf_t *url, const fp_health_route_t **route)
{
    *route = NULL;
    if (method != HTTP_GET && method != HTTP_HEAD && method != HTTP_POST)
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
    if (*route == NULL)
        return 404;
    return route_takes(*route, method) ? 0 : 405;
}

int fp_health_url_query(const fp_buf_t *url, fp_buf_t *out)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    out->len = 0;
    const char *q = "";
    size_t len = 0;
    if (url->len > 0 && http_parser_parse_url(url->data, url->len, 0, &u) == 0 &&
        (u.field_set & (1 << UF_QUERY))) {
        q = url->data + u.field_data[UF_QUERY].off;
        len = u.field_data[UF_QUERY].len;
    }
    if (fp_buf_append(out, q, len) != 0 || fp_buf_append(out, "", 1) != 0)
        return -ENOMEM;
    return 0;
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
    hd->field_len = 0;
    hd->token_field = false;
    hd->has_token = false;
    hd->token_len = 0;
}

int fp_health_head_url(fp_health_head_t *hd, const char *at, size_t len)
{
    hd->url_bytes += len;
    if (hd->url_bytes <= FP_HEALTH_MAX_URL_BYTES && fp_buf_append(&hd->url, at, len) != 0)
        return -1;
    return head_count(hd, len);
}

/* The name, kept lower-cased only as long as it could still be the token
 * header's: nothing grows with a long name. */
static void keep_field(fp_health_head_t *hd, const char *at, size_t len)
{
    for (size_t i = 0; i < len; i++, hd->field_len++)
        if (hd->field_len < sizeof hd->field)
            hd->field[hd->field_len] = (char)tolower((unsigned char)at[i]);
}

/* A header line costs its name, value, ": " and CRLF; partial callbacks for
 * one name are told apart by which callback came last. */
int fp_health_head_field(fp_health_head_t *hd, const char *at, size_t len)
{
    size_t cost = len;
    if (!hd->in_field) {
        cost += 4;
        hd->field_len = 0;
    }
    hd->in_field = true;
    keep_field(hd, at, len);
    return head_count(hd, cost);
}

static bool field_is_token(const fp_health_head_t *hd)
{
    static const char name[] = "x-forkpool-token"; /* FP_HEALTH_TOKEN_HEADER, lower-cased */
    _Static_assert(sizeof name == sizeof FP_HEALTH_TOKEN_HEADER, "token header name");
    return hd->field_len == sizeof name - 1 && memcmp(hd->field, name, sizeof name - 1) == 0;
}

/* The token's value, kept up to FP_HEALTH_TOKEN_MAX; a second token header
 * replaces the first. */
static void keep_token(fp_health_head_t *hd, const char *at, size_t len)
{
    if (hd->in_field) {
        hd->token_field = field_is_token(hd);
        if (hd->token_field) {
            hd->has_token = true;
            hd->token_len = 0;
        }
    }
    if (!hd->token_field)
        return;
    for (size_t i = 0; i < len; i++, hd->token_len++)
        if (hd->token_len < FP_HEALTH_TOKEN_MAX)
            hd->token[hd->token_len] = at[i];
}

int fp_health_head_value(fp_health_head_t *hd, const char *at, size_t len)
{
    keep_token(hd, at, len);
    hd->in_field = false;
    return head_count(hd, len);
}

const char *fp_health_head_token(const fp_health_head_t *hd)
{
    if (!hd->has_token)
        return NULL;
    if (hd->token_len > FP_HEALTH_TOKEN_MAX)
        return "";
    /* const: the terminator goes in the spare byte, idempotently. */
    ((fp_health_head_t *)hd)->token[hd->token_len] = '\0';
    return hd->token;
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
    return fp_health_head_field(&((probe_t *)p->data)->head, at, len);
}

static int probe_on_header_value(http_parser *p, const char *at, size_t len)
{
    return fp_health_head_value(&((probe_t *)p->data)->head, at, len);
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
                       const fp_health_head_t *head)
{
    const fp_health_route_t *route = NULL;
    int status = fp_health_request_verdict(routes, n, method, &head->url, &route);
    if (status != 0)
        return status;
    fp_buf_t body = {0}, query = {0};
    const char *content_type = NULL;
    if (method != HTTP_POST) {
        status = route->fn(ctx, &body, &content_type);
    } else if (fp_health_url_query(&head->url, &query) != 0) {
        status = 500;
    } else {
        fp_health_req_t req = {query.data, fp_health_head_token(head), "?"};
        status = route->post(ctx, &req, &body, &content_type);
    }
    fp_buf_free(&body);
    fp_buf_free(&query);
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
        status = probe_route(routes, n, ctx, parser.method, &pr.head);
    fp_buf_free(&pr.head.url);
    return status;
}
