/* decoders/dec.c - link, network, transport and tunnel decoders.
 * See dec.h for the contract. Every read is preceded by a length check
 * against the captured bytes; lengths claimed by headers only ever shrink
 * what we read (Ethernet padding), never grow it. */
#include "dec.h"
#include "rd.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define ETH_HLEN      14
#define VLAN_HLEN     4
#define VXLAN_HLEN    8
#define VXLAN_FLAG_I  0x08
#define GENEVE_HLEN   8
#define IPV4_HLEN     20
#define IPV6_HLEN     40
#define IPV6_MAX_EXT  8

#define ETHERTYPE_IPV4  0x0800
#define ETHERTYPE_IPV6  0x86dd
#define ETHERTYPE_VLAN  0x8100
#define ETHERTYPE_QINQ  0x88a8
#define ETHERTYPE_QINQ9 0x9100
#define ETHERTYPE_TEB   0x6558  /* transparent Ethernet bridging (GENEVE) */

static const char *const status_names[DEC_STATUS_MAX] = {
    [DEC_OK] = "ok",
    [DEC_LINK_UNKNOWN] = "link_unknown",
    [DEC_ETH_TRUNCATED] = "eth_truncated",
    [DEC_VLAN_TRUNCATED] = "vlan_truncated",
    [DEC_VLAN_TOO_DEEP] = "vlan_too_deep",
    [DEC_NOT_IP] = "not_ip",
    [DEC_IPV4_TRUNCATED] = "ipv4_truncated",
    [DEC_IPV4_BAD_VERSION] = "ipv4_bad_version",
    [DEC_IPV4_BAD_HLEN] = "ipv4_bad_hlen",
    [DEC_IPV4_BAD_LEN] = "ipv4_bad_len",
    [DEC_IPV4_FRAGMENT] = "ipv4_fragment",
    [DEC_IPV6_TRUNCATED] = "ipv6_truncated",
    [DEC_IPV6_BAD_VERSION] = "ipv6_bad_version",
    [DEC_IPV6_EXT_TRUNCATED] = "ipv6_ext_truncated",
    [DEC_IPV6_EXT_TOO_MANY] = "ipv6_ext_too_many",
    [DEC_IPV6_FRAGMENT] = "ipv6_fragment",
    [DEC_TCP_TRUNCATED] = "tcp_truncated",
    [DEC_TCP_BAD_OFFSET] = "tcp_bad_offset",
    [DEC_UDP_TRUNCATED] = "udp_truncated",
    [DEC_ICMP_TRUNCATED] = "icmp_truncated",
    [DEC_VXLAN_TRUNCATED] = "vxlan_truncated",
    [DEC_VXLAN_BAD_FLAGS] = "vxlan_bad_flags",
    [DEC_GENEVE_TRUNCATED] = "geneve_truncated",
    [DEC_GENEVE_BAD] = "geneve_bad",
    [DEC_GENEVE_PROTO] = "geneve_proto",
    [DEC_TUNNEL_TOO_DEEP] = "tunnel_too_deep",
    [DEC_PROTO_OTHER] = "proto_other",
};

const char *
dec_status_name(enum dec_status s)
{
    return (unsigned)s < DEC_STATUS_MAX ? status_names[s] : "unknown";
}

static inline void
bit_set(uint8_t *map, uint16_t port)
{
    map[port >> 3] |= (uint8_t)(1u << (port & 7));
}

static inline int
bit_get(const uint8_t *map, uint16_t port)
{
    return map[port >> 3] >> (port & 7) & 1;
}

void
dec_cfg_init(struct dec_cfg *dc, const uint16_t *vxlan, unsigned nvx,
             const uint16_t *geneve, unsigned ngv, int max_depth)
{
    memset(dc, 0, sizeof(*dc));
    for (unsigned i = 0; i < nvx; i++)
        bit_set(dc->vxlan_ports, vxlan[i]);
    for (unsigned i = 0; i < ngv; i++)
        bit_set(dc->geneve_ports, geneve[i]);
    dc->max_depth = max_depth > 0 ? max_depth : 1;
}

const char *
mg_addr_str(const struct mg_addr *a, int family, char *buf, size_t n)
{
    if (family == 4) {
        snprintf(buf, n, "%u.%u.%u.%u", a->b[0], a->b[1], a->b[2], a->b[3]);
        return buf;
    }
    if (!inet_ntop(AF_INET6, a->b, buf, (socklen_t)n))
        snprintf(buf, n, "?");
    return buf;
}

