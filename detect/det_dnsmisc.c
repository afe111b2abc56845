/* detect/det_dnsmisc.c - DNS rebinding to the metadata service and unusual
 * resolvers (issue #5).
 *
 *   UnauthorizedAccess:EC2/MetadataDNSRebind  (High, 8.0)
 *       a DNS answer (A or AAAA) for a name that is not the metadata
 *       service's own ("instance-data", "instance-data.*.internal") is
 *       169.254.169.254 or fd00:ec2::254. Always on.
 *   DefenseEvasion:EC2/UnusualDNSResolver     (Medium, 5.0)
 *       an instance sent a recursive query (RD set) on port 53 to a public
 *       server it did not use while learning.
 *   DefenseEvasion:EC2/UnusualDoTActivity     (Medium, 5.0)
 *       an instance opened TCP/853 to a public server it did not use while
 *       learning.
 *
 * Learning (detect.resolver.learning_seconds, packet time) starts at an
 * instance's first DNS (any server, any port of dns.ports, or TCP/853).
 * "Public" = outside home_net and not private, loopback, link-local, CGNAT
 * or unique-local (so the Amazon resolver 169.254.169.253 / fd00:ec2::253
 * and the VPC's .2 resolver are never unusual). An instance that used more
 * than max_resolvers public servers while learning is a recursive resolver
 * or forwarder itself and is never reported.
 *
 * Bounded state: max_instances instances (hash + LRU list, evicted counted),
 * each with max_resolvers (server, kind) entries (LRU within the instance).
 * A flagged server is reported when first used and again at most once per
 * REPORT_EVERY seconds of its use. */
#include "det.h"
#include "cfg.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_REBIND "UnauthorizedAccess:EC2/MetadataDNSRebind"
#define T_DNS53  "DefenseEvasion:EC2/UnusualDNSResolver"
#define T_DOT    "DefenseEvasion:EC2/UnusualDoTActivity"
#define NS       1000000000ull
#define REPORT_EVERY 3600ull

enum { K_DNS = 0, K_DOT = 1 };

struct rsv {
    struct mg_addr addr;
    uint64_t last_ns;
    uint64_t reported_ns;       /* 0 = learned (never reported) */
    uint8_t family, kind, used, flagged;
};

struct rinst {
    struct mg_addr addr;
    uint64_t first_ns;
    int32_t hnext, prev, next;  /* hash chain; LRU list (prev = more recent) */
    uint16_t learned;           /* distinct public servers while learning (saturating) */
    uint8_t family, used;
};

struct dnsmisc {
    struct det_env env;
    int enabled;
    uint64_t learn_ns;
    uint32_t max_inst, max_res, nbuckets, n_inst;
    int32_t *buckets, head, tail;
    struct rinst *inst;
    struct rsv *res;            /* max_inst * max_res */
    uint64_t evicted;
    struct finding_cand fc;
};

uint64_t det_dnsmisc_counter(const void *state, const char *name);

uint64_t
det_dnsmisc_counter(const void *state, const char *name)
{
    const struct dnsmisc *m = state;
    if (!strcmp(name, "instances"))
        return m->n_inst;
    if (!strcmp(name, "evicted"))
        return m->evicted;
    return 0;
}

static int
dm_init(void **state, const struct det_env *env, char *err, unsigned errlen)
{
    struct dnsmisc *m = calloc(1, sizeof(*m));
    if (!m)
        goto oom;
    const struct cfg *c = env->cfg;
    m->env = *env;
    m->enabled = c->detect.resolver.enabled;
    m->learn_ns = (uint64_t)c->detect.resolver.learning_seconds * NS;
    m->max_inst = c->detect.resolver.max_instances ? c->detect.resolver.max_instances : 4096;
    m->max_res = c->detect.resolver.max_resolvers ? c->detect.resolver.max_resolvers : 8;
    m->nbuckets = 1;
    while (m->nbuckets < 2 * m->max_inst)
        m->nbuckets <<= 1;
    m->head = m->tail = -1;
    if (m->enabled) {
        m->buckets = malloc(sizeof(*m->buckets) * m->nbuckets);
        m->inst = calloc(m->max_inst, sizeof(*m->inst));
        m->res = calloc((size_t)m->max_inst * m->max_res, sizeof(*m->res));
        if (!m->buckets || !m->inst || !m->res)
            goto oom;
        for (uint32_t i = 0; i < m->nbuckets; i++)
            m->buckets[i] = -1;
    }
    *state = m;
    return 0;
oom:
    if (m) {
        free(m->buckets);
        free(m->inst);
        free(m->res);
        free(m);
    }
    snprintf(err, errlen, "dnsmisc detector: out of memory");
    return -1;
}

