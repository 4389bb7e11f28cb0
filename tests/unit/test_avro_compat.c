/*
 * test_avro_compat.c - the registry's Avro model: validation errors with
 * paths, the specification's Parsing Canonical Form, and schema resolution
 * (reader/writer pairs, both directions) under every compatibility level,
 * including the transitive ones over three versions.
 *
 * Pairs are a table: {reader, writer, compatible?, expected words}. Each
 * pair is checked as written; a pair marked SYM is also checked with reader
 * and writer swapped, expecting the `rev` result.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_schema.h"
#include "compat.h"

static sl_avro_schema *parse_ok(const char *text)
{
    char err[512] = "";
    sl_avro_schema *s = NULL;
    int rc = sl_avro_parse(text, NULL, 0, &s, err, sizeof(err));
    if (rc)
        fprintf(stderr, "\nunexpected parse error for %s: %s\n", text, err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return s;
}

/* ================= validation ================= */

static const struct {
    const char *schema;
    const char *error; /* substring of the error; NULL: valid */
} parse_cases[] = {
    {"\"int\"", NULL},
    {"{\"type\":\"string\"}", NULL},
    {"\"integer\"", "/: unknown type name 'integer'"},
    {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"Adress\"}]}",
     "/fields/0/type: unknown type name 'Adress'"},
    {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
     "{\"name\":\"a\",\"type\":\"int\"}]}",
     "duplicate field name 'a'"},
    {"{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}", "invalid name '1R'"},
    {"{\"type\":\"record\",\"fields\":[]}", "needs a \"name\""},
    {"{\"type\":\"record\",\"name\":\"R\"}", "needs a \"fields\" array"},
    {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}", "duplicate symbol 'A'"},
    {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],\"default\":\"B\"}",
     "default must be one of its symbols"},
    {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "non-negative integer \"size\""},
    {"[\"int\",\"int\"]", "/1: duplicate int in union"},
    {"[\"int\",[\"string\"]]", "/1: a union may not immediately contain another union"},
    {"{\"type\":\"array\"}", "needs \"items\""},
    {"{\"type\":\"map\",\"values\":\"nope\"}", "/values: unknown type name 'nope'"},
    {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\","
     "\"default\":\"x\"}]}",
     "/fields/0/default: invalid default value \"x\" for type int"},
    {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":[\"null\","
     "\"int\"],\"default\":1}]}",
     "invalid default value 1 for type null"},
    {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":[\"null\","
     "\"int\"],\"default\":null}]}",
     NULL},
    {"{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":4,\"scale\":6}",
     "scale 6 is greater than precision 4"},
    {"{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":0}", "precision must be"},
    {"{\"type\":\"fixed\",\"name\":\"D\",\"size\":2,\"logicalType\":\"decimal\","
     "\"precision\":5}",
     "fixed size 2 cannot store 5 digits"},
    {"{\"type\":\"string\",\"logicalType\":\"date\"}", NULL}, /* ignored, as in Java */
    {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":"
     "\"record\",\"name\":\"R\",\"fields\":[]}}]}",
     "can't redefine 'R'"},
    {"{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"next\",\"type\":[\"null\","
     "\"L\"]}]}",
     NULL},
    {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"fields\":[{\"name\":\"e\","
     "\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"]}},{\"name\":\"f\","
     "\"type\":\"a.b.E\"},{\"name\":\"g\",\"type\":\"E\"}]}",
     NULL},
    {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"o\",\"type\":\"int\","
     "\"order\":\"sideways\"}]}",
     "order must be"},
    {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"r\",\"type\":{\"type\":"
     "\"record\",\"name\":\"S\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]},"
     "\"default\":{\"x\":\"no\"}}]}",
     "invalid default value \"no\" for type int"},
    {"{\"type\":\"record\",\"name\":\"int\",\"fields\":[]}", "primitive type"},
    {"{bad json", "not valid JSON"},
    {"42", "must be a JSON string, object or array"},
};

