/*
 * producer_state.c - what each partition knows about idempotent producers:
 * per producer id its epoch and its last SL_PSTATE_KEEP batches, the way
 * Kafka's ProducerStateManager keeps them, so that a retried batch is found
 * and answered with its original offsets instead of being appended twice,
 * and a gap or a stale producer is refused.
 *
 * Why it works: an idempotent producer numbers its records per partition
 * (baseSequence in the batch header, one sequence number per record, wrapping
 * past INT32_MAX to 0) and keeps at most 5 requests in flight per
 * connection. A retry therefore repeats one of the last 5 batches exactly
 * (same producerEpoch, same first and last sequence); anything else must
 * continue right after the newest batch.
 *
 * The rules, in the order Kafka applies them (UnifiedLog
 * .analyzeAndValidateProducerState, then ProducerAppendInfo.checkProducerEpoch
 * and .checkSequence, Kafka 2.7 and later):
 *   1. same epoch and (firstSeq, lastSeq) equal to a remembered batch:
 *      duplicate, answered with that batch's base offset, nothing appended;
 *   2. epoch older than the producer's: INVALID_PRODUCER_EPOCH (47; Kafka
 *      answered PRODUCER_FENCED before 2.7);
 *   3. epoch newer than the producer's: the new epoch must start at sequence
 *      0, else OUT_OF_ORDER_SEQUENCE_NUMBER (45) - Kafka's checkSequence
 *      throws OutOfOrderSequenceException here, not UnknownProducerId;
 *   4. same epoch: firstSeq must be lastSeq(newest batch) + 1, or 0 after
 *      INT32_MAX (Kafka's inSequence), else OUT_OF_ORDER_SEQUENCE_NUMBER;
 *   5. a producer id the partition does not know is accepted at any
 *      sequence: Kafka 2.5+ (KIP-360) does so because the only way to meet
 *      it is that retention, compaction or DeleteRecords removed every
 *      batch of a live producer (the state is rebuilt from the whole log),
 *      and librdkafka 2.0 treats UNKNOWN_PRODUCER_ID (59), the answer of
 *      Kafka 2.4 and older, as fatal: the producer would die.
 * An accepted batch of a new epoch forgets the old epoch's batches.
 *
 * Layout: a partition's producers are a chained hash table keyed by producer
 * id; an entry is allocated once, the first time a producer id appears in
 * the partition, and holds a ring of SL_PSTATE_KEEP batch records. Checking
 * a batch never allocates; recording one allocates only for a new producer
 * id (and grows the bucket array, doubling, as producers accumulate).
 *
 * Durability: the table is in memory only. It is rebuilt when the partition
 * is opened by walking every batch header of the log (sl_log_scan_headers,
 * through the log's 16 KiB header window) and recording the idempotent ones
 * in order, which yields exactly the state the appends produced. The table
 * is updated when a batch is appended, before it is fsynced; a retry of such
 * a batch is found as a duplicate and its response waits for the same sync
 * cycle (handlers.c), so no client learns of an offset that could vanish.
 *
 * Not done yet: producers are never expired (Kafka's
 * producer.id.expiration.ms), and truncation (replication) will need the
 * table rebuilt from the truncated log.
 *
 * Runs on: the broker I/O loop thread.
 */
#include "producer_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pstate_batch {
    int32_t first_seq, last_seq;
    int64_t first_off, last_off;
} pstate_batch;

typedef struct pstate_entry {
    int64_t pid;
    int16_t epoch;
    int nbatches; /* 1..SL_PSTATE_KEEP once recorded */
    int newest;   /* ring index of the newest batch */
    pstate_batch batches[SL_PSTATE_KEEP];
    struct pstate_entry *next; /* hash chain */
} pstate_entry;

struct sl_pstate {
    pstate_entry **buckets; /* NULL until the first producer */
    size_t nbuckets;        /* a power of two */
    size_t n;
};

/* ---------------------------------------------------------------- table */

static size_t pstate_hash(int64_t pid, size_t nbuckets)
{
    uint64_t h = (uint64_t)pid * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 32) & (nbuckets - 1);
}

static pstate_entry *pstate_find(const sl_pstate *ps, int64_t pid)
{
    if (!ps->nbuckets)
        return NULL;
    pstate_entry *e = ps->buckets[pstate_hash(pid, ps->nbuckets)];
    while (e && e->pid != pid)
        e = e->next;
    return e;
}

/* Double the bucket array (or make the first one). -1 when out of memory. */
static int pstate_grow(sl_pstate *ps)
{
    size_t n = ps->nbuckets ? ps->nbuckets * 2 : 16;
    pstate_entry **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return -1;
    for (size_t i = 0; i < ps->nbuckets; i++)
        for (pstate_entry *e = ps->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t h = pstate_hash(e->pid, n);
            e->next = nb[h];
            nb[h] = e;
        }
    free(ps->buckets);
    ps->buckets = nb;
    ps->nbuckets = n;
    return 0;
}

static pstate_entry *pstate_insert(sl_pstate *ps, int64_t pid, int16_t epoch)
{
    if (ps->n + 1 > ps->nbuckets && pstate_grow(ps) < 0)
        return NULL;
    pstate_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->pid = pid;
    e->epoch = epoch;
    size_t h = pstate_hash(pid, ps->nbuckets);
    e->next = ps->buckets[h];
    ps->buckets[h] = e;
    ps->n++;
    return e;
}

