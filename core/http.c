/*
 * http.c - the REST server of the registry and the worker, on
 * libmicrohttpd (see http.h).
 *
 * Threads: MHD_USE_AUTO_INTERNAL_THREAD with a pool of worker threads (the
 * kernel's best poller: epoll on Linux); each request runs start to end on
 * one worker, and handlers may block on the store (a write waits for Kafka),
 * so the pool is sized for a few concurrent writers.
 *
 * A request's life, in MHD's repeated calls of on_request:
 *   1. first call (no body seen yet): authenticate, and refuse a declared
 *      Content-Length above the cap with 413 before reading any of it;
 *   2. body chunks: appended up to the cap; a chunked body that outgrows it
 *      is dropped on the floor (never buffered) and answered 413;
 *   3. last call: check the content type, route, run the handler, send.
 */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "logging.h"

struct sl_http {
    struct MHD_Daemon *d;
    const sl_http_route *routes;
    void *app;
    int64_t max_body;
    int basic_auth;
    char *users, *realm, *content_type, *comp;
    int port;
};

typedef struct request {
    char *buf;
    size_t len, cap;
    int too_big;
} request;

/* ================= helpers ================= */

void sl_http_error(sl_http_resp *resp, int status, int code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_decref(resp->body);
    resp->status = status;
    resp->body = json_pack("{s:i, s:s}", "error_code", code, "message", msg);
}

const char *sl_http_query(const sl_http_req *req, const char *key)
{
    const char *v = NULL;
    size_t vlen = 0;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
                                      &vlen) != MHD_YES)
        return NULL;
    return v ? v : "";
}

int sl_http_query_true(const sl_http_req *req, const char *key)
{
    const char *v = sl_http_query(req, key);
    return v && !strcasecmp(v, "true");
}

/* Sends body (JSON) or, when text is set, text (owned: freed here) with
 * content type ctype. A 204, and a 202 without body, go out empty. */
static enum MHD_Result send_answer(struct MHD_Connection *c, sl_http *h, int status, json_t *body,
                                   char *text, const char *ctype)
{
    if (status == 204 || (status == 202 && !body && !text)) {
        free(text);
        text = strdup("");
    } else if (!text) {
        text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
        ctype = NULL;
    }
    if (!text)
        return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (status != 204)
        MHD_add_response_header(r, "Content-Type", ctype ? ctype : h->content_type);
    if (status == 401) {
        char hdr[300];
        snprintf(hdr, sizeof(hdr), "Basic realm=\"%s\"", h->realm);
        MHD_add_response_header(r, "WWW-Authenticate", hdr);
    }
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, sl_http *h, int status, json_t *body)
{
    return send_answer(c, h, status, body, NULL, NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, sl_http *h, int status, int code,
                                  const char *msg)
{
    json_t *b = json_pack("{s:i, s:s}", "error_code", code, "message", msg);
    enum MHD_Result rc = send_json(c, h, status, b);
    json_decref(b);
    return rc;
}

/* ================= basic authentication ================= */

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Decode base64 into out (NUL-terminated); -1 if malformed or too long. */
static int b64decode(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    int bits = 0;
    unsigned acc = 0; /* only the low 14 bits matter: mask so it never overflows */
    for (; *in && *in != '='; in++) {
        int v = b64val((unsigned char)*in);
        if (v < 0)
            return -1;
        acc = ((acc << 6) | (unsigned)v) & 0x3fffu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= outlen)
                return -1;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = 0;
    return 0;
}

/* Constant-time comparison of equal-length strings; length leaks only. */
static int same(const char *a, const char *b, size_t n)
{
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static int authorized(sl_http *h, struct MHD_Connection *c)
{
    const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    char cred[512];
    if (!hdr || strncasecmp(hdr, "Basic ", 6) || b64decode(hdr + 6, cred, sizeof(cred)) ||
        !strchr(cred, ':'))
        return 0;
    size_t clen = strlen(cred);
    for (const char *u = h->users; u && *u;) {
        const char *end = strchr(u, ',');
        size_t len = end ? (size_t)(end - u) : strlen(u);
        if (len == clen && same(u, cred, len))
            return 1;
        u = end ? end + 1 : NULL;
    }
    return 0;
}

/* ================= routing ================= */

/* Does path match pattern? Captures "*" segments into params (pointing into
 * buf, a writable copy of path). */
static int match(const char *pattern, char *buf, const char **params)
{
    int np = 0;
    const char *p = pattern;
    char *s = buf;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++, s++;
        const char *pe = strchr(p, '/');
        char *se = strchr(s, '/');
        size_t plen = pe ? (size_t)(pe - p) : strlen(p);
        size_t slen = se ? (size_t)(se - s) : strlen(s);
        if (plen == 1 && *p == '*') {
            if (slen == 0 || np == SL_HTTP_MAX_PARAMS)
                return 0;
            params[np++] = s;
        } else if (plen != slen || strncmp(p, s, plen)) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    if (*p || (*s && strcmp(s, "/")))
        return 0;
    return 1;
}

/* Split the captured segments (NUL-terminate them in buf). */
static void terminate_params(char *buf, const char **params)
{
    for (char *s = buf; *s; s++)
        if (*s == '/')
            *s = 0;
    (void)params;
}

static int content_type_ok(struct MHD_Connection *c)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ct)
        return 1;
    static const char *ok[] = {"application/vnd.schemaregistry.v1+json",
                               "application/vnd.schemaregistry+json", "application/json",
                               "application/octet-stream"};
    size_t len = strcspn(ct, "; ");
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strlen(ok[i]) == len && !strncasecmp(ct, ok[i], len))
            return 1;
    return 0;
}

