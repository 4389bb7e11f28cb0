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
 *             before, after: null | <ns>.Value { every column not excluded
 *                            (column.exclude.list, or of an unknown type
 *                            without include.unknown.datatypes; keys stay):
 *                            T for a key or NOT NULL column (required;
 *                            "default": its constant SQL DEFAULT when it
 *                            has one of a primitive type), ["null", T]
 *                            default null for the others }
 *             source: io.sluice.connector.Source (the same record as
 *                     core/envelope.c: its layout, sluice_envelope_layout,
 *                     is resolved once per schema and fills every record)
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
 * added, dropped, retyped, SET / DROP NOT NULL, another primary key)
 * replaces the entry with new schemas; the old
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
        free(r->cols[i].def);
        json_decref(r->cols[i].def_json);
        if (r->cols[i].def_iface) {
            avro_value_decref(&r->cols[i].def_value);
            avro_value_iface_decref(r->cols[i].def_iface);
        }
        pg_type_free(r->cols[i].type);
    }
    free(r->cols);
    free(r->key_order);
    sluice_pool_done(&r->key_pool);
    sluice_pool_done(&r->value_pool);
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
    int named = 0;
    for (int i = 0; i < (key ? rel->nkeys : rel->ncols); i++) {
        const pg_col *c = &rel->cols[key ? rel->key_order[i] : i];
        if (c->field < 0)
            continue;
        json_t *t = pg_type_schema(c->type, rc->conf, &named);
        /* a NOT NULL column (a primary key's are) is required (plain T), any
         * other optional (["null", T], default null), as Debezium's
         * optional() schemas: in the key too, for a nullable column that
         * message.key.columns makes a key column */
        json_t *f = c->notnull ? json_pack("{s:s, s:o}", "name", c->avro_name, "type", t)
                               : json_pack("{s:s, s:[s,o], s:n}", "name", c->avro_name, "type",
                                           "null", t, "default");
        if (!key && c->def_json) /* a NOT NULL column's constant SQL DEFAULT */
            json_object_set(f, "default", c->def_json);
        json_array_append_new(fields, f);
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "type", "record", "name", key ? "Key" : "Value",
                     "namespace", ns, "fields", fields);
}

/* Debezium's transaction block (Kafka Connect's "event.block", as the
 * AvroConverter names it), null unless provide.transaction.metadata. */
static json_t *transaction_json(void)
{
    return json_pack("{s:s, s:[s, {s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}], s:i, "
                     "s:s}], s:n}",
                     "name", "transaction", "type", "null", "type", "record", "name", "block",
                     "namespace", "event", "fields", "name", "id", "type", "string", "name",
                     "total_order", "type", "long", "name", "data_collection_order", "type", "long",
                     "connect.version", 1, "connect.name", "event.block", "default");
}

