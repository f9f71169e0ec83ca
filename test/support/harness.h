/* harness.h: helpers shared by tests (fp_th_*): files, temp dirs, clocks,
 * running the real binaries with a deadline and capturing what they print,
 * reading what /proc says about a process, and splitting captured output. */
#ifndef FP_TEST_HARNESS_H
#define FP_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

/* The value of a variable ctest sets (FP_SOURCE_DIR, FORKPOOL_BIN,
 * TOML2JSON_BIN...); aborts the test with a message when it is missing. */
const char *fp_th_env(const char *name);

/* Whole file into a NUL-terminated heap buffer (free()); NULL on error. */
char *fp_th_read_file(const char *path, size_t *len);
/* A file of the source tree, rel to FP_SOURCE_DIR, whole (free()); the test
 * fails when it cannot be read. len may be NULL. */
char *fp_th_read_source(const char *rel, size_t *len);

/* Whether some line of text, split where any common reader splits lines
 * (\n \r \v \f \x1c-\x1e, NEL, U+2028/9: Python's splitlines), starts
 * with prefix: a forged log line. */
bool fp_th_some_line_starts_with(const char *text, const char *prefix);

/* Lines in s (its '\n' bytes). */
int fp_th_count_lines(const char *s);
/* The whole line of s that contains needle (owned, without '\n'); fails the
 * test when there is none. */
char *fp_th_line_with(const char *s, const char *needle);

/* Writes len bytes to path; 0 or -errno. */
int fp_th_write_file(const char *path, const void *data, size_t len);

/* A fresh directory under $TMPDIR (free()); removed with fp_th_rmrf. */
char *fp_th_tmpdir(void);
void fp_th_rmrf(const char *path);
/* fp_th_rmrf then free(): the end of a dir from fp_th_tmpdir (NULL is fine). */
void fp_th_tmpdir_free(char *dir);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in milliseconds. */
long long fp_th_now_ms(void);
long long fp_th_unix_ms(void);
/* The pause between two looks of a polling loop (a few ms): how often a
 * condition is checked, never a guess at how long anything takes. */
void fp_th_nap(void);

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

/* text contains every one of needles; a failure names the first one
 * missing, the text and the caller's file and line. */
void fp_th_expect_all_in_at(const char *text, const char *const *needles, size_t n,
                            const char *file, int line);
#define FP_TH_EXPECT_ALL_IN(text, ...)                                                        \
    fp_th_expect_all_in_at((text), (const char *const[]){__VA_ARGS__},                       \
                           sizeof(const char *const[]){__VA_ARGS__} / sizeof(const char *),  \
                           __FILE__, __LINE__)

#endif

/* Starts argv[0] in the background with stdout and stderr appended to
 * log_path, env_extra added to the environment (may be NULL). Returns the pid
 * or -errno. The process leads its own process group and gets PR_SET_PDEATHSIG,
 * so a test can signal its group and a crashed test leaks nothing. */
int fp_th_spawn(const char *const argv[], const char *const env_extra[], const char *log_path);

/* Waits for pid up to timeout_ms. Returns its exit code (or 128 + signal), or
 * -ETIMEDOUT with the process still running. */
int fp_th_wait(int pid, int timeout_ms);

/* SIGKILL to pid and its process group if it is still running, then reap. */
void fp_th_kill(int pid);

/* The children of pid (from /proc/PID/task/PID/children): up to max pids
 * into out; returns how many. */
int fp_th_proc_children(int pid, int *out, int max);
/* The first number after field ("VmRSS:", "Uid:") at the start of a line of
 * /proc/PID/status, or
 * -1 when the process or the field is not there. */
long fp_th_proc_status(int pid, const char *field);

/* Fails the test if the file mentions a sanitizer report. */
void fp_th_assert_no_sanitizer_report(const char *log_path);
