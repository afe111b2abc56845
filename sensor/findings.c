/* sensor/findings.c - the findings aggregator and its GuardDuty JSON.
 *
 * See findings.h for the contract. The pieces:
 *
 *   - a chained hash table of findings keyed on (type, resource, remote),
 *     bucket chosen by the first half of the finding id;
 *   - an LRU list (head = least recently updated) for eviction;
 *   - a binary min-heap of findings with an unpublished update, ordered by
 *     due time (previous publication + publishing frequency) and then by
 *     the order in which they became pending, so findings_tick() only
 *     looks at the top and equal due times publish in a stable order;
 *   - an index of the assets' CIDRs (one hash table probe per distinct
 *     prefix length, longest first) rebuilt at new and at reload;
 *   - a JSON buffer reused for every publication.
 *
 * A finding is one allocation: the struct and, after it, the strings that
 * never change (key, resource, tags). The details of its latest occurrence
 * (probes, domain, threat list, additionalInfo) live in a second block that
 * is sized for the first occurrence and grown once, to the largest a
 * candidate can need, if a later occurrence does not fit. */
#include "findings.h"
#include "domain.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NS_PER_SEC 1000000000ull
#define ISO_LEN 80                  /* room for any int year, not just 4 digits */

/* ------------------------------------------------------------ helpers */

/* Length of a fixed-size candidate string, never past its buffer even if
 * a detector forgot the NUL. */
static size_t flen(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    return n == max ? max - 1 : n;
}

static void addr_str(uint8_t family, const struct mg_addr *a, char *out, size_t len)
{
    out[0] = '\0';
    if (family == 4)
        inet_ntop(AF_INET, a->b, out, (socklen_t)len);
    else if (family == 6)
        inet_ntop(AF_INET6, a->b, out, (socklen_t)len);
}

static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Two unrelated 64-bit hashes fed the same bytes: FNV-1a, and a
 * multiply-rotate hash; both end with a MurmurHash3 finalizer. Byte-wise,
 * so the ids do not depend on the host's endianness. */
struct h2 { uint64_t a, b; };

static void h_init(struct h2 *h)
{
    h->a = 0xcbf29ce484222325ull;
    h->b = 0x9e3779b97f4a7c15ull;
}

static void h_bytes(struct h2 *h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ s[i]) * 0x100000001b3ull;
        h->b = ((h->b ^ s[i]) * 0xc2b2ae3d27d4eb4full);
        h->b = (h->b << 31) | (h->b >> 33);
    }
}

/* A string and its terminating NUL: "ab","c" and "a","bc" differ. */
static void h_str(struct h2 *h, const char *s)
{
    h_bytes(h, s, strlen(s) + 1);
}

static void h_done(struct h2 *h)
{
    h->a = fmix64(h->a);
    h->b = fmix64(h->b ^ 0x6a09e667f3bcc909ull);
}

static bool cidr_has(const struct cfg_cidr *c, uint8_t family, const struct mg_addr *a)
{
    if (c->family != family)
        return false;
    unsigned full = c->prefix / 8, bits = c->prefix % 8;
    if (memcmp(c->addr, a->b, full))
        return false;
    if (!bits)
        return true;
    uint8_t m = (uint8_t)(0xff00u >> bits);
    return (a->b[full] & m) == c->addr[full];
}

/* ---------------------------------------------------- the asset index */

/* Longest-prefix match of an address against assets[].cidr: a hash table
 * of (family, prefix, network) -> asset, probed once per distinct prefix
 * length in use, longest first. A handful of probes whatever the number of
 * assets. When the table could not be allocated, lookups scan the list. */
struct aidx {
    const struct cfg_asset *assets;
    unsigned n;
    uint32_t *slot;             /* asset index + 1; 0 = empty */
    uint32_t mask;
    uint8_t plen[2][129];       /* [v4, v6]: prefix lengths in use, longest first */
    unsigned np[2];
};

static uint32_t aidx_hash(uint8_t family, uint8_t prefix, const uint8_t *net)
{
    struct h2 h;
    h_init(&h);
    h_bytes(&h, &family, 1);
    h_bytes(&h, &prefix, 1);
    h_bytes(&h, net, 16);
    return (uint32_t)fmix64(h.a);
}

static void aidx_free(struct aidx *x)
{
    free(x->slot);
    memset(x, 0, sizeof(*x));
}

static void aidx_build(struct aidx *x, const struct cfg *c)
{
    bool used[2][129];
    aidx_free(x);
    x->assets = c->assets;
    x->n = c->n_assets;
    if (!x->n)
        return;
    uint32_t size = 16;
    while (size < 2 * x->n && size < (1u << 31))
        size <<= 1;
    x->slot = calloc(size, sizeof(*x->slot));
    if (!x->slot)
        return;                 /* lookups fall back to a scan */
    x->mask = size - 1;
    memset(used, 0, sizeof(used));
    for (unsigned i = 0; i < x->n; i++) {
        const struct cfg_cidr *ci = &x->assets[i].cidr;
        if (ci->family != 4 && ci->family != 6)
            continue;
        uint32_t s = aidx_hash(ci->family, ci->prefix, ci->addr) & x->mask;
        bool dup = false;
        for (; x->slot[s]; s = (s + 1) & x->mask) {
            const struct cfg_cidr *o = &x->assets[x->slot[s] - 1].cidr;
            if (!memcmp(o, ci, sizeof(*o))) {
                dup = true;     /* the first entry for a CIDR wins */
                break;
            }
        }
        if (dup)
            continue;
        x->slot[s] = i + 1;
        used[ci->family == 6][ci->prefix] = true;
    }
    for (int f = 0; f < 2; f++)
        for (int p = 128; p >= 0; p--)
            if (used[f][p])
                x->plen[f][x->np[f]++] = (uint8_t)p;
}

