/* bench_db.h: removing an SQLite database with its -wal, -shm and -journal
 * files, as the bench tools do before each run. */
#ifndef FP_BENCH_DB_H
#define FP_BENCH_DB_H

#include <stdio.h>
#include <unistd.h>

static inline void remove_db(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char name[4096];
        snprintf(name, sizeof name, "%s%s", path, suffixes[i]);
        unlink(name);
    }
}

#endif
