/* tests/test_dns.c - unit tests for decoders/dns.c, dns_tcp.c, dns_txn.c.
 *
 * Messages are built byte by byte with a tiny builder so every test shows
 * exactly what is on the wire. The last tests read real captures from
 * ../../shared/data/pcaps (relative to tests/, where the runner is started)
 * with a minimal classic-pcap reader; when the files are absent those tests
 * pass with a note instead of failing. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dns.h"

/* ---- message builder ---------------------------------------------------- */

struct mb {
    uint8_t b[8192];
    size_t n;
};

static void mb_u8(struct mb *m, unsigned v) { m->b[m->n++] = (uint8_t)v; }
static void mb_u16(struct mb *m, unsigned v) { mb_u8(m, v >> 8); mb_u8(m, v & 255); }
static void mb_u32(struct mb *m, uint32_t v) { mb_u16(m, v >> 16); mb_u16(m, v & 0xffff); }
static void mb_raw(struct mb *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

/* Uncompressed name from dotted text ("" = root). */
static void mb_name(struct mb *m, const char *s)
{
    while (*s) {
        const char *d = strchr(s, '.');
        size_t l = d ? (size_t)(d - s) : strlen(s);
        mb_u8(m, (unsigned)l);
        mb_raw(m, s, l);
        s += l;
        if (*s == '.')
            s++;
    }
    mb_u8(m, 0);
}

static void mb_ptr(struct mb *m, unsigned off) { mb_u16(m, 0xC000 | off); }

static void mb_hdr(struct mb *m, unsigned id, unsigned flags, unsigned qd,
                   unsigned an, unsigned ns, unsigned ar)
{
    m->n = 0;
    mb_u16(m, id);
    mb_u16(m, flags);
    mb_u16(m, qd);
    mb_u16(m, an);
    mb_u16(m, ns);
    mb_u16(m, ar);
}

static void mb_q(struct mb *m, const char *name, unsigned type)
{
    mb_name(m, name);
    mb_u16(m, type);
    mb_u16(m, 1);
}

/* Owner = pointer to the question name (offset 12). Returns the offset of
 * RDLENGTH, for mb_rr_end(). */
static size_t mb_rr(struct mb *m, unsigned type, uint32_t ttl)
{
    mb_ptr(m, 12);
    mb_u16(m, type);
    mb_u16(m, 1);
    mb_u32(m, ttl);
    size_t at = m->n;
    mb_u16(m, 0);
    return at;
}

static void mb_rr_end(struct mb *m, size_t at)
{
    size_t l = m->n - at - 2;
    m->b[at] = (uint8_t)(l >> 8);
    m->b[at + 1] = (uint8_t)l;
}

/* ---- parser: normal messages ------------------------------------------- */

static void test_parse_query(void)
{
    struct mb m;
    struct dns_msg d;
    mb_hdr(&m, 0xbeef, 0x0100, 1, 0, 0, 0);
    mb_q(&m, "WWW.Example.COM", 28);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_EQUAL(d.id, 0xbeef);
    CU_ASSERT_EQUAL(d.qr, 0);
    CU_ASSERT_EQUAL(d.opcode, 0);
    CU_ASSERT_EQUAL(d.flags, 0x0100);
    CU_ASSERT_STRING_EQUAL(d.qname, "www.example.com");
    CU_ASSERT_EQUAL(d.qname_len, 15);
    CU_ASSERT_EQUAL(d.qtype, 28);
    CU_ASSERT_EQUAL(d.qclass, 1);
    CU_ASSERT_EQUAL(d.n_answers, 0);
    CU_ASSERT_EQUAL(d.answers_truncated, 0);

    /* The root as qname. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 1);
    mb_q(&m, "", 2);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_STRING_EQUAL(d.qname, "");
    CU_ASSERT_EQUAL(d.qname_len, 0);
    CU_ASSERT_EQUAL(d.arcount, 1);
}

/* A response: CNAME (target compressed against the question), A, AAAA.
 * ends[] receives where each answer ends, qend where the question ends. */
static void build_response(struct mb *m, size_t *qend, size_t ends[3])
{
    mb_hdr(m, 0x1234, 0x8583, 1, 3, 0, 0);      /* QR AA RD RA NXDOMAIN */
    mb_q(m, "www.example.com", 1);
    *qend = m->n;
    size_t at = mb_rr(m, 5, 3600);
    mb_u8(m, 3);
    mb_raw(m, "web", 3);
    mb_ptr(m, 16);                              /* -> "example.com" */
    mb_rr_end(m, at);
    ends[0] = m->n;
    at = mb_rr(m, 1, 60);
    mb_raw(m, "\xc0\x00\x02\x01", 4);
    mb_rr_end(m, at);
    ends[1] = m->n;
    at = mb_rr(m, 28, 0xffffffffu);
    mb_raw(m, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    mb_rr_end(m, at);
    ends[2] = m->n;
}

static void test_parse_response(void)
{
    struct mb m;
    struct dns_msg d;
    size_t qend, ends[3];
    build_response(&m, &qend, ends);
    CU_ASSERT_EQUAL_FATAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_EQUAL(d.qr, 1);
    CU_ASSERT_EQUAL(d.rcode, 3);
    CU_ASSERT_EQUAL(d.ancount, 3);
    CU_ASSERT_EQUAL(d.n_answers, 3);
    CU_ASSERT_EQUAL(d.answers_truncated, 0);
    CU_ASSERT_EQUAL(d.answers[0].type, 5);
    CU_ASSERT_EQUAL(d.answers[0].ttl, 3600);
    CU_ASSERT_STRING_EQUAL(d.answers[0].data, "web.example.com");
    CU_ASSERT_EQUAL(d.answers[0].len, 15);
    CU_ASSERT_STRING_EQUAL(d.answers[1].data, "192.0.2.1");
    CU_ASSERT_STRING_EQUAL(d.answers[2].data, "2001:db8::1");
    CU_ASSERT_EQUAL(d.answers[2].ttl, 0xffffffffu);
}

/* Every cut 0..len-1: SHORT before the question is complete, afterwards OK
 * with exactly the answers that were whole, and answers_truncated set. */
static void test_parse_every_cut(void)
{
    struct mb m;
    struct dns_msg d;
    size_t qend, ends[3];
    build_response(&m, &qend, ends);
    for (size_t cut = 0; cut < m.n; cut++) {
        enum dns_status st = dns_parse(m.b, cut, &d);
        if (cut < qend) {
            CU_ASSERT_EQUAL(st, DNS_ERR_SHORT);
            continue;
        }
        CU_ASSERT_EQUAL(st, DNS_OK);
        unsigned whole = 0;
        for (int i = 0; i < 3; i++)
            whole += ends[i] <= cut;
        CU_ASSERT_EQUAL(d.n_answers, whole);
        CU_ASSERT_EQUAL(d.answers_truncated, 1);
        CU_ASSERT_STRING_EQUAL(d.qname, "www.example.com");
    }
    /* Same through a heap copy of exactly 'cut' bytes, so ASan sees any
     * read past the end. */
    for (size_t cut = 0; cut <= m.n; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, m.b, cut);
        (void)dns_parse(p, cut, &d);
        free(p);
    }
    CU_ASSERT_EQUAL(dns_parse(NULL, 0, &d), DNS_ERR_SHORT);
}

static void test_parse_noquestion(void)
{
    struct mb m;
    struct dns_msg d;
    mb_hdr(&m, 1, 0x8180, 0, 0, 0, 0);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_NOQUESTION);
    /* A query without a question is useless too. */
    mb_hdr(&m, 1, 0x0100, 0, 1, 0, 0);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_NOQUESTION);
    /* An mDNS announcement: no question, one answer whose owner name and
     * type stand in for it (cache-flush bit masked off the class). */
    mb_hdr(&m, 0, 0x8400, 0, 1, 0, 0);
    mb_name(&m, "printer.local");
    mb_u16(&m, 1);
    mb_u16(&m, 0x8001);
    mb_u32(&m, 120);
    mb_u16(&m, 4);
    mb_u32(&m, 0xc0a80105);
    CU_ASSERT_EQUAL_FATAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_STRING_EQUAL(d.qname, "printer.local");
    CU_ASSERT_EQUAL(d.qtype, 1);
    CU_ASSERT_EQUAL(d.qclass, 1);
    CU_ASSERT_EQUAL_FATAL(d.n_answers, 1);
    CU_ASSERT_STRING_EQUAL(d.answers[0].data, "192.168.1.5");
    /* ... cut inside that owner name: short, not a crash */
    CU_ASSERT_EQUAL(dns_parse(m.b, 16, &d), DNS_ERR_SHORT);
}

/* ---- names -------------------------------------------------------------- */

