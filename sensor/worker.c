/* sensor/worker.c - capture/decode worker: one thread, its own capture
 * source(s), flow table and DNS tables; records go out by value through its
 * SPSC ring. The per-packet path allocates nothing, takes no lock and logs
 * nothing: it decodes, updates one flow, maybe parses DNS, and counts. */
#include "sensor.h"
#include "app.h"
#include "dispatch.h"
#include "bigmem.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000ull

_Atomic int g_stop;     /* see sensor.h */

int
worker_init(struct worker *w, unsigned id, const struct cfg *c, struct dec_cfg *dec,
            int block, char *err, size_t errlen)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->snap_mu, NULL);
    w->id = id;
    w->cfg = c;
    w->dec = dec;
    w->block = block;
    w->n_share = 1;
    /* flows.max_flows bounds the sensor, not each worker: the workers split
     * it (each holds about 1/workers of the flows). */
    unsigned nw = c->workers ? c->workers : 1;
    struct flow_cfg fc = {
        .max_flows = (c->flows.max_flows + nw - 1) / nw,
        .active_s = c->flows.active_timeout,
        .dedup = c->decoder.dedup_mirror_copies,
        .seed = 0x6d69727267756172ull,  /* fixed: same records every run */
    };
    fc.timeout_s[FC_TCP_SYN] = c->flows.tcp_syn_timeout;
    fc.timeout_s[FC_TCP_EST] = c->flows.tcp_established_timeout;
    fc.timeout_s[FC_TCP_CLOSED] = c->flows.tcp_closed_timeout;
    fc.timeout_s[FC_UDP] = c->flows.udp_timeout;
    fc.timeout_s[FC_ICMP] = c->flows.icmp_timeout;
    fc.timeout_s[FC_OTHER] = c->flows.other_timeout;
    w->flows = flow_new(&fc);
    w->dns = dns_txn_new(c->dns.max_pending, (uint64_t)c->dns.timeout_ms * 1000000ull);
    w->n_dns_tcp = c->dns.tcp ? c->dns.max_tcp_streams : 0;
    if (w->n_dns_tcp) {
        w->dns_tcp = calloc(w->n_dns_tcp, sizeof(*w->dns_tcp));
        w->dns_tcp_keys = calloc(w->n_dns_tcp, sizeof(uint64_t));
        w->dns_tcp_used = calloc(w->n_dns_tcp, sizeof(uint64_t));
    }
    for (unsigned i = 0; i < c->dns.n_ports; i++)
        w->dns_ports[c->dns.ports[i] >> 3] |= (uint8_t)(1u << (c->dns.ports[i] & 7));
    /* Replay waits for room (block), so its ring can be small enough to
     * stay in the cache; live, a ring absorbs bursts (a tick expiring many
     * flows at once) that it would otherwise drop. */
    w->out = ring_new((size_t)(block ? c->replay_ring_size : c->ring_size) * 256);
    if (!w->flows || !w->dns || !w->out ||
        (w->n_dns_tcp && (!w->dns_tcp || !w->dns_tcp_keys || !w->dns_tcp_used))) {
        snprintf(err, errlen, "worker %u: out of memory (flows.max_flows=%u)", id,
                 c->flows.max_flows);
        worker_fini(w);
        return -1;
    }
    return 0;
}

void
worker_fini(struct worker *w)
{
    flow_free(w->flows);
    dns_txn_free(w->dns);
    pthread_mutex_destroy(&w->snap_mu);
    free(w->dns_tcp);
    free(w->dns_tcp_keys);
    free(w->dns_tcp_used);
    big_free(w->tb_flows, w->tb_capflows * sizeof(*w->tb_flows));
    big_free(w->tb_dnsbuf, w->tb_dnscap);
    big_free(w->tb_dnsoff, w->tb_capdns * sizeof(*w->tb_dnsoff));
    big_free(w->tb_keys, w->tb_capkeys * sizeof(*w->tb_keys));
    w->tb_keys = NULL;
    w->tb_flows = NULL;
    w->tb_dnsbuf = NULL;
    w->tb_dnsoff = NULL;
    w->tb_capkeys = w->tb_capflows = w->tb_dnscap = w->tb_capdns = 0;
    ring_free(w->out);
    for (unsigned i = 0; i < w->n_srcs; i++)
        if (w->srcs[i])
            w->srcs[i]->ops->close(w->srcs[i]);
    free(w->srcs);
    w->flows = NULL;
    w->dns = NULL;
    w->out = NULL;
    w->srcs = NULL;
    w->n_srcs = 0;
}

/* ==== Records out ==== */

static int parts_push_all(struct worker *w);

/* Room for one record: in replay wait for the consumer (so the output does
 * not depend on speed), live drop and count. Replay in parts: what this
 * worker owes the others goes out meanwhile (they may be what the
 * consumer waits for). */
static void *
rec_reserve(struct worker *w, uint32_t kind, uint32_t len)
{
    for (;;) {
        void *p = ring_reserve(w->out, len, kind);
        if (p || !w->block)
            return p;
        w->st.ring_waits++;
        if (w->baton)
            (void)parts_push_all(w);
        /* Sleep rather than spin: on a small machine the consumers need
         * this core to make room. */
        struct timespec ts = { 0, 20000 };
        nanosleep(&ts, NULL);
    }
}

/* Timer records wait in a batch (see worker_tick): grow it by doubling. */
static void *
batch_slot(void **buf, size_t *n, size_t *cap, size_t size)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        void *nb = big_realloc(*buf, *cap * size, nc * size);
        if (!nb)
            return NULL;
        *buf = nb;
        *cap = nc;
    }
    return (char *)*buf + (*n)++ * size;
}

static void
emit_flow(void *arg, const struct flow_rec *r)
{
    struct worker *w = arg;
    if (w->batching) {
        struct flow_rec *b = batch_slot((void **)&w->tb_flows, &w->tb_nflows, &w->tb_capflows,
                                        sizeof(*b));
        if (b) {
            *b = *r;
            return;
        }                               /* no memory: send it unsorted */
    }
    struct mg_rec *m = rec_reserve(w, REC_FLOW, offsetof(struct mg_rec, u) + sizeof(r[0]));
    if (!m) {
        w->st.ring_drops++;
        return;
    }
    m->kind = REC_FLOW;
    m->worker = w->id;
    m->ts_ns = w->now_ns;
    m->order = w->order;
    m->u.flow = *r;
    m->u.flow.seq = w->rec_seq++;
    ring_commit(w->out);
}

static void
emit_dns(void *arg, const struct dns_rec *r)
{
    struct worker *w = arg;
    if (w->batching) {
        /* Packed: only the answers kept, as in the ring (a query that is
         * never answered, the usual timer record, is a quarter of the struct). */
        unsigned na = r->n_answers < DNS_MAX_ANSWERS ? r->n_answers : DNS_MAX_ANSWERS;
        size_t body = offsetof(struct dns_rec, answers) + na * sizeof(r->answers[0]);
        size_t need = (body + 7) & ~(size_t)7;
        if (w->tb_dnslen + need > w->tb_dnscap) {
            size_t nc = w->tb_dnscap ? w->tb_dnscap * 2 : 65536;
            while (nc < w->tb_dnslen + need)
                nc *= 2;
            uint8_t *nb = big_realloc(w->tb_dnsbuf, w->tb_dnscap, nc);
            if (nb) {
                w->tb_dnsbuf = nb;
                w->tb_dnscap = nc;
            }
        }
        size_t *off = w->tb_dnscap >= w->tb_dnslen + need
            ? batch_slot((void **)&w->tb_dnsoff, &w->tb_ndns, &w->tb_capdns, sizeof(*off)) : NULL;
        if (off) {
            *off = w->tb_dnslen;
            memcpy(w->tb_dnsbuf + w->tb_dnslen, r, body);
            w->tb_dnslen += need;
            return;
        }                               /* no memory: send it unsorted */
    }
    /* Only the answers kept travel: a typical record is a quarter of the
     * struct, so the ring holds four times as many. */
    unsigned na = r->n_answers < DNS_MAX_ANSWERS ? r->n_answers : DNS_MAX_ANSWERS;
    size_t body = offsetof(struct dns_rec, answers) + na * sizeof(r->answers[0]);
    struct mg_rec *m = rec_reserve(w, REC_DNS, (uint32_t)(offsetof(struct mg_rec, u) + body));
    if (!m) {
        w->st.ring_drops++;
        return;
    }
    m->kind = REC_DNS;
    m->worker = w->id;
    m->ts_ns = w->now_ns;
    m->order = w->order;
    memcpy(&m->u.dns, r, body);
    m->u.dns.seq = w->rec_seq++;
    ring_commit(w->out);
}

