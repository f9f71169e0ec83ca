/* spans.c: the overlap of job spans written by test handlers (spans.h). */
#include "spans.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct line_s {
    char key[96];
    long long t;
    int delta; /* +1 start, -1 stop */
} line_t;

static int by_key_then_time(const void *a, const void *b)
{
    const line_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0)
        return c;
    return x->t < y->t ? -1 : x->t > y->t;
}

static int by_time(const void *a, const void *b)
{
    const line_t *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->delta - y->delta; /* a stop before a start at the same instant */
}

static line_t *parse(const char *path, const char *prefix, size_t *n, fp_ts_spans_t *s)
{
    char *text = fp_th_read_file(path, NULL);
    size_t cap = 1024;
    line_t *v = malloc(cap * sizeof *v);
    *n = 0;
    for (char *l = text ? strtok(text, "\n") : NULL; l != NULL; l = strtok(NULL, "\n")) {
        char what[8];
        line_t e;
        if (sscanf(l, "%7s %95s %lld", what, e.key, &e.t) != 3 ||
            strncmp(e.key, prefix, strlen(prefix)) != 0)
            continue;
        e.delta = strcmp(what, "start") == 0 ? 1 : -1;
        if (e.delta > 0) {
            s->starts++;
            s->first_start = s->first_start == 0 || e.t < s->first_start ? e.t : s->first_start;
            s->last_start = e.t > s->last_start ? e.t : s->last_start;
        } else {
            s->stops++;
        }
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[(*n)++] = e;
    }
    free(text);
    return v;
}

fp_ts_spans_t fp_ts_spans_read(const char *path, const char *prefix)
{
    fp_ts_spans_t s = {0};
    size_t n = 0, kept = 0;
    line_t *v = parse(path, prefix, &n, &s);
    /* Pairs: a start followed by a stop of the same key. */
    qsort(v, n, sizeof *v, by_key_then_time);
    for (size_t i = 0; i < n; i++) {
        bool pair = v[i].delta > 0 && i + 1 < n && v[i + 1].delta < 0 &&
                    strcmp(v[i].key, v[i + 1].key) == 0;
        if (pair) {
            v[kept++] = v[i];
            v[kept++] = v[++i];
        } else if (v[i].delta > 0) {
            s.unmatched++;
        }
    }
    qsort(v, kept, sizeof *v, by_time);
    long long open = 0;
    for (size_t i = 0; i < kept; i++) {
        open += v[i].delta;
        s.max_overlap = open > s.max_overlap ? open : s.max_overlap;
    }
    free(v);
    return s;
}
