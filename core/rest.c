/*
 * rest.c - the worker's Kafka Connect REST API: a route table over the
 * shared HTTP layer (http.h), each handler a thin mapping of one request to
 * the worker's control API (worker.h) and of its outcome to Kafka Connect's
 * status codes:
 *
 *   GET    /                                        200 {"version","commit","kafka_cluster_id"}
 *   GET    /connectors[?expand=status|info]         200 names, or name -> {status, info}
 *   POST   /connectors                              201 info | 400 | 409
 *   GET    /connectors/{n}                          200 info | 404
 *   DELETE /connectors/{n}                          204
 *   GET    /connectors/{n}/config                   200 config
 *   PUT    /connectors/{n}/config                   201 (created) | 200 (updated) info
 *   PATCH  /connectors/{n}/config                   200 info
 *   GET    /connectors/{n}/status                   200
 *   GET    /connectors/{n}/tasks                    200 [{"id","config"}]
 *   GET    /connectors/{n}/tasks/{t}/status         200
 *   POST   /connectors/{n}/restart                  204, or 202 + status with
 *                                                   includeTasks / onlyFailed
 *   POST   /connectors/{n}/tasks/{t}/restart        204
 *   PUT    /connectors/{n}/pause|resume|stop        202
 *   GET    /connectors/{n}/topics                   200 {"<n>":{"topics":[...]}}
 *   PUT    /connectors/{n}/topics/reset             202
 *   GET    /connectors/{n}/offsets                  200 {"offsets":[...]}
 *   PATCH  /connectors/{n}/offsets                  200 {"message"} (STOPPED only, else 400)
 *   DELETE /connectors/{n}/offsets                  200 {"message"} (STOPPED only, else 400)
 *   GET    /connector-plugins[?connectorsOnly=false] 200 [{"class","type","version"}]
 *   GET    /connector-plugins/{p}/config            200 [ConfigKeyInfo]
 *   PUT    /connector-plugins/{p}/config/validate   200 ConfigInfos
 *   GET    /metrics                                 200 Prometheus text
 *   GET    /health                                  200 | 503
 *
 * Errors are {"error_code": <HTTP status>, "message": ...}; an unknown
 * connector is 404 "Connector <n> not found".
 *
 * Runs on: the HTTP layer's threads.
 */
#include "rest.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "logging.h"

struct sl_rest {
    sl_worker *w;
    sl_http *http;
};

/* ======================================================================== */
/* Helpers                                                                   */
/* ======================================================================== */

static sl_worker *W(void *app)
{
    return ((sl_rest *)app)->w;
}

static void ok(sl_http_resp *resp, int status, json_t *body)
{
    resp->status = status;
    resp->body = body;
}

/* Maps a worker outcome that is not success to its HTTP error. */
static void fail(sl_http_resp *resp, int rc, const char *err)
{
    int status = rc == SL_WC_NOT_FOUND ? 404
                 : rc == SL_WC_EXISTS  ? 409
                 : rc == SL_WC_INVALID ? 400
                 : rc == SL_WC_STATE   ? 400
                                       : 500;
    sl_http_error(resp, status, status, "%s", err && *err ? err : "internal error");
}

static void not_found(sl_http_resp *resp, const char *name)
{
    sl_http_error(resp, 404, 404, "Connector %s not found", name);
}

/* The request body as JSON; NULL after answering 400. */
static json_t *body_json(const sl_http_req *req, sl_http_resp *resp)
{
    json_error_t e;
    json_t *j = json_loadb(req->body, req->body_len, JSON_DECODE_ANY, &e);
    if (!j)
        sl_http_error(resp, 400, 400, "Invalid JSON body: %s (line %d, column %d)",
                      req->body_len ? e.text : "empty body", e.line, e.column);
    return j;
}

/* Task id path segment -> int; -1 if not a non-negative number. */
static int task_id(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 0 && v < 1000000 ? (int)v : -1;
}

