/*
 * pg_types.c - PostgreSQL types -> Avro schemas with Debezium's semantic
 * names, and PostgreSQL's text form of a value -> an avro-c value.
 *
 * Mapping (Debezium's PostgreSQL connector, default options):
 *
 *   bool                 boolean
 *   int2 / int4 / int8   int (connect.type int16) / int / long
 *   float4 / float8      float / double
 *   numeric(p,s)         precise: bytes, logicalType decimal, precision p,
 *                        scale s (org.apache.kafka.connect.data.Decimal),
 *                        the unscaled value big-endian two's complement
 *                        (PostgreSQL 15's scales beyond [0, p], which Avro
 *                        has no form for: numeric(2,-3) is decimal(5, 0),
 *                        numeric(2,5) decimal(5, 5));
 *                        numeric without typmod: record
 *                        io.debezium.data.VariableScaleDecimal {scale, value};
 *                        double / string per decimal.handling.mode.
 *                        Any length PostgreSQL allows (131072 digits
 *                        before the point, 16383 after) converts exactly.
 *                        NaN and +-Infinity have no decimal form, nor a
 *                        value beyond a double's range a double: null.
 *   money                like numeric(19,2) (the text "$1,234.56")
 *   text, varchar, char, name, inet, cidr, macaddr, ranges, citext: string
 *   ltree                string io.debezium.data.Ltree
 *   hstore               hstore.handling.mode json: string io.debezium.data.Json,
 *                        the object {"k":"v","k2":null} in the server's order;
 *                        map: map of ["null", string]
 *   point                record io.debezium.data.geometry.Point {x double,
 *                        y double, wkb: the point's WKB (21 bytes, little-
 *                        endian), srid: null}
 *   other types          unknown (pg_type.unknown): left out of the records
 *                        unless include.unknown.datatypes, then their text
 *                        form, a string (pg_rel.c decides)
 *   bytea                bytes (hex text form decoded); binary.handling.mode
 *                        base64 / base64-url-safe / hex: a string of them
 *   uuid / json, jsonb / xml   string io.debezium.data.Uuid / Json / Xml
 *   date                 int days since 1970-01-01, io.debezium.time.Date
 *   time(p)              adaptive: p <= 3 int millis io.debezium.time.Time,
 *                        else long micros io.debezium.time.MicroTime
 *   timestamp(p)         adaptive: p <= 3 long millis io.debezium.time.Timestamp,
 *                        else long micros io.debezium.time.MicroTimestamp
 *                        (connect mode: Kafka Connect Date/Time/Timestamp, millis)
 *   timetz / timestamptz string io.debezium.time.ZonedTime / ZonedTimestamp,
 *                        ISO-8601 in UTC ("2024-05-01T10:00:00.5Z")
 *   interval             long micros io.debezium.time.MicroDuration (a month
 *                        counts 365.25/12 days, as Debezium)
 *   bit(1) / bit(n), varbit   boolean / bytes io.debezium.data.Bits: bit i
 *                        (from the right) in byte i/8, bit i%8 (little-endian,
 *                        Java's BitSet.toByteArray)
 *   enum                 string io.debezium.data.Enum, allowed = its labels
 *   T[]                  array of ["null", T] (multi-dimensional arrays are
 *                        flattened in row-major order)
 *   domain               its base type
 *
 * Values that are not there (pg_rel.c decides when): an unchanged TOASTed
 * value gets unavailable.value.placeholder in the field's own type, as
 * Debezium: the string itself for string types, its bytes for bytea, and
 * for an array a one-element array of the placeholder (string or bytes
 * elements) or one element per placeholder byte (numeric, boolean and
 * temporal elements: the byte's value). A required (NOT NULL) field without
 * a value gets the fallback of Debezium's converters: 0, false, "", empty
 * bytes, an empty array, the epoch ("1970-01-01T00:00:00Z", "00:00:00Z"),
 * the decimal 0.
 *
 * The sessions run with DateStyle=ISO, IntervalStyle=iso_8601, TimeZone=UTC,
 * bytea_output=hex, lc_monetary=C, extra_float_digits=3 and
 * client_encoding=UTF8 (pg_conf.c),
 * whatever the database or role sets, so those are the only text forms
 * parsed. Text handed to pg_type_set is NUL-terminated (pg_rel.c copies
 * pgoutput's data first).
 *
 * Runs on: the task's thread.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define VSD_NAME "io.debezium.data.VariableScaleDecimal"

/* ======================================================================== */
/* Resolution                                                                */
/* ======================================================================== */

static const struct {
    uint32_t oid;
    pg_kind kind;
} builtin[] = {
    {16, PG_K_BOOL},       {17, PG_K_BYTEA},    {18, PG_K_STRING},      {19, PG_K_STRING},
    {20, PG_K_INT64},      {21, PG_K_INT16},    {23, PG_K_INT32},       {25, PG_K_STRING},
    {26, PG_K_INT64},      {114, PG_K_JSON},    {142, PG_K_XML},        {650, PG_K_STRING},
    {700, PG_K_FLOAT4},    {701, PG_K_FLOAT8},  {790, PG_K_MONEY},      {829, PG_K_STRING},
    {774, PG_K_STRING},    {869, PG_K_STRING},  {1042, PG_K_STRING},    {1043, PG_K_STRING},
    {1082, PG_K_DATE},     {1083, PG_K_TIME},   {1114, PG_K_TIMESTAMP}, {1184, PG_K_TIMESTAMPTZ},
    {1186, PG_K_INTERVAL}, {1266, PG_K_TIMETZ}, {1560, PG_K_BIT},       {1562, PG_K_BIT},
    {1700, PG_K_NUMERIC},  {2950, PG_K_UUID},   {3802, PG_K_JSON},      {600, PG_K_POINT},
};

/* array type oid -> element oid, for the built-in types above */
static const uint32_t builtin_arrays[][2] = {
    {1000, 16},   {1001, 17},   {1002, 18},   {1003, 19},   {1016, 20},   {1005, 21},
    {1007, 23},   {1009, 25},   {1028, 26},   {199, 114},   {143, 142},   {651, 650},
    {1021, 700},  {1022, 701},  {791, 790},   {1040, 829},  {775, 774},   {1041, 869},
    {1014, 1042}, {1015, 1043}, {1182, 1082}, {1183, 1083}, {1115, 1114}, {1185, 1184},
    {1187, 1186}, {1270, 1266}, {1561, 1560}, {1563, 1562}, {1231, 1700}, {2951, 2950},
    {3807, 3802}, {1017, 600},
};

static pg_type *type_new(uint32_t oid, int32_t typmod, pg_kind kind)
{
    pg_type *ty = calloc(1, sizeof(*ty));
    if (ty) {
        ty->oid = oid;
        ty->typmod = typmod;
        ty->kind = kind;
    }
    return ty;
}

static pg_type *resolve(PGconn *conn, uint32_t oid, int32_t typmod, int depth);

