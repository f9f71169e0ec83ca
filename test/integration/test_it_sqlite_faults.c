/* test_it_sqlite_faults.c: the fault suite (test_it_faults.c) on the
 * embedded queue (issue 19, item 6): the real binary, no redis-server, jobs
 * with unique ids added to the queue file as a producer on the host would,
 * whose handler records the id (record_event, object_id = id). Children
 * SIGKILLed repeatedly; jobs that crash their child every time and
 * malformed payloads (not JSON, no type, too big) go dead with the reason,
 * the daemon never crashes; the daemon SIGKILLed then restarted under its
 * name; a write that fails for want of room (RLIMIT_FSIZE lowered on the
 * running daemon: write() fails with EFBIG, as on a full disk) makes it not
 * ready with the reason, and it carries on once the room is back; the long
 * run (`test_chaos*`, ctest's integration.test_it_sqlite_faults.chaos) does
 * all of it at once with two daemons on one file. Every run ends with each
 * id recorded (0 lost) and duplicates bounded by the jobs in flight at the
 * faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "daemon_sqlite.h"

#define FAST_RETRY "[retry]\nbackoff_base = \"10ms\"\nbackoff_max = \"50ms\"\nmax_attempts = 25\n"
#define EVENT_JOB                                                                          \
    "{\"type\":\"record_event\",\"args\":{\"action\":\"fault\",\"object_id\":\"id-%d\","   \
    "\"user_id\":\"u%d\"}}"
/* Crashes its child (signal 11) on every attempt. */
#define POISON_JOB "{\"type\":\"crash\",\"max_attempts\":3,\"id\":\"poison-%d-%d\"}"
/* A payload over limits.max_job_bytes (2KB here) is refused before it runs. */
#define SMALL_JOBS "[limits]\nmax_job_bytes = \"2KB\"\n"

static long long distinct_ids(const fp_td_t *td)
{
    return fp_td_sql(td, "SELECT count(DISTINCT object_id) FROM events");
}

static long long rows(const fp_td_t *td)
{
    return fp_td_sql(td, "SELECT count(*) FROM events");
}

typedef struct want_s {
    long long ids;
    long long dead;
} want_t;

/* Every id recorded, no row left in the queue, exactly w->dead dead rows. */
static bool all_done(fp_td_t *td, void *arg)
{
    want_t *w = arg;
    return fp_td_qsql(td, "SELECT count(*) FROM jobs") == 0 && distinct_ids(td) == w->ids &&
           fp_td_qsql(td, "SELECT count(*) FROM dead") == w->dead;
}

static void wait_all_done(fp_td_t *td, long long ids, long long dead, int timeout_ms,
                          const char *what)
{
    want_t want = {ids, dead};
    fp_td_wait_until(td, all_done, &want, timeout_ms, what);
}

static void stop_term(fp_td_t *td)
{
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 60000), 0);
}

static int kill_children(fp_td_t *td, int rounds, int pause_ms)
{
    int kills = 0;
    for (int round = 0; round < rounds; round++) {
        if (fp_td_kill_random_child(td))
            kills++;
        fp_td_let_time_pass(pause_ms);
    }
    return kills;
}

/* Rows leased to consumer name: right after its daemon died, the jobs it
 * held or had finished without the outcome committed, the only ones that
 * may run twice. */
static long long held_by(const fp_td_t *td, const char *name)
{
    return fp_td_qsql(td, "SELECT count(*) FROM jobs WHERE owner = '%s'", name);
}

static void config(fp_td_t *td, const char *extra)
{
    fp_td_config_sqlite(td, NULL, extra);
}

/* SIGKILL a random child every 50 ms for 2 s: each killed job is a failed
 * attempt, retried; every job ends done; duplicates at most one per kill. */
static void test_sigkill_random_children_repeatedly(void **state)
{
    fp_td_t *td = *state;
    const long long total = 2000;
    long long started = 50;
    config(td, "[pool]\nchildren = 4\n" FAST_RETRY);
    fp_td_sqlite_enqueue(td, "default", (int)total, EVENT_JOB, 0);
    fp_td_start_ready(td, false);
    fp_td_wait_until(td, fp_td_events_at_least, &started, 60000, "the first jobs");
    srand(42);
    int kills = kill_children(td, 40, 50);
    assert_true(kills > 10);
    wait_all_done(td, total, 0, 180000, "every id");
    stop_term(td);
    if (rows(td) - total > kills)
        fail_msg("%lld duplicates for %d kills", rows(td) - total, kills);
}

