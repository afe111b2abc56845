/* detect/det_dos.c - outbound denial of service from an instance to a public
 * address (GuardDuty's Backdoor:EC2/DenialOfService.*), all High 8.0,
 * ACTOR/OUTBOUND, local = the instance, remote = the target:
 *
 *   .Tcp            SYN flood: TCP packets of connection attempts whose
 *                   initiator sent SYNs but never an ACK (half-open: the
 *                   handshake never completed from our side, answered or not)
 *                   at >= detect.dos.tcp_syn_pps to one remote. A busy client
 *                   (a backup upload) completes its handshakes and is never
 *                   counted, however fast. A flood repeats its ports: the
 *                   SYNs must average >= min_packets_per_port per distinct
 *                   destination port (hashed, 1024 bits), so a fast port
 *                   scan (first contacts with many ports) is left to
 *                   det_scan.c; a random-port SYN flood still qualifies once
 *                   it has sent ~10 packets per possible bit.
 *   .Udp            UDP to one remote (ports other than 53 and udp_tcp_ports)
 *                   at >= udp_pps, with few replies (remote's packets <=
 *                   max_reply_ratio x ours).
 *   .Dns            DNS queries (UDP/TCP port 53, initiator's packets) to one
 *                   public server at >= dns_pps: reflection/amplification
 *                   (spoofed or not) and random-subdomain "water torture"; no
 *                   reply condition (an attacked resolver answers NXDOMAIN).
 *   .UdpOnTcpPorts  UDP to ports normally TCP (udp_tcp_ports: 21, 22, 23, 25,
 *                   80, 110, 143, 445, 1433, 3306, 3389, 5432, 8080 by default)
 *                   at >= udp_tcp_ports_pps, few replies. 443 is NOT in the
 *                   default list: UDP/443 is QUIC (HTTP/3), ordinary traffic.
 *   .UnusualProtocol an IP protocol other than TCP, UDP, ICMP, ICMPv6 (GRE,
 *                   ESP, raw 253/254, ...) at >= unusual_pps, few replies
 *                   (a two-way GRE or IPsec tunnel is not counted).
 * additionalInfo: "packetsPerSecond", "packets", "bytes", "windowSeconds",
 * "port" (the last destination port; 0 without ports), "protocol".
 *
 * Rates from flow records: per (instance, remote) and kind, the packets of
 * the records whose last packet falls within window_seconds of the window's
 * start, over the span of those records' packets (from the earliest first to
 * the latest last packet of either direction, at least 1 s): a flood with
 * random source ports makes one record per packet (their times give the
 * rate), a flood on one 5-tuple makes one record per active timeout (its
 * first/last give it). A window needs min_packets packets too. Records come
 * when flows end (idle or active timeout), so a finding comes that much
 * after the packets. The remote must be outside home_net and not link-local,
 * multicast or broadcast. A mirror that sees only one direction makes every
 * UDP flow look unanswered: raise udp_pps there.
 *
 * Reporting: one candidate when a kind's window crosses its threshold, then
 * at most one per report_interval for that (instance, remote, kind).
 * State: one LRU table of max_pairs (instance, remote) entries (~510 B). */
#include "det.h"
#include "cfg.h"
#include "lru.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEV_DOS 8.0
#define NS 1000000000ull

enum { K_TCP, K_UDP, K_DNS, K_UDPTCP, K_OTHER, K_N };
static const char *const kind_type[K_N] = {
    "Backdoor:EC2/DenialOfService.Tcp",
    "Backdoor:EC2/DenialOfService.Udp",
    "Backdoor:EC2/DenialOfService.Dns",
    "Backdoor:EC2/DenialOfService.UdpOnTcpPorts",
    "Backdoor:EC2/DenialOfService.UnusualProtocol",
};

struct key {                        /* zeroed where unused: one memcmp */
    struct mg_addr a, b;            /* instance, remote */
    uint8_t family;
    uint8_t _pad[3];
};
/* Bounded state: detect/lru.h; every entry starts with this. */
struct hdr {
    struct lru_hdr l;
    struct key k;
};

/* ------------------------------------------------------------ detector */

struct win {
    uint64_t start, first, last;    /* window start; span of its records' packets */
    uint64_t pkts, bytes, replies;
    uint64_t last_report;
    uint16_t port, sport;
    uint8_t proto;
};

#define PORT_BITS 1024

