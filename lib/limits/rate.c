/* rate.c: parsing "N/unit" rate limits and the GCRA step (rate.h). */
#include "limits/rate.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int64_t unit_ms(const char *s, size_t n)
{
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {{"s", 1000}, {"m", 60000}, {"h", 3600000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == n && strncmp(units[i].name, s, n) == 0)
            return units[i].ms;
    return 0;
}

int fp_rate_parse(const char *text, fp_rate_t *out, fp_err_t *err)
{
    const char *s = skip_space(text);
    int64_t count = 0;
    if (!isdigit((unsigned char)*s))
        return fp_err_set(err, FP_ECONFIG,
                          "must be a count per unit such as \"100/s\", \"20/m\" or \"1000/h\"");
    for (; isdigit((unsigned char)*s); s++) {
        count = count * 10 + (*s - '0');
        if (count > FP_RATE_COUNT_MAX)
            return fp_err_set(err, FP_ECONFIG, "count must be at most %d per unit",
                              FP_RATE_COUNT_MAX);
    }
    s = skip_space(s);
    if (*s != '/')
        return fp_err_set(err, FP_ECONFIG, "needs a unit after the count: \"%" PRId64 "/s\", "
                          "\"%" PRId64 "/m\" or \"%" PRId64 "/h\"", count, count, count);
    s = skip_space(s + 1);
    size_t n = 0;
    while (s[n] != '\0' && s[n] != ' ' && s[n] != '\t')
        n++;
    int64_t period = unit_ms(s, n);
    if (period == 0 || *skip_space(s + n) != '\0')
        return fp_err_set(err, FP_ECONFIG, "unit must be s, m or h (per second, minute, hour)");
    if (count < 1)
        return fp_err_set(err, FP_ECONFIG, "count must be at least 1 (leave rate out for none)");
    *out = (fp_rate_t){count, period};
    return 0;
}

int fp_rate_format(const fp_rate_t *r, char *buf, size_t size)
{
    const char *unit = r->period_ms == 1000 ? "s" : r->period_ms == 60000 ? "m" : "h";
    return snprintf(buf, size, "%" PRId64 "/%s", r->count, unit);
}

int64_t fp_rate_interval_us(const fp_rate_t *r)
{
    return r->count > 0 ? (r->period_ms * 1000 + r->count - 1) / r->count : 0;
}

int64_t fp_rate_tolerance_us(const fp_rate_t *r)
{
    return r->count > 0 ? fp_rate_interval_us(r) * (r->count - 1) : 0;
}

/* Keep limit_script.c's gcra() the same, line for line. */
bool fp_gcra_take(int64_t tat_us, int64_t now_us, int64_t interval_us, int64_t tolerance_us,
                  int64_t *new_tat_us, int64_t *retry_us)
{
    int64_t tat = tat_us < now_us ? now_us : tat_us;
    /* A TAT further ahead than this rate could ever put it (now + tolerance
     * + interval) was stored under an older, slower rate: without the cap a
     * reload from "10/h" to "100/s" would refuse every start for up to an
     * old period. Under one unchanged rate the cap never bites. */
    if (tat > now_us + tolerance_us + interval_us)
        tat = now_us + tolerance_us + interval_us;
    if (tat - tolerance_us > now_us) {
        *new_tat_us = tat; /* tat_us, or the cap: stored, so the cap stays put */
        *retry_us = tat - tolerance_us - now_us;
        return false;
    }
    *new_tat_us = tat + interval_us;
    *retry_us = 0;
    return true;
}
