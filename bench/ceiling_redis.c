/* ceiling_redis.c: what Redis allows for forkpool's design, with nothing run.
 *
 * On a queue pre-filled by `forkpool enqueue`, pulls with XREADGROUP (same
 * group and consumer as the daemon) and acknowledges + deletes every entry
 * the way forkpool does while jobs flow: the very outcome script
 * (fp_script_outcomes, built by the same encoder from
 * lib/queue/queue_scripts.c) as one EVALSHA, and the pull of the next batch as
 * a plain XREADGROUP right behind it in the same write, one round trip per
 * batch of B. The first pull goes alone, as in the daemon when no outcome
 * waits. -d N keeps N such pairs in flight (N lanes of pull, then
 * outcomes-and-next-pull): the daemon has one such pair in flight per queue
 * but sends outcome-only calls meanwhile, so with one pair at a time the
 * ceiling is a round-trip bound that forkpool beats at large batches.
 *
 * Always full batches of B, so this is an upper bound: the daemon's batches
 * are whatever finished in one loop turn, often fewer than B.
 *
 * -m plain is not forkpool's design but a yardstick for it: the same batch as
 * three plain commands in one pipelined write (XACK ids..., XDEL ids...,
 * XREADGROUP COUNT B), one round trip, no Lua and no per-id calls from a
 * script; what changing the outcome path could gain.
 *
 * Usage: ceiling_redis [-h host] [-p port] [-k jobs_key] [-g group]
 *                      [-c consumer] [-b batch] [-m script|plain] [-d N]
 * Prints one line: jobs=N seconds=S cpu_s=C redis_cpu_s=R batch=B calls=K */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bench_clock.h"
#include "queue/queue_scripts.h"
#include "queue/takeover_token.h"

typedef struct opts_s {
    const char *host;
    int port;
    const char *jobs_key, *dead_key, *delayed_key;
    const char *group, *consumer;
    long batch;
    bool plain;
    long depth; /* script calls in flight (-d) */
} opts_t;

/* Redis' own CPU (user + sys) from INFO cpu: the server side of the ceiling,
 * which on a 2-core machine is the part that competes with the pool. */
static double redis_cpu_s(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO cpu");
    double total = -1;
    if (r != NULL && r->type == REDIS_REPLY_STRING) {
        const char *u = strstr(r->str, "used_cpu_user:");
        const char *s = strstr(r->str, "used_cpu_sys:");
        if (u != NULL && s != NULL)
            total = strtod(u + strlen("used_cpu_user:"), NULL) +
                    strtod(s + strlen("used_cpu_sys:"), NULL);
    }
    freeReplyObject(r);
    return total;
}

/* The derived keys follow P:{Q}:jobs -> P:{Q}:dead / P:{Q}:delayed. */
static char *sibling_key(const char *jobs_key, const char *kind)
{
    const char *colon = strrchr(jobs_key, ':');
    size_t stem = colon != NULL ? (size_t)(colon - jobs_key) + 1 : 0;
    size_t n = stem + strlen(kind) + 1;
    char *key = malloc(n);
    if (key != NULL)
        snprintf(key, n, "%.*s%s", (int)stem, jobs_key, kind);
    return key;
}

/* XREADGROUP's answer ([[key, [[id, fields]...]]] or nil): encodes an ack
 * outcome per entry into args and returns how many, or -1 on a bad shape. */
static long encode_acks(const redisReply *read, fp_resp_t *args)
{
    fp_resp_reset(args);
    if (read == NULL || read->type == REDIS_REPLY_NIL)
        return 0;
    if (read->type != REDIS_REPLY_ARRAY || read->elements < 1 ||
        read->element[0]->type != REDIS_REPLY_ARRAY || read->element[0]->elements != 2)
        return -1;
    const redisReply *entries = read->element[0]->element[1];
    if (entries->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            return -1;
        if (fp_outcome_encode_ack(args, false, e->element[0]->str) < 0)
            return -1;
    }
    return (long)entries->elements;
}

/* forkpool's way: the batch's outcomes as one EVALSHA of fp_script_outcomes
 * and the next pull as a plain XREADGROUP right behind it, in one write, as
 * the daemon sends them (outbox.c). script_args: group, consumer, the span of
 * the batch's ids (lo, hi), the first-send flag, the take-over token, then
 * the pull's count. */
