/*
 * avro_schema.c - parse Avro schema JSON into the sl_avro_node graph, validate
 * it, and print its Parsing Canonical Form (see avro_schema.h).
 *
 * Parsing follows the Avro specification and, where the specification is
 * silent, what Avro's Java parser does (the registry's users compare against
 * Confluent, which uses it):
 *   - a name without a dot is qualified by the "namespace" attribute, else by
 *     the namespace of the innermost enclosing named type; a reference that is
 *     not found in the current namespace is tried in the null namespace;
 *   - names and namespace parts match [A-Za-z_][A-Za-z0-9_]*; a full name may
 *     be defined once ("can't redefine");
 *   - a union may not directly contain a union, nor two branches of the same
 *     unnamed type or the same full name;
 *   - defaults are validated against the field's type (a union's default
 *     matches its first branch), as Avro >= 1.9 does;
 *   - logical types that do not fit their underlying type are ignored (Java's
 *     behaviour) except decimal, whose precision and scale are errors when
 *     invalid, because silently dropping them changes the data's meaning.
 *
 * Every error names the JSON-pointer-like path of the offending element
 * (/fields/2/type/items) and the reason.
 *
 * Canonical form ([PRIMITIVES] [FULLNAMES] [STRIP] [ORDER] [STRINGS]
 * [INTEGERS] [WHITESPACE] of the specification) is printed by a walk that
 * emits a named type's definition at its first occurrence and its full name
 * afterwards. The identity form adds the resolution-relevant attributes.
 */
#include "avro_schema.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_avro_schema {
    sl_avro_node *root;
    sl_avro_node *all; /* every node, for freeing */
    sl_avro_node **named;
    size_t nnamed, capnamed;
};

typedef struct parser {
    sl_avro_schema *s;
    char path[1024];
    char *err;
    size_t errlen;
} parser;

static const char *const type_names[] = {"null",   "boolean", "int",    "long",   "float",
                                         "double", "bytes",   "string", "record", "enum",
                                         "array",  "map",     "union",  "fixed"};

const char *sl_avro_type_name(sl_avro_type t)
{
    return type_names[t];
}

const sl_avro_node *sl_avro_root(const sl_avro_schema *s)
{
    return s->root;
}

/* ================= errors and paths ================= */

