/* capture/cap_dpdk.c - DPDK backend: one Rx queue of one ethdev port.
 *
 * EAL is initialised once per process (cap_dpdk_eal_init(); cap_dpdk_open()
 * calls it with its own arguments when nobody did). rte_eal_init() pins the
 * calling thread to the first lcore; we put the thread's CPU mask back
 * afterwards, because every thread the sensor starts later inherits it.
 * One mbuf pool (opts.mbufs at the first open) is shared by every port:
 * replay reads its ports one after the other, and --no-huge EAL memory is
 * small (64 MB by default).
 *
 * rx_burst(): rte_eth_rx_burst() into an mbuf array owned by the source; the
 * descriptors point into the mbufs (rte_pktmbuf_mtod, data_len): no copy. The
 * mbufs go back to the pool with rte_pktmbuf_free_bulk() in release(), or at
 * the next rx_burst() at the latest. Multi-segment mbufs (a frame longer
 * than the 2048-byte data room: net_pcap chains jumbo records) are
 * linearised into a per-source scratch buffer (rte_pktmbuf_read) that is
 * grown before the burst's descriptors are filled; they are counted in
 * 'linearised' (cap_dpdk_info). Ordinary frames are never copied.
 *
 * Packet time. A port stamps packets in the mbuf dynamic field
 * RTE_MBUF_DYNFIELD_TIMESTAMP_NAME and sets RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME
 * in ol_flags; we look both up after EAL init (the net_pcap probe registers
 * them with rte_mbuf_dyn_rx_timestamp_register()). The unit is the driver's:
 * DPDK 22.11's net_pcap opens the file with pcap_open_offline() (microsecond
 * precision: libpcap scales a nanosecond file down, truncating) and stores
 * tv_sec * 1000000 + tv_usec. It also sets pkt_len to the record's caplen
 * (cast to 16 bits), so the original length on the wire is lost. So through
 * net_pcap alone a nanosecond capture loses its sub-microsecond digits, which
 * changes DNS rtt_ms by a microsecond here and there and can move a timer
 * edge. For replay (opts.pcap_file) of a classic pcap file we therefore read
 * the file's 16-byte record headers alongside the port through a read-only
 * mapping (one header per delivered packet, no packet data touched by us):
 * the record gives the exact ns time and the wire length, and is checked
 * against what the port delivered (same caplen, same microsecond); a
 * mismatch stops the source with an error rather than giving wrong times.
 * pcapng files (net_pcap reads them through libpcap too) get the driver's
 * microsecond time * 1000: exact for microsecond captures only, and
 * cap_dpdk_info() says so (ts_exact = 0). Live ports without the timestamp
 * flag get the wall clock once per burst (the only place a source reads it).
 *
 * End of a file (opts.replay). net_pcap's rx reads the file synchronously
 * with pcap_next() in the caller's thread and simply returns fewer packets
 * (0 from then on) at the end of the file; it has no end-of-file indication.
 * It also returns short when the pool is out of mbufs (rx_nombuf, the record
 * is lost) or a jumbo chain cannot be allocated (ierrors). So: a call that
 * returns 0 while rx_nombuf, ierrors and imissed are unchanged since the
 * previous call that returned 0 (or the open) is the end of the file; any
 * other 0 is polled again. Because we free every burst before the next
 * rx, the pool is full whenever rx runs and the extra poll is rare. At the
 * end the header walk, if any, must have reached the end of the file too;
 * a torn last record there counts in bad_records as the file reader does.
 *
 * Stats: pkts/bytes as delivered; drops = imissed + rx_nombuf (+ jumbo
 * allocation failures, ierrors) of the port. */
#define _GNU_SOURCE
#include "cap.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>

#define DPDK_MAX_BURST   512
#define DPDK_DEF_BURST   64
#define DPDK_DEF_MBUFS   8191
#define DPDK_RX_DESC     1024

/* ==== process-wide EAL state ==== */

static pthread_mutex_t g_eal_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_eal_state;                 /* 0 not tried, 1 up, -1 failed, 2 cleaned */
static char g_eal_err[256];
static struct rte_mempool *g_pool;
static int g_ts_off = -1;               /* timestamp dynfield offset */
static uint64_t g_ts_flag;              /* its ol_flags bit, 0 if none */
static unsigned g_open;                 /* sources not yet closed */

/* ==== classic pcap record-header walk (replay) ==== */

