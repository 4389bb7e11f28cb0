/*
 * converter.c - the converter table and the `json` converter (converter.h
 * has the formats). A backend is one row of `backends`; `avro` (Confluent's
 * wire format through the registry) lives in converter_avro.c.
 *
 * json to_bytes: the Connect schema text and a writing plan (json_plan.c)
 * of each Avro schema are built once and cached by schema pointer (sources
 * reuse one schema per table), so per record the work is writing the value
 * through its plan behind the cached text: no tree, no allocation.
 *
 * json from_bytes, the tree path: parse the message with jansson, find the
 * cached class by a hash of its Connect schema (or of its payload's shape,
 * schemaless), build an Avro schema and value class only on a miss, fill
 * the value from the tree. It reads anything and words every error. The
 * one-pass reader (json_plan.c) reads most messages instead: those of the
 * class the last message used, in one walk of the text with no tree; it
 * hands everything else to the tree path, and so answers as it does.
 * Values given back are read into in place.
 *
 * Runs on: the owning task's thread.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "converter.h"
#include "converter_avro.h"
#include "json_plan.h"
#include "sluice/envelope.h"

#define CACHE_SLOTS 8
#define FNV_BASIS 0xcbf29ce484222325ull /* json_hash's seed */

typedef struct to_slot {
    avro_schema_t schema; /* borrowed key (a reference is held) */
    char *head;      /* schemas.enable: {"schema":<its Connect schema>,"payload": */
    size_t head_len;
    sl_jplan *plan;  /* the writer's plan of schema, or NULL: sluice_value_json_append */
} to_slot;

typedef struct from_slot {
    json_t *connect; /* the Connect schema this slot answers */
    uint64_t hash;   /* json_hash of the message's schema, or of its payload's shape */
    int inferred;    /* the schema was inferred from a payload (no "schema") */
    avro_schema_t schema;
    avro_value_iface_t *iface;
    char *raw;      /* a message's "schema" text this slot answered (the reader's key) */
    size_t raw_len;
    sl_jplan *plan;    /* of schema, for the reader; NULL: the tree path only */
    int peeked;        /* handed out by a peek since the last retire */
} from_slot;

typedef struct backend {
    const char *name, *class_name;
    int (*to_bytes)(sl_converter *c, const char *topic, avro_schema_t schema,
                    const avro_value_t *value, void **out, size_t *len, char *err, size_t errlen);
    int (*from_bytes)(sl_converter *c, const char *topic, const void *bytes, size_t len,
                      avro_value_t *value, char *err, size_t errlen);
} backend;

struct sl_converter {
    const backend *be;
    int is_key, schemas_enable;
    to_slot to[CACHE_SLOTS];
    from_slot from[CACHE_SLOTS];
    unsigned to_next, from_next, names; /* round-robin eviction; record name counter */
    sl_avro_conv *avro;                  /* the avro backend's state */
    char *out;                           /* to_bytes: the message, reused */
    size_t out_cap;
    char *scratch; /* from_bytes: the reader's decoded strings, reused */
    size_t scratch_cap;
    int last_inferred, last_declared; /* from slots the last messages used (checked on use) */
    /* Schemas of evicted slots a peek handed out: released by retire. */
    avro_schema_t *retired;
    size_t n_retired, cap_retired;
};

/* ======================================================================== */
/* Avro schema -> Connect schema                                             */
/* ======================================================================== */

