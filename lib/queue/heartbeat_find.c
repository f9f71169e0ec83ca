/* heartbeat_find.c: which daemon runs a pending entry, from the fleet's
 * records (heartbeat.h), for `forkpool job`. Redis' pending entry names
 * only the consumer, and one name may serve different queues from several
 * daemons (and entry ids repeat across queues), so a record matches only
 * when its name is the consumer AND it lists that entry id in that queue.
 * Only live records count: a gone daemon's last jobs are no evidence. */
#include "queue/heartbeat.h"

#include <string.h>

static bool name_is(const fp_fleet_record_t *r, const char *consumer, size_t len)
{
    /* The consumer is binary-safe; a record's name never holds a NUL. */
    return strlen(r->name) == len && memcmp(r->name, consumer, len) == 0;
}

static const fp_fleet_job_t *listed(const fp_fleet_record_t *r, const char *queue,
                                    const char *entry_id)
{
    for (size_t k = 0; k < r->njobs && k < FP_FLEET_JOBS_MAX; k++)
        if (strcmp(r->jobs[k].entry_id, entry_id) == 0 && strcmp(r->jobs[k].queue, queue) == 0)
            return &r->jobs[k];
    return NULL;
}

const fp_fleet_job_t *fp_fleet_find_job(const fp_fleet_t *f, const char *consumer,
                                        size_t consumer_len, const char *queue,
                                        const char *entry_id, const fp_fleet_member_t **member)
{
    *member = NULL;
    if (consumer == NULL || queue == NULL || entry_id == NULL || entry_id[0] == '\0')
        return NULL;
    for (size_t i = 0; i < f->n; i++) {
        const fp_fleet_member_t *m = &f->members[i];
        if (m->status != FP_FLEET_LIVE || m->record == NULL ||
            !name_is(m->record, consumer, consumer_len))
            continue;
        const fp_fleet_job_t *j = listed(m->record, queue, entry_id);
        if (j != NULL) {
            *member = m;
            return j;
        }
    }
    return NULL;
}
