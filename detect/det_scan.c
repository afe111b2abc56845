/* detect/det_scan.c - reconnaissance: port scans, sweeps and probes.
 *
 *   Recon:EC2/Portscan                    (Medium 5.0) an instance probes many ports of
 *       ONE remote host (TCP or UDP). ACTOR/OUTBOUND, remote = the target, remote_port =
 *       the last probed port. The target may be internal (lateral scan) or public.
 *   Impact:EC2/PortSweep                  (High 7.0) an instance probes one port on many
 *       PUBLIC addresses. ACTOR/OUTBOUND, remote zero (one finding per instance),
 *       remote_port = the port, additionalInfo "targets" (distinct probed hosts in the
 *       window) and "port".
 *   Recon:EC2/ICMPSweep                   (Medium 5.0, beyond GuardDuty) an instance
 *       sends ICMP/ICMPv6 echo requests to many distinct hosts: hosts that did not
 *       answer, or public ones (a monitor pinging internal hosts that answer is not
 *       a sweep). ACTOR/OUTBOUND, remote zero.
 *   Recon:EC2/InboundPortscan             (Low 2.0, beyond GuardDuty) a remote host
 *       OUTSIDE home_net scans an instance: many ports of it, or TRW judged the
 *       remote a scanner (vertically on this instance, or horizontally over the
 *       instances it tried on one port). TARGET/INBOUND, remote = the scanner.
 *       Decision: a scanner inside home_net is reported from its own side (Portscan,
 *       PortSweep as ACTOR), never as InboundPortscan, so one lateral scan is not
 *       reported twice; with home_net empty nothing here fires.
 *   Recon:EC2/PortProbeUnprotectedPort    (Low 2.0; High 8.0 once a data-store port of
 *       detect.scan.datastore_ports was probed on the instance)
 *   Recon:EC2/PortProbeEMRUnprotectedPort (High 7.0, ports of detect.scan.emr_ports)
 *       remote hosts outside home_net probed a port of the instance that ANSWERED
 *       (SYN-ACK / UDP reply) and then sent no payload (TCP: no PSH and no more IP
 *       bytes than headers with options; UDP: one datagram), and the remote either
 *       probed at least probe_min_ports answered ports of the instance or was judged
 *       a scanner. PORT_PROBE, probes[] = the FC_MAX_PROBES most recent (port,
 *       prober) pairs, remote zero (one finding per instance), TARGET/INBOUND.
 *
 * Algorithm: Threshold Random Walk (Jung, Paxson, Berger, Balakrishnan, IEEE S&P
 * 2004). Each first contact of a source with a new destination updates a likelihood
 * ratio: vertically per (source, target host) over new (proto, port)s, horizontally
 * per (source, proto, port) over new hosts. Success multiplies it by theta1/theta0,
 * failure by (1-theta1)/(1-theta0); >= beta/alpha declares a scanner, <= (1-beta)/
 * (1-alpha) declares benign and starts again. Defaults 0.8 / 0.2 / 0.01 / 0.99: four
 * failures in a row (4^4 = 256 >= 99) decide. Success = CONN_SUCCESS (SYN-ACK, any
 * UDP/ICMP reply); failure = CONN_REJECTED (RST to the SYN, ICMP unreachable) or a
 * flow record with outcome 0 and no responder packet (TCP only when the initiator
 * sent nothing but SYNs, so a one-way mirror or a mid-stream pickup is no failure;
 * not a record cut off by the end of the capture or a shutdown, whose answer may
 * simply not have come yet),
 * and a first TCP record whose initiator sent neither SYN, ACK nor RST (FIN, NULL,
 * Xmas stealth probes), answered or not.
 * Plus distinct-target counts in a window (detect.scan.window) for slow scans; a
 * "probe" there is a failure or an answered attempt without payload.
 *
 * No double counting: on_conn carries the outcome of answered/refused attempts; the
 * flow record of such an attempt has outcome != 0 and is used only to learn whether
 * the initiator sent payload (an answered probe). Silent failures come only from
 * flow records. Repeats land in the same bit of the distinct sets anyway.
 *
 * Reporting and `count`: one candidate when the decision is made (count 1), then for
 * the same (type, instance, remote) at most one more per report_probes further probes
 * or per report_interval seconds of packet time (the first probe after the interval
 * emits). So a finding's count is the number of decisions / probe batches, not of
 * packets or connections.
 *
 * State (bounded, fixed capacity, allocated at init): four LRU hash tables - sources
 * (max_sources, the "judged a scanner" flag of inbound remotes), pairs (max_pairs,
 * (source, target host): TRW + 1024-bit seen/probed port sets + answered ports),
 * fans (max_fans, (source, proto, port): TRW + 1024-bit host sets) and instances
 * (max_instances: recent probes). A full table evicts its least recently used entry;
 * an entry with evidence (positive walk, >= 2 probes, decided) gets one second chance
 * (moved to the front) per touch, so a flood of one-packet spoofed sources pushes
 * out its own entries before a slow scanner's. Evictions are counted
 * (det_scan_stat()). Bit sets are hashed: collisions only undercount. Time is packet
 * time; windows roll lazily on the next probe, so no tick is needed. */
