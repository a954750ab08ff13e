/*
 * lose-unsynced: an LD_PRELOAD library that makes a crash lose every write a
 * process did not fsync.
 *
 * Before a write (or truncate, hole punch, ...) changes bytes of a regular file
 * that were not already saved since that file's last fsync/fdatasync, the
 * library appends an undo record to a journal: the file's length at the start
 * of the "epoch" (first change since the last sync) and the old bytes of any
 * overwritten region that existed then.  A sync of the file (fsync, fdatasync,
 * sync, syncfs, an O_SYNC/O_DSYNC/RWF_DSYNC write) appends a marker that
 * discards those records.  After the process is SIGKILLed, restoring the
 * journal (next start under the preload, or lose-unsynced-restore) applies the
 * undo records that were not discarded, newest first, so every file is back to
 * what it held at its last sync.  This models "process crash + loss of the OS
 * page cache" for a machine that stays up; the journal itself is never fsynced.
 *
 * Build:   cc -shared -fPIC -O2 -o lose-unsynced.so lose-unsynced.c -ldl -lpthread
 *          cc -O2 -DLOSE_UNSYNCED_MAIN -o lose-unsynced-restore lose-unsynced.c
 * Use:     LD_PRELOAD=/abs/lose-unsynced.so LOSE_UNSYNCED_JOURNAL=/abs/journal \
 *          [LOSE_UNSYNCED_ROOT=/abs/dir] [LOSE_UNSYNCED_VERBOSE=1] server ...
 *          lose-unsynced-restore JOURNAL     (explicit restore, no server)
 *
 * Liveness: the journal is flock()ed by its owner; the lock vanishes with the
 * process, so a journal that can be locked belongs to a dead process and is
 * restored.  A process that finds the journal locked (e.g. a child the server
 * exec'd, inheriting the environment) stays passive and tracks nothing.
 *
 * Not modelled (see README.md): directory entries (creat/rename/unlink are
 * treated as durable at once, directory fsync is a no-op for the model), mmap
 * stores, stdio (glibc calls its internal write, which LD_PRELOAD cannot see),
 * copy_file_range/sendfile/splice/io_uring/aio, writes by forked children that
 * do not exec, and sync_file_range (no durability guarantee: not a sync).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/falloc.h>

#define J_MAGIC   0x4a554c31u /* header magic */
#define R_MAGIC   0x52454331u /* record magic */
#define R_BASE      1 /* epoch start: off = file length then, followed by path */
#define R_DATA      2 /* old bytes: off, len, followed by len bytes */
#define R_SYNC_FILE 3 /* discard records of (dev,ino) with seq < off */
#define R_SYNC_DEV  4 /* discard records of files on dev with seq < off */
#define R_SYNC_ALL  5 /* discard all records with seq < off */
#define R_PATH      6 /* the file (dev,ino) was renamed: followed by its new path */

struct jhdr { uint32_t magic, version; uint64_t pid; uint64_t reserved[2]; };
struct rec {
    uint32_t magic; uint16_t type; uint16_t pathlen;
    uint64_t seq, dev, ino, off, len;
};

/* ---------- real functions ---------- */
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pread)(int, void *, size_t, off_t);
static int (*r_open)(const char *, int, ...);
static int (*r_close)(int);
static int (*r_ftruncate)(int, off_t);

static int lu_open(const char *p, int fl, mode_t m) {
    return r_open ? r_open(p, fl, m) : (int)syscall(SYS_openat, AT_FDCWD, p, fl, m);
}
static ssize_t lu_write_all(int fd, const void *b, size_t n) {
    const char *p = b; size_t done = 0;
    while (done < n) {
        ssize_t w = r_write ? r_write(fd, p + done, n - done) : syscall(SYS_write, fd, p + done, n - done);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        done += (size_t)w;
    }
    return (ssize_t)done;
}
static ssize_t lu_pwrite_all(int fd, const void *b, size_t n, off_t off) {
    const char *p = b; size_t done = 0;
    while (done < n) {
        ssize_t w = r_pwrite ? r_pwrite(fd, p + done, n - done, off + (off_t)done)
                             : syscall(SYS_pwrite64, fd, p + done, n - done, off + (off_t)done);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        done += (size_t)w;
    }
    return (ssize_t)done;
}
__attribute__((unused)) static void lu_log(const char *fmt, ...) {
    char buf[512]; va_list ap; va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap); va_end(ap);
    if (n > 0) lu_write_all(2, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
}

/* ---------- restore (shared by the library and the tool) ---------- */
struct fent { uint64_t dev, ino, upto; const char *path; uint16_t pathlen; int fd; int bad; };

static struct fent *fent_get(struct fent **v, size_t *n, size_t *cap, uint64_t dev, uint64_t ino) {
    for (size_t i = 0; i < *n; i++) if ((*v)[i].dev == dev && (*v)[i].ino == ino) return &(*v)[i];
    if (*n == *cap) { *cap = *cap ? *cap * 2 : 16; *v = realloc(*v, *cap * sizeof **v); }
    struct fent *f = &(*v)[(*n)++];
    memset(f, 0, sizeof *f); f->dev = dev; f->ino = ino; f->fd = -1;
    return f;
}

