/*
 * api.c - the Confluent Schema Registry REST API (v1) for Avro: the route
 * table and one handler per route, over the store's view of _schemas.
 *
 * Semantics follow Confluent's registry, including its error codes and
 * messages:
 *   - ids are global: a schema already registered anywhere (same identity
 *     form, see avro_schema.h, and same references) keeps its id under a new
 *     subject; a new one gets max id seen + 1;
 *   - versions count per subject from 1 and are never reused while the topic
 *     remembers them (soft-deleted ones included);
 *   - registering what the subject already holds returns the existing id;
 *   - a soft delete hides a version (?deleted=true shows it); a permanent
 *     delete (?permanent=true, only after a soft delete) writes tombstones;
 *   - compatibility: subject level, else global level, else
 *     schema.compatibility.level; non-transitive levels check the latest
 *     live version only;
 *   - a version another live schema references cannot be deleted (42206);
 *   - mode READONLY (global or subject) refuses writes with 42205; IMPORT
 *     lets a registration carry its own id and version.
 *
 * Locking: handlers read the view under sl_store_lock and copy out what they
 * answer; writers hold sl_store_write_begin for the whole decide-and-append,
 * so ids and versions from this instance never collide with each other.
 * Between instances the log decides, with no leader (Confluent elects one):
 * every instance applies the same rule while reading _schemas (store.h: the
 * first record to claim a subject's version, or an id, wins; a later one
 * claiming it for another schema is ignored). After its record is read back,
 * a registration checks that it stood; if it lost, it appends the older
 * winner again under the same key (so compaction keeps the winner) and
 * decides again from the newer view, up to REGISTER_ATTEMPTS times, then
 * answers 50001 (50002 when the store timed out).
 * Runs on: MHD worker threads.
 */
#include "api.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avro_schema.h"
#include "compat.h"
#include "logging.h"

#define LATEST            (-1)
#define REGISTER_ATTEMPTS 10 /* a registration that keeps losing to other instances */

/* ================= view queries (view lock held) ================= */

static int by_version(const void *a, const void *b)
{
    const sl_store_schema *x = *(const sl_store_schema *const *)a;
    const sl_store_schema *y = *(const sl_store_schema *const *)b;
    return (x->version > y->version) - (x->version < y->version);
}

/* The subject's versions, ascending; caller frees the array. */
static size_t versions_of(const sl_store_view *v, const char *subject, int deleted_too,
                          const sl_store_schema ***out)
{
    size_t n = 0;
    *out = calloc(v->nschemas + 1, sizeof(**out));
    for (size_t i = 0; i < v->nschemas; i++)
        if (!strcmp(v->schemas[i].subject, subject) && (deleted_too || !v->schemas[i].deleted))
            (*out)[n++] = &v->schemas[i];
    qsort(*out, n, sizeof(**out), by_version);
    return n;
}

static const sl_store_schema *find_version(const sl_store_view *v, const char *subject, int version,
                                           int deleted_too)
{
    const sl_store_schema **all, *found = NULL;
    size_t n = versions_of(v, subject, deleted_too, &all);
    if (n && version == LATEST)
        found = all[n - 1];
    for (size_t i = 0; i < n && !found; i++)
        if (all[i]->version == version)
            found = all[i];
    free(all);
    return found;
}

static const sl_store_schema *find_id(const sl_store_view *v, int id)
{
    for (size_t i = 0; i < v->nschemas; i++)
        if (v->schemas[i].id == id)
            return &v->schemas[i];
    return NULL;
}

static const char *setting_of(const sl_store_setting *s, size_t n, const char *subject)
{
    for (size_t i = 0; i < n; i++)
        if ((!subject && !s[i].subject) ||
            (subject && s[i].subject && !strcmp(subject, s[i].subject)))
            return s[i].value;
    return NULL;
}

static const char *level_of(sl_api *a, const sl_store_view *v, const char *subject)
{
    const char *l = subject ? setting_of(v->configs, v->nconfigs, subject) : NULL;
    if (!l)
        l = setting_of(v->configs, v->nconfigs, NULL);
    return l ? l : a->default_level;
}

static const char *mode_of(const sl_store_view *v, const char *subject)
{
    const char *m = subject ? setting_of(v->modes, v->nmodes, subject) : NULL;
    if (!m)
        m = setting_of(v->modes, v->nmodes, NULL);
    return m ? m : "READWRITE";
}

/* Texts of every schema `refs` names, dependencies first (Confluent's
 * references: [{name, subject, version}]). -1 with err if one is missing. */
static int collect_refs(const sl_store_view *v, json_t *refs, json_t *texts, int depth, char *err,
                        size_t errlen)
{
    size_t i;
    json_t *r;
    if (depth > 32) {
        snprintf(err, errlen, "schema references nest deeper than 32");
        return -1;
    }
    json_array_foreach(refs, i, r)
    {
        const char *subj = json_string_value(json_object_get(r, "subject"));
        json_t *jv = json_object_get(r, "version");
        if (!json_is_object(r) || !subj || !json_is_string(json_object_get(r, "name")) ||
            !json_is_integer(jv)) {
            snprintf(err, errlen, "reference %zu needs name, subject and version", i);
            return -1;
        }
        const sl_store_schema *s = find_version(v, subj, (int)json_integer_value(jv), 0);
        if (!s) {
            snprintf(err, errlen, "reference %zu: subject '%s' version %lld not found", i, subj,
                     (long long)json_integer_value(jv));
            return -1;
        }
        if (collect_refs(v, s->references, texts, depth + 1, err, errlen))
            return -1;
        json_array_append_new(texts, json_string(s->schema));
    }
    return 0;
}

