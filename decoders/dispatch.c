/* decoders/dispatch.c - the dispatch value of a flow (see dispatch.h). */
#include "dispatch.h"

static inline uint32_t
be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline uint16_t
be16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t
addr_sum(const uint8_t *a, int words)
{
    uint32_t s = 0;
    for (int i = 0; i < words; i++)
        s += be32(a + 4 * i);
    return s;
}

uint32_t
dispatch_of_pkt(const struct dec_pkt *p)
{
    int words = p->family == 6 ? 4 : 1;
    uint32_t s = addr_sum(p->src.b, words) + addr_sum(p->dst.b, words);
    if (dispatch_has_ports(p->proto))
        s += (uint32_t)p->sport + p->dport;
    return dispatch_mix(s + p->proto);
}

static inline int
port_set(const uint8_t *bits, uint16_t port)
{
    return bits[port >> 3] >> (port & 7) & 1;
}

static inline int
is_tag(uint16_t t)
{
    return t == 0x8100 || t == 0x88a8 || t == 0x9100;
}

/* An Ethernet header at b: the offset of its IP header and the ethertype,
 * through at most two 802.1Q/802.1ad tags; 0 when neither IPv4 nor IPv6. */
static size_t
eth_ip(const uint8_t *b, size_t len, uint16_t *et)
{
    if (len < 14)
        return 0;
    size_t off = 14;
    uint16_t t = be16(b + 12);
    for (int tag = 0; tag < 2 && is_tag(t); tag++) {
        if (len < off + 4)
            return 0;
        t = be16(b + off + 2);
        off += 4;
    }
    if (t != 0x0800 && t != 0x86dd)
        return 0;
    *et = t;
    return off;
}

static enum dispatch_peek_result
peek_ip(const struct dec_cfg *c, const uint8_t *b, size_t len, int depth, uint32_t *value)
{
    uint32_t s;
    uint8_t proto;
    size_t hl;
    if (len < 1)
        return DISPATCH_DECODE;
    /* Lengths are bounded as the decoder bounds them (dec.c): by the IP
     * header's length (0: trust the capture), then by the UDP length. */
    if (b[0] >> 4 == 4) {
        hl = (size_t)(b[0] & 15) * 4;
        if (hl < 20 || len < hl || be16(b + 6) & 0x3fff)
            return DISPATCH_DECODE;     /* short, or a fragment */
        size_t total = be16(b + 2);
        if (total == 0)
            total = len;
        if (total < hl)
            return DISPATCH_DECODE;
        if (len > total)
            len = total;
        proto = b[9];
        s = be32(b + 12) + be32(b + 16);
    } else if (b[0] >> 4 == 6) {
        hl = 40;
        if (len < hl)
            return DISPATCH_DECODE;
        size_t total = 40 + (size_t)be16(b + 4);
        if (total == 40 && len > 40)
            total = len;                /* jumbogram or TSO */
        if (len > total)
            len = total;
        proto = b[6];
        s = addr_sum(b + 8, 8);
    } else {
        return DISPATCH_DECODE;
    }
    if (proto == 1 || proto == 58)
        return DISPATCH_ICMP;
    if (!dispatch_has_ports(proto)) {
        if (b[0] >> 4 == 6 && (proto == 0 || proto == 43 || proto == 44 || proto == 60 ||
                               proto == 51 || proto == 135 || proto == 139 || proto == 140))
            return DISPATCH_DECODE;     /* an extension header: the decoder walks them */
        *value = dispatch_mix(s + proto);
        return DISPATCH_SURE;
    }
    if (len < hl + 4)
        return DISPATCH_DECODE;
    const uint8_t *l4 = b + hl;
    uint16_t sp = be16(l4), dp = be16(l4 + 2);
    if (proto == 17 && depth < c->max_depth &&
        (port_set(c->vxlan_ports, dp) || port_set(c->geneve_ports, dp))) {
        if (len < hl + 8)
            return DISPATCH_DECODE;
        size_t ulen = be16(l4 + 4);
        if (ulen >= 8 && ulen < len - hl)
            len = hl + ulen;
        /* A tunnel: the flow is inside. The decoder's rules for what it
         * unwraps are many (flags, options, bad inner frames): be sure only
         * of the plain case and let it decide the rest. */
        size_t inner;
        uint16_t et = 0x6558;           /* what the tunnel carries: Ethernet */
        if (port_set(c->vxlan_ports, dp) && port_set(c->geneve_ports, dp))
            return DISPATCH_DECODE;
        if (port_set(c->vxlan_ports, dp)) {
            if (len < hl + 16 || !(l4[8] & 0x08))
                return DISPATCH_DECODE;
            inner = hl + 16;
        } else {
            if (len < hl + 16 || (l4[8] >> 6) != 0)
                return DISPATCH_DECODE;
            et = be16(l4 + 10);         /* GENEVE: Ethernet, or IP directly */
            if (et != 0x6558 && et != 0x0800 && et != 0x86dd)
                return DISPATCH_DECODE;
            inner = hl + 16 + (size_t)(l4[8] & 0x3f) * 4;
        }
        if (inner > len)
            return DISPATCH_DECODE;
        if (et != 0x6558)
            return peek_ip(c, b + inner, len - inner, depth + 1, value);
        size_t ip = eth_ip(b + inner, len - inner, &et);
        if (!ip)
            return DISPATCH_DECODE;
        return peek_ip(c, b + inner + ip, len - inner - ip, depth + 1, value);
    }
    *value = dispatch_mix(s + sp + dp + proto);
    return DISPATCH_SURE;
}

enum dispatch_peek_result
dispatch_peek(const struct dec_cfg *c, int linktype, const uint8_t *frame, size_t len,
              uint32_t *value)
{
    if (linktype != 1)                  /* CAP_LINK_ETHERNET */
        return DISPATCH_DECODE;
    uint16_t et;
    size_t ip = eth_ip(frame, len, &et);
    if (!ip)
        return DISPATCH_DECODE;
    return peek_ip(c, frame + ip, len - ip, 0, value);
}
