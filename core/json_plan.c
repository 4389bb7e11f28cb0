/*
 * json_plan.c - Debezium JSON text from and into avro-c values of a known
 * schema, without a tree: the json converter's per-record work
 * (converter.c keeps the caches, the {"schema", "payload"} envelope and the
 * jansson path that reads anything).
 *
 * Writing. sluice_value_json_append walks any value: per record field it
 * looks the field's name up, measures, checks and escapes it, and asks the
 * value its type. A plan does that once per schema: a record's plan holds
 * the text before each field's value (`{"name":` then `,"name":`, escaped
 * by sluice_json_append_string) and each field's plan; a union's, its
 * branches'. Writing a value is then its structure, integers and booleans
 * written here, and every other leaf (strings, reals, bytes, enums, fixed,
 * maps) handed to sluice_value_json_append: the text is byte for byte that
 * function's by construction. Recursive schemas, and schemas deeper than
 * PLAN_MAX_DEPTH, get no plan.
 *
 * Reading. The reader walks the text once and fills the value as
 * converter.c's fill() fills it from a jansson tree: a record's fields
 * found by name (the key as sluice_value_json_append spells it compared in
 * place, the next field's first), a missing field null where a union
 * allows, an integer into int/long/float/double, a real into float/double,
 * bytes from base64, maps key by key. It computes on the way what
 * json_hash(payload, h, shape=1) computes on the tree (types, keys, an
 * array's first element), so the caller can check the text has the shape
 * of the class it chose. It is strict where jansson is (a string's UTF-8
 * and escapes, a number's grammar and range, nothing after the value) and
 * gives up, answering -1, on what it does not do exactly as jansson plus
 * fill() would: a key twice (jansson keeps the last), \u0000, a lone
 * surrogate, an integer beyond int64, a real beyond double, a value that
 * does not fit. The caller then reads the text through jansson, whose
 * answer (or error message) is the one that counts; on -1 the value is
 * half filled and r->p anywhere. Given no value, the reader only checks:
 * the same walk, the same answers, nothing set (a sink taking the text as it
 * came, converter.c's peek).
 *
 * Runs on: the caller's thread; a plan is immutable once built.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "json_plan.h"
#include "sluice/envelope.h"

struct sl_jplan {
    avro_type_t type; /* links resolved */
    size_t n; /* a record's fields; a union's branches; 1: an array's items, a map's values */
    sl_jplan **sub;
    char **text; /* a record's: the text before field i's value */
    size_t *text_len;
    const char **name; /* a record's field names (the schema's) */
    size_t *name_len;
};

uint64_t sl_json_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* ======================================================================== */
/* Avro value -> JSON text                                                   */
/* ======================================================================== */

#define PLAN_MAX_DEPTH 64

void sl_jplan_destroy(sl_jplan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        sl_jplan_destroy(p->sub ? p->sub[i] : NULL);
        free(p->text ? p->text[i] : NULL);
    }
    free(p->sub);
    free(p->text);
    free(p->text_len);
    free(p->name);
    free(p->name_len);
    free(p);
}

/* up: the schemas being planned, outermost first (a link to one of them
 * is a recursive schema). */