/* Parse a stored or submitted schema with its references. */
static sl_avro_schema *parse_with_refs(const sl_store_view *v, const char *text, json_t *refs,
                                       char *err, size_t errlen)
{
    json_t *texts = json_array();
    sl_avro_schema *s = NULL;
    if (!collect_refs(v, refs, texts, 0, err, errlen)) {
        size_t n = json_array_size(texts);
        const char **rt = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            rt[i] = json_string_value(json_array_get(texts, i));
        sl_avro_parse(text, rt, n, &s, err, errlen);
        free(rt);
    }
    json_decref(texts);
    return s;
}

/* Identity of a stored schema (normalized form, with references). */
static char *identity_of(const sl_store_view *v, const char *text, json_t *refs)
{
    char err[256];
    sl_avro_schema *s = parse_with_refs(v, text, refs, err, sizeof(err));
    if (!s)
        return NULL;
    char *id = sl_avro_normalized(s);
    sl_avro_free(s);
    return id;
}

/* Is stored schema s the schema whose identity (normalized form) is want,
 * with references refs? References first (cheap); s's identity is parsed
 * once and remembered on it when it has no references (theirs could change
 * under it). The view is locked (st->mu: HTTP threads between
 * sl_store_lock/unlock, the reader thread while applying); the memo is the
 * one field the API writes. */
static int same_identity(const sl_store_view *v, const sl_store_schema *s, const char *want,
                         json_t *refs)
{
    if (!want || !json_equal(s->references, refs))
        return 0;
    if (s->identity)
        return !strcmp(s->identity, want);
    char *id = identity_of(v, s->schema, s->references);
    int same = id && !strcmp(id, want);
    if (id && json_array_size(s->references) == 0)
        ((sl_store_schema *)s)->identity = id; /* the memo: mutable under the lock */
    else
        free(id);
    return same;
}

int sl_api_same_schema(void *arg, const sl_store_view *v, const sl_store_schema *have,
                       const char *schema, json_t *refs)
{
    (void)arg;
    if (!json_equal(have->references, refs))
        return 0;
    char *y = identity_of(v, schema, refs);
    int same = same_identity(v, have, y, refs);
    free(y);
    return same;
}

static json_t *version_json(const sl_store_schema *s)
{
    json_t *o = json_pack("{s:s, s:i, s:i, s:s}", "subject", s->subject, "version", s->version,
                          "id", s->id, "schema", s->schema);
    if (json_array_size(s->references))
        json_object_set(o, "references", s->references);
    return o;
}

/* ================= request helpers ================= */

static void ok(sl_http_resp *resp, json_t *body)
{
    resp->status = 200;
    resp->body = body;
}

static void e_subject(sl_http_resp *resp, const char *subject)
{
    sl_http_error(resp, 404, 40401, "Subject '%s' not found.", subject);
}

static void e_version(sl_http_resp *resp, int version)
{
    sl_http_error(resp, 404, 40402, "Version %d not found.", version);
}

static void e_store(sl_http_resp *resp, int timed_out, const char *err)
{
    if (timed_out)
        sl_http_error(resp, 500, 50002, "Operation timed out: %s", err);
    else
        sl_http_error(resp, 500, 50001, "Error in the backend data store: %s", err);
}

/* "latest", -1 or 1..2^31-1. */
static int parse_version(const char *s, int *version, sl_http_resp *resp)
{
    char *end;
    if (!strcmp(s, "latest")) {
        *version = LATEST;
        return 0;
    }
    long long v = strtoll(s, &end, 10);
    if (*s && !*end && !isspace((unsigned char)*s) && (v == -1 || (v >= 1 && v <= INT_MAX))) {
        *version = (int)v;
        return 0;
    }
    sl_http_error(resp, 422, 42202,
                  "The specified version '%s' is not a valid version id. Allowed values are "
                  "between [1, 2^31-1] and the string \"latest\"",
                  s);
    return -1;
}

/* Path ids are integers; anything else does not name a resource (404). */
static int parse_id(const char *s, int *id, sl_http_resp *resp)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < INT_MIN || v > INT_MAX || !(isdigit((unsigned char)*s) || *s == '-')) {
        sl_http_error(resp, 404, 404, "HTTP 404 Not Found");
        return -1;
    }
    *id = (int)v;
    return 0;
}

