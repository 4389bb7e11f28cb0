/*
 * group.c - the consumer group coordinator: Kafka's classic group protocol
 * (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups).
 *
 * State machine (as Kafka's GroupCoordinator):
 *
 *   Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
 *   CompletingRebalance --leader's SyncGroup--> Stable
 *   Stable/CompletingRebalance --join, leave, session timeout--> PreparingRebalance
 *   PreparingRebalance with no member left --> Empty;  DeleteGroups --> Dead
 *
 * A JoinGroup or SyncGroup answer that must wait is a response held in its
 * connection's queue (resp->held) and completed when the phase ends; a
 * connection that closes first tells us through sl_groups_forget_resp.
 * The first rebalance of an empty group waits group.initial.rebalance.delay.ms
 * (extended as members arrive, bounded by the rebalance timeout) so that a
 * fleet starting together gets one rebalance, as Kafka does. Static members
 * (group.instance.id) that rejoin while the group is Stable get a new member
 * id and the group's current generation: no rebalance.
 *
 * Durability: committed offsets and group metadata are records in the
 * compacted topic __consumer_offsets (offsets.topic.num.partitions, 50),
 * partition = (Java String.hashCode(group) & 0x7fffffff) % partitions, in
 * Kafka's own record formats (all big-endian, strings int16-length):
 *
 *   offset commit key    int16 version=1, string group, string topic, int32 partition
 *   offset commit value  int16 version=3, int64 offset, int32 leader_epoch,
 *                        string metadata, int64 commit_timestamp
 *   group metadata key   int16 version=2, string group
 *   group metadata value int16 version=3, string protocol_type, int32 generation,
 *                        nullable string protocol, nullable string leader,
 *                        int64 current_state_timestamp, int32 member count, then
 *                        per member: string member_id, nullable string
 *                        group_instance_id, string client_id, string client_host,
 *                        int32 rebalance_timeout, int32 session_timeout,
 *                        bytes subscription, bytes assignment
 *   a null value (tombstone) deletes the key.
 *
 * An OffsetCommit is answered after its record is fsynced (it waits for the
 * group commit cycle like a Produce). On start every partition of
 * __consumer_offsets is read to its end; groups come back Empty with their
 * generation and offsets, and their old members rejoin.
 *
 * Runs on: the broker I/O loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "crc32c.h"
#include "group.h"
#include "logging.h"

#define GRP "group"
#define OFFSETS_TOPIC "__consumer_offsets"

enum { G_EMPTY, G_PREPARING, G_COMPLETING, G_STABLE, G_DEAD };
static const char *state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable",
                                    "Dead"};

enum {
    KERR_COORDINATOR_NOT_AVAILABLE = 15,
    KERR_ILLEGAL_GENERATION = 22,
    KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    KERR_INVALID_GROUP_ID = 24,
    KERR_UNKNOWN_MEMBER_ID = 25,
    KERR_INVALID_SESSION_TIMEOUT = 26,
    KERR_REBALANCE_IN_PROGRESS = 27,
    KERR_OFFSET_METADATA_TOO_LARGE = 12,
    KERR_NON_EMPTY_GROUP = 68,
    KERR_GROUP_ID_NOT_FOUND = 69,
    KERR_FENCED_INSTANCE_ID = 82,
};

typedef struct proto {
    char *name;
    uint8_t *meta;
    int32_t len;
} proto;

typedef struct member {
    char *id;
    char *instance_id;
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    proto *protos;
    int nprotos;
    uint8_t *assignment;
    int32_t assignment_len;
    sl_resp *join_resp; /* held JoinGroup answer */
    sl_resp *sync_resp; /* held SyncGroup answer */
    uint64_t last_seen_ms;
    struct member *next;
} member;

typedef struct committed {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
} committed;

typedef struct group {
    char *id;
    int state;
    int32_t generation;
    char *protocol_type;
    char *protocol;
    char *leader;
    member *members;
    int nmembers;
    uint64_t rebalance_deadline_ms;
    uint64_t initial_deadline_ms;
    committed *offsets;
    int noffsets, capoffsets;
    struct group *next;
} group;

typedef struct groups {
    group *list;
    int ngroups;
    uv_timer_t timer;
    int32_t nparts;
} groups;

static groups G; /* one coordinator per process, owned by the loop thread */

/* ================= helpers ================= */

static char *kdup(kstr s)
{
    if (s.len < 0)
        return NULL;
    char *p = malloc((size_t)s.len + 1);
    memcpy(p, s.s, (size_t)s.len);
    p[s.len] = 0;
    return p;
}

static int streq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

int32_t sl_group_java_hash(const char *s, size_t len)
{
    uint32_t h = 0;
    for (size_t i = 0; i < len; i++)
        h = 31 * h + (uint8_t)s[i];
    return (int32_t)h;
}

static int32_t group_partition(const char *id)
{
    int32_t h = sl_group_java_hash(id, strlen(id));
    return (int32_t)((uint32_t)h & 0x7fffffff) % G.nparts;
}

static group *group_find(kstr id)
{
    for (group *g = G.list; g; g = g->next)
        if (kstr_eq(id, g->id))
            return g;
    return NULL;
}

static group *group_find_c(const char *id)
{
    kstr k = {id, (int32_t)strlen(id)};
    return group_find(k);
}

static group *group_get(const char *id)
{
    group *g = group_find_c(id);
    if (g)
        return g;
    g = calloc(1, sizeof(*g));
    g->id = strdup(id);
    g->state = G_EMPTY;
    g->next = G.list;
    G.list = g;
    G.ngroups++;
    return g;
}

