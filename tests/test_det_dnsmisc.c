/* tests/test_det_dnsmisc.c - detect/det_dnsmisc.c: metadata DNS rebinding
 * (A and AAAA, the service's own names excluded) and unusual resolvers:
 * learning from the first DNS, the VPC resolver never unusual, a public
 * resolver after learning (DNS and DoT), repeats rate-limited, instances
 * that are resolvers themselves ignored, bounded instance table. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "det.h"

uint64_t det_dnsmisc_counter(const void *state, const char *name);

#define T0 1700000000000000000ull
#define S  1000000000ull
#define MAXGOT 256

#define DH_OPS det_dnsmisc_ops
#define DH_MAXGOT MAXGOT
#include "det_harness.h"

static void addr(struct mg_addr *a, const char *s, int fam)
{
    memset(a, 0, sizeof(*a));
    inet_pton(fam == 6 ? AF_INET6 : AF_INET, s, a->b);
}

static void dns(uint64_t ts, const char *client, const char *server, const char *qname,
                const char *answer, uint16_t atype, int rd)
{
    static struct dns_rec d;
    memset(&d, 0, sizeof(d));
    int fam = strchr(client, ':') ? 6 : 4;
    addr(&d.client, client, fam);
    addr(&d.server, server, fam);
    d.family = (uint8_t)fam;
    d.transport = 17;
    d.sport = 53;
    d.cport = 40000;
    d.has_query = 1;
    d.flags = rd ? DNS_F_RD : 0;
    d.query_ns = ts;
    snprintf(d.qname, sizeof(d.qname), "%s", qname);
    if (answer) {
        d.has_response = 1;
        d.response_ns = ts + 1000;
        d.n_answers = 1;
        d.answers[0].type = atype;
        snprintf(d.answers[0].data, sizeof(d.answers[0].data), "%s", answer);
    }
    det_dnsmisc_ops.on_dns(st, &d);
}

static void dot(uint64_t ts, const char *client, const char *server)
{
    struct flow_rec f;
    memset(&f, 0, sizeof(f));
    addr(&f.src, client, 4);
    addr(&f.dst, server, 4);
    f.family = 4;
    f.proto = 6;
    f.sport = 41000;
    f.dport = 853;
    f.start_ns = f.dir[0].first_ns = f.dir[0].last_ns = ts;
    f.dir[0].pkts = 5;
    det_dnsmisc_ops.on_flow(st, &f);
}

static void test_rebind(void)
{
    CU_ASSERT_FATAL(start(NULL, 0) == 0);
    dns(T0, "10.0.0.5", "10.0.0.2", "rebind.attacker.example", "169.254.169.254", 1, 1);
    CU_ASSERT_EQUAL(n_got, 1);
    CU_ASSERT_STRING_EQUAL(got[0].type, "UnauthorizedAccess:EC2/MetadataDNSRebind");
    CU_ASSERT_EQUAL(got[0].severity, 8.0);
    CU_ASSERT_STRING_EQUAL(got[0].domain, "rebind.attacker.example");
    CU_ASSERT_EQUAL(got[0].action, FC_DNS_REQUEST);
    n_got = 0;
    dns(T0, "10.0.0.5", "10.0.0.2", "v6.attacker.example", "fd00:ec2::254", 28, 1);
    CU_ASSERT_EQUAL(n_got, 1);
    n_got = 0;
    dns(T0, "10.0.0.5", "10.0.0.2", "instance-data.ec2.internal", "169.254.169.254", 1, 1);
    dns(T0, "10.0.0.5", "10.0.0.2", "instance-data", "169.254.169.254", 1, 1);
    dns(T0, "10.0.0.5", "10.0.0.2", "ok.example", "169.254.169.253", 1, 1);
    dns(T0, "10.0.0.5", "10.0.0.2", "txt.example", "169.254.169.254", 16, 1);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
}

static void test_resolver_switch(void)
{
    const char *sets[] = { "detect.resolver.learning_seconds=60" };
    CU_ASSERT_FATAL(start(sets, 1) == 0);
    dns(T0, "10.0.0.5", "10.0.0.2", "a.example", NULL, 0, 1);           /* learning starts */
    dns(T0 + 10 * S, "10.0.0.5", "9.9.9.9", "b.example", NULL, 0, 1);   /* learned */
    dns(T0 + 20 * S, "10.0.0.5", "169.254.169.253", "c.example", NULL, 0, 1);
    CU_ASSERT_EQUAL(n_got, 0);
    dns(T0 + 100 * S, "10.0.0.5", "9.9.9.9", "d.example", NULL, 0, 1);  /* known: quiet */
    dns(T0 + 100 * S, "10.0.0.5", "10.1.2.3", "d.example", NULL, 0, 1); /* private: quiet */
    CU_ASSERT_EQUAL(n_got, 0);
    dns(T0 + 120 * S, "10.0.0.5", "8.8.8.8", "e.example", NULL, 0, 1);
    CU_ASSERT_EQUAL_FATAL(n_got, 1);
    CU_ASSERT_STRING_EQUAL(got[0].type, "DefenseEvasion:EC2/UnusualDNSResolver");
    CU_ASSERT_EQUAL(got[0].severity, 5.0);
    char buf[64];
    inet_ntop(AF_INET, got[0].remote.b, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "8.8.8.8");
    dns(T0 + 130 * S, "10.0.0.5", "8.8.8.8", "f.example", NULL, 0, 1);  /* repeat: rate-limited */
    CU_ASSERT_EQUAL(n_got, 1);
    dns(T0 + 130 * S + 3600 * S, "10.0.0.5", "8.8.8.8", "f.example", NULL, 0, 1);
    CU_ASSERT_EQUAL(n_got, 2);
    dns(T0 + 140 * S, "10.0.0.5", "1.0.0.1", "f.example", NULL, 0, 0);  /* RD clear: not judged */
    CU_ASSERT_EQUAL(n_got, 2);
    dot(T0 + 150 * S, "10.0.0.5", "1.1.1.1");
    CU_ASSERT_EQUAL_FATAL(n_got, 3);
    CU_ASSERT_STRING_EQUAL(got[2].type, "DefenseEvasion:EC2/UnusualDoTActivity");
    /* A new instance is learning: DoT during learning is learned. */
    dot(T0 + 150 * S, "10.0.0.6", "1.1.1.1");
    dns(T0 + 160 * S, "10.0.0.6", "10.0.0.2", "g.example", NULL, 0, 1);
    CU_ASSERT_EQUAL(n_got, 3);
    dot(T0 + 300 * S, "10.0.0.6", "1.1.1.1");
    CU_ASSERT_EQUAL(n_got, 3);
    stop();
}

