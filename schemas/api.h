/*
 * api.h - the Confluent Schema Registry REST API (v1) over the store
 * (private to schemas/): the route table and the state its handlers share.
 */
#ifndef SL_API_H
#define SL_API_H
#include "http.h"
#include "store.h"

typedef struct sl_api {
    sl_store *store;
    char default_level[32]; /* schema.compatibility.level, used without a CONFIG record */
} sl_api;

/* sl_store_same_fn for the store's reader: same normalized form (Parsing
 * Canonical Form of avro_schema.h) and same references. arg is unused. */
int sl_api_same_schema(void *arg, const sl_store_view *v, const sl_store_schema *have,
                       const char *schema, json_t *refs);

/* Method + pattern -> handler, terminated by a NULL method; app is sl_api *. */
extern const sl_http_route sl_api_routes[];

#endif
