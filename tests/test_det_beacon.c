/* tests/test_det_beacon.c - detect/det_beacon.c: the RITA-like score, a 60 s
 * +-20% beacon found within 30 minutes, and none for NTP, DNS to the VPC
 * resolver, internal monitoring, inbound flows, irregular cron jobs, back-to-
 * back sessions, active-timeout continuation records; configuration
 * switches; bounded table. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "det.h"

double det_beacon_score(const uint64_t *ts, const uint32_t *bytes, unsigned n,
                        unsigned min_connections, double *interval_s, double *jitter,
                        double *median_bytes);
int64_t det_beacon_stat(const void *state, const char *name);

#define S 1000000000ull
#define T0 (1714564800ull * S)

#define DH_OPS det_beacon_ops
#define DH_MAXGOT 64
#include "det_harness.h"

/* One connection: a flow record that starts the flow at t. */
static void conn(const char *src, const char *dst, uint8_t proto, uint16_t dport, uint64_t t,
                 uint32_t bytes)
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
    f.dir[0].pkts = 5;
    f.dir[0].bytes = bytes;
    f.dir[0].first_ns = t;
    f.dir[0].last_ns = t + S / 5;
    f.dir[1].pkts = 4;
    f.dir[1].bytes = 600;
    f.dir[1].first_ns = t + S / 50;
    f.dir[1].last_ns = t + S / 5;
    f.reason = FLOW_END_IDLE;
    det_beacon_ops.on_flow(st, &f);
}

static unsigned count_type(const char *remote)
{
    unsigned n = 0;
    struct mg_addr a;
    memset(&a, 0, sizeof(a));
    inet_pton(AF_INET, remote, a.b);
    for (unsigned i = 0; i < n_got && i < 64; i++)
        if (!memcmp(&got[i].remote, &a, sizeof(a)))
            n++;
    return n;
}

static void test_score(void)
{
    uint64_t ts[40];
    uint32_t by[40];
    double iv, jit, mb;
    /* perfectly regular: score 1 at twice min_connections */
    for (unsigned i = 0; i < 40; i++) {
        ts[i] = T0 + i * 60 * S;
        by[i] = 400;
    }
    double sc = det_beacon_score(ts, by, 40, 20, &iv, &jit, &mb);
    CU_ASSERT_DOUBLE_EQUAL(iv, 60.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(jit, 0.0, 1e-9);
    CU_ASSERT(sc > 0.99);
    /* order does not matter */
    uint64_t t2 = ts[3];
    ts[3] = ts[30];
    ts[30] = t2;
    CU_ASSERT_DOUBLE_EQUAL(det_beacon_score(ts, by, 40, 20, &iv, &jit, &mb), sc, 1e-9);
    /* bursts: many short gaps and a few long ones -> skewed, high MAD */
    srand(7);
    uint64_t t = T0;
    for (unsigned i = 0; i < 40; i++) {
        t += (i % 5 == 0) ? (uint64_t)(600 + rand() % 600) * S : (uint64_t)(rand() % 3 + 1) * S;
        ts[i] = t;
        by[i] = (uint32_t)(200 + rand() % 50000);
    }
    sc = det_beacon_score(ts, by, 40, 20, &iv, &jit, &mb);
    CU_ASSERT(sc < 0.7 || jit > 0.3);
    CU_ASSERT_DOUBLE_EQUAL(det_beacon_score(ts, by, 2, 20, &iv, &jit, &mb), 0.0, 1e-12);
}

static void test_beacon_found(void)
{
    CU_ASSERT_FATAL(start(NULL, 0) == 0);
    srand(1);
    uint64_t t = T0, first_at = 0;
    for (unsigned i = 0; i < 45; i++) {
        conn("10.0.1.50", "203.0.113.66", 6, 443, t, (uint32_t)(520 + rand() % 60));
        if (n_got && !first_at)
            first_at = t;
        t += (uint64_t)(48000 + rand() % 24001) * (S / 1000);    /* 60 s +-20% */
    }
    CU_ASSERT_FATAL(n_got >= 1);
    CU_ASSERT(first_at - T0 <= 30 * 60 * S);
    CU_ASSERT_STRING_EQUAL(got[0].type, "Backdoor:EC2/Beaconing");
    CU_ASSERT_EQUAL(got[0].severity, 5.0);
    CU_ASSERT_EQUAL(got[0].role, FC_ACTOR);
    CU_ASSERT_EQUAL(got[0].direction, FC_OUTBOUND);
    CU_ASSERT_EQUAL(got[0].remote_port, 443);
    CU_ASSERT_EQUAL(got[0].proto, 6);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"intervalSeconds\":"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"score\":"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"connections\":20"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"jitter\":"));
    /* 45 minutes: one report, the next only after report_interval (1 h) */
    CU_ASSERT_EQUAL(n_got, 1);
    CU_ASSERT_EQUAL(det_beacon_stat(st, "pairs"), 1);
    stop();
}

