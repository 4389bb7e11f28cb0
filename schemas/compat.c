/*
 * compat.c - the schema resolution rules of the Avro specification, used as
 * the registry's compatibility checks (see compat.h).
 *
 * The walk mirrors Avro Java's SchemaCompatibility, which Confluent uses, so
 * that the same pairs are accepted and rejected:
 *   - a writer union is readable if every writer branch is readable;
 *   - a reader union reads a non-union writer if any branch reads it;
 *   - promotions int->long|float|double, long->float|double, float->double,
 *     string<->bytes;
 *   - records, enums and fixed match by unqualified name or a reader alias;
 *     every reader field is found in the writer (by name or reader alias)
 *     and its types resolve, or it has a default;
 *   - enum: writer symbols missing in the reader are an error unless the
 *     reader declares an enum default;
 *   - fixed: same size; decimal (bytes or fixed): same precision and scale
 *     when both sides are decimal (the specification's rule).
 * Recursive types are cut by remembering the (reader, writer) pairs on the
 * current walk: a pair seen again is assumed compatible, which is sound
 * because the first visit checks it.
 *
 * Paths name the element of the reader schema, JSON-pointer style, so a
 * message reads "/fields/3: reader field 'email' has no default".
 */
#include "compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[] = {
    "NONE", "BACKWARD",       "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
    "FULL", "FULL_TRANSITIVE"};

int sl_compat_level_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof(level_names) / sizeof(level_names[0]); i++)
        if (!strcmp(name, level_names[i]))
            return (int)i;
    return -1;
}

const char *sl_compat_level_name(sl_compat_level level)
{
    return level_names[level];
}

typedef struct pair {
    const sl_avro_node *r, *w;
} pair;

typedef struct walker {
    json_t *messages;
    int count;
    char path[1024];
    const char *field; /* the innermost record field being resolved, or NULL */
    pair stack[256];
    size_t depth;
} walker;