#include "det.h"
#include "cfg.h"
#include "lru.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_PORTSCAN "Recon:EC2/Portscan"
#define T_SWEEP    "Impact:EC2/PortSweep"
#define T_INBOUND  "Recon:EC2/InboundPortscan"
#define T_ICMP     "Recon:EC2/ICMPSweep"
#define T_PROBE    "Recon:EC2/PortProbeUnprotectedPort"
#define T_PROBE_EMR "Recon:EC2/PortProbeEMRUnprotectedPort"
#define SEV_PORTSCAN 5.0
#define SEV_SWEEP    7.0
#define SEV_INBOUND  2.0
#define SEV_ICMP     5.0
#define SEV_PROBE    2.0
#define SEV_PROBE_DS 8.0
#define SEV_PROBE_EMR 7.0

#define NS 1000000000ull
#define SETBITS 1024
#define SETWORDS (SETBITS / 64)
#define N_OPEN 8                    /* answered ports remembered per pair */

/* ------------------------------------------------------------ LRU tables */

struct skey {                       /* zeroed where unused: one memcmp */
    struct mg_addr a, b;
    uint16_t port;
    uint8_t proto, family;
};

/* Bounded state: detect/lru.h (with its second chance); every entry
 * starts with this. */
struct hdr {
    struct lru_hdr l;
    struct skey k;
};

static int
scan_tbl_init(struct lru *t, uint32_t cap, size_t esz, int (*keep)(const void *))
{
    if (lru_init(t, cap, esz, offsetof(struct hdr, k), sizeof(struct skey)) != 0)
        return -1;
    lru_set_keep(t, keep);
    return 0;
}

/* ------------------------------------------------------------ entries */

struct rep {                        /* rate limit of one (type, instance, remote) */
    uint64_t last_ns;
    uint32_t since;
    uint8_t on;
};

struct walk {                       /* TRW plus the distinct sets of one window */
    double llr;
    uint8_t scanner;
    uint32_t n_probed;
    uint32_t n_good;                /* answered attempts that carried payload, this window */
    uint64_t win_start;
    uint64_t seen[SETWORDS];        /* first contacts (any outcome) */
    uint64_t probed[SETWORDS];      /* failures / answered probes, this window */
};

/* A source's first event, held until it sends a second (see inbound()). */
struct held_ev {
    struct mg_addr dst;
    uint64_t ts;
    uint32_t vni;
    uint16_t sport, dport;
    uint8_t family, proto, kind;
};

struct src_ent {                    /* a remote outside home_net */
    struct hdr h;
    uint8_t scanner;
    uint8_t seen;                   /* an event came from it (the entry is not new) */
    uint8_t held;                   /* 'first' waits for a second event */
    struct held_ev first;
};

struct pair_ent {                   /* (source, target host) */
    struct hdr h;
    struct walk w;
    struct rep rep;
    uint16_t last_port, sport;
    uint8_t proto;
    uint8_t n_open, flushed;        /* answered probes; bit i: open[i] reported */
    uint16_t open[N_OPEN];
    uint8_t open_proto[N_OPEN];
};