static void test_name_pointers(void)
{
    struct mb m;
    struct dns_msg d;

    /* Forward pointer in the question. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    mb_ptr(&m, 20);
    mb_u16(&m, 1); mb_u16(&m, 1);
    mb_name(&m, "evil.com");
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_PTR);

    /* Pointer to itself. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    mb_ptr(&m, 12);
    mb_u16(&m, 1); mb_u16(&m, 1);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_PTR);

    /* Pointer to itself after a label. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    mb_u8(&m, 1); mb_u8(&m, 'a');
    mb_ptr(&m, 14);
    mb_u16(&m, 1); mb_u16(&m, 1);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_PTR);

    /* A label then a pointer back to the label's own start: a loop that a
     * "pointer < its own offset" rule would let through. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    mb_u8(&m, 1); mb_u8(&m, 'a');
    mb_ptr(&m, 12);
    mb_u16(&m, 1); mb_u16(&m, 1);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_PTR);

    /* Two pointers pointing at each other. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    mb_ptr(&m, 14);
    mb_ptr(&m, 12);
    mb_u16(&m, 1); mb_u16(&m, 1);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_PTR);

    /* Offset far outside the message. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    mb_ptr(&m, 0x3fff);
    mb_u16(&m, 1); mb_u16(&m, 1);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_PTR);

    /* A pointer whose second byte is cut: short, not a pointer error. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    mb_u8(&m, 0xc0);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_SHORT);

    /* Valid backward pointers, two levels: answer owner "x" + ptr(qname),
     * CNAME target "y" + ptr(owner of that answer). */
    mb_hdr(&m, 2, 0x8180, 1, 2, 0, 0);
    mb_q(&m, "example.org", 1);
    size_t own = m.n;
    mb_u8(&m, 1); mb_u8(&m, 'x'); mb_ptr(&m, 12);
    mb_u16(&m, 5); mb_u16(&m, 1); mb_u32(&m, 1);
    size_t at = m.n; mb_u16(&m, 0);
    mb_u8(&m, 1); mb_u8(&m, 'y'); mb_ptr(&m, (unsigned)own);
    mb_rr_end(&m, at);
    /* second answer: CNAME whose target is a forward pointer -> hex */
    at = mb_rr(&m, 5, 1);
    mb_ptr(&m, (unsigned)m.n + 2);
    mb_rr_end(&m, at);
    CU_ASSERT_EQUAL_FATAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_EQUAL(d.n_answers, 2);
    CU_ASSERT_STRING_EQUAL(d.answers[0].data, "y.x.example.org");
    CU_ASSERT_EQUAL(d.answers[1].len, 4);   /* shown as hex */
    CU_ASSERT_EQUAL(d.answers[1].data[0], 'c');

    /* An answer whose owner name is bad ends the walk (answers kept). */
    mb_hdr(&m, 2, 0x8180, 1, 2, 0, 0);
    mb_q(&m, "example.org", 1);
    at = mb_rr(&m, 1, 1); mb_raw(&m, "\1\2\3\4", 4); mb_rr_end(&m, at);
    mb_ptr(&m, 0x3000);
    mb_u16(&m, 1); mb_u16(&m, 1); mb_u32(&m, 1); mb_u16(&m, 4);
    mb_raw(&m, "\1\2\3\4", 4);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_EQUAL(d.n_answers, 1);
    CU_ASSERT_EQUAL(d.answers_truncated, 1);
}

/* A chain of backward pointers, one per hop, ending in a real name; a CNAME
 * points at the chain's last link. With 'hops' pointer hops in total the
 * rdata decodes up to the hop limit (32) and falls back to hex beyond. */
static int chain_decodes(unsigned hops)
{
    struct mb m;
    struct dns_msg d;
    mb_hdr(&m, 3, 0x8180, 1, 2, 0, 0);
    mb_q(&m, "q.test", 1);
    /* Answer 1: a NULL record carrying the chain as its rdata. */
    size_t at = mb_rr(&m, 10, 1);
    size_t prev = m.n;
    mb_name(&m, "end.test");
    for (unsigned i = 1; i < hops; i++) {
        size_t here = m.n;
        mb_ptr(&m, (unsigned)prev);
        prev = here;
    }
    mb_rr_end(&m, at);
    /* Answer 2: CNAME -> the last link (one more hop). */
    at = mb_rr(&m, 5, 1);
    mb_ptr(&m, (unsigned)prev);
    mb_rr_end(&m, at);
    if (dns_parse(m.b, m.n, &d) != DNS_OK || d.n_answers != 2)
        return -1;
    return strcmp(d.answers[1].data, "end.test") == 0;
}

static void test_name_hop_limit(void)
{
    CU_ASSERT_EQUAL(chain_decodes(1), 1);
    CU_ASSERT_EQUAL(chain_decodes(32), 1);
    CU_ASSERT_EQUAL(chain_decodes(33), 0);
    CU_ASSERT_EQUAL(chain_decodes(200), 0);
}

static void test_name_limits(void)
{
    struct mb m;
    struct dns_msg d;
    char lab[64];
    memset(lab, 'a', 63);
    lab[63] = '\0';

    /* 3 x 63 + 61: wire length 64*3 + 62 + 1 = 255, the maximum. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    for (int i = 0; i < 3; i++) {
        mb_u8(&m, 63);
        mb_raw(&m, lab, 63);
    }
    mb_u8(&m, 61);
    mb_raw(&m, lab, 61);
    mb_u8(&m, 0);
    mb_u16(&m, 1); mb_u16(&m, 1);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_EQUAL(d.qname_len, 253);
    CU_ASSERT_EQUAL(strlen(d.qname), 253);

    /* One octet more: 256. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    for (int i = 0; i < 3; i++) {
        mb_u8(&m, 63);
        mb_raw(&m, lab, 63);
    }
    mb_u8(&m, 62);
    mb_raw(&m, lab, 62);
    mb_u8(&m, 0);
    mb_u16(&m, 1); mb_u16(&m, 1);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_NAME);

    /* Many short labels: 128 x "a" = 256 octets + root. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    for (int i = 0; i < 128; i++) {
        mb_u8(&m, 1);
        mb_u8(&m, 'a');
    }
    mb_u8(&m, 0);
    mb_u16(&m, 1); mb_u16(&m, 1);
    CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_NAME);

    /* Label length 64..191 = label types 01 and 10: rejected. */
    static const uint8_t bad[] = { 0x40, 0x41, 0x7f, 0x80, 0xbf };
    for (size_t i = 0; i < sizeof(bad); i++) {
        mb_hdr(&m, 1, 0, 1, 0, 0, 0);
        mb_u8(&m, bad[i]);
        for (int j = 0; j < 200; j++)
            mb_u8(&m, 'a');
        mb_u8(&m, 0);
        mb_u16(&m, 1); mb_u16(&m, 1);
        CU_ASSERT_EQUAL(dns_parse(m.b, m.n, &d), DNS_ERR_NAME);
    }

    /* Compressed name over 255 in rdata: 200 octets of labels + pointer to
     * a 100-octet name -> not a name, shown as hex. */
    mb_hdr(&m, 1, 0x8180, 1, 1, 0, 0);
    mb_u8(&m, 63); mb_raw(&m, lab, 63);
    mb_u8(&m, 35); mb_raw(&m, lab, 35);
    mb_u8(&m, 0);                               /* qname: 100 octets */
    mb_u16(&m, 5); mb_u16(&m, 1);
    size_t at = mb_rr(&m, 5, 1);
    for (int i = 0; i < 3; i++) {
        mb_u8(&m, 63);
        mb_raw(&m, lab, 63);
    }
    mb_u8(&m, 7); mb_raw(&m, lab, 7);           /* 200 octets */
    mb_ptr(&m, 12);
    mb_rr_end(&m, at);
    CU_ASSERT_EQUAL_FATAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_EQUAL(d.n_answers, 1);
    CU_ASSERT_EQUAL(strspn(d.answers[0].data, "0123456789abcdef"),
                    d.answers[0].len);
}

static void test_name_escaping(void)
{
    struct mb m;
    struct dns_msg d;
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    mb_u8(&m, 9);
    mb_raw(&m, "A.b c\xff\\\"@", 9);
    mb_u8(&m, 3);
    mb_raw(&m, "C\x00m", 3);
    mb_u8(&m, 0);
    mb_u16(&m, 1); mb_u16(&m, 1);
    CU_ASSERT_EQUAL_FATAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_STRING_EQUAL(d.qname, "a\\.b\\032c\\255\\\\\\\"\\@.c\\000m");
    CU_ASSERT_EQUAL(d.qname_len, strlen(d.qname));

    /* 255 octets of binary labels would need 4x the room: the text is cut
     * at an escape boundary, NUL-terminated, and the parse still succeeds. */
    mb_hdr(&m, 1, 0, 1, 0, 0, 0);
    for (int i = 0; i < 4; i++) {
        mb_u8(&m, 62);
        for (int j = 0; j < 62; j++)
            mb_u8(&m, 0x01);
    }
    mb_u8(&m, 0);
    mb_u16(&m, 1); mb_u16(&m, 1);
    CU_ASSERT_EQUAL_FATAL(dns_parse(m.b, m.n, &d), DNS_OK);
    /* 62 x "\001" = 248, ".", one more "\001" = 253; a second would
     * make 257 > 255. */
    CU_ASSERT_EQUAL(d.qname_len, 253);
    CU_ASSERT_EQUAL(d.qname_len, strlen(d.qname));
    CU_ASSERT_STRING_EQUAL(d.qname + 244, "\\001.\\001");
}

