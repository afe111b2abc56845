/* tests/test_cfg.c - configuration loading: defaults, the shipped example
 * and minimal files, --set overrides, and every broken fixture in
 * tests/cfg/broken/ (NN-name.yaml + NN-name.expect, the substring its
 * message must contain, + optional NN-name.set, one override a line).
 * Run from tests/: fixture paths are relative to it. */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "cfg_int.h"

#define EXAMPLE "../config/mirrorguard.example.yaml"
#define MINIMAL "../config/minimal.yaml"
#define BROKEN "cfg/broken"

static char errbuf[65536];   /* 64 errors, each naming every top-level key */

/* Read a whole (small) file, NUL-terminated; NULL if it cannot be read. */
static char *slurp(const char *path, size_t *lenp)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0)
            break;
        if (len + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    fclose(f);
    if (b)
        b[len] = '\0';
    if (lenp)
        *lenp = len;
    return b;
}

static bool has_cidr(const struct cfg_cidr *c, unsigned n, const char *s)
{
    struct cfg_cidr want;
    if (cfg_parse_cidr(s, &want) < 0)
        return false;
    for (unsigned i = 0; i < n; i++)
        if (!memcmp(&c[i], &want, sizeof(want)))
            return true;
    return false;
}

/* Load and expect failure with 'want' somewhere in the messages. */
static void expect_fail(const char *path, const char *const *sets,
                        unsigned n_sets, const char *want)
{
    struct cfg c;
    int rc = cfg_load(&c, path, sets, n_sets, errbuf, sizeof(errbuf));
    CU_ASSERT_EQUAL(rc, -1);
    bool found = strstr(errbuf, want) != NULL;
    CU_ASSERT(found);
    if (rc != -1 || !found)
        fprintf(stderr, "\n%s: expected \"%s\"\n  got (rc %d): %s\n",
                path ? path : "(no file)", want, rc, errbuf);
    /* A failed load leaves c zeroed: freeing it is harmless. */
    CU_ASSERT_PTR_NULL(c.account_id);
    cfg_free(&c);
}

/* ---------------------------------------------------------------- tests */

