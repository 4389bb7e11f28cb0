/*
 * transforms.c - Kafka Connect single message transforms and predicates over
 * avro-c generic values. See transforms.h for the configuration.
 *
 * Design
 *
 * A chain is an array of transforms, each with an optional predicate, built
 * once from the connector config. Names and options are Kafka Connect's and
 * Debezium's, so a connector config written for Kafka Connect runs here
 * unchanged; options we do not implement are refused at create time rather
 * than silently ignored.
 *
 * Schemas are never parsed or built per record (ARCHITECTURE.md 4). A
 * transform that changes the shape of a record (ReplaceField, InsertField,
 * ValueToKey, ExtractField, ExtractNewRecordState) derives a "plan" the first
 * time it sees an input schema: the output schema, its avro-c generic class,
 * and for every output field where its value comes from (an input field
 * index, or a computed value). Plans are cached per transform, keyed by the
 * input schema pointer (a reference is held, so the address cannot be
 * reused by another schema while cached). Per record only a generic value is
 * created from the cached class and filled field by field with
 * avro_value_copy_fast. A schema a transform cannot handle (InsertField on a
 * string value, a missing ValueToKey field) gets a plan holding the error,
 * so a bad stream costs a lookup per record, not a rebuild.
 *
 * Derived schemas are deep copies (schema_clone): avro-c shares named types
 * through links ("after": ["null", "Value"] points at the Value defined in
 * "before"), and a derived schema that kept "after" but not "before" would
 * otherwise reference a name it never defines. The copy writes a named type
 * in full at its first use and as a link afterwards, so the JSON a registry
 * gets is always self-contained. Derived records keep the input record's name
 * and namespace, as Kafka Connect's SchemaUtil.copySchemaBasics does; the key
 * ValueToKey builds is "io.confluent.connect.avro.ConnectDefault", the name
 * Confluent's AvroConverter gives an unnamed Connect struct.
 *
 * Ownership during apply: the record's original key and value are kept
 * alive until the whole chain succeeded, so an error anywhere restores the
 * record exactly as the caller gave it. Intermediate values (made by one
 * transform, replaced by a later one) are released as soon as they are
 * replaced. MaskField masks in place a value the chain made itself, and
 * copies the caller's value first.
 *
 * Regular expressions (RegexRouter, TopicNameMatches) are POSIX extended
 * (regcomp) with \d and \D translated; like Java's Matcher.matches() the
 * whole topic must match. Replacement strings are Java's: $n group
 * references, \ escapes the next character.
 *
 * Runs on: the task thread that owns the chain (one chain per task).
 */
#include "transforms.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "sluice/envelope.h"

/* ======================================================================== */
/* Small utilities: comma lists, growing buffers                             */
/* ======================================================================== */

typedef struct strlist {
    char **v;
    size_t n;
} strlist;

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static char *strndup_trim(const char *s, size_t len)
{
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    return strndup(s, len);
}

/* "a, b,,c" -> {a, b, c}. NULL or "" -> empty list. -1 out of memory. */
static int strlist_parse(const char *s, strlist *out)
{
    out->v = NULL;
    out->n = 0;
    if (!s)
        return 0;
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    if (!(out->v = calloc(cap, sizeof(char *))))
        return -1;
    for (const char *p = s;;) {
        size_t len = strcspn(p, ",");
        char *item = strndup_trim(p, len);
        if (!item) {
            strlist_free(out);
            return -1;
        }
        if (*item)
            out->v[out->n++] = item;
        else
            free(item);
        if (!p[len])
            break;
        p += len + 1;
    }
    return 0;
}