typedef struct expand {
    int status, info;
} expand;

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    expand *x = cls;
    if (key && value && !strcmp(key, "expand")) {
        x->status |= !strcasecmp(value, "status");
        x->info |= !strcasecmp(value, "info");
    }
    return MHD_YES;
}

/* ======================================================================== */
/* Connectors                                                                */
/* ======================================================================== */

static void h_root(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    ok(resp, 200, sl_worker_info(W(app)));
}

static void h_list(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    expand x = {0};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, on_arg, &x);
    json_t *names = sl_worker_connector_names(W(app));
    if (!x.status && !x.info) {
        ok(resp, 200, names);
        return;
    }
    json_t *out = json_object(), *n;
    size_t i;
    json_array_foreach(names, i, n)
    {
        const char *name = json_string_value(n);
        json_t *entry = json_object(), *doc;
        if (x.status && sl_worker_connector_status(W(app), name, &doc) == SL_WC_OK)
            json_object_set_new(entry, "status", doc);
        if (x.info && sl_worker_connector_info(W(app), name, &doc) == SL_WC_OK)
            json_object_set_new(entry, "info", doc);
        json_object_set_new(out, name, entry);
    }
    json_decref(names);
    ok(resp, 200, out);
}

/* Answers a put: 201 or 200 with the connector's info. */
static void put_answer(sl_worker *w, const char *name, int rc, const char *err, sl_http_resp *resp)
{
    json_t *info;
    if (rc != SL_WC_OK && rc != SL_WC_CREATED) {
        fail(resp, rc, err);
        return;
    }
    if (sl_worker_connector_info(w, name, &info) != SL_WC_OK) {
        not_found(resp, name); /* deleted in between */
        return;
    }
    ok(resp, rc == SL_WC_CREATED ? 201 : 200, info);
}

static void h_create(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[4096] = "";
    json_t *body = body_json(req, resp);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    json_t *config = json_object_get(body, "config");
    json_t *init = json_object_get(body, "initial_state");
    if (!json_is_object(body) || !name || !*name)
        sl_http_error(resp, 400, 400,
                      "Connector name must be specified: {\"name\": ..., "
                      "\"config\": {...}}");
    else if (!json_is_object(config))
        sl_http_error(resp, 400, 400, "Connector config must be specified as a JSON object");
    else if (init && !json_is_string(init))
        sl_http_error(resp, 400, 400, "initial_state must be RUNNING, PAUSED or STOPPED");
    else
        put_answer(W(app), name,
                   sl_worker_connector_put(W(app), name, config, 1, json_string_value(init), err,
                                           sizeof(err)),
                   err, resp);
    json_decref(body);
}

static void h_get(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    json_t *out;
    if (sl_worker_connector_info(W(app), req->params[0], &out) != SL_WC_OK)
        not_found(resp, req->params[0]);
    else
        ok(resp, 200, out);
}

static void h_delete(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[2048] = "";
    int rc = sl_worker_connector_delete(W(app), req->params[0], err, sizeof(err));
    if (rc != SL_WC_OK)
        fail(resp, rc, err);
    else
        ok(resp, 204, NULL);
}

static void h_config_get(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    json_t *out;
    if (sl_worker_connector_config(W(app), req->params[0], &out) != SL_WC_OK)
        not_found(resp, req->params[0]);
    else
        ok(resp, 200, out);
}

static void h_config_put(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[4096] = "";
    json_t *body = body_json(req, resp);
    if (!body)
        return;
    put_answer(W(app), req->params[0],
               sl_worker_connector_put(W(app), req->params[0], body, 0, NULL, err, sizeof(err)),
               err, resp);
    json_decref(body);
}

static void h_config_patch(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[4096] = "";
    json_t *body = body_json(req, resp);
    if (!body)
        return;
    put_answer(W(app), req->params[0],
               sl_worker_connector_patch(W(app), req->params[0], body, err, sizeof(err)), err,
               resp);
    json_decref(body);
}

