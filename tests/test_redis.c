/* tests/test_redis.c - the Redis output against a real redis-server (started
 * here on free loopback ports, killed at the end): the fields written, the
 * channel, pipelining speed, exactly-once delivery across a SIGKILLed server
 * and across a sensor restart with a spool, a damaged spool, an unusable
 * spool, a server that refuses (a key of the wrong type,
 * out of memory), AUTH with a password and with an ACL user, and a unix
 * socket. */
#define _GNU_SOURCE
#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "report_redis.h"
#include "spool.h"

static char base[64];               /* private temp dir */
static int port_main;
static pid_t pid_main = -1;
static char sock_main[192];

/* ---- helpers ---- */

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static redisContext *
cli_at(int port)
{
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Start redis-server on port with extra "--opt value" pairs; wait for PING. */
static pid_t
start_redis(int port, const char *dir, const char **extra)
{
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    const char *argv[40] = { "redis-server", "--port", ports, "--bind", "127.0.0.1",
                             "--save", "", "--daemonize", "no", "--dir", dir,
                             "--logfile", "", "--loglevel", "warning" };
    int n = 15;
    for (int i = 0; extra && extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    int has_aof = 0;
    for (int i = 0; extra && extra[i]; i++)
        if (!strcmp(extra[i], "--appendonly"))
            has_aof = 1;
    if (!has_aof) {
        argv[n++] = "--appendonly";
        argv[n++] = "no";
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp("redis-server", (char **)argv);
        _exit(127);
    }
    for (int i = 0; i < 250; i++) {     /* 5 s */
        usleep(20000);
        redisContext *c = cli_at(port);
        if (c) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && (r->type == REDIS_REPLY_STATUS ||
                           (r->type == REDIS_REPLY_ERROR && strstr(r->str, "NOAUTH")));
            freeReplyObject(r);
            redisFree(c);
            if (ok)
                return pid;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void
stop_redis(pid_t pid, int sig)
{
    if (pid > 0) {
        kill(pid, sig);
        waitpid(pid, NULL, 0);
    }
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static void
subdir(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", base, name);
    mkdir(out, 0700);
}

/* Log capture: every line, concatenated. */
struct cap { char buf[16384]; size_t len; };

static void
cap_log(void *arg, const char *line)
{
    struct cap *c = arg;
    int n = snprintf(c->buf + c->len, sizeof(c->buf) - c->len, "%s\n", line);
    if (n > 0 && c->len + (size_t)n < sizeof(c->buf))
        c->len += (size_t)n;
}

static void
base_cfg(struct redis_out_cfg *c, char *url, size_t ul, int port, const char *sensor)
{
    memset(c, 0, sizeof(*c));
    snprintf(url, ul, "redis://127.0.0.1:%d/0", port);
    c->url = url;
    c->sensor_id = sensor;
    c->fsync = "never";
    c->connect_timeout_ms = 500;
    c->command_timeout_ms = 2000;
    c->connect_at_open = 1;
    c->backoff_min_ms = 20;
    c->backoff_max_ms = 200;
}

static int
drain(struct redis_out *o, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    while (now_ms() < end) {
        redis_out_poll(o, now_ms());
        if (redis_out_idle(o))
            return 1;
        usleep(2000);
    }
    return redis_out_idle(o);
}

static void
submit_n(struct redis_out *o, int from, int to, const char *tag)
{
    for (int i = from; i < to; i++) {
        char id[64], json[256], iso[32];
        snprintf(id, sizeof(id), "%s-%d", tag, i);
        snprintf(iso, sizeof(iso), "2024-05-01T00:%02d:%02d.000Z", (i / 60) % 60, i % 60);
        snprintf(json, sizeof(json), "{\"schemaVersion\":\"2.0\",\"id\":\"%s\","
                 "\"type\":\"Recon:EC2/Portscan\",\"severity\":5,\"n\":%d}", id, i);
        CU_ASSERT_EQUAL(redis_out_submit(o, id, "Recon:EC2/Portscan", 5.0, iso,
                                         1714521600u + (unsigned)i, "i-0abc",
                                         0, 1, json), 0);
    }
}

static long long
int_cmd(redisContext *c, const char *fmt, const char *a)
{
    redisReply *r = redisCommand(c, fmt, a);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

/* The stream holds exactly ids tag-0 .. tag-(n-1), each once, and distinct
 * seqs. Returns 1 when it does. */
static int
stream_exactly(redisContext *c, const char *stream, const char *tag, int n)
{
    redisReply *r = redisCommand(c, "XRANGE %s - +", stream);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return 0;
    }
    unsigned char *seen = calloc((size_t)n, 1);
    uint64_t *seqs = calloc(r->elements + 1, sizeof(*seqs));
    int ok = (int)r->elements == n;
    size_t tl = strlen(tag);
    for (size_t i = 0; i < r->elements && ok; i++) {
        redisReply *f = r->element[i]->element[1];
        const char *detail = NULL, *seq = NULL;
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            if (!strcmp(f->element[j]->str, "detail"))
                detail = f->element[j + 1]->str;
            if (!strcmp(f->element[j]->str, "seq"))
                seq = f->element[j + 1]->str;
        }
        const char *p = detail ? strstr(detail, "\"id\":\"") : NULL;
        if (!p || !seq || strncmp(p + 6, tag, tl) || p[6 + tl] != '-') {
            ok = 0;
            break;
        }
        int k = atoi(p + 7 + tl);
        if (k < 0 || k >= n || seen[k])
            ok = 0;
        else
            seen[k] = 1;
        seqs[i] = strtoull(seq, NULL, 10);
        for (size_t j = 0; j < i && ok; j++)
            if (seqs[j] >= seqs[i])     /* strictly increasing, hence distinct */
                ok = 0;
    }
    free(seen);
    free(seqs);
    freeReplyObject(r);
    return ok;
}

/* ---- suite ---- */

static int
suite_init(void)
{
    snprintf(base, sizeof(base), "/tmp/mg-test-redis-XXXXXX");
    if (!mkdtemp(base))
        return -1;
    char dir[128];
    subdir(dir, sizeof(dir), "main");
    snprintf(sock_main, sizeof(sock_main), "%s/redis.sock", dir);
    port_main = free_port();
    const char *extra[] = { "--unixsocket", sock_main, "--unixsocketperm", "700", NULL };
    pid_main = start_redis(port_main, dir, extra);
    return pid_main > 0 ? 0 : -1;
}

static int
suite_clean(void)
{
    stop_redis(pid_main, SIGKILL);
    pid_main = -1;
    if (base[0])
        nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void
test_crc_and_config(void)
{
    CU_ASSERT_EQUAL(spool_crc32c(0, "123456789", 9), 0xE3069283u);
    struct redis_out_cfg c;
    char url[128], err[256];
    base_cfg(&c, url, sizeof(url), port_main, "cfg");
    c.connect_at_open = 0;

    c.url = "rediss://127.0.0.1:6380/0";
    CU_ASSERT_PTR_NULL(redis_out_open(&c, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "TLS"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not supported"));

    c.url = "redis://user:Sup3rSecretPw@127.0.0.1:notaport/0";
    CU_ASSERT_PTR_NULL(redis_out_open(&c, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "port"));
    CU_ASSERT_PTR_NULL(strstr(err, "Sup3rSecretPw"));

    c.url = "http://127.0.0.1:6379";
    CU_ASSERT_PTR_NULL(redis_out_open(&c, err, sizeof(err)));
    c.url = "unix://relative.sock";
    CU_ASSERT_PTR_NULL(redis_out_open(&c, err, sizeof(err)));

    c.url = url;
    c.password_env = "MG_TEST_NO_SUCH_VARIABLE";
    CU_ASSERT_PTR_NULL(redis_out_open(&c, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "MG_TEST_NO_SUCH_VARIABLE"));
    c.password_env = NULL;
    c.password_file = "/nonexistent/mg-pw";
    CU_ASSERT_PTR_NULL(redis_out_open(&c, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/mg-pw"));
    c.password_file = NULL;
    c.fsync = "sometimes";
    CU_ASSERT_PTR_NULL(redis_out_open(&c, err, sizeof(err)));

    /* IPv6 literal and defaults parse. */
    c.fsync = NULL;
    c.url = "redis://[::1]:6399/3";
    struct redis_out *o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL(o);
    CU_ASSERT_EQUAL(redis_out_close(o, 0, err, sizeof(err), NULL), 0);
}

static void
test_fields_and_channel(void)
{
    redisContext *cli = cli_at(port_main), *sub = cli_at(port_main);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cli);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sub);
    freeReplyObject(redisCommand(cli, "FLUSHALL"));
    freeReplyObject(redisCommand(sub, "SUBSCRIBE mg:chan"));

    struct redis_out_cfg c;
    char url[128], err[256];
    base_cfg(&c, url, sizeof(url), port_main, "fields");
    c.stream = "mg:stream";
    c.prefix = "mg";
    c.channel = "mg:chan";
    c.stream_maxlen = 1000;
    struct redis_out *o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(redis_out_submit(o, "f-1", "Recon:EC2/Portscan", 5.0,
                    "2024-05-01T10:00:00.000Z", 1714557600, "i-01", 0, 1,
                    "{\"id\":\"f-1\",\"type\":\"Recon:EC2/Portscan\"}"), 0);
    CU_ASSERT_EQUAL(redis_out_submit(o, "f-2", "Trojan:EC2/DNSDataExfiltration", 8.5,
                    "2024-05-01T10:00:05.000Z", 1714557605, "", 1, 3,
                    "{\"id\":\"f-2\",\"archived\":true}"), 0);
    CU_ASSERT_EQUAL(redis_out_submit(o, "f-3", "Backdoor:EC2/C&CActivity.B!DNS", 8.0,
                    "2024-05-01T10:00:09.000Z", 1714557609, "i-03", 0, 2,
                    "{\"id\":\"f-3\"}"), 0);
    CU_ASSERT(drain(o, 5000));

    CU_ASSERT_EQUAL(int_cmd(cli, "XLEN %s", "mg:stream"), 3);
    redisReply *r = redisCommand(cli, "XRANGE mg:stream - + COUNT 1");
    CU_ASSERT_FATAL(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    redisReply *f = r->element[0]->element[1];
    const char *want[][2] = { { "detail-type", "GuardDuty Finding" },
                              { "source", "mirrorguard" },
                              { "time", "2024-05-01T10:00:00.000Z" },
                              { "detail", "{\"id\":\"f-1\",\"type\":\"Recon:EC2/Portscan\"}" },
                              { "sensor", "fields" } };
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
        int found = 0;
        for (size_t j = 0; j + 1 < f->elements; j += 2)
            if (!strcmp(f->element[j]->str, want[w][0]))
                found = !strcmp(f->element[j + 1]->str, want[w][1]);
        CU_ASSERT(found);
    }
    freeReplyObject(r);

    r = redisCommand(cli, "HMGET mg:finding:f-2 json type severity updatedAt instanceId archived count");
    CU_ASSERT_FATAL(r && r->type == REDIS_REPLY_ARRAY && r->elements == 7);
    CU_ASSERT_STRING_EQUAL(r->element[0]->str, "{\"id\":\"f-2\",\"archived\":true}");
    CU_ASSERT_STRING_EQUAL(r->element[1]->str, "Trojan:EC2/DNSDataExfiltration");
    CU_ASSERT_STRING_EQUAL(r->element[2]->str, "8.5");
    CU_ASSERT_STRING_EQUAL(r->element[3]->str, "2024-05-01T10:00:05.000Z");
    CU_ASSERT_STRING_EQUAL(r->element[4]->str, "");
    CU_ASSERT_STRING_EQUAL(r->element[5]->str, "1");
    CU_ASSERT_STRING_EQUAL(r->element[6]->str, "3");
    freeReplyObject(r);

    r = redisCommand(cli, "ZSCORE mg:by-updated f-3");
    CU_ASSERT(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "1714557609"));
    freeReplyObject(r);
    r = redisCommand(cli, "ZSCORE mg:by-severity f-2");
    CU_ASSERT(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "8.5"));
    freeReplyObject(r);
    CU_ASSERT_EQUAL(int_cmd(cli, "ZCARD %s", "mg:by-severity"), 3);

    /* The channel: f-1 and f-3, not the archived f-2. */
    redisReply *sr;
    const char *exp[] = { "{\"id\":\"f-1\",\"type\":\"Recon:EC2/Portscan\",\"severity\":5}",
                          "{\"id\":\"f-3\",\"type\":\"Backdoor:EC2/C&CActivity.B!DNS\",\"severity\":8}" };
    for (int i = 0; i < 2; i++) {
        sr = NULL;
        CU_ASSERT_EQUAL_FATAL(redisGetReply(sub, (void **)&sr), REDIS_OK);
        CU_ASSERT_FATAL(sr && sr->type == REDIS_REPLY_ARRAY && sr->elements == 3);
        CU_ASSERT_STRING_EQUAL(sr->element[1]->str, "mg:chan");
        CU_ASSERT_STRING_EQUAL(sr->element[2]->str, exp[i]);
        freeReplyObject(sr);
    }
    struct timeval tv = { 0, 300000 };
    redisSetTimeout(sub, tv);
    sr = NULL;
    CU_ASSERT_NOT_EQUAL(redisGetReply(sub, (void **)&sr), REDIS_OK);   /* nothing more */
    freeReplyObject(sr);

    /* Sending the same seqs again is harmless: the script skips them. */
    struct redis_out_stats st;
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.delivered, 3);
    CU_ASSERT_EQUAL(st.duplicates, 0);
    CU_ASSERT_EQUAL(st.lost, 0);
    CU_ASSERT_EQUAL(st.queue_depth, 0);
    CU_ASSERT_EQUAL(redis_out_close(o, 1000, err, sizeof(err), NULL), 0);
    redisFree(sub);
    redisFree(cli);
}

static void
test_pipeline_rate(void)
{
    redisContext *cli = cli_at(port_main);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cli);
    freeReplyObject(redisCommand(cli, "FLUSHALL"));
    freeReplyObject(redisCommand(cli, "SCRIPT FLUSH"));
    struct redis_out_cfg c;
    char url[128], err[256];
    base_cfg(&c, url, sizeof(url), port_main, "rate");
    c.queue_size = 20000;
    c.poll_budget_ms = 1000;
    struct redis_out *o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    freeReplyObject(redisCommand(cli, "CONFIG RESETSTAT"));
    /* Lose the script after connecting: the first call falls back to EVAL. */
    freeReplyObject(redisCommand(cli, "SCRIPT FLUSH"));
    uint64_t t0 = now_ms();
    submit_n(o, 0, 10000, "rate");
    CU_ASSERT(drain(o, 20000));
    uint64_t dt = now_ms() - t0;
    CU_ASSERT_EQUAL(int_cmd(cli, "XLEN %s", "mirrorguard:findings"), 10000);
    CU_ASSERT(stream_exactly(cli, "mirrorguard:findings", "rate", 10000));

    /* One script call per finding (plus the EVAL ones after NOSCRIPT)... */
    redisReply *r = redisCommand(cli, "INFO commandstats");
    CU_ASSERT_FATAL(r && r->type == REDIS_REPLY_STRING);
    const char *p = strstr(r->str, "cmdstat_evalsha:calls=");
    long evalsha = p ? atol(p + 22) : -1;
    p = strstr(r->str, "cmdstat_eval:calls=");
    long eval = p ? atol(p + 19) : 0;
    freeReplyObject(r);
    struct redis_out_stats st;
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.delivered, 10000);
    CU_ASSERT_EQUAL(st.lost, 0);
    /* Only the first batch was refused (NOSCRIPT) and sent again. */
    CU_ASSERT_EQUAL(evalsha + eval, 10000 + (long)st.retried);
    CU_ASSERT(eval >= 1 && eval <= 2);
    /* ...and far fewer round trips: 10,000 findings at 512 per pipeline. */
    printf("\n    redis: 10000 findings in %" PRIu64 " ms (%.0f/s), %ld EVALSHA + %ld EVAL, "
           "%" PRIu64 " retried after NOSCRIPT\n", dt, dt ? 10000000.0 / (double)dt : 0.0,
           evalsha, eval, st.retried);
    CU_ASSERT(dt < 10000);
    CU_ASSERT_EQUAL(redis_out_close(o, 1000, err, sizeof(err), NULL), 0);
    redisFree(cli);
}

/* SIGKILL the server in the middle of 5,000 findings, restart it a second
 * later from its append-only file: every finding is in the stream once. */
static void
test_kill_restart(void)
{
    char dir[128], spool[128], url[128], err[256];
    subdir(dir, sizeof(dir), "aof");
    subdir(spool, sizeof(spool), "spool-kill");
    int port = free_port();
    const char *aof[] = { "--appendonly", "yes", "--appendfsync", "always", NULL };
    pid_t pid = start_redis(port, dir, aof);
    CU_ASSERT_FATAL(pid > 0);

    struct redis_out_cfg c;
    base_cfg(&c, url, sizeof(url), port, "kill");
    c.spool_dir = spool;
    c.fsync = "batch";
    c.queue_size = 256;
    c.batch_size = 100;
    c.connect_timeout_ms = 200;
    c.command_timeout_ms = 1000;
    struct redis_out *o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    uint64_t killed_at = 0;
    int restarted = 0;
    for (int i = 0; i < 5000; i += 25) {
        submit_n(o, i, i + 25, "kill");
        redis_out_poll(o, now_ms());
        if (i == 2000) {
            stop_redis(pid, SIGKILL);
            killed_at = now_ms();
        }
        if (killed_at && !restarted && now_ms() - killed_at >= 1000) {
            pid = start_redis(port, dir, aof);
            CU_ASSERT_FATAL(pid > 0);
            restarted = 1;
        }
        usleep(500);
    }
    if (!restarted) {
        while (now_ms() - killed_at < 1000) {
            redis_out_poll(o, now_ms());
            usleep(5000);
        }
        pid = start_redis(port, dir, aof);
        CU_ASSERT_FATAL(pid > 0);
    }
    CU_ASSERT(drain(o, 15000));
    struct redis_out_stats st;
    redis_out_stats(o, &st);
    CU_ASSERT(st.reconnects >= 1);
    CU_ASSERT(st.spooled > 0);
    CU_ASSERT_EQUAL(st.lost, 0);
    CU_ASSERT_EQUAL(st.delivered + st.duplicates, 5000);
    CU_ASSERT_EQUAL(redis_out_close(o, 2000, err, sizeof(err), NULL), 0);

    redisContext *cli = cli_at(port);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cli);
    CU_ASSERT_EQUAL(int_cmd(cli, "XLEN %s", "mirrorguard:findings"), 5000);
    CU_ASSERT(stream_exactly(cli, "mirrorguard:findings", "kill", 5000));
    redisFree(cli);
    stop_redis(pid, SIGKILL);

    char path[160];
    snprintf(path, sizeof(path), "%s/spool.dat", spool);
    struct stat sb;
    CU_ASSERT(stat(path, &sb) == 0 && sb.st_size == 0);   /* truncated once delivered */
}

/* Redis down: findings go to the spool; close() keeps them; a new open()
 * (a sensor restart) delivers them once, then the newer ones. */
static void
test_restart_with_spool(void)
{
    char spool[128], url[128], err[256];
    subdir(spool, sizeof(spool), "spool-restart");
    redisContext *cli = cli_at(port_main);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cli);
    freeReplyObject(redisCommand(cli, "FLUSHALL"));

    struct redis_out_cfg c;
    base_cfg(&c, url, sizeof(url), free_port(), "restart");   /* nobody there */
    c.spool_dir = spool;
    c.fsync = "always";
    struct redis_out *o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    submit_n(o, 0, 300, "rs");
    redis_out_poll(o, now_ms());
    struct redis_out_stats st;
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.spooled, 300);
    CU_ASSERT_EQUAL(st.spool_records, 300);
    CU_ASSERT(st.spool_bytes > 300 * 20);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.last_error, "connect"));
    uint64_t seq1 = st.next_seq;
    CU_ASSERT_EQUAL(redis_out_close(o, 300, err, sizeof(err), NULL), 0);

    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", port_main);
    o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.spool_records, 300);
    CU_ASSERT(st.next_seq >= seq1);         /* seqs keep rising across restarts */
    submit_n(o, 300, 400, "rs");
    CU_ASSERT(drain(o, 5000));
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.delivered, 400);
    CU_ASSERT_EQUAL(st.spool_records, 0);
    CU_ASSERT_EQUAL(redis_out_close(o, 1000, err, sizeof(err), NULL), 0);
    CU_ASSERT(stream_exactly(cli, "mirrorguard:findings", "rs", 400));

    /* A third run replays nothing. */
    o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT(drain(o, 1000));
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.delivered + st.duplicates, 0);
    CU_ASSERT_EQUAL(redis_out_close(o, 100, err, sizeof(err), NULL), 0);
    CU_ASSERT_EQUAL(int_cmd(cli, "XLEN %s", "mirrorguard:findings"), 400);
    redisFree(cli);
}

