/* top_sample.c: what a sample of `forkpool top` owns, and a dead entry as
 * its dead-letters view shows it. */
#include "top/top.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/json.h"

void fp_top_sample_clear(fp_top_sample_t *s)
{
    free(s->queues);
    fp_fleet_clear(&s->fleet);
    free(s->dead);
    memset(s, 0, sizeof *s);
}

/* A whole number field, or -1. */
static long long field_number(const fp_admin_field_t *f)
{
    if (f->s == NULL || f->len == 0 || f->len > 19)
        return -1;
    long long v = 0;
    for (size_t i = 0; i < f->len; i++) {
        if (f->s[i] < '0' || f->s[i] > '9')
            return -1;
        v = v * 10 + (f->s[i] - '0');
    }
    return v;
}

/* Copies a binary-safe field as text; the layout makes it safe to show. */
static void field_text(const fp_admin_field_t *f, char *out, size_t cap)
{
    size_t n = f->s == NULL ? 0 : f->len < cap - 1 ? f->len : cap - 1;
    if (n > 0)
        memcpy(out, f->s, n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        out[i] = out[i] == '\0' ? ' ' : out[i];
}

void fp_top_dead_from_entry(const char *queue, const fp_dead_entry_t *e, fp_top_dead_t *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->queue, sizeof out->queue, "%s", queue);
    snprintf(out->id, sizeof out->id, "%s", e->id != NULL ? e->id : "");
    field_text(&e->error, out->error, sizeof out->error);
    out->attempts = field_number(&e->attempts);
    out->failed_ms = field_number(&e->failed_at);
    cJSON *job = e->job.s != NULL ? fp_json_parse(e->job.s, e->job.len) : NULL;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "type"));
    snprintf(out->type, sizeof out->type, "%s", type != NULL ? type : "?");
    cJSON_Delete(job);
}
