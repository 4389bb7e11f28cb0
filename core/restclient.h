/*
 * restclient.h - a small JSON-over-HTTP client on libcurl, for talking to
 * the schema registry (the avro converter) and other sluice REST APIs.
 *
 * One sl_restclient per thread (it owns one CURL easy handle, so its
 * connection is kept alive between calls). Errors never print: they are
 * returned in err, naming the method, URL and what the server said (its
 * {"error_code","message"} body when it sent one).
 */
#ifndef SL_RESTCLIENT_H
#define SL_RESTCLIENT_H

#include <jansson.h>
#include <stddef.h>

typedef struct sl_restclient sl_restclient;

/* base_url "http://host:port" (a trailing '/' is fine); userpwd
 * "user:password" for basic auth or NULL; content_type of request bodies.
 * NULL when out of memory. */
sl_restclient *sl_restclient_create(const char *base_url, const char *userpwd,
                                    const char *content_type);
void sl_restclient_destroy(sl_restclient *c);

/* One request; body is JSON text or NULL. Returns the HTTP status with
 * *answer the parsed body (new reference, may be NULL when the body was
 * empty), or -1 with err set when the request could not be made or the body
 * is not JSON. A status >= 300 also fills err with the server's message. */
long sl_restclient_call(sl_restclient *c, const char *method, const char *path, const char *body,
                        json_t **answer, char *err, size_t errlen);

#endif