static void test_defaults(void)
{
    struct cfg c;
    cfg_defaults(&c);
    CU_ASSERT_STRING_EQUAL(c.path, "");
    CU_ASSERT_STRING_EQUAL(c.account_id, "000000000000");
    CU_ASSERT_STRING_EQUAL(c.region, "us-east-1");
    CU_ASSERT_STRING_EQUAL(c.az_id, "");
    CU_ASSERT_STRING_EQUAL(c.sensor_id, "mirrorguard");
    CU_ASSERT_EQUAL(c.n_home_net, 4);
    CU_ASSERT(has_cidr(c.home_net, c.n_home_net, "10.0.0.0/8"));
    CU_ASSERT(has_cidr(c.home_net, c.n_home_net, "172.16.0.0/12"));
    CU_ASSERT(has_cidr(c.home_net, c.n_home_net, "192.168.0.0/16"));
    CU_ASSERT(has_cidr(c.home_net, c.n_home_net, "fc00::/7"));

    CU_ASSERT_STRING_EQUAL(c.capture.source, "pcap");
    CU_ASSERT_STRING_EQUAL(c.capture.interface, "");
    CU_ASSERT_EQUAL(c.capture.snaplen, 65535);
    CU_ASSERT_EQUAL(c.capture.buffer_mb, 64);
    CU_ASSERT_STRING_EQUAL(c.capture.bpf, "");
    CU_ASSERT(c.capture.promiscuous);
    CU_ASSERT(!c.capture.immediate);
    CU_ASSERT_EQUAL(c.capture.timeout_ms, 100);
    CU_ASSERT_EQUAL(c.capture.dpdk.n_eal_args, 0);
    CU_ASSERT_EQUAL(c.capture.dpdk.port, 0);
    CU_ASSERT_EQUAL(c.capture.dpdk.queues, 1);
    CU_ASSERT_EQUAL(c.capture.dpdk.mbufs, 8191);
    CU_ASSERT_EQUAL(c.capture.dpdk.handover_pool_percent, 25);
    CU_ASSERT_EQUAL(c.capture.dpdk.idle_sleep_us, 50);

    CU_ASSERT_EQUAL(c.decoder.n_vxlan_ports, 1);
    CU_ASSERT_EQUAL(c.decoder.vxlan_ports[0], 4789);
    CU_ASSERT_EQUAL(c.decoder.n_geneve_ports, 1);
    CU_ASSERT_EQUAL(c.decoder.geneve_ports[0], 6081);
    CU_ASSERT_EQUAL(c.decoder.max_depth, 3);
    CU_ASSERT(c.decoder.dedup_mirror_copies);

    CU_ASSERT_EQUAL(c.flows.max_flows, 1048576);
    CU_ASSERT_EQUAL(c.flows.active_timeout, 60);
    CU_ASSERT_EQUAL(c.flows.tcp_syn_timeout, 30);
    CU_ASSERT_EQUAL(c.flows.tcp_established_timeout, 300);
    CU_ASSERT_EQUAL(c.flows.tcp_closed_timeout, 5);
    CU_ASSERT_EQUAL(c.flows.udp_timeout, 60);
    CU_ASSERT_EQUAL(c.flows.icmp_timeout, 30);
    CU_ASSERT_EQUAL(c.flows.other_timeout, 60);

    CU_ASSERT(c.dns.enabled);
    CU_ASSERT_EQUAL(c.dns.n_ports, 1);
    CU_ASSERT_EQUAL(c.dns.ports[0], 53);
    CU_ASSERT(c.dns.tcp);
    CU_ASSERT_EQUAL(c.dns.max_pending, 65536);
    CU_ASSERT_EQUAL(c.dns.timeout_ms, 5000);
    CU_ASSERT_EQUAL(c.dns.max_tcp_streams, 1024);

    static const char *const ff[] = {
        "version", "account-id", "interface-id", "srcaddr", "dstaddr",
        "srcport", "dstport", "protocol", "packets", "bytes", "start", "end",
        "action", "log-status"
    };
    CU_ASSERT_EQUAL(c.outputs.n_flow_fields, 14);
    for (unsigned i = 0; i < 14 && i < c.outputs.n_flow_fields; i++)
        CU_ASSERT_STRING_EQUAL(c.outputs.flow_fields[i], ff[i]);
    CU_ASSERT_STRING_EQUAL(c.outputs.flows_path, "");
    CU_ASSERT_STRING_EQUAL(c.outputs.dns_path, "");
    CU_ASSERT_STRING_EQUAL(c.outputs.findings_path, "");
    CU_ASSERT_STRING_EQUAL(c.outputs.stats_json_path, "");
    CU_ASSERT_EQUAL(c.outputs.stats_interval, 60);
    CU_ASSERT_STRING_EQUAL(c.outputs.redis.url, "");
    CU_ASSERT_STRING_EQUAL(c.outputs.redis.stream, "mirrorguard:findings");
    CU_ASSERT_STRING_EQUAL(c.outputs.redis.channel, "mirrorguard:notify");
    CU_ASSERT_STRING_EQUAL(c.outputs.redis.spool_dir, "/var/lib/mirrorguard/spool");
    CU_ASSERT_STRING_EQUAL(c.outputs.redis.fsync, "batch");
    CU_ASSERT_EQUAL(c.outputs.redis.stream_maxlen, 100000);

    CU_ASSERT_STRING_EQUAL(c.lists.trusted, "");
    CU_ASSERT_EQUAL(c.lists.n_threat, 0);
    CU_ASSERT_EQUAL(c.n_assets, 0);
    CU_ASSERT_EQUAL(c.n_mirror_sessions, 0);
    CU_ASSERT_PTR_NULL(cfg_session_by_vni(&c, 0));

    CU_ASSERT_STRING_EQUAL(c.findings.publishing_frequency, "FIFTEEN_MINUTES");
    CU_ASSERT_EQUAL(cfg_publishing_seconds(c.findings.publishing_frequency), 900);
    CU_ASSERT_EQUAL(c.findings.max_findings, 100000);
    CU_ASSERT_STRING_EQUAL(c.findings.partition, "aws");
    CU_ASSERT_EQUAL(c.n_suppression_rules, 0);

    CU_ASSERT_EQUAL(c.workers, 1);
    CU_ASSERT_EQUAL(c.ring_size, 65536);
    CU_ASSERT(c.ring_block);
    cfg_free(&c);
    cfg_free(&c);               /* idempotent */
}

