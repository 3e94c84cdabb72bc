/* The fan-out's floor on this machine (issue 15): what N one-line loopback
 * writes per message cost in C, with nothing else to do.
 *
 *   floor all N RATE SECONDS WRITER_CPU READER_CPU
 *       N connections over 127.0.0.1; a writer process on WRITER_CPU writes one
 *       64-byte line to each of them, RATE times a second for SECONDS, each
 *       line carrying the message's moment (CLOCK_MONOTONIC ns); a reader
 *       process on READER_CPU reads them all with epoll, as the benchmark's C
 *       receiver does. Prints the writer's spread (first write to last) and
 *       the latency of every delivery (the message's moment to its read).
 *   floor read READER_CPU FD,FD,...
 *       the reader alone, on sockets it inherits (benchmarks/floor.py writes
 *       from Python); latency figures on stdout once every socket is at EOF.
 *
 * Loopback only; bounded by SECONDS (at most 600) and N (at most 10,000).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE 64

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void stats(const char *name, uint64_t *xs, size_t n) {
    if (n == 0) {
        printf("%s n 0\n", name);
        return;
    }
    qsort(xs, n, sizeof *xs, cmp);
#define AT(p) (xs[(size_t)((p) / 100.0 * n) < n ? (size_t)((p) / 100.0 * n) : n - 1] / 1e6)
    printf("%s n %zu p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n", name, n, AT(50), AT(90), AT(99), AT(99.9),
           xs[n - 1] / 1e6);
}

/* Read every socket until EOF; latency of each 64-byte record; fds[0] is the first written to. */
static int reader(int cpu, int *fds, int n) {
    pin(cpu);
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    size_t cap = 1 << 20, count = 0, firsts = 0;
    uint64_t *lat = malloc(cap * sizeof *lat), *first = malloc(cap * sizeof *first);
    char (*part)[LINE] = calloc((size_t)n, LINE);
    int *have = calloc((size_t)n, sizeof *have), open = n;
    char buf[65536];
    struct epoll_event evs[256];
    while (open > 0) {
        int k = epoll_wait(ep, evs, 256, 10000);
        if (k <= 0)
            break;
        for (int e = 0; e < k; e++) {
            int i = (int)evs[e].data.u32;
            ssize_t got = read(fds[i], buf, sizeof buf);
            if (got <= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
                open--;
                continue;
            }
            uint64_t t = now_ns();
            for (ssize_t j = 0; j < got; j++) {
                part[i][have[i]++] = buf[j];
                if (have[i] < LINE)
                    continue;
                have[i] = 0;
                uint64_t sent = strtoull(part[i], NULL, 10);
                if (count == cap || firsts == cap)
                    continue;
                lat[count++] = t - sent;
                if (i == 0)
                    first[firsts++] = t - sent;
            }
        }
    }
    stats("delivery", lat, count);
    stats("first", first, firsts);
    fflush(stdout);
    return 0;
}

static int all(int n, double rate, double seconds, int wcpu, int rcpu) {
    int lst = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(lst, (struct sockaddr *)&a, sizeof a);
    listen(lst, 4096);
    getsockname(lst, (struct sockaddr *)&a, &len);
    int *cl = malloc(sizeof(int) * (size_t)n), *sv = malloc(sizeof(int) * (size_t)n), one = 1;
    for (int i = 0; i < n; i++) {
        cl[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(cl[i], (struct sockaddr *)&a, sizeof a) != 0) {
            perror("connect");
            return 2;
        }
        sv[i] = accept(lst, NULL, NULL);
        setsockopt(sv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < n; i++)
            close(sv[i]);
        _exit(reader(rcpu, cl, n));
    }
    for (int i = 0; i < n; i++)
        close(cl[i]);
    pin(wcpu);
    size_t rounds = (size_t)(rate * seconds), done = 0;
    uint64_t *spread = malloc(sizeof(uint64_t) * (rounds + 1)), period = (uint64_t)(1e9 / rate);
    uint64_t next = now_ns() + 100000000ull;
    char line[LINE + 1];
    for (; done < rounds; done++) {
        struct timespec ts = {.tv_sec = (time_t)(next / 1000000000ull), .tv_nsec = (long)(next % 1000000000ull)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        uint64_t t0 = now_ns();
        snprintf(line, sizeof line, "%020llu %-42s\n", (unsigned long long)t0, "x");
        for (int i = 0; i < n; i++)
            if (write(sv[i], line, LINE) != LINE)
                perror("write");
        spread[done] = now_ns() - t0;
        next += period;
    }
    printf("writes per message %d, %.0f messages/s, %zu messages\n", n, rate, done);
    stats("spread", spread, done);
    fflush(stdout);
    for (int i = 0; i < n; i++)
        close(sv[i]);
    int status = 0;
    waitpid(child, &status, 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 7 && strcmp(argv[1], "all") == 0) {
        int n = atoi(argv[2]);
        double rate = atof(argv[3]), seconds = atof(argv[4]);
        if (n < 1 || n > 10000 || rate <= 0 || rate > 100000 || seconds <= 0 || seconds > 600)
            return 2;
        return all(n, rate, seconds, atoi(argv[5]), atoi(argv[6]));
    }
    if (argc == 4 && strcmp(argv[1], "read") == 0) {
        int fds[10000], n = 0;
        for (char *p = strtok(argv[3], ","); p && n < 10000; p = strtok(NULL, ","))
            fds[n++] = atoi(p);
        return reader(atoi(argv[2]), fds, n);
    }
    fprintf(stderr, "usage: floor all N RATE SECONDS WRITER_CPU READER_CPU | floor read READER_CPU FD,...\n");
    return 2;
}
