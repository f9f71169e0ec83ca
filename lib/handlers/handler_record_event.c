/* handler_record_event.c: the record_event handler. The supervisor creates
 * the database in WAL mode with its table before forking
 * (fp_record_event_prepare); each child then opens its own SQLite connection
 * in child_init (never one inherited across fork), so that several children
 * insert side by side, prepares one INSERT and reuses it for every job;
 * child_fini finalizes and closes. Every job is one row of the table events.
 * Apart from prepare it must not be called in the supervisor, and it never
 * holds a statement or transaction open between jobs. */
#include "handlers/handlers.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "base/log.h"
#include "base/os.h"

#define RECORD_EVENT_DEFAULT_DB "events.db"
#define RECORD_EVENT_BUSY_MS 5000

static const char *const fields[] = {"action",    "timestamp", "org_id",
                                     "user_id",   "object_id", "object_type"};
#define FIELD_COUNT (sizeof fields / sizeof fields[0])

const char fp_record_event_create_sql[] =
    "CREATE TABLE IF NOT EXISTS events ("
    "id INTEGER PRIMARY KEY, action TEXT, timestamp TEXT, org_id TEXT, user_id TEXT,"
    " object_id TEXT, object_type TEXT)";
const char fp_record_event_insert_sql[] =
    "INSERT INTO events (action, timestamp, org_id, user_id, object_id, object_type)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

typedef struct record_event_s {
    sqlite3 *db;
    sqlite3_stmt *insert;
    int64_t busy_since_us; /* start of the current wait for the write lock */
} record_event_t;

/* SQLite's default busy handler sleeps 1, 2, 5, 10, 15... ms between tries.
 * Sibling children commit one row each and hold the write lock for tens of
 * microseconds, so those sleeps left the database idle most of the time
 * (4,000 rows/s with 4 children). Retrying after 50 us keeps the lock busy;
 * the total wait is bounded as before. */
static int on_busy(void *arg, int tries)
{
    record_event_t *re = arg;
    int64_t now = fp_os_now_us();
    if (tries == 0)
        re->busy_since_us = now;
    if (now - re->busy_since_us > (int64_t)RECORD_EVENT_BUSY_MS * 1000)
        return 0;
    struct timespec pause = {0, tries < 100 ? 50000 : 1000000};
    nanosleep(&pause, NULL);
    return 1;
}

static void record_event_fini(void *state)
{
    record_event_t *re = state;
    if (re == NULL)
        return;
    sqlite3_finalize(re->insert);
    sqlite3_close_v2(re->db);
    free(re);
}

/* The "database" string of [handlers.record_event], or the default. */
static int database_path(const fp_toml_node_t *table, const char **path, fp_err_t *err)
{
    *path = RECORD_EVENT_DEFAULT_DB;
    const fp_toml_node_t *db = table != NULL ? fp_toml_get(table, "database") : NULL;
    if (db == NULL)
        return 0;
    if (fp_toml_type(db) != FP_TOML_STRING)
        return fp_err_set_at(err, FP_ECONFIG, fp_toml_line(db), fp_toml_col(db),
                             "handlers.record_event.database must be a string, not %s",
                             fp_toml_type_name(fp_toml_type(db)));
    size_t len = 0;
    const char *s = fp_toml_string(db, &len);
    if (s == NULL || len == 0 || strlen(s) != len)
        return fp_err_set_at(err, FP_ECONFIG, fp_toml_line(db), fp_toml_col(db),
                             "handlers.record_event.database must be a non-empty path");
    *path = s;
    return 0;
}

/* journal_mode answers with the mode now in force. Anything but "wal" (a
 * file system without shared memory, ":memory:") still works, only with
 * children waiting on each other more: warn rather than stop every child.
 * Switching a new file to WAL needs its write lock while this statement
 * holds a read lock; two siblings doing it at once deadlock, and SQLite
 * answers one of them SQLITE_BUSY without calling the busy handler. The
 * supervisor switches the file before forking (fp_record_event_prepare), so
 * this only matters for a file replaced behind its back: the statement is
 * retried, as the busy handler would, for as long. */