/* A record damaged in the middle and a torn tail plus garbage: the good
 * records are delivered, the damage is reported with file and offset. */
static void
test_corrupt_spool(void)
{
    char spool[128], url[128], err[256], path[192];
    subdir(spool, sizeof(spool), "spool-corrupt");
    snprintf(path, sizeof(path), "%s/spool.dat", spool);
    redisContext *cli = cli_at(port_main);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cli);
    freeReplyObject(redisCommand(cli, "FLUSHALL"));

    struct redis_out_cfg c;
    struct cap logs = { .len = 0 };
    base_cfg(&c, url, sizeof(url), free_port(), "corrupt");
    c.spool_dir = spool;
    c.log = cap_log;
    c.log_arg = &logs;
    struct redis_out *o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    submit_n(o, 0, 20, "cs");
    CU_ASSERT_EQUAL(redis_out_close(o, 0, err, sizeof(err), NULL), 0);

    /* Find the record offsets, flip a payload byte of record 5, cut the last
     * record in half and append garbage. */
    int fd = open(path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    struct stat sb;
    fstat(fd, &sb);
    off_t offs[21], off = 0;
    int n = 0;
    while (off < sb.st_size && n < 21) {
        uint8_t h[SPOOL_HDR];
        CU_ASSERT_FATAL(pread(fd, h, SPOOL_HDR, off) == SPOOL_HDR);
        uint32_t len;
        memcpy(&len, h + 4, 4);
        offs[n++] = off;
        off += SPOOL_HDR + len;
    }
    CU_ASSERT_EQUAL_FATAL(n, 20);
    char b;
    CU_ASSERT_FATAL(pread(fd, &b, 1, offs[5] + SPOOL_HDR + 10) == 1);
    b ^= 0x55;
    CU_ASSERT_FATAL(pwrite(fd, &b, 1, offs[5] + SPOOL_HDR + 10) == 1);
    off_t cut = offs[19] + (sb.st_size - offs[19]) / 2;
    CU_ASSERT_FATAL(ftruncate(fd, cut) == 0);
    const char junk[] = "MGSP\x10\x00\x00\x00garbage garbage garbage";
    CU_ASSERT_FATAL(pwrite(fd, junk, sizeof(junk), cut) == (ssize_t)sizeof(junk));
    close(fd);

    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", port_main);
    o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT(drain(o, 5000));
    struct redis_out_stats st;
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.delivered, 18);
    CU_ASSERT(st.spool_skipped_bytes > 0);
    CU_ASSERT_EQUAL(redis_out_close(o, 1000, err, sizeof(err), NULL), 0);
    CU_ASSERT_EQUAL(int_cmd(cli, "XLEN %s", "mirrorguard:findings"), 18);
    CU_ASSERT_EQUAL(int_cmd(cli, "EXISTS %s", "mirrorguard:finding:cs-5"), 0);
    CU_ASSERT_EQUAL(int_cmd(cli, "EXISTS %s", "mirrorguard:finding:cs-19"), 0);
    CU_ASSERT_EQUAL(int_cmd(cli, "EXISTS %s", "mirrorguard:finding:cs-18"), 1);
    char where[256];
    snprintf(where, sizeof(where), "spool %s: corrupt record at offset %lld", path,
             (long long)offs[5]);
    CU_ASSERT_PTR_NOT_NULL(strstr(logs.buf, where));
    snprintf(where, sizeof(where), "spool %s: damaged tail (torn record or garbage) "
             "at offset %lld", path, (long long)offs[19]);
    CU_ASSERT_PTR_NOT_NULL(strstr(logs.buf, where));
    redisFree(cli);
}

