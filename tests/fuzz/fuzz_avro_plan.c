/*
 * fuzz_avro_plan.c - the Avro read-in-place plan (sluice_avro_plan_check,
 * sluice_avro_json_append) on outside bytes, with the Debezium envelope
 * schema sinks use it for. Besides never crashing, reading out of bounds or
 * hanging: the JSON writer succeeds only on bytes check accepts; and every
 * datum check accepts is one avro-c's own reader decodes from exactly those
 * bytes, to a value whose JSON text (sluice_value_json_append) is the
 * plan's, byte for byte, failing (NaN, bad UTF-8) exactly when the plan's
 * fails.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/envelope.h"

static sluice_envelope *env;
static sluice_avro_plan *plan;
static char *pbuf, *vbuf; /* reused, as sinks reuse theirs */
static size_t pcap, vcap;

static int setup(void)
{
    static const char spec[] = "id:long,name:string,email:string?,balance:double?,ok:boolean,"
                               "at:timestamp,score:float?,blob:bytes?,qty:int?";
    sluice_column *cols;
    size_t ncols;
    char err[256];
    if (env)
        return 0;
    if (sluice_columns_parse(spec, "id", &cols, &ncols, err, sizeof(err)))
        return -1;
    int rc = sluice_envelope_create("fuzz.public.t", cols, ncols, &env, err, sizeof(err));
    sluice_columns_free(cols, ncols);
    if (rc || !(plan = sluice_avro_plan_create(sluice_envelope_value_schema(env))))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (setup())
        return 0;
    uint8_t *exact = malloc(size ? size : 1); /* so a read past the end is seen (ASan) */
    memcpy(exact, data, size);
    size_t plen = 0, vlen = 0;
    int64_t n = sluice_avro_plan_check(plan, exact, size);
    int prc = sluice_avro_json_append(plan, exact, size, &pbuf, &plen, &pcap);
    if (n < -1 || n > (int64_t)size || (prc == 0 && n < 0) || (prc != 0 && plen != 0))
        abort();
    if (n >= 0) {
        avro_value_t decoded; /* a fresh value: every read starts from nothing */
        avro_reader_t r = avro_reader_memory((const char *)exact, n);
        if (sluice_envelope_new_value(env, &decoded) || avro_value_read(r, &decoded) != 0)
            abort(); /* check accepted what avro-c cannot read in those n bytes */
        int vrc = sluice_value_json_append(&decoded, &vbuf, &vlen, &vcap);
        if (vrc != prc || (prc == 0 && (plen != vlen || memcmp(pbuf, vbuf, plen) != 0)))
            abort(); /* the two JSON texts differ */
        avro_value_decref(&decoded);
        avro_reader_free(r);
    }
    free(exact);
    return 0;
}

/* Envelopes as a source writes them: an insert, an update, a delete. */
int LLVMFuzzerSeeds(uint8_t **seeds, size_t *sizes, int max)
{
    static char wire[4096];
    int n = 0;
    if (setup())
        return 0;
    for (int i = 0; i < 3 && n < max; i++) {
        avro_value_t v, row;
        sluice_source_info src = {
            "1.0", "postgresql", "fuzz",   1700000000000 + i, "false",         "db", "public",
            "t",   42 + i,       1000 * i, SLUICE_NULL_POS,   SLUICE_NULL_POS, NULL, NULL};
        if (sluice_envelope_new_value(env, &v))
            abort();
        sluice_envelope_set_source(&v, &src);
        sluice_envelope_set_op(&v, "cud"[i]);
        sluice_envelope_set_ts(&v, 1700000000123 + i);
        if (i < 2 && sluice_envelope_after(&v, &row) == 0) {
            sluice_field_set_long(&row, "id", 7 + i);
            sluice_field_set_string(&row, "name", i ? "caf\xc3\xa9 \"q\"" : "plain name");
            sluice_field_set_string(&row, "email", "a@example.com");
            sluice_field_set_double(&row, "balance", 12.25 * i - 3);
            sluice_field_set_bool(&row, "ok", i);
            sluice_field_set_long(&row, "at", 1700000000000);
            sluice_field_set_float(&row, "score", 0.1f);
            sluice_field_set_bytes(&row, "blob", "\x00\xff\x10", 3);
            sluice_field_set_int(&row, "qty", -5);
        }
        if (i > 0 && sluice_envelope_before(&v, &row) == 0) {
            sluice_field_set_long(&row, "id", 7 + i);
            sluice_field_set_string(&row, "name", "old");
            sluice_field_set_null(&row, "email");
            sluice_field_set_null(&row, "balance");
            sluice_field_set_bool(&row, "ok", 0);
            sluice_field_set_long(&row, "at", -1);
            sluice_field_set_null(&row, "score");
            sluice_field_set_null(&row, "blob");
            sluice_field_set_null(&row, "qty");
        }
        avro_writer_t w = avro_writer_memory(wire, sizeof(wire));
        if (avro_value_write(w, &v))
            abort();
        sizes[n] = (size_t)avro_writer_tell(w);
        seeds[n] = malloc(sizes[n]);
        memcpy(seeds[n], wire, sizes[n]);
        n++;
        avro_writer_free(w);
        avro_value_decref(&v);
    }
    return n;
}
