/* stream_id.c: a Redis stream entry id as two numbers (see stream_id.h). */
#include "base/stream_id.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool fp_stream_id_parse(const char *s, size_t n, uint64_t *ms, uint64_t *seq)
{
    const char *dash = memchr(s, '-', n);
    if (dash == NULL)
        return false;
    size_t a = (size_t)(dash - s);
    return parse_u64(s, a, ms) && parse_u64(dash + 1, n - a - 1, seq);
}

static bool sid_before(fp_sid_t a, fp_sid_t b)
{
    return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq);
}

void fp_sid_span(const fp_sid_t *ids, size_t n, char lo[FP_SID_TEXT], char hi[FP_SID_TEXT])
{
    if (n == 0) {
        snprintf(lo, FP_SID_TEXT, "-");
        snprintf(hi, FP_SID_TEXT, "+");
        return;
    }
    fp_sid_t min = ids[0], max = ids[0];
    for (size_t i = 1; i < n; i++) {
        if (sid_before(ids[i], min))
            min = ids[i];
        if (sid_before(max, ids[i]))
            max = ids[i];
    }
    snprintf(lo, FP_SID_TEXT, "%" PRIu64 "-%" PRIu64, min.ms, min.seq);
    snprintf(hi, FP_SID_TEXT, "%" PRIu64 "-%" PRIu64, max.ms, max.seq);
}
