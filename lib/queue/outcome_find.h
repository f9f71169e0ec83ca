/* outcome_find.h: reading back one outcome from a batch's encoded script
 * arguments (queue_scripts.h: kind, id, then the kind's own arguments), so
 * a reply that names an entry (a retry the script turned into a cancel) can
 * be told the payload that outcome carried. Pure. */
#ifndef FORKPOOL_QUEUE_OUTCOME_FIND_H
#define FORKPOOL_QUEUE_OUTCOME_FIND_H

#include <stdbool.h>
#include <stddef.h>

/* The payload the outcome of entry id carries in args[0..len) (RESP bulk
 * strings as fp_resp_arg writes them): the third argument of a retry (r)
 * or put back (p), upper or lower case; *kind gets 'r' or 'p'. False when
 * id has no such outcome there, or the arguments are not well formed.
 * *payload points into args. */
bool fp_outcome_find_payload(const char *args, size_t len, const char *id, size_t id_len,
                             const char **payload, size_t *payload_len, char *kind);

#endif
