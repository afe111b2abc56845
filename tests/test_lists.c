/* tests/test_lists.c - detect/lists.c: the three file formats, comments and
 * malformed lines (counts and file:line warnings), exact / CIDR / longest
 * prefix lookups over both families, overlapping lists, domain exact and
 * wildcard semantics, odd names, empty and missing files, every real list
 * under ../../shared/data/intel/ (skipped when absent), and a randomized
 * cross-check of the lookups against a brute-force linear scan.
 *
 * Fixtures are written into a private mkdtemp() directory that the suite
 * removes at the end. Run from tests/. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lists.h"

#define INTEL "../../shared/data/intel"

static char tmpdir[256];
static char warnbuf[8192], errbuf[1024];
static struct list_hit hit;

static int suite_init(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/mg_lists_XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(tmpdir);
    return 0;
}

/* Write a fixture; returns its path (a static buffer per call slot). */
static const char *fixture_n(const char *name, const char *data, size_t len)
{
    static char paths[8][512];
    static unsigned slot;
    char *p = paths[slot++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    CU_ASSERT_FATAL(f != NULL);
    fwrite(data, 1, len, f);
    fclose(f);
    return p;
}

static const char *fixture(const char *name, const char *data)
{
    return fixture_n(name, data, strlen(data));
}

/* One threat list named "t" (category "cat") from text. */
static struct lists *load1(const char *text, const char *format)
{
    const char *p = fixture("one.txt", text);
    struct cfg_threat_list t = { "t", (char *)p, "cat", (char *)format };
    return lists_load(NULL, &t, 1, warnbuf, sizeof(warnbuf), errbuf, sizeof(errbuf));
}

static int mkaddr(const char *s, struct mg_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, a->b) == 1)
        return 4;
    CU_ASSERT_FATAL(inet_pton(AF_INET6, s, a->b) == 1);
    return 6;
}

static int ip(const struct lists *l, const char *s)
{
    struct mg_addr a;
    int fam = mkaddr(s, &a);
    int quick = lists_match_ip(l, &a, fam, NULL);
    int full = lists_match_ip(l, &a, fam, &hit);
    CU_ASSERT_EQUAL(quick, full);       /* the fast path agrees */
    return full;
}

static int dom(const struct lists *l, const char *s)
{
    int quick = lists_match_domain(l, s, NULL);
    int full = lists_match_domain(l, s, &hit);
    CU_ASSERT_EQUAL(quick, full);
    return full;
}

/* The entry reported for threat list i in the last hit, or NULL. */
static const char *entry_of(unsigned i)
{
    for (unsigned k = 0; k < hit.n; k++)
        if (hit.m[k].index == i)
            return hit.m[k].entry;
    return NULL;
}

#define ENTRY_IS(i, s) do { const char *e_ = entry_of(i); \
    CU_ASSERT_PTR_NOT_NULL(e_); if (e_) CU_ASSERT_STRING_EQUAL(e_, s); } while (0)

/* ------------------------------------------------------------------ */

