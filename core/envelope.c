/*
 * envelope.c - Debezium-envelope schemas built once per table, field setters,
 * the envelope's layout and filling by position, the Debezium JSON form of
 * avro-c values, and the same JSON read straight from Avro binary by a
 * compiled plan (the last section, which says how). See sluice/envelope.h.
 *
 * The envelope is filled in one place: the layout (where before, after,
 * source, op, ts_ms and every source field sit) is resolved once per value
 * schema from one table of names, and sources fill each record by position
 * (sluice_envelope_fill), lending the strings that outlive the record. The
 * by-name calls (sluice_envelope_set_source and the like) resolve the same
 * table against the value's schema per call and copy: they are for plugins
 * that fill an envelope now and then, not per row.
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
    sluice_envelope_layout layout; /* of value_schema */
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
    if (sluice_envelope_layout_resolve(env->value_schema, &env->layout, err, errlen) != 0)
        goto fail;
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

/* ---- Numbers as text ------------------------------------------------------- */

static const char ap_digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* u's decimal digits ending just before `end`; the first one's address. */
static inline char *ap_utoa(uint64_t u, char *end)
{
    while (u >= 100) {
        end -= 2;
        memcpy(end, ap_digits2 + 2 * (u % 100), 2);
        u /= 100;
    }
    if (u >= 10) {
        end -= 2;
        memcpy(end, ap_digits2 + 2 * u, 2);
    } else {
        *--end = (char)('0' + u);
    }
    return end;
}

static inline size_t ap_ndigits(uint64_t u)
{
    size_t n = 1;
    for (uint64_t p = 10; n < 20 && u >= p; p *= 10)
        n++;
    return n;
}

char *sluice_put_u64(char *p, uint64_t v, int width)
{
    int n = (int)ap_ndigits(v);
    for (int i = n; i < width; i++)
        *p++ = '0';
    p += n;
    ap_utoa(v, p);
    return p;
}

char *sluice_put_i64(char *p, int64_t v, int width)
{
    if (v >= 0)
        return sluice_put_u64(p, (uint64_t)v, width);
    *p++ = '-';
    return sluice_put_u64(p, 0 - (uint64_t)v, width - 1);
}

/* ---- Reusing values ------------------------------------------------------- */

void sluice_pool_init(sluice_value_pool *p, avro_value_iface_t *iface)
{
    memset(p, 0, sizeof(*p));
    p->iface = avro_value_iface_incref(iface);
}

int sluice_pool_get(sluice_value_pool *p, avro_value_t *v)
{
    p->taken++;
    if (p->n_free) {
        *v = p->free_v[--p->n_free];
        return 0;
    }
    return avro_generic_value_new(p->iface, v);
}

/* Room for one more in *arr (doubling): 0, or -1 out of memory. */
static int pool_room(avro_value_t **arr, size_t n, size_t *cap)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    avro_value_t *a = realloc(*arr, c * sizeof(*a));
    if (!a)
        return -1;
    *arr = a;
    *cap = c;
    return 0;
}

void sluice_pool_lent(sluice_value_pool *p, const avro_value_t *v)
{
    if (pool_room(&p->lent_v, p->n_lent, &p->cap_lent) != 0)
        return;
    avro_value_copy_ref(&p->lent_v[p->n_lent++], v);
}

void sluice_pool_reclaim(sluice_value_pool *p)
{
    size_t keep = p->taken;
    p->taken = 0;
    for (size_t i = 0; i < p->n_lent; i++) {
        if (p->n_free < keep && pool_room(&p->free_v, p->n_free, &p->cap_free) == 0)
            p->free_v[p->n_free++] = p->lent_v[i];
        else
            avro_value_decref(&p->lent_v[i]);
    }
    p->n_lent = 0;
    while (p->n_free > keep)
        avro_value_decref(&p->free_v[--p->n_free]);
}

void sluice_pool_done(sluice_value_pool *p)
{
    p->taken = 0;
    sluice_pool_reclaim(p);
    free(p->free_v);
    free(p->lent_v);
    if (p->iface)
        avro_value_iface_decref(p->iface);
    memset(p, 0, sizeof(*p));
}

int sluice_envelope_new_key(sluice_envelope *env, avro_value_t *key)
{
    return env->key_iface ? avro_generic_value_new(env->key_iface, key) : EINVAL;
}

/* before, after and ts_ms start as null: an avro-c union no one set has no
 * branch, and would not encode. */
