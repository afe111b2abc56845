/* detect/det.c - the detector registry and dispatch; see det.h. */
#include "det.h"
#include "cfg.h"
#include "finding.h"

#include <stdio.h>
#include <string.h>

/* The one list of detectors, in the order they run. */
static const struct det_ops *const det_all[] = {
    &det_threat_ops,
    &det_brute_ops,
    &det_scan_ops,
    &det_dnsmisc_ops,
    &det_mining_ops,
    &det_exfil_ops,
    &det_dga_ops,
    &det_beacon_ops,
    &det_dos_ops,
    &det_baseline_ops,
};

int
det_in_home_net(const struct cfg *c, const struct mg_addr *a, int family)
{
    for (unsigned i = 0; i < c->n_home_net; i++) {
        const struct cfg_cidr *n = &c->home_net[i];
        if (n->family != family)
            continue;
        unsigned bits = n->prefix, k = 0;
        int match = 1;
        for (; bits >= 8; bits -= 8, k++)
            if (a->b[k] != n->addr[k]) {
                match = 0;
                break;
            }
        if (match && bits && ((a->b[k] ^ n->addr[k]) & (uint8_t)(0xff << (8 - bits))))
            match = 0;
        if (match)
            return 1;
    }
    return 0;
}

int
det_set_init(struct det_set *s, const struct det_env *env, char *err, unsigned errlen)
{
    memset(s, 0, sizeof(*s));
    for (unsigned i = 0; i < sizeof(det_all) / sizeof(det_all[0]); i++) {
        const struct det_ops *o = det_all[i];
        if (!o || s->n >= sizeof(s->ops) / sizeof(s->ops[0]))
            continue;
        if (o->init(&s->state[s->n], env, err, errlen) != 0) {
            det_set_fini(s);
            return -1;
        }
        s->ops[s->n++] = o;
    }
    return 0;
}

void
det_set_flow(struct det_set *s, const struct flow_rec *f)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->ops[i]->on_flow)
            s->ops[i]->on_flow(s->state[i], f);
}

void
det_set_dns(struct det_set *s, const struct dns_rec *d)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->ops[i]->on_dns)
            s->ops[i]->on_dns(s->state[i], d);
}

void
det_set_conn(struct det_set *s, const struct conn_event *c)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->ops[i]->on_conn)
            s->ops[i]->on_conn(s->state[i], c);
}

void
det_set_tick(struct det_set *s, uint64_t now_ns)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->ops[i]->tick)
            s->ops[i]->tick(s->state[i], now_ns);
}

void
det_set_fini(struct det_set *s)
{
    for (unsigned i = 0; i < s->n; i++)
        s->ops[i]->fini(s->state[i]);
    s->n = 0;
}

int
det_addr_special(const struct mg_addr *a, int family)
{
    const uint8_t *b = a->b;
    if (family == 4)
        return b[0] == 10 || b[0] == 127 || b[0] == 0 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
               (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254) ||
               (b[0] == 100 && (b[1] & 0xc0) == 64) || b[0] >= 224;
    static const uint8_t loop[16] = { [15] = 1 }, zero[16] = { 0 };
    if (!memcmp(b, loop, 16) || !memcmp(b, zero, 16))
        return 1;
    return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || b[0] == 0xff;
}

void
det_dns_cand(struct finding_cand *fc, const struct dns_rec *d, const char *type, double severity,
             uint64_t ts_ns)
{
    memset(fc, 0, sizeof(*fc));
    snprintf(fc->type, sizeof(fc->type), "%s", type);
    fc->severity = severity;
    fc->ts_ns = ts_ns;
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
}
