/* outcome_find.c: one outcome's payload read back from a batch's encoded
 * arguments (outcome_find.h). Pure. */
#include "queue/outcome_find.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

/* One "$N\r\n<N bytes>\r\n" at *at; false at the end or on malformed input. */
static bool next_arg(const char *args, size_t len, size_t *at, const char **s, size_t *n)
{
    if (*at >= len || args[*at] != '$')
        return false;
    size_t i = *at + 1, v = 0;
    for (; i < len && isdigit((unsigned char)args[i]); i++) {
        if (v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(args[i] - '0');
    }
    if (i + 2 > len || args[i] != '\r' || args[i + 1] != '\n' || v > len - i - 2 ||
        len - i - 2 - v < 2 || args[i + 2 + v] != '\r' || args[i + 3 + v] != '\n')
        return false;
    *s = args + i + 2;
    *n = v;
    *at = i + 4 + v;
    return true;
}

/* How many arguments an outcome of this kind has (kind and id included),
 * as the outcome scripts read them (their widths table); 0 if unknown. */
static size_t width(char kind)
{
    switch (tolower((unsigned char)kind)) {
    case 'a': case 'k': return 2;
    case 'p': return 3;
    case 'r': return 4;
    case 'd': case 'x': return 6;
    default: return 0;
    }
}

bool fp_outcome_find_payload(const char *args, size_t len, const char *id, size_t id_len,
                             const char **payload, size_t *payload_len, char *found)
{
    size_t at = 0;
    const char *kind, *eid, *s;
    size_t kn, en, n;
    while (next_arg(args, len, &at, &kind, &kn)) {
        size_t w = kn == 1 ? width(kind[0]) : 0;
        if (w == 0 || !next_arg(args, len, &at, &eid, &en))
            return false;
        char k = (char)tolower((unsigned char)kind[0]);
        bool match = (k == 'r' || k == 'p') && en == id_len && memcmp(eid, id, en) == 0;
        for (size_t i = 2; i < w; i++) {
            if (!next_arg(args, len, &at, &s, &n))
                return false;
            if (match && i == 2) {
                *payload = s;
                *payload_len = n;
            }
        }
        if (match) {
            *found = k;
            return true;
        }
    }
    return false;
}
