/* toml2json: the toml-test decoder for forkpool's TOML reader. It reads a
 * whole document from stdin (any size, NUL bytes included), prints the tagged
 * JSON form on stdout and exits 0; invalid input gets one line
 * "LINE:COL: reason" on stderr and exit status 1. Exit status 2 means the
 * tool itself failed (I/O, memory). */
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "toml/toml.h"

static char *read_all(FILE *in, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n == cap) {
            char *nb = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (nb == NULL)
                break;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, in);
        n += got;
        if (got == 0) {
            if (ferror(in))
                break;
            *len = n;
            return buf;
        }
    }
    free(buf);
    return NULL;
}

int main(void)
{
    size_t len = 0;
    char *text = read_all(stdin, &len);
    if (text == NULL) {
        fprintf(stderr, "toml2json: cannot read stdin\n");
        return 2;
    }
    fp_err_t err = {0};
    fp_toml_node_t *root = fp_toml_parse(text, len, &err);
    free(text);
    if (root == NULL) {
        fprintf(stderr, "%d:%d: %s\n", err.line, err.col, err.msg);
        return err.code == FP_ETOML || err.code == FP_ELIMIT ? 1 : 2;
    }
    cJSON *json = fp_toml_to_json(root, true);
    fp_toml_free(root);
    char *out = json != NULL ? cJSON_Print(json) : NULL;
    cJSON_Delete(json);
    if (out == NULL) {
        fprintf(stderr, "toml2json: out of memory\n");
        return 2;
    }
    int rc = fputs(out, stdout) >= 0 && fputc('\n', stdout) != EOF && fflush(stdout) == 0 ? 0 : 2;
    cJSON_free(out);
    return rc;
}