static pg_type *array_of(PGconn *conn, uint32_t oid, int32_t typmod, uint32_t elem, int depth)
{
    pg_type *ty = type_new(oid, typmod, PG_K_ARRAY);
    if (ty && !(ty->elem = resolve(conn, elem, typmod, depth + 1))) {
        free(ty);
        return NULL;
    }
    if (ty)
        ty->unknown = ty->elem->unknown;
    return ty;
}

/* A type without a mapping here: carried as its text form, if at all. */
static pg_type *unknown_new(uint32_t oid, int32_t typmod)
{
    pg_type *ty = type_new(oid, typmod, PG_K_STRING);
    if (ty)
        ty->unknown = 1;
    return ty;
}

/* The extension types with a mapping, by name (their oids differ from one
 * database to the next), as Debezium recognises them. */
static const struct {
    const char *name;
    pg_kind kind;
} extension[] = {{"citext", PG_K_STRING}, {"ltree", PG_K_LTREE}, {"hstore", PG_K_HSTORE}};

/* Domains, enums, arrays of those, extension types: from pg_type. */
static pg_type *resolve_catalog(PGconn *conn, uint32_t oid, int32_t typmod, int depth)
{
    char oidtext[16];
    snprintf(oidtext, sizeof(oidtext), "%u", oid);
    const char *params[1] = {oidtext};
    PGresult *res =
        PQexecParams(conn,
                     "SELECT t.typtype, t.typbasetype, t.typtypmod, t.typelem, t.typcategory, "
                     "(SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e "
                     " WHERE e.enumtypid = t.oid), t.typname FROM pg_type t WHERE t.oid = $1::oid",
                     1, NULL, params, NULL, NULL, 0);
    pg_type *ty = NULL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        ty = unknown_new(oid, typmod);
    } else {
        char typtype = PQgetvalue(res, 0, 0)[0], cat = PQgetvalue(res, 0, 4)[0];
        uint32_t base = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
        int32_t base_mod = (int32_t)strtol(PQgetvalue(res, 0, 2), NULL, 10);
        uint32_t elem = (uint32_t)strtoul(PQgetvalue(res, 0, 3), NULL, 10);
        if (typtype == 'd' && base) {
            ty = resolve(conn, base, typmod >= 0 ? typmod : base_mod, depth + 1);
        } else if (typtype == 'e') {
            ty = type_new(oid, typmod, PG_K_ENUM);
            if (ty && !PQgetisnull(res, 0, 5))
                ty->enum_values = strdup(PQgetvalue(res, 0, 5));
        } else if (cat == 'A' && elem) {
            ty = array_of(conn, oid, typmod, elem, depth);
        } else if (typtype == 'r') { /* a range: its text form, as Debezium */
            ty = type_new(oid, typmod, PG_K_STRING);
        } else {
            const char *name = PQgetvalue(res, 0, 6);
            for (size_t i = 0;
                 !ty && typtype == 'b' && i < sizeof(extension) / sizeof(extension[0]); i++)
                if (strcmp(extension[i].name, name) == 0)
                    ty = type_new(oid, typmod, extension[i].kind);
            if (!ty)
                ty = unknown_new(oid, typmod);
        }
    }
    PQclear(res);
    return ty;
}

static pg_type *resolve(PGconn *conn, uint32_t oid, int32_t typmod, int depth)
{
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        if (builtin[i].oid == oid)
            return type_new(oid, typmod, builtin[i].kind);
    for (size_t i = 0; depth < 4 && i < sizeof(builtin_arrays) / sizeof(builtin_arrays[0]); i++)
        if (builtin_arrays[i][0] == oid)
            return array_of(conn, oid, typmod, builtin_arrays[i][1], depth);
    if (!conn || depth >= 4)
        return unknown_new(oid, typmod);
    return resolve_catalog(conn, oid, typmod, depth);
}

pg_type *pg_type_resolve(PGconn *conn, uint32_t oid, int32_t typmod)
{
    return resolve(conn, oid, typmod, 0);
}

void pg_type_free(pg_type *ty)
{
    if (!ty)
        return;
    pg_type_free(ty->elem);
    free(ty->enum_values);
    free(ty);
}

int pg_type_placeholder_ok(const pg_type *ty, const pg_conf *conf)
{
    switch (ty->kind) {
    case PG_K_STRING: case PG_K_JSON: case PG_K_XML: case PG_K_UUID: case PG_K_ENUM:
    case PG_K_BYTEA:
    case PG_K_LTREE:
        return 1;
    case PG_K_HSTORE: /* {placeholder: placeholder}, as Debezium */
        return 1;
    case PG_K_ARRAY: /* a string, bytes or a number per byte: not a record or a map */
        return ty->elem->kind != PG_K_POINT &&
               (ty->elem->kind != PG_K_HSTORE || conf->hstore_mode == PG_HSTORE_JSON);
    default: /* numeric, varbit: no placeholder form (null, or the fallback) */
        return 0;
    }
}

/* ======================================================================== */
/* Schemas                                                                   */
/* ======================================================================== */

static json_t *semantic(const char *type, const char *name)
{
    return json_pack("{s:s, s:i, s:s}", "type", type, "connect.version", 1, "connect.name", name);
}

static int numeric_typmod(int32_t typmod, int *precision, int *scale)
{
    if (typmod < 4)
        return 0;
    *precision = ((typmod - 4) >> 16) & 0xffff;
    *scale = (int)(int16_t)(((typmod - 4) & 0x7ff) << 5) >> 5; /* 11-bit signed (PG 15) */
    if (*scale < 0) { /* numeric(2,-3) rounds to thousands, up to 99000: an Avro
                       * decimal's scale cannot be negative, so decimal(5, 0) */
        *precision -= *scale;
        *scale = 0;
    }
    if (*scale > *precision) /* numeric(2,5): below 0.001, an Avro decimal's */
        *precision = *scale; /* scale cannot pass its precision: decimal(5, 5) */
    return 1;
}

static json_t *decimal_schema(int precision, int scale)
{
    char p[16], s[16];
    snprintf(p, sizeof(p), "%d", precision);
    snprintf(s, sizeof(s), "%d", scale);
    return json_pack("{s:s, s:i, s:i, s:i, s:{s:s, s:s}, s:s, s:s}", "type", "bytes", "scale",
                     scale, "precision", precision, "connect.version", 1, "connect.parameters",
                     "scale", s, "connect.decimal.precision", p, "connect.name",
                     "org.apache.kafka.connect.data.Decimal", "logicalType", "decimal");
}

static json_t *numeric_schema(const pg_type *ty, const pg_conf *conf, int *named)
{
    int precision, scale;
    if (conf->decimal_mode == PG_DEC_DOUBLE)
        return json_string("double");
    if (conf->decimal_mode == PG_DEC_STRING)
        return json_string("string");
    if (ty->kind == PG_K_MONEY)
        return decimal_schema(19, 2);
    if (numeric_typmod(ty->typmod, &precision, &scale))
        return decimal_schema(precision, scale);
    if (*named & PG_NAMED_VSD)
        return json_string(VSD_NAME);
    *named |= PG_NAMED_VSD;
    return json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}], s:i, s:s}", "type", "record",
                     "name", "VariableScaleDecimal", "namespace", "io.debezium.data", "fields",
                     "name", "scale", "type", "int", "name", "value", "type", "bytes",
                     "connect.version", 1, "connect.name", VSD_NAME);
}

