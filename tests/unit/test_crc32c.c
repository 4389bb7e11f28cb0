/*
 * test_crc32c.c - CRC-32C: the published vectors on the hardware and the
 * software paths and through the dispatcher, incremental use, and the two
 * paths agreeing on every length and alignment (which exercises the
 * three-lane hardware loop and its lane-stitching tables).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc32c.h"
#include "crc32c_internal.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn f)
{
    uint8_t buf[32];

    CU_ASSERT_EQUAL(f(0, "123456789", 9), 0xE3069283u);
    CU_ASSERT_EQUAL(f(0, "", 0), 0u);
    memset(buf, 0, sizeof(buf));
    CU_ASSERT_EQUAL(f(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    CU_ASSERT_EQUAL(f(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    CU_ASSERT_EQUAL(f(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    CU_ASSERT_EQUAL(f(0, buf, 32), 0x113FDB5Cu); /* iSCSI descending */
}

static void test_sw_vectors(void)
{
    check_vectors(sl_crc32c_sw);
}

static void test_hw_vectors(void)
{
    if (!sl_crc32c_hw_available()) {
        printf("(no SSE4.2 here, hw path skipped) ");
        return;
    }
    check_vectors(sl_crc32c_hw);
}

static void test_dispatch_vectors(void)
{
    check_vectors(sl_crc32c);
}

/* crc(a||b) == crc(b, starting from crc(a)) at every split point. */
static void test_incremental(void)
{
    const char *s = "The quick brown fox jumps over the lazy dog, twice over.";
    size_t n = strlen(s);
    uint32_t whole = sl_crc32c(0, s, n);

    for (size_t k = 0; k <= n; k++) {
        CU_ASSERT_EQUAL(sl_crc32c(sl_crc32c(0, s, k), s + k, n - k), whole);
        CU_ASSERT_EQUAL(sl_crc32c_sw(sl_crc32c_sw(0, s, k), s + k, n - k), whole);
    }
}

/* Both paths agree for lengths around the 8-byte and 3x4096-byte steps and
 * at every alignment. */
static void test_hw_matches_sw(void)
{
    size_t cap = 3 * 3 * 4096 + 64;
    uint8_t *buf = malloc(cap);
    static const size_t lens[] = {0,    1,     7,     8,     9,     63,    64,    255,
                                  4096, 12287, 12288, 12289, 12295, 24576, 24583, 3 * 3 * 4096};

    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    srand(42);
    for (size_t i = 0; i < cap; i++)
        buf[i] = (uint8_t)rand();
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++)
        for (size_t off = 0; off < 8; off++) {
            uint32_t sw = sl_crc32c_sw(0x12345678u, buf + off, lens[li]);
            CU_ASSERT_EQUAL(sl_crc32c(0x12345678u, buf + off, lens[li]), sw);
            if (sl_crc32c_hw_available())
                CU_ASSERT_EQUAL(sl_crc32c_hw(0x12345678u, buf + off, lens[li]), sw);
        }
    free(buf);
}

/* Not a pass/fail timing: prints hw/sw throughput to catch a slow path. */
static void test_throughput_report(void)
{
    size_t n = 1 << 20;
    uint8_t *buf = calloc(1, n);
    struct timespec a, b, c;
    uint32_t x = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 64; i++)
        x ^= sl_crc32c(x, buf, n);
    clock_gettime(CLOCK_MONOTONIC, &b);
    for (int i = 0; i < 16; i++)
        x ^= sl_crc32c_sw(x, buf, n);
    clock_gettime(CLOCK_MONOTONIC, &c);
    double t1 = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    double t2 = (double)(c.tv_sec - b.tv_sec) + (double)(c.tv_nsec - b.tv_nsec) / 1e9;
    printf("(sl_crc32c %.1f GB/s, sw %.1f GB/s, x=%08x) ", 64.0 * (double)n / t1 / 1e9,
           16.0 * (double)n / t2 / 1e9, x);
    free(buf);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("crc32c", NULL, NULL);
    CU_add_test(s, "software path vectors", test_sw_vectors);
    CU_add_test(s, "hardware path vectors", test_hw_vectors);
    CU_add_test(s, "dispatched vectors", test_dispatch_vectors);
    CU_add_test(s, "incremental", test_incremental);
    CU_add_test(s, "hw matches sw", test_hw_matches_sw);
    CU_add_test(s, "throughput report", test_throughput_report);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
