/* test_it_queue_pull.c: outcomes and the next pull in one write (the
 * outcome script, then a plain XREADGROUP behind it, and the queue path that
 * sends them) against a real redis-server. The pair on its own: outcomes
 * applied, then at most COUNT new entries, nothing delivered twice, a
 * re-sent batch adds nothing, a failing read leaves the outcomes standing.
 * The queue: while jobs flow, a turn's outcomes go out right before the pull
 * on the same connection (checked in SLOWLOG), the room is never exceeded,
 * and a flushed script cache falls back to EVAL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "queue/queue.h"
#include "queue/queue_scripts.h"
#include "queue/takeover_token.h"
#include "harness.h"
#include "queue_fixture.h"
#include "redis_server.h"

#define DEADLINE_MS FP_TQ_DEADLINE_MS

typedef struct tp_s {
    fp_th_redis_t redis;
    uv_loop_t loop;
    fp_tq_node_t n;
    size_t bound; /* the room each supervisor turn gives back */
} tp_t;

static int setup(void **state)
{
    tp_t *t = calloc(1, sizeof *t);
    assert_non_null(t);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    assert_int_equal(fp_th_redis_start(&t->redis, NULL), 0);
    fp_tq_node_init(&t->n, &t->loop, "test-consumer", fp_th_redis_url(&t->redis));
    t->n.first_only = true;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    tp_t *t = *state;
    fp_tq_node_teardown(&t->n);
    fp_th_redis_stop(&t->redis);
    free(t);
    return 0;
}

/* ---- the script on its own -------------------------------------------------- */

/* What the daemon sends while jobs flow, on queue "s": EVAL fp_script_outcomes
 * with the encoded outcomes, then XREADGROUP ... COUNT count ">" as a plain
 * command. token: the take-over token the batch trusts, or
 * FP_TAKEOVER_UNTRUSTED. Returns {applied, read, stale, cancelled, token}
 * (the script's reply with the read's put second), or the script's error
 * reply alone (the read is then left to the caller's next call); the reply
 * is the caller's. */
static redisReply *eval_trusting(tp_t *t, const char *count, const char *lo, const char *hi,
                                 const char *first, const char *token,
                                 const fp_resp_t *outcomes)
{
    const char *keys[] = {fp_tq_key("s", "jobs"), fp_tq_key("s", "dead"),
                          fp_tq_key("s", "delayed"), fp_tq_key("s", "cancel"),
                          fp_tq_key("s", "takeover")};
    const char *args[] = {"forkpool", "test-consumer", lo, hi, first, token};
    assert_int_equal(sizeof keys / sizeof keys[0], FP_SCRIPT_OUTCOMES_KEYS);
    assert_int_equal(sizeof args / sizeof args[0], FP_SCRIPT_OUTCOMES_ARGS);
    fp_resp_t cmd;
    fp_resp_init(&cmd);
    assert_int_equal(fp_script_command(&cmd, NULL, fp_script_outcomes, keys,
                                       FP_SCRIPT_OUTCOMES_KEYS, args, FP_SCRIPT_OUTCOMES_ARGS,
                                       outcomes),
                     0);
    /* Back from RESP to an argument vector for the test's blocking client. */
    const char *argv[64];
    size_t lens[64];
    int argc = 0;
    const char *p = (const char *)memchr(cmd.data, '\n', cmd.len) + 1;
    while (p < cmd.data + cmd.len) {
        assert_true(argc < 64);
        size_t n = strtoul(p + 1, NULL, 10);
        p = (const char *)memchr(p, '\n', (size_t)(cmd.data + cmd.len - p)) + 1;
        argv[argc] = p;
        lens[argc++] = n;
        p += n + 2;
    }
    redisReply *out = fp_th_redis_cmdv(&t->redis, argc, argv, lens);
    fp_resp_free(&cmd);
    assert_non_null(out);
    if (out->type == REDIS_REPLY_ERROR)
        return out;
    assert_int_equal(out->type, REDIS_REPLY_ARRAY);
    assert_int_equal(out->elements, 4);
    redisReply *read = fp_th_redis_cmd(&t->redis, "XREADGROUP GROUP forkpool test-consumer "
                                                  "COUNT %s STREAMS %s >", count, keys[0]);
    assert_non_null(read);
    /* {applied, read, stale, cancelled, token}: the script's elements moved
     * into a reply of five, which freeReplyObject frees as any other. */
    redisReply *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->type = REDIS_REPLY_ARRAY;
    r->elements = 5;
    r->element = calloc(5, sizeof *r->element);
    assert_non_null(r->element);
    r->element[0] = out->element[0];
    r->element[1] = read;
    r->element[2] = out->element[1];
    r->element[3] = out->element[2];
    r->element[4] = out->element[3];
    out->elements = 0;
    freeReplyObject(out);
    return r;
}

/* The same, trusting nothing: every entry looked up. */
static redisReply *eval_span(tp_t *t, const char *count, const char *lo, const char *hi,
                             const char *first, const fp_resp_t *outcomes)
{
    return eval_trusting(t, count, lo, hi, first, FP_TAKEOVER_UNTRUSTED, outcomes);
}

/* The same with the span "-" .. "+": every own pending entry looked at. */
static redisReply *eval_pull(tp_t *t, const char *count, const fp_resp_t *outcomes)
{
    return eval_span(t, count, "-", "+", "1", outcomes);
}

