/*
 * json_plan.h - Debezium JSON text from and into avro-c values of one
 * schema, through a plan compiled once per schema (json_plan.c has the
 * design). The json converter's hot path; converter.c keeps the caches and
 * the jansson path every answer here must equal.
 *
 * Ownership: a plan owns its texts and borrows the schema's field names:
 * use it while the schema lives (destroying it reads nothing of the
 * schema). Threads: a plan is immutable once built; a reader belongs to
 * its caller.
 */
#ifndef SL_JSON_PLAN_H
#define SL_JSON_PLAN_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_jplan sl_jplan;

/* NULL when out of memory, or the schema is recursive or deeper than 64. */
sl_jplan *sl_jplan_create(avro_schema_t schema);
void sl_jplan_destroy(sl_jplan *plan);

/* Appends value's text at *len in *buf (grown as needed, kept
 * NUL-terminated, *cap its size): byte for byte what
 * sluice_value_json_append writes. value must be of the plan's schema.
 * Returns 0, or -1 (NaN/Inf, out of memory) leaving *len as it was. */
int sl_jplan_write(const sl_jplan *plan, const avro_value_t *value, char **buf, size_t *len,
                   size_t *cap);

/* A reader: the caller sets p and end around the text, scratch to a buffer
 * of at least end - p + 1 bytes, hash to 1 and h to json_hash's seed to
 * have the payload's shape hashed (0: not), depth to 0. */
typedef struct sl_jreader {
    const char *p, *end;
    char *scratch; /* decoded strings */
    uint64_t h;    /* json_hash(payload, h, shape=1) so far, while hash is set */
    int hash;      /* 0: not hashing (and, inside, an array past its first element) */
    int depth;
} sl_jreader;

/* Skips whitespace; the next byte, or -1 at the end. */
int sl_jreader_peek(sl_jreader *r);
/* Reads the n bytes of word, or returns -1. */
int sl_jreader_lit(sl_jreader *r, const char *word, size_t n);
/* Reads one JSON value of any shape, checking it (never while hashing: -1). */
int sl_jreader_skip(sl_jreader *r);
/* Reads one JSON value into value (of plan's schema; reset or fresh) as
 * converter.c's fill() would from jansson's tree of it. 0, or -1: not done
 * (invalid, or something fill() and jansson do otherwise); value is then
 * half filled. value NULL: only checks, answering what filling would (a
 * map under it answers -1: a key twice could not be seen). */
int sl_jreader_fill(sl_jreader *r, const sl_jplan *plan, avro_value_t *value);

/* The 64-bit FNV-1a step json_hash and the reader share. */
uint64_t sl_json_fnv(uint64_t h, const void *p, size_t n);

/* The 4 hex digits after a "\u" at s (with the "\uXXXX" of the low half of
 * a surrogate pair after them), as JSON and Java properties files write a
 * character: its UTF-8 appended at *out (which moves; never longer than
 * what it decodes). How many chars of s it took, or SL_UESC_*. */
#define SL_UESC_MALFORMED (-1) /* not 4 hex digits */
#define SL_UESC_UNPAIRED  (-2) /* half a surrogate pair */
#define SL_UESC_NUL       (-3) /* \u0000: no C string can hold it */
int sl_unicode_escape(const char *s, const char *end, char **out);
/* Sets bytes value v from base64 (standard or URL alphabet, '=' ends it). */
int sl_json_set_base64(avro_value_t *v, const char *s, size_t n);

#endif
