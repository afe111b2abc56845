/* capture/cap_pcap.c - libpcap backend: live interfaces and a fallback file
 * reader.
 *
 * Live sources are put in non-blocking mode after activation. rx_burst()
 * drains what libpcap has ready with pcap_next_ex() (up to 'max' packets)
 * and, only when nothing at all is ready, waits in poll() on the capture fd
 * for at most the read timeout. That way a burst never sits in a blocking
 * read while it already holds packets, and an idle interface still returns 0
 * to the worker at least every timeout so it can look at its stop flag.
 * cap_pcap_breakloop() wakes that poll() through an eventfd of our own (and
 * calls pcap_breakloop() for libpcap's own loops).
 *
 * Buffer lifetime: the data pointer pcap_next_ex() returns is valid only
 * until the next call into libpcap for the same handle, so every packet of a
 * burst is copied into a per-source arena allocated once at open, sized for
 * CAP_PCAP_BURST packets of snaplen bytes. A burst therefore holds at most
 * CAP_PCAP_BURST packets, and its data stays valid until the next rx_burst()
 * call (release() is a no-op). Packets are packed one after the other, so a
 * burst of small packets touches only a few cache lines of the arena.
 *
 * Link types are mapped from pcap_datalink() DLT_* values to CAP_LINK_*; an
 * interface or file with a link type we do not decode is refused at open. */
#define _GNU_SOURCE
#include "cap.h"

#include <errno.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#endif

#define CAP_PCAP_BURST      64          /* packets per burst (arena slots) */
#define CAP_PCAP_MAX_SNAP   262144
#define CAP_PCAP_DEF_SNAP   65535
#define CAP_PCAP_DEF_TMO    100         /* ms, when the caller gives none */

struct cap_pcap {
    struct cap_source base;             /* must be first */
    pcap_t *p;
    int live;
    int eof;
    int wakefd;                         /* eventfd for breakloop, -1 if none */
    int timeout_ms;
    int nano;                           /* timestamps in ns (else us) */
    uint16_t linktype;
    uint8_t *arena;
    size_t arena_len;
    struct cap_stats st;
    char name[128];
    char err[PCAP_ERRBUF_SIZE + 256];
};

