/* capture/fanout.c - the classic BPF program that spreads a PACKET_FANOUT
 * group over the workers of a live capture (PACKET_FANOUT_CBPF).
 *
 * The kernel's own PACKET_FANOUT_HASH hashes the outer headers: every
 * packet of a mirror session (one ENI) would land on one worker, and the
 * two copies of a packet mirrored from both of its ENIs on two. This program
 * hashes what the sensor keys flows on instead: for VXLAN over IPv4 (on the
 * configured ports, with up to two inner 802.1Q/802.1ad tags) the inner IPv4 or
 * IPv6 addresses, protocol and TCP/UDP/SCTP ports; for plain IPv4/IPv6 the
 * packet's own; GENEVE (carrying Ethernet) likewise, and tunnels in
 * tunnels down to FANOUT_DEPTH. The hash adds the two addresses and the two ports, so both
 * directions of a flow get the same value; the kernel takes it modulo the
 * number of sockets in the group (IPv4 fragments are reassembled first:
 * PACKET_FANOUT_FLAG_DEFRAG; an IPv6 first fragment is read past its
 * fragment header). Anything else (ARP, later IPv6 fragments...) is hashed on what the program understands, which keeps
 * it on one worker per outer pair.
 *
 * Loads are at 'base' + offset from the IP header: the kernel runs fanout
 * programs on the skb at its network header, read through SKF_NET_OFF;
 * tests run the same program in libpcap's interpreter over raw IP packets
 * with base 0 (see tests/test_cap.c). */
#include "cap.h"

#include <linux/filter.h>
#include <string.h>

/* Tunnels are followed this deep (the decoder's max_depth default). */
#define FANOUT_DEPTH 3

/* Labels: the shared tail, then one set per tunnel depth. */
#define V6_EXT 3
enum { L_HASH4, L_HASH6, L_DONE6, L_ICMP6, L_P4, L_PORTS, L_FIN, L_START6, L_V6 };
#define L_EXT(k) (L_V6 + 3 * (k))
#define L_FRAG(k) (L_V6 + 3 * (k) + 1)
#define L_EXT_NEXT(k) (L_V6 + 3 * (k) + 2)
#define L_SHARED (L_V6 + 3 * V6_EXT)
enum { D_IP4, D_UDP, D_RESTORE, D_VX, D_GV, D_GVOK, D_ETH, D_VLAN, D_VLAN2, D_ET, D_IN4, D_IN6,
       D_ICMP, D_TOHASH4, D_TOHASH6, D_TONEXT, D_N };
#define L_AT(d, k) (L_SHARED + (d) * D_N + (k))
#define L_NLABELS (L_SHARED + FANOUT_DEPTH * D_N)

struct asm_ins {
    uint16_t code;
    int jt, jf;         /* label, or -1: the next instruction */
    uint32_t k;
    int ja;             /* BPF_JA to label k */
};

struct casm {
    struct asm_ins ins[1024];
    unsigned n;
    int label[L_NLABELS];
    int overflow;
};

static void
op(struct casm *a, uint16_t code, uint32_t k)
{
    if (a->n >= sizeof(a->ins) / sizeof(a->ins[0])) {
        a->overflow = 1;
        return;
    }
    a->ins[a->n++] = (struct asm_ins){ code, -1, -1, k, 0 };
}

static void
jeq(struct casm *a, uint32_t k, int jt, int jf)
{
    op(a, BPF_JMP | BPF_JEQ | BPF_K, k);
    if (!a->overflow) {
        a->ins[a->n - 1].jt = jt;
        a->ins[a->n - 1].jf = jf;
    }
}

static void
jmp(struct casm *a, int label)
{
    op(a, BPF_JMP | BPF_JA, (uint32_t)label);
    if (!a->overflow)
        a->ins[a->n - 1].ja = 1;
}

static void
label(struct casm *a, int l)
{
    a->label[l] = (int)a->n;
}

/* X = X + k (A is clobbered). */
static void
x_add(struct casm *a, uint32_t k)
{
    op(a, BPF_MISC | BPF_TXA, 0);
    op(a, BPF_ALU | BPF_ADD | BPF_K, k);
    op(a, BPF_MISC | BPF_TAX, 0);
}

/* X = X + the IHL * 4 of the IPv4 header at X: its payload. */
static void
x_add_ihl(struct casm *a, uint32_t base)
{
    op(a, BPF_LD | BPF_B | BPF_IND, base + 0);
    op(a, BPF_ALU | BPF_AND | BPF_K, 0x0f);
    op(a, BPF_ALU | BPF_LSH | BPF_K, 2);
    op(a, BPF_ALU | BPF_ADD | BPF_X, 0);
    op(a, BPF_MISC | BPF_TAX, 0);
}

