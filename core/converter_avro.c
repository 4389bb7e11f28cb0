/*
 * converter_avro.c - the `avro` converter: Confluent's AvroConverter.
 *
 * Wire format (Confluent): byte 0 = magic 0, bytes 1-4 = the schema id,
 * big-endian, then the Avro binary encoding of the value. Subjects follow
 * the TopicNameStrategy: "<topic>-key" / "<topic>-value".
 *
 * to_bytes: (schema object, topic) -> id is cached; on a miss the schema's
 * full JSON text (schema_text.h: what the source declared, logical types
 * included) is registered with POST /subjects/<subject>/versions (or, with
 * auto.register.schemas=false, looked up with POST /subjects/<subject>).
 * The registry answers the existing id for a schema it knows and rejects an
 * incompatible one (409): that error fails the task with the registry's
 * message. Per record: no allocation (the message is encoded into the
 * converter's reused buffer, which librdkafka copies) and no JSON:
 * sluice_avro_encode (envelope.c) writes the Avro binary encoding itself,
 * walking the schema's sluice_avro_plan, the one sinks check bytes with.
 *
 * from_bytes: id -> (schema, value class) is cached; on a miss the writer
 * schema comes from GET /schemas/ids/<id>. Per record: one generic value
 * (the caller owns it) read through one reused memory reader; a value the
 * caller gives back of the same class is read into in place, so a sink
 * reusing its batch slots decodes without allocating.
 *
 * Options (Confluent's names, prefixed "key.converter." / "value.converter."):
 *   schema.registry.url      required (the worker or `sluice run` may
 *                            supply it for every connector)
 *   basic.auth.credentials.source  USER_INFO / URL
 *   basic.auth.user.info     "user:password"
 *   schema.registry.ssl.ca.location  PEM CA file of an https:// registry
 *   auto.register.schemas    true (default) / false
 *
 * Runs on: the owning task's thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "converter.h"
#include "converter_avro.h"
#include "restclient.h"
#include "schema_text.h"

#define ID_SLOTS 64

/* A registry answer worth trying again: no answer at all (-1: refused,
 * timed out), a server error, a timeout or throttling. */
static int retriable(long status)
{
    return status < 0 || status >= 500 || status == 408 || status == 429;
}

typedef struct to_id {
    avro_schema_t schema; /* a reference is held */
    char *topic;
    int32_t id;
    sluice_avro_plan *plan; /* of schema, for encoding; built on first use */
    int no_plan;    /* building it failed: encode without one, and do not retry */
} to_id;

typedef struct from_id {
    int32_t id;
    avro_schema_t schema;
    avro_value_iface_t *iface;
    sluice_avro_plan *plan; /* built on the first peek */
} from_id;

struct sl_avro_conv {
    int is_key, auto_register;
    sl_restclient *rc;
    avro_reader_t reader;
    to_id to[ID_SLOTS];
    from_id from[ID_SLOTS];
    unsigned to_next, from_next;
    /* Evicted from[] entries a peek may have handed out: freed by
     * sl_avro_conv_retire, once the caller's batch is done with them. */
    from_id *retired;
    size_t n_retired, cap_retired;
};

static void from_free(from_id *f)
{
    if (!f->schema)
        return;
    sl_schema_text_forget(f->schema);
    avro_value_iface_decref(f->iface);
    avro_schema_decref(f->schema);
    sluice_avro_plan_destroy(f->plan);
    *f = (from_id){0};
}

static const char *side(const sl_avro_conv *a)
{
    return a->is_key ? "key" : "value";
}

static const char *conf_str(const json_t *config, int is_key, const char *opt)
{
    char key[128];
    snprintf(key, sizeof(key), "%s.converter.%s", is_key ? "key" : "value", opt);
    return json_string_value(json_object_get(config, key));
}

