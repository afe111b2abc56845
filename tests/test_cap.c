/* tests/test_cap.c - capture sources: the memory-mapped pcap/pcapng reader
 * (cap_file.c) and the libpcap backend (cap_pcap.c).
 *
 * The small capture files are built here, in memory, field by field, so each
 * test states exactly which bytes it feeds in: all four classic pcap
 * variants, pcapng in both byte orders with several sections, interfaces of
 * different timestamp resolutions, SPB, the obsolete PB and blocks that must
 * be skipped. Every truncation point of those files is replayed from a heap
 * buffer of exactly the cut length, so under ASan any read past the end is a
 * crash. Real captures from ../../shared/data/pcaps (tests run from tests/)
 * are read with both backends and must agree byte for byte; they are
 * skipped when that directory is not there. */
#define _GNU_SOURCE
#include "cap.h"
#include "dec.h"
#include "dispatch.h"
#include "flow.h"
#include "pktbuild.h"

#include <linux/filter.h>
#include <pcap/pcap.h>

#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#define SHARED_PCAPS "../../shared/data/pcaps"

/* ------------------------------------------------------------------------ */
/* A growable byte buffer with explicit byte order. */

struct bb {
    uint8_t *p;
    size_t len, cap;
    int be;
};

static void bb_room(struct bb *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + n)
        nc *= 2;
    b->p = realloc(b->p, nc);
    if (!b->p)
        abort();
    b->cap = nc;
}
static void put8(struct bb *b, uint8_t v) { bb_room(b, 1); b->p[b->len++] = v; }
static void put16(struct bb *b, uint16_t v)
{
    if (b->be) { put8(b, (uint8_t)(v >> 8)); put8(b, (uint8_t)v); }
    else       { put8(b, (uint8_t)v); put8(b, (uint8_t)(v >> 8)); }
}
static void put32(struct bb *b, uint32_t v)
{
    if (b->be) { put16(b, (uint16_t)(v >> 16)); put16(b, (uint16_t)v); }
    else       { put16(b, (uint16_t)v); put16(b, (uint16_t)(v >> 16)); }
}
static void put64(struct bb *b, uint64_t v)
{
    if (b->be) { put32(b, (uint32_t)(v >> 32)); put32(b, (uint32_t)v); }
    else       { put32(b, (uint32_t)v); put32(b, (uint32_t)(v >> 32)); }
}
static void putbytes(struct bb *b, const uint8_t *d, size_t n)
{
    bb_room(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
}
static void pad4(struct bb *b) { while (b->len & 3) put8(b, 0); }
static void set32(struct bb *b, size_t at, uint32_t v)
{
    size_t save = b->len;
    b->len = at;
    put32(b, v);
    b->len = save;
}
static void bb_free(struct bb *b) { free(b->p); memset(b, 0, sizeof(*b)); }

/* Deterministic payload of packet i. */
static void payload(uint8_t *d, uint32_t n, unsigned i)
{
    for (uint32_t j = 0; j < n; j++)
        d[j] = (uint8_t)(i * 37u + j * 11u + 1u);
}

/* What a reader should deliver, plus where each record ends in the file so
 * the truncation tests know how many complete records precede a cut. */
#define MAXREC 32
struct expect {
    unsigned n;
    struct { uint32_t caplen, wirelen; uint64_t ts; uint16_t lt; unsigned seed; } pk[MAXREC];
    /* Records in file order: end offset and kind ('P' delivered packet,
     * 'B' packet counted as bad, 'S' skipped block, 'H' structural). */
    unsigned nrec;
    struct { size_t end; char kind; } rec[MAXREC];
    size_t hdrlen;      /* shortest prefix that opens */
};

static void ex_pkt(struct expect *e, uint32_t cl, uint32_t wl, uint64_t ts, uint16_t lt, unsigned seed)
{
    e->pk[e->n].caplen = cl;
    e->pk[e->n].wirelen = wl;
    e->pk[e->n].ts = ts;
    e->pk[e->n].lt = lt;
    e->pk[e->n].seed = seed;
    e->n++;
}
static void ex_rec(struct expect *e, size_t end, char kind)
{
    e->rec[e->nrec].end = end;
    e->rec[e->nrec].kind = kind;
    e->nrec++;
}

/* ------------------------------------------------------------------------ */
/* Builders */

/* Classic pcap: four packets of 60, 1, 0 and 200 bytes. */
static void build_pcap(struct bb *b, struct expect *e, int be, int nsec,
                       uint32_t ltfield, uint16_t lt)
{
    static const uint32_t lens[] = { 60, 1, 0, 200 };
    memset(e, 0, sizeof(*e));
    b->be = be;
    put32(b, nsec ? 0xA1B23C4Du : 0xA1B2C3D4u);
    put16(b, 2);
    put16(b, 4);
    put32(b, 0);
    put32(b, 0);
    put32(b, 65535);
    put32(b, ltfield);
    e->hdrlen = b->len;
    for (unsigned i = 0; i < 4; i++) {
        uint32_t sec = 1700000000u + i;
        uint32_t frac = nsec ? 999999990u + i : 999990u + i;
        uint32_t wl = lens[i] + (i == 1 ? 1499 : 0);
        uint8_t d[256];
        payload(d, lens[i], i);
        put32(b, sec);
        put32(b, frac);
        put32(b, lens[i]);
        put32(b, wl);
        putbytes(b, d, lens[i]);
        ex_pkt(e, lens[i], wl, (uint64_t)sec * 1000000000u + (nsec ? frac : frac * 1000ull), lt, i);
        ex_rec(e, b->len, 'P');
    }
}

/* pcapng block helpers: begin writes type and a placeholder length, end
 * pads, writes the trailer and patches the length. */
static size_t ng_begin(struct bb *b, uint32_t type)
{
    size_t at = b->len;
    put32(b, type);
    put32(b, 0);
    return at;
}
static void ng_end(struct bb *b, size_t at)
{
    pad4(b);
    uint32_t len = (uint32_t)(b->len - at + 4);
    put32(b, len);
    set32(b, at + 4, len);
}
static void ng_shb(struct bb *b)
{
    size_t at = ng_begin(b, 0x0A0D0D0Au);
    put32(b, 0x1A2B3C4Du);
    put16(b, 1);
    put16(b, 0);
    put64(b, UINT64_MAX);       /* section length unknown */
    ng_end(b, at);
}
/* IDB; tsresol < 0 for none, tsoffset_s == 0 for none. */
static void ng_idb(struct bb *b, uint16_t lt, uint32_t snap, int tsresol, int64_t tsoff, const char *name)
{
    size_t at = ng_begin(b, 1);
    put16(b, lt);
    put16(b, 0);
    put32(b, snap);
    if (name) {
        put16(b, 2);                    /* if_name */
        put16(b, (uint16_t)strlen(name));
        putbytes(b, (const uint8_t *)name, strlen(name));
        pad4(b);
    }
    if (tsresol >= 0) {
        put16(b, 9);
        put16(b, 1);
        put8(b, (uint8_t)tsresol);
        pad4(b);
    }
    if (tsoff) {
        put16(b, 14);
        put16(b, 8);
        put64(b, (uint64_t)tsoff);
    }
    put16(b, 0);                        /* opt_endofopt */
    put16(b, 0);
    ng_end(b, at);
}
static void ng_epb(struct bb *b, uint32_t ifid, uint64_t ts, uint32_t cl, uint32_t wl, unsigned seed)
{
    uint8_t d[512];
    size_t at = ng_begin(b, 6);
    put32(b, ifid);
    put32(b, (uint32_t)(ts >> 32));
    put32(b, (uint32_t)ts);
    put32(b, cl);
    put32(b, wl);
    payload(d, cl, seed);
    putbytes(b, d, cl);
    pad4(b);
    put16(b, 1);                        /* opt_comment, to be ignored */
    put16(b, 3);
    putbytes(b, (const uint8_t *)"hey", 3);
    pad4(b);
    put16(b, 0);
    put16(b, 0);
    ng_end(b, at);
}
static void ng_pb(struct bb *b, uint16_t ifid, uint64_t ts, uint32_t cl, uint32_t wl, unsigned seed)
{
    uint8_t d[512];
    size_t at = ng_begin(b, 2);
    put16(b, ifid);
    put16(b, 0);                        /* drops count */
    put32(b, (uint32_t)(ts >> 32));
    put32(b, (uint32_t)ts);
    put32(b, cl);
    put32(b, wl);
    payload(d, cl, seed);
    putbytes(b, d, cl);
    ng_end(b, at);
}
static void ng_spb(struct bb *b, uint32_t wl, unsigned seed)
{
    uint8_t d[512];
    size_t at = ng_begin(b, 3);
    put32(b, wl);
    payload(d, wl, seed);
    putbytes(b, d, wl);
    ng_end(b, at);
}
static void ng_other(struct bb *b, uint32_t type, uint32_t n)
{
    size_t at = ng_begin(b, type);
    for (uint32_t i = 0; i < n; i++)
        put8(b, (uint8_t)i);
    ng_end(b, at);
}

/* The pcapng fixture: two sections; the second in the opposite byte order.
 *   section 1: IDB0 ethernet snaplen 64 default (us) resolution, IDB1 raw IP
 *   with ns resolution and a 10 s offset; EPBs on both, a custom block, an
 *   SPB cut to the snaplen, an obsolete PB, an ISB, an EPB for an interface
 *   that does not exist.
 *   section 2: IDB0 SLL with 2^-10 s resolution and an EPB on it, then an
 *   EPB for interface 1, which existed only in section 1. */
static void build_ng(struct bb *b, struct expect *e, int be)
{
    memset(e, 0, sizeof(*e));
    b->be = be;
    ng_shb(b);
    e->hdrlen = b->len;
    ex_rec(e, b->len, 'H');
    ng_idb(b, 1, 64, -1, 0, "eth0");
    ex_rec(e, b->len, 'H');
    ng_idb(b, 101, 0, 9, 10, NULL);
    ex_rec(e, b->len, 'H');

    ng_epb(b, 0, 1700000000123456ull, 60, 60, 0);
    ex_pkt(e, 60, 60, 1700000000123456000ull, 1, 0);
    ex_rec(e, b->len, 'P');

    ng_other(b, 0x00000BADu, 13);       /* custom block */
    ex_rec(e, b->len, 'S');

    ng_epb(b, 1, 1700000001987654321ull, 41, 1000, 1);
    ex_pkt(e, 41, 1000, 1700000011987654321ull, 101, 1);
    ex_rec(e, b->len, 'P');

    ng_spb(b, 100, 2);                  /* cut to IDB0's snaplen 64 */
    ex_pkt(e, 64, 100, 0, 1, 2);
    ex_rec(e, b->len, 'P');

    ng_pb(b, 1, 5000000000ull, 20, 20, 3);
    ex_pkt(e, 20, 20, 5000000000ull + 10000000000ull, 101, 3);
    ex_rec(e, b->len, 'P');

    ng_other(b, 5, 20);                 /* ISB */
    ex_rec(e, b->len, 'S');

    ng_epb(b, 7, 1, 10, 10, 4);         /* no interface 7 */
    ex_rec(e, b->len, 'B');

    b->be = !be;
    ng_shb(b);
    ex_rec(e, b->len, 'H');
    ng_idb(b, 113, 0, 0x80 | 10, 0, NULL);
    ex_rec(e, b->len, 'H');
    ng_epb(b, 0, (5ull << 10) | 512, 33, 33, 5);
    ex_pkt(e, 33, 33, 5500000000ull, 113, 5);
    ex_rec(e, b->len, 'P');
    ng_epb(b, 1, 1, 10, 10, 6);         /* interface 1 was section 1's */
    ex_rec(e, b->len, 'B');
}

/* ------------------------------------------------------------------------ */
/* Draining and checking */

/* Read everything (bursts of 'burst'), check each packet against e (first
 * 'want' of them) and that all data lies in [buf, buf + len). Returns the
 * number delivered; -1 if something was wrong (already asserted). */
static int drain_check(struct cap_source *s, const struct expect *e, unsigned want,
                       const uint8_t *buf, size_t len, unsigned burst)
{
    struct cap_pkt pk[64];
    unsigned got = 0;
    int ok = 1;
    for (int guard = 0; guard < 100000; guard++) {
        int n = s->ops->rx_burst(s, pk, burst);
        if (n == CAP_EOF)
            break;
        CU_ASSERT_FATAL(n >= 0 && (unsigned)n <= burst);
        for (int i = 0; i < n; i++, got++) {
            const struct cap_pkt *p = &pk[i];
            if (buf && (p->data < buf || p->data + p->caplen > buf + len)) {
                CU_FAIL("packet data outside the input");
                return -1;
            }
            if (got >= want) {
                ok = 0;
                continue;
            }
            uint8_t d[512];
            CU_ASSERT_EQUAL(p->caplen, e->pk[got].caplen);
            CU_ASSERT_EQUAL(p->wirelen, e->pk[got].wirelen);
            CU_ASSERT_EQUAL(p->ts_ns, e->pk[got].ts);
            CU_ASSERT_EQUAL(p->linktype, e->pk[got].lt);
            if (p->caplen == e->pk[got].caplen && p->caplen <= sizeof(d)) {
                payload(d, p->caplen, e->pk[got].seed);
                CU_ASSERT(memcmp(d, p->data, p->caplen) == 0);
            }
        }
        s->ops->release(s, pk, (unsigned)n);
    }
    CU_ASSERT(ok);
    /* CAP_EOF is sticky. */
    CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, burst), CAP_EOF);
    CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, 1), CAP_EOF);
    return (int)got;
}

