/* tests/test_dec.c - packet decoders: every layer, every truncation point,
 * malformed headers, tunnels (VXLAN, GENEVE around VXLAN), link types. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dec.h"
#include "cap.h"
#include "pktbuild.h"

static struct dec_cfg dc;

static int
suite_init(void)
{
    uint16_t vx = 4789, gv = 6081;
    dec_cfg_init(&dc, &vx, 1, &gv, 1, 3);
    return 0;
}

static void
test_eth_ipv4_tcp(void)
{
    uint8_t b[256];
    size_t n = pb_inner_tcp(b, 0, 0x0a000001, 0x08080808, 40000, 443, 0x02, 10);
    struct dec_pkt p;
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, n, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.family, 4);
    CU_ASSERT_EQUAL(p.proto, 6);
    CU_ASSERT_EQUAL(p.sport, 40000);
    CU_ASSERT_EQUAL(p.dport, 443);
    CU_ASSERT_EQUAL(p.tcp_flags, 0x02);
    CU_ASSERT_EQUAL(p.tcp_seq, 1000);
    CU_ASSERT_EQUAL(p.ip_len, 50);
    CU_ASSERT_EQUAL(p.payload_len, 10);
    CU_ASSERT_EQUAL(p.src.b[0], 10);
    CU_ASSERT_EQUAL(p.dst.b[3], 8);
    CU_ASSERT_EQUAL(p.src.b[4], 0);     /* v4 zero-padded */
    CU_ASSERT_EQUAL(p.tunnels, 0);
    CU_ASSERT_EQUAL(p.vni, 0);
}

/* Cut the frame at every byte: the decoder must say exactly how far it got
 * and never read past the cut (ASan would catch it: the copy is exact-size). */
static void
test_truncation_every_byte(void)
{
    uint8_t b[256];
    size_t n = pb_inner_tcp(b, 0, 0x0a000001, 0x0a000002, 1234, 22, 0x18, 20);
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, b, cut);
        struct dec_pkt p;
        enum dec_status st = dec_packet(&dc, 1, c, cut, &p);
        if (cut < 14) {
            CU_ASSERT_EQUAL(st, DEC_ETH_TRUNCATED);
        } else if (cut < 34) {
            CU_ASSERT_EQUAL(st, DEC_IPV4_TRUNCATED);
        } else if (cut < 38) {
            CU_ASSERT_EQUAL(st, DEC_TCP_TRUNCATED);
        } else {
            CU_ASSERT_EQUAL(st, DEC_OK);
            CU_ASSERT_EQUAL(p.sport, 1234);
            CU_ASSERT_EQUAL(p.ip_len, 60);          /* from the header, not the cut */
            CU_ASSERT_EQUAL(p.partial, cut < 54);
            CU_ASSERT_EQUAL(p.tcp_flags, cut >= 48 ? 0x18 : 0);
            CU_ASSERT_EQUAL(p.payload_len, cut >= 54 ? cut - 54 : 0);
        }
        free(c);
    }
}

static void
test_vlan_qinq(void)
{
    uint8_t b[256];
    size_t o = pb_eth(b, 0, 0x0800);
    o = pb_vlan(b, o, 0x88a8, 100);
    o = pb_vlan(b, o, 0x8100, 200);
    o = pb_ipv4(b, o, 17, 1, 2, 8, 0, 0);
    o = pb_udp(b, o, 5000, 53, 0);
    struct dec_pkt p;
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.vlan, 200);
    CU_ASSERT_EQUAL(p.dport, 53);
    /* cut inside the second tag */
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, 20, &p), DEC_VLAN_TRUNCATED);
    /* five tags: too deep */
    o = pb_eth(b, 0, 0x0800);
    for (int i = 0; i < 5; i++)
        o = pb_vlan(b, o, 0x8100, (uint16_t)i);
    o = pb_ipv4(b, o, 17, 1, 2, 8, 0, 0);
    o = pb_udp(b, o, 1, 2, 0);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o, &p), DEC_VLAN_TOO_DEEP);
}