/* The entries of a read reply ([[key, [[id, fields]...]]] or nil). */
static size_t read_count(const redisReply *got)
{
    if (got->type == REDIS_REPLY_NIL)
        return 0;
    assert_int_equal(got->type, REDIS_REPLY_ARRAY);
    assert_int_equal(got->elements, 1);
    return got->element[0]->element[1]->elements;
}

static const char *read_id(const redisReply *got, size_t i)
{
    return got->element[0]->element[1]->element[i]->element[0]->str;
}

static void test_script_applies_then_pulls(void **state)
{
    tp_t *t = *state;
    const char *jobs = fp_tq_key("s", "jobs");
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XGROUP CREATE %s forkpool 0 MKSTREAM", jobs));
    char *id[6];
    for (int i = 0; i < 6; i++)
        id[i] = fp_tq_xadd(&t->redis, "s", "{\"type\":\"noop\"}");

    /* No outcomes: a plain pull, COUNT respected. */
    redisReply *r = eval_pull(t, "2", NULL);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 5);
    assert_int_equal(r->element[0]->integer, 0);
    assert_int_equal(read_count(r->element[1]), 2);
    assert_string_equal(read_id(r->element[1], 0), id[0]);
    assert_string_equal(read_id(r->element[1], 1), id[1]);
    freeReplyObject(r);

    /* id0 succeeded, id1 is dead; then the next two, never the same again. */
    fp_resp_t batch;
    fp_resp_init(&batch);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[0]), 0);
    assert_int_equal(fp_outcome_encode_dead(&batch, false, id[1], "{}", 2, "boom", 3, 1700000000000), 0);
    r = eval_pull(t, "2", &batch);
    assert_int_equal(r->element[0]->integer, 2);
    assert_int_equal(read_count(r->element[1]), 2);
    assert_string_equal(read_id(r->element[1], 0), id[2]);
    assert_string_equal(read_id(r->element[1], 1), id[3]);
    freeReplyObject(r);
    assert_int_equal(fp_tq_xlen(&t->redis, "s"), 4);
    assert_int_equal(fp_tq_pending(&t->redis, "s"), 2);
    assert_int_equal(fp_th_redis_int(&t->redis, "XLEN %s", fp_tq_key("s", "dead")), 1);

    /* The same batch again (a lost reply): XACK-guarded, nothing copied twice. */
    r = eval_span(t, "1", "-", "+", "0", &batch);
    assert_int_equal(read_count(r->element[1]), 1);
    assert_int_equal(r->element[0]->integer, 0);
    assert_int_equal(r->element[2]->elements, 2); /* both reported, pending to nobody */
    assert_string_equal(r->element[2]->element[0]->element[1]->str, "");
    assert_string_equal(read_id(r->element[1], 0), id[4]);
    freeReplyObject(r);
    assert_int_equal(fp_th_redis_int(&t->redis, "XLEN %s", fp_tq_key("s", "dead")), 1);
    assert_int_equal(fp_tq_xlen(&t->redis, "s"), 4);

    /* A failing read (here a bad COUNT) fails alone: the outcomes sent
     * before it stand. */
    fp_resp_reset(&batch);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[2]), 0);
    r = eval_pull(t, "x", &batch);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->element[0]->integer, 1);
    assert_int_equal(r->element[1]->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    assert_int_equal(fp_tq_xlen(&t->redis, "s"), 3);
    assert_int_equal(fp_tq_pending(&t->redis, "s"), 2); /* id3, id4 */

    /* Last entry, then nothing new: nil. */
    fp_resp_reset(&batch);
    assert_int_equal(fp_outcome_encode_put_back(&batch, false, id[3], "{\"type\":\"back\"}", 15), 0);
    r = eval_pull(t, "5", &batch);
    assert_int_equal(r->element[0]->integer, 1);
    assert_int_equal(read_count(r->element[1]), 2); /* id5 and the put-back copy */
    assert_string_equal(read_id(r->element[1], 0), id[5]);
    freeReplyObject(r);
    r = eval_pull(t, "5", NULL);
    assert_int_equal(r->element[1]->type, REDIS_REPLY_NIL);
    freeReplyObject(r);

    /* An unknown kind fails the script before anything is written; the
     * read (here the next call) is not held up by it. */
    char *late = fp_tq_xadd(&t->redis, "s", "{\"type\":\"late\"}");
    fp_resp_reset(&batch);
    assert_int_equal(fp_resp_arg_str(&batch, "z"), 0);
    assert_int_equal(fp_resp_arg_str(&batch, id[4]), 0);
    r = eval_pull(t, "5", &batch);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = eval_pull(t, "5", NULL);
    assert_int_equal(read_count(r->element[1]), 1);
    assert_string_equal(read_id(r->element[1], 0), late);
    freeReplyObject(r);
    free(late);
    fp_resp_free(&batch);
    for (int i = 0; i < 6; i++)
        free(id[i]);
}

/* Between the pull and the outcomes another consumer took one entry over
 * (XCLAIM) and one was settled elsewhere (XACK + XDEL): in a batch mixing
 * kinds, the taken one's outcome is reported with its holder and leaves it
 * as it is; the failure of the one pending to nobody lands on the batch's
 * first send (it cannot be told from an orphan, whose only copy the daemon
 * holds) and is reported ('' for nobody) on a re-send; entries outside the
 * span the daemon gave (lo..hi, only where the script reads its own pending
 * entries in one call) are still looked up one by one and settled; the same
 * batch again changes nothing. */
