/* capture/cap_file.c - bounds-checked pcap and pcapng reader.
 *
 * This is the replay fast path. A classic pcap is read with read() into one
 * 4 MB buffer that stays in the cache (measured cheaper in this VM than
 * touching every packet through a mapping), or, by several replay workers,
 * in parts with pread() (cap_file_parts, at the end); a pcapng file is
 * mapped read-only (its blocks refer back to interface descriptions). The
 * packet descriptors handed out by rx_burst() point straight into the
 * buffer or the mapping, so a packet costs a few loads and stores; its data
 * stays valid until the next rx_burst() (pages far behind the read position
 * are given back, see file_rx_burst). libpcap's pcap_next_ex() goes through a
 * per-packet callback and a copy and tops out at a few million packets per
 * second; this reader is meant to run at well over ten million.
 *
 * Formats:
 *
 *   - classic pcap, all four variants: magic a1b2c3d4 (microseconds) and
 *     a1b23c4d (nanoseconds), each written in either byte order. The link
 *     type comes from the file header, masked to its low 16 bits (the upper
 *     bits may carry the FCS length, see the pcap spec).
 *   - pcapng: any number of sections, each in its own byte order, Interface
 *     Description Blocks (per-interface link type, snaplen, if_tsresol as a
 *     power of 10 or of 2, if_tsoffset), Enhanced Packet Blocks, Simple
 *     Packet Blocks and the obsolete Packet Block. Every other block type is
 *     skipped and counted in skipped_blocks.
 *
 * Hostile input is the normal case. Every field is read byte by byte with an
 * explicit byte order (never by casting file bytes to a struct), and every
 * length is checked against the bytes that are left before anything behind
 * it is touched, so no input can make us read outside [buf, buf + len).
 * A record that cannot be trusted (a torn record at the end of the file, a
 * captured length above CAP_FILE_MAX_CAPLEN or beyond the bytes that are
 * left, a pcapng block length that is too small, not a multiple of 4, past
 * the end of the file or that disagrees with its trailing copy) ends the
 * file: the complete records before it are delivered, the bad one is counted
 * in bad_records, its reason is kept for last_error(), and the source then
 * reports CAP_EOF. Once framing is lost there is nothing safe to resync on.
 * A pcapng packet that references an interface the section never described
 * is skipped and counted in bad_records, since the framing is still intact.
 *
 * Link types: cap.h promises CAP_LINK_* values in cap_pkt.linktype, so a
 * classic pcap file whose link type we do not decode is refused at open. In
 * pcapng the link type is per interface; packets of an interface whose link
 * type we do not decode are skipped and counted in skipped_blocks, and a
 * file whose first section only describes such interfaces is refused at
 * open (the common "this is an 802.11 capture" case gets a clear error).
 * The raw IP link types 12 and 14 that some old writers put into files are
 * reported as CAP_LINK_RAW.
 *
 * Mapped files: if another process truncates the file while it is mapped,
 * touching the lost pages raises SIGBUS. We do not try to catch that; replay
 * inputs are expected to be complete files. */
#define _GNU_SOURCE
#include "cap.h"
#include "bigmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest captured length we accept in a record. It is libpcap's own upper
 * bound (MAXIMUM_SNAPLEN); anything above it is corruption, not a packet. */
#define CAP_FILE_MAX_CAPLEN 262144u

/* Upper bound on pcapng interfaces per section. The table grows on demand
 * (an allocation per IDB, never per packet); the cap keeps a hostile file
 * made of IDBs from eating memory. Packets of interfaces beyond it are
 * skipped like packets of an undescribed interface. */
#define CAP_NG_MAX_IFACES 65536u

/* Software prefetch distance. Each record header depends on the length in
 * the previous one, so the walk is a chain of dependent loads; asking for
 * the bytes a few KB ahead keeps that chain out of DRAM latency (measured:
 * about 20% less CPU per packet on 100-byte packets). Only issued while the
 * address is still inside the buffer. */
#define CAP_FILE_PREFETCH 4096

/* How far ahead mapped files get their page tables filled. */
#define CAP_FILE_POP_WINDOW ((size_t)4 << 20)
#define CAP_FILE_SBUF   ((size_t)4 << 20)   /* stream buffer: > the largest record (1 and 2 MB measured slower) */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22           /* Linux 5.14; older headers lack it */
#endif

#define PCAP_HDR_LEN     24
#define PCAP_REC_LEN     16