static int perr(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(parser *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s: %s", p->path[0] ? p->path : "/", msg);
    return -1;
}

static size_t path_push(parser *p, const char *seg)
{
    size_t len = strlen(p->path);
    snprintf(p->path + len, sizeof(p->path) - len, "/%s", seg);
    return len;
}

static size_t path_pushi(parser *p, size_t i)
{
    char b[24];
    snprintf(b, sizeof(b), "%zu", i);
    return path_push(p, b);
}

static void path_pop(parser *p, size_t len)
{
    p->path[len] = 0;
}

/* ================= allocation ================= */

static sl_avro_node *node_new(parser *p, sl_avro_type t)
{
    sl_avro_node *n = calloc(1, sizeof(*n));
    if (!n)
        abort();
    n->type = t;
    n->next_alloc = p->s->all;
    p->s->all = n;
    return n;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *v = calloc(n ? n : 1, sz);
    if (!v)
        abort();
    return v;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void node_free(sl_avro_node *n)
{
    free(n->fullname);
    free(n->name);
    free_strv(n->aliases, n->naliases);
    for (size_t i = 0; i < n->nfields; i++) {
        free(n->fields[i].name);
        free_strv(n->fields[i].aliases, n->fields[i].naliases);
        json_decref(n->fields[i].defval);
    }
    free(n->fields);
    free_strv(n->symbols, n->nsymbols);
    free(n->enum_default);
    free(n->branches);
    free(n->logical);
    free(n);
}

void sl_avro_free(sl_avro_schema *s)
{
    if (!s)
        return;
    sl_avro_node *n = s->all;
    while (n) {
        sl_avro_node *next = n->next_alloc;
        node_free(n);
        n = next;
    }
    free(s->named);
    free(s);
}

/* ================= names ================= */

static int valid_name(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return 0;
    return 1;
}

/* A full name: dot-separated valid names (an empty namespace is allowed). */
static int valid_fullname(const char *s)
{
    char buf[512];
    if (strlen(s) >= sizeof(buf))
        return 0;
    strcpy(buf, s);
    for (char *part = buf, *dot;; part = dot + 1) {
        dot = strchr(part, '.');
        if (dot)
            *dot = 0;
        if (!valid_name(part))
            return 0;
        if (!dot)
            return 1;
    }
}

static sl_avro_node *find_named(const sl_avro_schema *s, const char *fullname)
{
    for (size_t i = 0; i < s->nnamed; i++)
        if (!strcmp(s->named[i]->fullname, fullname))
            return s->named[i];
    return NULL;
}

static void add_named(sl_avro_schema *s, sl_avro_node *n)
{
    if (s->nnamed == s->capnamed) {
        s->capnamed = s->capnamed ? s->capnamed * 2 : 16;
        s->named = realloc(s->named, s->capnamed * sizeof(*s->named));
        if (!s->named)
            abort();
    }
    s->named[s->nnamed++] = n;
}

static char *qualify(const char *name, const char *space)
{
    if (strchr(name, '.') || !space || !*space)
        return xstrdup(name);
    size_t len = strlen(space) + strlen(name) + 2;
    char *full = xcalloc(len, 1);
    snprintf(full, len, "%s.%s", space, name);
    return full;
}

static int primitive_type(const char *name, sl_avro_type *t)
{
    for (int i = SL_AVRO_NULL; i <= SL_AVRO_STRING; i++)
        if (!strcmp(name, type_names[i])) {
            *t = (sl_avro_type)i;
            return 1;
        }
    return 0;
}

/* ================= parsing ================= */

static sl_avro_node *parse_any(parser *p, json_t *j, const char *space);

static sl_avro_node *parse_reference(parser *p, const char *name, const char *space)
{
    sl_avro_type t;
    if (primitive_type(name, &t))
        return node_new(p, t);
    char *full = qualify(name, space);
    sl_avro_node *n = find_named(p->s, full);
    free(full);
    if (!n && !strchr(name, '.'))
        n = find_named(p->s, name);
    if (!n) {
        perr(p, "unknown type name '%s'", name);
        return NULL;
    }
    return n;
}

static int parse_aliases(parser *p, json_t *obj, const char *space, int qualified, char ***out,
                         size_t *nout)
{
    json_t *a = json_object_get(obj, "aliases");
    *out = NULL;
    *nout = 0;
    if (!a)
        return 0;
    if (!json_is_array(a))
        return perr(p, "aliases must be an array of names");
    *out = xcalloc(json_array_size(a), sizeof(char *));
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_string(v) ||
            !(qualified ? valid_fullname(json_string_value(v)) : valid_name(json_string_value(v))))
            return perr(p, "alias %zu is not a valid name", i);
        (*out)[(*nout)++] =
            qualified ? qualify(json_string_value(v), space) : xstrdup(json_string_value(v));
    }
    return 0;
}

/* Name, namespace and aliases of a record, enum or fixed; registers the name
 * before the body is parsed so that a record may refer to itself. */
static int parse_name(parser *p, json_t *j, sl_avro_node *n, const char *space)
{
    json_t *jn = json_object_get(j, "name");
    json_t *jns = json_object_get(j, "namespace");
    if (!json_is_string(jn))
        return perr(p, "a %s needs a \"name\" string", type_names[n->type]);
    const char *name = json_string_value(jn);
    if (jns && !json_is_null(jns) && !json_is_string(jns))
        return perr(p, "\"namespace\" must be a string");
    const char *ns = json_is_string(jns) ? json_string_value(jns) : space;
    if (!valid_fullname(name))
        return perr(p, "invalid name '%s'", name);
    if (!strchr(name, '.') && ns && *ns && !valid_fullname(ns))
        return perr(p, "invalid namespace '%s'", ns);
    n->fullname = qualify(name, ns);
    const char *dot = strrchr(n->fullname, '.');
    n->name = xstrdup(dot ? dot + 1 : n->fullname);
    sl_avro_type t;
    if (primitive_type(n->name, &t) && !dot)
        return perr(p, "'%s' is a primitive type and cannot be redefined", n->name);
    if (find_named(p->s, n->fullname))
        return perr(p, "can't redefine '%s'", n->fullname);
    add_named(p->s, n);
    char nsbuf[512];
    snprintf(nsbuf, sizeof(nsbuf), "%.*s", dot ? (int)(dot - n->fullname) : 0, n->fullname);
    return parse_aliases(p, j, nsbuf, 1, &n->aliases, &n->naliases);
}

