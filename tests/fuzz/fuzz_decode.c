/* tests/fuzz/fuzz_decode.c - libFuzzer target for the packet decoders and
 * the flow table: the input is one captured frame; the first byte picks
 * the link type. Every decoded packet also goes through a small flow table
 * (so key handling, eviction and timers see hostile keys) and, when it
 * carries a payload, through the DNS parser. The quick look that replay
 * workers take at a frame to find its worker (decoders/dispatch.c) must,
 * when it is sure, give what the full decode gives. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "dec.h"
#include "dispatch.h"
#include "dns.h"
#include "flow.h"

static struct dec_cfg dc, dc_slow;     /* dc_slow: general path only */
static struct flow_table *ft;
static uint64_t now;

static void
sink(void *arg, const struct flow_rec *r)
{
    (void)arg;
    (void)r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int links[] = { 1, 101, 113, 276, 0, 108, 1, 1 };
    if (!ft) {
        uint16_t vx[2] = { 4789, 8472 }, gv = 6081;
        dec_cfg_init(&dc, vx, 2, &gv, 1, 3);
        dc_slow = dc;
        dc_slow.no_fastpath = 1;
        /* Timeouts differ per class, as in a real configuration: a TCP
         * flow that closes moves to an earlier wheel slot, and UDP/other
         * flows live long enough for the 1024-entry table to fill up, so
         * eviction runs too. */
        struct flow_cfg c = { .max_flows = 1024, .active_s = 60, .dedup = 1, .seed = 1 };
        c.timeout_s[FC_TCP_SYN] = 30;
        c.timeout_s[FC_TCP_EST] = 300;
        c.timeout_s[FC_TCP_CLOSED] = 1;
        c.timeout_s[FC_UDP] = 3600;
        c.timeout_s[FC_ICMP] = 20;
        c.timeout_s[FC_OTHER] = 3600;
        ft = flow_new(&c);
        now = 1700000000ull * 1000000000ull;
    }
    if (size < 1)
        return 0;
    struct dec_pkt p;
    enum dec_status st = dec_packet(&dc, links[data[0] & 7], data + 1, size - 1, &p);
    /* The VXLAN fast path must agree with the general decoders. */
    struct dec_pkt q;
    enum dec_status st2 = dec_packet(&dc_slow, links[data[0] & 7], data + 1, size - 1, &q);
    if (st != st2 || (dec_has_flow(st) && memcmp(&p, &q, sizeof(p)) != 0))
        __builtin_trap();
    uint32_t dv;
    if (dispatch_peek(&dc, links[data[0] & 7], data + 1, size - 1, &dv) == DISPATCH_SURE &&
        dec_has_flow(st) && dv != dispatch_of_pkt(&p))
        __builtin_trap();
    if (dec_has_flow(st)) {
        struct flow_hit h;
        now += (uint64_t)(data[0] >> 3) * 100000000ull;  /* time moves with the input */
        flow_advance(ft, now, sink, NULL);
        flow_packet(ft, &p, now, &h, sink, NULL);
        if (p.payload_len) {
            struct dns_msg m;
            dns_parse(p.payload, p.payload_len, &m);
        }
    }
    return 0;
}
