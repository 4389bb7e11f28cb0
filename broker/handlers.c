/*
 * handlers.c - one function per Kafka API, dispatched from a table of
 * {api key, min version, max version, handler} (librdkafka's mock broker
 * and Kafka's own RequestHandler do the same). Field names follow the
 * Kafka protocol's JSON message definitions; "v>=N" comments mark fields
 * that exist from version N.
 *
 * Parsing: kr_* readers are bounds-checked and sticky (kproto.h). A request
 * that does not parse closes the connection after a log line naming the
 * API, version and peer, as Kafka does; nothing was applied by then, since
 * Produce walks its whole request once before appending anything.
 *
 * ApiVersions is the one flexible (KIP-482) message we speak (v3, which
 * librdkafka opens with); every other API is served in its non-flexible
 * versions, and only what is implemented is advertised.
 *
 * Runs on: the broker I/O loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_internal.h"
#include "group.h"
#include "logging.h"
#include "producer_state.h"

#define AUTH_OPS_UNSET ((int32_t)0x80000000)

typedef int (*handler_fn)(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);

typedef struct api_def {
    int16_t key;
    int16_t min, max;
    handler_fn fn;
    const char *name;
} api_def;

static int h_api_versions(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
static int h_metadata(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
static int h_produce(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
static int h_fetch(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
static int h_list_offsets(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
static int h_create_topics(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
static int h_delete_topics(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
static int h_describe_configs(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
static int h_alter_configs(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
static int h_create_partitions(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);

static const api_def apis[] = {
    {0, 3, 7, h_produce, "Produce"},
    {1, 4, 11, h_fetch, "Fetch"},
    {2, 0, 5, h_list_offsets, "ListOffsets"},
    {3, 0, 8, h_metadata, "Metadata"},
    {8, 0, 7, sl_group_offset_commit, "OffsetCommit"},
    {9, 0, 5, sl_group_offset_fetch, "OffsetFetch"},
    {10, 0, 2, sl_group_find_coordinator, "FindCoordinator"},
    {11, 0, 5, sl_group_join, "JoinGroup"},
    {12, 0, 3, sl_group_heartbeat, "Heartbeat"},
    {13, 0, 3, sl_group_leave, "LeaveGroup"},
    {14, 0, 3, sl_group_sync, "SyncGroup"},
    {15, 0, 4, sl_group_describe, "DescribeGroups"},
    {16, 0, 2, sl_group_list, "ListGroups"},
    {17, 0, 1, sl_server_sasl_handshake, "SaslHandshake"},
    {18, 0, 3, h_api_versions, "ApiVersions"},
    {19, 0, 4, h_create_topics, "CreateTopics"},
    {20, 0, 3, h_delete_topics, "DeleteTopics"},
    {22, 0, 1, sl_producer_init_id, "InitProducerId"},
    {32, 0, 3, h_describe_configs, "DescribeConfigs"},
    {33, 0, 1, h_alter_configs, "AlterConfigs"},
    {36, 0, 1, sl_server_sasl_authenticate, "SaslAuthenticate"},
    {37, 0, 1, h_create_partitions, "CreatePartitions"},
    {42, 0, 1, sl_group_delete, "DeleteGroups"},
    {44, 0, 0, h_alter_configs, "IncrementalAlterConfigs"},
};
#define NAPIS ((int)(sizeof(apis) / sizeof(apis[0])))

static const api_def *find_api(int16_t key)
{
    for (int i = 0; i < NAPIS; i++)
        if (apis[i].key == key)
            return &apis[i];
    return NULL;
}

const char *sl_api_name(int16_t key)
{
    const api_def *a = find_api(key);
    return a ? a->name : "Unknown";
}

void sl_handlers_supported(void (*fn)(int16_t, int16_t, int16_t, void *), void *arg)
{
    for (int i = 0; i < NAPIS; i++)
        fn(apis[i].key, apis[i].min, apis[i].max, arg);
}

static void write_api_array(kw *w, int compact)
{
    if (compact)
        kw_uvarint(w, (uint64_t)NAPIS + 1);
    else
        kw_i32(w, NAPIS);
    for (int i = 0; i < NAPIS; i++) {
        kw_i16(w, apis[i].key);
        kw_i16(w, apis[i].min);
        kw_i16(w, apis[i].max);
        if (compact)
            kw_uvarint(w, 0);
    }
}

int sl_handle_request(sl_broker *b, sl_conn *c, const sl_request *req)
{
    const api_def *a = find_api(req->api_key);
    kr r;
    if (req->api_key >= 0 && req->api_key < SL_NUM_API)
        atomic_fetch_add(&sl_broker_metrics.requests[req->api_key], 1);
    if (!a || req->api_version < a->min || req->api_version > a->max) {
        sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
        if (req->api_key == 18) {
            /* Unsupported ApiVersions: answer in the v0 form with our list
             * so the client can pick a version (KIP-511). */
            kw_i16(&resp->w, KERR_UNSUPPORTED_VERSION);
            write_api_array(&resp->w, 0);
        } else {
            /* No body shape exists for an API or version we do not know:
             * the error code alone, in the correlation-id'd frame. */
            kw_i16(&resp->w, KERR_UNSUPPORTED_VERSION);
        }
        sl_info(SL_BROKER_COMPONENT, "%s: %s (key %d) version %d is not supported (we speak %d-%d)",
                c->peer, a ? a->name : "unknown API", req->api_key, req->api_version,
                a ? a->min : -1, a ? a->max : -1);
        if (req->api_key >= 0 && req->api_key < SL_NUM_API)
            atomic_fetch_add(&sl_broker_metrics.request_errors[req->api_key], 1);
        sl_resp_finish(resp);
        sl_resp_ready(resp);
        return 0;
    }
    kr_init(&r, req->body, req->body_len);
    if (a->fn(b, c, req, &r) < 0) {
        atomic_fetch_add(&sl_broker_metrics.bad_frames, 1);
        sl_warn(SL_BROKER_COMPONENT, "%s: malformed %s v%d request (correlation id %d, %zu body "
                "bytes); closing the connection", c->peer, a->name, req->api_version,
                req->correlation_id, req->body_len);
        return -1;
    }
    return 0;
}

