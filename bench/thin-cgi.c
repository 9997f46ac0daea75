/*
 * The C CGI baseline: reads CONTENT_LENGTH bytes of body from stdin and appends them as
 * one line to $BENCH_OUT (single write on O_APPEND), then answers 200. No decoding.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    const char *cl = getenv("CONTENT_LENGTH"), *path = getenv("BENCH_OUT");
    size_t want = cl ? strtoul(cl, NULL, 10) : 0, len = 0;
    char *buf = malloc(want + 1);
    while (len < want) {
        ssize_t n = read(0, buf + len, want - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len++] = '\n';
    int fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640) : -1;
    int ok = fd >= 0 && write(fd, buf, len) == (ssize_t)len;
    printf("Status: %s\r\nContent-Type: application/json\r\n\r\n{\"ok\":%s}\n",
           ok ? "200 OK" : "503 Service Unavailable", ok ? "true" : "false");
    return 0;
}
