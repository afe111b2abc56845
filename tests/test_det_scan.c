/* tests/test_det_scan.c - the reconnaissance detector (detect/det_scan.c),
 * fed flow records and connection events directly; candidates are collected
 * through env->emit. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "det.h"

int64_t det_scan_stat(const void *state, const char *name);
void det_scan_never_hold(void *state);

#define NS 1000000000ull
#define T0 (1700000000ull * NS)
#define MAXC 4096

static struct finding_cand cands[MAXC];
static unsigned n_cands;
static struct cfg cfg;
static void *st;

static void emit(void *arg, const struct finding_cand *fc)
{
    (void)arg;
    if (n_cands < MAXC)
        cands[n_cands] = *fc;
    n_cands++;
}

static const struct lists *no_lists(void *arg) { (void)arg; return NULL; }

static void setup(void)
{
    char err[256];
    cfg_defaults(&cfg);
    struct det_env env = { .cfg = &cfg, .lists = no_lists, .emit = emit };
    n_cands = 0;
    st = NULL;
    CU_ASSERT_EQUAL_FATAL(det_scan_ops.init(&st, &env, err, sizeof(err)), 0);
}

static void teardown(void)
{
    det_scan_ops.fini(st);
    cfg_free(&cfg);
}

static struct mg_addr v4(int a, int b, int c, int d)
{
    struct mg_addr x;
    memset(&x, 0, sizeof(x));
    x.b[0] = (uint8_t)a; x.b[1] = (uint8_t)b; x.b[2] = (uint8_t)c; x.b[3] = (uint8_t)d;
    return x;
}

static struct mg_addr pub(unsigned i)      /* distinct public addresses */
{
    return v4(100 + (int)(i >> 16) % 100, 20 + (int)((i >> 8) & 0xff) % 200, (int)(i & 0xff), 7);
}

static void conn(struct mg_addr s, struct mg_addr d, uint16_t sp, uint16_t dp, uint8_t proto,
                 uint8_t outcome, uint64_t ts)
{
    struct conn_event c;
    memset(&c, 0, sizeof(c));
    c.src = s; c.dst = d; c.sport = sp; c.dport = dp; c.proto = proto; c.family = 4;
    c.outcome = outcome; c.start_ns = ts; c.ts_ns = ts + 1000000; c.vni = 101;
    det_scan_ops.on_conn(st, &c);
}

/* A flow record: initiator pkts/bytes/flags, responder pkts/bytes/flags. */
static void flow(struct mg_addr s, struct mg_addr d, uint16_t sp, uint16_t dp, uint8_t proto,
                 uint8_t outcome, uint64_t ts, uint32_t p0, uint64_t b0, uint8_t f0,
                 uint32_t p1, uint64_t b1, uint8_t f1)
{
    struct flow_rec f;
    memset(&f, 0, sizeof(f));
    f.src = s; f.dst = d; f.sport = sp; f.dport = dp; f.proto = proto; f.family = 4;
    f.outcome = outcome; f.start_ns = ts; f.vni = 101;
    f.dir[0].pkts = p0; f.dir[0].bytes = b0; f.dir[0].tcp_flags = f0;
    f.dir[0].first_ns = ts; f.dir[0].last_ns = ts + 2000000; f.dir[0].vni = 101;
    if (p1) {
        f.dir[1].pkts = p1; f.dir[1].bytes = b1; f.dir[1].tcp_flags = f1;
        f.dir[1].first_ns = ts + 1000000; f.dir[1].last_ns = ts + 3000000; f.dir[1].vni = 101;
    }
    det_scan_ops.on_flow(st, &f);
}

/* An unanswered SYN (twice, as a retransmission) */
static void silent_syn(struct mg_addr s, struct mg_addr d, uint16_t dp, uint64_t ts)
{
    flow(s, d, 40000, dp, 6, CONN_NONE, ts, 2, 88, 0x02, 0, 0, 0);
}

/* A complete TCP connection with data both ways (SYN-ACK event, then the record). */
static void real_conn(struct mg_addr s, struct mg_addr d, uint16_t sp, uint16_t dp, uint64_t ts)
{
    conn(s, d, sp, dp, 6, CONN_SUCCESS, ts);
    flow(s, d, sp, dp, 6, CONN_SUCCESS, ts, 12, 2400, 0x1b, 14, 12000, 0x1b);
}

