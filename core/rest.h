/*
 * rest.h - the worker's Kafka Connect REST API (rest.c) on the shared HTTP
 * layer (http.h): the same paths, verbs, bodies and status codes as Kafka
 * Connect, plus /metrics (Prometheus text) and /health.
 *
 * Threads: start/stop from the worker's control thread; requests run on
 * the HTTP layer's threads and call the worker's thread-safe control API
 * (worker.h).
 */
#ifndef SL_REST_H
#define SL_REST_H

#include <stddef.h>

#include "http.h"
#include "worker.h"

typedef struct sl_rest sl_rest;

/* Serves the API for w on listeners ("http://host:port" or https://),
 * protected as security says (NULL: not at all). -1 with err when the
 * listener or its security is bad or the port is taken. */
int sl_rest_start(sl_worker *w, const char *listeners, const sl_http_security *security,
                  sl_rest **out, char *err, size_t errlen);
/* Stops serving (waits for requests in progress). NULL is fine. */
void sl_rest_stop(sl_rest *r);
int sl_rest_port(const sl_rest *r);

#endif