#define NG_BT_SHB        0x0A0D0D0Au
#define NG_BT_IDB        0x00000001u
#define NG_BT_PB         0x00000002u
#define NG_BT_SPB        0x00000003u
#define NG_BT_EPB        0x00000006u
#define NG_BOM           0x1A2B3C4Du
#define NG_SHB_MIN       28u     /* type, len, BOM, versions, section length, trailer */
#define NG_IDB_MIN       20u     /* type, len, linktype, reserved, snaplen, trailer */
#define NG_EPB_MIN       32u     /* type, len, 5 fields, trailer */
#define NG_PB_MIN        32u
#define NG_SPB_MIN       16u     /* type, len, original length, trailer */

#define NG_OPT_ENDOFOPT  0
#define NG_OPT_TSRESOL   9
#define NG_OPT_TSOFFSET  14

enum { FMT_PCAP = 1, FMT_PCAPNG = 2 };

/* How an interface turns raw pcapng timestamp units into nanoseconds. */
enum { TS_MUL = 0, TS_DIV, TS_POW2, TS_ZERO };

struct ng_iface {
    uint64_t factor;        /* TS_MUL / TS_DIV: power of ten */
    uint64_t off_ns;        /* if_tsoffset in ns (wraps like the file does) */
    uint32_t snaplen;       /* 0: no limit */
    uint16_t linktype;      /* CAP_LINK_* */
    uint8_t  known;         /* linktype is one we decode */
    uint8_t  mode;          /* TS_* */
    uint8_t  shift;         /* TS_POW2: binary digits of the fraction */
};

struct cap_file {
    struct cap_source base;             /* must be first */
    const uint8_t *buf;
    size_t len;
    size_t off;                         /* next unread byte */
    void *map;                          /* non-NULL: we own an mmap of maplen */
    size_t maplen;
    int fmt;
    int be;                             /* pcap: file is big endian / pcapng: section is */
    int nsec;                           /* pcap: nanosecond timestamps */
    int eof;                            /* CAP_EOF from now on */
    uint16_t linktype;                  /* pcap */
    uint32_t snaplen;                   /* pcap */
    struct ng_iface *ifs;               /* pcapng: interfaces of the current section */
    uint32_t nifs, capifs;
    size_t pop_to;                      /* mmap: page tables filled up to here */
    size_t drop_to;                     /* mmap: pages before this were given back */
    /* Stream mode (classic pcap files): read() into sbuf instead of mmap. */
    uint8_t *sbuf;
    int sfd;
    int more;                           /* the file has bytes beyond buf[len] */
    size_t sbase;                       /* file offset of buf[0] */
    int broken;                         /* a bad record ended the file (torn()) */
    /* Parts (cap_file_parts(), stream mode only): buf holds file bytes
     * [sbase, sbase + len) of the part being read; its records are those
     * that start before buf[pend]. */
    int part_mode;
    uint64_t fsize;                     /* bytes in the file */
    uint32_t part_bytes;
    size_t pend;
    size_t part_off;                    /* where the part's first record is in buf */
    struct cap_stats part_st;           /* counters when the part began (rewind) */
    struct cap_stats st;
    char name[256];
    char err[256 + 256 + 8];           /* name + ": " + message */
};

/* ------------------------------------------------------------------------ */
/* Byte-order helpers. Byte-wise assembly compiles to one load (plus bswap)
 * on the targets we care about and has no alignment or aliasing hazards. */

