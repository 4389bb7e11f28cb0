/*
 * pg_decode.c - the pgoutput logical replication message parser.
 *
 * Wire format (PostgreSQL "Logical Replication Message Formats", protocol
 * versions 1 and 2; integers big-endian, strings NUL-terminated):
 *
 *   B Begin          Int64 final_lsn, Int64 commit_ts, Int32 xid
 *   C Commit         Int8 flags, Int64 commit_lsn, Int64 end_lsn, Int64 commit_ts
 *   O Origin         Int64 lsn, String name
 *   R Relation       [Int32 xid] Int32 relid, String nsp, String name,
 *                    Int8 replident, Int16 natts,
 *                    natts x (Int8 flags, String name, Int32 typoid, Int32 typmod)
 *   Y Type           [Int32 xid] Int32 oid, String nsp, String name
 *   I Insert         [Int32 xid] Int32 relid, 'N' TupleData
 *   U Update         [Int32 xid] Int32 relid, ['K'|'O' TupleData] 'N' TupleData
 *   D Delete         [Int32 xid] Int32 relid, 'K'|'O' TupleData
 *   T Truncate       [Int32 xid] Int32 nrels, Int8 options, nrels x Int32 relid
 *   M Message        [Int32 xid] Int8 flags, Int64 lsn, String prefix,
 *                    Int32 len, Byte[len]
 *   S Stream Start   Int32 xid, Int8 first_segment
 *   E Stream Stop    (nothing)
 *   c Stream Commit  Int32 xid, Int8 flags, Int64 commit_lsn, Int64 end_lsn, Int64 ts
 *   A Stream Abort   Int32 xid, Int32 subxid
 *
 *   TupleData        Int16 ncols, ncols x (Byte1 kind: 'n' null, 'u'
 *                    unchanged TOAST, 't' text | 'b' binary: Int32 len, Byte[len])
 *
 * [Int32 xid] is present only inside a stream (between S and E).
 *
 * Every read goes through the bounds-checked rd_* helpers, which jump to
 * the function's `bad:` label with a message naming the field and offset
 * (librdkafka's rd_kafka_buf_read_* style). Nothing in the buffer is
 * trusted: lengths are checked against what remains, strings must end in a
 * NUL inside the message, column counts are capped by the bytes left.
 * Decoded strings and data point into the caller's buffer (zero copy);
 * column arrays live in the decoder's scratch, reused per message.
 *
 * Runs on: the task's thread. Fuzzable: pure function of its input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

struct pg_decoder {
    pg_datum *cols[2]; /* scratch for old and new tuples */
    int cap[2];
    pg_relatt *atts;
    int atts_cap;
    uint32_t *relids;
    int relids_cap;
};

typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    const char *what; /* the field being read, for the error */
} rd;

#define NEED(r, n, field)                                                                          \
    do {                                                                                           \
        (r)->what = (field);                                                                       \
        if ((r)->len - (r)->off < (size_t)(n))                                                     \
            goto bad;                                                                              \
    } while (0)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* Each helper returns 0, or -1 leaving r->what naming the field. */
static int rd_u8(rd *r, const char *field, uint8_t *v)
{
    NEED(r, 1, field);
    *v = r->p[r->off++];
    return 0;
bad:
    return -1;
}