static void
test_ipv4_malformed(void)
{
    uint8_t b[256];
    struct dec_pkt p;
    size_t o = pb_eth(b, 0, 0x0800);
    size_t ip = o;
    o = pb_ipv4(b, o, 6, 1, 2, 20, 2, 0);      /* 8 bytes of options */
    o = pb_tcp(b, o, 1, 2, 0, 0x02);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.sport, 1);
    CU_ASSERT_EQUAL(p.ip_len, 48);
    b[ip] = 0x44;                               /* IHL 4 < 5 */
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o, &p), DEC_IPV4_BAD_HLEN);
    b[ip] = 0x4f;                               /* IHL 15: 60 bytes > captured */
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, 14 + 40, &p), DEC_IPV4_TRUNCATED);
    b[ip] = 0x47;
    b[ip + 2] = 0; b[ip + 3] = 10;              /* total length below header */
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o, &p), DEC_IPV4_BAD_LEN);
    b[ip] = 0x57;                               /* version 5 */
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o, &p), DEC_IPV4_BAD_VERSION);
    /* Not IP at all */
    o = pb_eth(b, 0, 0x0806);
    memset(b + o, 0, 28);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o + 28, &p), DEC_NOT_IP);
}

static void
test_ipv4_fragments(void)
{
    uint8_t b[256];
    struct dec_pkt p;
    size_t o = pb_eth(b, 0, 0x0800);
    o = pb_ipv4(b, o, 17, 1, 2, 100, 0, 0x2000); /* MF, offset 0: first */
    o = pb_udp(b, o, 1111, 53, 92);
    memset(b + o, 0, 92);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o + 92, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.frag, 1);
    CU_ASSERT_EQUAL(p.sport, 1111);
    o = pb_eth(b, 0, 0x0800);
    o = pb_ipv4(b, o, 17, 1, 2, 50, 0, 0x0010);  /* offset 16*8: a later fragment */
    memset(b + o, 0xff, 50);                    /* must not be read as UDP */
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o + 50, &p), DEC_IPV4_FRAGMENT);
    CU_ASSERT_EQUAL(p.sport, 0);
    CU_ASSERT_EQUAL(p.ip_len, 70);
}

static void
test_padding_and_lying_length(void)
{
    uint8_t b[256];
    struct dec_pkt p;
    /* 60-byte minimum Ethernet frame: a tiny UDP packet plus padding */
    size_t o = pb_eth(b, 0, 0x0800);
    o = pb_ipv4(b, o, 17, 1, 2, 8 + 2, 0, 0);
    o = pb_udp(b, o, 1, 2, 2);
    memset(b + o, 0xee, 60 - o);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, 60, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.payload_len, 2);          /* padding is not payload */
    CU_ASSERT_EQUAL(p.ip_len, 30);
    /* A mirror truncated to 64 bytes of a 1500-byte packet */
    o = pb_eth(b, 0, 0x0800);
    o = pb_ipv4(b, o, 6, 1, 2, 1480, 0, 0);
    o = pb_tcp(b, o, 5, 6, 0, 0x10);
    memset(b + o, 'y', 10);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o + 10, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.ip_len, 1500);
    CU_ASSERT_EQUAL(p.payload_len, 10);
    CU_ASSERT_EQUAL(p.payload_wire, 1460);
    /* A UDP length larger than the IP packet must not grow the payload */
    o = pb_eth(b, 0, 0x0800);
    o = pb_ipv4(b, o, 17, 1, 2, 8 + 4, 0, 0);
    o = pb_udp(b, o, 1, 2, 4);
    b[o - 4] = 0xff; b[o - 3] = 0xff;
    memset(b + o, 0, 40);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o + 40, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.payload_len, 4);
}

static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