/* No file and no override: the same as cfg_defaults(). */
static void test_load_no_file(void)
{
    struct cfg c, d;
    char diff[2048];
    CU_ASSERT_EQUAL_FATAL(cfg_load(&c, NULL, NULL, 0, errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_STRING_EQUAL(errbuf, "");
    cfg_defaults(&d);
    CU_ASSERT_EQUAL(cfg_diff(&c, &d, diff, sizeof(diff)), 0);
    cfg_free(&c);
    cfg_free(&d);
}

/* The example sets every key to its default; only its sample assets and
 * mirror_sessions entries differ from the defaults. */
static void test_example(void)
{
    struct cfg c, d;
    char diff[4096];
    int rc = cfg_load(&c, EXAMPLE, NULL, 0, errbuf, sizeof(errbuf));
    if (rc)
        fprintf(stderr, "\n%s\n", errbuf);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(c.path, EXAMPLE);

    /* Compare with the samples taken out: the rest must be identical. */
    struct cfg_asset *a = c.assets;
    unsigned na = c.n_assets;
    struct cfg_mirror_session *m = c.mirror_sessions;
    unsigned nm = c.n_mirror_sessions;
    c.assets = NULL;
    c.n_assets = 0;
    c.mirror_sessions = NULL;
    c.n_mirror_sessions = 0;
    cfg_defaults(&d);
    unsigned n = cfg_diff(&c, &d, diff, sizeof(diff));
    CU_ASSERT_EQUAL(n, 0);
    if (n)
        fprintf(stderr, "\nexample differs from the defaults:\n%s", diff);
    cfg_free(&d);
    c.assets = a;
    c.n_assets = na;
    c.mirror_sessions = m;
    c.n_mirror_sessions = nm;

    CU_ASSERT_EQUAL_FATAL(c.n_assets, 1);
    struct cfg_cidr want;
    CU_ASSERT_EQUAL(cfg_parse_cidr("10.0.1.17", &want), 0);
    CU_ASSERT(!memcmp(&c.assets[0].cidr, &want, sizeof(want)));
    CU_ASSERT_STRING_EQUAL(c.assets[0].instance_id, "i-0123456789abcdef0");
    CU_ASSERT_STRING_EQUAL(c.assets[0].eni, "eni-0123456789abcdef0");
    CU_ASSERT_STRING_EQUAL(c.assets[0].subnet_id, "subnet-0123456789abcdef0");
    CU_ASSERT_STRING_EQUAL(c.assets[0].vpc_id, "vpc-0123456789abcdef0");
    CU_ASSERT_EQUAL_FATAL(c.assets[0].n_tags, 2);
    CU_ASSERT_STRING_EQUAL(c.assets[0].tags[0].key, "Name");
    CU_ASSERT_STRING_EQUAL(c.assets[0].tags[0].value, "web-1");
    CU_ASSERT_STRING_EQUAL(c.assets[0].tags[1].key, "env");
    CU_ASSERT_STRING_EQUAL(c.assets[0].tags[1].value, "prod");

    CU_ASSERT_EQUAL_FATAL(c.n_mirror_sessions, 2);
    const struct cfg_mirror_session *s = cfg_session_by_vni(&c, 101);
    CU_ASSERT_PTR_EQUAL_FATAL(s, &c.mirror_sessions[0]);
    CU_ASSERT_STRING_EQUAL(s->eni, "eni-0123456789abcdef0");
    CU_ASSERT_STRING_EQUAL(s->instance_id, "i-0123456789abcdef0");
    CU_ASSERT_STRING_EQUAL(s->account_id, "");
    CU_ASSERT_STRING_EQUAL(s->vpc_id, "vpc-0123456789abcdef0");
    CU_ASSERT_STRING_EQUAL(s->subnet_id, "subnet-0123456789abcdef0");
    CU_ASSERT_STRING_EQUAL(s->name, "tms-0123456789abcdef0");
    s = cfg_session_by_vni(&c, 102);
    CU_ASSERT_PTR_EQUAL_FATAL(s, &c.mirror_sessions[1]);
    CU_ASSERT_STRING_EQUAL(s->eni, "eni-0fedcba9876543210");
    CU_ASSERT_STRING_EQUAL(s->instance_id, "");     /* item defaults */
    CU_ASSERT_STRING_EQUAL(s->name, "");
    CU_ASSERT_PTR_NULL(cfg_session_by_vni(&c, 103));
    cfg_free(&c);
}

/* Every key of the schema appears in the example file (list item keys in
 * one of the sample items, or in the commented sample of an empty list;
 * lists may nest: suppression_rules[].criteria.tags[].key). */
struct doc_check {
    struct cfg_node *root;
    const char *text;
    unsigned missing, seen;
};

/* A commented sample line "#   name:" or "#  - name:". */
static bool doc_commented(const char *text, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
        const char *q = p + strspn(p, " ");
        if (*q++ != '#')
            continue;
        q += strspn(q, " ");
        if (q[0] == '-' && q[1] == ' ')
            q += 2 + strspn(q + 2, " ");
        if (!strncmp(q, name, nl) && q[nl] == ':')
            return true;
    }
    return false;
}

static bool doc_find(const struct cfg_node *at, const char *path, const char *text)
{
    const char *br = strstr(path, "[].");
    if (!br)
        return cfg_node_find(at, path) != NULL;
    char list[256];
    snprintf(list, sizeof(list), "%.*s", (int)(br - path), path);
    const char *sub = br + 3;
    const struct cfg_node *seq = cfg_node_find(at, list);
    if (!seq || seq->kind != CFG_SEQ)
        return false;
    for (unsigned i = 0; i < seq->n; i++)
        if (seq->kids[i]->kind == CFG_MAP && doc_find(seq->kids[i], sub, text))
            return true;
    if (seq->n == 0) {
        const char *leaf = strrchr(sub, '.');
        return doc_commented(text, leaf ? leaf + 1 : sub);
    }
    return false;
}

static void doc_one(const char *path, void *arg)
{
    struct doc_check *dc = arg;
    dc->seen++;
    if (!doc_find(dc->root, path, dc->text)) {
        dc->missing++;
        fprintf(stderr, "\n%s does not document %s", EXAMPLE, path);
    }
}

static void test_example_documents_every_key(void)
{
    size_t len;
    char *text = slurp(EXAMPLE, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    struct cfg_yaml_err ye;
    struct doc_check dc = { .text = text };
    CU_ASSERT_EQUAL_FATAL(cfg_yaml_parse(text, len, NULL, &dc.root, &ye), 0);
    cfg_schema_foreach(doc_one, &dc);
    CU_ASSERT(dc.seen >= 89);     /* the keys of the schema today */
    CU_ASSERT_EQUAL(dc.missing, 0);
    cfg_node_free(dc.root);
    free(text);
}

static void test_minimal(void)
{
    struct cfg c;
    int rc = cfg_load(&c, MINIMAL, NULL, 0, errbuf, sizeof(errbuf));
    if (rc)
        fprintf(stderr, "\n%s\n", errbuf);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(c.account_id, "123456789012");
    CU_ASSERT_STRING_EQUAL(c.capture.interface, "eth1");
    CU_ASSERT_STRING_EQUAL(c.outputs.findings_path, "-");
    CU_ASSERT_EQUAL(c.capture.snaplen, 65535);
    CU_ASSERT_PTR_NOT_NULL(cfg_session_by_vni(&c, 1));
    cfg_free(&c);
}

static void test_set_overrides(void)
{
    struct cfg c;
    const char *sets[] = {
        "flows.max_flows=2048",                 /* scalar */
        "decoder.vxlan_ports=[4789,8472]",      /* flow sequence */
        "outputs.redis.url=redis://h:1/0",      /* nested, ':' in a value */
        "capture.snaplen=1500",                 /* fixes the file's 10 */
        "capture.bpf=tcp port 443",             /* spaces */
        "capture.promiscuous=off",
        "home_net=[10.1.0.0/16, 2001:db8::/32]",
        "mirror_sessions.0.eni=eni-0fff",       /* into a file list item */
        "mirror_sessions.1.vni=11",             /* appends an item */
        "outputs.flow_fields=[srcaddr, dstaddr, tcp-flags]",
        "dns.ports=5353",                       /* one scalar: a list of one */
        "az_id=",                               /* empty: "" */
    };
    unsigned n = sizeof(sets) / sizeof(sets[0]);
    int rc = cfg_load(&c, "cfg/overrides-base.yaml", sets, n, errbuf,
                      sizeof(errbuf));
    if (rc)
        fprintf(stderr, "\n%s\n", errbuf);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(c.flows.max_flows, 2048);
    CU_ASSERT_EQUAL(c.decoder.n_vxlan_ports, 2);
    CU_ASSERT_EQUAL(c.decoder.vxlan_ports[0], 4789);
    CU_ASSERT_EQUAL(c.decoder.vxlan_ports[1], 8472);
    CU_ASSERT_STRING_EQUAL(c.outputs.redis.url, "redis://h:1/0");
    CU_ASSERT_EQUAL(c.capture.snaplen, 1500);
    CU_ASSERT_STRING_EQUAL(c.capture.bpf, "tcp port 443");
    CU_ASSERT_STRING_EQUAL(c.capture.interface, "eth1");   /* from the file */
    CU_ASSERT(!c.capture.promiscuous);
    CU_ASSERT_EQUAL(c.n_home_net, 2);
    CU_ASSERT(has_cidr(c.home_net, c.n_home_net, "2001:db8::/32"));
    CU_ASSERT_EQUAL_FATAL(c.n_mirror_sessions, 2);
    CU_ASSERT_EQUAL(c.mirror_sessions[0].vni, 10);
    CU_ASSERT_STRING_EQUAL(c.mirror_sessions[0].eni, "eni-0fff");
    CU_ASSERT_EQUAL(c.mirror_sessions[1].vni, 11);
    CU_ASSERT_EQUAL_FATAL(c.outputs.n_flow_fields, 3);
    CU_ASSERT_STRING_EQUAL(c.outputs.flow_fields[2], "tcp-flags");
    CU_ASSERT_EQUAL(c.dns.n_ports, 1);
    CU_ASSERT_EQUAL(c.dns.ports[0], 5353);
    CU_ASSERT_STRING_EQUAL(c.az_id, "");
    cfg_free(&c);

    /* Overrides alone, without a file; a later --set wins. */
    const char *sets2[] = { "workers=4", "workers=8", "lists.threat.0.name=feodo",
                            "lists.threat.0.path=/x.txt" };
    CU_ASSERT_EQUAL_FATAL(cfg_load(&c, NULL, sets2, 4, errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c.workers, 8);
    CU_ASSERT_EQUAL_FATAL(c.lists.n_threat, 1);
    CU_ASSERT_STRING_EQUAL(c.lists.threat[0].name, "feodo");
    CU_ASSERT_STRING_EQUAL(c.lists.threat[0].format, "txt");
    cfg_free(&c);
}

static void test_set_errors(void)
{
    const char *s1[] = { "capture.snaplenn=100" };
    expect_fail(NULL, s1, 1, "--set capture.snaplenn: capture.snaplenn: "
                "unknown key (did you mean snaplen?)");
    const char *s2[] = { "nosuchsection.key=1" };
    expect_fail(NULL, s2, 1, "--set nosuchsection.key: nosuchsection: unknown key");
    const char *s3[] = { "decoder.vxlan_ports=[4789,70000]" };
    expect_fail(NULL, s3, 1, "--set decoder.vxlan_ports: decoder.vxlan_ports[1]: "
                "must be between 1 and 65535 (got 70000)");
    const char *s4[] = { "workers" };
    expect_fail(NULL, s4, 1, "--set workers: expected key.path=value");
    const char *s5[] = { "flows..max_flows=1" };
    expect_fail(NULL, s5, 1, "--set flows..max_flows: bad key path");
    const char *s6[] = { "mirror_sessions.3.vni=1" };
    expect_fail(EXAMPLE, s6, 1, "--set mirror_sessions.3.vni: mirror_sessions: "
                "is a list: expected an index 0..2");
    const char *s7[] = { "ring_size=3000" };
    expect_fail(NULL, s7, 1, "--set ring_size: ring_size: must be a power of two");
    /* 0 turns it off; otherwise at least 2, as for burst_names */
    const char *s9[] = { "detect.dga.burst_names_low=1" };
    expect_fail(NULL, s9, 1, "--set detect.dga.burst_names_low: detect.dga.burst_names_low: "
                "must be 0 (off) or between 2 and 32 (got 1)");
    struct cfg c0;
    const char *s10[] = { "detect.dga.burst_names_low=0" };
    CU_ASSERT_EQUAL_FATAL(cfg_load(&c0, NULL, s10, 1, errbuf, sizeof(errbuf)), 0);
    CU_ASSERT_EQUAL(c0.detect.dga.burst_names_low, 0);
    cfg_free(&c0);
    /* The override's own VNI clashes with the file's. */
    const char *s8[] = { "mirror_sessions.1.vni=101" };
    expect_fail(EXAMPLE, s8, 1, "--set mirror_sessions.1.vni: mirror_sessions[1].vni: "
                "duplicate VNI 101");
}

static void test_multiple_errors(void)
{
    static const char *const want[] = {
        "multi-errors.yaml:2:10: workers: must be between 1 and 64 (got 0)",
        "multi-errors.yaml:4:12: capture.snaplen: must be between 64 and 262144 (got 12)",
        "multi-errors.yaml:5:3: capture.sorce: unknown key (did you mean source?)",
        "multi-errors.yaml:7:23: decoder.vxlan_ports[1]: must be between 1 and 65535 (got 0)",
        "multi-errors.yaml:11:10: mirror_sessions[1].vni: duplicate VNI 5",
    };
    struct cfg c;
    CU_ASSERT_EQUAL(cfg_load(&c, "cfg/multi-errors.yaml", NULL, 0, errbuf,
                             sizeof(errbuf)), -1);
    unsigned lines = 1;
    for (const char *p = errbuf; *p; p++)
        lines += *p == '\n';
    CU_ASSERT_EQUAL(lines, 5);
    for (unsigned i = 0; i < 5; i++) {
        CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, want[i]));
        if (!strstr(errbuf, want[i]))
            fprintf(stderr, "\nmissing \"%s\" in:\n%s\n", want[i], errbuf);
    }
    /* File errors and override errors together. */
    const char *sets[] = { "flows.max_flows=12" };
    CU_ASSERT_EQUAL(cfg_load(&c, "cfg/multi-errors.yaml", sets, 1, errbuf,
                             sizeof(errbuf)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "workers: must be"));
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "--set flows.max_flows: flows.max_flows: "
                                          "must be between 1024 and 268435456 (got 12)"));
}