static void test_recursive_resolver(void)
{
    const char *sets[] = { "detect.resolver.learning_seconds=60", "detect.resolver.max_resolvers=4" };
    CU_ASSERT_FATAL(start(sets, 2) == 0);
    char srv[32];
    for (int i = 0; i < 20; i++) {
        snprintf(srv, sizeof(srv), "198.51.100.%d", i + 1);
        dns(T0 + (uint64_t)i * S, "10.0.0.53", srv, "x.example", NULL, 0, 1);
    }
    dns(T0 + 500 * S, "10.0.0.53", "8.8.8.8", "y.example", NULL, 0, 1);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
}

static void test_disabled_and_bounds(void)
{
    const char *off[] = { "detect.resolver.enabled=false", "detect.resolver.learning_seconds=0" };
    CU_ASSERT_FATAL(start(off, 2) == 0);
    dns(T0, "10.0.0.5", "8.8.8.8", "a.example", NULL, 0, 1);
    CU_ASSERT_EQUAL(n_got, 0);
    dns(T0, "10.0.0.5", "10.0.0.2", "r.example", "169.254.169.254", 1, 1);  /* rebind still on */
    CU_ASSERT_EQUAL(n_got, 1);
    stop();
    const char *small[] = { "detect.resolver.max_instances=16", "detect.resolver.learning_seconds=0" };
    CU_ASSERT_FATAL(start(small, 2) == 0);
    char cl[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(cl, sizeof(cl), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        dns(T0 + (uint64_t)i, cl, "10.0.0.2", "a.example", NULL, 0, 1);
    }
    CU_ASSERT_EQUAL(det_dnsmisc_counter(st, "instances"), 16);
    CU_ASSERT_EQUAL(det_dnsmisc_counter(st, "evicted"), 10000 - 16);
    dns(T0 + 20000, "10.0.0.5", "8.8.4.4", "a.example", NULL, 0, 1);       /* learning 0: at once */
    CU_ASSERT_EQUAL(n_got, 1);
    stop();
}

int test_det_dnsmisc_register(void)
{
    CU_pSuite s = CU_add_suite("det_dnsmisc", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "metadata DNS rebinding", test_rebind) ||
        !CU_add_test(s, "resolver switch and DoT after learning", test_resolver_switch) ||
        !CU_add_test(s, "a recursive resolver instance is ignored", test_recursive_resolver) ||
        !CU_add_test(s, "disabled; bounded instances", test_disabled_and_bounds))
        return -1;
    return 0;
}
