/* err.c: filling fp_err_t records and naming error codes. No allocation, so it
 * is safe on every failure path, including out-of-memory ones. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The attribute lets clang check callers' formats (-Wformat-nonliteral). */
static __attribute__((format(printf, 5, 0))) void vset(fp_err_t *err, int code, int line,
                                                      int col, const char *fmt, va_list ap)
{
    err->code = code;
    err->line = line;
    err->col = col;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

int fp_err_set(fp_err_t *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, 0, 0, fmt, ap);
    va_end(ap);
    return code;
}

int fp_err_set_at(fp_err_t *err, int code, int line, int col, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, line, col, fmt, ap);
    va_end(ap);
    return code;
}

void fp_err_prefix(fp_err_t *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char prefix[FP_ERR_MSG_MAX];
    char old[FP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation is acceptable: the reason's start and the prefix survive. */
    size_t n = strnlen(prefix, sizeof prefix - 1);
    memcpy(err->msg, prefix, n);
    size_t room = sizeof err->msg - n;
    if (room > 3) {
        memcpy(err->msg + n, ": ", 2);
        size_t rest = strnlen(old, room - 3);
        memcpy(err->msg + n + 2, old, rest);
        err->msg[n + 2 + rest] = '\0';
    } else {
        err->msg[sizeof err->msg - 1] = '\0';
    }
}

void fp_err_clear(fp_err_t *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof *err);
}

const char *fp_strerror(int code)
{
    switch (code) {
    case 0: return "success";
    case FP_ETOML: return "invalid TOML";
    case FP_ECONFIG: return "invalid configuration";
    case FP_EPROTO: return "malformed channel message";
    case FP_EREDIS: return "Redis error";
    case FP_EUSAGE: return "bad usage";
    case FP_EJOB: return "invalid job";
    case FP_ELIMIT: return "limit exceeded";
    case FP_EBADSTORE: return "not a usable forkpool queue file";
    default: break;
    }
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error";
}