static sl_jplan *plan_of(avro_schema_t s, avro_schema_t *up, int depth)
{
    if (depth >= PLAN_MAX_DEPTH)
        return NULL;
    if (avro_typeof(s) == AVRO_LINK) {
        s = avro_schema_link_target(s);
        for (int i = 0; i < depth; i++)
            if (up[i] == s)
                return NULL;
    }
    up[depth] = s;
    sl_jplan *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->type = avro_typeof(s);
    switch (p->type) {
    case AVRO_RECORD:
        p->n = avro_schema_record_size(s);
        break;
    case AVRO_UNION:
        p->n = avro_schema_union_size(s);
        break;
    case AVRO_ARRAY:
    case AVRO_MAP:
        p->n = 1;
        break;
    default:
        return p;
    }
    p->sub = calloc(p->n ? p->n : 1, sizeof(*p->sub));
    if (p->type == AVRO_RECORD) {
        p->text = calloc(p->n ? p->n : 1, sizeof(*p->text));
        p->text_len = calloc(p->n ? p->n : 1, sizeof(*p->text_len));
        p->name = calloc(p->n ? p->n : 1, sizeof(*p->name));
        p->name_len = calloc(p->n ? p->n : 1, sizeof(*p->name_len));
    }
    if (!p->sub ||
        (p->type == AVRO_RECORD && (!p->text || !p->text_len || !p->name || !p->name_len)))
        goto fail;
    for (size_t i = 0; i < p->n; i++) {
        avro_schema_t sub = p->type == AVRO_RECORD
                                ? avro_schema_record_field_get_by_index(s, (int)i)
                            : p->type == AVRO_UNION ? avro_schema_union_branch(s, (int)i)
                            : p->type == AVRO_MAP   ? avro_schema_map_values(s)
                                                    : avro_schema_array_items(s);
        if (!(p->sub[i] = plan_of(sub, up, depth + 1)))
            goto fail;
        if (p->type == AVRO_RECORD) {
            const char *name = p->name[i] = avro_schema_record_field_name(s, (int)i);
            size_t len = 0, cap = 0;
            if (!name || sluice_json_append_raw(i ? "," : "{", 1, &p->text[i], &len, &cap) ||
                sluice_json_append_string(name, &p->text[i], &len, &cap) ||
                sluice_json_append_raw(":", 1, &p->text[i], &len, &cap))
                goto fail;
            p->text_len[i] = len;
            p->name_len[i] = strlen(name);
            for (size_t j = 0; j < i; j++) /* a name twice: fill gives both the value */
                if (p->name_len[j] == p->name_len[i] && !memcmp(p->name[j], name, p->name_len[i]))
                    goto fail;
        }
    }
    return p;
fail:
    sl_jplan_destroy(p);
    return NULL;
}

/* The buffer being written: sluice_json_append_*'s (buf, len, cap). */
typedef struct out {
    char **buf;
    size_t *len, *cap;
} out;

/* The text writer's own appenders (envelope.c): they grow the buffer and
 * keep it NUL-terminated. */
static inline int out_put(out *o, const char *s, size_t len)
{
    return sluice_json_append_raw(s, len, o->buf, o->len, o->cap);
}

static inline int out_int(out *o, int64_t v)
{
    return sluice_json_append_int(v, o->buf, o->len, o->cap);
}

static int plan_write(out *o, const sl_jplan *p, const avro_value_t *v)
{
    avro_value_t child;
    int32_t i32;
    int64_t i64;
    size_t size = 0;
    switch (p->type) {
    case AVRO_NULL:
        return out_put(o, "null", 4);
    case AVRO_BOOLEAN:
        return avro_value_get_boolean(v, &i32) ? -1
               : i32                           ? out_put(o, "true", 4)
                                               : out_put(o, "false", 5);
    case AVRO_INT32:
        return avro_value_get_int(v, &i32) ? -1 : out_int(o, i32);
    case AVRO_INT64:
        return avro_value_get_long(v, &i64) ? -1 : out_int(o, i64);
    case AVRO_UNION:
        if (avro_value_get_discriminant(v, &i32) || i32 < 0)
            return out_put(o, "null", 4);
        if ((size_t)i32 >= p->n || avro_value_get_current_branch(v, &child))
            return -1;
        return plan_write(o, p->sub[i32], &child);
    case AVRO_RECORD:
        if (!p->n)
            return out_put(o, "{}", 2);
        for (size_t i = 0; i < p->n; i++)
            if (out_put(o, p->text[i], p->text_len[i]) ||
                avro_value_get_by_index(v, i, &child, NULL) || plan_write(o, p->sub[i], &child))
                return -1;
        return out_put(o, "}", 1);
    case AVRO_ARRAY:
        if (avro_value_get_size(v, &size) || out_put(o, "[", 1))
            return -1;
        for (size_t i = 0; i < size; i++)
            if ((i && out_put(o, ",", 1)) || avro_value_get_by_index(v, i, &child, NULL) ||
                plan_write(o, p->sub[0], &child))
                return -1;
        return out_put(o, "]", 1);
    default:
        return sluice_value_json_append(v, o->buf, o->len, o->cap);
    }
}