static void test_validation(void)
{
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        char err[512] = "";
        sl_avro_schema *s = NULL;
        int rc = sl_avro_parse(parse_cases[i].schema, NULL, 0, &s, err, sizeof(err));
        if (!parse_cases[i].error) {
            if (rc)
                fprintf(stderr, "\ncase %zu: unexpected error: %s\n", i, err);
            CU_ASSERT_EQUAL(rc, 0);
        } else {
            if (rc == 0 || !strstr(err, parse_cases[i].error))
                fprintf(stderr, "\ncase %zu: wanted '%s', got rc %d '%s'\n", i,
                        parse_cases[i].error, rc, err);
            CU_ASSERT_EQUAL(rc, -1);
            CU_ASSERT_PTR_NOT_NULL(strstr(err, parse_cases[i].error));
            CU_ASSERT_PTR_NULL(s);
        }
        sl_avro_free(s);
    }
}

static void test_references(void)
{
    const char *refs[] = {"{\"type\":\"record\",\"name\":\"Address\",\"namespace\":\"shop\","
                          "\"fields\":[{\"name\":\"city\",\"type\":\"string\"}]}"};
    const char *main = "{\"type\":\"record\",\"name\":\"Customer\",\"namespace\":\"shop\","
                       "\"fields\":[{\"name\":\"home\",\"type\":\"Address\"}]}";
    char err[512];
    sl_avro_schema *s = NULL;
    CU_ASSERT_EQUAL(sl_avro_parse(main, refs, 1, &s, err, sizeof(err)), 0);
    char *c = sl_avro_canonical(s);
    CU_ASSERT_STRING_EQUAL(c, "{\"name\":\"shop.Customer\",\"type\":\"record\",\"fields\":[{"
                              "\"name\":\"home\",\"type\":{\"name\":\"shop.Address\",\"type\":"
                              "\"record\",\"fields\":[{\"name\":\"city\",\"type\":\"string\"}]}"
                              "}]}");
    free(c);
    sl_avro_free(s);
    CU_ASSERT_EQUAL(sl_avro_parse(main, NULL, 0, &s, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown type name 'Address'"));
}

/* ================= canonical form ================= */

static const struct {
    const char *in, *canonical;
} pcf_cases[] = {
    /* [PRIMITIVES] */
    {"{\"type\":\"int\"}", "\"int\""},
    {"\"null\"", "\"null\""},
    {"{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", "\"long\""},
    /* [FULLNAMES] [STRIP] [ORDER] */
    {"{\"namespace\":\"x.y\",\"type\":\"record\",\"name\":\"R\",\"doc\":\"d\",\"aliases\":[\"Q\"],"
     "\"fields\":[{\"type\":\"int\",\"name\":\"a\",\"default\":1,\"doc\":\"f\"}]}",
     "{\"name\":\"x.y.R\",\"type\":\"record\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"},
    {"{\"type\":\"enum\",\"symbols\":[\"B\",\"A\"],\"name\":\"E\",\"namespace\":\"n\","
     "\"default\":\"A\"}",
     "{\"name\":\"n.E\",\"type\":\"enum\",\"symbols\":[\"B\",\"A\"]}"},
    {"{\"size\":16,\"type\":\"fixed\",\"name\":\"md5\"}",
     "{\"name\":\"md5\",\"type\":\"fixed\",\"size\":16}"},
    {"{\"items\":{\"type\":\"string\"},\"type\":\"array\"}",
     "{\"type\":\"array\",\"items\":\"string\"}"},
    {"{\"values\":\"long\",\"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"long\"}"},
    {"[ \"null\" , {\"type\":\"string\"} ]", "[\"null\",\"string\"]"},
    /* a named type's second occurrence is its full name; nested namespace */
    {"{\"type\":\"record\",\"name\":\"a.R\",\"fields\":[{\"name\":\"x\",\"type\":{\"type\":"
     "\"fixed\",\"name\":\"F\",\"size\":2}},{\"name\":\"y\",\"type\":\"F\"}]}",
     "{\"name\":\"a.R\",\"type\":\"record\",\"fields\":[{\"name\":\"x\",\"type\":{\"name\":"
     "\"a.F\",\"type\":\"fixed\",\"size\":2}},{\"name\":\"y\",\"type\":\"a.F\"}]}"},
    /* recursive record */
    {"{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"n\",\"type\":[\"null\",\"L\"]}]}",
     "{\"name\":\"L\",\"type\":\"record\",\"fields\":[{\"name\":\"n\",\"type\":[\"null\",\"L\"]}]"
     "}"},
    /* [STRINGS]: escapes become UTF-8 */
    {"{\"type\":\"enum\",\"name\":\"E\",\"doc\":\"caf\\u00e9\",\"symbols\":[\"A\"]}",
     "{\"name\":\"E\",\"type\":\"enum\",\"symbols\":[\"A\"]}"},
    /* [INTEGERS] */
    {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":0016}", NULL}, /* invalid JSON */
};

static void test_canonical(void)
{
    for (size_t i = 0; i < sizeof(pcf_cases) / sizeof(pcf_cases[0]); i++) {
        char err[512];
        sl_avro_schema *s = NULL;
        int rc = sl_avro_parse(pcf_cases[i].in, NULL, 0, &s, err, sizeof(err));
        if (!pcf_cases[i].canonical) {
            CU_ASSERT_EQUAL(rc, -1);
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        char *c = sl_avro_canonical(s);
        if (strcmp(c, pcf_cases[i].canonical))
            fprintf(stderr, "\ncase %zu: got %s\n", i, c);
        CU_ASSERT_STRING_EQUAL(c, pcf_cases[i].canonical);
        free(c);
        sl_avro_free(s);
    }
}

static void test_normalized(void)
{
    /* same up to whitespace, order of attributes and docs: same identity */
    sl_avro_schema *a = parse_ok("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                                 "\"a\",\"type\":\"int\",\"default\":0}]}");
    sl_avro_schema *b = parse_ok("{ \"fields\":[{\"default\":0,\"type\":\"int\",\"name\":\"a\","
                                 "\"doc\":\"x\"}], \"name\":\"R\", \"type\":\"record\"}");
    sl_avro_schema *c = parse_ok("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                                 "\"a\",\"type\":\"int\"}]}");
    char *na = sl_avro_normalized(a), *nb = sl_avro_normalized(b), *nc = sl_avro_normalized(c);
    CU_ASSERT_STRING_EQUAL(na, nb);
    CU_ASSERT_STRING_NOT_EQUAL(na, nc); /* a default changes resolution */
    /* the identity form is itself a valid schema with the same identity */
    sl_avro_schema *d = parse_ok(na);
    char *nd = sl_avro_normalized(d);
    CU_ASSERT_STRING_EQUAL(na, nd);
    free(na), free(nb), free(nc), free(nd);
    sl_avro_free(a), sl_avro_free(b), sl_avro_free(c), sl_avro_free(d);
}

/* ================= reader / writer pairs ================= */

#define REC1(f1)       "{\"type\":\"record\",\"name\":\"R\",\"fields\":[" f1 "]}"
#define INNER1(f1)     "{\"type\":\"record\",\"name\":\"In\",\"fields\":[" f1 "]}"
#define INNER2(f1, f2) "{\"type\":\"record\",\"name\":\"In\",\"fields\":[" f1 "," f2 "]}"
#define REC2(f1, f2)   "{\"type\":\"record\",\"name\":\"R\",\"fields\":[" f1 "," f2 "]}"
#define F(n, t)        "{\"name\":\"" n "\",\"type\":" t "}"
#define FD(n, t, d)    "{\"name\":\"" n "\",\"type\":" t ",\"default\":" d "}"
#define ENUM(syms)     "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[" syms "]}"
#define ENUMD(syms, d)                                                                             \
    "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[" syms "],\"default\":\"" d "\"}"
#define FIXED(name, n) "{\"type\":\"fixed\",\"name\":\"" name "\",\"size\":" #n "}"
#define DEC(p, s)                                                                                  \
    "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":" #p ",\"scale\":" #s "}"

enum { ONE = 0, SYM = 1 };

static const struct {
    const char *reader, *writer;
    int ok;       /* reader reads writer's data */
    int sym, rev; /* SYM: also check swapped, expecting rev */
    const char *why;
} pairs[] = {
    /* primitives and promotions */
    {"\"int\"", "\"int\"", 1, SYM, 1, NULL},
    {"\"null\"", "\"null\"", 1, ONE, 0, NULL},
    {"\"boolean\"", "\"boolean\"", 1, ONE, 0, NULL},
    {"\"long\"", "\"int\"", 1, SYM, 0, "reader type int is not compatible with writer type long"},
    {"\"float\"", "\"int\"", 1, SYM, 0, NULL},
    {"\"double\"", "\"int\"", 1, SYM, 0, NULL},
    {"\"float\"", "\"long\"", 1, SYM, 0, NULL},
    {"\"double\"", "\"long\"", 1, SYM, 0, NULL},
    {"\"double\"", "\"float\"", 1, SYM, 0, NULL},
    {"\"bytes\"", "\"string\"", 1, SYM, 1, NULL},
    {"\"string\"", "\"int\"", 0, SYM, 0,
     "reader type string is not compatible with writer type int"},
    {"\"boolean\"", "\"int\"", 0, SYM, 0, NULL},
    {"\"null\"", "\"string\"", 0, SYM, 0, NULL},
    {"\"bytes\"", "\"long\"", 0, ONE, 0, NULL},
    {"\"string\"", "\"double\"", 0, ONE, 0, NULL},
    /* records: fields and defaults */
    {REC1(F("a", "\"int\"")), REC1(F("a", "\"int\"")), 1, SYM, 1, NULL},
    {REC2(F("a", "\"int\""), F("email", "\"string\"")), REC1(F("a", "\"int\"")), 0, SYM, 1,
     "/fields/1: reader field 'email' has no default"},
    {REC2(F("a", "\"int\""), FD("email", "\"string\"", "\"\"")), REC1(F("a", "\"int\"")), 1, SYM, 1,
     NULL},
    {REC2(F("a", "\"int\""), FD("e", "[\"null\",\"string\"]", "null")), REC1(F("a", "\"int\"")), 1,
     SYM, 1, NULL},
    {REC1(F("a", "\"long\"")), REC1(F("a", "\"int\"")), 1, SYM, 0,
     "/fields/0/type: reader type int is not compatible with writer type long"},
    {REC1(F("a", "\"string\"")), REC1(F("a", "\"int\"")), 0, SYM, 0, "/fields/0/type"},
    {REC1(F("b", "\"int\"")), REC1(F("a", "\"int\"")), 0, SYM, 0, "reader field 'b'"},
    {REC1("{\"name\":\"b\",\"type\":\"int\",\"aliases\":[\"a\"]}"), REC1(F("a", "\"int\"")), 1, SYM,
     0, NULL},
    {REC1(F("a", "\"int\"")),
     "{\"type\":\"record\",\"name\":\"S\",\"fields\":[{\"name\":\"a\","
     "\"type\":\"int\"}]}",
     0, SYM, 0, "/name: reader record 'R' does not match writer record 'S'"},
    {"{\"type\":\"record\",\"name\":\"S\",\"aliases\":[\"R\"],\"fields\":[{\"name\":\"a\","
     "\"type\":\"int\"}]}",
     REC1(F("a", "\"int\"")), 1, SYM, 0, NULL},
    {"{\"type\":\"record\",\"name\":\"x.R\",\"fields\":[]}",
     "{\"type\":\"record\",\"name\":\"y.R\",\"fields\":[]}", 1, SYM, 1, NULL},
    {REC1(F("a", "\"int\"")), REC2(F("a", "\"int\""), F("b", "\"string\"")), 1, SYM, 0,
     "reader field 'b' has no default"},
    {REC1(F("a", "\"int\"")), "\"int\"", 0, SYM, 0, "reader type R is not compatible"},
    /* nested records */
    {REC1(F("in", INNER1(F("x", "\"long\"")))), REC1(F("in", INNER1(F("x", "\"int\"")))), 1, SYM, 0,
     "/fields/0/type/fields/0/type: reader type int is not compatible with writer type long"},
    {REC1(F("in", INNER2(F("x", "\"int\""), F("y", "\"int\"")))),
     REC1(F("in", INNER1(F("x", "\"int\"")))), 0, SYM, 1,
     "/fields/0/type/fields/1: reader field 'y' has no default"},
    /* enums */
    {ENUM("\"A\",\"B\""), ENUM("\"A\",\"B\""), 1, SYM, 1, NULL},
    {ENUM("\"A\",\"B\",\"C\""), ENUM("\"A\",\"B\""), 1, SYM, 0,
     "/symbols: reader enum 'E' lacks the writer's symbol 'C' and has no default"},
    {ENUMD("\"A\",\"U\"", "U"), ENUM("\"A\",\"B\""), 1, SYM, 0, "lacks the writer's symbol 'U'"},
    {ENUM("\"B\",\"A\""), ENUM("\"A\",\"B\""), 1, SYM, 1, NULL},
    {ENUM("\"A\""), "{\"type\":\"enum\",\"name\":\"F\",\"symbols\":[\"A\"]}", 0, SYM, 0,
     "reader enum 'E' does not match writer enum 'F'"},
    {ENUM("\"A\""), "\"string\"", 0, SYM, 0, NULL},
    /* fixed */
    {FIXED("F", 4), FIXED("F", 4), 1, SYM, 1, NULL},
    {FIXED("F", 4), FIXED("F", 8), 0, SYM, 0, "/size: reader fixed 'F' has size 4, writer size 8"},
    {FIXED("F", 4), FIXED("G", 4), 0, SYM, 0, "/name"},
    {FIXED("F", 4), "\"bytes\"", 0, SYM, 0, NULL},
    /* arrays and maps */
    {"{\"type\":\"array\",\"items\":\"long\"}", "{\"type\":\"array\",\"items\":\"int\"}", 1, SYM, 0,
     "/items: reader type int is not compatible with writer type long"},
    {"{\"type\":\"array\",\"items\":\"string\"}", "{\"type\":\"array\",\"items\":\"int\"}", 0, ONE,
     0, "/items"},
    {"{\"type\":\"map\",\"values\":\"double\"}", "{\"type\":\"map\",\"values\":\"float\"}", 1, SYM,
     0, "/values"},
    {"{\"type\":\"map\",\"values\":\"string\"}", "{\"type\":\"array\",\"items\":\"string\"}", 0,
     SYM, 0, NULL},
    {"{\"type\":\"array\",\"items\":" REC2(F("a", "\"int\""), FD("b", "\"int\"", "0")) "}",
     "{\"type\":\"array\",\"items\":" REC1(F("a", "\"int\"")) "}", 1, SYM, 1, NULL},
    {"{\"type\":\"map\",\"values\":" REC2(F("a", "\"int\""), F("b", "\"int\"")) "}",
     "{\"type\":\"map\",\"values\":" REC1(F("a", "\"int\"")) "}", 0, SYM, 1,
     "/values/fields/1: reader field 'b' has no default"},
    /* unions, both ways */
    {"[\"null\",\"int\"]", "\"int\"", 1, SYM, 0,
     "reader type int cannot read the writer's union branch 0 (null)"},
    {"[\"null\",\"long\"]", "\"int\"", 1, SYM, 0, NULL},
    {"[\"null\",\"string\"]", "\"int\"", 0, SYM, 0,
     "reader union has no branch that reads the writer's type int"},
    {"[\"null\",\"int\",\"string\"]", "[\"null\",\"int\"]", 1, SYM, 0,
     "reader union has no branch that reads the writer's union branch 2 (string)"},
    {"[\"int\",\"null\"]", "[\"null\",\"int\"]", 1, SYM, 1, NULL},
    {"[\"null\",\"long\"]", "[\"null\",\"int\"]", 1, SYM, 0, NULL},
    {"\"long\"", "[\"int\",\"long\"]", 1, SYM, 1, NULL},
    {"\"int\"", "[\"int\",\"long\"]", 0, ONE, 0, "union branch 1 (long)"},
    {"[\"null\"," REC1(F("a", "\"int\"")) "]",
     "[\"null\"," REC2(F("a", "\"int\""), F("b", "\"int\"")) "]", 1, SYM, 0, NULL},
    {"[\"string\",\"bytes\"]", "\"string\"", 1, ONE, 0, NULL},
    {"[" ENUM("\"A\"") ",\"string\"]", ENUM("\"A\""), 1, SYM, 0,
     "reader type E cannot read the writer's union branch 1 (string)"},
    {"[]", "\"int\"", 0, ONE, 0, NULL},
    {"[\"int\"]", "[]", 1, ONE, 0, NULL},
    /* decimal */
    {DEC(10, 2), DEC(10, 2), 1, SYM, 1, NULL},
    {DEC(10, 2), DEC(12, 2), 0, SYM, 0, "reader decimal(10,2) does not match writer decimal(12,2)"},
    {DEC(10, 2), DEC(10, 3), 0, SYM, 0, NULL},
    {DEC(10, 2), "\"bytes\"", 1, SYM, 1, NULL},
    {"{\"type\":\"fixed\",\"name\":\"D\",\"size\":8,\"logicalType\":\"decimal\",\"precision\":10,"
     "\"scale\":2}",
     "{\"type\":\"fixed\",\"name\":\"D\",\"size\":8,\"logicalType\":\"decimal\",\"precision\":"
     "12,\"scale\":2}",
     0, SYM, 0, NULL},
    {DEC(10, 2), "\"string\"", 1, SYM, 1, NULL}, /* bytes <-> string promotion */
    /* logical types other than decimal resolve as their underlying types */
    {"{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", "\"long\"", 1, SYM, 1, NULL},
    {"{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}",
     "{\"type\":\"int\",\"logicalType\":\"date\"}", 1, SYM, 0, NULL},
    /* promotions inside containers and fields */
    {"{\"type\":\"map\",\"values\":\"double\"}", "{\"type\":\"map\",\"values\":\"int\"}", 1, SYM, 0,
     "/values: reader type int is not compatible with writer type double"},
    {"{\"type\":\"array\",\"items\":\"bytes\"}", "{\"type\":\"array\",\"items\":\"string\"}", 1,
     SYM, 1, NULL},
    {REC1(F("s", "\"bytes\"")), REC1(F("s", "\"string\"")), 1, SYM, 1, NULL},
    {"{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"long\"}}",
     "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"int\"}}", 1, SYM, 0,
     "/values/items: reader type int is not compatible with writer type long"},
    {"[\"null\",\"string\"]", "[\"null\",\"bytes\"]", 1, SYM, 1, NULL},
    {"[\"null\",\"int\"]", "[\"null\",\"long\"]", 0, ONE, 0,
     "reader union has no branch that reads the writer's union branch 1 (long)"},
    {"[\"null\"]", "\"null\"", 1, SYM, 1, NULL},
    /* unions of named types: branches match by name */
    {"[" REC1(F("a", "\"int\"")) ",{\"type\":\"record\",\"name\":\"S\",\"fields\":[]}]",
     REC1(F("a", "\"int\"")), 1, SYM, 0, "union branch 1 (S)"},
    {"[" ENUM("\"A\"") "," FIXED("F", 2) "]", FIXED("F", 2), 1, SYM, 0, "union branch 0 (E)"},
    /* the branch matching by name is resolved, and what fails is named in it */
    {"[" FIXED("F", 2) "]", FIXED("F", 3), 0, SYM, 0,
     "/0/size: reader fixed 'F' has size 2, writer size 3"},
    {"[\"null\"," REC1(F("a", "\"int\"")) "]", "[\"null\"," REC1(F("a", "\"string\"")) "]", 0, SYM,
     0, "/1/fields/0/type: reader type int is not compatible with writer type string"},
    /* aliases on enums and fixed; field alias the other way does not apply */
    {"{\"type\":\"enum\",\"name\":\"Color\",\"aliases\":[\"E\"],\"symbols\":[\"A\"]}",
     ENUM("\"A\""), 1, SYM, 0, "reader enum 'E' does not match writer enum 'Color'"},
    {"{\"type\":\"fixed\",\"name\":\"G\",\"aliases\":[\"F\"],\"size\":2}", FIXED("F", 2), 1, SYM, 0,
     "/name"},
    {REC1(F("a", "\"int\"")), REC1("{\"name\":\"b\",\"type\":\"int\",\"aliases\":[\"a\"]}"), 0, ONE,
     0, "reader field 'a' has no default"},
    /* enums in containers, enum defaults */
    {"{\"type\":\"array\",\"items\":" ENUM("\"A\"") "}",
     "{\"type\":\"array\",\"items\":" ENUM("\"A\",\"B\"") "}", 0, SYM, 1,
     "/items/symbols: reader enum 'E' lacks the writer's symbol 'B'"},
    {REC1(F("e", ENUMD("\"A\",\"OTHER\"", "OTHER"))), REC1(F("e", ENUM("\"A\",\"B\",\"C\""))), 1,
     SYM, 0, "lacks the writer's symbol 'OTHER'"},
    /* decimal in a record field; fixed-decimal vs bytes-decimal are different types */
    {REC1(F("price", DEC(9, 2))), REC1(F("price", DEC(9, 4))), 0, SYM, 0,
     "/fields/0/type: reader decimal(9,2) does not match writer decimal(9,4)"},
    {"{\"type\":\"fixed\",\"name\":\"D\",\"size\":8,\"logicalType\":\"decimal\",\"precision\":10,"
     "\"scale\":2}",
     DEC(10, 2), 0, SYM, 0, "reader type D is not compatible with writer type bytes"},
    {"{\"type\":\"string\",\"logicalType\":\"uuid\"}", "\"string\"", 1, SYM, 1, NULL},
    /* records nested three deep, reader adds a defaulted field at the bottom */
    {REC1(F("a",
            INNER1(F("b", "{\"type\":\"record\",\"name\":\"C\",\"fields\":[{\"name\":\"x\","
                          "\"type\":\"int\"},{\"name\":\"y\",\"type\":\"int\",\"default\":0}]}")))),
     REC1(F("a", INNER1(F("b", "{\"type\":\"record\",\"name\":\"C\",\"fields\":[{\"name\":\"x\","
                               "\"type\":\"int\"}]}")))),
     1, SYM, 1, NULL},
    /* named-type references and recursion */
    {"{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\",\"type\":\"long\"},{\"name\":"
     "\"next\",\"type\":[\"null\",\"L\"]}]}",
     "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"},{\"name\":"
     "\"next\",\"type\":[\"null\",\"L\"]}]}",
     1, SYM, 0, "/fields/0/type"},
    {REC2(F("a", FIXED("F", 2)), F("b", "\"F\"")), REC2(F("a", FIXED("F", 2)), F("b", "\"F\"")), 1,
     SYM, 1, NULL},
    {REC2(F("a", FIXED("F", 2)), F("b", "\"F\"")), REC2(F("a", FIXED("F", 3)), F("b", "\"F\"")), 0,
     SYM, 0, "/fields/1/type/size"},
    {"{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"e\",\"type\":" ENUM(
         "\"A\"") "},"
                  "{\"name\":\"e2\",\"type\":\"E\",\"default\":\"A\"}]}",
     "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"e\",\"type\":" ENUM(
         "\"A\",\"B\"") "}]}",
     0, SYM, 1, "/fields/0/type/symbols"},
};

static void test_pairs(void)
{
    int checked = 0;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        sl_avro_schema *r = parse_ok(pairs[i].reader), *w = parse_ok(pairs[i].writer);
        for (int dir = 0; dir <= pairs[i].sym; dir++) {
            const sl_avro_schema *rd = dir ? w : r, *wr = dir ? r : w;
            int want = dir ? pairs[i].rev : pairs[i].ok;
            json_t *msgs = json_array();
            int n = sl_compat_resolve(sl_avro_root(rd), sl_avro_root(wr), msgs);
            char *txt = json_dumps(msgs, 0);
            if ((n == 0) != want)
                fprintf(stderr, "\npair %zu dir %d (%s / %s): wanted %s, got %s\n", i, dir,
                        pairs[i].reader, pairs[i].writer, want ? "compatible" : "incompatible",
                        txt);
            CU_ASSERT_EQUAL(n == 0, want);
            CU_ASSERT_EQUAL((int)json_array_size(msgs), n);
            if (!want && pairs[i].why && (dir == 0) == (pairs[i].ok == 0)) {
                if (!strstr(txt, pairs[i].why))
                    fprintf(stderr, "\npair %zu: '%s' not in %s\n", i, pairs[i].why, txt);
                CU_ASSERT_PTR_NOT_NULL(strstr(txt, pairs[i].why));
            }
            free(txt);
            json_decref(msgs);
            checked++;
        }
        sl_avro_free(r);
        sl_avro_free(w);
    }
    printf("(%d reader/writer checks from %zu pairs) ", checked, sizeof(pairs) / sizeof(pairs[0]));
    CU_ASSERT(checked >= 80);
}

/* ================= levels ================= */

/* v1 {a}, v2 {a, b default}, v3 {a, b default, c default}: each step is FULL. */
static const char *V1 = REC1(F("a", "\"int\""));
static const char *V2 = REC2(F("a", "\"int\""), FD("b", "\"string\"", "\"x\""));
/* drops the default of b: BACKWARD to v2 (b exists in v2), not to v1 */
static const char *V3 = REC2(F("a", "\"int\""), F("b", "\"string\""));

static int level_count(sl_compat_level level, const char *cand, const char **olds, size_t n,
                       json_t *msgs)
{
    sl_avro_schema *c = parse_ok(cand), *o[8];
    int vers[8];
    for (size_t i = 0; i < n; i++) {
        o[i] = parse_ok(olds[i]);
        vers[i] = (int)i + 1;
    }
    int rc = sl_compat_check(level, c, (const sl_avro_schema *const *)o, vers, n, msgs);
    for (size_t i = 0; i < n; i++)
        sl_avro_free(o[i]);
    sl_avro_free(c);
    return rc;
}

static void test_levels(void)
{
    const char *olds[] = {V1, V2};
    json_t *m = json_array();
    /* non-transitive: only the latest (v2) counts */
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_BACKWARD, V3, olds, 2, NULL), 0);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_NONE, V3, olds, 2, NULL), 0);
    /* transitive: v3 cannot read v1's data (b missing, no default) */
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_BACKWARD_TRANSITIVE, V3, olds, 2, m), 1);
    char *txt = json_dumps(m, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(txt, "reader field 'b' has no default"));
    CU_ASSERT_PTR_NOT_NULL(strstr(txt, "BACKWARD_TRANSITIVE: the new schema cannot read data "
                                       "written with version 1"));
    free(txt);
    json_decref(m);
    /* forward: old schemas read new data. v1 reads v3 (drops b): ok; v2 reads v3: ok */
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FORWARD, V3, olds, 2, NULL), 0);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FORWARD_TRANSITIVE, V3, olds, 2, NULL), 0);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FULL, V3, olds, 2, NULL), 0);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FULL_TRANSITIVE, V3, olds, 2, NULL), 1);
    /* adding a field without default: forward ok, backward not */
    const char *w1[] = {V1};
    const char *add = REC2(F("a", "\"int\""), F("c", "\"int\""));
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_BACKWARD, add, w1, 1, NULL), 1);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FORWARD, add, w1, 1, NULL), 0);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FULL, add, w1, 1, NULL), 1);
    /* removing a field without default: backward ok, forward not */
    const char *w2[] = {add};
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_BACKWARD, V1, w2, 1, NULL), 0);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FORWARD, V1, w2, 1, NULL), 1);
    /* forward transitive over three versions: v1 {a,c}, v2 {a,c default}, v3 {a}:
     * v2 reads v3 (c default), v1 does not */
    const char *fw[] = {add, REC2(F("a", "\"int\""), FD("c", "\"int\"", "0"))};
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FORWARD, V1, fw, 2, NULL), 0);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FORWARD_TRANSITIVE, V1, fw, 2, NULL), 1);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FULL, V1, fw, 2, NULL), 0);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FULL_TRANSITIVE, V1, fw, 2, NULL), 1);
    /* type change int -> long: backward yes, forward no, full no */
    const char *l1[] = {V1};
    const char *lng = REC1(F("a", "\"long\""));
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_BACKWARD, lng, l1, 1, NULL), 0);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FORWARD, lng, l1, 1, NULL), 1);
    CU_ASSERT_EQUAL(level_count(SL_COMPAT_FULL, lng, l1, 1, NULL), 1);
    /* level names */
    CU_ASSERT_EQUAL(sl_compat_level_parse("FULL_TRANSITIVE"), SL_COMPAT_FULL_TRANSITIVE);
    CU_ASSERT_EQUAL(sl_compat_level_parse("full"), -1);
    CU_ASSERT_STRING_EQUAL(sl_compat_level_name(SL_COMPAT_BACKWARD), "BACKWARD");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("avro_compat", NULL, NULL);
    CU_add_test(s, "validation errors name path and reason", test_validation);
    CU_add_test(s, "schema references", test_references);
    CU_add_test(s, "parsing canonical form", test_canonical);
    CU_add_test(s, "identity form", test_normalized);
    CU_add_test(s, "reader/writer pairs", test_pairs);
    CU_add_test(s, "compatibility levels", test_levels);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
