/* t_file: tiny file-writing program for lose-unsynced tests.  Prints "ready" and
 * sleeps (to be SIGKILLed) unless the mode is "init". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <pthread.h>

/* threads mode: thread i appends 100-byte records to DIR/t<i>, fsyncs every few
 * records, and prints "synced i LEN" after each fsync returned.  After a crash and
 * restore, each file must be a prefix of what was written, end on a sync boundary,
 * and be at least as long as the last printed LEN. */
static const char *tdir;
static pthread_mutex_t outmu = PTHREAD_MUTEX_INITIALIZER;
static void *tmain(void *arg) {
    long i = (long)arg; char p[4096], rec[101];
    snprintf(p, sizeof p, "%s/t%ld", tdir, i);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    long len = 0;
    for (long n = 0;; n++) {
        memset(rec, ' ', 99); rec[99] = '\n';
        int h = snprintf(rec, sizeof rec, "%ld:%08ld:", i, n); rec[h] = ' ';
        if (write(fd, rec, 100) != 100) { perror("write"); exit(1); }
        len += 100;
        if (n % 2 == 1 && i % 2 == 0) { pwrite(fd, "#", 1, len - 150); } /* overwrite in place too */
        if (n % (3 + i) == 0) {
            fdatasync(fd);
            pthread_mutex_lock(&outmu); printf("synced %ld %ld\n", i, len); fflush(stdout); pthread_mutex_unlock(&outmu);
        }
        if (n == 200) { pthread_mutex_lock(&outmu); printf("ready\n"); fflush(stdout); pthread_mutex_unlock(&outmu); }
    }
    return NULL;
}

static void w(int fd, const char *s) { if (write(fd, s, strlen(s)) != (ssize_t)strlen(s)) { perror("write"); exit(1); } }
static void pw(int fd, const char *s, off_t o) { if (pwrite(fd, s, strlen(s), o) != (ssize_t)strlen(s)) { perror("pwrite"); exit(1); } }

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: t_file MODE FILE [TEXT]\n"); return 2; }
    const char *mode = argv[1], *path = argv[2];
    int fd;
    if (!strcmp(mode, "threads")) {
        tdir = path; pthread_t t[4];
        for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, tmain, (void *)i);
        for (;;) pause();
    }
    if (!strcmp(mode, "init")) {            /* write TEXT, fsync, exit */
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        w(fd, argv[3]); fsync(fd); close(fd); return 0;
    } else if (!strcmp(mode, "append")) {   /* 3 appends, fsync after the 2nd */
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        w(fd, "one\n"); w(fd, "two\n"); fdatasync(fd); w(fd, "three\n");
    } else if (!strcmp(mode, "overwrite")) { /* pwrite over synced bytes, overlapping, plus an append */
        fd = open(path, O_WRONLY);
        pw(fd, "ZZ", 2); pw(fd, "YYYY", 3); pw(fd, "tail", 10); pw(fd, "X", 0);
    } else if (!strcmp(mode, "shrink")) {    /* ftruncate down, then write past the new end */
        fd = open(path, O_WRONLY);
        if (ftruncate(fd, 4)) perror("ftruncate");
        pw(fd, "Q", 6);
    } else if (!strcmp(mode, "otrunc")) {    /* open(O_TRUNC) and rewrite */
        fd = open(path, O_WRONLY | O_TRUNC);
        w(fd, "new");
    } else if (!strcmp(mode, "writev")) {    /* lseek + writev over synced bytes */
        fd = open(path, O_WRONLY);
        lseek(fd, 5, SEEK_SET);
        struct iovec v[2] = { { "vv", 2 }, { "VVVVVVVV", 8 } };
        if (writev(fd, v, 2) != 10) perror("writev");
    } else if (!strcmp(mode, "syncmix")) {   /* overwrite, fsync, overwrite again: only the 2nd is lost */
        fd = open(path, O_WRONLY);
        pw(fd, "11", 0); fsync(fd); pw(fd, "22", 1);
    } else if (!strcmp(mode, "rename")) {   /* overwrite, then rename to FILE.renamed */
        fd = open(path, O_WRONLY);
        pw(fd, "RR", 0);
        char to[4096]; snprintf(to, sizeof to, "%s.renamed", path);
        if (rename(path, to)) perror("rename");
    } else if (!strcmp(mode, "appendexit")) { /* unsynced append, then a normal exit */
        fd = open(path, O_WRONLY | O_APPEND);
        w(fd, " world"); return 0;
    } else { fprintf(stderr, "bad mode\n"); return 2; }
    printf("ready\n"); fflush(stdout);
    for (;;) pause();
}
