/* redis_url.h: where Redis is, from the text users write in redis.url or
 * FORKPOOL_REDIS_URL. Pure parsing, no I/O; both the daemon's async
 * connections and the CLI's blocking ones start from this struct. */
#ifndef FORKPOOL_REDIS_URL_H
#define FORKPOOL_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define FP_REDIS_DEFAULT_PORT 6379

typedef struct fp_redis_url_s {
    char *host;     /* TCP host, IPv6 without brackets; NULL for a unix socket */
    int port;       /* TCP port, FP_REDIS_DEFAULT_PORT unless given */
    char *path;     /* unix socket path; NULL for TCP */
    char *user;     /* ACL user name, NULL when none (AUTH with the password alone) */
    char *password; /* NULL when none (no AUTH) */
    int db;         /* SELECT db after connecting when not 0 */
    bool tls;       /* rediss://: every byte goes through TLS (redis_tls.h) */
} fp_redis_url_t;

/* Accepts
 *   redis://[user[:password]@]host[:port][/db]      (IPv6 hosts in brackets)
 *   rediss://...                                    (the same over TLS)
 *   unix:///path/to/socket[?db=N][&user=U][&password=P]
 * A user part without ':' is the password (redis://secret@host), as redis-cli
 * reads it. User, password and path may be percent-encoded; the password is
 * taken up to the last '@', so one written raw may contain ':' '/' '@'.
 * On success fills *out (owned; fp_redis_url_free). On error returns
 * FP_ECONFIG with a reason that never repeats the password, *out zeroed. */
int fp_redis_url_parse(const char *text, fp_redis_url_t *out, fp_err_t *err);

void fp_redis_url_free(fp_redis_url_t *url);

/* "127.0.0.1:6379", "[::1]:6379" or "/run/redis.sock": for messages, never
 * with credentials. Always NUL-terminates buf (size > 0). */
void fp_redis_url_where(const fp_redis_url_t *url, char *buf, size_t size);

#endif