static void test_benign(void)
{
    CU_ASSERT_FATAL(start(NULL, 0) == 0);
    srand(2);
    for (unsigned i = 0; i < 60; i++) {
        uint64_t t = T0 + i * 64 * S;
        conn("10.0.1.50", "203.0.113.123", 17, 123, t, 76);        /* NTP, public server */
        conn("10.0.1.50", "169.254.169.123", 17, 123, t + S, 76);  /* Amazon Time Sync */
        conn("10.0.1.50", "10.0.0.2", 17, 53, t + 2 * S, 70);      /* VPC resolver */
        conn("10.0.1.50", "169.254.169.253", 6, 53, t + 3 * S, 70);
        conn("10.0.1.50", "10.0.9.9", 6, 9090, t + 4 * S, 900);    /* agent pushing inside */
        conn("10.0.2.7", "10.0.1.50", 6, 9100, i * 15 * S + T0, 300);  /* scrape, internal */
        conn("198.51.100.20", "10.0.1.50", 6, 22, t + 5 * S, 3000);  /* inbound, regular */
        conn("10.0.1.50", "203.0.113.80", 6, 443, t + 6 * S, 600);   /* a real beacon (control) */
    }
    /* the last line above IS a beacon (control): exactly that one is reported */
    CU_ASSERT(count_type("203.0.113.80") >= 1);
    CU_ASSERT_EQUAL(n_got, count_type("203.0.113.80"));
    n_got = 0;
    /* a cron job every 5-15 minutes (random) for 10 hours: 60 runs */
    uint64_t t = T0;
    for (unsigned i = 0; i < 60; i++) {
        conn("10.0.1.51", "203.0.113.90", 6, 443, t, 800);
        t += (uint64_t)(300 + rand() % 601) * S;
    }
    CU_ASSERT_EQUAL(n_got, 0);
    /* an HTTP client in bursts to one site */
    t = T0;
    for (unsigned i = 0; i < 60; i++) {
        conn("10.0.1.52", "203.0.113.91", 6, 443, t, (uint32_t)(500 + rand() % 30000));
        t += (i % 6 == 5) ? (uint64_t)(100 + rand() % 900) * S : (uint64_t)(rand() % 2000) * (S / 1000);
    }
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
}

/* An outbound brute force: sessions back to back at a steady pace (each
 * ~1.5 s, a new one every ~2.5 s) are regular, but no beacon (duty cycle). */
static void test_back_to_back(void)
{
    CU_ASSERT_FATAL(start(NULL, 0) == 0);
    srand(3);
    struct flow_rec f;
    uint64_t t = T0;
    for (unsigned i = 0; i < 60; i++) {
        memset(&f, 0, sizeof(f));
        inet_pton(AF_INET, "10.0.1.10", f.src.b);
        inet_pton(AF_INET, "198.51.100.60", f.dst.b);
        f.family = 4;
        f.proto = 6;
        f.sport = (uint16_t)(45000 + i);
        f.dport = 3389;
        f.start_ns = t;
        uint64_t dur = (uint64_t)(1300 + rand() % 400) * (S / 1000);
        f.dir[0].pkts = f.dir[1].pkts = 13;
        f.dir[0].bytes = 1850;
        f.dir[1].bytes = 2100;
        f.dir[0].first_ns = t;
        f.dir[1].first_ns = t + S / 100;
        f.dir[0].last_ns = f.dir[1].last_ns = t + dur;
        det_beacon_ops.on_flow(st, &f);
        t += dur + (uint64_t)(900 + rand() % 300) * (S / 1000);
    }
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
    /* the same with max_duty raised: reported */
    const char *sets[] = { "detect.beacon.max_duty=1" };
    CU_ASSERT_FATAL(start(sets, 1) == 0);
    t = T0;
    for (unsigned i = 0; i < 30; i++) {
        memset(&f, 0, sizeof(f));
        inet_pton(AF_INET, "10.0.1.10", f.src.b);
        inet_pton(AF_INET, "198.51.100.60", f.dst.b);
        f.family = 4;
        f.proto = 6;
        f.dport = 3389;
        f.start_ns = t;
        f.dir[0].pkts = 13;
        f.dir[0].bytes = 1850;
        f.dir[0].first_ns = t;
        f.dir[0].last_ns = t + 1500 * (S / 1000);
        det_beacon_ops.on_flow(st, &f);
        t += 2500 * (S / 1000);
    }
    CU_ASSERT_EQUAL(n_got, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"durationSeconds\":1.5"));
    stop();
}

