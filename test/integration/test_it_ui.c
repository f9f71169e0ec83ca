/* test_it_ui.c: the status page over HTTP on a real daemon: the page and its
 * files with their Content-Security-Policy and headers, /api/ui agreeing
 * with /stats, dead letters cut at health.ui_payload_max, the actions'
 * token (403 without or with a wrong one, 202 with it, each logged with the
 * client), a retry that really moves the dead letter back, quiet and
 * resume; and the page and actions gone (404) when switched off. The same
 * page in a real browser is python/tests/test_ui_browser.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "daemon_sqlite.h"

#define TOKEN "t0ken-for-tests"
#define TOKEN_HEADER "X-Forkpool-Token: " TOKEN "\r\n"

static void start(fp_td_t *td, const char *health_lines)
{
    fp_td_config(td, NULL,
                 "[pool]\nchildren = 2\n[retry]\nmax_attempts = 1\n");
    char to[512];
    snprintf(to, sizeof to, "[health]\n%s", health_lines);
    fp_td_config_replace(td, "[health]\n", to);
    fp_td_start_ready(td, true);
}

static cJSON *api_ui(fp_td_t *td)
{
    char *body = NULL;
    assert_int_equal(fp_td_http_get(fp_td_health_port(td), "/api/ui", &body), 200);
    cJSON *doc = cJSON_Parse(body);
    free(body);
    assert_non_null(doc);
    return doc;
}

static double num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItem(o, a);
    if (b != NULL)
        x = cJSON_GetObjectItem(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

/* Condition: /api/ui lists at least *arg dead letters. */
static bool dead_listed(fp_td_t *td, void *arg)
{
    cJSON *doc = api_ui(td);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(doc, "dead"));
    cJSON_Delete(doc);
    return n >= *(int *)arg;
}

