/* test_held_set.c: lib/queue/held_set.c — the entries a queue holds: add,
 * find and remove, flags kept across a second add, growth keeping every
 * member, and backward-shift deletion within a probe run (also across the
 * end of the table), so that no member is lost behind a removed one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/held_set.h"

/* Where (queue, ms, seq) lands in an empty set of the first capacity: its
 * home slot. */
static size_t home_of(uint32_t queue, uint64_t ms, uint64_t seq)
{
    fp_held_set_t s = {0};
    assert_int_equal(fp_held_set_add(&s, queue, ms, seq), 0);
    size_t at = (size_t)(fp_held_set_get(&s, queue, ms, seq) - s.slots);
    fp_held_set_clear(&s);
    return at;
}

static size_t slot_of(fp_held_set_t *s, uint32_t queue, uint64_t ms, uint64_t seq)
{
    fp_held_entry_t *slot = fp_held_set_get(s, queue, ms, seq);
    assert_non_null(slot);
    return (size_t)(slot - s->slots);
}

/* The first n seq values (ms 1, queue 0) whose home slot is `home`. */
static void keys_with_home(size_t home, uint64_t *seqs, size_t n)
{
    size_t found = 0;
    for (uint64_t seq = 0; found < n; seq++) {
        assert_true(seq < 1000000);
        if (home_of(0, 1, seq) == home)
            seqs[found++] = seq;
    }
}

static void test_add_find_remove(void **state)
{
    (void)state;
    fp_held_set_t s = {0};
    assert_false(fp_held_set_has(&s, 0, 1, 0));
    assert_null(fp_held_set_get(&s, 0, 1, 0));
    fp_held_set_remove(&s, 0, 1, 0); /* on an empty set: nothing happens */
    assert_int_equal(fp_held_set_add(&s, 0, 1700000000000, 0), 0);
    assert_int_equal(fp_held_set_add(&s, 1, 1700000000000, 0), 0); /* same id, other queue */
    assert_int_equal(fp_held_set_add(&s, 0, 1700000000000, 1), 0);
    assert_int_equal(s.count, 3);
    assert_true(fp_held_set_has(&s, 0, 1700000000000, 0));
    assert_true(fp_held_set_has(&s, 1, 1700000000000, 0));
    assert_true(fp_held_set_has(&s, 0, 1700000000000, 1));
    assert_false(fp_held_set_has(&s, 2, 1700000000000, 0));
    assert_false(fp_held_set_has(&s, 0, 1700000000001, 0));
    fp_held_entry_t *slot = fp_held_set_get(&s, 1, 1700000000000, 0);
    assert_non_null(slot);
    assert_int_equal(slot->queue, 1);
    assert_int_equal(slot->used, FP_ENTRY_USED);
    fp_held_set_remove(&s, 1, 1700000000000, 0);
    fp_held_set_remove(&s, 1, 1700000000000, 0); /* twice: no effect */
    assert_int_equal(s.count, 2);
    assert_false(fp_held_set_has(&s, 1, 1700000000000, 0));
    assert_true(fp_held_set_has(&s, 0, 1700000000000, 0));
    fp_held_set_clear(&s);
    assert_null(s.slots);
    assert_int_equal(s.count, 0);
    assert_false(fp_held_set_has(&s, 0, 1700000000000, 0));
}

/* A second add of a held entry changes nothing (its flags stay); after a
 * removal, an add starts with FP_ENTRY_USED only. */
static void test_flags(void **state)
{
    (void)state;
    fp_held_set_t s = {0};
    assert_int_equal(fp_held_set_add(&s, 3, 5, 7), 0);
    fp_held_set_get(&s, 3, 5, 7)->used |= FP_ENTRY_VANISHED | FP_ENTRY_SETTLING;
    assert_int_equal(fp_held_set_add(&s, 3, 5, 7), 0);
    assert_int_equal(s.count, 1);
    assert_int_equal(fp_held_set_get(&s, 3, 5, 7)->used,
                     FP_ENTRY_USED | FP_ENTRY_VANISHED | FP_ENTRY_SETTLING);
    fp_held_set_get(&s, 3, 5, 7)->used |= FP_ENTRY_LOST;
    assert_true(fp_held_set_get(&s, 3, 5, 7)->used & FP_ENTRY_LOST);
    fp_held_set_remove(&s, 3, 5, 7);
    assert_int_equal(fp_held_set_add(&s, 3, 5, 7), 0);
    assert_int_equal(fp_held_set_get(&s, 3, 5, 7)->used, FP_ENTRY_USED);
    /* put: the same, returning the slot; a new entry's epoch is 0, a held
     * one keeps its flags and epoch. */
    fp_held_entry_t *e = fp_held_set_put(&s, 4, 1, 2);
    assert_non_null(e);
    assert_int_equal(e->used, FP_ENTRY_USED);
    assert_int_equal(e->epoch, 0);
    e->epoch = 9;
    e->used |= FP_ENTRY_SETTLING;
    assert_ptr_equal(fp_held_set_put(&s, 4, 1, 2), fp_held_set_get(&s, 4, 1, 2));
    assert_int_equal(fp_held_set_get(&s, 4, 1, 2)->epoch, 9);
    assert_int_equal(fp_held_set_get(&s, 4, 1, 2)->used, FP_ENTRY_USED | FP_ENTRY_SETTLING);
    assert_int_equal(s.count, 2);
    fp_held_set_clear(&s);
}

