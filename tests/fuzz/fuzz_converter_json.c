/*
 * fuzz_converter_json.c - the json converter's from_bytes on outside bytes,
 * differentially: its one-pass reader (json_plan.c, tried only for a class
 * the converter has cached) against its jansson tree path (converter.c
 * tree_from, what a fresh converter always takes: nothing is cached yet).
 *
 * Per input, a warm converter reads a short sequence of messages (one or
 * two valid warm-up messages of fixed schemas, then one or two messages
 * the input stands for) into the value its last read handed back, as a
 * sink reuses it; a fresh converter of the same config (schemas.enable
 * false or true) reads each message too. Both must accept or both reject,
 * with the same error text; accepted, the values must be the same (types,
 * field and key names, union branches, numbers bit for bit) and write the
 * same sluice_value_json_append text. Last, the warm converter must still
 * read its warm-up message to the text it had. Never a crash, an
 * over-read, a leak or undefined behaviour (ASan + UBSan builds).
 *
 * Input layout. Byte 0: bit 0 schemas.enable; bits 1-3 the warm-up
 * template; bit 4 warm up with a second template first; bits 5-7 all
 * set: the rest of the input is the message as it stands (the driver's
 * seeds are templates in this form). Otherwise byte 1 picks the template
 * the message starts from (bit 3: the warm-up one, so the reader gets
 * it); its bits 4-5 how many of the next 4-byte groups (op, arg, position:
 * 16 bits, the top one set counting from the payload), 1, 2 or 4, edit it
 * (bit 6: and as many again edit that message into a second one, read
 * after it, so a schema an edit made is cached by then), the way JSON
 * breaks: a byte set, a token put in, bytes deleted or repeated, an
 * object repeated (a schema's field twice), a field's value replaced by
 * a value of another type, a digit changed, an escape or UTF-8 sequence
 * put in a string, the text cut short, the payload sent alone (a
 * schemaless producer, a schemas.enable consumer). So random bytes too
 * give near-valid Debezium rows the reader walks deep into.
 *
 * Templates: Debezium envelopes (insert, update, delete) written by the
 * converter's to_bytes, another table's, hand-written rows with arrays,
 * maps, bytes, escapes, keys out of order or unknown, whitespace, and a
 * {"schema":null,...} envelope.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "converter.h"
#include "sluice/envelope.h"

#define NTEMPLATES 8
#define MAX_OPS    4
#define MAX_MSG    (1 << 16)

static json_t *cfg[2];            /* schemas.enable false, true */
static char *tmpl[2][NTEMPLATES]; /* messages, NUL-terminated */
static size_t tmpl_len[2][NTEMPLATES];
static char *tmpl_text[2][NTEMPLATES]; /* each read by a fresh converter */
static char *wbuf, *fbuf;              /* value texts, reused */
static size_t wcap, fcap;
/* Outcomes, printed at exit when SLUICE_FUZZ_STATS is set: [mode][0] both
 * rejected, [1] both accepted, [2] of those, a null payload (no value). */
static long stats[2][3];
static long peeked[2]; /* of those accepted, how many a peek took as they came */

/* ======================================================================== */
/* Templates                                                                 */
/* ======================================================================== */

static const char *S_SCHEMA =
    "{\"schema\":{\"type\":\"struct\",\"fields\":["
    "{\"field\":\"a\",\"type\":\"int64\",\"optional\":false},"
    "{\"field\":\"b\",\"type\":\"string\",\"optional\":true},"
    "{\"field\":\"c\",\"type\":\"array\",\"items\":{\"type\":\"double\"}},"
    "{\"field\":\"m\",\"type\":\"map\",\"keys\":{\"type\":\"string\"},"
    "\"values\":{\"type\":\"int32\"},\"optional\":true},"
    "{\"field\":\"y\",\"type\":\"bytes\",\"optional\":true},"
    "{\"field\":\"i\",\"type\":\"int32\"},{\"field\":\"fl\",\"type\":\"float\"},"
    "{\"field\":\"bo\",\"type\":\"boolean\",\"optional\":true},"
    "{\"field\":\"st\",\"type\":\"struct\",\"optional\":true,\"fields\":["
    "{\"field\":\"p\",\"type\":\"int16\"},{\"field\":\"q\",\"type\":\"float64\"}]}],"
    "\"optional\":false},\"payload\":";