struct fan_ent {                    /* (source, proto, port) */
    struct hdr h;
    struct walk w;
    struct rep rep;
};

struct probe_set {
    struct fc_probe p[FC_MAX_PROBES];   /* ring, most recent at (head-1) */
    uint8_t n, head, datastore;
    uint16_t last_port;
    uint8_t proto;
    struct rep rep;
};

struct inst_ent {
    struct hdr h;
    struct probe_set normal, emr;
};

static int
walk_keep(const struct walk *w)
{
    return w->scanner || w->n_probed >= 2;
}
static int pair_keep(const void *e) { return walk_keep(&((const struct pair_ent *)e)->w); }
static int fan_keep(const void *e) { return walk_keep(&((const struct fan_ent *)e)->w); }
static int src_keep(const void *e) { return ((const struct src_ent *)e)->scanner; }

/* ------------------------------------------------------------ detector */

struct scan {
    struct det_env env;
    const struct cfg *cfg;
    int enabled;
    double l_succ, l_fail, l_hi, l_lo;     /* log likelihood steps and thresholds */
    uint64_t window_ns, interval_ns;
    int hold_first;                         /* one event alone can never be a finding */
    struct lru src, pair, fan, inst;
    uint64_t events, silent, probes, emitted, held;
    struct finding_cand fc;
};

/* success, failure, answered without payload, answered with payload */
enum { EV_OK, EV_FAIL, EV_PROBE, EV_GOOD };

struct ev {
    const struct mg_addr *src, *dst;
    uint8_t family, proto, kind;
    uint16_t sport, dport;
    uint64_t ts;
    uint32_t vni;
};

static inline int bit_test(const uint64_t *s, uint32_t b) { return (s[b >> 6] >> (b & 63)) & 1; }
static inline void bit_set(uint64_t *s, uint32_t b) { s[b >> 6] |= 1ull << (b & 63); }

static uint32_t
port_bit(uint8_t proto, uint16_t port)
{
    return (uint32_t)lru_mix64(((uint64_t)proto << 16) | port) & (SETBITS - 1);
}

static uint32_t
host_bit(const struct mg_addr *a)
{
    return (uint32_t)lru_hash(a, sizeof(*a)) & (SETBITS - 1);
}

/* One event on a walk: TRW on a first contact, distinct count of probes.
 * Returns 1 when the event is a probe (failure or answered probe). */
static int
walk_update(struct scan *s, struct walk *w, uint32_t bit, int kind, uint64_t ts)
{
    if (!w->win_start || ts > w->win_start + s->window_ns) {
        memset(w->probed, 0, sizeof(w->probed));
        w->n_probed = w->n_good = 0;
        w->win_start = ts ? ts : 1;
    }
    if (kind == EV_GOOD) {
        w->n_good++;
        return 0;
    }
    if (kind != EV_PROBE && !bit_test(w->seen, bit)) {
        bit_set(w->seen, bit);
        if (!w->scanner) {
            w->llr += kind == EV_OK ? s->l_succ : s->l_fail;
            if (w->llr >= s->l_hi)
                w->scanner = 1;
            else if (w->llr <= s->l_lo)
                w->llr = 0;         /* benign: start again */
        }
    }
    if (kind == EV_OK)
        return 0;
    if (!bit_test(w->probed, bit)) {
        bit_set(w->probed, bit);
        w->n_probed++;
    }
    return 1;
}

/* The window count decides: at least thr probes, and more probes than
 * answered connections that carried payload (a busy client with a few
 * failures among many real connections is no scanner). */
static int
many(uint32_t n, uint32_t thr, const struct walk *w)
{
    return n >= thr && n > w->n_good;
}

/* Due a candidate? The first one when the decision is made, then one per
 * report_probes probes or per report_interval of packet time. */
