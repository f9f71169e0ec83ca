/* limits.h: [limits.TYPE] concurrency and rate on the embedded queue's file,
 * shared by every daemon on it: what the take / renew scripts of
 * lib/limits/limit_script.h do in Redis, done in SQL on the kv table
 * (kv.h), each call one transaction (BEGIN IMMEDIATE), so two daemons never
 * both take the last slot.
 *
 *   space "limit:TYPE"  key = a lease's member (fp_limit_member), value
 *                       "", expires_at = when the lease runs out (Unix
 *                       ms): counted while live, so a daemon that died
 *                       frees its slots one lease later
 *   space "limit-rate"  key = TYPE, value = the GCRA TAT (Unix us, as
 *                       text), expires once it is in the past
 *
 * The GCRA arithmetic is lib/limits/rate.c's fp_gcra_take, the Lua's twin.
 * Clocks are the caller's (the daemon's wall clock; a test's own numbers):
 * daemons sharing a file share a host, hence its clock. */
#ifndef FORKPOOL_SQLQ_LIMITS_H
#define FORKPOOL_SQLQ_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "limits/limit.h"
#include "sqlq/aq.h"
#include "sqlq/store.h"

/* Take (fp_limit_take_lua's contract): drops expired leases; refuses when
 * concurrency live leases are out (the member's own counted once, renewed);
 * else takes a GCRA slot, and gives the member's lease back when the rate
 * refuses. */
int fp_sqlq_limit_take(fp_sqlq_t *q, const fp_limit_ask_t *ask, int64_t now_us,
                       fp_limit_reply_t *out, fp_err_t *err);

/* Gives member's lease of type back (absent: nothing to do). */
int fp_sqlq_limit_release(fp_sqlq_t *q, const char *type, const char *member, fp_err_t *err);

/* Renews the n members' leases to now + lease_ms, putting back any that had
 * expired or gone (their jobs still run); *lost counts those. */
int fp_sqlq_limit_renew(fp_sqlq_t *q, const char *type, int64_t lease_ms,
                        const char *const *members, size_t n, int64_t now_ms, int64_t *lost,
                        fp_err_t *err);

/* The same on the daemon's queue worker thread (fp_aq_call) with its wall
 * clock; the callbacks run on the loop, once per accepted call (0
 * returned), with the call's code (negative: failed or cancelled) and
 * message. The texts are copied. */
typedef void (*fp_limit_take_cb)(void *ctx, int rc, const fp_limit_reply_t *rep,
                                 const char *msg);
typedef void (*fp_limit_renew_cb)(void *ctx, int rc, int64_t lost);
typedef void (*fp_limit_release_cb)(void *ctx, int rc);
int fp_aq_limit_take(fp_aq_t *aq, const fp_limit_ask_t *ask, fp_limit_take_cb cb, void *ctx);
int fp_aq_limit_release(fp_aq_t *aq, const char *type, const char *member,
                        fp_limit_release_cb cb, void *ctx);
int fp_aq_limit_renew(fp_aq_t *aq, const char *type, int64_t lease_ms,
                      const char *const *members, size_t n, fp_limit_renew_cb cb, void *ctx);

#endif