/* ================= ApiVersions ================= */

static int h_api_versions(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    /* v3 request: client_software_name, client_software_version (compact
     * strings), tags. Read for validation, not used. */
    if (req->api_version >= 3) {
        kr_cstr(r);
        kr_cstr(r);
        kr_skip_tags(r);
    }
    kw_i16(&resp->w, KERR_NONE);
    write_api_array(&resp->w, req->api_version >= 3);
    if (req->api_version >= 1)
        kw_i32(&resp->w, 0); /* throttle_time_ms */
    if (req->api_version >= 3)
        kw_uvarint(&resp->w, 0); /* tagged fields */
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 0;
}

/* ================= Metadata ================= */

static void write_partition_meta(sl_broker *b, kw *w, int v, int32_t idx, int32_t epoch)
{
    kw_i16(w, KERR_NONE);
    kw_i32(w, idx);
    kw_i32(w, (int32_t)b->conf.node_id); /* leader_id */
    if (v >= 7)
        kw_i32(w, epoch);
    kw_i32(w, 1); /* replica_nodes */
    kw_i32(w, (int32_t)b->conf.node_id);
    kw_i32(w, 1); /* isr_nodes */
    kw_i32(w, (int32_t)b->conf.node_id);
    if (v >= 5)
        kw_i32(w, 0); /* offline_replicas */
}

static void write_topic_meta(sl_broker *b, kw *w, int v, sl_topic *t)
{
    kw_i16(w, KERR_NONE);
    kw_str(w, t->name);
    if (v >= 1)
        kw_i8(w, (int8_t)t->internal);
    kw_i32(w, t->npart);
    for (int32_t i = 0; i < t->npart; i++)
        write_partition_meta(b, w, v, i, t->parts[i]->leader_epoch);
    if (v >= 8)
        kw_i32(w, AUTH_OPS_UNSET);
}

typedef struct meta_all {
    sl_broker *b;
    kw *w;
    int v;
    int32_t n;
} meta_all;

static void meta_one(sl_topic *t, void *arg)
{
    meta_all *m = arg;
    write_topic_meta(m->b, m->w, m->v, t);
    m->n++;
}

static int h_metadata(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    int32_t n = kr_array(r, 2);
    kstr *names = NULL;
    int8_t allow_auto = 1;
    sl_resp *resp;
    kw *w;

    if (n > 0)
        names = calloc((size_t)n, sizeof(*names));
    for (int32_t i = 0; i < n; i++)
        names[i] = kr_str(r);
    if (v >= 4)
        allow_auto = kr_i8(r);
    if (v >= 8) {
        kr_i8(r); /* include_cluster_authorized_operations */
        kr_i8(r); /* include_topic_authorized_operations */
    }
    if (r->err) {
        free(names);
        return -1;
    }
    resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    w = &resp->w;
    if (v >= 3)
        kw_i32(w, 0); /* throttle_time_ms */
    kw_i32(w, 1);     /* brokers */
    kw_i32(w, (int32_t)b->conf.node_id);
    kw_str(w, c->listener->adv_host); /* the listener this client came in on */
    kw_i32(w, c->listener->adv_port);
    if (v >= 1)
        kw_str(w, NULL); /* rack */
    if (v >= 2)
        kw_str(w, b->conf.cluster_id);
    if (v >= 1)
        kw_i32(w, (int32_t)b->conf.node_id); /* controller_id */
    if (n < 0 || (n == 0 && v == 0)) {
        size_t at = w->len;
        meta_all m = {b, w, v, 0};
        kw_i32(w, 0);
        sl_topics_foreach(b, meta_one, &m);
        kw_put_i32_at(w, at, m.n);
    } else {
        kw_i32(w, n);
        for (int32_t i = 0; i < n; i++) {
            char name[SL_TOPIC_NAME_MAX + 1], msg[256];
            sl_topic *t = names[i].len > 0 ? sl_topics_find(b, names[i].s, (size_t)names[i].len)
                                           : NULL;
            int16_t err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (!t && kstr_copy(names[i], name, sizeof(name)) == 0) {
                if (!sl_topics_valid_name(name, msg, sizeof(msg)))
                    err = KERR_INVALID_TOPIC;
                else if (allow_auto && b->conf.auto_create_topics) {
                    int rc = sl_topics_create(b, name, -1, -1, NULL, 0, msg, sizeof(msg));
                    if (rc == 0)
                        t = sl_topics_find(b, name, strlen(name));
                    else
                        err = (int16_t)rc;
                }
            } else if (!t) {
                err = KERR_INVALID_TOPIC;
            }
            if (t) {
                write_topic_meta(b, w, v, t);
                continue;
            }
            kw_i16(w, err);
            kw_kstr(w, names[i].len >= 0 ? names[i] : (kstr){"", 0});
            if (v >= 1)
                kw_i8(w, 0);
            kw_i32(w, 0); /* partitions */
            if (v >= 8)
                kw_i32(w, AUTH_OPS_UNSET);
        }
    }
    if (v >= 8)
        kw_i32(w, AUTH_OPS_UNSET); /* cluster_authorized_operations */
    free(names);
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 0;
}