static void test_page_and_headers(void **state)
{
    fp_td_t *td = *state;
    start(td, "admin_token = \"" TOKEN "\"\n");
    int port = fp_td_health_port(td);
    char *head = NULL, *body = NULL;
    assert_int_equal(fp_td_http(port, "GET", "/", NULL, &head, &body), 200);
    assert_non_null(strstr(head, "Content-Type: text/html; charset=utf-8"));
    assert_non_null(strstr(head, "Content-Security-Policy: default-src 'none'; script-src 'self'"));
    assert_non_null(strstr(head, "X-Content-Type-Options: nosniff"));
    assert_non_null(strstr(head, "X-Frame-Options: DENY"));
    assert_non_null(strstr(body, "<script src=\"app.js\""));
    free(head);
    free(body);
    assert_int_equal(fp_td_http(port, "GET", "/app.js", NULL, &head, NULL), 200);
    assert_non_null(strstr(head, "Content-Type: text/javascript"));
    free(head);
    assert_int_equal(fp_td_http(port, "GET", "/app.css", NULL, &head, NULL), 200);
    assert_non_null(strstr(head, "Content-Type: text/css"));
    free(head);
    /* The JSON never carries the token, nor the Redis URL. */
    assert_int_equal(fp_td_http(port, "GET", "/api/ui", NULL, NULL, &body), 200);
    assert_null(strstr(body, TOKEN));
    assert_null(strstr(body, "redis://"));
    assert_non_null(strstr(body, "\"actions\":true"));
    free(body);
    /* Actions take POST only. */
    assert_int_equal(fp_td_http(port, "GET", "/api/ui/retry", NULL, &head, NULL), 405);
    assert_non_null(strstr(head, "Allow: POST"));
    free(head);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

static void test_figures_dead_letters_and_actions(void **state)
{
    fp_td_t *td = *state;
    start(td, "admin_token = \"" TOKEN "\"\nui_payload_max = 40\n");
    int port = fp_td_health_port(td);
    fp_td_enqueue(td, 6, "{\"type\":\"noop\",\"id\":\"n%d-%d\"}");
    fp_td_enqueue(td, 2, "{\"type\":\"fail\",\"id\":\"f%d-%d\",\"args\":{\"pad\":"
                         "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}");
    fp_td_num_t failed = {"counters.jobs_failed", 2};
    fp_td_wait_until(td, fp_td_stat_is, &failed, 30000, "2 jobs failed");
    fp_td_num_t ok = {"counters.jobs_ok", 6};
    fp_td_wait_until(td, fp_td_stat_is, &ok, 30000, "6 jobs ok");
    int two = 2;
    fp_td_wait_until(td, dead_listed, &two, 30000, "2 dead letters on the page");

    cJSON *doc = api_ui(td);
    assert_int_equal(num(doc, "counters", "jobs_ok"), fp_td_stat(td, "counters.jobs_ok"));
    assert_int_equal(num(doc, "counters", "jobs_failed"), fp_td_stat(td, "counters.jobs_failed"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "children")), 2);
    const cJSON *letter = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "dead"), 0);
    assert_string_equal(cJSON_GetObjectItem(letter, "type")->valuestring, "fail");
    assert_int_equal(strlen(cJSON_GetObjectItem(letter, "payload")->valuestring), 40);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(letter, "payload_cut")));
    char path[256];
    snprintf(path, sizeof path, "/api/ui/retry?queue=default&id=%s",
             cJSON_GetObjectItem(letter, "id")->valuestring);
    cJSON_Delete(doc);

    /* No token, a wrong one: 403, nothing moves; each refusal is logged. */
    assert_int_equal(fp_td_http(port, "POST", path, NULL, NULL, NULL), 403);
    assert_int_equal(fp_td_http(port, "POST", path, "X-Forkpool-Token: nope\r\n", NULL, NULL), 403);
    assert_int_equal(fp_td_log_count(td, "retry refused from 127.0.0.1:"), 2);
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 2);
    /* Unknown queue, missing id: 400. */
    assert_int_equal(fp_td_http(port, "POST", "/api/ui/retry?queue=other&id=1-0", TOKEN_HEADER,
                                NULL, NULL),
                     400);
    assert_int_equal(fp_td_http(port, "POST", "/api/ui/retry?queue=default", TOKEN_HEADER, NULL,
                                NULL),
                     400);
    /* With it: accepted, run off the loop; the job runs (and fails) again. */
    assert_int_equal(fp_td_http(port, "POST", path, TOKEN_HEADER, NULL, NULL), 202);
    fp_td_num_t again = {"counters.jobs_failed", 3};
    fp_td_wait_until(td, fp_td_stat_is, &again, 30000, "the retried job ran");
    assert_true(fp_td_log_count(td, "from 127.0.0.1:") >= 3);

    /* Quiet and resume act at once. */
    assert_int_equal(fp_td_http(port, "POST", "/api/ui/quiet", TOKEN_HEADER, NULL, NULL), 200);
    fp_td_page_t quiet = {"/stats", "\"state\":\"quiet\""};
    fp_td_wait_until(td, fp_td_page_has, &quiet, 10000, "quiet");
    assert_int_equal(fp_td_http(port, "POST", "/api/ui/resume", TOKEN_HEADER, NULL, NULL), 200);
    fp_td_page_t running = {"/stats", "\"state\":\"running\""};
    fp_td_wait_until(td, fp_td_page_has, &running, 10000, "running again");

    /* Purge empties the dead stream. */
    assert_int_equal(fp_td_http(port, "POST", "/api/ui/purge?queue=default", TOKEN_HEADER, NULL,
                                NULL),
                     202);
    fp_td_page_t purged = {"/api/ui", "\"result\":\"purged 2\""};
    fp_td_wait_until(td, fp_td_page_has, &purged, 30000, "purged");
    assert_int_equal(fp_td_xlen(td, FP_TD_DEAD), 0);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* Condition: the first queue's in and out rates are numbers. */
static bool queue_rates_known(fp_td_t *td, void *arg)
{
    (void)arg;
    cJSON *doc = api_ui(td);
    const cJSON *q = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "queues"), 0);
    bool known = cJSON_IsNumber(cJSON_GetObjectItem(q, "in_per_s")) &&
                 cJSON_IsNumber(cJSON_GetObjectItem(q, "out_per_s"));
    cJSON_Delete(doc);
    return known;
}

/* On the embedded queue (no redis-server anywhere): the page lists the
 * queue file's dead rows, and retry, cancel and purge act on the file,
 * where they used to go to a Redis at redis.url's default. */
