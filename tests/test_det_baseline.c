/* tests/test_det_baseline.c - detect/det_baseline.c: unusual remote port
 * after learning (none while learning, High for 389), volume spike against
 * steady traffic, spambot (many hosts; new hosts after learning; mail server
 * exempt), state file round trip across a restart, corrupt state files
 * ignored, bounded tables. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "det.h"

int64_t det_baseline_stat(const void *state, const char *name);

#define S 1000000000ull
#define T0 (1714564800ull * S)
#define DAY (86400ull * S)

#define DH_OPS det_baseline_ops
#define DH_MAXGOT 64
#include "det_harness.h"

static char state_path[256];

/* One flow (its starting record) from src to dst:dport at t, bytes sent. */
static void flow(const char *src, const char *dst, uint8_t proto, uint16_t dport, uint64_t t,
                 uint64_t bytes)
{
    struct flow_rec f;
    memset(&f, 0, sizeof(f));
    inet_pton(AF_INET, src, f.src.b);
    inet_pton(AF_INET, dst, f.dst.b);
    f.family = 4;
    f.proto = proto;
    f.sport = (uint16_t)(40000 + (t / S) % 20000);
    f.dport = dport;
    f.start_ns = t;
    f.dir[0].pkts = 10;
    f.dir[0].bytes = bytes;
    f.dir[0].first_ns = t;
    f.dir[0].last_ns = t + S;
    f.dir[1].pkts = 8;
    f.dir[1].bytes = 4000;
    f.dir[1].first_ns = t + S / 50;
    f.dir[1].last_ns = t + S;
    f.reason = FLOW_END_IDLE;
    det_baseline_ops.on_flow(st, &f);
}

static unsigned count_type(const char *type)
{
    unsigned n = 0;
    for (unsigned i = 0; i < n_got && i < 64; i++)
        if (!strcmp(got[i].type, type))
            n++;
    return n;
}

/* A day of ordinary traffic: 443 and 80 to a few remotes, every 10 minutes. */
static void learn_day(const char *inst)
{
    for (uint64_t t = 0; t < DAY; t += 600 * S) {
        flow(inst, "203.0.113.10", 6, 443, T0 + t, 20000 + (t / S) % 5000);
        flow(inst, "198.51.100.20", 6, 80, T0 + t + 5 * S, 3000 + (t / S) % 700);
    }
}

