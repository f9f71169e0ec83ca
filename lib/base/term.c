/* term.c: terminal-safe table cells and the terminal's width. */
#include "base/term.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/utf8.h"

/* Bytes of the UTF-8 character at s (left bytes remain), 0 when invalid. */
static size_t utf8_char_len(const char *s, size_t left)
{
    unsigned char b = (unsigned char)s[0];
    size_t want = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return want <= left && fp_utf8_valid_prefix(s, want) == want ? want : 0;
}

/* Copies s into out (cap bytes) for a terminal: control bytes become spaces
 * and invalid UTF-8 '?', so no payload can drive the terminal; at most cols
 * characters, "..." marking a cut. Returns the characters written. */
size_t fp_term_cell(const char *s, size_t len, size_t cols, char *out, size_t cap)
{
    size_t i = 0, n = 0, used = 0;
    while (i < len && used < cols && n + 8 < cap) {
        size_t ch = utf8_char_len(s + i, len - i);
        if (ch == 0) {
            out[n++] = '?';
            i++;
        } else if (ch == 1) {
            unsigned char b = (unsigned char)s[i++];
            out[n++] = b < 0x20 || b == 0x7f ? ' ' : (char)b;
        } else {
            memcpy(out + n, s + i, ch);
            n += ch;
            i += ch;
        }
        used++;
    }
    if (i < len && cols >= 3) { /* cut: make room for "..." */
        while (used > cols - 3) {
            do
                n--;
            while (n > 0 && ((unsigned char)out[n] & 0xc0) == 0x80);
            used--;
        }
        memcpy(out + n, "...", 3);
        n += 3;
        used += 3;
    }
    out[n] = '\0';
    return used;
}

size_t fp_term_width(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    /* Not a terminal: $COLUMNS when set, else room for a long error line. */
    const char *env = getenv("COLUMNS");
    long v = env != NULL ? strtol(env, NULL, 10) : 0;
    return v > 0 && v < 10000 ? (size_t)v : 240;
}