static int rd_u16(rd *r, const char *field, uint16_t *v)
{
    NEED(r, 2, field);
    *v = (uint16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
    r->off += 2;
    return 0;
bad:
    return -1;
}

static int rd_u32(rd *r, const char *field, uint32_t *v)
{
    NEED(r, 4, field);
    *v = be32(r->p + r->off);
    r->off += 4;
    return 0;
bad:
    return -1;
}

static int rd_u64(rd *r, const char *field, uint64_t *v)
{
    NEED(r, 8, field);
    *v = be64(r->p + r->off);
    r->off += 8;
    return 0;
bad:
    return -1;
}

static int rd_str(rd *r, const char *field, const char **s)
{
    r->what = field;
    const uint8_t *nul = memchr(r->p + r->off, '\0', r->len - r->off);
    if (!nul)
        return -1;
    *s = (const char *)(r->p + r->off);
    r->off = (size_t)(nul - r->p) + 1;
    return 0;
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, (size_t)n * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = n;
    return 0;
}

static int rd_tuple(pg_decoder *d, rd *r, int which, pg_tuple *t)
{
    uint16_t n;
    if (rd_u16(r, "TupleData ncols", &n) != 0)
        return -1;
    r->what = "TupleData ncols (more columns than bytes)";
    if (n > r->len - r->off)
        return -1;
    if (grow((void **)&d->cols[which], &d->cap[which], n ? n : 1, sizeof(pg_datum)) != 0) {
        r->what = "TupleData (out of memory)";
        return -1;
    }
    for (int i = 0; i < n; i++) {
        pg_datum *c = &d->cols[which][i];
        uint8_t kind;
        uint32_t len;
        if (rd_u8(r, "TupleData column kind", &kind) != 0)
            return -1;
        c->kind = (char)kind;
        c->data = NULL;
        c->len = 0;
        c->nul = 0; /* inside the message: not NUL-terminated */
        if (kind == 'n' || kind == 'u')
            continue;
        r->what = "TupleData column kind (not n, u, t or b)";
        if (kind != 't' && kind != 'b')
            return -1;
        if (rd_u32(r, "TupleData column length", &len) != 0)
            return -1;
        NEED(r, len, "TupleData column value");
        c->data = (const char *)(r->p + r->off);
        c->len = len;
        r->off += len;
    }
    t->n = n;
    t->cols = d->cols[which];
    return 0;
bad:
    return -1;
}

/* ---- one function per message --------------------------------------------- */

static int dec_begin(pg_decoder *d, rd *r, pg_msg *m)
{
    (void)d;
    uint64_t ts;
    if (rd_u64(r, "final_lsn", &m->lsn) || rd_u64(r, "commit_ts", &ts) || rd_u32(r, "xid", &m->xid))
        return -1;
    m->ts_us = (int64_t)ts;
    return 0;
}

static int dec_commit(pg_decoder *d, rd *r, pg_msg *m)
{
    (void)d;
    uint8_t flags;
    uint64_t ts;
    if (m->type == 'c' && rd_u32(r, "xid", &m->xid))
        return -1;
    if (rd_u8(r, "flags", &flags) || rd_u64(r, "commit_lsn", &m->lsn) ||
        rd_u64(r, "end_lsn", &m->end_lsn) || rd_u64(r, "commit_ts", &ts))
        return -1;
    m->ts_us = (int64_t)ts;
    return 0;
}

static int dec_origin(pg_decoder *d, rd *r, pg_msg *m)
{
    (void)d;
    return rd_u64(r, "origin lsn", &m->lsn) || rd_str(r, "origin name", &m->relname) ? -1 : 0;
}

static int dec_relation(pg_decoder *d, rd *r, pg_msg *m)
{
    uint8_t ri;
    uint16_t natts;
    if (rd_u32(r, "relid", &m->relid) || rd_str(r, "namespace", &m->nspname) ||
        rd_str(r, "relation name", &m->relname) || rd_u8(r, "replica identity", &ri) ||
        rd_u16(r, "natts", &natts))
        return -1;
    m->replident = (char)ri;
    r->what = "natts (more columns than bytes)";
    if (natts > r->len - r->off)
        return -1;
    if (grow((void **)&d->atts, &d->atts_cap, natts ? natts : 1, sizeof(pg_relatt)) != 0)
        return -1;
    for (int i = 0; i < natts; i++) {
        pg_relatt *a = &d->atts[i];
        uint32_t typmod;
        if (rd_u8(r, "column flags", &a->flags) || rd_str(r, "column name", &a->name) ||
            rd_u32(r, "column type", &a->typoid) || rd_u32(r, "column typmod", &typmod))
            return -1;
        a->typmod = (int32_t)typmod;
    }
    m->natts = natts;
    m->atts = d->atts;
    return 0;
}

static int dec_type(pg_decoder *d, rd *r, pg_msg *m)
{
    (void)d;
    return rd_u32(r, "type oid", &m->relid) || rd_str(r, "type namespace", &m->nspname) ||
                   rd_str(r, "type name", &m->relname)
               ? -1
               : 0;
}

static int dec_change(pg_decoder *d, rd *r, pg_msg *m)
{
    uint8_t tag;
    if (rd_u32(r, "relid", &m->relid) || rd_u8(r, "tuple tag", &tag))
        return -1;
    if (tag == 'K' || tag == 'O') {
        r->what = "tuple tag (old tuple in an insert)";
        if (m->type == 'I')
            return -1;
        m->old_kind = (char)tag;
        if (rd_tuple(d, r, 0, &m->oldt) != 0)
            return -1;
        if (m->type == 'D')
            return 0;
        if (rd_u8(r, "tuple tag", &tag))
            return -1;
    }
    r->what = m->type == 'D' ? "tuple tag (delete without K or O)" : "tuple tag (expected N)";
    if (m->type == 'D' || tag != 'N')
        return -1;
    return rd_tuple(d, r, 1, &m->newt);
}

static int dec_truncate(pg_decoder *d, rd *r, pg_msg *m)
{
    uint32_t n;
    if (rd_u32(r, "nrels", &n) || rd_u8(r, "options", &m->flags))
        return -1;
    r->what = "nrels (more relations than bytes)";
    if (n > (r->len - r->off) / 4 ||
        grow((void **)&d->relids, &d->relids_cap, n ? (int)n : 1, sizeof(uint32_t)) != 0)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        if (rd_u32(r, "relid", &d->relids[i]))
            return -1;
    m->nrels = (int)n;
    m->relids = d->relids;
    return 0;
}

static int dec_message(pg_decoder *d, rd *r, pg_msg *m)
{
    (void)d;
    uint32_t len;
    if (rd_u8(r, "flags", &m->flags) || rd_u64(r, "lsn", &m->lsn) ||
        rd_str(r, "prefix", &m->nspname) || rd_u32(r, "content length", &len))
        return -1;
    NEED(r, len, "content");
    m->relname = (const char *)(r->p + r->off);
    m->natts = (int)len; /* the content's length */
    r->off += len;
    return 0;
bad:
    return -1;
}

static int dec_stream_start(pg_decoder *d, rd *r, pg_msg *m)
{
    (void)d;
    uint8_t first;
    if (rd_u32(r, "xid", &m->xid) || rd_u8(r, "first_segment", &first))
        return -1;
    m->first_segment = first;
    return 0;
}

static int dec_stream_abort(pg_decoder *d, rd *r, pg_msg *m)
{
    (void)d;
    return rd_u32(r, "xid", &m->xid) || rd_u32(r, "subxid", &m->subxid) ? -1 : 0;
}

static int dec_nothing(pg_decoder *d, rd *r, pg_msg *m)
{
    (void)d;
    (void)r;
    (void)m;
    return 0;
}

static const struct {
    char type;
    int xid_in_stream; /* carries a leading xid inside a stream */
    const char *name;
    int (*decode)(pg_decoder *d, rd *r, pg_msg *m);
} handlers[] = {
    {'B', 0, "Begin", dec_begin},
    {'C', 0, "Commit", dec_commit},
    {'O', 0, "Origin", dec_origin},
    {'R', 1, "Relation", dec_relation},
    {'Y', 1, "Type", dec_type},
    {'I', 1, "Insert", dec_change},
    {'U', 1, "Update", dec_change},
    {'D', 1, "Delete", dec_change},
    {'T', 1, "Truncate", dec_truncate},
    {'M', 1, "Message", dec_message},
    {'S', 0, "Stream Start", dec_stream_start},
    {'E', 0, "Stream Stop", dec_nothing},
    {'c', 0, "Stream Commit", dec_commit},
    {'A', 0, "Stream Abort", dec_stream_abort},
};

int pg_decode(pg_decoder *d, const uint8_t *buf, size_t len, int in_stream, pg_msg *m, char *err,
              size_t errlen)
{
    rd r = {buf, len, 0, "message type"};
    memset(m, 0, sizeof(*m));
    if (len == 0) {
        snprintf(err, errlen, "pgoutput: empty message");
        return -1;
    }
    m->type = (char)buf[r.off++];
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
        if (handlers[i].type != m->type)
            continue;
        if (in_stream && handlers[i].xid_in_stream && rd_u32(&r, "xid", &m->xid) != 0)
            goto bad;
        if (handlers[i].decode(d, &r, m) != 0)
            goto bad;
        return 0;
    bad:
        snprintf(err, errlen, "pgoutput %s message (%zu bytes): bad or truncated %s at offset %zu",
                 handlers[i].name, len, r.what, r.off);
        return -1;
    }
    snprintf(err, errlen, "pgoutput: unknown message type 0x%02x (%zu bytes)", buf[0], len);
    return -1;
}