/* Hand-written payloads: [k][0] schemaless, [k][1] after S_SCHEMA. */
static const char *HAND[3][2] = {
    {"{\"id\":7,\"tags\":[\"a\",\"b\\u00e9\"],\"m\":{\"x\":1.5e3,\"y\":[{\"k\":true},"
     "{\"k\":false}],\"z\":null},\"s\":\"\\ud83d\\ude00 \\\"q\\\" \\\\/\","
     "\"n\":-9223372036854775808,\"e\":[],\"f\":0.1,\"b\":\"AAE=\"}",
     "{\"a\":1,\"b\":\"x\",\"c\":[1.5,2],\"m\":{\"k\":1,\"l\":-2},\"y\":\"AAE=\",\"i\":5,"
     "\"fl\":0.5,\"bo\":true,\"st\":{\"p\":3,\"q\":1e-7}}}"},
    {"{\"id\":-1,\"tags\":[\"z\"],\"m\":{\"x\":2.25,\"y\":[{\"k\":false},{\"k\":true,"
     "\"extra\":1}],\"z\":null},\"s\":\"\",\"n\":0,\"e\":[],\"f\":1e22,\"b\":\"\"}",
     "{ \"bo\" : false , \"a\":-9223372036854775808, \"zz\":{\"q\":[1,{\"r\":null}]},"
     "\"c\":[], \"m\":{}, \"y\":null, \"i\":-2147483648, \"fl\":3, \"st\":null,"
     "\"b\":\"\\u00e9\\n\xc3\xa9\" }\n}"},
    {"[{\"a\":1,\"b\":[1.5]},{\"a\":2,\"b\":[]}]",
     "{\"schema\":null,\"payload\":{\"payload\":{\"a\":1,\"b\":[1.5,2],\"c\":{\"d\":\"x\"}},"
     "\"schema\":null}}"},
};

static void keep(int mode, int k, const char *s, size_t len)
{
    if (!(tmpl[mode][k] = malloc(len + 1)))
        abort();
    memcpy(tmpl[mode][k], s, len);
    tmpl[mode][k][len] = 0;
    tmpl_len[mode][k] = len;
}

/* text with a space after each ':' and ',' outside strings, from byte from
 * on (the payload of an envelope): the same JSON, spelled otherwise. */
static void keep_spaced(int mode, int k, const char *text, size_t len, size_t from)
{
    char *s = malloc(len * 2 + 1);
    size_t n = 0;
    int in_str = 0;
    if (!s)
        abort();
    for (size_t i = 0; i < len; i++) {
        s[n++] = text[i];
        if (in_str && text[i] == '\\' && i + 1 < len)
            s[n++] = text[++i];
        else if (text[i] == '"')
            in_str = !in_str;
        else if (!in_str && i >= from && (text[i] == ':' || text[i] == ','))
            s[n++] = ' ';
    }
    keep(mode, k, s, n);
    free(s);
}

static void row_values(avro_value_t *row, int i, int before)
{
    sluice_field_set_long(row, "id", 7 + i);
    sluice_field_set_string(row, "name", before ? "old" : i ? "caf\xc3\xa9 \"q\"\n" : "plain");
    if (before) {
        sluice_field_set_null(row, "email");
        sluice_field_set_null(row, "balance");
        sluice_field_set_null(row, "score");
        sluice_field_set_null(row, "blob");
        sluice_field_set_null(row, "qty");
    } else {
        sluice_field_set_string(row, "email", "a@example.com");
        sluice_field_set_double(row, "balance", 12.25 * i - 3.1);
        sluice_field_set_float(row, "score", 0.1f);
        sluice_field_set_bytes(row, "blob", "\x00\xff\x10", 3);
        sluice_field_set_int(row, "qty", -5 - i);
    }
    sluice_field_set_bool(row, "ok", i & 1);
    sluice_field_set_long(row, "at", before ? -1 : 1700000000000);
}

