/* test_top.c: the deciding parts of `forkpool top` without Redis or a
 * terminal: rates from two samples (unknown, counter reset, no time), the
 * queue sort orders and the running jobs' order,
 * a dead entry as the view shows it, and the layout for a given width and
 * height: tables, a cut table's "... N more", the help box, the dead
 * letters, Redis unreachable, a screen too small, and that nothing from
 * Redis can put a control byte on the terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "top/top.h"

/* ---- rates ------------------------------------------------------------------ */

static void test_rate(void **state)
{
    (void)state;
    double r = -1;
    assert_true(fp_top_rate(100, 1000, 150, 3000, &r));
    assert_true(r > 24.999 && r < 25.001);
    assert_true(fp_top_rate(7, 0, 7, 500, &r));
    assert_true(r == 0.0);
    assert_false(fp_top_rate(-1, 0, 5, 1000, &r));  /* unknown before */
    assert_false(fp_top_rate(5, 0, -1, 1000, &r));  /* unknown after */
    assert_false(fp_top_rate(50, 0, 10, 1000, &r)); /* the stream was made again */
    assert_false(fp_top_rate(1, 1000, 2, 1000, &r)); /* no time passed */
}

static fp_top_queue_t queue(const char *name, long long ready, long long added, long long taken)
{
    fp_top_queue_t q = {.ready = ready, .added = added, .taken = taken, .oldest_age_ms = -1,
                        .ready_exact = true, .in_rate = -1, .out_rate = -1};
    snprintf(q.name, sizeof q.name, "%s", name);
    return q;
}

static void test_apply_rates_matches_queues_by_name(void **state)
{
    (void)state;
    fp_top_queue_t before[] = {queue("a", 0, 10, 4), queue("b", 0, 100, 100)};
    fp_top_queue_t after[] = {queue("b", 0, 130, 110), queue("a", 0, 12, -1), queue("c", 0, 5, 5)};
    fp_top_sample_t prev = {.taken_ms = 10000, .queues = before, .nqueues = 2};
    fp_top_sample_t cur = {.taken_ms = 12000, .queues = after, .nqueues = 3};
    fp_top_apply_rates(&prev, &cur);
    assert_true(after[0].in_rate > 14.999 && after[0].in_rate < 15.001);
    assert_true(after[0].out_rate > 4.999 && after[0].out_rate < 5.001);
    assert_true(after[1].in_rate > 0.999 && after[1].in_rate < 1.001);
    assert_true(after[1].out_rate < 0); /* unknown now */
    assert_true(after[2].in_rate < 0 && after[2].out_rate < 0); /* new queue */
    fp_top_apply_rates(NULL, &cur);
    assert_true(after[0].in_rate < 0);
}

/* ---- sorting ------------------------------------------------------------------ */

static void test_sort_queues(void **state)
{
    (void)state;
    fp_top_queue_t q[] = {queue("mail", 5, 0, 0), queue("default", 9, 0, 0),
                          queue("zeta", 5, 0, 0), queue("alpha", 0, 0, 0)};
    q[0].in_rate = 2.5;
    q[2].in_rate = 7;
    q[3].oldest_age_ms = 100;
    fp_top_sort_queues(q, 4, FP_TOP_SORT_NAME);
    assert_string_equal(q[0].name, "alpha");
    assert_string_equal(q[3].name, "zeta");
    fp_top_sort_queues(q, 4, FP_TOP_SORT_READY); /* largest first, ties by name */
    assert_string_equal(q[0].name, "default");
    assert_string_equal(q[1].name, "mail");
    assert_string_equal(q[2].name, "zeta");
    assert_string_equal(q[3].name, "alpha");
    fp_top_sort_queues(q, 4, FP_TOP_SORT_IN); /* unknown rates last */
    assert_string_equal(q[0].name, "zeta");
    assert_string_equal(q[1].name, "mail");
    assert_string_equal(q[2].name, "alpha");
    fp_top_sort_queues(q, 4, FP_TOP_SORT_OLDEST);
    assert_string_equal(q[0].name, "alpha");
}

static void test_sort_cycle(void **state)
{
    (void)state;
    fp_top_sort_t s = FP_TOP_SORT_NAME;
    assert_string_equal(fp_top_sort_name(s), "QUEUE");
    for (int i = 0; i < FP_TOP_SORT_COUNT - 1; i++)
        s = fp_top_sort_next(s);
    assert_string_equal(fp_top_sort_name(s), "OUT/s");
    assert_int_equal(fp_top_sort_next(s), FP_TOP_SORT_NAME);
}