/* ---- rdata -------------------------------------------------------------- */

static void test_rdata_txt(void)
{
    struct mb m;
    struct dns_msg d;
    mb_hdr(&m, 1, 0x8180, 1, 3, 0, 0);
    mb_q(&m, "t.example", 16);
    size_t at = mb_rr(&m, 16, 1);
    mb_u8(&m, 5); mb_raw(&m, "v=spf", 5);
    mb_u8(&m, 6); mb_raw(&m, "1 -all", 6);
    mb_u8(&m, 0);
    mb_u8(&m, 3); mb_raw(&m, "\x01\\\"", 3);
    mb_rr_end(&m, at);
    /* 3 strings of 100: cut at 127 characters. */
    at = mb_rr(&m, 16, 1);
    for (int i = 0; i < 3; i++) {
        mb_u8(&m, 100);
        for (int j = 0; j < 100; j++)
            mb_u8(&m, 'a' + i);
    }
    mb_rr_end(&m, at);
    /* 126 printable then a byte that needs \DDD: the escape does not fit
     * whole, so it is left out entirely. */
    at = mb_rr(&m, 16, 1);
    mb_u8(&m, 127);
    for (int j = 0; j < 126; j++)
        mb_u8(&m, 'x');
    mb_u8(&m, 0x07);
    mb_rr_end(&m, at);
    CU_ASSERT_EQUAL_FATAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_EQUAL_FATAL(d.n_answers, 3);
    CU_ASSERT_STRING_EQUAL(d.answers[0].data, "v=spf1 -all\\001\\\\\"");
    CU_ASSERT_EQUAL(d.answers[1].len, DNS_MAX_RDATA - 1);
    CU_ASSERT_EQUAL(d.answers[1].data[99], 'a');
    CU_ASSERT_EQUAL(d.answers[1].data[100], 'b');
    CU_ASSERT_EQUAL(d.answers[2].len, 126);

    /* A character-string running past its rdata: hex. */
    mb_hdr(&m, 1, 0x8180, 1, 1, 0, 0);
    mb_q(&m, "t.example", 16);
    at = mb_rr(&m, 16, 1);
    mb_u8(&m, 9); mb_raw(&m, "ab", 2);
    mb_rr_end(&m, at);
    CU_ASSERT_EQUAL_FATAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_STRING_EQUAL(d.answers[0].data, "096162");
}

static void test_rdata_other(void)
{
    struct mb m;
    struct dns_msg d;
    mb_hdr(&m, 1, 0x8180, 1, 8, 0, 0);
    mb_q(&m, "example.com", 255);
    size_t at = mb_rr(&m, 15, 1);               /* MX */
    mb_u16(&m, 10); mb_u8(&m, 4); mb_raw(&m, "Mail", 4); mb_ptr(&m, 12);
    mb_rr_end(&m, at);
    at = mb_rr(&m, 6, 1);                       /* SOA */
    mb_name(&m, "ns1.example.net");
    mb_u8(&m, 4); mb_raw(&m, "host", 4); mb_ptr(&m, 12);
    mb_u32(&m, 2024010101u); mb_u32(&m, 1); mb_u32(&m, 2); mb_u32(&m, 3);
    mb_u32(&m, 4);
    mb_rr_end(&m, at);
    at = mb_rr(&m, 33, 1);                      /* SRV */
    mb_u16(&m, 1); mb_u16(&m, 5); mb_u16(&m, 5060);
    mb_name(&m, "sip.example.com");
    mb_rr_end(&m, at);
    at = mb_rr(&m, 12, 1);                      /* PTR */
    mb_ptr(&m, 12);
    mb_rr_end(&m, at);
    at = mb_rr(&m, 15, 1);                      /* null MX, RFC 7505 */
    mb_u16(&m, 0); mb_u8(&m, 0);
    mb_rr_end(&m, at);
    at = mb_rr(&m, 257, 1);                     /* CAA: hex */
    mb_raw(&m, "\x00\x05issue", 7);
    mb_rr_end(&m, at);
    at = mb_rr(&m, 1, 1);                       /* A of 5 bytes: hex */
    mb_raw(&m, "\1\2\3\4\5", 5);
    mb_rr_end(&m, at);
    at = mb_rr(&m, 10, 1);                      /* NULL of 100 bytes */
    for (int i = 0; i < 100; i++)
        mb_u8(&m, 0xab);
    mb_rr_end(&m, at);
    CU_ASSERT_EQUAL_FATAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_EQUAL_FATAL(d.n_answers, 8);
    CU_ASSERT_EQUAL(d.answers_truncated, 0);
    CU_ASSERT_STRING_EQUAL(d.answers[0].data, "10 mail.example.com");
    CU_ASSERT_STRING_EQUAL(d.answers[1].data,
                           "ns1.example.net host.example.com 2024010101");
    CU_ASSERT_STRING_EQUAL(d.answers[2].data, "1 5 5060 sip.example.com");
    CU_ASSERT_STRING_EQUAL(d.answers[3].data, "example.com");
    CU_ASSERT_STRING_EQUAL(d.answers[4].data, "0 .");
    CU_ASSERT_STRING_EQUAL(d.answers[5].data, "00056973737565");
    CU_ASSERT_STRING_EQUAL(d.answers[6].data, "0102030405");
    CU_ASSERT_EQUAL(d.answers[7].len, 126);     /* 63 whole bytes */
    CU_ASSERT_EQUAL(strspn(d.answers[7].data, "ab"), 126);

    /* A ninth answer is counted but not kept. */
    m.b[7] = 9;
    at = mb_rr(&m, 1, 1);
    mb_raw(&m, "\1\2\3\4", 4);
    mb_rr_end(&m, at);
    CU_ASSERT_EQUAL_FATAL(dns_parse(m.b, m.n, &d), DNS_OK);
    CU_ASSERT_EQUAL(d.n_answers, 8);
    CU_ASSERT_EQUAL(d.ancount, 9);
    CU_ASSERT_EQUAL(d.answers_truncated, 1);
}

static const char *aaaa_text(const uint8_t a[16], char *out)
{
    struct mb m;
    struct dns_msg d;
    mb_hdr(&m, 1, 0x8180, 1, 1, 0, 0);
    mb_q(&m, "v6", 28);
    size_t at = mb_rr(&m, 28, 1);
    mb_raw(&m, a, 16);
    mb_rr_end(&m, at);
    if (dns_parse(m.b, m.n, &d) != DNS_OK || d.n_answers != 1)
        return "?";
    strcpy(out, d.answers[0].data);
    return out;
}

