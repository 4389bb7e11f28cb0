/*
 * pg_stream.c - in-progress transactions streamed by pgoutput protocol 2
 * (streaming 'on', PostgreSQL >= 14).
 *
 * When a transaction's changes exceed logical_decoding_work_mem, the
 * server sends them before the commit, in blocks between Stream Start and
 * Stream Stop, possibly interleaved with other transactions, and ends with
 * Stream Commit or Stream Abort. Records must only appear for committed
 * work, so every streamed message (Relation, Type, Insert, Update, Delete,
 * Truncate, Message) is appended, raw, to a spool file of its top-level
 * transaction (tmpfile(): memory stays bounded whatever the size):
 *
 *   Int32 subxid, Int64 lsn, Int32 len, Byte[len] pgoutput message (with xid)
 *
 * Stream Abort of the top-level xid drops the spool; of a subtransaction,
 * notes the subxid so its messages are skipped. Stream Commit replays the
 * spool through the normal handlers as one transaction (Begin ... Commit),
 * a batch at a time across polls, so the queue never holds more than one
 * batch either.
 *
 * Runs on: the task's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

struct pg_spool {
    uint32_t xid;
    FILE *f;
    uint32_t *aborted;
    size_t naborted, cap;
    int64_t messages;
    /* set at Stream Commit */
    int committing;
    uint64_t commit_lsn, end_lsn;
    int64_t ts_us;
    uint8_t *buf;
    size_t bufcap;
    struct pg_spool *next;
};

static pg_spool *spool_find(pg_task *t, uint32_t xid, int create)
{
    for (pg_spool *s = t->spools; s; s = s->next)
        if (s->xid == xid)
            return s;
    if (!create)
        return NULL;
    pg_spool *s = calloc(1, sizeof(*s));
    if (!s || !(s->f = tmpfile())) {
        free(s);
        return NULL;
    }
    s->xid = xid;
    s->next = t->spools;
    t->spools = s;
    return s;
}

static void spool_free(pg_task *t, pg_spool *s)
{
    for (pg_spool **pp = &t->spools; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    if (s->f)
        fclose(s->f);
    free(s->aborted);
    free(s->buf);
    free(s);
}

void pg_stream_free(pg_task *t)
{
    while (t->spools)
        spool_free(t, t->spools);
}

/* Appends one streamed message. Called for changes inside Stream Start/Stop. */
int pg_stream_spool(pg_task *t, uint32_t subxid, const uint8_t *data, size_t len, char *err,
                    size_t errlen)
{
    pg_spool *s = spool_find(t, t->stream_xid, 1);
    uint32_t l32 = (uint32_t)len;
    uint64_t lsn = t->change_lsn;
    if (!s || fwrite(&subxid, 4, 1, s->f) != 1 || fwrite(&lsn, 8, 1, s->f) != 1 ||
        fwrite(&l32, 4, 1, s->f) != 1 || fwrite(data, 1, len, s->f) != len) {
        snprintf(err, errlen, "spooling streamed transaction %u: write failed", t->stream_xid);
        return -1;
    }
    s->messages++;
    return 0;
}

static int aborted(const pg_spool *s, uint32_t subxid)
{
    for (size_t i = 0; i < s->naborted; i++)
        if (s->aborted[i] == subxid)
            return 1;
    return 0;
}

static int note_abort(pg_task *t, uint32_t xid, uint32_t subxid)
{
    pg_spool *s = spool_find(t, xid, 0);
    if (!s)
        return 0;
    if (xid == subxid) {
        sluice_log(t->ctx, SLUICE_LOG_INFO,
                   "streamed transaction %u aborted: %lld spooled messages dropped", xid,
                   (long long)s->messages);
        spool_free(t, s);
        return 0;
    }
    if (s->naborted == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        uint32_t *a = realloc(s->aborted, cap * sizeof(*a));
        if (!a)
            return -1;
        s->aborted = a;
        s->cap = cap;
    }
    s->aborted[s->naborted++] = subxid;
    return 0;
}

/* The spool being replayed (a committed streamed transaction), or NULL. */
static pg_spool *replaying(pg_task *t)
{
    for (pg_spool *s = t->spools; s; s = s->next)
        if (s->committing)
            return s;
    return NULL;
}

int pg_stream_message(pg_task *t, const pg_msg *m, char *err, size_t errlen)
{
    pg_spool *s;
    switch (m->type) {
    case 'S':
        t->in_stream = 1;
        t->stream_xid = m->xid;
        return 0;
    case 'E':
        t->in_stream = 0;
        return 0;
    case 'A':
        return note_abort(t, m->xid, m->subxid);
    default: /* 'c': replay from the next poll on */
        s = spool_find(t, m->xid, 0);
        if (!s) { /* nothing was streamed for it: an empty transaction */
            t->safe_lsn = m->end_lsn;
            return 0;
        }
        s->committing = 1;
        s->commit_lsn = m->lsn;
        s->end_lsn = m->end_lsn;
        s->ts_us = m->ts_us;
        if (fflush(s->f) != 0 || fseek(s->f, 0, SEEK_SET) != 0) {
            snprintf(err, errlen, "streamed transaction %u: spool rewind failed", m->xid);
            return -1;
        }
        sluice_log(t->ctx, SLUICE_LOG_INFO,
                   "streamed transaction %u committed: replaying %lld spooled messages", m->xid,
                   (long long)s->messages);
        return 0;
    }
}

int pg_stream_replay_active(pg_task *t)
{
    return replaying(t) != NULL;
}

/* Replays up to max_msgs messages of the committing spool. Returns 1
 * when the transaction is complete (committed), 0 when more remain, -1. */
int pg_stream_replay_step(pg_task *t, size_t max_msgs, char *err, size_t errlen)
{
    pg_spool *s = replaying(t);
    if (!s)
        return 1;
    if (!t->in_tx) {
        t->in_tx = 1;
        t->xid = s->xid;
        t->tx_n = 0;
        t->tx_lsn = s->commit_lsn;
        t->commit_ts_ms = s->ts_us / 1000 + 946684800000LL;
    }
    t->replaying = 1;
    for (size_t i = 0; i < max_msgs; i++) {
        uint32_t subxid, len;
        uint64_t lsn;
        if (fread(&subxid, 4, 1, s->f) != 1) {
            uint64_t end = s->end_lsn;
            spool_free(t, s);
            t->replaying = 0;
            return pg_task_commit_tx(t, end, err, errlen) == 0 ? 1 : -1;
        }
        if (fread(&lsn, 8, 1, s->f) != 1 || fread(&len, 4, 1, s->f) != 1)
            goto bad;
        if (len > s->bufcap) {
            uint8_t *b = realloc(s->buf, len);
            if (!b)
                goto bad;
            s->buf = b;
            s->bufcap = len;
        }
        if (fread(s->buf, 1, len, s->f) != len)
            goto bad;
        if (aborted(s, subxid))
            continue;
        if (pg_task_on_message(t, s->buf, len, lsn, err, errlen) != 0) {
            t->replaying = 0;
            return -1;
        }
    }
    t->replaying = 0;
    return 0;
bad:
    t->replaying = 0;
    snprintf(err, errlen, "streamed transaction %u: spool read failed", s->xid);
    return -1;
}