static int script_send(redisContext *c, const opts_t *o, fp_resp_t *cmd, const char *sha,
                       const char *const *keys, const char *const *script_args,
                       const fp_resp_t *acks)
{
    if (fp_script_command(cmd, sha, NULL, keys, FP_SCRIPT_OUTCOMES_KEYS, script_args,
                          FP_SCRIPT_OUTCOMES_ARGS, acks) < 0) {
        fprintf(stderr, "ceiling_redis: out of memory\n");
        return -1;
    }
    if (redisAppendFormattedCommand(c, cmd->data, cmd->len) != REDIS_OK)
        return -1;
    return redisAppendCommand(c, "XREADGROUP GROUP %s %s COUNT %s STREAMS %s >", o->group,
                              o->consumer, script_args[FP_SCRIPT_OUTCOMES_ARGS], o->jobs_key) ==
                   REDIS_OK
               ? 0
               : -1;
}

/* The next pull's reply. Unless the pull went out alone (`raw`, the first
 * ones), the outcome script's {applied, stale, cancelled, token} comes first,
 * applied is checked against what it carried, and the take-over token is
 * kept in token (as the daemon learns it: takeover_token.h). */
static redisReply *next_reply(redisContext *c, bool raw, long n, char *token, size_t token_size)
{
    void *reply = NULL;
    if (!raw) {
        if (redisGetReply(c, &reply) != REDIS_OK) {
            fprintf(stderr, "ceiling_redis: %s\n", c->errstr);
            return NULL;
        }
        redisReply *s = reply;
        bool ok = s->type == REDIS_REPLY_ARRAY && s->elements == 4 &&
                  s->element[0]->type == REDIS_REPLY_INTEGER && s->element[0]->integer == n &&
                  s->element[3]->type == REDIS_REPLY_STRING && s->element[3]->len < token_size;
        if (ok) {
            memcpy(token, s->element[3]->str, s->element[3]->len);
            token[s->element[3]->len] = '\0';
        }
        if (!ok)
            fprintf(stderr, "ceiling_redis: unexpected reply to the outcome script%s%s\n",
                    s->type == REDIS_REPLY_ERROR ? ": " : "",
                    s->type == REDIS_REPLY_ERROR ? s->str : "");
        freeReplyObject(s);
        if (!ok)
            return NULL;
    }
    if (redisGetReply(c, &reply) != REDIS_OK) {
        fprintf(stderr, "ceiling_redis: %s\n", c->errstr);
        return NULL;
    }
    redisReply *r = reply;
    if (r->type != REDIS_REPLY_ERROR)
        return r;
    fprintf(stderr, "ceiling_redis: XREADGROUP failed: %s\n", r->str);
    freeReplyObject(r);
    return NULL;
}

/* -m plain: XACK ids..., XDEL ids... and the next XREADGROUP in one
 * pipelined write, one round trip. read is the previous pull (already
 * checked by encode_acks); returns the new pull's reply or NULL. */
static redisReply *plain_round(redisContext *c, const opts_t *o, const redisReply *read, long n,
                               const char *count_text)
{
    const redisReply *entries = read->element[0]->element[1];
    const char **argv = malloc((3 + (size_t)n) * sizeof *argv);
    if (argv == NULL)
        return NULL;
    argv[0] = "XACK";
    argv[1] = o->jobs_key;
    argv[2] = o->group;
    for (long i = 0; i < n; i++)
        argv[3 + i] = entries->element[i]->element[0]->str;
    int ok = redisAppendCommandArgv(c, 3 + (int)n, argv, NULL) == REDIS_OK;
    /* hiredis has copied the XACK; the same array shifted by one is the XDEL. */
    argv[1] = "XDEL";
    argv[2] = o->jobs_key;
    ok = ok && redisAppendCommandArgv(c, 2 + (int)n, argv + 1, NULL) == REDIS_OK;
    free(argv);
    ok = ok && redisAppendCommand(c, "XREADGROUP GROUP %s %s COUNT %s STREAMS %s >", o->group,
                                  o->consumer, count_text, o->jobs_key) == REDIS_OK;
    redisReply *replies[3] = {NULL, NULL, NULL};
    for (int i = 0; ok && i < 3; i++) {
        void *reply = NULL;
        ok = redisGetReply(c, &reply) == REDIS_OK;
        replies[i] = reply;
    }
    if (!ok)
        fprintf(stderr, "ceiling_redis: %s\n", c->errstr);
    else if (replies[0]->type != REDIS_REPLY_INTEGER || replies[0]->integer != n ||
             replies[1]->type != REDIS_REPLY_INTEGER || replies[1]->integer != n ||
             replies[2]->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "ceiling_redis: unexpected reply to XACK/XDEL/XREADGROUP\n");
        ok = false;
    }
    freeReplyObject(replies[0]);
    freeReplyObject(replies[1]);
    if (!ok) {
        freeReplyObject(replies[2]);
        return NULL;
    }
    return replies[2];
}

