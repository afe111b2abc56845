/* decoders/flow.h - the bidirectional flow table of one worker.
 *
 * Keyed on the inner 5-tuple plus the inner VLAN id, both directions in one
 * entry (dir 0 = initiator). Fixed capacity allocated at creation: a
 * 96-byte entry, 24 bytes for the rest of an IPv6 flow's addresses (never
 * touched by IPv4 flows) and a 4-byte bucket head per two entries, so 122
 * bytes per flow, 98 of them touched by an IPv4 flow; nothing is
 * allocated per packet and when the table is full the entry nearest its
 * deadline is evicted (emitted, counted) to make room.
 *
 * Timers run on packet time: flow_advance() is called with the worker's
 * clock (the newest packet time seen) and expires flows through a timing
 * wheel of one-second slots. Entries sit in the slot of their deadline and
 * are not moved on every packet; when a slot comes due each entry's real
 * deadline (min of idle timeout for its protocol/state and the active
 * timeout) is recomputed and the entry is emitted or re-linked. So a packet
 * costs one hash lookup and a few stores, and the same capture gives the
 * same records at any replay speed.
 *
 * Mirror duplicates: when both ends of a flow are mirror sources, every
 * packet arrives twice, once per session (VNI). Each direction remembers the
 * VNI of its first packet; later packets of that direction from another VNI
 * are duplicates, counted and not added.
 *
 * Not thread-safe: one table per worker. */
#ifndef MG_FLOW_H
#define MG_FLOW_H

#include <stdint.h>
#include "dec.h"
#include "rec.h"

enum flow_class {           /* timeout classes */
    FC_TCP_SYN = 0,         /* handshake not completed */
    FC_TCP_EST,
    FC_TCP_CLOSED,          /* FIN both ways, or RST */
    FC_UDP,
    FC_ICMP,
    FC_OTHER,
    FC_MAX
};

struct flow_cfg {
    uint32_t max_flows;             /* rounded up to a power of two */
    uint32_t active_s;              /* active timeout, seconds */
    uint32_t timeout_s[FC_MAX];     /* idle timeouts, seconds */
    int dedup;                      /* drop mirror duplicates */
    uint64_t seed;                  /* hash seed */
};

struct flow_stats {
    uint64_t created, idle, active, evicted, flushed;
    uint64_t duplicates;            /* mirror copies dropped */
    uint64_t records;               /* flow records emitted */
    uint32_t in_use, capacity;
    uint64_t bytes_alloc;           /* memory held by the table */
};

struct flow_table;

typedef void (*flow_emit_cb)(void *arg, const struct flow_rec *r);

struct flow_table *flow_new(const struct flow_cfg *c);
void flow_free(struct flow_table *ft);

/* What flow_packet() tells the caller about the packet it accounted. */
struct flow_hit {
    int dir;                /* 0 = initiator -> responder, 1 = back */
    int is_new;             /* this packet created the flow */
    uint8_t tcp_state;      /* after this packet */
    uint8_t outcome;        /* enum conn_outcome: this packet decided the attempt */
    uint8_t app;            /* enum app_hint known so far */
    uint32_t idx;           /* the entry, for flow_set_app() */
    uint32_t pkts;          /* packets of the flow in this record, this one included */
    uint64_t start_ns;      /* the flow's first packet */
};

/* Record the application recognised in the flow's first payload bytes. */
void flow_set_app(struct flow_table *ft, uint32_t idx, uint8_t app);

/* An ICMP/ICMPv6 unreachable quoting 'quoted' (initiator -> responder):
 * when that flow exists and is unanswered, mark it rejected and fill *ev.
 * Returns 1 when an event is to be sent. */
int flow_reject(struct flow_table *ft, const struct dec_pkt *quoted, struct conn_event *ev);

/* Account one decoded packet (dec_has_flow(status) must hold) seen at ts_ns.
 * Returns 0 and fills *hit, or -1 when the packet is a mirror duplicate
 * (not counted). Evictions caused by a full table are emitted through
 * emit. */
int flow_packet(struct flow_table *ft, const struct dec_pkt *pkt, uint64_t ts_ns,
                struct flow_hit *hit, flow_emit_cb emit, void *arg);

/* The same with the hash already computed (flow_hash(pkt, seed) with the
 * table's seed), so a burst can be hashed and prefetched first. */
int flow_packet_h(struct flow_table *ft, const struct dec_pkt *pkt, uint64_t hash,
                  uint64_t ts_ns, struct flow_hit *hit, flow_emit_cb emit, void *arg);
/* Prefetch the bucket of a hash, then (a step later) its first entry: a
 * burst of packets then waits for memory once, not once per packet. */
void flow_prefetch(const struct flow_table *ft, uint64_t hash);
void flow_prefetch_entry(const struct flow_table *ft, uint64_t hash);
/* And (a step after that) the chain's second entry: a full table's chains
 * hold two entries on average, and a new flow walks all of them. Only when
 * the table holds more flows than half its buckets: below, chains are of
 * one, and reading the first entry's link cost normal traffic ~3%. */
void flow_prefetch_next(const struct flow_table *ft, uint64_t hash);
uint64_t flow_seed(const struct flow_table *ft);

/* Advance the clock to now_ns (packet time) and emit what timed out. Cheap
 * when called with the same second again. Time never goes backwards: an
 * older now_ns is ignored. */
void flow_advance(struct flow_table *ft, uint64_t now_ns, flow_emit_cb emit, void *arg);

/* The same, paced, for live capture: look at no more than 'budget' due
 * entries now and go on from there at the next call. Returns how many it
 * looked at (fewer than budget: nothing due is left). A table is advanced by
 * one of the two, not both. */
unsigned flow_advance_some(struct flow_table *ft, uint64_t now_ns, flow_emit_cb emit, void *arg,
                           unsigned budget);
/* Would flow_advance_some() at now_ns have due slots to look at? */
int flow_due(const struct flow_table *ft, uint64_t now_ns);

/* Emit every flow (reason FLOW_END_FLUSH) and empty the table, in a
 * deterministic order (by deadline slot, then insertion); emit NULL: the
 * flows go without records. */
void flow_flush(struct flow_table *ft, flow_emit_cb emit, void *arg);

/* The order of flow records by content: start, addresses, ports, protocol,
 * VLAN, VNI, reason, first packet of each side. Replay sorts a timer's
 * records by it, so that any number of workers gives the same stream. */
int flow_rec_cmp(const struct flow_rec *a, const struct flow_rec *b);

/* flow_flush() with the records in flow_rec_cmp order (stable: records that
 * compare equal keep flow_flush's order), sorted as keys of the entries
 * instead of collected and sorted by the caller: a table of a million flows
 * takes 32 MB for the keys where its records took 150-300 MB. 0, or -1 with
 * nothing done when there is no memory for the keys. */
int flow_flush_sorted(struct flow_table *ft, flow_emit_cb emit, void *arg);

void flow_stats(const struct flow_table *ft, struct flow_stats *st);

/* Symmetric hash of a packet's flow key: the same for both directions.
 * Used by the table and by the dispatcher that picks a worker. */
uint64_t flow_hash(const struct dec_pkt *pkt, uint64_t seed);

#endif /* MG_FLOW_H */