static void set_err(struct cap_pcap *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(struct cap_pcap *c, const char *fmt, ...)
{
    char msg[PCAP_ERRBUF_SIZE + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One line: libpcap messages occasionally carry a newline. */
    for (char *q = msg; *q; q++)
        if (*q == '\n' || *q == '\r')
            *q = ' ';
    snprintf(c->err, sizeof(c->err), "%s: %s", c->name, msg);
}

/* DLT_* (what pcap_datalink() returns; values differ between platforms for
 * raw IP) to CAP_LINK_*. -1 for link types we do not decode. An if-chain and
 * not a switch because DLT_RAW and DLT_LOOP can collide with the literal
 * values on some platforms. */
static int map_dlt(int dlt)
{
    if (dlt == DLT_EN10MB)
        return CAP_LINK_ETHERNET;
    if (dlt == DLT_RAW || dlt == 12 || dlt == 14 || dlt == 101)
        return CAP_LINK_RAW;
#ifdef DLT_LINUX_SLL
    if (dlt == DLT_LINUX_SLL)
        return CAP_LINK_SLL;
#endif
#ifdef DLT_LINUX_SLL2
    if (dlt == DLT_LINUX_SLL2)
        return CAP_LINK_SLL2;
#endif
    if (dlt == 276)
        return CAP_LINK_SLL2;
    if (dlt == DLT_NULL)
        return CAP_LINK_NULL;
#ifdef DLT_LOOP
    if (dlt == DLT_LOOP)
        return CAP_LINK_LOOP;
#endif
    if (dlt == 108)
        return CAP_LINK_LOOP;
    if (dlt == 228)
        return CAP_LINK_IPV4;
    if (dlt == 229)
        return CAP_LINK_IPV6;
    return -1;
}

static int pcap_rx_burst(struct cap_source *s, struct cap_pkt *pkts, unsigned max)
{
    struct cap_pcap *c = (struct cap_pcap *)s;
    if (c->eof)
        return CAP_EOF;
    if (!c->p)
        return -EBADF;
    if (max > CAP_PCAP_BURST)
        max = CAP_PCAP_BURST;

    unsigned n = 0;
    size_t used = 0;
    int waited = 0;
    while (n < max) {
        struct pcap_pkthdr *hdr;
        const u_char *data;
        int r = pcap_next_ex(c->p, &hdr, &data);
        if (r == 1) {
            uint32_t cl = hdr->caplen;
            if (cl > CAP_PCAP_MAX_SNAP)
                cl = CAP_PCAP_MAX_SNAP;
            size_t need = ((size_t)cl + 15) & ~(size_t)15;
            if (used + cl > c->arena_len) {
                /* Cannot happen: max <= CAP_PCAP_BURST and every slot is
                 * snaplen + 16 bytes. Truncate rather than overrun should
                 * libpcap ever hand us more than the snaplen. */
                cl = (uint32_t)(c->arena_len - used);
                need = cl;
            }
            memcpy(c->arena + used, data, cl);
            struct cap_pkt *p = &pkts[n++];
            p->data = c->arena + used;
            p->caplen = cl;
            p->wirelen = hdr->len < cl ? cl : hdr->len;
            /* tv_usec holds nanoseconds when the handle has nano precision. */
            p->ts_ns = (uint64_t)hdr->ts.tv_sec * 1000000000u +
                       (uint64_t)hdr->ts.tv_usec * (c->nano ? 1u : 1000u);
            p->linktype = c->linktype;
            p->_pad = 0;
            p->_pad2 = 0;
            c->st.pkts++;
            c->st.bytes += cl;
            used += need;
            continue;
        }
        if (r == 0) {                   /* live: nothing ready now */
            if (n || waited || !c->live)
                break;
            waited = 1;
            struct pollfd pf[2];
            int nf = 0;
            int fd = pcap_get_selectable_fd(c->p);
            if (fd >= 0) {
                pf[nf].fd = fd;
                pf[nf].events = POLLIN;
                pf[nf++].revents = 0;
            }
            if (c->wakefd >= 0) {
                pf[nf].fd = c->wakefd;
                pf[nf].events = POLLIN;
                pf[nf++].revents = 0;
            }
            if (nf == 0)
                break;
            int pr = poll(pf, (nfds_t)nf, c->timeout_ms);
            if (pr <= 0)
                break;                  /* timeout or EINTR: report 0 */
            if (c->wakefd >= 0 && (pf[nf - 1].revents & POLLIN)) {
                uint64_t v;
                if (read(c->wakefd, &v, sizeof(v)) < 0) { /* drained */ }
                break;                  /* woken by breakloop */
            }
            continue;
        }
        if (r == PCAP_ERROR_BREAK) {
            if (!c->live) {             /* end of a savefile */
                c->eof = 1;
                return n ? (int)n : CAP_EOF;
            }
            /* live: pcap_breakloop() was called. Consume our own wakeup
             * too, so the next idle call does not return early for it. */
            if (c->wakefd >= 0) {
                uint64_t v;
                if (read(c->wakefd, &v, sizeof(v)) < 0) { /* nothing pending */ }
            }
            break;
        }
        /* PCAP_ERROR: the source is dead (interface gone, file I/O error). */
        set_err(c, "%s", pcap_geterr(c->p));
        if (n)
            break;                      /* deliver what we have, fail next time */
        return -EIO;
    }
    return (int)n;
}

static void pcap_release(struct cap_source *s, struct cap_pkt *pkts, unsigned n)
{
    (void)s; (void)pkts; (void)n;       /* arena is reused by the next rx_burst */
}

static void pcap_stats_op(struct cap_source *s, struct cap_stats *st)
{
    struct cap_pcap *c = (struct cap_pcap *)s;
    if (c->live && c->p) {
        struct pcap_stat ps;
        if (pcap_stats(c->p, &ps) == 0)
            c->st.drops = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
    }
    *st = c->st;
}

static const char *pcap_last_error(struct cap_source *s)
{
    return ((struct cap_pcap *)s)->err;
}

static void pcap_close_op(struct cap_source *s)
{
    struct cap_pcap *c = (struct cap_pcap *)s;
    if (!c)
        return;
    if (c->p)
        pcap_close(c->p);
    if (c->wakefd >= 0)
        close(c->wakefd);
    free(c->arena);
    free(c);
}

static const struct cap_ops pcap_ops = {
    .name = "pcap",
    .rx_burst = pcap_rx_burst,
    .release = pcap_release,
    .stats = pcap_stats_op,
    .last_error = pcap_last_error,
    .close = pcap_close_op,
};

static struct cap_pcap *alloc_source(const char *name)
{
    struct cap_pcap *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->base.ops = &pcap_ops;
    c->wakefd = -1;
    snprintf(c->name, sizeof(c->name), "%s", name ? name : "(null)");
    return c;
}

/* Link type and arena, common to both kinds of open. */
static int finish_open(struct cap_pcap *c)
{
    int dlt = pcap_datalink(c->p);
    int m = map_dlt(dlt);
    if (m < 0) {
        const char *dn = pcap_datalink_val_to_name(dlt);
        set_err(c, "unsupported link type %s (%d)", dn ? dn : "?", dlt);
        return -1;
    }
    c->linktype = (uint16_t)m;
    c->nano = pcap_get_tstamp_precision(c->p) == PCAP_TSTAMP_PRECISION_NANO;
    int snap = pcap_snapshot(c->p);
    if (snap <= 0 || snap > CAP_PCAP_MAX_SNAP)
        snap = CAP_PCAP_MAX_SNAP;
    c->arena_len = (size_t)CAP_PCAP_BURST * ((size_t)snap + 16);
    c->arena = malloc(c->arena_len);
    if (!c->arena) {
        set_err(c, "out of memory for the packet arena");
        return -1;
    }
    return 0;
}

static struct cap_source *fail(struct cap_pcap *c, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", c->err);
    pcap_close_op(&c->base);
    return NULL;
}

struct cap_source *cap_pcap_open_live(const struct cap_pcap_opts *o,
                                      char *err, size_t errlen)
{
    const char *ifname = o && o->iface ? o->iface : "(no interface)";
    struct cap_pcap *c = alloc_source(ifname);
    char eb[PCAP_ERRBUF_SIZE];
    if (!c) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", ifname);
        return NULL;
    }
    if (!o || !o->iface || !*o->iface) {
        set_err(c, "no interface given");
        return fail(c, err, errlen);
    }
    c->live = 1;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : CAP_PCAP_DEF_TMO;

    eb[0] = 0;
    c->p = pcap_create(o->iface, eb);
    if (!c->p) {
        set_err(c, "pcap_create: %s", eb);
        return fail(c, err, errlen);
    }
    int snap = o->snaplen > 0 ? o->snaplen : CAP_PCAP_DEF_SNAP;
    if (snap > CAP_PCAP_MAX_SNAP)
        snap = CAP_PCAP_MAX_SNAP;
    int rc;
    if ((rc = pcap_set_snaplen(c->p, snap)) != 0 ||
        (rc = pcap_set_promisc(c->p, o->promiscuous ? 1 : 0)) != 0 ||
        (rc = pcap_set_timeout(c->p, c->timeout_ms)) != 0 ||
        (o->buffer_mb > 0 &&
         (rc = pcap_set_buffer_size(c->p, o->buffer_mb * 1024 * 1024)) != 0) ||
        (rc = pcap_set_immediate_mode(c->p, o->immediate ? 1 : 0)) != 0) {
        set_err(c, "cannot configure: %s", pcap_statustostr(rc));
        return fail(c, err, errlen);
    }
    /* Nanosecond stamps where the platform has them; the precision we really
     * got is read back after activation, so failure here is harmless. */
    (void)pcap_set_tstamp_precision(c->p, PCAP_TSTAMP_PRECISION_NANO);
    rc = pcap_activate(c->p);
    if (rc < 0) {
        /* Errors that come with details have them in pcap_geterr(). */
        if (rc == PCAP_ERROR || rc == PCAP_ERROR_NO_SUCH_DEVICE ||
            rc == PCAP_ERROR_PERM_DENIED || rc == PCAP_ERROR_PROMISC_PERM_DENIED)
            set_err(c, "cannot activate: %s (%s)", pcap_statustostr(rc), pcap_geterr(c->p));
        else
            set_err(c, "cannot activate: %s", pcap_statustostr(rc));
        return fail(c, err, errlen);
    }
    /* rc > 0 is a warning (e.g. promiscuous mode not supported): go on. */

    if (o->bpf && *o->bpf) {
        struct bpf_program prog;
        if (pcap_compile(c->p, &prog, o->bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
            set_err(c, "bad BPF filter \"%s\": %s", o->bpf, pcap_geterr(c->p));
            return fail(c, err, errlen);
        }
        rc = pcap_setfilter(c->p, &prog);
        pcap_freecode(&prog);
        if (rc < 0) {
            set_err(c, "cannot set BPF filter: %s", pcap_geterr(c->p));
            return fail(c, err, errlen);
        }
    }

    if (o->fanout_group > 0) {
#if defined(__linux__) && defined(PACKET_FANOUT)
        /* The group's members share one program (capture/fanout.c): a
         * symmetric hash of the inner flow, not the kernel's outer one. */
        int fd = pcap_fileno(c->p);
        uint32_t val = ((uint32_t)o->fanout_group & 0xffffu) |
                       ((uint32_t)(PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_DEFRAG) << 16);
        if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &val, sizeof(val)) < 0) {
            set_err(c, "cannot join fanout group %d: %s", o->fanout_group,
                    fd < 0 ? "no socket" : strerror(errno));
            return fail(c, err, errlen);
        }
        static __thread struct sock_filter prog[1024];   /* 8 KB: not on the stack */
        int n = cap_fanout_prog(prog, 1024, (uint32_t)SKF_NET_OFF, o->vxlan_ports,
                                o->n_vxlan_ports, o->geneve_ports, o->n_geneve_ports);
        struct sock_fprog fp = { .len = (unsigned short)(n > 0 ? n : 0), .filter = prog };
        if (n <= 0 || setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &fp, sizeof(fp)) < 0) {
            set_err(c, "cannot set the fanout program of group %d: %s", o->fanout_group,
                    n <= 0 ? "program too long" : strerror(errno));
            return fail(c, err, errlen);
        }
#else
        set_err(c, "fanout groups are only supported on Linux");
        return fail(c, err, errlen);
#endif
    }

    if (pcap_setnonblock(c->p, 1, eb) < 0) {
        set_err(c, "cannot set non-blocking mode: %s", eb);
        return fail(c, err, errlen);
    }
