/* retry.c: retry decisions, back-off and the re-enqueued payload. */
#include "dispatch/retry.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/json.h"

fp_retry_decision_t fp_retry_decide(int64_t attempts, int64_t max_attempts, bool retryable)
{
    if (!retryable || attempts >= max_attempts)
        return FP_RETRY_DEAD;
    return FP_RETRY_AGAIN;
}

int64_t fp_retry_backoff_ms(int64_t attempts, int64_t base_ms, int64_t max_ms, bool jitter,
                            uint64_t random)
{
    /* Clamped so that the caller may add the delay to any clock reading. */
    if (max_ms > FP_RETRY_DELAY_MAX_MS)
        max_ms = FP_RETRY_DELAY_MAX_MS;
    /* The first attempt failed, at least: a count below 1 waits base_ms. */
    return fp_backoff_ms(attempts < 1 ? 1 : attempts, base_ms, max_ms, jitter, random);
}

/* ---- the re-enqueued payload: byte splicing -------------------------------
 * The payload is the producer's text: numbers past double, escapes, key
 * order and spacing mean something to someone, and a parse + print through
 * cJSON changes them. So the text is only scanned (after a strict parse has
 * said it is one JSON object) for the byte ranges of its top-level members,
 * and the few forkpool owns are replaced or appended; every other byte is
 * copied. Keys are compared as written: a key spelled with escapes is
 * another key. */

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* From the opening quote to just past the closing one. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\')
            i++;
    return i < n ? i + 1 : n;
}

/* One value (already known valid): past its last byte. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    static const char ends[] = ",}] \t\n\r";
    if (s[i] == '"')
        return skip_string(s, n, i);
    if (s[i] != '{' && s[i] != '[') {
        while (i < n && memchr(ends, s[i], sizeof ends - 1) == NULL)
            i++;
        return i;
    }
    size_t depth = 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            i = skip_string(s, n, i);
            continue;
        }
        i++;
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            break;
    }
    return i;
}

/* The output being built: source bytes up to `copied` are in it. */
typedef struct splice_s {
    fp_buf_t out;
    const char *src;
    size_t copied;
    int rc;
} splice_t;

static void emit(splice_t *sp, const char *text, size_t len)
{
    if (sp->rc == 0)
        sp->rc = fp_buf_append(&sp->out, text, len);
}

static void copy_upto(splice_t *sp, size_t to)
{
    emit(sp, sp->src + sp->copied, to - sp->copied);
    sp->copied = to;
}

/* The value at [from, to) becomes text. */
static void replace(splice_t *sp, size_t from, size_t to, const fp_buf_t *text)
{
    copy_upto(sp, from);
    emit(sp, text->data, text->len);
    sp->copied = to;
}

static bool key_is(const char *s, size_t from, size_t to, const char *name)
{
    size_t n = strlen(name);
    return to - from == n + 2 && memcmp(s + from + 1, name, n) == 0;
}

/* The members forkpool owns, as JSON text, and whether each was seen. */
typedef struct owned_s {
    const char *key;
    fp_buf_t value;
    bool seen;
    bool only_null; /* replaces a null only, and is appended only when set */
} owned_t;

static void splice_member(splice_t *sp, owned_t *owned, size_t n_owned, size_t key_from,
                          size_t key_to, size_t v_from, size_t v_to)
{
    for (size_t k = 0; k < n_owned; k++) {
        owned_t *o = &owned[k];
        if (!key_is(sp->src, key_from, key_to, o->key))
            continue;
        o->seen = true;
        bool is_null = v_to - v_from == 4 && memcmp(sp->src + v_from, "null", 4) == 0;
        if (o->value.len > 0 && (!o->only_null || is_null))
            replace(sp, v_from, v_to, &o->value);
    }
}

/* Walks the top-level members of a valid object text; returns where the
 * last value ends (just past '{' when there is none). */
static size_t splice_members(splice_t *sp, size_t len, owned_t *owned, size_t n_owned,
                             bool *empty)
{
    const char *s = sp->src;
    size_t i = skip_ws(s, len, 0) + 1, last_end = i;
    *empty = true;
    for (i = skip_ws(s, len, i); i < len && s[i] == '"';) {
        size_t key_from = i, key_to = skip_string(s, len, i);
        size_t v_from = skip_ws(s, len, skip_ws(s, len, key_to) + 1);
        size_t v_to = skip_value(s, len, v_from);
        splice_member(sp, owned, n_owned, key_from, key_to, v_from, v_to);
        last_end = v_to;
        *empty = false;
        i = skip_ws(s, len, v_to);
        if (i < len && s[i] == ',')
            i = skip_ws(s, len, i + 1);
    }
    return last_end;
}

static void append_missing(splice_t *sp, owned_t *owned, size_t n_owned, bool empty)
{
    for (size_t k = 0; k < n_owned; k++) {
        if (owned[k].seen || owned[k].value.len == 0)
            continue;
        emit(sp, empty ? "\"" : ",\"", empty ? 1 : 2);
        emit(sp, owned[k].key, strlen(owned[k].key));
        emit(sp, "\":", 2);
        emit(sp, owned[k].value.data, owned[k].value.len);
        empty = false;
    }
}

/* The payload with the owned members set: the body of both rewrites. */
static char *rewrite(const char *payload, size_t len, owned_t *owned, size_t n_owned,
                     int rc, size_t *out_len)
{
    cJSON *obj = fp_json_parse(payload, len);
    bool is_object = cJSON_IsObject(obj);
    cJSON_Delete(obj);
    splice_t sp = {{0}, payload, 0, is_object ? rc : -EINVAL};
    if (sp.rc == 0) {
        bool empty;
        size_t last_end = splice_members(&sp, len, owned, n_owned, &empty);
        copy_upto(&sp, last_end);
        append_missing(&sp, owned, n_owned, empty);
        copy_upto(&sp, len);
    }
    for (size_t k = 0; k < n_owned; k++)
        fp_buf_free(&owned[k].value);
    if (sp.rc < 0) {
        fp_buf_free(&sp.out);
        return NULL;
    }
    if (out_len != NULL)
        *out_len = sp.out.len;
    return sp.out.data;
}

char *fp_retry_payload(const char *payload, size_t len, const char *entry_id, int64_t attempts,
                       const char *error, size_t *out_len)
{
    char attempt[24];
    int an = snprintf(attempt, sizeof attempt, "%lld", (long long)attempts);
    owned_t owned[] = {{"attempt", {0}, false, false},
                       {"last_error", {0}, false, false},
                       {"id", {0}, false, true}};
    int rc = fp_buf_append(&owned[0].value, attempt, (size_t)an);
    if (rc == 0)
        rc = fp_json_append_string(&owned[1].value, error != NULL ? error : "",
                                   error != NULL ? strlen(error) : 0);
    if (rc == 0 && entry_id != NULL)
        rc = fp_json_append_string(&owned[2].value, entry_id, strlen(entry_id));
    return rewrite(payload, len, owned, 3, rc, out_len);
}

char *fp_retry_payload_id(const char *payload, size_t len, const char *entry_id, size_t *out_len)
{
    owned_t owned[] = {{"id", {0}, false, true}};
    int rc = fp_json_append_string(&owned[0].value, entry_id, strlen(entry_id));
    return rewrite(payload, len, owned, 1, rc, out_len);
}
