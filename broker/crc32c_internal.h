/*
 * crc32c_internal.h - the two CRC-32C implementations behind sl_crc32c, for
 * tests and benchmarks that must exercise both paths on one machine. Private
 * to broker/crc32c.c and its tests; the rest of the tree uses crc32c.h.
 */
#ifndef SL_CRC32C_INTERNAL_H
#define SL_CRC32C_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

/* Table-driven slicing-by-8; any CPU. Same contract as sl_crc32c. */
uint32_t sl_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* 1 when the CPU has SSE4.2 (and this build targets x86-64), else 0. */
int sl_crc32c_hw_available(void);

/* SSE4.2 crc32 instruction; call only when sl_crc32c_hw_available(). */
uint32_t sl_crc32c_hw(uint32_t crc, const void *buf, size_t len);

#endif
