/* json.c: cJSON with the strictness outside input needs. */
#include "json.h"

#include <string.h>

cJSON *fp_json_parse(const char *text, size_t len)
{
    if (len == 0 || memchr(text, '\0', len) != NULL)
        return NULL;
    const char *end = NULL;
    cJSON *value = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (value == NULL)
        return NULL;
    for (const char *p = end; p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(value);
            return NULL;
        }
    }
    return value;
}
