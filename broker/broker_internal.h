/*
 * broker_internal.h - the broker module's private structures, shared by
 * broker.c (config, start-up), topics.c (topic table, metadata file),
 * server.c (network, response queues, group commit, long polls),
 * handlers.c (one function per Kafka API) and metrics.c (admin HTTP).
 *
 * Threads: everything here is owned by the broker I/O loop thread, except
 * the metrics counters (atomics, read by the admin HTTP thread) and the
 * syncpoints handed to libuv's thread pool for fdatasync (see server.c).
 */
#ifndef SL_BROKER_INTERNAL_H
#define SL_BROKER_INTERNAL_H

#include "broker.h"
#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "http.h"
#include "kproto.h"
#include "log.h"

#define SL_BROKER_COMPONENT "broker"
#define SL_MAX_LISTENERS 8
#define SL_TOPIC_NAME_MAX 249

/* Kafka error codes we answer with. */
enum {
    KERR_NONE = 0,
    KERR_OFFSET_OUT_OF_RANGE = 1,
    KERR_CORRUPT_MESSAGE = 2,
    KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    KERR_LEADER_NOT_AVAILABLE = 5,
    KERR_NOT_LEADER_OR_FOLLOWER = 6,
    KERR_REQUEST_TIMED_OUT = 7,
    KERR_MESSAGE_TOO_LARGE = 10,
    KERR_INVALID_TOPIC = 17,
    KERR_RECORD_LIST_TOO_LARGE = 18,
    KERR_INVALID_REQUIRED_ACKS = 21,
    KERR_UNSUPPORTED_SASL_MECHANISM = 33,
    KERR_ILLEGAL_SASL_STATE = 34,
    KERR_UNSUPPORTED_VERSION = 35,
    KERR_TOPIC_ALREADY_EXISTS = 36,
    KERR_INVALID_PARTITIONS = 37,
    KERR_INVALID_REPLICATION_FACTOR = 38,
    KERR_INVALID_REPLICA_ASSIGNMENT = 39,
    KERR_INVALID_CONFIG = 40,
    KERR_INVALID_REQUEST = 42,
    KERR_POLICY_VIOLATION = 44,
    KERR_KAFKA_STORAGE_ERROR = 56,
    KERR_SASL_AUTHENTICATION_FAILED = 58,
    KERR_FETCH_SESSION_ID_NOT_FOUND = 70,
    KERR_INVALID_RECORD = 87,
};

/* ---------------- configuration (broker.c) ---------------- */

typedef struct sl_broker_conf {
    char *listeners;
    char *advertised_listeners;
    char *log_dirs;
    char *admin_listeners;
    sl_http_security admin_http; /* admin.ssl.*, admin.authentication.* (metrics.c) */
    char *sasl_users_file; /* SASL/PLAIN users of SASL_PLAINTEXT listeners (server.c) */
    /* SSL and SASL_SSL listeners (server.c): PEM files, librdkafka's key names */
    char *ssl_certificate_location; /* the certificate, then its chain */
    char *ssl_key_location;         /* its private key */
    char *ssl_key_password;         /* of an encrypted key; secret */
    char *ssl_client_auth;          /* none, requested or required */
    char *ssl_ca_location;          /* CA certificates that sign client certificates */
    int64_t node_id;
    int64_t num_partitions;
    int auto_create_topics;
    int64_t default_replication_factor;
    int64_t log_segment_bytes;
    int64_t log_roll_ms;
    int64_t log_roll_hours;
    int64_t log_retention_ms;
    int64_t log_retention_minutes;
    int64_t log_retention_hours;
    int64_t log_retention_bytes;
    int64_t log_retention_check_interval_ms;
    int64_t log_index_interval_bytes;
    int64_t log_flush_interval_messages;
    int64_t log_flush_interval_ms;
    int64_t log_flush_scheduler_interval_ms;
    int64_t message_max_bytes;
    int64_t socket_request_max_bytes;
    int64_t connections_max_idle_ms; /* server.c: the idle sweep */
    char *log_message_timestamp_type;
    char *log_cleanup_policy;
    int64_t log_cleaner_backoff_ms;         /* cleaner.c */
    int64_t log_cleaner_dedupe_buffer_size; /* cleaner.c */
    char *cluster_id;
    int64_t offsets_topic_num_partitions;
    int64_t group_initial_rebalance_delay_ms;
    int64_t group_min_session_timeout_ms;
    int64_t group_max_session_timeout_ms;
} sl_broker_conf;

