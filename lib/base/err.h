/* err.h: error codes and the error record that carries a human message up to
 * the command line. Functions return 0 or a negative code: -errno for system
 * errors, FP_E* for forkpool's own. */
#ifndef FORKPOOL_ERR_H
#define FORKPOOL_ERR_H

#include <stddef.h>

enum {
    FP_ETOML = -5000,   /* the text is not valid TOML */
    FP_ECONFIG = -5001, /* valid TOML, but not a valid forkpool configuration */
    FP_EPROTO = -5002,  /* a malformed dispatch-channel message */
    FP_EREDIS = -5003,  /* Redis answered with an error or went away */
    FP_EUSAGE = -5004,  /* bad command-line usage */
    FP_EJOB = -5005,    /* a job payload that cannot be run */
    FP_ELIMIT = -5006,  /* input larger or deeper than a limit allows */
    FP_EBADSTORE = -5007, /* a file that is not forkpool's queue store, a newer one, or damaged */
};

#define FP_ERR_MSG_MAX 512

/* The first failure fills this; callers higher up may prefix context
 * (a file name) but never overwrite the reason. line/col are 1-based, 0 when
 * the error has no position. */
typedef struct fp_err_s {
    int code;
    int line;
    int col;
    char msg[FP_ERR_MSG_MAX];
} fp_err_t;

/* Records code and message in err (which may be NULL) and returns code, so a
 * failing path reads `return fp_err_set(err, FP_ECONFIG, "...", ...);`. */
int fp_err_set(fp_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As fp_err_set, and records a 1-based line and column. */
int fp_err_set_at(fp_err_t *err, int code, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Puts "prefix: " before the message already in err (for example a file name). */
void fp_err_prefix(fp_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void fp_err_clear(fp_err_t *err);

/* A static description of a code, for both -errno and FP_E* values. */
const char *fp_strerror(int code);

#endif
