/* detect/det_dga.c - domain generation algorithms (DGA).
 *
 *   Trojan:EC2/DGADomainRequest.B     (High, 8.0)
 *       one client got NXDOMAIN for >= detect.dga.burst_names distinct names
 *       that the classifier (dga.h) scores above the threshold (0.1% false
 *       positives a name), or for >= burst_names_low distinct names above
 *       threshold_low (1% a name), within detect.dga.burst_seconds: the
 *       picture of malware walking its generated list until one name
 *       resolves. A single random-looking name is not enough; a burst of
 *       them from one host is rare (scripts/eval-dga prints both rules'
 *       odds per host, for each family and for benign names). Reported
 *       when the burst is reached and again every report_interval while it
 *       goes on; the finding's domain is the name that completed the burst.
 *   Trojan:EC2/DGADomainRequest.C!DNS (High, 8.0)
 *       a query for a domain on a threat list whose category is "dga"
 *       (det_threat.c leaves those to this detector).
 *
 * Never scored: names whose registrable domain, or the public suffix it is
 * under, is on detect.dga.whitelist; names on the trusted list; names under
 * arpa/local/internal/...; one-label names and public suffixes themselves.
 * State: one entry per client (max_hosts, least recently used evicted), each
 * remembering its last 32 DGA-like NXDOMAIN names (hash + time, and whether
 * above the threshold or only above threshold_low) and three sample names;
 * nothing is allocated per record. */
#include "det.h"
#include "cfg.h"
#include "dga.h"
#include "domain.h"
#include "lists.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define T_B "Trojan:EC2/DGADomainRequest.B"
#define T_C "Trojan:EC2/DGADomainRequest.C!DNS"
#define SEV 8.0
#define RING 32
#define NSAMPLE 3
#define SAMPLE_LEN 64
#define NIL UINT32_MAX

struct host {
    struct mg_addr addr;
    uint8_t family, used;
    uint32_t vni;
    uint32_t hnext;                 /* hash chain */
    uint32_t prev, next;            /* LRU list, head = most recent */
    uint64_t name_hash[RING];
    uint64_t name_ns[RING];
    uint32_t name_high;             /* bit i: name i scored above the threshold */
    uint64_t last_report_ns;
    uint32_t reports;
    unsigned sample_i;
    char sample[NSAMPLE][SAMPLE_LEN];
};

struct dga_det {
    struct det_env env;
    const struct dga_model *model;
    struct dga_model *own;
    double threshold, threshold_low;    /* threshold_low <= threshold */
    uint64_t window_ns, report_ns;
    unsigned burst, burst_low;          /* burst_low 0: the second rule is off */
    /* whitelist: FNV-1a hashes of registrable domains, open addressing */
    uint64_t *wl;
    size_t wl_mask;
    /* hosts */
    struct host *h;
    uint32_t cap, n, *bucket, nbucket, head, tail;
    uint64_t evicted;
    struct list_hit hit;
    struct finding_cand fc;
};

static uint64_t
fnv(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h | 1;                   /* never 0: 0 is an empty slot */
}

static int
wl_has(const struct dga_det *t, uint64_t h)
{
    if (!t->wl)
        return 0;
    for (size_t i = h & t->wl_mask;; i = (i + 1) & t->wl_mask) {
        if (!t->wl[i])
            return 0;
        if (t->wl[i] == h)
            return 1;
    }
}

/* What a whitelist line stands for: its registrable domain, or, when the
 * name is a public suffix of two or more labels, that suffix (lower-case,
 * into out). 0 when it is neither. */
static int
wl_key(const char *s, char *out, size_t n)
{
    if (dga_registrable(s, out, n))
        return 1;
    return domain_registrable(s, out, n) == DOMAIN_SELF && strchr(out, '.') != NULL;
}

/* The whitelist file: one registrable domain a line ("www." and a final dot
 * are dropped; names are reduced to their registrable domain), '#' comments.
 * A public suffix of two or more labels ("cloudfront.net", "s3.amazonaws.com",
 * "blogspot.com") stands for every registrable domain under it: CDNs and
 * hosting providers give each customer a hashed label of its own. */
