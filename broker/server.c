/*
 * server.c - the broker's network side: listeners, connections, framing,
 * ordered response queues, group commit, long-poll fetches, housekeeping.
 *
 * Design:
 *  - One libuv loop thread owns every socket, every log and every topic.
 *    Sockets are ours (socket/accept4, non-blocking) and watched with
 *    uv_poll, so a response can mix writev of memory with sendfile of
 *    segment bytes: Fetch never copies record data through user space.
 *  - A request is handled to completion when its frame is complete; its
 *    response takes its place in the connection's queue at once, so
 *    responses leave in request order even when a Produce waits for fsync
 *    or a Fetch waits for data while later requests are answered.
 *  - Group commit: appends only write(2). At the end of each read burst,
 *    if logs are dirty and no sync cycle is running, one cycle starts: a
 *    syncpoint per dirty log goes to libuv's thread pool, which fdatasyncs
 *    them all; when it returns the high watermarks move, every Produce
 *    appended before that cycle began is answered, parked Fetches are
 *    re-evaluated and the next cycle starts if more appends came in.
 *    Produces wait for cycle number (cycles started + 1), so a produce
 *    never rides on a cycle that began before its bytes were written.
 *  - A failed fdatasync means acknowledged-looking data may be lost; like
 *    PostgreSQL we do not retry it: the broker logs and exits, and recovery
 *    on restart truncates what did not reach the disk.
 *  - Backpressure: a connection with too many queued responses or bytes
 *    stops being read until its queue drains; other connections go on.
 *  - SASL_PLAINTEXT listeners (KIP-152, SASL/PLAIN only): until a client
 *    has authenticated, only ApiVersions, SaslHandshake and SaslAuthenticate
 *    are answered; any other request closes the connection, as does any
 *    request after a failed authentication (which is answered
 *    SASL_AUTHENTICATION_FAILED). Users come from sasl.users.file (users.h:
 *    digests compared in constant time). SaslHandshake v0's raw token
 *    framing is not spoken: clients use SaslAuthenticate (librdkafka does
 *    whenever the broker lists it in ApiVersions).
 *  - SSL and SASL_SSL listeners: OpenSSL on the connection's own socket
 *    (SSL_set_fd), non-blocking, TLS 1.2 or later. The handshake runs from
 *    the poll events (WANT_READ/WANT_WRITE become the events we wait for);
 *    a first byte that is no TLS record type (0x14-0x17; a ClientHello is
 *    0x16) is a plaintext client and is closed at once. Afterwards SSL_read
 *    fills the same rbuf as read(2), so framing, SASL (SASL_SSL = TLS, then
 *    SASL/PLAIN) and backpressure are shared. Writes cannot use writev or
 *    sendfile: the ready responses are staged (memory copied, segment
 *    bytes pread) into a fixed 64 KiB buffer per connection, and SSL_write
 *    sends it, partial writes allowed, retried from the same bytes after
 *    WANT_WRITE. A PLAINTEXT connection has ssl == NULL and goes through the
 *    same code as before: one test of c->ssl per poll event, nothing per
 *    request. Client certificates (ssl.client.auth) are checked by OpenSSL
 *    against ssl.ca.location; the subject is kept in c->user.
 *  - Idle connections (connections.max.idle.ms, Kafka's name and default):
 *    a connection is idle while no response is queued or being written
 *    (a parked Fetch, a held JoinGroup, a Produce waiting for its sync
 *    cycle all count as busy); its clock, c->active_ms, restarts when a
 *    request frame completes and when a response leaves the queue. Partial
 *    bytes do not restart it: a client stalled in the TLS or SASL handshake
 *    or inside a request frame is idle, and holds its buffers no longer
 *    than the limit. One repeating timer sweeps the connection list every
 *    min(limit / 4, 1 s); the clock is libuv's cached loop time (uv_now),
 *    so the hot path pays a store, not a syscall.
 *  - Advertising: each listener has its own advertised address (its entry
 *    of advertised.listeners with the same security protocol, else the
 *    first entry, else its own address), and Metadata and FindCoordinator
 *    tell a client the one of the listener it connected to.
 *
 * Runs on: the broker I/O loop thread, except sync_work (thread pool).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <strings.h>

#include "broker_internal.h"
#include "cleaner.h"
#include "group.h"
#include "logging.h"
#include "pem_key.h"
#include "users.h"

#define NET "net"
#define MAX_QUEUED_RESP 4096
#define MAX_QUEUED_BYTES (64LL << 20)
#define READ_CHUNK (256 * 1024)
#define TLS_OUT_CAP (64 * 1024) /* plaintext staged per SSL_write round */

static void conn_flush(sl_conn *c);
static void conn_close(sl_conn *c, const char *why);
static void conn_update_poll(sl_conn *c);
static void conn_process(sl_conn *c);
static void start_sync_cycle(sl_broker *b);
static void fetch_timer_arm(sl_broker *b);
static void tls_write(sl_conn *c);
static void tls_read(sl_conn *c);
static int tls_poll_events(const sl_conn *c);

uint64_t sl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t sl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void kw_grow(kw *w, size_t need)
{
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *nb = realloc(w->buf, cap);
    if (!nb) {
        sl_error(NET, "out of memory growing a buffer to %zu bytes", cap);
        abort();
    }
    w->buf = nb;
    w->cap = cap;
}

/* ================= responses ================= */

sl_resp *sl_resp_new(sl_conn *c, int16_t key, int16_t ver, int32_t corr)
{
    sl_resp *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->conn = c;
    r->api_key = key;
    r->api_version = ver;
    r->correlation_id = corr;
    r->start_ns = sl_now_ns();
    kw_i32(&r->w, 0); /* size, patched by finish */
    kw_i32(&r->w, corr);
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->nresp++;
    return r;
}

static void resp_add_chunk(sl_resp *r, int fd, int64_t off, int64_t len)
{
    if (r->nchunks == r->capchunks) {
        r->capchunks = r->capchunks ? r->capchunks * 2 : 4;
        r->chunks = realloc(r->chunks, sizeof(*r->chunks) * (size_t)r->capchunks);
        if (!r->chunks)
            abort();
    }
    r->chunks[r->nchunks++] = (sl_chunk){fd, off, len};
}

static void resp_close_mem(sl_resp *r)
{
    if (r->w.len > r->mem_mark)
        resp_add_chunk(r, -1, (int64_t)r->mem_mark, (int64_t)(r->w.len - r->mem_mark));
    r->mem_mark = r->w.len;
}

void sl_resp_add_file(sl_resp *r, int fd, int64_t pos, int64_t len)
{
    resp_close_mem(r);
    resp_add_chunk(r, fd, pos, len);
}

void sl_resp_finish(sl_resp *r)
{
    int64_t total = 0;
    resp_close_mem(r);
    for (int i = 0; i < r->nchunks; i++)
        total += r->chunks[i].len;
    kw_put_i32_at(&r->w, 0, (int32_t)(total - 4));
    if (r->conn)
        r->conn->out_bytes += total;
}

static void resp_free(sl_resp *r)
{
    for (int i = r->cur; i < r->nchunks; i++)
        if (r->chunks[i].fd >= 0)
            close(r->chunks[i].fd);
    free(r->chunks);
    kw_free(&r->w);
    free(r->req_copy);
    free(r);
}

void sl_resp_discard_body(sl_resp *r)
{
    for (int i = 0; i < r->nchunks; i++)
        if (r->chunks[i].fd >= 0)
            close(r->chunks[i].fd);
    r->nchunks = 0;
    r->w.len = 8;
    r->mem_mark = 0;
}

static void unpark(sl_broker *b, sl_resp *r)
{
    if (r->prev_parked)
        r->prev_parked->next_parked = r->next_parked;
    else if (b->parked == r)
        b->parked = r->next_parked;
    if (r->next_parked)
        r->next_parked->prev_parked = r->prev_parked;
    r->next_parked = r->prev_parked = NULL;
    free(r->req_copy);
    r->req_copy = NULL;
}

