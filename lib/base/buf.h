/* buf.h: the growable byte buffer every encoder appends to (channel lines,
 * JSON strings, HTTP bodies). Always NUL-terminated after len, so its text
 * can be handed to string functions without a copy. */
#ifndef FORKPOOL_BUF_H
#define FORKPOOL_BUF_H

#include <stddef.h>

typedef struct fp_buf_s {
    char *data;
    size_t len;
    size_t cap;
} fp_buf_t;

/* 0 or -ENOMEM (the buffer is then unchanged). */
int fp_buf_append(fp_buf_t *buf, const char *data, size_t len);
void fp_buf_consume(fp_buf_t *buf, size_t n); /* drops the first n bytes */
void fp_buf_free(fp_buf_t *buf);

#endif
