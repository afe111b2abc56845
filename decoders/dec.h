/* decoders/dec.h - bounds-checked packet decoders: Ethernet II, 802.1Q/QinQ,
 * Linux cooked, loopback and raw IP link types; IPv4 (options, fragments),
 * IPv6 (extension headers, fragment header); TCP, UDP, ICMP, ICMPv6; and the
 * tunnels of AWS Traffic Mirroring: VXLAN (RFC 7348) on configurable UDP
 * ports, GENEVE (RFC 8926) as a Gateway Load Balancer target receives it.
 *
 * dec_packet() walks from the link layer to the innermost transport header,
 * unwrapping tunnels up to a depth limit, and fills a struct dec_pkt. It
 * never reads past the captured length whatever a length field claims, never
 * checks checksums (a mirror copy may carry offloaded, unfilled ones), does
 * no I/O and keeps no state: it is safe to fuzz alone. The caller counts the
 * returned status; nothing is logged per packet.
 *
 * Truncated mirror copies (PacketLength) decode as far as the bytes go: the
 * IP header's total length is reported in ip_len so flow byte counts do not
 * shrink, and a transport header cut after its ports still yields a flow
 * (DEC_OK with 'partial' set). */
#ifndef MG_DEC_H
#define MG_DEC_H

#include <stddef.h>
#include <stdint.h>
#include "rec.h"

/* Why a packet did not decode to a flow key. DEC_OK must stay 0. */
enum dec_status {
    DEC_OK = 0,
    DEC_LINK_UNKNOWN,       /* link type we do not decode */
    DEC_ETH_TRUNCATED,
    DEC_VLAN_TRUNCATED,
    DEC_VLAN_TOO_DEEP,      /* more than DEC_MAX_VLAN tags */
    DEC_NOT_IP,             /* ARP, LLDP, ... (not an error, counted) */
    DEC_IPV4_TRUNCATED,
    DEC_IPV4_BAD_VERSION,
    DEC_IPV4_BAD_HLEN,
    DEC_IPV4_BAD_LEN,       /* total length below the header length */
    DEC_IPV4_FRAGMENT,      /* non-first fragment: counted, no transport header */
    DEC_IPV6_TRUNCATED,
    DEC_IPV6_BAD_VERSION,
    DEC_IPV6_EXT_TRUNCATED,
    DEC_IPV6_EXT_TOO_MANY,
    DEC_IPV6_FRAGMENT,      /* non-first fragment */
    DEC_TCP_TRUNCATED,      /* not even the ports */
    DEC_TCP_BAD_OFFSET,
    DEC_UDP_TRUNCATED,
    DEC_ICMP_TRUNCATED,
    DEC_VXLAN_TRUNCATED,
    DEC_VXLAN_BAD_FLAGS,    /* I flag clear */
    DEC_GENEVE_TRUNCATED,
    DEC_GENEVE_BAD,         /* version != 0, or options run past the end */
    DEC_GENEVE_PROTO,       /* protocol type we do not unwrap */
    DEC_TUNNEL_TOO_DEEP,
    DEC_PROTO_OTHER,        /* IP protocol without ports (GRE, ESP, ...): flow on addresses */
    DEC_STATUS_MAX
};

/* Statuses for which the packet still has a usable flow key. */
static inline int
dec_has_flow(int st)
{
    return st == DEC_OK || st == DEC_PROTO_OTHER;
}

const char *dec_status_name(enum dec_status s);

#define DEC_MAX_VLAN 4
#define DEC_TUN_VXLAN  1
#define DEC_TUN_GENEVE 2

struct dec_cfg {
    /* bitmaps of UDP destination ports: bit p set = tunnel on port p */
    uint8_t vxlan_ports[65536 / 8];
    uint8_t geneve_ports[65536 / 8];
    int max_depth;              /* tunnel layers unwrapped, >= 1 */
    int no_fastpath;            /* tests: always take the general path */
};

struct dec_pkt {
    /* tunnel context */
    uint32_t vni;               /* innermost VXLAN VNI (else GENEVE VNI), 0 = none */
    uint8_t  tunnels;           /* tunnel layers unwrapped */
    uint8_t  tun_kinds;         /* DEC_TUN_* bits seen */
    uint16_t vlan;              /* innermost VLAN id of the innermost frame, 0 = none */

    /* innermost IP packet */
    uint8_t  family;            /* 4, 6, 0 = none */
    uint8_t  proto;             /* transport protocol (after IPv6 ext headers) */
    uint8_t  frag;              /* 0 = not a fragment, 1 = first fragment */
    uint8_t  partial;           /* transport header cut after the ports */
    struct mg_addr src, dst;
    uint32_t ip_len;            /* IP total length as the header says */
    uint32_t ip_caplen;         /* bytes of the IP packet actually captured */

    /* transport */
    uint16_t sport, dport;      /* ICMP: see dec_icmp() (type and counterpart/code) */
    uint8_t  tcp_flags;
    uint8_t  icmp_type, icmp_code;
    uint8_t  _pad;
    uint32_t tcp_seq, tcp_ack;
    const uint8_t *payload;     /* transport payload, captured part only */
    uint32_t payload_len;       /* captured payload bytes (<= what the IP length allows) */
    uint32_t payload_wire;      /* payload bytes per the IP length */
};

void dec_cfg_init(struct dec_cfg *dc, const uint16_t *vxlan, unsigned nvx,
                  const uint16_t *geneve, unsigned ngv, int max_depth);

/* Decode one captured frame of link type 'linktype'. */
enum dec_status dec_packet(const struct dec_cfg *dc, int linktype,
                           const uint8_t *p, size_t caplen, struct dec_pkt *pkt);

/* Entry points for single layers (tests, fuzzing). */
enum dec_status dec_eth(const struct dec_cfg *dc, const uint8_t *p, size_t len,
                        struct dec_pkt *pkt);
enum dec_status dec_ip(const struct dec_cfg *dc, const uint8_t *p, size_t len,
                       struct dec_pkt *pkt);

/* Format an address ("10.0.0.1", "2001:db8::1") into buf (>= 46 bytes). */
const char *mg_addr_str(const struct mg_addr *a, int family, char *buf, size_t n);

#endif /* MG_DEC_H */
