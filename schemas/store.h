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
 * Threads: the reader thread owns writes to the view; HTTP threads read it
 * between sl_store_lock and sl_store_unlock, and serialize their writes with
 * sl_store_write_begin / sl_store_write_end (one writer per instance, so ids
 * and versions computed from the view are not raced by this instance).
 */
#ifndef SL_STORE_H
#define SL_STORE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_store sl_store;

typedef struct sl_store_conf {
    const char *bootstrap;
    const char *topic;
    int64_t timeout_ms; /* how long a write waits for its ack and the reader */
    int idempotence;
} sl_store_conf;

typedef struct sl_store_schema {
    char *subject;
    int version;
    int id;
    char *schema;       /* the schema text as stored */
    json_t *references; /* array of {name, subject, version}; never NULL */
    int deleted;
} sl_store_schema;

typedef struct sl_store_setting {
    char *subject; /* NULL: global */
    char *value;   /* compatibility level or mode */
} sl_store_setting;

typedef struct sl_store_view {
    sl_store_schema *schemas;
    size_t nschemas, capschemas;
    sl_store_setting *configs;
    size_t nconfigs, capconfigs;
    sl_store_setting *modes;
    size_t nmodes, capmodes;
    int max_id; /* largest id ever seen in this run */
} sl_store_view;

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
 * applied it. -1 with err on failure; *timed_out says whether it was a time-out
 * (the record may still land). Call between write_begin/end, without the
 * view lock. */
int sl_store_put(sl_store *st, const char *key, const char *value, int *timed_out, char *err,
                 size_t errlen);

/* Confluent's keys and values. malloc'd JSON text; caller frees. */
char *sl_store_schema_key(const char *subject, int version);
char *sl_store_schema_value(const sl_store_schema *s);
char *sl_store_setting_key(const char *keytype, const char *subject);
char *sl_store_setting_value(const char *field, const char *value);
char *sl_store_delete_subject_value(const char *subject, int version);

#endif