static json_t *envelope_json(const pg_relcache *rc, const pg_rel *rel, const char *ns)
{
    json_t *fields = json_pack(
        "[{s:s, s:[s,o], s:n}, {s:s, s:[s,s], s:n}, {s:s, s:o}, o, {s:s, s:s}]", "name", "before",
        "type", "null", row_json(rc, rel, ns, 0), "default", "name", "after", "type", "null",
        "Value", "default", "name", "source", "type", sluice_envelope_source_schema(),
        transaction_json(), "name", "op", "type", "string");
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

/* Parses each NOT NULL column's DEFAULT into a value of its row field, once
 * per schema: set_missing copies it into every record that lacks the column.
 * A default that does not parse gets no value (the type's fallback, as
 * before). Returns 0, or -1 (out of memory) with err filled. */
static int parse_defaults(pg_relcache *rc, pg_rel *rel, char *err, size_t errlen)
{
    char why[128];
    for (int i = 0; i < rel->ncols; i++) {
        pg_col *c = &rel->cols[i];
        if (!c->def || c->field < 0)
            continue;
        avro_schema_t f = avro_schema_record_field_get_by_index(rel->lay.row, c->field);
        if (!(c->def_iface = avro_generic_class_from_schema(f)) ||
            avro_generic_value_new(c->def_iface, &c->def_value) != 0) {
            if (c->def_iface)
                avro_value_iface_decref(c->def_iface);
            c->def_iface = NULL;
            snprintf(err, errlen, "table %s.%s column %s: default value: %s", rel->nspname,
                     rel->relname, c->name, avro_strerror());
            return -1;
        }
        if (pg_type_set(&c->def_value, c->type, rc->conf, c->def, strlen(c->def), why,
                        sizeof(why)) != 0) {
            avro_value_decref(&c->def_value);
            avro_value_iface_decref(c->def_iface);
            c->def_iface = NULL;
        }
    }
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
    if (schema_parse(rc, env, &rel->value_schema, &rel->value_iface, err, errlen) != 0)
        goto out;
    /* where the envelope's and the source's fields sit: once per schema */
    if (sluice_envelope_layout_resolve(rel->value_schema, &rel->lay, err, errlen) != 0 ||
        sluice_field_resolve(rel->value_schema, "transaction", &rel->tx_pos, err, errlen) != 0 ||
        parse_defaults(rc, rel, err, errlen) != 0)
        goto out;
    if (rel->nkeys &&
        schema_parse(rc, row_json(rc, rel, ns, 1), &rel->key_schema, &rel->key_iface, err,
                     errlen) != 0)
        goto out;
    sluice_pool_init(&rel->value_pool, rel->value_iface);
    if (rel->key_iface)
        sluice_pool_init(&rel->key_pool, rel->key_iface);
    rcode = 0;
out:
    free(ns);
    return rcode;
}

/* ---- definition ------------------------------------------------------------ */

/* What the catalog says of one column. */
typedef struct col_cat {
    int key, pk, notnull;
    int place; /* pg_conf_key_column's answer (custom_key) */
    char *def; /* the value of a constant DEFAULT of a NOT NULL non-key column, or NULL */
} col_cat;

/* A constant DEFAULT: a Const node, or what PostgreSQL prints for a
 * literal cast to the column's type ('pc'::bpchar for char(3), which is a
 * length coercion, not a Const), a number or a boolean. Not now(),
 * nextval(...) or any other call. */
#define CONSTANT_DEFAULT                                                                           \
    "^'([^']|'')*'(::[[:alnum:]_ .\"]+(\\([0-9, ]+\\))?(\\[\\])?)*$"                               \
    "|^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?(::[[:alnum:]_ .\"]+)?$|^(true|false)$"

/* The values of the constant DEFAULTs of the columns that have one, cast
 * to the column's type (format_type: char(3) pads), in its text form (as
 * pgoutput sends values), into cc[].def. Evaluating a literal runs no
 * function of the user's. A failed evaluation leaves them NULL. */
static void constant_defaults(pg_relcache *rc, PGresult *res, const int *row, col_cat *cc, int n)
{
    char *sql = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&sql, &len);
    int k = 0;
    for (int i = 0; f && i < n; i++)
        if (row[i] >= 0 && cc[i].notnull && !cc[i].key && !PQgetisnull(res, row[i], 3))
            fprintf(f, "%s((%s)::%s)", k++ ? ", " : "SELECT ", PQgetvalue(res, row[i], 3),
                    PQgetvalue(res, row[i], 4));
    if (!f || fclose(f) != 0 || k == 0) {
        free(sql);
        return;
    }
    PGresult *vals = PQexec(rc->catalog, sql);
    k = 0;
    for (int i = 0; PQresultStatus(vals) == PGRES_TUPLES_OK && PQntuples(vals) == 1 && i < n; i++)
        if (row[i] >= 0 && cc[i].notnull && !cc[i].key && !PQgetisnull(res, row[i], 3)) {
            if (!PQgetisnull(vals, 0, k))
                cc[i].def = strdup(PQgetvalue(vals, 0, k));
            k++;
        }
    PQclear(vals);
    free(sql);
}

/* Per column of cols: in the primary key, NOT NULL (keys are), and the
 * value of its constant DEFAULT (NOT NULL non-key columns: Debezium puts
 * it in the field's schema, so adding a NOT NULL DEFAULT column is a
 * compatible evolution, and uses it for a value not sent). From the
 * catalog (pg_attribute, the primary index, pg_attrdef), read when the
 * Relation message arrives: pgoutput does not carry nullability or
 * defaults, and SET / DROP NOT NULL or SET DEFAULT sends a new Relation
 * message (the relation's cache entry is invalidated) with the same
 * columns, whose catalog facts then differ. Without a catalog answer: the
 * facts of the cached definition (old, may be NULL) for the columns it
 * has, so a failed query does not make a new schema; else the Relation's
 * key flags (not under REPLICA IDENTITY FULL, which flags every column),
 * nothing NOT NULL. cc[].def: the caller frees. Returns 0, -1 (OOM). */