static enum MHD_Result dispatch(sl_http *h, struct MHD_Connection *c, const char *method,
                                const char *url, request *rq)
{
    char *buf = strdup(url);
    const char *params[SL_HTTP_MAX_PARAMS] = {0};
    const sl_http_route *found = NULL;
    int path_known = 0;
    for (const sl_http_route *r = h->routes; r->method && !found; r++) {
        strcpy(buf, url);
        memset(params, 0, sizeof(params));
        if (!match(r->pattern, buf, params))
            continue;
        path_known = 1;
        if (!strcmp(r->method, method))
            found = r;
    }
    if (!found) {
        free(buf);
        return path_known ? send_error(c, h, 405, 405, "HTTP 405 Method Not Allowed")
                          : send_error(c, h, 404, 404, "HTTP 404 Not Found");
    }
    if (rq->len && !content_type_ok(c)) {
        free(buf);
        return send_error(c, h, 415, 415, "HTTP 415 Unsupported Media Type");
    }
    terminate_params(buf, params);
    sl_http_req req = {.method = method,
                       .path = url,
                       .body = rq->buf ? rq->buf : "",
                       .body_len = rq->len,
                       .conn = c};
    memcpy(req.params, params, sizeof(params));
    sl_http_resp resp = {.status = 200};
    found->handler(h->app, &req, &resp);
    enum MHD_Result rc = send_answer(c, h, resp.status, resp.body, resp.text, resp.content_type);
    sl_debug(h->comp, "%s %s -> %d", method, url, resp.status);
    json_decref(resp.body);
    free(buf);
    return rc;
}

/* runs on: an MHD worker thread */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    sl_http *h = cls;
    request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        if (h->basic_auth && !authorized(h, c))
            return send_error(c, h, 401, 401, "Unauthorized");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoll(cl, NULL, 10) > h->max_body) {
            char msg[160];
            snprintf(msg, sizeof(msg), "Request body of %s bytes exceeds the limit of %lld bytes",
                     cl, (long long)h->max_body);
            return send_error(c, h, 413, 413, msg);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->too_big || rq->len + n > (size_t)h->max_body) {
            rq->too_big = 1;
            free(rq->buf);
            rq->buf = NULL;
            rq->len = rq->cap = 0;
            return MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            rq->cap = (rq->len + n + 1) * 2;
            char *nb = realloc(rq->buf, rq->cap);
            if (!nb)
                return MHD_NO;
            rq->buf = nb;
        }
        memcpy(rq->buf + rq->len, upload_data, n);
        rq->len += n;
        rq->buf[rq->len] = 0;
        return MHD_YES;
    }
    if (rq->too_big) {
        char msg[160];
        snprintf(msg, sizeof(msg), "Request body exceeds the limit of %lld bytes",
                 (long long)h->max_body);
        return send_error(c, h, 413, 413, msg);
    }
    return dispatch(h, c, method, url, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request *rq = *con_cls;
    if (rq) {
        free(rq->buf);
        free(rq);
        *con_cls = NULL;
    }
}

/* ================= lifecycle ================= */

/* "http://host:port" -> address. An empty host or 0.0.0.0 means any. */
static int parse_listener(const char *listeners, struct sockaddr_storage *ss, socklen_t *sslen,
                          char *err, size_t errlen)
{
    char buf[256], host[200] = "";
    snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(listeners, ","), listeners);
    const char *p = strstr(buf, "://");
    if (!p || strncasecmp(buf, "http", 4) || p - buf != 4) {
        snprintf(err, errlen,
                 "listeners '%s': expected http://host:port (https is not "
                 "supported)",
                 listeners);
        return -1;
    }
    p += 3;
    const char *colon = strrchr(p, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || *end || port < 0 || port > 65535) {
        snprintf(err, errlen, "listeners '%s': missing or invalid port", listeners);
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - p), p);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai = NULL;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%ld", port);
    int e = getaddrinfo(*host ? host : NULL, portstr, &hints, &ai);
    if (e || !ai) {
        snprintf(err, errlen, "listeners '%s': cannot resolve '%s': %s", listeners, host,
                 gai_strerror(e));
        return -1;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sslen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int sl_http_start(const sl_http_conf *conf, const sl_http_route *routes, void *app, sl_http **out,
                  char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    *out = NULL;
    if (parse_listener(conf->listeners, &ss, &sslen, err, errlen))
        return -1;
    sl_http *h = calloc(1, sizeof(*h));
    h->routes = routes;
    h->app = app;
    h->max_body = conf->max_body_bytes;
    h->basic_auth = conf->basic_auth;
    h->users = strdup(conf->users ? conf->users : "");
    h->realm = strdup(conf->realm ? conf->realm : "SchemaRegistry");
    h->content_type = strdup(conf->content_type);
    h->comp = strdup(conf->component ? conf->component : "http");
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(conf->threads > 0 ? conf->threads : 8), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "listeners '%s': cannot listen (address in use or not local?)",
                 conf->listeners);
        sl_http_stop(h);
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : 0;
    *out = h;
    return 0;
}

int sl_http_port(const sl_http *h)
{
    return h->port;
}

void sl_http_stop(sl_http *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    free(h->users);
    free(h->realm);
    free(h->content_type);
    free(h->comp);
    free(h);
}