static void test_records(void)
{
    CU_ASSERT_FATAL(start(NULL, 0) == 0);
    /* one long-lived flow cut by the active timeout: continuation records have
     * a later first_ns and are no new connection */
    struct flow_rec f;
    memset(&f, 0, sizeof(f));
    inet_pton(AF_INET, "10.0.1.60", f.src.b);
    inet_pton(AF_INET, "203.0.113.70", f.dst.b);
    f.family = 4;
    f.proto = 6;
    f.sport = 50000;
    f.dport = 8443;
    f.start_ns = T0;
    for (unsigned i = 0; i < 40; i++) {
        f.dir[0].pkts = 10;
        f.dir[0].bytes = 700;
        f.dir[0].first_ns = T0 + i * 60 * S + (i ? S / 10 : 0);
        f.dir[0].last_ns = T0 + (i + 1) * 60 * S;
        f.reason = FLOW_END_ACTIVE;
        det_beacon_ops.on_flow(st, &f);
        det_beacon_ops.on_flow(st, &f);     /* a repeat of the same record */
    }
    CU_ASSERT_EQUAL(det_beacon_stat(st, "connections"), 1);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
    /* skip_internal off: the internal agent is reported; skip_ports [] : NTP too */
    const char *sets[] = { "detect.beacon.skip_internal=false", "detect.beacon.skip_ports=[]",
                           "detect.beacon.min_connections=10" };
    CU_ASSERT_FATAL(start(sets, 3) == 0);
    for (unsigned i = 0; i < 12; i++) {
        conn("10.0.1.50", "10.0.9.9", 6, 9090, T0 + i * 30 * S, 900);
        conn("10.0.1.50", "203.0.113.123", 17, 123, T0 + i * 64 * S + S, 76);
    }
    CU_ASSERT_EQUAL(count_type("10.0.9.9"), 1);
    CU_ASSERT_EQUAL(count_type("203.0.113.123"), 1);
    stop();
    const char *off[] = { "detect.beacon.enabled=false" };
    CU_ASSERT_FATAL(start(off, 1) == 0);
    for (unsigned i = 0; i < 40; i++)
        conn("10.0.1.50", "203.0.113.66", 6, 443, T0 + i * 60 * S, 500);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
}

static void test_bounded(void)
{
    const char *sets[] = { "detect.beacon.max_pairs=16" };
    CU_ASSERT_FATAL(start(sets, 1) == 0);
    char ip[32];
    for (unsigned i = 0; i < 1000; i++) {
        snprintf(ip, sizeof(ip), "203.0.%u.%u", i / 250, i % 250 + 1);
        conn("10.0.1.50", ip, 6, 443, T0 + i * S, 500);
    }
    CU_ASSERT_EQUAL(det_beacon_stat(st, "pairs"), 16);
    CU_ASSERT_EQUAL(det_beacon_stat(st, "pairs_evicted"), 1000 - 16);
    /* a beacon among the churn still gets found (it stays recently used) */
    for (unsigned i = 0; i < 30; i++) {
        conn("10.0.1.50", "198.51.100.99", 6, 443, T0 + 2000 * S + i * 60 * S, 500);
        for (unsigned j = 0; j < 5; j++) {
            snprintf(ip, sizeof(ip), "192.0.2.%u", (i * 5 + j) % 250 + 1);
            conn("10.0.1.50", ip, 6, 443, T0 + 2000 * S + i * 60 * S + j * S, 500);
        }
    }
    CU_ASSERT_EQUAL(count_type("198.51.100.99"), 1);
    stop();
}

int test_det_beacon_register(void)
{
    CU_pSuite s = CU_add_suite("det_beacon", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "RITA-like score", test_score) ||
        !CU_add_test(s, "60 s +-20% beacon found within 30 min", test_beacon_found) ||
        !CU_add_test(s, "NTP, DNS, monitoring, inbound, cron, bursts: none", test_benign) ||
        !CU_add_test(s, "back-to-back sessions (brute force): none", test_back_to_back) ||
        !CU_add_test(s, "records, switches", test_records) ||
        !CU_add_test(s, "bounded table", test_bounded))
        return -1;
    return 0;
}
