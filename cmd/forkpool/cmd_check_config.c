/* cmd_check_config.c: `forkpool check-config` loads the configuration exactly
 * as `run` does and either names the first error or shows what is in effect. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "supervisor/privs.h"

/* rediss://: what every Redis connection verifies, with which files
 * (fp_cli_load_config has loaded them by now). */
static void print_tls(const fp_config_t *cfg)
{
    if (strncasecmp(cfg->redis.url, "rediss://", 9) != 0)
        return;
    const char *ca = cfg->redis.tls_ca, *cert = cfg->redis.tls_cert;
    const char *name = cfg->redis.tls_server_name;
    printf("  tls      on for every Redis connection: ca=%s client_cert=%s server_name=%s\n",
           ca[0] != '\0' ? ca : "(system store)", cert[0] != '\0' ? cert : "(none)",
           name[0] != '\0' ? name : "(the host connected to)");
}

static void print_summary(const fp_config_t *cfg, bool show_secrets)
{
    char *url = show_secrets ? strdup(cfg->redis.url) : fp_config_mask_url(cfg->redis.url);
    printf("%s: ok\n", cfg->source);
    printf("  daemon   name=%s log_level=%s\n", cfg->daemon.name,
           fp_log_level_name(cfg->daemon.log_level));
    if (cfg->redis.sentinels.count > 0) {
        /* The URL's host is not used in this form: show what is. */
        printf("  redis    sentinel master=%s sentinels=", cfg->redis.master_name);
        for (size_t i = 0; i < cfg->redis.sentinels.count; i++)
            printf("%s%s", i ? "," : "", cfg->redis.sentinels.items[i]);
        printf(" sentinel_password=%s url=%s (db and password only) prefix=%s group=%s\n",
               cfg->redis.sentinel_password[0] == '\0' ? "(none)"
               : show_secrets                          ? cfg->redis.sentinel_password
                                                       : "***",
               url ? url : "?", cfg->redis.prefix, cfg->redis.group);
    } else if (cfg->redis.cluster.count > 0) {
        /* The URL's host is not used in this form either. */
        printf("  redis    cluster seeds=");
        for (size_t i = 0; i < cfg->redis.cluster.count; i++)
            printf("%s%s", i ? "," : "", cfg->redis.cluster.items[i]);
        printf(" url=%s (user and password only) prefix=%s group=%s\n", url ? url : "?",
               cfg->redis.prefix, cfg->redis.group);
    } else {
        printf("  redis    single %s prefix=%s group=%s\n", url ? url : "?", cfg->redis.prefix,
               cfg->redis.group);
    }
    print_tls(cfg);
    printf("  queues  ");
    for (size_t i = 0; i < cfg->queues.names.count; i++)
        printf(" %s", cfg->queues.names.items[i]);
    char prefetch[24], pipeline[24];
    fp_config_auto_text(cfg->pool.prefetch, prefetch, sizeof prefetch);
    fp_config_auto_text(cfg->pool.pipeline, pipeline, sizeof pipeline);
    printf("\n  pool     %s, %lld children, prefetch %s, pipeline %s, max_held %lld, "
           "max_send_ahead_wait %lldms\n",
           cfg->pool.runtime == FP_RUNTIME_EXEC ? "exec" : "native",
           (long long)cfg->pool.children, prefetch, pipeline, (long long)cfg->pool.max_held,
           (long long)cfg->pool.max_send_ahead_wait_ms);
    printf("  health   %s\n", cfg->health.listen[0] ? cfg->health.listen : "(disabled)");
    printf("  ledger   %s\n", cfg->ledger.path[0] ? cfg->ledger.path : "(disabled)");
    for (size_t i = 0; i < cfg->schedules.count; i++) {
        const fp_schedule_t *s = &cfg->schedules.items[i];
        printf("  schedule %s: %s %s%s%s -> %s on %s\n", s->name, s->when.is_cron ? "cron" : "every",
               s->expr, s->when.is_cron ? " in " : "", s->when.is_cron ? s->tz->name : "",
               s->type, s->queue);
    }
    free(url);
}

/* Run as root with daemon.user set, the daemon re-reads this file on HUP
 * as that user: say so now if it could not. A warning, not an error: the
 * start itself (as root) would work. */
static void warn_unreadable_after_drop(const fp_config_t *cfg)
{
    fp_privs_plan_t privs;
    if (geteuid() != 0 || strcmp(cfg->source, "(defaults)") == 0 ||
        fp_privs_resolve(cfg->daemon.user, cfg->daemon.group, &privs, NULL) < 0 || !privs.drop)
        return;
    int rc = fp_privs_can_read(&privs, cfg->source);
    if (rc < 0)
        fprintf(stderr,
                "warning: %s: not readable as daemon.user \"%s\" / daemon.group %d (%s): "
                "reloads (HUP) would fail\n",
                cfg->source, privs.set_uid ? privs.user : "root", (int)privs.gid, strerror(-rc));
}

typedef struct check_args_s {
    bool print_json, show_secrets;
} check_args_t;

static int on_option(void *args, int id, const char *name, const char *value, fp_err_t *err)
{
    check_args_t *a = args;
    (void)name, (void)value, (void)err;
    if (id == 'j')
        a->print_json = true;
    else if (id == 's')
        a->show_secrets = true;
    return 0;
}

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'},
    {"print-json", no_argument, NULL, 'j'},
    {"show-secrets", no_argument, NULL, 's'},
    {NULL, 0, NULL, 0},
};
static const fp_cli_spec_t spec = {options, on_option, NULL, NULL};

int fp_cmd_check_config(int argc, char **argv, fp_err_t *err)
{
    check_args_t a = {0};
    fp_config_t *cfg = NULL;
    int rc = fp_cli_begin(argc, argv, &spec, &a, &cfg, err);
    if (rc < 0)
        return rc;
    warn_unreadable_after_drop(cfg);
    if (a.print_json) {
        char *json = fp_config_dump_json_opt(cfg, a.show_secrets);
        if (json == NULL) {
            fp_config_free(cfg);
            return fp_err_set(err, -ENOMEM, "out of memory");
        }
        printf("%s\n", json);
        free(json);
    } else {
        print_summary(cfg, a.show_secrets);
    }
    fp_config_free(cfg);
    return 0;
}