/* The body as a JSON object: 400 if it is not one. */
static json_t *body_object(const sl_http_req *req, sl_http_resp *resp)
{
    json_error_t je;
    json_t *j = json_loadb(req->body, req->body_len, 0, &je);
    if (!j || !json_is_object(j)) {
        sl_http_error(resp, 400, 400, "Invalid JSON body: %s",
                      j ? "expected a JSON object" : je.text);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* A submitted schema: {"schema": "...", "schemaType"?, "references"?}. On
 * success *text is the JSON-compacted schema (or its normalized form) and
 * *refs the references (new reference). */
static sl_avro_schema *submitted_schema(const sl_store_view *v, const sl_http_req *req,
                                        json_t *body, char **text, json_t **refs,
                                        sl_http_resp *resp)
{
    char err[1024];
    json_t *js = json_object_get(body, "schema");
    const char *type = json_string_value(json_object_get(body, "schemaType"));
    json_t *jr = json_object_get(body, "references");
    *text = NULL;
    *refs = NULL;
    if (type && strcmp(type, "AVRO")) {
        sl_http_error(resp, 422, 42201,
                      "Invalid schema: schemaType %s is not supported (AVRO "
                      "only)",
                      type);
        return NULL;
    }
    if (!json_is_string(js) || !*json_string_value(js)) {
        sl_http_error(resp, 422, 42201, "Invalid schema: \"schema\" must be a non-empty string");
        return NULL;
    }
    if (jr && !json_is_null(jr) && !json_is_array(jr)) {
        sl_http_error(resp, 422, 42201, "Invalid schema: \"references\" must be an array");
        return NULL;
    }
    sl_avro_schema *s = parse_with_refs(v, json_string_value(js), jr, err, sizeof(err));
    if (!s) {
        sl_http_error(resp, 422, 42201, "Invalid schema: %s", err);
        return NULL;
    }
    if (sl_http_query_true(req, "normalize")) {
        *text = sl_avro_normalized(s);
    } else {
        json_t *parsed = json_loads(json_string_value(js), JSON_DECODE_ANY, NULL);
        *text = json_dumps(parsed, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(parsed);
    }
    *refs = json_is_array(jr) ? json_deep_copy(jr) : json_array();
    return s;
}

static int read_only(const sl_store_view *v, const char *subject, sl_http_resp *resp)
{
    const char *m = mode_of(v, subject);
    if (!strcmp(m, "READONLY") || !strcmp(m, "READONLY_OVERRIDE")) {
        sl_http_error(resp, 422, 42205, "Subject %s is in read-only mode",
                      subject ? subject : "(global)");
        return 1;
    }
    return 0;
}

/* ================= / and /schemas ================= */

static void h_root(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    ok(resp, json_object());
}

static void h_types(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    ok(resp, json_pack("[s]", "AVRO"));
}

static void h_schema_by_id(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_api *a = app;
    int id;
    if (parse_id(req->params[0], &id, resp))
        return;
    const sl_store_view *v = sl_store_lock(a->store);
    const sl_store_schema *s = find_id(v, id);
    if (!s) {
        sl_http_error(resp, 404, 40403, "Schema %d not found", id);
    } else {
        json_t *o = json_pack("{s:s}", "schema", s->schema);
        if (json_array_size(s->references))
            json_object_set(o, "references", s->references);
        ok(resp, o);
    }
    sl_store_unlock(a->store);
}

static void h_schema_by_id_raw(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_api *a = app;
    int id;
    if (parse_id(req->params[0], &id, resp))
        return;
    const sl_store_view *v = sl_store_lock(a->store);
    const sl_store_schema *s = find_id(v, id);
    if (!s)
        sl_http_error(resp, 404, 40403, "Schema %d not found", id);
    else
        ok(resp, json_loads(s->schema, JSON_DECODE_ANY, NULL));
    sl_store_unlock(a->store);
}

/* /schemas/ids/{id}/subjects and .../versions */
static void ids_usage(void *app, const sl_http_req *req, sl_http_resp *resp, int versions)
{
    sl_api *a = app;
    int id, deleted = sl_http_query_true(req, "deleted");
    if (parse_id(req->params[0], &id, resp))
        return;
    const sl_store_view *v = sl_store_lock(a->store);
    json_t *out = json_array();
    for (size_t i = 0; i < v->nschemas; i++) {
        const sl_store_schema *s = &v->schemas[i];
        if (s->id != id || (s->deleted && !deleted))
            continue;
        if (versions) {
            json_array_append_new(
                out, json_pack("{s:s, s:i}", "subject", s->subject, "version", s->version));
            continue;
        }
        int dup = 0;
        for (size_t k = 0; k < json_array_size(out) && !dup; k++)
            dup = !strcmp(json_string_value(json_array_get(out, k)), s->subject);
        if (!dup)
            json_array_append_new(out, json_string(s->subject));
    }
    if (!find_id(v, id)) {
        json_decref(out);
        sl_http_error(resp, 404, 40403, "Schema %d not found", id);
    } else {
        ok(resp, out);
    }
    sl_store_unlock(a->store);
}

static void h_id_subjects(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    ids_usage(app, req, resp, 0);
}

static void h_id_versions(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    ids_usage(app, req, resp, 1);
}

/* ================= /subjects ================= */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void h_subjects(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_api *a = app;
    int deleted = sl_http_query_true(req, "deleted");
    const char *prefix = sl_http_query(req, "subjectPrefix");
    const sl_store_view *v = sl_store_lock(a->store);
    const char **names = calloc(v->nschemas + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < v->nschemas; i++) {
        const sl_store_schema *s = &v->schemas[i];
        if ((s->deleted && !deleted) || (prefix && strncmp(s->subject, prefix, strlen(prefix))))
            continue;
        names[n++] = s->subject;
    }
    qsort(names, n, sizeof(char *), cmp_str);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(names[i], names[i - 1]))
            json_array_append_new(out, json_string(names[i]));
    free(names);
    sl_store_unlock(a->store);
    ok(resp, out);
}

static void h_versions(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_api *a = app;
    const char *subject = req->params[0];
    const sl_store_schema **all;
    const sl_store_view *v = sl_store_lock(a->store);
    size_t n = versions_of(v, subject, sl_http_query_true(req, "deleted"), &all);
    sl_store_unlock(a->store);
    if (!n) {
        free(all);
        e_subject(resp, subject);
        return;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, json_integer(all[i]->version));
    free(all);
    ok(resp, out);
}

/* Resolve {s}/versions/{v} for GET-like handlers; view lock held. */
static const sl_store_schema *lookup_sv(const sl_store_view *v, const sl_http_req *req,
                                        sl_http_resp *resp, int deleted_too)
{
    int version;
    const sl_store_schema **all;
    if (parse_version(req->params[1], &version, resp))
        return NULL;
    size_t n = versions_of(v, req->params[0], deleted_too, &all);
    free(all);
    if (!n) {
        e_subject(resp, req->params[0]);
        return NULL;
    }
    const sl_store_schema *s = find_version(v, req->params[0], version, deleted_too);
    if (!s)
        e_version(resp, version);
    return s;
}

static void h_version(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_api *a = app;
    const sl_store_view *v = sl_store_lock(a->store);
    const sl_store_schema *s = lookup_sv(v, req, resp, sl_http_query_true(req, "deleted"));
    if (s)
        ok(resp, version_json(s));
    sl_store_unlock(a->store);
}

static void h_version_schema(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_api *a = app;
    const sl_store_view *v = sl_store_lock(a->store);
    const sl_store_schema *s = lookup_sv(v, req, resp, sl_http_query_true(req, "deleted"));
    if (s)
        ok(resp, json_loads(s->schema, JSON_DECODE_ANY, NULL));
    sl_store_unlock(a->store);
}

/* Ids of the live schemas whose references name subject/version. */
static json_t *referrers(const sl_store_view *v, const char *subject, int version)
{
    json_t *out = json_array();
    for (size_t i = 0; i < v->nschemas; i++) {
        size_t k;
        json_t *r;
        if (v->schemas[i].deleted)
            continue;
        json_array_foreach(v->schemas[i].references, k, r)
        {
            if (!strcmp(json_string_value(json_object_get(r, "subject")) ?: "", subject) &&
                json_integer_value(json_object_get(r, "version")) == version) {
                json_array_append_new(out, json_integer(v->schemas[i].id));
                break;
            }
        }
    }
    return out;
}

/* 42206 if a live schema references subject/version (all versions: version 0). */
static int still_referenced(const sl_store_view *v, const char *subject, int version,
                            sl_http_resp *resp)
{
    for (size_t i = 0; i < v->nschemas; i++) {
        const sl_store_schema *s = &v->schemas[i];
        if (strcmp(s->subject, subject) || (version && s->version != version))
            continue;
        json_t *ids = referrers(v, subject, s->version);
        size_t n = json_array_size(ids);
        char *txt = json_dumps(ids, JSON_COMPACT);
        if (n)
            sl_http_error(resp, 422, 42206,
                          "One or more references exist to the schema {subject=%s, version=%d}: "
                          "used by schema ids %s",
                          subject, s->version, txt);
        free(txt);
        json_decref(ids);
        if (n)
            return 1;
    }
    return 0;
}

static void h_referenced_by(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_api *a = app;
    const sl_store_view *v = sl_store_lock(a->store);
    const sl_store_schema *s = lookup_sv(v, req, resp, 0);
    if (s)
        ok(resp, referrers(v, s->subject, s->version));
    sl_store_unlock(a->store);
}

/* POST /subjects/{s}: is this schema registered under the subject? */
static void h_lookup(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_api *a = app;
    const char *subject = req->params[0];
    json_t *body = body_object(req, resp), *refs = NULL;
    char *text = NULL;
    if (!body)
        return;
    const sl_store_view *v = sl_store_lock(a->store);
    const sl_store_schema **all;
    int deleted = sl_http_query_true(req, "deleted");
    size_t n = versions_of(v, subject, deleted, &all);
    sl_avro_schema *cand = NULL;
    if (!n) {
        e_subject(resp, subject);
        goto out;
    }
    cand = submitted_schema(v, req, body, &text, &refs, resp);
    if (!cand)
        goto out;
    char *want = sl_avro_normalized(cand);
    const sl_store_schema *hit = NULL;
    for (size_t i = n; i-- > 0 && !hit;)
        if (same_identity(v, all[i], want, refs))
            hit = all[i];
    free(want);
    if (hit)
        ok(resp, version_json(hit));
    else
        sl_http_error(resp, 404, 40403, "Schema not found");
out:
    sl_store_unlock(a->store);
    free(all);
    sl_avro_free(cand);
    free(text);
    json_decref(refs);
    json_decref(body);
}

/* The live versions of `subject` parsed, for a compatibility check. */
static size_t parse_versions(const sl_store_view *v, const sl_store_schema **all, size_t n,
                             sl_avro_schema **parsed, int *nums)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char err[256];
        parsed[k] = parse_with_refs(v, all[i]->schema, all[i]->references, err, sizeof(err));
        if (parsed[k])
            nums[k++] = all[i]->version;
    }
    return k;
}