static void
test_ipv6_ext(void)
{
    uint8_t b[256];
    struct dec_pkt p;
    size_t o = pb_eth(b, 0, 0x86dd);
    o = pb_ipv6(b, o, 0, v6a, v6b, 8 + 16 + 8 + 5);
    /* hop-by-hop (8 bytes) -> destination options (16 bytes) -> UDP */
    memset(b + o, 0, 8); b[o] = 60; b[o + 1] = 0; o += 8;
    memset(b + o, 0, 16); b[o] = 17; b[o + 1] = 1; o += 16;
    o = pb_udp(b, o, 5353, 53, 5);
    memset(b + o, 0, 5);
    size_t n = o + 5;
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, n, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.family, 6);
    CU_ASSERT_EQUAL(p.proto, 17);
    CU_ASSERT_EQUAL(p.dport, 53);
    CU_ASSERT_EQUAL(p.payload_len, 5);
    CU_ASSERT_EQUAL(p.ip_len, 40 + 37);
    CU_ASSERT_EQUAL(p.src.b[15], 1);
    for (size_t cut = 14; cut < n; cut++) {
        enum dec_status st = dec_packet(&dc, 1, b, cut, &p);
        if (cut < 54) {
            CU_ASSERT_EQUAL(st, DEC_IPV6_TRUNCATED);
        } else if (cut < 54 + 24) {
            CU_ASSERT_EQUAL(st, DEC_IPV6_EXT_TRUNCATED);
        } else if (cut < 54 + 24 + 4) {
            CU_ASSERT_EQUAL(st, DEC_UDP_TRUNCATED);
        } else {
            CU_ASSERT_EQUAL(st, DEC_OK);
        }
    }
    /* fragment header: first fragment decodes, a later one is counted */
    o = pb_eth(b, 0, 0x86dd);
    o = pb_ipv6(b, o, 44, v6a, v6b, 8 + 20);
    memset(b + o, 0, 8); b[o] = 6; b[o + 3] = 1; o += 8;   /* offset 0, M */
    o = pb_tcp(b, o, 80, 1024, 0, 0x10);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.frag, 1);
    CU_ASSERT_EQUAL(p.sport, 80);
    b[54 + 2] = 0x01;                           /* offset 32 */
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o, &p), DEC_IPV6_FRAGMENT);
    /* a chain of ten hop-by-hop headers is too many */
    o = pb_eth(b, 0, 0x86dd);
    o = pb_ipv6(b, o, 0, v6a, v6b, 80 + 8);
    for (int i = 0; i < 10; i++) {
        memset(b + o, 0, 8);
        b[o] = i < 9 ? 0 : 17;
        o += 8;
    }
    o = pb_udp(b, o, 1, 2, 0);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, o, &p), DEC_IPV6_EXT_TOO_MANY);
}

static void
test_icmp_keys(void)
{
    uint8_t b[128], c[128];
    struct dec_pkt p, q;
    size_t o = pb_eth(b, 0, 0x0800);
    o = pb_ipv4(b, o, 1, 1, 2, 8, 0, 0);
    memset(b + o, 0, 8); b[o] = 8;              /* echo request */
    size_t n = o + 8;
    memcpy(c, b, n);
    c[o] = 0;                                   /* echo reply, addresses swapped */
    memcpy(c + 14 + 12, b + 14 + 16, 4);
    memcpy(c + 14 + 16, b + 14 + 12, 4);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, n, &p), DEC_OK);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, c, n, &q), DEC_OK);
    /* the reply's key is the request's reversed: one flow */
    CU_ASSERT_EQUAL(p.sport, q.dport);
    CU_ASSERT_EQUAL(p.dport, q.sport);
    CU_ASSERT_EQUAL(p.icmp_type, 8);
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, 14 + 21, &p), DEC_ICMP_TRUNCATED);
    b[o] = 3; b[o + 1] = 3;                     /* port unreachable: type/code */
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, n, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.sport, 3);
    CU_ASSERT_EQUAL(p.dport, 3);
}

static void
test_vxlan(void)
{
    uint8_t in[256], b[512];
    size_t il = pb_inner_tcp(in, 0, 0x0a000005, 0x0a000006, 50000, 80, 0x02, 0);
    size_t n = pb_mirror(b, in, il, 0x123456);
    struct dec_pkt p;
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, n, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.tunnels, 1);
    CU_ASSERT_EQUAL(p.vni, 0x123456);
    CU_ASSERT_EQUAL(p.sport, 50000);            /* the inner flow, not the tunnel */
    CU_ASSERT_EQUAL(p.dport, 80);
    CU_ASSERT_EQUAL(p.src.b[3], 5);
    CU_ASSERT_EQUAL(p.ip_len, 40);
    /* the fast path (taken here) gives what the general path gives */
    struct dec_cfg slow = dc;
    slow.no_fastpath = 1;
    struct dec_pkt q;
    CU_ASSERT_EQUAL(dec_packet(&slow, 1, b, n, &q), DEC_OK);
    CU_ASSERT_EQUAL(memcmp(&p, &q, sizeof(p)), 0);
    /* every cut of the encapsulation */
    for (size_t cut = 42; cut < n; cut++) {
        enum dec_status st = dec_packet(&dc, 1, b, cut, &p);
        if (cut < 50) {
            CU_ASSERT_EQUAL(st, DEC_VXLAN_TRUNCATED);
        } else if (cut < 64) {
            CU_ASSERT_EQUAL(st, DEC_ETH_TRUNCATED);
        } else if (cut < 84) {
            CU_ASSERT_EQUAL(st, DEC_IPV4_TRUNCATED);
        } else if (cut < 88) {
            CU_ASSERT_EQUAL(st, DEC_TCP_TRUNCATED);
        } else {
            CU_ASSERT_EQUAL(st, DEC_OK);
        }
    }
    b[42] = 0;                                  /* I flag clear */
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, n, &p), DEC_VXLAN_BAD_FLAGS);
}