static int write_tmp(const uint8_t *d, size_t n, char *path, size_t pathlen)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, pathlen, "%s/mg_test_cap_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    size_t w = 0;
    while (w < n) {
        ssize_t r = write(fd, d + w, n - w);
        if (r <= 0) {
            close(fd);
            unlink(path);
            return -1;
        }
        w += (size_t)r;
    }
    close(fd);
    return 0;
}

/* Read a file with both backends and require the same packets byte for
 * byte, the same timestamps, lengths and link types. Returns the number of
 * packets, or -1 when the file could not be compared. */
static long compare_backends(const char *path, int verbose)
{
    char err[512];
    struct cap_source *f = cap_file_open(path, err, sizeof(err));
    if (!f) {
        fprintf(stderr, "\n  cap_file_open: %s\n", err);
        CU_FAIL("cap_file_open failed on a real capture");
        return -1;
    }
    struct cap_source *p = cap_pcap_open_file(path, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "\n  cap_pcap_open_file: %s\n", err);
        CU_FAIL("cap_pcap_open_file failed on a real capture");
        f->ops->close(f);
        return -1;
    }
    /* The mmap reader's packets stay valid until close, so collect them all
     * first; then walk libpcap's bursts in step. */
    size_t cap = 1024, nf = 0;
    struct cap_pkt *all = malloc(cap * sizeof(*all));
    CU_ASSERT_FATAL(all != NULL);
    for (;;) {
        if (nf + 32 > cap) {
            cap *= 2;
            all = realloc(all, cap * sizeof(*all));
            CU_ASSERT_FATAL(all != NULL);
        }
        int n = f->ops->rx_burst(f, all + nf, 32);
        if (n == CAP_EOF)
            break;
        CU_ASSERT_FATAL(n > 0);
        nf += (size_t)n;
    }
    struct cap_stats fs;
    f->ops->stats(f, &fs);
    CU_ASSERT_EQUAL(fs.pkts, nf);
    CU_ASSERT_EQUAL(fs.bad_records, 0);
    if (fs.bad_records)
        fprintf(stderr, "\n  %s: %s\n", path, f->ops->last_error(f));

    size_t np = 0, mismatches = 0;
    struct cap_pkt pk[64];
    for (;;) {
        int n = p->ops->rx_burst(p, pk, 64);
        if (n == CAP_EOF)
            break;
        if (n < 0) {
            fprintf(stderr, "\n  libpcap: %s\n", p->ops->last_error(p));
            CU_FAIL("libpcap reader failed");
            break;
        }
        for (int i = 0; i < n; i++, np++) {
            if (np >= nf) {
                mismatches++;
                continue;
            }
            const struct cap_pkt *a = &all[np], *b = &pk[i];
            if (a->caplen != b->caplen || a->wirelen != b->wirelen || a->ts_ns != b->ts_ns ||
                a->linktype != b->linktype || memcmp(a->data, b->data, a->caplen) != 0) {
                if (mismatches++ < 3 && verbose)
                    fprintf(stderr, "\n  %s pkt %zu: file %u/%u %llu lt %u vs pcap %u/%u %llu lt %u\n",
                            path, np, a->caplen, a->wirelen, (unsigned long long)a->ts_ns,
                            a->linktype, b->caplen, b->wirelen, (unsigned long long)b->ts_ns,
                            b->linktype);
            }
        }
        p->ops->release(p, pk, (unsigned)n);
    }
    CU_ASSERT_EQUAL(np, nf);
    CU_ASSERT_EQUAL(mismatches, 0);
    struct cap_stats ps;
    p->ops->stats(p, &ps);
    CU_ASSERT_EQUAL(ps.pkts, np);
    CU_ASSERT_EQUAL(ps.bytes, fs.bytes);
    free(all);
    f->ops->close(f);
    p->ops->close(p);
    return (np == nf && !mismatches) ? (long)nf : -1;
}