static const struct cfg_asset *aidx_lookup(const struct aidx *x, uint8_t family,
                                           const struct mg_addr *a)
{
    if (!x->n || (family != 4 && family != 6))
        return NULL;
    if (!x->slot) {
        const struct cfg_asset *best = NULL;
        for (unsigned i = 0; i < x->n; i++)
            if (cidr_has(&x->assets[i].cidr, family, a) &&
                (!best || x->assets[i].cidr.prefix > best->cidr.prefix))
                best = &x->assets[i];
        return best;
    }
    int fi = family == 6;
    for (unsigned k = 0; k < x->np[fi]; k++) {
        uint8_t p = x->plen[fi][k], net[16];
        memset(net, 0, sizeof(net));
        memcpy(net, a->b, p / 8);
        if (p % 8)
            net[p / 8] = a->b[p / 8] & (uint8_t)(0xff00u >> (p % 8));
        for (uint32_t s = aidx_hash(family, p, net) & x->mask; x->slot[s];
             s = (s + 1) & x->mask) {
            const struct cfg_cidr *o = &x->assets[x->slot[s] - 1].cidr;
            if (o->family == family && o->prefix == p && !memcmp(o->addr, net, 16))
                return &x->assets[x->slot[s] - 1];
        }
    }
    return NULL;
}

/* -------------------------------------------------------- the findings */

/* Largest details block a candidate can need. */
#define DET_MAX (FC_MAX_PROBES * sizeof(struct fc_probe) + FC_DOMAIN_LEN + \
                 2 * FC_LIST_LEN + FC_INFO_LEN)

struct fnd {
    struct fnd *hnext;          /* hash chain */
    struct fnd *prev, *next;    /* LRU list */
    uint64_t ha, hb;            /* the id */
    uint64_t created_ns, last_ns, pub_ns;
    uint64_t due_ns, seq;       /* while pending (heap_i != 0) */
    uint64_t count;
    uint32_t heap_i;            /* 1-based index in the heap; 0 = nothing pending */
    uint8_t archived;

    /* latest occurrence */
    double severity;
    uint32_t vni;
    uint8_t action, role, direction, family, proto, n_probes;
    uint16_t local_port, remote_port;
    struct mg_addr local, remote;
    char *det;                  /* probes, then domain, list, entry, info */
    uint16_t det_cap, o_list, o_entry, o_info;

    /* constant: point into s[] */
    const char *type, *res, *rkey, *inst, *eni, *subnet, *vpc, *account;
    const char *tags;           /* n_tags pairs "key\0value\0" */
    unsigned n_tags;
    char s[];
};

struct jb {
    char *b;
    size_t len, cap;
    bool oom;
};

struct findings {
    const struct cfg *cfg;      /* rules, assets, sessions (see findings.h) */
    char *account, *region, *partition, *sensor;
    uint64_t freq_ns;
    uint32_t max;

    struct fnd **bucket;
    uint32_t bmask;
    struct fnd *lru_head, *lru_tail;
    struct fnd **heap;          /* capacity max */
    uint32_t heap_n;
    uint64_t seq;
    uint64_t now_ns;            /* latest packet time seen */

    struct aidx aidx;
    struct jb jb;

    findings_trusted_fn trusted;
    void *trusted_arg;
    findings_publish_fn pub;
    void *pub_arg;

    struct findings_stats st;
};

/* ---------------------------------------------------------- the heap */

static bool heap_less(const struct fnd *a, const struct fnd *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void heap_set(struct findings *f, uint32_t i, struct fnd *d)
{
    f->heap[i] = d;
    d->heap_i = i + 1;
}

static void heap_up(struct findings *f, uint32_t i)
{
    struct fnd *d = f->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!heap_less(d, f->heap[p]))
            break;
        heap_set(f, i, f->heap[p]);
        i = p;
    }
    heap_set(f, i, d);
}

static void heap_down(struct findings *f, uint32_t i)
{
    struct fnd *d = f->heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        const struct fnd *best = d;
        if (l < f->heap_n && heap_less(f->heap[l], best))
            best = f->heap[m = l];
        if (l + 1 < f->heap_n && heap_less(f->heap[l + 1], best))
            best = f->heap[m = l + 1];
        if (m == i)
            break;
        heap_set(f, i, f->heap[m]);
        i = m;
    }
    heap_set(f, i, d);
}

static void heap_push(struct findings *f, struct fnd *d)
{
    /* Never full: every finding is in it at most once and there are at
     * most 'max' findings. */
    f->heap[f->heap_n] = d;
    heap_up(f, f->heap_n++);
}

static void heap_remove(struct findings *f, struct fnd *d)
{
    uint32_t i = d->heap_i - 1;
    d->heap_i = 0;
    if (i != --f->heap_n) {
        struct fnd *m = f->heap[f->heap_n];     /* the last one fills the hole */
        heap_set(f, i, m);
        heap_down(f, i);
        heap_up(f, m->heap_i - 1);
    }
}

/* -------------------------------------------------------------- JSON */

static void jb_grow(struct jb *j, size_t n)
{
    if (j->oom || j->len + n + 1 <= j->cap)
        return;
    size_t cap = j->cap ? j->cap : 4096;
    while (cap < j->len + n + 1)
        cap *= 2;
    char *b = realloc(j->b, cap);
    if (!b) {
        j->oom = true;
        return;
    }
    j->b = b;
    j->cap = cap;
}

static void jb_mem(struct jb *j, const char *s, size_t n)
{
    jb_grow(j, n);
    if (j->oom)
        return;
    memcpy(j->b + j->len, s, n);
    j->len += n;
    j->b[j->len] = '\0';
}

