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
 * yet) sends FP_TAKEOVER_UNTRUSTED and gets the lookup. Pure. */
#ifndef FORKPOOL_TAKEOVER_TOKEN_H
#define FORKPOOL_TAKEOVER_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No token equals it: tokens are empty or start with a digit. */
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

/* The token to send with a batch whose entries were read at epochs whose
 * smallest is batch_epoch (0 when any entry's is unknown). again: the batch
 * may have been applied already, and a trusted outcome would act twice. */
const char *fp_takeover_arg(const fp_takeover_view_t *v, uint32_t batch_epoch, bool again);

#endif