static void
dm_fini(void *state)
{
    struct dnsmisc *m = state;
    if (!m)
        return;
    free(m->buckets);
    free(m->inst);
    free(m->res);
    free(m);
}

static uint32_t
addr_hash(const struct mg_addr *a, int family)
{
    uint32_t h = 2166136261u ^ (uint32_t)family;
    for (int i = 0; i < 16; i++)
        h = (h ^ a->b[i]) * 16777619u;
    return h;
}

static int
is_public(struct dnsmisc *m, const struct mg_addr *a, int family)
{
    return !det_addr_special(a, family) && !det_in_home_net(m->env.cfg, a, family);
}

static void
lru_unlink(struct dnsmisc *m, int32_t i)
{
    struct rinst *e = &m->inst[i];
    if (e->prev >= 0) m->inst[e->prev].next = e->next; else m->head = e->next;
    if (e->next >= 0) m->inst[e->next].prev = e->prev; else m->tail = e->prev;
    e->prev = e->next = -1;
}

static void
lru_front(struct dnsmisc *m, int32_t i)
{
    struct rinst *e = &m->inst[i];
    e->prev = -1;
    e->next = m->head;
    if (m->head >= 0)
        m->inst[m->head].prev = i;
    m->head = i;
    if (m->tail < 0)
        m->tail = i;
}

static int32_t
inst_get(struct dnsmisc *m, const struct mg_addr *a, int family, uint64_t ts)
{
    uint32_t b = addr_hash(a, family) & (m->nbuckets - 1);
    for (int32_t i = m->buckets[b]; i >= 0; i = m->inst[i].hnext)
        if (m->inst[i].family == family && !memcmp(&m->inst[i].addr, a, sizeof(*a))) {
            lru_unlink(m, i);
            lru_front(m, i);
            return i;
        }
    int32_t i;
    if (m->n_inst < m->max_inst) {
        i = (int32_t)m->n_inst++;
    } else {
        i = m->tail;                            /* evict the least recently used */
        struct rinst *o = &m->inst[i];
        uint32_t ob = addr_hash(&o->addr, o->family) & (m->nbuckets - 1);
        for (int32_t *p = &m->buckets[ob]; *p >= 0; p = &m->inst[*p].hnext)
            if (*p == i) {
                *p = o->hnext;
                break;
            }
        lru_unlink(m, i);
        m->evicted++;
    }
    struct rinst *e = &m->inst[i];
    memset(e, 0, sizeof(*e));
    e->addr = *a;
    e->family = (uint8_t)family;
    e->used = 1;
    e->first_ns = ts;
    e->hnext = m->buckets[b];
    m->buckets[b] = i;
    lru_front(m, i);
    memset(&m->res[(size_t)i * m->max_res], 0, sizeof(struct rsv) * m->max_res);
    return i;
}

static void
emit_resolver(struct dnsmisc *m, int kind, uint64_t ts, uint32_t vni, const struct mg_addr *cl,
              const struct mg_addr *srv, int family, uint16_t cport, uint16_t sport, uint8_t proto)
{
    struct finding_cand *fc = &m->fc;
    memset(fc, 0, sizeof(*fc));
    snprintf(fc->type, sizeof(fc->type), "%s", kind == K_DOT ? T_DOT : T_DNS53);
    fc->severity = 5.0;
    fc->ts_ns = ts;
    fc->vni = vni;
    fc->action = FC_NETWORK_CONNECTION;
    fc->direction = FC_OUTBOUND;
    fc->role = FC_ACTOR;
    fc->family = (uint8_t)family;
    fc->proto = proto;
    fc->local = *cl;
    fc->remote = *srv;
    fc->local_port = cport;
    fc->remote_port = sport;
    fc->count = 1;
    snprintf(fc->info, sizeof(fc->info), "\"protocol\":\"%s\",\"learningSeconds\":%llu",
             kind == K_DOT ? "dns-over-tls" : "dns",
             (unsigned long long)(m->learn_ns / NS));
    m->env.emit(m->env.arg, fc);
}

