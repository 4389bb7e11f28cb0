/*
 * kproto.h - Kafka wire primitives: a bounds-checked reader and a growable
 * writer. Private to the broker module.
 *
 * Reader: every kr_* call checks the bytes left; on underflow it sets r->err,
 * returns a zero value and every later call is a no-op, so a handler parses
 * straight through and checks r->err once where it must act (the style of
 * librdkafka's rd_kafka_buf_read_* macros, without the goto). Lengths read
 * from the wire are never trusted: array counts are bounded by the bytes
 * left, strings by the frame.
 *
 * Writer: a byte buffer that grows by doubling; kw_reserve-style helpers
 * return offsets so a length or count can be patched after the fact.
 * Out of memory aborts (the broker cannot answer anything without memory).
 */
#ifndef SL_KPROTO_H
#define SL_KPROTO_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

typedef struct kr {
    const uint8_t *p;
    const uint8_t *end;
    int err;
} kr;

typedef struct kstr {
    const char *s; /* not NUL-terminated; NULL for a null string */
    int32_t len;   /* -1 for null */
} kstr;

static inline void kr_init(kr *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->end = p + len;
    r->err = 0;
}
static inline size_t kr_left(const kr *r)
{
    return r->err ? 0 : (size_t)(r->end - r->p);
}
static inline int kr_need(kr *r, size_t n)
{
    if (r->err || (size_t)(r->end - r->p) < n) {
        r->err = 1;
        return 0;
    }
    return 1;
}
static inline int8_t kr_i8(kr *r)
{
    if (!kr_need(r, 1))
        return 0;
    return (int8_t)*r->p++;
}
static inline int16_t kr_i16(kr *r)
{
    if (!kr_need(r, 2))
        return 0;
    int16_t v = (int16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    return v;
}
static inline int32_t kr_i32(kr *r)
{
    if (!kr_need(r, 4))
        return 0;
    int32_t v = (int32_t)sl_be32(r->p);
    r->p += 4;
    return v;
}
static inline int64_t kr_i64(kr *r)
{
    if (!kr_need(r, 8))
        return 0;
    int64_t v = (int64_t)sl_be64(r->p);
    r->p += 8;
    return v;
}
static inline uint64_t kr_uvarint(kr *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (!kr_need(r, 1))
            return 0;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->err = 1;
    return 0;
}
/* int16-length string; -1 = null */
static inline kstr kr_str(kr *r)
{
    kstr s = {NULL, -1};
    int16_t len = kr_i16(r);
    if (len < 0 || r->err)
        return s;
    if (!kr_need(r, (size_t)len))
        return s;
    s.s = (const char *)r->p;
    s.len = len;
    r->p += len;
    return s;
}
/* compact string: uvarint length+1; 0 = null */
static inline kstr kr_cstr(kr *r)
{
    kstr s = {NULL, -1};
    uint64_t n = kr_uvarint(r);
    if (n == 0 || r->err)
        return s;
    if (!kr_need(r, (size_t)(n - 1)))
        return s;
    s.s = (const char *)r->p;
    s.len = (int32_t)(n - 1);
    r->p += n - 1;
    return s;
}
/* int32-length bytes; returns pointer (NULL for null) and *len (-1 null) */
static inline const uint8_t *kr_bytes(kr *r, int32_t *len)
{
    int32_t n = kr_i32(r);
    *len = -1;
    if (r->err || n < 0)
        return NULL;
    if (!kr_need(r, (size_t)n))
        return NULL;
    const uint8_t *p = r->p;
    r->p += n;
    *len = n;
    return p;
}
/* Array count: -1 (null) is returned as -1; a count that could not fit in
 * the bytes left (each element at least min_elem bytes) is a parse error. */
static inline int32_t kr_array(kr *r, size_t min_elem)
{
    int32_t n = kr_i32(r);
    if (r->err)
        return 0;
    if (n < -1 || (n > 0 && (size_t)n > kr_left(r) / (min_elem ? min_elem : 1))) {
        r->err = 1;
        return 0;
    }
    return n;
}
/* Skip tagged fields (flexible versions). */
static inline void kr_skip_tags(kr *r)
{
    uint64_t n = kr_uvarint(r);
    for (uint64_t i = 0; i < n && !r->err; i++) {
        (void)kr_uvarint(r);
        uint64_t sz = kr_uvarint(r);
        if (!kr_need(r, (size_t)sz))
            return;
        r->p += sz;
    }
}
static inline int kstr_eq(kstr a, const char *b)
{
    return a.len >= 0 && (size_t)a.len == strlen(b) && !memcmp(a.s, b, (size_t)a.len);
}
/* Copy into a NUL-terminated buffer; returns -1 when null or too long. */
static inline int kstr_copy(kstr a, char *dst, size_t dstlen)
{
    if (a.len < 0 || (size_t)a.len >= dstlen)
        return -1;
    memcpy(dst, a.s, (size_t)a.len);
    dst[a.len] = 0;
    return 0;
}

/* ---------------- writer ---------------- */

typedef struct kw {
    uint8_t *buf;
    size_t len;
    size_t cap;
} kw;

void kw_grow(kw *w, size_t need);
static inline uint8_t *kw_space(kw *w, size_t n)
{
    if (w->len + n > w->cap)
        kw_grow(w, w->len + n);
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}
static inline void kw_i8(kw *w, int8_t v)
{
    *kw_space(w, 1) = (uint8_t)v;
}
static inline void kw_i16(kw *w, int16_t v)
{
    uint8_t *p = kw_space(w, 2);
    p[0] = (uint8_t)((uint16_t)v >> 8);
    p[1] = (uint8_t)v;
}
static inline void kw_i32(kw *w, int32_t v)
{
    sl_put_be32(kw_space(w, 4), (uint32_t)v);
}
static inline void kw_i64(kw *w, int64_t v)
{
    sl_put_be64(kw_space(w, 8), (uint64_t)v);
}
static inline void kw_put_i32_at(kw *w, size_t off, int32_t v)
{
    sl_put_be32(w->buf + off, (uint32_t)v);
}
static inline void kw_uvarint(kw *w, uint64_t v)
{
    while (v >= 0x80) {
        kw_i8(w, (int8_t)((v & 0x7f) | 0x80));
        v >>= 7;
    }
    kw_i8(w, (int8_t)v);
}
static inline void kw_strn(kw *w, const char *s, int32_t len)
{
    if (!s) {
        kw_i16(w, -1);
        return;
    }
    kw_i16(w, (int16_t)len);
    memcpy(kw_space(w, (size_t)len), s, (size_t)len);
}
static inline void kw_str(kw *w, const char *s)
{
    kw_strn(w, s, s ? (int32_t)strlen(s) : -1);
}
static inline void kw_kstr(kw *w, kstr s)
{
    kw_strn(w, s.s, s.len);
}
static inline void kw_cstr(kw *w, const char *s)
{
    if (!s) {
        kw_uvarint(w, 0);
        return;
    }
    size_t n = strlen(s);
    kw_uvarint(w, n + 1);
    memcpy(kw_space(w, n), s, n);
}
static inline void kw_free(kw *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

#endif