static void
emit_conn(struct worker *w, const struct conn_event *ev)
{
    struct mg_rec *m = rec_reserve(w, REC_CONN, offsetof(struct mg_rec, u) + sizeof(*ev));
    if (!m) {
        w->st.ring_drops++;
        return;
    }
    m->kind = REC_CONN;
    m->worker = w->id;
    m->ts_ns = w->now_ns;
    m->order = w->order;
    m->u.conn = *ev;
    ring_commit(w->out);
}

/* The flow's attempt was just decided by packet p (from the responder). */
static void
conn_decided(struct worker *w, const struct dec_pkt *p, const struct flow_hit *h, uint64_t ts)
{
    struct conn_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.src = p->dst;                /* the packet goes responder -> initiator */
    ev.dst = p->src;
    ev.sport = p->dport;
    ev.dport = p->sport;
    ev.proto = p->proto;
    ev.family = p->family;
    ev.outcome = h->outcome;
    ev.app = h->app;
    ev.vni = p->vni;
    ev.start_ns = h->start_ns;
    ev.ts_ns = ts;
    emit_conn(w, &ev);
}

/* The worker of a dispatch value (decoders/dispatch.h) among n: the value
 * modulo n, as the fanout BPF program computes it; a mask when n is a power
 * of two (a division is ~20 cycles, and there is one for every packet). */
static inline unsigned
dv_worker(uint32_t dv, unsigned n)
{
    return (n & (n - 1)) == 0 ? dv & (n - 1) : dv % n;
}

/* An ICMP or ICMPv6 destination unreachable: it quotes the flow it fails. */
static inline int
is_unreachable(const struct dec_pkt *p)
{
    return (p->proto == 1 && p->icmp_type == 3) || (p->proto == 58 && p->icmp_type == 1);
}

/* ICMP destination unreachable (RFC 792) / ICMPv6 (RFC 4443 3.1) quotes
 * the refused packet: its flow's attempt failed. Decoded without tunnels. */
static int
decode_quote(const struct dec_pkt *p, struct dec_pkt *q)
{
    static const struct dec_cfg plain = { .max_depth = 1 };    /* no tunnel ports */
    memset(q, 0, sizeof(*q));
    return p->payload_len && dec_ip(&plain, p->payload, p->payload_len, q) == DEC_OK &&
           q->family == p->family;
}

static void
icmp_unreachable(struct worker *w, const struct dec_pkt *p, uint64_t ts)
{
    struct dec_pkt q;
    struct conn_event ev;
    if (!decode_quote(p, &q))
        return;
    q.vlan = p->vlan;
    /* every replay worker sees the error (n_share), or, in parts, the
     * worker of the quoted flow has a copy (FWD_QUOTE) */
    unsigned share = w->baton ? w->n_fwd : w->n_share;
    if (share > 1 && dv_worker(dispatch_of_pkt(&q), share) != w->id)
        return;                         /* the quoted flow is another worker's */
    w->order = (w->order & ~7ull) | REC_STAGE_REJECT;
    if (flow_reject(w->flows, &q, &ev)) {
        ev.ts_ns = ts;
        emit_conn(w, &ev);
        w->st.icmp_matched++;
    } else {
        w->st.icmp_unmatched++;         /* no such flow here (or it was answered) */
    }
}

static void
emit_mark(struct worker *w, uint32_t kind)
{
    struct mg_rec *m = rec_reserve(w, kind, offsetof(struct mg_rec, u));
    if (!m) {
        if (kind == REC_END) {      /* END must arrive: wait even live */
            while (!(m = ring_reserve(w->out, offsetof(struct mg_rec, u), kind)))
                sched_yield();
        } else {
            w->st.ring_drops++;
            return;
        }
    }
    m->kind = kind;
    m->worker = w->id;
    m->ts_ns = w->now_ns;
    m->order = w->order;
    ring_commit(w->out);
}

/* ==== Order of timer records ==== */

#define CMP(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)

static int
dns_rec_cmp(const struct dns_rec *a, const struct dns_rec *b)
{
    CMP(a->query_ns, b->query_ns);
    CMP(a->response_ns, b->response_ns);
    int c = memcmp(&a->client, &b->client, sizeof(a->client));
    if (c)
        return c;
    if ((c = memcmp(&a->server, &b->server, sizeof(a->server))) != 0)
        return c;
    CMP(a->cport, b->cport);
    CMP(a->sport, b->sport);
    CMP(a->id, b->id);
    CMP(a->transport, b->transport);
    CMP(a->vni, b->vni);
    return strcmp(a->qname, b->qname);
}

int
rec_order_cmp(const struct mg_rec *a, const struct mg_rec *b)
{
    if (a->kind == REC_FLOW && b->kind == REC_FLOW)
        return flow_rec_cmp(&a->u.flow, &b->u.flow);
    if (a->kind == REC_DNS && b->kind == REC_DNS)
        return dns_rec_cmp(&a->u.dns, &b->u.dns);
    return 0;
}

/* The batch is sorted as keys (keysort.h): the record's first sort field
 * and the record. A DNS record is 1.4 KB, and sorting the million flows of
 * a flood's flush through pointers missed the cache at every comparison. */
static int
tie_flow(uintptr_t x, uintptr_t y, void *arg)
{
    (void)arg;
    return flow_rec_cmp((const struct flow_rec *)x, (const struct flow_rec *)y);
}

static int
tie_dns(uintptr_t x, uintptr_t y, void *arg)
{
    (void)arg;
    return dns_rec_cmp((const struct dns_rec *)x, (const struct dns_rec *)y);
}

/* Room for n keys in w->tb_keys and n more for keysort's scratch; 0, or -1
 * without memory. */
static int
batch_keys(struct worker *w, size_t n)
{
    n *= 2;
    if (n <= w->tb_capkeys)
        return 0;
    struct sort_key *np = big_realloc(w->tb_keys, w->tb_capkeys * sizeof(*np), n * sizeof(*np));
    if (!np)
        return -1;
    w->tb_keys = np;
    w->tb_capkeys = n;
    return 0;
}

/* Timers (flow and query expiry) emit in table order, which depends on what
 * else the table holds: in replay, sort what one tick emitted by content, so
 * one worker or several give the same stream (see enum rec_stage). Live, the
 * stream depends on timing anyway and nothing merges the workers by order,
 * so nothing is batched (flows expire paced there: worker_expire()); in a
 * live SYN flood, batching and sorting cost the worker ~30% of its CPU. */
static void
timers_begin(struct worker *w)
{
    w->batching = !w->live;
    w->tb_nflows = w->tb_ndns = w->tb_dnslen = 0;
}

static void
timers_end(struct worker *w)
{
    w->batching = 0;
    uint64_t pkt = w->order >> 3;
    size_t nmax = w->tb_nflows > w->tb_ndns ? w->tb_nflows : w->tb_ndns;
    int sorted = batch_keys(w, nmax) == 0;  /* no memory: unsorted, still sent */
    w->order = REC_ORDER(pkt, REC_STAGE_TIMER_FLOW);
    if (sorted && w->tb_nflows > 1) {
        for (size_t i = 0; i < w->tb_nflows; i++)
            w->tb_keys[i] = (struct sort_key){ w->tb_flows[i].start_ns,
                                               (uintptr_t)&w->tb_flows[i] };
        keysort(w->tb_keys, w->tb_keys + w->tb_nflows, w->tb_nflows, tie_flow, NULL);
        for (size_t i = 0; i < w->tb_nflows; i++)
            emit_flow(w, (const struct flow_rec *)w->tb_keys[i].v);
    } else {
        for (size_t i = 0; i < w->tb_nflows; i++)
            emit_flow(w, &w->tb_flows[i]);
    }
    w->order = REC_ORDER(pkt, REC_STAGE_TIMER_DNS);
    if (sorted) {
        for (size_t i = 0; i < w->tb_ndns; i++) {
            const struct dns_rec *r = (const struct dns_rec *)(w->tb_dnsbuf + w->tb_dnsoff[i]);
            w->tb_keys[i] = (struct sort_key){ r->query_ns, (uintptr_t)r };
        }
        keysort(w->tb_keys, w->tb_keys + w->tb_ndns, w->tb_ndns, tie_dns, NULL);
        for (size_t i = 0; i < w->tb_ndns; i++)
            emit_dns(w, (const struct dns_rec *)w->tb_keys[i].v);
    } else {
        for (size_t i = 0; i < w->tb_ndns; i++)
            emit_dns(w, (const struct dns_rec *)(w->tb_dnsbuf + w->tb_dnsoff[i]));
    }
    w->tb_nflows = w->tb_ndns = w->tb_dnslen = 0;
}

/* ==== DNS ==== */

struct dns_cb_ctx {
    struct worker *w;
    struct dns_pkt_ctx pc;
};

static void
dns_on_payload(struct worker *w, const uint8_t *p, size_t len, const struct dns_pkt_ctx *pc)
{
    struct dns_msg m;
    enum dns_status ds = dns_parse(p, len, &m);
    if (ds != DNS_OK) {
        w->st.dns_bad[ds < DNS_STATUS_MAX ? ds : 0]++;
        return;
    }
    w->st.dns_msgs++;
    dns_txn_on_msg(w->dns, &m, pc, emit_dns, w);
}