static void free_parsed(sl_avro_schema **parsed, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_avro_free(parsed[i]);
    free(parsed);
}

/* Check cand against versions all[0..n) under the subject's level; 409 if not. */
static int check_compat(sl_api *a, const sl_store_view *v, const char *subject,
                        const sl_avro_schema *cand, const sl_store_schema **all, size_t n,
                        sl_http_resp *resp)
{
    int level = sl_compat_level_parse(level_of(a, v, subject));
    sl_avro_schema **parsed = calloc(n + 1, sizeof(*parsed));
    int *nums = calloc(n + 1, sizeof(int));
    size_t k = parse_versions(v, all, n, parsed, nums);
    json_t *msgs = json_array();
    int bad = level < 0 ? 0
                        : sl_compat_check((sl_compat_level)level, cand,
                                          (const sl_avro_schema *const *)parsed, nums, k, msgs);
    if (bad) {
        char *details = json_dumps(msgs, JSON_COMPACT);
        sl_http_error(resp, 409, 409,
                      "Schema being registered is incompatible with an earlier schema for subject "
                      "\"%s\", details: %s",
                      subject, details);
        free(details);
    }
    json_decref(msgs);
    free_parsed(parsed, k);
    free(nums);
    return bad;
}

/* Our SCHEMA record `rec`, under `key`, was read back at offset `at`: did it
 * stand (store.h: the first claim of a version or an id wins)? If not, and
 * an older record holds the version, append that winner again under the same
 * key, so that compaction, which keeps the newest value of a key, keeps the
 * winner and not ours. Returns 0 if ours stood, 1 if it lost, -1 (resp
 * filled) if the re-append failed. */
