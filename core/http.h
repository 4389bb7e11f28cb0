/*
 * http.h - a small REST server on libmicrohttpd, shared by the schema
 * registry (schemas/api.c) and the worker's Kafka Connect API (core/rest.c):
 * routes from a table of method + path pattern -> handler, JSON bodies with a
 * size cap, optional HTTP basic authentication, and Confluent / Kafka
 * Connect error bodies {"error_code": N, "message": "..."}.
 *
 * Patterns are paths whose segments are literals or "*" (one segment,
 * captured in order into req->params). A path that matches some pattern but
 * not with this method is answered 405; no pattern at all, 404.
 */
#ifndef SL_HTTP_H
#define SL_HTTP_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_http sl_http;

#define SL_HTTP_MAX_PARAMS 4

typedef struct sl_http_req {
    const char *method;
    const char *path;
    const char *params[SL_HTTP_MAX_PARAMS]; /* captured "*" segments */
    const char *body;                       /* NUL-terminated; "" when none */
    size_t body_len;
    void *conn; /* struct MHD_Connection *, for sl_http_query */
} sl_http_req;

typedef struct sl_http_resp {
    int status;
    json_t *body;             /* owned by the response; sent compact */
    char *text;               /* owned; when set, sent instead of body (e.g. /metrics) */
    const char *content_type; /* of text; NULL: the server's content type */
} sl_http_resp;
/* A status 204 is sent with an empty body whatever body holds; so is a 202
 * with neither body nor text. Otherwise a NULL body is sent as {}. */

/* A handler fills resp (status and body). runs on: an MHD worker thread. */
typedef void (*sl_http_handler)(void *app, const sl_http_req *req, sl_http_resp *resp);

typedef struct sl_http_route {
    const char *method;
    const char *pattern;
    sl_http_handler handler;
} sl_http_route;

typedef struct sl_http_conf {
    const char *listeners;  /* "http://host:port" (the first of a comma list) */
    int64_t max_body_bytes; /* larger bodies are answered 413 unread */
    int basic_auth;         /* require Authorization: Basic */
    const char *users;      /* "user:password,user2:password2" */
    const char *realm;
    const char *content_type; /* of every response */
    int threads;
    const char *component; /* log tag; NULL: "http" */
} sl_http_conf;

/* Start serving `routes` (terminated by a NULL method) with `app` passed to
 * every handler. -1 with err on failure (bad listener, port in use). */
int sl_http_start(const sl_http_conf *conf, const sl_http_route *routes, void *app, sl_http **out,
                  char *err, size_t errlen);
void sl_http_stop(sl_http *h);
/* The port actually bound (useful with port 0). */
int sl_http_port(const sl_http *h);

/* A query-string argument, or NULL. "?deleted" alone yields "". */
const char *sl_http_query(const sl_http_req *req, const char *key);
/* Is the query argument "true" (case-insensitive)? */
int sl_http_query_true(const sl_http_req *req, const char *key);

/* Fill resp with {"error_code": code, "message": msg} and HTTP status. */
void sl_http_error(sl_http_resp *resp, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
