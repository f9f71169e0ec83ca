/* queue_scripts.c: the Lua text of the outcome, drained, take-over,
 * consumer clean-up and delayed-mover scripts, and the RESP encoding used to
 * call them. Everything here is pure so that the exact
 * bytes sent to Redis are unit-tested; the outcomes of a loop turn are encoded
 * into one buffer as they arrive, with no per-job allocation. */
#include "queue/queue_scripts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "queue/cancel.h"
#include "queue/takeover_token.h"
#include "queue/unique.h"

/* Writes a new take-over token to `key` and returns it (takeover_token.h):
 * Redis' time (t, TIME's reply) and the previous token's counter + 1, so no
 * token repeats, also on a replica promoted without the last one (it lacks
 * what that script did too: scripts replicate as one step). The one writer
 * of tokens, for the take-over and outcome scripts. */
#define TAKEOVER_TOKEN_FN \
    "local function new_token(key, t)\n" \
    "  local old = redis.call('GET', key) or ''\n" \
    "  local count = tonumber(string.match(old, ':(%d+)$') or '0') + 1\n" \
    "  local token = t[1] .. '.' .. t[2] .. ':' .. string.format('%d', count)\n" \
    "  redis.call('SET', key, token)\n" \
    "  return token\n" \
    "end\n"

/* Outcomes of one loop turn for one queue, applied atomically. Each acts
 * only on an entry still pending to this consumer: XACK alone would also
 * settle an entry another consumer took over meanwhile, and its 0 does not
 * tell whether the entry was taken over or already settled. This consumer's
 * pending entries between the batch's smallest and largest id (lo, hi: the
 * caller knows them as numbers, Lua would have to parse every id) are read
 * once (XPENDING with the consumer filter), so the common case costs a table
 * lookup instead of a call per entry; an id not among them (outside a wrong
 * span, or beyond 10000) is looked up alone, so the span only bounds the
 * cost: every entry Redis hands to a script becomes a Lua table, and the ones
 * the daemon still runs, outside the span, need none. Neither lookup is
 * made when the daemon sends (ARGV[6]) the take-over token Redis still holds
 * (KEYS[5], written by fp_script_claim, the only step that moves another
 * consumer's pending entry): every entry of the batch was then read by this
 * consumer after the last take-over, so it is still pending to it
 * (takeover_token.h); the reply's last element is the token, for the next
 * batch. A missing token (never written, or the key was deleted, which may
 * have erased a take-over's) is written anew (TAKEOVER_TOKEN_FN), so it
 * matches no token a daemon learned before. An
 * upper-case kind marks an entry the daemon saw deleted from the stream while
 * it held it: its pending record may be gone (XCLAIM drops it), and the copy
 * it carries is the job's only one, so it lands unless another consumer holds
 * the entry. A failure (p, r, d, x) of an entry that nothing holds lands too
 * on a batch's first send (ARGV[5] '1'): its pending record can be gone
 * before the daemon saw the entry deleted (an XCLAIM or XAUTOCLAIM of the
 * deleted entry drops it), and nothing else will run the job again; that it
 * was instead settled by a daemon that took it over costs at most a second
 * run. Anything not applied is reported as {id, holder} (holder ''
 * when nothing holds it) and left untouched, so a batch re-sent after a lost
 * reply (ARGV[5] '0') adds nothing twice; an id twice in one batch is applied
 * once. Every
 * kind is checked before anything is read or written, and the
 * writes come first and XACK + XDEL (one call each) last: a script stopped
 * half-way (scripts do not roll back) leaves a job twice, never none. A
 * retry's due time is Redis' TIME plus the delay it carries, the clock the
 * mover uses. A plain success (kind a) of an entry among those read, while
 * nothing is marked, takes a short branch: it writes nothing and only joins
 * the XACK and XDEL.
 * Kinds k and x are a and d for a unique job (its payload has a "unique"
 * member): once the outcome acts, the job's unique key is released in the
 * same atomic step, so no crash between the outcome and a release can leak
 * it, and only while the key still holds this job's "id" (a later job with
 * the same key is never unlocked by an earlier one's outcome). The payload
 * is the one the kind carries, else the stream entry's, read before XDEL;
 * the key is P:{Q}:unique:KEY, built from the jobs key P:{Q}:jobs.
 * An entry `forkpool cancel` marked in the cancel hash (KEYS[4], cancel.c)
 * loses its mark with its outcome, and is never retried or put back: a
 * retry or a put back of a marked entry goes to dead with the error
 * "cancelled" instead (its unique key released), whether or not the daemon
 * had taken the mark yet, so a job that fails just after its cancel cannot
 * run again. Those ids come back as the last list of the reply. */