/* An unusable spool: a directory that cannot be created, and a full disk
 * (spool.dat -> /dev/full). Findings wait in memory, the overflow is lost,
 * counted and reported with the path and the errno text. */
static void
test_unusable_spool(void)
{
    char url[128], err[512];
    struct redis_out_cfg c;
    struct cap logs = { .len = 0 };
    base_cfg(&c, url, sizeof(url), free_port(), "nospool");
    c.spool_dir = "/proc/mirrorguard-test/spool";
    c.queue_size = 10;
    c.log = cap_log;
    c.log_arg = &logs;
    struct redis_out *o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    struct redis_out_stats st;
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.spool_ok, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(logs.buf, "/proc/mirrorguard-test/spool"));
    CU_ASSERT_PTR_NOT_NULL(strstr(logs.buf, "No such file or directory"));
    int rc[15];
    for (int i = 0; i < 15; i++) {
        char id[16];
        snprintf(id, sizeof(id), "u-%d", i);
        rc[i] = redis_out_submit(o, id, "T", 1, "2024-01-01T00:00:00Z", 1, NULL, 0, 1, "{}");
    }
    CU_ASSERT_EQUAL(rc[9], 0);
    CU_ASSERT_EQUAL(rc[10], -1);
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.lost, 5);
    CU_ASSERT_EQUAL(st.queue_depth, 10);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.last_error, "LOST"));
    CU_ASSERT_PTR_NOT_NULL(strstr(logs.buf, "finding u-14 LOST"));
    struct redis_out_stats fin;
    CU_ASSERT_EQUAL(redis_out_close(o, 50, err, sizeof(err), &fin), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "15 findings lost"));
    CU_ASSERT_EQUAL(fin.lost, 15);          /* the 10 lost at close counted too */

    /* Disk full. */
    char spool[128], path[192];
    subdir(spool, sizeof(spool), "spool-full");
    snprintf(path, sizeof(path), "%s/spool.dat", spool);
    CU_ASSERT_FATAL(symlink("/dev/full", path) == 0);
    logs.len = 0;
    logs.buf[0] = '\0';
    c.spool_dir = spool;
    o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    for (int i = 0; i < 12; i++) {
        char id[16];
        snprintf(id, sizeof(id), "d-%d", i);
        rc[i] = redis_out_submit(o, id, "T", 1, "2024-01-01T00:00:00Z", 1, NULL, 0, 1, "{}");
    }
    CU_ASSERT_EQUAL(rc[9], 0);
    CU_ASSERT_EQUAL(rc[11], -1);
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.spool_ok, 1);
    CU_ASSERT(st.spool_errors > 0);
    CU_ASSERT_EQUAL(st.lost, 2);
    CU_ASSERT_EQUAL(st.queue_depth, 10);
    CU_ASSERT_PTR_NOT_NULL(strstr(logs.buf, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(logs.buf, "No space left on device"));
    CU_ASSERT_EQUAL(redis_out_close(o, 50, err, sizeof(err), NULL), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "12 findings lost"));
}

