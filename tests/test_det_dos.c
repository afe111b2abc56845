/* tests/test_det_dos.c - detect/det_dos.c: the five outbound DoS kinds from
 * flow records (SYN flood as one record per SYN, UDP flood as active-timeout
 * records), and none for busy legitimate clients (a backup upload over TCP,
 * QUIC on UDP/443, a two-way GRE tunnel, DNS to the VPC resolver, traffic to
 * internal addresses); thresholds from the configuration; bounded table. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "det.h"

int64_t det_dos_stat(const void *state, const char *name);

#define S 1000000000ull
#define T0 (1714564800ull * S)

#define DH_OPS det_dos_ops
#define DH_MAXGOT 64
#include "det_harness.h"

/* A flow record: n0 packets src->dst over [t, t+dur], n1 back. */
static void rec(const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport,
                uint64_t t, uint64_t dur, uint32_t n0, uint32_t n1, uint8_t flags0)
{
    struct flow_rec f;
    memset(&f, 0, sizeof(f));
    inet_pton(AF_INET, src, f.src.b);
    inet_pton(AF_INET, dst, f.dst.b);
    f.family = 4;
    f.proto = proto;
    f.sport = sport;
    f.dport = dport;
    f.start_ns = t;
    f.dir[0].pkts = n0;
    f.dir[0].bytes = (uint64_t)n0 * 60;
    f.dir[0].first_ns = t;
    f.dir[0].last_ns = t + dur;
    f.dir[0].tcp_flags = flags0;
    if (n1) {
        f.dir[1].pkts = n1;
        f.dir[1].bytes = (uint64_t)n1 * 60;
        f.dir[1].first_ns = t + 1000;
        f.dir[1].last_ns = t + dur;
    }
    det_dos_ops.on_flow(st, &f);
}

static unsigned count(const char *type)
{
    unsigned n = 0;
    for (unsigned i = 0; i < n_got && i < 64; i++)
        if (!strcmp(got[i].type, type))
            n++;
    return n;
}

static void test_syn_flood(void)
{
    CU_ASSERT_FATAL(start(NULL, 0) == 0);
    /* 2000 SYNs/s for 3 s, random source ports: one record each; the target
     * answers half of them with SYN-ACK, our kernel resets (no ACK bit) */
    for (unsigned i = 0; i < 6000; i++)
        rec("10.0.1.10", "203.0.113.5", 6, (uint16_t)(1024 + i), 80, T0 + i * (S / 2000), 0, 1,
            i % 2, VPC_TCP_SYN | (i % 2 ? VPC_TCP_RST : 0));
    CU_ASSERT_EQUAL(count("Backdoor:EC2/DenialOfService.Tcp"), 1);
    CU_ASSERT_EQUAL(n_got, 1);
    CU_ASSERT_EQUAL(got[0].severity, 8.0);
    CU_ASSERT_EQUAL(got[0].role, FC_ACTOR);
    CU_ASSERT_EQUAL(got[0].direction, FC_OUTBOUND);
    CU_ASSERT_EQUAL(got[0].remote_port, 80);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"packetsPerSecond\":"));
    /* a busy client: 5000 completed connections/s to one server is no flood */
    n_got = 0;
    for (unsigned i = 0; i < 20000; i++)
        rec("10.0.1.11", "203.0.113.6", 6, (uint16_t)(1024 + i), 443, T0 + i * (S / 5000), S / 100,
            8, 8, VPC_TCP_SYN | VPC_TCP_ACK | VPC_TCP_FIN);
    /* a backup upload: 8 long flows of 60 s records at 20000 pkts/s each */
    for (unsigned r = 0; r < 5; r++)
        for (unsigned c = 0; c < 8; c++)
            rec("10.0.1.12", "52.216.0.10", 6, (uint16_t)(50000 + c), 443, T0 + r * 60 * S, 60 * S,
                1200000, 300000, (r ? 0 : VPC_TCP_SYN) | VPC_TCP_ACK);
    CU_ASSERT_EQUAL(n_got, 0);
    /* a fast SYN scan of 1000 ports in 1 s is a scan, not a flood */
    for (unsigned i = 0; i < 1000; i++)
        rec("10.0.1.13", "203.0.113.7", 6, 40000, (uint16_t)(1 + i), T0 + i * (S / 1000), 0, 1,
            i % 10 == 0, VPC_TCP_SYN | (i % 10 == 0 ? VPC_TCP_RST : 0));
    CU_ASSERT_EQUAL(n_got, 0);
    /* a SYN flood on random destination ports, 20000/s: a flood once it repeats */
    srand(5);
    for (unsigned i = 0; i < 40000; i++)
        rec("10.0.1.14", "203.0.113.8", 6, (uint16_t)(1024 + rand() % 60000),
            (uint16_t)(1 + rand() % 65535), T0 + i * (S / 20000), 0, 1, 0, VPC_TCP_SYN);
    CU_ASSERT_EQUAL(count("Backdoor:EC2/DenialOfService.Tcp"), 1);
    stop();
}

