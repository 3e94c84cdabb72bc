/*
 * The load generator's receive side in C: the cheap half of `python -m benchmarks`.
 *
 * The Python side connects and registers every client, then hands the sockets of
 * the pure receivers to this program (inherited descriptors, listed in argv) and
 * stops reading them itself. From then on this program reads them with epoll,
 * finds each payload `TAG KEY SENT_US` (KEY = SEQ * SENDERS + SENDER, SENT_US
 * microseconds on the sender's CLOCK_MONOTONIC minus BASE_NS), and keeps exact
 * accounts: one bit per (connection, sender, sequence number), so a duplicate,
 * a late arrival and a gap are told apart; latencies go into a histogram of
 * whole microseconds while the measured window is open. A server PING (IRC line,
 * or WebSocket ping frame) is answered so that long runs are not cut off.
 *
 * Commands on stdin, one per line, each answered on stdout with one line:
 *   w  open the window: clear the histogram, start recording   -> "w GOT"
 *   e  close the window: stop recording                        -> "e GOT"
 *   c  counts so far (for the drain)                           -> "c GOT UNIQUE LOST"
 *   q  the final report, then exit                             -> one JSON object
 * GOT counts payloads including duplicates, UNIQUE without them, LOST the
 * connections the server closed. "ready" is printed once every socket is watched.
 *
 *   receiver MODE TAG SENDERS BASE_NS FD[,FD...]     MODE: lines | ws
 *
 * Compiled at run time by benchmarks/creceiver.py with the machine's cc.
 * Loopback sockets only (the Python side opened them); no allocation on the hot
 * path except when a sequence bitmap grows (doubling).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536
#define CARRY 4096 /* longer than any line or frame the server sends */
#define HMAX 4000000 /* histogram: one bucket per microsecond up to 4 s; above that, the last bucket */

typedef struct {
    uint64_t *bits; /* bit q: sequence number q of this sender arrived */
    size_t words;
    uint64_t hi; /* one past the highest sequence number seen */
} Seq;

typedef struct {
    int fd;
    int open;
    size_t carry; /* bytes of an incomplete line or frame, kept for the next read */
    Seq *seq;     /* one per sender */
    char kept[CARRY];
} Conn;

static int ws_mode;
static const char *tag;
static size_t tag_len;
static uint64_t senders;
static int64_t base_ns;
static Conn *conns;
static int nconns;
static uint32_t *hist;
static char rbuf[CARRY + BUF]; /* one read buffer for all: a connection's leftover is copied in front */
static int64_t over_max; /* the largest sample above HMAX, if any */
static int recording;
static uint64_t got, unique_, dups, late, gaps, lost, bad, pings, bytes_in;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec - base_ns) / 1000;
}