static void test_taken_over_left_alone(void **state)
{
    tp_t *t = *state;
    char jobs[64];
    snprintf(jobs, sizeof jobs, "%s", fp_tq_key("s", "jobs"));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XGROUP CREATE %s forkpool 0 MKSTREAM", jobs));
    char *id[5];
    for (int i = 0; i < 5; i++)
        id[i] = fp_tq_xadd(&t->redis, "s", "{\"type\":\"noop\"}");
    freeReplyObject(eval_pull(t, "5", NULL)); /* all five pending here */
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XCLAIM %s forkpool other 0 %s JUSTID", jobs, id[1]));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XACK %s forkpool %s", jobs, id[2]));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XDEL %s %s", jobs, id[2]));

    const char *retry = "{\"type\":\"noop\",\"attempt\":1}";
    fp_resp_t batch;
    fp_resp_init(&batch);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[0]), 0);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[1]), 0);
    assert_int_equal(fp_outcome_encode_dead(&batch, false, id[2], "{}", 2, "boom", 1, 1), 0);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[3]), 0);
    assert_int_equal(fp_outcome_encode_retry(&batch, false, id[4], retry, strlen(retry), 5), 0);
    for (int round = 0; round < 2; round++) {
        redisReply *r = eval_span(t, "1", id[0], id[1], round == 0 ? "1" : "0", &batch);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->element[0]->integer, round == 0 ? 4 : 0);
        const redisReply *stale = r->element[2];
        assert_int_equal(stale->elements, round == 0 ? 1 : 5);
        if (round == 0) {
            assert_string_equal(stale->element[0]->element[0]->str, id[1]);
            assert_string_equal(stale->element[0]->element[1]->str, "other");
        }
        freeReplyObject(r);
        /* id1 stays with its new holder, in the stream; nothing else is left. */
        assert_int_equal(fp_tq_xlen(&t->redis, "s"), 1);
        assert_int_equal(fp_tq_pending(&t->redis, "s"), 1);
        redisReply *p = fp_th_redis_cmd(&t->redis, "XPENDING %s forkpool - + 10", jobs);
        assert_non_null(p);
        assert_int_equal(p->elements, 1);
        assert_string_equal(p->element[0]->element[0]->str, id[1]);
        assert_string_equal(p->element[0]->element[1]->str, "other");
        freeReplyObject(p);
        /* id2's dead letter: pending to nobody, it may have been an orphan
         * (queue_scripts.c), so a first send lands it; the re-send does not. */
        assert_int_equal(fp_th_redis_int(&t->redis, "XLEN %s", fp_tq_key("s", "dead")), 1);
        assert_int_equal(fp_th_redis_int(&t->redis, "ZCARD %s", fp_tq_key("s", "delayed")), 1);
    }
    fp_resp_free(&batch);
    for (int i = 0; i < 5; i++)
        free(id[i]);
}

/* n noop entries added to queue "s" (their ids in id[], the caller's), the
 * group created, and the first `read` of them read by the outcome script's
 * pull with no outcomes; its reply is the caller's. */
static redisReply *add_then_read(tp_t *t, char **id, int n, int read)
{
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XGROUP CREATE %s forkpool 0 MKSTREAM",
                                    fp_tq_key("s", "jobs")));
    for (int i = 0; i < n; i++)
        id[i] = fp_tq_xadd(&t->redis, "s", "{\"type\":\"noop\"}");
    char count[16];
    snprintf(count, sizeof count, "%d", read);
    redisReply *r = eval_pull(t, count, NULL);
    assert_int_equal(read_count(r->element[1]), (size_t)read);
    return r;
}

/* Queue "s"'s take-over token as Redis holds it, into out. */
static void read_token(tp_t *t, char out[FP_TAKEOVER_TOKEN_MAX])
{
    redisReply *tok = fp_th_redis_cmd(&t->redis, "GET %s", fp_tq_key("s", "takeover"));
    assert_non_null(tok);
    assert_int_equal(tok->type, REDIS_REPLY_STRING);
    assert_true(tok->len < FP_TAKEOVER_TOKEN_MAX);
    memcpy(out, tok->str, tok->len + 1);
    freeReplyObject(tok);
}

/* fp_script_claim run by consumer `me` on queue "s" (idle 0: every other
 * consumer's entry qualifies), claiming at most `want`; returns how many it
 * claimed. */
static long long claim_as(tp_t *t, const char *me, const char *want)
{
    redisReply *r = fp_th_redis_cmd(&t->redis, "EVAL %s 3 %s %s %s forkpool %s 0 %s 100",
                                    fp_script_claim, fp_tq_key("s", "jobs"),
                                    fp_tq_key("s", "cancel"), fp_tq_key("s", "takeover"), me,
                                    want);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    long long claimed = (long long)r->element[1]->elements;
    freeReplyObject(r);
    return claimed;
}

/* A batch sent with the take-over token Redis holds (its entries were read
 * after the daemon learned it) is applied without a single XPENDING, every
 * kind of outcome; a batch trusting nothing looks its entries up. */