static void test_udp_kinds(void)
{
    CU_ASSERT_FATAL(start(NULL, 0) == 0);
    /* UDP flood on one 5-tuple: active-timeout records of 60 s at 20000 pps */
    for (unsigned r = 0; r < 3; r++)
        rec("10.0.1.20", "198.51.100.7", 17, 40000, 9999, T0 + r * 60 * S, 60 * S, 1200000, 0, 0);
    CU_ASSERT_EQUAL(count("Backdoor:EC2/DenialOfService.Udp"), 1);
    /* UDP to TCP ports, random source ports, 3000 pps */
    for (unsigned i = 0; i < 6000; i++)
        rec("10.0.1.21", "198.51.100.8", 17, (uint16_t)(1024 + i), i % 2 ? 80 : 22,
            T0 + i * (S / 3000), 0, 1, 0, 0);
    CU_ASSERT_EQUAL(count("Backdoor:EC2/DenialOfService.UdpOnTcpPorts"), 1);
    CU_ASSERT_EQUAL(count("Backdoor:EC2/DenialOfService.Udp"), 1);
    /* DNS queries to one public resolver at 1000/s, all answered */
    for (unsigned i = 0; i < 5000; i++)
        rec("10.0.1.22", "8.8.8.8", 17, (uint16_t)(1024 + i), 53, T0 + i * (S / 1000), S / 50, 1, 1, 0);
    CU_ASSERT_EQUAL(count("Backdoor:EC2/DenialOfService.Dns"), 1);
    /* GRE at 5000 pps one way */
    rec("10.0.1.23", "198.51.100.9", 47, 0, 0, T0, 10 * S, 50000, 0, 0);
    CU_ASSERT_EQUAL(count("Backdoor:EC2/DenialOfService.UnusualProtocol"), 1);
    unsigned before = n_got;
    /* repeats within report_interval: nothing new */
    rec("10.0.1.23", "198.51.100.9", 47, 0, 0, T0 + 10 * S, 10 * S, 50000, 0, 0);
    CU_ASSERT_EQUAL(n_got, before);
    /* ... and again after it */
    rec("10.0.1.23", "198.51.100.9", 47, 0, 0, T0 + 400 * S, 10 * S, 50000, 0, 0);
    CU_ASSERT_EQUAL(n_got, before + 1);

    /* benign: QUIC download (UDP/443, replies dominate), a QUIC upload with ACKs,
     * a two-way GRE tunnel, DNS to the VPC resolver, internal floods, a slow trickle */
    n_got = 0;
    rec("10.0.1.30", "142.250.1.1", 17, 50001, 443, T0, 60 * S, 120000, 480000, 0);
    rec("10.0.1.30", "142.250.1.2", 17, 50002, 443, T0, 60 * S, 300000, 150000, 0);
    rec("10.0.1.31", "198.51.100.10", 47, 0, 0, T0, 60 * S, 300000, 280000, 0);
    for (unsigned i = 0; i < 5000; i++)
        rec("10.0.1.32", "10.0.0.2", 17, (uint16_t)(1024 + i), 53, T0 + i * (S / 1000), 0, 1, 1, 0);
    for (unsigned i = 0; i < 5000; i++)
        rec("10.0.1.32", "169.254.169.253", 17, (uint16_t)(1024 + i), 53, T0 + i * (S / 1000), 0, 1, 1, 0);
    rec("10.0.1.33", "10.0.5.5", 17, 4000, 4000, T0, 60 * S, 3000000, 0, 0);
    rec("10.0.1.34", "198.51.100.11", 17, 4000, 9999, T0, 60 * S, 600, 0, 0);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
}

static void test_config(void)
{
    const char *sets[] = { "detect.dos.udp_tcp_ports=[443]", "detect.dos.udp_pps=100", "detect.dos.udp_tcp_ports_pps=100",
                           "detect.dos.min_packets=50" };
    CU_ASSERT_FATAL(start(sets, 4) == 0);
    rec("10.0.1.40", "198.51.100.12", 17, 50000, 443, T0, 10 * S, 2000, 0, 0);
    CU_ASSERT_EQUAL(count("Backdoor:EC2/DenialOfService.UdpOnTcpPorts"), 1);
    rec("10.0.1.40", "198.51.100.13", 17, 50000, 7000, T0, 10 * S, 2000, 0, 0);
    CU_ASSERT_EQUAL(count("Backdoor:EC2/DenialOfService.Udp"), 1);
    stop();
    const char *off[] = { "detect.dos.enabled=false" };
    CU_ASSERT_FATAL(start(off, 1) == 0);
    rec("10.0.1.23", "198.51.100.9", 47, 0, 0, T0, 10 * S, 50000, 0, 0);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
    const char *small[] = { "detect.dos.max_pairs=16" };
    CU_ASSERT_FATAL(start(small, 1) == 0);
    char ip[32];
    for (unsigned i = 0; i < 500; i++) {
        snprintf(ip, sizeof(ip), "203.0.%u.%u", i / 250, i % 250 + 1);
        rec("10.0.1.50", ip, 17, 1000, 7000, T0 + i * S, 0, 1, 0, 0);
    }
    CU_ASSERT_EQUAL(det_dos_stat(st, "pairs"), 16);
    CU_ASSERT_EQUAL(det_dos_stat(st, "pairs_evicted"), 500 - 16);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
}

int test_det_dos_register(void)
{
    CU_pSuite s = CU_add_suite("det_dos", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "SYN floods vs busy TCP clients, fast scans", test_syn_flood) ||
        !CU_add_test(s, "UDP, DNS, UDP on TCP ports, unusual protocol; benign", test_udp_kinds) ||
        !CU_add_test(s, "configuration, bounded table", test_config))
        return -1;
    return 0;
}