/* The server refuses deliveries. A finding's own hash of the wrong type
 * (someone else's data under our prefix): that finding is rejected -
 * counted, logged, kept in rejected.jsonl, and rejected again on a retry -
 * and the later ones are not held back; a key all findings share of the
 * wrong type, then out of memory: what waits goes to the spool while the
 * server refuses, and arrives exactly once when it takes it again. Nothing
 * is ever written twice. */
static void
test_server_errors(void)
{
    char spool[128], url[128], err[512], path[192];
    subdir(spool, sizeof(spool), "spool-errors");
    redisContext *cli = cli_at(port_main);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cli);
    freeReplyObject(redisCommand(cli, "FLUSHALL"));
    freeReplyObject(redisCommand(cli, "SET mirrorguard:finding:se-2 poison"));

    struct redis_out_cfg c;
    struct cap logs = { .len = 0 };
    base_cfg(&c, url, sizeof(url), port_main, "errors");
    c.fsync = "batch";      /* the default: rejected.jsonl is synced (tests/rejected_sync.sh) */
    c.spool_dir = spool;
    c.log = cap_log;
    c.log_arg = &logs;
    struct redis_out *o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    submit_n(o, 0, 5, "se");
    CU_ASSERT(drain(o, 3000));
    CU_ASSERT_EQUAL(int_cmd(cli, "XLEN %s", "mirrorguard:findings"), 4);
    CU_ASSERT_EQUAL(int_cmd(cli, "EXISTS %s", "mirrorguard:finding:se-4"), 1);
    struct redis_out_stats st;
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.delivered, 4);
    CU_ASSERT_EQUAL(st.rejected, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(logs.buf, "finding se-2 REJECTED"));
    CU_ASSERT_PTR_NOT_NULL(strstr(logs.buf, "mirrorguard:finding:se-2 is a string, not a hash"));
    snprintf(path, sizeof(path), "%s/rejected.jsonl", spool);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[512];
    int lines = 0, has = 0;
    while (fgets(line, sizeof(line), f)) {
        lines++;
        has |= strstr(line, "\"id\":\"se-2\"") != NULL;
    }
    fclose(f);
    CU_ASSERT_EQUAL(lines, 1);
    CU_ASSERT(has);
    /* Had the reply been lost, the retry must hear "rejected" again, not
     * "duplicate": run the script once more with that finding's seq. */
    redisReply *h = redisCommand(cli, "HGETALL mirrorguard:sensor-seq");
    char seq[32] = "";
    for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
        if (!strncmp(h->element[i]->str, "errors:rejected:", 16))
            snprintf(seq, sizeof(seq), "%s", h->element[i]->str + 16);
    freeReplyObject(h);
    CU_ASSERT_FATAL(seq[0] != '\0');
    const char *ev[] = { "EVAL", redis_out_lua, "5", "mirrorguard:sensor-seq",
                         "mirrorguard:findings", "mirrorguard:finding:se-2", "mirrorguard:by-updated",
                         "mirrorguard:by-severity", "errors", seq, "0", "0", "", "se-2", "T", "5",
                         "2024-05-01T00:00:02.000Z", "1714521602", "", "0", "1", "{}", "{}" };
    redisReply *again = redisCommandArgv(cli, (int)(sizeof(ev) / sizeof(*ev)), ev, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(again);
    CU_ASSERT(again->type == REDIS_REPLY_STRING && !strncmp(again->str, "rejected: ", 10));
    freeReplyObject(again);

    /* A key all findings share of the wrong type (here the stream): an
     * error, not a rejection; the findings wait on disk, new ones go
     * straight there, and all go once it is mended. */
    freeReplyObject(redisCommand(cli, "FLUSHALL"));
    freeReplyObject(redisCommand(cli, "SET mirrorguard:findings oops"));
    submit_n(o, 0, 3, "sq");
    CU_ASSERT(!drain(o, 600));              /* several retries */
    redis_out_stats(o, &st);
    CU_ASSERT(st.retried >= 3);
    CU_ASSERT_EQUAL(st.rejected, 1);        /* still only se-2 */
    CU_ASSERT_EQUAL(st.queue_depth, 0);     /* waiting on disk, not in memory */
    CU_ASSERT_EQUAL(st.spool_records, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(logs.buf, "mirrorguard:findings is a string, not a stream"));
    uint64_t queued = st.queued;
    submit_n(o, 3, 5, "sq");                /* while refused: to the spool at once */
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.queued, queued);
    CU_ASSERT_EQUAL(st.spool_records, 5);
    freeReplyObject(redisCommand(cli, "DEL mirrorguard:findings"));
    CU_ASSERT(drain(o, 5000));
    CU_ASSERT(stream_exactly(cli, "mirrorguard:findings", "sq", 5));

    /* Out of memory: refused per reply, kept on disk, delivered after. */
    freeReplyObject(redisCommand(cli, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(redisCommand(cli, "CONFIG SET maxmemory 1"));
    submit_n(o, 5, 9, "sq");
    CU_ASSERT(!drain(o, 300));
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.queue_depth, 0);
    CU_ASSERT_EQUAL(st.spool_records, 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.last_error, "OOM"));
    CU_ASSERT_EQUAL(int_cmd(cli, "XLEN %s", "mirrorguard:findings"), 5);
    freeReplyObject(redisCommand(cli, "CONFIG SET maxmemory 0"));
    CU_ASSERT(drain(o, 5000));
    CU_ASSERT(stream_exactly(cli, "mirrorguard:findings", "sq", 9));
    struct redis_out_stats fin;
    CU_ASSERT_EQUAL(redis_out_close(o, 1000, err, sizeof(err), &fin), 0);
    CU_ASSERT_EQUAL(fin.delivered, 13);
    CU_ASSERT_EQUAL(fin.rejected, 1);
    CU_ASSERT_EQUAL(fin.lost, 0);
    redisFree(cli);
}

