/* test_sqlq_aq_oom.c: allocation failures on the embedded queue leave no
 * row leased to a daemon that will never settle it. A pulled row the thread
 * could not hand to the loop (out of memory copying its entry id) is not
 * renewed, and neither is one whose outcome the loop could not record (out
 * of memory growing the outcome list): each one's lease runs out and a later
 * pull delivers it again. Before, the thread renewed such rows until a
 * restart. strdup and realloc are wrapped at link time (CMakeLists.txt:
 * -Wl,--wrap=...) so that those two allocations can be made to fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/os.h"
#include "config/config.h"
#include "harness.h"
#include "sqlq/aq.h"
#include "sqlq/aq_internal.h"
#include "sqlq/store.h"

/* ---- strdup that fails on demand ------------------------------------------- */

static atomic_int fail_entry_ids; /* entry-id copies still to fail */

char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);

/* "ENQUEUED_MS-ID", what fp_aq_rows_take formats for each row. */
static int is_entry_id(const char *s)
{
    const char *dash = strchr(s, '-');
    if (dash == NULL || dash == s || dash[1] == '\0')
        return 0;
    for (const char *p = s; *p != '\0'; p++)
        if (p != dash && !isdigit((unsigned char)*p))
            return 0;
    return 1;
}

char *__wrap_strdup(const char *s)
{
    if (is_entry_id(s) && atomic_load(&fail_entry_ids) > 0) {
        atomic_fetch_sub(&fail_entry_ids, 1);
        errno = ENOMEM;
        return NULL;
    }
    return __real_strdup(s);
}

/* realloc fails once when armed, on the arming thread only (the queue's
 * own thread allocates too). */
static atomic_int fail_realloc;
static pthread_t fail_realloc_thread;

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_realloc(void *p, size_t n)
{
    if (atomic_load(&fail_realloc) > 0 && pthread_equal(pthread_self(), fail_realloc_thread)) {
        atomic_fetch_sub(&fail_realloc, 1);
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, n);
}

/* ---- a queue file, the embedded queue over it, and what it delivers --------- */

#define MAX_SEEN 16

typedef struct env_s {
    char *dir;
    char path[512];
    fp_config_t *cfg;
    uv_loop_t loop;
    uv_timer_t tick;
    fp_aq_t *q;
    bool closed;
    size_t seen;
    int64_t ids[MAX_SEEN];
    uint64_t deliveries[MAX_SEEN];
    char first_entry[48]; /* the first delivery's entry id */
} env_t;

static void on_jobs(void *ctx, fp_pulled_t *jobs, size_t n)
{
    env_t *e = ctx;
    for (size_t i = 0; i < n && e->seen < MAX_SEEN; i++) {
        if (e->seen == 0)
            snprintf(e->first_entry, sizeof e->first_entry, "%s", jobs[i].entry_id);
        if (!fp_aq_parse_id(jobs[i].entry_id, &e->ids[e->seen]))
            e->ids[e->seen] = -1;
        e->deliveries[e->seen] = jobs[i].deliveries;
        e->seen++;
    }
    fp_aq_want(e->q, 8); /* nothing is settled: keep asking */
}

static void on_ready(void *ctx, bool ready)
{
    (void)ctx, (void)ready;
}

static void on_tick(uv_timer_t *t)
{
    (void)t; /* keeps UV_RUN_ONCE from waiting longer than a tick */
}

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof *e);
    e->dir = fp_th_tmpdir();
    snprintf(e->path, sizeof e->path, "%s/q.db", e->dir);
    char text[1024];
    /* The shortest lease the configuration takes: renewal every third of it. */
    snprintf(text, sizeof text,
             "[daemon]\nname = \"t\"\n[queue]\nbackend = \"sqlite\"\n"
             "[sqlite]\npath = \"%s\"\n[recovery]\nvisibility_timeout = \"1s\"\n",
             e->path);
    fp_err_t err = {0};
    if (fp_config_load_text(text, strlen(text), "t.toml", &e->cfg, &err) != 0)
        fail_msg("config: %s", err.msg);
    uv_loop_init(&e->loop);
    uv_timer_init(&e->loop, &e->tick);
    uv_timer_start(&e->tick, on_tick, 20, 20);
    *state = e;
    return 0;
}

