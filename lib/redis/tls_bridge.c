/* tls_bridge.c: the one-shot unix socket between hiredis and a TLS relay
 * (tls_bridge.h). */
#include "redis/tls_bridge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *tmp_dir(void)
{
    const char *t = getenv("TMPDIR");
    /* a long TMPDIR would not fit sun_path: /tmp always does */
    return t != NULL && t[0] == '/' && strlen(t) < 40 ? t : "/tmp";
}

int fp_tls_bridge_listen(fp_tls_bridge_t *b, char *why, size_t size)
{
    b->listen_fd = -1;
    snprintf(b->dir, sizeof b->dir, "%s/fp-tls-XXXXXX", tmp_dir());
    if (mkdtemp(b->dir) == NULL) { /* mode 0700 */
        snprintf(why, size, "cannot create a private directory in %s: %s", tmp_dir(),
                 strerror(errno));
        return -1;
    }
    snprintf(b->path, sizeof b->path, "%s/s", b->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, b->path, strlen(b->path) + 1);
    b->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (b->listen_fd < 0 || bind(b->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(b->listen_fd, 1) < 0) {
        snprintf(why, size, "cannot listen on %s: %s", b->path, strerror(errno));
        fp_tls_bridge_accept(b, NULL, 0); /* cleans up */
        return -1;
    }
    return 0;
}

int fp_tls_bridge_accept(fp_tls_bridge_t *b, char *why, size_t size)
{
    int fd = -1;
    if (b->listen_fd >= 0) {
        fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0 && why != NULL)
            snprintf(why, size, "no connection on %s: %s", b->path, strerror(errno));
        close(b->listen_fd);
        b->listen_fd = -1;
    }
    unlink(b->path);
    rmdir(b->dir);
    return fd;
}
