/*
 * http.h - a small REST server on libmicrohttpd, shared by the schema
 * registry (schemas/api.c), the worker's Kafka Connect API (core/rest.c) and
 * the broker's admin listener (broker/metrics.c: /metrics, /health):
 * routes from a table of method + path pattern -> handler, JSON bodies with a
 * size cap, optional TLS (https:// listeners) and HTTP basic authentication,
 * and Confluent / Kafka Connect error bodies {"error_code": N, "message": "..."}.
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

#include "config.h"

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

/* What protects a listener: TLS for an https:// listener and who may call
 * it. A role embeds one in its config struct and declares its keys with
 * SL_HTTP_SECURITY_OPTIONS, so that every role serving HTTP names them
 * alike (the names are Confluent's / Kafka Connect's where they have one; PEM
 * files rather than Java keystores, hence ssl.certificate.location and
 * ssl.key.location). A role whose own keys would collide takes them under a
 * prefix (SL_HTTP_SECURITY_OPTIONS_PREFIXED: the broker's admin listener,
 * "admin.", beside its Kafka listeners' ssl.* keys) and sets key_prefix to
 * it, so that every error names the key the user wrote. Strings are the
 * config's (sl_config_free frees them); key_prefix is not an option. */
typedef struct sl_http_security {
    char *cert_file;    /* ssl.certificate.location: PEM, the certificate then its chain */
    char *key_file;     /* ssl.key.location: PEM private key (PKCS#8 or traditional) */
    char *key_password; /* ssl.key.password: of an encrypted key; secret */
    char *auth_method;  /* authentication.method: NONE or BASIC */
    char *realm;        /* authentication.realm: named in WWW-Authenticate */
    char *users;        /* authentication.users: "user:password,..."; secret */
    char *users_file;   /* authentication.users.file: one "user:password" a line */
    const char *key_prefix; /* what the keys above and listeners start with; NULL: "" */
} sl_http_security;

/* The option rows of an sl_http_security held at `member` of the role's
 * config struct `type`, each key named prefix + key (prefix a string
 * literal: "admin."); realm_default is the role's realm. */
/* clang-format off */
#define SL_HTTP_SECURITY_OPTIONS_PREFIXED(type, member, prefix, realm_default)                     \
    {prefix "ssl.certificate.location", SL_OPT_STRING, NULL, offsetof(type, member.cert_file),     \
     "with an https:// listener: the server certificate (PEM, then its chain)", 0, 0, 0},          \
    {prefix "ssl.key.location", SL_OPT_STRING, NULL, offsetof(type, member.key_file),              \
     "with an https:// listener: the certificate's private key (PEM)", 0, 0, 0},                   \
    {prefix "ssl.key.password", SL_OPT_STRING, NULL, offsetof(type, member.key_password),          \
     "the password of an encrypted " prefix "ssl.key.location (secret)", 0, 0, 0},                 \
    {prefix "authentication.method", SL_OPT_STRING, "NONE", offsetof(type, member.auth_method),    \
     "NONE, or BASIC for HTTP basic authentication of every request", 0, 0, 0},                    \
    {prefix "authentication.realm", SL_OPT_STRING, realm_default, offsetof(type, member.realm),    \
     "realm named in the WWW-Authenticate challenge", 0, 0, 0},                                    \
    {prefix "authentication.users.file", SL_OPT_STRING, NULL, offsetof(type, member.users_file),   \
     "with BASIC: a file of accepted credentials, one 'user:password' a line, "                    \
     "'#' comments", 0, 0, 0},                                                                     \
    {prefix "authentication.users", SL_OPT_STRING, NULL, offsetof(type, member.users),             \
     "with BASIC: more accepted credentials, 'user:password' separated by commas "                 \
     "(secret)", 0, 0, 0}
#define SL_HTTP_SECURITY_OPTIONS(type, member, realm_default)                                      \
    SL_HTTP_SECURITY_OPTIONS_PREFIXED(type, member, "", realm_default)
/* clang-format on */

typedef struct sl_http_conf {
    const char *listeners;  /* "http://host:port" or "https://host:port" (the first of a list) */
    int64_t max_body_bytes; /* larger bodies are answered 413 unread */
    const sl_http_security *security; /* NULL: plain http, nobody authenticated */
    const char *content_type;         /* of every response */
    int threads;
    const char *component; /* log tag; NULL: "http" */
    /* Answers a path that no route has (req->path), say with the paths
     * there are; NULL: {"error_code":404,"message":"HTTP 404 Not Found"}. */
    sl_http_handler not_found;
} sl_http_conf;

/* Checks a listener and its security the way sl_http_start will (the
 * scheme; the certificate, key and password; the users), so that a role
 * refuses a bad config before it connects to anything. 0, or -1 with err
 * naming the key (with sec->key_prefix), the file and what is wrong (never
 * a password). */
int sl_http_security_check(const char *listeners, const sl_http_security *sec, char *err,
                           size_t errlen);

/* Start serving `routes` (terminated by a NULL method) with `app` passed to
 * every handler. The certificate, key and users files are read once, here.
 * -1 with err on failure (bad listener or security, port in use). */
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
