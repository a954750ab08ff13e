/* no-fsync.so: fsync and fdatasync of RocksDB's write-ahead logs (files named *.log) return success
 * without syncing; every other file is synced as usual. It stands for a server that acknowledges log
 * entries it never made durable. Preloaded before lose-unsynced.so, it hides those syncs from it,
 * so a crash loses the log's unsynced tail. Used only by the harness's own tests, to show that the
 * crash nemesis catches such a server. Build: cc -shared -fPIC -O2 -o no-fsync.so no-fsync.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int is_wal(int fd) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 4) return 0;
    path[n] = 0;
    return strcmp(path + n - 4, ".log") == 0;
}

int fsync(int fd) {
    static int (*real)(int);
    if (is_wal(fd)) return 0;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (is_wal(fd)) return 0;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return real(fd);
}
