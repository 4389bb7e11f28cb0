/*
 * base64.h - decoding base64 (RFC 4648): bytes values in Debezium JSON
 * (json_plan.c) and HTTP basic credentials (http.c). Encoding lives with
 * the JSON writer (sluice_json_append_base64).
 */
#ifndef SL_BASE64_H
#define SL_BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* Decodes the n bytes at s (the standard or the URL-safe alphabet; a '='
 * or the end of s ends it) into out, of cap bytes. Returns the decoded
 * length, or -1 for a byte of neither alphabet or more than cap bytes. */
ssize_t sl_base64_decode(const char *s, size_t n, unsigned char *out, size_t cap);

#endif