/* A job that crashes its child on every attempt, and payloads that are not
 * JSON, have no type or are too big, mixed into good jobs: each bad one
 * goes dead with its reason, the good ones all run, the daemon stays up. */
static void test_poison_and_malformed_end_dead(void **state)
{
    fp_td_t *td = *state;
    config(td, "[pool]\nchildren = 2\n" FAST_RETRY SMALL_JOBS);
    char big[3000];
    int n = snprintf(big, sizeof big, "{\"type\":\"noop\",\"args\":{\"pad\":\"");
    memset(big + n, 'x', 2500);
    snprintf(big + n + 2500, sizeof big - (size_t)n - 2500, "\",\"n\":\"%%d%%d\"}}");
    fp_td_sqlite_enqueue(td, "default", 250, EVENT_JOB, 0);
    fp_td_sqlite_enqueue(td, "default", 1, POISON_JOB, 0);
    fp_td_sqlite_enqueue(td, "default", 5, "not json %d %d", 0);
    fp_td_sqlite_enqueue(td, "default", 5, "{\"no_type\":%d%d}", 0);
    fp_td_sqlite_enqueue(td, "default", 5, big, 0);
    fp_td_sqlite_enqueue(td, "default", 250,
                         "{\"type\":\"record_event\",\"args\":{\"object_id\":\"late-%d\","
                         "\"user_id\":\"u%d\"}}",
                         0);
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 120000), 0);
    assert_int_equal(distinct_ids(td), 500);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM jobs"), 0);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead"), 16);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead WHERE payload LIKE '%%poison-0-0%%'"
                                    " AND attempts = 3 AND error LIKE '%%child crashed: killed by"
                                    " signal 11%%'"),
                     1);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead WHERE error LIKE '%%not JSON%%'"), 5);
    assert_int_equal(
        fp_td_qsql(td, "SELECT count(*) FROM dead WHERE error LIKE '%%no \"type\"%%'"), 5);
    assert_int_equal(
        fp_td_qsql(td, "SELECT count(*) FROM dead WHERE error LIKE '%%limits.max_job_bytes%%'"), 5);
}

/* SIGKILL the supervisor mid-run (its children follow it): a restart under
 * the same daemon.name is let in at once (the name's lock died with the
 * process) and takes back its own rows first; only those may run twice. */
static void test_sigkill_daemon_then_restart(void **state)
{
    fp_td_t *td = *state;
    const long long total = 2000;
    long long started = 500;
    config(td, "[pool]\nchildren = 4\nprefetch = 4\n" FAST_RETRY);
    fp_td_sqlite_enqueue(td, "default", (int)total, EVENT_JOB, 0);
    fp_td_start_ready(td, false);
    fp_td_wait_until(td, fp_td_events_at_least, &started, 60000, "500 jobs");
    assert_int_equal(kill(td->pid, SIGKILL), 0);
    assert_int_equal(fp_td_wait(td, 30000), 128 + SIGKILL);
    long long orphaned = held_by(td, "test-consumer");
    if (orphaned > 16)
        fail_msg("%lld rows leased after the kill (children + prefetch = 8)", orphaned);
    fp_td_start(td, true);
    assert_int_equal(fp_td_wait(td, 120000), 0);
    want_t want = {total, 0};
    assert_true(all_done(td, &want));
    if (rows(td) - total > orphaned)
        fail_msg("%lld duplicates, %lld rows were in flight", rows(td) - total, orphaned);
}

/* ---- a full disk --------------------------------------------------------- */

/* The daemon's RLIMIT_FSIZE (prlimit on a process of the same user): a
 * write past it fails with EFBIG, as one on a full disk fails with ENOSPC. */
/* The back-off between two tries is at most 5 s (lib/sqlq/aq_plan.h); the
 * vacuum, every 30 s, was the only write made without room, and the
 * supervisor gives none while the queue is not ready: this deadline sits
 * between the two, so a daemon that waits for the vacuum to find the file
 * writable again fails. */
#define READY_AGAIN_MS 20000

static void set_file_limit(const fp_td_t *td, rlim_t bytes)
{
    struct rlimit rl;
    assert_int_equal(prlimit(td->pid, RLIMIT_FSIZE, NULL, &rl), 0);
    rl.rlim_cur = bytes == RLIM_INFINITY || bytes > rl.rlim_max ? rl.rlim_max : bytes;
    assert_int_equal(prlimit(td->pid, RLIMIT_FSIZE, &rl, NULL), 0);
}

static long long file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

