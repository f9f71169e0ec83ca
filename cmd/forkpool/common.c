/* common.c: option helpers every command shares. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "base/log.h"
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
