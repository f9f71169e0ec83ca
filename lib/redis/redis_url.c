/* redis_url.c: parses redis:// and unix:// URLs into fp_redis_url_t. It only
 * reads text: no name resolution, no sockets. Messages describe the faulty
 * part and never echo the URL, which may carry a password. */
#include "redis/redis_url.h"
#include "base/text.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_ERR(err, ...) fp_err_set(err, FP_ECONFIG, "invalid Redis URL: " __VA_ARGS__)


/* Copies s[0..n) with %XX decoded into a new string. NULL with *bad set when
 * an escape is malformed or decodes to NUL; NULL alone on ENOMEM. */
static char *decode(const char *s, size_t n, bool *bad)
{
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[k++] = s[i];
            continue;
        }
        int hi = i + 1 < n ? fp_text_hex_value(s[i + 1]) : -1;
        int lo = i + 2 < n ? fp_text_hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            *bad = true;
            return NULL;
        }
        out[k++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[k] = '\0';
    return out;
}

/* Decodes one component into *dst; what names it in messages. */
static int decode_part(const char *s, size_t n, const char *what, char **dst, fp_err_t *err)
{
    bool bad = false;
    *dst = decode(s, n, &bad);
    if (*dst != NULL)
        return 0;
    if (bad)
        return URL_ERR(err, "the %s has a malformed %%-escape", what);
    return fp_err_set(err, -ENOMEM, "out of memory");
}

/* userinfo = "user:password", ":password" or "password". */
static int parse_userinfo(const char *s, size_t n, fp_redis_url_t *u, fp_err_t *err)
{
    const char *colon = memchr(s, ':', n);
    if (colon == NULL)
        return decode_part(s, n, "password", &u->password, err);
    size_t ulen = (size_t)(colon - s);
    if (ulen > 0) {
        int rc = decode_part(s, ulen, "user name", &u->user, err);
        if (rc < 0)
            return rc;
    }
    return decode_part(colon + 1, n - ulen - 1, "password", &u->password, err);
}

/* host[:port] with IPv6 literals in brackets. */
static int parse_hostport(const char *s, size_t n, fp_redis_url_t *u, fp_err_t *err)
{
    const char *host = s, *port = NULL;
    size_t hlen = n, plen = 0;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return URL_ERR(err, "an IPv6 host needs a closing ']'");
        host = s + 1;
        hlen = (size_t)(close - s) - 1;
        const char *rest = close + 1;
        size_t rlen = n - (size_t)(rest - s);
        if (rlen > 0 && rest[0] != ':')
            return URL_ERR(err, "unexpected text after the IPv6 host");
        if (rlen > 0) {
            port = rest + 1;
            plen = rlen - 1;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon != NULL) {
            hlen = (size_t)(colon - s);
            port = colon + 1;
            plen = n - hlen - 1;
        }
    }
    if (hlen == 0)
        return URL_ERR(err, "no host (write redis://127.0.0.1:6379)");
    u->port = FP_REDIS_DEFAULT_PORT;
    if (port != NULL && !fp_text_int_in(port, plen, 1, 65535, &u->port))
        return URL_ERR(err, "the port must be a number from 1 to 65535");
    return decode_part(host, hlen, "host", &u->host, err);
}

static int parse_redis(const char *s, fp_redis_url_t *u, fp_err_t *err)
{
    /* The password may contain raw '/' or '@', so the host starts after the
     * last '@'; a db path or query never contains one. */
    const char *at = strrchr(s, '@');
    const char *hp = s;
    if (at != NULL) {
        int rc = parse_userinfo(s, (size_t)(at - s), u, err);
        if (rc < 0)
            return rc;
        hp = at + 1;
    }
    if (strchr(hp, '?') != NULL)
        return URL_ERR(err, "redis:// URLs take no ?options (the db goes in the path: /2)");
    const char *slash = strchr(hp, '/');
    size_t hplen = slash != NULL ? (size_t)(slash - hp) : strlen(hp);
    int rc = parse_hostport(hp, hplen, u, err);
    if (rc < 0)
        return rc;
    if (slash != NULL && slash[1] != '\0' &&
        !fp_text_int_in(slash + 1, strlen(slash + 1), 0, INT_MAX, &u->db))
        return URL_ERR(err, "the database after '/' must be a number from 0");
    return 0;
}

