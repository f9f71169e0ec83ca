/* held.c: the held-job table: the waiting list, each child's list, and the
 * count of jobs held (see held.h). Pure data: no I/O, no clock. */
#include "dispatch/held.h"

#include <stdlib.h>

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
    free(held->entry_id);
    free(held->payload);
    free(held);
}

void fp_held_release(fp_held_table_t *table, fp_held_t *held)
{
    table->count--;
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

void fp_held_slot_push(fp_slot_t *slot, fp_held_t *held)
{
    fifo_push(&slot->job, &slot->job_tail, held);
    slot->depth++;
}

fp_held_t *fp_held_slot_pop(fp_slot_t *slot)
{
    fp_held_t *held = fifo_pop(&slot->job, &slot->job_tail);
    if (held != NULL)
        slot->depth--;
    return held;
}