/* The namespace a named node gives to the types nested in it. */
static void node_space(const sl_avro_node *n, char *buf, size_t len)
{
    const char *dot = strrchr(n->fullname, '.');
    snprintf(buf, len, "%.*s", dot ? (int)(dot - n->fullname) : 0, n->fullname);
}

static int check_default(parser *p, const sl_avro_node *t, json_t *v, int depth);

static int check_default_record(parser *p, const sl_avro_node *t, json_t *v, int depth)
{
    if (!json_is_object(v))
        return perr(p, "default value for record '%s' must be a JSON object", t->fullname);
    for (size_t i = 0; i < t->nfields; i++) {
        json_t *fv = json_object_get(v, t->fields[i].name);
        if (!fv && !t->fields[i].defval)
            return perr(p, "default value for record '%s' lacks field '%s'", t->fullname,
                        t->fields[i].name);
        if (fv && check_default(p, t->fields[i].type, fv, depth + 1))
            return -1;
    }
    return 0;
}

/* Does JSON value v match type t as a default (Avro spec, "Complex Types")? */
static int check_default(parser *p, const sl_avro_node *t, json_t *v, int depth)
{
    if (depth > 64)
        return 0;
    int ok = 1;
    switch (t->type) {
    case SL_AVRO_NULL:
        ok = json_is_null(v);
        break;
    case SL_AVRO_BOOLEAN:
        ok = json_is_boolean(v);
        break;
    case SL_AVRO_INT:
        ok = json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
             json_integer_value(v) <= INT32_MAX;
        break;
    case SL_AVRO_LONG:
        ok = json_is_integer(v);
        break;
    case SL_AVRO_FLOAT:
    case SL_AVRO_DOUBLE:
        ok = json_is_number(v);
        break;
    case SL_AVRO_BYTES:
    case SL_AVRO_STRING:
    case SL_AVRO_FIXED:
        ok = json_is_string(v);
        break;
    case SL_AVRO_ENUM:
        ok = 0;
        for (size_t i = 0; json_is_string(v) && i < t->nsymbols; i++)
            ok |= !strcmp(t->symbols[i], json_string_value(v));
        break;
    case SL_AVRO_ARRAY:
        if (!json_is_array(v))
            ok = 0;
        for (size_t i = 0; ok && i < json_array_size(v); i++)
            if (check_default(p, t->items, json_array_get(v, i), depth + 1))
                return -1;
        break;
    case SL_AVRO_MAP: {
        const char *k;
        json_t *mv;
        if (!json_is_object(v))
            ok = 0;
        else
            json_object_foreach(v, k, mv)
            {
                if (check_default(p, t->items, mv, depth + 1))
                    return -1;
            }
        break;
    }
    case SL_AVRO_UNION:
        if (t->nbranches == 0)
            ok = 0;
        else
            return check_default(p, t->branches[0], v, depth + 1);
        break;
    case SL_AVRO_RECORD:
        return check_default_record(p, t, v, depth);
    }
    if (!ok) {
        char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        perr(p, "invalid default value %.100s for type %s", txt ? txt : "?",
             t->fullname ? t->fullname : type_names[t->type]);
        free(txt);
        return -1;
    }
    return 0;
}

static int parse_field(parser *p, json_t *jf, sl_avro_node *rec, size_t idx, const char *space)
{
    sl_avro_field *f = &rec->fields[idx];
    if (!json_is_object(jf))
        return perr(p, "a field must be a JSON object");
    json_t *jn = json_object_get(jf, "name");
    if (!json_is_string(jn))
        return perr(p, "a field needs a \"name\" string");
    if (!valid_name(json_string_value(jn)))
        return perr(p, "invalid field name '%s'", json_string_value(jn));
    for (size_t i = 0; i < idx; i++)
        if (!strcmp(rec->fields[i].name, json_string_value(jn)))
            return perr(p, "duplicate field name '%s' in record '%s'", json_string_value(jn),
                        rec->fullname);
    f->name = xstrdup(json_string_value(jn));
    json_t *jo = json_object_get(jf, "order");
    f->order = "ascending";
    if (jo) {
        const char *o = json_is_string(jo) ? json_string_value(jo) : "";
        if (strcmp(o, "ascending") && strcmp(o, "descending") && strcmp(o, "ignore"))
            return perr(p, "field '%s': order must be ascending, descending or ignore", f->name);
        f->order = !strcmp(o, "descending") ? "descending"
                   : !strcmp(o, "ignore")   ? "ignore"
                                            : "ascending";
    }
    if (parse_aliases(p, jf, NULL, 0, &f->aliases, &f->naliases))
        return -1;
    json_t *jt = json_object_get(jf, "type");
    if (!jt)
        return perr(p, "field '%s' has no type", f->name);
    size_t mark = path_push(p, "type");
    f->type = parse_any(p, jt, space);
    path_pop(p, mark);
    if (!f->type)
        return -1;
    json_t *jd = json_object_get(jf, "default");
    if (jd) {
        mark = path_push(p, "default");
        int rc = check_default(p, f->type, jd, 0);
        path_pop(p, mark);
        if (rc)
            return -1;
        f->defval = json_incref(jd);
    }
    return 0;
}

