/*
 * topics.c - the broker's table of topics and partitions, and the metadata
 * file that makes them durable.
 *
 * A topic's partitions are logs in <log.dir>/<topic>-<partition> (the
 * directory of the first log.dir that has it; new ones go to the log.dir
 * holding the fewest partitions). Which topics exist, how many partitions
 * each has, their config overrides and ids live in one JSON file,
 * <first log.dir>/sluice-topics.json, replaced atomically (write tmp, fsync,
 * rename, fsync dir) whenever it changes:
 *
 *   {"version": 1, "topics": {"orders": {"partitions": 3, "id": "<32 hex>",
 *                                        "configs": {"retention.ms": "60000"}}}}
 *
 * Runs on: the broker I/O loop thread (start-up and admin requests).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker_internal.h"
#include "logging.h"
#include "producer_state.h"

#define META_FILE "sluice-topics.json"

/* Topic configs a user may set, with a check of their value. */
typedef struct topic_key {
    const char *name;
    char kind; /* 'i' integer >= lo, 'p' cleanup.policy, 't' timestamp type, 'c' compression, 'r' ratio, 'b' bool */
    int64_t lo;
    const char *doc;
} topic_key;

static const topic_key topic_keys[] = {
    {"cleanup.policy", 'p', 0, "delete, compact or compact,delete"},
    {"retention.ms", 'i', -1, "delete segments older than this (-1 forever)"},
    {"retention.bytes", 'i', -1, "partition size limit (-1 none)"},
    {"segment.bytes", 'i', 14, "segment size"},
    {"segment.ms", 'i', 1, "segment age before roll"},
    {"index.interval.bytes", 'i', 1, "bytes between index entries"},
    {"max.message.bytes", 'i', 0, "largest record batch"},
    {"min.insync.replicas", 'i', 1, "replicas that must acknowledge acks=all"},
    {"message.timestamp.type", 't', 0, "CreateTime or LogAppendTime"},
    {"compression.type", 'c', 0, "producer (batches are stored as produced)"},
    {"delete.retention.ms", 'i', 0, "how long tombstones are kept (compaction)"},
    {"min.compaction.lag.ms", 'i', 0, "minimum age before compaction"},
    {"max.compaction.lag.ms", 'i', 1, "maximum age before compaction"},
    {"min.cleanable.dirty.ratio", 'r', 0, "dirty ratio that triggers compaction"},
    {"flush.messages", 'i', 1, "accepted for compatibility"},
    {"flush.ms", 'i', 0, "accepted for compatibility"},
    {"unclean.leader.election.enable", 'b', 0, "accepted for compatibility"},
    {"message.timestamp.difference.max.ms", 'i', 0, "accepted for compatibility"},
    {"file.delete.delay.ms", 'i', 0, "accepted for compatibility"},
    {"preallocate", 'b', 0, "accepted for compatibility"},
    {NULL, 0, 0, NULL},
};

