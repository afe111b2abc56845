/* decoders/dns_txn.c - pair DNS queries with their responses.
 *
 * One table per worker thread, never shared, so there is no locking. All
 * memory is allocated once by dns_txn_new(): a pool of 'capacity' entries,
 * a bucket array (a power of two, at least twice the capacity, so chains
 * stay short) and nothing else. Entries are chained in their hash bucket
 * and, independently, on a doubly linked FIFO in insertion order.
 *
 * Key. A transaction is identified by (transport, family, client address,
 * server address, client port, server port, DNS id) - and also the VXLAN
 * VNI: two mirror sessions are two different vantage points (and may even
 * carry overlapping private address space), so a query seen on one is never
 * completed by a response seen on another. A query (QR = 0) travels client
 * -> server, so the client is the packet's source; a response (QR = 1)
 * travels server -> client, so the client is the packet's destination.
 *
 * What is emitted. Every query and every response produces exactly one
 * record, which makes the counts easy to reason about:
 *
 *  - a response that finds its pending query: one record with both halves
 *    (has_query = has_response = 1), emitted at once          -> paired
 *  - a response that finds none (the query was never seen, already timed
 *    out, or already answered - a duplicate response):
 *    one record with has_query = 0 and the question taken from the
 *    response itself                                          -> unsolicited
 *  - a query still pending 'timeout_ns' after it was seen, or at flush, or
 *    replaced by a duplicate (below): has_response = 0        -> unanswered
 *  - a query pushed out because the table was full            -> evicted
 *
 * so queries == paired + unanswered + evicted + (still pending) and
 * responses == paired + unsolicited.
 *
 * Duplicate queries. A second query with the same key while the first is
 * pending (a client retransmission that reused id and port, or the same
 * packet mirrored twice) emits the first one as unanswered and keeps the
 * new one, so the response pairs with the most recent query and the RTT is
 * measured from it. We chose this over silently folding retransmissions so
 * that "one record per query packet" holds; a retransmission shows up as an
 * unanswered record with the same key just before the answered one.
 *
 * Time. Packet time is monotone in practice, but mirrored traffic from
 * several sources can step backwards a little. The table keeps its own
 * clock, the largest time seen so far, and stamps each entry with that
 * clock at insertion; the FIFO is therefore ordered by its stamps even when
 * packet time is not, and expiry just pops from its head while the head is
 * old enough - amortised O(1) per query, never a scan. The records still
 * carry the packets' own times (query_ns, response_ns). dns_txn_on_msg()
 * expires the query it finds if that one is as old as the timeout, so
 * whether a late response pairs does not depend on how often the caller
 * calls dns_txn_expire(); the other queries expire only there (which
 * expired at a message would depend on which messages the table sees: with
 * several workers, the records' order would depend on their number). A
 * query expires once clock - stamp >= timeout_ns; with a timeout of 0 no
 * query ever pairs with a later packet.
 *
 * Callbacks. The record passed to 'emit' lives in the table and is only
 * valid during the call: copy it (into a ring slot) before returning, and
 * do not call back into the same table from the callback.
 *
 * Hashing. The hash is keyed with a per-table seed derived from the table's
 * address, which ASLR varies between runs. That is only a speed bump
 * against crafted collisions (ids and ports are attacker-chosen); a chain is
 * bounded by the capacity, so the worst case is slow, never unsafe. */
#include <stdlib.h>
#include <string.h>
#include "dns.h"

#define NIL UINT32_MAX

struct txn_key {
    struct mg_addr client, server;
    uint16_t cport, sport, id;
    uint8_t  family, transport;
    uint32_t vni;
};

struct txn_ent {
    struct txn_key k;
    uint32_t hnext;             /* bucket chain, or the free list */
    uint32_t prev, next;        /* FIFO in insertion order */
    uint64_t stamp;             /* table clock at insertion (monotone) */
    uint64_t query_ns;          /* the query packet's own time */
    uint16_t qtype, qclass, qname_len;
    uint8_t  flags;             /* DNS_F_* of the query */
    char     qname[DNS_MAX_NAME];
};

struct dns_txn_table {
    uint32_t cap, mask, count;
    uint32_t free_head;         /* released entries */
    uint32_t next_new;          /* entries never used start here */
    uint32_t head, tail;        /* FIFO: oldest at head */
    uint64_t timeout;
    uint64_t clock;             /* largest packet time seen */
    uint64_t seed;
    uint32_t *bucket;
    struct txn_ent *ent;
    struct dns_txn_stats st;
    struct dns_rec rec;         /* scratch record handed to the callback */
};