/* A temporary file (path: a mkstemp() template) opened for writing. */
static FILE *tmp_file(char *path)
{
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    return f;
}

/* Many errors: capped, with a count of the rest; a small buffer: cut
 * with "...". */
static void test_error_cap_and_truncation(void)
{
    char path[] = "/tmp/mg-cfg-many-XXXXXX";
    FILE *f = tmp_file(path);
    for (int i = 0; i < 100; i++)
        fprintf(f, "bogus_key_%03d: %d\n", i, i);
    fclose(f);

    struct cfg c;
    CU_ASSERT_EQUAL(cfg_load(&c, path, NULL, 0, errbuf, sizeof(errbuf)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, ":1:1: bogus_key_000: unknown key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "... and 36 more errors"));

    char small[100];
    CU_ASSERT_EQUAL(cfg_load(&c, path, NULL, 0, small, sizeof(small)), -1);
    CU_ASSERT_EQUAL(strlen(small), sizeof(small) - 1);
    CU_ASSERT_STRING_EQUAL(small + sizeof(small) - 4, "...");
    CU_ASSERT_EQUAL(cfg_load(&c, path, NULL, 0, NULL, 0), -1);    /* no buffer */
    unlink(path);
}

/* A value quoted in a message keeps the message on one line: its control
 * characters are escaped (fuzz_config found a multi-line string splitting
 * a message into a line that named no place). */
static void test_error_one_line(void)
{
    char path[] = "/tmp/mg-cfg-ctl-XXXXXX";
    FILE *f = tmp_file(path);
    fputs("account_id: \"12\n\n# 34\"\nworkers: \"a\\tb\\x01\"\n", f);
    fclose(f);
    struct cfg c;
    CU_ASSERT_EQUAL(cfg_load(&c, path, NULL, 0, errbuf, sizeof(errbuf)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, ":1:13: account_id: \"12\\n# 34\" is not an AWS account id"));
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, ":4:10: workers: \"a\\tb\\x01\" is not an integer"));
    unsigned lines = 0;
    for (const char *l = errbuf; *l; l++)
        lines += *l == '\n';
    CU_ASSERT(lines <= 2);              /* two messages, however they end */
    unlink(path);
}

