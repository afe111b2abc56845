/* decoders/flow.c - flow table with a lazy timing wheel; see flow.h. */
#include "flow.h"
#include "bigmem.h"
#include "keysort.h"

#include <stdlib.h>
#include <string.h>

#define NIL        UINT32_MAX
#define WHEEL      4096u            /* one-second slots */
#define WHEEL_MASK (WHEEL - 1)
#define MS_UNSET   UINT32_MAX
#define NS_PER_MS  1000000ull
#define NS_PER_S   1000000000ull

/* One flow. 96 bytes: keep it so (a static assert below), the bytes-per-flow
 * figure in the README depends on it. Every packet reads and writes its
 * entry, so the entry holds what a packet needs: the first four bytes of
 * each address, which is all of an IPv4 address (the decoder zeroes the
 * rest); the other twelve bytes of an IPv6 flow's addresses wait in
 * ft->a6, which IPv4 flows never touch. 120-byte entries with the whole
 * addresses spanned two or three cache lines; these span two, and 41,486
 * flows take 4 MB of cache instead of 5 (README, Speed). Times are
 * milliseconds after base_ns (the flow's first packet), which keeps four
 * timestamps in 16 bytes. */
struct flow_ent {
    uint32_t src4, dst4;            /* initiator, responder: first 4 bytes */
    uint16_t sport, dport;
    uint8_t  proto, family, state, cls;
    uint8_t  tflags[2];             /* TCP flags OR'd per direction */
    uint16_t vlan;
    uint32_t hnext;                 /* bucket chain; NIL ends; free list too */
    uint32_t wprev, wnext;          /* wheel slot list */
    uint32_t vni[2];                /* session that owns each direction */
    uint64_t base_ns;
    uint64_t bytes[2];
    uint32_t pkts[2];
    uint32_t first_ms[2], last_ms[2];   /* MS_UNSET: no packet in this record */
    uint32_t deadline;              /* second whose slot holds the entry */
    uint8_t  vni_set;               /* bit d: vni[d] valid */
    uint8_t  outcome;               /* enum conn_outcome, once known */
    uint8_t  app;                   /* enum app_hint */
    uint8_t  _pad;
};
_Static_assert(sizeof(struct flow_ent) == 96, "flow entry must stay 96 bytes");

/* Bytes 4..15 of an IPv6 flow's addresses, at the entry's index. */
struct flow_a6 {
    uint8_t src[12], dst[12];
};

struct flow_table {
    struct flow_ent *ents;
    struct flow_a6 *a6;             /* per entry; written by IPv6 flows only */
    uint32_t *buckets;              /* ~index of the chain head: calloc's 0 = NIL */
    uint32_t nbuckets, mask;
    uint32_t capacity;
    uint32_t free_head;             /* released entries */
    uint32_t next_new;              /* entries never used start here */
    uint32_t wheel[WHEEL];
    uint64_t cur_s;                 /* wheel time: last second processed */
    uint64_t done_s;                /* live, paced (flow_advance_some): slots up to this one
                                       are done, those after it up to cur_s are due; else = cur_s */
    int      started;
    struct flow_cfg cfg;
    struct flow_stats st;
};

/* ==== Hashing ==== */

