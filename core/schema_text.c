/*
 * schema_text.c - see schema_text.h. A small open list: a process holds a
 * few hundred schemas at most (one per table and side), and lookups are
 * rare (converter cache misses).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "schema_text.h"

typedef struct entry {
    avro_schema_t schema;
    char *json;
    struct entry *next;
} entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static entry *entries;

void sl_schema_text_set(avro_schema_t schema, const char *json)
{
    char *copy = json ? strdup(json) : NULL;
    if (!schema || !copy) {
        free(copy);
        return;
    }
    pthread_mutex_lock(&mu);
    entry *e = entries;
    while (e && e->schema != schema)
        e = e->next;
    if (e) {
        free(e->json);
        e->json = copy;
    } else if ((e = malloc(sizeof(*e)))) {
        e->schema = avro_schema_incref(schema);
        e->json = copy;
        e->next = entries;
        entries = e;
    } else {
        free(copy);
    }
    pthread_mutex_unlock(&mu);
}

void sl_schema_text_forget(avro_schema_t schema)
{
    pthread_mutex_lock(&mu);
    for (entry **pp = &entries; *pp; pp = &(*pp)->next)
        if ((*pp)->schema == schema) {
            entry *e = *pp;
            *pp = e->next;
            avro_schema_decref(e->schema);
            free(e->json);
            free(e);
            break;
        }
    pthread_mutex_unlock(&mu);
}

/* avro_schema_to_json into a growing buffer. */
static char *render(avro_schema_t schema)
{
    for (size_t cap = 4096; cap <= (64u << 20); cap *= 4) {
        char *buf = malloc(cap);
        if (!buf)
            return NULL;
        avro_writer_t w = avro_writer_memory(buf, (int64_t)cap - 1);
        int rc = w ? avro_schema_to_json(schema, w) : -1;
        int64_t n = w ? avro_writer_tell(w) : 0;
        if (w)
            avro_writer_free(w);
        if (rc == 0 && n < (int64_t)cap - 1) {
            buf[n] = 0;
            return buf;
        }
        free(buf);
        if (rc != 0 && rc != ENOSPC)
            return NULL;
    }
    return NULL;
}

char *sl_schema_text_dup(avro_schema_t schema)
{
    char *out = NULL;
    pthread_mutex_lock(&mu);
    for (entry *e = entries; e; e = e->next)
        if (e->schema == schema) {
            out = strdup(e->json);
            break;
        }
    pthread_mutex_unlock(&mu);
    return out ? out : render(schema);
}