/* Growth keeps every member and the load at most one half; removing every
 * other member leaves the rest findable. */
static void test_growth(void **state)
{
    (void)state;
    fp_held_set_t s = {0};
    const size_t n = 5000;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fp_held_set_add(&s, (uint32_t)(i % 3), 1700000000000 + i / 7, i % 7), 0);
    assert_int_equal(s.count, n);
    assert_true((s.mask + 1) >= 2 * n);
    assert_int_equal((s.mask + 1) & s.mask, 0); /* a power of two */
    for (size_t i = 0; i < n; i += 2)
        fp_held_set_remove(&s, (uint32_t)(i % 3), 1700000000000 + i / 7, i % 7);
    assert_int_equal(s.count, n / 2);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fp_held_set_has(&s, (uint32_t)(i % 3), 1700000000000 + i / 7, i % 7),
                         i % 2 == 1);
    fp_held_set_clear(&s);
}

/* Three members with home h fill h, h+1, h+2; one with home h+1 goes to
 * h+3. Removing the first shifts the run back: each member moves to the
 * nearest slot at or after its home, and none is lost. */
static void test_backward_shift(void **state)
{
    (void)state;
    const size_t h = 10;
    uint64_t same[3], next[1];
    keys_with_home(h, same, 3);
    keys_with_home(h + 1, next, 1);
    fp_held_set_t s = {0};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(fp_held_set_add(&s, 0, 1, same[i]), 0);
    assert_int_equal(fp_held_set_add(&s, 0, 1, next[0]), 0);
    assert_int_equal(s.mask, 63); /* still the first capacity */
    assert_int_equal(slot_of(&s, 0, 1, same[0]), h);
    assert_int_equal(slot_of(&s, 0, 1, same[1]), h + 1);
    assert_int_equal(slot_of(&s, 0, 1, same[2]), h + 2);
    assert_int_equal(slot_of(&s, 0, 1, next[0]), h + 3);

    fp_held_set_remove(&s, 0, 1, same[0]);
    assert_int_equal(slot_of(&s, 0, 1, same[1]), h);
    assert_int_equal(slot_of(&s, 0, 1, same[2]), h + 1);
    assert_int_equal(slot_of(&s, 0, 1, next[0]), h + 2);
    assert_int_equal(s.slots[h + 3].used, 0);

    /* Removing the middle of the run: the member with home h+1 must not move
     * before its home. */
    fp_held_set_remove(&s, 0, 1, same[2]);
    assert_int_equal(slot_of(&s, 0, 1, same[1]), h);
    assert_int_equal(slot_of(&s, 0, 1, next[0]), h + 1);
    assert_int_equal(s.count, 2);
    fp_held_set_clear(&s);
}

/* A run that wraps past the last slot shifts back across the end too. */
static void test_backward_shift_wraps(void **state)
{
    (void)state;
    uint64_t last[3];
    keys_with_home(63, last, 3);
    fp_held_set_t s = {0};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(fp_held_set_add(&s, 0, 1, last[i]), 0);
    assert_int_equal(slot_of(&s, 0, 1, last[0]), 63);
    assert_int_equal(slot_of(&s, 0, 1, last[1]), 0);
    assert_int_equal(slot_of(&s, 0, 1, last[2]), 1);
    fp_held_set_remove(&s, 0, 1, last[0]);
    assert_int_equal(slot_of(&s, 0, 1, last[1]), 63);
    assert_int_equal(slot_of(&s, 0, 1, last[2]), 0);
    assert_int_equal(s.slots[1].used, 0);
    fp_held_set_clear(&s);

    /* A member at its own home right after the end stays there. */
    uint64_t first[1];
    keys_with_home(0, first, 1);
    assert_int_equal(fp_held_set_add(&s, 0, 1, last[0]), 0);
    assert_int_equal(fp_held_set_add(&s, 0, 1, first[0]), 0);
    assert_int_equal(slot_of(&s, 0, 1, first[0]), 0);
    fp_held_set_remove(&s, 0, 1, last[0]);
    assert_int_equal(slot_of(&s, 0, 1, first[0]), 0);
    assert_int_equal(s.slots[63].used, 0);
    fp_held_set_clear(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find_remove),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_backward_shift),
        cmocka_unit_test(test_backward_shift_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