/* ------------------------------------------------------------------------ */
/* Tests */

static void test_pcap_variants(void)
{
    static const struct { int be, nsec; uint32_t ltfield; uint16_t lt; } v[] = {
        { 0, 0, 1, 1 },
        { 1, 0, 101 | 0x14000000u, 101 },      /* FCS bits in the link type */
        { 0, 1, 113, 113 },
        { 1, 1, 276, 276 },
    };
    for (unsigned k = 0; k < 4; k++) {
        struct bb b = { 0 };
        struct expect e;
        char err[256];
        build_pcap(&b, &e, v[k].be, v[k].nsec, v[k].ltfield, v[k].lt);
        for (unsigned burst = 1; burst <= 64; burst *= 4) {
            struct cap_source *s = cap_file_open_mem(b.p, b.len, err, sizeof(err));
            CU_ASSERT_FATAL(s != NULL);
            CU_ASSERT_STRING_EQUAL(s->ops->name, "file");
            CU_ASSERT_EQUAL(drain_check(s, &e, e.n, b.p, b.len, burst), (int)e.n);
            struct cap_stats st;
            s->ops->stats(s, &st);
            CU_ASSERT_EQUAL(st.pkts, 4);
            CU_ASSERT_EQUAL(st.bytes, 60 + 1 + 0 + 200);
            CU_ASSERT_EQUAL(st.bad_records, 0);
            CU_ASSERT_EQUAL(st.drops, 0);
            s->ops->close(s);
        }
        /* The same bytes through the mmap path and through libpcap. */
        char path[256];
        CU_ASSERT_FATAL(write_tmp(b.p, b.len, path, sizeof(path)) == 0);
        struct cap_source *s = cap_file_open(path, err, sizeof(err));
        CU_ASSERT_FATAL(s != NULL);
        CU_ASSERT_EQUAL(drain_check(s, &e, e.n, NULL, 0, 3), (int)e.n);
        s->ops->close(s);
        CU_ASSERT_EQUAL(compare_backends(path, 1), 4);
        unlink(path);
        bb_free(&b);
    }
}

/* The classic pcap reader reads the file in 4 MB pieces and carries a record
 * cut by a piece's end over to the next. A 10 MB file of records from 1 to
 * 262144 bytes (several of the largest across the piece boundaries), read
 * in bursts of 7 and checked byte for byte before each next burst (the
 * data of a burst is valid until then); then the same file with its last
 * record cut short gives every whole record and one bad record. */
static uint8_t refill_byte(uint32_t i, uint32_t j) { return (uint8_t)(i * 31u + j * 7u + (j >> 8)); }
static uint32_t refill_len(uint32_t i)
{
    static const uint32_t lens[] = { 60, 1514, 1, 9000, 594, 262144, 64, 40000, 1518, 0 };
    return lens[i % (sizeof(lens) / sizeof(lens[0]))];
}
/* Whether pk is record i of the file test_pcap_refill writes. */
static int refill_ok(const struct cap_pkt *pk, uint32_t i)
{
    uint32_t cl = refill_len(i);
    int ok = pk->caplen == cl && pk->wirelen == cl + 4 &&
             pk->ts_ns == (1000ull + i) * 1000000000ull + (i % 1000000) * 1000ull;
    for (uint32_t j = 0; ok && j < cl; j++)
        ok = pk->data[j] == refill_byte(i, j);
    return ok;
}

static void test_pcap_refill(void)
{
    struct bb b = { 0 };
    uint8_t hdr[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0 };
    hdr[16] = 0x00; hdr[17] = 0x00; hdr[18] = 0x04; hdr[19] = 0x00;    /* snaplen 262144 */
    hdr[20] = 1;                                                        /* Ethernet */
    putbytes(&b, hdr, sizeof(hdr));
    uint32_t n = 0;
    while (b.len < (size_t)10 << 20) {
        uint32_t cl = refill_len(n);
        uint8_t rh[16];
        uint32_t v[4] = { 1000 + n, n % 1000000, cl, cl + 4 };
        memcpy(rh, v, sizeof(rh));                  /* little endian, as the magic says */
        putbytes(&b, rh, sizeof(rh));
        for (uint32_t j = 0; j < cl; j++)
            put8(&b, refill_byte(n, j));
        n++;
    }
    for (int cut = 0; cut <= 1; cut++) {
        char path[256], err[512];
        size_t len = cut ? b.len - 1 : b.len;
        CU_ASSERT_FATAL(write_tmp(b.p, len, path, sizeof(path)) == 0);
        struct cap_source *s = cap_file_open(path, err, sizeof(err));
        CU_ASSERT_FATAL(s != NULL);
        struct cap_pkt pk[7];
        uint32_t got = 0, bad = 0;
        int r;
        while ((r = s->ops->rx_burst(s, pk, 7)) != CAP_EOF) {
            CU_ASSERT_FATAL(r >= 0);
            for (int i = 0; i < r; i++, got++)
                bad += !refill_ok(&pk[i], got);
            s->ops->release(s, pk, (unsigned)r);
        }
        struct cap_stats st;
        s->ops->stats(s, &st);
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL(got, cut ? n - 1 : n);
        CU_ASSERT_EQUAL(st.pkts, got);
        CU_ASSERT_EQUAL(st.bad_records, (uint64_t)cut);
        s->ops->close(s);
        unlink(path);
    }
    bb_free(&b);
}

/* A classic pcap file read in parts by two readers taking turns, as
 * replay workers do (cap.h, cap_file_parts): one part loaded ahead, the
 * first record of each part given by the end of the part before, each part
 * walked once, rewound and read again. Every packet must come out once, in
 * order, byte for byte, whatever the part size: parts of 7 bytes (most
 * records cross many parts, most parts hold no record's start) to the
 * largest. With 'cut' the last record is torn: the part holding it ends
 * the file and counts one bad record. Returns the packets read. */