static void
dns_tcp_msg(void *arg, const uint8_t *msg, size_t len)
{
    struct dns_cb_ctx *cx = arg;
    cx->w->st.dns_tcp_msgs++;
    dns_on_payload(cx->w, msg, len, &cx->pc);
}

static inline int
is_dns_port(const struct worker *w, uint16_t port)
{
    return w->dns_ports[port >> 3] >> (port & 7) & 1;
}

/* The reassembly slot for one direction of a TCP DNS connection: a small
 * 4-way set-associative cache; a new stream takes a free way or the least
 * recently used one. */
static struct dns_tcp_stream *
dns_tcp_slot(struct worker *w, const struct dec_pkt *p, int syn)
{
    uint64_t k = flow_hash(p, 0x646e73) * 2 + (p->sport < p->dport);
    k ^= (uint64_t)p->sport << 32 ^ p->dport;   /* direction-sensitive */
    if (k == 0)
        k = 1;
    uint32_t n = w->n_dns_tcp;
    uint32_t base = (uint32_t)(k % n) & ~3u;
    uint32_t victim = base, ways = n < 4 ? n : 4;
    for (uint32_t j = 0; j < ways; j++) {
        uint32_t i = (base + j) % n;
        if (w->dns_tcp_keys[i] == k) {
            w->dns_tcp_used[i] = w->now_ns;
            if (syn)
                dns_tcp_init(&w->dns_tcp[i]);
            return &w->dns_tcp[i];
        }
        if (w->dns_tcp_keys[i] == 0 || w->dns_tcp_used[i] < w->dns_tcp_used[victim])
            victim = i;
    }
    w->dns_tcp_keys[victim] = k;
    w->dns_tcp_used[victim] = w->now_ns;
    dns_tcp_init(&w->dns_tcp[victim]);
    return &w->dns_tcp[victim];
}

static void
worker_dns(struct worker *w, const struct dec_pkt *p, uint64_t ts)
{
    if (!is_dns_port(w, p->sport) && !is_dns_port(w, p->dport))
        return;
    struct dns_cb_ctx cx;
    cx.w = w;
    cx.pc.src = p->src;
    cx.pc.dst = p->dst;
    cx.pc.sport = p->sport;
    cx.pc.dport = p->dport;
    cx.pc.family = p->family;
    cx.pc.transport = p->proto;
    cx.pc.vni = p->vni;
    cx.pc.ts_ns = ts;
    if (p->proto == 17) {
        if (p->payload_len)
            dns_on_payload(w, p->payload, p->payload_len, &cx.pc);
    } else if (p->proto == 6 && w->n_dns_tcp) {
        int syn = (p->tcp_flags & 0x02) != 0;
        if (!p->payload_len && !syn)
            return;
        struct dns_tcp_stream *s = dns_tcp_slot(w, p, syn);
        dns_tcp_feed(s, p->tcp_seq, syn, p->payload, p->payload_len, dns_tcp_msg, &cx);
    }
}

/* ==== The packet path ==== */

static void worker_tick(struct worker *w);

static inline void
prefetch_pkt(const struct cap_pkt *b)
{
    __builtin_prefetch(b->data);
    __builtin_prefetch(b->data + (b->caplen > 64 ? 64 : 0));
}

/* The first two lines of each packet of a burst (both layers' headers of a
 * mirror packet) are asked for PKT_AHEAD packets before the glance or the
 * decoder reads them: a DPDK mbuf is cold, and a packet another worker
 * handed over is in that worker's cache (README, Speed). Called as packet i
 * is about to be read; i == 0 also asks for the first PKT_AHEAD. */
enum { PKT_AHEAD = 8 };

static inline void
prefetch_ahead(const struct cap_pkt *b, unsigned n, unsigned i)
{
    if (i == 0)
        for (unsigned j = 0; j < n && j < PKT_AHEAD; j++)
            prefetch_pkt(&b[j]);
    if (i + PKT_AHEAD < n)
        prefetch_pkt(&b[i + PKT_AHEAD]);
}

/* A packet of ours: the worker's counters. */
static inline void
count_pkt(struct worker *w, const struct cap_pkt *b, enum dec_status st, const struct dec_pkt *p)
{
    w->st.pkts++;
    w->st.wire_bytes += b->wirelen;
    w->st.cap_bytes += b->caplen;
    w->st.status[st]++;
    if (p->tunnels) {
        w->st.tunnelled++;
        if (p->tun_kinds & DEC_TUN_VXLAN)
            w->st.vxlan++;
        if (p->tun_kinds & DEC_TUN_GENEVE)
            w->st.geneve++;
    }
    if (dec_has_flow(st))
        w->st.partial += p->partial;
}

/* Passes two and three of a burst (see worker_burst): every packet decoded,
 * p[i] with hash h[i] when ok[i], ours when own[i]. app[i], when given, is
 * app_classify() of the packet's payload as its sender worked it out
 * (headers handed over without the payload, fwd_dec); else it is worked out
 * here from p[i].payload. ix[i], when given, is the packet's index in the
 * stream (replay in parts); else the packets follow the last one read. */
static inline __attribute__((always_inline)) void
burst_account(struct worker *w, const struct cap_pkt *b, unsigned n, const struct dec_pkt *p,
              const uint64_t *h, const uint8_t *ok, const uint8_t *own, const uint8_t *app,
              const uint64_t *ix)
{
    uint64_t base = w->pkt_idx;
    /* The entry prefetch runs a few packets ahead of its use: far enough for
     * the load to land, near enough that the bucket it reads is cached; the
     * chain's second entry half as far ahead, once the first has landed. */
    enum { AHEAD = 6, NEXT_AHEAD = 3 };
    for (unsigned i = 0; i < n && i < AHEAD; i++)
        if (ok[i] && own[i])
            flow_prefetch_entry(w->flows, h[i]);
    for (unsigned i = 0; i < n; i++) {
        struct flow_hit hit;
        if (i + AHEAD < n && ok[i + AHEAD] && own[i + AHEAD])
            flow_prefetch_entry(w->flows, h[i + AHEAD]);
        if (i + NEXT_AHEAD < n && ok[i + NEXT_AHEAD] && own[i + NEXT_AHEAD])
            flow_prefetch_next(w->flows, h[i + NEXT_AHEAD]);
        /* The clock moves with every packet, owned or not, and the timers
         * run before the first packet of each new second: every worker, and
         * any reader's burst sizes, give the same ticks at the same packets. */
        if (b[i].ts_ns > w->now_ns) {
            w->now_ns = b[i].ts_ns;
            if (w->now_ns >= w->next_tick_ns) {
                w->order = REC_ORDER(ix ? ix[i] : base + i, REC_STAGE_TIMER_FLOW);
                worker_tick(w);
            }
        }
        if (!ok[i])
            continue;
        w->order = REC_ORDER(ix ? ix[i] : base + i, REC_STAGE_FLOW);
        if (own[i]) {
            if (flow_packet_h(w->flows, &p[i], h[i], b[i].ts_ns, &hit, emit_flow, w) != 0)
                continue;               /* mirror duplicate */
            /* Protocols show themselves in the first payload of either side:
             * look only at a flow's first packets, not at every one. */
            if (p[i].payload_len && hit.app == APP_NONE && p[i].proto == 6 && hit.pkts <= 8) {
                uint8_t a = app ? app[i] : app_classify(p[i].payload, p[i].payload_len);
                if (a) {
                    flow_set_app(w->flows, hit.idx, a);
                    hit.app = a;
                }
            }
            if (hit.outcome)
                conn_decided(w, &p[i], &hit, b[i].ts_ns);
        }
        /* Every worker looks at an ICMP error: the quoted flow may be its own. */
        if (is_unreachable(&p[i]))
            icmp_unreachable(w, &p[i], b[i].ts_ns);
        if (own[i] && w->cfg->dns.enabled && (p[i].payload_len || (p[i].tcp_flags & 0x02))) {
            w->order = REC_ORDER(ix ? ix[i] : base + i, REC_STAGE_DNS);
            worker_dns(w, &p[i], b[i].ts_ns);
        }
    }
    w->pkt_idx = ix ? (n ? ix[n - 1] + 1 : base) : base + n;
    /* A tick without a packet (live, idle) comes before the next one. */
    w->order = REC_ORDER(w->pkt_idx, REC_STAGE_TIMER_FLOW);
}

/* One burst in three passes, as DPDK applications do: decode everything and
 * prefetch each flow's bucket; prefetch each chain's first entry; then
 * account. The flow table is far bigger than the caches, so a burst waits
 * for memory roughly once instead of twice per packet. */
