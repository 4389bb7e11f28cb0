/*
 * pg_rel.c - the relation cache: for each captured table, its columns with
 * resolved types and the Avro key and value schemas of its topic, built
 * once and reused for every row (ARCHITECTURE.md 4).
 *
 * Schemas (namespace = the topic, characters Avro forbids replaced by '_'):
 *
 *   key   = record <ns>.Key { primary-key columns, not nullable }
 *           (no key schema when the table has no primary key)
 *   value = record <ns>.Envelope {
 *             before, after: null | <ns>.Value { every column not excluded,
 *                            each ["null", T] default null }
 *             source: io.sluice.connector.Source (the same record as
 *                     core/envelope.c, so sluice_envelope_set_source fills it)
 *             op: string, ts_ms: null | long }
 *
 * The JSON text is written with jansson, parsed by avro-c, and handed to the
 * host with sluice_schema_json (avro-c drops connect.name, logicalType...,
 * which the avro converter must register).
 *
 * Key columns come from the table's primary key in the catalog: under
 * REPLICA IDENTITY FULL a Relation message flags every column, which is no
 * key. Without a catalog answer the Relation flags are used.
 *
 * A Relation message whose columns differ from the cached ones (a column
 * added, dropped, retyped) replaces the entry with new schemas; the old
 * entry is retired, not freed, because queued records still point at its
 * topic and schemas; retired entries are freed with the cache.
 *
 * Runs on: the task's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

pg_rel *pg_rel_find(pg_relcache *rc, uint32_t relid)
{
    for (pg_rel *r = rc->head; r; r = r->next)
        if (r->relid == relid && !r->retired)
            return r;
    return NULL;
}

static void rel_free(pg_rel *r)
{
    for (int i = 0; i < r->ncols; i++) {
        free(r->cols[i].name);
        free(r->cols[i].avro_name);
        pg_type_free(r->cols[i].type);
    }
    free(r->cols);
    if (r->key_iface)
        avro_value_iface_decref(r->key_iface);
    if (r->value_iface)
        avro_value_iface_decref(r->value_iface);
    if (r->key_schema)
        avro_schema_decref(r->key_schema);
    if (r->value_schema)
        avro_schema_decref(r->value_schema);
    free(r->nspname);
    free(r->relname);
    free(r->topic);
    free(r);
}

void pg_relcache_clear(pg_relcache *rc)
{
    while (rc->head) {
        pg_rel *r = rc->head;
        rc->head = r->next;
        rel_free(r);
    }
    free(rc->scratch);
    rc->scratch = NULL;
    rc->scratch_cap = 0;
}

/* ---- schema JSON ---------------------------------------------------------- */

static char *avro_name(const char *s, int dots_ok)
{
    char *n = strdup(s);
    for (char *p = n; p && *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                 (dots_ok && *p == '.' && p != n) ||
                 (*p >= '0' && *p <= '9' && p != n && p[-1] != '.');
        if (!ok)
            *p = '_';
    }
    return n;
}

static json_t *opt_field(const char *name, const char *type)
{
    return json_pack("{s:s, s:[s,s], s:n}", "name", name, "type", "null", type, "default");
}


static json_t *row_json(const pg_relcache *rc, const pg_rel *rel, const char *ns, int key)
{
    json_t *fields = json_array();
    int vsd = 0;
    for (int i = 0; i < rel->ncols; i++) {
        const pg_col *c = &rel->cols[i];
        if (c->field < 0 || (key && !c->key))
            continue;
        json_t *t = pg_type_schema(c->type, rc->conf, &vsd);
        json_t *f = key ? json_pack("{s:s, s:o}", "name", c->avro_name, "type", t)
                        : json_pack("{s:s, s:[s,o], s:n}", "name", c->avro_name, "type", "null", t,
                                    "default");
        json_array_append_new(fields, f);
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "type", "record", "name", key ? "Key" : "Value",
                     "namespace", ns, "fields", fields);
}

