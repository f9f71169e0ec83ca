/* job.h: a job payload, validated. The supervisor checks every payload once,
 * when it is pulled, so that bad input goes to the dead stream with a reason
 * instead of reaching a child. */
#ifndef FORKPOOL_JOB_H
#define FORKPOOL_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* When a unique job's key ("unique" member) is released besides on dead and
 * on expiry: when it succeeds ("done", the default, as Sidekiq's unique jobs
 * do) or as soon as a daemon takes it to run ("start"). */
typedef enum fp_unique_until_e {
    FP_UNIQUE_NONE = 0,
    FP_UNIQUE_DONE,
    FP_UNIQUE_START,
} fp_unique_until_t;

typedef struct fp_job_s {
    char *type;           /* non-empty; owned */
    char *id;             /* the producer's "id", or NULL; owned */
    int64_t timeout_ms;   /* from "timeout", 0 = use pool.job_timeout */
    int64_t max_attempts; /* from "max_attempts", 0 = use retry.max_attempts */
    int64_t attempt;      /* executions so far, from "attempt" (0 when new) */
    char *unique_key;     /* "unique"."key", or NULL for a job without "unique"; owned */
    fp_unique_until_t unique_until; /* when its key is released (FP_UNIQUE_NONE: no key) */
} fp_job_t;

/* Longest accepted "type", so names fit in logs and metric labels. */
#define FP_JOB_TYPE_MAX 128

/* Longest accepted unique key: it becomes part of a Redis key name. */
#define FP_UNIQUE_KEY_MAX 512

/* Validates payload (len bytes, need not be NUL-terminated): valid UTF-8
 * JSON, an object, no larger than max_bytes, with a non-empty string "type";
 * optional "id" (string or integer), "timeout" (duration string or whole
 * seconds), "max_attempts" (1..1000), "attempt" (>= 0), "unique" (an object
 * {"key": non-empty string, "until": "done" | "start"}, which needs a string
 * "id": the unique key's value names the job holding it). On success fills
 * *out (free with fp_job_clear). On failure returns FP_EJOB (or FP_ELIMIT for
 * size) with err->msg set to the reason recorded in the dead stream, such as
 * "payload is not JSON" or "payload has no \"type\"". */
int fp_job_parse(const char *payload, size_t len, size_t max_bytes, fp_job_t *out, fp_err_t *err);

void fp_job_clear(fp_job_t *job);

/* "done" or "start" into *out; -EINVAL for anything else. */
int fp_unique_until_parse(const char *text, fp_unique_until_t *out);
/* The JSON word for until: "start", else "done". */
const char *fp_unique_until_name(fp_unique_until_t until);

#endif