/* Parse journal bytes [0,len).  If out_recs is non-NULL, fill it with pointers to
 * live BASE/DATA records in journal order.  Returns number of live records. */
struct devmark { uint64_t dev, upto; };
static size_t parse_live(char *buf, size_t len, const struct rec ***out_recs,
                         struct fent **fv, size_t *fn, size_t *fcap) {
    size_t pos = sizeof(struct jhdr), nrec = 0, reccap = 0, ndm = 0, dmcap = 0;
    const struct rec **recs = NULL; struct devmark *dm = NULL; uint64_t all_upto = 0;
    while (pos + sizeof(struct rec) <= len) {
        const struct rec *r = (const struct rec *)(buf + pos);
        if (r->magic != R_MAGIC) break;
        size_t extra = (r->type == R_BASE || r->type == R_PATH) ? r->pathlen : r->type == R_DATA ? (size_t)r->len : 0;
        if (pos + sizeof *r + extra > len) break; /* torn tail: its change never happened */
        if (r->type == R_BASE || r->type == R_DATA || r->type == R_PATH) {
            if (nrec == reccap) { reccap = reccap ? reccap * 2 : 64; recs = realloc(recs, reccap * sizeof *recs); }
            recs[nrec++] = r;
            struct fent *f = fent_get(fv, fn, fcap, r->dev, r->ino);
            if (r->type != R_DATA) { f->path = (const char *)(r + 1); f->pathlen = r->pathlen; }
        } else if (r->type == R_SYNC_FILE) {
            struct fent *f = fent_get(fv, fn, fcap, r->dev, r->ino);
            if (r->off > f->upto) f->upto = r->off;
        } else if (r->type == R_SYNC_DEV) {
            if (ndm == dmcap) { dmcap = dmcap ? dmcap * 2 : 8; dm = realloc(dm, dmcap * sizeof *dm); }
            dm[ndm].dev = r->dev; dm[ndm++].upto = r->off;
        } else if (r->type == R_SYNC_ALL) {
            if (r->off > all_upto) all_upto = r->off;
        } else break;
        pos += sizeof *r + extra;
    }
    for (size_t i = 0; i < *fn; i++) {
        struct fent *f = &(*fv)[i];
        if (all_upto > f->upto) f->upto = all_upto;
        for (size_t j = 0; j < ndm; j++) if (dm[j].dev == f->dev && dm[j].upto > f->upto) f->upto = dm[j].upto;
    }
    size_t live = 0;
    for (size_t i = 0; i < nrec; i++) {
        struct fent *f = fent_get(fv, fn, fcap, recs[i]->dev, recs[i]->ino);
        if (recs[i]->seq >= f->upto) recs[live++] = recs[i];
    }
    free(dm);
    if (out_recs) *out_recs = recs; else free(recs);
    return live;
}

static int read_whole(int fd, char **out, size_t *outlen) {
    struct stat st;
    if (fstat(fd, &st) < 0) return -1;
    char *b = malloc((size_t)st.st_size + 1); size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = r_pread ? r_pread(fd, b + got, (size_t)st.st_size - got, (off_t)got)
                            : syscall(SYS_pread64, fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (r < 0) { if (errno == EINTR) continue; free(b); return -1; }
        if (r == 0) break;
        got += (size_t)r;
    }
    *out = b; *outlen = got; return 0;
}

/* Apply the live undo records of journal jfd (locked by the caller), newest first.
 * Returns number of records applied; *skipped counts records of files that are
 * gone or were replaced (renamed/unlinked: not modelled). */
static long restore_fd(int jfd, long *skipped, long *files) {
    char *buf; size_t len;
    *skipped = 0; *files = 0;
    if (read_whole(jfd, &buf, &len) < 0) return -1;
    if (len < sizeof(struct jhdr) || ((struct jhdr *)buf)->magic != J_MAGIC) { free(buf); return 0; }
    struct fent *fv = NULL; size_t fn = 0, fcap = 0; const struct rec **recs;
    size_t n = parse_live(buf, len, &recs, &fv, &fn, &fcap);
    long applied = 0;
    for (size_t i = n; i-- > 0;) {
        const struct rec *r = recs[i];
        struct fent *f = fent_get(&fv, &fn, &fcap, r->dev, r->ino);
        if (r->type == R_PATH) continue;
        if (f->bad) { (*skipped)++; continue; }
        if (f->fd < 0) {
            char path[PATH_MAX];
            struct stat st;
            if (!f->path || f->pathlen >= sizeof path) { f->bad = 1; (*skipped)++; continue; }
            memcpy(path, f->path, f->pathlen); path[f->pathlen] = 0;
            f->fd = lu_open(path, O_WRONLY | O_CLOEXEC, 0);
            if (f->fd < 0 || fstat(f->fd, &st) < 0 || (uint64_t)st.st_dev != f->dev || (uint64_t)st.st_ino != f->ino) {
                if (f->fd >= 0) { if (r_close) r_close(f->fd); else close(f->fd); }
                f->fd = -1; f->bad = 1; (*skipped)++; continue;
            }
            (*files)++;
        }
        if (r->type == R_BASE) {
            if ((r_ftruncate ? r_ftruncate : ftruncate)(f->fd, (off_t)r->off) < 0) (*skipped)++; else applied++;
        } else {
            if (lu_pwrite_all(f->fd, r + 1, (size_t)r->len, (off_t)r->off) < 0) (*skipped)++; else applied++;
        }
    }
    for (size_t i = 0; i < fn; i++) if (fv[i].fd >= 0) { fdatasync(fv[i].fd); if (r_close) r_close(fv[i].fd); else close(fv[i].fd); }
    free(recs); free(fv); free(buf);
    return applied;
}