static json_t *envelope_json(const pg_relcache *rc, const pg_rel *rel, const char *ns)
{
    json_t *fields = json_pack(
        "[{s:s, s:[s,o], s:n}, {s:s, s:[s,s], s:n}, {s:s, s:o}, {s:s, s:s}]", "name", "before",
        "type", "null", row_json(rc, rel, ns, 0), "default", "name", "after", "type", "null",
        "Value", "default", "name", "source", "type", sluice_envelope_source_schema(), "name", "op", "type",
        "string");
    json_array_append_new(fields, opt_field("ts_ms", "long"));
    return json_pack("{s:s, s:s, s:s, s:o, s:s}", "type", "record", "name", "Envelope",
                     "namespace", ns, "fields", fields, "connect.name", "Envelope");
}

static int schema_parse(pg_relcache *rc, json_t *j, avro_schema_t *out, avro_value_iface_t **iface,
                        char *err, size_t errlen)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text || avro_schema_from_json_length(text, strlen(text), out) != 0) {
        snprintf(err, errlen, "Avro schema: %s", text ? avro_strerror() : "out of memory");
        free(text);
        return -1;
    }
    sluice_schema_json(rc->ctx, *out, text);
    free(text);
    if (!(*iface = avro_generic_class_from_schema(*out))) {
        snprintf(err, errlen, "Avro value class: %s", avro_strerror());
        return -1;
    }
    return 0;
}

/* Where each envelope and source field sits in rel's value schema. */
static int field_positions(pg_rel *rel, char *err, size_t errlen)
{
    static const char *env[PG_ENV_NFIELDS] = {"before", "after", "source", "op", "ts_ms"};
    static const char *src[PG_SRC_NFIELDS] = {"version", "connector", "name",  "ts_ms", "snapshot",
                                              "db",      "schema",    "table", "txId",  "lsn",
                                              "file",    "pos",       "gtid",  "seq"};
    avro_schema_t source = avro_schema_record_field_get(rel->value_schema, "source");
    for (int i = 0; i < PG_ENV_NFIELDS; i++)
        if ((rel->env_idx[i] = avro_schema_record_field_get_index(rel->value_schema, env[i])) < 0)
            return snprintf(err, errlen, "envelope schema: no field %s", env[i]), -1;
    for (int i = 0; i < PG_SRC_NFIELDS; i++)
        if (!source || (rel->src_idx[i] = avro_schema_record_field_get_index(source, src[i])) < 0)
            return snprintf(err, errlen, "source schema: no field %s", src[i]), -1;
    return 0;
}

static int rel_schemas(pg_relcache *rc, pg_rel *rel, char *err, size_t errlen)
{
    char *ns = avro_name(rel->topic, 1);
    int rcode = -1;
    if (!ns)
        goto out;
    /* fix the envelope's connect.name to Debezium's <topic>.Envelope */
    json_t *env = envelope_json(rc, rel, ns);
    char cname[600];
    snprintf(cname, sizeof(cname), "%s.Envelope", ns);
    json_object_set_new(env, "connect.name", json_string(cname));
    if (schema_parse(rc, env, &rel->value_schema, &rel->value_iface, err, errlen) != 0 ||
        field_positions(rel, err, errlen) != 0)
        goto out;
    if (rel->nkeys &&
        schema_parse(rc, row_json(rc, rel, ns, 1), &rel->key_schema, &rel->key_iface, err,
                     errlen) != 0)
        goto out;
    rcode = 0;
out:
    free(ns);
    return rcode;
}

/* ---- definition ------------------------------------------------------------ */

/* The primary-key column names of relid, or -1 when the catalog is out of
 * reach. *res holds them (PQclear it). */
static int primary_key(pg_relcache *rc, uint32_t relid, PGresult **res)
{
    char oid[16];
    const char *params[1] = {oid};
    snprintf(oid, sizeof(oid), "%u", relid);
    if (!rc->catalog)
        return -1;
    *res = PQexecParams(rc->catalog,
                        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                        "WHERE i.indrelid = $1::oid AND i.indisprimary",
                        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(*res) != PGRES_TUPLES_OK) {
        PQclear(*res);
        *res = NULL;
        return -1;
    }
    return 0;
}

static int in_result(PGresult *res, const char *name)
{
    for (int i = 0; res && i < PQntuples(res); i++)
        if (strcmp(PQgetvalue(res, i, 0), name) == 0)
            return 1;
    return 0;
}