static int
wl_load(struct dga_det *t, const char *path, char *err, unsigned errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "detect.dga.whitelist: %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1024, n = 0;
    t->wl = calloc(cap, sizeof(*t->wl));
    t->wl_mask = cap - 1;
    char line[512], reg[DNS_MAX_NAME];
    unsigned lineno = 0;
    while (t->wl && fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = line + strspn(line, " \t");
        s[strcspn(s, " \t\r\n#,")] = '\0';
        if (!*s)
            continue;
        if (!wl_key(s, reg, sizeof(reg))) {
            snprintf(err, errlen, "%s:%u: '%s' is not a domain name", path, lineno, s);
            fclose(f);
            return -1;
        }
        if (2 * (n + 1) > cap) {
            size_t nc = cap * 2;
            uint64_t *nt = calloc(nc, sizeof(*nt));
            if (!nt)
                break;
            for (size_t i = 0; i < cap; i++)
                if (t->wl[i]) {
                    size_t k = t->wl[i] & (nc - 1);
                    while (nt[k])
                        k = (k + 1) & (nc - 1);
                    nt[k] = t->wl[i];
                }
            free(t->wl);
            t->wl = nt;
            cap = nc;
            t->wl_mask = cap - 1;
        }
        uint64_t h = fnv(reg, strlen(reg));
        size_t i = h & t->wl_mask;
        while (t->wl[i] && t->wl[i] != h)
            i = (i + 1) & t->wl_mask;
        if (!t->wl[i]) {
            t->wl[i] = h;
            n++;
        }
    }
    fclose(f);
    if (!t->wl || (lineno && 2 * n > cap)) {
        snprintf(err, errlen, "detect.dga.whitelist: out of memory");
        return -1;
    }
    return 0;
}

static void
dga_fini(void *state)
{
    struct dga_det *t = state;
    if (!t)
        return;
    dga_model_free(t->own);
    free(t->wl);
    free(t->h);
    free(t->bucket);
    free(t);
}

/* A config file's relative path: relative to the config's folder. */
static void
rel_path(const struct cfg *c, const char *p, char *out, size_t n)
{
    const char *slash = c->path ? strrchr(c->path, '/') : NULL;
    if (p[0] == '/' || !slash)
        snprintf(out, n, "%s", p);
    else
        snprintf(out, n, "%.*s/%s", (int)(slash - c->path), c->path, p);
}

static int
dga_init(void **state, const struct det_env *env, char *err, unsigned errlen)
{
    struct dga_det *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "dga detector: out of memory");
        return -1;
    }
    t->env = *env;
    *state = t;
    const struct cfg *c = env->cfg;
    if (!c->detect.dga.enabled)
        return 0;
    char path[4096];
    if (dga_model_path(c->path, c->detect.dga.model, path, sizeof(path)) != 0) {
        snprintf(err, errlen, "detect.dga.model: %s (set detect.dga.model or "
                 "detect.dga.enabled: false)", path);
        goto fail;
    }
    char e[512];
    t->own = dga_model_load(path, e, sizeof(e));
    if (!t->own) {
        snprintf(err, errlen, "detect.dga.model: %s", e);
        goto fail;
    }
    t->model = t->own;
    t->threshold = c->detect.dga.threshold > 0 ? c->detect.dga.threshold
                                               : dga_model_threshold(t->model);
    t->burst = c->detect.dga.burst_names;
    t->burst_low = c->detect.dga.burst_names_low;
    t->threshold_low = c->detect.dga.threshold_low > 0 ? c->detect.dga.threshold_low
                                                       : dga_model_threshold_low(t->model);
    if (t->burst_low && t->threshold_low <= 0) {
        snprintf(err, errlen, "detect.dga.burst_names_low: %u, but the model has no threshold_low "
                 "(set detect.dga.threshold_low, or burst_names_low: 0)", t->burst_low);
        goto fail;
    }
    if (!t->burst_low || t->threshold_low > t->threshold)
        t->threshold_low = t->threshold;    /* one rule, or the second is the first's */
    t->window_ns = (uint64_t)c->detect.dga.burst_seconds * 1000000000ULL;
    t->report_ns = (uint64_t)c->detect.dga.report_interval * 1000000000ULL;
    if (c->detect.dga.whitelist && *c->detect.dga.whitelist) {
        rel_path(c, c->detect.dga.whitelist, path, sizeof(path));
        if (wl_load(t, path, err, errlen) != 0)
            goto fail;
    }
    t->cap = c->detect.dga.max_hosts;
    t->nbucket = 1;
    while (t->nbucket < t->cap)
        t->nbucket <<= 1;
    t->h = calloc(t->cap, sizeof(*t->h));
    t->bucket = malloc(t->nbucket * sizeof(*t->bucket));
    if (!t->h || !t->bucket) {
        snprintf(err, errlen, "dga detector: out of memory (%u hosts)", t->cap);
        goto fail;
    }
    memset(t->bucket, 0xff, t->nbucket * sizeof(*t->bucket));
    t->head = t->tail = NIL;
    return 0;
