/* sensor/sensor.h - the running sensor: workers, the detection thread, the
 * output thread and the rings between them.
 *
 *   capture source ──▶ worker (decode, flows, DNS) ──ring──▶ detect thread
 *                      (one per source/queue)                   │
 *                                                         ring  ▼
 *                                                    output thread (all I/O)
 *
 * Each worker owns its capture source, flow table and DNS tables and writes
 * records by value into its own SPSC ring. The detection thread reads every
 * worker ring, runs the detectors and forwards records to the output ring;
 * the output thread alone writes files (and, later, Redis). */
#ifndef MG_SENSOR_H
#define MG_SENSOR_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>

#include "cap.h"
#include "cfg.h"
#include "dec.h"
#include "dns.h"
#include "flow.h"
#include "keysort.h"
#include "rec.h"
#include "ring.h"
#include "det.h"
#include "finding.h"
#include "findings.h"
#include "report_redis.h"

#define MG_VERSION "0.1.0"
#define MG_MAX_WORKERS 64
#define CAP_BURST 64

/* A counter that one thread writes and the stats line reads while it runs:
 * relaxed atomic accesses (a plain load and store on x86-64, no lock). */
#define STAT_INC(x) __atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)
#define STAT_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

extern _Atomic int g_stop;          /* set by SIGINT/SIGTERM */

/* Per-worker counters; written by the worker only, read at the end or,
 * live, racily for periodic stats (64-bit aligned stores are atomic on the
 * platforms we build for; a torn read would only misprint a figure). */
struct worker_stats {
    uint64_t pkts, wire_bytes, cap_bytes;
    uint64_t status[DEC_STATUS_MAX];
    uint64_t tunnelled, vxlan, geneve;
    uint64_t partial;               /* transport header cut short, still a flow */
    uint64_t dns_msgs, dns_bad[DNS_STATUS_MAX], dns_tcp_msgs;
    uint64_t fwd_sent, fwd_received;    /* packets handed to / taken from other workers */
    uint64_t fwd_drops;             /* ... lost because that worker's ring was full */
    uint64_t fwd_zero_copy;         /* ... handed over as the source's buffer, not copied */
    uint64_t fwd_headers;           /* ... handed over as their decoded headers (fwd_dec) */
    uint64_t fwd_overflow;          /* replay in parts: records that found the ring full and waited */
    uint64_t part_waits;            /* replay in parts: waits for another worker (a part, the baton) */
    uint64_t idle_sleeps;           /* live DPDK: sleeps on an idle queue (worker_idle) */
    uint64_t icmp_matched;          /* ICMP unreachables that failed a flow of ours */
    uint64_t icmp_unmatched;        /* ... that found no such flow */
    uint64_t ring_drops;            /* records lost because the ring was full */
    uint64_t ring_waits;            /* times the worker waited for room (replay) */
    uint64_t first_ns, last_ns;     /* packet time span */
    double cpu_seconds;             /* this worker thread's CPU time */
};

/* Replay in parts (worker.c, parts_main): passed from the reader of each
 * part to the reader of the next, the only thing that goes in file order
 * between them: where the next part's first record starts and the stream's
 * state there. */
struct parts_baton {
    _Atomic uint64_t ready;         /* the part (counted over all files) it is for */
    _Atomic int abort;              /* a worker stopped early: nobody waits any more */
    struct parts_at {               /* the stream where that part begins */
        uint64_t first;             /* file offset of its first record */
        uint64_t pkt_idx;           /* packets before it */
        uint64_t clock, next_tick;  /* the worker clock there (now_ns, next_tick_ns) */
        int ended;                  /* its file ended in an earlier part (bad record) */
    } at;
};