#define OUTCOMES_LOOP \
    "local t = redis.call('TIME')\n" \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
    "local widths = {a = 2, p = 3, r = 4, d = 6, k = 2, x = 6,\n" \
    "                A = 2, P = 3, R = 4, D = 6, K = 2, X = 6}\n" \
    "local lower = {A = 'a', P = 'p', R = 'r', D = 'd', K = 'k', X = 'x'}\n" \
    "local bases = {k = 'a', x = 'd'}\n" \
    "local fails = {p = true, r = true, d = true, x = true}\n" \
    "local mine, seen, acks, dels, unlocks, na, nd = {}, {}, {}, {}, {}, 0, 0\n" \
    "local marked = redis.call('EXISTS', marks) > 0\n" \
    "local j = i\n" \
    "while j <= n do\n" \
    "  local w = widths[ARGV[j]]\n" \
    "  if not w then\n" \
    "    return redis.error_reply('ERR forkpool: unknown outcome kind ' .. tostring(ARGV[j]))\n" \
    "  end\n" \
    "  j = j + w\n" \
    "end\n" \
    "local token = redis.call('GET', KEYS[5]) or new_token(KEYS[5], t)\n" \
    "local trusted = ARGV[6] ~= '" FP_TAKEOVER_UNTRUSTED "' and ARGV[6] == token\n" \
    "if i <= n and not trusted then\n" \
    "  local p = redis.call('XPENDING', jobs, group, lo, hi, 10000, consumer)\n" \
    "  for x = 1, #p do mine[p[x][1]] = true end\n" \
    "end\n" \
    "while i <= n do\n" \
    "  local kind, id = ARGV[i], ARGV[i + 1]\n" \
    "  local own = mine[id] or (trusted and not seen[id])\n" \
    "  if kind == 'a' and own and not marked then\n" \
    "    seen[id], mine[id], na, nd, done = true, nil, na + 1, nd + 1, done + 1\n" \
    "    acks[na], dels[nd] = id, id\n" \
    "    i = i + 2\n" \
    "  else\n" \
    "    local k = lower[kind] or kind\n" \
    "    local holder = nil\n" \
    "    if own then\n" \
    "      holder = consumer\n" \
    "    elseif not seen[id] then\n" \
    "      local p = redis.call('XPENDING', jobs, group, id, id, 1)\n" \
    "      holder = p[1] and p[1][2]\n" \
    "    end\n" \
    "    local orphan = holder == nil and (k ~= kind or (first and fails[k]))\n" \
    "    if not seen[id] and (holder == consumer or orphan) then\n" \
    "      seen[id], mine[id] = true, nil\n" \
    "      if holder then na = na + 1; acks[na] = id end\n" \
    "      local b = bases[k] or k\n" \
    "      if b ~= k then unlocks[#unlocks + 1] = {id, b == 'd' and ARGV[i + 2]} end\n" \
    "      if marked and redis.call('HDEL', marks, id) > 0 and (b == 'r' or b == 'p') then\n" \
    "        b = 'c'\n" \
    "        cancelled[#cancelled + 1] = id\n" \
    "        unlocks[#unlocks + 1] = {id, ARGV[i + 2]}\n" \
    "      end\n" \
    "      if b == 'p' then\n" \
    "        redis.call('XADD', jobs, '*', 'job', ARGV[i + 2])\n" \
    "      elseif b == 'r' then\n" \
    "        redis.call('ZADD', delayed, now + tonumber(ARGV[i + 3]), ARGV[i + 2])\n" \
    "      elseif b == 'd' then\n" \
    "        redis.call('XADD', dead, '*', 'job', ARGV[i + 2], 'error', ARGV[i + 3],\n" \
    "                   'attempts', ARGV[i + 4], 'failed_at', ARGV[i + 5], 'consumer', consumer)\n" \
    "      elseif b == 'c' then\n" \
    "        local ok, job = pcall(cjson.decode, ARGV[i + 2])\n" \
    "        local tries = ok and type(job) == 'table' and tonumber(job.attempt) or 0\n" \
    "        redis.call('XADD', dead, '*', 'job', ARGV[i + 2], 'error', '" FP_CANCEL_ERROR "',\n" \
    "                   'attempts', string.format('%.0f', tries), 'failed_at',\n" \
    "                   string.format('%.0f', now), 'consumer', consumer)\n" \
    "      end\n" \
    "      nd = nd + 1; dels[nd] = id\n" \
    "      done = done + 1\n" \
    "    else\n" \
    "      stale[#stale + 1] = {id, holder or ''}\n" \
    "    end\n" \
    "    i = i + widths[k]\n" \
    "  end\n" \
    "end\n" \
    FP_UNIQUE_RELEASE_FN \
    "local unique_base = string.sub(jobs, 1, -5) .. 'unique:'\n" \
    "for _, u in ipairs(unlocks) do\n" \
    "  local text = u[2]\n" \
    "  if not text then\n" \
    "    local e = redis.call('XRANGE', jobs, u[1], u[1])[1]\n" \
    "    for f = 1, e and #e[2] or 0, 2 do\n" \
    "      if e[2][f] == 'job' then text = e[2][f + 1] end\n" \
    "    end\n" \
    "  end\n" \
    "  if text then unique_release(unique_base, text) end\n" \
    "end\n" \
    "for s = 1, na, 1000 do\n" \
    "  redis.call('XACK', jobs, group, unpack(acks, s, math.min(s + 999, na)))\n" \
    "end\n" \
    "for s = 1, nd, 1000 do\n" \
    "  redis.call('XDEL', jobs, unpack(dels, s, math.min(s + 999, nd)))\n" \
    "end\n"