#define PADDED_JOB                                                                         \
    "{\"type\":\"record_event\",\"args\":{\"action\":\"fault\",\"object_id\":\"big-%d\","  \
    "\"user_id\":\"u%d\",\"pad\":\"" PAD100 PAD100 PAD100 "\"}}"
#define PAD100                                                                             \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
    "xxxxxxxxxxxxxxxx"

/* The queue file cannot grow while jobs wait in it: the daemon's writes
 * (its pulls, then its outcomes and renewals) fail. It must stay up, say
 * why (/readyz 503 with the store's error, the log), lose nothing, and carry
 * on once writes work again. The limit sits above what the log and the
 * events database need and below where the daemon's next write to the
 * queue file's -wal lands (after the frames of the test's batch). Before
 * the daemon ignored SIGXFSZ, the first such write killed it. */
static void test_full_disk_then_room_again(void **state)
{
    fp_td_t *td = *state;
    config(td, "[pool]\nchildren = 2\n" FAST_RETRY);
    fp_td_start_ready(td, true);
    fp_td_sqlite_enqueue(td, "default", 100, EVENT_JOB, 0);
    wait_all_done(td, 100, 0, 60000, "the first jobs");

    char db[4200], wal[4300];
    fp_td_queue_path(td, db, sizeof db);
    snprintf(wal, sizeof wal, "%s-wal", db);
    long long limit = 256 * 1024;
    long long others[] = {file_bytes(td->log), file_bytes(td->events_db), file_bytes(db)};
    for (size_t i = 0; i < 3; i++)
        if (others[i] + 128 * 1024 > limit)
            limit = others[i] + 128 * 1024;
    set_file_limit(td, (rlim_t)limit);
    /* ~400 bytes a job: the batch's frames end well past the limit. */
    int more = (int)(limit * 3 / 400);
    fp_td_sqlite_enqueue(td, "default", more, PADDED_JOB, 0);
    if (file_bytes(wal) <= limit)
        fail_msg("the -wal (%lld bytes) did not pass the limit (%lld)", file_bytes(wal), limit);

    fp_td_ready_t down = {td->health_port, 503}, up = {td->health_port, 200};
    fp_td_wait_until(td, fp_td_readyz_is, &down, 60000, "not ready while writes fail");
    fp_td_wait_until(td, fp_td_log_has, "embedded queue not ready: ", 60000, "the log says why");
    fp_td_page_t why = {"/readyz", "I/O error"};
    assert_true(fp_td_page_has(td, &why));
    assert_int_equal(kill(td->pid, 0), 0); /* still there, answering */
    long long done_while_full = distinct_ids(td);

    set_file_limit(td, RLIM_INFINITY);
    fp_td_wait_until(td, fp_td_readyz_is, &up, READY_AGAIN_MS, "ready again");
    wait_all_done(td, 100 + more, 0, 120000, "every job after the room came back");
    stop_term(td);
    /* Jobs in flight at the fault (children + prefetch) may run twice. */
    if (rows(td) - (100 + more) > 8)
        fail_msg("%lld duplicates", rows(td) - (100 + more));
    print_message("full disk: limit %lld bytes, %d jobs added past it, %lld ids done while "
                  "full\n",
                  limit, more, done_while_full - 100);
}

/* A real full disk, where the test may mount one: the queue file on a
 * small tmpfs (the configured path a symlink to it, so the fixture's reads
 * of DIR/queue.db follow; SQLite puts the -wal beside the real file). The
 * daemon is stopped (SIGSTOP) while jobs are added and the rest of the
 * tmpfs is filled, so its next write is the first to meet ENOSPC; the test
 * takes the file's write lock before the stop, so the daemon is never
 * stopped holding it (the jobs are added under that lock): /readyz
 * 503 with SQLite's "database or disk is full", nothing lost, and it
 * carries on once the ballast goes. Skipped where mount(2) is not
 * permitted (it needs CAP_SYS_ADMIN). */
static char tmpfs_dir[4200];

static int teardown_tmpfs(void **state)
{
    if (tmpfs_dir[0] != '\0')
        (void)umount2(tmpfs_dir, MNT_DETACH);
    tmpfs_dir[0] = '\0';
    return fp_td_teardown(state);
}

static void fill(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    static char block[65536];
    for (size_t size = sizeof block; size > 0;)
        if (write(fd, block, size) < 0)
            size /= 2; /* ENOSPC: the last pages with smaller writes */
    close(fd);
}

