/* schema_text.c: see schema_text.h. */
#include "schema_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void fp_ts_default_toml(const fp__ckey_t *k, char *buf, size_t size)
{
    switch (k->type) {
    case FP__CT_STRING:
    case FP__CT_DURATION:
    case FP__CT_SIZE:
    case FP__CT_ENUM: snprintf(buf, size, "\"%s\"", k->def_text); break;
    case FP__CT_INT:
        if (k->autoable && k->def_int == FP_CONFIG_AUTO)
            snprintf(buf, size, "\"auto\"");
        else
            snprintf(buf, size, "%" PRId64, k->def_int);
        break;
    case FP__CT_BOOL: snprintf(buf, size, "%s", k->def_int ? "true" : "false"); break;
    case FP__CT_STRV: {
        size_t used = (size_t)snprintf(buf, size, "[");
        for (size_t i = 0; k->def_strv != NULL && k->def_strv[i] != NULL && used < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s\"%s\"", i ? ", " : "",
                                     k->def_strv[i]);
        if (used < size)
            snprintf(buf + used, size - used, "]");
        break;
    }
    case FP__CT_WEIGHTS:
    case FP__CT_ENV: snprintf(buf, size, "{}"); break;
    }
}

bool fp_ts_schema_has_key(const char *section, const char *key, size_t keylen)
{
    char word[128];
    if (keylen >= sizeof word)
        return false;
    memcpy(word, key, keylen);
    word[keylen] = '\0';
    return fp__config_find_key(section, word) != NULL;
}

bool fp_ts_type_limit_key(const char *key, size_t keylen)
{
    for (size_t i = 0; fp__config_type_limit_keys[i] != NULL; i++)
        if (strlen(fp__config_type_limit_keys[i]) == keylen &&
            strncmp(fp__config_type_limit_keys[i], key, keylen) == 0)
            return true;
    return false;
}
