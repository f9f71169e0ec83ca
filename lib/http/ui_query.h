/* ui_query.h: reading one argument of a query string
 * (application/x-www-form-urlencoded: "queue=a&id=1-0", %XX and '+'
 * decoded), for the status page's POST actions. Pure. */
#ifndef FORKPOOL_UI_QUERY_H
#define FORKPOOL_UI_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/* The first value of name in query, decoded into out (NUL-terminated): true
 * when present, decodable, free of control bytes and fits in cap bytes. */
bool fp_ui_query_get(const char *query, const char *name, char *out, size_t cap);

#endif
