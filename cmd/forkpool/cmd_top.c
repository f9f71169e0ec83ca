/* cmd_top.c: `forkpool top`, a live view of the fleet, the queues and the
 * running jobs over plain Redis (the same connection as `stats`, no health
 * port) or over the embedded queue's file (top_embedded.c). Here: the
 * options, the session that reads Redis into samples (the deciding parts
 * are pure, in lib/top), and the text mode: when stdout is
 * not a terminal, or with --once, two samples one interval apart (so the
 * rates are measured) printed as one snapshot, laid out exactly as the
 * screen. The terminal's loop is top_curses.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/term.h"
#include "cli.h"
#include "embedded.h"
#include "queue/heartbeat.h"
#include "top_cmd.h"

#define INTERVAL_MIN_MS 100
#define INTERVAL_MAX_MS 3600000
#define DEAD_SHOWN 500 /* dead letters read for the view, over every queue */

typedef struct top_args_s {
    int64_t interval_ms;
    bool once;
} top_args_t;

enum { OPT_INTERVAL = 256, OPT_ONCE };

static int on_option(void *args, int id, const char *name, const char *value, fp_err_t *err)
{
    top_args_t *a = args;
    (void)name;
    if (id == OPT_ONCE) {
        a->once = true;
        return 0;
    }
    if (fp_cli_parse_duration("--interval", value, &a->interval_ms, err) < 0)
        return FP_EUSAGE;
    if (a->interval_ms < INTERVAL_MIN_MS || a->interval_ms > INTERVAL_MAX_MS)
        return fp_err_set(err, FP_EUSAGE, "--interval must be from 100ms to 1h, got \"%s\"",
                          value);
    return 0;
}

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"once", no_argument, NULL, OPT_ONCE},
    {NULL, 0, NULL, 0},
};
static const fp_cli_spec_t spec = {options, on_option, NULL, NULL};

/* ---- the session -------------------------------------------------------------- */

int64_t fp_top_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fp_top_session_init(fp_top_session_t *s, const fp_config_t *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->source = fp_cli_embedded(cfg) ? "the queue file" : NULL;
    if (fp_cli_embedded(cfg))
        snprintf(s->where, sizeof s->where, "file %s", cfg->sqlite.path);
    else
        snprintf(s->where, sizeof s->where, "prefix %s, group %s", cfg->redis.prefix,
                 cfg->redis.group);
}

void fp_top_queue_from_stats(const char *name, const fp_admin_queue_stats_t *st,
                             fp_top_queue_t *q)
{
    snprintf(q->name, sizeof q->name, "%s", name);
    q->ready = st->ready;
    q->ready_exact = st->ready_exact;
    q->pending = st->pending;
    q->delayed = st->delayed;
    q->dead = st->dead;
    q->oldest_age_ms = st->oldest_age_ms;
    q->added = st->entries_added;
    q->taken = st->entries_read;
}

static int read_queue(fp_top_session_t *s, const char *name, fp_top_queue_t *q, fp_err_t *err)
{
    fp_admin_queue_stats_t st;
    int rc = fp_admin_queue_stats(s->admin, name, &st, err);
    if (rc == 0)
        fp_top_queue_from_stats(name, &st, q);
    else
        q->added = q->taken = -1;
    fp_admin_queue_stats_clear(&st);
    return rc;
}

int fp_top_read_dead(const fp_dead_src_t *src, fp_top_sample_t *out, fp_err_t *err)
{
    if ((out->dead = calloc(DEAD_SHOWN, sizeof *out->dead)) == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < out->nqueues && out->ndead < DEAD_SHOWN; i++) {
        fp_dead_entry_t *e = NULL;
        size_t n = 0;
        const char *queue = out->queues[i].name;
        rc = fp_dead_src_read(src, queue, NULL, NULL, DEAD_SHOWN - out->ndead, &e, &n, err);
        for (size_t k = 0; rc == 0 && k < n; k++)
            fp_top_dead_from_entry(queue, &e[k], &out->dead[out->ndead++]);
        fp_admin_dead_free(e, n);
    }
    return rc;
}