#ifdef LOSE_UNSYNCED_MAIN
/* ---------- lose-unsynced-restore JOURNAL ---------- */
int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s JOURNAL\n", argv[0]); return 2; }
    int fd = open(argv[1], O_RDWR | O_CLOEXEC);
    if (fd < 0) { if (errno == ENOENT) { printf("no journal: nothing to restore\n"); return 0; } perror(argv[1]); return 1; }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        fprintf(stderr, "%s: journal is locked by a running process; kill it first\n", argv[1]);
        return 3;
    }
    long skipped, files, n = restore_fd(fd, &skipped, &files);
    if (n < 0) { perror("restore"); return 1; }
    if (ftruncate(fd, 0) < 0) { perror("ftruncate journal"); return 1; }
    printf("restored %ld undo records in %ld files, skipped %ld\n", n, files, skipped);
    return 0;
}
#else
/* ---------- the preload library ---------- */
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*r_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*r_openat)(int, const char *, int, ...);
static int (*r_truncate)(const char *, off_t);
static int (*r_fallocate)(int, int, off_t, off_t);
static int (*r_posix_fallocate)(int, off_t, off_t);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static void (*r_sync)(void);
static int (*r_syncfs)(int);

struct range { uint64_t a, b; };
struct fst {
    uint64_t dev, ino; int used, dirty;
    uint64_t base_len;          /* file length at epoch start */
    struct range *cov; size_t ncov, capcov; /* old-byte ranges already saved */
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;  /* journal + table */
static pthread_rwlock_t rw;  /* read: a change in flight; write: a sync taking its snapshot */
static int active, jfd = -1, verbose;
static uint64_t jdev, jino, seq, jsize, compact_at = 1 << 20;
static char root[PATH_MAX]; static size_t rootlen;
static char jpath[PATH_MAX];
static struct fst *tab; static size_t tabcap, tabn;
static __thread int in_lib;

static void resolve(void) {
    r_write = dlsym(RTLD_NEXT, "write");
    r_pwrite = dlsym(RTLD_NEXT, "pwrite");
    r_pread = dlsym(RTLD_NEXT, "pread");
    r_open = dlsym(RTLD_NEXT, "open");
    r_close = dlsym(RTLD_NEXT, "close");
    r_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    r_writev = dlsym(RTLD_NEXT, "writev");
    r_pwritev = dlsym(RTLD_NEXT, "pwritev");
    r_pwritev2 = dlsym(RTLD_NEXT, "pwritev2");
    r_openat = dlsym(RTLD_NEXT, "openat");
    r_truncate = dlsym(RTLD_NEXT, "truncate");
    r_fallocate = dlsym(RTLD_NEXT, "fallocate");
    r_posix_fallocate = dlsym(RTLD_NEXT, "posix_fallocate");
    r_fsync = dlsym(RTLD_NEXT, "fsync");
    r_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    r_sync = dlsym(RTLD_NEXT, "sync");
    r_syncfs = dlsym(RTLD_NEXT, "syncfs");
}

static void on_fork_child(void) { active = 0; } /* forked children are not tracked */

static void init(void) {
    in_lib++;
    resolve();
    pthread_rwlockattr_t a; pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&rw, &a);
    const char *j = getenv("LOSE_UNSYNCED_JOURNAL");
    const char *v = getenv("LOSE_UNSYNCED_VERBOSE");
    verbose = v && *v && strcmp(v, "0");
    if (!j || !*j) { in_lib--; return; }
    snprintf(jpath, sizeof jpath, "%s", j);
    const char *rt = getenv("LOSE_UNSYNCED_ROOT");
    if (rt && *rt) {
        if (!realpath(rt, root)) { lu_log("lose-unsynced: LOSE_UNSYNCED_ROOT %s: %s; tracking nothing\n", rt, strerror(errno)); in_lib--; return; }
        rootlen = strlen(root);
        while (rootlen > 1 && root[rootlen - 1] == '/') root[--rootlen] = 0;
    }
    int fd = lu_open(j, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) { lu_log("lose-unsynced: journal %s: %s; tracking nothing\n", j, strerror(errno)); in_lib--; return; }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (verbose) lu_log("lose-unsynced: journal %s is owned by a live process; pid %d tracks nothing\n", j, (int)getpid());
        r_close(fd); in_lib--; return;
    }
    long skipped, files, n = restore_fd(fd, &skipped, &files);
    if (verbose) lu_log("lose-unsynced: pid %d restored %ld undo records in %ld files (skipped %ld) from %s\n",
                                   (int)getpid(), n, files, skipped, j);
    struct jhdr h = { J_MAGIC, 1, (uint64_t)getpid(), {0, 0} };
    if (r_ftruncate(fd, 0) < 0 || lu_write_all(fd, &h, sizeof h) < 0) { r_close(fd); in_lib--; return; }
    struct stat st; fstat(fd, &st);
    jdev = st.st_dev; jino = st.st_ino; jsize = sizeof h; jfd = fd;
    pthread_atfork(NULL, NULL, on_fork_child);
    active = 1;
    in_lib--;
}
__attribute__((constructor)) static void ctor(void) { pthread_once(&once, init); }

