/* redis_faults.c: which replies tell a connection that its server cannot
 * take this daemon's writes now (redis_conn.h): a fault reply, a ROLE
 * answer that is not a master's. Pure, so the connection's handshake and
 * reply path share one reading of them. */
#include "redis/redis_conn.h"

#include <string.h>

const char *fp_redis_fault_reply(const char *msg, size_t n)
{
    static const struct {
        const char *code;
        const char *says;
    } faults[] = {
        {"READONLY", "Redis refuses writes: it is a read-only replica"},
        {"LOADING", "Redis is loading its dataset"},
        {"MASTERDOWN", "Redis is a replica that lost its primary"},
        /* A master with min-replicas-to-write whose replica is gone, e.g.
         * promoted by Sentinel: it must not take this daemon's writes. */
        {"NOREPLICAS", "Redis refuses writes: fewer replicas than its min-replicas-to-write"},
    };
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        size_t len = strlen(faults[i].code);
        if (n >= len && memcmp(msg, faults[i].code, len) == 0 && (n == len || msg[len] == ' '))
            return faults[i].says;
    }
    return NULL;
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