static int time_precision(const pg_type *ty)
{
    return ty->typmod >= 0 ? ty->typmod : 6;
}

/* Whether time / timestamp values of ty are milliseconds (else micros). */
static int temporal_millis(const pg_type *ty, const pg_conf *conf)
{
    if (conf->time_mode == PG_TIME_CONNECT)
        return 1;
    if (ty->kind == PG_K_TIME && conf->time_mode == PG_TIME_ADAPTIVE_MICRO)
        return 0;
    return time_precision(ty) <= 3;
}

static json_t *temporal_schema(const pg_type *ty, const pg_conf *conf)
{
    int millis = temporal_millis(ty, conf);
    json_t *j;
    switch (ty->kind) {
    case PG_K_DATE:
        if (conf->time_mode != PG_TIME_CONNECT)
            return semantic("int", "io.debezium.time.Date");
        j = semantic("int", "org.apache.kafka.connect.data.Date");
        json_object_set_new(j, "logicalType", json_string("date"));
        return j;
    case PG_K_TIME:
        if (conf->time_mode == PG_TIME_CONNECT) {
            j = semantic("int", "org.apache.kafka.connect.data.Time");
            json_object_set_new(j, "logicalType", json_string("time-millis"));
            return j;
        }
        return millis ? semantic("int", "io.debezium.time.Time")
                      : semantic("long", "io.debezium.time.MicroTime");
    default: /* PG_K_TIMESTAMP */
        if (conf->time_mode == PG_TIME_CONNECT) {
            j = semantic("long", "org.apache.kafka.connect.data.Timestamp");
            json_object_set_new(j, "logicalType", json_string("timestamp-millis"));
            return j;
        }
        return millis ? semantic("long", "io.debezium.time.Timestamp")
                      : semantic("long", "io.debezium.time.MicroTimestamp");
    }
}

static json_t *bits_schema(const pg_type *ty)
{
    char n[16];
    if (ty->oid == 1560 && ty->typmod == 1)
        return json_string("boolean");
    json_t *j = semantic("bytes", "io.debezium.data.Bits");
    snprintf(n, sizeof(n), "%d", ty->typmod > 0 ? ty->typmod : 0);
    json_object_set_new(j, "connect.parameters", json_pack("{s:s}", "length", n));
    return j;
}

#define POINT_NAME "io.debezium.data.geometry.Point"

static json_t *point_schema(int *named)
{
    if (*named & PG_NAMED_POINT)
        return json_string(POINT_NAME);
    *named |= PG_NAMED_POINT;
    return json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:[s, s], s:n}, "
                     "{s:s, s:[s, s], s:n}], s:s, s:i, s:s}",
                     "type", "record", "name", "Point", "namespace", "io.debezium.data.geometry",
                     "fields", "name", "x", "type", "double", "name", "y", "type", "double", "name",
                     "wkb", "type", "null", "bytes", "default", "name", "srid", "type", "null",
                     "int", "default", "connect.doc", "Geometry (POINT)", "connect.version", 1,
                     "connect.name", POINT_NAME);
}

json_t *pg_type_schema(const pg_type *ty, const pg_conf *conf, int *named)
{
    json_t *j;
    switch (ty->kind) {
    case PG_K_BOOL: return json_string("boolean");
    case PG_K_INT16: return json_pack("{s:s, s:s}", "type", "int", "connect.type", "int16");
    case PG_K_INT32: return json_string("int");
    case PG_K_INT64: return json_string("long");
    case PG_K_FLOAT4: return json_string("float");
    case PG_K_FLOAT8: return json_string("double");
    case PG_K_NUMERIC:
    case PG_K_MONEY:
        return numeric_schema(ty, conf, named);
    case PG_K_BYTEA:
        return json_string(conf->binary_mode == PG_BIN_BYTES ? "bytes" : "string");
    case PG_K_UUID: return semantic("string", "io.debezium.data.Uuid");
    case PG_K_JSON: return semantic("string", "io.debezium.data.Json");
    case PG_K_XML: return semantic("string", "io.debezium.data.Xml");
    case PG_K_DATE: case PG_K_TIME: case PG_K_TIMESTAMP: return temporal_schema(ty, conf);
    case PG_K_TIMETZ: return semantic("string", "io.debezium.time.ZonedTime");
    case PG_K_TIMESTAMPTZ: return semantic("string", "io.debezium.time.ZonedTimestamp");
    case PG_K_INTERVAL: return semantic("long", "io.debezium.time.MicroDuration");
    case PG_K_BIT: return bits_schema(ty);
    case PG_K_ENUM:
        j = semantic("string", "io.debezium.data.Enum");
        json_object_set_new(j, "connect.parameters",
                            json_pack("{s:s}", "allowed", ty->enum_values ? ty->enum_values : ""));
        return j;
    case PG_K_ARRAY:
        return json_pack("{s:s, s:[s, o]}", "type", "array", "items", "null",
                         pg_type_schema(ty->elem, conf, named));
    case PG_K_LTREE:
        return semantic("string", "io.debezium.data.Ltree");
    case PG_K_HSTORE:
        if (conf->hstore_mode == PG_HSTORE_MAP)
            return json_pack("{s:s, s:[s, s]}", "type", "map", "values", "null", "string");
        return semantic("string", "io.debezium.data.Json");
    case PG_K_POINT:
        return point_schema(named);
    case PG_K_STRING: break;
    }
    return json_string("string");
}

/* ======================================================================== */
/* Values: numbers                                                           */
/* ======================================================================== */

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

static int parse_ll(const char *s, long long lo, long long hi, long long *v)
{
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return end == s || *end || errno || *v < lo || *v > hi ? -1 : 0;
}

/* ---- numeric of any length ---------------------------------------------------
 *
 * An unconstrained numeric holds up to 131072 digits before the point and
 * 16383 after it (PostgreSQL's limits), so its text runs to about 147,500
 * characters and its unscaled value to about 61,200 bytes. A value whose
 * text, with room to pad it to its column's scale, fits DEC_STACK_DIGITS
 * (money, and the numbers one meets) is converted in buffers on the stack;
 * a longer one in one heap block sized from its text, freed before
 * returning. */
#define DEC_STACK_DIGITS 1100

/* Words of scratch, and bytes of output, digits_to_twos needs for n digits:
 * each 32-bit word takes nine digits (10^9 < 2^32), plus a sign byte. */
static size_t dec_words(size_t n)
{
    return n / 9 + 2;
}

static size_t dec_bytes(size_t n)
{
    return dec_words(n) * 4 + 1;
}

/* Decimal digits -> big-endian two's complement of the integer they spell
 * (its negation when neg), shortest form, at out (dec_bytes(n) bytes); word:
 * scratch of dec_words(n). Returns the length. Nine digits at a time into
 * little-endian 32-bit words: PostgreSQL's longest value takes about 10^8
 * multiply-adds, an ordinary one a handful. */
