/* cron.c: the cron expression parser (cron.h). Each field is a comma list
 * of items, an item is `*`, `N` or `N-M`, optionally followed by `/STEP`;
 * `N/STEP` means N to the field's maximum, as in Vixie cron. Months and
 * weekdays also take three-letter English names. Every mistake is an error
 * naming the field and the column, so a typo never becomes a schedule that
 * silently fires at the wrong time. */
#include "schedule/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct field_s {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] is the value lo + i; NULL: none */
} field_t;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

/* Weekday 7 is Sunday again (many crontabs write 1-7), folded after parsing. */
static const field_t fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    {"day-of-week", 0, 7, dow_names},
};

static const struct {
    const char *name, *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

typedef struct parse_s {
    const char *text; /* the whole expression, for columns */
    fp_err_t *err;
} parse_t;

/* "column C: FIELD: WHAT" (FIELD NULL: "column C: WHAT"). */
static int fail(parse_t *p, const char *at, const char *field, const char *what)
{
    int col = (int)(at - p->text) + 1;
    return fp_err_set_at(p->err, FP_ECONFIG, 1, col, "column %d: %s%s%s", col,
                         field ? field : "", field ? ": " : "", what);
}

/* A number or a name at *s; advances *s. */
static int read_value(parse_t *p, const field_t *f, const char **s, int *out)
{
    const char *at = *s;
    if (isdigit((unsigned char)*at)) {
        long v = 0;
        while (isdigit((unsigned char)**s) && v < 1000)
            v = v * 10 + (*(*s)++ - '0');
        if (isdigit((unsigned char)**s) || v < f->lo || v > f->hi) {
            char what[64];
            snprintf(what, sizeof what, "%.*s is out of range %d-%d", (int)(*s - at > 8 ? 8 : *s - at),
                     at, f->lo, f->hi);
            return fail(p, at, f->name, what);
        }
        *out = (int)v;
        return 0;
    }
    for (int i = 0; f->names != NULL && f->names[i] != NULL; i++) {
        if (strncasecmp(at, f->names[i], 3) == 0 && !isalpha((unsigned char)at[3])) {
            *s += 3;
            *out = f->lo + i;
            return 0;
        }
    }
    return fail(p, at, f->name,
                f->names != NULL ? "expected a number or a name" : "expected a number or *");
}

static int read_step(parse_t *p, const field_t *f, const char **s, int *step)
{
    *step = 1;
    if (**s != '/')
        return 0;
    const char *at = ++*s;
    long v = 0;
    if (!isdigit((unsigned char)*at))
        return fail(p, at, f->name, "a step must be a number after /");
    while (isdigit((unsigned char)**s) && v < 1000)
        v = v * 10 + (*(*s)++ - '0');
    if (v < 1 || v > f->hi)
        return fail(p, at, f->name, "step out of range");
    *step = (int)v;
    return 0;
}

/* One item of a list: `*`, `N`, `N-M`, each with an optional `/STEP`. */
static int parse_item(parse_t *p, const field_t *f, const char **s, uint64_t *bits)
{
    const char *at = *s;
    int lo = f->lo, hi = f->hi, step = 1, rc;
    if (**s == '*') {
        ++*s;
    } else {
        if ((rc = read_value(p, f, s, &lo)) < 0)
            return rc;
        hi = lo;
        if (**s == '-') {
            ++*s;
            if ((rc = read_value(p, f, s, &hi)) < 0)
                return rc;
            if (hi < lo)
                return fail(p, at, f->name, "a range must not run backwards");
        } else if (**s == '/') {
            hi = f->hi; /* N/STEP: from N to the end */
        }
    }
    if ((rc = read_step(p, f, s, &step)) < 0)
        return rc;
    if (**s != ',' && **s != '\0' && !isspace((unsigned char)**s))
        return fail(p, *s, f->name, "unexpected character");
    for (int v = lo; v <= hi; v += step)
        *bits |= UINT64_C(1) << v;
    return 0;
}

static int parse_field(parse_t *p, const field_t *f, const char **s, uint64_t *bits)
{
    *bits = 0;
    for (;;) {
        int rc = parse_item(p, f, s, bits);
        if (rc < 0)
            return rc;
        if (**s != ',')
            return 0;
        ++*s;
    }
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int parse_fields(parse_t *p, const char *s, fp_cron_t *out)
{
    uint64_t bits[5];
    s = skip_space(s);
    for (int i = 0; i < 5; i++) {
        if (*s == '\0')
            return fail(p, s, fields[i].name,
                        "missing (expected five fields: minute hour day-of-month month "
                        "day-of-week)");
        if (i == 2)
            out->dom_star = *s == '*';
        if (i == 4)
            out->dow_star = *s == '*';
        int rc = parse_field(p, &fields[i], &s, &bits[i]);
        if (rc < 0)
            return rc;
        s = skip_space(s);
    }
    if (*s != '\0')
        return fail(p, s, NULL, "more than five fields");
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint32_t)bits[3];
    out->dow = (uint32_t)(bits[4] & 0x7f) | (uint32_t)((bits[4] >> 7) & 1); /* 7 = Sunday */
    return 0;
}

int fp_cron_parse(const char *text, fp_cron_t *out, fp_err_t *err)
{
    parse_t p = {text, err};
    fp_cron_t c = {0};
    if (strlen(text) > FP_CRON_TEXT_MAX)
        return fp_err_set_at(err, FP_ECONFIG, 1, 1, "column 1: longer than %d characters",
                             FP_CRON_TEXT_MAX);
    const char *s = skip_space(text);
    if (*s == '@') {
        size_t n = strcspn(s, " \t");
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
            if (strlen(macros[i].name) == n && strncasecmp(s, macros[i].name, n) == 0 &&
                *skip_space(s + n) == '\0') {
                parse_t mp = {macros[i].expr, err};
                return parse_fields(&mp, macros[i].expr, out);
            }
        }
        return fail(&p, s, NULL,
                    "unknown macro (known: @yearly @annually @monthly @weekly @daily "
                    "@midnight @hourly)");
    }
    int rc = parse_fields(&p, s, &c);
    if (rc == 0)
        *out = c;
    return rc;
}

bool fp_cron_day_matches(const fp_cron_t *c, int month, int mday, int wday)
{
    if (!(c->month >> month & 1))
        return false;
    bool dom = c->dom >> mday & 1, dow = c->dow >> wday & 1;
    if (c->dom_star || c->dow_star)
        return dom && dow;
    return dom || dow;
}