static void test_trusted_batch_skips_lookup(void **state)
{
    tp_t *t = *state;
    char *id[5];
    redisReply *r = add_then_read(t, id, 5, 3);
    /* No take-over ever ran: the first call wrote a token from TIME. */
    assert_int_equal(r->element[4]->type, REDIS_REPLY_STRING);
    assert_true(r->element[4]->len > 0);
    char learned[FP_TAKEOVER_TOKEN_MAX];
    snprintf(learned, sizeof learned, "%s", r->element[4]->str);
    freeReplyObject(r);

    fp_resp_t batch;
    fp_resp_init(&batch);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[0]), 0);
    assert_int_equal(fp_outcome_encode_retry(&batch, false, id[1], "{}", 2, 60000), 0);
    assert_int_equal(fp_outcome_encode_dead(&batch, false, id[2], "{}", 2, "boom", 1, 1), 0);
    long long before = fp_th_redis_calls(&t->redis, "xpending");
    r = eval_trusting(t, "2", id[0], id[2], "1", learned, &batch);
    assert_int_equal(r->element[0]->integer, 3);
    assert_int_equal(r->element[2]->elements, 0);
    assert_int_equal(read_count(r->element[1]), 2);
    freeReplyObject(r);
    assert_int_equal(fp_th_redis_calls(&t->redis, "xpending"), before);
    assert_int_equal(fp_tq_xlen(&t->redis, "s"), 2);
    assert_int_equal(fp_tq_pending(&t->redis, "s"), 2);
    assert_int_equal(fp_th_redis_int(&t->redis, "ZCARD %s", fp_tq_key("s", "delayed")), 1);
    assert_int_equal(fp_th_redis_int(&t->redis, "XLEN %s", fp_tq_key("s", "dead")), 1);

    /* Untrusted, the same work is looked up. */
    fp_resp_reset(&batch);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[3]), 0);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[4]), 0);
    r = eval_span(t, "1", id[3], id[4], "1", &batch);
    assert_int_equal(r->element[0]->integer, 2);
    freeReplyObject(r);
    assert_true(fp_th_redis_calls(&t->redis, "xpending") > before);
    assert_int_equal(fp_tq_xlen(&t->redis, "s"), 0);
    assert_int_equal(fp_tq_pending(&t->redis, "s"), 0);
    fp_resp_free(&batch);
    for (int i = 0; i < 5; i++)
        free(id[i]);
}

/* Another daemon's take-over script moved one of this consumer's entries
 * after it learned the token: the take-over wrote a new token, so a batch
 * still sending the old one is looked up, and the moved entry's outcome is
 * left to its new holder. Each take-over writes a token never seen before;
 * one that moved nothing leaves it. */
static void test_takeover_ends_trust(void **state)
{
    tp_t *t = *state;
    char jobs[64]; /* fp_tq_key's buffers are reused */
    snprintf(jobs, sizeof jobs, "%s", fp_tq_key("s", "jobs"));
    char *id[3];
    redisReply *r = add_then_read(t, id, 3, 3);
    char learned[FP_TAKEOVER_TOKEN_MAX];
    snprintf(learned, sizeof learned, "%s", r->element[4]->str);
    freeReplyObject(r);

    assert_int_equal(claim_as(t, "other", "1"), 1); /* id0 moves to "other" */
    char first[FP_TAKEOVER_TOKEN_MAX], now[FP_TAKEOVER_TOKEN_MAX];
    read_token(t, first);
    assert_string_not_equal(first, learned);

    fp_resp_t batch;
    fp_resp_init(&batch);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fp_outcome_encode_ack(&batch, false, id[i]), 0);
    r = eval_trusting(t, "1", id[0], id[2], "1", learned, &batch);
    assert_int_equal(r->element[0]->integer, 2);
    assert_int_equal(r->element[2]->elements, 1);
    assert_string_equal(r->element[2]->element[0]->element[0]->str, id[0]);
    assert_string_equal(r->element[2]->element[0]->element[1]->str, "other");
    /* The reply carries the new token, for the next batches. */
    assert_string_equal(r->element[4]->str, first);
    freeReplyObject(r);
    redisReply *p = fp_th_redis_cmd(&t->redis, "XPENDING %s forkpool - + 10", jobs);
    assert_int_equal(p->elements, 1);
    assert_string_equal(p->element[0]->element[0]->str, id[0]);
    assert_string_equal(p->element[0]->element[1]->str, "other");
    freeReplyObject(p);
    assert_int_equal(fp_tq_xlen(&t->redis, "s"), 1);

    /* A sweep that moves nothing keeps the token; the next move renews it. */
    assert_int_equal(claim_as(t, "other", "1"), 0);
    assert_int_equal(claim_as(t, "third", "0"), 0);
    read_token(t, now);
    assert_string_equal(now, first);
    assert_int_equal(claim_as(t, "third", "1"), 1);
    read_token(t, now);
    assert_string_not_equal(now, first);
    fp_resp_free(&batch);
    for (int i = 0; i < 3; i++)
        free(id[i]);
}

/* The token key deleted (by hand, or a FLUSH that kept the stream from a
 * backup), which may have erased a take-over's token: the next call writes
 * a new one, so a batch sending the token learned before is looked up. A
 * token an operator set to "-", the daemon's "trust nothing", trusts
 * nothing either. */
static void test_lost_token_ends_trust(void **state)
{
    tp_t *t = *state;
    char *id[3];
    redisReply *r = add_then_read(t, id, 3, 3);
    char learned[FP_TAKEOVER_TOKEN_MAX];
    snprintf(learned, sizeof learned, "%s", r->element[4]->str);
    freeReplyObject(r);
    freeReplyObject(fp_th_redis_cmd(&t->redis, "DEL %s", fp_tq_key("s", "takeover")));

    fp_resp_t batch;
    fp_resp_init(&batch);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[0]), 0);
    long long before = fp_th_redis_calls(&t->redis, "xpending");
    r = eval_trusting(t, "1", id[0], id[0], "1", learned, &batch);
    assert_int_equal(r->element[0]->integer, 1);
    assert_string_not_equal(r->element[4]->str, learned);
    freeReplyObject(r);
    assert_true(fp_th_redis_calls(&t->redis, "xpending") > before);

    freeReplyObject(fp_th_redis_cmd(&t->redis, "SET %s -", fp_tq_key("s", "takeover")));
    fp_resp_reset(&batch);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[1]), 0);
    before = fp_th_redis_calls(&t->redis, "xpending");
    r = eval_trusting(t, "1", id[1], id[1], "1", FP_TAKEOVER_UNTRUSTED, &batch);
    assert_int_equal(r->element[0]->integer, 1);
    freeReplyObject(r);
    assert_true(fp_th_redis_calls(&t->redis, "xpending") > before);
    fp_resp_free(&batch);
    for (int i = 0; i < 3; i++)
        free(id[i]);
}