/* ================= Produce ================= */

typedef struct produce_check {
    sl_topic *t;
    int16_t err;
    char msg[256];
    int64_t records;
    int nbatches;
    int has_idem;         /* a batch has a producer id: idem is its header */
    sl_batch_header idem;
} produce_check;

static int check_batch(uint8_t *p, size_t len, void *arg)
{
    produce_check *pc = arg;
    char err[256];
    int rc;
    if ((int64_t)len > pc->t->max_message_bytes) {
        snprintf(pc->msg, sizeof(pc->msg), "batch of %zu bytes exceeds max.message.bytes %lld", len,
                 (long long)pc->t->max_message_bytes);
        pc->err = KERR_MESSAGE_TOO_LARGE;
        return 1;
    }
    rc = sl_batch_validate(p, len, err, sizeof(err));
    if (rc) {
        snprintf(pc->msg, sizeof(pc->msg), "%s", err);
        pc->err = (int16_t)rc;
        return 1;
    }
    pc->records += (int32_t)sl_be32(p + 57);
    pc->nbatches++;
    if ((int64_t)sl_be64(p + 43) >= 0) {
        pc->has_idem = 1;
        sl_batch_header_decode(p, len, &pc->idem);
    }
    return 0;
}

/* Idempotent producers (producer_state.c): a batch with a producer id is
 * checked against the partition's producer state before it is appended.
 * Kafka accepts exactly one batch per partition in Produce v3+
 * (ProduceRequest.validateRecords); we enforce that only for batches with a
 * producer id, where a second batch could not be checked without the first
 * one's effect. Returns -1 when the batch is to be appended, else the
 * partition's answer: an error, or 0 for a duplicate (*base is its original
 * offset; *appended is set when that offset is not durable yet, so that the
 * response waits for the sync cycle like the original's). */
static int produce_dedup(sl_broker *b, sl_conn *c, sl_partition *p, const produce_check *pc,
                         int64_t *base, int *appended)
{
    sl_pstate_dup dup;
    char msg[256];
    int16_t err = KERR_INVALID_RECORD;
    if (pc->nbatches > 1)
        snprintf(msg, sizeof(msg), "%d batches in one partition's records; a batch with a "
                 "producer id must come alone", pc->nbatches);
    else
        err = sl_pstate_check(p->pstate, &pc->idem, &dup, msg, sizeof(msg));
    if (err) {
        sl_warn(SL_BROKER_COMPONENT, "%s: produce to %s-%d rejected (error %d): %s", c->peer,
                p->topic->name, p->index, err, msg);
        return err;
    }
    if (!dup.found)
        return -1;
    *base = dup.base_offset;
    if (dup.last_offset >= sl_log_high_watermark(p->log)) {
        *appended = 1;
        sl_server_mark_dirty(b, p); /* a sync cycle must come even if nothing else is appended */
    }
    sl_info(SL_BROKER_COMPONENT, "%s: %s-%d: producer %lld epoch %d resent sequence %d: a "
            "duplicate of offsets %lld..%lld, not appended", c->peer, p->topic->name, p->index,
            (long long)pc->idem.producer_id, pc->idem.producer_epoch, pc->idem.base_sequence,
            (long long)dup.base_offset, (long long)dup.last_offset);
    return 0;
}

typedef struct produce_append {
    sl_partition *p;
    int64_t base;
    int64_t append_time;
    int err;
    char msg[512];
} produce_append;

static int append_batch(uint8_t *p, size_t len, void *arg)
{
    produce_append *pa = arg;
    int64_t off;
    if (sl_log_append(pa->p->log, p, len, pa->p->leader_epoch, pa->append_time, &off, pa->msg,
                      sizeof(pa->msg))) {
        pa->err = KERR_KAFKA_STORAGE_ERROR;
        return 1;
    }
    if (pa->base < 0)
        pa->base = off;
    return 0;
}