static int
rep_due(struct scan *s, struct rep *r, uint64_t ts)
{
    if (!r->on) {
        r->on = 1;
        r->last_ns = ts;
        r->since = 0;
        return 1;
    }
    r->since++;
    if (r->since >= s->cfg->detect.scan.report_probes || ts >= r->last_ns + s->interval_ns) {
        r->last_ns = ts;
        r->since = 0;
        return 1;
    }
    return 0;
}

static struct finding_cand *
fc_start(struct scan *s, const char *type, double sev, const struct ev *e)
{
    struct finding_cand *fc = &s->fc;
    memset(fc, 0, sizeof(*fc));
    snprintf(fc->type, sizeof(fc->type), "%s", type);
    fc->severity = sev;
    fc->ts_ns = e->ts;
    fc->vni = e->vni;
    fc->action = FC_NETWORK_CONNECTION;
    fc->family = e->family;
    fc->proto = e->proto;
    fc->count = 1;
    return fc;
}

static void
fc_emit(struct scan *s)
{
    s->emitted++;
    s->env.emit(s->env.arg, &s->fc);
}

static int
is_icmp_echo(uint8_t proto, uint16_t sport)
{
    return (proto == 1 && sport == 8) || (proto == 58 && sport == 128);
}

/* Multicast / broadcast destinations never answer as one host. */
static int
is_group(const struct mg_addr *a, int family)
{
    if (family == 4)
        return (a->b[0] & 0xf0) == 0xe0 || (a->b[0] == 255 && a->b[1] == 255 &&
                                             a->b[2] == 255 && a->b[3] == 255);
    return a->b[0] == 0xff;
}

static int
in_list(const uint16_t *l, unsigned n, uint16_t port)
{
    for (unsigned i = 0; i < n; i++)
        if (l[i] == port)
            return 1;
    return 0;
}

static struct skey
mk_key(const struct mg_addr *a, const struct mg_addr *b, uint8_t family, uint8_t proto,
       uint16_t port)
{
    struct skey k;
    memset(&k, 0, sizeof(k));
    k.a = *a;
    if (b)
        k.b = *b;
    k.family = family;
    k.proto = proto;
    k.port = port;
    return k;
}

/* ------------------------------------------------ outbound: the instance acts */

static void
outbound(struct scan *s, const struct ev *e, int dst_public)
{
    const struct cfg *c = s->cfg;
    if (e->proto == 1 || e->proto == 58) {          /* echo sweep */
        struct skey k = mk_key(e->src, NULL, e->family, e->proto, 0);
        struct fan_ent *f = lru_get(&s->fan, &k);
        if (e->kind == EV_GOOD)
            return;
        int kind = e->kind == EV_OK && dst_public ? EV_PROBE : e->kind;
        if (!walk_update(s, &f->w, host_bit(e->dst), kind, e->ts)) {
            if (e->kind == EV_OK)
                f->w.n_good++;      /* an internal host answered */
            return;
        }
        if (!f->rep.on && !many(f->w.n_probed, c->detect.scan.icmp_sweep_hosts, &f->w))
            return;
        if (!rep_due(s, &f->rep, e->ts))
            return;
        struct finding_cand *fc = fc_start(s, T_ICMP, SEV_ICMP, e);
        fc->role = FC_ACTOR;
        fc->direction = FC_OUTBOUND;
        fc->local = *e->src;
        snprintf(fc->info, sizeof(fc->info), "\"targets\":%u", f->w.n_probed);
        fc_emit(s);
        return;
    }

    /* Vertical: many ports of one host. */
    struct skey k = mk_key(e->src, e->dst, e->family, 0, 0);
    struct pair_ent *p = lru_get(&s->pair, &k);
    int probe = walk_update(s, &p->w, port_bit(e->proto, e->dport), e->kind, e->ts);
    p->last_port = e->dport;
    p->sport = e->sport;
    p->proto = e->proto;
    if (probe && (p->w.scanner || many(p->w.n_probed, c->detect.scan.portscan_ports, &p->w) ||
                  p->rep.on) && rep_due(s, &p->rep, e->ts)) {
        struct finding_cand *fc = fc_start(s, T_PORTSCAN, SEV_PORTSCAN, e);
        fc->role = FC_ACTOR;
        fc->direction = FC_OUTBOUND;
        fc->local = *e->src;
        fc->remote = *e->dst;
        fc->local_port = e->sport;
        fc->remote_port = e->dport;
        snprintf(fc->info, sizeof(fc->info), "\"probedPorts\":%u", p->w.n_probed);
        fc_emit(s);
    }

    /* Horizontal: one port of many public hosts. */
    if (!dst_public)
        return;
    k = mk_key(e->src, NULL, e->family, e->proto, e->dport);
    struct fan_ent *f = lru_get(&s->fan, &k);
    probe = walk_update(s, &f->w, host_bit(e->dst), e->kind, e->ts);
    /* A walk that says "scanner" after a few unanswered hosts is enough for
     * a port scan of one host, but a sweep ("a large number of IP
     * addresses", High severity) also needs sweep_min_hosts of them: a
     * client whose first few connections time out is not sweeping. */
    if (probe && ((f->w.scanner && f->w.n_probed >= c->detect.scan.sweep_min_hosts) ||
                  many(f->w.n_probed, c->detect.scan.sweep_hosts, &f->w) ||
                  f->rep.on) && rep_due(s, &f->rep, e->ts)) {
        struct finding_cand *fc = fc_start(s, T_SWEEP, SEV_SWEEP, e);
        fc->role = FC_ACTOR;
        fc->direction = FC_OUTBOUND;
        fc->local = *e->src;
        fc->local_port = e->sport;
        fc->remote_port = e->dport;
        snprintf(fc->info, sizeof(fc->info), "\"targets\":%u,\"port\":%u",
                 f->w.n_probed, (unsigned)e->dport);
        fc_emit(s);
    }
}