static void test_missing_and_unreadable(void)
{
    expect_fail("cfg/does-not-exist.yaml", NULL, 0,
                "cfg/does-not-exist.yaml: cannot open: No such file or directory");
    expect_fail(BROKEN, NULL, 0, "cfg/broken: cannot read: is a directory");
    /* Root reads any file; only test permissions when they apply. */
    if (geteuid() != 0) {
        char path[] = "/tmp/mg-cfg-unreadable-XXXXXX";
        int fd = mkstemp(path);
        CU_ASSERT_FATAL(fd >= 0);
        close(fd);
        chmod(path, 0);
        char want[128];
        snprintf(want, sizeof(want), "%s: cannot open: Permission denied", path);
        expect_fail(path, NULL, 0, want);
        unlink(path);
    }
}

static void test_parse_cidr(void)
{
    struct cfg_cidr c;
    static const uint8_t v4[4] = { 10, 1, 0, 0 };

    CU_ASSERT_EQUAL(cfg_parse_cidr("10.1.2.3/16", &c), 0);
    CU_ASSERT_EQUAL(c.family, 4);
    CU_ASSERT_EQUAL(c.prefix, 16);
    CU_ASSERT(!memcmp(c.addr, v4, 4));          /* host bits cleared */

    CU_ASSERT_EQUAL(cfg_parse_cidr("192.168.1.1", &c), 0);
    CU_ASSERT_EQUAL(c.family, 4);
    CU_ASSERT_EQUAL(c.prefix, 32);
    CU_ASSERT_EQUAL(c.addr[3], 1);

    CU_ASSERT_EQUAL(cfg_parse_cidr("0.0.0.0/0", &c), 0);
    CU_ASSERT_EQUAL(c.prefix, 0);
    CU_ASSERT_EQUAL(cfg_parse_cidr("255.255.255.255/1", &c), 0);
    CU_ASSERT_EQUAL(c.addr[0], 0x80);
    CU_ASSERT_EQUAL(c.addr[1], 0);

    CU_ASSERT_EQUAL(cfg_parse_cidr("2001:db8:ffff::1/32", &c), 0);
    CU_ASSERT_EQUAL(c.family, 6);
    CU_ASSERT_EQUAL(c.prefix, 32);
    static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
    CU_ASSERT(!memcmp(c.addr, v6, 16));

    CU_ASSERT_EQUAL(cfg_parse_cidr("fd00::abcd", &c), 0);
    CU_ASSERT_EQUAL(c.prefix, 128);
    CU_ASSERT_EQUAL(c.addr[15], 0xcd);
    CU_ASSERT_EQUAL(cfg_parse_cidr("fc00::/7", &c), 0);
    CU_ASSERT_EQUAL(c.addr[0], 0xfc);
    CU_ASSERT_EQUAL(cfg_parse_cidr("fdff::/7", &c), 0);
    CU_ASSERT_EQUAL(c.addr[0], 0xfc);           /* the 8th bit cleared */

    static const char *const bad[] = {
        "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
        "10.0.0", "10.0.0.256", "/8", "", "abc", "10.0.0.0 /8",
        "10.0.0.0/ 8", "2001:db8::g/32", "10.0.0.0/8/8", "10.0.0.0/0000000000033",
        "1234567890123456789012345678901234567890123456789012345678901234567890",
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = cfg_parse_cidr(bad[i], &c);
        CU_ASSERT_EQUAL(rc, -1);
        if (rc != -1)
            fprintf(stderr, "\ncfg_parse_cidr accepted \"%s\"\n", bad[i]);
    }
    CU_ASSERT_EQUAL(cfg_parse_cidr(NULL, &c), -1);
}

