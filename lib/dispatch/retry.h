/* retry.h: what happens after a failed attempt — pure decisions and the
 * rewritten payload, with no clock and no randomness of its own (both are
 * passed in), so every rule is unit-tested exactly. */
#ifndef FORKPOOL_RETRY_H
#define FORKPOOL_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum fp_retry_decision_e {
    FP_RETRY_AGAIN, /* back to the delayed set, due after the back-off */
    FP_RETRY_DEAD,  /* to the dead stream */
} fp_retry_decision_t;

/* attempts: executions so far, this one included (>= 1). A permanent
 * failure (retryable = false) or no attempts left is dead. */
fp_retry_decision_t fp_retry_decide(int64_t attempts, int64_t max_attempts, bool retryable);

/* The longest delay fp_retry_backoff_ms returns (ten years, the longest
 * duration the configuration takes): adding it to any clock reading stays
 * far from overflow. */
#define FP_RETRY_DELAY_MAX_MS (INT64_C(3650) * 24 * 3600 * 1000)

/* Delay before the next attempt after `attempts` executions: base * 2^(attempts-1)
 * capped at max_ms; with jitter, "full jitter" (uniformly in [0, that]) from
 * random, so that jobs that failed together do not come back together. */
int64_t fp_retry_backoff_ms(int64_t attempts, int64_t base_ms, int64_t max_ms, bool jitter,
                            uint64_t random);

/* The payload to re-enqueue: the job object with "attempt" = attempts and
 * "last_error" = error, and "id" = entry_id when the producer gave none (or
 * null), so the job keeps one identity across attempts (and two identical
 * payloads never collapse into one member of the delayed set). Only those
 * top-level members change (every copy of a repeated one; missing ones are
 * appended after the last member): every other byte of payload is kept as
 * it was. Returns malloc'd text (free()) and its length, or NULL when
 * payload is not a JSON object or on ENOMEM. */
char *fp_retry_payload(const char *payload, size_t len, const char *entry_id, int64_t attempts,
                       const char *error, size_t *out_len);

/* The payload as it is, with only "id" = entry_id added when the producer
 * gave none (or null): for a job handed back unstarted to the delayed set
 * (a concurrency or rate limit), whose attempt does not count. Same return
 * as fp_retry_payload. */
char *fp_retry_payload_id(const char *payload, size_t len, const char *entry_id, size_t *out_len);

#endif
