/* tests/test_det_exfil.c - detect/det_exfil.c (DNS data exfiltration) from
 * DNS transactions fed directly, and detect/domain.c (registrable domains).
 *
 * Must be reported: an iodine-like tunnel (NULL records, base32 labels), a
 * dnscat2-like one (hex labels, TXT/CNAME/MX), TXT exfiltration of a file
 * (base64-ish labels, rate rule), slow exfiltration over A queries (one
 * every 15 s: volume rule).
 * Must not: a host fetching long hashed CDN/cloud names (cloudfront,
 * S3, googlevideo, a CNAME into cloudfront), a heavy benign DNS host (many
 * domains, repeated names), PTR lookups (in-addr.arpa, ip6.arpa), DNS-SD and
 * mDNS, a disabled detector.
 * Bounds: 10000 clients through 64 entries (evictions counted) while a
 * tunnel is still found. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "det.h"
#include "domain.h"

uint64_t det_exfil_counter(const void *state, const char *name);
int det_exfil_allowed(const void *state, const char *name);

#define T0 1700000000000000000ull
#define S  1000000000ull
#define MS 1000000ull
#define MAXGOT 256
#define EXFIL_T "Trojan:EC2/DNSDataExfiltration"

#define DH_OPS det_exfil_ops
#define DH_MAXGOT MAXGOT
#include "det_harness.h"

static struct dns_rec rec;
static unsigned rng = 12345;

static unsigned rnd(void)
{
    rng = rng * 1103515245u + 12345u;
    return (rng >> 8) & 0xffffff;
}

static void rand_label(char *out, unsigned len, const char *alphabet)
{
    size_t a = strlen(alphabet);
    for (unsigned i = 0; i < len; i++)
        out[i] = alphabet[rnd() % a];
    out[len] = '\0';
}

/* One transaction from client 10.0.1.5 (or 'client') to the VPC resolver. */
static void query(uint64_t ts, const char *client, const char *name, uint16_t qtype,
                  uint16_t atype, const char *adata)
{
    memset(&rec, 0, sizeof(rec));
    rec.family = 4;
    rec.transport = 17;
    inet_pton(AF_INET, client ? client : "10.0.1.5", rec.client.b);
    inet_pton(AF_INET, "10.0.0.2", rec.server.b);
    rec.cport = 40000;
    rec.sport = 53;
    rec.has_query = rec.has_response = 1;
    rec.qtype = qtype;
    rec.qclass = 1;
    rec.query_ns = ts;
    rec.response_ns = ts + 2 * MS;
    snprintf(rec.qname, sizeof(rec.qname), "%s", name);
    rec.qname_len = (uint16_t)strlen(rec.qname);
    if (atype) {
        rec.n_answers = 1;
        rec.an_count = 1;
        rec.answers[0].type = atype;
        rec.answers[0].ttl = 0;
        snprintf(rec.answers[0].data, sizeof(rec.answers[0].data), "%s", adata);
        rec.answers[0].len = (uint16_t)strlen(rec.answers[0].data);
    }
    det_exfil_ops.on_dns(st, &rec);
}

static unsigned count_type(const char *domain)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n_got && i < MAXGOT; i++)
        if (!strcmp(got[i].type, EXFIL_T) && (!domain || !strcmp(got[i].domain, domain)))
            k++;
    return k;
}