struct worker {
    unsigned id;
    pthread_t thread;
    const struct cfg *cfg;
    struct cap_source **srcs;       /* replay: files in order; live: one */
    unsigned n_srcs;
    struct dec_cfg *dec;            /* shared, read-only */
    struct flow_table *flows;
    struct dns_txn_table *dns;
    struct dns_tcp_stream *dns_tcp; /* max_tcp_streams slots */
    uint64_t *dns_tcp_keys;         /* hash of (flow key, dir) per slot, 0 = free */
    uint64_t *dns_tcp_used;         /* last use, packet ns */
    uint32_t n_dns_tcp;
    uint8_t dns_ports[65536 / 8];   /* bitmap of dns.ports */
    struct ring *out;               /* worker -> detect */
    int block;                      /* wait when the ring is full (replay) */
    int live;                       /* idle time advances the clock (capture clock) */
    uint64_t now_ns;                /* worker clock: newest packet time */
    uint64_t next_tick_ns;          /* the clock reaching this ticks (next second) */
    uint64_t rec_seq;
    /* Replay with several workers, not in parts (replay_part_kb 0, or a
     * pcapng file; else see baton below): every worker reads every packet and keeps
     * those whose flow's dispatch value (decoders/dispatch.h) is its id
     * modulo n_share, so the packets of a
     * flow, both directions, meet in one worker and each worker's clock is
     * the capture's. 1 = keep everything (one worker, or live capture where
     * the kernel's fanout already split the packets). */
    unsigned n_share;
    /* Live capture whose queues are not split by flow (DPDK: a NIC's RSS
     * hashes the outer headers): each packet of another worker's flow goes
     * to that worker through fwd_out[it] (as its decoded headers, or whole:
     * its mbuf, cap_ops.take, or copied; worker.c, fwd_split), and this
     * worker takes its own from fwd_in[each]. n_fwd workers in the group,
     * 0: no hand-over. */
    unsigned n_fwd;
    struct ring **fwd_out, **fwd_in;
    struct worker *fwd_group;       /* the n_fwd workers, fwd_group[id] is this one */
    _Atomic uint32_t fwd_taken;     /* our packets handed over as the source's buffer, not yet back */
    _Atomic int fwd_stopped;        /* out of its capture loop: hands nothing over any more */
    uint32_t fwd_take_max;          /* beyond this many, hand over copies */
    /* Replay in parts (replay_part_kb): with n_fwd workers, this one reads
     * parts id, id + n_fwd, ... of the files (counted over all files) and
     * hands each packet of another worker's flow to it, as headers where
     * that is enough, keeping its own (own, below). It takes the parts in
     * file order from the ring of each part's reader. NULL: not in parts. */
    struct parts_baton *baton;
    const uint64_t *n_parts;        /* parts of each file */
    uint64_t part_next;             /* the next part to take */
    uint64_t part_base;             /* index of that part's first packet */
    uint64_t mark_idx;              /* pkt_idx of the last REC_MARK */
    struct parts_ovf {              /* records for fwd_out[o] that found it full */
        uint8_t *buf;               /* ring_hdr + record, RING_ALIGN apart */
        size_t len, cap, head;
        int cur;                    /* the record being written is here */
    } *ovf;
    /* The packets of the part being split that are this worker's own,
     * decoded, until it takes that part (their data stays in the source's
     * buffer till then), and what else it must do there (ticks, clock,
     * an ICMP error's quote): no ring of its own. */
    struct parts_own {
        struct cap_pkt *b;
        struct dec_pkt *p;
        enum dec_status *st;
        uint64_t *ix;
        size_t n, cap;
        struct parts_ev {
            uint64_t idx, clock;
            uint32_t kind;              /* FWD_TICK, FWD_CLOCK, FWD_QUOTE */
            struct cap_pkt b;           /* FWD_QUOTE: the ICMP error */
        } *ev;
        size_t nev, capev;
        uint64_t end;                   /* index of the next part's first packet */
    } own;
    uint32_t idle_sleep_us;         /* live DPDK: sleep when idle (capture.dpdk.idle_sleep_us) */
    uint32_t idle_polls;            /* empty polls in a row */
    uint64_t pkt_idx;               /* packets read so far (all, owned or not) */
    uint64_t order;                 /* REC_ORDER() stamped on records being made */
    int batching;                   /* timers: collect records, sort, then send */
    struct flow_rec *tb_flows;      /* the batch (grows, never shrinks) */
    uint8_t *tb_dnsbuf;             /* DNS records packed (answers kept only) */
    size_t *tb_dnsoff;              /* where each starts in tb_dnsbuf */
    struct sort_key *tb_keys;       /* sorted as these (keysort.h), then scratch */
    size_t tb_nflows, tb_capflows, tb_ndns, tb_capdns, tb_capkeys, tb_dnslen, tb_dnscap;
    struct worker_stats st;
    struct cap_stats cap_st;
    struct cap_source *cur_src;     /* the source being read (its counters so far) */
    /* What the stats read while the worker runs: a copy of its figures the
     * worker takes under snap_mu at each tick (once a second) and when it
     * stops, so the live stats line reads no counter another thread is
     * writing (stats.c). */
    pthread_mutex_t snap_mu;
    struct worker_snap {
        struct worker_stats st;
        struct cap_stats cap;
        struct flow_stats flows;
        struct dns_txn_stats dns;
    } snap;
    int exit_code;
    char err[256];
    _Atomic int done;
};

int  worker_init(struct worker *w, unsigned id, const struct cfg *c,
                 struct dec_cfg *dec, int block, char *err, size_t errlen);
void worker_fini(struct worker *w);
void *worker_main(void *arg);

