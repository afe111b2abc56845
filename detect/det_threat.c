/* detect/det_threat.c - threat-list matches: GuardDuty's threat
 * intelligence, for IP addresses (from flow records) and domains (from DNS
 * queries, and sinkhole addresses in DNS answers).
 *
 * The list's category (config lists.threat[].category, case-insensitive)
 * selects the finding type:
 *
 *   category            IP match (flows)                     domain match (DNS)
 *   c2 (cnc, c&c,       Backdoor:EC2/C&CActivity.B 8.0       Backdoor:EC2/C&CActivity.B!DNS 8.0
 *     botnet-c2)
 *   mining              CryptoCurrency:EC2/BitcoinTool.B 8.0 CryptoCurrency:EC2/BitcoinTool.B!DNS 8.0
 *   droppoint           Trojan:EC2/DropPoint 5.0             Trojan:EC2/DropPoint!DNS 8.0
 *   phishing            (.Custom)                            Trojan:EC2/PhishingDomainRequest!DNS 8.0
 *   driveby             (.Custom)                            Trojan:EC2/DriveBySourceTraffic!DNS 5.0
 *   blackhole/sinkhole  Trojan:EC2/BlackholeTraffic 5.0      Trojan:EC2/BlackholeTraffic!DNS 5.0
 *                                                            (a listed name, or an A/AAAA answer
 *                                                            that is a listed sinkhole address)
 *   tor                 UnauthorizedAccess:EC2/TorClient 8.0 (outbound to a relay)
 *                       UnauthorizedAccess:EC2/TorRelay 8.0  (the instance also took answered
 *                           TCP connections from >= 2 distinct relays on one local port)
 *                       UnauthorizedAccess:EC2/TorIPCaller 5.0 (inbound from a relay, not a relay)
 *   dga                 skipped (detect/det_dga.c uses these lists)
 *   anything else, ""   UnauthorizedAccess:EC2/MaliciousIPCaller.Custom 5.0 /
 *                       Impact:EC2/MaliciousDomainRequest.Custom 5.0
 *
 * When one lookup matches lists of several categories, one candidate per
 * distinct type is emitted (named by the first list of that type; the
 * others of that type are in additionalInfo.otherLists). IPv6 addresses are
 * matched too, unlike GuardDuty.
 *
 * Tor relay state is a small direct-mapped table per detection thread
 * (TOR_SLOTS instances; a collision replaces the older instance). A relay
 * is only recognised once both its inbound and outbound relay flows have
 * ended; earlier flows of it were reported as TorIPCaller / TorClient.
 *
 * The trusted list is applied later, by the aggregator, to every finding.
 * One candidate per flow record or DNS transaction and type; the aggregator
 * merges the repeats of (type, instance, remote) into one finding. */
#include "det.h"
#include "cfg.h"
#include "lists.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define T_IP  "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"
#define T_DNS "Impact:EC2/MaliciousDomainRequest.Custom"
#define SEV_IP  5.0
#define SEV_DNS 5.0

#define T_TOR_CLIENT "UnauthorizedAccess:EC2/TorClient"
#define T_TOR_RELAY  "UnauthorizedAccess:EC2/TorRelay"
#define T_TOR_CALLER "UnauthorizedAccess:EC2/TorIPCaller"
#define T_BLACKHOLE_DNS "Trojan:EC2/BlackholeTraffic!DNS"

enum cat {
    CAT_CUSTOM = 0, CAT_C2, CAT_MINING, CAT_DROP, CAT_PHISH, CAT_DRIVEBY,
    CAT_BLACKHOLE, CAT_TOR, CAT_DGA, CAT_N
};

