/* test_ui.c: the status page's pure parts: the per-second ring behind the
 * charts, the action token check, query arguments, what of a dead letter is
 * shown (cut on a character boundary) and the in/out rates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http/ui_assets.h"
#include "http/ui_auth.h"
#include "http/ui_json.h"
#include "http/ui_query.h"
#include "http/ui_series.h"

static fp_ui_series_t g_series; /* 42 KiB: not on the stack */

static void test_series_counts_per_second(void **state)
{
    fp_ui_series_t *s = &g_series;
    fp_ui_series_init(s);
    fp_ui_series_record(s, 100, 50, 7, 3); /* the base: what came before is not charted */
    assert_int_equal(s->count, 1);
    assert_int_equal(fp_ui_series_at(s, 0)->done, 0);
    fp_ui_series_record(s, 101, 60, 9, 4);
    fp_ui_series_record(s, 101, 61, 9, -1); /* same second: added; unknown depth keeps 4 */
    const fp_ui_sample_t *x = fp_ui_series_at(s, 0);
    assert_int_equal(x->done, 11);
    assert_int_equal(x->failed, 2);
    assert_int_equal(x->depth, 4);
    fp_ui_series_record(s, 104, 64, 9, 1); /* 102 and 103 were skipped */
    assert_int_equal(s->count, 5);
    assert_int_equal(fp_ui_series_at(s, 0)->done, 3);
    assert_int_equal(fp_ui_series_at(s, 1)->done, 0);
    assert_int_equal(fp_ui_series_at(s, 1)->depth, -1);
    assert_int_equal(fp_ui_series_at(s, 3)->done, 11);
    assert_null(fp_ui_series_at(s, 5));
    fp_ui_series_record(s, 103, 70, 9, -1); /* a clock going back adds to the newest */
    assert_int_equal(fp_ui_series_at(s, 0)->done, 9);
}

static void test_series_wraps_at_an_hour(void **state)
{
    fp_ui_series_t *s = &g_series;
    fp_ui_series_init(s);
    for (int64_t t = 0; t < FP_UI_SERIES_SECONDS + 10; t++)
        fp_ui_series_record(s, t, (uint64_t)t * 2, 0, t);
    assert_int_equal(s->count, FP_UI_SERIES_SECONDS);
    assert_int_equal(fp_ui_series_at(s, 0)->depth, FP_UI_SERIES_SECONDS + 9);
    assert_int_equal(fp_ui_series_at(s, FP_UI_SERIES_SECONDS - 1)->depth, 10);
    /* A gap longer than the ring leaves only zeros. */
    fp_ui_series_record(s, 100000, 1, 0, 5);
    assert_int_equal(s->count, FP_UI_SERIES_SECONDS);
    assert_int_equal(fp_ui_series_at(s, 1)->done, 0);
    assert_int_equal(fp_ui_series_at(s, FP_UI_SERIES_SECONDS - 1)->depth, -1);
}

static void test_series_json_buckets(void **state)
{
    fp_ui_series_t *s = &g_series;
    fp_ui_series_init(s);
    for (int64_t t = 0; t < 25; t++)
        fp_ui_series_record(s, t, (uint64_t)t, 0, t < 20 ? t : -1);
    cJSON *j = fp_ui_series_json(s, 10);
    assert_non_null(j);
    cJSON *done = cJSON_GetObjectItem(j, "done"), *depth = cJSON_GetObjectItem(j, "depth");
    /* 25 samples: a short oldest bucket (5), then two whole ones. */
    assert_int_equal(cJSON_GetArraySize(done), 3);
    assert_int_equal(cJSON_GetArrayItem(done, 0)->valueint, 4); /* seconds 0..4; 0 is the base */
    assert_int_equal(cJSON_GetArrayItem(done, 1)->valueint, 10);
    assert_int_equal(cJSON_GetArrayItem(done, 2)->valueint, 10);
    assert_int_equal(cJSON_GetArrayItem(depth, 1)->valueint, 14);
    assert_int_equal(cJSON_GetArrayItem(depth, 2)->valueint, 19); /* 20..24 unknown */
    assert_int_equal(cJSON_GetObjectItem(j, "end")->valueint, 24);
    cJSON_Delete(j);
}

static void test_token_verdict(void **state)
{
    assert_int_equal(fp_ui_token_verdict("", "x"), 404);
    assert_int_equal(fp_ui_token_verdict(NULL, NULL), 404);
    assert_int_equal(fp_ui_token_verdict("s3cret", NULL), 403);
    assert_int_equal(fp_ui_token_verdict("s3cret", ""), 403);
    assert_int_equal(fp_ui_token_verdict("s3cret", "s3cre"), 403);
    assert_int_equal(fp_ui_token_verdict("s3cret", "s3crett"), 403);
    assert_int_equal(fp_ui_token_verdict("s3cret", "S3cret"), 403);
    assert_int_equal(fp_ui_token_verdict("s3cret", "s3cret"), 0);
}