static void test_rdata_aaaa(void)
{
    static const struct { const char *in, *out; } cases[] = {
        { "2001:db8::1", "2001:db8::1" },
        { "::", "::" },
        { "::1", "::1" },
        { "1::", "1::" },
        { "fe80::1:2", "fe80::1:2" },
        { "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },    /* one zero */
        { "2001:0:0:1:0:0:0:1", "2001:0:0:1::1" },             /* longest */
        { "1:0:0:2:0:0:3:4", "1::2:0:0:3:4" },                 /* first tie */
        { "2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:0001",
          "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1" },
        { "::ffff:192.0.2.1", "::ffff:192.0.2.1" },
    };
    uint8_t a[16];
    char buf[DNS_MAX_RDATA], ref[INET6_ADDRSTRLEN];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET6, cases[i].in, a), 1);
        CU_ASSERT_STRING_EQUAL(aaaa_text(a, buf), cases[i].out);
    }
    /* Against glibc inet_ntop on many zero-heavy addresses. glibc also
     * prints the deprecated IPv4-compatible form ::a.b.c.d, which RFC 5952
     * does not ask for; those are skipped. */
    uint32_t x = 12345;
    int mismatches = 0;
    for (int n = 0; n < 20000; n++) {
        for (int g = 0; g < 8; g++) {
            x = x * 1103515245u + 12345u;
            unsigned v = (x >> 16) & 0xffff;
            if ((x >> 8) % 3)
                v = 0;                      /* lots of zero groups */
            else if ((x >> 4) % 4 == 0)
                v &= 0xf;
            a[2 * g] = (uint8_t)(v >> 8);
            a[2 * g + 1] = (uint8_t)v;
        }
        int compat = 1;
        for (int i = 0; i < 12; i++)
            compat &= a[i] == 0;
        if (compat && (a[12] | a[13]))
            continue;
        inet_ntop(AF_INET6, a, ref, sizeof(ref));
        if (strcmp(aaaa_text(a, buf), ref) != 0 && mismatches++ < 3)
            fprintf(stderr, "AAAA mismatch: %s vs %s\n", buf, ref);
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

static void test_names_tables(void)
{
    CU_ASSERT_STRING_EQUAL(dns_type_name(1), "A");
    CU_ASSERT_STRING_EQUAL(dns_type_name(28), "AAAA");
    CU_ASSERT_STRING_EQUAL(dns_type_name(65), "HTTPS");
    CU_ASSERT_STRING_EQUAL(dns_type_name(64), "SVCB");
    CU_ASSERT_STRING_EQUAL(dns_type_name(257), "CAA");
    CU_ASSERT_STRING_EQUAL(dns_type_name(255), "ANY");
    CU_ASSERT_STRING_EQUAL(dns_type_name(10), "NULL");
    CU_ASSERT_STRING_EQUAL(dns_type_name(46), "RRSIG");
    CU_ASSERT_PTR_NULL(dns_type_name(0));
    CU_ASSERT_PTR_NULL(dns_type_name(12345));
    CU_ASSERT_STRING_EQUAL(dns_rcode_name(0), "NOERROR");
    CU_ASSERT_STRING_EQUAL(dns_rcode_name(3), "NXDOMAIN");
    CU_ASSERT_PTR_NULL(dns_rcode_name(15));
    for (int s = 0; s <= DNS_STATUS_MAX; s++)
        CU_ASSERT_PTR_NOT_NULL(dns_status_name((enum dns_status)s));
    CU_ASSERT_STRING_EQUAL(dns_status_name(DNS_ERR_PTR), "bad-pointer");
}

/* ---- TCP ---------------------------------------------------------------- */

struct got {
    int n;
    size_t len[16];
    uint16_t id[16];
};

static void got_cb(void *arg, const uint8_t *msg, size_t len)
{
    struct got *g = arg;
    if (g->n < 16) {
        g->len[g->n] = len;
        g->id[g->n] = len >= 2 ? (uint16_t)(msg[0] << 8 | msg[1]) : 0;
    }
    g->n++;
}

/* A framed query with the given id: 2-byte length + message. */
static size_t framed(uint8_t *out, unsigned id, const char *name)
{
    struct mb m;
    mb_hdr(&m, id, 0x0100, 1, 0, 0, 0);
    mb_q(&m, name, 1);
    out[0] = (uint8_t)(m.n >> 8);
    out[1] = (uint8_t)m.n;
    memcpy(out + 2, m.b, m.n);
    return m.n + 2;
}

static struct dns_tcp_stream ts;    /* 4 KB, keep off the stack */

static void test_tcp_two_in_one(void)
{
    uint8_t seg[512];
    struct got g = { 0 };
    size_t n = framed(seg, 1, "one.example");
    n += framed(seg + n, 2, "two.example");
    dns_tcp_init(&ts);
    dns_tcp_feed(&ts, 1000, 1, NULL, 0, got_cb, &g);
    dns_tcp_feed(&ts, 1001, 0, seg, n, got_cb, &g);
    CU_ASSERT_EQUAL(g.n, 2);
    CU_ASSERT_EQUAL(g.id[0], 1);
    CU_ASSERT_EQUAL(g.id[1], 2);
    CU_ASSERT_EQUAL(ts.msgs, 2);
    CU_ASSERT_EQUAL(ts.gaps, 0);
}

static void test_tcp_split_three(void)
{
    uint8_t seg[512];
    struct dns_msg d;
    size_t n = framed(seg, 7, "split.example");
    /* Cut inside the length prefix, then in the middle. */
    size_t cuts[][2] = { { 1, 10 }, { 2, 3 }, { 5, n - 1 } };
    for (size_t c = 0; c < 3; c++) {
        struct got g = { 0 };
        size_t a = cuts[c][0], b = cuts[c][1];
        dns_tcp_init(&ts);
        dns_tcp_feed(&ts, 99, 1, NULL, 0, got_cb, &g);
        dns_tcp_feed(&ts, 100, 0, seg, a, got_cb, &g);
        dns_tcp_feed(&ts, 100 + (uint32_t)a, 0, seg + a, b - a, got_cb, &g);
        CU_ASSERT_EQUAL(g.n, 0);
        dns_tcp_feed(&ts, 100 + (uint32_t)b, 0, seg + b, n - b, got_cb, &g);
        CU_ASSERT_EQUAL(g.n, 1);
        CU_ASSERT_EQUAL(g.len[0], n - 2);
        CU_ASSERT_EQUAL(g.id[0], 7);
    }
    /* The reassembled bytes parse. */
    CU_ASSERT_EQUAL(dns_parse(ts.buf + 2, n - 2, &d), DNS_OK);
    CU_ASSERT_STRING_EQUAL(d.qname, "split.example");
}

static void test_tcp_retransmit(void)
{
    uint8_t seg[512];
    struct got g = { 0 };
    size_t n1 = framed(seg, 1, "a.example");
    size_t n = n1 + framed(seg + n1, 2, "b.example");
    dns_tcp_init(&ts);
    dns_tcp_feed(&ts, 4999, 1, NULL, 0, got_cb, &g);
    dns_tcp_feed(&ts, 5000, 0, seg, 10, got_cb, &g);
    dns_tcp_feed(&ts, 5000, 0, seg, 10, got_cb, &g);        /* exact copy */
    dns_tcp_feed(&ts, 5000, 0, seg, 4, got_cb, &g);         /* older, shorter */
    dns_tcp_feed(&ts, 5000, 0, seg, n1 + 5, got_cb, &g);    /* overlaps */
    CU_ASSERT_EQUAL(g.n, 1);
    dns_tcp_feed(&ts, 5000, 0, seg, n, got_cb, &g);         /* all again+rest */
    CU_ASSERT_EQUAL(g.n, 2);
    dns_tcp_feed(&ts, 5000, 0, seg, n, got_cb, &g);         /* all old */
    CU_ASSERT_EQUAL(g.n, 2);
    CU_ASSERT_EQUAL(g.id[0], 1);
    CU_ASSERT_EQUAL(g.id[1], 2);
    CU_ASSERT_EQUAL(ts.gaps, 0);
}

static void test_tcp_gap(void)
{
    uint8_t seg[512];
    struct got g = { 0 };
    size_t n1 = framed(seg, 1, "lost.example");
    size_t n2 = framed(seg + n1, 2, "next.example");
    size_t n3 = framed(seg + n1 + n2, 3, "third.example");
    dns_tcp_init(&ts);
    dns_tcp_feed(&ts, 0, 1, NULL, 0, got_cb, &g);
    /* Message 1 in two pieces; the second piece is lost. Message 2 starts
     * its own segment: it is trusted and delivered. */
    dns_tcp_feed(&ts, 1, 0, seg, 8, got_cb, &g);
    dns_tcp_feed(&ts, 1 + (uint32_t)n1, 0, seg + n1, n2, got_cb, &g);
    CU_ASSERT_EQUAL(g.n, 1);
    CU_ASSERT_EQUAL(g.id[0], 2);
    CU_ASSERT_EQUAL(ts.gaps, 1);
    /* The late piece of message 1 is now old: ignored. */
    dns_tcp_feed(&ts, 9, 0, seg + 8, n1 - 8, got_cb, &g);
    CU_ASSERT_EQUAL(g.n, 1);

    /* A gap that lands mid-message: that segment is not trusted, the next
     * one that starts a message is. */
    struct got h = { 0 };
    dns_tcp_init(&ts);
    dns_tcp_feed(&ts, 0, 1, NULL, 0, got_cb, &h);
    uint32_t base = 1;
    dns_tcp_feed(&ts, base + 20, 0, seg + 20, n1 - 20, got_cb, &h);
    CU_ASSERT_EQUAL(h.n, 0);
    CU_ASSERT_EQUAL(ts.gaps, 1);
    dns_tcp_feed(&ts, base + (uint32_t)n1, 0, seg + n1, n2 + n3, got_cb, &h);
    CU_ASSERT_EQUAL(h.n, 2);
    CU_ASSERT_EQUAL(h.id[0], 2);
    CU_ASSERT_EQUAL(h.id[1], 3);

    /* Picked up mid-connection (no SYN): first segment must look right. */
    struct got k = { 0 };
    dns_tcp_init(&ts);
    dns_tcp_feed(&ts, 777, 0, seg + 3, n1 - 3, got_cb, &k);
    dns_tcp_feed(&ts, 777 + (uint32_t)(n1 - 3), 0, seg + n1, n2, got_cb, &k);
    CU_ASSERT_EQUAL(k.n, 1);
    CU_ASSERT_EQUAL(k.id[0], 2);
}

static void test_tcp_oversize(void)
{
    static uint8_t big[6000];
    uint8_t seg[512];
    struct got g = { 0 };
    size_t bl = 5000;
    big[0] = (uint8_t)(bl >> 8);
    big[1] = (uint8_t)bl;
    memset(big + 2, 0x41, bl);
    size_t n = framed(seg, 9, "after.example");
    dns_tcp_init(&ts);
    dns_tcp_feed(&ts, 0, 1, NULL, 0, got_cb, &g);
    uint32_t seq = 1;
    for (size_t off = 0; off < bl + 2; off += 1400) {
        size_t c = bl + 2 - off < 1400 ? bl + 2 - off : 1400;
        dns_tcp_feed(&ts, seq, 0, big + off, c, got_cb, &g);
        seq += (uint32_t)c;
    }
    dns_tcp_feed(&ts, seq, 0, seg, n, got_cb, &g);
    CU_ASSERT_EQUAL(g.n, 1);
    CU_ASSERT_EQUAL(g.id[0], 9);
    CU_ASSERT_EQUAL(ts.skipped, 1);
    CU_ASSERT_EQUAL(ts.msgs, 1);

    /* Largest that fits: DNS_TCP_BUF - 2 bytes, in pieces. */
    struct got h = { 0 };
    bl = DNS_TCP_BUF - 2;
    big[0] = (uint8_t)(bl >> 8);
    big[1] = (uint8_t)bl;
    dns_tcp_init(&ts);
    dns_tcp_feed(&ts, 0, 1, NULL, 0, got_cb, &h);
    dns_tcp_feed(&ts, 1, 0, big, 1000, got_cb, &h);
    dns_tcp_feed(&ts, 1001, 0, big + 1000, bl + 2 - 1000, got_cb, &h);
    CU_ASSERT_EQUAL(h.n, 1);
    CU_ASSERT_EQUAL(h.len[0], bl);
    CU_ASSERT_EQUAL(ts.skipped, 0);
}

static void test_tcp_wrap(void)
{
    uint8_t seg[512];
    struct got g = { 0 };
    size_t n1 = framed(seg, 1, "wrap.example");
    size_t n = n1 + framed(seg + n1, 2, "wrap2.example");
    uint32_t isn = 0xffffffffu - 10;            /* payload crosses 2^32 */
    dns_tcp_init(&ts);
    dns_tcp_feed(&ts, isn, 1, NULL, 0, got_cb, &g);
    dns_tcp_feed(&ts, isn + 1, 0, seg, 7, got_cb, &g);
    dns_tcp_feed(&ts, isn + 8, 0, seg + 7, 20, got_cb, &g);
    dns_tcp_feed(&ts, isn + 1, 0, seg, 27, got_cb, &g);     /* retrans */
    dns_tcp_feed(&ts, isn + 28, 0, seg + 27, n - 27, got_cb, &g);
    CU_ASSERT_EQUAL(g.n, 2);
    CU_ASSERT_EQUAL(g.id[0], 1);
    CU_ASSERT_EQUAL(g.id[1], 2);
    CU_ASSERT_EQUAL(ts.gaps, 0);
    CU_ASSERT_EQUAL(ts.next_seq, isn + 1 + (uint32_t)n);
}

/* ---- pairing ------------------------------------------------------------ */

struct recs {
    int n;
    struct dns_rec r[8];
};

static void rec_cb(void *arg, const struct dns_rec *r)
{
    struct recs *rs = arg;
    if (rs->n < 8)
        rs->r[rs->n] = *r;
    rs->n++;
}

static void ctx4(struct dns_pkt_ctx *c, int to_server, uint16_t cport,
                 uint64_t ts)
{
    memset(c, 0, sizeof(*c));
    struct mg_addr cl = { { 10, 0, 0, 1 } }, sv = { { 192, 0, 2, 53 } };
    c->family = 4;
    c->transport = 17;
    c->vni = 42;
    c->ts_ns = ts;
    if (to_server) {
        c->src = cl; c->dst = sv; c->sport = cport; c->dport = 53;
    } else {
        c->src = sv; c->dst = cl; c->sport = 53; c->dport = cport;
    }
}

static void msg_of(struct dns_msg *d, unsigned id, int resp, const char *q)
{
    struct mb m;
    mb_hdr(&m, id, resp ? 0x8580 : 0x0100, 1, resp ? 1 : 0, 0, 0);
    mb_q(&m, q, 1);
    if (resp) {
        size_t at = mb_rr(&m, 1, 30);
        mb_raw(&m, "\x0a\x01\x02\x03", 4);
        mb_rr_end(&m, at);
    }
    CU_ASSERT_EQUAL_FATAL(dns_parse(m.b, m.n, d), DNS_OK);
}

static void test_txn_pair(void)
{
    struct dns_txn_table *t = dns_txn_new(16, 1000);
    struct recs rs = { 0 };
    struct dns_msg q, r;
    struct dns_pkt_ctx c;
    struct dns_txn_stats st;
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    msg_of(&q, 77, 0, "Pair.Example");
    msg_of(&r, 77, 1, "pair.example");
    ctx4(&c, 1, 40000, 100);
    dns_txn_on_msg(t, &q, &c, rec_cb, &rs);
    CU_ASSERT_EQUAL(rs.n, 0);
    /* Same id, other client port: not ours. */
    ctx4(&c, 0, 40001, 150);
    dns_txn_on_msg(t, &r, &c, rec_cb, &rs);
    CU_ASSERT_EQUAL(rs.n, 1);
    CU_ASSERT_EQUAL(rs.r[0].has_query, 0);
    ctx4(&c, 0, 40000, 300);
    dns_txn_on_msg(t, &r, &c, rec_cb, &rs);
    CU_ASSERT_EQUAL_FATAL(rs.n, 2);
    const struct dns_rec *x = &rs.r[1];
    CU_ASSERT_EQUAL(x->has_query, 1);
    CU_ASSERT_EQUAL(x->has_response, 1);
    CU_ASSERT_EQUAL(x->query_ns, 100);
    CU_ASSERT_EQUAL(x->response_ns, 300);
    CU_ASSERT_EQUAL(x->id, 77);
    CU_ASSERT_EQUAL(x->cport, 40000);
    CU_ASSERT_EQUAL(x->sport, 53);
    CU_ASSERT_EQUAL(x->client.b[0], 10);
    CU_ASSERT_EQUAL(x->server.b[0], 192);
    CU_ASSERT_EQUAL(x->family, 4);
    CU_ASSERT_EQUAL(x->transport, 17);
    CU_ASSERT_EQUAL(x->vni, 42);
    CU_ASSERT_STRING_EQUAL(x->qname, "pair.example");
    CU_ASSERT_EQUAL(x->qname_len, 12);
    CU_ASSERT_EQUAL(x->qtype, 1);
    CU_ASSERT_EQUAL(x->qclass, 1);
    CU_ASSERT_EQUAL(x->rcode, 0);
    CU_ASSERT_EQUAL(x->flags, DNS_F_AA | DNS_F_RD | DNS_F_RA);
    CU_ASSERT_EQUAL(x->an_count, 1);
    CU_ASSERT_EQUAL(x->n_answers, 1);
    CU_ASSERT_EQUAL(x->answers_total_trunc, 0);
    CU_ASSERT_STRING_EQUAL(x->answers[0].data, "10.1.2.3");
    CU_ASSERT_EQUAL(x->seq, 0);
    dns_txn_stats(t, &st);
    CU_ASSERT_EQUAL(st.queries, 1);
    CU_ASSERT_EQUAL(st.responses, 2);
    CU_ASSERT_EQUAL(st.paired, 1);
    CU_ASSERT_EQUAL(st.unsolicited, 1);
    /* A second response to the same query is unsolicited. */
    dns_txn_on_msg(t, &r, &c, rec_cb, &rs);
    CU_ASSERT_EQUAL(rs.n, 3);
    CU_ASSERT_EQUAL(rs.r[2].has_query, 0);
    dns_txn_free(t);
}

static void test_txn_timeout(void)
{
    struct dns_txn_table *t = dns_txn_new(16, 1000);
    struct recs rs = { 0 };
    struct dns_msg q, r;
    struct dns_pkt_ctx c;
    msg_of(&q, 5, 0, "slow.example");
    msg_of(&r, 5, 1, "slow.example");
    ctx4(&c, 1, 1111, 5000);
    dns_txn_on_msg(t, &q, &c, rec_cb, &rs);
    dns_txn_expire(t, 5999, rec_cb, &rs);
    CU_ASSERT_EQUAL(rs.n, 0);
    dns_txn_expire(t, 100, rec_cb, &rs);        /* time going backwards */
    CU_ASSERT_EQUAL(rs.n, 0);
    dns_txn_expire(t, 6000, rec_cb, &rs);
    CU_ASSERT_EQUAL_FATAL(rs.n, 1);
    CU_ASSERT_EQUAL(rs.r[0].has_query, 1);
    CU_ASSERT_EQUAL(rs.r[0].has_response, 0);
    CU_ASSERT_EQUAL(rs.r[0].query_ns, 5000);
    CU_ASSERT_EQUAL(rs.r[0].flags, DNS_F_RD);
    CU_ASSERT_STRING_EQUAL(rs.r[0].qname, "slow.example");

    /* A late response, with no expire call in between, does not pair: the
     * query is expired first, then the response is unsolicited. */
    ctx4(&c, 1, 2222, 7000);
    dns_txn_on_msg(t, &q, &c, rec_cb, &rs);
    ctx4(&c, 0, 2222, 8000);
    dns_txn_on_msg(t, &r, &c, rec_cb, &rs);
    CU_ASSERT_EQUAL_FATAL(rs.n, 3);
    CU_ASSERT_EQUAL(rs.r[1].has_response, 0);
    CU_ASSERT_EQUAL(rs.r[2].has_query, 0);

    /* A query whose packet time is earlier than the clock is stamped with
     * the clock, so it is not expired before the ones ahead of it. */
    ctx4(&c, 1, 3333, 9000);
    dns_txn_on_msg(t, &q, &c, rec_cb, &rs);
    ctx4(&c, 1, 4444, 1);                       /* backwards */
    dns_txn_on_msg(t, &q, &c, rec_cb, &rs);
    CU_ASSERT_EQUAL(rs.n, 3);
    dns_txn_expire(t, 10000, rec_cb, &rs);
    CU_ASSERT_EQUAL_FATAL(rs.n, 5);
    CU_ASSERT_EQUAL(rs.r[3].cport, 3333);
    CU_ASSERT_EQUAL(rs.r[4].cport, 4444);
    CU_ASSERT_EQUAL(rs.r[4].query_ns, 1);
    struct dns_txn_stats st;
    dns_txn_stats(t, &st);
    CU_ASSERT_EQUAL(st.unanswered, 4);

    /* A message expires its own query only: another one, timed out too,
     * waits for dns_txn_expire(), so which queries a message writes out
     * does not depend on the other flows' messages the table sees (with
     * several workers each table sees only its own flows'). */
    ctx4(&c, 1, 5555, 20000);
    dns_txn_on_msg(t, &q, &c, rec_cb, &rs);     /* times out at 21000 */
    ctx4(&c, 1, 6666, 22000);
    dns_txn_on_msg(t, &q, &c, rec_cb, &rs);     /* another flow, later */
    CU_ASSERT_EQUAL(rs.n, 5);
    dns_txn_expire(t, 22000, rec_cb, &rs);
    CU_ASSERT_EQUAL_FATAL(rs.n, 6);
    CU_ASSERT_EQUAL(rs.r[5].cport, 5555);
    dns_txn_free(t);
}

static void test_txn_unsolicited(void)
{
    struct dns_txn_table *t = dns_txn_new(4, 1000);
    struct recs rs = { 0 };
    struct dns_msg r;
    struct dns_pkt_ctx c;
    msg_of(&r, 99, 1, "Lonely.Example");
    ctx4(&c, 0, 5353, 123);
    dns_txn_on_msg(t, &r, &c, rec_cb, &rs);
    CU_ASSERT_EQUAL_FATAL(rs.n, 1);
    CU_ASSERT_EQUAL(rs.r[0].has_query, 0);
    CU_ASSERT_EQUAL(rs.r[0].has_response, 1);
    CU_ASSERT_EQUAL(rs.r[0].query_ns, 0);
    CU_ASSERT_EQUAL(rs.r[0].response_ns, 123);
    CU_ASSERT_STRING_EQUAL(rs.r[0].qname, "lonely.example");
    CU_ASSERT_EQUAL(rs.r[0].qtype, 1);
    CU_ASSERT_EQUAL(rs.r[0].client.b[0], 10);   /* the packet's destination */
    CU_ASSERT_EQUAL(rs.r[0].cport, 5353);
    CU_ASSERT_EQUAL(rs.r[0].sport, 53);
    CU_ASSERT_EQUAL(rs.r[0].n_answers, 1);
    dns_txn_flush(t, rec_cb, &rs);
    CU_ASSERT_EQUAL(rs.n, 1);
    dns_txn_free(t);
}

static void test_txn_evict_flush_dup(void)
{
    struct dns_txn_table *t = dns_txn_new(3, 1000000);
    struct recs rs = { 0 };
    struct dns_msg q, r;
    struct dns_pkt_ctx c;
    struct dns_txn_stats st;
    for (unsigned i = 0; i < 4; i++) {
        msg_of(&q, 100 + i, 0, "e.example");
        ctx4(&c, 1, 1000, 10 + i);
        dns_txn_on_msg(t, &q, &c, rec_cb, &rs);
    }
    CU_ASSERT_EQUAL_FATAL(rs.n, 1);             /* 100 pushed out */
    CU_ASSERT_EQUAL(rs.r[0].id, 100);
    CU_ASSERT_EQUAL(rs.r[0].has_response, 0);
    dns_txn_stats(t, &st);
    CU_ASSERT_EQUAL(st.evicted, 1);

    /* Duplicate of 102 while pending: the old 102 is emitted, the new one
     * waits and is the one the response completes. */
    msg_of(&q, 102, 0, "e.example");
    ctx4(&c, 1, 1000, 50);
    dns_txn_on_msg(t, &q, &c, rec_cb, &rs);
    CU_ASSERT_EQUAL_FATAL(rs.n, 2);
    CU_ASSERT_EQUAL(rs.r[1].id, 102);
    CU_ASSERT_EQUAL(rs.r[1].query_ns, 12);
    CU_ASSERT_EQUAL(rs.r[1].has_response, 0);

    /* Flush: insertion order 101, 103, 102 (the re-sent one). */
    dns_txn_flush(t, rec_cb, &rs);
    CU_ASSERT_EQUAL_FATAL(rs.n, 5);
    CU_ASSERT_EQUAL(rs.r[2].id, 101);
    CU_ASSERT_EQUAL(rs.r[3].id, 103);
    CU_ASSERT_EQUAL(rs.r[4].id, 102);
    CU_ASSERT_EQUAL(rs.r[4].query_ns, 50);
    dns_txn_stats(t, &st);
    CU_ASSERT_EQUAL(st.queries, 5);
    CU_ASSERT_EQUAL(st.unanswered, 4);
    CU_ASSERT_EQUAL(st.evicted, 1);

    /* The table is reusable after a flush, to full capacity. */
    rs.n = 0;
    for (unsigned i = 0; i < 3; i++) {
        msg_of(&q, 200 + i, 0, "e.example");
        ctx4(&c, 1, 1000, 100);
        dns_txn_on_msg(t, &q, &c, rec_cb, &rs);
    }
    msg_of(&r, 201, 1, "e.example");
    ctx4(&c, 0, 1000, 101);
    dns_txn_on_msg(t, &r, &c, rec_cb, &rs);
    CU_ASSERT_EQUAL_FATAL(rs.n, 1);
    CU_ASSERT_EQUAL(rs.r[0].id, 201);
    CU_ASSERT_EQUAL(rs.r[0].has_query, 1);
    dns_txn_free(t);
    CU_ASSERT_PTR_NULL(dns_txn_new(0, 1));
}

/* Many keys through a small table: chains, free list and FIFO stay sound. */
static void test_txn_churn(void)
{
    struct dns_txn_table *t = dns_txn_new(64, 500);
    struct recs rs = { 0 };
    struct dns_msg q, r;
    struct dns_pkt_ctx c;
    struct dns_txn_stats st;
    msg_of(&q, 0, 0, "c.example");
    msg_of(&r, 0, 1, "c.example");
    uint32_t x = 1;
    for (uint64_t i = 0; i < 20000; i++) {
        x = x * 1664525u + 1013904223u;
        int resp = (x >> 30) & 1;
        struct dns_msg *m = resp ? &r : &q;
        m->id = (uint16_t)((x >> 8) & 127);
        ctx4(&c, !resp, (uint16_t)(1024 + ((x >> 16) & 3)), i * 3);
        dns_txn_on_msg(t, m, &c, rec_cb, &rs);
        if (i % 7 == 0)
            dns_txn_expire(t, i * 3, rec_cb, &rs);
    }
    dns_txn_flush(t, rec_cb, &rs);
    dns_txn_stats(t, &st);
    CU_ASSERT_EQUAL(st.queries + st.responses, 20000);
    CU_ASSERT_EQUAL(st.responses, st.paired + st.unsolicited);
    CU_ASSERT_EQUAL(st.queries, st.paired + st.unanswered + st.evicted);
    CU_ASSERT_EQUAL((uint64_t)rs.n, st.queries + st.unsolicited);
    CU_ASSERT(st.paired > 0);
    dns_txn_free(t);
}

/* ---- real captures ------------------------------------------------------ */

#define PCAPS "../../shared/data/pcaps/"

struct pkt {
    const uint8_t *l4;      /* TCP or UDP payload */
    size_t len;
    struct dns_pkt_ctx c;
    uint32_t seq;
    int syn;
};

/* Classic pcap only (both byte orders, us or ns), Ethernet (with 802.1Q)
 * or BSD null/loopback, IPv4 (no fragments) or IPv6 (no extension headers).
 * Returns 0 when the file is absent, -1 when it is not something we read. */
static int pcap_each(const char *path, void (*fn)(void *, struct pkt *),
                     void *arg)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint8_t gh[24];
    if (fread(gh, 1, 24, f) != 24) {
        fclose(f);
        return -1;
    }
    uint32_t magic = (uint32_t)gh[0] | (uint32_t)gh[1] << 8 |
                     (uint32_t)gh[2] << 16 | (uint32_t)gh[3] << 24;
    int le;
    uint64_t tsmul;
    switch (magic) {
    case 0xa1b2c3d4: le = 1; tsmul = 1000; break;
    case 0xd4c3b2a1: le = 0; tsmul = 1000; break;
    case 0xa1b23c4d: le = 1; tsmul = 1; break;
    case 0x4d3cb2a1: le = 0; tsmul = 1; break;
    default: fclose(f); return -1;
    }
#define U32(p) (le ? ((uint32_t)(p)[0] | (uint32_t)(p)[1] << 8 | \
                      (uint32_t)(p)[2] << 16 | (uint32_t)(p)[3] << 24) \
                   : ((uint32_t)(p)[3] | (uint32_t)(p)[2] << 8 | \
                      (uint32_t)(p)[1] << 16 | (uint32_t)(p)[0] << 24))
    uint32_t link = U32(gh + 20);
    static uint8_t buf[65536 + 64];
    int count = 0;
    uint8_t ph[16];
    while (fread(ph, 1, 16, f) == 16) {
        uint32_t incl = U32(ph + 8);
        if (incl > sizeof(buf) || fread(buf, 1, incl, f) != incl)
            break;
        count++;
        const uint8_t *p = buf;
        size_t n = incl;
        unsigned et;
        if (link == 1) {
            if (n < 14)
                continue;
            et = (unsigned)p[12] << 8 | p[13];
            p += 14; n -= 14;
            while ((et == 0x8100 || et == 0x88a8) && n >= 4) {
                et = (unsigned)p[2] << 8 | p[3];
                p += 4; n -= 4;
            }
        } else if (link == 0) {
            if (n < 4)
                continue;
            uint32_t af = U32(p);
            et = af == 2 ? 0x0800 : 0x86dd;
            p += 4; n -= 4;
        } else {
            continue;
        }
        struct pkt k;
        memset(&k, 0, sizeof(k));
        k.c.ts_ns = (uint64_t)U32(ph) * 1000000000u + (uint64_t)U32(ph + 4) * tsmul;
        unsigned proto;
        if (et == 0x0800) {
            if (n < 20 || (p[0] >> 4) != 4)
                continue;
            size_t hl = (size_t)(p[0] & 15) * 4;
            size_t tl = (size_t)p[2] << 8 | p[3];
            if (hl < 20 || n < hl || (((p[6] & 0x3f) << 8) | p[7]) != 0 ||
                (p[6] & 0x20))
                continue;                       /* fragment */
            if (tl >= hl && tl < n)
                n = tl;
            proto = p[9];
            memcpy(k.c.src.b, p + 12, 4);
            memcpy(k.c.dst.b, p + 16, 4);
            k.c.family = 4;
            p += hl; n -= hl;
        } else if (et == 0x86dd) {
            if (n < 40)
                continue;
            size_t pl = (size_t)p[4] << 8 | p[5];
            proto = p[6];
            memcpy(k.c.src.b, p + 8, 16);
            memcpy(k.c.dst.b, p + 24, 16);
            k.c.family = 6;
            p += 40; n -= 40;
            if (pl < n)
                n = pl;
        } else {
            continue;
        }
        k.c.transport = (uint8_t)proto;
        if (proto == 17 && n >= 8) {
            k.c.sport = (uint16_t)(p[0] << 8 | p[1]);
            k.c.dport = (uint16_t)(p[2] << 8 | p[3]);
            k.l4 = p + 8;
            k.len = n - 8;
        } else if (proto == 6 && n >= 20) {
            size_t off = (size_t)(p[12] >> 4) * 4;
            if (off < 20 || off > n)
                continue;
            k.c.sport = (uint16_t)(p[0] << 8 | p[1]);
            k.c.dport = (uint16_t)(p[2] << 8 | p[3]);
            k.seq = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
                    (uint32_t)p[6] << 8 | p[7];
            k.syn = (p[13] & 0x02) != 0;
            k.l4 = p + off;
            k.len = n - off;
        } else {
            continue;
        }
        fn(arg, &k);
    }