static void
worker_burst(struct worker *w, const struct cap_pkt *b, unsigned n, const uint64_t *ix)
{
    struct dec_pkt p[CAP_BURST];
    uint64_t h[CAP_BURST];
    uint8_t ok[CAP_BURST], own[CAP_BURST];
    uint64_t seed = flow_seed(w->flows);
    unsigned share = w->n_share;

    for (unsigned i = 0; i < n; i++) {
        prefetch_ahead(b, n, i);
        uint64_t ts = b[i].ts_ns;
        if (!w->st.first_ns || ts < w->st.first_ns)
            w->st.first_ns = ts;
        own[i] = 1;
        int sure = 0;                   /* the glance already said it is ours */
        if (share > 1) {
            /* Another worker's packet is skipped after a glance at its
             * headers; ICMP (an error's quote may be ours) and anything
             * unusual are decoded in full first. */
            uint32_t dv;
            sure = dispatch_peek(w->dec, b[i].linktype, b[i].data, b[i].caplen, &dv) ==
                   DISPATCH_SURE;
            if (sure && dv_worker(dv, share) != w->id) {
                ok[i] = own[i] = 0;
                continue;
            }
        }
        enum dec_status st = dec_packet(w->dec, b[i].linktype, b[i].data, b[i].caplen, &p[i]);
        ok[i] = (uint8_t)dec_has_flow(st);
        if (ok[i]) {
            h[i] = flow_hash(&p[i], seed);
            if (share > 1 && !sure && dv_worker(dispatch_of_pkt(&p[i]), share) != w->id)
                own[i] = 0;
        } else if (share > 1 && w->id != 0) {
            own[i] = 0;                 /* no flow: counted by worker 0 */
        }
        if (!own[i])
            continue;
        count_pkt(w, &b[i], st, &p[i]);
        if (ok[i])
            flow_prefetch(w->flows, h[i]);
    }
    burst_account(w, b, n, p, h, ok, own, NULL, ix);
}

/* Add what a source has counted so far to 'to'. Where every replay worker
 * reads the whole file (n_share) only worker 0 counts it; in parts each
 * counts the parts it read. */
static void
add_src_stats(const struct worker *w, struct cap_source *src, struct cap_stats *to)
{
    if (w->n_share > 1 && w->id != 0)
        return;
    struct cap_stats cs;
    src->ops->stats(src, &cs);
    to->pkts += cs.pkts;
    to->bytes += cs.bytes;
    to->drops += cs.drops;
    to->bad_records += cs.bad_records;
    to->skipped_blocks += cs.skipped_blocks;
}

/* A copy of this worker's figures for the stats (struct worker_snap): the
 * capture counters include the source being read. */
static void
worker_publish(struct worker *w)
{
    struct worker_snap s;
    s.st = w->st;
    s.cap = w->cap_st;
    if (w->cur_src)
        add_src_stats(w, w->cur_src, &s.cap);
    flow_stats(w->flows, &s.flows);
    dns_txn_stats(w->dns, &s.dns);
    pthread_mutex_lock(&w->snap_mu);
    w->snap = s;
    pthread_mutex_unlock(&w->snap_mu);
}

/* Once per second of packet time: expire flows and DNS queries, and tell
 * the detectors the time (so their windows age even when quiet). */
static void
worker_tick(struct worker *w)
{
    if (w->now_ns < w->next_tick_ns)
        return;                         /* still the second of the last tick */
    w->next_tick_ns = (w->now_ns / NS_PER_S + 1) * NS_PER_S;
    timers_begin(w);
    if (!w->live)
        flow_advance(w->flows, w->now_ns, emit_flow, w);
    dns_txn_expire(w->dns, w->now_ns, emit_dns, w);
    timers_end(w);
    w->order = (w->order & ~7ull) | REC_STAGE_TICK;
    emit_mark(w, REC_TICK);
    worker_publish(w);
}

/* Live, flows expire paced, as the ring makes room: a second of a flood
 * expires as many flows as it brought, at once at the tick they would be
 * more records than the ring holds, though the detection thread keeps up
 * with the rate (a live SYN flood on veth, flows.tcp_syn_timeout=1: 57% of
 * the flow records dropped at the ring). Expiry fills the ring to half at
 * most; the other half stays for what packets make. */
static void
worker_expire(struct worker *w)
{
    enum { REC_BYTES = offsetof(struct mg_rec, u) + sizeof(struct flow_rec) + 2 * RING_ALIGN };
    if (!flow_due(w->flows, w->now_ns))
        return;                         /* most bursts: the detection thread's line stays put */
    uint64_t room = ring_room(w->out), keep = w->out->size / 2;
    uint64_t n = room > keep ? (room - keep) / REC_BYTES : 0;
    if (n)
        flow_advance_some(w->flows, w->now_ns, emit_flow, w, n > 65536 ? 65536u : (unsigned)n);
}

static void
worker_finish(struct worker *w)
{
    /* Capture has stopped: nothing is left to keep up with, so the records
     * flushed now wait for room instead of being dropped (live, every open
     * flow comes out at once). */
    w->block = 1;
    w->order = REC_ORDER(w->pkt_idx, REC_STAGE_TIMER_FLOW);
    /* Replay: the flows come out in order straight from the table, before
     * the batch opens (for a full table 32 MB of keys instead of 150-300 MB
     * of records; README, Speed): the stream the batch would give. Live, or
     * without memory for the keys, they go the timers' way. */
    int flushed = !w->live && flow_flush_sorted(w->flows, emit_flow, w) == 0;
    timers_begin(w);
    if (!flushed)
        flow_flush(w->flows, emit_flow, w);
    dns_txn_flush(w->dns, emit_dns, w);
    timers_end(w);
    w->st.last_ns = w->now_ns;
    w->order = REC_ORDER(w->pkt_idx, REC_STAGE_END);
    emit_mark(w, REC_END);
    ring_flush(w->out);
}

/* ==== Hand-over between workers (n_fwd > 1: live DPDK; replay in parts, below) ==== */

/* The kinds of record in a hand-over ring: packets (FWD_PKT, FWD_DEC) and,
 * replay in parts only, what a part's reader tells every worker
 * (struct fwd_ctl): where the part begins and ends in the stream, the
 * ticks, and the clock where a packet is older than the newest before it. */
enum { FWD_PKT = 1, FWD_DEC = 2, FWD_BEGIN = 3, FWD_END = 4, FWD_TICK = 5, FWD_CLOCK = 6,
       FWD_QUOTE = 7 /* a struct fwd_pkt: an ICMP error for the flow it quotes only */ };

struct fwd_ctl {
    uint64_t idx;               /* BEGIN, TICK: the packet's index; END: the next part's first */
    uint64_t clock;             /* TICK, CLOCK: the worker clock from there */
};

/* FWD_PKT: a packet handed to its flow's worker: as the source's own buffer
 * when the source lets it go (cap_ops.take: DPDK's mbuf, no copy), else
 * copied. */
struct fwd_pkt {
    uint64_t ts_ns;
    uint32_t caplen, wirelen;
    uint16_t linktype;
    uint16_t _pad;
    uint32_t idx_off;           /* replay in parts: index in the stream less the part's first */
    const uint8_t *ref;         /* taken: the bytes in the source's buffer; NULL: in data[] */
    void *handle;               /* taken: what the sender's put_taken() gives back */
    uint8_t data[];
};

/* FWD_DEC (capture.dpdk.handover_headers): a packet handed over as what its
 * flow's worker needs of it, the sender having decoded it: the fields
 * flow_packet_h() and the counters read, and app_classify() of its payload.
 * One cache line for IPv4 with the ring's header, where a packet handed over
 * whole moves about five (README, Threads and rings), and the mbuf is freed
 * by the worker that received it. Only for packets whose payload nothing
 * else reads (fwd_headers_do): not ICMP (an error quotes a flow), not DNS. */
struct fwd_dec {
    uint64_t ts_ns;
    uint32_t caplen, wirelen;
    uint32_t vni, ip_len, payload_len;
    uint32_t idx_off;           /* replay in parts: as in fwd_pkt */
    uint16_t sport, dport, vlan;
    uint8_t status, family, proto, tcp_flags, partial, tunnels, tun_kinds, app;
    uint8_t addr[];             /* source then destination: 4 or 16 bytes each */
};

static inline uint32_t
fwd_dec_len(uint8_t family)
{
    return (uint32_t)(offsetof(struct fwd_dec, addr) + (family == 6 ? 32u : 8u));
}

_Static_assert(offsetof(struct fwd_dec, addr) + 8 + sizeof(struct ring_hdr) <= 64,
               "an IPv4 packet's headers fit one cache line of the hand-over ring");