/* The VXLAN fast path gives what the general path gives: every packet of real and generated captures,
 * whole and cut at every length through its headers. */
static long
fast_equals_slow(const char *path, long *differ)
{
    char err[512];
    struct cap_source *src = cap_file_open(path, err, sizeof(err));
    if (!src)
        return -1;
    struct dec_cfg slow = dc;
    slow.no_fastpath = 1;
    struct cap_pkt b[64];
    long n = 0;
    int got;
    while ((got = src->ops->rx_burst(src, b, 64)) > 0) {
        for (int i = 0; i < got; i++, n++) {
            size_t top = b[i].caplen < 160 ? b[i].caplen : 160;
            for (size_t cut = 0; cut <= b[i].caplen; cut = cut < top ? cut + 1 : b[i].caplen + 1) {
                size_t len = cut < top ? cut : b[i].caplen;
                struct dec_pkt p, q;
                enum dec_status a = dec_packet(&dc, b[i].linktype, b[i].data, len, &p);
                enum dec_status c = dec_packet(&slow, b[i].linktype, b[i].data, len, &q);
                /* the contract fuzz_decode checks: the same status, and the
                 * same packet wherever there is a flow to account */
                if (a != c || (dec_has_flow(a) && memcmp(&p, &q, sizeof(p)) != 0)) {
                    if (!*differ)
                        fprintf(stderr, "\n  %s: packet %ld cut at %zu: fast %s, general %s\n",
                                path, n, len, dec_status_name(a), dec_status_name(c));
                    ++*differ;
                }
            }
        }
    }
    src->ops->close(src);
    return n;
}

static void
test_fastpath_equals_general(void)
{
    static const char *const files[] = {
        "../pcaps/demo/mirror-demo.pcap", "../pcaps/syn-scan/input.pcap",
        "../pcaps/dns-tunnel/input.pcap", "../pcaps/udp-scan/input.pcap",
        "../pcaps/icmp-sweep/input.pcap", "../pcaps/stratum/input.pcap",
        "../pcaps/benign-flows/input.pcap",
        "../../shared/data/pcaps/zeek/vxlan/vxlan.pcap",
        "../../shared/data/pcaps/ndpi/benign/1kxun.pcap",
        "../../shared/data/pcaps/ndpi/dns/dns_fragmented.pcap",
        "../../shared/data/pcaps/zeek/ssh-bruteforce/sshguess.pcap",
    };
    long total = 0, differ = 0;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        long n = fast_equals_slow(files[i], &differ);
        if (n < 0 && strncmp(files[i], "../pcaps/", 9) == 0)
            CU_FAIL("a capture of the repo could not be read");
        if (n > 0)
            total += n;
    }
    CU_ASSERT(total > 1000);
    CU_ASSERT_EQUAL(differ, 0);
}

static void
test_vxlan_depth(void)
{
    uint8_t l0[1024], l1[1024];
    size_t n = pb_inner_tcp(l0, 0, 1, 2, 3, 4, 0x02, 0);
    /* wrap 4 times: the 4th layer exceeds max_depth 3 */
    for (int d = 0; d < 4; d++) {
        size_t m = pb_mirror(l1, l0, n, (uint32_t)(d + 1));
        memcpy(l0, l1, m);
        n = m;
        struct dec_pkt p;
        enum dec_status st = dec_packet(&dc, 1, l0, n, &p);
        if (d < 3) {
            CU_ASSERT_EQUAL(st, DEC_OK);
            CU_ASSERT_EQUAL(p.vni, 1u);         /* the innermost VNI */
            CU_ASSERT_EQUAL(p.tunnels, d + 1);
        } else {
            CU_ASSERT_EQUAL(st, DEC_TUNNEL_TOO_DEEP);
        }
    }
}