/* ---------------- topics (topics.c) ---------------- */

typedef struct sl_topic sl_topic;

typedef struct sl_partition {
    sl_topic *topic;
    int32_t index;
    int32_t leader_epoch;
    sl_log *log;
    int dirty;        /* appended since the last sync cycle began */
    int in_sync;      /* a syncpoint of this log is in the thread pool */
    int deleted;      /* topic deleted: free once in_sync drops to 0 */
    struct sl_partition *next_dirty;
    struct sl_pstate *pstate; /* idempotent producers (producer_state.h) */
} sl_partition;

struct sl_topic {
    char name[SL_TOPIC_NAME_MAX + 1];
    int32_t npart;
    sl_partition **parts;
    json_t *configs;          /* overrides, key -> string */
    sl_log_config logcfg;     /* effective storage settings */
    int64_t max_message_bytes;
    int log_append_time;      /* message.timestamp.type=LogAppendTime */
    int internal;
    uint8_t id[16];           /* topic id (UUID) */
    sl_topic *hnext;
};

/* ---------------- server state (server.c) ---------------- */

typedef struct sl_conn sl_conn;
typedef struct sl_resp sl_resp;
typedef struct sl_broker sl_broker;

typedef struct sl_listener {
    sl_broker *b;
    int fd;
    uv_poll_t poll;
    char host[256];
    int port;
    int sasl; /* SASL_*: a client authenticates (SASL/PLAIN) before anything else */
    int tls;  /* SSL, SASL_SSL: TLS from the first byte */
    const char *proto; /* PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL */
    char adv_host[256]; /* what Metadata tells a client connected here */
    int adv_port;
} sl_listener;

/* one piece of a response: memory inside resp->w, or a file range */
typedef struct sl_chunk {
    int fd;          /* -1: memory [off, off+len) of resp->w */
    int64_t off;     /* memory offset or file position */
    int64_t len;
} sl_chunk;

struct sl_resp {
    sl_resp *next;          /* in its connection's queue, request order */
    sl_conn *conn;          /* NULL once the connection closed */
    int ready;              /* may be written */
    int held;               /* a group's JoinGroup/SyncGroup answer, waiting */
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    uint64_t start_ns;      /* request received (latency metric) */
    kw w;                   /* size prefix, header, body (memory parts) */
    sl_chunk *chunks;
    int nchunks, capchunks;
    int cur;                /* chunk being written */
    int64_t cur_off;        /* bytes of it written */
    size_t mem_mark;        /* start of the open memory chunk in w */
    /* produce waiting for a sync cycle */
    uint64_t need_cycle;
    sl_resp *next_pending;
    /* parked fetch (long poll) */
    uint8_t *req_copy;      /* request body, re-parsed on wake-up */
    size_t req_len;
    uint64_t deadline_ms;
    sl_resp *next_parked, *prev_parked;
};

struct sl_conn {
    sl_broker *b;
    int fd;
    uv_poll_t poll;
    int poll_events;
    int closing;
    int processing; /* inside conn_process: no re-entry */
    int resume;     /* frames wait in rbuf: process from the idle handle */
    uint64_t active_ms; /* uv_now when a request last completed or a response left (idle sweep) */
    char peer[64];
    uint8_t *rbuf;
    size_t rlen, rcap;
    sl_resp *head, *tail;
    int nresp;
    int64_t out_bytes;
    sl_conn *next, *prev;
    sl_listener *listener; /* the one it came in on (advertised address) */
    /* TLS (server.c): NULL on PLAINTEXT and SASL_PLAINTEXT listeners */
    struct ssl_st *ssl;
    int tls_ready;      /* handshake finished */
    int tls_failed;     /* a fatal TLS error: no close_notify */
    int tls_peeked;     /* the first byte looked like TLS */
    int tls_want;       /* UV_READABLE/UV_WRITABLE the TLS layer waits for */
    uint8_t *tls_out;   /* plaintext staged for SSL_write (fixed size) */
    size_t tls_out_len, tls_out_off;
    /* SASL (server.c): 0 on a PLAINTEXT listener; else SL_SASL_* */
    int sasl;
    char user[128]; /* the authenticated SASL user, or the client certificate's subject */
};
enum { SL_SASL_NONE = 0, SL_SASL_START, SL_SASL_HANDSHAKEN, SL_SASL_AUTHENTICATED };