/* A Debezium envelope of table spec: op 'c', 'u' or 'd'. */
static void envelope_value(sluice_envelope *env, avro_value_t *v, int i, int full)
{
    avro_value_t row;
    sluice_source_info src = {
        "1.0", "postgresql", "fuzz",          1700000000000 + i, "false",  "db", "public",
        "t",   42 + i,       SLUICE_NULL_POS, SLUICE_NULL_POS,   1000 * i, NULL, NULL};
    if (sluice_envelope_new_value(env, v))
        abort();
    sluice_envelope_set_source(v, &src);
    sluice_envelope_set_op(v, "cud"[i]);
    sluice_envelope_set_ts(v, 1700000000123 + i);
    if (i < 2 && sluice_envelope_after(v, &row) == 0) {
        if (full)
            row_values(&row, i, 0);
        else {
            sluice_field_set_int(&row, "k", 3);
            sluice_field_set_string(&row, "v", "\xe2\x82\xac\\");
            sluice_field_set_float(&row, "f", -2.5e-3f);
        }
    }
    if (full && i > 0 && sluice_envelope_before(v, &row) == 0)
        row_values(&row, i, 1);
}

static sluice_envelope *envelope(const char *topic, const char *spec)
{
    sluice_column *cols;
    size_t ncols;
    sluice_envelope *env = NULL;
    char err[256];
    if (sluice_columns_parse(spec, NULL, &cols, &ncols, err, sizeof(err)) ||
        sluice_envelope_create(topic, cols, ncols, &env, err, sizeof(err)))
        abort();
    sluice_columns_free(cols, ncols);
    return env;
}

/* Templates 0-2: table t's insert, update, delete; 3: table b's insert; 4,
 * 5: hand-written rows of one schema; 6: the update spaced out; 7: a
 * top-level array, or a {"schema":null} envelope of a row whose columns
 * are named payload and schema (an outbox table's, say). */
static void templates(int mode)
{
    static const char *full = "id:long,name:string,email:string?,balance:double?,ok:boolean,"
                              "at:timestamp,score:float?,blob:bytes?,qty:int?";
    char err[256], buf[4096];
    sluice_envelope *envs[2] = {envelope("fuzz.public.t", full),
                                envelope("fuzz.public.b", "k:int,v:string?,f:float,t:timestamp?")};
    sl_converter *to = sl_converter_create("json", 0, cfg[mode], err, sizeof(err));
    if (!to)
        abort();
    for (int k = 0; k < 4; k++) {
        avro_value_t v;
        void *bytes;
        size_t len;
        sluice_envelope *env = envs[k == 3];
        envelope_value(env, &v, k % 3, k < 3);
        if (sl_converter_to_bytes(to, "t", sluice_envelope_value_schema(env), &v, &bytes, &len, err,
                                  sizeof(err)))
            abort();
        keep(mode, k, bytes, len);
        if (k == 1) {
            const char *pl = mode ? strstr(bytes, ",\"payload\":") : NULL;
            keep_spaced(mode, 6, bytes, len, pl ? (size_t)(pl - (const char *)bytes) + 11 : 0);
        }
        avro_value_decref(&v);
    }
    for (int k = 0; k < 3; k++) {
        snprintf(buf, sizeof(buf), "%s%s", mode && k < 2 ? S_SCHEMA : "", HAND[k][mode]);
        keep(mode, k == 2 ? 7 : 4 + k, buf, strlen(buf));
    }
    sl_converter_destroy(to);
    sluice_envelope_destroy(envs[0]);
    sluice_envelope_destroy(envs[1]);
}

/* ======================================================================== */
/* Comparing the two answers                                                 */
/* ======================================================================== */

/* Same types, field and map key names, union branches and data; reals
 * bit for bit. */
