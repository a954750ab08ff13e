/* rdb: tiny RocksDB C API client for lose-unsynced tests.
 * rdb write DIR N M   -> N synced puts (prints "ack KEY" after each), M unsynced puts, then sleeps
 * rdb read DIR N M    -> prints counts of present synced/unsynced keys
 * rdb bench DIR N SYNC -> N puts, prints elapsed seconds
 * RDB_WBS=bytes sets a (small) write buffer size to force flushes and compactions. */
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

static void die(char *err) { if (err) { fprintf(stderr, "rocksdb: %s\n", err); exit(1); } }

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: rdb write|read|bench DIR N M\n"); return 2; }
    const char *mode = argv[1], *dir = argv[2];
    long n = atol(argv[3]), m = atol(argv[4]);
    char *err = NULL;
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    if (getenv("RDB_WBS")) rocksdb_options_set_write_buffer_size(o, (size_t)atol(getenv("RDB_WBS"))); /* small: flushes, compactions */
    rocksdb_t *db = rocksdb_open(o, dir, &err); die(err);
    char key[64], val[128];
    if (!strcmp(mode, "write")) {
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        rocksdb_writeoptions_set_sync(wo, 1);
        for (long i = 0; i < n; i++) {
            snprintf(key, sizeof key, "s%08ld", i); snprintf(val, sizeof val, "synced-value-%ld", i);
            rocksdb_put(db, wo, key, strlen(key), val, strlen(val), &err); die(err);
            printf("ack %s\n", key); fflush(stdout);
        }
        rocksdb_writeoptions_set_sync(wo, 0);
        for (long i = 0; i < m; i++) {
            snprintf(key, sizeof key, "u%08ld", i); snprintf(val, sizeof val, "unsynced-value-%ld", i);
            rocksdb_put(db, wo, key, strlen(key), val, strlen(val), &err); die(err);
        }
        printf("done\n"); fflush(stdout);
        for (;;) pause();
    } else if (!strcmp(mode, "read")) {
        rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
        long s = 0, u = 0; size_t len;
        for (long i = 0; i < n; i++) {
            snprintf(key, sizeof key, "s%08ld", i);
            char *v = rocksdb_get(db, ro, key, strlen(key), &len, &err); die(err);
            if (v) { s++; free(v); }
        }
        for (long i = 0; i < m; i++) {
            snprintf(key, sizeof key, "u%08ld", i);
            char *v = rocksdb_get(db, ro, key, strlen(key), &len, &err); die(err);
            if (v) { u++; free(v); }
        }
        printf("synced_present %ld/%ld unsynced_present %ld/%ld\n", s, n, u, m);
    } else if (!strcmp(mode, "bench")) {
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        rocksdb_writeoptions_set_sync(wo, (int)m);
        struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++) {
            snprintf(key, sizeof key, "b%08ld", i); snprintf(val, sizeof val, "bench-value-%ld", i);
            rocksdb_put(db, wo, key, strlen(key), val, strlen(val), &err); die(err);
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.3f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    }
    rocksdb_close(db);
    return 0;
}
