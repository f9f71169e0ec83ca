/* heartbeat_read.c: the command line's read of the fleet (heartbeat.h),
 * blocking, through fp_admin. Three commands, none of which writes: TIME
 * (the clock the scores were written by), the most recently seen members of
 * the set, and their records with MGET (one slot, thanks to the {fleet} hash
 * tag). A member whose record expired is a daemon that died: it is shown as
 * gone until FP_FLEET_GONE_KEEP_MS have passed (the daemons' beats prune it
 * after that). */
#include "queue/heartbeat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int redis_time(fp_admin_t *a, int64_t *now_ms, fp_err_t *err)
{
    const char *argv[] = {"TIME"};
    size_t lens[] = {4};
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, 1, argv, lens, &r, err);
    if (rc < 0)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
        rc = fp_err_set(err, FP_EREDIS, "unexpected reply to TIME");
    else
        *now_ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
                  strtoll(r->element[1]->str, NULL, 10) / 1000;
    freeReplyObject(r);
    return rc;
}

/* The members, most recently seen first, with their scores. */
static int read_members(fp_admin_t *a, const char *set_key, fp_fleet_t *out, fp_err_t *err)
{
    char stop[24];
    snprintf(stop, sizeof stop, "%d", FP_FLEET_READ_MAX - 1);
    const char *argv[] = {"ZREVRANGE", set_key, "0", stop, "WITHSCORES"};
    size_t lens[5];
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = NULL;
    int rc = fp_admin_commandv(a, 5, argv, lens, &r, err);
    if (rc < 0)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        freeReplyObject(r);
        return fp_err_set(err, FP_EREDIS, "unexpected reply to ZREVRANGE %s", set_key);
    }
    out->members = calloc(r->elements / 2 + 1, sizeof *out->members);
    for (size_t i = 0; out->members != NULL && i + 1 < r->elements; i += 2) {
        fp_fleet_member_t *m = &out->members[out->n];
        if (r->element[i]->type != REDIS_REPLY_STRING || r->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        if ((m->id = strdup(r->element[i]->str)) == NULL)
            break;
        m->last_seen_ms = (int64_t)strtod(r->element[i + 1]->str, NULL);
        out->n++;
    }
    bool short_of_memory = out->members == NULL;
    freeReplyObject(r);
    return short_of_memory ? fp_err_set(err, -ENOMEM, "out of memory") : 0;
}

/* One member's record value (a string or nil), decoded when it is one. */
static void take_record(fp_fleet_member_t *m, const redisReply *v, int64_t now_ms)
{
    bool has = v->type == REDIS_REPLY_STRING;
    m->status = fp_fleet_classify(has, m->last_seen_ms, now_ms);
    if (!has)
        return;
    m->record = malloc(sizeof *m->record);
    if (m->record != NULL && fp_fleet_decode(v->str, v->len, m->record) < 0) {
        free(m->record); /* not ours to read: listed as live, without details */
        m->record = NULL;
    }
}

static int read_records(fp_admin_t *a, const char *prefix, fp_fleet_t *out, fp_err_t *err)
{
    if (out->n == 0)
        return 0;
    const char **argv = calloc(out->n + 1, sizeof *argv);
    size_t *lens = calloc(out->n + 1, sizeof *lens);
    int rc = argv != NULL && lens != NULL ? 0 : fp_err_set(err, -ENOMEM, "out of memory");
    if (rc == 0) {
        argv[0] = "MGET";
        lens[0] = 4;
    }
    for (size_t i = 0; rc == 0 && i < out->n; i++) {
        argv[i + 1] = fp_fleet_record_key(prefix, out->members[i].id);
        if (argv[i + 1] == NULL)
            rc = fp_err_set(err, -ENOMEM, "out of memory");
        else
            lens[i + 1] = strlen(argv[i + 1]);
    }
    redisReply *r = NULL;
    if (rc == 0)
        rc = fp_admin_commandv(a, (int)out->n + 1, argv, lens, &r, err);
    if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements != out->n))
        rc = fp_err_set(err, FP_EREDIS, "unexpected reply to MGET");
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        take_record(&out->members[i], r->element[i], out->now_ms);
    if (r != NULL)
        freeReplyObject(r);
    for (size_t i = 1; argv != NULL && i <= out->n; i++)
        free((void *)argv[i]);
    free(argv);
    free(lens);
    return rc;
}

/* Live first, then gone; by id within each. */
static int by_status_then_id(const void *x, const void *y)
{
    const fp_fleet_member_t *a = x, *b = y;
    if (a->status != b->status)
        return a->status < b->status ? -1 : 1;
    return strcmp(a->id, b->id);
}

/* Long-gone members are left out: the next beat prunes them. */
static void drop_expired(fp_fleet_t *f)
{
    size_t kept = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->members[i].status == FP_FLEET_EXPIRED) {
            free(f->members[i].id);
            free(f->members[i].record);
            continue;
        }
        f->members[kept++] = f->members[i];
    }
    f->n = kept;
}

int fp_admin_fleet(fp_admin_t *a, const char *prefix, fp_fleet_t *out, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    char *set_key = fp_fleet_set_key(prefix);
    if (set_key == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = redis_time(a, &out->now_ms, err);
    if (rc == 0)
        rc = read_members(a, set_key, out, err);
    if (rc == 0)
        rc = read_records(a, prefix, out, err);
    free(set_key);
    if (rc < 0)
        return rc;
    drop_expired(out);
    if (out->n > 1)
        qsort(out->members, out->n, sizeof *out->members, by_status_then_id);
    return 0;
}

void fp_fleet_clear(fp_fleet_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->members[i].id);
        free(f->members[i].record);
    }
    free(f->members);
    memset(f, 0, sizeof *f);
}