/* `forkpool cancel` marked three running entries before their outcomes
 * came (the daemon had not taken the marks): the retry and the put back go
 * to dead as cancelled instead (attempts from the payload, unique key
 * released), reported as the last list; the success is acknowledged; every
 * mark goes with its outcome, and an unmarked retry is retried as ever. */
static void test_marked_retry_is_cancelled(void **state)
{
    tp_t *t = *state;
    char marks[64]; /* fp_tq_key's buffers rotate: a copy */
    snprintf(marks, sizeof marks, "%s", fp_tq_key("s", "cancel"));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XGROUP CREATE %s forkpool 0 MKSTREAM",
                                    fp_tq_key("s", "jobs")));
    char *id[4];
    for (int i = 0; i < 4; i++)
        id[i] = fp_tq_xadd(&t->redis, "s", "{\"type\":\"noop\"}");
    freeReplyObject(eval_pull(t, "4", NULL)); /* all four run here now */
    for (int i = 0; i < 3; i++)
        freeReplyObject(fp_th_redis_cmd(&t->redis, "HSET %s %s 1", marks, id[i]));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "SET %s %s", fp_tq_key("s", "unique:k"), "u-1"));

    const char *retry = "{\"type\":\"noop\",\"id\":\"u-1\",\"unique\":{\"key\":\"k\"},\"attempt\":2}";
    fp_resp_t batch;
    fp_resp_init(&batch);
    assert_int_equal(fp_outcome_encode_retry(&batch, false, id[0], retry, strlen(retry), 5), 0);
    const char *back = "{\"type\":\"b\"}", *other = "{\"type\":\"x\"}";
    assert_int_equal(fp_outcome_encode_put_back(&batch, false, id[1], back, strlen(back)), 0);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[2]), 0);
    assert_int_equal(fp_outcome_encode_retry(&batch, false, id[3], other, strlen(other), 5), 0);
    redisReply *r = eval_pull(t, "1", &batch);
    assert_int_equal(r->element[0]->integer, 4);
    assert_int_equal(r->element[3]->elements, 2);
    assert_string_equal(r->element[3]->element[0]->str, id[0]);
    assert_string_equal(r->element[3]->element[1]->str, id[1]);
    freeReplyObject(r);

    assert_int_equal(fp_th_redis_int(&t->redis, "XLEN %s", fp_tq_key("s", "dead")), 2);
    redisReply *d = fp_th_redis_cmd(&t->redis, "XRANGE %s - + COUNT 1", fp_tq_key("s", "dead"));
    assert_non_null(d);
    const redisReply *f = d->element[0]->element[1];
    assert_string_equal(f->element[0]->str, "job");
    assert_string_equal(f->element[1]->str, retry);
    assert_string_equal(f->element[2]->str, "error");
    assert_string_equal(f->element[3]->str, "cancelled");
    assert_string_equal(f->element[4]->str, "attempts");
    assert_string_equal(f->element[5]->str, "2");
    freeReplyObject(d);
    assert_int_equal(fp_th_redis_int(&t->redis, "EXISTS %s", fp_tq_key("s", "unique:k")), 0);
    assert_int_equal(fp_th_redis_int(&t->redis, "ZCARD %s", fp_tq_key("s", "delayed")), 1);
    assert_int_equal(fp_th_redis_int(&t->redis, "EXISTS %s", marks), 0);
    assert_int_equal(fp_tq_xlen(&t->redis, "s"), 0); /* nothing put back */
    assert_int_equal(fp_tq_pending(&t->redis, "s"), 0);
    fp_resp_free(&batch);
    for (int i = 0; i < 4; i++)
        free(id[i]);
}

/* The prompt cancel's script reports a mark of an entry pending to this
 * consumer every round until that entry's outcome deletes it: a report that
 * reaches the daemon before the job does (its read reply still on the way, or
 * its limit check in flight) is not the only one. A stale mark (its entry
 * pending to nobody, or no entry id) is deleted; another consumer's stays. */
static redisReply *eval_take(tp_t *t)
{
    char jobs[64];
    snprintf(jobs, sizeof jobs, "%s", fp_tq_key("s", "jobs"));
    redisReply *r = fp_th_redis_cmd(&t->redis, "EVAL %s 2 %s %s forkpool test-consumer",
                                    fp_script_cancel_take, jobs, fp_tq_key("s", "cancel"));
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    return r;
}