/* An answered SYN after which the initiator only resets (a SYN scan of an open port). */
static void open_probe(struct mg_addr s, struct mg_addr d, uint16_t dp, uint64_t ts)
{
    conn(s, d, 50000, dp, 6, CONN_SUCCESS, ts);
    flow(s, d, 50000, dp, 6, CONN_SUCCESS, ts, 2, 84, 0x06, 1, 44, 0x12);
}

static unsigned count_type(const char *type)
{
    unsigned n = 0;
    for (unsigned i = 0; i < n_cands && i < MAXC; i++)
        n += !strcmp(cands[i].type, type);
    return n;
}

static const struct finding_cand *first_of(const char *type)
{
    for (unsigned i = 0; i < n_cands && i < MAXC; i++)
        if (!strcmp(cands[i].type, type))
            return &cands[i];
    return NULL;
}

static int is_zero(const struct mg_addr *a)
{
    static const struct mg_addr z;
    return !memcmp(a, &z, sizeof(z));
}

/* Fast SYN scan to closed ports: reported at the 4th RST, once, and the
 * later flow records of the same attempts do not count again. */
static void test_fast_rst(void)
{
    setup();
    struct mg_addr me = v4(10, 0, 0, 5), tgt = v4(203, 0, 113, 9);
    for (unsigned p = 1; p <= 3; p++)
        conn(me, tgt, 40000, (uint16_t)p, 6, CONN_REJECTED, T0 + p * 1000000);
    CU_ASSERT_EQUAL(n_cands, 0);
    conn(me, tgt, 40000, 4, 6, CONN_REJECTED, T0 + 4 * 1000000);
    CU_ASSERT_EQUAL(n_cands, 1);
    const struct finding_cand *fc = first_of("Recon:EC2/Portscan");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fc);
    CU_ASSERT_DOUBLE_EQUAL(fc->severity, 5.0, 1e-9);
    CU_ASSERT_EQUAL(fc->role, FC_ACTOR);
    CU_ASSERT_EQUAL(fc->direction, FC_OUTBOUND);
    CU_ASSERT_EQUAL(fc->action, FC_NETWORK_CONNECTION);
    CU_ASSERT(!memcmp(&fc->remote, &tgt, sizeof(tgt)));
    CU_ASSERT(!memcmp(&fc->local, &me, sizeof(me)));
    CU_ASSERT_EQUAL(fc->remote_port, 4);
    CU_ASSERT_EQUAL(fc->proto, 6);
    CU_ASSERT_EQUAL(fc->count, 1);
    CU_ASSERT_EQUAL(fc->vni, 101);
    /* the flow records of the same four attempts */
    for (unsigned p = 1; p <= 4; p++)
        flow(me, tgt, 40000, (uint16_t)p, 6, CONN_REJECTED, T0 + p * 1000000, 1, 44, 0x02,
             1, 40, 0x14);
    CU_ASSERT_EQUAL(n_cands, 1);
    /* 996 more ports within a second: rate-limited to one per 100 probes */
    for (unsigned p = 5; p <= 1000; p++)
        conn(me, tgt, 40000, (uint16_t)p, 6, CONN_REJECTED, T0 + NS / 2 + p * 100000);
    CU_ASSERT(n_cands >= 2 && n_cands <= 11);
    CU_ASSERT_EQUAL(count_type("Impact:EC2/PortSweep"), 0);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/Portscan"), n_cands);
    teardown();
}

/* Scan of silent (filtered) ports: flow records with no answer. */
static void test_silent_ports(void)
{
    setup();
    struct mg_addr me = v4(10, 0, 0, 5), tgt = v4(203, 0, 113, 10);
    for (unsigned p = 1; p <= 3; p++)
        silent_syn(me, tgt, (uint16_t)(1000 + p), T0 + p * NS);
    CU_ASSERT_EQUAL(n_cands, 0);
    silent_syn(me, tgt, 1004, T0 + 4 * NS);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/Portscan"), 1);
    CU_ASSERT_EQUAL(det_scan_stat(st, "silent"), 4);
    /* a one-way mirror of a real connection (SYN then ACKs) is no failure */
    n_cands = 0;
    struct mg_addr t2 = v4(203, 0, 113, 11);
    for (unsigned p = 1; p <= 10; p++)
        flow(me, t2, 40000, (uint16_t)p, 6, CONN_NONE, T0 + p * NS, 10, 2000, 0x1a, 0, 0, 0);
    CU_ASSERT_EQUAL(n_cands, 0);
    teardown();
}

