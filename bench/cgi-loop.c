/*
 * A tight CGI exec loop: runs PROGRAM N times as a CGI script (the CGI environment of an
 * Apache/nginx POST, the payload on stdin, the answer read from a pipe), checks that each
 * answer is a 200, and prints one machine-readable line: requests, wall time, CPU of the
 * children and their peak RSS.
 *
 *   cgi-loop N PAYLOAD_FILE PROGRAM [ARG...]
 *
 * The environment of the loop itself is passed on (set BENCH_OUT, SCRIPT_FILENAME, etc.
 * before calling); REQUEST_METHOD, CONTENT_TYPE, CONTENT_LENGTH and the other CGI
 * variables are set here.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The Status header, if any, among the headers (before the first empty line) says 200. */
static int is_200(const char *answer) {
    const char *end = strstr(answer, "\r\n\r\n");
    const char *alt = strstr(answer, "\n\n");
    if (!end || (alt && alt < end)) end = alt;
    if (!end) return 0;
    for (const char *line = answer; line && line < end; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (strncasecmp(line, "Status:", 7) == 0) return strncmp(line + 7, " 200", 4) == 0;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s N PAYLOAD PROGRAM [ARG...]\n", argv[0]); return 2; }
    long n = atol(argv[1]);
    int payload = open(argv[2], O_RDONLY);
    if (payload < 0) { perror(argv[2]); return 2; }
    struct stat st;
    fstat(payload, &st);
    char length[32];
    snprintf(length, sizeof length, "%lld", (long long)st.st_size);
    setenv("GATEWAY_INTERFACE", "CGI/1.1", 1);
    setenv("REQUEST_METHOD", "POST", 1);
    setenv("CONTENT_TYPE", "application/x-www-form-urlencoded", 1);
    setenv("CONTENT_LENGTH", length, 1);
    setenv("QUERY_STRING", "", 1);
    setenv("REQUEST_URI", "/contact", 1);
    setenv("SCRIPT_NAME", "/contact", 1);
    setenv("SERVER_PROTOCOL", "HTTP/1.1", 1);
    setenv("SERVER_NAME", "localhost", 1);
    setenv("SERVER_PORT", "80", 1);
    setenv("SERVER_SOFTWARE", "cgi-loop", 1);
    setenv("REMOTE_ADDR", "127.0.0.1", 1);
    setenv("REDIRECT_STATUS", "200", 1);  /* php-cgi's cgi.force_redirect */
    static char out[1 << 16];
    long ok = 0, bad = 0;
    double start = now();
    for (long i = 0; i < n; i++) {
        int pipefd[2];
        if (pipe(pipefd) != 0) { perror("pipe"); return 1; }
        lseek(payload, 0, SEEK_SET);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, payload, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
        posix_spawn_file_actions_addclose(&fa, pipefd[0]);
        pid_t pid;
        if (posix_spawn(&pid, argv[3], &fa, NULL, argv + 3, environ) != 0) { perror(argv[3]); return 1; }
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        size_t len = 0;
        ssize_t got;
        while ((got = read(pipefd[0], out + len, sizeof out - 1 - len)) > 0) len += (size_t)got;
        out[len] = 0;
        close(pipefd[0]);
        int status;
        waitpid(pid, &status, 0);
        /* A CGI answer without a Status header is a 200 (php-cgi's way). */
        int is200 = WIFEXITED(status) && WEXITSTATUS(status) == 0 && len > 0 && is_200(out);
        if (is200) ok++; else {
            if (bad++ == 0) fprintf(stderr, "cgi-loop: not a 200 (exit %d): %.300s\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
        }
    }
    double wall = now() - start;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("BENCH requests=%ld ok=%ld wall_s=%.6f cpu_s=%.6f maxrss_kb=%ld\n", n, ok, wall, cpu, ru.ru_maxrss);
    return bad ? 1 : 0;
}
