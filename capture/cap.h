/* capture/cap.h - capture sources.
 *
 * A source belongs to one worker thread. rx_burst() fills up to 'max' packet
 * descriptors; their data stays valid until release() is called for them or
 * the next rx_burst(), whichever comes first (the memory-mapped reader gives
 * pages of earlier bursts back to keep its footprint small). Anything needed
 * longer is copied. Sources never allocate per
 * packet and never read the wall clock for packet times.
 *
 * Backends: "file" (cap_file.c: our own memory-mapped, bounds-checked pcap and
 * pcapng reader, the fast path for replay), "pcap" (cap_pcap.c: libpcap, live
 * interfaces and a fallback file reader), "dpdk" (cap_dpdk.c, HAVE_DPDK:
 * mbufs go back to the pool at release()). */
#ifndef MG_CAP_H
#define MG_CAP_H

#include <stddef.h>
#include <stdint.h>

/* Link types we decode (the pcap LINKTYPE_* values). */
#define CAP_LINK_NULL      0    /* BSD loopback: 4-byte host-order family */
#define CAP_LINK_ETHERNET  1
#define CAP_LINK_RAW       101  /* raw IPv4/IPv6 */
#define CAP_LINK_LOOP      108  /* OpenBSD loopback: 4-byte network-order family */
#define CAP_LINK_SLL       113  /* Linux cooked v1 */
#define CAP_LINK_SLL2      276  /* Linux cooked v2 */
#define CAP_LINK_IPV4      228
#define CAP_LINK_IPV6      229

struct cap_pkt {
    const uint8_t *data;    /* captured bytes */
    uint32_t caplen;        /* bytes at data */
    uint32_t wirelen;       /* length on the wire (>= caplen) */
    uint64_t ts_ns;         /* ns since the epoch */
    uint16_t linktype;      /* CAP_LINK_* (per packet: pcapng has one per interface) */
    uint16_t _pad;
    uint32_t _pad2;
};

/* Cache lines of the header a taken packet's handle points to (cap_ops.take;
 * DPDK: struct rte_mbuf, 128 bytes). */
enum { CAP_TAKEN_LINES = 2 };

/* Counters every source keeps. */
struct cap_stats {
    uint64_t pkts;          /* packets delivered */
    uint64_t bytes;         /* captured bytes delivered */
    uint64_t drops;         /* reported by the kernel / NIC */
    uint64_t bad_records;   /* file records that were malformed (reader stops or skips) */
    uint64_t skipped_blocks;/* pcapng blocks that are not packets */
};

struct cap_source;

struct cap_ops {
    const char *name;
    /* Fill pkts[0..max). Returns the number filled, 0 when nothing is ready
     * now (live) , CAP_EOF at the end of a file, or a negative -errno when the
     * source is dead (err text via last_error()). */
    int  (*rx_burst)(struct cap_source *s, struct cap_pkt *pkts, unsigned max);
    /* Give back packets of the last burst (no-op for mmap files). */
    void (*release)(struct cap_source *s, struct cap_pkt *pkts, unsigned n);
    /* Optional (NULL when the source has no such thing). take: packet i of
     * the last burst leaves the burst without a copy: release() no longer
     * gives it back and its data stays valid until put_taken(handle), which
     * any thread may call. NULL when that packet cannot be taken (its bytes
     * are a copy that the next burst reuses). The DPDK source offers it: a
     * packet handed to another worker travels as its mbuf. A handle points
     * to the packet's buffer header, of CAP_TAKEN_LINES cache lines, which
     * put_taken() reads and writes: the thread that will give it back may
     * prefetch them first (from another core's cache they are dear). */
    void *(*take)(struct cap_source *s, unsigned i);
    void (*put_taken)(void *const *handles, unsigned n);
    void (*stats)(struct cap_source *s, struct cap_stats *st);
    const char *(*last_error)(struct cap_source *s);
    void (*close)(struct cap_source *s);
};

#define CAP_EOF (-1000000)

/* Every backend embeds this first. */
struct cap_source {
    const struct cap_ops *ops;
};

/* Open a pcap or pcapng file with the memory-mapped reader. Returns NULL and
 * writes a one-line reason naming the file into err on failure (not a
 * capture file, truncated header, unknown link type, ...). A file that ends
 * in the middle of a record yields the complete records and then CAP_EOF,
 * counting the torn record in bad_records. */
struct cap_source *cap_file_open(const char *path, char *err, size_t errlen);

/* Same over a caller-owned buffer (tests and fuzzing); buf must outlive it. */
struct cap_source *cap_file_open_mem(const uint8_t *buf, size_t len,
                                     char *err, size_t errlen);