int sl_jplan_write(const sl_jplan *plan, const avro_value_t *value, char **buf, size_t *len,
                   size_t *cap)
{
    out o = {buf, len, cap};
    size_t start = *len;
    if (plan_write(&o, plan, value) != 0) {
        *len = start;
        if (*buf)
            (*buf)[start] = 0;
        return -1;
    }
    return 0; /* the appenders kept it NUL-terminated */
}

sl_jplan *sl_jplan_create(avro_schema_t schema)
{
    avro_schema_t up[PLAN_MAX_DEPTH];
    return plan_of(schema, up, 0);
}

/* ======================================================================== */
/* JSON text -> avro value                                                   */
/* ======================================================================== */

int sl_json_set_base64(avro_value_t *v, const char *s, size_t n)
{
    unsigned char small[256]; /* decimals and short bytes: no allocation */
    size_t need = n / 4 * 3 + 3;
    unsigned char *out = need <= sizeof(small) ? small : malloc(need);
    ssize_t o = out ? sl_base64_decode(s, n, out, need) : -1;
    int rc = o < 0 ? -1 : v ? avro_value_set_bytes(v, out, (size_t)o) : 0;
    if (out != small)
        free(out);
    return rc;
}

#define JR_MAX_DEPTH 512

static inline int jr_peek(sl_jreader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
    return r->p < r->end ? (unsigned char)*r->p : -1;
}

/* The json_hash of a value's type (false hashes as true). */
static inline void jr_type(sl_jreader *r, int type)
{
    if (r->hash) {
        type = type == JSON_FALSE ? JSON_TRUE : type;
        r->h = sl_json_fnv(r->h, &type, sizeof(type));
    }
}

static int jr_lit(sl_jreader *r, const char *word, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n))
        return -1;
    r->p += n;
    return 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int jr_hex4(const unsigned char *p, const unsigned char *end, unsigned *cp)
{
    if (end - p < 4)
        return -1;
    int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3]);
    if ((a | b | c | d) < 0)
        return -1;
    *cp = (unsigned)(a << 12 | b << 8 | c << 4 | d);
    return 0;
}

/* One UTF-8 sequence of 2 to 4 bytes at p, as jansson checks it (no
 * overlongs, surrogates or > U+10FFFF). Its length, or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (!len || (size_t)(end - p) < len)
        return 0;
    uint32_t cp = c & (0x7f >> len);
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    return cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : len;
}

static char *utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

int sl_unicode_escape(const char *s, const char *end, char **out)
{
    const unsigned char *p = (const unsigned char *)s, *e = (const unsigned char *)end;
    unsigned cp, lo;
    if (jr_hex4(p, e, &cp))
        return SL_UESC_MALFORMED;
    if (cp == 0)
        return SL_UESC_NUL;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return SL_UESC_UNPAIRED;
    if (cp < 0xd800 || cp > 0xdbff) {
        *out = utf8_put(*out, cp);
        return 4;
    }
    if (e - p < 10 || p[4] != '\\' || p[5] != 'u' || jr_hex4(p + 6, e, &lo) || lo < 0xdc00 ||
        lo > 0xdfff)
        return SL_UESC_UNPAIRED;
    *out = utf8_put(*out, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
    return 10;
}

/* The string at r->p ('"'), decoded into r->scratch (NUL-terminated):
 * *s is r->scratch, valid until the next jr_str. */
static int jr_str(sl_jreader *r, const char **s, size_t *n)
{
    const unsigned char *p = (const unsigned char *)r->p + 1, *end = (const unsigned char *)r->end;
    char *o = r->scratch;
    for (;;) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p >= end || *p < 0x20)
            return -1;
        if (*p == '"')
            break;
        if (*p >= 0x80) {
            size_t len = utf8_seq(p, end);
            if (!len)
                return -1;
            memcpy(o, p, len);
            o += len;
            p += len;
            continue;
        }
        if (++p >= end) /* a backslash */
            return -1;
        switch (*p++) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '/':
            *o++ = '/';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': { /* jansson refuses \u0000 and unpaired surrogates too */
            int used = sl_unicode_escape((const char *)p, (const char *)end, &o);
            if (used < 0)
                return -1;
            p += used;
            break;
        }
        default:
            return -1;
        }
    }
    *o = 0;
    *s = r->scratch;
    *n = (size_t)(o - r->scratch);
    r->p = (const char *)p + 1;
    return 0;
}