/* Validate then append one partition's records. Returns a Kafka error. */
static int16_t produce_partition(sl_broker *b, sl_conn *c, sl_partition *p, uint8_t *rec,
                                 int32_t len, int64_t *base, int64_t *append_time, int *appended)
{
    produce_check pc = {p->topic, 0, "", 0};
    produce_append pa = {p, -1, -1, 0, ""};
    char err[256];
    if (!rec || len <= 0) {
        sl_warn(SL_BROKER_COMPONENT, "%s: produce to %s-%d with no records", c->peer, p->topic->name,
                p->index);
        return KERR_CORRUPT_MESSAGE;
    }
    if (sl_batch_foreach(rec, (size_t)len, check_batch, &pc, err, sizeof(err))) {
        if (!pc.err) {
            pc.err = KERR_CORRUPT_MESSAGE;
            snprintf(pc.msg, sizeof(pc.msg), "%s", err);
        }
        atomic_fetch_add(&sl_broker_metrics.corrupt_batches, 1);
        sl_warn(SL_BROKER_COMPONENT, "%s: produce to %s-%d rejected (error %d): %s", c->peer,
                p->topic->name, p->index, pc.err, pc.msg);
        return pc.err;
    }
    if (pc.has_idem) {
        int rc = produce_dedup(b, c, p, &pc, base, appended);
        if (rc >= 0)
            return (int16_t)rc;
    }
    if (p->topic->log_append_time)
        pa.append_time = (int64_t)sl_now_ms();
    sl_batch_foreach(rec, (size_t)len, append_batch, &pa, err, sizeof(err));
    if (pa.err) {
        sl_error(SL_BROKER_COMPONENT, "%s-%d: append failed: %s", p->topic->name, p->index, pa.msg);
        if (pa.base < 0)
            return (int16_t)pa.err;
    }
    if (pc.has_idem && sl_pstate_record(p->pstate, &pc.idem, pa.base) < 0)
        sl_error(SL_BROKER_COMPONENT, "%s-%d: out of memory recording producer %lld; a retry of "
                 "its batch at offset %lld will be refused, not deduplicated", p->topic->name,
                 p->index, (long long)pc.idem.producer_id, (long long)pa.base);
    *base = pa.base;
    *append_time = pa.append_time;
    *appended = 1;
    atomic_fetch_add(&sl_broker_metrics.messages_in, (uint64_t)pc.records);
    atomic_fetch_add(&sl_broker_metrics.batches_in, 1);
    sl_server_appended(b, p);
    return (int16_t)pa.err;
}

/* Walk the request's structure once without acting, so a malformed request
 * is refused before anything is appended. */
static int produce_parse_ok(kr r)
{
    int32_t nt = kr_array(&r, 6);
    for (int32_t i = 0; i < nt && !r.err; i++) {
        int32_t len;
        kr_str(&r);
        int32_t np = kr_array(&r, 8);
        for (int32_t j = 0; j < np && !r.err; j++) {
            kr_i32(&r);
            kr_bytes(&r, &len);
        }
    }
    return !r.err;
}

static int h_produce(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    int16_t acks;
    int appended_any = 0;
    sl_resp *resp;
    kw *w;

    kr_str(r); /* transactional_id (v>=3) */
    acks = kr_i16(r);
    kr_i32(r); /* timeout_ms: appends are synchronous */
    if (r->err || !produce_parse_ok(*r))
        return -1;
    resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    w = &resp->w;
    int32_t nt = kr_array(r, 6);
    kw_i32(w, nt);
    for (int32_t i = 0; i < nt; i++) {
        kstr name = kr_str(r);
        int32_t np = kr_array(r, 8);
        kw_kstr(w, name);
        kw_i32(w, np);
        for (int32_t j = 0; j < np; j++) {
            int32_t idx = kr_i32(r), len;
            uint8_t *rec = (uint8_t *)kr_bytes(r, &len);
            sl_partition *p = sl_topics_partition(b, name, idx);
            int64_t base = -1, lat = -1;
            int appended = 0;
            int16_t err;
            if (acks != 0 && acks != 1 && acks != -1)
                err = KERR_INVALID_REQUIRED_ACKS;
            else if (!p)
                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else
                err = produce_partition(b, c, p, rec, len, &base, &lat, &appended);
            appended_any |= appended;
            if (err)
                atomic_fetch_add(&sl_broker_metrics.request_errors[0], 1);
            kw_i32(w, idx);
            kw_i16(w, err);
            kw_i64(w, base);
            kw_i64(w, lat); /* log_append_time_ms (v>=2) */
            if (v >= 5)
                kw_i64(w, p ? sl_log_start_offset(p->log) : -1);
        }
    }
    kw_i32(w, 0); /* throttle_time_ms */
    if (acks == 0) {
        sl_resp_drop(resp);
        if (!b->flush_on_ack && appended_any)
            sl_server_wake_fetches(b);
        return 0;
    }
    sl_resp_finish(resp);
    sl_resp_answer_appended(resp, appended_any);
    return 0;
}

/* ================= Fetch ================= */

typedef struct fetch_req {
    int32_t max_wait_ms, min_bytes, max_bytes;
    int8_t isolation;
    int32_t session_id, session_epoch;
} fetch_req;

