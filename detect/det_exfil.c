/* detect/det_exfil.c - data exfiltration over DNS.
 *
 *   Trojan:EC2/DNSDataExfiltration  (High, 8.0)
 *       an instance encodes data in the names it queries (or fetches it in
 *       TXT/NULL/CNAME/MX answers) under one domain: DNS tunnels (iodine,
 *       dnscat2, dns2tcp) and slow exfiltration of files.
 *
 * State is one entry per (client, registrable domain) - the registrable
 * domain from the Public Suffix List (detect/domain.h), so "x.y.evil.co.uk"
 * counts for evil.co.uk. In a window (detect.exfil.window_seconds, restarted
 * when it runs out) an entry counts, over the subdomain part of each name
 * (the labels left of the registrable domain): unique subdomains (linear
 * counting in a 1024-bit bitmap, Whang et al. 1990), the longest label, the
 * Shannon entropy of its characters, bytes (without dots) per minute, the
 * record types asked for and the bytes of data-type answers. Rules (any):
 *
 *   volume  unique >= min_unique, mean longest label >= min_mean_label,
 *           mean entropy >= min_entropy
 *   rate    subdomain bytes in one minute >= bytes_per_minute and
 *           unique >= rate_min_unique
 *   data    TXT/NULL/CNAME/MX/ANY queries >= data_min_queries, as many unique
 *           subdomains, mean longest label >= data_min_label, mean entropy >=
 *           data_min_entropy (dnscat2, dns2tcp: few but fat queries)
 *   null    NULL queries >= null_min_queries to as many unique names (iodine;
 *           NULL records have no legitimate use on the Internet)
 *
 * Never counted: PTR queries and *.arpa, mDNS (port 5353, *.local), DNS-SD
 * and DKIM names (a label starting with '_'), names that are a public suffix
 * or have no subdomain part, names under allow_suffixes (CDNs, cloud,
 * anti-virus and DNSBL lookups with hashed names) and names answered with a
 * CNAME into one of those, and queries from outside home_net to a server in
 * it (someone else's exfiltration through our resolver is not the instance's).
 *
 * Bounded: max_pairs entries in a fixed table with least-recently-used
 * eviction (counted: det_exfil_counter()). One candidate when a rule first
 * holds, then at most one per report_interval; the aggregator merges them
 * into one finding per (instance, domain). */
#include "det.h"
#include "cfg.h"
#include "domain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define T_EXFIL   "Trojan:EC2/DNSDataExfiltration"
#define SEV_EXFIL 8.0
#define NONE      UINT32_MAX
#define NS        1000000000ull
#define BITMAP_BITS 1024
#define SAMPLE_LEN 64

enum {                              /* record types seen (bits of xent.types) */
    TY_A = 1, TY_AAAA = 2, TY_TXT = 4, TY_NULL = 8, TY_CNAME = 16, TY_MX = 32,
    TY_ANY = 64, TY_OTHER = 128,
};

struct xent {
    struct mg_addr client, server;
    uint8_t  family, used, types;
    uint8_t  sample_lab;            /* longest label of the sample */
    uint32_t hash, hnext, lprev, lnext;
    uint64_t win_start, min_start, last_report;
    uint32_t queries, n_data, n_null;
    uint32_t min_bytes, max_min_bytes;
    uint64_t bytes, ans_bytes;
    uint64_t sum_lab;               /* sum of each query's longest label */
    double   sum_ent;               /* sum of each query's subdomain entropy */
    uint64_t bits[BITMAP_BITS / 64];
    char     sample[SAMPLE_LEN + 1];
    char     domain[DNS_MAX_NAME];
};

struct exfil {
    struct det_env env;
    int enabled;
    const struct cfg *c;
    struct xent *e;
    uint32_t cap, used, nbuckets;
    uint32_t *bucket;
    uint32_t lru_head, lru_tail;    /* head = most recent */
    uint64_t evicted, queries, reports;
    struct finding_cand fc;
    /* allow_suffixes as an open-addressed set keyed by the suffix_step()
     * hash of each suffix without its trailing dots (s == NULL: empty slot).
     * A name is looked up once per label boundary, not compared with every
     * suffix (the list may hold 4096). */
    struct allow_slot {
        const char *s;              /* the configured suffix */
        uint32_t len, hash;         /* its length without trailing dots, its hash */
    } *allow;
    uint32_t allow_mask;
};