sl_avro_conv *sl_avro_conv_create(int is_key, const json_t *config, char *err, size_t errlen)
{
    const char *url = conf_str(config, is_key, "schema.registry.url");
    const char *reg = conf_str(config, is_key, "auto.register.schemas");
    const char *s = is_key ? "key" : "value";
    char prefix[32];
    if (!url || !*url) {
        snprintf(err, errlen,
                 "%s.converter.schema.registry.url: required by the avro converter (the registry "
                 "holding the schemas, e.g. http://localhost:8081)",
                 s);
        return NULL;
    }
    sl_avro_conv *a = calloc(1, sizeof(*a));
    if (!a || !(a->reader = avro_reader_memory(NULL, 0))) {
        snprintf(err, errlen, "avro converter: out of memory");
        sl_avro_conv_destroy(a);
        return NULL;
    }
    /* the registry client reads Confluent's keys: url (the first of a list),
     * basic.auth.*, schema.registry.ssl.ca.location */
    snprintf(prefix, sizeof(prefix), "%s.converter.", s);
    if (!(a->rc = sl_restclient_registry(config, prefix, err, errlen))) {
        sl_avro_conv_destroy(a);
        return NULL;
    }
    a->is_key = is_key;
    a->auto_register = !(reg && !strcmp(reg, "false"));
    return a;
}

void sl_avro_conv_destroy(sl_avro_conv *a)
{
    if (!a)
        return;
    for (int i = 0; i < ID_SLOTS; i++) {
        if (a->to[i].schema) {
            avro_schema_decref(a->to[i].schema);
            free(a->to[i].topic);
            sluice_avro_plan_destroy(a->to[i].plan);
        }
        from_free(&a->from[i]);
    }
    sl_avro_conv_retire(a);
    free(a->retired);
    if (a->reader)
        avro_reader_free(a->reader);
    sl_restclient_destroy(a->rc);
    free(a);
}

/* ---- to_bytes ------------------------------------------------------------ */

/* Registers (or looks up) schema under <topic>-<side>; -1, or SL_CONV_RETRY
 * when the registry may answer later, with err. */
static int schema_id(sl_avro_conv *a, const char *topic, avro_schema_t schema, int32_t *id,
                     char *err, size_t errlen)
{
    char *text = sl_schema_text_dup(schema), path[1024], e[1024];
    json_t *body = text ? json_pack("{s:s}", "schema", text) : NULL;
    char *body_text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_t *answer = NULL;
    int rc = -1;
    free(text);
    json_decref(body);
    if (!body_text) {
        snprintf(err, errlen, "topic %s: %s schema: out of memory", topic, side(a));
        return -1;
    }
    snprintf(path, sizeof(path), "/subjects/%s-%s%s", topic, side(a),
             a->auto_register ? "/versions" : "");
    long status = sl_restclient_call(a->rc, "POST", path, body_text, &answer, e, sizeof(e));
    json_t *jid = json_object_get(answer, "id");
    if (status >= 200 && status < 300 && json_is_integer(jid)) {
        *id = (int32_t)json_integer_value(jid);
        rc = 0;
    } else if (status >= 200 && status < 300) {
        snprintf(err, errlen, "topic %s: registering the %s schema: the registry's answer has no id",
                 topic, side(a));
    } else if (status == 409) { /* the registry's compatibility check said no */
        snprintf(err, errlen,
                 "topic %s: the %s schema changed incompatibly; subject %s-%s refuses it: %s. To "
                 "go on, make the change compatible (a new column nullable or with a default), "
                 "or relax the subject's compatibility (PUT /config/%s-%s {\"compatibility\": "
                 "\"NONE\"}) and restart the task",
                 topic, side(a), topic, side(a), e, topic, side(a));
    } else {
        snprintf(err, errlen, "topic %s: %s the %s schema under subject %s-%s: %s", topic,
                 a->auto_register ? "registering" : "looking up", side(a), topic, side(a), e);
        rc = retriable(status) ? SL_CONV_RETRY : -1;
    }
    json_decref(answer);
    free(body_text);
    return rc;
}

static to_id *cached_id(sl_avro_conv *a, const char *topic, avro_schema_t schema, int *rc,
                        char *err, size_t errlen)
{
    *rc = -1;
    for (int i = 0; i < ID_SLOTS; i++)
        if (a->to[i].schema == schema && !strcmp(a->to[i].topic, topic))
            return &a->to[i];
    int32_t id;
    char *t = strdup(topic);
    if (!t || (*rc = schema_id(a, topic, schema, &id, err, errlen)) != 0) {
        if (!t)
            snprintf(err, errlen, "topic %s: out of memory", topic);
        free(t);
        return NULL;
    }
    to_id *slot = &a->to[a->to_next++ % ID_SLOTS];
    if (slot->schema) {
        avro_schema_decref(slot->schema);
        free(slot->topic);
        sluice_avro_plan_destroy(slot->plan);
    }
    *slot = (to_id){avro_schema_incref(schema), t, id, NULL};
    return slot;
}