static void jb_raw(struct jb *j, const char *s)
{
    jb_mem(j, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void jb_fmt(struct jb *j, const char *fmt, ...)
{
    char t[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t, sizeof(t), fmt, ap);
    va_end(ap);
    if (n > 0)
        jb_mem(j, t, (size_t)n < sizeof(t) ? (size_t)n : sizeof(t) - 1);
}

/* Length of a valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t l;
    uint32_t cp;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        l = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        l = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        l = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (l > n)
        return 0;
    for (size_t i = 1; i < l; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return l;
}

/* A JSON string. Control characters are escaped; valid UTF-8 passes
 * through; a byte that is not part of valid UTF-8 (names off the wire can
 * hold anything) becomes \u00XX, so the output is always valid JSON. */
static void jb_str(struct jb *j, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    jb_grow(j, n + 2);
    jb_mem(j, "\"", 1);
    while (*p) {
        const unsigned char *q = p;
        while (*q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
            q++;
        if (q > p) {
            jb_mem(j, (const char *)p, (size_t)(q - p));
            p = q;
            continue;
        }
        char e[8];
        if (*p == '"' || *p == '\\') {
            e[0] = '\\';
            e[1] = (char)*p;
            jb_mem(j, e, 2);
            p++;
        } else if (*p < 0x20) {
            static const char x[] = "0123456789abcdef";
            const char *m = *p == '\n' ? "\\n" : *p == '\r' ? "\\r" :
                            *p == '\t' ? "\\t" : NULL;
            if (m) {
                jb_raw(j, m);
            } else {
                memcpy(e, "\\u00", 4);
                e[4] = x[*p >> 4];
                e[5] = x[*p & 15];
                jb_mem(j, e, 6);
            }
            p++;
        } else {
            size_t l = utf8_len(p, strlen((const char *)p));
            if (l) {
                jb_mem(j, (const char *)p, l);
                p += l;
            } else {
                jb_fmt(j, "\\u00%02x", *p);
                p++;
            }
        }
    }
    jb_mem(j, "\"", 1);
}

/* ,"key":"value" (or without the comma). */
static void jb_kv(struct jb *j, const char *key, const char *v, bool comma)
{
    jb_raw(j, comma ? ",\"" : "\"");
    jb_raw(j, key);
    jb_raw(j, "\":");
    jb_str(j, v);
}

static void iso_time(uint64_t ns, char *out, size_t len)
{
    time_t t = (time_t)(ns / NS_PER_SEC);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, len, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(ns / 1000000 % 1000));
}

static const char *port_name(uint16_t port)
{
    static const struct { uint16_t port; const char *name; } t[] = {
        { 20, "FTP-DATA" }, { 21, "FTP" }, { 22, "SSH" }, { 23, "Telnet" },
        { 25, "SMTP" }, { 53, "DNS" }, { 80, "HTTP" }, { 110, "POP3" },
        { 123, "NTP" }, { 135, "MSRPC" }, { 137, "NetBIOS" }, { 139, "NetBIOS" },
        { 143, "IMAP" }, { 161, "SNMP" }, { 389, "LDAP" }, { 443, "HTTPS" },
        { 445, "SMB" }, { 465, "SMTPS" }, { 587, "SMTP" }, { 636, "LDAPS" },
        { 993, "IMAPS" }, { 995, "POP3S" }, { 1433, "MSSQL" }, { 1521, "Oracle" },
        { 2049, "NFS" }, { 2375, "Docker" }, { 2376, "Docker" }, { 3306, "MySQL" },
        { 3389, "RDP" }, { 5432, "PostgreSQL" }, { 5601, "Kibana" },
        { 5900, "VNC" }, { 5984, "CouchDB" }, { 6379, "Redis" },
        { 6443, "Kubernetes" }, { 8080, "HTTP" }, { 8443, "HTTPS" },
        { 9042, "Cassandra" }, { 9200, "Elasticsearch" }, { 9300, "Elasticsearch" },
        { 11211, "Memcached" }, { 27017, "MongoDB" },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].port == port)
            return t[i].name;
    return "Unknown";
}

static const char *proto_name(uint8_t p)
{
    switch (p) {
    case 6: return "TCP";
    case 17: return "UDP";
    case 1: return "ICMP";
    case 58: return "ICMPV6";
    case 132: return "SCTP";
    case 47: return "GRE";
    default: return "Unknown";
    }
}

static const char *dir_name(uint8_t d)
{
    return d == FC_INBOUND ? "INBOUND" : d == FC_OUTBOUND ? "OUTBOUND" : "UNKNOWN";
}

static void jb_port(struct jb *j, uint16_t port)
{
    jb_fmt(j, "{\"port\":%u,\"portName\":", port);
    jb_str(j, port_name(port));
    jb_raw(j, "}");
}

static void jb_ip(struct jb *j, uint8_t family, const struct mg_addr *a)
{
    char ip[INET6_ADDRSTRLEN];
    addr_str(family, a, ip, sizeof(ip));
    jb_raw(j, "{");
    if (family)
        jb_kv(j, family == 6 ? "ipAddressV6" : "ipAddressV4", ip, false);
    jb_raw(j, "}");
}

/* The registrable part of a name, for dnsRequestAction.domainWithSuffix:
 * libpsl's registrable domain ("a.b.example.co.uk" -> "example.co.uk"); a
 * name that is itself a public suffix or a single label stays as it is. */
static const char *domain_with_suffix(const char *d, char *buf, size_t n)
{
    return domain_registrable(d, buf, n) == DOMAIN_ERR ? d : buf;
}

/* Details of the latest occurrence. */
static const struct fc_probe *d_probes(const struct fnd *d)
{
    return (const struct fc_probe *)(const void *)d->det;
}
static const char *d_domain(const struct fnd *d)
{
    return d->det ? d->det + d->n_probes * sizeof(struct fc_probe) : "";
}
static const char *d_list(const struct fnd *d) { return d->det ? d->det + d->o_list : ""; }
static const char *d_entry(const struct fnd *d) { return d->det ? d->det + d->o_entry : ""; }
static const char *d_info(const struct fnd *d) { return d->det ? d->det + d->o_info : ""; }

/* Titles of the reconnaissance and brute-force types, in GuardDuty's
 * wording where GuardDuty has the type. Returns 1 when d's type has one. */
static int typed_sentences(const struct fnd *d, const char *who, const char *whol,
                           const char *rip, char *title, size_t tl, char *desc, size_t dl)
{
    static const struct { const char *type, *svc; } brute[] = {
        { "UnauthorizedAccess:EC2/SSHBruteForce", "SSH" },
        { "UnauthorizedAccess:EC2/RDPBruteForce", "RDP" },
        { "Impact:EC2/WinRMBruteForce", "WinRM" },
    };
    for (size_t i = 0; i < sizeof(brute) / sizeof(brute[0]); i++) {
        if (strcmp(d->type, brute[i].type))
            continue;
        if (d->direction == FC_INBOUND) {
            snprintf(title, tl, "%s brute force attacks against %s.", brute[i].svc, whol);
            snprintf(desc, dl, "%s is the target of %s brute force attacks from %s "
                     "(many short failed-looking sessions to port %u).", who, brute[i].svc,
                     rip, d->local_port);
        } else {
            snprintf(title, tl, "%s is performing %s brute force attacks.", who, brute[i].svc);
            snprintf(desc, dl, "%s is performing %s brute force attacks against %s "
                     "on port %u.", who, brute[i].svc, rip, d->remote_port);
        }
        return 1;
    }
    if (!strcmp(d->type, "Recon:EC2/Portscan")) {
        snprintf(title, tl, "%s is performing outbound port scans against a remote host.", who);
        snprintf(desc, dl, "%s is performing a %s port scan against %s.", who,
                 proto_name(d->proto), rip);
    } else if (!strcmp(d->type, "Impact:EC2/PortSweep")) {
        snprintf(title, tl, "%s is probing a port on a large number of IP addresses.", who);
        snprintf(desc, dl, "%s is probing port %u (%s) on a large number of public IP "
                 "addresses.", who, d->remote_port, port_name(d->remote_port));
    } else if (!strcmp(d->type, "Recon:EC2/InboundPortscan")) {
        snprintf(title, tl, "%s is being port-scanned.", who);
        snprintf(desc, dl, "%s is being port-scanned by %s.", who, rip);
    } else if (!strcmp(d->type, "Recon:EC2/ICMPSweep")) {
        snprintf(title, tl, "%s is sending ICMP echo requests to many hosts.", who);
        snprintf(desc, dl, "%s is sweeping many hosts with ICMP echo requests (ping).", who);
    } else {
        return 0;
    }
    return 1;
}

/* title and description: sentences built from the fields. */
static void sentences(const struct fnd *d, char *title, size_t tl, char *desc, size_t dl)
{
    char ip[INET6_ADDRSTRLEN], rip[INET6_ADDRSTRLEN], who[160], whol[160];
    addr_str(d->family, &d->local, ip, sizeof(ip));
    addr_str(d->family, &d->remote, rip, sizeof(rip));
    if (*d->inst) {
        snprintf(who, sizeof(who), "EC2 instance %s", d->inst);
        snprintf(whol, sizeof(whol), "EC2 instance %s", d->inst);
    } else if (*ip) {
        snprintf(who, sizeof(who), "Host %s", ip);
        snprintf(whol, sizeof(whol), "host %s", ip);
    } else {
        snprintf(who, sizeof(who), "An unidentified host");
        snprintf(whol, sizeof(whol), "an unidentified host");
    }
    const char *list = d_list(d);
    char onlist[FC_LIST_LEN + 64] = "";
    if (*list)
        snprintf(onlist, sizeof(onlist), " on the threat list '%s'", list);

    switch (d->action) {
    case FC_DNS_REQUEST:
        if (*list) {
            snprintf(title, tl, "%s is querying a domain name on a threat list.", who);
            snprintf(desc, dl, "%s is querying %s, a domain name%s.", who,
                     d_domain(d), onlist);
        } else {
            snprintf(title, tl, "%s is querying a suspicious domain name.", who);
            snprintf(desc, dl, "%s is querying the domain name %s.", who, d_domain(d));
        }
        break;
    case FC_PORT_PROBE: {
        char ports[8 * 24] = "";
        size_t o = 0;
        for (unsigned i = 0; i < d->n_probes && o < sizeof(ports); i++) {
            uint16_t p = d_probes(d)[i].local_port;
            int w = snprintf(ports + o, sizeof(ports) - o, "%s%u (%s)", i ? ", " : "",
                             p, port_name(p));
            if (w > 0)
                o += (size_t)w;
        }
        snprintf(title, tl, "Unprotected port on %s is being probed.", whol);
        if (*list)
            snprintf(desc, dl, "%s is being probed by %s, an IP address%s%s%s.",
                     who, rip, onlist, *ports ? ", on ports " : "", ports);
        else
            snprintf(desc, dl, "%s is being probed by %s%s%s.", who, rip,
                     *ports ? " on ports " : "", ports);
        break;
    }
    default:
        if (!*list && typed_sentences(d, who, whol, rip, title, tl, desc, dl))
            break;
        if (*list && d->direction == FC_INBOUND) {
            snprintf(title, tl, "%s is being contacted by an IP address on a threat "
                     "list.", who);
            snprintf(desc, dl, "%s is being contacted by %s, an IP address%s.", who,
                     rip, onlist);
        } else if (*list) {
            snprintf(title, tl, "%s is communicating with an IP address on a "
                     "threat list.", who);
            snprintf(desc, dl, "%s is communicating with %s, an IP address%s.", who,
                     rip, onlist);
        } else if (d->direction == FC_INBOUND) {
            snprintf(title, tl, "Unusual inbound connection to %s.", whol);
            snprintf(desc, dl, "%s received an inbound %s connection from %s on "
                     "port %u (%s).", who, proto_name(d->proto), rip,
                     d->local_port, port_name(d->local_port));
        } else {
            snprintf(title, tl, "Unusual outbound connection from %s.", whol);
            snprintf(desc, dl, "%s made an outbound %s connection to %s on port "
                     "%u (%s).", who, proto_name(d->proto), rip, d->remote_port,
                     port_name(d->remote_port));
        }
        break;
    }
}

static void hex_id(const struct fnd *d, char out[33])
{
    snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, d->ha, d->hb);
}

