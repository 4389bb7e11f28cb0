/*
 * avro_schema.h - the registry's own Avro schema model (private to schemas/).
 *
 * Why not avro-c: the registry must explain *why* a schema is invalid or
 * incompatible, with a path into the schema, and must produce the Parsing
 * Canonical Form byte for byte; avro-c answers neither. This model is a graph
 * of sl_avro_node built from the JSON (jansson). Named types (record, enum,
 * fixed) appear once; every later reference to the name points at the same
 * node, so recursive types are cycles and walkers must carry a visited set.
 *
 * Ownership: a sl_avro_schema owns every node, string and JSON default it
 * holds; sl_avro_free releases all of it. Nodes are read-only after parse,
 * so one schema may be read by many threads.
 */
#ifndef SL_AVRO_SCHEMA_H
#define SL_AVRO_SCHEMA_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SL_AVRO_NULL,
    SL_AVRO_BOOLEAN,
    SL_AVRO_INT,
    SL_AVRO_LONG,
    SL_AVRO_FLOAT,
    SL_AVRO_DOUBLE,
    SL_AVRO_BYTES,
    SL_AVRO_STRING,
    SL_AVRO_RECORD,
    SL_AVRO_ENUM,
    SL_AVRO_ARRAY,
    SL_AVRO_MAP,
    SL_AVRO_UNION,
    SL_AVRO_FIXED,
} sl_avro_type;

typedef struct sl_avro_node sl_avro_node;

typedef struct sl_avro_field {
    char *name;
    sl_avro_node *type;
    json_t *defval; /* NULL: no default (a JSON null default is json_null()) */
    char **aliases;
    size_t naliases;
    const char *order; /* "ascending" (default), "descending", "ignore" */
} sl_avro_field;

struct sl_avro_node {
    sl_avro_type type;
    /* named types */
    char *fullname; /* "ns.Name" or "Name" */
    char *name;     /* the short name */
    char **aliases; /* full names */
    size_t naliases;
    /* record */
    sl_avro_field *fields;
    size_t nfields;
    /* enum */
    char **symbols;
    size_t nsymbols;
    char *enum_default;
    /* array items, map values */
    sl_avro_node *items;
    /* union */
    sl_avro_node **branches;
    size_t nbranches;
    /* fixed */
    int64_t size;
    /* logical type (NULL if none or not valid for the type, as Avro ignores those) */
    char *logical;
    int64_t precision, scale;
    sl_avro_node *next_alloc; /* the schema's list of every node */
};

typedef struct sl_avro_schema sl_avro_schema;

/* Parse `text` (an Avro schema in JSON). `refs` are the texts of schemas
 * whose named types `text` may use (Confluent schema references), parsed
 * first in order into the same name table. On failure returns -1, *out is
 * NULL and err says where and why (e.g. "/fields/2/type: unknown type name
 * 'Adress'"). The caller frees *out with sl_avro_free. */
int sl_avro_parse(const char *text, const char *const *refs, size_t nrefs, sl_avro_schema **out,
                  char *err, size_t errlen);
void sl_avro_free(sl_avro_schema *s);
const sl_avro_node *sl_avro_root(const sl_avro_schema *s);

/* The Parsing Canonical Form of the Avro specification. malloc'd; caller frees. */
char *sl_avro_canonical(const sl_avro_schema *s);
/* The registry's identity form: the canonical form plus what changes schema
 * resolution (field defaults and order, aliases, enum default, logical type,
 * precision, scale), attributes in one fixed order. Two schemas are "the same
 * schema" to the registry when these are equal; it is also what
 * ?normalize=true stores. malloc'd; caller frees. */
char *sl_avro_normalized(const sl_avro_schema *s);

const char *sl_avro_type_name(sl_avro_type t);

#endif
