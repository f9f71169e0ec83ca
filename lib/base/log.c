/* log.c: the one logger. A line is formatted into a stack buffer and written
 * with a single write(2) to an O_APPEND fd, so lines from the supervisor, its
 * threads and its children never interleave, and nothing sits in a stdio
 * buffer when the supervisor forks. It never allocates. */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 8192

static fp_log_level_t g_level = FP_LOG_INFO;
static fp_log_format_t g_format = FP_LOG_TEXT;
static char g_path[4096];
/* Read by any thread on every line, replaced on the loop thread by reopen. */
static atomic_int g_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Secrets never written, whatever message carries them (a hiredis error, a
 * server reply, a URL in a message someone adds later). Set once at start-up
 * before any thread or child exists; children inherit them with the memory. */
#define SECRETS_MAX 4
#define SECRET_MIN 3 /* shorter ones would blank common text and hide nothing */
static char *g_secrets[SECRETS_MAX]; /* whole: a cut copy would leave the tail in clear */
static size_t g_nsecrets;

const char *fp_log_level_name(fp_log_level_t level)
{
    if ((unsigned)level < sizeof level_names / sizeof level_names[0])
        return level_names[level];
    return "info";
}

int fp_log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

static int open_log(const char *path, int extra_flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | extra_flags, 0640);
    return fd < 0 ? -errno : fd;
}

static int setup(fp_log_level_t level, fp_log_format_t format, const char *path,
                 int extra_flags)
{
    int fd = 2;
    if (path != NULL && *path != '\0') {
        if (strlen(path) >= sizeof g_path)
            return -ENAMETOOLONG;
        fd = open_log(path, extra_flags);
        if (fd < 0)
            return fd;
    }
    g_level = level;
    g_format = format;
    int old = atomic_exchange(&g_fd, fd);
    if (old > 2)
        close(old);
    if (fd > 2)
        snprintf(g_path, sizeof g_path, "%s", path);
    else
        g_path[0] = '\0';
    return 0;
}

int fp_log_setup(fp_log_level_t level, fp_log_format_t format, const char *path)
{
    return setup(level, format, path, 0);
}

int fp_log_setup_nofollow(fp_log_level_t level, fp_log_format_t format, const char *path)
{
    return setup(level, format, path, O_NOFOLLOW);
}

int fp_log_reopen(void)
{
    if (g_path[0] == '\0')
        return 0;
    int fd = open_log(g_path, 0);
    if (fd < 0)
        return fd;
    int old = atomic_exchange(&g_fd, fd);
    if (old > 2)
        close(old);
    return 0;
}

void fp_log_close(void)
{
    int old = atomic_exchange(&g_fd, 2);
    if (old > 2)
        close(old);
    g_path[0] = '\0';
}

int fp_log_fd(void)
{
    return atomic_load(&g_fd);
}

void fp_log_add_secret(const char *secret)
{
    size_t n = secret != NULL ? strlen(secret) : 0;
    if (n < SECRET_MIN || g_nsecrets == SECRETS_MAX)
        return;
    for (size_t i = 0; i < g_nsecrets; i++)
        if (strcmp(g_secrets[i], secret) == 0)
            return;
    char *copy = strdup(secret);
    if (copy != NULL)
        g_secrets[g_nsecrets++] = copy;
}

void fp_log_redact(char *s)
{
    for (size_t i = 0; s != NULL && i < g_nsecrets; i++) {
        size_t n = strlen(g_secrets[i]);
        char *p, *from = s;
        /* On after the mask: a secret that the mask completes (or "***"
         * itself) would otherwise be found again for ever. */
        while ((p = strstr(from, g_secrets[i])) != NULL) {
            memcpy(p, "***", 3);
            memmove(p + 3, p + n, strlen(p + n) + 1);
            from = p + 3;
        }
    }
}

void fp_log_redact_cut(char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;
    for (size_t i = 0; i < g_nsecrets; i++) {
        size_t n = strlen(g_secrets[i]);
        for (size_t k = n - 1 < len ? n - 1 : len; k > 0; k--) {
            if (memcmp(s + len - k, g_secrets[i], k) == 0) {
                memset(s + len - k, '*', k);
                break;
            }
        }
    }
}

bool fp_log_enabled(fp_log_level_t level)
{
    return level >= g_level;
}