/* Each tests/cfg/broken/NN-name.yaml must fail with NN-name.expect. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_broken_fixtures(void)
{
    DIR *d = opendir(BROKEN);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    char *names[256];
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".yaml"))
            names[n++] = strndup(e->d_name, l - 5);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    CU_ASSERT(n >= 20);

    for (unsigned i = 0; i < n; i++) {
        char yaml[512], exp[512], set[512];
        snprintf(yaml, sizeof(yaml), "%s/%s.yaml", BROKEN, names[i]);
        snprintf(exp, sizeof(exp), "%s/%s.expect", BROKEN, names[i]);
        snprintf(set, sizeof(set), "%s/%s.set", BROKEN, names[i]);

        char *want = slurp(exp, NULL);
        CU_ASSERT_PTR_NOT_NULL(want);
        if (!want) {
            fprintf(stderr, "\n%s: no .expect file\n", yaml);
            free(names[i]);
            continue;
        }
        want[strcspn(want, "\n")] = '\0';
        CU_ASSERT(strlen(want) > 10);

        /* Optional overrides, one a line. */
        const char *sets[16];
        unsigned ns = 0;
        char *settext = slurp(set, NULL);
        for (char *p = settext, *nl; p && *p && ns < 16; p = nl + 1) {
            nl = p + strcspn(p, "\n");
            bool end = !*nl;
            *nl = '\0';
            if (*p)
                sets[ns++] = p;
            if (end)
                break;
        }
        expect_fail(yaml, sets, ns, want);
        free(settext);
        free(want);
        free(names[i]);
    }
}

