/* sentinel_parse.c: the pure parts of Sentinel discovery (sentinel_parse.h):
 * parsing what users write and what sentinels answer, and the order in
 * which sentinels are asked. */
#include "redis/sentinel_parse.h"

#include "base/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse_port(const char *s, size_t n, int *out)
{
    return fp_text_int_in(s, n, 1, 65535, out);
}

static int why_is(char *why, size_t size, const char *text)
{
    if (size > 0)
        snprintf(why, size, "%s", text);
    return -1;
}

static int set_host(fp_sentinel_addr_t *out, const char *s, size_t n, char *why, size_t size)
{
    if (n == 0)
        return why_is(why, size, "has no host (write \"127.0.0.1:26379\")");
    if (n >= sizeof out->host)
        return why_is(why, size, "has a host name longer than 255 bytes");
    if (memchr(s, ' ', n) != NULL || memchr(s, '/', n) != NULL || memchr(s, '@', n) != NULL)
        return why_is(why, size, "must be host:port (no scheme, user or path)");
    memcpy(out->host, s, n);
    out->host[n] = '\0';
    return 0;
}

int fp_sentinel_addr_parse(const char *text, fp_sentinel_addr_t *out, char *why, size_t size)
{
    memset(out, 0, sizeof *out);
    out->port = FP_SENTINEL_DEFAULT_PORT;
    size_t n = strlen(text);
    if (strstr(text, "://") != NULL)
        return why_is(why, size, "must be host:port (no scheme, user or path)");
    const char *port = NULL;
    size_t hlen = n;
    const char *host = text;
    if (n > 0 && text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL)
            return why_is(why, size, "has an IPv6 host without its closing ']'");
        host = text + 1;
        hlen = (size_t)(close - host);
        if (close[1] != '\0' && close[1] != ':')
            return why_is(why, size, "has text after the IPv6 host");
        port = close[1] == ':' ? close + 2 : NULL;
    } else {
        const char *colon = strchr(text, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL)
            return why_is(why, size, "has an IPv6 host: write it in brackets ([::1]:26379)");
        if (colon != NULL) {
            hlen = (size_t)(colon - text);
            port = colon + 1;
        }
    }
    if (port != NULL && !parse_port(port, strlen(port), &out->port))
        return why_is(why, size, "needs a port from 1 to 65535 after ':'");
    return set_host(out, host, hlen, why, size);
}

void fp_sentinel_addr_format(const fp_sentinel_addr_t *a, char *buf, size_t size)
{
    if (strchr(a->host, ':') != NULL)
        snprintf(buf, size, "[%s]:%d", a->host, a->port);
    else
        snprintf(buf, size, "%s:%d", a->host, a->port);
}

bool fp_sentinel_addr_equal(const fp_sentinel_addr_t *a, const fp_sentinel_addr_t *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

int fp_sentinel_master_reply(const redisReply *r, fp_sentinel_addr_t *out, char *why,
                             size_t size)
{
    memset(out, 0, sizeof *out);
    if (r == NULL)
        return why_is(why, size, "no reply");
    if (r->type == REDIS_REPLY_NIL)
        return why_is(why, size, "does not monitor that master name");
    if (r->type == REDIS_REPLY_ERROR) {
        if (size > 0)
            snprintf(why, size, "answered %.*s", (int)(r->len > 200 ? 200 : r->len), r->str);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
        return why_is(why, size, "gave a malformed answer (not [ip, port])");
    if (!parse_port(r->element[1]->str, r->element[1]->len, &out->port))
        return why_is(why, size, "gave a malformed port");
    if (set_host(out, r->element[0]->str, r->element[0]->len, why, size) < 0)
        return why_is(why, size, "gave a malformed host");
    return 0;
}

bool fp_sentinel_switch_parse(const char *text, size_t len, const char *master,
                              fp_sentinel_addr_t *to)
{
    /* Five words separated by single spaces; the master name has none. */
    const char *w[5];
    size_t wl[5], k = 0, i = 0;
    while (i < len && k < 5) {
        w[k] = text + i;
        while (i < len && text[i] != ' ')
            i++;
        wl[k] = (size_t)(text + i - w[k]);
        if (wl[k] == 0)
            return false;
        k++;
        if (i < len)
            i++; /* the space */
    }
    if (k != 5 || i != len || text[len - 1] == ' ')
        return false;
    if (wl[0] != strlen(master) || memcmp(w[0], master, wl[0]) != 0)
        return false;
    fp_sentinel_addr_t a = {0};
    if (!parse_port(w[4], wl[4], &a.port) || wl[3] >= sizeof a.host)
        return false;
    memcpy(a.host, w[3], wl[3]);
    *to = a;
    return true;
}

void fp_sentinel_round_init(fp_sentinel_round_t *r, size_t n)
{
    memset(r, 0, sizeof *r);
    r->n = n > FP_SENTINELS_MAX ? FP_SENTINELS_MAX : n;
    for (size_t i = 0; i < r->n; i++)
        r->order[i] = i;
}

size_t fp_sentinel_round_begin(fp_sentinel_round_t *r)
{
    r->active = true;
    r->pos = 0;
    return r->order[0];
}

void fp_sentinel_round_answered(fp_sentinel_round_t *r)
{
    /* Move the one that answered to the front, keeping the others' order. */
    size_t who = r->order[r->pos];
    memmove(&r->order[1], &r->order[0], r->pos * sizeof r->order[0]);
    r->order[0] = who;
    r->active = false;
}

bool fp_sentinel_round_failed(fp_sentinel_round_t *r, size_t *next)
{
    if (r->pos + 1 < r->n) {
        r->pos++;
        *next = r->order[r->pos];
        return true;
    }
    r->active = false;
    return false;
}