void sl_resp_ready(sl_resp *r)
{
    sl_metrics_observe(r->api_key, (sl_now_ns() - r->start_ns) / 1000);
    if (r->req_copy && r->conn)
        unpark(r->conn->b, r);
    r->ready = 1;
    if (r->conn)
        conn_flush(r->conn);
}

void sl_resp_wait_sync(sl_resp *r)
{
    sl_broker *b = r->conn->b;
    r->need_cycle = b->cycle_started + 1;
    if (b->pending_tail)
        b->pending_tail->next_pending = r;
    else
        b->pending_head = r;
    b->pending_tail = r;
}

void sl_resp_park(sl_resp *r, const uint8_t *body, size_t len, int64_t max_wait_ms)
{
    sl_broker *b = r->conn->b;
    r->req_copy = malloc(len ? len : 1);
    if (!r->req_copy)
        abort();
    memcpy(r->req_copy, body, len);
    r->req_len = len;
    r->deadline_ms = sl_now_ms() + (uint64_t)(max_wait_ms > 0 ? max_wait_ms : 0);
    r->next_parked = b->parked;
    r->prev_parked = NULL;
    if (b->parked)
        b->parked->prev_parked = r;
    b->parked = r;
    fetch_timer_arm(b);
}

/* acks=0: the response is never sent; remove it from the queue. */
void sl_resp_drop(sl_resp *r)
{
    sl_conn *c = r->conn;
    sl_resp **pp = &c->head, *prev = NULL;
    for (; *pp && *pp != r; pp = &(*pp)->next)
        prev = *pp;
    if (*pp) {
        *pp = r->next;
        if (c->tail == r)
            c->tail = prev;
        c->nresp--;
    }
    resp_free(r);
    conn_flush(c);
}

/* ================= connections ================= */

static void on_conn_closed(uv_handle_t *h)
{
    sl_conn *c = h->data;
    if (c->ssl) {
        if (c->tls_ready && !c->tls_failed)
            SSL_shutdown(c->ssl); /* best effort close_notify; never waits */
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    close(c->fd);
    free(c->tls_out);
    free(c->rbuf);
    free(c);
}

static void conn_close(sl_conn *c, const char *why)
{
    sl_broker *b = c->b;
    if (c->closing)
        return;
    c->closing = 1;
    if (why)
        sl_info(NET, "closing connection from %s: %s", c->peer, why);
    for (sl_resp *r = c->head, *next; r; r = next) {
        next = r->next;
        r->next = NULL;
        if (r->held) { /* a group's join/sync answer */
            sl_groups_forget_resp(b, r);
            resp_free(r);
        } else if (r->req_copy) { /* parked fetch */
            unpark(b, r);
            resp_free(r);
        } else if (r->need_cycle && !r->ready) { /* produce waiting for fsync */
            r->conn = NULL;                      /* the pending list frees it */
        } else {
            resp_free(r);
        }
    }
    c->head = c->tail = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        b->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    b->nconns--;
    atomic_fetch_sub(&sl_broker_metrics.connections_active, 1);
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, on_conn_closed);
}

static int conn_backpressured(const sl_conn *c)
{
    return c->nresp >= MAX_QUEUED_RESP || c->out_bytes >= MAX_QUEUED_BYTES;
}

static void on_conn_event(uv_poll_t *h, int status, int events);

/* A response is queued (being served or written) or TLS bytes wait to be
 * sent: never idle, whatever the clock says. */
static int conn_busy(const sl_conn *c)
{
    return c->head || c->tls_out_off < c->tls_out_len;
}

static void conn_update_poll(sl_conn *c)
{
    int want = 0;
    if (c->closing)
        return;
    if (c->ssl)
        want = tls_poll_events(c);
    else {
        if (!conn_backpressured(c))
            want |= UV_READABLE;
        if (c->head && c->head->ready)
            want |= UV_WRITABLE;
    }
    if (want != c->poll_events) {
        c->poll_events = want;
        if (want)
            uv_poll_start(&c->poll, want, on_conn_event);
        else
            uv_poll_stop(&c->poll);
    }
}

static void on_resume_idle(uv_idle_t *h)
{
    sl_broker *b = h->data;
    uv_idle_stop(h);
    for (sl_conn *c = b->conns, *next; c; c = next) {
        next = c->next;
        if (c->resume && !c->closing) {
            c->resume = 0;
            conn_process(c);
        }
    }
}

/* The head response, all sent (or staged), leaves the queue. */
static void resp_pop(sl_conn *c)
{
    sl_resp *r = c->head;
    c->head = r->next;
    if (!c->head)
        c->tail = NULL;
    c->nresp--;
    c->active_ms = uv_now(c->b->loop); /* the idle clock restarts */
    resp_free(r);
}

/* Write as much of the ready head of the queue as the plain socket takes. */
static void sock_write(sl_conn *c)
{
    struct iovec iov[64];
    while (!c->closing && c->head && c->head->ready) {
        int n = 0;
        int64_t want = 0;
        sl_resp *r = c->head;
        sl_chunk *ch = &r->chunks[r->cur];
        if (r->cur >= r->nchunks) {
            resp_pop(c);
            continue;
        }
        if (ch->fd >= 0) {
            off_t pos = (off_t)(ch->off + r->cur_off);
            ssize_t w = sendfile(c->fd, ch->fd, &pos, (size_t)(ch->len - r->cur_off));
            if (w < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    break;
                conn_close(c, strerror(errno));
                return;
            }
            if (w == 0) {
                conn_close(c, "segment file shorter than expected while sending");
                return;
            }
            r->cur_off += w;
            c->out_bytes -= w;
            atomic_fetch_add(&sl_broker_metrics.bytes_out, (uint64_t)w);
            if (r->cur_off == ch->len) {
                close(ch->fd);
                ch->fd = -2; /* sent */
                r->cur++;
                r->cur_off = 0;
            }
            continue;
        }
        /* gather memory chunks of this and following ready responses */
        for (sl_resp *x = r; x && x->ready && n < 64; x = x->next) {
            int i = x == r ? x->cur : 0;
            int64_t skip = x == r ? x->cur_off : 0;
            for (; i < x->nchunks && n < 64 && x->chunks[i].fd == -1; i++) {
                iov[n].iov_base = x->w.buf + x->chunks[i].off + skip;
                iov[n].iov_len = (size_t)(x->chunks[i].len - skip);
                want += (int64_t)iov[n].iov_len;
                skip = 0;
                n++;
            }
            if (i < x->nchunks)
                break; /* a file chunk or iov full: stop gathering here */
        }
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            conn_close(c, strerror(errno));
            return;
        }
        c->out_bytes -= w;
        atomic_fetch_add(&sl_broker_metrics.bytes_out, (uint64_t)w);
        /* advance cursors over what was written */
        while (w > 0) {
            sl_resp *x = c->head;
            sl_chunk *xc = &x->chunks[x->cur];
            int64_t left = xc->len - x->cur_off;
            if (w >= left) {
                w -= left;
                x->cur++;
                x->cur_off = 0;
                if (x->cur >= x->nchunks) /* x is the head */
                    resp_pop(c);
            } else {
                x->cur_off += w;
                w = 0;
            }
        }
        if (w < want)
            break; /* short write: the socket is full */
    }
}

/* Send what is ready (TLS or not), then poll and resume as the queue says. */
static void conn_flush(sl_conn *c)
{
    if (c->ssl)
        tls_write(c);
    else
        sock_write(c);
    if (c->closing)
        return;
    conn_update_poll(c);
    /* frames held back by backpressure: resume, unless we are inside
     * conn_process already (a handler made a response ready) */
    if (!conn_backpressured(c) && c->rlen >= 4 && !c->resume) {
        c->resume = 1;
        if (!uv_is_active((uv_handle_t *)&c->b->resume_idle))
            uv_idle_start(&c->b->resume_idle, on_resume_idle);
    }
}