static const struct {
    const char *ip; double ip_sev;
    const char *dns; double dns_sev;
} cat_types[CAT_N] = {
    [CAT_CUSTOM] = { T_IP, SEV_IP, T_DNS, SEV_DNS },
    [CAT_C2] = { "Backdoor:EC2/C&CActivity.B", 8.0, "Backdoor:EC2/C&CActivity.B!DNS", 8.0 },
    [CAT_MINING] = { "CryptoCurrency:EC2/BitcoinTool.B", 8.0,
                     "CryptoCurrency:EC2/BitcoinTool.B!DNS", 8.0 },
    [CAT_DROP] = { "Trojan:EC2/DropPoint", 5.0, "Trojan:EC2/DropPoint!DNS", 8.0 },
    [CAT_PHISH] = { T_IP, SEV_IP, "Trojan:EC2/PhishingDomainRequest!DNS", 8.0 },
    [CAT_DRIVEBY] = { T_IP, SEV_IP, "Trojan:EC2/DriveBySourceTraffic!DNS", 5.0 },
    [CAT_BLACKHOLE] = { "Trojan:EC2/BlackholeTraffic", 5.0, T_BLACKHOLE_DNS, 5.0 },
    [CAT_TOR] = { T_TOR_CLIENT, 8.0, T_DNS, SEV_DNS },     /* IP: see tor_type() */
    [CAT_DGA] = { NULL, 0, NULL, 0 },
};

static enum cat
cat_of(const char *c)
{
    if (!c || !*c)
        return CAT_CUSTOM;
    static const struct { const char *name; enum cat cat; } names[] = {
        { "c2", CAT_C2 }, { "cnc", CAT_C2 }, { "c&c", CAT_C2 }, { "botnet-c2", CAT_C2 },
        { "mining", CAT_MINING }, { "droppoint", CAT_DROP }, { "phishing", CAT_PHISH },
        { "driveby", CAT_DRIVEBY }, { "blackhole", CAT_BLACKHOLE }, { "sinkhole", CAT_BLACKHOLE },
        { "tor", CAT_TOR }, { "dga", CAT_DGA },
    };
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcasecmp(c, names[i].name))
            return names[i].cat;
    return CAT_CUSTOM;
}

#define TOR_SLOTS 1024
#define TOR_RELAY_PEERS 2       /* distinct relays connecting in to one local port */

struct tor_inst {
    struct mg_addr local;
    uint8_t family, used, out_seen, n_peers;
    uint16_t in_port;
    struct mg_addr peers[TOR_RELAY_PEERS];
};

struct threat {
    struct det_env env;
    struct list_hit hit;            /* ~17 KB: kept here, not on the stack */
    struct finding_cand fc;
    struct tor_inst tor[TOR_SLOTS];
};

static int
threat_init(void **state, const struct det_env *env, char *err, unsigned errlen)
{
    struct threat *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "threat detector: out of memory");
        return -1;
    }
    t->env = *env;
    *state = t;
    return 0;
}

static void
threat_fini(void *state)
{
    free(state);
}

/* Name the finding after match i; additionalInfo has its category and the
 * other lists (of the same type) in 'same'. */
static void
set_list(struct finding_cand *fc, const struct list_hit *h, unsigned i, const unsigned *same,
         unsigned n_same)
{
    snprintf(fc->list_name, sizeof(fc->list_name), "%s", h->m[i].name);
    snprintf(fc->list_entry, sizeof(fc->list_entry), "%s", h->m[i].entry);
    size_t o = 0;
    o += (size_t)snprintf(fc->info + o, sizeof(fc->info) - o, "\"threatListCategory\":\"%s\"",
                          h->m[i].category ? h->m[i].category : "");
    if (n_same && o < sizeof(fc->info)) {
        o += (size_t)snprintf(fc->info + o, sizeof(fc->info) - o, ",\"otherLists\":[");
        for (unsigned k = 0; k < n_same && o < sizeof(fc->info); k++)
            o += (size_t)snprintf(fc->info + o, sizeof(fc->info) - o, "%s\"%s\"", k ? "," : "",
                                  h->m[same[k]].name);
        if (o < sizeof(fc->info))
            snprintf(fc->info + o, sizeof(fc->info) - o, "]");
    }
    if (strlen(fc->info) + 1 >= sizeof(fc->info))
        fc->info[0] = '\0';         /* cut JSON is worse than none */
}

static struct tor_inst *
tor_slot(struct threat *t, const struct mg_addr *local, int family)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < (family == 6 ? 16 : 4); i++)
        h = (h ^ local->b[i]) * 16777619u;
    struct tor_inst *s = &t->tor[h & (TOR_SLOTS - 1)];
    if (!s->used || s->family != family || memcmp(&s->local, local, sizeof(*local))) {
        memset(s, 0, sizeof(*s));
        s->used = 1;
        s->family = (uint8_t)family;
        s->local = *local;
    }
    return s;
}

