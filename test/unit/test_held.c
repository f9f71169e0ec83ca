/* test_held.c: lib/dispatch/held.c — the one count of held jobs, the
 * waiting list's order (a job put back goes first), and a child's list
 * with its depth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>

#include "dispatch/held.h"

static void test_count_follows_new_and_release(void **state)
{
    (void)state;
    fp_held_table_t t = {0};
    fp_held_t *a = fp_held_new(&t), *b = fp_held_new(&t);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(t.count, 2);
    fp_held_release(&t, a);
    assert_int_equal(t.count, 1);
    fp_held_release(&t, b);
    assert_int_equal(t.count, 0);
}

static void test_waiting_list_is_fifo_and_put_back_goes_first(void **state)
{
    (void)state;
    fp_held_table_t t = {0};
    fp_held_t *a = fp_held_new(&t), *b = fp_held_new(&t), *c = fp_held_new(&t);
    fp_held_wait_push(&t, a);
    fp_held_wait_push(&t, b);
    fp_held_wait_push_front(&t, c);
    assert_ptr_equal(fp_held_wait_pop(&t), c);
    assert_ptr_equal(fp_held_wait_pop(&t), a);
    assert_ptr_equal(fp_held_wait_pop(&t), b);
    assert_null(fp_held_wait_pop(&t));
    assert_null(t.wait_tail);
    /* Pushing to the front of an empty list makes it the tail too. */
    fp_held_wait_push_front(&t, a);
    fp_held_wait_push(&t, b);
    assert_ptr_equal(fp_held_wait_pop(&t), a);
    assert_ptr_equal(fp_held_wait_pop(&t), b);
    assert_int_equal(t.count, 3); /* popping is not releasing */
    fp_held_release(&t, a);
    fp_held_release(&t, b);
    fp_held_release(&t, c);
    assert_int_equal(t.count, 0);
}

static void test_child_list_keeps_order_and_depth(void **state)
{
    (void)state;
    fp_held_table_t t = {0};
    fp_slot_t slot = {0};
    fp_held_t *a = fp_held_new(&t), *b = fp_held_new(&t);
    fp_held_slot_push(&slot, a);
    fp_held_slot_push(&slot, b);
    assert_ptr_equal(slot.job, a);
    assert_ptr_equal(slot.job_tail, b);
    assert_int_equal(slot.depth, 2);
    assert_ptr_equal(fp_held_slot_pop(&slot), a);
    assert_ptr_equal(slot.job, b);
    assert_int_equal(slot.depth, 1);
    assert_ptr_equal(fp_held_slot_pop(&slot), b);
    assert_null(slot.job);
    assert_null(slot.job_tail);
    assert_int_equal(slot.depth, 0);
    assert_null(fp_held_slot_pop(&slot));
    assert_int_equal(slot.depth, 0);
    fp_held_release(&t, a);
    fp_held_release(&t, b);
}

/* pushes n records numbered 1..n to slot */
static void push_numbered(fp_held_table_t *t, fp_slot_t *slot, fp_held_t **h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h[i] = fp_held_new(t);
        h[i]->seq = i + 1;
        fp_held_slot_push(slot, h[i]);
    }
}

/* A child answering in order may answer only its head; a concurrent one
 * any job it holds, and taking one out of the middle keeps the list, its
 * tail and its depth right. */
static void test_answers_match_the_head_or_anywhere(void **state)
{
    (void)state;
    fp_held_table_t t = {0};
    fp_slot_t slot = {0};
    fp_held_t *h[3];
    push_numbered(&t, &slot, h, 3);
    assert_ptr_equal(fp_held_slot_find(&slot, 1, false), h[0]);
    assert_null(fp_held_slot_find(&slot, 2, false));
    assert_ptr_equal(fp_held_slot_find(&slot, 2, true), h[1]);
    assert_null(fp_held_slot_find(&slot, 9, true));
    fp_held_slot_remove(&slot, h[1]);
    assert_int_equal(slot.depth, 2);
    assert_ptr_equal(slot.job->next, h[2]);
    fp_held_slot_remove(&slot, h[2]);
    assert_ptr_equal(slot.job_tail, h[0]);
    fp_held_slot_remove(&slot, h[2]); /* not there: nothing happens */
    assert_int_equal(slot.depth, 1);
    fp_held_slot_remove(&slot, h[0]);
    assert_null(slot.job);
    assert_null(slot.job_tail);
    assert_int_equal(slot.depth, 0);
    fp_held_slot_push(&slot, h[1]); /* an emptied list takes jobs again */
    assert_ptr_equal(slot.job_tail, h[1]);
    for (size_t i = 0; i < 3; i++)
        fp_held_release(&t, h[i]);
}

/* The next deadline is the earliest of the started jobs not yet timed
 * out; expiring marks exactly those due. */
static void test_deadlines_of_the_jobs_a_child_runs(void **state)
{
    (void)state;
    fp_held_table_t t = {0};
    fp_slot_t slot = {0};
    fp_held_t *h[3];
    push_numbered(&t, &slot, h, 3);
    assert_null(fp_held_slot_next_deadline(&slot)); /* none started */
    h[0]->deadline_ms = 300;
    h[1]->deadline_ms = 100;
    h[2]->deadline_ms = 0; /* waiting behind them */
    assert_ptr_equal(fp_held_slot_next_deadline(&slot), h[1]);
    assert_int_equal(fp_held_slot_expire(&slot, 99), 0);
    assert_int_equal(fp_held_slot_expire(&slot, 100), 1);
    assert_true(h[1]->timed_out);
    assert_false(h[0]->timed_out);
    assert_false(h[2]->timed_out);
    assert_ptr_equal(fp_held_slot_next_deadline(&slot), h[0]);
    assert_int_equal(fp_held_slot_expire(&slot, 1000), 1); /* h[1] is not counted twice */
    assert_null(fp_held_slot_next_deadline(&slot));
    while (fp_held_slot_pop(&slot) != NULL)
        ;
    for (size_t i = 0; i < 3; i++)
        fp_held_release(&t, h[i]);
}

static void test_name_is_the_job_id_else_the_entry_id(void **state)
{
    (void)state;
    fp_held_t held = {0};
    char entry[] = "1-0", id[] = "j1";
    held.entry_id = entry;
    assert_string_equal(fp_held_name(&held), "1-0");
    held.job.id = id;
    assert_string_equal(fp_held_name(&held), "j1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_follows_new_and_release),
        cmocka_unit_test(test_waiting_list_is_fifo_and_put_back_goes_first),
        cmocka_unit_test(test_child_list_keeps_order_and_depth),
        cmocka_unit_test(test_answers_match_the_head_or_anywhere),
        cmocka_unit_test(test_deadlines_of_the_jobs_a_child_runs),
        cmocka_unit_test(test_name_is_the_job_id_else_the_entry_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