/* ------------------------------------------------ inbound: a remote probes */

static void
probe_emit(struct scan *s, struct inst_ent *in, struct probe_set *ps, int emr,
           const struct ev *e)
{
    if (!rep_due(s, &ps->rep, e->ts))
        return;
    double sev = emr ? SEV_PROBE_EMR : ps->datastore ? SEV_PROBE_DS : SEV_PROBE;
    struct finding_cand *fc = fc_start(s, emr ? T_PROBE_EMR : T_PROBE, sev, e);
    fc->action = FC_PORT_PROBE;
    fc->role = FC_TARGET;
    fc->direction = FC_INBOUND;
    fc->local = in->h.k.a;
    fc->proto = ps->proto;
    fc->local_port = ps->last_port;
    /* most recent first */
    for (unsigned i = 0; i < ps->n; i++)
        fc->probes[i] = ps->p[(ps->head + FC_MAX_PROBES - 1 - i) % FC_MAX_PROBES];
    fc->n_probes = ps->n;
    fc_emit(s);
}

/* The answered ports of pair p (remote -> instance) not reported yet go into
 * the instance's probe lists. */
static void
probe_flush(struct scan *s, struct pair_ent *p, const struct ev *e)
{
    const struct cfg *c = s->cfg;
    struct inst_ent *in = NULL;
    int touched[2] = { 0, 0 };
    for (unsigned i = 0; i < p->n_open; i++) {
        if (p->flushed & (1u << i))
            continue;
        p->flushed |= (uint8_t)(1u << i);
        if (!in) {
            struct skey k = mk_key(e->dst, NULL, e->family, 0, 0);
            in = lru_get(&s->inst, &k);
        }
        uint16_t port = p->open[i];
        int emr = in_list(c->detect.scan.emr_ports, c->detect.scan.n_emr_ports, port);
        struct probe_set *ps = emr ? &in->emr : &in->normal;
        struct fc_probe *fp = &ps->p[ps->head];
        memset(fp, 0, sizeof(*fp));
        fp->local_port = port;
        fp->family = e->family;
        fp->remote = *e->src;
        ps->head = (uint8_t)((ps->head + 1) % FC_MAX_PROBES);
        if (ps->n < FC_MAX_PROBES)
            ps->n++;
        ps->last_port = port;
        ps->proto = p->open_proto[i];
        if (!emr && in_list(c->detect.scan.datastore_ports, c->detect.scan.n_datastore_ports,
                            port))
            ps->datastore = 1;
        touched[emr] = 1;
    }
    s->probes += touched[0] + touched[1];
    if (touched[0])
        probe_emit(s, in, &in->normal, 0, e);
    if (touched[1])
        probe_emit(s, in, &in->emr, 1, e);
}

