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

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int result = real(fd);
    slow_down();
    return result;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int result = real(fd);
    slow_down();
    return result;
}
