/* held.c: the held-job table: the waiting list, each child's list, and the
 * count of jobs held (see held.h). Pure data: no I/O, no clock. */
#include "dispatch/held.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

fp_held_t *fp_held_new(fp_held_table_t *table)
{
    fp_held_t *held = calloc(1, sizeof *held);
    if (held != NULL)
        table->count++;
    return held;
}

void fp_held_free(fp_held_t *held)
{
    if (held == NULL)
        return;
    fp_job_clear(&held->job);
    free(held->limit_lease);
    free(held->entry_id);
    free(held->payload);
    free(held);
}

void fp_held_release(fp_held_table_t *table, fp_held_t *held)
{
    table->count--;
    if (table->on_release != NULL)
        table->on_release(table->ctx, held);
    fp_held_free(held);
}

const char *fp_held_name(const fp_held_t *held)
{
    return held->job.id != NULL ? held->job.id : held->entry_id;
}

/* The waiting list and each child's list are the same FIFO, kept as a head
 * and a tail pointer where they live. */
static void fifo_push(fp_held_t **head, fp_held_t **tail, fp_held_t *held)
{
    held->next = NULL;
    if (*tail != NULL)
        (*tail)->next = held;
    else
        *head = held;
    *tail = held;
}

static fp_held_t *fifo_pop(fp_held_t **head, fp_held_t **tail)
{
    fp_held_t *held = *head;
    if (held != NULL) {
        *head = held->next;
        if (*head == NULL)
            *tail = NULL;
        held->next = NULL;
    }
    return held;
}

/* Takes held out of the list wherever it is; false when not in it. */
static bool fifo_remove(fp_held_t **head, fp_held_t **tail, fp_held_t *held)
{
    fp_held_t **link = head, *prev = NULL;
    while (*link != NULL && *link != held) {
        prev = *link;
        link = &(*link)->next;
    }
    if (*link == NULL)
        return false;
    *link = held->next;
    if (*tail == held)
        *tail = prev;
    held->next = NULL;
    return true;
}

fp_held_t *fp_held_list_find(fp_held_t *head, uint32_t queue, const char *entry_id)
{
    for (fp_held_t *held = head; held != NULL; held = held->next)
        if (held->queue == queue && held->entry_id != NULL && strcmp(held->entry_id, entry_id) == 0)
            return held;
    return NULL;
}

void fp_held_wait_remove(fp_held_table_t *table, fp_held_t *held)
{
    (void)fifo_remove(&table->wait_head, &table->wait_tail, held);
}

void fp_held_wait_push(fp_held_table_t *table, fp_held_t *held)
{
    fifo_push(&table->wait_head, &table->wait_tail, held);
}

void fp_held_wait_push_front(fp_held_table_t *table, fp_held_t *held)
{
    held->next = table->wait_head;
    table->wait_head = held;
    if (table->wait_tail == NULL)
        table->wait_tail = held;
}

fp_held_t *fp_held_wait_pop(fp_held_table_t *table)
{
    return fifo_pop(&table->wait_head, &table->wait_tail);
}

/* What the adaptive send-ahead knows of the child's jobs, kept here where
 * every job enters and leaves its list. */
static void count_in(fp_slot_t *slot, const fp_held_t *held, int sign)
{
    slot->ahead_us += sign * held->expect_us;
    slot->unsure = sign > 0 ? slot->unsure + held->unsure : slot->unsure - held->unsure;
}

void fp_held_slot_push(fp_slot_t *slot, fp_held_t *held)
{
    fifo_push(&slot->job, &slot->job_tail, held);
    slot->depth++;
    count_in(slot, held, 1);
}

fp_held_t *fp_held_slot_pop(fp_slot_t *slot)
{
    fp_held_t *held = fifo_pop(&slot->job, &slot->job_tail);
    if (held != NULL) {
        slot->depth--;
        count_in(slot, held, -1);
    }
    return held;
}

fp_held_t *fp_held_slot_pop_running(fp_slot_t *slot)
{
    return slot->job != NULL && slot->job->deadline_ms != 0 ? fp_held_slot_pop(slot) : NULL;
}

fp_held_t *fp_held_slot_find(const fp_slot_t *slot, uint64_t seq, bool anywhere)
{
    for (fp_held_t *held = slot->job; held != NULL; held = anywhere ? held->next : NULL)
        if (held->seq == seq)
            return held;
    return NULL;
}

void fp_held_slot_remove(fp_slot_t *slot, fp_held_t *held)
{
    if (fifo_remove(&slot->job, &slot->job_tail, held)) {
        slot->depth--;
        count_in(slot, held, -1);
    }
}

fp_held_t *fp_held_slot_next_deadline(const fp_slot_t *slot)
{
    fp_held_t *first = NULL;
    for (fp_held_t *held = slot->job; held != NULL; held = held->next)
        if (held->deadline_ms != 0 && !held->timed_out &&
            (first == NULL || held->deadline_ms < first->deadline_ms))
            first = held;
    return first;
}

size_t fp_held_slot_expire(fp_slot_t *slot, int64_t now_ms)
{
    size_t n = 0;
    for (fp_held_t *held = slot->job; held != NULL; held = held->next) {
        if (held->deadline_ms != 0 && !held->timed_out && held->deadline_ms <= now_ms) {
            held->timed_out = true;
            n++;
        }
    }
    return n;
}