struct hdr_walk {
    const uint8_t *map;
    size_t len, off;
    size_t dropped;                     /* bytes already given back (madvise) */
    int swap, nano;
};

static inline uint32_t rd32(const uint8_t *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

struct cap_dpdk {
    struct cap_source base;             /* must be first */
    uint16_t port, queue;
    unsigned burst;
    int replay, eof, started, registered;
    uint16_t linktype;
    int ts_exact;
    struct rte_mbuf *held[DPDK_MAX_BURST];
    unsigned n_held;
    uint8_t *scratch;                   /* linearised multi-segment frames */
    size_t scratch_len;
    uint64_t linearised;
    struct rte_eth_stats zero_st;       /* stats at the last 0-return */
    struct hdr_walk w;                  /* map == NULL: no walk */
    struct cap_stats st;
    char name[96];
    char err[512];
};

static void set_err(struct cap_dpdk *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(struct cap_dpdk *c, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *q = msg; *q; q++)
        if (*q == '\n' || *q == '\r')
            *q = ' ';
    snprintf(c->err, sizeof(c->err), "%s: %s", c->name, msg);
}

int cap_dpdk_eal_init(int argc, char **argv, char *err, size_t errlen)
{
    int rc;
    pthread_mutex_lock(&g_eal_lock);
    if (g_eal_state == 1) {
        pthread_mutex_unlock(&g_eal_lock);
        return 0;
    }
    if (g_eal_state != 0) {
        /* rte_eal_init() may run only once per process, even after a failure */
        snprintf(err, errlen, "DPDK EAL: %s", g_eal_err[0] ? g_eal_err
                 : "already cleaned up; EAL cannot start twice in one process");
        pthread_mutex_unlock(&g_eal_lock);
        return -1;
    }
    /* rte_eal_init() permutes argv (getopt): give it a copy. */
    char **av = calloc((size_t)argc + 1, sizeof(*av));
    if (!av) {
        snprintf(err, errlen, "DPDK EAL: out of memory");
        pthread_mutex_unlock(&g_eal_lock);
        return -1;
    }
    for (int i = 0; i < argc; i++)
        av[i] = argv[i];
    cpu_set_t cpus;
    int have_cpus = pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) == 0;
    rc = rte_eal_init(argc, av);
    if (have_cpus)
        (void)pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
    free(av);
    if (rc < 0) {
        snprintf(g_eal_err, sizeof(g_eal_err), "rte_eal_init failed: %s (arguments:",
                 rte_strerror(rte_errno));
        for (int i = 1; i < argc; i++) {
            size_t l = strlen(g_eal_err);
            snprintf(g_eal_err + l, sizeof(g_eal_err) - l, " %s", argv[i]);
        }
        size_t l = strlen(g_eal_err);
        snprintf(g_eal_err + l, sizeof(g_eal_err) - l, ")");
        g_eal_state = -1;
        snprintf(err, errlen, "DPDK EAL: %s", g_eal_err);
        pthread_mutex_unlock(&g_eal_lock);
        return -1;
    }
    g_eal_state = 1;
    /* Registered by a port's probe (net_pcap) or not at all. */
    g_ts_off = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
    int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);
    g_ts_flag = (g_ts_off >= 0 && bit >= 0) ? (1ull << bit) : 0;
    pthread_mutex_unlock(&g_eal_lock);
    return 0;
}

void cap_dpdk_cleanup(void)
{
    pthread_mutex_lock(&g_eal_lock);
    if (g_eal_state == 1 && g_open == 0) {
        uint16_t pid;
        RTE_ETH_FOREACH_DEV(pid)
            (void)rte_eth_dev_close(pid);
        if (g_pool) {
            rte_mempool_free(g_pool);
            g_pool = NULL;
        }
        rte_eal_cleanup();
        g_eal_state = 2;
    }
    pthread_mutex_unlock(&g_eal_lock);
}

/* ==== the header walk ==== */

/* LINKTYPE_* of a classic pcap header or DLT of libpcap, to CAP_LINK_*. */
static int map_link(int lt)
{
    switch (lt) {
    case 1: return CAP_LINK_ETHERNET;
    case 0: return CAP_LINK_NULL;
    case 101: case 12: case 14: return CAP_LINK_RAW;
    case 108: return CAP_LINK_LOOP;
    case 113: return CAP_LINK_SLL;
    case 276: return CAP_LINK_SLL2;
    case 228: return CAP_LINK_IPV4;
    case 229: return CAP_LINK_IPV6;
    default: return -1;
    }
}