static json_t *connect_of(avro_schema_t s, int optional)
{
    const char *type = NULL;
    json_t *j;
    switch (avro_typeof(s)) {
    case AVRO_STRING: case AVRO_ENUM: case AVRO_NULL: type = "string"; break;
    case AVRO_BYTES: case AVRO_FIXED: type = "bytes"; break;
    case AVRO_INT32: type = "int32"; break;
    case AVRO_INT64: type = "int64"; break;
    case AVRO_FLOAT: type = "float"; break;
    case AVRO_DOUBLE: type = "double"; break;
    case AVRO_BOOLEAN: type = "boolean"; break;
    case AVRO_LINK: /* a second use of a named type (before/after share <ns>.Value) */
        return connect_of(avro_schema_link_target(s), optional);
    case AVRO_UNION: {
        /* ["null", T] -> T optional; other unions: their first non-null branch */
        size_t n = avro_schema_union_size(s), i;
        for (i = 0; i < n; i++) {
            avro_schema_t b = avro_schema_union_branch(s, (int)i);
            if (avro_typeof(b) != AVRO_NULL)
                return connect_of(b, 1);
        }
        return json_pack("{s:s, s:b}", "type", "string", "optional", 1);
    }
    case AVRO_ARRAY:
        return json_pack("{s:s, s:o, s:b}", "type", "array", "items",
                         connect_of(avro_schema_array_items(s), 0), "optional", optional);
    case AVRO_MAP:
        return json_pack("{s:s, s:{s:s, s:b}, s:o, s:b}", "type", "map", "keys", "type", "string",
                         "optional", 0, "values", connect_of(avro_schema_map_values(s), 0),
                         "optional", optional);
    case AVRO_RECORD: {
        json_t *fields = json_array();
        size_t n = avro_schema_record_size(s), i;
        for (i = 0; i < n; i++) {
            json_t *f = connect_of(avro_schema_record_field_get_by_index(s, (int)i), 0);
            json_object_set_new(f, "field", json_string(avro_schema_record_field_name(s, (int)i)));
            json_array_append_new(fields, f);
        }
        char name[512];
        const char *ns = avro_schema_namespace(s);
        snprintf(name, sizeof(name), "%s%s%s", ns ? ns : "", ns ? "." : "", avro_schema_name(s));
        j = json_pack("{s:s, s:o, s:b, s:s}", "type", "struct", "fields", fields, "optional",
                      optional, "name", name);
        return j;
    }
    default: type = "string"; break;
    }
    return json_pack("{s:s, s:b}", "type", type, "optional", optional);
}

/* ======================================================================== */
/* Connect schema -> Avro schema; a Connect schema inferred from a payload   */
/* ======================================================================== */

static avro_schema_t avro_of(sl_converter *c, const json_t *cs)
{
    const char *type = json_string_value(json_object_get(cs, "type"));
    avro_schema_t s = NULL;
    if (!type)
        return NULL;
    if (!strcmp(type, "struct")) {
        char name[64];
        snprintf(name, sizeof(name), "r%u", c->names++); /* unique: avro-c checks nothing else */
        s = avro_schema_record(name, NULL);
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(cs, "fields"), i, f)
        {
            avro_schema_t fs = avro_of(c, f);
            const char *fname = json_string_value(json_object_get(f, "field"));
            if (!fs || !fname || avro_schema_record_field_append(s, fname, fs) != 0) {
                if (fs)
                    avro_schema_decref(fs);
                avro_schema_decref(s);
                return NULL;
            }
            avro_schema_decref(fs);
        }
    } else if (!strcmp(type, "array")) {
        avro_schema_t items = avro_of(c, json_object_get(cs, "items"));
        if (!items)
            return NULL;
        s = avro_schema_array(items);
        avro_schema_decref(items);
    } else if (!strcmp(type, "map")) {
        avro_schema_t values = avro_of(c, json_object_get(cs, "values"));
        if (!values)
            return NULL;
        s = avro_schema_map(values);
        avro_schema_decref(values);
    } else if (!strcmp(type, "int8") || !strcmp(type, "int16") || !strcmp(type, "int32")) {
        s = avro_schema_int();
    } else if (!strcmp(type, "int64")) {
        s = avro_schema_long();
    } else if (!strcmp(type, "float") || !strcmp(type, "float32")) {
        s = avro_schema_float();
    } else if (!strcmp(type, "double") || !strcmp(type, "float64")) {
        s = avro_schema_double();
    } else if (!strcmp(type, "boolean")) {
        s = avro_schema_boolean();
    } else if (!strcmp(type, "bytes")) {
        s = avro_schema_bytes();
    } else {
        s = avro_schema_string();
    }
    if (s && json_is_true(json_object_get(cs, "optional"))) {
        avro_schema_t u = avro_schema_union(), n = avro_schema_null();
        avro_schema_union_append(u, n);
        avro_schema_union_append(u, s);
        avro_schema_decref(n);
        avro_schema_decref(s);
        s = u;
    }
    return s;
}

/* Without schemas.enable: a Connect schema that fits this payload (null
 * fields become optional strings; a later payload of another shape misses
 * the cache and gets its own schema). */