static void test_embedded_dead_letters_and_actions(void **state)
{
    fp_td_t *td = *state;
    fp_td_config_sqlite(td, NULL, "[pool]\nchildren = 2\n[retry]\nmax_attempts = 1\n");
    fp_td_config_replace(td, "[health]\n", "[health]\nadmin_token = \"" TOKEN "\"\n");
    fp_td_start_ready(td, true);
    int port = fp_td_health_port(td);
    fp_td_sqlite_enqueue(td, "default", 3, "{\"type\":\"fail\",\"id\":\"f%d-%d\"}", 0);
    long long three = 3;
    fp_td_wait_until(td, fp_td_qdead_are, &three, 30000, "3 dead rows in the file");
    int n = 3;
    fp_td_wait_until(td, dead_listed, &n, 30000, "3 dead letters on the page");
    cJSON *doc = api_ui(td);
    const cJSON *letter = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "dead"), 0);
    assert_string_equal(cJSON_GetObjectItem(letter, "type")->valuestring, "fail");
    const char *id = cJSON_GetObjectItem(letter, "id")->valuestring;
    assert_int_equal(fp_td_qsql(td, "SELECT max(id) FROM dead"), atoll(id)); /* newest first */
    char path[256];
    snprintf(path, sizeof path, "/api/ui/retry?queue=default&id=%s", id);
    cJSON_Delete(doc);

    assert_int_equal(fp_td_http(port, "POST", path, TOKEN_HEADER, NULL, NULL), 202);
    fp_td_page_t retried = {"/api/ui", "\"result\":\"retried\""};
    fp_td_wait_until(td, fp_td_page_has, &retried, 30000, "retried");
    /* The file's counters give the queue's rates, as Redis' XINFO does. */
    fp_td_wait_until(td, queue_rates_known, NULL, 30000, "the queue's in and out rates");
    fp_td_num_t again = {"counters.jobs_failed", 4};
    fp_td_wait_until(td, fp_td_stat_is, &again, 30000, "the retried job ran");
    fp_td_wait_until(td, fp_td_qdead_are, &three, 30000, "dead again");

    fp_td_sqlite_enqueue(td, "default", 1, "{\"type\":\"noop\",\"id\":\"later-%d-%d\"}",
                         3600000);
    assert_int_equal(fp_td_http(port, "POST", "/api/ui/cancel?id=later-0-0", TOKEN_HEADER, NULL,
                                NULL),
                     202);
    fp_td_page_t cancelled = {"/api/ui", "cancelled (now a dead letter)"};
    fp_td_wait_until(td, fp_td_page_has, &cancelled, 30000, "the delayed job cancelled");
    long long four = 4;
    fp_td_wait_until(td, fp_td_qdead_are, &four, 30000, "its dead row");

    assert_int_equal(fp_td_http(port, "POST", "/api/ui/purge?queue=default", TOKEN_HEADER, NULL,
                                NULL),
                     202);
    fp_td_page_t purged = {"/api/ui", "\"result\":\"purged 4\""};
    fp_td_wait_until(td, fp_td_page_has, &purged, 30000, "purged");
    long long zero = 0;
    assert_true(fp_td_qdead_are(td, &zero));
    assert_int_equal(fp_td_log_count(td, "6379"), 0); /* never looked for a Redis */
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

/* Without a token the page is read-only: the action routes do not exist. */
static void test_no_token_no_actions(void **state)
{
    fp_td_t *td = *state;
    start(td, "");
    int port = fp_td_health_port(td);
    char *body = NULL;
    assert_int_equal(fp_td_http(port, "GET", "/api/ui", NULL, NULL, &body), 200);
    assert_non_null(strstr(body, "\"actions\":false"));
    free(body);
    assert_int_equal(fp_td_http(port, "POST", "/api/ui/retry?queue=default&id=1-0", TOKEN_HEADER,
                                NULL, NULL),
                     404);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

static void test_ui_off(void **state)
{
    fp_td_t *td = *state;
    start(td, "ui = false\nadmin_token = \"" TOKEN "\"\n");
    int port = fp_td_health_port(td);
    assert_int_equal(fp_td_http(port, "GET", "/", NULL, NULL, NULL), 404);
    assert_int_equal(fp_td_http(port, "GET", "/app.js", NULL, NULL, NULL), 404);
    assert_int_equal(fp_td_http(port, "GET", "/api/ui", NULL, NULL, NULL), 404);
    assert_int_equal(fp_td_http(port, "POST", "/api/ui/quiet", TOKEN_HEADER, NULL, NULL), 404);
    assert_int_equal(fp_td_http(port, "GET", "/healthz", NULL, NULL, NULL), 200);
    fp_td_signal(td, SIGTERM);
    assert_int_equal(fp_td_wait(td, 30000), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_page_and_headers, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_figures_dead_letters_and_actions, fp_td_setup,
                                        fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_embedded_dead_letters_and_actions,
                                        fp_td_setup_sqlite, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_no_token_no_actions, fp_td_setup, fp_td_teardown),
        cmocka_unit_test_setup_teardown(test_ui_off, fp_td_setup, fp_td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
