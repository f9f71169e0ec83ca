/* redis_faults.c: which replies tell a connection that its server cannot
 * take this daemon's writes now (redis_conn.h): a fault reply, a ROLE
 * answer that is not a master's. Pure, so the connection's handshake and
 * reply path share one reading of them. */
#include "redis/redis_conn.h"

#include <string.h>

#include "base/text.h"

const char *fp_redis_fault_reply(const char *msg, size_t n)
{
    static const fp_text_code_t faults[] = {
        {"READONLY", "Redis refuses writes: it is a read-only replica"},
        {"LOADING", "Redis is loading its dataset"},
        {"MASTERDOWN", "Redis is a replica that lost its primary"},
        /* A master with min-replicas-to-write whose replica is gone, e.g.
         * promoted by Sentinel: it must not take this daemon's writes. */
        {"NOREPLICAS", "Redis refuses writes: fewer replicas than its min-replicas-to-write"},
    };
    return fp_text_code_says(msg, n, faults, sizeof faults / sizeof faults[0]);
}

bool fp_redis_role_writable(const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return true;
    const redisReply *role = r->element[0];
    return role->type != REDIS_REPLY_STRING ||
           (strcmp(role->str, "slave") != 0 && strcmp(role->str, "replica") != 0 &&
            strcmp(role->str, "sentinel") != 0);
}