/* ================= SASL (KIP-152) ================= */
/*
 * SaslHandshake v0-1     request:  mechanism STRING
 *                        response: error_code INT16, mechanisms [STRING]
 * SaslAuthenticate v0-1  request:  auth_bytes BYTES
 *                        response: error_code INT16, error_message NULLABLE_STRING,
 *                                  auth_bytes BYTES, (v1) session_lifetime_ms INT64
 * SASL/PLAIN's message (RFC 4616), the auth_bytes: [authzid] NUL authcid NUL
 * passwd; an authzid, when given, must be the authcid (as Kafka's).
 */
#define SASL_FAILED (SL_SASL_AUTHENTICATED + 1) /* answered; the next request closes */

/* A user name fit for a log line: printable ASCII, at most 64 bytes. */
static void printable(const uint8_t *p, size_t n, char *out, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < len && o < 64; i++)
        out[o++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    out[o] = 0;
}

/* Checks a PLAIN message; 1 with the user in c->user when it is accepted. */
static int plain_ok(sl_broker *b, sl_conn *c, const uint8_t *tok, int32_t len)
{
    const uint8_t *nul1 = tok && len > 0 ? memchr(tok, 0, (size_t)len) : NULL;
    const uint8_t *end = nul1 ? tok + len : NULL, *user = nul1 ? nul1 + 1 : NULL;
    const uint8_t *nul2 = user ? memchr(user, 0, (size_t)(end - user)) : NULL;
    c->user[0] = 0;
    if (!nul2) {
        sl_warn(NET, "%s: SASL/PLAIN: malformed message (%d bytes)", c->peer, (int)len);
        return 0;
    }
    const uint8_t *pw = nul2 + 1;
    size_t ulen = (size_t)(nul2 - user), zlen = (size_t)(nul1 - tok);
    printable(user, ulen, c->user, sizeof(c->user));
    if (memchr(pw, 0, (size_t)(end - pw)) || (zlen && (zlen != ulen || memcmp(tok, user, ulen)))) {
        sl_warn(NET, "%s: SASL/PLAIN: malformed message or authorization id other than user '%s'",
                c->peer, c->user);
        return 0;
    }
    if (!sl_users_check(b->sasl_users, (const char *)user, ulen, (const char *)pw,
                        (size_t)(end - pw))) {
        sl_warn(NET, "%s: SASL/PLAIN authentication failed for user '%s'", c->peer, c->user);
        return 0;
    }
    return 1;
}

int sl_server_sasl_handshake(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    (void)b;
    kstr mech = kr_str(r);
    if (r->err)
        return -1;
    int16_t ec = KERR_NONE;
    if (c->sasl != SL_SASL_START)
        ec = KERR_ILLEGAL_SASL_STATE; /* a PLAINTEXT listener, or a second handshake */
    else if (!kstr_eq(mech, "PLAIN"))
        ec = KERR_UNSUPPORTED_SASL_MECHANISM;
    else
        c->sasl = SL_SASL_HANDSHAKEN;
    if (ec) {
        char m[64];
        printable((const uint8_t *)mech.s, mech.len > 0 ? (size_t)mech.len : 0, m, sizeof(m));
        sl_info(NET, "%s: SaslHandshake for '%s' refused (error %d)", c->peer, m, ec);
    }
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw_i16(&resp->w, ec);
    kw_i32(&resp->w, c->sasl ? 1 : 0); /* enabled mechanisms */
    if (c->sasl)
        kw_str(&resp->w, "PLAIN");
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 0;
}

int sl_server_sasl_authenticate(sl_broker *b, sl_conn *c, const sl_request *req, kr *r)
{
    int32_t len;
    const uint8_t *tok = kr_bytes(r, &len);
    if (r->err)
        return -1;
    int16_t ec = KERR_NONE;
    const char *msg = NULL;
    if (c->sasl != SL_SASL_HANDSHAKEN) {
        ec = KERR_ILLEGAL_SASL_STATE;
        msg = "SaslAuthenticate is answered once, after a SaslHandshake for PLAIN on a "
              "SASL_PLAINTEXT or SASL_SSL listener";
    } else if (plain_ok(b, c, tok, len)) {
        c->sasl = SL_SASL_AUTHENTICATED;
        sl_debug(NET, "%s: authenticated as '%s' (SASL/PLAIN)", c->peer, c->user);
    } else {
        c->sasl = SASL_FAILED;
        ec = KERR_SASL_AUTHENTICATION_FAILED;
        msg = "Authentication failed: Invalid username or password";
    }
    sl_resp *resp = sl_resp_new(c, req->api_key, req->api_version, req->correlation_id);
    kw_i16(&resp->w, ec);
    kw_str(&resp->w, msg);
    kw_i32(&resp->w, 0); /* auth_bytes: PLAIN has no server message */
    if (req->api_version >= 1)
        kw_i64(&resp->w, 0); /* session_lifetime_ms: no re-authentication */
    sl_resp_finish(resp);
    sl_resp_ready(resp);
    return 0;
}

/* On a SASL listener before authentication: may this request be answered? */
static int sasl_allows(sl_conn *c, int16_t api_key)
{
    if (c->sasl == SL_SASL_NONE || c->sasl == SL_SASL_AUTHENTICATED)
        return 1;
    if (c->sasl != SASL_FAILED && (api_key == 18 || api_key == 17 || api_key == 36))
        return 1;
    sl_warn(NET, "connection from %s: %s (key %d) %s%s%s; closing", c->peer,
            sl_api_name(api_key), api_key,
            c->sasl == SASL_FAILED ? "after a failed SASL authentication"
                                   : "before SASL authentication (",
            c->sasl == SASL_FAILED ? "" : c->listener->proto,
            c->sasl == SASL_FAILED ? "" : " listener)");
    return 0;
}

/* Dispatch one complete frame (size prefix stripped). Returns <0 to close:
 * -2 when a SASL listener refuses the request (already logged). */
static int conn_dispatch(sl_conn *c, const uint8_t *frame, size_t len)
{
    sl_request req;
    kr r;
    kr_init(&r, frame, len);
    req.api_key = kr_i16(&r);
    req.api_version = kr_i16(&r);
    req.correlation_id = kr_i32(&r);
    req.client_id = kr_str(&r);
    if (r.err) {
        atomic_fetch_add(&sl_broker_metrics.bad_frames, 1);
        sl_warn(NET, "connection from %s: request header truncated (%zu bytes)", c->peer, len);
        return -1;
    }
    /* request header v2 (tagged fields) for the flexible versions we speak */
    if (req.api_key == 18 && req.api_version >= 3 && req.api_version <= 3)
        kr_skip_tags(&r);
    if (r.err) {
        atomic_fetch_add(&sl_broker_metrics.bad_frames, 1);
        sl_warn(NET, "connection from %s: bad request header tags", c->peer);
        return -1;
    }
    if (!sasl_allows(c, req.api_key))
        return -2;
    req.body = r.p;
    req.body_len = kr_left(&r);
    return sl_handle_request(c->b, c, &req);
}

