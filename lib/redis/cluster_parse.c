/* cluster_parse.c: the pure parts of Redis Cluster routing
 * (cluster_parse.h): key slots, the slot map from CLUSTER SLOTS, and
 * MOVED / ASK redirections. */
#include "redis/cluster_parse.h"

#include "base/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* CRC16-CCITT, polynomial 0x1021, initial 0 (XMODEM): the one Redis
 * Cluster specifies. Bitwise rather than a table: keys are short and a
 * slot is computed once per queue, not per job. */
static uint16_t crc16(const char *s, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)((uint16_t)(unsigned char)s[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t fp_cluster_keyslot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open != NULL) {
        size_t rest = len - (size_t)(open + 1 - key);
        const char *close = memchr(open + 1, '}', rest);
        /* "{}" hashes the whole key, as in Redis. */
        if (close != NULL && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) & (FP_CLUSTER_SLOTS - 1);
    }
    return crc16(key, len) & (FP_CLUSTER_SLOTS - 1);
}

int fp_cluster_seed_parse(const char *text, fp_cluster_addr_t *out, char *why, size_t size)
{
    if (fp_sentinel_addr_parse(text, out, why, size) < 0)
        return -1;
    /* The parser took Sentinel's usual port when none was written. */
    bool has_port = text[0] == '[' ? strstr(text, "]:") != NULL : strchr(text, ':') != NULL;
    if (!has_port)
        return fp_text_why(why, size, "needs a port (write \"127.0.0.1:7000\")");
    return 0;
}

static void map_clear(fp_cluster_map_t *map)
{
    map->n_nodes = 0;
    memset(map->nodes, 0, sizeof map->nodes);
    for (size_t i = 0; i < FP_CLUSTER_SLOTS; i++)
        map->owner[i] = -1;
}

/* The master's address of one entry: [ip, port, id?, ...]. */
static int entry_master(const redisReply *m, const char *asked_host, fp_cluster_addr_t *out)
{
    if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
        m->element[1]->type != REDIS_REPLY_INTEGER || m->element[1]->integer < 1 ||
        m->element[1]->integer > 65535)
        return -1;
    const redisReply *ip = m->element[0];
    const char *host = asked_host;
    size_t hlen = strlen(asked_host);
    if (ip->type == REDIS_REPLY_STRING && ip->len > 0 && !(ip->len == 1 && ip->str[0] == '?')) {
        host = ip->str;
        hlen = ip->len;
    } else if (ip->type != REDIS_REPLY_NIL && ip->type != REDIS_REPLY_STRING) {
        return -1;
    }
    if (hlen == 0 || hlen >= sizeof out->host || memchr(host, '\0', hlen) != NULL)
        return -1;
    memset(out, 0, sizeof *out);
    memcpy(out->host, host, hlen);
    out->port = (int)m->element[1]->integer;
    return 0;
}

/* The node index of addr, added when new; -1 when the map is full. */
static int node_index(fp_cluster_map_t *map, const fp_cluster_addr_t *addr)
{
    int at = fp_cluster_map_find(map, addr);
    if (at >= 0)
        return at;
    if (map->n_nodes == FP_CLUSTER_NODES_MAX)
        return -1;
    map->nodes[map->n_nodes] = *addr;
    return (int)map->n_nodes++;
}

static bool slot_int(const redisReply *r, long long *out)
{
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 || r->integer >= FP_CLUSTER_SLOTS)
        return false;
    *out = r->integer;
    return true;
}

static int parse_entry(const redisReply *e, size_t i, const char *asked_host,
                       fp_cluster_map_t *map, char *why, size_t size)
{
    long long lo, hi;
    fp_cluster_addr_t addr;
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3)
        return fp_text_why(why, size, "entry %zu is not [start, end, master, ...]", i);
    if (!slot_int(e->element[0], &lo) || !slot_int(e->element[1], &hi) || lo > hi)
        return fp_text_why(why, size, "entry %zu has a slot range outside 0-16383", i);
    if (entry_master(e->element[2], asked_host, &addr) < 0)
        return fp_text_why(why, size, "entry %zu has a malformed master address", i);
    int node = node_index(map, &addr);
    if (node < 0)
        return fp_text_why(why, size, "names more than %d masters", FP_CLUSTER_NODES_MAX);
    for (long long s = lo; s <= hi; s++) {
        if (map->owner[s] >= 0)
            return fp_text_why(why, size, "gives slot %lld to two masters", s);
        map->owner[s] = (int16_t)node;
    }
    return 0;
}

int fp_cluster_slots_parse(const redisReply *r, const char *asked_host, fp_cluster_map_t *map,
                           char *why, size_t size)
{
    map_clear(map);
    if (r == NULL)
        return fp_text_why(why, size, "no reply");
    if (r->type == REDIS_REPLY_ERROR)
        return fp_text_why(why, size, "answered %.*s", (int)(r->len > 200 ? 200 : r->len),
                           r->str);
    if (r->type != REDIS_REPLY_ARRAY)
        return fp_text_why(why, size, "gave a malformed answer (not an array)");
    for (size_t i = 0; i < r->elements; i++)
        if (parse_entry(r->element[i], i, asked_host, map, why, size) < 0) {
            map_clear(map);
            return -1;
        }
    return 0;
}

int fp_cluster_map_owner(const fp_cluster_map_t *map, uint16_t slot)
{
    return slot < FP_CLUSTER_SLOTS ? map->owner[slot] : -1;
}

