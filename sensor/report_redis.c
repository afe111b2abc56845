/* sensor/report_redis.c - exactly-once delivery of findings to Redis with an
 * on-disk spool (the contract is in report_redis.h).
 *
 * Life of a message: submit() encodes the finding into a self-contained
 * payload (the script's variable arguments, length-prefixed) with its seq,
 * and puts it in the memory queue or, when Redis is away or the queue is
 * full, in the spool. poll() takes messages in seq order - the spool's first,
 * then the queue's - and sends them as one pipeline of script calls. Replies
 * are taken in order; the delivered prefix is committed (popped from the
 * queue, committed in the spool) and the rest is sent again later.
 *
 * Payload layout (the same bytes in memory and in spool records):
 *   u32 nfields (= NF), then nfields times { u32 len, len bytes }, in the
 *   order of enum field below. Integers little-endian. */
#define _GNU_SOURCE
#include "report_redis.h"
#include "spool.h"
#include "mono.h"

#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SEQ_BLOCK 1024              /* seqs reserved per state-file write */
#define SPOOL_RETRY_MS 5000         /* reopen an unusable spool this often */
#define LOG_REPEAT_MS 60000         /* repeat an unchanged error this often */

enum field {
    F_ID, F_TYPE, F_SEV, F_UPD_ISO, F_UPD_EPOCH, F_INSTANCE, F_ARCHIVED,
    F_COUNT, F_JSON, F_NOTIFY, NF
};

/* The script. KEYS: 1 sensor-seq hash, 2 stream, 3 finding hash, 4
 * by-updated, 5 by-severity. ARGV: 1 sensor id, 2 seq, 3 seq of the previous
 * call in the same pipeline (0 = none), 4 maxlen (0 = no trim), 5 channel (""
 * = none), 6.. the payload fields in enum field order. Returns 1 applied, 0
 * duplicate, -1 refused because the previous call was not applied.
 * Redis does not undo a script that fails half-way, so every key's type is
 * checked before the first write. A key all findings share (the seq hash,
 * the stream, the two indexes) of the wrong type is an error: the findings
 * wait in the spool until someone mends it. The finding's own hash of the
 * wrong type (someone else's data under our prefix) would refuse that one
 * finding on every retry and hold back every later one, so it is rejected:
 * the script moves the mark, remembers why under "<sensor>:rejected:<seq>"
 * in the seq hash (so a retry after a lost reply hears "rejected" again, not
 * "duplicate") and returns "rejected: <why>"; the sender counts it, logs it
 * and keeps its JSON in <spool_dir>/rejected.jsonl. */
const char redis_out_lua[] =
    "local want = {'hash', 'stream', 'hash', 'zset', 'zset'}\n"
    "local function bad(i)\n"
    "  local t = redis.call('TYPE', KEYS[i])['ok']\n"
    "  if t ~= 'none' and t ~= want[i] then\n"
    "    return KEYS[i] .. ' is a ' .. t .. ', not a ' .. want[i]\n"
    "  end\n"
    "end\n"
    "for _, i in ipairs({1, 2, 4, 5}) do\n"
    "  local why = bad(i)\n"
    "  if why then return redis.error_reply('WRONGTYPE ' .. why) end\n"
    "end\n"
    "local rej = ARGV[1] .. ':rejected:' .. ARGV[2]\n"
    "local mark = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or 0) or 0\n"
    "local seq = tonumber(ARGV[2])\n"
    "if seq <= mark then\n"
    "  local w = redis.call('HGET', KEYS[1], rej)\n"
    "  if w then return 'rejected: ' .. w end\n"
    "  return 0\n"
    "end\n"
    "local prev = tonumber(ARGV[3])\n"
    "if prev > 0 and mark < prev then return -1 end\n"
    "local why = bad(3)\n"
    "if why then\n"
    "  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], rej, why)\n"
    "  return 'rejected: ' .. why\n"
    "end\n"
    "local x = {'XADD', KEYS[2]}\n"
    "if tonumber(ARGV[4]) > 0 then\n"
    "  x[#x+1] = 'MAXLEN'; x[#x+1] = '~'; x[#x+1] = ARGV[4]\n"
    "end\n"
    "x[#x+1] = '*'\n"
    "x[#x+1] = 'detail-type'; x[#x+1] = 'GuardDuty Finding'\n"
    "x[#x+1] = 'source'; x[#x+1] = 'mirrorguard'\n"
    "x[#x+1] = 'time'; x[#x+1] = ARGV[9]\n"
    "x[#x+1] = 'detail'; x[#x+1] = ARGV[14]\n"
    "x[#x+1] = 'sensor'; x[#x+1] = ARGV[1]\n"
    "x[#x+1] = 'seq'; x[#x+1] = ARGV[2]\n"
    "redis.call(unpack(x))\n"
    "redis.call('HSET', KEYS[3], 'json', ARGV[14], 'id', ARGV[6], 'type', ARGV[7],\n"
    "  'severity', ARGV[8], 'updatedAt', ARGV[9], 'instanceId', ARGV[11],\n"
    "  'archived', ARGV[12], 'count', ARGV[13])\n"
    "redis.call('ZADD', KEYS[4], ARGV[10], ARGV[6])\n"
    "redis.call('ZADD', KEYS[5], ARGV[8], ARGV[6])\n"
    "if ARGV[12] ~= '1' and ARGV[5] ~= '' then\n"
    "  redis.call('PUBLISH', ARGV[5], ARGV[15])\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "return 1\n";

struct msg {
    uint64_t seq;
    uint32_t len;
    char data[];
};

/* One message of a batch: from the queue (fields point into the queued
 * message) or from the spool (fields point into owned). */
