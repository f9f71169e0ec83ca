/* ui_assets.c: finding an embedded status-page file and its type
 * (ui_assets.h). The bytes are generated at build time. */
#include "http/ui_assets.h"

#include <stdbool.h>
#include <string.h>

const fp_ui_asset_t *fp_ui_asset_find(const char *path)
{
    for (size_t i = 0; i < fp_ui_assets_len; i++)
        if (strcmp(fp_ui_assets[i].path, path) == 0)
            return &fp_ui_assets[i];
    return NULL;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

const char *fp_ui_asset_type(const fp_ui_asset_t *a)
{
    if (ends_with(a->path, ".html"))
        return "text/html; charset=utf-8";
    if (ends_with(a->path, ".css"))
        return "text/css; charset=utf-8";
    if (ends_with(a->path, ".js"))
        return "text/javascript; charset=utf-8";
    return "application/octet-stream";
}
