/* decoders/dns.c - DNS message parser (RFC 1035 and friends).
 *
 * dns_parse() turns the bytes of one DNS message (the UDP payload, or one
 * message taken out of a TCP stream by dns_tcp_feed()) into a struct dns_msg:
 * the header, the first question and up to DNS_MAX_ANSWERS records of the
 * answer section rendered in presentation form. The authority and additional
 * sections are not walked.
 *
 * The input is hostile by assumption. Every field is read byte by byte with
 * an explicit bound check against 'len' (the bytes that were actually
 * captured); nothing is cast onto the packet. Output buffers are fixed size
 * and every write into them is bounded too: a presentation form that does
 * not fit is cut at a character boundary (an escape sequence is never split)
 * and always NUL-terminated. No allocation, no I/O, no global state: the
 * functions are re-entrant and safe to call from any worker thread.
 *
 * Contract on damaged input:
 *
 *  - Fewer than 12 bytes, or a question that runs past the end: DNS_ERR_SHORT.
 *  - QDCOUNT == 0: DNS_ERR_NOQUESTION (we pair on the question), except
 *    for a response with answers, such as an mDNS announcement (RFC 6762
 *    6): its first answer's owner name, type and class stand in for the
 *    question, as Zeek does, so such responses are still recorded.
 *  - A bad name in the question: DNS_ERR_NAME / DNS_ERR_PTR / DNS_ERR_LOOP.
 *  - Anything wrong in the answer section (cut short by the capture, a bad
 *    owner name, a record running past the end) does NOT fail the message:
 *    the answers decoded before the damage are kept, answers_truncated is set
 *    and DNS_OK is returned. A mirror packet cut by the snap length still
 *    tells us who asked what, and that is what the pairing needs.
 *  - An rdata whose contents do not match its type (an A record that is not
 *    4 bytes, a CNAME whose target name is malformed, ...) is shown as hex of
 *    the rdata, like an unknown type, so nothing is silently invented.
 *
 * Names (RFC 1035 3.1, 4.1.4):
 *
 *  - Only label types 00 (normal) and 11 (compression pointer) are accepted;
 *    01 (the dead RFC 2673 extended label) and 10 (reserved) are DNS_ERR_NAME.
 *    As the length field of a normal label has 6 bits, "label over 63" is the
 *    same thing as "label type 01 or 10".
 *  - The wire length of the name (length octets + label octets + the final
 *    root octet) must not exceed 255 (RFC 1035 2.3.4), whether or not the name
 *    is compressed. Over: DNS_ERR_NAME.
 *  - A compression pointer must point strictly before the start of the run
 *    of labels that contains it (for the first run: before the name itself).
 *    Each jump therefore lands strictly earlier than the previous run began,
 *    so decoding always terminates even without a hop limit; a pointer to
 *    itself, a forward pointer, a loop (which needs a forward pointer
 *    somewhere) and an out-of-range offset are all DNS_ERR_PTR. The hop limit
 *    DNS_MAX_HOPS (DNS_ERR_LOOP) bounds the work on long backward chains.
 *    (The question starts at offset 12, so its pointers can only chain
 *    through the header: dns_parse() never actually returns DNS_ERR_LOOP;
 *    the limit bites on names inside answers, which then count as damage.)
 *  - Presentation form: labels joined by '.', no final dot, root = "".
 *    ASCII upper case is folded to lower case (names compare case-blind,
 *    RFC 4343, and 0x20-randomised queries must pair). Like dig (BIND
 *    dns_name_totext), the special characters  " ( ) . ; \ @ $  are escaped
 *    with a backslash and bytes outside 0x21..0x7e are written as \DDD
 *    (three decimal digits), so the text is printable, one line, and the
 *    label boundaries stay unambiguous. Inside rdata (CNAME targets etc.)
 *    the root name is written "." so that an empty field is never mistaken
 *    for a missing one.
 *
 * Answer rdata (DNS_MAX_RDATA - 1 characters at most, cut beyond):
 *
 *    A      dotted quad                  AAAA  RFC 5952 text (::, lower case)
 *    CNAME, NS, PTR, DNAME  the name     MX    "pref name"
 *    TXT    the character-strings concatenated with no separator (RFC 7208
 *           3.3 / RFC 6376 3.6.2.2 read them that way); bytes outside
 *           0x20..0x7e as \DDD and '\' as "\\"
 *    SOA    "mname rname serial"         SRV   "prio weight port target"
 *    other  lower-case hex of the rdata, whole bytes only
 */