/* Parse and handle every complete frame in rbuf. */
static void conn_process(sl_conn *c)
{
    size_t off = 0;
    int64_t max = c->b->conf.socket_request_max_bytes;
    c->processing = 1;
    while (!c->closing && c->rlen - off >= 4 && !conn_backpressured(c)) {
        int32_t size = (int32_t)sl_be32(c->rbuf + off);
        if (size < 8 || size > max) {
            atomic_fetch_add(&sl_broker_metrics.bad_frames, 1);
            sl_warn(NET, "connection from %s: frame size %d outside [8, %lld] "
                    "(socket.request.max.bytes); closing", c->peer, size, (long long)max);
            conn_close(c, NULL);
            break;
        }
        if (c->rlen - off < 4 + (size_t)size)
            break;
        int rc = conn_dispatch(c, c->rbuf + off + 4, (size_t)size);
        if (rc < 0) {
            conn_close(c, rc == -2 ? NULL : "malformed request");
            break;
        }
        off += 4 + (size_t)size;
    }
    c->processing = 0;
    if (c->closing)
        return;
    if (off) {
        c->active_ms = uv_now(c->b->loop); /* a request completed: the idle clock restarts */
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    if (c->b->flush_on_ack)
        start_sync_cycle(c->b);
    conn_update_poll(c);
}

/* Room in rbuf for the next read: READ_CHUNK, or the rest of the frame we
 * are in when that is larger. Returns the room wanted, 0 when out of memory
 * (the connection is closed). */
static size_t rbuf_reserve(sl_conn *c)
{
    size_t need = READ_CHUNK;
    if (c->rlen >= 4) { /* make room for the whole frame we are in */
        int32_t size = (int32_t)sl_be32(c->rbuf);
        if (size > 0 && size <= c->b->conf.socket_request_max_bytes &&
            (size_t)size + 4 > c->rlen + need)
            need = (size_t)size + 4 - c->rlen;
    }
    if (c->rcap - c->rlen < need) {
        size_t cap = c->rcap ? c->rcap : READ_CHUNK;
        while (cap - c->rlen < need)
            cap *= 2;
        uint8_t *nb = realloc(c->rbuf, cap);
        if (!nb) {
            conn_close(c, "out of memory for request buffer");
            return 0;
        }
        c->rbuf = nb;
        c->rcap = cap;
    }
    return need;
}

/* A buffer that grew for one huge request goes once it is empty. */
static void rbuf_shrink(sl_conn *c)
{
    if (!c->closing && c->rlen == 0 && c->rcap > 4 * READ_CHUNK) {
        free(c->rbuf);
        c->rbuf = NULL;
        c->rcap = 0;
    }
}

static void conn_read(sl_conn *c)
{
    if (c->ssl) {
        tls_read(c);
        return;
    }
    for (int rounds = 0; rounds < 16 && !c->closing; rounds++) {
        size_t need = rbuf_reserve(c);
        if (!need)
            return;
        ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (n == 0) {
            conn_close(c, NULL);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                conn_close(c, strerror(errno));
            break;
        }
        c->rlen += (size_t)n;
        atomic_fetch_add(&sl_broker_metrics.bytes_in, (uint64_t)n);
        conn_process(c);
        if (c->closing || conn_backpressured(c))
            return;
        if ((size_t)n < need)
            break;
    }
    rbuf_shrink(c);
}

/* ================= TLS connections (SSL and SASL_SSL) ================= */

/* A new server-side TLS session on fd; NULL when OpenSSL is out of memory. */
static struct ssl_st *tls_conn_new(sl_broker *b, int fd)
{
    SSL *ssl = SSL_new(b->ssl_ctx);
    if (ssl && SSL_set_fd(ssl, fd) == 1) {
        SSL_set_accept_state(ssl);
        return ssl;
    }
    SSL_free(ssl);
    ERR_clear_error();
    return NULL;
}

/* OpenSSL's reason for the last failure, its error queue emptied. */
static const char *tls_reason(char *buf, size_t len)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()))
        last = e;
    const char *r = last ? ERR_reason_error_string(last) : NULL;
    snprintf(buf, len, "%s", r ? r : last ? "unknown OpenSSL error" : strerror(errno));
    return buf;
}

/* A TLS call failed with SSL_get_error's code e: one line, then close. */
static void tls_fail(sl_conn *c, int e, const char *during)
{
    char why[256];
    c->tls_failed = 1;
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !ERR_peek_error() && !errno))
        snprintf(why, sizeof(why), "the client closed the connection");
    else
        tls_reason(why, sizeof(why));
    ERR_clear_error();
    if (!c->tls_ready)
        sl_warn(NET, "closing connection from %s: TLS handshake failed: %s", c->peer, why);
    else if (e == SSL_ERROR_ZERO_RETURN || !strcmp(why, "the client closed the connection"))
        sl_debug(NET, "connection from %s: %s", c->peer, why);
    else
        sl_warn(NET, "closing connection from %s: TLS %s failed: %s", c->peer, during, why);
    conn_close(c, NULL);
}

/* The client certificate's subject, for the log and c->user (mutual TLS). */
static void tls_note_peer(sl_conn *c)
{
    X509 *x = SSL_get1_peer_certificate(c->ssl);
    if (!x)
        return;
    X509_NAME_oneline(X509_get_subject_name(x), c->user, sizeof(c->user));
    X509_free(x);
    sl_debug(NET, "%s: client certificate '%s' verified", c->peer, c->user);
}

/* Runs until the handshake is done, from the connection's poll events. */
static void tls_handshake(sl_conn *c)
{
    if (!c->tls_peeked) {
        uint8_t first;
        ssize_t n = recv(c->fd, &first, 1, MSG_PEEK);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) { /* gone before a byte (a port probe): no line, as on PLAINTEXT */
            sl_debug(NET, "connection from %s: %s before the TLS handshake", c->peer,
                     n ? strerror(errno) : "closed");
            conn_close(c, NULL);
            return;
        }
        if (first < 0x14 || first > 0x17) { /* TLS record types: 0x16 handshake, 0x15 alert.. */
            sl_warn(NET,
                    "closing connection from %s: not a TLS client on %s listener %s:%d (first "
                    "byte 0x%02x; a PLAINTEXT client?)",
                    c->peer, c->listener->proto, c->listener->host, c->listener->port, first);
            c->tls_failed = 1;
            conn_close(c, NULL);
            return;
        }
        c->tls_peeked = 1;
    }
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(c->ssl);
    if (rc != 1) {
        int e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            c->tls_want = e == SSL_ERROR_WANT_READ ? UV_READABLE : UV_WRITABLE;
            conn_update_poll(c);
        } else {
            tls_fail(c, e, "handshake");
        }
        return;
    }
    c->tls_ready = 1;
    c->tls_want = 0;
    if (!(c->tls_out = malloc(TLS_OUT_CAP))) {
        conn_close(c, "out of memory for the TLS output buffer");
        return;
    }
    tls_note_peer(c);
    sl_debug(NET, "%s: %s established (%s)", c->peer, SSL_get_version(c->ssl),
             SSL_get_cipher_name(c->ssl));
    tls_read(c); /* a request may have come with the handshake's last flight */
    if (!c->closing)
        conn_update_poll(c);
}

/* Copy ready responses into tls_out: memory chunks by memcpy, segment
 * ranges by pread. A response leaves the queue once it is all staged. */
static void tls_stage(sl_conn *c)
{
    while (c->head && c->head->ready && c->tls_out_len < TLS_OUT_CAP) {
        sl_resp *r = c->head;
        if (r->cur >= r->nchunks) {
            resp_pop(c);
            continue;
        }
        sl_chunk *ch = &r->chunks[r->cur];
        uint8_t *dst = c->tls_out + c->tls_out_len;
        int64_t take = ch->len - r->cur_off;
        if (take > (int64_t)(TLS_OUT_CAP - c->tls_out_len))
            take = (int64_t)(TLS_OUT_CAP - c->tls_out_len);
        if (ch->fd >= 0) {
            ssize_t n = pread(ch->fd, dst, (size_t)take, (off_t)(ch->off + r->cur_off));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                conn_close(c, n ? strerror(errno)
                                : "segment file shorter than expected while sending");
                return;
            }
            take = n;
        } else {
            memcpy(dst, r->w.buf + ch->off + r->cur_off, (size_t)take);
        }
        c->tls_out_len += (size_t)take;
        c->out_bytes -= take;
        atomic_fetch_add(&sl_broker_metrics.bytes_out, (uint64_t)take);
        r->cur_off += take;
        if (r->cur_off == ch->len) {
            if (ch->fd >= 0) {
                close(ch->fd);
                ch->fd = -2; /* sent */
            }
            r->cur++;
            r->cur_off = 0;
        }
    }
}

