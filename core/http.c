/*
 * http.c - the REST server of the registry, the worker and the broker's
 * admin listener, on libmicrohttpd (see http.h).
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
 *
 * Security (sl_http_security, read once at start):
 *   - https:// listeners: MHD's own TLS (libmicrohttpd is built on GnuTLS,
 *     and takes no other TLS library), fed from memory. The PEM files are
 *     first read with OpenSSL, which names what is wrong in a config (no
 *     certificate in the file, a key that is encrypted without a password or
 *     with another one, a key that does not match the certificate); the key
 *     is handed to MHD decrypted, so no password format differences between
 *     the two libraries matter, and the copy is wiped at stop.
 *   - authentication.method=BASIC: the accepted "user:password" pairs are
 *     an sl_users (users.h: SHA-256 digests compared in constant time). A
 *     refused request gets 401, WWW-Authenticate: Basic realm="<realm>" and
 *     {"error_code":401,"message":...}, before any of its body is read.
 *   - every message names the key as the role's user wrote it: prefixed
 *     with sec->key_prefix ("admin.ssl.key.password" for the broker).
 */
#include "base64.h"
#include "http.h"
#include "pem_key.h"
#include "props.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "logging.h"
#include "users.h"

/* What sl_http_security amounts to once its files are read. */
typedef struct security {
    int https;
    char *cert_pem, *key_pem; /* for MHD; key_pem decrypted, wiped when freed */
    size_t key_len;
    int basic_auth;
    sl_users *users; /* with basic_auth */
} security;