/* A normal exit is no crash: nothing is lost, so the journal is emptied.
 * SIGKILL, _exit() and abort() keep it (LOSE_UNSYNCED_KEEP_ON_EXIT=1 keeps it always). */
__attribute__((destructor)) static void dtor(void) {
    const char *k = getenv("LOSE_UNSYNCED_KEEP_ON_EXIT");
    if (!active || (k && *k && strcmp(k, "0"))) return;
    in_lib++;
    pthread_rwlock_wrlock(&rw);
    pthread_mutex_lock(&mu);
    active = 0;
    r_ftruncate(jfd, 0);
    pthread_mutex_unlock(&mu);
    pthread_rwlock_unlock(&rw);
    in_lib--;
}

/* Enter the library for a tracked call; returns 0 when the call must pass through. */
static int enter(void) {
    if (in_lib) return 0;
    pthread_once(&once, init);
    return active;
}

static struct fst *lookup(uint64_t dev, uint64_t ino, int create) {
    if (tabcap == 0 || (create && (tabn + 1) * 2 > tabcap)) {
        size_t ncap = tabcap ? tabcap * 2 : 256;
        struct fst *nt = calloc(ncap, sizeof *nt);
        for (size_t i = 0; i < tabcap; i++) if (tab[i].used) {
            size_t h = (tab[i].dev * 0x9e3779b97f4a7c15ull ^ tab[i].ino) & (ncap - 1);
            while (nt[h].used) h = (h + 1) & (ncap - 1);
            nt[h] = tab[i];
        }
        free(tab); tab = nt; tabcap = ncap;
    }
    size_t h = (dev * 0x9e3779b97f4a7c15ull ^ ino) & (tabcap - 1);
    while (tab[h].used) {
        if (tab[h].dev == dev && tab[h].ino == ino) return &tab[h];
        h = (h + 1) & (tabcap - 1);
    }
    if (!create) return NULL;
    tab[h].used = 1; tab[h].dev = dev; tab[h].ino = ino; tabn++;
    return &tab[h];
}

static void compact(void);
/* Append one record (+ payload) to the journal; mu held. */
static void jappend(uint16_t type, uint64_t dev, uint64_t ino, uint64_t off, uint64_t len,
                    const void *extra, size_t extralen) {
    struct rec r = { R_MAGIC, type, 0, seq++, dev, ino, off, len };
    if (type == R_BASE || type == R_PATH) r.pathlen = (uint16_t)extralen;
    if (extralen == 0) { lu_write_all(jfd, &r, sizeof r); jsize += sizeof r; return; }
    struct iovec iov[2] = { { &r, sizeof r }, { (void *)extra, extralen } };
    ssize_t w = r_writev(jfd, iov, 2);
    if (w >= 0 && (size_t)w < sizeof r + extralen) { /* short: finish the rest */
        size_t done = (size_t)w;
        if (done < sizeof r) { lu_write_all(jfd, (char *)&r + done, sizeof r - done); done = sizeof r; }
        lu_write_all(jfd, (const char *)extra + (done - sizeof r), extralen - (done - sizeof r));
    }
    jsize += sizeof r + extralen;
}

static void cover_add(struct fst *f, uint64_t a, uint64_t b) {
    if (f->ncov == f->capcov) { f->capcov = f->capcov ? f->capcov * 2 : 4; f->cov = realloc(f->cov, f->capcov * sizeof *f->cov); }
    size_t i = 0;
    while (i < f->ncov && f->cov[i].a < a) i++;
    memmove(&f->cov[i + 1], &f->cov[i], (f->ncov - i) * sizeof *f->cov);
    f->cov[i].a = a; f->cov[i].b = b; f->ncov++;
    size_t o = 0; /* merge */
    for (size_t k = 1; k < f->ncov; k++) {
        if (f->cov[k].a <= f->cov[o].b) { if (f->cov[k].b > f->cov[o].b) f->cov[o].b = f->cov[k].b; }
        else f->cov[++o] = f->cov[k];
    }
    f->ncov = o + 1;
}

/* Save old bytes [a,b) of file f (fd refers to it) that are not saved yet. */
static void save_range(struct fst *f, int fd, uint64_t a, uint64_t b) {
    if (b > f->base_len) b = f->base_len;
    if (a >= b) return;
    int rfd = -2;
    uint64_t cur = a;
    size_t k = 0;
    while (cur < b) {
        while (k < f->ncov && f->cov[k].b <= cur) k++;
        uint64_t end = b;
        if (k < f->ncov && f->cov[k].a <= cur) { cur = f->cov[k].b; continue; }
        if (k < f->ncov && f->cov[k].a < end) end = f->cov[k].a;
        /* [cur,end) is unsaved */
        if (rfd == -2) {
            char p[64]; snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
            rfd = lu_open(p, O_RDONLY | O_CLOEXEC, 0);
            if (rfd < 0) lu_log("lose-unsynced: cannot read old bytes of fd %d: %s\n", fd, strerror(errno));
        }
        size_t chunk = 1 << 20;
        char *buf = malloc(chunk);
        for (uint64_t p = cur; p < end;) {
            size_t want = end - p < chunk ? (size_t)(end - p) : chunk;
            ssize_t got = rfd >= 0 ? r_pread(rfd, buf, want, (off_t)p) : -1;
            if (got <= 0) break; /* bytes beyond the current end: nothing to save */
            jappend(R_DATA, f->dev, f->ino, p, (uint64_t)got, buf, (size_t)got);
            p += (uint64_t)got;
        }
        free(buf);
        cover_add(f, cur, end);
        cur = end;
    }
    if (rfd >= 0) r_close(rfd);
}

