/* tests/test_flow.c - the flow table: both directions merge, timeouts (idle
 * per state, active), eviction under a full table, mirror duplicates, time
 * jumps, and who counts as the initiator. */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "keysort.h"

#define S 1000000000ull

static struct flow_rec recs[4096];
static unsigned n_recs;

static void
collect(void *arg, const struct flow_rec *r)
{
    (void)arg;
    if (n_recs < sizeof(recs) / sizeof(recs[0]))
        recs[n_recs] = *r;
    n_recs++;
}

static struct flow_table *
mk(uint32_t max)
{
    struct flow_cfg c = { .max_flows = max, .active_s = 60, .dedup = 1, .seed = 42 };
    c.timeout_s[FC_TCP_SYN] = 30;
    c.timeout_s[FC_TCP_EST] = 300;
    c.timeout_s[FC_TCP_CLOSED] = 5;
    c.timeout_s[FC_UDP] = 60;
    c.timeout_s[FC_ICMP] = 30;
    c.timeout_s[FC_OTHER] = 60;
    n_recs = 0;
    return flow_new(&c);
}

static struct dec_pkt
pk(uint8_t proto, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint8_t flags,
   uint32_t len, uint32_t vni)
{
    struct dec_pkt p;
    memset(&p, 0, sizeof(p));
    p.family = 4;
    p.proto = proto;
    for (int i = 0; i < 4; i++) {
        p.src.b[i] = (uint8_t)(src >> (24 - 8 * i));
        p.dst.b[i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    p.sport = sp;
    p.dport = dp;
    p.tcp_flags = flags;
    p.ip_len = len;
    p.vni = vni;
    return p;
}

static int
feed(struct flow_table *ft, struct dec_pkt p, uint64_t ts)
{
    struct flow_hit h;
    flow_advance(ft, ts, collect, NULL);
    return flow_packet(ft, &p, ts, &h, collect, NULL) == 0 ? h.dir : -1;
}

static void
test_merge_directions(void)
{
    struct flow_table *ft = mk(1024);
    uint64_t t = 1700000000 * S;
    CU_ASSERT_EQUAL(feed(ft, pk(6, 0x0a000001, 40000, 0x08080808, 443, 0x02, 60, 0), t), 0);
    CU_ASSERT_EQUAL(feed(ft, pk(6, 0x08080808, 443, 0x0a000001, 40000, 0x12, 60, 0), t + 1000), 1);
    CU_ASSERT_EQUAL(feed(ft, pk(6, 0x0a000001, 40000, 0x08080808, 443, 0x10, 52, 0), t + 2000), 0);
    CU_ASSERT_EQUAL(feed(ft, pk(6, 0x0a000001, 40000, 0x08080808, 443, 0x18, 500, 0), t + 3000), 0);
    flow_flush(ft, collect, NULL);
    CU_ASSERT_EQUAL_FATAL(n_recs, 1);
    CU_ASSERT_EQUAL(recs[0].dir[0].pkts, 3);
    CU_ASSERT_EQUAL(recs[0].dir[1].pkts, 1);
    CU_ASSERT_EQUAL(recs[0].dir[0].bytes, 612);
    CU_ASSERT_EQUAL(recs[0].dir[1].bytes, 60);
    CU_ASSERT_EQUAL(recs[0].tcp_state, TCP_ESTABLISHED);
    CU_ASSERT_EQUAL(recs[0].dir[0].tcp_flags, 0x1a);
    CU_ASSERT_EQUAL(recs[0].dir[1].tcp_flags, 0x12);
    CU_ASSERT_EQUAL(recs[0].sport, 40000);
    CU_ASSERT_EQUAL(recs[0].reason, FLOW_END_FLUSH);
    struct flow_stats st;
    flow_stats(ft, &st);
    CU_ASSERT_EQUAL(st.in_use, 0);
    CU_ASSERT_EQUAL(st.created, 1);
    flow_free(ft);
}

static void
test_idle_timeouts(void)
{
    struct flow_table *ft = mk(1024);
    uint64_t t = 1700000000 * S;
    feed(ft, pk(17, 1, 5000, 2, 53, 0, 80, 0), t);
    flow_advance(ft, t + 59 * S, collect, NULL);
    CU_ASSERT_EQUAL(n_recs, 0);
    flow_advance(ft, t + 61 * S, collect, NULL);
    CU_ASSERT_EQUAL_FATAL(n_recs, 1);
    CU_ASSERT_EQUAL(recs[0].reason, FLOW_END_IDLE);
    /* TCP closed by FIN both ways: gone after 5 s, not 300 */
    n_recs = 0;
    t += 100 * S;
    feed(ft, pk(6, 1, 1000, 2, 80, 0x02, 60, 0), t);
    feed(ft, pk(6, 2, 80, 1, 1000, 0x12, 60, 0), t);
    feed(ft, pk(6, 1, 1000, 2, 80, 0x10, 52, 0), t);
    feed(ft, pk(6, 1, 1000, 2, 80, 0x11, 52, 0), t + S);
    feed(ft, pk(6, 2, 80, 1, 1000, 0x11, 52, 0), t + S);
    flow_advance(ft, t + 5 * S, collect, NULL);
    CU_ASSERT_EQUAL(n_recs, 0);
    flow_advance(ft, t + 7 * S, collect, NULL);
    CU_ASSERT_EQUAL_FATAL(n_recs, 1);
    CU_ASSERT_EQUAL(recs[0].tcp_state, TCP_CLOSED);
    /* A SYN that is never answered: handshake timeout 30 s */
    n_recs = 0;
    t += 100 * S;
    feed(ft, pk(6, 1, 1001, 3, 22, 0x02, 60, 0), t);
    flow_advance(ft, t + 29 * S, collect, NULL);
    CU_ASSERT_EQUAL(n_recs, 0);
    flow_advance(ft, t + 31 * S, collect, NULL);
    CU_ASSERT_EQUAL(n_recs, 1);
    CU_ASSERT_EQUAL(recs[0].tcp_state, TCP_SYN);
    flow_free(ft);
}

static void
test_active_timeout(void)
{
    struct flow_table *ft = mk(1024);
    uint64_t t = 1700000000 * S;
    for (int i = 0; i <= 130; i++)
        feed(ft, pk(17, 1, 4000, 2, 4001, 0, 100, 0), t + (uint64_t)i * S);
    flow_flush(ft, collect, NULL);
    CU_ASSERT_EQUAL_FATAL(n_recs, 3);
    CU_ASSERT_EQUAL(recs[0].reason, FLOW_END_ACTIVE);
    CU_ASSERT_EQUAL(recs[1].reason, FLOW_END_ACTIVE);
    CU_ASSERT_EQUAL(recs[2].reason, FLOW_END_FLUSH);
    uint64_t total = 0;
    for (unsigned i = 0; i < 3; i++)
        total += recs[i].dir[0].pkts;
    CU_ASSERT_EQUAL(total, 131);                /* nothing lost across records */
    CU_ASSERT(recs[0].dir[0].pkts >= 59 && recs[0].dir[0].pkts <= 61);
    CU_ASSERT(recs[1].dir[0].first_ns > recs[0].dir[0].last_ns);
    flow_free(ft);
}

static void
test_eviction(void)
{
    struct flow_table *ft = mk(1024);
    uint64_t t = 1700000000 * S;
    for (uint32_t i = 0; i < 3000; i++)
        feed(ft, pk(17, 0x0a000000 + i, 1000, 0x08080808, 53, 0, 70, 0), t + i * 1000ull);
    struct flow_stats st;
    flow_stats(ft, &st);
    CU_ASSERT_EQUAL(st.capacity, 1024);
    CU_ASSERT_EQUAL(st.in_use, 1024);
    CU_ASSERT_EQUAL(st.evicted, 3000 - 1024);
    CU_ASSERT_EQUAL(n_recs, 3000 - 1024);
    CU_ASSERT_EQUAL(recs[0].reason, FLOW_END_EVICT);
    CU_ASSERT(st.bytes_alloc / st.capacity <= 128);
    flow_flush(ft, collect, NULL);
    CU_ASSERT_EQUAL(n_recs, 3000);              /* every flow reported once */
    flow_free(ft);
}

static void
test_mirror_duplicates(void)
{
    struct flow_table *ft = mk(1024);
    uint64_t t = 1700000000 * S;
    /* A -> B seen by A's session (vni 1) and B's session (vni 2) */
    CU_ASSERT_EQUAL(feed(ft, pk(6, 1, 1000, 2, 80, 0x02, 60, 1), t), 0);
    CU_ASSERT_EQUAL(feed(ft, pk(6, 1, 1000, 2, 80, 0x02, 60, 2), t + 5000), -1);
    /* B -> A: B's egress (vni 2) first this time */
    CU_ASSERT_EQUAL(feed(ft, pk(6, 2, 80, 1, 1000, 0x12, 60, 2), t + 9000), 1);
    CU_ASSERT_EQUAL(feed(ft, pk(6, 2, 80, 1, 1000, 0x12, 60, 1), t + 9900), -1);
    /* a retransmission from the owning session still counts */
    CU_ASSERT_EQUAL(feed(ft, pk(6, 1, 1000, 2, 80, 0x10, 52, 1), t + 20000), 0);
    CU_ASSERT_EQUAL(feed(ft, pk(6, 1, 1000, 2, 80, 0x10, 52, 1), t + 30000), 0);
    struct flow_stats st;
    flow_stats(ft, &st);
    CU_ASSERT_EQUAL(st.duplicates, 2);
    flow_flush(ft, collect, NULL);
    CU_ASSERT_EQUAL_FATAL(n_recs, 1);
    CU_ASSERT_EQUAL(recs[0].dir[0].pkts, 3);
    CU_ASSERT_EQUAL(recs[0].dir[1].pkts, 1);
    CU_ASSERT_EQUAL(recs[0].dir[0].vni, 1);
    CU_ASSERT_EQUAL(recs[0].dir[1].vni, 2);
    flow_free(ft);
}

static void
test_time_jumps(void)
{
    struct flow_table *ft = mk(1024);
    uint64_t t = 1700000000 * S;
    for (uint32_t i = 0; i < 100; i++)
        feed(ft, pk(17, i, 1, 2, 2, 0, 60, 0), t);
    /* backwards: ignored by the clock, counted in the flow */
    feed(ft, pk(17, 0, 1, 2, 2, 0, 60, 0), t - 3600 * S);
    CU_ASSERT_EQUAL(n_recs, 0);
    /* months forward: everything expires in one call */
    flow_advance(ft, t + 90ull * 86400 * S, collect, NULL);
    CU_ASSERT_EQUAL(n_recs, 100);
    struct flow_stats st;
    flow_stats(ft, &st);
    CU_ASSERT_EQUAL(st.in_use, 0);
    flow_free(ft);
}

/* Regression: packets before the first flow_advance() may span a long gap
 * (one capture burst); the early flows must still expire on time. */
static void
test_first_burst_gap(void)
{
    struct flow_table *ft = mk(1024);
    uint64_t t = 1700000000 * S;
    struct flow_hit h;
    struct dec_pkt a = pk(6, 1, 1000, 2, 80, 0x02, 60, 0);
    struct dec_pkt b = pk(6, 2, 80, 1, 1000, 0x12, 60, 0);
    struct dec_pkt c = pk(6, 1, 1000, 2, 80, 0x11, 52, 0);
    struct dec_pkt d = pk(6, 2, 80, 1, 1000, 0x11, 52, 0);
    struct dec_pkt late = pk(17, 3, 5000, 4, 53, 0, 80, 0);
    flow_packet(ft, &a, t, &h, collect, NULL);
    flow_packet(ft, &b, t, &h, collect, NULL);
    flow_packet(ft, &c, t, &h, collect, NULL);
    flow_packet(ft, &d, t, &h, collect, NULL);
    flow_packet(ft, &late, t + 400 * S, &h, collect, NULL);
    flow_advance(ft, t + 400 * S, collect, NULL);
    CU_ASSERT_EQUAL_FATAL(n_recs, 1);
    CU_ASSERT_EQUAL(recs[0].reason, FLOW_END_IDLE);
    CU_ASSERT_EQUAL(recs[0].proto, 6);
    flow_free(ft);
}

/* Paced expiry (live): the same records as flow_advance(), however small
 * the budget; packets between the calls still find due flows; a full table
 * evicts a due flow before a live one. */
struct sink {
    struct flow_rec r[8192];
    unsigned n;
};

static void
collect_to(void *arg, const struct flow_rec *r)
{
    struct sink *k = arg;
    if (k->n < 8192)
        k->r[k->n] = *r;
    k->n++;
}

static int
rec_cmp(const void *a, const void *b)
{
    const struct flow_rec *x = a, *y = b;
    if (x->reason != y->reason)
        return x->reason < y->reason ? -1 : 1;
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    int c = memcmp(&x->src, &y->src, sizeof(x->src));
    if (c)
        return c;
    if (x->dir[0].pkts != y->dir[0].pkts)
        return x->dir[0].pkts < y->dir[0].pkts ? -1 : 1;
    return x->sport < y->sport ? -1 : x->sport > y->sport;
}

static void
test_paced_expiry(void)
{
    static struct sink a, b;
    a.n = b.n = 0;
    struct flow_table *fa = mk(8192), *fb = mk(8192);
    uint64_t t0 = 1700000000 * S;
    struct flow_hit h;
    unsigned calls = 0;
    for (uint64_t sec = 0; sec < 400; sec++) {
        uint64_t t = t0 + sec * S;
        flow_advance(fa, t, collect_to, &a);
        unsigned got;
        do {
            got = flow_advance_some(fb, t, collect_to, &b, 7);
            CU_ASSERT(got <= 7);
            calls++;
        } while (got == 7);
        if (sec >= 150)
            continue;                   /* then everything runs out */
        for (uint32_t k = 0; k < 50; k++) {
            /* UDP flows refreshed now and then (idle and active timeouts),
             * and unanswered SYNs (30 s) */
            uint32_t id = (uint32_t)(sec * 50 + k) % 1500;
            struct dec_pkt u = pk(17, 0x0a000000 + id, 4000, 0x08080808, 53, 0, 80, 0);
            struct dec_pkt y = pk(6, 0x0b000000 + (uint32_t)(sec * 50 + k), 5000, 0x0a000001, 22,
                                  0x02, 60, 0);
            flow_packet(fa, &u, t + k, &h, collect_to, &a);
            flow_packet(fb, &u, t + k, &h, collect_to, &b);
            flow_packet(fa, &y, t + k, &h, collect_to, &a);
            flow_packet(fb, &y, t + k, &h, collect_to, &b);
        }
    }
    CU_ASSERT(calls > 2000);
    CU_ASSERT_EQUAL(a.n, b.n);
    CU_ASSERT(a.n > 8000 - 1);
    unsigned n = a.n < 8192 ? a.n : 8192;
    qsort(a.r, n, sizeof(a.r[0]), rec_cmp);
    qsort(b.r, n, sizeof(b.r[0]), rec_cmp);
    unsigned same = 0, active = 0;
    for (unsigned i = 0; i < n; i++) {
        same += rec_cmp(&a.r[i], &b.r[i]) == 0 && a.r[i].dir[0].bytes == b.r[i].dir[0].bytes;
        active += a.r[i].reason == FLOW_END_ACTIVE;
    }
    CU_ASSERT_EQUAL(same, n);
    CU_ASSERT(active > 0);
    flow_free(fa);
    flow_free(fb);

    /* 500 flows due; 100 taken; a packet on one still waiting keeps it. */
    struct flow_table *ft = mk(1024);
    a.n = 0;
    for (uint32_t i = 0; i < 500; i++) {
        struct dec_pkt u = pk(17, 0x0c000000 + i, 4000, 0x08080808, 53, 0, 80, 0);
        flow_packet(ft, &u, t0, &h, collect_to, &a);
    }
    flow_advance_some(ft, t0, collect_to, &a, 1000);
    CU_ASSERT_EQUAL(flow_advance_some(ft, t0 + 61 * S, collect_to, &a, 100), 100);
    CU_ASSERT_EQUAL(a.n, 100);
    /* which of them is still in? the flush below would say; take one that
     * is not among the 100 records */
    uint32_t keep = 0;
    for (uint32_t i = 0; i < 500 && !keep; i++) {
        int out = 0;
        for (unsigned j = 0; j < a.n; j++)
            out |= a.r[j].src.b[3] == (uint8_t)i && a.r[j].src.b[2] == (uint8_t)(i >> 8);
        if (!out)
            keep = 0x0c000000 + i;
    }
    CU_ASSERT_FATAL(keep != 0);
    struct dec_pkt again = pk(17, keep, 4000, 0x08080808, 53, 0, 80, 0);
    CU_ASSERT_EQUAL(flow_packet(ft, &again, t0 + 61 * S, &h, collect_to, &a), 0);
    CU_ASSERT_EQUAL(h.is_new, 0);
    while (flow_advance_some(ft, t0 + 61 * S, collect_to, &a, 100) == 100)
        ;
    /* 499 idle; the one that saw a packet is 61 s old: its active timeout
     * (60 s) gives a record with both packets, and it stays */
    CU_ASSERT_EQUAL_FATAL(a.n, 500);
    struct flow_stats st;
    flow_stats(ft, &st);
    CU_ASSERT_EQUAL(st.in_use, 1);
    CU_ASSERT_EQUAL(st.idle, 499);
    CU_ASSERT_EQUAL(st.active, 1);
    unsigned act = 0;
    for (unsigned j = 0; j < a.n; j++)
        if (a.r[j].reason == FLOW_END_ACTIVE) {
            act++;
            CU_ASSERT_EQUAL(a.r[j].dir[0].pkts, 2);
            CU_ASSERT_EQUAL(a.r[j].src.b[3], (uint8_t)keep);
        }
    CU_ASSERT_EQUAL(act, 1);
    flow_free(ft);

    /* Full, all but one flow due and not yet taken, one alive: a new flow
     * evicts a due one, not the live one. */
    ft = mk(1024);
    flow_stats(ft, &st);
    CU_ASSERT_FATAL(st.capacity >= 2 && st.capacity <= 8192);
    a.n = 0;
    for (uint32_t i = 0; i + 1 < st.capacity; i++) {
        struct dec_pkt u = pk(17, 0x0d000000 + i, 4000, 0x08080808, 53, 0, 80, 0);
        flow_packet(ft, &u, t0, &h, collect_to, &a);
    }
    struct dec_pkt alive = pk(17, 0x0e000001, 4000, 0x08080808, 53, 0, 80, 0);
    flow_packet(ft, &alive, t0 + 30 * S, &h, collect_to, &a);
    flow_advance_some(ft, t0 + 61 * S, collect_to, &a, 0);
    CU_ASSERT_EQUAL(a.n, 0);
    struct dec_pkt newer = pk(17, 0x0f000001, 4000, 0x08080808, 53, 0, 80, 0);
    flow_packet(ft, &newer, t0 + 61 * S, &h, collect_to, &a);
    CU_ASSERT_EQUAL_FATAL(a.n, 1);
    CU_ASSERT_EQUAL(a.r[0].reason, FLOW_END_EVICT);
    CU_ASSERT_EQUAL(a.r[0].src.b[0], 0x0d);
    flow_free(ft);
}

static void
test_initiator(void)
{
    struct flow_table *ft = mk(1024);
    uint64_t t = 1700000000 * S;
    /* first packet seen is the SYN-ACK: the receiver started it */
    CU_ASSERT_EQUAL(feed(ft, pk(6, 2, 443, 1, 50000, 0x12, 60, 0), t), 1);
    /* a DNS answer first: the client (high port) is the initiator */
    CU_ASSERT_EQUAL(feed(ft, pk(17, 9, 53, 1, 40000, 0, 100, 0), t), 1);
    flow_flush(ft, collect, NULL);
    CU_ASSERT_EQUAL_FATAL(n_recs, 2);
    for (unsigned i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(recs[i].src.b[3], 1);
        CU_ASSERT(recs[i].dport == 443 || recs[i].dport == 53);
    }
    flow_free(ft);
}

/* An IPv6 packet: addresses 2001:db8::/32 + 'a' and 'b' in the last bytes,
 * so the first four bytes (which the entry keeps) are the same for all. */
static struct dec_pkt
pk6(uint8_t a, uint16_t sp, uint8_t b, uint16_t dp, uint8_t flags)
{
    struct dec_pkt p = pk(6, 0, sp, 0, dp, flags, 80, 0);
    static const uint8_t pre[4] = { 0x20, 0x01, 0x0d, 0xb8 };
    p.family = 6;
    memcpy(p.src.b, pre, 4);
    memcpy(p.dst.b, pre, 4);
    p.src.b[15] = a;
    p.dst.b[15] = b;
    return p;
}

/* IPv6 flows keep bytes 4..15 of their addresses outside the entry: flows
 * that differ only there stay apart, both directions still merge, the
 * records carry the whole addresses, an ICMPv6 error finds its flow, and an
 * IPv4 flow with the same first four bytes is a flow of its own. */
static void
test_ipv6_addresses(void)
{
    struct flow_table *ft = mk(1024);
    uint64_t t = 1700000000 * S;
    CU_ASSERT_EQUAL(feed(ft, pk6(1, 40000, 2, 443, 0x02), t), 0);
    CU_ASSERT_EQUAL(feed(ft, pk6(3, 40000, 2, 443, 0x02), t), 0);     /* another source */
    CU_ASSERT_EQUAL(feed(ft, pk6(2, 443, 1, 40000, 0x12), t + 1000), 1);
    CU_ASSERT_EQUAL(feed(ft, pk6(1, 40000, 2, 443, 0x10), t + 2000), 0);
    /* 32.1.13.184 is 2001:db8:: in its first four bytes */
    CU_ASSERT_EQUAL(feed(ft, pk(6, 0x20010db8, 40000, 0x20010db8, 443, 0x02, 60, 0), t), 0);
    struct dec_pkt q = pk6(3, 40000, 2, 443, 0x02);
    struct conn_event ev;
    CU_ASSERT_EQUAL(flow_reject(ft, &q, &ev), 1);
    CU_ASSERT_EQUAL(ev.src.b[15], 3);
    CU_ASSERT_EQUAL(ev.family, 6);
    struct flow_stats st;
    flow_stats(ft, &st);
    CU_ASSERT_EQUAL(st.in_use, 3);
    flow_flush(ft, collect, NULL);
    CU_ASSERT_EQUAL_FATAL(n_recs, 3);
    int seen = 0;
    for (unsigned i = 0; i < n_recs; i++) {
        const struct flow_rec *r = &recs[i];
        if (r->family == 4) {
            seen |= 4;
            CU_ASSERT_EQUAL(r->src.b[0], 0x20);
            CU_ASSERT_EQUAL(r->src.b[15], 0);
            continue;
        }
        CU_ASSERT_EQUAL(r->src.b[0], 0x20);
        CU_ASSERT_EQUAL(r->dst.b[15], 2);
        if (r->src.b[15] == 1) {
            seen |= 1;
            CU_ASSERT_EQUAL(r->dir[0].pkts, 2);
            CU_ASSERT_EQUAL(r->dir[1].pkts, 1);
        } else if (r->src.b[15] == 3) {
            seen |= 2;
            CU_ASSERT_EQUAL(r->dir[0].pkts, 1);
            CU_ASSERT_EQUAL(r->dir[1].pkts, 0);
            CU_ASSERT_EQUAL(r->outcome, CONN_REJECTED);
        }
    }
    CU_ASSERT_EQUAL(seen, 7);
    flow_free(ft);

    /* 1,500 flows that differ only in the last two bytes of the source:
     * hundreds share a bucket with another, and none may merge. */
    ft = mk(4096);
    for (unsigned k = 0; k < 1500; k++) {
        struct dec_pkt p = pk6(0, 40000, 2, 443, 0x02);
        p.src.b[14] = (uint8_t)(k >> 8);
        p.src.b[15] = (uint8_t)k;
        CU_ASSERT_EQUAL(feed(ft, p, t), 0);
    }
    flow_stats(ft, &st);
    CU_ASSERT_EQUAL(st.in_use, 1500);
    flow_flush(ft, collect, NULL);
    CU_ASSERT_EQUAL(n_recs, 1500);
    unsigned whole = 0;
    for (unsigned i = 0; i < n_recs && i < sizeof(recs) / sizeof(recs[0]); i++)
        whole += recs[i].src.b[1] == 0x01 && recs[i].dst.b[15] == 2 &&
                 recs[i].dir[0].pkts == 1;
    CU_ASSERT_EQUAL(whole, 1500);
    flow_free(ft);
}

/* ==== Sorted flush and keysort ==== */

struct recvec {
    struct flow_rec *r;
    size_t n, cap;
};

static void
collect_vec(void *arg, const struct flow_rec *r)
{
    struct recvec *v = arg;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 256;
        v->r = realloc(v->r, v->cap * sizeof(*v->r));
    }
    v->r[v->n] = *r;
    v->r[v->n++].seq = 0;           /* numbered in emit order: not content */
}

/* The reference: a stable sort by flow_rec_cmp (ties by emit order). */
struct idx_rec {
    const struct flow_rec *r;
    size_t i;
};

static int
cmp_idx_rec(const void *a, const void *b)
{
    const struct idx_rec *x = a, *y = b;
    int c = flow_rec_cmp(x->r, y->r);
    if (c)
        return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The same flows fed to two tables: a mix of IPv4 and IPv6, start times
 * drawn from few values (so many tie on the first field), answered and
 * not, and established TCP flows that an active timeout left without
 * packets (they make no flush record). */
static void
feed_mix(struct flow_table *ft, unsigned n, uint64_t t0, unsigned seed)
{
    struct flow_hit h;
    uint64_t x = seed;
    for (unsigned k = 0; k < n; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t ts = t0 + (x >> 60) * 1000;            /* 16 distinct times */
        struct dec_pkt p;
        if ((x >> 20) % 5 == 0) {
            p = pk6((uint8_t)(x >> 24), (uint16_t)(1024 + k), (uint8_t)(x >> 32), 443, 0x02);
        } else {
            p = pk(((x >> 40) & 1) ? 6 : 17, 0x0a000000u | (uint32_t)(x >> 44), (uint16_t)(1024 + k),
                   0x08080808u + (uint32_t)((x >> 8) & 3), 53, 0x02, 60, 0);
        }
        flow_packet(ft, &p, ts, &h, collect, NULL);
        if ((x >> 50) % 3 == 0) {                       /* the answer */
            struct dec_pkt q = p;
            q.src = p.dst;
            q.dst = p.src;
            q.sport = p.dport;
            q.dport = p.sport;
            q.tcp_flags = 0x12;
            flow_packet(ft, &q, ts + 500, &h, collect, NULL);
        }
    }
}

static void
check_flush_sorted(unsigned n, uint32_t cap)
{
    uint64_t t0 = 1700000000 * S;
    struct flow_table *a = mk(cap), *b = mk(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    struct recvec ra = { 0 }, rb = { 0 }, drop = { 0 };
    /* Established TCP flows, then past the active timeout: records now,
     * and entries with no packets at the flush. */
    for (unsigned k = 0; k < 20; k++) {
        struct flow_hit h;
        struct dec_pkt p = pk(6, 0x0b000000u + k, 5000, 0x0c000001, 22, 0x02, 60, 0);
        struct dec_pkt q = pk(6, 0x0c000001, 22, 0x0b000000u + k, 5000, 0x12, 60, 0);
        flow_packet(a, &p, t0 - 100 * S, &h, collect_vec, &drop);
        flow_packet(a, &q, t0 - 100 * S, &h, collect_vec, &drop);
        flow_packet(b, &p, t0 - 100 * S, &h, collect_vec, &drop);
        flow_packet(b, &q, t0 - 100 * S, &h, collect_vec, &drop);
        p.tcp_flags = 0x10;
        flow_packet(a, &p, t0 - 100 * S, &h, collect_vec, &drop);
        flow_packet(b, &p, t0 - 100 * S, &h, collect_vec, &drop);
    }
    flow_advance(a, t0 - 100 * S, collect_vec, &drop);
    flow_advance(b, t0 - 100 * S, collect_vec, &drop);
    flow_advance(a, t0 - 30 * S, collect_vec, &drop);
    flow_advance(b, t0 - 30 * S, collect_vec, &drop);
    CU_ASSERT_EQUAL(drop.n, 40);                        /* 20 active-timeout records each */
    feed_mix(a, n, t0, 7);
    feed_mix(b, n, t0, 7);

    flow_flush(a, collect_vec, &ra);
    CU_ASSERT_EQUAL_FATAL(flow_flush_sorted(b, collect_vec, &rb), 0);
    CU_ASSERT_EQUAL_FATAL(ra.n, rb.n);
    CU_ASSERT(ra.n >= n / 2);
    struct idx_rec *ix = calloc(ra.n ? ra.n : 1, sizeof(*ix));
    for (size_t i = 0; i < ra.n; i++)
        ix[i] = (struct idx_rec){ &ra.r[i], i };
    qsort(ix, ra.n, sizeof(*ix), cmp_idx_rec);
    size_t same = 0;
    for (size_t i = 0; i < ra.n; i++)
        same += memcmp(ix[i].r, &rb.r[i], sizeof(rb.r[i])) == 0;
    CU_ASSERT_EQUAL(same, ra.n);
    free(ix);

    /* Both tables are empty and work as new. */
    struct flow_stats sa, sb;
    flow_stats(a, &sa);
    flow_stats(b, &sb);
    CU_ASSERT_EQUAL(sa.in_use, 0);
    CU_ASSERT_EQUAL(sb.in_use, 0);
    CU_ASSERT_EQUAL(sa.flushed, sb.flushed);
    CU_ASSERT_EQUAL(sb.flushed, ra.n + 20);
    uint64_t created = sb.created;
    ra.n = rb.n = 0;
    feed_mix(b, n, t0 + 10 * S, 7);
    flow_stats(b, &sb);
    CU_ASSERT_EQUAL(sb.created - created, sb.in_use);   /* every flow new again */
    CU_ASSERT(sb.in_use > 0 || n == 0);
    CU_ASSERT_EQUAL(flow_flush_sorted(b, collect_vec, &rb), 0);
    CU_ASSERT_EQUAL(rb.n, sb.in_use);
    for (size_t i = 1; i < rb.n; i++)
        CU_ASSERT(flow_rec_cmp(&rb.r[i - 1], &rb.r[i]) <= 0);
    free(ra.r);
    free(rb.r);
    free(drop.r);
    flow_free(a);
    flow_free(b);
}

/* flow_flush_sorted gives exactly flow_flush's records, stably sorted by
 * flow_rec_cmp, and leaves an empty table that works as new: with few
 * flows (entries unlinked one by one) and with many (the table cleared at
 * once). */
static void
test_flush_sorted(void)
{
    check_flush_sorted(60, 4096);           /* 80 entries: below nbuckets / 8 */
    check_flush_sorted(3000, 4096);
    check_flush_sorted(0, 1024);
    /* An empty table (a capture without flows): nothing, and no keys. */
    struct flow_table *ft = mk(1024);
    struct recvec v = { 0 };
    CU_ASSERT_EQUAL(flow_flush_sorted(ft, collect_vec, &v), 0);
    CU_ASSERT_EQUAL(v.n, 0);
    flow_free(ft);
}

static uint32_t ks_sec[300000];

static int
ks_tie(uintptr_t x, uintptr_t y, void *arg)
{
    (void)arg;
    return ks_sec[x] < ks_sec[y] ? -1 : ks_sec[x] > ks_sec[y];
}

struct ks_ref {
    struct sort_key s;
    size_t i;
};

static int
ks_ref_cmp(const void *a, const void *b)
{
    const struct ks_ref *x = a, *y = b;
    if (x->s.k != y->s.k)
        return x->s.k < y->s.k ? -1 : 1;
    int c = ks_tie(x->s.v, y->s.v, NULL);
    if (c)
        return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void
check_keysort(size_t n, uint64_t base, uint64_t range, uint32_t sec_range, uint64_t seed)
{
    struct sort_key *a = malloc((n ? n : 1) * sizeof(*a)), *tmp = malloc((n ? n : 1) * sizeof(*a));
    struct ks_ref *ref = malloc((n ? n : 1) * sizeof(*ref));
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = x ^ (x >> 29);
        a[i].k = base + (range ? r % range : 0);
        a[i].v = i;
        ks_sec[i] = sec_range ? (uint32_t)((x >> 33) % sec_range) : 0;
        ref[i] = (struct ks_ref){ a[i], i };
    }
    qsort(ref, n, sizeof(*ref), ks_ref_cmp);
    keysort(a, tmp, n, ks_tie, NULL);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += a[i].k == ref[i].s.k && a[i].v == ref[i].s.v;
    CU_ASSERT_EQUAL(same, n);
    free(a);
    free(tmp);
    free(ref);
}

/* keysort against a stable qsort by (key, tie, position): short and long
 * arrays, keys that differ in low or in high bits (the radix passes cover
 * only the bits that differ), the whole 64-bit range, many ties, and every
 * key equal (the runs are merge sorted: must not be quadratic). */
static void
test_keysort(void)
{
    check_keysort(0, 5, 10, 3, 1);
    check_keysort(1, 5, 10, 3, 2);
    check_keysort(31, 5, 1000, 3, 3);
    check_keysort(33, 5, 1000, 3, 4);
    check_keysort(5000, 1700000000ull * S, 1000000, 1000, 5);
    check_keysort(100000, 1700000000ull * S, 600 * S, 50, 6);
    check_keysort(100000, 0, 0, 0, 7);                  /* UINT64 range below */
    check_keysort(100000, UINT64_MAX - 100, 101, 7, 8);
    check_keysort(50000, 1ull << 63, 64, 0, 9);         /* ties all the way: stability */
    check_keysort(300000, 42, 1, 1000000, 10);          /* one key: one run of 300,000 */
    /* keys over the whole range: range 0 means none, so draw them here */
    size_t n = 70000;
    struct sort_key *a = malloc(n * sizeof(*a)), *tmp = malloc(n * sizeof(*a));
    uint64_t x = 11;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        a[i] = (struct sort_key){ (i % 3) ? x : (i % 2 ? UINT64_MAX : 0), i };
        ks_sec[i] = 0;
    }
    keysort(a, tmp, n, ks_tie, NULL);
    size_t ordered = 0;
    for (size_t i = 1; i < n; i++)
        ordered += a[i - 1].k < a[i].k || (a[i - 1].k == a[i].k && a[i - 1].v < a[i].v);
    CU_ASSERT_EQUAL(ordered, n - 1);
    free(a);
    free(tmp);
}

int
test_flow_register(void)
{
    CU_pSuite s = CU_add_suite("flow", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "both directions merge", test_merge_directions);
    CU_add_test(s, "sorted flush: flow_flush's records in flow_rec_cmp order, table empty",
                test_flush_sorted);
    CU_add_test(s, "keysort: stable, by key then tie, any key range", test_keysort);
    CU_add_test(s, "idle timeouts per protocol and state", test_idle_timeouts);
    CU_add_test(s, "active timeout keeps every packet", test_active_timeout);
    CU_add_test(s, "eviction when full", test_eviction);
    CU_add_test(s, "mirror duplicates counted once", test_mirror_duplicates);
    CU_add_test(s, "time jumps back and forward", test_time_jumps);
    CU_add_test(s, "initiator from SYN-ACK and server port", test_initiator);
    CU_add_test(s, "flows of a first burst that spans a gap expire", test_first_burst_gap);
    CU_add_test(s, "IPv6 addresses: whole in records, apart when only the tail differs", test_ipv6_addresses);
    CU_add_test(s, "paced expiry: flow_advance's records, packets between, due flows evicted first",
                test_paced_expiry);
    return 0;
}
