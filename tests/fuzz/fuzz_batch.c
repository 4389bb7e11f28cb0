/*
 * fuzz_batch.c - the record batch parser on outside bytes: validation,
 * header decode and the walk over concatenated batches (what a Produce
 * request carries) must never read out of bounds or crash.
 */
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "crc32c.h"

static int count_batch(uint8_t *p, size_t len, void *arg)
{
    (*(size_t *)arg) += len;
    sl_batch_header h;
    return sl_batch_header_decode(p, len, &h) ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    size_t seen = 0;
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    (void)sl_batch_validate(copy, size, err, sizeof(err));
    (void)sl_batch_foreach(copy, size, count_batch, &seen, err, sizeof(err));
    for (size_t off = 0; off < size;) {
        int64_t v;
        int n = sl_varint_decode(copy + off, size - off, &v);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(copy);
    return 0;
}

/* A valid one-record batch and two of them back to back. */
int LLVMFuzzerSeeds(uint8_t **seeds, size_t *sizes, int max)
{
    static const uint8_t rec[] = {0x12, 0, 0, 0, 2, 'k', 6, 'v', 'a', 'l', 0};
    size_t len = SL_BATCH_HEADER_SIZE + sizeof(rec);
    uint8_t *b = calloc(1, len * 2);
    if (max < 2)
        return 0;
    sl_put_be32(b + 8, (uint32_t)(len - 12));
    b[16] = 2;
    sl_put_be32(b + 23, 0);
    sl_put_be64(b + 43, (uint64_t)-1);
    b[51] = b[52] = 0xff;
    sl_put_be32(b + 53, (uint32_t)-1);
    sl_put_be32(b + 57, 1);
    memcpy(b + SL_BATCH_HEADER_SIZE, rec, sizeof(rec));
    sl_put_be32(b + 17, sl_crc32c(0, b + 21, len - 21));
    memcpy(b + len, b, len);
    seeds[0] = malloc(len);
    memcpy(seeds[0], b, len);
    sizes[0] = len;
    seeds[1] = b;
    sizes[1] = len * 2;
    return 2;
}