/* A number as jansson reads it: an integer (no '.' or exponent) into *i,
 * else a real into *d; *is_real says which. */
static int jr_num(sl_jreader *r, int *is_real, int64_t *i, double *d)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = r->p, *end = r->end, *start = p;
    int neg = p < end && *p == '-', digits = 0, frac = 0, exp = 0, eneg = 0, edigits = 0;
    uint64_t m = 0;
    p += neg;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    if (*p == '0')
        p++;
    else
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            digits += m || *p != '0';
            if (digits <= 19)
                m = m * 10 + (uint64_t)(*p - '0');
            else
                frac--; /* a digit dropped: counted in the exponent (strtod below) */
        }
    *is_real = 0;
    if (p < end && *p == '.') {
        *is_real = 1;
        if (++p >= end || *p < '0' || *p > '9')
            return -1;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            digits += m || *p != '0';
            if (digits <= 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                frac++;
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *is_real = 1;
        if (++p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p >= end || *p < '0' || *p > '9')
            return -1;
        for (; p < end && *p >= '0' && *p <= '9'; p++)
            if (++edigits <= 6)
                exp = exp * 10 + (*p - '0');
    }
    r->p = p;
    if (!*is_real) {
        if (digits > 19 || m > (uint64_t)INT64_MAX + neg)
            return -1; /* jansson: too big an integer */
        *i = neg ? (int64_t)(0 - m) : (int64_t)m;
        return 0;
    }
    int e10 = (eneg ? -exp : exp) - frac;
    if (digits <= 15 && edigits <= 6 && e10 >= -22 && e10 <= 22) {
        /* exact m and 10^|e10|: one correctly rounded operation (Clinger) */
        double v = e10 < 0 ? (double)m / pow10[-e10] : (double)m * pow10[e10];
        *d = neg ? -v : v;
        return 0;
    }
    char tmp[64];
    size_t n = (size_t)(p - start);
    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, start, n);
    tmp[n] = 0;
    *d = strtod(tmp, NULL); /* '.' as jansson's: sluice never leaves the C locale */
    return isinf(*d) ? -1 : 0; /* jansson: real number overflow */
}

/* A value the class has no place for (a key a declared schema does not
 * name): checked as JSON, not kept. Never while hashing: that is another
 * shape. */
static int jr_skip(sl_jreader *r)
{
    const char *s;
    size_t n;
    int ch = jr_peek(r), is_real;
    int64_t i;
    double d;
    if (r->hash || ++r->depth > JR_MAX_DEPTH)
        return -1;
    int rc = -1;
    switch (ch) {
    case '{':
    case '[':
        r->p++;
        if (jr_peek(r) == (ch == '{' ? '}' : ']')) {
            r->p++;
            rc = 0;
            break;
        }
        for (;;) {
            if (ch == '{' &&
                (jr_peek(r) != '"' || jr_str(r, &s, &n) || jr_peek(r) != ':' || !++r->p))
                break;
            if (jr_skip(r))
                break;
            int sep = jr_peek(r);
            r->p++;
            if (sep == (ch == '{' ? '}' : ']')) {
                rc = 0;
                break;
            }
            if (sep != ',')
                break;
        }
        break;
    case '"':
        rc = jr_str(r, &s, &n);
        break;
    case 't':
        rc = jr_lit(r, "true", 4);
        break;
    case 'f':
        rc = jr_lit(r, "false", 5);
        break;
    case 'n':
        rc = jr_lit(r, "null", 4);
        break;
    default:
        rc = jr_num(r, &is_real, &i, &d);
        break;
    }
    r->depth--;
    return rc;
}

static int jr_fill(sl_jreader *r, avro_value_t *v, const sl_jplan *p);

/* Which field of record plan p the key at r->p names: *idx, or SIZE_MAX
 * for none (r->p is then after the key). The key spelled as
 * sluice_value_json_append writes it is compared as it stands; any other
 * spelling is decoded and looked up. Hashes the key. */
