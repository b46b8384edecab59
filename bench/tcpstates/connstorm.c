/* Loopback connection storm for the tracer benchmark: CONNS connections to 127.0.0.1:PORT,
 * each connected, closed by the client first, then closed by the server on EOF. Every
 * connection makes 10 TCP state transitions (5 per side). Prints connections and seconds. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int lfd;
static long conns;

static void *server(void *arg) {
    (void)arg;
    char buf[64];
    for (long i = 0; i < conns; i++) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) { perror("accept"); exit(1); }
        while (read(c, buf, sizeof buf) > 0) {}
        close(c);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: connstorm PORT CONNS\n"); return 2; }
    int port = atoi(argv[1]);
    conns = atol(argv[2]);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4096)) { perror("listen"); return 1; }
    pthread_t t;
    pthread_create(&t, NULL, server, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < conns; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
        close(s);
    }
    pthread_join(t, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%ld %.3f\n", conns, secs);
    close(lfd);
    return 0;
}