struct item {
    uint64_t seq;
    const char *f[NF];
    size_t fl[NF];
    void *owned;                    /* spool payload, freed after the batch */
    int from_spool, skip;           /* skip: undecodable spool record */
    uint64_t end;                   /* spool commit token */
};

struct redis_out {
    /* configuration */
    int is_unix;
    char *host, *sock_path, *where;
    int port, db;
    char *user, *pass;
    char *stream, *prefix, *channel, *sensor_id, *spool_dir;
    char *seq_key, *upd_key, *sev_key;  /* <prefix>:sensor-seq, :by-updated, :by-severity */
    char maxlen_s[24];
    int fsync_mode;
    uint32_t fsync_batch_ms, connect_ms, command_ms, qcap, batch_max;
    uint32_t budget_ms, backoff_min, backoff_max;
    void (*log)(void *, const char *);
    void *log_arg;

    /* connection */
    redisContext *ctx;
    char sha[41];
    int need_eval;                  /* the server lost the script: EVAL once */
    int down;                       /* a connect failed or the link dropped */
    int degraded;                   /* connected, but the server refuses deliveries */
    uint64_t next_connect_ms, server_retry_ms;
    unsigned attempts;              /* failed connects / server errors in a row */
    int ever_connected;
    uint64_t rng;

    /* messages */
    struct msg **q;
    uint32_t qhead, qlen;
    struct spool *spool;
    uint64_t spool_retry_ms;
    uint64_t next_seq, reserved;
    int reserve_warned;
    struct item *batch;
    char *scratch;                  /* finding key of the current call */
    size_t scratch_cap;

    struct redis_out_stats st;
    char last_logged[256];
    uint64_t last_logged_ms;
};

/* ---- small helpers ---- */

/* Replace every occurrence of secret in s by "***" (in place, s has room
 * for cap bytes). Messages are built without the secret; this is the second
 * line of defence against a server or a library echoing it. */
static void
redact(char *s, size_t cap, const char *secret)
{
    if (!secret || strlen(secret) < 3)
        return;
    size_t sl = strlen(secret);
    char *p;
    while ((p = strstr(s, secret)) != NULL) {
        size_t tail = strlen(p + sl);
        if ((size_t)(p - s) + 3 + tail + 1 > cap)
            tail = cap - (size_t)(p - s) - 4;
        memmove(p + 3, p + sl, tail);
        p[3 + tail] = '\0';
        memcpy(p, "***", 3);
    }
}

static void
logline(struct redis_out *o, const char *line)
{
    if (o->log)
        o->log(o->log_arg, line);
    else
        fprintf(stderr, "mirrorguard: redis: %s\n", line);
}

/* Record an error as last_error and log it; an unchanged error is logged
 * again only every LOG_REPEAT_MS (a dead server would flood the log). */
static void
set_error(struct redis_out *o, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    redact(line, sizeof(line), o->pass);
    snprintf(o->st.last_error, sizeof(o->st.last_error), "%s", line);
    uint64_t now = mono_ms();
    if (strcmp(line, o->last_logged) != 0 || now - o->last_logged_ms >= LOG_REPEAT_MS) {
        snprintf(o->last_logged, sizeof(o->last_logged), "%s", line);
        o->last_logged_ms = now;
        logline(o, line);
    }
}

static void
spool_log(void *arg, const char *line)
{
    struct redis_out *o = arg;
    logline(o, line);
}

static uint64_t
rnd(struct redis_out *o)
{
    uint64_t x = o->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return o->rng = x;
}

/* Exponential backoff with jitter: a delay in [d/2, d], d = min * 2^attempts
 * capped at max. */
static uint64_t
backoff(struct redis_out *o)
{
    uint64_t d = o->backoff_min;
    for (unsigned i = 1; i < o->attempts && d < o->backoff_max; i++)
        d *= 2;
    if (d > o->backoff_max)
        d = o->backoff_max;
    return d / 2 + rnd(o) % (d / 2 + 1);
}

static char *
dupor(const char *s, const char *def)
{
    return strdup(s && *s ? s : def);
}

/* SIGPIPE from writing to a dead server is sent to the writing thread: block
 * it around network I/O and discard the one we caused. */
struct pipe_guard { sigset_t old; int pending; };

static void
pipe_block(struct pipe_guard *g)
{
    sigset_t s, p;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, &g->old);
    sigpending(&p);
    g->pending = sigismember(&p, SIGPIPE) == 1;
}

static void
pipe_restore(struct pipe_guard *g)
{
    if (!g->pending) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGPIPE);
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&s, NULL, &zero) > 0)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- configuration ---- */

static int
unhex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode [s, s+n) into a new string; NULL on a bad escape. */
static char *
pct_decode(const char *s, size_t n)
{
    char *d = malloc(n + 1), *w = d;
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *w++ = s[i];
            continue;
        }
        int h = i + 2 < n ? unhex((unsigned char)s[i + 1]) : -1;
        int l = i + 2 < n ? unhex((unsigned char)s[i + 2]) : -1;
        if (h < 0 || l < 0) {
            free(d);
            return NULL;
        }
        *w++ = (char)(h * 16 + l);
        i += 2;
    }
    *w = '\0';
    return d;
}

static int
parse_db(const char *s, int *db)
{
    if (!*s)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 100000 || !isdigit((unsigned char)*s))
        return -1;
    *db = (int)v;
    return 0;
}

