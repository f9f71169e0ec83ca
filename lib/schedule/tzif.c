/* tzif.c: the TZif reader (tz.h). The version 1 block is skipped by its
 * counts; the version 2+ block (64-bit times) and the footer are read. Every
 * count is checked against the limits and the bytes left before anything
 * is read, so a truncated or garbage buffer is an error, never a read past
 * its end. */
#include "schedule/tz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_LEN 44

typedef struct counts_s {
    uint32_t isut, isstd, leap, time, type, chars;
} counts_t;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int bad(fp_err_t *err, const char *why)
{
    return fp_err_set(err, FP_ECONFIG, "not a usable TZif file: %s", why);
}

static int header(const uint8_t *p, size_t left, counts_t *c, fp_err_t *err)
{
    if (left < HEADER_LEN)
        return bad(err, "truncated header");
    if (memcmp(p, "TZif", 4) != 0)
        return bad(err, "no TZif magic");
    *c = (counts_t){be32(p + 20), be32(p + 24), be32(p + 28),
                    be32(p + 32), be32(p + 36), be32(p + 40)};
    if (c->time > FP_TZ_MAX_TRANS || c->type == 0 || c->type > FP_TZ_MAX_TYPES ||
        c->chars == 0 || c->chars > 65536 || c->leap > 65536 ||
        (c->isut != 0 && c->isut != c->type) || (c->isstd != 0 && c->isstd != c->type))
        return bad(err, "counts out of range");
    return 0;
}

/* Bytes of one data block with times of tsize bytes. */
static size_t block_len(const counts_t *c, size_t tsize)
{
    return (size_t)c->time * tsize + c->time + (size_t)c->type * 6 + c->chars +
           (size_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

static int read_block(fp_tz_t *tz, const uint8_t *p, const counts_t *c, fp_err_t *err)
{
    tz->ntrans = c->time;
    tz->ntypes = c->type;
    for (uint32_t i = 0; i < c->time; i++) {
        tz->trans[i] = be64(p + (size_t)i * 8);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return bad(err, "transitions out of order");
    }
    p += (size_t)c->time * 8;
    for (uint32_t i = 0; i < c->time; i++)
        if ((tz->idx[i] = p[i]) >= c->type)
            return bad(err, "transition type out of range");
    p += c->time;
    for (uint32_t i = 0; i < c->type; i++) {
        int32_t off = (int32_t)be32(p + (size_t)i * 6);
        if (off <= -25 * 3600 || off >= 26 * 3600)
            return bad(err, "offset out of range");
        tz->utoff[i] = off;
    }
    return 0;
}

/* "\n<rule>\n" after the v2 block; an empty rule means none. */
static int read_footer(fp_tz_t *tz, const uint8_t *p, size_t left, fp_err_t *err)
{
    if (left < 2 || p[0] != '\n')
        return bad(err, "missing footer");
    const uint8_t *end = memchr(p + 1, '\n', left - 1);
    if (end == NULL)
        return bad(err, "unterminated footer");
    size_t n = (size_t)(end - (p + 1));
    if (n > 0 && fp_tz_rule_parse((const char *)p + 1, n, &tz->rule) < 0)
        return bad(err, "footer rule not understood");
    return 0;
}

int fp_tz_parse(const uint8_t *buf, size_t len, fp_tz_t **out, fp_err_t *err)
{
    counts_t c;
    int rc = header(buf, len, &c, err);
    if (rc < 0)
        return rc;
    if (buf[4] < '2')
        return bad(err, "version 1 files are not supported (no 64-bit block)");
    size_t skip = HEADER_LEN + block_len(&c, 4);
    if (skip > len)
        return bad(err, "truncated version 1 block");
    if ((rc = header(buf + skip, len - skip, &c, err)) < 0)
        return rc;
    size_t at = skip + HEADER_LEN, n = block_len(&c, 8);
    if (n > len - at)
        return bad(err, "truncated version 2 block");
    fp_tz_t *tz = calloc(1, sizeof *tz);
    if (tz == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    if ((rc = read_block(tz, buf + at, &c, err)) < 0 ||
        (rc = read_footer(tz, buf + at + n, len - at - n, err)) < 0) {
        free(tz);
        return rc;
    }
    *out = tz;
    return 0;
}

void fp_tz_free(fp_tz_t *tz)
{
    free(tz);
}

int32_t fp_tz_offset(const fp_tz_t *tz, int64_t t)
{
    if (tz == NULL)
        return 0;
    if (tz->ntrans == 0 || t < tz->trans[0]) {
        if (tz->ntrans == 0 && tz->rule.present)
            return fp_tz_rule_offset(&tz->rule, t);
        return tz->utoff[0];
    }
    if (t >= tz->trans[tz->ntrans - 1] && tz->rule.present)
        return fp_tz_rule_offset(&tz->rule, t);
    size_t lo = 0, hi = tz->ntrans; /* the last transition <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->utoff[tz->idx[lo]];
}
