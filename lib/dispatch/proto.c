/* proto.c: the dispatch channel's messages and its bounded line reader. Pure:
 * no sockets here, only bytes in and messages out, so every malformed input
 * can be tested directly. The hot path (job out, done in) avoids re-encoding
 * the job: its validated JSON text is embedded as it is. */
#include "dispatch/proto.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/text.h"

static int append_str(fp_buf_t *out, const char *s)
{
    return fp_buf_append(out, s, strlen(s));
}

/* A JSON string literal, quotes and escapes included. */
static int append_quoted(fp_buf_t *out, const char *s)
{
    cJSON *item = cJSON_CreateString(s);
    if (item == NULL)
        return -ENOMEM;
    char *text = cJSON_PrintUnformatted(item);
    cJSON_Delete(item);
    if (text == NULL)
        return -ENOMEM;
    int rc = append_str(out, text);
    cJSON_free(text);
    return rc;
}

/* Valid JSON has raw CR/LF only as whitespace between tokens, so replacing
 * them with spaces keeps the value and makes it one line. */
static void flatten(char *p, size_t len)
{
    for (char *end = p + len; p < end; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

int fp_proto_encode_ready(fp_buf_t *out, int64_t pid)
{
    char line[64];
    int n = snprintf(line, sizeof line, "{\"op\":\"" FP_OP_READY "\",\"pid\":%" PRId64 "}\n", pid);
    return fp_buf_append(out, line, (size_t)n);
}

int fp_proto_encode_stop(fp_buf_t *out)
{
    return append_str(out, "{\"op\":\"" FP_OP_STOP "\"}\n");
}

int fp_proto_encode_cancel(fp_buf_t *out, uint64_t seq)
{
    char line[64];
    int n = snprintf(line, sizeof line, "{\"op\":\"" FP_OP_CANCEL "\",\"seq\":%" PRIu64 "}\n", seq);
    return fp_buf_append(out, line, (size_t)n) < 0 ? -ENOMEM : 0;
}

int fp_proto_encode_job(fp_buf_t *out, uint64_t seq, int64_t attempt, const char *job_json,
                        size_t job_len)
{
    char head[96];
    int n = snprintf(head, sizeof head,
                     "{\"op\":\"" FP_OP_JOB "\",\"seq\":%" PRIu64 ",\"attempt\":%" PRId64 ",\"job\":",
                     seq, attempt);
    size_t start = out->len;
    if (fp_buf_append(out, head, (size_t)n) < 0)
        return -ENOMEM;
    size_t at = out->len;
    if (fp_buf_append(out, job_json, job_len) < 0 || fp_buf_append(out, "}\n", 2) < 0) {
        out->len = start;
        return -ENOMEM;
    }
        flatten(out->data + at, job_len);
    return 0;
}

int fp_proto_encode_done(fp_buf_t *out, uint64_t seq, bool ok, const char *result_json,
                         const char *error, bool retry, int64_t rss_kb)
{
    char head[96];
    size_t start = out->len;
    int n = snprintf(head, sizeof head, "{\"op\":\"" FP_OP_DONE "\",\"seq\":%" PRIu64 ",\"ok\":%s",
                     seq, ok ? "true" : "false");
    int rc = fp_buf_append(out, head, (size_t)n);
    if (rc == 0 && ok && result_json != NULL) {
        rc = append_str(out, ",\"result\":");
        size_t at = out->len, len = strlen(result_json);
        if (rc == 0)
            rc = fp_buf_append(out, result_json, len);
        if (rc == 0)
            flatten(out->data + at, len);
    }
    if (rc == 0 && !ok) {
        rc = append_str(out, ",\"error\":");
        if (rc == 0)
            rc = append_quoted(out, error != NULL ? error : "failed");
        if (rc == 0)
            rc = append_str(out, retry ? ",\"retry\":true" : ",\"retry\":false");
    }
    if (rc == 0) {
        n = snprintf(head, sizeof head, ",\"rss_kb\":%" PRId64 "}\n", rss_kb);
        rc = fp_buf_append(out, head, (size_t)n);
    }
    if (rc < 0)
        out->len = start;
    return rc;
}

static const struct {
    const char *name;
    fp_op_t op;
} ops[] = {
    {FP_OP_READY, FP_MSG_READY},
    {FP_OP_JOB, FP_MSG_JOB},
    {FP_OP_DONE, FP_MSG_DONE},
    {FP_OP_STOP, FP_MSG_STOP},
    {FP_OP_CANCEL, FP_MSG_CANCEL},
};

/* A JSON number that is a whole number within [min, max]. */
static int get_int(const cJSON *obj, const char *key, bool required, int64_t min, int64_t max,
                   int64_t *out, fp_err_t *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (item == NULL) {
        if (required)
            return fp_err_set(err, FP_EPROTO, "message has no \"%s\"", key);
        return 0;
    }
    /* Range first: casting a double outside int64_t (1e300) is undefined,
     * and NaN fails every comparison. min and max are exact as doubles. */
    double v = item->valuedouble;
    if (!cJSON_IsNumber(item) || !(v >= (double)min && v <= (double)max) || v != floor(v))
        return fp_err_set(err, FP_EPROTO, "\"%s\" must be a whole number from %" PRId64
                          " to %" PRId64, key, min, max);
    *out = (int64_t)v;
    return 0;
}

static int decode_done(const cJSON *obj, fp_msg_t *out, fp_err_t *err)
{
    int64_t seq = 0;
    if (get_int(obj, "seq", true, 0, INT64_C(1) << 53, &seq, err) < 0)
        return FP_EPROTO;
    out->seq = (uint64_t)seq;
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(obj, "ok");
    if (!cJSON_IsBool(ok))
        return fp_err_set(err, FP_EPROTO, "\"done\" needs a boolean \"ok\"");
    out->ok = cJSON_IsTrue(ok);
    if (get_int(obj, "rss_kb", false, 0, INT64_C(1) << 40, &out->rss_kb, err) < 0)
        return FP_EPROTO;
    if (out->ok) {
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(obj, "result");
        if (result != NULL && (out->result_json = cJSON_PrintUnformatted(result)) == NULL)
            return fp_err_set(err, -ENOMEM, "out of memory");
        return 0;
    }
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(obj, "error");
    const cJSON *retry = cJSON_GetObjectItemCaseSensitive(obj, "retry");
    if (error != NULL && !cJSON_IsString(error))
        return fp_err_set(err, FP_EPROTO, "\"error\" must be a string");
    if (retry != NULL && !cJSON_IsBool(retry))
        return fp_err_set(err, FP_EPROTO, "\"retry\" must be a boolean");
    out->retry = retry == NULL || cJSON_IsTrue(retry);
    out->error = strdup(error != NULL ? error->valuestring : "failed without a reason");
    return out->error != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
}

static int decode_cancel(const cJSON *obj, fp_msg_t *out, fp_err_t *err)
{
    int64_t seq = 0;
    if (get_int(obj, "seq", true, 0, INT64_C(1) << 53, &seq, err) < 0)
        return FP_EPROTO;
    out->seq = (uint64_t)seq;
    return 0;
}

static int decode_job(cJSON *obj, fp_msg_t *out, fp_err_t *err)
{
    int64_t seq = 0;
    if (get_int(obj, "seq", true, 0, INT64_C(1) << 53, &seq, err) < 0 ||
        get_int(obj, "attempt", true, 0, INT64_C(1) << 31, &out->attempt, err) < 0)
        return FP_EPROTO;
    out->seq = (uint64_t)seq;
    cJSON *job = cJSON_DetachItemFromObjectCaseSensitive(obj, "job");
    if (!cJSON_IsObject(job)) {
        cJSON_Delete(job);
        return fp_err_set(err, FP_EPROTO, "\"job\" must be an object");
    }
    out->job = job;
    return 0;
}

static int decode_ready(const cJSON *obj, fp_msg_t *out, fp_err_t *err)
{
    out->concurrency = 1; /* a child that says nothing runs one job at a time */
    if (get_int(obj, "pid", true, 1, INT32_MAX, &out->pid, err) < 0 ||
        get_int(obj, "concurrency", false, 1, FP_PROTO_CONCURRENCY_MAX, &out->concurrency, err) < 0)
        return FP_EPROTO;
    return 0;
}

static int decode_object(cJSON *obj, fp_msg_t *out, fp_err_t *err)
{
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(obj, "op");
    if (!cJSON_IsString(op))
        return fp_err_set(err, FP_EPROTO, "message has no \"op\"");
    size_t i = 0;
    while (i < sizeof ops / sizeof ops[0] && strcmp(ops[i].name, op->valuestring) != 0)
        i++;
    if (i == sizeof ops / sizeof ops[0])
        return fp_err_set(err, FP_EPROTO, "unknown op \"%.64s\"", op->valuestring);
    out->op = ops[i].op;
    switch (out->op) {
    case FP_MSG_READY: return decode_ready(obj, out, err);
    case FP_MSG_JOB: return decode_job(obj, out, err);
    case FP_MSG_DONE: return decode_done(obj, out, err);
    case FP_MSG_STOP: return 0;
    case FP_MSG_CANCEL: return decode_cancel(obj, out, err);
    }
    return FP_EPROTO;
}

int fp_proto_decode(const char *line, size_t len, fp_msg_t *out, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    size_t bad_at = 0;
    char near[160];
    cJSON *obj = fp_json_parse_at(line, len, &bad_at);
    if (obj == NULL)
        return fp_err_set(err, FP_EPROTO, "message is not JSON (at byte %zu: %s)", bad_at,
                          fp_text_quote_n(near, sizeof near, line + bad_at, len - bad_at, 16));
    int rc = cJSON_IsObject(obj) ? decode_object(obj, out, err)
                                 : fp_err_set(err, FP_EPROTO, "message is not a JSON object");
    cJSON_Delete(obj);
    if (rc < 0)
        fp_msg_clear(out);
    return rc;
}

void fp_msg_clear(fp_msg_t *msg)
{
    cJSON_Delete(msg->job);
    free(msg->error);
    cJSON_free(msg->result_json);
    memset(msg, 0, sizeof *msg);
}

void fp_framer_init(fp_framer_t *framer, size_t max_line)
{
    memset(framer, 0, sizeof *framer);
    framer->max_line = max_line;
}

void fp_framer_free(fp_framer_t *framer)
{
    fp_buf_free(&framer->partial);
    framer->discarding = false;
}

/* Handles the bytes of one line (no newline in data); complete says a newline
 * ended it. Lines arriving whole are handed over without a copy. */
static int framer_piece(fp_framer_t *f, const char *data, size_t len, bool complete,
                        fp_framer_line_cb line_cb, void *ctx)
{
    if (f->discarding) {
        f->discarding = !complete;
        return 0;
    }
    if (f->partial.len + len > f->max_line) {
        f->partial.len = 0;
        f->discarding = !complete;
        line_cb(ctx, NULL, 0, FP_ELIMIT);
        return 0;
    }
    if (complete && f->partial.len == 0) {
        line_cb(ctx, data, len, 0);
        return 0;
    }
    if (fp_buf_append(&f->partial, data, len) < 0) {
        fp_framer_free(f);
        return -ENOMEM;
    }
    if (complete) {
        line_cb(ctx, f->partial.data, f->partial.len, 0);
        f->partial.len = 0;
    }
    return 0;
}

int fp_framer_feed(fp_framer_t *framer, const char *data, size_t len, fp_framer_line_cb line_cb,
                   void *ctx)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t piece = nl != NULL ? (size_t)(nl - data) : len;
        int rc = framer_piece(framer, data, piece, nl != NULL, line_cb, ctx);
        if (rc < 0)
            return rc;
        if (nl == NULL)
            break;
        data += piece + 1;
        len -= piece + 1;
    }
    return 0;
}