static void test_cancel_take_reports_until_outcome(void **state)
{
    tp_t *t = *state;
    char marks[64];
    snprintf(marks, sizeof marks, "%s", fp_tq_key("s", "cancel"));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "XGROUP CREATE %s forkpool 0 MKSTREAM",
                                    fp_tq_key("s", "jobs")));
    char *id[3];
    for (int i = 0; i < 3; i++)
        id[i] = fp_tq_xadd(&t->redis, "s", "{\"type\":\"noop\"}");
    freeReplyObject(eval_pull(t, "2", NULL)); /* id[0], id[1] run here; id[2] is ready */
    for (int i = 0; i < 3; i++)
        freeReplyObject(fp_th_redis_cmd(&t->redis, "HSET %s %s 1", marks, id[i]));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "HSET %s not-an-id 1", marks));

    for (int round = 0; round < 2; round++) {
        redisReply *r = eval_take(t);
        assert_int_equal(r->elements, 2);
        assert_string_equal(r->element[0]->str, id[0]);
        assert_string_equal(r->element[1]->str, id[1]);
        freeReplyObject(r);
        assert_int_equal(fp_th_redis_int(&t->redis, "HLEN %s", marks), 2); /* stale ones went */
    }
    fp_resp_t batch;
    fp_resp_init(&batch);
    assert_int_equal(fp_outcome_encode_ack(&batch, false, id[0]), 0);
    freeReplyObject(eval_pull(t, "0", &batch));
    redisReply *r = eval_take(t);
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->str, id[1]);
    freeReplyObject(r);
    assert_int_equal(fp_th_redis_int(&t->redis, "HEXISTS %s %s", marks, id[0]), 0);
    fp_resp_free(&batch);
    for (int i = 0; i < 3; i++)
        free(id[i]);
}

/* ---- the queue path ----------------------------------------------------------- */

/* Commands Redis ran since the last SLOWLOG RESET whose first argument is
 * cmd (and, when given, whose second starts with arg1): top-level ones, or
 * with nested, the ones scripts ran (7.0 logs those too, with client "?:0"). */
static size_t slowlog_count(tp_t *t, const char *cmd, const char *arg1, bool nested)
{
    redisReply *r = fp_th_redis_cmd(&t->redis, "SLOWLOG GET -1");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    size_t n = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *argv = r->element[i]->element[3];
        if ((strcmp(r->element[i]->element[4]->str, "?:0") == 0) != nested)
            continue;
        if (argv->elements >= 1 && strcasecmp(argv->element[0]->str, cmd) == 0 &&
            (arg1 == NULL ||
             (argv->elements >= 2 && strncmp(argv->element[1]->str, arg1, strlen(arg1)) == 0)))
            n++;
    }
    freeReplyObject(r);
    return n;
}

/* The outcome script's look-ups of this consumer's pending entries
 * (XPENDING jobs group lo hi 10000 consumer) since the last SLOWLOG RESET. */
static size_t slowlog_span_lookups(tp_t *t)
{
    redisReply *r = fp_th_redis_cmd(&t->redis, "SLOWLOG GET -1");
    assert_non_null(r);
    size_t n = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *argv = r->element[i]->element[3];
        if (argv->elements == 7 && strcasecmp(argv->element[0]->str, "XPENDING") == 0 &&
            strcmp(argv->element[5]->str, "10000") == 0)
            n++;
    }
    freeReplyObject(r);
    return n;
}

/* True when the command right after the EVALSHA of sha from the same client
 * (SLOWLOG lists the newest first) is a top-level XREADGROUP: the pull
 * travels behind the outcomes on the writer, not on the blocking reader. */
static bool slowlog_read_follows(tp_t *t, const char *sha)
{
    redisReply *r = fp_th_redis_cmd(&t->redis, "SLOWLOG GET -1");
    assert_non_null(r);
    bool found = false;
    for (size_t i = r->elements; i-- > 0 && !found;) {
        const redisReply *eval = r->element[i], *ea = eval->element[3];
        if (ea->elements < 2 || strcasecmp(ea->element[0]->str, "EVALSHA") != 0 ||
            strcmp(ea->element[1]->str, sha) != 0)
            continue;
        for (size_t j = i; j-- > 0;) {
            const redisReply *next = r->element[j], *na = next->element[3];
            if (strcmp(next->element[4]->str, eval->element[4]->str) != 0)
                continue;
            found = na->elements >= 1 && strcasecmp(na->element[0]->str, "XREADGROUP") == 0;
            break;
        }
    }
    freeReplyObject(r);
    return found;
}

static char *script_sha(tp_t *t, const char *script)
{
    redisReply *r = fp_th_redis_cmd(&t->redis, "SCRIPT LOAD %s", script);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    char *sha = strdup(r->str);
    freeReplyObject(r);
    return sha;
}

/* The supervisor's turn: the jobs held finish, the room is said again. */
static void finish_held(tp_t *t)
{
    for (; t->n.acked < t->n.ngot; t->n.acked++)
        fp_queue_ack(t->n.q, 0, t->n.got[t->n.acked].id);
    t->n.held = 0;
    fp_tq_node_want(&t->n, t->bound);
}

