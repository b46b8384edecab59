// One loopback TCP stream for SECONDS: a receiver thread reads, the main thread writes CHUNK-byte
// buffers, as fast as it can (RATE_MBIT 0) or paced to RATE_MBIT megabits per second.
// Prints: bytes seconds gbit_per_s process_cpu_seconds
//   stream PORT SECONDS CHUNK RATE_MBIT
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int listener;
static size_t chunk;

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void *receiver(void *arg) {
	(void)arg;
	int c = accept(listener, NULL, NULL);
	char *buf = malloc(chunk);
	while (read(c, buf, chunk) > 0) {
	}
	close(c);
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: stream PORT SECONDS CHUNK RATE_MBIT\n");
		return 2;
	}
	int port = atoi(argv[1]);
	double secs = atof(argv[2]);
	chunk = (size_t)atol(argv[3]);
	double rate = atof(argv[4]) * 1e6 / 8; // bytes per second, 0: unpaced
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listener, (void *)&a, sizeof(a)) || listen(listener, 1)) {
		perror("listen");
		return 1;
	}
	pthread_t t;
	pthread_create(&t, NULL, receiver, NULL);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(s, (void *)&a, sizeof(a))) {
		perror("connect");
		return 1;
	}
	char *buf = calloc(1, chunk);
	double start = now(), end = start + secs;
	unsigned long long sent = 0;
	for (;;) {
		double n = now();
		if (n >= end)
			break;
		if (rate > 0 && sent > (n - start) * rate) {
			usleep(200);
			continue;
		}
		ssize_t w = write(s, buf, chunk);
		if (w <= 0) {
			perror("write");
			return 1;
		}
		sent += (unsigned long long)w;
	}
	double took = now() - start;
	shutdown(s, SHUT_WR);
	pthread_join(t, NULL);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("%llu %.3f %.3f %.2f\n", sent, took, sent * 8 / took / 1e9, cpu);
	return 0;
}