static int column_catalog(pg_relcache *rc, const pg_rel *old, uint32_t relid, char replident,
                          const pg_coldesc *cols, int ncols, col_cat *cc)
{
    char oid[16];
    const char *params[2] = {oid, CONSTANT_DEFAULT};
    PGresult *res = NULL;
    int *row = calloc((size_t)(ncols ? ncols : 1), sizeof(int));
    if (!row)
        return -1;
    snprintf(oid, sizeof(oid), "%u", relid);
    if (rc->catalog)
        res = PQexecParams(
            rc->catalog,
            "SELECT a.attname, a.attnotnull, COALESCE(a.attnum = ANY(i.indkey), false), "
            "CASE WHEN d.adbin::text LIKE '{CONST %' OR pg_get_expr(d.adbin, d.adrelid) ~ $2 "
            "THEN pg_get_expr(d.adbin, d.adrelid) END, format_type(a.atttypid, a.atttypmod) "
            "FROM pg_attribute a LEFT JOIN pg_index i "
            "ON i.indrelid = a.attrelid AND i.indisprimary "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped",
            2, NULL, params, NULL, NULL, 0);
    int have = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    for (int i = 0; i < ncols; i++) {
        int known = -1;
        row[i] = -1;
        for (int r = 0; have && r < PQntuples(res) && row[i] < 0; r++)
            if (strcmp(PQgetvalue(res, r, 0), cols[i].name) == 0)
                row[i] = r;
        for (int k = 0; !have && old && k < old->ncols && known < 0; k++)
            if (strcmp(old->cols[k].name, cols[i].name) == 0)
                known = k;
        if (known >= 0) {
            cc[i].key = old->cols[known].key;
            cc[i].pk = old->cols[known].pk;
            cc[i].notnull = old->cols[known].notnull;
            cc[i].def = old->cols[known].def ? strdup(old->cols[known].def) : NULL;
            continue;
        }
        cc[i].key = have ? row[i] >= 0 && PQgetvalue(res, row[i], 2)[0] == 't'
                         : cols[i].key && replident != 'f';
        cc[i].notnull = cc[i].key || (row[i] >= 0 && PQgetvalue(res, row[i], 1)[0] == 't');
        cc[i].pk = cc[i].key;
    }
    if (have)
        constant_defaults(rc, res, row, cc, ncols);
    PQclear(res);
    free(row);
    return 0;
}

/* The key's columns and their places in it (cc[].key): those
 * message.key.columns names for this table, in its order, instead of the
 * primary key's (which stay NOT NULL); else (none of them in the table)
 * the primary key's, in table order. A named column outside the replica
 * identity (cols[].key: the Relation's flags) is null in a delete's key:
 * said once per definition. */
static void custom_key(pg_relcache *rc, const char *nsp, const char *name, char replident,
                       const pg_coldesc *cols, int ncols, col_cat *cc)
{
    int named = 0, k = 0;
    for (int i = 0; i < ncols; i++) {
        cc[i].place = pg_conf_key_column(rc->conf, nsp, name, cols[i].name);
        named += cc[i].place > 0;
    }
    for (int i = 0; i < ncols; i++) {
        if (!named) {
            cc[i].key = cc[i].key ? ++k : 0;
            continue;
        }
        cc[i].key = cc[i].place > 0 ? cc[i].place : 0;
        if (cc[i].key && replident != 'f' && !cols[i].key && rc->ctx)
            sluice_log(rc->ctx, SLUICE_LOG_WARN,
                       "table %s.%s: message.key.columns column %s is outside the replica "
                       "identity: a delete's key has it null (or its type's fallback); "
                       "ALTER TABLE ... REPLICA IDENTITY FULL sends it",
                       nsp, name, cols[i].name);
    }
}

static void col_cat_free(col_cat *cc, int n)
{
    for (int i = 0; cc && i < n; i++)
        free(cc[i].def);
    free(cc);
}

