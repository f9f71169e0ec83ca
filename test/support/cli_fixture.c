/* cli_fixture.c: a Redis and a temp dir per test, and running one forkpool
 * subcommand against them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fp_tcli_setup_dir(void **state)
{
    fp_tcli_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = fp_th_tmpdir();
    assert_non_null(f->dir);
    *state = f;
    return 0;
}

int fp_tcli_setup(void **state)
{
    fp_tcli_setup_dir(state);
    fp_tcli_t *f = *state;
    assert_int_equal(fp_th_redis_start(&f->redis, NULL), 0);
    snprintf(f->url_env, sizeof f->url_env, "FORKPOOL_REDIS_URL=%s", fp_th_redis_url(&f->redis));
    return 0;
}

int fp_tcli_teardown(void **state)
{
    fp_tcli_t *f = *state;
    fp_th_redis_stop(&f->redis);
    fp_th_tmpdir_free(f->dir);
    free(f);
    return 0;
}

/* Runs FORKPOOL_BIN [subcommand] first ARGS... (NULL-terminated) with env. */
static fp_th_result_t run_va(const char *const env[], const char *in, int timeout_ms,
                             const char *subcommand, const char *first, va_list ap)
{
    const char *argv[16] = {fp_th_env("FORKPOOL_BIN")};
    int argc = 1;
    if (subcommand != NULL)
        argv[argc++] = subcommand;
    for (const char *a = first; a != NULL && argc < 15; a = va_arg(ap, const char *))
        argv[argc++] = a;
    argv[argc] = NULL;
    fp_th_result_t r;
    assert_int_equal(fp_th_run(argv, env, in, in != NULL ? strlen(in) : 0, timeout_ms, &r), 0);
    return r;
}

fp_th_result_t fp_tcli_run(const fp_tcli_t *f, const char *subcommand, const char *in,
                           const char *extra_env, const char *first, ...)
{
    const char *env[] = {"FORKPOOL_CONFIG=", f->url_env, extra_env, NULL};
    va_list ap;
    va_start(ap, first);
    fp_th_result_t r = run_va(env, in, 120000, subcommand, first, ap);
    va_end(ap);
    return r;
}

fp_th_result_t fp_tcli_run_skewed(const fp_tcli_t *f, const char *offset, const char *subcommand,
                                  const char *first, ...)
{
    char faketime[64], asan[256];
    snprintf(faketime, sizeof faketime, "FAKETIME=%s", offset);
    /* libfaketime is preloaded ahead of the sanitizer runtime: tell ASan so. */
    const char *asan_now = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
             asan_now != NULL ? asan_now : "", asan_now != NULL ? ":" : "");
    const char *env[] = {"FORKPOOL_CONFIG=", f->url_env, "LD_PRELOAD=" FP_TH_FAKETIME_LIB,
                         faketime, asan, "DONT_FAKE_MONOTONIC=1", NULL};
    va_list ap;
    va_start(ap, first);
    fp_th_result_t r = run_va(env, NULL, 120000, subcommand, first, ap);
    va_end(ap);
    return r;
}

char *fp_tcli_job_at(fp_tcli_t *f, const char *key, size_t i)
{
    redisReply *r = fp_th_redis_cmd(&f->redis, "XRANGE %s - +", key);
    assert_non_null(r);
    assert_true(i < r->elements);
    const redisReply *fields = r->element[i]->element[1];
    assert_string_equal(fields->element[0]->str, "job");
    char *job = strdup(fields->element[1]->str);
    freeReplyObject(r);
    return job;
}

void fp_tcli_expect_job_at(fp_tcli_t *f, const char *key, size_t i, const char *want)
{
    char *job = fp_tcli_job_at(f, key, i);
    assert_string_equal(job, want);
    free(job);
}

const char *fp_tcli_write_config_text(fp_tcli_t *f, const char *text)
{
    snprintf(f->config, sizeof f->config, "%s/forkpool.toml", f->dir);
    assert_int_equal(fp_th_write_file(f->config, text, strlen(text)), 0);
    return f->config;
}

const char *fp_tcli_write_config(fp_tcli_t *f, const char *url_suffix)
{
    char text[512];
    snprintf(text, sizeof text,
             "[redis]\nurl = \"%s%s\"\nprefix = \"acme\"\n[queues]\nnames = [\"first\", "
             "\"second\"]\n",
             fp_th_redis_url(&f->redis), url_suffix);
    return fp_tcli_write_config_text(f, text);
}

fp_th_result_t fp_tcli_run_with(const char *const env[], const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    fp_th_result_t r = run_va(env, NULL, 60000, NULL, first, ap);
    va_end(ap);
    return r;
}

fp_th_result_t fp_tcli_run_bare(const char *first, ...)
{
    static const char *const env[] = {"FORKPOOL_CONFIG=", "FORKPOOL_REDIS_URL=", NULL};
    va_list ap;
    va_start(ap, first);
    fp_th_result_t r = run_va(env, NULL, 60000, NULL, first, ap);
    va_end(ap);
    return r;
}

void fp_tcli_assert_refused(const fp_th_result_t *r, int port)
{
    assert_int_equal(r->status, 69);
    char want[128];
    snprintf(want, sizeof want, "cannot connect to Redis at 127.0.0.1:%d: Connection refused",
             port);
    assert_non_null(strstr(r->err, want));
}
