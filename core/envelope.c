/*
 * envelope.c - Debezium-envelope schemas built once per table, field setters,
 * and the Debezium JSON form of avro-c values. See sluice/envelope.h.
 *
 * Design: the schemas are written as Avro JSON with jansson and parsed by
 * avro-c (avro_schema_from_json_length) rather than assembled with the
 * avro_schema_record_* calls: the JSON is the same text a registry will
 * store, so what a plugin builds and what a reader sees cannot drift. This
 * happens once per table; per record only generic values are created.
 *
 * This file is public-ABI helper code: it is compiled into each plugin that
 * uses it as well as into sluice_core, and so it may use only avro-c,
 * jansson and libc, never another core module.
 */
#include "sluice/envelope.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sluice_envelope {
    char *topic;
    avro_schema_t key_schema; /* NULL when no column is a key */
    avro_schema_t value_schema;
    avro_value_iface_t *key_iface;
    avro_value_iface_t *value_iface;
    char *key_json, *value_json; /* the full texts (avro-c drops logicalType) */
};

/* ======================================================================== */
/* Column specs: "id:long,name:string?,created:timestamp"                    */
/* ======================================================================== */

static const struct {
    const char *name;
    sluice_col_type type;
} col_types[] = {
    {"boolean", SLUICE_COL_BOOLEAN}, {"int", SLUICE_COL_INT},
    {"long", SLUICE_COL_LONG},       {"float", SLUICE_COL_FLOAT},
    {"double", SLUICE_COL_DOUBLE},   {"string", SLUICE_COL_STRING},
    {"bytes", SLUICE_COL_BYTES},     {"timestamp", SLUICE_COL_TIMESTAMP},
};

static int col_type_parse(const char *s, sluice_col_type *out)
{
    for (size_t i = 0; i < sizeof(col_types) / sizeof(col_types[0]); i++) {
        if (strcmp(col_types[i].name, s) == 0) {
            *out = col_types[i].type;
            return 0;
        }
    }
    return -1;
}

static int name_in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