static uint32_t parts_read(const char *path, uint32_t bytes, int cut, uint32_t n_expect)
{
    char err[512];
    struct cap_source *s[2];
    uint64_t nparts = 0;
    for (int k = 0; k < 2; k++) {
        s[k] = cap_file_open(path, err, sizeof(err));
        CU_ASSERT_FATAL(s[k] != NULL);
        uint64_t np = cap_file_parts(s[k], bytes);
        CU_ASSERT_FATAL(np > 0);
        CU_ASSERT(!k || np == nparts);
        nparts = np;
    }
    uint64_t first = cap_file_part_first(s[0]);
    uint32_t got = 0, bad = 0, ended = 0;
    struct cap_pkt pk[7];
    for (uint64_t part = 0; part < nparts; part++) {
        struct cap_source *src = s[part & 1];
        CU_ASSERT_FATAL(cap_file_part_load(src, part) == 0);
        if (ended)
            continue;                   /* the file ended in an earlier part */
        CU_ASSERT_FATAL(cap_file_part_begin(src, first) == 0);
        uint32_t walked = 0;
        int r;
        while ((r = src->ops->rx_burst(src, pk, 7)) != CAP_EOF) {
            CU_ASSERT_FATAL(r > 0);
            walked += (uint32_t)r;
        }
        uint64_t next = 0;
        int more = cap_file_part_end(src, &next);
        cap_file_part_rewind(src);
        uint32_t again = 0;
        while ((r = src->ops->rx_burst(src, pk, 7)) != CAP_EOF) {
            CU_ASSERT_FATAL(r > 0);
            for (int i = 0; i < r; i++, got++, again++)
                bad += !refill_ok(&pk[i], got);
        }
        uint64_t next2 = 0;
        CU_ASSERT_EQUAL(cap_file_part_end(src, &next2), more);
        CU_ASSERT_EQUAL(next2, next);
        CU_ASSERT_EQUAL(again, walked);
        if (!more)
            ended = 1;
        else
            CU_ASSERT(next > first || walked == 0);
        first = next;
    }
    CU_ASSERT_EQUAL(ended, 1);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(got, n_expect);
    struct cap_stats a, b;
    s[0]->ops->stats(s[0], &a);
    s[1]->ops->stats(s[1], &b);
    CU_ASSERT_EQUAL(a.pkts + b.pkts, got);
    CU_ASSERT_EQUAL(a.bad_records + b.bad_records, (uint64_t)cut);
    if (cut)
        CU_ASSERT(strstr(s[(a.bad_records ? 0 : 1)]->ops->last_error(s[a.bad_records ? 0 : 1]),
                         "torn") != NULL);
    for (int k = 0; k < 2; k++)
        s[k]->ops->close(s[k]);
    return got;
}

static void test_pcap_parts(void)
{
    struct bb b = { 0 };
    uint8_t hdr[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0 };
    hdr[18] = 0x04;                                                     /* snaplen 262144 */
    hdr[20] = 1;
    putbytes(&b, hdr, sizeof(hdr));
    uint32_t n = 0, n_small = 0;
    size_t small_len = 0;
    while (b.len < (size_t)10 << 20) {
        uint32_t cl = refill_len(n);
        uint32_t v[4] = { 1000 + n, n % 1000000, cl, cl + 4 };
        uint8_t rh[16];
        memcpy(rh, v, sizeof(rh));
        putbytes(&b, rh, sizeof(rh));
        for (uint32_t j = 0; j < cl; j++)
            put8(&b, refill_byte(n, j));
        n++;
        if (n == 12) {                  /* a small file for the smallest parts */
            n_small = n;
            small_len = b.len;
        }
    }
    char path[256], small[256];
    CU_ASSERT_FATAL(write_tmp(b.p, small_len, small, sizeof(small)) == 0);
    CU_ASSERT_EQUAL(parts_read(small, 7, 0, n_small), n_small);
    CU_ASSERT_EQUAL(parts_read(small, 1000, 0, n_small), n_small);
    unlink(small);
    CU_ASSERT_FATAL(write_tmp(b.p, small_len - 1, small, sizeof(small)) == 0);
    CU_ASSERT_EQUAL(parts_read(small, 7, 1, n_small - 1), n_small - 1);
    unlink(small);
    static const uint32_t sizes[] = { 65536, 262160, 1u << 20, 3u << 20 };
    for (int cut = 0; cut <= 1; cut++) {
        CU_ASSERT_FATAL(write_tmp(b.p, cut ? b.len - 1 : b.len, path, sizeof(path)) == 0);
        for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
            CU_ASSERT_EQUAL(parts_read(path, sizes[i], cut, cut ? n - 1 : n), cut ? n - 1 : n);
        unlink(path);
    }
    /* The file shrinks after the parts were counted (another program cuts
     * it): the parts past its new end are empty, the record cut is a bad
     * one, and nothing is read beyond what was read (ASan build). */
    CU_ASSERT_FATAL(write_tmp(b.p, b.len, path, sizeof(path)) == 0);
    {
        char err2[512];
        struct cap_source *sh = cap_file_open(path, err2, sizeof(err2));
        CU_ASSERT_FATAL(sh != NULL);
        uint64_t np = cap_file_parts(sh, 65536);
        CU_ASSERT_FATAL(np > 2);
        CU_ASSERT_FATAL(truncate(path, (off_t)(b.len / 2)) == 0);
        uint64_t first = cap_file_part_first(sh), got = 0;
        int more = 1;
        struct cap_pkt pk[7];
        for (uint64_t part = 0; part < np && more; part++) {
            CU_ASSERT_FATAL(cap_file_part_load(sh, part) == 0);
            cap_file_part_begin(sh, first);
            int r;
            while ((r = sh->ops->rx_burst(sh, pk, 7)) != CAP_EOF) {
                CU_ASSERT_FATAL(r > 0);
                for (int i = 0; i < r; i++, got++)
                    CU_ASSERT(refill_ok(&pk[i], (uint32_t)got));
            }
            more = cap_file_part_end(sh, &first);
        }
        CU_ASSERT_EQUAL(more, 0);
        CU_ASSERT(got > 0 && got < n);
        struct cap_stats st;
        sh->ops->stats(sh, &st);
        CU_ASSERT_EQUAL(st.pkts, got);
        CU_ASSERT(st.bad_records <= 1);
        sh->ops->close(sh);
        unlink(path);
    }
    /* Not to be read in parts: pcapng, parts above 3.75 MB, or none. */
    char err[512];
    CU_ASSERT_FATAL(write_tmp(b.p, b.len, path, sizeof(path)) == 0);
    struct cap_source *s = cap_file_open(path, err, sizeof(err));
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL(cap_file_parts(s, 4u << 20), 0);
    CU_ASSERT_EQUAL(cap_file_parts(s, 0), 0);
    s->ops->close(s);
    unlink(path);
    struct expect e;
    bb_free(&b);
    build_ng(&b, &e, 0);
    CU_ASSERT_FATAL(write_tmp(b.p, b.len, path, sizeof(path)) == 0);
    s = cap_file_open(path, err, sizeof(err));
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL(cap_file_parts(s, 65536), 0);
    s->ops->close(s);
    unlink(path);
    bb_free(&b);
}

static void test_pcapng_both_orders(void)
{
    for (int be = 0; be <= 1; be++) {
        struct bb b = { 0 };
        struct expect e;
        char err[256];
        build_ng(&b, &e, be);
        for (unsigned burst = 1; burst <= 64; burst *= 2) {
            struct cap_source *s = cap_file_open_mem(b.p, b.len, err, sizeof(err));
            CU_ASSERT_FATAL(s != NULL);
            CU_ASSERT_EQUAL(drain_check(s, &e, e.n, b.p, b.len, burst), (int)e.n);
            struct cap_stats st;
            s->ops->stats(s, &st);
            CU_ASSERT_EQUAL(st.pkts, 5);
            CU_ASSERT_EQUAL(st.bytes, 60 + 41 + 64 + 20 + 33);
            CU_ASSERT_EQUAL(st.bad_records, 2);     /* interface 7, and 1 in section 2 */
            CU_ASSERT_EQUAL(st.skipped_blocks, 2);  /* custom block, ISB */
            CU_ASSERT(strstr(s->ops->last_error(s), "interface") != NULL);
            s->ops->close(s);
        }
        bb_free(&b);
    }
}

