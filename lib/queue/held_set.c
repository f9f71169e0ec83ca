/* held_set.c: the entries a queue holds (see held_set.h). */
#include "queue/held_set.h"

#include <errno.h>
#include <stdlib.h>

static size_t held_hash(uint32_t queue, uint64_t ms, uint64_t seq)
{
    uint64_t h = ms * UINT64_C(0x9E3779B97F4A7C15) ^ (seq + ((uint64_t)queue << 40));
    h ^= h >> 29;
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    h ^= h >> 32;
    return (size_t)h;
}

static size_t held_find(const fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    size_t i = held_hash(queue, ms, seq) & s->mask;
    while (s->slots[i].used &&
           !(s->slots[i].ms == ms && s->slots[i].seq == seq && s->slots[i].queue == queue))
        i = (i + 1) & s->mask;
    return i;
}

bool fp_held_set_has(const fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    return s->slots != NULL && s->slots[held_find(s, queue, ms, seq)].used;
}

fp_held_entry_t *fp_held_set_get(fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    if (s->slots == NULL)
        return NULL;
    fp_held_entry_t *slot = &s->slots[held_find(s, queue, ms, seq)];
    return slot->used ? slot : NULL;
}

static int held_grow(fp_held_set_t *s)
{
    size_t cap = s->slots != NULL ? (s->mask + 1) * 2 : 64;
    fp_held_entry_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -ENOMEM;
    fp_held_set_t grown = {slots, cap - 1, s->count};
    for (size_t i = 0; s->slots != NULL && i <= s->mask; i++)
        if (s->slots[i].used)
            grown.slots[held_find(&grown, s->slots[i].queue, s->slots[i].ms, s->slots[i].seq)] =
                s->slots[i];
    free(s->slots);
    *s = grown;
    return 0;
}

fp_held_entry_t *fp_held_set_put(fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    if ((s->slots == NULL || (s->count + 1) * 2 > s->mask + 1) && held_grow(s) < 0)
        return NULL;
    size_t i = held_find(s, queue, ms, seq);
    if (!s->slots[i].used) {
        s->slots[i] = (fp_held_entry_t){ms, seq, queue, FP_ENTRY_USED, 0};
        s->count++;
    }
    return &s->slots[i];
}

int fp_held_set_add(fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    return fp_held_set_put(s, queue, ms, seq) != NULL ? 0 : -ENOMEM;
}

void fp_held_set_remove(fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    if (s->slots == NULL)
        return;
    size_t i = held_find(s, queue, ms, seq);
    if (!s->slots[i].used)
        return;
    /* Shift later members of the probe run back so lookups never stop early. */
    for (size_t j = (i + 1) & s->mask; s->slots[j].used; j = (j + 1) & s->mask) {
        size_t k = held_hash(s->slots[j].queue, s->slots[j].ms, s->slots[j].seq) & s->mask;
        bool movable = i <= j ? (k <= i || k > j) : (k <= i && k > j);
        if (movable) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    s->slots[i].used = 0;
    s->count--;
}

void fp_held_set_clear(fp_held_set_t *s)
{
    free(s->slots);
    *s = (fp_held_set_t){0};
}