static int jr_key(sl_jreader *r, const sl_jplan *p, size_t next, size_t *idx)
{
    const char *k;
    size_t kn, left = (size_t)(r->end - r->p);
    *idx = SIZE_MAX;
    if (next < p->n && p->text_len[next] - 2 <= left &&
        !memcmp(r->p, p->text[next] + 1, p->text_len[next] - 2)) {
        r->p += p->text_len[next] - 2; /* text is {"name": or ,"name": */
        *idx = next;
        k = p->name[next];
        kn = p->name_len[next];
    } else {
        if (jr_str(r, &k, &kn))
            return -1;
        for (size_t f = 0; f < p->n && *idx == SIZE_MAX; f++)
            if (p->name_len[f] == kn && !memcmp(p->name[f], k, kn))
                *idx = f;
    }
    if (r->hash)
        r->h = sl_json_fnv(r->h, k, kn + 1);
    return 0;
}

/* After a member or an element: 1 at the closing `close` (consumed), 0
 * after a ',' (consumed), -1 at anything else. */
static int jr_after_item(sl_jreader *r, int close)
{
    int sep = jr_peek(r);
    if (sep != close && sep != ',')
        return -1;
    r->p++;
    return sep == close;
}

/* An object into a record: fields found by name as fill's json_object_get
 * does (the next field's name tried first), a missing field null where its
 * union allows. */
static int jr_record(sl_jreader *r, avro_value_t *v, const sl_jplan *p)
{
    uint64_t seen[4] = {0, 0, 0, 0};
    size_t next = 0, got = 0, idx;
    avro_value_t child;
    if (*r->p != '{' || p->n > 64 * 4)
        return -1;
    r->p++;
    jr_type(r, JSON_OBJECT);
    if (jr_peek(r) == '}')
        r->p++;
    else
        for (;;) {
            if (jr_peek(r) != '"' || jr_key(r, p, next, &idx) || jr_peek(r) != ':')
                return -1;
            r->p++;
            if (idx == SIZE_MAX) {
                if (jr_skip(r)) /* fill ignores it */
                    return -1;
            } else {
                if (seen[idx / 64] >> (idx % 64) & 1) /* a key twice: jansson keeps the last */
                    return -1;
                seen[idx / 64] |= 1ull << (idx % 64);
                got++;
                next = idx + 1;
                if ((v && avro_value_get_by_index(v, idx, &child, NULL)) ||
                    jr_fill(r, v ? &child : NULL, p->sub[idx]))
                    return -1;
            }
            int end = jr_after_item(r, '}');
            if (end < 0)
                return -1;
            if (end)
                break;
        }
    if (r->hash)
        r->h = sl_json_fnv(r->h, "}", 1);
    for (size_t f = 0; got < p->n && f < p->n; f++) {
        avro_value_t b;
        if (seen[f / 64] >> (f % 64) & 1)
            continue;
        if (p->sub[f]->type != AVRO_UNION)
            return -1;
        if (v && (avro_value_get_by_index(v, f, &child, NULL) ||
                  avro_value_set_branch(&child, 0, &b) || avro_value_set_null(&b)))
            return -1;
    }
    return 0;
}

/* An array: json_hash's shape looks at the first element only. */
static int jr_array(sl_jreader *r, avro_value_t *v, const sl_jplan *p)
{
    int hashing = r->hash, rc = -1;
    if (*r->p != '[')
        return -1;
    r->p++;
    jr_type(r, JSON_ARRAY);
    if (jr_peek(r) == ']') {
        r->p++;
        rc = 0;
    } else
        for (;;) {
            avro_value_t child;
            if ((v && avro_value_append(v, &child, NULL)) ||
                jr_fill(r, v ? &child : NULL, p->sub[0]))
                break;
            r->hash = 0;
            int end = jr_after_item(r, ']');
            if (end) {
                rc = end > 0 ? 0 : -1;
                break;
            }
        }
    r->hash = hashing;
    if (!rc && r->hash)
        r->h = sl_json_fnv(r->h, "]", 1);
    return rc;
}

static int jr_map(sl_jreader *r, avro_value_t *v, const sl_jplan *p)
{
    const char *k;
    size_t kn;
    if (*r->p != '{' || !v) /* checking could not see a key twice */
        return -1;
    r->p++;
    jr_type(r, JSON_OBJECT);
    if (jr_peek(r) == '}')
        r->p++;
    else
        for (;;) {
            avro_value_t child;
            int is_new = 0;
            if (jr_peek(r) != '"' || jr_str(r, &k, &kn) || jr_peek(r) != ':')
                return -1;
            r->p++;
            if (r->hash)
                r->h = sl_json_fnv(r->h, k, kn + 1);
            if (avro_value_add(v, k, &child, NULL, &is_new) || !is_new ||
                jr_fill(r, &child, p->sub[0]))
                return -1;
            int end = jr_after_item(r, '}');
            if (end < 0)
                return -1;
            if (end)
                break;
        }
    if (r->hash)
        r->h = sl_json_fnv(r->h, "}", 1);
    return 0;
}