static int same_value(const avro_value_t *a, const avro_value_t *b)
{
    avro_type_t t = avro_value_get_type(a);
    size_t na = 0, nb = 0;
    union {
        int32_t i;
        int64_t l;
        float f;
        double d;
    } x, y;
    memset(&x, 0, sizeof(x));
    memset(&y, 0, sizeof(y));
    if (t != avro_value_get_type(b))
        return 0;
    switch (t) {
    case AVRO_NULL:
        return 1;
    case AVRO_BOOLEAN:
        return !avro_value_get_boolean(a, &x.i) && !avro_value_get_boolean(b, &y.i) && x.i == y.i;
    case AVRO_INT32:
        return !avro_value_get_int(a, &x.i) && !avro_value_get_int(b, &y.i) && x.i == y.i;
    case AVRO_INT64:
        return !avro_value_get_long(a, &x.l) && !avro_value_get_long(b, &y.l) && x.l == y.l;
    case AVRO_FLOAT:
        return !avro_value_get_float(a, &x.f) && !avro_value_get_float(b, &y.f) &&
               !memcmp(&x.f, &y.f, sizeof(x.f));
    case AVRO_DOUBLE:
        return !avro_value_get_double(a, &x.d) && !avro_value_get_double(b, &y.d) &&
               !memcmp(&x.d, &y.d, sizeof(x.d));
    case AVRO_STRING: {
        const char *sa = NULL, *sb = NULL;
        return !avro_value_get_string(a, &sa, &na) && !avro_value_get_string(b, &sb, &nb) &&
               na == nb && (!na || !memcmp(sa, sb, na));
    }
    case AVRO_BYTES: {
        const void *ba = NULL, *bb = NULL;
        return !avro_value_get_bytes(a, &ba, &na) && !avro_value_get_bytes(b, &bb, &nb) &&
               na == nb && (!na || !memcmp(ba, bb, na));
    }
    case AVRO_UNION: {
        avro_value_t ca, cb;
        if (avro_value_get_discriminant(a, &x.i) || avro_value_get_discriminant(b, &y.i) ||
            x.i != y.i)
            return 0;
        return x.i < 0 || (!avro_value_get_current_branch(a, &ca) &&
                           !avro_value_get_current_branch(b, &cb) && same_value(&ca, &cb));
    }
    case AVRO_RECORD:
    case AVRO_ARRAY:
    case AVRO_MAP:
        if (avro_value_get_size(a, &na) || avro_value_get_size(b, &nb) || na != nb)
            return 0;
        for (size_t i = 0; i < na; i++) {
            avro_value_t ca, cb;
            const char *ka = NULL, *kb = NULL;
            if (avro_value_get_by_index(a, i, &ca, &ka) ||
                avro_value_get_by_index(b, i, &cb, &kb) || (!ka != !kb) || (ka && strcmp(ka, kb)) ||
                !same_value(&ca, &cb))
                return 0;
        }
        return 1;
    default:
        return 0;
    }
}

/* value's text in *buf (NULL value: "(none)"); returns its rc. */
static int text_of(const avro_value_t *v, char **buf, size_t *cap)
{
    size_t len = 0;
    if (!v->iface)
        return sluice_json_append_raw("(none)", 6, buf, &len, cap);
    return sluice_value_json_append(v, buf, &len, cap);
}

static void report(const char *what, int mode, const char *msg, size_t len, int rcw,
                   const char *errw, int rcf, const char *errf)
{
    fprintf(stderr, "fuzz_converter_json: %s (schemas.enable=%s)\nmessage (%zu bytes): ", what,
            mode ? "true" : "false", len);
    for (size_t i = 0; i < len; i++)
        fprintf(stderr,
                (unsigned char)msg[i] >= 0x20 && (unsigned char)msg[i] < 0x7f ? "%c" : "\\x%02x",
                (unsigned char)msg[i]);
    fprintf(stderr, "\nwarm:  rc %d %s\n  %s\nfresh: rc %d %s\n  %s\n", rcw, errw, wbuf ? wbuf : "",
            rcf, errf, fbuf ? fbuf : "");
    abort();
}

/* Reads tmpl[mode][k] with c into *slot: accepted, to the text a fresh
 * converter reads it to. */
static void read_template(sl_converter *c, int mode, int k, avro_value_t *slot)
{
    char err[512] = "";
    int rc =
        sl_converter_from_bytes(c, "t", tmpl[mode][k], tmpl_len[mode][k], slot, err, sizeof(err));
    if (rc || text_of(slot, &wbuf, &wcap) || strcmp(wbuf, tmpl_text[mode][k]))
        report("a warm-up template read otherwise", mode, tmpl[mode][k], tmpl_len[mode][k], rc, err,
               0, tmpl_text[mode][k]);
}

static void print_stats(void)
{
    for (int mode = 0; mode < 2; mode++)
        fprintf(stderr,
                "schemas.enable=%s: %ld rejected by both, %ld accepted by both (%ld null, %ld "
                "peeked)\n",
                mode ? "true" : "false", stats[mode][0], stats[mode][1], stats[mode][2],
                peeked[mode]);
}

