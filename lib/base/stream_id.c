/* stream_id.c: a Redis stream entry id as two numbers (see stream_id.h). */
#include "base/stream_id.h"

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