/* The order of two records made at the same point of the packet stream
 * (same mg_rec.order): by content for timer records, else equal (<0, 0, >0). */
int rec_order_cmp(const struct mg_rec *a, const struct mg_rec *b);

/* ==== Output ==== */

struct obuf;
struct findings;
struct redis_out;
struct lists;

struct output {
    const struct cfg *cfg;
    struct findings *findings_agg;  /* aggregation of finding candidates */
    struct redis_out *redis;        /* NULL when outputs.redis.url is empty */
    _Atomic(const struct lists *) *lists;   /* the pipeline's, for the trusted list */
    FILE *flows, *dns, *findings;
    struct obuf *fb, *db, *xb;      /* their buffers (obuf.h) */
    int own_flows, own_dns, own_findings;   /* fclose at the end (not stdout) */
    char *flows_path, *dns_path, *findings_path;
    int flow_version;               /* from the chosen fields */
    unsigned n_fields;
    uint8_t fields[64];             /* enum vpc_field */
    uint64_t flow_lines, dns_lines, finding_lines;
    uint64_t flow_lost, dns_lost, finding_lost;     /* lines a failed write lost */
    uint64_t write_errors;
    _Atomic(struct cfg *) pending_cfg;  /* SIGHUP: new rules for the aggregator */
    _Atomic(struct cfg *) applied_cfg;  /* the last one it took (it reads rules from it) */
    /* Snapshots for the stats (main thread): the output thread refreshes
     * them twice a second and at close, under snap_mu; read them with
     * output_snapshot(). */
    pthread_mutex_t snap_mu;
    uint64_t snap_ms;               /* when they were last taken */
    struct findings_stats fstats;
    struct redis_out_stats rstats;
    int have_rstats;
    int errs_said;                  /* write errors logged: SAID_* bits (output.c) */
    /* The Redis delivery thread (output.c): publications handed over. */
    pthread_t pump_thread;
    int pump_running, pump_stop;
    pthread_mutex_t pump_mu;
    pthread_cond_t pump_room, pump_work;   /* room on the list; work for the Redis thread */
    struct pump_msg *pump_head, *pump_tail;
    unsigned pump_n;                /* handed over, not yet submitted to redis_out */
    uint64_t pump_lost;             /* not handed over: out of memory */
};

/* The findings and Redis figures as of the last snapshot (any thread);
 * *have_redis 0: Redis output is off. */
void output_snapshot(const struct output *o, struct findings_stats *fs, struct redis_out_stats *rs,
                     int *have_redis);

int  output_open(struct output *o, const struct cfg *c, char *err, size_t errlen);
void output_flow(struct output *o, const struct flow_rec *r);
void output_dns(struct output *o, const struct dns_rec *r);
/* A finding candidate from a detector: aggregated, published when due. */
void output_candidate(struct output *o, const struct finding_cand *fc);
/* Packet time advanced (findings due), and wall time for Redis retries. */
void output_tick(struct output *o, uint64_t packet_ns);
void output_poll(struct output *o);
/* End of capture: publish pending updates, deliver or spool, close files. */
int  output_close(struct output *o, char *err, size_t errlen);

/* ==== Detection and output threads ==== */

struct lists;

struct pipeline {
    const struct cfg *cfg;
    /* Threat and trusted lists in force: swapped whole on SIGHUP. Readers
     * (detect and output threads) load it per record; the old set is freed
     * once both threads' epochs have moved past the swap. */
    _Atomic(const struct lists *) lists;
    _Atomic uint64_t det_epoch, out_epoch;
    struct worker *workers;
    unsigned n_workers;
    struct ring *det_out;           /* detect -> output */
    struct output out;
    pthread_t det_thread, out_thread;
    _Atomic int det_done;
    uint64_t det_drops;
    uint64_t det_findings;          /* finding candidates the detectors emitted */
    uint64_t det_last_tick;         /* detection thread: newest tick passed on */
    struct det_set ds;              /* the detectors, loaded before capture starts */
    struct det_env det_env;
    int block;
    /* Replay with several workers: take records from the worker rings in
     * stream order (mg_rec.order), so the detectors and the output see what
     * one worker would have given. Live capture takes them as they come. */
    int merge;
};

/* Load the detectors (models, tables) before capture starts, so a live
 * sensor drops nothing while a model loads and a bad model file stops it
 * at once. 0, or -1 with a message. */
int   detect_prepare(struct pipeline *p, char *err, size_t errlen);
void *detect_main(void *arg);
void *output_main(void *arg);

/* ==== Stats ==== */

void stats_print(FILE *f, const struct pipeline *p, double wall_s);
int  stats_write_json(const char *path, const struct pipeline *p, double wall_s);

#endif /* MG_SENSOR_H */
