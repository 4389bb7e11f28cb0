/*
 * group_proto.c - the consumer group state machine checked at the wire, one
 * request at a time, with raw Kafka frames (no client library deciding for
 * us): generations, member ids, REBALANCE_IN_PROGRESS, held JoinGroup and
 * SyncGroup answers, leader assignment fan-out, offsets per generation,
 * LeaveGroup, static membership without rebalance, DeleteGroups rules and
 * the session timeout.
 *
 * usage: group_proto HOST PORT   (broker started with
 *        group.initial.rebalance.delay.ms=0). Exits 0 when every check passed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int passed, failed;
static int32_t corr = 1;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (cond) {                                        \
            passed++;                                      \
        } else {                                           \
            failed++;                                      \
            fprintf(stderr, "FAIL line %d: ", __LINE__);   \
            fprintf(stderr, __VA_ARGS__);                  \
            fprintf(stderr, "\n");                         \
        }                                                  \
    } while (0)

/* ---- a tiny frame writer/reader ---- */
typedef struct buf {
    uint8_t d[65536];
    size_t n, r;
} buf;

static void w16(buf *b, int16_t v) { b->d[b->n++] = (uint8_t)((uint16_t)v >> 8); b->d[b->n++] = (uint8_t)v; }
static void w32(buf *b, int32_t v) { for (int i = 3; i >= 0; i--) b->d[b->n++] = (uint8_t)((uint32_t)v >> (8 * i)); }
static void w64(buf *b, int64_t v) { w32(b, (int32_t)(v >> 32)); w32(b, (int32_t)v); }
static void wstr(buf *b, const char *s)
{
    if (!s) { w16(b, -1); return; }
    w16(b, (int16_t)strlen(s));
    memcpy(b->d + b->n, s, strlen(s));
    b->n += strlen(s);
}
static void wbytes(buf *b, const char *s)
{
    w32(b, (int32_t)strlen(s));
    memcpy(b->d + b->n, s, strlen(s));
    b->n += strlen(s);
}
static int16_t r16(buf *b) { int16_t v = (int16_t)(b->d[b->r] << 8 | b->d[b->r + 1]); b->r += 2; return v; }
static int32_t r32(buf *b) { uint32_t v = 0; for (int i = 0; i < 4; i++) v = v << 8 | b->d[b->r++]; return (int32_t)v; }
static int64_t r64(buf *b) { int64_t hi = r32(b); return hi << 32 | (uint32_t)r32(b); }
static void rstr(buf *b, char *out, size_t cap)
{
    int16_t n = r16(b);
    if (n < 0) { out[0] = 0; return; }
    size_t c = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
    memcpy(out, b->d + b->r, c);
    out[c] = 0;
    b->r += (size_t)n;
}
static void rbytes(buf *b, char *out, size_t cap)
{
    int32_t n = r32(b);
    if (n < 0) { out[0] = 0; return; }
    size_t c = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
    memcpy(out, b->d + b->r, c);
    out[c] = 0;
    b->r += (size_t)n;
}

static const char *host;
static int port;

