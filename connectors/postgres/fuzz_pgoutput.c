/*
 * fuzz_pgoutput.c - fuzz target for the postgres source's parsers of
 * outside bytes: pgoutput messages (pg_decode) and PostgreSQL's text form
 * of values (pg_type_set), with tests/fuzz/driver.c as `fuzz_pgoutput`
 * (a ctest smoke run, label fuzz) or libFuzzer (SLUICE_FUZZ=ON).
 *
 * Input: byte 0 selects the target. Bit 2 set: the rest is one row of COPY
 * text output (pg_copy_row, the snapshot's parser), split into at most
 * byte 0 >> 3 columns. Else even: the rest is one pgoutput message,
 * decoded outside and inside a stream (bit 1: in_stream). Odd: byte 1 picks
 * a type from `types` below and the rest is its text, set into a fresh
 * avro value of that type's schema (arrays of it too, when bit 1 is set).
 * Nothing may crash or read out of bounds, whatever the bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerSeeds(uint8_t **seeds, size_t *sizes, int max);

static const struct {
    uint32_t oid;
    int32_t typmod;
} types[] = {
    {16, -1},   {21, -1},   {23, -1},   {20, -1},   {700, -1},  {701, -1},  {1700, 655366},
    {1700, -1}, {790, -1},  {25, -1},   {17, -1},   {2950, -1}, {3802, -1}, {1082, -1},
    {1083, -1}, {1083, 3},  {1266, -1}, {1114, -1}, {1184, -1}, {1186, -1}, {1560, 1},
    {1560, 8},  {1562, -1}, {869, -1},  {1007, -1}, {1009, -1}, {1231, -1}, {1185, -1},
    {600, -1},  {1017, -1}, {0, -1}, /* 0: hstore (an extension type: no fixed oid) */
};

static void fuzz_decode(const uint8_t *data, size_t size, int in_stream)
{
    char err[256];
    pg_msg m;
    pg_decoder *d = pg_decoder_create();
    if (d)
        pg_decode(d, data, size, in_stream, &m, err, sizeof(err));
    pg_decoder_destroy(d);
}

static void fuzz_value(const uint8_t *data, size_t size, int precise)
{
    if (size < 1)
        return;
    pg_conf conf = {.decimal_mode = precise ? PG_DEC_PRECISE : PG_DEC_STRING,
                    .time_mode = PG_TIME_ADAPTIVE,
                    .hstore_mode = precise ? PG_HSTORE_JSON : PG_HSTORE_MAP};
    size_t t = data[0] % (sizeof(types) / sizeof(types[0]));
    pg_type *ty = types[t].oid ? pg_type_resolve(NULL, types[t].oid, types[t].typmod)
                               : calloc(1, sizeof(pg_type));
    if (ty && !types[t].oid)
        ty->kind = PG_K_HSTORE;
    int named = 0;
    json_t *j = ty ? pg_type_schema(ty, &conf, &named) : NULL;
    char *json = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *text = malloc(size);
    avro_schema_t s = NULL;
    avro_value_iface_t *iface = NULL;
    avro_value_t v;
    char err[256];
    if (json && text && avro_schema_from_json_length(json, strlen(json), &s) == 0 &&
        (iface = avro_generic_class_from_schema(s)) && avro_generic_value_new(iface, &v) == 0) {
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        pg_type_set(&v, ty, &conf, text, strlen(text), err, sizeof(err));
        avro_value_decref(&v);
    }
    if (iface)
        avro_value_iface_decref(iface);
    if (s)
        avro_schema_decref(s);
    free(text);
    free(json);
    json_decref(j);
    pg_type_free(ty);
}

/* A COPY row in a buffer of exactly size + 1 bytes (libpq's NUL), so a
 * write past it is caught by ASan; every datum must lie inside it. */