static size_t digits_to_twos(const char *digits, size_t n, int neg, uint32_t *word, uint8_t *out)
{
    static const uint32_t pow10[10] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 100000000, 1000000000};
    size_t nw = 0;
    for (size_t i = 0; i < n;) {
        size_t k = n - i < 9 ? n - i : 9;
        uint64_t carry = 0;
        for (size_t j = 0; j < k; j++)
            carry = carry * 10 + (uint64_t)(digits[i + j] - '0');
        i += k;
        for (size_t w = 0; w < nw; w++) { /* word * 10^k + carry < 2^64 */
            uint64_t v = (uint64_t)word[w] * pow10[k] + carry;
            word[w] = (uint32_t)v;
            carry = v >> 32;
        }
        if (carry)
            word[nw++] = (uint32_t)carry;
    }
    size_t nb = nw * 4 + 1; /* a sign byte above the magnitude */
    out[0] = 0;
    for (size_t w = 0; w < nw; w++) {
        uint8_t *b = out + nb - 4 * (w + 1);
        b[0] = (uint8_t)(word[w] >> 24);
        b[1] = (uint8_t)(word[w] >> 16);
        b[2] = (uint8_t)(word[w] >> 8);
        b[3] = (uint8_t)word[w];
    }
    if (neg) { /* two's complement: invert, add one */
        unsigned carry = 1;
        for (size_t k = nb; k-- > 0;) {
            unsigned v = (uint8_t)~out[k] + carry;
            out[k] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    /* drop redundant leading sign bytes */
    size_t skip = 0;
    while (skip + 1 < nb && ((out[skip] == 0 && !(out[skip + 1] & 0x80)) ||
                             (out[skip] == 0xff && (out[skip + 1] & 0x80))))
        skip++;
    memmove(out, out + skip, nb - skip);
    return nb - skip;
}

/* "-123.450" -> unscaled digits "123450", scale 3, neg. Keeps only digits,
 * '-' and '.' (money's "$1,234.56"). digits holds cap bytes (the text's
 * length + 1 is always enough). Returns -1 when not a finite number. */
static int decimal_split(const char *text, char *digits, size_t cap, size_t *n, int *scale,
                         int *neg)
{
    int seen_dot = 0, any = 0;
    *n = 0;
    *scale = 0;
    *neg = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '-' || *p == '(') /* money may print negatives as (1.00) */
            *neg = 1;
        else if (*p == '.')
            seen_dot = 1;
        else if (isdigit((unsigned char)*p)) {
            any = 1;
            if (*n == 0 && *p == '0' && !seen_dot)
                continue; /* leading zero */
            if (*n + 1 >= cap)
                return -1;
            digits[(*n)++] = *p;
            *scale += seen_dot;
        } else if (isalpha((unsigned char)*p))
            return -1; /* NaN, Infinity */
    }
    digits[*n] = '\0';
    return any ? 0 : -1;
}

/* The precise form of text: a decimal's bytes (fixed: numeric(p, s), money,
 * padded to scale want) or a VariableScaleDecimal, with buffers of cap
 * digits (see dec_words / dec_bytes). */
static int set_precise(avro_value_t *slot, const char *text, int fixed, int want, char *digits,
                       size_t cap, uint32_t *word, uint8_t *bytes, char *err, size_t errlen)
{
    size_t n;
    int scale, neg;
    if (decimal_split(text, digits, cap, &n, &scale, &neg) != 0)
        return strncmp(text, "NaN", 3) == 0 || strstr(text, "Infinity")
                   ? 1
                   : ERR("numeric '%.60s'", text);
    if (fixed) {
        while (scale < want && n + 1 < cap) { /* pad to the column's scale */
            digits[n++] = '0';
            scale++;
        }
        size_t nb = digits_to_twos(digits, n, neg && n, word, bytes);
        return avro_value_set_bytes(slot, bytes, nb);
    }
    size_t nb = digits_to_twos(digits, n, neg && n, word, bytes);
    avro_value_t f;
    int rc = avro_value_get_by_index(slot, 0, &f, NULL);
    rc = rc ? rc : avro_value_set_int(&f, scale);
    rc = rc ? rc : avro_value_get_by_index(slot, 1, &f, NULL);
    return rc ? rc : avro_value_set_bytes(&f, bytes, nb);
}