static int
parse_url(struct redis_out *o, const char *url, char **url_user, char **url_pass,
          char *err, size_t errlen)
{
    if (!url || !*url) {
        snprintf(err, errlen, "redis: no url");
        return -1;
    }
    if (!strncmp(url, "rediss://", 9)) {
        snprintf(err, errlen, "redis: rediss:// (TLS) not supported; use redis:// "
                 "or unix:// (a local TLS proxy can wrap the connection)");
        return -1;
    }
    if (!strncmp(url, "unix://", 7)) {
        const char *p = url + 7;
        if (*p != '/') {
            snprintf(err, errlen, "redis: unix:// url needs an absolute socket path "
                     "(unix:///path/to/redis.sock)");
            return -1;
        }
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        o->sock_path = strndup(p, n);
        if (q) {
            if (strncmp(q, "?db=", 4) || parse_db(q + 4, &o->db) != 0) {
                snprintf(err, errlen, "redis: unix:// url: only ?db=N is understood");
                return -1;
            }
        }
        o->is_unix = 1;
        size_t wl = n + 8;
        o->where = malloc(wl);
        if (o->where)
            snprintf(o->where, wl, "unix:%s", o->sock_path);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis: url must start with redis:// or unix://");
        return -1;
    }
    const char *a = url + 8;
    const char *slash = strchr(a, '/');
    const char *aend = slash ? slash : a + strlen(a);
    const char *at = NULL;
    for (const char *p = a; p < aend; p++)
        if (*p == '@')
            at = p;                 /* the last one: passwords may hold '@' */
    const char *h = a;
    if (at) {
        const char *colon = memchr(a, ':', (size_t)(at - a));
        if (colon) {
            if (colon > a)
                *url_user = pct_decode(a, (size_t)(colon - a));
            *url_pass = pct_decode(colon + 1, (size_t)(at - colon - 1));
            if ((colon > a && !*url_user) || !*url_pass) {
                snprintf(err, errlen, "redis: bad %%-escape in the url's user info");
                return -1;
            }
        } else if (at > a) {
            *url_user = pct_decode(a, (size_t)(at - a));
            if (!*url_user) {
                snprintf(err, errlen, "redis: bad %%-escape in the url's user name");
                return -1;
            }
        }
        h = at + 1;
    }
    const char *hend, *pstart = NULL;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(aend - h));
        if (!rb) {
            snprintf(err, errlen, "redis: url: unterminated [ in the host");
            return -1;
        }
        o->host = strndup(h + 1, (size_t)(rb - h - 1));
        hend = rb + 1;
        if (hend < aend && *hend == ':')
            pstart = hend + 1;
        else if (hend != aend) {
            snprintf(err, errlen, "redis: url: junk after the host");
            return -1;
        }
    } else {
        const char *colon = memchr(h, ':', (size_t)(aend - h));
        hend = colon ? colon : aend;
        o->host = strndup(h, (size_t)(hend - h));
        if (colon)
            pstart = colon + 1;
    }
    if (!o->host || !*o->host) {
        snprintf(err, errlen, "redis: url: no host");
        return -1;
    }
    o->port = 6379;
    if (pstart) {
        char pbuf[8];
        size_t pl = (size_t)(aend - pstart);
        long v = -1;
        if (pl > 0 && pl < sizeof(pbuf)) {
            memcpy(pbuf, pstart, pl);
            pbuf[pl] = '\0';
            char *end;
            v = strtol(pbuf, &end, 10);
            if (*end || !isdigit((unsigned char)pbuf[0]))
                v = -1;
        }
        if (v < 1 || v > 65535) {
            snprintf(err, errlen, "redis: url: bad port");
            return -1;
        }
        o->port = (int)v;
    }
    if (slash && parse_db(slash + 1, &o->db) != 0) {
        snprintf(err, errlen, "redis: url: the path must be a database number");
        return -1;
    }
    size_t wl = strlen(o->host) + 16;
    o->where = malloc(wl);
    if (o->where)
        snprintf(o->where, wl, strchr(o->host, ':') ? "[%s]:%d" : "%s:%d",
                 o->host, o->port);
    return 0;
}

/* The first line of a file, without the line end. */
static char *
read_secret_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "redis: password_file %s: %s", path, strerror(errno));
        return NULL;
    }
    char buf[1024];
    char *r = fgets(buf, sizeof(buf), f);
    int e = errno, bad = ferror(f);
    fclose(f);
    if (!r) {
        snprintf(err, errlen, "redis: password_file %s: %s", path,
                 bad ? strerror(e) : "empty");
        return NULL;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    char *s = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    return s;
}

/* ---- the queue ---- */

static struct msg *
q_at(struct redis_out *o, uint32_t i)
{
    return o->q[(o->qhead + i) % o->qcap];
}

static void
q_push(struct redis_out *o, struct msg *m)
{
    o->q[(o->qhead + o->qlen) % o->qcap] = m;
    o->qlen++;
}

static struct msg *
q_pop(struct redis_out *o)
{
    struct msg *m = o->q[o->qhead];
    o->qhead = (o->qhead + 1) % o->qcap;
    o->qlen--;
    return m;
}

/* ---- messages ---- */

static size_t
put32(char *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, 4);
    return 4;
}

/* Split a payload into its fields. -1 when it is not a valid payload (a
 * spool record that passed its CRC but was not written by us). */
static int
decode(const char *d, uint32_t len, const char **f, size_t *fl)
{
    uint32_t v, off = 4;
    if (len < 4)
        return -1;
    memcpy(&v, d, 4);
    if (le32toh(v) != NF)
        return -1;
    for (int i = 0; i < NF; i++) {
        if (len - off < 4)
            return -1;
        memcpy(&v, d + off, 4);
        v = le32toh(v);
        off += 4;
        if (len - off < v)
            return -1;
        f[i] = d + off;
        fl[i] = v;
        off += v;
    }
    return off == len ? 0 : -1;
}

