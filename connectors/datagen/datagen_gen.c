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
 */
#include <stdio.h>

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

static int set_value(const sluice_column *col, size_t i, avro_value_t *rec, int64_t id,
                     int64_t version, int64_t now_ms, int64_t seed)
{
    uint64_t h = hash3(seed, id, col->key ? (int64_t)i : (int64_t)i * 1000003 + version);
    char buf[96];
    if (col->optional && hash3(seed, id, (int64_t)i) % 5 == 0)
        return sluice_field_set_null(rec, col->name);
    switch (col->type) {
    case SLUICE_COL_BOOLEAN:
        return sluice_field_set_bool(rec, col->name, (int)(h & 1));
    case SLUICE_COL_INT:
        return sluice_field_set_int(rec, col->name, col->key ? (int32_t)id : (int32_t)(h % 100000));
    case SLUICE_COL_LONG:
        return sluice_field_set_long(rec, col->name, col->key ? id : (int64_t)(h % 1000000000));
    case SLUICE_COL_FLOAT:
        return sluice_field_set_float(rec, col->name, (float)(h % 100000) / 100.0f);
    case SLUICE_COL_DOUBLE:
        return sluice_field_set_double(rec, col->name, (double)(h % 10000000) / 100.0);
    case SLUICE_COL_STRING:
        if (col->key)
            snprintf(buf, sizeof(buf), "%s-%lld", col->name, (long long)id);
        else
            snprintf(buf, sizeof(buf), "%s-%lld-%llx", col->name, (long long)id,
                     (unsigned long long)(h & 0xffffff));
        return sluice_field_set_string(rec, col->name, buf);
    case SLUICE_COL_BYTES:
        return sluice_field_set_bytes(rec, col->name, &h, sizeof(h));
    case SLUICE_COL_TIMESTAMP:
        return sluice_field_set_long(rec, col->name, col->key ? id : now_ms);
    }
    return EINVAL;
}

int dg_gen_row(const dg_conf *conf, avro_value_t *row, int64_t id, int64_t version, int64_t now_ms)
{
    for (size_t i = 0; i < conf->ncols; i++) {
        int rc = set_value(&conf->cols[i], i, row, id, version, now_ms, conf->seed);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int dg_gen_key(const dg_conf *conf, avro_value_t *key, int64_t id)
{
    for (size_t i = 0; i < conf->ncols; i++) {
        if (!conf->cols[i].key)
            continue;
        int rc = set_value(&conf->cols[i], i, key, id, 0, 0, conf->seed);
        if (rc != 0)
            return rc;
    }
    return 0;
}
