/*
 * driver.c - runs a libFuzzer-style target (LLVMFuzzerTestOneInput) without
 * libFuzzer, so every build can exercise the fuzz targets in `make test`:
 * a deterministic xorshift generator makes N inputs, half pure noise and
 * half mutations (bit flips, truncation, length-field smashing) of the
 * target's seed inputs (LLVMFuzzerSeeds). Under clang with
 * -DSLUICE_FUZZ=ON the same targets link against real libFuzzer instead.
 *
 * usage: fuzz_<name> [iterations]   (default 200000)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Fills up to max seeds; returns how many. */
int LLVMFuzzerSeeds(uint8_t **seeds, size_t *sizes, int max);

static uint64_t state = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    uint8_t *seeds[16];
    size_t sizes[16];
    int nseeds = LLVMFuzzerSeeds(seeds, sizes, 16);
    uint8_t *buf = malloc(1 << 16);
    for (int i = 0; i < nseeds; i++)
        LLVMFuzzerTestOneInput(seeds[i], sizes[i]);
    for (long it = 0; it < iters; it++) {
        size_t len;
        if (nseeds && (it & 1)) {
            int s = (int)(next() % (uint64_t)nseeds);
            len = sizes[s];
            memcpy(buf, seeds[s], len);
            int flips = 1 + (int)(next() % 8);
            for (int f = 0; f < flips && len; f++) {
                size_t pos = next() % len;
                switch (next() % 4) {
                case 0: buf[pos] ^= (uint8_t)(1u << (next() % 8)); break;
                case 1: buf[pos] = 0xff; break;
                case 2: buf[pos] = (uint8_t)next(); break;
                case 3: len = pos; break; /* truncate */
                }
            }
        } else {
            len = next() % 512;
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)next();
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("fuzz driver: %ld inputs, no crash\n", iters);
    free(buf);
    for (int i = 0; i < nseeds; i++)
        free(seeds[i]);
    return 0;
}