static int column_parse(char *item, sluice_column *col, char *err, size_t errlen)
{
    char *colon = strchr(item, ':');
    if (!colon || colon == item) {
        snprintf(err, errlen, "column '%s': expected name:type", item);
        return -1;
    }
    *colon = '\0';
    char *type = colon + 1;
    size_t tl = strlen(type);
    if (tl > 0 && type[tl - 1] == '?') {
        col->optional = 1;
        type[tl - 1] = '\0';
    }
    if (col_type_parse(type, &col->type) != 0) {
        snprintf(err, errlen,
                 "column '%s': unknown type '%s' (boolean, int, long, float, double, string, "
                 "bytes, timestamp)",
                 item, type);
        return -1;
    }
    col->name = strdup(item);
    return col->name ? 0 : -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

int sluice_columns_parse(const char *spec, const char *key_fields, sluice_column **cols,
                         size_t *ncols, char *err, size_t errlen)
{
    char *copy = strdup(spec ? spec : "");
    size_t cap = 1, n = 0;
    for (const char *p = copy ? copy : ""; *p; p++)
        cap += *p == ',';
    sluice_column *out = calloc(cap, sizeof(*out));
    if (!copy || !out) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    char *save = NULL;
    for (char *it = strtok_r(copy, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        if (column_parse(trim(it), &out[n], err, errlen) != 0)
            goto fail;
        n++;
    }
    if (n == 0) {
        snprintf(err, errlen, "no columns in '%s'", spec ? spec : "");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        out[i].key = key_fields && *key_fields ? name_in_list(key_fields, out[i].name) : i == 0;
    free(copy);
    *cols = out;
    *ncols = n;
    return 0;
fail:
    free(copy);
    sluice_columns_free(out, n);
    return -1;
}

void sluice_columns_free(sluice_column *cols, size_t ncols)
{
    for (size_t i = 0; cols && i < ncols; i++)
        free((char *)cols[i].name);
    free(cols);
}

/* ======================================================================== */
/* Schemas                                                                   */
/* ======================================================================== */

static json_t *col_avro_type(const sluice_column *col, int in_key)
{
    static const char *prim[] = {[SLUICE_COL_BOOLEAN] = "boolean", [SLUICE_COL_INT] = "int",
                                 [SLUICE_COL_LONG] = "long",       [SLUICE_COL_FLOAT] = "float",
                                 [SLUICE_COL_DOUBLE] = "double",   [SLUICE_COL_STRING] = "string",
                                 [SLUICE_COL_BYTES] = "bytes",     [SLUICE_COL_TIMESTAMP] = "long"};
    json_t *t = col->type == SLUICE_COL_TIMESTAMP
                    ? json_pack("{s:s, s:s}", "type", "long", "logicalType", "timestamp-millis")
                    : json_string(prim[col->type]);
    if (col->optional && !in_key)
        return json_pack("[s, o]", "null", t);
    return t;
}

static json_t *fields_json(const sluice_column *cols, size_t ncols, int key_only)
{
    json_t *fields = json_array();
    for (size_t i = 0; i < ncols; i++) {
        if (key_only && !cols[i].key)
            continue;
        json_t *f = json_pack("{s:s, s:o}", "name", cols[i].name, "type",
                              col_avro_type(&cols[i], key_only));
        if (cols[i].optional && !key_only)
            json_object_set_new(f, "default", json_null());
        json_array_append_new(fields, f);
    }
    return fields;
}

static json_t *opt(const char *type)
{
    return json_pack("{s:[s,s], s:n}", "type", "null", type, "default");
}

json_t *sluice_envelope_source_schema(void)
{
    json_t *fields = json_array();
    static const char *req_str[] = {"version", "connector", "name"};
    for (size_t i = 0; i < 3; i++)
        json_array_append_new(fields,
                              json_pack("{s:s, s:s}", "name", req_str[i], "type", "string"));
    json_array_append_new(fields, json_pack("{s:s, s:s}", "name", "ts_ms", "type", "long"));
    static const struct {
        const char *name, *type;
    } optional[] = {{"snapshot", "string"}, {"db", "string"}, {"schema", "string"},
                    {"table", "string"},    {"txId", "long"}, {"lsn", "long"},
                    {"file", "string"},     {"pos", "long"},  {"gtid", "string"},
                    {"seq", "long"}};
    for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
        json_t *f = opt(optional[i].type);
        json_object_set_new(f, "name", json_string(optional[i].name));
        json_array_append_new(fields, f);
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "type", "record", "name", "Source", "namespace",
                     "io.sluice.connector", "fields", fields);
}

static char *avro_namespace(const char *topic)
{
    char *ns = strdup(topic);
    for (char *p = ns; p && *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '.' ||
                 (*p >= '0' && *p <= '9' && p != ns && p[-1] != '.');
        if (!ok)
            *p = '_';
    }
    return ns;
}

/* Parses j into *out and keeps its text in *text (the caller frees). */
static int schema_from_json(json_t *j, avro_schema_t *out, char **text, const char *what,
                            char *err, size_t errlen)
{
    *text = json_dumps(j, JSON_COMPACT);
    int rc = *text ? avro_schema_from_json_length(*text, strlen(*text), out) : -1;
    if (rc != 0)
        snprintf(err, errlen, "%s schema: %s", what, *text ? avro_strerror() : "out of memory");
    return rc == 0 ? 0 : -1;
}

static json_t *value_schema_json(const char *ns, const sluice_column *cols, size_t ncols)
{
    json_t *row = json_pack("{s:s, s:s, s:s, s:o}", "type", "record", "name", "Value", "namespace",
                            ns, "fields", fields_json(cols, ncols, 0));
    json_t *fields = json_pack("[{s:s, s:[s,o], s:n}, {s:s, s:[s,s], s:n}, {s:s, s:o}, {s:s, s:s}]",
                               "name", "before", "type", "null", row, "default", "name", "after",
                               "type", "null", "Value", "default", "name", "source", "type",
                               sluice_envelope_source_schema(), "name", "op", "type", "string");
    json_t *ts = opt("long");
    json_object_set_new(ts, "name", json_string("ts_ms"));
    json_array_append_new(fields, ts);
    return json_pack("{s:s, s:s, s:s, s:o}", "type", "record", "name", "Envelope", "namespace", ns,
                     "fields", fields);
}

static int has_key(const sluice_column *cols, size_t ncols)
{
    for (size_t i = 0; i < ncols; i++)
        if (cols[i].key)
            return 1;
    return 0;
}

int sluice_envelope_create(const char *topic, const sluice_column *cols, size_t ncols,
                           sluice_envelope **out, char *err, size_t errlen)
{
    json_t *kj = NULL, *vj = NULL;
    sluice_envelope *env = calloc(1, sizeof(*env));
    char *ns = avro_namespace(topic);
    if (!env || !ns || !(env->topic = strdup(topic))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (has_key(cols, ncols)) {
        kj = json_pack("{s:s, s:s, s:s, s:o}", "type", "record", "name", "Key", "namespace", ns,
                       "fields", fields_json(cols, ncols, 1));
        if (schema_from_json(kj, &env->key_schema, &env->key_json, "key", err, errlen) != 0)
            goto fail;
        env->key_iface = avro_generic_class_from_schema(env->key_schema);
    }
    vj = value_schema_json(ns, cols, ncols);
    if (schema_from_json(vj, &env->value_schema, &env->value_json, "value", err, errlen) != 0)
        goto fail;
    env->value_iface = avro_generic_class_from_schema(env->value_schema);
    if (!env->value_iface || (env->key_schema && !env->key_iface)) {
        snprintf(err, errlen, "topic %s: avro value class: %s", topic, avro_strerror());
        goto fail;
    }
    json_decref(kj);
    json_decref(vj);
    free(ns);
    *out = env;
    return 0;
fail:
    json_decref(kj);
    json_decref(vj);
    free(ns);
    sluice_envelope_destroy(env);
    return -1;
}

void sluice_envelope_destroy(sluice_envelope *env)
{
    if (!env)
        return;
    if (env->key_iface)
        avro_value_iface_decref(env->key_iface);
    if (env->value_iface)
        avro_value_iface_decref(env->value_iface);
    if (env->key_schema)
        avro_schema_decref(env->key_schema);
    if (env->value_schema)
        avro_schema_decref(env->value_schema);
    free(env->key_json);
    free(env->value_json);
    free(env->topic);
    free(env);
}

const char *sluice_envelope_key_schema_json(const sluice_envelope *env)
{
    return env->key_json;
}
const char *sluice_envelope_value_schema_json(const sluice_envelope *env)
{
    return env->value_json;
}

const char *sluice_envelope_topic(const sluice_envelope *env)
{
    return env->topic;
}
avro_schema_t sluice_envelope_key_schema(const sluice_envelope *env)
{
    return env->key_schema;
}
avro_schema_t sluice_envelope_value_schema(const sluice_envelope *env)
{
    return env->value_schema;
}

int sluice_envelope_new_key(sluice_envelope *env, avro_value_t *key)
{
    return env->key_iface ? avro_generic_value_new(env->key_iface, key) : EINVAL;
}

/* before, after and ts_ms start as null: an avro-c union no one set has no
 * branch, and would not encode. */
int sluice_envelope_new_value(sluice_envelope *env, avro_value_t *value)
{
    int rc = avro_generic_value_new(env->value_iface, value);
    if (rc != 0)
        return rc;
    rc = sluice_field_set_null(value, "before");
    rc = rc ? rc : sluice_field_set_null(value, "after");
    rc = rc ? rc : sluice_field_set_null(value, "ts_ms");
    if (rc != 0)
        avro_value_decref(value);
    return rc;
}

/* ======================================================================== */
/* Field setters                                                             */
/* ======================================================================== */

/* The settable part of field `name`: the field itself, or for a ["null", T]
 * union its T branch (selected as a side effect). */
static int field_slot(avro_value_t *rec, const char *name, avro_value_t *slot)
{
    avro_value_t f;
    int rc = avro_value_get_by_name(rec, name, &f, NULL);
    if (rc != 0)
        return rc;
    if (avro_value_get_type(&f) != AVRO_UNION) {
        *slot = f;
        return 0;
    }
    return avro_value_set_branch(&f, 1, slot);
}

int sluice_field_set_null(avro_value_t *rec, const char *name)
{
    avro_value_t f, branch;
    int rc = avro_value_get_by_name(rec, name, &f, NULL);
    if (rc != 0)
        return rc;
    if (avro_value_get_type(&f) != AVRO_UNION)
        return EINVAL;
    rc = avro_value_set_branch(&f, 0, &branch);
    return rc ? rc : avro_value_set_null(&branch);
}

#define SETTER(fn, ctype, call)                                                                    \
    int fn(avro_value_t *rec, const char *name, ctype v)                                           \
    {                                                                                              \
        avro_value_t s;                                                                            \
        int rc = field_slot(rec, name, &s);                                                        \
        return rc ? rc : call(&s, v);                                                              \
    }
SETTER(sluice_field_set_long, int64_t, avro_value_set_long)
SETTER(sluice_field_set_int, int32_t, avro_value_set_int)
SETTER(sluice_field_set_double, double, avro_value_set_double)
SETTER(sluice_field_set_float, float, avro_value_set_float)
SETTER(sluice_field_set_bool, int, avro_value_set_boolean)
SETTER(sluice_field_set_string, const char *, avro_value_set_string)

int sluice_field_set_bytes(avro_value_t *rec, const char *name, const void *v, size_t len)
{
    avro_value_t s;
    int rc = field_slot(rec, name, &s);
    return rc ? rc : avro_value_set_bytes(&s, (void *)v, len);
}

/* ======================================================================== */
/* Envelope values                                                           */
/* ======================================================================== */

int sluice_envelope_before(avro_value_t *value, avro_value_t *row)
{
    return field_slot(value, "before", row);
}

int sluice_envelope_after(avro_value_t *value, avro_value_t *row)
{
    return field_slot(value, "after", row);
}

int sluice_envelope_set_op(avro_value_t *value, char op)
{
    char s[2] = {op, '\0'};
    return sluice_field_set_string(value, "op", s);
}

int sluice_envelope_set_ts(avro_value_t *value, int64_t ts_ms)
{
    return sluice_field_set_long(value, "ts_ms", ts_ms);
}

static int set_opt_string(avro_value_t *rec, const char *name, const char *v)
{
    return v ? sluice_field_set_string(rec, name, v) : sluice_field_set_null(rec, name);
}

static int set_opt_long(avro_value_t *rec, const char *name, int64_t v)
{
    return v != SLUICE_NULL_POS ? sluice_field_set_long(rec, name, v)
                                : sluice_field_set_null(rec, name);
}

int sluice_envelope_set_source(avro_value_t *value, const sluice_source_info *src)
{
    avro_value_t s;
    int rc = avro_value_get_by_name(value, "source", &s, NULL);
    rc = rc ? rc : sluice_field_set_string(&s, "version", src->version ? src->version : "");
    rc = rc ? rc : sluice_field_set_string(&s, "connector", src->connector ? src->connector : "");
    rc = rc ? rc : sluice_field_set_string(&s, "name", src->name ? src->name : "");
    rc = rc ? rc : sluice_field_set_long(&s, "ts_ms", src->ts_ms);
    rc = rc ? rc : set_opt_string(&s, "snapshot", src->snapshot);
    rc = rc ? rc : set_opt_string(&s, "db", src->db);
    rc = rc ? rc : set_opt_string(&s, "schema", src->schema);
    rc = rc ? rc : set_opt_string(&s, "table", src->table);
    rc = rc ? rc : set_opt_long(&s, "txId", src->tx_id);
    rc = rc ? rc : set_opt_long(&s, "lsn", src->lsn);
    rc = rc ? rc : set_opt_string(&s, "file", src->file);
    rc = rc ? rc : set_opt_long(&s, "pos", src->pos);
    rc = rc ? rc : set_opt_string(&s, "gtid", src->gtid);
    rc = rc ? rc : set_opt_long(&s, "seq", src->seq);
    return rc;
}

/* ======================================================================== */
/* Debezium JSON form                                                        */
/* ======================================================================== */


/* bytes and fixed as a base64 JSON string: the text writer's encoding. */
static json_t *base64(const void *buf, size_t len)
{
    char *out = NULL;
    size_t n = 0, cap = 0;
    json_t *j = NULL;
    if (sluice_json_append_base64(buf, len, &out, &n, &cap) == 0)
        j = json_stringn(out + 1, n - 2); /* without the quotes */
    free(out);
    return j;
}

static json_t *compound_to_json(const avro_value_t *v, int is_record)
{
    size_t n = 0;
    json_t *out = is_record ? json_object() : json_array();
    avro_value_get_size(v, &n);
    for (size_t i = 0; out && i < n; i++) {
        avro_value_t child;
        const char *name = NULL;
        json_t *cj =
            avro_value_get_by_index(v, i, &child, &name) == 0 ? sluice_value_to_json(&child) : NULL;
        if (!cj ||
            (is_record ? json_object_set_new(out, name, cj) : json_array_append_new(out, cj))) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *real_to_json(double d)
{
    return isfinite(d) ? json_real(d) : NULL;
}

json_t *sluice_value_to_json(const avro_value_t *v)
{
    int32_t i32;
    int64_t i64;
    float f;
    double d;
    const char *s;
    const void *buf;
    size_t len;
    avro_value_t branch;

    switch (avro_value_get_type(v)) {
    case AVRO_NULL:
        return json_null();
    case AVRO_BOOLEAN:
        return avro_value_get_boolean(v, &i32) ? NULL : json_boolean(i32);
    case AVRO_INT32:
        return avro_value_get_int(v, &i32) ? NULL : json_integer(i32);
    case AVRO_INT64:
        return avro_value_get_long(v, &i64) ? NULL : json_integer(i64);
    case AVRO_FLOAT:
        return avro_value_get_float(v, &f) ? NULL : real_to_json(f);
    case AVRO_DOUBLE:
        return avro_value_get_double(v, &d) ? NULL : real_to_json(d);
    case AVRO_STRING:
        return avro_value_get_string(v, &s, &len) ? NULL : json_stringn(s, len ? len - 1 : 0);
    case AVRO_BYTES:
        return avro_value_get_bytes(v, &buf, &len) ? NULL : base64(buf, len);
    case AVRO_FIXED:
        return avro_value_get_fixed(v, &buf, &len) ? NULL : base64(buf, len);
    case AVRO_ENUM:
        if (avro_value_get_enum(v, &i32))
            return NULL;
        s = avro_schema_enum_get(avro_value_get_schema(v), i32);
        return s ? json_string(s) : NULL;
    case AVRO_UNION: /* a union never set (discriminant -1) reads as null */
        if (avro_value_get_discriminant(v, &i32) || i32 < 0)
            return json_null();
        return avro_value_get_current_branch(v, &branch) ? NULL : sluice_value_to_json(&branch);
    case AVRO_RECORD:
        return compound_to_json(v, 1);
    case AVRO_ARRAY:
        return compound_to_json(v, 0);
    case AVRO_MAP:
        return compound_to_json(v, 1);
    default:
        return NULL;
    }
}

/* ======================================================================== */
/* Debezium JSON form as text, without a tree                                */
/* ======================================================================== */

typedef struct jbuf {
    char **buf;
    size_t *len, *cap;
} jbuf;

static int jb_grow(jbuf *b, size_t more);

/* Room for more bytes plus the final NUL (written once, at the end). */
static inline int jb_reserve(jbuf *b, size_t more)
{
    return *b->len + more + 1 <= *b->cap ? 0 : jb_grow(b, more);
}

static int jb_grow(jbuf *b, size_t more)
{
    size_t cap = *b->cap ? *b->cap : 256;
    while (cap < *b->len + more + 1)
        cap *= 2;
    char *nb = realloc(*b->buf, cap);
    if (!nb)
        return -1;
    *b->buf = nb;
    *b->cap = cap;
    return 0;
}

static inline int jb_put(jbuf *b, const char *s, size_t n)
{
    if (jb_reserve(b, n))
        return -1;
    memcpy(*b->buf + *b->len, s, n);
    *b->len += n;
    return 0;
}

/* Is s[0..n) well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF)?
 * jansson refuses anything else, and so do we. ASCII runs go 8 bytes at a
 * time. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint64_t w;
        if (i + 8 <= n && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080ull))) {
            i += 8;
            continue;
        }
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                                   : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || i + len > n)
            return 0;
        uint32_t cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

/* A JSON string: '"', '\\' and control characters escaped as jansson does;
 * other bytes (valid UTF-8) as they are, copied a run at a time. */
static int jb_string(jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!utf8_valid((const unsigned char *)s, n) || jb_reserve(b, n * 6 + 2))
        return -1;
    char *o = *b->buf + *b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
            run++;
        memcpy(o, s + i, run - i);
        o += run - i;
        if ((i = run) == n)
            break;
        unsigned char c = (unsigned char)s[i];
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    *b->len = (size_t)(o - *b->buf);
    return 0;
}

static int jb_base64(jbuf *b, const void *buf, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = buf;
    if (jb_reserve(b, 4 * ((len + 2) / 3) + 2))
        return -1;
    char *o = *b->buf + *b->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i += 3) {
        unsigned v =
            in[i] << 16 | (i + 1 < len ? in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < len ? tab[v & 63] : '=';
    }
    *o++ = '"';
    *b->len = (size_t)(o - *b->buf);
    return 0;
}

static int jb_int(jbuf *b, int64_t v)
{
    char tmp[24], *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    return jb_put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* As jansson: %.17g, ".0" when that reads as an integer, and an exponent
 * without '+' or leading zeros (1e22, 9.9999999999999995e-8). */
static int jb_real(jbuf *b, double d)
{
    char tmp[40];
    if (!isfinite(d))
        return -1;
    if (fabs(d) < 1e15 && d == (double)(int64_t)d && (d != 0 || !signbit(d))) /* %.17g's integers */
        return jb_int(b, (int64_t)d) || jb_put(b, ".0", 2) ? -1 : 0;
    int n = snprintf(tmp, sizeof(tmp) - 2, "%.17g", d);
    if (n < 0)
        return -1;
    char *e = strchr(tmp, 'e');
    if (!e && !strchr(tmp, '.')) {
        tmp[n++] = '.';
        tmp[n++] = '0';
        tmp[n] = 0;
    } else if (e) {
        char *from = e + 1, *to = e + 1;
        if (*from == '+')
            from++;
        else if (*from == '-')
            *to++ = *from++;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, strlen(from) + 1);
        n = (int)strlen(tmp);
    }
    return jb_put(b, tmp, (size_t)n);
}

static int jb_value(jbuf *b, const avro_value_t *v);

static int jb_compound(jbuf *b, const avro_value_t *v, int is_object)
{
    size_t n = 0;
    avro_value_get_size(v, &n);
    if (jb_put(b, is_object ? "{" : "[", 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        avro_value_t child;
        const char *name = NULL;
        if ((i && jb_put(b, ",", 1)) || avro_value_get_by_index(v, i, &child, &name))
            return -1;
        if (is_object && (!name || jb_string(b, name, strlen(name)) || jb_put(b, ":", 1)))
            return -1;
        if (jb_value(b, &child))
            return -1;
    }
    return jb_put(b, is_object ? "}" : "]", 1);
}

static int jb_value(jbuf *b, const avro_value_t *v)
{
    int32_t i32;
    int64_t i64;
    float f;
    double d;
    const char *s;
    const void *buf;
    size_t len;
    avro_value_t branch;

    switch (avro_value_get_type(v)) {
    case AVRO_NULL: return jb_put(b, "null", 4);
    case AVRO_BOOLEAN:
        return avro_value_get_boolean(v, &i32) ? -1
                                                : i32 ? jb_put(b, "true", 4) : jb_put(b, "false", 5);
    case AVRO_INT32: return avro_value_get_int(v, &i32) ? -1 : jb_int(b, i32);
    case AVRO_INT64: return avro_value_get_long(v, &i64) ? -1 : jb_int(b, i64);
    case AVRO_FLOAT: return avro_value_get_float(v, &f) ? -1 : jb_real(b, f);
    case AVRO_DOUBLE: return avro_value_get_double(v, &d) ? -1 : jb_real(b, d);
    case AVRO_STRING:
        return avro_value_get_string(v, &s, &len) ? -1 : jb_string(b, s, len ? len - 1 : 0);
    case AVRO_BYTES: return avro_value_get_bytes(v, &buf, &len) ? -1 : jb_base64(b, buf, len);
    case AVRO_FIXED: return avro_value_get_fixed(v, &buf, &len) ? -1 : jb_base64(b, buf, len);
    case AVRO_ENUM:
        if (avro_value_get_enum(v, &i32) ||
            !(s = avro_schema_enum_get(avro_value_get_schema(v), i32)))
            return -1;
        return jb_string(b, s, strlen(s));
    case AVRO_UNION:
        if (avro_value_get_discriminant(v, &i32) || i32 < 0)
            return jb_put(b, "null", 4);
        return avro_value_get_current_branch(v, &branch) ? -1 : jb_value(b, &branch);
    case AVRO_RECORD: return jb_compound(b, v, 1);
    case AVRO_ARRAY: return jb_compound(b, v, 0);
    case AVRO_MAP: return jb_compound(b, v, 1);
    default: return -1;
    }
}

/* Every public writer ends here: NUL-terminate, or undo on failure. */
static int jb_end(jbuf *b, size_t start, int rc)
{
    if (rc != 0)
        *b->len = start; /* nothing half-written stays */
    if (*b->buf)
        (*b->buf)[*b->len] = 0; /* jb_reserve always left room for it */
    return rc;
}

int sluice_value_json_append(const avro_value_t *value, char **buf, size_t *len, size_t *cap)
{
    jbuf b = {buf, len, cap};
    size_t start = *len;
    return jb_end(&b, start, value ? jb_value(&b, value) : jb_put(&b, "null", 4));
}

int sluice_json_append_string(const char *s, char **buf, size_t *len, size_t *cap)
{
    jbuf b = {buf, len, cap};
    size_t start = *len;
    return jb_end(&b, start, jb_string(&b, s, strlen(s)));
}

int sluice_json_append_raw(const char *s, size_t n, char **buf, size_t *len, size_t *cap)
{
    jbuf b = {buf, len, cap};
    size_t start = *len;
    return jb_end(&b, start, jb_put(&b, s, n));
}

int sluice_json_append_base64(const void *data, size_t n, char **buf, size_t *len, size_t *cap)
{
    jbuf b = {buf, len, cap};
    size_t start = *len;
    return jb_end(&b, start, jb_base64(&b, data, n));
}

int sluice_json_append_int(int64_t v, char **buf, size_t *len, size_t *cap)
{
    jbuf b = {buf, len, cap};
    size_t start = *len;
    return jb_end(&b, start, jb_int(&b, v));
}