static void test_full_tmpfs_then_room_again(void **state)
{
    fp_td_t *td = *state;
    char db[4200], real_db[4300], ballast[4300];
    snprintf(tmpfs_dir, sizeof tmpfs_dir, "%s/small", td->dir);
    assert_int_equal(mkdir(tmpfs_dir, 0700), 0);
    if (mount("tmpfs", tmpfs_dir, "tmpfs", 0, "size=8m") != 0) {
        tmpfs_dir[0] = '\0';
        skip(); /* not permitted here: the RLIMIT_FSIZE test covers the daemon's side */
    }
    fp_td_queue_path(td, db, sizeof db);
    snprintf(real_db, sizeof real_db, "%s/queue.db", tmpfs_dir);
    snprintf(ballast, sizeof ballast, "%s/ballast", tmpfs_dir);
    assert_int_equal(symlink(real_db, db), 0);
    config(td, "[pool]\nchildren = 2\n" FAST_RETRY);
    fp_td_start_ready(td, true);
    fp_td_sqlite_enqueue(td, "default", 100, EVENT_JOB, 0);
    wait_all_done(td, 100, 0, 60000, "the first jobs");
    assert_true(file_bytes(real_db) > 0);

    sqlite3 *q = NULL;
    assert_int_equal(sqlite3_open(db, &q), SQLITE_OK);
    sqlite3_busy_timeout(q, 30000);
    assert_int_equal(sqlite3_exec(q, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(kill(td->pid, SIGSTOP), 0);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO jobs (queue, payload, avail_at, owner, deliveries, enqueued_at)"
             " WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)"
             " SELECT 'default', '{\"type\":\"record_event\",\"args\":{\"action\":"
             "\"fault\",\"object_id\":\"big-' || i || '\",\"user_id\":\"u' || i ||"
             " '\",\"pad\":\"' || hex(zeroblob(150)) || '\"}}', 0, NULL, 0, %lld FROM n",
             fp_th_unix_ms());
    assert_int_equal(sqlite3_exec(q, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(q, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(q);
    fill(ballast);
    assert_int_equal(kill(td->pid, SIGCONT), 0);

    fp_td_ready_t down = {td->health_port, 503}, up = {td->health_port, 200};
    fp_td_wait_until(td, fp_td_readyz_is, &down, 60000, "not ready on a full disk");
    fp_td_page_t why = {"/readyz", "database or disk is full"};
    fp_td_wait_until(td, fp_td_page_has, &why, 60000, "the reason in /readyz");
    fp_td_wait_until(td, fp_td_log_has, "embedded queue not ready: ", 60000, "the log says why");
    assert_int_equal(unlink(ballast), 0);
    fp_td_wait_until(td, fp_td_readyz_is, &up, READY_AGAIN_MS, "ready again");
    wait_all_done(td, 1100, 0, 120000, "every job after the room came back");
    stop_term(td);
    if (rows(td) - 1100 > 8)
        fail_msg("%lld duplicates", rows(td) - 1100);
}

/* ---- the long run: every fault above at once, two daemons on one file ---- */

/* FP_CHAOS_JOBS overrides the count (a multiple of CHAOS_CHUNK). */
#define CHAOS_JOBS 10000
#define CHAOS_CHUNK 200
#define CHAOS_BAD 4 /* per chunk: a poison job and three malformed payloads */

static long long chaos_jobs(void)
{
    const char *v = getenv("FP_CHAOS_JOBS");
    long long n = v != NULL ? atoll(v) : CHAOS_JOBS;
    return n >= CHAOS_CHUNK ? n / CHAOS_CHUNK * CHAOS_CHUNK : CHAOS_CHUNK;
}

/* Chunks of CHAOS_CHUNK payloads: good jobs with distinct ids, then one
 * poison job, one that is not JSON, one without a type, one too big. */
static void chaos_enqueue(fp_td_t *td, long long chunks)
{
    char big[3000];
    int n = snprintf(big, sizeof big, "{\"type\":\"noop\",\"args\":{\"pad\":\"");
    memset(big + n, 'x', 2500);
    snprintf(big + n + 2500, sizeof big - (size_t)n - 2500, "\",\"n\":\"%%d-%%d\"}}");
    for (long long c = 0; c < chunks; c++) {
        char fmt[256], poison[128];
        snprintf(fmt, sizeof fmt,
                 "{\"type\":\"record_event\",\"args\":{\"object_id\":\"c%lld-%%d\","
                 "\"user_id\":\"u%%d\"}}",
                 c);
        fp_td_sqlite_enqueue(td, "default", CHAOS_CHUNK - CHAOS_BAD, fmt, 0);
        snprintf(poison, sizeof poison,
                 "{\"type\":\"crash\",\"max_attempts\":3,\"id\":\"poison-%lld-%%d%%d\"}", c);
        fp_td_sqlite_enqueue(td, "default", 1, poison, 0);
        fp_td_sqlite_enqueue(td, "default", 1, "not json %d %d", 0);
        fp_td_sqlite_enqueue(td, "default", 1, "{\"no_type\":%d%d}", 0);
        fp_td_sqlite_enqueue(td, "default", 1, big, 0);
    }
}

static void chaos_progress(fp_td_t *td, long long good, int percent, const char *what)
{
    long long want = good * percent / 100;
    fp_td_wait_until(td, fp_td_events_at_least, &want, 300000, what);
}

/* The restarted daemon is let in under its name and takes back its rows. */
static long long chaos_kill_restart(fp_td_t *d, const char *name)
{
    assert_int_equal(kill(d->pid, SIGKILL), 0);
    assert_int_equal(fp_td_wait(d, 30000), 128 + SIGKILL);
    long long orphaned = held_by(d, name);
    fp_td_start_ready(d, true);
    return orphaned;
}

/* A few thousand jobs with poison and malformed ones mixed in, two daemons
 * (different names) on the file, children killed over and over, each
 * daemon SIGKILLed and restarted: every good id recorded, every bad one
 * dead with its reason, and duplicates no more than the kills could make. */
static void test_chaos_every_fault_one_run(void **state)
{
    fp_td_t *td = *state;
    long long chunks = chaos_jobs() / CHAOS_CHUNK;
    long long good = chunks * (CHAOS_CHUNK - CHAOS_BAD), bad = chunks * CHAOS_BAD;
    config(td, "[pool]\nchildren = 4\nprefetch = 4\n" FAST_RETRY SMALL_JOBS
               "[recovery]\nvisibility_timeout = \"10s\"\n");
    fp_td_start_ready(td, true);
    fp_td_t twin;
    fp_td_twin(td, &twin, "second-consumer");
    fp_td_start_ready(&twin, true);
    chaos_enqueue(td, chunks);
    srand(4000);
    chaos_progress(td, good, 5, "5% of the jobs");
    int kills = kill_children(td, 10, 100);
    kills += kill_children(&twin, 10, 100);
    chaos_progress(td, good, 30, "30% of the jobs");
    long long orphaned = chaos_kill_restart(td, "test-consumer");
    chaos_progress(td, good, 50, "50% of the jobs");
    kills += kill_children(td, 10, 100);
    orphaned += chaos_kill_restart(&twin, "second-consumer");
    chaos_progress(td, good, 70, "70% of the jobs");
    kills += kill_children(&twin, 10, 100);

    wait_all_done(td, good, bad, 600000, "every id");
    stop_term(&twin);
    stop_term(td);
    fp_th_assert_no_sanitizer_report(twin.log);
    long long lost = good - distinct_ids(td), twice = rows(td) - distinct_ids(td);
    print_message("chaos: %lld jobs (%lld bad), lost %lld, run more than once %lld "
                  "(%d child kills, %lld rows held by killed daemons), dead %lld\n",
                  good + bad, bad, lost, twice, kills, orphaned,
                  fp_td_qsql(td, "SELECT count(*) FROM dead"));
    assert_int_equal(lost, 0);
    assert_true(twice <= kills + orphaned);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead WHERE payload LIKE '%%poison-%%'"
                                    " AND attempts = 3 AND error LIKE '%%child crashed%%'"),
                     chunks);
    assert_int_equal(fp_td_qsql(td, "SELECT count(*) FROM dead WHERE error LIKE '%%not JSON%%'"
                                    " OR error LIKE '%%no \"type\"%%'"
                                    " OR error LIKE '%%limits.max_job_bytes%%'"),
                     chunks * 3);
}

int main(int argc, char **argv)
{
    /* test_it_sqlite_faults NAME runs one test; --skip PATTERN all but those. */
    if (argc > 2 && strcmp(argv[1], "--skip") == 0)
        cmocka_set_skip_filter(argv[2]);
    else if (argc > 1)
        cmocka_set_test_filter(argv[1]);
#define T(name) cmocka_unit_test_setup_teardown(name, fp_td_setup_sqlite, fp_td_teardown)
    const struct CMUnitTest tests[] = {
        T(test_sigkill_random_children_repeatedly),
        T(test_poison_and_malformed_end_dead),
        T(test_sigkill_daemon_then_restart),
        T(test_full_disk_then_room_again),
        cmocka_unit_test_setup_teardown(test_full_tmpfs_then_room_again, fp_td_setup_sqlite,
                                        teardown_tmpfs),
        T(test_chaos_every_fault_one_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
