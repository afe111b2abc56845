/* detect/det_threat.c - threat-list matches: GuardDuty's custom threat
 * lists, for IP addresses (from flow records) and domains (from DNS queries).
 *
 *   UnauthorizedAccess:EC2/MaliciousIPCaller.Custom  (Medium, 5.0)
 *       an instance exchanged traffic with an address on a threat list;
 *       unlike GuardDuty, IPv6 addresses are matched too.
 *   Impact:EC2/MaliciousDomainRequest.Custom         (Medium, 5.0)
 *       an instance queried a domain on a threat list (exact name, or any
 *       name under a "*.domain" entry).
 *
 * The trusted list is applied later, by the aggregator, to every finding.
 * One candidate per flow record or DNS transaction; the aggregator merges
 * the repeats of (type, instance, remote) into one finding. */
#include "det.h"
#include "cfg.h"
#include "lists.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_IP  "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"
#define T_DNS "Impact:EC2/MaliciousDomainRequest.Custom"
#define SEV_IP  5.0
#define SEV_DNS 5.0

struct threat {
    struct det_env env;
    struct list_hit hit;            /* ~17 KB: kept here, not on the stack */
    struct finding_cand fc;
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

static void
set_list(struct finding_cand *fc, const struct list_hit *h)
{
    /* The first matching list names the finding; additionalInfo lists all. */
    snprintf(fc->list_name, sizeof(fc->list_name), "%s", h->m[0].name);
    snprintf(fc->list_entry, sizeof(fc->list_entry), "%s", h->m[0].entry);
    size_t o = 0;
    o += (size_t)snprintf(fc->info + o, sizeof(fc->info) - o, "\"threatListCategory\":\"%s\"",
                          h->m[0].category ? h->m[0].category : "");
    if (h->n > 1 && o < sizeof(fc->info)) {
        o += (size_t)snprintf(fc->info + o, sizeof(fc->info) - o, ",\"otherLists\":[");
        for (unsigned i = 1; i < h->n && o < sizeof(fc->info); i++)
            o += (size_t)snprintf(fc->info + o, sizeof(fc->info) - o, "%s\"%s\"", i > 1 ? "," : "",
                                  h->m[i].name);
        if (o < sizeof(fc->info))
            snprintf(fc->info + o, sizeof(fc->info) - o, "]");
    }
    if (strlen(fc->info) + 1 >= sizeof(fc->info))
        fc->info[0] = '\0';         /* cut JSON is worse than none */
}

/* One side of a flow against the threat lists. 'remote_is_src': the listed
 * address initiated the flow (inbound from the instance's view). */
static void
check_side(struct threat *t, const struct lists *l, const struct flow_rec *f, int remote_is_src)
{
    const struct mg_addr *remote = remote_is_src ? &f->src : &f->dst;
    const struct mg_addr *local = remote_is_src ? &f->dst : &f->src;
    if (!lists_match_ip(l, remote, f->family, &t->hit) || !t->hit.n)
        return;
    struct finding_cand *fc = &t->fc;
    memset(fc, 0, sizeof(*fc));
    snprintf(fc->type, sizeof(fc->type), "%s", T_IP);
    fc->severity = SEV_IP;
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
    set_list(fc, &t->hit);
    t->env.emit(t->env.arg, fc);
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
threat_dns(void *state, const struct dns_rec *d)
{
    struct threat *t = state;
    const struct lists *l = t->env.lists(t->env.arg);
    if (!l || !d->has_query || !d->qname[0])
        return;
    if (!lists_match_domain(l, d->qname, &t->hit) || !t->hit.n)
        return;
    struct finding_cand *fc = &t->fc;
    memset(fc, 0, sizeof(*fc));
    snprintf(fc->type, sizeof(fc->type), "%s", T_DNS);
    fc->severity = SEV_DNS;
    fc->ts_ns = d->query_ns;
    fc->vni = d->vni;
    fc->action = FC_DNS_REQUEST;
    fc->direction = FC_OUTBOUND;
    fc->role = FC_ACTOR;
    fc->family = d->family;
    fc->proto = d->transport;
    fc->local = d->client;
    fc->remote = d->server;
    fc->local_port = d->cport;
    fc->remote_port = d->sport;
    fc->count = 1;
    snprintf(fc->domain, sizeof(fc->domain), "%s", d->qname);
    set_list(fc, &t->hit);
    t->env.emit(t->env.arg, fc);
}

const struct det_ops det_threat_ops = {
    .name = "threat_lists",
    .init = threat_init,
    .on_flow = threat_flow,
    .on_dns = threat_dns,
    .fini = threat_fini,
};
