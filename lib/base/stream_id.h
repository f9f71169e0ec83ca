/* stream_id.h: a Redis stream entry id ("ms-seq") read as two numbers. The
 * queue orders and keys held entries by it; the metrics read its ms part as
 * the enqueue time, so it lives below both. */
#ifndef FP_BASE_STREAM_ID_H
#define FP_BASE_STREAM_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fp_sid_s {
    uint64_t ms, seq;
} fp_sid_t;

/* Room for an id as text: two 20-digit numbers, the dash and the NUL. */
#define FP_SID_TEXT 48

/* A stream id "ms-seq" (both parts required) as two numbers; false when s is
 * not one. */
bool fp_stream_id_parse(const char *s, size_t n, uint64_t *ms, uint64_t *seq);

/* The smallest and the largest of ids[0..n) as "ms-seq" text, in the
 * streams' order (ms, then seq); "-" and "+" (everything) when n is 0. */
void fp_sid_span(const fp_sid_t *ids, size_t n, char lo[FP_SID_TEXT], char hi[FP_SID_TEXT]);

#endif
