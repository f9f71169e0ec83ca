/* test_fleet_find.c: which daemon's heartbeat record says it runs one
 * pending entry (fp_fleet_find_job), on hand-built decoded fleets: the name
 * must be the entry's consumer and the record must list that entry id in
 * that queue (daemons may share a name across queues, and entry ids repeat
 * across queues); gone or undecodable members never match; not listed
 * (e.g. beyond the record's cap) is not found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "queue/heartbeat.h"

#define NMEMBERS 4

/* A fleet of n members, each live with a record named name[i] running one
 * job: queue[i], entry[i], child 10 + i. */
static fp_fleet_t *fleet_of(size_t n, const char *const *name, const char *const *queue,
                            const char *const *entry)
{
    fp_fleet_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->members = calloc(n, sizeof *f->members);
    assert_non_null(f->members);
    f->n = n;
    for (size_t i = 0; i < n; i++) {
        fp_fleet_member_t *m = &f->members[i];
        m->id = strdup(name[i]);
        m->status = FP_FLEET_LIVE;
        m->record = calloc(1, sizeof *m->record);
        assert_non_null(m->id);
        assert_non_null(m->record);
        snprintf(m->record->name, sizeof m->record->name, "%s", name[i]);
        m->record->pid = 100 + (long long)i;
        m->record->njobs = 1;
        snprintf(m->record->jobs[0].queue, sizeof m->record->jobs[0].queue, "%s", queue[i]);
        snprintf(m->record->jobs[0].entry_id, sizeof m->record->jobs[0].entry_id, "%s", entry[i]);
        m->record->jobs[0].child = 10 + (int)i;
        m->record->jobs[0].started_ms = 1000 + (int64_t)i;
    }
    return f;
}

/* One live daemon "web" running entry 5-0 of queue default (child 10). */
static fp_fleet_t *one_web(void)
{
    const char *names[1] = {"web"};
    const char *queues[1] = {"default"};
    const char *entries[1] = {"5-0"};
    return fleet_of(1, names, queues, entries);
}

static void fleet_free(fp_fleet_t *f)
{
    fp_fleet_clear(f);
    free(f);
}

static const fp_fleet_job_t *find(const fp_fleet_t *f, const char *consumer, const char *queue,
                                  const char *entry, const fp_fleet_member_t **m)
{
    return fp_fleet_find_job(f, consumer, strlen(consumer), queue, entry, m);
}

static void test_matches_name_queue_and_entry(void **state)
{
    (void)state;
    /* Same name on two queues, the same entry id in both: only the queue
     * tells them apart; another name with the same entry does not match. */
    const char *names[NMEMBERS] = {"web", "web", "other", "web"};
    const char *queues[NMEMBERS] = {"emails", "default", "default", "default"};
    const char *entries[NMEMBERS] = {"5-0", "5-0", "7-0", "9-0"};
    fp_fleet_t *f = fleet_of(NMEMBERS, names, queues, entries);
    const fp_fleet_member_t *m = NULL;
    const fp_fleet_job_t *j = find(f, "web", "default", "5-0", &m);
    assert_non_null(j);
    assert_ptr_equal(m, &f->members[1]);
    assert_int_equal(j->child, 11);
    j = find(f, "web", "emails", "5-0", &m);
    assert_non_null(j);
    assert_ptr_equal(m, &f->members[0]);
    assert_int_equal(j->child, 10);
    j = find(f, "web", "default", "9-0", &m);
    assert_non_null(j);
    assert_int_equal(j->child, 13);
    /* The entry is other's, not web's: the consumer decides. */
    assert_null(find(f, "web", "default", "7-0", &m));
    assert_null(m);
    assert_null(find(f, "other", "default", "5-0", &m));
    assert_null(find(f, "web", "nowhere", "5-0", &m));
    fleet_free(f);
}

static void test_gone_or_undecoded_never_match(void **state)
{
    (void)state;
    const char *names[2] = {"web", "web"};
    const char *queues[2] = {"default", "default"};
    const char *entries[2] = {"5-0", "6-0"};
    fp_fleet_t *f = fleet_of(2, names, queues, entries);
    const fp_fleet_member_t *m = NULL;
    f->members[0].status = FP_FLEET_GONE; /* a record kept for a gone one is not trusted */
    assert_null(find(f, "web", "default", "5-0", &m));
    free(f->members[1].record);
    f->members[1].record = NULL; /* listed, its record did not decode */
    assert_null(find(f, "web", "default", "6-0", &m));
    fleet_free(f);
}

static void test_name_compared_whole(void **state)
{
    (void)state;
    fp_fleet_t *f = one_web();
    const fp_fleet_member_t *m = NULL;
    assert_null(find(f, "we", "default", "5-0", &m));
    assert_null(find(f, "web1", "default", "5-0", &m));
    /* A consumer name with a NUL inside is not "web". */
    assert_null(fp_fleet_find_job(f, "web\0x", 5, "default", "5-0", &m));
    assert_non_null(fp_fleet_find_job(f, "web", 3, "default", "5-0", &m));
    /* An empty fleet, or no entry id, finds nothing. */
    assert_null(find(f, "web", "default", "", &m));
    fp_fleet_t empty = {0};
    assert_null(find(&empty, "web", "default", "5-0", &m));
    fleet_free(f);
}

static void test_beyond_listed_jobs_not_found(void **state)
{
    (void)state;
    fp_fleet_t *f = one_web();
    fp_fleet_record_t *r = f->members[0].record;
    r->njobs = FP_FLEET_JOBS_MAX;
    for (size_t i = 1; i < FP_FLEET_JOBS_MAX; i++) {
        snprintf(r->jobs[i].queue, sizeof r->jobs[i].queue, "default");
        snprintf(r->jobs[i].entry_id, sizeof r->jobs[i].entry_id, "%zu-1", i);
        r->jobs[i].child = (int)i;
    }
    r->jobs_more = 5;
    const fp_fleet_member_t *m = NULL;
    const fp_fleet_job_t *j = find(f, "web", "default", "99-1", &m);
    assert_non_null(j);
    assert_int_equal(j->child, 99);
    assert_null(find(f, "web", "default", "100-1", &m)); /* one of the 5 not listed */
    fleet_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_name_queue_and_entry),
        cmocka_unit_test(test_gone_or_undecoded_never_match),
        cmocka_unit_test(test_name_compared_whole),
        cmocka_unit_test(test_beyond_listed_jobs_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
