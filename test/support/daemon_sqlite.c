/* daemon_sqlite.c: the daemon fixture on the embedded queue (daemon_sqlite.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlq/store.h"

fp_td_t *fp_td_new_sqlite(void)
{
    fp_td_t *td = calloc(1, sizeof *td);
    assert_non_null(td);
    fp_td_init_dir(td);
    return td;
}

int fp_td_setup_sqlite(void **state)
{
    *state = fp_td_new_sqlite();
    return 0;
}

void fp_td_queue_path(const fp_td_t *td, char *buf, size_t size)
{
    snprintf(buf, size, "%s/queue.db", td->dir);
}

void fp_td_config_sqlite(fp_td_t *td, const char *daemon_lines, const char *extra)
{
    char text[16384], db[4200];
    fp_td_queue_path(td, db, sizeof db);
    snprintf(text, sizeof text,
             "[daemon]\nname = \"test-consumer\"\n%s"
             "[sqlite]\npath = \"%s\"\n"
             "[health]\nlisten = \"127.0.0.1:%d\"\n"
             "[handlers.record_event]\ndatabase = \"%s\"\n"
             "%s",
             daemon_lines != NULL ? daemon_lines : "", db, td->health_port, td->events_db,
             extra != NULL ? extra : "");
    assert_int_equal(fp_th_write_file(td->config, text, strlen(text)), 0);
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void fp_td_sqlite_enqueue(fp_td_t *td, const char *queue, int count, const char *fmt,
                          int64_t delay_ms)
{
    char db[4200];
    fp_td_queue_path(td, db, sizeof db);
    fp_sqlq_t *q = NULL;
    fp_err_t err = {0};
    if (fp_sqlq_open(db, 0, &q, &err) < 0)
        fail_msg("cannot open %s: %s", db, err.msg);
    fp_sqlq_new_t *items = calloc((size_t)count, sizeof *items);
    char **texts = calloc((size_t)count, sizeof *texts);
    assert_true(items != NULL && texts != NULL);
    for (int i = 0; i < count; i++) {
        char job[4096]; /* room for a payload over a small limits.max_job_bytes */
        snprintf(job, sizeof job, fmt, i, i);
        texts[i] = strdup(job);
        assert_non_null(texts[i]);
        items[i] = (fp_sqlq_new_t){texts[i], strlen(texts[i]), delay_ms};
    }
    if (fp_sqlq_enqueue_batch(q, queue, items, (size_t)count, unix_ms(), NULL, &err) < 0)
        fail_msg("enqueue: %s", err.msg);
    for (int i = 0; i < count; i++)
        free(texts[i]);
    free(texts);
    free(items);
    fp_sqlq_close(q);
}

long long fp_td_qsql(const fp_td_t *td, const char *fmt, ...)
{
    char sql[2048], db[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    fp_td_queue_path(td, db, sizeof db);
    return fp_td_sql_at(db, "%s", sql);
}
#pragma GCC diagnostic pop

bool fp_td_qjobs_are(fp_td_t *td, void *arg)
{
    return fp_td_qsql(td, "SELECT count(*) FROM jobs") == *(long long *)arg;
}

bool fp_td_qdead_are(fp_td_t *td, void *arg)
{
    return fp_td_qsql(td, "SELECT count(*) FROM dead") == *(long long *)arg;
}