static void test_txt_formats(void)
{
    struct lists *l = load1(
        "# a comment line\n"
        "\n"
        "   \t  \n"
        "192.0.2.1\n"
        "  192.0.2.2   \n"
        "192.0.2.3 # trailing comment\n"
        "192.0.2.4#no space\n"
        "192.0.2.5\t10\n"                  /* ipsum style */
        "192.0.2.6:8443\n"                 /* maltrail ip:port */
        "198.51.100.0/24\r\n"              /* CRLF */
        "2001:db8::1\n"
        "[2001:db8::2]:443\n"
        "2001:db8:1::/48\n"
        "Evil.Example.COM.\n"
        "*.wild.example\n"
        ".dot.example\n"
        "pool.example.net:3333\n"
        "http://203.0.113.9\n"
        "https://203.0.113.10:8443/\n"
        "http://203.0.113.11/gate.php\n"   /* URL with a path: unsupported */
        "/panel/admin.php\n"
        "evil.example.org/login.php\n"
        "AS39770, high, hosting\n"
        "203.0.113.12,high,Simda CC\n"     /* Slips CSV: first field */
        "192.0.2.1\n",                     /* duplicate */
        "txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    const struct list_stats *s = lists_threat_stats(l, 0);
    CU_ASSERT_EQUAL(s->lines, 25);
    CU_ASSERT_EQUAL(s->v4, 9);
    CU_ASSERT_EQUAL(s->v6, 2);
    CU_ASSERT_EQUAL(s->cidr4, 1);
    CU_ASSERT_EQUAL(s->cidr6, 1);
    CU_ASSERT_EQUAL(s->domains, 2);
    CU_ASSERT_EQUAL(s->wildcards, 2);
    CU_ASSERT_EQUAL(s->duplicates, 1);
    CU_ASSERT_EQUAL(s->malformed, 0);
    CU_ASSERT_EQUAL(s->unsupported, 4);
    CU_ASSERT_EQUAL(list_stats_entries(s), 17);
    CU_ASSERT_STRING_EQUAL(s->name, "t");
    CU_ASSERT_STRING_EQUAL(s->category, "cat");
    CU_ASSERT_STRING_EQUAL(s->format, "txt");
    CU_ASSERT_PTR_NOT_NULL(strstr(warnbuf, "4 entries of kinds not matched on"));

    for (int i = 1; i <= 6; i++) {
        char a[32];
        snprintf(a, sizeof(a), "192.0.2.%d", i);
        CU_ASSERT_EQUAL(ip(l, a), LISTS_THREAT);
        ENTRY_IS(0, a);
    }
    CU_ASSERT_EQUAL(ip(l, "192.0.2.7"), 0);
    CU_ASSERT_EQUAL(hit.n, 0);
    CU_ASSERT_EQUAL(hit.threats, 0);
    CU_ASSERT_EQUAL(ip(l, "198.51.100.77"), LISTS_THREAT);
    ENTRY_IS(0, "198.51.100.0/24");
    CU_ASSERT_STRING_EQUAL(hit.m[0].name, "t");
    CU_ASSERT_STRING_EQUAL(hit.m[0].category, "cat");
    CU_ASSERT_EQUAL(ip(l, "2001:db8::1"), LISTS_THREAT);
    ENTRY_IS(0, "2001:db8::1");
    CU_ASSERT_EQUAL(ip(l, "2001:db8::2"), LISTS_THREAT);
    CU_ASSERT_EQUAL(ip(l, "2001:db8::3"), 0);
    CU_ASSERT_EQUAL(ip(l, "2001:db8:1:ffff::1"), LISTS_THREAT);
    ENTRY_IS(0, "2001:db8:1::/48");
    CU_ASSERT_EQUAL(ip(l, "203.0.113.9"), LISTS_THREAT);
    CU_ASSERT_EQUAL(ip(l, "203.0.113.10"), LISTS_THREAT);
    CU_ASSERT_EQUAL(ip(l, "203.0.113.11"), 0);
    CU_ASSERT_EQUAL(ip(l, "203.0.113.12"), LISTS_THREAT);
    CU_ASSERT_EQUAL(dom(l, "evil.example.com"), LISTS_THREAT);
    ENTRY_IS(0, "evil.example.com");
    CU_ASSERT_EQUAL(dom(l, "pool.example.net"), LISTS_THREAT);
    CU_ASSERT_EQUAL(dom(l, "a.b.wild.example"), LISTS_THREAT);
    ENTRY_IS(0, "*.wild.example");
    CU_ASSERT_EQUAL(dom(l, "x.dot.example"), LISTS_THREAT);
    ENTRY_IS(0, "*.dot.example");
    CU_ASSERT_EQUAL(dom(l, "evil.example.org"), 0);
    lists_free(l);
}

static void test_malformed_lines(void)
{
    struct lists *l = load1(
        "# header\n"
        "192.0.2.1\n"
        "300.1.2.3\n"                      /* line 3 */
        "10.0.0.0/33\n"                    /* line 4 */
        "bad host name\n"                  /* 'bad' is a single label: line 5 */
        "2001:db8::zz\n"                   /* line 6 */
        "a..b.com\n"                       /* line 7 */
        "192.0.2.2\n",
        "txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    const struct list_stats *s = lists_threat_stats(l, 0);
    CU_ASSERT_EQUAL(s->malformed, 5);
    CU_ASSERT_EQUAL(s->v4, 2);
    char want[600];
    const char *path = s->path;
    snprintf(want, sizeof(want), "%s:3: bad IPv4 address: '300.1.2.3'", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(warnbuf, want));
    snprintf(want, sizeof(want), "%s:4: bad prefix length: '10.0.0.0/33'", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(warnbuf, want));
    snprintf(want, sizeof(want), "%s:5: ", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(warnbuf, want));
    snprintf(want, sizeof(want), "%s:6:", path);       /* beyond the first 3 */
    CU_ASSERT_PTR_NULL(strstr(warnbuf, want));
    snprintf(want, sizeof(want), "%s: 5 malformed lines skipped (first 3 shown)", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(warnbuf, want));
    CU_ASSERT_EQUAL(ip(l, "192.0.2.2"), LISTS_THREAT);
    lists_free(l);

    /* Hostile bytes are escaped in the message. */
    l = load1("192.0.2.1\n\x01\xff\x7f'x\n", "txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(warnbuf, "'\\x01\\xff\\x7f\\x27x'"));
    lists_free(l);

    /* A tiny warnings buffer ends in "...". */
    const char *p = fixture("w.txt", "1.2.3.4\nx\ny\nz\n");
    struct cfg_threat_list t = { "t", (char *)p, "c", "txt" };
    char small[40];
    l = lists_load(NULL, &t, 1, small, sizeof(small), errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT(strlen(small) < sizeof(small));
    CU_ASSERT_PTR_NOT_NULL(strstr(small, "..."));
    lists_free(l);
}

static void test_otx(void)
{
    struct lists *l = load1(
        "Indicator type,Indicator,Description\n"
        "IPv4,192.0.2.10,\"C2, seen twice\"\n"
        "IPv6,2001:db8::10,\n"
        "CIDR,198.51.100.0/25,\"multi\nline \"\"quoted\"\" text\"\n"
        "domain,evil-otx.com,\n"
        "hostname,host.other-otx.com,\n"
        "URL,http://evil-otx.com/x,\n"
        "FileHash-MD5,d41d8cd98f00b204e9800998ecf8427e,\n"
        "email,a@b.c,\n"
        "IPv4,2001:db8::11,wrong type\n"   /* line 11: malformed */
        "IPv4\n",                          /* line 12: too few columns */
        "otx");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    const struct list_stats *s = lists_threat_stats(l, 0);
    CU_ASSERT_EQUAL(s->v4, 1);
    CU_ASSERT_EQUAL(s->v6, 1);
    CU_ASSERT_EQUAL(s->cidr4, 1);
    CU_ASSERT_EQUAL(s->wildcards, 1);
    CU_ASSERT_EQUAL(s->domains, 1);
    CU_ASSERT_EQUAL(s->unsupported, 3);
    CU_ASSERT_EQUAL(s->malformed, 2);
    CU_ASSERT_EQUAL(s->lines, 12);
    char want[600];
    snprintf(want, sizeof(want), "%s:11: indicator does not match its type", s->path);
    CU_ASSERT_PTR_NOT_NULL(strstr(warnbuf, want));
    snprintf(want, sizeof(want), "%s:12: too few columns", s->path);
    CU_ASSERT_PTR_NOT_NULL(strstr(warnbuf, want));
    CU_ASSERT_EQUAL(ip(l, "198.51.100.127"), LISTS_THREAT);
    ENTRY_IS(0, "198.51.100.0/25");
    CU_ASSERT_EQUAL(ip(l, "198.51.100.128"), 0);
    CU_ASSERT_EQUAL(dom(l, "www.evil-otx.com"), LISTS_THREAT);   /* domain: subdomains too */
    ENTRY_IS(0, "*.evil-otx.com");
    CU_ASSERT_EQUAL(dom(l, "host.other-otx.com"), LISTS_THREAT);
    CU_ASSERT_EQUAL(dom(l, "x.host.other-otx.com"), 0);          /* hostname: exact */
    lists_free(l);

    /* Columns in another order, with a BOM-free header in other case. */
    l = load1("Indicator,Title,INDICATOR TYPE\n192.0.2.20,x,IPv4\n", "otx");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(ip(l, "192.0.2.20"), LISTS_THREAT);
    lists_free(l);

    /* No header: an error naming the file and line. */
    l = load1("\n192.0.2.1,IPv4\n", "otx");
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "one.txt:2: not an OTX export"));

    /* Unterminated quote: that record is malformed, nothing crashes. */
    l = load1("Indicator type,Indicator\nIPv4,192.0.2.1\nIPv4,\"192.0.2.2\n", "otx");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(lists_threat_stats(l, 0)->malformed, 1);
    lists_free(l);
}

static void test_proofpoint(void)
{
    struct lists *l = load1(
        "ip,category,score\n"
        "192.0.2.30,1,127\n"
        " 192.0.2.31 , 33 , 20 \n"
        "# comment\n"
        "192.0.2.32,x,1\n"                 /* line 5: malformed */
        "192.0.2.33\n"                     /* line 6: malformed */
        "2001:db8::30,5,50\n",
        "proofpoint");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    const struct list_stats *s = lists_threat_stats(l, 0);
    CU_ASSERT_EQUAL(s->v4, 2);
    CU_ASSERT_EQUAL(s->v6, 1);
    CU_ASSERT_EQUAL(s->malformed, 2);
    char want[600];
    snprintf(want, sizeof(want), "%s:5: category and score must be integers", s->path);
    CU_ASSERT_PTR_NOT_NULL(strstr(warnbuf, want));
    snprintf(want, sizeof(want), "%s:6:", s->path);
    CU_ASSERT_PTR_NOT_NULL(strstr(warnbuf, want));
    CU_ASSERT_EQUAL(ip(l, "192.0.2.31"), LISTS_THREAT);
    CU_ASSERT_EQUAL(ip(l, "192.0.2.32"), 0);
    lists_free(l);

    /* Domain variant, header-less. */
    l = load1("evil-pp.com,2,100\nsub.bad-pp.net,3,90\n", "proofpoint");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(lists_threat_stats(l, 0)->domains, 2);
    CU_ASSERT_PTR_NULL(strstr(warnbuf, "malformed"));
    CU_ASSERT_EQUAL(dom(l, "EVIL-PP.com"), LISTS_THREAT);
    CU_ASSERT_EQUAL(dom(l, "a.evil-pp.com"), 0);
    lists_free(l);

    l = load1("domain,category,score\nevil-pp.com,2,100\n", "proofpoint");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(lists_threat_stats(l, 0)->malformed, 0);
    lists_free(l);
}

static void test_prefixes(void)
{
    struct lists *l = load1(
        "10.0.0.0/8\n10.1.0.0/16\n10.1.2.0/24\n10.1.2.3\n10.1.2.4/32\n"
        "172.16.5.9/12\n"                  /* host bits: 172.16.0.0/12 */
        "2001:db8::/32\n2001:db8:aa::/48\n2001:db8:aa::1/128\n2001:db8:bb::5/127\n",
        "txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    const struct list_stats *s = lists_threat_stats(l, 0);
    CU_ASSERT_EQUAL(s->v4, 2);
    CU_ASSERT_EQUAL(s->cidr4, 4);
    CU_ASSERT_EQUAL(s->v6, 1);
    CU_ASSERT_EQUAL(s->cidr6, 3);
    ip(l, "10.1.2.3");   ENTRY_IS(0, "10.1.2.3");
    ip(l, "10.1.2.4");   ENTRY_IS(0, "10.1.2.4");
    ip(l, "10.1.2.5");   ENTRY_IS(0, "10.1.2.0/24");
    ip(l, "10.1.3.5");   ENTRY_IS(0, "10.1.0.0/16");
    ip(l, "10.200.3.5"); ENTRY_IS(0, "10.0.0.0/8");
    ip(l, "172.31.255.255"); ENTRY_IS(0, "172.16.0.0/12");
    CU_ASSERT_EQUAL(ip(l, "11.0.0.0"), 0);
    CU_ASSERT_EQUAL(ip(l, "9.255.255.255"), 0);
    CU_ASSERT_EQUAL(ip(l, "172.32.0.0"), 0);
    ip(l, "2001:db8:aa::1"); ENTRY_IS(0, "2001:db8:aa::1");
    ip(l, "2001:db8:aa::2"); ENTRY_IS(0, "2001:db8:aa::/48");
    ip(l, "2001:db8:ab::2"); ENTRY_IS(0, "2001:db8::/32");
    ip(l, "2001:db8:bb::4"); ENTRY_IS(0, "2001:db8:bb::4/127");
    CU_ASSERT_EQUAL(ip(l, "2001:db9::"), 0);
    /* v4-mapped v6 addresses are looked up as v4 */
    CU_ASSERT_EQUAL(ip(l, "::ffff:10.1.2.3"), LISTS_THREAT);
    ENTRY_IS(0, "10.1.2.3");
    /* a v4 address never matches a v6 prefix or the reverse */
    CU_ASSERT_EQUAL(ip(l, "::10.1.2.3"), 0);
    struct mg_addr a;
    mkaddr("10.1.2.3", &a);
    CU_ASSERT_EQUAL(lists_match_ip(l, &a, 0, &hit), 0);         /* bad family */
    lists_free(l);

    /* /0 of each family; mapped entries in the file become v4. */
    l = load1("0.0.0.0/0\n::/0\n::ffff:192.0.2.1\n::ffff:198.51.100.0/120\n", "txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    s = lists_threat_stats(l, 0);
    CU_ASSERT_EQUAL(s->v4, 1);
    CU_ASSERT_EQUAL(s->cidr4, 2);
    CU_ASSERT_EQUAL(s->cidr6, 1);
    ip(l, "1.2.3.4");         ENTRY_IS(0, "0.0.0.0/0");
    ip(l, "255.255.255.255"); ENTRY_IS(0, "0.0.0.0/0");
    ip(l, "::");              ENTRY_IS(0, "::/0");
    ip(l, "ffff::1");         ENTRY_IS(0, "::/0");
    ip(l, "192.0.2.1");       ENTRY_IS(0, "192.0.2.1");
    ip(l, "198.51.100.200");  ENTRY_IS(0, "198.51.100.0/24");
    lists_free(l);

    /* Only /0: the trie is just its root (no /16 shortcut table). */
    l = load1("0.0.0.0/0\n", "txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(ip(l, "8.8.8.8"), LISTS_THREAT);
    ENTRY_IS(0, "0.0.0.0/0");
    CU_ASSERT_EQUAL(ip(l, "::1"), 0);
    lists_free(l);
}

static void test_overlap(void)
{
    const char *tr = fixture("trusted.txt", "198.51.0.0/16\n*.corp.example\n");
    const char *a = fixture("a.txt", "198.51.100.0/24\n*.evil.example\n2001:db8::/32\n");
    const char *b = fixture("b.txt", "198.51.100.7\nsub.evil.example\n2001:db8::/64\n");
    struct cfg_threat_list t[2] = {
        { "listA", (char *)a, "c2", "txt" },
        { "listB", (char *)b, "mining", "" },      /* "" = txt */
    };
    struct lists *l = lists_load(tr, t, 2, warnbuf, sizeof(warnbuf), errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(lists_n_threat(l), 2);
    CU_ASSERT_PTR_NOT_NULL(lists_trusted_stats(l));
    CU_ASSERT_EQUAL(ip(l, "198.51.100.7"), LISTS_TRUSTED | LISTS_THREAT);
    CU_ASSERT(hit.trusted);
    CU_ASSERT_STRING_EQUAL(hit.trusted_entry, "198.51.0.0/16");
    CU_ASSERT_EQUAL(hit.threats, 3);
    CU_ASSERT_EQUAL(hit.n, 2);
    CU_ASSERT_EQUAL(hit.m[0].index, 0);
    CU_ASSERT_STRING_EQUAL(hit.m[0].name, "listA");
    CU_ASSERT_STRING_EQUAL(hit.m[0].category, "c2");
    CU_ASSERT_STRING_EQUAL(hit.m[0].entry, "198.51.100.0/24");
    CU_ASSERT_EQUAL(hit.m[1].index, 1);
    CU_ASSERT_STRING_EQUAL(hit.m[1].name, "listB");
    CU_ASSERT_STRING_EQUAL(hit.m[1].entry, "198.51.100.7");
    CU_ASSERT_EQUAL(ip(l, "198.51.100.8"), LISTS_TRUSTED | LISTS_THREAT);
    CU_ASSERT_EQUAL(hit.threats, 1);
    CU_ASSERT_EQUAL(ip(l, "198.51.7.7"), LISTS_TRUSTED);
    CU_ASSERT_EQUAL(hit.n, 0);
    ip(l, "2001:db8::1");
    CU_ASSERT_EQUAL(hit.threats, 3);
    ENTRY_IS(0, "2001:db8::/32");
    ENTRY_IS(1, "2001:db8::/64");
    ip(l, "2001:db8:0:1::1");
    CU_ASSERT_EQUAL(hit.threats, 1);

    CU_ASSERT_EQUAL(dom(l, "sub.evil.example"), LISTS_THREAT);
    CU_ASSERT_EQUAL(hit.threats, 3);
    ENTRY_IS(0, "*.evil.example");
    ENTRY_IS(1, "sub.evil.example");
    CU_ASSERT_EQUAL(dom(l, "x.sub.evil.example"), LISTS_THREAT);
    CU_ASSERT_EQUAL(hit.threats, 1);
    CU_ASSERT_EQUAL(dom(l, "host.corp.example"), LISTS_TRUSTED);
    CU_ASSERT_STRING_EQUAL(hit.trusted_entry, "*.corp.example");
    lists_free(l);

    /* The same entry in both lists, and exact + wildcard of one name in
     * one list: the exact one is reported. */
    a = fixture("a.txt", "dup.example\n*.dup.example\n192.0.2.1\n");
    b = fixture("b.txt", "*.dup.example\n192.0.2.1\n");
    l = lists_load(NULL, t, 2, warnbuf, sizeof(warnbuf), errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    dom(l, "dup.example");
    CU_ASSERT_EQUAL(hit.threats, 3);
    ENTRY_IS(0, "dup.example");
    ENTRY_IS(1, "*.dup.example");
    ip(l, "192.0.2.1");
    CU_ASSERT_EQUAL(hit.threats, 3);
    lists_free(l);
}

static void test_domains(void)
{
    struct lists *l = load1(
        "exact.example.com\n*.wild.example.com\nMiXeD.Example.ORG.\n*.tld\n"
        "_dmarc.under.example\nxn--bcher-kva.example\nb\xc3\xbc" "cher.example\n",
        "txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(dom(l, "exact.example.com"), LISTS_THREAT);
    ENTRY_IS(0, "exact.example.com");
    CU_ASSERT_EQUAL(dom(l, "EXACT.example.COM."), LISTS_THREAT);
    CU_ASSERT_EQUAL(dom(l, "a.exact.example.com"), 0);     /* exact: no subdomains */
    CU_ASSERT_EQUAL(dom(l, "example.com"), 0);
    CU_ASSERT_EQUAL(dom(l, "notexact.example.com"), 0);
    CU_ASSERT_EQUAL(dom(l, "wild.example.com"), LISTS_THREAT);  /* the apex too */
    ENTRY_IS(0, "*.wild.example.com");
    CU_ASSERT_EQUAL(dom(l, "a.b.c.WILD.example.com."), LISTS_THREAT);
    ENTRY_IS(0, "*.wild.example.com");
    CU_ASSERT_EQUAL(dom(l, "notwild.example.com"), 0);
    CU_ASSERT_EQUAL(dom(l, "wild.example.com.evil"), 0);
    CU_ASSERT_EQUAL(dom(l, "mixed.example.org"), LISTS_THREAT);
    CU_ASSERT_EQUAL(dom(l, "anything.tld"), LISTS_THREAT);
    ENTRY_IS(0, "*.tld");
    CU_ASSERT_EQUAL(dom(l, "tld"), LISTS_THREAT);
    CU_ASSERT_EQUAL(dom(l, "_dmarc.under.example"), LISTS_THREAT);
    CU_ASSERT_EQUAL(dom(l, "xn--bcher-kva.example"), LISTS_THREAT);
    CU_ASSERT_EQUAL(dom(l, "B\xc3\xbc" "cher.example"), LISTS_THREAT);  /* bytes >= 0x80 kept */
    CU_ASSERT_EQUAL(dom(l, ""), 0);
    CU_ASSERT_EQUAL(dom(l, "."), 0);
    CU_ASSERT_EQUAL(dom(l, ".."), 0);
    CU_ASSERT_EQUAL(dom(l, "a..wild.example.com"), LISTS_THREAT);  /* suffix walk still works */
    char longname[600];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CU_ASSERT_EQUAL(dom(l, longname), 0);
    for (size_t i = 1; i < sizeof(longname) - 1; i += 2)
        longname[i] = '.';
    CU_ASSERT_EQUAL(dom(l, longname), 0);
    memcpy(longname + 200, "x.wild.example.com", 19);     /* 218 bytes, 100 labels */
    CU_ASSERT_EQUAL(dom(l, longname), LISTS_THREAT);
    lists_free(l);

    /* Names that are not entries. */
    char lab64[80];
    memset(lab64, 'a', 64);
    strcpy(lab64 + 64, ".com\n");
    char name254[300];
    for (int i = 0; i < 254; i++)
        name254[i] = (i % 2) ? '.' : 'a';
    name254[253] = 'b';
    strcpy(name254 + 254, "\n");
    char text[1024];
    snprintf(text, sizeof(text),
             "ok.example\nev il.com\na..b.com\n*.*.x.com\na*b.com\n*\n*.\nlocalhost\n"
             "1.2.3.4.5\nexample.123\n%s%s-x.com\n\"q\".com\n", lab64, name254);
    l = load1(text, "txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    const struct list_stats *s = lists_threat_stats(l, 0);
    CU_ASSERT_EQUAL(s->domains, 2);     /* ok.example and -x.com */
    CU_ASSERT_EQUAL(s->malformed, 12);
    lists_free(l);
}

static void test_empty_and_errors(void)
{
    /* Empty and comment-only files load, with a warning. */
    struct lists *l = load1("", "txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(warnbuf, "one.txt: no entries"));
    CU_ASSERT_EQUAL(list_stats_entries(lists_threat_stats(l, 0)), 0);
    CU_ASSERT_EQUAL(ip(l, "1.2.3.4"), 0);
    CU_ASSERT_EQUAL(ip(l, "::1"), 0);
    CU_ASSERT_EQUAL(dom(l, "a.com"), 0);
    lists_free(l);
    l = load1("# nothing\n\n   \n", "proofpoint");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    lists_free(l);

    /* No valid entry among malformed lines: an error naming file:line. */
    l = load1("# x\nnot an entry\nstill not\n", "txt");
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "one.txt:2: no valid entry in 3 lines"));
    l = load1("192.0.2.1\n192.0.2.2\n", "otx");
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "one.txt:1:"));

    /* Missing file. */
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/no-such-list.txt", tmpdir);
    struct cfg_threat_list t = { "t", missing, "c", "txt" };
    l = lists_load(NULL, &t, 1, warnbuf, sizeof(warnbuf), errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, missing));
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "cannot open"));
    CU_ASSERT_PTR_NULL(strchr(errbuf, '\n'));
    l = lists_load(missing, NULL, 0, NULL, 0, errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, missing));
    /* A directory. */
    t.path = tmpdir;
    l = lists_load(NULL, &t, 1, NULL, 0, errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, tmpdir));

    /* Unknown format, missing path, too many lists. */
    t.path = (char *)fixture("f.txt", "1.2.3.4\n");
    t.format = "csv";
    l = lists_load(NULL, &t, 1, NULL, 0, errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "unknown format 'csv'"));
    t.format = "txt";
    struct cfg_threat_list many[LISTS_MAX_THREAT + 1];
    for (int i = 0; i <= LISTS_MAX_THREAT; i++)
        many[i] = t;
    l = lists_load(NULL, many, LISTS_MAX_THREAT + 1, NULL, 0, errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "at most 64"));
    l = lists_load(NULL, many, LISTS_MAX_THREAT, NULL, 0, errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(ip(l, "1.2.3.4"), LISTS_THREAT);
    CU_ASSERT_EQUAL(hit.threats, ~0ULL);
    CU_ASSERT_EQUAL(hit.n, 64);
    CU_ASSERT_EQUAL(hit.m[63].index, 63);
    lists_free(l);
    many[3].path = "";
    l = lists_load(NULL, many, 4, NULL, 0, errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "lists.threat[3]"));

    /* No lists at all: an empty set. */
    l = lists_load(NULL, NULL, 0, NULL, 0, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_PTR_NULL(lists_trusted_stats(l));
    CU_ASSERT_PTR_NULL(lists_threat_stats(l, 0));
    CU_ASSERT_EQUAL(ip(l, "1.2.3.4"), 0);
    CU_ASSERT(lists_memory(l) > 0);
    lists_free(l);
    lists_free(NULL);
}