/* -m plain, one round trip at a time: pull, then XACK + XDEL + the next
 * pull in one write per batch, until a pull comes back empty. */
static int run_plain(redisContext *c, const opts_t *o, const char *count_text, fp_resp_t *args,
                     uint64_t *jobs, uint64_t *calls)
{
    redisReply *r = redisCommand(c, "XREADGROUP GROUP %s %s COUNT %s STREAMS %s >", o->group,
                                 o->consumer, count_text, o->jobs_key);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "ceiling_redis: XREADGROUP failed: %s\n", r != NULL ? r->str : c->errstr);
        freeReplyObject(r);
        return -1;
    }
    long got;
    while ((got = encode_acks(r, args)) > 0) {
        *jobs += (uint64_t)got;
        (*calls)++;
        redisReply *next = plain_round(c, o, r, got, count_text);
        freeReplyObject(r);
        if ((r = next) == NULL)
            return -1;
    }
    freeReplyObject(r);
    if (got < 0)
        fprintf(stderr, "ceiling_redis: unexpected XREADGROUP answer\n");
    return got < 0 ? -1 : 0;
}

/* forkpool's way, with -d calls in flight (the daemon overlaps an
 * outcome-only call with its pull): -d first pulls, then per reply one
 * EVALSHA carrying its acknowledgements and the next pull, until every
 * lane's pull comes back empty. */
