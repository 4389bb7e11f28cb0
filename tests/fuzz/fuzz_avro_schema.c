/*
 * fuzz_avro_schema.c - the registry's Avro schema parser on outside bytes
 * (every registration body carries one). Besides never crashing, two
 * invariants must hold for every schema it accepts: its identity form parses
 * again to the same identity form, and schema resolution finds it able to
 * read its own data (a schema is always compatible with itself).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avro_schema.h"
#include "compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    sl_avro_schema *s = NULL, *again = NULL;
    if (sl_avro_parse(text, NULL, 0, &s, err, sizeof(err)) == 0) {
        char *canon = sl_avro_canonical(s), *norm = sl_avro_normalized(s);
        if (sl_avro_parse(norm, NULL, 0, &again, err, sizeof(err)))
            abort(); /* the identity form must be a valid schema */
        char *norm2 = sl_avro_normalized(again);
        if (strcmp(norm, norm2))
            abort(); /* and a fixed point */
        if (sl_compat_resolve(sl_avro_root(s), sl_avro_root(again), NULL))
            abort(); /* a schema reads its own data */
        free(canon);
        free(norm);
        free(norm2);
        sl_avro_free(again);
        sl_avro_free(s);
    }
    free(text);
    return 0;
}

static const char *const seed_texts[] = {
    "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"fields\":[{\"name\":\"i\","
    "\"type\":\"int\",\"default\":1},{\"name\":\"u\",\"type\":[\"null\",\"R\"],\"default\":null},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"],"
    "\"default\":\"A\"}},{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":{\"type\":"
    "\"array\",\"items\":\"E\"}}}]}",
    "[\"null\",\"string\",{\"type\":\"fixed\",\"name\":\"F\",\"size\":8,\"logicalType\":"
    "\"decimal\",\"precision\":10,\"scale\":2}]",
    "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":4,\"scale\":1}",
};

int LLVMFuzzerSeeds(uint8_t **seeds, size_t *sizes, int max)
{
    int n = 0;
    for (size_t i = 0; i < sizeof(seed_texts) / sizeof(seed_texts[0]) && n < max; i++, n++) {
        sizes[n] = strlen(seed_texts[i]);
        seeds[n] = malloc(sizes[n]);
        memcpy(seeds[n], seed_texts[i], sizes[n]);
    }
    return n;
}