/* JSON string escaping for the notification. */
static size_t
json_str(char *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *p = w;
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            *p++ = '\\'; *p++ = 'u'; *p++ = '0'; *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return (size_t)(p - w);
}

static struct msg *
make_msg(uint64_t seq, const char *id, const char *type, double severity,
         const char *upd_iso, uint64_t upd_epoch, const char *instance,
         int archived, uint64_t count, const char *json)
{
    char sev[32], epoch[24], cnt[24];
    snprintf(sev, sizeof(sev), "%.15g", severity);
    snprintf(epoch, sizeof(epoch), "%" PRIu64, upd_epoch);
    snprintf(cnt, sizeof(cnt), "%" PRIu64, count);
    char *notify = malloc(6 * (strlen(id) + strlen(type)) + 64);
    if (!notify)
        return NULL;
    char *w = notify;
    w += sprintf(w, "{\"id\":");
    w += json_str(w, id);
    w += sprintf(w, ",\"type\":");
    w += json_str(w, type);
    w += sprintf(w, ",\"severity\":%s}", sev);

    const char *f[NF] = {
        [F_ID] = id, [F_TYPE] = type, [F_SEV] = sev, [F_UPD_ISO] = upd_iso,
        [F_UPD_EPOCH] = epoch, [F_INSTANCE] = instance ? instance : "",
        [F_ARCHIVED] = archived ? "1" : "0", [F_COUNT] = cnt, [F_JSON] = json,
        [F_NOTIFY] = notify,
    };
    size_t fl[NF], total = 4;
    for (int i = 0; i < NF; i++) {
        fl[i] = strlen(f[i]);
        total += 4 + fl[i];
    }
    struct msg *m = NULL;
    if (total <= SPOOL_MAX_RECORD)
        m = malloc(sizeof(*m) + total);
    if (m) {
        m->seq = seq;
        m->len = (uint32_t)total;
        char *p = m->data;
        p += put32(p, NF);
        for (int i = 0; i < NF; i++) {
            p += put32(p, (uint32_t)fl[i]);
            memcpy(p, f[i], fl[i]);
            p += fl[i];
        }
    }
    free(notify);
    return m;
}

/* ---- the spool side ---- */

static void
spool_try_open(struct redis_out *o, uint64_t now)
{
    if (o->spool || !o->spool_dir || now < o->spool_retry_ms)
        return;
    char err[256];
    o->spool = spool_open(o->spool_dir, o->fsync_mode, o->fsync_batch_ms,
                          spool_log, o, err, sizeof(err));
    if (!o->spool) {
        o->spool_retry_ms = now + SPOOL_RETRY_MS;
        set_error(o, "%s (findings wait in memory, %u at most)", err, o->qcap);
        return;
    }
    struct spool_info si;
    spool_get_info(o->spool, &si);
    if (si.reserved > o->next_seq)
        o->next_seq = si.reserved;
    if (si.max_seq >= o->next_seq)
        o->next_seq = si.max_seq + 1;
    o->reserved = 0;                /* reserve on the next submit */
    if (si.pending_records)
        logline(o, "picked up undelivered findings from the spool");
}

/* Append one message to the spool. 0 or -1 (error recorded). */
static int
spool_put(struct redis_out *o, const struct msg *m)
{
    if (!o->spool)
        return -1;
    char err[256];
    if (spool_append(o->spool, m->seq, m->data, m->len, err, sizeof(err)) != 0) {
        o->st.spool_errors++;
        set_error(o, "%s (findings wait in memory, %u at most)", err, o->qcap);
        return -1;
    }
    o->st.spooled++;
    return 0;
}

/* Move the queue to the spool, oldest first, as far as the spool takes it. */
static void
spill(struct redis_out *o)
{
    while (o->qlen && o->spool) {
        if (spool_put(o, q_at(o, 0)) != 0)
            return;
        free(q_pop(o));
    }
}

/* ---- the connection ---- */

static void
disconnect(struct redis_out *o)
{
    if (o->ctx) {
        redisFree(o->ctx);
        o->ctx = NULL;
    }
}

static redisReply *
cmd(struct redis_out *o, int argc, const char **argv)
{
    size_t len[8];
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    return redisCommandArgv(o->ctx, argc, argv, len);
}

/* Connect, log in, select, load the script, read our mark. 0 or -1 (error
 * recorded). */