static void problem(walker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(walker *w, const char *fmt, ...)
{
    char msg[600], line[1700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    w->count++;
    if (!w->messages)
        return;
    if (w->field) /* a type problem inside a field names it */
        snprintf(line, sizeof(line), "%s: %s (field '%s')", w->path[0] ? w->path : "/", msg,
                 w->field);
    else
        snprintf(line, sizeof(line), "%s: %s", w->path[0] ? w->path : "/", msg);
    json_array_append_new(w->messages, json_string(line));
}

static size_t push(walker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t push(walker *w, const char *fmt, ...)
{
    size_t len = strlen(w->path);
    va_list ap;
    va_start(ap, fmt);
    if (len < sizeof(w->path) - 1) {
        w->path[len] = '/';
        vsnprintf(w->path + len + 1, sizeof(w->path) - len - 1, fmt, ap);
    }
    va_end(ap);
    return len;
}

static void pop(walker *w, size_t len)
{
    w->path[len] = 0;
}

static const char *tname(const sl_avro_node *n)
{
    return n->fullname ? n->fullname : sl_avro_type_name(n->type);
}

/* Named types match by unqualified name, or a reader alias naming the writer. */
static int names_match(const sl_avro_node *r, const sl_avro_node *w)
{
    if (!strcmp(r->name, w->name) || !strcmp(r->fullname, w->fullname))
        return 1;
    for (size_t i = 0; i < r->naliases; i++) {
        const char *a = r->aliases[i], *dot = strrchr(a, '.');
        if (!strcmp(a, w->fullname) || !strcmp(dot ? dot + 1 : a, w->name))
            return 1;
    }
    return 0;
}

static int promotable(sl_avro_type w, sl_avro_type r)
{
    switch (w) {
    case SL_AVRO_INT:
        return r == SL_AVRO_LONG || r == SL_AVRO_FLOAT || r == SL_AVRO_DOUBLE;
    case SL_AVRO_LONG:
        return r == SL_AVRO_FLOAT || r == SL_AVRO_DOUBLE;
    case SL_AVRO_FLOAT:
        return r == SL_AVRO_DOUBLE;
    case SL_AVRO_STRING:
        return r == SL_AVRO_BYTES;
    case SL_AVRO_BYTES:
        return r == SL_AVRO_STRING;
    default:
        return 0;
    }
}

static void resolve(walker *w, const sl_avro_node *r, const sl_avro_node *wr);

/* Quietly: would this pair resolve? (for choosing a union branch). The
 * pairs being checked by the caller stay on the stack, so recursion ends. */
static int resolves(const walker *parent, const sl_avro_node *r, const sl_avro_node *wr)
{
    walker *q = calloc(1, sizeof(*q));
    if (!q)
        abort();
    memcpy(q->stack, parent->stack, parent->depth * sizeof(pair));
    q->depth = parent->depth;
    resolve(q, r, wr);
    int ok = q->count == 0;
    free(q);
    return ok;
}

/* Does reader branch b "match" writer schema wr, as the spec's union rule
 * says: the same type (named types by name or alias), or a promotion. */
static int branch_matches(const sl_avro_node *b, const sl_avro_node *wr)
{
    if (b->type != wr->type)
        return promotable(wr->type, b->type);
    if (b->type == SL_AVRO_RECORD || b->type == SL_AVRO_ENUM || b->type == SL_AVRO_FIXED)
        return names_match(b, wr);
    return 1;
}

/* The first branch of reader union r matching wr, or -1. */
static int matching_branch(const sl_avro_node *r, const sl_avro_node *wr)
{
    for (size_t k = 0; k < r->nbranches; k++)
        if (branch_matches(r->branches[k], wr))
            return (int)k;
    return -1;
}

/* wr (a writer type, or one branch of a writer union) that no branch of
 * reader r reads: when a branch matches it (a record of the same name...),
 * what keeps it from resolving is reported inside that branch, at
 * <path>/<branch>; otherwise the mismatch itself. */
static void union_problem(walker *w, const sl_avro_node *r, const sl_avro_node *wr,
                          const char *what)
{
    int k = r->type == SL_AVRO_UNION ? matching_branch(r, wr) : branch_matches(r, wr) ? 0 : -1;
    if (k < 0) {
        if (r->type == SL_AVRO_UNION)
            problem(w, "reader union has no branch that reads the writer's %s", what);
        else
            problem(w, "reader type %s cannot read the writer's %s", tname(r), what);
        return;
    }
    if (r->type != SL_AVRO_UNION) {
        resolve(w, r, wr);
        return;
    }
    size_t mark = push(w, "%d", k);
    resolve(w, r->branches[k], wr);
    pop(w, mark);
}

static const sl_avro_field *writer_field(const sl_avro_node *wr, const sl_avro_field *rf)
{
    for (size_t i = 0; i < wr->nfields; i++)
        if (!strcmp(wr->fields[i].name, rf->name))
            return &wr->fields[i];
    for (size_t a = 0; a < rf->naliases; a++)
        for (size_t i = 0; i < wr->nfields; i++)
            if (!strcmp(wr->fields[i].name, rf->aliases[a]))
                return &wr->fields[i];
    return NULL;
}

static void resolve_record(walker *w, const sl_avro_node *r, const sl_avro_node *wr)
{
    for (size_t i = 0; i < r->nfields; i++) {
        const sl_avro_field *rf = &r->fields[i];
        const sl_avro_field *wf = writer_field(wr, rf);
        size_t mark = push(w, "fields/%zu", i);
        if (!wf) {
            if (!rf->defval)
                problem(w,
                        "reader field '%s' has no default and is missing from the writer's "
                        "record '%s'",
                        rf->name, wr->fullname);
        } else {
            size_t m2 = push(w, "type");
            const char *outer = w->field;
            w->field = rf->name;
            resolve(w, rf->type, wf->type);
            w->field = outer;
            pop(w, m2);
        }
        pop(w, mark);
    }
}

static void resolve_enum(walker *w, const sl_avro_node *r, const sl_avro_node *wr)
{
    if (r->enum_default)
        return;
    for (size_t i = 0; i < wr->nsymbols; i++) {
        int found = 0;
        for (size_t k = 0; k < r->nsymbols && !found; k++)
            found = !strcmp(r->symbols[k], wr->symbols[i]);
        if (!found) {
            size_t mark = push(w, "symbols");
            problem(w, "reader enum '%s' lacks the writer's symbol '%s' and has no default",
                    r->fullname, wr->symbols[i]);
            pop(w, mark);
        }
    }
}

static void resolve_decimal(walker *w, const sl_avro_node *r, const sl_avro_node *wr)
{
    int rd = r->logical && !strcmp(r->logical, "decimal");
    int wd = wr->logical && !strcmp(wr->logical, "decimal");
    if (rd && wd && (r->precision != wr->precision || r->scale != wr->scale))
        problem(w, "reader decimal(%lld,%lld) does not match writer decimal(%lld,%lld)",
                (long long)r->precision, (long long)r->scale, (long long)wr->precision,
                (long long)wr->scale);
}

static void resolve_same(walker *w, const sl_avro_node *r, const sl_avro_node *wr)
{
    size_t mark;
    switch (r->type) {
    case SL_AVRO_RECORD:
    case SL_AVRO_ENUM:
    case SL_AVRO_FIXED:
        if (!names_match(r, wr)) {
            mark = push(w, "name");
            problem(w, "reader %s '%s' does not match writer %s '%s' (names and aliases differ)",
                    sl_avro_type_name(r->type), r->fullname, sl_avro_type_name(wr->type),
                    wr->fullname);
            pop(w, mark);
            return;
        }
        if (r->type == SL_AVRO_RECORD)
            resolve_record(w, r, wr);
        else if (r->type == SL_AVRO_ENUM)
            resolve_enum(w, r, wr);
        else if (r->size != wr->size) {
            mark = push(w, "size");
            problem(w, "reader fixed '%s' has size %lld, writer size %lld", r->fullname,
                    (long long)r->size, (long long)wr->size);
            pop(w, mark);
        } else
            resolve_decimal(w, r, wr);
        return;
    case SL_AVRO_ARRAY:
    case SL_AVRO_MAP:
        mark = push(w, r->type == SL_AVRO_ARRAY ? "items" : "values");
        resolve(w, r->items, wr->items);
        pop(w, mark);
        return;
    case SL_AVRO_BYTES:
        resolve_decimal(w, r, wr);
        return;
    default:
        return;
    }
}

static void resolve(walker *w, const sl_avro_node *r, const sl_avro_node *wr)
{
    for (size_t i = 0; i < w->depth; i++)
        if (w->stack[i].r == r && w->stack[i].w == wr)
            return; /* recursive type: already being checked */
    if (w->depth == sizeof(w->stack) / sizeof(w->stack[0]))
        return;
    w->stack[w->depth++] = (pair){r, wr};
    if (wr->type == SL_AVRO_UNION) {
        /* every branch the writer may write must be readable */
        for (size_t i = 0; i < wr->nbranches; i++) {
            int ok = 0;
            if (r->type != SL_AVRO_UNION)
                ok = resolves(w, r, wr->branches[i]);
            for (size_t k = 0; r->type == SL_AVRO_UNION && k < r->nbranches && !ok; k++)
                ok = resolves(w, r->branches[k], wr->branches[i]);
            if (!ok) {
                char what[300];
                snprintf(what, sizeof(what), "union branch %zu (%s)", i, tname(wr->branches[i]));
                union_problem(w, r, wr->branches[i], what);
            }
        }
    } else if (r->type == SL_AVRO_UNION) {
        int ok = 0;
        for (size_t k = 0; k < r->nbranches && !ok; k++)
            ok = resolves(w, r->branches[k], wr);
        if (!ok) {
            char what[300];
            snprintf(what, sizeof(what), "type %s", tname(wr));
            union_problem(w, r, wr, what);
        }
    } else if (r->type == wr->type) {
        resolve_same(w, r, wr);
    } else if (!promotable(wr->type, r->type)) {
        problem(w, "reader type %s is not compatible with writer type %s", tname(r), tname(wr));
    }
    w->depth--;
}

int sl_compat_resolve(const sl_avro_node *reader, const sl_avro_node *writer, json_t *messages)
{
    walker *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    w->messages = messages;
    resolve(w, reader, writer);
    int n = w->count;
    free(w);
    return n;
}

/* One direction against one old version; the messages say which. */
static int check_one(const sl_avro_schema *reader, const sl_avro_schema *writer, const char *what,
                     int version, sl_compat_level level, json_t *messages)
{
    json_t *local = json_array();
    int n = sl_compat_resolve(sl_avro_root(reader), sl_avro_root(writer), local);
    size_t i;
    json_t *m;
    json_array_foreach(local, i, m)
    {
        char line[2048];
        snprintf(line, sizeof(line), "%s [%s: %s version %d]", json_string_value(m),
                 level_names[level], what, version);
        if (messages)
            json_array_append_new(messages, json_string(line));
    }
    json_decref(local);
    return n;
}

int sl_compat_check(sl_compat_level level, const sl_avro_schema *candidate,
                    const sl_avro_schema *const *older, const int *older_versions, size_t nolder,
                    json_t *messages)
{
    if (level == SL_COMPAT_NONE || nolder == 0)
        return 0;
    int transitive = level == SL_COMPAT_BACKWARD_TRANSITIVE ||
                     level == SL_COMPAT_FORWARD_TRANSITIVE || level == SL_COMPAT_FULL_TRANSITIVE;
    int backward = level != SL_COMPAT_FORWARD && level != SL_COMPAT_FORWARD_TRANSITIVE;
    int forward = level != SL_COMPAT_BACKWARD && level != SL_COMPAT_BACKWARD_TRANSITIVE;
    int n = 0;
    for (size_t i = transitive ? 0 : nolder - 1; i < nolder; i++) {
        if (backward)
            n += check_one(candidate, older[i], "the new schema cannot read data written with",
                           older_versions[i], level, messages);
        if (forward)
            n += check_one(older[i], candidate,
                           "data written with the new schema cannot be "
                           "read by",
                           older_versions[i], level, messages);
    }
    return n;
}