/* Classic pcap: map the file and position after the global header. Returns
 * 1 walking, 0 not a classic pcap (pcapng: no walk), -1 error. */
static int walk_open(struct cap_dpdk *c, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(c, "%s", strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || sb.st_size < 24) {
        close(fd);
        if (sb.st_size < 24) {
            set_err(c, "not a capture file (shorter than a pcap header)");
            return -1;
        }
        set_err(c, "%s", strerror(errno));
        return -1;
    }
    uint8_t h[24];
    if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
        close(fd);
        set_err(c, "cannot read the file header");
        return -1;
    }
    uint32_t magic;
    memcpy(&magic, h, 4);
    int swap, nano;
    if (magic == 0xa1b2c3d4u)      { swap = 0; nano = 0; }
    else if (magic == 0xd4c3b2a1u) { swap = 1; nano = 0; }
    else if (magic == 0xa1b23c4du) { swap = 0; nano = 1; }
    else if (magic == 0x4d3cb2a1u) { swap = 1; nano = 1; }
    else {
        close(fd);
        return 0;                       /* pcapng or other: libpcap's business */
    }
    int lt = map_link((int)(rd32(h + 20, swap) & 0x0fffffffu));
    if (lt < 0) {
        close(fd);
        set_err(c, "unsupported link type %u", rd32(h + 20, swap) & 0x0fffffffu);
        return -1;
    }
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        set_err(c, "mmap: %s", strerror(errno));
        return -1;
    }
    (void)madvise(m, (size_t)sb.st_size, MADV_SEQUENTIAL);
    c->w.map = m;
    c->w.len = (size_t)sb.st_size;
    c->w.off = 24;
    c->w.swap = swap;
    c->w.nano = nano;
    c->linktype = (uint16_t)lt;
    return 1;
}

static void walk_close(struct cap_dpdk *c)
{
    if (c->w.map)
        munmap((void *)c->w.map, c->w.len);
    c->w.map = NULL;
}

/* The next record header: 0 and its fields, or -1 at the end (torn or not). */
static inline int walk_next(struct hdr_walk *w, uint64_t *ts_ns, uint32_t *caplen,
                            uint32_t *wirelen)
{
    if (w->len - w->off < 16)
        return -1;
    const uint8_t *p = w->map + w->off;
    uint32_t sec = rd32(p, w->swap), frac = rd32(p + 4, w->swap);
    uint32_t cl = rd32(p + 8, w->swap), wl = rd32(p + 12, w->swap);
    if (cl > w->len - w->off - 16)
        return -1;
    w->off += 16 + (size_t)cl;
    *ts_ns = (uint64_t)sec * 1000000000u + (uint64_t)frac * (w->nano ? 1u : 1000u);
    *caplen = cl;
    *wirelen = wl < cl ? cl : wl;
    /* Give pages far behind back, as the file reader does. */
    if (w->off - w->dropped > (64u << 20)) {
        size_t upto = (w->off - (1u << 20)) & ~(size_t)4095;
        if (upto > w->dropped) {
            (void)madvise((void *)(w->map + w->dropped), upto - w->dropped, MADV_DONTNEED);
            w->dropped = upto;
        }
    }
    return 0;
}

/* ==== ops ==== */

static inline void free_held(struct cap_dpdk *c)
{
    if (c->n_held) {
        rte_pktmbuf_free_bulk(c->held, c->n_held);
        c->n_held = 0;
    }
}

/* End of the file reached by the port: check the walk agrees. */
static int at_eof(struct cap_dpdk *c)
{
    c->eof = 1;
    if (c->w.map && c->w.off != c->w.len) {
        uint64_t ts;
        uint32_t cl, wl;
        if (walk_next(&c->w, &ts, &cl, &wl) == 0) {
            set_err(c, "port %u stopped delivering at file offset %zu of %zu with records left "
                    "(mbuf pool too small for a jumbo frame?)", c->port, c->w.off, c->w.len);
            return -EIO;
        }
        c->st.bad_records++;            /* a torn last record, as the file reader counts it */
    }
    return CAP_EOF;
}