static void on_closed(void *ctx)
{
    ((env_t *)ctx)->closed = true;
}

static int teardown(void **state)
{
    env_t *e = *state;
    if (e->q != NULL && !e->closed) {
        fp_aq_close(e->q, on_closed, e);
        while (!e->closed)
            uv_run(&e->loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&e->tick, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_loop_close(&e->loop);
    fp_config_free(e->cfg);
    fp_th_tmpdir_free(e->dir);
    free(e);
    return 0;
}

static void enqueue(env_t *e, int64_t *ids, int n)
{
    fp_sqlq_t *s = NULL;
    fp_err_t err = {0};
    if (fp_sqlq_open(e->path, 0, &s, &err) != 0)
        fail_msg("open: %s", err.msg);
    for (int i = 0; i < n; i++)
        if (fp_sqlq_enqueue(s, "default", "{\"type\":\"noop\"}", 15, 0, fp_os_unix_ms(), &ids[i],
                            &err) != 0)
            fail_msg("enqueue: %s", err.msg);
    fp_sqlq_close(s);
}

static void start(env_t *e)
{
    fp_queue_events_t ev = {.on_jobs = on_jobs, .on_ready = on_ready};
    static const char *const names[] = {"default"};
    fp_err_t err = {0};
    if (fp_aq_new(&e->loop, e->cfg, names, 1, &ev, e, &e->q, &err) != 0)
        fail_msg("aq: %s", err.msg);
    assert_int_equal(fp_aq_start(e->q), 0);
    fp_aq_want(e->q, 8);
}

static size_t times_seen(const env_t *e, int64_t id)
{
    size_t n = 0;
    for (size_t i = 0; i < e->seen; i++)
        n += e->ids[i] == id;
    return n;
}

/* Two rows pulled together; copying the first one's entry id fails. The
 * other is delivered and, never settled, stays leased (renewed) to this
 * daemon. The failed one comes back once its lease of 1 s runs out, as a
 * second delivery. */
static void test_a_row_not_handed_over_comes_back_when_its_lease_ends(void **state)
{
    env_t *e = *state;
    int64_t ids[2];
    enqueue(e, ids, 2);
    atomic_store(&fail_entry_ids, 1);
    start(e);

    long long until = fp_th_now_ms() + 15000;
    while (times_seen(e, ids[0]) == 0 && fp_th_now_ms() < until)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(atomic_load(&fail_entry_ids), 0); /* the failure happened */
    assert_int_equal(times_seen(e, ids[1]), 1);
    assert_int_equal(times_seen(e, ids[0]), 1);
    for (size_t i = 0; i < e->seen; i++)
        if (e->ids[i] == ids[0])
            assert_int_equal(e->deliveries[i], 2); /* its second delivery */

    /* Three more renewal periods: the delivered row, renewed, never comes back. */
    until = fp_th_now_ms() + 1200;
    while (fp_th_now_ms() < until)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(times_seen(e, ids[1]), 1);
    assert_int_equal(times_seen(e, ids[0]), 1);
}

/* One row delivered; its success cannot be recorded (the outcome list
 * cannot grow). It is not renewed from then on: it comes back once its
 * lease of 1 s runs out, as a second delivery, and runs again. */
static void test_a_row_whose_outcome_was_lost_comes_back_when_its_lease_ends(void **state)
{
    env_t *e = *state;
    int64_t id;
    enqueue(e, &id, 1);
    start(e);
    long long until = fp_th_now_ms() + 15000;
    while (e->seen == 0 && fp_th_now_ms() < until)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(e->seen, 1);

    fail_realloc_thread = pthread_self();
    atomic_store(&fail_realloc, 1);
    fp_aq_ack(e->q, 0, e->first_entry);
    assert_int_equal(atomic_load(&fail_realloc), 0); /* the failure happened */
    assert_int_equal(fp_aq_unconfirmed(e->q), 0);    /* nothing was recorded */

    until = fp_th_now_ms() + 15000;
    while (e->seen < 2 && fp_th_now_ms() < until)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(e->seen, 2);
    assert_int_equal(e->ids[1], id);
    assert_int_equal(e->deliveries[1], 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_row_not_handed_over_comes_back_when_its_lease_ends,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_row_whose_outcome_was_lost_comes_back_when_its_lease_ends, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
