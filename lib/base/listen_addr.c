/* listen_addr.c: "host:port" / "[IPv6]:port" into a socket address, with the
 * reason a text is refused. Only literals and "localhost": resolving names
 * would make a configuration's validity depend on DNS, and a lookup would
 * block the supervisor's loop. */
#include "base/listen_addr.h"
#include "base/text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Port 0 asks the kernel for a free port (logged at start): for tests and
 * for several daemons on one host that are scraped through /stats files. */
static int parse_port(const char *p, int *port, char *buf, size_t size)
{
    size_t n = strspn(p, "0123456789");
    long v = n > 0 && n <= 5 && p[n] == '\0' ? strtol(p, NULL, 10) : -1;
    if (v < 0 || v > 65535)
        return fp_text_why(buf, size, "must end in a port from 0 to 65535 (\"127.0.0.1:9187\")");
    *port = (int)v;
    return 0;
}

/* The host part of "[IPv6]:port" into out; *port_text: where the port starts. */
static int parse_v6(const char *s, fp_listen_addr_t *out, const char **port_text, char *buf,
                    size_t size)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
    const char *close = strchr(s, ']');
    size_t n = close != NULL ? (size_t)(close - s - 1) : 0;
    char host[64];
    if (close == NULL || close[1] != ':' || n == 0 || n >= sizeof host)
        return fp_text_why(buf, size, "must be \"[IPv6]:port\" when it starts with '['");
    memcpy(host, s + 1, n);
    host[n] = '\0';
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
        return fp_text_why(buf, size, "has an invalid IPv6 address between '[' and ']'");
    sin6->sin6_family = AF_INET6;
    out->len = sizeof *sin6;
    *port_text = close + 2;
    return 0;
}

/* The host part of "host:port" into out; *port_text: where the port starts. */
static int parse_v4(const char *s, fp_listen_addr_t *out, const char **port_text, char *buf,
                    size_t size)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
    const char *colon = strrchr(s, ':');
    char host[64];
    if (colon == NULL)
        return fp_text_why(buf, size,
                           "must be \"host:port\", such as \"127.0.0.1:9187\" (\"\" disables)");
    size_t n = (size_t)(colon - s);
    if (memchr(s, ':', n) != NULL)
        return fp_text_why(buf, size, "must put an IPv6 address in brackets (\"[::1]:9187\")");
    if (n == 0 || n >= sizeof host)
        return fp_text_why(buf, size, "must name a host before the port (\"127.0.0.1:9187\")");
    memcpy(host, s, n);
    host[n] = '\0';
    /* 127.0.0.1 rather than a lookup: no IPv4/IPv6 guess either. */
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return fp_text_why(buf, size, "must use an IPv4 address, \"localhost\" or [IPv6] as host");
    sin->sin_family = AF_INET;
    out->len = sizeof *sin;
    *port_text = colon + 1;
    return 0;
}

int fp_listen_parse(const char *text, fp_listen_addr_t *out, char *why, size_t size)
{
    const char *port_text = NULL;
    memset(out, 0, sizeof *out);
    if (text == NULL || text[0] == '\0') {
        out->off = true;
        return 0;
    }
    int rc = text[0] == '[' ? parse_v6(text, out, &port_text, why, size)
                            : parse_v4(text, out, &port_text, why, size);
    if (rc < 0 || parse_port(port_text, &out->port, why, size) < 0)
        return -1;
    uint16_t port = htons((uint16_t)out->port);
    if (out->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&out->ss)->sin6_port = port;
    else
        ((struct sockaddr_in *)&out->ss)->sin_port = port;
    return 0;
}