static inline uint16_t rd16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint16_t rd16be(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint32_t rd32be(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
           (uint32_t)p[3];
}
static inline uint16_t rd16(const uint8_t *p, int be) { return be ? rd16be(p) : rd16le(p); }
static inline uint32_t rd32(const uint8_t *p, int be) { return be ? rd32be(p) : rd32le(p); }
static inline uint64_t rd64(const uint8_t *p, int be)
{
    uint64_t a = rd32(p, be), b = rd32(p + 4, be);
    return be ? (a << 32) | b : (b << 32) | a;
}

/* ------------------------------------------------------------------------ */

static void set_err(struct cap_file *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(struct cap_file *f, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(f->err, sizeof(f->err), "%s: %s", f->name, msg);
}

/* A record we cannot trust: count it, remember why, stop reading. */
static void torn(struct cap_file *f, size_t at, const char *why)
{
    f->st.bad_records++;
    f->broken = 1;
    set_err(f, "%s at offset %zu; stopping", why, at + f->sbase);
    f->off = f->len;
    f->eof = 1;
}

/* Map a file's link type to ours. Returns -1 for one we do not decode. */
static int map_linktype(uint32_t lt)
{
    switch (lt) {
    case CAP_LINK_NULL: case CAP_LINK_ETHERNET: case CAP_LINK_RAW:
    case CAP_LINK_LOOP: case CAP_LINK_SLL: case CAP_LINK_SLL2:
    case CAP_LINK_IPV4: case CAP_LINK_IPV6:
        return (int)lt;
    case 12: case 14:           /* DLT_RAW as written by old BSD/Linux libpcaps */
        return CAP_LINK_RAW;
    default:
        return -1;
    }
}

/* ------------------------------------------------------------------------ */
/* Classic pcap. The loop is written once and instantiated for each byte
 * order and timestamp unit with constant arguments, so the compiler folds
 * the byte-order choice away and the per-packet work is four loads, two
 * compares and the descriptor stores. */

static inline __attribute__((always_inline))
int pcap_burst(struct cap_file *f, struct cap_pkt *pkts, unsigned max,
               const int be, const int nsec)
{
    const uint8_t *b = f->buf;
    const size_t len = f->len;
    size_t off = f->off;
    const uint16_t lt = f->linktype;
    uint64_t bytes = 0;
    unsigned n = 0;

    while (n < max) {
        size_t left = len - off;
        if (left < PCAP_REC_LEN) {
            f->off = off;
            if (f->more)                /* stream mode: refill, then go on */
                goto out;
            if (left)
                torn(f, off, "torn pcap record header");
            else
                f->eof = 1;
            goto out;
        }
        const uint8_t *h = b + off;
        if (left > CAP_FILE_PREFETCH)
            __builtin_prefetch(h + CAP_FILE_PREFETCH);
        uint32_t sec  = rd32(h, be);
        uint32_t frac = rd32(h + 4, be);
        uint32_t cl   = rd32(h + 8, be);
        uint32_t wl   = rd32(h + 12, be);
        if (cl > CAP_FILE_MAX_CAPLEN || cl > left - PCAP_REC_LEN) {
            f->off = off;
            if (f->more && cl <= CAP_FILE_MAX_CAPLEN)
                goto out;               /* the rest of the record is not read yet */
            torn(f, off, cl > CAP_FILE_MAX_CAPLEN ? "pcap caplen above 262144"
                                                   : "torn pcap record");
            goto out;
        }
        struct cap_pkt *p = &pkts[n++];
        p->data = h + PCAP_REC_LEN;
        p->caplen = cl;
        p->wirelen = wl < cl ? cl : wl;     /* keep wirelen >= caplen */
        p->ts_ns = (uint64_t)sec * 1000000000u + (nsec ? frac : (uint64_t)frac * 1000u);
        p->linktype = lt;
        p->_pad = 0;
        p->_pad2 = 0;
        bytes += cl;
        off += PCAP_REC_LEN + (size_t)cl;
    }
    f->off = off;
out:
    f->st.pkts += n;
    f->st.bytes += bytes;
    return (int)n;
}

static int pcap_le_us(struct cap_file *f, struct cap_pkt *p, unsigned m) { return pcap_burst(f, p, m, 0, 0); }
static int pcap_le_ns(struct cap_file *f, struct cap_pkt *p, unsigned m) { return pcap_burst(f, p, m, 0, 1); }
static int pcap_be_us(struct cap_file *f, struct cap_pkt *p, unsigned m) { return pcap_burst(f, p, m, 1, 0); }
static int pcap_be_ns(struct cap_file *f, struct cap_pkt *p, unsigned m) { return pcap_burst(f, p, m, 1, 1); }

/* ------------------------------------------------------------------------ */
/* pcapng */

static uint64_t pow10u(unsigned e)      /* e <= 19 */
{
    uint64_t v = 1;
    while (e--)
        v *= 10;
    return v;
}

/* Raw timestamp units to ns since the epoch. Unsigned arithmetic: a hostile
 * timestamp wraps instead of invoking undefined behaviour. */
static inline uint64_t ng_ts(const struct ng_iface *i, uint64_t t)
{
    switch (i->mode) {
    case TS_MUL:
        return t * i->factor + i->off_ns;
    case TS_DIV:
        return t / i->factor + i->off_ns;
    case TS_POW2: {
        unsigned r = i->shift;                  /* 1..127 */
        uint64_t sec = r >= 64 ? 0 : t >> r;
        uint64_t frac = r >= 64 ? t : t & ((UINT64_C(1) << r) - 1);
        /* Keep at most 30 fraction bits (< 1 ns) so frac * 1e9 fits. */
        if (r > 30) {
            unsigned drop = r - 30;
            frac = drop >= 64 ? 0 : frac >> drop;
            r = 30;
        }
        return sec * 1000000000u + ((frac * 1000000000u) >> r) + i->off_ns;
    }
    default:
        return i->off_ns;
    }
}

/* Parse an IDB body (after type and length, before the trailer) into *i.
 * The options are read leniently: a malformed option ends the option list
 * and the interface keeps what was parsed so far, since the block framing
 * itself is intact. */
static void ng_parse_idb(const uint8_t *body, uint32_t blen, int be, struct ng_iface *i)
{
    uint32_t lt = rd16(body, be);
    int m = map_linktype(lt);
    memset(i, 0, sizeof(*i));
    i->linktype = m < 0 ? (uint16_t)lt : (uint16_t)m;
    i->known = m >= 0;
    i->snaplen = rd32(body + 4, be);
    i->mode = TS_MUL;
    i->factor = 1000;                   /* default resolution: microseconds */

    uint32_t o = 8;
    while (blen - o >= 4) {
        uint16_t code = rd16(body + o, be);
        uint16_t olen = rd16(body + o + 2, be);
        o += 4;
        if (code == NG_OPT_ENDOFOPT || olen > blen - o)
            break;
        const uint8_t *v = body + o;
        if (code == NG_OPT_TSRESOL && olen >= 1) {
            unsigned e = v[0] & 0x7f;
            if (v[0] & 0x80) {
                if (e == 0) {
                    i->mode = TS_MUL;
                    i->factor = 1000000000u;
                } else {
                    i->mode = TS_POW2;
                    i->shift = (uint8_t)e;
                }
            } else if (e <= 9) {
                i->mode = TS_MUL;
                i->factor = pow10u(9 - e);
            } else if (e - 9 <= 19) {
                i->mode = TS_DIV;
                i->factor = pow10u(e - 9);
            } else {
                i->mode = TS_ZERO;      /* finer than 1e-28 s: below 1 ns forever */
            }
        } else if (code == NG_OPT_TSOFFSET && olen >= 8) {
            i->off_ns = rd64(v, be) * 1000000000u;
        }
        uint32_t padded = ((uint32_t)olen + 3u) & ~3u;
        if (padded > blen - o)
            break;
        o += padded;
    }
}

/* Validate the SHB at off (the caller knows it starts with the SHB type).
 * Returns the block length, or 0 with *why set when it is unusable. The
 * byte order comes from the byte-order magic, which is why the length can
 * only be read after it. */
static uint32_t ng_check_shb(const uint8_t *p, size_t left, int *be, const char **why)
{
    if (left < NG_SHB_MIN) {
        *why = "torn pcapng section header";
        return 0;
    }
    uint32_t bom = rd32le(p + 8);
    if (bom == NG_BOM)
        *be = 0;
    else if (bom == 0x4D3C2B1Au)
        *be = 1;
    else {
        *why = "bad pcapng byte-order magic";
        return 0;
    }
    uint32_t bl = rd32(p + 4, *be);
    if (bl < NG_SHB_MIN || (bl & 3) || bl > left) {
        *why = bl > left ? "torn pcapng section header" : "bad pcapng section header length";
        return 0;
    }
    if (rd32(p + bl - 4, *be) != bl) {
        *why = "pcapng section header trailer mismatch";
        return 0;
    }
    if (rd16(p + 12, *be) != 1) {
        *why = "unsupported pcapng major version";
        return 0;
    }
    return bl;
}

static int ng_add_iface(struct cap_file *f, const uint8_t *body, uint32_t blen)
{
    if (f->nifs == f->capifs) {
        if (f->capifs >= CAP_NG_MAX_IFACES)
            return -1;
        uint32_t nc = f->capifs ? f->capifs * 2 : 8;
        struct ng_iface *n = realloc(f->ifs, nc * sizeof(*n));
        if (!n)
            return -1;
        f->ifs = n;
        f->capifs = nc;
    }
    ng_parse_idb(body, blen, f->be, &f->ifs[f->nifs++]);
    return 0;
}

/* The pcapng loop. Packet blocks are handled inline; the rare structural
 * blocks (SHB, IDB) go through small helpers, which is fine since they are
 * not per packet. */
static int ng_burst(struct cap_file *f, struct cap_pkt *pkts, unsigned max)
{
    const uint8_t *b = f->buf;
    const size_t len = f->len;
    size_t off = f->off;
    uint64_t bytes = 0;
    unsigned n = 0;

    while (n < max) {
        size_t left = len - off;
        if (left < 12) {
            f->off = off;
            if (left)
                torn(f, off, "torn pcapng block");
            else
                f->eof = 1;
            goto out;
        }
        const uint8_t *h = b + off;
        if (left > CAP_FILE_PREFETCH)
            __builtin_prefetch(h + CAP_FILE_PREFETCH);
        const int be = f->be;
        uint32_t bt = rd32(h, be);

        if (bt == NG_BT_SHB) {
            const char *why = NULL;
            int nbe = be;
            uint32_t bl = ng_check_shb(h, left, &nbe, &why);
            if (!bl) {
                f->off = off;
                torn(f, off, why);
                goto out;
            }
            f->be = nbe;
            f->nifs = 0;                /* interfaces are per section */
            off += bl;
            continue;
        }

        uint32_t bl = rd32(h + 4, be);
        if (bl < 12 || (bl & 3) || bl > left) {
            f->off = off;
            torn(f, off, bl > left ? "torn pcapng block" : "bad pcapng block length");
            goto out;
        }
        if (rd32(h + bl - 4, be) != bl) {
            f->off = off;
            torn(f, off, "pcapng block trailer mismatch");
            goto out;
        }
        const uint8_t *body = h + 8;
        uint32_t blen = bl - 12;        /* bytes between length and trailer */

        uint32_t ifid, cl, wl;
        uint64_t ts;
        const uint8_t *data;
        if (bt == NG_BT_EPB || bt == NG_BT_PB) {
            if (bl < NG_EPB_MIN) {
                f->off = off;
                torn(f, off, "pcapng packet block too short");
                goto out;
            }
            ifid = bt == NG_BT_EPB ? rd32(body, be) : rd16(body, be);
            ts = ((uint64_t)rd32(body + 4, be) << 32) | rd32(body + 8, be);
            cl = rd32(body + 12, be);
            wl = rd32(body + 16, be);
            if (cl > CAP_FILE_MAX_CAPLEN || cl > blen - 20) {
                f->off = off;
                torn(f, off, cl > CAP_FILE_MAX_CAPLEN ? "pcapng caplen above 262144"
                                                       : "pcapng caplen beyond its block");
                goto out;
            }
            data = body + 20;
        } else if (bt == NG_BT_SPB) {
            if (bl < NG_SPB_MIN) {
                f->off = off;
                torn(f, off, "pcapng simple packet block too short");
                goto out;
            }
            ifid = 0;
            ts = 0;
            wl = rd32(body, be);
            cl = blen - 4;
            if (cl > wl)
                cl = wl;                /* the rest is padding */
            if (f->nifs && f->ifs[0].snaplen && cl > f->ifs[0].snaplen)
                cl = f->ifs[0].snaplen;
            if (cl > CAP_FILE_MAX_CAPLEN) {
                f->off = off;
                torn(f, off, "pcapng caplen above 262144");
                goto out;
            }
            data = body + 4;
        } else if (bt == NG_BT_IDB) {
            if (bl < NG_IDB_MIN) {
                f->off = off;
                torn(f, off, "pcapng interface block too short");
                goto out;
            }
            if (ng_add_iface(f, body, blen) < 0) {
                f->st.bad_records++;
                set_err(f, "too many pcapng interfaces at offset %zu", off);
            }
            off += bl;
            continue;
        } else {
            f->st.skipped_blocks++;     /* NRB, ISB, DSB, custom, unknown */
            off += bl;
            continue;
        }

        off += bl;
        if (ifid >= f->nifs) {
            f->st.bad_records++;
            set_err(f, "pcapng packet for undescribed interface %u at offset %zu",
                    ifid, off - bl);
            continue;
        }
        const struct ng_iface *ifc = &f->ifs[ifid];
        if (!ifc->known) {
            f->st.skipped_blocks++;
            continue;
        }
        struct cap_pkt *p = &pkts[n++];
        p->data = data;
        p->caplen = cl;
        p->wirelen = wl < cl ? cl : wl;
        p->ts_ns = bt == NG_BT_SPB ? 0 : ng_ts(ifc, ts);
        p->linktype = ifc->linktype;
        p->_pad = 0;
        p->_pad2 = 0;
        bytes += cl;
    }
    f->off = off;
out:
    f->st.pkts += n;
    f->st.bytes += bytes;
    return (int)n;
}

/* ------------------------------------------------------------------------ */
/* ops */

/* Stream mode: refill when the next record is not whole in the buffer,
 * moving that piece of it to the front (so what moves is less than one
 * record; refilling whenever fewer than 256 KB were left moved ~250 KB of
 * whole records per 4 MB read: 1.6% more worker CPU per packet, measured).
 * Packets of earlier bursts are invalid afterwards, as cap.h allows. */
static void stream_refill(struct cap_file *f)
{
    if (!f->more)
        return;
    size_t left = f->len - f->off;
    if (left >= PCAP_REC_LEN) {
        uint32_t cl = rd32(f->buf + f->off + 8, f->be);
        if (cl > CAP_FILE_MAX_CAPLEN || cl <= left - PCAP_REC_LEN)
            return;                     /* whole (or torn: pcap_burst says so) */
    }
    memmove(f->sbuf, f->sbuf + f->off, left);
    f->sbase += f->off;
    f->off = 0;
    f->len = left;
    while (f->len < CAP_FILE_SBUF) {
        ssize_t r = read(f->sfd, f->sbuf + f->len, CAP_FILE_SBUF - f->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_err(f, "read error: %s", strerror(errno));
            f->more = 0;
            f->st.bad_records++;
            break;
        }
        if (r == 0) {
            f->more = 0;
            break;
        }
        f->len += (size_t)r;
    }
}

/* Read file bytes into buf[len..len+want): 0, or -1 at a read error. A
 * short count means the file ends there (it may have shrunk since it was
 * measured): no more bytes are expected beyond. */
static int part_read(struct cap_file *f, size_t want)
{
    while (want) {
        ssize_t r = pread(f->sfd, f->sbuf + f->len, want, (off_t)(f->sbase + f->len));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_err(f, "read error: %s", strerror(errno));
            return -1;
        }
        if (r == 0) {
            f->fsize = f->sbase + f->len;
            break;
        }
        f->len += (size_t)r;
        want -= (size_t)r;
    }
    f->more = f->sbase + f->len < f->fsize;
    return 0;
}

/* Parts: past the part's end, the part is over; else make the record at
 * off whole in the buffer, reading the rest of it from the next part (at
 * most one record crosses a part's end; pcap_burst() reports a record that
 * cannot be whole). */
static void part_refill(struct cap_file *f)
{
    if (f->off >= f->pend) {
        f->eof = 1;
        return;
    }
    for (int k = 0; k < 2; k++) {       /* the header, then the rest */
        size_t left = f->len - f->off, need = PCAP_REC_LEN;
        if (left >= PCAP_REC_LEN) {
            uint32_t cl = rd32(f->buf + f->off + 8, f->be);
            if (cl > CAP_FILE_MAX_CAPLEN)
                return;
            need += cl;
        }
        if (left >= need || !f->more)
            return;
        if (part_read(f, need - left) < 0) {
            f->st.bad_records++;
            f->broken = 1;
            f->off = f->len;
            f->eof = 1;
            return;
        }
    }
}

static int file_rx_burst(struct cap_source *s, struct cap_pkt *pkts, unsigned max)
{
    struct cap_file *f = (struct cap_file *)s;
    if (f->eof)
        return CAP_EOF;
    if (max == 0)
        return 0;
    if (f->part_mode) {
        part_refill(f);
        if (f->eof)
            return CAP_EOF;
    } else if (f->sbuf) {
        stream_refill(f);
    }
    /* Mapped files: fill the page tables a window ahead in one call instead
     * of taking a page fault every few dozen packets (a fault costs far more
     * than the packets on its page, and even more inside a VM). Once per
     * burst, not per packet; kernels before 5.14 refuse the advice, which
     * merely leaves the faults to happen as before. */
    if (f->map && f->off + CAP_FILE_POP_WINDOW / 2 > f->pop_to && f->pop_to < f->len) {
        size_t from = f->pop_to & ~(size_t)4095;
        size_t to = f->pop_to + CAP_FILE_POP_WINDOW;
        if (to > f->len)
            to = f->len;
        if (madvise((uint8_t *)f->map + from, to - from, MADV_POPULATE_READ) < 0)
            f->pop_to = f->len;         /* not supported: stop asking */
        else
            f->pop_to = to;
    }
    /* Give back the pages of bursts already handed out (their data is valid
     * only until the next rx_burst, see cap.h): a replay of a 2 GB file then
     * keeps a few MB resident instead of the whole file, and the page tables
     * stay small. The page cache keeps the file; only our mapping shrinks. */
    if (f->map && f->off > f->drop_to + 2 * CAP_FILE_POP_WINDOW) {
        size_t to = (f->off - CAP_FILE_POP_WINDOW) & ~(size_t)4095;
        if (to > f->drop_to) {
            (void)madvise((uint8_t *)f->map + f->drop_to, to - f->drop_to, MADV_DONTNEED);
            f->drop_to = to;
        }
    }
    int n;
    if (f->fmt == FMT_PCAP) {
        if (f->be)
            n = f->nsec ? pcap_be_ns(f, pkts, max) : pcap_be_us(f, pkts, max);
        else
            n = f->nsec ? pcap_le_ns(f, pkts, max) : pcap_le_us(f, pkts, max);
    } else {
        n = ng_burst(f, pkts, max);
    }
    /* Packets first, CAP_EOF on the next call. */
    if (n == 0 && f->eof)
        return CAP_EOF;
    return n;
}

static void file_release(struct cap_source *s, struct cap_pkt *pkts, unsigned n)
{
    (void)s; (void)pkts; (void)n;       /* nothing to give back per packet */
}

static void file_stats(struct cap_source *s, struct cap_stats *st)
{
    *st = ((struct cap_file *)s)->st;
}

static const char *file_last_error(struct cap_source *s)
{
    return ((struct cap_file *)s)->err;
}

static void file_close(struct cap_source *s)
{
    struct cap_file *f = (struct cap_file *)s;
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->maplen);
    if (f->sbuf) {
        big_free(f->sbuf, CAP_FILE_SBUF);
        close(f->sfd);
    }
    free(f->ifs);
    free(f);
}

