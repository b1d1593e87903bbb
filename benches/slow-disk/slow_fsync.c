/* Makes every fsync and fdatasync of the process it is preloaded into take
 * SLOW_FSYNC_US microseconds longer (4000 unless set): the slow state of
 * the disks these benchmarks run on, on demand. The real call still runs
 * first, so durability is unchanged. Built and preloaded by run.sh. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void slow_down(void) {
    static long us = -1;
    if (us < 0) {
        const char *set = getenv("SLOW_FSYNC_US");
        us = set ? atol(set) : 4000;
    }
    struct timespec pause = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&pause, &pause) != 0) {
    }
}

typedef int (*sync_fn)(int);

/* Runs the real call (looked up once), then waits. */
static int slowed(sync_fn *real, const char *name, int fd) {
    if (!*real) *real = (sync_fn)dlsym(RTLD_NEXT, name);
    int result = (*real)(fd);
    slow_down();
    return result;
}

int fsync(int fd) {
    static sync_fn real;
    return slowed(&real, "fsync", fd);
}

int fdatasync(int fd) {
    static sync_fn real;
    return slowed(&real, "fdatasync", fd);
}