static int
do_connect(struct redis_out *o)
{
    struct timeval ct = { o->connect_ms / 1000, (o->connect_ms % 1000) * 1000 };
    struct timeval mt = { o->command_ms / 1000, (o->command_ms % 1000) * 1000 };
    o->ctx = o->is_unix ? redisConnectUnixWithTimeout(o->sock_path, ct)
                        : redisConnectWithTimeout(o->host, o->port, ct);
    if (!o->ctx) {
        set_error(o, "redis %s: connect: out of memory", o->where);
        return -1;
    }
    if (o->ctx->err) {
        set_error(o, "redis %s: connect: %s", o->where, o->ctx->errstr);
        goto fail;
    }
    redisSetTimeout(o->ctx, mt);
    if (!o->is_unix)                /* TCP options fail on a unix socket */
        redisEnableKeepAlive(o->ctx);

    redisReply *r;
    if (o->pass) {
        const char *av[3] = { "AUTH", o->user ? o->user : o->pass, o->pass };
        r = cmd(o, o->user ? 3 : 2, av);
        if (!r) {
            set_error(o, "redis %s: AUTH: %s", o->where, o->ctx->errstr);
            goto fail;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            set_error(o, "redis %s: AUTH failed%s%s: %s", o->where,
                      o->user ? " for user " : "", o->user ? o->user : "", r->str);
            freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }
    if (o->db) {
        char dbs[16];
        snprintf(dbs, sizeof(dbs), "%d", o->db);
        const char *av[2] = { "SELECT", dbs };
        r = cmd(o, 2, av);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            set_error(o, "redis %s: SELECT %d: %s", o->where, o->db,
                      r ? r->str : o->ctx->errstr);
            freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }
    {
        const char *av[3] = { "SCRIPT", "LOAD", redis_out_lua };
        r = cmd(o, 3, av);
        if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
            set_error(o, "redis %s: SCRIPT LOAD: %s", o->where,
                      !r ? o->ctx->errstr : r->type == REDIS_REPLY_ERROR ? r->str
                      : "unexpected reply");
            freeReplyObject(r);
            goto fail;
        }
        memcpy(o->sha, r->str, 40);
        o->sha[40] = '\0';
        freeReplyObject(r);
        o->need_eval = 0;
    }
    {
        const char *av[3] = { "HGET", o->seq_key, o->sensor_id };
        r = cmd(o, 3, av);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            set_error(o, "redis %s: HGET %s: %s", o->where, o->seq_key,
                      r ? r->str : o->ctx->errstr);
            freeReplyObject(r);
            goto fail;
        }
        if (r->type == REDIS_REPLY_STRING) {
            uint64_t mark = strtoull(r->str, NULL, 10);
            if (mark >= o->next_seq) {
                /* Our counter is behind the server's mark: the state file
                 * was lost or the clock went back. New messages go above
                 * it; ones already numbered may be taken for duplicates. */
                char line[200];
                snprintf(line, sizeof(line), "sensor %s: seq %" PRIu64 " is behind "
                         "the mark in redis (%" PRIu64 "); continuing above it",
                         o->sensor_id, o->next_seq, mark);
                logline(o, line);
                o->next_seq = mark + 1;
                o->reserved = 0;
            }
        }
        freeReplyObject(r);
    }
    if (o->ever_connected)
        o->st.reconnects++;
    o->ever_connected = 1;
    o->attempts = 0;
    if (o->st.last_error[0]) {
        char line[300];
        snprintf(line, sizeof(line), "redis %s: connected", o->where);
        logline(o, line);
    }
    o->st.last_error[0] = '\0';
    o->last_logged[0] = '\0';
    return 0;
fail:
    disconnect(o);
    return -1;
}

/* ---- sending ---- */

static int
append_call(struct redis_out *o, const struct item *it, uint64_t prev, int eval)
{
    const char *av[2 + 1 + 5 + 5 + NF];
    size_t al[2 + 1 + 5 + 5 + NF];
    char seq[24], prv[24];
    int n = 0;
#define ARG(p, l) do { av[n] = (p); al[n] = (l); n++; } while (0)
#define ARGS(p) ARG((p), strlen(p))
    snprintf(seq, sizeof(seq), "%" PRIu64, it->seq);
    snprintf(prv, sizeof(prv), "%" PRIu64, prev);
    size_t need = strlen(o->prefix) + 9 + it->fl[F_ID] + 1;
    if (need > o->scratch_cap) {
        char *p = realloc(o->scratch, need);
        if (!p)
            return -1;
        o->scratch = p;
        o->scratch_cap = need;
    }
    int kl = snprintf(o->scratch, need, "%s:finding:", o->prefix);
    memcpy(o->scratch + kl, it->f[F_ID], it->fl[F_ID]);

    if (eval) {
        ARGS("EVAL");
        ARG(redis_out_lua, sizeof(redis_out_lua) - 1);
    } else {
        ARGS("EVALSHA");
        ARG(o->sha, 40);
    }
    ARGS("5");
    ARGS(o->seq_key);
    ARGS(o->stream);
    ARG(o->scratch, (size_t)kl + it->fl[F_ID]);
    ARGS(o->upd_key);
    ARGS(o->sev_key);
    ARGS(o->sensor_id);
    ARGS(seq);
    ARGS(prv);
    ARGS(o->maxlen_s);
    ARGS(o->channel);
    for (int i = 0; i < NF; i++)
        ARG(it->f[i], it->fl[i]);
#undef ARG
#undef ARGS
    return redisAppendCommandArgv(o->ctx, n, av, al) == REDIS_OK ? 0 : -1;
}

/* A finding the script rejected (its own hash of the wrong type): counted, said
 * with its id, and its JSON appended to <spool_dir>/rejected.jsonl so it
 * can be sent again once the key is mended. That file is its only copy, so
 * it reaches the disk before the finding counts as kept (fdatasync, unless
 * the spool's fsync is 'never'; rejections are rare). */
static void
reject(struct redis_out *o, const struct item *it, const char *why)
{
    o->st.rejected++;
    const char *where = "not kept: no spool";
    char path[4096];
    if (o->spool_dir) {
        snprintf(path, sizeof(path), "%s/rejected.jsonl", o->spool_dir);
        FILE *f = fopen(path, "ae");
        int bad = !f || fwrite(it->f[F_JSON], 1, it->fl[F_JSON], f) != it->fl[F_JSON] ||
                  fputc('\n', f) == EOF;
        if (!bad && o->fsync_mode != SPOOL_FSYNC_NEVER &&
            (fflush(f) != 0 || fdatasync(fileno(f)) != 0))
            bad = 1;
        if (f && fclose(f) != 0)
            bad = 1;
        where = bad ? "could not be kept" : path;
    }
    set_error(o, "finding %.*s REJECTED by redis %s (%" PRIu64 " so far): %s; its JSON: %s",
              (int)it->fl[F_ID], it->f[F_ID], o->where, o->st.rejected, why, where);
}

