/* harness.h: helpers shared by tests (fp_th_*): files, temp dirs, running the
 * real binaries with a deadline and capturing what they print. */
#ifndef FP_TEST_HARNESS_H
#define FP_TEST_HARNESS_H

#include <stddef.h>

/* The value of a variable ctest sets (FP_SOURCE_DIR, FORKPOOL_BIN,
 * TOML2JSON_BIN...); aborts the test with a message when it is missing. */
const char *fp_th_env(const char *name);

/* Whole file into a NUL-terminated heap buffer (free()); NULL on error. */
char *fp_th_read_file(const char *path, size_t *len);

/* Writes len bytes to path; 0 or -errno. */
int fp_th_write_file(const char *path, const void *data, size_t len);

/* A fresh directory under $TMPDIR (free()); removed with fp_th_rmrf. */
char *fp_th_tmpdir(void);
void fp_th_rmrf(const char *path);

typedef struct fp_th_result_s {
    int status;   /* exit code, or 128 + signal number */
    char *out;    /* stdout, NUL-terminated (free()) */
    size_t out_len;
    char *err;    /* stderr, NUL-terminated (free()) */
    size_t err_len;
} fp_th_result_t;

/* Runs argv[0] (a path) with argv, feeding in_len bytes of in on stdin,
 * capturing stdout and stderr; kills it after timeout_ms. env_extra is a
 * NULL-terminated list of "NAME=value" added to the environment (may be NULL).
 * Returns 0 or -errno (spawn failure, timeout → -ETIMEDOUT). */
int fp_th_run(const char *const argv[], const char *const env_extra[], const char *in,
              size_t in_len, int timeout_ms, fp_th_result_t *res);
void fp_th_result_free(fp_th_result_t *res);

#endif
