/*
 * metrics.c - broker counters and the admin HTTP listener (admin.listeners,
 * default http://127.0.0.1:9644) serving:
 *
 *   GET /metrics   Prometheus text format 0.0.4
 *   GET /health    {"status":"UP", ...} (200) - the process serves requests
 *
 * The listener is core/http.c's, as the registry's and the worker's are: an
 * https:// listener and authentication.method=BASIC come with it, under the
 * keys admin.ssl.* and admin.authentication.* (broker.c), read and checked
 * at start.
 *
 * Counters are C11 atomics bumped with relaxed ordering on the I/O loop and
 * read by the admin listener's threads; gauges that need the topic table
 * (log bytes) are refreshed by the I/O loop once a second, never read across
 * threads. Latency histograms per API use fixed buckets (seconds, as
 * Prometheus expects): 0.1ms ... 2.5s, +Inf.
 *
 * Runs on: the I/O loop (observe), the admin listener's MHD threads (answers).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker_internal.h"
#include "logging.h"

sl_metrics sl_broker_metrics;

static const uint64_t bucket_us[SL_LAT_BUCKETS - 1] = {
    100, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000};

void sl_metrics_observe(int16_t api_key, uint64_t usec)
{
    int i;
    if (api_key < 0 || api_key >= SL_NUM_API)
        return;
    for (i = 0; i < SL_LAT_BUCKETS - 1 && usec > bucket_us[i]; i++)
        ;
    atomic_fetch_add_explicit(&sl_broker_metrics.lat_bucket[api_key][i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sl_broker_metrics.lat_sum_us[api_key], usec, memory_order_relaxed);
}

typedef struct textbuf {
    char *s;
    size_t len, cap;
} textbuf;

static void tb_printf(textbuf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(textbuf *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = vsnprintf(t->s + t->len, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)n + 1;
        t->s = realloc(t->s, t->cap);
        if (!t->s)
            abort();
    }
}

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

static void counter(textbuf *t, const char *name, const char *help, unsigned long long v)
{
    tb_printf(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

static void gauge(textbuf *t, const char *name, const char *help, unsigned long long v)
{
    tb_printf(t, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name, v);
}

static void render_requests(textbuf *t)
{
    sl_metrics *m = &sl_broker_metrics;
    tb_printf(t, "# HELP sluice_broker_requests_total Requests received per API.\n"
                 "# TYPE sluice_broker_requests_total counter\n");
    for (int k = 0; k < SL_NUM_API; k++)
        if (LOAD(m->requests[k]))
            tb_printf(t, "sluice_broker_requests_total{api=\"%s\"} %llu\n", sl_api_name((int16_t)k),
                      LOAD(m->requests[k]));
    tb_printf(t, "# HELP sluice_broker_request_errors_total Requests or partitions answered with an "
                 "error, per API.\n# TYPE sluice_broker_request_errors_total counter\n");
    for (int k = 0; k < SL_NUM_API; k++)
        if (LOAD(m->requests[k]))
            tb_printf(t, "sluice_broker_request_errors_total{api=\"%s\"} %llu\n",
                      sl_api_name((int16_t)k), LOAD(m->request_errors[k]));
    tb_printf(t, "# HELP sluice_broker_request_latency_seconds Time from a request's arrival to "
                 "its response being ready.\n# TYPE sluice_broker_request_latency_seconds histogram\n");
    for (int k = 0; k < SL_NUM_API; k++) {
        unsigned long long cum = 0;
        if (!LOAD(m->requests[k]))
            continue;
        const char *api = sl_api_name((int16_t)k);
        for (int i = 0; i < SL_LAT_BUCKETS; i++) {
            cum += LOAD(m->lat_bucket[k][i]);
            if (i < SL_LAT_BUCKETS - 1)
                tb_printf(t, "sluice_broker_request_latency_seconds_bucket{api=\"%s\",le=\"%g\"} %llu\n",
                          api, (double)bucket_us[i] / 1e6, cum);
            else
                tb_printf(t, "sluice_broker_request_latency_seconds_bucket{api=\"%s\",le=\"+Inf\"} %llu\n",
                          api, cum);
        }
        tb_printf(t, "sluice_broker_request_latency_seconds_sum{api=\"%s\"} %.6f\n", api,
                  (double)LOAD(m->lat_sum_us[k]) / 1e6);
        tb_printf(t, "sluice_broker_request_latency_seconds_count{api=\"%s\"} %llu\n", api, cum);
    }
}

static char *render_metrics(size_t *len)
{
    sl_metrics *m = &sl_broker_metrics;
    textbuf t = {malloc(8192), 0, 8192};
    counter(&t, "sluice_broker_bytes_in_total", "Bytes read from clients.", LOAD(m->bytes_in));
    counter(&t, "sluice_broker_bytes_out_total", "Bytes written to clients.", LOAD(m->bytes_out));
    counter(&t, "sluice_broker_messages_in_total", "Records appended.", LOAD(m->messages_in));
    counter(&t, "sluice_broker_batches_in_total", "Produce partition requests appended.",
            LOAD(m->batches_in));
    counter(&t, "sluice_broker_connections_accepted_total", "Connections accepted.",
            LOAD(m->connections_accepted));
    gauge(&t, "sluice_broker_connections", "Open client connections.", LOAD(m->connections_active));
    counter(&t, "sluice_broker_fsyncs_total", "fdatasync calls (group commit).", LOAD(m->fsyncs));
    counter(&t, "sluice_broker_sync_cycles_total", "Group commit cycles.", LOAD(m->sync_cycles));
    tb_printf(&t, "# HELP sluice_broker_fsync_seconds_total Time spent in fdatasync.\n"
                  "# TYPE sluice_broker_fsync_seconds_total counter\n"
                  "sluice_broker_fsync_seconds_total %.6f\n", (double)LOAD(m->fsync_us) / 1e6);
    counter(&t, "sluice_broker_bad_frames_total", "Malformed requests (connection closed).",
            LOAD(m->bad_frames));
    counter(&t, "sluice_broker_corrupt_batches_total", "Produced batches refused (CRC, magic, size).",
            LOAD(m->corrupt_batches));
    gauge(&t, "sluice_broker_topics", "Topics.", LOAD(m->topics));
    gauge(&t, "sluice_broker_partitions", "Partitions.", LOAD(m->partitions));
    gauge(&t, "sluice_broker_log_size_bytes", "Bytes in all segment files.", LOAD(m->log_bytes));
    render_requests(&t);
    *len = t.len;
    return t.s;
}

/* ================= the admin listener (core/http.c) ================= */