static int dial(void)
{
    struct sockaddr_in a = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        perror("connect");
        exit(2);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* start a request body: header fields written, body follows */
static void req(buf *b, int16_t key, int16_t ver)
{
    b->n = 4;
    b->r = 0;
    w16(b, key);
    w16(b, ver);
    w32(b, corr++);
    wstr(b, "group-proto");
}

static void send_req(int fd, buf *b)
{
    uint32_t n = htonl((uint32_t)(b->n - 4));
    memcpy(b->d, &n, 4);
    if (write(fd, b->d, b->n) != (ssize_t)b->n) {
        perror("write");
        exit(2);
    }
}

static void recv_resp(int fd, buf *b)
{
    uint8_t hdr[4];
    size_t got = 0;
    while (got < 4) {
        ssize_t k = read(fd, hdr + got, 4 - got);
        if (k <= 0) { fprintf(stderr, "read: connection closed or timed out\n"); exit(2); }
        got += (size_t)k;
    }
    uint32_t len = ntohl(*(uint32_t *)hdr);
    if (len > sizeof(b->d)) { fprintf(stderr, "response too large\n"); exit(2); }
    got = 0;
    while (got < len) {
        ssize_t k = read(fd, b->d + got, len - got);
        if (k <= 0) { fprintf(stderr, "read body failed\n"); exit(2); }
        got += (size_t)k;
    }
    b->n = len;
    b->r = 4; /* skip correlation id */
}

/* ---- the APIs ---- */

typedef struct join_result {
    int16_t err;
    int32_t gen;
    char protocol[64], leader[256], member[256];
    int32_t nmembers;
} join_result;

static void join_send(int fd, const char *group, const char *member, const char *instance)
{
    buf b;
    req(&b, 11, 5);
    wstr(&b, group);
    w32(&b, 6000);   /* session_timeout_ms */
    w32(&b, 10000);  /* rebalance_timeout_ms */
    wstr(&b, member);
    wstr(&b, instance);
    wstr(&b, "consumer");
    w32(&b, 1);
    wstr(&b, "range");
    wbytes(&b, "subscription");
    send_req(fd, &b);
}

static join_result join_recv(int fd)
{
    buf b;
    join_result j;
    recv_resp(fd, &b);
    r32(&b); /* throttle */
    j.err = r16(&b);
    j.gen = r32(&b);
    rstr(&b, j.protocol, sizeof(j.protocol));
    rstr(&b, j.leader, sizeof(j.leader));
    rstr(&b, j.member, sizeof(j.member));
    j.nmembers = r32(&b);
    return j;
}

static void sync_send(int fd, const char *group, int32_t gen, const char *member, int nassign,
                      const char **who, const char **what)
{
    buf b;
    req(&b, 14, 3);
    wstr(&b, group);
    w32(&b, gen);
    wstr(&b, member);
    wstr(&b, NULL);
    w32(&b, nassign);
    for (int i = 0; i < nassign; i++) {
        wstr(&b, who[i]);
        wbytes(&b, what[i]);
    }
    send_req(fd, &b);
}

static int16_t sync_recv(int fd, char *assignment, size_t cap)
{
    buf b;
    recv_resp(fd, &b);
    r32(&b);
    int16_t err = r16(&b);
    rbytes(&b, assignment, cap);
    return err;
}

static int16_t heartbeat(int fd, const char *group, int32_t gen, const char *member)
{
    buf b;
    req(&b, 12, 3);
    wstr(&b, group);
    w32(&b, gen);
    wstr(&b, member);
    wstr(&b, NULL);
    send_req(fd, &b);
    recv_resp(fd, &b);
    r32(&b);
    return r16(&b);
}

static int16_t leave(int fd, const char *group, const char *member)
{
    buf b;
    req(&b, 13, 3);
    wstr(&b, group);
    w32(&b, 1);
    wstr(&b, member);
    wstr(&b, NULL);
    send_req(fd, &b);
    recv_resp(fd, &b);
    r32(&b);
    r16(&b);   /* top-level error */
    r32(&b);   /* members */
    char tmp[256];
    rstr(&b, tmp, sizeof(tmp));
    rstr(&b, tmp, sizeof(tmp));
    return r16(&b);
}

static int16_t commit(int fd, const char *group, int32_t gen, const char *member, int64_t off)
{
    buf b;
    req(&b, 8, 7);
    wstr(&b, group);
    w32(&b, gen);
    wstr(&b, member);
    wstr(&b, NULL);
    w32(&b, 1);
    wstr(&b, "orders");
    w32(&b, 1);
    w32(&b, 2);      /* partition */
    w64(&b, off);
    w32(&b, -1);     /* leader epoch */
    wstr(&b, "m");
    send_req(fd, &b);
    recv_resp(fd, &b);
    r32(&b);
    r32(&b);
    char tmp[64];
    rstr(&b, tmp, sizeof(tmp));
    r32(&b);
    r32(&b);
    return r16(&b);
}

static int64_t fetch_offset(int fd, const char *group)
{
    buf b;
    req(&b, 9, 5);
    wstr(&b, group);
    w32(&b, 1);
    wstr(&b, "orders");
    w32(&b, 1);
    w32(&b, 2);
    send_req(fd, &b);
    recv_resp(fd, &b);
    r32(&b);
    r32(&b);
    char tmp[64];
    rstr(&b, tmp, sizeof(tmp));
    r32(&b);
    r32(&b);
    return r64(&b);
}

static void describe(int fd, const char *group, char *state, size_t cap, int32_t *nmembers)
{
    buf b;
    req(&b, 15, 4);
    w32(&b, 1);
    wstr(&b, group);
    b.d[b.n++] = 0;
    send_req(fd, &b);
    recv_resp(fd, &b);
    r32(&b);
    r32(&b);
    r16(&b);
    char tmp[256];
    rstr(&b, tmp, sizeof(tmp));
    rstr(&b, state, cap);
    rstr(&b, tmp, sizeof(tmp));
    rstr(&b, tmp, sizeof(tmp));
    *nmembers = r32(&b);
}

static int16_t delete_group(int fd, const char *group)
{
    buf b;
    req(&b, 42, 1);
    w32(&b, 1);
    wstr(&b, group);
    send_req(fd, &b);
    recv_resp(fd, &b);
    r32(&b);
    r32(&b);
    char tmp[256];
    rstr(&b, tmp, sizeof(tmp));
    return r16(&b);
}

int main(int argc, char **argv)
{
    char assign[256], state[64];
    int32_t n;
    if (argc < 3) {
        fprintf(stderr, "usage: group_proto HOST PORT [offset]\n");
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    if (argc > 3 && !strcmp(argv[3], "offset")) { /* after a restart */
        int fd = dial();
        printf("%lld\n", (long long)fetch_offset(fd, "g"));
        return 0;
    }
    int a = dial(), bfd = dial(), c = dial();

    /* 1. first member: Empty -> generation 1, it leads */
    join_send(a, "g", "", NULL);
    join_result ja = join_recv(a);
    CHECK(ja.err == 0 && ja.gen == 1, "first join: err %d gen %d", ja.err, ja.gen);
    CHECK(!strcmp(ja.leader, ja.member) && ja.nmembers == 1, "first member leads alone");
    CHECK(!strcmp(ja.protocol, "range"), "protocol chosen: %s", ja.protocol);
    const char *who1[] = {ja.member}, *what1[] = {"A-all"};
    sync_send(a, "g", 1, ja.member, 1, who1, what1);
    CHECK(sync_recv(a, assign, sizeof(assign)) == 0 && !strcmp(assign, "A-all"),
          "leader gets its own assignment back: '%s'", assign);

    /* 2. generations and member ids are checked on every request */
    CHECK(heartbeat(a, "g", 1, ja.member) == 0, "heartbeat in generation 1");
    CHECK(heartbeat(a, "g", 99, ja.member) == 22, "wrong generation: ILLEGAL_GENERATION");
    CHECK(heartbeat(a, "g", 1, "nobody") == 25, "unknown member: UNKNOWN_MEMBER_ID");
    CHECK(commit(a, "g", 1, ja.member, 10) == 0, "commit in generation 1");

    /* 3. a second member: rebalance; its join is held until A rejoins */
    join_send(bfd, "g", "", NULL);
    usleep(200000);
    CHECK(heartbeat(a, "g", 1, ja.member) == 27, "A told REBALANCE_IN_PROGRESS");
    join_send(a, "g", ja.member, NULL);
    join_result ja2 = join_recv(a), jb = join_recv(bfd);
    CHECK(ja2.err == 0 && jb.err == 0 && ja2.gen == 2 && jb.gen == 2, "both in generation 2 "
          "(%d/%d, errs %d/%d)", ja2.gen, jb.gen, ja2.err, jb.err);
    CHECK(!strcmp(ja2.leader, ja.member) && !strcmp(jb.leader, ja.member), "A still leads");
    CHECK(ja2.nmembers == 2 && jb.nmembers == 0, "only the leader sees the members (%d/%d)",
          ja2.nmembers, jb.nmembers);
    CHECK(commit(a, "g", 1, ja.member, 11) == 22, "commit from generation 1 refused");

    /* 4. the follower's SyncGroup waits for the leader's assignment */
    sync_send(bfd, "g", 2, jb.member, 0, NULL, NULL);
    usleep(100000);
    const char *who2[] = {ja.member, jb.member}, *what2[] = {"A-half", "B-half"};
    sync_send(a, "g", 2, ja.member, 2, who2, what2);
    char assign_b[256];
    int16_t eb = sync_recv(bfd, assign_b, sizeof(assign_b));
    int16_t ea = sync_recv(a, assign, sizeof(assign));
    CHECK(ea == 0 && !strcmp(assign, "A-half"), "A's assignment '%s'", assign);
    CHECK(eb == 0 && !strcmp(assign_b, "B-half"), "B's assignment '%s' (err %d)", assign_b, eb);
    CHECK(commit(bfd, "g", 2, jb.member, 42) == 0, "B commits in generation 2");
    CHECK(fetch_offset(c, "g") == 42, "OffsetFetch returns 42");
    describe(c, "g", state, sizeof(state), &n);
    CHECK(!strcmp(state, "Stable") && n == 2, "describe: %s with %d members", state, n);
    CHECK(delete_group(c, "g") == 68, "a group with members is not deleted: NON_EMPTY_GROUP");

    /* 5. LeaveGroup triggers a rebalance; A alone in generation 3 */
    CHECK(leave(bfd, "g", jb.member) == 0, "B leaves");
    CHECK(heartbeat(a, "g", 2, ja.member) == 27, "A told to rebalance after B left");
    join_send(a, "g", ja.member, NULL);
    ja2 = join_recv(a);
    CHECK(ja2.err == 0 && ja2.gen == 3 && ja2.nmembers == 1, "A alone: gen %d members %d",
          ja2.gen, ja2.nmembers);

    /* 6. static membership: a restart inside the session timeout is no rebalance */
    join_send(c, "s", "", "static-1");
    join_result js = join_recv(c);
    const char *who3[] = {js.member}, *what3[] = {"S"};
    sync_send(c, "s", js.gen, js.member, 1, who3, what3);
    sync_recv(c, assign, sizeof(assign));
    int32_t gen_before = js.gen;
    join_send(c, "s", "", "static-1"); /* the process restarted: no member id yet */
    join_result js2 = join_recv(c);
    CHECK(js2.err == 0 && js2.gen == gen_before, "static rejoin keeps generation %d (got %d, err "
          "%d)", gen_before, js2.gen, js2.err);
    CHECK(strcmp(js2.member, js.member) != 0, "static rejoin gets a new member id");
    CHECK(heartbeat(c, "s", js2.gen, js.member) == 25, "the old member id is fenced");
    sync_send(c, "s", js2.gen, js2.member, 0, NULL, NULL);
    CHECK(sync_recv(c, assign, sizeof(assign)) == 0 && !strcmp(assign, "S"),
          "static member keeps its assignment '%s'", assign);

    /* 7. session timeout: stop heartbeating in group s; it empties */
    sleep(8);
    describe(bfd, "s", state, sizeof(state), &n);
    CHECK(!strcmp(state, "Empty") && n == 0, "after the session timeout: %s, %d members", state, n);
    CHECK(delete_group(bfd, "s") == 0, "an empty group is deleted");
    CHECK(delete_group(bfd, "s") == 69, "deleting it again: GROUP_ID_NOT_FOUND");

    printf("group_proto: %d passed, %d failed\n", passed, failed);
    close(a);
    close(bfd);
    close(c);
    return failed ? 1 : 0;
}