static json_t *infer_connect(const json_t *p)
{
    switch (json_typeof(p)) {
    case JSON_OBJECT: {
        json_t *fields = json_array(), *v;
        const char *k;
        json_object_foreach((json_t *)p, k, v)
        {
            json_t *f = infer_connect(v);
            json_object_set_new(f, "field", json_string(k));
            json_array_append_new(fields, f);
        }
        return json_pack("{s:s, s:o, s:b}", "type", "struct", "fields", fields, "optional", 0);
    }
    case JSON_ARRAY:
        return json_pack("{s:s, s:o, s:b}", "type", "array", "items",
                         json_array_size(p) ? infer_connect(json_array_get(p, 0))
                                            : json_pack("{s:s}", "type", "string"),
                         "optional", 0);
    case JSON_INTEGER: return json_pack("{s:s}", "type", "int64");
    case JSON_REAL: return json_pack("{s:s}", "type", "double");
    case JSON_TRUE: case JSON_FALSE: return json_pack("{s:s}", "type", "boolean");
    case JSON_NULL: return json_pack("{s:s, s:b}", "type", "string", "optional", 1);
    default: return json_pack("{s:s}", "type", "string");
    }
}

/* ======================================================================== */
/* JSON payload -> avro value                                                */
/* ======================================================================== */

/* Returns 0, or -1 with path naming where the payload did not fit. */
static int fill(avro_value_t *v, const json_t *j, char *path, size_t pathlen)
{
    avro_value_t child;
    switch (avro_value_get_type(v)) {
    case AVRO_NULL: return json_is_null(j) ? avro_value_set_null(v) : -1;
    case AVRO_BOOLEAN: return json_is_boolean(j) ? avro_value_set_boolean(v, json_is_true(j)) : -1;
    case AVRO_INT32:
        return json_is_integer(j) ? avro_value_set_int(v, (int32_t)json_integer_value(j)) : -1;
    case AVRO_INT64: return json_is_integer(j) ? avro_value_set_long(v, json_integer_value(j)) : -1;
    case AVRO_FLOAT: return json_is_number(j) ? avro_value_set_float(v, (float)json_number_value(j)) : -1;
    case AVRO_DOUBLE: return json_is_number(j) ? avro_value_set_double(v, json_number_value(j)) : -1;
    case AVRO_STRING:
        return json_is_string(j) ? avro_value_set_string_len(v, json_string_value(j),
                                                              json_string_length(j) + 1)
                                 : -1;
    case AVRO_BYTES:
        return json_is_string(j)
                   ? sl_json_set_base64(v, json_string_value(j), json_string_length(j))
                   : -1;
    case AVRO_UNION: /* built as ["null", T] */
        if (json_is_null(j) || !j)
            return avro_value_set_branch(v, 0, &child) || avro_value_set_null(&child) ? -1 : 0;
        return avro_value_set_branch(v, 1, &child) ? -1 : fill(&child, j, path, pathlen);
    case AVRO_RECORD: {
        size_t n = 0;
        if (!json_is_object(j) || avro_value_get_size(v, &n))
            return -1;
        for (size_t i = 0; i < n; i++) {
            const char *name;
            if (avro_value_get_by_index(v, i, &child, &name) ||
                fill(&child, json_object_get(j, name), path, pathlen)) {
                if (!path[0])
                    snprintf(path, pathlen, "%s", name);
                return -1;
            }
        }
        return 0;
    }
    case AVRO_ARRAY: {
        size_t i;
        json_t *e;
        if (!json_is_array(j))
            return -1;
        json_array_foreach(j, i, e)
        {
            if (avro_value_append(v, &child, NULL) || fill(&child, e, path, pathlen))
                return -1;
        }
        return 0;
    }
    case AVRO_MAP: {
        const char *k;
        json_t *e;
        if (!json_is_object(j))
            return -1;
        json_object_foreach((json_t *)j, k, e)
        {
            if (avro_value_add(v, k, &child, NULL, NULL) || fill(&child, e, path, pathlen))
                return -1;
        }
        return 0;
    }
    default: return -1;
    }
}