/* ======================================================================== */
/* COPY text rows (the snapshot, pg_snapshot.c)                              */
/* ======================================================================== */

/*
 * COPY ... TO STDOUT in text format, as the server writes it: a row is one
 * line ending in '\n', columns separated by a tab, NULL written \N (unquoted,
 * the whole column), and inside a value a backslash escapes \b \f \n \r \t
 * \v, \ooo (1 to 3 octal digits), \xh or \xhh (hex), or the next character
 * itself (\\ for a backslash). Values are the types' text output, as in a
 * text-format SELECT result.
 *
 * A row is decoded in place: a decoded value is never longer than its text,
 * so it is written over it, and NUL-terminated over its delimiter (or, for
 * the last one, over the '\n' or libpq's terminating NUL at buf[n]).
 */

static int octal(char c)
{
    return c >= '0' && c <= '7';
}

static int hexdig(char c)
{
    return (c >= '0' && c <= '9')   ? c - '0'
           : (c >= 'a' && c <= 'f') ? c - 'a' + 10
           : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                    : -1;
}

/* Decodes one escape at *rp (just past the backslash) into *wp. */
static void copy_unescape(char **rp, const char *end, char **wp)
{
    char *r = *rp, c = *r++;
    int v;
    switch (c) {
    case 'b':
        c = '\b';
        break;
    case 'f':
        c = '\f';
        break;
    case 'n':
        c = '\n';
        break;
    case 'r':
        c = '\r';
        break;
    case 't':
        c = '\t';
        break;
    case 'v':
        c = '\v';
        break;
    case 'x':
        if (r < end && (v = hexdig(*r)) >= 0) {
            r++;
            if (r < end && hexdig(*r) >= 0)
                v = v * 16 + hexdig(*r++);
            c = (char)v;
        }
        break;
    default:
        if (octal(c)) {
            v = c - '0';
            for (int i = 0; i < 2 && r < end && octal(*r); i++)
                v = v * 8 + (*r++ - '0');
            c = (char)v;
        }
        break; /* any other character stands for itself */
    }
    *(*wp)++ = c;
    *rp = r;
}

