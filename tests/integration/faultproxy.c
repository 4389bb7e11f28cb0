/*
 * faultproxy.c - a TCP proxy on loopback that loses answers on purpose.
 *
 *   faultproxy -l LISTEN_PORT -u UPSTREAM_HOST:PORT [-k K] [-n N] [-s SEED]
 *
 * Every accepted client connection gets its own upstream connection; bytes
 * are forwarded both ways. The faults hit the upstream->client direction,
 * where the broker's responses travel:
 *   -k K  every K-th chunk read from an upstream socket (counted over all
 *         connections) is cut: its first half is forwarded, then BOTH sockets
 *         are closed. The request that chunk answers has been applied by the
 *         broker, but the client never learns it and must retry.
 *   -n N  a connection is cut the same way once it has carried about N bytes
 *         upstream->client (N/2 .. 3N/2, drawn per connection).
 * 0 (the default) disables either fault. -s seeds the draws (default 1), so
 * a run can be repeated. SIGUSR1 switches faults off, SIGUSR2 back on.
 * Counters (connections, chunks, cuts) go to stderr every 5 s and at exit.
 *
 * Design: one thread, poll(2) over every socket, a fixed 64 KiB buffer per
 * direction and connection; a direction stops reading while its buffer has
 * unsent bytes, so a slow side slows the other instead of growing memory.
 * Used by tests/integration/idempotence.sh; not part of sluice.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN 256
#define BUFSZ   65536

typedef struct pipe_buf {
    uint8_t data[BUFSZ];
    size_t off, len; /* unsent bytes are data[off, len) */
} pipe_buf;

typedef struct pair {
    int cfd, ufd;  /* client, upstream; -1 when the slot is free */
    pipe_buf up;   /* client -> upstream */
    pipe_buf down; /* upstream -> client */
    int64_t down_bytes;
    int64_t cut_at; /* -n: cut once down_bytes reaches this (0: never) */
} pair;

static pair pairs[MAXCONN];
static volatile sig_atomic_t faults_on = 1;
static volatile sig_atomic_t stop;
static uint64_t rng = 1;
static long n_conn, n_chunks, n_cuts;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        faults_on = 0;
    else if (sig == SIGUSR2)
        faults_on = 1;
    else
        stop = 1;
}

static void pair_close(pair *p)
{
    if (p->cfd >= 0)
        close(p->cfd);
    if (p->ufd >= 0)
        close(p->ufd);
    p->cfd = p->ufd = -1;
}

static int connect_upstream(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void accept_one(int lfd, const struct sockaddr_in *up, int64_t cut_bytes)
{
    int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), one = 1;
    if (cfd < 0)
        return;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (int i = 0; i < MAXCONN; i++) {
        pair *p = &pairs[i];
        if (p->cfd >= 0)
            continue;
        p->ufd = connect_upstream(up);
        if (p->ufd < 0)
            break; /* upstream down: the client sees a closed connection */
        p->cfd = cfd;
        p->up.off = p->up.len = p->down.off = p->down.len = 0;
        p->down_bytes = 0;
        p->cut_at =
            cut_bytes > 0 ? cut_bytes / 2 + (int64_t)(next_rand() % (uint64_t)cut_bytes) : 0;
        n_conn++;
        return;
    }
    close(cfd);
}