/* ======================================================================== */
/* The one-pass reader (json_plan.c) for a cached class                      */
/* ======================================================================== */
/*
 * The tree path (json_loadb, cached_from, fill) reads any message; most
 * messages of a topic have the class of the one before, and the reader
 * walks their text once into a value of that class: no tree, no allocation
 * once the value and the scratch buffer have grown. Which class: under a
 * declared schema, the slot whose "schema" text (kept from the message
 * that made the slot) is byte for byte this message's, so equal JSON and
 * the slot the tree path would find; without one, the class the last
 * schemaless message used, the reader hashing the payload's shape as
 * json_hash does and the slot's hash checked at the end. Whatever the
 * reader does not take (another shape, invalid JSON, a null payload, ...)
 * goes to the tree path, whose answers and errors are the converter's.
 */

/* Skips "{"schema":" at r->p, answering whether it was there. */
static int envelope_open(sl_jreader *r)
{
    if (sl_jreader_peek(r) != '{')
        return 0;
    r->p++;
    if (sl_jreader_peek(r) != '"' || sl_jreader_lit(r, "\"schema\"", 8) ||
        sl_jreader_peek(r) != ':')
        return 0;
    r->p++;
    sl_jreader_peek(r);
    return 1;
}

/* Between the envelope's schema and its payload: ',"payload":'. */
static int envelope_middle(sl_jreader *r)
{
    if (sl_jreader_peek(r) != ',')
        return -1;
    r->p++;
    if (sl_jreader_peek(r) != '"' || sl_jreader_lit(r, "\"payload\"", 9) ||
        sl_jreader_peek(r) != ':')
        return -1;
    r->p++;
    return 0;
}

/* The declared slot whose schema text starts at r->p, the last one used
 * tried first. */
static int declared_slot(sl_converter *c, sl_jreader *r)
{
    size_t left = (size_t)(r->end - r->p);
    for (int k = -1; k < CACHE_SLOTS; k++) {
        int i = k < 0 ? c->last_declared : k;
        const from_slot *slot = &c->from[i];
        if (slot->connect && slot->raw && !slot->inferred && slot->raw_len <= left &&
            !memcmp(r->p, slot->raw, slot->raw_len))
            return i;
    }
    return -1;
}

static int reader_room(sl_converter *c, size_t len)
{
    if (c->scratch_cap >= len + 1)
        return 0;
    char *s = realloc(c->scratch, len + 1);
    if (!s)
        return -1;
    c->scratch = s;
    c->scratch_cap = len + 1;
    return 0;
}

/* Where the reader starts on a message: *r at its payload, and the slot of
 * the class to read it as; NULL when the tree path must read it. */
static from_slot *reader_start(sl_converter *c, const char *bytes, size_t len, sl_jreader *r,
                               int *envelope)
{
    int i = c->last_inferred;
    *r = (sl_jreader){bytes, bytes + len, NULL, FNV_BASIS, 1, 0};
    *envelope = 0;
    if (reader_room(c, len))
        return NULL;
    r->scratch = c->scratch;
    if (c->schemas_enable && envelope_open(r)) {
        int d = declared_slot(c, r);
        if (d >= 0) {
            r->p += c->from[d].raw_len;
            r->hash = 0;
            i = d;
        } else if (sl_jreader_lit(r, "null", 4)) {
            return NULL; /* a schema not seen before */
        }
        if (envelope_middle(r))
            return NULL;
        *envelope = 1;
    } else if (c->schemas_enable) {
        return NULL; /* not {"schema": first: the tree path decides what it is */
    }
    from_slot *slot = &c->from[i];
    if (!slot->connect || !slot->plan || slot->inferred != r->hash || sl_jreader_peek(r) == 'n')
        return NULL; /* a null payload is no value: the tree path says so */
    return slot;
}

/* After the payload: the envelope's end, nothing more, and the shape the
 * slot was made for. 0 (the slot becomes the last used), or -1. */
static int reader_end(sl_converter *c, sl_jreader *r, const from_slot *slot, int envelope)
{
    if (envelope && sl_jreader_peek(r) != '}')
        return -1;
    r->p += envelope;
    if (sl_jreader_peek(r) != -1 || (slot->inferred && r->h != slot->hash))
        return -1; /* trailing bytes; or another shape, so another slot */
    *(slot->inferred ? &c->last_inferred : &c->last_declared) = (int)(slot - c->from);
    return 0;
}

