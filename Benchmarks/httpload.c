// httpload: kept-alive HTTP/1.1 requests on a Unix socket from N connections, driven by one
// thread with poll(), so that the client spends a few microseconds per request and the daemon's
// own cost shows (peers.py's Python clients spend ~100 us each, on the same two cores).
//
//   httpload [--new-connections] SOCKET CONNECTIONS SECONDS PATH [JSON-BODY]
//
// GET PATH without a body, POST PATH with it. Each connection keeps one request in flight.
// With --new-connections, each request goes on a new connection, closed once its answer is
// read, as one `jobq` command per request does.
// Prints "<rate> req/s (<count> in <seconds>s, <n> not 2xx) p50 <ms> p99 <ms>", the latencies
// from a request's send (its connect, with --new-connections) to its whole answer. Exits 1 if a connection fails
// or closes, or if a response does not fit one read (this tool is for small answers only).
// Built and run by Benchmarks/api-load.sh.
#define _GNU_SOURCE  // memmem
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int send_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

// The value of Content-Length in a response head, or -1.
static long content_length(const char *head, size_t length) {
    const char *name = "\r\ncontent-length:";
    size_t name_length = strlen(name);
    for (size_t i = 0; i + name_length < length; i++) {
        if (strncasecmp(head + i, name, name_length) == 0) return strtol(head + i + name_length, NULL, 10);
    }
    return -1;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// A new connection to the socket, or -1 (errno set).
static int connect_to(const char *socket_path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, socket_path);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int main(int argc, char **argv) {
    int new_connections = argc > 1 && strcmp(argv[1], "--new-connections") == 0;
    if (new_connections) {
        argv++;
        argc--;
    }
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: httpload [--new-connections] SOCKET CONNECTIONS SECONDS PATH [JSON-BODY]\n");
        return 2;
    }
    const char *socket_path = argv[1];
    int connections = atoi(argv[2]);
    double seconds = atof(argv[3]);
    const char *path = argv[4];
    const char *body = argc == 6 ? argv[5] : NULL;
    if (connections < 1 || seconds <= 0 || strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        fprintf(stderr, "httpload: bad arguments\n");
        return 2;
    }
    char request[8192];
    int request_length = body
        ? snprintf(request, sizeof request,
                   "POST %s HTTP/1.1\r\nHost: jobq\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   path, strlen(body), body)
        : snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: jobq\r\n\r\n", path);
    if (request_length <= 0 || (size_t)request_length >= sizeof request) {
        fprintf(stderr, "httpload: the request is over %zu bytes\n", sizeof request);
        return 2;
    }
    struct pollfd *polls = calloc((size_t)connections, sizeof *polls);
    if (!polls) return 1;
    for (int i = 0; i < connections; i++) {
        int fd = connect_to(socket_path);
        if (fd < 0) {
            fprintf(stderr, "httpload: cannot connect to %s: %s\n", socket_path, strerror(errno));
            return 1;
        }
        polls[i].fd = fd;
        polls[i].events = POLLIN;
    }
    long done = 0, not_ok = 0;
    static char buffer[1 << 16];
    double started = now(), end = started + seconds;
    double *sent_at = calloc((size_t)connections, sizeof *sent_at);
    size_t latency_capacity = 1 << 16, latency_count = 0;
    double *latencies = malloc(latency_capacity * sizeof *latencies);
    if (!sent_at || !latencies) return 1;
    for (int i = 0; i < connections; i++) {
        sent_at[i] = started;
        if (send_all(polls[i].fd, request, (size_t)request_length) != 0) {
            perror("httpload: write");
            return 1;
        }
    }
    while (now() < end) {
        int ready = poll(polls, (nfds_t)connections, 1000);
        if (ready < 0 && errno != EINTR) {
            perror("httpload: poll");
            return 1;
        }
        for (int i = 0; ready > 0 && i < connections; i++) {
            if (!(polls[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(polls[i].fd, buffer, sizeof buffer);
            if (n <= 0) {
                fprintf(stderr, "httpload: the daemon closed a connection\n");
                return 1;
            }
            char *head_end = memmem(buffer, (size_t)n, "\r\n\r\n", 4);
            long length = head_end ? content_length(buffer, (size_t)(head_end - buffer)) : -1;
            if (!head_end || length < 0 || head_end + 4 + length != buffer + n) {
                fprintf(stderr, "httpload: a response did not come in one read of %zd bytes\n", n);
                return 1;
            }
            if (n < 12 || memcmp(buffer, "HTTP/1.1 2", 10) != 0) not_ok++;
            done++;
            if (latency_count == latency_capacity) {
                latency_capacity *= 2;
                latencies = realloc(latencies, latency_capacity * sizeof *latencies);
                if (!latencies) return 1;
            }
            latencies[latency_count++] = now() - sent_at[i];
            sent_at[i] = now();
            if (new_connections) {
                close(polls[i].fd);
                polls[i].fd = connect_to(socket_path);
                if (polls[i].fd < 0) {
                    fprintf(stderr, "httpload: cannot connect to %s: %s\n", socket_path, strerror(errno));
                    return 1;
                }
            }
            if (send_all(polls[i].fd, request, (size_t)request_length) != 0) {
                perror("httpload: write");
                return 1;
            }
        }
    }
    double elapsed = now() - started;
    qsort(latencies, latency_count, sizeof *latencies, compare_doubles);
    double p50 = latency_count ? latencies[latency_count / 2] : 0;
    double p99 = latency_count ? latencies[(latency_count * 99) / 100] : 0;
    printf("%.0f req/s (%ld in %.1fs, %ld not 2xx) p50 %.3f ms p99 %.3f ms\n", (double)done / elapsed, done, elapsed,
           not_ok, p50 * 1e3, p99 * 1e3);
    return not_ok > 0 ? 1 : 0;
}