static int strlist_find(const strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return (int)i;
    return -1;
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static int buf_put(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int buf_puts(buf *b, const char *s)
{
    return buf_put(b, s, strlen(s));
}

static int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int buf_printf(buf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= sizeof(tmp) ? -1 : buf_put(b, tmp, (size_t)n);
}

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ======================================================================== */
/* Schemas: links, nullable unions, self-contained deep copies               */
/* ======================================================================== */

static avro_schema_t schema_unlink(avro_schema_t s)
{
    while (s && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

/* For ["null", T] or [T, "null"]: T (unlinked), with the branch indexes.
 * NULL for anything else. */
static avro_schema_t schema_nullable(avro_schema_t s, int *null_branch, int *value_branch)
{
    s = schema_unlink(s);
    if (!is_avro_union(s) || avro_schema_union_size(s) != 2)
        return NULL;
    for (int i = 0; i < 2; i++) {
        if (is_avro_null(avro_schema_union_branch(s, i))) {
            if (null_branch)
                *null_branch = i;
            if (value_branch)
                *value_branch = 1 - i;
            return schema_unlink(avro_schema_union_branch(s, 1 - i));
        }
    }
    return NULL;
}

/* A field's type with a nullable union looked through. */
static avro_schema_t schema_base(avro_schema_t s)
{
    avro_schema_t t = schema_nullable(s, NULL, NULL);
    return t ? t : schema_unlink(s);
}

static int record_field_index(avro_schema_t rec, const char *name)
{
    size_t n = avro_schema_record_size(rec);
    for (size_t i = 0; i < n; i++)
        if (strcmp(avro_schema_record_field_name(rec, (int)i), name) == 0)
            return (int)i;
    return -1;
}

/* Named types already written into the schema being built: the input's
 * definition -> the copy. */
typedef struct clone_ctx {
    avro_schema_t from[64], to[64];
    size_t n;
} clone_ctx;

static avro_schema_t clone_seen(clone_ctx *c, avro_schema_t s)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->from[i] == s)
            return c->to[i];
    return NULL;
}

static void clone_note(clone_ctx *c, avro_schema_t from, avro_schema_t to)
{
    if (c->n < sizeof(c->from) / sizeof(c->from[0])) {
        c->from[c->n] = from;
        c->to[c->n++] = to;
    }
}

static avro_schema_t schema_clone(clone_ctx *c, avro_schema_t s);

static avro_schema_t clone_record(clone_ctx *c, avro_schema_t s)
{
    avro_schema_t r = avro_schema_record(avro_schema_name(s), avro_schema_namespace(s));
    if (!r)
        return NULL;
    clone_note(c, s, r);
    size_t n = avro_schema_record_size(s);
    for (size_t i = 0; i < n; i++) {
        avro_schema_t f = schema_clone(c, avro_schema_record_field_get_by_index(s, (int)i));
        int rc = f ? avro_schema_record_field_append(r, avro_schema_record_field_name(s, (int)i), f)
                   : -1;
        if (f)
            avro_schema_decref(f);
        if (rc != 0) {
            avro_schema_decref(r);
            return NULL;
        }
    }
    return r;
}

static avro_schema_t clone_enum(clone_ctx *c, avro_schema_t s)
{
    avro_schema_t e = avro_schema_enum_ns(avro_schema_name(s), avro_schema_namespace(s));
    int n = avro_schema_enum_number_of_symbols(s);
    for (int i = 0; e && i < n; i++)
        avro_schema_enum_symbol_append(e, avro_schema_enum_get(s, i));
    if (e)
        clone_note(c, s, e);
    return e;
}

static avro_schema_t clone_union(clone_ctx *c, avro_schema_t s)
{
    avro_schema_t u = avro_schema_union();
    size_t n = avro_schema_union_size(s);
    for (size_t i = 0; u && i < n; i++) {
        avro_schema_t b = schema_clone(c, avro_schema_union_branch(s, (int)i));
        int rc = b ? avro_schema_union_append(u, b) : -1;
        if (b)
            avro_schema_decref(b);
        if (rc != 0) {
            avro_schema_decref(u);
            return NULL;
        }
    }
    return u;
}

static avro_schema_t clone_container(clone_ctx *c, avro_schema_t s)
{
    int array = is_avro_array(s);
    avro_schema_t inner =
        schema_clone(c, array ? avro_schema_array_items(s) : avro_schema_map_values(s));
    if (!inner)
        return NULL;
    avro_schema_t out = array ? avro_schema_array(inner) : avro_schema_map(inner);
    avro_schema_decref(inner);
    return out;
}

/* A new reference to a copy of s in which every named type is defined at its
 * first use within c's schema and linked afterwards. */
static avro_schema_t schema_clone(clone_ctx *c, avro_schema_t s)
{
    s = schema_unlink(s);
    avro_schema_t seen = is_avro_named_type(s) ? clone_seen(c, s) : NULL;
    if (seen)
        return avro_schema_link(seen);
    switch (avro_typeof(s)) {
    case AVRO_RECORD:
        return clone_record(c, s);
    case AVRO_ENUM:
        return clone_enum(c, s);
    case AVRO_FIXED: {
        avro_schema_t f = avro_schema_fixed_ns(avro_schema_name(s), avro_schema_namespace(s),
                                               avro_schema_fixed_size(s));
        if (f)
            clone_note(c, s, f);
        return f;
    }
    case AVRO_UNION:
        return clone_union(c, s);
    case AVRO_ARRAY:
    case AVRO_MAP:
        return clone_container(c, s);
    default:
        return avro_schema_incref(s); /* primitives */
    }
}

/* Appends field `name` of type (a copy of) `type` to rec; ["null", type]
 * when optional. -1 with err on a bad or duplicate name. */
static int record_append(clone_ctx *c, avro_schema_t rec, const char *name, avro_schema_t type,
                         int optional, char *err, size_t errlen)
{
    if (record_field_index(rec, name) >= 0) {
        snprintf(err, errlen, "field '%s' already exists in record %s", name,
                 avro_schema_name(rec));
        return -1;
    }
    avro_schema_t t = schema_clone(c, type), u = NULL;
    if (t && optional && !schema_nullable(t, NULL, NULL)) {
        u = avro_schema_union();
        avro_schema_t null = avro_schema_null();
        if (u && (avro_schema_union_append(u, null) || avro_schema_union_append(u, t))) {
            avro_schema_decref(u);
            u = NULL;
        }
        avro_schema_decref(null);
        avro_schema_decref(t);
        t = u;
    }
    int rc = t ? avro_schema_record_field_append(rec, name, t) : -1;
    if (t)
        avro_schema_decref(t);
    if (rc != 0)
        snprintf(err, errlen, "field '%s': %s", name, t ? avro_strerror() : "out of memory");
    return rc == 0 ? 0 : -1;
}

/* ======================================================================== */
/* Values                                                                    */
/* ======================================================================== */

/* v seen through a union: the current branch; *is_null when it is null. */
static int value_deref(avro_value_t *v, avro_value_t *out, int *is_null)
{
    *out = *v;
    if (avro_value_get_type(v) == AVRO_UNION) {
        int d = -1;
        avro_value_get_discriminant(v, &d);
        if (d < 0 || avro_value_get_current_branch(v, out) != 0) {
            *is_null = 1;
            return 0;
        }
    }
    *is_null = avro_value_get_type(out) == AVRO_NULL;
    return 0;
}

/* Selects the null branch of an optional field. */
static int value_set_null(avro_value_t *f)
{
    avro_value_t b;
    if (avro_value_get_type(f) == AVRO_NULL)
        return avro_value_set_null(f);
    avro_schema_t s = avro_value_get_schema(f);
    int nb = 0;
    if (!schema_nullable(s, &nb, NULL))
        return EINVAL;
    int rc = avro_value_set_branch(f, nb, &b);
    return rc ? rc : avro_value_set_null(&b);
}

/* The settable slot of field f: itself, or the non-null branch of an optional. */
static int value_slot(avro_value_t *f, avro_value_t *slot)
{
    if (avro_value_get_type(f) != AVRO_UNION) {
        *slot = *f;
        return 0;
    }
    int vb = 1;
    if (!schema_nullable(avro_value_get_schema(f), NULL, &vb))
        return EINVAL;
    return avro_value_set_branch(f, vb, slot);
}

/* Copies src into the field dst, through optional unions on either side:
 * a null src makes dst null. */
static int value_copy_into(avro_value_t *dst, avro_value_t *src)
{
    avro_type_t dt = avro_value_get_type(dst), st = avro_value_get_type(src);
    if (dt == st && (dt != AVRO_UNION || !schema_nullable(avro_value_get_schema(dst), NULL, NULL)))
        return avro_value_copy_fast(dst, src);
    avro_value_t s, d;
    int is_null;
    value_deref(src, &s, &is_null);
    if (is_null)
        return value_set_null(dst);
    int rc = value_slot(dst, &d);
    return rc ? rc : avro_value_copy_fast(&d, &s);
}

/* The text form of v (Kafka Connect's string form of a primitive; JSON for
 * the rest) appended to b. Returns 1 for null, 0 done, -1 out of memory. */
static int value_text(avro_value_t *v, buf *b)
{
    avro_value_t x;
    int is_null;
    value_deref(v, &x, &is_null);
    if (is_null)
        return 1;
    const char *s = NULL;
    const void *bytes = NULL;
    size_t size = 0;
    int32_t i32 = 0;
    int64_t i64 = 0;
    double d = 0;
    float f = 0;
    int bo = 0;
    switch (avro_value_get_type(&x)) {
    case AVRO_STRING:
        avro_value_get_string(&x, &s, &size);
        return buf_put(b, s, size ? size - 1 : 0);
    case AVRO_BYTES:
        avro_value_get_bytes(&x, &bytes, &size);
        return buf_put(b, bytes, size);
    case AVRO_INT32:
        avro_value_get_int(&x, &i32);
        return buf_printf(b, "%" PRId32, i32);
    case AVRO_INT64:
        avro_value_get_long(&x, &i64);
        return buf_printf(b, "%" PRId64, i64);
    case AVRO_DOUBLE:
        avro_value_get_double(&x, &d);
        return buf_printf(b, "%.17g", d);
    case AVRO_FLOAT:
        avro_value_get_float(&x, &f);
        return buf_printf(b, "%.9g", (double)f);
    case AVRO_BOOLEAN:
        avro_value_get_boolean(&x, &bo);
        return buf_puts(b, bo ? "true" : "false");
    case AVRO_ENUM: {
        int sym = 0;
        avro_value_get_enum(&x, &sym);
        const char *name = avro_schema_enum_get(avro_value_get_schema(&x), sym);
        return buf_puts(b, name ? name : "");
    }
    default: {
        json_t *j = sluice_value_to_json(&x);
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        int rc = text ? buf_puts(b, text) : -1;
        free(text);
        json_decref(j);
        return rc;
    }
    }
}

/* ======================================================================== */
/* Plans: what a transform does to one input schema, cached per transform    */
/* ======================================================================== */

#define SRC_COMPUTED   (-1)
#define PLAN_CACHE_MAX 4096 /* a stream with more schemas than this starts over */

typedef struct xf_added { /* ExtractNewRecordState add.fields / add.headers */
    int env;              /* envelope field index */
    int sub;              /* field of that (record) field, or -1 */
    int out;              /* output field index (add.fields) */
} xf_added;

typedef struct xf_mask { /* MaskField: one field and its replacement for its type */
    int idx;
    avro_type_t type;
    int64_t l;
    double d;
    int b;
    const char *s;
    size_t slen;
    void *zero; /* fixed: the replacement bytes (zeros by default) */
} xf_mask;

enum { U_BEFORE, U_AFTER, U_OP, U_DELETED, U_ROUTE, U_NIDX };
enum { INS_TOPIC, INS_PARTITION, INS_OFFSET, INS_TIMESTAMP, INS_STATIC, INS_N };

typedef struct plan {
    avro_schema_t in;          /* the cache key; a reference is held */
    char *error;               /* this schema cannot be transformed: why */
    int passthrough;           /* nothing to do for this schema */
    avro_schema_t out;         /* derived schema (owned), or NULL */
    avro_value_iface_t *iface; /* generic class of out (MaskField: of in) */
    int *src;                  /* per output field: input field index or SRC_COMPUTED */
    size_t nsrc;
    int idx[6]; /* transform-specific field indexes (U_*, INS_*) */
    xf_added *add, *hdr;
    size_t nadd, nhdr;
    xf_mask *mask;
    size_t nmask;
} plan;

/* Open addressing on the schema pointer; a table with many tables stays one
 * probe per record. */
typedef struct plan_cache {
    plan **slot;
    size_t cap, n; /* cap: 0 or a power of two, kept at least twice n */
    plan *last;
} plan_cache;

static void plan_free(plan *p)
{
    if (!p)
        return;
    if (p->iface)
        avro_value_iface_decref(p->iface);
    if (p->out)
        avro_schema_decref(p->out);
    if (p->in)
        avro_schema_decref(p->in);
    for (size_t i = 0; i < p->nmask; i++)
        free(p->mask[i].zero);
    free(p->mask);
    free(p->add);
    free(p->hdr);
    free(p->src);
    free(p->error);
    free(p);
}

static size_t cache_hash(const void *ptr, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)ptr * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

static void cache_clear(plan_cache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        plan_free(c->slot[i]);
        c->slot[i] = NULL;
    }
    c->n = 0;
    c->last = NULL;
}

static void cache_free(plan_cache *c)
{
    cache_clear(c);
    free(c->slot);
    c->slot = NULL;
    c->cap = 0;
}

static plan *cache_find(plan_cache *c, avro_schema_t in)
{
    if (c->last && c->last->in == in)
        return c->last;
    for (size_t i = c->cap ? cache_hash(in, c->cap) : 0; c->cap && c->slot[i];
         i = (i + 1) & (c->cap - 1)) {
        if (c->slot[i]->in == in)
            return c->last = c->slot[i];
    }
    return NULL;
}

static void cache_put(plan **slot, size_t cap, plan *p)
{
    size_t i = cache_hash(p->in, cap);
    while (slot[i])
        i = (i + 1) & (cap - 1);
    slot[i] = p;
}

static int cache_add(plan_cache *c, plan *p)
{
    if (c->n >= PLAN_CACHE_MAX)
        cache_clear(c);
    if ((c->n + 1) * 2 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        plan **slot = calloc(cap, sizeof(*slot));
        if (!slot)
            return -1;
        for (size_t i = 0; i < c->cap; i++)
            if (c->slot[i])
                cache_put(slot, cap, c->slot[i]);
        free(c->slot);
        c->slot = slot;
        c->cap = cap;
    }
    cache_put(c->slot, c->cap, p);
    c->n++;
    c->last = p;
    return 0;
}

/* Output field slots; -1 out of memory. */
static int plan_src_alloc(plan *p, size_t n)
{
    p->src = calloc(n ? n : 1, sizeof(int));
    p->nsrc = n;
    return p->src ? 0 : -1;
}

/* Sets p->out (taking the reference) and its generic class. */
static int plan_set_out(plan *p, avro_schema_t out, char *err, size_t errlen)
{
    p->out = out;
    p->iface = avro_generic_class_from_schema(out);
    if (!p->iface) {
        snprintf(err, errlen, "avro value class: %s", avro_strerror());
        return -1;
    }
    return 0;
}

/* A new value of p's output class filled from `in` through p->src; computed
 * fields are left for the caller. */
static int plan_fill(const plan *p, avro_value_t *in, avro_value_t *out)
{
    int rc = avro_generic_value_new(p->iface, out);
    if (rc != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < p->nsrc; i++) {
        if (p->src[i] == SRC_COMPUTED)
            continue;
        avro_value_t s, d;
        rc = avro_value_get_by_index(in, (size_t)p->src[i], &s, NULL);
        rc = rc ? rc : avro_value_get_by_index(out, i, &d, NULL);
        rc = rc ? rc : value_copy_into(&d, &s);
    }
    if (rc != 0)
        avro_value_decref(out);
    return rc;
}

/* ======================================================================== */
/* Regular expressions: POSIX extended, whole-string matches                 */
/* ======================================================================== */

/* Java's \d and \D become POSIX classes; inside brackets, where POSIX
 * takes a backslash literally, Java's escapes become what they mean. */
static int regex_escape(buf *b, char c, int in_bracket)
{
    if (!in_bracket) {
        char esc[2] = {'\\', c};
        return c == 'd'   ? buf_puts(b, "[0-9]")
               : c == 'D' ? buf_puts(b, "[^0-9]")
                          : buf_put(b, esc, 2);
    }
    if (c == 'd')
        return buf_puts(b, "0-9");
    if (c == 's')
        return buf_puts(b, "[:space:]");
    if (c == 'w')
        return buf_puts(b, "[:alnum:]_");
    return buf_put(b, &c, 1);
}

char *sl_regex_posix(const char *pattern)
{
    buf b = {0};
    int in_bracket = 0, rc = 0;
    for (const char *p = pattern; *p && rc == 0; p++) {
        if (*p == '\\' && p[1]) {
            rc = regex_escape(&b, *++p, in_bracket);
        } else if (*p == '[' && !in_bracket) {
            in_bracket = 1;
            rc = buf_put(&b, p, 1);
            if (rc == 0 && p[1] == '^')
                rc = buf_put(&b, ++p, 1);
            if (rc == 0 && p[1] == ']') /* a leading ] is literal */
                rc = buf_put(&b, ++p, 1);
        } else {
            if (*p == ']')
                in_bracket = 0;
            rc = buf_put(&b, p, 1);
        }
    }
    if (rc != 0) {
        free(b.p);
        return NULL;
    }
    return b.p ? b.p : strdup("");
}

int sl_regex_compile(regex_t *re, const char *pattern, char *err, size_t errlen)
{
    char *p = sl_regex_posix(pattern);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = regcomp(re, p, REG_EXTENDED);
    free(p);
    if (rc != 0) {
        char msg[128];
        regerror(rc, re, msg, sizeof(msg));
        snprintf(err, errlen, "invalid regular expression '%s': %s", pattern, msg);
        return -1;
    }
    return 0;
}

/* 1 when the whole of s matches (POSIX leftmost-longest: if any match spans
 * all of s, the one found does), with groups in m[0..nm). */
int sl_regex_full(const regex_t *re, const char *s, regmatch_t *m, size_t nm)
{
    regmatch_t one[1];
    if (nm == 0) {
        m = one;
        nm = 1;
    }
    if (regexec(re, s, nm, m, 0) != 0)
        return 0;
    return m[0].rm_so == 0 && (size_t)m[0].rm_eo == strlen(s);
}

/* Topic results, remembered: a stream has few topics, and a POSIX regexec
 * with groups costs microseconds. Direct-mapped by a hash of the topic. */
#define TCACHE_SIZE 128

typedef struct tcache_ent {
    char *in;  /* the topic */
    char *out; /* RegexRouter: the new topic, NULL = no match */
    int hit;   /* TopicNameMatches: the answer */
} tcache_ent;

typedef struct tcache {
    tcache_ent e[TCACHE_SIZE];
} tcache;

static void tcache_free(tcache *c)
{
    for (size_t i = 0; c && i < TCACHE_SIZE; i++) {
        free(c->e[i].in);
        free(c->e[i].out);
    }
    free(c);
}

/* The slot for topic; *found says whether it holds topic's answer. NULL out
 * of memory. */
static tcache_ent *tcache_slot(tcache **cp, const char *topic, int *found)
{
    uint32_t h = 2166136261u;
    for (const char *p = topic; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    if (!*cp && !(*cp = calloc(1, sizeof(tcache))))
        return NULL;
    tcache_ent *e = &(*cp)->e[h % TCACHE_SIZE];
    *found = e->in && strcmp(e->in, topic) == 0;
    return e;
}

/* Makes e hold topic (its answer to be filled by the caller). */
static int tcache_set(tcache_ent *e, const char *topic)
{
    free(e->in);
    free(e->out);
    e->out = NULL;
    e->hit = 0;
    return (e->in = strdup(topic)) ? 0 : -1;
}

/* ======================================================================== */
/* Predicates                                                                */
/* ======================================================================== */

enum { PRED_TOPIC = 1, PRED_TOMBSTONE, PRED_HEADER };

typedef struct xf_pred {
    char *name;
    int kind;
    regex_t re;
    int has_re;
    char *header;
    tcache *seen;
} xf_pred;

static void pred_free(xf_pred *p)
{
    if (!p)
        return;
    if (p->has_re)
        regfree(&p->re);
    tcache_free(p->seen);
    free(p->header);
    free(p->name);
    free(p);
}

static int pred_topic(xf_pred *p, const char *topic)
{
    int found;
    tcache_ent *e = tcache_slot(&p->seen, topic, &found);
    if (e && found)
        return e->hit;
    int hit = sl_regex_full(&p->re, topic, NULL, 0);
    if (e && tcache_set(e, topic) == 0)
        e->hit = hit;
    return hit;
}

/* 1 when the predicate holds for r. */
static int pred_test(xf_pred *p, const sl_xrec *r)
{
    switch (p->kind) {
    case PRED_TOPIC:
        return r->topic && pred_topic(p, r->topic);
    case PRED_TOMBSTONE:
        return r->value.iface == NULL;
    case PRED_HEADER:
        for (size_t i = 0; i < r->n_headers; i++)
            if (r->headers[i].key && strcmp(r->headers[i].key, p->header) == 0)
                return 1;
        return 0;
    }
    return 0;
}

/* ======================================================================== */
/* Transforms: the state of one, and the chain                               */
/* ======================================================================== */

typedef struct xf xf;

typedef struct repl_seg { /* a piece of a RegexRouter replacement */
    const char *lit;      /* literal text (into xf->repl_text), or NULL */
    size_t len;
    int group; /* group number when lit == NULL */
} repl_seg;

typedef struct ts_tok { /* a piece of a SimpleDateFormat pattern */
    char letter;        /* 0 = literal */
    int count;
    char *lit;
} ts_tok;

enum { DEL_DROP, DEL_NONE, DEL_REWRITE };

struct xf {
    char *alias;
    char *type; /* as configured */
    const struct xf_kind *kind;
    int on_key;    /* the $Key variant */
    xf_pred *pred; /* applies only where it holds (or not, negate) */
    int negate;
    plan_cache cache;
    buf scratch; /* per-record text: topics, headers */

    strlist exclude, include, ren_from, ren_to; /* ReplaceField */
    strlist fields;                             /* MaskField, ValueToKey */
    char *replacement;                          /* MaskField */
    char *ins[INS_N];                           /* InsertField field names */
    int ins_required[INS_N];
    char *static_value;
    char *field; /* ExtractField */
    regex_t re;  /* RegexRouter */
    int has_re;
    tcache *seen;
    size_t re_groups;
    repl_seg *repl;
    size_t nrepl;
    char *repl_text;
    char *topic_format; /* TimestampRouter */
    ts_tok *ts;
    size_t nts;
    int ts_has_ms, ts_valid;
    int64_t ts_unit;
    buf ts_text;
    int drop_tombstones, delete_mode; /* ExtractNewRecordState */
    strlist add_fields, add_headers;
    char *fields_prefix, *headers_prefix, *route_field;
    char **hdr_keys; /* add.headers names with their prefix */
    size_t *hdr_off; /* per record: where each header value starts in hbuf */
    int *hdr_null;
    buf hbuf;
};

typedef struct xf_kind {
    const char *name;
    int variants; /* has $Key and $Value */
    const char *const *options;
    int (*configure)(xf *x, const json_t *opts, char *err, size_t errlen);
    /* Fills p for p->in; -1 with err when that schema cannot be handled. */
    int (*plan)(xf *x, plan *p, char *err, size_t errlen);
    /* 1 keep, 0 drop, -1 error (err filled). */
    int (*apply)(sl_transforms *c, xf *x, sl_xrec *r, char *err, size_t errlen);
} xf_kind;

struct sl_transforms {
    xf **xf;
    size_t n;
    xf_pred **pred;
    size_t npred;
    sl_xrec orig;          /* the record as the caller gave it, during apply */
    char *topic[2];        /* topics the chain set; alternate, so one can be */
    size_t topic_cap[2];   /* built from the other */
    sluice_header *hdr[2]; /* header arrays the chain set; alternate likewise */
    size_t hdr_cap[2];
};

static void xf_free(xf *x)
{
    if (!x)
        return;
    cache_free(&x->cache);
    free(x->scratch.p);
    strlist_free(&x->exclude);
    strlist_free(&x->include);
    strlist_free(&x->ren_from);
    strlist_free(&x->ren_to);
    strlist_free(&x->fields);
    free(x->replacement);
    for (int i = 0; i < INS_N; i++)
        free(x->ins[i]);
    free(x->static_value);
    free(x->field);
    if (x->has_re)
        regfree(&x->re);
    tcache_free(x->seen);
    free(x->repl);
    free(x->repl_text);
    free(x->topic_format);
    for (size_t i = 0; i < x->nts; i++)
        free(x->ts[i].lit);
    free(x->ts);
    free(x->ts_text.p);
    for (size_t i = 0; x->hdr_keys && i < x->add_headers.n; i++)
        free(x->hdr_keys[i]);
    free(x->hdr_keys);
    free(x->hdr_off);
    free(x->hdr_null);
    free(x->hbuf.p);
    strlist_free(&x->add_fields);
    strlist_free(&x->add_headers);
    free(x->fields_prefix);
    free(x->headers_prefix);
    free(x->route_field);
    free(x->alias);
    free(x->type);
    free(x);
}

/* The plan of x for schema `in`, built on first use. NULL with err when the
 * schema cannot be handled. */
static plan *xf_plan(xf *x, avro_schema_t in, char *err, size_t errlen)
{
    plan *p = cache_find(&x->cache, in);
    if (!p) {
        char msg[512] = "";
        if (!(p = calloc(1, sizeof(*p)))) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        p->in = avro_schema_incref(in);
        for (int i = 0; i < (int)(sizeof(p->idx) / sizeof(p->idx[0])); i++)
            p->idx[i] = -1;
        if (x->kind->plan(x, p, msg, sizeof(msg)) != 0)
            p->error = strdup(msg[0] ? msg : "cannot transform this schema");
        if (cache_add(&x->cache, p) != 0) {
            plan_free(p);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
    }
    if (p->error) {
        snprintf(err, errlen, "%s", p->error);
        return NULL;
    }
    return p;
}

/* The key or value x works on. */
static avro_value_t *xf_target(const xf *x, sl_xrec *r)
{
    return x->on_key ? &r->key : &r->value;
}

/* 1 when v was made by this chain during this apply (so it may be changed
 * in place): it is not the caller's original. */
static int chain_owns(const sl_transforms *c, const avro_value_t *v, int on_key)
{
    const avro_value_t *o = on_key ? &c->orig.key : &c->orig.value;
    return v->iface && !(o->iface && o->self == v->self);
}

/* Puts nv (owned; NULL = none) in place of r's key or value. The one it
 * replaces is released unless it is the caller's original, which apply
 * releases at the end. */
static void chain_replace(sl_transforms *c, sl_xrec *r, int on_key, avro_value_t *nv,
                          avro_schema_t schema)
{
    avro_value_t *slot = on_key ? &r->key : &r->value;
    if (chain_owns(c, slot, on_key))
        avro_value_decref(slot);
    if (nv) {
        *slot = *nv;
    } else {
        slot->iface = NULL;
        slot->self = NULL;
    }
    if (!on_key)
        r->value_schema = schema;
}

/* Points r->topic at a copy of s in chain storage. */
static int chain_topic_set(sl_transforms *c, sl_xrec *r, const char *s, size_t len)
{
    int i = r->topic == c->topic[0] ? 1 : 0;
    if (len + 1 > c->topic_cap[i]) {
        size_t cap = len + 64;
        char *t = realloc(c->topic[i], cap);
        if (!t)
            return -1;
        c->topic[i] = t;
        c->topic_cap[i] = cap;
    }
    memcpy(c->topic[i], s, len);
    c->topic[i][len] = '\0';
    r->topic = c->topic[i];
    return 0;
}

/* r's headers followed by n more slots, in chain storage; the new slots are
 * returned for the caller to fill. NULL out of memory. */
static sluice_header *chain_headers_grow(sl_transforms *c, sl_xrec *r, size_t n)
{
    int i = r->headers == c->hdr[0] ? 1 : 0;
    size_t total = r->n_headers + n;
    if (total > c->hdr_cap[i]) {
        sluice_header *h = realloc(c->hdr[i], total * sizeof(*h));
        if (!h)
            return NULL;
        c->hdr[i] = h;
        c->hdr_cap[i] = total;
    }
    if (r->n_headers)
        memcpy(c->hdr[i], r->headers, r->n_headers * sizeof(*r->headers));
    r->headers = c->hdr[i];
    r->n_headers = total;
    return c->hdr[i] + total - n;
}

/* ======================================================================== */
/* Options                                                                   */
/* ======================================================================== */

/* A scalar config value as text ("true", "5"); NULL for null. -1 on an
 * array or object. */
static int opt_text(const json_t *v, char **out)
{
    char tmp[64];
    *out = NULL;
    if (json_is_string(v))
        *out = strdup(json_string_value(v));
    else if (json_is_true(v) || json_is_false(v))
        *out = strdup(json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
        snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v)),
            *out = strdup(tmp);
    else if (json_is_real(v))
        snprintf(tmp, sizeof(tmp), "%.17g", json_real_value(v)), *out = strdup(tmp);
    else if (json_is_null(v))
        return 0;
    else
        return -1;
    return *out ? 0 : -1;
}

/* Every "<prefix><option>" key of config as {option: text}. */
static json_t *opts_collect(const json_t *config, const char *prefix, char *err, size_t errlen)
{
    json_t *o = json_object(), *v;
    const char *k;
    size_t plen = strlen(prefix);
    json_object_foreach((json_t *)config, k, v)
    {
        if (strncmp(k, prefix, plen) != 0 || !k[plen])
            continue;
        char *text = NULL;
        if (opt_text(v, &text) != 0) {
            snprintf(err, errlen, "%s: must be a string", k);
            json_decref(o);
            return NULL;
        }
        if (text)
            json_object_set_new(o, k + plen, json_string(text));
        free(text);
    }
    return o;
}

/* -1 with err naming the first option not in known (nor type, predicate,
 * negate). */
static int opts_check(const json_t *o, const char *prefix, const char *const *known,
                      const char *what, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        int ok = !strcmp(k, "type") || !strcmp(k, "predicate") || !strcmp(k, "negate");
        for (const char *const *kn = known; !ok && kn && *kn; kn++)
            ok = strcmp(k, *kn) == 0;
        if (ok)
            continue;
        buf names = {0};
        for (const char *const *kn = known; kn && *kn; kn++)
            buf_printf(&names, "%s%.50s", kn == known ? "" : ", ", *kn);
        snprintf(err, errlen, "%s%s: unknown option for %s (known: %s)", prefix, k, what,
                 names.p ? names.p : "none");
        free(names.p);
        return -1;
    }
    return 0;
}

static const char *opt_str(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static int opt_dup(const json_t *o, const char *name, const char *def, char **out)
{
    const char *v = opt_str(o, name);
    if (!v)
        v = def;
    *out = v ? strdup(v) : NULL;
    return v && !*out ? -1 : 0;
}

static int parse_bool(const char *s, int *out)
{
    if (!strcasecmp(s, "true"))
        *out = 1;
    else if (!strcasecmp(s, "false"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int opt_bool(xf *x, const json_t *o, const char *name, int def, int *out, char *err,
                    size_t errlen)
{
    const char *v = opt_str(o, name);
    *out = def;
    if (v && parse_bool(v, out) != 0) {
        snprintf(err, errlen, "transforms.%s.%s: '%s' is not true or false", x->alias, name, v);
        return -1;
    }
    return 0;
}

static int opt_list(xf *x, const json_t *o, const char *name, const char *alias_name, int required,
                    strlist *out, char *err, size_t errlen)
{
    const char *v = opt_str(o, name);
    if (!v && alias_name)
        v = opt_str(o, alias_name);
    if (strlist_parse(v, out) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (required && out->n == 0) {
        snprintf(err, errlen, "transforms.%s.%s: missing (a non-empty list is required)", x->alias,
                 name);
        return -1;
    }
    return 0;
}

static int opt_required(xf *x, const json_t *o, const char *name, char **out, char *err,
                        size_t errlen)
{
    const char *v = opt_str(o, name);
    if (!v || !*v) {
        snprintf(err, errlen, "transforms.%s.%s: missing (required)", x->alias, name);
        return -1;
    }
    *out = strdup(v);
    return *out ? 0 : -1;
}

static const char *type_name(avro_schema_t s)
{
    s = schema_unlink(s);
    return s ? avro_schema_type_name(s) : "none";
}

/* The record schema of a key or value, or -1 with err. */
static int need_record(avro_schema_t in, avro_schema_t *rec, const char *what, char *err,
                       size_t errlen)
{
    *rec = schema_unlink(in);
    if (!is_avro_record(*rec)) {
        snprintf(err, errlen, "needs a record %s, got %s", what, type_name(in));
        return -1;
    }
    return 0;
}

static const char *what(const xf *x)
{
    return x->on_key ? "key" : "value";
}

/* ======================================================================== */
/* ReplaceField$Key / $Value: exclude, include, renames                      */
/* ======================================================================== */

static const char *const replace_opts[] = {"exclude",   "include",   "renames",
                                           "blacklist", "whitelist", NULL};

static int replace_configure(xf *x, const json_t *o, char *err, size_t errlen)
{
    strlist ren = {0};
    if (opt_list(x, o, "exclude", "blacklist", 0, &x->exclude, err, errlen) != 0 ||
        opt_list(x, o, "include", "whitelist", 0, &x->include, err, errlen) != 0 ||
        opt_list(x, o, "renames", NULL, 0, &ren, err, errlen) != 0)
        return -1;
    x->ren_from.v = calloc(ren.n + 1, sizeof(char *));
    x->ren_to.v = calloc(ren.n + 1, sizeof(char *));
    for (size_t i = 0; i < ren.n && x->ren_from.v && x->ren_to.v; i++) {
        char *colon = strchr(ren.v[i], ':');
        if (!colon || colon == ren.v[i] || !colon[1] || strchr(colon + 1, ':')) {
            snprintf(err, errlen, "transforms.%s.renames: '%s' is not old:new", x->alias, ren.v[i]);
            strlist_free(&ren);
            return -1;
        }
        x->ren_from.v[i] = strndup_trim(ren.v[i], (size_t)(colon - ren.v[i]));
        x->ren_to.v[i] = strndup_trim(colon + 1, strlen(colon + 1));
        x->ren_from.n = x->ren_to.n = i + 1;
    }
    strlist_free(&ren);
    return 0;
}

static int replace_keeps(const xf *x, const char *name)
{
    if (strlist_find(&x->exclude, name) >= 0)
        return 0;
    return x->include.n == 0 || strlist_find(&x->include, name) >= 0;
}

static int replace_plan(xf *x, plan *p, char *err, size_t errlen)
{
    avro_schema_t in, out;
    if (need_record(p->in, &in, what(x), err, errlen) != 0)
        return -1;
    size_t n = avro_schema_record_size(in), k = 0;
    int renamed = 0;
    clone_ctx cc = {0};
    if (plan_src_alloc(p, n) != 0 ||
        !(out = avro_schema_record(avro_schema_name(in), avro_schema_namespace(in))))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *name = avro_schema_record_field_name(in, (int)i);
        if (!replace_keeps(x, name))
            continue;
        int r = strlist_find(&x->ren_from, name);
        renamed |= r >= 0;
        if (record_append(&cc, out, r >= 0 ? x->ren_to.v[r] : name,
                          avro_schema_record_field_get_by_index(in, (int)i), 0, err, errlen) != 0) {
            avro_schema_decref(out);
            return -1;
        }
        p->src[k++] = (int)i;
    }
    p->nsrc = k;
    if (k == n && !renamed) {
        p->passthrough = 1;
        avro_schema_decref(out);
        return 0;
    }
    return plan_set_out(p, out, err, errlen);
}

/* Rebuilds the key or value through the plan (ReplaceField, and the copying
 * part of the other record-shaping transforms). */
static int shape_apply(sl_transforms *c, xf *x, sl_xrec *r, char *err, size_t errlen)
{
    avro_value_t *v = xf_target(x, r), nv;
    if (!v->iface)
        return 1;
    plan *p = xf_plan(x, avro_value_get_schema(v), err, errlen);
    if (!p)
        return -1;
    if (p->passthrough)
        return 1;
    int rc = plan_fill(p, v, &nv);
    if (rc != 0) {
        snprintf(err, errlen, "copying %s: %s", what(x), strerror(rc));
        return -1;
    }
    chain_replace(c, r, x->on_key, &nv, p->out);
    return 1;
}

/* ======================================================================== */
/* MaskField$Key / $Value: fields, replacement                               */
/* ======================================================================== */

static const char *const mask_opts[] = {"fields", "replacement", NULL};

static int mask_configure(xf *x, const json_t *o, char *err, size_t errlen)
{
    if (opt_list(x, o, "fields", NULL, 1, &x->fields, err, errlen) != 0)
        return -1;
    const char *r = opt_str(o, "replacement");
    if (r && !*r) {
        snprintf(err, errlen, "transforms.%s.replacement: must not be empty", x->alias);
        return -1;
    }
    return opt_dup(o, "replacement", NULL, &x->replacement);
}

/* The replacement of m (type already set) from x->replacement or the type's
 * zero. -1 with err when the text does not convert to the type. */
static int mask_value(xf *x, avro_schema_t t, xf_mask *m, const char *name, char *err,
                      size_t errlen)
{
    const char *rs = x->replacement;
    char *end = NULL;
    errno = 0;
    switch (m->type) {
    case AVRO_BOOLEAN:
        if (rs && parse_bool(rs, &m->b) != 0)
            goto bad;
        return 0;
    case AVRO_INT32:
    case AVRO_INT64:
        m->l = rs ? strtoll(rs, &end, 10) : 0;
        if (rs && (errno || *end || end == rs ||
                   (m->type == AVRO_INT32 && (m->l < INT32_MIN || m->l > INT32_MAX))))
            goto bad;
        return 0;
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        m->d = rs ? strtod(rs, &end) : 0;
        if (rs && (errno || *end || end == rs))
            goto bad;
        return 0;
    case AVRO_STRING:
    case AVRO_BYTES:
        m->s = rs ? rs : "";
        m->slen = strlen(m->s);
        return 0;
    case AVRO_ENUM:
        m->l = rs ? avro_schema_enum_get_by_name(t, rs) : 0;
        if (m->l < 0)
            goto bad;
        return 0;
    case AVRO_FIXED:
        if (rs && strlen(rs) != (size_t)avro_schema_fixed_size(t))
            goto bad;
        m->zero = calloc(1, (size_t)avro_schema_fixed_size(t) + 1);
        if (m->zero && rs)
            memcpy(m->zero, rs, strlen(rs));
        return m->zero ? 0 : -1;
    case AVRO_ARRAY:
    case AVRO_MAP:
        if (rs)
            goto bad;
        return 0;
    default:
        snprintf(err, errlen, "field '%s': cannot mask a %s", name, type_name(t));
        return -1;
    }
bad:
    snprintf(err, errlen, "field '%s': replacement '%s' does not convert to %s", name, rs ? rs : "",
             type_name(t));
    return -1;
}

static int mask_plan(xf *x, plan *p, char *err, size_t errlen)
{
    avro_schema_t in;
    if (need_record(p->in, &in, what(x), err, errlen) != 0)
        return -1;
    if (!(p->mask = calloc(x->fields.n, sizeof(xf_mask))))
        return -1;
    for (size_t i = 0; i < x->fields.n; i++) {
        int idx = record_field_index(in, x->fields.v[i]);
        if (idx < 0)
            continue; /* like Kafka: only the schema's fields are looked at */
        xf_mask *m = &p->mask[p->nmask++];
        avro_schema_t t = schema_base(avro_schema_record_field_get_by_index(in, idx));
        m->idx = idx;
        m->type = avro_typeof(t);
        if (mask_value(x, t, m, x->fields.v[i], err, errlen) != 0)
            return -1;
    }
    p->passthrough = p->nmask == 0;
    if (!p->passthrough && !(p->iface = avro_generic_class_from_schema(in))) {
        snprintf(err, errlen, "avro value class: %s", avro_strerror());
        return -1;
    }
    return 0;
}

static int mask_one(const xf_mask *m, avro_value_t *rec)
{
    avro_value_t f, v;
    int is_null;
    int rc = avro_value_get_by_index(rec, (size_t)m->idx, &f, NULL);
    if (rc != 0)
        return rc;
    value_deref(&f, &v, &is_null);
    if (is_null)
        return 0; /* null stays null */
    switch (m->type) {
    case AVRO_BOOLEAN:
        return avro_value_set_boolean(&v, m->b);
    case AVRO_INT32:
        return avro_value_set_int(&v, (int32_t)m->l);
    case AVRO_INT64:
        return avro_value_set_long(&v, m->l);
    case AVRO_FLOAT:
        return avro_value_set_float(&v, (float)m->d);
    case AVRO_DOUBLE:
        return avro_value_set_double(&v, m->d);
    case AVRO_STRING:
        return avro_value_set_string_len(&v, m->s, m->slen + 1);
    case AVRO_BYTES:
        return avro_value_set_bytes(&v, (void *)m->s, m->slen);
    case AVRO_ENUM:
        return avro_value_set_enum(&v, (int)m->l);
    case AVRO_FIXED: {
        size_t size = (size_t)avro_schema_fixed_size(avro_value_get_schema(&v));
        return avro_value_set_fixed(&v, m->zero, size);
    }
    default:
        return avro_value_reset(&v); /* arrays and maps become empty */
    }
}

static int mask_apply(sl_transforms *c, xf *x, sl_xrec *r, char *err, size_t errlen)
{
    avro_value_t *v = xf_target(x, r), nv;
    if (!v->iface)
        return 1;
    plan *p = xf_plan(x, avro_value_get_schema(v), err, errlen);
    if (!p)
        return -1;
    if (p->passthrough)
        return 1;
    int own = chain_owns(c, v, x->on_key), rc = 0;
    if (own) {
        nv = *v;
    } else {
        rc = avro_generic_value_new(p->iface, &nv);
        if (rc == 0 && (rc = avro_value_copy_fast(&nv, v)) != 0)
            avro_value_decref(&nv);
        if (rc != 0) {
            snprintf(err, errlen, "copying %s: %s", what(x), strerror(rc));
            return -1;
        }
    }
    for (size_t i = 0; rc == 0 && i < p->nmask; i++)
        rc = mask_one(&p->mask[i], &nv);
    if (rc != 0) {
        if (!own)
            avro_value_decref(&nv);
        snprintf(err, errlen, "masking %s: %s", what(x), strerror(rc));
        return -1;
    }
    if (!own)
        chain_replace(c, r, x->on_key, &nv, x->on_key ? NULL : r->value_schema);
    return 1;
}

/* ======================================================================== */
/* InsertField$Key / $Value: record metadata and a static value as fields    */
/* ======================================================================== */

static const char *const insert_opts[] = {"topic.field",
                                          "partition.field",
                                          "offset.field",
                                          "timestamp.field",
                                          "static.field",
                                          "static.value",
                                          NULL};

static int insert_configure(xf *x, const json_t *o, char *err, size_t errlen)
{
    int any = 0;
    for (int i = 0; i < INS_N; i++) {
        const char *v = opt_str(o, insert_opts[i]);
        if (!v || !*v)
            continue;
        size_t len = strlen(v);
        x->ins_required[i] = v[len - 1] == '!';
        if (v[len - 1] == '!' || v[len - 1] == '?')
            len--;
        if (len == 0 || !(x->ins[i] = strndup(v, len))) {
            snprintf(err, errlen, "transforms.%s.%s: '%s' names no field", x->alias, insert_opts[i],
                     v);
            return -1;
        }
        any = 1;
    }
    if (!any) {
        snprintf(err, errlen,
                 "transforms.%s: none of topic.field, partition.field, offset.field, "
                 "timestamp.field, static.field is set",
                 x->alias);
        return -1;
    }
    if (opt_dup(o, "static.value", NULL, &x->static_value) != 0)
        return -1;
    if (x->ins[INS_STATIC] && x->ins_required[INS_STATIC] && !x->static_value) {
        snprintf(err, errlen, "transforms.%s.static.value: missing (static.field is required)",
                 x->alias);
        return -1;
    }
    return 0;
}

static avro_schema_t insert_type(int i)
{
    switch (i) {
    case INS_PARTITION:
        return avro_schema_int();
    case INS_OFFSET:
    case INS_TIMESTAMP:
        return avro_schema_long();
    default:
        return avro_schema_string();
    }
}

static int insert_plan(xf *x, plan *p, char *err, size_t errlen)
{
    avro_schema_t in, out;
    if (need_record(p->in, &in, what(x), err, errlen) != 0)
        return -1;
    size_t n = avro_schema_record_size(in), k = n;
    clone_ctx cc = {0};
    if (plan_src_alloc(p, n + INS_N) != 0 ||
        !(out = avro_schema_record(avro_schema_name(in), avro_schema_namespace(in))))
        return -1;
    for (size_t i = 0; i < n; i++) {
        p->src[i] = (int)i;
        if (record_append(&cc, out, avro_schema_record_field_name(in, (int)i),
                          avro_schema_record_field_get_by_index(in, (int)i), 0, err, errlen) != 0)
            goto fail;
    }
    for (int i = 0; i < INS_N; i++) {
        if (!x->ins[i])
            continue;
        avro_schema_t t = insert_type(i);
        int rc = record_append(&cc, out, x->ins[i], t, !x->ins_required[i], err, errlen);
        avro_schema_decref(t);
        if (rc != 0)
            goto fail;
        p->src[k] = SRC_COMPUTED;
        p->idx[i] = (int)k++;
    }
    p->nsrc = k;
    return plan_set_out(p, out, err, errlen);
fail:
    avro_schema_decref(out);
    return -1;
}

/* Sets inserted field i of nv from r. */
static int insert_one(xf *x, const plan *p, int i, const sl_xrec *r, avro_value_t *nv, char *err,
                      size_t errlen)
{
    static const char *const missing[] = {"topic", "partition", "offset", "timestamp",
                                          "static.value"};
    avro_value_t f, s;
    int rc = avro_value_get_by_index(nv, (size_t)p->idx[i], &f, NULL);
    int have = i == INS_TOPIC       ? r->topic != NULL
               : i == INS_PARTITION ? r->partition >= 0
               : i == INS_OFFSET    ? r->offset >= 0
               : i == INS_STATIC    ? x->static_value != NULL
                                    : 1;
    if (rc == 0 && !have) {
        if (x->ins_required[i]) {
            snprintf(err, errlen, "%s '%s' is required but the record has no %s", insert_opts[i],
                     x->ins[i], missing[i]);
            return -1;
        }
        return value_set_null(&f);
    }
    rc = rc ? rc : value_slot(&f, &s);
    if (rc != 0)
        return rc;
    switch (i) {
    case INS_TOPIC:
        return avro_value_set_string(&s, r->topic);
    case INS_PARTITION:
        return avro_value_set_int(&s, r->partition);
    case INS_OFFSET:
        return avro_value_set_long(&s, r->offset);
    case INS_TIMESTAMP:
        return avro_value_set_long(&s, r->timestamp_ms ? r->timestamp_ms : now_ms());
    default:
        return avro_value_set_string(&s, x->static_value);
    }
}

static int insert_apply(sl_transforms *c, xf *x, sl_xrec *r, char *err, size_t errlen)
{
    avro_value_t *v = xf_target(x, r), nv;
    if (!v->iface)
        return 1; /* a tombstone (or no key) passes unchanged */
    plan *p = xf_plan(x, avro_value_get_schema(v), err, errlen);
    if (!p)
        return -1;
    int rc = plan_fill(p, v, &nv);
    if (rc != 0) {
        snprintf(err, errlen, "copying %s: %s", what(x), strerror(rc));
        return -1;
    }
    for (int i = 0; i < INS_N; i++) {
        if (!x->ins[i])
            continue;
        err[0] = '\0';
        if ((rc = insert_one(x, p, i, r, &nv, err, errlen)) != 0) {
            if (!err[0])
                snprintf(err, errlen, "%s '%s': %s", insert_opts[i], x->ins[i], strerror(rc));
            avro_value_decref(&nv);
            return -1;
        }
    }
    chain_replace(c, r, x->on_key, &nv, p->out);
    return 1;
}

/* ======================================================================== */
/* ValueToKey: fields of the value become the key                            */
/* ======================================================================== */

static const char *const v2k_opts[] = {"fields", NULL};

static int v2k_configure(xf *x, const json_t *o, char *err, size_t errlen)
{
    return opt_list(x, o, "fields", NULL, 1, &x->fields, err, errlen);
}

static int v2k_plan(xf *x, plan *p, char *err, size_t errlen)
{
    avro_schema_t in, out;
    if (need_record(p->in, &in, "value", err, errlen) != 0)
        return -1;
    clone_ctx cc = {0};
    if (plan_src_alloc(p, x->fields.n) != 0 ||
        !(out = avro_schema_record("ConnectDefault", "io.confluent.connect.avro")))
        return -1;
    for (size_t i = 0; i < x->fields.n; i++) {
        int idx = record_field_index(in, x->fields.v[i]);
        if (idx < 0) {
            snprintf(err, errlen, "field '%s' does not exist in value record %s", x->fields.v[i],
                     avro_schema_name(in));
            goto fail;
        }
        if (record_append(&cc, out, x->fields.v[i], avro_schema_record_field_get_by_index(in, idx),
                          0, err, errlen) != 0)
            goto fail;
        p->src[i] = idx;
    }
    return plan_set_out(p, out, err, errlen);
fail:
    avro_schema_decref(out);
    return -1;
}

static int v2k_apply(sl_transforms *c, xf *x, sl_xrec *r, char *err, size_t errlen)
{
    avro_value_t nk;
    if (!r->value.iface)
        return 1; /* a tombstone keeps its key */
    plan *p = xf_plan(x, avro_value_get_schema(&r->value), err, errlen);
    if (!p)
        return -1;
    int rc = plan_fill(p, &r->value, &nk);
    if (rc != 0) {
        snprintf(err, errlen, "building the key: %s", strerror(rc));
        return -1;
    }
    chain_replace(c, r, 1, &nk, NULL);
    return 1;
}

/* ======================================================================== */
/* ExtractField$Key / $Value: one field replaces the whole                   */
/* ======================================================================== */

static const char *const extract_opts[] = {"field", NULL};

static int extract_configure(xf *x, const json_t *o, char *err, size_t errlen)
{
    return opt_required(x, o, "field", &x->field, err, errlen);
}

static int extract_plan(xf *x, plan *p, char *err, size_t errlen)
{
    avro_schema_t in;
    if (need_record(p->in, &in, what(x), err, errlen) != 0)
        return -1;
    int idx = record_field_index(in, x->field);
    if (idx < 0) {
        snprintf(err, errlen, "field '%s' does not exist in %s record %s", x->field, what(x),
                 avro_schema_name(in));
        return -1;
    }
    clone_ctx cc = {0};
    p->idx[0] = idx;
    avro_schema_t out =
        schema_clone(&cc, schema_base(avro_schema_record_field_get_by_index(in, idx)));
    if (!out)
        return -1;
    return plan_set_out(p, out, err, errlen);
}

static int extract_apply(sl_transforms *c, xf *x, sl_xrec *r, char *err, size_t errlen)
{
    avro_value_t *v = xf_target(x, r), f, fv, nv;
    int is_null, rc;
    if (!v->iface)
        return 1;
    plan *p = xf_plan(x, avro_value_get_schema(v), err, errlen);
    if (!p)
        return -1;
    if ((rc = avro_value_get_by_index(v, (size_t)p->idx[0], &f, NULL)) != 0)
        goto fail;
    value_deref(&f, &fv, &is_null);
    if (is_null) { /* a null field: no key, or a tombstone */
        chain_replace(c, r, x->on_key, NULL, p->out);
        return 1;
    }
    if ((rc = avro_generic_value_new(p->iface, &nv)) != 0)
        goto fail;
    if ((rc = avro_value_copy_fast(&nv, &fv)) != 0) {
        avro_value_decref(&nv);
        goto fail;
    }
    chain_replace(c, r, x->on_key, &nv, p->out);
    return 1;
fail:
    snprintf(err, errlen, "field '%s': %s", x->field, strerror(rc));
    return -1;
}

/* ======================================================================== */
/* RegexRouter: regex, replacement                                           */
/* ======================================================================== */

static const char *const regex_opts[] = {"regex", "replacement", NULL};

/* Java's Matcher.appendReplacement syntax: "$n" refers to group n (further
 * digits are taken while the number stays a valid group), "\c" is c. The
 * literal pieces are copied into x->repl_text, which has room for all. */
static int repl_parse(xf *x, const char *s, char *err, size_t errlen)
{
    size_t len = strlen(s), nseg = 0;
    x->repl = calloc(len + 1, sizeof(*x->repl));
    x->repl_text = malloc(len + 1);
    if (!x->repl || !x->repl_text)
        return -1;
    char *t = x->repl_text;
    for (const char *p = s; *p;) {
        if (*p == '$') {
            if (!isdigit((unsigned char)p[1])) {
                snprintf(err, errlen,
                         "transforms.%s.replacement: '$' at %zu must be followed by a group "
                         "number (write \\$ for a dollar sign)",
                         x->alias, (size_t)(p - s));
                return -1;
            }
            int g = p[1] - '0';
            p += 2;
            while (isdigit((unsigned char)*p) && (size_t)(g * 10 + (*p - '0')) <= x->re_groups)
                g = g * 10 + (*p++ - '0');
            if ((size_t)g > x->re_groups) {
                snprintf(err, errlen,
                         "transforms.%s.replacement: no group %d in regex (%zu groups)", x->alias,
                         g, x->re_groups);
                return -1;
            }
            x->repl[nseg++] = (repl_seg){.lit = NULL, .group = g};
            continue;
        }
        if (*p == '\\') {
            if (!p[1]) {
                snprintf(err, errlen, "transforms.%s.replacement: ends with a lone '\\'", x->alias);
                return -1;
            }
            p++;
        }
        if (nseg == 0 || !x->repl[nseg - 1].lit)
            x->repl[nseg++] = (repl_seg){.lit = t, .len = 0};
        *t++ = *p++;
        x->repl[nseg - 1].len++;
    }
    x->nrepl = nseg;
    return 0;
}

static int regex_configure(xf *x, const json_t *o, char *err, size_t errlen)
{
    char *re = NULL;
    if (opt_required(x, o, "regex", &re, err, errlen) != 0)
        return -1;
    const char *repl = opt_str(o, "replacement");
    char msg[256];
    int rc = sl_regex_compile(&x->re, re, msg, sizeof(msg));
    if (rc != 0)
        snprintf(err, errlen, "transforms.%s.regex: %s", x->alias, msg);
    free(re);
    if (rc != 0)
        return -1;
    x->has_re = 1;
    x->re_groups = x->re.re_nsub;
    if (!repl) {
        snprintf(err, errlen, "transforms.%s.replacement: missing (required)", x->alias);
        return -1;
    }
    return repl_parse(x, repl, err, errlen);
}

/* The routed topic for `topic` into x->scratch; 0 no match, 1 routed, -1
 * out of memory. */
static int regex_route(xf *x, const char *topic)
{
    regmatch_t m[10], *mp = m;
    size_t nm = x->re_groups + 1;
    if (nm > 10 && !(mp = calloc(nm, sizeof(*mp))))
        return -1;
    int rc = sl_regex_full(&x->re, topic, mp, nm);
    x->scratch.len = 0;
    for (size_t i = 0; rc == 1 && i < x->nrepl; i++) {
        const repl_seg *s = &x->repl[i];
        if (s->lit && buf_put(&x->scratch, s->lit, s->len) != 0)
            rc = -1;
        else if (!s->lit && mp[s->group].rm_so >= 0 &&
                 buf_put(&x->scratch, topic + mp[s->group].rm_so,
                         (size_t)(mp[s->group].rm_eo - mp[s->group].rm_so)) != 0)
            rc = -1;
    }
    if (rc == 1 && !x->scratch.p && buf_put(&x->scratch, "", 0) != 0)
        rc = -1;
    if (mp != m)
        free(mp);
    return rc;
}

static int regex_apply(sl_transforms *c, xf *x, sl_xrec *r, char *err, size_t errlen)
{
    int found, rc;
    if (!r->topic)
        return 1;
    tcache_ent *e = tcache_slot(&x->seen, r->topic, &found);
    if (e && found)
        rc = e->out ? chain_topic_set(c, r, e->out, strlen(e->out)) : 0;
    else if ((rc = regex_route(x, r->topic)) == 1) {
        if (e && tcache_set(e, r->topic) == 0 && !(e->out = strdup(x->scratch.p))) {
            free(e->in); /* not remembered rather than remembered wrong */
            e->in = NULL;
        }
        rc = chain_topic_set(c, r, x->scratch.p, x->scratch.len);
    } else if (rc == 0 && e) {
        tcache_set(e, r->topic);
    }
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 1;
}

/* ======================================================================== */
/* TimestampRouter: topic.format, timestamp.format (SimpleDateFormat)        */
/* ======================================================================== */

static const char *const tsr_opts[] = {"topic.format", "timestamp.format", NULL};

/* Pattern letters: y M d H h m s S E a D. Text in '...' is literal ('' is a
 * quote); any other non-letter is literal. */
static int ts_parse(xf *x, const char *f, char *err, size_t errlen)
{
    size_t n = strlen(f);
    if (!(x->ts = calloc(n + 1, sizeof(*x->ts))))
        return -1;
    for (const char *p = f; *p;) {
        ts_tok *t = &x->ts[x->nts++];
        if (isalpha((unsigned char)*p)) {
            if (!strchr("yMdHhmsSEaD", *p)) {
                snprintf(err, errlen,
                         "transforms.%s.timestamp.format: pattern letter '%c' is not supported "
                         "(y M d H h m s S E a D)",
                         x->alias, *p);
                return -1;
            }
            t->letter = *p;
            x->ts_has_ms |= *p == 'S';
            while (*p == t->letter) {
                t->count++;
                p++;
            }
            continue;
        }
        buf lit = {0};
        if (*p == '\'' && p[1] == '\'') {
            buf_put(&lit, p, 1);
            p += 2;
        } else if (*p == '\'') {
            for (p++;; p++) {
                if (!*p) {
                    free(lit.p);
                    snprintf(err, errlen, "transforms.%s.timestamp.format: unterminated quote",
                             x->alias);
                    return -1;
                }
                if (*p == '\'' && p[1] != '\'')
                    break;
                p += *p == '\''; /* '' inside quotes is one quote */
                buf_put(&lit, p, 1);
            }
            p++;
        } else {
            buf_put(&lit, p++, 1);
        }
        t->lit = lit.p ? lit.p : strdup("");
        if (!t->lit)
            return -1;
    }
    return 0;
}

static int tsr_configure(xf *x, const json_t *o, char *err, size_t errlen)
{
    if (opt_dup(o, "topic.format", "${topic}-${timestamp}", &x->topic_format) != 0)
        return -1;
    const char *f = opt_str(o, "timestamp.format");
    return ts_parse(x, f ? f : "yyyyMMdd", err, errlen);
}

static int ts_format(const xf *x, int64_t ms, buf *b)
{
    static const char *const months[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
    static const char *const days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday"};
    time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int millis = (int)(ms - (int64_t)sec * 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    int rc = 0;
    for (size_t i = 0; i < x->nts && rc == 0; i++) {
        const ts_tok *t = &x->ts[i];
        int num = -1;
        switch (t->letter) {
        case 0:
            rc = buf_puts(b, t->lit);
            break;
        case 'y':
            if (t->count == 2)
                rc = buf_printf(b, "%02d", (tm.tm_year + 1900) % 100);
            else
                num = tm.tm_year + 1900;
            break;
        case 'M':
            if (t->count >= 3)
                rc = buf_printf(b, "%.*s", t->count == 3 ? 3 : 9, months[tm.tm_mon]);
            else
                num = tm.tm_mon + 1;
            break;
        case 'E':
            rc = buf_printf(b, "%.*s", t->count >= 4 ? 9 : 3, days[tm.tm_wday]);
            break;
        case 'a':
            rc = buf_puts(b, tm.tm_hour < 12 ? "AM" : "PM");
            break;
        case 'd':
            num = tm.tm_mday;
            break;
        case 'D':
            num = tm.tm_yday + 1;
            break;
        case 'H':
            num = tm.tm_hour;
            break;
        case 'h':
            num = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
            break;
        case 'm':
            num = tm.tm_min;
            break;
        case 's':
            num = tm.tm_sec;
            break;
        case 'S':
            num = millis;
            break;
        }
        if (num >= 0)
            rc = buf_printf(b, "%0*d", t->count > 20 ? 20 : t->count, num);
    }
    return rc;
}

static int tsr_apply(sl_transforms *c, xf *x, sl_xrec *r, char *err, size_t errlen)
{
    int64_t ms = r->timestamp_ms ? r->timestamp_ms : now_ms();
    int rc = 0;
    /* the formatted time changes at most once a second (or per ms with S) */
    int64_t unit = x->ts_has_ms ? ms : (ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    if (!x->ts_valid || unit != x->ts_unit) {
        x->ts_text.len = 0;
        rc = ts_format(x, ms, &x->ts_text);
        if (rc == 0 && !x->ts_text.p)
            rc = buf_put(&x->ts_text, "", 0);
        x->ts_valid = rc == 0;
        x->ts_unit = unit;
    }
    x->scratch.len = 0;
    for (const char *p = x->topic_format; rc == 0 && *p;) {
        if (!strncmp(p, "${topic}", 8)) {
            rc = buf_puts(&x->scratch, r->topic ? r->topic : "");
            p += 8;
        } else if (!strncmp(p, "${timestamp}", 12)) {
            rc = buf_put(&x->scratch, x->ts_text.p, x->ts_text.len);
            p += 12;
        } else {
            rc = buf_put(&x->scratch, p++, 1);
        }
    }
    if (rc == 0 && !x->scratch.p)
        rc = buf_put(&x->scratch, "", 0);
    if (rc != 0 || chain_topic_set(c, r, x->scratch.p, x->scratch.len) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 1;
}

/* ======================================================================== */
/* Filter: drops the record (where its predicate holds)                      */
/* ======================================================================== */

static int filter_configure(xf *x, const json_t *o, char *err, size_t errlen)
{
    return 0;
}

static int filter_apply(sl_transforms *c, xf *x, sl_xrec *r, char *err, size_t errlen)
{
    return 0;
}

/* ======================================================================== */
/* io.debezium.transforms.ExtractNewRecordState: the row instead of the      */
/* envelope                                                                  */
/* ======================================================================== */

static const char *const unwrap_opts[] = {
    "drop.tombstones",    "delete.handling.mode", "delete.tombstone.handling.mode",
    "add.fields",         "add.fields.prefix",    "add.headers",
    "add.headers.prefix", "route.by.field",       NULL};

/* delete.tombstone.handling.mode (Debezium 2.5+) replaces the two older
 * options when set. */
static int unwrap_modes(xf *x, const json_t *o, char *err, size_t errlen)
{
    const char *m = opt_str(o, "delete.handling.mode"), *t;
    if (opt_bool(x, o, "drop.tombstones", 1, &x->drop_tombstones, err, errlen) != 0)
        return -1;
    x->delete_mode = DEL_DROP;
    if (m && !strcmp(m, "none"))
        x->delete_mode = DEL_NONE;
    else if (m && !strcmp(m, "rewrite"))
        x->delete_mode = DEL_REWRITE;
    else if (m && strcmp(m, "drop")) {
        snprintf(err, errlen,
                 "transforms.%s.delete.handling.mode: '%s' is not one of drop, rewrite, none",
                 x->alias, m);
        return -1;
    }
    if (!(t = opt_str(o, "delete.tombstone.handling.mode")))
        return 0;
    static const struct {
        const char *name;
        int mode, drop_tombstones;
    } modes[] = {{"drop", DEL_DROP, 1},
                 {"tombstone", DEL_NONE, 1},
                 {"rewrite", DEL_REWRITE, 1},
                 {"rewrite-with-tombstone", DEL_REWRITE, 0}};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (!strcmp(t, modes[i].name)) {
            x->delete_mode = modes[i].mode;
            x->drop_tombstones = modes[i].drop_tombstones;
            return 0;
        }
    }
    snprintf(err, errlen,
             "transforms.%s.delete.tombstone.handling.mode: '%s' is not one of drop, tombstone, "
             "rewrite, rewrite-with-tombstone",
             x->alias, t);
    return -1;
}

/* prefix + name with '.' -> '_': "source.ts_ms" -> "__source_ts_ms". */
static char *unwrap_name(const char *prefix, const char *name)
{
    size_t pl = strlen(prefix), nl = strlen(name);
    char *s = malloc(pl + nl + 1);
    if (!s)
        return NULL;
    memcpy(s, prefix, pl);
    for (size_t i = 0; i <= nl; i++)
        s[pl + i] = name[i] == '.' ? '_' : name[i];
    return s;
}

static int unwrap_configure(xf *x, const json_t *o, char *err, size_t errlen)
{
    if (unwrap_modes(x, o, err, errlen) != 0 ||
        opt_list(x, o, "add.fields", NULL, 0, &x->add_fields, err, errlen) != 0 ||
        opt_list(x, o, "add.headers", NULL, 0, &x->add_headers, err, errlen) != 0 ||
        opt_dup(o, "add.fields.prefix", "__", &x->fields_prefix) != 0 ||
        opt_dup(o, "add.headers.prefix", "__", &x->headers_prefix) != 0 ||
        opt_dup(o, "route.by.field", NULL, &x->route_field) != 0)
        return -1;
    if (x->route_field && !*x->route_field) {
        free(x->route_field);
        x->route_field = NULL;
    }
    size_t nh = x->add_headers.n;
    x->hdr_keys = calloc(nh + 1, sizeof(char *));
    x->hdr_off = calloc(nh + 1, sizeof(size_t));
    x->hdr_null = calloc(nh + 1, sizeof(int));
    if (!x->hdr_keys || !x->hdr_off || !x->hdr_null)
        return -1;
    for (size_t i = 0; i < nh; i++)
        if (!(x->hdr_keys[i] = unwrap_name(x->headers_prefix, x->add_headers.v[i])))
            return -1;
    return 0;
}

/* Where the envelope holds `name`: "struct.field" (source.ts_ms,
 * transaction.id), a top-level non-record field (op, ts_ms), or else a
 * field of source (table, lsn). */
static int unwrap_resolve(avro_schema_t env, const char *name, xf_added *a, avro_schema_t *type,
                          char *err, size_t errlen)
{
    const char *dot = strchr(name, '.');
    char head[128];
    a->sub = -1;
    if (!dot) {
        a->env = record_field_index(env, name);
        *type =
            a->env >= 0 ? schema_base(avro_schema_record_field_get_by_index(env, a->env)) : NULL;
        if (a->env >= 0 && !is_avro_record(*type))
            return 0;
    }
    snprintf(head, sizeof(head), "%.*s", dot ? (int)(dot - name) : 6, dot ? name : "source");
    const char *sub = dot ? dot + 1 : name;
    a->env = record_field_index(env, head);
    avro_schema_t st =
        a->env >= 0 ? schema_base(avro_schema_record_field_get_by_index(env, a->env)) : NULL;
    a->sub = is_avro_record(st) ? record_field_index(st, sub) : -1;
    if (a->sub < 0) {
        snprintf(err, errlen, "'%s': no such field in the envelope%s", name,
                 dot ? "" : " nor in its source");
        return -1;
    }
    *type = schema_base(avro_schema_record_field_get_by_index(st, a->sub));
    return 0;
}

static int unwrap_plan_fields(xf *x, plan *p, avro_schema_t env, avro_schema_t row,
                              avro_schema_t out, char *err, size_t errlen)
{
    clone_ctx cc = {0};
    size_t n = avro_schema_record_size(row), k = 0;
    char msg[256];
    for (; k < n; k++) {
        p->src[k] = (int)k;
        if (record_append(&cc, out, avro_schema_record_field_name(row, (int)k),
                          avro_schema_record_field_get_by_index(row, (int)k), 0, err, errlen))
            return -1;
    }
    for (size_t i = 0; i < x->add_fields.n; i++) {
        avro_schema_t t;
        xf_added *a = &p->add[p->nadd++];
        char *name = unwrap_name(x->fields_prefix, x->add_fields.v[i]);
        int rc = name ? unwrap_resolve(env, x->add_fields.v[i], a, &t, msg, sizeof(msg)) : -1;
        if (rc != 0)
            snprintf(err, errlen, "add.fields %s", name ? msg : "out of memory");
        rc = rc ? rc : record_append(&cc, out, name, t, 1, err, errlen);
        free(name);
        if (rc != 0)
            return -1;
        p->src[k] = SRC_COMPUTED;
        a->out = (int)k++;
    }
    if (x->delete_mode == DEL_REWRITE) {
        avro_schema_t t = avro_schema_string();
        char *name = unwrap_name(x->fields_prefix, "deleted");
        int rc = name ? record_append(&cc, out, name, t, 1, err, errlen) : -1;
        avro_schema_decref(t);
        free(name);
        if (rc != 0)
            return -1;
        p->src[k] = SRC_COMPUTED;
        p->idx[U_DELETED] = (int)k++;
    }
    p->nsrc = k;
    return 0;
}

static int unwrap_plan(xf *x, plan *p, char *err, size_t errlen)
{
    avro_schema_t env = schema_unlink(p->in), row, out, t;
    char msg[256];
    if (!is_avro_record(env) || (p->idx[U_BEFORE] = record_field_index(env, "before")) < 0 ||
        (p->idx[U_AFTER] = record_field_index(env, "after")) < 0 ||
        (p->idx[U_OP] = record_field_index(env, "op")) < 0) {
        p->passthrough = 1; /* not a change event (a heartbeat, a schema change) */
        return 0;
    }
    row = schema_nullable(avro_schema_record_field_get_by_index(env, p->idx[U_AFTER]), NULL, NULL);
    if (!is_avro_record(row)) {
        snprintf(err, errlen, "envelope %s: 'after' is not an optional record",
                 avro_schema_name(env));
        return -1;
    }
    size_t n = avro_schema_record_size(row) + x->add_fields.n + 1;
    p->add = calloc(x->add_fields.n + 1, sizeof(xf_added));
    p->hdr = calloc(x->add_headers.n + 1, sizeof(xf_added));
    if (!p->add || !p->hdr || plan_src_alloc(p, n) != 0 ||
        !(out = avro_schema_record(avro_schema_name(row), avro_schema_namespace(row))))
        return -1;
    if (unwrap_plan_fields(x, p, env, row, out, err, errlen) != 0) {
        avro_schema_decref(out);
        return -1;
    }
    for (; p->nhdr < x->add_headers.n; p->nhdr++) {
        if (unwrap_resolve(env, x->add_headers.v[p->nhdr], &p->hdr[p->nhdr], &t, msg,
                           sizeof(msg)) != 0) {
            snprintf(err, errlen, "add.headers %s", msg);
            avro_schema_decref(out);
            return -1;
        }
    }
    if (x->route_field && (p->idx[U_ROUTE] = record_field_index(out, x->route_field)) < 0) {
        snprintf(err, errlen, "route.by.field: no field '%s' in %s", x->route_field,
                 avro_schema_name(row));
        avro_schema_decref(out);
        return -1;
    }
    return plan_set_out(p, out, err, errlen);
}

/* The value of added field a in the envelope. */
static int unwrap_field(avro_value_t *env, const xf_added *a, avro_value_t *out, int *is_null)
{
    avro_value_t f, fv;
    int rc = avro_value_get_by_index(env, (size_t)a->env, &f, NULL);
    if (rc != 0)
        return rc;
    value_deref(&f, &fv, is_null);
    if (*is_null || a->sub < 0) {
        *out = fv;
        return 0;
    }
    rc = avro_value_get_by_index(&fv, (size_t)a->sub, &f, NULL);
    if (rc == 0)
        value_deref(&f, out, is_null);
    return rc;
}

static int unwrap_set_field(avro_value_t *rec, int idx, avro_value_t *v, int is_null)
{
    avro_value_t f, slot;
    int rc = avro_value_get_by_index(rec, (size_t)idx, &f, NULL);
    if (rc != 0)
        return rc;
    if (is_null)
        return value_set_null(&f);
    rc = value_slot(&f, &slot);
    return rc ? rc : avro_value_copy_fast(&slot, v);
}

/* add.headers: prefixed names, values in their text form (null: no bytes). */
static int unwrap_headers(sl_transforms *c, xf *x, const plan *p, avro_value_t *env, sl_xrec *r)
{
    if (p->nhdr == 0)
        return 0;
    x->hbuf.len = 0;
    for (size_t i = 0; i < p->nhdr; i++) {
        avro_value_t v;
        int is_null, rc = unwrap_field(env, &p->hdr[i], &v, &is_null);
        x->hdr_off[i] = x->hbuf.len;
        x->hdr_null[i] = rc != 0 || is_null;
        if (!x->hdr_null[i] && (rc = value_text(&v, &x->hbuf)) < 0)
            return -1;
        x->hdr_null[i] |= rc == 1;
    }
    sluice_header *h = chain_headers_grow(c, r, p->nhdr);
    if (!h)
        return -1;
    for (size_t i = 0; i < p->nhdr; i++) {
        size_t end = i + 1 < p->nhdr ? x->hdr_off[i + 1] : x->hbuf.len;
        h[i].key = x->hdr_keys[i];
        h[i].value = x->hdr_null[i] ? NULL : x->hbuf.p + x->hdr_off[i];
        h[i].value_len = x->hdr_null[i] ? 0 : end - x->hdr_off[i];
    }
    return 0;
}

static int unwrap_is_truncate(const plan *p, avro_value_t *env)
{
    avro_value_t f, v;
    const char *op = NULL;
    size_t size = 0;
    int is_null;
    if (avro_value_get_by_index(env, (size_t)p->idx[U_OP], &f, NULL) != 0)
        return 0;
    value_deref(&f, &v, &is_null);
    if (is_null || avro_value_get_type(&v) != AVRO_STRING ||
        avro_value_get_string(&v, &op, &size) != 0)
        return 0;
    return op && op[0] == 't' && op[1] == '\0';
}

/* The unwrapped value: the row plus added fields. */
static int unwrap_build(xf *x, const plan *p, avro_value_t *env, avro_value_t *row, int deleted,
                        avro_value_t *nv)
{
    int rc = plan_fill(p, row, nv);
    if (rc != 0)
        return rc; /* plan_fill released nv */
    for (size_t i = 0; rc == 0 && i < p->nadd; i++) {
        avro_value_t v;
        int is_null;
        rc = unwrap_field(env, &p->add[i], &v, &is_null);
        rc = rc ? rc : unwrap_set_field(nv, p->add[i].out, &v, is_null);
    }
    if (rc == 0 && p->idx[U_DELETED] >= 0) {
        avro_value_t f, slot;
        rc = avro_value_get_by_index(nv, (size_t)p->idx[U_DELETED], &f, NULL);
        rc = rc ? rc : value_slot(&f, &slot);
        rc = rc ? rc : avro_value_set_string(&slot, deleted ? "true" : "false");
    }
    if (rc != 0)
        avro_value_decref(nv);
    return rc;
}

/* route.by.field: the topic becomes the text of that field of the row. */
static int unwrap_route(sl_transforms *c, xf *x, const plan *p, avro_value_t *nv, sl_xrec *r)
{
    avro_value_t f;
    if (p->idx[U_ROUTE] < 0 || avro_value_get_by_index(nv, (size_t)p->idx[U_ROUTE], &f, NULL))
        return 0;
    x->scratch.len = 0;
    int rc = value_text(&f, &x->scratch);
    if (rc == 1)
        return 0; /* null: the topic stays */
    return rc == 0 ? chain_topic_set(c, r, x->scratch.p, x->scratch.len) : -1;
}

static int unwrap_apply(sl_transforms *c, xf *x, sl_xrec *r, char *err, size_t errlen)
{
    if (!r->value.iface)
        return x->drop_tombstones ? 0 : 1;
    avro_value_t *env = &r->value, f, row, nv;
    plan *p = xf_plan(x, avro_value_get_schema(env), err, errlen);
    int is_null, deleted = 0, rc;
    if (!p)
        return -1;
    if (p->passthrough)
        return 1;
    if (unwrap_is_truncate(p, env))
        return 0; /* a truncate has no row */
    if ((rc = avro_value_get_by_index(env, (size_t)p->idx[U_AFTER], &f, NULL)) != 0)
        goto fail;
    value_deref(&f, &row, &is_null);
    if (is_null) { /* a delete */
        deleted = 1;
        if (x->delete_mode == DEL_DROP)
            return 0;
        if ((rc = avro_value_get_by_index(env, (size_t)p->idx[U_BEFORE], &f, NULL)) != 0)
            goto fail;
        value_deref(&f, &row, &is_null);
        if (x->delete_mode == DEL_NONE || is_null) {
            if (unwrap_headers(c, x, p, env, r) != 0)
                goto oom;
            chain_replace(c, r, 0, NULL, p->out);
            return 1;
        }
    }
    if ((rc = unwrap_build(x, p, env, &row, deleted, &nv)) != 0)
        goto fail;
    if (unwrap_headers(c, x, p, env, r) != 0 || unwrap_route(c, x, p, &nv, r) != 0) {
        avro_value_decref(&nv);
        goto oom;
    }
    chain_replace(c, r, 0, &nv, p->out);
    return 1;
fail:
    snprintf(err, errlen, "unwrapping the envelope: %s", strerror(rc));
    return -1;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* ======================================================================== */
/* The chain: create, apply, destroy                                         */
/* ======================================================================== */

static const xf_kind kinds[] = {
    {"ReplaceField", 1, replace_opts, replace_configure, replace_plan, shape_apply},
    {"MaskField", 1, mask_opts, mask_configure, mask_plan, mask_apply},
    {"InsertField", 1, insert_opts, insert_configure, insert_plan, insert_apply},
    {"ExtractField", 1, extract_opts, extract_configure, extract_plan, extract_apply},
    {"ValueToKey", 0, v2k_opts, v2k_configure, v2k_plan, v2k_apply},
    {"RegexRouter", 0, regex_opts, regex_configure, NULL, regex_apply},
    {"TimestampRouter", 0, tsr_opts, tsr_configure, NULL, tsr_apply},
    {"Filter", 0, NULL, filter_configure, NULL, filter_apply},
    {"ExtractNewRecordState", 0, unwrap_opts, unwrap_configure, unwrap_plan, unwrap_apply},
};

/* "org.apache.kafka.connect.transforms.ReplaceField$Value" -> kind and
 * on_key. -1 with err for an unknown type or a missing $Key/$Value. */
static int kind_find(xf *x, const char *type, char *err, size_t errlen)
{
    const char *dot = strrchr(type, '.'), *base = dot ? dot + 1 : type;
    const char *dollar = strchr(base, '$');
    size_t blen = dollar ? (size_t)(dollar - base) : strlen(base);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strlen(kinds[i].name) != blen || strncmp(kinds[i].name, base, blen) != 0)
            continue;
        x->kind = &kinds[i];
        if (!kinds[i].variants && !dollar)
            return 0;
        if (kinds[i].variants && dollar && (!strcmp(dollar, "$Key") || !strcmp(dollar, "$Value"))) {
            x->on_key = !strcmp(dollar, "$Key");
            return 0;
        }
        snprintf(err, errlen, "transforms.%s.type: '%s': use %s%s", x->alias, type, kinds[i].name,
                 kinds[i].variants ? "$Key or " : "");
        if (kinds[i].variants)
            snprintf(err + strlen(err), errlen - strlen(err), "%s$Value", kinds[i].name);
        return -1;
    }
    snprintf(err, errlen,
             "transforms.%s.type: unknown transform '%s' (ReplaceField, MaskField, InsertField, "
             "ExtractField, ValueToKey, RegexRouter, TimestampRouter, Filter, "
             "ExtractNewRecordState)",
             x->alias, type);
    return -1;
}

static xf_pred *chain_pred(const sl_transforms *c, const char *name)
{
    for (size_t i = 0; i < c->npred; i++)
        if (!strcmp(c->pred[i]->name, name))
            return c->pred[i];
    return NULL;
}

static int xf_bind_pred(sl_transforms *c, xf *x, const json_t *o, char *err, size_t errlen)
{
    const char *pn = opt_str(o, "predicate");
    if (opt_bool(x, o, "negate", 0, &x->negate, err, errlen) != 0)
        return -1;
    if (!pn || !*pn)
        return 0;
    if (!(x->pred = chain_pred(c, pn))) {
        snprintf(err, errlen, "transforms.%s.predicate: '%s' is not in predicates", x->alias, pn);
        return -1;
    }
    return 0;
}

static int xf_create(sl_transforms *c, const json_t *config, const char *alias, xf **out, char *err,
                     size_t errlen)
{
    char prefix[256], what_[128];
    xf *x = calloc(1, sizeof(*x));
    json_t *o = NULL;
    if (!x || !(x->alias = strdup(alias)))
        goto oom;
    snprintf(prefix, sizeof(prefix), "transforms.%s.", alias);
    if (!(o = opts_collect(config, prefix, err, errlen)))
        goto fail;
    const char *type = opt_str(o, "type");
    if (!type || !*type) {
        snprintf(err, errlen, "transforms.%s.type: missing (required)", alias);
        goto fail;
    }
    if (!(x->type = strdup(type)))
        goto oom;
    if (kind_find(x, type, err, errlen) != 0)
        goto fail;
    snprintf(what_, sizeof(what_), "%s", x->kind->name);
    if (opts_check(o, prefix, x->kind->options, what_, err, errlen) != 0 ||
        xf_bind_pred(c, x, o, err, errlen) != 0)
        goto fail;
    err[0] = '\0';
    if (x->kind->configure(x, o, err, errlen) != 0) {
        if (!err[0])
            goto oom;
        goto fail;
    }
    json_decref(o);
    *out = x;
    return 0;
oom:
    snprintf(err, errlen, "transforms.%s: out of memory", alias);
fail:
    json_decref(o);
    xf_free(x);
    return -1;
}

static const char *const topic_pred_opts[] = {"pattern", NULL};
static const char *const header_pred_opts[] = {"name", NULL};

static int pred_configure(xf_pred *p, const json_t *o, const char *prefix, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        int kind;
        const char *const *opts;
    } pk[] = {{"TopicNameMatches", PRED_TOPIC, topic_pred_opts},
              {"RecordIsTombstone", PRED_TOMBSTONE, NULL},
              {"HasHeaderKey", PRED_HEADER, header_pred_opts}};
    const char *type = opt_str(o, "type"), *dot = type ? strrchr(type, '.') : NULL;
    const char *base = dot ? dot + 1 : type;
    for (size_t i = 0; type && i < sizeof(pk) / sizeof(pk[0]); i++) {
        if (strcmp(base, pk[i].name) != 0)
            continue;
        p->kind = pk[i].kind;
        if (opts_check(o, prefix, pk[i].opts, pk[i].name, err, errlen) != 0)
            return -1;
        const char *arg = opt_str(o, pk[i].opts ? pk[i].opts[0] : "type");
        if (pk[i].opts && (!arg || !*arg)) {
            snprintf(err, errlen, "%s%s: missing (required)", prefix, pk[i].opts[0]);
            return -1;
        }
        if (p->kind == PRED_HEADER)
            return (p->header = strdup(arg)) ? 0 : -1;
        if (p->kind == PRED_TOPIC) {
            char msg[256];
            if (sl_regex_compile(&p->re, arg, msg, sizeof(msg)) != 0) {
                snprintf(err, errlen, "%spattern: %s", prefix, msg);
                return -1;
            }
            p->has_re = 1;
        }
        return 0;
    }
    snprintf(err, errlen, "%stype: %s '%s' (TopicNameMatches, RecordIsTombstone, HasHeaderKey)",
             prefix, type ? "unknown predicate" : "missing", type ? type : "");
    return -1;
}

static int preds_create(sl_transforms *c, const json_t *config, char *err, size_t errlen)
{
    strlist names = {0};
    const json_t *pv = json_object_get(config, "predicates");
    if (pv && !json_is_string(pv) && !json_is_null(pv)) {
        snprintf(err, errlen, "predicates: must be a comma-separated string");
        return -1;
    }
    if (strlist_parse(json_string_value(pv), &names) != 0 ||
        !(c->pred = calloc(names.n + 1, sizeof(xf_pred *))))
        goto oom;
    for (size_t i = 0; i < names.n; i++) {
        char prefix[256];
        snprintf(prefix, sizeof(prefix), "predicates.%s.", names.v[i]);
        if (chain_pred(c, names.v[i])) {
            snprintf(err, errlen, "predicates: '%s' is listed twice", names.v[i]);
            goto fail;
        }
        xf_pred *p = calloc(1, sizeof(*p));
        if (!p || !(p->name = strdup(names.v[i]))) {
            free(p);
            goto oom;
        }
        c->pred[c->npred++] = p;
        json_t *o = opts_collect(config, prefix, err, errlen);
        int rc = o ? pred_configure(p, o, prefix, err, errlen) : -1;
        json_decref(o);
        if (rc != 0)
            goto fail;
    }
    strlist_free(&names);
    return 0;
oom:
    snprintf(err, errlen, "predicates: out of memory");
fail:
    strlist_free(&names);
    return -1;
}

int sl_transforms_create(const json_t *config, sl_transforms **out, char *err, size_t errlen)
{
    strlist names = {0};
    *out = NULL;
    const json_t *tv = json_object_get(config, "transforms");
    if (tv && !json_is_string(tv) && !json_is_null(tv)) {
        snprintf(err, errlen, "transforms: must be a comma-separated string");
        return -1;
    }
    if (strlist_parse(json_string_value(tv), &names) != 0) {
        snprintf(err, errlen, "transforms: out of memory");
        return -1;
    }
    if (names.n == 0) {
        strlist_free(&names);
        return 0;
    }
    sl_transforms *c = calloc(1, sizeof(*c));
    if (!c || !(c->xf = calloc(names.n, sizeof(xf *)))) {
        snprintf(err, errlen, "transforms: out of memory");
        goto fail;
    }
    if (preds_create(c, config, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < names.n; i++) {
        if (strlist_find(&names, names.v[i]) != (int)i) {
            snprintf(err, errlen, "transforms: '%s' is listed twice", names.v[i]);
            goto fail;
        }
        if (xf_create(c, config, names.v[i], &c->xf[c->n], err, errlen) != 0)
            goto fail;
        c->n++;
    }
    strlist_free(&names);
    *out = c;
    return 0;
fail:
    strlist_free(&names);
    sl_transforms_destroy(c);
    return -1;
}

void sl_transforms_destroy(sl_transforms *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        xf_free(c->xf[i]);
    for (size_t i = 0; i < c->npred; i++)
        pred_free(c->pred[i]);
    free(c->xf);
    free(c->pred);
    for (int i = 0; i < 2; i++) {
        free(c->topic[i]);
        free(c->hdr[i]);
    }
    free(c);
}

size_t sl_transforms_count(const sl_transforms *c)
{
    return c ? c->n : 0;
}

/* Releases what the chain made in place of the caller's key and value. */
static void chain_release_own(sl_transforms *c, sl_xrec *r)
{
    if (chain_owns(c, &r->key, 1))
        avro_value_decref(&r->key);
    if (chain_owns(c, &r->value, 0))
        avro_value_decref(&r->value);
}

/* The originals replaced by the chain are released once it succeeded. */
static void chain_release_orig(sl_transforms *c, const sl_xrec *r)
{
    if (c->orig.key.iface && !(r->key.iface && r->key.self == c->orig.key.self))
        avro_value_decref(&c->orig.key);
    if (c->orig.value.iface && !(r->value.iface && r->value.self == c->orig.value.self))
        avro_value_decref(&c->orig.value);
}

int sl_transforms_apply(sl_transforms *c, sl_xrec *r, char *err, size_t errlen)
{
    if (!c)
        return 1;
    c->orig = *r;
    for (size_t i = 0; i < c->n; i++) {
        xf *x = c->xf[i];
        if (x->pred && pred_test(x->pred, r) == x->negate)
            continue;
        char msg[512] = "";
        int rc = x->kind->apply(c, x, r, msg, sizeof(msg));
        if (rc < 0) {
            snprintf(err, errlen, "transform %s (%s): %s", x->alias, x->type,
                     msg[0] ? msg : "failed");
            chain_release_own(c, r);
            *r = c->orig;
            return -1;
        }
        if (rc == 0) {
            chain_release_own(c, r);
            r->key.iface = r->value.iface = NULL;
            r->key.self = r->value.self = NULL;
            chain_release_orig(c, r);
            return 0;
        }
    }
    chain_release_orig(c, r);
    return 1;
}

/* ======================================================================== */
/* Pipeline files: a transforms array -> flat connector keys                 */
/* ======================================================================== */

/* A pipeline value as config text: scalars as their text, an array of
 * scalars as a comma list. -1 for anything else. */
static int pipe_text(const json_t *v, char **out)
{
    if (!json_is_array(v))
        return opt_text(v, out) != 0 || !*out ? -1 : 0;
    buf b = {0};
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char *t = NULL;
        if (opt_text(e, &t) != 0 || !t || (i && buf_puts(&b, ",")) || buf_puts(&b, t)) {
            free(t);
            free(b.p);
            return -1;
        }
        free(t);
    }
    *out = b.p ? b.p : strdup("");
    return *out ? 0 : -1;
}

static int pipe_set(json_t *config, const char *k1, const char *name, const char *k2,
                    const json_t *v, char *err, size_t errlen)
{
    char key[512], *text = NULL;
    snprintf(key, sizeof(key), "%s.%s.%s", k1, name, k2);
    if (pipe_text(v, &text) != 0) {
        snprintf(err, errlen, "%s: must be a string, number, boolean or list of them", key);
        return -1;
    }
    json_object_set_new(config, key, json_string(text));
    free(text);
    return 0;
}

/* Appends name to the comma list config[key]; -1 when it is there already. */
static int pipe_list_add(json_t *config, const char *key, const char *name, char *err,
                         size_t errlen)
{
    const char *cur = json_string_value(json_object_get(config, key));
    strlist l = {0};
    strlist_parse(cur, &l);
    int dup = strlist_find(&l, name) >= 0;
    strlist_free(&l);
    if (dup) {
        snprintf(err, errlen, "%s: '%s' is defined twice", key, name);
        return -1;
    }
    buf b = {0};
    if ((cur && *cur && (buf_puts(&b, cur) || buf_puts(&b, ","))) || buf_puts(&b, name)) {
        free(b.p);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_object_set_new(config, key, json_string(b.p));
    free(b.p);
    return 0;
}

static int pipe_name_ok(const char *name)
{
    if (!*name)
        return 0;
    for (const char *p = name; *p; p++)
        if (*p == ',' || isspace((unsigned char)*p))
            return 0;
    return 1;
}

/* "predicate": {"type": ..., "pattern": ..., "negate": true} -> predicates.<name>.* */
static int pipe_predicate(json_t *config, const char *name, const json_t *pred, char *err,
                          size_t errlen)
{
    const char *k;
    json_t *v;
    if (json_is_string(pred)) {
        return pipe_set(config, "transforms", name, "predicate", pred, err, errlen);
    }
    if (!json_is_object(pred) || !json_is_string(json_object_get(pred, "type"))) {
        snprintf(err, errlen,
                 "transforms %s: predicate must be a predicate name or an object with a type",
                 name);
        return -1;
    }
    json_object_foreach((json_t *)pred, k, v)
    {
        int rc = !strcmp(k, "negate") ? pipe_set(config, "transforms", name, k, v, err, errlen)
                                      : pipe_set(config, "predicates", name, k, v, err, errlen);
        if (rc != 0)
            return -1;
    }
    json_t *pn = json_string(name);
    int rc = pipe_list_add(config, "predicates", name, err, errlen) ||
             pipe_set(config, "transforms", name, "predicate", pn, err, errlen);
    json_decref(pn);
    return rc ? -1 : 0;
}

static int pipe_transform(json_t *config, size_t i, const json_t *t, char *err, size_t errlen)
{
    char defname[32], name[200];
    const char *k;
    json_t *v;
    snprintf(defname, sizeof(defname), "t%zu", i);
    if (!json_is_object(t)) {
        snprintf(err, errlen, "transforms[%zu]: must be an object", i);
        return -1;
    }
    const json_t *nv = json_object_get(t, "name");
    if (nv && !json_is_string(nv)) {
        snprintf(err, errlen, "transforms[%zu].name: must be a string", i);
        return -1;
    }
    snprintf(name, sizeof(name), "%s", nv ? json_string_value(nv) : defname);
    if (!pipe_name_ok(name)) {
        snprintf(err, errlen, "transforms[%zu].name: '%s' must be non-empty, without ',' or spaces",
                 i, name);
        return -1;
    }
    if (!json_is_string(json_object_get(t, "type"))) {
        snprintf(err, errlen, "transforms[%zu] (%s): \"type\" is missing", i, name);
        return -1;
    }
    if (pipe_list_add(config, "transforms", name, err, errlen) != 0)
        return -1;
    json_object_foreach((json_t *)t, k, v)
    {
        int rc = 0;
        if (!strcmp(k, "name"))
            continue;
        if (!strcmp(k, "predicate"))
            rc = pipe_predicate(config, name, v, err, errlen);
        else
            rc = pipe_set(config, "transforms", name, k, v, err, errlen);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int sl_transforms_from_pipeline(const json_t *array, json_t *config, char *err, size_t errlen)
{
    size_t i;
    json_t *t;
    if (!array || json_is_null(array))
        return 0;
    if (!json_is_array(array) || !json_is_object(config)) {
        snprintf(err, errlen, "transforms: must be an array of objects");
        return -1;
    }
    json_array_foreach(array, i, t)
    {
        if (pipe_transform(config, i, t, err, errlen) != 0)
            return -1;
    }
    return 0;
}