static int set_decimal(avro_value_t *slot, const pg_type *ty, const pg_conf *conf, const char *text,
                       char *err, size_t errlen)
{
    if (ty->kind == PG_K_MONEY && conf->decimal_mode != PG_DEC_PRECISE) {
        /* "$1,234.56" / "-$1,234.56" -> "1234.56" / "-1234.56" */
        char plain[64];
        size_t k = 0;
        for (const char *p = text; *p && k + 1 < sizeof(plain); p++)
            if (isdigit((unsigned char)*p) || *p == '.' || (*p == '-' && k == 0))
                plain[k++] = *p;
        plain[k] = '\0';
        return conf->decimal_mode == PG_DEC_STRING ? avro_value_set_string(slot, plain)
                                                   : avro_value_set_double(slot, strtod(plain, NULL));
    }
    if (conf->decimal_mode == PG_DEC_STRING)
        return avro_value_set_string(slot, text);
    if (conf->decimal_mode == PG_DEC_DOUBLE) {
        /* beyond a double's range (more than 308 digits before the point)
         * as NaN and Infinity: no double form, null */
        double d = strtod(text, NULL);
        return isfinite(d) ? avro_value_set_double(slot, d) : 1;
    }
    int p, want = 0;
    int fixed = ty->kind == PG_K_MONEY || numeric_typmod(ty->typmod, &p, &want);
    if (ty->kind == PG_K_MONEY)
        want = 2;
    size_t cap = strlen(text) + 1 + (fixed && want > 0 ? (size_t)want : 0);
    char digits_s[DEC_STACK_DIGITS];
    uint32_t word_s[DEC_STACK_DIGITS / 9 + 2];
    uint8_t bytes_s[(DEC_STACK_DIGITS / 9 + 2) * 4 + 1];
    if (cap <= sizeof(digits_s))
        return set_precise(slot, text, fixed, want, digits_s, sizeof(digits_s), word_s, bytes_s,
                           err, errlen);
    /* a long value: one block, words first (aligned), then bytes, digits */
    size_t nw = dec_words(cap), nb = dec_bytes(cap);
    uint32_t *word = malloc(nw * sizeof(*word) + nb + cap);
    if (!word)
        return ENOMEM;
    uint8_t *bytes = (uint8_t *)(word + nw);
    int rc =
        set_precise(slot, text, fixed, want, (char *)bytes + nb, cap, word, bytes, err, errlen);
    free(word);
    return rc;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* bytea's bytes per binary.handling.mode: Avro bytes, or a string of them
 * in base64, base64-url-safe (Java's URL encoder: - and _, padded) or hex. */
static int set_binary(avro_value_t *slot, const pg_conf *conf, const void *bytes, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *b = bytes;
    char *s = NULL;
    size_t len = 0, cap = 0;
    if (conf->binary_mode == PG_BIN_BYTES)
        return avro_value_set_bytes(slot, (void *)bytes, n);
    if (conf->binary_mode == PG_BIN_HEX) {
        if (!(s = malloc(2 * n + 1)))
            return ENOMEM;
        for (size_t i = 0; i < n; i++) {
            s[len++] = hex[b[i] >> 4];
            s[len++] = hex[b[i] & 15];
        }
    } else { /* the JSON writer's base64, its quotes dropped */
        if (sluice_json_append_base64(bytes, n, &s, &len, &cap) != 0)
            return ENOMEM;
        len -= 2;
        memmove(s, s + 1, len);
        for (size_t i = 0; conf->binary_mode == PG_BIN_BASE64_URL && i < len; i++)
            s[i] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
    }
    s[len] = '\0';
    int rc = avro_value_set_string_len(slot, s, len + 1);
    free(s);
    return rc;
}

static int set_bytea(avro_value_t *slot, const pg_conf *conf, const char *text, size_t len,
                     char *err, size_t errlen)
{
    if (len < 2 || text[0] != '\\' || text[1] != 'x')
        return ERR("bytea '%.20s': not in hex format", text);
    size_t n = (len - 2) / 2;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(text[2 + 2 * i]), lo = hexval(text[3 + 2 * i]);
        if (hi < 0 || lo < 0) {
            free(buf);
            return ERR("bytea: bad hex digit at %zu", 2 + 2 * i);
        }
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    int rc = set_binary(slot, conf, buf, n);
    free(buf);
    return rc;
}

static int set_bits(avro_value_t *slot, const pg_type *ty, const char *text, size_t len)
{
    if (ty->oid == 1560 && ty->typmod == 1)
        return avro_value_set_boolean(slot, text[0] == '1');
    size_t nb = (len + 7) / 8;
    uint8_t *buf = calloc(nb ? nb : 1, 1);
    if (!buf)
        return ENOMEM;
    for (size_t i = 0; i < len; i++)
        if (text[len - 1 - i] == '1')
            buf[i / 8] |= (uint8_t)(1u << (i % 8));
    int rc = avro_value_set_bytes(slot, buf, nb);
    free(buf);
    return rc;
}

/* ======================================================================== */
/* Values: dates and times                                                   */
/* ======================================================================== */

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* The decimal digits at *p (one to 18) as *v; *p after them. PostgreSQL's
 * output of a date or time is digits and separators only: no sign, no
 * blanks (sscanf, which this replaces, cost a tenth of a snapshot's row). */
static int digits(const char **p, int64_t *v)
{
    const char *s = *p;
    int64_t n = 0;
    int i = 0;
    for (; i < 18 && s[i] >= '0' && s[i] <= '9'; i++)
        n = n * 10 + (s[i] - '0');
    if (i == 0)
        return -1;
    *v = n;
    *p = s + i;
    return 0;
}

/* digits then the separator sep: the digits' value, or -1. */
static int64_t field_sep(const char **p, char sep)
{
    int64_t v;
    if (digits(p, &v) != 0 || **p != sep)
        return -1;
    (*p)++;
    return v;
}

/* "YYYY-MM-DD[ BC]" at text; *rest after the date. */
static int parse_date(const char *text, int64_t *days, const char **rest)
{
    const char *p = text;
    int64_t y = field_sep(&p, '-'), m = field_sep(&p, '-'), d;
    /* PostgreSQL's years end at 5874897: more would overflow the micros */
    if (y < 0 || y > 9999999 || m < 1 || m > 12 || digits(&p, &d) != 0 || d < 1 || d > 31)
        return -1;
    *rest = p;
    if (strstr(p, " BC"))
        y = 1 - y;
    *days = days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

/* "HH:MM:SS[.ffffff]" -> micros; *rest after it. */
static int parse_time(const char *text, int64_t *us, const char **rest)
{
    const char *p = text;
    int64_t h = field_sep(&p, ':'), mi = field_sep(&p, ':'), s;
    if (h < 0 || h > 24 || mi < 0 || mi > 59 || digits(&p, &s) != 0 || s > 60)
        return -1;
    int64_t frac = 0, scale = 100000;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
            frac += (*p - '0') * scale;
    *us = (h * 3600 + mi * 60 + s) * 1000000 + frac;
    *rest = p;
    return 0;
}

/* "+HH[:MM[:SS]]" -> seconds east of UTC. */
static int parse_offset(const char *p, int64_t *secs)
{
    int64_t part[3] = {0, 0, 0};
    const char *q = p + 1;
    if ((*p != '+' && *p != '-') || digits(&q, &part[0]) != 0)
        return -1;
    for (int i = 1; i < 3 && *q == ':'; i++) {
        q++;
        if (digits(&q, &part[i]) != 0)
            break;
    }
    /* PostgreSQL's offsets stay within +-15:59:59 */
    if (part[0] > 15 || part[1] > 59 || part[2] > 59)
        return -1;
    *secs = (part[0] * 3600 + part[1] * 60 + part[2]) * (*p == '-' ? -1 : 1);
    return 0;
}

/* "HH:MM:SS[.ffffff]Z" of micros into a day (fraction without trailing
 * zeros, none when 0) at p, NUL-terminated; returns the NUL. */
static char *put_time_z(char *p, int64_t in_day_us)
{
    int64_t secs = in_day_us / 1000000, frac = in_day_us % 1000000;
    p = sluice_put_i64(p, secs / 3600, 2);
    *p++ = ':';
    p = sluice_put_i64(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = sluice_put_i64(p, secs % 60, 2);
    if (frac) {
        *p++ = '.';
        p = sluice_put_i64(p, frac, 6);
        while (p[-1] == '0')
            p--;
    }
    *p++ = 'Z';
    *p = '\0';
    return p;
}

static int set_timestamptz(avro_value_t *slot, const char *text, char *err, size_t errlen)
{
    int64_t days, us, off = 0;
    const char *rest;
    if (strstr(text, "infinity"))
        return 1;
    if (parse_date(text, &days, &rest) != 0 || *rest != ' ' || parse_time(rest + 1, &us, &rest) ||
        parse_offset(rest, &off) != 0)
        return ERR("timestamptz '%s'", text);
    int64_t t = days * 86400000000LL + us - off * 1000000;
    int64_t day = t >= 0 ? t / 86400000000LL : -((-t + 86399999999LL) / 86400000000LL);
    int64_t in_day = t - day * 86400000000LL, y;
    unsigned m, d;
    char buf[80];
    civil_from_days(day, &y, &m, &d);
    char *p = sluice_put_i64(buf, y, 4);
    *p++ = '-';
    p = sluice_put_i64(p, m, 2);
    *p++ = '-';
    p = sluice_put_i64(p, d, 2);
    *p++ = 'T';
    p = put_time_z(p, in_day);
    return avro_value_set_string_len(slot, buf, (size_t)(p - buf) + 1);
}

static int set_timetz(avro_value_t *slot, const char *text, char *err, size_t errlen)
{
    int64_t us, off;
    const char *rest;
    char buf[48];
    if (parse_time(text, &us, &rest) != 0 || parse_offset(rest, &off) != 0)
        return ERR("timetz '%s'", text);
    int64_t day = 86400000000LL;
    us = ((us - off * 1000000) % day + day) % day;
    return avro_value_set_string_len(slot, buf, (size_t)(put_time_z(buf, us) - buf) + 1);
}

static int set_temporal(avro_value_t *slot, const pg_type *ty, const pg_conf *conf,
                        const char *text, char *err, size_t errlen)
{
    int64_t days = 0, us = 0;
    const char *rest = text;
    if (strstr(text, "infinity"))
        return 1;
    if (ty->kind != PG_K_TIME && parse_date(text, &days, &rest) != 0)
        return ERR("date '%s'", text);
    if (ty->kind == PG_K_DATE)
        return avro_value_set_int(slot, (int32_t)days);
    if (ty->kind == PG_K_TIMESTAMP && *rest == ' ')
        rest++;
    if (parse_time(rest, &us, &rest) != 0)
        return ERR("%s '%s'", ty->kind == PG_K_TIME ? "time" : "timestamp", text);
    int64_t v = days * 86400000000LL + us;
    if (temporal_millis(ty, conf)) /* floor division: before 1970 too */
        v = v >= 0 ? v / 1000 : -((-v + 999) / 1000);
    if (ty->kind == PG_K_TIME && temporal_millis(ty, conf))
        return avro_value_set_int(slot, (int32_t)v);
    return avro_value_set_long(slot, v);
}

/* ISO 8601 interval "P1Y2M3DT4H5M6.5S" (components may be negative). */
static int set_interval(avro_value_t *slot, const char *text, char *err, size_t errlen)
{
    const char *p = text;
    long double months = 0, days = 0, secs = 0;
    int in_time = 0;
    if (*p++ != 'P')
        return ERR("interval '%s' (IntervalStyle is not iso_8601?)", text);
    while (*p) {
        if (*p == 'T') {
            in_time = 1;
            p++;
            continue;
        }
        char *end;
        long double v = strtold(p, &end);
        if (end == p || !*end)
            return ERR("interval '%s'", text);
        switch (*end) {
        case 'Y': months += v * 12; break;
        case 'M': if (in_time) secs += v * 60; else months += v; break;
        case 'W': days += v * 7; break;
        case 'D': days += v; break;
        case 'H': secs += v * 3600; break;
        case 'S': secs += v; break;
        default: return ERR("interval '%s': unit '%c'", text, *end);
        }
        p = end + 1;
    }
    long double total_days = months * (365.25L / 12) + days;
    long double us = (total_days * 86400 + secs) * 1000000;
    return avro_value_set_long(slot, (int64_t)llroundl(us));
}

/* ======================================================================== */
/* Values: arrays                                                            */
/* ======================================================================== */

/* A double-quoted string at *pp, as array elements and hstore keys and
 * values are written (a backslash escapes the next character), unescaped
 * into out (room for the rest of the text) and NUL-terminated. Returns its
 * length, *pp after the closing quote; -1 when it is not one. */
static long unquote(const char **pp, char *out)
{
    const char *p = *pp;
    long n = 0;
    if (*p++ != '"')
        return -1;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1])
            p++;
        out[n++] = *p++;
    }
    if (*p != '"')
        return -1;
    out[n] = '\0';
    *pp = p + 1;
    return n;
}

typedef struct arr_ctx {
    avro_value_t *array;
    const pg_type *elem;
    const pg_conf *conf;
    char *buf; /* one element, unescaped: as long as the array's text */
    char *err;
    size_t errlen;
} arr_ctx;

static int arr_item(arr_ctx *a, const char *s, size_t n, int quoted)
{
    avro_value_t item, branch;
    int rc = avro_value_append(a->array, &item, NULL);
    if (rc)
        return rc;
    if (!quoted && n == 4 && strncmp(s, "NULL", 4) == 0) {
        rc = avro_value_set_branch(&item, 0, &branch);
        return rc ? rc : avro_value_set_null(&branch);
    }
    rc = avro_value_set_branch(&item, 1, &branch);
    if (rc)
        return rc;
    rc = pg_type_set(&branch, a->elem, a->conf, s, n, a->err, a->errlen);
    if (rc == 1) {
        rc = avro_value_set_branch(&item, 0, &branch);
        return rc ? rc : avro_value_set_null(&branch);
    }
    return rc;
}

/* Parses the elements of "{...}" starting after '{'; nested braces are
 * flattened. *pp ends after the matching '}'. */
static int arr_parse(arr_ctx *a, const char **pp, int depth)
{
    const char *p = *pp;
    if (depth > 6)
        return -1;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == '}') {
            *pp = p + 1;
            return 0;
        }
        if (*p == '{') {
            p++;
            if (arr_parse(a, &p, depth + 1) != 0)
                return -1;
        } else {
            int quoted = *p == '"';
            long n = quoted ? unquote(&p, a->buf) : (long)strcspn(p, ",}");
            if (n < 0)
                return -1;
            if (!quoted) {
                memcpy(a->buf, p, (size_t)n);
                a->buf[n] = '\0';
                p += n;
            }
            int rc = arr_item(a, a->buf, (size_t)n, quoted);
            if (rc != 0)
                return rc;
        }
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        else if (*p != '}')
            return -1;
    }
}

