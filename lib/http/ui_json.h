/* ui_json.h: the pieces of the status page's JSON that decide something:
 * what of a dead letter's payload is shown (cut at health.ui_payload_max
 * bytes, on a character boundary), a ledger failure row, a queue's row with
 * its in/out rates from two samples. Pure: values in, cJSON out. */
#ifndef FORKPOOL_UI_JSON_H
#define FORKPOOL_UI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ledger/ledger.h"
#include "queue/admin.h"

/* Errors shown on the page are cut to this many bytes. */
#define FP_UI_ERROR_MAX 1024

/* How many bytes of s[0..len) fit in max without splitting a UTF-8
 * character (a cut never ends inside a multi-byte sequence). */
size_t fp_ui_cut_len(const char *s, size_t len, size_t max);

/* Adds key: the text s[0..len) cut to max bytes (invalid UTF-8 replaced),
 * and, when it was cut, key_bytes: its full length and key_cut: true. s
 * NULL adds null. false on ENOMEM. */
bool fp_ui_add_cut(cJSON *o, const char *key, const char *s, size_t len, size_t max);

/* A dead entry of queue as the page shows it: id, queue, error, attempts,
 * failed_at (Unix ms), consumer, type and job id (when the payload parses
 * as a JSON object), payload (cut to payload_max). NULL on ENOMEM. */
cJSON *fp_ui_dead_json(const char *queue, const fp_dead_entry_t *e, size_t payload_max);

/* A ledger row (a failure) as the page shows it. NULL on ENOMEM. */
cJSON *fp_ui_failure_json(const fp_ledger_row_t *r);

/* Per second from a counter read twice: (now - before) / elapsed; -1 when
 * it cannot be told (a counter unknown (< 0), no time between, or the
 * counter went back, as when the stream was deleted). */
double fp_ui_rate(long long before, int64_t before_ms, long long now, int64_t now_ms);

#endif