static void test_port_unusual(void)
{
    CU_ASSERT_FATAL(start(NULL, 0) == 0);
    /* while learning: a new port is learned, not reported */
    flow("10.0.1.5", "203.0.113.10", 6, 443, T0, 20000);
    flow("10.0.1.5", "203.0.113.99", 6, 8443, T0 + 3600 * S, 2000);
    CU_ASSERT_EQUAL(n_got, 0);
    learn_day("10.0.1.5");
    CU_ASSERT_EQUAL(n_got, 0);
    uint64_t after = T0 + DAY + 60 * S;
    /* learned ports after learning: nothing */
    flow("10.0.1.5", "203.0.113.10", 6, 443, after, 20000);
    flow("10.0.1.5", "203.0.113.98", 6, 8443, after + S, 2000);
    CU_ASSERT_EQUAL(n_got, 0);
    /* a new port: one finding per (instance, port, remote) */
    flow("10.0.1.5", "192.0.2.77", 6, 6667, after + 2 * S, 500);
    CU_ASSERT_EQUAL_FATAL(n_got, 1);
    CU_ASSERT_STRING_EQUAL(got[0].type, "Behavior:EC2/NetworkPortUnusual");
    CU_ASSERT_EQUAL(got[0].severity, 5.0);
    CU_ASSERT_EQUAL(got[0].remote_port, 6667);
    CU_ASSERT_EQUAL(got[0].role, FC_ACTOR);
    CU_ASSERT_EQUAL(got[0].direction, FC_OUTBOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"learnedPorts\":3"));
    flow("10.0.1.5", "192.0.2.77", 6, 6667, after + 100 * S, 500);
    CU_ASSERT_EQUAL(n_got, 1);
    flow("10.0.1.5", "192.0.2.78", 6, 6667, after + 101 * S, 500);
    CU_ASSERT_EQUAL(n_got, 2);
    /* log4j LDAP callbacks: High */
    flow("10.0.1.5", "192.0.2.80", 6, 389, after + 200 * S, 300);
    flow("10.0.1.5", "192.0.2.81", 6, 1389, after + 201 * S, 300);
    CU_ASSERT_EQUAL_FATAL(n_got, 4);
    CU_ASSERT_EQUAL(got[2].severity, 8.0);
    CU_ASSERT_EQUAL(got[3].severity, 8.0);
    CU_ASSERT_EQUAL(got[3].remote_port, 1389);
    /* not counted: internal remotes, private remotes, inbound flows */
    flow("10.0.1.5", "10.0.2.9", 6, 5555, after + 300 * S, 300);
    flow("10.0.1.5", "192.168.1.1", 6, 5555, after + 301 * S, 300);
    flow("192.0.2.50", "10.0.1.5", 6, 5555, after + 302 * S, 300);
    CU_ASSERT_EQUAL(n_got, 4);
    /* another instance is still learning */
    flow("10.0.1.6", "192.0.2.77", 6, 6667, after + 400 * S, 500);
    CU_ASSERT_EQUAL(n_got, 4);
    /* learning counts observed time: two days of silence count as one hour */
    flow("10.0.1.6", "192.0.2.77", 6, 6668, after + 2 * DAY, 500);
    flow("10.0.1.6", "192.0.2.77", 6, 6669, after + 4 * DAY, 500);
    CU_ASSERT_EQUAL(n_got, 4);
    const char *sets[] = { "detect.baseline.learning_max_gap=86400" };
    stop();
    CU_ASSERT_FATAL(start(sets, 1) == 0);
    flow("10.0.1.6", "192.0.2.77", 6, 443, T0, 500);
    flow("10.0.1.6", "192.0.2.77", 6, 6669, T0 + 2 * DAY, 500);
    CU_ASSERT_EQUAL(n_got, 1);
    stop();
}

static void test_port_learning_zero_and_exempt(void)
{
    const char *sets[] = { "detect.baseline.learning_seconds=0" };
    CU_ASSERT_FATAL(start(sets, 1) == 0);
    flow("10.0.1.5", "203.0.113.10", 6, 443, T0, 2000);
    CU_ASSERT_EQUAL(count_type("Behavior:EC2/NetworkPortUnusual"), 1);
    stop();
    /* an instance that used many ports while learning is exempt */
    const char *sets2[] = { "detect.baseline.learning_seconds=3600", "detect.baseline.max_ports=8" };
    CU_ASSERT_FATAL(start(sets2, 2) == 0);
    for (unsigned p = 0; p < 40; p++)
        flow("10.0.1.5", "203.0.113.10", 6, (uint16_t)(2000 + p), T0 + p * S, 2000);
    flow("10.0.1.5", "203.0.113.10", 6, 9999, T0 + 7200 * S, 2000);
    CU_ASSERT_EQUAL(n_got, 0);
    const char *sets3[] = { "detect.baseline.enabled=false", "detect.baseline.learning_seconds=0" };
    stop();
    CU_ASSERT_FATAL(start(sets3, 2) == 0);
    flow("10.0.1.5", "203.0.113.10", 6, 443, T0, 2000);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
}

