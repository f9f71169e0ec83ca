/* space.h: the kv space of a feature's values for one queue ("schedule:Q",
 * "unique:Q"), the embedded queue's counterpart of a Redis key P:{Q}:KIND:
 * the space keeps one queue's values apart from another's. */
#ifndef FORKPOOL_SQLQ_SPACE_H
#define FORKPOOL_SQLQ_SPACE_H

/* feature then queue ("unique:" "emails" -> "unique:emails"), owned
 * (free()); NULL when out of memory. */
char *fp_sqlq_space_of(const char *feature, const char *queue);

#endif
