/* retry.c: retry decisions, back-off and the re-enqueued payload. */
#include "retry.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

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
    if (max_ms < 0)
        max_ms = 0;
    if (base_ms < 0)
        base_ms = 0;
    if (base_ms > max_ms)
        base_ms = max_ms;
    int64_t delay = base_ms;
    /* Doubling stops at the cap (or at 0, which never grows), so it never
     * overflows and never loops for a huge attempt count. */
    for (int64_t i = 1; i < attempts && delay > 0 && delay < max_ms; i++)
        delay = delay > max_ms / 2 ? max_ms : delay * 2;
    if (jitter && delay > 0)
        delay = (int64_t)(random % ((uint64_t)delay + 1));
    return delay;
}

static bool replace_member(cJSON *obj, const char *key, cJSON *value)
{
    if (value == NULL)
        return false;
    if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
    return cJSON_AddItemToObject(obj, key, value);
}

char *fp_retry_payload(const char *payload, size_t len, const char *entry_id, int64_t attempts,
                       const char *error, size_t *out_len)
{
    cJSON *obj = fp_json_parse(payload, len);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return NULL;
    }
    bool ok = replace_member(obj, "attempt", cJSON_CreateNumber((double)attempts)) &&
              replace_member(obj, "last_error", cJSON_CreateString(error != NULL ? error : ""));
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (ok && (id == NULL || cJSON_IsNull(id)) && entry_id != NULL)
        ok = replace_member(obj, "id", cJSON_CreateString(entry_id));
    char *text = ok ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (text != NULL && out_len != NULL)
        *out_len = strlen(text);
    return text;
}
