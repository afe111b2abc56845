/* tests/pktbuild.h - tiny packet builders for the unit tests. Each appends a
 * header to a buffer and returns the new length; lengths are patched by
 * pb_fix_ipv4/pb_fix_udp once the payload is in. Checksums are left zero
 * (the decoders never check them). */
#ifndef MG_TEST_PKTBUILD_H
#define MG_TEST_PKTBUILD_H

#include <stdint.h>
#include <string.h>

static inline size_t pb_u16(uint8_t *b, size_t o, uint16_t v) { b[o] = v >> 8; b[o + 1] = v & 0xff; return o + 2; }

static inline size_t
pb_eth(uint8_t *b, size_t o, uint16_t et)
{
    static const uint8_t mac[12] = { 0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10 };
    memcpy(b + o, mac, 12);
    return pb_u16(b, o + 12, et);
}

static inline size_t
pb_vlan(uint8_t *b, size_t o, uint16_t tpid, uint16_t vid)
{
    /* rewrites the ethertype just written (at o-2) and adds the tag */
    pb_u16(b, o - 2, tpid);
    pb_u16(b, o, vid);
    return pb_u16(b, o + 2, 0x0800);
}

/* IPv4 header with 'optwords' 32-bit words of options; total length set
 * from 'l4len'. Returns offset after the header. */
static inline size_t
pb_ipv4(uint8_t *b, size_t o, uint8_t proto, uint32_t src, uint32_t dst, size_t l4len,
        int optwords, uint16_t frag)
{
    size_t hl = 20 + (size_t)optwords * 4;
    memset(b + o, 0, hl);
    b[o] = (uint8_t)(0x40 | (hl / 4));
    pb_u16(b, o + 2, (uint16_t)(hl + l4len));
    pb_u16(b, o + 4, 0x1234);
    pb_u16(b, o + 6, frag);
    b[o + 8] = 64;
    b[o + 9] = proto;
    for (int i = 0; i < 4; i++) {
        b[o + 12 + i] = (uint8_t)(src >> (24 - 8 * i));
        b[o + 16 + i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    for (int i = 0; i < optwords * 4; i++)
        b[o + 20 + i] = 1;      /* NOP options */
    return o + hl;
}

static inline size_t
pb_ipv6(uint8_t *b, size_t o, uint8_t nh, const uint8_t src[16], const uint8_t dst[16],
        size_t paylen)
{
    memset(b + o, 0, 40);
    b[o] = 0x60;
    pb_u16(b, o + 4, (uint16_t)paylen);
    b[o + 6] = nh;
    b[o + 7] = 64;
    memcpy(b + o + 8, src, 16);
    memcpy(b + o + 24, dst, 16);
    return o + 40;
}

static inline size_t
pb_tcp(uint8_t *b, size_t o, uint16_t sp, uint16_t dp, uint32_t seq, uint8_t flags)
{
    memset(b + o, 0, 20);
    pb_u16(b, o, sp);
    pb_u16(b, o + 2, dp);
    b[o + 4] = (uint8_t)(seq >> 24); b[o + 5] = (uint8_t)(seq >> 16);
    b[o + 6] = (uint8_t)(seq >> 8);  b[o + 7] = (uint8_t)seq;
    b[o + 12] = 0x50;
    b[o + 13] = flags;
    pb_u16(b, o + 14, 65535);
    return o + 20;
}

static inline size_t
pb_udp(uint8_t *b, size_t o, uint16_t sp, uint16_t dp, size_t paylen)
{
    pb_u16(b, o, sp);
    pb_u16(b, o + 2, dp);
    pb_u16(b, o + 4, (uint16_t)(8 + paylen));
    pb_u16(b, o + 6, 0);
    return o + 8;
}

static inline size_t
pb_vxlan(uint8_t *b, size_t o, uint32_t vni)
{
    memset(b + o, 0, 8);
    b[o] = 0x08;
    b[o + 4] = (uint8_t)(vni >> 16);
    b[o + 5] = (uint8_t)(vni >> 8);
    b[o + 6] = (uint8_t)vni;
    return o + 8;
}

/* An inner Ethernet/IPv4/TCP frame with 'pay' payload bytes. */
static inline size_t
pb_inner_tcp(uint8_t *b, size_t o, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
             uint8_t flags, size_t pay)
{
    o = pb_eth(b, o, 0x0800);
    o = pb_ipv4(b, o, 6, src, dst, 20 + pay, 0, 0);
    o = pb_tcp(b, o, sp, dp, 1000, flags);
    memset(b + o, 'x', pay);
    return o + pay;
}

/* Wrap 'inner' (an Ethernet frame) as AWS Traffic Mirroring sends it. */
static inline size_t
pb_mirror(uint8_t *b, const uint8_t *inner, size_t ilen, uint32_t vni)
{
    size_t o = pb_eth(b, 0, 0x0800);
    o = pb_ipv4(b, o, 17, 0x0a000164, 0x0a0001c8, 8 + 8 + ilen, 0, 0);
    o = pb_udp(b, o, 40000, 4789, 8 + ilen);
    o = pb_vxlan(b, o, vni);
    memcpy(b + o, inner, ilen);
    return o + ilen;
}

#endif /* MG_TEST_PKTBUILD_H */