static uint64_t hash_name(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

sl_topic *sl_topics_find(sl_broker *b, const char *name, size_t len)
{
    if (!b->ntbuckets)
        return NULL;
    sl_topic *t = b->tbuckets[hash_name(name, len) % b->ntbuckets];
    for (; t; t = t->hnext)
        if (strlen(t->name) == len && !memcmp(t->name, name, len))
            return t;
    return NULL;
}

sl_partition *sl_topics_partition(sl_broker *b, kstr topic, int32_t partition)
{
    if (topic.len <= 0)
        return NULL;
    sl_topic *t = sl_topics_find(b, topic.s, (size_t)topic.len);
    if (!t || partition < 0 || partition >= t->npart)
        return NULL;
    return t->parts[partition];
}

void sl_topics_foreach(sl_broker *b, sl_topic_fn fn, void *arg)
{
    for (size_t i = 0; i < b->ntbuckets; i++)
        for (sl_topic *t = b->tbuckets[i], *next; t; t = next) {
            next = t->hnext;
            fn(t, arg);
        }
}

static void table_insert(sl_broker *b, sl_topic *t)
{
    if (b->ntopics + 1 > b->ntbuckets) {
        size_t n = b->ntbuckets ? b->ntbuckets * 2 : 64;
        sl_topic **nb = calloc(n, sizeof(*nb));
        for (size_t i = 0; i < b->ntbuckets; i++)
            for (sl_topic *x = b->tbuckets[i], *next; x; x = next) {
                next = x->hnext;
                size_t h = hash_name(x->name, strlen(x->name)) % n;
                x->hnext = nb[h];
                nb[h] = x;
            }
        free(b->tbuckets);
        b->tbuckets = nb;
        b->ntbuckets = n;
    }
    size_t h = hash_name(t->name, strlen(t->name)) % b->ntbuckets;
    t->hnext = b->tbuckets[h];
    b->tbuckets[h] = t;
    b->ntopics++;
}

static void table_remove(sl_broker *b, sl_topic *t)
{
    sl_topic **pp = &b->tbuckets[hash_name(t->name, strlen(t->name)) % b->ntbuckets];
    for (; *pp; pp = &(*pp)->hnext)
        if (*pp == t) {
            *pp = t->hnext;
            b->ntopics--;
            return;
        }
}

int sl_topics_valid_name(const char *name, char *msg, size_t msglen)
{
    size_t n = strlen(name);
    if (n == 0 || n > SL_TOPIC_NAME_MAX) {
        snprintf(msg, msglen, "Topic name must have 1 to %d characters", SL_TOPIC_NAME_MAX);
        return 0;
    }
    if (!strcmp(name, ".") || !strcmp(name, "..")) {
        snprintf(msg, msglen, "Topic name cannot be \".\" or \"..\"");
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            snprintf(msg, msglen,
                     "Topic name \"%s\" is illegal, it contains a character other than ASCII "
                     "alphanumerics, '.', '_' and '-'", name);
            return 0;
        }
    }
    return 1;
}

int sl_topics_check_config(const char *key, const char *value, char *msg, size_t msglen)
{
    const topic_key *k;
    for (k = topic_keys; k->name; k++)
        if (!strcmp(k->name, key))
            break;
    if (!k->name) {
        snprintf(msg, msglen, "Unknown topic config name: %s", key);
        return KERR_INVALID_CONFIG;
    }
    if (!value) {
        snprintf(msg, msglen, "Null value not supported for topic config: %s", key);
        return KERR_INVALID_CONFIG;
    }
    char *end;
    switch (k->kind) {
    case 'i': {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < k->lo) {
            snprintf(msg, msglen, "Invalid value %s for configuration %s: must be an integer >= %lld",
                     value, key, (long long)k->lo);
            return KERR_INVALID_CONFIG;
        }
        return 0;
    }
    case 'r': {
        double d = strtod(value, &end);
        if (end == value || *end || d < 0 || d > 1) {
            snprintf(msg, msglen, "Invalid value %s for configuration %s: must be in [0,1]", value, key);
            return KERR_INVALID_CONFIG;
        }
        return 0;
    }
    case 'p':
        if (strcmp(value, "delete") && strcmp(value, "compact") && strcmp(value, "compact,delete") &&
            strcmp(value, "delete,compact")) {
            snprintf(msg, msglen, "Invalid value %s for configuration cleanup.policy: String must be "
                     "one of: compact, delete", value);
            return KERR_INVALID_CONFIG;
        }
        return 0;
    case 't':
        if (strcmp(value, "CreateTime") && strcmp(value, "LogAppendTime")) {
            snprintf(msg, msglen, "Invalid value %s for configuration message.timestamp.type: "
                     "String must be one of: CreateTime, LogAppendTime", value);
            return KERR_INVALID_CONFIG;
        }
        return 0;
    case 'c':
        if (strcmp(value, "producer")) {
            snprintf(msg, msglen, "Invalid value %s for configuration compression.type: sluice "
                     "stores batches as produced, only 'producer' is supported", value);
            return KERR_INVALID_CONFIG;
        }
        return 0;
    case 'b':
        if (strcmp(value, "true") && strcmp(value, "false")) {
            snprintf(msg, msglen, "Invalid value %s for configuration %s: must be true or false",
                     value, key);
            return KERR_INVALID_CONFIG;
        }
        return 0;
    }
    return 0;
}

/* ---------------- the metadata file ---------------- */

static void hex_id(const uint8_t id[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static void parse_id(const char *s, uint8_t id[16])
{
    memset(id, 0, 16);
    for (int i = 0; s && i < 16 && s[2 * i] && s[2 * i + 1]; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) == 1)
            id[i] = (uint8_t)v;
    }
}