static int settle(sl_api *a, const sl_store_schema *rec, const char *key, int64_t at,
                  sl_http_resp *resp)
{
    char *again = NULL, err[512];
    int timed_out, rc = 1;
    const sl_store_view *v = sl_store_lock(a->store);
    const sl_store_schema *now = find_version(v, rec->subject, rec->version, 1);
    if (now && now->id == rec->id && !strcmp(now->schema, rec->schema))
        rc = 0;
    else if (now && now->offset < at)
        again = sl_store_schema_value(now);
    sl_store_unlock(a->store);
    if (again && sl_store_put(a->store, key, again, NULL, &timed_out, err, sizeof(err))) {
        e_store(resp, timed_out, err);
        rc = -1;
    }
    free(again);
    return rc;
}

/* Register under the write lock; view lock taken and released inside.
 * `attempt` counts the tries of this request that lost already: a new id is
 * then max id + 1 + attempt, since the id another instance is writing at
 * that moment is most likely max id + 1 (ids stay unique and are never
 * reused; under contention they leave gaps). Returns 1 if another instance's
 * record claimed the version or the id first (the caller tries again), else
 * 0 with resp filled. */
static int register_locked(sl_api *a, const sl_http_req *req, json_t *body, int attempt,
                           sl_http_resp *resp)
{
    int lost = 0;
    const char *subject = req->params[0];
    json_t *refs = NULL;
    char *text = NULL, *key = NULL, *val = NULL, *want = NULL;
    const sl_store_schema **all = NULL, **every = NULL;
    const sl_store_view *v = sl_store_lock(a->store);
    sl_avro_schema *cand = NULL;
    int import = !strcmp(mode_of(v, subject), "IMPORT");
    if (read_only(v, subject, resp))
        goto unlock;
    cand = submitted_schema(v, req, body, &text, &refs, resp);
    if (!cand)
        goto unlock;
    want = sl_avro_normalized(cand);
    size_t n = versions_of(v, subject, 0, &all);
    for (size_t i = n; i-- > 0;) { /* already registered under this subject? */
        if (same_identity(v, all[i], want, refs)) {
            ok(resp, json_pack("{s:i}", "id", all[i]->id));
            goto unlock;
        }
    }
    if (!import && check_compat(a, v, subject, cand, all, n, resp))
        goto unlock;
    sl_store_schema rec = {.subject = (char *)subject, .schema = text, .references = refs};
    for (size_t i = 0; i < v->nschemas && !rec.id; i++) /* same schema elsewhere: same id */
        if (same_identity(v, &v->schemas[i], want, refs))
            rec.id = v->schemas[i].id;
    if (!rec.id) /* after losing: step over the id most likely being written elsewhere */
        rec.id = v->max_id + 1 + attempt;
    size_t ne = versions_of(v, subject, 1, &every);
    rec.version = ne ? every[ne - 1]->version + 1 : 1;
    if (import) {
        json_t *jid = json_object_get(body, "id"), *jv = json_object_get(body, "version");
        if (json_is_integer(jid))
            rec.id = (int)json_integer_value(jid);
        if (json_is_integer(jv))
            rec.version = (int)json_integer_value(jv);
    }
    key = sl_store_schema_key(subject, rec.version);
    val = sl_store_schema_value(&rec);
    sl_store_unlock(a->store);
    char err[512];
    int timed_out;
    int64_t at;
    if (sl_store_put(a->store, key, val, &at, &timed_out, err, sizeof(err))) {
        e_store(resp, timed_out, err);
        goto out;
    }
    lost = settle(a, &rec, key, at, resp);
    if (lost == 0) {
        ok(resp, json_pack("{s:i}", "id", rec.id));
    } else if (lost == 1 && import) { /* its id and version are given: no point retrying */
        sl_http_error(resp, 500, 50001,
                      "Error in the backend data store: another registry claimed id %d or "
                      "subject %s version %d first",
                      rec.id, subject, rec.version);
        lost = 0;
    }
    lost = lost == 1;
    goto out;
unlock:
    sl_store_unlock(a->store);
out:
    free(all);
    free(every);
    free(want);
    free(key);
    free(val);
    free(text);
    json_decref(refs);
    sl_avro_free(cand);
    return lost;
}