/* One interface per resolution; one EPB each; check the conversion. */
static void test_pcapng_tsresol(void)
{
    static const struct { int res; int64_t off; uint64_t ts, ns; } v[] = {
        { -1, 0, 1500000, 1500000000 },                  /* default: us */
        { 0, 0, 7, 7000000000ull },                       /* seconds */
        { 3, 0, 1234, 1234000000 },                       /* ms */
        { 6, -5, 1000000, 1000000000ull - 5000000000ull }, /* negative offset wraps back */
        { 9, 0, 1700000000123456789ull, 1700000000123456789ull },
        { 12, 0, 1234567, 1234 },                         /* ps */
        { 0x80 | 0, 0, 42, 42000000000ull },             /* 2^0 */
        { 0x80 | 20, 0, (3ull << 20) | (1ull << 19), 3500000000ull },
        { 0x80 | 40, 0, (1ull << 39), 500000000 },
        { 0x80 | 64, 0, (1ull << 63), 500000000 },
        { 0x80 | 100, 0, 12345, 0 },
        { 29, 0, 99999, 0 },                              /* beyond 10^-28: < 1 ns */
    };
    const unsigned nv = sizeof(v) / sizeof(v[0]);
    for (int be = 0; be <= 1; be++) {
        struct bb b = { 0 };
        b.be = be;
        ng_shb(&b);
        for (unsigned i = 0; i < nv; i++)
            ng_idb(&b, 1, 0, v[i].res, v[i].off, NULL);
        for (unsigned i = 0; i < nv; i++)
            ng_epb(&b, i, v[i].ts, 14, 14, i);
        char err[256];
        struct cap_source *s = cap_file_open_mem(b.p, b.len, err, sizeof(err));
        CU_ASSERT_FATAL(s != NULL);
        struct cap_pkt pk[32];
        int n = s->ops->rx_burst(s, pk, 32);
        CU_ASSERT_EQUAL(n, (int)nv);
        for (int i = 0; i < n && i < (int)nv; i++) {
            if (pk[i].ts_ns != v[i].ns)
                fprintf(stderr, "\n  tsresol 0x%x: got %llu want %llu\n", (unsigned)v[i].res,
                        (unsigned long long)pk[i].ts_ns, (unsigned long long)v[i].ns);
            CU_ASSERT_EQUAL(pk[i].ts_ns, v[i].ns);
        }
        CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, 32), CAP_EOF);
        s->ops->close(s);
        bb_free(&b);
    }
}

/* Cut a file at every byte offset; the copy is exactly 'cut' bytes on the
 * heap so ASan catches any read past it. */
static void truncation_sweep(const struct bb *b, const struct expect *e)
{
    for (size_t cut = 0; cut < b->len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        CU_ASSERT_FATAL(copy != NULL);
        memcpy(copy, b->p, cut);
        char err[256] = "";
        struct cap_source *s = cap_file_open_mem(copy, cut, err, sizeof(err));
        if (cut < e->hdrlen) {
            CU_ASSERT(s == NULL);
            CU_ASSERT(strstr(err, "<memory>") != NULL);
            if (s)
                s->ops->close(s);
            free(copy);
            continue;
        }
        CU_ASSERT_FATAL(s != NULL);
        unsigned want = 0, wantbad = 0, boundary = cut == e->hdrlen;
        for (unsigned r = 0; r < e->nrec; r++) {
            if (e->rec[r].end > cut)
                break;
            want += e->rec[r].kind == 'P';
            wantbad += e->rec[r].kind == 'B';
            boundary |= e->rec[r].end == cut;
        }
        if (!boundary)
            wantbad++;                  /* the torn record */
        int got = drain_check(s, e, want, copy, cut, 1 + (unsigned)(cut % 5));
        CU_ASSERT_EQUAL(got, (int)want);
        struct cap_stats st;
        s->ops->stats(s, &st);
        CU_ASSERT_EQUAL(st.bad_records, wantbad);
        if (got != (int)want || st.bad_records != wantbad)
            fprintf(stderr, "\n  cut %zu: got %d/%u bad %llu/%u\n", cut, got, want,
                    (unsigned long long)st.bad_records, wantbad);
        s->ops->close(s);
        free(copy);
    }
}

static void test_truncation_pcap(void)
{
    for (int k = 0; k < 2; k++) {
        struct bb b = { 0 };
        struct expect e;
        build_pcap(&b, &e, k, k, 1, 1);
        truncation_sweep(&b, &e);
        bb_free(&b);
    }
}

static void test_truncation_pcapng(void)
{
    for (int be = 0; be <= 1; be++) {
        struct bb b = { 0 };
        struct expect e;
        build_ng(&b, &e, be);
        truncation_sweep(&b, &e);
        bb_free(&b);
    }
}

/* Feed a buffer that opens; expect 'pkts' packets then a bad record. */
static void expect_bad(const struct bb *b, unsigned pkts, const char *why)
{
    char err[256];
    uint8_t *copy = malloc(b->len);
    CU_ASSERT_FATAL(copy != NULL);
    memcpy(copy, b->p, b->len);
    struct cap_source *s = cap_file_open_mem(copy, b->len, err, sizeof(err));
    CU_ASSERT_FATAL(s != NULL);
    struct cap_pkt pk[8];
    unsigned got = 0;
    int n;
    while ((n = s->ops->rx_burst(s, pk, 8)) != CAP_EOF) {
        CU_ASSERT_FATAL(n > 0);
        for (int i = 0; i < n; i++)
            CU_ASSERT(pk[i].data >= copy && pk[i].data + pk[i].caplen <= copy + b->len);
        got += (unsigned)n;
    }
    CU_ASSERT_EQUAL(got, pkts);
    struct cap_stats st;
    s->ops->stats(s, &st);
    CU_ASSERT_EQUAL(st.bad_records, 1);
    CU_ASSERT(strstr(s->ops->last_error(s), why) != NULL);
    if (!strstr(s->ops->last_error(s), why))
        fprintf(stderr, "\n  last_error \"%s\", wanted \"%s\"\n", s->ops->last_error(s), why);
    s->ops->close(s);
    free(copy);
}

static void test_bad_records(void)
{
    struct bb b = { 0 };
    struct expect e;

    /* pcap: caplen larger than the bytes left. */
    build_pcap(&b, &e, 0, 0, 1, 1);
    b.len = e.rec[1].end;               /* two good records */
    put32(&b, 1); put32(&b, 2); put32(&b, 1000); put32(&b, 1000);
    for (int i = 0; i < 10; i++)
        put8(&b, 0xee);
    expect_bad(&b, 2, "torn pcap record");

    /* pcap: caplen above 262144 although the bytes are there. */
    b.len = e.rec[0].end;
    put32(&b, 1); put32(&b, 2); put32(&b, 300000); put32(&b, 300000);
    bb_room(&b, 300000);
    memset(b.p + b.len, 0, 300000);
    b.len += 300000;
    expect_bad(&b, 1, "262144");
    bb_free(&b);

    /* pcapng: caplen beyond its block. */
    b.be = 1;
    ng_shb(&b);
    ng_idb(&b, 1, 0, -1, 0, NULL);
    ng_epb(&b, 0, 1, 10, 10, 0);
    size_t at = b.len;
    ng_epb(&b, 0, 1, 10, 10, 0);
    const uint32_t blk = (uint32_t)(b.len - at);
    set32(&b, at + 20, 500);            /* caplen */
    ng_epb(&b, 0, 1, 10, 10, 0);
    expect_bad(&b, 1, "beyond its block");

    /* pcapng: block length not a multiple of 4, or below 12, or trailer
     * disagreeing with the header, or running past the end. */
    static const struct { uint32_t len; const char *why; } lens[] = {
        { 0, "bad pcapng block length" }, { 8, "bad pcapng block length" },
        { 46, "bad pcapng block length" }, { 0x7ffffff0, "torn pcapng block" },
    };
    for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        set32(&b, at + 4, lens[i].len);
        expect_bad(&b, 1, lens[i].why);
    }
    set32(&b, at + 4, blk);             /* back to its true length... */
    set32(&b, at + 20, 10);
    set32(&b, at + blk - 4, blk + 4);   /* ...but a different trailer */
    expect_bad(&b, 1, "trailer mismatch");
    set32(&b, at + blk - 4, blk);
    /* Repaired: the same bytes now read clean. */
    char err[256];
    struct cap_source *s = cap_file_open_mem(b.p, b.len, err, sizeof(err));
    CU_ASSERT_FATAL(s != NULL);
    struct cap_pkt pk[8];
    CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, 8), 3);
    CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, 8), CAP_EOF);
    struct cap_stats st;
    s->ops->stats(s, &st);
    CU_ASSERT_EQUAL(st.bad_records, 0);
    s->ops->close(s);
    bb_free(&b);
}