static int set_wal(sqlite3 *db, const char *path, fp_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    int64_t start = fp_os_now_us();
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_BUSY &&
           fp_os_now_us() - start < (int64_t)RECORD_EVENT_BUSY_MS * 1000) {
        sqlite3_reset(st);
        rc = SQLITE_OK;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    if (rc != SQLITE_ROW) {
        rc = fp_err_set(err, FP_ECONFIG, "record_event: setting WAL mode on %s failed: %s", path,
                        sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return rc;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (mode == NULL || strcmp(mode, "wal") != 0)
        fp_log_warn("record_event", "%s stays in journal mode \"%s\", not WAL", path,
                    mode != NULL ? mode : "?");
    sqlite3_finalize(st);
    return 0;
}

/* Opens path in WAL mode with its table. With re, waits on locks through
 * on_busy (a child); without, through SQLite's own timeout (the
 * supervisor). The caller closes *db, also on failure. */
static int open_ready(const char *path, sqlite3 **db, record_event_t *re, fp_err_t *err)
{
    /* NOMUTEX: a child runs one job at a time on one thread. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK)
        return fp_err_set(err, FP_ECONFIG, "record_event: sqlite3_open_v2(%s) failed: %s", path,
                          *db != NULL ? sqlite3_errmsg(*db) : "out of memory");
    /* The busy handling comes first: switching to WAL and creating the table
     * take locks that a sibling child starting at the same moment may hold. */
    if (re != NULL)
        sqlite3_busy_handler(*db, on_busy, re);
    else
        sqlite3_busy_timeout(*db, RECORD_EVENT_BUSY_MS);
    int rc = set_wal(*db, path, err);
    if (rc == 0 && (sqlite3_exec(*db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
                    sqlite3_exec(*db, fp_record_event_create_sql, NULL, NULL, NULL) != SQLITE_OK))
        rc = fp_err_set(err, FP_ECONFIG, "record_event: preparing %s failed: %s", path,
                        sqlite3_errmsg(*db));
    return rc;
}

int fp_record_event_prepare(const fp_toml_node_t *table, fp_err_t *err)
{
    const char *path;
    int rc = database_path(table, &path, err);
    if (rc < 0)
        return rc;
    sqlite3 *db = NULL;
    rc = open_ready(path, &db, NULL, err);
    sqlite3_close_v2(db); /* before any fork: no child inherits it */
    return rc;
}

static int record_event_init(const fp_toml_node_t *table, void **state, fp_err_t *err)
{
    const char *path;
    int rc = database_path(table, &path, err);
    if (rc < 0)
        return rc;
    record_event_t *re = calloc(1, sizeof *re);
    if (re == NULL)
        return fp_err_set(err, -ENOMEM, "record_event: out of memory");
    if ((rc = open_ready(path, &re->db, re, err)) < 0)
        goto fail;
    if (sqlite3_prepare_v3(re->db, fp_record_event_insert_sql, -1, SQLITE_PREPARE_PERSISTENT,
                           &re->insert, NULL) != SQLITE_OK) {
        rc = fp_err_set(err, FP_ECONFIG, "record_event: preparing %s failed: %s", path,
                        sqlite3_errmsg(re->db));
        goto fail;
    }
    *state = re;
    return 0;

fail:
    record_event_fini(re);
    return rc;
}

/* Strings as text; integers as integers (the TEXT column stores their
 * decimal text); other numbers, booleans, arrays and objects as their JSON
 * text; null or missing as NULL. */
static int bind_field(sqlite3_stmt *st, int col, const cJSON *v)
{
    if (v == NULL || cJSON_IsNull(v))
        return sqlite3_bind_null(st, col);
    if (cJSON_IsString(v))
        return sqlite3_bind_text(st, col, v->valuestring, -1, SQLITE_STATIC);
    if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
        fabs(v->valuedouble) <= 9007199254740992.0)
        return sqlite3_bind_int64(st, col, (sqlite3_int64)v->valuedouble);
    char *text = cJSON_PrintUnformatted(v);
    if (text == NULL)
        return SQLITE_NOMEM;
    int rc = sqlite3_bind_text(st, col, text, -1, SQLITE_TRANSIENT);
    cJSON_free(text);
    return rc;
}

static void record_event_run(void *state, const cJSON *job, const cJSON *args,
                             fp_handler_result_t *res)
{
    record_event_t *re = state;
    if (!cJSON_IsObject(args)) {
        res->ok = false;
        res->retry = false;
        snprintf(res->error, sizeof res->error, "record_event needs an object in args");
        return;
    }
    sqlite3_reset(re->insert);
    sqlite3_clear_bindings(re->insert);
    int rc = SQLITE_OK;
    for (size_t i = 0; i < FIELD_COUNT && rc == SQLITE_OK; i++)
        rc = bind_field(re->insert, (int)i + 1, cJSON_GetObjectItemCaseSensitive(args, fields[i]));
    if (rc == SQLITE_OK)
        rc = sqlite3_step(re->insert);
    if (rc == SQLITE_DONE) {
        char text[64];
        snprintf(text, sizeof text, "{\"id\":%" PRId64 "}",
                 (int64_t)sqlite3_last_insert_rowid(re->db));
        res->result_json = strdup(text);
    } else {
        /* BUSY/LOCKED after the timeout, a full disk, an I/O error: all may
         * pass, so the job is retried. */
        res->ok = false;
        res->retry = true;
        snprintf(res->error, sizeof res->error, "record_event: INSERT failed: %s%s",
                 sqlite3_errmsg(re->db),
                 (rc & 0xff) == SQLITE_BUSY ? " (still busy after 5000 ms)" : "");
    }
    /* Release the statement's read/write locks before waiting for the next job. */
    sqlite3_reset(re->insert);
}

const fp_handler_t fp_handler_record_event = {"record_event", record_event_init, record_event_run,
                                              record_event_fini};