static void test_volume(void)
{
    const char *sets[] = { "detect.baseline.volume_min_bytes=1000000" };
    CU_ASSERT_FATAL(start(sets, 1) == 0);
    learn_day("10.0.1.5");
    uint64_t after = T0 + DAY + 60 * S;
    /* steady traffic after learning: nothing */
    for (unsigned i = 0; i < 50; i++)
        flow("10.0.1.5", "203.0.113.10", 6, 443, after + i * 60 * S, 20000 + i * 50);
    CU_ASSERT_EQUAL(n_got, 0);
    /* above mean + k sd but under volume_min_bytes: nothing */
    flow("10.0.1.5", "203.0.113.10", 6, 443, after + 4000 * S, 900000);
    CU_ASSERT_EQUAL(n_got, 0);
    /* a spike */
    flow("10.0.1.5", "203.0.113.10", 6, 443, after + 5000 * S, 500000000ull);
    CU_ASSERT_EQUAL_FATAL(n_got, 1);
    CU_ASSERT_STRING_EQUAL(got[0].type, "Behavior:EC2/TrafficVolumeUnusual");
    CU_ASSERT_EQUAL(got[0].severity, 5.0);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"bytes\":500000000"));
    /* repeated within report_interval: once */
    flow("10.0.1.5", "203.0.113.10", 6, 443, after + 5100 * S, 500000000ull);
    CU_ASSERT_EQUAL(n_got, 1);
    /* ... again after it */
    flow("10.0.1.5", "203.0.113.10", 6, 443, after + 9000 * S, 500000000ull);
    CU_ASSERT_EQUAL(n_got, 2);
    /* a big upload while learning is learned, not reported */
    flow("10.0.1.7", "203.0.113.10", 6, 443, after, 500000000ull);
    CU_ASSERT_EQUAL(n_got, 2);
    stop();
}

static void test_spambot(void)
{
    CU_ASSERT_FATAL(start(NULL, 0) == 0);
    /* one relay on 587 all day while learning: nothing */
    for (uint64_t t = 0; t < DAY; t += 900 * S)
        flow("10.0.1.5", "203.0.113.25", 6, 587, T0 + t, 5000);
    CU_ASSERT_EQUAL(count_type("Backdoor:EC2/Spambot"), 0);
    /* 25 distinct MX hosts in 5 minutes (still learning for 10.0.1.9) */
    char ip[32];
    for (unsigned i = 0; i < 25; i++) {
        snprintf(ip, sizeof(ip), "198.51.100.%u", 10 + i);
        flow("10.0.1.9", ip, 6, 25, T0 + i * 12 * S, 3000);
    }
    CU_ASSERT_EQUAL_FATAL(count_type("Backdoor:EC2/Spambot"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"distinctHosts\":20"));
    /* ... spread over two hours: not many in the window */
    for (unsigned i = 0; i < 25; i++) {
        snprintf(ip, sizeof(ip), "198.51.100.%u", 100 + i);
        flow("10.0.1.10", ip, 6, 25, T0 + i * 300 * S, 3000);
    }
    CU_ASSERT_EQUAL(count_type("Backdoor:EC2/Spambot"), 1);
    /* after learning, 10.0.1.5 sends to 5 new SMTP hosts */
    uint64_t after = T0 + DAY + 60 * S;
    flow("10.0.1.5", "203.0.113.25", 6, 587, after, 5000);
    for (unsigned i = 0; i < 4; i++) {
        snprintf(ip, sizeof(ip), "192.0.2.%u", 30 + i);
        flow("10.0.1.5", ip, 6, 25, after + (i + 1) * 30 * S, 3000);
    }
    CU_ASSERT_EQUAL(count_type("Backdoor:EC2/Spambot"), 1);
    flow("10.0.1.5", "192.0.2.40", 6, 25, after + 200 * S, 3000);
    CU_ASSERT_EQUAL(count_type("Backdoor:EC2/Spambot"), 2);
    stop();
}