/* One name=value pair of a unix:// query. */
static int parse_query_pair(const char *s, size_t n, fp_redis_url_t *u, fp_err_t *err)
{
    const char *eq = memchr(s, '=', n);
    /* A raw '&' inside a password splits it into further "options": their
     * text is part of the password, so messages never quote it. */
    if (eq == NULL)
        return URL_ERR(err, "a query option has no '=' (write db=N, user=U or password=P; "
                            "%%-escape '&' in values as %%26)");
    size_t klen = (size_t)(eq - s), vlen = n - klen - 1;
    const char *v = eq + 1;
    if (klen == 2 && memcmp(s, "db", 2) == 0) {
        if (!fp_text_int_in(v, vlen, 0, INT_MAX, &u->db))
            return URL_ERR(err, "db= must be a number from 0");
        return 0;
    }
    char **dst = NULL;
    if (klen == 4 && memcmp(s, "user", 4) == 0)
        dst = &u->user;
    else if (klen == 8 && memcmp(s, "password", 8) == 0)
        dst = &u->password;
    if (dst == NULL)
        return URL_ERR(err, "unknown query option (db, user, password; %%-escape '&' in "
                            "values as %%26)");
    free(*dst);
    return decode_part(v, vlen, klen == 4 ? "user name" : "password", dst, err);
}

static int parse_unix(const char *s, fp_redis_url_t *u, fp_err_t *err)
{
    if (s[0] != '/')
        return URL_ERR(err, "a unix socket URL needs an absolute path (unix:///run/redis.sock)");
    const char *q = strchr(s, '?');
    size_t plen = q != NULL ? (size_t)(q - s) : strlen(s);
    int rc = decode_part(s, plen, "socket path", &u->path, err);
    if (rc < 0)
        return rc;
    u->port = 0;
    while (q != NULL) {
        const char *pair = q + 1;
        q = strchr(pair, '&');
        size_t n = q != NULL ? (size_t)(q - pair) : strlen(pair);
        if (n == 0)
            continue;
        if ((rc = parse_query_pair(pair, n, u, err)) < 0)
            return rc;
    }
    return 0;
}

int fp_redis_url_parse(const char *text, fp_redis_url_t *out, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (text == NULL || text[0] == '\0')
        return URL_ERR(err, "it is empty (write redis://127.0.0.1:6379)");
    int rc;
    if (strncasecmp(text, "redis://", 8) == 0) {
        rc = parse_redis(text + 8, out, err);
    } else if (strncasecmp(text, "unix://", 7) == 0) {
        rc = parse_unix(text + 7, out, err);
    } else if (strncasecmp(text, "rediss://", 9) == 0) {
        out->tls = true; /* the same URL, carried over TLS (lib/redis/redis_tls.h) */
        rc = parse_redis(text + 9, out, err);
    } else {
        rc = URL_ERR(err, "it must start with redis://, rediss:// or unix://");
    }
    if (rc < 0)
        fp_redis_url_free(out);
    return rc;
}

void fp_redis_url_free(fp_redis_url_t *url)
{
    if (url == NULL)
        return;
    free(url->host);
    free(url->path);
    free(url->user);
    if (url->password != NULL)
        memset(url->password, 0, strlen(url->password));
    free(url->password);
    memset(url, 0, sizeof *url);
}

void fp_redis_url_where(const fp_redis_url_t *url, char *buf, size_t size)
{
    if (size == 0)
        return;
    if (url->path != NULL)
        snprintf(buf, size, "%s", url->path);
    else if (url->host != NULL && strchr(url->host, ':') != NULL)
        snprintf(buf, size, "[%s]:%d", url->host, url->port);
    else
        snprintf(buf, size, "%s:%d", url->host != NULL ? url->host : "?", url->port);
}