/* Slow scans, one probe every 10 s: closed ports (TRW), and open ports
 * that answer (TRW says benign; the window count catches it). */
static void test_slow_scan(void)
{
    setup();
    struct mg_addr me = v4(10, 0, 0, 5), tgt = v4(198, 51, 100, 20), t2 = v4(198, 51, 100, 21);
    unsigned at = 0;
    for (unsigned i = 1; i <= 100 && !at; i++) {
        silent_syn(me, tgt, (uint16_t)(2000 + i), T0 + i * 10 * NS);
        /* unrelated traffic in between */
        for (unsigned j = 0; j < 50; j++)
            real_conn(me, pub(i * 100 + j), 41000, 443, T0 + i * 10 * NS + j);
        if (count_type("Recon:EC2/Portscan"))
            at = i;
    }
    CU_ASSERT(at >= 1 && at <= 100);
    CU_ASSERT_EQUAL(at, 4);
    at = 0;
    n_cands = 0;
    for (unsigned i = 1; i <= 100 && !at; i++) {
        open_probe(me, t2, (uint16_t)(3000 + i), T0 + 2000 * NS + i * 10 * NS);
        if (count_type("Recon:EC2/Portscan"))
            at = i;
    }
    CU_ASSERT_EQUAL(at, cfg.detect.scan.portscan_ports);
    teardown();
}

/* A client whose first connections to a few hosts time out is no sweep. */
static void test_few_timeouts_no_sweep(void)
{
    setup();
    struct mg_addr me = v4(10, 0, 0, 8);
    for (unsigned i = 0; i < 6; i++)
        silent_syn(me, pub(100 + i), 443, T0 + i * NS);
    CU_ASSERT_EQUAL(count_type("Impact:EC2/PortSweep"), 0);
    teardown();
}

/* 50 public addresses on port 23, unanswered: PortSweep, one per instance. */
static void test_sweep(void)
{
    setup();
    struct mg_addr me = v4(10, 0, 0, 7);
    for (unsigned i = 0; i < 50; i++)
        silent_syn(me, pub(i), 23, T0 + i * NS / 10);
    CU_ASSERT(count_type("Impact:EC2/PortSweep") >= 1);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/Portscan"), 0);
    const struct finding_cand *fc = first_of("Impact:EC2/PortSweep");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fc);
    CU_ASSERT(is_zero(&fc->remote));
    CU_ASSERT_EQUAL(fc->remote_port, 23);
    CU_ASSERT_DOUBLE_EQUAL(fc->severity, 7.0, 1e-9);
    CU_ASSERT_EQUAL(fc->role, FC_ACTOR);
    CU_ASSERT_EQUAL(fc->direction, FC_OUTBOUND);
    /* TRW says "scanner" at the 4th host; a sweep also needs sweep_min_hosts */
    CU_ASSERT_STRING_EQUAL(fc->info, "\"targets\":10,\"port\":23");
    /* the last candidate counts more targets */
    const struct finding_cand *last = NULL;
    for (unsigned i = 0; i < n_cands; i++)
        if (!strcmp(cands[i].type, "Impact:EC2/PortSweep"))
            last = &cands[i];
    CU_ASSERT_PTR_NOT_NULL(strstr(last->info, "\"port\":23"));
    /* also when every host answers (open telnet everywhere, no payload) */
    teardown();
    setup();
    for (unsigned i = 0; i < 50; i++)
        open_probe(me, pub(i), 23, T0 + i * NS / 10);
    CU_ASSERT_EQUAL(count_type("Impact:EC2/PortSweep"), 1);
    fc = first_of("Impact:EC2/PortSweep");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fc);
    CU_ASSERT_STRING_EQUAL(fc->info, "\"targets\":25,\"port\":23");
    teardown();
}

