/* top_curses.c: `forkpool top` on a terminal, through ncurses: read a
 * sample every interval, lay the view out for the terminal's size
 * (lib/top, pure) and copy its lines to the screen; keys change the view
 * and redraw at once. Nothing here decides what is shown. A Redis that
 * cannot be read is a line on the screen, retried every interval; INT and
 * TERM end the view like q, so the terminal is always given back. */
#include <errno.h>
#include <curses.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "top_cmd.h"

static volatile sig_atomic_t stop_asked;

static void on_stop(int sig)
{
    (void)sig;
    stop_asked = 1;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static attr_t attr_of(fp_top_attr_t a)
{
    switch (a) {
    case FP_TOP_HEADING: return A_REVERSE;
    case FP_TOP_TITLE: return A_BOLD;
    case FP_TOP_WARN: return A_BOLD | A_STANDOUT;
    default: return A_NORMAL;
    }
}

static void draw(const fp_top_view_t *v)
{
    fp_top_screen_t scr;
    erase();
    if (fp_top_layout(v, (size_t)COLS, (size_t)LINES, &scr) == 0) {
        for (size_t i = 0; i < scr.n; i++) {
            attrset(attr_of(scr.attrs[i]));
            mvaddstr((int)i, 0, scr.lines[i]);
            if (scr.attrs[i] == FP_TOP_HEADING) /* the bar spans the width */
                for (int x = getcurx(stdscr); x > 0 && x < COLS; x++)
                    addch(' ');
        }
    }
    attrset(A_NORMAL);
    fp_top_screen_clear(&scr);
    refresh();
}

/* One key on view; false for quit. *reread: the dead letters must be read. */
static bool on_key(int ch, fp_top_view_t *v, bool *reread)
{
    if (ch == 'q' || ch == 'Q')
        return false;
    if (v->help) { /* any other key closes the help */
        v->help = ch == KEY_RESIZE;
        return true;
    }
    if (ch == 's')
        v->sort = fp_top_sort_next(v->sort);
    else if (ch == 'd')
        *reread = v->dead_view = !v->dead_view;
    else if (ch == '?')
        v->help = true;
    return true;
}

int fp_top_curses(fp_top_session_t *s, int64_t interval_ms, fp_err_t *err)
{
    setlocale(LC_ALL, "");
    if (initscr() == NULL)
        return fp_err_set(err, -ENOTTY, "cannot set up the terminal (TERM=%s)",
                          getenv("TERM") != NULL ? getenv("TERM") : "");
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    catch_stop_signals();
    fp_top_view_t v = {.where = s->where, .source = s->source, .interval_ms = interval_ms};
    int64_t due = 0;
    for (bool running = true; running && !stop_asked;) {
        int64_t now = fp_top_clock_ms();
        if (now >= due) {
            fp_top_session_refresh(s, v.dead_view);
            due = fp_top_clock_ms() + interval_ms;
        }
        v.sample = s->have_sample ? &s->sample : NULL;
        v.error = s->failed ? s->error.msg : NULL;
        draw(&v);
        int64_t wait = due - fp_top_clock_ms();
        timeout(wait > 0 ? (int)wait : 0);
        int ch = getch();
        bool reread = false;
        if (ch != ERR)
            running = on_key(ch, &v, &reread);
        if (reread)
            due = 0;
    }
    endwin();
    return 0;
}