/* A fleet of live members (records owned by the test's statics). */
static fp_fleet_record_t records[3];
static fp_fleet_member_t members[4];
static char ids[4][64];

static void fleet_of(fp_fleet_t *f, size_t live, bool with_gone)
{
    memset(records, 0, sizeof records);
    memset(members, 0, sizeof members);
    for (size_t i = 0; i < live; i++) {
        fp_fleet_record_t *r = &records[i];
        snprintf(r->name, sizeof r->name, "d%zu", i);
        snprintf(r->host, sizeof r->host, "host%zu", i);
        snprintf(r->state, sizeof r->state, "running");
        r->pid = 100 + (long long)i;
        r->started_ms = 1000;
        r->children_busy = 1;
        r->children_total = 4;
        r->jobs_done = 10 * (long long)(i + 1);
        r->jobs_failed = (long long)i;
        snprintf(ids[i], sizeof ids[i], "d%zu@host%zu:%lld", i, i, r->pid);
        members[i] = (fp_fleet_member_t){ids[i], 60000, FP_FLEET_LIVE, r};
    }
    size_t n = live;
    if (with_gone) {
        snprintf(ids[n], sizeof ids[n], "old@box:77");
        members[n++] = (fp_fleet_member_t){ids[n - 1], 30000, FP_FLEET_GONE, NULL};
    }
    *f = (fp_fleet_t){.now_ms = 61000, .members = members, .n = n};
}

static void add_job(fp_fleet_record_t *r, const char *type, int child, int64_t started)
{
    fp_fleet_job_t *j = &r->jobs[r->njobs++];
    snprintf(j->type, sizeof j->type, "%s", type);
    snprintf(j->queue, sizeof j->queue, "default");
    snprintf(j->entry_id, sizeof j->entry_id, "%lld-0", (long long)started);
    j->child = child;
    j->started_ms = started;
}