static int setup(void)
{
    char err[512];
    if (cfg[0])
        return 0;
    if (getenv("SLUICE_FUZZ_STATS"))
        atexit(print_stats);
    for (int mode = 0; mode < 2; mode++) {
        cfg[mode] = json_pack("{s:s}", "value.converter.schemas.enable", mode ? "true" : "false");
        templates(mode);
        for (int k = 0; k < NTEMPLATES; k++) {
            sl_converter *c = sl_converter_create("json", 0, cfg[mode], err, sizeof(err));
            avro_value_t v = {NULL, NULL};
            size_t cap = 0;
            if (!c ||
                sl_converter_from_bytes(c, "t", tmpl[mode][k], tmpl_len[mode][k], &v, err,
                                        sizeof(err)) ||
                !v.iface || text_of(&v, &tmpl_text[mode][k], &cap)) {
                fprintf(stderr, "template %d/%d: %s\n%s\n", mode, k, err, tmpl[mode][k]);
                abort();
            }
            avro_value_decref(&v);
            sl_converter_destroy(c);
        }
    }
    return 0;
}

/* ======================================================================== */
/* The message an input stands for                                          */
/* ======================================================================== */

static const char ALPHABET[] = "{}[]\",:\\ \n0123456789-+.eEtrufalsnxu\x00\x01\x1f\x7f\x80\xbf"
                               "\xc3\xa9\xed\xf0\xff";
static const char *const TOKENS[] = {"null",
                                     "true",
                                     "false",
                                     "0",
                                     "-0",
                                     "1.5",
                                     "-0.0",
                                     "1e400",
                                     "-1e-400",
                                     "4.9e-324",
                                     "9223372036854775807",
                                     "9223372036854775808",
                                     "-9223372036854775809",
                                     "2147483648",
                                     "0.1",
                                     "1E22",
                                     "1e23",
                                     "123456789012345678901",
                                     "01",
                                     "1.",
                                     ".5",
                                     "\"\"",
                                     "\"x\"",
                                     "\"\\u0000\"",
                                     "\"\\ud83d\"",
                                     "\"\\ud83d\\ude00\"",
                                     "\"\xc3\xa9\"",
                                     "\"\xc3\"",
                                     "[]",
                                     "[1]",
                                     "[1,2.5]",
                                     "[null]",
                                     "[\"s\",1]",
                                     "{}",
                                     "{\"k\":1}",
                                     "{\"k\":1,\"k\":2}",
                                     "\"AAE=\"",
                                     "\"A-_=x\"",
                                     "\"*\"",
                                     " ",
                                     ",",
                                     "}",
                                     "]",
                                     "{\"schema\":null,\"payload\":",
                                     "\"a\":1,",
                                     "\"id\":2,",
                                     "\"before\":null,",
                                     "\"payload\":"};