/* Between attempts of a registration that lost: 1..4*attempt ms, jittered so
 * that two instances that keep colliding drift apart. */
static void backoff(int attempt)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long ms = 1 + (long)((unsigned long)ts.tv_nsec % (unsigned long)(4 * attempt));
    ts.tv_sec = 0;
    ts.tv_nsec = ms * 1000000L;
    nanosleep(&ts, NULL);
}

static void h_register(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_api *a = app;
    json_t *body = body_object(req, resp);
    if (!body)
        return;
    sl_store_write_begin(a->store);
    int attempt = 0, lost;
    while ((lost = register_locked(a, req, body, attempt, resp)) && ++attempt < REGISTER_ATTEMPTS) {
        /* each attempt reads the store afresh: other registrations on this
         * instance need not wait out our backoff */
        sl_store_write_end(a->store);
        backoff(attempt);
        sl_store_write_begin(a->store);
    }
    if (attempt)
        sl_info("registry", "registering under %s: %d attempt(s) lost to other registries",
                req->params[0], attempt);
    if (lost)
        sl_http_error(resp, 500, 50001,
                      "Error in the backend data store: other registries claimed the id or the "
                      "version of subject %s first %d times; try again",
                      req->params[0], REGISTER_ATTEMPTS);
    sl_store_write_end(a->store);
    json_decref(body);
}

/* Append records (pairs of key, value; value NULL for a tombstone). */
static int put_all(sl_api *a, char **kv, size_t n, sl_http_resp *resp)
{
    char err[512];
    int timed_out, rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += 2)
        if (sl_store_put(a->store, kv[i], kv[i + 1], NULL, &timed_out, err, sizeof(err))) {
            e_store(resp, timed_out, err);
            rc = -1;
        }
    for (size_t i = 0; i < n; i++)
        free(kv[i]);
    free(kv);
    return rc;
}

static void h_delete_subject(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_api *a = app;
    const char *subject = req->params[0];
    int permanent = sl_http_query_true(req, "permanent");
    const sl_store_schema **all = NULL;
    sl_store_write_begin(a->store);
    const sl_store_view *v = sl_store_lock(a->store);
    size_t n = versions_of(v, subject, 1, &all), live = 0, nkv = 0;
    char **kv = calloc(2 * n + 6, sizeof(char *));
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        live += !all[i]->deleted;
    if (!n) {
        e_subject(resp, subject);
    } else if (read_only(v, subject, resp)) {
    } else if (still_referenced(v, subject, 0, resp)) {
    } else if (!permanent && !live) {
        sl_http_error(resp, 404, 40404,
                      "Subject '%s' was soft deleted.Set permanent=true to delete permanently",
                      subject);
    } else if (permanent && live) {
        sl_http_error(resp, 404, 40405,
                      "Subject '%s' was not deleted first before being permanently deleted",
                      subject);
    } else {
        if (!permanent) {
            kv[nkv++] = sl_store_setting_key("DELETE_SUBJECT", subject);
            kv[nkv++] = sl_store_delete_subject_value(subject, all[n - 1]->version);
        }
        for (size_t i = 0; i < n; i++) {
            sl_store_schema del = *all[i];
            del.deleted = 1;
            if (permanent || !all[i]->deleted)
                json_array_append_new(out, json_integer(all[i]->version));
            if (!permanent && all[i]->deleted)
                continue;
            kv[nkv++] = sl_store_schema_key(subject, all[i]->version);
            kv[nkv++] = permanent ? NULL : sl_store_schema_value(&del);
        }
        if (permanent) {
            kv[nkv++] = sl_store_setting_key("CONFIG", subject), kv[nkv++] = NULL;
            kv[nkv++] = sl_store_setting_key("MODE", subject), kv[nkv++] = NULL;
        }
    }
    sl_store_unlock(a->store);
    if (nkv && put_all(a, kv, nkv, resp) == 0)
        ok(resp, json_incref(out));
    else if (!nkv)
        free(kv);
    json_decref(out);
    sl_store_write_end(a->store);
    free(all);
}

static void h_delete_version(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    sl_api *a = app;
    const char *subject = req->params[0];
    int permanent = sl_http_query_true(req, "permanent"), version;
    const sl_store_schema **all = NULL;
    char *key = NULL, *val = NULL;
    if (parse_version(req->params[1], &version, resp))
        return;
    sl_store_write_begin(a->store);
    const sl_store_view *v = sl_store_lock(a->store);
    size_t n = versions_of(v, subject, 1, &all);
    const sl_store_schema *s = version == LATEST ? find_version(v, subject, LATEST, 0)
                                                 : find_version(v, subject, version, 1);
    if (!n) {
        e_subject(resp, subject);
    } else if (!s) {
        e_version(resp, version);
    } else if (read_only(v, subject, resp)) {
    } else if (still_referenced(v, subject, s->version, resp)) {
    } else if (!permanent && s->deleted) {
        sl_http_error(resp, 404, 40406,
                      "Subject '%s' Version %d was soft deleted.Set permanent=true to delete "
                      "permanently",
                      subject, s->version);
    } else if (permanent && !s->deleted) {
        sl_http_error(resp, 404, 40407,
                      "Subject '%s' Version %d was not deleted first before being permanently "
                      "deleted",
                      subject, s->version);
    } else {
        sl_store_schema del = *s;
        del.deleted = 1;
        version = s->version;
        key = sl_store_schema_key(subject, version);
        val = permanent ? NULL : sl_store_schema_value(&del);
    }
    sl_store_unlock(a->store);
    if (key) {
        char err[512];
        int timed_out;
        if (sl_store_put(a->store, key, val, NULL, &timed_out, err, sizeof(err)))
            e_store(resp, timed_out, err);
        else
            ok(resp, json_integer(version));
    }
    sl_store_write_end(a->store);
    free(key);
    free(val);
    free(all);
}