static void save_one(sl_topic *t, void *arg)
{
    json_t *topics = arg;
    char id[33];
    hex_id(t->id, id);
    json_object_set_new(topics, t->name,
                        json_pack("{s:i, s:s, s:O}", "partitions", t->npart, "id", id, "configs",
                                  t->configs));
}

int sl_topics_save(sl_broker *b, char *err, size_t errlen)
{
    char path[4096], tmp[4200];
    json_t *root = json_object(), *topics = json_object();
    int fd = -1, rc = -1;
    char *text;

    sl_topics_foreach(b, save_one, topics);
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "topics", topics);
    text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(root);
    snprintf(path, sizeof(path), "%s/%s", b->dirs[0], META_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fdatasync(fd)) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path)) {
        snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = open(b->dirs[0], O_RDONLY | O_DIRECTORY);
    if (fd >= 0)
        fsync(fd);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}

/* ---------------- partitions ---------------- */

static void partition_dir(sl_broker *b, const char *topic, int32_t idx, char *out, size_t outlen)
{
    struct stat st;
    int best = 0;
    for (int i = 0; i < b->ndirs; i++) {
        snprintf(out, outlen, "%s/%s-%d", b->dirs[i], topic, idx);
        if (!stat(out, &st))
            return;
    }
    if (b->ndirs > 1) { /* fewest partition directories wins */
        long fewest = -1;
        for (int i = 0; i < b->ndirs; i++) {
            long n = 0;
            DIR *d = opendir(b->dirs[i]);
            struct dirent *de;
            while (d && (de = readdir(d)))
                if (de->d_name[0] != '.')
                    n++;
            if (d)
                closedir(d);
            if (fewest < 0 || n < fewest) {
                fewest = n;
                best = i;
            }
        }
    }
    snprintf(out, outlen, "%s/%s-%d", b->dirs[best], topic, idx);
}

static sl_partition *partition_open(sl_broker *b, sl_topic *t, int32_t idx, char *err,
                                    size_t errlen)
{
    char dir[4096];
    sl_partition *p = calloc(1, sizeof(*p));
    partition_dir(b, t->name, idx, dir, sizeof(dir));
    p->topic = t;
    p->index = idx;
    if (sl_log_open(dir, &t->logcfg, &p->log, err, errlen)) {
        free(p);
        return NULL;
    }
    if (sl_pstate_create(&p->pstate) || sl_pstate_load(p->pstate, p->log, err, errlen)) {
        if (!p->pstate)
            snprintf(err, errlen, "%s: out of memory for producer state", dir);
        sl_partition_free(p);
        return NULL;
    }
    return p;
}

void sl_partition_free(sl_partition *p)
{
    if (!p)
        return;
    if (p->deleted) {
        char err[512];
        if (sl_log_destroy_files(p->log, err, sizeof(err)))
            sl_warn(SL_BROKER_COMPONENT, "deleting partition files: %s", err);
    } else {
        sl_log_close(p->log);
    }
    sl_pstate_destroy(p->pstate);
    free(p);
}

static void topic_apply_configs(sl_broker *b, sl_topic *t)
{
    sl_broker_topic_logcfg(b, t->configs, &t->logcfg, &t->max_message_bytes, &t->log_append_time);
    for (int32_t i = 0; i < t->npart; i++)
        if (t->parts[i])
            sl_log_set_config(t->parts[i]->log, &t->logcfg);
}

