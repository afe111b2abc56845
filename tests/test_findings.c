/* tests/test_findings.c - the findings aggregator (sensor/findings.c):
 * aggregation, ids, publishing in packet time, trusted list, suppression
 * rules, eviction, reload, the resource mapping and the GuardDuty JSON.
 * Configurations are written to a private temporary directory and loaded
 * with cfg_load(), so the YAML side of the new keys is exercised too. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "findings.h"
#include "obuf.h"

#define SEC 1000000000ull
#define T0 (1714564805123ull * 1000000ull)     /* 2024-05-01T12:00:05.123Z */

static char tmpdir[64];
static char errbuf[8192];

/* ------------------------------------------------ a tiny JSON checker */

/* Recursive descent over RFC 8259: returns the end of one value or NULL. */
static const char *js_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *js_value(const char *p, int depth);

static const char *js_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                        return NULL;
                p += 5;
                continue;
            }
            if (!*p || !strchr("\"\\/bfnrt", *p))
                return NULL;
        }
        p++;
    }
    return p + 1;
}

static const char *js_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static const char *js_value(const char *p, int depth)
{
    if (depth > 64)
        return NULL;
    p = js_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool obj = *p == '{';
        p = js_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                p = js_string(js_ws(p));
                if (!p)
                    return NULL;
                p = js_ws(p);
                if (*p++ != ':')
                    return NULL;
            }
            p = js_value(p, depth + 1);
            if (!p)
                return NULL;
            p = js_ws(p);
            if (*p == ',') {
                p++;
                continue;
            }
            return *p == close ? p + 1 : NULL;
        }
    }
    if (*p == '"')
        return js_string(p);
    if (!strncmp(p, "true", 4))
        return p + 4;
    if (!strncmp(p, "false", 5))
        return p + 5;
    if (!strncmp(p, "null", 4))
        return p + 4;
    return js_number(p);
}

/* One JSON object, nothing after it, no newline inside. */
static bool json_ok(const char *s)
{
    if (!s || *s != '{' || strchr(s, '\n'))
        return false;
    const char *e = js_value(s, 0);
    return e && *js_ws(e) == '\0';
}

/* ----------------------------------------------------- the publisher */

struct pubrec {
    char id[40], type[80], updated_at[40], instance_id[40];
    char *json;
    double severity;
    uint64_t epoch, count;
    int archived, is_new;
};

static struct pubs {
    struct pubrec r[256];
    unsigned n;
} P;

static void pubs_reset(void)
{
    for (unsigned i = 0; i < P.n; i++)
        free(P.r[i].json);
    P.n = 0;
}

static void on_pub(void *arg, const struct finding_pub *p)
{
    (void)arg;
    CU_ASSERT_FATAL(P.n < 256);
    struct pubrec *r = &P.r[P.n++];
    snprintf(r->id, sizeof(r->id), "%s", p->id);
    snprintf(r->type, sizeof(r->type), "%s", p->type);
    snprintf(r->updated_at, sizeof(r->updated_at), "%s", p->updated_at);
    snprintf(r->instance_id, sizeof(r->instance_id), "%s", p->instance_id);
    r->json = strdup(p->json);
    r->severity = p->severity;
    r->epoch = p->updated_epoch;
    r->count = p->count;
    r->archived = p->archived;
    r->is_new = p->is_new;
    CU_ASSERT(json_ok(p->json));
    if (!json_ok(p->json))
        fprintf(stderr, "\nbad JSON: %s\n", p->json);
}

static bool has(unsigned i, const char *needle)
{
    bool ok = i < P.n && strstr(P.r[i].json, needle);
    if (!ok)
        fprintf(stderr, "\npublication %u lacks %s:\n%s\n", i, needle,
                i < P.n ? P.r[i].json : "(none)");
    return ok;
}

/* ------------------------------------------------------------ helpers */