static int same_columns(const pg_rel *r, const char *nsp, const char *name, char replident,
                        const pg_coldesc *cols, int ncols)
{
    if (r->ncols != ncols || r->replident != replident || strcmp(r->nspname, nsp) ||
        strcmp(r->relname, name))
        return 0;
    for (int i = 0; i < ncols; i++)
        if (strcmp(r->cols[i].name, cols[i].name) || r->cols[i].type->oid != cols[i].oid ||
            r->cols[i].type->typmod != cols[i].typmod)
            return 0;
    return 1;
}

static int rel_columns(pg_relcache *rc, pg_rel *rel, const pg_coldesc *cols, int ncols)
{
    PGresult *pk = NULL;
    int have_pk = primary_key(rc, rel->relid, &pk) == 0;
    int field = 0;
    rel->cols = calloc((size_t)(ncols ? ncols : 1), sizeof(pg_col));
    if (!rel->cols)
        goto fail;
    rel->ncols = ncols;
    for (int i = 0; i < ncols; i++) {
        pg_col *c = &rel->cols[i];
        c->name = strdup(cols[i].name);
        c->avro_name = avro_name(cols[i].name, 0);
        c->type = pg_type_resolve(rc->catalog, cols[i].oid, cols[i].typmod);
        if (!c->name || !c->avro_name || !c->type)
            goto fail;
        c->key = have_pk ? in_result(pk, c->name) : cols[i].key && rel->replident != 'f';
        c->field = pg_conf_column_excluded(rc->conf, rel->nspname, rel->relname, c->name) && !c->key
                       ? -1
                       : field++;
        rel->nkeys += c->key;
    }
    PQclear(pk);
    return 0;
fail:
    PQclear(pk);
    return -1;
}