static void test_icmp_sweep(void)
{
    setup();
    struct mg_addr me = v4(10, 0, 0, 8);
    for (unsigned i = 1; i <= 40; i++)
        flow(me, v4(10, 0, 1, (int)i), 8, 0, 1, CONN_NONE, T0 + i * NS / 100, 1, 84, 0, 0, 0, 0);
    CU_ASSERT(count_type("Recon:EC2/ICMPSweep") >= 1);
    const struct finding_cand *fc = first_of("Recon:EC2/ICMPSweep");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fc);
    CU_ASSERT(is_zero(&fc->remote));
    CU_ASSERT_EQUAL(fc->proto, 1);
    CU_ASSERT_DOUBLE_EQUAL(fc->severity, 5.0, 1e-9);
    CU_ASSERT_STRING_EQUAL(fc->info, "\"targets\":25");
    /* a monitor pinging 200 internal hosts that answer: nothing */
    n_cands = 0;
    struct mg_addr mon = v4(10, 0, 0, 9);
    for (unsigned r = 0; r < 3; r++)
        for (unsigned i = 1; i <= 200; i++) {
            uint64_t t = T0 + r * 60 * NS + i * NS / 100;
            conn(mon, v4(10, 0, 2, (int)i), 8, 0, 1, CONN_SUCCESS, t);
            flow(mon, v4(10, 0, 2, (int)i), 8, 0, 1, CONN_SUCCESS, t, 1, 84, 0, 1, 84, 0);
        }
    CU_ASSERT_EQUAL(n_cands, 0);
    teardown();
}

/* UDP scan: ICMP port unreachable rejections. */
static void test_udp_scan(void)
{
    setup();
    struct mg_addr me = v4(10, 0, 0, 5), tgt = v4(192, 0, 2, 50);
    for (unsigned p = 1; p <= 4; p++)
        conn(me, tgt, 53000, (uint16_t)(160 + p), 17, CONN_REJECTED, T0 + p * NS);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/Portscan"), 1);
    const struct finding_cand *fc = first_of("Recon:EC2/Portscan");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fc);
    CU_ASSERT_EQUAL(fc->proto, 17);
    CU_ASSERT_EQUAL(fc->remote_port, 164);
    teardown();
}

static void test_inbound_scan(void)
{
    setup();
    struct mg_addr scanner = v4(198, 51, 100, 7), inst = v4(10, 0, 0, 5);
    for (unsigned p = 1; p <= 3; p++)
        conn(scanner, inst, 60000, (uint16_t)p, 6, CONN_REJECTED, T0 + p * NS / 1000);
    CU_ASSERT_EQUAL(n_cands, 0);
    conn(scanner, inst, 60000, 4, 6, CONN_REJECTED, T0 + 4 * NS / 1000);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/InboundPortscan"), 1);
    const struct finding_cand *fc = first_of("Recon:EC2/InboundPortscan");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fc);
    CU_ASSERT_EQUAL(fc->role, FC_TARGET);
    CU_ASSERT_EQUAL(fc->direction, FC_INBOUND);
    CU_ASSERT(!memcmp(&fc->remote, &scanner, sizeof(scanner)));
    CU_ASSERT(!memcmp(&fc->local, &inst, sizeof(inst)));
    CU_ASSERT_EQUAL(fc->local_port, 4);
    CU_ASSERT_DOUBLE_EQUAL(fc->severity, 2.0, 1e-9);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/Portscan"), 0);
    /* horizontal: one port (22) of many instances, unanswered */
    n_cands = 0;
    struct mg_addr s2 = v4(198, 51, 100, 8);
    for (unsigned i = 1; i <= 6; i++)
        silent_syn(s2, v4(10, 0, 3, (int)i), 22, T0 + i * NS);
    CU_ASSERT(count_type("Recon:EC2/InboundPortscan") >= 1);
    teardown();
}

