/* fuzz_proto.c: the dispatch channel as a child or the supervisor reads it:
 * bytes arrive in reads of arbitrary sizes, the framer cuts lines (a small
 * limit, so the over-long path is taken too) and every line is decoded. The
 * first input byte picks the read size. */
#include <stddef.h>
#include <stdint.h>

#include "dispatch/proto.h"

#define MAX_LINE 512

static void on_line(void *ctx, const char *line, size_t len, int status)
{
    if (line == NULL)
        return; /* over the limit: the framer skips to the next newline */
    fp_msg_t msg;
    fp_err_t err;
    if (fp_proto_decode(line, len, &msg, &err) == 0)
        fp_msg_clear(&msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    fp_framer_t framer;
    fp_framer_init(&framer, MAX_LINE);
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (fp_framer_feed(&framer, (const char *)data + off, n, on_line, NULL) < 0)
            break;
    }
    fp_framer_free(&framer);
    return 0;
}
