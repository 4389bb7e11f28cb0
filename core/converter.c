/*
 * converter.c - the converter table and the `json` converter (converter.h
 * has the formats). A backend is one row of `backends`; `avro` (Confluent's
 * wire format through the registry) lives in converter_avro.c.
 *
 * json to_bytes: the Connect schema of each Avro schema is built once and
 * cached by schema pointer (sources reuse one schema per table), so per
 * record the work is sluice_value_to_json + one dump. from_bytes parses the
 * message, compares its Connect schema with the cached ones (json_equal) and
 * only builds an Avro schema and value class on a miss. Per record it still
 * allocates: jansson trees and one generic value (a measured later step can
 * reuse values per batch slot).
 *
 * Runs on: the owning task's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "converter.h"
#include "converter_avro.h"
#include "sluice/envelope.h"

#define CACHE_SLOTS 8

typedef struct to_slot {
    avro_schema_t schema; /* borrowed key (a reference is held) */
    json_t *connect;
    char *connect_text; /* connect, dumped once */
} to_slot;

typedef struct from_slot {
    json_t *connect; /* the Connect schema this slot answers */
    uint64_t hash;   /* json_hash of the message's schema, or of its payload's shape */
    int inferred;    /* the schema was inferred from a payload (no "schema") */
    avro_schema_t schema;
    avro_value_iface_t *iface;
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

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+' || ch == '-') return 62;
    if (ch == '/' || ch == '_') return 63;
    return -1;
}

static int set_base64(avro_value_t *v, const char *s, size_t n)
{
    unsigned char *out = malloc(n / 4 * 3 + 3);
    size_t o = 0;
    unsigned acc = 0, bits = 0;
    if (!out)
        return -1;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int d = b64val((unsigned char)s[i]);
        if (d < 0) {
            free(out);
            return -1;
        }
        acc = (acc << 6) | (unsigned)d;
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    int rc = avro_value_set_bytes(v, out, o);
    free(out);
    return rc;
}

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
        return json_is_string(j) ? set_base64(v, json_string_value(j), json_string_length(j)) : -1;
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
/* The json backend                                                          */
/* ======================================================================== */

/* The Connect schema of an Avro schema as compact JSON text, cached. */
static const char *cached_connect(sl_converter *c, avro_schema_t schema)
{
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (c->to[i].schema == schema)
            return c->to[i].connect_text;
    to_slot *slot = &c->to[c->to_next++ % CACHE_SLOTS];
    if (slot->schema) {
        avro_schema_decref(slot->schema);
        json_decref(slot->connect);
        free(slot->connect_text);
    }
    slot->schema = avro_schema_incref(schema);
    slot->connect = connect_of(schema, 0);
    slot->connect_text = slot->connect ? json_dumps(slot->connect, JSON_COMPACT) : NULL;
    return slot->connect_text;
}

/* {"schema": S, "payload": P} or P, written as text straight from the
 * value: per record one buffer (sized from the last message) and no tree. */
static int json_to_bytes(sl_converter *c, const char *topic, avro_schema_t schema,
                         const avro_value_t *value, void **out, size_t *len, char *err,
                         size_t errlen)
{
    size_t n = 0;
    int rc = 0;
    if (c->schemas_enable) {
        const char *cs = schema ? cached_connect(c, schema) : "null";
        rc = sluice_json_append_raw("{\"schema\":", 10, &c->out, &n, &c->out_cap);
        rc = rc ? rc
                : sluice_json_append_raw(cs ? cs : "null", strlen(cs ? cs : "null"), &c->out, &n,
                                         &c->out_cap);
        rc = rc ? rc : sluice_json_append_raw(",\"payload\":", 11, &c->out, &n, &c->out_cap);
    }
    rc = rc ? rc : sluice_value_json_append(value, &c->out, &n, &c->out_cap);
    if (!rc && c->schemas_enable)
        rc = sluice_json_append_raw("}", 1, &c->out, &n, &c->out_cap);
    if (rc) {
        snprintf(err, errlen, "topic %s: %s has no JSON form (NaN/Inf or out of memory)", topic,
                 c->is_key ? "key" : "value");
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
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t json_hash(const json_t *j, uint64_t h, int shape)
{
    int type = json_typeof(j) == JSON_FALSE ? JSON_TRUE : (int)json_typeof(j);
    h = mix(h, &type, sizeof(type));
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            h = mix(h, k, strlen(k) + 1);
            h = json_hash(v, h, shape);
        }
        return mix(h, "}", 1);
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j), upto = shape && n ? 1 : n;
        for (size_t i = 0; i < upto; i++)
            h = json_hash(json_array_get(j, i), h, shape);
        return mix(h, "]", 1);
    }
    case JSON_STRING: return shape ? h : mix(h, json_string_value(j), json_string_length(j) + 1);
    case JSON_INTEGER: {
        json_int_t v = json_integer_value(j);
        return shape ? h : mix(h, &v, sizeof(v));
    }
    case JSON_REAL: {
        double v = json_real_value(j);
        return shape ? h : mix(h, &v, sizeof(v));
    }
    case JSON_TRUE: return shape ? h : mix(h, "t", 1);
    case JSON_FALSE: return shape ? h : mix(h, "f", 1);
    default: return h;
    }
}

/* The class for a message whose schema is cs (a Connect schema, or NULL:
 * inferred from payload). */
static from_slot *cached_from(sl_converter *c, const json_t *cs, const json_t *payload)
{
    int inferred = !cs || json_is_null(cs);
    uint64_t h = inferred ? json_hash(payload, 0xcbf29ce484222325ull, 1)
                          : json_hash(cs, 0xcbf29ce484222325ull, 0);
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (c->from[i].connect && c->from[i].hash == h && c->from[i].inferred == inferred)
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
    from_slot *slot = &c->from[c->from_next++ % CACHE_SLOTS];
    if (slot->connect) {
        json_decref(slot->connect);
        avro_value_iface_decref(slot->iface);
        avro_schema_decref(slot->schema);
    }
    slot->connect = own;
    slot->hash = h;
    slot->inferred = inferred;
    slot->schema = schema;
    slot->iface = iface;
    return slot;
}

static int json_from_bytes(sl_converter *c, const char *topic, const void *bytes, size_t len,
                           avro_value_t *value, char *err, size_t errlen)
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
    } else
        rc = 0;
    json_decref(cs);
    json_decref(root);
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
            json_decref(c->to[i].connect);
            free(c->to[i].connect_text);
        }
        if (c->from[i].connect) {
            json_decref(c->from[i].connect);
            avro_value_iface_decref(c->from[i].iface);
            avro_schema_decref(c->from[i].schema);
        }
    }
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
                      avro_schema_t *schema, const sluice_avro_plan **plan, const void **payload,
                      size_t *plen, char *err, size_t errlen)
{
    if (!c->avro)
        return 1;
    return sl_avro_conv_peek(c->avro, topic, bytes, len, schema, plan, payload, plen, err, errlen);
}

void sl_converter_retire(sl_converter *c)
{
    if (c && c->avro)
        sl_avro_conv_retire(c->avro);
}
