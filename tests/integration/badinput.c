/*
 * badinput.c - throw malformed Kafka requests at a broker over raw sockets
 * (no librdkafka: a client library would never send these) and check that
 * each is answered or refused the way a robust broker must, without taking
 * the broker down. Every case uses a fresh connection.
 *
 *   badinput HOST PORT TOPIC [framing,headers,produce]
 *
 * The optional fourth argument runs only the named groups of cases.
 * TOPIC must exist with partition 0 (badinput.sh creates it). Prints one line
 * per case, "ok:" or "FAIL:", then "good_offset=N good_value=V" for the batch
 * that case 10 stored, so the script can read it back with kcat; exits 1 if
 * any case failed.
 *
 * Wire facts used here (all integers big-endian):
 *   request  = int32 size, int16 api_key, int16 api_version, int32
 *              correlation_id, int16-length client_id (-1 = null), body
 *   response = int32 size, int32 correlation_id, body
 *   ApiVersions v0 response body: int16 error_code, int32 n,
 *              n x (int16 api_key, int16 min_version, int16 max_version)
 *   Produce v3 request body: nullable string transactional_id, int16 acks,
 *              int32 timeout_ms, int32 n_topics [string name, int32 n_parts
 *              [int32 partition, int32-length bytes records]]
 *   Produce v3 response: int32 n_topics [string name, int32 n_parts [int32
 *              partition, int16 error_code, int64 base_offset, int64
 *              log_append_time]], int32 throttle_time_ms
 *   RecordBatch v2: see broker/batch.h (encoded in encode_batch below).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *host, *port, *topic;
static int failures, passes;

/* ------------------------------------------------------------------------ */
/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bitwise            */
/* ------------------------------------------------------------------------ */

static uint32_t crc32c(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* ------------------------------------------------------------------------ */
/* A growable byte buffer with big-endian writers                            */
/* ------------------------------------------------------------------------ */

typedef struct buf {
    uint8_t d[1 << 17];
    size_t len;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->len + n > sizeof(b->d)) {
        fprintf(stderr, "badinput: buffer overflow\n");
        exit(2);
    }
    memcpy(b->d + b->len, p, n);
    b->len += n;
}
static void put8(buf *b, uint8_t v) { put(b, &v, 1); }
static void put16(buf *b, int16_t v)
{
    uint16_t x = htons((uint16_t)v);
    put(b, &x, 2);
}
static void put32(buf *b, int32_t v)
{
    uint32_t x = htonl((uint32_t)v);
    put(b, &x, 4);
}
static void put64(buf *b, int64_t v)
{
    put32(b, (int32_t)((uint64_t)v >> 32));
    put32(b, (int32_t)(uint32_t)v);
}
static void putstr(buf *b, const char *s)
{
    put16(b, (int16_t)strlen(s));
    put(b, s, strlen(s));
}
static void set32(buf *b, size_t at, int32_t v)
{
    uint32_t x = htonl((uint32_t)v);
    memcpy(b->d + at, &x, 4);
}
static void putvarint(buf *b, int64_t v) /* zig-zag, protobuf style */
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (u >= 0x80) {
        put8(b, (uint8_t)(u | 0x80));
        u >>= 7;
    }
    put8(b, (uint8_t)u);
}

static int16_t get16(const uint8_t *p) { return (int16_t)((p[0] << 8) | p[1]); }
static int32_t get32(const uint8_t *p)
{
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}
static int64_t get64(const uint8_t *p)
{
    return (int64_t)(((uint64_t)(uint32_t)get32(p) << 32) | (uint32_t)get32(p + 4));
}

/* Start a request: size placeholder + header. finish_req fills the size. */
static void begin_req(buf *b, int16_t api_key, int16_t version, int32_t corr, const char *client)
{
    b->len = 0;
    put32(b, 0);
    put16(b, api_key);
    put16(b, version);
    put32(b, corr);
    if (client)
        putstr(b, client);
    else
        put16(b, -1);
}
static void finish_req(buf *b) { set32(b, 0, (int32_t)(b->len - 4)); }

/* ------------------------------------------------------------------------ */
/* Connections and outcomes                                                  */
/* ------------------------------------------------------------------------ */

static int dial(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, port, &hints, &ai)) {
        fprintf(stderr, "badinput: cannot resolve %s:%s\n", host, port);
        exit(2);
    }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        fprintf(stderr, "badinput: connect %s:%s: %s\n", host, port, strerror(errno));
        exit(2);
    }
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Send everything; a broker that already closed makes this fail, which the
 * caller treats like any other close (EPIPE/ECONNRESET). */
