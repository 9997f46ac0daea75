/*
 * The floor for any libfcgi program: N threads, each in its own FCGX_Accept_r loop (no
 * mutex, as the listener does; see docs/libfcgi.md), reading the raw body and appending
 * it as one line to a file with a single write() on an O_APPEND descriptor. No decoding.
 *
 *   thin-fcgi SOCKET_PATH FILE THREADS [fsync]
 *
 * With "fsync", every request calls fdatasync() before it answers (no group commit):
 * the per-request-fsync baseline of bench/run. SIGTERM/SIGINT exit at once.
 */
#include <fcgiapp.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int listen_fd, out_fd, do_sync;

static void *worker(void *arg) {
    (void)arg;
    FCGX_Request req;
    FCGX_InitRequest(&req, listen_fd, 0);
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    while (FCGX_Accept_r(&req) == 0) {
        size_t len = 0;
        for (;;) {
            if (cap - len < 8192) { cap *= 2; buf = realloc(buf, cap); }
            int n = FCGX_GetStr(buf + len, (int)(cap - len - 1), req.in);
            if (n <= 0) break;
            len += (size_t)n;
        }
        buf[len++] = '\n';
        const char *status = "200 OK";
        if (write(out_fd, buf, len) != (ssize_t)len || (do_sync && fdatasync(out_fd) != 0))
            status = "503 Service Unavailable";
        FCGX_FPrintF(req.out, "Status: %s\r\nContent-Type: application/json\r\n\r\n{\"ok\":%s}\n",
                     status, status[0] == '2' ? "true" : "false");
        FCGX_Finish_r(&req);
    }
    free(buf);
    return NULL;
}

static void quit(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s SOCKET FILE THREADS [fsync]\n", argv[0]); return 2; }
    int threads = atoi(argv[3]);
    do_sync = argc > 4 && strcmp(argv[4], "fsync") == 0;
    out_fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (out_fd < 0) { perror(argv[2]); return 1; }
    if (FCGX_Init() != 0) return 1;
    umask(0);
    listen_fd = FCGX_OpenSocket(argv[1], 1024);
    if (listen_fd < 0) return 1;
    signal(SIGTERM, quit);
    signal(SIGINT, quit);
    pthread_t t[256];
    if (threads < 1 || threads > 256) threads = 4;
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    return 0;
}