static void die(const char *what) {
    fprintf(stderr, "receiver: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void account(Conn *c, uint64_t key, int64_t sent, int64_t now) {
    uint64_t s = key % senders, q = key / senders;
    Seq *sq = &c->seq[s];
    got++;
    if (q / 64 >= sq->words) {
        size_t words = sq->words ? sq->words : 64;
        while (q / 64 >= words)
            words *= 2;
        uint64_t *bits = realloc(sq->bits, words * sizeof *bits);
        if (!bits)
            die("realloc");
        memset(bits + sq->words, 0, (words - sq->words) * sizeof *bits);
        sq->bits = bits;
        sq->words = words;
    }
    uint64_t mask = 1ULL << (q % 64);
    if (sq->bits[q / 64] & mask) {
        dups++;
    } else {
        sq->bits[q / 64] |= mask;
        unique_++;
        if (q + 1 < sq->hi)
            late++;
        else if (q > sq->hi)
            gaps++;
        if (q + 1 > sq->hi)
            sq->hi = q + 1;
    }
    if (recording) {
        int64_t lat = now - sent;
        if (lat < 0)
            lat = 0;
        if (lat >= HMAX) {
            if (lat > over_max)
                over_max = lat;
            lat = HMAX;
        }
        hist[lat]++;
    }
}

/* Account for every payload in p[0:n) (complete lines, or one frame's text). */
static void payloads(Conn *c, const char *p, size_t n, int64_t now) {
    const char *end = p + n;
    while (p < end) {
        /* memchr for the tag's first byte, then a compare: cheaper than memmem on short lines */
        const char *t = memchr(p, tag[0], (size_t)(end - p));
        if (!t)
            return;
        if ((size_t)(end - t) < tag_len || memcmp(t, tag, tag_len) != 0) {
            p = t + 1;
            continue;
        }
        const char *d = t + tag_len;
        uint64_t key = 0;
        int64_t sent = 0;
        const char *k0 = d;
        while (d < end && *d >= '0' && *d <= '9')
            key = key * 10 + (uint64_t)(*d++ - '0');
        if (d == k0 || d >= end || *d != ' ') {
            bad++;
            p = d;
            continue;
        }
        const char *s0 = ++d;
        while (d < end && *d >= '0' && *d <= '9')
            sent = sent * 10 + (*d++ - '0');
        if (d == s0) {
            bad++;
            p = d;
            continue;
        }
        account(c, key, sent, now);
        p = d;
    }
}

static void send_all(Conn *c, const char *data, size_t n) {
    while (n) {
        ssize_t w = write(c->fd, data, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* a full socket buffer on a pong: the server will ask again */
        }
        data += w;
        n -= (size_t)w;
    }
}

/* Answer "PING x" with "PONG x", as a masked frame (zero mask key) over WebSocket. */
static void pong(Conn *c, const char *line, size_t n, int frame) {
    char out[600];
    if (n < 5 || n > 500)
        return;
    size_t m = 0;
    if (frame) {
        out[m++] = (char)0x81;
        out[m++] = (char)(0x80 | (n & 0x7f));
        memset(out + m, 0, 4);
        m += 4;
    }
    memcpy(out + m, "PONG", 4);
    memcpy(out + m + 4, line + 4, n - 4);
    m += n;
    if (!frame) {
        memcpy(out + m, "\r\n", 2);
        m += 2;
    }
    pings++;
    send_all(c, out, m);
}

static void pings_in_lines(Conn *c, const char *p, size_t n) {
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        if (len && p[len - 1] == '\r')
            len--;
        if (len >= 5 && memcmp(p, "PING ", 5) == 0)
            pong(c, p, len, 0);
        if (!nl)
            return;
        p = nl + 1;
    }
}

/* Lines mode: payloads in the complete lines; returns bytes consumed. */
static size_t consume_lines(Conn *c, const char *p, size_t n, int64_t now) {
    const char *last = memrchr(p, '\n', n);
    if (!last)
        return 0;
    size_t done = (size_t)(last - p) + 1;
    payloads(c, p, done, now);
    if (memmem(p, done, "PING ", 5))
        pings_in_lines(c, p, done);
    return done;
}

/* WebSocket mode: each complete server frame (unmasked); returns bytes consumed. */
static size_t consume_frames(Conn *c, const char *buf, size_t n, int64_t now) {
    const unsigned char *p = (const unsigned char *)buf;
    size_t i = 0;
    while (i + 2 <= n) {
        unsigned op = p[i], len = p[i + 1] & 0x7f;
        size_t head = 2, plen = len;
        if (len == 126) {
            if (i + 4 > n)
                break;
            plen = ((size_t)p[i + 2] << 8) | p[i + 3];
            head = 4;
        } else if (len == 127) {
            if (i + 10 > n)
                break;
            plen = 0;
            for (int b = 2; b < 10; b++)
                plen = (plen << 8) | p[i + b];
            head = 10;
        }
        if (p[i + 1] & 0x80)
            head += 4; /* a masked frame: servers send none; skip the key */
        if (i + head + plen > n)
            break;
        const char *data = buf + i + head;
        if (op == 0x81) {
            payloads(c, data, plen, now);
            if (plen >= 5 && memcmp(data, "PING ", 5) == 0)
                pong(c, data, plen, 1);
        } else if (op == 0x89 && plen <= 125) { /* ping: masked pong, zero key */
            char out[131];
            out[0] = (char)0x8A;
            out[1] = (char)(0x80 | plen);
            memset(out + 2, 0, 4);
            memcpy(out + 6, data, plen);
            pings++;
            send_all(c, out, 6 + plen);
        } else if (op == 0x88) {
            c->open = 0; /* close frame: counted as lost when the socket ends */
        }
        i += head + plen;
    }
    return i;
}