static void test_running_longest_first(void **state)
{
    (void)state;
    fp_fleet_t f;
    fleet_of(&f, 2, true);
    add_job(&records[0], "short", 0, 50000);
    add_job(&records[1], "long", 1, 20000);
    add_job(&records[1], "tie-b", 2, 40000);
    add_job(&records[0], "tie-a", 3, 40000);
    fp_top_running_t *run = NULL;
    size_t n = 0;
    assert_int_equal(fp_top_running(&f, &run, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(run[0].job->type, "long");
    assert_string_equal(run[1].job->type, "tie-a"); /* d0 before d1 */
    assert_string_equal(run[2].job->type, "tie-b");
    assert_string_equal(run[3].job->type, "short");
    assert_ptr_equal(run[0].member, &members[1]);
    free(run);
}

/* ---- dead entries ----------------------------------------------------------------- */

static fp_admin_field_t field(const char *s)
{
    return (fp_admin_field_t){(char *)s, s != NULL ? strlen(s) : 0};
}

static void test_dead_from_entry(void **state)
{
    (void)state;
    fp_dead_entry_t e = {.id = "5-1",
                         .job = field("{\"type\":\"mail\",\"args\":{}}"),
                         .error = field("boom\nsecond line"),
                         .attempts = field("3"),
                         .failed_at = field("1796619733798")};
    fp_top_dead_t d;
    fp_top_dead_from_entry("default", &e, &d);
    assert_string_equal(d.queue, "default");
    assert_string_equal(d.id, "5-1");
    assert_string_equal(d.type, "mail");
    assert_int_equal(d.attempts, 3);
    assert_int_equal(d.failed_ms, 1796619733798LL);
    assert_string_equal(d.error, "boom\nsecond line"); /* the layout makes it safe */
    e.job = field("not json");
    e.attempts = field("x");
    e.failed_at = field(NULL);
    fp_top_dead_from_entry("default", &e, &d);
    assert_string_equal(d.type, "?");
    assert_int_equal(d.attempts, -1);
    assert_int_equal(d.failed_ms, -1);
}

/* ---- layout ------------------------------------------------------------------------ */

static fp_top_queue_t view_queues[2];

/* A sample with two daemons (one gone), two queues and one running job. */
static fp_top_sample_t sample_of(void)
{
    fp_top_sample_t s = {.now_ms = 61000};
    fleet_of(&s.fleet, 1, true);
    add_job(&records[0], "resize", 2, 59000);
    view_queues[0] = queue("default", 12, 0, 0);
    view_queues[0].pending = 3;
    view_queues[0].dead = 4;
    view_queues[0].oldest_age_ms = 65000;
    view_queues[0].in_rate = 2.5;
    view_queues[0].out_rate = 1.25;
    view_queues[1] = queue("mail", 30, 0, 0);
    view_queues[1].ready_exact = false;
    s.queues = view_queues;
    s.nqueues = 2;
    s.dead_total = 4;
    return s;
}

static fp_top_view_t view_of(const fp_top_sample_t *s)
{
    return (fp_top_view_t){.sample = s, .where = "prefix fp, group forkpool", .interval_ms = 1000};
}

/* The screen's line that contains needle, or NULL. */
static const char *line_with(const fp_top_screen_t *scr, const char *needle, size_t *at)
{
    for (size_t i = 0; i < scr->n; i++) {
        if (strstr(scr->lines[i], needle) != NULL) {
            if (at != NULL)
                *at = i;
            return scr->lines[i];
        }
    }
    return NULL;
}

/* Every line fits width columns and carries no control byte. */
static void assert_fits(const fp_top_screen_t *scr)
{
    assert_true(scr->n <= scr->height);
    for (size_t i = 0; i < scr->n; i++) {
        size_t cols = 0;
        for (const unsigned char *p = (const unsigned char *)scr->lines[i]; *p != '\0'; p++) {
            assert_true(*p >= 0x20 && *p != 0x7f);
            cols += (*p & 0xc0) != 0x80;
        }
        if (cols > scr->width)
            fail_msg("line %zu has %zu columns, more than %zu: %s", i, cols, scr->width,
                     scr->lines[i]);
    }
}

static void test_layout_main_view(void **state)
{
    (void)state;
    fp_top_sample_t s = sample_of();
    fp_top_view_t v = view_of(&s);
    fp_top_screen_t scr;
    assert_int_equal(fp_top_layout(&v, 100, 30, &scr), 0);
    assert_fits(&scr);
    assert_int_equal(scr.attrs[0], FP_TOP_TITLE);
    assert_non_null(strstr(scr.lines[0], "forkpool top - prefix fp, group forkpool - 00:01:01 UTC"));
    assert_non_null(strstr(scr.lines[0], "sort QUEUE"));
    assert_non_null(strstr(scr.lines[1], "daemons 1 live, 1 gone - children 1/4 busy - jobs 10 done, 0 failed - 4 dead letters"));
    size_t at = 0;
    const char *d = line_with(&scr, "DAEMON  HOST", &at);
    assert_non_null(d);
    assert_int_equal(scr.attrs[at], FP_TOP_HEADING);
    assert_string_equal(scr.lines[at + 1], "d0      host0  100  running   1/4    10       0  1m00s");
    assert_string_equal(scr.lines[at + 2], "old     box     77  gone        -     -       -  seen 31.0s ago");
    assert_non_null(line_with(&scr, "QUEUE*   READY  PENDING  DELAYED  DEAD  OLDEST  IN/s  OUT/s", NULL));
    assert_non_null(line_with(&scr, "default     12        3        0     4   1m05s   2.5  1.2", NULL));
    assert_non_null(line_with(&scr, "mail       ~30        0        0     0       -     -  -", NULL));
    assert_non_null(line_with(&scr, "resize    -   default  59000-0  d0          2  2.0s", NULL));
    /* Sorted by READY: mail first, the heading marked. */
    v.sort = FP_TOP_SORT_READY;
    fp_top_screen_t sorted;
    assert_int_equal(fp_top_layout(&v, 100, 30, &sorted), 0);
    size_t mail = 0, def = 0;
    assert_non_null(line_with(&sorted, "READY*", NULL));
    assert_non_null(line_with(&sorted, "mail  ", &mail));
    assert_non_null(line_with(&sorted, "default  ", &def));
    assert_true(mail < def);
    assert_non_null(strstr(sorted.lines[0], "sort READY"));
    fp_top_screen_clear(&sorted);
    fp_top_screen_clear(&scr);
}

static void test_layout_cuts_long_tables(void **state)
{
    (void)state;
    fp_top_sample_t s = sample_of();
    for (int i = 0; i < 40; i++) /* 41 running jobs, plus 7 the record does not list */
        add_job(&records[0], "bulk", i, 60000);
    records[0].jobs_more = 7;
    fp_top_view_t v = view_of(&s);
    fp_top_screen_t scr;
    assert_int_equal(fp_top_layout(&v, 80, 14, &scr), 0);
    assert_fits(&scr);
    assert_int_equal(scr.n, 14);
    /* The daemons and queues still show whole; the jobs say what is left out. */
    assert_non_null(line_with(&scr, "old ", NULL));
    assert_non_null(line_with(&scr, "mail ", NULL));
    size_t at = 0;
    assert_non_null(line_with(&scr, "JOB TYPE", &at));
    size_t shown = scr.n - at - 2; /* rows between the heading and "... N more" */
    char more[32];
    snprintf(more, sizeof more, "... %zu more", 41 + 7 - shown);
    assert_string_equal(scr.lines[scr.n - 1], more);
    fp_top_screen_clear(&scr);
    /* Unbounded (the text mode): every row, and only the unlisted 7 as more. */
    assert_int_equal(fp_top_layout(&v, 80, SIZE_MAX, &scr), 0);
    assert_string_equal(scr.lines[scr.n - 1], "... 7 more");
    assert_non_null(line_with(&scr, "resize", NULL));
    fp_top_screen_clear(&scr);
}

static void test_layout_too_small(void **state)
{
    (void)state;
    fp_top_sample_t s = sample_of();
    fp_top_view_t v = view_of(&s);
    fp_top_screen_t scr;
    assert_int_equal(fp_top_layout(&v, 59, 30, &scr), 0);
    assert_int_equal(scr.n, 1);
    assert_int_equal(scr.attrs[0], FP_TOP_WARN);
    assert_string_equal(scr.lines[0], "terminal too small: 59x30, top needs at least 60x10");
    fp_top_screen_clear(&scr);
    assert_int_equal(fp_top_layout(&v, 200, 9, &scr), 0);
    assert_int_equal(scr.n, 1);
    assert_non_null(strstr(scr.lines[0], "too small: 200x9"));
    fp_top_screen_clear(&scr);
    assert_int_equal(fp_top_layout(&v, 20, 3, &scr), 0); /* the message itself is cut */
    assert_fits(&scr);
    fp_top_screen_clear(&scr);
    assert_int_equal(fp_top_layout(&v, 60, 10, &scr), 0); /* the smallest: everything there */
    assert_fits(&scr);
    assert_non_null(line_with(&scr, "DAEMON", NULL));
    assert_non_null(line_with(&scr, "QUEUE", NULL));
    assert_non_null(line_with(&scr, "JOB TYPE", NULL));
    fp_top_screen_clear(&scr);
}

static void test_layout_redis_unreachable(void **state)
{
    (void)state;
    fp_top_view_t v = view_of(NULL);
    v.error = "cannot connect to Redis at 127.0.0.1:1: Connection refused";
    fp_top_screen_t scr;
    assert_int_equal(fp_top_layout(&v, 100, 20, &scr), 0);
    assert_int_equal(scr.n, 2);
    assert_int_equal(scr.attrs[1], FP_TOP_WARN);
    assert_string_equal(scr.lines[1], "Redis unreachable: cannot connect to Redis at 127.0.0.1:1: "
                                      "Connection refused; retrying");
    fp_top_screen_clear(&scr);
    /* With figures from before: they stay, dated. */
    fp_top_sample_t s = sample_of();
    v.sample = &s;
    assert_int_equal(fp_top_layout(&v, 140, 20, &scr), 0);
    assert_non_null(strstr(scr.lines[1], "; retrying (figures below from 00:01:01 UTC)"));
    assert_non_null(line_with(&scr, "default ", NULL));
    fp_top_screen_clear(&scr);
    /* The embedded queue's view names the file, not Redis. */
    v.sample = NULL;
    v.source = "the queue file";
    v.error = "no embedded queue at /x/q.db";
    assert_int_equal(fp_top_layout(&v, 100, 20, &scr), 0);
    assert_string_equal(scr.lines[1], "the queue file unreadable: no embedded queue at /x/q.db; "
                                      "retrying");
    fp_top_screen_clear(&scr);
    v.error = NULL;
    assert_int_equal(fp_top_layout(&v, 100, 20, &scr), 0);
    assert_string_equal(scr.lines[1], "reading the queue file...");
    fp_top_screen_clear(&scr);
}

static void test_layout_help_box(void **state)
{
    (void)state;
    fp_top_sample_t s = sample_of();
    fp_top_view_t v = view_of(&s);
    v.help = true;
    fp_top_screen_t scr;
    assert_int_equal(fp_top_layout(&v, 80, 24, &scr), 0);
    assert_fits(&scr);
    size_t top = 0;
    const char *l = line_with(&scr, "+- forkpool top: keys ", &top);
    assert_non_null(l);
    size_t x = (size_t)(strstr(l, "+-") - l);
    assert_int_equal(x, (80 - 46) / 2);
    assert_non_null(strstr(scr.lines[top + 1], "| q  quit "));
    assert_non_null(strstr(scr.lines[top + 2], "sort queues by the next column (READY)"));
    assert_int_equal(strstr(scr.lines[top + 8], "+----") - scr.lines[top + 8], (long)x);
    /* The view shows around the box. */
    assert_non_null(strstr(scr.lines[0], "forkpool top"));
    fp_top_screen_clear(&scr);
}

static void test_layout_dead_view(void **state)
{
    (void)state;
    fp_top_sample_t s = sample_of();
    fp_top_dead_t dead[2] = {
        {.queue = "default", .id = "1-0", .type = "mail", .error = "smtp: \x1b[31mrefused\r",
         .attempts = 5, .failed_ms = 1796619733798LL},
        {.queue = "default", .id = "2-0", .type = "?", .error = "", .attempts = -1,
         .failed_ms = -1},
    };
    s.dead = dead;
    s.ndead = 2;
    s.dead_total = 9;
    fp_top_view_t v = view_of(&s);
    v.dead_view = true;
    fp_top_screen_t scr;
    assert_int_equal(fp_top_layout(&v, 120, 20, &scr), 0);
    assert_fits(&scr); /* the escape byte became a space */
    assert_non_null(line_with(&scr, "DEAD LETTERS - 9 in all, the oldest 2 shown - d: back", NULL));
    assert_non_null(line_with(&scr, "QUEUE    ENTRY ID  FAILED AT (UTC)      ATTEMPTS  JOB TYPE  ERROR", NULL));
    assert_non_null(line_with(&scr, "default  1-0       2026-12-07 05:02:13         5  mail      smtp:  [31mrefused", NULL));
    assert_non_null(line_with(&scr, "default  2-0       -                           -  ?", NULL));
    assert_string_equal(scr.lines[scr.n - 1], "... 7 more");
    assert_null(line_with(&scr, "JOB TYPE  ID", NULL)); /* not the main view */
    fp_top_screen_clear(&scr);
    s.ndead = 0;
    s.dead_total = 0;
    assert_int_equal(fp_top_layout(&v, 120, 20, &scr), 0);
    assert_string_equal(scr.lines[scr.n - 1], "  no dead letters");
    fp_top_screen_clear(&scr);
}

static void test_layout_empty_and_hostile_names(void **state)
{
    (void)state;
    fp_top_sample_t s = {.now_ms = 1000};
    fp_top_view_t v = view_of(&s);
    fp_top_screen_t scr;
    assert_int_equal(fp_top_layout(&v, 80, 24, &scr), 0);
    assert_non_null(line_with(&scr, "  no daemon keeps a heartbeat on this Redis", NULL));
    assert_non_null(line_with(&scr, "  no queues configured", NULL));
    assert_non_null(line_with(&scr, "  no job running", NULL));
    fp_top_screen_clear(&scr);
    /* A daemon whose name holds escapes and invalid UTF-8, and a long host. */
    s = sample_of();
    snprintf(records[0].name, sizeof records[0].name, "ev\x1b]0;pwned\x07il\xff");
    memset(records[0].host, 'h', 200);
    records[0].host[200] = '\0';
    assert_int_equal(fp_top_layout(&v, 70, 24, &scr), 0);
    assert_fits(&scr);
    assert_non_null(line_with(&scr, "ev ]0;pwned il?", NULL));
    assert_non_null(line_with(&scr, "hhhhhhhhhhhhhhhhh...", NULL)); /* 20 columns at most */
    fp_top_screen_clear(&scr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_apply_rates_matches_queues_by_name),
        cmocka_unit_test(test_sort_queues),
        cmocka_unit_test(test_sort_cycle),
        cmocka_unit_test(test_running_longest_first),
        cmocka_unit_test(test_dead_from_entry),
        cmocka_unit_test(test_layout_main_view),
        cmocka_unit_test(test_layout_cuts_long_tables),
        cmocka_unit_test(test_layout_too_small),
        cmocka_unit_test(test_layout_redis_unreachable),
        cmocka_unit_test(test_layout_help_box),
        cmocka_unit_test(test_layout_dead_view),
        cmocka_unit_test(test_layout_empty_and_hostile_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