/* Take the next batch in seq order: spool records first, then - only once
 * the spool has nothing unread - queued messages. Returns its size. */
static uint32_t
take_batch(struct redis_out *o)
{
    uint32_t n = 0;
    int spool_blocked = 0;
    while (o->spool && n < o->batch_max && spool_unread(o->spool)) {
        struct item *it = &o->batch[n];
        char err[256];
        void *p;
        uint32_t len;
        int r = spool_next(o->spool, &it->seq, &p, &len, &it->end, err, sizeof(err));
        if (r < 0) {
            /* Newer messages must not overtake the unreadable ones. */
            set_error(o, "%s", err);
            spool_blocked = 1;
            break;
        }
        if (r == 0)
            break;
        it->owned = p;
        it->from_spool = 1;
        it->skip = decode(p, len, it->f, it->fl) != 0;
        if (it->skip) {
            char line[300];
            snprintf(line, sizeof(line), "spool %s: record seq %" PRIu64
                     " is not a finding message, dropped", spool_path(o->spool),
                     it->seq);
            logline(o, line);
        }
        n++;
    }
    if (spool_blocked || (o->spool && spool_unread(o->spool)))
        return n;
    for (uint32_t i = 0; i < o->qlen && n < o->batch_max; i++) {
        struct item *it = &o->batch[n++];
        struct msg *m = q_at(o, i);
        it->seq = m->seq;
        it->owned = NULL;
        it->from_spool = 0;
        it->skip = decode(m->data, m->len, it->f, it->fl) != 0;  /* cannot fail */
    }
    return n;
}

/* One pipelined round trip: send the batch, read every reply, commit the
 * delivered prefix. >0: messages taken; 0: nothing to send; -1: failed
 * (connection dropped, or the server refused: retry after a backoff). */
static int
send_batch(struct redis_out *o, uint64_t now)
{
    uint32_t n = take_batch(o);
    if (n == 0)
        return 0;
    int io_failed = 0, server_err = 0, ok = 1, first = 1, eval_used = 0;
    uint64_t prev = 0;
    uint32_t sent = 0, k = 0;

    for (uint32_t i = 0; i < n; i++) {
        struct item *it = &o->batch[i];
        if (it->skip)
            continue;
        int eval = first && o->need_eval;
        if (append_call(o, it, prev, eval) != 0) {
            set_error(o, "redis %s: cannot queue a command: %s", o->where,
                      o->ctx->err ? o->ctx->errstr : "out of memory");
            io_failed = 1;          /* the output buffer is in doubt */
            break;
        }
        eval_used |= eval;
        first = 0;
        prev = it->seq;
        sent++;
    }
    for (uint32_t i = 0; i < n && !io_failed; i++) {
        struct item *it = &o->batch[i];
        if (it->skip) {
            if (ok)
                k = i + 1;
            continue;
        }
        redisReply *r = NULL;
        if (redisGetReply(o->ctx, (void **)&r) != REDIS_OK || !r) {
            set_error(o, "redis %s: %s", o->where,
                      o->ctx->err ? o->ctx->errstr : "no reply");
            io_failed = 1;
            break;
        }
        if (!ok) {
            /* After a refusal the chain makes every later call refuse too. */
        } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
            o->st.delivered++;
            k = i + 1;
        } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
            o->st.duplicates++;
            k = i + 1;
        } else if ((r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
                   !strncmp(r->str, "rejected: ", 10)) {
            reject(o, it, r->str + 10);
            k = i + 1;
        } else if (r->type == REDIS_REPLY_INTEGER) {
            ok = 0;                 /* -1: refused, an earlier call failed */
        } else if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
            ok = 0;
            o->need_eval = 1;
        } else {
            ok = 0;
            server_err = 1;
            set_error(o, "redis %s: delivery script failed: %s", o->where,
                      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        }
        freeReplyObject(r);
    }
    if (ok && !io_failed && eval_used)
        o->need_eval = 0;

    /* Commit the delivered prefix [0, k). */
    uint32_t nspool = 0, nmem = 0;
    int last_spool = -1;
    for (uint32_t i = 0; i < k; i++) {
        if (o->batch[i].from_spool) {
            nspool++;
            last_spool = (int)i;
        } else {
            nmem++;
        }
    }
    if (nspool) {
        char err[256];
        const struct item *it = &o->batch[last_spool];
        if (spool_commit(o->spool, it->end, nspool, it->seq, err, sizeof(err)) != 0)
            set_error(o, "%s", err);
    }
    if (o->spool)
        spool_rewind(o->spool);     /* what was not delivered is read again */
    for (uint32_t i = 0; i < nmem; i++)
        free(q_pop(o));
    for (uint32_t i = 0; i < n; i++) {
        free(o->batch[i].owned);
        o->batch[i].owned = NULL;
    }
    for (uint32_t i = k; i < n; i++)
        if (!o->batch[i].skip)
            o->st.retried++;

    if (io_failed) {
        disconnect(o);
        o->down = 1;
        o->attempts = 1;
        o->next_connect_ms = now + backoff(o);
        return -1;
    }
    if (server_err) {
        o->degraded = 1;            /* new findings wait on disk meanwhile */
        o->attempts++;
        o->server_retry_ms = now + backoff(o);
        return -1;
    }
    if (k == n) {
        o->attempts = 0;
        o->degraded = 0;
    }
    return (int)n;
}

/* ---- API ---- */

