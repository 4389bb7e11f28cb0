/*
 * fuzz_group_record.c - __consumer_offsets records are read back from disk
 * on every start: the decoder must refuse garbage without crashing. The
 * input is split at its first byte into key and value.
 */
#include <stdlib.h>
#include <string.h>

#include "group.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_group_record gr;
    if (size < 1)
        return 0;
    size_t klen = data[0] < size - 1 ? data[0] : size - 1;
    uint8_t *k = malloc(klen ? klen : 1), *v = malloc(size - 1 - klen + 1);
    memcpy(k, data + 1, klen);
    memcpy(v, data + 1 + klen, size - 1 - klen);
    (void)sl_group_record_decode(k, (int32_t)klen, v, (int32_t)(size - 1 - klen), &gr);
    (void)sl_group_record_decode(k, (int32_t)klen, NULL, -1, &gr);
    free(k);
    free(v);
    return 0;
}

int LLVMFuzzerSeeds(uint8_t **seeds, size_t *sizes, int max)
{
    uint8_t key[128], val[128];
    size_t kl = sl_group_offset_key(key, sizeof(key), "grp", "orders", 3);
    size_t vl = sl_group_offset_value(val, sizeof(val), 42, 0, "meta", 1700000000000LL);
    if (max < 1)
        return 0;
    seeds[0] = malloc(1 + kl + vl);
    seeds[0][0] = (uint8_t)kl;
    memcpy(seeds[0] + 1, key, kl);
    memcpy(seeds[0] + 1 + kl, val, vl);
    sizes[0] = 1 + kl + vl;
    return 1;
}