static int parse_record(parser *p, json_t *j, sl_avro_node *n)
{
    char space[512];
    node_space(n, space, sizeof(space));
    json_t *jf = json_object_get(j, "fields");
    if (!json_is_array(jf))
        return perr(p, "record '%s' needs a \"fields\" array", n->fullname);
    n->fields = xcalloc(json_array_size(jf), sizeof(sl_avro_field));
    size_t mark = path_push(p, "fields");
    for (size_t i = 0; i < json_array_size(jf); i++) {
        size_t m2 = path_pushi(p, i);
        n->nfields = i + 1;
        if (parse_field(p, json_array_get(jf, i), n, i, space))
            return -1;
        path_pop(p, m2);
    }
    path_pop(p, mark);
    return 0;
}

static int parse_enum(parser *p, json_t *j, sl_avro_node *n)
{
    json_t *js = json_object_get(j, "symbols");
    if (!json_is_array(js))
        return perr(p, "enum '%s' needs a \"symbols\" array", n->fullname);
    n->symbols = xcalloc(json_array_size(js), sizeof(char *));
    for (size_t i = 0; i < json_array_size(js); i++) {
        json_t *v = json_array_get(js, i);
        if (!json_is_string(v) || !valid_name(json_string_value(v)))
            return perr(p, "enum '%s': symbol %zu is not a valid name", n->fullname, i);
        for (size_t k = 0; k < n->nsymbols; k++)
            if (!strcmp(n->symbols[k], json_string_value(v)))
                return perr(p, "enum '%s': duplicate symbol '%s'", n->fullname,
                            json_string_value(v));
        n->symbols[n->nsymbols++] = xstrdup(json_string_value(v));
    }
    json_t *jd = json_object_get(j, "default");
    if (jd) {
        int found = 0;
        for (size_t k = 0; json_is_string(jd) && k < n->nsymbols; k++)
            found |= !strcmp(n->symbols[k], json_string_value(jd));
        if (!found)
            return perr(p, "enum '%s': default must be one of its symbols", n->fullname);
        n->enum_default = xstrdup(json_string_value(jd));
    }
    return 0;
}

static int parse_fixed(parser *p, json_t *j, sl_avro_node *n)
{
    json_t *js = json_object_get(j, "size");
    if (!json_is_integer(js) || json_integer_value(js) < 0 || json_integer_value(js) > INT32_MAX)
        return perr(p, "fixed '%s' needs a non-negative integer \"size\"", n->fullname);
    n->size = json_integer_value(js);
    return 0;
}

static int parse_union(parser *p, json_t *j, sl_avro_node *n, const char *space)
{
    n->branches = xcalloc(json_array_size(j), sizeof(sl_avro_node *));
    for (size_t i = 0; i < json_array_size(j); i++) {
        size_t mark = path_pushi(p, i);
        sl_avro_node *b = parse_any(p, json_array_get(j, i), space);
        if (!b)
            return -1;
        if (b->type == SL_AVRO_UNION)
            return perr(p, "a union may not immediately contain another union");
        for (size_t k = 0; k < n->nbranches; k++) {
            const sl_avro_node *o = n->branches[k];
            if (o->type != b->type)
                continue;
            if (!b->fullname || !strcmp(o->fullname, b->fullname))
                return perr(p, "duplicate %s in union",
                            b->fullname ? b->fullname : type_names[b->type]);
        }
        n->branches[n->nbranches++] = b;
        path_pop(p, mark);
    }
    return 0;
}

