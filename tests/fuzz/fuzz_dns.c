/* tests/fuzz/fuzz_dns.c - libFuzzer target for decoders/dns*.c.
 *
 * One input exercises all three layers:
 *   1. dns_parse() on the whole input, with the output invariants checked
 *      (lengths agree with strlen, counts within their arrays);
 *   2. dns_tcp_feed() with the input cut into chunks whose sizes, and the
 *      occasional retransmission or gap, come from a small PRNG seeded by
 *      the input itself, so a crash reproduces from the input alone;
 *   3. every message the TCP layer delivers (and the whole input) goes
 *      through dns_parse() and, when it parses, into a 4-entry pairing
 *      table with a tiny timeout, so eviction, expiry, duplicates and
 *      unsolicited responses are all reached.
 *
 * Build:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I decoders \
 *       tests/fuzz/fuzz_dns.c decoders/dns.c decoders/dns_tcp.c \
 *       decoders/dns_txn.c -o fuzz_dns
 *   ./fuzz_dns tests/fuzz/corpus/dns
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dns.h"

struct fuzz_state {
    struct dns_txn_table *t;
    uint64_t ts;
    uint32_t n;
    struct dns_msg m;
};

static void check_msg(const struct dns_msg *m)
{
    if (strlen(m->qname) != m->qname_len || m->qname_len >= DNS_MAX_NAME)
        abort();
    if (m->n_answers > DNS_MAX_ANSWERS)
        abort();
    for (unsigned i = 0; i < m->n_answers; i++)
        if (m->answers[i].len >= DNS_MAX_RDATA ||
            strlen(m->answers[i].data) != m->answers[i].len)
            abort();
}

static void on_rec(void *arg, const struct dns_rec *r)
{
    (void)arg;
    if (!r->has_query && !r->has_response)
        abort();
    if (strlen(r->qname) != r->qname_len || r->n_answers > DNS_MAX_ANSWERS)
        abort();
}

static void feed_msg(struct fuzz_state *fs, const uint8_t *p, size_t len)
{
    struct dns_msg m;
    if (dns_parse(p, len, &m) != DNS_OK)
        return;
    check_msg(&m);

    struct dns_pkt_ctx c;
    memset(&c, 0, sizeof(c));
    c.family = 4;
    c.transport = 17;
    c.src.b[0] = 10;
    c.dst.b[0] = 10;
    c.dst.b[3] = 53;
    /* The client port follows the id, so responses find their queries
     * (and pairs complete out of insertion order). */
    c.sport = (uint16_t)(1024 + (m.id & 3));
    c.dport = 53;
    if (m.qr) {                 /* responses flow the other way */
        struct mg_addr a = c.src;
        c.src = c.dst;
        c.dst = a;
        uint16_t p0 = c.sport;
        c.sport = c.dport;
        c.dport = p0;
    }
    /* Time mostly forwards, sometimes backwards. */
    fs->ts += (fs->n % 5 == 4) ? (uint64_t)-3 : 7;
    c.ts_ns = fs->ts;
    fs->n++;
    dns_txn_on_msg(fs->t, &m, &c, on_rec, NULL);
    dns_txn_expire(fs->t, fs->ts + (fs->n & 7), on_rec, NULL);
    (void)dns_type_name(m.qtype);
    (void)dns_rcode_name(m.rcode);
}

static void on_tcp_msg(void *arg, const uint8_t *msg, size_t len)
{
    if (len == 0 || len > DNS_TCP_BUF - 2)
        abort();
    feed_msg(arg, msg, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct dns_tcp_stream s;     /* 4 KB: keep it off the stack */
    struct fuzz_state fs = { 0 };
    fs.t = dns_txn_new(4, 20);
    if (!fs.t)
        abort();
    fs.ts = 1000;

    enum dns_status st0 = dns_parse(data, size, &fs.m);
    if (!dns_status_name(st0))
        abort();
    feed_msg(&fs, data, size);

    /* xorshift32 seeded from the input, for chunking. */
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < size && i < 16; i++)
        x = (x ^ data[i]) * 0x01000193u;
    if (!x)
        x = 1;

    dns_tcp_init(&s);
    uint32_t seq = 0xfffff000u ^ (x & 0xfff);  /* near the wrap */
    size_t off = 0;
    int syn = (x & 1);
    if (syn)
        dns_tcp_feed(&s, seq - 1, 1, NULL, 0, on_tcp_msg, &fs);
    while (off < size) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t n = 1 + (x % 97);
        if (n > size - off)
            n = size - off;
        unsigned what = (x >> 8) % 16;
        if (what == 2 && off > 0) {
            /* a pure retransmission of old bytes only */
            size_t back = 1 + ((x >> 12) % off);
            dns_tcp_feed(&s, seq + (uint32_t)(off - back), 0, data + off - back,
                         back, on_tcp_msg, &fs);
        }
        if (what == 0 && off > 0) {
            /* retransmit an earlier stretch, overlapping the new data */
            size_t back = 1 + ((x >> 12) % off);
            dns_tcp_feed(&s, seq + (uint32_t)(off - back), 0, data + off - back,
                         back + n, on_tcp_msg, &fs);
        } else if (what == 1) {
            /* a lost segment: skip n bytes */
        } else {
            dns_tcp_feed(&s, seq + (uint32_t)off, 0, data + off, n,
                         on_tcp_msg, &fs);
        }
        off += n;
    }
    if (s.have > DNS_TCP_BUF)
        abort();

    dns_txn_flush(fs.t, on_rec, NULL);
    struct dns_txn_stats st;
    dns_txn_stats(fs.t, &st);
    if (st.responses != st.paired + st.unsolicited ||
        st.queries != st.paired + st.unanswered + st.evicted)
        abort();
    dns_txn_free(fs.t);
    return 0;
}