/* Parse the fetch header fields. */
static void fetch_parse_head(kr *r, int v, fetch_req *f)
{
    kr_i32(r); /* replica_id */
    f->max_wait_ms = kr_i32(r);
    f->min_bytes = kr_i32(r);
    f->max_bytes = v >= 3 ? kr_i32(r) : 0x7fffffff;
    f->isolation = v >= 4 ? kr_i8(r) : 0;
    f->session_id = v >= 7 ? kr_i32(r) : 0;
    f->session_epoch = v >= 7 ? kr_i32(r) : -1;
}

/* Build the fetch response body into resp from the request body. When
 * probe is set nothing is written: returns 1 if any partition has data or
 * an error worth answering at once, else 0. Otherwise returns the record
 * bytes included, with *errors counting partition errors. -1: malformed. */
static int64_t fetch_build(sl_broker *b, sl_resp *resp, const uint8_t *body, size_t len, int v,
                           int probe, int *errors)
{
    fetch_req f;
    kr r;
    kw *w = &resp->w;
    int64_t total = 0;
    kr_init(&r, body, len);
    fetch_parse_head(&r, v, &f);
    if (r.err)
        return -1;
    if (v >= 7 && f.session_id != 0) {
        if (probe)
            return 1;
        kw_i32(w, 0);
        kw_i16(w, KERR_FETCH_SESSION_ID_NOT_FOUND);
        kw_i32(w, 0);
        kw_i32(w, 0);
        (*errors)++;
        return 0;
    }
    if (!probe) {
        kw_i32(w, 0); /* throttle_time_ms */
        if (v >= 7) {
            kw_i16(w, KERR_NONE);
            kw_i32(w, 0); /* session_id: sessions are not kept, every fetch is full */
        }
    }
    int32_t nt = kr_array(&r, 6);
    if (!probe)
        kw_i32(w, nt);
    for (int32_t i = 0; i < nt && !r.err; i++) {
        kstr topic = kr_str(&r);
        int32_t np = kr_array(&r, v >= 9 ? 24 : 20);
        if (!probe) {
            kw_kstr(w, topic);
            kw_i32(w, np);
        }
        for (int32_t j = 0; j < np && !r.err; j++) {
            int32_t idx = kr_i32(&r);
            if (v >= 9)
                kr_i32(&r); /* current_leader_epoch */
            int64_t offset = kr_i64(&r);
            if (v >= 5)
                kr_i64(&r); /* log_start_offset (followers) */
            int32_t pmax = kr_i32(&r);
            if (r.err)
                break;
            sl_partition *p = sl_topics_partition(b, topic, idx);
            int16_t err = KERR_NONE;
            sl_log_slice sl = {-1, 0, 0, 0};
            int64_t hw = p ? sl_log_high_watermark(p->log) : -1;
            if (!p)
                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (offset < sl_log_start_offset(p->log) || offset > sl_log_end_offset(p->log))
                err = KERR_OFFSET_OUT_OF_RANGE;
            if (probe) {
                if (err || (p && hw > offset))
                    return 1;
                continue;
            }
            if (!err && offset < hw) {
                int64_t room = (int64_t)f.max_bytes - total;
                int64_t lim = pmax < room ? pmax : room;
                char msg[256];
                int rc = sl_log_read(p->log, offset, hw, lim < 0 ? 0 : lim, total == 0, &sl, msg,
                                     sizeof(msg));
                if (rc == SL_LOG_ERR_OFFSET_OUT_OF_RANGE)
                    err = KERR_OFFSET_OUT_OF_RANGE;
                else if (rc < 0) {
                    sl_error(SL_BROKER_COMPONENT, "fetch %s-%d at %lld: %s", p->topic->name, idx,
                             (long long)offset, msg);
                    err = KERR_KAFKA_STORAGE_ERROR;
                }
            }
            if (err)
                (*errors)++;
            kw_i32(w, idx);
            kw_i16(w, err);
            kw_i64(w, p ? hw : -1);
            kw_i64(w, p ? hw : -1); /* last_stable_offset (v>=4): no transactions */
            if (v >= 5)
                kw_i64(w, p ? sl_log_start_offset(p->log) : -1);
            kw_i32(w, 0); /* aborted_transactions (v>=4): none, no transactions */
            if (v >= 11)
                kw_i32(w, -1); /* preferred_read_replica */
            kw_i32(w, (int32_t)sl.len);
            if (sl.len > 0) {
                sl_resp_add_file(resp, sl.fd, sl.pos, sl.len);
                total += sl.len;
            } else if (sl.fd >= 0) {
                close(sl.fd);
            }
        }
    }
    if (r.err)
        return -1;
    if (probe)
        return 0;
    /* forgotten_topics_data (v>=7) and rack_id (v>=11) are read and ignored */
    return total;
}

static int fetch_answer(sl_broker *b, sl_resp *resp, const uint8_t *body, size_t len, int final)
{
    int errors = 0;
    fetch_req f;
    kr r;
    kr_init(&r, body, len);
    fetch_parse_head(&r, resp->api_version, &f);
    if (!final && !fetch_build(b, resp, body, len, resp->api_version, 1, &errors))
        return 0; /* nothing yet: stay parked */
    int64_t total = fetch_build(b, resp, body, len, resp->api_version, 0, &errors);
    if (total < 0)
        return -1;
    if (!final && !errors && total < f.min_bytes) {
        sl_resp_discard_body(resp);
        return 0;
    }
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 1;
}

