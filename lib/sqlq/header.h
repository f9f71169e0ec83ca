/* header.h: is an existing file ours, pure (no I/O): its first bytes, checked
 * before SQLite is let near it, then what SQLite reads from its header; both
 * run before anything is written, so a foreign, newer or truncated file is
 * refused without a byte of it changed. */
#ifndef FORKPOOL_SQLQ_HEADER_H
#define FORKPOOL_SQLQ_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* SQLite's database header is the file's first 100 bytes. */
#define FP_SQLQ_HEADER_LEN 100

/* head: the first min(file_size, 100) bytes of the file (len of them).
 * wal_present: a non-empty -wal file lies beside it; its frames may hold
 * pages the database file does not have yet, so the size check is skipped.
 * Returns 0 for a file SQLite may open (an empty file included), else
 * FP_EBADSTORE with the reason. */
int fp_sqlq_header_check(const unsigned char *head, size_t len, int64_t file_size,
                         bool wal_present, fp_err_t *err);

/* What PRAGMA application_id, PRAGMA user_version and the count of schema
 * objects say about an opened file: *fresh is set for an empty database (no
 * objects, no id), which fp_sqlq_open may claim. Ours with a schema version
 * up to max_version: 0. Anything else: FP_EBADSTORE with the reason. */
int fp_sqlq_identity_check(int64_t application_id, int64_t user_version, int64_t objects,
                           int64_t max_version, bool *fresh, fp_err_t *err);

#endif