static void test_iodine(void)
{
    CU_ASSERT_EQUAL_FATAL(start(NULL, 0), 0);
    char lab[64], name[256];
    for (unsigned i = 0; i < 40; i++) {
        rand_label(lab, i % 4 ? 50 : 8, "abcdefghijklmnopqrstuvwxyz012345");
        snprintf(name, sizeof(name), "%s.t.tunnel-example.co.uk", lab);
        query(T0 + i * 200 * MS, NULL, name, 10, 10, "a06178da6360e060706560b06160706070605");
    }
    CU_ASSERT_EQUAL_FATAL(count_type(NULL), 1);     /* once: then report_interval */
    CU_ASSERT_STRING_EQUAL(got[0].domain, "tunnel-example.co.uk");
    CU_ASSERT_EQUAL(got[0].action, FC_DNS_REQUEST);
    CU_ASSERT_EQUAL(got[0].role, FC_ACTOR);
    CU_ASSERT_EQUAL(got[0].direction, FC_OUTBOUND);
    CU_ASSERT_EQUAL(got[0].severity, 8.0);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, got[0].remote.b, ip, sizeof(ip));
    CU_ASSERT_STRING_EQUAL(ip, "10.0.0.2");
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"rule\":\"null-records\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"recordTypes\":\"NULL\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"sample\":\""));
    /* after report_interval (300 s) it is reported again */
    query(T0 + 400 * S, NULL, "abcdefghijklmnopqrstuvwxyz0123456789.t.tunnel-example.co.uk", 10, 0, "");
    for (unsigned i = 0; i < 10; i++) {
        rand_label(lab, 50, "abcdefghijklmnopqrstuvwxyz012345");
        snprintf(name, sizeof(name), "%s.t.tunnel-example.co.uk", lab);
        query(T0 + 401 * S + i * S, NULL, name, 10, 10, "9040");
    }
    CU_ASSERT_EQUAL(count_type(NULL), 2);
    stop();
}