static void
fwd_dec_fill(struct fwd_dec *d, const struct cap_pkt *b, enum dec_status st,
             const struct dec_pkt *p)
{
    unsigned al = p->family == 6 ? 16 : 4;
    d->ts_ns = b->ts_ns;
    d->caplen = b->caplen;
    d->wirelen = b->wirelen;
    d->vni = p->vni;
    d->ip_len = p->ip_len;
    d->payload_len = p->payload_len;
    d->sport = p->sport;
    d->dport = p->dport;
    d->vlan = p->vlan;
    d->status = (uint8_t)st;
    d->family = p->family;
    d->proto = p->proto;
    d->tcp_flags = p->tcp_flags;
    d->partial = p->partial;
    d->tunnels = p->tunnels;
    d->tun_kinds = p->tun_kinds;
    d->app = p->proto == 6 && p->payload_len ? app_classify(p->payload, p->payload_len) : APP_NONE;
    d->idx_off = 0;
    memcpy(d->addr, p->src.b, al);
    memcpy(d->addr + al, p->dst.b, al);
}

/* The dec_pkt a FWD_DEC record stands for (no payload), and its packet. */
static void
fwd_dec_read(const struct fwd_dec *d, struct dec_pkt *p, struct cap_pkt *b)
{
    unsigned al = d->family == 6 ? 16 : 4;
    memset(p, 0, sizeof(*p));
    p->vni = d->vni;
    p->tunnels = d->tunnels;
    p->tun_kinds = d->tun_kinds;
    p->vlan = d->vlan;
    p->family = d->family;
    p->proto = d->proto;
    p->partial = d->partial;
    memcpy(p->src.b, d->addr, al);
    memcpy(p->dst.b, d->addr + al, al);
    p->ip_len = d->ip_len;
    p->sport = d->sport;
    p->dport = d->dport;
    p->tcp_flags = d->tcp_flags;
    p->payload_len = d->payload_len;
    memset(b, 0, sizeof(*b));
    b->ts_ns = d->ts_ns;
    b->caplen = d->caplen;
    b->wirelen = d->wirelen;
}

/* Whether a decoded packet's payload is read by nothing but
 * app_classify(), so that its headers (FWD_DEC) are enough for its flow's
 * worker: not ICMP, not DNS. */
static int
fwd_headers_enough(const struct worker *w, const struct dec_pkt *p)
{
    if (p->proto == 1 || p->proto == 58)
        return 0;
    return !(w->cfg->dns.enabled && (is_dns_port(w, p->sport) || is_dns_port(w, p->dport)));
}

/* Live: whether a packet goes over as its headers (FWD_DEC): so configured
 * (capture.dpdk.handover_headers), and they are enough. */
static int
fwd_headers_do(const struct worker *w, const struct dec_pkt *p)
{
    return w->cfg->capture.dpdk.handover_headers && fwd_headers_enough(w, p);
}

/* Whose flow a decoded packet is: its dispatch value (decoders/dispatch.h)
 * modulo the workers; an ICMP unreachable goes with the flow it quotes, as
 * the fanout BPF program sends it. Packets without a flow stay here. */
static unsigned
fwd_owner(struct worker *w, enum dec_status st, const struct dec_pkt *p)
{
    if (!dec_has_flow(st))
        return w->id;
    struct dec_pkt q;
    if (is_unreachable(p) && decode_quote(p, &q))
        return dv_worker(dispatch_of_pkt(&q), w->n_fwd);
    return dv_worker(dispatch_of_pkt(p), w->n_fwd);
}

/* Decode a burst and keep this worker's packets in 'mine', decoded in pm[]
 * and stm[] (returns how many); hand the others to their workers: as their
 * headers (FWD_DEC) where that is enough, else as the source's buffers
 * while the sender has fewer than fwd_take_max out, else copied (FWD_PKT).
 * Every packet is decoded here once: the packets kept need it, and the
 * headers handed over are what it gives. */
static unsigned
fwd_split(struct worker *w, struct cap_source *src, const struct cap_pkt *b, unsigned n,
          struct cap_pkt *mine, struct dec_pkt *pm, enum dec_status *stm)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        prefetch_ahead(b, n, i);
        struct dec_pkt *p = &pm[k];     /* kept there if it is ours */
        enum dec_status st = dec_packet(w->dec, b[i].linktype, b[i].data, b[i].caplen, p);
        unsigned o = fwd_owner(w, st, p);
        if (o == w->id) {
            mine[k] = b[i];
            stm[k++] = st;
            continue;
        }
        if (fwd_headers_do(w, p)) {
            struct fwd_dec *d = ring_reserve(w->fwd_out[o], fwd_dec_len(p->family), FWD_DEC);
            if (!d) {
                w->st.fwd_drops++;
                continue;
            }
            fwd_dec_fill(d, &b[i], st, p);
            ring_commit(w->fwd_out[o]);
            w->st.fwd_sent++;
            w->st.fwd_headers++;
            continue;
        }
        void *h = NULL;
        if (src->ops->take &&
            atomic_load_explicit(&w->fwd_taken, memory_order_relaxed) < w->fwd_take_max &&
            (h = src->ops->take(src, i)) != NULL)
            atomic_fetch_add_explicit(&w->fwd_taken, 1, memory_order_relaxed);
        struct fwd_pkt *f = ring_reserve(w->fwd_out[o],
                                         (uint32_t)(sizeof(*f) + (h ? 0 : b[i].caplen)), FWD_PKT);
        if (!f) {
            if (h) {
                src->ops->put_taken(&h, 1);
                atomic_fetch_sub_explicit(&w->fwd_taken, 1, memory_order_relaxed);
            }
            w->st.fwd_drops++;
            continue;
        }
        f->ts_ns = b[i].ts_ns;
        f->caplen = b[i].caplen;
        f->wirelen = b[i].wirelen;
        f->linktype = b[i].linktype;
        f->_pad = 0;
        f->idx_off = 0;
        f->handle = h;
        f->ref = h ? b[i].data : NULL;
        if (h)
            w->st.fwd_zero_copy++;
        else
            memcpy(f->data, b[i].data, b[i].caplen);
        ring_commit(w->fwd_out[o]);
        w->st.fwd_sent++;
    }
    for (unsigned o = 0; o < w->n_fwd; o++)
        if (o != w->id)
            ring_flush(w->fwd_out[o]);
    return k;
}

/* A burst of packets decoded already: this worker's own, decoded by
 * fwd_split(), or handed over as their headers (app[] then holds what the
 * sender's app_classify() said, else NULL). Pass one of worker_burst()
 * without the decoding, then passes two and three. */
static void
decoded_burst(struct worker *w, const struct cap_pkt *b, unsigned n, const struct dec_pkt *p,
              const enum dec_status *st, const uint8_t *app, const uint64_t *ix)
{
    uint64_t h[CAP_BURST];
    uint8_t ok[CAP_BURST], own[CAP_BURST];
    uint64_t seed = flow_seed(w->flows);
    for (unsigned i = 0; i < n; i++) {
        if (!w->st.first_ns || b[i].ts_ns < w->st.first_ns)
            w->st.first_ns = b[i].ts_ns;
        own[i] = 1;
        ok[i] = (uint8_t)dec_has_flow(st[i]);
        count_pkt(w, &b[i], st[i], &p[i]);
        if (ok[i]) {
            h[i] = flow_hash(&p[i], seed);
            flow_prefetch(w->flows, h[i]);
        }
    }
    burst_account(w, b, n, p, h, ok, own, app, ix);
}

/* A burst of packets handed over as their headers (FWD_DEC records). */
static void
fwd_dec_burst(struct worker *w, const struct fwd_dec *const *d, unsigned n, const uint64_t *ix)
{
    struct cap_pkt b[CAP_BURST];
    struct dec_pkt p[CAP_BURST];
    enum dec_status st[CAP_BURST];
    uint8_t app[CAP_BURST];
    for (unsigned i = 0; i < n; i++) {
        fwd_dec_read(d[i], &p[i], &b[i]);
        st[i] = (enum dec_status)d[i]->status;
        app[i] = d[i]->app;
    }
    decoded_burst(w, b, n, p, st, app, ix);
}

/* The packet a FWD_PKT record stands for. */
static inline void
fwd_pkt_cap(const struct fwd_pkt *f, struct cap_pkt *b)
{
    b->data = f->ref ? f->ref : f->data;
    b->caplen = f->caplen;
    b->wirelen = f->wirelen;
    b->ts_ns = f->ts_ns;
    b->linktype = f->linktype;
    b->_pad = 0;
    b->_pad2 = 0;
}

/* Process what the other workers handed over, a burst at a time (a burst is
 * records of one kind, in the order sent); how many. */