/* The whole finding into f->jb, keys in GuardDuty's order. */
static void build_json(struct findings *f, const struct fnd *d, const char *id)
{
    struct jb *j = &f->jb;
    char t[ISO_LEN], ip[INET6_ADDRSTRLEN], title[512], desc[1024], arn[512];

    j->len = 0;
    j->oom = false;
    jb_raw(j, "{");
    jb_kv(j, "schemaVersion", "2.0", false);
    jb_kv(j, "accountId", d->account, true);
    jb_kv(j, "region", f->region, true);
    jb_kv(j, "partition", f->partition, true);
    jb_kv(j, "id", id, true);
    snprintf(arn, sizeof(arn), "arn:%s:guardduty:%s:%s:detector/%s/finding/%s",
             f->partition, f->region, d->account, f->sensor, id);
    jb_kv(j, "arn", arn, true);
    jb_kv(j, "type", d->type, true);

    /* resource */
    jb_raw(j, ",\"resource\":{\"resourceType\":\"Instance\",\"instanceDetails\":{");
    jb_kv(j, "instanceId", d->inst, false);
    jb_raw(j, ",\"tags\":[");
    const char *tg = d->tags;
    for (unsigned i = 0; i < d->n_tags; i++) {
        const char *v = tg + strlen(tg) + 1;
        jb_raw(j, i ? ",{" : "{");
        jb_kv(j, "key", tg, false);
        jb_kv(j, "value", v, true);
        jb_raw(j, "}");
        tg = v + strlen(v) + 1;
    }
    jb_raw(j, "],\"networkInterfaces\":[");
    addr_str(d->family, &d->local, ip, sizeof(ip));
    if (*d->eni || *ip) {
        jb_raw(j, "{");
        jb_kv(j, "networkInterfaceId", d->eni, false);
        jb_kv(j, "privateIpAddress", d->family == 4 ? ip : "", true);
        jb_raw(j, ",\"ipv6Addresses\":[");
        if (d->family == 6)
            jb_str(j, ip);
        jb_raw(j, "]");
        jb_kv(j, "subnetId", d->subnet, true);
        jb_kv(j, "vpcId", d->vpc, true);
        jb_raw(j, "}");
    }
    jb_raw(j, "]}}");

    /* service */
    jb_raw(j, ",\"service\":{\"serviceName\":\"mirrorguard\"");
    jb_kv(j, "detectorId", f->sensor, true);
    jb_kv(j, "resourceRole", d->role == FC_ACTOR ? "ACTOR" : "TARGET", true);
    jb_fmt(j, ",\"count\":%" PRIu64, d->count);
    iso_time(d->created_ns, t, sizeof(t));
    jb_kv(j, "eventFirstSeen", t, true);
    iso_time(d->last_ns, t, sizeof(t));
    jb_kv(j, "eventLastSeen", t, true);
    jb_raw(j, d->archived ? ",\"archived\":true" : ",\"archived\":false");

    jb_raw(j, ",\"action\":{");
    switch (d->action) {
    case FC_PORT_PROBE:
        jb_raw(j, "\"actionType\":\"PORT_PROBE\",\"portProbeAction\":{"
                  "\"blocked\":false,\"portProbeDetails\":[");
        for (unsigned i = 0; i < d->n_probes; i++) {
            const struct fc_probe *pr = &d_probes(d)[i];
            jb_raw(j, i ? ",{\"localPortDetails\":" : "{\"localPortDetails\":");
            jb_port(j, pr->local_port);
            jb_raw(j, ",\"localIpDetails\":");
            jb_ip(j, d->family, &d->local);
            jb_raw(j, ",\"remoteIpDetails\":");
            jb_ip(j, pr->family ? pr->family : d->family, &pr->remote);
            jb_raw(j, "}");
        }
        jb_raw(j, "]}");
        break;
    case FC_DNS_REQUEST:
        jb_raw(j, "\"actionType\":\"DNS_REQUEST\",\"dnsRequestAction\":{");
        jb_kv(j, "domain", d_domain(d), false);
        char dws[FC_DOMAIN_LEN];
        jb_kv(j, "domainWithSuffix", domain_with_suffix(d_domain(d), dws, sizeof(dws)), true);
        jb_kv(j, "protocol", d->proto == 6 ? "TCP" : "UDP", true);
        jb_raw(j, ",\"blocked\":false}");
        break;
    default:
        jb_raw(j, "\"actionType\":\"NETWORK_CONNECTION\",\"networkConnectionAction\":{");
        jb_kv(j, "connectionDirection", dir_name(d->direction), false);
        jb_kv(j, "protocol", proto_name(d->proto), true);
        jb_raw(j, ",\"blocked\":false,\"localIpDetails\":");
        jb_ip(j, d->family, &d->local);
        jb_raw(j, ",\"localPortDetails\":");
        jb_port(j, d->local_port);
        jb_raw(j, ",\"remoteIpDetails\":");
        jb_ip(j, d->family, &d->remote);
        jb_raw(j, ",\"remotePortDetails\":");
        jb_port(j, d->remote_port);
        jb_raw(j, "}");
        break;
    }
    jb_raw(j, "}");

    if (*d_list(d)) {
        jb_raw(j, ",\"evidence\":{\"threatIntelligenceDetails\":[{");
        jb_kv(j, "threatListName", d_list(d), false);
        jb_raw(j, ",\"threatNames\":[");
        if (*d_entry(d))
            jb_str(j, d_entry(d));
        jb_raw(j, "]}]}");
    }

    /* GuardDuty's additionalInfo.value is a string holding a JSON
     * object; as a string it also stays valid JSON whatever a detector
     * put in fc->info. */
    {
        char v[FC_INFO_LEN + 3];
        snprintf(v, sizeof(v), "{%s}", d_info(d));
        jb_raw(j, ",\"additionalInfo\":{");
        jb_kv(j, "value", v, false);
        jb_raw(j, ",\"type\":\"default\"}");
    }
    jb_raw(j, "}");

    double sev = d->severity;
    if (!(sev >= 0))            /* NaN too: JSON has no NaN */
        sev = 0;
    if (sev > 10)
        sev = 10;
    jb_fmt(j, ",\"severity\":%.1f", sev);
    iso_time(d->created_ns, t, sizeof(t));
    jb_kv(j, "createdAt", t, true);
    iso_time(d->last_ns, t, sizeof(t));
    jb_kv(j, "updatedAt", t, true);
    sentences(d, title, sizeof(title), desc, sizeof(desc));
    jb_kv(j, "title", title, true);
    jb_kv(j, "description", desc, true);
    jb_raw(j, "}");
}