/* An instance used a DNS server. */
static void
use(struct dnsmisc *m, int kind, uint64_t ts, uint32_t vni, const struct mg_addr *cl,
    const struct mg_addr *srv, int family, uint16_t cport, uint16_t sport, uint8_t proto)
{
    if (!det_in_home_net(m->env.cfg, cl, family))
        return;
    int32_t ii = inst_get(m, cl, family, ts);
    struct rinst *e = &m->inst[ii];
    if (!is_public(m, srv, family))
        return;
    int learning = ts < e->first_ns + m->learn_ns;
    struct rsv *r = &m->res[(size_t)ii * m->max_res], *hit = NULL, *lru = NULL;
    for (uint32_t k = 0; k < m->max_res; k++) {
        if (r[k].used && r[k].kind == kind && r[k].family == family &&
            !memcmp(&r[k].addr, srv, sizeof(*srv))) {
            hit = &r[k];
            break;
        }
        if (!r[k].used) {
            if (!lru || lru->used)
                lru = &r[k];                    /* a free slot beats any used one */
        } else if (!lru || (lru->used && r[k].last_ns < lru->last_ns)) {
            lru = &r[k];
        }
    }
    if (hit) {
        if (ts > hit->last_ns)
            hit->last_ns = ts;
        if (hit->flagged && ts >= hit->reported_ns + REPORT_EVERY * NS) {
            hit->reported_ns = ts;
            emit_resolver(m, kind, ts, vni, cl, srv, family, cport, sport, proto);
        }
        return;
    }
    if (learning) {
        if (e->learned < 0xffff)
            e->learned++;
    } else if (e->learned > m->max_res) {
        return;                                 /* a resolver itself: never reported */
    }
    memset(lru, 0, sizeof(*lru));
    lru->addr = *srv;
    lru->family = (uint8_t)family;
    lru->kind = (uint8_t)kind;
    lru->used = 1;
    lru->last_ns = ts;
    if (!learning) {
        lru->flagged = 1;
        lru->reported_ns = ts;
        emit_resolver(m, kind, ts, vni, cl, srv, family, cport, sport, proto);
    }
}

/* The metadata service's own names. */
static int
metadata_name(const char *q)
{
    static const char own[] = "instance-data";
    size_t n = sizeof(own) - 1, l = strlen(q);
    if (strncmp(q, own, n))
        return 0;
    if (q[n] == '\0')
        return 1;
    return q[n] == '.' && l >= n + 9 && !strcmp(q + l - 9, ".internal");
}

static void
check_rebind(struct dnsmisc *m, const struct dns_rec *d)
{
    static const uint8_t v4[4] = { 169, 254, 169, 254 };
    static const uint8_t v6[16] = { 0xfd, 0x00, 0x0e, 0xc2, [15] = 0x54, [14] = 0x02 };
    if (metadata_name(d->qname))
        return;
    for (unsigned a = 0; a < d->n_answers && a < DNS_MAX_ANSWERS; a++) {
        const struct dns_answer *an = &d->answers[a];
        uint8_t b[16];
        int hit = 0;
        if (an->type == 1 && inet_pton(AF_INET, an->data, b) == 1)
            hit = !memcmp(b, v4, 4);
        else if (an->type == 28 && inet_pton(AF_INET6, an->data, b) == 1)
            hit = !memcmp(b, v6, 16);
        if (!hit)
            continue;
        struct finding_cand *fc = &m->fc;
        det_dns_cand(fc, d, T_REBIND, 8.0, d->response_ns ? d->response_ns : d->query_ns);
        snprintf(fc->info, sizeof(fc->info), "\"answer\":\"%s\",\"answerType\":\"%s\"", an->data,
                 an->type == 1 ? "A" : "AAAA");
        m->env.emit(m->env.arg, fc);
        return;
    }
}

static void
dm_dns(void *state, const struct dns_rec *d)
{
    struct dnsmisc *m = state;
    if (d->has_response && d->n_answers && d->qname[0])
        check_rebind(m, d);
    if (!m->enabled || !d->has_query)
        return;
    /* Learning starts at any DNS; only recursive queries on 53 are judged
     * (a stub resolver always sets RD; iterative lookups do not). */
    if (d->sport == 53 && (d->flags & DNS_F_RD))
        use(m, K_DNS, d->query_ns, d->vni, &d->client, &d->server, d->family, d->cport, d->sport,
            d->transport);
    else if (det_in_home_net(m->env.cfg, &d->client, d->family))
        inst_get(m, &d->client, d->family, d->query_ns);
}

static void
dm_flow(void *state, const struct flow_rec *f)
{
    struct dnsmisc *m = state;
    if (!m->enabled || f->proto != 6 || f->dport != 853)
        return;
    uint64_t ts = f->start_ns ? f->start_ns : f->dir[0].first_ns;
    use(m, K_DOT, ts, f->dir[0].pkts ? f->dir[0].vni : f->vni, &f->src, &f->dst, f->family,
        f->sport, f->dport, f->proto);
}

const struct det_ops det_dnsmisc_ops = {
    .name = "dnsmisc",
    .init = dm_init,
    .on_flow = dm_flow,
    .on_dns = dm_dns,
    .fini = dm_fini,
};