static void test_state_roundtrip(void)
{
    char set[300];
    snprintf(set, sizeof(set), "detect.baseline.state_file=%s", state_path);
    const char *sets[] = { set };
    unlink(state_path);
    CU_ASSERT_FATAL(start(sets, 1) == 0);
    CU_ASSERT_EQUAL(det_baseline_stat(st, "load_errors"), 0);     /* missing: silent */
    learn_day("10.0.1.5");
    flow("10.0.1.5", "203.0.113.30", 6, 8883, T0 + 7200 * S, 900);
    CU_ASSERT(det_baseline_stat(st, "saved") >= 1);    /* every save_interval */
    stop();                                             /* fini writes */
    CU_ASSERT_EQUAL(access(state_path, R_OK), 0);
    /* restart: learned ports are known, a new one is reported */
    CU_ASSERT_FATAL(start(sets, 1) == 0);
    CU_ASSERT_EQUAL(det_baseline_stat(st, "loaded"), 1);
    CU_ASSERT_EQUAL(det_baseline_stat(st, "instances"), 1);
    uint64_t after = T0 + DAY + 3600 * S;
    flow("10.0.1.5", "203.0.113.31", 6, 8883, after, 900);
    flow("10.0.1.5", "203.0.113.10", 6, 443, after + S, 20000);
    CU_ASSERT_EQUAL(n_got, 0);
    flow("10.0.1.5", "203.0.113.31", 6, 4444, after + 2 * S, 900);
    CU_ASSERT_EQUAL(count_type("Behavior:EC2/NetworkPortUnusual"), 1);
    /* the volume baseline survived too */
    flow("10.0.1.5", "203.0.113.10", 6, 443, after + 3 * S, 500000000ull);
    CU_ASSERT_EQUAL(count_type("Behavior:EC2/TrafficVolumeUnusual"), 1);
    stop();
    /* without the state file the instance starts learning again */
    CU_ASSERT_FATAL(start(NULL, 0) == 0);
    flow("10.0.1.5", "203.0.113.31", 6, 4444, after, 900);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
    unlink(state_path);
}