/* ==== Transport ==== */

/* ICMP keys follow Zeek's conn.log: a request and its reply share one flow,
 * keyed (request type, reply type) from the requester's side, so the reply
 * travelling back matches the reversed key. Messages without a counterpart
 * (unreachable, time exceeded, ...) are keyed (type, code). */
static void
icmp_key(struct dec_pkt *pkt, int v6)
{
    uint8_t t = pkt->icmp_type;
    int req = -1, rep = -1;
    if (!v6) {
        switch (t) {
        case 8: req = 8; rep = 0; break;        /* echo */
        case 0: req = 8; rep = 0; break;
        case 13: case 14: req = 13; rep = 14; break;   /* timestamp */
        case 15: case 16: req = 15; rep = 16; break;   /* information */
        case 17: case 18: req = 17; rep = 18; break;   /* address mask */
        case 10: case 9: req = 10; rep = 9; break;     /* router solicitation/advert */
        }
    } else {
        switch (t) {
        case 128: case 129: req = 128; rep = 129; break;   /* echo */
        case 133: case 134: req = 133; rep = 134; break;   /* router sol/adv */
        case 135: case 136: req = 135; rep = 136; break;   /* neighbour sol/adv */
        case 130: case 131: req = 130; rep = 131; break;   /* MLD query/report */
        }
    }
    if (req < 0) {
        pkt->sport = t;
        pkt->dport = pkt->icmp_code;
    } else if (t == req) {
        pkt->sport = (uint16_t)req;
        pkt->dport = (uint16_t)rep;
    } else {
        pkt->sport = (uint16_t)rep;
        pkt->dport = (uint16_t)req;
    }
}

static enum dec_status dec_l2_inner(const struct dec_cfg *dc, const uint8_t *p,
                                    size_t len, struct dec_pkt *pkt, int eth);

/* The transport header at p: 'cap' bytes captured, 'wire' bytes according
 * to the IP header (cap <= wire unless the packet lies; we use the smaller). */
static enum dec_status
dec_l4(const struct dec_cfg *dc, const uint8_t *p, size_t cap, size_t wire,
       struct dec_pkt *pkt)
{
    if (cap > wire)
        cap = wire;
    pkt->payload = NULL;
    pkt->payload_len = 0;
    pkt->payload_wire = 0;