/* Send what buf holds to fd. -1 when the connection is gone. */
static int flush_buf(int fd, pipe_buf *b)
{
    while (b->off < b->len) {
        ssize_t n = send(fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        b->off += (size_t)n;
    }
    b->off = b->len = 0;
    return 0;
}

/* Read from fd into an empty buf. -1 on EOF or error. */
static int fill_buf(int fd, pipe_buf *b)
{
    ssize_t n = recv(fd, b->data, BUFSZ, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        return -1;
    if (n > 0) {
        b->off = 0;
        b->len = (size_t)n;
    }
    return 0;
}

/* An upstream chunk just arrived in p->down: cut the connection? */
static int should_cut(pair *p, int every)
{
    n_chunks++;
    p->down_bytes += (int64_t)p->down.len;
    if (!faults_on)
        return 0;
    if (every > 0 && n_chunks % every == 0)
        return 1;
    return p->cut_at > 0 && p->down_bytes >= p->cut_at;
}

/* Forward half of the chunk, then drop both sockets. */
static void cut(pair *p)
{
    p->down.len = p->down.len / 2;
    flush_buf(p->cfd, &p->down);
    n_cuts++;
    pair_close(p);
}

static void service(pair *p, const struct pollfd *cp, const struct pollfd *upp, int every)
{
    if ((cp->revents & POLLIN) && p->up.len == 0 && fill_buf(p->cfd, &p->up) < 0)
        goto gone;
    if ((upp->revents & POLLIN) && p->down.len == 0) {
        if (fill_buf(p->ufd, &p->down) < 0)
            goto gone;
        if (p->down.len && should_cut(p, every)) {
            cut(p);
            return;
        }
    }
    if ((cp->revents | upp->revents) & (POLLERR | POLLNVAL))
        goto gone;
    if ((cp->revents & POLLHUP) && !(cp->revents & POLLIN))
        goto gone;
    if ((upp->revents & POLLHUP) && !(upp->revents & POLLIN))
        goto gone;
    if (flush_buf(p->ufd, &p->up) < 0 || flush_buf(p->cfd, &p->down) < 0)
        goto gone;
    return;
gone:
    flush_buf(p->cfd, &p->down); /* what the broker said before closing */
    pair_close(p);
}

static void report(const char *when)
{
    fprintf(stderr, "faultproxy %s: %ld connections, %ld upstream chunks, %ld cut\n", when, n_conn,
            n_chunks, n_cuts);
}

static int parse_upstream(const char *spec, struct sockaddr_in *addr)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof(host))
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &addr->sin_addr) == 1 ? 0 : -1;
}

static int listen_on(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0) {
        perror("faultproxy: listen");
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    int port = 0, every = 0, opt;
    int64_t cut_bytes = 0;
    const char *upstream = NULL;
    struct sockaddr_in up;
    while ((opt = getopt(argc, argv, "l:u:k:n:s:")) != -1) {
        switch (opt) {
        case 'l':
            port = atoi(optarg);
            break;
        case 'u':
            upstream = optarg;
            break;
        case 'k':
            every = atoi(optarg);
            break;
        case 'n':
            cut_bytes = atoll(optarg);
            break;
        case 's':
            rng = strtoull(optarg, NULL, 10) | 1;
            break;
        default:
            goto usage;
        }
    }
    if (port <= 0 || !upstream || parse_upstream(upstream, &up) < 0)
        goto usage;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, on_signal);
    signal(SIGUSR2, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int lfd = listen_on(port);
    if (lfd < 0)
        return 1;
    for (int i = 0; i < MAXCONN; i++)
        pairs[i].cfd = pairs[i].ufd = -1;
    fprintf(stderr, "faultproxy: 127.0.0.1:%d -> %s, cut every %d-th chunk, after ~%lld bytes\n",
            port, upstream, every, (long long)cut_bytes);
    static struct pollfd pfd[1 + 2 * MAXCONN];
    time_t last = time(NULL);
    while (!stop) {
        int n = 1;
        pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (int i = 0; i < MAXCONN; i++) {
            pair *p = &pairs[i];
            if (p->cfd < 0)
                continue;
            /* read a side only when the buffer it fills is empty */
            pfd[n++] = (struct pollfd){
                .fd = p->cfd,
                .events = (short)((p->up.len ? 0 : POLLIN) | (p->down.len ? POLLOUT : 0))};
            pfd[n++] = (struct pollfd){
                .fd = p->ufd,
                .events = (short)((p->down.len ? 0 : POLLIN) | (p->up.len ? POLLOUT : 0))};
        }
        if (poll(pfd, (nfds_t)n, 1000) < 0 && errno != EINTR)
            break;
        n = 1;
        for (int i = 0; i < MAXCONN; i++) {
            pair *p = &pairs[i];
            if (p->cfd < 0)
                continue;
            service(p, &pfd[n], &pfd[n + 1], every);
            n += 2;
        }
        if (pfd[0].revents & POLLIN)
            accept_one(lfd, &up, cut_bytes);
        if (time(NULL) - last >= 5) {
            last = time(NULL);
            report("running");
        }
    }
    report("exiting");
    return 0;
usage:
    fprintf(stderr, "usage: faultproxy -l LISTEN_PORT -u HOST:PORT [-k K] [-n N] [-s SEED]\n");
    return 2;
}
