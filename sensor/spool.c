/* sensor/spool.c - the on-disk spool of the Redis output (see spool.h for the
 * file format and the contract).
 *
 * Offsets: wr_off is the end of the last valid record (the file size once the
 * open scan has cut a damaged tail), rd_off the committed read position and
 * cur the cursor of spool_next(). 0 <= rd_off <= cur <= wr_off always. */
#define _GNU_SOURCE
#include "spool.h"
#include "mono.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_MAGIC 0x5053474du         /* "MGSP" little-endian */
#define SCAN_CHUNK  65536u

struct spool {
    char *dir, *path, *state_path, *tmp_path;
    int fd;
    int fsync_mode;
    uint32_t batch_ms;
    uint64_t wr_off, rd_off, cur;
    uint64_t pending_records;       /* between rd_off and wr_off */
    uint32_t handed;                /* handed out since the last commit/rewind */
    uint64_t reserved, delivered, max_seq;
    uint64_t skipped_bytes, skipped_regions;
    uint64_t warned_upto;           /* damage below this was already reported */
    int dirty;                      /* written since the last fsync */
    uint64_t last_sync_ms;
    spool_log_fn log;
    void *log_arg;
};

/* ---- CRC32C ---- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
                              crc_table[0][crc_table[t - 1][i] & 0xff];
}

/* Slicing-by-8, reflected, standard pre/post inversion: crc32c("123456789")
 * is 0xE3069283. Chainable: pass the previous result as crc. */
uint32_t
spool_crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = buf;
    crc = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v = le64toh(v) ^ crc;
        crc = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^
              crc_table[5][(v >> 16) & 0xff] ^ crc_table[4][(v >> 24) & 0xff] ^
              crc_table[3][(v >> 32) & 0xff] ^ crc_table[2][(v >> 40) & 0xff] ^
              crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- helpers ---- */

static void
say(struct spool *s, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (s->log)
        s->log(s->log_arg, line);
    else
        fprintf(stderr, "mirrorguard: %s\n", line);
}

static char *
join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static ssize_t
pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

/* The record at off, checked against limit (the end of the valid data).
 * 1: valid, *seq and *len set and, when payload is not NULL, *payload malloc()ed;
 * 0: no valid record starts there; -1: read error or out of memory. */
static int
read_at(struct spool *s, uint64_t off, uint64_t limit, uint64_t *seq,
        void **payload, uint32_t *len)
{
    uint8_t h[SPOOL_HDR];
    if (off + SPOOL_HDR > limit)
        return 0;
    ssize_t r = pread_full(s->fd, h, SPOOL_HDR, off);
    if (r < 0)
        return -1;
    if ((size_t)r < SPOOL_HDR || get32(h) != SPOOL_MAGIC)
        return 0;
    uint32_t n = get32(h + 4);
    if (n > SPOOL_MAX_RECORD || off + SPOOL_HDR + n > limit)
        return 0;
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return -1;
    r = pread_full(s->fd, p, n, off + SPOOL_HDR);
    if (r < 0) {
        free(p);
        return -1;
    }
    uint32_t crc = spool_crc32c(0, h + 4, 12);
    crc = spool_crc32c(crc, p, n);
    if ((size_t)r < n || crc != get32(h + 16)) {
        free(p);
        return 0;
    }
    *seq = get64(h + 8);
    *len = n;
    if (payload)
        *payload = p;
    else
        free(p);
    return 1;
}

/* First offset after off where a valid record starts, or limit. -1 on a
 * read error. */
static int64_t
scan_from(struct spool *s, uint64_t off, uint64_t limit)
{
    static const uint8_t magic[4] = { 0x4d, 0x47, 0x53, 0x50 };
    uint8_t *buf = malloc(SCAN_CHUNK);
    if (!buf)
        return -1;
    uint64_t pos = off + 1;
    while (pos + SPOOL_HDR <= limit) {
        size_t want = SCAN_CHUNK;
        if (limit - pos < want)
            want = (size_t)(limit - pos);
        ssize_t r = pread_full(s->fd, buf, want, pos);
        if (r < 0) {
            free(buf);
            return -1;
        }
        if (r < 4)
            break;
        size_t i = 0;
        for (;;) {
            uint8_t *m = memmem(buf + i, (size_t)r - i, magic, 4);
            if (!m)
                break;
            uint64_t cand = pos + (uint64_t)(m - buf);
            uint64_t seq;
            uint32_t len;
            int v = read_at(s, cand, limit, &seq, NULL, &len);
            if (v < 0) {
                free(buf);
                return -1;
            }
            if (v == 1) {
                free(buf);
                return (int64_t)cand;
            }
            i = (size_t)(m - buf) + 1;
        }
        pos += (uint64_t)r - 3;     /* a magic may straddle two chunks */
    }
    free(buf);
    return (int64_t)limit;
}

