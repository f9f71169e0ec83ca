/* units.h: durations and sizes as people write them in configuration and on
 * the command line. Pure functions, overflow-checked. */
#ifndef FORKPOOL_UNITS_H
#define FORKPOOL_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* "250ms", "30s", "5m", "1h", "7d", compounds such as "1h30m", and "0".
 * Units: ms, s, m, h, d. A bare number other than 0 is an error (is it seconds
 * or milliseconds?). Fractions are not accepted ("1.5s": write "1500ms").
 * Result in milliseconds; FP_ECONFIG with a reason on bad text or overflow. */
int fp_units_parse_duration_ms(const char *text, int64_t *out_ms, fp_err_t *err);

/* "512", "64KB", "256MB", "1GB": B, KB, MB, GB, TB as powers of 1024 (KiB,
 * MiB, GiB, TiB are accepted too; units are case-insensitive). A bare number is
 * bytes. Result in bytes; FP_ECONFIG on bad text or overflow. */
int fp_units_parse_size_bytes(const char *text, int64_t *out_bytes, fp_err_t *err);

/* Shortest exact text for a duration ("1h30m", "250ms", "0s") or a size
 * ("256MB", "1536KB", "100B"). Returns snprintf's count. */
int fp_units_format_duration(int64_t ms, char *buf, size_t size);
int fp_units_format_size(int64_t bytes, char *buf, size_t size);

/* An age or a running time for people at a glance, not exact: "850ms",
 * "12.3s", "4m05s", "3h07m", "2d04h"; "-" for a negative one (none). */
void fp_units_format_age(long long ms, char *out, size_t cap);

#endif
