/* buf.c: the growable byte buffer (base/buf.h). Capacity doubles from 256
 * bytes, so appending a line costs amortised O(1) and a long-lived buffer
 * (a child's channel) stops reallocating once it has seen its largest line. */
#include "base/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fp_buf_append(fp_buf_t *buf, const char *data, size_t len)
{
    if (buf->len + len + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 256;
        while (cap < buf->len + len + 1)
            cap *= 2;
        char *grown = realloc(buf->data, cap);
        if (grown == NULL)
            return -ENOMEM;
        buf->data = grown;
        buf->cap = cap;
    }
    if (len > 0)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

void fp_buf_consume(fp_buf_t *buf, size_t n)
{
    if (n >= buf->len) {
        buf->len = 0;
    } else {
        memmove(buf->data, buf->data + n, buf->len - n);
        buf->len -= n;
    }
    if (buf->data != NULL)
        buf->data[buf->len] = '\0';
}

void fp_buf_free(fp_buf_t *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}
