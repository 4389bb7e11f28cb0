/*
 * testsink.c - a sink for test_plugin_host: it declares secret options (to
 * test masking) and fails on request (to test that the host wraps what a
 * plugin reports with connector, task and callback).
 *
 *   fail=none         put and flush succeed
 *   fail=put          put returns ERROR with a message
 *   fail=flush-retry  flush returns RETRY with a message
 *   fail=silent       put returns ERROR without setting a message
 */
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

static const char *const fail_valid[] = {"none", "put", "flush-retry", "silent", NULL};

static const sluice_option options[] = {
    {"password", SLUICE_OPT_PASSWORD, NULL, 1, 0, NULL, SLUICE_NO_OFFSET, "A password."},
    {"api.token", SLUICE_OPT_STRING, NULL, 0, 1, NULL, SLUICE_NO_OFFSET, "A secret string."},
    {"fail", SLUICE_OPT_STRING, "none", 0, 0, fail_valid, SLUICE_NO_OFFSET, "What to fail."},
    {"tags", SLUICE_OPT_LIST, "a,b", 0, 0, NULL, SLUICE_NO_OFFSET, "A list."},
    {NULL},
};

typedef struct ts_task {
    char fail[16];
} ts_task;

static int ts_open(sluice_ctx *ctx, void **state)
{
    ts_task *t = calloc(1, sizeof(*t));
    if (!t)
        return sluice_error(ctx, 1, "out of memory");
    strncpy(t->fail, sluice_config_string(ctx, "fail"), sizeof(t->fail) - 1);
    *state = t;
    return SLUICE_OK;
}

static int ts_put(void *state, sluice_ctx *ctx, const sluice_record *records, size_t n)
{
    ts_task *t = state;
    if (strcmp(t->fail, "put") == 0)
        return sluice_error(ctx, 0, "target rejected %zu records", n);
    if (strcmp(t->fail, "silent") == 0)
        return SLUICE_ERROR;
    sluice_metric_add(ctx, "records.put", (int64_t)n);
    return SLUICE_OK;
}

static int ts_flush(void *state, sluice_ctx *ctx)
{
    ts_task *t = state;
    if (strcmp(t->fail, "flush-retry") == 0)
        return sluice_error(ctx, 1, "target busy");
    return SLUICE_OK;
}

static void ts_close(void *state, sluice_ctx *ctx)
{
    free(state);
}

SLUICE_PLUGIN_DEFINE(.name = "testsink", .kind = SLUICE_SINK, .description = "test sink",
                     .version = "0", .options = options, .max_tasks = SLUICE_TASKS_ANY,
                     .sink = {
                         .open = ts_open, .put = ts_put, .flush = ts_flush, .close = ts_close});
