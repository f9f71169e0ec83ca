/* heartbeat_read.c: reading the fleet (heartbeat.h). Three commands, none of
 * which writes: TIME (the clock the scores were written by), the most
 * recently seen members of the set, and their records with one MGET (one
 * slot, thanks to the {fleet} hash tag). A member whose record expired is a
 * daemon that died: it is shown as gone until FP_FLEET_GONE_KEEP_MS have
 * passed (the daemons' beats prune it after that).
 *
 * The replies are taken by the functions below, shared by the command
 * line's blocking read (fp_admin_fleet, here) and the daemon's asynchronous
 * one (fp_queue_fleet_read, heartbeat.c). */
#include "queue/heartbeat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool fp_fleet_take_time(fp_fleet_t *out, const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
        return false;
    out->now_ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
                  strtoll(r->element[1]->str, NULL, 10) / 1000;
    return true;
}

int fp_fleet_take_members(fp_fleet_t *out, const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
        return -EPROTO;
    out->members = calloc(r->elements / 2 + 1, sizeof *out->members);
    if (out->members == NULL)
        return -ENOMEM;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        fp_fleet_member_t *m = &out->members[out->n];
        const redisReply *id = r->element[i], *score = r->element[i + 1];
        if (id->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING)
            continue;
        if ((m->id = strdup(id->str)) == NULL)
            return -ENOMEM;
        m->last_seen_ms = (int64_t)strtod(score->str, NULL);
        out->n++;
    }
    return 0;
}

int fp_fleet_mget(const fp_fleet_t *f, const char *prefix, char ***argv, size_t **lens)
{
    *argv = calloc(f->n + 1, sizeof **argv);
    *lens = calloc(f->n + 1, sizeof **lens);
    if (*argv == NULL || *lens == NULL)
        return -ENOMEM;
    (*argv)[0] = strdup("MGET");
    (*lens)[0] = 4;
    for (size_t i = 0; (*argv)[i] != NULL && i < f->n; i++) {
        (*argv)[i + 1] = fp_fleet_record_key(prefix, f->members[i].id);
        (*lens)[i + 1] = (*argv)[i + 1] != NULL ? strlen((*argv)[i + 1]) : 0;
    }
    return (*argv)[f->n] != NULL ? 0 : -ENOMEM;
}

void fp_fleet_mget_free(const fp_fleet_t *f, char **argv, size_t *lens)
{
    for (size_t i = 0; argv != NULL && i <= f->n; i++)
        free(argv[i]);
    free(argv);
    free(lens);
}

/* One member's record value (a string or nil), decoded when it is one. */
static void take_record(fp_fleet_member_t *m, const redisReply *v, int64_t now_ms)
{
    bool has = v->type == REDIS_REPLY_STRING;
    fp_fleet_take_text(m, has ? v->str : NULL, has ? v->len : 0, now_ms);
}

void fp_fleet_take_text(fp_fleet_member_t *m, const char *record, size_t len, int64_t now_ms)
{
    m->status = fp_fleet_classify(record != NULL, m->last_seen_ms, now_ms);
    if (record == NULL)
        return;
    m->record = malloc(sizeof *m->record);
    if (m->record != NULL && fp_fleet_decode(record, len, m->record) < 0) {
        free(m->record); /* not ours to read: listed as live, without details */
        m->record = NULL;
    }
}

/* Live first, then gone; by id within each. */
static int by_status_then_id(const void *x, const void *y)
{
    const fp_fleet_member_t *a = x, *b = y;
    if (a->status != b->status)
        return a->status < b->status ? -1 : 1;
    return strcmp(a->id, b->id);
}

void fp_fleet_settle(fp_fleet_t *out)
{
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++) {
        fp_fleet_member_t *m = &out->members[i];
        if (m->status == FP_FLEET_EXPIRED) { /* left out: the next beat prunes it */
            free(m->id);
            free(m->record);
            continue;
        }
        out->members[kept++] = *m;
    }
    out->n = kept;
    if (out->n > 1)
        qsort(out->members, out->n, sizeof *out->members, by_status_then_id);
}

int fp_fleet_take_records(fp_fleet_t *out, const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != out->n)
        return -EPROTO;
    for (size_t i = 0; i < out->n; i++)
        take_record(&out->members[i], r->element[i], out->now_ms);
    fp_fleet_settle(out);
    return 0;
}

/* ---- the command line's blocking read -------------------------------------- */

static int command(fp_admin_t *a, int argc, const char **argv, redisReply **r, fp_err_t *err)
{
    size_t lens[8];
    for (int i = 0; i < argc && i < 8; i++)
        lens[i] = strlen(argv[i]);
    return fp_admin_commandv(a, argc, argv, lens, r, err);
}

static int unexpected(const char *what, int rc, fp_err_t *err)
{
    if (rc == -ENOMEM)
        return fp_err_set(err, -ENOMEM, "out of memory");
    return fp_err_set(err, FP_EREDIS, "unexpected reply to %s", what);
}

static int read_records(fp_admin_t *a, const char *prefix, fp_fleet_t *out, fp_err_t *err)
{
    char **argv = NULL;
    size_t *lens = NULL;
    redisReply *r = NULL;
    int rc = fp_fleet_mget(out, prefix, &argv, &lens);
    if (rc < 0)
        rc = fp_err_set(err, rc, "out of memory");
    else
        rc = fp_admin_commandv(a, (int)out->n + 1, (const char **)argv, lens, &r, err);
    if (rc == 0 && (rc = fp_fleet_take_records(out, r)) < 0)
        rc = unexpected("MGET", rc, err);
    if (r != NULL)
        freeReplyObject(r);
    fp_fleet_mget_free(out, argv, lens);
    return rc;
}

int fp_admin_fleet(fp_admin_t *a, const char *prefix, fp_fleet_t *out, fp_err_t *err)
{
    memset(out, 0, sizeof *out);
    char *set_key = fp_fleet_set_key(prefix);
    char stop[24];
    snprintf(stop, sizeof stop, "%d", FP_FLEET_READ_MAX - 1);
    const char *time_argv[] = {"TIME"};
    const char *range_argv[] = {"ZREVRANGE", set_key, "0", stop, "WITHSCORES"};
    redisReply *r = NULL;
    int rc = set_key != NULL ? command(a, 1, time_argv, &r, err)
                             : fp_err_set(err, -ENOMEM, "out of memory");
    if (rc == 0 && !fp_fleet_take_time(out, r))
        rc = unexpected("TIME", -EPROTO, err);
    if (r != NULL)
        freeReplyObject(r);
    r = NULL;
    if (rc == 0)
        rc = command(a, 5, range_argv, &r, err);
    if (rc == 0 && (rc = fp_fleet_take_members(out, r)) < 0)
        rc = unexpected("ZREVRANGE", rc, err);
    if (r != NULL)
        freeReplyObject(r);
    free(set_key);
    if (rc == 0 && out->n > 0)
        rc = read_records(a, prefix, out, err);
    return rc;
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