static unsigned
fwd_drain(struct worker *w)
{
    struct cap_pkt b[CAP_BURST];
    const struct fwd_dec *d[CAP_BURST];
    unsigned got = 0;
    for (unsigned from = 0; from < w->n_fwd; from++) {
        if (from == w->id)
            continue;
        struct ring *r = w->fwd_in[from];
        /* what the sender took from its source goes back through that
         * source, and off the sender's count (live: one source a worker) */
        struct worker *sender = &w->fwd_group[from];
        for (;;) {
            uint64_t pos = ring_pos(r), at = pos;
            unsigned n = 0, full = 0;
            uint32_t kind, len, burst_kind = 0;
            const void *rec;
            void *taken[CAP_BURST];
            unsigned nt = 0;
            while ((rec = ring_next(r, &pos, &kind, &len))) {
                if (n == CAP_BURST || (n && kind != burst_kind)) {
                    pos = at;                   /* the next burst's first */
                    full = 1;
                    break;
                }
                at = pos;
                burst_kind = kind;
                if (kind == FWD_DEC) {
                    d[n++] = rec;
                    continue;
                }
                const struct fwd_pkt *f = rec;
                if (f->handle) {
                    /* given back after the burst: its header comes over
                     * from the sender's cache meanwhile (README, Speed) */
                    taken[nt++] = f->handle;
                    for (unsigned l = 0; l < CAP_TAKEN_LINES; l++)
                        __builtin_prefetch((const char *)f->handle + 64 * l, 1);
                }
                fwd_pkt_cap(f, &b[n++]);
            }
            if (!n)
                break;
            got += n;
            w->st.fwd_received += n;
            if (burst_kind == FWD_DEC)
                fwd_dec_burst(w, d, n, NULL);
            else
                worker_burst(w, b, n, NULL);
            if (nt) {                           /* processed: the mbufs go back */
                sender->srcs[0]->ops->put_taken(taken, nt);
                atomic_fetch_sub_explicit(&sender->fwd_taken, nt, memory_order_relaxed);
            }
            ring_release_to(r, at);
            if (!full)
                break;
        }
    }
    return got;
}

/* Live DPDK polls: after IDLE_POLLS empty polls in a row (queue and
 * hand-over rings), sleep capture.dpdk.idle_sleep_us before each next one,
 * instead of keeping a core at 100% on an idle link (the thread's timer
 * slack is set to 1 us when it starts: see worker_main). */
enum { IDLE_POLLS = 256 };

static void
worker_idle(struct worker *w, unsigned got)
{
    if (got) {
        w->idle_polls = 0;
        return;
    }
    if (w->idle_polls < IDLE_POLLS) {
        w->idle_polls++;
        return;
    }
    w->st.idle_sleeps++;
    struct timespec ts = { 0, (long)w->idle_sleep_us * 1000 };
    nanosleep(&ts, NULL);
}

/* Out of the capture loop: this worker hands nothing over any more, but the
 * others may still hand it packets of its flows until they are out of
 * theirs too (a stop reaches each worker at a different point of its
 * loop). So it goes on taking them until every worker of the group is out,
 * then takes what is left: nothing sent is left behind at a stop. */
static void
fwd_finish(struct worker *w)
{
    atomic_store_explicit(&w->fwd_stopped, 1, memory_order_release);
    for (;;) {
        unsigned out = 0;
        for (unsigned i = 0; i < w->n_fwd; i++)
            out += (unsigned)atomic_load_explicit(&w->fwd_group[i].fwd_stopped,
                                                  memory_order_acquire);
        /* after those loads: every record sent before a stop is visible */
        unsigned got = fwd_drain(w);
        if (out == w->n_fwd)
            return;
        if (w->idle_sleep_us)
            worker_idle(w, got);        /* as in the capture loop */
    }
}


/* ==== Replay in parts ====
 *
 * With several workers, a replay of classic pcap files need not have every
 * worker read every packet (n_share): worker k reads parts k, k+N, ... of
 * the files (cap_file_parts; parts counted over all files), decodes each
 * packet of them once and hands it to its flow's worker as live DPDK does
 * (FWD_DEC, or FWD_PKT copied where the payload is read: DNS, ICMP); its
 * own it keeps decoded (worker.own) until it takes that part. A worker
 * takes the parts in file order, each from the ring of its reader (its
 * own from worker.own), so it sees its packets in the order of the file, and what it
 * would have learnt from the packets it does not see comes with them: each
 * packet's index in the stream (mg_rec.order), the ticks (FWD_TICK, to every
 * worker) and the clock where a packet is older than the newest before it
 * (FWD_CLOCK). The records are the same as one worker's (tests/workers_equal.sh).
 *
 * Only the reading of a part can tell where the next one's first record
 * starts: a worker loads its part's bytes, waits for the baton (struct
 * parts_baton), walks the part's record headers and passes the baton on,
 * then reads the part again to split it. A part's reader never waits for
 * room in a ring (parts_reserve); a worker that waits (for the baton, a
 * part, or room in its ring to the detection thread) pushes out what it
 * owes the others meanwhile, takes what it may, and tells the merge how far
 * it has come (REC_MARK): no worker waits on one that waits for it. */

/* The replay clock moving to a packet's time (as burst_account() moves
 * it): 1 when a tick comes before the packet. */
static inline int
parts_clock(uint64_t *clock, uint64_t *next_tick, uint64_t ts)
{
    if (ts <= *clock)
        return 0;
    *clock = ts;
    if (ts < *next_tick)
        return 0;
    *next_tick = (ts / NS_PER_S + 1) * NS_PER_S;   /* as worker_tick() */
    return 1;
}

/* One round of a wait loop: sleep, giving the core to the detection and
 * output threads (measured: sleeping at once beats spinning or
 * sched_yield() first; 2 workers 0.485 s against 0.501 and 0.532). */
static void
parts_pause(void)
{
    struct timespec ts = { 0, 20000 };
    nanosleep(&ts, NULL);
}

static int
parts_stopped(const struct worker *w)
{
    return atomic_load_explicit(&g_stop, memory_order_relaxed) ||
           atomic_load_explicit(&w->baton->abort, memory_order_relaxed);
}

/* Tell the merge how far this worker has come (pipeline.c, detect_merge):
 * its next records come after every packet it has taken. A worker that
 * waits for a part would otherwise hold the merge up, while the worker
 * it waits for may itself wait for room in its ring. */
static void
parts_mark(struct worker *w)
{
    if (w->pkt_idx <= w->mark_idx)
        return;                         /* said already */
    w->mark_idx = w->pkt_idx;
    uint64_t saved = w->order;
    w->order = REC_ORDER(w->pkt_idx, 0) - 1;    /* below the next packet's first stage */
    emit_mark(w, REC_MARK);
    w->order = saved;
    ring_flush(w->out);
}

/* One control record of the part being taken; 1 at its end. */
static int
parts_ctl(struct worker *w, uint32_t kind, const struct fwd_ctl *c)
{
    switch (kind) {
    case FWD_BEGIN:
        w->part_base = c->idx;
        return 0;
    case FWD_TICK:
        w->now_ns = c->clock;
        w->order = REC_ORDER(c->idx, REC_STAGE_TIMER_FLOW);
        worker_tick(w);
        return 0;
    case FWD_CLOCK:
        if (c->clock > w->now_ns)
            w->now_ns = c->clock;
        return 0;
    case FWD_END:
        w->pkt_idx = c->idx;
        w->order = REC_ORDER(w->pkt_idx, REC_STAGE_TIMER_FLOW);
        return 1;
    }
    return 0;
}

/* An ICMP error whose own flow is another worker's, for the flow it quotes,
 * which is this worker's (as burst_account() does with it). */
static void
parts_quote(struct worker *w, const struct cap_pkt *b, uint64_t idx)
{
    struct dec_pkt p;
    if (b->ts_ns > w->now_ns)
        w->now_ns = b->ts_ns;           /* the tick, if any, came before it */
    if (!dec_has_flow(dec_packet(w->dec, b->linktype, b->data, b->caplen, &p)))
        return;
    w->order = REC_ORDER(idx, REC_STAGE_FLOW);
    icmp_unreachable(w, &p, b->ts_ns);
}

/* Take this worker's own part: its own packets, decoded when it was split,
 * a burst at a time, and what else comes at their places. */
static void
parts_take_own(struct worker *w)
{
    struct parts_own *o = &w->own;
    size_t i = 0, e = 0;
    while (i < o->n || e < o->nev) {
        if (e < o->nev && (i == o->n || o->ev[e].idx <= o->ix[i])) {
            const struct parts_ev *v = &o->ev[e++];
            if (v->kind == FWD_QUOTE) {
                parts_quote(w, &v->b, v->idx);
            } else {
                struct fwd_ctl c = { .idx = v->idx, .clock = v->clock };
                (void)parts_ctl(w, v->kind, &c);
            }
            continue;
        }
        uint64_t lim = e < o->nev ? o->ev[e].idx : UINT64_MAX;
        unsigned n = 0;
        while (i + n < o->n && n < CAP_BURST && o->ix[i + n] < lim)
            n++;
        decoded_burst(w, &o->b[i], n, &o->p[i], &o->st[i], NULL, &o->ix[i]);
        i += n;
    }
    w->pkt_idx = o->end;
    w->order = REC_ORDER(w->pkt_idx, REC_STAGE_TIMER_FLOW);
}

/* Take the parts handed to this worker, in file order, up to and including
 * part 'upto': 1 when all are taken, 0 when the next is not all there yet.
 * Packets go a burst at a time (a burst is records of one kind). */