const char fp_script_outcomes[] =
    "local jobs, dead, delayed, marks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]\n"
    "local group, consumer, lo, hi = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local first = ARGV[5] == '1'\n"
    "local i, n, done, stale, cancelled = 7, #ARGV, 0, {}, {}\n"
    TAKEOVER_TOKEN_FN
    OUTCOMES_LOOP
    "return {done, stale, cancelled, token}\n";

/* Renewal that never takes an entry back: XCLAIM with min-idle 0 would
 * also take back an entry another consumer took over (two holders, and this
 * one's outcome would then destroy the other's copy), and on an entry
 * deleted from the stream it drops the pending record, after which nothing
 * tells the daemon the job's outcome must still land. Each id is looked up
 * first; only those pending to this consumer and still in the stream are
 * renewed (one XCLAIM ... JUSTID). An id gone from the stream counts as
 * deleted whether or not its pending record survived: someone's XCLAIM of
 * the deleted entry may have dropped the record already, and calling that
 * "settled elsewhere" would drop the job's retry. */
const char fp_script_renew[] =
    "local jobs, group, me = KEYS[1], ARGV[1], ARGV[2]\n"
    "local keep, deleted, taken = {}, {}, {}\n"
    "for i = 3, #ARGV do\n"
    "  local id = ARGV[i]\n"
    "  local p = redis.call('XPENDING', jobs, group, id, id, 1)\n"
    "  if p[1] ~= nil and p[1][2] ~= me then\n"
    "    taken[#taken + 1] = {id, p[1][2]}\n"
    "  elseif #redis.call('XRANGE', jobs, id, id) == 0 then\n"
    "    deleted[#deleted + 1] = id\n"
    "  elseif p[1] == nil then\n"
    "    taken[#taken + 1] = {id, ''}\n"
    "  else\n"
    "    keep[#keep + 1] = id\n"
    "  end\n"
    "end\n"
    "local n = #keep\n"
    "if n > 0 then\n"
    "  keep[n + 1] = 'JUSTID'\n"
    "  redis.call('XCLAIM', jobs, group, me, 0, unpack(keep))\n"
    "end\n"
    "return {n, deleted, taken}\n";

/* The prompt cancel (cancel_take.c): one HLEN per queue and round while
 * nothing is marked. Otherwise each mark whose entry is pending to this
 * consumer is returned, and stays: the entry's outcome deletes it (the
 * outcome scripts), so a report that reaches the daemon before the job does
 * (its read reply still on the reader, its limit check in flight) is made
 * again next round rather than lost. A mark whose entry is pending to nobody
 * (its job was settled: nothing will take it) or whose field is no entry id
 * is deleted; marks of other consumers' entries are theirs. */