static void test_outcomes_ride_with_pull(void **state)
{
    tp_t *t = *state;
    fp_tq_xadd_n(&t->redis, "ride", 12);
    /* Claim renewal on (its leases vouch for trusted batches), no sweep. */
    t->n.cfg.recovery.visibility_timeout_ms = 60000;
    fp_tq_node_open_ready(&t->n, "ride");
    char *outcome_sha = script_sha(t, fp_script_outcomes);
    freeReplyObject(fp_th_redis_cmd(&t->redis, "CONFIG SET slowlog-log-slower-than 0"));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "CONFIG SET slowlog-max-len 10000"));

    t->bound = 3;
    fp_tq_node_want(&t->n, 3);
    assert_true(fp_tq_wait_got(&t->n, 3, DEADLINE_MS));

    /* Outcomes and room in the same turn: one call carries both. */
    freeReplyObject(fp_th_redis_cmd(&t->redis, "SLOWLOG RESET"));
    finish_held(t);
    assert_true(fp_tq_wait_got(&t->n, 6, DEADLINE_MS));
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(t->n.ngot, 6);
    assert_int_equal(fp_queue_unconfirmed(t->n.q), 0);
    assert_int_equal(fp_tq_xlen(&t->redis, "ride"), 9);
    assert_int_equal(fp_tq_pending(&t->redis, "ride"), 3);
    /* The outcome script, then the pull as a plain command right behind it
     * on the same connection (one write, one round trip): the entries the
     * read brings are never converted to Lua tables and back. */
    assert_int_equal(slowlog_count(t, "EVALSHA", NULL, false), 1);
    assert_int_equal(slowlog_count(t, "EVALSHA", outcome_sha, false), 1);
    assert_int_equal(slowlog_count(t, "XREADGROUP", NULL, false), 1);
    assert_int_equal(slowlog_count(t, "XREADGROUP", NULL, true), 0);
    assert_int_equal(slowlog_count(t, "XACK", NULL, true), 1); /* one XACK for the batch */
    assert_true(slowlog_read_follows(t, outcome_sha));
    /* Its entries were read before the daemon knew the take-over token:
     * looked up. */
    assert_int_equal(slowlog_span_lookups(t), 1);

    /* Redis lost its scripts: NOSCRIPT, then the same as EVAL. */
    freeReplyObject(fp_th_redis_cmd(&t->redis, "SCRIPT FLUSH"));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "SLOWLOG RESET"));
    finish_held(t);
    assert_true(fp_tq_wait_got(&t->n, 9, DEADLINE_MS));
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(t->n.ngot, 9);
    assert_int_equal(fp_queue_unconfirmed(t->n.q), 0);
    assert_int_equal(fp_tq_xlen(&t->redis, "ride"), 6);
    assert_int_equal(fp_tq_pending(&t->redis, "ride"), 3);
    assert_true(slowlog_count(t, "EVAL", "local jobs, dead, delayed", false) >= 1);
    assert_int_equal(slowlog_count(t, "XREADGROUP", NULL, true), 0);

    /* The rest, then the queue runs dry: every job exactly once, room kept.
     * These entries were read after the first reply told the token, and no
     * take-over ran since: their batches are trusted, never looked up
     * (takeover_token.h). */
    freeReplyObject(fp_th_redis_cmd(&t->redis, "SLOWLOG RESET"));
    finish_held(t);
    assert_true(fp_tq_wait_got(&t->n, 12, DEADLINE_MS));
    finish_held(t);
    fp_tq_node_want(&t->n, 0);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_queue_unconfirmed(t->n.q), 0);
    assert_int_equal(t->n.ngot, 12);
    for (size_t i = 0; i < t->n.ngot; i++)
        for (size_t j = i + 1; j < t->n.ngot; j++)
            assert_string_not_equal(t->n.got[i].id, t->n.got[j].id);
    assert_false(t->n.over_room);
    assert_true(t->n.max_held <= 3);
    assert_int_equal(fp_tq_xlen(&t->redis, "ride"), 0);
    assert_int_equal(fp_tq_pending(&t->redis, "ride"), 0);
    assert_true(slowlog_count(t, "XACK", NULL, true) >= 2);
    assert_int_equal(slowlog_span_lookups(t), 0);
    free(outcome_sha);
}

/* A daemon stalled longer than half its visibility timeout (here its loop
 * does not run for 0.4 s of 0.6 s): another daemon may have taken its
 * entries over meanwhile, one built before the take-over token included,
 * so the batch it sends when it wakes is looked up, although no token
 * changed. Before the stall, the same batches go unchecked. */
static void test_stall_ends_trust(void **state)
{
    tp_t *t = *state;
    fp_tq_xadd_n(&t->redis, "ride", 9);
    t->n.cfg.recovery.visibility_timeout_ms = 600;
    fp_tq_node_open_ready(&t->n, "ride");
    freeReplyObject(fp_th_redis_cmd(&t->redis, "CONFIG SET slowlog-log-slower-than 0"));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "CONFIG SET slowlog-max-len 10000"));
    t->bound = 3;
    fp_tq_node_want(&t->n, 3);
    assert_true(fp_tq_wait_got(&t->n, 3, DEADLINE_MS));
    finish_held(t); /* read before the token was known: looked up */
    assert_true(fp_tq_wait_got(&t->n, 6, DEADLINE_MS));
    finish_held(t); /* the same */
    assert_true(fp_tq_wait_got(&t->n, 9, DEADLINE_MS));
    /* Entries 7..9 were read after the token came back: trusted, unless... */
    fp_tq_run_for(&t->loop, 250); /* a renewal round or two completes */
    freeReplyObject(fp_th_redis_cmd(&t->redis, "SLOWLOG RESET"));
    struct timespec stall = {0, 400 * 1000 * 1000};
    nanosleep(&stall, NULL);
    finish_held(t);
    fp_tq_node_want(&t->n, 0);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_tq_pending(&t->redis, "ride"), 0);
    assert_int_equal(fp_tq_xlen(&t->redis, "ride"), 0);
    assert_int_equal(slowlog_span_lookups(t), 1);
}

/* The daemon's connections dropped and came back (as after a failover,
 * where the new server may have let another daemon read the same entries):
 * the batch of entries read before is looked up, though the token is the
 * same. */
