/* test_sqlq_aq_call.c: fp_aq_call (lib/sqlq/aq.h), a feature's work carried
 * to the embedded queue's worker thread and answered on the loop: the work
 * runs off the loop thread on the queue's file, answers come in posting
 * order with the work's code and message, and fp_aq_close answers every
 * call still out exactly once (the work it ran with its result). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "config/config.h"
#include "harness.h"
#include "sqlq/aq.h"
#include "sqlq/kv.h"

typedef struct env_s {
    char *dir;
    fp_config_t *cfg;
    uv_loop_t loop;
    fp_aq_t *q;
    pthread_t loop_thread;
    char order[64];
    int answers;
    bool closed;
} env_t;

static void on_jobs(void *ctx, fp_pulled_t *jobs, size_t n)
{
    (void)ctx, (void)jobs, (void)n;
}

static void on_ready(void *ctx, bool ready)
{
    (void)ctx, (void)ready;
}

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof *e);
    e->dir = fp_th_tmpdir();
    char text[1024];
    snprintf(text, sizeof text,
             "[daemon]\nname = \"t\"\n[queue]\nbackend = \"sqlite\"\n"
             "[sqlite]\npath = \"%s/q.db\"\n",
             e->dir);
    fp_err_t err = {0};
    if (fp_config_load_text(text, strlen(text), "t.toml", &e->cfg, &err) != 0)
        fail_msg("config: %s", err.msg);
    uv_loop_init(&e->loop);
    e->loop_thread = pthread_self();
    static const char *const names[] = {"default"};
    fp_queue_events_t ev = {.on_jobs = on_jobs, .on_ready = on_ready};
    if (fp_aq_new(&e->loop, e->cfg, names, 1, &ev, e, &e->q, &err) != 0)
        fail_msg("aq: %s", err.msg);
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
    if (!e->closed) {
        fp_aq_close(e->q, on_closed, e);
        while (!e->closed)
            uv_run(&e->loop, UV_RUN_ONCE);
    }
    uv_loop_close(&e->loop);
    fp_config_free(e->cfg);
    fp_th_tmpdir_free(e->dir);
    free(e);
    return 0;
}

typedef struct call_s {
    env_t *e;
    char name;
    bool fail;
    bool ran_off_loop;
    char value[32];
} call_t;

/* Writes its name under kv ("t", name) and reads it back; fails when asked. */
static int work(fp_sqlq_t *store, void *arg, int64_t now_ms, fp_err_t *err)
{
    call_t *c = arg;
    c->ran_off_loop = !pthread_equal(pthread_self(), c->e->loop_thread);
    if (c->fail)
        return fp_err_set(err, -EIO, "call %c failed as asked", c->name);
    char key[2] = {c->name, '\0'};
    int rc = fp_sqlq_kv_put(store, "t", key, key, 0, err);
    char *v = NULL;
    if (rc == 0 && (rc = fp_sqlq_kv_get(store, "t", key, now_ms, &v, NULL, err)) == 0)
        snprintf(c->value, sizeof c->value, "%s", v);
    free(v);
    return rc;
}

static void done(void *ctx, void *arg, int rc, const char *msg)
{
    env_t *e = ctx;
    call_t *c = arg;
    assert_true(pthread_equal(pthread_self(), e->loop_thread));
    char one[80];
    snprintf(one, sizeof one, "%c:%d:%s:%s;", c->name, rc, c->value, rc < 0 ? msg : "");
    size_t used = strlen(e->order); /* snprintf: strncat trips Release's -Wstringop-truncation */
    snprintf(e->order + used, sizeof e->order - used, "%s", one);
    if (rc != -ECANCELED)
        assert_true(c->ran_off_loop);
    e->answers++;
    free(c);
}

static call_t *new_call(env_t *e, char name, bool fail)
{
    call_t *c = calloc(1, sizeof *c);
    *c = (call_t){.e = e, .name = name, .fail = fail};
    return c;
}

static void test_calls_run_on_the_thread_and_answer_in_order(void **state)
{
    env_t *e = *state;
    assert_int_equal(fp_aq_start(e->q), 0);
    assert_int_equal(fp_aq_call(e->q, work, new_call(e, 'a', false), done, e), 0);
    assert_int_equal(fp_aq_call(e->q, work, new_call(e, 'b', true), done, e), 0);
    assert_int_equal(fp_aq_call(e->q, work, new_call(e, 'c', false), done, e), 0);
    long long until = fp_th_now_ms() + 30000;
    while (e->answers < 3 && fp_th_now_ms() < until)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_string_equal(e->order, "a:0:a:;b:-5::call b failed as asked;c:0:c:;");
}

/* Posted before the thread starts and never run: fp_aq_close cancels it,
 * once; a call after the close is refused without an answer. */
static void test_close_answers_what_is_still_out(void **state)
{
    env_t *e = *state;
    assert_int_equal(fp_aq_call(e->q, work, new_call(e, 'z', false), done, e), 0);
    fp_aq_close(e->q, on_closed, e);
    assert_int_equal(e->answers, 1);
    assert_non_null(strstr(e->order, "z:-125::the embedded queue closed before the call ran;"));
    call_t *late = new_call(e, 'y', false);
    assert_int_equal(fp_aq_call(e->q, work, late, done, e), -ECANCELED);
    free(late);
    while (!e->closed)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(e->answers, 1);
}

/* Started and closed at once: whatever the thread ran is answered with its
 * result, the rest cancelled; each exactly once either way. */
static void test_close_while_running_answers_each_once(void **state)
{
    env_t *e = *state;
    assert_int_equal(fp_aq_start(e->q), 0);
    for (char n = 'a'; n < 'f'; n++)
        assert_int_equal(fp_aq_call(e->q, work, new_call(e, n, false), done, e), 0);
    fp_aq_close(e->q, on_closed, e);
    while (!e->closed)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(e->answers, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_calls_run_on_the_thread_and_answer_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_answers_what_is_still_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_while_running_answers_each_once, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
