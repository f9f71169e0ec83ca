/* dead_fresh.c: a dead entry's payload turned back into a new job, for
 * `forkpool dead retry` and the status page's retry: "attempt" and
 * "last_error" are cut out of the text (never re-printed: cJSON would round
 * big integers in args), and the rest must still parse as a job. */
#include "queue/dead_fresh.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/json.h"


/* Scanners over text fp_json_parse accepted; each stays within end anyway. */
static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *skip_value(const char *p, const char *end)
{
    if (p < end && *p == '"')
        return fp_json_skip_string(p, end);
    if (p < end && (*p == '{' || *p == '[')) {
        size_t depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = fp_json_skip_string(p, end);
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && strchr(",}] \t\r\n", *p) == NULL)
        p++;
    return p;
}

/* True when the quoted key at [key, key_end) decodes to a member a fresh job
 * must not carry. Decoding matters: "\u0061ttempt" is "attempt". */
static bool is_retry_member(const char *key, const char *key_end)
{
    cJSON *k = fp_json_parse(key, (size_t)(key_end - key));
    bool drop = cJSON_IsString(k) && (strcmp(k->valuestring, "attempt") == 0 ||
                                      strcmp(k->valuestring, "last_error") == 0);
    cJSON_Delete(k);
    return drop;
}

/* Copies the JSON object s (valid) into out (len + 1 bytes) without its
 * "attempt" and "last_error" members; every other byte of every kept member
 * is kept. Returns how many members were dropped. */
static size_t strip_retry_members(const char *s, size_t len, char *out, size_t *out_len)
{
    const char *p = skip_ws(s, s + len) + 1, *end = s + len;
    size_t dropped = 0, n = 0;
    out[n++] = '{';
    for (;;) {
        p = skip_ws(p, end);
        if (p >= end || *p != '"')
            break;
        const char *key = p, *key_end = fp_json_skip_string(p, end);
        const char *member_end = skip_value(skip_ws(skip_ws(key_end, end) + 1, end), end);
        if (is_retry_member(key, key_end)) {
            dropped++;
        } else {
            if (n > 1)
                out[n++] = ',';
            memcpy(out + n, key, (size_t)(member_end - key));
            n += (size_t)(member_end - key);
        }
        p = skip_ws(member_end, end);
        if (p < end && *p == ',')
            p++;
    }
    out[n++] = '}';
    out[n] = '\0';
    *out_len = n;
    return dropped;
}

/* The payload as a fresh job in *text (owned, *len bytes): a JSON object
 * loses "attempt" and "last_error", anything else is copied as it is. Then
 * checks it as the daemon would: 0 when valid (*job filled; fp_job_clear),
 * FP_EJOB/FP_ELIMIT with the reason in why when it would only die again,
 * -ENOMEM. */
int fp_dead_fresh_job(size_t max_job_bytes, const fp_admin_field_t *payload, char **text,
                      size_t *len, fp_job_t *job, fp_err_t *why)
{
    const char *s = payload->s != NULL ? payload->s : "";
    size_t n = payload->s != NULL ? payload->len : 0;
    memset(job, 0, sizeof *job);
    if ((*text = malloc(n + 3)) == NULL)
        return fp_err_set(why, -ENOMEM, "out of memory");
    cJSON *v = fp_json_parse(s, n);
    bool dropped = cJSON_IsObject(v) && strip_retry_members(s, n, *text, len) > 0;
    cJSON_Delete(v);
    if (!dropped) {
        memcpy(*text, s, n);
        (*text)[n] = '\0';
        *len = n;
    }
    if (payload->s == NULL)
        return fp_err_set(why, FP_EJOB, "the entry has no job field");
    return fp_job_parse(*text, *len, max_job_bytes, job, why);
}

void fp_dead_batch_free(fp_dead_batch_t *b)
{
    for (size_t i = 0; b->jobs != NULL && i < b->n; i++)
        free(b->jobs[i]);
    free(b->ids);
    free(b->jobs);
    free(b->lens);
    memset(b, 0, sizeof *b);
}

int fp_dead_fresh_batch(size_t max_job_bytes, const fp_dead_entry_t *e, size_t n, bool force,
                        fp_dead_skip_fn skip, void *ctx, fp_dead_batch_t *out, size_t *skipped,
                        fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->ids = calloc(n + 1, sizeof *out->ids);
    out->jobs = calloc(n + 1, sizeof *out->jobs);
    out->lens = calloc(n + 1, sizeof *out->lens);
    int rc = out->ids != NULL && out->jobs != NULL && out->lens != NULL ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        fp_job_t job;
        fp_err_t why;
        fp_err_clear(&why);
        size_t k = out->n;
        int parsed = fp_dead_fresh_job(max_job_bytes, &e[i].job, &out->jobs[k], &out->lens[k],
                                       &job, &why);
        fp_job_clear(&job);
        if (parsed == -ENOMEM) {
            rc = -ENOMEM;
        } else if (parsed < 0 && !force) {
            if (skip != NULL)
                skip(ctx, &e[i], &why);
            (*skipped)++;
        } else {
            out->ids[out->n++] = e[i].id;
            continue;
        }
        free(out->jobs[k]);
        out->jobs[k] = NULL;
    }
    if (rc < 0) {
        fp_dead_batch_free(out);
        return fp_err_set(err, rc, "out of memory");
    }
    return 0;
}

int fp_dead_retry_entries(fp_admin_t *a, size_t max_job_bytes, const char *queue,
                          const fp_dead_entry_t *e, size_t n, bool force, fp_dead_skip_fn skip,
                          void *ctx, size_t *moved, size_t *skipped, fp_err_t *err)
{
    fp_dead_batch_t b;
    size_t done = 0;
    int rc = fp_dead_fresh_batch(max_job_bytes, e, n, force, skip, ctx, &b, skipped, err);
    if (rc == 0 && b.n > 0)
        rc = fp_admin_dead_requeue(a, queue, b.ids, (const char *const *)b.jobs, b.lens, b.n,
                                   &done, err);
    *moved += done;
    fp_dead_batch_free(&b);
    return rc;
}