static void h_status(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    json_t *out;
    if (sl_worker_connector_status(W(app), req->params[0], &out) != SL_WC_OK)
        not_found(resp, req->params[0]);
    else
        ok(resp, 200, out);
}

static void h_tasks(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    json_t *out;
    if (sl_worker_connector_tasks(W(app), req->params[0], &out) != SL_WC_OK)
        not_found(resp, req->params[0]);
    else
        ok(resp, 200, out);
}

static void h_task_status(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    json_t *out;
    int id = task_id(req->params[1]);
    int rc = id < 0 ? SL_WC_NOT_FOUND : sl_worker_task_status(W(app), req->params[0], id, &out);
    if (rc == SL_WC_OK)
        ok(resp, 200, out);
    else if (sl_worker_connector_status(W(app), req->params[0], &out) == SL_WC_OK) {
        json_decref(out);
        sl_http_error(resp, 404, 404, "Task %s-%s not found", req->params[0], req->params[1]);
    } else
        not_found(resp, req->params[0]);
}

static void h_restart(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[2048] = "";
    int tasks = sl_http_query_true(req, "includeTasks");
    int failed = sl_http_query_true(req, "onlyFailed");
    json_t *out = NULL;
    int rc =
        sl_worker_connector_restart(W(app), req->params[0], tasks, failed, &out, err, sizeof(err));
    if (rc != SL_WC_OK) {
        json_decref(out);
        fail(resp, rc, err);
    } else if (!tasks && !failed) {
        json_decref(out);
        ok(resp, 204, NULL);
    } else {
        ok(resp, 202, out);
    }
}

static void h_task_restart(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[2048] = "";
    int id = task_id(req->params[1]);
    int rc =
        sl_worker_task_restart(W(app), req->params[0], id < 0 ? 1 << 30 : id, err, sizeof(err));
    if (rc != SL_WC_OK)
        fail(resp, rc, err);
    else
        ok(resp, 204, NULL);
}

static void target(void *app, const sl_http_req *req, sl_http_resp *resp, const char *state)
{
    char err[2048] = "";
    int rc = sl_worker_connector_target(W(app), req->params[0], state, err, sizeof(err));
    if (rc != SL_WC_OK)
        fail(resp, rc, err);
    else
        ok(resp, 202, NULL);
}

static void h_pause(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    target(app, req, resp, "PAUSED");
}

static void h_resume(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    target(app, req, resp, "STARTED");
}

static void h_stop(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    target(app, req, resp, "STOPPED");
}

static void h_topics(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    json_t *out;
    if (sl_worker_connector_topics(W(app), req->params[0], &out) != SL_WC_OK)
        not_found(resp, req->params[0]);
    else
        ok(resp, 200, out);
}

static void h_topics_reset(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[2048] = "";
    int rc = sl_worker_connector_topics_reset(W(app), req->params[0], err, sizeof(err));
    if (rc != SL_WC_OK)
        fail(resp, rc, err);
    else
        ok(resp, 202, NULL);
}

static void h_offsets_get(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[2048] = "";
    json_t *out = NULL;
    int rc = sl_worker_offsets_get(W(app), req->params[0], &out, err, sizeof(err));
    if (rc != SL_WC_OK)
        fail(resp, rc, err);
    else
        ok(resp, 200, out);
}

static void h_offsets_patch(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[2048] = "";
    json_t *body = body_json(req, resp);
    if (!body)
        return;
    int rc = sl_worker_offsets_set(W(app), req->params[0], body, err, sizeof(err));
    json_decref(body);
    if (rc != SL_WC_OK)
        fail(resp, rc, err);
    else
        ok(resp, 200,
           json_pack("{s:s}", "message",
                     "The offsets for this connector have been altered successfully"));
}

static void h_offsets_delete(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[2048] = "";
    int rc = sl_worker_offsets_set(W(app), req->params[0], NULL, err, sizeof(err));
    if (rc != SL_WC_OK)
        fail(resp, rc, err);
    else
        ok(resp, 200,
           json_pack("{s:s}", "message",
                     "The offsets for this connector have been reset successfully"));
}