/* The value at r->p into v (of plan p), as fill() puts a JSON value into v. */
static int jr_fill(sl_jreader *r, avro_value_t *v, const sl_jplan *p)
{
    avro_value_t child;
    const char *s;
    size_t n;
    int is_real = 0, rc = -1;
    int64_t i = 0;
    double d = 0;
    int ch = jr_peek(r);
    if (ch < 0) /* the text ended where a value must start */
        return -1;
    if (++r->depth > JR_MAX_DEPTH)
        return -1;
    switch (p->type) {
    case AVRO_UNION: /* built as ["null", T] */
        if (p->n != 2)
            break;
        if (ch == 'n') {
            jr_type(r, JSON_NULL);
            rc = jr_lit(r, "null", 4) ||
                         (v && (avro_value_set_branch(v, 0, &child) || avro_value_set_null(&child)))
                     ? -1
                     : 0;
        } else
            rc = v && avro_value_set_branch(v, 1, &child) ? -1
                                                          : jr_fill(r, v ? &child : NULL, p->sub[1]);
        break;
    case AVRO_NULL:
        jr_type(r, JSON_NULL);
        rc = ch == 'n' && !jr_lit(r, "null", 4) ? (v ? avro_value_set_null(v) : 0) : -1;
        break;
    case AVRO_BOOLEAN:
        jr_type(r, JSON_TRUE);
        if (ch == 't' && !jr_lit(r, "true", 4))
            rc = v ? avro_value_set_boolean(v, 1) : 0;
        else if (ch == 'f' && !jr_lit(r, "false", 5))
            rc = v ? avro_value_set_boolean(v, 0) : 0;
        break;
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        if (ch != '-' && (ch < '0' || ch > '9'))
            break;
        if (jr_num(r, &is_real, &i, &d))
            break;
        jr_type(r, is_real ? JSON_REAL : JSON_INTEGER);
        d = is_real ? d : (double)i; /* json_number_value */
        if (!v) {
            rc = is_real && (p->type == AVRO_INT32 || p->type == AVRO_INT64) ? -1 : 0;
            break;
        }
        switch (p->type) {
        case AVRO_INT32:
            rc = is_real ? -1 : avro_value_set_int(v, (int32_t)i);
            break;
        case AVRO_INT64:
            rc = is_real ? -1 : avro_value_set_long(v, i);
            break;
        case AVRO_FLOAT:
            rc = avro_value_set_float(v, (float)d);
            break;
        default:
            rc = avro_value_set_double(v, d);
            break;
        }
        break;
    case AVRO_STRING:
        jr_type(r, JSON_STRING);
        if (ch == '"' && !jr_str(r, &s, &n))
            rc = v ? avro_value_set_string_len(v, s, n + 1) : 0;
        break;
    case AVRO_BYTES:
        jr_type(r, JSON_STRING);
        if (ch == '"' && !jr_str(r, &s, &n))
            rc = sl_json_set_base64(v, s, n);
        break;
    case AVRO_RECORD:
        rc = jr_record(r, v, p);
        break;
    case AVRO_ARRAY:
        rc = jr_array(r, v, p);
        break;
    case AVRO_MAP:
        rc = jr_map(r, v, p);
        break;
    default:
        break;
    }
    r->depth--;
    return rc ? -1 : 0;
}

int sl_jreader_peek(sl_jreader *r)
{
    return jr_peek(r);
}

int sl_jreader_lit(sl_jreader *r, const char *word, size_t n)
{
    return jr_lit(r, word, n);
}

int sl_jreader_skip(sl_jreader *r)
{
    return jr_skip(r);
}

int sl_jreader_fill(sl_jreader *r, const sl_jplan *plan, avro_value_t *value)
{
    return jr_fill(r, value, plan);
}