/* An inbound event of source r: its walks, probes and reports. */
static void
inbound_src(struct scan *s, const struct ev *e, struct src_ent *r)
{
    const struct cfg *c = s->cfg;

    /* Horizontal: the remote tries one port on many instances. */
    struct skey k = mk_key(e->src, NULL, e->family, e->proto, e->dport);
    struct fan_ent *f = lru_get(&s->fan, &k);
    walk_update(s, &f->w, host_bit(e->dst), e->kind, e->ts);

    /* Vertical: many ports of this instance. */
    k = mk_key(e->src, e->dst, e->family, 0, 0);
    struct pair_ent *p = lru_get(&s->pair, &k);
    int probe = walk_update(s, &p->w, port_bit(e->proto, e->dport), e->kind, e->ts);
    p->last_port = e->dport;
    p->sport = e->sport;
    p->proto = e->proto;
    if (f->w.scanner || p->w.scanner || many(p->w.n_probed, c->detect.scan.inbound_ports, &p->w))
        r->scanner = 1;

    if (e->kind == EV_PROBE) {      /* answered, then no payload */
        unsigned i;
        for (i = 0; i < p->n_open; i++)
            if (p->open[i] == e->dport && p->open_proto[i] == e->proto)
                break;
        if (i == p->n_open && p->n_open < N_OPEN) {
            p->open[p->n_open] = e->dport;
            p->open_proto[p->n_open++] = e->proto;
        }
    }
    if (p->n_open && (r->scanner || p->n_open >= c->detect.scan.probe_min_ports))
        probe_flush(s, p, e);

    if (probe && (r->scanner || p->rep.on) && rep_due(s, &p->rep, e->ts)) {
        struct finding_cand *fc = fc_start(s, T_INBOUND, SEV_INBOUND, e);
        fc->role = FC_TARGET;
        fc->direction = FC_INBOUND;
        fc->local = *e->dst;
        fc->remote = *e->src;
        fc->local_port = e->dport;
        fc->remote_port = e->sport;
        snprintf(fc->info, sizeof(fc->info), "\"probedPorts\":%u,\"trw\":%s",
                 p->w.n_probed, p->w.scanner || f->w.scanner ? "true" : "false");
        fc_emit(s);
    }
}

/* Most sources outside home_net send one attempt and never another (a
 * spoofed flood sends millions such): their first event waits in the source's
 * entry, and only a second makes the fan and pair entries, replaying the
 * first before it. One event alone can make no finding (no TRW step reaches
 * the threshold, no count of 1 reaches its minimum: s->hold_first), so the
 * findings are the same; a flood costs one table instead of three. An
 * answered probe is never held (probe_min_ports may be 1). */
static void
inbound(struct scan *s, const struct ev *e)
{
    if (e->proto == 1 || e->proto == 58)
        return;
    struct skey k = mk_key(e->src, NULL, e->family, 0, 0);
    struct src_ent *r = lru_get(&s->src, &k);
    if (!r->seen) {
        r->seen = 1;
        if (s->hold_first && e->kind != EV_PROBE) {
            r->held = 1;
            r->first = (struct held_ev){ .dst = *e->dst, .ts = e->ts, .vni = e->vni,
                                         .sport = e->sport, .dport = e->dport,
                                         .family = e->family, .proto = e->proto,
                                         .kind = e->kind };
            s->held++;
            return;
        }
    } else if (r->held) {
        r->held = 0;
        const struct held_ev *h = &r->first;
        struct ev f = { .src = e->src, .dst = &h->dst, .family = h->family, .proto = h->proto,
                        .kind = h->kind, .sport = h->sport, .dport = h->dport, .ts = h->ts,
                        .vni = h->vni };
        inbound_src(s, &f, r);
    }
    inbound_src(s, e, r);
}