/* A classic pcap file read in parts, by several replay workers at once
 * (sensor/worker.c): the bytes after the file header are cut into parts of
 * 'bytes' each, and a part's packets are the records that start in it. Where
 * the first of them starts only the reading of the part before can tell, so
 * a part is read in four steps:
 *   cap_file_part_load(s, k)        its bytes, without parsing (any time);
 *   cap_file_part_begin(s, first)   'first': what cap_file_part_end() gave
 *                                   for part k-1 (for part 0,
 *                                   cap_file_part_first());
 *   rx_burst() until CAP_EOF        the part's packets, the last one read
 *                                   whole from the next part's bytes;
 *   cap_file_part_end(s, &next)     1: part k+1's first record is at 'next';
 *                                   0: the file ends in this part (at its
 *                                   end, or a bad record ended it).
 * cap_file_part_rewind() delivers the part again, its counters as at
 * cap_file_part_begin(). The counters (stats) are those of the parts this
 * source read. cap_file_parts() says how many parts of 'bytes' a source from
 * cap_file_open() has; 0: it cannot be read in parts (not a classic pcap
 * read by the stream reader, or 'bytes' is 0 or above 3.75 MB). The first
 * cap_file_part_load() switches the source to parts for good. */
uint64_t cap_file_parts(struct cap_source *s, uint32_t bytes);
uint64_t cap_file_part_first(struct cap_source *s);
int  cap_file_part_load(struct cap_source *s, uint64_t part);
int  cap_file_part_begin(struct cap_source *s, uint64_t first);
void cap_file_part_rewind(struct cap_source *s);
int  cap_file_part_end(struct cap_source *s, uint64_t *next);

/* libpcap: live interface. */
struct cap_pcap_opts {
    const char *iface;      /* interface name */
    int snaplen;            /* bytes per packet */
    int buffer_mb;          /* kernel buffer */
    int promiscuous;
    int immediate;          /* deliver at once, no batching delay */
    int timeout_ms;         /* read timeout when not immediate */
    const char *bpf;        /* filter, NULL or "" for none */
    int fanout_group;       /* >0: PACKET_FANOUT group id (several workers) */
    const uint16_t *vxlan_ports;    /* fanout: hash inside VXLAN on these ports */
    unsigned n_vxlan_ports;
    const uint16_t *geneve_ports;   /* and GENEVE on these */
    unsigned n_geneve_ports;
};
struct cap_source *cap_pcap_open_live(const struct cap_pcap_opts *o,
                                      char *err, size_t errlen);
/* libpcap: offline file (fallback reader). */
struct cap_source *cap_pcap_open_file(const char *path, char *err, size_t errlen);

/* The PACKET_FANOUT_CBPF program of a live capture with several workers
 * (capture/fanout.c): a symmetric hash of the inner 5-tuple of VXLAN and
 * GENEVE on the given ports (at most 8 each), or of the packet's own, so both directions of a
 * flow reach the same worker. Loads are at base + offset from the IP header
 * (the kernel: SKF_NET_OFF; tests over raw IP packets: 0). Writes at most
 * max instructions; returns how many, or -1. */
struct sock_filter;
int cap_fanout_prog(struct sock_filter *out, unsigned max, uint32_t base,
                    const uint16_t *vxlan_ports, unsigned n_vxlan,
                    const uint16_t *geneve_ports, unsigned n_geneve);

/* Wake a source blocked in rx_burst (live) so the worker sees a stop flag. */
void cap_pcap_breakloop(struct cap_source *s);

#ifdef HAVE_DPDK
/* DPDK: one Rx queue of one ethdev port (cap_dpdk.c; built only with DPDK,
 * callers test HAVE_DPDK). EAL starts once per process: the first
 * cap_dpdk_eal_init() (or cap_dpdk_open(), with its eal_argv) wins, later
 * calls reuse it; after a failure or cap_dpdk_cleanup() it cannot start again.
 * Replay of a capture file goes through the net_pcap vdev
 * (--vdev=net_pcapN,rx_pcap=FILE); see cap_dpdk.c for how the end of the file
 * and the packet times are had. */
struct cap_dpdk_opts {
    int eal_argc;           /* EAL arguments, eal_argv[0] is the program name */
    char **eal_argv;
    const char *port_name;  /* ethdev name (e.g. "net_pcap0"); NULL: use port */
    int port;               /* port id when port_name is NULL */
    int queue;              /* Rx queue this source reads */
    int queues;             /* Rx queues configured on the port (>= queue + 1) */
    int mbufs;              /* mbufs in the process's pool (first open sets it) */
    unsigned burst;         /* max packets per rte_eth_rx_burst, 0: 64 */
    int replay;             /* file-backed port: report CAP_EOF at the end */
    const char *pcap_file;  /* the file the port replays (link type, exact ns
                             * times and wire lengths from its record headers) */
    int attach;             /* another source already configured and started the
                             * port with 'queues' queues: just read 'queue' */
};
int cap_dpdk_eal_init(int argc, char **argv, char *err, size_t errlen);
struct cap_source *cap_dpdk_open(const struct cap_dpdk_opts *o, char *err, size_t errlen);
struct cap_dpdk_info {
    unsigned port;
    int ts_exact;           /* 1: packet times are the capture's own, to the ns */
    uint64_t linearised;    /* multi-segment frames copied into one buffer */
};
void cap_dpdk_info(struct cap_source *s, struct cap_dpdk_info *info);
/* Close every port and rte_eal_cleanup(), once every source is closed. */
void cap_dpdk_cleanup(void);
#endif

#endif /* MG_CAP_H */