static sl_topic *topic_new(sl_broker *b, const char *name, json_t *configs)
{
    sl_topic *t = calloc(1, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->configs = configs ? json_incref(configs) : json_object();
    t->internal = name[0] == '_' && name[1] == '_';
    sl_broker_topic_logcfg(b, t->configs, &t->logcfg, &t->max_message_bytes, &t->log_append_time);
    return t;
}

static int topic_open_partitions(sl_broker *b, sl_topic *t, int32_t from, int32_t to, char *err,
                                 size_t errlen)
{
    sl_partition **np = realloc(t->parts, sizeof(*np) * (size_t)to);
    if (!np) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->parts = np;
    for (int32_t i = from; i < to; i++) {
        t->parts[i] = partition_open(b, t, i, err, errlen);
        if (!t->parts[i]) {
            for (int32_t j = from; j < i; j++)
                sl_partition_free(t->parts[j]);
            return -1;
        }
    }
    t->npart = to;
    atomic_fetch_add(&sl_broker_metrics.partitions, (uint64_t)(to - from));
    return 0;
}

static void topic_free(sl_topic *t)
{
    for (int32_t i = 0; i < t->npart; i++)
        sl_partition_free(t->parts[i]);
    free(t->parts);
    json_decref(t->configs);
    free(t);
}

/* Finish deletions a crash interrupted: remove <dir>/<...>-delete. */
static void remove_deleted_dirs(sl_broker *b)
{
    for (int i = 0; i < b->ndirs; i++) {
        DIR *d = opendir(b->dirs[i]);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            size_t n = strlen(de->d_name);
            char path[4200];
            if (n < 8 || strcmp(de->d_name + n - 7, "-delete"))
                continue;
            snprintf(path, sizeof(path), "%s/%s", b->dirs[i], de->d_name);
            DIR *sub = opendir(path);
            struct dirent *f;
            while (sub && (f = readdir(sub))) {
                char fp[8400];
                if (f->d_name[0] == '.')
                    continue;
                snprintf(fp, sizeof(fp), "%s/%s", path, f->d_name);
                unlink(fp);
            }
            if (sub)
                closedir(sub);
            if (rmdir(path) == 0)
                sl_info(SL_BROKER_COMPONENT, "removed %s left by an interrupted topic deletion",
                        path);
        }
        if (d)
            closedir(d);
    }
}

int sl_topics_load(sl_broker *b, char *err, size_t errlen)
{
    char path[4096];
    json_error_t je;
    json_t *root, *topics, *v;
    const char *name;
    struct stat st;

    remove_deleted_dirs(b);
    snprintf(path, sizeof(path), "%s/%s", b->dirs[0], META_FILE);
    if (stat(path, &st) && errno == ENOENT)
        return 0; /* a new broker */
    root = json_load_file(path, 0, &je);
    if (!root) {
        snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
        return -1;
    }
    topics = json_object_get(root, "topics");
    json_object_foreach(topics, name, v)
    {
        json_int_t n = json_integer_value(json_object_get(v, "partitions"));
        sl_topic *t;
        if (n <= 0) {
            snprintf(err, errlen, "%s: topic '%s' has no partition count", path, name);
            json_decref(root);
            return -1;
        }
        t = topic_new(b, name, json_object_get(v, "configs"));
        parse_id(json_string_value(json_object_get(v, "id")), t->id);
        if (topic_open_partitions(b, t, 0, (int32_t)n, err, errlen)) {
            topic_free(t);
            json_decref(root);
            return -1;
        }
        table_insert(b, t);
        atomic_fetch_add(&sl_broker_metrics.topics, 1);
    }
    json_decref(root);
    sl_info(SL_BROKER_COMPONENT, "loaded %zu topics from %s", b->ntopics, path);
    return 0;
}

static void close_topic(sl_topic *t, void *arg)
{
    (void)arg;
    topic_free(t);
}

void sl_topics_close_all(sl_broker *b)
{
    sl_topics_foreach(b, close_topic, NULL);
    free(b->tbuckets);
    b->tbuckets = NULL;
    b->ntbuckets = b->ntopics = 0;
}

/* ---------------- admin operations ---------------- */

static int check_configs(json_t *configs, char *msg, size_t msglen)
{
    const char *k;
    json_t *v;
    json_object_foreach(configs, k, v)
    {
        int rc = sl_topics_check_config(k, json_string_value(v), msg, msglen);
        if (rc)
            return rc;
    }
    return 0;
}