int sl_avro_conv_to_bytes(sl_avro_conv *a, const char *topic, avro_schema_t schema,
                          const avro_value_t *value, char **buf, size_t *cap, void **out,
                          size_t *len, char *err, size_t errlen)
{
    if (!schema)
        schema = avro_value_get_schema(value);
    int rc;
    to_id *slot = cached_id(a, topic, schema, &rc, err, errlen);
    if (!slot)
        return rc;
    if (!slot->plan && !slot->no_plan)
        slot->no_plan = !(slot->plan = sluice_avro_plan_create(slot->schema));
    size_t n = 5; /* the header is written last */
    const sluice_avro_plan *plan = avro_value_get_schema(value) == slot->schema ? slot->plan : NULL;
    int bad = sluice_avro_encode(plan, value, buf, &n, cap);
    if (bad) {
        if (bad == ENOMEM)
            snprintf(err, errlen, "topic %s: %s: out of memory", topic, side(a));
        else
            snprintf(err, errlen, "topic %s: %s does not match its schema: %s", topic, side(a),
                     avro_strerror());
        return -1;
    }
    uint32_t id = (uint32_t)slot->id;
    unsigned char *b = (unsigned char *)*buf;
    b[0] = 0;
    b[1] = (unsigned char)(id >> 24);
    b[2] = (unsigned char)(id >> 16);
    b[3] = (unsigned char)(id >> 8);
    b[4] = (unsigned char)id;
    *out = b;
    *len = n;
    return 0;
}

/* ---- from_bytes ---------------------------------------------------------- */

static from_id *cached_schema(sl_avro_conv *a, const char *topic, int32_t id, int *rc,
                              char *err, size_t errlen)
{
    *rc = -1;
    for (int i = 0; i < ID_SLOTS; i++)
        if (a->from[i].schema && a->from[i].id == id)
            return &a->from[i];
    char path[64], e[1024];
    json_t *answer = NULL;
    snprintf(path, sizeof(path), "/schemas/ids/%d", (int)id);
    long status = sl_restclient_call(a->rc, "GET", path, NULL, &answer, e, sizeof(e));
    const char *text = json_string_value(json_object_get(answer, "schema"));
    avro_schema_t schema = NULL;
    avro_value_iface_t *iface = NULL;
    if (status != 200 || !text) {
        snprintf(err, errlen, "topic %s: %s schema id %d: %s", topic, side(a), (int)id,
                 status == 200 ? "the registry's answer has no schema" : e);
        if (retriable(status))
            *rc = SL_CONV_RETRY;
    }
    else if (avro_schema_from_json_length(text, strlen(text), &schema) != 0)
        snprintf(err, errlen, "topic %s: %s schema id %d: avro-c cannot parse it: %s", topic,
                 side(a), (int)id, avro_strerror());
    else if (!(iface = avro_generic_class_from_schema(schema)))
        snprintf(err, errlen, "topic %s: %s schema id %d: %s", topic, side(a), (int)id,
                 avro_strerror());
    if (!iface) {
        if (schema)
            avro_schema_decref(schema);
        json_decref(answer);
        return NULL;
    }
    sl_schema_text_set(schema, text); /* sinks writing Avro files keep the logical types */
    json_decref(answer);
    from_id *slot = &a->from[a->from_next++ % ID_SLOTS];
    if (slot->schema && !slot->plan) /* never peeked at: nobody points at it */
        from_free(slot);
    if (slot->schema) { /* a peek of this batch may still point at it */
        if (a->n_retired == a->cap_retired) {
            size_t cap = a->cap_retired ? a->cap_retired * 2 : 8;
            from_id *r = realloc(a->retired, cap * sizeof(*r));
            if (!r) {
                snprintf(err, errlen, "topic %s: %s schema id %d: out of memory", topic, side(a),
                         (int)id);
                sl_schema_text_forget(schema);
                avro_value_iface_decref(iface);
                avro_schema_decref(schema);
                *rc = SL_CONV_RETRY; /* memory may come back */
                return NULL;
            }
            a->retired = r;
            a->cap_retired = cap;
        }
        a->retired[a->n_retired++] = *slot;
    }
    *slot = (from_id){id, schema, iface, NULL};
    return slot;
}