/* A = A + M[m] (X is clobbered: reload it after). */
static void
add_mem(struct casm *a, uint32_t m)
{
    op(a, BPF_LDX | BPF_MEM, m);
    op(a, BPF_ALU | BPF_ADD | BPF_X, 0);
}

/* The IPv4/IPv6 address sum, protocol and ports of the header at X into
 * M[0] (sum) and M[3] (protocol); M[2] keeps X. */
/* Start of an IP header's hash: M[2] = X, M[3] = its protocol byte at
 * proto_off, M[0] = the address word at addr_off. */
static void
hash_begin(struct casm *a, uint32_t base, uint32_t proto_off, uint32_t addr_off)
{
    op(a, BPF_STX, 2);
    op(a, BPF_LD | BPF_B | BPF_IND, base + proto_off);
    op(a, BPF_ST, 3);
    op(a, BPF_LD | BPF_W | BPF_IND, base + addr_off);
    op(a, BPF_ST, 0);
}

/* The IPv6 header at X: M[0] = the sum of its address words, M[3] = its
 * next header (also in A), X = past its 40 bytes. */
static void
hash6_addrs(struct casm *a, uint32_t base)
{
    hash_begin(a, base, 6, 8);
    for (uint32_t off = 12; off < 40; off += 4) {
        op(a, BPF_LD | BPF_W | BPF_IND, base + off);
        add_mem(a, 0);
        op(a, BPF_ST, 0);
        op(a, BPF_LDX | BPF_MEM, 2);
    }
    x_add(a, 40);
    op(a, BPF_LD | BPF_MEM, 3);
}

static void
emit_hash(struct casm *a, uint32_t base)
{
    /* IPv4 header at X */
    label(a, L_HASH4);
    hash_begin(a, base, 9, 12);
    op(a, BPF_LD | BPF_W | BPF_IND, base + 16);
    add_mem(a, 0);
    op(a, BPF_ST, 0);
    op(a, BPF_LDX | BPF_MEM, 2);
    op(a, BPF_LD | BPF_MEM, 3);
    jeq(a, 6, L_P4, -1);
    jeq(a, 17, L_P4, -1);
    jeq(a, 132, L_P4, L_FIN);

    /* IPv6 header at X: the eight words of the two addresses, then past
     * the extension headers (hop-by-hop, routing, destination options,
     * fragment; up to V6_EXT of them) to the transport protocol. */
    label(a, L_HASH6);
    hash6_addrs(a, base);
    for (int k = 0; k < V6_EXT; k++) {
        jeq(a, 0, L_EXT(k), -1);
        jeq(a, 43, L_EXT(k), -1);
        jeq(a, 60, L_EXT(k), -1);
        jeq(a, 44, L_FRAG(k), L_DONE6);
        label(a, L_EXT(k));             /* next header, (length + 1) * 8 bytes */
        op(a, BPF_LD | BPF_B | BPF_IND, base + 0);
        op(a, BPF_ST, 3);
        op(a, BPF_LD | BPF_B | BPF_IND, base + 1);
        op(a, BPF_ALU | BPF_ADD | BPF_K, 1);
        op(a, BPF_ALU | BPF_LSH | BPF_K, 3);
        op(a, BPF_ALU | BPF_ADD | BPF_X, 0);
        op(a, BPF_MISC | BPF_TAX, 0);
        op(a, BPF_LD | BPF_MEM, 3);
        jmp(a, k + 1 < V6_EXT ? L_EXT_NEXT(k) : L_DONE6);
        label(a, L_FRAG(k));            /* next header, 8 bytes */
        op(a, BPF_LD | BPF_B | BPF_IND, base + 0);
        op(a, BPF_ST, 3);
        x_add(a, 8);
        op(a, BPF_LD | BPF_MEM, 3);
        if (k + 1 < V6_EXT)
            label(a, L_EXT_NEXT(k));
    }
    label(a, L_DONE6);                  /* X = the transport header */
    jeq(a, 58, L_ICMP6, -1);
    jeq(a, 6, L_PORTS, -1);
    jeq(a, 17, L_PORTS, -1);
    jeq(a, 132, L_PORTS, L_FIN);

    /* ICMPv6 destination unreachable: the quoted packet's flow (no
     * extension headers in the quote), as for IPv4 above. */
    label(a, L_ICMP6);
    op(a, BPF_LD | BPF_B | BPF_IND, base + 0);
    jeq(a, 1, -1, L_FIN);
    x_add(a, 8);
    hash6_addrs(a, base);
    jeq(a, 6, L_PORTS, -1);
    jeq(a, 17, L_PORTS, -1);
    jeq(a, 132, L_PORTS, L_FIN);

    label(a, L_P4);                 /* X = X + IHL * 4 */
    x_add_ihl(a, base);
    jmp(a, L_PORTS);

    label(a, L_PORTS);              /* M[0] += sport + dport */
    op(a, BPF_LD | BPF_H | BPF_IND, base + 0);
    op(a, BPF_ST, 1);
    op(a, BPF_LD | BPF_H | BPF_IND, base + 2);
    add_mem(a, 1);
    add_mem(a, 0);
    op(a, BPF_ST, 0);

    label(a, L_FIN);                /* (sum + protocol) * golden ratio, high bits */
    op(a, BPF_LD | BPF_MEM, 0);
    add_mem(a, 3);
    op(a, BPF_ALU | BPF_MUL | BPF_K, 0x9e3779b1u);
    op(a, BPF_ALU | BPF_RSH | BPF_K, 16);
    op(a, BPF_RET | BPF_A, 0);
}

