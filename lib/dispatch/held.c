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

void fp_held_wait_push(fp_held_table_t *table, fp_held_t *held)
{
    held->next = NULL;
    if (table->wait_tail != NULL)
        table->wait_tail->next = held;
    else
        table->wait_head = held;
    table->wait_tail = held;
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
    fp_held_t *held = table->wait_head;
    if (held != NULL) {
        table->wait_head = held->next;
        if (table->wait_head == NULL)
            table->wait_tail = NULL;
        held->next = NULL;
    }
    return held;
}

void fp_held_slot_push(fp_slot_t *slot, fp_held_t *held)
{
    held->next = NULL;
    if (slot->job_tail != NULL)
        slot->job_tail->next = held;
    else
        slot->job = held;
    slot->job_tail = held;
    slot->depth++;
}

fp_held_t *fp_held_slot_pop(fp_slot_t *slot)
{
    fp_held_t *held = slot->job;
    if (held != NULL) {
        slot->job = held->next;
        if (slot->job == NULL)
            slot->job_tail = NULL;
        held->next = NULL;
        slot->depth--;
    }
    return held;
}