static int read_sample(fp_top_session_t *s, bool dead, fp_top_sample_t *out, fp_err_t *err)
{
    const fp_config_t *cfg = s->cfg;
    size_t nq = cfg->queues.names.count;
    memset(out, 0, sizeof *out);
    if ((out->queues = calloc(nq > 0 ? nq : 1, sizeof *out->queues)) == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    for (; rc == 0 && out->nqueues < nq; out->nqueues++) {
        rc = read_queue(s, cfg->queues.names.items[out->nqueues], &out->queues[out->nqueues], err);
        out->dead_total += out->queues[out->nqueues].dead;
    }
    rc = rc == 0 ? fp_admin_fleet(s->admin, cfg->redis.prefix, &out->fleet, err) : rc;
    out->now_ms = out->fleet.now_ms;
    out->taken_ms = fp_top_clock_ms();
    fp_dead_src_t src = {.admin = s->admin};
    return rc == 0 && dead ? fp_top_read_dead(&src, out, err) : rc;
}

int fp_top_session_refresh(fp_top_session_t *s, bool dead)
{
    fp_top_sample_t next = {0};
    int rc;
    if (fp_cli_embedded(s->cfg)) {
        rc = fp_top_read_embedded(s->cfg, dead, &next, &s->error);
    } else {
        rc = s->admin == NULL ? fp_admin_connect(s->cfg, &s->admin, &s->error) : 0;
        rc = rc == 0 ? read_sample(s, dead, &next, &s->error) : rc;
    }
    s->failed = rc < 0;
    if (rc < 0) {
        fp_top_sample_clear(&next);
        fp_admin_free(s->admin);
        s->admin = NULL;
        return rc;
    }
    fp_top_apply_rates(s->have_sample ? &s->sample : NULL, &next);
    fp_top_sample_clear(&s->sample);
    s->sample = next;
    s->have_sample = true;
    return 0;
}

void fp_top_session_free(fp_top_session_t *s)
{
    fp_top_sample_clear(&s->sample);
    fp_admin_free(s->admin);
    s->admin = NULL;
}

/* ---- the text mode --------------------------------------------------------------- */

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Two samples interval_ms apart, then the main view as text. */
static int print_snapshot(fp_top_session_t *s, int64_t interval_ms, fp_err_t *err)
{
    int rc = fp_top_session_refresh(s, false);
    if (rc == 0) {
        sleep_ms(interval_ms);
        rc = fp_top_session_refresh(s, false);
    }
    if (rc < 0) {
        *err = s->error;
        return rc;
    }
    fp_top_view_t v = {.sample = &s->sample, .where = s->where, .source = s->source,
                       .interval_ms = interval_ms};
    fp_top_screen_t scr;
    rc = fp_top_layout(&v, fp_term_width(), SIZE_MAX, &scr);
    for (size_t i = 0; rc == 0 && i < scr.n; i++) {
        size_t len = strlen(scr.lines[i]);
        while (len > 0 && scr.lines[i][len - 1] == ' ')
            len--;
        printf("%.*s\n", (int)len, scr.lines[i]);
    }
    fp_top_screen_clear(&scr);
    if (rc < 0)
        return fp_err_set(err, rc, "out of memory");
    return fflush(stdout) == 0 ? 0 : fp_err_set(err, -EIO, "cannot write the snapshot");
}

int fp_cmd_top(int argc, char **argv, fp_err_t *err)
{
    top_args_t a = {.interval_ms = 1000};
    fp_config_t *cfg = NULL;
    int rc = fp_cli_begin(argc, argv, &spec, &a, &cfg, err);
    if (rc < 0)
        return rc;
    fp_top_session_t s;
    fp_top_session_init(&s, cfg);
    if (a.once || !isatty(STDOUT_FILENO))
        rc = print_snapshot(&s, a.interval_ms, err);
    else
        rc = fp_top_curses(&s, a.interval_ms, err);
    fp_top_session_free(&s);
    fp_config_free(cfg);
    return rc;
}