static uint32_t
hash_key(const struct mg_addr *a, uint8_t fam, const char *dom)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ a->b[i]) * 16777619u;
    h = (h ^ fam) * 16777619u;
    for (const char *p = dom; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h;
}

/* The hash of a name's tail, built from its last character towards its
 * first, case-blind: h(c + t) = step(h(t), c), so walking a name from the
 * end gives the hash of every suffix on the way. */
static inline uint32_t
suffix_step(uint32_t h, char c)
{
    unsigned char u = (unsigned char)c;
    if (u >= 'A' && u <= 'Z')
        u = (unsigned char)(u + 32);
    return (h ^ u) * 16777619u;
}

#define SUFFIX_H0 2166136261u

static void
exfil_fini(void *state)
{
    struct exfil *x = state;
    if (!x)
        return;
    free(x->e);
    free(x->bucket);
    free(x->allow);
    free(x);
}

static int
allow_build(struct exfil *x)
{
    const struct cfg *c = x->c;
    unsigned n = c->detect.exfil.n_allow_suffixes;
    if (!n)
        return 0;
    uint32_t size = 16;
    while (size < 2 * n)
        size <<= 1;
    x->allow = calloc(size, sizeof(*x->allow));
    if (!x->allow)
        return -1;
    x->allow_mask = size - 1;
    for (unsigned i = 0; i < n; i++) {
        const char *sfx = c->detect.exfil.allow_suffixes[i];
        size_t sl = strlen(sfx);
        while (sl && sfx[sl - 1] == '.')
            sl--;
        if (!sl)
            continue;                   /* "." alone allows nothing */
        uint32_t h = SUFFIX_H0;
        for (size_t k = sl; k-- > 0;)
            h = suffix_step(h, sfx[k]);
        uint32_t j = h & x->allow_mask;
        while (x->allow[j].s)
            j = (j + 1) & x->allow_mask;
        x->allow[j] = (struct allow_slot){ .s = sfx, .len = (uint32_t)sl, .hash = h };
    }
    return 0;
}

static int
exfil_init(void **state, const struct det_env *env, char *err, unsigned errlen)
{
    struct exfil *x = calloc(1, sizeof(*x));
    if (!x) {
        snprintf(err, errlen, "exfil detector: out of memory");
        return -1;
    }
    x->env = *env;
    x->c = env->cfg;
    x->enabled = x->c->detect.exfil.enabled;
    x->lru_head = x->lru_tail = NONE;
    if (x->enabled) {
        domain_init();              /* load the Public Suffix List now, not on a packet */
        x->cap = x->c->detect.exfil.max_pairs;
        x->nbuckets = 1;
        while (x->nbuckets < x->cap * 2)
            x->nbuckets <<= 1;
        x->e = calloc(x->cap, sizeof(*x->e));
        x->bucket = malloc(sizeof(uint32_t) * x->nbuckets);
        if (!x->e || !x->bucket || allow_build(x) != 0) {
            exfil_fini(x);
            snprintf(err, errlen, "exfil detector: out of memory");
            return -1;
        }
        memset(x->bucket, 0xff, sizeof(uint32_t) * x->nbuckets);
    }
    *state = x;
    return 0;
}

static void
lru_unlink(struct exfil *x, uint32_t i)
{
    struct xent *e = &x->e[i];
    if (e->lprev != NONE)
        x->e[e->lprev].lnext = e->lnext;
    else
        x->lru_head = e->lnext;
    if (e->lnext != NONE)
        x->e[e->lnext].lprev = e->lprev;
    else
        x->lru_tail = e->lprev;
    e->lprev = e->lnext = NONE;
}