/* ---- hashing ------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    /* splitmix64 finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t key_hash(const struct dns_txn_table *t, const struct txn_key *k)
{
    uint64_t h = t->seed;
    h = mix64(h ^ load64(k->client.b));
    h = mix64(h ^ load64(k->client.b + 8));
    h = mix64(h ^ load64(k->server.b));
    h = mix64(h ^ load64(k->server.b + 8));
    h = mix64(h ^ ((uint64_t)k->cport << 48 | (uint64_t)k->sport << 32 |
                   (uint64_t)k->id << 16 | (uint64_t)k->family << 8 |
                   k->transport));
    h = mix64(h ^ k->vni);
    return (uint32_t)h & t->mask;
}

static int key_eq(const struct txn_key *a, const struct txn_key *b)
{
    return a->id == b->id && a->cport == b->cport && a->sport == b->sport &&
           a->family == b->family && a->transport == b->transport &&
           a->vni == b->vni &&
           memcmp(a->client.b, b->client.b, 16) == 0 &&
           memcmp(a->server.b, b->server.b, 16) == 0;
}

/* ---- the table ---------------------------------------------------------- */

struct dns_txn_table *dns_txn_new(uint32_t capacity, uint64_t timeout_ns)
{
    if (capacity == 0 || capacity > (1u << 26))
        return NULL;
    struct dns_txn_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    uint32_t nb = 1;
    while (nb < 2 * capacity)
        nb <<= 1;
    t->bucket = malloc((size_t)nb * sizeof(*t->bucket));
    t->ent = calloc(capacity, sizeof(*t->ent));
    if (!t->bucket || !t->ent) {
        free(t->bucket);
        free(t->ent);
        free(t);
        return NULL;
    }
    for (uint32_t i = 0; i < nb; i++)
        t->bucket[i] = NIL;
    /* Released entries are reused first (the free list); only when none is
     * free does an entry come from next_new, the part never used: calloc's
     * pages stay untouched (and unallocated) until needed, instead of a
     * free list written through all of them at start (65,536 entries are
     * 22 MB per worker). */
    t->cap = capacity;
    t->mask = nb - 1;
    t->free_head = NIL;
    t->next_new = 0;
    t->head = t->tail = NIL;
    t->timeout = timeout_ns;
    t->seed = mix64((uint64_t)(uintptr_t)t ^ 0x6d6972726f726764ULL);
    return t;
}

void dns_txn_free(struct dns_txn_table *t)
{
    if (!t)
        return;
    free(t->bucket);
    free(t->ent);
    free(t);
}

static uint32_t lookup(const struct dns_txn_table *t, const struct txn_key *k)
{
    for (uint32_t i = t->bucket[key_hash(t, k)]; i != NIL; i = t->ent[i].hnext)
        if (key_eq(&t->ent[i].k, k))
            return i;
    return NIL;
}

/* Unlink entry i from its bucket and the FIFO and put it on the free list. */
static void release(struct dns_txn_table *t, uint32_t i)
{
    struct txn_ent *e = &t->ent[i];
    uint32_t *pp = &t->bucket[key_hash(t, &e->k)];
    while (*pp != i)
        pp = &t->ent[*pp].hnext;
    *pp = e->hnext;

    if (e->prev != NIL)
        t->ent[e->prev].next = e->next;
    else
        t->head = e->next;
    if (e->next != NIL)
        t->ent[e->next].prev = e->prev;
    else
        t->tail = e->prev;

    e->hnext = t->free_head;
    t->free_head = i;
    t->count--;
}

static uint8_t flag_bits(uint16_t w)
{
    /* RFC 1035 4.1.1: QR|Opcode(4)|AA|TC|RD|RA|Z|AD|CD|RCODE(4) */
    uint8_t f = 0;
    if (w & 0x0400) f |= DNS_F_AA;
    if (w & 0x0200) f |= DNS_F_TC;
    if (w & 0x0100) f |= DNS_F_RD;
    if (w & 0x0080) f |= DNS_F_RA;
    return f;
}

static void rec_key(struct dns_rec *r, const struct txn_key *k)
{
    r->client = k->client;
    r->server = k->server;
    r->cport = k->cport;
    r->sport = k->sport;
    r->family = k->family;
    r->transport = k->transport;
    r->id = k->id;
    r->vni = k->vni;
}

/* Fill the scratch record from a pending query (or NULL) and a response
 * (or NULL; then 'rk' and 'rts' are unused), and emit it. */
static void emit_rec(struct dns_txn_table *t, const struct txn_ent *q,
                     const struct dns_msg *resp, const struct txn_key *rk,
                     uint64_t rts, dns_emit_cb emit, void *arg)
{
    struct dns_rec *r = &t->rec;
    memset(r, 0, sizeof(*r));
    if (q) {
        rec_key(r, &q->k);
        r->has_query = 1;
        r->query_ns = q->query_ns;
        r->qtype = q->qtype;
        r->qclass = q->qclass;
        r->flags = q->flags;
        r->qname_len = q->qname_len;
        memcpy(r->qname, q->qname, (size_t)q->qname_len + 1);
    }
    if (resp) {
        if (!q) {
            rec_key(r, rk);
            r->qtype = resp->qtype;
            r->qclass = resp->qclass;
            size_t ql = strnlen(resp->qname, DNS_MAX_NAME - 1);
            memcpy(r->qname, resp->qname, ql);
            r->qname[ql] = '\0';
            r->qname_len = (uint16_t)ql;
        }
        r->has_response = 1;
        r->response_ns = rts;
        r->rcode = resp->rcode;
        r->flags = flag_bits(resp->flags);
        r->an_count = resp->ancount;
        r->answers_total_trunc = resp->answers_truncated;
        r->n_answers = resp->n_answers <= DNS_MAX_ANSWERS ? resp->n_answers
                                                          : DNS_MAX_ANSWERS;
        memcpy(r->answers, resp->answers,
               (size_t)r->n_answers * sizeof(r->answers[0]));
    }
    if (emit)
        emit(arg, r);
}