static void
free_all(struct redis_out *o)
{
    disconnect(o);
    spool_close(o->spool);
    if (o->q) {
        while (o->qlen)
            free(q_pop(o));
        free(o->q);
    }
    free(o->batch);
    free(o->scratch);
    free(o->host);
    free(o->sock_path);
    free(o->where);
    free(o->user);
    if (o->pass) {
        explicit_bzero(o->pass, strlen(o->pass));
        free(o->pass);
    }
    free(o->stream);
    free(o->prefix);
    free(o->channel);
    free(o->sensor_id);
    free(o->spool_dir);
    free(o->seq_key);
    free(o->upd_key);
    free(o->sev_key);
    free(o);
}

static char *
key(const char *prefix, const char *suffix)
{
    size_t n = strlen(prefix) + strlen(suffix) + 1;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s%s", prefix, suffix);
    return k;
}

struct redis_out *
redis_out_open(const struct redis_out_cfg *c, char *err, size_t errlen)
{
    struct redis_out *o = calloc(1, sizeof(*o));
    char *url_user = NULL, *url_pass = NULL;
    if (!o) {
        snprintf(err, errlen, "redis: out of memory");
        return NULL;
    }
    if (parse_url(o, c->url, &url_user, &url_pass, err, errlen) != 0)
        goto fail;

    if (c->user && *c->user)
        o->user = strdup(c->user);
    else if (url_user && *url_user)
        o->user = strdup(url_user);
    if (c->password && *c->password) {
        o->pass = strdup(c->password);
    } else if (c->password_file && *c->password_file) {
        o->pass = read_secret_file(c->password_file, err, errlen);
        if (!o->pass)
            goto fail;
    } else if (c->password_env && *c->password_env) {
        const char *v = getenv(c->password_env);
        if (!v || !*v) {
            snprintf(err, errlen, "redis: password_env: environment variable %s "
                     "is not set", c->password_env);
            goto fail;
        }
        o->pass = strdup(v);
    } else if (url_pass && *url_pass) {
        o->pass = strdup(url_pass);
    }

    o->fsync_mode = spool_fsync_parse(c->fsync);
    if (o->fsync_mode < 0) {
        snprintf(err, errlen, "redis: fsync must be always, batch or never, not \"%s\"",
                 c->fsync);
        goto fail;
    }
    char host[256] = "mirrorguard";
    if (!c->sensor_id || !*c->sensor_id) {
        if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
            snprintf(host, sizeof(host), "mirrorguard");
        host[sizeof(host) - 1] = '\0';
    }
    o->stream = dupor(c->stream, "mirrorguard:findings");
    o->prefix = dupor(c->prefix, "mirrorguard");
    o->channel = strdup(c->channel ? c->channel : "mirrorguard:notify");
    o->sensor_id = dupor(c->sensor_id, host);
    o->spool_dir = c->spool_dir && *c->spool_dir ? strdup(c->spool_dir) : NULL;
    o->seq_key = o->prefix ? key(o->prefix, ":sensor-seq") : NULL;
    o->upd_key = o->prefix ? key(o->prefix, ":by-updated") : NULL;
    o->sev_key = o->prefix ? key(o->prefix, ":by-severity") : NULL;
    snprintf(o->maxlen_s, sizeof(o->maxlen_s), "%" PRIu32, c->stream_maxlen);
    o->fsync_batch_ms = c->fsync_batch_ms ? c->fsync_batch_ms : 200;
    o->connect_ms = c->connect_timeout_ms ? c->connect_timeout_ms : 2000;
    o->command_ms = c->command_timeout_ms ? c->command_timeout_ms : 5000;
    o->qcap = c->queue_size ? c->queue_size : 10000;
    o->batch_max = c->batch_size ? c->batch_size : 512;
    o->budget_ms = c->poll_budget_ms ? c->poll_budget_ms : 50;
    o->backoff_min = c->backoff_min_ms ? c->backoff_min_ms : 100;
    o->backoff_max = c->backoff_max_ms ? c->backoff_max_ms : 30000;
    if (o->backoff_max < o->backoff_min)
        o->backoff_max = o->backoff_min;
    o->log = c->log;
    o->log_arg = c->log_arg;
    o->q = calloc(o->qcap, sizeof(*o->q));
    o->batch = calloc(o->batch_max, sizeof(*o->batch));
    if (!o->host && !o->sock_path) {
        snprintf(err, errlen, "redis: out of memory");
        goto fail;
    }
    if (!o->where || !o->stream || !o->prefix || !o->channel || !o->sensor_id ||
        !o->seq_key || !o->upd_key || !o->sev_key || !o->q || !o->batch ||
        (c->spool_dir && *c->spool_dir && !o->spool_dir) ||
        ((c->user && *c->user) && !o->user)) {
        snprintf(err, errlen, "redis: out of memory");
        goto fail;
    }

    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    o->rng = ((uint64_t)rt.tv_nsec << 20) ^ (uint64_t)rt.tv_sec ^
             ((uint64_t)getpid() << 40) ^ (uintptr_t)o;
    if (!o->rng)
        o->rng = 88172645463325252ull;
    /* The clock floor: see the header. The spool's state raises it. */
    o->next_seq = (uint64_t)rt.tv_sec * 1000000 + (uint64_t)rt.tv_nsec / 1000;
    spool_try_open(o, 0);

    if (c->connect_at_open) {
        struct pipe_guard g;
        pipe_block(&g);
        if (do_connect(o) != 0) {
            o->st.connect_failures++;
            o->down = 1;
            o->attempts = 1;
            o->next_connect_ms = mono_ms() + backoff(o);
        }
        pipe_restore(&g);
    }
    free(url_user);
    if (url_pass) {
        explicit_bzero(url_pass, strlen(url_pass));
        free(url_pass);
    }
    return o;
fail:
    redact(err, errlen, o->pass);
    redact(err, errlen, url_pass);
    free(url_user);
    if (url_pass) {
        explicit_bzero(url_pass, strlen(url_pass));
        free(url_pass);
    }
    free_all(o);
    return NULL;
}