static int h_fetch(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    fetch_req f;
    int rc;
    fetch_parse_head(r, req->api_version, &f);
    if (r->err)
        return -1;
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    rc = fetch_answer(b, resp, req->body, req->body_len, f.max_wait_ms <= 0);
    if (rc < 0) {
        sl_resp_drop(resp);
        return -1;
    }
    if (rc == 0)
        sl_resp_park(resp, req->body, req->body_len, f.max_wait_ms);
    return 0;
}

void sl_fetch_reevaluate(sl_broker *b, sl_resp *resp, int expired)
{
    if (fetch_answer(b, resp, resp->req_copy, resp->req_len, expired) < 0) {
        /* it parsed when it arrived; cannot happen, but never leave it hanging */
        sl_resp_discard_body(resp);
        sl_resp_finish(resp);
        sl_resp_ready(resp);
    }
}

/* ================= ListOffsets ================= */

static int h_list_offsets(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    kr_i32(r); /* replica_id */
    if (v >= 2)
        kr_i8(r); /* isolation_level: no transactions, LSO == HW */
    /* validate first */
    {
        kr t = *r;
        int32_t nt = kr_array(&t, 6);
        for (int32_t i = 0; i < nt && !t.err; i++) {
            kr_str(&t);
            int32_t np = kr_array(&t, 12);
            for (int32_t j = 0; j < np && !t.err; j++) {
                kr_i32(&t);
                if (v >= 4)
                    kr_i32(&t);
                kr_i64(&t);
                if (v == 0)
                    kr_i32(&t);
            }
        }
        if (t.err || r->err)
            return -1;
    }
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    if (v >= 2)
        kw_i32(w, 0);
    int32_t nt = kr_array(r, 6);
    kw_i32(w, nt);
    for (int32_t i = 0; i < nt; i++) {
        kstr name = kr_str(r);
        int32_t np = kr_array(r, 12);
        kw_kstr(w, name);
        kw_i32(w, np);
        for (int32_t j = 0; j < np; j++) {
            int32_t idx = kr_i32(r);
            if (v >= 4)
                kr_i32(r); /* current_leader_epoch */
            int64_t ts = kr_i64(r);
            if (v == 0)
                kr_i32(r); /* max_num_offsets */
            sl_partition *p = sl_topics_partition(b, name, idx);
            int64_t off = -1;
            int16_t err = p ? KERR_NONE : KERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (p) {
                if (ts == -1)
                    off = sl_log_high_watermark(p->log);
                else if (ts == -2)
                    off = sl_log_start_offset(p->log);
                else {
                    off = sl_log_offset_for_time(p->log, ts);
                    if (off >= sl_log_high_watermark(p->log))
                        off = -1;
                }
            }
            kw_i32(w, idx);
            kw_i16(w, err);
            if (v == 0) {
                kw_i32(w, off >= 0 ? 1 : 0);
                if (off >= 0)
                    kw_i64(w, off);
            } else {
                kw_i64(w, -1); /* timestamp: batch granularity, not reported */
                kw_i64(w, off);
                if (v >= 4)
                    kw_i32(w, p ? p->leader_epoch : -1);
            }
        }
    }
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 0;
}

/* ================= CreateTopics / DeleteTopics / CreatePartitions ================= */

static int h_create_topics(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    typedef struct {
        kstr name;
        int32_t npart;
        int16_t rf;
        int32_t nassign;
        json_t *configs;
    } ct;
    int32_t n = kr_array(r, 12);
    ct *ts = n > 0 ? calloc((size_t)n, sizeof(ct)) : NULL;
    int8_t validate_only = 0;
    for (int32_t i = 0; i < n && !r->err; i++) {
        ts[i].name = kr_str(r);
        ts[i].npart = kr_i32(r);
        ts[i].rf = kr_i16(r);
        ts[i].nassign = kr_array(r, 8);
        for (int32_t j = 0; j < ts[i].nassign && !r->err; j++) {
            kr_i32(r);
            int32_t nb = kr_array(r, 4);
            for (int32_t k = 0; k < nb && !r->err; k++)
                kr_i32(r);
        }
        int32_t nc = kr_array(r, 4);
        ts[i].configs = json_object();
        for (int32_t j = 0; j < nc && !r->err; j++) {
            char key[256], val[4096];
            kstr k = kr_str(r), vv = kr_str(r);
            if (kstr_copy(k, key, sizeof(key)))
                continue;
            if (vv.len < 0)
                json_object_set_new(ts[i].configs, key, json_null());
            else if (!kstr_copy(vv, val, sizeof(val)))
                json_object_set_new(ts[i].configs, key, json_string(val));
        }
    }
    kr_i32(r); /* timeout_ms */
    if (v >= 1)
        validate_only = kr_i8(r);
    if (r->err) {
        for (int32_t i = 0; i < n; i++)
            json_decref(ts[i].configs);
        free(ts);
        return -1;
    }
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    if (v >= 2)
        kw_i32(w, 0);
    kw_i32(w, n);
    for (int32_t i = 0; i < n; i++) {
        char name[SL_TOPIC_NAME_MAX + 1], msg[512] = "";
        int rc;
        if (kstr_copy(ts[i].name, name, sizeof(name))) {
            rc = KERR_INVALID_TOPIC;
            snprintf(msg, sizeof(msg), "Topic name is missing or longer than %d characters",
                     SL_TOPIC_NAME_MAX);
        } else if (ts[i].nassign > 0) {
            rc = KERR_INVALID_REQUEST;
            snprintf(msg, sizeof(msg), "Manual replica assignment is not supported on a single node");
        } else if (v < 4 && (ts[i].npart == -1 || ts[i].rf == -1)) {
            rc = ts[i].npart == -1 ? KERR_INVALID_PARTITIONS : KERR_INVALID_REPLICATION_FACTOR;
            snprintf(msg, sizeof(msg), "Defaults (-1) need CreateTopics v4 or later");
        } else {
            rc = sl_topics_create(b, name, ts[i].npart, ts[i].rf, ts[i].configs, validate_only, msg,
                                  sizeof(msg));
        }
        if (rc)
            atomic_fetch_add(&sl_broker_metrics.request_errors[19], 1);
        kw_kstr(w, ts[i].name);
        kw_i16(w, (int16_t)rc);
        if (v >= 1)
            kw_str(w, rc ? msg : NULL);
        json_decref(ts[i].configs);
    }
    free(ts);
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 0;
}

