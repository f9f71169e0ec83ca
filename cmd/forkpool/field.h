/* field.h: Redis field values (fp_admin_field_t: binary-safe text) shown by
 * the commands that print jobs from Redis (dead, job): as whole numbers, as
 * UTC times, and as JSON members that are valid whatever Redis holds. */
#ifndef FORKPOOL_FIELD_H
#define FORKPOOL_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "queue/admin.h"

/* A whole number field, or false. */
bool fp_field_int(const fp_admin_field_t *f, int64_t *out);

/* Unix ms as 2024-05-01T12:34:56.789Z into out; false for a negative time
 * or one that does not fit. */
bool fp_field_iso_ms(int64_t ms, char *out, size_t cap);
/* The same for a field holding Unix ms; false when it is not a number. */
bool fp_field_iso(const fp_admin_field_t *f, char *out, size_t cap);

/* JSON members (NULL on ENOMEM): the payload itself when it is JSON (its
 * numbers with every digit), else its text as a string; a field as a string;
 * a field as a whole number when it is one, else as a string. An absent
 * field is null. */
cJSON *fp_field_json_job(const fp_admin_field_t *f);
cJSON *fp_field_json_text(const fp_admin_field_t *f);
cJSON *fp_field_json_int(const fp_admin_field_t *f);

#endif