struct sl_broker {
    sl_broker_conf conf;
    uv_loop_t *loop;
    char *dirs[16];
    int ndirs;
    sl_listener listeners[SL_MAX_LISTENERS];
    int nlisteners;
    char adv_host[256]; /* the first listener's advertised address */
    int adv_port;
    struct ssl_ctx_st *ssl_ctx; /* SSL and SASL_SSL listeners (server.c) */
    /* topics */
    sl_topic **tbuckets;
    size_t ntbuckets;
    size_t ntopics;
    /* connections */
    sl_conn *conns;
    int nconns;
    /* group commit */
    int flush_on_ack;
    sl_partition *dirty_head;
    uint64_t cycle_started, cycle_done;
    int sync_inflight;
    uv_work_t sync_work[4]; /* fdatasyncs of a cycle spread over the pool */
    int sync_workers, sync_workers_left;
    sl_partition **sync_parts;
    sl_log_syncpoint *sync_points;
    int sync_n, sync_cap;
    sl_resp *pending_head, *pending_tail;
    /* long polls */
    sl_resp *parked;
    uv_timer_t fetch_timer;
    uv_idle_t resume_idle;
    uint64_t fetch_timer_due;
    /* idempotent producers: ids [pid_next, pid_limit) reserved on disk (producer_id.c) */
    int64_t pid_next, pid_limit;
    /* housekeeping */
    uv_timer_t retention_timer;
    uv_timer_t flush_timer;
    uv_timer_t idle_timer; /* closes connections idle past connections.max.idle.ms */
    uv_signal_t sigint, sigterm;
    const struct sl_broker_embed *embed; /* sluice run: the roles beside us */
    uv_async_t shutdown;                 /* sl_broker_shutdown(), any thread */
    int stopping;
    sl_http *admin;              /* metrics.c: the admin listener */
    struct sl_users *sasl_users; /* sasl.users.file, when a listener is SASL_PLAINTEXT */
    struct sl_cleaner *cleaner; /* cleaner.c */
};

/* broker.c */
void sl_broker_topic_logcfg(const sl_broker *b, json_t *overrides, sl_log_config *cfg,
                            int64_t *max_message_bytes, int *log_append_time);

/* topics.c */
int sl_topics_load(sl_broker *b, char *err, size_t errlen);
void sl_topics_close_all(sl_broker *b);
sl_topic *sl_topics_find(sl_broker *b, const char *name, size_t len);
sl_partition *sl_topics_partition(sl_broker *b, kstr topic, int32_t partition);
/* returns a Kafka error code; msg gets a reason for error_message fields */
int sl_topics_create(sl_broker *b, const char *name, int32_t npart, int16_t rf, json_t *configs,
                     int validate_only, char *msg, size_t msglen);
int sl_topics_delete(sl_broker *b, const char *name, char *msg, size_t msglen);
int sl_topics_add_partitions(sl_broker *b, sl_topic *t, int32_t count, int validate_only,
                             char *msg, size_t msglen);
int sl_topics_set_configs(sl_broker *b, sl_topic *t, json_t *configs, int incremental,
                          int validate_only, char *msg, size_t msglen);
int sl_topics_valid_name(const char *name, char *msg, size_t msglen);
int sl_topics_check_config(const char *key, const char *value, char *msg, size_t msglen);
void sl_partition_free(sl_partition *p);
int sl_topics_save(sl_broker *b, char *err, size_t errlen);
typedef void (*sl_topic_fn)(sl_topic *t, void *arg);
void sl_topics_foreach(sl_broker *b, sl_topic_fn fn, void *arg);
/* Describe a topic's effective configs: calls fn for each known key. */
typedef void (*sl_config_fn)(const char *name, const char *value, int is_default,
                             int read_only, int sensitive, const char *doc, void *arg);