/* SSL_write the staged bytes, restaging until the queue or the socket is
 * exhausted. After WANT_WRITE the same bytes are offered again. */
static void tls_write(sl_conn *c)
{
    if (!c->tls_ready)
        return; /* responses wait for the handshake (none can exist yet) */
    while (!c->closing) {
        if (c->tls_out_off == c->tls_out_len) {
            c->tls_out_off = c->tls_out_len = 0;
            tls_stage(c);
            if (c->closing || !c->tls_out_len)
                return;
        }
        ERR_clear_error();
        errno = 0;
        int n =
            SSL_write(c->ssl, c->tls_out + c->tls_out_off, (int)(c->tls_out_len - c->tls_out_off));
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_WRITE) /* the staged bytes keep UV_WRITABLE asked */
                return;
            if (e == SSL_ERROR_WANT_READ) {
                c->tls_want |= UV_READABLE;
                return;
            }
            tls_fail(c, e, "write");
            return;
        }
        c->tls_out_off += (size_t)n;
        if (c->tls_out_off == c->tls_out_len) /* all sent: the idle clock restarts */
            c->active_ms = uv_now(c->b->loop);
    }
}

/* SSL_read into rbuf (the same framing as a plain socket) until the socket
 * has nothing more, backpressure, or a bound that keeps the loop fair. */
static void tls_read(sl_conn *c)
{
    for (int rounds = 0; rounds < 64 && !c->closing; rounds++) {
        size_t need = rbuf_reserve(c);
        if (!need)
            return;
        size_t room = c->rcap - c->rlen;
        ERR_clear_error();
        errno = 0;
        int n = SSL_read(c->ssl, c->rbuf + c->rlen, room > INT32_MAX ? INT32_MAX : (int)room);
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ)
                break;
            if (e == SSL_ERROR_WANT_WRITE) { /* a post-handshake message to answer */
                c->tls_want |= UV_WRITABLE;
                break;
            }
            tls_fail(c, e, "read");
            return;
        }
        c->rlen += (size_t)n;
        atomic_fetch_add(&sl_broker_metrics.bytes_in, (uint64_t)n);
        conn_process(c);
        if (c->closing || conn_backpressured(c))
            return;
    }
    rbuf_shrink(c);
}

/* The poll events a TLS connection waits for. */
static int tls_poll_events(const sl_conn *c)
{
    if (!c->tls_ready)
        return c->tls_want;
    int want = c->tls_want;
    if (!conn_backpressured(c))
        want |= UV_READABLE;
    if ((c->head && c->head->ready) || c->tls_out_off < c->tls_out_len)
        want |= UV_WRITABLE;
    return want;
}

static void tls_event(sl_conn *c, int events)
{
    if (!c->tls_ready) {
        tls_handshake(c);
        return;
    }
    int retry = c->tls_want; /* an SSL_read or SSL_write waiting for these events */
    c->tls_want = 0;
    if ((events & UV_WRITABLE) || (retry & events & UV_READABLE))
        conn_flush(c);
    if (!c->closing && ((events & UV_READABLE) || (retry & events & UV_WRITABLE)))
        conn_read(c);
    if (!c->closing)
        conn_update_poll(c);
}

/* libuv turns POLLERR (say, a reset by the peer) into UV_EBADF: name the
 * socket's own error instead. A TLS client that refuses our certificate
 * sends its alert and closes, often with a reset; the alert is still
 * queued, so the handshake reads it once more and names the reason. */
static void conn_poll_error(sl_conn *c, int status)
{
    int e = 0;
    socklen_t len = sizeof(e);
    char why[128];
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) || !e)
        snprintf(why, sizeof(why), "%s", uv_strerror(status));
    else
        snprintf(why, sizeof(why), "%s", strerror(e));
    if (c->ssl && !c->tls_ready)
        tls_handshake(c);
    if (!c->closing)
        conn_close(c, why);
}

static void on_conn_event(uv_poll_t *h, int status, int events)
{
    sl_conn *c = h->data;
    if (status < 0) {
        conn_poll_error(c, status);
        return;
    }
    if (c->ssl) {
        tls_event(c, events);
        return;
    }
    if (events & UV_WRITABLE)
        conn_flush(c);
    if (!c->closing && (events & UV_READABLE))
        conn_read(c);
}

static void on_accept(uv_poll_t *h, int status, int events)
{
    sl_listener *l = h->data;
    sl_broker *b = l->b;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                sl_warn(NET, "accept on %s:%d: %s", l->host, l->port, strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        sl_conn *c = calloc(1, sizeof(*c));
        if (!c || (l->tls && !(c->ssl = tls_conn_new(b, fd)))) {
            sl_warn(NET, "accept on %s:%d: out of memory for a connection", l->host, l->port);
            free(c);
            close(fd);
            continue;
        }
        c->b = b;
        c->fd = fd;
        c->listener = l;
        c->active_ms = uv_now(b->loop);
        c->tls_want = UV_READABLE; /* a TLS handshake starts with the client's hello */
        c->sasl = l->sasl ? SL_SASL_START : SL_SASL_NONE;
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
        }
        snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
        uv_poll_init(b->loop, &c->poll, fd);
        c->poll.data = c;
        c->next = b->conns;
        if (b->conns)
            b->conns->prev = c;
        b->conns = c;
        b->nconns++;
        atomic_fetch_add(&sl_broker_metrics.connections_accepted, 1);
        atomic_fetch_add(&sl_broker_metrics.connections_active, 1);
        sl_debug(NET, "connection from %s", c->peer);
        conn_update_poll(c);
    }
}

/* ================= group commit ================= */

void sl_server_mark_dirty(sl_broker *b, sl_partition *p)
{
    if (p->dirty)
        return;
    p->dirty = 1;
    p->next_dirty = b->dirty_head;
    b->dirty_head = p;
}

/* Runs on: a libuv pool thread. Worker k syncs points k, k+W, k+2W, ... so
 * the partitions of one cycle are flushed in parallel (latency no longer
 * grows with the number of dirty partitions). */
void sl_server_appended(sl_broker *b, sl_partition *p)
{
    sl_server_mark_dirty(b, p);
    if (!b->flush_on_ack)
        sl_log_set_high_watermark(p->log, sl_log_end_offset(p->log));
}

void sl_resp_answer_appended(sl_resp *r, int appended)
{
    sl_broker *b = r->conn->b;
    if (appended && b->flush_on_ack) {
        sl_resp_wait_sync(r);
        return;
    }
    sl_resp_ready(r);
    if (appended)
        sl_server_wake_fetches(b);
}

static void sync_work(uv_work_t *req)
{
    sl_broker *b = req->data;
    int k = (int)(req - b->sync_work), n = 0;
    uint64_t t0 = sl_now_ns();
    for (int i = k; i < b->sync_n; i += b->sync_workers, n++)
        sl_log_sync_run(&b->sync_points[i]);
    atomic_fetch_add(&sl_broker_metrics.fsync_us, (sl_now_ns() - t0) / 1000);
    atomic_fetch_add(&sl_broker_metrics.fsyncs, (uint64_t)n);
}

void sl_server_wake_fetches(sl_broker *b)
{
    for (sl_resp *r = b->parked, *next; r; r = next) {
        next = r->next_parked;
        sl_fetch_reevaluate(b, r, 0);
    }
}