/* Reads bytes into *value (read into in place when it is of the class,
 * else replaced) and returns 0, or returns 1 leaving *value a value the
 * tree path may reuse or release. */
static int reader_from(sl_converter *c, const char *bytes, size_t len, avro_value_t *value)
{
    sl_jreader r;
    int envelope;
    from_slot *slot = reader_start(c, bytes, len, &r, &envelope);
    if (!slot)
        return 1;
    avro_value_t fresh = {NULL, NULL}, *dst = value;
    if (value->iface == slot->iface)
        avro_value_reset(value);
    else if (avro_generic_value_new(slot->iface, &fresh) == 0)
        dst = &fresh;
    else
        return 1;
    if (sl_jreader_fill(&r, slot->plan, dst) || reader_end(c, &r, slot, envelope)) {
        if (dst == &fresh)
            avro_value_decref(&fresh);
        return 1;
    }
    if (dst == &fresh) {
        if (value->iface)
            avro_value_decref(value);
        *value = fresh;
    }
    return 0;
}

/* sl_converter_peek for json: the payload's text, checked by the reader
 * without filling anything, when the reader takes the message and the
 * text is one line (a sink may write it as a JSON line); else 1. */
static int json_peek(sl_converter *c, const char *bytes, size_t len, sl_peeked *out)
{
    sl_jreader r;
    int envelope;
    from_slot *slot = reader_start(c, bytes, len, &r, &envelope);
    if (!slot)
        return 1;
    const char *p0 = r.p; /* reader_start stopped at the payload's first byte */
    if (sl_jreader_fill(&r, slot->plan, NULL))
        return 1;
    size_t n = (size_t)(r.p - p0);
    if (reader_end(c, &r, slot, envelope) || memchr(p0, '\n', n) || memchr(p0, '\r', n))
        return 1;
    slot->peeked = 1;
    *out = (sl_peeked){.schema = slot->schema, .data = p0, .len = n, .json = 1};
    return 0;
}

/* After the tree path read an envelope under a declared schema into slot:
 * that schema's text becomes the slot's key for the reader. Only for
 * exactly {"schema": S, "payload": P} (a second "schema" key would have
 * been the tree's S). */
static void reader_learn(sl_converter *c, const char *bytes, size_t len, from_slot *slot)
{
    sl_jreader r = {bytes, bytes + len, c->scratch, FNV_BASIS, 0, 0};
    if (!slot || slot->inferred || reader_room(c, len))
        return;
    r.scratch = c->scratch;
    if (!envelope_open(&r))
        return;
    const char *s0 = r.p;
    if (sl_jreader_skip(&r))
        return;
    size_t n = (size_t)(r.p - s0);
    if (envelope_middle(&r) || sl_jreader_skip(&r) || sl_jreader_peek(&r) != '}')
        return;
    r.p++;
    if (sl_jreader_peek(&r) != -1)
        return;
    char *raw = malloc(n);
    if (!raw)
        return;
    memcpy(raw, s0, n);
    free(slot->raw);
    slot->raw = raw;
    slot->raw_len = n;
}

/* ======================================================================== */
/* The json backend                                                          */
/* ======================================================================== */

/* The cached Connect schema text (and writer's plan) of an Avro schema. */
static const to_slot *cached_to(sl_converter *c, avro_schema_t schema)
{
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (c->to[i].schema == schema)
            return &c->to[i];
    to_slot *slot = &c->to[c->to_next++ % CACHE_SLOTS];
    if (slot->schema) {
        avro_schema_decref(slot->schema);
        free(slot->head);
        sl_jplan_destroy(slot->plan);
    }
    slot->schema = avro_schema_incref(schema);
    slot->head = NULL;
    slot->head_len = 0;
    if (c->schemas_enable) { /* the envelope's opening is the same for every value */
        json_t *connect = connect_of(schema, 0); /* (recursive: no end) */
        char *text = connect ? json_dumps(connect, JSON_COMPACT) : NULL;
        if (text && asprintf(&slot->head, "{\"schema\":%s,\"payload\":", text) >= 0)
            slot->head_len = strlen(slot->head);
        else
            slot->head = NULL;
        free(text);
        json_decref(connect);
    }
    slot->plan = sl_jplan_create(schema);
    return slot;
}

