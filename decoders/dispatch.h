/* decoders/dispatch.h - which worker a packet belongs to.
 *
 * The dispatch value of a flow is a symmetric hash of its innermost
 * addresses, protocol and (TCP/UDP/SCTP) ports:
 *
 *   (sum of the 32-bit big-endian words of both addresses
 *    + source port + destination port + protocol) * 0x9e3779b1 >> 16
 *
 * and its worker is the value modulo the number of workers. It is computed
 * three ways, which must agree (tests/test_cap.c checks them on real
 * captures): from a decoded packet (dispatch_of_pkt), from the raw frame
 * without a full decode (dispatch_peek, the replay workers' quick skip of
 * packets that are not theirs), and by the kernel, for live capture with
 * several workers, in the classic BPF program of capture/fanout.c. */
#ifndef MG_DISPATCH_H
#define MG_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "dec.h"

static inline uint32_t
dispatch_mix(uint32_t sum)
{
    return (uint32_t)(sum * 0x9e3779b1u) >> 16;
}

static inline int
dispatch_has_ports(uint8_t proto)
{
    return proto == 6 || proto == 17 || proto == 132;
}

/* The value of a decoded packet's flow (family 4 or 6). */
uint32_t dispatch_of_pkt(const struct dec_pkt *p);

enum dispatch_peek_result {
    DISPATCH_SURE = 0,      /* *value is the flow's dispatch value */
    DISPATCH_DECODE,        /* not sure: decode the packet (and use dispatch_of_pkt) */
    DISPATCH_ICMP,          /* ICMP/ICMPv6: decode it (an error's quote may be anyone's) */
};

/* Look at an Ethernet frame just enough to find its innermost flow's
 * dispatch value: IPv4/IPv6 with up to one VLAN tag, through VXLAN and
 * GENEVE (Ethernet payload) on the configured ports, as deep as max_depth.
 * Anything else, and anything odd (fragments, IPv6 extension headers, short
 * headers), says DISPATCH_DECODE, so a value given is always the one
 * dispatch_of_pkt() gives after a full decode. */
enum dispatch_peek_result dispatch_peek(const struct dec_cfg *c, int linktype,
                                        const uint8_t *frame, size_t len, uint32_t *value);

#endif /* MG_DISPATCH_H */