/* Corrupt the saved file in place and check it is ignored whole. */
static void corrupt_and_check(long off, int truncate_to, const char *what)
{
    char set[300];
    snprintf(set, sizeof(set), "detect.baseline.state_file=%s", state_path);
    const char *sets[] = { set, "detect.baseline.learning_seconds=3600" };
    unlink(state_path);
    CU_ASSERT_FATAL(start(sets, 2) == 0);
    flow("10.0.1.5", "203.0.113.10", 6, 443, T0, 2000);
    stop();
    FILE *fp = fopen(state_path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    if (truncate_to >= 0) {
        CU_ASSERT_EQUAL(ftruncate(fileno(fp), truncate_to), 0);
    } else {
        fseek(fp, off, SEEK_SET);
        int c = fgetc(fp);
        fseek(fp, off, SEEK_SET);
        fputc(c ^ 0x5a, fp);
    }
    fclose(fp);
    CU_ASSERT_FATAL(start(sets, 2) == 0);
    if (det_baseline_stat(st, "load_errors") != 1)
        fprintf(stderr, "corrupt state not rejected: %s\n", what);
    CU_ASSERT_EQUAL(det_baseline_stat(st, "load_errors"), 1);
    CU_ASSERT_EQUAL(det_baseline_stat(st, "loaded"), 0);
    /* learning starts over: no finding for a port at once */
    flow("10.0.1.5", "203.0.113.10", 6, 5555, T0 + 7200 * S, 2000);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
}

static void test_state_corrupt(void)
{
    corrupt_and_check(0, -1, "magic");
    corrupt_and_check(4, -1, "version");
    corrupt_and_check(8, -1, "record size");
    corrupt_and_check(16, -1, "crc");
    corrupt_and_check(24 + 100, -1, "record byte");
    corrupt_and_check(24 + 40, -1, "first_ns");
    corrupt_and_check(0, 10, "short header");
    corrupt_and_check(0, 24 + 300, "short record");
    /* garbage file */
    FILE *fp = fopen(state_path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    for (int i = 0; i < 5000; i++)
        fputc((i * 131) & 0xff, fp);
    fclose(fp);
    char set[300];
    snprintf(set, sizeof(set), "detect.baseline.state_file=%s", state_path);
    const char *sets[] = { set };
    CU_ASSERT_FATAL(start(sets, 1) == 0);
    CU_ASSERT_EQUAL(det_baseline_stat(st, "load_errors"), 1);
    stop();
    unlink(state_path);
    /* an unwritable path: a warning, no crash */
    const char *bad[] = { "detect.baseline.state_file=/nonexistent-dir/x/state.bin" };
    CU_ASSERT_FATAL(start(bad, 1) == 0);
    flow("10.0.1.5", "203.0.113.10", 6, 443, T0, 2000);
    det_baseline_ops.fini(st);
    cfg_free(&cfg);
}

static void test_bounded(void)
{
    const char *sets[] = { "detect.baseline.max_instances=16", "detect.baseline.max_reported=16",
                           "detect.baseline.learning_seconds=0" };
    CU_ASSERT_FATAL(start(sets, 3) == 0);
    char ip[32], rip[32];
    for (unsigned i = 0; i < 200; i++) {
        snprintf(ip, sizeof(ip), "10.0.%u.%u", 1 + i / 200, 1 + i % 200);
        snprintf(rip, sizeof(rip), "203.0.113.%u", 1 + i % 250);
        flow(ip, rip, 17, (uint16_t)(1000 + i), T0 + i * S, 100);
    }
    CU_ASSERT_EQUAL(det_baseline_stat(st, "instances"), 16);
    CU_ASSERT_EQUAL(det_baseline_stat(st, "instances_evicted"), 184);
    CU_ASSERT(det_baseline_stat(st, "reported") <= 16);
    CU_ASSERT_EQUAL(det_baseline_stat(st, "flows"), 200);
    CU_ASSERT_EQUAL(det_baseline_stat(st, "nope"), -1);
    stop();
}

static void test_config(void)
{
    memset(&cfg, 0, sizeof(cfg));
    CU_ASSERT_EQUAL(cfg_load(&cfg, NULL, NULL, 0, err, sizeof(err)), 0);
    CU_ASSERT(cfg.detect.baseline.enabled);
    CU_ASSERT_EQUAL(cfg.detect.baseline.learning_seconds, 86400);
    CU_ASSERT_STRING_EQUAL(cfg.detect.baseline.state_file, "");
    CU_ASSERT_EQUAL(cfg.detect.baseline.n_smtp_ports, 3);
    CU_ASSERT_EQUAL(cfg.detect.baseline.spam_min_hosts, 20);
    cfg_free(&cfg);
    const char *bad[] = { "detect.baseline.spam_min_hosts=65" };
    memset(&cfg, 0, sizeof(cfg));
    CU_ASSERT_NOT_EQUAL(cfg_load(&cfg, NULL, bad, 1, err, sizeof(err)), 0);
    cfg_free(&cfg);
}

int test_det_baseline_register(void)
{
    snprintf(state_path, sizeof(state_path), "/tmp/mg-test-baseline-%d.bin", (int)getpid());
    CU_pSuite s = CU_add_suite("det_baseline", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "unusual port after learning, 389 High", test_port_unusual) ||
        !CU_add_test(s, "learning 0, many-port exemption, disabled", test_port_learning_zero_and_exempt) ||
        !CU_add_test(s, "volume spike vs steady traffic", test_volume) ||
        !CU_add_test(s, "spambot", test_spambot) ||
        !CU_add_test(s, "state file survives a restart", test_state_roundtrip) ||
        !CU_add_test(s, "corrupt state file ignored", test_state_corrupt) ||
        !CU_add_test(s, "bounded tables", test_bounded) ||
        !CU_add_test(s, "config", test_config))
        return -1;
    return 0;
}