static int send_all(int fd, const void *p, size_t n)
{
    const uint8_t *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

enum outcome { OUT_FRAME, OUT_CLOSED, OUT_TIMEOUT, OUT_JUNK };
static const char *outcome_name[] = {"a response", "connection closed", "nothing (timeout)",
                                     "a malformed response"};

typedef struct frame {
    int32_t corr;
    uint8_t body[1 << 16];
    size_t len; /* body length, after the correlation id */
} frame;

/* Read exactly n bytes within the deadline. 0 ok, -1 closed, -2 timeout. */
static int read_n(int fd, uint8_t *p, size_t n, int64_t deadline_ms)
{
    while (n) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t now = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (now >= deadline_ms)
            return -2;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)(deadline_ms - now));
        if (r == 0)
            return -2;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        ssize_t k = recv(fd, p, n, 0);
        if (k <= 0)
            return -1; /* EOF or ECONNRESET: closed */
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int64_t deadline(int secs)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + secs * 1000;
}

/* Wait up to secs for one response frame or the connection closing. */
static enum outcome await(int fd, int secs, frame *f)
{
    uint8_t hdr[8];
    int64_t dl = deadline(secs);
    int r = read_n(fd, hdr, 4, dl);
    if (r)
        return r == -1 ? OUT_CLOSED : OUT_TIMEOUT;
    int32_t size = get32(hdr);
    if (size < 4 || (size_t)size - 4 > sizeof(f->body))
        return OUT_JUNK;
    if (read_n(fd, hdr + 4, 4, dl))
        return OUT_JUNK;
    f->corr = get32(hdr + 4);
    f->len = (size_t)size - 4;
    return read_n(fd, f->body, f->len, dl) ? OUT_JUNK : OUT_FRAME;
}

