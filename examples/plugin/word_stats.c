/* word_stats.c: an example forkpool plugin, and its documentation.
 *
 * Job:    {"type": "word_stats", "args": {"text": "The cat saw the other cat"}}
 * Result: {"words": 4, "top": "cat"}  (stop words such as "the" do not count)
 * Row:    word_stats(text_hash, words, top) in the SQLite file named by
 *
 *   [handlers.word_stats]
 *   database = "/var/lib/forkpool/words.db"
 *   stop_words = ["cat"]        # optional, added to the built-in list
 *
 * The hooks show where work belongs:
 *   init        (supervisor, once): the stop-word set, built before the fork
 *               and shared by every child copy-on-write;
 *   child_init  (each child): its own SQLite connection — a connection must
 *               never cross a fork;
 *   run         (each job): counting, one INSERT;
 *   child_fini / fini: close the connection / free the set.
 * Everything lives in one ws_t kept in ctx->state, no globals: init
 * allocates it, each child gets its own copy through fork and fills in
 * the connection fields of that copy.
 * Build: cc -shared -fPIC -o word_stats.so word_stats.c -lsqlite3 -lcjson */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "forkpool/plugin.h"

/* ---- init: a stop-word set (open addressing, FNV-1a), built once ---------- */

#define SET_SLOTS 4096 /* a power of two, far above the words it holds */
#define WORD_MAX 32    /* longer words are cut: enough for counting */

typedef struct ws_s {
    char stop_set[SET_SLOTS][WORD_MAX]; /* init's, shared copy-on-write */
    sqlite3 *db;                        /* this child's own */
    sqlite3_stmt *insert;
} ws_t;

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static size_t slot_of(const ws_t *ws, const char *w)
{
    size_t i = fnv1a(w, strlen(w)) & (SET_SLOTS - 1);
    while (ws->stop_set[i][0] != '\0' && strcmp(ws->stop_set[i], w) != 0)
        i = (i + 1) & (SET_SLOTS - 1);
    return i;
}

static int is_stop_word(const ws_t *ws, const char *w)
{
    return ws->stop_set[slot_of(ws, w)][0] != '\0';
}

static void add_stop_word(ws_t *ws, const char *w)
{
    char lower[WORD_MAX];
    size_t n = 0;
    for (; w[n] != '\0' && n < WORD_MAX - 1; n++)
        lower[n] = (char)tolower((unsigned char)w[n]);
    lower[n] = '\0';
    if (n > 0)
        memcpy(ws->stop_set[slot_of(ws, lower)], lower, n + 1);
}

static void ws_fini(fp_plugin_ctx_t *ctx)
{
    free(ctx->state);
    ctx->state = NULL;
}

static int ws_init(fp_plugin_ctx_t *ctx, char *err, size_t err_size)
{
    static const char *const english[] = {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have",
        "he", "her", "his", "i", "in", "is", "it", "its", "of", "on", "or", "she", "so", "that",
        "the", "their", "there", "they", "this", "to", "was", "we", "were", "with", "you"};
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(ctx->config, "stop_words");
    const cJSON *w;
    int ok = extra == NULL || cJSON_IsArray(extra);
    cJSON_ArrayForEach(w, extra) {
        ok = ok && cJSON_IsString(w);
    }
    if (!ok) {
        snprintf(err, err_size, "handlers.word_stats.stop_words must be an array of strings");
        return -1;
    }
    ws_t *ws = calloc(1, sizeof *ws);
    if (ws == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < sizeof english / sizeof english[0]; i++)
        add_stop_word(ws, english[i]);
    cJSON_ArrayForEach(w, extra) {
        add_stop_word(ws, w->valuestring);
    }
    ctx->state = ws;
    return 0;
}

/* ---- child_init / child_fini: this child's own database connection -------- */

static void ws_child_fini(fp_plugin_ctx_t *ctx)
{
    ws_t *ws = ctx->state;
    sqlite3_finalize(ws->insert);
    sqlite3_close_v2(ws->db);
    ws->insert = NULL;
    ws->db = NULL;
}