int sl_pstate_create(sl_pstate **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : -1;
}

void sl_pstate_destroy(sl_pstate *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->nbuckets; i++)
        for (pstate_entry *e = ps->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(ps->buckets);
    free(ps);
}

size_t sl_pstate_count(const sl_pstate *ps)
{
    return ps->n;
}

/* ---------------------------------------------------------------- rules */

int32_t sl_pstate_last_seq(int32_t base_seq, int32_t last_offset_delta)
{
    int64_t s = (int64_t)base_seq + last_offset_delta;
    return (int32_t)(s > INT32_MAX ? s - INT32_MAX - 1 : s);
}

static int in_sequence(int32_t last_seq, int32_t next_seq)
{
    return (int64_t)next_seq == (int64_t)last_seq + 1 || (next_seq == 0 && last_seq == INT32_MAX);
}

static int is_idempotent(const sl_batch_header *h)
{
    return h->producer_id >= 0 && !(h->attributes & SL_BATCH_ATTR_CONTROL);
}

/* Rule 1: one of the remembered batches, same epoch and sequence range. */
static const pstate_batch *pstate_duplicate(const pstate_entry *e, int16_t epoch, int32_t first,
                                            int32_t last)
{
    if (e->epoch != epoch)
        return NULL;
    for (int i = 0; i < e->nbatches; i++)
        if (e->batches[i].first_seq == first && e->batches[i].last_seq == last)
            return &e->batches[i];
    return NULL;
}

int16_t sl_pstate_check(const sl_pstate *ps, const sl_batch_header *h, sl_pstate_dup *dup,
                        char *msg, size_t msglen)
{
    dup->found = 0;
    dup->base_offset = dup->last_offset = -1;
    if (!is_idempotent(h))
        return 0;
    int32_t first = h->base_sequence;
    int32_t last = sl_pstate_last_seq(first, h->last_offset_delta);
    const pstate_entry *e = pstate_find(ps, h->producer_id);
    if (!e) /* rule 5 */
        return 0;
    const pstate_batch *d = pstate_duplicate(e, h->producer_epoch, first, last);
    if (d) {
        dup->found = 1;
        dup->base_offset = d->first_off;
        dup->last_offset = d->last_off;
        return 0;
    }
    if (h->producer_epoch < e->epoch) { /* rule 2 */
        snprintf(msg, msglen, "producer %" PRId64 " sent epoch %d, older than its epoch %d",
                 h->producer_id, h->producer_epoch, e->epoch);
        return KERR_INVALID_PRODUCER_EPOCH;
    }
    if (h->producer_epoch > e->epoch) { /* rule 3 */
        if (first == 0)
            return 0;
        snprintf(msg, msglen,
                 "producer %" PRId64 " starts epoch %d (was %d) at sequence %" PRId32 ", not 0",
                 h->producer_id, h->producer_epoch, e->epoch, first);
        return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    }
    int32_t prev = e->batches[e->newest].last_seq; /* rule 4 */
    if (in_sequence(prev, first))
        return 0;
    snprintf(msg, msglen,
             "producer %" PRId64 " epoch %d sent sequence %" PRId32 "..%" PRId32 " after %" PRId32
             " (expected %" PRId32 ")",
             h->producer_id, h->producer_epoch, first, last, prev,
             prev == INT32_MAX ? 0 : prev + 1);
    return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
}

int sl_pstate_record(sl_pstate *ps, const sl_batch_header *h, int64_t base_offset)
{
    if (!is_idempotent(h))
        return 0;
    pstate_entry *e = pstate_find(ps, h->producer_id);
    if (!e && !(e = pstate_insert(ps, h->producer_id, h->producer_epoch)))
        return -1;
    if (e->epoch != h->producer_epoch) { /* a new epoch forgets the old one */
        e->epoch = h->producer_epoch;
        e->nbatches = 0;
    }
    e->newest = e->nbatches ? (e->newest + 1) % SL_PSTATE_KEEP : 0;
    if (e->nbatches < SL_PSTATE_KEEP)
        e->nbatches++;
    pstate_batch *pb = &e->batches[e->newest];
    pb->first_seq = h->base_sequence;
    pb->last_seq = sl_pstate_last_seq(h->base_sequence, h->last_offset_delta);
    pb->first_off = base_offset;
    pb->last_off = base_offset + h->last_offset_delta;
    return 0;
}

/* ---------------------------------------------------------------- rebuild */

/* Record one batch read back from the log; 1 (stop) when out of memory. */
static int pstate_load_one(const sl_batch_header *h, void *arg)
{
    return sl_pstate_record(arg, h, h->base_offset) < 0 ? 1 : 0;
}

int sl_pstate_load(sl_pstate *ps, sl_log *log, char *err, size_t errlen)
{
    int rc = sl_log_scan_headers(log, sl_log_start_offset(log), pstate_load_one, ps, err, errlen);
    if (rc == 1) {
        snprintf(err, errlen, "partition %s: out of memory rebuilding producer state",
                 sl_log_dir(log));
        return -1;
    }
    return rc;
}