/* Emit the oldest pending query as unanswered and drop it. */
static void pop_head(struct dns_txn_table *t, dns_emit_cb emit, void *arg)
{
    uint32_t i = t->head;
    emit_rec(t, &t->ent[i], NULL, NULL, 0, emit, arg);
    release(t, i);
}

static void expire_clock(struct dns_txn_table *t, dns_emit_cb emit, void *arg)
{
    /* stamp <= clock always holds, so the subtraction cannot wrap. */
    while (t->head != NIL && t->clock - t->ent[t->head].stamp >= t->timeout) {
        t->st.unanswered++;
        pop_head(t, emit, arg);
    }
}

void dns_txn_expire(struct dns_txn_table *t, uint64_t now_ns,
                    dns_emit_cb emit, void *arg)
{
    if (now_ns > t->clock)
        t->clock = now_ns;
    expire_clock(t, emit, arg);
}

void dns_txn_flush(struct dns_txn_table *t, dns_emit_cb emit, void *arg)
{
    while (t->head != NIL) {
        t->st.unanswered++;
        pop_head(t, emit, arg);
    }
}

void dns_txn_on_msg(struct dns_txn_table *t, const struct dns_msg *m,
                    const struct dns_pkt_ctx *c, dns_emit_cb emit, void *arg)
{
    struct txn_key k;

    if (c->ts_ns > t->clock)
        t->clock = c->ts_ns;

    memset(&k, 0, sizeof(k));
    k.id = m->id;
    k.family = c->family;
    k.transport = c->transport;
    k.vni = c->vni;
    if (m->qr) {
        k.client = c->dst;
        k.server = c->src;
        k.cport = c->dport;
        k.sport = c->sport;
    } else {
        k.client = c->src;
        k.server = c->dst;
        k.cport = c->sport;
        k.sport = c->dport;
    }

    uint32_t i = lookup(t, &k);
    /* A query as old as the timeout is done, whether or not the timers
     * have written it yet: it is written now, as unanswered, and pairs
     * with nothing. Only this message's own query: which other queries
     * expire here would depend on which messages this table sees, and
     * with several workers each sees only its flows' (the records' order
     * would then depend on the number of workers). */
    if (i != NIL && t->clock - t->ent[i].stamp >= t->timeout) {
        t->st.unanswered++;
        emit_rec(t, &t->ent[i], NULL, NULL, 0, emit, arg);
        release(t, i);
        i = NIL;
    }

    if (m->qr) {                                        /* a response */
        t->st.responses++;
        if (i != NIL) {
            t->st.paired++;
            emit_rec(t, &t->ent[i], m, &k, c->ts_ns, emit, arg);
            release(t, i);
        } else {
            t->st.unsolicited++;
            emit_rec(t, NULL, m, &k, c->ts_ns, emit, arg);
        }
        return;
    }

    t->st.queries++;                                    /* a query */
    if (i != NIL) {                 /* duplicate: the old one is done */
        t->st.unanswered++;
        emit_rec(t, &t->ent[i], NULL, NULL, 0, emit, arg);
        release(t, i);
    }
    if (t->count == t->cap) {       /* full: make room */
        t->st.evicted++;
        pop_head(t, emit, arg);
    }

    struct txn_ent *e;
    if (t->free_head != NIL) {
        i = t->free_head;
        e = &t->ent[i];
        t->free_head = e->hnext;
    } else {
        i = t->next_new++;          /* count < cap, nothing free: one is left here */
        e = &t->ent[i];
    }
    t->count++;

    e->k = k;
    e->stamp = t->clock;
    e->query_ns = c->ts_ns;
    e->qtype = m->qtype;
    e->qclass = m->qclass;
    e->flags = flag_bits(m->flags);
    size_t ql = strnlen(m->qname, DNS_MAX_NAME - 1);
    memcpy(e->qname, m->qname, ql);
    e->qname[ql] = '\0';
    e->qname_len = (uint16_t)ql;

    uint32_t b = key_hash(t, &k);
    e->hnext = t->bucket[b];
    t->bucket[b] = i;

    e->next = NIL;
    e->prev = t->tail;
    if (t->tail != NIL)
        t->ent[t->tail].next = i;
    else
        t->head = i;
    t->tail = i;
}

void dns_txn_stats(const struct dns_txn_table *t, struct dns_txn_stats *st)
{
    *st = t->st;
}