/* {"schema": S, "payload": P} or P, written as text straight from the
 * value: per record one buffer (sized from the last message) and no tree. */
static int json_to_bytes(sl_converter *c, const char *topic, avro_schema_t schema,
                         const avro_value_t *value, void **out, size_t *len, char *err,
                         size_t errlen)
{
    size_t n = 0;
    int rc = 0;
    const to_slot *slot = schema ? cached_to(c, schema) : NULL;
    if (c->schemas_enable) {
        static const char no_schema[] = "{\"schema\":null,\"payload\":";
        rc = slot && slot->head
                 ? sluice_json_append_raw(slot->head, slot->head_len, &c->out, &n, &c->out_cap)
                 : sluice_json_append_raw(no_schema, sizeof(no_schema) - 1, &c->out, &n,
                                          &c->out_cap);
    }
    /* the plan is of schema: used for values of that schema only */
    if (!rc && slot && slot->plan && avro_value_get_schema(value) == schema)
        rc = sl_jplan_write(slot->plan, value, &c->out, &n, &c->out_cap);
    else if (!rc)
        rc = sluice_value_json_append(value, &c->out, &n, &c->out_cap);
    if (!rc && c->schemas_enable)
        rc = sluice_json_append_raw("}", 1, &c->out, &n, &c->out_cap);
    if (rc) {
        snprintf(err, errlen,
                 "topic %s: %s has no JSON form (a NaN or infinite number, a string that is not "
                 "UTF-8, or out of memory)",
                 topic, c->is_key ? "key" : "value");
        return -1;
    }
    *out = c->out;
    *len = n;
    return 0;
}

/* A 64-bit FNV-1a digest of a JSON tree. shape: only what infer_connect
 * looks at (types, keys, an array's first element), so payloads of one
 * shape share it; else everything (a message's "schema"). Lets a converter
 * find its cached Avro class without building and comparing trees. */
static uint64_t json_hash(const json_t *j, uint64_t h, int shape)
{
    int type = json_typeof(j) == JSON_FALSE ? JSON_TRUE : (int)json_typeof(j);
    h = sl_json_fnv(h, &type, sizeof(type));
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            h = sl_json_fnv(h, k, strlen(k) + 1);
            h = json_hash(v, h, shape);
        }
        return sl_json_fnv(h, "}", 1);
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j), upto = shape && n ? 1 : n;
        for (size_t i = 0; i < upto; i++)
            h = json_hash(json_array_get(j, i), h, shape);
        return sl_json_fnv(h, "]", 1);
    }
    case JSON_STRING:
        return shape ? h : sl_json_fnv(h, json_string_value(j), json_string_length(j) + 1);
    case JSON_INTEGER: {
        json_int_t v = json_integer_value(j);
        return shape ? h : sl_json_fnv(h, &v, sizeof(v));
    }
    case JSON_REAL: {
        double v = json_real_value(j);
        return shape ? h : sl_json_fnv(h, &v, sizeof(v));
    }
    case JSON_TRUE: return shape ? h : sl_json_fnv(h, "t", 1);
    case JSON_FALSE: return shape ? h : sl_json_fnv(h, "f", 1);
    default: return h;
    }
}

/* Room to retire one more schema. */
static int retire_room(sl_converter *c)
{
    if (c->n_retired < c->cap_retired)
        return 0;
    size_t cap = c->cap_retired ? c->cap_retired * 2 : 8;
    avro_schema_t *r = realloc(c->retired, cap * sizeof(*r));
    if (!r)
        return -1;
    c->retired = r;
    c->cap_retired = cap;
    return 0;
}

/* The class for a message whose schema is cs (a Connect schema, or NULL:
 * inferred from payload). */