static int run_script(redisContext *c, const opts_t *o, const char *sha, const char *const *keys,
                      const char *const *script_args, fp_resp_t *args, fp_resp_t *cmd,
                      uint64_t *jobs, uint64_t *calls)
{
    for (long i = 0; i < o->depth; i++)
        if (redisAppendCommand(c, "XREADGROUP GROUP %s %s COUNT %s STREAMS %s >", o->group,
                               o->consumer, script_args[2], o->jobs_key) != REDIS_OK)
            return -1;
    long in_flight = o->depth, raw = o->depth, sent[16] = {0};
    size_t head = 0;
    /* No take-over runs here: after the first reply, the daemon's steady
     * state, where every batch carries the token Redis holds. */
    char token[FP_TAKEOVER_TOKEN_MAX] = FP_TAKEOVER_UNTRUSTED;
    while (in_flight > 0) {
        redisReply *r = next_reply(c, raw > 0, sent[head % 16], token, sizeof token);
        if (r == NULL)
            return -1;
        const redisReply *read = r;
        raw -= raw > 0;
        in_flight--;
        head++;
        long got = encode_acks(read, args);
        if (got > 0) {
            *jobs += (uint64_t)got;
            sent[(head + (size_t)in_flight) % 16] = got;
            in_flight++;
            (*calls)++;
            /* The span of the batch's ids, as the daemon sends it (XREADGROUP
             * answers in id order: the first and the last). */
            const redisReply *e = read->element[0]->element[1];
            const char *call_args[FP_SCRIPT_OUTCOMES_ARGS + 1] = {
                script_args[0], script_args[1], e->element[0]->element[0]->str,
                e->element[e->elements - 1]->element[0]->str, "1", token, script_args[2]};
            if (script_send(c, o, cmd, sha, keys, call_args, args) < 0) {
                freeReplyObject(r);
                return -1;
            }
        }
        freeReplyObject(r);
        if (got < 0) {
            fprintf(stderr, "ceiling_redis: unexpected XREADGROUP answer\n");
            return -1;
        }
    }
    return 0;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){"127.0.0.1", 6379, "fp:{default}:jobs", NULL, NULL, "forkpool", "bench", 4,
                  false, 1};
    int ch;
    while ((ch = getopt(argc, argv, "h:p:k:g:c:b:m:d:")) != -1) {
        switch (ch) {
        case 'h': o->host = optarg; break;
        case 'p': o->port = atoi(optarg); break;
        case 'k': o->jobs_key = optarg; break;
        case 'g': o->group = optarg; break;
        case 'c': o->consumer = optarg; break;
        case 'b': o->batch = strtol(optarg, NULL, 10); break;
        case 'd': o->depth = strtol(optarg, NULL, 10); break;
        case 'm':
            if (strcmp(optarg, "plain") != 0 && strcmp(optarg, "script") != 0)
                return -1;
            o->plain = strcmp(optarg, "plain") == 0;
            break;
        default: return -1;
        }
    }
    return o->batch >= 1 && o->batch <= FP_OUTCOMES_PER_CALL && o->port > 0 && o->depth >= 1 &&
                   o->depth <= 16 && (o->depth == 1 || !o->plain)
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    opts_t o;
    if (parse_opts(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: ceiling_redis [-h host] [-p port] [-k jobs_key] [-g group] "
                        "[-c consumer] [-b batch 1..%d] [-m script|plain] [-d calls in flight, "
                        "script only]\n", FP_OUTCOMES_PER_CALL);
        return 2;
    }
    int rc = 1;
    char *dead = sibling_key(o.jobs_key, "dead"), *delayed = sibling_key(o.jobs_key, "delayed");
    char *marks = sibling_key(o.jobs_key, "cancel");
    char *takeover = sibling_key(o.jobs_key, "takeover");
    fp_resp_t args, cmd;
    fp_resp_init(&args);
    fp_resp_init(&cmd);
    redisReply *r = NULL;
    redisContext *c = redisConnect(o.host, o.port);
    if (dead == NULL || delayed == NULL || marks == NULL || takeover == NULL || c == NULL ||
        c->err) {
        fprintf(stderr, "ceiling_redis: cannot connect to %s:%d: %s\n", o.host, o.port,
                c != NULL ? c->errstr : "out of memory");
        goto out;
    }
    /* As the daemon does at start: from 0, so entries added before exist for it. */
    r = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", o.jobs_key, o.group);
    if (r == NULL || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)) {
        fprintf(stderr, "ceiling_redis: XGROUP CREATE failed: %s\n", r != NULL ? r->str : c->errstr);
        goto out;
    }
    freeReplyObject(r);
    r = redisCommand(c, "SCRIPT LOAD %s", fp_script_outcomes);
    if (r == NULL || r->type != REDIS_REPLY_STRING || !fp_script_sha_valid(r->str, r->len)) {
        fprintf(stderr, "ceiling_redis: SCRIPT LOAD failed\n");
        goto out;
    }
    char sha[41];
    memcpy(sha, r->str, 40);
    sha[40] = '\0';
    freeReplyObject(r);
    r = NULL;

    char count_text[24];
    snprintf(count_text, sizeof count_text, "%ld", o.batch);
    const char *keys[FP_SCRIPT_OUTCOMES_KEYS] = {o.jobs_key, dead, delayed, marks, takeover};
    const char *script_args[3] = {o.group, o.consumer, count_text};

    double redis0 = redis_cpu_s(c), cpu0 = cpu_self_s(), t0 = now_s();
    uint64_t jobs = 0, calls = 0;
    if (o.plain ? run_plain(c, &o, count_text, &args, &jobs, &calls) < 0
                : run_script(c, &o, sha, keys, script_args, &args, &cmd, &jobs, &calls) < 0)
        goto out;
    double t1 = now_s(), cpu1 = cpu_self_s(), redis1 = redis_cpu_s(c);
    printf("jobs=%" PRIu64 " seconds=%.4f cpu_s=%.3f redis_cpu_s=%.3f batch=%ld calls=%" PRIu64
           "\n", jobs, t1 - t0, cpu1 - cpu0, redis1 - redis0, o.batch, calls);
    rc = 0;
out:
    freeReplyObject(r);
    if (c != NULL)
        redisFree(c);
    fp_resp_free(&args);
    fp_resp_free(&cmd);
    free(dead);
    free(delayed);
    free(marks);
    free(takeover);
    return rc;
}
