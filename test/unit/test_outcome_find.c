/* test_outcome_find.c: lib/queue/outcome_find.c — the payload of one
 * entry's retry or put back read back from a batch encoded by the outcome
 * encoders (every kind's width skipped correctly), and nothing for an ack,
 * a dead outcome, an unknown id or malformed arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "queue/outcome_find.h"
#include "queue/queue_scripts.h"

static char kind;

static bool find(const fp_resp_t *b, const char *id, const char **p, size_t *n)
{
    kind = 0;
    return fp_outcome_find_payload(b->data, b->len, id, strlen(id), p, n, &kind);
}

static void test_every_kind(void **state)
{
    (void)state;
    fp_resp_t b = {0};
    assert_int_equal(fp_outcome_encode_ack(&b, false, "1-1"), 0);
    assert_int_equal(fp_outcome_encode_dead(&b, false, "1-2", "{\"d\":1}", 7, "boom", 3, 99), 0);
    assert_int_equal(fp_outcome_encode_retry(&b, true, "1-3", "{\"r\":\"$3\\r\\n\"}", 14, 50), 0);
    assert_int_equal(fp_outcome_encode_ack_unique(&b, false, "1-4"), 0);
    assert_int_equal(fp_outcome_encode_put_back(&b, false, "1-5", "{\"p\":2}", 7), 0);
    assert_int_equal(fp_outcome_encode_dead_unique(&b, false, "1-6", "{}", 2, "x", 1, 2), 0);
    assert_int_equal(fp_outcome_encode_retry(&b, false, "1-7", "", 0, 0), 0);
    const char *p = NULL;
    size_t n = 0;
    assert_true(find(&b, "1-3", &p, &n)); /* upper case: vanished while held */
    assert_int_equal(n, 14);
    assert_memory_equal(p, "{\"r\":\"$3\\r\\n\"}", 14);
    assert_int_equal(kind, 'r');
    assert_true(find(&b, "1-5", &p, &n));
    assert_memory_equal(p, "{\"p\":2}", 7);
    assert_int_equal(kind, 'p');
    assert_true(find(&b, "1-7", &p, &n));
    assert_int_equal(n, 0);
    /* An ack and a dead outcome carry no retry payload; an unknown id, none. */
    assert_false(find(&b, "1-1", &p, &n));
    assert_false(find(&b, "1-2", &p, &n));
    assert_false(find(&b, "1-6", &p, &n));
    assert_false(find(&b, "1-", &p, &n));
    assert_false(find(&b, "9-9", &p, &n));
    fp_resp_free(&b);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *p;
    size_t n;
    const char *cases[] = {
        "",
        "$1\r\nr\r\n$3\r\n1-3\r\n$99\r\n{}\r\n",       /* length past the end */
        "$1\r\nr\r\n$3\r\n1-3\r\n$2\r\n{}",            /* no CRLF after the data */
        "$1\r\nz\r\n$3\r\n1-3\r\n$2\r\n{}\r\n$1\r\n0\r\n", /* unknown kind */
        "$1\r\nr\r\n$3\r\n1-3\r\n",                    /* cut short */
        "*1\r\n$1\r\nr\r\n",                           /* not a bulk string */
        "$99999999999999999999999\r\n",                /* overflow */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_false(
            fp_outcome_find_payload(cases[i], strlen(cases[i]), "1-3", 3, &p, &n, &kind));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
