/* bench/slow-sync.c: an LD_PRELOAD shim that makes fsync and fdatasync as slow as a disk
 * that really flushes, for `BENCH_SYNC_DELAY_US=N bench/run` (BENCHMARKS.md). Each call
 * waits N microseconds (SLOW_SYNC_US), one at a time across every process that loads the
 * shim (a mutex, and an exclusive flock on SLOW_SYNC_LOCK), as one device flushes one thing at a time;
 * then the real call runs. On a virtual disk whose flush is nearly free, this is what lets
 * batching (group commit) show what it buys on real hardware. The lock file's first 8 bytes
 * count the flushes of every process (written under the flock), so bench/run can print
 * flushes per stored event, a figure the load generator sharing the cores does not blur. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int lock_fd = -1;
/* flock serializes processes, not the threads of one (they share the open file): those
 * take this mutex first. */
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;

static useconds_t delay_us;
static char lock_path[4096];
static pid_t opened_by;

/* Read at load time: PHP-FPM's workers clear their environment (clear_env = yes). */
__attribute__((constructor)) static void setup(void) {
  const char *delay = getenv("SLOW_SYNC_US");
  const char *path = getenv("SLOW_SYNC_LOCK");
  if (!delay || !path || strlen(path) >= sizeof lock_path) return;
  delay_us = (useconds_t)atoi(delay);
  strcpy(lock_path, path);
}

static void slow(void) {
  if (delay_us == 0) return;
  pthread_mutex_lock(&mutex);
  /* Opened by each process itself: a forked worker sharing its parent's open file would
   * share its flock too, and not wait for it. */
  if (opened_by != getpid()) {
    if (lock_fd >= 0) close(lock_fd);
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    opened_by = getpid();
  }
  if (lock_fd < 0) { pthread_mutex_unlock(&mutex); return; }
  flock(lock_fd, LOCK_EX);
  unsigned long long count = 0;
  if (pread(lock_fd, &count, sizeof count, 0) != (ssize_t)sizeof count) count = 0;
  count++;
  if (pwrite(lock_fd, &count, sizeof count, 0) != (ssize_t)sizeof count) { /* a count is not worth failing a flush */ }
  usleep(delay_us);
  flock(lock_fd, LOCK_UN);
  pthread_mutex_unlock(&mutex);
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  slow();
  return real(fd);
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  slow();
  return real(fd);
}