    switch (pkt->proto) {
    case 6: {                                   /* TCP, RFC 9293 3.1 */
        if (cap < 4)
            return DEC_TCP_TRUNCATED;
        pkt->sport = rd_be16(p);
        pkt->dport = rd_be16(p + 2);
        if (cap < 20) {
            /* Mirror truncation can cut inside the header: keep what is there. */
            pkt->partial = 1;
            if (cap >= 8)
                pkt->tcp_seq = rd_be32(p + 4);
            if (cap >= 12)
                pkt->tcp_ack = rd_be32(p + 8);
            if (cap >= 14)
                pkt->tcp_flags = p[13];
            if (cap >= 13 && (p[12] >> 4) < 5)
                return DEC_TCP_BAD_OFFSET;
            return DEC_OK;
        }
        size_t off = (size_t)(p[12] >> 4) * 4;
        if (off < 20)
            return DEC_TCP_BAD_OFFSET;
        pkt->tcp_seq = rd_be32(p + 4);
        pkt->tcp_ack = rd_be32(p + 8);
        pkt->tcp_flags = p[13];
        if (off > wire)
            return DEC_TCP_BAD_OFFSET;
        pkt->payload_wire = (uint32_t)(wire - off);
        if (off > cap) {
            pkt->partial = 1;               /* options cut off */
            return DEC_OK;
        }
        pkt->payload = p + off;
        pkt->payload_len = (uint32_t)(cap - off);
        return DEC_OK;
    }
    case 17:                                    /* UDP, RFC 768 */
    case 136: {                                 /* UDP-Lite: same first 8 bytes */
        if (cap < 4)
            return DEC_UDP_TRUNCATED;
        pkt->sport = rd_be16(p);
        pkt->dport = rd_be16(p + 2);
        if (cap < 8) {
            pkt->partial = 1;
            return DEC_OK;
        }
        size_t ulen = rd_be16(p + 4);
        /* The UDP length can only shrink the payload (a lying length must not
         * make us read more); 0 is legal for jumbograms. */
        if (pkt->proto == 17 && ulen >= 8 && ulen < wire)
            wire = ulen;
        if (cap > wire)
            cap = wire;
        pkt->payload = p + 8;
        pkt->payload_len = (uint32_t)(cap - 8);
        pkt->payload_wire = wire >= 8 ? (uint32_t)(wire - 8) : 0;
        if (pkt->proto == 17) {
            int vx = bit_get(dc->vxlan_ports, pkt->dport);
            int gv = !vx && bit_get(dc->geneve_ports, pkt->dport);
            if (vx || gv) {
                if (pkt->tunnels >= dc->max_depth)
                    return DEC_TUNNEL_TOO_DEEP;
                pkt->tunnels++;
                const uint8_t *t = p + 8;
                size_t tl = cap - 8;
                if (vx) {                       /* VXLAN, RFC 7348 5 */
                    if (tl < VXLAN_HLEN)
                        return DEC_VXLAN_TRUNCATED;
                    if (!(t[0] & VXLAN_FLAG_I))
                        return DEC_VXLAN_BAD_FLAGS;
                    pkt->tun_kinds |= DEC_TUN_VXLAN;
                    pkt->vni = rd_be24(t + 4);
                    return dec_l2_inner(dc, t + VXLAN_HLEN, tl - VXLAN_HLEN, pkt, 1);
                }
                /* GENEVE, RFC 8926 3.4 */
                if (tl < GENEVE_HLEN)
                    return DEC_GENEVE_TRUNCATED;
                if ((t[0] >> 6) != 0)
                    return DEC_GENEVE_BAD;
                size_t hl = GENEVE_HLEN + (size_t)(t[0] & 0x3f) * 4;
                if (hl > tl)
                    return DEC_GENEVE_TRUNCATED;
                uint16_t ptype = rd_be16(t + 2);
                pkt->tun_kinds |= DEC_TUN_GENEVE;
                if (!(pkt->tun_kinds & DEC_TUN_VXLAN))
                    pkt->vni = rd_be24(t + 4);
                if (ptype == ETHERTYPE_TEB)
                    return dec_l2_inner(dc, t + hl, tl - hl, pkt, 1);
                if (ptype == ETHERTYPE_IPV4 || ptype == ETHERTYPE_IPV6)
                    return dec_l2_inner(dc, t + hl, tl - hl, pkt, 0);
                return DEC_GENEVE_PROTO;
            }
        }
        return DEC_OK;
    }
    case 132:                                   /* SCTP: ports only */
        if (cap < 4)
            return DEC_UDP_TRUNCATED;
        pkt->sport = rd_be16(p);
        pkt->dport = rd_be16(p + 2);
        return DEC_OK;
    case 1:                                     /* ICMP, RFC 792 */
    case 58:                                    /* ICMPv6, RFC 4443 */
        if (cap < 2)
            return DEC_ICMP_TRUNCATED;
        pkt->icmp_type = p[0];
        pkt->icmp_code = p[1];
        icmp_key(pkt, pkt->proto == 58);
        if (cap > 8) {      /* errors quote the offending packet here */
            pkt->payload = p + 8;
            pkt->payload_len = (uint32_t)(cap - 8);
            pkt->payload_wire = (uint32_t)(wire - 8);
        }
        return DEC_OK;
    default:
        return DEC_PROTO_OTHER;
    }
}

/* ==== Network ==== */

static enum dec_status
dec_ipv4(const struct dec_cfg *dc, const uint8_t *p, size_t len, struct dec_pkt *pkt)
{
    if (len < IPV4_HLEN)
        return DEC_IPV4_TRUNCATED;
    if ((p[0] >> 4) != 4)
        return DEC_IPV4_BAD_VERSION;
    size_t hlen = (size_t)(p[0] & 0x0f) * 4;
    if (hlen < IPV4_HLEN)
        return DEC_IPV4_BAD_HLEN;
    if (hlen > len)
        return DEC_IPV4_TRUNCATED;
    size_t total = rd_be16(p + 2);
    if (total == 0)
        total = len;            /* TSO on the capturing host leaves it 0 */
    if (total < hlen)
        return DEC_IPV4_BAD_LEN;

    pkt->family = 4;
    pkt->proto = p[9];
    memset(&pkt->src, 0, sizeof(pkt->src));
    memset(&pkt->dst, 0, sizeof(pkt->dst));
    memcpy(pkt->src.b, p + 12, 4);
    memcpy(pkt->dst.b, p + 16, 4);
    pkt->ip_len = (uint32_t)total;
    size_t cap = len < total ? len : total;     /* drop Ethernet padding */
    pkt->ip_caplen = (uint32_t)cap;

    uint16_t frag = rd_be16(p + 6);
    if (frag & 0x1fff) {
        pkt->frag = 2;
        return DEC_IPV4_FRAGMENT;
    }
    pkt->frag = (frag & 0x2000) ? 1 : 0;
    return dec_l4(dc, p + hlen, cap - hlen, total - hlen, pkt);
}