static void
test_auth(void)
{
    const char *pw = "Adm1n-S3cret-xyz";
    char dir[128], url[160], err[512], pwfile[192];
    subdir(dir, sizeof(dir), "auth");
    int port = free_port();
    const char *extra[] = { "--requirepass", pw, NULL };
    pid_t pid = start_redis(port, dir, extra);
    CU_ASSERT_FATAL(pid > 0);
    redisContext *cli = cli_at(port);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cli);
    freeReplyObject(redisCommand(cli, "AUTH %s", pw));
    freeReplyObject(redisCommand(cli, "ACL SETUSER sensor on >Us3r-Pw-abc ~mirrorguard:* &* +@all"));

    snprintf(pwfile, sizeof(pwfile), "%s/pw", dir);
    FILE *f = fopen(pwfile, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "%s\n", pw);
    fclose(f);

    /* Right password from a file. */
    struct redis_out_cfg c;
    struct cap logs = { .len = 0 };
    base_cfg(&c, url, sizeof(url), port, "auth");
    c.password_file = pwfile;
    c.log = cap_log;
    c.log_arg = &logs;
    struct redis_out *o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    submit_n(o, 0, 5, "au");
    CU_ASSERT(drain(o, 3000));
    CU_ASSERT_EQUAL(redis_out_close(o, 1000, err, sizeof(err), NULL), 0);
    CU_ASSERT_EQUAL(int_cmd(cli, "XLEN %s", "mirrorguard:findings"), 5);

    /* Wrong password from the environment: clear error, no secret, spooled. */
    char spool[128];
    subdir(spool, sizeof(spool), "spool-auth");
    setenv("MG_TEST_REDIS_PW", "Wr0ng-Pa55word", 1);
    c.password_file = NULL;
    c.password_env = "MG_TEST_REDIS_PW";
    c.spool_dir = spool;
    o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    submit_n(o, 5, 8, "au");
    redis_out_poll(o, now_ms() + 1000);
    struct redis_out_stats st;
    redis_out_stats(o, &st);
    char expect[128];
    snprintf(expect, sizeof(expect), "redis 127.0.0.1:%d: AUTH failed: WRONGPASS", port);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.last_error, expect));
    CU_ASSERT_PTR_NULL(strstr(st.last_error, "Wr0ng-Pa55word"));
    CU_ASSERT_PTR_NULL(strstr(logs.buf, "Wr0ng-Pa55word"));
    CU_ASSERT_PTR_NOT_NULL(strstr(logs.buf, expect));
    CU_ASSERT(st.connect_failures >= 1);
    CU_ASSERT_EQUAL(st.connected, 0);
    CU_ASSERT_EQUAL(st.spooled, 3);
    CU_ASSERT_EQUAL(st.lost, 0);
    CU_ASSERT_EQUAL(redis_out_close(o, 100, err, sizeof(err), NULL), 0);
    CU_ASSERT_PTR_NULL(strstr(err, "Wr0ng-Pa55word"));
    unsetenv("MG_TEST_REDIS_PW");

    /* ACL user and password in the URL, database 2; the spool left by the
     * failed run is delivered too. */
    snprintf(url, sizeof(url), "redis://sensor:Us3r-Pw-abc@127.0.0.1:%d/2", port);
    c.password_env = NULL;
    o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    submit_n(o, 8, 10, "au");
    CU_ASSERT(drain(o, 3000));
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.delivered, 5);
    CU_ASSERT_EQUAL(redis_out_close(o, 1000, err, sizeof(err), NULL), 0);
    freeReplyObject(redisCommand(cli, "SELECT 2"));
    CU_ASSERT_EQUAL(int_cmd(cli, "XLEN %s", "mirrorguard:findings"), 5);

    /* A wrong ACL password: the message names the user, not the secret. */
    snprintf(url, sizeof(url), "redis://sensor:N0t-The-Pw@127.0.0.1:%d/2", port);
    o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    redis_out_stats(o, &st);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.last_error, "AUTH failed for user sensor: WRONGPASS"));
    CU_ASSERT_PTR_NULL(strstr(st.last_error, "N0t-The-Pw"));
    CU_ASSERT_PTR_NULL(strstr(logs.buf, "N0t-The-Pw"));
    CU_ASSERT_EQUAL(redis_out_close(o, 0, err, sizeof(err), NULL), 0);
    redisFree(cli);
    stop_redis(pid, SIGKILL);
}