/* ================= /compatibility ================= */

static void compat(void *app, const sl_http_req *req, sl_http_resp *resp, int one_version)
{
    sl_api *a = app;
    const char *subject = req->params[0];
    int version = LATEST;
    json_t *body, *refs = NULL;
    char *text = NULL;
    const sl_store_schema **all = NULL;
    if (one_version && parse_version(req->params[1], &version, resp))
        return;
    if (!(body = body_object(req, resp)))
        return;
    const sl_store_view *v = sl_store_lock(a->store);
    sl_avro_schema *cand = submitted_schema(v, req, body, &text, &refs, resp);
    size_t n = versions_of(v, subject, 0, &all);
    const sl_store_schema *one = one_version ? find_version(v, subject, version, 0) : NULL;
    if (!cand)
        goto out;
    if (one_version && !n) {
        e_subject(resp, subject);
        goto out;
    }
    if (one_version && !one) {
        e_version(resp, version);
        goto out;
    }
    int level = sl_compat_level_parse(level_of(a, v, subject));
    if (one_version) { /* against that version only: the level's direction, not transitive */
        all[0] = one;
        n = 1;
        level = level == SL_COMPAT_BACKWARD_TRANSITIVE  ? SL_COMPAT_BACKWARD
                : level == SL_COMPAT_FORWARD_TRANSITIVE ? SL_COMPAT_FORWARD
                : level == SL_COMPAT_FULL_TRANSITIVE    ? SL_COMPAT_FULL
                                                        : level;
    }
    sl_avro_schema **parsed = calloc(n + 1, sizeof(*parsed));
    int *nums = calloc(n + 1, sizeof(int));
    size_t k = parse_versions(v, all, n, parsed, nums);
    json_t *msgs = json_array();
    int bad = level < 0 ? 0
                        : sl_compat_check((sl_compat_level)level, cand,
                                          (const sl_avro_schema *const *)parsed, nums, k, msgs);
    json_t *o = json_pack("{s:b}", "is_compatible", !bad);
    if (sl_http_query_true(req, "verbose"))
        json_object_set(o, "messages", msgs);
    ok(resp, o);
    json_decref(msgs);
    free_parsed(parsed, k);
    free(nums);
out:
    sl_store_unlock(a->store);
    free(all);
    sl_avro_free(cand);
    free(text);
    json_decref(refs);
    json_decref(body);
}

static void h_compat_version(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    compat(app, req, resp, 1);
}

static void h_compat_all(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    compat(app, req, resp, 0);
}

/* ================= /config and /mode ================= */

typedef struct setting_kind {
    const char *keytype;   /* CONFIG or MODE */
    const char *field;     /* in the stored value */
    const char *put_field; /* in PUT bodies and answers */
    const char *get_field; /* in GET answers */
    int not_set_code;      /* 40408 or 40409 */
} setting_kind;

static const setting_kind k_config = {"CONFIG", "compatibilityLevel", "compatibility",
                                      "compatibilityLevel", 40408};
static const setting_kind k_mode = {"MODE", "mode", "mode", "mode", 40409};

static const char *effective(sl_api *a, const setting_kind *k, const sl_store_view *v,
                             const char *subject)
{
    return k == &k_mode ? mode_of(v, subject) : level_of(a, v, subject);
}

static void get_setting(sl_api *a, const setting_kind *k, const sl_http_req *req,
                        sl_http_resp *resp, const char *subject)
{
    const sl_store_view *v = sl_store_lock(a->store);
    const char *val = subject ? setting_of(k == &k_mode ? v->modes : v->configs,
                                           k == &k_mode ? v->nmodes : v->nconfigs, subject)
                              : effective(a, k, v, NULL);
    if (!val && sl_http_query_true(req, "defaultToGlobal"))
        val = effective(a, k, v, NULL);
    if (val)
        ok(resp, json_pack("{s:s}", k->get_field, val));
    else if (k == &k_mode)
        sl_http_error(resp, 404, k->not_set_code,
                      "Subject '%s' does not have subject-level mode configured", subject);
    else
        sl_http_error(resp, 404, k->not_set_code,
                      "Subject '%s' does not have subject-level compatibility configured", subject);
    sl_store_unlock(a->store);
}

static int valid_mode(const char *m)
{
    return !strcmp(m, "READWRITE") || !strcmp(m, "READONLY") || !strcmp(m, "READONLY_OVERRIDE") ||
           !strcmp(m, "IMPORT");
}

