/* schema_text.h: a configuration key's default as the TOML text that sets
 * it ("30s" quoted, 4, true, ["a", "b"], {}), the way config.example.toml,
 * docs/config.md and forkpool.toml(5) spell it; shared by the tests that
 * hold those documents against the schema table. */
#ifndef FP_TEST_SCHEMA_TEXT_H
#define FP_TEST_SCHEMA_TEXT_H

#include <stddef.h>

#include "config/config_internal.h"

void fp_ts_default_toml(const fp__ckey_t *k, char *buf, size_t size);

#endif