static void report(int ok, const char *name, const char *fmt, ...)
{
    va_list ap;
    printf("%s %s: ", ok ? "ok:  " : "FAIL:", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (ok)
        passes++;
    else
        failures++;
}

/* A case whose only acceptable answer is the broker closing the connection. */
static void expect_close(const char *name, const void *bytes, size_t n, int half_close)
{
    static frame f;
    int fd = dial();
    send_all(fd, bytes, n);
    if (half_close)
        shutdown(fd, SHUT_WR);
    enum outcome o = await(fd, 10, &f);
    report(o == OUT_CLOSED, name, "expected connection closed, got %s", outcome_name[o]);
    close(fd);
}

/* ------------------------------------------------------------------------ */
/* RecordBatch v2 and Produce v3                                             */
/* ------------------------------------------------------------------------ */

/* One record (key, value, no headers) in a RecordBatch v2, CRC filled in. */
static void encode_batch(buf *b, const char *key, const char *value, int64_t now_ms)
{
    buf rec = {.len = 0};
    static buf body;
    body.len = 0;
    /* record: attributes, timestampDelta, offsetDelta, key, value, headers */
    put8(&body, 0);
    putvarint(&body, 0);
    putvarint(&body, 0);
    putvarint(&body, (int64_t)strlen(key));
    put(&body, key, strlen(key));
    putvarint(&body, (int64_t)strlen(value));
    put(&body, value, strlen(value));
    putvarint(&body, 0);
    putvarint(&rec, (int64_t)body.len); /* record length prefix */
    put(&rec, body.d, body.len);

    b->len = 0;
    put64(b, 0);                /*  0 baseOffset (broker assigns) */
    put32(b, 0);                /*  8 batchLength, set below */
    put32(b, -1);               /* 12 partitionLeaderEpoch */
    put8(b, 2);                 /* 16 magic */
    put32(b, 0);                /* 17 crc, set below */
    put16(b, 0);                /* 21 attributes: no codec, CreateTime */
    put32(b, 0);                /* 23 lastOffsetDelta */
    put64(b, now_ms);           /* 27 baseTimestamp */
    put64(b, now_ms);           /* 35 maxTimestamp */
    put64(b, -1);               /* 43 producerId: none */
    put16(b, -1);               /* 51 producerEpoch */
    put32(b, -1);               /* 53 baseSequence */
    put32(b, 1);                /* 57 recordCount */
    put(b, rec.d, rec.len);     /* 61 records */
    set32(b, 8, (int32_t)(b->len - 12));
    set32(b, 17, (int32_t)crc32c(b->d + 21, b->len - 21));
}

static void produce_req(buf *b, int32_t corr, const uint8_t *records, size_t n)
{
    begin_req(b, 0, 3, corr, "badinput");
    put16(b, -1);      /* transactional_id: null */
    put16(b, -1);      /* acks: all */
    put32(b, 10000);   /* timeout_ms */
    put32(b, 1);       /* one topic */
    putstr(b, topic);
    put32(b, 1);       /* one partition */
    put32(b, 0);       /* partition 0 */
    put32(b, (int32_t)n);
    put(b, records, n);
    finish_req(b);
}

typedef struct produce_result {
    int16_t error_code;
    int64_t base_offset;
} produce_result;

/* Send a Produce v3 with these records on a new connection and parse the
 * answer. Returns 0 with res filled, or -1 having reported why. */
static int produce(const char *name, const uint8_t *records, size_t n, produce_result *res)
{
    static buf b;
    static frame f;
    int32_t corr = 0x5100 + (int32_t)n;
    produce_req(&b, corr, records, n);
    int fd = dial();
    send_all(fd, b.d, b.len);
    enum outcome o = await(fd, 15, &f);
    close(fd);
    if (o != OUT_FRAME) {
        report(0, name, "expected a Produce response, got %s", outcome_name[o]);
        return -1;
    }
    const uint8_t *p = f.body;
    size_t tl = strlen(topic);
    /* n_topics, name, n_parts, partition, error_code, base_offset, log_append_time */
    if (f.corr != corr || f.len < 4 + 2 + tl + 4 + 4 + 2 + 8 + 8 || get32(p) != 1 ||
        get16(p + 4) != (int16_t)tl || memcmp(p + 6, topic, tl) || get32(p + 6 + tl) != 1 ||
        get32(p + 10 + tl) != 0) {
        report(0, name, "Produce response malformed (corr %d, %zu bytes)", f.corr, f.len);
        return -1;
    }
    res->error_code = get16(p + 14 + tl);
    res->base_offset = get64(p + 16 + tl);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The cases                                                                 */
/* ------------------------------------------------------------------------ */

static void case_framing(void)
{
    static buf b;
    /* 1. A frame that announces 100 bytes, sends 10, then the client closes.
     *    Expected: the broker drops the connection silently and lives on. */
    {
        begin_req(&b, 18, 0, 1, "trunc");
        set32(&b, 0, 100);
        int fd = dial();
        send_all(fd, b.d, 10);
        close(fd);
        report(1, "truncated frame then close", "sent (liveness checked later)");
    }
    /* 2. Same, but half-closed: the broker sees EOF mid-frame.
     *    Expected: the broker closes its side. */
    begin_req(&b, 18, 0, 2, "trunc");
    set32(&b, 0, 100);
    expect_close("truncated frame then EOF", b.d, 10, 1);

    /* 3. Size prefix -1. Expected: closed, no response. */
    uint8_t neg[] = {0xff, 0xff, 0xff, 0xff, 0, 18, 0, 0};
    expect_close("size prefix -1", neg, sizeof(neg), 0);

    /* 4. Size prefix 0x7fffffff followed by a plausible header. Expected:
     *    closed at once (more than message.max.bytes / socket.request.max.bytes),
     *    not a 2 GB allocation nor a wait for 2 GB. */
    begin_req(&b, 18, 0, 4, "huge");
    set32(&b, 0, 0x7fffffff);
    expect_close("size prefix 0x7fffffff", b.d, b.len, 0);

    /* 5. Size prefix 0 (no header at all). Expected: closed. */
    uint8_t zero[] = {0, 0, 0, 0};
    expect_close("size prefix 0", zero, sizeof(zero), 0);

    /* 6. 64 KiB of random garbage. Expected: closed (whatever the first four
     *    bytes say as a size, nothing that follows is a valid request), or at
     *    worst error responses; never a crash. Seeded, so reproducible. */
    {
        static frame f;
        uint8_t *junk = malloc(65536);
        uint32_t x = 0x12345678u;
        for (int i = 0; i < 65536; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            junk[i] = (uint8_t)x;
        }
        int fd = dial();
        send_all(fd, junk, 65536);
        enum outcome o = await(fd, 10, &f);
        report(o != OUT_JUNK, "64 KiB garbage", "got %s", outcome_name[o]);
        close(fd);
        free(junk);
    }
}

static void case_headers(void)
{
    static buf b;
    static frame f;
    /* 7. Unknown api_key 999. Expected: a response frame carrying the same
     *    correlation id (an error answer), the connection still usable. */
    {
        begin_req(&b, 999, 0, 4242, "badinput");
        finish_req(&b);
        int fd = dial();
        send_all(fd, b.d, b.len);
        enum outcome o = await(fd, 10, &f);
        report(o == OUT_FRAME && f.corr == 4242, "unknown api_key 999",
               "expected a response with correlation id 4242, got %s (corr %d)",
               outcome_name[o], o == OUT_FRAME ? f.corr : -1);
        close(fd);
    }
    /* 8. ApiVersions v99. Expected: error_code 35 UNSUPPORTED_VERSION and the
     *    api_keys array in v0 form, listing ApiVersions (18) itself with max
     *    version >= 3, so the client can retry with a version it supports. */
    {
        begin_req(&b, 18, 99, 77, "badinput");
        finish_req(&b);
        int fd = dial();
        send_all(fd, b.d, b.len);
        enum outcome o = await(fd, 10, &f);
        close(fd);
        int ok = 0;
        char why[200] = "";
        if (o != OUT_FRAME)
            snprintf(why, sizeof(why), "got %s", outcome_name[o]);
        else if (f.corr != 77 || f.len < 6)
            snprintf(why, sizeof(why), "corr %d, %zu-byte body", f.corr, f.len);
        else {
            int16_t ec = get16(f.body);
            int32_t n = get32(f.body + 2);
            int has18 = 0;
            if (n >= 0 && (size_t)n * 6 + 6 <= f.len)
                for (int32_t i = 0; i < n; i++) {
                    const uint8_t *e = f.body + 6 + 6 * i;
                    if (get16(e) == 18 && get16(e + 2) == 0 && get16(e + 4) >= 3)
                        has18 = 1;
                }
            ok = ec == 35 && n > 0 && (size_t)n * 6 + 6 <= f.len && has18;
            snprintf(why, sizeof(why), "error_code %d, %d api keys in %zu bytes%s", ec, n, f.len,
                     has18 ? ", ApiVersions 0..>=3 listed" : ", ApiVersions 0..3+ missing");
        }
        report(ok, "ApiVersions v99", "expected error 35 + v0 api_keys: %s", why);
    }
    /* 9. Metadata v1 whose topic name claims 1000 bytes but the frame ends
     *    after 5. Expected: closed, or an error response with our correlation
     *    id; never a read past the frame. */
    {
        begin_req(&b, 3, 1, 9, "badinput");
        put32(&b, 1);
        put16(&b, 1000);
        put(&b, "abcde", 5);
        finish_req(&b);
        int fd = dial();
        send_all(fd, b.d, b.len);
        enum outcome o = await(fd, 10, &f);
        report(o == OUT_CLOSED || (o == OUT_FRAME && f.corr == 9), "Metadata string past frame",
               "expected closed or a response to corr 9, got %s", outcome_name[o]);
        close(fd);
    }
    /* 10. Metadata v1 claiming 2^31-1 topics in a 4-byte array. Expected:
     *     closed or an error response, no huge allocation. */
    {
        begin_req(&b, 3, 1, 10, "badinput");
        put32(&b, 0x7fffffff);
        finish_req(&b);
        int fd = dial();
        send_all(fd, b.d, b.len);
        enum outcome o = await(fd, 10, &f);
        report(o == OUT_CLOSED || (o == OUT_FRAME && f.corr == 10), "Metadata array count 2^31-1",
               "expected closed or a response to corr 10, got %s", outcome_name[o]);
        close(fd);
    }
    /* 11. A client_id whose length runs past the frame. Expected: closed or
     *     an error response. */
    {
        begin_req(&b, 18, 0, 11, NULL);
        b.len -= 2;
        put16(&b, 500);
        put(&b, "x", 1);
        finish_req(&b);
        int fd = dial();
        send_all(fd, b.d, b.len);
        enum outcome o = await(fd, 10, &f);
        report(o == OUT_CLOSED || (o == OUT_FRAME && f.corr == 11), "client_id past frame",
               "expected closed or a response to corr 11, got %s", outcome_name[o]);
        close(fd);
    }
    /* 12. A null client_id (length -1) is legal. Expected: an ApiVersions v0
     *     answer with error_code 0. */
    {
        begin_req(&b, 18, 0, 12, NULL);
        finish_req(&b);
        int fd = dial();
        send_all(fd, b.d, b.len);
        enum outcome o = await(fd, 10, &f);
        report(o == OUT_FRAME && f.corr == 12 && f.len >= 6 && get16(f.body) == 0,
               "null client_id", "expected ApiVersions answer, got %s", outcome_name[o]);
        close(fd);
    }
    /* 13. Three ApiVersions requests in one write. Expected: three answers
     *     in request order (Kafka answers a connection's requests in order). */
    {
        static buf all;
        all.len = 0;
        for (int i = 0; i < 3; i++) {
            begin_req(&b, 18, (int16_t)i, 1300 + i, "pipeline");
            finish_req(&b);
            put(&all, b.d, b.len);
        }
        int fd = dial();
        send_all(fd, all.d, all.len);
        int order = 0;
        for (int i = 0; i < 3; i++)
            if (await(fd, 10, &f) == OUT_FRAME && f.corr == 1300 + i)
                order++;
        report(order == 3, "3 pipelined requests", "%d of 3 answered in order", order);
        close(fd);
    }
}

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void case_produce(void)
{
    static buf batch;
    produce_result res;
    char value[64];
    snprintf(value, sizeof(value), "badinput-good-%ld-%d", (long)time(NULL), (int)getpid());

    /* 14. A correct Produce v3 with one RecordBatch v2 (CRC-32C right).
     *     Expected: error_code 0 and a base offset >= 0. */
    encode_batch(&batch, "bk", value, wall_ms());
    int64_t good_offset = -1;
    if (!produce("Produce v3 good batch", batch.d, batch.len, &res)) {
        report(res.error_code == 0 && res.base_offset >= 0, "Produce v3 good batch",
               "error_code %d, base_offset %lld", res.error_code, (long long)res.base_offset);
        if (res.error_code == 0)
            good_offset = res.base_offset;
    }
    /* 15. The same batch with one CRC byte flipped. Expected: partition
     *     error_code 2 CORRUPT_MESSAGE, nothing appended. */
    batch.d[17 + 2] ^= 0x5a;
    if (!produce("Produce v3 bad CRC", batch.d, batch.len, &res))
        report(res.error_code == 2, "Produce v3 bad CRC", "expected error_code 2, got %d",
               res.error_code);
    batch.d[17 + 2] ^= 0x5a;

    /* 16. The batch with magic 1. Expected: 2 CORRUPT_MESSAGE or
     *     87 INVALID_RECORD (Produce v3+ carries only magic 2). */
    batch.d[16] = 1;
    if (!produce("Produce v3 magic 1", batch.d, batch.len, &res))
        report(res.error_code == 2 || res.error_code == 87, "Produce v3 magic 1",
               "expected error_code 2 or 87, got %d", res.error_code);
    batch.d[16] = 2;

    /* 17. The batch cut short by 7 bytes (batchLength says more than the
     *     records field holds). Expected: error_code 2 CORRUPT_MESSAGE (or 87). */
    if (!produce("Produce v3 truncated batch", batch.d, batch.len - 7, &res))
        report(res.error_code == 2 || res.error_code == 87, "Produce v3 truncated batch",
               "expected error_code 2 or 87, got %d", res.error_code);

    /* 18. batchLength claiming 2^31-1 bytes. Expected: 2 or 87. */
    {
        static buf big;
        big = batch;
        set32(&big, 8, 0x7fffffff);
        if (!produce("Produce v3 batchLength 2^31-1", big.d, big.len, &res))
            report(res.error_code == 2 || res.error_code == 87, "Produce v3 batchLength 2^31-1",
                   "expected error_code 2 or 87, got %d", res.error_code);
    }
    /* 19. The good batch again: the broker still appends after all that, at
     *     the next offset. */
    if (good_offset >= 0 && !produce("Produce v3 good batch again", batch.d, batch.len, &res))
        report(res.error_code == 0 && res.base_offset == good_offset + 1,
               "Produce v3 good batch again", "error_code %d, base_offset %lld (expected %lld)",
               res.error_code, (long long)res.base_offset, (long long)good_offset + 1);
    printf("good_offset=%lld good_value=%s\n", (long long)good_offset, value);
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: badinput HOST PORT TOPIC [framing,headers,produce]\n");
        return 2;
    }
    host = argv[1];
    port = argv[2];
    topic = argv[3];
    signal(SIGPIPE, SIG_IGN);
    if (crc32c((const uint8_t *)"123456789", 9) != 0xE3069283u) { /* the check value */
        fprintf(stderr, "badinput: CRC-32C self-test failed\n");
        return 2;
    }
    const char *only = argc == 5 ? argv[4] : "framing,headers,produce";
    if (strstr(only, "framing"))
        case_framing();
    if (strstr(only, "headers"))
        case_headers();
    if (strstr(only, "produce"))
        case_produce();
    printf("badinput: %d passed, %d failed\n", passes, failures);
    return failures ? 1 : 0;
}