static int h_delete_topics(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    kr t = *r;
    int32_t n = kr_array(&t, 2);
    for (int32_t i = 0; i < n && !t.err; i++)
        kr_str(&t);
    kr_i32(&t);
    if (t.err)
        return -1;
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    if (v >= 1)
        kw_i32(w, 0);
    n = kr_array(r, 2);
    kw_i32(w, n);
    for (int32_t i = 0; i < n; i++) {
        char name[SL_TOPIC_NAME_MAX + 1], msg[256];
        kstr k = kr_str(r);
        int rc = kstr_copy(k, name, sizeof(name)) ? KERR_UNKNOWN_TOPIC_OR_PARTITION
                                                   : sl_topics_delete(b, name, msg, sizeof(msg));
        kw_kstr(w, k);
        kw_i16(w, (int16_t)rc);
    }
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 0;
}

static int h_create_partitions(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    kr t = *r;
    int32_t n = kr_array(&t, 10);
    for (int32_t i = 0; i < n && !t.err; i++) {
        kr_str(&t);
        kr_i32(&t);
        int32_t na = kr_array(&t, 4);
        for (int32_t j = 0; j < na && !t.err; j++) {
            int32_t nb = kr_array(&t, 4);
            for (int32_t k = 0; k < nb && !t.err; k++)
                kr_i32(&t);
        }
    }
    kr_i32(&t);
    int8_t validate_only = kr_i8(&t);
    if (t.err)
        return -1;
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    kw_i32(w, 0);
    n = kr_array(r, 10);
    kw_i32(w, n);
    for (int32_t i = 0; i < n; i++) {
        char msg[512] = "";
        kstr name = kr_str(r);
        int32_t count = kr_i32(r);
        int32_t na = kr_array(r, 4);
        for (int32_t j = 0; j < na; j++) {
            int32_t nb = kr_array(r, 4);
            for (int32_t k = 0; k < nb; k++)
                kr_i32(r);
        }
        sl_topic *tp = name.len > 0 ? sl_topics_find(b, name.s, (size_t)name.len) : NULL;
        int rc;
        if (!tp) {
            rc = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(msg, sizeof(msg), "The topic does not exist.");
        } else {
            rc = sl_topics_add_partitions(b, tp, count, validate_only, msg, sizeof(msg));
        }
        kw_kstr(w, name);
        kw_i16(w, (int16_t)rc);
        kw_str(w, rc ? msg : NULL);
    }
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 0;
}

/* ================= DescribeConfigs / AlterConfigs ================= */

typedef struct describe_ctx {
    kw *w;
    int v;
    int32_t n;
    kstr *keys;
    int32_t nkeys;
    int topic;
} describe_ctx;

static void describe_one(const char *name, const char *value, int is_default, int read_only,
                         int sensitive, const char *doc, void *arg)
{
    describe_ctx *d = arg;
    kw *w = d->w;
    if (d->nkeys >= 0) {
        int found = 0;
        for (int32_t i = 0; i < d->nkeys && !found; i++)
            found = kstr_eq(d->keys[i], name);
        if (!found)
            return;
    }
    kw_str(w, name);
    kw_str(w, sensitive ? NULL : value);
    kw_i8(w, (int8_t)read_only);
    if (d->v == 0)
        kw_i8(w, (int8_t)is_default);
    else /* config_source: DYNAMIC_TOPIC_CONFIG 1, STATIC_BROKER_CONFIG 4, DEFAULT_CONFIG 5 */
        kw_i8(w, is_default ? 5 : d->topic ? 1 : 4);
    kw_i8(w, (int8_t)sensitive);
    if (d->v >= 1)
        kw_i32(w, 0); /* synonyms */
    if (d->v >= 3) {
        kw_i8(w, 0); /* config_type UNKNOWN */
        kw_str(w, doc);
    }
    d->n++;
}