static int set_array(avro_value_t *slot, const pg_type *ty, const pg_conf *conf, const char *text,
                     char *err, size_t errlen)
{
    const char *p = text;
    if (*p == '[') /* "[0:2]={...}": explicit bounds */
        p = strchr(p, '=') ? strchr(p, '=') + 1 : p;
    if (*p != '{')
        return ERR("array '%.40s'", text);
    p++;
    arr_ctx a = {slot, ty->elem, conf, malloc(strlen(p) + 1), err, errlen};
    err[0] = '\0';
    int rc = a.buf ? arr_parse(&a, &p, 0) : ENOMEM;
    free(a.buf);
    if (rc != 0 && !err[0])
        snprintf(err, errlen, "array '%.40s': malformed", text);
    return rc ? -1 : 0;
}

/* ======================================================================== */
/* Values: hstore, point                                                     */
/* ======================================================================== */

/* hstore's text form: "k"=>"v", "k2"=>NULL, keys and values quoted with \"
 * and \\ escaped, NULL bare. One pair at a time, unescaped into key and,
 * right after it, val (together shorter than the text). */
typedef struct hs_iter {
    const char *p;
    char *key, *val;
    int n; /* pairs read */
} hs_iter;

/* 1 with the next pair (*val NULL for a NULL value), 0 at the end, -1
 * malformed. */
static int hs_next(hs_iter *it, const char **val)
{
    const char *p = it->p;
    while (*p == ' ')
        p++;
    if (!*p)
        return 0;
    if (it->n++ && *p++ != ',')
        return -1;
    while (*p == ' ')
        p++;
    long klen = unquote(&p, it->key);
    if (klen < 0)
        return -1;
    it->val = it->key + klen + 1;
    while (*p == ' ')
        p++;
    if (p[0] != '=' || p[1] != '>')
        return -1;
    for (p += 2; *p == ' ';)
        p++;
    if (strncmp(p, "NULL", 4) == 0) {
        *val = NULL;
        p += 4;
    } else if (unquote(&p, it->val) >= 0) {
        *val = it->val;
    } else {
        return -1;
    }
    it->p = p;
    return 1;
}