static enum dec_status
dec_ipv6(const struct dec_cfg *dc, const uint8_t *p, size_t len, struct dec_pkt *pkt)
{
    if (len < IPV6_HLEN)
        return DEC_IPV6_TRUNCATED;
    if ((p[0] >> 4) != 6)
        return DEC_IPV6_BAD_VERSION;
    size_t total = IPV6_HLEN + rd_be16(p + 4);
    if (total == IPV6_HLEN && len > IPV6_HLEN)
        total = len;            /* jumbogram (RFC 2675) or TSO: trust the capture */
    pkt->family = 6;
    memcpy(pkt->src.b, p + 8, 16);
    memcpy(pkt->dst.b, p + 24, 16);
    pkt->ip_len = (uint32_t)total;
    size_t cap = len < total ? len : total;
    pkt->ip_caplen = (uint32_t)cap;

    uint8_t nh = p[6];
    size_t off = IPV6_HLEN;
    pkt->frag = 0;
    for (int n = 0;; n++) {
        size_t hl;
        switch (nh) {
        case 0: case 43: case 60: case 135: case 139: case 140:
            /* hop-by-hop, routing, destination options, mobility, HIP, shim6:
             * RFC 8200 4.2, length in 8-octet units not counting the first */
            if (off + 2 > cap)
                return DEC_IPV6_EXT_TRUNCATED;
            hl = ((size_t)p[off + 1] + 1) * 8;
            break;
        case 44: {              /* fragment, RFC 8200 4.5 */
            if (off + 8 > cap)
                return DEC_IPV6_EXT_TRUNCATED;
            uint16_t fo = rd_be16(p + off + 2);
            if (fo >> 3) {
                pkt->proto = p[off];
                pkt->frag = 2;
                return DEC_IPV6_FRAGMENT;
            }
            if (fo & 1)
                pkt->frag = 1;
            hl = 8;
            break;
        }
        case 51:                /* AH, RFC 4302 2.2: length in 4-octet units minus 2 */
            if (off + 2 > cap)
                return DEC_IPV6_EXT_TRUNCATED;
            hl = ((size_t)p[off + 1] + 2) * 4;
            break;
        default:
            pkt->proto = nh;
            if (off > total)
                return DEC_IPV6_EXT_TRUNCATED;
            return dec_l4(dc, p + off, cap - off, total - off, pkt);
        }
        if (n >= IPV6_MAX_EXT)
            return DEC_IPV6_EXT_TOO_MANY;
        if (off + hl > cap)
            return DEC_IPV6_EXT_TRUNCATED;
        nh = p[off];
        off += hl;
    }
}

enum dec_status
dec_ip(const struct dec_cfg *dc, const uint8_t *p, size_t len, struct dec_pkt *pkt)
{
    if (len < 1)
        return DEC_IPV4_TRUNCATED;
    switch (p[0] >> 4) {
    case 4: return dec_ipv4(dc, p, len, pkt);
    case 6: return dec_ipv6(dc, p, len, pkt);
    default: return DEC_IPV4_BAD_VERSION;
    }
}

/* ==== Link ==== */

static enum dec_status
dec_ethertype(const struct dec_cfg *dc, uint16_t et, const uint8_t *p, size_t len,
              struct dec_pkt *pkt)
{
    switch (et) {
    case ETHERTYPE_IPV4: return dec_ipv4(dc, p, len, pkt);
    case ETHERTYPE_IPV6: return dec_ipv6(dc, p, len, pkt);
    default: return DEC_NOT_IP;
    }
}