static void test_bad_headers(void)
{
    char err[256];
    static const char junk[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    CU_ASSERT(cap_file_open_mem((const uint8_t *)junk, sizeof(junk) - 1, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, "<memory>") && strstr(err, "not a pcap"));
    CU_ASSERT(cap_file_open_mem((const uint8_t *)junk, 0, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, "empty") != NULL);
    CU_ASSERT(cap_file_open_mem((const uint8_t *)"\xd4\xc3", 2, err, sizeof(err)) == NULL);
    CU_ASSERT(cap_file_open_mem(NULL, 100, err, sizeof(err)) == NULL);

    /* pcap magic, then nothing usable. */
    struct bb b = { 0 };
    struct expect e;
    build_pcap(&b, &e, 1, 0, 1, 1);
    CU_ASSERT(cap_file_open_mem(b.p, 23, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, "truncated") != NULL);
    set32(&b, 20, 105);                 /* 802.11: not a link type we decode */
    CU_ASSERT(cap_file_open_mem(b.p, b.len, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, "link type 105") != NULL);
    set32(&b, 20, 1);
    b.len = 4;
    put16(&b, 3);                       /* version 3.x */
    b.len = e.hdrlen;
    CU_ASSERT(cap_file_open_mem(b.p, b.len, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, "version") != NULL);
    bb_free(&b);

    /* A header-only pcap is a valid, empty capture. */
    build_pcap(&b, &e, 0, 1, 1, 1);
    struct cap_source *s = cap_file_open_mem(b.p, e.hdrlen, err, sizeof(err));
    CU_ASSERT_FATAL(s != NULL);
    struct cap_pkt pk[4];
    CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, 0), 0);    /* max 0: nothing asked */
    CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, 4), CAP_EOF);
    s->ops->close(s);
    bb_free(&b);

    /* pcapng: bad byte-order magic; SHB shorter than its minimum; an
     * 802.11-only first section. */
    b.be = 0;
    ng_shb(&b);
    b.p[8] ^= 0xff;
    CU_ASSERT(cap_file_open_mem(b.p, b.len, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, "byte-order") != NULL);
    b.p[8] ^= 0xff;
    CU_ASSERT(cap_file_open_mem(b.p, 20, err, sizeof(err)) == NULL);
    ng_idb(&b, 105, 0, -1, 0, NULL);
    ng_epb(&b, 0, 1, 10, 10, 0);
    CU_ASSERT(cap_file_open_mem(b.p, b.len, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, "link type 105") != NULL);
    bb_free(&b);

    /* ...but a section with one decodable interface opens, and packets of
     * the other are skipped. */
    ng_shb(&b);
    ng_idb(&b, 105, 0, -1, 0, NULL);
    ng_idb(&b, 1, 0, -1, 0, NULL);
    ng_epb(&b, 0, 1, 10, 10, 0);
    ng_epb(&b, 1, 1, 12, 12, 0);
    s = cap_file_open_mem(b.p, b.len, err, sizeof(err));
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, 4), 1);
    CU_ASSERT_EQUAL(pk[0].caplen, 12);
    CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, 4), CAP_EOF);
    struct cap_stats st;
    s->ops->stats(s, &st);
    CU_ASSERT_EQUAL(st.skipped_blocks, 1);
    s->ops->close(s);
    bb_free(&b);
}

static void test_open_errors(void)
{
    char err[512], path[256];
    const char *missing = "/nonexistent/dir/capture.pcap";
    CU_ASSERT(cap_file_open(missing, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, missing) != NULL);
    CU_ASSERT(cap_pcap_open_file(missing, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, missing) != NULL);

    CU_ASSERT_FATAL(write_tmp((const uint8_t *)"", 0, path, sizeof(path)) == 0);
    CU_ASSERT(cap_file_open(path, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, path) && strstr(err, "empty"));
    unlink(path);

    static const char junk[] = "this is not a capture file at all, really not";
    CU_ASSERT_FATAL(write_tmp((const uint8_t *)junk, sizeof(junk), path, sizeof(path)) == 0);
    CU_ASSERT(cap_file_open(path, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, path) && strstr(err, "not a pcap"));
    CU_ASSERT(cap_pcap_open_file(path, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, path) != NULL);
    unlink(path);

    CU_ASSERT(cap_file_open("/", err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, "regular") != NULL);

    /* A live interface that does not exist: one line naming it. */
    struct cap_pcap_opts o = { .iface = "mgnosuchif0", .snaplen = 256, .timeout_ms = 10 };
    CU_ASSERT(cap_pcap_open_live(&o, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, "mgnosuchif0") != NULL);
    CU_ASSERT(strchr(err, '\n') == NULL);
}

/* pcapng written by us, read by libpcap too (single link type, so libpcap
 * can take it): both byte orders, mixed resolutions. */
static void test_pcapng_vs_libpcap(void)
{
    for (int be = 0; be <= 1; be++) {
        struct bb b = { 0 };
        b.be = be;
        ng_shb(&b);
        ng_idb(&b, 1, 0, -1, 0, NULL);
        ng_idb(&b, 1, 0, 9, 0, NULL);
        for (unsigned i = 0; i < 20; i++)
            ng_epb(&b, i & 1, (i & 1) ? 1700000000123456789ull + i : 1700000000123456ull + i,
                   14 + i * 7, 14 + i * 9, i);
        ng_other(&b, 0x00000BADu, 8);
        char path[256];
        CU_ASSERT_FATAL(write_tmp(b.p, b.len, path, sizeof(path)) == 0);
        CU_ASSERT_EQUAL(compare_backends(path, 1), 20);
        unlink(path);
        bb_free(&b);
    }
}

/* Real captures: named ones with known properties, then every capture in
 * the shared directory. */
static int have_shared(void)
{
    struct stat sb;
    return stat(SHARED_PCAPS, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void test_real_named(void)
{
    if (!have_shared()) {
        fprintf(stderr, "\n  (skipped: %s not found)\n", SHARED_PCAPS);
        return;
    }
    static const struct { const char *path; long pkts; uint16_t lt; } v[] = {
        { "zeek/wikipedia/wikipedia.pcap", 136, 1 },
        { "ndpi/rdp/rdp.pcap", -1, 0 },                       /* BSD loopback */
        { "ndpi/scan/tcp_scan.pcapng", -1, 1 },               /* classic pcap in disguise */
        { "ndpi/benign/sites.pcapng", 699, 1 },               /* 22 IDBs, us and ns */
        { "domainator/saitama/saitama_handshake-offline_240223.pcapng", 2104, 1 },
        { "ndpi/c2/malware.pcap", 100, 1 },                   /* pcapng in disguise */
        { "zeek/geneve-vxlan-dns-truncated/geneve-vxlan-dns-truncated.pcap", 2, 1 },
    };
    for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char path[512], err[512];
        snprintf(path, sizeof(path), "%s/%s", SHARED_PCAPS, v[i].path);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "\n  (skipped: %s)\n", path);
            continue;
        }
        long n = compare_backends(path, 1);
        CU_ASSERT(n > 0);
        if (v[i].pkts >= 0)
            CU_ASSERT_EQUAL(n, v[i].pkts);
        struct cap_source *s = cap_file_open(path, err, sizeof(err));
        CU_ASSERT_FATAL(s != NULL);
        struct cap_pkt pk[1];
        CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, 1), 1);
        CU_ASSERT_EQUAL(pk[0].linktype, v[i].lt);
        CU_ASSERT(pk[0].ts_ns > 1000000000ull * 1000000000ull);    /* after 2001 */
        s->ops->close(s);
    }
}