/* Tor: note what this flow says about the instance and pick the type. */
static const char *
tor_type(struct threat *t, const struct flow_rec *f, int remote_is_src, double *sev)
{
    const struct mg_addr *local = remote_is_src ? &f->dst : &f->src;
    const struct mg_addr *remote = remote_is_src ? &f->src : &f->dst;
    struct tor_inst *s = tor_slot(t, local, f->family);
    if (f->proto == 6) {
        if (!remote_is_src) {
            s->out_seen = 1;
        } else if (f->dir[1].pkts) {            /* the instance answered */
            if (!s->n_peers)
                s->in_port = f->dport;
            if (s->in_port == f->dport && s->n_peers < TOR_RELAY_PEERS) {
                int known = 0;
                for (unsigned i = 0; i < s->n_peers; i++)
                    known |= !memcmp(&s->peers[i], remote, sizeof(*remote));
                if (!known)
                    s->peers[s->n_peers++] = *remote;
            }
        }
    }
    *sev = 8.0;
    if (s->out_seen && s->n_peers >= TOR_RELAY_PEERS)
        return T_TOR_RELAY;
    if (!remote_is_src)
        return T_TOR_CLIENT;
    *sev = 5.0;
    return T_TOR_CALLER;
}

/* One side of a flow against the threat lists. 'remote_is_src': the listed
 * address initiated the flow (inbound from the instance's view). */
static void
check_side(struct threat *t, const struct lists *l, const struct flow_rec *f, int remote_is_src)
{
    const struct mg_addr *remote = remote_is_src ? &f->src : &f->dst;
    const struct mg_addr *local = remote_is_src ? &f->dst : &f->src;
    const struct list_hit *h = &t->hit;
    if (!lists_match_ip(l, remote, f->family, &t->hit) || !h->n)
        return;
    const char *types[LISTS_MAX_THREAT];
    double sevs[LISTS_MAX_THREAT];
    int tor_done = 0;
    const char *tor_t = NULL;
    double tor_sev = 0;
    for (unsigned i = 0; i < h->n; i++) {
        enum cat c = cat_of(h->m[i].category);
        if (c == CAT_TOR) {
            if (!tor_done) {
                tor_t = tor_type(t, f, remote_is_src, &tor_sev);
                tor_done = 1;
            }
            types[i] = tor_t;
            sevs[i] = tor_sev;
        } else {
            types[i] = cat_types[c].ip;
            sevs[i] = cat_types[c].ip_sev;
        }
    }
    uint64_t done = 0;
    for (unsigned i = 0; i < h->n; i++) {
        if (!types[i] || (done >> i & 1))
            continue;
        unsigned same[LISTS_MAX_THREAT], n_same = 0;
        for (unsigned j = i + 1; j < h->n; j++)
            if (types[j] && !(done >> j & 1) && !strcmp(types[j], types[i])) {
                same[n_same++] = j;
                done |= 1ull << j;
            }
        struct finding_cand *fc = &t->fc;
        memset(fc, 0, sizeof(*fc));
        snprintf(fc->type, sizeof(fc->type), "%s", types[i]);
        fc->severity = sevs[i];
        fc->ts_ns = f->dir[0].last_ns > f->dir[1].last_ns ? f->dir[0].last_ns : f->dir[1].last_ns;
        const struct flow_dir *ld = &f->dir[remote_is_src ? 1 : 0];
        fc->vni = ld->pkts ? ld->vni : f->vni;
        fc->action = FC_NETWORK_CONNECTION;
        fc->direction = remote_is_src ? FC_INBOUND : FC_OUTBOUND;
        fc->role = remote_is_src ? FC_TARGET : FC_ACTOR;
        fc->family = f->family;
        fc->proto = f->proto;
        fc->local = *local;
        fc->remote = *remote;
        fc->local_port = remote_is_src ? f->dport : f->sport;
        fc->remote_port = remote_is_src ? f->sport : f->dport;
        if (f->proto == 1 || f->proto == 58)
            fc->local_port = fc->remote_port = 0;
        fc->count = 1;
        set_list(fc, h, i, same, n_same);
        t->env.emit(t->env.arg, fc);
    }
}

