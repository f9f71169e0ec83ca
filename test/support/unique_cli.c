/* unique_cli.c: the unique jobs tests' shared steps (unique_cli.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "unique_cli.h"

bool fp_td_unique_line(const char *line, char *id, size_t cap)
{
    const char *p = strstr(line, "\"id\":\"");
    assert_non_null(p);
    p += 6;
    size_t n = strcspn(p, "\"");
    assert_true(n < cap);
    memcpy(id, p, n);
    id[n] = '\0';
    return strstr(line, "\"duplicate\":true") != NULL;
}

void fp_td_open_gate(const fp_td_t *td)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/gate", td->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}