#undef U32
    fclose(f);
    return count;
}

struct real {
    struct dns_txn_table *t;
    struct recs rs;
    int msgs, bad, tcp_msgs;
    struct dns_tcp_stream s[2];     /* [0] to port 53, [1] from it */
    struct pkt *cur;
};

static void real_msg(struct real *R, const uint8_t *p, size_t len,
                     const struct dns_pkt_ctx *c)
{
    struct dns_msg d;
    /* Every cut of a real message is safe too (the first few hundred
     * messages of each capture, to keep the suite quick). */
    for (size_t cut = 0; R->msgs + R->bad < 300 && cut < len; cut++)
        (void)dns_parse(p, cut, &d);
    if (dns_parse(p, len, &d) != DNS_OK) {
        R->bad++;
        return;
    }
    R->msgs++;
    CU_ASSERT_EQUAL(strlen(d.qname), d.qname_len);
    dns_txn_on_msg(R->t, &d, c, rec_cb, &R->rs);
}

static void real_tcp_cb(void *arg, const uint8_t *msg, size_t len)
{
    struct real *R = arg;
    R->tcp_msgs++;
    real_msg(R, msg, len, &R->cur->c);
}

static void real_pkt(void *arg, struct pkt *k)
{
    struct real *R = arg;
    /* 1053: suricata-verify's truncated-rname test runs DNS there. */
    if (k->c.sport != 53 && k->c.dport != 53 &&
        k->c.sport != 1053 && k->c.dport != 1053)
        return;
    if (k->c.transport == 17) {
        real_msg(R, k->l4, k->len, &k->c);
    } else {
        R->cur = k;
        int to_server = k->c.dport == 53 || k->c.dport == 1053;
        dns_tcp_feed(&R->s[!to_server], k->seq, k->syn, k->l4, k->len,
                     real_tcp_cb, R);
    }
}

