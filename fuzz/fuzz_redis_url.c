/* fuzz_redis_url.c: the Redis URL parser (redis.url, FORKPOOL_REDIS_URL),
 * the printable address made from what it accepts, and the masking that
 * check-config applies to the same text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "redis/redis_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fp_redis_url_t url;
    fp_err_t err;
    if (fp_redis_url_parse(text, &url, &err) == 0) {
        char where[256];
        fp_redis_url_where(&url, where, sizeof where);
        fp_redis_url_free(&url);
    }
    free(fp_config_mask_url(text));
    free(text);
    return 0;
}