const char fp_script_cancel_take[] =
    "local jobs, marks, group, me = KEYS[1], KEYS[2], ARGV[1], ARGV[2]\n"
    "if redis.call('HLEN', marks) == 0 then return {} end\n"
    "local mine = {}\n"
    "for _, id in ipairs(redis.call('HKEYS', marks)) do\n"
    "  local p = redis.pcall('XPENDING', jobs, group, id, id, 1)\n"
    "  if p.err or p[1] == nil then\n"
    "    redis.call('HDEL', marks, id)\n"
    "  elseif p[1][2] == me then\n"
    "    mine[#mine + 1] = id\n"
    "  end\n"
    "end\n"
    "return mine\n";

/* XINFO GROUPS comes back as a flat name/value list per group (RESP2). An
 * exclusive XRANGE from last-delivered-id tells whether anything is still to
 * be delivered, without XREADGROUP (which would claim it). XINFO's "lag"
 * (new in 7.0) is not used: it turns nil as soon as an entry after the
 * group's last-delivered id was deleted (checked on 7.0.15), and "unknown" is
 * no answer for --burst. */
const char fp_script_drained[] =
    "local jobs, delayed, group = KEYS[1], KEYS[2], ARGV[1]\n"
    "local pending, ready = 0, 0\n"
    "if redis.call('EXISTS', jobs) == 1 then\n"
    "  ready = redis.call('XLEN', jobs) > 0 and 1 or 0\n"
    "  for _, g in ipairs(redis.call('XINFO', 'GROUPS', jobs)) do\n"
    "    local f = {}\n"
    "    for k = 1, #g, 2 do f[g[k]] = g[k + 1] end\n"
    "    if f['name'] == group then\n"
    "      local after = redis.call('XRANGE', jobs, '(' .. f['last-delivered-id'], '+', "
    "'COUNT', 1)\n"
    "      pending, ready = f['pending'], #after\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local waiting = {}\n"
    "for i = 2, #ARGV do\n"
    "  if redis.call('ZSCORE', delayed, ARGV[i]) then waiting[#waiting + 1] = i - 1 end\n"
    "end\n"
    "return {pending, ready, waiting}\n";

/* Take-over in one script rather than XAUTOCLAIM: XAUTOCLAIM does not say
 * how often an entry was delivered, and looking that up afterwards with
 * XPENDING would be a second round trip racing other daemons. Here XPENDING's
 * counter and the claim are one atomic step, so counter + 1 is exact. It also
 * leaves this consumer's own idle entries alone (XAUTOCLAIM would claim them
 * again, bump their counter and hand a running job over twice): those come
 * back through the history read or are renewed. Existence is checked with
 * XRANGE rather than relying on 7.0's XCLAIM dropping deleted entries
 * silently, so a dropped entry is counted and the script does the same on
 * 6.2. XCLAIM repeats min_idle: inside a script nothing can renew the entry
 * between XPENDING and XCLAIM, but it keeps the claim safe on its own.
 * Having moved or dropped anything, it writes a new take-over token (KEYS[3],
 * TAKEOVER_TOKEN_FN). */
const char fp_script_claim[] =
    TAKEOVER_TOKEN_FN
    "local jobs, marks = KEYS[1], KEYS[2]\n"
    "local group, me, idle = ARGV[1], ARGV[2], ARGV[3]\n"
    "local want, budget = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local claimed, dropped, start = {}, 0, '-'\n"
    "while budget > 0 do\n"
    "  local size = math.min(budget, 100)\n"
    "  local page = redis.call('XPENDING', jobs, group, 'IDLE', idle, start, '+', size)\n"
    "  for _, p in ipairs(page) do\n"
    "    local id = p[1]\n"
    "    if p[2] ~= me then\n"
    "      if #redis.call('XRANGE', jobs, id, id) == 0 then\n"
    "        redis.call('XACK', jobs, group, id)\n"
    "        dropped = dropped + 1\n"
    "      elseif #claimed < want then\n"
    "        local got = redis.call('XCLAIM', jobs, group, me, idle, id)\n"
    "        if got[1] then\n"
    "          claimed[#claimed + 1] = {got[1][1], got[1][2], p[4] + 1,\n"
    "                                   redis.call('HEXISTS', marks, id)}\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  budget = budget - #page\n"
    "  if #page < size or (want > 0 and #claimed >= want) then break end\n"
    "  start = '(' .. page[#page][1]\n"
    "end\n"
    "if dropped > 0 or #claimed > 0 then new_token(KEYS[3], redis.call('TIME')) end\n"
    "return {dropped, claimed}\n";

