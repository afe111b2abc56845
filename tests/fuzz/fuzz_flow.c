/* tests/fuzz/fuzz_flow.c - libFuzzer target for the flow table under
 * hostile sequences of packets and timers, and for its sorted flush.
 *
 * The input is a program: a mode byte, then 8-byte steps (a packet from a
 * small address and port space so that flows collide, merge, close and are
 * refused; time moving by milliseconds or seconds, or back; the timers, as
 * replay runs them, flow_advance(), or as live runs them, paced by
 * flow_advance_some(); a flush). Two tables are fed the same program: their
 * records must be the same up to each flush. There, table A is flushed with
 * flow_flush() and its records sorted stably by flow_rec_cmp, what the
 * replay's timer batch does; table B with flow_flush_sorted(): the two must
 * give the same records in the same order, and leave both tables empty.
 * A small table (the minimum, 1024) so that the later steps of a long input
 * evict. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

#define S 1000000000ull

struct recs {
    struct flow_rec *r;
    size_t n, cap;
};

static void
keep(void *arg, const struct flow_rec *r)
{
    struct recs *v = arg;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->r = realloc(v->r, v->cap * sizeof(*v->r));
        if (!v->r)
            abort();
    }
    v->r[v->n] = *r;
    v->r[v->n++].seq = 0;           /* numbered in emit order */
}

static void
same_or_trap(const struct recs *a, const struct recs *b)
{
    if (a->n != b->n)
        __builtin_trap();
    for (size_t i = 0; i < a->n; i++)
        if (memcmp(&a->r[i], &b->r[i], sizeof(a->r[i])) != 0)
            __builtin_trap();
}

struct ix {
    const struct flow_rec *r;
    size_t i;
};

static int
cmp_ix(const void *x, const void *y)
{
    const struct ix *a = x, *b = y;
    int c = flow_rec_cmp(a->r, b->r);
    return c ? c : (a->i < b->i ? -1 : a->i > b->i);
}

/* A's flush records, sorted stably, must be B's sorted flush. */
static void
flush_both(struct flow_table *a, struct flow_table *b)
{
    struct recs ra = { 0 }, rb = { 0 };
    flow_flush(a, keep, &ra);
    if (flow_flush_sorted(b, keep, &rb) != 0)
        __builtin_trap();           /* 1024 entries' keys: cannot fail here */
    struct ix *ix = malloc((ra.n ? ra.n : 1) * sizeof(*ix));
    struct recs sorted = { malloc((ra.n ? ra.n : 1) * sizeof(*ra.r)), ra.n, ra.n };
    if (!ix || !sorted.r)
        abort();
    for (size_t i = 0; i < ra.n; i++)
        ix[i] = (struct ix){ &ra.r[i], i };
    qsort(ix, ra.n, sizeof(*ix), cmp_ix);
    for (size_t i = 0; i < ra.n; i++)
        sorted.r[i] = *ix[i].r;
    same_or_trap(&sorted, &rb);
    struct flow_stats sa, sb;
    flow_stats(a, &sa);
    flow_stats(b, &sb);
    if (sa.in_use || sb.in_use || sa.flushed != sb.flushed)
        __builtin_trap();
    free(ix);
    free(sorted.r);
    free(ra.r);
    free(rb.r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int live = data[0] & 1;
    struct flow_cfg c = { .max_flows = 1024, .active_s = 1 + (data[0] >> 1) % 60,
                          .dedup = (data[0] >> 7) & 1, .seed = 7 };
    c.timeout_s[FC_TCP_SYN] = 3;
    c.timeout_s[FC_TCP_EST] = 30;
    c.timeout_s[FC_TCP_CLOSED] = 1;
    c.timeout_s[FC_UDP] = 20;
    c.timeout_s[FC_ICMP] = 5;
    c.timeout_s[FC_OTHER] = 60;
    struct flow_table *a = flow_new(&c), *b = flow_new(&c);
    if (!a || !b)
        abort();
    struct recs ra = { 0 }, rb = { 0 };
    uint64_t now = 1700000000ull * S;

    for (size_t off = 1; off + 8 <= size; off += 8) {
        const uint8_t *s = data + off;
        unsigned op = s[0] & 7;
        /* time: forward by ms or s, sometimes back (a replayed capture's
         * time stamps are not always in order) */
        uint64_t dt = (uint64_t)s[7] * ((s[0] & 0x80) ? S : 1000000ull);
        if ((s[0] & 0x40) && now > dt)
            now -= dt / 4;
        else
            now += dt;
        if (op <= 4) {
            struct dec_pkt p;
            memset(&p, 0, sizeof(p));
            static const uint8_t protos[4] = { 6, 17, 1, 47 };
            p.proto = protos[s[1] & 3];
            p.family = (s[1] & 4) ? 6 : 4;
            if (p.family == 6 && p.proto == 1)
                p.proto = 58;
            /* few addresses: IPv6 ones differ only after the first four bytes */
            p.src.b[0] = 10;
            p.dst.b[0] = 10;
            if (p.family == 6)
                p.src.b[15] = s[2], p.dst.b[15] = s[3];
            else
                p.src.b[3] = s[2], p.dst.b[3] = s[3];
            p.sport = (uint16_t)(s[4] & 0x0f) * 1000 + 53;
            p.dport = (uint16_t)(s[4] >> 4) * 1000 + 22;
            if (p.proto == 1 || p.proto == 58) {
                p.icmp_type = s[5] & 0x0f;
                p.sport = p.icmp_type;
                p.dport = 0;
            }
            p.tcp_flags = p.proto == 6 ? s[6] : 0;
            p.vlan = s[1] >> 6;
            p.vni = (s[1] >> 3) & 1;
            p.ip_len = 40u + s[5];
            p.payload_len = s[5] & 0x1f;
            if (op == 4) {
                struct conn_event ea, eb;
                int xa = flow_reject(a, &p, &ea), xb = flow_reject(b, &p, &eb);
                if (xa != xb || (xa && memcmp(&ea, &eb, sizeof(ea)) != 0))
                    __builtin_trap();
                continue;
            }
            struct flow_hit ha, hb;
            int xa = flow_packet(a, &p, now, &ha, keep, &ra);
            int xb = flow_packet(b, &p, now, &hb, keep, &rb);
            if (xa != xb || (xa == 0 && (ha.dir != hb.dir || ha.is_new != hb.is_new ||
                                         ha.pkts != hb.pkts || ha.outcome != hb.outcome)))
                __builtin_trap();
        } else if (op <= 6) {
            if (live) {
                unsigned budget = 1 + s[1] % 16;
                if (flow_due(a, now) != flow_due(b, now))
                    __builtin_trap();
                flow_advance_some(a, now, keep, &ra, budget);
                flow_advance_some(b, now, keep, &rb, budget);
            } else {
                flow_advance(a, now, keep, &ra);
                flow_advance(b, now, keep, &rb);
            }
        } else {
            same_or_trap(&ra, &rb);
            ra.n = rb.n = 0;
            flush_both(a, b);
        }
        struct flow_stats sa;
        flow_stats(a, &sa);
        if (sa.in_use > sa.capacity)
            __builtin_trap();
    }
    same_or_trap(&ra, &rb);
    flush_both(a, b);
    free(ra.r);
    free(rb.r);
    flow_free(a);
    flow_free(b);
    return 0;
}
