/* tests/test_det_threat.c - detect/det_threat.c: the list category selects
 * the finding type (c2, mining, droppoint, phishing, driveby, blackhole /
 * sinkhole answers, tor client / relay / inbound caller, dga skipped, other
 * categories .Custom), one candidate per distinct type. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "det.h"
#include "lists.h"

#define DH_OPS det_threat_ops
#define DH_MAXGOT 64
#include "det_harness.h"

static char paths[8][64];

static const char *write_list(unsigned i, const char *text)
{
    snprintf(paths[i], sizeof(paths[i]), "/tmp/mg-test-threat-%d-%u.txt", (int)getpid(), i);
    FILE *f = fopen(paths[i], "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return paths[i];
}

/* The harness's start() with eight lists of different categories in force. */
static int start_lists(void)
{
    static const struct { const char *name, *cat, *text; } L[] = {
        { "c2list", "c2", "198.51.100.1\nevil-c2.example\n" },
        { "minelist", "Mining", "198.51.100.2\n*.pool.example\n" },
        { "droplist", "droppoint", "198.51.100.3\ndrop.example\n" },
        { "phishlist", "phishing", "phish.example\n" },
        { "drivelist", "driveby", "driveby.example\n" },
        { "sinkholes", "sinkhole", "203.0.113.66\n2001:db8::66\n" },
        { "tornodes", "tor", "192.0.2.10 Guard Fast Running\n192.0.2.11:9001 Guard\n192.0.2.12\n" },
        { "misc", "botnet", "198.51.100.1\ndga.example\n" },
    };
    static struct cfg_threat_list tl[9];
    for (unsigned i = 0; i < 8; i++) {
        tl[i].name = (char *)L[i].name;
        tl[i].category = (char *)L[i].cat;
        tl[i].format = (char *)"txt";
        tl[i].path = (char *)write_list(i, L[i].text);
    }
    dh_lists = lists_load(NULL, tl, 8, NULL, 0, err, sizeof(err));
    if (!dh_lists) {
        fprintf(stderr, "\nlists: %s\n", err);
        return -1;
    }
    return start(NULL, 0);
}

static void stop_lists(void)
{
    stop();
    lists_free(dh_lists);
    dh_lists = NULL;
    for (unsigned i = 0; i < 8; i++)
        unlink(paths[i]);
}

static void v4(struct mg_addr *a, const char *s)
{
    memset(a, 0, sizeof(*a));
    inet_pton(AF_INET, s, a->b);
}

static void flow(const char *src, const char *dst, uint16_t sport, uint16_t dport, int answered)
{
    struct flow_rec f;
    memset(&f, 0, sizeof(f));
    v4(&f.src, src);
    v4(&f.dst, dst);
    f.sport = sport;
    f.dport = dport;
    f.proto = 6;
    f.family = 4;
    f.dir[0].pkts = 3;
    f.dir[0].first_ns = f.dir[0].last_ns = 1700000000000000000ull;
    if (answered) {
        f.dir[1].pkts = 2;
        f.dir[1].last_ns = f.dir[0].last_ns + 1000;
    }
    det_threat_ops.on_flow(st, &f);
}

static void dns(const char *qname, const char *answer, uint16_t atype)
{
    static struct dns_rec d;
    memset(&d, 0, sizeof(d));
    v4(&d.client, "10.0.0.5");
    v4(&d.server, "10.0.0.2");
    d.family = 4;
    d.transport = 17;
    d.sport = 53;
    d.cport = 40000;
    d.has_query = 1;
    d.query_ns = 1700000000000000000ull;
    snprintf(d.qname, sizeof(d.qname), "%s", qname);
    if (answer) {
        d.has_response = 1;
        d.n_answers = 1;
        d.answers[0].type = atype;
        snprintf(d.answers[0].data, sizeof(d.answers[0].data), "%s", answer);
    }
    det_threat_ops.on_dns(st, &d);
}

static int has(const char *type, double sev)
{
    for (unsigned i = 0; i < n_got && i < DH_MAXGOT; i++)
        if (!strcmp(got[i].type, type) && got[i].severity == sev)
            return 1;
    return 0;
}

static void test_ip_categories(void)
{
    CU_ASSERT_FATAL(start_lists() == 0);
    flow("10.0.0.5", "198.51.100.1", 40000, 443, 1);     /* c2 + a .Custom list */
    CU_ASSERT_EQUAL(n_got, 2);
    CU_ASSERT(has("Backdoor:EC2/C&CActivity.B", 8.0));
    CU_ASSERT(has("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", 5.0));
    CU_ASSERT_STRING_EQUAL(got[0].list_name, "c2list");
    n_got = 0;
    flow("10.0.0.5", "198.51.100.2", 40000, 3333, 1);
    CU_ASSERT(n_got == 1 && has("CryptoCurrency:EC2/BitcoinTool.B", 8.0));
    n_got = 0;
    flow("10.0.0.5", "198.51.100.3", 40000, 80, 1);
    CU_ASSERT(n_got == 1 && has("Trojan:EC2/DropPoint", 5.0));
    n_got = 0;
    flow("10.0.0.5", "203.0.113.66", 40000, 80, 1);
    CU_ASSERT(n_got == 1 && has("Trojan:EC2/BlackholeTraffic", 5.0));
    n_got = 0;
    flow("10.0.0.5", "198.51.100.99", 40000, 80, 1);
    CU_ASSERT_EQUAL(n_got, 0);
    stop_lists();
}