static int all_checked, all_failed;

static void walk_dir(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d || depth > 6) {
        if (d)
            closedir(d);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            walk_dir(path, depth + 1);
            continue;
        }
        size_t nl = strlen(de->d_name);
        int cap = (nl > 5 && strcmp(de->d_name + nl - 5, ".pcap") == 0) ||
                  (nl > 7 && strcmp(de->d_name + nl - 7, ".pcapng") == 0);
        if (!cap)
            continue;
        all_checked++;
        if (compare_backends(path, 1) < 0) {
            all_failed++;
            fprintf(stderr, "\n  mismatch: %s\n", path);
        }
    }
    closedir(d);
}

static void test_real_all(void)
{
    if (!have_shared()) {
        fprintf(stderr, "\n  (skipped: %s not found)\n", SHARED_PCAPS);
        return;
    }
    all_checked = all_failed = 0;
    walk_dir(SHARED_PCAPS, 0);
    fprintf(stderr, " (%d captures) ", all_checked);
    CU_ASSERT(all_checked > 0);
    CU_ASSERT_EQUAL(all_failed, 0);
}

/* ==== The fanout program (capture/fanout.c), run in libpcap's interpreter ==== */

static struct sock_filter fprog[BPF_MAXINSNS];
static int fprog_n;

/* The program's value for an Ethernet frame: it starts at the IP header,
 * as the kernel's network header is once it has taken the VLAN tags off. */
static unsigned
fanout_value(const uint8_t *frame, size_t len)
{
    size_t off = 14;
    while (off < 22 && len >= off + 4 &&
           ((frame[off - 2] == 0x81 && frame[off - 1] == 0x00) ||
            (frame[off - 2] == 0x88 && frame[off - 1] == 0xa8)))
        off += 4;
    if (len <= off)
        return 0;
    return bpf_filter((const struct bpf_insn *)fprog, frame + off, (u_int)(len - off),
                      (u_int)(len - off));
}

/* The dispatch value three ways (decoders/dispatch.h): the kernel's BPF
 * program, the quick look at the frame and the full decode agree on every
 * packet of a capture, and the values spread its flows over 2 and 4
 * workers. */
static void
fanout_check_capture(const char *path, int min_flows, int glance_most)
{
    char err[256];
    struct cap_source *s = cap_file_open(path, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "\n  (skipped: %s)\n", err);
        return;
    }
    static const uint16_t vx[] = { 4789 }, gv[] = { 6081 };
    struct dec_cfg dc;
    dec_cfg_init(&dc, vx, 1, gv, 1, 3);
    enum { SLOTS = 1 << 16 };
    uint64_t *keys = calloc(SLOTS, sizeof(*keys));
    CU_ASSERT_FATAL(keys != NULL);
    int flows = 0, packets = 0, bpf_off = 0, peek_off = 0, peek_sure = 0, icmp_quoted = 0;
    int per2[2] = { 0 }, per4[4] = { 0 };
    struct cap_pkt pk[64];
    int n;
    while ((n = s->ops->rx_burst(s, pk, 64)) > 0) {
        for (int i = 0; i < n; i++) {
            struct dec_pkt p;
            if (pk[i].linktype != CAP_LINK_ETHERNET ||
                !dec_has_flow(dec_packet(&dc, pk[i].linktype, pk[i].data, pk[i].caplen, &p)))
                continue;
            uint32_t want = dispatch_of_pkt(&p), quick, want_bpf = want;
            unsigned v = fanout_value(pk[i].data, pk[i].caplen);
            packets++;
            /* The BPF program sends an ICMP unreachable to the worker of the
             * flow it quotes. */
            if (((p.proto == 1 && p.icmp_type == 3) || (p.proto == 58 && p.icmp_type == 1)) &&
                p.payload_len) {
                static struct dec_cfg plain = { .max_depth = 1 };
                struct dec_pkt q;
                memset(&q, 0, sizeof(q));
                if (dec_ip(&plain, p.payload, p.payload_len, &q) == DEC_OK && q.family == p.family) {
                    want_bpf = dispatch_of_pkt(&q);
                    icmp_quoted++;
                }
            }
            if (v != want_bpf && !bpf_off++) {
                fprintf(stderr, "\n  BPF %u, decoder %u: proto %u tunnels %u:", v, want, p.proto,
                        p.tunnels);
                for (unsigned q = 0; q < pk[i].caplen && q < 160; q++)
                    fprintf(stderr, "%s%02x", q % 32 ? "" : "\n   ", pk[i].data[q]);
                fputc('\n', stderr);
            }
            if (dispatch_peek(&dc, pk[i].linktype, pk[i].data, pk[i].caplen, &quick) ==
                DISPATCH_SURE) {
                peek_sure++;
                if (quick != want && !peek_off++)
                    fprintf(stderr, "\n  peek %u, decoder %u: proto %u tunnels %u\n", quick, want,
                            p.proto, p.tunnels);
            }
            uint64_t k = flow_hash(&p, 1) | 1;
            for (uint32_t j = (uint32_t)k & (SLOTS - 1);; j = (j + 1) & (SLOTS - 1)) {
                if (!keys[j]) {
                    keys[j] = k;
                    flows++;
                    per2[want % 2]++;
                    per4[want % 4]++;
                    break;
                }
                if (keys[j] == k)
                    break;
            }
        }
        s->ops->release(s, pk, (unsigned)n);
    }
    s->ops->close(s);
    free(keys);
    fprintf(stderr, " [%s: %d flows, %d packets (%d sure at a glance, %d ICMP quotes), BPF off %d, "
            "glance off %d; 2 workers %d/%d, 4 workers %d/%d/%d/%d]", strrchr(path, '/') + 1, flows,
            packets, peek_sure, icmp_quoted, bpf_off, peek_off, per2[0], per2[1], per4[0], per4[1], per4[2], per4[3]);
    CU_ASSERT_EQUAL(bpf_off, 0);
    CU_ASSERT_EQUAL(peek_off, 0);
    if (glance_most)                    /* the glance usually suffices */
        CU_ASSERT(peek_sure * 2 > packets);
    CU_ASSERT(flows >= min_flows);
    if (flows >= 100) {                 /* no worker gets less than a tenth */
        for (int w = 0; w < 2; w++)
            CU_ASSERT(per2[w] * 10 >= flows);
        for (int w = 0; w < 4; w++)
            CU_ASSERT(per4[w] * 10 >= flows);
    }
}