/* The IPv4 header at X, tunnel depth d: a VXLAN or GENEVE payload moves X
 * to the inner IP header and goes on at depth d + 1; anything else is
 * hashed here. */
static void
emit_level(struct casm *a, uint32_t base, unsigned d, const uint16_t *vx, unsigned nvx,
           const uint16_t *gv, unsigned ngv)
{
    label(a, L_AT(d, D_IP4));
    op(a, BPF_LD | BPF_B | BPF_IND, base + 9);
    jeq(a, 1, L_AT(d, D_ICMP), -1);
    jeq(a, 17, -1, L_AT(d, D_TOHASH4));
    op(a, BPF_STX, 4);                  /* M[4] = this IP header */
    x_add_ihl(a, base);       /* X = the UDP header */
    op(a, BPF_LD | BPF_H | BPF_IND, base + 2);
    for (unsigned i = 0; i < nvx; i++)
        jeq(a, vx[i], L_AT(d, D_VX), -1);
    for (unsigned i = 0; i < ngv; i++)
        jeq(a, gv[i], L_AT(d, D_GV), -1);
    jmp(a, L_AT(d, D_RESTORE));

    label(a, L_AT(d, D_VX));            /* UDP 8 + VXLAN 8 */
    x_add(a, 16);
    jmp(a, L_AT(d, D_ETH));

    /* GENEVE carrying Ethernet (0x6558), or IPv4 / IPv6 directly (as AWS
     * Gateway Load Balancer sends it) */
    label(a, L_AT(d, D_GV));
    op(a, BPF_LD | BPF_H | BPF_IND, base + 10);
    op(a, BPF_ST, 5);
    jeq(a, 0x6558, L_AT(d, D_GVOK), -1);
    jeq(a, 0x0800, L_AT(d, D_GVOK), -1);
    jeq(a, 0x86dd, L_AT(d, D_GVOK), L_AT(d, D_RESTORE));
    label(a, L_AT(d, D_GVOK));
    op(a, BPF_LD | BPF_B | BPF_IND, base + 8);
    op(a, BPF_ALU | BPF_AND | BPF_K, 0x3f);   /* option length, 4-byte words */
    op(a, BPF_ALU | BPF_LSH | BPF_K, 2);
    op(a, BPF_ALU | BPF_ADD | BPF_X, 0);
    op(a, BPF_ALU | BPF_ADD | BPF_K, 16);     /* UDP 8 + GENEVE 8 */
    op(a, BPF_MISC | BPF_TAX, 0);
    op(a, BPF_LD | BPF_MEM, 5);
    jeq(a, 0x0800, L_AT(d, D_TONEXT), -1);
    jeq(a, 0x86dd, L_AT(d, D_TOHASH6), L_AT(d, D_ETH));

    label(a, L_AT(d, D_ETH));           /* X = the inner Ethernet header */
    op(a, BPF_LD | BPF_H | BPF_IND, base + 12);
    for (int tag = 0; tag < 2; tag++) { /* up to two 802.1Q / 802.1ad tags */
        int vl = tag ? D_VLAN2 : D_VLAN;
        jeq(a, 0x8100, L_AT(d, vl), -1);
        jeq(a, 0x88a8, L_AT(d, vl), -1);
        jeq(a, 0x9100, L_AT(d, vl), L_AT(d, D_ET));
        label(a, L_AT(d, vl));
        x_add(a, 4);
        op(a, BPF_LD | BPF_H | BPF_IND, base + 12);
    }

    label(a, L_AT(d, D_ET));
    jeq(a, 0x0800, L_AT(d, D_IN4), -1);
    jeq(a, 0x86dd, L_AT(d, D_IN6), L_AT(d, D_RESTORE));

    label(a, L_AT(d, D_IN6));
    x_add(a, 14);
    jmp(a, L_HASH6);

    /* ICMP destination unreachable quotes the packet it answers (ICMPv6's
     * is handled after the IPv6 header walk, L_ICMP6): hash the
     * quoted header, so the error reaches the worker of the flow it refuses
     * (the scan detector counts it as that attempt's failure). The error's
     * own ICMP flow is then spread over the workers of what it quotes. */
    label(a, L_AT(d, D_ICMP));
    op(a, BPF_STX, 4);
    x_add_ihl(a, base);       /* X = the ICMP header */
    op(a, BPF_LD | BPF_B | BPF_IND, base + 0);
    jeq(a, 3, -1, L_AT(d, D_RESTORE));
    x_add(a, 8);                        /* X = the quoted IPv4 header */
    jmp(a, L_HASH4);

    label(a, L_AT(d, D_RESTORE));       /* not a tunnel we follow: hash this header */
    op(a, BPF_LDX | BPF_MEM, 4);
    label(a, L_AT(d, D_TOHASH4));       /* conditional jumps reach 255 ahead: far */
    jmp(a, L_HASH4);                    /* targets go through these */
    label(a, L_AT(d, D_TOHASH6));
    jmp(a, L_HASH6);
    label(a, L_AT(d, D_TONEXT));
    jmp(a, d + 1 < FANOUT_DEPTH ? L_AT(d + 1, D_IP4) : L_HASH4);

    label(a, L_AT(d, D_IN4));
    x_add(a, 14);
    if (d + 1 == FANOUT_DEPTH)
        jmp(a, L_HASH4);                /* deep enough: the next level is hashed */
    /* else on to the next level, which follows */
}