/* The largest decimal precision a fixed of `size` bytes holds (two's complement). */
static int64_t fixed_max_precision(int64_t size)
{
    if (size <= 0)
        return 0;
    return (int64_t)floor(log10(2) * (8.0 * (double)size - 1));
}

static int parse_logical(parser *p, json_t *j, sl_avro_node *n)
{
    json_t *jl = json_object_get(j, "logicalType");
    if (!json_is_string(jl))
        return 0;
    const char *lt = json_string_value(jl);
    if (!strcmp(lt, "decimal") && (n->type == SL_AVRO_BYTES || n->type == SL_AVRO_FIXED)) {
        json_t *jp = json_object_get(j, "precision"), *js = json_object_get(j, "scale");
        if (!json_is_integer(jp) || json_integer_value(jp) <= 0)
            return perr(p, "decimal precision must be a positive integer");
        n->precision = json_integer_value(jp);
        if (js && (!json_is_integer(js) || json_integer_value(js) < 0))
            return perr(p, "decimal scale must be a non-negative integer");
        n->scale = js ? json_integer_value(js) : 0;
        if (n->scale > n->precision)
            return perr(p, "decimal scale %lld is greater than precision %lld", (long long)n->scale,
                        (long long)n->precision);
        if (n->type == SL_AVRO_FIXED && n->precision > fixed_max_precision(n->size))
            return perr(p, "fixed size %lld cannot store %lld digits (max %lld)",
                        (long long)n->size, (long long)n->precision,
                        (long long)fixed_max_precision(n->size));
        n->logical = xstrdup(lt);
        return 0;
    }
    static const struct {
        const char *name;
        sl_avro_type type;
        int64_t fixed_size; /* for fixed-based ones */
    } known[] = {
        {"date", SL_AVRO_INT, 0},
        {"time-millis", SL_AVRO_INT, 0},
        {"time-micros", SL_AVRO_LONG, 0},
        {"timestamp-millis", SL_AVRO_LONG, 0},
        {"timestamp-micros", SL_AVRO_LONG, 0},
        {"timestamp-nanos", SL_AVRO_LONG, 0},
        {"local-timestamp-millis", SL_AVRO_LONG, 0},
        {"local-timestamp-micros", SL_AVRO_LONG, 0},
        {"local-timestamp-nanos", SL_AVRO_LONG, 0},
        {"uuid", SL_AVRO_STRING, 0},
        {"uuid", SL_AVRO_FIXED, 16},
        {"duration", SL_AVRO_FIXED, 12},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(lt, known[i].name) && n->type == known[i].type &&
            (n->type != SL_AVRO_FIXED || n->size == known[i].fixed_size))
            n->logical = xstrdup(lt);
    return 0; /* unknown or misplaced logical types are ignored, as in Avro Java */
}

static sl_avro_node *parse_named(parser *p, json_t *j, sl_avro_type t, const char *space)
{
    sl_avro_node *n = node_new(p, t);
    if (parse_name(p, j, n, space))
        return NULL;
    int rc = t == SL_AVRO_RECORD ? parse_record(p, j, n)
             : t == SL_AVRO_ENUM ? parse_enum(p, j, n)
                                 : parse_fixed(p, j, n);
    if (!rc && t == SL_AVRO_FIXED)
        rc = parse_logical(p, j, n);
    return rc ? NULL : n;
}

static sl_avro_node *parse_object(parser *p, json_t *j, const char *space)
{
    json_t *jt = json_object_get(j, "type");
    if (!jt)
        return perr(p, "a schema object needs a \"type\""), NULL;
    if (!json_is_string(jt)) /* {"type": {...}} or {"type": [...]}: Avro Java accepts */
        return parse_any(p, jt, space);
    const char *t = json_string_value(jt);
    sl_avro_type pt;
    if (primitive_type(t, &pt)) {
        sl_avro_node *n = node_new(p, pt);
        return parse_logical(p, j, n) ? NULL : n;
    }
    if (!strcmp(t, "record") || !strcmp(t, "error"))
        return parse_named(p, j, SL_AVRO_RECORD, space);
    if (!strcmp(t, "enum"))
        return parse_named(p, j, SL_AVRO_ENUM, space);
    if (!strcmp(t, "fixed"))
        return parse_named(p, j, SL_AVRO_FIXED, space);
    if (!strcmp(t, "array") || !strcmp(t, "map")) {
        int arr = !strcmp(t, "array");
        json_t *ji = json_object_get(j, arr ? "items" : "values");
        if (!ji)
            return perr(p, "%s needs \"%s\"", t, arr ? "items" : "values"), NULL;
        sl_avro_node *n = node_new(p, arr ? SL_AVRO_ARRAY : SL_AVRO_MAP);
        size_t mark = path_push(p, arr ? "items" : "values");
        n->items = parse_any(p, ji, space);
        path_pop(p, mark);
        return n->items ? n : NULL;
    }
    return parse_reference(p, t, space);
}

