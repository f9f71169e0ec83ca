/* tz.h: time zones for schedules, read from TZif files (RFC 8536, version 2
 * or later) without the C library's TZ machinery, so the daemon never calls
 * setenv("TZ") or tzset() and each schedule can have its own zone. The
 * parser (tzif.c) is pure and bounded: it reads a buffer, checks every count
 * against the buffer and the limits below, and refuses anything else. Times
 * past the file's last transition follow its footer rule (tz_rule.c), so a
 * "slim" file with few transitions works as well as a "fat" one. */
#ifndef FORKPOOL_SCHEDULE_TZ_H
#define FORKPOOL_SCHEDULE_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Real files have a few hundred transitions and a dozen types; the bounds
 * keep a hostile file from costing more. */
#define FP_TZ_MAX_TRANS 4096
#define FP_TZ_MAX_TYPES 256
#define FP_TZ_NAME_MAX 128
#define FP_TZ_DIR "/usr/share/zoneinfo"

/* A POSIX TZ rule (the TZif footer), e.g. "CET-1CEST,M3.5.0,M10.5.0/3". */
typedef struct fp_tz_rule_s {
    bool present;  /* a footer rule was given */
    bool has_dst;  /* with a daylight-saving part and its two dates */
    int32_t std_off, dst_off; /* seconds east of UTC */
    struct {
        int month, week, wday; /* Mm.w.d: week 5 = the last */
        int32_t time;          /* seconds after local midnight (may be negative or > 24h) */
    } start, end;
} fp_tz_rule_t;

typedef struct fp_tz_s {
    char name[FP_TZ_NAME_MAX];
    size_t ntrans, ntypes;
    int64_t trans[FP_TZ_MAX_TRANS];   /* Unix seconds, ascending */
    uint8_t idx[FP_TZ_MAX_TRANS];     /* the type in force from trans[i] on */
    int32_t utoff[FP_TZ_MAX_TYPES];   /* seconds east of UTC per type */
    fp_tz_rule_t rule;
} fp_tz_t;

/* Parses a TZif buffer (v2+: the 64-bit block and footer are used; a v1-only
 * file is refused). Returns 0 and a new zone in *out (fp_tz_free), or
 * FP_ECONFIG with err->msg saying what is wrong ("truncated", ...). */
int fp_tz_parse(const uint8_t *buf, size_t len, fp_tz_t **out, fp_err_t *err);

/* Reads FP_TZ_DIR/name (name like "Europe/Berlin": no "..", not absolute,
 * letters, digits, "_+-/" only) and parses it. "UTC" always works, even
 * without tzdata. Errors: FP_ECONFIG "unknown time zone ...". */
int fp_tz_load(const char *name, fp_tz_t **out, fp_err_t *err);

void fp_tz_free(fp_tz_t *tz);

/* Seconds east of UTC in force at Unix time t (seconds). NULL = UTC. */
int32_t fp_tz_offset(const fp_tz_t *tz, int64_t t);

/* The footer rule: parse (tz_rule.c) and the offset it gives at t. */
int fp_tz_rule_parse(const char *text, size_t len, fp_tz_rule_t *out);
int32_t fp_tz_rule_offset(const fp_tz_rule_t *r, int64_t t);

#endif
