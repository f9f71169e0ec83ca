/* health_request.h: the request-judging half of the health endpoint
 * (health_request.c), shared by its connections (health_conn.c) and by
 * fp_health_request_status. Internal to lib/. */
#ifndef FORKPOOL_HEALTH_REQUEST_H
#define FORKPOOL_HEALTH_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

#include "http/health.h"

/* One read of a connection; also the slack http-parser's own header limit
 * gets past ours, so that ours decides. */
#define FP_HEALTH_READ_BUF_BYTES (16 * 1024)

/* A request's head as the parser hands it over: the request-target (kept up
 * to the limit) and the bytes of request line and headers, judged against
 * the limits as they grow. The server and fp_health_request_status count
 * with the same functions, so the fuzzed path is the served one. */
typedef struct fp_health_head_s {
    fp_buf_t url;      /* the request-target, bounded by the header limit */
    size_t url_bytes;  /* of the request-target, kept in url up to the limit */
    size_t head_bytes; /* request-target and header lines counted so far */
    bool in_field;     /* the last header callback was for a field name */
    int reject;        /* 414 or 431, once a limit is passed */
    /* The header field being read, lower-cased, as far as it could be the
     * token header; and that header's value. */
    char field[sizeof FP_HEALTH_TOKEN_HEADER];
    size_t field_len;  /* bytes of the name so far; past sizeof field: not it */
    bool token_field;  /* the value being read is the token's */
    bool has_token;
    size_t token_len;  /* past FP_HEALTH_TOKEN_MAX: too long, never matches */
    char token[FP_HEALTH_TOKEN_MAX + 1];
} fp_health_head_t;


void fp_health_head_reset(fp_health_head_t *hd);
/* The parser's callbacks, counted: -1 (stop the parser) once a limit is
 * passed (hd->reject says which) or on ENOMEM. */
int fp_health_head_url(fp_health_head_t *hd, const char *at, size_t len);
int fp_health_head_field(fp_health_head_t *hd, const char *at, size_t len);
int fp_health_head_value(fp_health_head_t *hd, const char *at, size_t len);

/* The token header's value as fp_health_req_t gives it (NULL: absent). */
const char *fp_health_head_token(const fp_health_head_t *hd);

/* The query string of url (NUL-terminated copy into out, "" when none);
 * -ENOMEM. */
int fp_health_url_query(const fp_buf_t *url, fp_buf_t *out);

/* The Allow header line for a route's methods. */
const char *fp_health_allow_header(const fp_health_route_t *route);

/* A declared Content-Length over the body limit (refused before reading). */
bool fp_health_body_too_large(const http_parser *p);

/* Before any route runs: 405 for a method but GET, HEAD and POST, 400 for a
 * target that is not a URL, 404 for an unknown path, 405 for a method the
 * route does not take; 0 with *route set otherwise. *route is also set with
 * that last 405 (its Allow header names the route's methods). */
int fp_health_request_verdict(const fp_health_route_t *routes, size_t n, unsigned method,
                              const fp_buf_t *url, const fp_health_route_t **route);

/* The answer to a stopped parse: reject (414, 431 or 0) first, then by errno. */
int fp_health_parse_error_status(int reject, enum http_errno e);

#endif
