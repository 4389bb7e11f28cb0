/*
 * datagen_gen.c - record number seq as a pure function of (config, seq).
 *
 * Ops: with ops=insert every record creates row id = seq. With ops=mixed a
 * hash of (seed, seq) picks about 60% creates (of row id = seq), 30% updates
 * and 10% deletes of a pseudo-random earlier id. The table is synthetic: an
 * update may touch a row deleted earlier; what matters is a realistic mix of
 * envelope shapes and that a resumed run reproduces the same stream.
 *
 * Values: a key column's value depends only on the row id (so a row keeps
 * its key); other columns on (id, version), where version is the seq that
 * wrote them. Nullable columns are null for one row in five.
 *
 * Cost: this runs once per record, so fields are set by position
 * (dg_layout: sluice_field_pos, resolved once per task) and strings are
 * formatted without printf.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datagen.h"

/* splitmix64: a fast, well-mixed hash of a 64-bit input. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t hash3(int64_t seed, int64_t a, int64_t b)
{
    return mix((uint64_t)seed ^ mix((uint64_t)a ^ mix((uint64_t)b)));
}

char dg_gen_op(const dg_conf *conf, int64_t seq, int64_t *id)
{
    *id = seq;
    if (!conf->mixed || seq < 3)
        return 'c';
    uint64_t h = hash3(conf->seed, seq, -1);
    unsigned pick = (unsigned)(h % 10);
    if (pick < 6)
        return 'c';
    *id = 1 + (int64_t)((h >> 8) % (uint64_t)(seq - 1));
    return pick < 9 ? 'u' : 'd';
}

int dg_layout_resolve(const dg_conf *conf, avro_schema_t row, avro_schema_t key, dg_layout *lay,
                      char *err, size_t errlen)
{
    lay->row = calloc(conf->ncols ? conf->ncols : 1, sizeof(*lay->row));
    lay->key = calloc(conf->ncols ? conf->ncols : 1, sizeof(*lay->key));
    if (!lay->row || !lay->key) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < conf->ncols; i++) {
        const sluice_column *col = &conf->cols[i];
        if (sluice_field_resolve(row, col->name, &lay->row[i], err, errlen) != 0 ||
            (col->key && sluice_field_resolve(key, col->name, &lay->key[i], err, errlen) != 0))
            return -1;
    }
    return 0;
}

void dg_layout_free(dg_layout *lay)
{
    free(lay->row);
    free(lay->key);
    lay->row = lay->key = NULL;
}

/* ---- values --------------------------------------------------------------- */

/* A string column's text: "<name>-<id>" for a key, "<name>-<id>-<hex>"
 * otherwise, cut at 95 bytes (what snprintf into 96 bytes wrote before:
 * a run resumed across versions must continue the same stream). Built by
 * hand: snprintf (here and for the position) was 7% of the worker's CPU. */
typedef struct dg_text {
    char s[96];
    size_t n;
} dg_text;

static void text_put(dg_text *t, const char *p, size_t n)
{
    size_t room = sizeof(t->s) - 1 - t->n;
    n = n < room ? n : room;
    memcpy(t->s + t->n, p, n);
    t->n += n;
}

static void text_dec(dg_text *t, int64_t v)
{
    char d[24];
    text_put(t, d, (size_t)(sluice_put_i64(d, v, 0) - d));
}

static void text_hex(dg_text *t, uint64_t v)
{
    char d[16];
    size_t i = sizeof(d);
    do {
        d[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    text_put(t, d + i, sizeof(d) - i);
}

static int set_string(avro_value_t *slot, const sluice_column *col, int64_t id, uint64_t h)
{
    dg_text t = {.n = 0};
    text_put(&t, col->name, strlen(col->name));
    text_put(&t, "-", 1);
    text_dec(&t, id);
    if (!col->key) {
        text_put(&t, "-", 1);
        text_hex(&t, h & 0xffffff);
    }
    t.s[t.n] = '\0';
    return avro_value_set_string_len(slot, t.s, t.n + 1);
}

static int set_value(const sluice_column *col, size_t i, avro_value_t *rec,
                     const sluice_field_pos *f, int64_t id, int64_t version, int64_t now_ms,
                     int64_t seed)
{
    uint64_t h = hash3(seed, id, col->key ? (int64_t)i : (int64_t)i * 1000003 + version);
    avro_value_t s;
    if (col->optional && hash3(seed, id, (int64_t)i) % 5 == 0)
        return sluice_field_null_at(rec, f);
    int rc = sluice_field_at(rec, f, &s);
    if (rc != 0)
        return rc;
    switch (col->type) {
    case SLUICE_COL_BOOLEAN:
        return avro_value_set_boolean(&s, (int)(h & 1));
    case SLUICE_COL_INT:
        return avro_value_set_int(&s, col->key ? (int32_t)id : (int32_t)(h % 100000));
    case SLUICE_COL_LONG:
        return avro_value_set_long(&s, col->key ? id : (int64_t)(h % 1000000000));
    case SLUICE_COL_FLOAT:
        return avro_value_set_float(&s, (float)(h % 100000) / 100.0f);
    case SLUICE_COL_DOUBLE:
        return avro_value_set_double(&s, (double)(h % 10000000) / 100.0);
    case SLUICE_COL_STRING:
        return set_string(&s, col, id, h);
    case SLUICE_COL_BYTES:
        return avro_value_set_bytes(&s, &h, sizeof(h));
    case SLUICE_COL_TIMESTAMP:
        return avro_value_set_long(&s, col->key ? id : now_ms);
    }
    return EINVAL;
}

int dg_gen_row(const dg_conf *conf, const dg_layout *lay, avro_value_t *row, int64_t id,
               int64_t version, int64_t now_ms)
{
    for (size_t i = 0; i < conf->ncols; i++) {
        int rc = set_value(&conf->cols[i], i, row, &lay->row[i], id, version, now_ms, conf->seed);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int dg_gen_key(const dg_conf *conf, const dg_layout *lay, avro_value_t *key, int64_t id)
{
    for (size_t i = 0; i < conf->ncols; i++) {
        if (!conf->cols[i].key)
            continue;
        int rc = set_value(&conf->cols[i], i, key, &lay->key[i], id, 0, 0, conf->seed);
        if (rc != 0)
            return rc;
    }
    return 0;
}