enum { OP_WRITE, OP_TRUNC, OP_RANGE, OP_TAIL, OP_EXTEND };
/* Prepare a change of fd.  OP_WRITE: off<0 = at the current position;
 * OP_TRUNC: new length = off; OP_RANGE: [off,off+len); OP_TAIL: [off,EOF);
 * OP_EXTEND: only the length may grow.  Returns 1 if the caller must call post(). */
static int pre(int fd, int64_t off, uint64_t len, int op, int append) {
    if (!enter()) return 0;
    in_lib++;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || ((uint64_t)st.st_dev == jdev && (uint64_t)st.st_ino == jino)) { in_lib--; return 0; }
    pthread_rwlock_rdlock(&rw);
    pthread_mutex_lock(&mu);
    struct fst *f = lookup(st.st_dev, st.st_ino, 1);
    if (!f->dirty) {
        char p[64], path[PATH_MAX];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(p, path, sizeof path - 1);
        if (n <= 0) goto skip;
        path[n] = 0;
        if (rootlen && !(strncmp(path, root, rootlen) == 0 && (path[rootlen] == '/' || path[rootlen] == 0 || rootlen == 1))) goto skip;
        f->dirty = 1; f->base_len = (uint64_t)st.st_size; f->ncov = 0;
        jappend(R_BASE, f->dev, f->ino, f->base_len, 0, path, (size_t)n);
    }
    uint64_t a = 0, b = 0;
    switch (op) {
    case OP_WRITE:
        if (append) a = (uint64_t)st.st_size;
        else if (off >= 0 && (uint64_t)off >= f->base_len) a = (uint64_t)off;
        else { /* O_APPEND writes go to the end, even pwrite's on Linux */
            int fl = fcntl(fd, F_GETFL);
            if (fl >= 0 && (fl & O_APPEND)) a = (uint64_t)st.st_size;
            else if (off >= 0) a = (uint64_t)off;
            else { off_t c = lseek(fd, 0, SEEK_CUR); a = c < 0 ? 0 : (uint64_t)c; }
        }
        b = a + len; break;
    case OP_TRUNC: a = (uint64_t)off; b = (uint64_t)st.st_size; break;
    case OP_RANGE: a = (uint64_t)off; b = (uint64_t)off + len; break;
    case OP_TAIL: a = (uint64_t)off; b = UINT64_MAX; break;
    case OP_EXTEND: break;
    }
    if (a < b && a < f->base_len) save_range(f, fd, a, b);
    pthread_mutex_unlock(&mu);
    return 1; /* keep rw read-locked until the change is done */
skip:
    pthread_mutex_unlock(&mu);
    pthread_rwlock_unlock(&rw);
    in_lib--;
    return 0;
}

/* Sync bookkeeping.  kind: R_SYNC_FILE (dev,ino), R_SYNC_DEV (dev), R_SYNC_ALL.
 * Phase 1 (before the real sync): end the current epochs, remember seq N.
 * Phase 2 (after it succeeded): write the marker "discard seq < N". */
static int sync_begin(int kind, uint64_t dev, uint64_t ino, uint64_t *n) {
    int any = 0;
    pthread_rwlock_wrlock(&rw); /* waits for changes in flight */
    pthread_mutex_lock(&mu);
    if (kind == R_SYNC_FILE) {
        struct fst *f = tabcap ? lookup(dev, ino, 0) : NULL;
        if (f && f->dirty) { f->dirty = 0; f->ncov = 0; any = 1; }
    } else for (size_t i = 0; i < tabcap; i++) {
        struct fst *f = &tab[i];
        if (!f->used || !f->dirty || (kind == R_SYNC_DEV && f->dev != dev)) continue;
        f->dirty = 0; f->ncov = 0; any = 1;
    }
    *n = seq;
    pthread_mutex_unlock(&mu);
    pthread_rwlock_unlock(&rw);
    return any;
}
static void sync_end(int kind, uint64_t dev, uint64_t ino, uint64_t n) {
    pthread_mutex_lock(&mu);
    jappend((uint16_t)kind, dev, ino, n, 0, NULL, 0);
    if (jsize > compact_at) compact();
    pthread_mutex_unlock(&mu);
}