static void
test_unix_socket(void)
{
    redisContext *cli = cli_at(port_main);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cli);
    freeReplyObject(redisCommand(cli, "FLUSHALL"));
    struct redis_out_cfg c;
    char url[256], err[256];
    base_cfg(&c, url, sizeof(url), port_main, "unix");
    snprintf(url, sizeof(url), "unix://%s?db=1", sock_main);
    struct redis_out *o = redis_out_open(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    submit_n(o, 0, 50, "ux");
    CU_ASSERT(drain(o, 3000));
    struct redis_out_stats st;
    redis_out_stats(o, &st);
    CU_ASSERT_EQUAL(st.delivered, 50);
    CU_ASSERT_EQUAL(redis_out_close(o, 1000, err, sizeof(err), NULL), 0);
    freeReplyObject(redisCommand(cli, "SELECT 1"));
    CU_ASSERT(stream_exactly(cli, "mirrorguard:findings", "ux", 50));
    redisFree(cli);
}

int
test_redis_register(void)
{
    CU_pSuite s = CU_add_suite("redis", suite_init, suite_clean);
    if (!s)
        return -1;
    if (!CU_add_test(s, "crc32c and configuration errors", test_crc_and_config) ||
        !CU_add_test(s, "stream, hash, indexes and channel", test_fields_and_channel) ||
        !CU_add_test(s, "10,000 findings pipelined", test_pipeline_rate) ||
        !CU_add_test(s, "SIGKILLed server: exactly once", test_kill_restart) ||
        !CU_add_test(s, "sensor restart with a spool", test_restart_with_spool) ||
        !CU_add_test(s, "corrupt spool", test_corrupt_spool) ||
        !CU_add_test(s, "unusable spool", test_unusable_spool) ||
        !CU_add_test(s, "server errors: rejected, or spooled meanwhile; nothing twice", test_server_errors) ||
        !CU_add_test(s, "AUTH password and ACL user", test_auth) ||
        !CU_add_test(s, "unix socket", test_unix_socket))
        return -1;
    return 0;
}