static void test_fanout_prog(void)
{
    static const uint16_t vx[] = { 4789 }, gv[] = { 6081 };
    fprog_n = cap_fanout_prog(fprog, BPF_MAXINSNS, 0, vx, 1, gv, 1);
    CU_ASSERT_FATAL(fprog_n > 0);
    /* The most ports it takes still assemble (jumps within 255). */
    uint16_t many[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    struct sock_filter big[BPF_MAXINSNS];
    CU_ASSERT(cap_fanout_prog(big, BPF_MAXINSNS, 0, many, 8, many, 8) > 0);
    CU_ASSERT(cap_fanout_prog(big, 10, 0, vx, 1, gv, 1) < 0);       /* no room: refused */

    /* Both directions of a mirrored TCP flow, from two mirror sessions with
     * different outer ports: one value. Another flow: (very likely) another. */
    uint8_t in[256], a[512], b[512], c[512];
    size_t il = pb_inner_tcp(in, 0, 0x0a000001, 0x0a000002, 40000, 443, 0x02, 10);
    size_t al = pb_mirror(a, in, il, 7);
    il = pb_inner_tcp(in, 0, 0x0a000002, 0x0a000001, 443, 40000, 0x12, 0);
    size_t bl = pb_mirror(b, in, il, 9);
    pb_u16(b, 14 + 20, 51515);          /* another outer source port */
    CU_ASSERT_EQUAL(fanout_value(a, al), fanout_value(b, bl));
    il = pb_inner_tcp(in, 0, 0x0a000001, 0x0a000003, 40001, 443, 0x02, 10);
    size_t cl = pb_mirror(c, in, il, 7);
    CU_ASSERT_NOT_EQUAL(fanout_value(a, al), fanout_value(c, cl));
    /* Plain IPv6 UDP, both directions. */
    uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, d6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
    size_t o = pb_eth(a, 0, 0x86dd);
    o = pb_ipv6(a, o, 17, s6, d6, 8 + 4);
    o = pb_udp(a, o, 5353, 53, 4);
    al = o + 4;
    o = pb_eth(b, 0, 0x86dd);
    o = pb_ipv6(b, o, 17, d6, s6, 8 + 4);
    o = pb_udp(b, o, 53, 5353, 4);
    bl = o + 4;
    CU_ASSERT_EQUAL(fanout_value(a, al), fanout_value(b, bl));
    CU_ASSERT_NOT_EQUAL(fanout_value(a, al), 0);
    /* An ICMPv6 port unreachable goes where the UDP probe it quotes goes
     * (RFC 4443 3.1: type 1, code 4, 4 unused bytes, then the packet). */
    o = pb_eth(c, 0, 0x86dd);
    o = pb_ipv6(c, o, 58, d6, s6, 8 + 40 + 8 + 4);
    c[o] = 1, c[o + 1] = 4, memset(c + o + 2, 0, 6);
    o = pb_ipv6(c, o + 8, 17, s6, d6, 8 + 4);
    o = pb_udp(c, o, 5353, 53, 4);
    cl = o + 4;
    CU_ASSERT_EQUAL(fanout_value(c, cl), fanout_value(a, al));
    c[14 + 40] = 3;                     /* time exceeded: its own addresses */
    CU_ASSERT_NOT_EQUAL(fanout_value(c, cl), fanout_value(a, al));
    /* Garbage and short frames: no crash, some value. */
    memset(c, 0x45, sizeof(c));
    (void)fanout_value(c, sizeof(c));
    (void)fanout_value(c, 15);

    /* Real captures: the demo (VXLAN, GENEVE around VXLAN, VLAN, IPv6,
     * mirror copies from two sessions), generated scenarios. */
    fanout_check_capture("../pcaps/demo/mirror-demo.pcap", 50, 1);
    fanout_check_capture("../pcaps/busy-server/input.pcap", 1000, 1);
    fanout_check_capture("../pcaps/dns-tunnel/input.pcap", 100, 1);
    fanout_check_capture("../pcaps/icmp-sweep/input.pcap", 50, 0);     /* ICMP: decoded */
    fanout_check_capture("../pcaps/udp-scan/input.pcap", 100, 0);
    /* Others' captures with unusual encapsulations (skipped when absent). */
    static const char *const odd[] = {
        "zeek/geneve/geneve.pcap", "zeek/geneve-vxlan-dns-truncated/geneve-vxlan-dns-truncated.pcap",
        "zeek/q-in-q/q-in-q.pcap", "zeek/vxlan-triple/vxlan-triple-v2.pcap",
        "zeek/vxlan-encapsulated-http/vxlan-encapsulated-http.pcap", "ndpi/vxlan/vxlan.pcap",
        "zeek/ipv6-fragmented-dns/ipv6-fragmented-dns.pcap",
    };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", SHARED_PCAPS, odd[i]);
        if (access(path, R_OK) == 0)
            fanout_check_capture(path, 1, 0);
    }
}

/* Live capture on loopback: needs CAP_NET_RAW, so it is skipped without. */
static void test_live_loopback(void)
{
    char err[512];
    struct cap_pcap_opts o = {
        .iface = "lo", .snaplen = 2048, .buffer_mb = 4, .promiscuous = 0,
        .immediate = 1, .timeout_ms = 50, .bpf = "udp and dst port 40999",
        .fanout_group = 4242,
    };
    struct cap_source *s = cap_pcap_open_live(&o, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "\n  (live test skipped: %s)\n", err);
        return;
    }
    CU_ASSERT_STRING_EQUAL(s->ops->name, "pcap");

    /* Nothing yet: returns 0 after about the timeout. */
    struct cap_pkt pk[64];
    int n = s->ops->rx_burst(s, pk, 64);
    CU_ASSERT(n == 0 || n > 0);

    /* A breakloop wakes an idle rx_burst at once. */
    struct timespec t0, t1;
    cap_pcap_breakloop(s);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, 64), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CU_ASSERT((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 45);
    /* ...and is consumed: the next idle call waits for the timeout again. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_EQUAL(s->ops->rx_burst(s, pk, 64), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CU_ASSERT((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 20);

    int us = socket(AF_INET, SOCK_DGRAM, 0);
    CU_ASSERT_FATAL(us >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(40999) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 5; i++)
        sendto(us, "mirrorguard", 11, 0, (struct sockaddr *)&sa, sizeof(sa));
    close(us);

    int got = 0;
    for (int tries = 0; tries < 40 && got < 5; tries++) {
        n = s->ops->rx_burst(s, pk, 64);
        CU_ASSERT_FATAL(n >= 0);
        for (int i = 0; i < n; i++) {
            CU_ASSERT_EQUAL(pk[i].linktype, CAP_LINK_ETHERNET);
            CU_ASSERT(pk[i].caplen >= 14 + 20 + 8 + 11);
            CU_ASSERT(memcmp(pk[i].data + pk[i].caplen - 11, "mirrorguard", 11) == 0);
            CU_ASSERT(pk[i].ts_ns > 1000000000ull * 1000000000ull);
        }
        got += n;
        s->ops->release(s, pk, (unsigned)n);
    }
    CU_ASSERT_EQUAL(got, 5);
    struct cap_stats st;
    s->ops->stats(s, &st);
    CU_ASSERT_EQUAL(st.pkts, 5);
    s->ops->close(s);

    /* A bad filter is an error naming the interface. */
    o.bpf = "this is not bpf";
    o.fanout_group = 0;
    CU_ASSERT(cap_pcap_open_live(&o, err, sizeof(err)) == NULL);
    CU_ASSERT(strstr(err, "lo:") && strstr(err, "BPF"));
}

int test_cap_register(void)
{
    CU_pSuite s = CU_add_suite("cap", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "pcap: four variants, bursts, mmap, libpcap", test_pcap_variants) ||
        !CU_add_test(s, "pcap: records cut by the read buffer's end", test_pcap_refill) ||
        !CU_add_test(s, "pcap: read in parts by two readers in turn", test_pcap_parts) ||
        !CU_add_test(s, "pcapng: both orders, sections, SPB, PB, skips", test_pcapng_both_orders) ||
        !CU_add_test(s, "pcapng: if_tsresol and if_tsoffset", test_pcapng_tsresol) ||
        !CU_add_test(s, "pcapng: agrees with libpcap", test_pcapng_vs_libpcap) ||
        !CU_add_test(s, "pcap: every truncation point", test_truncation_pcap) ||
        !CU_add_test(s, "pcapng: every truncation point", test_truncation_pcapng) ||
        !CU_add_test(s, "bad records end the file", test_bad_records) ||
        !CU_add_test(s, "bad headers are refused", test_bad_headers) ||
        !CU_add_test(s, "open errors name the file", test_open_errors) ||
        !CU_add_test(s, "real captures: named", test_real_named) ||
        !CU_add_test(s, "real captures: all agree with libpcap", test_real_all) ||
        !CU_add_test(s, "fanout program: one value per flow, spread", test_fanout_prog) ||
        !CU_add_test(s, "live loopback, fanout, breakloop", test_live_loopback))
        return -1;
    return 0;
}