static void
event(struct scan *s, const struct ev *e)
{
    const struct cfg *c = s->cfg;
    if (e->family != 4 && e->family != 6)
        return;
    if (is_group(e->dst, e->family))
        return;
    s->events++;
    int src_home = det_in_home_net(c, e->src, e->family);
    int dst_home = det_in_home_net(c, e->dst, e->family);
    if (src_home)
        outbound(s, e, !dst_home);
    else if (dst_home)
        inbound(s, e);
}

/* ------------------------------------------------------------ callbacks */

static void
scan_conn(void *state, const struct conn_event *c)
{
    struct scan *s = state;
    if (!s->enabled)
        return;
    if (c->outcome != CONN_SUCCESS && c->outcome != CONN_REJECTED)
        return;
    if (c->proto != 6 && c->proto != 17 && c->proto != 132 && !is_icmp_echo(c->proto, c->sport))
        return;
    struct ev e = {
        .src = &c->src, .dst = &c->dst, .family = c->family, .proto = c->proto,
        .kind = c->outcome == CONN_SUCCESS ? EV_OK : EV_FAIL,
        .sport = c->sport, .dport = c->dport,
        .ts = c->ts_ns ? c->ts_ns : c->start_ns, .vni = c->vni,
    };
    event(s, &e);
}

/* TCP: did the initiator send payload? No PSH and no more IP bytes than the
 * headers with options (12 bytes a packet, 20 more for the SYN's). */
static int
tcp_payload(const struct flow_rec *f)
{
    const struct flow_dir *d = &f->dir[0];
    if (d->tcp_flags & 0x08)
        return 1;
    uint64_t hdr = f->family == 4 ? 40 : 60;
    return d->bytes > (uint64_t)d->pkts * (hdr + 12) + 8;
}

static void
scan_flow(void *state, const struct flow_rec *f)
{
    struct scan *s = state;
    if (!s->enabled)
        return;
    const struct flow_dir *d0 = &f->dir[0];
    /* The record that holds the attempt: the flow's first, initiator first. */
    if (!d0->pkts || d0->first_ns != f->start_ns)
        return;
    int echo = is_icmp_echo(f->proto, f->sport);
    if (f->proto != 6 && f->proto != 17 && f->proto != 132 && !echo)
        return;
    struct ev e = {
        .src = &f->src, .dst = &f->dst, .family = f->family, .proto = f->proto,
        .sport = f->sport, .dport = f->dport,
        .ts = d0->last_ns > f->dir[1].last_ns ? d0->last_ns : f->dir[1].last_ns,
        .vni = d0->vni ? d0->vni : f->vni,
    };
    if (f->outcome == CONN_NONE && f->proto == 6 &&
        !(d0->tcp_flags & (VPC_TCP_SYN | VPC_TCP_ACK | VPC_TCP_RST))) {
        e.kind = EV_FAIL;           /* FIN / NULL / Xmas probe: never a real opener */
        s->silent++;
        event(s, &e);
        return;
    }
    if (f->outcome == CONN_NONE) {
        if (f->dir[1].pkts)
            return;                 /* answered without an attempt seen */
        if (f->reason == FLOW_END_FLUSH)
            return;                 /* cut off by the end of the capture: not known to fail */
        if (f->proto == 6 && (d0->tcp_flags & (VPC_TCP_SYN | VPC_TCP_ACK | VPC_TCP_RST |
                                                VPC_TCP_FIN)) != VPC_TCP_SYN)
            return;                 /* not a bare connection attempt */
        e.kind = EV_FAIL;
        s->silent++;
        event(s, &e);
        return;
    }
    if (f->outcome != CONN_SUCCESS || echo)
        return;                     /* counted by on_conn */
    if (f->proto == 6) {
        if (!(d0->tcp_flags & VPC_TCP_SYN))
            return;
        e.kind = tcp_payload(f) ? EV_GOOD : EV_PROBE;
    } else {
        e.kind = d0->pkts != 1 ? EV_GOOD : EV_PROBE;
    }
    event(s, &e);
}

