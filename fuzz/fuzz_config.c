/* fuzz_config.c: the configuration loader (TOML, schema, validation) on
 * arbitrary text, and the effective configuration it accepts dumped as
 * check-config prints it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* The input alone decides the outcome. */
    unsetenv("FORKPOOL_REDIS_URL");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_err_t err;
    fp_config_t *cfg = NULL;
    if (fp_config_load_text((const char *)data, size, "fuzz.toml", &cfg, &err) < 0)
        return 0;
    free(fp_config_dump_json(cfg));
    free(fp_config_mask_url(cfg->redis.url));
    fp_config_free(cfg);
    return 0;
}