pg_rel *pg_rel_define(pg_relcache *rc, uint32_t relid, const char *nsp, const char *name,
                      char replident, const pg_coldesc *cols, int ncols, char *err, size_t errlen)
{
    pg_rel *old = pg_rel_find(rc, relid);
    if (old && same_columns(old, nsp, name, replident, cols, ncols))
        return old;
    pg_rel *rel = calloc(1, sizeof(*rel));
    char topic[1024];
    snprintf(topic, sizeof(topic), "%s.%s.%s", rc->conf->topic_prefix, nsp, name);
    if (!rel || !(rel->nspname = strdup(nsp)) || !(rel->relname = strdup(name)) ||
        !(rel->topic = strdup(topic))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    rel->relid = relid;
    rel->replident = replident;
    rel->included = pg_conf_table_included(rc->conf, nsp, name);
    rel->version = old ? old->version + 1 : 1;
    if (rel_columns(rc, rel, cols, ncols) != 0) {
        snprintf(err, errlen, "table %s.%s: out of memory", nsp, name);
        goto fail;
    }
    if (rel->included && rel_schemas(rc, rel, err + strlen(err), errlen - strlen(err)) != 0)
        goto fail;
    if (old)
        old->retired = 1;
    rel->next = rc->head;
    rc->head = rel;
    return rel;
fail:
    if (rel)
        rel_free(rel);
    return NULL;
}

pg_rel *pg_rel_load(pg_relcache *rc, uint32_t relid, char *err, size_t errlen)
{
    char oid[16];
    const char *params[1] = {oid};
    snprintf(oid, sizeof(oid), "%u", relid);
    PGresult *res = PQexecParams(
        rc->catalog,
        "SELECT n.nspname, c.relname, c.relreplident, a.attname, a.atttypid, a.atttypmod "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE c.oid = $1::oid ORDER BY a.attnum",
        1, NULL, params, NULL, NULL, 0);
    pg_rel *rel = NULL;
    int n = PQntuples(res);
    pg_coldesc *cols = calloc((size_t)(n ? n : 1), sizeof(*cols));
    if (PQresultStatus(res) != PGRES_TUPLES_OK || n == 0 || !cols) {
        snprintf(err, errlen, "table with oid %u: %s", relid,
                 n == 0 ? "not found" : PQresultErrorMessage(res));
        goto out;
    }
    for (int i = 0; i < n; i++)
        cols[i] = (pg_coldesc){PQgetvalue(res, i, 3),
                               (uint32_t)strtoul(PQgetvalue(res, i, 4), NULL, 10),
                               (int32_t)strtol(PQgetvalue(res, i, 5), NULL, 10), 0};
    rel = pg_rel_define(rc, relid, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                        PQgetvalue(res, 0, 2)[0], cols, n, err, errlen);
out:
    free(cols);
    PQclear(res);
    return rel;
}

/* ---- values ------------------------------------------------------------------ */

static int set_null(avro_value_t *field)
{
    avro_value_t b;
    int rc = avro_value_set_branch(field, 0, &b);
    return rc ? rc : avro_value_set_null(&b);
}

/* A NUL-terminated copy of d's text in the cache's scratch buffer. */
static const char *datum_text(pg_relcache *rc, const pg_datum *d)
{
    if (d->len + 1 > rc->scratch_cap) {
        size_t cap = rc->scratch_cap ? rc->scratch_cap : 256;
        while (cap < (size_t)d->len + 1)
            cap *= 2;
        char *p = realloc(rc->scratch, cap);
        if (!p)
            return NULL;
        rc->scratch = p;
        rc->scratch_cap = cap;
    }
    memcpy(rc->scratch, d->data, d->len);
    rc->scratch[d->len] = '\0';
    return rc->scratch;
}

/* Sets one column. slot: the field (a ["null", T] union when nullable). */
static int set_column(pg_relcache *rc, const pg_rel *rel, const pg_col *c, avro_value_t *field,
                      int nullable, const pg_datum *d, char *err, size_t errlen)
{
    avro_value_t slot = *field;
    int rc_ = 0;
    if (d->kind == 'n' || (d->kind == 'u' && !pg_type_placeholder_ok(c->type)))
        return nullable ? set_null(field) : 0;
    if (nullable && (rc_ = avro_value_set_branch(field, 1, &slot)) != 0)
        return rc_;
    if (d->kind == 'u') {
        const char *ph = rc->conf->placeholder;
        return c->type->kind == PG_K_BYTEA ? avro_value_set_bytes(&slot, (void *)ph, strlen(ph))
                                           : avro_value_set_string(&slot, ph);
    }
    const char *text = d->kind == 't' ? datum_text(rc, d) : NULL;
    if (!text)
        return snprintf(err, errlen, "column %s: %s", c->name,
                        d->kind == 't' ? "out of memory" : "binary value"),
               -1;
    err[0] = '\0';
    rc_ = pg_type_set(&slot, c->type, rc->conf, text, d->len, err, errlen);
    if (rc_ == 1)
        return nullable ? set_null(field) : 0;
    if (rc_ != 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", err[0] ? err : avro_strerror());
        snprintf(err, errlen, "table %s.%s column %s: %s", rel->nspname, rel->relname, c->name,
                 why);
        return -1;
    }
    return 0;
}

int pg_rel_fill_row(pg_relcache *rc, const pg_rel *rel, avro_value_t *row, const pg_datum *d,
                    int nd, char *err, size_t errlen)
{
    static const pg_datum null_datum = {'n', NULL, 0};
    for (int i = 0; i < rel->ncols; i++) {
        const pg_col *c = &rel->cols[i];
        avro_value_t f;
        if (c->field < 0)
            continue;
        if (avro_value_get_by_index(row, (size_t)c->field, &f, NULL) != 0 ||
            set_column(rc, rel, c, &f, 1, i < nd ? &d[i] : &null_datum, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int pg_rel_fill_key(pg_relcache *rc, const pg_rel *rel, avro_value_t *key, const pg_datum *d,
                    int nd, char *err, size_t errlen)
{
    size_t k = 0;
    for (int i = 0; i < rel->ncols; i++) {
        const pg_col *c = &rel->cols[i];
        avro_value_t f;
        if (!c->key)
            continue;
        if (i >= nd || d[i].kind != 't') {
            snprintf(err, errlen, "table %s.%s: key column %s has no value", rel->nspname,
                     rel->relname, c->name);
            return -1;
        }
        if (avro_value_get_by_index(key, k++, &f, NULL) != 0 ||
            set_column(rc, rel, c, &f, 0, &d[i], err, errlen) != 0)
            return -1;
    }
    return 0;
}