static const struct cap_ops file_ops = {
    .name = "file",
    .rx_burst = file_rx_burst,
    .release = file_release,
    .stats = file_stats,
    .last_error = file_last_error,
    .close = file_close,
};

/* ------------------------------------------------------------------------ */
/* open */

/* pcapng open-time check: walk the non-packet blocks that follow the first
 * SHB (bounded) and refuse the file when it describes interfaces and none of
 * them has a link type we decode. Anything odd here is left for rx_burst to
 * report, so this never rejects a file for a reason rx_burst would accept. */
static int ng_first_section_unknown(struct cap_file *f, size_t off, uint32_t *lt)
{
    int seen = 0;
    for (int k = 0; k < 64; k++) {
        size_t left = f->len - off;
        if (left < 12)
            return 0;
        const uint8_t *h = f->buf + off;
        uint32_t bt = rd32(h, f->be), bl = rd32(h + 4, f->be);
        if (bt == NG_BT_SHB || bt == NG_BT_EPB || bt == NG_BT_PB || bt == NG_BT_SPB ||
            bl < 12 || (bl & 3) || bl > left)
            break;
        if (bt == NG_BT_IDB && bl >= NG_IDB_MIN) {
            uint32_t t = rd16(h + 8, f->be);
            if (map_linktype(t) >= 0)
                return 0;
            *lt = t;
            seen = 1;
        }
        off += bl;
    }
    return seen;
}