/* ======================================================================== */
/* Plugins, metrics, health                                                  */
/* ======================================================================== */

static void h_plugins(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    const char *only = sl_http_query(req, "connectorsOnly");
    ok(resp, 200, sl_worker_plugins(W(app), !only || strcasecmp(only, "false")));
}

static void h_plugin_config(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[2048] = "";
    json_t *out = NULL;
    int rc = sl_worker_plugin_config(W(app), req->params[0], &out, err, sizeof(err));
    if (rc != SL_WC_OK)
        fail(resp, rc, err);
    else
        ok(resp, 200, out);
}

static void h_validate(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    char err[2048] = "";
    json_t *body = body_json(req, resp), *out = NULL;
    if (!body)
        return;
    int rc = sl_worker_plugin_validate(W(app), req->params[0], body, &out, err, sizeof(err));
    json_decref(body);
    if (rc != SL_WC_OK)
        fail(resp, rc, err);
    else
        ok(resp, 200, out);
}

static void h_metrics(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    resp->status = 200;
    resp->text = sl_worker_metrics(W(app));
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (!resp->text)
        sl_http_error(resp, 500, 500, "out of memory");
}

static void h_health(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    int healthy;
    json_t *out = sl_worker_health(W(app), &healthy);
    ok(resp, healthy ? 200 : 503, out);
}

static const sl_http_route routes[] = {
    {"GET", "/", h_root},
    {"GET", "/connectors", h_list},
    {"POST", "/connectors", h_create},
    {"GET", "/connectors/*", h_get},
    {"DELETE", "/connectors/*", h_delete},
    {"GET", "/connectors/*/config", h_config_get},
    {"PUT", "/connectors/*/config", h_config_put},
    {"PATCH", "/connectors/*/config", h_config_patch},
    {"GET", "/connectors/*/status", h_status},
    {"GET", "/connectors/*/tasks", h_tasks},
    {"GET", "/connectors/*/tasks/*/status", h_task_status},
    {"POST", "/connectors/*/restart", h_restart},
    {"POST", "/connectors/*/tasks/*/restart", h_task_restart},
    {"PUT", "/connectors/*/pause", h_pause},
    {"PUT", "/connectors/*/resume", h_resume},
    {"PUT", "/connectors/*/stop", h_stop},
    {"GET", "/connectors/*/topics", h_topics},
    {"PUT", "/connectors/*/topics/reset", h_topics_reset},
    {"GET", "/connectors/*/offsets", h_offsets_get},
    {"PATCH", "/connectors/*/offsets", h_offsets_patch},
    {"DELETE", "/connectors/*/offsets", h_offsets_delete},
    {"GET", "/connector-plugins", h_plugins},
    {"GET", "/connector-plugins/*/config", h_plugin_config},
    {"PUT", "/connector-plugins/*/config/validate", h_validate},
    {"GET", "/metrics", h_metrics},
    {"GET", "/health", h_health},
    {NULL},
};

/* ======================================================================== */
/* Life cycle                                                                */
/* ======================================================================== */

int sl_rest_start(sl_worker *w, const char *listeners, const sl_http_security *security,
                  sl_rest **out, char *err, size_t errlen)
{
    sl_rest *r = calloc(1, sizeof(*r));
    *out = NULL;
    if (!r) {
        snprintf(err, errlen, "REST API: out of memory");
        return -1;
    }
    r->w = w;
    sl_http_conf hc = {.listeners = listeners,
                       .max_body_bytes = 4 << 20,
                       .security = security,
                       .content_type = "application/json",
                       .threads = 4,
                       .component = "rest"};
    if (sl_http_start(&hc, routes, r, &r->http, err, errlen) != 0) {
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void sl_rest_stop(sl_rest *r)
{
    if (!r)
        return;
    sl_http_stop(r->http);
    free(r);
}

int sl_rest_port(const sl_rest *r)
{
    return r ? sl_http_port(r->http) : 0;
}
