/* stream_id.h: a Redis stream entry id ("ms-seq") read as two numbers. The
 * queue orders and keys held entries by it; the metrics read its ms part as
 * the enqueue time, so it lives below both. */
#ifndef FP_BASE_STREAM_ID_H
#define FP_BASE_STREAM_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A stream id "ms-seq" (both parts required) as two numbers; false when s is
 * not one. */
bool fp_stream_id_parse(const char *s, size_t n, uint64_t *ms, uint64_t *seq);

#endif
