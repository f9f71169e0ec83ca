/* ui_assets.h: the status page's files (lib/http/ui/), compiled into the
 * binary by cmake/embed.cmake, and the look-up the page's routes use. The
 * page never reads the disk, so a packaged binary serves the page it was
 * built with. */
#ifndef FORKPOOL_UI_ASSETS_H
#define FORKPOOL_UI_ASSETS_H

#include <stddef.h>

typedef struct fp_ui_asset_s {
    const char *path;          /* the URL path: "/app.js" */
    const unsigned char *data; /* len bytes, then a NUL */
    size_t len;
} fp_ui_asset_t;

/* Generated: one row per file. */
extern const fp_ui_asset_t fp_ui_assets[];
extern const size_t fp_ui_assets_len;

/* The file served at path ("/index.html"...), NULL when there is none. */
const fp_ui_asset_t *fp_ui_asset_find(const char *path);

/* Its Content-Type, from the name's extension. */
const char *fp_ui_asset_type(const fp_ui_asset_t *a);

/* The headers every page response carries: a strict Content-Security-Policy
 * (nothing but this origin's own files and JSON; no inline script or style,
 * no frames), no MIME sniffing, no referrer, no framing. */
#define FP_UI_HEADERS                                                                  \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; " \
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "        \
    "frame-ancestors 'none'\r\n"                                                       \
    "X-Content-Type-Options: nosniff\r\n"                                              \
    "X-Frame-Options: DENY\r\n"                                                        \
    "Referrer-Policy: no-referrer\r\n"                                                 \
    "Cross-Origin-Resource-Policy: same-origin\r\n"

#endif
