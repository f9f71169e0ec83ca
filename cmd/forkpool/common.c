/* common.c: what every command shares: reading its command line, loading
 * the configuration, option values, printing JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "base/log.h"
#include "base/units.h"
#include "redis/redis_tls.h"
#include "redis/redis_url.h"

/* The Redis password, decoded and as written in the URL (they differ when
 * %-escaped), is kept out of every log line and error message from here on. */
static void hide_redis_password(const char *url)
{
    fp_redis_url_t u;
    if (fp_redis_url_parse(url, &u, NULL) == 0) {
        fp_log_add_secret(u.password);
        fp_redis_url_free(&u);
    }
    const char *sep = strstr(url, "://");
    const char *auth = sep != NULL ? sep + 3 : url;
    const char *at = *auth != '/' ? strrchr(auth, '@') : NULL; /* unix:///a@b.sock */
    if (at == NULL)
        return;
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    const char *from = colon != NULL ? colon + 1 : auth;
    char *raw = strndup(from, (size_t)(at - from));
    if (raw == NULL)
        return;
    fp_log_add_secret(raw);
    memset(raw, 0, strlen(raw));
    free(raw);
}

/* rediss://: every connection this process makes takes its TLS settings
 * from one context, loaded now so that a missing or unusable file is a
 * configuration error (78), in check-config too. */
static int setup_tls(const fp_config_t *cfg, const char *url, fp_err_t *err)
{
    if (strncasecmp(url, "rediss://", 9) != 0)
        return 0;
    fp_redis_tls_opts_t o = {cfg->redis.tls_ca, cfg->redis.tls_cert, cfg->redis.tls_key,
                             cfg->redis.tls_server_name};
    int rc = fp_redis_tls_setup(&o, err);
    if (rc < 0 && err != NULL)
        err->code = FP_ECONFIG;
    return rc < 0 ? FP_ECONFIG : 0;
}

int fp_cli_load_config(const char *cli_path, fp_config_t **out, fp_err_t *err)
{
    const char *path = fp_config_resolve_path(cli_path);
    int rc = fp_config_load(path, out, err);
    if (rc < 0) {
        if (err != NULL)
            err->code = FP_ECONFIG;
        return FP_ECONFIG;
    }
    hide_redis_password((*out)->redis.url);
    if ((*out)->redis.sentinel_password[0] != '\0')
        fp_log_add_secret((*out)->redis.sentinel_password);
    if ((rc = setup_tls(*out, (*out)->redis.url, err)) < 0) {
        fp_config_free(*out);
        *out = NULL;
    }
    return rc;
}

int fp_cli_redis_url_setup(const fp_config_t *cfg, const char *url, fp_err_t *err)
{
    hide_redis_password(url);
    /* One TLS context per process: loaded already when redis.url is rediss://. */
    if (strncasecmp(cfg->redis.url, "rediss://", 9) == 0)
        return 0;
    return setup_tls(cfg, url, err);
}

static int parse_options(int argc, char **argv, const fp_cli_spec_t *spec, void *args,
                         const char **config_path, fp_err_t *err)
{
    int opt, rc;
    opterr = 0;
    optind = 1;
    int index = -1;
    while ((opt = getopt_long(argc, argv, ":c:", spec->options, &index)) != -1) {
        /* The word getopt consumed last is the value when one follows the
         * option ("--children many"), so a parsed option is named from the
         * table; an unknown or incomplete one only by what was typed. */
        const char *typed = argv[optind - 1];
        char name[64];
        if (index >= 0)
            snprintf(name, sizeof name, "--%s", spec->options[index].name);
        else
            snprintf(name, sizeof name, "%s", typed);
        index = -1;
        switch (opt) {
        case 'c': *config_path = optarg; break;
        case ':': return fp_err_set(err, FP_EUSAGE, "%s needs a value", typed);
        case '?': return fp_err_set(err, FP_EUSAGE, "unknown option %s", typed);
        default:
            if ((rc = spec->on_option(args, opt, name, optarg, err)) < 0)
                return rc;
        }
    }
    if (spec->on_operands != NULL)
        return spec->on_operands(args, argc - optind, argv + optind, err);
    if (optind < argc)
        return spec->extra_words != NULL
                   ? fp_err_set(err, FP_EUSAGE, "%s", spec->extra_words)
                   : fp_err_set(err, FP_EUSAGE, "unexpected argument \"%s\"", argv[optind]);
    return 0;
}

int fp_cli_begin(int argc, char **argv, const fp_cli_spec_t *spec, void *args, fp_config_t **cfg,
                 fp_err_t *err)
{
    const char *config_path = NULL;
    int rc = parse_options(argc, argv, spec, args, &config_path, err);
    if (rc < 0)
        return rc;
    return fp_cli_load_config(config_path, cfg, err);
}

int fp_cli_parse_queue(const char *text, const char **queue, fp_err_t *err)
{
    if (text[0] == '\0')
        return fp_err_set(err, FP_EUSAGE, "--queue must not be empty");
    *queue = text;
    return 0;
}

int fp_cli_parse_duration(const char *option, const char *text, int64_t *ms, fp_err_t *err)
{
    if (fp_units_parse_duration_ms(text, ms, err) < 0) {
        fp_err_prefix(err, "%s", option);
        return err != NULL ? (err->code = FP_EUSAGE) : FP_EUSAGE;
    }
    return 0;
}

int fp_cli_parse_count(const char *option, const char *text, long long max, long long *out,
                       fp_err_t *err)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0 || v > max)
        return fp_err_set(err, FP_EUSAGE, "%s takes a whole number from 0 to %lld, got \"%s\"",
                          option, max, text);
    *out = v;
    return 0;
}

bool fp_cli_json_add(void *o, const char *name, void *item)
{
    if (o != NULL && item != NULL && cJSON_AddItemToObject(o, name, item))
        return true;
    cJSON_Delete(item);
    return false;
}

int fp_cli_print_json_line(void *doc, bool complete, fp_err_t *err)
{
    char *line = complete && doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (line == NULL)
        return fp_err_set(err, -ENOMEM, "out of memory");
    puts(line);
    cJSON_free(line);
    return 0;
}