static void member_free(member *m)
{
    for (int i = 0; i < m->nprotos; i++) {
        free(m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m->assignment);
    free(m);
}

static member *member_find(group *g, kstr id)
{
    for (member *m = g->members; m; m = m->next)
        if (kstr_eq(id, m->id))
            return m;
    return NULL;
}

static committed *offset_find(group *g, const char *topic, int32_t partition, int create)
{
    for (int i = 0; i < g->noffsets; i++)
        if (g->offsets[i].partition == partition && !strcmp(g->offsets[i].topic, topic))
            return &g->offsets[i];
    if (!create)
        return NULL;
    if (g->noffsets == g->capoffsets) {
        g->capoffsets = g->capoffsets ? g->capoffsets * 2 : 16;
        g->offsets = realloc(g->offsets, sizeof(*g->offsets) * (size_t)g->capoffsets);
    }
    committed *c = &g->offsets[g->noffsets++];
    memset(c, 0, sizeof(*c));
    c->topic = strdup(topic);
    c->partition = partition;
    return c;
}

static void offset_remove(group *g, const char *topic, int32_t partition)
{
    committed *c = offset_find(g, topic, partition, 0);
    if (!c)
        return;
    free(c->topic);
    free(c->metadata);
    *c = g->offsets[--g->noffsets];
}

static void group_free(group *g)
{
    while (g->members) {
        member *m = g->members;
        g->members = m->next;
        member_free(m);
    }
    for (int i = 0; i < g->noffsets; i++) {
        free(g->offsets[i].topic);
        free(g->offsets[i].metadata);
    }
    free(g->offsets);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    free(g);
}

static void group_unlink(group *g)
{
    group **pp = &G.list;
    for (; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            G.ngroups--;
            return;
        }
}

/* ================= __consumer_offsets records ================= */

static void put_str(uint8_t **p, const char *s)
{
    if (!s) {
        (*p)[0] = 0xff;
        (*p)[1] = 0xff;
        *p += 2;
        return;
    }
    size_t n = strlen(s);
    (*p)[0] = (uint8_t)(n >> 8);
    (*p)[1] = (uint8_t)n;
    memcpy(*p + 2, s, n);
    *p += 2 + n;
}

size_t sl_group_offset_key(uint8_t *out, size_t cap, const char *group, const char *topic,
                           int32_t partition)
{
    size_t need = 2 + 2 + strlen(group) + 2 + strlen(topic) + 4;
    uint8_t *p = out;
    if (need > cap)
        return 0;
    p[0] = 0;
    p[1] = 1;
    p += 2;
    put_str(&p, group);
    put_str(&p, topic);
    sl_put_be32(p, (uint32_t)partition);
    return need;
}

size_t sl_group_offset_value(uint8_t *out, size_t cap, int64_t offset, int32_t leader_epoch,
                             const char *metadata, int64_t commit_ts)
{
    const char *md = metadata ? metadata : "";
    size_t need = 2 + 8 + 4 + 2 + strlen(md) + 8;
    uint8_t *p = out;
    if (need > cap)
        return 0;
    p[0] = 0;
    p[1] = 3;
    p += 2;
    sl_put_be64(p, (uint64_t)offset);
    p += 8;
    sl_put_be32(p, (uint32_t)leader_epoch);
    p += 4;
    put_str(&p, md);
    sl_put_be64(p, (uint64_t)commit_ts);
    return need;
}

int sl_group_record_decode(const uint8_t *key, int32_t klen, const uint8_t *val, int32_t vlen,
                           sl_group_record *out)
{
    kr r;
    memset(out, 0, sizeof(*out));
    out->leader_epoch = -1;
    if (!key || klen < 2)
        return -1;
    kr_init(&r, key, (size_t)klen);
    out->key_version = kr_i16(&r);
    if (kstr_copy(kr_str(&r), out->group, sizeof(out->group)))
        return -1;
    if (out->key_version == 0 || out->key_version == 1) {
        if (kstr_copy(kr_str(&r), out->topic, sizeof(out->topic)))
            return -1;
        out->partition = kr_i32(&r);
    } else if (out->key_version != 2) {
        return -1;
    }
    if (r.err)
        return -1;
    if (!val || vlen < 0) {
        out->tombstone = 1;
        return 0;
    }
    if (out->key_version == 2) { /* group metadata: its generation survives restarts */
        kr_init(&r, val, (size_t)vlen);
        kr_i16(&r);
        kr_str(&r); /* protocol_type */
        out->generation = kr_i32(&r);
        return r.err ? -1 : 0;
    }
    kr_init(&r, val, (size_t)vlen);
    int16_t vv = kr_i16(&r);
    out->offset = kr_i64(&r);
    if (vv >= 3)
        out->leader_epoch = kr_i32(&r);
    kstr md = kr_str(&r);
    if (md.len > 0)
        kstr_copy(md, out->metadata, sizeof(out->metadata));
    out->commit_ts = kr_i64(&r);
    return r.err ? -1 : 0;
}

/* A RecordBatch v2 of n uncompressed records (keys/values given), built in
 * w and returned as (buf, len). Offsets and epoch are stamped by append. */
typedef struct rec {
    const uint8_t *key;
    int32_t klen;
    const uint8_t *val;
    int32_t vlen; /* -1: null (tombstone) */
} rec;

static void put_varint(kw *w, int64_t v)
{
    uint8_t tmp[10];
    int n = sl_varint_encode(tmp, sizeof(tmp), v);
    memcpy(kw_space(w, (size_t)n), tmp, (size_t)n);
}

static size_t varint_len(int64_t v)
{
    uint8_t tmp[10];
    return (size_t)sl_varint_encode(tmp, sizeof(tmp), v);
}

static void build_batch(kw *w, const rec *recs, int n, int64_t now)
{
    w->len = 0;
    uint8_t *h = kw_space(w, SL_BATCH_HEADER_SIZE);
    memset(h, 0, SL_BATCH_HEADER_SIZE);
    for (int i = 0; i < n; i++) {
        size_t body = 1 + varint_len(0) + varint_len(i) + varint_len(recs[i].klen) +
                      (size_t)recs[i].klen + varint_len(recs[i].vlen) +
                      (recs[i].vlen > 0 ? (size_t)recs[i].vlen : 0) + varint_len(0);
        put_varint(w, (int64_t)body);
        kw_i8(w, 0);       /* attributes */
        put_varint(w, 0);  /* timestampDelta */
        put_varint(w, i);  /* offsetDelta */
        put_varint(w, recs[i].klen);
        memcpy(kw_space(w, (size_t)recs[i].klen), recs[i].key, (size_t)recs[i].klen);
        put_varint(w, recs[i].vlen);
        if (recs[i].vlen > 0)
            memcpy(kw_space(w, (size_t)recs[i].vlen), recs[i].val, (size_t)recs[i].vlen);
        put_varint(w, 0); /* headers */
    }
    h = w->buf;
    sl_put_be64(h, 0);
    sl_put_be32(h + 8, (uint32_t)(w->len - 12));
    sl_put_be32(h + 12, 0);
    h[16] = 2;
    h[21] = 0;
    h[22] = 0; /* attributes: no codec, CreateTime */
    sl_put_be32(h + 23, (uint32_t)(n - 1));
    sl_put_be64(h + 27, (uint64_t)now);
    sl_put_be64(h + 35, (uint64_t)now);
    sl_put_be64(h + 43, (uint64_t)-1); /* producerId */
    h[51] = 0xff;
    h[52] = 0xff;                      /* producerEpoch -1 */
    sl_put_be32(h + 53, (uint32_t)-1); /* baseSequence */
    sl_put_be32(h + 57, (uint32_t)n);
    sl_put_be32(h + 17, sl_crc32c(0, h + 21, w->len - 21));
}

/* Append records for group g to its partition of __consumer_offsets.
 * Returns 0 or a Kafka error. */
static int write_records(sl_broker *b, const char *gid, const rec *recs, int n)
{
    kstr t = {OFFSETS_TOPIC, (int32_t)strlen(OFFSETS_TOPIC)};
    sl_partition *p = sl_topics_partition(b, t, group_partition(gid));
    kw w = {0};
    char err[512];
    int64_t base;
    if (!p)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    build_batch(&w, recs, n, (int64_t)sl_now_ms());
    if (sl_log_append(p->log, w.buf, w.len, p->leader_epoch, -1, &base, err, sizeof(err))) {
        sl_error(GRP, "group %s: writing to %s-%d failed: %s", gid, OFFSETS_TOPIC, p->index, err);
        kw_free(&w);
        return KERR_COORDINATOR_NOT_AVAILABLE;
    }
    kw_free(&w);
    sl_server_appended(b, p);
    return 0;
}

static void write_group_metadata(sl_broker *b, group *g, int tombstone)
{
    uint8_t key[300], *p = key;
    kw v = {0};
    key[0] = 0;
    key[1] = 2;
    p += 2;
    put_str(&p, g->id);
    if (!tombstone) {
        kw_i16(&v, 3);
        kw_str(&v, g->protocol_type ? g->protocol_type : "");
        kw_i32(&v, g->generation);
        kw_str(&v, g->protocol);
        kw_str(&v, g->leader);
        kw_i64(&v, (int64_t)sl_now_ms());
        kw_i32(&v, g->nmembers);
        for (member *m = g->members; m; m = m->next) {
            int32_t sub = 0;
            const uint8_t *subp = NULL;
            for (int i = 0; i < m->nprotos; i++)
                if (streq(m->protos[i].name, g->protocol)) {
                    subp = m->protos[i].meta;
                    sub = m->protos[i].len;
                }
            kw_str(&v, m->id);
            kw_str(&v, m->instance_id);
            kw_str(&v, m->client_id);
            kw_str(&v, m->client_host);
            kw_i32(&v, m->rebalance_timeout_ms);
            kw_i32(&v, m->session_timeout_ms);
            kw_i32(&v, sub);
            if (sub > 0)
                memcpy(kw_space(&v, (size_t)sub), subp, (size_t)sub);
            kw_i32(&v, m->assignment_len);
            if (m->assignment_len > 0)
                memcpy(kw_space(&v, (size_t)m->assignment_len), m->assignment,
                       (size_t)m->assignment_len);
        }
    }
    rec r = {key, (int32_t)(p - key), v.buf, tombstone ? -1 : (int32_t)v.len};
    write_records(b, g->id, &r, 1);
    kw_free(&v);
}

/* ================= the state machine ================= */

static void answer_join(sl_broker *b, group *g, member *m, int16_t err);
static void try_complete_join(sl_broker *b, group *g);

/* Answer m's held SyncGroup (if any) with err and, on success, its
 * assignment; the response is no longer held by the group. */
static void answer_sync(member *m, int16_t err)
{
    sl_resp *r = m->sync_resp;
    if (!r)
        return;
    m->sync_resp = NULL;
    r->held = 0;
    if (r->api_version >= 1)
        kw_i32(&r->w, 0);
    kw_i16(&r->w, err);
    int32_t len = err ? 0 : m->assignment_len;
    kw_i32(&r->w, len);
    if (len > 0)
        memcpy(kw_space(&r->w, (size_t)len), m->assignment, (size_t)len);
    sl_resp_finish(r);
    sl_resp_ready(r);
}

static void fail_sync_waiters(group *g, int16_t err)
{
    for (member *m = g->members; m; m = m->next)
        answer_sync(m, err);
}

static uint64_t max_rebalance_timeout(group *g)
{
    int32_t t = 0;
    for (member *m = g->members; m; m = m->next)
        if (m->rebalance_timeout_ms > t)
            t = m->rebalance_timeout_ms;
    return (uint64_t)(t > 0 ? t : 60000);
}

static void prepare_rebalance(sl_broker *b, group *g, const char *why)
{
    uint64_t now = sl_now_ms();
    if (g->state == G_PREPARING)
        return;
    fail_sync_waiters(g, KERR_REBALANCE_IN_PROGRESS);
    if (g->state == G_EMPTY) {
        uint64_t delay = (uint64_t)b->conf.group_initial_rebalance_delay_ms;
        g->initial_deadline_ms = now + delay;
    } else {
        g->initial_deadline_ms = 0;
    }
    g->state = G_PREPARING;
    g->rebalance_deadline_ms = now + max_rebalance_timeout(g);
    sl_info(GRP, "group %s: preparing to rebalance (generation %d): %s", g->id, g->generation, why);
}

static void remove_member(sl_broker *b, group *g, member *m, const char *why)
{
    member **pp = &g->members;
    for (; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    g->nmembers--;
    if (m->join_resp) {
        answer_join(b, g, m, KERR_UNKNOWN_MEMBER_ID);
    }
    answer_sync(m, KERR_UNKNOWN_MEMBER_ID);
    sl_info(GRP, "group %s: member %s left: %s", g->id, m->id, why);
    if (streq(g->leader, m->id)) {
        free(g->leader);
        g->leader = NULL;
    }
    member_free(m);
    if (g->nmembers == 0) {
        g->state = G_EMPTY;
        g->generation++;
        free(g->protocol);
        g->protocol = NULL;
        write_group_metadata(b, g, 0);
        sl_info(GRP, "group %s: now Empty (generation %d)", g->id, g->generation);
        return;
    }
    if (g->state == G_PREPARING)
        try_complete_join(b, g);
    else
        prepare_rebalance(b, g, "a member left");
}

/* The protocol every member supports with the most first-choice votes. */
static const char *select_protocol(group *g)
{
    const char *best = NULL;
    int best_votes = -1;
    member *first = g->members;
    if (!first)
        return NULL;
    for (int i = 0; i < first->nprotos; i++) {
        const char *cand = first->protos[i].name;
        int all = 1;
        for (member *m = g->members; m && all; m = m->next) {
            int has = 0;
            for (int j = 0; j < m->nprotos && !has; j++)
                has = streq(m->protos[j].name, cand);
            all = has;
        }
        if (!all)
            continue;
        int votes = 0;
        for (member *m = g->members; m; m = m->next)
            for (int j = 0; j < m->nprotos; j++) {
                if (streq(m->protos[j].name, cand)) {
                    votes += j == 0 ? 2 : 1;
                    break;
                }
            }
        if (votes > best_votes) {
            best_votes = votes;
            best = cand;
        }
    }
    return best;
}

static void answer_join(sl_broker *b, group *g, member *m, int16_t err)
{
    sl_resp *r = m->join_resp;
    int v;
    kw *w;
    if (!r)
        return;
    m->join_resp = NULL;
    r->held = 0;
    v = r->api_version;
    w = &r->w;
    if (v >= 2)
        kw_i32(w, 0);
    kw_i16(w, err);
    kw_i32(w, err ? -1 : g->generation);
    kw_str(w, err ? "" : (g->protocol ? g->protocol : ""));
    kw_str(w, err ? "" : (g->leader ? g->leader : ""));
    kw_str(w, err ? "" : m->id);
    if (!err && streq(g->leader, m->id)) {
        kw_i32(w, g->nmembers);
        for (member *x = g->members; x; x = x->next) {
            const proto *pr = NULL;
            for (int i = 0; i < x->nprotos; i++)
                if (streq(x->protos[i].name, g->protocol))
                    pr = &x->protos[i];
            kw_str(w, x->id);
            if (v >= 5)
                kw_str(w, x->instance_id);
            kw_i32(w, pr ? pr->len : 0);
            if (pr && pr->len > 0)
                memcpy(kw_space(w, (size_t)pr->len), pr->meta, (size_t)pr->len);
        }
    } else {
        kw_i32(w, 0);
    }
    sl_resp_finish(r);
    sl_resp_ready(r);
}

static void try_complete_join(sl_broker *b, group *g)
{
    uint64_t now = sl_now_ms();
    int all = 1, any = 0;
    if (g->state != G_PREPARING)
        return;
    for (member *m = g->members; m; m = m->next) {
        if (m->join_resp)
            any = 1;
        else
            all = 0;
    }
    if (g->initial_deadline_ms && now < g->initial_deadline_ms)
        return;
    if (!all && now < g->rebalance_deadline_ms)
        return;
    /* members that did not rejoin in time are out */
    for (member *m = g->members, *next; m; m = next) {
        next = m->next;
        if (!m->join_resp) {
            member **pp = &g->members;
            for (; *pp; pp = &(*pp)->next)
                if (*pp == m) {
                    *pp = m->next;
                    break;
                }
            g->nmembers--;
            sl_info(GRP, "group %s: member %s did not rejoin in time", g->id, m->id);
            if (streq(g->leader, m->id)) {
                free(g->leader);
                g->leader = NULL;
            }
            member_free(m);
        }
    }
    if (!any || !g->members) {
        g->state = G_EMPTY;
        g->generation++;
        write_group_metadata(b, g, 0);
        return;
    }
    const char *proto_name = select_protocol(g);
    if (!proto_name) {
        for (member *m = g->members; m; m = m->next)
            answer_join(b, g, m, KERR_INCONSISTENT_GROUP_PROTOCOL);
        g->state = G_EMPTY;
        return;
    }
    free(g->protocol);
    g->protocol = strdup(proto_name);
    if (!g->leader)
        g->leader = strdup(g->members->id);
    g->generation++;
    g->state = G_COMPLETING;
    g->initial_deadline_ms = 0;
    for (member *m = g->members; m; m = m->next) {
        m->last_seen_ms = now;
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
    }
    sl_info(GRP, "group %s: generation %d with %d member(s), protocol %s, leader %s", g->id,
            g->generation, g->nmembers, g->protocol, g->leader);
    for (member *m = g->members; m; m = m->next)
        answer_join(b, g, m, KERR_NONE);
}

static void on_group_timer(uv_timer_t *t)
{
    sl_broker *b = t->data;
    uint64_t now = sl_now_ms();
    for (group *g = G.list; g; g = g->next) {
        if (g->state == G_PREPARING) {
            /* a member that neither rejoined nor heartbeats is gone (Kafka
             * keeps only members awaiting join or sync alive) */
            for (member *m = g->members, *next; m; m = next) {
                next = m->next;
                if (!m->join_resp && now > m->last_seen_ms + (uint64_t)m->session_timeout_ms) {
                    remove_member(b, g, m, "session timeout during rebalance");
                    break;
                }
            }
            if (g->state == G_PREPARING)
                try_complete_join(b, g);
            continue;
        }
        if (g->state != G_STABLE && g->state != G_COMPLETING)
            continue;
        for (member *m = g->members, *next; m; m = next) {
            next = m->next;
            if (!m->sync_resp && now > m->last_seen_ms + (uint64_t)m->session_timeout_ms) {
                remove_member(b, g, m, "session timeout");
                break; /* the member list changed; the next tick goes on */
            }
        }
    }
}

void sl_groups_forget_resp(sl_broker *b, sl_resp *r)
{
    for (group *g = G.list; g; g = g->next)
        for (member *m = g->members; m; m = m->next) {
            if (m->join_resp == r)
                m->join_resp = NULL;
            if (m->sync_resp == r)
                m->sync_resp = NULL;
        }
}

/* ================= start-up: reload __consumer_offsets ================= */

static void apply_record(sl_group_record *gr)
{
    group *g = group_get(gr->group);
    if (gr->key_version == 2) {
        if (gr->tombstone && !g->noffsets) {
            group_unlink(g);
            group_free(g);
        } else if (!gr->tombstone) {
            g->generation = gr->generation;
        }
        return;
    }
    if (gr->tombstone) {
        offset_remove(g, gr->topic, gr->partition);
        return;
    }
    committed *c = offset_find(g, gr->topic, gr->partition, 1);
    c->offset = gr->offset;
    c->leader_epoch = gr->leader_epoch;
    free(c->metadata);
    c->metadata = strdup(gr->metadata);
}

static int load_batch(uint8_t *p, size_t len, void *arg)
{
    int64_t *count = arg;
    int n = (int32_t)sl_be32(p + 57);
    size_t off = SL_BATCH_HEADER_SIZE;
    if (((p[21] << 8 | p[22]) & (SL_BATCH_ATTR_CODEC_MASK | SL_BATCH_ATTR_CONTROL)) != 0)
        /* compressed or control: the coordinator never writes those */
        return 0;
    for (int i = 0; i < n; i++) {
        int64_t rl, x, kl, vl;
        int k;
        if ((k = sl_varint_decode(p + off, len - off, &rl)) < 0 || rl < 0 ||
            (size_t)rl > len - off - (size_t)k)
            return 0;
        size_t r = off + (size_t)k + 1, end = off + (size_t)k + (size_t)rl;
        off = end;
        if ((k = sl_varint_decode(p + r, end - r, &x)) < 0) /* timestampDelta */
            continue;
        r += (size_t)k;
        if ((k = sl_varint_decode(p + r, end - r, &x)) < 0) /* offsetDelta */
            continue;
        r += (size_t)k;
        if ((k = sl_varint_decode(p + r, end - r, &kl)) < 0 || kl < 0 || (size_t)kl > end - r - (size_t)k)
            continue;
        r += (size_t)k;
        const uint8_t *key = p + r;
        r += (size_t)kl;
        if ((k = sl_varint_decode(p + r, end - r, &vl)) < 0 || (vl >= 0 && (size_t)vl > end - r - (size_t)k))
            continue;
        r += (size_t)k;
        sl_group_record gr;
        if (sl_group_record_decode(key, (int32_t)kl, vl >= 0 ? p + r : NULL, (int32_t)vl, &gr) == 0) {
            apply_record(&gr);
            (*count)++;
        }
    }
    return 0;
}

static int load_partition(sl_partition *p, int64_t *count, char *err, size_t errlen)
{
    int64_t off = sl_log_start_offset(p->log), end = sl_log_end_offset(p->log);
    uint8_t *buf = NULL;
    size_t cap = 0;
    while (off < end) {
        sl_log_slice sl;
        if (sl_log_read(p->log, off, end, 1 << 20, 1, &sl, err, errlen))
            goto fail;
        if (sl.len <= 0) {
            if (sl.fd >= 0)
                close(sl.fd);
            break;
        }
        if ((size_t)sl.len > cap) {
            cap = (size_t)sl.len;
            buf = realloc(buf, cap);
        }
        ssize_t n = pread(sl.fd, buf, (size_t)sl.len, sl.pos);
        close(sl.fd);
        if (n != sl.len) {
            snprintf(err, errlen, "%s: short read at %lld", sl_log_dir(p->log), (long long)sl.pos);
            goto fail;
        }
        /* walk the batches; the last one tells the next offset */
        size_t pos = 0;
        int64_t next = off;
        while (pos + SL_BATCH_HEADER_SIZE <= (size_t)n) {
            int64_t base = (int64_t)sl_be64(buf + pos);
            int32_t blen = (int32_t)sl_be32(buf + pos + 8);
            int32_t lod = (int32_t)sl_be32(buf + pos + 23);
            size_t total = 12 + (size_t)blen;
            if (blen < 49 || pos + total > (size_t)n)
                break;
            load_batch(buf + pos, total, count);
            next = base + lod + 1;
            pos += total;
        }
        if (next <= off)
            break;
        off = next;
    }
    free(buf);
    return 0;
fail:
    free(buf);
    return -1;
}

int sl_groups_start(sl_broker *b, char *err, size_t errlen)
{
    char msg[512];
    int64_t count = 0;
    sl_topic *t = sl_topics_find(b, OFFSETS_TOPIC, strlen(OFFSETS_TOPIC));
    if (!t) {
        json_t *cfg = json_pack("{s:s, s:s}", "cleanup.policy", "compact", "segment.bytes",
                                "104857600");
        int rc = sl_topics_create(b, OFFSETS_TOPIC, (int32_t)b->conf.offsets_topic_num_partitions,
                                  1, cfg, 0, msg, sizeof(msg));
        json_decref(cfg);
        if (rc) {
            snprintf(err, errlen, "creating %s: %s", OFFSETS_TOPIC, msg);
            return -1;
        }
        t = sl_topics_find(b, OFFSETS_TOPIC, strlen(OFFSETS_TOPIC));
    }
    G.nparts = t->npart;
    for (int32_t i = 0; i < t->npart; i++)
        if (load_partition(t->parts[i], &count, err, errlen))
            return -1;
    for (group *g = G.list; g; g = g->next)
        g->state = G_EMPTY;
    sl_info(GRP, "loaded %d group(s) from %lld record(s) of %s", G.ngroups, (long long)count,
            OFFSETS_TOPIC);
    uv_timer_init(b->loop, &G.timer);
    G.timer.data = b;
    uv_timer_start(&G.timer, on_group_timer, 100, 100);
    return 0;
}

void sl_groups_stop(sl_broker *b)
{
    (void)b;
    if (uv_is_active((uv_handle_t *)&G.timer) || G.timer.data)
        uv_close((uv_handle_t *)&G.timer, NULL);
    G.timer.data = NULL;
}

static void groups_free_all(void) __attribute__((destructor));
static void groups_free_all(void)
{
    while (G.list) {
        group *g = G.list;
        G.list = g->next;
        group_free(g);
    }
}

/* ================= handlers ================= */

static int h_done(sl_resp *r)
{
    sl_resp_finish(r);
    sl_resp_ready(r);
    return 0;
}

int sl_group_find_coordinator(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    kr_str(r); /* key */
    if (v >= 1)
        kr_i8(r); /* key_type: groups and transactions both live here */
    if (r->err)
        return -1;
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    if (v >= 1)
        kw_i32(w, 0);
    kw_i16(w, KERR_NONE);
    if (v >= 1)
        kw_str(w, NULL);
    kw_i32(w, (int32_t)b->conf.node_id);
    /* the address of the listener the client came in on (an SSL client
     * told a PLAINTEXT port would move there and fail) */
    kw_str(w, c->listener->adv_host);
    kw_i32(w, c->listener->adv_port);
    return h_done(resp);
}

static sl_resp *held(sl_conn *c, const sl_request *req)
{
    sl_resp *r = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    r->held = 1;
    return r;
}

static void new_member_id(char *out, size_t len, const char *client_id)
{
    uint8_t u[16];
    if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u))
        memset(u, 7, sizeof(u));
    snprintf(out, len, "%s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             client_id && *client_id ? client_id : "member", u[0], u[1], u[2], u[3], u[4], u[5],
             u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

int sl_group_join(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    kstr gid = kr_str(r);
    int32_t session = kr_i32(r);
    int32_t rebalance = v >= 1 ? kr_i32(r) : session;
    kstr mid = kr_str(r);
    kstr iid = v >= 5 ? kr_str(r) : (kstr){NULL, -1};
    kstr ptype = kr_str(r);
    int32_t np = kr_array(r, 6);
    proto *protos = np > 0 ? calloc((size_t)np, sizeof(proto)) : NULL;
    for (int32_t i = 0; i < np && !r->err; i++) {
        protos[i].name = kdup(kr_str(r));
        int32_t len;
        const uint8_t *meta = kr_bytes(r, &len);
        protos[i].len = len > 0 ? len : 0;
        if (len > 0) {
            protos[i].meta = malloc((size_t)len);
            memcpy(protos[i].meta, meta, (size_t)len);
        }
    }
    int16_t err = KERR_NONE;
    sl_resp *resp = NULL;
    group *g = NULL;
    member *m = NULL;
    if (r->err)
        goto fail_parse;
    resp = held(c, req);
    if (gid.len <= 0)
        err = KERR_INVALID_GROUP_ID;
    else if (session < b->conf.group_min_session_timeout_ms ||
             session > b->conf.group_max_session_timeout_ms)
        err = KERR_INVALID_SESSION_TIMEOUT;
    else if (np <= 0 || ptype.len <= 0)
        err = KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (!err) {
        char *id = kdup(gid);
        g = group_get(id);
        free(id);
        if (g->protocol_type && g->nmembers && !kstr_eq(ptype, g->protocol_type))
            err = KERR_INCONSISTENT_GROUP_PROTOCOL;
        else if (g->state == G_DEAD)
            err = KERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (!err && mid.len > 0) {
        m = member_find(g, mid);
        if (!m && iid.len > 0) {
            for (member *x = g->members; x && !m; x = x->next)
                if (kstr_eq(iid, x->instance_id))
                    err = KERR_FENCED_INSTANCE_ID;
        }
        if (!m && !err)
            err = KERR_UNKNOWN_MEMBER_ID;
    }
    if (err) {
        for (int32_t i = 0; i < np; i++) {
            free(protos[i].name);
            free(protos[i].meta);
        }
        free(protos);
        resp->held = 0;
        if (v >= 2)
            kw_i32(&resp->w, 0);
        kw_i16(&resp->w, err);
        kw_i32(&resp->w, -1);
        kw_str(&resp->w, "");
        kw_str(&resp->w, "");
        kw_kstr(&resp->w, mid.len >= 0 ? mid : (kstr){"", 0});
        kw_i32(&resp->w, 0);
        return h_done(resp);
    }
    if (!g->protocol_type) {
        g->protocol_type = kdup(ptype);
    }
    uint64_t now = sl_now_ms();
    int is_new = !m;
    /* static member coming back under a new instance of the process */
    if (!m && iid.len > 0) {
        for (member *x = g->members; x; x = x->next)
            if (kstr_eq(iid, x->instance_id)) {
                m = x;
                break;
            }
        if (m) {
            char nid[300];
            new_member_id(nid, sizeof(nid), m->client_id);
            int was_leader = streq(g->leader, m->id);
            sl_info(GRP, "group %s: static member %s rejoined as %s", g->id, m->instance_id, nid);
            if (m->join_resp)
                answer_join(b, g, m, KERR_FENCED_INSTANCE_ID);
            free(m->id);
            m->id = strdup(nid);
            if (was_leader) {
                free(g->leader);
                g->leader = strdup(nid);
            }
            m->last_seen_ms = now;
            if (g->state == G_STABLE || g->state == G_COMPLETING) {
                /* no rebalance: current generation and (if leader) members */
                for (int32_t i = 0; i < np; i++) {
                    free(protos[i].name);
                    free(protos[i].meta);
                }
                free(protos);
                m->join_resp = resp;
                answer_join(b, g, m, KERR_NONE);
                return 0;
            }
            is_new = 0;
        }
    }
    if (!m) {
        char nid[300];
        m = calloc(1, sizeof(*m));
        new_member_id(nid, sizeof(nid), NULL);
        if (req->client_id.len > 0) {
            char *cid = kdup(req->client_id);
            new_member_id(nid, sizeof(nid), cid);
            m->client_id = cid;
        } else {
            m->client_id = strdup("");
        }
        m->id = strdup(nid);
        m->instance_id = kdup(iid);
        char host[80];
        snprintf(host, sizeof(host), "/%s", c->peer);
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = 0; /* Kafka shows "/127.0.0.1", no port */
        m->client_host = strdup(host);
        m->next = NULL;
        member **pp = &g->members;
        while (*pp)
            pp = &(*pp)->next;
        *pp = m;
        g->nmembers++;
    }
    for (int i = 0; i < m->nprotos; i++) {
        free(m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    m->protos = protos;
    m->nprotos = np;
    m->session_timeout_ms = session;
    m->rebalance_timeout_ms = rebalance;
    m->last_seen_ms = now;
    if (m->join_resp) /* a duplicate join: answer the older one as superseded */
        answer_join(b, g, m, KERR_REBALANCE_IN_PROGRESS);
    m->join_resp = resp;
    if (g->state != G_PREPARING)
        prepare_rebalance(b, g, is_new ? "a new member joined" : "a member rejoined");
    else if (g->initial_deadline_ms && is_new) {
        uint64_t ext = now + (uint64_t)b->conf.group_initial_rebalance_delay_ms;
        if (ext > g->rebalance_deadline_ms)
            ext = g->rebalance_deadline_ms;
        if (ext > g->initial_deadline_ms)
            g->initial_deadline_ms = ext;
    }
    try_complete_join(b, g);
    return 0;
fail_parse:
    for (int32_t i = 0; i < np; i++) {
        free(protos[i].name);
        free(protos[i].meta);
    }
    free(protos);
    return -1;
}

/* Check generation and member of a request against the group. */
static int16_t check_member(group *g, kstr mid, int32_t gen, member **out)
{
    member *m;
    *out = NULL;
    if (!g || g->state == G_DEAD)
        return KERR_UNKNOWN_MEMBER_ID;
    m = member_find(g, mid);
    if (!m)
        return KERR_UNKNOWN_MEMBER_ID;
    *out = m;
    if (gen != g->generation)
        return KERR_ILLEGAL_GENERATION;
    return KERR_NONE;
}

int sl_group_sync(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    kstr gid = kr_str(r);
    int32_t gen = kr_i32(r);
    kstr mid = kr_str(r);
    if (v >= 3)
        kr_str(r); /* group_instance_id */
    const uint8_t *assign_start = r->p;
    int32_t na = kr_array(r, 6);
    for (int32_t i = 0; i < na && !r->err; i++) {
        int32_t len;
        kr_str(r);
        kr_bytes(r, &len);
    }
    if (r->err)
        return -1;
    group *g = gid.len > 0 ? group_find(gid) : NULL;
    member *m;
    int16_t err = check_member(g, mid, gen, &m);
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    if (!err && g->state == G_PREPARING)
        err = KERR_REBALANCE_IN_PROGRESS;
    if (m)
        m->last_seen_ms = sl_now_ms();
    if (err) {
        if (v >= 1)
            kw_i32(&resp->w, 0);
        kw_i16(&resp->w, err);
        kw_i32(&resp->w, 0);
        return h_done(resp);
    }
    if (g->state == G_STABLE) {
        if (v >= 1)
            kw_i32(&resp->w, 0);
        kw_i16(&resp->w, KERR_NONE);
        kw_i32(&resp->w, m->assignment_len);
        if (m->assignment_len > 0)
            memcpy(kw_space(&resp->w, (size_t)m->assignment_len), m->assignment,
                   (size_t)m->assignment_len);
        return h_done(resp);
    }
    /* CompletingRebalance: hold until the leader's assignment arrives */
    resp->held = 1;
    answer_sync(m, KERR_REBALANCE_IN_PROGRESS); /* a repeated SyncGroup supersedes */
    m->sync_resp = resp;
    if (!streq(g->leader, m->id))
        return 0;
    kr ar;
    kr_init(&ar, assign_start, (size_t)(r->p - assign_start));
    na = kr_array(&ar, 6);
    for (int32_t i = 0; i < na; i++) {
        kstr who = kr_str(&ar);
        int32_t len;
        const uint8_t *a = kr_bytes(&ar, &len);
        member *x = member_find(g, who);
        if (!x)
            continue;
        free(x->assignment);
        x->assignment = NULL;
        x->assignment_len = len > 0 ? len : 0;
        if (len > 0) {
            x->assignment = malloc((size_t)len);
            memcpy(x->assignment, a, (size_t)len);
        }
    }
    g->state = G_STABLE;
    write_group_metadata(b, g, 0);
    sl_info(GRP, "group %s: stable at generation %d with %d member(s)", g->id, g->generation,
            g->nmembers);
    for (member *x = g->members; x; x = x->next)
        answer_sync(x, KERR_NONE);
    return 0;
}

int sl_group_heartbeat(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    kstr gid = kr_str(r);
    int32_t gen = kr_i32(r);
    kstr mid = kr_str(r);
    if (v >= 3)
        kr_str(r);
    if (r->err)
        return -1;
    group *g = gid.len > 0 ? group_find(gid) : NULL;
    member *m;
    int16_t err = check_member(g, mid, gen, &m);
    if (m)
        m->last_seen_ms = sl_now_ms();
    if (!err && (g->state == G_PREPARING))
        err = KERR_REBALANCE_IN_PROGRESS;
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    if (v >= 1)
        kw_i32(&resp->w, 0);
    kw_i16(&resp->w, err);
    return h_done(resp);
}

int sl_group_leave(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    kstr gid = kr_str(r);
    group *g;
    sl_resp *resp;
    if (v <= 2) {
        kstr mid = kr_str(r);
        if (r->err)
            return -1;
        g = gid.len > 0 ? group_find(gid) : NULL;
        member *m = g ? member_find(g, mid) : NULL;
        resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
        if (v >= 1)
            kw_i32(&resp->w, 0);
        kw_i16(&resp->w, m ? KERR_NONE : KERR_UNKNOWN_MEMBER_ID);
        if (m)
            remove_member(b, g, m, "LeaveGroup");
        return h_done(resp);
    }
    int32_t n = kr_array(r, 4);
    kstr *ids = n > 0 ? calloc((size_t)n * 2, sizeof(kstr)) : NULL;
    for (int32_t i = 0; i < n && !r->err; i++) {
        ids[2 * i] = kr_str(r);
        ids[2 * i + 1] = kr_str(r);
    }
    if (r->err) {
        free(ids);
        return -1;
    }
    g = gid.len > 0 ? group_find(gid) : NULL;
    resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw_i32(&resp->w, 0);
    kw_i16(&resp->w, g ? KERR_NONE : KERR_UNKNOWN_MEMBER_ID);
    kw_i32(&resp->w, n);
    for (int32_t i = 0; i < n; i++) {
        member *m = NULL;
        if (g) {
            m = ids[2 * i].len > 0 ? member_find(g, ids[2 * i]) : NULL;
            for (member *x = g->members; !m && x && ids[2 * i + 1].len > 0; x = x->next)
                if (kstr_eq(ids[2 * i + 1], x->instance_id))
                    m = x;
        }
        kw_kstr(&resp->w, ids[2 * i]);
        kw_kstr(&resp->w, ids[2 * i + 1]);
        kw_i16(&resp->w, m ? KERR_NONE : KERR_UNKNOWN_MEMBER_ID);
        if (m)
            remove_member(b, g, m, "LeaveGroup");
    }
    free(ids);
    return h_done(resp);
}

/* Write a run of commit records; when the write fails, every partition in
 * it is answered with the error instead of success (the offsets stay in
 * memory but were never durable: the client retries). */
static void commit_flush(sl_broker *b, const char *gid, const rec *recs, const size_t *errpos,
                         int n, kw *w, int *wrote)
{
    int err = write_records(b, gid, recs, n);
    if (!err) {
        *wrote = 1;
        return;
    }
    for (int i = 0; i < n; i++) {
        w->buf[errpos[i]] = (uint8_t)(err >> 8);
        w->buf[errpos[i] + 1] = (uint8_t)err;
    }
}

int sl_group_offset_commit(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    kstr gid = kr_str(r);
    int32_t gen = -1;
    kstr mid = {"", 0};
    if (v >= 1) {
        gen = kr_i32(r);
        mid = kr_str(r);
    }
    if (v >= 7)
        kr_str(r); /* group_instance_id */
    if (v >= 2 && v <= 4)
        kr_i64(r); /* retention_time_ms */
    /* validate the rest */
    {
        kr t = *r;
        int32_t nt = kr_array(&t, 6);
        for (int32_t i = 0; i < nt && !t.err; i++) {
            kr_str(&t);
            int32_t np = kr_array(&t, 14);
            for (int32_t j = 0; j < np && !t.err; j++) {
                kr_i32(&t);
                kr_i64(&t);
                if (v >= 6)
                    kr_i32(&t);
                if (v == 1)
                    kr_i64(&t);
                kr_str(&t);
            }
        }
        if (t.err || r->err)
            return -1;
    }
    group *g = gid.len > 0 ? group_find(gid) : NULL;
    int16_t gerr = KERR_NONE;
    char *gname = kdup(gid);
    if (gid.len <= 0)
        gerr = KERR_INVALID_GROUP_ID;
    else if (gen < 0 && mid.len <= 0) {
        /* a simple (standalone) consumer's commit: allowed unless the
         * group has live members */
        if (g && g->nmembers)
            gerr = KERR_UNKNOWN_MEMBER_ID;
    } else {
        member *m;
        gerr = check_member(g, mid, gen, &m);
        if (m)
            m->last_seen_ms = sl_now_ms();
        if (!gerr && g->state == G_COMPLETING)
            gerr = KERR_REBALANCE_IN_PROGRESS;
    }
    if (!gerr && !g)
        g = group_get(gname);
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    if (v >= 3)
        kw_i32(w, 0);
    int32_t nt = kr_array(r, 6);
    kw_i32(w, nt);
    int wrote = 0;
    rec recs[64];
    uint8_t keys[64][600], vals[64][300];
    size_t errpos[64]; /* where each batched partition's error code sits in w */
    int nrec = 0;
    for (int32_t i = 0; i < nt; i++) {
        kstr topic = kr_str(r);
        char tname[256];
        int32_t np = kr_array(r, 14);
        int bad_topic = kstr_copy(topic, tname, sizeof(tname));
        kw_kstr(w, topic);
        kw_i32(w, np);
        for (int32_t j = 0; j < np; j++) {
            int32_t idx = kr_i32(r);
            int64_t off = kr_i64(r);
            int32_t epoch = v >= 6 ? kr_i32(r) : -1;
            if (v == 1)
                kr_i64(r);
            kstr md = kr_str(r);
            int16_t err = gerr;
            char mdbuf[256] = "";
            if (!err && bad_topic)
                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (!err && md.len >= (int32_t)sizeof(mdbuf))
                err = KERR_OFFSET_METADATA_TOO_LARGE;
            if (!err) {
                if (md.len > 0)
                    kstr_copy(md, mdbuf, sizeof(mdbuf));
                committed *cm = offset_find(g, tname, idx, 1);
                cm->offset = off;
                cm->leader_epoch = epoch;
                free(cm->metadata);
                cm->metadata = strdup(mdbuf);
                size_t kl = sl_group_offset_key(keys[nrec], sizeof(keys[0]), g->id, tname, idx);
                size_t vl = sl_group_offset_value(vals[nrec], sizeof(vals[0]), off, epoch, mdbuf,
                                                  (int64_t)sl_now_ms());
                recs[nrec] = (rec){keys[nrec], (int32_t)kl, vals[nrec], (int32_t)vl};
                errpos[nrec] = w->len + 4;
            }
            kw_i32(w, idx);
            kw_i16(w, err);
            if (!err && ++nrec == 64) {
                commit_flush(b, g->id, recs, errpos, nrec, w, &wrote);
                nrec = 0;
            }
        }
    }
    if (nrec)
        commit_flush(b, g->id, recs, errpos, nrec, w, &wrote);
    free(gname);
    sl_resp_finish(resp);
    sl_resp_answer_appended(resp, wrote);
    return 0;
}

int sl_group_offset_fetch(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    kstr gid = kr_str(r);
    const uint8_t *tstart = r->p;
    int32_t nt = kr_array(r, 6);
    for (int32_t i = 0; i < nt && !r->err; i++) {
        kr_str(r);
        int32_t np = kr_array(r, 4);
        for (int32_t j = 0; j < np && !r->err; j++)
            kr_i32(r);
    }
    if (r->err)
        return -1;
    group *g = gid.len > 0 ? group_find(gid) : NULL;
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    if (v >= 3)
        kw_i32(w, 0);
    if (nt < 0) { /* all committed offsets of the group (v>=2) */
        /* group by topic */
        int n = g ? g->noffsets : 0;
        char **seen = n ? calloc((size_t)n, sizeof(char *)) : NULL;
        int ns = 0;
        for (int i = 0; i < n; i++) {
            int dup = 0;
            for (int k = 0; k < ns && !dup; k++)
                dup = !strcmp(seen[k], g->offsets[i].topic);
            if (!dup)
                seen[ns++] = g->offsets[i].topic;
        }
        kw_i32(w, ns);
        for (int k = 0; k < ns; k++) {
            kw_str(w, seen[k]);
            size_t at = w->len;
            int32_t cnt = 0;
            kw_i32(w, 0);
            for (int i = 0; i < n; i++) {
                committed *cm = &g->offsets[i];
                if (strcmp(cm->topic, seen[k]))
                    continue;
                kw_i32(w, cm->partition);
                kw_i64(w, cm->offset);
                if (v >= 5)
                    kw_i32(w, cm->leader_epoch);
                kw_str(w, cm->metadata ? cm->metadata : "");
                kw_i16(w, KERR_NONE);
                cnt++;
            }
            kw_put_i32_at(w, at, cnt);
        }
        free(seen);
    } else {
        kr t;
        kr_init(&t, tstart, (size_t)(r->p - tstart));
        nt = kr_array(&t, 6);
        kw_i32(w, nt);
        for (int32_t i = 0; i < nt; i++) {
            kstr topic = kr_str(&t);
            char tname[256] = "";
            kstr_copy(topic, tname, sizeof(tname));
            int32_t np = kr_array(&t, 4);
            kw_kstr(w, topic);
            kw_i32(w, np);
            for (int32_t j = 0; j < np; j++) {
                int32_t idx = kr_i32(&t);
                committed *cm = g ? offset_find(g, tname, idx, 0) : NULL;
                kw_i32(w, idx);
                kw_i64(w, cm ? cm->offset : -1);
                if (v >= 5)
                    kw_i32(w, cm ? cm->leader_epoch : -1);
                kw_str(w, cm && cm->metadata ? cm->metadata : "");
                kw_i16(w, KERR_NONE);
            }
        }
    }
    if (v >= 2)
        kw_i16(w, gid.len > 0 ? KERR_NONE : KERR_INVALID_GROUP_ID);
    return h_done(resp);
}

int sl_group_list(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    if (v >= 1)
        kw_i32(w, 0);
    kw_i16(w, KERR_NONE);
    kw_i32(w, G.ngroups);
    for (group *g = G.list; g; g = g->next) {
        kw_str(w, g->id);
        kw_str(w, g->protocol_type ? g->protocol_type : "consumer");
    }
    return h_done(resp);
}

int sl_group_describe(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    int32_t n = kr_array(r, 2);
    kstr *ids = n > 0 ? calloc((size_t)n, sizeof(kstr)) : NULL;
    for (int32_t i = 0; i < n && !r->err; i++)
        ids[i] = kr_str(r);
    if (v >= 3)
        kr_i8(r);
    if (r->err) {
        free(ids);
        return -1;
    }
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    if (v >= 1)
        kw_i32(w, 0);
    kw_i32(w, n);
    for (int32_t i = 0; i < n; i++) {
        group *g = ids[i].len > 0 ? group_find(ids[i]) : NULL;
        kw_i16(w, ids[i].len > 0 ? KERR_NONE : KERR_INVALID_GROUP_ID);
        kw_kstr(w, ids[i]);
        kw_str(w, state_names[g ? g->state : G_DEAD]);
        kw_str(w, g && g->protocol_type ? g->protocol_type : "");
        kw_str(w, g && g->protocol && g->state != G_PREPARING ? g->protocol : "");
        kw_i32(w, g ? g->nmembers : 0);
        for (member *m = g ? g->members : NULL; m; m = m->next) {
            const proto *pr = NULL;
            for (int k = 0; k < m->nprotos; k++)
                if (streq(m->protos[k].name, g->protocol))
                    pr = &m->protos[k];
            kw_str(w, m->id);
            if (v >= 4)
                kw_str(w, m->instance_id);
            kw_str(w, m->client_id);
            kw_str(w, m->client_host);
            kw_i32(w, pr ? pr->len : 0);
            if (pr && pr->len > 0)
                memcpy(kw_space(w, (size_t)pr->len), pr->meta, (size_t)pr->len);
            kw_i32(w, g->state == G_STABLE ? m->assignment_len : 0);
            if (g->state == G_STABLE && m->assignment_len > 0)
                memcpy(kw_space(w, (size_t)m->assignment_len), m->assignment,
                       (size_t)m->assignment_len);
        }
        if (v >= 3)
            kw_i32(w, (int32_t)0x80000000);
    }
    free(ids);
    return h_done(resp);
}

int sl_group_delete(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int32_t n = kr_array(r, 2);
    kstr *ids = n > 0 ? calloc((size_t)n, sizeof(kstr)) : NULL;
    for (int32_t i = 0; i < n && !r->err; i++)
        ids[i] = kr_str(r);
    if (r->err) {
        free(ids);
        return -1;
    }
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    int wrote = 0;
    kw_i32(w, 0);
    kw_i32(w, n);
    for (int32_t i = 0; i < n; i++) {
        group *g = ids[i].len > 0 ? group_find(ids[i]) : NULL;
        int16_t err = KERR_NONE;
        if (!g)
            err = ids[i].len > 0 ? KERR_GROUP_ID_NOT_FOUND : KERR_INVALID_GROUP_ID;
        else if (g->nmembers)
            err = KERR_NON_EMPTY_GROUP;
        if (!err) {
            /* tombstones for every committed offset, then the group */
            for (int k = 0; k < g->noffsets; k++) {
                uint8_t key[600];
                size_t kl = sl_group_offset_key(key, sizeof(key), g->id, g->offsets[k].topic,
                                                g->offsets[k].partition);
                rec rc = {key, (int32_t)kl, NULL, -1};
                if (write_records(b, g->id, &rc, 1) == 0)
                    wrote = 1;
            }
            write_group_metadata(b, g, 1);
            wrote = 1;
            sl_info(GRP, "group %s deleted", g->id);
            group_unlink(g);
            group_free(g);
        }
        kw_kstr(w, ids[i]);
        kw_i16(w, err);
    }
    free(ids);
    sl_resp_finish(resp);
    sl_resp_answer_appended(resp, wrote);
    return 0;
}