static void test_reconnect_ends_trust(void **state)
{
    tp_t *t = *state;
    fp_tq_xadd_n(&t->redis, "ride", 9);
    t->n.cfg.recovery.visibility_timeout_ms = 60000;
    fp_tq_node_open_ready(&t->n, "ride");
    freeReplyObject(fp_th_redis_cmd(&t->redis, "CONFIG SET slowlog-log-slower-than 0"));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "CONFIG SET slowlog-max-len 10000"));
    t->bound = 3;
    fp_tq_node_want(&t->n, 3);
    assert_true(fp_tq_wait_got(&t->n, 3, DEADLINE_MS));
    finish_held(t);
    assert_true(fp_tq_wait_got(&t->n, 6, DEADLINE_MS));
    finish_held(t);
    assert_true(fp_tq_wait_got(&t->n, 9, DEADLINE_MS));
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "CLIENT KILL TYPE normal SKIPME yes"));
    assert_true(fp_tq_wait_ready(&t->n, false, DEADLINE_MS));
    assert_true(fp_tq_wait_ready(&t->n, true, DEADLINE_MS));
    freeReplyObject(fp_th_redis_cmd(&t->redis, "SLOWLOG RESET"));
    finish_held(t);
    fp_tq_node_want(&t->n, 0);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(fp_tq_pending(&t->redis, "ride"), 0);
    assert_int_equal(fp_tq_xlen(&t->redis, "ride"), 0);
    assert_true(slowlog_span_lookups(t) >= 1);
}

/* The queue path of the case above: a job this daemon holds is marked
 * (`forkpool cancel`) and then fails before the daemon took the mark; its
 * retry goes to dead as cancelled, and the queue tells the supervisor
 * (on_retry_cancelled) with the entry and the payload the retry carried,
 * so the ledger and metrics can say cancelled instead of retried. The mark
 * and the retry are made in one step of the test, between two loop turns;
 * the daemon's own take of the marks (every second) would have to fall in
 * that turn to take it first. */
static void test_retry_cancel_reported(void **state)
{
    tp_t *t = *state;
    char *id = fp_tq_xadd(&t->redis, "rc", "{\"type\":\"noop\",\"id\":\"j-1\"}");
    fp_tq_node_open_ready(&t->n, "rc");
    fp_tq_node_want(&t->n, 1);
    assert_true(fp_tq_wait_got(&t->n, 1, DEADLINE_MS));
    assert_string_equal(t->n.got[0].id, id);
    const char *retry = "{\"type\":\"noop\",\"id\":\"j-1\",\"attempt\":1}";
    freeReplyObject(fp_th_redis_cmd(&t->redis, "HSET %s %s 1", fp_tq_key("rc", "cancel"), id));
    fp_queue_retry(t->n.q, 0, id, retry, strlen(retry), 5);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(t->n.retry_cancelled, 1);
    assert_string_equal(t->n.cancelled_id, id);
    assert_int_equal(t->n.cancelled_kind, 'r');
    assert_string_equal(t->n.cancelled_payload, retry);
    assert_int_equal(fp_th_redis_int(&t->redis, "XLEN %s", fp_tq_key("rc", "dead")), 1);
    assert_int_equal(fp_th_redis_int(&t->redis, "ZCARD %s", fp_tq_key("rc", "delayed")), 0);
    /* An unmarked retry is retried and reported as nothing else. */
    char *id2 = fp_tq_xadd(&t->redis, "rc", "{\"type\":\"noop\"}");
    fp_tq_node_want(&t->n, 1);
    assert_true(fp_tq_wait_got(&t->n, 2, DEADLINE_MS));
    fp_queue_retry(t->n.q, 0, id2, "{\"type\":\"noop\",\"attempt\":1}", 27, 5);
    assert_true(fp_tq_wait_confirmed(&t->n, DEADLINE_MS));
    assert_int_equal(t->n.retry_cancelled, 1);
    assert_int_equal(fp_th_redis_int(&t->redis, "ZCARD %s", fp_tq_key("rc", "delayed")), 1);
    free(id);
    free(id2);
}

/* Many turns with a small room and acks trickling in one at a time: the
 * combined path and the lone batches interleave; nothing is handed over
 * twice, the room holds, and everything ends acknowledged. */
static bool trickle(void *ctx, size_t n)
{
    tp_t *t = ctx;
    if (t->n.acked < t->n.ngot) {
        fp_queue_ack(t->n.q, 0, t->n.got[t->n.acked++].id);
        t->n.held--;
        fp_tq_node_want(&t->n, t->bound - t->n.held);
    }
    return t->n.acked >= n && fp_queue_unconfirmed(t->n.q) == 0;
}

static void test_trickle_many_turns(void **state)
{
    tp_t *t = *state;
    fp_tq_xadd_n(&t->redis, "trickle", 400);
    fp_tq_node_open_ready(&t->n, "trickle");
    t->bound = 4;
    fp_tq_node_want(&t->n, 4);
    assert_true(fp_tq_run_until(&t->loop, trickle, t, 400, DEADLINE_MS * 3));
    assert_int_equal(t->n.ngot, 400);
    assert_false(t->n.over_room);
    assert_true(t->n.max_held <= 4);
    for (size_t i = 0; i < t->n.ngot; i++)
        for (size_t j = i + 1; j < t->n.ngot; j++)
            assert_string_not_equal(t->n.got[i].id, t->n.got[j].id);
    assert_int_equal(fp_tq_xlen(&t->redis, "trickle"), 0);
    assert_int_equal(fp_tq_pending(&t->redis, "trickle"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_script_applies_then_pulls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_taken_over_left_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trusted_batch_skips_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_takeover_ends_trust, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_token_ends_trust, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marked_retry_is_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_take_reports_until_outcome, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_cancel_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcomes_ride_with_pull, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stall_ends_trust, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_ends_trust, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trickle_many_turns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