/* Port probes of ports that answered. */
static void test_port_probe(void)
{
    setup();
    struct mg_addr scanner = v4(198, 51, 100, 7), inst = v4(10, 0, 0, 5);
    /* closed ports: judged a scanner */
    for (unsigned p = 1; p <= 5; p++)
        conn(scanner, inst, 60000, (uint16_t)p, 6, CONN_REJECTED, T0 + p * NS / 1000);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/PortProbeUnprotectedPort"), 0);
    open_probe(scanner, inst, 22, T0 + NS);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/PortProbeUnprotectedPort"), 1);
    const struct finding_cand *fc = first_of("Recon:EC2/PortProbeUnprotectedPort");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fc);
    CU_ASSERT_DOUBLE_EQUAL(fc->severity, 2.0, 1e-9);
    CU_ASSERT_EQUAL(fc->action, FC_PORT_PROBE);
    CU_ASSERT_EQUAL(fc->role, FC_TARGET);
    CU_ASSERT_EQUAL(fc->direction, FC_INBOUND);
    CU_ASSERT(is_zero(&fc->remote));
    CU_ASSERT(!memcmp(&fc->local, &inst, sizeof(inst)));
    CU_ASSERT_EQUAL(fc->n_probes, 1);
    CU_ASSERT_EQUAL(fc->probes[0].local_port, 22);
    CU_ASSERT(!memcmp(&fc->probes[0].remote, &scanner, sizeof(scanner)));
    /* a data-store port, after the interval: High 8.0, most recent first */
    open_probe(scanner, inst, 6379, T0 + 70 * NS);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/PortProbeUnprotectedPort"), 2);
    for (unsigned i = 0; i < n_cands; i++)
        if (!strcmp(cands[i].type, "Recon:EC2/PortProbeUnprotectedPort"))
            fc = &cands[i];
    CU_ASSERT_STRING_EQUAL(fc->type, "Recon:EC2/PortProbeUnprotectedPort");
    CU_ASSERT_DOUBLE_EQUAL(fc->severity, 8.0, 1e-9);
    CU_ASSERT_EQUAL(fc->n_probes, 2);
    CU_ASSERT_EQUAL(fc->probes[0].local_port, 6379);
    CU_ASSERT_EQUAL(fc->probes[1].local_port, 22);
    /* EMR port */
    open_probe(scanner, inst, 8088, T0 + 71 * NS);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/PortProbeEMRUnprotectedPort"), 1);
    fc = first_of("Recon:EC2/PortProbeEMRUnprotectedPort");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fc);
    CU_ASSERT_DOUBLE_EQUAL(fc->severity, 7.0, 1e-9);
    CU_ASSERT_EQUAL(fc->probes[0].local_port, 8088);

    /* a remote that only touches open ports, without payload: at the 3rd port */
    n_cands = 0;
    struct mg_addr r2 = v4(198, 51, 100, 9), i2 = v4(10, 0, 0, 6);
    open_probe(r2, i2, 80, T0 + 100 * NS);
    open_probe(r2, i2, 443, T0 + 101 * NS);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/PortProbeUnprotectedPort"), 0);
    open_probe(r2, i2, 8080, T0 + 102 * NS);
    CU_ASSERT_EQUAL(count_type("Recon:EC2/PortProbeUnprotectedPort"), 1);
    fc = first_of("Recon:EC2/PortProbeUnprotectedPort");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fc);
    CU_ASSERT_EQUAL(fc->n_probes, 3);
    CU_ASSERT_DOUBLE_EQUAL(fc->severity, 2.0, 1e-9);
    /* one answered probe of a data-store port by an unjudged remote: nothing */
    n_cands = 0;
    open_probe(v4(198, 51, 100, 10), v4(10, 0, 0, 11), 3306, T0 + 200 * NS);
    CU_ASSERT_EQUAL(n_cands, 0);
    teardown();
}

/* A busy HTTPS server: 5,000 public clients who send data. */
static void test_busy_server(void)
{
    setup();
    struct mg_addr srv = v4(10, 0, 0, 10);
    for (unsigned r = 0; r < 2; r++)
        for (unsigned i = 0; i < 5000; i++)
            real_conn(pub(i), srv, (uint16_t)(30000 + r), 443, T0 + r * 300 * NS + i * NS / 100);
    /* and a few clients that preconnect without sending anything */
    for (unsigned i = 0; i < 200; i++)
        open_probe(pub(i), srv, 443, T0 + 700 * NS + i * NS);
    CU_ASSERT_EQUAL(n_cands, 0);
    teardown();
}

/* A monitoring host polls 200 internal hosts on one port, successfully. */
static void test_monitor(void)
{
    setup();
    struct mg_addr mon = v4(10, 0, 0, 2);
    for (unsigned r = 0; r < 5; r++)
        for (unsigned i = 1; i <= 200; i++)
            real_conn(mon, v4(10, 1, (int)(i / 250), (int)(i % 250) + 1), (uint16_t)(40000 + i),
                      9100, T0 + r * 60 * NS + i * NS / 100);
    CU_ASSERT_EQUAL(n_cands, 0);
    teardown();
}

