/* header.c: is this file an SQLite database that is whole? Read from the
 * header as SQLite's file format defines it: the magic string, the page size
 * at offset 16, the file change counter at 24, the page count at 28, which is
 * to be trusted only when the "version-valid-for" number at 92 equals the
 * change counter. A file shorter than its header's page count is a truncated
 * copy; SQLite itself would only notice when it reads a missing page. Then,
 * once SQLite has read it, whether the database is forkpool's queue file. */
#include "sqlq/header.h"

#include "sqlq/store.h"

#include <string.h>

static const char magic[16] = "SQLite format 3";

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* 512..65536 and a power of two; the value 1 stands for 65536. */
static int64_t page_size(const unsigned char *head)
{
    int64_t v = (int64_t)head[16] << 8 | head[17];
    if (v == 1)
        return 65536;
    if (v < 512 || (v & (v - 1)) != 0)
        return 0;
    return v;
}

int fp_sqlq_header_check(const unsigned char *head, size_t len, int64_t file_size,
                         bool wal_present, fp_err_t *err)
{
    if (file_size == 0)
        return 0; /* SQLite treats an empty file as an empty database */
    if (len < FP_SQLQ_HEADER_LEN || memcmp(head, magic, sizeof magic) != 0)
        return fp_err_set(err, FP_EBADSTORE, "not an SQLite database");
    int64_t psize = page_size(head);
    if (psize == 0)
        return fp_err_set(err, FP_EBADSTORE, "damaged SQLite header (page size)");
    if (wal_present || be32(head + 24) != be32(head + 92))
        return 0;
    int64_t pages = be32(head + 28);
    if (pages * psize > file_size)
        return fp_err_set(err, FP_EBADSTORE,
                          "truncated: the header counts %lld pages of %lld bytes, the file has "
                          "%lld bytes",
                          (long long)pages, (long long)psize, (long long)file_size);
    return 0;
}

int fp_sqlq_identity_check(int64_t application_id, int64_t user_version, int64_t objects,
                           int64_t max_version, bool *fresh, fp_err_t *err)
{
    *fresh = false;
    if (application_id == 0 && user_version == 0 && objects == 0) {
        *fresh = true;
        return 0;
    }
    if (application_id != FP_SQLQ_APPLICATION_ID)
        return fp_err_set(err, FP_EBADSTORE,
                          "an SQLite database of another application (application_id %lld, "
                          "forkpool's is %lld)",
                          (long long)application_id, (long long)FP_SQLQ_APPLICATION_ID);
    if (user_version > max_version)
        return fp_err_set(err, FP_EBADSTORE,
                          "written by a newer forkpool (schema version %lld, this one reads up "
                          "to %lld)",
                          (long long)user_version, (long long)max_version);
    if (user_version < 1)
        return fp_err_set(err, FP_EBADSTORE, "a forkpool queue file without a schema version");
    return 0;
}