static int run_pcap(struct real *R, const char *file)
{
    memset(R, 0, sizeof(*R));
    R->t = dns_txn_new(256, 5000000000ull);
    dns_tcp_init(&R->s[0]);
    dns_tcp_init(&R->s[1]);
    int n = pcap_each(file, real_pkt, R);
    dns_txn_flush(R->t, rec_cb, &R->rs);
    dns_txn_free(R->t);
    return n;
}

static void test_real_pcaps(void)
{
    static struct real R;
    int n = run_pcap(&R, PCAPS "zeek/dns53/dns53.pcap");
    if (n == 0) {
        CU_PASS("shared pcaps not present: real-capture test skipped");
        return;
    }
    /* Zeek's dns.log: one response, 8 A records, AA RA, id 25701. */
    CU_ASSERT_EQUAL(R.msgs, 1);
    CU_ASSERT_EQUAL_FATAL(R.rs.n, 1);
    const struct dns_rec *x = &R.rs.r[0];
    CU_ASSERT_EQUAL(x->has_query, 0);
    CU_ASSERT_EQUAL(x->id, 25701);
    CU_ASSERT_STRING_EQUAL(x->qname, "us.v27.distributed.net");
    CU_ASSERT_EQUAL(x->n_answers, 8);
    CU_ASSERT_STRING_EQUAL(x->answers[0].data, "206.109.64.186");
    CU_ASSERT_STRING_EQUAL(x->answers[7].data, "63.77.33.226");
    CU_ASSERT_EQUAL(x->answers[0].ttl, 900);
    CU_ASSERT_EQUAL(x->flags, DNS_F_AA | DNS_F_RA);

    /* tcpdump dns_udp.out: 22836 A? www.tcpdump.org, 2 A answers, AA. */
    if (run_pcap(&R, PCAPS "tcpdump/dns_udp.pcap") > 0) {
        CU_ASSERT_EQUAL_FATAL(R.rs.n, 1);
        x = &R.rs.r[0];
        CU_ASSERT(x->has_query && x->has_response);
        CU_ASSERT_EQUAL(x->id, 22836);
        CU_ASSERT_STRING_EQUAL(x->qname, "www.tcpdump.org");
        CU_ASSERT_EQUAL(x->an_count, 2);
        CU_ASSERT_STRING_EQUAL(x->answers[0].data, "192.139.46.66");
        CU_ASSERT_STRING_EQUAL(x->answers[1].data, "198.199.88.104");
        CU_ASSERT(x->flags & DNS_F_AA);
        CU_ASSERT(x->response_ns > x->query_ns);
        CU_ASSERT_EQUAL(x->cport, 43966);
    }
    /* The same over TCP (dns_tcp.out): 17177, via the reassembler. */
    if (run_pcap(&R, PCAPS "tcpdump/dns_tcp.pcap") > 0) {
        CU_ASSERT_EQUAL(R.tcp_msgs, 2);
        CU_ASSERT_EQUAL_FATAL(R.rs.n, 1);
        x = &R.rs.r[0];
        CU_ASSERT(x->has_query && x->has_response);
        CU_ASSERT_EQUAL(x->transport, 6);
        CU_ASSERT_EQUAL(x->id, 17177);
        CU_ASSERT_STRING_EQUAL(x->qname, "www.tcpdump.org");
        CU_ASSERT_STRING_EQUAL(x->answers[1].data, "198.199.88.104");
        CU_ASSERT_EQUAL(x->cport, 33779);
    }
    /* Zeek multiple-txt-strings: CNAME, CNAME, TXT of two strings (127 +
     * 98 characters); the joined text is cut at 127, i.e. the first one. */
    if (run_pcap(&R, PCAPS "zeek/dns-txt-multiple/dns-txt-multiple.pcap") > 0) {
        int found = 0;
        for (int i = 0; i < R.rs.n && i < 8; i++) {
            x = &R.rs.r[i];
            if (!x->has_response || x->n_answers != 3)
                continue;
            found = 1;
            CU_ASSERT_STRING_EQUAL(x->qname, "flkr._domainkey.flickr.com");
            CU_ASSERT_STRING_EQUAL(x->answers[0].data,
                                   "fa14._domainkey.flickr.com");
            CU_ASSERT_STRING_EQUAL(x->answers[1].data,
                                   "fa14._domainkey.yahoo.com");
            CU_ASSERT_EQUAL(x->answers[2].type, 16);
            CU_ASSERT_STRING_EQUAL(x->answers[2].data,
                "k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDPdPfyJM2R2Gq"
                "MyZM1flTzFeDIU+e7KmiKRw5yz3Xht+cgEIiHmm5lIGBuWCc5rtiy0CcxePp"
                "qccPKjn");
        }
        CU_ASSERT(found);
    }
    /* Robustness sweep over other DNS captures, malformed ones included:
     * must not crash, and everything must stay consistent. */
    static const char *const more[] = {
        "ndpi/dns/malformed_dns.pcap",
        "ndpi/dns/dns-invalid-chars.pcap", "ndpi/dns/dns_long_domainname.pcap",
        "ndpi/dns/dns_ambiguous_names.pcap",
        "suricata-verify/dns__dns-truncated-rname/poc2.pcap",
        "suricata-verify/dns__dns-tcp-www-google-com/dns.pcap",
        "suricata-verify/dns__dns-udp-unsolicited-response/dns-response-2x.pcap",
        "suricata-verify/dns-eve-v2-udp-nxdomain-soa/dns-udp-nxdomain-soa.pcap",
        "suricata-verify/dns__dns-udp-eve-log-answer-only/dns-udp-google.com-a-aaaa-mx.pcap",
        "zeek/dns-two-responses/dns-two-responses.pcap",
        "zeek/dns-zero-rrs/dns-zero-RRs.pcap",
        "zeek/dns-original-case/dns_original_case.pcap",
        "zeek/wikipedia/wikipedia.pcap",
        "ndpi/benign/1kxun.pcap",
        "dns2tcp/dns2tcp_learn.netrack.pcap",
    };
    char path[512];
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
        snprintf(path, sizeof(path), PCAPS "%s", more[i]);
        int c = run_pcap(&R, path);
        CU_ASSERT(c >= 0);
        if (getenv("DNS_TEST_VERBOSE"))
        {
            fprintf(stderr, "%s: pkts %d msgs %d bad %d tcp %d recs %d\n",
                    more[i], c, R.msgs, R.bad, R.tcp_msgs, R.rs.n);
            for (int j = 0; j < R.rs.n && j < 8; j++) {
                const struct dns_rec *y = &R.rs.r[j];
                fprintf(stderr, "  id %u q%d r%d %s %s rcode %u an %u:",
                        y->id, y->has_query, y->has_response, y->qname,
                        dns_type_name(y->qtype) ? dns_type_name(y->qtype)
                                                : "?", y->rcode, y->an_count);
                for (int a = 0; a < y->n_answers; a++)
                    fprintf(stderr, " [%s %s]",
                            dns_type_name(y->answers[a].type),
                            y->answers[a].data);
                fprintf(stderr, "\n");
            }
        }
    }
    /* Suricata dns-tcp-www-google-com: one request, one response. */
    if (run_pcap(&R, PCAPS "suricata-verify/dns__dns-tcp-www-google-com/dns.pcap") > 0) {
        CU_ASSERT_EQUAL(R.tcp_msgs, 2);
        CU_ASSERT_EQUAL(R.rs.n, 1);
        CU_ASSERT(R.rs.n >= 1 && R.rs.r[0].has_query && R.rs.r[0].has_response);
    }
    /* suricata-verify truncated-rname: one 16773-byte message over TCP,
     * too big for the buffer: skipped, and nothing else is invented. */
    if (run_pcap(&R, PCAPS "suricata-verify/dns__dns-truncated-rname/poc2.pcap") > 0) {
        CU_ASSERT_EQUAL(R.s[0].skipped, 1);
        CU_ASSERT_EQUAL(R.tcp_msgs, 0);
        CU_ASSERT_EQUAL(R.s[0].gaps, 0);
    }
    /* nDPI malformed_dns: responses whose second question is a crafted
     * mess of pointers. The first question still pairs; the answers are
     * reported as cut, none invented. */
    if (run_pcap(&R, PCAPS "ndpi/dns/malformed_dns.pcap") > 0) {
        CU_ASSERT_EQUAL_FATAL(R.rs.n, 4);
        CU_ASSERT(R.rs.r[0].has_query && R.rs.r[0].has_response);
        CU_ASSERT_STRING_EQUAL(R.rs.r[0].qname, "www.xt.com");
        CU_ASSERT_EQUAL(R.rs.r[0].n_answers, 0);
        CU_ASSERT_EQUAL(R.rs.r[0].answers_total_trunc, 1);
    }
    /* Zeek duplicate-reponses: first pairs, second is on its own. */
    if (run_pcap(&R, PCAPS "zeek/dns-two-responses/dns-two-responses.pcap") > 0) {
        CU_ASSERT_EQUAL_FATAL(R.rs.n, 2);
        CU_ASSERT(R.rs.r[0].has_query && R.rs.r[0].has_response);
        CU_ASSERT(!R.rs.r[1].has_query && R.rs.r[1].has_response);
        CU_ASSERT_STRING_EQUAL(R.rs.r[0].qname, "www.cmu.edu");
        CU_ASSERT_STRING_EQUAL(R.rs.r[0].answers[0].data,
                               "www-cmu.andrew.cmu.edu");
    }
    /* Zeek original_case: the 0x20-mixed name comes out lower case. */
    if (run_pcap(&R, PCAPS "zeek/dns-original-case/dns_original_case.pcap") > 0) {
        CU_ASSERT_EQUAL_FATAL(R.rs.n, 1);
        CU_ASSERT_STRING_EQUAL(R.rs.r[0].qname, "us.v27.distributed.net");
    }
}