static int init_source(struct cap_file *f)
{
    const uint8_t *b = f->buf;
    if (f->len == 0) {
        set_err(f, "empty file");
        return -1;
    }
    if (f->len < 4) {
        set_err(f, "not a pcap or pcapng file (too short)");
        return -1;
    }
    uint32_t magic = rd32le(b);
    if (magic == 0xA1B2C3D4u || magic == 0xA1B23C4Du ||
        magic == 0xD4C3B2A1u || magic == 0x4D3CB2A1u) {
        f->fmt = FMT_PCAP;
        f->be = magic == 0xD4C3B2A1u || magic == 0x4D3CB2A1u;
        f->nsec = magic == 0xA1B23C4Du || magic == 0x4D3CB2A1u;
        if (f->len < PCAP_HDR_LEN) {
            set_err(f, "truncated pcap file header");
            return -1;
        }
        uint16_t major = rd16(b + 4, f->be);
        if (major != 2) {
            set_err(f, "unsupported pcap version %u.%u", major, rd16(b + 6, f->be));
            return -1;
        }
        f->snaplen = rd32(b + 16, f->be);
        uint32_t lt = rd32(b + 20, f->be) & 0xFFFFu;   /* upper bits: FCS info */
        int m = map_linktype(lt);
        if (m < 0) {
            set_err(f, "unsupported link type %u", lt);
            return -1;
        }
        f->linktype = (uint16_t)m;
        f->off = PCAP_HDR_LEN;
        return 0;
    }
    if (magic == NG_BT_SHB) {
        f->fmt = FMT_PCAPNG;
        const char *why = NULL;
        int be = 0;
        uint32_t bl = ng_check_shb(b, f->len, &be, &why);
        if (!bl) {
            set_err(f, "not a usable pcapng file (%s)", why);
            return -1;
        }
        f->be = be;
        f->off = bl;
        uint32_t lt = 0;
        if (ng_first_section_unknown(f, bl, &lt)) {
            set_err(f, "unsupported link type %u", lt);
            return -1;
        }
        return 0;
    }
    set_err(f, "not a pcap or pcapng file (magic %02x%02x%02x%02x)", b[0], b[1], b[2], b[3]);
    return -1;
}