static void test_dnscat(void)
{
    CU_ASSERT_EQUAL_FATAL(start(NULL, 0), 0);
    static const uint16_t types[] = { 16, 5, 15 };
    char lab[64], lab2[64], name[256];
    for (unsigned i = 0; i < 12; i++) {
        rand_label(lab, 34, "0123456789abcdef");
        rand_label(lab2, 30, "0123456789abcdef");
        snprintf(name, sizeof(name), "%s.%s.cat-c2.com", lab, lab2);
        uint16_t t = types[i % 3];
        query(T0 + i * S, NULL, name, t, t, "10 835f03a86939363e212994ffff8471c2641fe574e41.cat-c2.com");
    }
    CU_ASSERT_EQUAL_FATAL(count_type("cat-c2.com"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"rule\":\"data-records\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "TXT"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "CNAME"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "MX"));
    stop();
}

static void test_txt_exfil(void)
{
    /* A file in base64-ish labels (lower-cased by DNS), 60 queries a second:
     * the rate rule decides alone when the other rules are made strict. */
    const char *sets[] = { "detect.exfil.data_min_queries=1000", "detect.exfil.min_unique=1000" };
    CU_ASSERT_EQUAL_FATAL(start(sets, 2), 0);
    char l1[64], l2[64], name[256];
    for (unsigned i = 0; i < 60; i++) {
        rand_label(l1, 60, "abcdefghijklmnopqrstuvwxyz0123456789+/");
        rand_label(l2, 40, "abcdefghijklmnopqrstuvwxyz0123456789+/");
        snprintf(name, sizeof(name), "%s.%s.x.files.example.net", l1, l2);
        query(T0 + i * 16 * MS, NULL, name, 16, 16, "ok");
    }
    CU_ASSERT_EQUAL_FATAL(count_type("example.net"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"rule\":\"rate\""));
    stop();
}

static void test_slow_exfil(void)
{
    /* A queries, one every 15 s: 40 in the 600 s window; no data types, no
     * rate: the volume rule (30 unique, long labels, high entropy). */
    CU_ASSERT_EQUAL_FATAL(start(NULL, 0), 0);
    char lab[64], name[256];
    for (unsigned i = 0; i < 29; i++) {
        rand_label(lab, 40, "abcdefghijklmnopqrstuvwxyz234567");
        snprintf(name, sizeof(name), "%s.slow-drip.org", lab);
        query(T0 + i * 15 * S, NULL, name, 1, 1, "203.0.113.9");
    }
    CU_ASSERT_EQUAL(count_type(NULL), 0);
    for (unsigned i = 29; i < 40; i++) {
        rand_label(lab, 40, "abcdefghijklmnopqrstuvwxyz234567");
        snprintf(name, sizeof(name), "%s.slow-drip.org", lab);
        query(T0 + i * 15 * S, NULL, name, 1, 1, "203.0.113.9");
    }
    CU_ASSERT_EQUAL_FATAL(count_type("slow-drip.org"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(got[0].info, "\"rule\":\"volume\""));
    /* The same drip at one query every 60 s never has 30 in a window. */
    stop();
    CU_ASSERT_EQUAL_FATAL(start(NULL, 0), 0);
    for (unsigned i = 0; i < 100; i++) {
        rand_label(lab, 40, "abcdefghijklmnopqrstuvwxyz234567");
        snprintf(name, sizeof(name), "%s.slow-drip.org", lab);
        query(T0 + i * 60 * S, NULL, name, 1, 1, "203.0.113.9");
    }
    CU_ASSERT_EQUAL(count_type(NULL), 0);
    stop();
}

static void test_benign_cdn(void)
{
    CU_ASSERT_EQUAL_FATAL(start(NULL, 0), 0);
    char lab[64], name[256], cn[128];
    for (unsigned i = 0; i < 3000; i++) {
        uint64_t ts = T0 + i * 20 * MS;
        rand_label(lab, 40, "0123456789abcdef");
        switch (i % 6) {
        case 0: snprintf(name, sizeof(name), "d%.13s.cloudfront.net", lab); break;
        case 1: snprintf(name, sizeof(name), "%s.s3.us-east-1.amazonaws.com", lab); break;
        case 2: snprintf(name, sizeof(name), "rr%u---sn-%.8s.googlevideo.com", i % 9, lab); break;
        case 3: snprintf(name, sizeof(name), "%s.execute-api.eu-west-1.amazonaws.com", lab); break;
        case 4: snprintf(name, sizeof(name), "a%s.deploy.static.akamaized.net", lab); break;
        default: /* the customer's name, a CNAME into CloudFront */
            snprintf(name, sizeof(name), "img-%s.assets.shop.example", lab);
            snprintf(cn, sizeof(cn), "d%.13s.cloudfront.net", lab);
            query(ts, NULL, name, 1, 5, cn);
            continue;
        }
        query(ts, NULL, name, i % 2 ? 28 : 1, 1, "198.51.100.7");
    }
    CU_ASSERT_EQUAL(count_type(NULL), 0);
    stop();
}

static void test_benign_heavy(void)
{
    CU_ASSERT_EQUAL_FATAL(start(NULL, 0), 0);
    static const char *const subs[] = { "www", "api", "cdn", "static", "mail", "login",
                                        "img", "m", "auth", "s1" };
    char name[256];
    for (unsigned i = 0; i < 20000; i++) {
        uint64_t ts = T0 + i * 30 * MS;
        snprintf(name, sizeof(name), "%s.site%u.com", subs[i % 10], (i / 10) % 300);
        query(ts, NULL, name, i % 2 ? 28 : 1, 1, "198.51.100.7");
        if (i % 7 == 0)
            query(ts, NULL, "collector.telemetry.vendor.io", 1, 1, "198.51.100.8");
        if (i % 50 == 0)     /* SPF/verification TXT lookups */
            query(ts, NULL, "example.org", 16, 16, "v=spf1 include:_spf.example.org ~all");
    }
    CU_ASSERT_EQUAL(count_type(NULL), 0);
    stop();
}

static void test_ptr_mdns(void)
{
    CU_ASSERT_EQUAL_FATAL(start(NULL, 0), 0);
    char name[256], lab[64];
    for (unsigned i = 0; i < 2000; i++) {
        uint64_t ts = T0 + i * 10 * MS;
        snprintf(name, sizeof(name), "%u.%u.%u.%u.in-addr.arpa", rnd() % 256, rnd() % 256,
                 rnd() % 256, rnd() % 256);
        query(ts, NULL, name, 12, 12, "host.example.com");
        rand_label(lab, 32, "0123456789abcdef");
        char v6[128];
        size_t o = 0;
        for (unsigned k = 0; k < 32; k++)
            o += (size_t)snprintf(v6 + o, sizeof(v6) - o, "%c.", lab[k]);
        snprintf(name, sizeof(name), "%sip6.arpa", v6);
        query(ts, NULL, name, 12, 0, "");
        /* DNS-SD and mDNS */
        snprintf(name, sizeof(name), "%s._googlecast._tcp.local", lab);
        query(ts, NULL, name, 16, 16, "id=abcdef");
        snprintf(name, sizeof(name), "%s._spotify-connect._tcp.example.com", lab);
        query(ts, NULL, name, 16, 16, "CPath=/zc");
        snprintf(name, sizeof(name), "s%u._domainkey.mail%u.example.com", i, i % 3);
        query(ts, NULL, name, 16, 16, "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3");
    }
    CU_ASSERT_EQUAL(count_type(NULL), 0);
    stop();
}

static void test_bounded(void)
{
    const char *sets[] = { "detect.exfil.max_pairs=64" };
    CU_ASSERT_EQUAL_FATAL(start(sets, 1), 0);
    char name[256], lab[64], ip[32];
    for (unsigned i = 0; i < 10000; i++) {
        snprintf(ip, sizeof(ip), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        rand_label(lab, 50, "0123456789abcdef");
        snprintf(name, sizeof(name), "%s.d%u.example.com", lab, i);
        query(T0 + i * MS, ip, name, 16, 0, "");
        if (i % 50 == 0) {          /* a real tunnel goes on meanwhile (LRU keeps it) */
            rand_label(lab, 50, "abcdefghijklmnopqrstuvwxyz012345");
            snprintf(name, sizeof(name), "%s.tunnel.example.org", lab);
            query(T0 + i * MS, "10.9.9.9", name, 10, 10, "00ff");
        }
    }
    CU_ASSERT_EQUAL(det_exfil_counter(st, "pairs_used"), 64);
    CU_ASSERT(det_exfil_counter(st, "pairs_evicted") >= 10000 - 64);
    CU_ASSERT_EQUAL(count_type("example.org"), 1);
    CU_ASSERT_EQUAL(count_type("example.com"), 0);
    stop();
}

static void test_disabled(void)
{
    const char *sets[] = { "detect.exfil.enabled=false" };
    CU_ASSERT_EQUAL_FATAL(start(sets, 1), 0);
    char lab[64], name[256];
    for (unsigned i = 0; i < 50; i++) {
        rand_label(lab, 50, "abcdefghijklmnopqrstuvwxyz012345");
        snprintf(name, sizeof(name), "%s.t.tunnel.example", lab);
        query(T0 + i * S, NULL, name, 10, 10, "00");
    }
    CU_ASSERT_EQUAL(count_type(NULL), 0);
    stop();
}

/* The configured suffixes compared one by one, as the detector did before
 * it kept them in a set: the reference allowed() must agree with. */
static int allowed_ref(const char *const *sfx, unsigned n_sfx, const char *name)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < n_sfx; i++) {
        size_t sl = strlen(sfx[i]);
        while (sl && sfx[i][sl - 1] == '.')
            sl--;
        if (!sl || sl > n)
            continue;
        const char *t = name + n - sl;
        if (strncasecmp(t, sfx[i], sl) == 0 && (sl == n || t[-1] == '.'))
            return 1;
    }
    return 0;
}

static void test_allow_suffixes(void)
{
    /* Case, trailing dots, one label, a suffix inside another's labels. */
    static const char *const sfx[] = { "CDN.Example.NET.", "co.uk", "amazonaws.com",
                                       "s3.amazonaws.com", "x", "b.c.d" };
    char set[256] = "detect.exfil.allow_suffixes=[";
    for (unsigned i = 0; i < 6; i++) {
        strcat(set, sfx[i]);
        strcat(set, i < 5 ? "," : "]");
    }
    const char *sets[] = { set };
    CU_ASSERT_EQUAL_FATAL(start(sets, 1), 0);
    static const char *const yes[] = { "cdn.example.net", "A.CDN.EXAMPLE.NET", "co.uk",
                                       "tunnel-example.co.uk", "b.s3.amazonaws.com", "x",
                                       "y.x", "a.b.c.d", "b.c.d" };
    static const char *const no[] = { "xcdn.example.net", "cdn.example.net.", "example.net",
                                      "o.uk", "uk", "co.uk.example", "xamazonaws.com", "",
                                      "yx", "c.d", "ab.c.d", "." };
    for (unsigned i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
        CU_ASSERT_EQUAL(det_exfil_allowed(st, yes[i]), 1);
        CU_ASSERT_EQUAL(allowed_ref(sfx, 6, yes[i]), 1);
    }
    for (unsigned i = 0; i < sizeof(no) / sizeof(*no); i++) {
        CU_ASSERT_EQUAL(det_exfil_allowed(st, no[i]), 0);
        CU_ASSERT_EQUAL(allowed_ref(sfx, 6, no[i]), 0);
    }
    /* Random names over a small alphabet, so that tails often meet the
     * suffixes and each other: the set and the reference agree on all. */
    static const char alpha[] = "bcdxo.u";
    unsigned agree = 0, hits = 0;
    for (unsigned t = 0; t < 200000; t++) {
        char name[16];
        unsigned len = rnd() % 8;
        for (unsigned k = 0; k < len; k++)
            name[k] = alpha[rnd() % 7];
        name[len] = '\0';
        int a = det_exfil_allowed(st, name), r = allowed_ref(sfx, 6, name);
        agree += a == r;
        hits += r;
    }
    CU_ASSERT_EQUAL(agree, 200000);
    CU_ASSERT(hits > 1000);
    stop();

    /* The detector keeps to it: a tunnel under an allowed suffix is not
     * counted, the same tunnel is with a suffix that is not a whole tail. */
    for (int pass = 0; pass < 2; pass++) {
        const char *s2[] = { pass ? "detect.exfil.allow_suffixes=[nnel-example.co.uk]"
                                  : "detect.exfil.allow_suffixes=[TUNNEL-example.co.uk.]" };
        CU_ASSERT_EQUAL_FATAL(start(s2, 1), 0);
        char lab[64], name[256];
        for (unsigned i = 0; i < 40; i++) {
            rand_label(lab, 50, "abcdefghijklmnopqrstuvwxyz012345");
            snprintf(name, sizeof(name), "%s.t.tunnel-example.co.uk", lab);
            query(T0 + i * 200 * MS, NULL, name, 10, 10, "00ff");
        }
        CU_ASSERT_EQUAL(count_type(NULL), pass ? 1u : 0u);
        stop();
    }
}

static void test_domain_registrable(void)
{
    char out[256];
    CU_ASSERT_EQUAL(domain_init(), 0);
    CU_ASSERT_EQUAL(domain_registrable("a.b.example.co.uk", out, sizeof(out)), DOMAIN_OK);
    CU_ASSERT_STRING_EQUAL(out, "example.co.uk");
    CU_ASSERT_EQUAL(domain_registrable("www.Example.COM.", out, sizeof(out)), DOMAIN_OK);
    CU_ASSERT_STRING_EQUAL(out, "example.com");
    CU_ASSERT_EQUAL(domain_registrable("com", out, sizeof(out)), DOMAIN_SELF);
    CU_ASSERT_STRING_EQUAL(out, "com");
    CU_ASSERT_EQUAL(domain_registrable("co.uk", out, sizeof(out)), DOMAIN_SELF);
    CU_ASSERT_STRING_EQUAL(out, "co.uk");
    CU_ASSERT_EQUAL(domain_registrable("localhost", out, sizeof(out)), DOMAIN_SELF);
    CU_ASSERT_STRING_EQUAL(out, "localhost");
    /* IDN in its DNS (punycode) form, and under an IDN TLD */
    CU_ASSERT_EQUAL(domain_registrable("www.xn--mnchen-3ya.de", out, sizeof(out)), DOMAIN_OK);
    CU_ASSERT_STRING_EQUAL(out, "xn--mnchen-3ya.de");
    CU_ASSERT_EQUAL(domain_registrable("a.b.xn--fiqs8s", out, sizeof(out)), DOMAIN_OK);
    CU_ASSERT_STRING_EQUAL(out, "b.xn--fiqs8s");
    /* private-section suffixes: each CloudFront distribution is its own domain */
    CU_ASSERT_EQUAL(domain_registrable("x.d111.cloudfront.net", out, sizeof(out)), DOMAIN_OK);
    CU_ASSERT_STRING_EQUAL(out, "d111.cloudfront.net");
    CU_ASSERT_EQUAL(domain_registrable("cloudfront.net", out, sizeof(out)), DOMAIN_SELF);
    CU_ASSERT_EQUAL(domain_registrable("", out, sizeof(out)), DOMAIN_ERR);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_EQUAL(domain_registrable("a.example.com", out, 5), DOMAIN_ERR);
    CU_ASSERT_EQUAL(domain_registrable(NULL, out, sizeof(out)), DOMAIN_ERR);
}

/* The per-thread cache must give exactly the first (uncached) answers,
 * also for names that share their last labels with a cached one. */
static void test_domain_cache(void)
{
    static const char *const names[] = {
        "a.b.example.co.uk", "x.a.b.example.co.uk", "co.uk", "com", "example.com",
        "q1.q2.q3.q4.q5.q6.q7.example.com", "z.q2.q3.q4.q5.q6.q7.example.com",
        "d111.cloudfront.net", "x.y.d111.cloudfront.net", "a.b.c.d.e.f.g.h.i.j",
        "b.c.d.e.f.g.h.i.j", "s3.eu-west-1.amazonaws.com", "bkt.s3.eu-west-1.amazonaws.com",
        "a.ck", "www.a.ck", "localhost", "xn--mnchen-3ya.de", "w.xn--mnchen-3ya.de",
    };
    char first[64][256], again[256];
    int rc1[64];
    size_t n = sizeof(names) / sizeof(names[0]);
    for (size_t i = 0; i < n; i++)
        rc1[i] = domain_registrable(names[i], first[i], sizeof(first[i]));
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < n; i++) {
            CU_ASSERT_EQUAL(domain_registrable(names[i], again, sizeof(again)), rc1[i]);
            CU_ASSERT_STRING_EQUAL(again, first[i]);
        }
    /* a tunnel: ever new subdomains under one domain */
    char name[128], out[256];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "%08x.%04x.t.tunnel-iodine.example", i * 2654435761u, i);
        CU_ASSERT_EQUAL(domain_registrable(name, out, sizeof(out)), DOMAIN_OK);
        CU_ASSERT_STRING_EQUAL(out, "tunnel-iodine.example");
    }
}

int test_det_exfil_register(void)
{
    CU_pSuite s = CU_add_suite("det_exfil", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "iodine-like NULL tunnel", test_iodine) ||
        !CU_add_test(s, "dnscat2-like TXT/CNAME/MX", test_dnscat) ||
        !CU_add_test(s, "TXT exfiltration of a file (rate)", test_txt_exfil) ||
        !CU_add_test(s, "slow exfiltration over A (volume)", test_slow_exfil) ||
        !CU_add_test(s, "CDN and cloud names: nothing", test_benign_cdn) ||
        !CU_add_test(s, "heavy benign DNS host: nothing", test_benign_heavy) ||
        !CU_add_test(s, "PTR, DNS-SD, mDNS, DKIM: nothing", test_ptr_mdns) ||
        !CU_add_test(s, "bounded state", test_bounded) ||
        !CU_add_test(s, "disabled", test_disabled) ||
        !CU_add_test(s, "allow_suffixes: whole tails, case-blind, as the one-by-one rule",
                     test_allow_suffixes) ||
        !CU_add_test(s, "registrable domains (libpsl)", test_domain_registrable) ||
        !CU_add_test(s, "registrable domain cache gives libpsl's answers", test_domain_cache))
        return -1;
    return 0;
}
