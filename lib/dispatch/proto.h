/* proto.h: the dispatch channel between the supervisor and a child.
 *
 * One unix stream socket per child (fd 3 in the child). Messages are
 * single-line JSON objects, each ending in "\n":
 *   child → supervisor at start   {"op":"ready","pid":123}  (optionally "concurrency":N)
 *   supervisor → child            {"op":"job","seq":7,"attempt":1,"job":{...}}
 *   child → supervisor            {"op":"done","seq":7,"ok":true,"result":...,"rss_kb":5120}
 *                                 {"op":"done","seq":7,"ok":false,"error":"...","retry":true,"rss_kb":5120}
 *   supervisor → child            {"op":"stop"}   finish the current job, exit 0
 *   supervisor → child            {"op":"cancel","seq":7}   stop job 7 if it can (a
 *                                 cancelled job); its TERM follows after pool.kill_grace
 * A line longer than the framer's limit is an error for that line only: the
 * reader discards up to the next newline and carries on. Unknown members are
 * ignored, so either side may add fields later. */
#ifndef FORKPOOL_PROTO_H
#define FORKPOOL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define FP_OP_READY "ready"
#define FP_OP_JOB "job"
#define FP_OP_DONE "done"
#define FP_OP_STOP "stop"
#define FP_OP_CANCEL "cancel"

/* The most jobs one child may announce it runs at once ("concurrency" in
 * "ready"): enough for an event loop of sleeping jobs, small enough that a
 * typo (1e6) cannot make the supervisor pull a million jobs for one child. */
#define FP_PROTO_CONCURRENCY_MAX 1024

typedef enum fp_op_e { FP_MSG_READY, FP_MSG_JOB, FP_MSG_DONE, FP_MSG_STOP, FP_MSG_CANCEL } fp_op_t;

/* A decoded message. Pointers are owned by the message (fp_msg_clear). */
typedef struct fp_msg_s {
    fp_op_t op;
    int64_t pid;          /* ready */
    int64_t concurrency;  /* ready: jobs it runs at once, 1 when not said */
    uint64_t seq;         /* job, done, cancel */
    int64_t attempt;      /* job */
    void *job;            /* job: the job object as cJSON * */
    bool ok;              /* done */
    bool retry;           /* done, when !ok; defaults to true */
    char *error;          /* done, when !ok */
    char *result_json;    /* done, when ok: the "result" member as JSON text, or NULL */
    int64_t rss_kb;       /* done; 0 when not reported */
} fp_msg_t;

/* Decodes one line (without its "\n"). FP_EPROTO with a reason on anything
 * malformed: not JSON, not an object, unknown op, missing or mistyped member. */
int fp_proto_decode(const char *line, size_t len, fp_msg_t *out, fp_err_t *err);
void fp_msg_clear(fp_msg_t *msg);

/* Encoders append one complete line, "\n" included, to a growable buffer.
 * They return 0 or -ENOMEM. fp_proto_encode_job embeds job_json as it is:
 * the caller has validated it; raw CR/LF in it (whitespace between tokens in
 * valid JSON) are written as spaces so the message stays one line. */
int fp_proto_encode_ready(fp_buf_t *out, int64_t pid);
int fp_proto_encode_job(fp_buf_t *out, uint64_t seq, int64_t attempt, const char *job_json,
                        size_t job_len);
/* result_json may be NULL (no result); error is used when !ok. */
int fp_proto_encode_done(fp_buf_t *out, uint64_t seq, bool ok, const char *result_json,
                         const char *error, bool retry, int64_t rss_kb);
int fp_proto_encode_stop(fp_buf_t *out);
int fp_proto_encode_cancel(fp_buf_t *out, uint64_t seq);

/* The bounded line reader. Feed it bytes as they arrive; it calls line_cb
 * for every complete line (without "\n"), and for a line longer than
 * max_line calls it once with line == NULL and status FP_ELIMIT, then skips
 * to the next newline. Memory stays within max_line + one read. */
typedef void (*fp_framer_line_cb)(void *ctx, const char *line, size_t len, int status);

typedef struct fp_framer_s {
    fp_buf_t partial;
    size_t max_line;
    bool discarding;
} fp_framer_t;

void fp_framer_init(fp_framer_t *framer, size_t max_line);
/* Returns 0, or -ENOMEM (the framer is then reset). */
int fp_framer_feed(fp_framer_t *framer, const char *data, size_t len, fp_framer_line_cb line_cb,
                   void *ctx);
void fp_framer_free(fp_framer_t *framer);

#endif