static void
lru_front(struct exfil *x, uint32_t i)
{
    struct xent *e = &x->e[i];
    e->lprev = NONE;
    e->lnext = x->lru_head;
    if (x->lru_head != NONE)
        x->e[x->lru_head].lprev = i;
    x->lru_head = i;
    if (x->lru_tail == NONE)
        x->lru_tail = i;
}

static void
hash_unlink(struct exfil *x, uint32_t i)
{
    uint32_t *pp = &x->bucket[x->e[i].hash & (x->nbuckets - 1)];
    while (*pp != NONE && *pp != i)
        pp = &x->e[*pp].hnext;
    if (*pp == i)
        *pp = x->e[i].hnext;
}

static struct xent *
lookup(struct exfil *x, const struct mg_addr *client, uint8_t fam, const char *dom)
{
    uint32_t h = hash_key(client, fam, dom);
    uint32_t *b = &x->bucket[h & (x->nbuckets - 1)];
    for (uint32_t i = *b; i != NONE; i = x->e[i].hnext) {
        struct xent *e = &x->e[i];
        if (e->hash == h && e->family == fam && !memcmp(&e->client, client, sizeof(*client)) &&
            !strcmp(e->domain, dom)) {
            lru_unlink(x, i);
            lru_front(x, i);
            return e;
        }
    }
    uint32_t i;
    if (x->used < x->cap) {
        i = x->used++;
    } else {
        i = x->lru_tail;
        lru_unlink(x, i);
        hash_unlink(x, i);
        x->evicted++;
    }
    struct xent *e = &x->e[i];
    memset(e, 0, sizeof(*e));
    e->client = *client;
    e->family = fam;
    e->used = 1;
    e->hash = h;
    snprintf(e->domain, sizeof(e->domain), "%s", dom);
    e->hnext = *b;
    *b = i;
    lru_front(x, i);
    return e;
}

/* Does 'name' (length n) equal or end in ".suffix" for a configured suffix
 * (case-blind, the suffix without its trailing dots)? */
static int
allowed(const struct exfil *x, const char *name, size_t n)
{
    if (!x->allow)
        return 0;
    uint32_t h = SUFFIX_H0;
    for (size_t k = n; k-- > 0;) {
        h = suffix_step(h, name[k]);
        if (k && name[k - 1] != '.')
            continue;
        /* name[k..n) is a whole tail of labels: is it in the set? */
        size_t tl = n - k;
        for (uint32_t j = h & x->allow_mask; x->allow[j].s; j = (j + 1) & x->allow_mask) {
            const struct allow_slot *a = &x->allow[j];
            if (a->hash == h && a->len == tl && strncasecmp(name + k, a->s, tl) == 0)
                return 1;
        }
    }
    return 0;
}

static int
ends_with(const char *name, size_t n, const char *suf)
{
    size_t sl = strlen(suf);
    return n >= sl && !strcmp(name + n - sl, suf) && (n == sl || name[n - sl - 1] == '.');
}

static unsigned
est_unique(const struct xent *e)
{
    unsigned zeros = 0;
    for (unsigned i = 0; i < BITMAP_BITS / 64; i++)
        zeros += 64 - (unsigned)__builtin_popcountll(e->bits[i]);
    if (!zeros)
        zeros = 1;                  /* saturated: ~7,100 */
    return (unsigned)lround(-(double)BITMAP_BITS * log((double)zeros / BITMAP_BITS));
}

static void
types_str(uint8_t t, char *out, size_t n)
{
    static const char *const names[] = { "A", "AAAA", "TXT", "NULL", "CNAME", "MX", "ANY",
                                         "OTHER" };
    size_t o = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < 8; i++)
        if ((t & (1u << i)) && o < n)
            o += (size_t)snprintf(out + o, n - o, "%s%s", o ? "," : "", names[i]);
}