int
redis_out_submit(struct redis_out *o, const char *id, const char *type,
                 double severity, const char *updated_at_iso,
                 uint64_t updated_epoch, const char *instance_id, int archived,
                 uint64_t count, const char *json)
{
    o->st.submitted++;
    if (!id || !*id || !type || !updated_at_iso || !json) {
        o->st.lost++;
        set_error(o, "finding lost: submitted without id, type, updatedAt or JSON");
        return -1;
    }
    if (o->spool && o->next_seq >= o->reserved) {
        char err[256];
        if (spool_reserve(o->spool, o->next_seq + SEQ_BLOCK, err, sizeof(err)) == 0) {
            o->reserved = o->next_seq + SEQ_BLOCK;
            o->reserve_warned = 0;
        } else if (!o->reserve_warned) {
            o->reserve_warned = 1;
            set_error(o, "%s (sequence numbers rely on the clock until it works)", err);
        }
    }
    struct msg *m = make_msg(o->next_seq, id, type, severity, updated_at_iso,
                             updated_epoch, instance_id, archived, count, json);
    if (!m) {
        o->st.lost++;
        set_error(o, "finding %s lost: out of memory or larger than %u bytes",
                  id, SPOOL_MAX_RECORD);
        return -1;
    }
    o->next_seq++;
    if (o->down || o->degraded || o->qlen >= o->qcap) {
        spill(o);
        if (o->qlen == 0 && spool_put(o, m) == 0) {
            free(m);
            return 0;
        }
    }
    if (o->qlen < o->qcap) {
        q_push(o, m);
        o->st.queued++;
        return 0;
    }
    free(m);
    o->st.lost++;
    char why[256];
    snprintf(why, sizeof(why), "%s", o->st.last_error[0] ? o->st.last_error
             : o->spool_dir ? "spool unusable" : "no spool configured");
    set_error(o, "finding %s LOST (%" PRIu64 " so far): memory queue full (%u) "
              "and the spool cannot take it: %s", id, o->st.lost, o->qcap, why);
    return -1;
}

void
redis_out_poll(struct redis_out *o, uint64_t now)
{
    spool_try_open(o, now);
    struct pipe_guard g;
    pipe_block(&g);
    if (!o->ctx && now >= o->next_connect_ms) {
        if (do_connect(o) == 0) {
            o->down = 0;
        } else {
            o->st.connect_failures++;
            o->down = 1;
            o->attempts++;
            o->next_connect_ms = now + backoff(o);
        }
    }
    if (o->ctx && now >= o->server_retry_ms) {
        uint64_t start = mono_ms();
        while (send_batch(o, now) > 0 && mono_ms() - start < o->budget_ms)
            ;
    }
    pipe_restore(&g);
    if (o->down || o->degraded)
        spill(o);
    spool_tick(o->spool, 0);
}

int
redis_out_idle(const struct redis_out *o)
{
    return o->qlen == 0 && (!o->spool || spool_empty(o->spool));
}

int
redis_out_close(struct redis_out *o, int flush_timeout_ms, char *err, size_t errlen,
                struct redis_out_stats *final)
{
    if (!o)
        return 0;
    uint64_t deadline = mono_ms() + (uint64_t)(flush_timeout_ms > 0 ? flush_timeout_ms : 0);
    struct pipe_guard g;
    pipe_block(&g);
    while (!redis_out_idle(o)) {
        uint64_t now = mono_ms();
        if (now >= deadline)
            break;
        if (!o->ctx) {
            /* Reconnect at once, then every 100 ms, within the deadline. */
            if (now < o->next_connect_ms && o->next_connect_ms - now > 100)
                o->next_connect_ms = now;
            if (now < o->next_connect_ms) {
                usleep(1000 * (useconds_t)(o->next_connect_ms - now));
                continue;
            }
            if (do_connect(o) != 0) {
                o->st.connect_failures++;
                o->down = 1;
                o->next_connect_ms = now + 100;
                continue;
            }
            o->down = 0;
        }
        int r = send_batch(o, now);
        if (r == 0)
            break;                  /* what is left cannot be read */
        if (r < 0 && o->ctx) {
            uint64_t wait = deadline - now < 100 ? deadline - now : 100;
            usleep(1000 * (useconds_t)wait);
        }
    }
    pipe_restore(&g);
    spill(o);
    spool_tick(o->spool, 1);
    uint64_t left = o->qlen;
    if (left) {
        o->st.lost += left;
        set_error(o, "%" PRIu64 " findings LOST at close: not delivered and the "
                  "spool cannot take them: %s", left,
                  o->st.last_error[0] ? o->st.last_error : "no spool");
    }
    int rc = 0;
    if (o->st.lost) {
        snprintf(err, errlen, "redis: %" PRIu64 " findings lost: %s", o->st.lost,
                 o->st.last_error);
        redact(err, errlen, o->pass);
        rc = -1;
    }
    if (final)
        redis_out_stats(o, final);
    free_all(o);
    return rc;
}

void
redis_out_stats(const struct redis_out *o, struct redis_out_stats *st)
{
    *st = o->st;
    struct spool_info si;
    spool_get_info(o->spool, &si);
    st->spool_bytes = si.pending_bytes;
    st->spool_records = si.pending_records;
    st->spool_skipped_bytes = si.skipped_bytes;
    st->queue_depth = o->qlen;
    st->next_seq = o->next_seq;
    st->connected = o->ctx != NULL;
    st->spool_ok = o->spool != NULL;
}