size_t fp_cluster_map_unserved(const fp_cluster_map_t *map)
{
    size_t n = 0;
    for (size_t i = 0; i < FP_CLUSTER_SLOTS; i++)
        n += map->owner[i] < 0;
    return n;
}

int fp_cluster_map_find(const fp_cluster_map_t *map, const fp_cluster_addr_t *addr)
{
    for (size_t i = 0; i < map->n_nodes; i++)
        if (fp_sentinel_addr_equal(&map->nodes[i], addr))
            return (int)i;
    return -1;
}

size_t fp_cluster_route(const fp_cluster_map_t *map, const char *const *keys, size_t n,
                        int *node_of, char *why, size_t size)
{
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t slot = fp_cluster_keyslot(keys[i], strlen(keys[i]));
        node_of[i] = fp_cluster_map_owner(map, slot);
        if (node_of[i] < 0 && missing++ == 0)
            (void)fp_text_why(why, size, "no cluster master serves slot %u (key %s)", slot,
                              keys[i]);
    }
    return missing;
}

/* "host:port" split at the last ':' (Redis writes IPv6 hosts unbracketed
 * here); an empty host is asked_host. */
static bool redirect_addr(const char *s, size_t n, const char *asked_host, fp_cluster_addr_t *out)
{
    const char *colon = NULL;
    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    if (colon == NULL)
        return false;
    size_t hlen = (size_t)(colon - s);
    const char *host = hlen > 0 ? s : asked_host;
    if (hlen == 0)
        hlen = strlen(asked_host);
    if (hlen == 0 || hlen >= sizeof out->host || memchr(host, ' ', hlen) != NULL)
        return false;
    memset(out, 0, sizeof *out);
    memcpy(out->host, host, hlen);
    return fp_text_int_in(colon + 1, (size_t)(s + n - colon - 1), 1, 65535, &out->port);
}

fp_cluster_redirect_kind_t fp_cluster_redirect_parse(const char *text, size_t len,
                                                     const char *asked_host,
                                                     fp_cluster_redirect_t *out)
{
    fp_cluster_redirect_kind_t kind;
    size_t skip;
    if (len > 6 && memcmp(text, "MOVED ", 6) == 0) {
        kind = FP_CLUSTER_REDIRECT_MOVED;
        skip = 6;
    } else if (len > 4 && memcmp(text, "ASK ", 4) == 0) {
        kind = FP_CLUSTER_REDIRECT_ASK;
        skip = 4;
    } else {
        return FP_CLUSTER_REDIRECT_NONE;
    }
    const char *slot = text + skip, *end = text + len;
    const char *space = memchr(slot, ' ', (size_t)(end - slot));
    int s;
    fp_cluster_redirect_t r = {.kind = kind};
    if (space == NULL || !fp_text_int_in(slot, (size_t)(space - slot), 0, FP_CLUSTER_SLOTS - 1, &s) ||
        !redirect_addr(space + 1, (size_t)(end - space - 1), asked_host, &r.to))
        return FP_CLUSTER_REDIRECT_NONE;
    r.slot = (uint16_t)s;
    *out = r;
    return kind;
}

const char *fp_cluster_fault_reply(const char *msg, size_t n)
{
    static const fp_text_code_t faults[] = {
        {"MOVED", "the slot moved to another cluster node"},
        {"ASK", "the slot is being migrated to another cluster node"},
        {"TRYAGAIN", "the slot is being migrated (its keys are split between two nodes)"},
        {"CLUSTERDOWN", "the cluster is down"},
    };
    return fp_text_code_says(msg, n, faults, sizeof faults / sizeof faults[0]);
}

static bool arg_is(const char *const *argv, const size_t *lens, int i, const char *word)
{
    size_t n = lens != NULL ? lens[i] : strlen(argv[i]);
    return n == strlen(word) && strncasecmp(argv[i], word, n) == 0;
}

int fp_cluster_command_key(int argc, const char *const *argv, const size_t *lens)
{
    static const char *const keyless[] = {"TIME",   "ROLE",   "PING",     "WAIT",  "INFO",
                                          "SCRIPT", "CLUSTER", "AUTH",    "SELECT", "CLIENT",
                                          "ASKING", "READONLY", "DBSIZE", "HELLO", "ECHO"};
    if (argc < 1)
        return -1;
    for (size_t i = 0; i < sizeof keyless / sizeof keyless[0]; i++)
        if (arg_is(argv, lens, 0, keyless[i]))
            return -1;
    if (arg_is(argv, lens, 0, "EVAL") || arg_is(argv, lens, 0, "EVALSHA") ||
        arg_is(argv, lens, 0, "EVAL_RO") || arg_is(argv, lens, 0, "EVALSHA_RO")) {
        char nk[24] = "";
        size_t n = argc > 2 ? (lens != NULL ? lens[2] : strlen(argv[2])) : 0;
        if (n == 0 || n >= sizeof nk)
            return -1;
        memcpy(nk, argv[2], n);
        return atol(nk) > 0 && argc > 3 ? 3 : -1;
    }
    if (arg_is(argv, lens, 0, "XREAD") || arg_is(argv, lens, 0, "XREADGROUP")) {
        for (int i = 1; i + 1 < argc; i++)
            if (arg_is(argv, lens, i, "STREAMS"))
                return i + 1;
        return -1;
    }
    return argc > 1 ? 1 : -1;
}
