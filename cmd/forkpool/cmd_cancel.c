/* cmd_cancel.c: `forkpool cancel ID`: a job that waits (ready: in the stream,
 * read by no daemon yet; or delayed) is removed and written to the dead
 * stream with the error `cancelled`, its unique key released, by one script
 * per queue (queue/cancel.h), in the queue --queue names or, without it,
 * the only queue whose keys hold the id (more than one: refused, exit 1,
 * naming them; nothing is cancelled). A job
 * a daemon already read is running: the same script marks it, and the
 * daemon holding it takes the mark within a second and stops it (exit 0,
 * "cancel requested"). A dead or unknown job is exit 1. Usage errors come before the
 * configuration, which comes before Redis: 64, 78, 69. On the embedded
 * queue the same, on the queue file (sqlq/cancel.h, fp_sqlq_cancel_in_queues). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sqlq/cancel.h"
#include "sqlq/open_flags.h"
#include "cli.h"
#include "embedded.h"
#include "field.h"
#include "job_args.h"
#include "base/term.h"
#include "queue/cancel.h"

#define CANCEL_TEXT_COLS 200 /* an id or a name on a terminal line */

/* The queues to look in: --queue's, else queues.names. */
static const char *const *names_of(const fp_config_t *cfg, const fp_job_args_t *a)
{
    return a->queue != NULL ? &a->queue : (const char *const *)cfg->queues.names.items;
}

static size_t count_of(const fp_config_t *cfg, const fp_job_args_t *a)
{
    return a->queue != NULL ? 1 : cfg->queues.names.count;
}

/* The first queue (in the order configured) whose keys hold the job; *queue
 * NULL when none does. */
static int cancel_redis(const fp_config_t *cfg, const fp_job_args_t *a, const char **queue,
                        fp_cancel_reply_t *c, fp_err_t *err)
{
    fp_admin_t *admin = NULL;
    int rc = fp_admin_connect(cfg, &admin, err);
    if (rc == 0)
        rc = fp_cancel_in_queues(admin, cfg, names_of(cfg, a), count_of(cfg, a), a->id, queue, c,
                                 err);
    fp_admin_free(admin);
    return rc;
}

/* Exit 1 with the reason for a job that was not cancelled. */
static int not_cancelled(const fp_job_args_t *a, const char *queue, const fp_cancel_reply_t *c,
                         fp_err_t *err)
{
    char id[1024], q[256];
    fp_term_cell(a->id, strlen(a->id), CANCEL_TEXT_COLS, id, sizeof id);
    if (queue == NULL)
        return fp_err_set(err, -ENOENT,
                          "job %s not found in %s (nothing cancelled; an id that is not an "
                          "entry id is looked for among the first %d entries of each key)",
                          id, a->queue != NULL ? "that queue" : "any queue of queues.names",
                          FP_JOB_LOOKUP_SCAN);
    fp_term_cell(queue, strlen(queue), 64, q, sizeof q);
    return fp_err_set(err, -ENOENT, "job %s is already dead in queue %s (dead entry %s); "
                      "nothing cancelled", id, q, c->dead_id.s);
}

/* Within how many seconds (rounded up) the daemon holding a running job has
 * stopped it: it takes the mark within FP_CANCEL_TAKE_MS, then a child that
 * does not stop on the cancel line gets the kill grace. */
static long long requested_within_s(const fp_config_t *cfg)
{
    int64_t ms = FP_CANCEL_TAKE_MS + cfg->pool.kill_grace_ms;
    return (long long)((ms + 999) / 1000);
}

static int print_requested_json(const fp_job_args_t *a, const fp_config_t *cfg,
                                const char *queue, const fp_cancel_reply_t *c, fp_err_t *err)
{
    cJSON *doc = cJSON_CreateObject();
    bool ok = doc != NULL && cJSON_AddStringToObject(doc, "id", a->id) != NULL &&
              cJSON_AddStringToObject(doc, "queue", queue) != NULL &&
              cJSON_AddBoolToObject(doc, "cancelled", 0) != NULL &&
              cJSON_AddBoolToObject(doc, "requested", 1) != NULL &&
              cJSON_AddStringToObject(doc, "was", "running") != NULL &&
              fp_cli_json_add(doc, "entry_id", fp_field_json_text(&c->entry_id)) &&
              fp_cli_json_add(doc, "consumer", fp_field_json_text(&c->consumer)) &&
              cJSON_AddNumberToObject(doc, "within_s", (double)requested_within_s(cfg)) != NULL;
    return fp_cli_print_json_line(doc, ok, err);
}

static void print_requested(const fp_config_t *cfg, const fp_cancel_reply_t *c)
{
    char who[1024];
    fp_term_cell(c->consumer.s, c->consumer.len, CANCEL_TEXT_COLS, who, sizeof who);
    printf("cancel requested; the daemon holding it (%s) stops it within ~%lld s\n", who,
           requested_within_s(cfg));
}

static int print_json(const fp_job_args_t *a, const char *queue, const fp_cancel_reply_t *c,
                      fp_err_t *err)
{
    cJSON *doc = cJSON_CreateObject();
    bool ok = doc != NULL && cJSON_AddStringToObject(doc, "id", a->id) != NULL &&
              cJSON_AddStringToObject(doc, "queue", queue) != NULL &&
              cJSON_AddBoolToObject(doc, "cancelled", 1) != NULL &&
              cJSON_AddStringToObject(doc, "was", c->was == FP_JOB_READY ? "ready" : "delayed") != NULL &&
              fp_cli_json_add(doc, "entry_id", fp_field_json_text(&c->entry_id)) &&
              fp_cli_json_add(doc, "dead_id", fp_field_json_text(&c->dead_id));
    return fp_cli_print_json_line(doc, ok, err);
}

/* The file is not created: a cancel of a job in a file nobody made is a
 * mistyped path. */
static int cancel_file(const fp_config_t *cfg, const fp_job_args_t *a, const char **queue,
                       fp_cancel_reply_t *c, fp_err_t *err)
{
    fp_sqlq_t *q = NULL;
    int rc = fp_sqlq_open_cfg(cfg, false, &q, err);
    if (rc == 0)
        rc = fp_sqlq_cancel_in_queues(q, names_of(cfg, a), count_of(cfg, a), a->id, queue, c,
                                      err);
    fp_sqlq_close(q);
    return rc;
}

int fp_cmd_cancel(int argc, char **argv, fp_err_t *err)
{
    fp_job_args_t a = {0};
    fp_config_t *cfg = NULL;
    fp_cancel_reply_t c = {0};
    const char *queue = NULL;
    int rc = fp_cli_begin(argc, argv, &fp_job_args_spec, &a, &cfg, err);
    if (rc < 0)
        return rc;
    if (fp_cli_embedded(cfg))
        rc = cancel_file(cfg, &a, &queue, &c, err);
    else
        rc = cancel_redis(cfg, &a, &queue, &c, err);
    if (rc == 0 && c.result == FP_CANCEL_RUNNING && a.json)
        rc = print_requested_json(&a, cfg, queue, &c, err);
    else if (rc == 0 && c.result == FP_CANCEL_RUNNING)
        print_requested(cfg, &c);
    else if (rc == 0 && c.result != FP_CANCEL_DONE)
        rc = not_cancelled(&a, queue, &c, err);
    else if (rc == 0 && a.json)
        rc = print_json(&a, queue, &c, err);
    else if (rc == 0)
        printf("cancelled (was %s)\n", c.was == FP_JOB_READY ? "ready" : "delayed");
    fp_cancel_reply_clear(&c);
    fp_config_free(cfg);
    return rc;
}