#ifdef __linux__
    c->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->wakefd < 0) {
        set_err(c, "eventfd: %s", strerror(errno));
        return fail(c, err, errlen);
    }
#endif
    if (finish_open(c) < 0)
        return fail(c, err, errlen);
    return &c->base;
}

struct cap_source *cap_pcap_open_file(const char *path, char *err, size_t errlen)
{
    struct cap_pcap *c = alloc_source(path);
    char eb[PCAP_ERRBUF_SIZE];
    if (!c) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", path ? path : "(null)");
        return NULL;
    }
    if (!path) {
        set_err(c, "no file given");
        return fail(c, err, errlen);
    }
    eb[0] = 0;
    c->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
    if (!c->p) {
        set_err(c, "%s", eb);
        return fail(c, err, errlen);
    }
    if (finish_open(c) < 0)
        return fail(c, err, errlen);
    return &c->base;
}

void cap_pcap_breakloop(struct cap_source *s)
{
    if (!s || s->ops != &pcap_ops)
        return;
    struct cap_pcap *c = (struct cap_pcap *)s;
    if (c->p)
        pcap_breakloop(c->p);
    if (c->wakefd >= 0) {
        uint64_t one = 1;
        if (write(c->wakefd, &one, sizeof(one)) < 0) { /* counter full: already woken */ }
    }
}
