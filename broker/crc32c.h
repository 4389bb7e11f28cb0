/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of Kafka RecordBatch v2.
 *
 * Polynomial 0x1EDC6F41 (reflected 0x82F63B78), initial value ~0, final xor ~0.
 * Known vector: crc32c("123456789") == 0xE3069283.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, slicing-by-8 otherwise.
 */
#ifndef SL_CRC32C_H
#define SL_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: pass 0 for a fresh one. Thread-safe, no allocation. */
uint32_t sl_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