static void test_dns_categories(void)
{
    CU_ASSERT_FATAL(start_lists() == 0);
    dns("evil-c2.example", NULL, 0);
    CU_ASSERT(n_got == 1 && has("Backdoor:EC2/C&CActivity.B!DNS", 8.0));
    CU_ASSERT_STRING_EQUAL(got[0].domain, "evil-c2.example");
    CU_ASSERT_EQUAL(got[0].action, FC_DNS_REQUEST);
    n_got = 0;
    dns("xmr.pool.example", NULL, 0);
    CU_ASSERT(n_got == 1 && has("CryptoCurrency:EC2/BitcoinTool.B!DNS", 8.0));
    n_got = 0;
    dns("drop.example", NULL, 0);
    CU_ASSERT(n_got == 1 && has("Trojan:EC2/DropPoint!DNS", 8.0));
    n_got = 0;
    dns("phish.example", NULL, 0);
    CU_ASSERT(n_got == 1 && has("Trojan:EC2/PhishingDomainRequest!DNS", 8.0));
    n_got = 0;
    dns("driveby.example", NULL, 0);
    CU_ASSERT(n_got == 1 && has("Trojan:EC2/DriveBySourceTraffic!DNS", 5.0));
    n_got = 0;
    dns("dga.example", NULL, 0);                         /* category "botnet": custom */
    CU_ASSERT(n_got == 1 && has("Impact:EC2/MaliciousDomainRequest.Custom", 5.0));
    n_got = 0;
    dns("sinkholed.example", "203.0.113.66", 1);         /* an answer on a sinkhole list */
    CU_ASSERT(n_got == 1 && has("Trojan:EC2/BlackholeTraffic!DNS", 5.0));
    CU_ASSERT_STRING_EQUAL(got[0].list_name, "sinkholes");
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "203.0.113.66"));
    n_got = 0;
    dns("v6.example", "2001:db8::66", 28);
    CU_ASSERT(n_got == 1 && has("Trojan:EC2/BlackholeTraffic!DNS", 5.0));
    n_got = 0;
    dns("fine.example", "198.51.100.1", 1);              /* a c2 address as answer: not a sinkhole */
    CU_ASSERT_EQUAL(n_got, 0);
    stop_lists();
}

static void test_dga_skipped(void)
{
    struct cfg_threat_list tl = { (char *)"dgalist", NULL, (char *)"dga", (char *)"txt" };
    CU_ASSERT_FATAL(start_lists() == 0);
    lists_free(dh_lists);
    tl.path = (char *)write_list(0, "dga.example\n");
    dh_lists = lists_load(NULL, &tl, 1, NULL, 0, err, sizeof(err));
    CU_ASSERT_FATAL(dh_lists != NULL);
    dns("dga.example", NULL, 0);
    CU_ASSERT_EQUAL(n_got, 0);
    stop_lists();
}

static void test_tor(void)
{
    CU_ASSERT_FATAL(start_lists() == 0);
    /* Client: outbound to a guard ("ip flags" and "ip:port flags" lines load). */
    flow("10.0.0.5", "192.0.2.10", 40000, 9001, 1);
    flow("10.0.0.5", "192.0.2.11", 40001, 443, 1);
    CU_ASSERT_EQUAL(n_got, 2);
    CU_ASSERT(has("UnauthorizedAccess:EC2/TorClient", 8.0));
    CU_ASSERT(!has("UnauthorizedAccess:EC2/TorRelay", 8.0));
    n_got = 0;
    /* Inbound from one relay only: a caller. */
    flow("192.0.2.12", "10.0.0.9", 50000, 9001, 1);
    CU_ASSERT(n_got == 1 && has("UnauthorizedAccess:EC2/TorIPCaller", 5.0));
    CU_ASSERT_EQUAL(got[0].direction, FC_INBOUND);
    n_got = 0;
    /* Relay: inbound from two relays on its OR port and outbound to one. */
    flow("192.0.2.10", "10.0.0.9", 50001, 9001, 1);
    flow("10.0.0.9", "192.0.2.11", 40000, 9001, 1);
    CU_ASSERT(n_got == 2 && has("UnauthorizedAccess:EC2/TorRelay", 8.0));
    CU_ASSERT_STRING_EQUAL(got[1].type, "UnauthorizedAccess:EC2/TorRelay");
    stop_lists();
}

int test_det_threat_register(void)
{
    CU_pSuite s = CU_add_suite("det_threat", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "IP categories", test_ip_categories) ||
        !CU_add_test(s, "DNS categories and sinkhole answers", test_dns_categories) ||
        !CU_add_test(s, "dga lists skipped", test_dga_skipped) ||
        !CU_add_test(s, "Tor client, caller, relay", test_tor))
        return -1;
    return 0;
}