/* Rewrite the journal keeping only live records (mu held). */
static void compact(void) {
    char *buf; size_t len;
    if (read_whole(jfd, &buf, &len) < 0) return;
    struct fent *fv = NULL; size_t fn = 0, fcap = 0; const struct rec **recs;
    size_t n = parse_live(buf, len, &recs, &fv, &fn, &fcap);
    char tmp[PATH_MAX + 16]; snprintf(tmp, sizeof tmp, "%s.compact", jpath);
    int nfd = lu_open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    uint64_t nsize = sizeof(struct jhdr);
    if (nfd >= 0 && flock(nfd, LOCK_EX | LOCK_NB) == 0 && lu_write_all(nfd, buf, sizeof(struct jhdr)) >= 0) {
        int ok = 1;
        for (size_t i = 0; i < n && ok; i++) {
            size_t l = sizeof(struct rec) + (recs[i]->type != R_DATA ? recs[i]->pathlen : (size_t)recs[i]->len);
            ok = lu_write_all(nfd, recs[i], l) >= 0; nsize += l;
        }
        struct stat st;
        if (ok && fstat(nfd, &st) == 0 && rename(tmp, jpath) == 0) {
            r_close(jfd); jfd = nfd; jdev = st.st_dev; jino = st.st_ino; jsize = nsize;
            nfd = -1;
        }
    }
    if (nfd >= 0) { unlink(tmp); r_close(nfd); }
    compact_at = jsize * 4 > (1u << 20) ? jsize * 4 : (1u << 20);
    free(recs); free(fv); free(buf);
}

static void post(void) { pthread_rwlock_unlock(&rw); in_lib--; }
/* after an O_SYNC/O_DSYNC/RWF_DSYNC write: the file is durable */
static void post_dsync(int fd) {
    struct stat st; uint64_t n;
    in_lib++;
    if (fstat(fd, &st) == 0 && sync_begin(R_SYNC_FILE, st.st_dev, st.st_ino, &n)) sync_end(R_SYNC_FILE, st.st_dev, st.st_ino, n);
    in_lib--;
}
static int is_dsync_fd(int fd) { int fl = fcntl(fd, F_GETFL); return fl >= 0 && (fl & O_DSYNC); }

/* ---------- interposed functions ---------- */
ssize_t write(int fd, const void *b, size_t n) {
    if (n == 0 || !pre(fd, -1, n, OP_WRITE, 0)) return r_write ? r_write(fd, b, n) : syscall(SYS_write, fd, b, n);
    ssize_t r = r_write(fd, b, n); int e = errno; post();
    if (r > 0 && is_dsync_fd(fd)) post_dsync(fd);
    errno = e; return r;
}
static ssize_t do_pwrite(int fd, const void *b, size_t n, off_t off) {
    if (n == 0 || !pre(fd, off, n, OP_WRITE, 0)) return r_pwrite ? r_pwrite(fd, b, n, off) : syscall(SYS_pwrite64, fd, b, n, off);
    ssize_t r = r_pwrite(fd, b, n, off); int e = errno; post();
    if (r > 0 && is_dsync_fd(fd)) post_dsync(fd);
    errno = e; return r;
}
ssize_t pwrite(int fd, const void *b, size_t n, off_t off) { return do_pwrite(fd, b, n, off); }
ssize_t pwrite64(int fd, const void *b, size_t n, off_t off) { return do_pwrite(fd, b, n, off); }

static uint64_t iovlen(const struct iovec *v, int c) { uint64_t s = 0; for (int i = 0; i < c; i++) s += v[i].iov_len; return s; }
ssize_t writev(int fd, const struct iovec *v, int c) {
    if (!r_writev) resolve();
    if (!pre(fd, -1, iovlen(v, c), OP_WRITE, 0)) return r_writev(fd, v, c);
    ssize_t r = r_writev(fd, v, c); int e = errno; post();
    if (r > 0 && is_dsync_fd(fd)) post_dsync(fd);
    errno = e; return r;
}
static ssize_t do_pwritev(int fd, const struct iovec *v, int c, off_t off) {
    if (!r_pwritev) resolve();
    if (!pre(fd, off, iovlen(v, c), OP_WRITE, 0)) return r_pwritev(fd, v, c, off);
    ssize_t r = r_pwritev(fd, v, c, off); int e = errno; post();
    if (r > 0 && is_dsync_fd(fd)) post_dsync(fd);
    errno = e; return r;
}
ssize_t pwritev(int fd, const struct iovec *v, int c, off_t off) { return do_pwritev(fd, v, c, off); }
ssize_t pwritev64(int fd, const struct iovec *v, int c, off_t off) { return do_pwritev(fd, v, c, off); }
static ssize_t do_pwritev2(int fd, const struct iovec *v, int c, off_t off, int flags) {
    if (!r_pwritev2) resolve();
    if (!pre(fd, off, iovlen(v, c), OP_WRITE, (flags & RWF_APPEND) != 0)) return r_pwritev2(fd, v, c, off, flags);
    ssize_t r = r_pwritev2(fd, v, c, off, flags); int e = errno; post();
    if (r > 0 && ((flags & (RWF_DSYNC | RWF_SYNC)) || is_dsync_fd(fd))) post_dsync(fd);
    errno = e; return r;
}
ssize_t pwritev2(int fd, const struct iovec *v, int c, off_t off, int flags) { return do_pwritev2(fd, v, c, off, flags); }
ssize_t pwritev64v2(int fd, const struct iovec *v, int c, off_t off, int flags) { return do_pwritev2(fd, v, c, off, flags); }