static struct cap_file *alloc_source(const char *name)
{
    struct cap_file *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->base.ops = &file_ops;
    snprintf(f->name, sizeof(f->name), "%s", name);
    return f;
}

struct cap_source *cap_file_open_mem(const uint8_t *buf, size_t len,
                                     char *err, size_t errlen)
{
    struct cap_file *f = alloc_source("<memory>");
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "<memory>: out of memory");
        return NULL;
    }
    f->buf = buf;
    f->len = buf ? len : 0;
    if (init_source(f) < 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s", f->err);
        file_close(&f->base);
        return NULL;
    }
    return &f->base;
}

struct cap_source *cap_file_open(const char *path, char *err, size_t errlen)
{
    struct cap_file *f = alloc_source(path ? path : "(null)");
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", path ? path : "(null)");
        return NULL;
    }
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat sb;
    if (fd < 0) {
        set_err(f, "cannot open: %s", path ? strerror(errno) : "no path");
        goto fail;
    }
    if (fstat(fd, &sb) < 0) {
        set_err(f, "cannot stat: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        set_err(f, "not a regular file (use the pcap source for pipes and devices)");
        goto fail;
    }
    if (sb.st_size == 0) {
        set_err(f, "empty file");
        goto fail;
    }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        set_err(f, "file too large to map");
        goto fail;
    }
    f->maplen = (size_t)sb.st_size;
    f->map = mmap(NULL, f->maplen, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        set_err(f, "cannot mmap: %s", strerror(errno));
        goto fail;
    }
    (void)madvise(f->map, f->maplen, MADV_SEQUENTIAL);  /* a hint; failure is harmless */
    f->buf = f->map;
    f->len = f->maplen;
    if (init_source(f) < 0)
        goto fail;
    /* Classic pcap is read sequentially with read() into one buffer that
     * stays hot in the cache: measured here, the kernel's copy costs less
     * than the page-table work and cache misses of touching each packet
     * through a fresh mapping (pcapng keeps the mapping: its blocks refer
     * back to interface descriptions). */
    if (f->fmt == FMT_PCAP && (f->sbuf = big_alloc(CAP_FILE_SBUF)) != NULL) {
        size_t start = f->off;
        munmap(f->map, f->maplen);
        f->map = NULL;
        f->sfd = fd;
        fd = -1;
        if (lseek(f->sfd, (off_t)start, SEEK_SET) < 0) {
            set_err(f, "cannot seek: %s", strerror(errno));
            goto fail;
        }
        (void)posix_fadvise(f->sfd, 0, 0, POSIX_FADV_SEQUENTIAL);
        f->buf = f->sbuf;
        f->len = 0;
        f->off = 0;
        f->sbase = start;
        f->more = 1;
        return &f->base;
    }
    close(fd);
    fd = -1;
    return &f->base;

