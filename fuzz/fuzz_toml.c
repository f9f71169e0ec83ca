/* fuzz_toml.c: the TOML reader on arbitrary bytes, and every tree it accepts
 * converted to JSON both ways (plain and toml-test's tagged form). */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "toml/toml.h"

static void to_json(const fp_toml_node_t *root, bool tagged)
{
    cJSON *json = fp_toml_to_json(root, tagged);
    char *text = json != NULL ? cJSON_PrintUnformatted(json) : NULL;
    free(text);
    cJSON_Delete(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_err_t err;
    fp_toml_node_t *root = fp_toml_parse((const char *)data, size, &err);
    if (root == NULL)
        return 0;
    to_json(root, false);
    to_json(root, true);
    fp_toml_free(root);
    return 0;
}