static int
scan_init(void **state, const struct det_env *env, char *err, unsigned errlen)
{
    struct scan *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "scan detector: out of memory");
        return -1;
    }
    s->env = *env;
    s->cfg = env->cfg;
    const struct cfg *c = env->cfg;
    s->enabled = c->detect.scan.enabled;
    double t0 = c->detect.scan.theta0, t1 = c->detect.scan.theta1;
    double a = c->detect.scan.alpha, b = c->detect.scan.beta;
    s->l_succ = log(t1 / t0);
    s->l_fail = log((1 - t1) / (1 - t0));
    s->l_hi = log(b / a);
    s->l_lo = log((1 - b) / (1 - a));
    /* A first contact's step must stay below the scanner threshold; every
     * count threshold of inbound() is at least 2 (cfg.c). */
    s->hold_first = s->l_fail < s->l_hi && s->l_succ < s->l_hi;
    s->window_ns = (uint64_t)c->detect.scan.window * NS;
    s->interval_ns = (uint64_t)c->detect.scan.report_interval * NS;
    if (s->enabled &&
        (scan_tbl_init(&s->src, c->detect.scan.max_sources, sizeof(struct src_ent), src_keep) ||
         scan_tbl_init(&s->pair, c->detect.scan.max_pairs, sizeof(struct pair_ent), pair_keep) ||
         scan_tbl_init(&s->fan, c->detect.scan.max_fans, sizeof(struct fan_ent), fan_keep) ||
         scan_tbl_init(&s->inst, c->detect.scan.max_instances, sizeof(struct inst_ent), NULL))) {
        lru_free(&s->src);
        lru_free(&s->pair);
        lru_free(&s->fan);
        lru_free(&s->inst);
        free(s);
        snprintf(err, errlen, "scan detector: out of memory");
        return -1;
    }
    *state = s;
    return 0;
}

static void
scan_fini(void *state)
{
    struct scan *s = state;
    if (!s)
        return;
    lru_free(&s->src);
    lru_free(&s->pair);
    lru_free(&s->fan);
    lru_free(&s->inst);
    free(s);
}

/* Counters, by name (for tests and figures): "events" (attempts seen),
 * "silent" (unanswered attempts from flow records), "probes", "emitted",
 * "held" (first events held in their source's entry),
 * "<table>" entries in use and "<table>_evicted" / "<table>_spared" for
 * the tables sources, pairs, fans, instances. -1 for an unknown name. */
int64_t det_scan_stat(const void *state, const char *name);

/* For tests: never hold a first event (to compare with holding). */
void det_scan_never_hold(void *state);

void
det_scan_never_hold(void *state)
{
    ((struct scan *)state)->hold_first = 0;
}

int64_t
det_scan_stat(const void *state, const char *name)
{
    const struct scan *s = state;
    static const char *const tn[] = { "sources", "pairs", "fans", "instances" };
    const struct lru *tt[] = { &s->src, &s->pair, &s->fan, &s->inst };
    if (!strcmp(name, "events"))
        return (int64_t)s->events;
    if (!strcmp(name, "silent"))
        return (int64_t)s->silent;
    if (!strcmp(name, "probes"))
        return (int64_t)s->probes;
    if (!strcmp(name, "emitted"))
        return (int64_t)s->emitted;
    if (!strcmp(name, "held"))
        return (int64_t)s->held;
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(tn[i]);
        if (strncmp(name, tn[i], l))
            continue;
        if (!name[l])
            return tt[i]->n;
        if (!strcmp(name + l, "_evicted"))
            return (int64_t)tt[i]->evicted;
        if (!strcmp(name + l, "_spared"))
            return (int64_t)tt[i]->spared;
        if (!strcmp(name + l, "_capacity"))
            return tt[i]->cap;
    }
    return -1;
}

const struct det_ops det_scan_ops = {
    .name = "scan",
    .init = scan_init,
    .on_flow = scan_flow,
    .on_conn = scan_conn,
    .fini = scan_fini,
};