static void
report_skip(struct spool *s, uint64_t from, uint64_t to, int tail)
{
    if (from < s->warned_upto)
        return;
    s->skipped_bytes += to - from;
    s->skipped_regions++;
    say(s, "spool %s: %s at offset %" PRIu64 ": skipped %" PRIu64 " bytes",
        s->path, tail ? "damaged tail (torn record or garbage)" : "corrupt record",
        from, to - from);
}

static int
sync_fd(struct spool *s)
{
    if (s->fsync_mode == SPOOL_FSYNC_NEVER || !s->dirty)
        return 0;
    s->dirty = 0;
    s->last_sync_ms = mono_ms();
    return fdatasync(s->fd);
}

static int
write_state(struct spool *s, char *err, size_t errlen)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "mirrorguard-spool 1\nreserved %" PRIu64
                     "\ndelivered %" PRIu64 "\n", s->reserved, s->delivered);
    int fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    if (write(fd, buf, (size_t)n) != n) {
        if (errno == 0)
            errno = ENOSPC;
        int e = errno;
        close(fd);
        errno = e;
        goto fail;
    }
    if (s->fsync_mode != SPOOL_FSYNC_NEVER && fsync(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        goto fail;
    }
    if (close(fd) != 0 || rename(s->tmp_path, s->state_path) != 0)
        goto fail;
    if (s->fsync_mode != SPOOL_FSYNC_NEVER) {
        int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return 0;
fail:
    snprintf(err, errlen, "spool %s: cannot write state: %s", s->state_path,
             strerror(errno));
    unlink(s->tmp_path);
    return -1;
}

static void
read_state(struct spool *s)
{
    FILE *f = fopen(s->state_path, "re");
    if (!f)
        return;
    char line[128];
    int ok = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (sscanf(line, "reserved %llu", &v) == 1) {
            s->reserved = v;
            ok |= 1;
        } else if (sscanf(line, "delivered %llu", &v) == 1) {
            s->delivered = v;
            ok |= 2;
        }
    }
    fclose(f);
    if (ok != 3)
        say(s, "spool %s: state file incomplete, ignoring what is missing",
            s->state_path);
}

/* ---- API ---- */

int
spool_fsync_parse(const char *m)
{
    if (!m || !*m || !strcmp(m, "batch"))
        return SPOOL_FSYNC_BATCH;
    if (!strcmp(m, "always"))
        return SPOOL_FSYNC_ALWAYS;
    if (!strcmp(m, "never"))
        return SPOOL_FSYNC_NEVER;
    return -1;
}