static const char *const IN_STRING[] = {"\\u00e9",
                                        "\\\"",
                                        "\\\\",
                                        "\\/",
                                        "\\n",
                                        "\\u0000",
                                        "\\ud83d",
                                        "\\ude00",
                                        "\\ud83d\\ude00",
                                        "\xc3\xa9",
                                        "\xe2\x82\xac",
                                        "\xf0\x9f\x98\x80",
                                        "\xc0\xaf",
                                        "\xed\xa0\x80",
                                        "\xf4\x90\x80\x80",
                                        "\xff",
                                        "\x01",
                                        "\\x",
                                        "=",
                                        "+/",
                                        "-_",
                                        "\\u12g4",
                                        "\\uD83D\\uDE00"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static size_t put(char *m, size_t len, size_t at, const char *s, size_t n)
{
    if (len + n > MAX_MSG)
        return len;
    memmove(m + at + n, m + at, len - at);
    memcpy(m + at, s, n);
    return len + n;
}

static size_t cut(char *m, size_t len, size_t at, size_t n)
{
    n = n > len - at ? len - at : n;
    memmove(m + at, m + at + n, len - at - n);
    return len - n;
}

/* The index after the '}' closing the object at m[at], or 0. */
static size_t object_end(const char *m, size_t len, size_t at)
{
    int depth = 0;
    for (size_t i = at; i < len; i++) {
        if (m[i] == '"') {
            for (i++; i < len && m[i] != '"'; i++)
                i += m[i] == '\\';
        } else if (m[i] == '{' || m[i] == '[') {
            depth++;
        } else if ((m[i] == '}' || m[i] == ']') && --depth == 0) {
            return i + 1;
        }
    }
    return 0;
}

/* One edit of m (len bytes) at about position pos (pos's top bit set:
 * counted from byte from, where the payload starts); the new length. */
static size_t edit(char *m, size_t len, unsigned op, unsigned arg, size_t pos, size_t from)
{
    size_t at = pos & 0x8000 && from < len ? from + (pos & 0x7fff) % (len - from + 1)
                                           : pos % (len + 1),
           end;
    const char *tok = TOKENS[arg % COUNT(TOKENS)];
    switch (op % 16) {
    case 0:
    case 1: /* a byte set */
        if (at < len)
            m[at] = ALPHABET[arg % (sizeof(ALPHABET) - 1)];
        return len;
    case 2: /* a token put in */
        return put(m, len, at, tok, strlen(tok));
    case 3: /* bytes deleted */
        return cut(m, len, at, 1 + arg % 8);
    case 4: /* bytes repeated, or the next {...} repeated after a ',': a key,
             * an element, a schema's field twice */
        if (arg & 1) {
            while (at < len && m[at] != '{')
                at++;
            if (!(end = object_end(m, len, at)))
                return len;
            len = put(m, len, end, ",", 1);
            return put(m, len, end + 1, m + at, end - at);
        }
        end = at + 1 + arg % 40 > len ? len : at + 1 + arg % 40;
        return put(m, len, end, m + at, end - at);
    case 5:
    case 6:
    case 7: /* the value after the next ':' replaced by a token */
        while (at < len && m[at] != ':')
            at++;
        if (at++ >= len)
            return len;
        for (end = at; end < len && m[end] != ',' && m[end] != '}' && m[end] != ']'; end++)
            if (m[end] == '"') /* a string value: to its closing quote */
                for (end++; end < len && m[end] != '"'; end++)
                    end += m[end] == '\\';
        len = cut(m, len, at, end - at);
        return put(m, len, at, tok, strlen(tok));
    case 8:
    case 9:
    case 10: /* a digit changed */
        while (at < len && (m[at] < '0' || m[at] > '9'))
            at++;
        if (at < len)
            m[at] = (char)('0' + arg % 10);
        return len;
    case 11:
    case 12:
    case 13: /* an escape or UTF-8 sequence after the next '"' */
        while (at < len && m[at] != '"')
            at++;
        if (at >= len)
            return len;
        tok = IN_STRING[arg % COUNT(IN_STRING)];
        return put(m, len, at + 1, tok, strlen(tok));
    case 14: /* cut short (rarely), or a byte dropped */
        return arg < 16 ? at : cut(m, len, at, 1);
    default: /* the payload alone, sent without its envelope (rarely); or whitespace put in */
        if (arg < 32 && (tok = memmem(m, len, "\"payload\":", 10)) &&
            (at = (size_t)(tok - m) + 10) < len) {
            memmove(m, m + at, len - at);
            return len - at - 1; /* and the envelope's '}' */
        }
        return put(m, len, at, &" \n\t\r"[arg % 4], 1);
    }
}

/* Applies the next nops edits of data (from *at on) to m. */
static size_t edits(char *m, size_t len, int mode, const uint8_t *data, size_t size, size_t *at,
                    size_t nops)
{
    const char *payload = mode ? memmem(m, len, "\"payload\":", 10) : NULL;
    size_t from = payload ? (size_t)(payload - m) + 10 : 0;
    for (size_t ops = 0; *at + 4 <= size && ops < nops; *at += 4, ops++)
        len = edit(m, len, data[*at], data[*at + 1], (size_t)data[*at + 2] << 8 | data[*at + 3],
                   from);
    return len;
}

/* ======================================================================== */
/* The target                                                                */
/* ======================================================================== */

/* Whether the peeked text is not the message's payload (the envelope's
 * "payload" under schemas.enable, else the message) as jansson reads it. */
static int peeked_differs(int mode, const char *msg, size_t len, const sl_peeked *pk)
{
    json_t *root = json_loadb(msg, len, JSON_DECODE_ANY, NULL);
    json_t *alone = json_loadb(pk->data, pk->len, JSON_DECODE_ANY, NULL);
    json_t *payload = mode && json_is_object(root) ? json_object_get(root, "payload") : root;
    int differs = !payload || !alone || !json_equal(payload, alone);
    json_decref(alone);
    json_decref(root);
    return differs;
}

/* Reads msg with w (the warm converter, into its reused *wv) and with a
 * fresh converter: the same answer. w peeks first, as a sink taking values
 * as they came does: what it takes, reading must take, as the same class,
 * and its text must be the payload. */
static void check(sl_converter *w, avro_value_t *wv, int mode, const char *m, size_t len)
{
    char errw[512] = "", errf[512] = "";
    char *exact = malloc(len ? len : 1); /* so a read past the end is seen (ASan) */
    sl_converter *f = sl_converter_create("json", 0, cfg[mode], errf, sizeof(errf));
    avro_value_t fv = {NULL, NULL};
    if (!exact || !f)
        abort();
    memcpy(exact, m, len);
    sl_peeked pk;
    int rcp = sl_converter_peek(w, "t", exact, len, &pk, errw, sizeof(errw));
    int rcw = sl_converter_from_bytes(w, "t", exact, len, wv, errw, sizeof(errw));
    if (rcp != 0 && rcp != 1)
        report("a json peek failed", mode, exact, len, rcp, errw, 0, "");
    if (rcp == 0 && pk.data &&
        (rcw || !wv->iface || pk.schema != avro_value_get_schema(wv) ||
         memchr(pk.data, '\n', pk.len) || peeked_differs(mode, exact, len, &pk)))
        report("a peek took what reading does not", mode, exact, len, rcw, errw, 0, "");
    peeked[mode] += rcp == 0 && pk.data;
    sl_converter_retire(w);
    int rcf = sl_converter_from_bytes(f, "t", exact, len, &fv, errf, sizeof(errf));
    int tw = text_of(wv, &wbuf, &wcap), tf = text_of(&fv, &fbuf, &fcap);
    if (rcw != rcf)
        report(rcw ? "only the fresh converter accepts" : "only the warm converter accepts", mode,
               exact, len, rcw, errw, rcf, errf);
    if (rcw && strcmp(errw, errf))
        report("the errors differ", mode, exact, len, rcw, errw, rcf, errf);
    if (!wv->iface != !fv.iface || (wv->iface && !same_value(wv, &fv)) || tw != tf ||
        (!tw && strcmp(wbuf, fbuf)))
        report("the values differ", mode, exact, len, rcw, errw, rcf, errf);
    stats[mode][!rcw]++;
    stats[mode][2] += !rcw && !wv->iface;
    if (fv.iface)
        avro_value_decref(&fv);
    sl_converter_destroy(f);
    free(exact);
}

/* The warm converter reads, in turn: maybe a second template, its warm-up
 * template, then the input's message (raw), or a template edited (A) and
 * maybe A edited again (B, so that a schema an edit made is cached when B
 * comes), each checked against a fresh converter; last its warm-up
 * template again, to the text it had. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t NOPS[4] = {1, 1, 2, MAX_OPS};
    static char m[MAX_MSG];
    char err[512];
    if (setup() || size < 1)
        return 0;
    int mode = data[0] & 1, warm = data[0] >> 1 & 7;
    sl_converter *w = sl_converter_create("json", 0, cfg[mode], err, sizeof(err));
    avro_value_t wv = {NULL, NULL};
    if (!w)
        abort();
    if (data[0] & 16)
        read_template(w, mode, (warm + 3) % NTEMPLATES, &wv);
    read_template(w, mode, warm, &wv);
    if (data[0] >> 5 == 7) {
        check(w, &wv, mode, (const char *)data + 1, size - 1);
    } else {
        int base = size < 2 || data[1] & 8 ? warm : data[1] & 7;
        size_t len = tmpl_len[mode][base], at = 2, nops = size < 2 ? 0 : NOPS[data[1] >> 4 & 3];
        memcpy(m, tmpl[mode][base], len);
        len = edits(m, len, mode, data, size, &at, nops);
        check(w, &wv, mode, m, len);
        if (size >= 2 && data[1] & 64 && at < size) {
            len = edits(m, len, mode, data, size, &at, nops);
            check(w, &wv, mode, m, len);
        }
    }
    read_template(w, mode, warm, &wv); /* and the warm converter is as it was */
    if (wv.iface)
        avro_value_decref(&wv);
    sl_converter_destroy(w);
    return 0;
}

/* Each template as it stands (byte 0: raw), warming up with itself. */
int LLVMFuzzerSeeds(uint8_t **seeds, size_t *sizes, int max)
{
    int n = 0;
    if (setup())
        return 0;
    for (int mode = 0; mode < 2; mode++)
        for (int k = 0; k < NTEMPLATES && n < max; k++, n++) {
            sizes[n] = tmpl_len[mode][k] + 1;
            if (!(seeds[n] = malloc(sizes[n])))
                abort();
            seeds[n][0] = (uint8_t)(mode | k << 1 | 7 << 5);
            memcpy(seeds[n] + 1, tmpl[mode][k], tmpl_len[mode][k]);
        }
    return n;
}