int pg_copy_row(char *buf, size_t n, pg_datum *datums, int cap)
{
    char *r = buf, *end = buf + n, *w;
    int nf = 0;
    if (end > buf && end[-1] == '\n')
        end--;
    for (;;) {
        if (nf == cap)
            return nf + 1; /* more columns than room: the caller says so */
        pg_datum *d = &datums[nf++];
        if (end - r >= 2 && r[0] == '\\' && r[1] == 'N' && (end - r == 2 || r[2] == '\t')) {
            *d = (pg_datum){'n', NULL, 0};
            r += 2;
        } else {
            char *start = r;
            w = r;
            while (r < end && *r != '\t') {
                if (*r != '\\') {
                    *w++ = *r++;
                    continue;
                }
                if (++r == end)
                    return -1;
                copy_unescape(&r, end, &w);
            }
            *w = '\0'; /* w <= r <= end, and end is buf[n] at most */
            *d = (pg_datum){'t', start, (uint32_t)(w - start), 1};
        }
        if (r == end)
            return nf;
        r++; /* the tab */
    }
}

pg_decoder *pg_decoder_create(void)
{
    return calloc(1, sizeof(pg_decoder));
}

void pg_decoder_destroy(pg_decoder *d)
{
    if (!d)
        return;
    free(d->cols[0]);
    free(d->cols[1]);
    free(d->atts);
    free(d->relids);
    free(d);
}