static void
threat_flow(void *state, const struct flow_rec *f)
{
    struct threat *t = state;
    const struct lists *l = t->env.lists(t->env.arg);
    if (!l)
        return;
    const struct cfg *c = t->env.cfg;
    int src_home = det_in_home_net(c, &f->src, f->family);
    int dst_home = det_in_home_net(c, &f->dst, f->family);
    /* The instance is the home side; a listed home address (lateral
     * movement inside the VPC) is checked too. With neither side in
     * home_net, each side is checked with the other as the resource. */
    if (!dst_home || src_home)
        check_side(t, l, f, 0);
    if (!src_home || dst_home)
        check_side(t, l, f, 1);
}

static void
dns_cand(struct threat *t, const struct dns_rec *d, const char *type, double sev)
{
    det_dns_cand(&t->fc, d, type, sev, d->query_ns ? d->query_ns : d->response_ns);
}

/* Blackhole: an A/AAAA answer that is an address on a blackhole/sinkhole
 * list. Returns 1 when a candidate was emitted. */
static int
check_answers(struct threat *t, const struct lists *l, const struct dns_rec *d)
{
    const struct list_hit *h = &t->hit;
    for (unsigned a = 0; a < d->n_answers && a < DNS_MAX_ANSWERS; a++) {
        const struct dns_answer *an = &d->answers[a];
        struct mg_addr addr;
        int fam;
        memset(&addr, 0, sizeof(addr));
        if (an->type == 1 && inet_pton(AF_INET, an->data, addr.b) == 1)
            fam = 4;
        else if (an->type == 28 && inet_pton(AF_INET6, an->data, addr.b) == 1)
            fam = 6;
        else
            continue;
        if (!lists_match_ip(l, &addr, fam, &t->hit) || !h->n)
            continue;
        for (unsigned i = 0; i < h->n; i++) {
            if (cat_of(h->m[i].category) != CAT_BLACKHOLE)
                continue;
            dns_cand(t, d, T_BLACKHOLE_DNS, 5.0);
            struct finding_cand *fc = &t->fc;
            snprintf(fc->list_name, sizeof(fc->list_name), "%s", h->m[i].name);
            snprintf(fc->list_entry, sizeof(fc->list_entry), "%s", h->m[i].entry);
            snprintf(fc->info, sizeof(fc->info),
                     "\"threatListCategory\":\"%s\",\"sinkholeAddress\":\"%s\"",
                     h->m[i].category, an->data);
            if (strlen(fc->info) + 1 >= sizeof(fc->info))
                fc->info[0] = '\0';
            t->env.emit(t->env.arg, fc);
            return 1;
        }
    }
    return 0;
}

static void
threat_dns(void *state, const struct dns_rec *d)
{
    struct threat *t = state;
    const struct lists *l = t->env.lists(t->env.arg);
    if (!l || !d->qname[0])
        return;
    int blackhole_done = 0;
    const struct list_hit *h = &t->hit;
    if (d->has_query && lists_match_domain(l, d->qname, &t->hit) && h->n) {
        const char *types[LISTS_MAX_THREAT];
        double sevs[LISTS_MAX_THREAT];
        for (unsigned i = 0; i < h->n; i++) {
            enum cat c = cat_of(h->m[i].category);
            types[i] = cat_types[c].dns;
            sevs[i] = cat_types[c].dns_sev;
        }
        uint64_t done = 0;
        for (unsigned i = 0; i < h->n; i++) {
            if (!types[i] || (done >> i & 1))
                continue;
            unsigned same[LISTS_MAX_THREAT], n_same = 0;
            for (unsigned j = i + 1; j < h->n; j++)
                if (types[j] && !(done >> j & 1) && !strcmp(types[j], types[i])) {
                    same[n_same++] = j;
                    done |= 1ull << j;
                }
            if (!strcmp(types[i], T_BLACKHOLE_DNS))
                blackhole_done = 1;
            dns_cand(t, d, types[i], sevs[i]);
            set_list(&t->fc, h, i, same, n_same);
            t->env.emit(t->env.arg, &t->fc);
        }
    }
    if (!blackhole_done && d->has_response && d->n_answers)
        check_answers(t, l, d);
}

const struct det_ops det_threat_ops = {
    .name = "threat_lists",
    .init = threat_init,
    .on_flow = threat_flow,
    .on_dns = threat_dns,
    .fini = threat_fini,
};