#include <string.h>
#include "dns.h"

/* Pointer hops allowed in one name. Real compressors use one or two; a
 * legitimate name never needs more than its label count (<= 127). */
#define DNS_MAX_HOPS 32

/* ---- small helpers ------------------------------------------------------ */

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* A bounded output string. 'cap' excludes the NUL. Tokens are appended
 * whole or not at all: once one does not fit the buffer is 'full' and every
 * later append is ignored, so an escape like \DDD is never half written and
 * the text is a clean prefix of what it would have been. */
struct sbuf {
    char  *s;
    size_t cap;
    size_t n;
    int    full;
};

static void sb_init(struct sbuf *b, char *s, size_t size)
{
    b->s = s;
    b->cap = size - 1;
    b->n = 0;
    b->full = 0;
    s[0] = '\0';
}

static void sb_put(struct sbuf *b, const char *t, size_t tn)
{
    if (b->full)
        return;
    if (tn > b->cap - b->n) {
        b->full = 1;
        return;
    }
    memcpy(b->s + b->n, t, tn);
    b->n += tn;
    b->s[b->n] = '\0';
}

static void sb_putc(struct sbuf *b, char c)
{
    sb_put(b, &c, 1);
}

static void sb_putu(struct sbuf *b, uint32_t v)
{
    char tmp[10];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sb_put(b, tmp + i, sizeof(tmp) - i);
}

/* \DDD, the RFC 1035 5.1 escape for an arbitrary octet. */
static void sb_putddd(struct sbuf *b, uint8_t c)
{
    char t[4] = { '\\', (char)('0' + c / 100), (char)('0' + c / 10 % 10),
                  (char)('0' + c % 10) };
    sb_put(b, t, 4);
}

static void sb_puthex(struct sbuf *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n && !b->full; i++) {
        char t[2] = { hx[p[i] >> 4], hx[p[i] & 15] };
        sb_put(b, t, 2);
    }
}

/* One label octet in presentation form, dig style (see the top comment). */
static void sb_label_byte(struct sbuf *b, uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        c = (uint8_t)(c - 'A' + 'a');
    switch (c) {
    case '"': case '(': case ')': case '.': case ';': case '\\':
    case '@': case '$': {
        char t[2] = { '\\', (char)c };
        sb_put(b, t, 2);
        return;
    }
    default:
        break;
    }
    if (c > 0x20 && c < 0x7f)
        sb_putc(b, (char)c);
    else
        sb_putddd(b, c);
}

/* ---- names -------------------------------------------------------------- */

/* Decode the (possibly compressed) name at 'off' of the message p[0..len).
 * On DNS_OK, *next is the offset just past the name where it sits (past the
 * first compression pointer, if any) and the presentation form has been
 * appended to 'out' (which may be NULL to only validate and skip). */
static enum dns_status dns_name(const uint8_t *p, size_t len, size_t off,
                                size_t *next, struct sbuf *out)
{
    size_t pos = off;       /* where we read now */
    size_t run = off;       /* where the current run of labels started */
    size_t wire = 1;        /* wire length so far, counting the root octet */
    unsigned hops = 0;
    int jumped = 0, first = 1;

    for (;;) {
        if (pos >= len)
            return DNS_ERR_SHORT;
        uint8_t c = p[pos];

        if ((c & 0xC0) == 0xC0) {
            /* Compression pointer: 14-bit offset from the message start. */
            if (pos + 1 >= len)
                return DNS_ERR_SHORT;
            size_t target = ((size_t)(c & 0x3F) << 8) | p[pos + 1];
            if (!jumped) {
                *next = pos + 2;
                jumped = 1;
            }
            /* Strictly before this run: rules out self, forward, loops and
             * (since run < len) any offset outside the message. */
            if (target >= run)
                return DNS_ERR_PTR;
            if (++hops > DNS_MAX_HOPS)
                return DNS_ERR_LOOP;
            pos = run = target;
            continue;
        }
        if (c & 0xC0)           /* 0x40 extended (RFC 6891 9), 0x80 reserved */
            return DNS_ERR_NAME;
        if (c == 0) {           /* the root label ends the name */
            if (!jumped)
                *next = pos + 1;
            return DNS_OK;
        }
        wire += (size_t)c + 1;
        if (wire > 255)
            return DNS_ERR_NAME;
        if (pos + 1 + c > len)
            return DNS_ERR_SHORT;
        if (out) {
            if (!first)
                sb_putc(out, '.');
            for (size_t i = 0; i < c; i++)
                sb_label_byte(out, p[pos + 1 + i]);
        }
        first = 0;
        pos += 1 + (size_t)c;
    }
}

