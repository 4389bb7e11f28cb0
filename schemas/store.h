/*
 * store.h - the registry's state, kept only in the compacted topic _schemas
 * (private to schemas/).
 *
 * A reader thread consumes partition 0 of the topic from the beginning and
 * folds every record into an in-memory view (sl_store_view). Writers append
 * a record with an idempotent producer (acks=all) and return only once the
 * reader has consumed past that record's offset, so a read after a write, on
 * this instance or any other that has caught up, sees it. The view is
 * rebuilt from the topic on every start; nothing is kept elsewhere.
 *
 * Records are Confluent Schema Registry's, byte for byte (JSON key / value):
 *
 *   key {"keytype":"SCHEMA","subject":S,"version":V,"magic":1}
 *   val {"subject":S,"version":V,"id":I,["references":[..],]"schema":TEXT,
 *        "deleted":false}                         null value: permanent delete
 *   key {"keytype":"CONFIG","subject":S|null,"magic":0}
 *   val {"compatibilityLevel":"BACKWARD"}          null: back to the default
 *   key {"keytype":"MODE","subject":S|null,"magic":0}
 *   val {"mode":"READWRITE"}                       null: back to the default
 *   key {"keytype":"DELETE_SUBJECT","subject":S,"magic":0}
 *   val {"subject":S,"version":V}   versions <= V of S are soft-deleted
 *   key {"keytype":"NOOP","magic":0}  val null      written at start-up to find
 *                                                  the end of the topic
 *
 * Concurrent writers (several instances, no leader): every instance appends
 * to the log and the log order decides, the same way on every instance and
 * on every replay (sl_store_view_apply):
 *   - the first SCHEMA record (lowest offset) under a key (subject, version)
 *     claims it; a later record under that key stands only if it carries the
 *     same id and the same schema (a soft delete, a re-append), and then only
 *     its "deleted": true counts (a soft delete is never undone);
 *   - the first record carrying an id claims that id for its schema; a later
 *     record giving that id to a different schema (the identity the
 *     same_schema hook decides, else text and references) is ignored;
 *   - an ignored record changes nothing, not even the largest id.
 * A writer reads back to its own record and checks whether it stood; if not
 * it re-appends the winner under that key when the winner is older (so that
 * compaction, which keeps the newest value per key, keeps the winner) and
 * decides again (api.c, register_locked).
 *
 * Threads: the reader thread owns writes to the view (HTTP threads only fill
 * a schema's `identity` memo); HTTP threads read it between sl_store_lock
 * and sl_store_unlock, and serialize their writes with
 * sl_store_write_begin / sl_store_write_end (one writer per instance, so ids
 * and versions computed from the view are not raced by this instance).
 */
#ifndef SL_STORE_H
#define SL_STORE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_store sl_store;
typedef struct sl_store_schema sl_store_schema;
typedef struct sl_store_view sl_store_view;

/* Is `schema` (with `refs`) the same schema as `have`, by the registry's
 * identity (normalized form and references)? Called by the reader thread
 * with the view locked, only when the texts differ; it may read `v` but must
 * not call back into the store. */
typedef int (*sl_store_same_fn)(void *arg, const sl_store_view *v, const sl_store_schema *have,
                                const char *schema, json_t *refs);

struct sl_kafka_security;

typedef struct sl_store_conf {
    const char *bootstrap;
    /* kafkastore.security.protocol, .sasl.*, .ssl.* (core/kafka_client.h);
     * NULL: plaintext. Borrowed: must outlive the store. */
    const struct sl_kafka_security *security;
    const char *topic;
    int64_t timeout_ms; /* how long a write waits for its ack and the reader */
    int idempotence;
    sl_store_same_fn same_schema; /* NULL: same text and references */
    void *same_arg;
} sl_store_conf;

struct sl_store_schema {
    char *subject;
    int version;
    int id;
    char *schema;       /* the schema text as stored */
    json_t *references; /* array of {name, subject, version}; never NULL */
    int deleted;
    int64_t offset; /* the offset of the record that claimed (subject, version) */
    /* The registry's identity of this schema (its normalized form), kept by
     * the API on first use (with the view locked) for schemas without
     * references, whose identity never changes; NULL until then. */
    char *identity;
};

typedef struct sl_store_setting {
    char *subject; /* NULL: global */
    char *value;   /* compatibility level or mode */
} sl_store_setting;

struct sl_store_view {
    sl_store_schema *schemas;
    size_t nschemas, capschemas;
    sl_store_setting *configs;
    size_t nconfigs, capconfigs;
    sl_store_setting *modes;
    size_t nmodes, capmodes;
    int max_id; /* largest id of a record that stood, in this run */
};

/* Create the topic if missing (compact, 1 partition), start the reader and
 * read to the end. On failure returns -1 with err set and *out NULL. */
int sl_store_open(const sl_store_conf *conf, sl_store **out, char *err, size_t errlen);
/* Stop the reader, flush and destroy the clients. NULL is fine. */
void sl_store_close(sl_store *st);

/* Read access to the view (runs on: any HTTP thread). First lets the reader
 * apply what it has already fetched, so a read follows every write of this
 * instance, and those of other instances within one fetch round (~50 ms). */
const sl_store_view *sl_store_lock(sl_store *st);
void sl_store_unlock(sl_store *st);

/* Serialize this instance's writers. */
void sl_store_write_begin(sl_store *st);
void sl_store_write_end(sl_store *st);

/* Append one record (value NULL: tombstone) and wait until the reader has
 * applied it; *offset (if not NULL) is then its offset. -1 with err on
 * failure; *timed_out says whether it was a time-out (the record may still
 * land). Call between write_begin/end, without the view lock. */
int sl_store_put(sl_store *st, const char *key, const char *value, int64_t *offset, int *timed_out,
                 char *err, size_t errlen);

/* Fold the record at `offset` (key and value as in the topic; val NULL for a
 * tombstone) into `v` by the rules above. Returns 1 if it stood, 0 if it was
 * ignored (a conflict, or not a registry record). Runs on: the reader thread
 * (mu held), and unit tests. */
int sl_store_view_apply(sl_store_view *v, const void *key, size_t keylen, const void *val,
                        size_t vallen, int64_t offset, sl_store_same_fn same, void *same_arg);
/* Free everything a view holds (not the struct itself). */
void sl_store_view_free(sl_store_view *v);

/* Confluent's keys and values. malloc'd JSON text; caller frees. */
char *sl_store_schema_key(const char *subject, int version);
char *sl_store_schema_value(const sl_store_schema *s);
char *sl_store_setting_key(const char *keytype, const char *subject);
char *sl_store_setting_value(const char *field, const char *value);
char *sl_store_delete_subject_value(const char *subject, int version);

#endif