static void sync_done(uv_work_t *req, int status)
{
    sl_broker *b = req->data;
    int n = b->sync_n;
    if (--b->sync_workers_left > 0)
        return; /* the cycle ends with its last worker */
    b->sync_inflight = 0;
    for (int i = 0; i < n; i++) {
        sl_partition *p = b->sync_parts[i];
        sl_log_syncpoint *sp = &b->sync_points[i];
        p->in_sync--;
        if (p->deleted) {
            if (!p->in_sync)
                sl_partition_free(p);
            continue;
        }
        if (sp->result) {
            sl_error(SL_BROKER_COMPONENT,
                     "fdatasync of %s failed: %s; stopping so that recovery, not a retry, decides "
                     "what is on disk", sl_log_dir(p->log), strerror(-sp->result));
            exit(70);
        }
        sl_log_sync_end(p->log, sp);
    }
    b->sync_n = 0;
    b->cycle_done++;
    atomic_fetch_add(&sl_broker_metrics.sync_cycles, 1);
    while (b->pending_head && b->pending_head->need_cycle <= b->cycle_done) {
        sl_resp *r = b->pending_head;
        b->pending_head = r->next_pending;
        if (!b->pending_head)
            b->pending_tail = NULL;
        r->next_pending = NULL;
        if (!r->conn)
            resp_free(r); /* its connection closed meanwhile */
        else
            sl_resp_ready(r);
    }
    sl_server_wake_fetches(b);
    if (b->flush_on_ack)
        start_sync_cycle(b);
}

static void start_sync_cycle(sl_broker *b)
{
    if (b->sync_inflight || !b->dirty_head)
        return;
    b->sync_n = 0;
    for (sl_partition *p = b->dirty_head, *next; p; p = next) {
        next = p->next_dirty;
        p->dirty = 0;
        p->next_dirty = NULL;
        if (b->sync_n == b->sync_cap) {
            b->sync_cap = b->sync_cap ? b->sync_cap * 2 : 64;
            b->sync_parts = realloc(b->sync_parts, sizeof(*b->sync_parts) * (size_t)b->sync_cap);
            b->sync_points = realloc(b->sync_points, sizeof(*b->sync_points) * (size_t)b->sync_cap);
            if (!b->sync_parts || !b->sync_points)
                abort();
        }
        int rc = sl_log_sync_begin(p->log, &b->sync_points[b->sync_n]);
        if (rc < 0) {
            sl_error(SL_BROKER_COMPONENT, "%s: cannot start fdatasync (out of file descriptors?)",
                     sl_log_dir(p->log));
            exit(70);
        }
        if (rc == 0)
            continue;
        b->sync_parts[b->sync_n++] = p;
        p->in_sync++;
    }
    b->dirty_head = NULL;
    b->cycle_started++;
    b->sync_inflight = 1;
    b->sync_workers = b->sync_n < 4 ? (b->sync_n ? b->sync_n : 1) : 4;
    b->sync_workers_left = b->sync_workers;
    /* an empty cycle still completes through the pool, keeping order simple */
    for (int k = 0; k < b->sync_workers; k++) {
        b->sync_work[k].data = b;
        uv_queue_work(b->loop, &b->sync_work[k], sync_work, sync_done);
    }
}

void sl_server_partition_gone(sl_broker *b, sl_partition *p)
{
    if (p->dirty) {
        sl_partition **pp = &b->dirty_head;
        for (; *pp; pp = &(*pp)->next_dirty)
            if (*pp == p) {
                *pp = p->next_dirty;
                break;
            }
        p->dirty = 0;
    }
    if (!p->in_sync)
        sl_partition_free(p);
}

/* ================= timers ================= */

static void on_fetch_timer(uv_timer_t *t)
{
    sl_broker *b = t->data;
    uint64_t now = sl_now_ms();
    b->fetch_timer_due = 0;
    for (sl_resp *r = b->parked, *next; r; r = next) {
        next = r->next_parked;
        if (r->deadline_ms <= now)
            sl_fetch_reevaluate(b, r, 1);
    }
    fetch_timer_arm(b);
}

static void fetch_timer_arm(sl_broker *b)
{
    uint64_t due = 0, now = sl_now_ms();
    for (sl_resp *r = b->parked; r; r = r->next_parked)
        if (!due || r->deadline_ms < due)
            due = r->deadline_ms;
    if (!due) {
        uv_timer_stop(&b->fetch_timer);
        b->fetch_timer_due = 0;
        return;
    }
    if (b->fetch_timer_due && b->fetch_timer_due <= due)
        return;
    b->fetch_timer_due = due;
    uv_timer_start(&b->fetch_timer, on_fetch_timer, due > now ? due - now : 0, 0);
}

/* What an idle connection was stalled in, for its log line. */
static const char *idle_stage(const sl_conn *c, char *buf, size_t len)
{
    if (c->ssl && !c->tls_ready)
        return c->tls_peeked ? " in the TLS handshake" : " before the TLS handshake (no byte sent)";
    if (c->rlen) {
        snprintf(buf, len, " with %zu bytes of an unfinished request", c->rlen);
        return buf;
    }
    if (c->sasl == SL_SASL_START || c->sasl == SL_SASL_HANDSHAKEN)
        return " before SASL authentication";
    return "";
}

/* connections.max.idle.ms: close what has been idle that long (see the
 * design notes). A busy connection's clock is moved along too, so that it
 * counts from when the connection stopped being busy however its queue
 * emptied (resp_pop sets the exact time on the usual path). */
static void on_idle_timer(uv_timer_t *t)
{
    sl_broker *b = t->data;
    uint64_t now = uv_now(b->loop), limit = (uint64_t)b->conf.connections_max_idle_ms;
    for (sl_conn *c = b->conns, *next; c; c = next) {
        next = c->next; /* conn_close unlinks c */
        if (conn_busy(c)) {
            c->active_ms = now;
            continue;
        }
        if (now - c->active_ms < limit)
            continue;
        char buf[64];
        const sl_listener *l = c->listener;
        sl_info(NET,
                "closing connection from %s on %s listener %s:%d: idle for %llu ms%s "
                "(connections.max.idle.ms=%lld)",
                c->peer, l->proto, l->host[0] ? l->host : "*", l->port,
                (unsigned long long)(now - c->active_ms), idle_stage(c, buf, sizeof(buf)),
                (long long)limit);
        conn_close(c, NULL);
    }
}

typedef struct retain_ctx {
    sl_broker *b;
    int64_t now;
    uint64_t bytes;
} retain_ctx;

static void retain_topic(sl_topic *t, void *arg)
{
    retain_ctx *rc = arg;
    char err[512];
    for (int32_t i = 0; i < t->npart; i++) {
        sl_log *log = t->parts[i]->log;
        if (rc->now) {
            int n = sl_log_retain(log, rc->now, err, sizeof(err));
            if (n < 0)
                sl_warn(SL_BROKER_COMPONENT, "retention of %s-%d: %s", t->name, i, err);
            else if (n > 0)
                sl_info(SL_BROKER_COMPONENT, "retention deleted %d segment(s) of %s-%d, log start "
                        "offset now %lld", n, t->name, i, (long long)sl_log_start_offset(log));
        }
        rc->bytes += (uint64_t)sl_log_size_bytes(log);
    }
}

static void on_retention_timer(uv_timer_t *t)
{
    sl_broker *b = t->data;
    retain_ctx rc = {b, (int64_t)sl_now_ms(), 0};
    sl_topics_foreach(b, retain_topic, &rc);
    atomic_store(&sl_broker_metrics.log_bytes, rc.bytes);
}

void sl_metrics_refresh_gauges(sl_broker *b)
{
    retain_ctx rc = {b, 0, 0};
    sl_topics_foreach(b, retain_topic, &rc);
    atomic_store(&sl_broker_metrics.log_bytes, rc.bytes);
}