/* runs on: an MHD worker thread of the admin listener (these three) */
static void get_metrics(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    size_t len;
    resp->text = render_metrics(&len);
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void get_health(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    resp->body = json_pack("{s:s, s:s}", "status", "UP", "role", "broker");
}

static void not_found(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_http_error(resp, 404, 404, "no such path: %.200s (try /metrics or /health)", req->path);
}

/* HEAD as GET: MHD sends the headers only. */
static const sl_http_route admin_routes[] = {
    {"GET", "/metrics", get_metrics},
    {"HEAD", "/metrics", get_metrics},
    {"GET", "/health", get_health},
    {"HEAD", "/health", get_health},
    {NULL, NULL, NULL},
};

int sl_admin_start(sl_broker *b, char *err, size_t errlen)
{
    const sl_http_security *sec = &b->conf.admin_http;
    if (!b->conf.admin_listeners || !*b->conf.admin_listeners)
        return 0;
    /* two threads: a scrape and a health probe at once; nothing here blocks */
    sl_http_conf hc = {.component = SL_BROKER_COMPONENT,
                       .listeners = b->conf.admin_listeners,
                       .max_body_bytes = 65536,
                       .security = sec,
                       .content_type = "application/json",
                       .threads = 2,
                       .not_found = not_found};
    if (sl_http_start(&hc, admin_routes, b, &b->admin, err, errlen))
        return -1;
    sl_info(SL_BROKER_COMPONENT, "admin HTTP (/metrics, /health) on %s (port %d)%s",
            b->conf.admin_listeners, sl_http_port(b->admin),
            sec->auth_method && !strcasecmp(sec->auth_method, "BASIC") ? ", basic authentication"
                                                                       : "");
    return 0;
}

void sl_admin_stop(sl_broker *b)
{
    sl_http_stop(b->admin);
    b->admin = NULL;
}
