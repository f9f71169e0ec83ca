/* config_check.c: the value checks the schema's rows name (lib/config/config_schema.c):
 * each takes the parsed field and says in a few words why it is refused.
 * Pure, so every rule is unit-tested through fp_config_load_text. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/listen_addr.h"
#include "base/text.h"
#include "config/config_internal.h"
#include "redis/redis_url.h"
#include "redis/cluster_round.h"
#include "redis/sentinel_parse.h"


static const char *str_of(const void *field)
{
    return *(char *const *)field;
}

#define SCHEME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."

/* The URL usually carries the Redis password, so messages never echo it;
 * at most the scheme. Full parsing belongs to redis_url.c. */
int fp__check_redis_url(const void *field, size_t *elem, char *buf, size_t size)
{
    const char *url = str_of(field);
    const char *sep = strstr(url, "://");
    if (sep == NULL)
        return fp_text_why(
            buf, size, "must be a URL such as redis://127.0.0.1:6379/0 or unix:///run/redis.sock");
    size_t scheme = (size_t)(sep - url);
    bool known = (scheme == 5 && strncasecmp(url, "redis", 5) == 0) ||
                 (scheme == 6 && strncasecmp(url, "rediss", 6) == 0) ||
                 (scheme == 4 && strncasecmp(url, "unix", 4) == 0);
    if (!known) {
        /* RFC 3986 scheme characters only, so nothing else leaks through. */
        if (scheme == 0 || scheme > 16 || strspn(url, SCHEME_CHARS) < scheme)
            return fp_text_why(buf, size, "must start with redis://, rediss:// or unix://");
        return fp_text_why(buf, size, "must start with redis://, rediss:// or unix://, not %.*s://",
                           (int)scheme, url);
    }
    if (sep[3] == '\0')
        return fp_text_why(buf, size, "must name a host or a socket after %.*s://", (int)scheme,
                           url);
    /* The whole parse, as the daemon will do it: a URL it would refuse
     * fails here, before any child is forked and in check-config. */
    fp_redis_url_t parsed;
    fp_err_t e;
    fp_err_clear(&e);
    if (fp_redis_url_parse(url, &parsed, &e) < 0)
        return fp_text_why(buf, size, "%s", e.msg);
    fp_redis_url_free(&parsed);
    return 0;
}

/* A list of host:port addresses: at most max (what is, named), each as
 * parse reads it. */
static int check_addrs(const fp_strv_t *v, size_t max, const char *what,
                       int (*parse)(const char *, fp_sentinel_addr_t *, char *, size_t),
                       size_t *elem, char *buf, size_t size)
{
    if (v->count > max)
        return fp_text_why(buf, size, "lists %zu %s; at most %zu are asked", v->count, what, max);
    for (size_t i = 0; i < v->count; i++) {
        fp_sentinel_addr_t a;
        char why[128];
        *elem = i;
        if (parse(v->items[i], &a, why, sizeof why) < 0)
            return fp_text_why(buf, size, "%s", why);
    }
    return 0;
}

/* Each sentinel as discovery will parse it (sentinel_parse.c). */
int fp__check_sentinels(const void *field, size_t *elem, char *buf, size_t size)
{
    return check_addrs(field, FP_SENTINELS_MAX, "sentinels", fp_sentinel_addr_parse, elem, buf,
                       size);
}

/* Each seed node as the cluster locator will parse it (cluster_parse.c):
 * a port is required, Cluster nodes have no usual one. */
int fp__check_cluster(const void *field, size_t *elem, char *buf, size_t size)
{
    return check_addrs(field, FP_CLUSTER_ROUND_MAX, "seed nodes", fp_cluster_seed_parse, elem,
                       buf, size);
}

/* The prefix goes in front of every key, outside the {queue} hash tag. */
int fp__check_prefix(const void *field, size_t *elem, char *buf, size_t size)
{
    const char *s = str_of(field);
    if (*s == '\0')
        return fp_text_why(buf, size, "must not be empty");
    if (strpbrk(s, "{} \t\r\n\v\f") != NULL)
        return fp_text_why(buf, size, "must not contain '{', '}' or white space");
    return 0;
}

int fp__check_nonempty(const void *field, size_t *elem, char *buf, size_t size)
{
    return *str_of(field) == '\0' ? fp_text_why(buf, size, "must not be empty") : 0;
}

/* The daemon binds what this accepts: one reader for both. */
int fp__check_listen(const void *field, size_t *elem, char *buf, size_t size)
{
    fp_listen_addr_t addr;
    return fp_listen_parse(str_of(field), &addr, buf, size);
}

/* Queue names go inside the {Q} hash tag of every key. */
int fp__check_queue_names(const void *field, size_t *elem, char *buf, size_t size)
{
    const fp_strv_t *v = field;
    if (v->count == 0)
        return fp_text_why(buf, size, "must list at least one queue");
    for (size_t i = 0; i < v->count; i++) {
        *elem = i;
        if (v->items[i][0] == '\0')
            return fp_text_why(buf, size, "must not be empty");
        if (strpbrk(v->items[i], "{}") != NULL)
            return fp_text_why(buf, size,
                               "must not contain '{' or '}' (they delimit the hash tag)");
        for (size_t j = 0; j < i; j++)
            if (strcmp(v->items[i], v->items[j]) == 0)
                return fp_text_why(buf, size, "repeats a queue already listed");
    }
    return 0;
}

int fp__check_items_nonempty(const void *field, size_t *elem, char *buf, size_t size)
{
    const fp_strv_t *v = field;
    for (size_t i = 0; i < v->count; i++) {
        if (v->items[i][0] == '\0') {
            *elem = i;
            return fp_text_why(buf, size, "must not be empty");
        }
    }
    return 0;
}

/* argv[1..] may legitimately be "", the program may not. */
int fp__check_command(const void *field, size_t *elem, char *buf, size_t size)
{
    const fp_strv_t *v = field;
    if (v->count > 0 && v->items[0][0] == '\0') {
        *elem = 0;
        return fp_text_why(buf, size, "must name a program");
    }
    return 0;
}

/* What execve and setenv accept portably, and what shells can name. */
bool fp__env_name_ok(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

int fp__check_env_names(const void *field, size_t *elem, char *buf, size_t size)
{
    const fp_strv_t *v = field;
    for (size_t i = 0; i < v->count; i++) {
        if (!fp__env_name_ok(v->items[i], strlen(v->items[i]))) {
            *elem = i;
            return fp_text_why(buf, size,
                               "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
        }
    }
    return 0;
}