static int do_ftruncate(int fd, off_t len) {
    if (!r_ftruncate) resolve();
    if (!pre(fd, len, 0, OP_TRUNC, 0)) return r_ftruncate(fd, len);
    int r = r_ftruncate(fd, len); int e = errno; post(); errno = e; return r;
}
int ftruncate(int fd, off_t len) { return do_ftruncate(fd, len); }
int ftruncate64(int fd, off_t len) { return do_ftruncate(fd, len); }

static int do_truncate(const char *path, off_t len) {
    if (!r_truncate) resolve();
    if (!enter()) return r_truncate(path, len);
    int fd = lu_open(path, O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0) return r_truncate(path, len);
    int r = do_ftruncate(fd, len); int e = errno;
    r_close(fd); errno = e; return r;
}
int truncate(const char *path, off_t len) { return do_truncate(path, len); }
int truncate64(const char *path, off_t len) { return do_truncate(path, len); }

static int do_fallocate(int fd, int mode, off_t off, off_t len) {
    if (!r_fallocate) resolve();
    int op;
    if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) op = OP_RANGE;
    else if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) op = OP_TAIL;
    else if (mode & FALLOC_FL_KEEP_SIZE) return r_fallocate(fd, mode, off, len); /* no visible change */
    else op = OP_EXTEND;
    if (!pre(fd, off, (uint64_t)len, op, 0)) return r_fallocate(fd, mode, off, len);
    int r = r_fallocate(fd, mode, off, len); int e = errno; post(); errno = e; return r;
}
int fallocate(int fd, int mode, off_t off, off_t len) { return do_fallocate(fd, mode, off, len); }
int fallocate64(int fd, int mode, off_t off, off_t len) { return do_fallocate(fd, mode, off, len); }
static int do_posix_fallocate(int fd, off_t off, off_t len) {
    if (!r_posix_fallocate) resolve();
    if (!pre(fd, off, (uint64_t)len, OP_EXTEND, 0)) return r_posix_fallocate(fd, off, len);
    int r = r_posix_fallocate(fd, off, len); post(); return r;
}
int posix_fallocate(int fd, off_t off, off_t len) { return do_posix_fallocate(fd, off, len); }
int posix_fallocate64(int fd, off_t off, off_t len) { return do_posix_fallocate(fd, off, len); }

/* open(..., O_TRUNC) of an existing non-empty file: open without O_TRUNC, then
 * truncate through the tracked path so the old contents can come back. */