struct spool *
spool_open(const char *dir, int fsync_mode, uint32_t batch_ms,
           spool_log_fn log, void *log_arg, char *err, size_t errlen)
{
    struct spool *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "spool %s: out of memory", dir);
        return NULL;
    }
    s->fd = -1;
    s->fsync_mode = fsync_mode;
    s->batch_ms = batch_ms;
    s->log = log;
    s->log_arg = log_arg;
    s->dir = strdup(dir);
    s->path = join(dir, "spool.dat");
    s->state_path = join(dir, "state");
    s->tmp_path = join(dir, "state.tmp");
    if (!s->dir || !s->path || !s->state_path || !s->tmp_path) {
        snprintf(err, errlen, "spool %s: out of memory", dir);
        goto fail;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "spool %s: cannot create directory: %s", dir,
                 strerror(errno));
        goto fail;
    }
    s->fd = open(s->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        snprintf(err, errlen, "spool %s: cannot open: %s", s->path, strerror(errno));
        goto fail;
    }
    /* The directory must take new files too (the state file is replaced by
     * rename); find out now rather than at the first commit. */
    if (access(dir, W_OK) != 0) {
        snprintf(err, errlen, "spool %s: directory not writable: %s", dir,
                 strerror(errno));
        goto fail;
    }
    read_state(s);

    struct stat st;
    if (fstat(s->fd, &st) != 0) {
        snprintf(err, errlen, "spool %s: stat: %s", s->path, strerror(errno));
        goto fail;
    }
    uint64_t size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;

    /* Scan everything once: the valid end, the first undelivered record, the
     * highest seq and the damage. */
    uint64_t off = 0, valid_end = 0;
    int have_rd = 0;
    while (off < size) {
        uint64_t seq;
        uint32_t len;
        int v = read_at(s, off, size, &seq, NULL, &len);
        if (v < 0) {
            snprintf(err, errlen, "spool %s: read: %s", s->path, strerror(errno));
            goto fail;
        }
        if (v == 0) {
            int64_t nxt = scan_from(s, off, size);
            if (nxt < 0) {
                snprintf(err, errlen, "spool %s: read: %s", s->path, strerror(errno));
                goto fail;
            }
            report_skip(s, off, (uint64_t)nxt, (uint64_t)nxt == size);
            off = (uint64_t)nxt;
            continue;
        }
        if (seq > s->max_seq)
            s->max_seq = seq;
        if (seq > s->delivered) {
            if (!have_rd) {
                s->rd_off = off;
                have_rd = 1;
            }
            s->pending_records++;
        }
        off += SPOOL_HDR + len;
        valid_end = off;
    }
    if (valid_end < size) {
        if (ftruncate(s->fd, (off_t)valid_end) != 0)
            say(s, "spool %s: cannot cut the damaged tail at offset %" PRIu64
                ": %s", s->path, valid_end, strerror(errno));
    }
    s->wr_off = valid_end;
    if (!have_rd)
        s->rd_off = valid_end;
    s->cur = s->rd_off;
    s->warned_upto = valid_end;     /* damage in the middle: reported above */
    if (s->pending_records == 0 && valid_end > 0) {
        /* Everything in it was delivered before a crash: start afresh. */
        if (ftruncate(s->fd, 0) == 0)
            s->wr_off = s->rd_off = s->cur = s->warned_upto = 0;
    }
    if (s->delivered > s->max_seq)
        s->max_seq = s->delivered;
    s->last_sync_ms = mono_ms();
    return s;
fail:
    if (s->fd >= 0)
        close(s->fd);
    free(s->dir);
    free(s->path);
    free(s->state_path);
    free(s->tmp_path);
    free(s);
    return NULL;
}

void
spool_close(struct spool *s)
{
    if (!s)
        return;
    if (s->fd >= 0) {
        sync_fd(s);
        close(s->fd);
    }
    free(s->dir);
    free(s->path);
    free(s->state_path);
    free(s->tmp_path);
    free(s);
}

int
spool_append(struct spool *s, uint64_t seq, const void *payload, uint32_t len,
             char *err, size_t errlen)
{
    uint8_t h[SPOOL_HDR];
    uint32_t v32 = htole32(SPOOL_MAGIC);
    memcpy(h, &v32, 4);
    v32 = htole32(len);
    memcpy(h + 4, &v32, 4);
    uint64_t v64 = htole64(seq);
    memcpy(h + 8, &v64, 8);
    uint32_t crc = spool_crc32c(0, h + 4, 12);
    crc = htole32(spool_crc32c(crc, payload, len));
    memcpy(h + 16, &crc, 4);

    struct iovec iov[2] = { { h, SPOOL_HDR }, { (void *)payload, len } };
    size_t total = SPOOL_HDR + (size_t)len, done = 0;
    while (done < total) {
        /* The first write moves both parts; a short write is finished from
         * where it stopped. */
        ssize_t r;
        if (done == 0) {
            r = writev(s->fd, iov, 2);
        } else {
            const uint8_t *src = done < SPOOL_HDR ? h + done
                                 : (const uint8_t *)payload + (done - SPOOL_HDR);
            size_t n = done < SPOOL_HDR ? SPOOL_HDR - done : total - done;
            r = write(s->fd, src, n);
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = ENOSPC;
            goto fail;
        }
        done += (size_t)r;
    }
    s->dirty = 1;
    if (s->fsync_mode == SPOOL_FSYNC_ALWAYS ||
        (s->fsync_mode == SPOOL_FSYNC_BATCH &&
         mono_ms() - s->last_sync_ms >= s->batch_ms)) {
        if (sync_fd(s) != 0)
            goto fail;
    }
    s->wr_off += total;
    s->pending_records++;
    if (seq > s->max_seq)
        s->max_seq = seq;
    return 0;
fail:;
    int e = errno;
    snprintf(err, errlen, "spool %s: write: %s", s->path, strerror(e));
    if (done > 0 || e == EIO)      /* do not leave a torn record behind */
        if (ftruncate(s->fd, (off_t)s->wr_off) != 0) { /* reported above */ }
    errno = e;
    return -1;
}