/* Ids compare as two decimal numbers, written without leading zeros: by
 * length first, then as text (Lua's numbers cannot hold every 64-bit
 * sequence number). */
const char fp_script_history[] =
    "local jobs, marks, group, me, counted = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[5]\n"
    "local function num_gt(a, b)\n"
    "  if #a ~= #b then return #a > #b end\n"
    "  return a > b\n"
    "end\n"
    "local function uncounted(id)\n"
    "  if counted == '+' then return false end\n"
    "  local a, b = string.match(id, '^(%d+)-(%d+)$')\n"
    "  local c, d = string.match(counted, '^(%d+)-(%d+)$')\n"
    "  if not c then return true end\n"
    "  if a ~= c then return num_gt(a, c) end\n"
    "  return num_gt(b, d)\n"
    "end\n"
    "local out = {}\n"
    "local page = redis.call('XPENDING', jobs, group, ARGV[3], '+', tonumber(ARGV[4]), me)\n"
    "for _, p in ipairs(page) do\n"
    "  local id, n = p[1], p[4]\n"
    "  local e = redis.call('XRANGE', jobs, id, id)[1]\n"
    "  if e and uncounted(id) then\n"
    "    n = n + 1\n"
    "    redis.call('XCLAIM', jobs, group, me, 0, id, 'RETRYCOUNT', n, 'JUSTID')\n"
    "  end\n"
    "  out[#out + 1] = {id, e and e[2] or false, n, redis.call('HEXISTS', marks, id)}\n"
    "end\n"
    "return out\n";

/* XGROUP DELCONSUMER throws away the consumer's pending entries, so the check
 * (nothing pending) and the delete are one atomic step. "idle" is the time
 * since the consumer's last attempt to read or claim; a live daemon that reads
 * is never that idle, and one that is gets recreated by its next read anyway:
 * with nothing pending, removal loses nothing. */
const char fp_script_consumers[] =
    "local jobs, group, me = KEYS[1], ARGV[1], ARGV[2]\n"
    "local min_idle = tonumber(ARGV[3])\n"
    "local list = redis.pcall('XINFO', 'CONSUMERS', jobs, group)\n"
    "if list['err'] then return 0 end\n"
    "local removed = 0\n"
    "for _, c in ipairs(list) do\n"
    "  local f = {}\n"
    "  for k = 1, #c, 2 do f[c[k]] = c[k + 1] end\n"
    "  if f['name'] ~= me and f['pending'] == 0 and f['idle'] >= min_idle then\n"
    "    redis.call('XGROUP', 'DELCONSUMER', jobs, group, f['name'])\n"
    "    removed = removed + 1\n"
    "  end\n"
    "end\n"
    "return removed\n";

/* Due means due by Redis' clock (TIME), not the calling daemon's: daemons on
 * several hosts run this concurrently, and with skewed clocks one whose clock
 * runs ahead would move jobs early (and one behind, late); one clock for all
 * keeps "due" consistent, and the ZRANGEBYSCORE + XADD + ZREM being one
 * atomic script means two movers never move the same member twice.
 * Writing after TIME: before Redis 5 that needed redis.replicate_commands()
 * (scripts were replicated verbatim, so non-deterministic commands before a
 * write were refused). Since 5.0 effects replication is the default, and 7.0
 * removed verbatim replication altogether (replicate_commands is a no-op
 * there); this project needs 6.2+ for XPENDING IDLE anyway, so it is not
 * called. The "now" bound is built as a string so no float formatting can
 * round it. */