/* Where an hstore's pairs go (hstore.handling.mode): an Avro map of
 * ["null", string], or the text of a JSON object, set as the string at
 * hs_end. */
typedef struct hs_out {
    avro_value_t *slot;
    int map, n;
    char *json;
    size_t len, cap;
} hs_out;

static int hs_begin(hs_out *o, avro_value_t *slot, const pg_conf *conf)
{
    *o = (hs_out){.slot = slot, .map = conf->hstore_mode == PG_HSTORE_MAP};
    if (o->map)
        return avro_value_reset(slot);
    return sluice_json_append_raw("{", 1, &o->json, &o->len, &o->cap) ? ENOMEM : 0;
}

/* key -> val (NULL: null). 0, an avro-c code, ENOMEM, or EILSEQ: key or val
 * is not UTF-8 (a JSON string must be). */
static int hs_pair(hs_out *o, const char *key, const char *val)
{
    if (o->map) {
        avro_value_t elem, branch;
        int rc = avro_value_add(o->slot, key, &elem, NULL, NULL);
        rc = rc ? rc : avro_value_set_branch(&elem, val != NULL, &branch);
        return rc ? rc : val ? avro_value_set_string(&branch, val) : avro_value_set_null(&branch);
    }
    if (!sluice_utf8_valid(key, strlen(key)) || (val && !sluice_utf8_valid(val, strlen(val))))
        return EILSEQ;
    return (o->n++ && sluice_json_append_raw(",", 1, &o->json, &o->len, &o->cap)) ||
                   sluice_json_append_string(key, &o->json, &o->len, &o->cap) ||
                   sluice_json_append_raw(":", 1, &o->json, &o->len, &o->cap) ||
                   (val ? sluice_json_append_string(val, &o->json, &o->len, &o->cap)
                        : sluice_json_append_raw("null", 4, &o->json, &o->len, &o->cap))
               ? ENOMEM
               : 0;
}

/* Closes the object and sets the string unless rc (a failure so far);
 * frees the text either way. Returns rc, or the setting's code. */
static int hs_end(hs_out *o, int rc)
{
    if (!rc && !o->map)
        rc = sluice_json_append_raw("}", 1, &o->json, &o->len, &o->cap)
                 ? ENOMEM
                 : avro_value_set_string_len(o->slot, o->json, o->len + 1);
    free(o->json);
    return rc;
}

/* An hstore value in its hstore.handling.mode form. */
static int set_hstore(avro_value_t *slot, const pg_conf *conf, const char *text, size_t len,
                      char *err, size_t errlen)
{
    /* a pair's key and value, unescaped, are together shorter than the text */
    hs_iter it = {text, malloc(len + 2), NULL, 0};
    hs_out o;
    const char *val;
    int more = 0;
    if (!it.key)
        return ENOMEM;
    int rc = hs_begin(&o, slot, conf);
    while (!rc && (more = hs_next(&it, &val)) > 0)
        rc = hs_pair(&o, it.key, val);
    if (rc == EILSEQ)
        rc = ERR("hstore '%.60s': a key or value is not UTF-8", text);
    else if (!rc && more < 0)
        rc = ERR("hstore '%.60s': malformed at offset %zu", text, (size_t)(it.p - text));
    free(it.key);
    return hs_end(&o, rc);
}

/* An unchanged TOASTed hstore: {placeholder: placeholder} in its mode's
 * form, as Debezium. */
static int set_hstore_placeholder(avro_value_t *slot, const pg_conf *conf)
{
    hs_out o;
    int rc = hs_begin(&o, slot, conf);
    rc = rc ? rc : hs_pair(&o, conf->placeholder, conf->placeholder);
    return hs_end(&o, rc);
}

/* x and y as Debezium's Point: the WKB of a point is the byte order (1:
 * little-endian), the geometry type (uint32 1) and the two doubles. */
static int set_point_xy(avro_value_t *slot, double x, double y)
{
    uint8_t wkb[21] = {1, 1, 0, 0, 0};
    double xy[2] = {x, y};
    avro_value_t f, branch;
    for (int i = 0; i < 2; i++) {
        uint64_t bits;
        memcpy(&bits, &xy[i], sizeof(bits));
        for (int b = 0; b < 8; b++)
            wkb[5 + 8 * i + b] = (uint8_t)(bits >> (8 * b));
    }
    int rc = avro_value_get_by_index(slot, 0, &f, NULL);
    rc = rc ? rc : avro_value_set_double(&f, x);
    rc = rc ? rc : avro_value_get_by_index(slot, 1, &f, NULL);
    rc = rc ? rc : avro_value_set_double(&f, y);
    rc = rc ? rc : avro_value_get_by_index(slot, 2, &f, NULL);
    rc = rc ? rc : avro_value_set_branch(&f, 1, &branch);
    rc = rc ? rc : avro_value_set_bytes(&branch, wkb, sizeof(wkb));
    rc = rc ? rc : avro_value_get_by_index(slot, 3, &f, NULL);
    rc = rc ? rc : avro_value_set_branch(&f, 0, &branch);
    return rc ? rc : avro_value_set_null(&branch);
}

/* "(x,y)" */
static int set_point(avro_value_t *slot, const char *text, char *err, size_t errlen)
{
    char *end;
    const char *p = text;
    double x, y;
    if (*p++ != '(')
        return ERR("point '%.60s'", text);
    x = strtod(p, &end);
    if (end == p || *end != ',')
        return ERR("point '%.60s'", text);
    p = end + 1;
    y = strtod(p, &end);
    if (end == p || *end != ')')
        return ERR("point '%.60s'", text);
    return set_point_xy(slot, x, y);
}

/* ======================================================================== */
/* Dispatch                                                                  */
/* ======================================================================== */

int pg_type_set(avro_value_t *slot, const pg_type *ty, const pg_conf *conf, const char *text,
                size_t len, char *err, size_t errlen)
{
    long long v;
    int rc;
    switch (ty->kind) {
    case PG_K_BOOL:
        return avro_value_set_boolean(slot, text[0] == 't');
    case PG_K_INT16:
    case PG_K_INT32:
        if (parse_ll(text, INT32_MIN, INT32_MAX, &v) != 0)
            return ERR("integer '%s'", text);
        return avro_value_set_int(slot, (int32_t)v);
    case PG_K_INT64:
        if (parse_ll(text, INT64_MIN, INT64_MAX, &v) != 0)
            return ERR("bigint '%s'", text);
        return avro_value_set_long(slot, v);
    case PG_K_FLOAT4:
        return avro_value_set_float(slot, strtof(text, NULL));
    case PG_K_FLOAT8:
        return avro_value_set_double(slot, strtod(text, NULL));
    case PG_K_NUMERIC:
    case PG_K_MONEY:
        return set_decimal(slot, ty, conf, text, err, errlen);
    case PG_K_BYTEA:
        return set_bytea(slot, conf, text, len, err, errlen);
    case PG_K_DATE:
    case PG_K_TIME:
    case PG_K_TIMESTAMP:
        return set_temporal(slot, ty, conf, text, err, errlen);
    case PG_K_TIMETZ:
        return set_timetz(slot, text, err, errlen);
    case PG_K_TIMESTAMPTZ:
        return set_timestamptz(slot, text, err, errlen);
    case PG_K_INTERVAL:
        return set_interval(slot, text, err, errlen);
    case PG_K_BIT:
        return set_bits(slot, ty, text, len);
    case PG_K_ARRAY:
        rc = avro_value_reset(slot);
        return rc ? rc : set_array(slot, ty, conf, text, err, errlen);
    case PG_K_HSTORE:
        return set_hstore(slot, conf, text, len, err, errlen);
    case PG_K_POINT:
        return set_point(slot, text, err, errlen);
    default:
        return avro_value_set_string_len(slot, text, len + 1);
    }
}