fail:
    dga_fini(t);
    *state = NULL;
    return -1;
}

static uint32_t
host_bucket(const struct dga_det *t, const struct mg_addr *a, uint8_t fam)
{
    uint64_t h = fnv(a->b, 16) ^ fam;
    return (uint32_t)(h ^ (h >> 29)) & (t->nbucket - 1);
}

static void
lru_unlink(struct dga_det *t, uint32_t i)
{
    struct host *e = &t->h[i];
    if (e->prev != NIL) t->h[e->prev].next = e->next; else t->head = e->next;
    if (e->next != NIL) t->h[e->next].prev = e->prev; else t->tail = e->prev;
}

static void
lru_front(struct dga_det *t, uint32_t i)
{
    struct host *e = &t->h[i];
    e->prev = NIL;
    e->next = t->head;
    if (t->head != NIL)
        t->h[t->head].prev = i;
    t->head = i;
    if (t->tail == NIL)
        t->tail = i;
}

static struct host *
host_get(struct dga_det *t, const struct mg_addr *a, uint8_t fam)
{
    uint32_t b = host_bucket(t, a, fam);
    for (uint32_t i = t->bucket[b]; i != NIL; i = t->h[i].hnext)
        if (t->h[i].family == fam && !memcmp(t->h[i].addr.b, a->b, 16)) {
            lru_unlink(t, i);
            lru_front(t, i);
            return &t->h[i];
        }
    uint32_t i;
    if (t->n < t->cap) {
        i = t->n++;
    } else {                        /* evict the least recently used */
        i = t->tail;
        lru_unlink(t, i);
        uint32_t ob = host_bucket(t, &t->h[i].addr, t->h[i].family);
        for (uint32_t *pp = &t->bucket[ob]; *pp != NIL; pp = &t->h[*pp].hnext)
            if (*pp == i) {
                *pp = t->h[i].hnext;
                break;
            }
        t->evicted++;
    }
    struct host *e = &t->h[i];
    memset(e, 0, sizeof(*e));
    e->addr = *a;
    e->family = fam;
    e->used = 1;
    e->hnext = t->bucket[b];
    t->bucket[b] = i;
    lru_front(t, i);
    return e;
}

static void
fill_dns(struct finding_cand *fc, const struct dns_rec *d, const char *type)
{
    det_dns_cand(fc, d, type, SEV, d->query_ns ? d->query_ns : d->response_ns);
}

static void
report_burst(struct dga_det *t, struct host *e, const struct dns_rec *d, double score,
             unsigned in_high, unsigned in_low)
{
    struct finding_cand *fc = &t->fc;
    fill_dns(fc, d, T_B);
    for (unsigned ns = NSAMPLE + 1; ns-- > 0;) {   /* fewer samples until it fits */
        size_t o = (size_t)snprintf(fc->info, sizeof(fc->info),
                                    "\"dgaScore\":%.4f,\"dgaThreshold\":%.4f,\"nxdomainBurst\":%u,"
                                    "\"dgaThresholdLow\":%.4f,\"nxdomainBurstLow\":%u,"
                                    "\"burstSeconds\":%u,\"sampleNames\":[",
                                    score, t->threshold, in_high, t->threshold_low, in_low,
                                    (unsigned)(t->window_ns / 1000000000ULL));
        unsigned k = 0;
        for (unsigned j = 0; j < NSAMPLE && k < ns; j++) {
            const char *s = e->sample[(e->sample_i + NSAMPLE - 1 - j) % NSAMPLE];
            if (!*s)
                continue;
            if (o < sizeof(fc->info))
                o += (size_t)snprintf(fc->info + o, sizeof(fc->info) - o, "%s\"%s\"",
                                      k ? "," : "", s);
            k++;
        }
        if (o < sizeof(fc->info))
            o += (size_t)snprintf(fc->info + o, sizeof(fc->info) - o, "]");
        if (o + 1 < sizeof(fc->info))
            break;
        fc->info[0] = '\0';
    }
    t->env.emit(t->env.arg, fc);
}