struct pair_ent {
    struct hdr h;
    uint32_t vni;
    uint32_t tcp_nports;            /* distinct bits set in tcp_ports */
    struct win w[K_N];
    uint64_t tcp_ports[PORT_BITS / 64]; /* hashed dports of the .Tcp window */
};

struct dos {
    struct det_env env;
    const struct cfg *cfg;
    int enabled;
    uint64_t window_ns, interval_ns;
    uint32_t pps[K_N];
    struct lru pairs;
    uint64_t records, emitted;
    struct finding_cand fc;
};

static int
in_ports(const uint16_t *p, unsigned n, uint16_t port)
{
    for (unsigned i = 0; i < n; i++)
        if (p[i] == port)
            return 1;
    return 0;
}

/* Not a DoS target of the public kind: link-local, multicast, broadcast, loopback. */
static int
skip_addr(const struct mg_addr *a, int family)
{
    if (family == 4)
        return (a->b[0] == 169 && a->b[1] == 254) || (a->b[0] & 0xf0) == 0xe0 ||
               (a->b[0] == 255 && a->b[1] == 255 && a->b[2] == 255 && a->b[3] == 255) ||
               a->b[0] == 127 || a->b[0] == 0;
    return (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80) || a->b[0] == 0xff ||
           (a->b[0] == 0xfd && a->b[1] == 0x00 && a->b[2] == 0x0e && a->b[3] == 0xc2);
}

static void
emit(struct dos *s, struct pair_ent *p, int kind, double pps)
{
    struct win *w = &p->w[kind];
    struct finding_cand *fc = &s->fc;
    memset(fc, 0, sizeof(*fc));
    snprintf(fc->type, sizeof(fc->type), "%s", kind_type[kind]);
    fc->severity = SEV_DOS;
    fc->ts_ns = w->last;
    fc->vni = p->vni;
    fc->action = FC_NETWORK_CONNECTION;
    fc->role = FC_ACTOR;
    fc->direction = FC_OUTBOUND;
    fc->family = p->h.k.family;
    fc->proto = w->proto;
    fc->local = p->h.k.a;
    fc->remote = p->h.k.b;
    fc->local_port = w->sport;
    fc->remote_port = w->port;
    fc->count = 1;
    snprintf(fc->info, sizeof(fc->info),
             "\"packetsPerSecond\":%.0f,\"packets\":%llu,\"bytes\":%llu,\"windowSeconds\":%.1f,"
             "\"port\":%u,\"protocol\":%u", pps, (unsigned long long)w->pkts,
             (unsigned long long)w->bytes, (double)(w->last - w->first) / 1e9,
             (unsigned)w->port, (unsigned)w->proto);
    s->emitted++;
    s->env.emit(s->env.arg, fc);
}

static void
add(struct dos *s, struct pair_ent *p, int kind, const struct flow_rec *f, uint64_t pkts,
    uint64_t replies)
{
    const struct cfg *c = s->cfg;
    const struct flow_dir *d0 = &f->dir[0], *d1 = &f->dir[1];
    uint64_t first = d0->first_ns, last = d0->last_ns;
    if (d1->pkts) {
        if (d1->first_ns && d1->first_ns < first)
            first = d1->first_ns;
        if (d1->last_ns > last)
            last = d1->last_ns;
    }
    struct win *w = &p->w[kind];
    if (!w->start || last >= w->start + s->window_ns || last + s->window_ns < w->start) {
        uint64_t lr = w->last_report;
        if (kind == K_TCP) {
            memset(p->tcp_ports, 0, sizeof(p->tcp_ports));
            p->tcp_nports = 0;
        }
        memset(w, 0, sizeof(*w));
        w->last_report = lr;
        w->start = first ? first : 1;
        w->first = first;
        w->last = last;
    }
    if (first < w->first)
        w->first = first;
    if (last > w->last)
        w->last = last;
    w->pkts += pkts;
    w->bytes += d0->bytes;
    w->replies += replies;
    w->port = f->dport;
    w->sport = f->sport;
    w->proto = f->proto;
    if (kind == K_TCP) {
        uint32_t b = (uint32_t)lru_mix64(f->dport) & (PORT_BITS - 1);
        if (!(p->tcp_ports[b >> 6] >> (b & 63) & 1)) {
            p->tcp_ports[b >> 6] |= 1ull << (b & 63);
            p->tcp_nports++;
        }
    }
    if (w->pkts < c->detect.dos.min_packets)
        return;
    if (kind == K_TCP && w->pkts < (uint64_t)c->detect.dos.min_packets_per_port * p->tcp_nports)
        return;                     /* first contacts with many ports: a scan (det_scan.c) */
    uint64_t span = w->last - w->first;
    if (span < NS)
        span = NS;
    double pps = (double)w->pkts * 1e9 / (double)span;
    if (pps < s->pps[kind])
        return;
    if (kind != K_TCP && kind != K_DNS &&
        (double)w->replies > c->detect.dos.max_reply_ratio * (double)w->pkts)
        return;
    if (w->last_report && w->last < w->last_report + s->interval_ns)
        return;
    w->last_report = w->last ? w->last : 1;
    emit(s, p, kind, pps);
}

