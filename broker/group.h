/*
 * group.h - the consumer group coordinator (classic protocol). Private to
 * the broker module; see group.c for the design.
 */
#ifndef SL_GROUP_H
#define SL_GROUP_H
#include "broker_internal.h"

/* Create/load __consumer_offsets and every group's offsets and metadata. */
int sl_groups_start(sl_broker *b, char *err, size_t errlen);
void sl_groups_stop(sl_broker *b);
/* A held response (join/sync waiting) whose connection closed. */
void sl_groups_forget_resp(sl_broker *b, sl_resp *r);

int sl_group_find_coordinator(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
int sl_group_join(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
int sl_group_sync(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
int sl_group_heartbeat(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
int sl_group_leave(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
int sl_group_offset_commit(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
int sl_group_offset_fetch(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
int sl_group_list(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
int sl_group_describe(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);
int sl_group_delete(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);

/* Java's String.hashCode, as Kafka uses to place a group on a partition of
 * __consumer_offsets; exposed for tests. */
int32_t sl_group_java_hash(const char *s, size_t len);

/* Record codecs of __consumer_offsets (Kafka's formats; see group.c). */
size_t sl_group_offset_key(uint8_t *out, size_t cap, const char *group, const char *topic,
                           int32_t partition);
size_t sl_group_offset_value(uint8_t *out, size_t cap, int64_t offset, int32_t leader_epoch,
                             const char *metadata, int64_t commit_ts);
typedef struct sl_group_record {
    int16_t key_version; /* 0/1 offset commit, 2 group metadata */
    char group[256];
    char topic[256];
    int32_t partition;
    int64_t offset;      /* value fields (offset commit) */
    int32_t leader_epoch;
    char metadata[256];
    int64_t commit_ts;
    int32_t generation; /* group metadata value */
    int tombstone;
} sl_group_record;
int sl_group_record_decode(const uint8_t *key, int32_t klen, const uint8_t *val, int32_t vlen,
                           sl_group_record *out);

#endif