static sl_avro_node *parse_any(parser *p, json_t *j, const char *space)
{
    if (json_is_string(j))
        return parse_reference(p, json_string_value(j), space);
    if (json_is_object(j))
        return parse_object(p, j, space);
    if (json_is_array(j)) {
        sl_avro_node *n = node_new(p, SL_AVRO_UNION);
        return parse_union(p, j, n, space) ? NULL : n;
    }
    perr(p, "a schema must be a JSON string, object or array");
    return NULL;
}

static sl_avro_node *parse_text(parser *p, const char *text, const char *what)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j) {
        snprintf(p->err, p->errlen, "%s is not valid JSON: %s at line %d column %d", what, je.text,
                 je.line, je.column);
        return NULL;
    }
    p->path[0] = 0;
    sl_avro_node *n = parse_any(p, j, NULL);
    json_decref(j);
    return n;
}

int sl_avro_parse(const char *text, const char *const *refs, size_t nrefs, sl_avro_schema **out,
                  char *err, size_t errlen)
{
    parser p = {.s = xcalloc(1, sizeof(sl_avro_schema)), .err = err, .errlen = errlen};
    *out = NULL;
    for (size_t i = 0; i < nrefs; i++) {
        char what[64];
        snprintf(what, sizeof(what), "reference %zu", i);
        if (!parse_text(&p, refs[i], what)) {
            char inner[512];
            snprintf(inner, sizeof(inner), "%s", err);
            snprintf(err, errlen, "reference %zu: %s", i, inner);
            goto fail;
        }
    }
    p.s->root = parse_text(&p, text, "schema");
    if (!p.s->root)
        goto fail;
    *out = p.s;
    return 0;
fail:
    sl_avro_free(p.s);
    return -1;
}

/* ================= canonical and identity forms ================= */

typedef struct sbuf {
    char *b;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *sb, const char *s, size_t n)
{
    if (sb->len + n + 1 > sb->cap) {
        sb->cap = (sb->len + n + 1) * 2;
        sb->b = realloc(sb->b, sb->cap);
        if (!sb->b)
            abort();
    }
    memcpy(sb->b + sb->len, s, n);
    sb->len += n;
    sb->b[sb->len] = 0;
}

static void sb_puts(sbuf *sb, const char *s)
{
    sb_put(sb, s, strlen(s));
}

static void sb_json(sbuf *sb, json_t *v)
{
    char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    sb_puts(sb, t ? t : "null");
    free(t);
}

static void sb_str(sbuf *sb, const char *s)
{
    json_t *js = json_string(s);
    sb_json(sb, js);
    json_decref(js);
}

static void sb_key(sbuf *sb, const char *key, const char *strval)
{
    sb_puts(sb, ",\"");
    sb_puts(sb, key);
    sb_puts(sb, "\":");
    if (strval)
        sb_str(sb, strval);
}

static void sb_strv(sbuf *sb, char **v, size_t n)
{
    sb_puts(sb, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_puts(sb, ",");
        sb_str(sb, v[i]);
    }
    sb_puts(sb, "]");
}

typedef struct printer {
    sbuf sb;
    int extended; /* identity form: keep resolution-relevant attributes */
    const sl_avro_node **seen;
    size_t nseen;
} printer;

static int seen_before(printer *pr, const sl_avro_node *n)
{
    for (size_t i = 0; i < pr->nseen; i++)
        if (pr->seen[i] == n)
            return 1;
    pr->seen = realloc(pr->seen, (pr->nseen + 1) * sizeof(*pr->seen));
    if (!pr->seen)
        abort();
    pr->seen[pr->nseen++] = n;
    return 0;
}

static void print_node(printer *pr, const sl_avro_node *n);