static inline uint64_t
mix64(uint64_t x)
{
    /* splitmix64 finaliser: cheap, full avalanche */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static inline uint64_t
load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t
load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* One multiply per 64-bit word and a commutative sum of the two endpoints
 * (so both directions hash alike), then one full mix: enough spread for a
 * power-of-two table, and the seed keeps chains unpredictable to senders. */
static inline uint64_t
endpoint_hash(const struct mg_addr *a, uint16_t port, uint64_t seed)
{
    uint64_t lo = load64(a->b) ^ seed;
    uint64_t hi = load64(a->b + 8) ^ port;
    return (lo * 0x9e3779b97f4a7c15ull) ^ ((hi + seed) * 0xc2b2ae3d27d4eb4full);
}

static inline uint64_t
key_hash(const struct mg_addr *s, uint16_t sp, const struct mg_addr *d, uint16_t dp,
         uint8_t proto, uint16_t vlan, uint64_t seed)
{
    uint64_t h = endpoint_hash(s, sp, seed) + endpoint_hash(d, dp, seed);
    return mix64(h ^ ((uint64_t)proto << 16 | vlan));
}

uint64_t
flow_hash(const struct dec_pkt *p, uint64_t seed)
{
    return key_hash(&p->src, p->sport, &p->dst, p->dport, p->proto, p->vlan, seed);
}

/* ==== Table ==== */

struct flow_table *
flow_new(const struct flow_cfg *c)
{
    struct flow_table *ft = calloc(1, sizeof(*ft));
    if (!ft)
        return NULL;
    ft->cfg = *c;
    uint32_t n = 1024;
    while (n < c->max_flows && n < (1u << 28))
        n <<= 1;
    ft->capacity = n;
    /* One bucket per two entries: a full table's chains average two, and
     * the bucket array, which every packet touches at random, is half as
     * large (2 MiB for a million flows): one worker measured 111 -> 104 ns
     * per packet on the bench capture (README, Speed). */
    ft->nbuckets = n / 2;
    ft->mask = ft->nbuckets - 1;
    /* big_alloc (bigmem.h): zero pages handed out as they are touched, 2 MiB
     * at a time, so a table sized for a million flows costs memory only for
     * the flows seen (peak RSS, not table_bytes, is what a quiet sensor
     * uses), start-up does not fault in 120 MB, and the lookups, which land
     * at random in megabytes, do not miss the TLB on 4 KiB pages. Buckets
     * hold ~index so zero means empty. */
    ft->ents = big_alloc((size_t)n * sizeof(*ft->ents));
    ft->a6 = big_alloc((size_t)n * sizeof(*ft->a6));
    ft->buckets = big_alloc((size_t)ft->nbuckets * sizeof(*ft->buckets));
    if (!ft->ents || !ft->a6 || !ft->buckets) {
        flow_free(ft);
        return NULL;
    }
    ft->free_head = NIL;
    ft->next_new = 0;
    for (uint32_t i = 0; i < WHEEL; i++)
        ft->wheel[i] = NIL;
    ft->st.capacity = n;
    ft->st.bytes_alloc = (uint64_t)n * (sizeof(*ft->ents) + sizeof(*ft->a6)) +
                         (uint64_t)ft->nbuckets * sizeof(*ft->buckets);
    return ft;
}

void
flow_free(struct flow_table *ft)
{
    if (!ft)
        return;
    big_free(ft->ents, (size_t)ft->capacity * sizeof(*ft->ents));
    big_free(ft->a6, (size_t)ft->capacity * sizeof(*ft->a6));
    big_free(ft->buckets, (size_t)ft->nbuckets * sizeof(*ft->buckets));
    free(ft);
}

static inline int
flow_cls(const struct flow_ent *e)
{
    switch (e->proto) {
    case 6:
        switch (e->state) {
        case TCP_ESTABLISHED: case TCP_FIN: return FC_TCP_EST;
        case TCP_CLOSED: case TCP_RST: return FC_TCP_CLOSED;
        default: return FC_TCP_SYN;
        }
    case 17: case 136: return FC_UDP;
    case 1: case 58: return FC_ICMP;
    default: return FC_OTHER;
    }
}

static inline uint32_t
max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

/* Bytes 4..15 of an address are zero (every IPv4 address). */
static inline int
rest_zero(const struct mg_addr *a)
{
    return (load64(a->b + 4) | load32(a->b + 12)) == 0;
}

/* Entry i's addresses, whole. */
static void
ent_addrs(const struct flow_table *ft, uint32_t i, struct mg_addr *src, struct mg_addr *dst)
{
    const struct flow_ent *e = &ft->ents[i];
    memset(src, 0, sizeof(*src));
    memset(dst, 0, sizeof(*dst));
    memcpy(src->b, &e->src4, 4);
    memcpy(dst->b, &e->dst4, 4);
    if (e->family == 6) {
        memcpy(src->b + 4, ft->a6[i].src, 12);
        memcpy(dst->b + 4, ft->a6[i].dst, 12);
    }
}

/* Do a and b (16-byte addresses) equal entry i's initiator and responder?
 * 'zero': bytes 4..15 of both a and b are zero, which an IPv4 entry needs;
 * only an IPv6 entry reads ft->a6. */
static inline int
ent_addrs_eq(const struct flow_table *ft, uint32_t i, const struct mg_addr *a,
             const struct mg_addr *b, int zero)
{
    const struct flow_ent *e = &ft->ents[i];
    if (e->src4 != load32(a->b) || e->dst4 != load32(b->b))
        return 0;
    if (e->family != 6)
        return zero;
    return !memcmp(ft->a6[i].src, a->b + 4, 12) && !memcmp(ft->a6[i].dst, b->b + 4, 12);
}

/* The entry of p's flow on the chain that starts at i, and p's direction in
 * it (*dir: 0 = initiator to responder); NIL when the chain has none. */
static inline uint32_t
chain_find(const struct flow_table *ft, uint32_t i, const struct dec_pkt *p, int *dir)
{
    int zero = rest_zero(&p->src) && rest_zero(&p->dst);
    while (i != NIL) {
        const struct flow_ent *e = &ft->ents[i];
        if (e->proto == p->proto && e->vlan == p->vlan) {
            if (e->sport == p->sport && e->dport == p->dport &&
                ent_addrs_eq(ft, i, &p->src, &p->dst, zero)) {
                *dir = 0;
                return i;
            }
            if (e->sport == p->dport && e->dport == p->sport &&
                ent_addrs_eq(ft, i, &p->dst, &p->src, zero)) {
                *dir = 1;
                return i;
            }
        }
        i = e->hnext;
    }
    return NIL;
}

/* The second at which e must be looked at again. */
static uint64_t
ent_deadline(const struct flow_table *ft, const struct flow_ent *e, int *is_idle)
{
    uint32_t last = 0;
    uint32_t start = MS_UNSET;
    for (int d = 0; d < 2; d++) {
        if (e->last_ms[d] != MS_UNSET)
            last = max_u32(last, e->last_ms[d]);
        if (e->pkts[d] && e->first_ms[d] < start)
            start = e->first_ms[d];
    }
    uint64_t idle = (e->base_ns + last * NS_PER_MS) / NS_PER_S + ft->cfg.timeout_s[e->cls];
    if (start == MS_UNSET) {
        *is_idle = 1;
        return idle;
    }
    uint64_t act = (e->base_ns + start * NS_PER_MS) / NS_PER_S + ft->cfg.active_s;
    *is_idle = idle <= act;
    return idle <= act ? idle : act;
}

static inline void
wheel_link(struct flow_table *ft, uint32_t i, uint64_t dl)
{
    struct flow_ent *e = &ft->ents[i];
    if (dl <= ft->cur_s)
        dl = ft->cur_s + 1;
    e->deadline = (uint32_t)dl;
    uint32_t s = (uint32_t)dl & WHEEL_MASK;
    e->wprev = NIL;
    e->wnext = ft->wheel[s];
    if (e->wnext != NIL)
        ft->ents[e->wnext].wprev = i;
    ft->wheel[s] = i;
}

static inline void
wheel_unlink(struct flow_table *ft, uint32_t i)
{
    struct flow_ent *e = &ft->ents[i];
    if (e->wprev != NIL)
        ft->ents[e->wprev].wnext = e->wnext;
    else
        ft->wheel[e->deadline & WHEEL_MASK] = e->wnext;
    if (e->wnext != NIL)
        ft->ents[e->wnext].wprev = e->wprev;
}

/* The record of entry e (seq not set). */
static void
ent_rec(const struct flow_table *ft, const struct flow_ent *e, int reason, struct flow_rec *out)
{
    struct flow_rec r;
    memset(&r, 0, sizeof(r));
    ent_addrs(ft, (uint32_t)(e - ft->ents), &r.src, &r.dst);
    r.sport = e->sport;
    r.dport = e->dport;
    r.proto = e->proto;
    r.family = e->family;
    r.reason = (uint8_t)reason;
    r.tcp_state = e->state;
    r.vlan = e->vlan;
    r.vni = e->vni[0];
    r.outcome = e->outcome;
    r.app = e->app;
    r.start_ns = e->base_ns;
    for (int d = 0; d < 2; d++) {
        r.dir[d].pkts = e->pkts[d];
        r.dir[d].bytes = e->bytes[d];
        r.dir[d].tcp_flags = e->tflags[d];
        r.dir[d].vni = e->vni[d];
        if (e->pkts[d]) {
            r.dir[d].first_ns = e->base_ns + e->first_ms[d] * NS_PER_MS;
            r.dir[d].last_ns = e->base_ns + e->last_ms[d] * NS_PER_MS;
        }
    }
    if (!(e->vni_set & 1))
        r.vni = e->vni[1];
    *out = r;
}

static void
emit_rec(struct flow_table *ft, const struct flow_ent *e, int reason,
         flow_emit_cb emit, void *arg)
{
    if (!e->pkts[0] && !e->pkts[1])
        return;                     /* nothing since the last record */
    struct flow_rec r;
    ent_rec(ft, e, reason, &r);
    r.seq = ft->st.records++;
    emit(arg, &r);
}

/* Take entry i out of its bucket chain and put it on the free list. */
static void
ent_release(struct flow_table *ft, uint32_t i)
{
    struct flow_ent *e = &ft->ents[i];
    struct mg_addr src, dst;
    ent_addrs(ft, i, &src, &dst);
    uint32_t b = (uint32_t)key_hash(&src, e->sport, &dst, e->dport, e->proto,
                                    e->vlan, ft->cfg.seed) & ft->mask;
    if (~ft->buckets[b] == i) {
        ft->buckets[b] = ~e->hnext;
    } else {
        uint32_t j = ~ft->buckets[b];
        while (j != NIL && ft->ents[j].hnext != i)
            j = ft->ents[j].hnext;
        if (j != NIL)
            ft->ents[j].hnext = e->hnext;
    }
    e->hnext = ft->free_head;
    ft->free_head = i;
    ft->st.in_use--;
}

/* Active timeout: the record is written, the flow goes on. */
static void
ent_reset_counters(struct flow_ent *e)
{
    for (int d = 0; d < 2; d++) {
        e->pkts[d] = 0;
        e->bytes[d] = 0;
        e->tflags[d] = 0;
        e->first_ms[d] = MS_UNSET;
    }
}

/* Entry i, out of the wheel, whose slot came due: expire it (idle: out of
 * the table; active timeout: a record, and on it goes) or, when what it saw
 * since moved its deadline, put it where the deadline now is. */
static void
expire_ent(struct flow_table *ft, uint32_t i, uint64_t now_s, flow_emit_cb emit, void *arg)
{
    struct flow_ent *e = &ft->ents[i];
    int idle;
    uint64_t dl = ent_deadline(ft, e, &idle);
    if (dl <= now_s) {
        if (idle) {
            emit_rec(ft, e, FLOW_END_IDLE, emit, arg);
            ft->st.idle++;
            ent_release(ft, i);
        } else {
            emit_rec(ft, e, FLOW_END_ACTIVE, emit, arg);
            ft->st.active++;
            ent_reset_counters(e);
            dl = ent_deadline(ft, e, &idle);
            wheel_link(ft, i, dl);
        }
    } else {
        wheel_link(ft, i, dl);
    }
}

static void
process_slot(struct flow_table *ft, uint32_t slot, uint64_t now_s,
             flow_emit_cb emit, void *arg)
{
    uint32_t i = ft->wheel[slot];
    ft->wheel[slot] = NIL;              /* detach: re-links may land here again */
    while (i != NIL) {
        uint32_t next = ft->ents[i].wnext;
        expire_ent(ft, i, now_s, emit, arg);
        i = next;
    }
}

void
flow_advance(struct flow_table *ft, uint64_t now_ns, flow_emit_cb emit, void *arg)
{
    uint64_t now_s = now_ns / NS_PER_S;
    if (!ft->started) {
        ft->started = 1;
        ft->cur_s = ft->done_s = now_s;
        return;
    }
    if (now_s <= ft->cur_s)
        return;
    uint64_t steps = now_s - ft->cur_s;
    if (steps > WHEEL)
        steps = WHEEL;                  /* a jump of months: one lap visits all */
    uint64_t from = ft->cur_s;
    ft->cur_s = ft->done_s = now_s;     /* re-links go after now */
    for (uint64_t k = 1; k <= steps; k++)
        process_slot(ft, (uint32_t)(from + k) & WHEEL_MASK, now_s, emit, arg);
}

unsigned
flow_advance_some(struct flow_table *ft, uint64_t now_ns, flow_emit_cb emit, void *arg,
                  unsigned budget)
{
    uint64_t now_s = now_ns / NS_PER_S;
    if (!ft->started) {
        ft->started = 1;
        ft->cur_s = ft->done_s = now_s;
        return 0;
    }
    if (now_s > ft->cur_s)
        ft->cur_s = now_s;              /* re-links go after now, never into a due slot */
    if (ft->cur_s - ft->done_s > WHEEL)
        ft->done_s = ft->cur_s - WHEEL; /* a jump of months: one lap visits all */
    unsigned n = 0;
    while (ft->done_s < ft->cur_s) {
        uint32_t slot = (uint32_t)(ft->done_s + 1) & WHEEL_MASK;
        /* The due entries stay linked in their slot until taken, so packets
         * may still touch them; one whose deadline is a lap ahead stays. */
        uint32_t i = ft->wheel[slot];
        while (i != NIL && n < budget) {
            uint32_t next = ft->ents[i].wnext;
            if (ft->ents[i].deadline <= ft->cur_s) {
                wheel_unlink(ft, i);
                expire_ent(ft, i, ft->cur_s, emit, arg);
                n++;
            }
            i = next;
        }
        if (i != NIL || n >= budget)
            break;                      /* the budget ends inside (or at the end of) this slot */
        ft->done_s++;
    }
    return n;
}

int
flow_due(const struct flow_table *ft, uint64_t now_ns)
{
    return ft->started && (now_ns / NS_PER_S > ft->done_s || ft->cur_s > ft->done_s);
}

/* Table full: evict the entry whose deadline comes first (live, paced: due
 * slots not yet taken come first). */
static int
evict_one(struct flow_table *ft, flow_emit_cb emit, void *arg)
{
    for (uint32_t k = 1; k <= WHEEL; k++) {
        uint32_t s = (uint32_t)(ft->done_s + k) & WHEEL_MASK;
        uint32_t i = ft->wheel[s];
        if (i == NIL)
            continue;
        /* the oldest in a slot is at its tail; take the head, it is O(1)
         * and the slot's entries share a deadline second anyway */
        wheel_unlink(ft, i);
        emit_rec(ft, &ft->ents[i], FLOW_END_EVICT, emit, arg);
        ft->st.evicted++;
        ent_release(ft, i);
        return 0;
    }
    return -1;
}

static void
tcp_update(struct flow_ent *e, int dir, uint8_t fl)
{
    enum { FIN = 0x01, SYN = 0x02, RST = 0x04, ACK = 0x10 };
    if (fl & RST) {
        e->state = TCP_RST;
        return;
    }
    switch (e->state) {
    case TCP_NONE:
        if ((fl & (SYN | ACK)) == SYN)
            e->state = TCP_SYN;
        else if ((fl & (SYN | ACK)) == (SYN | ACK))
            e->state = TCP_SYNACK;
        else
            e->state = TCP_ESTABLISHED;     /* picked up mid-stream */
        break;
    case TCP_SYN:
        if (dir == 1 && (fl & (SYN | ACK)) == (SYN | ACK))
            e->state = TCP_SYNACK;
        break;
    case TCP_SYNACK:
        if (dir == 0 && (fl & ACK) && !(fl & SYN))
            e->state = TCP_ESTABLISHED;
        break;
    default:
        break;
    }
    if ((e->tflags[0] & FIN) && (e->tflags[1] & FIN))
        e->state = TCP_CLOSED;
    else if (fl & FIN)
        e->state = TCP_FIN;
}

/* Who started it. A flow first seen by its SYN-ACK was started by the
 * receiver; a UDP packet from a low port to a high one is most likely a
 * server's answer (Zeek flips such flows too). */
static int
initiator_is_dst(const struct dec_pkt *p)
{
    if (p->proto == 6)
        return (p->tcp_flags & 0x12) == 0x12;
    if (p->proto == 17)
        return p->sport < 1024 && p->dport >= 1024;
    return 0;
}

uint64_t
flow_seed(const struct flow_table *ft)
{
    return ft->cfg.seed;
}

void
flow_prefetch(const struct flow_table *ft, uint64_t h)
{
    __builtin_prefetch(&ft->buckets[(uint32_t)h & ft->mask]);
}

void
flow_prefetch_entry(const struct flow_table *ft, uint64_t h)
{
    uint32_t i = ~ft->buckets[(uint32_t)h & ft->mask];
    if (i != NIL)
        __builtin_prefetch(&ft->ents[i]);
}

void
flow_prefetch_next(const struct flow_table *ft, uint64_t h)
{
    if (ft->st.in_use < ft->nbuckets / 2)
        return;                         /* chains of one: no second entry to fetch */
    uint32_t i = ~ft->buckets[(uint32_t)h & ft->mask];
    if (i != NIL && ft->ents[i].hnext != NIL)
        __builtin_prefetch(&ft->ents[ft->ents[i].hnext]);
}

int
flow_packet(struct flow_table *ft, const struct dec_pkt *p, uint64_t ts_ns,
            struct flow_hit *hit, flow_emit_cb emit, void *arg)
{
    return flow_packet_h(ft, p, flow_hash(p, ft->cfg.seed), ts_ns, hit, emit, arg);
}

int
flow_packet_h(struct flow_table *ft, const struct dec_pkt *p, uint64_t h, uint64_t ts_ns,
              struct flow_hit *hit, flow_emit_cb emit, void *arg)
{
    uint32_t b = (uint32_t)h & ft->mask;
    int dir = 0;
    if (!ft->started) {
        /* The wheel starts at the first packet, not at the first
         * flow_advance(): a first burst may span a long gap, and flows
         * created early in it must still be found in their slots. */
        ft->started = 1;
        ft->cur_s = ft->done_s = ts_ns / NS_PER_S;
    }
    uint32_t i = chain_find(ft, ~ft->buckets[b], p, &dir);
    struct flow_ent *e = i != NIL ? &ft->ents[i] : NULL;

    hit->is_new = 0;
    hit->outcome = CONN_NONE;
    if (i == NIL) {
        if (ft->free_head == NIL && ft->next_new == ft->capacity &&
            evict_one(ft, emit, arg) != 0)
            return -1;                  /* cannot happen: a full table has entries */
        if (ft->free_head != NIL) {
            i = ft->free_head;
            e = &ft->ents[i];
            ft->free_head = e->hnext;
        } else {
            i = ft->next_new++;
            e = &ft->ents[i];
        }
        int flip = initiator_is_dst(p);
        const struct mg_addr *ini = flip ? &p->dst : &p->src, *res = flip ? &p->src : &p->dst;
        e->src4 = load32(ini->b);
        e->dst4 = load32(res->b);
        if (p->family == 6) {
            memcpy(ft->a6[i].src, ini->b + 4, 12);
            memcpy(ft->a6[i].dst, res->b + 4, 12);
        }
        e->sport = flip ? p->dport : p->sport;
        e->dport = flip ? p->sport : p->dport;
        e->proto = p->proto;
        e->family = p->family;
        e->vlan = p->vlan;
        e->state = TCP_NONE;
        e->vni_set = 0;
        e->outcome = CONN_NONE;
        e->app = APP_NONE;
        e->vni[0] = e->vni[1] = 0;
        e->base_ns = ts_ns;
        for (int d = 0; d < 2; d++)
            e->last_ms[d] = MS_UNSET;
        ent_reset_counters(e);
        e->hnext = ~ft->buckets[b];
        ft->buckets[b] = ~i;
        dir = flip;
        e->cls = (uint8_t)flow_cls(e);
        uint64_t t = ts_ns / NS_PER_S;
        wheel_link(ft, i, (t > ft->cur_s ? t : ft->cur_s) + ft->cfg.timeout_s[e->cls]);
        ft->st.created++;
        ft->st.in_use++;
        hit->is_new = 1;
    }

    /* Mirror duplicate: this direction already belongs to another session. */
    if (e->vni_set & (1u << dir)) {
        if (e->vni[dir] != p->vni && ft->cfg.dedup) {
            ft->st.duplicates++;
            return -1;
        }
    } else {
        e->vni[dir] = p->vni;
        e->vni_set |= (uint8_t)(1u << dir);
    }

    uint32_t ms = ts_ns > e->base_ns ? (uint32_t)((ts_ns - e->base_ns) / NS_PER_MS) : 0;
    if (e->first_ms[dir] == MS_UNSET || ms < e->first_ms[dir])
        e->first_ms[dir] = ms;
    if (e->last_ms[dir] == MS_UNSET || ms > e->last_ms[dir])
        e->last_ms[dir] = ms;
    e->pkts[dir]++;
    e->bytes[dir] += p->ip_len;
    if (p->proto == 6) {
        e->tflags[dir] |= p->tcp_flags;
        uint8_t old_cls = e->cls;
        uint8_t old_state = e->state;
        tcp_update(e, dir, p->tcp_flags);
        /* The attempt's outcome, the first time the responder answers. */
        if (!e->outcome && dir == 1) {
            if ((p->tcp_flags & 0x12) == 0x12)
                e->outcome = hit->outcome = CONN_SUCCESS;
            else if ((p->tcp_flags & 0x04) && old_state <= TCP_SYN)
                e->outcome = hit->outcome = CONN_REJECTED;
        }
        e->cls = (uint8_t)flow_cls(e);
        /* A shorter timeout (closed, reset) must not wait for the old slot. */
        if (e->cls != old_cls &&
            ft->cfg.timeout_s[e->cls] < ft->cfg.timeout_s[old_cls]) {
            int idle;
            uint64_t dl = ent_deadline(ft, e, &idle);
            if (dl < e->deadline) {
                wheel_unlink(ft, i);
                wheel_link(ft, i, dl);
            }
        }
    }
    else if (!e->outcome && dir == 1) {
        e->outcome = hit->outcome = CONN_SUCCESS;       /* a UDP/ICMP/other reply */
    }
    hit->dir = dir;
    hit->tcp_state = e->state;
    hit->idx = i;
    hit->pkts = e->pkts[0] + e->pkts[1];
    hit->app = e->app;
    hit->start_ns = e->base_ns;
    return 0;
}

void
flow_set_app(struct flow_table *ft, uint32_t idx, uint8_t app)
{
    if (idx < ft->capacity)
        ft->ents[idx].app = app;
}

/* Find the flow of a packet without creating it (ICMP errors quote one). */
static int
flow_find(const struct flow_table *ft, const struct dec_pkt *p, uint32_t *idx, int *dir)
{
    *idx = chain_find(ft, ~ft->buckets[(uint32_t)flow_hash(p, ft->cfg.seed) & ft->mask], p, dir);
    return *idx != NIL;
}

int
flow_reject(struct flow_table *ft, const struct dec_pkt *quoted, struct conn_event *ev)
{
    uint32_t i;
    int dir;
    if (!flow_find(ft, quoted, &i, &dir) || dir != 0)
        return 0;                   /* only the initiator's attempts are refused */
    struct flow_ent *e = &ft->ents[i];
    if (e->outcome || e->pkts[1])
        return 0;                   /* already answered */
    e->outcome = CONN_REJECTED;
    memset(ev, 0, sizeof(*ev));
    ent_addrs(ft, i, &ev->src, &ev->dst);
    ev->sport = e->sport;
    ev->dport = e->dport;
    ev->proto = e->proto;
    ev->family = e->family;
    ev->outcome = CONN_REJECTED;
    ev->app = e->app;
    ev->vni = e->vni[0];
    ev->start_ns = e->base_ns;
    return 1;
}

void
flow_flush(struct flow_table *ft, flow_emit_cb emit, void *arg)
{
    /* Every entry goes: with many, clear the buckets and the free list at
     * once rather than unlink each from its chain (a hash and a chain walk,
     * each a miss: ~100 ms for the million flows a flood leaves). */
    int all_at_once = ft->st.in_use >= ft->nbuckets / 8;
    /* nothing to emit or unlink: the entries need no visit (every entry in
     * use is in the wheel, so they are all counted here) */
    int visit = emit || !all_at_once;
    if (!visit)
        ft->st.flushed += ft->st.in_use;
    for (uint32_t k = 1; k <= WHEEL; k++) {
        uint32_t s = (uint32_t)(ft->cur_s + k) & WHEEL_MASK;
        uint32_t i = ft->wheel[s];
        ft->wheel[s] = NIL;
        while (visit && i != NIL) {
            uint32_t next = ft->ents[i].wnext;
            if (emit)
                emit_rec(ft, &ft->ents[i], FLOW_END_FLUSH, emit, arg);
            ft->st.flushed++;
            if (!all_at_once)
                ent_release(ft, i);
            i = next;
        }
    }
    if (all_at_once) {
        memset(ft->buckets, 0, (size_t)ft->nbuckets * sizeof(*ft->buckets));
        ft->free_head = NIL;
        ft->next_new = 0;
        ft->st.in_use = 0;
    }
}

#define CMP(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)

int
flow_rec_cmp(const struct flow_rec *a, const struct flow_rec *b)
{
    CMP(a->start_ns, b->start_ns);
    int c = memcmp(&a->src, &b->src, sizeof(a->src));
    if (c)
        return c;
    if ((c = memcmp(&a->dst, &b->dst, sizeof(a->dst))) != 0)
        return c;
    CMP(a->sport, b->sport);
    CMP(a->dport, b->dport);
    CMP(a->proto, b->proto);
    CMP(a->vlan, b->vlan);
    CMP(a->vni, b->vni);
    CMP(a->reason, b->reason);
    CMP(a->dir[0].first_ns, b->dir[0].first_ns);
    CMP(a->dir[1].first_ns, b->dir[1].first_ns);
    return 0;
}

/* Two entries with the same start time: by their flush records. */
static int
ent_tie(uintptr_t x, uintptr_t y, void *arg)
{
    const struct flow_table *ft = arg;
    struct flow_rec a, b;
    ent_rec(ft, &ft->ents[x], FLOW_END_FLUSH, &a);
    ent_rec(ft, &ft->ents[y], FLOW_END_FLUSH, &b);
    return flow_rec_cmp(&a, &b);
}

int
flow_flush_sorted(struct flow_table *ft, flow_emit_cb emit, void *arg)
{
    size_t n = ft->st.in_use;
    if (!n) {
        flow_flush(ft, NULL, NULL);      /* the wheel is empty too */
        return 0;
    }
    struct sort_key *keys = big_alloc(2 * n * sizeof(*keys));
    if (!keys)
        return -1;
    /* Keys in wheel order, the order flow_flush() emits in: the sort is
     * stable, so even records that compare equal come out as they would
     * from flow_flush() and a sort of its records. */
    size_t m = 0;
    for (uint32_t k = 1; k <= WHEEL; k++) {
        uint32_t s = (uint32_t)(ft->cur_s + k) & WHEEL_MASK;
        for (uint32_t i = ft->wheel[s]; i != NIL; i = ft->ents[i].wnext) {
            const struct flow_ent *e = &ft->ents[i];
            if (!e->pkts[0] && !e->pkts[1])
                continue;               /* no record: see emit_rec */
            if (m == n) {               /* more in the wheel than in use: cannot be */
                big_free(keys, 2 * n * sizeof(*keys));
                return -1;
            }
            keys[m++] = (struct sort_key){ e->base_ns, i };
        }
    }
    keysort(keys, keys + n, m, ent_tie, ft);
    for (size_t j = 0; j < m; j++)
        emit_rec(ft, &ft->ents[keys[j].v], FLOW_END_FLUSH, emit, arg);
    big_free(keys, 2 * n * sizeof(*keys));
    flow_flush(ft, NULL, NULL);
    return 0;
}

void
flow_stats(const struct flow_table *ft, struct flow_stats *st)
{
    *st = ft->st;
}