static void test_query(void **state)
{
    char out[16];
    assert_true(fp_ui_query_get("queue=default&id=17-0", "id", out, sizeof out));
    assert_string_equal(out, "17-0");
    assert_true(fp_ui_query_get("queue=my%20q+x&id=1", "queue", out, sizeof out));
    assert_string_equal(out, "my q x");
    assert_true(fp_ui_query_get("id=", "id", out, sizeof out));
    assert_string_equal(out, "");
    assert_false(fp_ui_query_get("ids=1", "id", out, sizeof out));
    assert_false(fp_ui_query_get("", "id", out, sizeof out));
    assert_false(fp_ui_query_get("id=%4", "id", out, sizeof out));      /* truncated escape */
    assert_false(fp_ui_query_get("id=%zz", "id", out, sizeof out));     /* not hex */
    assert_false(fp_ui_query_get("id=a%0Ab", "id", out, sizeof out));   /* a forged log line */
    assert_false(fp_ui_query_get("id=0123456789abcdef", "id", out, sizeof out)); /* too long */
}

static void test_cut_on_character(void **state)
{
    const char *s = "ab\xc3\xa9"
                    "cd"; /* a, b, é (2 bytes), c, d */
    assert_int_equal(fp_ui_cut_len(s, 6, 10), 6);
    assert_int_equal(fp_ui_cut_len(s, 6, 4), 4);
    assert_int_equal(fp_ui_cut_len(s, 6, 3), 2); /* never half an é */
    assert_int_equal(fp_ui_cut_len(s, 6, 0), 0);
}

static void test_dead_json(void **state)
{
    char payload[] = "{\"type\":\"mail\",\"id\":\"j-1\",\"args\":{\"to\":\"someone@example.org\"}}";
    fp_dead_entry_t e = {0};
    e.id = "5-0";
    e.job = (fp_admin_field_t){payload, strlen(payload)};
    e.error = (fp_admin_field_t){"boom", 4};
    e.attempts = (fp_admin_field_t){"3", 1};
    e.failed_at = (fp_admin_field_t){"1700000000000", 13};
    cJSON *j = fp_ui_dead_json("default", &e, 20);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "mail");
    assert_string_equal(cJSON_GetObjectItem(j, "job_id")->valuestring, "j-1");
    assert_int_equal(strlen(cJSON_GetObjectItem(j, "payload")->valuestring), 20);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "payload_cut")));
    assert_int_equal(cJSON_GetObjectItem(j, "payload_bytes")->valueint, (int)strlen(payload));
    assert_int_equal(cJSON_GetObjectItem(j, "attempts")->valueint, 3);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "consumer")));
    cJSON_Delete(j);
    j = fp_ui_dead_json("default", &e, 4096); /* whole: no cut marks */
    assert_string_equal(cJSON_GetObjectItem(j, "payload")->valuestring, payload);
    assert_null(cJSON_GetObjectItem(j, "payload_cut"));
    cJSON_Delete(j);
}

static void test_rate(void **state)
{
    assert_true(fp_ui_rate(100, 1000, 130, 3000) == 15.0);
    assert_true(fp_ui_rate(-1, 1000, 130, 3000) < 0);  /* Redis before 7 */
    assert_true(fp_ui_rate(100, 1000, 90, 3000) < 0);  /* stream deleted */
    assert_true(fp_ui_rate(100, 3000, 130, 3000) < 0); /* no time between */
}

/* The page's files are embedded, each with its type. */
static void test_assets(void **state)
{
    const fp_ui_asset_t *a = fp_ui_asset_find("/index.html");
    assert_non_null(a);
    assert_non_null(strstr((const char *)a->data, "app.js"));
    assert_string_equal(fp_ui_asset_type(a), "text/html; charset=utf-8");
    assert_string_equal(fp_ui_asset_type(fp_ui_asset_find("/app.js")),
                        "text/javascript; charset=utf-8");
    assert_string_equal(fp_ui_asset_type(fp_ui_asset_find("/app.css")), "text/css; charset=utf-8");
    assert_null(fp_ui_asset_find("/nope.js"));
    /* No inline script or style anywhere in the page: the CSP forbids them. */
    assert_null(strstr((const char *)a->data, "<style"));
    assert_null(strstr((const char *)a->data, "style="));
    assert_null(strstr((const char *)a->data, "onclick"));
    assert_non_null(strstr(FP_UI_HEADERS, "default-src 'none'; script-src 'self'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_counts_per_second),
        cmocka_unit_test(test_series_wraps_at_an_hour),
        cmocka_unit_test(test_series_json_buckets),
        cmocka_unit_test(test_token_verdict),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_cut_on_character),
        cmocka_unit_test(test_dead_json),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_assets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