static int h_describe_configs(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int v = req->api_version;
    kr t = *r;
    int32_t n = kr_array(&t, 7);
    for (int32_t i = 0; i < n && !t.err; i++) {
        kr_i8(&t);
        kr_str(&t);
        int32_t nk = kr_array(&t, 2);
        for (int32_t j = 0; j < nk && !t.err; j++)
            kr_str(&t);
    }
    if (v >= 1)
        kr_i8(&t);
    if (v >= 3)
        kr_i8(&t);
    if (t.err)
        return -1;
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    kw_i32(w, 0);
    n = kr_array(r, 7);
    kw_i32(w, n);
    for (int32_t i = 0; i < n; i++) {
        int8_t type = kr_i8(r);
        kstr name = kr_str(r);
        int32_t nk = kr_array(r, 2);
        kstr *keys = nk > 0 ? calloc((size_t)nk, sizeof(kstr)) : NULL;
        for (int32_t j = 0; j < nk; j++)
            keys[j] = kr_str(r);
        describe_ctx d = {w, v, 0, keys, nk, type == 2};
        sl_topic *tp = NULL;
        int16_t err = KERR_NONE;
        const char *msg = NULL;
        if (type == 2) {
            tp = name.len > 0 ? sl_topics_find(b, name.s, (size_t)name.len) : NULL;
            if (!tp) {
                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                msg = "The topic does not exist.";
            }
        } else if (type == 4) {
            char id[32];
            snprintf(id, sizeof(id), "%lld", (long long)b->conf.node_id);
            if (name.len > 0 && !kstr_eq(name, id)) {
                err = KERR_INVALID_REQUEST;
                msg = "Unexpected broker id";
            }
        } else {
            err = KERR_INVALID_REQUEST;
            msg = "Unsupported resource type";
        }
        kw_i16(w, err);
        kw_str(w, msg);
        kw_i8(w, type);
        kw_kstr(w, name);
        size_t at = w->len;
        kw_i32(w, 0);
        if (!err && tp)
            sl_topics_describe_configs(b, tp, describe_one, &d);
        else if (!err)
            sl_broker_describe_configs(b, describe_one, &d);
        kw_put_i32_at(w, at, d.n);
        free(keys);
    }
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 0;
}

/* AlterConfigs (33) replaces a topic's overrides; IncrementalAlterConfigs
 * (44) SETs and DELETEs single keys. Same response shape. */
static int h_alter_configs(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int incremental = req->api_key == 44;
    kr t = *r;
    int32_t n = kr_array(&t, 7);
    for (int32_t i = 0; i < n && !t.err; i++) {
        kr_i8(&t);
        kr_str(&t);
        int32_t nc = kr_array(&t, 4);
        for (int32_t j = 0; j < nc && !t.err; j++) {
            kr_str(&t);
            if (incremental)
                kr_i8(&t);
            kr_str(&t);
        }
    }
    int8_t validate_only = kr_i8(&t);
    if (t.err)
        return -1;
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw *w = &resp->w;
    kw_i32(w, 0);
    n = kr_array(r, 7);
    kw_i32(w, n);
    for (int32_t i = 0; i < n; i++) {
        int8_t type = kr_i8(r);
        kstr name = kr_str(r);
        int32_t nc = kr_array(r, 4);
        json_t *cfg = json_object();
        char msg[512] = "";
        int rc = 0;
        for (int32_t j = 0; j < nc; j++) {
            char key[256], val[4096];
            kstr k = kr_str(r);
            int8_t op = incremental ? kr_i8(r) : 0;
            kstr vv = kr_str(r);
            if (kstr_copy(k, key, sizeof(key)))
                continue;
            if (op == 1 || vv.len < 0)
                json_object_set_new(cfg, key, json_null());
            else if (op == 0 && !kstr_copy(vv, val, sizeof(val)))
                json_object_set_new(cfg, key, json_string(val));
            else if (!rc) {
                rc = KERR_INVALID_REQUEST;
                snprintf(msg, sizeof(msg), "config %s: only SET and DELETE operations are "
                         "supported for topic configs", key);
            }
        }
        sl_topic *tp = type == 2 && name.len > 0 ? sl_topics_find(b, name.s, (size_t)name.len) : NULL;
        if (!rc && type != 2) {
            rc = KERR_INVALID_REQUEST;
            snprintf(msg, sizeof(msg), "only topic configs can be altered at run time; broker "
                     "configs are set with --config/--set");
        } else if (!rc && !tp) {
            rc = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(msg, sizeof(msg), "The topic does not exist.");
        } else if (!rc) {
            rc = sl_topics_set_configs(b, tp, cfg, incremental, validate_only, msg, sizeof(msg));
        }
        json_decref(cfg);
        kw_i16(w, (int16_t)rc);
        kw_str(w, rc ? msg : NULL);
        kw_i8(w, type);
        kw_kstr(w, name);
    }
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 0;
}