static void drop(int ep, Conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->open = 0;
    lost++;
}

static void on_readable(int ep, Conn *c) {
    memcpy(rbuf, c->kept, c->carry);
    ssize_t r = read(c->fd, rbuf + c->carry, BUF);
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        drop(ep, c);
        return;
    }
    if (r == 0) {
        drop(ep, c);
        return;
    }
    bytes_in += (uint64_t)r;
    int64_t now = now_us();
    size_t n = c->carry + (size_t)r;
    size_t done = ws_mode ? consume_frames(c, rbuf, n, now) : consume_lines(c, rbuf, n, now);
    size_t rest = n - done;
    if (rest > CARRY) { /* a line or frame longer than any the server sends: skip it */
        bad++;
        rest = 0;
    }
    memcpy(c->kept, rbuf + done, rest);
    c->carry = rest;
}

static void report(void) {
    printf("{\"got\": %llu, \"unique\": %llu, \"dups\": %llu, \"late\": %llu, \"gaps\": %llu, \"lost\": %llu, "
           "\"bad\": %llu, \"pongs\": %llu, \"bytes\": %llu, \"over_max_us\": %lld, \"hist\": [",
           (unsigned long long)got, (unsigned long long)unique_, (unsigned long long)dups, (unsigned long long)late,
           (unsigned long long)gaps, (unsigned long long)lost, (unsigned long long)bad, (unsigned long long)pings,
           (unsigned long long)bytes_in, (long long)over_max);
    int first = 1;
    for (long i = 0; i <= HMAX; i++) {
        if (hist[i]) {
            printf("%s[%ld, %u]", first ? "" : ", ", i, hist[i]);
            first = 0;
        }
    }
    printf("]}\n");
    fflush(stdout);
}

/* One command from the Python side; returns 0 to stop. */
static int command(void) {
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        return 0;
    switch (line[0]) {
    case 'w':
        memset(hist, 0, (HMAX + 1) * sizeof *hist);
        over_max = 0;
        recording = 1;
        printf("w %llu\n", (unsigned long long)got);
        break;
    case 'e':
        recording = 0;
        printf("e %llu\n", (unsigned long long)got);
        break;
    case 'c':
        printf("c %llu %llu %llu\n", (unsigned long long)got, (unsigned long long)unique_, (unsigned long long)lost);
        break;
    case 'q':
        report();
        return 0;
    default:
        printf("? %s", line);
    }
    fflush(stdout);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: receiver lines|ws TAG SENDERS BASE_NS FD[,FD...]\n");
        return 2;
    }
    ws_mode = strcmp(argv[1], "ws") == 0;
    tag = argv[2];
    tag_len = strlen(tag);
    senders = strtoull(argv[3], NULL, 10);
    base_ns = strtoll(argv[4], NULL, 10);
    if (!tag_len || !senders) {
        fprintf(stderr, "receiver: empty tag or no senders\n");
        return 2;
    }
    for (const char *s = argv[5]; *s; s++)
        if (*s == ',')
            nconns++;
    nconns++;
    conns = calloc((size_t)nconns, sizeof *conns);
    hist = calloc(HMAX + 1, sizeof *hist);
    if (!conns || !hist)
        die("calloc");
    int ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1");
    char *list = argv[5];
    for (int i = 0; i < nconns; i++) {
        Conn *c = &conns[i];
        c->fd = (int)strtol(list, &list, 10);
        list += *list == ',';
        c->open = 1;
        c->seq = calloc(senders, sizeof *c->seq);
        if (!c->seq)
            die("calloc");
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            die("epoll_ctl (fd)");
    }
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) < 0)
        die("epoll_ctl (stdin)");
    setvbuf(stdin, NULL, _IONBF, 0); /* one command per readable event: never leave one in stdio's buffer */
    printf("ready %d\n", nconns);
    fflush(stdout);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            Conn *c = evs[i].data.ptr;
            if (c == NULL) {
                if (!command())
                    return 0;
            } else if (c->fd >= 0) {
                on_readable(ep, c);
            }
        }
    }
}
