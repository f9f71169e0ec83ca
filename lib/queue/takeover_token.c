/* takeover_token.c: see takeover_token.h. */
#include "queue/takeover_token.h"

#include <string.h>

/* Entries read before the new epoch never match again (0 stays "not a
 * fresh read"). */
static void next_epoch(fp_takeover_view_t *v)
{
    v->epoch = v->epoch + 1 != 0 ? v->epoch + 1 : 1;
}

void fp_takeover_learn(fp_takeover_view_t *v, const char *s, size_t n)
{
    if (v->usable && strlen(v->token) == n && memcmp(v->token, s, n) == 0)
        return;
    next_epoch(v);
    v->usable = n < sizeof v->token;
    size_t keep = v->usable ? n : 0;
    if (keep > 0)
        memcpy(v->token, s, keep);
    v->token[keep] = '\0';
}

void fp_takeover_forget(fp_takeover_view_t *v)
{
    next_epoch(v);
    v->usable = false;
    v->token[0] = '\0';
}

bool fp_takeover_leases_fresh(int64_t now_us, int64_t fresh_since_us, int64_t vt_ms)
{
    return vt_ms > 0 && now_us - fresh_since_us < vt_ms * 500;
}

const char *fp_takeover_arg(const fp_takeover_view_t *v, uint32_t batch_epoch, bool again,
                            bool fresh)
{
    if (again || !fresh || !v->usable || batch_epoch != v->epoch)
        return FP_TAKEOVER_UNTRUSTED;
    return v->token;
}