static from_slot *cached_from(sl_converter *c, const json_t *cs, const json_t *payload)
{
    int inferred = !cs || json_is_null(cs);
    uint64_t h = inferred ? json_hash(payload, FNV_BASIS, 1)
                          : json_hash(cs, FNV_BASIS, 0);
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (c->from[i].connect && c->from[i].hash == h && c->from[i].inferred == inferred &&
            (inferred || json_equal(c->from[i].connect, cs))) /* a hash may collide */
            return &c->from[i];
    json_t *own = inferred ? infer_connect(payload) : json_incref((json_t *)cs);
    cs = own;
    avro_schema_t schema = avro_of(c, cs);
    avro_value_iface_t *iface = schema ? avro_generic_class_from_schema(schema) : NULL;
    if (!iface) {
        if (schema)
            avro_schema_decref(schema);
        json_decref(own);
        return NULL;
    }
    from_slot *slot = &c->from[c->from_next % CACHE_SLOTS];
    if (slot->peeked && retire_room(c)) { /* a record of the batch may point at its schema */
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
        json_decref(own);
        return NULL;
    }
    c->from_next++;
    if (slot->connect) {
        json_decref(slot->connect);
        avro_value_iface_decref(slot->iface);
        if (slot->peeked)
            c->retired[c->n_retired++] = slot->schema;
        else
            avro_schema_decref(slot->schema);
        free(slot->raw);
        slot->raw = NULL;
        sl_jplan_destroy(slot->plan);
    }
    slot->peeked = 0;
    slot->plan = sl_jplan_create(schema);
    slot->connect = own;
    slot->hash = h;
    slot->inferred = inferred;
    slot->schema = schema;
    slot->iface = iface;
    return slot;
}

/* The tree path: any message; *used is the slot it read the payload with. */
static int tree_from(sl_converter *c, const char *topic, const void *bytes, size_t len,
                     avro_value_t *value, from_slot **used, char *err, size_t errlen)
{
    json_error_t jerr;
    const char *what = c->is_key ? "key" : "value";
    char path[256] = "";
    avro_value_t old = *value; /* given back for reuse, or {NULL} */
    value->iface = NULL;
    value->self = NULL;
    if (!bytes) {
        if (old.iface)
            avro_value_decref(&old);
        return 0;
    }
    json_t *root = json_loadb(bytes, len, JSON_DECODE_ANY, &jerr), *payload = root, *cs = NULL;
    if (!root) {
        if (old.iface)
            avro_value_decref(&old);
        snprintf(err, errlen, "topic %s: %s is not JSON: %s at byte %d", topic, what, jerr.text,
                 jerr.position);
        return -1;
    }
    if (c->schemas_enable && json_is_object(root) && json_object_get(root, "payload") &&
        json_object_size(root) == 2 && json_object_get(root, "schema")) {
        payload = json_object_get(root, "payload");
        cs = json_incref(json_object_get(root, "schema"));
    }
    from_slot *slot = json_is_null(payload) ? NULL : cached_from(c, cs, payload);
    if (old.iface && (!slot || old.iface != slot->iface)) {
        avro_value_decref(&old);
        old.iface = NULL;
    }
    if (json_is_null(payload)) {
        json_decref(cs);
        json_decref(root);
        return 0;
    }
    int rc = -1;
    if (old.iface) { /* same class: filled in place, reusing its buffers */
        *value = old;
        avro_value_reset(value);
    }
    if (!slot)
        snprintf(err, errlen, "topic %s: %s: cannot turn its schema into an Avro schema", topic,
                 what);
    else if (!value->iface && avro_generic_value_new(slot->iface, value) != 0)
        snprintf(err, errlen, "topic %s: %s: %s", topic, what, avro_strerror());
    else if (fill(value, payload, path, sizeof(path)) != 0) {
        snprintf(err, errlen, "topic %s: %s: field '%s' does not match its schema", topic, what,
                 path);
        avro_value_decref(value);
        value->iface = NULL;
    } else {
        *used = slot;
        rc = 0;
    }
    json_decref(cs);
    json_decref(root);
    return rc;
}

static int json_from_bytes(sl_converter *c, const char *topic, const void *bytes, size_t len,
                           avro_value_t *value, char *err, size_t errlen)
{
    from_slot *used = NULL;
    if (bytes && reader_from(c, bytes, len, value) == 0)
        return 0;
    int rc = tree_from(c, topic, bytes, len, value, &used, err, errlen);
    if (rc == 0 && used && used->inferred)
        c->last_inferred = (int)(used - c->from);
    else if (rc == 0 && used) {
        c->last_declared = (int)(used - c->from);
        reader_learn(c, bytes, len, used);
    }
    return rc;
}

/* ======================================================================== */
/* The avro backend (converter_avro.c)                                       */
/* ======================================================================== */