static int dpdk_rx_burst(struct cap_source *s, struct cap_pkt *pkts, unsigned max)
{
    struct cap_dpdk *c = (struct cap_dpdk *)s;
    free_held(c);
    if (c->eof)
        return CAP_EOF;
    if (unlikely(!c->registered)) {
        /* The worker is not an EAL thread: give it an lcore id so that the
         * mempool's per-lcore cache serves its allocations and frees. */
        c->registered = 1;
        if (rte_lcore_id() == LCORE_ID_ANY)
            (void)rte_thread_register();
    }
    if (max > c->burst)
        max = c->burst;
    if (max == 0)
        return 0;

    uint16_t n;
    for (;;) {
        n = rte_eth_rx_burst(c->port, c->queue, c->held, (uint16_t)max);
        if (n || !c->replay)
            break;
        /* 0 from a file-backed port: the end, unless a counter of the
         * short-read reasons moved since the previous 0 (then poll again). */
        struct rte_eth_stats es;
        if (rte_eth_stats_get(c->port, &es) != 0)
            return at_eof(c);
        int same = es.rx_nombuf == c->zero_st.rx_nombuf && es.ierrors == c->zero_st.ierrors &&
                   es.imissed == c->zero_st.imissed;
        c->zero_st = es;
        if (same)
            return at_eof(c);
    }
    c->n_held = n;
    if (n == 0)
        return 0;

    /* Room for linearised multi-segment frames, before any pointer is taken. */
    size_t need = 0;
    for (unsigned i = 0; i < n; i++)
        if (c->held[i]->nb_segs > 1)
            need += (rte_pktmbuf_pkt_len(c->held[i]) + 63u) & ~(size_t)63;
    if (need > c->scratch_len) {
        uint8_t *nb = realloc(c->scratch, need);
        if (!nb) {
            free_held(c);
            set_err(c, "out of memory linearising jumbo frames");
            return -ENOMEM;
        }
        c->scratch = nb;
        c->scratch_len = need;
    }

    uint64_t wall = 0;
    if (!g_ts_flag || !(c->held[0]->ol_flags & g_ts_flag)) {
        if (c->replay && !c->w.map) {
            free_held(c);
            set_err(c, "port %u delivers no packet timestamps (no %s in its mbufs)", c->port,
                    RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME);
            return -EIO;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        wall = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    }

    size_t used = 0;
    for (unsigned i = 0; i < n; i++) {
        struct rte_mbuf *m = c->held[i];
        struct cap_pkt *p = &pkts[i];
        uint32_t len = rte_pktmbuf_pkt_len(m);
        if (m->nb_segs == 1) {
            p->data = rte_pktmbuf_mtod(m, const uint8_t *);
            p->caplen = m->data_len;
        } else {
            const void *d = rte_pktmbuf_read(m, 0, len, c->scratch + used);
            if (d != c->scratch + used && d)
                memcpy(c->scratch + used, d, len);
            p->data = c->scratch + used;
            p->caplen = d ? len : 0;
            used += ((size_t)len + 63u) & ~(size_t)63;
            c->linearised++;
        }
        p->wirelen = len;
        int have_ts = g_ts_flag && (m->ol_flags & g_ts_flag);
        uint64_t us_ns = have_ts
            ? *RTE_MBUF_DYNFIELD(m, g_ts_off, rte_mbuf_timestamp_t *) * 1000u : wall;
        p->ts_ns = us_ns;
        if (c->w.map) {
            uint64_t ts;
            uint32_t cl, wl;
            if (walk_next(&c->w, &ts, &cl, &wl) != 0 || (cl & 0xffffu) != (len & 0xffffu) ||
                (have_ts && ts / 1000u != us_ns / 1000u)) {
                free_held(c);
                set_err(c, "packet %llu from port %u does not match the file's record "
                        "(length or time differ): refusing to guess its time",
                        (unsigned long long)(c->st.pkts + i + 1), c->port);
                return -EIO;
            }
            p->ts_ns = ts;
            p->wirelen = wl;
        }
        if (p->wirelen < p->caplen)
            p->wirelen = p->caplen;
        p->linktype = c->linktype;
        p->_pad = 0;
        p->_pad2 = 0;
        c->st.bytes += p->caplen;
    }
    c->st.pkts += n;
    return (int)n;
}

static void dpdk_release(struct cap_source *s, struct cap_pkt *pkts, unsigned n)
{
    (void)pkts; (void)n;                /* the burst goes back as a whole */
    free_held((struct cap_dpdk *)s);
}

/* The handle is the mbuf: its header is what a receiver prefetches. */
_Static_assert(sizeof(struct rte_mbuf) == CAP_TAKEN_LINES * 64, "CAP_TAKEN_LINES");

/* A single-segment packet leaves the burst as its mbuf (its descriptor
 * points into it); a linearised one lives in the scratch buffer and cannot. */
static void *dpdk_take(struct cap_source *s, unsigned i)
{
    struct cap_dpdk *c = (struct cap_dpdk *)s;
    if (i >= c->n_held || !c->held[i] || c->held[i]->nb_segs != 1)
        return NULL;
    struct rte_mbuf *m = c->held[i];
    c->held[i] = NULL;                  /* rte_pktmbuf_free_bulk() skips NULL */
    return m;
}

/* Back to the pool from any thread (the pool's ring is multi-producer; a
 * thread that is no EAL lcore has no per-lcore cache to touch). */
static void dpdk_put_taken(void *const *h, unsigned n)
{
    rte_pktmbuf_free_bulk((struct rte_mbuf **)(uintptr_t)h, n);
}

static void dpdk_stats_op(struct cap_source *s, struct cap_stats *st)
{
    struct cap_dpdk *c = (struct cap_dpdk *)s;
    struct rte_eth_stats es;
    /* The port's counters, not the queue's: only queue 0's source reports
     * them, so workers reading other queues of the port do not count the
     * same drops again. */
    if (c->started && c->queue == 0 && rte_eth_stats_get(c->port, &es) == 0)
        c->st.drops = es.imissed + es.rx_nombuf + es.ierrors;
    *st = c->st;
}

static const char *dpdk_last_error(struct cap_source *s)
{
    return ((struct cap_dpdk *)s)->err;
}

static void dpdk_close_op(struct cap_source *s)
{
    struct cap_dpdk *c = (struct cap_dpdk *)s;
    if (!c)
        return;
    free_held(c);
    if (c->started) {
        (void)rte_eth_dev_stop(c->port);
        pthread_mutex_lock(&g_eal_lock);
        g_open--;
        pthread_mutex_unlock(&g_eal_lock);
    }
    walk_close(c);
    free(c->scratch);
    free(c);
}

static const struct cap_ops dpdk_ops = {
    .name = "dpdk",
    .rx_burst = dpdk_rx_burst,
    .release = dpdk_release,
    .take = dpdk_take,
    .put_taken = dpdk_put_taken,
    .stats = dpdk_stats_op,
    .last_error = dpdk_last_error,
    .close = dpdk_close_op,
};

static struct cap_source *fail(struct cap_dpdk *c, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", c->err);
    dpdk_close_op(&c->base);
    return NULL;
}

void cap_dpdk_info(struct cap_source *s, struct cap_dpdk_info *info)
{
    memset(info, 0, sizeof(*info));
    if (!s || s->ops != &dpdk_ops)
        return;
    struct cap_dpdk *c = (struct cap_dpdk *)s;
    info->port = c->port;
    info->ts_exact = c->ts_exact;
    info->linearised = c->linearised;
}

struct cap_source *cap_dpdk_open(const struct cap_dpdk_opts *o, char *err, size_t errlen)
{
    struct cap_dpdk *c = calloc(1, sizeof(*c));
    if (!c) {
        if (err && errlen)
            snprintf(err, errlen, "dpdk: out of memory");
        return NULL;
    }
    c->base.ops = &dpdk_ops;
    c->linktype = CAP_LINK_ETHERNET;
    c->replay = o->replay;
    c->burst = o->burst ? o->burst : DPDK_DEF_BURST;
    if (c->burst > DPDK_MAX_BURST)
        c->burst = DPDK_MAX_BURST;
    if (o->pcap_file)
        snprintf(c->name, sizeof(c->name), "%s", o->pcap_file);
    else if (o->port_name)
        snprintf(c->name, sizeof(c->name), "dpdk %s", o->port_name);
    else
        snprintf(c->name, sizeof(c->name), "dpdk port %d", o->port);

    char eb[512];
    if (cap_dpdk_eal_init(o->eal_argc, o->eal_argv, eb, sizeof(eb)) != 0) {
        set_err(c, "%s", eb);
        return fail(c, err, errlen);
    }

    uint16_t port;
    if (o->port_name) {
        if (rte_eth_dev_get_port_by_name(o->port_name, &port) != 0) {
            set_err(c, "no DPDK port named %s (EAL did not probe it)", o->port_name);
            return fail(c, err, errlen);
        }
    } else {
        if (o->port < 0 || o->port >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port((uint16_t)o->port)) {
            set_err(c, "no DPDK port %d (%u available)", o->port, rte_eth_dev_count_avail());
            return fail(c, err, errlen);
        }
        port = (uint16_t)o->port;
    }
    c->port = port;

    struct rte_eth_dev_info di;
    int rc = rte_eth_dev_info_get(port, &di);
    if (rc != 0) {
        set_err(c, "rte_eth_dev_info_get(port %u): %s", port, rte_strerror(-rc));
        return fail(c, err, errlen);
    }
    uint16_t nq = (uint16_t)(o->queues > 0 ? o->queues : 1);
    if (nq > di.max_rx_queues)
        nq = di.max_rx_queues;
    if (o->queue < 0 || o->queue >= nq) {
        set_err(c, "port %u (%s) has %u rx queues, queue %d asked", port, di.driver_name, nq, o->queue);
        return fail(c, err, errlen);
    }
    c->queue = (uint16_t)o->queue;
    if (o->attach)                      /* the port is up: read our queue */
        return &c->base;

    if (o->pcap_file) {
        int wr = walk_open(c, o->pcap_file);
        if (wr < 0)
            return fail(c, err, errlen);
        if (wr == 0) {
            /* pcapng: link type from libpcap; times are the driver's us */
            char pe[PCAP_ERRBUF_SIZE];
            pcap_t *pp = pcap_open_offline(o->pcap_file, pe);
            if (!pp) {
                set_err(c, "%s", pe);
                return fail(c, err, errlen);
            }
            int lt = map_link(pcap_datalink(pp));
            pcap_close(pp);
            if (lt < 0) {
                set_err(c, "unsupported link type");
                return fail(c, err, errlen);
            }
            c->linktype = (uint16_t)lt;
        }
        c->ts_exact = c->w.map != NULL;
    } else {
        c->ts_exact = g_ts_flag != 0;
    }

    pthread_mutex_lock(&g_eal_lock);
    if (!g_pool) {
        unsigned nm = o->mbufs > 0 ? (unsigned)o->mbufs : DPDK_DEF_MBUFS;
        unsigned cache = nm >= 4096 ? 256 : nm / 16;
        g_pool = rte_pktmbuf_pool_create("mg_mbufs", nm, cache, 0,
                                         RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
        if (!g_pool) {
            pthread_mutex_unlock(&g_eal_lock);
            set_err(c, "rte_pktmbuf_pool_create(%u mbufs): %s", nm, rte_strerror(rte_errno));
            return fail(c, err, errlen);
        }
    }
    pthread_mutex_unlock(&g_eal_lock);

    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    if (nq > 1 && di.flow_type_rss_offloads) {
        /* Spread over the queues by the NIC's RSS (outer headers: the
         * workers then hand each packet to its flow's worker). */
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf =
            di.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP);
    }
    rc = rte_eth_dev_configure(port, nq, 0, &conf);
    if (rc != 0) {
        set_err(c, "rte_eth_dev_configure(port %u, %u rx queues): %s", port, nq, rte_strerror(-rc));
        return fail(c, err, errlen);
    }
    uint16_t nrx = DPDK_RX_DESC, ntx = 0;
    (void)rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
    int sock = rte_eth_dev_socket_id(port);
    if (sock < 0)
        sock = (int)rte_socket_id();
    for (uint16_t q = 0; q < nq; q++) {
        rc = rte_eth_rx_queue_setup(port, q, nrx, (unsigned)sock, NULL, g_pool);
        if (rc != 0) {
            set_err(c, "rte_eth_rx_queue_setup(port %u, queue %u): %s", port, q, rte_strerror(-rc));
            return fail(c, err, errlen);
        }
    }
    rc = rte_eth_dev_start(port);
    if (rc != 0) {
        set_err(c, "rte_eth_dev_start(port %u): %s", port, rte_strerror(-rc));
        return fail(c, err, errlen);
    }
    c->started = 1;
    pthread_mutex_lock(&g_eal_lock);
    g_open++;
    pthread_mutex_unlock(&g_eal_lock);
    if (!c->replay)
        (void)rte_eth_promiscuous_enable(port);
    (void)rte_eth_stats_reset(port);
    memset(&c->zero_st, 0, sizeof(c->zero_st));
    if (rte_eth_stats_get(port, &c->zero_st) != 0)
        memset(&c->zero_st, 0, sizeof(c->zero_st));
    return &c->base;
}
