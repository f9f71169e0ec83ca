/* test_sqlq_fleet.c: the fleet heartbeat in the queue file (lib/sqlq/fleet.h):
 * two daemons' beats read back as live records decoded as on Redis, a
 * record that expired shows its daemon as gone and one unseen for longer
 * than FP_FLEET_GONE_KEEP_MS is left out and pruned by the next beat, and a
 * clear deletes only a record carrying its own token. Times are the test's
 * own numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sqlq_fixture.h"
#include "sqlq/fleet.h"
#include "sqlq/kv.h"

typedef fp_sqlq_fx_t fixture_t;

#define T0 1700000000000LL

static char *record(const char *name, long long pid, const char *token, long long busy)
{
    fp_fleet_record_t *r = calloc(1, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->host, sizeof r->host, "h");
    snprintf(r->token, sizeof r->token, "%s", token);
    snprintf(r->state, sizeof r->state, "running");
    r->pid = pid;
    r->children_busy = busy;
    r->children_total = 4;
    r->njobs = 1;
    snprintf(r->jobs[0].queue, sizeof r->jobs[0].queue, "default");
    snprintf(r->jobs[0].entry_id, sizeof r->jobs[0].entry_id, "%lld-7", T0);
    char *text = fp_fleet_encode(r);
    free(r);
    return text;
}

static void beat(fixture_t *f, const char *id, const char *name, long long pid,
                 const char *token, int64_t ttl, int64_t now)
{
    fp_err_t err = {0};
    char *text = record(name, pid, token, pid % 5);
    int rc = fp_sqlq_fleet_beat(f->q, id, text, ttl, now, &err);
    if (rc != 0)
        fail_msg("beat: %s", err.msg);
    free(text);
}

static void read_at(fixture_t *f, int64_t now, fp_fleet_t *out)
{
    fp_err_t err = {0};
    if (fp_sqlq_fleet_read(f->q, now, out, &err) != 0)
        fail_msg("read: %s", err.msg);
}

static void test_two_daemons_read_back_live(void **state)
{
    fixture_t *f = *state;
    beat(f, "b@h:2", "b", 2, "tb", 3000, T0);
    beat(f, "a@h:1", "a", 1, "ta", 3000, T0 + 10);
    fp_fleet_t fl;
    read_at(f, T0 + 100, &fl);
    assert_int_equal(fl.n, 2);
    assert_int_equal(fl.now_ms, T0 + 100);
    assert_string_equal(fl.members[0].id, "a@h:1"); /* live ones by id */
    assert_string_equal(fl.members[1].id, "b@h:2");
    assert_int_equal(fl.members[0].status, FP_FLEET_LIVE);
    assert_int_equal(fl.members[0].last_seen_ms, T0 + 10);
    assert_non_null(fl.members[1].record);
    assert_string_equal(fl.members[1].record->name, "b");
    assert_int_equal(fl.members[1].record->pid, 2);
    assert_int_equal(fl.members[1].record->children_busy, 2);
    assert_int_equal(fl.members[1].record->njobs, 1);
    assert_string_equal(fl.members[1].record->jobs[0].queue, "default");
    fp_fleet_clear(&fl);
}

static void test_expired_record_is_gone_then_left_out(void **state)
{
    fixture_t *f = *state;
    beat(f, "dead@h:1", "dead", 1, "t1", 3000, T0);
    beat(f, "live@h:2", "live", 2, "t2", 3000, T0 + 2000);
    fp_fleet_t fl;
    read_at(f, T0 + 4000, &fl); /* dead's record expired at T0 + 3000 */
    assert_int_equal(fl.n, 2);
    assert_string_equal(fl.members[0].id, "live@h:2"); /* live first */
    assert_int_equal(fl.members[0].status, FP_FLEET_LIVE);
    assert_string_equal(fl.members[1].id, "dead@h:1");
    assert_int_equal(fl.members[1].status, FP_FLEET_GONE);
    assert_null(fl.members[1].record);
    assert_int_equal(fl.members[1].last_seen_ms, T0);
    fp_fleet_clear(&fl);

    int64_t later = T0 + FP_FLEET_GONE_KEEP_MS + 1;
    beat(f, "live@h:2", "live", 2, "t2", 3000, later); /* prunes dead's member */
    read_at(f, later, &fl);
    assert_int_equal(fl.n, 1);
    assert_string_equal(fl.members[0].id, "live@h:2");
    fp_fleet_clear(&fl);
    fp_err_t err = {0};
    int64_t n = -1;
    assert_int_equal(fp_sqlq_kv_count(f->q, FP_SQLQ_FLEET_SEEN, 0, &n, &err), 0);
    assert_int_equal(n, 1); /* deleted, not only hidden */
    assert_int_equal(fp_sqlq_kv_count(f->q, FP_SQLQ_FLEET_RECORDS, 0, &n, &err), 0);
    assert_int_equal(n, 1);
}

static void test_clear_deletes_only_its_own_record(void **state)
{
    fixture_t *f = *state;
    fp_err_t err = {0};
    bool cleared = true;
    beat(f, "a@h:1", "a", 1, "newrun", 3000, T0);
    assert_int_equal(fp_sqlq_fleet_clear(f->q, "a@h:1", "oldrun", T0, &cleared, &err), 0);
    assert_false(cleared);
    fp_fleet_t fl;
    read_at(f, T0, &fl);
    assert_int_equal(fl.n, 1);
    fp_fleet_clear(&fl);
    assert_int_equal(fp_sqlq_fleet_clear(f->q, "a@h:1", "newrun", T0, &cleared, &err), 0);
    assert_true(cleared);
    read_at(f, T0, &fl);
    assert_int_equal(fl.n, 0); /* not even gone: a clean stop */
    fp_fleet_clear(&fl);
    /* A record that expired already: its member still goes. */
    beat(f, "b@h:2", "b", 2, "tb", 10, T0);
    assert_int_equal(fp_sqlq_fleet_clear(f->q, "b@h:2", "tb", T0 + 20, &cleared, &err), 0);
    assert_true(cleared);
    read_at(f, T0 + 20, &fl);
    assert_int_equal(fl.n, 0);
    fp_fleet_clear(&fl);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fp_sqlq_fx_setup, fp_sqlq_fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_two_daemons_read_back_live),
        T(test_expired_record_is_gone_then_left_out),
        T(test_clear_deletes_only_its_own_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