static void publish(struct findings *f, struct fnd *d, int is_new)
{
    f->st.published++;
    if (!f->pub)
        return;
    char id[33], upd[ISO_LEN];
    hex_id(d, id);
    build_json(f, d, id);
    if (f->jb.oom) {
        f->st.published--;
        f->st.errors++;
        return;
    }
    iso_time(d->last_ns, upd, sizeof(upd));
    double sev = d->severity;
    if (!(sev >= 0))
        sev = 0;
    if (sev > 10)
        sev = 10;
    struct finding_pub p = {
        .id = id, .type = d->type, .json = f->jb.b, .updated_at = upd,
        .instance_id = d->inst, .severity = (double)(int)(sev * 10 + 0.5) / 10,
        .updated_epoch = d->last_ns / 1000000, .count = d->count,
        .archived = d->archived, .is_new = is_new,
    };
    f->pub(f->pub_arg, &p);
}

/* ------------------------------------------------- suppression rules */

static bool in_strs(char *const *v, unsigned n, const char *s)
{
    for (unsigned i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

static bool in_cidrs(const struct cfg_cidr *c, unsigned n, uint8_t family,
                     const struct mg_addr *a)
{
    for (unsigned i = 0; family && i < n; i++)
        if (cidr_has(&c[i], family, a))
            return true;
    return false;
}

/* "example.com" matches that name; "*.example.com" it and every name
 * below it. Case-insensitive, trailing dots ignored on both sides. */
static bool domain_match(const char *pat, const char *name)
{
    bool wild = !strncmp(pat, "*.", 2);
    if (wild)
        pat += 2;
    size_t pl = strlen(pat), nl = strlen(name);
    while (pl && pat[pl - 1] == '.')
        pl--;
    while (nl && name[nl - 1] == '.')
        nl--;
    if (!pl || !nl)
        return false;
    if (nl == pl)
        return !strncasecmp(pat, name, pl);
    return wild && nl > pl && name[nl - pl - 1] == '.' &&
           !strncasecmp(pat, name + nl - pl, pl);
}

static bool tags_match(const struct cfg_tag *want, unsigned n, const struct fnd *d)
{
    for (unsigned i = 0; i < n; i++) {
        const char *k = d->tags;
        for (unsigned t = 0; t < d->n_tags; t++) {
            const char *v = k + strlen(k) + 1;
            if (!strcmp(k, want[i].key) &&
                (!*want[i].value || !strcmp(v, want[i].value)))
                return true;
            k = v + strlen(v) + 1;
        }
    }
    return false;
}

/* Every criterion the rule uses must match; one value of a criterion is
 * enough. 'd' holds the resource, 'fc' the occurrence. */
static bool rule_match(const struct cfg_suppression_rule *r, const struct fnd *d,
                       const struct finding_cand *fc, const char *domain)
{
    const __typeof__(r->criteria) *c = &r->criteria;
    if (c->n_type && !in_strs(c->type, c->n_type, d->type))
        return false;
    if (fc->severity < c->severity_min || fc->severity > c->severity_max)
        return false;
    if (c->n_instance_id && !in_strs(c->instance_id, c->n_instance_id, d->inst))
        return false;
    if (c->n_tags && !tags_match(c->tags, c->n_tags, d))
        return false;
    if (c->n_local_ip && !in_cidrs(c->local_ip, c->n_local_ip, fc->family, &fc->local))
        return false;
    if (c->n_remote_ip) {
        bool m = in_cidrs(c->remote_ip, c->n_remote_ip, fc->family, &fc->remote);
        unsigned np = fc->n_probes < FC_MAX_PROBES ? fc->n_probes : FC_MAX_PROBES;
        for (unsigned i = 0; !m && fc->action == FC_PORT_PROBE && i < np; i++)
            m = in_cidrs(c->remote_ip, c->n_remote_ip,
                         fc->probes[i].family ? fc->probes[i].family : fc->family,
                         &fc->probes[i].remote);
        if (!m)
            return false;
    }
    if (c->n_remote_port) {
        bool m = false;
        for (unsigned i = 0; i < c->n_remote_port && !m; i++)
            m = c->remote_port[i] == fc->remote_port;
        if (!m)
            return false;
    }
    if (c->n_domain) {
        bool m = false;
        for (unsigned i = 0; i < c->n_domain && !m; i++)
            m = domain_match(c->domain[i], domain);
        if (!m)
            return false;
    }
    if (c->n_direction && !in_strs(c->direction, c->n_direction, dir_name(fc->direction)))
        return false;
    if (c->n_resource_role &&
        !in_strs(c->resource_role, c->n_resource_role,
                 fc->role == FC_ACTOR ? "ACTOR" : "TARGET"))
        return false;
    return true;
}

static bool suppressed(const struct findings *f, const struct fnd *d,
                       const struct finding_cand *fc, const char *domain)
{
    for (unsigned i = 0; i < f->cfg->n_suppression_rules; i++)
        if (rule_match(&f->cfg->suppression_rules[i], d, fc, domain))
            return true;
    return false;
}

/* ------------------------------------------------------ the resource */

struct res {
    const char *inst, *eni, *subnet, *vpc, *account;
    const struct cfg_tag *tags;
    unsigned n_tags;
    char ip[INET6_ADDRSTRLEN];
};

static const char *or_(const char *a, const char *b)
{
    return a && *a ? a : b && *b ? b : "";
}

/* Assets first (longest CIDR). An asset naming an instance describes it
 * alone (the session then only gives the account); an asset without one
 * (a subnet's range, say) lends what it has and the session the rest. */
static void resolve(const struct findings *f, const struct finding_cand *fc,
                    struct res *r)
{
    const struct cfg_asset *a = aidx_lookup(&f->aidx, fc->family, &fc->local);
    const struct cfg_mirror_session *s = fc->vni ? cfg_session_by_vni(f->cfg, fc->vni)
                                                 : NULL;
    memset(r, 0, sizeof(*r));
    addr_str(fc->family, &fc->local, r->ip, sizeof(r->ip));
    if (a && *a->instance_id) {
        r->inst = a->instance_id;
        r->eni = a->eni;
        r->subnet = a->subnet_id;
        r->vpc = a->vpc_id;
    } else {
        r->inst = or_(s ? s->instance_id : NULL, NULL);
        r->eni = or_(a ? a->eni : NULL, s ? s->eni : NULL);
        r->subnet = or_(a ? a->subnet_id : NULL, s ? s->subnet_id : NULL);
        r->vpc = or_(a ? a->vpc_id : NULL, s ? s->vpc_id : NULL);
    }
    /* "" rather than NULL from here on (a cfg built by hand may hold NULLs). */
    r->inst = or_(r->inst, NULL);
    r->eni = or_(r->eni, NULL);
    r->subnet = or_(r->subnet, NULL);
    r->vpc = or_(r->vpc, NULL);
    r->account = or_(s ? s->account_id : NULL, f->account);
    if (a) {
        r->tags = a->tags;
        r->n_tags = a->n_tags;
    }
}

/* Tags for an instance that came from a mirror session: those of an asset
 * naming the same instance. Only when a finding is created. */
static void session_tags(const struct findings *f, struct res *r)
{
    if (r->n_tags || !*r->inst)
        return;
    for (unsigned i = 0; i < f->cfg->n_assets; i++) {
        const struct cfg_asset *a = &f->cfg->assets[i];
        if (a->n_tags && !strcmp(a->instance_id, r->inst)) {
            r->tags = a->tags;
            r->n_tags = a->n_tags;
            return;
        }
    }
}

/* ---------------------------------------------- findings: the table */

static struct fnd *lookup(const struct findings *f, uint64_t ha, uint64_t hb,
                          const char *type, const char *res, const char *rkey)
{
    for (struct fnd *d = f->bucket[ha & f->bmask]; d; d = d->hnext)
        if (d->ha == ha && d->hb == hb && !strcmp(d->type, type) &&
            !strcmp(d->res, res) && !strcmp(d->rkey, rkey))
            return d;
    return NULL;
}

static void lru_unlink(struct findings *f, struct fnd *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        f->lru_head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        f->lru_tail = d->prev;
    d->prev = d->next = NULL;
}

static void lru_append(struct findings *f, struct fnd *d)
{
    d->prev = f->lru_tail;
    d->next = NULL;
    if (f->lru_tail)
        f->lru_tail->next = d;
    else
        f->lru_head = d;
    f->lru_tail = d;
}

static void destroy(struct findings *f, struct fnd *d)
{
    struct fnd **pp = &f->bucket[d->ha & f->bmask];
    while (*pp != d)
        pp = &(*pp)->hnext;
    *pp = d->hnext;
    lru_unlink(f, d);
    if (d->heap_i)
        heap_remove(f, d);
    free(d->det);
    free(d);
    f->st.in_memory--;
}

/* Make room: the least recently updated finding goes, after its pending
 * update (if any) is published. */
static void evict_one(struct findings *f)
{
    struct fnd *d = f->lru_head;
    if (!d)
        return;
    if (d->heap_i) {
        heap_remove(f, d);
        d->pub_ns = f->now_ns;
        publish(f, d, 0);
    }
    destroy(f, d);
    f->st.evicted++;
}

/* Copy the latest occurrence's details. -1 (nothing changed) when the
 * details block had to grow and could not. */
static int set_details(struct fnd *d, const struct finding_cand *fc)
{
    unsigned np = fc->action == FC_PORT_PROBE
                  ? (fc->n_probes < FC_MAX_PROBES ? fc->n_probes : FC_MAX_PROBES) : 0;
    size_t ld = flen(fc->domain, FC_DOMAIN_LEN), ll = flen(fc->list_name, FC_LIST_LEN);
    size_t le = flen(fc->list_entry, FC_LIST_LEN), li = flen(fc->info, FC_INFO_LEN);
    size_t pb = np * sizeof(struct fc_probe);
    size_t need = pb + ld + 1 + ll + 1 + le + 1 + li + 1;
    if (need > d->det_cap) {
        /* The first occurrence gets what it needs; a later one that does
         * not fit gets the most any candidate can need, so this happens at
         * most twice in a finding's life. */
        size_t cap = d->det ? DET_MAX : need;
        char *n = realloc(d->det, cap);
        if (!n)
            return -1;
        d->det = n;
        d->det_cap = (uint16_t)cap;
    }
    char *p = d->det;
    if (pb)
        memcpy(p, fc->probes, pb);
    p += pb;
    memcpy(p, fc->domain, ld);
    p[ld] = '\0';
    p += ld + 1;
    d->o_list = (uint16_t)(p - d->det);
    memcpy(p, fc->list_name, ll);
    p[ll] = '\0';
    p += ll + 1;
    d->o_entry = (uint16_t)(p - d->det);
    memcpy(p, fc->list_entry, le);
    p[le] = '\0';
    p += le + 1;
    d->o_info = (uint16_t)(p - d->det);
    memcpy(p, fc->info, li);
    p[li] = '\0';

    d->severity = fc->severity;
    d->vni = fc->vni;
    d->action = fc->action;
    d->role = fc->role;
    d->direction = fc->direction;
    d->family = fc->family;
    d->proto = fc->proto;
    d->n_probes = (uint8_t)np;
    d->local_port = fc->local_port;
    d->remote_port = fc->remote_port;
    d->local = fc->local;
    d->remote = fc->remote;
    return 0;
}

static char *put(char **p, const char *s)
{
    char *r = *p;
    size_t n = strlen(s) + 1;
    memcpy(r, s, n);
    *p += n;
    return r;
}

static struct fnd *create(struct findings *f, const struct h2 *h, const char *type,
                          const char *rkey, const struct res *r,
                          const struct finding_cand *fc)
{
    const char *res = *r->inst ? r->inst : r->ip;
    size_t n = strlen(type) + strlen(res) + strlen(rkey) + strlen(r->inst) +
               strlen(r->eni) + strlen(r->subnet) + strlen(r->vpc) +
               strlen(r->account) + 8;
    for (unsigned i = 0; i < r->n_tags; i++)
        n += strlen(r->tags[i].key) + strlen(r->tags[i].value) + 2;
    struct fnd *d = calloc(1, sizeof(*d) + n);
    if (!d)
        return NULL;
    if (set_details(d, fc) < 0) {
        free(d);
        return NULL;
    }
    char *p = d->s;
    d->type = put(&p, type);
    d->res = put(&p, res);
    d->rkey = put(&p, rkey);
    d->inst = put(&p, r->inst);
    d->eni = put(&p, r->eni);
    d->subnet = put(&p, r->subnet);
    d->vpc = put(&p, r->vpc);
    d->account = put(&p, r->account);
    d->tags = p;
    for (unsigned i = 0; i < r->n_tags; i++) {
        put(&p, r->tags[i].key);
        put(&p, r->tags[i].value);
    }
    d->n_tags = r->n_tags;
    d->ha = h->a;
    d->hb = h->b;
    d->created_ns = d->last_ns = d->pub_ns = fc->ts_ns;
    d->count = fc->count ? fc->count : 1;

    struct fnd **b = &f->bucket[d->ha & f->bmask];
    d->hnext = *b;
    *b = d;
    lru_append(f, d);
    f->st.in_memory++;
    return d;
}

/* ----------------------------------------------------------- the API */

struct findings *findings_new(const struct cfg *c, char *err, size_t errlen)
{
    uint32_t sec = cfg_publishing_seconds(c->findings.publishing_frequency);
    if (!err)
        errlen = 0;
    if (!sec || c->findings.max_findings < 1) {
        snprintf(err, errlen, "findings: bad publishing_frequency \"%s\" or "
                 "max_findings %u", c->findings.publishing_frequency
                 ? c->findings.publishing_frequency : "(null)",
                 c->findings.max_findings);
        return NULL;
    }
    struct findings *f = calloc(1, sizeof(*f));
    if (!f)
        goto oom;
    f->cfg = c;
    f->freq_ns = (uint64_t)sec * NS_PER_SEC;
    f->max = c->findings.max_findings;
    f->account = strdup(c->account_id ? c->account_id : "");
    f->region = strdup(c->region ? c->region : "");
    f->partition = strdup(c->findings.partition && *c->findings.partition
                          ? c->findings.partition : "aws");
    f->sensor = strdup(c->sensor_id ? c->sensor_id : "");
    uint32_t nb = 16;
    while (nb < f->max && nb < (1u << 30))
        nb <<= 1;
    f->bmask = nb - 1;
    f->bucket = calloc(nb, sizeof(*f->bucket));
    f->heap = calloc(f->max, sizeof(*f->heap));
    jb_grow(&f->jb, 8192);
    if (!f->account || !f->region || !f->partition || !f->sensor || !f->bucket ||
        !f->heap || f->jb.oom)
        goto oom;
    aidx_build(&f->aidx, c);
    return f;
oom:
    findings_free(f);
    snprintf(err, errlen, "findings: out of memory (max_findings %u)",
             c->findings.max_findings);
    return NULL;
}

void findings_free(struct findings *f)
{
    if (!f)
        return;
    for (struct fnd *d = f->lru_head, *n; d; d = n) {
        n = d->next;
        free(d->det);
        free(d);
    }
    free(f->bucket);
    free(f->heap);
    free(f->jb.b);
    aidx_free(&f->aidx);
    free(f->account);
    free(f->region);
    free(f->partition);
    free(f->sensor);
    free(f);
}

void findings_set_trusted(struct findings *f, findings_trusted_fn fn, void *arg)
{
    f->trusted = fn;
    f->trusted_arg = arg;
}

void findings_set_publisher(struct findings *f, findings_publish_fn fn, void *arg)
{
    f->pub = fn;
    f->pub_arg = arg;
}

void findings_add(struct findings *f, const struct finding_cand *fc)
{
    char type[FC_TYPE_LEN], domain[FC_DOMAIN_LEN], rip[INET6_ADDRSTRLEN];
    struct res r;
    struct h2 h;

    f->st.candidates++;
    if (fc->ts_ns > f->now_ns)
        f->now_ns = fc->ts_ns;
    if (f->trusted && f->trusted(f->trusted_arg, fc) == 1) {
        f->st.trusted_dropped++;
        return;
    }

    size_t tl = flen(fc->type, FC_TYPE_LEN), dl = flen(fc->domain, FC_DOMAIN_LEN);
    memcpy(type, fc->type, tl);
    type[tl] = '\0';
    memcpy(domain, fc->domain, dl);
    domain[dl] = '\0';
    addr_str(fc->family, &fc->remote, rip, sizeof(rip));
    const char *rkey = fc->action == FC_DNS_REQUEST ? domain : rip;

    resolve(f, fc, &r);
    const char *res = *r.inst ? r.inst : r.ip;
    h_init(&h);
    h_str(&h, f->sensor);
    h_str(&h, type);
    h_str(&h, res);
    h_str(&h, rkey);
    h_done(&h);

    struct fnd *d = lookup(f, h.a, h.b, type, res, rkey);
    if (!d) {
        if (f->st.in_memory >= f->max)
            evict_one(f);
        session_tags(f, &r);
        d = create(f, &h, type, rkey, &r, fc);
        if (!d) {
            f->st.errors++;
            return;
        }
        f->st.created++;
        d->archived = suppressed(f, d, fc, domain);
        if (d->archived)
            f->st.archived++;
        publish(f, d, 1);
        return;
    }

    f->st.updated++;
    d->count += fc->count ? fc->count : 1;
    if (fc->ts_ns > d->last_ns)
        d->last_ns = fc->ts_ns;
    if (set_details(d, fc) < 0)
        f->st.errors++;         /* the count and times still moved */
    d->archived = suppressed(f, d, fc, domain);
    if (d->archived)
        f->st.archived++;
    lru_unlink(f, d);
    lru_append(f, d);
    if (!d->heap_i) {
        d->due_ns = d->pub_ns + f->freq_ns;
        d->seq = f->seq++;
        heap_push(f, d);
    }
}

void findings_tick(struct findings *f, uint64_t now_ns)
{
    if (now_ns > f->now_ns)
        f->now_ns = now_ns;
    while (f->heap_n && f->heap[0]->due_ns <= now_ns) {
        struct fnd *d = f->heap[0];
        heap_remove(f, d);
        d->pub_ns = now_ns;
        publish(f, d, 0);
    }
}

void findings_flush(struct findings *f)
{
    while (f->heap_n) {
        struct fnd *d = f->heap[0];
        heap_remove(f, d);
        d->pub_ns = f->now_ns;
        publish(f, d, 0);
    }
}

void findings_reload_rules(struct findings *f, const struct cfg *newcfg)
{
    f->cfg = newcfg;
    aidx_build(&f->aidx, newcfg);
}

void findings_stats(const struct findings *f, struct findings_stats *st)
{
    *st = f->st;
}