struct sl_http {
    struct MHD_Daemon *d;
    const sl_http_route *routes;
    sl_http_handler not_found; /* NULL: the default 404 */
    void *app;
    int64_t max_body;
    security sec;
    char *realm, *content_type, *comp;
    int port;
    atomic_int serving;  /* MHD_start_daemon returned: MHD's messages are logged */
    char start_err[256]; /* MHD's last message while starting */
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

/* Decode base64 into out (NUL-terminated); -1 if malformed or too long. */
static int b64decode(const char *in, char *out, size_t outlen)
{
    ssize_t n = sl_base64_decode(in, strlen(in), (unsigned char *)out, outlen - 1);
    if (n < 0)
        return -1;
    out[n] = 0;
    return 0;
}

/* Is the request's "Authorization: Basic" pair one of the accepted ones? */
static int authorized(sl_http *h, struct MHD_Connection *c)
{
    const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    char cred[512];
    if (!hdr || strncasecmp(hdr, "Basic ", 6) || b64decode(hdr + 6, cred, sizeof(cred)) ||
        !strchr(cred, ':'))
        return 0;
    int ok = sl_users_check_pair(h->sec.users, cred, strlen(cred));
    OPENSSL_cleanse(cred, sizeof(cred));
    return ok;
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

/* Runs a handler on req (its answer starting as status) and sends what it
 * answered. */
static enum MHD_Result run_handler(sl_http *h, struct MHD_Connection *c, sl_http_handler handler,
                                   const sl_http_req *req, int status)
{
    sl_http_resp resp = {.status = status};
    handler(h->app, req, &resp);
    enum MHD_Result rc = send_answer(c, h, resp.status, resp.body, resp.text, resp.content_type);
    sl_debug(h->comp, "%s %s -> %d", req->method, req->path, resp.status);
    json_decref(resp.body);
    return rc;
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
    if (!found && !path_known && h->not_found) { /* the role answers its own 404 */
        free(buf);
        sl_http_req req = {.method = method, .path = url, .body = "", .conn = c};
        return run_handler(h, c, h->not_found, &req, 404);
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
    enum MHD_Result rc = run_handler(h, c, found->handler, &req, 200);
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
        if (h->sec.basic_auth && !authorized(h, c)) {
            sl_debug(h->comp, "%s %s -> 401 (no or wrong credentials)", method, url);
            return send_error(c, h, 401, 401,
                              "Unauthorized: this server requires HTTP basic authentication "
                              "with a known user and password");
        }
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

/* ================= security: certificate, key, users ================= */

/* The reason of OpenSSL's last error (its queue is emptied). */
static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "unknown";
}

/* The prefix of sec's keys ("" or "admin."). */
static const char *prefix_of(const sl_http_security *sec)
{
    return sec && sec->key_prefix ? sec->key_prefix : "";
}

/* A whole file (sl_file_read; PEM files are small); key (pfx + key) names
 * it in errors. */
static char *slurp(const char *pfx, const char *key, const char *path, size_t *len, char *err,
                   size_t errlen)
{
    char *buf = sl_file_read(path, 1 << 20, len);
    if (!buf)
        snprintf(err, errlen, "%s%s '%s': cannot read: %s", pfx, key, path,
                 errno == EFBIG ? "over 1 MiB: not a PEM file?" : strerror(errno));
    return buf;
}

/* The key of sec->key_file, decrypted, as unencrypted PKCS#8 PEM. */
static int load_key(const sl_http_security *sec, security *out, EVP_PKEY **pkey, char *err,
                    size_t errlen)
{
    const char *pfx = prefix_of(sec);
    BIO *mem = NULL;
    int rc = -1;
    if (!(*pkey = sl_pem_key_read(pfx, sec->key_file, sec->key_password, err, errlen)))
        return -1;
    if (!(mem = BIO_new(BIO_s_mem())) ||
        !PEM_write_bio_PrivateKey(mem, *pkey, NULL, NULL, 0, NULL, NULL))
        snprintf(err, errlen, "%sssl.key.location '%s': cannot re-encode the key (%s)", pfx,
                 sec->key_file, ossl_reason());
    else {
        char *data;
        long n = BIO_get_mem_data(mem, &data);
        if ((out->key_pem = malloc((size_t)n + 1))) {
            memcpy(out->key_pem, data, (size_t)n);
            out->key_pem[n] = 0;
            out->key_len = (size_t)n;
            rc = 0;
        } else {
            snprintf(err, errlen, "%sssl.key.location: out of memory", pfx);
        }
        OPENSSL_cleanse(data, (size_t)n);
    }
    ERR_clear_error();
    BIO_free(mem);
    return rc;
}

/* The certificate file (kept whole for MHD: the chain follows the
 * certificate) and its key; the key must be the certificate's. */
static int load_tls(const sl_http_security *sec, security *out, const char *comp, char *err,
                    size_t errlen)
{
    const char *pfx = prefix_of(sec);
    size_t len;
    X509 *x = NULL;
    EVP_PKEY *pkey = NULL;
    int rc = -1;
    if (!sec->cert_file || !*sec->cert_file || !sec->key_file || !*sec->key_file) {
        snprintf(err, errlen,
                 "an https:// listener needs %sssl.certificate.location and "
                 "%sssl.key.location (PEM files)",
                 pfx, pfx);
        return -1;
    }
    if (!(out->cert_pem =
              slurp(pfx, "ssl.certificate.location", sec->cert_file, &len, err, errlen)))
        return -1;
    BIO *b = BIO_new_mem_buf(out->cert_pem, (int)len);
    x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!x) {
        snprintf(err, errlen, "%sssl.certificate.location '%s': no PEM certificate in it", pfx,
                 sec->cert_file);
        goto done;
    }
    if (load_key(sec, out, &pkey, err, errlen))
        goto done;
    if (X509_check_private_key(x, pkey) != 1) {
        snprintf(err, errlen,
                 "%sssl.key.location '%s' is not the key of the certificate in "
                 "%sssl.certificate.location '%s'",
                 pfx, sec->key_file, pfx, sec->cert_file);
        goto done;
    }
    if (comp && X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
        sl_warn(comp,
                "%sssl.certificate.location '%s': the certificate has expired; clients will "
                "refuse it",
                pfx, sec->cert_file);
    rc = 0;
done:
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

static void security_free(security *s)
{
    free(s->cert_pem);
    if (s->key_pem)
        OPENSSL_cleanse(s->key_pem, s->key_len);
    free(s->key_pem);
    sl_users_destroy(s->users);
    memset(s, 0, sizeof(*s));
}

/* Reads everything sec names; https says what the listener's scheme asks.
 * Warnings (an expired certificate, TLS files for an http:// listener) are
 * logged under comp, or not at all when comp is NULL (a check before start). */
static int security_load(const sl_http_security *sec, int https, const char *comp, security *out,
                         char *err, size_t errlen)
{
    const char *method = sec && sec->auth_method ? sec->auth_method : "NONE";
    const char *pfx = prefix_of(sec);
    char users_key[128], file_key[128];
    memset(out, 0, sizeof(*out));
    out->https = https;
    if (strcasecmp(method, "NONE") && strcasecmp(method, "BASIC")) {
        snprintf(err, errlen, "%sauthentication.method: '%s' must be NONE or BASIC", pfx, method);
        return -1;
    }
    if (https && !sec) {
        snprintf(err, errlen,
                 "an https:// listener needs ssl.certificate.location and "
                 "ssl.key.location (PEM files)");
        return -1;
    }
    if (https && load_tls(sec, out, comp, err, errlen))
        goto fail;
    if (comp && !https && sec &&
        ((sec->cert_file && *sec->cert_file) || (sec->key_file && *sec->key_file)))
        sl_warn(comp,
                "%sssl.certificate.location / %sssl.key.location are set but %slisteners is "
                "http://, not https://: they are not used",
                pfx, pfx, pfx);
    out->basic_auth = !strcasecmp(method, "BASIC");
    if (!out->basic_auth)
        return 0;
    snprintf(users_key, sizeof(users_key), "%sauthentication.users", pfx);
    snprintf(file_key, sizeof(file_key), "%sauthentication.users.file", pfx);
    if (!(out->users = sl_users_create())) {
        snprintf(err, errlen, "%s: out of memory", users_key);
        goto fail;
    }
    if (sl_users_add_list(out->users, users_key, sec->users, err, errlen) ||
        (sec->users_file && *sec->users_file &&
         sl_users_add_file(out->users, file_key, sec->users_file, err, errlen)))
        goto fail;
    if (sl_users_count(out->users) == 0) {
        snprintf(err, errlen,
                 "%sauthentication.method=BASIC needs users: %s (one user:password a line) or %s",
                 pfx, file_key, users_key);
        goto fail;
    }
    return 0;
fail:
    security_free(out);
    return -1;
}

/* ================= lifecycle ================= */

/* "http://host:port" or "https://host:port" -> address and *https. An empty
 * host or 0.0.0.0 means any. Errors name the key pfx + "listeners". */
static int parse_listener(const char *pfx, const char *listeners, struct sockaddr_storage *ss,
                          socklen_t *sslen, int *https, char *err, size_t errlen)
{
    char buf[256], host[200] = "";
    snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(listeners, ","), listeners);
    const char *p = strstr(buf, "://");
    *https = p && p - buf == 5 && !strncasecmp(buf, "https", 5);
    if (!p || (!*https && (p - buf != 4 || strncasecmp(buf, "http", 4)))) {
        snprintf(err, errlen, "%slisteners '%s': expected http://host:port or https://host:port",
                 pfx, listeners);
        return -1;
    }
    p += 3;
    const char *colon = strrchr(p, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || *end || port < 0 || port > 65535) {
        snprintf(err, errlen, "%slisteners '%s': missing or invalid port", pfx, listeners);
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
        snprintf(err, errlen, "%slisteners '%s': cannot resolve '%s': %s", pfx, listeners, host,
                 gai_strerror(e));
        return -1;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sslen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int sl_http_security_check(const char *listeners, const sl_http_security *sec, char *err,
                           size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int https;
    security s;
    if (parse_listener(prefix_of(sec), listeners, &ss, &sslen, &https, err, errlen) ||
        security_load(sec, https, NULL, &s, err, errlen))
        return -1;
    security_free(&s);
    return 0;
}

/* MHD's messages (a failed TLS handshake, a client gone): while starting,
 * kept for the error; afterwards, debug lines. runs on: any MHD thread. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    sl_http *h = cls;
    char line[256];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = 0;
    if (!atomic_load(&h->serving))
        snprintf(h->start_err, sizeof(h->start_err), "%s", line);
    else
        sl_debug(h->comp, "%s", line);
}

int sl_http_start(const sl_http_conf *conf, const sl_http_route *routes, void *app, sl_http **out,
                  char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int https;
    const char *pfx = prefix_of(conf->security);
    *out = NULL;
    if (parse_listener(pfx, conf->listeners, &ss, &sslen, &https, err, errlen))
        return -1;
    sl_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "%slisteners '%s': out of memory", pfx, conf->listeners);
        return -1;
    }
    h->routes = routes;
    h->not_found = conf->not_found;
    h->app = app;
    h->max_body = conf->max_body_bytes;
    h->comp = strdup(conf->component ? conf->component : "http");
    if (security_load(conf->security, https, h->comp, &h->sec, err, errlen)) {
        sl_http_stop(h);
        return -1;
    }
    const char *realm = conf->security ? conf->security->realm : NULL;
    h->realm = strdup(realm ? realm : "sluice");
    h->content_type = strdup(conf->content_type);
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (https)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls[] = {
        {https ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->sec.cert_pem},
        {https ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, h->sec.key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(conf->threads > 0 ? conf->threads : 8), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, h, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "%slisteners '%s': cannot listen: %s", pfx, conf->listeners,
                 h->start_err[0] ? h->start_err : "address in use or not local?");
        sl_http_stop(h);
        return -1;
    }
    atomic_store(&h->serving, 1);
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
    security_free(&h->sec);
    free(h->realm);
    free(h->content_type);
    free(h->comp);
    free(h);
}
