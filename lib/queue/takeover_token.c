/* takeover_token.c: see takeover_token.h. */
#include "queue/takeover_token.h"

#include <string.h>

void fp_takeover_learn(fp_takeover_view_t *v, const char *s, size_t n)
{
    if (v->usable && strlen(v->token) == n && memcmp(v->token, s, n) == 0)
        return;
    v->epoch = v->epoch + 1 != 0 ? v->epoch + 1 : 1;
    v->usable = n < sizeof v->token;
    size_t keep = v->usable ? n : 0;
    if (keep > 0)
        memcpy(v->token, s, keep);
    v->token[keep] = '\0';
}

const char *fp_takeover_arg(const fp_takeover_view_t *v, uint32_t batch_epoch, bool again)
{
    if (again || !v->usable || batch_epoch != v->epoch)
        return FP_TAKEOVER_UNTRUSTED;
    return v->token;
}
