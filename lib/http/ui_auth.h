/* ui_auth.h: who may use the status page's actions: a POST carrying the
 * configured health.admin_token in the X-Forkpool-Token header, compared in
 * constant time so the answer's timing says nothing about how much of a
 * guess was right. Pure. */
#ifndef FORKPOOL_UI_AUTH_H
#define FORKPOOL_UI_AUTH_H

/* 0 when given matches configured, 403 when it does not or is NULL
 * (absent), 404 when configured is "" or NULL (actions are off: as if the
 * route did not exist). */
int fp_ui_token_verdict(const char *configured, const char *given);

#endif