static void
report(struct exfil *x, struct xent *e, const struct dns_rec *d, uint64_t ts, const char *rule,
       unsigned uniq)
{
    struct finding_cand *fc = &x->fc;
    det_dns_cand(fc, d, T_EXFIL, SEV_EXFIL, ts);
    snprintf(fc->domain, sizeof(fc->domain), "%s", e->domain);   /* the registrable domain */
    char ty[48];
    types_str(e->types, ty, sizeof(ty));
    int w = snprintf(fc->info, sizeof(fc->info),
             "\"rule\":\"%s\",\"uniqueSubdomains\":%u,\"queries\":%u,\"bytesPerMinute\":%u,"
             "\"meanLabelLength\":%.1f,\"entropy\":%.2f,\"recordTypes\":\"%s\","
             "\"answerBytes\":%llu,\"sample\":\"%s\"",
             rule, uniq, e->queries, e->max_min_bytes, (double)e->sum_lab / e->queries,
             e->sum_ent / e->queries, ty, (unsigned long long)e->ans_bytes, e->sample);
    if (w < 0 || (size_t)w >= sizeof(fc->info))
        fc->info[0] = '\0';            /* cut JSON is worse than none */
    x->reports++;
    x->env.emit(x->env.arg, fc);
}

static void
exfil_dns(void *state, const struct dns_rec *d)
{
    struct exfil *x = state;
    if (!x->enabled || !d->qname[0])
        return;
    const struct cfg *c = x->c;
    const char *q = d->qname;
    size_t n = strnlen(q, sizeof(d->qname));
    if (n >= sizeof(d->qname) || d->qtype == 12 || d->cport == 5353 || d->sport == 5353)
        return;
    if (ends_with(q, n, "arpa") || ends_with(q, n, "local"))
        return;
    if (q[0] == '_' || strstr(q, "._"))
        return;                     /* DNS-SD, DKIM, SRV-style names */
    if (allowed(x, q, n))
        return;
    for (unsigned i = 0; i < d->n_answers && i < DNS_MAX_ANSWERS; i++)
        if (d->answers[i].type == 5 &&
            allowed(x, d->answers[i].data, strnlen(d->answers[i].data, DNS_MAX_RDATA)))
            return;                 /* a CNAME into a CDN: the name is an alias */
    char dom[DNS_MAX_NAME];
    if (domain_registrable(q, dom, sizeof(dom)) != DOMAIN_OK)
        return;
    size_t dl = strlen(dom);
    if (n <= dl + 1)
        return;                     /* no subdomain part */
    if (!det_in_home_net(c, &d->client, d->family) && det_in_home_net(c, &d->server, d->family))
        return;

    size_t sl = n - dl - 1;         /* the subdomain part: q[0 .. sl) */
    unsigned hist[256] = { 0 };
    unsigned bytes = 0, lab = 0, maxlab = 0;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sl; i++) {
        uint8_t ch = (uint8_t)q[i];
        h = (h ^ ch) * 16777619u;
        if (ch == '.') {
            lab = 0;
            continue;
        }
        hist[ch]++;
        bytes++;
        if (++lab > maxlab)
            maxlab = lab;
    }
    double ent = 0;
    for (unsigned i = 0; i < 256; i++)
        if (hist[i]) {
            double p = (double)hist[i] / bytes;
            ent -= p * log2(p);
        }

    uint64_t ts = d->query_ns ? d->query_ns : d->response_ns;
    x->queries++;
    struct xent *e = lookup(x, &d->client, d->family, dom);
    const uint64_t win = (uint64_t)c->detect.exfil.window_seconds * NS;
    if (!e->queries || ts < e->win_start || ts - e->win_start >= win) {
        uint64_t last = e->last_report;
        uint32_t hn = e->hnext, lp = e->lprev, ln = e->lnext;
        char keep[DNS_MAX_NAME];
        memcpy(keep, e->domain, sizeof(keep));
        struct mg_addr cl = e->client;
        uint8_t fam = e->family;
        uint32_t hh = e->hash;
        memset(e, 0, sizeof(*e));
        e->client = cl, e->family = fam, e->hash = hh, e->used = 1;
        e->hnext = hn, e->lprev = lp, e->lnext = ln;
        memcpy(e->domain, keep, sizeof(keep));
        e->last_report = last;
        e->win_start = e->min_start = ts;
    }
    e->server = d->server;
    e->queries++;
    e->bits[(h % BITMAP_BITS) / 64] |= 1ull << (h % 64);
    if (ts - e->min_start >= 60 * NS) {
        e->min_start = ts;
        e->min_bytes = 0;
    }
    e->min_bytes += bytes;
    if (e->min_bytes > e->max_min_bytes)
        e->max_min_bytes = e->min_bytes;
    e->bytes += bytes;
    e->sum_lab += maxlab;
    e->sum_ent += ent;
    uint8_t ty;
    switch (d->qtype) {
    case 1: ty = TY_A; break;
    case 28: ty = TY_AAAA; break;
    case 16: ty = TY_TXT; break;
    case 10: ty = TY_NULL; break;
    case 5: ty = TY_CNAME; break;
    case 15: ty = TY_MX; break;
    case 255: ty = TY_ANY; break;
    default: ty = TY_OTHER; break;
    }
    e->types |= ty;
    if (ty & (TY_TXT | TY_NULL | TY_CNAME | TY_MX | TY_ANY)) {
        e->n_data++;
        if (ty == TY_NULL)
            e->n_null++;
        for (unsigned i = 0; i < d->n_answers && i < DNS_MAX_ANSWERS; i++) {
            uint16_t at = d->answers[i].type;
            if (at == 16 || at == 10 || at == 5 || at == 15)
                e->ans_bytes += d->answers[i].len;
        }
    }
    if (!e->sample[0] || maxlab > e->sample_lab) {
        size_t k = 0;               /* a JSON-safe copy of the name */
        for (; k < SAMPLE_LEN && k < n; k++) {
            char ch = q[k];
            e->sample[k] = ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                            ch == '-' || ch == '_') ? ch : '?';
        }
        e->sample[k] = '\0';
        e->sample_lab = (uint8_t)(maxlab > 255 ? 255 : maxlab);
    }

    /* The rules. */
    const unsigned uniq = est_unique(e);
    const double mlab = (double)e->sum_lab / e->queries, ment = e->sum_ent / e->queries;
    const char *rule = NULL;
    if (uniq >= c->detect.exfil.min_unique && mlab >= c->detect.exfil.min_mean_label &&
        ment >= c->detect.exfil.min_entropy)
        rule = "volume";
    else if (e->max_min_bytes >= c->detect.exfil.bytes_per_minute &&
             uniq >= c->detect.exfil.rate_min_unique)
        rule = "rate";
    else if (e->n_null >= c->detect.exfil.null_min_queries &&
             uniq >= c->detect.exfil.null_min_queries)
        rule = "null-records";
    else if (e->n_data >= c->detect.exfil.data_min_queries &&
             uniq >= c->detect.exfil.data_min_queries && mlab >= c->detect.exfil.data_min_label &&
             ment >= c->detect.exfil.data_min_entropy)
        rule = "data-records";
    if (!rule)
        return;
    if (e->last_report && ts >= e->last_report &&
        ts - e->last_report < (uint64_t)c->detect.exfil.report_interval * NS)
        return;
    e->last_report = ts ? ts : 1;
    report(x, e, d, ts, rule, uniq);
}

/* For tests and figures: "queries" (counted), "reports", "pairs_used",
 * "pairs_evicted"; 0 for anything else. */
uint64_t det_exfil_counter(const void *state, const char *name);

uint64_t
det_exfil_counter(const void *state, const char *name)
{
    const struct exfil *x = state;
    if (!x || !name)
        return 0;
    if (!strcmp(name, "queries"))
        return x->queries;
    if (!strcmp(name, "reports"))
        return x->reports;
    if (!strcmp(name, "pairs_used"))
        return x->used;
    if (!strcmp(name, "pairs_evicted"))
        return x->evicted;
    return 0;
}

/* For tests: is 'name' under allow_suffixes? */
int det_exfil_allowed(const void *state, const char *name);

int
det_exfil_allowed(const void *state, const char *name)
{
    const struct exfil *x = state;
    return x && name ? allowed(x, name, strlen(name)) : 0;
}

const struct det_ops det_exfil_ops = {
    .name = "exfil",
    .init = exfil_init,
    .on_dns = exfil_dns,
    .fini = exfil_fini,
};
