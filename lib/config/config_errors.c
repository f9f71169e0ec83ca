/* config_errors.c: the words of a refusal. The nearest known name when one
 * is misspelt ("did you mean"), and bounded, printable texts for names,
 * ranges and choices, so every message of the loader reads the same way. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"
#include "base/units.h"
#include "config/config_internal.h"

/* Optimal string alignment distance: edits plus adjacent transpositions,
 * so "chidlren" is one step from "children". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][64], *pp = rows[0], *p = rows[1], *c = rows[2];
    if (lb >= 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    for (size_t i = 1; i <= la; i++) {
        c[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = p[j - 1] + cost;
            if (p[j] + 1 < best)
                best = p[j] + 1;
            if (c[j - 1] + 1 < best)
                best = c[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            c[j] = best;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[lb];
}

/* Close enough to be a typo: one edit for short names, two for longer
 * ones; anything further is more likely a different idea than a slip. */
void fp__suggest_consider(fp__suggest_t *s, const char *candidate)
{
    if (strlen(s->word) > 60)
        return;
    size_t d = distance(s->word, candidate);
    size_t limit = strlen(candidate) <= 4 ? 1 : 2;
    if (d <= limit && (s->best == NULL || d < s->best_d)) {
        s->best = candidate;
        s->best_d = d;
    }
}

const char *fp__config_suggest_key(const char *section, const char *word)
{
    fp__suggest_t s = {.word = word};
    for (size_t i = 0; i < fp__config_schema_len; i++)
        if (strcmp(fp__config_schema[i].section, section) == 0)
            fp__suggest_consider(&s, fp__config_schema[i].key);
    return s.best;
}

const char *fp__config_suggest_section(const char *word)
{
    fp__suggest_t s = {.word = word};
    for (size_t i = 0; i < fp__config_schema_len; i++)
        if (i == 0 || strcmp(fp__config_schema[i].section, fp__config_schema[i - 1].section) != 0)
            fp__suggest_consider(&s, fp__config_schema[i].section);
    fp__suggest_consider(&s, FP__CONFIG_HANDLERS);
    return s.best;
}

/* Keys and values come from the file and may hold anything (quoted TOML keys
 * allow control characters): show a bounded, printable form. */
const char *fp__config_quote(char *buf, size_t size, const char *s)
{
    return fp_text_quote(buf, size, s, 64);
}

static void amount_text(const fp__ckey_t *k, int64_t v, char *buf, size_t size)
{
    if (k->type == FP__CT_DURATION)
        fp_units_format_duration(v, buf, size);
    else if (k->type == FP__CT_SIZE)
        fp_units_format_size(v, buf, size);
    else
        snprintf(buf, size, "%" PRId64, v);
}

/* "between 0 and 1024" when both bounds mean something; a row whose maximum
 * is only a sanity cap reads "at least 3s" or "at most 3650d" instead. */
void fp__config_range_text(const fp__ckey_t *k, int64_t v, char *buf, size_t size)
{
    char lo[32], hi[32];
    bool capped = k->max == INT64_MAX || (k->type == FP__CT_DURATION && k->max == FP__DUR_MAX);
    amount_text(k, k->min, lo, sizeof lo);
    amount_text(k, k->max, hi, sizeof hi);
    if (!capped)
        snprintf(buf, size, "between %s and %s", lo, hi);
    else if (v > k->max)
        snprintf(buf, size, "at most %s", hi);
    else if (k->min == 1 && k->type != FP__CT_INT)
        snprintf(buf, size, "greater than 0");
    else
        snprintf(buf, size, "at least %s", lo);
}

/* Section names are shown as written when they are bare TOML keys. */
const char *fp__config_name_text(char *buf, size_t size, const char *name)
{
    size_t n = strlen(name);
    if (n > 0 && n < size && n < 64 &&
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n) {
        memcpy(buf, name, n + 1);
        return buf;
    }
    return fp__config_quote(buf, size, name);
}

void fp__config_choices_text(const fp__ckey_t *k, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (const fp__cenum_t *c = k->choices; c->name != NULL && n < size; c++)
        n += (size_t)snprintf(buf + n, size - n, "%s\"%s\"", n ? ", " : "", c->name);
}