int
cap_fanout_prog(struct sock_filter *out, unsigned max, uint32_t base,
                const uint16_t *vxlan_ports, unsigned n_vxlan,
                const uint16_t *geneve_ports, unsigned n_geneve)
{
    struct casm a;
    memset(&a, 0, sizeof(a));
    for (int i = 0; i < L_NLABELS; i++)
        a.label[i] = -1;
    if (n_vxlan > 8)
        n_vxlan = 8;
    if (n_geneve > 8)
        n_geneve = 8;

    /* Memory starts at zero in the kernel; say so for other interpreters. */
    op(&a, BPF_LD | BPF_IMM, 0);
    op(&a, BPF_ST, 0);
    op(&a, BPF_ST, 3);
    op(&a, BPF_LDX | BPF_IMM, 0);
    op(&a, BPF_LD | BPF_B | BPF_ABS, base + 0);
    op(&a, BPF_ALU | BPF_RSH | BPF_K, 4);
    jeq(&a, 6, L_START6, -1);
    jeq(&a, 4, L_AT(0, D_IP4), -1);
    op(&a, BPF_RET | BPF_K, 0);         /* not IP: worker 0 */
    label(&a, L_START6);
    jmp(&a, L_HASH6);
    for (unsigned d = 0; d < FANOUT_DEPTH; d++)
        emit_level(&a, base, d, vxlan_ports, n_vxlan, geneve_ports, n_geneve);

    emit_hash(&a, base);

    if (a.overflow || a.n > max)
        return -1;
    for (unsigned i = 0; i < a.n; i++) {
        const struct asm_ins *s = &a.ins[i];
        struct sock_filter *d = &out[i];
        d->code = s->code;
        d->k = s->k;
        d->jt = d->jf = 0;
        if (s->ja) {
            int t = a.label[s->k];
            if (t <= (int)i)
                return -1;          /* forward jumps only */
            d->k = (uint32_t)(t - (int)i - 1);
        } else if (BPF_CLASS(s->code) == BPF_JMP) {
            int jt = s->jt < 0 ? (int)i + 1 : a.label[s->jt];
            int jf = s->jf < 0 ? (int)i + 1 : a.label[s->jf];
            if (jt <= (int)i || jf <= (int)i || jt - (int)i - 1 > 255 || jf - (int)i - 1 > 255)
                return -1;
            d->jt = (uint8_t)(jt - (int)i - 1);
            d->jf = (uint8_t)(jf - (int)i - 1);
        }
    }
    return (int)a.n;
}