static void put_setting(sl_api *a, const setting_kind *k, const sl_http_req *req,
                        sl_http_resp *resp, const char *subject)
{
    json_t *body = body_object(req, resp);
    char val[64] = "", *key = NULL, *value = NULL;
    if (!body)
        return;
    const char *in = json_string_value(json_object_get(body, k->put_field));
    for (size_t i = 0; in && in[i] && i < sizeof(val) - 1; i++)
        val[i] = (char)toupper((unsigned char)in[i]);
    if (k == &k_config && sl_compat_level_parse(val) < 0) {
        sl_http_error(resp, 422, 42203,
                      "Invalid compatibility level. Valid values are none, backward, forward, "
                      "full, backward_transitive, forward_transitive, and full_transitive");
    } else if (k == &k_mode && !valid_mode(val)) {
        sl_http_error(resp, 422, 42204,
                      "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and "
                      "IMPORT");
    } else {
        sl_store_write_begin(a->store);
        const sl_store_view *v = sl_store_lock(a->store);
        int blocked = 0;
        if (k == &k_mode && !strcmp(val, "IMPORT") && !sl_http_query_true(req, "force")) {
            for (size_t i = 0; i < v->nschemas && !blocked; i++)
                blocked = !subject || !strcmp(v->schemas[i].subject, subject);
            if (blocked)
                sl_http_error(resp, 422, 42205,
                              "Cannot import since found existing subjects (use ?force=true)");
        }
        sl_store_unlock(a->store);
        if (!blocked) {
            key = sl_store_setting_key(k->keytype, subject);
            value = sl_store_setting_value(k->field, val);
            char err[512];
            int timed_out;
            if (sl_store_put(a->store, key, value, NULL, &timed_out, err, sizeof(err)))
                e_store(resp, timed_out, err);
            else
                ok(resp, json_pack("{s:s}", k->put_field, val));
        }
        sl_store_write_end(a->store);
    }
    free(key);
    free(value);
    json_decref(body);
}

static void delete_setting(sl_api *a, const setting_kind *k, const sl_http_req *req,
                           sl_http_resp *resp, const char *subject)
{
    sl_store_write_begin(a->store);
    const sl_store_view *v = sl_store_lock(a->store);
    char prev[64];
    snprintf(prev, sizeof(prev), "%s", effective(a, k, v, subject));
    int known = !subject;
    for (size_t i = 0; i < v->nschemas && !known; i++)
        known = !strcmp(v->schemas[i].subject, subject);
    sl_store_unlock(a->store);
    if (!known) {
        e_subject(resp, subject);
    } else {
        char *key = sl_store_setting_key(k->keytype, subject), err[512];
        int timed_out;
        if (sl_store_put(a->store, key, NULL, NULL, &timed_out, err, sizeof(err)))
            e_store(resp, timed_out, err);
        else
            ok(resp, json_pack("{s:s}", k->get_field, prev));
        free(key);
    }
    sl_store_write_end(a->store);
}

static void h_get_config(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    get_setting(app, &k_config, req, resp, NULL);
}
static void h_put_config(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    put_setting(app, &k_config, req, resp, NULL);
}
static void h_del_config(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    delete_setting(app, &k_config, req, resp, NULL);
}
static void h_get_sconfig(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    get_setting(app, &k_config, req, resp, req->params[0]);
}
static void h_put_sconfig(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    put_setting(app, &k_config, req, resp, req->params[0]);
}
static void h_del_sconfig(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    delete_setting(app, &k_config, req, resp, req->params[0]);
}
static void h_get_mode(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    get_setting(app, &k_mode, req, resp, NULL);
}
static void h_put_mode(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    put_setting(app, &k_mode, req, resp, NULL);
}
static void h_del_mode(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    delete_setting(app, &k_mode, req, resp, NULL);
}
static void h_get_smode(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    get_setting(app, &k_mode, req, resp, req->params[0]);
}
static void h_put_smode(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    put_setting(app, &k_mode, req, resp, req->params[0]);
}
static void h_del_smode(void *app, const sl_http_req *req, sl_http_resp *resp)
{
    delete_setting(app, &k_mode, req, resp, req->params[0]);
}

/* ================= the route table ================= */

const sl_http_route sl_api_routes[] = {
    {"GET", "/", h_root},
    {"GET", "/schemas/types", h_types},
    {"GET", "/schemas/ids/*", h_schema_by_id},
    {"GET", "/schemas/ids/*/schema", h_schema_by_id_raw},
    {"GET", "/schemas/ids/*/subjects", h_id_subjects},
    {"GET", "/schemas/ids/*/versions", h_id_versions},
    {"GET", "/subjects", h_subjects},
    {"POST", "/subjects/*", h_lookup},
    {"DELETE", "/subjects/*", h_delete_subject},
    {"GET", "/subjects/*/versions", h_versions},
    {"POST", "/subjects/*/versions", h_register},
    {"GET", "/subjects/*/versions/*", h_version},
    {"DELETE", "/subjects/*/versions/*", h_delete_version},
    {"GET", "/subjects/*/versions/*/schema", h_version_schema},
    {"GET", "/subjects/*/versions/*/referencedby", h_referenced_by},
    {"POST", "/compatibility/subjects/*/versions/*", h_compat_version},
    {"POST", "/compatibility/subjects/*/versions", h_compat_all},
    {"GET", "/config", h_get_config},
    {"PUT", "/config", h_put_config},
    {"DELETE", "/config", h_del_config},
    {"GET", "/config/*", h_get_sconfig},
    {"PUT", "/config/*", h_put_sconfig},
    {"DELETE", "/config/*", h_del_sconfig},
    {"GET", "/mode", h_get_mode},
    {"PUT", "/mode", h_put_mode},
    {"DELETE", "/mode", h_del_mode},
    {"GET", "/mode/*", h_get_smode},
    {"PUT", "/mode/*", h_put_smode},
    {"DELETE", "/mode/*", h_del_smode},
    {NULL, NULL, NULL},
};