static int
parts_take(struct worker *w, uint64_t upto)
{
    struct cap_pkt b[CAP_BURST];
    const struct fwd_dec *d[CAP_BURST];
    uint64_t ix[CAP_BURST];
    while (w->part_next <= upto) {
        if (w->part_next % w->n_fwd == w->id) {
            parts_take_own(w);
            w->part_next++;
            continue;
        }
        struct ring *r = w->fwd_in[w->part_next % w->n_fwd];
        uint64_t pos = ring_pos(r), at = pos;
        unsigned n = 0;
        uint32_t kind, len, burst_kind = 0;
        const void *rec;
        int end = 0;
        while ((rec = ring_next(r, &pos, &kind, &len))) {
            if (kind == FWD_DEC || kind == FWD_PKT) {
                if (n == CAP_BURST || (n && kind != burst_kind))
                    break;                      /* the next burst's first */
                burst_kind = kind;
                if (kind == FWD_DEC) {
                    d[n] = rec;
                    ix[n] = w->part_base + d[n]->idx_off;
                } else {
                    const struct fwd_pkt *f = rec;
                    fwd_pkt_cap(f, &b[n]);
                    ix[n] = w->part_base + f->idx_off;
                }
                n++;
                at = pos;
                continue;
            }
            if (n)
                break;                          /* the burst first, then this */
            at = pos;
            if (kind == FWD_QUOTE) {
                const struct fwd_pkt *f = rec;
                struct cap_pkt q;
                fwd_pkt_cap(f, &q);
                parts_quote(w, &q, w->part_base + f->idx_off);
            } else if ((end = parts_ctl(w, kind, rec))) {
                break;
            }
        }
        if (n) {
            if (burst_kind == FWD_DEC)
                fwd_dec_burst(w, d, n, ix);
            else
                worker_burst(w, b, n, ix);
            w->st.fwd_received += n;            /* another's part: own is parts_take_own() */
        }
        ring_release_to(r, at);
        if (end)
            w->part_next++;
        else if (!n && !rec)
            return 0;                           /* the rest is not there yet */
    }
    return 1;
}

/* Records for worker o that did not fit its ring (parts_reserve) go into
 * them as room comes: 1 when none is left. */
static int
parts_push(struct worker *w, unsigned o)
{
    struct parts_ovf *v = &w->ovf[o];
    while (v->head < v->len) {
        const struct ring_hdr *e = (const void *)(v->buf + v->head);
        void *rec = ring_reserve(w->fwd_out[o], e->len, e->kind);
        if (!rec) {
            ring_flush(w->fwd_out[o]);
            return 0;
        }
        memcpy(rec, e + 1, e->len);
        ring_commit(w->fwd_out[o]);
        v->head += sizeof(*e) + ((e->len + RING_ALIGN - 1) & ~(size_t)(RING_ALIGN - 1));
    }
    v->head = v->len = 0;
    ring_flush(w->fwd_out[o]);
    return 1;
}

static int
parts_push_all(struct worker *w)
{
    int done = 1;
    for (unsigned o = 0; o < w->n_fwd; o++)
        if (w->ovf[o].len)
            done &= parts_push(w, o);
    return done;
}

/* One round of a wait: what this worker still owes the others' rings goes
 * out, it tells the merge how far it has come, and pauses. 0, or -1 when the
 * replay stops early. */
static int
parts_wait(struct worker *w)
{
    if (parts_stopped(w))
        return -1;
    w->st.part_waits++;
    parts_push_all(w);
    parts_mark(w);
    ring_flush(w->out);
    parts_pause();
    return 0;
}

/* Take up to part 'upto', waiting for what is not there yet: 0, or -1 when
 * the replay stops early. */
static int
parts_take_all(struct worker *w, uint64_t upto)
{
    while (!parts_take(w, upto))
        if (parts_wait(w) < 0)
            return -1;
    ring_flush(w->out);
    return 0;
}

/* Room for a record to worker o. A part's reader never waits for room:
 * waiting, it could hold up a worker that waits for it (through the merge,
 * the records of a part the reader has not finished); what does not fit
 * waits in w->ovf[o], in order, until parts_push() finds room. NULL
 * without memory. */
static void *
parts_reserve(struct worker *w, unsigned o, uint32_t len, uint32_t kind)
{
    struct parts_ovf *v = &w->ovf[o];
    if (!v->len || parts_push(w, o)) {
        void *rec = ring_reserve(w->fwd_out[o], len, kind);
        if (rec) {
            v->cur = 0;
            return rec;
        }
    }
    size_t need = sizeof(struct ring_hdr) + ((len + RING_ALIGN - 1) & ~(size_t)(RING_ALIGN - 1));
    if (v->len + need > v->cap) {
        size_t nc = v->cap ? v->cap : (size_t)1 << 20;
        while (nc < v->len + need)
            nc *= 2;
        uint8_t *nb = big_realloc(v->buf, v->cap, nc);
        if (!nb)
            return NULL;
        v->buf = nb;
        v->cap = nc;
    }
    struct ring_hdr *e = (void *)(v->buf + v->len);
    e->len = len;
    e->kind = kind;
    v->len += need;
    v->cur = 1;
    w->st.fwd_overflow++;
    return e + 1;
}

static inline void
parts_commit(struct worker *w, unsigned o)
{
    if (!w->ovf[o].cur)
        ring_commit(w->fwd_out[o]);
}

/* *a to nc elements of 'size' (an array that grows, rarely): 0, or -1
 * without memory (*a as it was). */
static int
parts_realloc(void *a, size_t nc, size_t size)
{
    void *na = realloc(*(void **)a, nc * size);
    if (!na)
        return -1;
    *(void **)a = na;
    return 0;
}

/* Room for more of this worker's own packets: 0, or -1 without memory. */
static int
parts_own_grow(struct parts_own *m)
{
    size_t nc = m->cap ? m->cap * 2 : 4096;
    if (parts_realloc(&m->b, nc, sizeof(*m->b)) < 0 || parts_realloc(&m->p, nc, sizeof(*m->p)) < 0 ||
        parts_realloc(&m->st, nc, sizeof(*m->st)) < 0 || parts_realloc(&m->ix, nc, sizeof(*m->ix)) < 0)
        return -1;
    m->cap = nc;
    return 0;
}

/* Something to do at packet idx of this worker's own part (parts_own). */
static int
parts_own_ev(struct worker *w, uint32_t kind, uint64_t idx, uint64_t clock,
             const struct cap_pkt *b)
{
    struct parts_own *o = &w->own;
    if (o->nev == o->capev) {
        size_t nc = o->capev ? o->capev * 2 : 1024;
        if (parts_realloc(&o->ev, nc, sizeof(*o->ev)) < 0)
            return -1;
        o->capev = nc;
    }
    struct parts_ev *e = &o->ev[o->nev++];
    e->idx = idx;
    e->clock = clock;
    e->kind = kind;
    if (b)
        e->b = *b;
    return 0;
}

/* A control record to worker o (every worker: o = -1u); this worker's own
 * go to its list. -1 without memory. */
static int
parts_send_ctl(struct worker *w, unsigned o, uint32_t kind, uint64_t idx, uint64_t clock)
{
    for (unsigned i = 0; i < w->n_fwd; i++) {
        if (o != -1u && i != o)
            continue;
        if (i == w->id) {
            if ((kind == FWD_TICK || kind == FWD_CLOCK) &&
                parts_own_ev(w, kind, idx, clock, NULL) < 0)
                return -1;
            continue;
        }
        struct fwd_ctl *c = parts_reserve(w, i, sizeof(*c), kind);
        if (!c)
            return -1;
        c->idx = idx;
        c->clock = clock;
        parts_commit(w, i);
    }
    return 0;
}

/* A packet copied to worker o (FWD_PKT, FWD_QUOTE): 0, or -1 without memory. */
static int
parts_send_pkt(struct worker *w, unsigned o, uint32_t kind, const struct cap_pkt *pk,
               uint32_t off)
{
    struct fwd_pkt *f = parts_reserve(w, o, (uint32_t)(sizeof(*f) + pk->caplen), kind);
    if (!f)
        return -1;
    f->ts_ns = pk->ts_ns;
    f->caplen = pk->caplen;
    f->wirelen = pk->wirelen;
    f->linktype = pk->linktype;
    f->_pad = 0;
    f->idx_off = off;
    f->ref = NULL;
    f->handle = NULL;
    memcpy(f->data, pk->data, pk->caplen);
    parts_commit(w, o);
    return 0;
}

/* Hand each packet of the part being read to its flow's worker, with the
 * stream state 'bt' (the baton the part began with): 0, or -1 (w->err). */