/* A client with a few failures among many successes. */
static void test_client_failures(void)
{
    setup();
    struct mg_addr me = v4(10, 0, 0, 3);
    for (unsigned i = 0; i < 300; i++) {
        uint64_t t = T0 + i * NS;
        if (i % 20 == 7)
            silent_syn(me, pub(i), 443, t);
        else if (i % 20 == 13)
            conn(me, pub(i), 40000, 443, 6, CONN_REJECTED, t);
        else
            real_conn(me, pub(i), (uint16_t)(40000 + i), 443, t);
    }
    /* and some DNS with a dead resolver among live ones */
    for (unsigned i = 0; i < 3; i++)
        flow(me, v4(8, 8, 4, (int)i), 5353, 53, 17, CONN_NONE, T0 + 400 * NS, 1, 60, 0, 0, 0, 0);
    CU_ASSERT_EQUAL(n_cands, 0);
    for (unsigned i = 0; i < n_cands && i < 5; i++)
        printf(" [%s %s] ", cands[i].type, cands[i].info);
    teardown();
}

/* A million spoofed sources: the tables stay at their capacity. */
static void test_memory_bound(void)
{
    char err[256];
    cfg_defaults(&cfg);
    cfg.detect.scan.max_sources = 4096;
    cfg.detect.scan.max_pairs = 4096;
    cfg.detect.scan.max_fans = 4096;
    struct det_env env = { .cfg = &cfg, .lists = no_lists, .emit = emit };
    n_cands = 0;
    CU_ASSERT_EQUAL_FATAL(det_scan_ops.init(&st, &env, err, sizeof(err)), 0);
    struct mg_addr inst = v4(10, 0, 0, 5), scanner = v4(198, 51, 100, 77);
    for (unsigned i = 0; i < 1000000; i++) {
        silent_syn(pub(i * 7919u), inst, 80, T0 + (uint64_t)i * 1000);
        if (i % 1000 == 0)          /* a slow scanner among them */
            silent_syn(scanner, inst, (uint16_t)(1 + i / 1000), T0 + (uint64_t)i * 1000);
    }
    CU_ASSERT(det_scan_stat(st, "sources") <= 4096);
    CU_ASSERT(det_scan_stat(st, "pairs") <= 4096);
    CU_ASSERT(det_scan_stat(st, "fans") <= 4096);
    /* each spoofed source's one attempt waits in its source entry: the
     * flood churns that table only, the scanner's pair and fans stay */
    CU_ASSERT(det_scan_stat(st, "sources_evicted") >= 990000);
    CU_ASSERT(det_scan_stat(st, "held") >= 990000);
    CU_ASSERT(det_scan_stat(st, "pairs") <= 1000);  /* pub() repeats a few hundred */
    CU_ASSERT_EQUAL(det_scan_stat(st, "pairs_evicted"), 0);
    CU_ASSERT(det_scan_stat(st, "fans") <= 1000 + 1000);
    CU_ASSERT_EQUAL(det_scan_stat(st, "bogus"), -1);
    /* no spoofed source is reported (one attempt each) */
    unsigned inb = count_type("Recon:EC2/InboundPortscan");
    unsigned spoof = 0;
    for (unsigned i = 0; i < n_cands && i < MAXC; i++)
        spoof += memcmp(&cands[i].remote, &scanner, sizeof(scanner)) != 0;
    CU_ASSERT_EQUAL(spoof, 0);
    CU_ASSERT(inb >= 1);            /* its entries were not lost */
    teardown();
}

/* One run of a random mix of inbound sources (most with one attempt, some
 * with a few, a few scanning): the candidates, in order. */
static unsigned rng_state;
static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) & 0xffffff;
}

