/*
 * producer_state.h - idempotent producers (Kafka's KIP-98, without
 * transactions): the per-partition table of producer ids and their recent
 * sequence numbers that lets Produce drop retried duplicates and refuse gaps
 * (producer_state.c), and the producer id allocator behind InitProducerId
 * (producer_id.c). Private to the broker module; see producer_state.c for
 * the design.
 *
 * Runs on: the broker I/O loop thread, like everything it touches.
 */
#ifndef SL_PRODUCER_STATE_H
#define SL_PRODUCER_STATE_H
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "broker_internal.h"
#include "log.h"

/* Kafka remembers this many batches per producer and partition
 * (ProducerStateEntry.NumBatchesToRetain), matching the client's
 * max.in.flight.requests.per.connection limit of 5 with idempotence. */
#define SL_PSTATE_KEEP 5

/* Kafka error codes of the idempotent path (Kafka's names). */
#define KERR_OUT_OF_ORDER_SEQUENCE_NUMBER          45
#define KERR_INVALID_PRODUCER_EPOCH                47
#define KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED 53
#define KERR_UNKNOWN_PRODUCER_ID                   59

typedef struct sl_pstate sl_pstate; /* one partition's producers */

/* What sl_pstate_check found when the batch is a retry of one already in
 * the log: its original offsets. */
typedef struct sl_pstate_dup {
    int found;
    int64_t base_offset, last_offset;
} sl_pstate_dup;

/* An empty table. Returns 0, or -1 (out of memory) with *out NULL. Free with
 * sl_pstate_destroy (NULL is fine). */
int sl_pstate_create(sl_pstate **out);
void sl_pstate_destroy(sl_pstate *ps);

/* Rebuild from the batches in log (the partition was just opened): every
 * idempotent batch from the log start offset on is recorded as if appended.
 * Returns 0 or <0 with err (the log's read error, or out of memory). */
int sl_pstate_load(sl_pstate *ps, sl_log *log, char *err, size_t errlen);

/* Decide about a batch (header h, fields as produced) before it is appended.
 * Batches without a producer id, and control batches, always pass. Returns a
 * Kafka error code with msg saying why (OUT_OF_ORDER_SEQUENCE_NUMBER,
 * INVALID_PRODUCER_EPOCH, UNKNOWN_PRODUCER_ID), or 0: then dup->found says
 * whether the batch is a duplicate of one of the producer's last
 * SL_PSTATE_KEEP batches (answer with dup's offsets, do not append) or new
 * (append it, then sl_pstate_record). Reads only; never allocates. */
int16_t sl_pstate_check(const sl_pstate *ps, const sl_batch_header *h, sl_pstate_dup *dup,
                        char *msg, size_t msglen);

/* Note a batch that was appended at base_offset (h->base_offset is not
 * used: the caller's header may predate the stamping). Batches without a
 * producer id are ignored. Allocates only for a producer id the partition
 * has not seen. Returns 0, or -1 when out of memory (the state then lacks
 * this batch: a retry of it would be refused as out of order, not
 * duplicated). */
int sl_pstate_record(sl_pstate *ps, const sl_batch_header *h, int64_t base_offset);

/* Producers known to the partition (tests, metrics). */
size_t sl_pstate_count(const sl_pstate *ps);

/* The last sequence number of a batch: baseSequence + lastOffsetDelta,
 * wrapping past INT32_MAX to 0 as Kafka's DefaultRecordBatch.incrementSequence
 * does. */
int32_t sl_pstate_last_seq(int32_t base_seq, int32_t last_offset_delta);

/* ---------------- producer ids (producer_id.c) ---------------- */

/* Block size of the on-disk reservation: the file is rewritten once per
 * this many InitProducerId calls. */
#define SL_PIDS_BLOCK 1000
#define SL_PIDS_FILE  "sluice-producer-ids"

/* Hand out the next producer id, never one handed out before by a broker on
 * this data directory (dir: the first log.dir). b->pid_next/pid_limit hold
 * the reserved block in memory; when it is used up the next block is
 * reserved by replacing <dir>/sluice-producer-ids atomically (tmp, fsync,
 * rename, fsync dir) before any id of it is given out. Returns 0 or -1 with
 * err naming the file and why. */
int sl_pids_next(sl_broker *b, const char *dir, int64_t *pid, char *err, size_t errlen);

/* InitProducerId (api key 22) v0-1, for the handler table. */
int sl_producer_init_id(sl_broker *b, sl_conn *c, const sl_request *req, kr *r);

#endif