/* Load 'yaml' (NULL = defaults) into c. */
static int load(struct cfg *c, const char *yaml)
{
    if (!yaml)
        return cfg_load(c, NULL, NULL, 0, errbuf, sizeof(errbuf));
    char path[128];
    snprintf(path, sizeof(path), "%s/cfg.yaml", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(yaml, f);
    fclose(f);
    int rc = cfg_load(c, path, NULL, 0, errbuf, sizeof(errbuf));
    if (rc)
        fprintf(stderr, "\ncfg: %s\n", errbuf);
    unlink(path);
    return rc;
}

static struct mg_addr A(const char *s)
{
    struct mg_addr a;
    memset(&a, 0, sizeof(a));
    if (inet_pton(AF_INET, s, a.b) != 1)
        inet_pton(AF_INET6, s, a.b);
    return a;
}

/* An outbound TCP connection from 'local' to 'remote':443 on a list. */
static struct finding_cand conn(const char *local, const char *remote, uint64_t ts)
{
    struct finding_cand fc;
    memset(&fc, 0, sizeof(fc));
    snprintf(fc.type, sizeof(fc.type), "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom");
    fc.severity = 5;
    fc.ts_ns = ts;
    fc.action = FC_NETWORK_CONNECTION;
    fc.role = FC_ACTOR;
    fc.direction = FC_OUTBOUND;
    fc.family = strchr(local, ':') ? 6 : 4;
    fc.proto = 6;
    fc.local_port = 49152;
    fc.remote_port = 443;
    fc.local = A(local);
    fc.remote = A(remote);
    fc.count = 1;
    snprintf(fc.list_name, sizeof(fc.list_name), "feodo");
    snprintf(fc.list_entry, sizeof(fc.list_entry), "%s", remote);
    snprintf(fc.info, sizeof(fc.info), "\"threatListName\":\"feodo\"");
    return fc;
}

static struct finding_cand dnsq(const char *local, const char *domain, uint64_t ts)
{
    struct finding_cand fc = conn(local, "10.0.0.2", ts);
    snprintf(fc.type, sizeof(fc.type), "Trojan:EC2/DNSDataExfiltration");
    fc.action = FC_DNS_REQUEST;
    fc.proto = 17;
    fc.remote_port = 53;
    snprintf(fc.domain, sizeof(fc.domain), "%s", domain);
    snprintf(fc.list_entry, sizeof(fc.list_entry), "*.evil.example");
    return fc;
}

static struct findings *mk(const struct cfg *c)
{
    struct findings *f = findings_new(c, errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NOT_NULL(f);
    if (f)
        findings_set_publisher(f, on_pub, NULL);
    pubs_reset();
    return f;
}

static void stats(struct findings *f, struct findings_stats *st)
{
    findings_stats(f, st);
}

/* -------------------------------------------------------------- tests */

static const char *cfg_basic =
    "account_id: \"123456789012\"\n"
    "region: eu-west-1\n"
    "sensor_id: sensor-a\n"
    "findings: {publishing_frequency: 60, max_findings: 16}\n"
    "assets:\n"
    "  - cidr: 10.0.1.0/24\n"
    "    instance_id: i-0subnet\n"
    "    eni: eni-0subnet\n"
    "  - cidr: 10.0.1.17/32\n"
    "    instance_id: i-0web\n"
    "    eni: eni-0web\n"
    "    subnet_id: subnet-0a\n"
    "    vpc_id: vpc-0a\n"
    "    tags: {Name: web-1, env: prod}\n"
    "  - cidr: 2001:db8:1::/48\n"
    "    instance_id: i-0six\n"
    "  - cidr: 192.0.2.99\n"
    "    instance_id: i-0sess\n"
    "    tags: {team: blue}\n"
    "mirror_sessions:\n"
    "  - vni: 7\n"
    "    eni: eni-0sess\n"
    "    instance_id: i-0sess\n"
    "    account_id: \"210987654321\"\n"
    "    vpc_id: vpc-0s\n"
    "    subnet_id: subnet-0s\n";

static void test_new_finding(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    struct findings *f = mk(&c);
    struct finding_cand fc = conn("10.0.1.17", "203.0.113.5", T0);
    findings_add(f, &fc);
    CU_ASSERT_EQUAL_FATAL(P.n, 1);
    struct pubrec *r = &P.r[0];
    CU_ASSERT_EQUAL(r->count, 1);
    CU_ASSERT_EQUAL(r->is_new, 1);
    CU_ASSERT_EQUAL(r->archived, 0);
    CU_ASSERT_EQUAL(strlen(r->id), 32);
    CU_ASSERT_EQUAL(strspn(r->id, "0123456789abcdef"), 32);
    CU_ASSERT_STRING_EQUAL(r->instance_id, "i-0web");
    CU_ASSERT_STRING_EQUAL(r->updated_at, "2024-05-01T12:00:05.123Z");
    CU_ASSERT_EQUAL(r->epoch, 1714564805123ull);
    CU_ASSERT_DOUBLE_EQUAL(r->severity, 5.0, 1e-9);
    CU_ASSERT(has(0, "{\"schemaVersion\":\"2.0\",\"accountId\":\"123456789012\","
                     "\"region\":\"eu-west-1\",\"partition\":\"aws\",\"id\":\""));
    char arn[200];
    snprintf(arn, sizeof(arn), "\"arn\":\"arn:aws:guardduty:eu-west-1:123456789012:"
             "detector/sensor-a/finding/%s\"", r->id);
    CU_ASSERT(has(0, arn));
    CU_ASSERT(has(0, "\"type\":\"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom\""));
    CU_ASSERT(has(0, "\"resource\":{\"resourceType\":\"Instance\",\"instanceDetails\":"
                     "{\"instanceId\":\"i-0web\",\"tags\":[{\"key\":\"Name\",\"value\":"
                     "\"web-1\"},{\"key\":\"env\",\"value\":\"prod\"}],"
                     "\"networkInterfaces\":[{\"networkInterfaceId\":\"eni-0web\","
                     "\"privateIpAddress\":\"10.0.1.17\",\"ipv6Addresses\":[],"
                     "\"subnetId\":\"subnet-0a\",\"vpcId\":\"vpc-0a\"}]}}"));
    CU_ASSERT(has(0, "\"service\":{\"serviceName\":\"mirrorguard\",\"detectorId\":"
                     "\"sensor-a\",\"resourceRole\":\"ACTOR\",\"count\":1,"
                     "\"eventFirstSeen\":\"2024-05-01T12:00:05.123Z\","
                     "\"eventLastSeen\":\"2024-05-01T12:00:05.123Z\",\"archived\":false"));
    CU_ASSERT(has(0, "\"action\":{\"actionType\":\"NETWORK_CONNECTION\","
                     "\"networkConnectionAction\":{\"connectionDirection\":\"OUTBOUND\","
                     "\"protocol\":\"TCP\",\"blocked\":false,\"localIpDetails\":"
                     "{\"ipAddressV4\":\"10.0.1.17\"},\"localPortDetails\":{\"port\":"
                     "49152,\"portName\":\"Unknown\"},\"remoteIpDetails\":{\"ipAddressV4\":"
                     "\"203.0.113.5\"},\"remotePortDetails\":{\"port\":443,\"portName\":"
                     "\"HTTPS\"}}}"));
    CU_ASSERT(has(0, "\"evidence\":{\"threatIntelligenceDetails\":[{\"threatListName\":"
                     "\"feodo\",\"threatNames\":[\"203.0.113.5\"]}]}"));
    CU_ASSERT(has(0, "\"additionalInfo\":{\"value\":\"{\\\"threatListName\\\":"
                     "\\\"feodo\\\"}\",\"type\":\"default\"}}"));
    CU_ASSERT(has(0, "\"severity\":5.0,\"createdAt\":\"2024-05-01T12:00:05.123Z\","
                     "\"updatedAt\":\"2024-05-01T12:00:05.123Z\""));
    CU_ASSERT(has(0, "\"description\":\"EC2 instance i-0web is communicating with "
                     "203.0.113.5, an IP address on the threat list 'feodo'.\"}"));
    struct findings_stats st;
    stats(f, &st);
    CU_ASSERT_EQUAL(st.candidates, 1);
    CU_ASSERT_EQUAL(st.created, 1);
    CU_ASSERT_EQUAL(st.published, 1);
    CU_ASSERT_EQUAL(st.in_memory, 1);
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

/* Repeats: one finding, count grows, published once per frequency of
 * packet time (60 s here), eventFirstSeen / createdAt stay. */
static void test_aggregate_and_frequency(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    struct findings *f = mk(&c);
    struct finding_cand fc = conn("10.0.1.17", "203.0.113.5", T0);
    findings_add(f, &fc);
    CU_ASSERT_EQUAL_FATAL(P.n, 1);
    char id[40];
    strcpy(id, P.r[0].id);

    fc.ts_ns = T0 + 10 * SEC;
    fc.count = 3;
    fc.severity = 8;
    fc.remote_port = 8443;
    findings_add(f, &fc);
    findings_tick(f, T0 + 10 * SEC);
    findings_tick(f, T0 + 59 * SEC);
    CU_ASSERT_EQUAL(P.n, 1);                    /* not yet: 59 s < 60 s */
    fc.ts_ns = T0 + 20 * SEC;
    fc.count = 1;
    findings_add(f, &fc);
    fc.ts_ns = T0 + 5 * SEC;                    /* late: does not move time back */
    findings_add(f, &fc);
    findings_tick(f, T0 + 60 * SEC);
    CU_ASSERT_EQUAL_FATAL(P.n, 2);
    struct pubrec *r = &P.r[1];
    CU_ASSERT_STRING_EQUAL(r->id, id);
    CU_ASSERT_EQUAL(r->count, 6);
    CU_ASSERT_EQUAL(r->is_new, 0);
    CU_ASSERT_STRING_EQUAL(r->updated_at, "2024-05-01T12:00:25.123Z");
    CU_ASSERT_DOUBLE_EQUAL(r->severity, 8.0, 1e-9);
    CU_ASSERT(has(1, "\"count\":6,\"eventFirstSeen\":\"2024-05-01T12:00:05.123Z\","
                     "\"eventLastSeen\":\"2024-05-01T12:00:25.123Z\""));
    CU_ASSERT(has(1, "\"remotePortDetails\":{\"port\":8443,\"portName\":\"HTTPS\"}"));
    CU_ASSERT(has(1, "\"severity\":8.0,\"createdAt\":\"2024-05-01T12:00:05.123Z\","
                     "\"updatedAt\":\"2024-05-01T12:00:25.123Z\""));

    /* Nothing pending: ticks publish nothing. An update long after the
     * last publication (60 s) is due at the next tick; the one after it
     * waits a full period from that publication. */
    findings_tick(f, T0 + 500 * SEC);
    CU_ASSERT_EQUAL(P.n, 2);
    fc.ts_ns = T0 + 501 * SEC;
    findings_add(f, &fc);
    CU_ASSERT_EQUAL(P.n, 2);                    /* only ticks publish updates */
    findings_tick(f, T0 + 501 * SEC);
    CU_ASSERT_EQUAL_FATAL(P.n, 3);
    CU_ASSERT_EQUAL(P.r[2].count, 7);
    fc.ts_ns = T0 + 502 * SEC;
    findings_add(f, &fc);
    findings_tick(f, T0 + 560 * SEC);
    CU_ASSERT_EQUAL(P.n, 3);
    findings_tick(f, T0 + 561 * SEC);
    CU_ASSERT_EQUAL_FATAL(P.n, 4);
    CU_ASSERT_EQUAL(P.r[3].count, 8);
    CU_ASSERT_STRING_EQUAL(P.r[3].id, id);
    struct findings_stats st;
    stats(f, &st);
    CU_ASSERT_EQUAL(st.created, 1);
    CU_ASSERT_EQUAL(st.updated, 5);
    CU_ASSERT_EQUAL(st.published, 4);
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

/* The key is (type, resource, remote): another remote or type is another
 * finding; another address of the same instance is the same one. */
static void test_keys(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    struct findings *f = mk(&c);
    struct finding_cand a = conn("10.0.1.5", "203.0.113.5", T0);
    struct finding_cand b = conn("10.0.1.5", "203.0.113.6", T0);
    struct finding_cand d = conn("10.0.1.6", "203.0.113.5", T0 + SEC);  /* same i-0subnet */
    struct finding_cand e = conn("10.0.1.5", "203.0.113.5", T0);
    snprintf(e.type, sizeof(e.type), "Backdoor:EC2/C&CActivity.B");
    findings_add(f, &a);
    findings_add(f, &b);
    findings_add(f, &d);
    findings_add(f, &e);
    CU_ASSERT_EQUAL_FATAL(P.n, 3);
    CU_ASSERT_STRING_NOT_EQUAL(P.r[0].id, P.r[1].id);
    CU_ASSERT_STRING_NOT_EQUAL(P.r[0].id, P.r[2].id);
    CU_ASSERT_STRING_NOT_EQUAL(P.r[1].id, P.r[2].id);
    CU_ASSERT_STRING_EQUAL(P.r[2].type, "Backdoor:EC2/C&CActivity.B");
    findings_flush(f);
    CU_ASSERT_EQUAL_FATAL(P.n, 4);
    CU_ASSERT_STRING_EQUAL(P.r[3].id, P.r[0].id);
    CU_ASSERT_EQUAL(P.r[3].count, 2);
    CU_ASSERT(has(3, "\"privateIpAddress\":\"10.0.1.6\""));   /* latest address */

    /* Unknown internal address: the resource is the address itself. */
    struct finding_cand u1 = conn("10.9.9.9", "203.0.113.5", T0);
    struct finding_cand u2 = conn("10.9.9.8", "203.0.113.5", T0);
    findings_add(f, &u1);
    findings_add(f, &u2);
    CU_ASSERT_EQUAL(P.n, 6);
    struct findings_stats st;
    stats(f, &st);
    CU_ASSERT_EQUAL(st.created, 5);
    CU_ASSERT_EQUAL(st.in_memory, 5);
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

/* Same input, same ids and the same JSON: in another aggregator, another
 * process, another speed. Another sensor_id gives other ids. */
static void test_stable_ids(void)
{
    struct cfg c, c2;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    struct findings *f1 = mk(&c);
    struct finding_cand a = conn("10.0.1.17", "203.0.113.5", T0);
    struct finding_cand b = dnsq("10.0.1.17", "x.evil.example", T0 + SEC);
    findings_add(f1, &a);
    findings_add(f1, &b);
    findings_add(f1, &a);
    findings_flush(f1);
    CU_ASSERT_EQUAL_FATAL(P.n, 3);
    char ids[3][40], *js[3];
    for (int i = 0; i < 3; i++) {
        strcpy(ids[i], P.r[i].id);
        js[i] = strdup(P.r[i].json);
    }
    findings_free(f1);

    struct findings *f2 = mk(&c);
    findings_add(f2, &a);
    findings_add(f2, &b);
    findings_tick(f2, T0 + 2 * SEC);
    findings_add(f2, &a);
    findings_flush(f2);
    CU_ASSERT_EQUAL_FATAL(P.n, 3);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_STRING_EQUAL(P.r[i].id, ids[i]);
        CU_ASSERT_STRING_EQUAL(P.r[i].json, js[i]);
        free(js[i]);
    }
    findings_free(f2);

    CU_ASSERT_EQUAL_FATAL(load(&c2, "sensor_id: sensor-b\n"), 0);
    struct findings *f3 = mk(&c2);
    findings_add(f3, &a);
    CU_ASSERT_EQUAL_FATAL(P.n, 1);
    CU_ASSERT_STRING_NOT_EQUAL(P.r[0].id, ids[0]);
    findings_free(f3);
    pubs_reset();
    cfg_free(&c);
    cfg_free(&c2);
}

static void test_ipv6(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    struct findings *f = mk(&c);
    struct finding_cand a = conn("2001:db8:1::5", "2001:db8:ffff::1", T0);
    a.direction = FC_INBOUND;
    a.role = FC_TARGET;
    a.local_port = 22;
    findings_add(f, &a);
    CU_ASSERT_EQUAL_FATAL(P.n, 1);
    CU_ASSERT_STRING_EQUAL(P.r[0].instance_id, "i-0six");
    CU_ASSERT(has(0, "\"networkInterfaces\":[{\"networkInterfaceId\":\"\","
                     "\"privateIpAddress\":\"\",\"ipv6Addresses\":[\"2001:db8:1::5\"]"));
    CU_ASSERT(has(0, "\"connectionDirection\":\"INBOUND\""));
    CU_ASSERT(has(0, "\"localIpDetails\":{\"ipAddressV6\":\"2001:db8:1::5\"},"
                     "\"localPortDetails\":{\"port\":22,\"portName\":\"SSH\"}"));
    CU_ASSERT(has(0, "\"remoteIpDetails\":{\"ipAddressV6\":\"2001:db8:ffff::1\"}"));
    CU_ASSERT(has(0, "\"resourceRole\":\"TARGET\""));
    CU_ASSERT(has(0, "is being contacted by 2001:db8:ffff::1"));
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

static void test_dns_shape(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    struct findings *f = mk(&c);
    struct finding_cand a = dnsq("10.0.1.17", "a.b.evil.example", T0);
    struct finding_cand b = dnsq("10.0.1.17", "a.b.evil.example", T0 + SEC);
    b.remote = A("10.0.0.3");               /* another resolver: same finding */
    struct finding_cand d = dnsq("10.0.1.17", "c.evil.example", T0 + SEC);
    d.proto = 6;
    findings_add(f, &a);
    findings_add(f, &b);
    findings_add(f, &d);
    CU_ASSERT_EQUAL_FATAL(P.n, 2);
    CU_ASSERT(has(0, "\"action\":{\"actionType\":\"DNS_REQUEST\",\"dnsRequestAction\":"
                     "{\"domain\":\"a.b.evil.example\",\"domainWithSuffix\":"
                     "\"evil.example\",\"protocol\":\"UDP\",\"blocked\":false}}"));
    CU_ASSERT(has(0, "\"threatNames\":[\"*.evil.example\"]"));
    CU_ASSERT(has(0, "\"description\":\"EC2 instance i-0web is querying "
                     "a.b.evil.example, a domain name on the threat list 'feodo'.\""));
    CU_ASSERT(has(1, "\"domain\":\"c.evil.example\",\"domainWithSuffix\":"
                     "\"evil.example\",\"protocol\":\"TCP\""));
    CU_ASSERT(strstr(P.r[0].json, "networkConnectionAction") == NULL);

    /* No addresses at all (family 0): the session names the instance. */
    struct finding_cand n = dnsq("10.0.1.17", "evil.example", T0);
    n.family = 0;
    memset(&n.local, 0, sizeof(n.local));
    n.vni = 7;
    findings_add(f, &n);
    CU_ASSERT_EQUAL_FATAL(P.n, 3);
    CU_ASSERT_STRING_EQUAL(P.r[2].instance_id, "i-0sess");
    CU_ASSERT(has(2, "\"domainWithSuffix\":\"evil.example\""));
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

static void test_port_probe_shape(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    struct findings *f = mk(&c);
    struct finding_cand a = conn("10.0.1.17", "198.51.100.1", T0);
    snprintf(a.type, sizeof(a.type), "Recon:EC2/PortProbeUnprotectedPort");
    a.action = FC_PORT_PROBE;
    a.role = FC_TARGET;
    a.direction = FC_INBOUND;
    a.n_probes = 2;
    a.probes[0].local_port = 22;
    a.probes[0].family = 4;
    a.probes[0].remote = A("198.51.100.1");
    a.probes[1].local_port = 3389;
    a.probes[1].family = 4;
    a.probes[1].remote = A("198.51.100.2");
    a.list_name[0] = '\0';
    a.info[0] = '\0';
    findings_add(f, &a);
    CU_ASSERT_EQUAL_FATAL(P.n, 1);
    CU_ASSERT(has(0, "\"action\":{\"actionType\":\"PORT_PROBE\",\"portProbeAction\":"
                     "{\"blocked\":false,\"portProbeDetails\":[{\"localPortDetails\":"
                     "{\"port\":22,\"portName\":\"SSH\"},\"localIpDetails\":"
                     "{\"ipAddressV4\":\"10.0.1.17\"},\"remoteIpDetails\":{\"ipAddressV4\":"
                     "\"198.51.100.1\"}},{\"localPortDetails\":{\"port\":3389,"
                     "\"portName\":\"RDP\"},\"localIpDetails\":{\"ipAddressV4\":"
                     "\"10.0.1.17\"},\"remoteIpDetails\":{\"ipAddressV4\":"
                     "\"198.51.100.2\"}}]}}"));
    CU_ASSERT(strstr(P.r[0].json, "\"evidence\"") == NULL);    /* no list */
    CU_ASSERT(has(0, "\"additionalInfo\":{\"value\":\"{}\",\"type\":\"default\"}"));
    CU_ASSERT(has(0, "\"title\":\"Unprotected port on EC2 instance i-0web is being "
                     "probed.\""));
    CU_ASSERT(has(0, "on ports 22 (SSH), 3389 (RDP)."));

    /* A later occurrence with more probes outgrows the first one's room. */
    a.n_probes = 8;
    for (int i = 2; i < 8; i++) {
        a.probes[i].local_port = (uint16_t)(6379 + i);
        a.probes[i].family = 4;
        a.probes[i].remote = A("198.51.100.3");
    }
    snprintf(a.info, sizeof(a.info), "\"probes\":8");
    a.ts_ns = T0 + 100 * SEC;
    findings_add(f, &a);
    findings_flush(f);
    CU_ASSERT_EQUAL_FATAL(P.n, 2);
    CU_ASSERT(has(1, "{\"port\":6386,\"portName\":\"Unknown\"}"));
    CU_ASSERT(has(1, "\"value\":\"{\\\"probes\\\":8}\""));
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

static int trusted_fn(void *arg, const struct finding_cand *fc)
{
    const struct mg_addr *t = arg;
    return !memcmp(&fc->remote, t, sizeof(*t));
}

static void test_trusted(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    struct findings *f = mk(&c);
    struct mg_addr t = A("203.0.113.9");
    findings_set_trusted(f, trusted_fn, &t);
    struct finding_cand a = conn("10.0.1.17", "203.0.113.9", T0);
    struct finding_cand b = conn("10.0.1.17", "203.0.113.10", T0);
    findings_add(f, &a);
    findings_add(f, &a);
    findings_add(f, &b);
    CU_ASSERT_EQUAL_FATAL(P.n, 1);
    CU_ASSERT(has(0, "203.0.113.10"));
    struct findings_stats st;
    stats(f, &st);
    CU_ASSERT_EQUAL(st.candidates, 3);
    CU_ASSERT_EQUAL(st.trusted_dropped, 2);
    CU_ASSERT_EQUAL(st.created, 1);
    findings_set_trusted(f, NULL, NULL);
    findings_add(f, &a);
    CU_ASSERT_EQUAL(P.n, 2);
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

/* Each criterion, matching and not. */
enum mod { M_NONE, M_TYPE, M_SEV8, M_SEV7, M_LOCAL5, M_REMOTE198, M_PORT80,
           M_INBOUND, M_TARGET, M_DOM_SUB, M_DOM_OTHER, M_DOM_UPPER, M_DOM_APEX,
           M_UNKNOWN_DIR, M_PROBE198 };

static struct finding_cand cand(int dns, enum mod m)
{
    struct finding_cand fc = dns ? dnsq("10.0.1.17", "evil.example", T0)
                                 : conn("10.0.1.17", "203.0.113.5", T0);
    switch (m) {
    case M_NONE: break;
    case M_TYPE: snprintf(fc.type, sizeof(fc.type), "Recon:EC2/Portscan"); break;
    case M_SEV8: fc.severity = 8; break;
    case M_SEV7: fc.severity = 7; break;
    case M_LOCAL5: fc.local = A("10.0.1.5"); break;
    case M_REMOTE198: fc.remote = A("198.51.100.5"); break;
    case M_PORT80: fc.remote_port = 80; break;
    case M_INBOUND: fc.direction = FC_INBOUND; break;
    case M_UNKNOWN_DIR: fc.direction = FC_UNKNOWN_DIR; break;
    case M_TARGET: fc.role = FC_TARGET; break;
    case M_DOM_SUB: snprintf(fc.domain, sizeof(fc.domain), "x.evil.example"); break;
    case M_DOM_OTHER: snprintf(fc.domain, sizeof(fc.domain), "evil.example.com"); break;
    case M_DOM_UPPER: snprintf(fc.domain, sizeof(fc.domain), "EVIL.Example."); break;
    case M_DOM_APEX: snprintf(fc.domain, sizeof(fc.domain), "notevil.example"); break;
    case M_PROBE198:
        fc.action = FC_PORT_PROBE;
        fc.remote = A("203.0.113.77");
        fc.n_probes = 1;
        fc.probes[0].family = 4;
        fc.probes[0].local_port = 22;
        fc.probes[0].remote = A("198.51.100.9");
        break;
    }
    return fc;
}

static int archived_for(const char *criteria, int dns, enum mod m)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml), "%ssuppression_rules:\n"
             "  - name: r1\n"
             "    criteria: %s\n", cfg_basic, criteria);
    struct cfg c;
    if (load(&c, yaml)) {
        CU_FAIL("rule did not load");
        return -1;
    }
    struct findings *f = mk(&c);
    struct finding_cand fc = cand(dns, m);
    findings_add(f, &fc);
    int r = P.n == 1 ? P.r[0].archived : -1;
    if (r == 1 && !strstr(P.r[0].json, "\"archived\":true"))
        r = -2;
    if (r == 0 && !strstr(P.r[0].json, "\"archived\":false"))
        r = -2;
    struct findings_stats st;
    stats(f, &st);
    if ((uint64_t)(r == 1) != st.archived)
        r = -3;
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
    return r;
}

static void test_suppression(void)
{
    static const struct {
        const char *criteria;
        int dns;
        enum mod yes, no;
    } t[] = {
        { "{type: [\"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom\", X:Y/Z]}", 0, M_NONE, M_TYPE },
        { "{severity_min: 4, severity_max: 6}", 0, M_NONE, M_SEV8 },
        { "{severity_min: 6.5}", 0, M_SEV7, M_NONE },
        { "{severity_max: 7.0}", 0, M_SEV7, M_SEV8 },
        { "{instance_id: [i-0other, i-0web]}", 0, M_NONE, M_LOCAL5 },
        { "{tags: [{key: env, value: prod}]}", 0, M_NONE, M_LOCAL5 },
        { "{tags: [{key: env, value: test}, {key: Name}]}", 0, M_NONE, M_LOCAL5 },
        { "{tags: [{key: env, value: test}]}", 0, M_LOCAL5, M_NONE },  /* never */
        { "{local_ip: [\"10.0.1.16/30\", \"2001:db8::/32\"]}", 0, M_NONE, M_LOCAL5 },
        { "{remote_ip: [203.0.113.0/24]}", 0, M_NONE, M_REMOTE198 },
        { "{remote_ip: [198.51.100.0/24]}", 0, M_PROBE198, M_NONE },
        { "{remote_port: [8443, 443]}", 0, M_NONE, M_PORT80 },
        { "{domain: [\"*.evil.example\"]}", 1, M_DOM_SUB, M_DOM_OTHER },
        { "{domain: [\"*.evil.example\"]}", 1, M_NONE, M_DOM_APEX },
        { "{domain: [evil.example]}", 1, M_DOM_UPPER, M_DOM_SUB },
        { "{direction: [INBOUND]}", 0, M_INBOUND, M_NONE },
        { "{direction: [OUTBOUND, INBOUND]}", 0, M_NONE, M_UNKNOWN_DIR },
        { "{resource_role: [TARGET]}", 0, M_TARGET, M_NONE },
        { "{resource_role: [ACTOR]}", 0, M_NONE, M_TARGET },
        /* AND across criteria */
        { "{remote_port: [443], direction: [OUTBOUND]}", 0, M_NONE, M_INBOUND },
        { "{remote_port: [443], direction: [OUTBOUND]}", 0, M_NONE, M_PORT80 },
    };
    for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int y = archived_for(t[i].criteria, t[i].dns, t[i].yes);
        int n = archived_for(t[i].criteria, t[i].dns, t[i].no);
        bool never = strstr(t[i].criteria, "value: test}]") != NULL;
        CU_ASSERT_EQUAL(y, never ? 0 : 1);
        CU_ASSERT_EQUAL(n, 0);
        if (y != (never ? 0 : 1) || n != 0)
            fprintf(stderr, "\nrule %s: match case %d, non-match case %d\n",
                    t[i].criteria, y, n);
    }
}

/* Full: the least recently updated finding goes, its pending update
 * published first. */
static void test_eviction(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    CU_ASSERT_EQUAL_FATAL(c.findings.max_findings, 16);
    struct findings *f = mk(&c);
    char ip[32];
    struct finding_cand fc;
    for (int i = 1; i <= 16; i++) {
        snprintf(ip, sizeof(ip), "203.0.113.%d", i);
        fc = conn("10.0.1.17", ip, T0 + (uint64_t)i * SEC);
        findings_add(f, &fc);
    }
    CU_ASSERT_EQUAL_FATAL(P.n, 16);
    char first[40], third[40];
    strcpy(first, P.r[0].id);
    strcpy(third, P.r[2].id);
    /* Update 1, then 2..16: 1 is the least recently updated and pending. */
    for (int i = 1; i <= 16; i++) {
        snprintf(ip, sizeof(ip), "203.0.113.%d", i);
        fc = conn("10.0.1.17", ip, T0 + (uint64_t)(20 + i) * SEC);
        findings_add(f, &fc);
    }
    CU_ASSERT_EQUAL(P.n, 16);
    fc = conn("10.0.1.17", "203.0.113.17", T0 + 40 * SEC);
    findings_add(f, &fc);
    CU_ASSERT_EQUAL_FATAL(P.n, 18);
    CU_ASSERT_STRING_EQUAL(P.r[16].id, first);      /* its update, then gone */
    CU_ASSERT_EQUAL(P.r[16].count, 2);
    CU_ASSERT_EQUAL(P.r[16].is_new, 0);
    CU_ASSERT_EQUAL(P.r[17].is_new, 1);
    CU_ASSERT(has(17, "203.0.113.17"));
    struct findings_stats st;
    stats(f, &st);
    CU_ASSERT_EQUAL(st.evicted, 1);
    CU_ASSERT_EQUAL(st.in_memory, 16);

    /* Evicted and seen again: the same id, new again, count from 1. */
    fc = conn("10.0.1.17", "203.0.113.1", T0 + 50 * SEC);
    findings_add(f, &fc);
    CU_ASSERT_EQUAL_FATAL(P.n, 20);     /* 2 made room: its pending update first */
    CU_ASSERT(has(18, "\"ipAddressV4\":\"203.0.113.2\""));
    CU_ASSERT_EQUAL(P.r[18].count, 2);
    CU_ASSERT_EQUAL(P.r[19].is_new, 1);
    CU_ASSERT_STRING_EQUAL(P.r[19].id, first);
    CU_ASSERT_EQUAL(P.r[19].count, 1);
    stats(f, &st);
    CU_ASSERT_EQUAL(st.evicted, 2);
    CU_ASSERT_EQUAL(st.in_memory, 16);
    findings_flush(f);                          /* 3..16 pending */
    CU_ASSERT_EQUAL_FATAL(P.n, 20 + 14);
    CU_ASSERT_STRING_EQUAL(P.r[20].id, third);  /* due order = pending order */
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

/* SIGHUP: new rules and assets, same findings. */
static void test_reload(void)
{
    struct cfg a, b;
    char yaml[2048];
    CU_ASSERT_EQUAL_FATAL(load(&a, cfg_basic), 0);
    snprintf(yaml, sizeof(yaml), "%s"
             "suppression_rules:\n"
             "  - {name: mute, criteria: {remote_ip: [203.0.113.5]}}\n",
             "account_id: \"123456789012\"\nsensor_id: sensor-a\n"
             "region: eu-west-1\n"
             "findings: {publishing_frequency: 60, max_findings: 16}\n"
             "assets: [{cidr: 10.0.1.17, instance_id: i-0new}]\n");
    CU_ASSERT_EQUAL_FATAL(load(&b, yaml), 0);

    struct findings *f = mk(&a);
    struct finding_cand fc = conn("10.0.1.17", "203.0.113.5", T0);
    findings_add(f, &fc);
    CU_ASSERT_EQUAL_FATAL(P.n, 1);
    CU_ASSERT_EQUAL(P.r[0].archived, 0);
    char id[40];
    strcpy(id, P.r[0].id);
    /* A pending update of the old resource survives the reload. */
    fc.ts_ns = T0 + SEC;
    findings_add(f, &fc);

    findings_reload_rules(f, &b);
    cfg_free(&a);                               /* the old one may go now */
    findings_flush(f);
    CU_ASSERT_EQUAL_FATAL(P.n, 2);
    CU_ASSERT_STRING_EQUAL(P.r[1].id, id);
    CU_ASSERT_STRING_EQUAL(P.r[1].instance_id, "i-0web");
    CU_ASSERT(has(1, "{\"key\":\"Name\",\"value\":\"web-1\"}"));

    /* Now the same traffic maps to i-0new and is archived. */
    fc.ts_ns = T0 + 2 * SEC;
    findings_add(f, &fc);
    CU_ASSERT_EQUAL_FATAL(P.n, 3);
    CU_ASSERT_STRING_EQUAL(P.r[2].instance_id, "i-0new");
    CU_ASSERT_STRING_NOT_EQUAL(P.r[2].id, id);
    CU_ASSERT_EQUAL(P.r[2].archived, 1);
    CU_ASSERT(has(2, "\"archived\":true"));
    struct findings_stats st;
    stats(f, &st);
    CU_ASSERT_EQUAL(st.archived, 1);
    CU_ASSERT_EQUAL(st.in_memory, 2);

    /* Back to no rules: the next update un-archives it. */
    struct cfg d;
    CU_ASSERT_EQUAL_FATAL(load(&d, "assets: [{cidr: 10.0.1.17, instance_id: i-0new}]\n"), 0);
    findings_reload_rules(f, &d);
    cfg_free(&b);
    fc.ts_ns = T0 + 3 * SEC;
    findings_add(f, &fc);
    findings_flush(f);
    CU_ASSERT_EQUAL_FATAL(P.n, 4);
    CU_ASSERT_EQUAL(P.r[3].archived, 0);
    CU_ASSERT_EQUAL(P.r[3].count, 2);
    findings_free(f);
    pubs_reset();
    cfg_free(&d);
}

static void test_flush(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    struct findings *f = mk(&c);
    struct finding_cand a = conn("10.0.1.17", "203.0.113.5", T0);
    struct finding_cand b = conn("10.0.1.17", "203.0.113.6", T0);
    findings_add(f, &a);
    findings_add(f, &b);
    findings_flush(f);
    CU_ASSERT_EQUAL(P.n, 2);                    /* nothing pending */
    a.ts_ns = b.ts_ns = T0 + SEC;
    findings_add(f, &b);
    findings_add(f, &a);
    findings_add(f, &a);
    findings_flush(f);
    CU_ASSERT_EQUAL_FATAL(P.n, 4);
    CU_ASSERT_STRING_EQUAL(P.r[2].id, P.r[1].id);   /* b became pending first */
    CU_ASSERT_EQUAL(P.r[2].count, 2);
    CU_ASSERT_STRING_EQUAL(P.r[3].id, P.r[0].id);
    CU_ASSERT_EQUAL(P.r[3].count, 3);
    findings_flush(f);
    CU_ASSERT_EQUAL(P.n, 4);
    struct findings_stats st;
    stats(f, &st);
    CU_ASSERT_EQUAL(st.published, 4);
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

/* Assets (longest CIDR) beat the mirror session; the session describes
 * what no asset does; nothing describes an unknown address. */
static void test_resource_mapping(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    struct findings *f = mk(&c);
    struct finding_cand fc = conn("10.0.1.17", "203.0.113.5", T0);
    fc.vni = 7;
    findings_add(f, &fc);
    fc.local = A("10.0.1.5");
    findings_add(f, &fc);
    fc.local = A("10.9.9.9");
    findings_add(f, &fc);
    fc.vni = 0;
    fc.local = A("10.9.9.8");
    findings_add(f, &fc);
    fc.vni = 99;                                /* no such session */
    fc.local = A("10.9.9.7");
    findings_add(f, &fc);
    CU_ASSERT_EQUAL_FATAL(P.n, 5);
    CU_ASSERT_STRING_EQUAL(P.r[0].instance_id, "i-0web");      /* /32 */
    CU_ASSERT(has(0, "\"accountId\":\"210987654321\""));         /* the session's */
    CU_ASSERT(has(0, "\"networkInterfaceId\":\"eni-0web\""));
    CU_ASSERT_STRING_EQUAL(P.r[1].instance_id, "i-0subnet");   /* /24 */
    CU_ASSERT_STRING_EQUAL(P.r[2].instance_id, "i-0sess");     /* session */
    CU_ASSERT(has(2, "\"instanceDetails\":{\"instanceId\":\"i-0sess\",\"tags\":"
                     "[{\"key\":\"team\",\"value\":\"blue\"}],\"networkInterfaces\":"
                     "[{\"networkInterfaceId\":\"eni-0sess\",\"privateIpAddress\":"
                     "\"10.9.9.9\",\"ipv6Addresses\":[],\"subnetId\":\"subnet-0s\","
                     "\"vpcId\":\"vpc-0s\"}]}"));
    CU_ASSERT(has(2, ":210987654321:detector/sensor-a/finding/"));
    for (int i = 3; i < 5; i++) {
        CU_ASSERT_STRING_EQUAL(P.r[i].instance_id, "");
        CU_ASSERT(has(i, "\"instanceDetails\":{\"instanceId\":\"\",\"tags\":[],"
                         "\"networkInterfaces\":[{\"networkInterfaceId\":\"\","
                         "\"privateIpAddress\":\"10.9.9."));
        CU_ASSERT(has(i, "\"accountId\":\"123456789012\""));
        CU_ASSERT(has(i, "\"description\":\"Host 10.9.9."));
    }
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

/* Whatever the strings hold, the JSON stays valid. */
static void test_escaping(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, "sensor_id: \"s\\\"q\"\n"), 0);
    struct findings *f = mk(&c);
    struct finding_cand fc = dnsq("10.0.1.17", "x", T0);
    snprintf(fc.type, sizeof(fc.type), "Odd:EC2/\"quoted\"\\back\x01\t");
    snprintf(fc.domain, sizeof(fc.domain), "\xff\xfe.b\xc3\xbc" "cher.example");
    snprintf(fc.list_name, sizeof(fc.list_name), "it's \"x\"");
    snprintf(fc.info, sizeof(fc.info), "\"broken\":");          /* not JSON */
    memset(fc.list_entry, 'A', sizeof(fc.list_entry));          /* no NUL */
    fc.severity = NAN;
    findings_add(f, &fc);
    CU_ASSERT_EQUAL_FATAL(P.n, 1);
    CU_ASSERT(has(0, "\"type\":\"Odd:EC2/\\\"quoted\\\"\\\\back\\u0001\\t\""));
    CU_ASSERT(has(0, "\"domain\":\"\\u00ff\\u00fe.b\xc3\xbc" "cher.example\""));
    CU_ASSERT(has(0, "\"detectorId\":\"s\\\"q\""));
    CU_ASSERT(has(0, "\"value\":\"{\\\"broken\\\":}\""));
    CU_ASSERT(has(0, "\"severity\":0.0"));
    char want[FC_LIST_LEN + 8];
    snprintf(want, sizeof(want), "[\"%.*s\"]", FC_LIST_LEN - 1,
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    CU_ASSERT(has(0, want));
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

/* python3's json module agrees that every shape is valid JSON. */
static void test_python(void)
{
    if (system("python3 -c 'import json' >/dev/null 2>&1") != 0) {
        fprintf(stderr, "\n(python3 missing: skipped)\n");
        return;
    }
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c, cfg_basic), 0);
    struct findings *f = mk(&c);
    struct finding_cand a = conn("10.0.1.17", "203.0.113.5", T0);
    struct finding_cand b = dnsq("10.0.1.5", "a.evil.example", T0);
    struct finding_cand d = conn("2001:db8:1::5", "2001:db8:ffff::1", T0);
    struct finding_cand e = cand(0, M_PROBE198);
    findings_add(f, &a);
    findings_add(f, &b);
    findings_add(f, &d);
    findings_add(f, &e);
    CU_ASSERT_EQUAL_FATAL(P.n, 4);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys\n"
             "for l in sys.stdin:\n"
             "    o=json.loads(l); assert o[\"schemaVersion\"]==\"2.0\"' 2>&1");
    FILE *p = popen(cmd, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    for (unsigned i = 0; i < P.n; i++)
        fprintf(p, "%s\n", P.r[i].json);
    CU_ASSERT_EQUAL(pclose(p), 0);
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

/* The YAML side: every criterion parses into the struct. */
static void test_cfg_rules(void)
{
    struct cfg c;
    CU_ASSERT_EQUAL_FATAL(load(&c,
        "findings: {publishing_frequency: ONE_HOUR, max_findings: 5000, partition: aws-cn}\n"
        "suppression_rules:\n"
        "  - name: all\n"
        "    action: archive\n"
        "    criteria:\n"
        "      type: [Recon:EC2/Portscan]\n"
        "      severity_min: 2.5\n"
        "      severity_max: 7\n"
        "      instance_id: [i-1, i-2]\n"
        "      tags: [{key: env, value: test}, {key: owner}]\n"
        "      local_ip: [10.0.0.0/8]\n"
        "      remote_ip: [\"2001:db8::/32\"]\n"
        "      remote_port: [22, 3389]\n"
        "      domain: [\"*.example.com\", example.org]\n"
        "      direction: [INBOUND]\n"
        "      resource_role: [TARGET, ACTOR]\n"
        "  - name: second\n"
        "    criteria: {severity_max: 2}\n"), 0);
    CU_ASSERT_EQUAL(cfg_publishing_seconds(c.findings.publishing_frequency), 3600);
    CU_ASSERT_EQUAL(c.findings.max_findings, 5000);
    CU_ASSERT_STRING_EQUAL(c.findings.partition, "aws-cn");
    CU_ASSERT_EQUAL_FATAL(c.n_suppression_rules, 2);
    const struct cfg_suppression_rule *r = &c.suppression_rules[0];
    CU_ASSERT_STRING_EQUAL(r->name, "all");
    CU_ASSERT_STRING_EQUAL(r->action, "archive");
    CU_ASSERT_EQUAL(r->criteria.n_type, 1);
    CU_ASSERT_DOUBLE_EQUAL(r->criteria.severity_min, 2.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r->criteria.severity_max, 7, 1e-9);
    CU_ASSERT_EQUAL(r->criteria.n_instance_id, 2);
    CU_ASSERT_EQUAL_FATAL(r->criteria.n_tags, 2);
    CU_ASSERT_STRING_EQUAL(r->criteria.tags[1].key, "owner");
    CU_ASSERT_STRING_EQUAL(r->criteria.tags[1].value, "");
    CU_ASSERT_EQUAL(r->criteria.n_local_ip, 1);
    CU_ASSERT_EQUAL(r->criteria.remote_ip[0].family, 6);
    CU_ASSERT_EQUAL(r->criteria.n_remote_port, 2);
    CU_ASSERT_EQUAL(r->criteria.remote_port[1], 3389);
    CU_ASSERT_EQUAL(r->criteria.n_domain, 2);
    CU_ASSERT_EQUAL(r->criteria.n_direction, 1);
    CU_ASSERT_EQUAL(r->criteria.n_resource_role, 2);
    r = &c.suppression_rules[1];
    CU_ASSERT_STRING_EQUAL(r->action, "archive");
    CU_ASSERT_DOUBLE_EQUAL(r->criteria.severity_min, 0, 1e-9);
    CU_ASSERT_EQUAL(r->criteria.n_type, 0);
    cfg_free(&c);

    CU_ASSERT_EQUAL(cfg_publishing_seconds("FIFTEEN_MINUTES"), 900);
    CU_ASSERT_EQUAL(cfg_publishing_seconds("SIX_HOURS"), 21600);
    CU_ASSERT_EQUAL(cfg_publishing_seconds("1"), 1);
    CU_ASSERT_EQUAL(cfg_publishing_seconds("86400"), 86400);
    CU_ASSERT_EQUAL(cfg_publishing_seconds("0"), 0);
    CU_ASSERT_EQUAL(cfg_publishing_seconds("86401"), 0);
    CU_ASSERT_EQUAL(cfg_publishing_seconds("-5"), 0);
    CU_ASSERT_EQUAL(cfg_publishing_seconds("fifteen_minutes"), 0);
    CU_ASSERT_EQUAL(cfg_publishing_seconds(""), 0);
    CU_ASSERT_EQUAL(cfg_publishing_seconds(NULL), 0);

    /* A configuration that did not come from cfg_load: refused, no crash. */
    struct cfg z;
    memset(&z, 0, sizeof(z));
    CU_ASSERT_PTR_NULL(findings_new(&z, errbuf, sizeof(errbuf)));
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "publishing_frequency"));
    CU_ASSERT_PTR_NULL(findings_new(&z, NULL, 0));
    findings_free(NULL);

    /* The default frequency, in packet time: 899 s no, 900 s yes. */
    CU_ASSERT_EQUAL_FATAL(load(&c, NULL), 0);
    struct findings *f = mk(&c);
    struct finding_cand fc = conn("10.0.1.17", "203.0.113.5", T0);
    findings_add(f, &fc);
    fc.ts_ns = T0 + 10 * SEC;
    findings_add(f, &fc);
    findings_tick(f, T0 + 899 * SEC);
    CU_ASSERT_EQUAL(P.n, 1);
    findings_tick(f, T0 + 900 * SEC);
    CU_ASSERT_EQUAL(P.n, 2);
    CU_ASSERT(has(0, "\"accountId\":\"000000000000\",\"region\":\"us-east-1\","
                     "\"partition\":\"aws\""));
    findings_free(f);
    pubs_reset();
    cfg_free(&c);
}

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mg-findings-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
    pubs_reset();
    return rmdir(tmpdir);
}

/* The output's number formatting (obuf.h, two digits a division) against
 * printf: every power of ten and its neighbours, the largest value, and a
 * spread of random ones. */
static void
test_ob_u64(void)
{
    struct obuf *o = calloc(1, sizeof(*o));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    char want[32];
    unsigned bad = 0, n = 0;
    uint64_t x = 88172645463325252ull;
    for (int k = 0; k < 2000; k++) {
        uint64_t v;
        if (k < 60) {
            uint64_t p = 1;
            for (int i = 0; i < k / 3; i++)
                p *= 10;
            v = p + (uint64_t)(k % 3) - 1;          /* 10^i - 1, 10^i, 10^i + 1 */
        } else if (k == 60) {
            v = UINT64_MAX;
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v = x >> (k % 64);
        }
        o->len = 0;
        ob_u64(o, v);
        snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
        bad += o->len != strlen(want) || memcmp(o->b, want, o->len) != 0;
        n++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(n, 2000);
    free(o);
}

int test_findings_register(void)
{
    CU_pSuite s = CU_add_suite("findings", suite_init, suite_clean);
    if (!s)
        return -1;
    if (!CU_add_test(s, "number formatting of the output (ob_u64)", test_ob_u64) ||
        !CU_add_test(s, "new finding published at once", test_new_finding) ||
        !CU_add_test(s, "repeats aggregate, updates per frequency",
                     test_aggregate_and_frequency) ||
        !CU_add_test(s, "aggregation key", test_keys) ||
        !CU_add_test(s, "stable ids", test_stable_ids) ||
        !CU_add_test(s, "IPv6", test_ipv6) ||
        !CU_add_test(s, "DNS_REQUEST shape", test_dns_shape) ||
        !CU_add_test(s, "PORT_PROBE shape", test_port_probe_shape) ||
        !CU_add_test(s, "trusted list drops", test_trusted) ||
        !CU_add_test(s, "suppression criteria", test_suppression) ||
        !CU_add_test(s, "eviction", test_eviction) ||
        !CU_add_test(s, "reload of rules and assets", test_reload) ||
        !CU_add_test(s, "flush", test_flush) ||
        !CU_add_test(s, "resource mapping", test_resource_mapping) ||
        !CU_add_test(s, "JSON escaping", test_escaping) ||
        !CU_add_test(s, "python3 json agrees", test_python) ||
        !CU_add_test(s, "configuration keys", test_cfg_rules))
        return -1;
    return 0;
}