int sluice_envelope_new_value(sluice_envelope *env, avro_value_t *value)
{
    const sluice_field_pos *e = env->layout.env;
    int rc = avro_generic_value_new(env->value_iface, value);
    if (rc != 0)
        return rc;
    rc = sluice_field_null_at(value, &e[SLUICE_ENV_BEFORE]);
    rc = rc ? rc : sluice_field_null_at(value, &e[SLUICE_ENV_AFTER]);
    rc = rc ? rc : sluice_field_null_at(value, &e[SLUICE_ENV_TS_MS]);
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
/* Fields by position                                                        */
/* ======================================================================== */

static avro_schema_t follow_link(avro_schema_t s)
{
    return s && is_avro_link(s) ? avro_schema_link_target(s) : s;
}

int sluice_field_resolve(avro_schema_t rec, const char *name, sluice_field_pos *f, char *err,
                         size_t errlen)
{
    rec = follow_link(rec);
    int i = rec && is_avro_record(rec) ? avro_schema_record_field_get_index(rec, name) : -1;
    if (i < 0 && rec && is_avro_record(rec))
        snprintf(err, errlen, "record %s has no field %s", avro_schema_name(rec), name);
    else if (i < 0)
        snprintf(err, errlen, "looking for field %s in a schema that is no record", name);
    if (i < 0)
        return -1;
    avro_schema_t t = avro_schema_record_field_get_by_index(rec, i);
    *f = (sluice_field_pos){.index = i, .null_branch = -1, .value_branch = -1};
    if (!is_avro_union(t))
        return 0;
    for (size_t b = 0; b < avro_schema_union_size(t); b++) {
        int *which =
            is_avro_null(avro_schema_union_branch(t, b)) ? &f->null_branch : &f->value_branch;
        if (*which >= 0 || avro_schema_union_size(t) != 2) {
            snprintf(err, errlen, "record %s field %s: a union other than [\"null\", T]",
                     avro_schema_name(rec), name);
            return -1;
        }
        *which = (int)b;
    }
    return 0;
}

/* The schema a value of field f holds when it is not null (links followed). */
static avro_schema_t field_schema(avro_schema_t rec, const sluice_field_pos *f)
{
    avro_schema_t t = avro_schema_record_field_get_by_index(follow_link(rec), f->index);
    if (f->value_branch >= 0)
        t = avro_schema_union_branch(t, f->value_branch);
    return follow_link(t);
}

/* The per-record primitives, static inline so that the fill below inlines
 * them: in a plugin (PIC) a call to the exported names goes through the PLT
 * and is never inlined, which cost datagen about a tenth of its record. */
static inline int field_at(avro_value_t *rec, const sluice_field_pos *f, avro_value_t *slot)
{
    if (f->value_branch < 0)
        return avro_value_get_by_index(rec, (size_t)f->index, slot, NULL);
    avro_value_t u;
    int rc = avro_value_get_by_index(rec, (size_t)f->index, &u, NULL);
    return rc ? rc : avro_value_set_branch(&u, f->value_branch, slot);
}

static inline int null_at(avro_value_t *rec, const sluice_field_pos *f)
{
    avro_value_t u, b;
    if (f->null_branch < 0)
        return EINVAL;
    int rc = avro_value_get_by_index(rec, (size_t)f->index, &u, NULL);
    rc = rc ? rc : avro_value_set_branch(&u, f->null_branch, &b);
    return rc ? rc : avro_value_set_null(&b);
}

static inline int lend_at(avro_value_t *rec, const sluice_field_pos *f, const char *s, size_t len)
{
    avro_value_t slot;
    avro_wrapped_buffer_t buf;
    if (!s)
        return null_at(rec, f);
    int rc = field_at(rec, f, &slot);
    if (rc != 0)
        return rc;
    avro_wrapped_buffer_new(&buf, s, len + 1); /* free = NULL: only borrowed */
    return avro_value_give_string_len(&slot, &buf);
}

int sluice_field_at(avro_value_t *rec, const sluice_field_pos *f, avro_value_t *slot)
{
    return field_at(rec, f, slot);
}

int sluice_field_null_at(avro_value_t *rec, const sluice_field_pos *f)
{
    return null_at(rec, f);
}

int sluice_field_lend_string_at(avro_value_t *rec, const sluice_field_pos *f, const char *s,
                                size_t len)
{
    return lend_at(rec, f, s, len);
}

/* ======================================================================== */
/* The envelope's layout                                                     */
/* ======================================================================== */

/* The one table of the envelope's and the source record's field names (and
 * what a source field holds: 's' string, 'l' long; upper case: required). */
static const char *const env_names[SLUICE_ENV_NFIELDS] = {"before", "after", "source", "op",
                                                          "ts_ms"};
static const struct {
    const char *name;
    char kind;
} src_fields[SLUICE_SRC_NFIELDS] = {
    [SLUICE_SRC_VERSION] = {"version", 'S'},   [SLUICE_SRC_CONNECTOR] = {"connector", 'S'},
    [SLUICE_SRC_NAME] = {"name", 'S'},         [SLUICE_SRC_TS_MS] = {"ts_ms", 'L'},
    [SLUICE_SRC_SNAPSHOT] = {"snapshot", 's'}, [SLUICE_SRC_DB] = {"db", 's'},
    [SLUICE_SRC_SCHEMA] = {"schema", 's'},     [SLUICE_SRC_TABLE] = {"table", 's'},
    [SLUICE_SRC_TXID] = {"txId", 'l'},         [SLUICE_SRC_LSN] = {"lsn", 'l'},
    [SLUICE_SRC_FILE] = {"file", 's'},         [SLUICE_SRC_POS] = {"pos", 'l'},
    [SLUICE_SRC_GTID] = {"gtid", 's'},         [SLUICE_SRC_SEQ] = {"seq", 'l'},
};

/* 0 when field f of rec holds `type` (and may be null when `nullable`);
 * else -1 with err saying what it should be. */
static int field_is(avro_schema_t rec, const sluice_field_pos *f, const char *what,
                    avro_type_t type, int nullable, char *err, size_t errlen)
{
    avro_schema_t t = field_schema(rec, f);
    if (t && avro_typeof(t) == type && (!nullable || f->null_branch >= 0))
        return 0;
    snprintf(err, errlen, "record %s field %s: expected %s%s", avro_schema_name(rec),
             avro_schema_record_field_name(rec, f->index), nullable ? "a nullable " : "a ", what);
    return -1;
}

static int layout_source(avro_schema_t src, sluice_envelope_layout *lay, char *err, size_t errlen)
{
    for (int i = 0; i < SLUICE_SRC_NFIELDS; i++) {
        char kind = src_fields[i].kind;
        int lower = kind == 's' || kind == 'l', string = kind == 's' || kind == 'S';
        if (sluice_field_resolve(src, src_fields[i].name, &lay->src[i], err, errlen) != 0 ||
            field_is(src, &lay->src[i], string ? "string" : "long",
                     string ? AVRO_STRING : AVRO_INT64, lower, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int sluice_envelope_layout_resolve(avro_schema_t value_schema, sluice_envelope_layout *lay,
                                   char *err, size_t errlen)
{
    avro_schema_t v = follow_link(value_schema);
    sluice_field_pos *e = lay->env;
    memset(lay, 0, sizeof(*lay));
    for (int i = 0; i < SLUICE_ENV_NFIELDS; i++)
        if (sluice_field_resolve(v, env_names[i], &e[i], err, errlen) != 0)
            return -1;
    if (field_is(v, &e[SLUICE_ENV_BEFORE], "row record", AVRO_RECORD, 1, err, errlen) != 0 ||
        field_is(v, &e[SLUICE_ENV_AFTER], "row record", AVRO_RECORD, 1, err, errlen) != 0 ||
        field_is(v, &e[SLUICE_ENV_SOURCE], "record", AVRO_RECORD, 0, err, errlen) != 0 ||
        field_is(v, &e[SLUICE_ENV_OP], "string", AVRO_STRING, 0, err, errlen) != 0 ||
        field_is(v, &e[SLUICE_ENV_TS_MS], "long", AVRO_INT64, 0, err, errlen) != 0)
        return -1;
    lay->row = field_schema(v, &e[SLUICE_ENV_BEFORE]);
    avro_schema_t after = field_schema(v, &e[SLUICE_ENV_AFTER]);
    if (after != lay->row && !avro_schema_equal(after, lay->row)) {
        snprintf(err, errlen, "record %s: before and after are not the same row record",
                 avro_schema_name(v));
        return -1;
    }
    return layout_source(field_schema(v, &e[SLUICE_ENV_SOURCE]), lay, err, errlen);
}

const sluice_envelope_layout *sluice_envelope_value_layout(const sluice_envelope *env)
{
    return &env->layout;
}

/* ======================================================================== */
/* Envelope values                                                           */
/* ======================================================================== */

static int set_string_at(avro_value_t *rec, const sluice_field_pos *f, const char *s, int lend)
{
    avro_value_t slot;
    if (lend || !s)
        return lend_at(rec, f, s, s ? strlen(s) : 0);
    int rc = field_at(rec, f, &slot);
    return rc ? rc : avro_value_set_string(&slot, s);
}

static int set_long_at(avro_value_t *rec, const sluice_field_pos *f, int64_t v)
{
    avro_value_t slot;
    if (v == SLUICE_NULL_POS)
        return null_at(rec, f);
    int rc = field_at(rec, f, &slot);
    return rc ? rc : avro_value_set_long(&slot, v);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* The source record from src, by position (version, connector and name
 * NULL are written ""; ts_ms is required). */
/* The source record s from src, its fields where lay->src has them. */
static int fill_source_record(const sluice_envelope_layout *lay, avro_value_t *sp,
                              const sluice_source_info *src, int lend)
{
    const sluice_field_pos *f = lay->src;
    avro_value_t s = *sp, ts;
    int rc = 0;
    rc = rc ? rc : set_string_at(&s, &f[SLUICE_SRC_VERSION], or_empty(src->version), lend);
    rc = rc ? rc : set_string_at(&s, &f[SLUICE_SRC_CONNECTOR], or_empty(src->connector), lend);
    rc = rc ? rc : set_string_at(&s, &f[SLUICE_SRC_NAME], or_empty(src->name), lend);
    rc = rc ? rc : field_at(&s, &f[SLUICE_SRC_TS_MS], &ts);
    rc = rc ? rc : avro_value_set_long(&ts, src->ts_ms);
    rc = rc ? rc : set_string_at(&s, &f[SLUICE_SRC_SNAPSHOT], src->snapshot, lend);
    rc = rc ? rc : set_string_at(&s, &f[SLUICE_SRC_DB], src->db, lend);
    rc = rc ? rc : set_string_at(&s, &f[SLUICE_SRC_SCHEMA], src->schema, lend);
    rc = rc ? rc : set_string_at(&s, &f[SLUICE_SRC_TABLE], src->table, lend);
    rc = rc ? rc : set_long_at(&s, &f[SLUICE_SRC_TXID], src->tx_id);
    rc = rc ? rc : set_long_at(&s, &f[SLUICE_SRC_LSN], src->lsn);
    rc = rc ? rc : set_string_at(&s, &f[SLUICE_SRC_FILE], src->file, lend);
    rc = rc ? rc : set_long_at(&s, &f[SLUICE_SRC_POS], src->pos);
    rc = rc ? rc : set_string_at(&s, &f[SLUICE_SRC_GTID], src->gtid, lend);
    rc = rc ? rc : set_long_at(&s, &f[SLUICE_SRC_SEQ], src->seq);
    return rc;
}

static int fill_source(const sluice_envelope_layout *lay, avro_value_t *value,
                       const sluice_source_info *src, int lend)
{
    avro_value_t s;
    int rc = field_at(value, &lay->env[SLUICE_ENV_SOURCE], &s);
    return rc ? rc : fill_source_record(lay, &s, src, lend);
}

/* op as a literal the value may point at ("c" for 'c', ...); NULL for an op
 * outside a-z. */
static const char *op_literal(char op)
{
    static const char ops[] = "a\0b\0c\0d\0e\0f\0g\0h\0i\0j\0k\0l\0m\0n\0o\0p\0q\0r\0s\0t\0u\0"
                              "v\0w\0x\0y\0z";
    return op >= 'a' && op <= 'z' ? &ops[(op - 'a') * 2] : NULL;
}

static int set_op_at(const sluice_envelope_layout *lay, avro_value_t *value, char op)
{
    const char *lit = op_literal(op);
    char s[2] = {op, '\0'};
    if (lit)
        return lend_at(value, &lay->env[SLUICE_ENV_OP], lit, 1);
    return set_string_at(value, &lay->env[SLUICE_ENV_OP], s, 0);
}

int sluice_envelope_fill(const sluice_envelope_layout *lay, avro_value_t *value, char op,
                         int64_t ts_ms, const sluice_source_info *src, int lend)
{
    int rc = fill_source(lay, value, src, lend);
    rc = rc ? rc : set_op_at(lay, value, op);
    return rc ? rc : set_long_at(value, &lay->env[SLUICE_ENV_TS_MS], ts_ms);
}

int sluice_envelope_row_at(const sluice_envelope_layout *lay, avro_value_t *value,
                           sluice_env_field which, avro_value_t *row)
{
    if (which != SLUICE_ENV_BEFORE && which != SLUICE_ENV_AFTER)
        return EINVAL;
    return row ? field_at(value, &lay->env[which], row) : null_at(value, &lay->env[which]);
}

/* ---- by name: one envelope field found in value's own schema -------------- */

static int env_field(avro_value_t *value, sluice_env_field which, sluice_field_pos *f)
{
    char err[256];
    avro_schema_t schema = avro_value_get_schema(value);
    if (sluice_field_resolve(schema, env_names[which], f, err, sizeof(err)) == 0)
        return 0;
    avro_set_error("%s", err);
    return EINVAL;
}

static int row_by_name(avro_value_t *value, sluice_env_field which, avro_value_t *row)
{
    sluice_field_pos f;
    int rc = env_field(value, which, &f);
    return rc ? rc : field_at(value, &f, row);
}

int sluice_envelope_before(avro_value_t *value, avro_value_t *row)
{
    return row_by_name(value, SLUICE_ENV_BEFORE, row);
}

int sluice_envelope_after(avro_value_t *value, avro_value_t *row)
{
    return row_by_name(value, SLUICE_ENV_AFTER, row);
}

int sluice_envelope_set_op(avro_value_t *value, char op)
{
    char s[2] = {op, '\0'};
    sluice_field_pos f;
    int rc = env_field(value, SLUICE_ENV_OP, &f);
    return rc ? rc : set_string_at(value, &f, s, 0);
}

int sluice_envelope_set_ts(avro_value_t *value, int64_t ts_ms)
{
    sluice_field_pos f;
    avro_value_t slot;
    int rc = env_field(value, SLUICE_ENV_TS_MS, &f);
    rc = rc ? rc : field_at(value, &f, &slot);
    return rc ? rc : avro_value_set_long(&slot, ts_ms);
}

/* v's source from src, strings copied: v is an envelope (its layout
 * resolved now) or, envelope 0, a source record itself. */
static int set_source(avro_value_t *v, int envelope, const sluice_source_info *src)
{
    char err[256];
    sluice_envelope_layout lay;
    avro_schema_t s = avro_value_get_schema(v);
    if ((envelope ? sluice_envelope_layout_resolve(s, &lay, err, sizeof(err))
                  : layout_source(s, &lay, err, sizeof(err))) != 0) {
        avro_set_error("%s", err);
        return EINVAL;
    }
    return envelope ? fill_source(&lay, v, src, SLUICE_COPY)
                    : fill_source_record(&lay, v, src, SLUICE_COPY);
}

int sluice_source_set(avro_value_t *source, const sluice_source_info *src)
{
    return set_source(source, 0, src);
}

int sluice_envelope_set_source(avro_value_t *value, const sluice_source_info *src)
{
    return set_source(value, 1, src);
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

static inline int ap_put_int(jbuf *b, int64_t v);

/* Integers are written by the plans' in-place writer (ap_put_int). */
static int jb_int(jbuf *b, int64_t v)
{
    return ap_put_int(b, v);
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
static int ap_put_real(jbuf *b, double d);

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
    case AVRO_FLOAT: return avro_value_get_float(v, &f) ? -1 : ap_put_real(b, f);
    case AVRO_DOUBLE: return avro_value_get_double(v, &d) ? -1 : ap_put_real(b, d);
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

int sluice_utf8_valid(const char *s, size_t n)
{
    return utf8_valid((const unsigned char *)s, n);
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

/* ======================================================================== */
/* Avro binary read in place                                                 */
/* ======================================================================== */
/*
 * A plan is the schema compiled once into a flat array of ops, one per
 * schema node, that the walker follows over the Avro binary encoding of one
 * datum: no avro-c value, no allocation per datum, and the JSON text written
 * with the same jb_* helpers as the value path above, so the two cannot
 * drift apart.
 *
 *   ops[0]          the root
 *   op RECORD       n fields: slots[first .. first+n) each {field op, key text}
 *   op UNION        n branches: slots[first .. first+n) each {branch op}
 *                   (a field's or branch's slot holds a copy of its op, made
 *                   once compiling is done, so walking a record reads its
 *                   slots in order and follows no index)
 *   op ENUM         n symbols: slots[first .. first+n) each {symbol text}
 *   op ARRAY / MAP  first = the item op
 *   op FIXED        min = its size
 *   text            pre-rendered JSON: a field's key as `"name":` (with the
 *                   ',' before it for every field but the first, so a record
 *                   renders by one copy per field), an enum's `"SYMBOL"`
 *
 * Named types (record, enum, fixed) are compiled once and every reference
 * points back at that op, so a record that refers to itself (through a
 * union or an array) is a cycle of indexes, not an endless compile.
 *
 * Reading follows the Avro specification's binary encoding: int and long
 * are zig-zag varints of at most 5 and 10 bytes (bits beyond 32 or 64 are
 * refused, not dropped); float and double are little-endian IEEE; bytes and
 * string are a long length then the bytes; boolean is one byte, 0 or 1;
 * enum an int index; union a long branch index then the branch; fixed its
 * size in bytes; arrays and maps are blocks of (long count, then when count
 * is negative a long byte size of the block, which must match, then |count|
 * items; a map item is a string key then the value) ended by a count of 0.
 * Nothing is trusted: every length is checked against the bytes left.
 *
 * Hostile bytes are bounded three ways: nesting of records, arrays and maps
 * beyond AP_MAX_DEPTH is refused (the walker recurses, and every recursive
 * type goes through a record); a block count larger than the bytes left
 * could hold (ops know the fewest bytes their encoding takes, `min`) is
 * refused; and items that take no bytes at all (arrays of null) are limited
 * to AP_MAX_EMPTY per datum, so a few bytes cannot ask for 2^62 of them.
 *
 * Where the value path differs from a naive reading, the plan follows the
 * value path: a map key is a C string in avro-c, so it renders up to its
 * first NUL byte. One difference is left: a map whose bytes repeat a key
 * renders every entry, where avro-c's reader merges them into one (no
 * writer produces such bytes, and finding repeats would cost a table per
 * map).
 */

#define AP_MAX_DEPTH        64
#define AP_MAX_EMPTY        (1u << 20)
#define AP_MAX_SCHEMA_DEPTH 1000 /* compile recursion, for absurd schemas */
#define AP_TEXT_PAD         32   /* zero bytes after the plan's text */

/* Scalars first: kind >= AP_RECORD is a record, array, map or union. */
enum ap_kind {
    AP_NULL,
    AP_BOOLEAN,
    AP_INT,
    AP_LONG,
    AP_FLOAT,
    AP_DOUBLE,
    AP_BYTES,
    AP_STRING,
    AP_FIXED,
    AP_ENUM,
    AP_RECORD,
    AP_ARRAY,
    AP_MAP,
    AP_UNION,
};

typedef struct ap_op {
    uint8_t kind;   /* enum ap_kind */
    uint32_t n;     /* record fields, union branches, enum symbols */
    uint32_t first; /* record/union/enum: first slot; array/map: item op */
    uint64_t min;   /* fewest bytes an encoding takes (a lower bound); fixed: its size */
} ap_op;

typedef struct ap_slot {
    ap_op o;             /* record field or union branch: a copy of ops[op] */
    uint32_t op;         /* its index */
    uint32_t text, tlen; /* record field key, enum symbol: offset and length in text */
} ap_slot;

typedef struct ap_named { /* compile time only: named schema -> its op */
    avro_schema_t schema;
    uint32_t op;
} ap_named;

struct sluice_avro_plan {
    ap_op *ops;
    ap_slot *slots;
    char *text;
    size_t nops, capops, nslots, capslots, ntext, captext;
    ap_named *named;
    size_t nnamed, capnamed;
};

/* ---- compiling -------------------------------------------------------- */

/* Room for `more` items in a growing array; 0 or -1. */
static int ap_room(void **arr, size_t *cap, size_t n, size_t more, size_t size)
{
    if (n + more <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < n + more)
        c *= 2;
    if (c > UINT32_MAX)
        return -1; /* indexes are 32-bit */
    void *p = realloc(*arr, c * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

static int64_t ap_new_op(sluice_avro_plan *pl, enum ap_kind kind, uint64_t min)
{
    if (ap_room((void **)&pl->ops, &pl->capops, pl->nops, 1, sizeof(ap_op)))
        return -1;
    pl->ops[pl->nops] = (ap_op){.kind = (uint8_t)kind, .min = min};
    return (int64_t)pl->nops++;
}

/* n zeroed slots; their first index, or -1. */
static int64_t ap_new_slots(sluice_avro_plan *pl, size_t n)
{
    if (ap_room((void **)&pl->slots, &pl->capslots, pl->nslots, n, sizeof(ap_slot)))
        return -1;
    if (n) /* slots is still NULL while nothing was asked for */
        memset(pl->slots + pl->nslots, 0, n * sizeof(ap_slot));
    pl->nslots += n;
    return (int64_t)(pl->nslots - n);
}

/* Appends "sep""name""suffix" as JSON text to the plan's text, recording
 * where it is in *slot. */
static int ap_text(sluice_avro_plan *pl, ap_slot *slot, const char *sep, const char *name,
                   const char *suffix)
{
    jbuf b = {&pl->text, &pl->ntext, &pl->captext};
    size_t start = pl->ntext;
    if (!name || (*sep && jb_put(&b, sep, strlen(sep))) || jb_string(&b, name, strlen(name)) ||
        (*suffix && jb_put(&b, suffix, strlen(suffix))) || pl->ntext > UINT32_MAX)
        return -1;
    slot->text = (uint32_t)start;
    slot->tlen = (uint32_t)(pl->ntext - start);
    return 0;
}

static uint64_t ap_add_min(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

static int64_t ap_compile(sluice_avro_plan *pl, avro_schema_t s, int depth);

static int ap_remember(sluice_avro_plan *pl, avro_schema_t s, int64_t op)
{
    if (op < 0 || ap_room((void **)&pl->named, &pl->capnamed, pl->nnamed, 1, sizeof(ap_named)))
        return -1;
    pl->named[pl->nnamed++] = (ap_named){s, (uint32_t)op};
    return 0;
}

static int64_t ap_compile_record(sluice_avro_plan *pl, avro_schema_t s, int depth)
{
    size_t n = avro_schema_record_size(s);
    int64_t op = ap_new_op(pl, AP_RECORD, 0);
    int64_t first = op < 0 ? -1 : ap_new_slots(pl, n);
    if (first < 0 || ap_remember(pl, s, op))
        return -1;
    pl->ops[op].n = (uint32_t)n;
    pl->ops[op].first = (uint32_t)first;
    uint64_t min = 0;
    for (size_t i = 0; i < n; i++) {
        if (ap_text(pl, &pl->slots[first + (int64_t)i], i ? "," : "",
                    avro_schema_record_field_name(s, (int)i), ":"))
            return -1;
        int64_t f = ap_compile(pl, avro_schema_record_field_get_by_index(s, (int)i), depth + 1);
        if (f < 0)
            return -1;
        pl->slots[first + (int64_t)i].op = (uint32_t)f;
        min = ap_add_min(min, pl->ops[f].min);
    }
    pl->ops[op].min = min; /* references made while compiling saw 0: still a lower bound */
    return op;
}

static int64_t ap_compile_enum(sluice_avro_plan *pl, avro_schema_t s)
{
    int n = avro_schema_enum_number_of_symbols(s);
    int64_t op = n <= 0 ? -1 : ap_new_op(pl, AP_ENUM, 1);
    int64_t first = op < 0 ? -1 : ap_new_slots(pl, (size_t)n);
    if (first < 0 || ap_remember(pl, s, op))
        return -1;
    pl->ops[op].n = (uint32_t)n;
    pl->ops[op].first = (uint32_t)first;
    for (int i = 0; i < n; i++)
        if (ap_text(pl, &pl->slots[first + i], "", avro_schema_enum_get(s, i), ""))
            return -1;
    return op;
}

static int64_t ap_compile_union(sluice_avro_plan *pl, avro_schema_t s, int depth)
{
    size_t n = avro_schema_union_size(s);
    int64_t op = n == 0 ? -1 : ap_new_op(pl, AP_UNION, 1);
    int64_t first = op < 0 ? -1 : ap_new_slots(pl, n);
    if (first < 0)
        return -1;
    pl->ops[op].n = (uint32_t)n;
    pl->ops[op].first = (uint32_t)first;
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        int64_t br = ap_compile(pl, avro_schema_union_branch(s, (int)i), depth + 1);
        if (br < 0)
            return -1;
        pl->slots[first + (int64_t)i].op = (uint32_t)br;
        min = pl->ops[br].min < min ? pl->ops[br].min : min;
    }
    pl->ops[op].min = ap_add_min(1, min);
    return op;
}

static int64_t ap_compile_items(sluice_avro_plan *pl, enum ap_kind kind, avro_schema_t items,
                                int depth)
{
    int64_t op = ap_new_op(pl, kind, 1); /* the closing count 0 */
    int64_t it = op < 0 ? -1 : ap_compile(pl, items, depth + 1);
    if (it < 0)
        return -1;
    pl->ops[op].first = (uint32_t)it;
    return op;
}

/* The op index for s (compiling it unless it is a named type already
 * compiled), or -1: out of memory, an unresolved reference, a schema too
 * deep. */
static int64_t ap_compile(sluice_avro_plan *pl, avro_schema_t s, int depth)
{
    if (s && is_avro_link(s))
        s = avro_schema_link_target(s);
    if (!s || depth > AP_MAX_SCHEMA_DEPTH)
        return -1;
    for (size_t i = 0; i < pl->nnamed; i++)
        if (pl->named[i].schema == s)
            return pl->named[i].op;
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return ap_new_op(pl, AP_NULL, 0);
    case AVRO_BOOLEAN:
        return ap_new_op(pl, AP_BOOLEAN, 1);
    case AVRO_INT32:
        return ap_new_op(pl, AP_INT, 1);
    case AVRO_INT64:
        return ap_new_op(pl, AP_LONG, 1);
    case AVRO_FLOAT:
        return ap_new_op(pl, AP_FLOAT, 4);
    case AVRO_DOUBLE:
        return ap_new_op(pl, AP_DOUBLE, 8);
    case AVRO_BYTES:
        return ap_new_op(pl, AP_BYTES, 1);
    case AVRO_STRING:
        return ap_new_op(pl, AP_STRING, 1);
    case AVRO_FIXED: {
        int64_t size = avro_schema_fixed_size(s);
        int64_t op = size < 0 ? -1 : ap_new_op(pl, AP_FIXED, (uint64_t)size);
        return ap_remember(pl, s, op) ? -1 : op;
    }
    case AVRO_ENUM:
        return ap_compile_enum(pl, s);
    case AVRO_RECORD:
        return ap_compile_record(pl, s, depth);
    case AVRO_UNION:
        return ap_compile_union(pl, s, depth);
    case AVRO_ARRAY:
        return ap_compile_items(pl, AP_ARRAY, avro_schema_array_items(s), depth);
    case AVRO_MAP:
        return ap_compile_items(pl, AP_MAP, avro_schema_map_values(s), depth);
    default:
        return -1;
    }
}

sluice_avro_plan *sluice_avro_plan_create(avro_schema_t schema)
{
    sluice_avro_plan *pl = calloc(1, sizeof(*pl));
    if (!pl || ap_compile(pl, schema, 0) != 0) { /* the root is always ops[0] */
        sluice_avro_plan_destroy(pl);
        return NULL;
    }
    jbuf b = {&pl->text, &pl->ntext, &pl->captext};
    size_t ntext = pl->ntext;
    static const char pad[AP_TEXT_PAD];
    if (jb_put(&b, pad, sizeof(pad))) { /* ap_put_text copies whole 32-byte chunks */
        sluice_avro_plan_destroy(pl);
        return NULL;
    }
    pl->ntext = ntext;
    for (size_t i = 0; i < pl->nslots; i++) /* every op is complete now */
        pl->slots[i].o = pl->ops[pl->slots[i].op];
    free(pl->named); /* only compiling needs it */
    pl->named = NULL;
    pl->nnamed = pl->capnamed = 0;
    return pl;
}

void sluice_avro_plan_destroy(sluice_avro_plan *plan)
{
    if (!plan)
        return;
    free(plan->ops);
    free(plan->slots);
    free(plan->text);
    free(plan->named);
    free(plan);
}

/* ---- walking ----------------------------------------------------------
 * Every reader takes the position p and returns the position after what it
 * read, or NULL when the bytes are not what the op needs: the position stays
 * in a register along the hot path instead of going through memory.
 */

typedef struct ap_walk {
    const sluice_avro_plan *pl;
    const uint8_t *end;
    jbuf *b;        /* NULL: check only */
    uint32_t empty; /* zero-byte items still allowed */
} ap_walk;

/* A zig-zag varint of at most maxlen bytes (10: long, 5: int) whose value
 * fits in maxbits bits before the zig-zag. */
static const uint8_t *ap_varint_slow(const uint8_t *p, const uint8_t *end, int maxlen, int maxbits,
                                     int64_t *out)
{
    uint64_t u = 0;
    for (int i = 0; i < maxlen; i++) {
        if (p == end)
            return NULL;
        uint8_t c = *p++;
        int shift = 7 * i;
        if (shift + 7 > maxbits && (c & 0x7f) >> (maxbits - shift))
            return NULL; /* bits beyond the type's width */
        u |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = maxbits == 64 ? (int64_t)(u >> 1) ^ -(int64_t)(u & 1)
                                 : (int32_t)((uint32_t)u >> 1) ^ -(int32_t)(u & 1);
            return p;
        }
    }
    return NULL; /* longer than the type allows */
}

static inline const uint8_t *ap_long(const uint8_t *p, const uint8_t *end, int64_t *out)
{
    if (p < end && *p < 0x80) { /* one byte: -64 .. 63 */
        *out = (int64_t)(*p >> 1) ^ -(int64_t)(*p & 1);
        return p + 1;
    }
    return ap_varint_slow(p, end, 10, 64, out);
}

static inline const uint8_t *ap_int(const uint8_t *p, const uint8_t *end, int64_t *out)
{
    if (p < end && *p < 0x80) {
        *out = (int64_t)(*p >> 1) ^ -(int64_t)(*p & 1);
        return p + 1;
    }
    return ap_varint_slow(p, end, 5, 32, out);
}

/* A length (bytes, string, map key) that the bytes left hold; *at is where
 * its bytes start, and the result is past them. */
static inline const uint8_t *ap_length(const uint8_t *p, const uint8_t *end, const char **at,
                                       size_t *n)
{
    int64_t l;
    if (!(p = ap_long(p, end, &l)) || l < 0 || (uint64_t)l > (uint64_t)(end - p))
        return NULL;
    *at = (const char *)p;
    *n = (size_t)l;
    return p + l;
}

/* ---- rendering fast paths ---------------------------------------------
 * Byte for byte what jb_put / jb_int / jb_real write, without a libc call
 * for the common cases: a key or symbol of at most 32 bytes is copied as
 * whole 16-byte chunks (the plan's text is padded, the buffer has room);
 * integers are written in place two digits at a time; plain ASCII strings
 * are copied; doubles that %.17g writes in plain notation are converted
 * exactly with 128-bit integers (ap_put_real).
 */

static inline int ap_put_text(jbuf *b, const char *s, uint32_t n)
{
    if (n > AP_TEXT_PAD || *b->len + AP_TEXT_PAD + 1 > *b->cap)
        return jb_put(b, s, n);
    char *o = *b->buf + *b->len;
    memcpy(o, s, 16);
    memcpy(o + 16, s + 16, 16);
    *b->len += n;
    return 0;
}

static inline int ap_put_int(jbuf *b, int64_t v)
{
    if (jb_reserve(b, 21))
        return -1;
    char *o = *b->buf + *b->len;
    o = sluice_put_i64(o, v, 0);
    *b->len = (size_t)(o - *b->buf);
    return 0;
}

/* jb_real's text for d, without snprintf when %.17g would use plain
 * notation (1e-4 <= |d| < 1e17): d is m * 2^e exactly, so its 17
 * significant digits are floor(m * 10^k / 2^-e) for k = 16 - X (X the
 * decimal exponent), rounded to nearest with ties to even, as printf does;
 * m * 10^k < 2^53 * 10^20 < 2^120 fits in 128 bits. Trailing zeros go, and
 * an integer keeps ".0", as in jb_real. */
__extension__ typedef unsigned __int128 ap_u128;

/* m * 2^e * 10^(16 - x): its floor in *fl, and rounded (nearest, ties to
 * even) as the result. */
static uint64_t ap_real_digits(uint64_t m, int e, int x, uint64_t *fl)
{
    static const uint64_t p10[20] = {1,
                                     10,
                                     100,
                                     1000,
                                     10000,
                                     100000,
                                     1000000,
                                     10000000,
                                     100000000,
                                     1000000000,
                                     10000000000,
                                     100000000000,
                                     1000000000000,
                                     10000000000000,
                                     100000000000000,
                                     1000000000000000,
                                     10000000000000000,
                                     100000000000000000,
                                     1000000000000000000,
                                     10000000000000000000u};
    int k = 16 - x; /* 0 .. 21 */
    ap_u128 num = (ap_u128)m * p10[k > 19 ? 19 : k] * p10[k > 19 ? k - 19 : 0];
    if (e >= 0) { /* d >= 2^52, so k <= 2: below 10^19 */
        *fl = (uint64_t)(num << e);
        return *fl;
    }
    ap_u128 f = num >> -e, rem = num - (f << -e), half = (ap_u128)1 << (-e - 1);
    *fl = (uint64_t)f;
    return *fl + (rem > half || (rem == half && (f & 1)));
}

static int ap_put_real(jbuf *b, double d)
{
    static const double p10[] = {1e-4, 1e-3, 1e-2, 1e-1, 1e0,  1e1,  1e2,  1e3,  1e4,  1e5, 1e6,
                                 1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16};
    const uint64_t lo = 10000000000000000ull, hi = 100000000000000000ull; /* 10^16, 10^17 */
    double a = fabs(d);
    if (!(a >= 1e-4 && a < 1e17) || (a < 1e15 && a == (double)(int64_t)a))
        return jb_real(b, d); /* NaN, Inf, 0, exponent notation, jb_real's integers */
    uint64_t bits, q = 0, fl = 0;
    memcpy(&bits, &a, 8);
    uint64_t m = (bits & ((1ull << 52) - 1)) | 1ull << 52; /* normal: a >= 1e-4 */
    int e = (int)(bits >> 52) - 1075, x = 16;
    while (x > -4 && a < p10[x + 4])
        x--;
    for (int tries = 0; tries < 3 && x >= -5 && x <= 16; tries++) { /* the guess may be off */
        q = ap_real_digits(m, e, x, &fl);
        if (fl < lo)
            x--;
        else if (fl >= hi)
            x++;
        else
            break;
    }
    if (fl < lo || fl >= hi)
        return jb_real(b, d); /* not settled: never expected */
    if (q == hi)              /* rounded up to the next power of ten */
        q = lo, x++;
    if (x < -4 || x > 16)
        return jb_real(b, d); /* %.17g writes these with an exponent */
    char dig[17];
    ap_utoa(q, dig + 17);
    size_t nd = 17;
    while (nd > (size_t)(x >= 0 ? x + 1 : 0) && dig[nd - 1] == '0')
        nd--;
    if (jb_reserve(b, 1 + 2 + 4 + 17 + 2))
        return -1;
    char *o = *b->buf + *b->len;
    if (d < 0)
        *o++ = '-';
    if (x >= 0) {
        memcpy(o, dig, (size_t)x + 1);
        o += x + 1;
        *o++ = '.';
        if (nd == (size_t)x + 1)
            *o++ = '0'; /* an integer: "1e16" is 10000000000000000.0 */
        memcpy(o, dig + x + 1, nd - (size_t)x - 1);
        o += nd - (size_t)x - 1;
    } else {
        memcpy(o, "0.000", (size_t)(1 - x));
        o += 1 - x;
        memcpy(o, dig, nd);
        o += nd;
    }
    *b->len = (size_t)(o - *b->buf);
    return 0;
}

/* Does the 8-byte word hold a byte that JSON escapes or that is not ASCII
 * (< 0x20, '"', '\\', >= 0x80)? Exact, whatever the other bytes are. */
static inline int ap_word_special(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t quote = x ^ (ones * '"'), bslash = x ^ (ones * '\\');
    uint64_t below_space = (x - ones * 0x20) & ~x & high; /* the classic has-less-than */
    uint64_t is_quote = (quote - ones) & ~quote & high;   /* and has-zero tests */
    uint64_t is_bslash = (bslash - ones) & ~bslash & high;
    return ((x & high) | below_space | is_quote | is_bslash) != 0;
}

/* A string of plain ASCII (nothing escaped) is copied as it is; anything
 * else goes through jb_string, which escapes and checks UTF-8. */
static inline int ap_put_string(jbuf *b, const char *s, size_t n)
{
    size_t i = 0;
    uint64_t x;
    for (; i + 8 <= n; i += 8)
        if (memcpy(&x, s + i, 8), ap_word_special(x))
            return jb_string(b, s, n);
    if (i < n) {
        x = 0x6161616161616161ull; /* 'a' for the bytes past the end */
        memcpy(&x, s + i, n - i);
        if (ap_word_special(x))
            return jb_string(b, s, n);
    }
    if (jb_reserve(b, n + 2))
        return -1;
    char *o = *b->buf + *b->len;
    *o = '"';
    memcpy(o + 1, s, n);
    o[n + 1] = '"';
    *b->len += n + 2;
    return 0;
}

static const uint8_t *ap_compound(ap_walk *w, const uint8_t *p, const ap_op *o, int depth);

static inline __attribute__((always_inline)) const uint8_t *ap_scalar(ap_walk *w, const uint8_t *p,
                                                                      const ap_op *o)
{
    const uint8_t *end = w->end;
    jbuf *b = w->b;
    int64_t v;
    const char *s;
    size_t n;
    switch (o->kind) {
    case AP_NULL:
        return !b || !jb_put(b, "null", 4) ? p : NULL;
    case AP_BOOLEAN:
        if (p == end || *p > 1)
            return NULL;
        return !b || !(*p ? jb_put(b, "true", 4) : jb_put(b, "false", 5)) ? p + 1 : NULL;
    case AP_INT:
        p = ap_int(p, end, &v);
        return p && (!b || !ap_put_int(b, v)) ? p : NULL;
    case AP_LONG:
        p = ap_long(p, end, &v);
        return p && (!b || !ap_put_int(b, v)) ? p : NULL;
    case AP_FLOAT: {
        if (end - p < 4)
            return NULL;
        if (b) {
            uint32_t u =
                (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            float f;
            memcpy(&f, &u, 4);
            if (ap_put_real(b, f))
                return NULL;
        }
        return p + 4;
    }
    case AP_DOUBLE: {
        if (end - p < 8)
            return NULL;
        if (b) {
            uint64_t u = 0;
            for (int i = 7; i >= 0; i--)
                u = u << 8 | p[i];
            double d;
            memcpy(&d, &u, 8);
            if (ap_put_real(b, d))
                return NULL;
        }
        return p + 8;
    }
    case AP_BYTES:
        p = ap_length(p, end, &s, &n);
        return p && (!b || !jb_base64(b, s, n)) ? p : NULL;
    case AP_STRING:
        p = ap_length(p, end, &s, &n);
        return p && (!b || !ap_put_string(b, s, n)) ? p : NULL;
    case AP_FIXED:
        if ((uint64_t)(end - p) < o->min)
            return NULL;
        return !b || !jb_base64(b, p, (size_t)o->min) ? p + o->min : NULL;
    case AP_ENUM: {
        if (!(p = ap_int(p, end, &v)) || v < 0 || (uint64_t)v >= o->n)
            return NULL;
        const ap_slot *sym = &w->pl->slots[o->first + (uint32_t)v];
        return !b || !ap_put_text(b, w->pl->text + sym->text, sym->tlen) ? p : NULL;
    }
    default:
        return NULL;
    }
}

/* One datum of op at p, rendered when w->b is set; past it, or NULL.
 * Scalars are handled here, inline in the record and item loops; only
 * records, arrays and maps recurse. */
static inline __attribute__((always_inline)) const uint8_t *ap_value(ap_walk *w, const uint8_t *p,
                                                                     const ap_op *o, int depth)
{
    while (o->kind == AP_UNION) { /* a union is its branch (never directly a union) */
        int64_t br;
        if (!(p = ap_long(p, w->end, &br)) || br < 0 || (uint64_t)br >= o->n)
            return NULL;
        o = &w->pl->slots[o->first + (uint32_t)br].o;
    }
    return o->kind >= AP_RECORD ? ap_compound(w, p, o, depth) : ap_scalar(w, p, o);
}

/* An array or map block's count: items each at least `min` bytes, checked
 * against what is left (or against the zero-byte budget). *block_end is
 * where the block must end when it gave its byte size, else NULL. */
static const uint8_t *ap_block_count(ap_walk *w, const uint8_t *p, uint64_t min, int64_t *count,
                                     const uint8_t **block_end)
{
    int64_t c, size;
    *block_end = NULL;
    if (!(p = ap_long(p, w->end, &c)))
        return NULL;
    if (c < 0) {
        if (c == INT64_MIN || !(p = ap_long(p, w->end, &size)) || size < 0 ||
            (uint64_t)size > (uint64_t)(w->end - p))
            return NULL;
        c = -c;
        *block_end = p + size;
    }
    if (min ? (uint64_t)c > (uint64_t)(w->end - p) / min : (uint64_t)c > w->empty)
        return NULL;
    if (!min)
        w->empty -= (uint32_t)c;
    *count = c;
    return p;
}

static const uint8_t *ap_items(ap_walk *w, const uint8_t *p, const ap_op *o, int depth)
{
    const ap_op *item = &w->pl->ops[o->first];
    int is_map = o->kind == AP_MAP, any = 0;
    uint64_t min = is_map ? ap_add_min(1, item->min) : item->min;
    if (w->b && jb_put(w->b, is_map ? "{" : "[", 1))
        return NULL;
    for (;;) {
        int64_t count;
        const uint8_t *block_end;
        if (!(p = ap_block_count(w, p, min, &count, &block_end)))
            return NULL;
        if (count == 0)
            break;
        for (int64_t i = 0; i < count; i++, any = 1) {
            const char *key;
            size_t klen;
            if (w->b && any && jb_put(w->b, ",", 1))
                return NULL;
            if (is_map && !(p = ap_length(p, w->end, &key, &klen)))
                return NULL;
            if (is_map && w->b) {
                const char *nul = memchr(key, 0, klen); /* avro-c keys are C strings */
                if (jb_string(w->b, key, nul ? (size_t)(nul - key) : klen) || jb_put(w->b, ":", 1))
                    return NULL;
            }
            if (!(p = ap_value(w, p, item, depth)))
                return NULL;
        }
        if (block_end && p != block_end)
            return NULL; /* the block's byte size does not match its items */
    }
    return !w->b || !jb_put(w->b, is_map ? "}" : "]", 1) ? p : NULL;
}

static const uint8_t *ap_record(ap_walk *w, const uint8_t *p, const ap_op *o, int depth)
{
    const ap_slot *f = &w->pl->slots[o->first];
    jbuf *b = w->b;
    if (b && jb_put(b, "{", 1))
        return NULL;
    for (uint32_t i = 0; i < o->n; i++) {
        if (b && ap_put_text(b, w->pl->text + f[i].text, f[i].tlen))
            return NULL;
        if (!(p = ap_value(w, p, &f[i].o, depth)))
            return NULL;
    }
    return !b || !jb_put(b, "}", 1) ? p : NULL;
}

/* Records, arrays and maps, nesting at most AP_MAX_DEPTH deep. */
static const uint8_t *ap_compound(ap_walk *w, const uint8_t *p, const ap_op *o, int depth)
{
    if (depth >= AP_MAX_DEPTH)
        return NULL;
    return o->kind == AP_RECORD ? ap_record(w, p, o, depth + 1) : ap_items(w, p, o, depth + 1);
}

int64_t sluice_avro_plan_check(const sluice_avro_plan *plan, const void *data, size_t len)
{
    static const uint8_t none[1];
    const uint8_t *p = data ? data : none, *q;
    if (!plan || (!data && len))
        return -1;
    ap_walk w = {plan, p + len, NULL, AP_MAX_EMPTY};
    return (q = ap_value(&w, p, &plan->ops[0], 0)) ? (int64_t)(q - p) : -1;
}

int sluice_avro_json_append(const sluice_avro_plan *plan, const void *data, size_t len, char **buf,
                            size_t *blen, size_t *cap)
{
    static const uint8_t none[1];
    const uint8_t *p = data ? data : none;
    jbuf b = {buf, blen, cap};
    size_t start = *blen;
    if (!plan || (!data && len))
        return jb_end(&b, start, -1);
    ap_walk w = {plan, p + len, &b, AP_MAX_EMPTY};
    return jb_end(&b, start, ap_value(&w, p, &plan->ops[0], 0) ? 0 : -1);
}

/* ======================================================================== */
/* Avro binary written from a value                                          */
/* ======================================================================== */

/* Avro binary encoding (the specification's "Binary Encoding"), appended
 * to the caller's growing buffer (the avro converter's, after its 5-byte
 * header): ints and
 * longs as zigzag varints, float and double as little-endian IEEE 754,
 * boolean as one byte, string and bytes as a long length then the bytes,
 * fixed as its bytes, enum as its index, a union as the branch index then
 * the branch, a record as its fields in order, an array or map as one block
 * (count, items; map keys as strings) then a 0 count (none when empty).
 * The same bytes avro_value_write writes, without its writer indirection
 * for every primitive: this runs for every field of every record. */
typedef struct enc {
    jbuf b;  /* the growing buffer the JSON writer uses too */
    int oom; /* it could not grow */
} enc;

static inline int enc_room(enc *e, size_t n)
{
    if (jb_reserve(&e->b, n) == 0)
        return 0;
    e->oom = 1;
    return ENOMEM;
}

static inline int enc_long(enc *e, int64_t v)
{
    if (enc_room(e, 10) != 0)
        return ENOMEM;
    uint64_t z = ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
    unsigned char *p = (unsigned char *)*e->b.buf + *e->b.len, *p0 = p;
    while (z > 0x7f) {
        *p++ = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    *p++ = (unsigned char)z;
    *e->b.len += (size_t)(p - p0);
    return 0;
}

static int enc_raw(enc *e, const void *data, size_t n)
{
    if (enc_room(e, n) != 0)
        return ENOMEM;
    if (n)
        memcpy(*e->b.buf + *e->b.len, data, n);
    *e->b.len += n;
    return 0;
}

static int enc_bytes(enc *e, const void *data, size_t n)
{
    int rc = enc_long(e, (int64_t)n);
    return rc ? rc : enc_raw(e, data, n);
}

static int enc_le(enc *e, uint64_t bits, size_t n)
{
    unsigned char b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(bits >> (8 * i));
    return enc_raw(e, b, n);
}

static int enc_value(enc *e, const avro_value_t *v);

/* An array's or a map's one block; map keys come from get_by_index. */
static int enc_block(enc *e, const avro_value_t *v, int is_map)
{
    size_t n;
    int rc = avro_value_get_size(v, &n);
    if (rc == 0 && n > 0)
        rc = enc_long(e, (int64_t)n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        avro_value_t item;
        const char *key = NULL;
        rc = avro_value_get_by_index(v, i, &item, is_map ? &key : NULL);
        if (rc == 0 && is_map)
            rc = enc_bytes(e, key, strlen(key));
        rc = rc ? rc : enc_value(e, &item);
    }
    return rc ? rc : enc_long(e, 0);
}

/* A value of type `type` (told by a plan, or asked of the value). */
static int enc_typed(enc *e, avro_type_t type, const avro_value_t *v)
{
    int rc;
    switch (type) {
    case AVRO_NULL: /* nothing to write */
        return 0;
    case AVRO_BOOLEAN: {
        int b;
        rc = avro_value_get_boolean(v, &b);
        return rc ? rc : enc_raw(e, b ? "\1" : "\0", 1);
    }
    case AVRO_INT32: {
        int32_t i;
        rc = avro_value_get_int(v, &i);
        return rc ? rc : enc_long(e, i);
    }
    case AVRO_INT64: {
        int64_t l;
        rc = avro_value_get_long(v, &l);
        return rc ? rc : enc_long(e, l);
    }
    case AVRO_FLOAT: {
        float f;
        uint32_t bits;
        rc = avro_value_get_float(v, &f);
        memcpy(&bits, &f, 4);
        return rc ? rc : enc_le(e, bits, 4);
    }
    case AVRO_DOUBLE: {
        double d;
        uint64_t bits;
        rc = avro_value_get_double(v, &d);
        memcpy(&bits, &d, 8);
        return rc ? rc : enc_le(e, bits, 8);
    }
    case AVRO_STRING: { /* size counts the terminating NUL */
        const char *s;
        size_t size;
        rc = avro_value_get_string(v, &s, &size);
        return rc ? rc : enc_bytes(e, s, size ? size - 1 : 0);
    }
    case AVRO_BYTES: {
        const void *b;
        size_t size;
        rc = avro_value_get_bytes(v, &b, &size);
        return rc ? rc : enc_bytes(e, b, size);
    }
    case AVRO_FIXED: {
        const void *b;
        size_t size;
        rc = avro_value_get_fixed(v, &b, &size);
        return rc ? rc : enc_raw(e, b, size);
    }
    case AVRO_ENUM: {
        int sym;
        rc = avro_value_get_enum(v, &sym);
        return rc ? rc : enc_long(e, sym);
    }
    case AVRO_RECORD: {
        size_t n;
        rc = avro_value_get_size(v, &n);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            avro_value_t f;
            rc = avro_value_get_by_index(v, i, &f, NULL);
            rc = rc ? rc : enc_value(e, &f);
        }
        return rc;
    }
    case AVRO_UNION: {
        int branch;
        avro_value_t b;
        rc = avro_value_get_discriminant(v, &branch);
        rc = rc ? rc : avro_value_get_current_branch(v, &b);
        rc = rc ? rc : enc_long(e, branch);
        return rc ? rc : enc_value(e, &b);
    }
    case AVRO_ARRAY:
        return enc_block(e, v, 0);
    case AVRO_MAP:
        return enc_block(e, v, 1);
    default:
        avro_set_error("Unknown schema type");
        return EINVAL;
    }
}

static int enc_value(enc *e, const avro_value_t *v)
{
    return enc_typed(e, avro_value_get_type(v), v);
}

/* ap_kind -> the avro-c type enc_typed writes, for the scalar kinds. */
static const avro_type_t ap_avro_type[] = {
    [AP_NULL] = AVRO_NULL,   [AP_BOOLEAN] = AVRO_BOOLEAN, [AP_INT] = AVRO_INT32,
    [AP_LONG] = AVRO_INT64,  [AP_FLOAT] = AVRO_FLOAT,     [AP_DOUBLE] = AVRO_DOUBLE,
    [AP_BYTES] = AVRO_BYTES, [AP_STRING] = AVRO_STRING,   [AP_FIXED] = AVRO_FIXED,
    [AP_ENUM] = AVRO_ENUM,
};

/* With a plan, encoding walks its ops beside the value and never asks the
 * value for its type or a record for its size (two indirect calls per node
 * that were a quarter of the encoding): the plan that checks and renders
 * bytes for sinks also writes them for sources. */
static int enc_planned(enc *e, const sluice_avro_plan *pl, const ap_op *o, const avro_value_t *v)
{
    int rc;
    switch (o->kind) {
    case AP_RECORD:
        for (uint32_t i = 0; i < o->n; i++) {
            avro_value_t f;
            rc = avro_value_get_by_index(v, i, &f, NULL);
            rc = rc ? rc : enc_planned(e, pl, &pl->slots[o->first + i].o, &f);
            if (rc != 0)
                return rc;
        }
        return 0;
    case AP_UNION: {
        int branch;
        avro_value_t b;
        rc = avro_value_get_discriminant(v, &branch);
        rc = rc ? rc : avro_value_get_current_branch(v, &b);
        if (rc == 0 && (branch < 0 || (uint32_t)branch >= o->n)) {
            avro_set_error("Union branch %d out of range", branch);
            rc = EINVAL;
        }
        rc = rc ? rc : enc_long(e, branch);
        return rc ? rc : enc_planned(e, pl, &pl->slots[o->first + (uint32_t)branch].o, &b);
    }
    case AP_ARRAY:
    case AP_MAP: {
        size_t n;
        rc = avro_value_get_size(v, &n);
        if (rc == 0 && n > 0)
            rc = enc_long(e, (int64_t)n);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            avro_value_t item;
            const char *key = NULL;
            rc = avro_value_get_by_index(v, i, &item, o->kind == AP_MAP ? &key : NULL);
            if (rc == 0 && o->kind == AP_MAP)
                rc = enc_bytes(e, key, strlen(key));
            rc = rc ? rc : enc_planned(e, pl, &pl->ops[o->first], &item);
        }
        return rc ? rc : enc_long(e, 0);
    }
    default: /* a primitive, enum or fixed */
        return enc_typed(e, ap_avro_type[o->kind], v);
    }
}

int sluice_avro_encode(const sluice_avro_plan *plan, const avro_value_t *value, char **buf,
                       size_t *len, size_t *cap)
{
    size_t n = *len; /* *len moves only on success */
    enc e = {{buf, &n, cap}, 0};
    int rc = enc_room(&e, 0);
    if (rc == 0)
        rc = plan ? enc_planned(&e, plan, &plan->ops[0], value) : enc_value(&e, value);
    if (rc != 0)
        return e.oom ? ENOMEM : rc;
    *len = n;
    return 0;
}
