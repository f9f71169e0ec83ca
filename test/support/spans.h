/* spans.h: how many jobs ran at once, from a file of "start KEY T" and
 * "stop KEY T" lines that a test's handler appends (T: CLOCK_MONOTONIC ns,
 * one clock for every process on the host). A start and a stop pair up by
 * KEY; a start without a stop (its child was killed under it) is counted
 * apart and left out of the overlap, which is then a lower bound. */
#ifndef FP_TEST_SPANS_H
#define FP_TEST_SPANS_H

typedef struct fp_ts_spans_s {
    long long starts, stops, unmatched;
    long long max_overlap;             /* most paired spans open at one instant */
    long long first_start, last_start; /* ns; 0 when none */
} fp_ts_spans_t;

/* Only lines whose KEY begins with prefix ("" for all). A missing file
 * reads as no lines. */
fp_ts_spans_t fp_ts_spans_read(const char *path, const char *prefix);

#endif