/* ---- rdata -------------------------------------------------------------- */

/* RFC 5952 text form of an IPv6 address: lower-case hex, no leading zeros,
 * the longest run (first one on a tie) of two or more zero groups shown as
 * "::", and the IPv4-mapped prefix ::ffff:0:0/96 in mixed notation (5952 5),
 * which is also what glibc inet_ntop() prints. */
static void fmt_aaaa(struct sbuf *b, const uint8_t *a)
{
    static const char hx[] = "0123456789abcdef";
    uint16_t g[8];
    int best = -1, bestlen = 0;

    for (int i = 0; i < 8; i++)
        g[i] = rd16(a + 2 * i);

    if (!g[0] && !g[1] && !g[2] && !g[3] && !g[4] && g[5] == 0xffff) {
        sb_put(b, "::ffff:", 7);
        for (int i = 12; i < 16; i++) {
            if (i > 12)
                sb_putc(b, '.');
            sb_putu(b, a[i]);
        }
        return;
    }
    for (int i = 0; i < 8;) {
        if (g[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && !g[j])
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j;
    }
    if (bestlen < 2) {
        best = -1;
        bestlen = 0;
    }
    for (int i = 0; i < 8;) {
        if (i == best) {
            sb_put(b, "::", 2);
            i += bestlen;
            continue;
        }
        if (i > 0 && i != best + bestlen)
            sb_putc(b, ':');        /* not right after the "::" */
        char t[4];
        int n = 0, started = 0;
        for (int s = 12; s >= 0; s -= 4) {
            unsigned d = (g[i] >> s) & 15;
            if (d || started || s == 0) {
                t[n++] = hx[d];
                started = 1;
            }
        }
        sb_put(b, t, (size_t)n);
        i++;
    }
}

/* A name inside rdata: it must start and (its in-line part) end inside the
 * rdata, though its pointers may reach back anywhere in the message. */
static int rd_name(const uint8_t *p, size_t len, size_t *off, size_t end,
                   struct sbuf *b)
{
    size_t next;
    size_t mark = b->n;
    if (*off >= end)
        return -1;
    if (dns_name(p, len, *off, &next, b) != DNS_OK || next > end)
        return -1;
    if (b->n == mark && !b->full)
        sb_putc(b, '.');            /* the root, made visible */
    *off = next;
    return 0;
}

/* Render the rdata p[off..off+rdlen) of a record of 'type' into 'b'.
 * Returns -1 if the rdata does not match its type (the caller then shows it
 * as hex). 'p' and 'len' are the whole message, for compression pointers. */
static int fmt_rdata(struct sbuf *b, uint16_t type, const uint8_t *p,
                     size_t len, size_t off, size_t rdlen)
{
    size_t end = off + rdlen;
    const uint8_t *r = p + off;

    switch (type) {
    case 1:     /* A, RFC 1035 3.4.1 */
        if (rdlen != 4)
            return -1;
        for (int i = 0; i < 4; i++) {
            if (i)
                sb_putc(b, '.');
            sb_putu(b, r[i]);
        }
        return 0;
    case 28:    /* AAAA, RFC 3596 2.2 */
        if (rdlen != 16)
            return -1;
        fmt_aaaa(b, r);
        return 0;
    case 2: case 5: case 12: case 39:   /* NS, CNAME, PTR, DNAME (RFC 6672) */
        if (rd_name(p, len, &off, end, b) < 0 || off != end)
            return -1;
        return 0;
    case 15:    /* MX, RFC 1035 3.3.9 */
        if (rdlen < 3)
            return -1;
        sb_putu(b, rd16(r));
        sb_putc(b, ' ');
        off += 2;
        if (rd_name(p, len, &off, end, b) < 0 || off != end)
            return -1;
        return 0;
    case 16:    /* TXT, RFC 1035 3.3.14: one or more <character-string> */
        if (rdlen == 0)
            return -1;
        while (off < end) {
            size_t sl = p[off];
            if (sl > end - off - 1)
                return -1;
            for (size_t i = 0; i < sl; i++) {
                uint8_t c = p[off + 1 + i];
                if (c == '\\')
                    sb_put(b, "\\\\", 2);
                else if (c >= 0x20 && c < 0x7f)
                    sb_putc(b, (char)c);
                else
                    sb_putddd(b, c);
            }
            off += 1 + sl;
        }
        return 0;
    case 6:     /* SOA, RFC 1035 3.3.13 */
        if (rd_name(p, len, &off, end, b) < 0)
            return -1;
        sb_putc(b, ' ');
        if (rd_name(p, len, &off, end, b) < 0)
            return -1;
        if (end - off != 20)        /* serial refresh retry expire minimum */
            return -1;
        sb_putc(b, ' ');
        sb_putu(b, rd32(p + off));
        return 0;
    case 33:    /* SRV, RFC 2782 */
        if (rdlen < 7)
            return -1;
        for (int i = 0; i < 3; i++) {
            sb_putu(b, rd16(r + 2 * i));
            sb_putc(b, ' ');
        }
        off += 6;
        if (rd_name(p, len, &off, end, b) < 0 || off != end)
            return -1;
        return 0;
    default:
        return -1;
    }
}

static void fmt_answer(struct dns_answer *a, const uint8_t *p, size_t len,
                       size_t off, size_t rdlen)
{
    struct sbuf b;
    sb_init(&b, a->data, sizeof(a->data));
    if (fmt_rdata(&b, a->type, p, len, off, rdlen) < 0) {
        sb_init(&b, a->data, sizeof(a->data));
        sb_puthex(&b, p + off, rdlen);
    }
    a->len = (uint16_t)b.n;
}

/* ---- the message -------------------------------------------------------- */

enum dns_status dns_parse(const uint8_t *p, size_t len, struct dns_msg *m)
{
    size_t off, next;
    enum dns_status st;
    struct sbuf qb;

    m->n_answers = 0;
    m->answers_truncated = 0;
    m->qname_len = 0;
    m->qname[0] = '\0';
    m->qtype = m->qclass = 0;

    /* Header, RFC 1035 4.1.1. */
    if (p == NULL || len < 12) {
        m->id = m->flags = 0;
        m->qr = m->opcode = m->rcode = 0;
        m->qdcount = m->ancount = m->nscount = m->arcount = 0;
        return DNS_ERR_SHORT;
    }
    m->id = rd16(p);
    m->flags = rd16(p + 2);
    m->qr = (uint8_t)(m->flags >> 15);
    m->opcode = (uint8_t)((m->flags >> 11) & 15);
    m->rcode = (uint8_t)(m->flags & 15);
    m->qdcount = rd16(p + 4);
    m->ancount = rd16(p + 6);
    m->nscount = rd16(p + 8);
    m->arcount = rd16(p + 10);
    if (m->qdcount == 0) {
        if (!m->qr || m->ancount == 0)
            return DNS_ERR_NOQUESTION;
        sb_init(&qb, m->qname, sizeof(m->qname));
        st = dns_name(p, len, 12, &next, &qb);
        if (st != DNS_OK || next + 4 > len) {
            m->qname[0] = '\0';
            return st != DNS_OK ? st : DNS_ERR_SHORT;
        }
        m->qname_len = (uint16_t)qb.n;
        m->qtype = rd16(p + next);
        m->qclass = rd16(p + next + 2) & 0x7fff;    /* mDNS cache-flush bit */
        off = 12;
        goto answers;
    }

    /* First question, RFC 1035 4.1.2. */
    sb_init(&qb, m->qname, sizeof(m->qname));
    st = dns_name(p, len, 12, &next, &qb);
    if (st != DNS_OK) {
        m->qname[0] = '\0';
        return st;
    }
    if (next + 4 > len) {
        m->qname[0] = '\0';
        return DNS_ERR_SHORT;
    }
    m->qname_len = (uint16_t)qb.n;
    m->qtype = rd16(p + next);
    m->qclass = rd16(p + next + 2);
    off = next + 4;

    /* Further questions (practically never, RFC 9619) are skipped; damage
     * there counts as damage before the answers. */
    for (unsigned q = 1; q < m->qdcount; q++) {
        if (dns_name(p, len, off, &next, NULL) != DNS_OK || next + 4 > len) {
            m->answers_truncated = m->ancount > 0;
            return DNS_OK;
        }
        off = next + 4;
    }

answers:
    /* Answer section, RFC 1035 4.1.3. */
    for (unsigned i = 0; i < m->ancount; i++) {
        if (i == DNS_MAX_ANSWERS) {
            m->answers_truncated = 1;   /* more than we keep */
            break;
        }
        if (dns_name(p, len, off, &next, NULL) != DNS_OK ||
            next + 10 > len) {
            m->answers_truncated = 1;
            break;
        }
        size_t rdlen = rd16(p + next + 8);
        if (next + 10 + rdlen > len) {
            m->answers_truncated = 1;
            break;
        }
        struct dns_answer *a = &m->answers[m->n_answers++];
        a->type = rd16(p + next);
        a->ttl = rd32(p + next + 4);
        fmt_answer(a, p, len, next + 10, rdlen);
        off = next + 10 + rdlen;
    }
    return DNS_OK;
}

/* ---- names of things ---------------------------------------------------- */

const char *dns_status_name(enum dns_status s)
{
    switch (s) {
    case DNS_OK:             return "ok";
    case DNS_ERR_SHORT:      return "short";
    case DNS_ERR_NAME:       return "bad-name";
    case DNS_ERR_PTR:        return "bad-pointer";
    case DNS_ERR_LOOP:       return "pointer-loop";
    case DNS_ERR_NOQUESTION: return "no-question";
    default:                 return "unknown";
    }
}

/* IANA "Resource Record (RR) TYPEs" registry, the ones worth a name. */
const char *dns_type_name(uint16_t type)
{
    switch (type) {
    case 1:     return "A";
    case 2:     return "NS";
    case 5:     return "CNAME";
    case 6:     return "SOA";
    case 10:    return "NULL";
    case 11:    return "WKS";
    case 12:    return "PTR";
    case 13:    return "HINFO";
    case 15:    return "MX";
    case 16:    return "TXT";
    case 17:    return "RP";
    case 18:    return "AFSDB";
    case 24:    return "SIG";
    case 25:    return "KEY";
    case 28:    return "AAAA";
    case 29:    return "LOC";
    case 33:    return "SRV";
    case 35:    return "NAPTR";
    case 36:    return "KX";
    case 37:    return "CERT";
    case 39:    return "DNAME";
    case 41:    return "OPT";
    case 42:    return "APL";
    case 43:    return "DS";
    case 44:    return "SSHFP";
    case 45:    return "IPSECKEY";
    case 46:    return "RRSIG";
    case 47:    return "NSEC";
    case 48:    return "DNSKEY";
    case 49:    return "DHCID";
    case 50:    return "NSEC3";
    case 51:    return "NSEC3PARAM";
    case 52:    return "TLSA";
    case 53:    return "SMIMEA";
    case 55:    return "HIP";
    case 59:    return "CDS";
    case 60:    return "CDNSKEY";
    case 61:    return "OPENPGPKEY";
    case 62:    return "CSYNC";
    case 63:    return "ZONEMD";
    case 64:    return "SVCB";
    case 65:    return "HTTPS";
    case 99:    return "SPF";
    case 249:   return "TKEY";
    case 250:   return "TSIG";
    case 251:   return "IXFR";
    case 252:   return "AXFR";
    case 253:   return "MAILB";
    case 254:   return "MAILA";
    case 255:   return "ANY";
    case 256:   return "URI";
    case 257:   return "CAA";
    case 32768: return "TA";
    case 32769: return "DLV";
    default:    return NULL;
    }
}

/* RFC 1035 4.1.1, RFC 2136, RFC 8490. Only the 4 header bits: extended
 * RCODEs live in the OPT record, which we do not read. */
const char *dns_rcode_name(uint8_t rcode)
{
    static const char *const names[] = {
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
        "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI",
    };
    if (rcode < sizeof(names) / sizeof(names[0]))
        return names[rcode];
    return NULL;
}