/* A bounded appender: writes what fits and always leaves room for "\n". */
typedef struct line_s {
    char buf[LINE_MAX_BYTES];
    size_t len;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    size_t room = sizeof l->buf - 1 - l->len;
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(line_t *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Line separators beyond ASCII that editors, Python's splitlines and
 * JavaScript also break lines at: NEL, U+2028, U+2029 (UTF-8). The length
 * of the sequence at s, 0 when none. */
static size_t unicode_break_len(const unsigned char *s)
{
    if (s[0] == 0xC2 && s[1] == 0x85)
        return 2;
    if (s[0] == 0xE2 && s[1] == 0x80 && (s[2] == 0xA8 || s[2] == 0xA9))
        return 3;
    return 0;
}

/* Writes the escape for what starts at s when it could end or disguise a
 * line (control characters, DEL, Unicode line breaks); returns the bytes it
 * stands for, 0 when s[0] is ordinary. Text from jobs, errors and worker
 * output reaches the log, and must not forge lines that look like ours. */
static size_t put_control_escaped(line_t *l, const char *s, bool json)
{
    const unsigned char *u = (const unsigned char *)s;
    char esc[16];
    size_t n = unicode_break_len(u);
    if (n > 0) {
        snprintf(esc, sizeof esc, "\\u%04x", n == 2 ? 0x85u : 0x2028u + (u[2] - 0xA8u));
        put(l, esc, 6);
        return n;
    }
    if (u[0] >= 0x20 && u[0] != 0x7f)
        return 0;
    if (u[0] == '\n')
        put(l, "\\n", 2);
    else if (u[0] == '\r')
        put(l, "\\r", 2);
    else if (u[0] == '\t')
        put(l, json ? "\\t" : "\t", json ? 2 : 1);
    else
        put(l, esc, (size_t)snprintf(esc, sizeof esc, json ? "\\u%04x" : "\\x%02x", u[0]));
    return 1;
}

/* JSON string body: quotes, backslashes and control characters escaped; at
 * most max_raw input bytes are taken. */
static void put_json_escaped(line_t *l, const char *s, size_t max_raw)
{
    for (size_t i = 0; s[i] != '\0' && i < max_raw;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = put_control_escaped(l, s + i, true);
        if (n > 0) {
            i += n;
            continue;
        }
        if (c == '"' || c == '\\')
            put(l, "\\", 1);
        put(l, s + i, 1);
        i++;
    }
}

/* Text lines stay one line: control characters and line breaks are written
 * as escapes (\n, \x1b), so no caller's text can start a line. */
static void put_text_flat(line_t *l, const char *s)
{
    while (*s != '\0') {
        size_t n = put_control_escaped(l, s, false);
        if (n == 0)
            put(l, s, n = 1);
        s += n;
    }
}

static void put_timestamp(line_t *l)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[80];
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    puts_(l, stamp);
}

static void format_text(line_t *l, fp_log_level_t level, const char *component,
                        const char *const *kv, const char *msg)
{
    char head[32];
    put_timestamp(l);
    snprintf(head, sizeof head, " %-5s ", fp_log_level_name(level));
    puts_(l, head);
    put_text_flat(l, component);
    puts_(l, ": ");
    put_text_flat(l, msg);
    for (; kv != NULL && kv[0] != NULL && kv[1] != NULL; kv += 2) {
        puts_(l, " ");
        put_text_flat(l, kv[0]);
        puts_(l, "=");
        put_text_flat(l, kv[1]);
    }
}

/* max_raw bounds every string taken from the caller; see vlog for why. */
static void format_json(line_t *l, fp_log_level_t level, const char *component,
                        const char *const *kv, const char *msg, size_t max_raw)
{
    puts_(l, "{\"ts\":\"");
    put_timestamp(l);
    puts_(l, "\",\"level\":\"");
    puts_(l, fp_log_level_name(level));
    puts_(l, "\",\"component\":\"");
    put_json_escaped(l, component, max_raw);
    puts_(l, "\",\"msg\":\"");
    put_json_escaped(l, msg, max_raw);
    puts_(l, "\"");
    for (; kv != NULL && kv[0] != NULL && kv[1] != NULL; kv += 2) {
        puts_(l, ",\"");
        put_json_escaped(l, kv[0], max_raw);
        puts_(l, "\":\"");
        put_json_escaped(l, kv[1], max_raw);
        puts_(l, "\"");
    }
    puts_(l, "}");
}

static size_t count_kv(const char *const *kv)
{
    size_t n = 0;
    while (kv != NULL && kv[n] != NULL && kv[n + 1] != NULL)
        n += 2;
    return n;
}

/* A JSON line cut at the buffer's end would not parse. If the full line does
 * not fit, format it again with every string clipped so that even when each
 * byte needs a six-byte escape the whole object fits. */
static void build_json(line_t *l, fp_log_level_t level, const char *component,
                       const char *const *kv, const char *msg)
{
    format_json(l, level, component, kv, msg, SIZE_MAX);
    if (l->len < sizeof l->buf - 1)
        return;
    size_t strings = 2 + count_kv(kv);
    size_t fixed = 64 + 6 * strings; /* timestamp, level, quotes, separators */
    size_t budget = (sizeof l->buf - 1 - fixed) / 6 / strings;
    l->len = 0;
    format_json(l, level, component, kv, msg, budget);
}

static __attribute__((format(printf, 4, 0))) void vlog(fp_log_level_t level,
                                                      const char *component,
                                                      const char *const *kv, const char *fmt,
                                                      va_list ap)
{
    if (!fp_log_enabled(level))
        return;
    int saved_errno = errno;
    char msg[LINE_MAX_BYTES / 2];
    bool cut = vsnprintf(msg, sizeof msg, fmt, ap) >= (int)sizeof msg;
    fp_log_redact(msg);
    if (cut)
        fp_log_redact_cut(msg);
    line_t l;
    l.len = 0;
    if (g_format == FP_LOG_JSON)
        build_json(&l, level, component, kv, msg);
    else
        format_text(&l, level, component, kv, msg);
    l.buf[l.len++] = '\n';
    int fd = atomic_load(&g_fd);
    const char *p = l.buf;
    size_t left = l.len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* Nowhere left to report a logging failure. */
        p += w;
        left -= (size_t)w;
    }
    errno = saved_errno;
}

void fp_log(fp_log_level_t level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, component, NULL, fmt, ap);
    va_end(ap);
}

void fp_log_kv(fp_log_level_t level, const char *component, const char *const *kv,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, component, kv, fmt, ap);
    va_end(ap);
}