static void test_hostile(void)
{
    /* NUL bytes, a 1 MB line, lone CRs, commas and brackets. */
    static const char bin[] = "1.2.3.4\n\0\0\0\n5.6.7.8\0junk\n[\n[::1\n[zz]:1\n[::1]x\n"
                              ":\n::::\n1:2\n,,,\n\r\r\r\nhttp://\nhttp://[::1]:80/\n"
                              "a:b:c\n//\n1.2.3.4/\n1.2.3.4/-1\n1.2.3.4/0032\n";
    const char *p = fixture_n("bin.txt", bin, sizeof(bin) - 1);
    struct cfg_threat_list t = { "t", (char *)p, "c", "txt" };
    struct lists *l = lists_load(NULL, &t, 1, warnbuf, sizeof(warnbuf), errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(ip(l, "1.2.3.4"), LISTS_THREAT);
    CU_ASSERT_EQUAL(ip(l, "5.6.7.8"), 0);      /* the NUL is part of its token */
    lists_free(l);

    size_t n = 1 << 20;
    char *big = malloc(n + 16);
    CU_ASSERT_FATAL(big != NULL);
    memset(big, 'a', n);
    memcpy(big + n, "\n1.2.3.4\n", 9);
    for (int f = 0; f < 3; f++) {
        static const char *fmts[] = { "txt", "otx", "proofpoint" };
        l = lists_load_buffer(big, n + 9, fmts[f], warnbuf, sizeof(warnbuf),
                              errbuf, sizeof(errbuf));
        lists_free(l);
        memset(big, '"', n);            /* an unterminated quote for the CSVs */
    }
    free(big);
    l = lists_load_buffer("1.2.3.4\n", 8, "nope", NULL, 0, errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NULL(l);
    l = lists_load_buffer("", 0, "txt", NULL, 0, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL(l);
    lists_free(l);
}

/* Every file under INTEL loads as txt with a sensible count: entries for
 * most non-comment lines and (almost) nothing malformed. All of them
 * together also make one set. */
static void test_real_lists(void)
{
    static const char *dirs[] = { "c2", "dns", "ip", "mining", "scanners", "tor" };
    struct cfg_threat_list t[64];
    static char paths[64][800], names[64][256];
    unsigned n = 0;
    uint64_t total = 0;
    for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
        char dp[512];
        snprintf(dp, sizeof(dp), "%s/%s", INTEL, dirs[d]);
        DIR *dir = opendir(dp);
        struct dirent *e;
        while (dir && (e = readdir(dir)) && n < 64) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(paths[n], sizeof(paths[n]), "%s/%s", dp, e->d_name);
            snprintf(names[n], sizeof(names[n]), "%s", e->d_name);
            t[n] = (struct cfg_threat_list){ names[n], paths[n], (char *)dirs[d], "txt" };
            struct lists *l = lists_load(NULL, &t[n], 1, warnbuf, sizeof(warnbuf),
                                         errbuf, sizeof(errbuf));
            CU_ASSERT_PTR_NOT_NULL(l);
            if (!l) {
                fprintf(stderr, "\n%s\n", errbuf);
                continue;
            }
            const struct list_stats *s = lists_threat_stats(l, 0);
            uint64_t ent = list_stats_entries(s);
            CU_ASSERT(ent > 0);
            CU_ASSERT(s->malformed * 100 <= s->lines);     /* <= 1% malformed */
            /* most of what is not a comment is an entry */
            CU_ASSERT((ent + s->duplicates + s->unsupported + s->malformed) * 4 >= s->lines);
            total += ent;
            lists_free(l);
            if (strcmp(e->d_name, "ipsum.txt") == 0)
                CU_ASSERT(ent > 100000);
            n++;
        }
        if (dir)
            closedir(dir);
    }
    if (n == 0) {
        fprintf(stderr, "\n  (no %s: real lists skipped) ", INTEL);
        return;
    }
    CU_ASSERT(n >= 10);
    struct lists *l = lists_load(NULL, t, n, warnbuf, sizeof(warnbuf), errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    uint64_t sum = 0;
    for (unsigned i = 0; i < n; i++)
        sum += list_stats_entries(lists_threat_stats(l, i));
    CU_ASSERT_EQUAL(sum, total);
    /* known members: a Tor exit (v4 and v6 files), a scanner CIDR, a DDNS name */
    for (unsigned i = 0; i < n; i++) {
        const char *nm = lists_threat_stats(l, i)->name;
        if (!strcmp(nm, "maltrail_mass_scanner_cidr.txt")) {
            CU_ASSERT_EQUAL(ip(l, "5.63.151.77"), LISTS_THREAT);
            CU_ASSERT((hit.threats >> i) & 1);
        } else if (!strcmp(nm, "maltrail_dynamic_domain.txt")) {
            CU_ASSERT_EQUAL(dom(l, "10dv.com"), LISTS_THREAT);
            CU_ASSERT((hit.threats >> i) & 1);
        } else if (!strcmp(nm, "maltrail_sliver.txt")) {
            CU_ASSERT_EQUAL(ip(l, "201.137.231.132"), LISTS_THREAT);
            CU_ASSERT((hit.threats >> i) & 1);
        } else if (!strcmp(nm, "maltrail_onion_gateways.txt")) {
            CU_ASSERT_EQUAL(dom(l, "abc.onion"), LISTS_THREAT);
            CU_ASSERT((hit.threats >> i) & 1);
            ENTRY_IS(i, "*.onion");
        }
    }
    lists_free(l);
}

/* ------------------------------------------------------------------ */
/* Randomized cross-check against a linear scan. */

/* A prefix as the brute force sees it: the address as two big-endian
 * 64-bit halves and their masks, so a containment test is four ANDs. */
struct bp {
    uint8_t a[16]; uint8_t plen; int8_t list; uint8_t fam;
    uint64_t hi, lo, mhi, mlo;
};

static void halves(const uint8_t *a, uint64_t *hi, uint64_t *lo)
{
    *hi = *lo = 0;
    for (int i = 0; i < 8; i++) {
        *hi = *hi << 8 | a[i];
        *lo = *lo << 8 | a[i + 8];
    }
}

static uint64_t rng_state = 0x243f6a8885a308d3ULL;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

static inline bool covers(const struct bp *p, uint64_t hi, uint64_t lo)
{
    return (hi & p->mhi) == p->hi && (lo & p->mlo) == p->lo;
}

static void text_of(char *dst, const struct bp *p)
{
    char s[64];
    inet_ntop(p->fam == 4 ? AF_INET : AF_INET6, p->a, s, sizeof(s));
    if (p->plen == (p->fam == 4 ? 32 : 128))
        snprintf(dst, LISTS_ENTRY_LEN, "%s", s);
    else
        snprintf(dst, LISTS_ENTRY_LEN, "%s/%u", s, p->plen);
}

static void random_addr(uint8_t *a, int fam, const struct bp *near)
{
    memset(a, 0, 16);
    unsigned nb = fam == 4 ? 4 : 16;
    for (unsigned i = 0; i < nb; i++)
        a[i] = (uint8_t)rnd();
    if (near) {                         /* inside or just next to 'near' */
        unsigned keep = near->plen;
        if (keep && rnd() % 4 == 0)
            keep--;                     /* flip to the sibling half sometimes */
        for (unsigned i = 0; i < keep; i++) {
            uint8_t bit = (uint8_t)(0x80 >> (i & 7));
            a[i >> 3] = (uint8_t)((a[i >> 3] & ~bit) | (near->a[i >> 3] & bit));
        }
    }
}

static void test_random_crosscheck(void)
{
    enum { NP = 10000, NQ = 100000, NL = 4 };
    struct bp *p = calloc(NP, sizeof(*p));
    CU_ASSERT_FATAL(p != NULL);
    FILE *f[NL + 1];
    char names[NL + 1][64];
    const char *paths[NL + 1];
    for (int i = 0; i <= NL; i++) {
        snprintf(names[i], sizeof(names[i]), "rand%d.txt", i);
        paths[i] = fixture(names[i], "");
        f[i] = fopen(paths[i], "w");
        CU_ASSERT_FATAL(f[i] != NULL);
    }
    for (int k = 0; k < NP; k++) {
        struct bp *b = &p[k];
        const struct bp *near = k > 0 && rnd() % 3 == 0 ? &p[rnd() % k] : NULL;
        b->fam = near ? near->fam : rnd() % 5 == 0 ? 6 : 4;
        unsigned max = b->fam == 4 ? 32 : 128;
        unsigned r = (unsigned)(rnd() % 100);
        /* mostly long prefixes, some exact, a few very short */
        b->plen = (uint8_t)(r < 30 ? max : r < 97 ? max / 2 + rnd() % (max / 2)
                                                  : rnd() % (max / 4));
        random_addr(b->a, b->fam, near);    /* near: nested or a sibling */
        uint8_t m[16] = {0};
        for (unsigned i = 0; i < 128; i++) {
            if (i < b->plen)
                m[i >> 3] |= (uint8_t)(0x80 >> (i & 7));
            else
                b->a[i >> 3] &= (uint8_t)~(0x80 >> (i & 7));
        }
        halves(b->a, &b->hi, &b->lo);
        halves(m, &b->mhi, &b->mlo);
        b->list = (int8_t)(rnd() % (NL + 1)) - 1;      /* -1 = trusted */
        char t[LISTS_ENTRY_LEN];
        text_of(t, b);
        fprintf(f[b->list + 1], "%s%s\n", t, rnd() % 2 ? " # comment" : "");
    }
    for (int i = 0; i <= NL; i++)
        fclose(f[i]);
    struct cfg_threat_list t[NL];
    for (int i = 0; i < NL; i++)
        t[i] = (struct cfg_threat_list){ names[i + 1], (char *)paths[i + 1], "c", "txt" };
    struct lists *l = lists_load(paths[0], t, NL, warnbuf, sizeof(warnbuf),
                                 errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);

    unsigned bad = 0;
    for (int q = 0; q < NQ && bad < 10; q++) {
        struct mg_addr a;
        int fam = rnd() % 5 == 0 ? 6 : 4;
        const struct bp *near = NULL;
        if (rnd() % 4) {                /* three quarters aimed at a prefix */
            near = &p[rnd() % NP];
            fam = near->fam;
        }
        random_addr(a.b, fam, near);
        uint64_t qhi, qlo;
        halves(a.b, &qhi, &qlo);
        int best[NL + 1];
        for (int i = 0; i <= NL; i++)
            best[i] = -1;
        for (int k = 0; k < NP; k++)
            if (p[k].fam == fam && covers(&p[k], qhi, qlo) &&
                (best[p[k].list + 1] < 0 || p[best[p[k].list + 1]].plen < p[k].plen))
                best[p[k].list + 1] = k;
        uint64_t want = 0;
        for (int i = 0; i < NL; i++)
            if (best[i + 1] >= 0)
                want |= 1ULL << i;
        int r = lists_match_ip(l, &a, fam, &hit);
        int rq = lists_match_ip(l, &a, fam, NULL);
        bool ok = r == rq && hit.threats == want && hit.trusted == (best[0] >= 0) &&
                  ((r & LISTS_THREAT) != 0) == (want != 0) &&
                  ((r & LISTS_TRUSTED) != 0) == (best[0] >= 0);
        char txt[LISTS_ENTRY_LEN];
        if (ok && best[0] >= 0) {
            text_of(txt, &p[best[0]]);
            ok = !strcmp(txt, hit.trusted_entry);
        }
        for (unsigned m = 0; ok && m < hit.n; m++) {
            text_of(txt, &p[best[hit.m[m].index + 1]]);
            ok = !strcmp(txt, hit.m[m].entry);
        }
        if (!ok) {
            bad++;
            char as[64];
            inet_ntop(fam == 4 ? AF_INET : AF_INET6, a.b, as, sizeof(as));
            fprintf(stderr, "\nmismatch for %s: got threats %llx trusted %d\n", as,
                    (unsigned long long)hit.threats, hit.trusted);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    lists_free(l);
    free(p);
}

/* Strings are copied: the caller's cfg may go away. */
static void test_ownership(void)
{
    char name[16] = "mine", cat[16] = "cc", fmt[8] = "txt";
    char path[512];
    snprintf(path, sizeof(path), "%s", fixture("own.txt", "192.0.2.99\n"));
    struct cfg_threat_list t = { name, path, cat, fmt };
    struct lists *l = lists_load(NULL, &t, 1, warnbuf, sizeof(warnbuf), errbuf, sizeof(errbuf));
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    memset(name, 'X', sizeof(name) - 1);
    memset(cat, 'Y', sizeof(cat) - 1);
    memset(path, 'Z', 20);
    ip(l, "192.0.2.99");
    CU_ASSERT_STRING_EQUAL(hit.m[0].name, "mine");
    CU_ASSERT_STRING_EQUAL(hit.m[0].category, "cc");
    CU_ASSERT(lists_threat_stats(l, 0)->load_ms >= 0);
    CU_ASSERT(lists_memory(l) > sizeof(struct list_stats));
    lists_free(l);
}

int test_lists_register(void)
{
    CU_pSuite s = CU_add_suite("lists", suite_init, suite_clean);
    if (!s)
        return -1;
    if (!CU_add_test(s, "txt formats", test_txt_formats) ||
        !CU_add_test(s, "malformed lines", test_malformed_lines) ||
        !CU_add_test(s, "otx", test_otx) ||
        !CU_add_test(s, "proofpoint", test_proofpoint) ||
        !CU_add_test(s, "prefixes", test_prefixes) ||
        !CU_add_test(s, "overlapping lists", test_overlap) ||
        !CU_add_test(s, "domains", test_domains) ||
        !CU_add_test(s, "empty file and errors", test_empty_and_errors) ||
        !CU_add_test(s, "hostile input", test_hostile) ||
        !CU_add_test(s, "real lists", test_real_lists) ||
        !CU_add_test(s, "random cross-check", test_random_crosscheck) ||
        !CU_add_test(s, "ownership", test_ownership))
        return -1;
    return 0;
}