static void
dos_flow(void *state, const struct flow_rec *f)
{
    struct dos *s = state;
    if (!s->enabled)
        return;
    const struct cfg *c = s->cfg;
    const struct flow_dir *d0 = &f->dir[0], *d1 = &f->dir[1];
    if (!d0->pkts || (f->family != 4 && f->family != 6))
        return;
    if (f->proto == 1 || f->proto == 58)
        return;
    if (skip_addr(&f->dst, f->family) || det_in_home_net(c, &f->dst, f->family) ||
        !det_in_home_net(c, &f->src, f->family))
        return;
    int kind;
    uint64_t pkts = d0->pkts, replies = d1->pkts;
    if (f->proto == 6) {
        if (f->dport == 53) {
            kind = K_DNS;
        } else {
            if (!(d0->tcp_flags & VPC_TCP_SYN) || (d0->tcp_flags & VPC_TCP_ACK))
                return;             /* not a half-open attempt */
            kind = K_TCP;
        }
    } else if (f->proto == 17) {
        if (f->dport == 53)
            kind = K_DNS;
        else if (in_ports(c->detect.dos.udp_tcp_ports, c->detect.dos.n_udp_tcp_ports, f->dport))
            kind = K_UDPTCP;
        else
            kind = K_UDP;
    } else {
        kind = K_OTHER;
    }
    s->records++;
    struct key k;
    memset(&k, 0, sizeof(k));
    k.a = f->src;
    k.b = f->dst;
    k.family = f->family;
    struct pair_ent *p = lru_get(&s->pairs, &k);
    p->vni = d0->vni ? d0->vni : f->vni;
    add(s, p, kind, f, pkts, replies);
}

static int
dos_init(void **state, const struct det_env *env, char *err, unsigned errlen)
{
    struct dos *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "dos detector: out of memory");
        return -1;
    }
    s->env = *env;
    s->cfg = env->cfg;
    const struct cfg *c = env->cfg;
    s->enabled = c->detect.dos.enabled;
    s->window_ns = (uint64_t)c->detect.dos.window_seconds * NS;
    s->interval_ns = (uint64_t)c->detect.dos.report_interval * NS;
    s->pps[K_TCP] = c->detect.dos.tcp_syn_pps;
    s->pps[K_UDP] = c->detect.dos.udp_pps;
    s->pps[K_DNS] = c->detect.dos.dns_pps;
    s->pps[K_UDPTCP] = c->detect.dos.udp_tcp_ports_pps;
    s->pps[K_OTHER] = c->detect.dos.unusual_pps;
    if (s->enabled && lru_init(&s->pairs, c->detect.dos.max_pairs, sizeof(struct pair_ent), offsetof(struct hdr, k), sizeof(struct key))) {
        lru_free(&s->pairs);
        free(s);
        snprintf(err, errlen, "dos detector: out of memory");
        return -1;
    }
    *state = s;
    return 0;
}

static void
dos_fini(void *state)
{
    struct dos *s = state;
    if (!s)
        return;
    lru_free(&s->pairs);
    free(s);
}

/* Counters by name (tests): "records", "emitted", "pairs", "pairs_evicted". */
int64_t det_dos_stat(const void *state, const char *name);

int64_t
det_dos_stat(const void *state, const char *name)
{
    const struct dos *s = state;
    if (!strcmp(name, "records"))
        return (int64_t)s->records;
    if (!strcmp(name, "emitted"))
        return (int64_t)s->emitted;
    if (!strcmp(name, "pairs"))
        return s->pairs.n;
    if (!strcmp(name, "pairs_evicted"))
        return (int64_t)s->pairs.evicted;
    return -1;
}

const struct det_ops det_dos_ops = {
    .name = "dos",
    .init = dos_init,
    .on_flow = dos_flow,
    .fini = dos_fini,
};
