/* takeover_token.h: whether a batch of outcomes may skip the outcome
 * script's "is each entry still pending to this consumer?" lookup.
 *
 * The take-over script (fp_script_claim) is the only code in forkpool that
 * moves or drops another consumer's pending entry, and whenever it does, it
 * writes a new token to P:{Q}:takeover in the same atomic step: the time of
 * Redis and a counter, never repeated, also across a failover to a replica
 * that missed the last one. Every outcome reply carries the token it saw.
 * So an entry this consumer read after it had learned token T is still
 * pending to it for as long as the token is T; a batch made only of such
 * entries sends T, and the script, finding T, trusts it. Anything else (an
 * entry from a history read or a take-over, one renewal found vanished or
 * lost, a batch that may have been applied already, a token not learned
 * yet) sends FP_TAKEOVER_UNTRUSTED and gets the lookup.
 *
 * Two more conditions cover what the token cannot see. A reconnect may land
 * on another server (a failover to a replica that missed this daemon's last
 * reads, where another daemon may read the same entries again): the view is
 * forgotten, and only entries read after a reply from the new server told
 * the token are trusted. And a daemon that does not write the token (one
 * built before it, during a rolling upgrade) can still take an entry over
 * only once it has been idle for that daemon's visibility timeout: batches
 * are trusted only while this daemon's claim renewal has reset every held
 * entry's idle time within half its own visibility timeout (so a stalled
 * daemon, once it wakes, trusts nothing it held before). Pure. */
#ifndef FORKPOOL_TAKEOVER_TOKEN_H
#define FORKPOOL_TAKEOVER_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Trusts nothing: the tokens the scripts write start with a digit, and the
 * outcome script never trusts this one, whatever an operator writes. */
#define FP_TAKEOVER_UNTRUSTED "-"
#define FP_TAKEOVER_TOKEN_MAX 64

/* What a daemon knows of one queue's token. Zero-initialised: nothing. */
typedef struct fp_takeover_view_s {
    char token[FP_TAKEOVER_TOKEN_MAX];
    bool usable; /* a token was learned, and it fitted */
    /* Bumped each time the token seen changes (never back to 0, the epoch
     * of entries not read fresh): an entry read at epoch E is trusted
     * while the epoch is still E. */
    uint32_t epoch;
} fp_takeover_view_t;

/* The token an outcome reply carried (s, n). A changed one starts a new
 * epoch; one too long to keep (not one fp_script_claim writes) leaves the
 * view unusable until a token that fits. */
void fp_takeover_learn(fp_takeover_view_t *v, const char *s, size_t n);

/* Forgets the token (a connection to Redis came up again): a new epoch, and
 * nothing trusted until an outcome reply tells the token again. */
void fp_takeover_forget(fp_takeover_view_t *v);

/* Whether every held entry's idle time in Redis is below half the
 * visibility timeout: the last complete renewal round (or, with nothing
 * held, the last time nothing was) was sent at fresh_since_us, at most
 * vt_ms / 2 ago (monotonic µs). A visibility timeout of 0 judges nothing. */
bool fp_takeover_leases_fresh(int64_t now_us, int64_t fresh_since_us, int64_t vt_ms);

/* The token to send with a batch whose entries were read at epochs whose
 * smallest is batch_epoch (0 when any entry's is unknown). again: the batch
 * may have been applied already, and a trusted outcome would act twice.
 * fresh: fp_takeover_leases_fresh. */
const char *fp_takeover_arg(const fp_takeover_view_t *v, uint32_t batch_epoch, bool again,
                            bool fresh);

#endif