const char fp_script_mover[] =
    "local jobs, delayed = KEYS[1], KEYS[2]\n"
    "local t = redis.call('TIME')\n"
    "local ms = math.floor(tonumber(t[2]) / 1000)\n"
    "local now = tonumber(t[1]) * 1000 + ms\n"
    "local bound = t[1] .. string.format('%03d', ms)\n"
    "local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', bound, 'LIMIT', 0, ARGV[1])\n"
    "for i = 1, #due do redis.call('XADD', jobs, '*', 'job', due[i]) end\n"
    "if #due > 0 then redis.call('ZREM', delayed, unpack(due)) end\n"
    "local nxt = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')\n"
    "local wait = -1\n"
    "if #nxt == 2 then wait = math.max(0, math.floor(tonumber(nxt[2]) - now)) end\n"
    "return {#due, wait}\n";

void fp_resp_init(fp_resp_t *b)
{
    memset(b, 0, sizeof *b);
}

void fp_resp_free(fp_resp_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void fp_resp_reset(fp_resp_t *b)
{
    b->len = 0;
    b->argc = 0;
}

static int reserve(fp_resp_t *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap != 0 ? b->cap : 256;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    char *grown = realloc(b->data, cap);
    if (grown == NULL)
        return -ENOMEM;
    b->data = grown;
    b->cap = cap;
    return 0;
}

static void put(fp_resp_t *b, const void *s, size_t n)
{
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

int fp_resp_arg(fp_resp_t *b, const char *s, size_t n)
{
    char head[32];
    int h = snprintf(head, sizeof head, "$%zu\r\n", n);
    if (n > SIZE_MAX - 64 || reserve(b, (size_t)h + n + 2) < 0)
        return -ENOMEM;
    put(b, head, (size_t)h);
    if (n > 0)
        put(b, s, n);
    put(b, "\r\n", 2);
    b->argc++;
    return 0;
}

int fp_resp_arg_str(fp_resp_t *b, const char *s)
{
    return fp_resp_arg(b, s, strlen(s));
}

int fp_resp_arg_int(fp_resp_t *b, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRId64, v);
    return fp_resp_arg(b, num, (size_t)n);
}

/* Undoes a partly appended outcome, so a failed append leaves no half. */
static int rollback(fp_resp_t *b, size_t len, size_t argc)
{
    b->len = len;
    b->argc = argc;
    return -ENOMEM;
}

/* The kind letter, upper-case for an entry whose stream entry vanished. */
static int kind_arg(fp_resp_t *b, char kind, bool vanished)
{
    char k = vanished ? (char)(kind - 'a' + 'A') : kind;
    return fp_resp_arg(b, &k, 1);
}

static int encode_ack(fp_resp_t *b, char kind, bool vanished, const char *id)
{
    size_t len = b->len, argc = b->argc;
    if (kind_arg(b, kind, vanished) < 0 || fp_resp_arg_str(b, id) < 0)
        return rollback(b, len, argc);
    return 0;
}

int fp_outcome_encode_ack(fp_resp_t *b, bool vanished, const char *id)
{
    return encode_ack(b, 'a', vanished, id);
}

int fp_outcome_encode_ack_unique(fp_resp_t *b, bool vanished, const char *id)
{
    return encode_ack(b, 'k', vanished, id);
}

int fp_outcome_encode_put_back(fp_resp_t *b, bool vanished, const char *id, const char *payload,
                               size_t n)
{
    size_t len = b->len, argc = b->argc;
    if (kind_arg(b, 'p', vanished) < 0 || fp_resp_arg_str(b, id) < 0 ||
        fp_resp_arg(b, payload, n) < 0)
        return rollback(b, len, argc);
    return 0;
}

int fp_outcome_encode_retry(fp_resp_t *b, bool vanished, const char *id, const char *payload,
                            size_t n, int64_t delay_ms)
{
    size_t len = b->len, argc = b->argc;
    if (kind_arg(b, 'r', vanished) < 0 || fp_resp_arg_str(b, id) < 0 ||
        fp_resp_arg(b, payload, n) < 0 || fp_resp_arg_int(b, delay_ms > 0 ? delay_ms : 0) < 0)
        return rollback(b, len, argc);
    return 0;
}

static int encode_dead(fp_resp_t *b, char kind, bool vanished, const char *id,
                       const char *payload, size_t n, const char *error, int64_t attempts,
                       int64_t failed_at_unix_ms)
{
    size_t len = b->len, argc = b->argc;
    if (kind_arg(b, kind, vanished) < 0 || fp_resp_arg_str(b, id) < 0 ||
        fp_resp_arg(b, payload, n) < 0 || fp_resp_arg_str(b, error != NULL ? error : "") < 0 ||
        fp_resp_arg_int(b, attempts) < 0 || fp_resp_arg_int(b, failed_at_unix_ms) < 0)
        return rollback(b, len, argc);
    return 0;
}

int fp_outcome_encode_dead(fp_resp_t *b, bool vanished, const char *id, const char *payload,
                           size_t n, const char *error, int64_t attempts,
                           int64_t failed_at_unix_ms)
{
    return encode_dead(b, 'd', vanished, id, payload, n, error, attempts, failed_at_unix_ms);
}

int fp_outcome_encode_dead_unique(fp_resp_t *b, bool vanished, const char *id,
                                  const char *payload, size_t n, const char *error,
                                  int64_t attempts, int64_t failed_at_unix_ms)
{
    return encode_dead(b, 'x', vanished, id, payload, n, error, attempts, failed_at_unix_ms);
}

int fp_entry_fields_json(fp_buf_t *out, const char *const *strs, const size_t *lens, size_t n)
{
    int rc = fp_buf_append(out, "{", 1);
    for (size_t i = 0; rc == 0 && i + 1 < n; i += 2) {
        if (i > 0)
            rc = fp_buf_append(out, ",", 1);
        if (rc == 0)
            rc = fp_json_append_string(out, strs[i], lens[i]);
        if (rc == 0)
            rc = fp_buf_append(out, ":", 1);
        if (rc == 0)
            rc = fp_json_append_string(out, strs[i + 1], lens[i + 1]);
    }
    if (rc == 0)
        rc = fp_buf_append(out, "}", 1);
    return rc;
}

int fp_script_command(fp_resp_t *out, const char *sha, const char *script,
                      const char *const *keys, size_t nkeys, const char *const *args,
                      size_t nargs, const fp_resp_t *tail)
{
    size_t tail_argc = tail != NULL ? tail->argc : 0;
    size_t tail_len = tail != NULL ? tail->len : 0;
    char head[32];
    int h = snprintf(head, sizeof head, "*%zu\r\n", 3 + nkeys + nargs + tail_argc);
    fp_resp_reset(out);
    if (reserve(out, (size_t)h) < 0)
        return -ENOMEM;
    put(out, head, (size_t)h);
    int rc = sha != NULL ? fp_resp_arg(out, "EVALSHA", 7) : fp_resp_arg(out, "EVAL", 4);
    if (rc == 0)
        rc = fp_resp_arg_str(out, sha != NULL ? sha : script);
    if (rc == 0)
        rc = fp_resp_arg_int(out, (int64_t)nkeys);
    for (size_t i = 0; rc == 0 && i < nkeys; i++)
        rc = fp_resp_arg_str(out, keys[i]);
    for (size_t i = 0; rc == 0 && i < nargs; i++)
        rc = fp_resp_arg_str(out, args[i]);
    if (rc == 0 && tail_len > 0) {
        if ((rc = reserve(out, tail_len)) == 0)
            put(out, tail->data, tail_len);
    }
    return rc;
}

int fp_resp_command(fp_resp_t *out, const fp_resp_t *args)
{
    char head[32];
    int h = snprintf(head, sizeof head, "*%zu\r\n", args->argc);
    fp_resp_reset(out);
    if (reserve(out, (size_t)h + args->len) < 0)
        return -ENOMEM;
    put(out, head, (size_t)h);
    if (args->len > 0)
        put(out, args->data, args->len);
    out->argc = args->argc;
    return 0;
}

bool fp_script_sha_valid(const char *s, size_t n)
{
    if (s == NULL || n != 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

char *fp_queue_key(const char *prefix, const char *queue, const char *kind)
{
    size_t n = strlen(prefix) + strlen(queue) + strlen(kind) + 5;
    char *key = malloc(n);
    if (key != NULL)
        snprintf(key, n, "%s:{%s}:%s", prefix, queue, kind);
    return key;
}

bool fp_redis_error_transient(const char *msg, size_t n)
{
    static const char *const words[] = {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN",
                                        "CLUSTERDOWN"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t w = strlen(words[i]);
        /* The code is the first word: "BUSYGROUP" and "BUSYKEY" are not BUSY. */
        if (n >= w && memcmp(msg, words[i], w) == 0 && (n == w || msg[w] == ' '))
            return true;
    }
    return false;
}