fail:
    if (fd >= 0)
        close(fd);
    if (err && errlen)
        snprintf(err, errlen, "%s", f->err);
    file_close(&f->base);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Parts: a classic pcap file read by several workers, each its own parts
 * (cap.h). The stream buffer holds one part and the rest of its last
 * record, so a part is at most CAP_FILE_SBUF less the largest record. */

#define PART_MAX_BYTES ((uint32_t)(CAP_FILE_SBUF - CAP_FILE_MAX_CAPLEN - PCAP_REC_LEN))

uint64_t cap_file_parts(struct cap_source *s, uint32_t bytes)
{
    struct cap_file *f = (struct cap_file *)s;
    if (s->ops != &file_ops || f->fmt != FMT_PCAP || !f->sbuf || !bytes || bytes > PART_MAX_BYTES)
        return 0;
    struct stat sb;
    if (fstat(f->sfd, &sb) < 0 || sb.st_size < PCAP_HDR_LEN)
        return 0;
    f->fsize = (uint64_t)sb.st_size;
    f->part_bytes = bytes;
    uint64_t body = f->fsize - PCAP_HDR_LEN;
    return body ? (body + bytes - 1) / bytes : 1;
}

uint64_t cap_file_part_first(struct cap_source *s)
{
    (void)s;
    return PCAP_HDR_LEN;
}