static int same_text(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int same_columns(const pg_rel *r, const char *nsp, const char *name, char replident,
                        const pg_coldesc *cols, int ncols, const col_cat *cc)
{
    if (r->ncols != ncols || r->replident != replident || strcmp(r->nspname, nsp) ||
        strcmp(r->relname, name))
        return 0;
    for (int i = 0; i < ncols; i++)
        if (strcmp(r->cols[i].name, cols[i].name) || r->cols[i].type->oid != cols[i].oid ||
            r->cols[i].type->typmod != cols[i].typmod || r->cols[i].key != cc[i].key ||
            r->cols[i].notnull != cc[i].notnull || !same_text(r->cols[i].def, cc[i].def))
            return 0;
    return 1;
}

/* Fills rel's columns; takes cc[].def (set to NULL). */
static int rel_columns(pg_relcache *rc, pg_rel *rel, const pg_coldesc *cols, int ncols, col_cat *cc)
{
    int field = 0;
    rel->cols = calloc((size_t)(ncols ? ncols : 1), sizeof(pg_col));
    if (!rel->cols)
        return -1;
    rel->ncols = ncols;
    for (int i = 0; i < ncols; i++) {
        pg_col *c = &rel->cols[i];
        c->name = strdup(cols[i].name);
        c->avro_name = avro_name(cols[i].name, 0);
        c->type = pg_type_resolve(rc->catalog, cols[i].oid, cols[i].typmod);
        if (!c->name || !c->avro_name || !c->type)
            return -1;
        c->key = cc[i].key;
        c->pk = cc[i].pk;
        c->notnull = cc[i].notnull;
        c->def = cc[i].def;
        cc[i].def = NULL;
        /* a default without an Avro form (bytes, arrays, records) is no
         * default at all: the schema has none, the fallback is the type's */
        if (c->def && !(c->def_json = pg_type_default_json(c->type, rc->conf, c->def))) {
            free(c->def);
            c->def = NULL;
        }
        /* left out: column.exclude.list, or a type without a mapping
         * (include.unknown.datatypes=false, as Debezium); a key stays */
        int unmapped = c->type->unknown && !rc->conf->include_unknown;
        int out =
            pg_conf_column_excluded(rc->conf, rel->nspname, rel->relname, c->name) || unmapped;
        if (unmapped && !c->key && rc->ctx) /* said, so an upgrade does not lose it silently */
            sluice_log(rc->ctx, SLUICE_LOG_WARN,
                       "table %s.%s column %s: its type (oid %u) has no mapping; left out of the "
                       "records (include.unknown.datatypes=false; true sends its text form)",
                       rel->nspname, rel->relname, c->name, c->type->oid);
        c->field = out && !c->key ? -1 : field++;
        rel->nkeys += c->key != 0;
        rel->npk += c->pk;
    }
    /* the key's columns by their place in it */
    if (!(rel->key_order = calloc((size_t)(rel->nkeys ? rel->nkeys : 1), sizeof(int))))
        return -1;
    for (int i = 0, n = 0; i < ncols; i++) {
        if (!rel->cols[i].key)
            continue;
        int j = n++;
        for (; j > 0 && rel->cols[rel->key_order[j - 1]].key > rel->cols[i].key; j--)
            rel->key_order[j] = rel->key_order[j - 1];
        rel->key_order[j] = i;
    }
    return 0;
}

pg_rel *pg_rel_define(pg_relcache *rc, uint32_t relid, const char *nsp, const char *name,
                      char replident, const pg_coldesc *cols, int ncols, char *err, size_t errlen)
{
    pg_rel *old = pg_rel_find(rc, relid), *rel = NULL;
    col_cat *cc = calloc((size_t)(ncols ? ncols : 1), sizeof(*cc));
    char topic[1024];
    if (!cc || column_catalog(rc, old, relid, replident, cols, ncols, cc) != 0) {
        col_cat_free(cc, ncols);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    custom_key(rc, nsp, name, replident, cols, ncols, cc);
    if (old && same_columns(old, nsp, name, replident, cols, ncols, cc)) {
        col_cat_free(cc, ncols);
        return old;
    }
    rel = calloc(1, sizeof(*rel));
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
    if (rel_columns(rc, rel, cols, ncols, cc) != 0) {
        snprintf(err, errlen, "table %s.%s: out of memory", nsp, name);
        goto fail;
    }
    if (rel->included && rel_schemas(rc, rel, err + strlen(err), errlen - strlen(err)) != 0)
        goto fail;
    if (old)
        old->retired = 1;
    rel->next = rc->head;
    rc->head = rel;
    col_cat_free(cc, ncols);
    return rel;
fail:
    if (rel)
        rel_free(rel);
    col_cat_free(cc, ncols);
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

/* d's text, NUL-terminated: in place when it is (d->nul: a snapshot's COPY
 * row, a result row), else a copy in the cache's scratch buffer (pgoutput
 * values sit inside their message). NULL: out of memory. */
static const char *datum_text(pg_relcache *rc, const pg_datum *d)
{
    if (d->nul)
        return d->data;
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

/* A column without a value: null when optional; when required (NOT NULL),
 * as Debezium, the column's constant DEFAULT when it has one, else the
 * fallback for the type, so the record still matches its schema. That happens to the non-key
 * columns of a delete's before image under REPLICA IDENTITY DEFAULT (only the key is sent), to an
 * unchanged TOASTed value without a placeholder form, to a value without an Avro form (NaN,
 * infinity), and to a NULL streamed from before a SET NOT NULL (the schema comes from the catalog
 * of now). */
static int set_missing(pg_relcache *rc, const pg_col *c, avro_value_t *field, int required)
{
    if (!required)
        return set_null(field);
    if (c->def_iface) /* the column's DEFAULT, as Debezium's schema default (parse_defaults) */
        return avro_value_copy_fast(field, &c->def_value);
    return pg_type_fallback(field, c->type, rc->conf);
}

/* Sets one column. field: the record's field, a ["null", T] union unless
 * required. */
static int set_column(pg_relcache *rc, const pg_rel *rel, const pg_col *c, avro_value_t *field,
                      int required, const pg_datum *d, char *err, size_t errlen)
{
    avro_value_t slot = *field;
    int rc_ = 0;
    if (d->kind == 'n' || (d->kind == 'u' && !pg_type_placeholder_ok(c->type, rc->conf)))
        return set_missing(rc, c, field, required);
    if (!required && (rc_ = avro_value_set_branch(field, 1, &slot)) != 0)
        return rc_;
    if (d->kind == 'u')
        return pg_type_set_placeholder(&slot, c->type, rc->conf);
    const char *text = d->kind == 't' ? datum_text(rc, d) : NULL;
    if (!text)
        return snprintf(err, errlen, "column %s: %s", c->name,
                        d->kind == 't' ? "out of memory" : "binary value"),
               -1;
    err[0] = '\0';
    rc_ = pg_type_set(&slot, c->type, rc->conf, text, d->len, err, errlen);
    if (rc_ == 1)
        return set_missing(rc, c, field, required);
    if (rc_ != 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", err[0] ? err : avro_strerror());
        snprintf(err, errlen, "table %s.%s column %s: %s", rel->nspname, rel->relname, c->name,
                 why);
        return -1;
    }
    return 0;
}

static const pg_datum null_datum = {'n', NULL, 0};

/* Sets field `index` of rec (a row or key record) to column c's datum.
 * 0, or -1 with err naming the table and column. */
static int fill_field(pg_relcache *rc, const pg_rel *rel, const pg_col *c, avro_value_t *rec,
                      size_t index, const pg_datum *d, char *err, size_t errlen)
{
    avro_value_t f;
    err[0] = '\0';
    if (avro_value_get_by_index(rec, index, &f, NULL) != 0 ||
        set_column(rc, rel, c, &f, c->notnull, d, err, errlen) != 0)
        return err[0] ? -1
                      : (snprintf(err, errlen, "table %s.%s column %s: %s", rel->nspname,
                                  rel->relname, c->name, avro_strerror()),
                         -1);
    return 0;
}

int pg_rel_fill_row(pg_relcache *rc, const pg_rel *rel, avro_value_t *row, const pg_datum *d,
                    int nd, char *err, size_t errlen)
{
    for (int i = 0; i < rel->ncols; i++) {
        const pg_col *c = &rel->cols[i];
        if (c->field >= 0 && fill_field(rc, rel, c, row, (size_t)c->field,
                                        i < nd ? &d[i] : &null_datum, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int pg_rel_fill_key(pg_relcache *rc, const pg_rel *rel, avro_value_t *key, const pg_datum *d,
                    int nd, char *err, size_t errlen)
{
    for (int k = 0; k < rel->nkeys; k++) {
        int i = rel->key_order[k];
        const pg_col *c = &rel->cols[i];
        /* a primary key's column always has a value; one of
         * message.key.columns may not: null, or outside the replica
         * identity in a delete's old key, or unchanged TOASTed. Then it is
         * missing (null, or the type's fallback), as Debezium, never the
         * TOAST placeholder */
        int has = i < nd && d[i].kind == 't';
        if (c->pk && !has) {
            snprintf(err, errlen, "table %s.%s: key column %s has no value", rel->nspname,
                     rel->relname, c->name);
            return -1;
        }
        if (fill_field(rc, rel, c, key, (size_t)k, has ? &d[i] : &null_datum, err, errlen) != 0)
            return -1;
    }
    return 0;
}
