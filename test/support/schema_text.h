/* schema_text.h: a configuration key's default as the TOML text that sets
 * it ("30s" quoted, 4, true, ["a", "b"], {}), the way config.example.toml,
 * docs/config.md and forkpool.toml(5) spell it, and key lookups by a word
 * cut from such a page; shared by the tests that hold those documents
 * against the schema table. */
#ifndef FP_TEST_SCHEMA_TEXT_H
#define FP_TEST_SCHEMA_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config_internal.h"

void fp_ts_default_toml(const fp__ckey_t *k, char *buf, size_t size);

/* Whether [section] has the key key[0..keylen) (a word cut from a page). */
bool fp_ts_schema_has_key(const char *section, const char *key, size_t keylen);

/* Whether key[0..keylen) is a key of the [limits.TYPE] tables, which are
 * not schema rows (config_limits.c). */
bool fp_ts_type_limit_key(const char *key, size_t keylen);

#endif