static int ws_child_init(fp_plugin_ctx_t *ctx, char *err, size_t err_size)
{
    ws_t *ws = ctx->state;
    const char *path =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ctx->config, "database"));
    if (path == NULL) {
        snprintf(err, err_size, "handlers.word_stats.database (a file name) is required");
        return -1;
    }
    if (sqlite3_open(path, &ws->db) != SQLITE_OK ||
        sqlite3_busy_timeout(ws->db, 5000) != SQLITE_OK ||
        sqlite3_exec(ws->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(ws->db,
                     "CREATE TABLE IF NOT EXISTS word_stats (id INTEGER PRIMARY KEY,"
                     " text_hash TEXT, words INTEGER, top TEXT)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ws->db,
                           "INSERT INTO word_stats (text_hash, words, top) VALUES (?1, ?2, ?3)",
                           -1, &ws->insert, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "%s: %s", path,
                 ws->db != NULL ? sqlite3_errmsg(ws->db) : "out of memory");
        ws_child_fini(ctx);
        return -1;
    }
    return 0;
}

/* ---- run: count the words that are not stop words, keep the most frequent -- */

typedef struct count_s {
    char word[WORD_MAX];
    long n;
} count_t;

static void ws_run(fp_plugin_ctx_t *ctx, const fp_plugin_job_t *job, fp_plugin_result_t *res)
{
    const ws_t *ws = ctx->state;
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job->args, "text"));
    if (text == NULL) {
        res->ok = 0;
        res->retry = 0; /* the same job would fail the same way */
        snprintf(res->error, res->error_size, "word_stats needs args.text, a string");
        return;
    }
    size_t len = strlen(text), slots = 64;
    while (slots < len) /* more slots than words: the probe below always ends */
        slots *= 2;
    count_t *counts = calloc(slots, sizeof *counts);
    if (counts == NULL) {
        res->ok = 0;
        snprintf(res->error, res->error_size, "out of memory");
        return;
    }
    long words = 0;
    const count_t *top = NULL;
    for (const char *p = text; *p != '\0';) {
        char w[WORD_MAX];
        size_t n = 0;
        for (; isalnum((unsigned char)*p) || *p == '\''; p++)
            if (n < WORD_MAX - 1)
                w[n++] = (char)tolower((unsigned char)*p);
        w[n] = '\0';
        if (*p != '\0' && n == 0)
            p++;
        if (n == 0 || is_stop_word(ws, w))
            continue;
        size_t i = fnv1a(w, n) & (slots - 1);
        while (counts[i].n > 0 && strcmp(counts[i].word, w) != 0)
            i = (i + 1) & (slots - 1);
        memcpy(counts[i].word, w, n + 1);
        counts[i].n++;
        words++;
        if (top == NULL || counts[i].n > top->n ||
            (counts[i].n == top->n && strcmp(counts[i].word, top->word) < 0))
            top = &counts[i];
    }

    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)fnv1a(text, len));
    sqlite3_bind_text(ws->insert, 1, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ws->insert, 2, words);
    if (top != NULL)
        sqlite3_bind_text(ws->insert, 3, top->word, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(ws->insert, 3);
    int rc = sqlite3_step(ws->insert);
    sqlite3_reset(ws->insert);
    if (rc != SQLITE_DONE) {
        res->ok = 0; /* retry stays 1: a busy database may well work next time */
        snprintf(res->error, res->error_size, "insert: %s", sqlite3_errmsg(ws->db));
    } else {
        res->result = cJSON_CreateObject();
        cJSON_AddNumberToObject(res->result, "words", (double)words);
        if (top != NULL)
            cJSON_AddStringToObject(res->result, "top", top->word);
        else
            cJSON_AddNullToObject(res->result, "top");
    }
    free(counts);
}

/* ---- the one exported symbol ---------------------------------------------- */

static const fp_plugin_handler_t handlers[] = {
    {"word_stats", ws_run},
    {NULL, NULL},
};

static const fp_plugin_t plugin = {
    .abi_version = FP_PLUGIN_ABI_VERSION,
    .name = "word_stats",
    .init = ws_init,
    .child_init = ws_child_init,
    .child_fini = ws_child_fini,
    .fini = ws_fini,
    .handlers = handlers,
};

const fp_plugin_t *fp_plugin_entry(void)
{
    return &plugin;
}