enum dec_status
dec_eth(const struct dec_cfg *dc, const uint8_t *p, size_t len, struct dec_pkt *pkt)
{
    if (len < ETH_HLEN)
        return DEC_ETH_TRUNCATED;
    uint16_t et = rd_be16(p + 12);
    size_t off = ETH_HLEN;
    pkt->vlan = 0;
    /* 802.1Q and 802.1ad (QinQ): the innermost tag names the VLAN. */
    for (int n = 0; et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ || et == ETHERTYPE_QINQ9; n++) {
        if (n >= DEC_MAX_VLAN)
            return DEC_VLAN_TOO_DEEP;
        if (off + VLAN_HLEN > len)
            return DEC_VLAN_TRUNCATED;
        pkt->vlan = rd_be16(p + off) & 0x0fff;
        et = rd_be16(p + off + 2);
        off += VLAN_HLEN;
    }
    return dec_ethertype(dc, et, p + off, len - off, pkt);
}

/* The frame inside a tunnel: Ethernet, or bare IP for GENEVE. The inner
 * packet replaces what the outer layers put in pkt. */
static enum dec_status
dec_l2_inner(const struct dec_cfg *dc, const uint8_t *p, size_t len,
             struct dec_pkt *pkt, int eth)
{
    pkt->tcp_flags = 0;
    pkt->partial = 0;
    pkt->frag = 0;
    pkt->sport = pkt->dport = 0;
    pkt->tcp_seq = pkt->tcp_ack = 0;
    pkt->icmp_type = pkt->icmp_code = 0;
    if (eth)
        return dec_eth(dc, p, len, pkt);
    pkt->vlan = 0;
    return dec_ip(dc, p, len, pkt);
}

enum dec_status
dec_packet(const struct dec_cfg *dc, int linktype, const uint8_t *p, size_t len,
           struct dec_pkt *pkt)
{
    memset(pkt, 0, sizeof(*pkt));
    switch (linktype) {
    case 1:                                         /* Ethernet */
        /* Fast path for what a mirror target mostly receives: untagged
         * Ethernet / IPv4 without options or fragmentation / UDP to a VXLAN
         * port / VXLAN with the I flag, complete (no padding, no cut, UDP
         * length agreeing). It skips the three outer decoders and gives
         * exactly what they would (fuzz_decode checks that); anything else
         * takes the general path. */
        if (len >= 50 + ETH_HLEN && !dc->no_fastpath && p[12] == 0x08 && p[13] == 0x00 &&
            p[14] == 0x45 && p[23] == 17 && (rd_be16(p + 20) & 0x3fff) == 0 &&
            rd_be16(p + 16) == len - ETH_HLEN && rd_be16(p + 38) == len - ETH_HLEN - 20 &&
            bit_get(dc->vxlan_ports, rd_be16(p + 36)) && (p[42] & VXLAN_FLAG_I) &&
            dc->max_depth >= 1) {
            pkt->tunnels = 1;
            pkt->tun_kinds = DEC_TUN_VXLAN;
            pkt->vni = rd_be24(p + 46);
            return dec_eth(dc, p + 50, len - 50, pkt);
        }
        return dec_eth(dc, p, len, pkt);
    case 101: case 12: case 14: case 228: case 229: /* raw IP */
        return dec_ip(dc, p, len, pkt);
    case 113:                                       /* Linux cooked v1 */
        if (len < 16)
            return DEC_ETH_TRUNCATED;
        return dec_ethertype(dc, rd_be16(p + 14), p + 16, len - 16, pkt);
    case 276:                                       /* Linux cooked v2 */
        if (len < 20)
            return DEC_ETH_TRUNCATED;
        return dec_ethertype(dc, rd_be16(p), p + 20, len - 20, pkt);
    case 0:                                         /* BSD loopback, host order */
    case 108: {                                     /* OpenBSD loopback, network order */
        if (len < 4)
            return DEC_ETH_TRUNCATED;
        uint32_t fam = linktype == 108 ? rd_be32(p)
                                       : (p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
        if (fam > 0xffff)       /* written on a big-endian host */
            fam = rd_be32(p);
        if (fam == 2)
            return dec_ipv4(dc, p + 4, len - 4, pkt);
        if (fam == 24 || fam == 28 || fam == 30)
            return dec_ipv6(dc, p + 4, len - 4, pkt);
        return DEC_NOT_IP;
    }
    default:
        return DEC_LINK_UNKNOWN;
    }
}