static void
check_lists(struct dga_det *t, const struct dns_rec *d, int *trusted)
{
    const struct lists *l = t->env.lists(t->env.arg);
    *trusted = 0;
    if (!l || !lists_match_domain(l, d->qname, &t->hit))
        return;
    *trusted = t->hit.trusted;
    if (t->hit.trusted || !d->has_query)
        return;
    for (unsigned i = 0; i < t->hit.n; i++) {
        const struct list_match *m = &t->hit.m[i];
        if (!m->category || strcasecmp(m->category, "dga"))
            continue;
        struct finding_cand *fc = &t->fc;
        fill_dns(fc, d, T_C);
        snprintf(fc->list_name, sizeof(fc->list_name), "%s", m->name);
        snprintf(fc->list_entry, sizeof(fc->list_entry), "%s", m->entry);
        snprintf(fc->info, sizeof(fc->info), "\"threatListCategory\":\"dga\"");
        t->env.emit(t->env.arg, fc);
        return;
    }
}

static void
dga_dns(void *state, const struct dns_rec *d)
{
    struct dga_det *t = state;
    if (!t->model || !d->qname[0])
        return;
    int trusted;
    check_lists(t, d, &trusted);
    /* the burst picture: answered NXDOMAIN (rcode 3) */
    if (trusted || !d->has_response || d->rcode != 3)
        return;
    /* one libpsl answer for the whitelist and the score: the registrable
     * domain, its label and its public suffix ("d1x.cloudfront.net",
     * "d1x", "cloudfront.net") */
    char reg[DNS_MAX_NAME];
    size_t ll = dga_split(d->qname, reg, sizeof(reg));
    if (!ll)
        return;
    const char *suf = reg + ll + 1;
    size_t rl = strlen(reg);
    if (wl_has(t, fnv(reg, rl)) || wl_has(t, fnv(suf, rl - ll - 1)))
        return;
    double score = dga_score_label(t->model, reg, ll, suf);
    if (score <= t->threshold_low)
        return;
    int high = score > t->threshold;
    uint64_t now = d->response_ns ? d->response_ns : d->query_ns;
    struct host *e = host_get(t, &d->client, d->family);
    e->vni = d->vni;
    uint64_t h = fnv(reg, rl);
    int slot = -1, oldest = 0;
    for (int i = 0; i < RING; i++) {
        if (e->name_hash[i] == h) {
            slot = i;
            break;
        }
        if (e->name_ns[i] < e->name_ns[oldest])
            oldest = i;
    }
    int fresh = slot < 0;
    if (fresh) {
        slot = oldest;
        e->name_hash[slot] = h;
        snprintf(e->sample[e->sample_i], SAMPLE_LEN, "%.*s", SAMPLE_LEN - 1, reg);
        e->sample_i = (e->sample_i + 1) % NSAMPLE;
    }
    e->name_ns[slot] = now;
    if (high)
        e->name_high |= 1u << slot;
    else
        e->name_high &= ~(1u << slot);
    unsigned in_high = 0, in_low = 0;
    for (int i = 0; i < RING; i++)
        if (e->name_hash[i] && e->name_ns[i] + t->window_ns >= now) {
            in_low++;
            in_high += (e->name_high >> i) & 1;
        }
    if (!fresh || (in_high < t->burst && (!t->burst_low || in_low < t->burst_low)))
        return;
    if (e->reports && now < e->last_report_ns + t->report_ns)
        return;
    e->reports++;
    e->last_report_ns = now;
    report_burst(t, e, d, score, in_high, in_low);
}

const struct det_ops det_dga_ops = {
    .name = "dga",
    .init = dga_init,
    .on_dns = dga_dns,
    .fini = dga_fini,
};

/* For tests: hosts tracked and evicted. */
void det_dga_stats(void *state, unsigned *hosts, unsigned long long *evicted);
void
det_dga_stats(void *state, unsigned *hosts, unsigned long long *evicted)
{
    struct dga_det *t = state;
    *hosts = t ? t->n : 0;
    *evicted = t ? t->evicted : 0;
}