/* Odd but valid inputs. */
static void test_edge_cases(void)
{
    char path[] = "/tmp/mg-cfg-edge-XXXXXX";
    FILE *f = tmp_file(path);
    fputs("---\n"
          "account_id: 012345678901     # leading zero kept: scalars are text\n"
          "capture: ~                   # null section: defaults\n"
          "home_net: []                 # nothing is inside\n"
          "decoder: {vxlan_ports: [4789, 8472, 4790], dedup_mirror_copies: No}\n"
          "dns: {enabled: OFF, ports: []}\n"
          "flows: {max_flows: +2048}\n"
          "mirror_sessions:\n"
          "  - {vni: 0, eni: eni-1, account_id: \"111122223333\"}\n"
          "  - {vni: 16777215}\n"
          "assets:\n"
          "  - cidr: 2001:db8::1\n"
          "    tags: {}\n"
          "lists:\n"
          "  threat:\n"
          "    - {name: x, path: /x, format: otx, category: c2}\n"
          "outputs:\n"
          "  redis: {url: \"unix:///run/redis.sock\"}\n"
          "...\n", f);
    fclose(f);

    struct cfg c;
    int rc = cfg_load(&c, path, NULL, 0, errbuf, sizeof(errbuf));
    unlink(path);
    if (rc)
        fprintf(stderr, "\n%s\n", errbuf);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(c.account_id, "012345678901");
    CU_ASSERT_EQUAL(c.capture.snaplen, 65535);
    CU_ASSERT_EQUAL(c.n_home_net, 0);
    CU_ASSERT_EQUAL(c.decoder.n_vxlan_ports, 3);
    CU_ASSERT(!c.decoder.dedup_mirror_copies);
    CU_ASSERT(!c.dns.enabled);
    CU_ASSERT_EQUAL(c.dns.n_ports, 0);
    CU_ASSERT_EQUAL(c.flows.max_flows, 2048);
    CU_ASSERT_PTR_NOT_NULL(cfg_session_by_vni(&c, 0));
    CU_ASSERT_PTR_NOT_NULL(cfg_session_by_vni(&c, 16777215));
    CU_ASSERT_EQUAL_FATAL(c.n_assets, 1);
    CU_ASSERT_EQUAL(c.assets[0].cidr.family, 6);
    CU_ASSERT_EQUAL(c.assets[0].cidr.prefix, 128);
    CU_ASSERT_EQUAL(c.assets[0].n_tags, 0);
    CU_ASSERT_EQUAL_FATAL(c.lists.n_threat, 1);
    CU_ASSERT_STRING_EQUAL(c.lists.threat[0].format, "otx");
    CU_ASSERT_STRING_EQUAL(c.outputs.redis.url, "unix:///run/redis.sock");
    cfg_free(&c);
}

int test_cfg_register(void)
{
    CU_pSuite s = CU_add_suite("cfg", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "defaults", test_defaults) ||
        !CU_add_test(s, "load without a file", test_load_no_file) ||
        !CU_add_test(s, "example file = defaults + samples", test_example) ||
        !CU_add_test(s, "example documents every key", test_example_documents_every_key) ||
        !CU_add_test(s, "minimal file", test_minimal) ||
        !CU_add_test(s, "--set overrides", test_set_overrides) ||
        !CU_add_test(s, "--set errors", test_set_errors) ||
        !CU_add_test(s, "all errors reported at once", test_multiple_errors) ||
        !CU_add_test(s, "error cap and truncation", test_error_cap_and_truncation) ||
        !CU_add_test(s, "a message stays on one line", test_error_one_line) ||
        !CU_add_test(s, "missing / unreadable file", test_missing_and_unreadable) ||
        !CU_add_test(s, "cfg_parse_cidr", test_parse_cidr) ||
        !CU_add_test(s, "broken fixtures", test_broken_fixtures) ||
        !CU_add_test(s, "edge cases", test_edge_cases))
        return -1;
    return 0;
}