/* ======================================================================== */
/* Values that are not there                                                 */
/* ======================================================================== */

/* Sets slot to the number v in whatever numeric form its schema has (the
 * element form of an array placeholder, and of the fallback). */
static int set_number(avro_value_t *slot, const pg_type *ty, const pg_conf *conf, int v)
{
    char text[16];
    switch (avro_value_get_type(slot)) {
    case AVRO_BOOLEAN:
        return avro_value_set_boolean(slot, v != 0);
    case AVRO_INT32:
        return avro_value_set_int(slot, v);
    case AVRO_INT64:
        return avro_value_set_long(slot, v);
    case AVRO_FLOAT:
        return avro_value_set_float(slot, (float)v);
    case AVRO_DOUBLE:
        return avro_value_set_double(slot, v);
    case AVRO_BYTES: { /* a decimal(p, s): v is its unscaled value (two's complement) */
        uint8_t b = (uint8_t)(int8_t)v;
        return avro_value_set_bytes(slot, &b, 1);
    }
    default: /* VariableScaleDecimal {scale 0, value v}, or a decimal as a string */
        snprintf(text, sizeof(text), "%d", v);
        return set_decimal(slot, ty, conf, text, NULL, 0);
    }
}

int pg_type_fallback(avro_value_t *slot, const pg_type *ty, const pg_conf *conf)
{
    if (ty->kind == PG_K_POINT)
        return set_point_xy(slot, 0, 0);
    switch (avro_value_get_type(slot)) {
    case AVRO_STRING:
        return avro_value_set_string(slot, ty->kind == PG_K_TIMESTAMPTZ ? "1970-01-01T00:00:00Z"
                                           : ty->kind == PG_K_TIMETZ    ? "00:00:00Z"
                                           : ty->kind == PG_K_NUMERIC || ty->kind == PG_K_MONEY
                                               ? "0"
                                               : "");
    case AVRO_BYTES:
        if (ty->kind == PG_K_NUMERIC || ty->kind == PG_K_MONEY)
            return set_number(slot, ty, conf, 0);
        return avro_value_set_bytes(slot, (void *)"", 0);
    case AVRO_ARRAY:
    case AVRO_MAP:
        return avro_value_reset(slot);
    default:
        return set_number(slot, ty, conf, 0);
    }
}

int pg_type_set_placeholder(avro_value_t *slot, const pg_type *ty, const pg_conf *conf)
{
    const char *ph = conf->placeholder;
    avro_value_t item, branch;
    int rc;
    if (ty->kind == PG_K_BYTEA)
        return set_binary(slot, conf, ph, strlen(ph));
    if (ty->kind == PG_K_HSTORE)
        return set_hstore_placeholder(slot, conf);
    if (ty->kind != PG_K_ARRAY)
        return avro_value_set_string(slot, ph);
    if ((rc = avro_value_reset(slot)) != 0)
        return rc;
    for (size_t i = 0; ph[i]; i++) {
        rc = avro_value_append(slot, &item, NULL);
        rc = rc ? rc : avro_value_set_branch(&item, 1, &branch);
        if (rc)
            return rc;
        avro_type_t et = avro_value_get_type(&branch);
        int decimal = ty->elem->kind == PG_K_NUMERIC || ty->elem->kind == PG_K_MONEY;
        if (ty->elem->kind == PG_K_BYTEA)
            return set_binary(&branch, conf, ph, strlen(ph));
        if (et == AVRO_STRING)
            return avro_value_set_string(&branch, ph);
        if (et == AVRO_BYTES && !decimal)
            return avro_value_set_bytes(&branch, (void *)ph, strlen(ph));
        /* numbers, booleans, temporals, decimals: one element per byte */
        if ((rc = set_number(&branch, ty->elem, conf, (signed char)ph[i])) != 0)
            return rc;
    }
    return 0;
}

/* A primitive Avro schema of the JSON type name (NULL: not primitive). */
static avro_schema_t primitive(const char *name)
{
    static const struct {
        const char *name;
        avro_schema_t (*make)(void);
    } p[] = {{"boolean", avro_schema_boolean}, {"int", avro_schema_int},
             {"long", avro_schema_long},       {"float", avro_schema_float},
             {"double", avro_schema_double},   {"string", avro_schema_string}};
    for (size_t i = 0; name && i < sizeof(p) / sizeof(p[0]); i++)
        if (!strcmp(p[i].name, name))
            return p[i].make();
    return NULL;
}

/* The JSON of an avro value of a primitive type, as an Avro default. */
static json_t *value_json(avro_value_t *v)
{
    int b;
    int32_t i;
    int64_t l;
    float f;
    double d;
    const char *str;
    size_t size;
    switch (avro_value_get_type(v)) {
    case AVRO_BOOLEAN:
        return avro_value_get_boolean(v, &b) ? NULL : json_boolean(b);
    case AVRO_INT32:
        return avro_value_get_int(v, &i) ? NULL : json_integer(i);
    case AVRO_INT64:
        return avro_value_get_long(v, &l) ? NULL : json_integer(l);
    case AVRO_FLOAT:
        return avro_value_get_float(v, &f) || !isfinite(f) ? NULL : json_real(f);
    case AVRO_DOUBLE:
        return avro_value_get_double(v, &d) || !isfinite(d) ? NULL : json_real(d);
    case AVRO_STRING:
        return avro_value_get_string(v, &str, &size) || !size ? NULL : json_stringn(str, size - 1);
    default:
        return NULL;
    }
}

json_t *pg_type_default_json(const pg_type *ty, const pg_conf *conf, const char *text)
{
    int named = 0;
    char err[128];
    json_t *sj = pg_type_schema(ty, conf, &named), *out = NULL;
    avro_schema_t s = primitive(json_is_object(sj) ? json_string_value(json_object_get(sj, "type"))
                                                   : json_string_value(sj));
    avro_value_iface_t *iface = s ? avro_generic_class_from_schema(s) : NULL;
    avro_value_t v;
    if (iface && avro_generic_value_new(iface, &v) == 0) {
        if (pg_type_set(&v, ty, conf, text, strlen(text), err, sizeof(err)) == 0)
            out = value_json(&v);
        avro_value_decref(&v);
    }
    if (iface)
        avro_value_iface_decref(iface);
    if (s)
        avro_schema_decref(s);
    json_decref(sj);
    return out;
}