static void on_flush_timer(uv_timer_t *t)
{
    sl_broker *b = t->data;
    sl_metrics_refresh_gauges(b);
    if (!b->flush_on_ack)
        start_sync_cycle(b);
    sl_cleaner_tick(b); /* log compaction, every log.cleaner.backoff.ms */
}

/* ================= listeners ================= */

static int parse_hostport(const char *spec, char *host, size_t hostlen, int *port)
{
    const char *p = strstr(spec, "://");
    const char *colon;
    p = p ? p + 3 : spec;
    colon = strrchr(p, ':');
    if (!colon)
        return -1;
    size_t hl = (size_t)(colon - p);
    if (hl >= hostlen)
        return -1;
    memcpy(host, p, hl);
    host[hl] = 0;
    if (host[0] == '[' && hl > 1 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (*end || v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

static int listen_on(sl_broker *b, sl_listener *l, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char port[16];
    int fd = -1, one = 1, rc;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port, sizeof(port), "%d", l->port);
    rc = getaddrinfo(l->host[0] ? l->host : NULL, port, &hints, &ai);
    if (rc) {
        snprintf(err, errlen, "listeners: cannot resolve '%s': %s", l->host, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1024))
        goto fail;
    freeaddrinfo(ai);
    l->fd = fd;
    l->b = b;
    uv_poll_init(b->loop, &l->poll, fd);
    l->poll.data = l;
    uv_poll_start(&l->poll, UV_READABLE, on_accept);
    sl_info(NET, "listening on %s:%d", l->host[0] ? l->host : "*", l->port);
    return 0;
fail:
    snprintf(err, errlen, "listeners: cannot listen on %s:%d: %s", l->host[0] ? l->host : "*",
             l->port, strerror(errno));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return -1;
}

/* ================= TLS set-up (SSL and SASL_SSL listeners) ================= */

/* ssl.client.auth and ssl.ca.location: who may connect with what. */
static int tls_client_auth(SSL_CTX *ctx, const sl_broker_conf *cf, char *err, size_t errlen)
{
    const char *mode = cf->ssl_client_auth ? cf->ssl_client_auth : "none";
    const char *ca = cf->ssl_ca_location;
    int required = !strcasecmp(mode, "required");
    if (!strcasecmp(mode, "none")) {
        if (ca && *ca)
            sl_warn(NET, "ssl.ca.location is set but ssl.client.auth is none: client "
                         "certificates are not asked for");
        return 0;
    }
    if (!required && strcasecmp(mode, "requested")) {
        snprintf(err, errlen, "ssl.client.auth: '%s' must be none, requested or required", mode);
        return -1;
    }
    if (!ca || !*ca) {
        snprintf(err, errlen,
                 "ssl.client.auth=%s needs ssl.ca.location (PEM certificates of the CAs that "
                 "sign client certificates)",
                 mode);
        return -1;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (!names || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        snprintf(err, errlen, "ssl.ca.location '%s': %s", ca,
                 access(ca, R_OK) ? strerror(errno) : "no PEM certificate in it");
        return -1;
    }
    SSL_CTX_set_client_CA_list(ctx, names); /* takes names */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                       NULL);
    return 0;
}

/* The broker's SSL_CTX, from the ssl.* keys; `listener` is named in errors.
 * TLS 1.2 or later, no renegotiation. -1 with err naming the key. */
static int tls_ctx_create(sl_broker *b, const char *listener, char *err, size_t errlen)
{
    const sl_broker_conf *cf = &b->conf;
    EVP_PKEY *pkey = NULL;
    SSL_CTX *ctx = NULL;
    if (!cf->ssl_certificate_location || !*cf->ssl_certificate_location || !cf->ssl_key_location ||
        !*cf->ssl_key_location) {
        snprintf(err, errlen,
                 "listeners: '%s' needs ssl.certificate.location and ssl.key.location (PEM "
                 "files)",
                 listener);
        return -1;
    }
    if (!(ctx = SSL_CTX_new(TLS_server_method())) ||
        !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        snprintf(err, errlen, "TLS: cannot set up OpenSSL: %s", tls_reason(err, errlen));
        goto fail;
    }
    /* a client gone without close_notify is a close, not an error worth a line */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* no SSL_MODE_RELEASE_BUFFERS: it would free and allocate buffers per record */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sluice", 6);
    if (SSL_CTX_use_certificate_chain_file(ctx, cf->ssl_certificate_location) != 1) {
        snprintf(err, errlen, "ssl.certificate.location '%s': %s", cf->ssl_certificate_location,
                 access(cf->ssl_certificate_location, R_OK) ? strerror(errno)
                                                            : "no PEM certificate in it");
        goto fail;
    }
    if (!(pkey = sl_pem_key_read("", cf->ssl_key_location, cf->ssl_key_password, err, errlen)))
        goto fail;
    if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen,
                 "ssl.key.location '%s' is not the key of the certificate in "
                 "ssl.certificate.location '%s'",
                 cf->ssl_key_location, cf->ssl_certificate_location);
        goto fail;
    }
    X509 *x = SSL_CTX_get0_certificate(ctx);
    if (x && X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
        sl_warn(NET,
                "ssl.certificate.location '%s': the certificate has expired; clients will "
                "refuse it",
                cf->ssl_certificate_location);
    if (tls_client_auth(ctx, cf, err, errlen))
        goto fail;
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    b->ssl_ctx = ctx;
    sl_info(NET, "TLS: certificate %s, client certificates %s", cf->ssl_certificate_location,
            cf->ssl_client_auth ? cf->ssl_client_auth : "none");
    return 0;
fail:
    EVP_PKEY_free(pkey);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return -1;
}

/* ================= advertised addresses ================= */

/* The entry of advertised.listeners for l: the one with l's security
 * protocol, else the first one; NULL when the key is not set. */
static const char *adv_entry(const char *adv, const sl_listener *l, char *buf, size_t len)
{
    char *save = NULL, *first = NULL;
    size_t plen = strlen(l->proto);
    if (!adv || !*adv)
        return NULL;
    snprintf(buf, len, "%s", adv);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (!first)
            first = tok;
        if (!strncmp(tok, l->proto, plen) && !strncmp(tok + plen, "://", 3))
            return tok;
    }
    return first;
}