static int avro_to_bytes(sl_converter *c, const char *topic, avro_schema_t schema,
                         const avro_value_t *value, void **out, size_t *len, char *err,
                         size_t errlen)
{
    return sl_avro_conv_to_bytes(c->avro, topic, schema, value, &c->out, &c->out_cap, out, len, err,
                                 errlen);
}

static int avro_from_bytes(sl_converter *c, const char *topic, const void *bytes, size_t len,
                           avro_value_t *value, char *err, size_t errlen)
{
    return sl_avro_conv_from_bytes(c->avro, topic, bytes, len, value, err, errlen);
}

static const backend backends[] = {
    {"json", "org.apache.kafka.connect.json.JsonConverter", json_to_bytes, json_from_bytes},
    {"avro", "io.confluent.connect.avro.AvroConverter", avro_to_bytes, avro_from_bytes},
};

/* ======================================================================== */
/* Public                                                                    */
/* ======================================================================== */

sl_converter *sl_converter_create(const char *name, int is_key, const json_t *config, char *err,
                                  size_t errlen)
{
    const backend *be = NULL;
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (!strcmp(name, backends[i].name) || !strcmp(name, backends[i].class_name))
            be = &backends[i];
    if (!be) {
        snprintf(err, errlen, "%s.converter: unknown converter '%s' (known: json, avro)",
                 is_key ? "key" : "value", name);
        return NULL;
    }
    sl_converter *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "converter %s: out of memory", name);
        return NULL;
    }
    char key[64];
    snprintf(key, sizeof(key), "%s.converter.schemas.enable", is_key ? "key" : "value");
    const json_t *v = json_object_get(config, key);
    c->be = be;
    c->is_key = is_key;
    c->schemas_enable = !(json_is_false(v) || (json_is_string(v) && !strcmp(json_string_value(v), "false")));
    if (be->to_bytes == avro_to_bytes && !(c->avro = sl_avro_conv_create(is_key, config, err, errlen))) {
        free(c);
        return NULL;
    }
    return c;
}

void sl_converter_destroy(sl_converter *c)
{
    if (!c)
        return;
    free(c->out);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (c->to[i].schema) {
            avro_schema_decref(c->to[i].schema);
            free(c->to[i].head);
            sl_jplan_destroy(c->to[i].plan);
        }
        if (c->from[i].connect) {
            json_decref(c->from[i].connect);
            avro_value_iface_decref(c->from[i].iface);
            avro_schema_decref(c->from[i].schema);
            free(c->from[i].raw);
            sl_jplan_destroy(c->from[i].plan);
        }
    }
    free(c->scratch);
    sl_converter_retire(c);
    free(c->retired);
    sl_avro_conv_destroy(c->avro);
    free(c);
}

int sl_converter_to_bytes(sl_converter *c, const char *topic, avro_schema_t schema,
                          const avro_value_t *value, void **out, size_t *len, char *err,
                          size_t errlen)
{
    *out = NULL;
    *len = 0;
    if (!value)
        return 0;
    return c->be->to_bytes(c, topic, schema, value, out, len, err, errlen);
}

int sl_converter_from_bytes(sl_converter *c, const char *topic, const void *bytes, size_t len,
                            avro_value_t *value, char *err, size_t errlen)
{
    return c->be->from_bytes(c, topic, bytes, len, value, err, errlen);
}

int sl_converter_peek(sl_converter *c, const char *topic, const void *bytes, size_t len,
                      sl_peeked *out, char *err, size_t errlen)
{
    *out = (sl_peeked){0};
    if (!bytes)
        return 0; /* a tombstone */
    if (c->avro)
        return sl_avro_conv_peek(c->avro, topic, bytes, len, &out->schema, &out->plan, &out->data,
                                 &out->len, err, errlen);
    return json_peek(c, bytes, len, out);
}

void sl_converter_retire(sl_converter *c)
{
    if (!c)
        return;
    if (c->avro)
        sl_avro_conv_retire(c->avro);
    for (size_t i = 0; i < c->n_retired; i++)
        avro_schema_decref(c->retired[i]);
    c->n_retired = 0;
    for (int i = 0; i < CACHE_SLOTS; i++)
        c->from[i].peeked = 0;
}
