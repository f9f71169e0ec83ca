/* tz_rule.c: the POSIX TZ rule a TZif footer carries for times after its
 * last transition ("CET-1CEST,M3.5.0,M10.5.0/3"): names (alphabetic or
 * <quoted>), offsets (POSIX signs: west of UTC is positive), and the two
 * dates in the Mm.w.d form that every tzdata zone uses (the Jn and n forms
 * are refused, never guessed). Times may run from -167 to 167 hours (RFC
 * 8536's extension). */
#include "schedule/tz.h"

#include <ctype.h>
#include <string.h>

#include "schedule/civil.h"

typedef struct cur_s {
    const char *s, *end;
} cur_t;

static bool more(const cur_t *c)
{
    return c->s < c->end;
}

static int name(cur_t *c)
{
    const char *start = c->s;
    if (more(c) && *c->s == '<') {
        while (more(c) && *c->s != '>')
            c->s++;
        if (!more(c))
            return -1;
        c->s++;
        return 0;
    }
    while (more(c) && isalpha((unsigned char)*c->s))
        c->s++;
    return c->s - start >= 3 ? 0 : -1;
}

static int number(cur_t *c, int max, int *out)
{
    int v = 0, digits = 0;
    while (more(c) && isdigit((unsigned char)*c->s) && digits < 3) {
        v = v * 10 + (*c->s++ - '0');
        digits++;
    }
    if (digits == 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* [+-]hh[:mm[:ss]] in seconds. */
static int hms(cur_t *c, int max_hours, int32_t *out)
{
    int sign = 1, h = 0, m = 0, s = 0;
    if (more(c) && (*c->s == '+' || *c->s == '-'))
        sign = *c->s++ == '-' ? -1 : 1;
    if (number(c, max_hours, &h) < 0)
        return -1;
    if (more(c) && *c->s == ':') {
        c->s++;
        if (number(c, 59, &m) < 0)
            return -1;
        if (more(c) && *c->s == ':') {
            c->s++;
            if (number(c, 59, &s) < 0)
                return -1;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return 0;
}

static int date(cur_t *c, int *month, int *week, int *wday, int32_t *time)
{
    if (!more(c) || *c->s != 'M')
        return -1; /* Jn and n: not used by tzdata, refused rather than guessed */
    c->s++;
    if (number(c, 12, month) < 0 || *month < 1 || !more(c) || *c->s++ != '.' ||
        number(c, 5, week) < 0 || *week < 1 || !more(c) || *c->s++ != '.' ||
        number(c, 6, wday) < 0)
        return -1;
    *time = 2 * 3600;
    if (more(c) && *c->s == '/') {
        c->s++;
        return hms(c, 167, time);
    }
    return 0;
}

int fp_tz_rule_parse(const char *text, size_t len, fp_tz_rule_t *out)
{
    cur_t c = {text, text + len};
    fp_tz_rule_t r = {.present = true};
    int32_t off;
    if (name(&c) < 0 || hms(&c, 24, &off) < 0)
        return -1;
    r.std_off = r.dst_off = -off;
    if (more(&c)) {
        if (name(&c) < 0)
            return -1;
        r.has_dst = true;
        r.dst_off = r.std_off + 3600;
        if (more(&c) && *c.s != ',') {
            if (hms(&c, 24, &off) < 0)
                return -1;
            r.dst_off = -off;
        }
        if (!more(&c) || *c.s++ != ',' ||
            date(&c, &r.start.month, &r.start.week, &r.start.wday, &r.start.time) < 0 ||
            !more(&c) || *c.s++ != ',' ||
            date(&c, &r.end.month, &r.end.week, &r.end.wday, &r.end.time) < 0)
            return -1;
    }
    if (more(&c))
        return -1;
    *out = r;
    return 0;
}

/* Local midnight (as days) of the w-th weekday d of month m in year y. */
static int64_t rule_day(int64_t y, int m, int w, int d)
{
    int64_t first = fp_civil_days(y, m, 1);
    int64_t day = first + (d - fp_civil_weekday(first) + 7) % 7 + (int64_t)(w - 1) * 7;
    int mlen = fp_civil_month_days(y, m);
    while (day >= first + mlen)
        day -= 7; /* week 5: the last such weekday */
    return day;
}

int32_t fp_tz_rule_offset(const fp_tz_rule_t *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t y;
    int m, d;
    fp_civil_from_days(fp_civil_floordiv(t + r->std_off, 86400), &y, &m, &d);
    /* The start is written in standard time, the end in daylight time. */
    int64_t start = rule_day(y, r->start.month, r->start.week, r->start.wday) * 86400 +
                    r->start.time - r->std_off;
    int64_t end = rule_day(y, r->end.month, r->end.week, r->end.wday) * 86400 + r->end.time -
                  r->dst_off;
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? r->dst_off : r->std_off;
}