static void
test_geneve_around_vxlan(void)
{
    uint8_t in[256], mir[512], b[768];
    size_t il = pb_inner_tcp(in, 0, 0x0a000009, 0x01010101, 33333, 443, 0x02, 0);
    size_t ml = pb_mirror(mir, in, il, 77);
    /* A GWLB target: outer Ethernet/IPv4/UDP 6081, GENEVE with one 8-byte
     * option, protocol IPv4, then the mirror packet's IP layer onwards. */
    size_t o = pb_eth(b, 0, 0x0800);
    size_t gl = 8 + 8;
    o = pb_ipv4(b, o, 17, 0xc0a80001, 0xc0a80002, 8 + gl + (ml - 14), 0, 0);
    o = pb_udp(b, o, 12345, 6081, gl + (ml - 14));
    memset(b + o, 0, gl);
    b[o] = 2;                                   /* ver 0, optlen 2 words */
    b[o + 2] = 0x08; b[o + 3] = 0x00;           /* IPv4 */
    b[o + 6] = 0x42;                            /* GENEVE VNI 0x42 */
    o += gl;
    memcpy(b + o, mir + 14, ml - 14);
    size_t n = o + ml - 14;
    struct dec_pkt p;
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, n, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.tunnels, 2);
    CU_ASSERT_EQUAL(p.tun_kinds, DEC_TUN_VXLAN | DEC_TUN_GENEVE);
    CU_ASSERT_EQUAL(p.vni, 77);                 /* the mirror session */
    CU_ASSERT_EQUAL(p.dport, 443);
    b[42] = 0x40;                               /* version 1 */
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, n, &p), DEC_GENEVE_BAD);
    b[42] = 0x3f;                               /* options longer than the packet */
    CU_ASSERT_EQUAL(dec_packet(&dc, 1, b, 42 + 20, &p), DEC_GENEVE_TRUNCATED);
}

static void
test_link_types(void)
{
    uint8_t b[256];
    struct dec_pkt p;
    size_t o = pb_ipv4(b, 0, 17, 1, 2, 8, 0, 0);
    o = pb_udp(b, o, 7, 8, 0);
    CU_ASSERT_EQUAL(dec_packet(&dc, 101, b, o, &p), DEC_OK);
    CU_ASSERT_EQUAL(p.dport, 8);
    /* Linux cooked v1: 16 bytes, protocol at 14 */
    uint8_t s[256] = { 0 };
    s[14] = 0x08;
    memcpy(s + 16, b, o);
    CU_ASSERT_EQUAL(dec_packet(&dc, 113, s, o + 16, &p), DEC_OK);
    CU_ASSERT_EQUAL(dec_packet(&dc, 113, s, 15, &p), DEC_ETH_TRUNCATED);
    /* BSD loopback, host-order family 2 */
    uint8_t l[256] = { 2, 0, 0, 0 };
    memcpy(l + 4, b, o);
    CU_ASSERT_EQUAL(dec_packet(&dc, 0, l, o + 4, &p), DEC_OK);
    CU_ASSERT_EQUAL(dec_packet(&dc, 9999, l, o + 4, &p), DEC_LINK_UNKNOWN);
}

int
test_dec_register(void)
{
    CU_pSuite s = CU_add_suite("dec", suite_init, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "ethernet/ipv4/tcp", test_eth_ipv4_tcp);
    CU_add_test(s, "truncation at every byte", test_truncation_every_byte);
    CU_add_test(s, "vlan, qinq, too many tags", test_vlan_qinq);
    CU_add_test(s, "ipv4 options and malformed headers", test_ipv4_malformed);
    CU_add_test(s, "ipv4 fragments", test_ipv4_fragments);
    CU_add_test(s, "padding, truncated mirror, lying lengths", test_padding_and_lying_length);
    CU_add_test(s, "ipv6 extension headers and fragments", test_ipv6_ext);
    CU_add_test(s, "icmp request/reply keys", test_icmp_keys);
    CU_add_test(s, "vxlan and every cut of it", test_vxlan);
    CU_add_test(s, "fast paths give what the general path gives (captures, every cut)",
                test_fastpath_equals_general);
    CU_add_test(s, "nested tunnels over the depth limit", test_vxlan_depth);
    CU_add_test(s, "geneve around vxlan", test_geneve_around_vxlan);
    CU_add_test(s, "link types", test_link_types);
    return 0;
}