/* The writer schema of a message in the Confluent wire format (magic 0, a
 * 4-byte big-endian schema id), or NULL with *rc -1 (not that format) or
 * as cached_schema leaves it. */
static from_id *wire_schema(sl_avro_conv *a, const char *topic, const unsigned char *b, size_t len,
                            int *rc, char *err, size_t errlen)
{
    if (len < 5 || b[0] != 0) {
        snprintf(err, errlen,
                 "topic %s: %s is not in the Confluent Avro wire format (%zu bytes, first byte "
                 "0x%02x; expected 0x00 and a 4-byte schema id)",
                 topic, side(a), len, len ? b[0] : 0);
        *rc = -1;
        return NULL;
    }
    int32_t id = (int32_t)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4]);
    return cached_schema(a, topic, id, rc, err, errlen);
}

int sl_avro_conv_from_bytes(sl_avro_conv *a, const char *topic, const void *bytes, size_t len,
                            avro_value_t *value, char *err, size_t errlen)
{
    const unsigned char *b = bytes;
    avro_value_t old = *value; /* given back for reuse, or {NULL} */
    value->iface = NULL;
    value->self = NULL;
    if (!bytes) { /* a tombstone, or no key */
        if (old.iface)
            avro_value_decref(&old);
        return 0;
    }
    int rc;
    from_id *slot = wire_schema(a, topic, b, len, &rc, err, errlen);
    if (old.iface && (!slot || old.iface != slot->iface)) {
        avro_value_decref(&old);
        old.iface = NULL;
    }
    if (!slot)
        return rc;
    if (old.iface) { /* same class: read in place, reusing its buffers */
        *value = old;
        avro_value_reset(value);
    } else if (avro_generic_value_new(slot->iface, value) != 0) {
        snprintf(err, errlen, "topic %s: %s: %s", topic, side(a), avro_strerror());
        value->iface = NULL;
        return -1;
    }
    avro_reader_memory_set_source(a->reader, (const char *)b + 5, (int64_t)(len - 5));
    if (avro_value_read(a->reader, value) != 0) {
        snprintf(err, errlen, "topic %s: %s: not a valid Avro encoding for schema id %d: %s",
                 topic, side(a), (int)slot->id, avro_strerror());
        avro_value_decref(value);
        value->iface = NULL;
        return -1;
    }
    return 0;
}

/* ---- peek ----------------------------------------------------------------- */

int sl_avro_conv_peek(sl_avro_conv *a, const char *topic, const void *bytes, size_t len,
                      avro_schema_t *schema, const sluice_avro_plan **plan, const void **payload,
                      size_t *plen, char *err, size_t errlen)
{
    const unsigned char *b = bytes;
    *schema = NULL;
    *plan = NULL;
    *payload = NULL;
    *plen = 0;
    if (!bytes)
        return 0; /* a tombstone */
    int rc;
    from_id *slot = wire_schema(a, topic, b, len, &rc, err, errlen);
    if (!slot)
        return rc;
    /* a schema the plans cannot take (out of memory, nesting deeper than
     * they go) or bytes they refuse: decoding decides, and names the error */
    if (!slot->plan && !(slot->plan = sluice_avro_plan_create(slot->schema)))
        return 1;
    int64_t n = sluice_avro_plan_check(slot->plan, b + 5, len - 5);
    if (n < 0)
        return 1;
    *schema = slot->schema;
    *plan = slot->plan;
    *payload = b + 5;
    *plen = (size_t)n;
    return 0;
}

void sl_avro_conv_retire(sl_avro_conv *a)
{
    for (size_t i = 0; i < a->n_retired; i++)
        from_free(&a->retired[i]);
    a->n_retired = 0;
}
