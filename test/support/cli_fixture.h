/* cli_fixture.h: the fixture for integration tests that run a forkpool
 * subcommand the way an operator does (fp_tcli_*), the one header such a
 * test includes: a temp dir, a real redis-server when the command needs one,
 * and the binary run with FORKPOOL_REDIS_URL pointing at that server and no
 * config file, or with only what the test's arguments and environment name. */
#ifndef FP_TEST_CLI_FIXTURE_H
#define FP_TEST_CLI_FIXTURE_H

#include <stddef.h>

#include "harness.h"
#include "redis_server.h"

typedef struct fp_tcli_s {
    fp_th_redis_t redis;
    char *dir;
    char url_env[128]; /* "FORKPOOL_REDIS_URL=..." */
    char config[4200]; /* set by fp_tcli_write_config */
} fp_tcli_t;

/* cmocka setup and teardown: *state is an fp_tcli_t with Redis running and
 * a fresh dir (fp_tcli_setup_dir: the dir only, for commands that never
 * reach Redis); teardown stops Redis if it runs and removes the dir. */
int fp_tcli_setup(void **state);
int fp_tcli_setup_dir(void **state);
int fp_tcli_teardown(void **state);

/* Runs `forkpool SUBCOMMAND ARGS...` (ARGS NULL-terminated, at most 13)
 * with stdin `in` (may be NULL), FORKPOOL_CONFIG cleared, the fixture's
 * FORKPOOL_REDIS_URL and one extra environment entry (may be NULL). Fails
 * the test if the binary cannot be run or times out (120 s). */
fp_th_result_t fp_tcli_run(const fp_tcli_t *f, const char *subcommand, const char *in,
                           const char *extra_env, const char *first, ...)
    __attribute__((sentinel));

/* libfaketime, from Debian's libfaketime package (scripts/bootstrap.sh). */
#define FP_TH_FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

/* The same with this process's clock shifted by offset (libfaketime's
 * FAKETIME, e.g. "-1d") and no stdin: a host whose clock is wrong. */
fp_th_result_t fp_tcli_run_skewed(const fp_tcli_t *f, const char *offset, const char *subcommand,
                                  const char *first, ...) __attribute__((sentinel));

/* The "job" field of entry i of a stream (owned). */
char *fp_tcli_job_at(fp_tcli_t *f, const char *key, size_t i);
/* Entry i of a stream carries exactly the job want. */
void fp_tcli_expect_job_at(fp_tcli_t *f, const char *key, size_t i, const char *want);

/* A command's result r: exit 0 and exactly want_out on stdout. A macro, so
 * that a failure names the test's line. */
#define FP_TCLI_EXPECT_OK(r, want_out)                                                        \
    do {                                                                                     \
        assert_int_equal((r).status, 0);                                                     \
        assert_string_equal((r).out, (want_out));                                            \
    } while (0)

/* Writes DIR/forkpool.toml naming the fixture's Redis (its URL followed by
 * url_suffix, "" or "/2" for a database), prefix "acme" and the queues
 * "first" and "second"; returns its path (in the fixture). */
const char *fp_tcli_write_config(fp_tcli_t *f, const char *url_suffix);

/* Writes text as DIR/forkpool.toml; returns its path (in the fixture). */
const char *fp_tcli_write_config_text(fp_tcli_t *f, const char *text);

/* Runs `forkpool ARGS...` (NULL-terminated, at most 14) with FORKPOOL_CONFIG
 * and FORKPOOL_REDIS_URL cleared, so only what ARGS name is used. Fails the
 * test if the binary cannot be run or times out (60 s). */
fp_th_result_t fp_tcli_run_bare(const char *first, ...) __attribute__((sentinel));
/* The same with env (NULL-terminated "NAME=value" entries) added to this
 * process's environment instead. */
fp_th_result_t fp_tcli_run_with(const char *const env[], const char *first, ...)
    __attribute__((sentinel));

/* Checks the exit code (69) and message of a command run with Redis down on
 * port. */
void fp_tcli_assert_refused(const fp_th_result_t *r, int port);

#endif
