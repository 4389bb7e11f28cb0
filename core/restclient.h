/*
 * restclient.h - a small JSON-over-HTTP client on libcurl, for talking to
 * the schema registry (the avro converter, `sluice schemas`) and the worker
 * (`sluice connectors`): the one place sluice makes HTTP requests to its own
 * REST APIs.
 *
 * One sl_restclient per thread (it owns one CURL easy handle, so its
 * connection is kept alive between calls). Errors never print: they are
 * returned in err, naming the method, URL and what the server said (its
 * {"error_code","message"} body when it sent one).
 *
 * https:// URLs: the server's certificate must chain to a CA of the client's
 * ca_file (PEM) and name the URL's host; without ca_file, the CAs of the
 * file named by the environment's SSL_CERT_FILE (OpenSSL's and curl's
 * convention), else the system's. A failed verification is an error naming
 * the URL and how to fix it, never a silent downgrade.
 */
#ifndef SL_RESTCLIENT_H
#define SL_RESTCLIENT_H

#include <jansson.h>
#include <stddef.h>

typedef struct sl_restclient sl_restclient;

/* base_url "http://host:port" or "https://host:port" (a trailing '/' is
 * fine); userpwd "user:password" for basic auth or NULL; content_type of
 * request bodies. NULL when out of memory. */
sl_restclient *sl_restclient_create(const char *base_url, const char *userpwd,
                                    const char *content_type);

/* What else a client may be told than its URL. */
typedef struct sl_restclient_opts {
    const char *userpwd;      /* "user:password" for basic auth, or NULL */
    const char *ca_file;      /* PEM CAs an https server must chain to; NULL: see above */
    const char *content_type; /* of request bodies; NULL: application/json */
} sl_restclient_opts;

/* sl_restclient_create with options (o may be NULL). NULL with err when
 * base_url is not http(s):// or ca_file cannot be read. */
sl_restclient *sl_restclient_open(const char *base_url, const sl_restclient_opts *o, char *err,
                                  size_t errlen);

/* A schema registry client from a Confluent client's keys, each read as
 * prefix + key ("value.converter." + "schema.registry.url") from config,
 * an object of string values:
 *   schema.registry.url              required; the first of a comma list
 *   basic.auth.credentials.source    USER_INFO (basic.auth.user.info) or URL
 *                                    (user:password@ in the URL); without it,
 *                                    basic.auth.user.info when set
 *   basic.auth.user.info             "user:password" (secret)
 *   schema.registry.ssl.ca.location  PEM CA file for an https:// registry
 * NULL with err naming the key (prefix included) and what is wrong, never a
 * password. */
sl_restclient *sl_restclient_registry(const json_t *config, const char *prefix, char *err,
                                      size_t errlen);

/* 1 when key, after any prefix, is a secret of a Confluent registry client
 * (basic.auth.user.info, bearer.auth.token, schema.registry.ssl.*.password):
 * a config shown to users hides its value. */
int sl_restclient_secret_key(const char *key);

void sl_restclient_destroy(sl_restclient *c);

/* One request; body is JSON text or NULL. Returns the HTTP status with
 * *answer the parsed body (new reference, may be NULL when the body was
 * empty), or -1 with err set when the request could not be made or the body
 * is not JSON. A status >= 300 also fills err with the server's message. */
long sl_restclient_call(sl_restclient *c, const char *method, const char *path, const char *body,
                        json_t **answer, char *err, size_t errlen);

/* The same request with the answer left as the server sent it, for a caller
 * that judges the body itself. Returns the HTTP status with *answer the body
 * (NUL-terminated, *len bytes; the caller frees it; NULL when it was empty),
 * or -1 with *answer NULL and err "<method> <url>: <reason>" when no answer
 * came. Never looks at the status. */
long sl_restclient_send(sl_restclient *c, const char *method, const char *path, const char *body,
                        char **answer, size_t *len, char *err, size_t errlen);

/* The base URL requests go to, without a trailing '/' (for messages). */
const char *sl_restclient_base_url(const sl_restclient *c);

/* Build a path into out: before, then name percent-encoded as one path
 * segment (every byte but ALPHA, DIGIT and "-._~", RFC 3986; the same as
 * curl_easy_escape), then after. When that does not fit in len bytes, out
 * is left empty, which sl_restclient_send refuses (a cut path would name
 * another resource). */
void sl_restclient_path(char *out, size_t len, const char *before, const char *name,
                        const char *after);

#endif