int sl_topics_create(sl_broker *b, const char *name, int32_t npart, int16_t rf, json_t *configs,
                     int validate_only, char *msg, size_t msglen)
{
    char err[1024];
    sl_topic *t;
    int rc;

    msg[0] = 0;
    if (!sl_topics_valid_name(name, msg, msglen))
        return KERR_INVALID_TOPIC;
    if (sl_topics_find(b, name, strlen(name))) {
        snprintf(msg, msglen, "Topic '%s' already exists.", name);
        return KERR_TOPIC_ALREADY_EXISTS;
    }
    if (npart == -1)
        npart = (int32_t)b->conf.num_partitions;
    if (npart <= 0 || npart > 100000) {
        snprintf(msg, msglen, "Number of partitions must be larger than 0 (and at most 100000).");
        return KERR_INVALID_PARTITIONS;
    }
    if (rf != -1 && rf != 1) {
        snprintf(msg, msglen, "Replication factor: %d larger than available brokers: 1.", rf);
        return KERR_INVALID_REPLICATION_FACTOR;
    }
    if (configs && (rc = check_configs(configs, msg, msglen)))
        return rc;
    if (validate_only)
        return 0;
    t = topic_new(b, name, configs);
    if (getrandom(t->id, sizeof(t->id), 0) != (ssize_t)sizeof(t->id))
        t->id[0] = 1;
    if (topic_open_partitions(b, t, 0, npart, err, sizeof(err))) {
        snprintf(msg, msglen, "creating topic %s: %s", name, err);
        sl_error(SL_BROKER_COMPONENT, "%s", msg);
        topic_free(t);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    table_insert(b, t);
    atomic_fetch_add(&sl_broker_metrics.topics, 1);
    if (sl_topics_save(b, err, sizeof(err))) {
        snprintf(msg, msglen, "saving topic metadata: %s", err);
        sl_error(SL_BROKER_COMPONENT, "%s", msg);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    sl_info(SL_BROKER_COMPONENT, "created topic %s with %d partitions", name, npart);
    return 0;
}

int sl_topics_delete(sl_broker *b, const char *name, char *msg, size_t msglen)
{
    char err[1024];
    sl_topic *t = sl_topics_find(b, name, strlen(name));
    msg[0] = 0;
    if (!t) {
        snprintf(msg, msglen, "This server does not host this topic-partition.");
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    table_remove(b, t);
    atomic_fetch_sub(&sl_broker_metrics.topics, 1);
    atomic_fetch_sub(&sl_broker_metrics.partitions, (uint64_t)t->npart);
    if (sl_topics_save(b, err, sizeof(err)))
        sl_error(SL_BROKER_COMPONENT, "saving topic metadata: %s", err);
    for (int32_t i = 0; i < t->npart; i++) {
        sl_partition *p = t->parts[i];
        char aside[4200], rerr[512];
        uint32_t tag;
        if (getrandom(&tag, sizeof(tag), 0) != (ssize_t)sizeof(tag))
            tag = (uint32_t)sl_now_ms();
        /* moved aside at once: a topic re-created under this name gets a
         * fresh directory even while this one waits for a sync or a
         * cleaning pass; a crash before removal is finished at start-up */
        snprintf(aside, sizeof(aside), "%s.%08x-delete", sl_log_dir(p->log), tag);
        if (sl_log_rename_dir(p->log, aside, rerr, sizeof(rerr)))
            sl_warn(SL_BROKER_COMPONENT, "deleting topic %s: %s", name, rerr);
        p->deleted = 1;
        p->topic = NULL;
        sl_server_partition_gone(b, p); /* frees now or after its sync */
    }
    t->npart = 0;
    topic_free(t);
    sl_info(SL_BROKER_COMPONENT, "deleted topic %s", name);
    return 0;
}

int sl_topics_add_partitions(sl_broker *b, sl_topic *t, int32_t count, int validate_only,
                             char *msg, size_t msglen)
{
    char err[1024];
    if (count <= t->npart) {
        snprintf(msg, msglen, "Topic currently has %d partitions, which is higher than the "
                 "requested %d.", t->npart, count);
        return KERR_INVALID_PARTITIONS;
    }
    if (count > 100000) {
        snprintf(msg, msglen, "Number of partitions must be at most 100000.");
        return KERR_INVALID_PARTITIONS;
    }
    if (validate_only)
        return 0;
    if (topic_open_partitions(b, t, t->npart, count, err, sizeof(err))) {
        snprintf(msg, msglen, "adding partitions to %s: %s", t->name, err);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    if (sl_topics_save(b, err, sizeof(err)))
        sl_error(SL_BROKER_COMPONENT, "saving topic metadata: %s", err);
    sl_info(SL_BROKER_COMPONENT, "topic %s now has %d partitions", t->name, count);
    return 0;
}

/* configs: key -> string (set) or null (delete). Non-incremental replaces
 * all overrides with the given set. */
int sl_topics_set_configs(sl_broker *b, sl_topic *t, json_t *configs, int incremental,
                          int validate_only, char *msg, size_t msglen)
{
    char err[1024];
    const char *k;
    json_t *v, *next;
    int rc;

    json_object_foreach(configs, k, v)
    {
        if (json_is_null(v)) {
            const topic_key *tk;
            for (tk = topic_keys; tk->name && strcmp(tk->name, k); tk++)
                ;
            if (!tk->name) {
                snprintf(msg, msglen, "Unknown topic config name: %s", k);
                return KERR_INVALID_CONFIG;
            }
            continue;
        }
        if ((rc = sl_topics_check_config(k, json_string_value(v), msg, msglen)))
            return rc;
    }
    if (validate_only)
        return 0;
    next = incremental ? json_deep_copy(t->configs) : json_object();
    json_object_foreach(configs, k, v)
    {
        if (json_is_null(v))
            json_object_del(next, k);
        else
            json_object_set(next, k, v);
    }
    json_decref(t->configs);
    t->configs = next;
    topic_apply_configs(b, t);
    if (sl_topics_save(b, err, sizeof(err))) {
        snprintf(msg, msglen, "saving topic metadata: %s", err);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    sl_info(SL_BROKER_COMPONENT, "topic %s configs changed", t->name);
    return 0;
}

void sl_topics_describe_configs(sl_broker *b, sl_topic *t, sl_config_fn fn, void *arg)
{
    char buf[64];
    const sl_broker_conf *c = &b->conf;
    for (const topic_key *k = topic_keys; k->name; k++) {
        json_t *v = json_object_get(t->configs, k->name);
        const char *val = NULL;
        if (v) {
            fn(k->name, json_string_value(v), 0, 0, 0, k->doc, arg);
            continue;
        }
        buf[0] = 0;
        if (!strcmp(k->name, "cleanup.policy"))
            val = c->log_cleanup_policy;
        else if (!strcmp(k->name, "retention.ms"))
            snprintf(buf, sizeof(buf), "%lld", (long long)c->log_retention_ms);
        else if (!strcmp(k->name, "retention.bytes"))
            snprintf(buf, sizeof(buf), "%lld", (long long)c->log_retention_bytes);
        else if (!strcmp(k->name, "segment.bytes"))
            snprintf(buf, sizeof(buf), "%lld", (long long)c->log_segment_bytes);
        else if (!strcmp(k->name, "segment.ms"))
            snprintf(buf, sizeof(buf), "%lld", (long long)c->log_roll_ms);
        else if (!strcmp(k->name, "index.interval.bytes"))
            snprintf(buf, sizeof(buf), "%lld", (long long)c->log_index_interval_bytes);
        else if (!strcmp(k->name, "max.message.bytes"))
            snprintf(buf, sizeof(buf), "%lld", (long long)c->message_max_bytes);
        else if (!strcmp(k->name, "min.insync.replicas"))
            val = "1";
        else if (!strcmp(k->name, "message.timestamp.type"))
            val = c->log_message_timestamp_type;
        else if (!strcmp(k->name, "compression.type"))
            val = "producer";
        else if (!strcmp(k->name, "delete.retention.ms"))
            val = "86400000";
        else if (!strcmp(k->name, "min.compaction.lag.ms"))
            val = "0";
        else if (!strcmp(k->name, "max.compaction.lag.ms"))
            val = "9223372036854775807";
        else if (!strcmp(k->name, "min.cleanable.dirty.ratio"))
            val = "0.5";
        else if (!strcmp(k->name, "flush.messages"))
            snprintf(buf, sizeof(buf), "%lld", (long long)c->log_flush_interval_messages);
        else if (!strcmp(k->name, "flush.ms"))
            snprintf(buf, sizeof(buf), "%lld", (long long)c->log_flush_interval_ms);
        else if (!strcmp(k->name, "unclean.leader.election.enable") || !strcmp(k->name, "preallocate"))
            val = "false";
        else if (!strcmp(k->name, "message.timestamp.difference.max.ms"))
            val = "9223372036854775807";
        else if (!strcmp(k->name, "file.delete.delay.ms"))
            val = "60000";
        fn(k->name, val ? val : buf, 1, 0, 0, k->doc, arg);
    }
}