int cap_file_part_load(struct cap_source *s, uint64_t part)
{
    struct cap_file *f = (struct cap_file *)s;
    uint64_t start = PCAP_HDR_LEN + part * f->part_bytes;
    f->part_mode = 1;
    f->sbase = (size_t)start;
    f->len = 0;
    f->off = 0;
    f->pend = 0;
    f->eof = 1;
    if (start >= f->fsize)
        return 0;
    uint64_t end = start + f->part_bytes;
    if (end > f->fsize)
        end = f->fsize;
    if (part_read(f, (size_t)(end - start)) < 0)
        return -1;
    f->pend = f->len;                   /* less than asked if the file shrank since */
    return 0;
}

int cap_file_part_begin(struct cap_source *s, uint64_t first)
{
    struct cap_file *f = (struct cap_file *)s;
    f->part_st = f->st;
    f->broken = 0;
    f->eof = 0;
    /* first < sbase only for a file that is not what it was at open */
    f->part_off = first < f->sbase ? f->pend : (size_t)(first - f->sbase);
    f->off = f->part_off;
    return 0;
}

void cap_file_part_rewind(struct cap_source *s)
{
    struct cap_file *f = (struct cap_file *)s;
    f->st = f->part_st;
    f->broken = 0;
    f->eof = 0;
    f->off = f->part_off;
}

int cap_file_part_end(struct cap_source *s, uint64_t *next)
{
    struct cap_file *f = (struct cap_file *)s;
    *next = (uint64_t)f->sbase + f->off;
    if (f->broken)
        return 0;
    return *next < f->fsize;
}