static int
parts_split(struct worker *w, struct cap_source *src, const struct parts_at *bt)
{
    struct cap_pkt burst[CAP_BURST];
    uint64_t idx = bt->pkt_idx, clock = bt->clock, next_tick = bt->next_tick;
    w->own.n = w->own.nev = 0;
    if (parts_send_ctl(w, -1u, FWD_BEGIN, idx, 0) < 0)
        goto nomem;
    int n;
    while (!bt->ended && (n = src->ops->rx_burst(src, burst, CAP_BURST)) != CAP_EOF) {
        if (n < 0) {
            snprintf(w->err, sizeof(w->err), "capture: %s", src->ops->last_error(src));
            return -1;
        }
        for (int i = 0; i < n; i++, idx++) {
            prefetch_ahead(burst, (unsigned)n, (unsigned)i);
            const struct cap_pkt *pk = &burst[i];
            struct parts_own *m = &w->own;
            if (m->n == m->cap && parts_own_grow(m) < 0)
                goto nomem;
            if (parts_clock(&clock, &next_tick, pk->ts_ns) &&
                parts_send_ctl(w, -1u, FWD_TICK, idx, clock) < 0)
                goto nomem;
            /* decoded where it is kept if it is this worker's own */
            struct dec_pkt *p = &m->p[m->n], q;
            enum dec_status st = dec_packet(w->dec, pk->linktype, pk->data, pk->caplen, p);
            /* the packet's own flow's worker, and the quoted flow's for an
             * ICMP error (as when every worker reads every packet) */
            unsigned o = dec_has_flow(st) ? dv_worker(dispatch_of_pkt(p), w->n_fwd) : w->id;
            unsigned oq = o;
            if (dec_has_flow(st) && is_unreachable(p) && decode_quote(p, &q)) {
                q.vlan = p->vlan;
                oq = dv_worker(dispatch_of_pkt(&q), w->n_fwd);
            }
            if (pk->ts_ns < clock && (parts_send_ctl(w, o, FWD_CLOCK, idx, clock) < 0 ||
                                      (oq != o && parts_send_ctl(w, oq, FWD_CLOCK, idx, clock) < 0)))
                goto nomem;
            uint32_t off = (uint32_t)(idx - bt->pkt_idx);
            if (oq != o && (oq == w->id ? parts_own_ev(w, FWD_QUOTE, idx, 0, pk)
                                        : parts_send_pkt(w, oq, FWD_QUOTE, pk, off)) < 0)
                goto nomem;
            if (o == w->id) {
                m->b[m->n] = *pk;
                m->st[m->n] = st;
                m->ix[m->n++] = idx;
                continue;
            }
            if (!dec_has_flow(st) || fwd_headers_enough(w, p)) {
                struct fwd_dec *d = parts_reserve(w, o, fwd_dec_len(p->family), FWD_DEC);
                if (!d)
                    goto nomem;
                fwd_dec_fill(d, pk, st, p);
                d->idx_off = off;
                w->st.fwd_headers++;
                parts_commit(w, o);
            } else if (parts_send_pkt(w, o, FWD_PKT, pk, off) < 0) {
                goto nomem;
            }
            w->st.fwd_sent++;                   /* another's: own ones went on above */
        }
    }
    w->own.end = idx;
    if (parts_send_ctl(w, -1u, FWD_END, idx, 0) < 0)
        goto nomem;
    for (unsigned i = 0; i < w->n_fwd; i++)
        if (i != w->id)
            ring_flush(w->fwd_out[i]);
    return 0;
nomem:
    snprintf(w->err, sizeof(w->err), "replay: out of memory for the records of a part");
    return -1;
}

/* Walk the part being read from the baton it began with, 'in', to the
 * baton for the next part, 'out' (its file's next part, or, 'last', the
 * next file's first), then rewind it for parts_split(). */
static void
parts_walk(struct cap_source *src, const struct parts_at *in, struct parts_at *out, int last)
{
    struct cap_pkt burst[CAP_BURST];
    *out = *in;
    if (!in->ended) {
        cap_file_part_begin(src, in->first);
        int n;
        while ((n = src->ops->rx_burst(src, burst, CAP_BURST)) > 0) {
            for (int i = 0; i < n; i++)
                (void)parts_clock(&out->clock, &out->next_tick, burst[i].ts_ns);
            out->pkt_idx += (uint64_t)n;
        }
        out->ended = !cap_file_part_end(src, &out->first);
        cap_file_part_rewind(src);
    }
    if (last) {
        out->ended = 0;
        out->first = cap_file_part_first(src);
    }
}

/* Wait until the baton is for 'part', taking what may be taken meanwhile:
 * 0, or -1 when the replay stops early. */
static int
parts_wait_baton(struct worker *w, uint64_t part)
{
    while (atomic_load_explicit(&w->baton->ready, memory_order_acquire) != part) {
        if (part)
            (void)parts_take(w, part - 1);
        if (parts_wait(w) < 0)
            return -1;
    }
    return 0;
}

/* One worker's replay in parts: its parts of every file, then the rest of
 * the others'. 0, or -1 (w->err set, or stopped). */
static int
parts_main(struct worker *w)
{
    uint64_t g = 0;                     /* the current file's first part, over all files */
    for (unsigned si = 0; si < w->n_srcs; si++) {
        struct cap_source *src = w->srcs[si];
        uint64_t np = w->n_parts[si];
        w->cur_src = src;
        for (uint64_t k = (w->id + w->n_fwd - g % w->n_fwd) % w->n_fwd; k < np; k += w->n_fwd) {
            uint64_t part = g + k;
            if (cap_file_part_load(src, k) < 0) {
                snprintf(w->err, sizeof(w->err), "capture: %s", src->ops->last_error(src));
                return -1;
            }
            if (parts_wait_baton(w, part) < 0)
                return -1;
            struct parts_at in = w->baton->at;
            parts_walk(src, &in, &w->baton->at, k + 1 == np);
            atomic_store_explicit(&w->baton->ready, part + 1, memory_order_release);
            if (parts_split(w, src, &in) < 0 || parts_take_all(w, part) < 0)
                return -1;
        }
        g += np;
        add_src_stats(w, src, &w->cap_st);
        w->cur_src = NULL;
    }
    /* the others' parts after this worker's last, then the end of the stream */
    if (parts_take_all(w, g - 1) < 0)
        return -1;
    while (!parts_push_all(w))
        if (parts_wait(w) < 0)
            return -1;
    if (parts_wait_baton(w, g) < 0)
        return -1;
    if (w->baton->at.clock > w->now_ns)
        w->now_ns = w->baton->at.clock;
    w->pkt_idx = w->baton->at.pkt_idx;
    return 0;
}

void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct cap_pkt burst[CAP_BURST], mine[CAP_BURST];
    struct dec_pkt pm[CAP_BURST];        /* mine, decoded (hand-over) */
    enum dec_status stm[CAP_BURST];
    /* the default slack (50 us) would stretch every idle sleep */
    if (w->idle_sleep_us)
        (void)prctl(PR_SET_TIMERSLACK, 1000UL);
    if (w->baton) {
        if (parts_main(w) < 0) {
            atomic_store(&w->baton->abort, 1);
            if (w->err[0])
                w->exit_code = 1;
        }
        worker_finish(w);
        goto done;
    }

    for (unsigned si = 0; si < w->n_srcs; si++) {
        struct cap_source *src = w->srcs[si];
        w->cur_src = src;
        while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
            int n = src->ops->rx_burst(src, burst, CAP_BURST);
            if (n == CAP_EOF)
                break;
            if (n < 0) {
                snprintf(w->err, sizeof(w->err), "capture: %s", src->ops->last_error(src));
                w->exit_code = 1;
                break;
            }
            if (n == 0 && w->live) {
                /* Nothing arrived: live time still passes, so flows and
                 * queries expire on a quiet link too. */
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                uint64_t t = (uint64_t)now.tv_sec * NS_PER_S + (uint64_t)now.tv_nsec;
                if (t > w->now_ns)
                    w->now_ns = t;
            }
            unsigned got = (unsigned)n;
            if (w->n_fwd > 1) {
                unsigned k = fwd_split(w, src, burst, (unsigned)n, mine, pm, stm);
                decoded_burst(w, mine, k, pm, stm, NULL, NULL);
                src->ops->release(src, burst, (unsigned)n);
                got += fwd_drain(w);
            } else {
                worker_burst(w, burst, (unsigned)n, NULL);
                src->ops->release(src, burst, (unsigned)n);
            }
            worker_tick(w);
            if (w->live)
                worker_expire(w);
            ring_flush(w->out);
            if (w->idle_sleep_us)
                worker_idle(w, got);
        }
        add_src_stats(w, src, &w->cap_st);
        w->cur_src = NULL;
        if (w->exit_code)
            break;
    }
    if (w->n_fwd > 1)
        fwd_finish(w);
    worker_finish(w);
done:;
    struct timespec cpu;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0)
        w->st.cpu_seconds = (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9;
    worker_publish(w);
    atomic_store(&w->done, 1);
    return NULL;
}