/* Each listener's advertised host:port (see the design notes above). */
static int advertise(sl_broker *b, char *err, size_t errlen)
{
    for (int i = 0; i < b->nlisteners; i++) {
        sl_listener *l = &b->listeners[i];
        char buf[1024];
        const char *e = adv_entry(b->conf.advertised_listeners, l, buf, sizeof(buf));
        if (e && parse_hostport(e, l->adv_host, sizeof(l->adv_host), &l->adv_port)) {
            snprintf(err, errlen, "advertised.listeners: '%s' is not PROTOCOL://host:port", e);
            return -1;
        }
        if (!e) {
            snprintf(l->adv_host, sizeof(l->adv_host), "%s", l->host);
            l->adv_port = l->port;
        }
        if (!l->adv_host[0] || !strcmp(l->adv_host, "0.0.0.0") || !strcmp(l->adv_host, "::"))
            snprintf(l->adv_host, sizeof(l->adv_host), "localhost");
        if (l->adv_port == 0) { /* port 0: tell the real one */
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            if (!getsockname(l->fd, (struct sockaddr *)&ss, &sl))
                l->adv_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(b->adv_host, sizeof(b->adv_host), "%s", b->listeners[0].adv_host);
    b->adv_port = b->listeners[0].adv_port;
    return 0;
}

/* "SSL://h:p" -> its security protocol; NULL when it is none we serve. */
static const char *listener_proto(const char *spec, int *sasl, int *tls)
{
    static const struct {
        const char *name;
        int sasl, tls;
    } protos[] = {{"PLAINTEXT", 0, 0}, {"SASL_PLAINTEXT", 1, 0}, {"SSL", 0, 1}, {"SASL_SSL", 1, 1}};
    if (!strstr(spec, "://")) {
        *sasl = *tls = 0;
        return "PLAINTEXT";
    }
    for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
        size_t n = strlen(protos[i].name);
        if (!strncmp(spec, protos[i].name, n) && !strncmp(spec + n, "://", 3)) {
            *sasl = protos[i].sasl;
            *tls = protos[i].tls;
            return protos[i].name;
        }
    }
    return NULL;
}

/* The one running broker, for sl_broker_shutdown(); set while it serves. */
static _Atomic(sl_broker *) running;

static void on_shutdown(uv_async_t *a)
{
    sl_server_stop(a->data);
}

void sl_broker_shutdown(void)
{
    sl_broker *b = atomic_load(&running);
    if (b)
        uv_async_send(&b->shutdown);
}

static void on_signal(uv_signal_t *s, int signum)
{
    sl_broker *b = s->data;
    if (b->embed && b->embed->stopping) {
        sl_info(SL_BROKER_COMPONENT, "signal %d: stopping the other roles first", signum);
        const sl_broker_embed *e = b->embed;
        b->embed = NULL; /* a second signal stops the broker at once */
        e->stopping(e->arg);
        return;
    }
    sl_info(SL_BROKER_COMPONENT, "signal %d: shutting down", signum);
    sl_server_stop(b);
}

/* sasl.users.file, for the first SASL_PLAINTEXT listener (named in errors). */
static int sasl_users_load(sl_broker *b, const char *listener, char *err, size_t errlen)
{
    const char *path = b->conf.sasl_users_file;
    if (!path || !*path) {
        snprintf(err, errlen,
                 "listeners: '%s' needs sasl.users.file (the SASL/PLAIN users, one "
                 "user:password a line)",
                 listener);
        return -1;
    }
    if (!(b->sasl_users = sl_users_create()) ||
        sl_users_add_file(b->sasl_users, "sasl.users.file", path, err, errlen))
        return -1;
    if (sl_users_count(b->sasl_users) == 0) {
        snprintf(err, errlen, "sasl.users.file '%s': no user:password line in it", path);
        return -1;
    }
    sl_info(NET, "SASL/PLAIN: %zu user(s) from %s", sl_users_count(b->sasl_users), path);
    return 0;
}

int sl_server_start(sl_broker *b, char *err, size_t errlen)
{
    char *spec = strdup(b->conf.listeners), *save = NULL, *tok;
    for (tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        sl_listener *l;
        while (*tok == ' ')
            tok++;
        if (!*tok)
            continue;
        if (b->nlisteners == SL_MAX_LISTENERS) {
            snprintf(err, errlen, "listeners: at most %d", SL_MAX_LISTENERS);
            goto fail;
        }
        int sasl, tls;
        const char *proto = listener_proto(tok, &sasl, &tls);
        if (!proto) {
            snprintf(err, errlen,
                     "listeners: '%s': the protocol must be PLAINTEXT, SASL_PLAINTEXT, SSL or "
                     "SASL_SSL",
                     tok);
            goto fail;
        }
        l = &b->listeners[b->nlisteners];
        if (parse_hostport(tok, l->host, sizeof(l->host), &l->port)) {
            snprintf(err, errlen, "listeners: '%s' is not %s://host:port", tok, proto);
            goto fail;
        }
        l->sasl = sasl;
        l->tls = tls;
        l->proto = proto;
        if (sasl && !b->sasl_users && sasl_users_load(b, tok, err, errlen))
            goto fail;
        if (tls && !b->ssl_ctx && tls_ctx_create(b, tok, err, errlen))
            goto fail;
        if (listen_on(b, l, err, errlen))
            goto fail;
        b->nlisteners++;
    }
    if (!b->nlisteners) {
        snprintf(err, errlen, "listeners: none configured");
        goto fail;
    }
    free(spec);
    spec = NULL;
    if (!b->ssl_ctx && ((b->conf.ssl_certificate_location && *b->conf.ssl_certificate_location) ||
                        (b->conf.ssl_key_location && *b->conf.ssl_key_location)))
        sl_warn(NET, "ssl.certificate.location / ssl.key.location are set but no listener is "
                     "SSL or SASL_SSL: they are not used");
    if (advertise(b, err, errlen)) /* what Metadata tells clients */
        goto fail;
    uv_idle_init(b->loop, &b->resume_idle);
    b->resume_idle.data = b;
    uv_timer_init(b->loop, &b->fetch_timer);
    b->fetch_timer.data = b;
    uv_timer_init(b->loop, &b->retention_timer);
    b->retention_timer.data = b;
    uv_timer_start(&b->retention_timer, on_retention_timer,
                   (uint64_t)b->conf.log_retention_check_interval_ms,
                   (uint64_t)b->conf.log_retention_check_interval_ms);
    uv_timer_init(b->loop, &b->flush_timer);
    b->flush_timer.data = b;
    uint64_t fi = b->flush_on_ack ? 1000 : (uint64_t)b->conf.log_flush_interval_ms;
    uv_timer_start(&b->flush_timer, on_flush_timer, fi, fi);
    uv_timer_init(b->loop, &b->idle_timer);
    b->idle_timer.data = b;
    uint64_t sweep = (uint64_t)b->conf.connections_max_idle_ms / 4;
    sweep = sweep < 1 ? 1 : sweep > 1000 ? 1000 : sweep;
    uv_timer_start(&b->idle_timer, on_idle_timer, sweep, sweep);
    uv_signal_init(b->loop, &b->sigint);
    b->sigint.data = b;
    uv_signal_start(&b->sigint, on_signal, SIGINT);
    uv_signal_init(b->loop, &b->sigterm);
    b->sigterm.data = b;
    uv_signal_start(&b->sigterm, on_signal, SIGTERM);
    uv_async_init(b->loop, &b->shutdown, on_shutdown);
    b->shutdown.data = b;
    atomic_store(&running, b);
    sl_metrics_refresh_gauges(b);
    return 0;
fail:
    free(spec);
    for (int i = 0; i < b->nlisteners; i++) {
        uv_poll_stop(&b->listeners[i].poll);
        close(b->listeners[i].fd);
    }
    b->nlisteners = 0;
    sl_users_destroy(b->sasl_users);
    b->sasl_users = NULL;
    SSL_CTX_free(b->ssl_ctx);
    b->ssl_ctx = NULL;
    return -1;
}

/* Stop accepting, answer what is pending, close everything; uv_run returns
 * once the last handle is closed and the last sync cycle completed. */
void sl_server_stop(sl_broker *b)
{
    if (b->stopping)
        return;
    b->stopping = 1;
    for (int i = 0; i < b->nlisteners; i++) {
        uv_poll_stop(&b->listeners[i].poll);
        uv_close((uv_handle_t *)&b->listeners[i].poll, NULL);
        close(b->listeners[i].fd);
    }
    while (b->conns)
        conn_close(b->conns, NULL);
    sl_groups_stop(b);
    uv_close((uv_handle_t *)&b->resume_idle, NULL);
    uv_close((uv_handle_t *)&b->fetch_timer, NULL);
    uv_close((uv_handle_t *)&b->retention_timer, NULL);
    uv_close((uv_handle_t *)&b->flush_timer, NULL);
    uv_close((uv_handle_t *)&b->idle_timer, NULL);
    uv_close((uv_handle_t *)&b->sigint, NULL);
    uv_close((uv_handle_t *)&b->sigterm, NULL);
    atomic_store(&running, NULL);
    uv_close((uv_handle_t *)&b->shutdown, NULL);
    sl_users_destroy(b->sasl_users); /* no connection is left to check against them */
    b->sasl_users = NULL;
    /* connections hold references to ssl_ctx until their handles close:
     * SSL_CTX_free only drops ours */
    SSL_CTX_free(b->ssl_ctx);
    b->ssl_ctx = NULL;
}
