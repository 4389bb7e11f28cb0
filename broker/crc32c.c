/*
 * crc32c.c - CRC-32C (Castagnoli), checked on every produced batch and every
 * batch read back during recovery, so it has to run at memory speed.
 *
 * Two implementations, chosen once at the first call:
 *
 *   hw  x86-64 SSE4.2 `crc32` instruction, 8 bytes per instruction. For
 *       buffers of at least 3 * SL_CRC_LANE bytes it runs three independent
 *       streams over consecutive lanes (the instruction has a latency of 3
 *       cycles but a throughput of 1) and stitches them together by
 *       "shifting" the first two CRCs over the bytes that follow them: a
 *       linear map in GF(2) applied with a precomputed 4x256 table.
 *   sw  slicing-by-8: eight 256-entry tables, one 8-byte word per step.
 *
 * The dispatch is a function pointer that starts at a resolver; the resolver
 * asks __builtin_cpu_supports("sse4.2") and stores the winner (an atomic
 * store of the same value from any racing thread, so no lock). Tables are
 * built once under pthread_once. No allocation anywhere.
 */
#include "crc32c.h"
#include "crc32c_internal.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define SL_CRC_HAVE_HW 1
#else
#define SL_CRC_HAVE_HW 0
#endif

#define SL_CRC_POLY 0x82F63B78u /* 0x1EDC6F41 reflected */
#define SL_CRC_LANE 4096        /* bytes per stream in the 3-way hw loop */

static uint32_t crc_table[8][256];
static uint32_t crc_shift[4][256]; /* x^(8*SL_CRC_LANE) mod P, by byte */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* ---------------------------------------------------------------- tables */

static uint32_t crc_byte_step(uint32_t c)
{
    for (int k = 0; k < 8; k++)
        c = (c & 1) ? (c >> 1) ^ SL_CRC_POLY : c >> 1;
    return c;
}

/* Multiply (in the CRC's GF(2) representation) a by b mod P. */
static uint32_t crc_gf_mul(uint32_t a, uint32_t b)
{
    uint32_t prod = 0;
    for (int i = 0; i < 32; i++) {
        if (a & 0x80000000u)
            prod ^= b;
        a <<= 1;
        b = (b & 1) ? (b >> 1) ^ SL_CRC_POLY : b >> 1;
    }
    return prod;
}

/* x^(8n) mod P: the operator that appends n zero bytes to a raw CRC. */
static uint32_t crc_x8n(size_t n)
{
    uint32_t r = 0x80000000u;  /* x^0 */
    uint32_t sq = 0x00800000u; /* x^8 */
    for (; n; n >>= 1) {
        if (n & 1)
            r = crc_gf_mul(r, sq);
        sq = crc_gf_mul(sq, sq);
    }
    return r;
}

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++)
        crc_table[0][i] = crc_byte_step(i);
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++) {
            uint32_t c = crc_table[t - 1][i];
            crc_table[t][i] = (c >> 8) ^ crc_table[0][c & 0xff];
        }
    uint32_t op = crc_x8n(SL_CRC_LANE);
    for (int t = 0; t < 4; t++)
        for (uint32_t i = 0; i < 256; i++)
            crc_shift[t][i] = crc_gf_mul(op, i << (8 * t));
}

/* Raw CRC crc followed by SL_CRC_LANE zero bytes. */
static inline uint32_t crc_shift_lane(uint32_t crc)
{
    return crc_shift[0][crc & 0xff] ^ crc_shift[1][(crc >> 8) & 0xff] ^
           crc_shift[2][(crc >> 16) & 0xff] ^ crc_shift[3][crc >> 24];
}

/* ---------------------------------------------------------------- sw */

static inline uint32_t crc_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

uint32_t sl_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t c = ~crc;

    pthread_once(&crc_once, crc_init);
    for (; len >= 8; p += 8, len -= 8) {
        uint32_t lo = crc_le32(p) ^ c, hi = crc_le32(p + 4);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
            crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^
            crc_table[0][hi >> 24];
    }
    while (len--)
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return ~c;
}

/* ---------------------------------------------------------------- hw */

#if SL_CRC_HAVE_HW
__attribute__((target("sse4.2"))) static uint64_t crc_hw_words(uint64_t c, const uint8_t *p,
                                                               size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, p + 8 * i, 8);
        c = _mm_crc32_u64(c, v);
    }
    return c;
}

/* Three lanes of SL_CRC_LANE bytes at p, stitched into the running crc c. */
__attribute__((target("sse4.2"))) static uint64_t crc_hw_3way(uint64_t c, const uint8_t *p)
{
    uint64_t c1 = 0, c2 = 0;
    const uint8_t *p1 = p + SL_CRC_LANE, *p2 = p + 2 * SL_CRC_LANE;
    for (size_t i = 0; i < SL_CRC_LANE; i += 8) {
        uint64_t v0, v1, v2;
        memcpy(&v0, p + i, 8);
        memcpy(&v1, p1 + i, 8);
        memcpy(&v2, p2 + i, 8);
        c = _mm_crc32_u64(c, v0);
        c1 = _mm_crc32_u64(c1, v1);
        c2 = _mm_crc32_u64(c2, v2);
    }
    c = crc_shift_lane((uint32_t)c) ^ c1;
    return crc_shift_lane((uint32_t)c) ^ c2;
}

__attribute__((target("sse4.2"))) uint32_t sl_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t c = (uint32_t)~crc;

    pthread_once(&crc_once, crc_init);
    for (; len && ((uintptr_t)p & 7); len--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    for (; len >= 3 * SL_CRC_LANE; p += 3 * SL_CRC_LANE, len -= 3 * SL_CRC_LANE)
        c = crc_hw_3way(c, p);
    c = crc_hw_words(c, p, len / 8);
    p += len & ~(size_t)7;
    for (len &= 7; len; len--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

int sl_crc32c_hw_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}
#else
uint32_t sl_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    return sl_crc32c_sw(crc, buf, len);
}

int sl_crc32c_hw_available(void)
{
    return 0;
}
#endif

/* ---------------------------------------------------------------- dispatch */

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
static uint32_t crc_resolve(uint32_t crc, const void *buf, size_t len);
static crc_fn crc_impl = crc_resolve;

static uint32_t crc_resolve(uint32_t crc, const void *buf, size_t len)
{
    crc_fn f = sl_crc32c_hw_available() ? sl_crc32c_hw : sl_crc32c_sw;
    __atomic_store_n(&crc_impl, f, __ATOMIC_RELEASE);
    return f(crc, buf, len);
}

uint32_t sl_crc32c(uint32_t crc, const void *buf, size_t len)
{
    crc_fn f = __atomic_load_n(&crc_impl, __ATOMIC_ACQUIRE);
    return f(crc, buf, len);
}