static int open_common(int dirfd, const char *path, int flags, mode_t mode) {
    if (!r_openat) resolve();
    struct stat st;
    if (!(flags & O_TRUNC) || (flags & O_ACCMODE) == O_RDONLY || !enter() ||
        fstatat(dirfd, path, &st, 0) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return r_openat(dirfd, path, flags, mode);
    int fd = r_openat(dirfd, path, flags & ~O_TRUNC, mode);
    if (fd >= 0 && do_ftruncate(fd, 0) < 0) { int e = errno; r_close(fd); errno = e; return -1; }
    return fd;
}
static mode_t vmode(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}
int open(const char *p, int fl, ...) { va_list ap; va_start(ap, fl); mode_t m = vmode(fl, ap); va_end(ap); return open_common(AT_FDCWD, p, fl, m); }
int open64(const char *p, int fl, ...) { va_list ap; va_start(ap, fl); mode_t m = vmode(fl, ap); va_end(ap); return open_common(AT_FDCWD, p, fl, m); }
int openat(int d, const char *p, int fl, ...) { va_list ap; va_start(ap, fl); mode_t m = vmode(fl, ap); va_end(ap); return open_common(d, p, fl, m); }
int openat64(int d, const char *p, int fl, ...) { va_list ap; va_start(ap, fl); mode_t m = vmode(fl, ap); va_end(ap); return open_common(d, p, fl, m); }
int __open_2(const char *p, int fl) { return open_common(AT_FDCWD, p, fl, 0); }
int __open64_2(const char *p, int fl) { return open_common(AT_FDCWD, p, fl, 0); }
int __openat_2(int d, const char *p, int fl) { return open_common(d, p, fl, 0); }
int __openat64_2(int d, const char *p, int fl) { return open_common(d, p, fl, 0); }
int creat(const char *p, mode_t m) { return open_common(AT_FDCWD, p, O_WRONLY | O_CREAT | O_TRUNC, m); }
int creat64(const char *p, mode_t m) { return open_common(AT_FDCWD, p, O_WRONLY | O_CREAT | O_TRUNC, m); }

/* Names.  Directory entries are not modelled (a rename or unlink counts as
 * durable at once), but contents are followed: a dirty file that loses its last
 * name has its records dropped (so a reused inode starts afresh), and a dirty
 * file that is renamed gets its new path journaled. */
static int (*r_unlink)(const char *);
static int (*r_unlinkat)(int, const char *, int);
static int (*r_remove)(const char *);
static int (*r_renameat2)(int, const char *, int, const char *, unsigned);

static int name_stat(int dirfd, const char *path, struct stat *st) {
    return fstatat(dirfd, path, st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st->st_mode);
}
static void drop_file(const struct stat *st) { /* st: a regular file that had one name, now gone */
    if (st->st_nlink != 1) return;
    pthread_mutex_lock(&mu);
    struct fst *f = tabcap ? lookup(st->st_dev, st->st_ino, 0) : NULL;
    if (f && f->dirty) { f->dirty = 0; f->ncov = 0; jappend(R_SYNC_FILE, f->dev, f->ino, seq, 0, NULL, 0); }
    pthread_mutex_unlock(&mu);
}
static int do_unlinkat(int dirfd, const char *path, int flags, int which) {
    if (!r_unlinkat) { r_unlink = dlsym(RTLD_NEXT, "unlink"); r_remove = dlsym(RTLD_NEXT, "remove"); r_unlinkat = dlsym(RTLD_NEXT, "unlinkat"); }
    struct stat st;
    int tracked = enter() && name_stat(dirfd, path, &st);
    int r = which == 0 ? r_unlink(path) : which == 1 ? r_remove(path) : r_unlinkat(dirfd, path, flags);
    if (r == 0 && tracked) { int e = errno; in_lib++; drop_file(&st); in_lib--; errno = e; }
    return r;
}
int unlink(const char *p) { return do_unlinkat(AT_FDCWD, p, 0, 0); }
int remove(const char *p) { return do_unlinkat(AT_FDCWD, p, 0, 1); }
int unlinkat(int d, const char *p, int fl) { return do_unlinkat(d, p, fl, 2); }

static int do_rename(int od, const char *op, int nd, const char *np, unsigned flags) {
    if (!r_renameat2) r_renameat2 = dlsym(RTLD_NEXT, "renameat2");
    struct stat so, sn;
    if (!enter()) return r_renameat2 ? r_renameat2(od, op, nd, np, flags) : (int)syscall(SYS_renameat2, od, op, nd, np, flags);
    int src = name_stat(od, op, &so), dst = name_stat(nd, np, &sn);
    int r = r_renameat2 ? r_renameat2(od, op, nd, np, flags) : (int)syscall(SYS_renameat2, od, op, nd, np, flags);
    if (r != 0) return r;
    int e = errno; in_lib++;
    if (dst && !(flags & RENAME_EXCHANGE) && !(src && so.st_ino == sn.st_ino && so.st_dev == sn.st_dev)) drop_file(&sn);
    if (src) {
        pthread_mutex_lock(&mu);
        struct fst *f = tabcap ? lookup(so.st_dev, so.st_ino, 0) : NULL;
        if (f && f->dirty) {
            char dirp[PATH_MAX], full[PATH_MAX * 2], res[PATH_MAX];
            const char *q = np;
            if (np[0] != '/' && nd != AT_FDCWD) {
                char l[64]; snprintf(l, sizeof l, "/proc/self/fd/%d", nd);
                ssize_t k = readlink(l, dirp, sizeof dirp - 1);
                if (k > 0) { dirp[k] = 0; snprintf(full, sizeof full, "%s/%s", dirp, np); q = full; }
            }
            if (realpath(q, res)) jappend(R_PATH, f->dev, f->ino, 0, 0, res, strlen(res));
        }
        pthread_mutex_unlock(&mu);
    }
    /* RENAME_EXCHANGE: both names stay; only the source's new path is recorded above.  */
    in_lib--; errno = e;
    return r;
}
int rename(const char *o, const char *n) { return do_rename(AT_FDCWD, o, AT_FDCWD, n, 0); }
int renameat(int od, const char *o, int nd, const char *n) { return do_rename(od, o, nd, n, 0); }
int renameat2(int od, const char *o, int nd, const char *n, unsigned fl) { return do_rename(od, o, nd, n, fl); }

static int do_fsync(int fd, int data) {
    if (!r_fsync) resolve();
    int (*real)(int) = data ? r_fdatasync : r_fsync;
    struct stat st; uint64_t n;
    if (!enter()) return real(fd);
    in_lib++;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !sync_begin(R_SYNC_FILE, st.st_dev, st.st_ino, &n)) {
        in_lib--; return real(fd);
    }
    int r = real(fd); int e = errno;
    if (r == 0) sync_end(R_SYNC_FILE, st.st_dev, st.st_ino, n); /* failed: stays undoable */
    in_lib--; errno = e; return r;
}
int fsync(int fd) { return do_fsync(fd, 0); }
int fdatasync(int fd) { return do_fsync(fd, 1); }

void sync(void) {
    if (!r_sync) resolve();
    uint64_t n;
    if (!enter()) { r_sync(); return; }
    in_lib++;
    int any = sync_begin(R_SYNC_ALL, 0, 0, &n);
    r_sync();
    if (any) sync_end(R_SYNC_ALL, 0, 0, n);
    in_lib--;
}
int syncfs(int fd) {
    if (!r_syncfs) resolve();
    struct stat st; uint64_t n;
    if (!enter()) return r_syncfs(fd);
    in_lib++;
    if (fstat(fd, &st) < 0) { in_lib--; return r_syncfs(fd); }
    int any = sync_begin(R_SYNC_DEV, st.st_dev, 0, &n);
    int r = r_syncfs(fd); int e = errno;
    if (any && r == 0) sync_end(R_SYNC_DEV, st.st_dev, 0, n);
    in_lib--; errno = e; return r;
}
#endif