void sl_topics_describe_configs(sl_broker *b, sl_topic *t, sl_config_fn fn, void *arg);
void sl_broker_describe_configs(sl_broker *b, sl_config_fn fn, void *arg);

/* server.c */
int sl_server_start(sl_broker *b, char *err, size_t errlen);
void sl_server_stop(sl_broker *b);
void sl_server_mark_dirty(sl_broker *b, sl_partition *p);
/* Bytes were appended to p: it joins the next sync cycle, and when the
 * broker acknowledges from the page cache its high watermark moves now. */
void sl_server_appended(sl_broker *b, sl_partition *p);
/* Answer a finished response to a request that appended (or not): after
 * the next sync cycle when acks wait for fsync, at once otherwise (waking
 * long-poll fetches that the appended bytes may satisfy). */
void sl_resp_answer_appended(sl_resp *r, int appended);
void sl_server_partition_gone(sl_broker *b, sl_partition *p); /* deleted topic */
void sl_server_wake_fetches(sl_broker *b); /* high watermarks moved */
sl_resp *sl_resp_new(sl_conn *c, int16_t key, int16_t ver, int32_t corr);
void sl_resp_add_file(sl_resp *r, int fd, int64_t pos, int64_t len); /* takes fd */
void sl_resp_finish(sl_resp *r);       /* size prefix patched, memory chunk closed */
void sl_resp_ready(sl_resp *r);        /* may be sent now */
void sl_resp_wait_sync(sl_resp *r);    /* ready after the next sync cycle */
void sl_resp_park(sl_resp *r, const uint8_t *body, size_t len, int64_t max_wait_ms);
void sl_resp_drop(sl_resp *r);         /* no response (acks=0) */
void sl_resp_discard_body(sl_resp *r); /* reset to just the header (re-evaluate) */
uint64_t sl_now_ms(void);
uint64_t sl_now_ns(void);

/* handlers.c */
typedef struct sl_request {
    int16_t api_key, api_version;
    int32_t correlation_id;
    kstr client_id;
    const uint8_t *body;
    size_t body_len;
} sl_request;
/* Handle one request; returns <0 when the connection must be closed. When
 * woken is set, this is a parked fetch being re-evaluated (resp given). */
int sl_handle_request(sl_broker *b, sl_conn *c, const sl_request *req);
/* server.c: SaslHandshake and SaslAuthenticate (KIP-152), in the handlers' table */
int sl_server_sasl_handshake(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
int sl_server_sasl_authenticate(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
void sl_fetch_reevaluate(sl_broker *b, sl_resp *r, int expired);
void sl_handlers_supported(void (*fn)(int16_t key, int16_t min, int16_t max, void *arg), void *arg);
const char *sl_api_name(int16_t key);

/* metrics.c */
#define SL_NUM_API 70
#define SL_LAT_BUCKETS 14
typedef struct sl_metrics {
    atomic_uint_fast64_t bytes_in, bytes_out, messages_in, batches_in;
    atomic_uint_fast64_t connections_accepted, connections_active;
    atomic_uint_fast64_t requests[SL_NUM_API];
    atomic_uint_fast64_t request_errors[SL_NUM_API];
    atomic_uint_fast64_t lat_bucket[SL_NUM_API][SL_LAT_BUCKETS];
    atomic_uint_fast64_t lat_sum_us[SL_NUM_API];
    atomic_uint_fast64_t fsyncs, fsync_us, sync_cycles;
    atomic_uint_fast64_t partitions, topics, log_bytes;
    atomic_uint_fast64_t bad_frames, corrupt_batches;
} sl_metrics;
extern sl_metrics sl_broker_metrics;
void sl_metrics_observe(int16_t api_key, uint64_t usec);
int sl_admin_start(sl_broker *b, char *err, size_t errlen);
void sl_admin_stop(sl_broker *b);
void sl_metrics_refresh_gauges(sl_broker *b);

#endif