static unsigned mixed_run(int hold, int eager, struct finding_cand *out, unsigned max)
{
    char err[256];
    cfg_defaults(&cfg);
    if (eager) {            /* counts of 2 decide, windows of 10 s: order shows */
        cfg.detect.scan.inbound_ports = 2;
        cfg.detect.scan.portscan_ports = 2;
        cfg.detect.scan.window = 10;
        cfg.detect.scan.report_interval = 1;
    }
    struct det_env env = { .cfg = &cfg, .lists = no_lists, .emit = emit };
    n_cands = 0;
    st = NULL;
    CU_ASSERT_EQUAL_FATAL(det_scan_ops.init(&st, &env, err, sizeof(err)), 0);
    if (!hold)
        det_scan_never_hold(st);
    rng_state = 4242;
    uint64_t ts = T0;
    for (unsigned i = 0; i < 20000; i++) {
        ts += (uint64_t)(rnd() % 2000) * 1000000;          /* up to 2 s apart */
        unsigned r = rnd() % 100;
        unsigned src = r < 60 ? 1000 + i                    /* one attempt, never again */
                     : r < 90 ? rnd() % 400                  /* a few hundred regulars */
                     : 900 + rnd() % 6;                      /* six busy scanners */
        struct mg_addr s = pub(src * 2654435761u), d = v4(10, 0, 0, (int)(1 + rnd() % 4));
        uint16_t dp = (uint16_t)(src >= 900 && src < 906 ? 1 + rnd() % 2000
                                 : (uint16_t[]){ 22, 80, 443, 3306, 6379, 8080 }[rnd() % 6]);
        switch (rnd() % 5) {
        case 0: case 1: silent_syn(s, d, dp, ts); break;
        case 2: real_conn(s, d, (uint16_t)(30000 + rnd() % 30000), dp, ts); break;
        case 3: open_probe(s, d, dp, ts); break;
        default: conn(s, d, 40001, dp, 6, CONN_REJECTED, ts); break;
        }
    }
    unsigned n = n_cands < max ? n_cands : max;
    memcpy(out, cands, n * sizeof(*out));
    CU_ASSERT_EQUAL(det_scan_stat(st, "sources_evicted"), 0);
    CU_ASSERT_EQUAL(det_scan_stat(st, "pairs_evicted"), 0);
    int64_t held = det_scan_stat(st, "held");
    if (hold) {
        CU_ASSERT(held > 10000);
    } else {
        CU_ASSERT_EQUAL(held, 0);
    }
    unsigned total = n_cands;
    teardown();
    return total;
}

/* Holding a source's first attempt until its second changes no candidate:
 * the same candidates, in the same order, with and without it. */
static void test_hold_first_same(void)
{
    static struct finding_cand a[MAXC], b[MAXC];
    for (int eager = 0; eager < 2; eager++) {
        unsigned na = mixed_run(1, eager, a, MAXC), nb = mixed_run(0, eager, b, MAXC);
        CU_ASSERT_EQUAL(na, nb);
        CU_ASSERT(na > 20);
        CU_ASSERT(na <= MAXC);
        unsigned same = 0;
        for (unsigned i = 0; i < na && i < nb && i < MAXC; i++)
            same += !memcmp(&a[i], &b[i], sizeof(a[i]));
        CU_ASSERT_EQUAL(same, na);
    }
}

static void test_disabled(void)
{
    char err[256];
    cfg_defaults(&cfg);
    cfg.detect.scan.enabled = false;
    struct det_env env = { .cfg = &cfg, .lists = no_lists, .emit = emit };
    n_cands = 0;
    CU_ASSERT_EQUAL_FATAL(det_scan_ops.init(&st, &env, err, sizeof(err)), 0);
    for (unsigned p = 1; p <= 10; p++)
        conn(v4(10, 0, 0, 5), v4(203, 0, 113, 9), 1, (uint16_t)p, 6, CONN_REJECTED, T0 + p);
    CU_ASSERT_EQUAL(n_cands, 0);
    teardown();
}

int test_det_scan_register(void)
{
    CU_pSuite s = CU_add_suite("det_scan", NULL, NULL);
    if (!s ||
        !CU_add_test(s, "fast SYN scan, closed ports (RST)", test_fast_rst) ||
        !CU_add_test(s, "a few timeouts are no sweep", test_few_timeouts_no_sweep) ||
        !CU_add_test(s, "scan of silent ports", test_silent_ports) ||
        !CU_add_test(s, "slow scans (1 probe / 10 s)", test_slow_scan) ||
        !CU_add_test(s, "horizontal sweep -> PortSweep", test_sweep) ||
        !CU_add_test(s, "ICMP sweep", test_icmp_sweep) ||
        !CU_add_test(s, "UDP scan (ICMP unreachable)", test_udp_scan) ||
        !CU_add_test(s, "inbound scan", test_inbound_scan) ||
        !CU_add_test(s, "port probes of answered ports", test_port_probe) ||
        !CU_add_test(s, "benign: busy HTTPS server", test_busy_server) ||
        !CU_add_test(s, "benign: monitoring host", test_monitor) ||
        !CU_add_test(s, "benign: client with a few failures", test_client_failures) ||
        !CU_add_test(s, "memory bound: 1,000,000 spoofed sources", test_memory_bound) ||
        !CU_add_test(s, "first attempts held: the same candidates as without", test_hold_first_same) ||
        !CU_add_test(s, "disabled", test_disabled))
        return -1;
    return 0;
}