void
spool_tick(struct spool *s, int force)
{
    if (!s || !s->dirty || s->fsync_mode == SPOOL_FSYNC_NEVER)
        return;
    if (force || mono_ms() - s->last_sync_ms >= s->batch_ms) {
        if (sync_fd(s) != 0)
            say(s, "spool %s: fdatasync: %s", s->path, strerror(errno));
    }
}

int
spool_next(struct spool *s, uint64_t *seq, void **payload, uint32_t *len,
           uint64_t *end, char *err, size_t errlen)
{
    while (s->cur < s->wr_off) {
        int v = read_at(s, s->cur, s->wr_off, seq, payload, len);
        if (v < 0) {
            snprintf(err, errlen, "spool %s: read at offset %" PRIu64 ": %s",
                     s->path, s->cur, strerror(errno));
            return -1;
        }
        if (v == 0) {
            int64_t nxt = scan_from(s, s->cur, s->wr_off);
            if (nxt < 0) {
                snprintf(err, errlen, "spool %s: read: %s", s->path, strerror(errno));
                return -1;
            }
            report_skip(s, s->cur, (uint64_t)nxt, (uint64_t)nxt == s->wr_off);
            s->cur = (uint64_t)nxt;
            if (s->handed == 0)
                s->rd_off = s->cur;
            continue;
        }
        s->cur += SPOOL_HDR + *len;
        if (*seq <= s->delivered) {         /* delivered before a crash */
            free(*payload);
            *payload = NULL;
            if (s->pending_records)
                s->pending_records--;
            if (s->handed == 0)
                s->rd_off = s->cur;
            continue;
        }
        s->handed++;
        *end = s->cur;
        return 1;
    }
    if (s->handed == 0 && s->rd_off == s->wr_off && s->wr_off > 0) {
        /* Only damage or old records were left: nothing to commit, but
         * the file can go. */
        if (ftruncate(s->fd, 0) == 0) {
            s->wr_off = s->rd_off = s->cur = s->warned_upto = 0;
            s->pending_records = 0;
        }
    }
    return 0;
}

void
spool_rewind(struct spool *s)
{
    s->cur = s->rd_off;
    s->handed = 0;
}

int
spool_commit(struct spool *s, uint64_t end, uint32_t nrec, uint64_t seq,
             char *err, size_t errlen)
{
    if (end < s->rd_off || end > s->wr_off)
        return 0;                   /* stale token (after a truncation) */
    s->rd_off = end;
    if (s->cur < end)
        s->cur = end;
    s->handed = nrec > s->handed ? 0 : s->handed - nrec;
    s->pending_records = nrec > s->pending_records ? 0 : s->pending_records - nrec;
    if (seq > s->delivered)
        s->delivered = seq;
    int rc = write_state(s, err, errlen);
    if (s->rd_off == s->wr_off && s->handed == 0) {
        /* All delivered: the state says so already (written first, so a
         * crash in between cannot resend anything), drop the data. */
        if (ftruncate(s->fd, 0) != 0) {
            if (rc == 0)
                snprintf(err, errlen, "spool %s: truncate: %s", s->path,
                         strerror(errno));
            return -1;
        }
        s->wr_off = s->rd_off = s->cur = s->warned_upto = 0;
        s->pending_records = 0;
        s->dirty = 0;
    }
    return rc;
}

int
spool_reserve(struct spool *s, uint64_t reserved, char *err, size_t errlen)
{
    uint64_t old = s->reserved;
    s->reserved = reserved;
    if (write_state(s, err, errlen) != 0) {
        s->reserved = old;
        return -1;
    }
    return 0;
}

int
spool_unread(const struct spool *s)
{
    return s->cur < s->wr_off;
}

int
spool_empty(const struct spool *s)
{
    return s->rd_off == s->wr_off;
}

void
spool_get_info(const struct spool *s, struct spool_info *o)
{
    memset(o, 0, sizeof(*o));
    if (!s)
        return;
    o->pending_bytes = s->wr_off - s->rd_off;
    o->pending_records = s->pending_records;
    o->file_bytes = s->wr_off;
    o->skipped_bytes = s->skipped_bytes;
    o->skipped_regions = s->skipped_regions;
    o->max_seq = s->max_seq;
    o->reserved = s->reserved;
    o->delivered = s->delivered;
}

const char *
spool_path(const struct spool *s)
{
    return s->path;
}