static void fuzz_copy(const uint8_t *data, size_t size, int cap)
{
    pg_datum d[32];
    char *buf = malloc(size + 1);
    if (!buf)
        return;
    memcpy(buf, data, size);
    buf[size] = '\0';
    int n = pg_copy_row(buf, size, d, cap);
    for (int i = 0; i < n && i < cap; i++)
        if (d[i].kind == 't' &&
            (d[i].data < buf || d[i].data + d[i].len > buf + size || d[i].data[d[i].len] != '\0'))
            abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 4)
        fuzz_copy(data + 1, size - 1, data[0] >> 3);
    else if (data[0] & 1)
        fuzz_value(data + 1, size - 1, data[0] & 2);
    else
        fuzz_decode(data + 1, size - 1, data[0] & 2);
    return 0;
}

static int seed(uint8_t **seeds, size_t *sizes, int n, uint8_t sel, const void *p, size_t len)
{
    seeds[n] = malloc(len + 1);
    seeds[n][0] = sel;
    memcpy(seeds[n] + 1, p, len);
    sizes[n] = len + 1;
    return n + 1;
}

int LLVMFuzzerSeeds(uint8_t **seeds, size_t *sizes, int max)
{
    /* Relation: relid 16384, public.t, replident d, 2 columns */
    static const uint8_t rel[] = {'R', 0, 0, 0x40, 0, 'p', 'u', 'b', 'l', 'i', 'c', 0, 't', 0,
                                  'd', 0, 2,   1, 'i', 'd', 0, 0, 0, 0, 23, 0xff, 0xff, 0xff, 0xff,
                                  0, 'v', 0, 0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff};
    /* Update with an old key tuple and a new tuple (n, u, t) */
    static const uint8_t upd[] = {'U', 0, 0, 0x40, 0, 'K', 0, 2, 't', 0, 0, 0, 1, '7', 'n',
                                  'N', 0, 3, 't', 0, 0, 0, 2, '4', '2', 'u', 'n'};
    static const uint8_t trunc[] = {'T', 0, 0, 0, 2, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 1};
    static const uint8_t begin[] = {'B', 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 2, 0xd3};
    static const char *texts[] = {"\x07"
                                  "-12345.678",
                                  "\x0e"
                                  "2024-02-29 13:14:15.5 BC",
                                  "\x13"
                                  "P-1Y2M3DT-4H5M6.5S",
                                  "\x18"
                                  "{1,{2,3},NULL,\"4\"}",
                                  "\x0a"
                                  "\\x00ff10",
                                  "\x10"
                                  "10:00:00.5+02:30",
                                  "\x19"
                                  "[0:1]={\"a\\\"b\",c}",
                                  "\x1c"
                                  "(1.5,-2e300)",
                                  "\x1d"
                                  "{\"(0,0)\",NULL}",
                                  "\x1e"
                                  "\"a\"=>\"1\", \"b\\\"\\\\\"=>NULL, \"\"=>\"\""};
    int n = 0;
    if (n < max) n = seed(seeds, sizes, n, 0, rel, sizeof(rel));
    if (n < max) n = seed(seeds, sizes, n, 0, upd, sizeof(upd));
    if (n < max) n = seed(seeds, sizes, n, 2, trunc, sizeof(trunc));
    if (n < max) n = seed(seeds, sizes, n, 0, begin, sizeof(begin));
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]) && n < max; i++)
        n = seed(seeds, sizes, n, 3, texts[i], strlen(texts[i]));
    if (n < max) /* the hstore again, in map mode */
        n = seed(seeds, sizes, n, 1, texts[9], strlen(texts[9]));
    /* COPY rows, 3 columns: escapes, a NULL, octal and hex, a tab inside */
    static const char *rows[] = {"1\tab\\\\c\\n\t\\N\n", "\\101\\x41\\x4\t\\t\tz",
                                 "\\N\t\\N\t\\N\n", "\t\t\n"};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && n < max; i++)
        n = seed(seeds, sizes, n, 4 | 3 << 3, rows[i], strlen(rows[i]));
    return n;
}