static void print_logical(printer *pr, const sl_avro_node *n)
{
    if (!pr->extended || !n->logical)
        return;
    sb_key(&pr->sb, "logicalType", n->logical);
    if (!strcmp(n->logical, "decimal")) {
        char b[64];
        snprintf(b, sizeof(b), ",\"precision\":%lld,\"scale\":%lld", (long long)n->precision,
                 (long long)n->scale);
        sb_puts(&pr->sb, b);
    }
}

static void print_field(printer *pr, const sl_avro_field *f)
{
    sb_puts(&pr->sb, "{\"name\":");
    sb_str(&pr->sb, f->name);
    sb_key(&pr->sb, "type", NULL);
    print_node(pr, f->type);
    if (pr->extended && f->defval) {
        sb_key(&pr->sb, "default", NULL);
        sb_json(&pr->sb, f->defval);
    }
    if (pr->extended && f->naliases) {
        sb_key(&pr->sb, "aliases", NULL);
        sb_strv(&pr->sb, f->aliases, f->naliases);
    }
    if (pr->extended && strcmp(f->order, "ascending"))
        sb_key(&pr->sb, "order", f->order);
    sb_puts(&pr->sb, "}");
}

static void print_named(printer *pr, const sl_avro_node *n)
{
    sb_puts(&pr->sb, "{\"name\":");
    sb_str(&pr->sb, n->fullname);
    sb_key(&pr->sb, "type", type_names[n->type]);
    if (n->type == SL_AVRO_RECORD) {
        sb_key(&pr->sb, "fields", NULL);
        sb_puts(&pr->sb, "[");
        for (size_t i = 0; i < n->nfields; i++) {
            if (i)
                sb_puts(&pr->sb, ",");
            print_field(pr, &n->fields[i]);
        }
        sb_puts(&pr->sb, "]");
    } else if (n->type == SL_AVRO_ENUM) {
        sb_key(&pr->sb, "symbols", NULL);
        sb_strv(&pr->sb, n->symbols, n->nsymbols);
        if (pr->extended && n->enum_default)
            sb_key(&pr->sb, "default", n->enum_default);
    } else {
        char b[48];
        snprintf(b, sizeof(b), ",\"size\":%lld", (long long)n->size);
        sb_puts(&pr->sb, b);
    }
    if (pr->extended && n->naliases) {
        sb_key(&pr->sb, "aliases", NULL);
        sb_strv(&pr->sb, n->aliases, n->naliases);
    }
    print_logical(pr, n);
    sb_puts(&pr->sb, "}");
}

static void print_node(printer *pr, const sl_avro_node *n)
{
    switch (n->type) {
    case SL_AVRO_RECORD:
    case SL_AVRO_ENUM:
    case SL_AVRO_FIXED:
        if (seen_before(pr, n))
            sb_str(&pr->sb, n->fullname);
        else
            print_named(pr, n);
        return;
    case SL_AVRO_ARRAY:
    case SL_AVRO_MAP:
        sb_puts(&pr->sb, n->type == SL_AVRO_ARRAY ? "{\"type\":\"array\",\"items\":"
                                                  : "{\"type\":\"map\",\"values\":");
        print_node(pr, n->items);
        sb_puts(&pr->sb, "}");
        return;
    case SL_AVRO_UNION:
        sb_puts(&pr->sb, "[");
        for (size_t i = 0; i < n->nbranches; i++) {
            if (i)
                sb_puts(&pr->sb, ",");
            print_node(pr, n->branches[i]);
        }
        sb_puts(&pr->sb, "]");
        return;
    default:
        if (pr->extended && n->logical) {
            sb_puts(&pr->sb, "{\"type\":");
            sb_str(&pr->sb, type_names[n->type]);
            print_logical(pr, n);
            sb_puts(&pr->sb, "}");
        } else {
            sb_str(&pr->sb, type_names[n->type]);
        }
    }
}

static char *print_schema(const sl_avro_schema *s, int extended)
{
    printer pr = {.extended = extended};
    sb_puts(&pr.sb, "");
    print_node(&pr, s->root);
    free(pr.seen);
    return pr.sb.b;
}

char *sl_avro_canonical(const sl_avro_schema *s)
{
    return print_schema(s, 0);
}

char *sl_avro_normalized(const sl_avro_schema *s)
{
    return print_schema(s, 1);
}