/* ---- registration ------------------------------------------------------- */

int test_dns_register(void)
{
    CU_pSuite s = CU_add_suite("dns", NULL, NULL);
    if (!s)
        return -1;
    static const struct { const char *name; void (*fn)(void); } t[] = {
        { "parse query", test_parse_query },
        { "parse response", test_parse_response },
        { "parse every cut", test_parse_every_cut },
        { "parse no question", test_parse_noquestion },
        { "name pointers", test_name_pointers },
        { "name hop limit", test_name_hop_limit },
        { "name limits", test_name_limits },
        { "name escaping", test_name_escaping },
        { "rdata txt", test_rdata_txt },
        { "rdata mx soa srv hex", test_rdata_other },
        { "rdata aaaa", test_rdata_aaaa },
        { "type rcode status names", test_names_tables },
        { "tcp two in one segment", test_tcp_two_in_one },
        { "tcp split over three", test_tcp_split_three },
        { "tcp retransmission", test_tcp_retransmit },
        { "tcp gap", test_tcp_gap },
        { "tcp oversize", test_tcp_oversize },
        { "tcp seq wrap", test_tcp_wrap },
        { "txn pair", test_txn_pair },
        { "txn timeout", test_txn_timeout },
        { "txn unsolicited", test_txn_unsolicited },
        { "txn evict flush duplicate", test_txn_evict_flush_dup },
        { "txn churn", test_txn_churn },
        { "real pcaps", test_real_pcaps },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!CU_add_test(s, t[i].name, t[i].fn))
            return -1;
    return 0;
}
