/*
 * producer_id.c - producer ids for idempotent producers: the allocator and
 * InitProducerId (api key 22).
 *
 * A producer id must never be handed out twice by a broker on the same data,
 * not even across a crash, or a new producer could be taken for an old one
 * and have its batches dropped as duplicates. Kafka reserves blocks of 1000
 * ids in ZooKeeper or the KRaft metadata log; we reserve them in a one-line
 * text file in the first log.dir:
 *
 *   <first log.dir>/sluice-producer-ids     "<decimal limit>\n"
 *
 * meaning ids below limit may have been handed out. When the block in memory
 * ([b->pid_next, b->pid_limit)) is used up, limit grows by SL_PIDS_BLOCK and
 * the file is replaced atomically (write .tmp, fdatasync, rename, fsync the
 * directory) before any id of the new block is given out. A restart starts
 * at the file's limit, so up to 999 ids are skipped after each restart and
 * the file is written once per 1000 InitProducerId calls, not per call. A
 * file that does not parse stops allocation (every InitProducerId fails)
 * rather than risk handing out an id twice.
 *
 * InitProducerId v0-1 (non-flexible; v2+ are flexible and not advertised):
 *   request:  transactional_id nullable string, transaction_timeout_ms int32
 *   response: throttle_time_ms int32, error_code int16, producer_id int64,
 *             producer_epoch int16
 * Without a transactional id Kafka hands out a fresh id with epoch 0 on
 * every call, and so do we. Transactions are not supported: a transactional
 * id is answered with TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53), which
 * clients treat as fatal, with a log line saying why.
 *
 * Runs on: the broker I/O loop thread (the rare file write blocks it for one
 * fdatasync per 1000 producers).
 */
#include "producer_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logging.h"

/* ---------------------------------------------------------------- file */

/* The limit stored in path: 0 when the file does not exist yet. */
static int pids_read(const char *path, int64_t *limit, char *err, size_t errlen)
{
    char buf[64], *end;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        *limit = 0;
        return 0;
    }
    if (fd < 0) {
        snprintf(err, errlen, "%s: open: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int saved = errno;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "%s: read: %s", path, strerror(saved));
        return -1;
    }
    buf[n] = 0;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || end == buf || (*end && strcmp(end, "\n")) || v < 0) {
        snprintf(err, errlen,
                 "%s: expected one non-negative decimal number and a newline, got "
                 "%zd bytes that are not; refusing to hand out producer ids that could repeat",
                 path, n);
        return -1;
    }
    *limit = v;
    return 0;
}

/* Replace path with "<limit>\n": tmp, fdatasync, rename, fsync dir. */
static int pids_write(const char *dir, const char *path, int64_t limit, char *err, size_t errlen)
{
    char tmp[4200], text[32];
    int len = snprintf(text, sizeof(text), "%" PRId64 "\n", limit);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, (size_t)len) != len || fdatasync(fd)) {
        snprintf(err, errlen, "%s: writing the producer id reservation: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    if (rename(tmp, path)) {
        snprintf(err, errlen, "rename %s to %s: %s", tmp, path, strerror(errno));
        return -1;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd)) {
        snprintf(err, errlen, "%s: fsync of the directory after renaming %s: %s", dir, tmp,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int sl_pids_next(sl_broker *b, const char *dir, int64_t *pid, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, SL_PIDS_FILE);
    if (b->pid_next >= b->pid_limit) {
        int64_t limit = b->pid_limit;
        if (limit == 0 && pids_read(path, &limit, err, errlen) < 0) /* first call */
            return -1;
        if (limit > INT64_MAX - SL_PIDS_BLOCK) {
            snprintf(err, errlen, "%s: producer ids are exhausted (limit %" PRId64 ")", path,
                     limit);
            return -1;
        }
        if (pids_write(dir, path, limit + SL_PIDS_BLOCK, err, errlen) < 0)
            return -1;
        b->pid_next = limit;
        b->pid_limit = limit + SL_PIDS_BLOCK;
        sl_info(SL_BROKER_COMPONENT, "reserved producer ids %" PRId64 "..%" PRId64 " in %s", limit,
                b->pid_limit - 1, path);
    }
    *pid = b->pid_next++;
    return 0;
}

/* ---------------------------------------------------------------- handler */

int sl_producer_init_id(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    char err[4400];
    int64_t pid = -1;
    int16_t error = KERR_NONE;

    kstr txn_id = kr_str(r);
    int32_t txn_timeout_ms = kr_i32(r);
    if (r->err)
        return -1;
    if (txn_id.len >= 0) {
        error = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        sl_warn(SL_BROKER_COMPONENT,
                "%s: InitProducerId for transactional id '%.*s' (timeout %d "
                "ms) refused: transactions are not supported, only idempotent producers (leave "
                "transactional.id unset)",
                c->peer, (int)(txn_id.len > 200 ? 200 : txn_id.len), txn_id.s ? txn_id.s : "",
                txn_timeout_ms);
    } else if (sl_pids_next(b, b->dirs[0], &pid, err, sizeof(err)) < 0) {
        error = KERR_KAFKA_STORAGE_ERROR;
        pid = -1;
        sl_error(SL_BROKER_COMPONENT, "%s: InitProducerId: no producer id: %s", c->peer, err);
    }
    if (error)
        atomic_fetch_add(&sl_broker_metrics.request_errors[22], 1);
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw_i32(&resp->w, 0); /* throttle_time_ms */
    kw_i16(&resp->w, error);
    kw_i64(&resp->w, pid);
    kw_i16(&resp->w, error ? -1 : 0); /* producer_epoch */
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 0;
}
