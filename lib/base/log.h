/* log.h: one line per event, text or JSON, to stderr or a file. Each line is
 * written with a single write(2), so lines from the supervisor and its
 * children never interleave mid-line and nothing sits in a stdio buffer
 * across fork(). */
#ifndef FORKPOOL_LOG_H
#define FORKPOOL_LOG_H

#include <stdbool.h>

typedef enum fp_log_level_e {
    FP_LOG_DEBUG,
    FP_LOG_INFO,
    FP_LOG_WARN,
    FP_LOG_ERROR,
} fp_log_level_t;

typedef enum fp_log_format_e { FP_LOG_TEXT, FP_LOG_JSON } fp_log_format_t;

/* Sets level, format and destination. path NULL or "" logs to stderr.
 * Returns 0 or -errno when the file cannot be opened (logging stays on the
 * previous destination). */
int fp_log_setup(fp_log_level_t level, fp_log_format_t format, const char *path);

/* fp_log_setup that refuses a symlink as the file (-ELOOP) instead of
 * following it: root must not create or open a file a user pointed it at. */
int fp_log_setup_nofollow(fp_log_level_t level, fp_log_format_t format, const char *path);

/* Reopens the log file (SIGUSR1, after logrotate moved it). 0 or -errno. */
int fp_log_reopen(void);

/* Closes a log file opened by fp_log_setup and falls back to stderr. */
void fp_log_close(void);

/* The fd lines go to, for children that keep it across fork. */
int fp_log_fd(void);

bool fp_log_enabled(fp_log_level_t level);

/* Registers a secret (the Redis password) that no log message may contain:
 * each occurrence is written as "***". Call before threads or children
 * start; at most 4 are kept, and ones shorter than 3 bytes are ignored. */
void fp_log_add_secret(const char *secret);

/* Replaces every registered secret in s, in place, by "***" (never longer
 * than the secret, so s never grows). */
void fp_log_redact(char *s);

/* For text cut at a buffer's end after fp_log_redact: a start of a secret
 * that the cut left at the end of s is overwritten with '*'. */
void fp_log_redact_cut(char *s);

/* Writes one line: time, level, component (e.g. "supervisor", "child 3",
 * "config") and the message. In JSON format extra key/value pairs may follow
 * as a NULL-terminated list of const char * pairs via fp_log_kv. */
void fp_log(fp_log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As fp_log, with structured fields: kv is a NULL-terminated array of
 * alternating key and value strings, shown as key=value in text format and as
 * JSON members in JSON format. */
void fp_log_kv(fp_log_level_t level, const char *component, const char *const *kv,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

const char *fp_log_level_name(fp_log_level_t level);

/* "debug", "info", "warn", "error" → level; -1 when unknown. */
int fp_log_level_parse(const char *name);

#define fp_log_debug(comp, ...) fp_log(FP_LOG_DEBUG, comp, __VA_ARGS__)
#define fp_log_info(comp, ...) fp_log(FP_LOG_INFO, comp, __VA_ARGS__)
#define fp_log_warn(comp, ...) fp_log(FP_LOG_WARN, comp, __VA_ARGS__)
#define fp_log_error(comp, ...) fp_log(FP_LOG_ERROR, comp, __VA_ARGS__)

#endif
